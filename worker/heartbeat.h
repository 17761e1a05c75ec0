/* heartbeat.h: a worker's heartbeat thread. It owns its own DEALER socket to
 * the coordinator, sends a HEARTBEAT every interval and expects one back;
 * when the coordinator has been silent for `timeout_ms` the worker process
 * exits (status 4) with a message, so a killed coordinator never leaves
 * workers behind. It keeps beating while the main thread computes. */
#ifndef CH_HEARTBEAT_H
#define CH_HEARTBEAT_H

#include "common/curve.h"
#include "common/err.h"

#include <stdint.h>

typedef struct ch_heartbeat ch_heartbeat;

/* server_public/kp: CURVE settings for the socket, or NULL for plain tcp/ipc. */
ch_heartbeat *ch_heartbeat_start(void *zmq_ctx, const char *endpoint, const char *experiment,
                                 int32_t sender, long interval_ms, long timeout_ms,
                                 const char *server_public, const ch_keypair *kp, ch_err *err);
/* Stops the thread and closes its socket. Accepts NULL. */
void ch_heartbeat_stop(ch_heartbeat **hb);

#endif
