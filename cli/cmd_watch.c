/* cmd_watch.c: `cohort watch ENDPOINT|RUN_DIR [--timeout SECONDS]`: a SUB
 * socket on a coordinator's event bus, shown as a live status (terminal) or
 * one line per event (pipe, log file).
 *
 * Given a RUN_DIR, the endpoint comes from endpoints.json and events.jsonl is
 * read too (at the start and then every second), so events published before
 * the subscription took effect (ZeroMQ's slow joiner) or a run that already
 * ended are not missed. An event that arrives both ways is shown once: the
 * two copies are matched by run, topic, body and time to the millisecond. */
#include "cli/cmd_watch.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/wire.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_MAX_RUNS    32
#define S_MAX_METRICS 16
#define S_SEEN        4096
#define S_POLL_MS     250
#define S_TAIL_MS     1000
#define S_HINT_MS     5000
#define S_MAX_MESSAGE (16 << 20) /* an event is small; refuse anything huge */

static const char *S_USAGE =
    "usage: cohort watch ENDPOINT|RUN_DIR [--timeout SECONDS]\n"
    "\n"
    "Follows a run's progress live from its coordinator's event bus: a bar per\n"
    "run (when the number of rounds is known), the latest metrics, workers joined\n"
    "and lost. On a terminal the status is redrawn in place; otherwise one line\n"
    "is printed per event. Exits when the run ends: 0 if it finished, 1 if it\n"
    "failed or was killed.\n"
    "\n"
    "  ENDPOINT           the coordinator's event endpoint (tcp://HOST:PORT, ipc://...)\n"
    "  RUN_DIR            a run directory: the endpoint is read from its\n"
    "                     endpoints.json (waited for if the run has not started)\n"
    "                     and its events.jsonl is read too, so nothing is missed\n"
    "  --timeout SECONDS  give up (exit 1) when no event arrives for SECONDS\n"
    "                     (default: wait as long as it takes)\n";

typedef struct s_run {
    char id[128];
    char name[128];
    char algo[64];
    double total; /* rounds, NaN when unknown */
    double rounds_done;
    double round_seconds;
    double running; /* round started and not ended, NaN when none */
    int workers, joined, lost;
    size_t nm;
    char mkey[S_MAX_METRICS][48];
    double mval[S_MAX_METRICS];
    char status[32];
    bool ended;
} s_run;

typedef struct s_seen {
    long long ms;
    uint64_t hash;
    int source; /* 0 live, 1 file; 0 hash = empty */
} s_seen;

typedef struct s_watch {
    bool tty;
    int width;
    s_run runs[S_MAX_RUNS];
    size_t nruns;
    s_seen seen[S_SEEN];
    size_t seen_next;
    int drawn; /* status lines on screen below the notes */
    size_t events;
    size_t rejected;
    const char *dir; /* RUN_DIR or NULL */
    long file_off;   /* bytes of events.jsonl consumed */
} s_watch;

/* --- endpoints ------------------------------------------------------------ */

static bool s_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* A coordinator bound to every interface is reached on this host: a
 * wildcard address cannot be connected to. */
static void s_rewrite_wildcard(char *ep, size_t size)
{
    static const char *const wild[] = {"tcp://0.0.0.0:", "tcp://*:"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(wild[i]);
        if (strncmp(ep, wild[i], n) == 0) {
            char port[64];
            snprintf(port, sizeof port, "%s", ep + n);
            snprintf(ep, size, "tcp://127.0.0.1:%s", port);
            return;
        }
    }
}

/* Reads the events endpoint from dir/endpoints.json into ep, waiting for the
 * file (the run may not have started) until deadline_ms (<0: forever).
 * Returns 0, CH_ETIMEOUT or an error, with the message printed. */
