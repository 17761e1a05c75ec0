/* test_linear.c: exact linear regression by a tree of QR factors against
 * R's lm() on the wine data (data/wine.csv, target alcohol, the class
 * column "target" a factor). Leaves are built from blocks of rows with the
 * design matrix (design.h), combined over the reduction tree (reduce.h)
 * with ch_qr_combine and solved by ch_qr_solve.
 *
 * Reference numbers: R 4.2 on this machine,
 *   d <- read.csv("data/wine.csv", check.names = FALSE)
 *   d$target <- factor(d$target)
 *   summary(lm(alcohol ~ ., data = d))
 * printed with sprintf("%.20g"). Tolerance: 1e-9 relative (QR by a
 * different route than R's LINPACK dqrdc2, same problem conditioning). */
#include "algorithms/algo.h"
#include "algorithms/linear/collin.h"
#include "algorithms/linear/design.h"
#include "algorithms/linear/penalized.h"
#include "algorithms/linear/qr.h"
#include "algorithms/linear/quantile.h"
#include "algorithms/linear/robust.h"
#include "algorithms/linear/stats.h"
#include "common/reduce.h"
#include "proto/linear.pb-c.h"
#include "tests/check.h"

#include <stdint.h>

#define P    15 /* design columns: intercept, 12 numeric, 2 dummies */
#define RTOL 1e-9

static const char *const r_names[P] = {
    "(Intercept)",     "malic_acid",      "ash",          "alcalinity_of_ash",
    "magnesium",       "total_phenols",   "flavanoids",   "nonflavanoid_phenols",
    "proanthocyanins", "color_intensity", "hue",          "od280/od315_of_diluted_wines",
    "proline",         "targetclass_1",   "targetclass_2"};

/* lm(alcohol ~ ., data = d) */
static const double r_coef[P] = {
    12.88977427676312537130, 0.07452708342680579301,  -0.28579929668389020270,
    0.00438467271681282616,  -0.00010023831584863975, 0.09876381108798387709,
    -0.05049907817933395326, -0.03729038628961191260, -0.06711469732734642868,
    0.12430051970762479030,  0.35216324999472814472,  0.03077498512360257385,
    0.00017290373668199589,  -1.11901234005005068006, -0.72464698431733365336};
static const double r_se[P] = {
    0.65209651691909209514, 0.04373765110677461238, 0.21298133504019867157, 0.01808542083397985875,
    0.00307920439545119598, 0.12450652764394759542, 0.11526206681195910742, 0.40476486370426917327,
    0.09121962098836056132, 0.03001015236776490361, 0.26305234633198198990, 0.10908206319111782290,
    0.00023804824828354551, 0.19779977146717689362, 0.29777550433421590137};
static const double r_sigma = 0.49121972093482624;
static const double r_r2 = 0.66283736585482678;
static const double r_adj_r2 = 0.63387861200186713;
static const double r_df = 163;

/* Weighted: i <- 0:(nrow(d) - 1); w <- 0.5 + ((i * 37) %% 11) / 10
 * summary(lm(alcohol ~ ., data = d, weights = w)) */
static const double rw_coef[P] = {
    12.953164937389855638,     0.058636422891684074343,   -0.32042458397693551753,
    0.0064109268930997590288,  0.00066976551078563515123, 0.12546530314045570287,
    -0.017842725641984798907,  0.10463311903512260981,    -0.056726521920325442827,
    0.12019977939126184896,    0.23605797293873762022,    -0.0083125680967253475634,
    0.00014687610277498293582, -1.0873423798287906727,    -0.73093558146518122776};
static const double rw_se[P] = {
    0.66162620392115734091,    0.043693713922158837482,  0.21216342486040851156,
    0.018167339135730500854,   0.0032178218800371898717, 0.12416835671294775001,
    0.12063112623770479159,    0.41162133358323710342,   0.094864084748430443916,
    0.029713957021228892819,   0.26245706609316532543,   0.11307870902997715912,
    0.00024064392647409388781, 0.1996394816576276543,    0.30541616988723213622};
static const double rw_sigma = 0.49409034337308366;
static const double rw_r2 = 0.65104666553631196;
static const double rw_adj_r2 = 0.62107521349648609;

/* summary(lm(alcohol ~ ., data = d)): Pr(>|t|), confint(), the F
 * statistic with its degrees of freedom and p-value, logLik, AIC, BIC. */
static const double r_p[P] = {3.8447525126851708e-45, 0.090294660520153322,   0.18149525664730051,
                              0.80874217256537817,    0.97407062533119948,    0.42878997510912098,
                              0.66187645543391693,    0.92670906181305779,    0.46294118913311266,
                              5.5155820853606925e-05, 0.1825138443146764,     0.77820409866192808,
                              0.46867267137404411,    6.7552194401872013e-08, 0.016032703720057131};
static const double r_ci_low[P] = {
    11.602128439208281,      -0.011838359311867802, -0.70635748466055126, -0.031327244542501721,
    -0.0061805111280943993,  -0.14708984386878343,  -0.27809839316969764, -0.83654905186215367,
    -0.24723920684618267,    0.065041733963284387,  -0.16726638967537277, -0.18462114255938669,
    -0.00029715219535660553, -1.5095926388106569,   -1.3126418266963507};
static const double r_ci_high[P] = {
    14.17742011431797,      0.16089252616547939,  0.13475889129277085, 0.040096589976127368,
    0.00598003449639712,    0.34461746604475119,  0.17710023681102977, 0.76196827928292987,
    0.11300981219148981,    0.18355930545196519,  0.87159288966482906, 0.24617111280659185,
    0.00064295966872059726, -0.72843204128944439, -0.13665214193831665};
static const double r_fstat[] = {
    22.889015501856026, 14, 163, 1.5214945898382489e-31, -118.20234251018984, 268.4046850203797,
    319.31322182505301};

/* scikit-learn 1.2 (Debian), X = the 12 numeric columns and the two
 * dummies in design order, y = alcohol, tol = 1e-14:
 *   Lasso(alpha = 0.01), ElasticNet(alpha = 0.02, l1_ratio = 0.5),
 *   Ridge(alpha = 0.5 * 178, solver = "cholesky")
 * as [intercept_, coef_...]. Our objective is sklearn's ElasticNet one
 * (1/(2n) RSS + lambda (l1_ratio |b|_1 + (1 - l1_ratio)/2 |b|^2)), so
 * lambda = alpha for lasso and elastic net, and lambda = 0.5 is Ridge's
 * alpha = 0.5 n. Tolerance 1e-7 relative (coordinate descent stopped at
 * different points), exact zeros where sklearn has them. */
static const double sk_lasso[P] = {12.407349351421718,
                                   0.038028453286016221,
                                   -0,
                                   -0.023043665805009717,
                                   -0.00080690179380463417,
                                   0,
                                   0.063552214823993938,
                                   -0,
                                   -0,
                                   0.08546804942097197,
                                   0,
                                   0.094697897707560763,
                                   0.00064347670184514746,
                                   -0.62850020874265522,
                                   -0.01619704701049117};
static const double sk_enet[P] = {12.282281284064053,
                                  0.045977243138761469,
                                  -0,
                                  -0.024201932718435119,
                                  -0.00066871294801677209,
                                  0.0013524173450868032,
                                  0.060586837444547022,
                                  -0,
                                  -0.0054377854201844017,
                                  0.091685866271145458,
                                  0,
                                  0.094787564538894822,
                                  0.00071847074055104174,
                                  -0.54127036749281632,
                                  -0};
