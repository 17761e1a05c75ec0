/* test_wire.c: Envelope framing on a ROUTER/DEALER pair in one process:
 * round trips both ways, every reason ch_wire_recv rejects a message (with
 * the reason in the message), the ZMQ_MAXMSGSIZE bound, and ch_wire_decode
 * on random and corrupted bytes. */
#include "common/rng.h"
#include "common/wire.h"
#include "tests/check.h"

#include <unistd.h>
#include <zmq.h>

#define EXP "exp-1"

typedef struct pair {
    void *ctx, *router, *dealer;
} pair;

/* A ROUTER bound at `endpoint` and a DEALER with routing id "w0" connected
 * to it; max_message bounds what the ROUTER accepts. */
static int s_pair_open(pair *p, const char *endpoint, long long max_message)
{
    ch_err err = {0};
    p->ctx = zmq_ctx_new();
    p->router = zmq_socket(p->ctx, ZMQ_ROUTER);
    p->dealer = zmq_socket(p->ctx, ZMQ_DEALER);
    int mandatory = 1;
    zmq_setsockopt(p->router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory);
    zmq_setsockopt(p->dealer, ZMQ_ROUTING_ID, "w0", 2);
    int rc = ch_wire_setup(p->router, max_message, &err);
    rc |= ch_wire_setup(p->dealer, CH_DEFAULT_MAX_MESSAGE, &err);
    rc |= zmq_bind(p->router, endpoint);
    rc |= zmq_connect(p->dealer, endpoint);
    CHECK(rc == 0);
    return rc;
}

static void s_pair_close(pair *p)
{
    zmq_close(p->router);
    zmq_close(p->dealer);
    zmq_ctx_term(p->ctx);
}

/* Sends raw frames from the DEALER, as a broken or hostile peer would. */
static void s_send_raw(void *sock, const void *data, size_t len, int flags)
{
    CHECK(zmq_send(sock, data, len, flags) == (int)len);
}

/* Packs an Envelope as given (no checks) into a new buffer. */
static uint8_t *s_pack(uint32_t version, const char *experiment, Cohort__Kind kind,
                       const uint8_t *payload, size_t payload_len, size_t *len)
{
    Cohort__Envelope env = COHORT__ENVELOPE__INIT;
    env.version = version;
    env.experiment = (char *)experiment;
    env.round = 3;
    env.sender = 0;
    env.kind = kind;
    env.payload.data = (uint8_t *)payload;
    env.payload.len = payload_len;
    *len = cohort__envelope__get_packed_size(&env);
    uint8_t *buf = malloc(*len ? *len : 1);
    cohort__envelope__pack(&env, buf);
    return buf;
}

/* Expects the next message on the ROUTER to be rejected with `reason`. */
static void s_expect_reject(pair *p, const char *reason)
{
    ch_err err = {0};
    ch_wire_msg m;
    CHECK(ch_wire_recv(p->router, true, EXP, 2000, &m, &err) == CH_EPROTO);
    CHECK(m.env == NULL);
    CHECK_HAS(err.msg, reason);
    ch_wire_msg_free(&m);
}

