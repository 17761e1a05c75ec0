/* gbt.h: gradient-boosted trees: the pieces shared by the files of
 * algorithms/gbt/ (parameters, objectives, quantile cuts, histograms, split
 * finding, trees, model I/O). gbt.c glues them to the algorithm interface.
 *
 * Determinism: gradients and hessians are converted to int64 fixed point
 * with one scale per run (chosen from the row count and a bound on |g| and
 * h, so no sum can overflow); histogram sums are then exact and associative,
 * the same for any shard layout, and a sibling's histogram is exactly the
 * parent's minus the built child's. */
#ifndef CH_GBT_H
#define CH_GBT_H

#include "common/buf.h"
#include "common/err.h"
#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- parameters and objectives (objective.c) ------------------------------ */

typedef enum {
    CH_GBT_SQUARED = 0,
    CH_GBT_PSEUDOHUBER,
    CH_GBT_LOGISTIC,
    CH_GBT_SOFTMAX,
    CH_GBT_SOFTPROB,
} ch_gbt_objective;

extern const char *const ch_gbt_objective_names[]; /* NULL-terminated, enum order */

typedef enum {
    CH_GBT_RMSE = 0,
    CH_GBT_MAE,
    CH_GBT_LOGLOSS,
    CH_GBT_AUC,
    CH_GBT_ERROR,
    CH_GBT_MLOGLOSS,
    CH_GBT_MERROR,
} ch_gbt_metric;

extern const char *const ch_gbt_metric_names[]; /* NULL-terminated, enum order */

typedef struct ch_gbt_params {
    ch_gbt_objective objective;
    ch_gbt_metric eval_metric;
    size_t n_classes; /* classes of the target (0 for regression) */
    size_t n_groups;  /* trees per round: 1, or n_classes for multi:* */
    long rounds, max_depth, max_bin, early_stopping_rounds;
    double eta, lambda, alpha, gamma, min_child_weight;
    double subsample, colsample_bytree, colsample_bynode;
    double base_score, scale_pos_weight, huber_slope;
} ch_gbt_params;

/* The margin every output starts from (logit of base_score for logistic). */
double ch_gbt_base_margin(const ch_gbt_params *p);
/* Checks one label for the objective: false for NaN, infinite, outside
 * [0, 1] (logistic) or not a class code (multi). */
bool ch_gbt_label_ok(const ch_gbt_params *p, double y);
/* Gradient and hessian of row i for group k from its margins m[0..n_groups)
 * and label y, times the weight w (and scale_pos_weight for positives).
 * Can't fail. */
void ch_gbt_grad(const ch_gbt_params *p, const double *m, double y, double w, size_t k, double *g,
                 double *h);
/* Bounds on |g| and h over every row (for the fixed-point scale), given
 * the label range and the largest weight. */
void ch_gbt_grad_bounds(const ch_gbt_params *p, double y_min, double y_max, double w_max,
                        double *g_bound, double *h_bound);
/* Outputs of one row from its margins: a value (regression), or n_classes
 * probabilities (binary: [1-p, p]). */
void ch_gbt_transform(const ch_gbt_params *p, const double *m, double *out);
/* eval_metric over n rows of margins (n x n_groups); NaN labels skipped. */
double ch_gbt_eval(const ch_gbt_params *p, ch_gbt_metric metric, const double *margins,
                   const double *y, const double *w, size_t n);
/* True when a larger value of the metric is better (auc). */
bool ch_gbt_metric_higher_better(ch_gbt_metric metric);

/* --- quantile cuts and binning (sketch.c) --------------------------------- */

/* Feature f has n_bins[f] bins with upper bounds cuts[off[f] .. off[f+1]);
 * bin code n_bins[f] is "missing". Histograms have n_bins[f] + 1 slots per
 * feature, starting at hoff[f]. */
typedef struct ch_gbt_cuts {
    size_t n_features;
    uint32_t *n_bins;
    size_t *off;  /* n_features + 1 */
    size_t *hoff; /* n_features + 1; hoff[n_features] is the histogram length */
    float *cuts;
    float *min_values;
} ch_gbt_cuts;

/* A sorted multiset of float values with counts, for one feature. */
typedef struct ch_gbt_summary {
    size_t n;
    float *values;
    uint64_t *counts;
} ch_gbt_summary;

/* Sorts v[0..n) and collapses equal values into s (which it allocates).
 * Returns 0 or CH_ENOMEM. v is reordered. */
int ch_gbt_summary_from(float *v, size_t n, ch_gbt_summary *s);
/* Merges k summaries into out (allocated): the union multiset. */
int ch_gbt_summary_merge(const ch_gbt_summary *parts, size_t k, ch_gbt_summary *out);
void ch_gbt_summary_free(ch_gbt_summary *s);

