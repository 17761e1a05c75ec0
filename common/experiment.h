/* experiment.h: one experiment's settings, read from its config, and its
 * data: the table, the target, the train/test split.
 *
 * The coordinator and every simulated worker build the same ch_experiment
 * from the same resolved config, so they agree on the split and the plan
 * without sending rows. */
#ifndef CH_EXPERIMENT_H
#define CH_EXPERIMENT_H

#include "algorithms/algo.h"
#include "common/config.h"
#include "common/partition.h"
#include "common/table.h"

typedef struct ch_runtime_opts {
    long heartbeat_ms; /* a worker silent this long is lost */
    long round_timeout_ms;
    long grant_timeout_ms;       /* a granted upload not in by then: the slot is revoked */
    long join_timeout_ms;        /* time for all workers to connect */
    long coordinator_timeout_ms; /* a worker exits when its coordinator is silent this long */
    long long max_message;       /* bytes */
    long checkpoint_every;       /* rounds */
    bool tracking;               /* record the run in the tracking store */
    bool speculate;              /* idle workers also run the shards of slow ones */
} ch_runtime_opts;

typedef struct ch_experiment {
    ch_config *cfg; /* owned */
    const char *name;
    uint64_t seed;
    long workers;
    const char *train_path;
    const char *test_path; /* NULL: split from train */
    const char *target;    /* NULL if the algorithm needs none and none given */
    const char *positive;
    const char *weights;
    ch_format format;
    double test_fraction;
    ch_part_scheme scheme;
    double alpha;
    const ch_algo *algo;
    ch_runtime_opts rt;

    ch_table *train; /* after ch_experiment_load */
    ch_table *test;  /* may be NULL (test_fraction 0 and no data.test) */
    ch_schema *schema;
} ch_experiment;

/* Reads every top-level, data, partition and runtime key, and the
 * algorithm's model keys (defaults written back). Takes ownership of cfg
 * (also on failure). Does not load data. Unknown keys are checked by
 * ch_experiment_check_keys once the schema is known. */
int ch_experiment_configure(ch_experiment *x, ch_config *cfg, ch_err *err);

/* Rewrites relative data.train and data.test paths of a config read from a
 * file as paths relative to that file's directory (done by configure too;
 * needed before a config is written somewhere else). */
int ch_experiment_resolve_paths(ch_config *cfg, ch_err *err);

/* Loads the data: the training file (or `path_override`, a by-file silo's
 * own file), the target, weights, the split (skipped when path_override is
 * given: a silo trains on all its rows), and the test file. */
int ch_experiment_load(ch_experiment *x, const char *path_override, ch_err *err);

/* Reads the training rows again exactly as ch_experiment_load read them
 * (same file, target, weights and split; not a by-file silo's file) into
 * *out, a new table; x is not changed. The loader of the engine's table
 * lease (table_lease.h). */
int ch_experiment_reload_train(ch_experiment *x, ch_table **out, ch_err *err);

/* Runs the algorithm's configure with the schema and then reports any
 * unknown key. */
int ch_experiment_check_keys(ch_experiment *x, ch_err *err);

/* Reports an unknown key outside model.* (checked before data are loaded). */
int ch_experiment_check_common_keys(ch_experiment *x, ch_err *err);

void ch_experiment_free(ch_experiment *x);

#endif
