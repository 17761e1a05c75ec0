/* test_isolation_forest.c: isolation trees against scikit-learn 1.2.1
 * (Debian's python3-sklearn), numbers from bench/isolation_forest/reference.py.
 *
 *  - c(n) (sklearn's _average_path_length): exact to 1e-12 relative.
 *  - path length and score: three trees of IsolationForest(n_estimators=3,
 *    max_samples=32, random_state=7) on data/digits.csv, exported node by
 *    node and walked by ch_itree_path / ch_iforest_score: the scores of rows
 *    0..19 equal -score_samples to 1e-12 (digits are integers, so sklearn's
 *    float32 inputs compare like our doubles).
 *  - statistics of whole forests (random trees differ from sklearn's, so
 *    only distributions compare): on data/breast_cancer.csv (malignant the
 *    anomalous class, 100 trees, max_samples 256) the mean AUC over our
 *    seeds 1..20 is within 0.01 of sklearn's mean over seeds 0..39 (0.787900,
 *    sd 0.023 between seeds, so the standard error of that mean is 0.004);
 *    mean, sd and quantiles of the scores within 0.01.
 *  - rules: the same tree for the same (seed, index); categorical,
 *    missing and constant columns; hyperplane splits; bad input. */
#include "algorithms/isolation_forest/forest.h"
#include "common/rng.h"
#include "tests/check.h"

#include <stdint.h>

/* tree 0: 27 nodes */
static const int sk0_feature[] = {6,  38, 20, 62, 19, -1, -1, -1, 61, 9,  -1, -1, 5, -1,
                                  -1, 27, 38, -1, -1, 53, -1, -1, 44, 11, -1, -1, -1};
static const double sk0_threshold[] = {6.3394691028350358,
                                       8.0033081928283476,
                                       11.80264184428502,
                                       9.992632895704654,
                                       12.035443032642567,
                                       -2,
                                       -2,
                                       -2,
                                       4.3772887160895806,
                                       5.5687494387704648,
                                       -2,
                                       -2,
                                       1.8777498062130762,
                                       -2,
                                       -2,
                                       8.1743162559225766,
                                       10.339704933268813,
                                       -2,
                                       -2,
                                       15.686702597740434,
                                       -2,
                                       -2,
                                       10.181733723814475,
                                       14.309883784181384,
                                       -2,
                                       -2,
                                       -2};
static const int sk0_left[] = {1,  2,  3,  4,  5,  -1, -1, -1, 9,  10, -1, -1, 13, -1,
                               -1, 16, 17, -1, -1, 20, -1, -1, 23, 24, -1, -1, -1};
static const int sk0_right[] = {22, 15, 8,  7,  6,  -1, -1, -1, 12, 11, -1, -1, 14, -1,
                                -1, 19, 18, -1, -1, 21, -1, -1, 26, 25, -1, -1, -1};
static const int sk0_n[] = {32, 29, 25, 16, 15, 13, 2, 1, 9, 2, 1, 1, 7, 3,
                            4,  4,  2,  1,  1,  2,  1, 1, 3, 2, 1, 1, 1};
/* tree 1: 23 nodes */
static const int sk1_feature[] = {7,  26, 19, 12, -1, 30, -1, -1, -1, 26, 11, 22,
                                  -1, -1, 17, -1, -1, 18, -1, 17, -1, -1, -1};
static const double sk1_threshold[] = {10.349446394643488,
                                       8.3389182427613608,
                                       15.031513310517889,
                                       4.4441381066311791,
                                       -2,
                                       2.0068877460467105,
                                       -2,
                                       -2,
                                       -2,
                                       13.8842461774518,
                                       14.672419410046384,
                                       6.4805282249490395,
                                       -2,
                                       -2,
                                       7.734775382901903,
                                       -2,
                                       -2,
                                       5.246358818489294,
                                       -2,
                                       3.3675250426714891,
                                       -2,
                                       -2,
                                       -2};
static const int sk1_left[] = {1,  2,  3,  4,  -1, 6,  -1, -1, -1, 10, 11, 12,
                               -1, -1, 15, -1, -1, 18, -1, 20, -1, -1, -1};
static const int sk1_right[] = {22, 9,  8,  5,  -1, 7,  -1, -1, -1, 17, 14, 13,
                                -1, -1, 16, -1, -1, 19, -1, 21, -1, -1, -1};
static const int sk1_n[] = {32, 31, 13, 12, 1, 11, 7, 4,  1, 18, 7, 5,
                            4,  1,  2,  1,  1, 11, 1, 10, 9, 1,  1};
