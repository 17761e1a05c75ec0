/* test_rng.c: the counter-based random streams: reproducibility per
 * (seed, stream), independence of streams, and the moments of every
 * distribution over 1e5 draws. Seeds are fixed, so the tolerances (about
 * five standard errors each) cannot flake: a failure means the code changed. */
#include "common/rng.h"
#include "tests/check.h"

#include <stdint.h>

#define N_DRAWS 100000

static int s_cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void test_same_stream_same_sequence(void)
{
    ch_rng a, b;
    ch_rng_init(&a, 42, ch_rng_stream(CH_STREAM_WORKER, 3));
    ch_rng_init(&b, 42, ch_rng_stream(CH_STREAM_WORKER, 3));
    int same = 1;
    for (int i = 0; i < 1000; i++) {
        same &= ch_rng_u64(&a) == ch_rng_u64(&b);
    }
    CHECK(same);
    /* the derived draws too, including the cached normal deviate */
    same = 1;
    for (int i = 0; i < 1000; i++) {
        same &= ch_rng_normal(&a) == ch_rng_normal(&b);
        same &= ch_rng_gamma(&a, 0.5) == ch_rng_gamma(&b, 0.5);
        same &= ch_rng_poisson(&a, 30) == ch_rng_poisson(&b, 30);
    }
    CHECK(same);

    /* re-initialising restarts the stream */
    ch_rng_init(&a, 42, ch_rng_stream(CH_STREAM_WORKER, 3));
    ch_rng_init(&b, 42, ch_rng_stream(CH_STREAM_WORKER, 3));
    uint64_t first = ch_rng_u64(&a);
    CHECK(first == ch_rng_u64(&b));
}

/* Counts equal draws among the first 1000 of two streams. */
static int s_collisions(uint64_t seed1, uint64_t stream1, uint64_t seed2, uint64_t stream2)
{
    ch_rng a, b;
    ch_rng_init(&a, seed1, stream1);
    ch_rng_init(&b, seed2, stream2);
    int eq = 0;
    for (int i = 0; i < 1000; i++) {
        eq += ch_rng_u64(&a) == ch_rng_u64(&b);
    }
    return eq;
}

static void test_streams_differ(void)
{
    CHECK(s_collisions(42, ch_rng_stream(CH_STREAM_WORKER, 0), 42,
                       ch_rng_stream(CH_STREAM_WORKER, 1)) == 0);
    CHECK(s_collisions(42, ch_rng_stream(CH_STREAM_TREE, 0), 42,
                       ch_rng_stream(CH_STREAM_WORKER, 0)) == 0);
    CHECK(s_collisions(42, ch_rng_stream(CH_STREAM_SPLIT, 0), 43,
                       ch_rng_stream(CH_STREAM_SPLIT, 0)) == 0);
    /* stream ids of different kinds and indices are distinct */
    int distinct = 1;
    for (uint64_t k = 1; k <= 16; k++) {
        for (uint64_t i = 0; i < 64; i++) {
            for (uint64_t k2 = k; k2 <= 16; k2++) {
                for (uint64_t i2 = (k2 == k ? i + 1 : 0); i2 < 64; i2++) {
                    distinct &= ch_rng_stream(k, i) != ch_rng_stream(k2, i2);
                }
            }
        }
    }
    CHECK(distinct);
    /* a stream does not repeat its own numbers either */
    ch_rng r;
    ch_rng_init(&r, 7, 0);
    uint64_t prev = ch_rng_u64(&r);
    int repeats = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = ch_rng_u64(&r);
        repeats += x == prev;
        prev = x;
    }
    CHECK(repeats == 0);
}

static void test_uniform(void)
{
    ch_rng r;
    ch_rng_init(&r, 1, ch_rng_stream(CH_STREAM_ALGO, 0));
    double s = 0, s2 = 0, lo = 1, hi = 0;
    int in_range = 1;
    for (int i = 0; i < N_DRAWS; i++) {
        double u = ch_rng_uniform(&r);
        in_range &= u >= 0.0 && u < 1.0;
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        s += u;
        s2 += u * u;
    }
    double mean = s / N_DRAWS, var = s2 / N_DRAWS - mean * mean;
    CHECK(in_range);
    /* standard error of the mean 0.29 / 316 = 9e-4; of the variance 2.4e-4 */
    CHECK_NEAR(mean, 0.5, 0.005);
    CHECK_NEAR(var, 1.0 / 12.0, 0.0015);
    CHECK(lo < 1e-3 && hi > 1 - 1e-3);
}

static void test_below(void)
{
    ch_rng r;
    ch_rng_init(&r, 2, ch_rng_stream(CH_STREAM_ALGO, 1));
    const uint64_t ns[] = {1,
                           2,
                           3,
                           7,
                           10,
                           1000,
                           ((uint64_t)1 << 33) + 1,
                           (uint64_t)1 << 63,
                           ((uint64_t)1 << 63) + 1,
                           UINT64_MAX};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        int ok = 1;
        for (int i = 0; i < 10000; i++) {
            ok &= ch_rng_below(&r, ns[k]) < ns[k];
        }
        CHECK(ok);
    }
    /* n = 1 always gives 0; n = 7 hits every value about equally
     * (chi-square with 6 degrees of freedom: 30 is far in the tail) */
    CHECK(ch_rng_below(&r, 1) == 0);
    size_t count[7] = {0};
    for (int i = 0; i < 70000; i++) {
        count[ch_rng_below(&r, 7)]++;
    }
    double chi2 = 0;
    for (int v = 0; v < 7; v++) {
        chi2 += ((double)count[v] - 10000.0) * ((double)count[v] - 10000.0) / 10000.0;
    }
    CHECK(chi2 < 30);
    /* just above 2^63: a biased modulo would give values below 2^62 with
     * probability 3/4 instead of about 1/2 */
    uint64_t n = ((uint64_t)1 << 63) + ((uint64_t)1 << 62);
    int small = 0;
    for (int i = 0; i < 10000; i++) {
        small += ch_rng_below(&r, n) < ((uint64_t)1 << 62);
    }
    /* exact share: 2^62 / (3 * 2^62) = 1/3; biased modulo gives 1/2 */
    CHECK_NEAR(small / 10000.0, 1.0 / 3.0, 0.025);
}

