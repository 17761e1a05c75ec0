/* test_kmeans.c: the k-means core (lloyd.h) and the shared cluster pieces
 * (cluster.h) against scikit-learn 1.2.1 (Debian python3-sklearn), run once:
 *
 *   X = iris[:, :4]; KMeans(3, init=X[[0, 50, 100]], n_init=1,
 *       algorithm="lloyd", tol=0, max_iter=100).fit(X)
 *   the same with init [X[0], X[50], [100]*4] (an empty cluster at once)
 *   W = standardised wine[:, :13] (population sd);
 *       KMeans(3, init=W[[0, 60, 130]], ...).fit(W)
 *   silhouette_score, davies_bouldin_score, calinski_harabasz_score,
 *   adjusted_rand_score(target, labels)
 *
 * Tolerances: centroids and inertia 1e-10 (relative for the inertia) as the
 * issue asks; silhouette 1e-10 (the issue asks 1e-6); the other indices
 * 1e-9 relative. The Lloyd loop here cuts the rows into two blocks reduced
 * with ch_km_combine, as the workers do. */
#include "algorithms/cluster_common/cluster.h"
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
static const double s_iris_sil = 0.5528190123564095;
static const double s_iris_db = 0.6619715465007465, s_iris_ch = 561.62775662962,
                    s_iris_ari = 0.7302382722834697;

static const double s_empty_c[] = {5.006,
                                   3.428,
                                   1.4620000000000002,
                                   0.24600000000000055,
                                   6.853846153846154,
                                   3.076923076923077,
                                   5.7153846153846155,
                                   2.0538461538461537,
                                   5.883606557377049,
                                   2.740983606557377,
                                   4.388524590163934,
                                   1.4344262295081966};
static const double s_empty_inertia = 78.85566582597731;

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
static const double s_wine_sil = 0.2806817957373884;
static const double s_wine_db = 1.393136248943783, s_wine_ch = 70.37973466960622,
                    s_wine_ari = 0.8456161913329393;

typedef struct s_result {
    double c[64];
    double inertia;
    int n_iter;
    double sil, db, ch, ari;
} s_result;

/* Lloyd with tol 0 from c0 over t (two blocks), then the final E-step and
 * the quality indices, as kmeans.c does them. */
