/* test_dbscan.c: DBSCAN against scikit-learn 1.2 (Debian's python3-sklearn)
 * on the bundled moons data and on generated 2-D blobs with uniform noise:
 * the same labels (not only up to relabelling: cohort numbers clusters and
 * assigns border points as scikit-learn does, dbscan.h), the same core set;
 * and the same result for 1, 2, 3, 4 and 7 cells. Exact comparisons: no
 * tolerance is needed for labels; the k-distance values are checked to
 * 1e-12, the silhouette and Davies-Bouldin index (noise left out) to 1e-9
 * of scikit-learn's silhouette_score and davies_bouldin_score (summation
 * order differs; the observed difference is below 1e-14). Run with --dump-blobs to print the
 * generated blobs as CSV (how the blob references below were made). */
#include "algorithms/dbscan/dbscan.h"
#include "tests/check.h"

#include <stdint.h>

static const int moons_e03_5[100] = {
    1, 2, 0,  0,  0, 1, 0, 1, 3, 2, 1, 0, 3, -1, 0, 2, 0, 2, 0, 0, 0, 3,  2, 1,  2,
    0, 4, -1, 1,  2, 1, 1, 0, 3, 1, 4, 0, 2, 1,  3, 4, 4, 0, 4, 2, 4, -1, 4, -1, 2,
    5, 5, 6,  6,  6, 6, 6, 5, 5, 6, 5, 5, 5, 6,  6, 5, 6, 6, 6, 5, 6, 6,  5, -1, -1,
    6, 5, 6,  -1, 5, 6, 5, 5, 6, 6, 5, 5, 6, -1, 5, 6, 5, 5, 5, 6, 6, 6,  5, 6,  6};
static const int moons_e03_5_core[100] = {
    0, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0,
    1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0,
    0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0,
    1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0};
/* sample_weight = 0.25 + 0.5 * (i mod 3) */
static const int moons_w[100] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                 -1, -1, -1, -1, -1, -1, -1, -1, -1, 0,  -1, -1, -1, -1, -1, -1, -1,
                                 -1, -1, -1, -1, -1, -1, 0,  0,  -1, 0,  -1, 0,  -1, 0,  -1, -1, 1,
                                 1,  2,  2,  2,  2,  2,  1,  1,  2,  1,  1,  1,  2,  2,  1,  2,  2,
                                 2,  1,  2,  2,  1,  -1, -1, 2,  1,  2,  -1, 1,  2,  1,  -1, 2,  2,
                                 1,  1,  2,  -1, 1,  2,  1,  1,  -1, 2,  2,  2,  1,  2,  2};
static const int moons_w_core[100] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                      0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 0,
                                      1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0,
                                      1, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 0, 0, 1, 1, 0};
static const int moons_l1[100] = {
    -1, 2,  0,  0,  0,  1, 0, 1,  -1, -1, 1,  -1, -1, -1, 0,  2,  -1, 2, -1, -1, -1, -1, -1, 1,  2,
    -1, -1, -1, 1,  -1, 1, 1, -1, -1, 1,  -1, -1, 2,  1,  -1, -1, -1, 0, -1, 2,  -1, -1, -1, -1, -1,
    3,  3,  4,  4,  4,  4, 4, 3,  3,  4,  3,  3,  3,  4,  4,  3,  4,  4, 4,  3,  4,  4,  3,  -1, -1,
    4,  3,  4,  -1, 3,  4, 3, 3,  4,  4,  3,  3,  4,  -1, 3,  4,  3,  3, 3,  4,  4,  4,  3,  4,  4};
static const int moons_l1_core[100] = {0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0,
                                       0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                       0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 0,
                                       0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1,
                                       1, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0};
