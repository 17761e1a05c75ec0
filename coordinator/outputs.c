/* outputs.c: run directory outputs (see outputs.h). */
#include "coordinator/outputs.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/model_file.h"
#include "common/rng.h"
#include "common/wire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void ch_outputs_init(ch_outputs *o)
{
    memset(o, 0, sizeof *o);
    o->t0 = ch_wall_time();
}

void ch_outputs_run_id(const char *name, char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    ch_rng r;
    ch_rng_init(&r, (uint64_t)getpid() ^ (uint64_t)ch_now_ms() << 20, (uint64_t)now);
    /* keep the name file-system friendly */
    char clean[64];
    size_t j = 0;
    for (const char *p = name; *p && j + 1 < sizeof clean; p++) {
        char c = *p;
        clean[j++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                             c == '-' || c == '_' || c == '.'
                         ? c
                         : '-';
    }
    clean[j] = 0;
    snprintf(buf, size, "%s-%s-%04x", stamp, clean, (unsigned)(ch_rng_u64(&r) & 0xffff));
}

int ch_outputs_begin(ch_outputs *o, const char *dir, const char *run_id, const char *name,
                     const char *algorithm, const char *endpoint, const char *events_endpoint)
{
    o->dir = strdup(dir);
    o->run_id = strdup(run_id);
    o->name = strdup(name);
    o->algorithm = strdup(algorithm);
    if (!o->dir || !o->run_id || !o->name || !o->algorithm) {
        return CH_ENOMEM;
    }
    ch_buf b;
    ch_buf_init(&b);
    ch_buf_puts(&b, "{\"run_id\": ");
    ch_buf_json_str(&b, run_id);
    ch_buf_puts(&b, ", \"tasks\": ");
    ch_buf_json_str(&b, endpoint);
    ch_buf_puts(&b, ", \"events\": ");
    ch_buf_json_str(&b, events_endpoint);
    ch_buf_printf(&b, ", \"pid\": %ld}\n", (long)getpid());
    char *path = ch_path_join(dir, "endpoints.json");
    int rc = path ? ch_write_file_atomic(path, b.data, b.len, NULL) : CH_ENOMEM;
    free(path);
    ch_buf_free(&b);
    return rc;
}

int ch_outputs_config(ch_outputs *o, const char *yaml, ch_err *err)
{
    char *path = ch_path_join(o->dir, "config.yaml");
    if (!path) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = ch_write_file_atomic(path, yaml, strlen(yaml), err);
    free(path);
    return rc;
}

void ch_outputs_metric(ch_outputs *o, const char *key, uint32_t step, double value)
{
    size_t n = o->n_series + 1;
    char **k = realloc(o->series_key, n * sizeof *k);
    if (k) {
        o->series_key = k;
    }
    uint32_t *s = realloc(o->series_step, n * sizeof *s);
    if (s) {
        o->series_step = s;
    }
    double *v = realloc(o->series_value, n * sizeof *v);
    if (v) {
        o->series_value = v;
    }
    if (!k || !s || !v) {
        return;
    }
    o->series_key[o->n_series] = strdup(key);
    o->series_step[o->n_series] = step;
    o->series_value[o->n_series] = value;
    if (o->series_key[o->n_series]) {
        o->n_series++;
    }
}

static void s_pair(ch_buf *json, ch_outputs *record, const char *prefix, const char *key, double v)
{
    ch_buf_printf(json, "%s\"%s%s\": ", json->len ? ", " : "", prefix, key);
    ch_buf_json_num(json, v);
    if (record && record->n_final < sizeof record->final_key / sizeof record->final_key[0]) {
        size_t n = strlen(prefix) + strlen(key) + 1;
        char *k = malloc(n);
        if (k) {
            snprintf(k, n, "%s%s", prefix, key);
            record->final_key[record->n_final] = k;
            record->final_value[record->n_final++] = v;
        }
    }
}

int ch_evaluate(const ch_algo *algo, const void *model, const ch_table *t, const char *prefix,
                ch_buf *json, ch_outputs *record, ch_err *err)
{
    if (algo->evaluate) {
        if (!t || t->n_rows == 0) {
            return 0;
        }
        ch_round_metrics m = {0};
        int rc = algo->evaluate(model, t, &m, err);
        for (size_t k = 0; k < m.n && rc == 0; k++) {
            s_pair(json, record, "", m.key[k], m.value[k]);
        }
        return rc;
    }
    if (!t || !t->has_target || t->n_rows == 0) {
        return 0;
    }
    size_t k = algo->n_outputs(model);
    double *pred = ch_alloc_array(t->n_rows, k * sizeof(double));
    if (!pred) {
        return ch_err_set(err, CH_ENOMEM, "out of memory evaluating %zu rows", t->n_rows);
    }
    int rc = algo->predict(model, t, pred, err);
    if (rc) {
        free(pred);
        return rc;
    }
    const double *y = t->target.values;
    if (algo->output_kind(model) == CH_OUT_REGRESSION) {
        s_pair(json, record, prefix, "rmse", ch_metric_rmse(y, pred, t->n_rows));
        s_pair(json, record, prefix, "mae", ch_metric_mae(y, pred, t->n_rows));
        s_pair(json, record, prefix, "r2", ch_metric_r2(y, pred, t->n_rows));
    } else {
        s_pair(json, record, prefix, "accuracy", ch_metric_accuracy(y, pred, t->n_rows, k));
        s_pair(json, record, prefix, "logloss", ch_metric_logloss(y, pred, t->n_rows, k));
        if (k == 2) {
            double *score = ch_alloc_array(t->n_rows, sizeof(double));
            if (score) {
                for (size_t i = 0; i < t->n_rows; i++) {
                    score[i] = pred[i * 2 + 1];
                }
                s_pair(json, record, prefix, "auc", ch_metric_auc(y, score, t->n_rows));
                free(score);
            }
        }
    }
    free(pred);
    return json->failed ? ch_err_set(err, CH_ENOMEM, "out of memory") : 0;
}

static int s_write_summary(ch_outputs *o, const char *status, const char *error, size_t workers,
                           uint32_t rounds, const ch_buf *extra, ch_err *err)
{
    ch_buf j;
    ch_buf_init(&j);
    ch_buf_puts(&j, "{\n  \"status\": ");
    ch_buf_json_str(&j, status);
    ch_buf_puts(&j, ",\n  \"run_id\": ");
    ch_buf_json_str(&j, o->run_id ? o->run_id : "");
    ch_buf_puts(&j, ",\n  \"name\": ");
    ch_buf_json_str(&j, o->name ? o->name : "");
    ch_buf_puts(&j, ",\n  \"algorithm\": ");
    ch_buf_json_str(&j, o->algorithm ? o->algorithm : "");
    ch_buf_printf(&j, ",\n  \"workers\": %zu,\n  \"rounds\": %u,\n  \"wall_seconds\": %.3f",
                  workers, rounds, ch_wall_time() - o->t0);
    if (error) {
        ch_buf_puts(&j, ",\n  \"error\": ");
        ch_buf_json_str(&j, error);
    }
    ch_buf_printf(&j, ",\n  \"metrics\": {%s}", ch_buf_str(&o->metrics_json));
    if (extra && extra->len) {
        ch_buf_append(&j, extra->data, extra->len);
    }
    ch_buf_puts(&j, "\n}\n");
    char *path = ch_path_join(o->dir, "summary.json");
    int rc = path && !j.failed ? ch_write_file_atomic(path, j.data, j.len, err)
                               : ch_err_set(err, CH_ENOMEM, "out of memory");
    free(path);
    ch_buf_free(&j);
    return rc;
}

int ch_outputs_finish(ch_outputs *o, const ch_algo *algo, const void *model,
                      const ch_schema *schema, ch_table *test, const char *config_yaml,
                      size_t workers, uint32_t rounds, ch_err *err)
{
    if (algo->model_metrics) {
        ch_round_metrics m = {0};
        int rc = algo->model_metrics(model, &m, err);
        for (size_t k = 0; k < m.n && rc == 0; k++) {
            s_pair(&o->metrics_json, o, "", m.key[k], m.value[k]);
        }
        if (rc) {
            return ch_err_prefix(err, "the model's metrics");
        }
    }
    int rc = ch_evaluate(algo, model, test, "test_", &o->metrics_json, o, err);
    if (rc) {
        return ch_err_prefix(err, "evaluating on the test set");
    }
    char *path = ch_path_join(o->dir, "model.pb");
    if (!path) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    rc = ch_model_save(path, algo, model, schema, config_yaml, err);
    free(path);
    if (rc) {
        return rc;
    }
    ch_buf extra;
    ch_buf_init(&extra);
    if (algo->summary_json) {
        algo->summary_json(model, &extra);
    }
    rc = s_write_summary(o, "finished", NULL, workers, rounds, &extra, err);
    ch_buf_free(&extra);
    if (rc) {
        return rc;
    }
    ch_buf text;
    ch_buf_init(&text);
    if (algo->describe) {
        algo->describe(model, &text);
    }
    /* the plain-text summary (R's summary() for linear models): model.txt,
     * and summary.txt, which `cohort run` prints */
    static const char *const names[] = {"model.txt", "summary.txt"};
    for (size_t k = 0; k < 2 && text.len; k++) {
        char *dpath = ch_path_join(o->dir, names[k]);
        if (dpath) {
            ch_write_file_atomic(dpath, text.data, text.len, NULL);
        }
        free(dpath);
    }
    ch_buf_free(&text);
    return 0;
}

void ch_outputs_fail(ch_outputs *o, const char *status, const char *message, size_t workers,
                     uint32_t rounds)
{
    if (!o->dir) {
        return; /* failed before a run directory existed */
    }
    ch_err err;
    ch_err_clear(&err);
    if (s_write_summary(o, status, message, workers, rounds, NULL, &err) != 0) {
        ch_warn("cannot write summary.json: %s", err.msg);
    }
}

void ch_outputs_free(ch_outputs *o)
{
    if (!o) {
        return;
    }
    free(o->dir);
    free(o->run_id);
    free(o->name);
    free(o->algorithm);
    ch_buf_free(&o->metrics_json);
    for (size_t i = 0; i < o->n_series; i++) {
        free(o->series_key[i]);
    }
    free(o->series_key);
    free(o->series_step);
    free(o->series_value);
    for (size_t i = 0; i < o->n_final; i++) {
        free(o->final_key[i]);
    }
    memset(o, 0, sizeof *o);
}
