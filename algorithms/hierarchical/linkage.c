/* linkage.c: SciPy-compatible agglomerative linkage (see linkage.h). */
#include "algorithms/hierarchical/linkage.h"

#include "common/err.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t ch_hc_condensed(size_t n, size_t i, size_t j)
{
    if (i > j) {
        size_t t = i;
        i = j;
        j = t;
    }
    return n * i - (i * (i + 1) / 2) + (j - i - 1);
}

/* One pair in pdist's arithmetic: the squares summed over the features in
 * order, then the square root. */
static double s_pair(const double *u, const double *v, size_t d)
{
    double s = 0;
    for (size_t f = 0; f < d; f++) {
        double t = u[f] - v[f];
        s += t * t;
    }
    return sqrt(s);
}

size_t ch_hc_row_start(size_t n, size_t i)
{
    return n * i - i * (i + 1) / 2;
}

/* A band of pdist's rows, shared by the threads computing it: rows
 * i0 <= i < i1, the entry of pair (i, j) at out[ch_hc_condensed(n, i, j) -
 * base], base = ch_hc_row_start(n, i0) (0 for the whole matrix). */
typedef struct s_pdist_job {
    const double *x;
    size_t n, d, i0, i1, base;
    double *out;
    atomic_size_t next; /* the next task to take */
} s_pdist_job;

/* Portable: a task is a row; four pairs at a time (four independent sums,
 * each still in feature order). */