static void s_lloyd(const ch_table *t, bool standardize, const size_t *init_rows,
                    const double *extra_centroid, size_t k, s_result *res)
{
    size_t n = t->n_rows, d = t->n_cols;
    size_t *rows = malloc(n * sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        rows[i] = i;
    }
    double mom[2 + 2 * 64], mean[64], scale[64];
    ch_cl_moments_leaf(t, rows, n, mom);
    ch_cl_moments_scale(mom, d, mean, scale);
    double *x = malloc(n * d * sizeof *x), *xn = malloc(n * sizeof *xn), *w = malloc(n * sizeof *w);
    size_t *kept = malloc(n * sizeof *kept);
    size_t m = ch_cl_gather(t, rows, n, standardize ? mean : NULL, scale, x, kept, w);
    CHECK(m == n);
    ch_cl_row_norms(x, n, d, xn);
    uint64_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        ids[i] = i;
    }
    double c[64], c2[64], cn[8];
    for (size_t j = 0; j < k; j++) {
        if (init_rows[j] == SIZE_MAX) {
            memcpy(c + j * d, extra_centroid, d * sizeof(double));
        } else {
            memcpy(c + j * d, x + init_rows[j] * d, d * sizeof(double));
        }
    }
    ch_km_shape sh = {k, d, k};
    size_t len = ch_km_node_len(&sh);
    double *l1 = malloc(len * sizeof *l1), *l2 = malloc(len * sizeof *l2),
           *root = malloc(len * sizeof *root);
    int32_t *label = malloc(n * sizeof *label);
    double *dist2 = malloc(n * sizeof *dist2), *scr = malloc(n * k * sizeof *scr);
    size_t half = n / 2;
    int it = 0;
    for (; it < 100; it++) {
        ch_cl_row_norms(c, k, d, cn);
        ch_cl_assign(x, xn, half, d, c, cn, k, scr, label, dist2);
        ch_cl_assign(x + half * d, xn + half, n - half, d, c, cn, k, scr, label + half,
                     dist2 + half);
        ch_km_leaf(&sh, x, w, ids, label, dist2, NULL, half, l1);
        ch_km_leaf(&sh, x + half * d, w + half, ids + half, label + half, dist2 + half, NULL,
                   n - half, l2);
        ch_km_combine(&sh, len, l1, l2, root);
        double shift;
        size_t n_empty;
        ch_km_update(&sh, root, c, c2, &shift, &n_empty);
        memcpy(c, c2, k * d * sizeof(double));
        if (shift <= 0) {
            it++;
            break;
        }
    }
    ch_cl_row_norms(c, k, d, cn);
    ch_cl_assign(x, xn, n, d, c, cn, k, scr, label, dist2);
    double inertia = 0, count[8] = {0}, spread[8] = {0}, sumx[64] = {0};
    for (size_t i = 0; i < n; i++) {
        inertia += dist2[i];
        count[label[i]] += 1;
        spread[label[i]] += sqrt(dist2[i]);
        for (size_t f = 0; f < d; f++) {
            sumx[f] += x[i * d + f];
        }
    }
    for (size_t j = 0; j < k; j++) {
        spread[j] /= count[j];
    }
    for (size_t f = 0; f < d; f++) {
        sumx[f] /= (double)n;
    }
    memcpy(res->c, c, k * d * sizeof(double));
    res->inertia = inertia;
    res->n_iter = it;
    long *self = malloc(n * sizeof *self);
    double *s = malloc(n * sizeof *s);
    for (size_t i = 0; i < n; i++) {
        self[i] = (long)i;
    }
    CHECK(ch_cl_silhouette(x, n, label, self, x, n, label, count, k, d, s, NULL) == 0);
    double ssum = 0;
    for (size_t i = 0; i < n; i++) {
        ssum += s[i];
    }
    res->sil = ssum / (double)n;
    res->db = ch_cl_davies_bouldin(c, spread, count, k, d);
    res->ch = ch_cl_calinski_harabasz(c, count, sumx, inertia, k, d, (double)n);
    double cont[8 * 8] = {0};
    size_t q = t->target.n_levels;
    for (size_t i = 0; i < n; i++) {
        cont[(size_t)label[i] * q + (size_t)t->target.values[i]] += 1;
    }
    res->ari = ch_cl_adjusted_rand(cont, k, q);
    free(rows);
    free(x);
    free(xn);
    free(w);
    free(kept);
    free(ids);
    free(l1);
    free(l2);
    free(root);
    free(label);
    free(dist2);
    free(scr);
    free(self);
    free(s);
}

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

static void test_iris(void)
{
    ch_table *t = s_load("data/iris.csv");
    size_t init[3] = {0, 50, 100};
    s_result r;
    s_lloyd(t, false, init, NULL, 3, &r);
    for (size_t i = 0; i < 12; i++) {
        CHECK_NEAR(r.c[i], s_iris_c[i], 1e-10);
    }
    CHECK_REL(r.inertia, s_iris_inertia, 1e-10, 1e-300);
    CHECK_NEAR(r.sil, s_iris_sil, 1e-10);
    CHECK_REL(r.db, s_iris_db, 1e-9, 1e-300);
    CHECK_REL(r.ch, s_iris_ch, 1e-9, 1e-300);
    CHECK_REL(r.ari, s_iris_ari, 1e-9, 1e-300);
    /* the empty-cluster rule: the far centroid takes the farthest point */
    size_t init2[3] = {0, 50, SIZE_MAX};
    double far[4] = {100, 100, 100, 100};
    s_lloyd(t, false, init2, far, 3, &r);
    for (size_t i = 0; i < 12; i++) {
        CHECK_NEAR(r.c[i], s_empty_c[i], 1e-10);
    }
    CHECK_REL(r.inertia, s_empty_inertia, 1e-10, 1e-300);
    ch_table_destroy(&t);
}

static void test_wine(void)
{
    ch_table *t = s_load("data/wine.csv");
    size_t init[3] = {0, 60, 130};
    s_result r;
    s_lloyd(t, true, init, NULL, 3, &r);
    for (size_t i = 0; i < 39; i++) {
        CHECK_NEAR(r.c[i], s_wine_c[i], 1e-10);
    }
    CHECK_REL(r.inertia, s_wine_inertia, 1e-10, 1e-300);
    CHECK_NEAR(r.sil, s_wine_sil, 1e-10);
    CHECK_REL(r.db, s_wine_db, 1e-9, 1e-300);
    CHECK_REL(r.ch, s_wine_ch, 1e-9, 1e-300);
    CHECK_REL(r.ari, s_wine_ari, 1e-9, 1e-300);
    ch_table_destroy(&t);
}

