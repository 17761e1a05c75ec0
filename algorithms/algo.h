/* algo.h: the algorithm interface: the table of functions every algorithm
 * supplies (DESIGN.md section 4). The coordinator and worker loops call only
 * these; nothing else in the program knows an algorithm's internals.
 *
 *  coordinator side: coord_new (global state from parameters), next_task
 *    (op and payload for round r), aggregate (a round's updates), finalize
 *    (into a model), save/load (checkpoints);
 *  worker side: worker_new (local state from the shard), run_task (one task
 *    on one shard, producing an update);
 *  model side: predict, pack/unpack (model.pb payload), summary (keys for
 *    summary.json), describe (a report section).
 *
 * A new algorithm is a folder algorithms/<name>/ and one line in
 * algorithms/registry.c. */
#ifndef CH_ALGO_H
#define CH_ALGO_H

#include "common/buf.h"
#include "common/config.h"
#include "common/err.h"
#include "common/partition.h"
#include "common/report.h"
#include "common/table.h"
#include "common/table_lease.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the coordinator side sees. */
typedef struct ch_coord_env {
    ch_config *cfg;          /* resolved config; model.* are the algorithm's keys */
    const ch_schema *schema; /* columns of the training data */
    const ch_table *train;   /* the coordinator's training table, NULL in by-file mode */
    /* The engine's hold on `train` (table_lease.h; may be NULL): a state
     * that copied what it needs calls ch_table_lease_release so the parsed
     * table is not held through the run, and ch_table_lease_get when it
     * needs rows again (read again from the file). `train` is invalid after
     * a release. */
    ch_table_lease *lease;
    const ch_table *test; /* held-out rows (for per-round curves), may be NULL */
    size_t n_train;       /* training rows over all shards */
    size_t n_blocks;      /* reduction blocks (reduce.h) */
    size_t n_shards;
    uint64_t seed;
    const char *run_dir; /* where the run's files go (labels.csv, linkage.csv, ...) */
} ch_coord_env;

/* What the worker side sees: its table and the plan that cuts it. */
typedef struct ch_worker_env {
    ch_config *cfg;
    const ch_schema *schema;
    const ch_table *train; /* the training table the plan indexes */
    ch_table_lease *lease; /* the engine's hold on train, as ch_coord_env.lease */
    const ch_plan *plan;   /* rows, blocks and shards */
    size_t block_offset;   /* global index of plan block 0 (by-file silos) */
    size_t n_blocks_total; /* blocks over all shards */
    int worker;            /* this worker's index */
    uint64_t seed;
} ch_worker_env;

/* A round's update for one shard, as the engine hands it to aggregate. */
typedef struct ch_update {
    uint32_t shard;
    uint64_t samples;
    const uint8_t *state;
    size_t state_len;
} ch_update;

/* What the engine measured of a round, for algorithms that report it
 * (federated learning plots bytes and time per round). */
typedef struct ch_round_stats {
    size_t chosen;          /* shards asked */
    size_t received;        /* updates accepted */
    size_t rejected;        /* updates refused (bad payload, or by accumulate) */
    size_t late;            /* updates for an earlier round, discarded */
    size_t speculative;     /* backup copies of slow shards sent (runtime.speculate) */
    double bytes_out;       /* task bytes sent */
    double bytes_in;        /* update bytes received */
    double compute_seconds; /* the slowest worker's computing time */
    double round_seconds;   /* from the first task sent to the last update */
    size_t upload_slots;    /* the round plan's upload_slots (0: no flow control) */
    size_t max_inflight;    /* most uploads granted and not yet taken at once */
    size_t ungranted;       /* updates of this round that came without a grant (flow control) */
    size_t revoked; /* grants revoked: the upload did not come within runtime.grant_timeout */
} ch_round_stats;

/* Metrics an algorithm reports for a round (train loss, ...). */
#define CH_MAX_ROUND_METRICS 16
typedef struct ch_round_metrics {
    size_t n;
    const char *key[CH_MAX_ROUND_METRICS]; /* static strings */
    double value[CH_MAX_ROUND_METRICS];
    const ch_round_stats *stats; /* set by the engine before aggregate */
} ch_round_metrics;

void ch_round_metric(ch_round_metrics *m, const char *key, double value);

typedef enum {
    CH_TASK_ALL_SHARDS = 0, /* every shard must answer; lost shards are reassigned */
    CH_TASK_QUORUM = 1,     /* federated: whoever answers by the deadline */
} ch_task_policy;

/* How a round is run, from the algorithm's `participants` hook. */
typedef struct ch_round_plan {
    ch_task_policy policy;
    double timeout_seconds; /* QUORUM: the round closes at this deadline */
    size_t min_updates;     /* QUORUM: fewer by the deadline is an error */
    /* Upload flow control: workers announce a finished update and send it
     * when granted one of this many slots, so that at most this many
     * updates are in the coordinator's memory at once however many workers
     * finish together (coordinator/uploads.h). 0: off, each worker sends
     * as soon as it is done (the default). */
    size_t upload_slots;
} ch_round_plan;

typedef enum { CH_OUT_REGRESSION = 0, CH_OUT_PROBABILITIES = 1 } ch_output_kind;

/* What `cohort plan` prints to size a cluster allocation. */
typedef struct ch_estimate {
    double worker_bytes;  /* the algorithm's working memory per worker, beyond the data */
    double message_bytes; /* bytes one worker sends per round */
    double flops;         /* floating-point work per round, all workers together */
    double rounds;        /* expected rounds (an upper bound when it stops early) */
} ch_estimate;

