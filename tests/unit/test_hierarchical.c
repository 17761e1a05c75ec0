/* test_hierarchical.c: the linkage (linkage.h) against SciPy 1.10.1 (Debian
 * python3-scipy), run once on 14 points in 3 dimensions:
 *
 *   rng = np.random.default_rng(7)
 *   X = np.round(rng.normal(size=(14, 3)) * 2 + np.repeat(
 *       [[0,0,0],[5,5,0],[0,6,6]], [5,5,4], axis=0), 6)
 *   Z = scipy.cluster.hierarchy.linkage(X, method)   for the 4 methods
 *   fcluster(Z, 3, "maxclust"); fcluster(Z, Z[9, 2], "distance")
 *
 * Merge distances must match to 1e-10 (the tolerance); the merged
 * cluster ids and sizes exactly; the cut labels up to relabelling. */
#include "algorithms/hierarchical/linkage.h"
#include "tests/check.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const double s_x[14 * 3] = {
    0.00246,   0.597491, -0.548276, -1.781184, -0.909342, -1.983293, 0.120287,  2.68043,  -0.984413,
    -1.24095,  0.979684, 0.713774,  0.210828,  -1.860936, -0.058504, 6.390606,  2.311571, -0.915232,
    1.197555,  2.420925, -3.68347,  4.529818,  2.465107,  0.542529,  5.313502,  4.626138, -5.033519,
    3.922614,  4.902998, 0.226618,  -3.060272, 5.044493,  4.042962,  -1.617674, 8.121797, 4.384931,
    -0.065043, 7.76878,  4.832799,  -0.223404, 6.220928,  6.127564};
static const double s_z_ward[13 * 4] = {
    11.0, 12.0, 1.6540464835892614, 2.0, 0.0,  3.0,  1.812432100755501,  2.0,
    5.0,  7.0,  2.368791341034706,  2.0, 2.0,  15.0, 2.649480542313719,  3.0,
    13.0, 14.0, 2.7475403668569944, 3.0, 1.0,  4.0,  2.9289000740040625, 2.0,
    9.0,  16.0, 3.436715739154704,  3.0, 10.0, 18.0, 4.319708991397549,  4.0,
    17.0, 19.0, 4.541496907649877,  5.0, 6.0,  8.0,  4.860721796665492,  2.0,
    20.0, 23.0, 7.18764590725319,   5.0, 22.0, 24.0, 13.010128662303876, 10.0,
    21.0, 25.0, 20.08144507570303,  14.0};
static const int s_k3_ward[14] = {2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 1, 1, 1, 1};
static const double s_t_ward = 4.860721796665492;
static const int s_dt_ward[14] = {2, 2, 2, 2, 2, 3, 4, 3, 4, 3, 1, 1, 1, 1};
static const double s_z_complete[13 * 4] = {
    11.0, 12.0, 1.6540464835892614, 2.0, 0.0,  3.0,  1.812432100755501,  2.0,
    5.0,  7.0,  2.368791341034706,  2.0, 2.0,  15.0, 2.762126393497227,  3.0,
    1.0,  4.0,  2.9289000740040625, 2.0, 13.0, 14.0, 2.9315629893880844, 3.0,
    9.0,  16.0, 3.7563679040920634, 3.0, 10.0, 19.0, 4.125164106720967,  4.0,
    17.0, 18.0, 4.635677975756945,  5.0, 6.0,  8.0,  4.860721796665492,  2.0,
    20.0, 23.0, 6.031295623091361,  5.0, 22.0, 24.0, 9.636917831027564,  10.0,
    21.0, 25.0, 12.56067103819796,  14.0};
static const int s_k3_complete[14] = {2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 1, 1, 1, 1};
static const double s_t_complete = 4.860721796665492;
static const int s_dt_complete[14] = {2, 2, 2, 2, 2, 3, 4, 3, 4, 3, 1, 1, 1, 1};
static const double s_z_average[13 * 4] = {
    11.0, 12.0, 1.6540464835892614, 2.0, 0.0,  3.0,  1.812432100755501,  2.0,
    5.0,  7.0,  2.368791341034706,  2.0, 2.0,  15.0, 2.446747667220408,  3.0,
    13.0, 14.0, 2.4778759104293036, 3.0, 1.0,  4.0,  2.9289000740040625, 2.0,
    9.0,  16.0, 3.144261456132768,  3.0, 17.0, 19.0, 3.449013963390084,  5.0,
    10.0, 18.0, 3.750924960219303,  4.0, 6.0,  21.0, 4.48878687331271,   6.0,
    8.0,  20.0, 5.441543437792173,  4.0, 23.0, 24.0, 6.860529360506713,  10.0,
    22.0, 25.0, 9.287381551060086,  14.0};
