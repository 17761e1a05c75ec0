/* params.c: reading and checking the random forest's model.* keys. */
#include "algorithms/random_forest/params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_criteria[] = {"gini", "entropy", "squared_error", NULL};

const char *rf_criterion_name(rf_criterion c)
{
    return s_criteria[c];
}

/* max_features: sqrt, log2, a fraction in (0, 1] written with a point, or
 * an integer count. */
static int s_max_features(ch_config *cfg, const ch_schema *schema, bool regression, rf_params *p,
                          ch_err *err)
{
    const char *text = NULL;
    int rc = ch_cfg_str(cfg, "model.max_features", regression ? "1.0" : "sqrt", &text, err);
    if (rc) {
        return rc;
    }
    const char *where = ch_config_where(cfg, "model.max_features");
    if (strcmp(text, "sqrt") == 0 || strcmp(text, "auto") == 0) {
        p->mf_kind = RF_MF_SQRT;
        return 0;
    }
    if (strcmp(text, "log2") == 0) {
        p->mf_kind = RF_MF_LOG2;
        return 0;
    }
    if (strcmp(text, "all") == 0) {
        p->mf_kind = RF_MF_FRACTION;
        p->mf_value = 1.0;
        return 0;
    }
    char *end = NULL;
    double v = strtod(text, &end);
    if (!end || end == text || *end || !isfinite(v)) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.max_features: expected sqrt, log2, all, a fraction in "
                          "(0, 1] or a number of features, got '%s'",
                          where, text);
    }
    if (strpbrk(text, ".eE")) {
        if (!(v > 0 && v <= 1)) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: model.max_features: the fraction %s is out of range (0, 1]",
                              where, text);
        }
        p->mf_kind = RF_MF_FRACTION;
        p->mf_value = v;
        return 0;
    }
    if (v < 1) {
        return ch_err_set(err, CH_EINVAL, "%s: model.max_features: %s features is fewer than 1",
                          where, text);
    }
    if (schema && v > (double)schema->n_features) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.max_features: %s is more than the %zu features of the data",
                          where, text, schema->n_features);
    }
    p->mf_kind = RF_MF_COUNT;
    p->mf_value = v;
    return 0;
}

/* Name of class c: its level, or its code for a numeric target. */
static const char *s_class_name(const ch_schema *schema, size_t c, char *buf, size_t size)
{
    if (schema->target.kind == CH_COL_CATEGORICAL) {
        return schema->target.levels[c];
    }
    snprintf(buf, size, "%zu", c);
    return buf;
}

/* class_weight: none, balanced, balanced_subsample, a list of weights in
 * the order of the target's levels, or a map level -> weight. */
static int s_class_weight(ch_config *cfg, const ch_schema *schema, bool regression, rf_params *p,
                          ch_err *err)
{
    const char *key = "model.class_weight";
    ch_cfg_type type = ch_config_type(cfg, key);
    size_t k = schema ? rf_params_n_classes(p, schema) : 0;
    if (type == CH_CFG_SEQ || type == CH_CFG_MAP) {
        if (regression) {
            return ch_err_set(err, CH_EINVAL, "%s: %s applies to classification only",
                              ch_config_where(cfg, key), key);
        }
        if (!schema) {
            ch_config_mark_used(cfg, key);
            p->cw = RF_CW_NONE;
            return 0;
        }
        p->cw_values = calloc(k ? k : 1, sizeof *p->cw_values);
        if (!p->cw_values) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        p->n_cw = k;
        p->cw = RF_CW_EXPLICIT;
    }
    if (type == CH_CFG_SEQ) {
        size_t n = 0;
        int rc = ch_cfg_num_list(cfg, key, p->cw_values, k, &n, err);
        if (rc) {
            return rc;
        }
        if (n != k) {
            return ch_err_set(err, CH_EINVAL, "%s: %s has %zu weights for %zu classes",
                              ch_config_where(cfg, key), key, n, k);
        }
    } else if (type == CH_CFG_MAP) {
        for (size_t c = 0; c < k; c++) {
            p->cw_values[c] = 1.0;
        }
        size_t n = ch_config_len(cfg, key);
        for (size_t i = 0; i < n; i++) {
            const char *level = ch_config_key(cfg, key, i);
            size_t c = 0;
            char nb[32];
            while (c < k &&
                   strcmp(s_class_name(schema, c, nb, sizeof nb), level ? level : "") != 0) {
                c++;
            }
            char path[512];
            snprintf(path, sizeof path, "%s.%s", key, level ? level : "");
            if (c == k) {
                return ch_err_set(err, CH_EINVAL, "%s: %s: '%s' is not a class of target '%s'",
                                  ch_config_where(cfg, path), key, level ? level : "",
                                  schema->target.name);
            }
            int rc = ch_cfg_num(cfg, path, 1.0, 0, 1e300, &p->cw_values[c], err);
            if (rc) {
                return rc;
            }
        }
    } else {
        static const char *const modes[] = {"none", "balanced", "balanced_subsample", NULL};
        int m = 0;
        int rc = ch_cfg_enum(cfg, key, "none", modes, &m, err);
        if (rc) {
            return rc;
        }
        if (m && regression) {
            return ch_err_set(err, CH_EINVAL, "%s: %s applies to classification only",
                              ch_config_where(cfg, key), key);
        }
        p->cw = (rf_cw_mode)m;
    }
    if (p->cw == RF_CW_EXPLICIT) {
        for (size_t c = 0; c < k; c++) {
            if (!(p->cw_values[c] >= 0) || !isfinite(p->cw_values[c])) {
                return ch_err_set(err, CH_EINVAL, "%s: %s: weight %g of class '%s' is not >= 0",
                                  ch_config_where(cfg, key), key, p->cw_values[c],
                                  s_class_name(schema, c, (char[32]){0}, 32));
            }
        }
    }
    return 0;
}

