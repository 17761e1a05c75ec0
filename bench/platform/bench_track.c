/* bench_track.c: how fast metric points go into the tracking store
 * (common/tracking.h), and what the store costs one real run.
 *
 *   bench_track rate --db PATH [--writers W] [--points N] [--batch B]
 *       W processes (fork; W = 1 is the parent's one child) each open their
 *       own handle on the same fresh file, begin their own run and log N
 *       points: one ch_track_metric call per point when B = 1, else
 *       ch_track_metrics with B points per call (one transaction). The
 *       writers start together (a pipe barrier) after open and run_begin, so
 *       only the logging is timed. Afterwards the parent counts the rows of
 *       every run (ch_track_metric_count) and reports any point lost.
 *       Prints one JSON object: points/s over all writers and the check.
 *
 *   bench_track replay --db PATH --run ID [--reps R]
 *       Reads everything run ID left in the store at PATH (its params,
 *       metric points, events, artifacts, config) and writes it again R
 *       times as new runs into the same store with the calls the coordinator
 *       makes (coordinator/engine.c: open, run_begin, one ch_track_param per
 *       param, one ch_track_event per event, one ch_track_metric per point,
 *       one ch_track_artifact per artifact, run_end, close), timing each
 *       group; then emits the run's events R times through ch_events (PUB on
 *       ipc:// with nobody subscribed, plus an events.jsonl) to time the bus.
 *       Prints one JSON object with the medians. This is the direct
 *       measurement of what tracking and events cost one `cohort run`.
 *
 * Exit status 0 when every point is accounted for, 1 when one is lost or a
 * call fails (the message says which), 2 on bad usage. */
#include "common/err.h"
#include "common/events.h"
#include "common/tracking.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_MAX_WRITERS 64

static const char *const S_KEYS[] = {"loss", "accuracy", "lr", "grad_norm"};
#define S_NKEYS 4

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

/* Median of t[0..n), sorting t. n >= 1. */
static double s_median(double *t, size_t n)
{
    qsort(t, n, sizeof *t, s_cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static void s_unlink_db(const char *db)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s%s", db, suffix[i]);
        unlink(p);
    }
}