static const int s_k3_average[14] = {2, 2, 2, 2, 2, 3, 2, 3, 3, 3, 1, 1, 1, 1};
static const double s_t_average = 4.48878687331271;
static const int s_dt_average[14] = {2, 2, 2, 2, 2, 3, 2, 3, 4, 3, 1, 1, 1, 1};
static const double s_z_single[13 * 4] = {
    11.0, 12.0, 1.6540464835892614, 2.0, 0.0,  3.0,  1.812432100755501,  2.0,
    13.0, 14.0, 2.0241888314705228, 3.0, 2.0,  15.0, 2.1313689409435894, 3.0,
    5.0,  7.0,  2.368791341034706,  2.0, 4.0,  17.0, 2.5153840958662754, 4.0,
    9.0,  18.0, 2.5321550081734725, 3.0, 1.0,  19.0, 2.7406578405401136, 5.0,
    6.0,  21.0, 2.917663085090189,  6.0, 10.0, 16.0, 3.4158207937450413, 4.0,
    20.0, 22.0, 4.567723197886886,  9.0, 8.0,  24.0, 4.845375242297959,  10.0,
    23.0, 25.0, 5.560224589484584,  14.0};
static const int s_k3_single[14] = {2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1};
static const double s_t_single = 3.4158207937450413;
static const int s_dt_single[14] = {3, 3, 3, 3, 3, 2, 3, 2, 4, 2, 1, 1, 1, 1};

/* Whether labels a (0-based) and b (SciPy's 1-based) make the same partition. */
static bool s_same_partition(const int32_t *a, const int *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            if ((a[i] == a[j]) != (b[i] == b[j])) {
                return false;
            }
        }
    }
    return true;
}

static void s_check(ch_hc_method m, const double *ref, const int *k3, double t, const int *dt)
{
    double dist[14 * 13 / 2], z[13 * 4];
    ch_hc_pdist(s_x, 14, 3, dist);
    CHECK(ch_hc_linkage(dist, 14, m, z) == 0);
    for (size_t k = 0; k < 13; k++) {
        CHECK(z[4 * k] == ref[4 * k]);
        CHECK(z[4 * k + 1] == ref[4 * k + 1]);
        CHECK_NEAR(z[4 * k + 2], ref[4 * k + 2], 1e-10);
        CHECK(z[4 * k + 3] == ref[4 * k + 3]);
    }
    int32_t lab[14];
    CHECK(ch_hc_cut(z, 14, 3, 0, lab) == 3);
    CHECK(s_same_partition(lab, k3, 14));
    size_t nk = ch_hc_cut(z, 14, 0, t, lab);
    int mx = 0;
    for (size_t i = 0; i < 14; i++) {
        mx = dt[i] > mx ? dt[i] : mx;
    }
    CHECK(nk == (size_t)mx);
    CHECK(s_same_partition(lab, dt, 14));
    /* labels are numbered by first appearance */
    CHECK(lab[0] == 0);
    /* a threshold below every merge leaves every point alone */
    CHECK(ch_hc_cut(z, 14, 0, z[2] / 2, lab) == 14);
}

static int s_cmp5(const void *a, const void *b)
{
    const double *x = a, *y = b;
    if (x[2] != y[2]) {
        return x[2] < y[2] ? -1 : 1;
    }
    return x[4] < y[4] ? -1 : x[4] > y[4];
}

/* --- the fast paths against plain references, on data full of ties ------ */

enum { S_TN = 600, S_TD = 20 }; /* 600 rows: pdist runs in two threads on two cores */

/* The pre-2026-12-04 linkage scan, checked against SciPy on digits (same
 * merges, heights to the bit): every cluster scanned, merged ones skipped
 * by their size. The active-list chain of linkage.c must give the same z. */
static void s_ref_chain(double *dist, size_t n, ch_hc_method m, double *z)
{
    double size[S_TN];
    size_t chain[S_TN], len = 0;
    for (size_t i = 0; i < n; i++) {
        size[i] = 1;
    }
    for (size_t k = 0; k + 1 < n; k++) {
        for (size_t i = 0; len == 0 && i < n; i++) {
            if (size[i] > 0) {
                chain[len++] = i;
            }
        }
        size_t x, y = 0;
        double cur;
        for (;;) {
            x = chain[len - 1];
            cur = len > 1 ? dist[ch_hc_condensed(n, x, y = chain[len - 2])] : INFINITY;
            for (size_t i = 0; i < n; i++) {
                if (i != x && size[i] != 0 && dist[ch_hc_condensed(n, x, i)] < cur) {
                    cur = dist[ch_hc_condensed(n, x, i)];
                    y = i;
                }
            }
            if (len > 1 && y == chain[len - 2]) {
                break;
            }
            chain[len++] = y;
        }
        len -= 2;
        size_t lo = x < y ? x : y, hi = x < y ? y : x;
        double nx = size[lo], ny = size[hi];
        z[4 * k] = (double)lo;
        z[4 * k + 1] = (double)hi;
        z[4 * k + 2] = cur;
        z[4 * k + 3] = nx + ny;
        size[lo] = 0;
        size[hi] = nx + ny;
        for (size_t i = 0; i < n; i++) {
            if (size[i] == 0 || i == hi) {
                continue;
            }
            double a = dist[ch_hc_condensed(n, i, lo)], b = dist[ch_hc_condensed(n, i, hi)];
            double v, t = 1.0 / (nx + ny + size[i]);
            switch (m) {
            case CH_HC_COMPLETE:
                v = a > b ? a : b;
                break;
            case CH_HC_AVERAGE:
                v = (nx * a + ny * b) / (nx + ny);
                break;
            default:
                v = sqrt((size[i] + nx) * t * a * a + (size[i] + ny) * t * b * b -
                         size[i] * t * cur * cur);
            }
            dist[ch_hc_condensed(n, i, hi)] = v;
        }
    }
}