static void test_normal(void)
{
    ch_rng r;
    ch_rng_init(&r, 3, ch_rng_stream(CH_STREAM_NOISE, 0));
    double s = 0, s2 = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        double z = ch_rng_normal(&r);
        s += z;
        s2 += z * z;
    }
    double mean = s / N_DRAWS, var = s2 / N_DRAWS - mean * mean;
    /* standard errors: mean 3.2e-3, variance 4.5e-3 */
    CHECK_NEAR(mean, 0.0, 0.016);
    CHECK_NEAR(var, 1.0, 0.023);
}

static void test_gamma(void)
{
    const double shapes[] = {0.5, 2.0, 7.0};
    for (size_t k = 0; k < 3; k++) {
        double a = shapes[k];
        ch_rng r;
        ch_rng_init(&r, 4, ch_rng_stream(CH_STREAM_ALGO, 10 + k));
        double s = 0, s2 = 0;
        int positive = 1;
        for (int i = 0; i < N_DRAWS; i++) {
            double g = ch_rng_gamma(&r, a);
            positive &= g > 0 && isfinite(g);
            s += g;
            s2 += g * g;
        }
        double mean = s / N_DRAWS, var = s2 / N_DRAWS - mean * mean;
        CHECK(positive);
        /* Gamma(a, 1): mean a, variance a; standard error of the mean
         * sqrt(a / 1e5), tolerance five of them */
        CHECK_NEAR(mean, a, 5 * sqrt(a / N_DRAWS));
        /* the sample variance: relative error within 5% */
        CHECK_REL(var, a, 0.05, 0.0);
    }
}

static void test_poisson(void)
{
    const double lambdas[] = {3.0, 30.0};
    for (size_t k = 0; k < 2; k++) {
        double lam = lambdas[k];
        ch_rng r;
        ch_rng_init(&r, 5, ch_rng_stream(CH_STREAM_SAMPLE, k));
        double s = 0, s2 = 0;
        for (int i = 0; i < N_DRAWS; i++) {
            double x = (double)ch_rng_poisson(&r, lam);
            s += x;
            s2 += x * x;
        }
        double mean = s / N_DRAWS, var = s2 / N_DRAWS - mean * mean;
        CHECK_NEAR(mean, lam, 5 * sqrt(lam / N_DRAWS));
        CHECK_REL(var, lam, 0.05, 0.0);
    }
    /* P(X = 0) for lambda 3 is e^-3 = 0.0498 */
    ch_rng r;
    ch_rng_init(&r, 6, 0);
    int zeros = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        zeros += ch_rng_poisson(&r, 3.0) == 0;
    }
    CHECK_NEAR(zeros / (double)N_DRAWS, exp(-3.0), 0.004);
    CHECK(ch_rng_poisson(&r, 0.0) == 0);
}

static void test_shuffle(void)
{
    enum { N = 1000 };
    size_t *v = malloc(N * sizeof *v), *w = malloc(N * sizeof *w);
    for (size_t i = 0; i < N; i++) {
        v[i] = i;
        w[i] = i;
    }
    ch_rng r1, r2;
    ch_rng_init(&r1, 9, ch_rng_stream(CH_STREAM_PARTITION, 0));
    ch_rng_init(&r2, 9, ch_rng_stream(CH_STREAM_PARTITION, 0));
    ch_rng_shuffle(&r1, v, N);
    ch_rng_shuffle(&r2, w, N);
    CHECK(memcmp(v, w, N * sizeof *v) == 0); /* deterministic */
    size_t fixed = 0;
    for (size_t i = 0; i < N; i++) {
        fixed += v[i] == i;
    }
    CHECK(fixed < 10); /* moved: expected number of fixed points is 1 */
    qsort(v, N, sizeof *v, s_cmp_size);
    int perm = 1;
    for (size_t i = 0; i < N; i++) {
        perm &= v[i] == i;
    }
    CHECK(perm);
    /* empty and single-element arrays are left alone */
    size_t one = 5;
    ch_rng_shuffle(&r1, &one, 1);
    CHECK(one == 5);
    ch_rng_shuffle(&r1, NULL, 0);
    /* every position of a 3-element shuffle is equally likely to hold 0 */
    size_t pos[3] = {0};
    for (int i = 0; i < 30000; i++) {
        size_t t[3] = {0, 1, 2};
        ch_rng_shuffle(&r1, t, 3);
        for (size_t j = 0; j < 3; j++) {
            pos[j] += t[j] == 0;
        }
    }
    for (size_t j = 0; j < 3; j++) {
        CHECK_NEAR(pos[j] / 30000.0, 1.0 / 3.0, 0.015);
    }
    free(v);
    free(w);
}

int main(void)
{
    test_same_stream_same_sequence();
    test_streams_differ();
    test_uniform();
    test_below();
    test_normal();
    test_gamma();
    test_poisson();
    test_shuffle();
    CH_TEST_END();
}
