/* run_report.c: report.html of a run and index.html of a group of runs, from
 * the run directories' files only (see run_report.h). */
#include "coordinator/run_report.h"
#include "algorithms/algo.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/model_file.h"
#include "common/report.h"
#include "common/svg.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAX_SUMMARY ((size_t)16 << 20)
#define S_MAX_EVENTS  ((size_t)512 << 20)
#define S_MAX_CONFIG  ((size_t)4 << 20)
#define S_MAX_SCHEMA  500 /* feature rows shown in the data table */

/* --- reading the run directory ---------------------------------------------- */

static bool s_exists(const char *dir, const char *name)
{
    char *path = ch_path_join(dir, name);
    struct stat st;
    bool ok = path && stat(path, &st) == 0;
    free(path);
    return ok;
}

/* Reads dir/name into *out (NUL-terminated, malloc'd). CH_ENOTFOUND without
 * a message when the file does not exist. */
static int s_read(const char *dir, const char *name, size_t max, char **out, size_t *len,
                  ch_err *err)
{
    *out = NULL;
    *len = 0;
    char *path = ch_path_join(dir, name);
    if (!path) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        free(path);
        return CH_ENOTFOUND;
    }
    *out = (char *)ch_read_file(path, max, len, err);
    free(path);
    return *out ? 0 : (err ? err->code : CH_EIO);
}

/* Parses dir/summary.json into *out (NULL when the file does not exist). */
static int s_summary(const char *dir, ch_json **out, ch_err *err)
{
    *out = NULL;
    char *text;
    size_t len;
    int rc = s_read(dir, "summary.json", S_MAX_SUMMARY, &text, &len, err);
    if (rc == CH_ENOTFOUND) {
        return 0;
    }
    if (rc) {
        return rc;
    }
    ch_err jerr;
    ch_err_clear(&jerr);
    *out = ch_json_parse(text, len, &jerr);
    free(text);
    if (!*out) {
        return ch_err_set(err, jerr.code, "%s/summary.json:%s", dir, jerr.msg);
    }
    if (!ch_json_is(*out, CH_JSON_OBJECT)) {
        ch_json_destroy(out);
        return ch_err_set(err, CH_EINVAL, "%s/summary.json: not a JSON object", dir);
    }
    return 0;
}

/* "%.6g", "n/a" for NaN or a missing number. */
static const char *s_num(double v, char *buf, size_t size)
{
    if (!isfinite(v)) {
        snprintf(buf, size, "n/a");
    } else {
        snprintf(buf, size, "%.6g", v);
    }
    return buf;
}

/* A JSON value as table text: numbers with %.6g, strings as they are. */
static const char *s_value_text(const ch_json *v, char *buf, size_t size)
{
    switch (ch_json_type_of(v)) {
    case CH_JSON_NUMBER:
        return s_num(ch_json_num(v), buf, size);
    case CH_JSON_STRING:
        return ch_json_str(v);
    case CH_JSON_BOOL:
        return ch_json_bool(v, false) ? "true" : "false";
    default:
        return v ? "n/a" : NULL;
    }
}

static const char *s_str_or(const ch_json *v, const char *dflt)
{
    const char *s = ch_json_str(v);
    return s && s[0] ? s : dflt;
}

/* --- metric series from round.end events ------------------------------------ */

typedef struct s_series {
    char *key;
    double *x, *y;
    size_t n, cap;
} s_series;

typedef struct s_curves {
    s_series *v;
    size_t n, cap;
} s_curves;

static void s_curves_free(s_curves *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].key);
        free(c->v[i].x);
        free(c->v[i].y);
    }
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* Adds point (x, y) to series `key`. A round seen again (a resumed run)
 * replaces the earlier value; points stay sorted by round. */
