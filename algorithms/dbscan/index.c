/* index.c: the spatial index of a DBSCAN cell: a k-d tree for euclidean and
 * manhattan in low dimensions, blocked BLAS distance computation otherwise
 * (cosine, or euclidean above params.brute_dims).
 *
 * Exactness: every in-or-out decision equals the direct computation of
 * metric.c. The k-d tree computes distances directly. The BLAS path computes
 * |q|^2 + |p|^2 - 2 q.p (or 1 - q.p) for a block at a time and recomputes
 * directly every pair within a tolerance of the threshold, far above the
 * rounding error of the dot product; so shards that see a pair in different
 * block positions agree. */
#include "algorithms/dbscan/dbscan.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { S_LEAF = 16, S_QB = 256, S_PB = 2048 };

typedef struct s_node {
    uint32_t lo, hi; /* points [lo, hi) of the tree order */
    uint32_t left;   /* child nodes; 0 for a leaf (the root is never a child) */
    uint32_t right;
} s_node;

struct ch_db_index {
    const double *pts; /* m x d, caller's */
    size_t m, d;
    ch_db_metric metric;
    double thr;
    bool brute;
    /* k-d tree */
    uint32_t *perm; /* tree order -> index */
    s_node *nodes;
    double *box; /* node k: min at box[2kd], max at box[2kd + d] */
    size_t n_nodes, cap_nodes;
    /* BLAS */
    double *norm2; /* |p|^2 per point (euclidean) */
    double *g;     /* S_QB x S_PB block */
};

static double s_coord(const ch_db_index *ix, uint32_t i, size_t j)
{
    return ix->pts[(size_t)i * ix->d + j];
}

/* Quickselect: rearranges perm[lo, hi) so that position k holds the point
 * whose coordinate j is the k-th smallest (three-way partitions, so equal
 * coordinates cannot make it loop). */
static void s_select(const ch_db_index *ix, uint32_t *perm, size_t lo, size_t hi, size_t k,
                     size_t j)
{
    while (hi - lo > 1) {
        double pv = s_coord(ix, perm[lo + (hi - lo) / 2], j);
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            double v = s_coord(ix, perm[i], j);
            uint32_t t = perm[i];
            if (v < pv) {
                perm[i++] = perm[lt];
                perm[lt++] = t;
            } else if (v > pv) {
                perm[i] = perm[--gt];
                perm[gt] = t;
            } else {
                i++;
            }
        }
        if (k < lt) {
            hi = lt;
        } else if (k >= gt) {
            lo = gt;
        } else {
            return;
        }
    }
}

static int s_build(ch_db_index *ix, size_t lo, size_t hi, uint32_t *out)
{
    if (ix->n_nodes == ix->cap_nodes) {
        return CH_ENOMEM;
    }
    uint32_t k = (uint32_t)ix->n_nodes++;
    size_t d = ix->d;
    s_node *nd = &ix->nodes[k];
    nd->lo = (uint32_t)lo;
    nd->hi = (uint32_t)hi;
    nd->left = nd->right = 0;
    double *mn = ix->box + 2 * (size_t)k * d, *mx = mn + d;
    for (size_t j = 0; j < d; j++) {
        mn[j] = INFINITY;
        mx[j] = -INFINITY;
    }
    for (size_t r = lo; r < hi; r++) {
        for (size_t j = 0; j < d; j++) {
            double v = s_coord(ix, ix->perm[r], j);
            mn[j] = v < mn[j] ? v : mn[j];
            mx[j] = v > mx[j] ? v : mx[j];
        }
    }
    *out = k;
    if (hi - lo <= S_LEAF) {
        return 0;
    }
    size_t sj = 0;
    for (size_t j = 1; j < d; j++) {
        if (mx[j] - mn[j] > mx[sj] - mn[sj]) {
            sj = j;
        }
    }
    if (!(mx[sj] > mn[sj])) {
        return 0; /* all points equal: a large leaf */
    }
    size_t mid = lo + (hi - lo) / 2;
    s_select(ix, ix->perm, lo, hi, mid, sj);
    uint32_t l, r;
    int rc = s_build(ix, lo, mid, &l);
    if (rc == 0) {
        rc = s_build(ix, mid, hi, &r);
    }
    if (rc == 0) {
        ix->nodes[k].left = l;
        ix->nodes[k].right = r;
    }
    return rc;
}

