/* heartbeat.c: the worker's heartbeat thread (see heartbeat.h). */
#include "worker/heartbeat.h"
#include "common/log.h"
#include "common/wire.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

struct ch_heartbeat {
    pthread_t thread;
    void *sock;
    char *experiment;
    int32_t sender;
    long interval_ms, timeout_ms;
    atomic_int stop;
};

static void *s_main(void *arg)
{
    ch_heartbeat *hb = arg;
    int64_t last_reply = ch_now_ms();
    int64_t next_send = 0;
    while (!atomic_load(&hb->stop)) {
        int64_t now = ch_now_ms();
        if (now >= next_send) {
            ch_wire_send(hb->sock, NULL, 0, hb->experiment, 0, hb->sender, COHORT__KIND__HEARTBEAT,
                         NULL, 0, NULL);
            next_send = now + hb->interval_ms;
        }
        ch_wire_msg m;
        int rc = ch_wire_recv(hb->sock, false, hb->experiment, 100, &m, NULL);
        if (rc == 0) {
            last_reply = ch_now_ms();
            ch_wire_msg_free(&m);
        }
        if (ch_now_ms() - last_reply > hb->timeout_ms && !atomic_load(&hb->stop)) {
            ch_error("the coordinator has been silent for %.1f s "
                     "(runtime.coordinator_timeout); exiting",
                     (double)hb->timeout_ms / 1000.0);
            _exit(4);
        }
    }
    return NULL;
}

ch_heartbeat *ch_heartbeat_start(void *zmq_ctx, const char *endpoint, const char *experiment,
                                 int32_t sender, long interval_ms, long timeout_ms,
                                 const char *server_public, const ch_keypair *kp, ch_err *err)
{
    ch_heartbeat *hb = calloc(1, sizeof *hb);
    if (!hb) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    hb->experiment = strdup(experiment);
    hb->sender = sender;
    hb->interval_ms = interval_ms;
    hb->timeout_ms = timeout_ms;
    hb->sock = zmq_socket(zmq_ctx, ZMQ_DEALER);
    if (!hb->experiment || !hb->sock || ch_wire_setup(hb->sock, 1 << 20, err) != 0 ||
        (server_public && ch_curve_client(hb->sock, server_public, kp, err) != 0) ||
        zmq_connect(hb->sock, endpoint) != 0) {
        ch_err_set(err, CH_EIO, "cannot open the heartbeat socket to %s", endpoint);
        if (hb->sock) {
            zmq_close(hb->sock);
        }
        free(hb->experiment);
        free(hb);
        return NULL;
    }
    atomic_init(&hb->stop, 0);
    if (pthread_create(&hb->thread, NULL, s_main, hb) != 0) {
        zmq_close(hb->sock);
        free(hb->experiment);
        free(hb);
        ch_err_set(err, CH_EIO, "cannot start the heartbeat thread");
        return NULL;
    }
    return hb;
}

void ch_heartbeat_stop(ch_heartbeat **phb)
{
    if (!phb || !*phb) {
        return;
    }
    ch_heartbeat *hb = *phb;
    atomic_store(&hb->stop, 1);
    pthread_join(hb->thread, NULL);
    zmq_close(hb->sock);
    free(hb->experiment);
    free(hb);
    *phb = NULL;
}
