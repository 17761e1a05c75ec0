/* events.c: PUB socket and events.jsonl (see events.h). */
#include "common/events.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct ch_events {
    void *pub;
    FILE *log;
    char *run_id;
    char *experiment;
    char endpoint[256];
    int warned;
    ch_events_sink_fn sink;
    void *sink_ctx;
};

void ch_events_set_sink(ch_events *e, ch_events_sink_fn sink, void *ctx)
{
    if (e) {
        e->sink = sink;
        e->sink_ctx = ctx;
    }
}

ch_events *ch_events_new(void *zmq_ctx, const char *bind, const char *jsonl_path,
                         const char *run_id, const char *experiment, ch_err *err)
{
    ch_events *e = calloc(1, sizeof *e);
    if (!e) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    e->run_id = strdup(run_id ? run_id : "");
    e->experiment = strdup(experiment ? experiment : "");
    if (!e->run_id || !e->experiment) {
        ch_events_destroy(&e);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    if (bind) {
        e->pub = zmq_socket(zmq_ctx, ZMQ_PUB);
        int linger = 100;
        if (!e->pub || zmq_setsockopt(e->pub, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
            zmq_bind(e->pub, bind) != 0) {
            ch_err_set(err, CH_EIO, "cannot bind the event socket to %s: %s", bind,
                       zmq_strerror(errno));
            ch_events_destroy(&e);
            return NULL;
        }
        size_t n = sizeof e->endpoint;
        zmq_getsockopt(e->pub, ZMQ_LAST_ENDPOINT, e->endpoint, &n);
    }
    if (jsonl_path) {
        e->log = fopen(jsonl_path, "a");
        if (!e->log) {
            ch_err_set(err, CH_EIO, "cannot open %s: %s", jsonl_path, strerror(errno));
            ch_events_destroy(&e);
            return NULL;
        }
    }
    return e;
}

const char *ch_events_endpoint(const ch_events *e)
{
    return e ? e->endpoint : "";
}

void ch_events_emit(ch_events *e, const char *topic, const char *body)
{
    if (!e) {
        return;
    }
    double now = ch_wall_time();
    if (e->sink) {
        e->sink(e->sink_ctx, now, topic, body && body[0] ? body : "{}");
    }
    if (e->log) {
        ch_buf line;
        ch_buf_init(&line);
        ch_buf_printf(&line, "{\"time\": %.3f, \"topic\": ", now);
        ch_buf_json_str(&line, topic);
        ch_buf_puts(&line, ", \"run\": ");
        ch_buf_json_str(&line, e->run_id);
        ch_buf_puts(&line, ", \"data\": ");
        ch_buf_puts(&line, body && body[0] ? body : "{}");
        ch_buf_puts(&line, "}\n");
        if ((fwrite(line.data, 1, line.len, e->log) != line.len || fflush(e->log) != 0) &&
            !e->warned) {
            ch_warn("cannot append to events.jsonl: %s", strerror(errno));
            e->warned = 1;
        }
        ch_buf_free(&line);
    }
    if (e->pub) {
        Cohort__Event ev = COHORT__EVENT__INIT;
        ev.topic = (char *)topic;
        ev.time = now;
        ev.run = e->run_id;
        ev.json = (char *)(body ? body : "{}");
        size_t size = cohort__event__get_packed_size(&ev);
        uint8_t *buf = malloc(size ? size : 1);
        if (buf) {
            cohort__event__pack(&ev, buf);
            zmq_send(e->pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
            ch_wire_send(e->pub, NULL, 0, e->experiment, 0, -1, COHORT__KIND__EVENT, buf, size,
                         NULL);
            free(buf);
        }
    }
}

void ch_events_destroy(ch_events **pe)
{
    if (!pe || !*pe) {
        return;
    }
    ch_events *e = *pe;
    if (e->pub) {
        zmq_close(e->pub);
    }
    if (e->log) {
        fclose(e->log);
    }
    free(e->run_id);
    free(e->experiment);
    free(e);
    *pe = NULL;
}
