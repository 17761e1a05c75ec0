/* test_wire_split.c: an Envelope sent as a per-peer head and one shared
 * frame (ch_wire_send_shared) is byte for byte the Envelope ch_wire_send
 * packs whole, and decodes the same; the shared frame is one buffer for
 * every send, kept alive until ZeroMQ lets go of the last copy; split
 * messages that are truncated, padded with garbage, in too many frames or
 * too large in all are rejected with a reason, and the next message still
 * goes through. */
#include "common/rng.h"
#include "common/wire.h"
#include "tests/check.h"

#include <unistd.h>
#include <zmq.h>

#define EXP "exp-1"

typedef struct pair {
    void *ctx, *router, *dealer;
} pair;

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
    rc |= ch_wire_setup(p->dealer, max_message, &err);
    rc |= zmq_bind(p->router, endpoint);
    rc |= zmq_connect(p->dealer, endpoint);
    CHECK(rc == 0);
    /* the ROUTER learns the DEALER's id from its first message */
    ch_wire_msg m;
    CHECK(ch_wire_send(p->dealer, NULL, 0, EXP, 0, 0, COHORT__KIND__READY, NULL, 0, &err) == 0);
    CHECK(ch_wire_recv(p->router, true, EXP, 5000, &m, &err) == 0);
    ch_wire_msg_free(&m);
    return rc;
}

static void s_pair_close(pair *p)
{
    zmq_close(p->router);
    zmq_close(p->dealer);
    zmq_ctx_term(p->ctx);
}

/* Receives every frame of one message on the DEALER: their concatenation
 * (malloc'd) and, in *second, the data pointer of frame 2 (or NULL). */
static uint8_t *s_recv_joined(void *sock, size_t *len, size_t *frames, const void **second)
{
    uint8_t *out = NULL;
    *len = 0;
    *frames = 0;
    *second = NULL;
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, 5000) != 1) {
        return NULL;
    }
    int more;
    do {
        zmq_msg_t part;
        zmq_msg_init(&part);
        CHECK(zmq_msg_recv(&part, sock, 0) >= 0);
        size_t n = zmq_msg_size(&part);
        out = realloc(out, *len + n + 1);
        memcpy(out + *len, zmq_msg_data(&part), n);
        *len += n;
        if (++*frames == 2) {
            *second = zmq_msg_data(&part);
        }
        more = zmq_msg_more(&part);
        zmq_msg_close(&part);
    } while (more);
    return out;
}

static void s_fill(uint8_t *b, size_t n, uint64_t seed)
{
    ch_rng r;
    ch_rng_init(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        b[i] = (uint8_t)ch_rng_u64(&r);
    }
}

/* A task of round 7, op 2, shards {3, 5} and `state`, as ch_wire_send
 * would pack it whole (the reference the split message must equal). */
static uint8_t *s_whole(const uint8_t *state, size_t state_len, size_t *len)
{
    uint32_t shards[] = {3, 5};
    Cohort__Task t = COHORT__TASK__INIT;
    t.round = 7;
    t.op = 2;
    t.n_shards = 2;
    t.shards = shards;
    t.state.data = (uint8_t *)state;
    t.state.len = state_len;
    size_t plen = cohort__task__get_packed_size(&t);
    uint8_t *payload = malloc(plen);
    cohort__task__pack(&t, payload);
    Cohort__Envelope env = COHORT__ENVELOPE__INIT;
    env.version = CH_PROTOCOL_VERSION;
    env.experiment = EXP;
    env.round = 7;
    env.sender = -1;
    env.kind = COHORT__KIND__TASK;
    env.payload.data = payload;
    env.payload.len = plen;
    *len = cohort__envelope__get_packed_size(&env);
    uint8_t *buf = malloc(*len);
    cohort__envelope__pack(&env, buf);
    free(payload);
    return buf;
}

static int s_send_split(pair *p, const uint8_t *routing, size_t routing_len, ch_wire_shared *sh,
                        ch_err *err)
{
    uint32_t shards[] = {3, 5};
    Cohort__Task t = COHORT__TASK__INIT;
    t.round = 7;
    t.op = 2;
    t.n_shards = 2;
    t.shards = shards;
    return ch_wire_send_shared(p->router, routing, routing_len, EXP, 7, -1, COHORT__KIND__TASK,
                               &t.base, "state", sh, err);
}

/* Split == whole, byte for byte and decoded, for state sizes around the
 * varint length boundaries (0, 127, 128, 16383, 16384) and a large one. */
