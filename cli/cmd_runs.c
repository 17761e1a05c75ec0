/* cmd_runs.c: `cohort runs list|show|compare|export` over the tracking store. */
#include "cli/cmd_runs.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/tracking.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_DEFAULT_DB    "runs/cohort.db"
#define S_DEFAULT_LIMIT 20
#define S_MAX_POS       256

/* Options each action accepts (a bit mask). */
enum {
    S_OPT_DB = 1 << 0,
    S_OPT_LIMIT = 1 << 1,
    S_OPT_METRIC = 1 << 2,
    S_OPT_GOAL = 1 << 3,
    S_OPT_CSV = 1 << 4,
    S_OPT_OUT = 1 << 5,
    S_OPT_METRICS = 1 << 6,
    S_OPT_CONFIG = 1 << 7,
};

typedef struct s_opts {
    const char *db;
    long limit;
    const char *metric;
    const char *goal;
    const char *out;
    bool csv;
    bool metrics;
    bool config;
    bool help;
    const char *pos[S_MAX_POS];
    size_t npos;
} s_opts;

static const char *S_USAGE =
    "usage: cohort runs <action> [options]\n"
    "\n"
    "Look at the runs recorded in the tracking store (default " S_DEFAULT_DB ").\n"
    "\n"
    "actions:\n"
    "  list                     the latest runs, newest first\n"
    "  show ID                  one run: status, params, final metrics, artifacts\n"
    "  compare ID ID ...        runs side by side; --metric KEY ranks them\n"
    "  export --csv             every run as one CSV row (params and final metrics)\n"
    "\n"
    "An ID may be any unique prefix of a run id. `cohort runs ACTION --help` for more.\n";

static const char *S_HELP_LIST =
    "usage: cohort runs list [--db PATH] [--limit N]\n"
    "\n"
    "Lists the latest runs, newest first: id, experiment, algorithm, status, start\n"
    "time and duration. Runs left 'running' by a process that died are shown as\n"
    "'killed'.\n"
    "\n"
    "  --db PATH    tracking database (default " S_DEFAULT_DB ")\n"
    "  --limit N    show at most N runs (default 20; 0 for all)\n";

static const char *S_HELP_SHOW =
    "usage: cohort runs show ID [--db PATH] [--config]\n"
    "\n"
    "Shows one run: its status, times, host, directory, params, the last value of\n"
    "every metric and its artifacts. ID may be a unique prefix of the run id.\n"
    "\n"
    "  --db PATH    tracking database (default " S_DEFAULT_DB ")\n"
    "  --config     also print the resolved config the run was started with\n";

static const char *S_HELP_COMPARE =
    "usage: cohort runs compare ID ID ... [--db PATH] [--metric KEY] [--goal max|min]\n"
    "\n"
    "Compares runs: one row per run with its final metrics, then the params whose\n"
    "values differ between the runs. With --metric the rows are ranked by that\n"
    "metric and the best run is marked with '*'. The goal defaults to min for keys\n"
    "that look like a loss or an error (loss, error, rmse, mse, mae) and max\n"
    "otherwise.\n"
    "\n"
    "  --db PATH       tracking database (default " S_DEFAULT_DB ")\n"
    "  --metric KEY    rank by the last value of metric KEY\n"
    "  --goal max|min  whether larger or smaller KEY is better\n";

static const char *S_HELP_EXPORT =
    "usage: cohort runs export --csv [--out FILE] [--metrics] [--db PATH]\n"
    "\n"
    "Writes CSV (RFC 4180) to FILE or stdout. By default one row per run: run_id,\n"
    "experiment, name, status, algorithm, start_time, end_time (ISO 8601 UTC),\n"
    "host, pid, git_commit, then param.KEY and metric.KEY (last value) columns.\n"
    "With --metrics, every metric point instead: run_id, key, step, value.\n"
    "\n"
    "  --csv         CSV output (the only format)\n"
    "  --out FILE    write to FILE instead of stdout\n"
    "  --metrics     export the metric series in long form\n"
    "  --db PATH     tracking database (default " S_DEFAULT_DB ")\n";

/* --- argument parsing -------------------------------------------------------- */

/* Takes the value of an option given as "--opt VALUE" or "--opt=VALUE". */
static int s_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (a[n] == '=') {
        *out = a + n + 1;
        return 0;
    }
    if (*i + 1 >= argc) {
        return -1;
    }
    *out = argv[++*i];
    return 0;
}