static int s_endpoint_from_dir(const char *dir, char *ep, size_t size, int64_t deadline_ms)
{
    char *path = ch_path_join(dir, "endpoints.json");
    if (!path) {
        fprintf(stderr, "cohort watch: out of memory\n");
        return CH_ENOMEM;
    }
    if (!s_file_exists(path)) {
        printf("waiting for %s (the run has not started yet) ...\n", path);
        fflush(stdout);
        while (!s_file_exists(path)) {
            if (deadline_ms >= 0 && ch_now_ms() >= deadline_ms) {
                fprintf(stderr, "cohort watch: %s did not appear within the timeout\n", path);
                free(path);
                return CH_ETIMEOUT;
            }
            usleep(100 * 1000);
        }
    }
    ch_err err;
    ch_err_clear(&err);
    size_t len;
    char *text = (char *)ch_read_file(path, 1 << 20, &len, &err);
    ch_json *j = text ? ch_json_parse(text, len, &err) : NULL;
    int rc = 0;
    const char *events = ch_json_str(ch_json_get(j, "events"));
    if (!text) {
        fprintf(stderr, "cohort watch: %s\n", err.msg);
        rc = CH_EIO;
    } else if (!j) {
        fprintf(stderr, "cohort watch: %s:%s\n", path, err.msg);
        rc = CH_EINVAL;
    } else if (!events || !events[0]) {
        fprintf(stderr, "cohort watch: %s names no \"events\" endpoint (the run publishes none)\n",
                path);
        rc = CH_EINVAL;
    } else {
        snprintf(ep, size, "%s", events);
        s_rewrite_wildcard(ep, size);
    }
    ch_json_destroy(&j);
    free(text);
    free(path);
    return rc;
}

/* --- state ------------------------------------------------------------------ */

static s_run *s_run_get(s_watch *w, const char *id)
{
    for (size_t i = 0; i < w->nruns; i++) {
        if (strcmp(w->runs[i].id, id) == 0) {
            return &w->runs[i];
        }
    }
    if (w->nruns == S_MAX_RUNS) {
        return NULL; /* more runs than we show: ignore the rest */
    }
    s_run *r = &w->runs[w->nruns++];
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->name, sizeof r->name, "%s", id);
    snprintf(r->status, sizeof r->status, "running");
    r->total = NAN;
    r->round_seconds = NAN;
    r->running = NAN;
    return r;
}

static uint64_t s_hash(const char *run, const char *topic, const char *body, size_t body_len)
{
    uint64_t h = 1469598103934665603ull;
    const char *parts[] = {run, topic};
    for (size_t p = 0; p < 2; p++) {
        for (const char *c = parts[p]; *c; c++) {
            h = (h ^ (unsigned char)*c) * 1099511628211ull;
        }
        h = (h ^ 0xff) * 1099511628211ull;
    }
    for (size_t i = 0; i < body_len; i++) {
        h = (h ^ (unsigned char)body[i]) * 1099511628211ull;
    }
    return h ? h : 1;
}

/* True when this event was already shown from the other source (the copy is
 * then forgotten); otherwise remembers it and returns false. */
static bool s_seen_before(s_watch *w, long long ms, uint64_t hash, int source)
{
    for (size_t i = 0; i < S_SEEN; i++) {
        s_seen *s = &w->seen[i];
        if (s->hash == hash && s->source != source && llabs(s->ms - ms) <= 1) {
            s->hash = 0;
            return true;
        }
    }
    s_seen *s = &w->seen[w->seen_next];
    w->seen_next = (w->seen_next + 1) % S_SEEN;
    s->ms = ms;
    s->hash = hash;
    s->source = source;
    return false;
}

static void s_metric(s_run *r, const char *key, double v)
{
    for (size_t i = 0; i < r->nm; i++) {
        if (strcmp(r->mkey[i], key) == 0) {
            r->mval[i] = v;
            return;
        }
    }
    if (r->nm < S_MAX_METRICS) {
        snprintf(r->mkey[r->nm], sizeof r->mkey[r->nm], "%s", key);
        r->mval[r->nm++] = v;
    }
}

/* --- output ----------------------------------------------------------------- */

static void s_clock(double t, char *buf, size_t size)
{
    time_t s = isfinite(t) ? (time_t)t : time(NULL);
    struct tm tm;
    localtime_r(&s, &tm);
    strftime(buf, size, "%H:%M:%S", &tm);
}

/* Appends data's members as key=value (numbers %.6g; objects flattened one
 * level, so round.end's metrics show as their own pairs). */
