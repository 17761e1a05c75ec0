/* test_synth_eval.c: the synthetic generator's report figures: the
 * logistic regression of the utility figures against scikit-learn, the
 * distance to the closest synthetic row and its histogram against a direct
 * computation, the membership-inference AUC (near 1 for a "generator" that
 * copies its training rows, near 0.5 for a sample of a model), and
 * sampling a class column in chosen proportions. */
#include "algorithms/synthetic/synthetic.h"
#include "common/metrics.h"
#include "tests/check.h"
#include "tests/unit/test_syn_toy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Reference: /usr/bin/python3, scikit-learn 1.2.1 (Debian 12):
 *   rng = np.random.default_rng(3); X = np.round(rng.normal(size=(24, 3)), 2)
 *   y = (X[:,0] - 0.5*X[:,1] + rng.normal(size=24)*0.8 > 0)
 *   LogisticRegression(C=c, tol=1e-14, max_iter=100000, solver="newton-cg")
 * for C = 1 and C = 0.25 (lambda = 1/C; the intercept is not penalised).
 * Tolerance 1e-8: both Newton methods agree to 1e-10 (lbfgs stops 1e-5 off
 * even at tol 1e-14). */
static void test_logit(void)
{
    static const double X[72] = {
        2.04,  -2.56, 0.42,  -0.57, -0.45, -0.22, -2.02, -0.23, -0.87, 3.32,  0.23, -0.35,
        -0.28, -0.67, -1.06, -0.39, 0.48,  -0.24, 0.96,  -0.2,  0.02,  1.55,  0.55, -0.51,
        -0.18, 0.54,  1.94,  -0.27, -0.24, 1.0,   -0.89, -0.29, 0.88,  0.58,  0.09, 0.67,
        -2.83, 1.02,  -0.96, -1.67, 0.28,  0.7,   -0.44, -1.08, 0.03,  -0.05, 1.41, 0.75,
        0.19,  1.11,  -0.21, -0.93, 0.58,  0.58,  -0.21, -0.78, 0.23,  -2.49, 0.69, 0.49,
        -1.64, 0.06,  -0.96, 0.76,  -2.03, -0.91, 0.71,  1.16,  -2.16, -0.5,  0.33, -0.61};
    static const double y[24] = {1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1,
                                 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0};
    static const double ref1[4] = {-0.44789024660524923, 1.1107500431906756, -0.5378377596692305,
                                   0.6011755849477107};
    static const double ref4[4] = {-0.44439271137163505, 0.6879478925184823, -0.31910167160233593,
                                   0.2991077808899972};
    double w[4];
    CHECK(ch_syn_logit_fit(X, y, 24, 3, 1.0, w) == 0);
    for (int k = 0; k < 4; k++) {
        CHECK_NEAR(w[k], ref1[k], 1e-8);
    }
    CHECK(ch_syn_logit_fit(X, y, 24, 3, 4.0, w) == 0);
    for (int k = 0; k < 4; k++) {
        CHECK_NEAR(w[k], ref4[k], 1e-8);
    }
}

/* A design like the utility fit's: a numeric column twice (collinear) and
 * a one-hot group of three levels (collinear with the intercept), 40 rows.
 * Reference: /usr/bin/python3, scikit-learn 1.2.1:
 *   rng = np.random.default_rng(5); lev = rng.integers(0, 3, 40)
 *   x1 = np.round(rng.normal(size=40), 2)
 *   X = [x1, x1, lev == 0, lev == 1, lev == 2]
 *   y = x1 + 1.5 (lev == 2) + rng.normal(size=40) > 0.7
 *   LogisticRegression(C=1, tol=1e-14, max_iter=100000, solver="newton-cg")
 * Tolerance 1e-8. */
