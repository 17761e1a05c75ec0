/* test_kmeans_elkan.c: Elkan's bound-based step (elkan.h) against Lloyd's
 * (the GEMM assignment and ch_km_leaf of lloyd.h) and scikit-learn 1.2.1
 * (Debian python3-sklearn), run once with /usr/bin/python3:
 *
 *   X = iris[:, :4]; KMeans(3, init=X[[0, 50, 100]], n_init=1,
 *       algorithm="elkan", tol=0, max_iter=100).fit(X)
 *   W = standardised wine[:, :13] (population sd);
 *       KMeans(3, init=W[[0, 60, 130]], n_init=1, algorithm="elkan",
 *       tol=0, max_iter=100).fit(W)
 *   -> cluster_centers_, inertia_, n_iter_ (4 and 6) below; scikit-learn's
 *      lloyd gives the same labels and centroids (difference 0).
 *
 * Tolerances: centroids 1e-10, inertia 1e-10 relative (the issue's); against
 * cohort's own Lloyd the labels of every iteration are equal and the
 * centroids the same bytes. The rows are cut into three blocks, each with
 * its own bounds, reduced with ch_km_combine as the workers do. */
#include "algorithms/cluster_common/cluster.h"
#include "algorithms/kmeans/elkan.h"
#include "algorithms/kmeans/lloyd.h"
#include "tests/check.h"

#include <stdint.h>

static const double s_iris_c[] = {5.006,
                                  3.428,
                                  1.4620000000000002,
                                  0.24600000000000055,
                                  5.901612903225806,
                                  2.7483870967741937,
                                  4.393548387096774,
                                  1.4338709677419355,
                                  6.85,
                                  3.0736842105263156,
                                  5.742105263157894,
                                  2.0710526315789473};
static const double s_iris_inertia = 78.851441426146;

static const double s_wine_c[] = {
    0.7309928498578238,  -0.3592707437647576, 0.2795174155138859,   -0.5708159366671984,
    0.6008109517943093,  0.8699816550518976,  0.9308259871901012,   -0.609051494205037,
    0.6095624977360752,  0.10696731223670194, 0.5003457039896718,   0.7502196053849024,
    1.0264598480615044,  -0.9373731402758952, -0.326975183555485,   -0.499015641254187,
    0.15553543611120987, -0.6092451520975083, -0.15886254864743574, -0.02889997719755203,
    0.09163235420249868, -0.0662889822151127, -0.896826224296886,   0.4008141618879,
    0.21791499492388755, -0.8088810313506051, 0.18654313789046365,  0.9049714533199775,
    0.2492102636393569,  0.5837034840368833,  -0.05063539469741243, -0.9885569973946147,
    -1.2361947460303755, 0.7168417173710706,  -0.7496075602240888,  0.988498285439752,
    -1.1912987796807648, -1.301539658083043,  -0.38004460972210835};
static const double s_wine_inertia = 1282.4635183465316;

enum { NB = 3, MAXK = 4, MAXD = 16 };

static ch_table *s_load(const char *rel)
{
    ch_err err;
    ch_err_clear(&err);
    ch_table *t = ch_table_read(ch_test_path(rel), CH_FORMAT_AUTO, &err);
    if (!t || ch_table_set_target(t, "target", NULL, &err) != 0) {
        fprintf(stderr, "%s: %s\n", rel, err.msg);
        exit(1);
    }
    return t;
}

/* Rows of t (standardised or not) as a dense matrix with norms. */
static double *s_rows(const ch_table *t, bool standardize, double **xn)
{
    size_t n = t->n_rows, d = t->n_cols;
    size_t *rows = malloc(n * sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        rows[i] = i;
    }
    double mom[2 + 2 * MAXD], mean[MAXD], scale[MAXD];
    ch_cl_moments_leaf(t, rows, n, mom);
    ch_cl_moments_scale(mom, d, mean, scale);
    double *x = malloc(n * d * sizeof *x), *w = malloc(n * sizeof *w);
    CHECK(ch_cl_gather(t, rows, n, standardize ? mean : NULL, scale, x, NULL, w) == n);
    *xn = malloc(n * sizeof **xn);
    ch_cl_row_norms(x, n, d, *xn);
    free(rows);
    free(w);
    return x;
}

/* Elkan and Lloyd side by side from the rows init[k] of t, tol 0: NB blocks
 * each, labels compared every iteration (and with a fresh exact assignment,
 * which has no history), centroids compared as bytes. Returns the final
 * centroids, the exact inertia and the iterations (sklearn's n_iter_). */
