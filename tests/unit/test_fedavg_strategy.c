/* test_fedavg_strategy.c: fedavg's server side: fixed-point sums that do
 * not depend on the order updates arrive in, the adaptive server steps
 * against Reddi et al.'s formulas evaluated in NumPy, robust aggregation
 * against NumPy/SciPy (median, scipy.stats.trim_mean, Krum and multi-Krum
 * written out in NumPy), and client sampling from the seed. */
#include "algorithms/fedavg/sampling.h"
#include "algorithms/fedavg/strategy.h"
#include "tests/check.h"

static void test_fixed_point_order(void)
{
    enum { N = 64, K = 5 };
    float d[K][N];
    for (size_t k = 0; k < K; k++) {
        for (size_t i = 0; i < N; i++) {
            d[k][i] = 1e-3f * sinf((float)(k * 31 + i)) * (float)(1 + k);
        }
    }
    double wt[K] = {600, 17, 3000, 1, 250};
    int64_t a[N] = {0}, b[N] = {0};
    for (size_t k = 0; k < K; k++) {
        ch_fed_fix_add(a, d[k], N, wt[k]);
    }
    size_t order[K] = {3, 0, 4, 2, 1};
    for (size_t j = 0; j < K; j++) {
        ch_fed_fix_add(b, d[order[j]], N, wt[order[j]]);
    }
    CHECK(memcmp(a, b, sizeof a) == 0);
    /* and the mean is the weighted mean to within the fixed-point step */
    double worst = 0, tot = 0;
    for (size_t k = 0; k < K; k++) {
        tot += wt[k];
    }
    for (size_t i = 0; i < N; i++) {
        double ref = 0;
        for (size_t k = 0; k < K; k++) {
            ref += wt[k] * d[k][i];
        }
        double got = (double)a[i] / ldexp(1.0, CH_FED_FIX_BITS) / tot;
        worst = fabs(got - ref / tot) > worst ? fabs(got - ref / tot) : worst;
    }
    CHECK(worst < 1e-9);
    CHECK(ch_fed_fix_limit(10) > 1e7); /* |delta| x samples up to 10^7 fits */
}

static void test_server_steps(void)
{
    /* two steps with deltas d1, d2 from w = m = v = 0, eta 0.01, beta1 0.9,
     * beta2 0.99, tau 1e-3 (NumPy, float64; ours keeps m, v, w in float32:
     * relative tolerance 1e-5) */
    const double ref[3][2] = {{0.0020745314911509763, -0.0006631252817360311},
                              {0.02043307922364049, -0.006280566280566278},
                              {0.02038283935422202, -0.006285424973727314}};
    ch_fed_strategy kinds[3] = {CH_FED_FEDADAGRAD, CH_FED_FEDADAM, CH_FED_FEDYOGI};
    float d1[2] = {0.5f, -0.2f}, d2[2] = {0.1f, 0.3f};
    for (size_t k = 0; k < 3; k++) {
        ch_fed_params p = {
            .strategy = kinds[k], .server_lr = 0.01, .beta1 = 0.9, .beta2 = 0.99, .tau = 1e-3};
        float w[2] = {0}, m[2] = {0}, v[2] = {0};
        ch_fed_server_step(&p, w, m, v, NULL, 1, d1, 2, 1);
        ch_fed_server_step(&p, w, m, v, NULL, 1, d2, 2, 2);
        CHECK_REL(w[0], ref[k][0], 1e-5, 1e-9);
        CHECK_REL(w[1], ref[k][1], 1e-5, 1e-9);
    }
    /* FedAvgM: v = 0.9 v + d; w += v */
    ch_fed_params p = {.strategy = CH_FED_FEDAVGM, .server_lr = 1, .server_momentum = 0.9};
    float w[2] = {0}, m[2] = {0};
    ch_fed_server_step(&p, w, m, NULL, NULL, 1, d1, 2, 1);
    ch_fed_server_step(&p, w, m, NULL, NULL, 1, d2, 2, 2);
    CHECK_NEAR(w[0], 0.5 + (0.45 + 0.1), 1e-6);
    CHECK_NEAR(w[1], -0.2 + (-0.18 + 0.3), 1e-6);
    /* FedAvg from the fixed-point sum: w += mean */
    p.strategy = CH_FED_FEDAVG;
    int64_t acc[2] = {0};
    ch_fed_fix_add(acc, d1, 2, 30);
    ch_fed_fix_add(acc, d2, 2, 10);
    float w2[2] = {1, 1};
    ch_fed_server_step(&p, w2, NULL, NULL, acc, 40, NULL, 2, 1);
    CHECK_NEAR(w2[0], 1 + (0.5 * 30 + 0.1 * 10) / 40, 1e-6);
    CHECK_NEAR(w2[1], 1 + (-0.2 * 30 + 0.3 * 10) / 40, 1e-6);
}

/* The cosine server schedule: the rate of round t of T is
 * lr (1 + cos(pi (t - 1) / T)) / 2; constant leaves it alone. */