/* Cuts of every feature from the merged summaries: at most max_bin bins
 * (max_bin - 1 when the feature has missing values, so every code fits in a
 * byte), each distinct value its own bin when there are few enough,
 * otherwise quantiles of the multiset. XGBoost's conventions: a cut is the
 * upper bound (exclusive) of its bin; the last is max + |max| + 1e-5.
 * Returns 0 or CH_ENOMEM. */
int ch_gbt_cuts_build(ch_gbt_cuts *c, const ch_gbt_summary *per_feature, const bool *has_missing,
                      size_t n_features, long max_bin);
/* Allocates the arrays of c for these bin counts (cuts left to fill). */
int ch_gbt_cuts_alloc(ch_gbt_cuts *c, size_t n_features, const uint32_t *n_bins);
void ch_gbt_cuts_free(ch_gbt_cuts *c);
/* The bin code of x for feature f (n_bins[f] for NaN). Can't fail. */
uint8_t ch_gbt_bin(const ch_gbt_cuts *c, size_t f, double x);

/* --- trees (tree.c) --------------------------------------------------------- */

typedef struct ch_gbt_node {
    int32_t left, right; /* -1 for a leaf */
    int32_t feature;
    int32_t split_bin;
    float threshold;
    bool default_left;
    double value; /* eta * weight */
    double gain;
    double cover;
    /* grower bookkeeping (not saved) */
    int32_t depth;
    double sum_g, sum_h;
} ch_gbt_node;

typedef struct ch_gbt_tree {
    size_t n, cap;
    ch_gbt_node *nodes;
    uint32_t class_index;
} ch_gbt_tree;

/* Appends a leaf node; returns its index or -1 when out of memory. */
int32_t ch_gbt_tree_add(ch_gbt_tree *t, int32_t depth, double sum_g, double sum_h);
void ch_gbt_tree_free(ch_gbt_tree *t);
/* Deep copy into dst (freed first). 0 or CH_ENOMEM. */
int ch_gbt_tree_copy(ch_gbt_tree *dst, const ch_gbt_tree *src);
/* The leaf (or unsplit node) row i of t reaches, from raw values. */
int32_t ch_gbt_tree_leaf_raw(const ch_gbt_tree *tr, const ch_table *t, size_t i);
/* The same from a row of bin codes (row-major, n_features bytes), where
 * code n_bins[f] is missing. */
int32_t ch_gbt_tree_leaf_bins(const ch_gbt_tree *tr, const uint8_t *row, const uint32_t *n_bins);

/* An ensemble: trees round-major, class-minor. */
typedef struct ch_gbt_forest {
    size_t n, cap;
    ch_gbt_tree *trees;
} ch_gbt_forest;

/* Appends (takes the nodes of) *t, leaving it empty. 0 or CH_ENOMEM. */
int ch_gbt_forest_take(ch_gbt_forest *f, ch_gbt_tree *t);
void ch_gbt_forest_free(ch_gbt_forest *f);

/* --- histograms (histogram.c) ----------------------------------------------- */

/* Adds rows[0..n) to hist (hoff[F] int64 pairs): for every feature the pair
 * (g, h) of the row goes to slot hoff[f] + bin. bins is row-major (F bytes
 * per row, indexed by the row number). Can't fail. */
void ch_gbt_hist_build(int64_t *hist, const ch_gbt_cuts *c, const uint8_t *bins,
                       const int32_t *rows, size_t n, const int64_t *g, const int64_t *h);
/* out = parent - child, len pairs. Exact. */
void ch_gbt_hist_sub(int64_t *out, const int64_t *parent, const int64_t *child, size_t len);
/* Bytes ch_gbt_hist_encode may write for len pairs. */
#define CH_GBT_HIST_MAX_ENC(len) ((len)*21 + 10)
/* Lossless encoding of len pairs into out (room for CH_GBT_HIST_MAX_ENC):
 * a varint count of empty pairs, then a non-empty pair as two zigzag
 * varints, and so on. Returns the bytes written. Can't fail. */
size_t ch_gbt_hist_encode(const int64_t *hist, size_t len, uint8_t *out);
/* Decodes one encoded histogram of len pairs starting at in (not past end)
 * and adds it to acc modulo 2^64, so a sum over shards is exact and the
 * same in any order. Returns the first byte after it, or NULL when the
 * input is malformed (acc may then be partly updated). */
const uint8_t *ch_gbt_hist_decode_add(uint64_t *acc, size_t len, const uint8_t *in,
                                      const uint8_t *end);