static void test_logit_onehot(void)
{
    static const double X[200] = {
        -0.71, -0.71, 0.0, 0.0, 1.0, 0.55,  0.55,  0.0, 0.0, 1.0, -0.06, -0.06, 1.0, 0.0, 0.0,
        -0.59, -0.59, 0.0, 0.0, 1.0, 0.41,  0.41,  0.0, 1.0, 0.0, 0.83,  0.83,  0.0, 1.0, 0.0,
        -1.64, -1.64, 0.0, 1.0, 0.0, -0.26, -0.26, 1.0, 0.0, 0.0, -0.98, -0.98, 0.0, 0.0, 1.0,
        -0.17, -0.17, 1.0, 0.0, 0.0, -1.29, -1.29, 1.0, 0.0, 0.0, 0.02,  0.02,  0.0, 1.0, 0.0,
        -0.04, -0.04, 0.0, 1.0, 0.0, -0.3,  -0.3,  0.0, 1.0, 0.0, -1.05, -1.05, 1.0, 0.0, 0.0,
        -0.4,  -0.4,  1.0, 0.0, 0.0, -1.09, -1.09, 1.0, 0.0, 0.0, -1.36, -1.36, 1.0, 0.0, 0.0,
        0.22,  0.22,  1.0, 0.0, 0.0, -1.11, -1.11, 0.0, 0.0, 1.0, 1.17,  1.17,  1.0, 0.0, 0.0,
        0.72,  0.72,  0.0, 1.0, 0.0, -2.0,  -2.0,  0.0, 0.0, 1.0, 0.27,  0.27,  1.0, 0.0, 0.0,
        -1.1,  -1.1,  1.0, 0.0, 0.0, 0.03,  0.03,  0.0, 1.0, 0.0, 0.04,  0.04,  1.0, 0.0, 0.0,
        -1.99, -1.99, 0.0, 0.0, 1.0, -0.23, -0.23, 1.0, 0.0, 0.0, -0.26, -0.26, 0.0, 0.0, 1.0,
        0.96,  0.96,  0.0, 0.0, 1.0, -1.18, -1.18, 0.0, 0.0, 1.0, 0.74,  0.74,  1.0, 0.0, 0.0,
        -1.1,  -1.1,  0.0, 1.0, 0.0, -0.33, -0.33, 0.0, 1.0, 0.0, -0.84, -0.84, 0.0, 1.0, 0.0,
        1.45,  1.45,  0.0, 1.0, 0.0, 0.57,  0.57,  0.0, 0.0, 1.0, 2.43,  2.43,  0.0, 1.0, 0.0,
        0.64,  0.64,  1.0, 0.0, 0.0};
    static const double y[40] = {1, 1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
                                 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0};
    static const double ref[6] = {-0.7013364728441628, 0.5746298252956658,  0.5746298252956658,
                                  -1.1382299644135783, -0.6248476335722101, 1.7630775979857884};
    double w[6];
    CHECK(ch_syn_logit_fit(X, y, 40, 5, 1.0, w) == 0);
    for (int k = 0; k < 6; k++) {
        CHECK_NEAR(w[k], ref[k], 1e-8);
    }
}

static char *s_dup(const char *s)
{
    return strdup(s);
}

/* A domain of a numeric column x on [0, 10] and a categorical c (a, b, c). */
static void s_domain(ch_syn_domain *d)
{
    d->n_cols = 2;
    d->target = -1;
    d->cols = calloc(2, sizeof *d->cols);
    d->cols[0].name = s_dup("x");
    d->cols[0].kind = CH_COL_NUMERIC;
    d->cols[0].lo = 0;
    d->cols[0].hi = 10;
    d->cols[0].bins = 4;
    d->cols[0].missing = true;
    ch_syn_col_size(&d->cols[0]);
    d->cols[1].name = s_dup("c");
    d->cols[1].kind = CH_COL_CATEGORICAL;
    d->cols[1].n_levels = 3;
    d->cols[1].levels = calloc(3, sizeof(char *));
    d->cols[1].levels[0] = s_dup("a");
    d->cols[1].levels[1] = s_dup("b");
    d->cols[1].levels[2] = s_dup("c");
    ch_syn_col_size(&d->cols[1]);
}

