/* events.h: the event bus: progress events published on a ZeroMQ PUB socket
 * (two frames: the topic, then an Envelope of kind EVENT holding an Event)
 * and appended to DIR/events.jsonl, one JSON object per line, so a
 * subscriber that joins late loses nothing that matters.
 * Topics are prefixed run., round., train., worker. */
#ifndef CH_EVENTS_H
#define CH_EVENTS_H

#include "common/err.h"

typedef struct ch_events ch_events;

/* zmq_ctx: the process's ZeroMQ context; bind: endpoint for the PUB socket
 * or NULL for none; jsonl_path: the log file or NULL. NULL on failure. */
ch_events *ch_events_new(void *zmq_ctx, const char *bind, const char *jsonl_path,
                         const char *run_id, const char *experiment, ch_err *err);
/* The endpoint subscribers connect to ("" if none). */
const char *ch_events_endpoint(const ch_events *e);
/* Publishes and logs one event. body: a JSON object's text ("{...}").
 * Can't fail: a full log disk or a slow subscriber never stops training;
 * the first write failure is logged once. Accepts NULL e. */
void ch_events_emit(ch_events *e, const char *topic, const char *body);
/* Every emitted event is also handed to sink (the tracking store). */
typedef void (*ch_events_sink_fn)(void *ctx, double time, const char *topic, const char *body);
void ch_events_set_sink(ch_events *e, ch_events_sink_fn sink, void *ctx);
/* Closes the socket and the file. Accepts NULL. */
void ch_events_destroy(ch_events **e);

#endif
