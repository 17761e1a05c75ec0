/* hbserver.h: the coordinator's heartbeat server: a thread with its own
 * ROUTER socket that answers every worker's heartbeat and records when each
 * worker was last heard, so liveness does not depend on the main thread
 * being free (it may be loading data or aggregating for a long time). */
#ifndef CH_HBSERVER_H
#define CH_HBSERVER_H

#include "common/curve.h"
#include "common/err.h"

#include <stdint.h>

#define CH_HB_MAX_WORKERS 4096

typedef struct ch_hbserver ch_hbserver;

/* Binds `bind` (an ipc:// or tcp:// endpoint; tcp port 0 picks one) and
 * starts the thread. NULL with err set on failure. */
ch_hbserver *ch_hbserver_start(void *zmq_ctx, const char *bind, const char *experiment,
                               long long max_message, const ch_keypair *curve, ch_err *err);
/* The bound endpoint (tcp: with the wildcard address as bound). */
const char *ch_hbserver_endpoint(const ch_hbserver *s);
/* Monotonic ms when worker `index` last beat, 0 if never. Thread-safe. */
int64_t ch_hbserver_last(const ch_hbserver *s, int index);
/* Stops the thread and closes the socket. Accepts NULL. */
void ch_hbserver_stop(ch_hbserver **s);

#endif
