/* wire.c: Envelope framing over ZeroMQ (see wire.h). */
#include "common/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

int64_t ch_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double ch_wall_time(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

const char *ch_wire_kind_name(int kind)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&cohort__kind__descriptor, kind);
    return v ? v->name : "unknown";
}

int ch_wire_setup(void *sock, long long max_message, ch_err *err)
{
    int linger = 200, hb_ivl = 1000, hb_timeout = 5000, hb_ttl = 10000;
    int64_t maxmsg = max_message;
    if (zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl) != 0 ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout) != 0 ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_TTL, &hb_ttl, sizeof hb_ttl) != 0) {
        return ch_err_set(err, CH_EIO, "cannot set socket options: %s", zmq_strerror(errno));
    }
    return 0;
}

static void s_free_buf(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* COHORT_TEST_CAPTURE=FILE appends every message this process sends to
 * FILE, so a test can search what left a silo (tests/sh/silo_privacy.sh). */
static void s_capture(const uint8_t *buf, size_t size)
{
    const char *path = getenv("COHORT_TEST_CAPTURE");
    if (!path || !*path) {
        return;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        ssize_t w = write(fd, buf, size);
        (void)w;
        close(fd);
    }
}

int ch_wire_send(void *sock, const uint8_t *routing, size_t routing_len, const char *experiment,
                 uint32_t round, int32_t sender, Cohort__Kind kind, const uint8_t *payload,
                 size_t payload_len, ch_err *err)
{
    Cohort__Envelope env = COHORT__ENVELOPE__INIT;
    env.version = CH_PROTOCOL_VERSION;
    env.experiment = (char *)(experiment ? experiment : "");
    env.round = round;
    env.sender = sender;
    env.kind = kind;
    env.payload.data = (uint8_t *)payload;
    env.payload.len = payload_len;
    size_t size = cohort__envelope__get_packed_size(&env);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        return ch_err_set(err, CH_ENOMEM, "out of memory packing a %zu-byte message", size);
    }
    cohort__envelope__pack(&env, buf);
    s_capture(buf, size);
    if (routing) {
        if (zmq_send(sock, routing, routing_len, ZMQ_SNDMORE) < 0) {
            free(buf);
            if (errno == EHOSTUNREACH) {
                return ch_err_set(err, CH_ELOST, "peer is not connected");
            }
            return ch_err_set(err, CH_EIO, "send failed: %s", zmq_strerror(errno));
        }
    }
    zmq_msg_t msg;
    if (zmq_msg_init_data(&msg, buf, size, s_free_buf, NULL) != 0) {
        free(buf);
        return ch_err_set(err, CH_ENOMEM, "cannot create a message");
    }
    if (zmq_msg_send(&msg, sock, 0) < 0) {
        int e = errno;
        zmq_msg_close(&msg);
        if (e == EHOSTUNREACH) {
            return ch_err_set(err, CH_ELOST, "peer is not connected");
        }
        if (e == EAGAIN) {
            return ch_err_set(err, CH_ETIMEOUT, "send would block");
        }
        return ch_err_set(err, CH_EIO, "send failed: %s", zmq_strerror(e));
    }
    return 0;
}

int ch_wire_send_msg(void *sock, const uint8_t *routing, size_t routing_len, const char *experiment,
                     uint32_t round, int32_t sender, Cohort__Kind kind, const ProtobufCMessage *msg,
                     ch_err *err)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        return ch_err_set(err, CH_ENOMEM, "out of memory packing a %zu-byte payload", size);
    }
    protobuf_c_message_pack(msg, buf);
    int rc =
        ch_wire_send(sock, routing, routing_len, experiment, round, sender, kind, buf, size, err);
    free(buf);
    return rc;
}

Cohort__Envelope *ch_wire_decode(const uint8_t *data, size_t len, const char *experiment,
                                 ch_err *err)
{
    Cohort__Envelope *env = cohort__envelope__unpack(NULL, len, data);
    if (!env) {
        ch_err_set(err, CH_EPROTO, "not a cohort Envelope (%zu bytes that do not decode)", len);
        return NULL;
    }
    if (env->version != CH_PROTOCOL_VERSION) {
        ch_err_set(err, CH_EPROTO, "protocol version %u, this program speaks %d", env->version,
                   CH_PROTOCOL_VERSION);
        cohort__envelope__free_unpacked(env, NULL);
        return NULL;
    }
    if (!protobuf_c_enum_descriptor_get_value(&cohort__kind__descriptor, env->kind) ||
        env->kind == COHORT__KIND__KIND_UNSPECIFIED) {
        ch_err_set(err, CH_EPROTO, "unknown message kind %d", (int)env->kind);
        cohort__envelope__free_unpacked(env, NULL);
        return NULL;
    }
    /* a HELLO comes before the worker knows the experiment: it may be empty */
    bool hello = env->kind == COHORT__KIND__HELLO && env->experiment[0] == '\0';
    if (experiment && experiment[0] && !hello && strcmp(env->experiment, experiment) != 0) {
        ch_err_set(err, CH_EPROTO, "message for experiment '%.64s', this is '%.64s'",
                   env->experiment, experiment);
        cohort__envelope__free_unpacked(env, NULL);
        return NULL;
    }
    return env;
}

int ch_wire_recv(void *sock, bool router, const char *experiment, int timeout_ms, ch_wire_msg *m,
                 ch_err *err)
{
    memset(m, 0, sizeof *m);
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(&item, 1, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) {
            return ch_err_set(err, CH_EINTR, "interrupted");
        }
        return ch_err_set(err, CH_EIO, "poll failed: %s", zmq_strerror(errno));
    }
    if (n == 0) {
        return ch_err_set(err, CH_ETIMEOUT, "no message within %d ms", timeout_ms);
    }
    zmq_msg_t part;
    int more = 0;
    size_t nparts = 0;
    int rc = 0;
    Cohort__Envelope *env = NULL;
    do {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close(&part);
            if (e == EAGAIN) {
                return ch_err_set(err, CH_ETIMEOUT, "no message");
            }
            if (e == EINTR) {
                return ch_err_set(err, CH_EINTR, "interrupted");
            }
            return ch_err_set(err, CH_EIO, "receive failed: %s", zmq_strerror(e));
        }
        more = zmq_msg_more(&part);
        size_t size = zmq_msg_size(&part);
        const uint8_t *data = zmq_msg_data(&part);
        if (router && nparts == 0) {
            if (size > sizeof m->routing) {
                rc = ch_err_set(err, CH_EPROTO, "routing id too long");
            } else {
                memcpy(m->routing, data, size);
                m->routing_len = size;
            }
        } else if (nparts == (router ? 1u : 0u)) {
            ch_err lerr;
            ch_err_clear(&lerr);
            env = ch_wire_decode(data, size, experiment, &lerr);
            if (!env) {
                rc = ch_err_set(err, CH_EPROTO, "%s", lerr.msg);
            }
        } else if (rc == 0) {
            rc = ch_err_set(err, CH_EPROTO, "unexpected extra frame in a message");
        }
        zmq_msg_close(&part);
        nparts++;
    } while (more);
    if (rc == 0 && !env) {
        rc = ch_err_set(err, CH_EPROTO, "empty message");
    }
    if (rc != 0) {
        if (env) {
            cohort__envelope__free_unpacked(env, NULL);
        }
        return rc;
    }
    m->env = env;
    return 0;
}

void ch_wire_msg_free(ch_wire_msg *m)
{
    if (m && m->env) {
        cohort__envelope__free_unpacked(m->env, NULL);
        m->env = NULL;
    }
}