static void s_pairs(ch_buf *b, const ch_json *data, const char *skip)
{
    for (size_t i = 0; i < ch_json_len(data); i++) {
        const char *k = ch_json_key_at(data, i);
        const ch_json *v = ch_json_at(data, i);
        if (skip && strcmp(k, skip) == 0) {
            continue;
        }
        switch (ch_json_type_of(v)) {
        case CH_JSON_NUMBER:
            ch_buf_printf(b, " %s=%.6g", k, ch_json_num(v));
            break;
        case CH_JSON_STRING:
            ch_buf_printf(b, strpbrk(ch_json_str(v), " \t\n") ? " %s=\"%s\"" : " %s=%s", k,
                          ch_json_str(v));
            break;
        case CH_JSON_BOOL:
            ch_buf_printf(b, " %s=%s", k, ch_json_bool(v, false) ? "true" : "false");
            break;
        case CH_JSON_OBJECT:
            s_pairs(b, v, NULL);
            break;
        default:
            ch_buf_printf(b, " %s=%s", k, ch_json_is(v, CH_JSON_NULL) ? "null" : "[...]");
            break;
        }
    }
}

/* One line for an event: "12:00:01 round.end round=3 seconds=0.5 loss=0.1". */
static void s_event_line(const s_watch *w, ch_buf *b, const s_run *r, const char *topic, double t,
                         const ch_json *data)
{
    char clock[16];
    s_clock(t, clock, sizeof clock);
    ch_buf_printf(b, "%s", clock);
    if (w->nruns > 1 && r) {
        ch_buf_printf(b, " [%s]", r->name);
    }
    ch_buf_printf(b, " %s", topic);
    s_pairs(b, data, NULL);
}

static void s_clear_status(s_watch *w)
{
    if (w->tty && w->drawn > 0) {
        printf("\x1b[%dA\x1b[J", w->drawn);
        w->drawn = 0;
    }
}

static void s_line(s_watch *w, ch_buf *line, const char *text)
{
    ch_buf_puts(line, text);
    size_t max = w->width > 10 ? (size_t)w->width - 1 : 200;
    const char *s = ch_buf_str(line);
    printf("\x1b[2K%.*s\n", (int)(strlen(s) < max ? strlen(s) : max), s);
    w->drawn++;
    line->len = 0;
}

/* Redraws the status block: per run, a bar (or round count), workers, and
 * the latest metrics. Terminal only. */
static void s_draw(s_watch *w)
{
    if (!w->tty) {
        return;
    }
    s_clear_status(w);
    ch_buf b;
    ch_buf_init(&b);
    for (size_t i = 0; i < w->nruns; i++) {
        const s_run *r = &w->runs[i];
        ch_buf_printf(&b, "%s%s%s  ", r->name, r->algo[0] ? " " : "", r->algo);
        if (isfinite(r->total) && r->total > 0) {
            int width = 30;
            double f = r->rounds_done / r->total;
            int full = (int)(f * width + 0.5);
            full = full < 0 ? 0 : full > width ? width : full;
            ch_buf_puts(&b, "[");
            for (int k = 0; k < width; k++) {
                ch_buf_puts(&b, k < full ? "#" : ".");
            }
            ch_buf_printf(&b, "] %.0f/%.0f rounds", r->rounds_done, r->total);
        } else {
            ch_buf_printf(&b, "%.0f round%s done", r->rounds_done, r->rounds_done == 1 ? "" : "s");
        }
        ch_buf_printf(&b, "  workers: %d joined", r->joined);
        if (r->workers > 0) {
            ch_buf_printf(&b, " of %d", r->workers);
        }
        ch_buf_printf(&b, ", %d lost  %s", r->lost, r->status);
        s_line(w, &b, "");
        ch_buf_puts(&b, "  ");
        if (isfinite(r->running) && !r->ended) {
            ch_buf_printf(&b, "round %.0f running  ", r->running);
        }
        if (isfinite(r->round_seconds)) {
            ch_buf_printf(&b, "last round %.3f s", r->round_seconds);
        }
        for (size_t m = 0; m < r->nm; m++) {
            ch_buf_printf(&b, "  %s %.6g", r->mkey[m], r->mval[m]);
        }
        s_line(w, &b, "");
    }
    ch_buf_free(&b);
    fflush(stdout);
}