static void test_same_as_whole(void)
{
    pair p;
    if (s_pair_open(&p, "inproc://split-same", CH_DEFAULT_MAX_MESSAGE) != 0) {
        return;
    }
    const size_t sizes[] = {0, 1, 127, 128, 16383, 16384, 800000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        uint8_t *state = malloc(n ? n : 1);
        s_fill(state, n, 100 + k);
        size_t wlen;
        uint8_t *whole = s_whole(state, n, &wlen);
        ch_err err = {0};
        ch_wire_shared *sh = ch_wire_shared_new(state, n, &err);
        CHECK(sh != NULL);
        if (!sh) {
            free(state);
            free(whole);
            continue;
        }
        /* the frames joined are the packed Envelope */
        CHECK(s_send_split(&p, (const uint8_t *)"w0", 2, sh, &err) == 0);
        size_t len, frames;
        const void *second;
        uint8_t *got = s_recv_joined(p.dealer, &len, &frames, &second);
        CHECK(frames == 2);
        CHECK(len == wlen && got && memcmp(got, whole, wlen) == 0);
        free(got);
        /* and ch_wire_recv decodes it to the same fields */
        CHECK(s_send_split(&p, (const uint8_t *)"w0", 2, sh, &err) == 0);
        ch_wire_msg m;
        CHECK(ch_wire_recv(p.dealer, false, EXP, 5000, &m, &err) == 0);
        CHECK(m.env && m.env->round == 7 && m.env->kind == COHORT__KIND__TASK &&
              m.env->sender == -1 && strcmp(m.env->experiment, EXP) == 0);
        Cohort__Task *t =
            m.env ? cohort__task__unpack(NULL, m.env->payload.len, m.env->payload.data) : NULL;
        CHECK(t && t->round == 7 && t->op == 2 && t->n_shards == 2 && t->shards[0] == 3 &&
              t->shards[1] == 5);
        CHECK(t && t->state.len == n && (n == 0 || memcmp(t->state.data, state, n) == 0));
        if (t) {
            cohort__task__free_unpacked(t, NULL);
        }
        ch_wire_msg_free(&m);
        ch_wire_shared_free(sh);
        free(state);
        free(whole);
    }
    CHECK(ch_wire_shared_live() == 0);
    s_pair_close(&p);
}

/* One buffer for every send; alive after ch_wire_shared_free until the last
 * copy is received and closed (ASan would see a use after free). */
