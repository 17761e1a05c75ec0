/* params.c: reading the cf model keys (see params.h). */
#include "algorithms/cf/params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ch_cf_params_read(ch_config *cfg, const ch_schema *schema, ch_cf_kind kind, uint64_t seed,
                      ch_cf_params *p, ch_err *err)
{
    memset(p, 0, sizeof *p);
    const char *rating_def = "rating";
    if (schema && schema->target.name) {
        rating_def = schema->target.name;
    }
    long ek, tn, eu, hk, f, it, cg, k, mk, ms, keep, be;
    int dup, split, sim, pred, rank;
    double scale[2];
    size_t n_scale = 0;
    int rc = 0;
    if ((rc = ch_cfg_str(cfg, "model.user_col", "user", &p->spec.user_col, err)) ||
        (rc = ch_cfg_str(cfg, "model.item_col", "item", &p->spec.item_col, err)) ||
        (rc = ch_cfg_str(cfg, "model.rating_col", rating_def, &p->spec.rating_col, err)) ||
        (rc = ch_cfg_str(cfg, "model.time_col", "timestamp", &p->spec.time_col, err)) ||
        (rc = ch_cfg_enum(cfg, "model.duplicates", "last", ch_cf_dup_names, &dup, err)) ||
        (rc = ch_cfg_enum(cfg, "model.split", "random", ch_cf_split_names, &split, err)) ||
        (rc = ch_cfg_int(cfg, "model.holdout_k", 1, 1, 1000000, &hk, err)) ||
        (rc = ch_cfg_num(cfg, "model.test_fraction", 0.2, 1e-6, 0.95, &p->spec.test_fraction,
                         err)) ||
        (rc = ch_cfg_int(cfg, "model.eval_k", 10, 1, 10000, &ek, err)) ||
        (rc = ch_cfg_int(cfg, "model.top_n", 10, 1, 10000, &tn, err)) ||
        (rc = ch_cfg_int(cfg, "model.eval_users", 1000, 0, 100000000, &eu, err)) ||
        (rc = ch_cfg_num(cfg, "model.relevant_min", 0, -1e300, 1e300, &p->relevant_min, err)) ||
        (rc = ch_cfg_bool(cfg, "model.recommend", true, &p->recommend, err))) {
        return rc;
    }
    if (ch_config_has(cfg, "model.rating_scale")) {
        rc = ch_cfg_num_list(cfg, "model.rating_scale", scale, 2, &n_scale, err);
        if (rc == 0 && (n_scale != 2 || !(scale[0] < scale[1]))) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.rating_scale must be [low, high] with low < high",
                              ch_config_where(cfg, "model.rating_scale"));
        }
        if (rc) {
            return rc;
        }
        p->spec.has_scale = true;
        p->spec.scale_lo = scale[0];
        p->spec.scale_hi = scale[1];
    }
    p->spec.duplicates = (ch_cf_dup)dup;
    p->spec.split = (ch_cf_split)split;
    p->spec.holdout_k = hk;
    p->spec.seed = seed;
    p->eval_k = (size_t)ek;
    p->top_n = (size_t)tn;
    p->eval_users = (size_t)eu;
    if (kind == CH_CF_ALS) {
        if ((rc = ch_cfg_int(cfg, "model.factors", 10, 1, 1024, &f, err)) ||
            (rc = ch_cfg_num(cfg, "model.regularization", 0.1, 0, 1e12, &p->als.lambda, err)) ||
            (rc = ch_cfg_num(cfg, "model.alpha", 1.0, 0, 1e12, &p->als.alpha, err)) ||
            (rc = ch_cfg_int(cfg, "model.iterations", 10, 1, 100000, &it, err)) ||
            (rc = ch_cfg_bool(cfg, "model.implicit", false, &p->als.implicit, err)) ||
            (rc = ch_cfg_bool(cfg, "model.biased", true, &p->als.biased, err)) ||
            (rc = ch_cfg_int(cfg, "model.cg_steps", 3, 0, 1000, &cg, err)) ||
            (rc = ch_cfg_num(cfg, "model.init_scale", 0.1, 0, 1e6, &p->init_scale, err))) {
            return rc;
        }
        p->als.f = (size_t)f;
        p->als.cg_steps = cg;
        p->iterations = it;
        p->spec.implicit = p->als.implicit;
        if (p->als.lambda <= 0 && (p->als.implicit || p->als.biased)) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.regularization must be > 0 (users or items with few "
                              "interactions make the normal equations singular)",
                              ch_config_where(cfg, "model.regularization"));
        }
    } else {
        if ((rc = ch_cfg_enum(cfg, "model.similarity", "cosine", ch_knn_sim_names, &sim, err)) ||
            (rc = ch_cfg_enum(cfg, "model.prediction", "means", ch_knn_pred_names, &pred, err)) ||
            (rc = ch_cfg_num(cfg, "model.shrinkage", 0, 0, 1e12, &p->knn.shrinkage, err)) ||
            (rc = ch_cfg_int(cfg, "model.k", 40, 1, 1000000, &k, err)) ||
            (rc = ch_cfg_int(cfg, "model.min_k", 1, 0, 1000000, &mk, err)) ||
            (rc = ch_cfg_int(cfg, "model.min_support", 1, 1, 1000000, &ms, err)) ||
            (rc = ch_cfg_int(cfg, "model.keep", 0, 0, 1000000, &keep, err)) ||
            (rc = ch_cfg_num(cfg, "model.reg_u", 15, 0, 1e12, &p->knn.reg_u, err)) ||
            (rc = ch_cfg_num(cfg, "model.reg_i", 10, 0, 1e12, &p->knn.reg_i, err)) ||
            (rc = ch_cfg_int(cfg, "model.baseline_epochs", 10, 1, 10000, &be, err)) ||
            (rc = ch_cfg_enum(cfg, "model.rank_by", "similarity", ch_cf_rank_names, &rank, err)) ||
            (rc = ch_cfg_num(cfg, "model.block_mb", 64, 0.001, 65536, &p->block_mb, err))) {
            return rc;
        }
        p->knn.sim = (ch_knn_sim)sim;
        p->knn.pred = (ch_knn_pred)pred;
        p->knn.k = k;
        p->knn.min_k = mk;
        p->knn.min_support = ms;
        p->knn.keep = keep ? keep : (k > 100 ? k : 100);
        p->knn.bsl_epochs = be;
        p->rank_by = (ch_cf_rank_by)rank;
        if (p->knn.keep < k) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.keep (%ld neighbours stored per row) must be at least "
                              "model.k (%ld)",
                              ch_config_where(cfg, "model.keep"), p->knn.keep, k);
        }
    }
    if (p->spec.split != CH_CF_SPLIT_RANDOM && ch_config_has(cfg, "data.test_fraction")) {
        double tf = 0;
        ch_cfg_num(cfg, "data.test_fraction", 0.2, 0, 1, &tf, NULL);
        if (tf > 0) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.split %s holds out its own interactions; set "
                              "data.test_fraction: 0 (the engine's random row split would hold "
                              "out more)",
                              ch_config_where(cfg, "model.split"), ch_cf_split_names[split]);
        }
    } else if (p->spec.split != CH_CF_SPLIT_RANDOM) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.split %s holds out its own interactions; set "
                          "data.test_fraction: 0 (the default 0.2 would also hold out random rows)",
                          ch_config_where(cfg, "model.split"), ch_cf_split_names[split]);
    }
    return 0;
}

int ch_cf_params_to_model(const ch_cf_params *p, ch_cf_kind kind, ch_cf_model *m)
{
    m->kind = kind;
    m->user_col = strdup(p->spec.user_col);
    m->item_col = strdup(p->spec.item_col);
    m->rating_col = strdup(p->spec.rating_col);
    m->f = p->als.f;
    m->implicit = p->als.implicit;
    m->biased = p->als.biased && !p->als.implicit;
    m->alpha = p->als.alpha;
    m->lambda = p->als.lambda;
    m->iterations = p->iterations;
    m->knn = p->knn;
    m->rank_by = p->rank_by;
    m->eval_k = p->eval_k;
    m->top_n = p->top_n;
    m->relevant_min = p->relevant_min;
    m->split = p->spec.split;
    return m->user_col && m->item_col && m->rating_col ? 0 : CH_ENOMEM;
}