/* A line that stays (run started, worker lost, run ended): printed above the
 * status block on a terminal, as is otherwise. */
static void s_note(s_watch *w, const char *text)
{
    s_clear_status(w);
    printf("%s\n", text);
    fflush(stdout);
}

/* Applies one event to the state and shows it. */
static void s_handle(s_watch *w, const char *run, const char *topic, double t, const ch_json *data)
{
    w->events++;
    s_run *r = s_run_get(w, run && run[0] ? run : "(run)");
    if (r) {
        if (strcmp(topic, "run.start") == 0) {
            const char *name = ch_json_str(ch_json_get(data, "name"));
            const char *algo = ch_json_str(ch_json_get(data, "algorithm"));
            if (name && name[0]) {
                snprintf(r->name, sizeof r->name, "%s", name);
            }
            if (algo) {
                snprintf(r->algo, sizeof r->algo, "%s", algo);
            }
            double nw = ch_json_num(ch_json_get(data, "workers"));
            r->workers = isfinite(nw) && nw > 0 && nw < 1e6 ? (int)nw : 0;
            static const char *const total_keys[] = {"rounds", "max_rounds", "total_rounds"};
            for (size_t k = 0; k < 3 && !isfinite(r->total); k++) {
                double v = ch_json_num(ch_json_get(data, total_keys[k]));
                if (isfinite(v) && v > 0) {
                    r->total = v;
                }
            }
        } else if (strcmp(topic, "worker.joined") == 0) {
            r->joined++;
        } else if (strcmp(topic, "worker.lost") == 0) {
            r->lost++;
        } else if (strcmp(topic, "round.start") == 0) {
            r->running = ch_json_num(ch_json_get(data, "round"));
        } else if (strcmp(topic, "round.end") == 0) {
            r->running = NAN;
            double round = ch_json_num(ch_json_get(data, "round"));
            if (isfinite(round) && round + 1 > r->rounds_done) {
                r->rounds_done = round + 1;
            }
            r->round_seconds = ch_json_num(ch_json_get(data, "seconds"));
            const ch_json *m = ch_json_get(data, "metrics");
            for (size_t i = 0; i < ch_json_len(m); i++) {
                s_metric(r, ch_json_key_at(m, i), ch_json_num(ch_json_at(m, i)));
            }
        } else if (strcmp(topic, "run.end") == 0) {
            const char *st = ch_json_str(ch_json_get(data, "status"));
            snprintf(r->status, sizeof r->status, "%s", st && st[0] ? st : "ended");
            double rd = ch_json_num(ch_json_get(data, "rounds"));
            if (isfinite(rd)) {
                r->rounds_done = rd;
            }
            r->ended = true;
        }
    }
    ch_buf line;
    ch_buf_init(&line);
    s_event_line(w, &line, r, topic, t, data);
    bool lasting = strncmp(topic, "run.", 4) == 0 || strcmp(topic, "worker.lost") == 0 ||
                   strcmp(topic, "worker.reassigned") == 0;
    if (!w->tty) {
        printf("%s\n", ch_buf_str(&line));
        fflush(stdout);
    } else {
        if (lasting) {
            s_note(w, ch_buf_str(&line));
        }
        s_draw(w);
    }
    ch_buf_free(&line);
}

static bool s_all_ended(const s_watch *w)
{
    if (w->nruns == 0) {
        return false;
    }
    for (size_t i = 0; i < w->nruns; i++) {
        if (!w->runs[i].ended) {
            return false;
        }
    }
    return true;
}

/* --- sources ---------------------------------------------------------------- */

/* Reads the complete lines of DIR/events.jsonl past w->file_off. The line
 * format is events.c's: {"time": T, "topic": ..., "run": ..., "data": BODY}. */