static const double sk_ridge[P] = {
    11.786886661172131,      0.070921547248452385, 0.012705053765612167,  -0.027614222609497582,
    -5.9493999834204485e-05, 0.02363951721474471,  0.028002326136196458,  -0.0033979294420478688,
    -0.025943392194466348,   0.11419857819648112,  0.0016610015122638989, 0.037357294866995204,
    0.0011433499004858095,   -0.10191620800244362, 0.013243518590794204};

/* model.standardize (the default): sklearn on the columns scaled to unit
 * (1/n) variance, X.std(0), coefficients divided back and the intercept
 * recomputed: Lasso(alpha = 0.01), Ridge(alpha = 0.5 * 178). */
static const double sk_lasso_std[P] = {12.818204674609941,
                                       0.04428426985046198,
                                       -0.1725513825473077,
                                       -0.0029780981844152706,
                                       -0,
                                       0.057205863567569147,
                                       0,
                                       -0,
                                       -0.012739434348064745,
                                       0.097992037139322183,
                                       0.21938683177616289,
                                       0.025041399757567171,
                                       0.00026145890107704333,
                                       -1.0134002604945671,
                                       -0.4740671181639714};
static const double sk_ridge_std[P] = {
    12.204458676341639,     0.041609881987453516, 0.054214787760473983, -0.023287659761679142,
    0.0010975285406584453,  0.08317467173931796,  0.046442354461748776, -0.11832665295011964,
    -0.017580880259387973,  0.068518209135093947, 0.048550038692173225, 0.042551079350668125,
    0.00050830977391799976, -0.47557124806471823, 0.024730525025644261};

/* The weights above, by 0-based row index. */
static double s_weight(size_t i)
{
    return 0.5 + (double)((i * 37) % 11) / 10.0;
}

typedef struct fit_ctx {
    const ch_table *t;
    const ch_design *d;
    size_t m;                 /* p + 1 */
    const size_t *block_rows; /* n_blocks + 1 offsets into rows 0..n */
    size_t folds;             /* leaves go to slot b mod folds (0 means 1) */
} fit_ctx;

/* Leaf of block b: the weighted rows [x y] of the block, factored. */
static int s_leaf(void *vctx, size_t b, double *out, ch_err *err)
{
    const fit_ctx *c = vctx;
    size_t lo = c->block_rows[b], hi = c->block_rows[b + 1], rows = hi - lo, p = c->m - 1;
    out += c->folds > 1 ? (b % c->folds) * ch_qr_node_len(p) : 0;
    double *a = calloc((rows ? rows : 1) * c->m, sizeof *a);
    double *x = malloc(p * sizeof *x);
    if (!a || !x) {
        free(a);
        free(x);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    /* count the complete rows first: they are the leading dimension */
    size_t used = 0;
    for (size_t i = lo; i < hi; i++) {
        used += !isnan(c->t->target.values[i]) && ch_design_row(c->d, c->t, i, x, 1);
    }
    size_t k = 0;
    double sum_w = 0;
    for (size_t i = lo; i < hi; i++) {
        if (isnan(c->t->target.values[i]) || !ch_design_row(c->d, c->t, i, a + k, used)) {
            continue;
        }
        double w = c->t->weights ? c->t->weights[i] : 1.0;
        double sw = sqrt(w);
        for (size_t j = 0; j < p; j++) {
            a[j * used + k] *= sw;
        }
        a[p * used + k] = c->t->target.values[i] * sw;
        sum_w += w;
        k++;
    }
    out[0] = (double)used;
    out[1] = sum_w;
    int rc = ch_qr_leaf(a, used, c->m, out);
    free(a);
    free(x);
    return rc == 0 ? 0 : ch_err_set(err, rc, "leaf %zu failed", b);
}

/* Fits with the rows cut into n_blocks blocks at block_rows, reduced by
 * `workers` workers owning contiguous block ranges. Returns 0 or the error. */
static int s_fit_blocks_root(const ch_table *t, const ch_design *d, const size_t *block_rows,
                             size_t n_blocks, size_t workers, ch_ols *out, double **root_out);

static int s_fit_blocks(const ch_table *t, const ch_design *d, const size_t *block_rows,
                        size_t n_blocks, size_t workers, ch_ols *out)
{
    return s_fit_blocks_root(t, d, block_rows, n_blocks, workers, out, NULL);
}

/* The same, handing back the root node when root_out is not NULL. */
static int s_fit_blocks_root(const ch_table *t, const ch_design *d, const size_t *block_rows,
                             size_t n_blocks, size_t workers, ch_ols *out, double **root_out)
{
    ch_err err = {0};
    size_t m = d->p + 1, len = ch_qr_node_len(d->p);
    fit_ctx c = {t, d, m, block_rows, 1};
    ch_reduce *r = ch_reduce_new(n_blocks, len, ch_qr_combine, &m);
    int rc = r ? 0 : CH_ENOMEM;
    for (size_t w = 0; w < workers && rc == 0; w++) {
        ch_buf part;
        ch_buf_init(&part);
        rc = ch_reduce_range(n_blocks, w * n_blocks / workers, (w + 1) * n_blocks / workers, len,
                             s_leaf, &c, ch_qr_combine, &m, &part, &err);
        if (rc == 0) {
            rc = ch_reduce_add(r, part.data, part.len, &err);
        }
        ch_buf_free(&part);
    }
    double *root = malloc(len * sizeof *root);
    if (rc == 0) {
        rc = ch_reduce_finish(r, root, &err);
    }
    if (rc == 0) {
        rc = ch_qr_solve(root, d->p, true, out, &err);
    }
    if (rc != 0) {
        fprintf(stderr, "fit failed: %s\n", err.msg);
    }
    if (rc == 0 && root_out) {
        *root_out = root;
    } else {
        free(root);
    }
    ch_reduce_destroy(&r);
    return rc;
}

/* Fits with n_blocks even blocks. */
static int s_fit(const ch_table *t, const ch_design *d, size_t n_blocks, size_t workers,
                 ch_ols *out)
{
    size_t *bb = malloc((n_blocks + 1) * sizeof *bb);
    for (size_t b = 0; b <= n_blocks; b++) {
        bb[b] = b * t->n_rows / n_blocks;
    }
    int rc = s_fit_blocks(t, d, bb, n_blocks, workers, out);
    free(bb);
    return rc;
}

static ch_table *s_wine(void)
{
    ch_err err = {0};
    ch_table *t = ch_table_read(ch_test_path("data/wine.csv"), CH_FORMAT_AUTO, &err);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        CHECK(t != NULL);
        return NULL;
    }
    CHECK(ch_table_set_target(t, "alcohol", NULL, &err) == 0);
    CHECK(t->n_rows == 178);
    return t;
}

static ch_design *s_design(const ch_table *t)
{
    ch_schema *s = ch_schema_from_table(t, NULL);
    ch_design *d = s ? ch_design_new(s, true) : NULL;
    ch_schema_destroy(&s);
    CHECK(d != NULL);
    return d;
}