static void s_pdist_plain(s_pdist_job *jb)
{
    const double *x = jb->x;
    size_t n = jb->n, d = jb->d;
    for (size_t task; (task = atomic_fetch_add(&jb->next, 1)) < jb->i1 - jb->i0;) {
        size_t i = jb->i0 + task;
        if (i + 1 >= n) {
            continue;
        }
        const double *u = x + i * d;
        size_t j = i + 1;
        double *o = jb->out + (ch_hc_condensed(n, i, j) - jb->base);
        for (; j + 4 <= n; j += 4) {
            const double *v0 = x + j * d, *v1 = v0 + d, *v2 = v1 + d, *v3 = v2 + d;
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (size_t f = 0; f < d; f++) {
                double t0 = u[f] - v0[f], t1 = u[f] - v1[f], t2 = u[f] - v2[f];
                double t3 = u[f] - v3[f];
                s0 += t0 * t0;
                s1 += t1 * t1;
                s2 += t2 * t2;
                s3 += t3 * t3;
            }
            *o++ = sqrt(s0);
            *o++ = sqrt(s1);
            *o++ = sqrt(s2);
            *o++ = sqrt(s3);
        }
        for (; j < n; j++) {
            *o++ = s_pair(u, x + j * d, d);
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
enum { S_TILE = 8, S_TILE_MAX_D = 512 };
typedef double s_v4 __attribute__((vector_size(32)));

/* AVX2: columns j0 .. j0 + 7 are transposed into a feature-major tile, and
 * every row i < j0 of the band meets them eight at a time in two 4-lane
 * vectors. The lanes are pairs, not features, so each pair is still summed
 * in feature order, and no FMA is used (target avx2 only): the distances
 * are the plain loop's (and SciPy's) to the bit. Which path computes a pair
 * depends only on (i, j) (the tiles are fixed by n), not on the band. */
__attribute__((target("avx2"))) static void s_pdist_avx2(s_pdist_job *jb)
{
    const double *x = jb->x;
    size_t n = jb->n, d = jb->d, i0 = jb->i0, i1 = jb->i1;
    double tile[S_TILE * S_TILE_MAX_D];
    /* tiles below the one holding row i0 have no pair (i, j), i >= i0, j > i */
    size_t tiles = n / S_TILE, end = tiles * S_TILE, t_lo = i0 / S_TILE;
    size_t n_tiles = tiles > t_lo ? tiles - t_lo : 0, task;
    /* tasks: the band's tiles, largest (last) first, then the band's rows'
     * pairs with the columns past the last whole tile */
    while ((task = atomic_fetch_add(&jb->next, 1)) < n_tiles + (i1 - i0)) {
        if (task >= n_tiles) {
            size_t i = i0 + (task - n_tiles);
            for (size_t j = (end > i + 1 ? end : i + 1); j < n; j++) {
                jb->out[ch_hc_condensed(n, i, j) - jb->base] = s_pair(x + i * d, x + j * d, d);
            }
            continue;
        }
        size_t j0 = (tiles - 1 - task) * S_TILE;
        size_t main_end = i1 < j0 ? i1 : j0;
        if (i0 < main_end) {
            for (size_t f = 0; f < d; f++) {
                for (size_t b = 0; b < S_TILE; b++) {
                    tile[f * S_TILE + b] = x[(j0 + b) * d + f];
                }
            }
        }
        for (size_t i = i0; i < main_end; i++) {
            const double *u = x + i * d;
            s_v4 s0 = {0, 0, 0, 0}, s1 = {0, 0, 0, 0};
            for (size_t f = 0; f < d; f++) {
                s_v4 uf = {u[f], u[f], u[f], u[f]}, t0, t1;
                memcpy(&t0, tile + f * S_TILE, sizeof t0);
                memcpy(&t1, tile + f * S_TILE + 4, sizeof t1);
                t0 = uf - t0;
                t1 = uf - t1;
                s0 += t0 * t0;
                s1 += t1 * t1;
            }
            double *o = jb->out + (ch_hc_condensed(n, i, j0) - jb->base);
            for (size_t b = 0; b < 4; b++) {
                o[b] = sqrt(s0[b]);
                o[b + 4] = sqrt(s1[b]);
            }
        }
        size_t lo = i0 > j0 ? i0 : j0, hi = i1 < j0 + S_TILE ? i1 : j0 + S_TILE;
        for (size_t i = lo; i < hi; i++) {
            for (size_t j = i + 1; j < j0 + S_TILE; j++) {
                jb->out[ch_hc_condensed(n, i, j) - jb->base] = s_pair(x + i * d, x + j * d, d);
            }
        }
    }
}
#endif

static void *s_pdist_part(void *arg)
{
    s_pdist_job *jb = arg;
#if defined(__x86_64__) && defined(__GNUC__)
    if (jb->d <= S_TILE_MAX_D && __builtin_cpu_supports("avx2")) {
        s_pdist_avx2(jb);
        return NULL;
    }
#endif
    s_pdist_plain(jb);
    return NULL;
}

/* The threads (the caller's included) take tasks from a shared counter, so
 * a slow core does not hold the others up; every pair is computed the same
 * way whoever computes it, so the matrix does not depend on the threads. */
void ch_hc_pdist_rows(const double *x, size_t n, size_t d, size_t i0, size_t i1, double *out)
{
    enum { S_MAX_THREADS = 8, S_MIN_PAIRS_A_THREAD = 32768 };
    if (i1 > n) {
        i1 = n;
    }
    if (i0 >= i1) {
        return;
    }
    size_t base = ch_hc_row_start(n, i0), pairs = ch_hc_row_start(n, i1) - base;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t parts = cpus > 1 ? (size_t)cpus : 1;
    parts = parts > S_MAX_THREADS ? S_MAX_THREADS : parts;
    while (parts > 1 && pairs / parts < S_MIN_PAIRS_A_THREAD) {
        parts--;
    }
    s_pdist_job job = {.x = x, .n = n, .d = d, .i0 = i0, .i1 = i1, .base = base, .out = out};
    atomic_init(&job.next, 0);
    pthread_t th[S_MAX_THREADS];
    bool started[S_MAX_THREADS] = {false};
    for (size_t p = 1; p < parts; p++) {
        started[p] = pthread_create(&th[p], NULL, s_pdist_part, &job) == 0;
    }
    s_pdist_part(&job); /* returns when every task is taken */
    for (size_t p = 1; p < parts; p++) {
        if (started[p]) {
            pthread_join(th[p], NULL);
        }
    }
}

void ch_hc_pdist(const double *x, size_t n, size_t d, double *dist)
{
    ch_hc_pdist_rows(x, n, d, 0, n, dist);
}

void ch_hc_bands(size_t n, size_t n_bands, size_t *begin)
{
    size_t total = ch_hc_row_start(n, n);
    begin[0] = 0;
    for (size_t b = 1; b < n_bands; b++) {
        /* floor(b * total / n_bands) without overflow */
        size_t target = b * (total / n_bands) + b * (total % n_bands) / n_bands;
        size_t lo = begin[b - 1], hi = n; /* first row starting at or after target */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (ch_hc_row_start(n, mid) >= target) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        begin[b] = lo;
    }
    begin[n_bands] = n;
}

/* Lance-Williams update of the distance from cluster i to the merge of x and y. */
static double s_new_dist(ch_hc_method m, double d_xi, double d_yi, double d_xy, double nx,
                         double ny, double ni)
{
    switch (m) {
    case CH_HC_COMPLETE:
        return d_xi > d_yi ? d_xi : d_yi;
    case CH_HC_AVERAGE:
        return (nx * d_xi + ny * d_yi) / (nx + ny);
    case CH_HC_SINGLE:
        return d_xi < d_yi ? d_xi : d_yi;
    default: {
        double t = 1.0 / (nx + ny + ni);
        return sqrt((ni + nx) * t * d_xi * d_xi + (ni + ny) * t * d_yi * d_yi -
                    ni * t * d_xy * d_xy);
    }
    }
}

/* The nearest-neighbour chain (SciPy's nn_chain); act[0..na) lists the
 * clusters still active, in index order, so that scans and updates skip the
 * merged ones (as fastcluster does). */
static int s_nn_chain(double *dist, size_t n, ch_hc_method m, double *z)
{
    double *size = malloc(n * sizeof *size);
    size_t *chain = malloc(n * sizeof *chain);
    size_t *act = malloc(n * sizeof *act);
    if (!size || !chain || !act) {
        free(size);
        free(chain);
        free(act);
        return CH_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        size[i] = 1;
        act[i] = i;
    }
    size_t na = n, len = 0;
    for (size_t k = 0; k + 1 < n; k++) {
        if (len == 0) {
            chain[0] = act[0];
            len = 1;
        }
        size_t x, y = 0;
        double cur;
        for (;;) {
            x = chain[len - 1];
            if (len > 1) {
                y = chain[len - 2];
                cur = dist[ch_hc_condensed(n, x, y)];
            } else {
                cur = INFINITY;
            }
            /* SciPy's scan (the same comparisons in the same order), over
             * the active clusters only: column x above the diagonal, then
             * row x */
            size_t a = 0;
            for (; a < na && act[a] < x; a++) {
                size_t i = act[a];
                double v = dist[n * i - (i * (i + 1) / 2) + (x - i - 1)];
                if (v < cur) {
                    cur = v;
                    y = i;
                }
            }
            size_t row = n * x - x * (x + 1) / 2 - x - 1; /* (x, i) at row + i, modulo */
            for (a++; a < na; a++) {
                size_t i = act[a];
                if (dist[row + i] < cur) {
                    cur = dist[row + i];
                    y = i;
                }
            }
            if (len > 1 && y == chain[len - 2]) {
                break;
            }
            chain[len++] = y;
        }
        len -= 2;
        if (x > y) {
            size_t t = x;
            x = y;
            y = t;
        }
        double nx = size[x], ny = size[y];
        z[4 * k] = (double)x;
        z[4 * k + 1] = (double)y;
        z[4 * k + 2] = cur;
        z[4 * k + 3] = nx + ny;
        size[x] = 0;
        size[y] = nx + ny;
        size_t ax = 0;
        for (size_t a = 0; a < na; a++) {
            size_t i = act[a];
            if (i == x) {
                ax = a;
                continue;
            }
            if (i == y) {
                continue;
            }
            size_t iy = ch_hc_condensed(n, i, y);
            dist[iy] =
                s_new_dist(m, dist[ch_hc_condensed(n, i, x)], dist[iy], cur, nx, ny, size[i]);
        }
        na--;
        for (size_t a = ax; a < na; a++) {
            act[a] = act[a + 1];
        }
    }
    free(size);
    free(chain);
    free(act);
    return 0;
}

static int s_mst(const double *dist, size_t n, double *z)
{
    unsigned char *merged = calloc(n, 1);
    double *d = malloc(n * sizeof *d);
    if (!merged || !d) {
        free(merged);
        free(d);
        return CH_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        d[i] = INFINITY;
    }
    size_t x = 0, y = 0;
    for (size_t k = 0; k + 1 < n; k++) {
        double cur = INFINITY;
        merged[x] = 1;
        for (size_t i = 0; i < n; i++) {
            if (merged[i]) {
                continue;
            }
            double v = dist[ch_hc_condensed(n, x, i)];
            if (d[i] > v) {
                d[i] = v;
            }
            if (d[i] < cur) {
                y = i;
                cur = d[i];
            }
        }
        z[4 * k] = (double)x;
        z[4 * k + 1] = (double)y;
        z[4 * k + 2] = cur;
        x = y;
    }
    free(merged);
    free(d);
    return 0;
}

/* Union-find over the 2n-1 clusters of a linkage (SciPy's LinkageUnionFind). */
static size_t s_find(size_t *parent, size_t x)
{
    size_t root = x;
    while (parent[root] != root) {
        root = parent[root];
    }
    while (parent[x] != root) {
        size_t next = parent[x];
        parent[x] = root;
        x = next;
    }
    return root;
}

static int s_cmp_merge(const void *a, const void *b)
{
    const double *x = a, *y = b;
    if (x[2] != y[2]) {
        return x[2] < y[2] ? -1 : 1;
    }
    return x[4] < y[4] ? -1 : x[4] > y[4]; /* stable: original order */
}

/* Sorts the merges by distance (stable) and relabels them as SciPy's label(). */
static int s_sort_label(double *z, size_t n)
{
    size_t m = n - 1;
    double *tmp = malloc(m * 5 * sizeof *tmp);
    size_t *parent = malloc((2 * n - 1) * sizeof *parent);
    double *size = malloc((2 * n - 1) * sizeof *size);
    if (!tmp || !parent || !size) {
        free(tmp);
        free(parent);
        free(size);
        return CH_ENOMEM;
    }
    for (size_t k = 0; k < m; k++) {
        memcpy(tmp + 5 * k, z + 4 * k, 4 * sizeof(double));
        tmp[5 * k + 4] = (double)k;
    }
    qsort(tmp, m, 5 * sizeof(double), s_cmp_merge);
    for (size_t i = 0; i < 2 * n - 1; i++) {
        parent[i] = i;
        size[i] = 1;
    }
    size_t next = n;
    for (size_t k = 0; k < m; k++) {
        size_t xr = s_find(parent, (size_t)tmp[5 * k]), yr = s_find(parent, (size_t)tmp[5 * k + 1]);
        z[4 * k] = (double)(xr < yr ? xr : yr);
        z[4 * k + 1] = (double)(xr < yr ? yr : xr);
        z[4 * k + 2] = tmp[5 * k + 2];
        parent[xr] = next;
        parent[yr] = next;
        size[next] = size[xr] + size[yr];
        z[4 * k + 3] = size[next];
        next++;
    }
    free(tmp);
    free(parent);
    free(size);
    return 0;
}

int ch_hc_linkage(double *dist, size_t n, ch_hc_method method, double *z)
{
    if (n < 2) {
        return 0;
    }
    int rc = method == CH_HC_SINGLE ? s_mst(dist, n, z) : s_nn_chain(dist, n, method, z);
    return rc ? rc : s_sort_label(z, n);
}

size_t ch_hc_cut(const double *z, size_t n, size_t n_clusters, double threshold, int32_t *label)
{
    size_t *parent = malloc((2 * n - 1) * sizeof *parent);
    long *id = malloc((2 * n - 1) * sizeof *id);
    if (!parent || !id) {
        free(parent);
        free(id);
        return 0;
    }
    for (size_t i = 0; i < 2 * n - 1; i++) {
        parent[i] = i;
        id[i] = -1;
    }
    size_t merges = n_clusters ? n - n_clusters : 0;
    for (size_t k = 0; k + 1 < n; k++) {
        if (n_clusters ? k >= merges : !(z[4 * k + 2] <= threshold)) {
            break;
        }
        parent[(size_t)z[4 * k]] = n + k;
        parent[(size_t)z[4 * k + 1]] = n + k;
    }
    size_t next = 0;
    for (size_t i = 0; i < n; i++) {
        size_t r = s_find(parent, i);
        if (id[r] < 0) {
            id[r] = (long)next++;
        }
        label[i] = (int32_t)id[r];
    }
    free(parent);
    free(id);
    return next;
}