static void test_shared_lifetime(void)
{
    pair p;
    if (s_pair_open(&p, "inproc://split-life", CH_DEFAULT_MAX_MESSAGE) != 0) {
        return;
    }
    size_t n = 100000;
    uint8_t *state = malloc(n);
    s_fill(state, n, 7);
    ch_err err = {0};
    ch_wire_shared *sh = ch_wire_shared_new(state, n, &err);
    CHECK(sh && ch_wire_shared_live() == 1);
    for (int i = 0; i < 5; i++) {
        CHECK(s_send_split(&p, (const uint8_t *)"w0", 2, sh, &err) == 0);
    }
    ch_wire_shared_free(sh); /* the five queued copies keep the bytes */
    CHECK(ch_wire_shared_live() == 1);
    /* inproc hands frames over by reference: all five point at one buffer */
    const void *first = NULL;
    size_t same = 0;
    for (int i = 0; i < 5; i++) {
        size_t len, frames;
        const void *second;
        uint8_t *got = s_recv_joined(p.dealer, &len, &frames, &second);
        CHECK(got && frames == 2 && len > n && memcmp(got + len - n, state, n) == 0);
        if (i == 0) {
            first = second;
        }
        same += second == first;
        free(got);
    }
    CHECK(same == 5);
    CHECK(ch_wire_shared_live() == 0); /* freed with the last copy */

    /* a peer that is gone: CH_ELOST, and nothing is left behind */
    sh = ch_wire_shared_new(state, n, &err);
    ch_err_clear(&err);
    CHECK(s_send_split(&p, (const uint8_t *)"nobody", 6, sh, &err) == CH_ELOST);
    CHECK_HAS(err.msg, "not connected");
    ch_wire_shared_free(sh);
    CHECK(ch_wire_shared_live() == 0);

    /* the field must be an empty singular bytes field */
    sh = ch_wire_shared_new(state, 10, &err);
    Cohort__Task t = COHORT__TASK__INIT;
    ch_err_clear(&err);
    CHECK(ch_wire_send_shared(p.router, (const uint8_t *)"w0", 2, EXP, 1, -1, COHORT__KIND__TASK,
                              &t.base, "round", sh, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "cohort.Task.round is not an empty bytes field");
    CHECK(ch_wire_send_shared(p.router, (const uint8_t *)"w0", 2, EXP, 1, -1, COHORT__KIND__TASK,
                              &t.base, "nope", sh, &err) == CH_EINVAL);
    t.state.data = state;
    t.state.len = 3;
    CHECK(ch_wire_send_shared(p.router, (const uint8_t *)"w0", 2, EXP, 1, -1, COHORT__KIND__TASK,
                              &t.base, "state", sh, &err) == CH_EINVAL);
    ch_wire_shared_free(sh);
    CHECK(ch_wire_shared_live() == 0);
    /* nothing half-sent: the DEALER has no message */
    zmq_pollitem_t item = {p.dealer, 0, ZMQ_POLLIN, 0};
    CHECK(zmq_poll(&item, 1, 100) == 0);
    free(state);
    s_pair_close(&p);
}

static void s_expect_reject(void *router, const char *reason)
{
    ch_err err = {0};
    ch_wire_msg m;
    CHECK(ch_wire_recv(router, true, EXP, 5000, &m, &err) == CH_EPROTO);
    CHECK(m.env == NULL);
    CHECK_HAS(err.msg, reason);
    ch_wire_msg_free(&m);
}

static void s_expect_good(pair *p)
{
    ch_err err = {0};
    ch_wire_msg m;
    CHECK(ch_wire_send(p->dealer, NULL, 0, EXP, 4, 0, COHORT__KIND__HEARTBEAT, NULL, 0, &err) == 0);
    CHECK(ch_wire_recv(p->router, true, EXP, 5000, &m, &err) == 0);
    CHECK(m.env && m.env->round == 4);
    ch_wire_msg_free(&m);
}

/* Hostile split messages from a DEALER, over ipc:// so that ZeroMQ's own
 * per-frame ZMQ_MAXMSGSIZE check is live too: each frame passes it, the
 * total does not. */
static void test_rejections(void)
{
    char endpoint[128];
    snprintf(endpoint, sizeof endpoint, "ipc:///tmp/cohort-test-split-%ld.sock", (long)getpid());
    pair p;
    if (s_pair_open(&p, endpoint, 4096) != 0) {
        s_pair_close(&p);
        return;
    }
    size_t n = 3000, wlen;
    uint8_t state[3000];
    s_fill(state, n, 11);
    uint8_t *whole = s_whole(state, n, &wlen);
    size_t head = wlen - n;

    /* the well-formed split, sent raw: accepted */
    CHECK(zmq_send(p.dealer, whole, head, ZMQ_SNDMORE) == (int)head);
    CHECK(zmq_send(p.dealer, whole + head, n, 0) == (int)n);
    ch_err err = {0};
    ch_wire_msg m;
    CHECK(ch_wire_recv(p.router, true, EXP, 5000, &m, &err) == 0);
    Cohort__Task *t =
        m.env ? cohort__task__unpack(NULL, m.env->payload.len, m.env->payload.data) : NULL;
    CHECK(t && t->state.len == n && memcmp(t->state.data, state, n) == 0);
    if (t) {
        cohort__task__free_unpacked(t, NULL);
    }
    ch_wire_msg_free(&m);

    /* the shared frame one byte short: the lengths in the head run past it */
    zmq_send(p.dealer, whole, head, ZMQ_SNDMORE);
    zmq_send(p.dealer, whole + head, n - 1, 0);
    s_expect_reject(p.router, "do not decode");

    /* the head alone */
    zmq_send(p.dealer, whole, head, 0);
    s_expect_reject(p.router, "do not decode");

    /* garbage after the shared frame */
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x07, 0x01};
    zmq_send(p.dealer, whole, head, ZMQ_SNDMORE);
    zmq_send(p.dealer, whole + head, n, ZMQ_SNDMORE);
    zmq_send(p.dealer, garbage, sizeof garbage, 0);
    s_expect_reject(p.router, "not a cohort Envelope");

    /* a garbage frame in place of the shared one */
    zmq_send(p.dealer, whole, head, ZMQ_SNDMORE);
    zmq_send(p.dealer, garbage, sizeof garbage, 0);
    s_expect_reject(p.router, "do not decode");

    /* in one-byte frames: more frames than allowed (all of them drained) */
    for (size_t i = 0; i < 40; i++) {
        zmq_send(p.dealer, whole + i, 1, i + 1 < 40 ? ZMQ_SNDMORE : 0);
    }
    s_expect_reject(p.router, "message in 40 frames (at most 8)");
    s_expect_good(&p);

    /* in 8 frames it is fine: the cut points do not matter */
    size_t cuts[] = {0, 1, 2, head - 1, head, head + 1, wlen - 1, wlen};
    for (size_t i = 0; i + 1 < sizeof cuts / sizeof *cuts; i++) {
        zmq_send(p.dealer, whole + cuts[i], cuts[i + 1] - cuts[i], ZMQ_SNDMORE);
    }
    zmq_send(p.dealer, whole + wlen, 0, 0);
    CHECK(ch_wire_recv(p.router, true, EXP, 5000, &m, &err) == 0);
    CHECK(m.env && m.env->round == 7);
    ch_wire_msg_free(&m);

    /* frames under the 4096-byte bound each, 6000 bytes in all */
    zmq_send(p.dealer, whole, head, ZMQ_SNDMORE);
    zmq_send(p.dealer, state, n, ZMQ_SNDMORE);
    zmq_send(p.dealer, state, n, 0);
    s_expect_reject(p.router, "above the 4096-byte limit");
    s_expect_good(&p);

    /* only the routing id (no Envelope frame) cannot come from a DEALER;
     * ch_wire_decode_frames says it for zero frames */
    ch_err_clear(&err);
    CHECK(ch_wire_decode_frames(NULL, NULL, 0, 0, EXP, &err) == NULL);
    CHECK(err.code == CH_EPROTO);
    CHECK_HAS(err.msg, "empty message");
    free(whole);
    s_pair_close(&p);
    unlink(endpoint + strlen("ipc://"));
}