static void s_check_against(const ch_ols *o, const double *coef, const double *se, double sigma,
                            double r2, double adj)
{
    for (size_t j = 0; j < P; j++) {
        CHECK(!o->aliased[j]);
        CHECK_REL(o->coef[j], coef[j], RTOL, 0.0);
        CHECK_REL(o->std_error[j], se[j], RTOL, 0.0);
        CHECK_REL(o->t_value[j], coef[j] / se[j], RTOL, 0.0);
    }
    CHECK_REL(o->sigma, sigma, RTOL, 0.0);
    CHECK_REL(o->r_squared, r2, RTOL, 0.0);
    CHECK_REL(o->adj_r_squared, adj, RTOL, 0.0);
    CHECK(o->df_residual == r_df);
    CHECK(o->n == 178);
}

static void test_ols_matches_r(void)
{
    ch_table *t = s_wine();
    if (!t) {
        return;
    }
    ch_design *d = s_design(t);
    CHECK(d->p == P);
    for (size_t j = 0; j < P && j < d->p; j++) {
        CHECK_STR(d->names[j], r_names[j]);
    }
    ch_ols o;
    if (s_fit(t, d, 1, 1, &o) == 0) {
        CHECK(o.p == P && o.rank == P);
        s_check_against(&o, r_coef, r_se, r_sigma, r_r2, r_adj_r2);
        ch_ols_free(&o);
    } else {
        CHECK(!"fit");
    }
    ch_design_destroy(&d);
    CHECK(d == NULL);
    ch_table_destroy(&t);
}

/* Max over coefficients and standard errors of the relative difference. */
static double s_max_rel(const ch_ols *a, const ch_ols *b)
{
    double worst = 0;
    for (size_t j = 0; j < a->p; j++) {
        double dc = fabs(a->coef[j] - b->coef[j]) / fabs(b->coef[j]);
        double ds = fabs(a->std_error[j] - b->std_error[j]) / fabs(b->std_error[j]);
        worst = dc > worst ? dc : worst;
        worst = ds > worst ? ds : worst;
    }
    double dr = fabs(a->rss - b->rss) / b->rss;
    return dr > worst ? dr : worst;
}

/* The answer hardly depends on how rows are cut into blocks: every cut is
 * an exact factorisation, only the rounding differs. */
static void test_blocking(void)
{
    ch_table *t = s_wine();
    if (!t) {
        return;
    }
    ch_design *d = s_design(t);
    ch_ols base;
    if (s_fit(t, d, 1, 1, &base) != 0) {
        CHECK(!"fit");
        return;
    }
    /* even blocks of many rows, of fewer rows than columns (a leaf of 2 rows
     * has a trapezoidal R), one row each; several workers */
    const size_t blocks[] = {2, 7, 16, 64, 100, 178};
    const size_t workers[] = {1, 3, 5, 2, 7, 4};
    for (size_t q = 0; q < sizeof blocks / sizeof blocks[0]; q++) {
        ch_ols o;
        if (s_fit(t, d, blocks[q], workers[q], &o) == 0) {
            double rel = s_max_rel(&o, &base);
            CHECK(rel < 1e-12);
            if (rel >= 1e-12) {
                fprintf(stderr, "%zu blocks: relative difference %g\n", blocks[q], rel);
            }
            /* the block tree alone fixes the bits: other worker counts agree exactly */
            ch_ols o1;
            if (s_fit(t, d, blocks[q], 1, &o1) == 0) {
                CHECK(memcmp(o.coef, o1.coef, P * sizeof *o.coef) == 0);
                CHECK(memcmp(o.std_error, o1.std_error, P * sizeof *o.std_error) == 0);
                ch_ols_free(&o1);
            }
            /* and still R's answer */
            s_check_against(&o, r_coef, r_se, r_sigma, r_r2, r_adj_r2);
            ch_ols_free(&o);
        } else {
            CHECK(!"fit");
        }
    }
    /* uneven blocks, including empty ones (a leaf with no rows) */
    const size_t uneven[] = {0, 0, 1, 40, 41, 41, 90, 177, 178, 178};
    ch_ols o;
    if (s_fit_blocks(t, d, uneven, 9, 3, &o) == 0) {
        CHECK(s_max_rel(&o, &base) < 1e-12);
        ch_ols_free(&o);
    } else {
        CHECK(!"fit");
    }
    ch_ols_free(&base);
    ch_design_destroy(&d);
    ch_table_destroy(&t);
}

/* A column that is a linear combination of others: R reports it NA and
 * the rest unchanged. Rscript, with d2 <- d; d2$alias <- 2 * d2$malic_acid +
 * d2$ash: coef(lm(alcohol ~ ., d2)) gives the 15 numbers above and NA for
 * alias, with the same standard errors, sigma, R^2 and 163 df. */
static void test_aliased(void)
{
    ch_table *t = s_wine();
    if (!t) {
        return;
    }
    long malic = ch_table_find(t, "malic_acid"), ash = ch_table_find(t, "ash");
    CHECK(malic >= 0 && ash >= 0);
    double *alias = malloc(t->n_rows * sizeof *alias);
    double *dup = malloc(t->n_rows * sizeof *dup);
    for (size_t i = 0; i < t->n_rows; i++) {
        alias[i] = 2 * t->cols[malic].values[i] + t->cols[ash].values[i];
        dup[i] = t->cols[ash].values[i];
    }
    CHECK(ch_table_add_column(t, "alias", CH_COL_NUMERIC, alias, NULL, 0) == 0);
    ch_design *d = s_design(t);
    CHECK(d->p == P + 1);
    CHECK_STR(d->names[P], "alias");
    ch_ols o;
    for (size_t blocks = 1; blocks <= 16; blocks += 15) {
        if (s_fit(t, d, blocks, 2, &o) != 0) {
            CHECK(!"fit");
            continue;
        }
        CHECK(o.rank == P);
        CHECK(o.aliased[P]);
        CHECK(isnan(o.coef[P]) && isnan(o.std_error[P]) && isnan(o.t_value[P]));
        for (size_t j = 0; j < P; j++) {
            CHECK(!o.aliased[j]);
            CHECK_REL(o.coef[j], r_coef[j], RTOL, 0.0);
            CHECK_REL(o.std_error[j], r_se[j], RTOL, 0.0);
        }
        CHECK_REL(o.sigma, r_sigma, RTOL, 0.0);
        CHECK_REL(o.r_squared, r_r2, RTOL, 0.0);
        CHECK_REL(o.adj_r_squared, r_adj_r2, RTOL, 0.0);
        CHECK(o.df_residual == r_df);
        ch_ols_free(&o);
    }
    ch_design_destroy(&d);

    /* a duplicate column as well: R gives NA for both (same fit) */
    CHECK(ch_table_add_column(t, "ash_again", CH_COL_NUMERIC, dup, NULL, 0) == 0);
    d = s_design(t);
    CHECK(d->p == P + 2);
    if (s_fit(t, d, 7, 3, &o) == 0) {
        CHECK(o.rank == P);
        CHECK(o.aliased[P] && o.aliased[P + 1]);
        CHECK(isnan(o.coef[P + 1]));
        for (size_t j = 0; j < P; j++) {
            CHECK(!o.aliased[j]);
            CHECK_REL(o.coef[j], r_coef[j], RTOL, 0.0);
            CHECK_REL(o.std_error[j], r_se[j], RTOL, 0.0);
        }
        CHECK_REL(o.sigma, r_sigma, RTOL, 0.0);
        ch_ols_free(&o);
    } else {
        CHECK(!"fit");
    }
    ch_design_destroy(&d);
    ch_table_destroy(&t);
}