static void s_tail(s_watch *w)
{
    if (!w->dir) {
        return;
    }
    char *path = ch_path_join(w->dir, "events.jsonl");
    FILE *f = path ? fopen(path, "rb") : NULL;
    free(path);
    if (!f) {
        return;
    }
    if (fseek(f, w->file_off, SEEK_SET) != 0) {
        fclose(f);
        return;
    }
    ch_buf b;
    ch_buf_init(&b);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < ((size_t)64 << 20)) {
        ch_buf_append(&b, chunk, n);
    }
    fclose(f);
    char *text = (char *)b.data;
    size_t pos = 0;
    while (text && pos < b.len) {
        char *nl = memchr(text + pos, '\n', b.len - pos);
        if (!nl) {
            break; /* a line being written: next time */
        }
        size_t len = (size_t)(nl - (text + pos));
        const char *line = text + pos;
        pos += len + 1;
        ch_json *j = ch_json_parse(line, len, NULL);
        const char *topic = ch_json_str(ch_json_get(j, "topic"));
        const char *run = ch_json_str(ch_json_get(j, "run"));
        double t = ch_json_num(ch_json_get(j, "time"));
        const char *mark = strstr(line, ", \"data\": ");
        const char *end = line + len;
        while (end > line && (end[-1] == '\r' || end[-1] == ' ')) {
            end--;
        }
        if (topic && run && mark && mark < end) {
            const char *body = mark + strlen(", \"data\": ");
            size_t blen = (size_t)(end - 1 - body); /* drop the closing '}' */
            long long ms = llround(t * 1000.0);
            if (!s_seen_before(w, ms, s_hash(run, topic, body, blen), 1)) {
                s_handle(w, run, topic, t, ch_json_get(j, "data"));
            }
        }
        ch_json_destroy(&j);
        if (s_all_ended(w)) {
            break;
        }
    }
    w->file_off += (long)pos;
    ch_buf_free(&b);
}

/* Receives one event message (topic frame, Envelope frame) already known to
 * be waiting. A malformed one is counted and reported once. */
static void s_recv(s_watch *w, void *sub)
{
    zmq_msg_t part;
    int more = 0, nparts = 0;
    Cohort__Event *ev = NULL;
    char why[CH_ERR_MSG_MAX] = "";
    do {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return;
        }
        more = zmq_msg_more(&part);
        if (nparts == 1) {
            ch_err err;
            ch_err_clear(&err);
            Cohort__Envelope *env =
                ch_wire_decode(zmq_msg_data(&part), zmq_msg_size(&part), NULL, &err);
            if (!env) {
                snprintf(why, sizeof why, "%s", err.msg);
            } else if (env->kind != COHORT__KIND__EVENT) {
                snprintf(why, sizeof why, "a %s message, not an EVENT",
                         ch_wire_kind_name(env->kind));
            } else {
                ev = cohort__event__unpack(NULL, env->payload.len, env->payload.data);
                if (!ev) {
                    snprintf(why, sizeof why, "an EVENT whose payload does not decode");
                }
            }
            if (env) {
                cohort__envelope__free_unpacked(env, NULL);
            }
        }
        zmq_msg_close(&part);
        nparts++;
    } while (more);
    ch_json *data = NULL;
    ch_err jerr;
    ch_err_clear(&jerr);
    if (ev) {
        data = ch_json_parse(ev->json, strlen(ev->json), &jerr);
        if (!data) {
            snprintf(why, sizeof why, "event %.64s has a body that is not JSON: %.800s", ev->topic,
                     jerr.msg);
        }
    } else if (!why[0]) {
        snprintf(why, sizeof why, "%d frame(s), expected a topic and an Envelope", nparts);
    }
    if (data) {
        long long ms = llround(ev->time * 1000.0);
        if (!s_seen_before(w, ms, s_hash(ev->run, ev->topic, ev->json, strlen(ev->json)), 0)) {
            s_handle(w, ev->run, ev->topic, ev->time, data);
        }
    } else if (w->rejected++ == 0) {
        s_clear_status(w);
        fprintf(stderr, "cohort watch: ignored a message that is not a cohort event: %s\n", why);
    }
    ch_json_destroy(&data);
    if (ev) {
        cohort__event__free_unpacked(ev, NULL);
    }
}

/* --- command ---------------------------------------------------------------- */