static int s_curves_add(s_curves *c, const char *key, double x, double y)
{
    s_series *s = NULL;
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->v[i].key, key) == 0) {
            s = &c->v[i];
            break;
        }
    }
    if (!s) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 8;
            s_series *v = realloc(c->v, cap * sizeof *v);
            if (!v) {
                return CH_ENOMEM;
            }
            c->v = v;
            c->cap = cap;
        }
        s = &c->v[c->n];
        memset(s, 0, sizeof *s);
        s->key = strdup(key);
        if (!s->key) {
            return CH_ENOMEM;
        }
        c->n++;
    }
    size_t pos = s->n;
    while (pos > 0 && s->x[pos - 1] >= x) {
        if (s->x[pos - 1] == x) {
            s->y[pos - 1] = y;
            return 0;
        }
        pos--;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        double *nx = realloc(s->x, cap * sizeof *nx);
        if (!nx) {
            return CH_ENOMEM;
        }
        s->x = nx;
        double *ny = realloc(s->y, cap * sizeof *ny);
        if (!ny) {
            return CH_ENOMEM;
        }
        s->y = ny;
        s->cap = cap;
    }
    memmove(s->x + pos + 1, s->x + pos, (s->n - pos) * sizeof *s->x);
    memmove(s->y + pos + 1, s->y + pos, (s->n - pos) * sizeof *s->y);
    s->x[pos] = x;
    s->y[pos] = y;
    s->n++;
    return 0;
}

/* The metric family of a key: the key without its split prefix, so
 * train_loss, validation_loss and valid_loss all chart as "loss". */
static const char *s_family(const char *key)
{
    static const char *const prefixes[] = {"train_", "training_", "validation_", "valid_",
                                           "val_",   "test_",     "eval_"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(key, prefixes[i], n) == 0 && key[n]) {
            return key + n;
        }
    }
    return key;
}

/* --- events.jsonl ----------------------------------------------------------- */

typedef struct s_events {
    s_curves curves;
    ch_buf worker_cells; /* NUL-separated cells, 6 per row */
    size_t worker_rows;
    size_t n_events;
    size_t bad_lines;
    size_t first_bad_line;
    char first_bad[256];
    double t0;
    ch_json *start; /* the run.start event's data holder (whole line) */
    ch_json *end;   /* the run.end event (whole line) */
} s_events;

static void s_events_free(s_events *ev)
{
    s_curves_free(&ev->curves);
    ch_buf_free(&ev->worker_cells);
    ch_json_destroy(&ev->start);
    ch_json_destroy(&ev->end);
}

static void s_cell(ch_buf *b, const char *s)
{
    ch_buf_puts(b, s ? s : "");
    ch_buf_append(b, "", 1);
}

static void s_worker_event(s_events *ev, const ch_json *line, const char *topic)
{
    const ch_json *d = ch_json_get(line, "data");
    char t[64], w[32], pid[32], detail[512];
    double dt = ch_json_num(ch_json_get(line, "time")) - ev->t0;
    if (isfinite(dt)) {
        snprintf(t, sizeof t, "+%.3f", dt);
    } else {
        t[0] = '\0';
    }
    double wi = ch_json_num(ch_json_get(d, "worker"));
    double pi = ch_json_num(ch_json_get(d, "pid"));
    w[0] = '\0';
    if (isfinite(wi)) {
        snprintf(w, sizeof w, "%.0f", wi);
    }
    pid[0] = '\0';
    if (isfinite(pi)) {
        snprintf(pid, sizeof pid, "%.0f", pi);
    }
    detail[0] = '\0';
    if (strcmp(topic, "worker.reassigned") == 0) {
        snprintf(detail, sizeof detail, "shard %.0f: worker %.0f -> worker %.0f",
                 ch_json_num(ch_json_get(d, "shard")), ch_json_num(ch_json_get(d, "from")),
                 ch_json_num(ch_json_get(d, "to")));
        w[0] = '\0';
    } else if (ch_json_str(ch_json_get(d, "reason"))) {
        snprintf(detail, sizeof detail, "%s", ch_json_str(ch_json_get(d, "reason")));
    }
    s_cell(&ev->worker_cells, t);
    s_cell(&ev->worker_cells, topic + strlen("worker."));
    s_cell(&ev->worker_cells, w);
    s_cell(&ev->worker_cells, ch_json_str(ch_json_get(d, "host")));
    s_cell(&ev->worker_cells, pid);
    s_cell(&ev->worker_cells, detail);
    ev->worker_rows++;
}

/* Reads dir/events.jsonl (missing is fine: nothing to chart). Lines that do
 * not parse are counted, not fatal: a killed run may leave half a line. */
