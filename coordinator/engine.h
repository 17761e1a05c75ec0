/* engine.h: the coordinator: one experiment from config to model.
 *
 *   plan shards -> assign -> repeat { send Task(round, op, state); gather
 *   Updates (lost workers' shards reassigned); aggregate; record; checkpoint }
 *   until the algorithm is done -> finalize -> evaluate -> write outputs
 *
 * The loop knows nothing of any algorithm: it calls the vtable (algo.h). */
#ifndef CH_ENGINE_H
#define CH_ENGINE_H

#include "common/config.h"
#include "common/err.h"

#include <stdbool.h>

typedef enum { CH_LAUNCH_LOCAL = 0, CH_LAUNCH_MPI, CH_LAUNCH_STANDALONE } ch_launch_mode;

/* Called once the coordinator's socket is bound (MPI mode broadcasts the
 * endpoint to the other ranks from here). endpoint is "" when the
 * coordinator failed before binding, so that waiting ranks can exit. */
typedef int (*ch_on_bound_fn)(const char *endpoint, void *ctx, ch_err *err);

typedef struct ch_run_opts {
    ch_config *cfg;         /* the experiment config (taken) */
    const char *out_dir;    /* run directory; NULL: runs/<run id> */
    bool resume;            /* continue from out_dir's checkpoint */
    ch_launch_mode mode;
    const char *bind;       /* standalone: the endpoint to bind */
    long n_workers;         /* > 0 overrides the config's workers */
    const char *self_exe;   /* this program, for local workers */
    ch_on_bound_fn on_bound;
    void *on_bound_ctx;
    bool quiet;             /* no result lines on stdout */
    const char *curve_key;     /* standalone: the coordinator's CURVE keypair file */
    const char *curve_clients; /* standalone: directory of admitted workers' *.pub */
} ch_run_opts;

typedef struct ch_run_result {
    char run_dir[1024];
    char status[16]; /* finished, failed, killed */
    bool bound;      /* on_bound was called */
    bool workflow;   /* run_dir is a workflow's directory */
} ch_run_result;

/* Runs one experiment. Returns 0 when it finished; otherwise an error with
 * a message for the user. Outputs (summary.json with the status, events,
 * checkpoints) are written in both cases. */
int ch_coordinator_run(const ch_run_opts *o, ch_run_result *res, ch_err *err);

/* Set by SIGINT/SIGTERM handlers: the coordinator stops at the next poll. */
void ch_engine_request_stop(void);
/* True once a stop was requested. */
bool ch_engine_stop_requested(void);

#endif
