/* bench_events.c: event-bus throughput (common/events.h) with a subscriber
 * attached: how many events/s ch_events_emit publishes (PUB socket plus the
 * events.jsonl line it appends and flushes for each), how many a SUB
 * subscriber in another thread receives and decodes, and what fraction of a
 * burst arrives (PUB drops at the high-water mark by design).
 *
 * The subscriber has its own SUB socket, subscribes to "" and decodes every
 * event as `cohort watch` does (two frames: the topic, then an Envelope of
 * kind EVENT checked by ch_wire_decode whose payload is an Event); it reads
 * the sequence number from the Event's JSON body. Before the burst the
 * publisher sends "bench.warmup" events until the subscriber has received
 * one (ZeroMQ's slow joiner: a subscription takes a moment to reach the
 * PUB), then publishes N "bench.burst" events as fast as it can. The
 * subscriber stops once the publisher is done and nothing has come for
 * 500 ms.
 *
 * usage: bench_events [--transport ipc|tcp] [--events N] [--jsonl PATH]
 *                     [--rcvhwm N] [--store DB]
 *   --store DB also hands every event to the tracking store (the sink the
 *   coordinator installs: one ch_track_event per event), as in a real run.
 * Prints one JSON object. Exit 1 if nothing arrived or a call failed. */
#include "common/err.h"
#include "common/events.h"
#include "common/tracking.h"
#include "common/wire.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_IDLE_S 0.5

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct s_sub {
    void *ctx;
    char endpoint[256];
    int rcvhwm;
    atomic_int ready;      /* set by the subscriber when its socket is connected */
    atomic_int warm;       /* set when the first warm-up event arrived */
    atomic_int pub_done;   /* set by the publisher after the burst */
    long received;         /* burst events received and decoded */
    long bad;              /* messages that did not decode */
    long max_seq;          /* highest burst sequence number seen */
    long first_gap;        /* first burst sequence number missing, -1 if none */
    double t_first, t_last; /* times of the first and last burst event */
    int rc;
} s_sub;

/* Decodes one two-frame event; returns its seq (>= 0) for a burst event,
 * -1 for a warm-up event, -2 for a message that does not decode. */
static long s_decode(zmq_msg_t *topic, zmq_msg_t *body)
{
    ch_err err;
    ch_err_clear(&err);
    Cohort__Envelope *env = ch_wire_decode(zmq_msg_data(body), zmq_msg_size(body), NULL, &err);
    if (!env || env->kind != COHORT__KIND__EVENT) {
        if (env) {
            cohort__envelope__free_unpacked(env, NULL);
        }
        return -2;
    }
    Cohort__Event *ev = cohort__event__unpack(NULL, env->payload.len, env->payload.data);
    cohort__envelope__free_unpacked(env, NULL);
    if (!ev) {
        return -2;
    }
    long seq = -2;
    size_t tlen = zmq_msg_size(topic);
    if (strlen(ev->topic) == tlen && memcmp(ev->topic, zmq_msg_data(topic), tlen) == 0) {
        if (!strcmp(ev->topic, "bench.warmup")) {
            seq = -1;
        } else {
            const char *s = strstr(ev->json, "\"seq\": ");
            seq = s ? strtol(s + 7, NULL, 10) : -2;
        }
    }
    cohort__event__free_unpacked(ev, NULL);
    return seq;
}

static void *s_subscriber(void *arg)
{
    s_sub *s = arg;
    void *sub = zmq_socket(s->ctx, ZMQ_SUB);
    if (!sub || zmq_setsockopt(sub, ZMQ_RCVHWM, &s->rcvhwm, sizeof s->rcvhwm) != 0 ||
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0) != 0 || zmq_connect(sub, s->endpoint) != 0) {
        fprintf(stderr, "bench_events: subscriber: %s\n", zmq_strerror(errno));
        s->rc = 1;
        atomic_store(&s->ready, 1);
        return NULL;
    }
    atomic_store(&s->ready, 1);
    s->first_gap = -1;
    long expect = 0;
    double idle_since = 0;
    for (;;) {
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&it, 1, 50);
        if (n < 0 && errno != EINTR) {
            s->rc = 1;
            break;
        }
        if (n <= 0) {
            if (atomic_load(&s->pub_done)) {
                double now = s_now();
                if (idle_since == 0) {
                    idle_since = now;
                } else if (now - idle_since > S_IDLE_S) {
                    break;
                }
            }
            continue;
        }
        idle_since = 0;
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&topic, sub, 0) < 0) {
            zmq_msg_close(&topic);
            zmq_msg_close(&body);
            continue;
        }
        long seq = -2;
        if (zmq_msg_more(&topic) && zmq_msg_recv(&body, sub, 0) >= 0) {
            seq = s_decode(&topic, &body);
        }
        while (zmq_msg_more(&body)) { /* drain any unexpected extra frames */
            zmq_msg_t x;
            zmq_msg_init(&x);
            zmq_msg_recv(&x, sub, 0);
            zmq_msg_close(&x);
        }
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
        if (seq == -1) {
            atomic_store(&s->warm, 1);
        } else if (seq == -2) {
            s->bad++;
        } else {
            double now = s_now();
            if (s->received == 0) {
                s->t_first = now;
            }
            s->t_last = now;
            s->received++;
            if (seq != expect && s->first_gap < 0) {
                s->first_gap = expect;
            }
            expect = seq + 1;
            if (seq > s->max_seq) {
                s->max_seq = seq;
            }
        }
    }
    zmq_close(sub);
    return NULL;
}

static void s_track_sink(void *ctx, double time, const char *topic, const char *body)
{
    ch_track *t = ctx;
    ch_track_event(t, "bench-events", time, topic, body, NULL);
}