/* A table of the domain's two columns from x[n] and c[n]. */
static ch_table *s_table(const double *x, const double *c, size_t n)
{
    ch_table *t = ch_table_new(n);
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    memcpy(a, x, n * sizeof *a);
    memcpy(b, c, n * sizeof *b);
    char **lv = calloc(3, sizeof *lv);
    lv[0] = s_dup("a");
    lv[1] = s_dup("b");
    lv[2] = s_dup("c");
    ch_table_add_column(t, "x", CH_COL_NUMERIC, a, NULL, 0);
    ch_table_add_column(t, "c", CH_COL_CATEGORICAL, b, lv, 3);
    return t;
}

/* The distance written out: (|dx| / 10 capped at 1, or 1 when one side is
 * missing, 0 when both are; + [c differs]) / 2. */
static double s_direct(double x1, double c1, double x2, double c2)
{
    double dx =
        isnan(x1) || isnan(x2) ? (isnan(x1) && isnan(x2) ? 0 : 1) : fmin(fabs(x1 - x2) / 10, 1);
    return (dx + (c1 != c2)) / 2;
}

static void test_dcr(void)
{
    ch_syn_domain d;
    s_domain(&d);
    ch_err err;
    ch_err_clear(&err);
    /* synthetic rows */
    double sx[4] = {1.0, 4.5, NAN, 9.0}, sc[4] = {0, 1, 2, 0};
    /* training rows and held-out rows */
    double tx[5] = {1.0, 4.0, 20.0, NAN, 7.77}, tc[5] = {0, 1, 0, 2, 2};
    double hx[4] = {2.0, 4.5, NAN, 0.3}, hc[4] = {1, 2, 1, 0};
    ch_table *s = s_table(sx, sc, 4), *t = s_table(tx, tc, 5), *h = s_table(hx, hc, 4);
    double *pts = ch_syn_points(&d, s, 4, &err);
    CHECK(pts != NULL);
    double ht[CH_SYN_DCR_CELLS] = {0}, hh[CH_SYN_DCR_CELLS] = {0};
    CHECK(ch_syn_dcr_hist(&d, pts, 4, t, NULL, 5, ht, &err) == 0);
    CHECK(ch_syn_dcr_hist(&d, pts, 4, h, NULL, 4, hh, &err) == 0);
    double dt[5], dh[4];
    for (int i = 0; i < 5; i++) {
        dt[i] = INFINITY;
        for (int k = 0; k < 4; k++) {
            dt[i] = fmin(dt[i], s_direct(tx[i], tc[i], sx[k], sc[k]));
        }
        double row[2] = {tx[i] * (1.0 / 10), tc[i]};
        CHECK_NEAR(ch_syn_dcr(&d, pts, 4, row), dt[i], 1e-12);
    }
    for (int i = 0; i < 4; i++) {
        dh[i] = INFINITY;
        for (int k = 0; k < 4; k++) {
            dh[i] = fmin(dh[i], s_direct(hx[i], hc[i], sx[k], sc[k]));
        }
    }
    /* by hand: train row 0 and 3 are copies; row 2 (x 20) is 9/10 of the
     * range (capped 1 would need |dx| >= 10) from synthetic row 3 */
    CHECK(dt[0] == 0 && dt[3] == 0);
    CHECK_NEAR(dt[1], 0.025, 1e-12);
    /* each row lands in the cell of its direct distance */
    double et[CH_SYN_DCR_CELLS] = {0}, eh[CH_SYN_DCR_CELLS] = {0};
    for (int i = 0; i < 5; i++) {
        et[ch_syn_dcr_cell(dt[i])] += 1;
    }
    for (int i = 0; i < 4; i++) {
        eh[ch_syn_dcr_cell(dh[i])] += 1;
    }
    CHECK(memcmp(et, ht, sizeof et) == 0);
    CHECK(memcmp(eh, hh, sizeof eh) == 0);
    CHECK(ch_syn_dcr_cell(0) == 0 && ch_syn_dcr_cell(1e-9) == 1 && ch_syn_dcr_cell(0.025) == 25 &&
          ch_syn_dcr_cell(1) == CH_SYN_DCR_BINS);
    /* the figures against the direct ones: AUC over all pairs, a member
     * scoring higher when its distance cell is lower, ties half */
    ch_syn_privacy p;
    ch_syn_privacy_clear(&p);
    ch_syn_privacy_from_hist(ht, hh, &p);
    double auc = 0;
    for (int i = 0; i < 5; i++) {
        for (int k = 0; k < 4; k++) {
            size_t a = ch_syn_dcr_cell(dt[i]), b = ch_syn_dcr_cell(dh[k]);
            auc += a < b ? 1 : a == b ? 0.5 : 0;
        }
    }
    CHECK_NEAR(p.mia_auc, auc / 20, 1e-12);
    CHECK_NEAR(p.exact_train, 2.0 / 5, 1e-12);
    size_t zh = 0;
    for (int k = 0; k < 4; k++) {
        zh += dh[k] == 0;
    }
    CHECK_NEAR(p.exact_holdout, (double)zh / 4, 1e-12);
    CHECK(p.n_train == 5 && p.n_holdout == 4);
    /* median of the five training distances (cells' upper edges) */
    double sorted[5];
    memcpy(sorted, dt, sizeof sorted);
    for (int i = 1; i < 5; i++) {
        for (int k = i; k > 0 && sorted[k - 1] > sorted[k]; k--) {
            double x = sorted[k];
            sorted[k] = sorted[k - 1];
            sorted[k - 1] = x;
        }
    }
    CHECK_NEAR(p.dcr_train_median, (double)ch_syn_dcr_cell(sorted[2]) / CH_SYN_DCR_BINS, 1e-12);
    free(pts);
    ch_table_destroy(&s);
    ch_table_destroy(&t);
    ch_table_destroy(&h);
    ch_syn_domain_free(&d);
}