static void test_weighted(void)
{
    ch_table *t = s_wine();
    if (!t) {
        return;
    }
    ch_err err = {0};
    double *w = malloc(t->n_rows * sizeof *w);
    for (size_t i = 0; i < t->n_rows; i++) {
        w[i] = s_weight(i);
    }
    CHECK(ch_table_add_column(t, "w", CH_COL_NUMERIC, w, NULL, 0) == 0);
    CHECK(ch_table_set_weights(t, "w", &err) == 0);
    ch_design *d = s_design(t);
    CHECK(d->p == P);
    const size_t blocks[] = {1, 9, 178};
    for (size_t q = 0; q < 3; q++) {
        ch_ols o;
        if (s_fit(t, d, blocks[q], 2, &o) != 0) {
            CHECK(!"fit");
            continue;
        }
        CHECK(o.rank == P);
        for (size_t j = 0; j < P; j++) {
            CHECK_REL(o.coef[j], rw_coef[j], RTOL, 0.0);
            CHECK_REL(o.std_error[j], rw_se[j], RTOL, 0.0);
        }
        CHECK_REL(o.sigma, rw_sigma, RTOL, 0.0);
        CHECK_REL(o.r_squared, rw_r2, RTOL, 0.0);
        CHECK_REL(o.adj_r_squared, rw_adj_r2, RTOL, 0.0);
        CHECK(o.df_residual == r_df);
        ch_ols_free(&o);
    }
    ch_design_destroy(&d);
    ch_table_destroy(&t);
}