/* --- split finding (split.c) ------------------------------------------------ */

typedef struct ch_gbt_split {
    bool valid;
    int32_t feature;
    int32_t split_bin;
    float threshold;
    bool default_left;
    double gain;            /* loss change */
    int64_t left_g, left_h; /* fixed-point sums of the left child */
} ch_gbt_split;

/* XGBoost's gain ThresholdL1(G, alpha)^2 / (H + lambda) (0 below
 * min_child_weight) and leaf weight -ThresholdL1(G, alpha) / (H + lambda). */
double ch_gbt_gain(const ch_gbt_params *p, double g, double h);
double ch_gbt_weight(const ch_gbt_params *p, double g, double h);

/* Best split of a node from its histogram, over the features where
 * use[f] is true (NULL: all). Forward enumeration with missing values
 * right, then backward with them left when the node has missing values;
 * ties keep the lower feature and the earlier bin (as XGBoost).
 * tot_g, tot_h: the node's fixed-point sums; sg, sh: the scales. */
ch_gbt_split ch_gbt_split_find(const ch_gbt_params *p, const ch_gbt_cuts *c, const int64_t *hist,
                               const bool *use, int64_t tot_g, int64_t tot_h, double sg, double sh);

/* --- model and its protobuf form (model_io.c) ------------------------------ */

typedef struct ch_gbt_model {
    ch_gbt_params p;
    size_t n_features;
    double base_margin;
    ch_gbt_forest forest;
    int32_t best_iteration;
    uint32_t rounds;
    double *imp_weight, *imp_gain, *imp_cover; /* n_features each: totals */
    double *train_curve, *valid_curve;         /* per round (NaN when absent) */
    size_t n_curve;
    ch_gbt_cuts cuts;
    double sg, sh;
} ch_gbt_model;

void ch_gbt_model_free(ch_gbt_model *m);
/* Output margins of row i of t (n_groups values), trees of the first
 * `rounds` rounds. */
void ch_gbt_model_margins(const ch_gbt_model *m, const ch_table *t, size_t i, size_t rounds,
                          double *out);

/* TreeSHAP (shap.c): adds tree tr's contributions for row `row` of t to
 * phi[0..n_features) and its expected value to phi[n_features]. 0 or
 * CH_ENOMEM. */
int ch_gbt_tree_contribs(const ch_gbt_tree *tr, const ch_table *t, size_t row, double *phi,
                         size_t n_features);
/* The model's contributions for one row: n_groups blocks of n_features + 1
 * values (the last: bias = base margin + the trees' expected values); each
 * block sums to the row's margin for that group. */
int ch_gbt_model_contribs(const ch_gbt_model *m, const ch_table *t, size_t row, double *out);

/* The model in XGBoost's JSON model format (export.c), names[f] the
 * feature names; appended to b. 0 or CH_ENOMEM. */
int ch_gbt_export_xgboost(const ch_gbt_model *m, const char *const *names, ch_buf *b);

struct Cohort__Gbt__Tree;
struct Cohort__Gbt__Cuts;
struct Cohort__Gbt__Model;

/* Fills pb (whose arrays it allocates; free with ch_gbt_tree_pb_free) from t. */
int ch_gbt_tree_to_pb(const ch_gbt_tree *t, struct Cohort__Gbt__Tree *pb);
void ch_gbt_tree_pb_free(struct Cohort__Gbt__Tree *pb);
/* Checks (untrusted) and converts: equal array lengths, children after
 * their parent and in range, features below n_features, split bins below
 * the feature's bin count (when n_bins is given). */
int ch_gbt_tree_from_pb(const struct Cohort__Gbt__Tree *pb, size_t n_features,
                        const uint32_t *n_bins, ch_gbt_tree *t, ch_err *err);
/* Cuts in both directions; from_pb checks sizes and bin counts (<= 256). */
void ch_gbt_cuts_to_pb(const ch_gbt_cuts *c, struct Cohort__Gbt__Cuts *pb);
int ch_gbt_cuts_from_pb(const struct Cohort__Gbt__Cuts *pb, size_t n_features, ch_gbt_cuts *c,
                        ch_err *err);
/* The model as its message; pb borrows from m and owns arrays freed by
 * ch_gbt_model_pb_free. */
int ch_gbt_model_to_pb(const ch_gbt_model *m, struct Cohort__Gbt__Model *pb);
void ch_gbt_model_pb_free(struct Cohort__Gbt__Model *pb);
/* A model from its message; n_classes from the schema's target. */
int ch_gbt_model_from_pb(const struct Cohort__Gbt__Model *pb, size_t n_features, size_t n_classes,
                         ch_gbt_model *m, ch_err *err);

#endif