static void s_both(const ch_table *t, bool standardize, const size_t *init, size_t k, double *c_out,
                   double *inertia, int *n_iter)
{
    size_t n = t->n_rows, d = t->n_cols;
    double *xn, *x = s_rows(t, standardize, &xn);
    double *w = malloc(n * sizeof *w);
    uint64_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        w[i] = 1;
        ids[i] = i;
    }
    size_t b0[NB + 1] = {0, n / 3, 2 * n / 3, n};
    double ce[MAXK * MAXD], cl[MAXK * MAXD], cprev[MAXK * MAXD], cn[MAXK];
    for (size_t j = 0; j < k; j++) {
        memcpy(ce + j * d, x + init[j] * d, d * sizeof(double));
    }
    memcpy(cl, ce, k * d * sizeof(double));
    ch_km_shape sh = {k, d, k}, sh0 = {k, d, 0};
    size_t len = ch_km_node_len(&sh), len0 = ch_km_node_len(&sh0);
    double *leaf = malloc(NB * len * sizeof *leaf), *tmp = malloc(len * sizeof *tmp);
    double *root = malloc(len * sizeof *root), *head = malloc(NB * len0 * sizeof *head);
    double *full = malloc(len0 * sizeof *full);
    int32_t *lab_l = malloc(n * sizeof *lab_l), *lab_e = malloc(n * sizeof *lab_e);
    int32_t *lab_f = malloc(n * sizeof *lab_f);
    double *dist2 = malloc(n * sizeof *dist2), *scr = malloc(n * k * sizeof *scr);
    double *u = malloc(n * sizeof *u), *l = malloc(n * k * sizeof *l);
    double half[MAXK * MAXK], sep[MAXK], shift[MAXK];
    unsigned char dirty[MAXK];
    int it = 0;
    for (; it < 100; it++) {
        /* Lloyd: the GEMM labels, ch_km_leaf per block, the fixed tree */
        ch_cl_row_norms(cl, k, d, cn);
        ch_cl_assign(x, xn, n, d, cl, cn, k, scr, lab_l, dist2);
        for (size_t b = 0; b < NB; b++) {
            ch_km_leaf(&sh, x + b0[b] * d, w + b0[b], ids + b0[b], lab_l + b0[b], dist2 + b0[b],
                       NULL, b0[b + 1] - b0[b], leaf + b * len);
        }
        ch_km_combine(&sh, len, leaf, leaf + len, tmp);
        ch_km_combine(&sh, len, tmp, leaf + 2 * len, root);
        double sh_l, sh_e;
        size_t n_empty;
        double cnext[MAXK * MAXD];
        ch_km_update(&sh, root, cl, cnext, &sh_l, &n_empty);
        CHECK(n_empty == 0);
        /* Elkan: bounds per block, kept across iterations */
        ch_cl_row_norms(ce, k, d, cn);
        ch_km_elkan_geometry(ce, it ? cprev : NULL, k, d, half, sep, shift);
        for (size_t b = 0; b < NB; b++) {
            size_t lo = b0[b], m = b0[b + 1] - lo;
            if (it == 0) {
                ch_km_elkan_init(x + lo * d, xn + lo, m, d, ce, cn, k, scr, lab_e + lo, NULL,
                                 u + lo, l + lo * k);
                ch_km_sums(k, d, x + lo * d, w + lo, lab_e + lo, m, head + b * len0);
            } else {
                ch_km_elkan_shift(m, k, shift, lab_e + lo, u + lo, l + lo * k);
                memset(dirty, 0, k);
                ch_km_elkan_step(x + lo * d, NULL, m, d, ce, k, half, sep, lab_e + lo, u + lo,
                                 l + lo * k, dirty, NULL);
                ch_km_sums_update(k, d, x + lo * d, w + lo, lab_e + lo, m, dirty, head + b * len0);
            }
            /* the kept-and-updated sums are the bytes of a fresh sum */
            ch_km_sums(k, d, x + lo * d, w + lo, lab_e + lo, m, full);
            CHECK(memcmp(full, head + b * len0, len0 * sizeof(double)) == 0);
        }
        /* a fresh exact assignment (no bounds, no history) agrees */
        ch_km_elkan_init(x, xn, n, d, ce, cn, k, scr, lab_f, NULL, NULL, NULL);
        CHECK(memcmp(lab_e, lab_f, n * sizeof *lab_e) == 0);
        CHECK(memcmp(lab_e, lab_l, n * sizeof *lab_e) == 0);
        ch_km_combine(&sh0, len0, head, head + len0, tmp);
        ch_km_combine(&sh0, len0, tmp, head + 2 * len0, root);
        memcpy(cprev, ce, k * d * sizeof(double));
        ch_km_update(&sh0, root, cprev, ce, &sh_e, &n_empty);
        memcpy(cl, cnext, k * d * sizeof(double));
        CHECK(memcmp(ce, cl, k * d * sizeof(double)) == 0);
        CHECK(sh_e == sh_l);
        if (sh_e <= 0) {
            it++;
            break;
        }
    }
    double s = 0;
    ch_cl_row_norms(ce, k, d, cn);
    ch_km_elkan_init(x, xn, n, d, ce, cn, k, scr, lab_f, dist2, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        s += dist2[i];
        CHECK_NEAR(dist2[i], ch_km_dist2(x + i * d, ce + (size_t)lab_f[i] * d, d), 0);
    }
    memcpy(c_out, ce, k * d * sizeof(double));
    *inertia = s;
    *n_iter = it;
    free(x);
    free(xn);
    free(w);
    free(ids);
    free(leaf);
    free(tmp);
    free(root);
    free(head);
    free(full);
    free(lab_l);
    free(lab_e);
    free(lab_f);
    free(dist2);
    free(scr);
    free(u);
    free(l);
}