int main(int argc, char **argv)
{
    const char *transport = "ipc", *jsonl = NULL, *store = NULL;
    long n_events = 200000;
    int rcvhwm = 1000;
    for (int i = 1; i < argc; i += 2) { /* --name value pairs */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "usage: bench_events [--transport ipc|tcp] [--events N] "
                            "[--jsonl PATH] [--rcvhwm N] [--store DB]\n");
            return 2;
        }
        if (!strcmp(argv[i], "--transport")) {
            transport = v;
        } else if (!strcmp(argv[i], "--events")) {
            n_events = strtol(v, NULL, 10);
        } else if (!strcmp(argv[i], "--jsonl")) {
            jsonl = v;
        } else if (!strcmp(argv[i], "--rcvhwm")) {
            rcvhwm = (int)strtol(v, NULL, 10);
        } else if (!strcmp(argv[i], "--store")) {
            store = v;
        } else {
            fprintf(stderr, "bench_events: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    char bind[256], jpath[512];
    if (!strcmp(transport, "ipc")) {
        snprintf(bind, sizeof bind, "ipc:///tmp/bench-events-%ld.ipc", (long)getpid());
    } else if (!strcmp(transport, "tcp")) {
        snprintf(bind, sizeof bind, "tcp://127.0.0.1:0");
    } else {
        fprintf(stderr, "bench_events: --transport ipc or tcp\n");
        return 2;
    }
    if (!jsonl) {
        snprintf(jpath, sizeof jpath, "/tmp/bench-events-%ld.jsonl", (long)getpid());
        jsonl = jpath;
    }
    unlink(jsonl);
    void *ctx = zmq_ctx_new();
    ch_err err;
    ch_err_clear(&err);
    ch_events *e = ch_events_new(ctx, bind, jsonl, "bench-events", "bench", &err);
    if (!e) {
        fprintf(stderr, "bench_events: %s\n", err.msg);
        return 1;
    }
    ch_track *tr = NULL;
    if (store) {
        static const char *const suffix[] = {"", "-wal", "-shm"};
        for (int k = 0; k < 3; k++) {
            char p[4096];
            snprintf(p, sizeof p, "%s%s", store, suffix[k]);
            unlink(p);
        }
        tr = ch_track_open(store, &err);
        if (!tr || ch_track_run_begin(tr, "bench-events", "bench-events", "bench", NULL, NULL,
                                      &err) != 0) {
            fprintf(stderr, "bench_events: %s\n", err.msg);
            return 1;
        }
    }
    /* ch_events owns its PUB socket with ZeroMQ's default SNDHWM (1000
     * messages), which is what a run gets. */
    s_sub s;
    memset(&s, 0, sizeof s);
    s.ctx = ctx;
    s.rcvhwm = rcvhwm;
    snprintf(s.endpoint, sizeof s.endpoint, "%s", ch_events_endpoint(e));
    pthread_t th;
    if (pthread_create(&th, NULL, s_subscriber, &s) != 0) {
        fprintf(stderr, "bench_events: cannot start the subscriber thread\n");
        return 1;
    }
    while (!atomic_load(&s.ready)) {
        usleep(1000);
    }
    double wdeadline = s_now() + 10.0;
    long warmups = 0;
    while (!atomic_load(&s.warm) && s_now() < wdeadline && s.rc == 0) {
        ch_events_emit(e, "bench.warmup", "{}");
        warmups++;
        usleep(2000);
    }
    if (!atomic_load(&s.warm)) {
        fprintf(stderr, "bench_events: the subscriber never received a warm-up event\n");
        atomic_store(&s.pub_done, 1);
        pthread_join(th, NULL);
        return 1;
    }
    usleep(100000); /* let the tail of the warm-up drain */
    if (tr) {
        ch_events_set_sink(e, s_track_sink, tr);
    }
    char body[128];
    double t0 = s_now();
    for (long i = 0; i < n_events; i++) {
        snprintf(body, sizeof body, "{\"seq\": %ld, \"round\": %ld, \"loss\": 0.125}", i, i);
        ch_events_emit(e, "bench.burst", body);
    }
    double t1 = s_now();
    atomic_store(&s.pub_done, 1);
    pthread_join(th, NULL);
    ch_events_destroy(&e);
    ch_track_close(&tr);
    zmq_ctx_term(ctx);
    long lines = 0;
    FILE *f = fopen(jsonl, "r");
    if (f) {
        int c;
        while ((c = getc(f)) != EOF) {
            lines += c == '\n';
        }
        fclose(f);
    }
    if (jsonl == jpath) {
        unlink(jsonl);
    }
    double pub_s = t1 - t0;
    double recv_s = s.received ? s.t_last - t0 : 0;
    printf("{\"transport\": \"%s\", \"store\": %s, \"events\": %ld, \"warmups\": %ld, "
           "\"publish_s\": %.6f, \"published_per_s\": %.1f, \"received\": %ld, "
           "\"received_span_s\": %.6f, \"received_per_s\": %.1f, \"arrived_fraction\": %.6f, "
           "\"lost_fraction\": %.6f, \"first_gap\": %ld, \"bad\": %ld, \"jsonl_lines\": %ld, "
           "\"sndhwm\": 1000, \"rcvhwm\": %d}\n",
           transport, tr || store ? "true" : "false", n_events, warmups, pub_s,
           (double)n_events / pub_s, s.received, recv_s,
           recv_s > 0 ? (double)s.received / recv_s : 0.0, (double)s.received / (double)n_events,
           1.0 - (double)s.received / (double)n_events, s.first_gap, s.bad, lines, rcvhwm);
    return s.received > 0 && s.bad == 0 && s.rc == 0 ? 0 : 1;
}