static void test_round_trip(void)
{
    pair p;
    if (s_pair_open(&p, "inproc://wire-rt", CH_DEFAULT_MAX_MESSAGE) != 0) {
        return;
    }
    ch_err err = {0};
    ch_wire_msg m;

    /* worker -> coordinator: a Hello with an empty experiment is accepted
     * by a receiver that expects EXP */
    Cohort__Hello hello = COHORT__HELLO__INIT;
    hello.rank = 2;
    hello.host = "node7";
    hello.pid = 4242;
    CHECK(ch_wire_send_msg(p.dealer, NULL, 0, "", 0, 2, COHORT__KIND__HELLO,
                           (const ProtobufCMessage *)&hello, &err) == 0);
    CHECK(ch_wire_recv(p.router, true, EXP, 2000, &m, &err) == 0);
    CHECK(m.env && m.env->kind == COHORT__KIND__HELLO && m.env->sender == 2);
    CHECK(m.routing_len == 2 && memcmp(m.routing, "w0", 2) == 0);
    if (m.env) {
        Cohort__Hello *h = cohort__hello__unpack(NULL, m.env->payload.len, m.env->payload.data);
        CHECK(h && h->rank == 2 && h->pid == 4242 && strcmp(h->host, "node7") == 0);
        cohort__hello__free_unpacked(h, NULL);
    }
    uint8_t routing[256];
    size_t routing_len = m.routing_len;
    memcpy(routing, m.routing, routing_len);
    ch_wire_msg_free(&m);
    CHECK(m.env == NULL);
    ch_wire_msg_free(&m); /* twice is harmless */

    /* coordinator -> worker with a binary payload (zeros included) */
    uint8_t payload[1000];
    for (size_t i = 0; i < sizeof payload; i++) {
        payload[i] = (uint8_t)(i * 7);
    }
    CHECK(ch_wire_send(p.router, routing, routing_len, EXP, 9, -1, COHORT__KIND__TASK, payload,
                       sizeof payload, &err) == 0);
    CHECK(ch_wire_recv(p.dealer, false, EXP, 2000, &m, &err) == 0);
    CHECK(m.env && m.env->version == CH_PROTOCOL_VERSION && m.env->round == 9 &&
          m.env->sender == -1 && m.env->kind == COHORT__KIND__TASK);
    CHECK(m.env && strcmp(m.env->experiment, EXP) == 0);
    CHECK(m.env && m.env->payload.len == sizeof payload &&
          memcmp(m.env->payload.data, payload, sizeof payload) == 0);
    CHECK(m.routing_len == 0);
    ch_wire_msg_free(&m);

    /* an empty payload */
    CHECK(ch_wire_send(p.dealer, NULL, 0, EXP, 1, 0, COHORT__KIND__READY, NULL, 0, &err) == 0);
    CHECK(ch_wire_recv(p.router, true, EXP, 2000, &m, &err) == 0);
    CHECK(m.env && m.env->payload.len == 0 && m.env->kind == COHORT__KIND__READY);
    ch_wire_msg_free(&m);

    /* a NULL experiment filter accepts any experiment */
    CHECK(ch_wire_send(p.dealer, NULL, 0, "another", 1, 0, COHORT__KIND__READY, NULL, 0, &err) ==
          0);
    CHECK(ch_wire_recv(p.router, true, NULL, 2000, &m, &err) == 0);
    CHECK(m.env && strcmp(m.env->experiment, "another") == 0);
    ch_wire_msg_free(&m);

    /* nothing pending: a timeout, not an error */
    CHECK(ch_wire_recv(p.router, true, EXP, 50, &m, &err) == CH_ETIMEOUT);
    CHECK(m.env == NULL);

    /* a ROUTER send to a peer that does not exist */
    CHECK(ch_wire_send(p.router, (const uint8_t *)"nobody", 6, EXP, 1, -1, COHORT__KIND__BYE, NULL,
                       0, &err) == CH_ELOST);

    CHECK_STR(ch_wire_kind_name(COHORT__KIND__UPDATE), "UPDATE");
    CHECK_STR(ch_wire_kind_name(77), "unknown");
    s_pair_close(&p);
}

