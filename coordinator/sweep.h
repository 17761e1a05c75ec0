/* sweep.h: hyperparameter sweeps: an experiment with a `sweep:` block runs
 * as many trials, each the experiment with some keys overridden.
 *
 *   sweep:
 *     metric: test_rmse        # from each trial's summary.json metrics
 *     goal: min                # or max
 *     parallel: 2              # trials at once in local mode (default: cores / workers)
 *     grid:                    # every combination, in order
 *       model.intercept: [true, false]
 *       data.test_fraction: [0.2, 0.3]
 *     # or
 *     random:
 *       n: 12
 *       params:
 *         model.eta: {min: 0.01, max: 0.3, log: true}
 *         model.max_depth: {min: 2, max: 8, int: true}
 *         model.objective: {values: [a, b]}
 *
 * Trials land in DIR/trial-NNN/; DIR/sweep.json and DIR/index.html hold the
 * table sorted by the metric with the best trial marked; every trial is a run
 * in the tracking store. --resume skips finished trials. Under mpirun the
 * ranks are split into groups (MPI_Comm_split), each running trials with its
 * own coordinator. */
#ifndef CH_SWEEP_H
#define CH_SWEEP_H

#include "common/config.h"
#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>

bool ch_sweep_is(const ch_config *c);

/* One trial: its index and the overridden config (owned). */
typedef struct ch_trial {
    size_t index;
    ch_config *cfg;
    char *label; /* "model.eta=0.1 model.max_depth=4" */
} ch_trial;

typedef struct ch_sweep {
    ch_config *base; /* the experiment without `sweep` */
    char *metric;
    bool goal_max;
    long parallel;
    size_t n;
    ch_trial *trials;
} ch_sweep;

/* Expands cfg's sweep block into trials (cfg is not taken). Validates every
 * key against the experiment and the algorithm (an unknown key is an error
 * before anything runs), an empty grid, bad ranges. */
int ch_sweep_expand(const ch_config *cfg, long n_workers, ch_sweep *out, ch_err *err);
void ch_sweep_free(ch_sweep *s);

typedef struct ch_sweep_opts {
    const char *out_dir; /* NULL: runs/<sweep run id> */
    bool resume;
    long n_workers;
    const char *self_exe;
} ch_sweep_opts;

/* Runs the trials locally (`parallel` at once, each a `cohort run` child
 * process), then writes the results table. */
int ch_sweep_run_local(ch_sweep *s, const ch_sweep_opts *o, char *dir, size_t dir_size,
                       ch_err *err);

/* Trial directory: DIR/trial-NNN. */
char *ch_sweep_trial_dir(const char *dir, size_t index);
/* Writes a trial's config (with its name and, for resume, as given) to
 * DIR/trial-NNN.yaml and returns that path (malloc'd). */
char *ch_sweep_write_trial(const char *dir, const ch_trial *t, ch_err *err);
/* Reads every trial's summary.json, prints the sorted table, writes
 * DIR/sweep.json and DIR/index.html. */
int ch_sweep_finish(const ch_sweep *s, const char *dir, ch_err *err);
/* True when DIR/trial-NNN/summary.json says finished. */
bool ch_sweep_trial_done(const char *dir, size_t index);

#endif