static const int moons_cos[100] = {
    0, 0,  1, 1, 1,  -1, 1,  -1, 0, 1, -1, 1, 0, 0,  1, 0, 1, 1, 1, 1, 1,  0, 1, 0, 0,
    1, -1, 0, 0, -1, 0,  -1, 1,  0, 0, 0,  1, 1, -1, 0, 1, 0, 1, 1, 1, -1, 1, 1, 0, 1,
    0, 0,  0, 0, 0,  0,  0,  0,  0, 0, 0,  0, 0, 0,  0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0,
    0, 0,  0, 0, 0,  0,  0,  0,  0, 0, 0,  0, 0, 0,  0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0};
static const int moons_cos_core[100] = {1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                        1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 1,
                                        1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

static ch_table *s_moons(void)
{
    const char *src = getenv("COHORT_SRC");
    char path[4096];
    snprintf(path, sizeof path, "%s/data/moons.csv", src ? src : ".");
    ch_err err;
    ch_table *t = ch_table_read(path, CH_FORMAT_CSV, &err);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
    }
    return t;
}

/* splitmix64: the blob generator's stream */
static uint64_t s_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double s_unif(uint64_t *s)
{
    return (double)(s_next(s) >> 11) * 0x1.0p-53;
}

/* n points: 5 Gaussian blobs (sd 0.5) around fixed centres, every 10th
 * point uniform noise in [-10, 10]^2; rounded to 1e-6 so the CSV is exact. */
static ch_table *s_blobs(size_t n)
{
    static const double cx[5] = {-6, -2, 3, 6, 0}, cy[5] = {-5, 4, -1, 6, 0};
    uint64_t st = 20240611;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        double a, b;
        if (i % 10 == 9) {
            a = -10 + 20 * s_unif(&st);
            b = -10 + 20 * s_unif(&st);
        } else {
            size_t c = i % 5;
            double u1 = s_unif(&st), u2 = s_unif(&st);
            double r = sqrt(-2 * log(u1 > 0 ? u1 : 1e-300));
            a = cx[c] + 0.5 * r * cos(2 * M_PI * u2);
            b = cy[c] + 0.5 * r * sin(2 * M_PI * u2);
        }
        x[i] = round(a * 1e6) / 1e6;
        y[i] = round(b * 1e6) / 1e6;
    }
    ch_table *t = ch_table_new(n);
    ch_table_add_column(t, "x", CH_COL_NUMERIC, x, NULL, 0);
    ch_table_add_column(t, "y", CH_COL_NUMERIC, y, NULL, 0);
    return t;
}

/* FNV-1a over the labels (as int32) and core flags */
static uint64_t s_hash(const ch_db_result *r)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < r->n; i++) {
        int32_t l = r->label[i];
        uint8_t b[5];
        memcpy(b, &l, 4);
        b[4] = r->core[i];
        for (int k = 0; k < 5; k++) {
            h = (h ^ b[k]) * 1099511628211ull;
        }
    }
    return h;
}

static ch_db_params s_params(double eps, double ms, ch_db_metric m)
{
    ch_db_params p = {.eps = eps,
                      .min_samples = ms,
                      .metric = m,
                      .brute_dims = 16,
                      .kdist_sample = 1000,
                      .silhouette_max_rows = 10000};
    return p;
}

/* The result for every cell count equals the reference labels and cores. */
static void s_check_moons(ch_table *t, const ch_db_params *p, const int *lab, const int *core,
                          const char *what)
{
    static const size_t cells[] = {1, 2, 3, 4, 7};
    for (size_t c = 0; c < sizeof cells / sizeof cells[0]; c++) {
        ch_db_result r;
        ch_err err;
        int rc = ch_db_fit(t, p, cells[c], &r, &err);
        CHECK(rc == 0);
        if (rc != 0) {
            fprintf(stderr, "%s: %s\n", what, err.msg);
            continue;
        }
        size_t bad_l = 0, bad_c = 0;
        for (size_t i = 0; i < 100; i++) {
            bad_l += r.label[i] != lab[i];
            bad_c += r.core[i] != core[i];
        }
        if (bad_l || bad_c) {
            fprintf(stderr, "%s, %zu cells: %zu labels and %zu core flags differ\n", what, cells[c],
                    bad_l, bad_c);
        }
        CHECK(bad_l == 0);
        CHECK(bad_c == 0);
        ch_db_result_free(&r);
    }
}

