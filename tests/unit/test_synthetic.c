/* test_synthetic.c: the synthetic generator's parts: the zCDP -> (epsilon,
 * delta) conversion against SciPy, the Gaussian noise scale, the simplex
 * projection, IPF, discretisation, the private range, conditional sampling
 * of a rare class, the model's protobuf round trip, the candidate layout
 * and the exponential-mechanism tree selection. */
#include "algorithms/synthetic/synthetic.h"
#include "tests/check.h"
#include "tests/unit/test_syn_toy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Reference: /usr/bin/python3 with SciPy 1.10 (Debian 12), minimising
 * f(alpha) = rho*alpha + (log(1/delta) + (alpha-1) log(1-1/alpha) - log(alpha))
 *            / (alpha-1)
 * over alpha = 1 + exp(t) with scipy.optimize.minimize_scalar(bounded,
 * xatol 1e-12); rho from epsilon with scipy.optimize.brentq(xtol 1e-15).
 * Tolerance: relative 1e-6 (our bisection on the derivative vs SciPy's
 * bounded Brent; both converge far below that). */
static void test_cdp(void)
{
    static const double ref[][3] = {
        {0.01, 1e-5, 0.5457255482740024}, {0.0208, 1e-5, 0.8113989425216177},
        {0.1, 1e-6, 2.1419389283854735},  {0.5, 1e-5, 4.728386984943314},
        {1.0, 1e-9, 9.521463671792233},   {2.0, 1e-3, 8.416064294321277},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        CHECK_REL(ch_syn_cdp_eps(ref[i][0], ref[i][1]), ref[i][2], 1e-6, 1e-12);
        /* tighter than the classic rho + 2 sqrt(rho log(1/delta)) */
        CHECK(ch_syn_cdp_eps(ref[i][0], ref[i][1]) <
              ref[i][0] + 2 * sqrt(ref[i][0] * log(1 / ref[i][1])));
    }
    static const double rho[][3] = {{1.0, 1e-5, 0.030556595197639813},
                                    {0.1, 1e-6, 0.00032104769034574707},
                                    {10.0, 1e-5, 1.7826956163289516}};
    for (size_t i = 0; i < 3; i++) {
        CHECK_REL(ch_syn_cdp_rho(rho[i][0], rho[i][1]), rho[i][2], 1e-6, 1e-12);
    }
    CHECK(ch_syn_cdp_eps(0, 1e-5) == 0);
    /* the Gaussian mechanism: sigma = sensitivity / sqrt(2 rho) */
    CHECK_NEAR(ch_syn_gauss_sigma(0.5, 1), 1.0, 1e-15);
    CHECK_NEAR(ch_syn_gauss_sigma(0.02, 1), 5.0, 1e-12);
    CHECK_NEAR(ch_syn_gauss_sigma(0.125, 3), 6.0, 1e-12);
    /* an empirical check of the noise scale from the stream */
    ch_rng r;
    ch_rng_init(&r, 42, ch_rng_stream(CH_STREAM_NOISE, 1));
    double *x = calloc(100000, sizeof *x);
    double s = ch_syn_gauss_sigma(0.02, 1), ss = 0;
    ch_syn_gauss(x, 100000, s, &r);
    for (size_t i = 0; i < 100000; i++) {
        ss += x[i] * x[i];
    }
    /* sd of the sample sd: sigma / sqrt(2n) = 0.011; 5 of them */
    CHECK_NEAR(sqrt(ss / 100000), 5.0, 0.06);
    free(x);
    CHECK_NEAR(ch_syn_em_eps(0.125), 1.0, 1e-15);
}

static void test_consistency(void)
{
    /* projection of (3, 1, -2) onto {y >= 0, sum 2}: tau = 1 -> (2, 0, 0) */
    double x[3] = {3, 1, -2};
    ch_syn_project_simplex(x, 3, 2);
    CHECK_NEAR(x[0], 2, 1e-12);
    CHECK_NEAR(x[1], 0, 1e-12);
    CHECK_NEAR(x[2], 0, 1e-12);
    double y[4] = {1, 2, 3, 4};
    ch_syn_project_simplex(y, 4, 14); /* sum 10 -> each + 1 */
    CHECK_NEAR(y[0], 2, 1e-12);
    CHECK_NEAR(y[3], 5, 1e-12);
    /* IPF: the table's margins become the targets, cells stay >= 0 */
    double t[6] = {5, -1, 2, 0, 3, 3};
    double rr[2] = {10, 20}, cc[3] = {12, 8, 10};
    ch_syn_ipf(t, 2, 3, rr, cc, 200);
    for (size_t i = 0; i < 2; i++) {
        CHECK_NEAR(t[i * 3] + t[i * 3 + 1] + t[i * 3 + 2], rr[i], 1e-6);
    }
    for (size_t j = 0; j < 3; j++) {
        CHECK_NEAR(t[j] + t[3 + j], cc[j], 1e-6);
        CHECK(t[j] >= 0 && t[3 + j] >= 0);
    }
}

