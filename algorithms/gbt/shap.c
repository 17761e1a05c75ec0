/* shap.c: exact TreeSHAP feature contributions of boosted trees.
 *
 * The path-dependent algorithm of Lundberg, Erion and Lee, "Consistent
 * individualized feature attribution for tree ensembles" (2018), Algorithm
 * 2, the one XGBoost's pred_contribs computes: for one row and one tree it
 * walks every root-to-leaf path once, keeping for the features met on the
 * path the fraction of training cover that follows the path ("zero") and
 * whether the row follows it ("one"), and the weights of every subset size
 * of those features; a feature met twice is unwound and extended again.
 * The contribution of feature f is the Shapley value of the game whose
 * value for a set S is the tree's expected output given x_S, the other
 * features integrated out by training cover. Per tree the contributions
 * sum to the row's leaf value minus the tree's expected value; the bias
 * column holds the base margin plus the expected values. */
#include "algorithms/gbt/gbt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct s_elem {
    int32_t feature; /* -1 for the root's placeholder */
    double zero;     /* fraction of cover that follows the path */
    double one;      /* 1 when the row follows the path, else 0 */
    double w;        /* weight of the subsets of this size */
} s_elem;

/* Appends (feature, zero, one) to the path m[0..l) and updates the subset
 * weights; m has room for l + 1 elements. */
static void s_extend(s_elem *m, size_t l, double zero, double one, int32_t feature)
{
    m[l].feature = feature;
    m[l].zero = zero;
    m[l].one = one;
    m[l].w = l == 0 ? 1.0 : 0.0;
    for (size_t i = l; i-- > 0;) {
        m[i + 1].w += one * m[i].w * (double)(i + 1) / (double)(l + 1);
        m[i].w = zero * m[i].w * (double)(l - i) / (double)(l + 1);
    }
}

/* Removes element k from the path m[0..l] (l + 1 elements), undoing its
 * extension of the weights. */
static void s_unwind(s_elem *m, size_t l, size_t k)
{
    double one = m[k].one, zero = m[k].zero, next = m[l].w;
    for (size_t i = l; i-- > 0;) {
        if (one != 0) {
            double t = m[i].w;
            m[i].w = next * (double)(l + 1) / ((double)(i + 1) * one);
            next = t - m[i].w * zero * (double)(l - i) / (double)(l + 1);
        } else {
            m[i].w = m[i].w * (double)(l + 1) / (zero * (double)(l - i));
        }
    }
    for (size_t i = k; i < l; i++) {
        m[i].feature = m[i + 1].feature;
        m[i].zero = m[i + 1].zero;
        m[i].one = m[i + 1].one;
    }
}

/* The total weight of the path m[0..l] with element k unwound, without
 * changing m. */
static double s_unwound_sum(const s_elem *m, size_t l, size_t k)
{
    double one = m[k].one, zero = m[k].zero, next = m[l].w, total = 0;
    for (size_t i = l; i-- > 0;) {
        if (one != 0) {
            double t = next * (double)(l + 1) / ((double)(i + 1) * one);
            total += t;
            next = m[i].w - t * zero * (double)(l - i) / (double)(l + 1);
        } else if (zero != 0) {
            total += m[i].w / zero / ((double)(l - i) / (double)(l + 1));
        }
    }
    return total;
}

typedef struct s_walk {
    const ch_gbt_tree *tr;
    const ch_table *t;
    size_t row;
    double *phi; /* n_features + 1 (the last: bias, not touched here) */
} s_walk;

/* depth: the elements of the path before this node's (the root's
 * placeholder included); they are parent[0..depth). This node's path is
 * built at parent + depth + 1 (frames stacked as XGBoost's TreeShap does). */
