/* bench_wire.c: round-trip time of one large message through cohort's wire
 * layer (ch_wire_send / ch_wire_recv, one Envelope per message) over ZeroMQ
 * ipc:// and tcp://127.0.0.1, against memcpy of the same number of bytes.
 *
 * A DEALER (this thread) sends an UPDATE carrying SIZE payload bytes; a ROUTER
 * in a second thread receives it with ch_wire_recv (which decodes and checks
 * the Envelope, copying the payload out of the ZeroMQ frame) and sends the
 * payload back with ch_wire_send (which packs a fresh Envelope). One round
 * trip therefore moves 2 x SIZE bytes and is what a coordinator/worker
 * exchange of a SIZE-byte state costs. Prints medians of REPS round trips.
 *
 * usage: bench_wire [--size BYTES] [--reps N] [--json]
 */
#include "common/err.h"
#include "common/wire.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_EXPERIMENT "bench-wire"
#define S_WARMUP     3

typedef struct s_server {
    void *sock; /* ROUTER, bound by the main thread before the thread starts */
    int rc;     /* 0, or the first failure */
    ch_err err;
} s_server;

typedef struct s_result {
    double median_s; /* median round trip */
    double min_s;
    double max_s;
} s_result;

/* Monotonic seconds with nanosecond resolution (ch_now_ms is too coarse for
 * a memcpy). */
static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts t[0..n) and fills r with its median, min and max. n >= 1. */
static void s_summarise(double *t, size_t n, s_result *r)
{
    qsort(t, n, sizeof *t, s_cmp_double);
    r->median_s = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    r->min_s = t[0];
    r->max_s = t[n - 1];
}

/* The echo side: receives Envelopes on a ROUTER and sends each payload back
 * to its sender, until a BYE comes. Leaves the first failure in s->rc/err. */
static void *s_server_main(void *arg)
{
    s_server *s = arg;
    for (;;) {
        ch_wire_msg m;
        int rc = ch_wire_recv(s->sock, true, S_EXPERIMENT, 30000, &m, &s->err);
        if (rc) {
            s->rc = rc;
            ch_err_prefix(&s->err, "echo server");
            return NULL;
        }
        bool bye = m.env->kind == COHORT__KIND__BYE;
        if (!bye) {
            rc = ch_wire_send(s->sock, m.routing, m.routing_len, S_EXPERIMENT, m.env->round, -1,
                              COHORT__KIND__UPDATE, m.env->payload.data, m.env->payload.len,
                              &s->err);
        }
        ch_wire_msg_free(&m);
        if (rc) {
            s->rc = rc;
            ch_err_prefix(&s->err, "echo server");
            return NULL;
        }
        if (bye) {
            return NULL;
        }
    }
}

/* One round trip: sends payload, waits for the echo and checks its length
 * and (when check) every byte. Returns 0 or a CH_E* code with err set. */
static int s_round_trip(void *dealer, uint32_t round, const uint8_t *payload, size_t size,
                        bool check, ch_err *err)
{
    int rc = ch_wire_send(dealer, NULL, 0, S_EXPERIMENT, round, 0, COHORT__KIND__UPDATE, payload,
                          size, err);
    if (rc) {
        return ch_err_prefix(err, "client send");
    }
    ch_wire_msg m;
    rc = ch_wire_recv(dealer, false, S_EXPERIMENT, 30000, &m, err);
    if (rc) {
        return ch_err_prefix(err, "client receive");
    }
    if (m.env->payload.len != size || m.env->round != round ||
        (check && memcmp(m.env->payload.data, payload, size) != 0)) {
        rc =
            ch_err_set(err, CH_EPROTO, "echo of round %u came back different (%zu bytes, round %u)",
                       round, m.env->payload.len, m.env->round);
    }
    ch_wire_msg_free(&m);
    return rc;
}

/* Runs the echo benchmark on one transport. endpoint: where the ROUTER binds
 * ("tcp://127.0.0.1:*" picks a port). Fills r with round-trip statistics.
 * Returns 0 or a CH_E* code with err set. */