static void test_server_lr_schedule(void)
{
    ch_fed_params p = {.strategy = CH_FED_FEDYOGI, .server_lr = 0.01, .rounds = 100};
    CHECK_NEAR(ch_fed_server_lr(&p, 1), 0.01, 1e-15);
    CHECK_NEAR(ch_fed_server_lr(&p, 100), 0.01, 1e-15);
    p.server_lr_schedule = CH_FED_LR_COSINE;
    CHECK_NEAR(ch_fed_server_lr(&p, 1), 0.01, 1e-15);
    CHECK_NEAR(ch_fed_server_lr(&p, 51), 0.005, 1e-15);                /* halfway */
    CHECK_NEAR(ch_fed_server_lr(&p, 100), 0.01 * 2.4671981e-4, 1e-11); /* (1 + cos(0.99 pi)) / 2 */
    CHECK(ch_fed_server_lr(&p, 100) > 0);
    CHECK_NEAR(ch_fed_server_lr(&p, 150), ch_fed_server_lr(&p, 100), 0); /* past T: the last rate */
    for (long t = 2; t <= 100; t++) {
        CHECK(ch_fed_server_lr(&p, t) < ch_fed_server_lr(&p, t - 1));
    }
    /* the step uses it: FedAvg with lr 1 halfway moves w by half the mean */
    p.strategy = CH_FED_FEDAVG;
    p.server_lr = 1;
    float w[1] = {0};
    const float d[1] = {0.4f};
    ch_fed_server_step(&p, w, NULL, NULL, NULL, 1, d, 1, 51);
    CHECK_NEAR(w[0], 0.2, 1e-7);
    /* one round: nothing to anneal */
    p.rounds = 1;
    CHECK_NEAR(ch_fed_server_lr(&p, 1), 1, 0);
}

static void test_robust(void)
{
    /* 7 silos, 5 parameters; silos 3 and 6 are byzantine */
    static float u[7][5] = {
        {0.1f, 0.2f, -0.3f, 0.05f, 1.0f},     {0.12f, 0.18f, -0.25f, 0.07f, 0.9f},
        {0.09f, 0.22f, -0.31f, 0.04f, 1.1f},  {5.0f, -4.0f, 3.0f, 9.0f, -7.0f},
        {0.11f, 0.21f, -0.28f, 0.06f, 0.95f}, {0.08f, 0.19f, -0.33f, 0.05f, 1.05f},
        {-3.0f, 2.0f, 8.0f, -1.0f, 0.0f}};
    float *ups[7];
    for (size_t k = 0; k < 7; k++) {
        ups[k] = u[k];
    }
    /* np.median(U, 0); scipy.stats.trim_mean(U, 0.2, 0); Krum (f = 2: the
     * 3 nearest) and multi-Krum (m = 5) in NumPy; tolerance 1e-6 (float32) */
    const double med[5] = {0.1, 0.2, -0.28, 0.05, 0.95};
    const double trim[5] = {0.1, 0.2, 0.37199999690055846, 0.05399999991059303, 0.7799999833106994};
    const double mkrum[5] = {0.1, 0.2, -0.2940000057220459, 0.05399999991059303, 1.0};
    float out[5];
    bool used[7];
    double scratch[7 * 7 + 14];
    ch_fed_params p = {.strategy = CH_FED_MEDIAN};
    ch_fed_robust(&p, ups, 7, 5, out, used, scratch);
    for (size_t i = 0; i < 5; i++) {
        CHECK_NEAR(out[i], med[i], 1e-6);
    }
    p.strategy = CH_FED_TRIMMED_MEAN;
    p.trim = 0.2;
    ch_fed_robust(&p, ups, 7, 5, out, used, scratch);
    for (size_t i = 0; i < 5; i++) {
        CHECK_NEAR(out[i], trim[i], 1e-6);
    }
    p.strategy = CH_FED_KRUM;
    p.byzantine = 2;
    ch_fed_robust(&p, ups, 7, 5, out, used, scratch);
    CHECK(memcmp(out, u[0], sizeof out) == 0);
    CHECK(used[0] && !used[1] && !used[3]);
    p.strategy = CH_FED_MULTIKRUM;
    ch_fed_robust(&p, ups, 7, 5, out, used, scratch);
    for (size_t i = 0; i < 5; i++) {
        CHECK_NEAR(out[i], mkrum[i], 1e-6);
    }
    CHECK(!used[3] && !used[6] && used[0] && used[1] && used[2] && used[4] && used[5]);
    /* even count: the median is the mean of the middle two */
    p.strategy = CH_FED_MEDIAN;
    ch_fed_robust(&p, ups, 6, 5, out, used, scratch);
    CHECK_NEAR(out[0], 0.5 * (0.1 + 0.11), 1e-6);
}

static void test_sampling(void)
{
    bool a[10], b[10];
    size_t idx[10];
    CHECK(ch_fed_sample_count(10, 0.3) == 3);
    CHECK(ch_fed_sample_count(10, 0.01) == 1);
    CHECK(ch_fed_sample_count(100, 0.1) == 10);
    CHECK(ch_fed_sample(42, 5, 10, 0.3, a, idx) == 3);
    ch_fed_sample(42, 5, 10, 0.3, b, idx);
    CHECK(memcmp(a, b, sizeof a) == 0); /* from the seed and round only */
    size_t n = 0, differ = 0, hits[10] = {0};
    for (uint32_t r = 1; r <= 200; r++) {
        ch_fed_sample(42, r, 10, 0.3, b, idx);
        size_t c = 0;
        for (size_t s = 0; s < 10; s++) {
            c += b[s];
            hits[s] += b[s];
        }
        n += c == 3;
        differ += memcmp(a, b, sizeof a) != 0;
    }
    CHECK(n == 200);
    CHECK(differ > 150);
    int fair = 1; /* each silo about 60 times of 200 x 3 / 10 */
    for (size_t s = 0; s < 10; s++) {
        fair &= hits[s] > 35 && hits[s] < 85;
    }
    CHECK(fair);
    CHECK(ch_fed_sample(42, 1, 10, 1.0, a, idx) == 10);
}

int main(void)
{
    test_fixed_point_order();
    test_server_steps();
    test_server_lr_schedule();
    test_robust();
    test_sampling();
    CH_TEST_END();
}