static int s_read_full(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int s_write_full(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* What one writer reports to the parent through the result pipe. */
typedef struct s_wres {
    int ok;
    double t0, t1; /* CLOCK_MONOTONIC, comparable across processes */
    char run_id[128];
    char msg[CH_ERR_MSG_MAX];
} s_wres;

/* One writer process: open, begin, wait at the barrier, log, report. */
static void s_writer(const char *db, int w, long points, long batch, int ready_fd, int go_fd,
                     int res_fd)
{
    s_wres r;
    memset(&r, 0, sizeof r);
    ch_err err;
    ch_err_clear(&err);
    char name[32];
    snprintf(name, sizeof name, "bench-w%d", w);
    ch_track_new_run_id(name, r.run_id, sizeof r.run_id);
    ch_track *t = ch_track_open(db, &err);
    if (!t || ch_track_run_begin(t, "bench-track", r.run_id, "bench", NULL, NULL, &err) != 0) {
        snprintf(r.msg, sizeof r.msg, "writer %d: %.900s", w, err.msg);
        char c = 0;
        s_write_full(ready_fd, &c, 1);
        s_write_full(res_fd, &r, sizeof r);
        ch_track_close(&t);
        _exit(1);
    }
    const char *keys[4096];
    int64_t steps[4096];
    double values[4096];
    char c = 1;
    s_write_full(ready_fd, &c, 1);
    s_read_full(go_fd, &c, 1);
    r.t0 = s_now();
    int rc = 0;
    for (long i = 0; i < points && rc == 0;) {
        long n = points - i < batch ? points - i : batch;
        if (batch == 1) {
            rc = ch_track_metric(t, r.run_id, S_KEYS[i % S_NKEYS], i / S_NKEYS,
                                 1.0 / (double)(i + 1), &err);
        } else {
            for (long k = 0; k < n; k++) {
                keys[k] = S_KEYS[(i + k) % S_NKEYS];
                steps[k] = (i + k) / S_NKEYS;
                values[k] = 1.0 / (double)(i + k + 1);
            }
            rc = ch_track_metrics(t, r.run_id, (size_t)n, keys, steps, values, &err);
        }
        i += n;
    }
    r.t1 = s_now();
    r.ok = rc == 0;
    if (rc) {
        snprintf(r.msg, sizeof r.msg, "writer %d: %.900s", w, err.msg);
    }
    ch_track_run_end(t, r.run_id, rc ? "failed" : "finished", NULL);
    ch_track_close(&t);
    s_write_full(res_fd, &r, sizeof r);
    _exit(rc ? 1 : 0);
}

static int s_rate(const char *db, int writers, long points, long batch)
{
    if (writers < 1 || writers > S_MAX_WRITERS || points < 1 || batch < 1 || batch > 4096) {
        fprintf(stderr, "bench_track rate: need 1 <= writers <= %d, points >= 1, "
                        "1 <= batch <= 4096\n",
                S_MAX_WRITERS);
        return 2;
    }
    s_unlink_db(db);
    ch_err err;
    ch_err_clear(&err);
    ch_track *t = ch_track_open(db, &err); /* schema first, outside the timing */
    if (!t) {
        fprintf(stderr, "bench_track: %s\n", err.msg);
        return 1;
    }
    ch_track_close(&t);
    int ready[2], go[2], res[2];
    if (pipe(ready) || pipe(go) || pipe(res)) {
        perror("bench_track: pipe");
        return 1;
    }
    pid_t pids[S_MAX_WRITERS];
    for (int w = 0; w < writers; w++) {
        pids[w] = fork();
        if (pids[w] < 0) {
            perror("bench_track: fork");
            return 1;
        }
        if (pids[w] == 0) {
            close(ready[0]);
            close(go[1]);
            close(res[0]);
            s_writer(db, w, points, batch, ready[1], go[0], res[1]);
        }
    }
    close(ready[1]);
    close(go[0]);
    close(res[1]);
    for (int w = 0; w < writers; w++) {
        char c;
        s_read_full(ready[0], &c, 1);
    }
    char gos[S_MAX_WRITERS];
    memset(gos, 1, sizeof gos);
    s_write_full(go[1], gos, (size_t)writers);
    s_wres r[S_MAX_WRITERS];
    int failed = 0;
    for (int w = 0; w < writers; w++) {
        if (s_read_full(res[0], &r[w], sizeof r[w]) != 0) {
            fprintf(stderr, "bench_track: a writer died without reporting\n");
            memset(&r[w], 0, sizeof r[w]);
            failed = 1;
        } else if (!r[w].ok) {
            fprintf(stderr, "bench_track: %s\n", r[w].msg);
            failed = 1;
        }
    }
    for (int w = 0; w < writers; w++) {
        int st;
        waitpid(pids[w], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            failed = 1;
        }
    }
    double t0 = INFINITY, t1 = -INFINITY, slowest = 0;
    for (int w = 0; w < writers; w++) {
        t0 = fmin(t0, r[w].t0);
        t1 = fmax(t1, r[w].t1);
        slowest = fmax(slowest, r[w].t1 - r[w].t0);
    }
    /* count what arrived */
    t = ch_track_open(db, &err);
    if (!t) {
        fprintf(stderr, "bench_track: reopening for the count: %s\n", err.msg);
        return 1;
    }
    int64_t total = ch_track_metric_count(t, NULL, &err);
    int64_t lost = 0;
    for (int w = 0; w < writers; w++) {
        int64_t n = r[w].run_id[0] ? ch_track_metric_count(t, r[w].run_id, &err) : 0;
        if (n != points) {
            fprintf(stderr, "bench_track: run %s has %lld of %ld points\n", r[w].run_id,
                    (long long)n, points);
            lost += points - (n > 0 ? n : 0);
        }
    }
    ch_track_close(&t);
    double wall = t1 - t0;
    long expected = (long)writers * points;
    printf("{\"mode\": \"%s\", \"writers\": %d, \"points_per_writer\": %ld, \"batch\": %ld, "
           "\"seconds\": %.6f, \"slowest_writer_s\": %.6f, \"points_per_s\": %.1f, "
           "\"expected\": %ld, \"counted\": %lld, \"lost\": %lld}\n",
           batch == 1 ? "single" : "batched", writers, points, batch, wall, slowest,
           (double)expected / wall, expected, (long long)total, (long long)lost);
    return failed || lost != 0 || total != expected ? 1 : 0;
}

/* --- replay: one real run's store traffic ----------------------------------- */

typedef struct s_row {
    char *a, *b, *c; /* text columns (meaning depends on the table) */
    int64_t i;
    double d;
    bool d_null;
} s_row;

typedef struct s_rows {
    s_row *r;
    size_t n, cap;
} s_rows;

static char *s_col_text(sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    return s ? strdup((const char *)s) : NULL;
}

/* Runs sql (one ?1 = run id) and keeps columns: text a, b, c as given by
 * ncol_text (0..3) then, if want_num, column ncol_text as int64 i / double d. */
static int s_query(sqlite3 *db, const char *sql, const char *run, int ncol_text, int num_col,
                   s_rows *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_track: %s: %s\n", sql, sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, run, -1, SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 16;
            out->r = realloc(out->r, out->cap * sizeof *out->r);
            if (!out->r) {
                abort();
            }
        }
        s_row *r = &out->r[out->n++];
        memset(r, 0, sizeof *r);
        char **dst[3] = {&r->a, &r->b, &r->c};
        for (int k = 0; k < ncol_text; k++) {
            *dst[k] = s_col_text(st, k);
        }
        if (num_col >= 0) {
            r->i = sqlite3_column_int64(st, num_col);
            r->d_null = sqlite3_column_type(st, num_col + 1) == SQLITE_NULL;
            r->d = sqlite3_column_double(st, num_col + 1);
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void s_rows_free(s_rows *rows)
{
    for (size_t i = 0; i < rows->n; i++) {
        free(rows->r[i].a);
        free(rows->r[i].b);
        free(rows->r[i].c);
    }
    free(rows->r);
    memset(rows, 0, sizeof *rows);
}

enum { S_OPEN, S_BEGIN, S_PARAMS, S_EVENTS, S_METRICS, S_ARTIFACTS, S_END, S_TOTAL, S_BUS, S_N };
static const char *const S_GROUP[S_N] = {"open",      "run_begin", "params",
                                         "events",    "metrics",   "artifacts",
                                         "end_close", "store_total", "bus_total"};

static int s_replay(const char *dbpath, const char *run, int reps)
{
    if (reps < 1 || reps > 1000) {
        fprintf(stderr, "bench_track replay: --reps between 1 and 1000\n");
        return 2;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_track: cannot open %s: %s\n", dbpath, sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    s_rows meta = {0}, params = {0}, metrics = {0}, events = {0}, arts = {0};
    /* step/value and time/topic pairs: number column then the double */
    int rc = s_query(db,
                     "SELECT e.name, r.algorithm, r.config_yaml FROM runs r JOIN experiments e "
                     "ON e.id = r.experiment_id WHERE r.id = ?1",
                     run, 3, -1, &meta);
    rc = rc ? rc : s_query(db, "SELECT key, value FROM params WHERE run_id = ?1", run, 2, -1,
                           &params);
    rc = rc ? rc : s_query(db, "SELECT key, step, value FROM metrics WHERE run_id = ?1 "
                               "ORDER BY rowid", run, 1, 1, &metrics);
    rc = rc ? rc : s_query(db, "SELECT topic, json, 0, time FROM events WHERE run_id = ?1 "
                               "ORDER BY rowid", run, 2, 2, &events);
    rc = rc ? rc : s_query(db, "SELECT name, path FROM artifacts WHERE run_id = ?1", run, 2, -1,
                           &arts);
    sqlite3_close(db);
    if (rc || meta.n != 1) {
        fprintf(stderr, "bench_track: run %s not found in %s\n", run, dbpath);
        return 1;
    }
    const char *exp = meta.r[0].a, *algo = meta.r[0].b, *yaml = meta.r[0].c;
    double *g[S_N];
    for (int k = 0; k < S_N; k++) {
        g[k] = calloc((size_t)reps, sizeof(double));
    }
    ch_err err;
    ch_err_clear(&err);
    int fail = 0;
    for (int rep = 0; rep < reps && !fail; rep++) {
        char id[128];
        ch_track_new_run_id("bench-replay", id, sizeof id);
        double t[S_END + 2];
        t[0] = s_now();
        ch_track *tr = ch_track_open(dbpath, &err);
        t[1] = s_now();
        fail |= !tr || ch_track_run_begin(tr, exp, id, algo, "bench/out", yaml, &err) != 0;
        t[2] = s_now();
        for (size_t i = 0; i < params.n && !fail; i++) {
            fail |= ch_track_param(tr, id, params.r[i].a, params.r[i].b ? params.r[i].b : "",
                                   &err) != 0;
        }
        t[3] = s_now();
        for (size_t i = 0; i < events.n && !fail; i++) {
            fail |= ch_track_event(tr, id, 1e9 + (double)i, events.r[i].a,
                                   events.r[i].b ? events.r[i].b : "{}", &err) != 0;
        }
        t[4] = s_now();
        for (size_t i = 0; i < metrics.n && !fail; i++) {
            fail |= ch_track_metric(tr, id, metrics.r[i].a, metrics.r[i].i,
                                    metrics.r[i].d_null ? NAN : metrics.r[i].d, &err) != 0;
        }
        t[5] = s_now();
        for (size_t i = 0; i < arts.n && !fail; i++) {
            fail |= ch_track_artifact(tr, id, arts.r[i].a, arts.r[i].b ? arts.r[i].b : "",
                                      &err) != 0;
        }
        t[6] = s_now();
        fail |= tr && ch_track_run_end(tr, id, "finished", &err) != 0;
        ch_track_close(&tr);
        t[7] = s_now();
        for (int k = 0; k <= S_END; k++) {
            g[k][rep] = t[k + 1] - t[k];
        }
        g[S_TOTAL][rep] = t[7] - t[0];
    }
    if (fail) {
        fprintf(stderr, "bench_track replay: %s\n", err.msg);
        return 1;
    }
    /* the bus: the same events through ch_events (PUB + events.jsonl) */
    void *ctx = zmq_ctx_new();
    for (int rep = 0; rep < reps && ctx; rep++) {
        char ep[128], jsonl[128];
        snprintf(ep, sizeof ep, "ipc:///tmp/bench-track-%ld.ipc", (long)getpid());
        snprintf(jsonl, sizeof jsonl, "/tmp/bench-track-%ld.jsonl", (long)getpid());
        double t0 = s_now();
        ch_events *ev = ch_events_new(ctx, ep, jsonl, "bench-replay", "bench", &err);
        if (!ev) {
            fprintf(stderr, "bench_track replay: %s\n", err.msg);
            return 1;
        }
        for (size_t i = 0; i < events.n; i++) {
            ch_events_emit(ev, events.r[i].a, events.r[i].b ? events.r[i].b : "{}");
        }
        ch_events_destroy(&ev);
        g[S_BUS][rep] = s_now() - t0;
        unlink(jsonl);
    }
    zmq_ctx_term(ctx);
    printf("{\"run\": \"%s\", \"reps\": %d, \"params\": %zu, \"events\": %zu, \"metrics\": %zu, "
           "\"artifacts\": %zu",
           run, reps, params.n, events.n, metrics.n, arts.n);
    for (int k = 0; k < S_N; k++) {
        double lo = g[k][0], hi = g[k][0];
        for (int i = 0; i < reps; i++) {
            lo = fmin(lo, g[k][i]);
            hi = fmax(hi, g[k][i]);
        }
        printf(", \"%s_ms\": %.3f, \"%s_ms_max\": %.3f", S_GROUP[k], 1e3 * s_median(g[k], (size_t)reps),
               S_GROUP[k], 1e3 * hi);
        (void)lo;
        free(g[k]);
    }
    printf("}\n");
    s_rows_free(&meta);
    s_rows_free(&params);
    s_rows_free(&metrics);
    s_rows_free(&events);
    s_rows_free(&arts);
    return 0;
}

static void s_usage(FILE *f)
{
    fprintf(f, "usage: bench_track rate --db PATH [--writers W] [--points N] [--batch B]\n"
               "       bench_track replay --db PATH --run ID [--reps R]\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        s_usage(stderr);
        return 2;
    }
    const char *mode = argv[1], *db = NULL, *run = NULL;
    long writers = 1, points = 20000, batch = 1, reps = 20;
    /* options come in pairs: --name value */
    for (int i = 2; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            s_usage(stderr);
            return 2;
        }
        if (!strcmp(a, "--db")) {
            db = v;
        } else if (!strcmp(a, "--run")) {
            run = v;
        } else if (!strcmp(a, "--writers")) {
            writers = strtol(v, NULL, 10);
        } else if (!strcmp(a, "--points")) {
            points = strtol(v, NULL, 10);
        } else if (!strcmp(a, "--batch")) {
            batch = strtol(v, NULL, 10);
        } else if (!strcmp(a, "--reps")) {
            reps = strtol(v, NULL, 10);
        } else {
            s_usage(stderr);
            return 2;
        }
    }
    if (!db) {
        s_usage(stderr);
        return 2;
    }
    if (!strcmp(mode, "rate")) {
        return s_rate(db, (int)writers, points, batch);
    }
    if (!strcmp(mode, "replay") && run) {
        return s_replay(db, run, (int)reps);
    }
    s_usage(stderr);
    return 2;
}