/* tree 2: 31 nodes */
static const int sk2_feature[] = {49, 45, 46, 19, 52, -1, -1, 25, -1, -1, 4,  4,  -1, -1, 2, -1,
                                  -1, 36, 19, 25, -1, -1, 30, -1, -1, 25, 19, -1, -1, -1, -1};
static const double sk2_threshold[] = {6.1204785844872136,
                                       12.377898825508495,
                                       1.3003494224047052,
                                       1.0430322592347079,
                                       12.814653328067926,
                                       -2,
                                       -2,
                                       2.0078432988411947,
                                       -2,
                                       -2,
                                       7.6397924766129783,
                                       1.3638918741438035,
                                       -2,
                                       -2,
                                       7.6145637145333751,
                                       -2,
                                       -2,
                                       11.425456275895916,
                                       8.1630817466243553,
                                       5.3448079551313112,
                                       -2,
                                       -2,
                                       6.6745820821610193,
                                       -2,
                                       -2,
                                       2.2889145623375264,
                                       5.0958082871957719,
                                       -2,
                                       -2,
                                       -2,
                                       -2};
static const int sk2_left[] = {1,  2,  3,  4,  5,  -1, -1, 8,  -1, -1, 11, 12, -1, -1, 15, -1,
                               -1, 18, 19, 20, -1, -1, 23, -1, -1, 26, 27, -1, -1, -1, -1};
static const int sk2_right[] = {30, 17, 10, 7,  6,  -1, -1, 9,  -1, -1, 14, 13, -1, -1, 16, -1,
                                -1, 25, 22, 21, -1, -1, 24, -1, -1, 29, 28, -1, -1, -1, -1};
static const int sk2_n[] = {32, 31, 21, 14, 6, 3, 3, 8, 4, 4, 7, 2, 1, 1, 5, 4,
                            1,  10, 6,  2,  1, 1, 4, 2, 2, 4, 3, 1, 2, 1, 1};
static const double sk_scores[20] = {
    0.44829019411383203, 0.51057902854457915, 0.45264201460563258, 0.44909151817775034,
    0.48879433943425094, 0.52028457238884451, 0.45851978390944359, 0.60562399774374265,
    0.41280187520044953, 0.42052435216763767, 0.39197318672309772, 0.4732405048395682,
    0.48115626754083063, 0.45264201460563258, 0.49469684746515757, 0.44829019411383203,
    0.59098822379971871, 0.48835532405273036, 0.39966618280541455, 0.48180315935511114};

/* average_precision_score / roc_auc_score on a tied example */
static const double ex_label[10] = {1, 0, 1, 1, 0, 0, 1, 0, 0, 0};
static const double ex_score[10] = {0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.5, 0.4, 0.4, 0.1};
#define EX_AUC 0.8125
#define EX_AP  0.74702380952380953

/* sklearn on breast_cancer: mean over 40 seeds */
#define SK_AUC 0.787900
static const double sk_stats[6] = {0.425999, 0.053827, 0.376378, 0.410594, 0.498608, 0.623307};

static void s_convert_node(const int *feat, const double *thr, const int *l, const int *r,
                           const int *n, int sk, size_t depth, ch_itree *tr, size_t node)
{
    tr->flags[node] = 0;
    tr->left[node] = 0;
    if (l[sk] < 0) {
        tr->feature[node] = CH_IT_LEAF;
        tr->value[node] = (double)depth + ch_iforest_c(n[sk]);
        return;
    }
    tr->feature[node] = feat[sk];
    tr->value[node] = thr[sk];
    size_t first = tr->n_nodes;
    tr->n_nodes += 2;
    tr->left[node] = (uint32_t)first;
    s_convert_node(feat, thr, l, r, n, l[sk], depth + 1, tr, first);
    s_convert_node(feat, thr, l, r, n, r[sk], depth + 1, tr, first + 1);
}

static void s_convert(const int *feat, const double *thr, const int *l, const int *r, const int *n,
                      size_t count, ch_itree *tr)
{
    memset(tr, 0, sizeof *tr);
    tr->n_samples = 32;
    tr->feature = calloc(count, sizeof *tr->feature);
    tr->value = calloc(count, sizeof *tr->value);
    tr->left = calloc(count, sizeof *tr->left);
    tr->flags = calloc(count, sizeof *tr->flags);
    tr->n_nodes = 1;
    s_convert_node(feat, thr, l, r, n, 0, 0, tr, 0);
}

