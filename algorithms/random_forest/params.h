/* params.h: the random forest's model.* keys, read and checked once.
 *
 * Names and defaults follow scikit-learn's RandomForestClassifier and
 * RandomForestRegressor; see docs in algorithms/random_forest/README.md. */
#ifndef CH_RF_PARAMS_H
#define CH_RF_PARAMS_H

#include "common/config.h"
#include "common/err.h"
#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum { RF_GINI = 0, RF_ENTROPY, RF_SQUARED_ERROR } rf_criterion;
typedef enum { RF_MF_SQRT = 0, RF_MF_LOG2, RF_MF_FRACTION, RF_MF_COUNT } rf_mf_kind;
typedef enum {
    RF_CW_NONE = 0,
    RF_CW_BALANCED,
    RF_CW_BALANCED_SUBSAMPLE,
    RF_CW_EXPLICIT
} rf_cw_mode;

#define RF_MAX_CLASSES 1024

typedef struct rf_params {
    long n_trees;
    long max_depth; /* 0: unlimited */
    long min_samples_split;
    long min_samples_leaf;
    rf_mf_kind mf_kind;
    double mf_value; /* the fraction or the count */
    bool bootstrap;
    double max_samples; /* 0: as many draws as rows; (0, 1]: fraction; > 1: count */
    rf_cw_mode cw;
    double *cw_values; /* explicit: one weight per class (n_cw == classes) */
    size_t n_cw;
    rf_criterion criterion;
    long max_bins; /* histogram bins per feature, missing bin included */
    bool exact;    /* splitter: exact: one bin per distinct value */
    long trees_per_round;
    bool oob_score;
    bool permutation_importance;
    long importance_rows;
    long classes; /* > 0: a numeric target holding class codes 0..classes-1 */
} rf_params;

/* Reads and validates every model.* key of the random forest into p,
 * filling defaults (written back to cfg). schema may be NULL (no checks
 * against the data then). Errors name the key, file and line. On success
 * p owns cw_values (free with rf_params_free). */
int rf_params_read(ch_config *cfg, const ch_schema *schema, rf_params *p, ch_err *err);
void rf_params_free(rf_params *p);

/* Number of classes of the task: the target's levels, p->classes for a
 * numeric target of class codes, 0 for regression. */
size_t rf_params_n_classes(const rf_params *p, const ch_schema *schema);

/* Features tried at each node for p features (at least 1, at most p). */
size_t rf_params_mtry(const rf_params *p, size_t n_features);

/* Name of a criterion ("gini", "entropy", "squared_error"). */
const char *rf_criterion_name(rf_criterion c);

#endif
