/* outputs.h: what a run leaves in its directory: config.yaml (resolved),
 * summary.json, model.pb, endpoints.json, and the metric series that the
 * report and the tracking store draw from. */
#ifndef CH_OUTPUTS_H
#define CH_OUTPUTS_H

#include "algorithms/algo.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/table.h"

typedef struct ch_outputs {
    char *dir;
    char *run_id;
    char *name;
    char *algorithm;
    double t0;
    ch_buf metrics_json; /* final metrics, "key": value pairs */
    size_t n_series;     /* per-round metric points */
    char **series_key;
    uint32_t *series_step;
    double *series_value;
    size_t n_final; /* final metrics, also in metrics_json */
    char *final_key[16];
    double final_value[16];
} ch_outputs;

void ch_outputs_init(ch_outputs *o);
/* A run id "YYYYmmdd-HHMMSS-<name>-<4 hex>" into buf. */
void ch_outputs_run_id(const char *name, char *buf, size_t size);
/* Starts a run: remembers where it writes, writes endpoints.json. */
int ch_outputs_begin(ch_outputs *o, const char *dir, const char *run_id, const char *name,
                     const char *algorithm, const char *endpoint, const char *events_endpoint);
/* Writes config.yaml. */
int ch_outputs_config(ch_outputs *o, const char *yaml, ch_err *err);
/* Records one point of a per-round metric series. */
void ch_outputs_metric(ch_outputs *o, const char *key, uint32_t step, double value);
/* Evaluates the model on the test table (if any), writes model.pb and
 * summary.json with status finished, and prints the results. */
int ch_outputs_finish(ch_outputs *o, const ch_algo *algo, const void *model,
                      const ch_schema *schema, ch_table *test, const char *config_yaml,
                      size_t workers, uint32_t rounds, ch_err *err);
/* Writes summary.json for a run that did not finish. Can't fail (logs). */
void ch_outputs_fail(ch_outputs *o, const char *status, const char *message, size_t workers,
                     uint32_t rounds);
void ch_outputs_free(ch_outputs *o);

/* Evaluates predictions on a table with a target into "key": value JSON
 * pairs (test_rmse, test_r2, test_mae / test_accuracy, test_logloss,
 * test_auc), prefixed by `prefix`. */
int ch_evaluate(const ch_algo *algo, const void *model, const ch_table *t, const char *prefix,
                ch_buf *json, ch_outputs *record, ch_err *err);

#endif