static void test_moons(void)
{
    ch_table *t = s_moons();
    CHECK(t != NULL);
    if (!t) {
        return;
    }
    CHECK(t->n_rows == 100 && t->n_cols == 2);
    ch_db_params p = s_params(0.3, 5, CH_DB_EUCLIDEAN);
    s_check_moons(t, &p, moons_e03_5, moons_e03_5_core, "euclidean");
    p.brute_dims = 0; /* the blocked BLAS path must agree */
    s_check_moons(t, &p, moons_e03_5, moons_e03_5_core, "euclidean, BLAS");
    p = s_params(0.35, 5, CH_DB_MANHATTAN);
    s_check_moons(t, &p, moons_l1, moons_l1_core, "manhattan");
    p = s_params(0.02, 5, CH_DB_COSINE);
    s_check_moons(t, &p, moons_cos, moons_cos_core, "cosine");
    t->weights = malloc(100 * sizeof(double));
    for (size_t i = 0; i < 100; i++) {
        t->weights[i] = 0.25 + 0.5 * (double)(i % 3);
    }
    p = s_params(0.3, 5, CH_DB_EUCLIDEAN);
    s_check_moons(t, &p, moons_w, moons_w_core, "weighted");
    free(t->weights);
    t->weights = NULL;

    /* k-distance: NearestNeighbors(n_neighbors=5).kneighbors(X)[0][:, 4], sorted */
    ch_db_result r;
    ch_err err;
    CHECK(ch_db_fit(t, &p, 3, &r, &err) == 0);
    CHECK(r.n_kdist == 100);
    if (r.n_kdist == 100) {
        CHECK_NEAR(r.kdist[0], 0.08452020331463077, 1e-12);
        CHECK_NEAR(r.kdist[50], 0.286865290955831, 1e-12);
        CHECK_NEAR(r.kdist[99], 0.5535281300275713, 1e-12);
        size_t knee = ch_db_knee(r.kdist, r.n_kdist);
        CHECK(knee > 50 && knee < 99);
    }
    ch_db_result_free(&r);
    ch_table_destroy(&t);
}

/* scikit-learn on the 20000 blobs of s_blobs (eps 0.15, min_samples 10):
 * clusters, noise, core count and the hash of labels and core flags */
#define BLOB_N        20000
#define BLOB_CLUSTERS 5
#define BLOB_NOISE    2390
#define BLOB_CORE     17175
#define BLOB_HASH     11047149588378250545ull

static void test_blobs(void)
{
    ch_table *t = s_blobs(BLOB_N);
    ch_db_params p = s_params(0.15, 10, CH_DB_EUCLIDEAN);
    static const size_t cells[] = {1, 2, 4, 7};
    for (size_t c = 0; c < sizeof cells / sizeof cells[0]; c++) {
        ch_db_result r;
        ch_err err;
        int rc = ch_db_fit(t, &p, cells[c], &r, &err);
        CHECK(rc == 0);
        if (rc != 0) {
            continue;
        }
        printf("blobs, %zu cells: %zu clusters, %zu noise, %zu core, hash %llu\n", cells[c],
               r.n_clusters, r.n_noise, r.n_core, (unsigned long long)s_hash(&r));
        CHECK(r.n_clusters == BLOB_CLUSTERS);
        CHECK(r.n_noise == BLOB_NOISE);
        CHECK(r.n_core == BLOB_CORE);
        CHECK(s_hash(&r) == BLOB_HASH);
        ch_db_result_free(&r);
    }
    ch_table_destroy(&t);
}

/* Silhouette and Davies-Bouldin, noise left out, against scikit-learn 1.2.1:
 *   m = labels != -1
 *   silhouette_score(X[m], labels[m]), davies_bouldin_score(X[m], labels[m])
 * and, for the sample, silhouette_score(X[m][idx], labels[m][idx]) with
 * idx = (arange(10000) * m.sum()) // 10000. */