size_t rf_params_n_classes(const rf_params *p, const ch_schema *schema)
{
    if (schema->target.kind == CH_COL_CATEGORICAL) {
        return schema->target.n_levels;
    }
    return p->classes > 0 ? (size_t)p->classes : 0;
}

int rf_params_read(ch_config *cfg, const ch_schema *schema, rf_params *p, ch_err *err)
{
    memset(p, 0, sizeof *p);
    int rc = ch_cfg_int(cfg, "model.classes", 0, 0, RF_MAX_CLASSES, &p->classes, err);
    if (rc) {
        return rc;
    }
    if (p->classes == 1) {
        return ch_err_set(err, CH_EINVAL, "%s: model.classes: a classifier needs two or more",
                          ch_config_where(cfg, "model.classes"));
    }
    if (schema && schema->target.kind == CH_COL_CATEGORICAL && p->classes > 0 &&
        (size_t)p->classes != schema->target.n_levels) {
        return ch_err_set(err, CH_EINVAL, "%s: model.classes is %ld but target '%s' has %zu levels",
                          ch_config_where(cfg, "model.classes"), p->classes, schema->target.name,
                          schema->target.n_levels);
    }
    bool regression = schema && schema->target.kind == CH_COL_NUMERIC && p->classes == 0;
    if (schema && schema->target.kind == CH_COL_CATEGORICAL && schema->target.n_levels < 2) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: target '%s' has a single class ('%s'): a classifier needs two "
                          "or more",
                          ch_config_where(cfg, "data.target"), schema->target.name,
                          schema->target.n_levels ? schema->target.levels[0] : "");
    }
    if (schema && schema->target.kind == CH_COL_CATEGORICAL &&
        schema->target.n_levels > RF_MAX_CLASSES) {
        return ch_err_set(err, CH_EINVAL, "%s: target '%s' has %zu classes (at most %d)",
                          ch_config_where(cfg, "data.target"), schema->target.name,
                          schema->target.n_levels, RF_MAX_CLASSES);
    }
    int crit = 0;
    const char *const *choices = s_criteria;
    rc = ch_cfg_enum(cfg, "model.criterion", regression ? "squared_error" : "gini", choices, &crit,
                     err);
    if (rc) {
        return rc;
    }
    if (schema && (crit == RF_SQUARED_ERROR) != regression) {
        return ch_err_set(err, CH_EINVAL, "%s: model.criterion %s is for %s, and target '%s' is %s",
                          ch_config_where(cfg, "model.criterion"), s_criteria[crit],
                          crit == RF_SQUARED_ERROR ? "regression" : "classification",
                          schema->target.name, regression ? "numeric" : "categorical");
    }
    p->criterion = (rf_criterion)crit;
    static const char *const splitters[] = {"hist", "exact", NULL};
    int splitter = 0;
    double ms = 0;
    if ((rc = ch_cfg_int(cfg, "model.n_trees", 100, 1, 100000, &p->n_trees, err)) ||
        (rc = ch_cfg_int(cfg, "model.max_depth", 0, 0, 1000, &p->max_depth, err)) ||
        (rc = ch_cfg_int(cfg, "model.min_samples_split", 2, 2, 1L << 40, &p->min_samples_split,
                         err)) ||
        (rc = ch_cfg_int(cfg, "model.min_samples_leaf", 1, 1, 1L << 40, &p->min_samples_leaf,
                         err)) ||
        (rc = s_max_features(cfg, schema, regression, p, err)) ||
        (rc = ch_cfg_bool(cfg, "model.bootstrap", true, &p->bootstrap, err)) ||
        (rc = ch_cfg_num(cfg, "model.max_samples", 0, 0, 1e15, &ms, err)) ||
        (rc = s_class_weight(cfg, schema, regression, p, err)) ||
        (rc = ch_cfg_enum(cfg, "model.splitter", "hist", splitters, &splitter, err)) ||
        (rc = ch_cfg_int(cfg, "model.max_bins", 256, 2, 256, &p->max_bins, err)) ||
        (rc = ch_cfg_int(cfg, "model.trees_per_round", 10, 1, 100000, &p->trees_per_round, err)) ||
        (rc = ch_cfg_bool(cfg, "model.oob_score", true, &p->oob_score, err)) ||
        (rc = ch_cfg_bool(cfg, "model.permutation_importance", true, &p->permutation_importance,
                          err)) ||
        (rc = ch_cfg_int(cfg, "model.importance_rows", 2000, 1, 1L << 40, &p->importance_rows,
                         err))) {
        return rc;
    }
    if (ms > 1 && ms != floor(ms)) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: model.max_samples: %g is neither a fraction in (0, 1] nor a "
                          "whole number of rows",
                          ch_config_where(cfg, "model.max_samples"), ms);
    }
    p->max_samples = ms;
    p->exact = splitter == 1;
    return 0;
}

void rf_params_free(rf_params *p)
{
    if (p) {
        free(p->cw_values);
        p->cw_values = NULL;
        p->n_cw = 0;
    }
}

size_t rf_params_mtry(const rf_params *p, size_t n)
{
    double m = 1;
    switch (p->mf_kind) {
    case RF_MF_SQRT:
        m = floor(sqrt((double)n));
        break;
    case RF_MF_LOG2:
        m = floor(log2((double)n));
        break;
    case RF_MF_FRACTION:
        m = floor(p->mf_value * (double)n);
        break;
    case RF_MF_COUNT:
        m = p->mf_value;
        break;
    }
    if (m < 1) {
        m = 1;
    }
    if (m > (double)n) {
        m = (double)n;
    }
    return (size_t)m;
}