/* SciPy's ordering of raw chain merges: stable sort by height, then ids
 * relabelled through a union-find (cluster n + k is merge k). */
static void s_sort_relabel(double *z, size_t n)
{
    static double t[(S_TN - 1) * 5];
    static size_t parent[2 * S_TN];
    static double size[2 * S_TN];
    for (size_t k = 0; k + 1 < n; k++) {
        memcpy(t + 5 * k, z + 4 * k, 4 * sizeof(double));
        t[5 * k + 4] = (double)k;
    }
    qsort(t, n - 1, 5 * sizeof(double), s_cmp5);
    for (size_t i = 0; i < 2 * n; i++) {
        parent[i] = i;
        size[i] = 1;
    }
    for (size_t k = 0; k + 1 < n; k++) {
        size_t a = (size_t)t[5 * k], b = (size_t)t[5 * k + 1];
        while (parent[a] != a) {
            a = parent[a];
        }
        while (parent[b] != b) {
            b = parent[b];
        }
        z[4 * k] = (double)(a < b ? a : b);
        z[4 * k + 1] = (double)(a < b ? b : a);
        z[4 * k + 2] = t[5 * k + 2];
        z[4 * k + 3] = size[n + k] = size[a] + size[b];
        parent[a] = parent[b] = n + k;
    }
}

static void s_check_fast_paths(void)
{
    static double x[S_TN * S_TD], dist[S_TN * (S_TN - 1) / 2], ref[S_TN * (S_TN - 1) / 2];
    static double z[(S_TN - 1) * 4], zr[(S_TN - 1) * 4];
    uint64_t r = 12345;
    for (size_t i = 0; i < S_TN * S_TD; i++) {
        r = r * 6364136223846793005u + 1442695040888963407u;
        x[i] = (double)((r >> 33) % 4); /* small integers: many equal distances */
    }
    ch_hc_pdist(x, S_TN, S_TD, dist);
    size_t at = 0;
    for (size_t i = 0; i < S_TN; i++) {
        for (size_t j = i + 1; j < S_TN; j++) {
            double s = 0;
            for (size_t f = 0; f < S_TD; f++) {
                s += (x[i * S_TD + f] - x[j * S_TD + f]) * (x[i * S_TD + f] - x[j * S_TD + f]);
            }
            ref[at++] = sqrt(s);
        }
    }
    /* the tiled (AVX2) and four-pair kernels keep each pair's order of sums */
    CHECK(memcmp(dist, ref, sizeof ref) == 0);
    static const ch_hc_method ms[] = {CH_HC_WARD, CH_HC_COMPLETE, CH_HC_AVERAGE};
    for (size_t t = 0; t < 3; t++) {
        memcpy(dist, ref, sizeof ref);
        CHECK(ch_hc_linkage(dist, S_TN, ms[t], z) == 0);
        memcpy(dist, ref, sizeof ref);
        s_ref_chain(dist, S_TN, ms[t], zr);
        s_sort_relabel(zr, S_TN);
        CHECK(memcmp(z, zr, sizeof z) == 0);
    }
}

int main(void)
{
    CHECK(ch_hc_condensed(14, 0, 1) == 0);
    CHECK(ch_hc_condensed(14, 1, 0) == 0);
    CHECK(ch_hc_condensed(14, 12, 13) == 14 * 13 / 2 - 1);
    s_check(CH_HC_WARD, s_z_ward, s_k3_ward, s_t_ward, s_dt_ward);
    s_check(CH_HC_COMPLETE, s_z_complete, s_k3_complete, s_t_complete, s_dt_complete);
    s_check(CH_HC_AVERAGE, s_z_average, s_k3_average, s_t_average, s_dt_average);
    s_check(CH_HC_SINGLE, s_z_single, s_k3_single, s_t_single, s_dt_single);
    s_check_fast_paths();
    CH_TEST_END();
}