static void test_iris(void)
{
    ch_table *t = s_load("data/iris.csv");
    size_t init[3] = {0, 50, 100};
    double c[MAXK * MAXD], inertia;
    int it;
    s_both(t, false, init, 3, c, &inertia, &it);
    for (size_t i = 0; i < 12; i++) {
        CHECK_NEAR(c[i], s_iris_c[i], 1e-10);
    }
    CHECK_REL(inertia, s_iris_inertia, 1e-10, 1e-300);
    /* sklearn stops at the iteration whose labels equal the previous ones,
     * where the shift here is 0 */
    CHECK(it == 4);
    ch_table_destroy(&t);
}

static void test_wine(void)
{
    ch_table *t = s_load("data/wine.csv");
    size_t init[3] = {0, 60, 130};
    double c[MAXK * MAXD], inertia;
    int it;
    s_both(t, true, init, 3, c, &inertia, &it);
    for (size_t i = 0; i < 39; i++) {
        CHECK_NEAR(c[i], s_wine_c[i], 1e-10);
    }
    CHECK_REL(inertia, s_wine_inertia, 1e-10, 1e-300);
    CHECK(it == 6);
    ch_table_destroy(&t);
}

/* Ties go to the smaller centroid index, with bounds or without, and a
 * row whose bounds prune everything keeps its label. */
static void test_ties(void)
{
    double x[] = {0, 0, 5, 0}, c[] = {1, 0, -1, 0}, xn[2], cn[2], scr[4];
    int32_t label[2];
    double u[2], l[4], half[4], sep[2];
    ch_cl_row_norms(x, 2, 2, xn);
    ch_cl_row_norms(c, 2, 2, cn);
    ch_km_elkan_init(x, xn, 2, 2, c, cn, 2, scr, label, NULL, u, l);
    CHECK(label[0] == 0 && label[1] == 0);
    CHECK(u[0] == 1 && u[1] == 4);
    CHECK(l[2] == 4 && l[3] >= 5.9 && l[3] <= 6);
    /* a stale state that says row 0 is in cluster 1: the step moves it to 0 */
    label[0] = 1;
    u[0] = 1;
    l[0] = l[1] = 1;
    ch_km_elkan_geometry(c, NULL, 2, 2, half, sep, NULL);
    CHECK(half[1] == 1 && sep[0] == 1 && sep[1] == 1);
    unsigned char dirty[2] = {0, 0};
    size_t nd = 0;
    CHECK(ch_km_elkan_step(x, NULL, 2, 2, c, 2, half, sep, label, u, l, dirty, &nd) == 1);
    CHECK(label[0] == 0 && label[1] == 0 && dirty[0] && dirty[1]);
    CHECK(nd == 2); /* row 1 pruned by its bounds: no distance computed */
    /* the shift moves the bounds by each centroid's displacement */
    double sh[2] = {0.5, 2};
    ch_km_elkan_shift(2, 2, sh, label, u, l);
    CHECK(u[0] == 1.5 && l[1] == 0 && l[3] >= 3.9);
}

/* Rows that are exactly floats (iris x 10: whole numbers): the step on the
 * float copy gives the same labels and the same bounds, bit for bit, as on
 * the doubles, iteration after iteration. */
