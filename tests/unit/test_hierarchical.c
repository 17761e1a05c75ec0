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

#include <stdbool.h>
#include <stdint.h>

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

int main(void)
{
    CHECK(ch_hc_condensed(14, 0, 1) == 0);
    CHECK(ch_hc_condensed(14, 1, 0) == 0);
    CHECK(ch_hc_condensed(14, 12, 13) == 14 * 13 / 2 - 1);
    s_check(CH_HC_WARD, s_z_ward, s_k3_ward, s_t_ward, s_dt_ward);
    s_check(CH_HC_COMPLETE, s_z_complete, s_k3_complete, s_t_complete, s_dt_complete);
    s_check(CH_HC_AVERAGE, s_z_average, s_k3_average, s_t_average, s_dt_average);
    s_check(CH_HC_SINGLE, s_z_single, s_k3_single, s_t_single, s_dt_single);
    CH_TEST_END();
}