static bool s_is_opt(const char *a, const char *name)
{
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

/* Parses argv[2..] for action `cmd` allowing the options in `allowed`.
 * Returns 0, or 2 after printing a one-line usage error. */
static int s_parse(int argc, char **argv, const char *cmd, unsigned allowed, s_opts *o)
{
    memset(o, 0, sizeof *o);
    o->db = S_DEFAULT_DB;
    o->limit = S_DEFAULT_LIMIT;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        unsigned opt = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            o->help = true;
            continue;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (o->npos == S_MAX_POS) {
                fprintf(stderr, "cohort runs %s: too many arguments (at most %d)\n", cmd,
                        S_MAX_POS);
                return 2;
            }
            o->pos[o->npos++] = a;
            continue;
        }
        bool missing = false;
        if (s_is_opt(a, "--db")) {
            opt = S_OPT_DB;
            missing = s_value(argc, argv, &i, "--db", &o->db) != 0;
        } else if (s_is_opt(a, "--limit")) {
            opt = S_OPT_LIMIT;
            missing = s_value(argc, argv, &i, "--limit", &v) != 0;
            if (!missing) {
                char *end = NULL;
                errno = 0;
                long n = strtol(v, &end, 10);
                if (errno || end == v || *end || n < 0) {
                    fprintf(stderr, "cohort runs %s: --limit wants a whole number >= 0, not '%s'\n",
                            cmd, v);
                    return 2;
                }
                o->limit = n;
            }
        } else if (s_is_opt(a, "--metric")) {
            opt = S_OPT_METRIC;
            missing = s_value(argc, argv, &i, "--metric", &o->metric) != 0;
        } else if (s_is_opt(a, "--goal")) {
            opt = S_OPT_GOAL;
            missing = s_value(argc, argv, &i, "--goal", &o->goal) != 0;
            if (!missing && strcmp(o->goal, "max") && strcmp(o->goal, "min")) {
                fprintf(stderr, "cohort runs %s: --goal is max or min, not '%s'\n", cmd, o->goal);
                return 2;
            }
        } else if (s_is_opt(a, "--out")) {
            opt = S_OPT_OUT;
            missing = s_value(argc, argv, &i, "--out", &o->out) != 0;
        } else if (!strcmp(a, "--csv")) {
            opt = S_OPT_CSV;
            o->csv = true;
        } else if (!strcmp(a, "--metrics")) {
            opt = S_OPT_METRICS;
            o->metrics = true;
        } else if (!strcmp(a, "--config")) {
            opt = S_OPT_CONFIG;
            o->config = true;
        }
        if (opt == 0 || !(allowed & opt)) {
            fprintf(stderr, "cohort runs %s: unknown option '%s' (see cohort runs %s --help)\n",
                    cmd, a, cmd);
            return 2;
        }
        if (missing) {
            fprintf(stderr, "cohort runs %s: %s needs a value\n", cmd, a);
            return 2;
        }
    }
    return 0;
}

/* Opens the store, refusing to create one where none exists (a typo in --db
 * should not leave an empty database behind). Prints the error; NULL on
 * failure. */
static ch_track *s_open(const char *cmd, const char *db)
{
    if (access(db, F_OK) != 0) {
        fprintf(stderr,
                "cohort runs %s: no tracking database at %s (run an experiment first, or pass "
                "--db PATH)\n",
                cmd, db);
        return NULL;
    }
    ch_err err = {0};
    ch_track *t = ch_track_open(db, &err);
    if (!t) {
        fprintf(stderr, "cohort runs %s: %s\n", cmd, err.msg);
    }
    return t;
}

/* --- formatting ------------------------------------------------------------ */