static int s_events_read(const char *dir, s_events *ev, ch_err *err)
{
    char *text;
    size_t len;
    int rc = s_read(dir, "events.jsonl", S_MAX_EVENTS, &text, &len, err);
    if (rc == CH_ENOTFOUND) {
        return 0;
    }
    if (rc) {
        return rc;
    }
    ev->t0 = NAN;
    size_t lineno = 0;
    for (char *p = text; p < text + len;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
        lineno++;
        char *line_start = p;
        p += n + (nl ? 1 : 0);
        if (strspn(line_start, " \t\r") >= n) {
            continue;
        }
        ch_err jerr;
        ch_err_clear(&jerr);
        ch_json *j = ch_json_parse(line_start, n, &jerr);
        const char *topic = ch_json_str(ch_json_get(j, "topic"));
        if (!j || !topic) {
            if (ev->bad_lines++ == 0) {
                ev->first_bad_line = lineno;
                snprintf(ev->first_bad, sizeof ev->first_bad, "%.200s",
                         j ? "no \"topic\" string" : jerr.msg);
            }
            ch_json_destroy(&j);
            continue;
        }
        ev->n_events++;
        double t = ch_json_num(ch_json_get(j, "time"));
        if (!isfinite(ev->t0) && isfinite(t)) {
            ev->t0 = t;
        }
        const ch_json *d = ch_json_get(j, "data");
        if (strcmp(topic, "round.end") == 0) {
            double round = ch_json_num(ch_json_get(d, "round"));
            const ch_json *m = ch_json_get(d, "metrics");
            for (size_t i = 0; isfinite(round) && i < ch_json_len(m) && rc == 0; i++) {
                const ch_json *v = ch_json_at(m, i);
                if (ch_json_is(v, CH_JSON_NUMBER) || ch_json_is(v, CH_JSON_NULL)) {
                    rc = s_curves_add(&ev->curves, ch_json_key_at(m, i), round, ch_json_num(v));
                }
            }
        } else if (strncmp(topic, "worker.", 7) == 0) {
            s_worker_event(ev, j, topic);
        } else if (strcmp(topic, "run.start") == 0 && !ev->start) {
            ev->start = j;
            j = NULL;
        } else if (strcmp(topic, "run.end") == 0) {
            ch_json_destroy(&ev->end);
            ev->end = j;
            j = NULL;
        }
        ch_json_destroy(&j);
        if (rc) {
            break;
        }
    }
    free(text);
    if (rc || ev->worker_cells.failed) {
        return ch_err_set(err, CH_ENOMEM, "out of memory reading %s/events.jsonl", dir);
    }
    return 0;
}

/* --- report sections -------------------------------------------------------- */

static void s_overview(ch_report *r, const ch_json *sum, const s_events *ev, const char *status,
                       const char *error)
{
    char workers[32], rounds[32], wall[32], line[1024];
    const ch_json *start = ch_json_get(ev->start, "data");
    double w = ch_json_num(ch_json_get(sum, "workers"));
    if (!isfinite(w)) {
        w = ch_json_num(ch_json_get(start, "workers"));
    }
    double rd = ch_json_num(ch_json_get(sum, "rounds"));
    if (!isfinite(rd)) {
        rd = ch_json_num(ch_json_path(ev->end, "data.rounds"));
    }
    double secs = ch_json_num(ch_json_get(sum, "wall_seconds"));
    s_num(w, workers, sizeof workers);
    s_num(rd, rounds, sizeof rounds);
    if (isfinite(secs)) {
        snprintf(wall, sizeof wall, "%.3f", secs);
    } else {
        snprintf(wall, sizeof wall, "n/a");
    }
    ch_report_section(r, "Run");
    if (error) {
        snprintf(line, sizeof line, "Status: %s after %s round%s with %s worker%s: %s", status,
                 rounds, rd == 1 ? "" : "s", workers, w == 1 ? "" : "s", error);
    } else if (isfinite(secs)) {
        snprintf(line, sizeof line, "Status: %s: %s round%s with %s worker%s in %s s", status,
                 rounds, rd == 1 ? "" : "s", workers, w == 1 ? "" : "s", wall);
    } else {
        snprintf(line, sizeof line, "Status: %s", status);
    }
    ch_report_paragraph(r, line);
    const char *keys[] = {"run id",  "name",   "algorithm",    "status",
                          "workers", "rounds", "wall seconds", "error"};
    const char *vals[] = {
        s_str_or(ch_json_get(sum, "run_id"), NULL),
        s_str_or(ch_json_get(sum, "name"), s_str_or(ch_json_get(start, "name"), NULL)),
        s_str_or(ch_json_get(sum, "algorithm"), s_str_or(ch_json_get(start, "algorithm"), NULL)),
        status,
        workers,
        rounds,
        wall,
        error};
    ch_report_kv(r, keys, vals, error ? 8 : 7);
}

