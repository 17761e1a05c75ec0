/* tree.c: the flat decision tree (see tree.h). */
#include "algorithms/random_forest/tree.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

rf_tree *rf_tree_new(uint32_t index, size_t n_values)
{
    rf_tree *t = calloc(1, sizeof *t);
    if (t) {
        t->index = index;
        t->n_values = n_values ? n_values : 1;
    }
    return t;
}

void rf_tree_destroy(rf_tree **pt)
{
    if (!pt || !*pt) {
        return;
    }
    rf_tree *t = *pt;
    free(t->feature);
    free(t->threshold);
    free(t->left);
    free(t->right);
    free(t->missing_left);
    free(t->cat_offset);
    free(t->value);
    free(t->impurity);
    free(t->weight);
    free(t->samples);
    free(t->cat);
    free(t);
    *pt = NULL;
}

#define S_GROW(field, n)                                                                           \
    do {                                                                                           \
        void *p_ = realloc(t->field, (n) * sizeof *t->field);                                      \
        if (!p_) {                                                                                 \
            return -1;                                                                             \
        }                                                                                          \
        t->field = p_;                                                                             \
    } while (0)

long rf_tree_add_node(rf_tree *t)
{
    if (t->n_nodes >= (size_t)INT32_MAX) {
        return -1;
    }
    if (t->n_nodes == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        S_GROW(feature, cap);
        S_GROW(threshold, cap);
        S_GROW(left, cap);
        S_GROW(right, cap);
        S_GROW(missing_left, cap);
        S_GROW(cat_offset, cap);
        S_GROW(impurity, cap);
        S_GROW(weight, cap);
        S_GROW(samples, cap);
        size_t vn;
        if (ch_mul_size(cap, t->n_values, &vn) != 0) {
            return -1;
        }
        S_GROW(value, vn);
        t->cap = cap;
    }
    size_t i = t->n_nodes++;
    t->feature[i] = -1;
    t->threshold[i] = 0;
    t->left[i] = t->right[i] = 0;
    t->missing_left[i] = 0;
    t->cat_offset[i] = 0;
    t->impurity[i] = 0;
    t->weight[i] = 0;
    t->samples[i] = 0;
    memset(t->value + i * t->n_values, 0, t->n_values * sizeof *t->value);
    return (long)i;
}

long rf_tree_add_cat(rf_tree *t, size_t n)
{
    if (t->n_cat + n > t->cap_cat) {
        size_t cap = t->cap_cat ? t->cap_cat * 2 : 16;
        while (cap < t->n_cat + n) {
            cap *= 2;
        }
        S_GROW(cat, cap);
        t->cap_cat = cap;
    }
    long off = (long)t->n_cat;
    memset(t->cat + t->n_cat, 0, n * sizeof *t->cat);
    t->n_cat += n;
    return off;
}

size_t rf_tree_leaf(const rf_tree *t, const ch_table *x, size_t i)
{
    size_t k = 0;
    while (t->feature[k] >= 0) {
        double v = x->cols[t->feature[k]].values[i];
        bool left;
        if (isnan(v)) {
            left = t->missing_left[k];
        } else if (t->cat_offset[k]) {
            size_t code = (size_t)v;
            const uint64_t *bits = t->cat + (t->cat_offset[k] - 1);
            size_t words = x->cols[t->feature[k]].n_levels / 64 + 1;
            left = code / 64 < words && ((bits[code / 64] >> (code % 64)) & 1);
        } else {
            left = v <= t->threshold[k];
        }
        k = left ? t->left[k] : t->right[k];
    }
    return k;
}

int rf_tree_check(const rf_tree *t, size_t n_features, const size_t *levels, ch_err *err)
{
    if (t->n_nodes == 0) {
        return ch_err_set(err, CH_EINVAL, "tree %u has no nodes", t->index);
    }
    for (size_t k = 0; k < t->n_nodes; k++) {
        for (size_t v = 0; v < t->n_values; v++) {
            if (!isfinite(t->value[k * t->n_values + v])) {
                return ch_err_set(err, CH_EINVAL, "tree %u node %zu: a non-finite value", t->index,
                                  k);
            }
        }
        if (t->feature[k] < 0) {
            continue;
        }
        if ((size_t)t->feature[k] >= n_features) {
            return ch_err_set(err, CH_EINVAL, "tree %u node %zu: feature %d of %zu", t->index, k,
                              t->feature[k], n_features);
        }
        if (t->left[k] <= k || t->right[k] <= k || t->left[k] >= t->n_nodes ||
            t->right[k] >= t->n_nodes) {
            return ch_err_set(err, CH_EINVAL, "tree %u node %zu: children %u, %u out of order",
                              t->index, k, t->left[k], t->right[k]);
        }
        if (t->cat_offset[k]) {
            size_t nl = levels ? levels[t->feature[k]] : 0;
            size_t words = nl / 64 + 1;
            if (nl == 0 || t->cat_offset[k] - 1 + words > t->n_cat) {
                return ch_err_set(err, CH_EINVAL, "tree %u node %zu: bad categorical split",
                                  t->index, k);
            }
        } else if (isnan(t->threshold[k])) {
            return ch_err_set(err, CH_EINVAL, "tree %u node %zu: NaN threshold", t->index, k);
        }
    }
    return 0;
}

void rf_tree_importance(const rf_tree *t, size_t n_features, double *imp)
{
    double *acc = calloc(n_features ? n_features : 1, sizeof *acc);
    if (!acc) {
        return;
    }
    double total = 0;
    for (size_t k = 0; k < t->n_nodes; k++) {
        if (t->feature[k] < 0) {
            continue;
        }
        size_t l = t->left[k], r = t->right[k];
        double d = t->weight[k] * t->impurity[k] - t->weight[l] * t->impurity[l] -
                   t->weight[r] * t->impurity[r];
        acc[t->feature[k]] += d;
        total += d;
    }
    if (total > 0) {
        for (size_t f = 0; f < n_features; f++) {
            imp[f] += acc[f] / total;
        }
    }
    free(acc);
}
