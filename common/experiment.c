/* experiment.c: experiment settings and data loading (see experiment.h). */
#include "common/experiment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_known[] = {"name",
                                      "seed",
                                      "workers",
                                      "data.train",
                                      "data.test",
                                      "data.target",
                                      "data.positive",
                                      "data.weights",
                                      "data.format",
                                      "data.test_fraction",
                                      "partition.scheme",
                                      "partition.alpha",
                                      "model.algorithm",
                                      "runtime.heartbeat_timeout",
                                      "runtime.round_timeout",
                                      "runtime.grant_timeout",
                                      "runtime.join_timeout",
                                      "runtime.coordinator_timeout",
                                      "runtime.max_message_mb",
                                      "runtime.checkpoint_every",
                                      "runtime.tracking",
                                      "runtime.speculate",
                                      NULL};

static const char *const s_formats[] = {"auto", "csv", "libsvm", "idx", NULL};

/* A relative path written in a config file is relative to that file's
 * directory (so `cohort run` works from any directory); one given with
 * --set is relative to the current directory. The resolved path is written
 * back so that workers and config.yaml see it. */
static int s_resolve_path(ch_config *cfg, const char *key, const char **path, ch_err *err)
{
    if (!*path || (*path)[0] == '/') {
        return 0;
    }
    const char *where = ch_config_where(cfg, key);
    const char *colon = strrchr(where, ':');
    if (!colon || strncmp(where, "--set", 5) == 0 || where[0] == '(') {
        return 0;
    }
    size_t flen = (size_t)(colon - where);
    char *file = strndup(where, flen);
    if (!file) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    const char *slash = strrchr(file, '/');
    if (!slash) {
        free(file); /* the config is in the current directory */
        return 0;
    }
    size_t n = (size_t)(slash - file) + 1 + strlen(*path) + 1;
    char *joined = malloc(n);
    if (!joined) {
        free(file);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    snprintf(joined, n, "%.*s/%s", (int)(slash - file), file, *path);
    free(file);
    char *real = realpath(joined, NULL);
    int rc = ch_config_set_str(cfg, key, real ? real : joined, err);
    free(real);
    free(joined);
    if (rc == 0) {
        rc = ch_cfg_str(cfg, key, NULL, path, err);
    }
    return rc;
}

/* data.train: required, except for algorithms that read no table. */
static int s_train_path(ch_config *cfg, const char *algo, const char **out, ch_err *err)
{
    const ch_algo *a = ch_algo_find(algo);
    if (a && a->no_data && !ch_config_has(cfg, "data.train")) {
        *out = NULL;
        return 0;
    }
    return ch_cfg_str(cfg, "data.train", NULL, out, err);
}

int ch_experiment_resolve_paths(ch_config *cfg, ch_err *err)
{
    const char *path = NULL;
    int rc = 0;
    if (ch_config_type(cfg, "data.train") == CH_CFG_SCALAR) {
        ch_cfg_str(cfg, "data.train", NULL, &path, NULL);
        rc = s_resolve_path(cfg, "data.train", &path, err);
    }
    if (rc == 0 && ch_config_type(cfg, "data.test") == CH_CFG_SCALAR) {
        ch_cfg_str(cfg, "data.test", NULL, &path, NULL);
        rc = s_resolve_path(cfg, "data.test", &path, err);
    }
    return rc;
}

int ch_experiment_configure(ch_experiment *x, ch_config *cfg, ch_err *err)
{
    memset(x, 0, sizeof *x);
    x->cfg = cfg;
    long seed = 0, workers = 0;
    double hb, rt, gt, jt, ct, mm;
    long ckpt;
    int fmt = 0, scheme = 0;
    const char *algo = NULL;
    int rc = 0;
    if ((rc = ch_cfg_str(cfg, "name", "experiment", &x->name, err)) ||
        (rc = ch_cfg_int(cfg, "seed", 42, 0, 0x7fffffffffffffffL, &seed, err)) ||
        (rc = ch_cfg_int(cfg, "workers", 2, 1, 4096, &workers, err)) ||
        (rc = ch_cfg_str(cfg, "model.algorithm", NULL, &algo, err)) ||
        (rc = s_train_path(cfg, algo, &x->train_path, err)) ||
        (rc = ch_cfg_enum(cfg, "data.format", "auto", s_formats, &fmt, err)) ||
        (rc = ch_cfg_num(cfg, "data.test_fraction", 0.2, 0.0, 0.95, &x->test_fraction, err)) ||
        (rc = ch_cfg_enum(cfg, "partition.scheme", "iid", ch_part_scheme_names, &scheme, err)) ||
        (rc = ch_cfg_num(cfg, "partition.alpha", 0.5, 1e-6, 1e6, &x->alpha, err)) ||
        (rc = ch_cfg_num(cfg, "runtime.heartbeat_timeout", 10, 0.2, 86400, &hb, err)) ||
        (rc = ch_cfg_num(cfg, "runtime.round_timeout", 3600, 0.5, 604800, &rt, err)) ||
        (rc = ch_cfg_num(cfg, "runtime.grant_timeout", 30, 0.1, 604800, &gt, err)) ||
        (rc = ch_cfg_num(cfg, "runtime.join_timeout", 60, 0.5, 86400, &jt, err)) ||
        (rc = ch_cfg_num(cfg, "runtime.coordinator_timeout", 30, 0.5, 86400, &ct, err)) ||
        (rc = ch_cfg_num(cfg, "runtime.max_message_mb", 256, 1, 4096, &mm, err)) ||
        (rc = ch_cfg_int(cfg, "runtime.checkpoint_every", 1, 1, 1000000, &ckpt, err)) ||
        (rc = ch_cfg_bool(cfg, "runtime.tracking", true, &x->rt.tracking, err)) ||
        (rc = ch_cfg_bool(cfg, "runtime.speculate", false, &x->rt.speculate, err))) {
        return rc;
    }
    x->seed = (uint64_t)seed;
    x->workers = workers;
    x->format = (ch_format)fmt;
    x->scheme = (ch_part_scheme)scheme;
    x->rt.heartbeat_ms = (long)(hb * 1000);
    x->rt.round_timeout_ms = (long)(rt * 1000);
    x->rt.grant_timeout_ms = (long)(gt * 1000);
    x->rt.join_timeout_ms = (long)(jt * 1000);
    x->rt.coordinator_timeout_ms = (long)(ct * 1000);
    x->rt.max_message = (long long)(mm * 1048576.0);
    x->rt.checkpoint_every = ckpt;
    x->algo = ch_algo_find(algo);
    if (!x->algo) {
        ch_buf names;
        ch_buf_init(&names);
        for (const char *const *n = ch_algo_names(); *n; n++) {
            ch_buf_printf(&names, "%s%s", n == ch_algo_names() ? "" : ", ", *n);
        }
        rc = ch_err_set(err, CH_EINVAL, "%s: model.algorithm: unknown algorithm '%s' (known: %s)",
                        ch_config_where(cfg, "model.algorithm"), algo, ch_buf_str(&names));
        ch_buf_free(&names);
        return rc;
    }
    if (ch_config_has(cfg, "data.test")) {
        ch_cfg_str(cfg, "data.test", NULL, &x->test_path, err);
    }
    if ((rc = s_resolve_path(cfg, "data.train", &x->train_path, err)) ||
        (rc = s_resolve_path(cfg, "data.test", &x->test_path, err))) {
        return rc;
    }
    if (ch_config_has(cfg, "data.target") || x->algo->needs_target) {
        if ((rc = ch_cfg_str(cfg, "data.target", NULL, &x->target, err))) {
            return rc;
        }
    }
    if (ch_config_has(cfg, "data.positive")) {
        ch_cfg_str(cfg, "data.positive", NULL, &x->positive, err);
    }
    if (ch_config_has(cfg, "data.weights")) {
        ch_cfg_str(cfg, "data.weights", NULL, &x->weights, err);
    }
    return 0;
}

static ch_table *s_read(ch_experiment *x, const char *path, const char *key, ch_err *err)
{
    ch_table *t = ch_table_read(path, x->format, err);
    if (!t) {
        ch_err_prefix(err, "%s: %s", ch_config_where(x->cfg, key), key);
        return NULL;
    }
    int rc = 0;
    if (x->target) {
        rc = ch_table_set_target(t, x->target, x->positive, err);
        if (rc) {
            ch_err_prefix(err, "%s: data.target", ch_config_where(x->cfg, "data.target"));
        }
    }
    if (rc == 0 && x->weights) {
        rc = ch_table_set_weights(t, x->weights, err);
        if (rc) {
            ch_err_prefix(err, "%s: data.weights", ch_config_where(x->cfg, "data.weights"));
        }
    }
    if (rc) {
        ch_table_destroy(&t);
    }
    return t;
}

/* The training rows (and, when test is not NULL and they are split from the
 * same file, the held-out rows) as ch_experiment_load reads them. */
static int s_load_split(ch_experiment *x, const char *path_override, ch_table **train,
                        ch_table **test, ch_err *err)
{
    *train = NULL;
    if (test) {
        *test = NULL;
    }
    ch_table *all = s_read(x, path_override ? path_override : x->train_path, "data.train", err);
    if (!all) {
        return err ? err->code : CH_EINVAL;
    }
    if (all->n_rows == 0) {
        ch_table_destroy(&all);
        return ch_err_set(err, CH_EINVAL, "%s has no data rows",
                          path_override ? path_override : x->train_path);
    }
    if (path_override || x->test_path || x->test_fraction == 0) {
        *train = all;
        return 0;
    }
    ch_split split;
    int rc = ch_split_make(all, x->test_fraction, x->seed, &split, err);
    if (rc) {
        ch_table_destroy(&all);
        return rc;
    }
    *train = ch_table_take_rows(all, split.train, split.n_train);
    if (test) {
        *test = ch_table_take_rows(all, split.test, split.n_test);
    }
    ch_split_free(&split);
    ch_table_destroy(&all);
    if (!*train || (test && !*test)) {
        ch_table_destroy(train);
        if (test) {
            ch_table_destroy(test);
        }
        return ch_err_set(err, CH_ENOMEM, "out of memory splitting the data");
    }
    return 0;
}

int ch_experiment_load(ch_experiment *x, const char *path_override, ch_err *err)
{
    if (!path_override && !x->train_path) {
        /* an algorithm without data (ch_algo.no_data): an empty table */
        x->train = ch_table_new(0);
        x->schema = x->train ? ch_schema_from_table(x->train, NULL) : NULL;
        if (!x->train || !x->schema) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        return 0;
    }
    int rc = s_load_split(x, path_override, &x->train, &x->test, err);
    if (rc) {
        return rc;
    }
    x->schema = ch_schema_from_table(x->train, x->positive);
    if (!x->schema) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (x->test_path && !path_override) {
        ch_table *t = ch_table_read(x->test_path, x->format, err);
        if (!t) {
            return ch_err_prefix(err, "%s: data.test", ch_config_where(x->cfg, "data.test"));
        }
        rc = ch_table_conform(t, x->schema, err);
        if (rc) {
            ch_table_destroy(&t);
            return ch_err_prefix(err, "%s: data.test", ch_config_where(x->cfg, "data.test"));
        }
        x->test = t;
    }
    return 0;
}

int ch_experiment_reload_train(ch_experiment *x, ch_table **out, ch_err *err)
{
    if (!x->train_path) {
        return ch_err_set(err, CH_EINTERNAL, "no training file to read again");
    }
    return s_load_split(x, NULL, out, NULL, err);
}

int ch_experiment_check_common_keys(ch_experiment *x, ch_err *err)
{
    /* model.* and federated.* belong to the algorithm, which reads them
     * once the data's columns are known; they are checked then */
    size_t n = sizeof s_known / sizeof s_known[0] - 1;
    const char *known[sizeof s_known / sizeof s_known[0] + 2];
    memcpy(known, s_known, n * sizeof *known);
    known[n] = "model.*";
    known[n + 1] = "federated.*";
    known[n + 2] = NULL;
    return ch_config_check_unused(x->cfg, known, err);
}

int ch_experiment_check_keys(ch_experiment *x, ch_err *err)
{
    int rc = x->algo->configure(x->cfg, x->schema, err);
    if (rc) {
        return rc;
    }
    return ch_config_check_unused(x->cfg, s_known, err);
}

void ch_experiment_free(ch_experiment *x)
{
    if (!x) {
        return;
    }
    ch_config_destroy(&x->cfg);
    ch_table_destroy(&x->train);
    ch_table_destroy(&x->test);
    ch_schema_destroy(&x->schema);
    memset(x, 0, sizeof *x);
}