static void s_final_metrics(ch_report *r, const ch_json *sum)
{
    const ch_json *m = ch_json_get(sum, "metrics");
    size_t n = ch_json_len(m);
    ch_report_section(r, "Final metrics");
    if (!ch_json_is(m, CH_JSON_OBJECT) || n == 0) {
        ch_report_paragraph(r, "No final metrics were recorded (no test set, or the run did "
                               "not finish).");
        return;
    }
    const char **cells = calloc(n * 2, sizeof *cells);
    char(*bufs)[64] = calloc(n, sizeof *bufs);
    if (cells && bufs) {
        for (size_t i = 0; i < n; i++) {
            cells[i * 2] = ch_json_key_at(m, i);
            cells[i * 2 + 1] = s_value_text(ch_json_at(m, i), bufs[i], sizeof bufs[i]);
        }
        static const char *const header[] = {"metric", "value"};
        ch_report_table(r, header, 2, cells, n, -1);
    }
    free(cells);
    free(bufs);
}

static void s_curves_section(ch_report *r, const s_curves *c)
{
    ch_report_section(r, "Metric curves");
    if (c->n == 0) {
        ch_report_paragraph(r, "No per-round metrics were recorded.");
        return;
    }
    bool *done = calloc(c->n, sizeof *done);
    ch_svg_series *ser = calloc(c->n, sizeof *ser);
    if (!done || !ser) {
        free(done);
        free(ser);
        return;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (done[i]) {
            continue;
        }
        const char *fam = s_family(c->v[i].key);
        size_t ns = 0;
        for (size_t k = i; k < c->n; k++) {
            if (!done[k] && strcmp(s_family(c->v[k].key), fam) == 0) {
                done[k] = true;
                ser[ns].name = c->v[k].key;
                ser[ns].x = c->v[k].x;
                ser[ns].y = c->v[k].y;
                ser[ns].n = c->v[k].n;
                ns++;
            }
        }
        ch_svg_line_opts o = {.title = fam, .x_label = "round", .y_label = fam};
        ch_report_line_chart(r, &o, ser, ns);
    }
    free(done);
    free(ser);
}

static void s_workers_section(ch_report *r, const s_events *ev)
{
    ch_report_section(r, "Workers");
    if (ev->worker_rows == 0) {
        ch_report_paragraph(r, "No worker events were recorded.");
        return;
    }
    const char **cells = calloc(ev->worker_rows * 6, sizeof *cells);
    if (!cells) {
        return;
    }
    const char *p = (const char *)ev->worker_cells.data;
    for (size_t i = 0; i < ev->worker_rows * 6; i++) {
        cells[i] = p;
        p += strlen(p) + 1;
    }
    static const char *const header[] = {"time (s)", "event", "worker", "host", "pid", "detail"};
    ch_report_table(r, header, 6, cells, ev->worker_rows, -1);
    free(cells);
}

static void s_data_section(ch_report *r, const ch_schema *s)
{
    ch_report_section(r, "Data");
    char nf[32], lv[32];
    snprintf(nf, sizeof nf, "%zu", s->n_features);
    const char *tkind = s->target.kind == CH_COL_CATEGORICAL ? "categorical" : "numeric";
    snprintf(lv, sizeof lv, "%zu", s->target.n_levels);
    const char *keys[] = {"target", "target kind", "target classes", "features"};
    const char *vals[] = {s->target.name, tkind, lv, nf};
    if (s->target.kind == CH_COL_CATEGORICAL) {
        ch_report_kv(r, keys, vals, 4);
    } else {
        const char *k2[] = {keys[0], keys[1], keys[3]};
        const char *v2[] = {vals[0], vals[1], vals[3]};
        ch_report_kv(r, k2, v2, 3);
    }
    size_t n = s->n_features < S_MAX_SCHEMA ? s->n_features : S_MAX_SCHEMA;
    if (n == 0) {
        return;
    }
    const char **cells = calloc(n * 3, sizeof *cells);
    char(*levels)[32] = calloc(n, sizeof *levels);
    if (cells && levels) {
        for (size_t i = 0; i < n; i++) {
            const ch_column *col = &s->features[i];
            cells[i * 3] = col->name;
            cells[i * 3 + 1] = col->kind == CH_COL_CATEGORICAL ? "categorical" : "numeric";
            if (col->kind == CH_COL_CATEGORICAL) {
                snprintf(levels[i], sizeof levels[i], "%zu", col->n_levels);
                cells[i * 3 + 2] = levels[i];
            }
        }
        static const char *const header[] = {"feature", "kind", "levels"};
        ch_report_table(r, header, 3, cells, n, -1);
        if (n < s->n_features) {
            char more[96];
            snprintf(more, sizeof more, "... and %zu more features.", s->n_features - n);
            ch_report_paragraph(r, more);
        }
    }
    free(cells);
    free(levels);
}