/* Rows [a, a + n) of the generated table g as a new generated table. */
static ch_table *s_rows(const ch_table *g, size_t a, size_t n)
{
    ch_table *t = ch_table_new(n);
    for (size_t j = 0; j < g->n_cols; j++) {
        double *v = malloc(n * sizeof *v);
        memcpy(v, g->cols[j].values + a, n * sizeof *v);
        ch_table_add_column(t, g->cols[j].name, CH_COL_NUMERIC, v, NULL, 0);
    }
    return t;
}

/* Membership inference against a copy and against a model's sample. */
static void test_mia(void)
{
    ch_syn_model *m = ch_test_syn_toy();
    ch_err err;
    ch_err_clear(&err);
    ch_table *g = ch_syn_generate(m, 1000, 0, CH_SYN_STREAM_SAMPLE, &err);
    ch_table *mem = s_rows(g, 0, 250), *non = s_rows(g, 250, 250), *other = s_rows(g, 500, 500);
    /* a "generator" that releases its training rows */
    double *copy = ch_syn_points(&m->dom, mem, 250, &err);
    double ht[CH_SYN_DCR_CELLS] = {0}, hh[CH_SYN_DCR_CELLS] = {0};
    CHECK(ch_syn_dcr_hist(&m->dom, copy, 250, mem, NULL, 250, ht, &err) == 0);
    CHECK(ch_syn_dcr_hist(&m->dom, copy, 250, non, NULL, 250, hh, &err) == 0);
    ch_syn_privacy p;
    ch_syn_privacy_clear(&p);
    ch_syn_privacy_from_hist(ht, hh, &p);
    CHECK(p.exact_train == 1);
    CHECK(p.exact_holdout == 0); /* x is continuous within its bin */
    CHECK(p.mia_auc > 0.99);
    /* rows sampled from the model apart from both: members and non-members
     * are alike to it. AUC sd for 250 vs 250 is 0.026; 4 sd. */
    double *sample = ch_syn_points(&m->dom, other, 500, &err);
    memset(ht, 0, sizeof ht);
    memset(hh, 0, sizeof hh);
    CHECK(ch_syn_dcr_hist(&m->dom, sample, 500, mem, NULL, 250, ht, &err) == 0);
    CHECK(ch_syn_dcr_hist(&m->dom, sample, 500, non, NULL, 250, hh, &err) == 0);
    ch_syn_privacy_from_hist(ht, hh, &p);
    CHECK(p.exact_train == 0);
    CHECK_NEAR(p.mia_auc, 0.5, 0.1);
    free(copy);
    free(sample);
    ch_table_destroy(&g);
    ch_table_destroy(&mem);
    ch_table_destroy(&non);
    ch_table_destroy(&other);
    ch_syn_model_destroy(&m);
}