static void s_fmt_time(double t, char *buf, size_t size)
{
    if (isnan(t)) {
        snprintf(buf, size, "-");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static void s_fmt_time_iso(double t, char *buf, size_t size)
{
    if (isnan(t)) {
        buf[0] = '\0';
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void s_fmt_duration(double s, char *buf, size_t size)
{
    if (isnan(s) || s < 0) {
        snprintf(buf, size, "-");
    } else if (s < 60) {
        snprintf(buf, size, "%.1fs", s);
    } else if (s < 3600) {
        snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    } else {
        snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    }
}

static void s_fmt_value(double v, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "nan");
    } else {
        snprintf(buf, size, "%.6g", v);
    }
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* --- plain text tables -------------------------------------------------------- */

/* A table of strings printed with aligned columns; numeric columns are
 * right-aligned. Cells are copied. */
typedef struct s_table {
    size_t ncols;
    char **cells;
    size_t n, cap;
    bool failed;
} s_table;

static void s_cell(s_table *tb, const char *s)
{
    if (tb->failed) {
        return;
    }
    if (tb->n == tb->cap) {
        size_t ncap = tb->cap ? tb->cap * 2 : 64;
        char **p = realloc(tb->cells, ncap * sizeof *p);
        if (!p) {
            tb->failed = true;
            return;
        }
        tb->cells = p;
        tb->cap = ncap;
    }
    char *c = strdup(s ? s : "");
    if (!c) {
        tb->failed = true;
        return;
    }
    tb->cells[tb->n++] = c;
}

static void s_table_free(s_table *tb)
{
    for (size_t i = 0; i < tb->n; i++) {
        free(tb->cells[i]);
    }
    free(tb->cells);
    memset(tb, 0, sizeof *tb);
}

static size_t s_width(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        n += (*p & 0xc0) != 0x80;
    }
    return n;
}

static bool s_numeric(const char *s)
{
    if (!s[0] || !strcmp(s, "-")) {
        return true; /* blanks do not decide */
    }
    char *end = NULL;
    strtod(s, &end);
    return end != s && *end == '\0';
}

/* Prints the table: the first row is the header, underlined by dashes. */
static void s_table_print(const s_table *tb, FILE *out, const char *indent)
{
    if (tb->ncols == 0 || tb->n == 0) {
        return;
    }
    size_t nrows = tb->n / tb->ncols;
    size_t *w = calloc(tb->ncols, sizeof *w);
    bool *num = calloc(tb->ncols, sizeof *num);
    if (!w || !num) {
        free(w);
        free(num);
        return;
    }
    for (size_t c = 0; c < tb->ncols; c++) {
        num[c] = nrows > 1;
        for (size_t r = 0; r < nrows; r++) {
            const char *s = tb->cells[r * tb->ncols + c];
            size_t l = s_width(s);
            w[c] = l > w[c] ? l : w[c];
            if (r > 0 && !s_numeric(s)) {
                num[c] = false;
            }
        }
    }
    for (size_t r = 0; r < nrows; r++) {
        fputs(indent, out);
        for (size_t c = 0; c < tb->ncols; c++) {
            const char *s = tb->cells[r * tb->ncols + c];
            size_t pad = w[c] - s_width(s);
            bool last = c + 1 == tb->ncols;
            if (num[c]) {
                fprintf(out, "%*s%s", (int)pad, "", s);
            } else {
                fprintf(out, "%s%*s", s, last ? 0 : (int)pad, "");
            }
            fputs(last ? "\n" : "  ", out);
        }
        if (r == 0) {
            fputs(indent, out);
            for (size_t c = 0; c < tb->ncols; c++) {
                for (size_t k = 0; k < w[c]; k++) {
                    fputc('-', out);
                }
                fputs(c + 1 == tb->ncols ? "\n" : "  ", out);
            }
        }
    }
    free(w);
    free(num);
}

/* --- list ---------------------------------------------------------------- */

static int s_list(int argc, char **argv)
{
    s_opts o;
    int rc = s_parse(argc, argv, "list", S_OPT_DB | S_OPT_LIMIT, &o);
    if (rc) {
        return rc;
    }
    if (o.help) {
        fputs(S_HELP_LIST, stdout);
        return 0;
    }
    if (o.npos > 0) {
        fprintf(stderr, "cohort runs list: unexpected argument '%s'\n", o.pos[0]);
        return 2;
    }
    ch_track *t = s_open("list", o.db);
    if (!t) {
        return 1;
    }
    ch_err err = {0};
    ch_track_run *runs = NULL;
    size_t n = 0;
    if (ch_track_runs_list(t, (size_t)o.limit, &runs, &n, &err) != 0) {
        fprintf(stderr, "cohort runs list: %s\n", err.msg);
        ch_track_close(&t);
        return 1;
    }
    if (n == 0) {
        printf("no runs in %s\n", o.db);
    } else {
        s_table tb = {.ncols = 6};
        const char *hdr[] = {"ID", "EXPERIMENT", "ALGORITHM", "STATUS", "STARTED", "DURATION"};
        for (int c = 0; c < 6; c++) {
            s_cell(&tb, hdr[c]);
        }
        double now = s_now();
        for (size_t i = 0; i < n; i++) {
            char started[32], dur[32];
            s_fmt_time(runs[i].start_time, started, sizeof started);
            double end = isnan(runs[i].end_time) && !strcmp(runs[i].status, "running")
                             ? now
                             : runs[i].end_time;
            s_fmt_duration(end - runs[i].start_time, dur, sizeof dur);
            s_cell(&tb, runs[i].id);
            s_cell(&tb, runs[i].experiment ? runs[i].experiment : "-");
            s_cell(&tb, runs[i].algorithm ? runs[i].algorithm : "-");
            s_cell(&tb, runs[i].status);
            s_cell(&tb, started);
            s_cell(&tb, dur);
        }
        s_table_print(&tb, stdout, "");
        s_table_free(&tb);
    }
    ch_track_runs_free(&runs, n);
    ch_track_close(&t);
    return 0;
}

/* --- show ---------------------------------------------------------------- */

static int s_show(int argc, char **argv)
{
    s_opts o;
    int rc = s_parse(argc, argv, "show", S_OPT_DB | S_OPT_CONFIG, &o);
    if (rc) {
        return rc;
    }
    if (o.help) {
        fputs(S_HELP_SHOW, stdout);
        return 0;
    }
    if (o.npos != 1) {
        fprintf(stderr,
                "cohort runs show: give exactly one run id (see cohort runs show --help)\n");
        return 2;
    }
    ch_track *t = s_open("show", o.db);
    if (!t) {
        return 1;
    }
    ch_err err = {0};
    ch_track_run r;
    if (ch_track_run_get(t, o.pos[0], &r, &err) != 0) {
        fprintf(stderr, "cohort runs show: %s\n", err.msg);
        ch_track_close(&t);
        return 1;
    }
    ch_track_kv *params = NULL, *arts = NULL;
    ch_track_last *lasts = NULL;
    size_t np = 0, na = 0, nl = 0;
    if (ch_track_params_get(t, r.id, &params, &np, &err) != 0 ||
        ch_track_metrics_last(t, r.id, &lasts, &nl, &err) != 0 ||
        ch_track_artifacts_get(t, r.id, &arts, &na, &err) != 0) {
        fprintf(stderr, "cohort runs show: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    char started[32], ended[32], dur[32];
    s_fmt_time(r.start_time, started, sizeof started);
    s_fmt_time(r.end_time, ended, sizeof ended);
    double end = isnan(r.end_time) && !strcmp(r.status, "running") ? s_now() : r.end_time;
    s_fmt_duration(end - r.start_time, dur, sizeof dur);
    printf("run         %s\n", r.id);
    printf("experiment  %s\n", r.experiment ? r.experiment : "-");
    if (r.name && (!r.experiment || strcmp(r.name, r.experiment))) {
        printf("name        %s\n", r.name);
    }
    printf("status      %s\n", r.status);
    printf("algorithm   %s\n", r.algorithm ? r.algorithm : "-");
    printf("started     %s\n", started);
    printf("ended       %s\n", ended);
    printf("duration    %s\n", dur);
    printf("host        %s (pid %lld)\n", r.host ? r.host : "-", (long long)r.pid);
    printf("run dir     %s\n", r.run_dir ? r.run_dir : "-");
    printf("git commit  %s\n", r.git_commit ? r.git_commit : "-");

    if (np > 0) {
        printf("\nparams\n");
        s_table tb = {.ncols = 2};
        s_cell(&tb, "KEY");
        s_cell(&tb, "VALUE");
        for (size_t i = 0; i < np; i++) {
            s_cell(&tb, params[i].key);
            s_cell(&tb, params[i].value ? params[i].value : "");
        }
        s_table_print(&tb, stdout, "  ");
        s_table_free(&tb);
    }
    if (nl > 0) {
        printf("\nmetrics (last value)\n");
        s_table tb = {.ncols = 4};
        s_cell(&tb, "KEY");
        s_cell(&tb, "STEP");
        s_cell(&tb, "VALUE");
        s_cell(&tb, "POINTS");
        for (size_t i = 0; i < nl; i++) {
            char step[32], val[32], cnt[32];
            snprintf(step, sizeof step, "%lld", (long long)lasts[i].step);
            s_fmt_value(lasts[i].value, val, sizeof val);
            snprintf(cnt, sizeof cnt, "%lld", (long long)lasts[i].count);
            s_cell(&tb, lasts[i].key);
            s_cell(&tb, step);
            s_cell(&tb, val);
            s_cell(&tb, cnt);
        }
        s_table_print(&tb, stdout, "  ");
        s_table_free(&tb);
    }
    if (na > 0) {
        printf("\nartifacts\n");
        s_table tb = {.ncols = 2};
        s_cell(&tb, "NAME");
        s_cell(&tb, "PATH");
        for (size_t i = 0; i < na; i++) {
            s_cell(&tb, arts[i].key);
            s_cell(&tb, arts[i].value);
        }
        s_table_print(&tb, stdout, "  ");
        s_table_free(&tb);
    }
    if (o.config) {
        printf("\nconfig\n%s", r.config_yaml ? r.config_yaml : "(none recorded)\n");
        if (r.config_yaml && r.config_yaml[0] && r.config_yaml[strlen(r.config_yaml) - 1] != '\n') {
            putchar('\n');
        }
    }
out:
    ch_track_kvs_free(&params, np);
    ch_track_kvs_free(&arts, na);
    ch_track_lasts_free(&lasts, nl);
    ch_track_run_clear(&r);
    ch_track_close(&t);
    return rc;
}

/* --- compare and export share a loaded view of several runs ------------------ */

typedef struct s_loaded {
    ch_track_run run;
    ch_track_kv *params;
    size_t np;
    ch_track_last *lasts;
    size_t nl;
} s_loaded;

static void s_loaded_free(s_loaded *l, size_t n)
{
    for (size_t i = 0; l && i < n; i++) {
        ch_track_run_clear(&l[i].run);
        ch_track_kvs_free(&l[i].params, l[i].np);
        ch_track_lasts_free(&l[i].lasts, l[i].nl);
    }
    free(l);
}

static int s_load(ch_track *t, s_loaded *l, ch_err *err)
{
    if (ch_track_params_get(t, l->run.id, &l->params, &l->np, err) != 0) {
        return err->code;
    }
    return ch_track_metrics_last(t, l->run.id, &l->lasts, &l->nl, err);
}

static const char *s_param(const s_loaded *l, const char *key)
{
    for (size_t i = 0; i < l->np; i++) {
        if (!strcmp(l->params[i].key, key)) {
            return l->params[i].value ? l->params[i].value : "";
        }
    }
    return NULL;
}

static const ch_track_last *s_last(const s_loaded *l, const char *key)
{
    for (size_t i = 0; i < l->nl; i++) {
        if (!strcmp(l->lasts[i].key, key)) {
            return &l->lasts[i];
        }
    }
    return NULL;
}

/* A sorted set of distinct strings (keys borrowed from the loaded runs). */
typedef struct s_keys {
    const char **k;
    size_t n, cap;
    bool failed;
} s_keys;

static void s_keys_add(s_keys *ks, const char *key)
{
    size_t lo = 0, hi = ks->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(ks->k[mid], key);
        if (c == 0) {
            return;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (ks->n == ks->cap) {
        size_t ncap = ks->cap ? ks->cap * 2 : 16;
        const char **p = realloc(ks->k, ncap * sizeof *p);
        if (!p) {
            ks->failed = true;
            return;
        }
        ks->k = p;
        ks->cap = ncap;
    }
    memmove(ks->k + lo + 1, ks->k + lo, (ks->n - lo) * sizeof *ks->k);
    ks->k[lo] = key;
    ks->n++;
}

/* min for keys that read as a loss or an error, max otherwise. */
static bool s_lower_is_better(const char *key)
{
    const char *words[] = {"loss", "error", "err", "rmse", "mse", "mae", "mape", "deviance"};
    char low[128];
    size_t i = 0;
    for (; key[i] && i + 1 < sizeof low; i++) {
        low[i] = (char)((key[i] >= 'A' && key[i] <= 'Z') ? key[i] + 32 : key[i]);
    }
    low[i] = '\0';
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        if (strstr(low, words[w])) {
            return true;
        }
    }
    return false;
}

typedef struct s_rank {
    size_t idx;
    double v;
} s_rank;

static int s_rank_cmp_max(const void *a, const void *b)
{
    const s_rank *x = a, *y = b;
    if (isnan(x->v) || isnan(y->v)) {
        return isnan(x->v) - isnan(y->v);
    }
    return (x->v < y->v) - (x->v > y->v);
}

static int s_rank_cmp_min(const void *a, const void *b)
{
    const s_rank *x = a, *y = b;
    if (isnan(x->v) || isnan(y->v)) {
        return isnan(x->v) - isnan(y->v);
    }
    return (x->v > y->v) - (x->v < y->v);
}

static int s_compare(int argc, char **argv)
{
    s_opts o;
    int rc = s_parse(argc, argv, "compare", S_OPT_DB | S_OPT_METRIC | S_OPT_GOAL, &o);
    if (rc) {
        return rc;
    }
    if (o.help) {
        fputs(S_HELP_COMPARE, stdout);
        return 0;
    }
    if (o.npos < 1) {
        fprintf(stderr, "cohort runs compare: give the run ids to compare (see cohort runs "
                        "compare --help)\n");
        return 2;
    }
    ch_track *t = s_open("compare", o.db);
    if (!t) {
        return 1;
    }
    ch_err err = {0};
    s_loaded *ls = calloc(o.npos, sizeof *ls);
    s_rank *rank = calloc(o.npos, sizeof *rank);
    s_keys mkeys = {0}, pkeys = {0};
    size_t nl = 0;
    rc = 0;
    if (!ls || !rank) {
        fprintf(stderr, "cohort runs compare: out of memory\n");
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < o.npos; i++) {
        if (ch_track_run_get(t, o.pos[i], &ls[i].run, &err) != 0) {
            fprintf(stderr, "cohort runs compare: %s\n", err.msg);
            rc = 1;
            goto out;
        }
        nl++;
        if (s_load(t, &ls[i], &err) != 0) {
            fprintf(stderr, "cohort runs compare: %s\n", err.msg);
            rc = 1;
            goto out;
        }
    }
    /* Metric columns: the chosen one, or the union of every run's metrics. */
    if (o.metric) {
        bool any = false;
        for (size_t i = 0; i < nl; i++) {
            any = any || s_last(&ls[i], o.metric) != NULL;
        }
        if (!any) {
            fprintf(stderr, "cohort runs compare: none of these runs has a metric '%s'\n",
                    o.metric);
            rc = 1;
            goto out;
        }
        s_keys_add(&mkeys, o.metric);
    } else {
        for (size_t i = 0; i < nl; i++) {
            for (size_t k = 0; k < ls[i].nl; k++) {
                s_keys_add(&mkeys, ls[i].lasts[k].key);
            }
        }
    }
    /* Param columns: keys whose value is not the same in every run. */
    for (size_t i = 0; i < nl; i++) {
        for (size_t k = 0; k < ls[i].np; k++) {
            const char *key = ls[i].params[k].key;
            const char *v0 = s_param(&ls[0], key);
            for (size_t j = 0; j < nl; j++) {
                const char *vj = s_param(&ls[j], key);
                if (!v0 || !vj || strcmp(v0, vj)) {
                    s_keys_add(&pkeys, key);
                    break;
                }
            }
        }
    }
    if (mkeys.failed || pkeys.failed) {
        fprintf(stderr, "cohort runs compare: out of memory\n");
        rc = 1;
        goto out;
    }
    /* Row order: ranked by the metric, or as given. */
    bool lower = o.goal ? !strcmp(o.goal, "min") : (o.metric && s_lower_is_better(o.metric));
    for (size_t i = 0; i < nl; i++) {
        const ch_track_last *m = o.metric ? s_last(&ls[i], o.metric) : NULL;
        rank[i].idx = i;
        rank[i].v = m ? m->value : NAN;
    }
    if (o.metric) {
        qsort(rank, nl, sizeof *rank, lower ? s_rank_cmp_min : s_rank_cmp_max);
    }

    s_table tb = {.ncols = 3 + mkeys.n + (o.metric ? 1 : 0)};
    if (o.metric) {
        s_cell(&tb, "#");
    }
    s_cell(&tb, "RUN");
    s_cell(&tb, "ALGORITHM");
    s_cell(&tb, "STATUS");
    for (size_t k = 0; k < mkeys.n; k++) {
        s_cell(&tb, mkeys.k[k]);
    }
    for (size_t r = 0; r < nl; r++) {
        const s_loaded *l = &ls[rank[r].idx];
        if (o.metric) {
            char pos[32];
            bool best = r == 0 && !isnan(rank[r].v);
            snprintf(pos, sizeof pos, "%s%zu", best ? "*" : "", r + 1);
            s_cell(&tb, pos);
        }
        s_cell(&tb, l->run.id);
        s_cell(&tb, l->run.algorithm ? l->run.algorithm : "-");
        s_cell(&tb, l->run.status);
        for (size_t k = 0; k < mkeys.n; k++) {
            const ch_track_last *m = s_last(l, mkeys.k[k]);
            char val[32];
            if (m) {
                s_fmt_value(m->value, val, sizeof val);
            } else {
                snprintf(val, sizeof val, "-");
            }
            s_cell(&tb, val);
        }
    }
    s_table_print(&tb, stdout, "");
    s_table_free(&tb);
    if (o.metric && !isnan(rank[0].v)) {
        char val[32];
        s_fmt_value(rank[0].v, val, sizeof val);
        printf("\nbest: %s (%s = %s, %s is better)\n", ls[rank[0].idx].run.id, o.metric, val,
               lower ? "lower" : "higher");
    }
    if (pkeys.n > 0) {
        printf("\nparams that differ\n");
        s_table pt = {.ncols = 1 + pkeys.n};
        s_cell(&pt, "RUN");
        for (size_t k = 0; k < pkeys.n; k++) {
            s_cell(&pt, pkeys.k[k]);
        }
        for (size_t r = 0; r < nl; r++) {
            const s_loaded *l = &ls[rank[r].idx];
            s_cell(&pt, l->run.id);
            for (size_t k = 0; k < pkeys.n; k++) {
                const char *v = s_param(l, pkeys.k[k]);
                s_cell(&pt, v ? v : "-");
            }
        }
        s_table_print(&pt, stdout, "");
        s_table_free(&pt);
    }
out:
    free(mkeys.k);
    free(pkeys.k);
    free(rank);
    s_loaded_free(ls, nl);
    ch_track_close(&t);
    return rc;
}

/* --- export -------------------------------------------------------------- */

/* Writes one CSV field, quoted when it holds a comma, quote, newline or
 * leading/trailing space (RFC 4180). */
static void s_csv_field(FILE *f, const char *s, bool first)
{
    if (!first) {
        fputc(',', f);
    }
    if (!s) {
        return;
    }
    size_t len = strlen(s);
    bool quote = strpbrk(s, ",\"\r\n") != NULL || (len && (s[0] == ' ' || s[len - 1] == ' '));
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"') {
            fputc('"', f);
        }
        fputc(*p, f);
    }
    fputc('"', f);
}

static void s_csv_num(FILE *f, double v)
{
    if (isnan(v)) {
        fputs(",", f); /* empty: pandas reads NaN */
    } else {
        /* the shortest of 15 or 17 digits that reads back as the same double */
        char buf[40];
        snprintf(buf, sizeof buf, "%.15g", v);
        if (strtod(buf, NULL) != v) {
            snprintf(buf, sizeof buf, "%.17g", v);
        }
        fprintf(f, ",%s", buf);
    }
}

static int s_export_wide(ch_track *t, FILE *f, ch_track_run *runs, size_t n, ch_err *err)
{
    s_loaded *ls = calloc(n ? n : 1, sizeof *ls);
    if (!ls) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = 0;
    size_t nl = 0;
    s_keys pkeys = {0}, mkeys = {0};
    for (size_t i = 0; i < n && rc == 0; i++) {
        ls[i].run = runs[i]; /* borrowed: cleared before s_loaded_free */
        nl++;
        rc = s_load(t, &ls[i], err);
        for (size_t k = 0; rc == 0 && k < ls[i].np; k++) {
            s_keys_add(&pkeys, ls[i].params[k].key);
        }
        for (size_t k = 0; rc == 0 && k < ls[i].nl; k++) {
            s_keys_add(&mkeys, ls[i].lasts[k].key);
        }
    }
    if (rc == 0 && (pkeys.failed || mkeys.failed)) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        fputs("run_id,experiment,name,status,algorithm,start_time,end_time,host,pid,git_commit", f);
        for (size_t k = 0; k < pkeys.n; k++) {
            char col[512];
            snprintf(col, sizeof col, "param.%s", pkeys.k[k]);
            s_csv_field(f, col, false);
        }
        for (size_t k = 0; k < mkeys.n; k++) {
            char col[512];
            snprintf(col, sizeof col, "metric.%s", mkeys.k[k]);
            s_csv_field(f, col, false);
        }
        fputc('\n', f);
        for (size_t i = 0; i < nl; i++) {
            const ch_track_run *r = &ls[i].run;
            char st[40], en[40], pid[32];
            s_fmt_time_iso(r->start_time, st, sizeof st);
            s_fmt_time_iso(r->end_time, en, sizeof en);
            snprintf(pid, sizeof pid, "%lld", (long long)r->pid);
            s_csv_field(f, r->id, true);
            s_csv_field(f, r->experiment, false);
            s_csv_field(f, r->name, false);
            s_csv_field(f, r->status, false);
            s_csv_field(f, r->algorithm, false);
            s_csv_field(f, st, false);
            s_csv_field(f, en, false);
            s_csv_field(f, r->host, false);
            s_csv_field(f, pid, false);
            s_csv_field(f, r->git_commit, false);
            for (size_t k = 0; k < pkeys.n; k++) {
                s_csv_field(f, s_param(&ls[i], pkeys.k[k]), false);
            }
            for (size_t k = 0; k < mkeys.n; k++) {
                const ch_track_last *m = s_last(&ls[i], mkeys.k[k]);
                s_csv_num(f, m ? m->value : NAN);
            }
            fputc('\n', f);
        }
    }
    for (size_t i = 0; i < nl; i++) {
        memset(&ls[i].run, 0, sizeof ls[i].run);
    }
    free(pkeys.k);
    free(mkeys.k);
    s_loaded_free(ls, nl);
    return rc;
}

static int s_export_long(ch_track *t, FILE *f, ch_track_run *runs, size_t n, ch_err *err)
{
    fputs("run_id,key,step,value\n", f);
    for (size_t i = 0; i < n; i++) {
        ch_track_last *ls = NULL;
        size_t nl = 0;
        int rc = ch_track_metrics_last(t, runs[i].id, &ls, &nl, err);
        for (size_t k = 0; rc == 0 && k < nl; k++) {
            int64_t *steps = NULL;
            double *vals = NULL;
            size_t np = 0;
            rc = ch_track_metric_series(t, runs[i].id, ls[k].key, &steps, &vals, &np, err);
            for (size_t p = 0; rc == 0 && p < np; p++) {
                s_csv_field(f, runs[i].id, true);
                s_csv_field(f, ls[k].key, false);
                fprintf(f, ",%lld", (long long)steps[p]);
                s_csv_num(f, vals[p]);
                fputc('\n', f);
            }
            free(steps);
            free(vals);
        }
        ch_track_lasts_free(&ls, nl);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int s_export(int argc, char **argv)
{
    s_opts o;
    int rc = s_parse(argc, argv, "export", S_OPT_DB | S_OPT_CSV | S_OPT_OUT | S_OPT_METRICS, &o);
    if (rc) {
        return rc;
    }
    if (o.help) {
        fputs(S_HELP_EXPORT, stdout);
        return 0;
    }
    if (!o.csv) {
        fprintf(stderr, "cohort runs export: say which format: --csv (the only one)\n");
        return 2;
    }
    if (o.npos > 0) {
        fprintf(stderr, "cohort runs export: unexpected argument '%s'\n", o.pos[0]);
        return 2;
    }
    ch_track *t = s_open("export", o.db);
    if (!t) {
        return 1;
    }
    ch_err err = {0};
    ch_track_run *runs = NULL;
    size_t n = 0;
    if (ch_track_runs_list(t, 0, &runs, &n, &err) != 0) {
        fprintf(stderr, "cohort runs export: %s\n", err.msg);
        ch_track_close(&t);
        return 1;
    }
    FILE *f = stdout;
    if (o.out && !(f = fopen(o.out, "w"))) {
        fprintf(stderr, "cohort runs export: cannot write %s: %s\n", o.out, strerror(errno));
        ch_track_runs_free(&runs, n);
        ch_track_close(&t);
        return 1;
    }
    rc = o.metrics ? s_export_long(t, f, runs, n, &err) : s_export_wide(t, f, runs, n, &err);
    if (rc != 0) {
        fprintf(stderr, "cohort runs export: %s\n", err.msg);
    }
    int ferr = fflush(f) != 0 || ferror(f);
    if (f != stdout) {
        ferr |= fclose(f) != 0;
    }
    if (rc == 0 && ferr) {
        fprintf(stderr, "cohort runs export: write to %s failed: %s\n", o.out ? o.out : "stdout",
                strerror(errno));
        rc = 1;
    }
    ch_track_runs_free(&runs, n);
    ch_track_close(&t);
    return rc ? 1 : 0;
}

int ch_cmd_runs(int argc, char **argv)
{
    if (argc < 2) {
        fputs(S_USAGE, stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
        fputs(S_USAGE, stdout);
        return 0;
    }
    if (!strcmp(sub, "list")) {
        return s_list(argc, argv);
    }
    if (!strcmp(sub, "show")) {
        return s_show(argc, argv);
    }
    if (!strcmp(sub, "compare")) {
        return s_compare(argc, argv);
    }
    if (!strcmp(sub, "export")) {
        return s_export(argc, argv);
    }
    fprintf(stderr,
            "cohort runs: unknown action '%s' (expected list, show, compare or export; see "
            "cohort runs --help)\n",
            sub);
    return 2;
}