/* Returns a new index (see dbscan.h), or NULL with err set. */
ch_db_index *ch_db_index_new(const double *pts, size_t m, size_t d, const ch_db_params *p,
                             ch_err *err)
{
    ch_db_index *ix = calloc(1, sizeof *ix);
    if (!ix) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    ix->pts = pts;
    ix->m = m;
    ix->d = d;
    ix->metric = p->metric;
    ix->thr = ch_db_threshold(p);
    ix->brute = p->metric == CH_DB_COSINE || (p->metric == CH_DB_EUCLIDEAN && d > p->brute_dims);
    int rc = 0;
    if (m > CH_DB_MAX_POINTS) {
        rc = CH_ENOMEM;
    } else if (ix->brute) {
        ix->norm2 = ch_alloc_array(m ? m : 1, sizeof(double));
        ix->g = ch_alloc_array((size_t)S_QB * S_PB, sizeof(double));
        if (!ix->norm2 || !ix->g) {
            rc = CH_ENOMEM;
        } else {
            for (size_t i = 0; i < m; i++) {
                double s = 0;
                for (size_t j = 0; j < d; j++) {
                    s += pts[i * d + j] * pts[i * d + j];
                }
                ix->norm2[i] = s;
            }
        }
    } else {
        ix->cap_nodes = 2 * (m / (S_LEAF / 2) + 1) + 1;
        ix->perm = ch_alloc_array(m ? m : 1, sizeof(uint32_t));
        ix->nodes = ch_alloc_array(ix->cap_nodes, sizeof(s_node));
        size_t nb;
        ix->box = ch_mul_size(ix->cap_nodes, 2 * d, &nb) == 0
                      ? ch_alloc_array(nb ? nb : 1, sizeof(double))
                      : NULL;
        if (!ix->perm || !ix->nodes || !ix->box) {
            rc = CH_ENOMEM;
        } else {
            for (size_t i = 0; i < m; i++) {
                ix->perm[i] = (uint32_t)i;
            }
            uint32_t root;
            if (m > 0) {
                rc = s_build(ix, 0, m, &root);
            }
        }
    }
    if (rc != 0) {
        ch_err_set(err, CH_ENOMEM, "out of memory indexing %zu points", m);
        ch_db_index_destroy(&ix);
    }
    return ix;
}

/* Frees the index and nulls the pointer; accepts NULL. */
void ch_db_index_destroy(ch_db_index **pix)
{
    if (!pix || !*pix) {
        return;
    }
    ch_db_index *ix = *pix;
    free(ix->perm);
    free(ix->nodes);
    free(ix->box);
    free(ix->norm2);
    free(ix->g);
    free(ix);
    *pix = NULL;
}

/* Smallest distance value from q to node k's box. */
static double s_box_value(const ch_db_index *ix, size_t k, const double *q)
{
    size_t d = ix->d;
    const double *mn = ix->box + 2 * k * d, *mx = mn + d;
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = q[j] < mn[j] ? mn[j] - q[j] : (q[j] > mx[j] ? q[j] - mx[j] : 0);
        s += ix->metric == CH_DB_EUCLIDEAN ? t * t : t;
    }
    return s;
}