static int s_dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double s_quantile(const double *sorted, size_t n, double q)
{
    double h = q * (double)(n - 1);
    size_t lo = (size_t)h;
    return lo + 1 < n ? sorted[lo] + (h - (double)lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
}

static void test_c(void)
{
    static const double n[9] = {0, 1, 2, 3, 5, 10, 256, 1000, 1000000};
    static const double sk[9] = {0,
                                 0,
                                 1,
                                 1.207392357589623,
                                 2.327020052042847,
                                 3.7488804844755039,
                                 10.244770920119917,
                                 12.969940887100172,
                                 26.785452445730613};
    for (size_t i = 0; i < 9; i++) {
        CHECK_REL(ch_iforest_c(n[i]), sk[i], 1e-12, 1e-300);
    }
    CHECK(ch_iforest_max_depth(256) == 8);
    CHECK(ch_iforest_max_depth(257) == 9);
    CHECK(ch_iforest_max_depth(32) == 5);
    CHECK(ch_iforest_max_depth(2) == 1);
}

static void test_sklearn_trees(void)
{
    ch_err err;
    ch_err_clear(&err);
    ch_table *t = ch_csv_read(ch_test_path("data/digits.csv"), &err);
    CHECK(t != NULL);
    if (!t) {
        return;
    }
    CHECK(ch_table_set_target(t, "target", NULL, &err) == 0);
    CHECK(t->n_cols == 64);
    ch_itree tr[3];
    s_convert(sk0_feature, sk0_threshold, sk0_left, sk0_right, sk0_n,
              sizeof sk0_n / sizeof sk0_n[0], &tr[0]);
    s_convert(sk1_feature, sk1_threshold, sk1_left, sk1_right, sk1_n,
              sizeof sk1_n / sizeof sk1_n[0], &tr[1]);
    s_convert(sk2_feature, sk2_threshold, sk2_left, sk2_right, sk2_n,
              sizeof sk2_n / sizeof sk2_n[0], &tr[2]);
    for (size_t k = 0; k < 3; k++) {
        CHECK(ch_itree_check(&tr[k], t->cols, t->n_cols, &err) == 0);
    }
    double blocked[20];
    ch_iforest_score_rows(tr, 3, t, NULL, 20, blocked);
    for (size_t i = 0; i < 20; i++) {
        CHECK_REL(ch_iforest_score(tr, 3, t, i), sk_scores[i], 1e-12, 1e-300);
        CHECK(blocked[i] == ch_iforest_score(tr, 3, t, i));
    }
    /* a tree whose child points back at its parent is refused */
    uint32_t saved = tr[0].left[0];
    tr[0].left[0] = 0;
    CHECK(ch_itree_check(&tr[0], t->cols, t->n_cols, &err) == CH_EPROTO);
    tr[0].left[0] = saved;
    int32_t f = tr[0].feature[0];
    tr[0].feature[0] = 64;
    CHECK(ch_itree_check(&tr[0], t->cols, t->n_cols, &err) == CH_EPROTO);
    tr[0].feature[0] = f;
    for (size_t k = 0; k < 3; k++) {
        ch_itree_free(&tr[k]);
    }
    ch_table_destroy(&t);
}

/* Grows a forest of n_trees on all rows of t and scores every row. */
static int s_forest_scores(const ch_table *t, const ch_iforest_params *p, size_t n_trees,
                           double *score)
{
    ch_err err;
    ch_itree *tr = calloc(n_trees, sizeof *tr);
    int rc = 0;
    for (size_t k = 0; k < n_trees && rc == 0; k++) {
        rc = ch_itree_grow(t, NULL, t->n_rows, p, (uint32_t)k, &tr[k], &err);
    }
    for (size_t i = 0; i < t->n_rows && rc == 0; i++) {
        score[i] = ch_iforest_score(tr, n_trees, t, i);
    }
    for (size_t k = 0; k < n_trees; k++) {
        ch_itree_free(&tr[k]);
    }
    free(tr);
    return rc;
}

static void test_breast_cancer(void)
{
    ch_err err;
    ch_err_clear(&err);
    ch_table *t = ch_csv_read(ch_test_path("data/breast_cancer.csv"), &err);
    CHECK(t != NULL);
    if (!t) {
        return;
    }
    CHECK(ch_table_set_target(t, "target", "malignant", &err) == 0);
    size_t n = t->n_rows;
    double *score = calloc(n, sizeof *score);
    double *sorted = calloc(n, sizeof *sorted);
    double auc_sum = 0, stats[6] = {0};
    const int seeds = 20;
    for (int s = 1; s <= seeds; s++) {
        ch_iforest_params p = {.psi = 256, .max_features = t->n_cols, .seed = (uint64_t)s};
        CHECK(s_forest_scores(t, &p, 100, score) == 0);
        double auc, ap, pk;
        CHECK(ch_iforest_evaluate(t->target.values, score, n, 0.5, &auc, &ap, &pk) == 0);
        auc_sum += auc;
        double mean = 0, var = 0;
        for (size_t i = 0; i < n; i++) {
            mean += score[i] / (double)n;
            CHECK(score[i] > 0 && score[i] <= 1);
        }
        for (size_t i = 0; i < n; i++) {
            var += (score[i] - mean) * (score[i] - mean) / (double)n;
        }
        memcpy(sorted, score, n * sizeof *score);
        qsort(sorted, n, sizeof *sorted, s_dcmp);
        stats[0] += mean / seeds;
        stats[1] += sqrt(var) / seeds;
        stats[2] += s_quantile(sorted, n, 0.1) / seeds;
        stats[3] += s_quantile(sorted, n, 0.5) / seeds;
        stats[4] += s_quantile(sorted, n, 0.9) / seeds;
        stats[5] += s_quantile(sorted, n, 0.99) / seeds;
    }
    printf("breast_cancer: mean AUC %.6f (sklearn %.6f); score mean %.6f sd %.6f q10 %.6f q50 "
           "%.6f q90 %.6f q99 %.6f\n",
           auc_sum / seeds, SK_AUC, stats[0], stats[1], stats[2], stats[3], stats[4], stats[5]);
    CHECK_NEAR(auc_sum / seeds, SK_AUC, 0.01);
    for (size_t k = 0; k < 6; k++) {
        CHECK_NEAR(stats[k], sk_stats[k], 0.01);
    }
    /* extended isolation forest: hyperplanes over 4 columns still rank the
     * malignant rows high (no sklearn peer; the bound is loose) */
    double ext_auc = 0;
    for (int s = 1; s <= 5; s++) {
        ch_iforest_params p = {
            .psi = 256, .max_features = t->n_cols, .extension_level = 3, .seed = (uint64_t)s};
        CHECK(s_forest_scores(t, &p, 100, score) == 0);
        double auc, ap, pk;
        ch_iforest_evaluate(t->target.values, score, n, 0.5, &auc, &ap, &pk);
        ext_auc += auc / 5;
    }
    printf("breast_cancer extended (extension_level 3): mean AUC %.6f\n", ext_auc);
    CHECK(ext_auc > 0.7);
    free(score);
    free(sorted);
    ch_table_destroy(&t);
}

static void test_evaluate(void)
{
    double auc, ap, pk;
    CHECK(ch_iforest_evaluate(ex_label, ex_score, 10, 0.5, &auc, &ap, &pk) == 0);
    CHECK_NEAR(auc, EX_AUC, 1e-12);
    CHECK_NEAR(ap, EX_AP, 1e-12);
    CHECK_NEAR(pk, 0.75, 1e-12);
    double one[3] = {1, 1, 1};
    CHECK(ch_iforest_evaluate(one, ex_score, 3, 0.5, &auc, &ap, &pk) == 0);
    CHECK(isnan(auc));
}

static bool s_same_tree(const ch_itree *a, const ch_itree *b)
{
    return a->n_nodes == b->n_nodes && a->n_hp == b->n_hp &&
           !memcmp(a->feature, b->feature, a->n_nodes * sizeof *a->feature) &&
           !memcmp(a->value, b->value, a->n_nodes * sizeof *a->value) &&
           !memcmp(a->left, b->left, a->n_nodes * sizeof *a->left) &&
           !memcmp(a->flags, b->flags, a->n_nodes * sizeof *a->flags);
}

/* 300 rows: x normal, a constant column, a categorical column whose level
 * "rare" appears in 3 rows, and a column with every 5th value missing. */
static ch_table *s_mixed(void)
{
    size_t n = 300;
    ch_table *t = ch_table_new(n);
    double *x = malloc(n * sizeof *x), *k = malloc(n * sizeof *k), *c = malloc(n * sizeof *c),
           *m = malloc(n * sizeof *m);
    char **lv = malloc(3 * sizeof *lv);
    lv[0] = strdup("a");
    lv[1] = strdup("b");
    lv[2] = strdup("rare");
    ch_rng r;
    ch_rng_init(&r, 9, 1);
    for (size_t i = 0; i < n; i++) {
        x[i] = ch_rng_normal(&r);
        k[i] = 5.0;
        c[i] = i % 100 == 7 ? 2 : (double)(i % 2);
        m[i] = i % 5 == 0 ? NAN : ch_rng_normal(&r);
    }
    ch_table_add_column(t, "x", CH_COL_NUMERIC, x, NULL, 0);
    ch_table_add_column(t, "constant", CH_COL_NUMERIC, k, NULL, 0);
    ch_table_add_column(t, "kind", CH_COL_CATEGORICAL, c, lv, 3);
    ch_table_add_column(t, "gappy", CH_COL_NUMERIC, m, NULL, 0);
    return t;
}

static void test_rules(void)
{
    ch_err err;
    ch_err_clear(&err);
    ch_table *t = s_mixed();
    size_t n = t->n_rows;
    for (size_t ext = 0; ext <= 1; ext++) {
        ch_iforest_params p = {.psi = 128, .max_features = 4, .extension_level = ext, .seed = 3};
        ch_itree a, b;
        CHECK(ch_itree_grow(t, NULL, n, &p, 5, &a, &err) == 0);
        CHECK(ch_itree_grow(t, NULL, n, &p, 5, &b, &err) == 0);
        CHECK(s_same_tree(&a, &b));
        CHECK(ch_itree_check(&a, t->cols, t->n_cols, &err) == 0);
        ch_itree_free(&b);
        CHECK(ch_itree_grow(t, NULL, n, &p, 6, &b, &err) == 0);
        CHECK(!s_same_tree(&a, &b));
        ch_itree_free(&a);
        ch_itree_free(&b);
        /* the constant column is never split on; hyperplanes skip categoricals */
        bool constant_used = false, missing_ok = true;
        double rare = 0, common = 0;
        size_t n_rare = 0;
        size_t T = 50;
        ch_itree *tr = calloc(T, sizeof *tr);
        for (size_t k = 0; k < T; k++) {
            CHECK(ch_itree_grow(t, NULL, n, &p, (uint32_t)k, &tr[k], &err) == 0);
            for (size_t i = 0; i < tr[k].n_nodes; i++) {
                constant_used |= tr[k].feature[i] == 1;
            }
            for (size_t q = 0; q < tr[k].n_hp; q++) {
                constant_used |= tr[k].hp_feature[q] == 2 && false;
                CHECK(tr[k].hp_feature[q] != 2);
            }
        }
        for (size_t i = 0; i < n; i++) {
            double s = ch_iforest_score(tr, T, t, i);
            missing_ok &= s > 0 && s <= 1;
            if (t->cols[2].values[i] == 2) {
                rare += s;
                n_rare++;
            } else {
                common += s;
            }
        }
        CHECK(!constant_used);
        CHECK(missing_ok);
        if (ext == 0) {
            /* a rare level is isolated by a level split early */
            CHECK(rare / (double)n_rare > common / (double)(n - n_rare));
        }
        for (size_t k = 0; k < T; k++) {
            ch_itree_free(&tr[k]);
        }
        free(tr);
    }
    /* bad input */
    ch_itree a;
    ch_iforest_params p = {.psi = 128, .max_features = 4, .seed = 3};
    CHECK(ch_itree_grow(t, NULL, 1, &p, 0, &a, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "at least 2 rows");
    p.psi = 301;
    CHECK(ch_itree_grow(t, NULL, n, &p, 0, &a, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "max_samples 301");
    p.bootstrap = true; /* with replacement more rows than the table is fine */
    CHECK(ch_itree_grow(t, NULL, n, &p, 0, &a, &err) == 0);
    ch_itree_free(&a);
    p.psi = 64;
    p.max_features = 5;
    CHECK(ch_itree_grow(t, NULL, n, &p, 0, &a, &err) == CH_EINVAL);
    /* an all-constant table: every tree is one leaf, every score the same */
    double *k1 = malloc(10 * sizeof *k1);
    for (size_t i = 0; i < 10; i++) {
        k1[i] = 1;
    }
    ch_table *c = ch_table_new(10);
    ch_table_add_column(c, "k", CH_COL_NUMERIC, k1, NULL, 0);
    ch_iforest_params pc = {.psi = 10, .max_features = 1, .seed = 1};
    CHECK(ch_itree_grow(c, NULL, 10, &pc, 0, &a, &err) == 0);
    CHECK(a.n_nodes == 1);
    CHECK_NEAR(ch_iforest_score(&a, 1, c, 0), 0.5, 1e-12); /* h = c(psi) */
    ch_itree_free(&a);
    ch_table_destroy(&c);
    ch_table_destroy(&t);
}

int main(void)
{
    test_c();
    test_sklearn_trees();
    test_evaluate();
    test_breast_cancer();
    test_rules();
    CH_TEST_END();
}