static void test_rejections(void)
{
    pair p;
    if (s_pair_open(&p, "inproc://wire-rej", CH_DEFAULT_MAX_MESSAGE) != 0) {
        return;
    }
    ch_err err = {0};
    ch_wire_msg m;
    size_t len;
    uint8_t *buf;

    /* garbage bytes: not a protobuf (a field with wire type 7) */
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x07, 0x01};
    s_send_raw(p.dealer, garbage, sizeof garbage, 0);
    s_expect_reject(&p, "not a cohort Envelope");

    /* a length-delimited field longer than the message */
    const uint8_t short_field[] = {0x32, 0x40, 0x01, 0x02};
    s_send_raw(p.dealer, short_field, sizeof short_field, 0);
    s_expect_reject(&p, "do not decode");

    /* a future protocol version */
    buf = s_pack(2, EXP, COHORT__KIND__UPDATE, NULL, 0, &len);
    s_send_raw(p.dealer, buf, len, 0);
    free(buf);
    s_expect_reject(&p, "protocol version 2");

    /* version 0 (a field left out) */
    buf = s_pack(0, EXP, COHORT__KIND__UPDATE, NULL, 0, &len);
    s_send_raw(p.dealer, buf, len, 0);
    free(buf);
    s_expect_reject(&p, "protocol version 0");

    /* another experiment */
    CHECK(ch_wire_send(p.dealer, NULL, 0, "exp-2", 1, 0, COHORT__KIND__UPDATE, NULL, 0, &err) == 0);
    s_expect_reject(&p, "message for experiment 'exp-2', this is 'exp-1'");

    /* an empty experiment is only allowed on HELLO */
    CHECK(ch_wire_send(p.dealer, NULL, 0, "", 1, 0, COHORT__KIND__UPDATE, NULL, 0, &err) == 0);
    s_expect_reject(&p, "message for experiment ''");

    /* unknown kinds, and the unspecified kind 0 */
    buf = s_pack(1, EXP, (Cohort__Kind)42, NULL, 0, &len);
    s_send_raw(p.dealer, buf, len, 0);
    free(buf);
    s_expect_reject(&p, "unknown message kind 42");
    buf = s_pack(1, EXP, COHORT__KIND__KIND_UNSPECIFIED, NULL, 0, &len);
    s_send_raw(p.dealer, buf, len, 0);
    free(buf);
    s_expect_reject(&p, "unknown message kind 0");
    buf = s_pack(1, EXP, (Cohort__Kind)-3, NULL, 0, &len);
    s_send_raw(p.dealer, buf, len, 0);
    free(buf);
    s_expect_reject(&p, "unknown message kind -3");

    /* an extra frame after the Envelope is joined to it (a split message,
     * tests/unit/test_wire_split.c): garbage there spoils the whole */
    buf = s_pack(1, EXP, COHORT__KIND__UPDATE, NULL, 0, &len);
    s_send_raw(p.dealer, buf, len, ZMQ_SNDMORE);
    s_send_raw(p.dealer, garbage, sizeof garbage, 0);
    free(buf);
    s_expect_reject(&p, "not a cohort Envelope");

    /* an empty frame decodes as an Envelope with version 0 */
    s_send_raw(p.dealer, "", 0, 0);
    s_expect_reject(&p, "protocol version 0");

    /* after all that, a good message still goes through */
    CHECK(ch_wire_send(p.dealer, NULL, 0, EXP, 4, 0, COHORT__KIND__HEARTBEAT, NULL, 0, &err) == 0);
    CHECK(ch_wire_recv(p.router, true, EXP, 2000, &m, &err) == 0);
    CHECK(m.env && m.env->round == 4);
    ch_wire_msg_free(&m);

    /* ch_wire_decode directly: HELLO with an empty experiment passes, HELLO
     * naming another experiment does not */
    buf = s_pack(1, "", COHORT__KIND__HELLO, NULL, 0, &len);
    Cohort__Envelope *env = ch_wire_decode(buf, len, EXP, &err);
    CHECK(env != NULL);
    cohort__envelope__free_unpacked(env, NULL);
    free(buf);
    buf = s_pack(1, "exp-9", COHORT__KIND__HELLO, NULL, 0, &len);
    ch_err_clear(&err);
    CHECK(ch_wire_decode(buf, len, EXP, &err) == NULL);
    CHECK(err.code == CH_EPROTO);
    CHECK_HAS(err.msg, "exp-9");
    free(buf);
    s_pair_close(&p);
}

/* A message above the ROUTER's ZMQ_MAXMSGSIZE is dropped by ZeroMQ (it
 * closes the connection): the receiver times out and nothing breaks.
 * inproc:// skips the size check, so this runs over ipc://. */