/* The data schema and the algorithm's sections, from model.pb. */
static void s_model_sections(ch_report *r, const char *dir, bool failed)
{
    char *path = ch_path_join(dir, "model.pb");
    if (!path) {
        return;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        if (!failed) {
            ch_report_section(r, "Model");
            ch_report_paragraph(r, "This run left no model.pb.");
        }
        free(path);
        return;
    }
    ch_model_file mf;
    memset(&mf, 0, sizeof mf);
    ch_err merr;
    ch_err_clear(&merr);
    if (ch_model_load(path, &mf, &merr) != 0) {
        ch_report_section(r, "Model");
        char msg[CH_ERR_MSG_MAX + 64];
        snprintf(msg, sizeof msg, "model.pb could not be read: %s", merr.msg);
        ch_report_paragraph(r, msg);
        free(path);
        return;
    }
    free(path);
    if (mf.schema) {
        s_data_section(r, mf.schema);
    }
    const ch_algo *a = mf.algo;
    int rc = -1;
    if (a->report) {
        ch_err_clear(&merr);
        rc = a->report(mf.model, r, &merr);
        if (rc != 0) {
            char msg[CH_ERR_MSG_MAX + 64];
            snprintf(msg, sizeof msg, "The %s report could not be drawn: %s", a->name, merr.msg);
            ch_report_paragraph(r, msg);
        }
    }
    if (rc != 0 && a->describe) {
        ch_buf text;
        ch_buf_init(&text);
        if (a->describe(mf.model, &text) == 0 && text.len) {
            ch_report_section(r, "Model");
            ch_report_pre(r, a->name, ch_buf_str(&text));
        }
        ch_buf_free(&text);
    }
    ch_model_file_free(&mf);
}

int ch_run_report(const char *run_dir, ch_err *err)
{
    if (!run_dir || !run_dir[0]) {
        return ch_err_set(err, CH_EINVAL, "no run directory given");
    }
    if (!s_exists(run_dir, "summary.json") && !s_exists(run_dir, "events.jsonl")) {
        return ch_err_set(err, CH_ENOTFOUND,
                          "%s: not a run directory (no summary.json or events.jsonl)", run_dir);
    }
    ch_json *sum = NULL;
    s_events ev;
    memset(&ev, 0, sizeof ev);
    ch_report *r = NULL;
    char *config = NULL;
    char *out = NULL;
    int rc = s_summary(run_dir, &sum, err);
    if (rc == 0) {
        rc = s_events_read(run_dir, &ev, err);
    }
    if (rc) {
        goto done;
    }
    const ch_json *start = ch_json_get(ev.start, "data");
    const char *name =
        s_str_or(ch_json_get(sum, "name"), s_str_or(ch_json_get(start, "name"), "run"));
    const char *algo =
        s_str_or(ch_json_get(sum, "algorithm"), s_str_or(ch_json_get(start, "algorithm"), NULL));
    const char *status = s_str_or(ch_json_get(sum, "status"),
                                  s_str_or(ch_json_path(ev.end, "data.status"),
                                           sum ? "unknown" : "unknown (no summary.json)"));
    const char *error = s_str_or(ch_json_get(sum, "error"), NULL);
    bool failed = strcmp(status, "finished") != 0;

    ch_buf title;
    ch_buf_init(&title);
    ch_buf_puts(&title, name);
    if (algo) {
        ch_buf_printf(&title, " \xc2\xb7 %s", algo);
    }
    r = ch_report_new(ch_buf_str(&title));
    ch_buf_free(&title);
    if (!r) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    const char *run_id =
        s_str_or(ch_json_get(sum, "run_id"), ch_json_str(ch_json_get(ev.start, "run")));
    if (run_id) {
        ch_buf sub;
        ch_buf_init(&sub);
        ch_buf_printf(&sub, "run %s \xe2\x80\x94 %s", run_id, status);
        ch_report_subtitle(r, ch_buf_str(&sub));
        ch_buf_free(&sub);
    }
    s_overview(r, sum, &ev, status, error);
    s_final_metrics(r, sum);
    s_curves_section(r, &ev.curves);
    s_workers_section(r, &ev);
    if (ev.bad_lines) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "%zu line(s) of events.jsonl could not be read and were skipped (first: line "
                 "%zu: %s).",
                 ev.bad_lines, ev.first_bad_line, ev.first_bad);
        ch_report_paragraph(r, msg);
    }
    s_model_sections(r, run_dir, failed);

    size_t clen;
    ch_err cerr;
    ch_err_clear(&cerr);
    int crc = s_read(run_dir, "config.yaml", S_MAX_CONFIG, &config, &clen, &cerr);
    ch_report_section(r, "Configuration");
    if (crc == 0) {
        ch_report_pre(r, "config.yaml (resolved)", config);
    } else {
        ch_report_paragraph(r, crc == CH_ENOTFOUND ? "This run left no config.yaml." : cerr.msg);
    }

    out = ch_path_join(run_dir, "report.html");
    if (!out) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    rc = ch_report_write(r, out, err);
