/* forest.h: the random forest model: its trees in tree-index order, the
 * out-of-bag results, the importances and the confusion matrix; prediction
 * (multi-threaded over rows) and the model.pb payload. */
#ifndef CH_RF_FOREST_H
#define CH_RF_FOREST_H

#include "algorithms/random_forest/params.h"
#include "algorithms/random_forest/tree.h"
#include "common/buf.h"
#include "common/table.h"

typedef struct rf_forest {
    size_t n_classes; /* 0: regression */
    size_t n_values;
    size_t n_features;
    char **names;   /* feature names (owned) */
    size_t *levels; /* levels per feature, 0 for numeric (owned) */
    char **classes; /* n_classes class names (owned) */
    rf_criterion criterion;
    rf_tree **trees;
    size_t n_trees;
    double oob_score; /* NaN when not computed */
    double *oob_pred; /* n_oob x n_values */
    size_t n_oob;
    double *oob_curve;
    uint32_t *oob_curve_trees;
    size_t n_curve;
    double *imp;  /* impurity importance, n_features */
    double *perm; /* permutation importance or NULL */
    double *perm_std;
    char perm_rows[8];
    uint64_t *confusion; /* n_classes x n_classes or NULL */
    char confusion_rows[8];
} rf_forest;

/* An empty forest for the schema (names and levels copied) with n_classes
 * classes (0: regression); NULL when out of memory. */
rf_forest *rf_forest_new(const ch_schema *s, size_t n_classes, rf_criterion criterion);
void rf_forest_destroy(rf_forest **f);

/* out[n_rows x n_values]: the mean over trees of the leaf values (class
 * probabilities or the regression mean). Threads over rows; the result does
 * not depend on the thread count. t is conformed to the schema. */
int rf_forest_predict(const rf_forest *f, const ch_table *t, double *out, ch_err *err);

/* Adds the leaf values of one tree for rows[0..n) of t into sum (n x
 * n_values, indexed by position in rows). */
void rf_tree_add_predictions(const rf_tree *tr, const ch_table *t, const size_t *rows, size_t n,
                             double *sum);

/* Impurity importance: the mean over trees of each tree's normalized
 * decrease (scikit-learn's feature_importances_), into f->imp. */
int rf_forest_importance(rf_forest *f, ch_err *err);

/* Permutation importance on rows of t (conformed, with a target): for each
 * feature, the drop of accuracy (R^2 for regression) when its column is
 * shuffled, mean and standard deviation over `repeats` shuffles drawn from
 * (seed, feature). Fills f->perm, f->perm_std. */
int rf_forest_permutation(rf_forest *f, const ch_table *t, size_t max_rows, size_t repeats,
                          uint64_t seed, ch_err *err);

/* Accuracy (classification) or R^2 of predictions pred[n x n_values]. */
double rf_score(size_t n_classes, const double *y, const double *pred, size_t n);

/* Fills a protobuf message from one tree: arrays are borrowed from tr
 * except missing_left, which is allocated (free it with free()). Returns 0
 * or CH_ENOMEM. Rebuilding copies a message into a new tree, checked
 * against n_values, n_features and levels (NULL with err set when
 * malformed). */
struct Cohort__Rf__Tree;
int rf_tree_to_pb(const rf_tree *tr, struct Cohort__Rf__Tree *m);
rf_tree *rf_tree_from_pb(const struct Cohort__Rf__Tree *m, size_t n_values, size_t n_features,
                         const size_t *levels, ch_err *err);

/* model.pb payload. */
int rf_forest_pack(const rf_forest *f, ch_buf *out, ch_err *err);
rf_forest *rf_forest_unpack(const uint8_t *data, size_t len, const ch_schema *s, ch_err *err);

#endif