static int s_tree_radius(ch_db_index *ix, const double *q, size_t nq, ch_db_hit_fn fn, void *ctx,
                         ch_err *err)
{
    uint32_t stack[128];
    for (size_t a = 0; a < nq; a++) {
        const double *qa = q + a * ix->d;
        size_t top = 0;
        if (ix->m) {
            stack[top++] = 0;
        }
        bool stop = false;
        while (top && !stop) {
            uint32_t k = stack[--top];
            if (s_box_value(ix, k, qa) > ix->thr) {
                continue;
            }
            const s_node *nd = &ix->nodes[k];
            if (nd->left == 0) {
                for (uint32_t r = nd->lo; r < nd->hi && !stop; r++) {
                    double v = ch_db_dist_value(ix->metric, qa,
                                                ix->pts + (size_t)ix->perm[r] * ix->d, ix->d);
                    if (v <= ix->thr && fn(ctx, a, ix->perm[r], v)) {
                        stop = true;
                    }
                }
            } else if (top + 2 > sizeof stack / sizeof stack[0]) {
                return ch_err_set(err, CH_EINTERNAL, "k-d tree deeper than expected");
            } else {
                stack[top++] = nd->right;
                stack[top++] = nd->left;
            }
        }
    }
    return 0;
}

/* Tolerance of the BLAS distance value for a pair with squared norms a, b. */
static double s_tol(const ch_db_index *ix, double a, double b)
{
    return ix->metric == CH_DB_COSINE ? 1e-9 : 1e-9 * (a + b) + 1e-300;
}

/* The distance values of a query block against a point block into ix->g:
 * g[r * pc + c]. */
static void s_block(ch_db_index *ix, const double *q, size_t qr, const double *qn, size_t p0,
                    size_t pc)
{
    size_t d = ix->d;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qr, (int)pc, (int)d, 1.0, q, (int)d,
                ix->pts + p0 * d, (int)d, 0.0, ix->g, (int)pc);
    for (size_t r = 0; r < qr; r++) {
        double *gr = ix->g + r * pc;
        for (size_t c = 0; c < pc; c++) {
            double v =
                ix->metric == CH_DB_COSINE ? 1.0 - gr[c] : qn[r] + ix->norm2[p0 + c] - 2 * gr[c];
            gr[c] = v < 0 ? 0 : v;
        }
    }
}

static int s_brute_radius(ch_db_index *ix, const double *q, size_t nq, ch_db_hit_fn fn, void *ctx,
                          ch_err *err)
{
    size_t d = ix->d;
    double qn[S_QB];
    bool *stop = calloc(S_QB, sizeof *stop);
    if (!stop) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t a0 = 0; a0 < nq; a0 += S_QB) {
        size_t qr = nq - a0 < S_QB ? nq - a0 : S_QB;
        for (size_t r = 0; r < qr; r++) {
            double s = 0;
            for (size_t j = 0; j < d; j++) {
                s += q[(a0 + r) * d + j] * q[(a0 + r) * d + j];
            }
            qn[r] = s;
            stop[r] = false;
        }
        for (size_t p0 = 0; p0 < ix->m; p0 += S_PB) {
            size_t pc = ix->m - p0 < S_PB ? ix->m - p0 : S_PB;
            s_block(ix, q + a0 * d, qr, qn, p0, pc);
            for (size_t r = 0; r < qr; r++) {
                const double *gr = ix->g + r * pc;
                for (size_t c = 0; c < pc && !stop[r]; c++) {
                    double v = gr[c];
                    double tol = s_tol(ix, qn[r], ix->norm2[p0 + c]);
                    if (v > ix->thr + tol) {
                        continue;
                    }
                    if (v >= ix->thr - tol) {
                        v = ch_db_dist_value(ix->metric, q + (a0 + r) * d, ix->pts + (p0 + c) * d,
                                             d);
                        if (v > ix->thr) {
                            continue;
                        }
                    }
                    if (fn(ctx, a0 + r, p0 + c, v)) {
                        stop[r] = true;
                    }
                }
            }
        }
    }
    free(stop);
    return 0;
}

/* Reports every indexed point within eps of each query (see dbscan.h). */
int ch_db_index_radius(ch_db_index *ix, const double *q, size_t nq, ch_db_hit_fn fn, void *ctx,
                       ch_err *err)
{
    return ix->brute ? s_brute_radius(ix, q, nq, fn, ctx, err)
                     : s_tree_radius(ix, q, nq, fn, ctx, err);
}