static void test_discretize(void)
{
    ch_syn_col c = {.kind = CH_COL_NUMERIC, .lo = 0, .hi = 10, .bins = 5, .integer = true};
    ch_syn_col_size(&c);
    CHECK(c.size == 5);
    CHECK(ch_syn_cell(&c, -3) == 0);
    CHECK(ch_syn_cell(&c, 0) == 0);
    CHECK(ch_syn_cell(&c, 2) == 1);
    CHECK(ch_syn_cell(&c, 9.99) == 4);
    CHECK(ch_syn_cell(&c, 100) == 4);
    ch_rng r;
    ch_rng_init(&r, 1, 2);
    for (int i = 0; i < 100; i++) {
        double v = ch_syn_decode(&c, 1, &r); /* bin [2, 4): integers 2, 3 */
        CHECK(v == 2 || v == 3);
    }
    c.missing = true;
    ch_syn_col_size(&c);
    CHECK(c.size == 6);
    CHECK(ch_syn_cell(&c, NAN) == 5);
    CHECK(isnan(ch_syn_decode(&c, 5, &r)));
    /* the private range: the cells above the threshold */
    double h[CH_SYN_MAG_CELLS] = {0};
    h[ch_syn_mag_cell(0)] = 100;
    h[ch_syn_mag_cell(300)] = 100;
    h[ch_syn_mag_cell(5000)] = 3; /* below the threshold: clipped */
    double lo, hi;
    CHECK(ch_syn_mag_range(h, 10, &lo, &hi));
    CHECK(lo == 0 && hi == 512);
    h[ch_syn_mag_cell(-0.7)] = 50;
    CHECK(ch_syn_mag_range(h, 10, &lo, &hi));
    CHECK(lo == -1 && hi == 512);
    memset(h, 0, sizeof h);
    CHECK(!ch_syn_mag_range(h, 10, &lo, &hi));
}

static void test_sampling(void)
{
    ch_syn_model *m = ch_test_syn_toy();
    ch_err err;
    ch_err_clear(&err);
    /* 2000 rows + 3000 of the rare class, by conditional sampling */
    ch_table *t = ch_syn_generate(m, 2000, 3000, CH_SYN_STREAM_SAMPLE, &err);
    CHECK(t != NULL);
    if (t) {
        size_t yes_aug = 0, x2_aug = 0, yes = 0;
        for (size_t i = 0; i < t->n_rows; i++) {
            bool y = t->cols[0].values[i] == 1;
            if (i >= 2000) {
                yes_aug += y;
                x2_aug += t->cols[1].values[i] >= 2;
            } else {
                yes += y;
            }
        }
        CHECK(yes_aug == 3000); /* every augmented row is of the class */
        /* P(x in cell 2 | yes) = 0.8: 3000 draws, sd 0.0073; 5 sd */
        CHECK_NEAR((double)x2_aug / 3000, 0.8, 0.037);
        /* the rare class keeps its 5% among the plain rows (sd 0.0049) */
        CHECK_NEAR((double)yes / 2000, 0.05, 0.025);
        CHECK(yes > 0);
    }
    ch_table_destroy(&t);
    /* the model as a classifier: P(yes | x in cell 2) = 40 / 40 = 1 */
    ch_table *q = ch_table_new(2);
    double *xv = malloc(2 * sizeof *xv);
    xv[0] = 0.5;
    xv[1] = 2.5;
    ch_table_add_column(q, "x", CH_COL_NUMERIC, xv, NULL, 0);
    /* predict takes the feature columns: swap the model's column order view */
    ch_syn_model *m2 = ch_test_syn_toy();
    /* put the target last, as the engine's tables have it */
    ch_syn_col tmp = m2->dom.cols[0];
    m2->dom.cols[0] = m2->dom.cols[1];
    m2->dom.cols[1] = tmp;
    double *o0 = m2->oneway[0];
    m2->oneway[0] = m2->oneway[1];
    m2->oneway[1] = o0;
    double jt[6];
    for (size_t x = 0; x < 2; x++) {
        for (size_t y = 0; y < 3; y++) {
            jt[y * 2 + x] = m2->edges[0].joint[x * 3 + y];
        }
    }
    memcpy(m2->edges[0].joint, jt, sizeof jt);
    m2->dom.target = 1;
    double p[4];
    CHECK(ch_syn_predict(m2, q, p, &err) == 0);
    CHECK_NEAR(p[0 * 2 + 1], 0.0, 1e-9); /* cell 0: 0 / 900 yes */
    CHECK_NEAR(p[1 * 2 + 1], 1.0, 1e-6); /* cell 2: 40 / 40 yes */
    CHECK_NEAR(p[1 * 2 + 0] + p[1 * 2 + 1], 1.0, 1e-12);
    ch_table_destroy(&q);
    /* model bytes round-trip */
    ch_buf b, b2;
    ch_buf_init(&b);
    ch_buf_init(&b2);
    CHECK(ch_syn_model_pack(m, &b, &err) == 0);
    ch_syn_model *u = ch_syn_model_unpack(b.data, b.len, &err);
    CHECK(u != NULL);
    if (u) {
        CHECK(ch_syn_model_pack(u, &b2, &err) == 0);
        CHECK(b.len == b2.len && memcmp(b.data, b2.data, b.len) == 0);
    }
    /* truncated bytes are an error, not a crash */
    ch_syn_model *bad = ch_syn_model_unpack(b.data, b.len / 2, &err);
    CHECK(bad == NULL);
    ch_syn_model_destroy(&bad);
    ch_syn_model_destroy(&u);
    ch_buf_free(&b);
    ch_buf_free(&b2);
    ch_syn_model_destroy(&m);
    ch_syn_model_destroy(&m2);
}