static int s_bench_transport(void *ctx, const char *endpoint, const uint8_t *payload, size_t size,
                             size_t reps, s_result *r, ch_err *err)
{
    int rc = 0;
    double *t = NULL;
    bool started = false;
    pthread_t th;
    s_server srv = {0};
    ch_err_clear(&srv.err);
    void *dealer = NULL;
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    if (!router) {
        return ch_err_set(err, CH_EIO, "cannot create a ROUTER socket: %s", zmq_strerror(errno));
    }
    srv.sock = router;
    if ((rc = ch_wire_setup(router, CH_DEFAULT_MAX_MESSAGE, err))) {
        goto out;
    }
    if (zmq_bind(router, endpoint) != 0) {
        rc = ch_err_set(err, CH_EIO, "cannot bind %s: %s", endpoint, zmq_strerror(errno));
        goto out;
    }
    char bound[256];
    size_t bound_len = sizeof bound;
    if (zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, bound, &bound_len) != 0) {
        rc = ch_err_set(err, CH_EIO, "cannot read the bound endpoint: %s", zmq_strerror(errno));
        goto out;
    }
    dealer = zmq_socket(ctx, ZMQ_DEALER);
    if (!dealer) {
        rc = ch_err_set(err, CH_EIO, "cannot create a DEALER socket: %s", zmq_strerror(errno));
        goto out;
    }
    if ((rc = ch_wire_setup(dealer, CH_DEFAULT_MAX_MESSAGE, err))) {
        goto out;
    }
    if (zmq_connect(dealer, bound) != 0) {
        rc = ch_err_set(err, CH_EIO, "cannot connect to %s: %s", bound, zmq_strerror(errno));
        goto out;
    }
    if (pthread_create(&th, NULL, s_server_main, &srv) != 0) {
        rc = ch_err_set(err, CH_EIO, "cannot start the echo thread");
        goto out;
    }
    started = true;
    t = ch_alloc_array(reps, sizeof *t);
    if (!t) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto out;
    }
    /* warm-up: connection set-up, first-touch of ZeroMQ's buffers; the first
     * echo is checked byte for byte */
    for (uint32_t i = 0; i < S_WARMUP; i++) {
        if ((rc = s_round_trip(dealer, i, payload, size, i == 0, err))) {
            goto out;
        }
    }
    for (size_t i = 0; i < reps; i++) {
        double t0 = s_now();
        if ((rc = s_round_trip(dealer, (uint32_t)(S_WARMUP + i), payload, size, false, err))) {
            goto out;
        }
        t[i] = s_now() - t0;
    }
    s_summarise(t, reps, r);
out:
    if (started) {
        ch_err lerr;
        ch_err_clear(&lerr);
        if (dealer &&
            ch_wire_send(dealer, NULL, 0, S_EXPERIMENT, 0, 0, COHORT__KIND__BYE, NULL, 0, &lerr) !=
                0 &&
            rc == 0) {
            rc = ch_err_set(err, lerr.code, "%s", lerr.msg);
        }
        pthread_join(th, NULL);
        if (rc == 0 && srv.rc != 0) {
            rc = ch_err_set(err, srv.rc, "%s", srv.err.msg);
        }
    }
    free(t);
    if (dealer) {
        zmq_close(dealer);
    }
    zmq_close(router);
    if (rc) {
        ch_err_prefix(err, "%s", endpoint);
    }
    return rc;
}

/* memcpy of size bytes between two pre-touched buffers, reps times. Fills r
 * with the time of one copy. Returns 0 or CH_ENOMEM with err set. */
static int s_bench_memcpy(size_t size, size_t reps, s_result *r, ch_err *err)
{
    uint8_t *a = malloc(size ? size : 1), *b = malloc(size ? size : 1);
    double *t = ch_alloc_array(reps, sizeof *t);
    if (!a || !b || !t) {
        free(a);
        free(b);
        free(t);
        return ch_err_set(err, CH_ENOMEM, "out of memory for two %zu-byte buffers", size);
    }
    memset(a, 1, size);
    memset(b, 2, size);
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < S_WARMUP + reps; i++) {
        a[i % size] = (uint8_t)i; /* a different source each time */
        double t0 = s_now();
        memcpy(b, a, size);
        double dt = s_now() - t0;
        sink ^= b[(i * 4099) % size];
        if (i >= S_WARMUP) {
            t[i - S_WARMUP] = dt;
        }
    }
    (void)sink;
    s_summarise(t, reps, r);
    free(a);
    free(b);
    free(t);
    return 0;
}

