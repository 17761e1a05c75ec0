/* wire.c: Envelope framing over ZeroMQ (see wire.h). */
#include "common/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
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

/* --- split messages: a per-peer head and a shared frame ------------------- */

struct ch_wire_shared {
    zmq_msg_t msg; /* the reference the owner holds; each send takes a copy */
};

static atomic_long s_shared_live;

/* Runs in whichever thread drops the last reference (often ZeroMQ's I/O
 * thread, after the last copy left). */
static void s_free_shared(void *data, void *hint)
{
    (void)hint;
    free(data);
    atomic_fetch_sub(&s_shared_live, 1);
}

ch_wire_shared *ch_wire_shared_new(const uint8_t *data, size_t len, ch_err *err)
{
    ch_wire_shared *s = malloc(sizeof *s);
    uint8_t *buf = malloc(len ? len : 1);
    if (!s || !buf) {
        free(s);
        free(buf);
        ch_err_set(err, CH_ENOMEM, "out of memory for a %zu-byte shared frame", len);
        return NULL;
    }
    if (len) {
        memcpy(buf, data, len);
    }
    atomic_fetch_add(&s_shared_live, 1);
    if (zmq_msg_init_data(&s->msg, buf, len, s_free_shared, NULL) != 0) {
        s_free_shared(buf, NULL);
        free(s);
        ch_err_set(err, CH_ENOMEM, "cannot create a %zu-byte shared frame", len);
        return NULL;
    }
    return s;
}

void ch_wire_shared_free(ch_wire_shared *s)
{
    if (s) {
        zmq_msg_close(&s->msg); /* the bytes go with the last copy */
        free(s);
    }
}

long ch_wire_shared_live(void)
{
    return atomic_load(&s_shared_live);
}

static size_t s_varint(uint64_t v, uint8_t *out)
{
    size_t n = 0;
    do {
        out[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        out[n] |= v ? 0x80 : 0;
        n++;
    } while (v);
    return n;
}

/* Sends one frame (flags: ZMQ_SNDMORE or 0), mapping errno as ch_wire_send. */
static int s_send_frame(void *sock, zmq_msg_t *msg, int flags, ch_err *err)
{
    if (zmq_msg_send(msg, sock, flags) >= 0) {
        return 0;
    }
    int e = errno;
    zmq_msg_close(msg);
    if (e == EHOSTUNREACH) {
        return ch_err_set(err, CH_ELOST, "peer is not connected");
    }
    if (e == EAGAIN) {
        return ch_err_set(err, CH_ETIMEOUT, "send would block");
    }
    return ch_err_set(err, CH_EIO, "send failed: %s", zmq_strerror(e));
}

int ch_wire_send_shared(void *sock, const uint8_t *routing, size_t routing_len,
                        const char *experiment, uint32_t round, int32_t sender, Cohort__Kind kind,
                        const ProtobufCMessage *msg, const char *field, ch_wire_shared *tail,
                        ch_err *err)
{
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, field);
    if (!fd || fd->type != PROTOBUF_C_TYPE_BYTES || fd->label == PROTOBUF_C_LABEL_REPEATED ||
        ((const ProtobufCBinaryData *)((const char *)msg + fd->offset))->len != 0) {
        return ch_err_set(err, CH_EINVAL, "%s.%s is not an empty bytes field",
                          msg->descriptor->name, field);
    }
    size_t tail_len = zmq_msg_size(&tail->msg);
    /* the payload: msg's packed fields, then `field`'s tag and length */
    uint8_t ftag[10 + 10];
    size_t nftag = 0;
    if (tail_len) { /* an empty bytes field is left out, as protobuf-c packs it */
        nftag = s_varint((uint64_t)fd->id << 3 | 2, ftag);
        nftag += s_varint(tail_len, ftag + nftag);
    }
    size_t inner_head = protobuf_c_message_get_packed_size(msg);
    size_t payload_len = inner_head + nftag + tail_len;
    /* the Envelope without its payload, then the payload's tag and length */
    Cohort__Envelope env = COHORT__ENVELOPE__INIT;
    env.version = CH_PROTOCOL_VERSION;
    env.experiment = (char *)(experiment ? experiment : "");
    env.round = round;
    env.sender = sender;
    env.kind = kind;
    const ProtobufCFieldDescriptor *pd =
        protobuf_c_message_descriptor_get_field_by_name(&cohort__envelope__descriptor, "payload");
    uint8_t ptag[10 + 10];
    size_t nptag = 0;
    if (payload_len) {
        nptag = s_varint((uint64_t)pd->id << 3 | 2, ptag);
        nptag += s_varint(payload_len, ptag + nptag);
    }
    size_t env_head = cohort__envelope__get_packed_size(&env);
    size_t size = env_head + nptag + inner_head + nftag;
    uint8_t *buf = malloc(size);
    if (!buf) {
        return ch_err_set(err, CH_ENOMEM, "out of memory packing a %zu-byte message head", size);
    }
    cohort__envelope__pack(&env, buf);
    memcpy(buf + env_head, ptag, nptag);
    protobuf_c_message_pack(msg, buf + env_head + nptag);
    memcpy(buf + env_head + nptag + inner_head, ftag, nftag);
    s_capture(buf, size);
    s_capture(zmq_msg_data(&tail->msg), tail_len);
    zmq_msg_t head, body;
    if (zmq_msg_init_data(&head, buf, size, s_free_buf, NULL) != 0) {
        free(buf);
        return ch_err_set(err, CH_ENOMEM, "cannot create a message");
    }
    zmq_msg_init(&body);
    if (zmq_msg_copy(&body, &tail->msg) != 0) { /* a reference, not a copy of the bytes */
        zmq_msg_close(&head);
        return ch_err_set(err, CH_EIO, "cannot share a frame: %s", zmq_strerror(errno));
    }
    if (routing && zmq_send(sock, routing, routing_len, ZMQ_SNDMORE) < 0) {
        int e = errno;
        zmq_msg_close(&head);
        zmq_msg_close(&body);
        if (e == EHOSTUNREACH) {
            return ch_err_set(err, CH_ELOST, "peer is not connected");
        }
        return ch_err_set(err, CH_EIO, "send failed: %s", zmq_strerror(e));
    }
    /* past the first frame ZeroMQ does not refuse the rest of a message
     * (the high-water mark counts whole messages) */
    int rc = s_send_frame(sock, &head, ZMQ_SNDMORE, err);
    if (rc != 0) {
        zmq_msg_close(&body);
        return rc;
    }
    return s_send_frame(sock, &body, 0, err);
}

