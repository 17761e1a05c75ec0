/* lloyd.c: the numerical core of k-means (see lloyd.h). */
#include "algorithms/kmeans/lloyd.h"

#include "algorithms/cluster_common/cluster.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t ch_km_node_len(const ch_km_shape *s)
{
    return s->k * s->d + 2 * s->k + 1 + s->far * (4 + s->d);
}

/* Whether entry a (dist2, id) ranks before b among the farthest points. */
static int s_far_before(const double *a, const double *b)
{
    if (a[0] != b[0]) {
        return a[0] > b[0];
    }
    return a[1] < b[1];
}

/* Inserts entry e into the sorted far list (n entries of width ew). */
static void s_far_insert(double *list, size_t n, size_t ew, const double *e)
{
    if (n == 0 || !s_far_before(e, list + (n - 1) * ew)) {
        return;
    }
    size_t pos = n - 1;
    while (pos > 0 && s_far_before(e, list + (pos - 1) * ew)) {
        pos--;
    }
    memmove(list + (pos + 1) * ew, list + pos * ew, (n - 1 - pos) * ew * sizeof(double));
    memcpy(list + pos * ew, e, ew * sizeof(double));
}

void ch_km_leaf(const ch_km_shape *s, const double *x, const double *w, const uint64_t *ids,
                const int32_t *label, const double *dist2, const unsigned char *use, size_t m,
                double *out)
{
    size_t k = s->k, d = s->d, ew = 4 + d;
    memset(out, 0, ch_km_node_len(s) * sizeof *out);
    double *sums = out, *wsum = out + k * d, *count = wsum + k, *inertia = count + k;
    double *far = inertia + 1;
    for (size_t f = 0; f < s->far; f++) {
        far[f * ew] = -1;
    }
    double *entry = s->far ? malloc(ew * sizeof *entry) : NULL;
    for (size_t i = 0; i < m; i++) {
        if (use && !use[i]) {
            continue;
        }
        int32_t c = label[i];
        const double *xr = x + i * d;
        double *sc = sums + (size_t)c * d;
        for (size_t j = 0; j < d; j++) {
            sc[j] += w[i] * xr[j];
        }
        wsum[c] += w[i];
        count[c] += 1;
        *inertia += w[i] * dist2[i];
        if (entry &&
            (dist2[i] > far[(s->far - 1) * ew] ||
             (dist2[i] == far[(s->far - 1) * ew] && (double)ids[i] < far[(s->far - 1) * ew + 1]))) {
            entry[0] = dist2[i];
            entry[1] = (double)ids[i];
            entry[2] = c;
            entry[3] = w[i];
            memcpy(entry + 4, xr, d * sizeof(double));
            s_far_insert(far, s->far, ew, entry);
        }
    }
    free(entry);
}

void ch_km_combine(void *ctx, size_t len, const double *left, const double *right, double *out)
{
    const ch_km_shape *s = ctx;
    size_t head = s->k * s->d + 2 * s->k + 1, ew = 4 + s->d;
    (void)len;
    for (size_t i = 0; i < head; i++) {
        out[i] = left[i] + right[i];
    }
    const double *a = left + head, *b = right + head;
    double *o = out + head;
    size_t ia = 0, ib = 0;
    for (size_t f = 0; f < s->far; f++) {
        const double *pick;
        if (ia < s->far && (ib >= s->far || !s_far_before(b + ib * ew, a + ia * ew))) {
            pick = a + ia++ * ew;
        } else {
            pick = b + ib++ * ew;
        }
        memcpy(o + f * ew, pick, ew * sizeof(double));
    }
}

void ch_km_update(const ch_km_shape *s, double *node, const double *c_old, double *c_new,
                  double *shift, size_t *n_empty)
{
    size_t k = s->k, d = s->d, ew = 4 + d;
    double *sums = node, *wsum = node + k * d;
    const double *far = node + k * d + 2 * k + 1;
    size_t next = 0;
    *n_empty = 0;
    for (size_t c = 0; c < k; c++) {
        if (wsum[c] > 0) {
            continue;
        }
        (*n_empty)++;
        while (next < s->far && far[next * ew] >= 0) {
            const double *e = far + next * ew;
            size_t old = (size_t)e[2];
            next++;
            if (old >= k || wsum[old] <= e[3]) {
                continue; /* moving it would empty its own cluster */
            }
            for (size_t j = 0; j < d; j++) {
                sums[old * d + j] -= e[3] * e[4 + j];
                sums[c * d + j] = e[3] * e[4 + j];
            }
            wsum[old] -= e[3];
            wsum[c] = e[3];
            break;
        }
    }
    double sh = 0;
    for (size_t c = 0; c < k; c++) {
        for (size_t j = 0; j < d; j++) {
            double v = wsum[c] > 0 ? sums[c * d + j] / wsum[c] : c_old[c * d + j];
            double diff = v - c_old[c * d + j];
            sh += diff * diff;
            c_new[c * d + j] = v;
        }
    }
    *shift = sh;
}

