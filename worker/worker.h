/* worker.h: the worker: connects to a coordinator, loads its shard (or its
 * silo's own file), and runs tasks until told to stop. */
#ifndef CH_WORKER_H
#define CH_WORKER_H

#include "common/err.h"

#include <stdbool.h>

typedef struct ch_worker_opts {
    const char *connect;   /* coordinator endpoint */
    const char *data_path; /* by-file: this silo's file; NULL in simulation */
    int rank;              /* MPI rank or local child index; -1 if none */
    bool local;            /* started by a local coordinator */
    long timeout_ms;       /* how long to wait for the coordinator before the config says */
    const char *curve_server; /* the coordinator's CURVE public key file (.pub), or NULL */
    const char *curve_key;    /* this worker's CURVE keypair file (.key); NULL: a fresh one */
} ch_worker_opts;

/* Runs the worker until the coordinator says BYE (returns 0) or something
 * fails (returns an error; the coordinator was told when it can be). */
int ch_worker_main(const ch_worker_opts *o, ch_err *err);

#endif