done:
    free(out);
    free(config);
    ch_report_destroy(&r);
    s_events_free(&ev);
    ch_json_destroy(&sum);
    return rc;
}

/* --- index page ------------------------------------------------------------- */

/* Splits an absolute, normalised path into components (in place). */
static size_t s_split(char *p, char **parts, size_t max)
{
    size_t n = 0;
    for (char *tok = strtok(p, "/"); tok && n < max; tok = strtok(NULL, "/")) {
        parts[n++] = tok;
    }
    return n;
}

/* The href of `target` (a file or directory) as seen from directory `from`:
 * relative when both resolve, else target as given. malloc'd or NULL. */
static char *s_relpath(const char *from, const char *target)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (!realpath(from, a) || !realpath(target, b)) {
        return strdup(target);
    }
    enum { MAXP = 256 };
    char *pa[MAXP], *pb[MAXP];
    size_t na = s_split(a, pa, MAXP), nb = s_split(b, pb, MAXP);
    size_t common = 0;
    while (common < na && common < nb && strcmp(pa[common], pb[common]) == 0) {
        common++;
    }
    ch_buf out;
    ch_buf_init(&out);
    for (size_t i = common; i < na; i++) {
        ch_buf_puts(&out, "../");
    }
    for (size_t i = common; i < nb; i++) {
        ch_buf_printf(&out, "%s%s", pb[i], i + 1 < nb ? "/" : "");
    }
    if (out.len == 0) {
        ch_buf_puts(&out, ".");
    }
    return ch_buf_take(&out);
}

typedef struct s_run {
    const char *dir;
    const char *label;
    ch_json *sum;
    double value;
    double x; /* the run's place on the index's axis */
    char *href;
    char note[CH_ERR_MSG_MAX];
} s_run;

static int s_cmp_max(const void *pa, const void *pb)
{
    const s_run *a = pa, *b = pb;
    bool fa = isfinite(a->value), fb = isfinite(b->value);
    if (fa != fb) {
        return fa ? -1 : 1;
    }
    if (!fa || a->value == b->value) {
        return 0;
    }
    return a->value > b->value ? -1 : 1;
}

static int s_cmp_min(const void *pa, const void *pb)
{
    const s_run *a = pa, *b = pb;
    bool fa = isfinite(a->value), fb = isfinite(b->value);
    if (fa != fb) {
        return fa ? -1 : 1;
    }
    if (!fa || a->value == b->value) {
        return 0;
    }
    return a->value < b->value ? -1 : 1;
}

/* Metric keys over all runs, first seen first, `metric` at the front. */
static size_t s_metric_keys(const s_run *runs, size_t n, const char *metric, const char **keys,
                            size_t max)
{
    size_t nk = 0;
    keys[nk++] = metric;
    for (size_t i = 0; i < n; i++) {
        const ch_json *m = ch_json_get(runs[i].sum, "metrics");
        for (size_t k = 0; k < ch_json_len(m) && nk < max; k++) {
            const char *key = ch_json_key_at(m, k);
            bool seen = false;
            for (size_t q = 0; q < nk && !seen; q++) {
                seen = strcmp(keys[q], key) == 0;
            }
            if (!seen) {
                keys[nk++] = key;
            }
        }
    }
    return nk;
}