typedef struct ch_algo {
    const char *name;
    const char *summary;
    bool needs_target;
    /* true for algorithms that read no table (reinforcement learning in a
     * simulated environment): data.train is optional, every shard is an
     * empty block, and the plan only numbers the shards */
    bool no_data;

    /* Reads and validates every model.* key (defaults filled in); used by
     * run, plan and the workers. */
    int (*configure)(ch_config *cfg, const ch_schema *schema, ch_err *err);

    /* Resource estimate for `cohort plan` (may be NULL). */
    int (*estimate)(ch_config *cfg, const ch_schema *schema, size_t n_rows, size_t n_workers,
                    size_t n_blocks, ch_estimate *out);

    /* coordinator side */
    void *(*coord_new)(const ch_coord_env *env, ch_err *err);
    /* Returns 1 when the algorithm is done (no task), 0 with op and payload
     * filled for round `round`, or a negative error. */
    int (*next_task)(void *st, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err);
    /* Optional: which shards take part in this round (chosen[s]; live[s]
     * says whether shard s has a connected worker) and how the round
     * closes. Without it every shard takes part and must answer. */
    int (*participants)(void *st, uint32_t round, const bool *live, size_t n_shards, bool *chosen,
                        ch_round_plan *plan, ch_err *err);
    /* Optional: takes each update as it arrives (in arrival order, so keep
     * the sums order-independent, e.g. in fixed point); then aggregate is
     * called with n == 0. An error CH_EPROTO rejects that update (logged,
     * the round goes on); any other error stops the run. */
    int (*accumulate)(void *st, uint32_t round, uint32_t op, const ch_update *up, ch_err *err);
    /* Updates sorted by shard. */
    int (*aggregate)(void *st, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                     ch_round_metrics *m, ch_err *err);
    /* Takes what it needs from st; returns a new model or NULL. */
    void *(*finalize)(void *st, ch_err *err);
    int (*save)(void *st, ch_buf *out, ch_err *err);
    int (*load)(void *st, const uint8_t *data, size_t len, ch_err *err);
    void (*coord_destroy)(void **st);

    /* worker side */
    void *(*worker_new)(const ch_worker_env *env, ch_err *err);
    /* Runs op on shard `shard`; writes the update into out and the number of
     * samples it used into *samples. */
    int (*run_task)(void *w, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                    uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err);
    void (*worker_destroy)(void **w);

    /* model side */
    ch_output_kind (*output_kind)(const void *model);
    /* Columns of predict's output (1 for regression, classes otherwise). */
    size_t (*n_outputs)(const void *model);
    /* out: n_rows x n_outputs, row-major. t is conformed to the schema. */
    int (*predict)(const void *model, const ch_table *t, double *out, ch_err *err);
    int (*pack)(const void *model, ch_buf *out, ch_err *err);
    void *(*unpack)(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err);
    /* Optional: the final metrics on the held-out rows (keys static
     * strings, e.g. "test_auc"), instead of the engine's own (regression
     * or classification metrics from predict). Unsupervised models use it;
     * t may lack a target (t->has_target). */
    int (*evaluate)(const void *model, const ch_table *t, ch_round_metrics *out, ch_err *err);
    /* Optional: metrics of the fitted model itself that need no held-out
     * rows (a clustering's size and silhouette on its training rows, a
     * policy's exact return). They go to summary.json "metrics" and the
     * tracking store before the held-out ones; keys are static strings that
     * evaluate does not also use. */
    int (*model_metrics)(const void *model, ch_round_metrics *out, ch_err *err);
    /* Optional: the name of predict's output column k in `cohort predict`
     * ("score", "anomaly"); without it: "prediction" or "p_<level>". */
    const char *(*output_name)(const void *model, size_t k);
    /* Optional: `cohort predict` on a table that asks a question other
     * than one prediction per row (cf: a table of users only asks for their
     * recommendations). t is as read, not conformed to the schema. Returns
     * 1 when t is an ordinary prediction table (predict is used), 0 with
     * the whole output, header included, appended to csv, or a negative
     * error. */
    int (*predict_csv)(const void *model, const ch_table *t, ch_buf *csv, ch_err *err);
    /* Optional: feature contributions (`cohort predict --contribs`): per
     * row, contrib_groups(model) blocks of n_features + 1 values, the last
     * the bias; each block sums to the row's raw output for that group
     * (gbt: the margin of that class, TreeSHAP). */
    size_t (*contrib_groups)(const void *model);
    int (*contribs)(const void *model, const ch_table *t, double *out, ch_err *err);
    /* Appends ",\"key\": value" pairs for summary.json (may be NULL). */
    int (*summary_json)(const void *model, ch_buf *json);
    /* Appends lines of a plain-text description (may be NULL). */
    int (*describe)(const void *model, ch_buf *text);
    /* Adds the algorithm's sections to a run report: coefficients,
     * importances, clusters, policy... (may be NULL: the text of describe
     * is shown instead). */
    int (*report)(const void *model, ch_report *r, ch_err *err);
    void (*model_destroy)(void **model);
} ch_algo;

/* The algorithm called name, or NULL. */
const ch_algo *ch_algo_find(const char *name);
/* NULL-terminated list of every algorithm's name (for error messages). */
const char *const *ch_algo_names(void);

#endif