int ch_cmd_watch(int argc, char **argv)
{
    const char *target = NULL;
    double timeout = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(S_USAGE, stdout);
            return 0;
        }
        if (!strcmp(a, "--timeout")) {
            char *end = NULL;
            if (i + 1 >= argc) {
                fprintf(stderr, "cohort watch: --timeout needs a number of seconds\n");
                return 2;
            }
            timeout = strtod(argv[++i], &end);
            if (!end || *end || end == argv[i] || !isfinite(timeout) || timeout <= 0 ||
                timeout > 1e9) {
                fprintf(stderr,
                        "cohort watch: --timeout '%s' is not a positive number of seconds\n",
                        argv[i]);
                return 2;
            }
            continue;
        }
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "cohort watch: unknown option '%s'\n%s", a, S_USAGE);
            return 2;
        }
        if (target) {
            fprintf(stderr, "cohort watch: one endpoint or run directory at a time\n");
            return 2;
        }
        target = a;
    }
    if (!target) {
        fputs(S_USAGE, stderr);
        return 2;
    }
    s_watch *w = calloc(1, sizeof *w);
    if (!w) {
        fprintf(stderr, "cohort watch: out of memory\n");
        return 1;
    }
    w->tty = isatty(STDOUT_FILENO);
    struct winsize ws;
    w->width = w->tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
    int64_t t_start = ch_now_ms();
    int64_t limit_ms = timeout > 0 ? (int64_t)(timeout * 1000.0) : -1;
    char ep[512];
    if (strstr(target, "://")) {
        snprintf(ep, sizeof ep, "%s", target);
        s_rewrite_wildcard(ep, sizeof ep);
    } else {
        w->dir = target;
        if (s_endpoint_from_dir(target, ep, sizeof ep, limit_ms < 0 ? -1 : t_start + limit_ms)) {
            free(w);
            return 1;
        }
    }

    int status = 1;
    void *ctx = zmq_ctx_new();
    void *sub = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
    int linger = 0;
    int64_t maxmsg = S_MAX_MESSAGE;
    if (!sub || zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(sub, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0) != 0 || zmq_connect(sub, ep) != 0) {
        fprintf(stderr, "cohort watch: cannot subscribe to %s: %s\n", ep, zmq_strerror(errno));
        goto done;
    }
    printf("waiting for events from %s ...\n", ep);
    fflush(stdout);

    int64_t last_event = ch_now_ms(), last_tail = 0;
    bool hinted = false;
    for (;;) {
        size_t before = w->events;
        int64_t now = ch_now_ms();
        if (w->dir && now - last_tail >= S_TAIL_MS) {
            s_tail(w);
            last_tail = now;
        }
        if (w->events == before) {
            zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
            int n = zmq_poll(&item, 1, S_POLL_MS);
            if (n < 0 && errno != EINTR) {
                fprintf(stderr, "cohort watch: waiting on %s failed: %s\n", ep,
                        zmq_strerror(errno));
                goto done;
            }
            if (n > 0) {
                s_recv(w, sub);
            }
        }
        now = ch_now_ms();
        if (w->events != before) {
            last_event = now;
        }
        if (s_all_ended(w)) {
            break;
        }
        if (limit_ms >= 0 && now - last_event >= limit_ms) {
            s_clear_status(w);
            if (w->events == 0) {
                fprintf(stderr,
                        "cohort watch: no event from %s within %g s: nothing is publishing there "
                        "(is the run started, and is this its events endpoint?)\n",
                        ep, timeout);
            } else {
                fprintf(stderr, "cohort watch: no event from %s for %g s; giving up\n", ep,
                        timeout);
            }
            goto done;
        }
        if (!hinted && w->events == 0 && now - last_event >= S_HINT_MS) {
            fprintf(stderr,
                    "cohort watch: still waiting: nothing has published on %s yet (--timeout "
                    "SECONDS gives up)\n",
                    ep);
            hinted = true;
        }
    }
    status = 0;
    for (size_t i = 0; i < w->nruns; i++) {
        if (strcmp(w->runs[i].status, "finished") != 0) {
            status = 1;
        }
    }
    if (w->tty) {
        s_draw(w);
        w->drawn = 0;
    }
done:
    if (sub) {
        zmq_close(sub);
    }
    if (ctx) {
        zmq_ctx_term(ctx);
    }
    free(w);
    return status;
}