/* Three binary columns: a and b always equal (dependent), c independent of
 * both, 1000 rows split evenly. */
static void s_three(ch_syn_domain *d, ch_syn_layout *l, double *counts, size_t max_cells)
{
    memset(d, 0, sizeof *d);
    d->n_cols = 3;
    d->target = -1;
    d->cols = calloc(3, sizeof *d->cols);
    for (size_t j = 0; j < 3; j++) {
        d->cols[j].kind = CH_COL_CATEGORICAL;
        d->cols[j].n_levels = 2;
        ch_syn_col_size(&d->cols[j]);
    }
    ch_err err;
    ch_err_clear(&err);
    CHECK(ch_syn_layout_make(d, max_cells, 1000, l, &err) == 0);
    if (!counts) {
        return;
    }
    /* one-way tables 0..5, then pairs (a,b) 6..9, (a,c) 10..13, (b,c) 14..17 */
    static const double v[18] = {500, 500, 500, 500, 500, 500, 500, 0,   0,
                                 500, 250, 250, 250, 250, 250, 250, 250, 250};
    memcpy(counts, v, sizeof v);
}

static void test_select(void)
{
    ch_syn_domain d;
    ch_syn_layout l;
    double counts[18], p[6] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    s_three(&d, &l, counts, 4);
    CHECK(l.n_pairs == 3 && l.len == 18);
    CHECK(l.pairs[0].a == 0 && l.pairs[0].b == 1 && l.pairs[0].off == 6);
    CHECK(l.pairs[2].a == 1 && l.pairs[2].b == 2 && l.pairs[2].off == 14);
    uint32_t chosen[3];
    ch_rng r;
    /* a large epsilon: the dependent pair (a, b) first (score 1000 - 25
     * against -25: exp(-125) odds of another), then one of the others */
    size_t first_ab = 0, first_ab_small = 0;
    for (uint64_t seed = 0; seed < 200; seed++) {
        ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_NOISE, 3));
        long k = ch_syn_select(&l, counts, p, 1000, 1.0, -1, 0, &r, chosen);
        CHECK(k == 2);
        first_ab += chosen[0] == 0;
        CHECK(chosen[1] == 1 || chosen[1] == 2);
        /* a tiny epsilon: every pair equally likely (1/3) */
        ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_NOISE, 4));
        k = ch_syn_select(&l, counts, p, 1000, 1e-9, -1, 0, &r, chosen);
        CHECK(k == 2 && chosen[0] != chosen[1]);
        first_ab_small += chosen[0] == 0;
    }
    CHECK(first_ab == 200);
    /* focus on c for one step: its first edge is (a, c) or (b, c) though
     * (a, b) scores far higher, then (a, b); focus for 5 steps on c: once
     * c's pairs cannot join anything new, the usual steps go on */
    for (uint64_t seed = 0; seed < 50; seed++) {
        ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_NOISE, 3));
        long k = ch_syn_select(&l, counts, p, 1000, 1.0, 2, 1, &r, chosen);
        CHECK(k == 2 && (chosen[0] == 1 || chosen[0] == 2) && chosen[1] == 0);
        ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_NOISE, 3));
        k = ch_syn_select(&l, counts, p, 1000, 1.0, 2, 5, &r, chosen);
        CHECK(k == 2 && (chosen[0] == 1 || chosen[0] == 2) && chosen[1] != chosen[0]);
    }
    /* binomial(200, 1/3): mean 66.7, sd 6.7; 5 sd either side */
    CHECK(first_ab_small > 33 && first_ab_small < 100);
    ch_syn_layout_free(&l);
    ch_syn_domain_free(&d);
    /* max_cells 3: no pair of 2 x 2 cells is a candidate, so no edge */
    s_three(&d, &l, NULL, 3);
    CHECK(l.n_pairs == 0 && l.len == 6);
    ch_rng_init(&r, 1, ch_rng_stream(CH_STREAM_NOISE, 3));
    CHECK(ch_syn_select(&l, counts, p, 1000, 1.0, -1, 0, &r, chosen) == 0);
    ch_syn_layout_free(&l);
    ch_syn_domain_free(&d);
}

int main(void)
{
    test_cdp();
    test_consistency();
    test_discretize();
    test_sampling();
    test_select();
    printf("%d passed, %d failed\n", ch_t_pass, ch_t_fail);
    return ch_t_fail != 0;
}
