/* model_io.c: GBT trees, cuts and models to and from their protobuf
 * messages (proto/gbt.proto), checking everything that comes from a peer or
 * a file. */
#include "algorithms/gbt/gbt.h"
#include "proto/gbt.pb-c.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tree arrays (allocated here). */
int ch_gbt_tree_to_pb(const ch_gbt_tree *t, Cohort__Gbt__Tree *pb)
{
    cohort__gbt__tree__init(pb);
    size_t n = t->n, a = n ? n : 1;
    pb->left = malloc(a * sizeof(int32_t));
    pb->right = malloc(a * sizeof(int32_t));
    pb->feature = malloc(a * sizeof(int32_t));
    pb->split_bin = malloc(a * sizeof(int32_t));
    pb->threshold = malloc(a * sizeof(float));
    pb->default_left = malloc(a * sizeof(protobuf_c_boolean));
    pb->value = malloc(a * sizeof(double));
    pb->gain = malloc(a * sizeof(double));
    pb->cover = malloc(a * sizeof(double));
    if (!pb->left || !pb->right || !pb->feature || !pb->split_bin || !pb->threshold ||
        !pb->default_left || !pb->value || !pb->gain || !pb->cover) {
        ch_gbt_tree_pb_free(pb);
        return CH_ENOMEM;
    }
    pb->n_left = pb->n_right = pb->n_feature = pb->n_split_bin = pb->n_threshold = n;
    pb->n_default_left = pb->n_value = pb->n_gain = pb->n_cover = n;
    for (size_t i = 0; i < n; i++) {
        const ch_gbt_node *nd = &t->nodes[i];
        pb->left[i] = nd->left;
        pb->right[i] = nd->right;
        pb->feature[i] = nd->feature;
        pb->split_bin[i] = nd->split_bin;
        pb->threshold[i] = nd->threshold;
        pb->default_left[i] = nd->default_left;
        pb->value[i] = nd->value;
        pb->gain[i] = nd->gain;
        pb->cover[i] = nd->cover;
    }
    pb->class_index = t->class_index;
    return 0;
}

void ch_gbt_tree_pb_free(Cohort__Gbt__Tree *pb)
{
    if (!pb) {
        return;
    }
    free(pb->left);
    free(pb->right);
    free(pb->feature);
    free(pb->split_bin);
    free(pb->threshold);
    free(pb->default_left);
    free(pb->value);
    free(pb->gain);
    free(pb->cover);
    cohort__gbt__tree__init(pb);
}

/* Validated conversion. */
int ch_gbt_tree_from_pb(const Cohort__Gbt__Tree *pb, size_t n_features, const uint32_t *n_bins,
                        ch_gbt_tree *t, ch_err *err)
{
    memset(t, 0, sizeof *t);
    size_t n = pb->n_left;
    if (n == 0 || n > (1u << 24) || pb->n_right != n || pb->n_feature != n ||
        pb->n_split_bin != n || pb->n_threshold != n || pb->n_default_left != n ||
        pb->n_value != n || pb->n_gain != n || pb->n_cover != n) {
        return ch_err_set(err, CH_EPROTO, "gbt: a tree has inconsistent node arrays");
    }
    t->nodes = calloc(n, sizeof *t->nodes);
    if (!t->nodes) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    t->n = t->cap = n;
    t->class_index = pb->class_index;
    for (size_t i = 0; i < n; i++) {
        ch_gbt_node *nd = &t->nodes[i];
        nd->left = pb->left[i];
        nd->right = pb->right[i];
        nd->feature = pb->feature[i];
        nd->split_bin = pb->split_bin[i];
        nd->threshold = pb->threshold[i];
        nd->default_left = pb->default_left[i];
        nd->value = pb->value[i];
        nd->gain = pb->gain[i];
        nd->cover = pb->cover[i];
        bool leaf = nd->left < 0;
        bool ok = leaf ? nd->right < 0
                       : (nd->left > (int32_t)i && nd->right > (int32_t)i && (size_t)nd->left < n &&
                          (size_t)nd->right < n && nd->feature >= 0 &&
                          (size_t)nd->feature < n_features && nd->split_bin >= -1 &&
                          (!n_bins || nd->split_bin < (int32_t)n_bins[nd->feature]) &&
                          !isnan(nd->threshold));
        if (!ok || !isfinite(nd->value)) {
            ch_gbt_tree_free(t);
            return ch_err_set(err, CH_EPROTO, "gbt: tree node %zu is malformed", i);
        }
    }
    return 0;
}