void ch_km_minibatch_update(const ch_km_shape *s, const double *node, double *wtotal,
                            const double *c_old, double *c_new, double *shift)
{
    size_t k = s->k, d = s->d;
    const double *sums = node, *wsum = node + k * d;
    double sh = 0;
    for (size_t c = 0; c < k; c++) {
        double wt = wtotal[c] + wsum[c];
        for (size_t j = 0; j < d; j++) {
            double v = wsum[c] > 0 ? (c_old[c * d + j] * wtotal[c] + sums[c * d + j]) / wt
                                   : c_old[c * d + j];
            double diff = v - c_old[c * d + j];
            sh += diff * diff;
            c_new[c * d + j] = v;
        }
        wtotal[c] = wt;
    }
    *shift = sh;
}

static double s_dist2(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double v = a[j] - b[j];
        s += v * v;
    }
    return s;
}

/* First index whose cumulative weight exceeds target (clipped to m-1). */
static size_t s_search(const double *cum, size_t m, double target)
{
    size_t lo = 0, hi = m;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] < target) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < m ? lo : m - 1;
}

size_t ch_km_plusplus(const double *x, const double *w, size_t m, size_t d, size_t k, ch_rng *rng,
                      double *c)
{
    if (m == 0 || k == 0) {
        return 0;
    }
    double *closest = malloc(m * sizeof *closest);
    double *cand = malloc(m * sizeof *cand);
    double *best = malloc(m * sizeof *best);
    double *cum = malloc(m * sizeof *cum);
    size_t found = 0;
    if (!closest || !cand || !best || !cum) {
        goto done;
    }
    size_t trials = 2 + (size_t)log((double)k);
    double wtot = 0;
    for (size_t i = 0; i < m; i++) {
        wtot += w[i];
        cum[i] = wtot;
    }
    size_t first = s_search(cum, m, ch_rng_uniform(rng) * wtot);
    memcpy(c, x + first * d, d * sizeof(double));
    found = 1;
    double pot = 0;
    for (size_t i = 0; i < m; i++) {
        closest[i] = s_dist2(x + i * d, c, d);
        pot += w[i] * closest[i];
    }
    for (size_t ci = 1; ci < k; ci++) {
        if (!(pot > 0)) {
            break; /* every row sits on a centre: fewer distinct points than k */
        }
        double acc = 0;
        for (size_t i = 0; i < m; i++) {
            acc += w[i] * closest[i];
            cum[i] = acc;
        }
        double best_pot = INFINITY;
        size_t best_id = 0;
        for (size_t t = 0; t < trials; t++) {
            size_t id = s_search(cum, m, ch_rng_uniform(rng) * pot);
            double cp = 0;
            for (size_t i = 0; i < m; i++) {
                double v = s_dist2(x + i * d, x + id * d, d);
                cand[i] = v < closest[i] ? v : closest[i];
                cp += w[i] * cand[i];
            }
            if (cp < best_pot) {
                best_pot = cp;
                best_id = id;
                memcpy(best, cand, m * sizeof *best);
            }
        }
        if (!(closest[best_id] > 0)) {
            break;
        }
        memcpy(c + ci * d, x + best_id * d, d * sizeof(double));
        memcpy(closest, best, m * sizeof *closest);
        pot = best_pot;
        found++;
    }
done:
    free(closest);
    free(cand);
    free(best);
    free(cum);
    return found;
}

int ch_km_local_lloyd(const double *x, const double *w, size_t m, size_t d, size_t k, int iters,
                      double *c)
{
    double *sums = calloc(k * d + k, sizeof *sums);
    if (!sums) {
        return CH_ENOMEM;
    }
    for (int it = 0; it < iters; it++) {
        memset(sums, 0, (k * d + k) * sizeof *sums);
        double *ws = sums + k * d;
        for (size_t i = 0; i < m; i++) {
            size_t bj = 0;
            double bd = INFINITY;
            for (size_t j = 0; j < k; j++) {
                double v = s_dist2(x + i * d, c + j * d, d);
                if (v < bd) {
                    bd = v;
                    bj = j;
                }
            }
            for (size_t f = 0; f < d; f++) {
                sums[bj * d + f] += w[i] * x[i * d + f];
            }
            ws[bj] += w[i];
        }
        for (size_t j = 0; j < k; j++) {
            if (ws[j] > 0) {
                for (size_t f = 0; f < d; f++) {
                    c[j * d + f] = sums[j * d + f] / ws[j];
                }
            }
        }
    }
    free(sums);
    return 0;
}
