/* export.c: the model in XGBoost's JSON model format (the schema of
 * XGBoost 1.7's `save_model("model.json")`), so xgboost.Booster can load
 * it and predict the same values.
 *
 * The mapping: a split node sends x < split_condition left, a missing value
 * to default_left, as cohort's trees do; a leaf's split_condition and
 * base_weight hold its value (eta already applied). base_score is the
 * probability whose logit is the base margin for binary:logistic, the base
 * margin itself otherwise. Features keep cohort's column order; a
 * categorical column is exported as its level code (0, 1, ... in the order
 * of model.txt), feature type "q", since cohort splits categories on their
 * codes. reg:pseudohubererror's slope goes in reg_loss_param. */
#include "algorithms/gbt/gbt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_num(ch_buf *b, double v)
{
    /* XGBoost reads float32 (9 significant digits round-trip one) and wants
     * a JSON number that is not an integer: "5.0", not "5" */
    char t[48];
    snprintf(t, sizeof t, "%.9g", (double)(float)v);
    ch_buf_puts(b, t);
    if (!strpbrk(t, ".eEn")) {
        ch_buf_puts(b, ".0");
    }
}

static void s_tree(ch_buf *b, const ch_gbt_tree *t, size_t id, size_t n_features)
{
    size_t n = t->n;
    ch_buf_printf(b, "{\"base_weights\":[");
    for (size_t i = 0; i < n; i++) {
        ch_buf_puts(b, i ? "," : "");
        s_num(b, t->nodes[i].left < 0 ? t->nodes[i].value : 0);
    }
    ch_buf_puts(b, "],\"categories\":[],\"categories_nodes\":[],\"categories_segments\":[],"
                   "\"categories_sizes\":[],\"default_left\":[");
    for (size_t i = 0; i < n; i++) {
        ch_buf_printf(b, "%s%d", i ? "," : "", t->nodes[i].left >= 0 && t->nodes[i].default_left);
    }
    ch_buf_printf(b, "],\"id\":%zu,\"left_children\":[", id);
    for (size_t i = 0; i < n; i++) {
        ch_buf_printf(b, "%s%d", i ? "," : "", (int)t->nodes[i].left);
    }
    ch_buf_puts(b, "],\"loss_changes\":[");
    for (size_t i = 0; i < n; i++) {
        ch_buf_puts(b, i ? "," : "");
        s_num(b, t->nodes[i].left >= 0 ? t->nodes[i].gain : 0);
    }
    /* parents: the root's is 2^31 - 1, as XGBoost writes it */
    int32_t *parent = calloc(n ? n : 1, sizeof *parent);
    if (!parent) {
        b->failed = true;
        return;
    }
    parent[0] = 2147483647;
    for (size_t i = 0; i < n; i++) {
        if (t->nodes[i].left >= 0) {
            parent[t->nodes[i].left] = (int32_t)i;
            parent[t->nodes[i].right] = (int32_t)i;
        }
    }
    ch_buf_puts(b, "],\"parents\":[");
    for (size_t i = 0; i < n; i++) {
        ch_buf_printf(b, "%s%d", i ? "," : "", (int)parent[i]);
    }
    free(parent);
    ch_buf_puts(b, "],\"right_children\":[");
    for (size_t i = 0; i < n; i++) {
        ch_buf_printf(b, "%s%d", i ? "," : "", (int)t->nodes[i].right);
    }
    ch_buf_puts(b, "],\"split_conditions\":[");
    for (size_t i = 0; i < n; i++) {
        ch_buf_puts(b, i ? "," : "");
        s_num(b, t->nodes[i].left >= 0 ? (double)t->nodes[i].threshold : t->nodes[i].value);
    }
    ch_buf_puts(b, "],\"split_indices\":[");
    for (size_t i = 0; i < n; i++) {
        ch_buf_printf(b, "%s%d", i ? "," : "",
                      t->nodes[i].left >= 0 ? (int)t->nodes[i].feature : 0);
    }
    ch_buf_puts(b, "],\"split_type\":[");
    for (size_t i = 0; i < n; i++) {
        ch_buf_puts(b, i ? ",0" : "0");
    }
    ch_buf_puts(b, "],\"sum_hessian\":[");
    for (size_t i = 0; i < n; i++) {
        ch_buf_puts(b, i ? "," : "");
        s_num(b, t->nodes[i].cover);
    }
    ch_buf_printf(b,
                  "],\"tree_param\":{\"num_deleted\":\"0\",\"num_feature\":\"%zu\","
                  "\"num_nodes\":\"%zu\",\"size_leaf_vector\":\"0\"}}",
                  n_features, n);
}

int ch_gbt_export_xgboost(const ch_gbt_model *m, const char *const *names, ch_buf *b)
{
    size_t K = m->p.n_groups, F = m->n_features;
    size_t n = (size_t)m->rounds * K < m->forest.n ? (size_t)m->rounds * K : m->forest.n;
    double base =
        m->p.objective == CH_GBT_LOGISTIC ? 1.0 / (1.0 + exp(-m->base_margin)) : m->base_margin;
    ch_buf_puts(b, "{\"learner\":{\"attributes\":{},\"feature_names\":[");
    for (size_t f = 0; f < F; f++) {
        ch_buf_puts(b, f ? "," : "");
        ch_buf_json_str(b, names && names[f] ? names[f] : "");
    }
    ch_buf_puts(b, "],\"feature_types\":[");
    for (size_t f = 0; f < F; f++) {
        ch_buf_puts(b, f ? ",\"q\"" : "\"q\"");
    }
    ch_buf_printf(b,
                  "],\"gradient_booster\":{\"model\":{\"gbtree_model_param\":{"
                  "\"num_parallel_tree\":\"1\",\"num_trees\":\"%zu\"},\"tree_info\":[",
                  n);
    for (size_t j = 0; j < n; j++) {
        ch_buf_printf(b, "%s%u", j ? "," : "", m->forest.trees[j].class_index);
    }
    ch_buf_puts(b, "],\"trees\":[");
    for (size_t j = 0; j < n; j++) {
        ch_buf_puts(b, j ? "," : "");
        s_tree(b, &m->forest.trees[j], j, F);
    }
    ch_buf_puts(b, "]},\"name\":\"gbtree\"},\"learner_model_param\":{\"base_score\":\"");
    s_num(b, base);
    bool multi = K > 1;
    ch_buf_printf(b, "\",\"num_class\":\"%zu\",\"num_feature\":\"%zu\",\"num_target\":\"1\"},",
                  multi ? K : 0, F);
    const char *obj = ch_gbt_objective_names[m->p.objective];
    ch_buf_printf(b, "\"objective\":{\"name\":\"%s\",", obj);
    if (multi) {
        ch_buf_printf(b, "\"softmax_multiclass_param\":{\"num_class\":\"%zu\"}}", K);
    } else if (m->p.objective == CH_GBT_PSEUDOHUBER) {
        ch_buf_puts(b, "\"pseudo_huber_param\":{\"huber_slope\":\"");
        s_num(b, m->p.huber_slope);
        ch_buf_puts(b, "\"}}");
    } else {
        ch_buf_puts(b, "\"reg_loss_param\":{\"scale_pos_weight\":\"");
        s_num(b, m->p.scale_pos_weight);
        ch_buf_puts(b, "\"}}");
    }
    ch_buf_puts(b, "},\"version\":[1,7,4]}\n");
    return b->failed ? CH_ENOMEM : 0;
}