/* Borrowing view of the cuts. */
void ch_gbt_cuts_to_pb(const ch_gbt_cuts *c, Cohort__Gbt__Cuts *pb)
{
    cohort__gbt__cuts__init(pb);
    pb->n_n_bins = c->n_features;
    pb->n_bins = c->n_bins;
    pb->n_cuts = c->off[c->n_features];
    pb->cuts = c->cuts;
    pb->n_min_values = c->n_features;
    pb->min_values = c->min_values;
}

/* Checked copy of the cuts. */
int ch_gbt_cuts_from_pb(const Cohort__Gbt__Cuts *pb, size_t n_features, ch_gbt_cuts *c, ch_err *err)
{
    memset(c, 0, sizeof *c);
    if (!pb || pb->n_n_bins != n_features || pb->n_min_values != n_features) {
        return ch_err_set(err, CH_EPROTO, "gbt: the cuts do not match the %zu features",
                          n_features);
    }
    size_t total = 0;
    for (size_t f = 0; f < n_features; f++) {
        if (pb->n_bins[f] < 1 || pb->n_bins[f] > 256) {
            return ch_err_set(err, CH_EPROTO, "gbt: feature %zu has %u bins", f, pb->n_bins[f]);
        }
        total += pb->n_bins[f];
    }
    if (total != pb->n_cuts) {
        return ch_err_set(err, CH_EPROTO, "gbt: %zu cut values for %zu bins", pb->n_cuts, total);
    }
    if (ch_gbt_cuts_alloc(c, n_features, pb->n_bins) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    memcpy(c->cuts, pb->cuts, total * sizeof(float));
    memcpy(c->min_values, pb->min_values, n_features * sizeof(float));
    return 0;
}

void ch_gbt_model_free(ch_gbt_model *m)
{
    if (!m) {
        return;
    }
    ch_gbt_forest_free(&m->forest);
    free(m->imp_weight);
    free(m->imp_gain);
    free(m->imp_cover);
    free(m->train_curve);
    free(m->valid_curve);
    ch_gbt_cuts_free(&m->cuts);
    memset(m, 0, sizeof *m);
}

/* Margins from the first `rounds` rounds of trees. */
void ch_gbt_model_margins(const ch_gbt_model *m, const ch_table *t, size_t i, size_t rounds,
                          double *out)
{
    size_t K = m->p.n_groups;
    for (size_t k = 0; k < K; k++) {
        out[k] = m->base_margin;
    }
    size_t n = rounds * K < m->forest.n ? rounds * K : m->forest.n;
    for (size_t j = 0; j < n; j++) {
        const ch_gbt_tree *tr = &m->forest.trees[j];
        out[tr->class_index] += tr->nodes[ch_gbt_tree_leaf_raw(tr, t, i)].value;
    }
}

/* Model message; trees allocated, the rest borrowed. */
int ch_gbt_model_to_pb(const ch_gbt_model *m, Cohort__Gbt__Model *pb)
{
    cohort__gbt__model__init(pb);
    pb->objective = (char *)ch_gbt_objective_names[m->p.objective];
    pb->n_groups = (uint32_t)m->p.n_groups;
    pb->base_margin = m->base_margin;
    pb->base_score = m->p.base_score;
    pb->n_features = (uint32_t)m->n_features;
    pb->best_iteration = m->best_iteration;
    pb->rounds = m->rounds;
    pb->n_imp_weight = pb->n_imp_gain = pb->n_imp_cover = m->imp_weight ? m->n_features : 0;
    pb->imp_weight = m->imp_weight;
    pb->imp_gain = m->imp_gain;
    pb->imp_cover = m->imp_cover;
    pb->eval_metric = (char *)ch_gbt_metric_names[m->p.eval_metric];
    pb->n_train_curve = pb->n_valid_curve = m->n_curve;
    pb->train_curve = m->train_curve;
    pb->valid_curve = m->valid_curve;
    pb->huber_slope = m->p.huber_slope;
    pb->scale_g = m->sg;
    pb->scale_h = m->sh;
    size_t nt = m->forest.n;
    pb->trees = calloc(nt ? nt : 1, sizeof *pb->trees);
    if (!pb->trees) {
        return CH_ENOMEM;
    }
    for (size_t i = 0; i < nt; i++) {
        pb->trees[i] = malloc(sizeof(Cohort__Gbt__Tree));
        if (!pb->trees[i] || ch_gbt_tree_to_pb(&m->forest.trees[i], pb->trees[i]) != 0) {
            free(pb->trees[i]);
            pb->trees[i] = NULL;
            pb->n_trees = i;
            ch_gbt_model_pb_free(pb);
            return CH_ENOMEM;
        }
        pb->n_trees = i + 1;
    }
    if (m->cuts.n_bins) {
        pb->cuts = malloc(sizeof *pb->cuts);
        if (!pb->cuts) {
            ch_gbt_model_pb_free(pb);
            return CH_ENOMEM;
        }
        ch_gbt_cuts_to_pb(&m->cuts, pb->cuts);
    }
    return 0;
}

void ch_gbt_model_pb_free(Cohort__Gbt__Model *pb)
{
    if (!pb) {
        return;
    }
    for (size_t i = 0; i < pb->n_trees; i++) {
        ch_gbt_tree_pb_free(pb->trees[i]);
        free(pb->trees[i]);
    }
    free(pb->trees);
    free(pb->cuts);
    cohort__gbt__model__init(pb);
}

static double *s_copy(const double *v, size_t n)
{
    double *o = malloc((n ? n : 1) * sizeof *o);
    if (o && n) {
        memcpy(o, v, n * sizeof *o);
    }
    return o;
}

/* Checked model. */
int ch_gbt_model_from_pb(const Cohort__Gbt__Model *pb, size_t n_features, size_t n_classes,
                         ch_gbt_model *m, ch_err *err)
{
    memset(m, 0, sizeof *m);
    int obj = -1;
    for (int i = 0; pb->objective && ch_gbt_objective_names[i]; i++) {
        if (strcmp(pb->objective, ch_gbt_objective_names[i]) == 0) {
            obj = i;
        }
    }
    int met = -1;
    for (int i = 0; pb->eval_metric && ch_gbt_metric_names[i]; i++) {
        if (strcmp(pb->eval_metric, ch_gbt_metric_names[i]) == 0) {
            met = i;
        }
    }
    if (obj < 0 || met < 0) {
        return ch_err_set(err, CH_EINVAL, "gbt model: unknown objective or metric");
    }
    bool multi = obj == CH_GBT_SOFTMAX || obj == CH_GBT_SOFTPROB;
    size_t groups = multi ? n_classes : 1;
    if (pb->n_features != n_features || pb->n_groups != groups || groups == 0 || groups > 4096) {
        return ch_err_set(err, CH_EINVAL,
                          "gbt model: %u features and %u outputs, but the schema gives %zu and "
                          "%zu",
                          pb->n_features, pb->n_groups, n_features, groups);
    }
    size_t nf = n_features;
    if ((pb->n_imp_weight &&
         (pb->n_imp_weight != nf || pb->n_imp_gain != nf || pb->n_imp_cover != nf)) ||
        pb->n_train_curve != pb->n_valid_curve) {
        return ch_err_set(err, CH_EINVAL, "gbt model: inconsistent importance or curve arrays");
    }
    m->p.objective = (ch_gbt_objective)obj;
    m->p.eval_metric = (ch_gbt_metric)met;
    m->p.n_classes = n_classes;
    m->p.n_groups = groups;
    m->p.base_score = pb->base_score;
    m->p.huber_slope = pb->huber_slope;
    m->n_features = nf;
    m->base_margin = pb->base_margin;
    m->best_iteration = pb->best_iteration;
    m->rounds = pb->rounds;
    m->sg = pb->scale_g;
    m->sh = pb->scale_h;
    m->n_curve = pb->n_train_curve;
    int rc = 0;
    if (pb->n_imp_weight) {
        m->imp_weight = s_copy(pb->imp_weight, nf);
        m->imp_gain = s_copy(pb->imp_gain, nf);
        m->imp_cover = s_copy(pb->imp_cover, nf);
        if (!m->imp_weight || !m->imp_gain || !m->imp_cover) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    m->train_curve = s_copy(pb->train_curve, m->n_curve);
    m->valid_curve = s_copy(pb->valid_curve, m->n_curve);
    if (rc == 0 && (!m->train_curve || !m->valid_curve)) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0 && pb->cuts) {
        rc = ch_gbt_cuts_from_pb(pb->cuts, nf, &m->cuts, err);
    }
    for (size_t i = 0; rc == 0 && i < pb->n_trees; i++) {
        ch_gbt_tree t;
        rc = ch_gbt_tree_from_pb(pb->trees[i], nf, m->cuts.n_bins, &t, err);
        if (rc == 0 && t.class_index >= groups) {
            ch_gbt_tree_free(&t);
            rc = ch_err_set(err, CH_EINVAL, "gbt model: tree %zu has output %u", i,
                            pb->trees[i]->class_index);
        }
        if (rc == 0 && (rc = ch_gbt_forest_take(&m->forest, &t)) != 0) {
            ch_gbt_tree_free(&t);
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (rc != 0) {
        ch_gbt_model_free(m);
    }
    return rc;
}