/* --- receiving --------------------------------------------------------------- */

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

/* Checks the frames' count and total size; *joined gets a new buffer with
 * their concatenation when there is more than one frame (NULL for one: use
 * the frame). */
static int s_join(const uint8_t *const *frames, const size_t *lens, size_t n, long long max_message,
                  uint8_t **joined, size_t *total, ch_err *err)
{
    *joined = NULL;
    *total = 0;
    if (n == 0) {
        return ch_err_set(err, CH_EPROTO, "empty message");
    }
    if (n > CH_WIRE_MAX_FRAMES) {
        return ch_err_set(err, CH_EPROTO, "message in %zu frames (at most %d)", n,
                          CH_WIRE_MAX_FRAMES);
    }
    size_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > SIZE_MAX - sum) {
            return ch_err_set(err, CH_EPROTO, "message frames overflow a size");
        }
        sum += lens[i];
    }
    if (max_message > 0 && (unsigned long long)sum > (unsigned long long)max_message) {
        return ch_err_set(err, CH_EPROTO,
                          "message of %zu bytes in %zu frames is above the %lld-byte limit", sum, n,
                          max_message);
    }
    *total = sum;
    if (n == 1) {
        return 0;
    }
    uint8_t *buf = malloc(sum ? sum : 1);
    if (!buf) {
        return ch_err_set(err, CH_ENOMEM, "out of memory joining a %zu-byte message", sum);
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i]) {
            memcpy(buf + off, frames[i], lens[i]);
            off += lens[i];
        }
    }
    *joined = buf;
    return 0;
}

Cohort__Envelope *ch_wire_decode_frames(const uint8_t *const *frames, const size_t *lens, size_t n,
                                        long long max_message, const char *experiment, ch_err *err)
{
    uint8_t *joined;
    size_t total;
    if (s_join(frames, lens, n, max_message, &joined, &total, err) != 0) {
        return NULL;
    }
    Cohort__Envelope *env = ch_wire_decode(joined ? joined : frames[0], total, experiment, err);
    free(joined);
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
    int64_t max_message = 0;
    size_t optlen = sizeof max_message;
    if (zmq_getsockopt(sock, ZMQ_MAXMSGSIZE, &max_message, &optlen) != 0) {
        max_message = 0;
    }
    /* the frames after the routing id; one more than allowed is kept so
     * that s_join can say how many came */
    zmq_msg_t body[CH_WIRE_MAX_FRAMES + 1];
    size_t nbody = 0, nparts = 0, extra = 0;
    int more = 0;
    int rc = 0;
    do {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close(&part);
            for (size_t i = 0; i < nbody; i++) {
                zmq_msg_close(&body[i]);
            }
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
        if (router && nparts == 0) {
            if (size > sizeof m->routing) {
                rc = ch_err_set(err, CH_EPROTO, "routing id too long");
            } else {
                memcpy(m->routing, zmq_msg_data(&part), size);
                m->routing_len = size;
            }
            zmq_msg_close(&part);
        } else if (nbody < CH_WIRE_MAX_FRAMES + 1) {
            zmq_msg_init(&body[nbody]);
            zmq_msg_move(&body[nbody], &part);
            zmq_msg_close(&part);
            nbody++;
        } else {
            extra++; /* drained and dropped */
            zmq_msg_close(&part);
        }
        nparts++;
    } while (more);
    Cohort__Envelope *env = NULL;
    if (rc == 0) {
        const uint8_t *frames[CH_WIRE_MAX_FRAMES + 1];
        size_t lens[CH_WIRE_MAX_FRAMES + 1];
        for (size_t i = 0; i < nbody; i++) {
            frames[i] = zmq_msg_data(&body[i]);
            lens[i] = zmq_msg_size(&body[i]);
        }
        uint8_t *joined = NULL;
        size_t total = 0;
        ch_err lerr;
        ch_err_clear(&lerr);
        rc = s_join(frames, lens, nbody + extra, max_message, &joined, &total, &lerr);
        if (rc == 0 && joined) {
            /* the frames go before decoding: the joined copy replaces them */
            for (size_t i = 0; i < nbody; i++) {
                zmq_msg_close(&body[i]);
            }
            nbody = 0;
        }
        if (rc == 0) {
            env = ch_wire_decode(joined ? joined : frames[0], total, experiment, &lerr);
            rc = env ? 0 : lerr.code;
        }
        free(joined);
        if (rc != 0) {
            ch_err_set(err, rc, "%s", lerr.msg);
        }
    }
    for (size_t i = 0; i < nbody; i++) {
        zmq_msg_close(&body[i]);
    }
    if (rc != 0) {
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
