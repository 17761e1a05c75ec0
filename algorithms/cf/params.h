/* params.h: the model.* keys of als, user_knn and item_knn, read and
 * validated with their defaults (written back to config.yaml). */
#ifndef CH_CF_PARAMS_H
#define CH_CF_PARAMS_H

#include "algorithms/cf/als.h"
#include "algorithms/cf/data.h"
#include "algorithms/cf/knn.h"
#include "algorithms/cf/model.h"
#include "common/config.h"
#include "common/table.h"

typedef struct ch_cf_params {
    ch_cf_spec spec;
    size_t eval_k, top_n, eval_users;
    double relevant_min;
    bool recommend;  /* write recommendations.csv */
    long iterations; /* als */
    double init_scale;
    ch_als_params als;
    ch_knn_params knn;
    ch_cf_rank_by rank_by;
    double block_mb;
} ch_cf_params;

/* Reads the keys of algorithm kind (schema may be NULL: defaults that
 * depend on the data are then generic). Returns 0 or an error naming
 * file:line and the key. */
int ch_cf_params_read(ch_config *cfg, const ch_schema *schema, ch_cf_kind kind, uint64_t seed,
                      ch_cf_params *p, ch_err *err);

/* Copies the settings the model keeps into m (column names duplicated).
 * Returns 0 or CH_ENOMEM. */
int ch_cf_params_to_model(const ch_cf_params *p, ch_cf_kind kind, ch_cf_model *m);

#endif
