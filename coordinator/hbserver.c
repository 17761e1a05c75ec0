/* hbserver.c: heartbeat answering thread of the coordinator (see hbserver.h). */
#include "coordinator/hbserver.h"
#include "common/wire.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct ch_hbserver {
    pthread_t thread;
    void *sock;
    char *experiment;
    char endpoint[512];
    atomic_int stop;
    _Atomic int64_t last[CH_HB_MAX_WORKERS];
};

static void *s_main(void *arg)
{
    ch_hbserver *s = arg;
    while (!atomic_load(&s->stop)) {
        ch_wire_msg m;
        if (ch_wire_recv(s->sock, true, s->experiment, 100, &m, NULL) != 0) {
            continue;
        }
        int32_t idx = m.env->sender;
        if (m.env->kind == COHORT__KIND__HEARTBEAT) {
            if (idx >= 0 && idx < CH_HB_MAX_WORKERS) {
                atomic_store(&s->last[idx], ch_now_ms());
            }
            ch_wire_send(s->sock, m.routing, m.routing_len, s->experiment, 0, -1,
                         COHORT__KIND__HEARTBEAT, NULL, 0, NULL);
        }
        ch_wire_msg_free(&m);
    }
    return NULL;
}

ch_hbserver *ch_hbserver_start(void *zmq_ctx, const char *bind, const char *experiment,
                               long long max_message, const ch_keypair *curve, ch_err *err)
{
    ch_hbserver *s = calloc(1, sizeof *s);
    if (!s) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    s->experiment = strdup(experiment);
    s->sock = zmq_socket(zmq_ctx, ZMQ_ROUTER);
    if (!s->experiment || !s->sock || ch_wire_setup(s->sock, max_message, err) != 0 ||
        (curve && ch_curve_server(s->sock, curve, err) != 0) || zmq_bind(s->sock, bind) != 0) {
        ch_err_set(err, CH_EIO, "cannot bind the heartbeat socket %s: %s", bind,
                   zmq_strerror(errno));
        if (s->sock) {
            zmq_close(s->sock);
        }
        free(s->experiment);
        free(s);
        return NULL;
    }
    size_t n = sizeof s->endpoint;
    zmq_getsockopt(s->sock, ZMQ_LAST_ENDPOINT, s->endpoint, &n);
    for (int i = 0; i < CH_HB_MAX_WORKERS; i++) {
        atomic_init(&s->last[i], 0);
    }
    atomic_init(&s->stop, 0);
    if (pthread_create(&s->thread, NULL, s_main, s) != 0) {
        zmq_close(s->sock);
        free(s->experiment);
        free(s);
        ch_err_set(err, CH_EIO, "cannot start the heartbeat thread");
        return NULL;
    }
    return s;
}

const char *ch_hbserver_endpoint(const ch_hbserver *s)
{
    return s->endpoint;
}

int64_t ch_hbserver_last(const ch_hbserver *s, int index)
{
    if (!s || index < 0 || index >= CH_HB_MAX_WORKERS) {
        return 0;
    }
    return atomic_load(&((ch_hbserver *)s)->last[index]);
}

void ch_hbserver_stop(ch_hbserver **ps)
{
    if (!ps || !*ps) {
        return;
    }
    ch_hbserver *s = *ps;
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    zmq_close(s->sock);
    free(s->experiment);
    free(s);
    *ps = NULL;
}