static void test_quality(void)
{
    ch_table *t = s_moons();
    CHECK(t != NULL);
    if (!t) {
        return;
    }
    int32_t lab[100];
    for (size_t i = 0; i < 100; i++) {
        lab[i] = moons_e03_5[i];
    }
    ch_db_quality q;
    ch_err err;
    CHECK(ch_db_quality_of(t, lab, 7, 10000, &q, &err) == 0);
    CHECK(q.clustered == 92 && q.silhouette_rows == 92);
    CHECK_NEAR(q.silhouette, 0.6083019918667724, 1e-9);
    CHECK_NEAR(q.davies_bouldin, 0.5354850311507804, 1e-9);
    /* one cluster: both undefined (scikit-learn raises) */
    for (size_t i = 0; i < 100; i++) {
        lab[i] = i % 4 == 0 ? -1 : 0;
    }
    CHECK(ch_db_quality_of(t, lab, 1, 10000, &q, &err) == 0);
    CHECK(isnan(q.silhouette) && isnan(q.davies_bouldin));
    ch_table_destroy(&t);

    t = s_blobs(BLOB_N);
    ch_db_params p = s_params(0.15, 10, CH_DB_EUCLIDEAN);
    ch_db_result r;
    CHECK(ch_db_fit(t, &p, 2, &r, &err) == 0);
    CHECK(ch_db_quality_of(t, r.label, r.n_clusters, 20000, &q, &err) == 0);
    CHECK(q.clustered == 17610 && q.silhouette_rows == 17610);
    CHECK_NEAR(q.silhouette, 0.8186270446042612, 1e-9);
    CHECK_NEAR(q.davies_bouldin, 0.2682497771102673, 1e-9);
    CHECK(ch_db_quality_of(t, r.label, r.n_clusters, 10000, &q, &err) == 0);
    CHECK(q.silhouette_rows == 10000);
    CHECK_NEAR(q.silhouette, 0.8194621717078384, 1e-9);
    CHECK_NEAR(q.davies_bouldin, 0.2682497771102673, 1e-9);
    ch_db_result_free(&r);
    ch_table_destroy(&t);
}

static void test_bad(void)
{
    ch_err err;
    ch_db_result r;
    ch_table *t = s_blobs(1);
    ch_db_params p = s_params(0.5, 2, CH_DB_EUCLIDEAN);
    CHECK(ch_db_fit(t, &p, 1, &r, &err) == CH_EINVAL);
    CHECK(strstr(err.msg, "at least two points") != NULL);
    ch_table_destroy(&t);
    t = s_blobs(50);
    t->cols[1].values[17] = NAN;
    CHECK(ch_db_fit(t, &p, 2, &r, &err) == CH_EINVAL);
    CHECK(strstr(err.msg, "row 18") != NULL && strstr(err.msg, "'y'") != NULL);
    ch_table_destroy(&t);
}

static void test_unionfind(void)
{
    ch_uf u;
    CHECK(ch_uf_init(&u, 10) == 0);
    ch_uf_union(&u, 7, 3);
    ch_uf_union(&u, 9, 7);
    ch_uf_union(&u, 5, 6);
    CHECK(ch_uf_find(&u, 9) == 3);
    CHECK(ch_uf_find(&u, 6) == 5);
    CHECK(ch_uf_find(&u, 0) == 0);
    ch_uf_union(&u, 6, 9);
    CHECK(ch_uf_find(&u, 5) == 3);
    ch_uf_free(&u);
    double y[] = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 3, 9};
    CHECK(ch_db_knee(y, 8) == 5);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--dump-blobs") == 0) {
        ch_table *t = s_blobs(BLOB_N);
        printf("x,y\n");
        for (size_t i = 0; i < t->n_rows; i++) {
            printf("%.6f,%.6f\n", t->cols[0].values[i], t->cols[1].values[i]);
        }
        ch_table_destroy(&t);
        return 0;
    }
    test_unionfind();
    test_moons();
    test_blobs();
    test_quality();
    test_bad();
    CH_TEST_END();
}
