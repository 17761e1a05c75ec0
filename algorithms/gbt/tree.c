/* tree.c: regression trees of the ensemble: nodes, traversal on raw values
 * and on bin codes, and the forest that holds them. */
#include "algorithms/gbt/gbt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Appends a leaf; -1 when out of memory. */
int32_t ch_gbt_tree_add(ch_gbt_tree *t, int32_t depth, double sum_g, double sum_h)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        ch_gbt_node *nn = realloc(t->nodes, cap * sizeof *nn);
        if (!nn) {
            return -1;
        }
        t->nodes = nn;
        t->cap = cap;
    }
    ch_gbt_node *nd = &t->nodes[t->n];
    memset(nd, 0, sizeof *nd);
    nd->left = nd->right = -1;
    nd->feature = -1;
    nd->depth = depth;
    nd->sum_g = sum_g;
    nd->sum_h = sum_h;
    return (int32_t)t->n++;
}

void ch_gbt_tree_free(ch_gbt_tree *t)
{
    if (!t) {
        return;
    }
    free(t->nodes);
    memset(t, 0, sizeof *t);
}

/* Deep copy. */
int ch_gbt_tree_copy(ch_gbt_tree *dst, const ch_gbt_tree *src)
{
    ch_gbt_tree_free(dst);
    dst->nodes = malloc((src->n ? src->n : 1) * sizeof *dst->nodes);
    if (!dst->nodes) {
        return CH_ENOMEM;
    }
    memcpy(dst->nodes, src->nodes, src->n * sizeof *dst->nodes);
    dst->n = dst->cap = src->n;
    dst->class_index = src->class_index;
    return 0;
}

/* Raw traversal: left when (float)x < threshold, missing by default. */
int32_t ch_gbt_tree_leaf_raw(const ch_gbt_tree *tr, const ch_table *t, size_t i)
{
    int32_t k = 0;
    while (tr->nodes[k].left >= 0) {
        const ch_gbt_node *nd = &tr->nodes[k];
        double x = t->cols[nd->feature].values[i];
        bool left = isnan(x) ? nd->default_left : (float)x < nd->threshold;
        k = left ? nd->left : nd->right;
    }
    return k;
}

/* Binned traversal: left when bin <= split_bin, missing by default. */
int32_t ch_gbt_tree_leaf_bins(const ch_gbt_tree *tr, const uint8_t *row, const uint32_t *n_bins)
{
    int32_t k = 0;
    while (tr->nodes[k].left >= 0) {
        const ch_gbt_node *nd = &tr->nodes[k];
        uint32_t b = row[nd->feature];
        bool left = b == n_bins[nd->feature] ? nd->default_left : (int32_t)b <= nd->split_bin;
        k = left ? nd->left : nd->right;
    }
    return k;
}

/* Takes the nodes of *t. */
int ch_gbt_forest_take(ch_gbt_forest *f, ch_gbt_tree *t)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        ch_gbt_tree *nt = realloc(f->trees, cap * sizeof *nt);
        if (!nt) {
            return CH_ENOMEM;
        }
        f->trees = nt;
        f->cap = cap;
    }
    f->trees[f->n++] = *t;
    memset(t, 0, sizeof *t);
    return 0;
}

void ch_gbt_forest_free(ch_gbt_forest *f)
{
    if (!f) {
        return;
    }
    for (size_t i = 0; i < f->n; i++) {
        ch_gbt_tree_free(&f->trees[i]);
    }
    free(f->trees);
    memset(f, 0, sizeof *f);
}