static void test_float_rows(void)
{
    ch_table *t = s_load("data/iris.csv");
    size_t n = t->n_rows, d = t->n_cols, k = 3;
    double *xn, *x = s_rows(t, false, &xn);
    float *xf = malloc(n * d * sizeof *xf);
    double *w = malloc(n * sizeof *w);
    for (size_t i = 0; i < n * d; i++) {
        x[i] = round(x[i] * 10);
        xf[i] = (float)x[i];
    }
    for (size_t i = 0; i < n; i++) {
        w[i] = 1;
        CHECK(ch_km_dist2_f(xf + i * d, x, d) == ch_km_dist2(x + i * d, x, d));
    }
    ch_cl_row_norms(x, n, d, xn);
    double c[12], cprev[12], cn[3], scr[150 * 3], half[9], sep[3], shift[3];
    memcpy(c, x, d * sizeof(double));
    memcpy(c + d, x + 50 * d, d * sizeof(double));
    memcpy(c + 2 * d, x + 100 * d, d * sizeof(double));
    int32_t la[150], lb[150];
    double ua[150], ub[150], l_a[450], l_b[450];
    ch_cl_row_norms(c, k, d, cn);
    ch_km_elkan_init(x, xn, n, d, c, cn, k, scr, la, NULL, ua, l_a);
    memcpy(lb, la, sizeof la);
    memcpy(ub, ua, sizeof ua);
    memcpy(l_b, l_a, sizeof l_a);
    ch_km_shape sh = {k, d, 0};
    double head[12 + 7];
    size_t changed_total = 0;
    for (int it = 0; it < 8; it++) {
        ch_km_sums(k, d, x, w, la, n, head);
        double s;
        size_t n_empty;
        memcpy(cprev, c, sizeof c);
        ch_km_update(&sh, head, cprev, c, &s, &n_empty);
        ch_km_elkan_geometry(c, cprev, k, d, half, sep, shift);
        ch_km_elkan_shift(n, k, shift, la, ua, l_a);
        ch_km_elkan_shift(n, k, shift, lb, ub, l_b);
        changed_total += ch_km_elkan_step(x, NULL, n, d, c, k, half, sep, la, ua, l_a, NULL, NULL);
        ch_km_elkan_step(x, xf, n, d, c, k, half, sep, lb, ub, l_b, NULL, NULL);
        CHECK(memcmp(la, lb, sizeof la) == 0);
        CHECK(memcmp(ua, ub, sizeof ua) == 0);
        CHECK(memcmp(l_a, l_b, sizeof l_a) == 0);
    }
    CHECK(changed_total > 0); /* the labels did move */
    free(x);
    free(xn);
    free(xf);
    free(w);
    ch_table_destroy(&t);
}

/* ch_cl_gather_many gives what ch_cl_gather gives list by list: scattered
 * rows (every 7th, wrapping), three lists, standardised and not. */
static void test_gather_many(void)
{
    ch_table *t = s_load("data/wine.csv");
    size_t n = t->n_rows, d = t->n_cols;
    size_t *rows = malloc(n * sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        rows[i] = (i * 7) % n;
    }
    double mean[MAXD], scale[MAXD];
    for (size_t j = 0; j < d; j++) {
        mean[j] = (double)j;
        scale[j] = 1.5 + (double)j;
    }
    size_t cut[4] = {0, 50, 51, n};
    for (int std = 0; std < 2; std++) {
        ch_cl_gather_job jobs[3];
        double *xa = malloc(n * d * sizeof *xa), *xb = malloc(n * d * sizeof *xb);
        double *wa = malloc(n * sizeof *wa), *wb = malloc(n * sizeof *wb);
        size_t *ka = malloc(n * sizeof *ka), *kb = malloc(n * sizeof *kb);
        for (size_t b = 0; b < 3; b++) {
            jobs[b] = (ch_cl_gather_job){rows + cut[b], cut[b + 1] - cut[b], xa + cut[b] * d,
                                         ka + cut[b],   wa + cut[b],         0};
        }
        CHECK(ch_cl_gather_many(t, jobs, 3, std ? mean : NULL, scale) == 0);
        for (size_t b = 0; b < 3; b++) {
            size_t m = ch_cl_gather(t, rows + cut[b], cut[b + 1] - cut[b], std ? mean : NULL, scale,
                                    xb + cut[b] * d, kb + cut[b], wb + cut[b]);
            CHECK(m == jobs[b].m && m == cut[b + 1] - cut[b]);
        }
        CHECK(memcmp(xa, xb, n * d * sizeof *xa) == 0);
        CHECK(memcmp(ka, kb, n * sizeof *ka) == 0 && memcmp(wa, wb, n * sizeof *wa) == 0);
        CHECK(ka[1] == 7 &&
              xa[d] == (std ? (t->cols[0].values[7] - 0) / 1.5 : t->cols[0].values[7]));
        free(xa);
        free(xb);
        free(wa);
        free(wb);
        free(ka);
        free(kb);
    }
    free(rows);
    ch_table_destroy(&t);
}

int main(void)
{
    test_iris();
    test_wine();
    test_ties();
    test_float_rows();
    test_gather_many();
    CH_TEST_END();
}