static int s_cmp_x(const void *pa, const void *pb)
{
    const s_run *a = *(const s_run *const *)pa, *b = *(const s_run *const *)pb;
    return a->x < b->x ? -1 : a->x > b->x;
}

/* One line chart per metric key (at most 6): the final value of every run
 * that has it against the run's x, in increasing x. */
static int s_axis_charts(ch_report *r, const s_run *runs, size_t n, const char *const *keys,
                         size_t nk, const char *x_name)
{
    const s_run **by_x = calloc(n ? n : 1, sizeof *by_x);
    double *xs = calloc(n ? n : 1, sizeof *xs), *ys = calloc(n ? n : 1, sizeof *ys);
    int rc = by_x && xs && ys ? 0 : CH_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        by_x[i] = &runs[i];
    }
    if (rc == 0) {
        qsort(by_x, n, sizeof *by_x, s_cmp_x);
        char head[300];
        snprintf(head, sizeof head, "Metrics against %s", x_name);
        rc = ch_report_section(r, head);
    }
    for (size_t k = 0; rc == 0 && k < nk && k < 6; k++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            double y = ch_json_num(ch_json_get(ch_json_get(by_x[i]->sum, "metrics"), keys[k]));
            if (isfinite(y) && isfinite(by_x[i]->x)) {
                xs[m] = by_x[i]->x;
                ys[m++] = y;
            }
        }
        if (m >= 2) {
            ch_svg_series se = {.name = keys[k], .x = xs, .y = ys, .n = m};
            ch_svg_line_opts o = {.title = keys[k], .x_label = x_name, .y_label = keys[k]};
            rc = ch_report_line_chart(r, &o, &se, 1);
        }
    }
    free(by_x);
    free(xs);
    free(ys);
    return rc;
}

int ch_index_report(const char *dir, const char *title, const char *const *run_dirs,
                    const char *const *labels, size_t n, const char *metric, int goal_max,
                    ch_err *err)
{
    return ch_index_report_axis(dir, title, run_dirs, labels, n, metric, goal_max, NULL, NULL, err);
}

