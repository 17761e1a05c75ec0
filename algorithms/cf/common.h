/* common.h: what the three cf algorithm tables share at the coordinator:
 * turning the engine's table into the model being trained, the held-out
 * interactions, user and column blocks, and the final outputs. */
#ifndef CH_CF_COMMON_H
#define CH_CF_COMMON_H

#include "algorithms/algo.h"
#include "algorithms/cf/model.h"
#include "algorithms/cf/params.h"

/* Held-out interactions in dense ids (engine test table or the model's own
 * split). */
typedef struct ch_cf_heldout {
    size_t n;
    long *u, *i;
    double *r;
    bool has_rating;
    bool own; /* the model's own split (leave_k_out, time) */
} ch_cf_heldout;

/* Builds the data of env->train by p, moves ids and the training CSR into
 * m (settings from p), and maps the held-out interactions. Returns 0 or an
 * error (by-file mode, bad data). d keeps the rest (by_item, ...). The
 * engine's table is released once built (env->train is invalid after). */
int ch_cf_coord_setup(const ch_coord_env *env, const ch_cf_params *p, ch_cf_kind kind,
                      ch_cf_data *d, ch_cf_model *m, ch_cf_heldout *h, ch_err *err);
void ch_cf_heldout_free(ch_cf_heldout *h);

/* Reports the sampled per-round metrics (test_rmse, test_ndcg_at_k,
 * test_recall_at_k) on the held-out interactions. */
int ch_cf_round_metrics(const ch_cf_model *m, const ch_cf_heldout *h, size_t eval_users,
                        ch_round_metrics *rm, ch_err *err);

/* Final step: metrics of the model's own split into m->holdout, then
 * recommendations.csv (and similar_items.csv for item_knn) in run_dir. */
int ch_cf_finish(ch_cf_model *m, const ch_cf_heldout *h, const ch_cf_params *p, const char *run_dir,
                 ch_err *err);

/* First and one-past-last of `n` things in block b of n_blocks. */
size_t ch_cf_block_begin(size_t n, size_t b, size_t n_blocks);

/* The worker's data: the same build as the coordinator's; by-file silos
 * are refused. The engine's table is released once built. */
int ch_cf_worker_setup(const ch_worker_env *env, const ch_cf_params *p, ch_cf_data *d, ch_err *err);

#endif