static int s_usage(const char *why)
{
    fprintf(stderr, "bench_wire: %s\nusage: bench_wire [--size BYTES] [--reps N] [--json]\n", why);
    return 2;
}

int main(int argc, char **argv)
{
    size_t size = (size_t)16 << 20;
    size_t reps = 21;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (!end || *end || v == 0 || v > (unsigned long long)(CH_DEFAULT_MAX_MESSAGE / 2)) {
                return s_usage("--size wants a byte count from 1 to 128 MiB");
            }
            size = (size_t)v;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (!end || *end || v == 0 || v > 100000) {
                return s_usage("--reps wants a count from 1 to 100000");
            }
            reps = (size_t)v;
        } else {
            return s_usage("unknown argument");
        }
    }

    ch_err err;
    ch_err_clear(&err);
    uint8_t *payload = malloc(size);
    if (!payload) {
        fprintf(stderr, "bench_wire: out of memory for a %zu-byte payload\n", size);
        return 1;
    }
    uint64_t x = 0x9e3779b97f4a7c15ULL; /* xorshift: bytes that do not compress */
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        payload[i] = (uint8_t)x;
    }

    char ipc[128];
    snprintf(ipc, sizeof ipc, "ipc:///tmp/cohort-bench-wire-%ld.ipc", (long)getpid());
    struct {
        const char *name;
        const char *endpoint;
        s_result r;
    } tr[] = {{.name = "ipc", .endpoint = ipc}, {.name = "tcp", .endpoint = "tcp://127.0.0.1:*"}};
    s_result mc = {.median_s = 0};
    int rc = 0;
    void *ctx = zmq_ctx_new();
    if (!ctx) {
        fprintf(stderr, "bench_wire: cannot create a ZeroMQ context: %s\n", zmq_strerror(errno));
        free(payload);
        return 1;
    }
    for (size_t k = 0; k < sizeof tr / sizeof tr[0] && rc == 0; k++) {
        rc = s_bench_transport(ctx, tr[k].endpoint, payload, size, reps, &tr[k].r, &err);
    }
    unlink(ipc + strlen("ipc://"));
    zmq_ctx_term(ctx);
    if (rc == 0) {
        rc = s_bench_memcpy(size, reps, &mc, &err);
    }
    free(payload);
    if (rc) {
        fprintf(stderr, "bench_wire: %s\n", err.msg);
        return 1;
    }

    /* throughput: bytes delivered per second; a round trip delivers 2 x size */
    double mc_gbs = (double)size / mc.median_s / 1e9;
    if (json) {
        printf("{\"size_bytes\": %zu, \"reps\": %zu, \"memcpy\": {\"median_ms\": %.4f, "
               "\"min_ms\": %.4f, \"max_ms\": %.4f, \"gb_per_s\": %.3f}",
               size, reps, mc.median_s * 1e3, mc.min_s * 1e3, mc.max_s * 1e3, mc_gbs);
        for (size_t k = 0; k < sizeof tr / sizeof tr[0]; k++) {
            double gbs = 2.0 * (double)size / tr[k].r.median_s / 1e9;
            printf(", \"%s\": {\"median_rtt_ms\": %.3f, \"min_rtt_ms\": %.3f, "
                   "\"max_rtt_ms\": %.3f, \"gb_per_s\": %.3f, \"ratio_to_memcpy\": %.4f}",
                   tr[k].name, tr[k].r.median_s * 1e3, tr[k].r.min_s * 1e3, tr[k].r.max_s * 1e3,
                   gbs, gbs / mc_gbs);
        }
        printf("}\n");
    } else {
        printf("%zu-byte message, median of %zu (min..max)\n", size, reps);
        printf("  memcpy        %8.3f ms  (%.3f..%.3f)  %7.2f GB/s\n", mc.median_s * 1e3,
               mc.min_s * 1e3, mc.max_s * 1e3, mc_gbs);
        for (size_t k = 0; k < sizeof tr / sizeof tr[0]; k++) {
            double gbs = 2.0 * (double)size / tr[k].r.median_s / 1e9;
            printf("  %s round trip %8.3f ms  (%.3f..%.3f)  %7.2f GB/s  %.3fx memcpy\n", tr[k].name,
                   tr[k].r.median_s * 1e3, tr[k].r.min_s * 1e3, tr[k].r.max_s * 1e3, gbs,
                   gbs / mc_gbs);
        }
    }
    return 0;
}