/* Proportions: exact class counts, no rejection, the same rows by seed. */
static void test_proportions(void)
{
    double prop[2] = {0.3, 0.7};
    uint32_t *c = ch_syn_class_plan(prop, 2, 1001, 5, CH_SYN_STREAM_SAMPLE);
    size_t n1 = 0, n1_first = 0;
    for (size_t i = 0; i < 1001; i++) {
        n1 += c[i];
        n1_first += i < 300 ? c[i] : 0;
    }
    /* 300.3 and 700.7: the larger remainder gets the extra row */
    CHECK(n1 == 701);
    /* shuffled: 300 first rows with 70% of class 1 expected, not 0 */
    CHECK(n1_first > 150 && n1_first < 270);
    free(c);
    ch_syn_model *m = ch_test_syn_toy();
    m->prop = malloc(2 * sizeof *m->prop);
    m->prop[0] = 0.5;
    m->prop[1] = 0.5;
    ch_err err;
    ch_err_clear(&err);
    ch_table *t = ch_syn_generate(m, 4000, 0, CH_SYN_STREAM_SAMPLE, &err);
    ch_table *u = ch_syn_generate(m, 4000, 0, CH_SYN_STREAM_SAMPLE, &err);
    CHECK(t && u);
    size_t yes = 0, x2_yes = 0, x0_no = 0;
    for (size_t i = 0; t && i < 4000; i++) {
        bool y = t->cols[0].values[i] == 1;
        yes += y;
        x2_yes += y && t->cols[1].values[i] >= 2;
        x0_no += !y && t->cols[1].values[i] < 1;
    }
    /* exactly half, though the model puts 5% in the class */
    CHECK(yes == 2000);
    /* each class from its exact conditional: P(x in cell 2 | yes) = 0.8,
     * P(x in cell 0 | no) = 900/950; 2000 draws each, 5 sd */
    CHECK_NEAR((double)x2_yes / 2000, 0.8, 0.045);
    CHECK_NEAR((double)x0_no / 2000, 900.0 / 950, 0.025);
    /* the same seed, the same rows; another seed, others */
    CHECK(t && u && memcmp(t->cols[1].values, u->cols[1].values, 4000 * sizeof(double)) == 0 &&
          memcmp(t->cols[0].values, u->cols[0].values, 4000 * sizeof(double)) == 0);
    m->seed = 10;
    ch_table *v = ch_syn_generate(m, 4000, 0, CH_SYN_STREAM_SAMPLE, &err);
    CHECK(v && memcmp(t->cols[1].values, v->cols[1].values, 4000 * sizeof(double)) != 0);
    /* the proportions survive the protobuf */
    ch_buf b;
    ch_buf_init(&b);
    CHECK(ch_syn_model_pack(m, &b, &err) == 0);
    ch_syn_model *back = ch_syn_model_unpack(b.data, b.len, &err);
    CHECK(back && back->prop && back->prop[0] == 0.5 && back->prop[1] == 0.5);
    ch_syn_model_destroy(&back);
    ch_buf_free(&b);
    ch_table_destroy(&t);
    ch_table_destroy(&u);
    ch_table_destroy(&v);
    ch_syn_model_destroy(&m);
}

/* The utility figures: fit_eval's AUC is the AUC of the logistic fit on the
 * standardised column, and accuracy is the class-weighted recall. */