/* Inserts v into the ascending list h of at most k values (n in use). */
static void s_keep(double *h, size_t *n, size_t k, double v)
{
    if (*n == k && v >= h[k - 1]) {
        return;
    }
    size_t i = *n < k ? (*n)++ : k - 1;
    while (i > 0 && h[i - 1] > v) {
        h[i] = h[i - 1];
        i--;
    }
    h[i] = v;
}

static void s_tree_knn(ch_db_index *ix, const double *qa, size_t k, double *h)
{
    uint32_t stack[128];
    size_t top = 0, n = 0;
    if (ix->m) {
        stack[top++] = 0;
    }
    while (top) {
        uint32_t nk = stack[--top];
        if (n == k && s_box_value(ix, nk, qa) > h[k - 1]) {
            continue;
        }
        const s_node *nd = &ix->nodes[nk];
        if (nd->left == 0) {
            for (uint32_t r = nd->lo; r < nd->hi; r++) {
                s_keep(
                    h, &n, k,
                    ch_db_dist_value(ix->metric, qa, ix->pts + (size_t)ix->perm[r] * ix->d, ix->d));
            }
        } else if (top + 2 <= sizeof stack / sizeof stack[0]) {
            /* nearer child last, so it is searched first */
            double vl = s_box_value(ix, nd->left, qa), vr = s_box_value(ix, nd->right, qa);
            stack[top++] = vl <= vr ? nd->right : nd->left;
            stack[top++] = vl <= vr ? nd->left : nd->right;
        }
    }
}

/* The k nearest distances from each query (see dbscan.h). The BLAS path
 * keeps k + 8 candidates by BLAS value and recomputes them directly. */
int ch_db_index_knn(ch_db_index *ix, const double *q, size_t nq, size_t k, double *out, ch_err *err)
{
    if (k == 0) {
        return 0;
    }
    size_t kk = ix->brute ? k + 8 : k;
    double *h = malloc(kk * sizeof *h);
    double *hv = malloc(kk * sizeof *hv);
    uint32_t *hi = malloc(kk * sizeof *hi);
    if (!h || !hi || !hv) {
        free(h);
        free(hv);
        free(hi);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    size_t d = ix->d;
    for (size_t a = 0; a < nq; a++) {
        const double *qa = q + a * d;
        for (size_t t = 0; t < kk; t++) {
            h[t] = INFINITY;
        }
        if (!ix->brute) {
            s_tree_knn(ix, qa, k, h);
        } else {
            size_t n = 0;
            double qn = 0;
            for (size_t j = 0; j < d; j++) {
                qn += qa[j] * qa[j];
            }
            for (size_t p0 = 0; p0 < ix->m; p0 += S_PB) {
                size_t pc = ix->m - p0 < S_PB ? ix->m - p0 : S_PB;
                s_block(ix, qa, 1, &qn, p0, pc);
                for (size_t c = 0; c < pc; c++) {
                    double v = ix->g[c];
                    if (n == kk && v >= h[kk - 1]) {
                        continue;
                    }
                    size_t i = n < kk ? n++ : kk - 1;
                    while (i > 0 && h[i - 1] > v) {
                        h[i] = h[i - 1];
                        hi[i] = hi[i - 1];
                        i--;
                    }
                    h[i] = v;
                    hi[i] = (uint32_t)(p0 + c);
                }
            }
            /* recompute the candidates directly, ascending, into h */
            size_t m2 = 0;
            for (size_t t = 0; t < n; t++) {
                hv[t] = ch_db_dist_value(ix->metric, qa, ix->pts + (size_t)hi[t] * d, d);
            }
            for (size_t t = 0; t < n; t++) {
                s_keep(h, &m2, n, hv[t]);
            }
        }
        for (size_t t = 0; t < k; t++) {
            out[a * k + t] = isfinite(h[t]) ? ch_db_value_to_dist(ix->metric, h[t]) : INFINITY;
        }
    }
    free(h);
    free(hv);
    free(hi);
    return 0;
}