int ch_index_report_axis(const char *dir, const char *title, const char *const *run_dirs,
                         const char *const *labels, size_t n, const char *metric, int goal_max,
                         const char *x_name, const double *x, ch_err *err)
{
    if (!dir || (n && !run_dirs)) {
        return ch_err_set(err, CH_EINVAL, "no index directory or runs given");
    }
    s_run *runs = calloc(n ? n : 1, sizeof *runs);
    if (!runs) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    ch_report *r = NULL;
    char *out = NULL;
    enum { MAXK = 32 };
    const char *keys[MAXK];
    const char **cells = NULL;
    char(*bufs)[64] = NULL;
    const char **bar_labels = NULL;
    double *bar_values = NULL;
    const char **link_labels = NULL, **link_hrefs = NULL;

    for (size_t i = 0; i < n; i++) {
        s_run *u = &runs[i];
        u->dir = run_dirs[i];
        u->x = x_name && x ? x[i] : NAN;
        if (!s_exists(u->dir, "report.html")) {
            ch_err rerr;
            ch_err_clear(&rerr);
            if (ch_run_report(u->dir, &rerr) != 0) {
                snprintf(u->note, sizeof u->note, "%s", rerr.msg);
            }
        }
        ch_err serr;
        ch_err_clear(&serr);
        if (s_summary(u->dir, &u->sum, &serr) != 0 && !u->note[0]) {
            snprintf(u->note, sizeof u->note, "%s", serr.msg);
        }
        u->label = labels && labels[i] ? labels[i] : s_str_or(ch_json_get(u->sum, "name"), u->dir);
        char *page = ch_path_join(u->dir, "report.html");
        u->href = page ? s_relpath(dir, page) : NULL;
        free(page);
        if (!u->href) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            goto done;
        }
    }
    if (!metric || !metric[0]) {
        metric = NULL;
        for (size_t i = 0; i < n && !metric; i++) {
            metric = ch_json_key_at(ch_json_get(runs[i].sum, "metrics"), 0);
        }
    }
    for (size_t i = 0; i < n; i++) {
        runs[i].value =
            metric ? ch_json_num(ch_json_get(ch_json_get(runs[i].sum, "metrics"), metric)) : NAN;
    }
    if (metric) {
        qsort(runs, n, sizeof *runs, goal_max ? s_cmp_max : s_cmp_min);
    }
    bool have_best = n > 0 && isfinite(runs[0].value);

    r = ch_report_new(title && title[0] ? title : "cohort runs");
    if (!r) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    char line[1024];
    snprintf(line, sizeof line, "%zu run%s%s%s", n, n == 1 ? "" : "s", metric ? ", ranked by " : "",
             metric ? metric : "");
    ch_report_subtitle(r, line);

    ch_report_section(r, "Ranking");
    if (have_best) {
        char v[64];
        snprintf(line, sizeof line, "Best: %s with %s = %s (%s is better).", runs[0].label, metric,
                 s_num(runs[0].value, v, sizeof v), goal_max ? "higher" : "lower");
    } else if (metric) {
        snprintf(line, sizeof line, "No run has the metric %s.", metric);
    } else {
        snprintf(line, sizeof line, "No run has any final metric.");
    }
    ch_report_paragraph(r, line);

    size_t nk = metric ? s_metric_keys(runs, n, metric, keys, MAXK) : 0;
    size_t ncols = 4 + nk; /* rank, run, status, metrics..., wall s */
    cells = calloc((n ? n : 1) * ncols, sizeof *cells);
    bufs = calloc((n ? n : 1) * ncols, sizeof *bufs);
    bar_labels = calloc(n ? n : 1, sizeof *bar_labels);
    bar_values = calloc(n ? n : 1, sizeof *bar_values);
    link_labels = calloc(n ? n : 1, sizeof *link_labels);
    link_hrefs = calloc(n ? n : 1, sizeof *link_hrefs);
    const char **header = calloc(ncols, sizeof *header);
    if (!cells || !bufs || !bar_labels || !bar_values || !link_labels || !link_hrefs || !header) {
        free(header);
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    header[0] = "#";
    header[1] = "run";
    header[2] = "status";
    for (size_t k = 0; k < nk; k++) {
        header[3 + k] = keys[k];
    }
    header[3 + nk] = "wall s";
    for (size_t i = 0; i < n; i++) {
        const s_run *u = &runs[i];
        const char **row = cells + i * ncols;
        char(*b)[64] = bufs + i * ncols;
        if (have_best && i == 0) {
            snprintf(b[0], sizeof b[0], "1 (best)");
        } else {
            snprintf(b[0], sizeof b[0], "%zu", i + 1);
        }
        row[0] = b[0];
        row[1] = u->label;
        row[2] = s_str_or(ch_json_get(u->sum, "status"), u->sum ? "unknown" : "no summary");
        const ch_json *m = ch_json_get(u->sum, "metrics");
        for (size_t k = 0; k < nk; k++) {
            row[3 + k] = s_value_text(ch_json_get(m, keys[k]), b[3 + k], sizeof b[3 + k]);
            if (!row[3 + k]) {
                row[3 + k] = "n/a";
            }
        }
        double wall = ch_json_num(ch_json_get(u->sum, "wall_seconds"));
        row[3 + nk] = isfinite(wall) ? s_num(wall, b[3 + nk], sizeof b[3 + nk]) : NULL;
        bar_labels[i] = u->label;
        bar_values[i] = u->value;
        link_labels[i] = u->label;
        link_hrefs[i] = u->href;
    }
    ch_report_table(r, header, ncols, cells, n, have_best ? 0 : -1);
    free(header);
    if (metric && n) {
        ch_svg_bar_opts bo = {
            .title = metric, .value_label = metric, .highlight = have_best ? 0 : -1};
        ch_report_bar_chart(r, &bo, bar_labels, bar_values, n);
    }
    if (x_name && x && nk && s_axis_charts(r, runs, n, keys, nk, x_name) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    ch_report_section(r, "Runs");
    ch_report_links(r, link_labels, link_hrefs, n);
    for (size_t i = 0; i < n; i++) {
        if (runs[i].note[0]) {
            snprintf(line, sizeof line, "%.200s: %.800s", runs[i].label, runs[i].note);
            ch_report_paragraph(r, line);
        }
    }

    out = ch_path_join(dir, "index.html");
    if (!out) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    rc = ch_report_write(r, out, err);
done:
    free(out);
    free(cells);
    free(bufs);
    free(bar_labels);
    free(bar_values);
    free(link_labels);
    free(link_hrefs);
    ch_report_destroy(&r);
    for (size_t i = 0; i < n; i++) {
        ch_json_destroy(&runs[i].sum);
        free(runs[i].href);
    }
    free(runs);
    return rc;
}