/* ch_wire_decode_frames on random cuts of a good message (accepted, same
 * Envelope) and of corrupted ones (the same verdict as the joined bytes). */
static void test_random_cuts(void)
{
    uint8_t state[500];
    s_fill(state, sizeof state, 3);
    size_t wlen;
    uint8_t *whole = s_whole(state, sizeof state, &wlen);
    uint8_t *buf = malloc(wlen);
    ch_rng r;
    ch_rng_init(&r, 99, 0);
    size_t same = 0, accepted = 0, trials = 5000;
    for (size_t i = 0; i < trials; i++) {
        memcpy(buf, whole, wlen);
        bool corrupt = i % 2 == 1;
        size_t len = wlen;
        if (corrupt) {
            buf[ch_rng_below(&r, wlen)] ^= (uint8_t)(1u << ch_rng_below(&r, 8));
            len = i % 4 == 1 ? (size_t)ch_rng_below(&r, wlen + 1) : wlen;
        }
        size_t nf = 1 + (size_t)ch_rng_below(&r, CH_WIRE_MAX_FRAMES);
        size_t pos[CH_WIRE_MAX_FRAMES + 1];
        pos[0] = 0;
        pos[nf] = len;
        for (size_t k = 1; k < nf; k++) {
            pos[k] = (size_t)ch_rng_below(&r, len + 1);
        }
        for (size_t a = 1; a < nf; a++) { /* sort the cut points */
            for (size_t b = a; b > 1 && pos[b - 1] > pos[b]; b--) {
                size_t t = pos[b];
                pos[b] = pos[b - 1];
                pos[b - 1] = t;
            }
        }
        const uint8_t *fr[CH_WIRE_MAX_FRAMES];
        size_t fl[CH_WIRE_MAX_FRAMES];
        for (size_t k = 0; k < nf; k++) {
            fr[k] = buf + pos[k];
            fl[k] = pos[k + 1] - pos[k];
        }
        ch_err e1 = {0}, e2 = {0};
        Cohort__Envelope *split = ch_wire_decode_frames(fr, fl, nf, 0, EXP, &e1);
        Cohort__Envelope *joined = ch_wire_decode(buf, len, EXP, &e2);
        bool agree = (split == NULL) == (joined == NULL);
        if (split && joined) {
            agree = split->round == joined->round && split->kind == joined->kind &&
                    split->payload.len == joined->payload.len &&
                    (split->payload.len == 0 ||
                     memcmp(split->payload.data, joined->payload.data, split->payload.len) == 0);
        } else if (!split && !joined) {
            agree = strcmp(e1.msg, e2.msg) == 0 && e1.code == CH_EPROTO;
        }
        same += agree;
        accepted += split != NULL && !corrupt;
        if (split) {
            cohort__envelope__free_unpacked(split, NULL);
        }
        if (joined) {
            cohort__envelope__free_unpacked(joined, NULL);
        }
    }
    CHECK(same == trials);
    CHECK(accepted == trials / 2); /* every cut of the good message decodes */
    free(buf);
    free(whole);
}

int main(void)
{
    test_same_as_whole();
    test_shared_lifetime();
    test_rejections();
    test_random_cuts();
    CH_TEST_END();
}