static void s_recurse(const s_walk *wk, int32_t node, const s_elem *parent, size_t depth,
                      double zero, double one, int32_t feature)
{
    s_elem *m = (s_elem *)parent + depth + 1;
    memcpy(m, parent, depth * sizeof *m);
    s_extend(m, depth, zero, one, feature); /* the path is now m[0..depth] */
    const ch_gbt_node *nd = &wk->tr->nodes[node];
    if (nd->left < 0) {
        for (size_t i = 1; i <= depth; i++) {
            double w = s_unwound_sum(m, depth, i);
            wk->phi[m[i].feature] += w * (m[i].one - m[i].zero) * nd->value;
        }
        return;
    }
    double x = wk->t->cols[nd->feature].values[wk->row];
    bool left = isnan(x) ? nd->default_left : (float)x < nd->threshold;
    int32_t hot = left ? nd->left : nd->right, cold = left ? nd->right : nd->left;
    double cover = nd->cover > 0 ? nd->cover : 1;
    double hot_zero = wk->tr->nodes[hot].cover / cover;
    double cold_zero = wk->tr->nodes[cold].cover / cover;
    double in_zero = 1, in_one = 1;
    size_t k = 1;
    while (k <= depth && m[k].feature != nd->feature) {
        k++;
    }
    if (k <= depth) { /* met before: undo that split and redo it here */
        in_zero = m[k].zero;
        in_one = m[k].one;
        s_unwind(m, depth, k);
        depth--;
    }
    s_recurse(wk, hot, m, depth + 1, hot_zero * in_zero, in_one, nd->feature);
    s_recurse(wk, cold, m, depth + 1, cold_zero * in_zero, 0, nd->feature);
}

/* The cover-weighted mean of the leaves under node: the tree's expected
 * output there. */
static double s_expected(const ch_gbt_tree *tr, int32_t node)
{
    const ch_gbt_node *nd = &tr->nodes[node];
    if (nd->left < 0) {
        return nd->value;
    }
    const ch_gbt_node *l = &tr->nodes[nd->left], *r = &tr->nodes[nd->right];
    double c = l->cover + r->cover;
    if (!(c > 0)) {
        return 0.5 * (s_expected(tr, nd->left) + s_expected(tr, nd->right));
    }
    return (l->cover * s_expected(tr, nd->left) + r->cover * s_expected(tr, nd->right)) / c;
}

static size_t s_depth(const ch_gbt_tree *tr, int32_t node)
{
    const ch_gbt_node *nd = &tr->nodes[node];
    if (nd->left < 0) {
        return 0;
    }
    size_t a = s_depth(tr, nd->left), b = s_depth(tr, nd->right);
    return 1 + (a > b ? a : b);
}

int ch_gbt_tree_contribs(const ch_gbt_tree *tr, const ch_table *t, size_t row, double *phi,
                         size_t n_features)
{
    if (tr->n == 0) {
        return 0;
    }
    size_t d = s_depth(tr, 0) + 2; /* frames of 1, 2, ..., d elements plus gaps */
    s_elem *path = calloc(d * (d + 1) / 2 + 2 * d, sizeof *path);
    if (!path) {
        return CH_ENOMEM;
    }
    s_walk wk = {tr, t, row, phi};
    s_recurse(&wk, 0, path, 0, 1, 1, -1); /* the root's element: a placeholder (-1) */
    phi[n_features] += s_expected(tr, 0);
    free(path);
    return 0;
}

int ch_gbt_model_contribs(const ch_gbt_model *m, const ch_table *t, size_t row, double *out)
{
    size_t K = m->p.n_groups, F = m->n_features;
    memset(out, 0, K * (F + 1) * sizeof *out);
    for (size_t k = 0; k < K; k++) {
        out[k * (F + 1) + F] = m->base_margin;
    }
    size_t n = (size_t)m->rounds * K < m->forest.n ? (size_t)m->rounds * K : m->forest.n;
    for (size_t j = 0; j < n; j++) {
        const ch_gbt_tree *tr = &m->forest.trees[j];
        int rc = ch_gbt_tree_contribs(tr, t, row, out + tr->class_index * (F + 1), F);
        if (rc) {
            return rc;
        }
    }
    return 0;
}
