/* test_gbt_shap.c: TreeSHAP contributions (algorithms/gbt/shap.c) against
 * Shapley values computed from their definition: for every subset S of the
 * features, v(S) = the tree's expected output given x_S, the others
 * integrated out by training cover (the value function TreeSHAP's
 * path-dependent algorithm and XGBoost's pred_contribs use); phi_i =
 * sum over S without i of |S|! (M - |S| - 1)! / M! (v(S + i) - v(S)). The
 * tree repeats a feature on a path (the unwind step) and a row has a
 * missing value (the default direction). Tolerance 1e-12 absolute: both
 * sides are a few dozen double operations on values of order 1. */
#include "algorithms/gbt/gbt.h"
#include "tests/check.h"

#define M 4 /* features */

/* (feature, threshold, left, right, default_left, value, cover) */
static const struct {
    int32_t f;
    float thr;
    int32_t l, r;
    bool dl;
    double v, cover;
} s_nodes[] = {
    {0, 0.5f, 1, 2, true, 0, 100},    /* 0 */
    {1, 0.3f, 3, 4, false, 0, 60},    /* 1 */
    {0, 0.8f, 5, 6, true, 0, 40},     /* 2: feature 0 again */
    {2, 0.1f, 7, 8, true, 0, 25},     /* 3 */
    {-1, 0, -1, -1, false, 1.5, 35},  /* 4 */
    {-1, 0, -1, -1, false, -0.7, 15}, /* 5 */
    {3, 0.5f, 9, 10, false, 0, 25},   /* 6 */
    {-1, 0, -1, -1, false, 0.2, 10},  /* 7 */
    {-1, 0, -1, -1, false, -1.1, 15}, /* 8 */
    {-1, 0, -1, -1, false, 2.0, 5},   /* 9 */
    {-1, 0, -1, -1, false, 0.4, 20},  /* 10 */
};

static ch_gbt_tree s_tree(void)
{
    ch_gbt_tree t = {0};
    size_t n = sizeof s_nodes / sizeof s_nodes[0];
    t.nodes = calloc(n, sizeof *t.nodes);
    t.n = t.cap = n;
    for (size_t i = 0; i < n; i++) {
        ch_gbt_node *nd = &t.nodes[i];
        nd->feature = s_nodes[i].f < 0 ? 0 : s_nodes[i].f;
        nd->threshold = s_nodes[i].thr;
        nd->left = s_nodes[i].l;
        nd->right = s_nodes[i].r;
        nd->default_left = s_nodes[i].dl;
        nd->value = s_nodes[i].v;
        nd->cover = s_nodes[i].cover;
    }
    return t;
}

/* v(S) for row x: S a bit set of features */
static double s_value(const ch_gbt_tree *t, int32_t k, const double *x, unsigned S)
{
    const ch_gbt_node *nd = &t->nodes[k];
    if (nd->left < 0) {
        return nd->value;
    }
    if (S & (1u << nd->feature)) {
        double v = x[nd->feature];
        bool left = isnan(v) ? nd->default_left : (float)v < nd->threshold;
        return s_value(t, left ? nd->left : nd->right, x, S);
    }
    const ch_gbt_node *l = &t->nodes[nd->left], *r = &t->nodes[nd->right];
    return (l->cover * s_value(t, nd->left, x, S) + r->cover * s_value(t, nd->right, x, S)) /
           nd->cover;
}

static double s_fact(int n)
{
    double f = 1;
    for (int i = 2; i <= n; i++) {
        f *= i;
    }
    return f;
}

static void s_brute(const ch_gbt_tree *t, const double *x, double *phi)
{
    for (int i = 0; i < M; i++) {
        phi[i] = 0;
        for (unsigned S = 0; S < (1u << M); S++) {
            if (S & (1u << i)) {
                continue;
            }
            int s = __builtin_popcount(S);
            double w = s_fact(s) * s_fact(M - s - 1) / s_fact(M);
            phi[i] += w * (s_value(t, 0, x, S | (1u << i)) - s_value(t, 0, x, S));
        }
    }
    phi[M] = s_value(t, 0, x, 0);
}

int main(void)
{
    const double rows[][M] = {
        {0.2, 0.1, 0.05, 0.9}, {0.2, 0.9, 0.5, 0.1}, {0.6, 0.1, 0.05, 0.2},
        {0.9, 0.5, 0.5, 0.7},  {0.7, NAN, 0.0, 0.3}, {0.1, NAN, 0.2, NAN},
    };
    size_t n = sizeof rows / sizeof rows[0];
    ch_table *tab = ch_table_new(n);
    for (int j = 0; j < M && tab; j++) {
        double *v = malloc(n * sizeof *v);
        for (size_t i = 0; i < n; i++) {
            v[i] = rows[i][j];
        }
        char name[8];
        snprintf(name, sizeof name, "x%d", j);
        CHECK(ch_table_add_column(tab, name, CH_COL_NUMERIC, v, NULL, 0) == 0);
    }
    ch_gbt_tree t = s_tree();
    for (size_t i = 0; i < n && tab; i++) {
        double got[M + 1] = {0}, want[M + 1];
        CHECK(ch_gbt_tree_contribs(&t, tab, i, got, M) == 0);
        s_brute(&t, rows[i], want);
        double sum = 0;
        for (int j = 0; j <= M; j++) {
            CHECK_NEAR(got[j], want[j], 1e-12);
            sum += got[j];
        }
        /* local accuracy: the contributions and the bias add up to the leaf */
        CHECK_NEAR(sum, t.nodes[ch_gbt_tree_leaf_raw(&t, tab, i)].value, 1e-12);
    }
    ch_gbt_tree_free(&t);
    ch_table_destroy(&tab);
    CH_TEST_END();
}