/* Moments of two halves combined equal those of the whole (1e-12). */
static void test_moments(void)
{
    ch_table *t = s_load("data/wine.csv");
    size_t n = t->n_rows, d = t->n_cols, len = ch_cl_moments_len(d);
    size_t *rows = malloc(n * sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        rows[i] = i;
    }
    double *a = malloc(len * sizeof *a), *b = malloc(len * sizeof *b), *c = malloc(len * sizeof *c),
           *all = malloc(len * sizeof *all);
    ch_cl_moments_leaf(t, rows, 70, a);
    ch_cl_moments_leaf(t, rows + 70, n - 70, b);
    ch_cl_moments_combine(NULL, len, a, b, c);
    ch_cl_moments_leaf(t, rows, n, all);
    CHECK(c[0] == (double)n && c[1] == 0);
    for (size_t j = 2; j < len; j++) {
        CHECK_REL(c[j], all[j], 1e-12, 1e-12);
    }
    free(rows);
    free(a);
    free(b);
    free(c);
    free(all);
    ch_table_destroy(&t);
}

/* k-means++ finds only the distinct points there are. */
static void test_plusplus(void)
{
    double x[] = {0, 0, 1, 1, 0, 0, 1, 1, 0, 0};
    double w[] = {1, 1, 1, 1, 1};
    double c[6];
    ch_rng rng;
    ch_rng_init(&rng, 1, 1);
    CHECK(ch_km_plusplus(x, w, 5, 2, 3, &rng, c) == 2);
    ch_rng_init(&rng, 1, 1);
    CHECK(ch_km_plusplus(x, w, 5, 2, 2, &rng, c) == 2);
    CHECK(fabs(c[0] - c[2]) == 1);
}

/* Gathered rows: block order whatever order they arrive in; bad input. */
static void test_rows(void)
{
    ch_buf a, b;
    ch_buf_init(&a);
    ch_buf_init(&b);
    uint64_t ids0[2] = {7, 8}, ids1[1] = {3};
    double x0[4] = {1, 2, 3, 4}, x1[2] = {5, 6};
    CHECK(ch_cl_rows_put(&b, 1, 1, ids1, x1, 2) == 0);
    CHECK(ch_cl_rows_put(&a, 0, 2, ids0, x0, 2) == 0);
    ch_cl_rows g;
    CHECK(ch_cl_rows_init(&g, 2, 2) == 0);
    ch_err err;
    ch_err_clear(&err);
    CHECK(ch_cl_rows_add(&g, b.data, b.len, &err) == 0);
    CHECK(ch_cl_rows_add(&g, a.data, a.len, &err) == 0);
    CHECK(ch_cl_rows_add(&g, a.data, a.len, &err) == CH_EPROTO); /* block 0 twice */
    double *x;
    uint64_t *ids;
    size_t m;
    CHECK(ch_cl_rows_finish(&g, &x, &ids, &m, &err) == 0);
    CHECK(m == 3 && ids[0] == 7 && ids[2] == 3 && x[4] == 5);
    free(x);
    free(ids);
    ch_cl_rows_free(&g);
    CHECK(ch_cl_rows_init(&g, 2, 2) == 0);
    CHECK(ch_cl_rows_add(&g, a.data, a.len - 1, &err) == CH_EPROTO); /* truncated */
    ch_cl_rows_free(&g);
    CHECK(ch_cl_rows_init(&g, 1, 2) == 0);
    CHECK(ch_cl_rows_add(&g, b.data, b.len, &err) == CH_EPROTO);   /* block out of range */
    CHECK(ch_cl_rows_finish(&g, &x, &ids, &m, &err) == CH_EINVAL); /* block 0 missing */
    ch_cl_rows_free(&g);
    ch_buf_free(&a);
    ch_buf_free(&b);
}

int main(void)
{
    test_iris();
    test_wine();
    test_moments();
    test_plusplus();
    test_rows();
    CH_TEST_END();
}