static void test_fit_eval(void)
{
    ch_syn_model *m = ch_test_syn_toy();
    ch_err err;
    ch_err_clear(&err);
    ch_table *g = ch_syn_generate(m, 600, 0, CH_SYN_STREAM_SAMPLE, &err);
    ch_table *tr = s_rows(g, 0, 400);
    /* held-out rows: a real table, the class as its target */
    ch_table *te = ch_table_new(200);
    double *x = malloc(200 * sizeof *x);
    memcpy(x, g->cols[1].values + 400, 200 * sizeof *x);
    ch_table_add_column(te, "x", CH_COL_NUMERIC, x, NULL, 0);
    te->has_target = true;
    te->target.kind = CH_COL_CATEGORICAL;
    te->target.values = malloc(200 * sizeof(double));
    memcpy(te->target.values, g->cols[0].values + 400, 200 * sizeof(double));
    /* the domain with the class last, as a schema orders it */
    ch_syn_domain d;
    memset(&d, 0, sizeof d);
    d.n_cols = 2;
    d.cols = calloc(2, sizeof *d.cols);
    d.cols[0] = m->dom.cols[1];
    d.cols[1] = m->dom.cols[0];
    d.target = 1;
    ch_table *tr2 = ch_table_new(400);
    double *a = malloc(400 * sizeof *a), *c = malloc(400 * sizeof *c);
    memcpy(a, tr->cols[1].values, 400 * sizeof *a);
    memcpy(c, tr->cols[0].values, 400 * sizeof *c);
    ch_table_add_column(tr2, "x", CH_COL_NUMERIC, a, NULL, 0);
    ch_table_add_column(tr2, "class", CH_COL_NUMERIC, c, NULL, 0);
    ch_syn_fit f;
    memset(&f, 0, sizeof f);
    CHECK(ch_syn_fit_eval(&d, tr2, 400, te, &f, &err) == 0);
    CHECK(f.done && f.k == 2);
    /* the same fit by hand: x standardised over the training rows */
    double mu = 0, ss = 0, X[400], w[2], p[200], y[400];
    for (int i = 0; i < 400; i++) {
        mu += a[i] / 400;
    }
    for (int i = 0; i < 400; i++) {
        ss += (a[i] - mu) * (a[i] - mu) / 400;
    }
    for (int i = 0; i < 400; i++) {
        X[i] = (a[i] - mu) / sqrt(ss);
        y[i] = c[i];
    }
    CHECK(ch_syn_logit_fit(X, y, 400, 1, 1.0, w) == 0);
    double n_yes = 0, hit_yes = 0, n_no = 0, hit_no = 0;
    for (int i = 0; i < 200; i++) {
        p[i] = 1 / (1 + exp(-(w[0] + w[1] * (x[i] - mu) / sqrt(ss))));
        bool yy = te->target.values[i] == 1;
        n_yes += yy;
        n_no += !yy;
        hit_yes += yy && p[i] > 0.5;
        hit_no += !yy && !(p[i] > 0.5);
    }
    CHECK_NEAR(f.auc, ch_metric_auc(te->target.values, p, 200), 1e-12);
    CHECK(f.auc > 0.85); /* x in cell 2 is mostly "yes" */
    CHECK_NEAR(f.recall[1], hit_yes / n_yes, 1e-12);
    CHECK_NEAR(f.recall[0], hit_no / n_no, 1e-12);
    CHECK_NEAR(f.accuracy, (hit_yes + hit_no) / 200, 1e-12);
    ch_syn_fit_clear(&f);
    free(d.cols);
    ch_table_destroy(&g);
    ch_table_destroy(&tr);
    ch_table_destroy(&tr2);
    ch_table_destroy(&te);
    ch_syn_model_destroy(&m);
}

int main(void)
{
    test_logit();
    test_logit_onehot();
    test_dcr();
    test_mia();
    test_proportions();
    test_fit_eval();
    printf("%d passed, %d failed\n", ch_t_pass, ch_t_fail);
    return ch_t_fail != 0;
}