/* The solve's own failures: no rows, non-finite factors. */
static void test_solve_errors(void)
{
    ch_err err = {0};
    size_t p = 2, len = ch_qr_node_len(p);
    CHECK(len == 2 + 9);
    double *node = calloc(len, sizeof *node);
    ch_ols o;
    CHECK(ch_qr_solve(node, p, true, &o, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "no complete rows");
    CHECK(o.coef == NULL);
    node[0] = 3;
    node[5] = INFINITY;
    CHECK(ch_qr_solve(node, p, true, &o, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "infinite");

    /* a tiny exact fit: y = 1 + 2x on x = 0, 1, 2, 3 */
    double a[4 * 3] = {1, 1, 1, 1, 0, 1, 2, 3, 1, 3, 5, 7};
    node[0] = 4;
    node[1] = 4;
    CHECK(ch_qr_leaf(a, 4, 3, node) == 0);
    CHECK(ch_qr_solve(node, p, true, &o, &err) == 0);
    CHECK_NEAR(o.coef[0], 1.0, 1e-12);
    CHECK_NEAR(o.coef[1], 2.0, 1e-12);
    CHECK_NEAR(o.rss, 0.0, 1e-20);
    CHECK_NEAR(o.r_squared, 1.0, 1e-12);
    ch_ols_free(&o);
    ch_ols_free(&o); /* twice is harmless */
    free(node);
}

/* summary.lm's inference from the fit: t tails, qt intervals, the F test. */
static void test_inference_matches_r(void)
{
    ch_table *t = s_wine();
    if (!t) {
        return;
    }
    ch_design *d = s_design(t);
    ch_ols o;
    if (s_fit(t, d, 4, 2, &o) == 0) {
        double q = ch_stat_qt(0.975, o.df_residual);
        for (size_t j = 0; j < P; j++) {
            /* 1e-7: p-values near 1 and 1e-45 amplify the 1e-9 of t */
            CHECK_REL(ch_stat_t_two_sided(o.t_value[j], o.df_residual), r_p[j], 1e-7, 0.0);
            CHECK_REL(o.coef[j] - q * o.std_error[j], r_ci_low[j], 1e-9, 0.0);
            CHECK_REL(o.coef[j] + q * o.std_error[j], r_ci_high[j], 1e-9, 0.0);
            CHECK_REL(o.cov_unscaled[j * P + j] * o.sigma * o.sigma, r_se[j] * r_se[j], 1e-9, 0.0);
        }
        double df1 = (double)o.rank - 1;
        double f = ((o.tss - o.rss) / df1) / (o.rss / o.df_residual);
        CHECK_REL(f, r_fstat[0], 1e-9, 0.0);
        CHECK(df1 == r_fstat[1] && o.df_residual == r_fstat[2]);
        CHECK_REL(ch_stat_pf_upper(f, df1, o.df_residual), r_fstat[3], 1e-7, 0.0);
        double ll = -0.5 * o.n * (log(2 * M_PI) + 1 - log(o.n) + log(o.rss));
        CHECK_REL(ll, r_fstat[4], 1e-10, 0.0);
        CHECK_REL(-2 * ll + 2 * (P + 1), r_fstat[5], 1e-10, 0.0);
        CHECK_REL(-2 * ll + log(o.n) * (P + 1), r_fstat[6], 1e-10, 0.0);
        ch_ols_free(&o);
    } else {
        CHECK(!"fit");
    }
    ch_design_destroy(&d);
    ch_table_destroy(&t);
}

/* The K fold nodes of a fit with n_blocks even blocks and `workers`
 * workers (block b in fold b mod K). Returns a malloc'd K * node_len. */
static double *s_fold_nodes(const ch_table *t, const ch_design *d, size_t n_blocks, size_t k,
                            size_t workers)
{
    ch_err err = {0};
    size_t m = d->p + 1, len = k * ch_qr_node_len(d->p);
    size_t *bb = malloc((n_blocks + 1) * sizeof *bb);
    for (size_t b = 0; b <= n_blocks; b++) {
        bb[b] = b * t->n_rows / n_blocks;
    }
    fit_ctx c = {t, d, m, bb, k};
    ch_pen_ctx pc = {m, k};
    ch_reduce *r = ch_reduce_new(n_blocks, len, ch_pen_combine, &pc);
    double *root = malloc(len * sizeof *root);
    int rc = 0;
    for (size_t w = 0; w < workers && rc == 0; w++) {
        ch_buf part;
        ch_buf_init(&part);
        rc = ch_reduce_range(n_blocks, w * n_blocks / workers, (w + 1) * n_blocks / workers, len,
                             s_leaf, &c, ch_pen_combine, &pc, &part, &err);
        if (rc == 0) {
            rc = ch_reduce_add(r, part.data, part.len, &err);
        }
        ch_buf_free(&part);
    }
    if (rc == 0) {
        rc = ch_reduce_finish(r, root, &err);
    }
    CHECK(rc == 0);
    ch_reduce_destroy(&r);
    free(bb);
    return root;
}

static void s_check_pen(const ch_pen_fit *f, const double *ref, double tol)
{
    for (size_t j = 0; j < P; j++) {
        if (ref[j] == 0) {
            CHECK(f->coef[j] == 0);
        } else {
            CHECK_REL(f->coef[j], ref[j], tol, 0.0);
        }
    }
}

static void test_penalized_matches_sklearn(void)
{
    ch_table *t = s_wine();
    if (!t) {
        return;
    }
    ch_design *d = s_design(t);
    ch_err err = {0};
    double *node = s_fold_nodes(t, d, 8, 1, 3);
    ch_pen_opts o = {CH_PEN_LASSO, 0.01, 1, 5, 100, 1e-3, true, false};
    ch_pen_fit f;
    CHECK(ch_pen_fit_nodes(node, 1, P, &o, &f, &err) == 0);
    s_check_pen(&f, sk_lasso, 1e-7);
    CHECK(f.nonzero == 9);
    ch_pen_fit_free(&f);
    o.kind = CH_PEN_ELASTICNET;
    o.lambda = 0.02;
    o.l1_ratio = 0.5;
    CHECK(ch_pen_fit_nodes(node, 1, P, &o, &f, &err) == 0);
    s_check_pen(&f, sk_enet, 1e-7);
    ch_pen_fit_free(&f);
    o.kind = CH_PEN_RIDGE;
    o.lambda = 0.5;
    CHECK(ch_pen_fit_nodes(node, 1, P, &o, &f, &err) == 0);
    s_check_pen(&f, sk_ridge, 1e-9);
    ch_pen_fit_free(&f);
    o.standardize = true;
    CHECK(ch_pen_fit_nodes(node, 1, P, &o, &f, &err) == 0);
    s_check_pen(&f, sk_ridge_std, 1e-9);
    ch_pen_fit_free(&f);
    o.kind = CH_PEN_LASSO;
    o.lambda = 0.01;
    CHECK(ch_pen_fit_nodes(node, 1, P, &o, &f, &err) == 0);
    s_check_pen(&f, sk_lasso_std, 1e-7);
    ch_pen_fit_free(&f);
    free(node);

    /* cross-validation: 5 folds of 16 blocks; identical for 1 and 4
     * workers; the choice is inside the grid and better than both ends */
    o.kind = CH_PEN_LASSO;
    o.lambda = 0;
    double *n1 = s_fold_nodes(t, d, 16, 5, 1), *n4 = s_fold_nodes(t, d, 16, 5, 4);
    ch_pen_fit f1, f4;
    CHECK(ch_pen_fit_nodes(n1, 5, P, &o, &f1, &err) == 0);
    CHECK(ch_pen_fit_nodes(n4, 5, P, &o, &f4, &err) == 0);
    CHECK(memcmp(f1.coef, f4.coef, P * sizeof(double)) == 0);
    CHECK(f1.lambda == f4.lambda && f1.n_path == 100);
    CHECK(f1.path_cv[f1.best] < f1.path_cv[0]);
    CHECK(f1.path_cv[f1.best] <= f1.path_cv[99]);
    printf("# lasso CV: lambda %g (index %zu), mse %g (at lambda max %g, at min %g)\n", f1.lambda,
           f1.best, f1.path_cv[f1.best], f1.path_cv[0], f1.path_cv[99]);
    ch_pen_fit_free(&f1);
    ch_pen_fit_free(&f4);
    /* an empty fold is an error */
    memset(n1, 0, ch_qr_node_len(P) * sizeof *n1);
    CHECK(ch_pen_fit_nodes(n1, 5, P, &o, &f1, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "fold 1 has no rows");
    free(n1);
    free(n4);
    ch_design_destroy(&d);
    ch_table_destroy(&t);
}

/* The report's diagnostics, R 4.2 with car 3.1 and sandwich 3.0 (Debian's
 * r-cran-car, r-cran-sandwich) on the same fits:
 *   X <- model.matrix(fit); diag(solve(cor(X[, -1])))   (= car::vif(fit)'s
 *     GVIF for every one-column term; the factor `target` gets one GVIF of
 *     42.89 there, per column here)
 *   kappa(fit, exact = TRUE);  kappa of sweep(X, 2, sqrt(colSums(X^2)), "/")
 *   quantile(resid(fit))                 (summary.lm's Residuals)
 *   sqrt(diag(sandwich::vcovHC(fit, type = "HC0" .. "HC3")))
 * and for the weighted fit fw: diag(solve(cov2cor(vcov(fw)[-1, -1]))),
 * kappa(fw, exact = TRUE), quantile(sqrt(w) * resid(fw)), vcovHC(fw).
 * Tolerances: 1e-9 relative for VIF, kappa and the HC errors (the same
 * conditioning as the coefficients); 1e-10 absolute for the quantiles (R's
 * residuals are qr.resid, ours y - X b: they differ in the last bits). */
static const double r_vif[P - 1] = {1.7512676917846175, 2.5043540683209065, 2.6758292519516385,
                                    1.4187509889589975, 4.4539761748202293, 9.7230514575298379,
                                    1.861402979699694,  1.9995627111239218, 3.5505207589271888,
                                    2.6518590985624284, 4.3998042390252854, 4.1220911944076297,
                                    6.9202551464259798, 12.882226684085385};
static const double r_kappa = 15381.82311679861, r_kappa_scaled = 68.629213769535411;
/* car::vif(fit): GVIF per term (the 12 numeric columns, then the factor
 * target with 2 df); 1e-9 relative */
static const double r_gvif[13] = {1.7512676917846162, 2.5043540683208971, 2.6758292519516309,
                                  1.4187509889589962, 4.4539761748202267, 9.7230514575298219,
                                  1.861402979699694,  1.9995627111239194, 3.5505207589271799,
                                  2.651859098562424,  4.3998042390252747, 4.1220911944076173,
                                  42.890719676277165};
static const double r_resid_q[5] = {-1.2864401927458369, -0.32081736837151642,
                                    -0.019684375291580819, 0.3213000806034228, 1.5579822910725947};
static const double r_hc[4][P] = {
    {0.67248194726000321, 0.040208186390574337, 0.19541590723805369, 0.018118772790438505,
     0.0027996625307882823, 0.1318916450568097, 0.11836265170483425, 0.42164879535314903,
     0.1018607120305132, 0.029171070711534651, 0.33572944862095683, 0.095657025479822161,
     0.00021075191296505616, 0.18290556821565473, 0.27890232864195957},
    {0.70274348683691434, 0.04201754592613953, 0.20420958004208645, 0.018934113577080049,
     0.0029256467283156821, 0.13782674004783496, 0.12368894497348762, 0.44062289831618756,
     0.10644442164679795, 0.030483762471413857, 0.35083719989656525, 0.099961570567103447,
     0.00022023570265052508, 0.19113627851790435, 0.29145287202927872},
    {0.73519367479355691, 0.042495541696773602, 0.20670113697961867, 0.019252643838442295,
     0.0030247585807637268, 0.14273942038542528, 0.13702283792787978, 0.45430450325432198,
     0.11074850165685211, 0.030818215038283157, 0.3592699028331568, 0.10138167153830832,
     0.00022248489243329383, 0.19673689964511615, 0.30343685541347987},
    {0.81339768463737638, 0.044975308719951403, 0.21903669321274397, 0.020500015929555217,
     0.0032925670020993386, 0.15567260296110558, 0.16099785729175034, 0.49313444855019073,
     0.12118632241967625, 0.032618455010657479, 0.38505640200594843, 0.1080231651317405,
     0.00023522897484107408, 0.21380594821969437, 0.33422186113376301}};
static const double rw_vif[P - 1] = {1.7737294994222861, 2.2681597751447824, 2.5423270342812669,
                                     1.4553335445249154, 4.3151110245765372, 10.284544448376542,
                                     1.8818775435911526, 2.0130494883964061, 3.5565356613322687,
                                     2.6718619084986379, 4.4261342280294134, 4.0911887246425156,
                                     6.9746217960810775, 13.27209248959271};
static const double rw_kappa = 15531.835223691016;
static const double rw_resid_q[5] = {-1.5292705711966448, -0.3195981645802688,
                                     -0.040278981471717198, 0.28518744622403641,
                                     1.8304879561979166};
static const double rw_hc[4][P] = {
    {0.68575559472443748, 0.040616599886364013, 0.20904140046698491, 0.018653654169698646,
     0.0029660451252714534, 0.12951796595576526, 0.11118974011854639, 0.45633527671894208,
     0.10421736992387781, 0.029302201014788296, 0.40947402711699998, 0.097006991123051334,
     0.00022409121083320551, 0.19040267888657345, 0.28182288795050098},
    {0.71661444551482634, 0.042444337939326303, 0.21844821746659732, 0.019493064500650054,
     0.0030995165029205573, 0.13534624590982022, 0.11619325394496674, 0.47687026370706109,
     0.10890712862653694, 0.030620793609444533, 0.42790026818974486, 0.1013722843670707,
     0.00023417526598602608, 0.19897075751847387, 0.29450485586370045},
    {0.73690193279352523, 0.043345572137156688, 0.22445606926830144, 0.020093489260710071,
     0.0031989794229125034, 0.14001646187815778, 0.12177788891442567, 0.49458970015592368,
     0.11248242948401047, 0.031077949537335656, 0.44951547262948188, 0.10233963984612074,
     0.00024017150439268586, 0.2025510985210302, 0.3008262030569796},
    {0.79463193657413289, 0.046334794678053313, 0.24165750672208897, 0.021703124790505558,
     0.0034596740091105086, 0.15173218997515475, 0.13374774585555321, 0.5371099954499724,
     0.12171079610007848, 0.033012591802436667, 0.4943774569599198, 0.10817904599971616,
     0.0002580793861089105, 0.2160475148529083, 0.32197074904647122}};

/* Values cut into blocks for the counting rounds. */
typedef struct qsel_ctx {
    const double *v;
    const size_t *bb; /* n_blocks + 1 offsets */
    const ch_qsel_task_t *task;
} qsel_ctx;

static int s_qsel_leaf(void *vctx, size_t b, double *out, ch_err *err)
{
    const qsel_ctx *c = vctx;
    (void)err;
    ch_qsel_leaf(c->task, c->v + c->bb[b], c->bb[b + 1] - c->bb[b], out);
    return 0;
}

/* The five quantiles of v[0..n) by counting rounds over n_blocks even
 * blocks owned by `workers` workers; *rounds gets the counting rounds
 * after the first (which comes with the count). Returns 0 or the first
 * error. */
static int s_qsel_run(const double *v, size_t n, size_t n_blocks, size_t workers, double *out,
                      size_t *rounds)
{
    ch_err err = {0};
    size_t *bb = malloc((n_blocks + 1) * sizeof *bb);
    double *first = calloc(CH_QSEL_BINS, sizeof *first);
    for (size_t b = 0; b <= n_blocks; b++) {
        bb[b] = b * n / n_blocks;
    }
    for (size_t b = 0; b < n_blocks; b++) {
        ch_qsel_first_leaf(v + bb[b], bb[b + 1] - bb[b], first);
    }
    ch_qsel *q = ch_qsel_new((double)n, first);
    free(first);
    int rc = q ? 0 : CH_ENOMEM;
    *rounds = 0;
    while (rc == 0 && !ch_qsel_done(q) && *rounds < 20) {
        ch_buf task;
        ch_buf_init(&task);
        size_t len = ch_qsel_task(q, &task);
        ch_qsel_task_t t;
        rc = ch_qsel_parse(task.data, task.len, &t, &err);
        ch_buf_free(&task);
        if (rc != 0) {
            break;
        }
        CHECK(t.node_len == len);
        qsel_ctx c = {v, bb, &t};
        ch_reduce *r = ch_reduce_new(n_blocks, len, ch_qsel_combine, &t);
        for (size_t w = 0; w < workers && rc == 0; w++) {
            ch_buf part;
            ch_buf_init(&part);
            rc = ch_reduce_range(n_blocks, w * n_blocks / workers, (w + 1) * n_blocks / workers,
                                 len, s_qsel_leaf, &c, ch_qsel_combine, &t, &part, &err);
            if (rc == 0) {
                rc = ch_reduce_add(r, part.data, part.len, &err);
            }
            ch_buf_free(&part);
        }
        double *root = malloc(len * sizeof *root);
        if (rc == 0) {
            rc = ch_reduce_finish(r, root, &err);
        }
        if (rc == 0) {
            rc = ch_qsel_consume(q, root, &err);
        }
        free(root);
        ch_reduce_destroy(&r);
        ch_qsel_task_free(&t);
        (*rounds)++;
    }
    if (rc == 0) {
        CHECK(ch_qsel_done(q));
        ch_qsel_result(q, out);
    } else {
        fprintf(stderr, "quantile rounds failed: %s\n", err.msg);
    }
    ch_qsel_destroy(&q);
    free(bb);
    return rc;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* R's quantile(x, type = 7) by sorting, for the five probabilities. */
static void s_type7(const double *v, size_t n, double *out)
{
    double *s = malloc(n * sizeof *s);
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, s_cmp_double);
    for (size_t k = 0; k < 5; k++) {
        double idx = (double)(n - 1) * ch_qsel_probs[k], lo = floor(idx), h = idx - lo;
        double a = s[(size_t)lo], b = s[(size_t)ceil(idx)];
        out[k] = h > 0 && a != b ? (1 - h) * a + h * b : a;
    }
    free(s);
}

/* splitmix64: a counter-based stream for test data. */
static uint64_t s_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Exact quantiles by counting rounds equal, bit for bit, R's type 7 by
 * sorting; the same for 1, 2 and 4 workers; edge cases; bad input. */
static void test_quantile_rounds(void)
{
    size_t n = 60000;
    double *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = s_mix(i);
        double u = (double)(r >> 11) / 9007199254740992.0;
        int scale = (int)(r % 7) - 3;
        v[i] = (u - 0.45) * pow(10.0, scale);
        if (i % 7 == 0) {
            v[i] = 1.25; /* ties around the third quartile */
        } else if (i % 101 == 0) {
            v[i] = (i % 2) ? -0.0 : 0.0;
        }
    }
    double ref[5], got[5], first[5];
    s_type7(v, n, ref);
    const size_t workers[] = {1, 2, 4};
    for (size_t q = 0; q < 3; q++) {
        size_t rounds;
        CHECK(s_qsel_run(v, n, 64, workers[q], got, &rounds) == 0);
        CHECK(rounds >= 1 && rounds <= 5); /* 12 key bits a round, the first with n */
        for (size_t k = 0; k < 5; k++) {
            CHECK(got[k] == ref[k]);
        }
        if (q == 0) {
            memcpy(first, got, sizeof first);
            printf("# quantiles of %zu values in %zu counting rounds\n", n, rounds);
        } else {
            CHECK(memcmp(first, got, sizeof first) == 0);
        }
    }
    /* a very wide range: bisection on keys still ends */
    for (size_t i = 0; i < n; i++) {
        v[i] = ldexp((double)(s_mix(i + n) >> 40) - 8388608.0, (int)(s_mix(i) % 1800) - 900);
    }
    s_type7(v, n, ref);
    size_t rounds;
    CHECK(s_qsel_run(v, n, 16, 3, got, &rounds) == 0);
    for (size_t k = 0; k < 5; k++) {
        CHECK(got[k] == ref[k]);
    }
    /* one value, two values, all equal */
    double one = -3.5, two[2] = {2, -1};
    CHECK(s_qsel_run(&one, 1, 1, 1, got, &rounds) == 0);
    CHECK(got[0] == -3.5 && got[2] == -3.5 && got[4] == -3.5 && rounds == 5);
    CHECK(s_qsel_run(two, 2, 2, 2, got, &rounds) == 0);
    CHECK(got[0] == -1 && got[1] == -0.25 && got[2] == 0.5 && got[3] == 1.25 && got[4] == 2);
    for (size_t i = 0; i < 1000; i++) {
        v[i] = 0.1;
    }
    CHECK(s_qsel_run(v, 1000, 4, 2, got, &rounds) == 0);
    CHECK(got[1] == 0.1 && got[3] == 0.1 && rounds == 5);
    free(v);

    /* the workers' cache: values under one key, emptied by another */
    ch_qsel_cache cache = {0};
    double k1[2] = {1, 2}, k2[2] = {1, 2.5}, vals[3] = {3, -1, 2};
    size_t got_n = 0;
    CHECK(ch_qsel_cache_get(&cache, k1, 2, 0, &got_n) == NULL);
    CHECK(ch_qsel_cache_put(&cache, k1, 2, 4, 1, vals, 3) == 0);
    const double *kept = ch_qsel_cache_get(&cache, k1, 2, 1, &got_n);
    CHECK(kept && got_n == 3 && kept[1] == -1 && kept != vals);
    CHECK(ch_qsel_cache_get(&cache, k1, 2, 0, &got_n) == NULL);
    CHECK(ch_qsel_cache_get(&cache, k2, 2, 1, &got_n) == NULL);
    CHECK(ch_qsel_cache_put(&cache, k2, 2, 4, 2, vals, 2) == 0);
    CHECK(ch_qsel_cache_get(&cache, k2, 2, 1, &got_n) == NULL); /* k1's entry is gone */
    CHECK(ch_qsel_cache_get(&cache, k2, 2, 2, &got_n) != NULL && got_n == 2);
    CHECK(ch_qsel_cache_put(&cache, k2, 2, 4, 9, vals, 2) == CH_EINVAL);
    ch_qsel_cache_free(&cache);
    ch_qsel_cache_free(&cache);

    /* keys are monotone and invertible */
    const double ks[] = {-INFINITY, -1e300, -1, -1e-300, -0.0, 0.0, 1e-310, 1, 1e300, INFINITY};
    for (size_t i = 0; i + 1 < sizeof ks / sizeof ks[0]; i++) {
        CHECK(ch_qsel_key(ks[i]) < ch_qsel_key(ks[i + 1]));
        CHECK(ch_qsel_unkey(ch_qsel_key(ks[i])) == ks[i]);
    }

    /* untrusted task bytes and a root that does not add up */
    ch_err err = {0};
    ch_qsel_task_t t;
    uint64_t bad[4] = {1, 5, 4, 0}; /* lo > hi */
    CHECK(ch_qsel_parse((const uint8_t *)bad, sizeof bad, &t, &err) == CH_EPROTO);
    CHECK(ch_qsel_parse((const uint8_t *)bad, 7, &t, &err) == CH_EPROTO);
    bad[0] = 99;
    CHECK(ch_qsel_parse((const uint8_t *)bad, sizeof bad, &t, &err) == CH_EPROTO);
    double *hist = calloc(CH_QSEL_BINS, sizeof *hist);
    double spread[1000];
    for (size_t i = 0; i < 1000; i++) {
        spread[i] = 1 + (double)i / 1000; /* all in one first-round bin */
    }
    ch_qsel_first_leaf(spread, 1000, hist);
    CHECK(ch_qsel_new(0, hist) == NULL && ch_qsel_new(999, hist) == NULL); /* counts != n */
    hist[7] += 0.5;
    CHECK(ch_qsel_new(1000.5, hist) == NULL); /* not whole */
    hist[7] -= 0.5;
    ch_qsel *q = ch_qsel_new(1000, hist);
    free(hist);
    CHECK(q != NULL);
    ch_buf task;
    ch_buf_init(&task);
    size_t len = ch_qsel_task(q, &task);
    CHECK(len == CH_QSEL_BINS); /* one shared bracket for all ranks */
    double *root = calloc(len, sizeof *root);
    root[3] = 999; /* one value short */
    CHECK(ch_qsel_consume(q, root, &err) == CH_EPROTO);
    CHECK_HAS(err.msg, "counts 999 values");
    free(root);
    ch_buf_free(&task);
    ch_qsel_destroy(&q);
    CHECK(q == NULL);
}

/* Weighted residuals sqrt(w) (y - x'b) of every complete row, in row order,
 * and the sandwich meat of `type` summed block by block (16 blocks). */
static double *s_residuals(const ch_table *t, const ch_design *d, const ch_ols *o, ch_hc_type type,
                           double *meat, size_t *n_out)
{
    size_t p = d->p, n = t->n_rows, nb = 16;
    double *e = malloc(n * sizeof *e), *a = malloc(n * p * sizeof *a), *x = malloc(p * sizeof *x);
    double *cov = malloc(p * p * sizeof *cov);
    ch_robust_cov0(o, cov);
    memset(meat, 0, p * p * sizeof *meat);
    size_t used = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t first = used;
        for (size_t i = b * n / nb; i < (b + 1) * n / nb; i++) {
            if (!ch_design_row(d, t, i, x, 1)) {
                continue;
            }
            double sw = t->weights ? sqrt(t->weights[i]) : 1.0, fit = 0;
            for (size_t j = 0; j < p; j++) {
                fit += x[j] * (o->aliased[j] ? 0 : o->coef[j]);
            }
            e[used++] = sw * (t->target.values[i] - fit);
        }
        size_t rows = used - first;
        for (size_t k = 0, i = b * n / nb; i < (b + 1) * n / nb; i++) {
            if (ch_design_row(d, t, i, a + k, rows)) {
                double sw = t->weights ? sqrt(t->weights[i]) : 1.0;
                for (size_t j = 0; j < p; j++) {
                    a[j * rows + k] *= sw;
                }
                k++;
            }
        }
        if (type != CH_HC_NONE) {
            CHECK(ch_robust_meat(type, a, rows, p, e + first, cov, meat) == 0);
        }
    }
    free(a);
    free(x);
    free(cov);
    *n_out = used;
    return e;
}

/* VIF, condition numbers, residual quantiles and HC0-HC3 against R, for
 * the plain and the weighted fit. */
static void test_diagnostics_match_r(void)
{
    ch_err err = {0};
    for (int weighted = 0; weighted < 2; weighted++) {
        ch_table *t = s_wine();
        if (!t) {
            return;
        }
        if (weighted) {
            double *w = malloc(t->n_rows * sizeof *w);
            for (size_t i = 0; i < t->n_rows; i++) {
                w[i] = s_weight(i);
            }
            CHECK(ch_table_add_column(t, "w", CH_COL_NUMERIC, w, NULL, 0) == 0);
            CHECK(ch_table_set_weights(t, "w", &err) == 0);
        }
        ch_design *d = s_design(t);
        size_t *bb = malloc(10 * sizeof *bb);
        for (size_t b = 0; b <= 9; b++) {
            bb[b] = b * t->n_rows / 9;
        }
        ch_ols o;
        double *root = NULL;
        if (s_fit_blocks_root(t, d, bb, 9, 3, &o, &root) != 0) {
            CHECK(!"fit");
            free(bb);
            continue;
        }
        double vif[P], kappa, scaled;
        ch_collin_vif(root, &o, true, vif);
        CHECK(isnan(vif[0]));
        for (size_t j = 1; j < P; j++) {
            CHECK_REL(vif[j], weighted ? rw_vif[j - 1] : r_vif[j - 1], 1e-9, 0.0);
        }
        CHECK(ch_collin_cond(root, &o, &kappa, &scaled) == 0);
        CHECK_REL(kappa, weighted ? rw_kappa : r_kappa, 1e-9, 0.0);
        if (!weighted) {
            double gv[13];
            size_t gdf[13];
            CHECK(d->n_terms == 13);
            CHECK(ch_collin_gvif(d, o.cov_unscaled, o.aliased, gv, gdf) == 0);
            for (size_t f = 0; f < 13; f++) {
                CHECK_REL(gv[f], r_gvif[f], 1e-9, 0.0);
                CHECK(gdf[f] == (f == 12 ? 2 : 1));
            }
            CHECK_STR(d->terms[12], "target");
        }
        if (!weighted) {
            CHECK_REL(scaled, r_kappa_scaled, 1e-9, 0.0);
        }
        for (int type = CH_HC0; type <= CH_HC3; type++) {
            double meat[P * P], se[P];
            size_t n;
            double *e = s_residuals(t, d, &o, (ch_hc_type)type, meat, &n);
            CHECK(n == 178);
            CHECK(ch_robust_se((ch_hc_type)type, meat, &o, se) == 0);
            for (size_t j = 0; j < P; j++) {
                CHECK_REL(se[j], (weighted ? rw_hc : r_hc)[type - CH_HC0][j], 1e-9, 0.0);
            }
            if (type == CH_HC0) {
                double q[5];
                size_t rounds;
                CHECK(s_qsel_run(e, n, 5, 2, q, &rounds) == 0);
                for (size_t k = 0; k < 5; k++) {
                    CHECK_NEAR(q[k], (weighted ? rw_resid_q : r_resid_q)[k], 1e-10);
                }
            }
            free(e);
        }
        ch_ols_free(&o);
        free(root);
        free(bb);
        ch_design_destroy(&d);
        ch_table_destroy(&t);
    }

    /* an aliased column: no VIF for it, the others as without it */
    ch_table *t = s_wine();
    if (!t) {
        return;
    }
    long malic = ch_table_find(t, "malic_acid"), ash = ch_table_find(t, "ash");
    double *alias = malloc(t->n_rows * sizeof *alias);
    for (size_t i = 0; i < t->n_rows; i++) {
        alias[i] = 2 * t->cols[malic].values[i] + t->cols[ash].values[i];
    }
    CHECK(ch_table_add_column(t, "alias", CH_COL_NUMERIC, alias, NULL, 0) == 0);
    ch_design *d = s_design(t);
    size_t bb[3] = {0, 90, 178};
    ch_ols o;
    double *root = NULL;
    if (s_fit_blocks_root(t, d, bb, 2, 2, &o, &root) == 0) {
        double vif[P + 1], kappa, scaled;
        ch_collin_vif(root, &o, true, vif);
        CHECK(isnan(vif[P]));
        for (size_t j = 1; j < P; j++) {
            CHECK_REL(vif[j], r_vif[j - 1], 1e-9, 0.0);
        }
        CHECK(ch_collin_cond(root, &o, &kappa, &scaled) == 0);
        CHECK_REL(kappa, r_kappa, 1e-9, 0.0);
        /* the sandwich leaves the aliased column out: R's HC3 without it */
        double meat[(P + 1) * (P + 1)], se[P + 1];
        size_t n;
        double *e = s_residuals(t, d, &o, CH_HC3, meat, &n);
        CHECK(ch_robust_se(CH_HC3, meat, &o, se) == 0);
        CHECK(isnan(se[P]));
        for (size_t j = 0; j < P; j++) {
            CHECK_REL(se[j], r_hc[3][j], 1e-9, 0.0);
        }
        free(e);
        ch_ols_free(&o);
        free(root);
    } else {
        CHECK(!"fit");
    }
    ch_design_destroy(&d);
    ch_table_destroy(&t);
}

/* A model.pb written before the diagnostics existed (no VIF, quantiles,
 * covariance or predict keys) still loads, describes and predicts as
 * before; a malformed diagnostics field is refused. */
static void test_old_model_payload(void)
{
    ch_table *t = s_wine();
    if (!t) {
        return;
    }
    ch_err err = {0};
    ch_schema *schema = ch_schema_from_table(t, NULL);
    ch_design *d = ch_design_new(schema, true);
    protobuf_c_boolean al[P] = {0};
    double tv[P];
    for (size_t j = 0; j < P; j++) {
        tv[j] = r_coef[j] / r_se[j];
    }
    Cohort__Linear__LinearModel lm = COHORT__LINEAR__LINEAR_MODEL__INIT;
    lm.n_names = P;
    lm.names = d->names;
    lm.n_coef = lm.n_std_error = lm.n_t_value = lm.n_aliased = P;
    lm.coef = (double *)r_coef;
    lm.std_error = (double *)r_se;
    lm.t_value = tv;
    lm.aliased = al;
    lm.sigma = r_sigma;
    lm.n = 178;
    lm.df_residual = r_df;
    lm.r_squared = r_r2;
    lm.adj_r_squared = r_adj_r2;
    lm.intercept = true;
    lm.rank = P;
    lm.sum_w = 178;
    size_t len = cohort__linear__linear_model__get_packed_size(&lm);
    uint8_t *buf = malloc(len);
    cohort__linear__linear_model__pack(&lm, buf);
    const ch_algo *algo = ch_algo_find("linear");
    CHECK(algo != NULL);
    void *model = algo ? algo->unpack(buf, len, schema, &err) : NULL;
    CHECK(model != NULL);
    if (model) {
        ch_buf text, json, csv;
        ch_buf_init(&text);
        ch_buf_init(&json);
        ch_buf_init(&csv);
        CHECK(algo->describe(model, &text) == 0);
        CHECK(strstr(ch_buf_str(&text), "Coefficients:") != NULL);
        CHECK(strstr(ch_buf_str(&text), "Residuals") == NULL);
        CHECK(strstr(ch_buf_str(&text), "inflation") == NULL);
        CHECK(algo->summary_json(model, &json) == 0);
        CHECK(strstr(ch_buf_str(&json), "\"vif\"") == NULL);
        CHECK(strstr(ch_buf_str(&json), "\"estimate\": 12.88977427676312") != NULL);
        CHECK(algo->predict_csv(model, t, &csv, &err) == 1); /* the ordinary path */
        ch_buf_free(&text);
        ch_buf_free(&json);
        ch_buf_free(&csv);
        algo->model_destroy(&model);
        CHECK(model == NULL);
    }
    free(buf);
    /* a VIF vector of the wrong length */
    double vif[3] = {1, 2, 3};
    lm.n_vif = 3;
    lm.vif = vif;
    len = cohort__linear__linear_model__get_packed_size(&lm);
    buf = malloc(len);
    cohort__linear__linear_model__pack(&lm, buf);
    model = algo ? algo->unpack(buf, len, schema, &err) : NULL;
    CHECK(model == NULL);
    CHECK_HAS(err.msg, "diagnostics have the wrong length");
    free(buf);
    ch_design_destroy(&d);
    ch_schema_destroy(&schema);
    ch_table_destroy(&t);
}

int main(void)
{
    test_old_model_payload();
    test_quantile_rounds();
    test_diagnostics_match_r();
    test_inference_matches_r();
    test_penalized_matches_sklearn();
    test_ols_matches_r();
    test_blocking();
    test_aliased();
    test_weighted();
    test_solve_errors();
    CH_TEST_END();
}
