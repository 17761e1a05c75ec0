/* model.h: the collaborative-filtering model shared by als, user_knn and
 * item_knn: ids, the training interactions, factors or neighbour lists;
 * rating prediction, top-N recommendation (seen items excluded, the
 * popularity list for users without training interactions), ranking
 * evaluation, model.pb packing, recommendations.csv and the report. */
#ifndef CH_CF_MODEL_H
#define CH_CF_MODEL_H

#include "algorithms/algo.h"
#include "algorithms/cf/data.h"
#include "algorithms/cf/knn.h"

typedef enum { CH_CF_ALS = 0, CH_CF_USER_KNN = 1, CH_CF_ITEM_KNN = 2 } ch_cf_kind;
typedef enum { CH_CF_RANK_SIMILARITY = 0, CH_CF_RANK_PREDICTION = 1 } ch_cf_rank_by;
extern const char *const ch_cf_rank_names[];

enum {
    CH_CF_M_RMSE = 0,
    CH_CF_M_MAE,
    CH_CF_M_PRECISION,
    CH_CF_M_RECALL,
    CH_CF_M_NDCG,
    CH_CF_M_MAP,
    CH_CF_M_HIT,
    CH_CF_M_COVERAGE,
    CH_CF_M_USERS,
    CH_CF_NMET
};
/* "rmse", "mae", "precision_at_k", ...; static strings. */
extern const char *const ch_cf_metric_names[];
extern const char *const ch_cf_metric_test_keys[]; /* "test_rmse", ... */

typedef struct ch_cf_model {
    ch_cf_kind kind;
    char *user_col, *item_col, *rating_col;
    ch_cf_ids users, items;
    ch_cf_csr by_user; /* training interactions */
    double mu;
    double *bu, *bi; /* NULL when unused */
    /* als */
    size_t f;
    bool implicit, biased;
    double *X, *Y;
    double alpha, lambda;
    long iterations;
    /* knn */
    ch_knn_params knn;
    ch_cf_rank_by rank_by;
    size_t n_nb_rows;
    size_t *nb_ptr;
    uint32_t *nb;
    double *nb_sim;
    double *means;
    /* evaluation */
    size_t eval_k, top_n;
    double relevant_min;
    int split;
    bool has_holdout;
    double holdout[CH_CF_NMET];
    size_t n_holdout, n_dups;
    uint32_t *popular; /* items by training count, descending (derived) */
} ch_cf_model;

/* Derives the popularity list; call once the training data are in place.
 * Returns 0 or CH_ENOMEM. */
int ch_cf_model_ready(ch_cf_model *m);
void ch_cf_model_free(ch_cf_model *m);

/* Predicted rating (explicit) or score (implicit) of dense user u, item i;
 * -1 for unknown. Cold start: ALS predicts the global mean plus the biases
 * it knows (an unknown user of a known item gets mean + b_i); kNN predicts
 * the global mean when the user or the item is unknown (as Surprise). */
double ch_cf_predict_one(const ch_cf_model *m, long u, long i);

/* Top n items for user u (-1 unknown), seen items excluded, best first
 * (ties by item id). scratch: n_items doubles and n_items bytes. Returns the
 * count (< n only when the catalogue runs out). */
size_t ch_cf_topn(const ch_cf_model *m, long u, size_t n, uint32_t *items, double *scores,
                  double *score, uint8_t *cand);

/* Inserts (i, s) into the best-first list items/scores of *cnt <= n
 * entries (ties by the smaller id); n > 0. This function can't fail. */
void ch_cf_insert_best(uint32_t *items, double *scores, size_t *cnt, size_t n, uint32_t i,
                       double s);

/* Writes the CSV field s to b, quoted when it holds a comma, quote or
 * newline. */
void ch_cf_csv_field(ch_buf *b, const char *s);
/* Writes b to path; an error names the path. */
int ch_cf_write_buf(const char *path, ch_buf *b, ch_err *err);

/* Metrics on held-out interactions (dense ids, -1 unknown): RMSE/MAE when
 * ratings are explicit (else NaN), ranking metrics at eval_k over users
 * with a relevant held-out item (at most max_users of them, evenly spaced;
 * 0 = all). Returns 0 or CH_ENOMEM. */
int ch_cf_evaluate(const ch_cf_model *m, size_t n, const long *u, const long *i, const double *r,
                   bool has_rating, size_t max_users, double out[CH_CF_NMET]);

/* Writes user,rank,item,score for every user (top_n each) to path. */
int ch_cf_write_recommendations(const ch_cf_model *m, const char *path, ch_err *err);

/* The ch_algo model hooks shared by the three algorithms. */
ch_output_kind ch_cf_output_kind(const void *model);
size_t ch_cf_n_outputs(const void *model);
const char *ch_cf_output_name(const void *model, size_t k);
int ch_cf_predict(const void *model, const ch_table *t, double *out, ch_err *err);
int ch_cf_eval_hook(const void *model, const ch_table *t, ch_round_metrics *out, ch_err *err);
int ch_cf_pack(const void *model, ch_buf *out, ch_err *err);
void *ch_cf_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err);
int ch_cf_summary_json(const void *model, ch_buf *json);
int ch_cf_describe(const void *model, ch_buf *text);
int ch_cf_report(const void *model, ch_report *r, ch_err *err);
void ch_cf_model_destroy(void **model);

#endif