static void test_max_message(void)
{
    char endpoint[128];
    snprintf(endpoint, sizeof endpoint, "ipc:///tmp/cohort-test-wire-%ld.sock", (long)getpid());
    pair p;
    if (s_pair_open(&p, endpoint, 1024) != 0) {
        s_pair_close(&p);
        return;
    }
    ch_err err = {0};
    ch_wire_msg m;
    /* first make sure the connection is up */
    CHECK(ch_wire_send(p.dealer, NULL, 0, EXP, 1, 0, COHORT__KIND__READY, NULL, 0, &err) == 0);
    CHECK(ch_wire_recv(p.router, true, EXP, 5000, &m, &err) == 0);
    ch_wire_msg_free(&m);

    uint8_t *big = calloc(4096, 1);
    CHECK(ch_wire_send(p.dealer, NULL, 0, EXP, 2, 0, COHORT__KIND__UPDATE, big, 4096, &err) == 0);
    free(big);
    CHECK(ch_wire_recv(p.router, true, EXP, 500, &m, &err) == CH_ETIMEOUT);
    CHECK(m.env == NULL);

    /* the DEALER reconnects; small messages flow again */
    int got = 0;
    for (int attempt = 0; attempt < 50 && !got; attempt++) {
        ch_wire_send(p.dealer, NULL, 0, EXP, 3, 0, COHORT__KIND__HEARTBEAT, NULL, 0, &err);
        if (ch_wire_recv(p.router, true, EXP, 200, &m, &err) == 0) {
            got = m.env && m.env->round == 3;
            ch_wire_msg_free(&m);
        }
    }
    CHECK(got);
    s_pair_close(&p);
    unlink(endpoint + strlen("ipc://"));
}

/* ch_wire_decode on random bytes and on corrupted valid Envelopes: a
 * message or a reason, never a crash (ASan checks the memory side). */
static void test_decode_random(void)
{
    ch_rng r;
    ch_rng_init(&r, 2024, 0);
    uint8_t buf[300];
    size_t decoded = 0;
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)ch_rng_below(&r, sizeof buf + 1);
        for (size_t j = 0; j < len; j++) {
            buf[j] = (uint8_t)ch_rng_u64(&r);
        }
        ch_err err = {0};
        Cohort__Envelope *env = ch_wire_decode(buf, len, EXP, &err);
        if (env) {
            decoded++;
            cohort__envelope__free_unpacked(env, NULL);
        } else {
            CHECK(err.code == CH_EPROTO && err.msg[0] != '\0');
        }
    }
    /* bit flips in a valid Envelope reach the later checks */
    uint8_t payload[40];
    memset(payload, 0xab, sizeof payload);
    size_t len;
    uint8_t *good = s_pack(1, EXP, COHORT__KIND__UPDATE, payload, sizeof payload, &len);
    size_t passed = 0;
    for (int i = 0; i < 20000; i++) {
        memcpy(buf, good, len);
        size_t flips = 1 + ch_rng_below(&r, 3);
        for (size_t f = 0; f < flips; f++) {
            buf[ch_rng_below(&r, len)] ^= (uint8_t)(1u << ch_rng_below(&r, 8));
        }
        size_t cut = i % 4 == 0 ? (size_t)ch_rng_below(&r, len + 1) : len;
        ch_err err = {0};
        Cohort__Envelope *env = ch_wire_decode(buf, cut, EXP, &err);
        if (env) {
            passed++;
            CHECK(env->version == CH_PROTOCOL_VERSION);
            cohort__envelope__free_unpacked(env, NULL);
        } else {
            CHECK(err.code == CH_EPROTO && err.msg[0] != '\0');
        }
    }
    CHECK(passed > 0); /* flips in the payload keep it valid */
    free(good);
    (void)decoded;
}

int main(void)
{
    test_round_trip();
    test_rejections();
    test_max_message();
    test_decode_random();
    CH_TEST_END();
}
