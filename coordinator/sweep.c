/* sweep.c: grid and random hyperparameter sweeps (see sweep.h). */
#include "coordinator/sweep.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "common/rng.h"
#include "common/experiment.h"
#include "coordinator/engine.h"
#include "coordinator/launch.h"
#include "coordinator/outputs.h"
#include "coordinator/plan.h"
#include "coordinator/run_report.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_MAX_TRIALS 10000
#define S_MAX_KEYS   32
#define S_MAX_VALUES 256

bool ch_sweep_is(const ch_config *c)
{
    return ch_config_has(c, "sweep");
}

void ch_sweep_free(ch_sweep *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        ch_config_destroy(&s->trials[i].cfg);
        free(s->trials[i].label);
    }
    free(s->trials);
    free(s->metric);
    ch_config_destroy(&s->base);
    memset(s, 0, sizeof *s);
}

/* One swept key: its dotted name and its values as YAML flow text. */
typedef struct s_axis {
    char key[256];
    size_t n;
    char *values[S_MAX_VALUES];
} s_axis;

static void s_axes_free(s_axis *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t v = 0; v < a[i].n; v++) {
            free(a[i].values[v]);
        }
    }
}

/* Adds a trial: base plus "key=value" overrides. */
static int s_add_trial(ch_sweep *s, char *const *assign, size_t n_assign, ch_err *err)
{
    if (s->n == S_MAX_TRIALS) {
        return ch_err_set(err, CH_EINVAL, "a sweep has at most %d trials", S_MAX_TRIALS);
    }
    ch_trial *t = &s->trials[s->n];
    memset(t, 0, sizeof *t);
    t->index = s->n;
    t->cfg = ch_config_copy(s->base);
    ch_buf label;
    ch_buf_init(&label);
    if (!t->cfg) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < n_assign; k++) {
        int rc = ch_config_set(t->cfg, assign[k], err);
        if (rc) {
            ch_buf_free(&label);
            ch_config_destroy(&t->cfg);
            return ch_err_prefix(err, "sweep");
        }
        ch_buf_printf(&label, "%s%s", k ? " " : "", assign[k]);
    }
    t->label = ch_buf_take(&label);
    s->n++;
    return 0;
}

static int s_grid(const ch_config *cfg, ch_sweep *s, ch_err *err)
{
    size_t n_axes = ch_config_len(cfg, "sweep.grid");
    if (ch_config_type(cfg, "sweep.grid") != CH_CFG_MAP || n_axes == 0) {
        return ch_err_set(err, CH_EINVAL, "%s: sweep.grid is empty: give KEY: [values...]",
                          ch_config_where(cfg, "sweep.grid"));
    }
    if (n_axes > S_MAX_KEYS) {
        return ch_err_set(err, CH_EINVAL, "sweep.grid: at most %d keys", S_MAX_KEYS);
    }
    s_axis axes[S_MAX_KEYS];
    memset(axes, 0, sizeof axes);
    int rc = 0;
    size_t total = 1;
    for (size_t i = 0; i < n_axes && rc == 0; i++) {
        ch_config *e = ch_config_entry(cfg, "sweep.grid", i);
        snprintf(axes[i].key, sizeof axes[i].key, "%s", ch_config_key(cfg, "sweep.grid", i));
        ch_cfg_type t = e ? ch_config_type(e, "value") : CH_CFG_NONE;
        size_t nv = t == CH_CFG_SEQ ? ch_config_len(e, "value") : (t == CH_CFG_SCALAR ? 1 : 0);
        if (nv == 0 || nv > S_MAX_VALUES) {
            rc = ch_err_set(err, CH_EINVAL, "%s: sweep.grid.%s needs a list of 1 to %d values",
                            e ? ch_config_where(e, "value") : ch_config_name(cfg), axes[i].key,
                            S_MAX_VALUES);
        }
        for (size_t v = 0; v < nv && rc == 0; v++) {
            char p[32];
            snprintf(p, sizeof p, t == CH_CFG_SEQ ? "value.%zu" : "value", v);
            if (ch_config_type(e, p) != CH_CFG_SCALAR) {
                rc = ch_err_set(err, CH_EINVAL, "%s: sweep.grid.%s: values must be scalars",
                                ch_config_where(e, p), axes[i].key);
                break;
            }
            const char *text;
            ch_cfg_str(e, p, NULL, &text, NULL);
            size_t n = strlen(axes[i].key) + strlen(text) + 2;
            axes[i].values[v] = malloc(n);
            if (!axes[i].values[v]) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
                break;
            }
            snprintf(axes[i].values[v], n, "%s=%s", axes[i].key, text);
            axes[i].n++;
        }
        ch_config_destroy(&e);
        if (rc == 0 && (total *= axes[i].n) > S_MAX_TRIALS) {
            rc = ch_err_set(err, CH_EINVAL, "sweep.grid gives more than %d trials", S_MAX_TRIALS);
        }
    }
    if (rc == 0) {
        s->trials = calloc(total, sizeof *s->trials);
        if (!s->trials) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    /* every combination, the last key varying fastest */
    for (size_t t = 0; t < total && rc == 0; t++) {
        char *assign[S_MAX_KEYS];
        size_t r = t;
        for (size_t i = n_axes; i-- > 0;) {
            assign[i] = axes[i].values[r % axes[i].n];
            r /= axes[i].n;
        }
        rc = s_add_trial(s, assign, n_axes, err);
    }
    s_axes_free(axes, n_axes);
    return rc;
}

static int s_random(const ch_config *cfg, uint64_t seed, ch_sweep *s, ch_err *err)
{
    ch_config *c = ch_config_copy(cfg);
    if (!c) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    long n;
    int rc = ch_cfg_int(c, "sweep.random.n", 10, 1, S_MAX_TRIALS, &n, err);
    size_t n_keys = ch_config_len(c, "sweep.random.params");
    if (rc == 0 && (n_keys == 0 || n_keys > S_MAX_KEYS)) {
        rc = ch_err_set(err, CH_EINVAL, "%s: sweep.random.params needs 1 to %d keys",
                        ch_config_where(c, "sweep.random.params"), S_MAX_KEYS);
    }
    if (rc == 0) {
        s->trials = calloc((size_t)n, sizeof *s->trials);
        if (!s->trials) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    ch_rng r;
    ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_SWEEP, 0));
    for (long t = 0; t < n && rc == 0; t++) {
        char *assign[S_MAX_KEYS] = {0};
        for (size_t k = 0; k < n_keys && rc == 0; k++) {
            const char *key = ch_config_key(c, "sweep.random.params", k);
            ch_config *e = ch_config_entry(c, "sweep.random.params", k);
            char text[512];
            if (!e) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
                break;
            }
            if (ch_config_has(e, "value.values")) {
                size_t nv = ch_config_len(e, "value.values");
                if (nv == 0) {
                    rc = ch_err_set(err, CH_EINVAL, "%s: sweep.random.params.%s.values is empty",
                                    ch_config_where(e, "value.values"), key);
                } else {
                    char p[64];
                    snprintf(p, sizeof p, "value.values.%llu",
                             (unsigned long long)ch_rng_below(&r, nv));
                    const char *v;
                    rc = ch_cfg_str(e, p, NULL, &v, err);
                    if (rc == 0) {
                        snprintf(text, sizeof text, "%s=%s", key, v);
                    }
                }
            } else {
                double lo, hi;
                bool lg, integer;
                if ((rc = ch_cfg_num(e, "value.min", 0, -1e300, 1e300, &lo, err)) ||
                    (rc = ch_cfg_num(e, "value.max", 1, -1e300, 1e300, &hi, err)) ||
                    (rc = ch_cfg_bool(e, "value.log", false, &lg, err)) ||
                    (rc = ch_cfg_bool(e, "value.int", false, &integer, err))) {
                    ch_config_destroy(&e);
                    break;
                }
                if (!(hi >= lo) || (lg && !(lo > 0))) {
                    rc = ch_err_set(err, CH_EINVAL, "%s: sweep.random.params.%s: need min <= max%s",
                                    ch_config_where(e, "value"), key,
                                    lg ? " and min > 0 for log" : "");
                } else {
                    double u = ch_rng_uniform(&r);
                    double v = lg ? exp(log(lo) + u * (log(hi) - log(lo))) : lo + u * (hi - lo);
                    if (integer) {
                        snprintf(text, sizeof text, "%s=%.0f", key,
                                 floor(v + 0.5 > hi ? hi : v + 0.5));
                    } else {
                        snprintf(text, sizeof text, "%s=%.6g", key, v);
                    }
                }
            }
            ch_config_destroy(&e);
            if (rc == 0) {
                assign[k] = strdup(text);
                if (!assign[k]) {
                    rc = ch_err_set(err, CH_ENOMEM, "out of memory");
                }
            }
        }
        if (rc == 0) {
            rc = s_add_trial(s, assign, n_keys, err);
        }
        for (size_t k = 0; k < n_keys; k++) {
            free(assign[k]);
        }
    }
    ch_config_destroy(&c);
    return rc;
}

/* Checks the sweep block's own keys (metric, goal, parallel, grid|random). */
static int s_check_block(const ch_config *cfg, ch_err *err)
{
    static const char *const allowed[] = {"metric", "goal", "parallel", "grid", "random"};
    size_t n = ch_config_len(cfg, "sweep");
    for (size_t i = 0; i < n; i++) {
        const char *k = ch_config_key(cfg, "sweep", i);
        bool ok = false;
        for (size_t a = 0; a < sizeof allowed / sizeof allowed[0]; a++) {
            ok = ok || (k && strcmp(k, allowed[a]) == 0);
        }
        if (!ok) {
            char path[300];
            snprintf(path, sizeof path, "sweep.%s", k ? k : "?");
            return ch_err_set(err, CH_EINVAL,
                              "%s: unknown key '%s' in sweep (known: metric, goal, parallel, "
                              "grid, random)",
                              ch_config_where(cfg, path), k ? k : "?");
        }
    }
    return 0;
}

int ch_sweep_expand(const ch_config *cfg, long n_workers, ch_sweep *out, ch_err *err)
{
    memset(out, 0, sizeof *out);
    ch_config *c = ch_config_copy(cfg);
    if (!c) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    static const char *const goals[] = {"max", "min", NULL};
    int goal = 0;
    long seed;
    const char *metric;
    int rc = 0;
    if ((rc = s_check_block(c, err)) || (rc = ch_cfg_str(c, "sweep.metric", NULL, &metric, err)) ||
        (rc = ch_cfg_enum(c, "sweep.goal", "max", goals, &goal, err)) ||
        (rc = ch_cfg_int(c, "sweep.parallel", 0, 0, 1024, &out->parallel, err)) ||
        (rc = ch_cfg_int(c, "seed", 42, 0, 0x7fffffffffffffffL, &seed, err))) {
        ch_config_destroy(&c);
        return rc;
    }
    out->metric = strdup(metric);
    out->goal_max = goal == 0;
    out->base = ch_config_copy(c);
    bool grid = ch_config_has(c, "sweep.grid"), random = ch_config_has(c, "sweep.random");
    if (!out->base || !out->metric) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    } else if (grid == random) {
        rc = ch_err_set(err, CH_EINVAL, "%s: a sweep needs exactly one of grid: or random:",
                        ch_config_where(c, "sweep"));
    } else {
        ch_config_remove(out->base, "sweep");
        rc = grid ? s_grid(c, out, err) : s_random(c, (uint64_t)seed, out, err);
    }
    ch_config_destroy(&c);
    /* The trials differ only in values: the first one shows whether every
     * swept key exists (an unknown key fails here, before anything runs); a
     * value out of range fails its own trial with the usual message. */
    if (rc == 0 && out->n > 0) {
        ch_buf ignore;
        ch_buf_init(&ignore);
        rc = ch_plan_describe(out->trials[0].cfg, n_workers, &ignore, err);
        ch_buf_free(&ignore);
        if (rc) {
            ch_err_prefix(err, "sweep trial 0 (%s)", out->trials[0].label);
        }
    }
    if (rc) {
        ch_sweep_free(out);
    }
    return rc;
}

char *ch_sweep_trial_dir(const char *dir, size_t index)
{
    char name[32];
    snprintf(name, sizeof name, "trial-%03zu", index);
    return ch_path_join(dir, name);
}

bool ch_sweep_trial_done(const char *dir, size_t index)
{
    char *td = ch_sweep_trial_dir(dir, index);
    char *sp = td ? ch_path_join(td, "summary.json") : NULL;
    free(td);
    size_t len;
    uint8_t *text = sp ? ch_read_file(sp, 64 << 20, &len, NULL) : NULL;
    free(sp);
    ch_json *j = text ? ch_json_parse((const char *)text, len, NULL) : NULL;
    free(text);
    const char *st = ch_json_str(ch_json_get(j, "status"));
    bool done = st && strcmp(st, "finished") == 0;
    ch_json_destroy(&j);
    return done;
}

char *ch_sweep_write_trial(const char *dir, const ch_trial *t, ch_err *err)
{
    ch_config *c = ch_config_copy(t->cfg);
    if (!c) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    const char *name = "sweep";
    ch_cfg_str(c, "name", "sweep", &name, NULL);
    char trial_name[300];
    snprintf(trial_name, sizeof trial_name, "%s-t%03zu", name, t->index);
    char file[32];
    snprintf(file, sizeof file, "trial-%03zu.yaml", t->index);
    char *path = ch_path_join(dir, file);
    char *yaml = NULL;
    int rc = path ? ch_experiment_resolve_paths(c, err) : CH_ENOMEM;
    if (rc == 0) {
        rc = ch_config_set_str(c, "name", trial_name, err);
    }
    if (rc == 0 && !(yaml = ch_config_emit(c))) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        ch_buf b;
        ch_buf_init(&b);
        ch_buf_printf(&b, "# trial %zu of a sweep: %s\n%s", t->index, t->label, yaml);
        rc = ch_write_file_atomic(path, b.data, b.len, err);
        ch_buf_free(&b);
    }
    free(yaml);
    ch_config_destroy(&c);
    if (rc) {
        free(path);
        return NULL;
    }
    return path;
}

/* The metric of finished trial i, NaN if none. */
static double s_trial_metric(const char *dir, size_t i, const char *metric, const char **status,
                             char *status_buf, size_t size)
{
    char *td = ch_sweep_trial_dir(dir, i);
    char *sp = td ? ch_path_join(td, "summary.json") : NULL;
    free(td);
    size_t len;
    uint8_t *text = sp ? ch_read_file(sp, 64 << 20, &len, NULL) : NULL;
    free(sp);
    ch_json *j = text ? ch_json_parse((const char *)text, len, NULL) : NULL;
    free(text);
    const ch_json *m = ch_json_get(ch_json_get(j, "metrics"), metric);
    double v = m ? ch_json_num(m) : NAN;
    const char *st = ch_json_str(ch_json_get(j, "status"));
    snprintf(status_buf, size, "%s", st ? st : "missing");
    *status = status_buf;
    ch_json_destroy(&j);
    return v;
}

/* When every trial sets the same single key to a number ("model.k=4"),
 * that key's name into name (size bytes) and each trial's number into x;
 * false otherwise (several keys, or a non-numeric value). */
static bool s_one_numeric_key(const ch_sweep *s, char *name, size_t size, double *x)
{
    for (size_t i = 0; i < s->n; i++) {
        const char *lab = s->trials[i].label, *eq = strchr(lab, '=');
        if (!eq || strchr(lab, ' ') || (size_t)(eq - lab) >= size) {
            return false;
        }
        if (i == 0) {
            snprintf(name, size, "%.*s", (int)(eq - lab), lab);
        } else if (strlen(name) != (size_t)(eq - lab) || strncmp(name, lab, eq - lab) != 0) {
            return false;
        }
        char *end;
        x[i] = strtod(eq + 1, &end);
        if (end == eq + 1 || *end || !isfinite(x[i])) {
            return false;
        }
    }
    return s->n >= 2;
}

int ch_sweep_finish(const ch_sweep *s, const char *dir, ch_err *err)
{
    size_t n = s->n;
    double *v = calloc(n ? n : 1, sizeof *v);
    size_t *rank = calloc(n ? n : 1, sizeof *rank);
    char(*status)[16] = calloc(n ? n : 1, sizeof *status);
    char **dirs = calloc(n ? n : 1, sizeof *dirs);
    char **labels = calloc(n ? n : 1, sizeof *labels);
    if (!v || !rank || !status || !dirs || !labels) {
        free(v);
        free(rank);
        free(status);
        free(dirs);
        free(labels);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const char *st;
        v[i] = s_trial_metric(dir, i, s->metric, &st, status[i], sizeof status[i]);
        rank[i] = i;
        dirs[i] = ch_sweep_trial_dir(dir, i);
        char lab[600];
        snprintf(lab, sizeof lab, "t%03zu %s", i, s->trials[i].label);
        labels[i] = strdup(lab);
    }
    for (size_t a = 0; a < n; a++) {
        for (size_t b = a + 1; b < n; b++) {
            double x = v[rank[a]], y = v[rank[b]];
            bool swap = isnan(x) ? !isnan(y) : (!isnan(y) && (s->goal_max ? y > x : y < x));
            if (swap) {
                size_t t = rank[a];
                rank[a] = rank[b];
                rank[b] = t;
            }
        }
    }
    printf("\nsweep: %zu trials ranked by %s (%s is better)\n", n, s->metric,
           s->goal_max ? "higher" : "lower");
    printf("   rank trial  %-14s %-9s params\n", s->metric, "status");
    ch_buf j;
    ch_buf_init(&j);
    ch_buf_puts(&j, "{\n  \"metric\": ");
    ch_buf_json_str(&j, s->metric);
    ch_buf_printf(&j, ",\n  \"goal\": \"%s\",\n  \"best\": ", s->goal_max ? "max" : "min");
    if (n && !isnan(v[rank[0]])) {
        ch_buf_printf(&j, "%zu", rank[0]);
    } else {
        ch_buf_puts(&j, "null");
    }
    ch_buf_puts(&j, ",\n  \"trials\": [");
    for (size_t k = 0; k < n; k++) {
        size_t i = rank[k];
        printf(" %s %3zu  t%03zu  %-14.6g %-9s %s\n", k == 0 && !isnan(v[i]) ? "*" : " ", k + 1, i,
               v[i], status[i], s->trials[i].label);
        ch_buf_puts(&j, k ? ",\n    {\"trial\": " : "\n    {\"trial\": ");
        ch_buf_printf(&j, "%zu, \"rank\": %zu, \"status\": ", i, k + 1);
        ch_buf_json_str(&j, status[i]);
        ch_buf_puts(&j, ", \"value\": ");
        ch_buf_json_num(&j, v[i]);
        ch_buf_puts(&j, ", \"params\": ");
        ch_buf_json_str(&j, s->trials[i].label);
        ch_buf_puts(&j, "}");
    }
    ch_buf_puts(&j, "\n  ]\n}\n");
    char *sp = ch_path_join(dir, "sweep.json");
    int rc = sp ? ch_write_file_atomic(sp, j.data, j.len, err) : CH_ENOMEM;
    free(sp);
    ch_buf_free(&j);
    if (rc == 0) {
        const char *name = "sweep";
        ch_cfg_str(s->base, "name", "sweep", &name, NULL);
        char key[256];
        double *x = calloc(n ? n : 1, sizeof *x);
        bool axis = x && s_one_numeric_key(s, key, sizeof key, x);
        rc = ch_index_report_axis(dir, name, (const char *const *)dirs, (const char *const *)labels,
                                  n, s->metric, s->goal_max, axis ? key : NULL, axis ? x : NULL,
                                  err);
        free(x);
    }
    size_t finished = 0;
    for (size_t i = 0; i < n; i++) {
        finished += strcmp(status[i], "finished") == 0;
        free(dirs[i]);
        free(labels[i]);
    }
    printf("%zu of %zu trials finished; table in %s/sweep.json, report %s/index.html\n", finished,
           n, dir, dir);
    free(v);
    free(rank);
    free(status);
    free(dirs);
    free(labels);
    if (rc == 0 && finished < n) {
        rc = ch_err_set(err, CH_EINVAL,
                        "%zu trials did not finish (see DIR/trial-NNN.log); `cohort run --resume "
                        "%s` runs only those",
                        n - finished, dir);
    }
    return rc;
}

int ch_sweep_run_local(ch_sweep *s, const ch_sweep_opts *o, char *dir, size_t dir_size, ch_err *err)
{
    char *d = NULL;
    if (o->out_dir) {
        d = strdup(o->out_dir);
    } else {
        const char *name = "sweep";
        char id[160];
        ch_cfg_str(s->base, "name", "sweep", &name, NULL);
        ch_outputs_run_id(name, id, sizeof id);
        d = ch_path_join("runs", id);
    }
    if (!d) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    snprintf(dir, dir_size, "%s", d);
    int rc = ch_mkdirs(d, err);
    long workers = o->n_workers;
    if (workers <= 0) {
        ch_cfg_int(s->base, "workers", 2, 1, 4096, &workers, NULL);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long parallel = s->parallel > 0 ? s->parallel : (cores > 0 ? cores : 1) / (workers + 1);
    if (parallel < 1) {
        parallel = 1;
    }
    printf("sweep: %zu trials, %ld at a time, %ld workers each, in %s\n", s->n, parallel, workers,
           d);
    pid_t *pids = calloc(s->n ? s->n : 1, sizeof *pids);
    if (!pids) {
        free(d);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    size_t next = 0, running = 0, done = 0;
    while (rc == 0 && (next < s->n || running > 0)) {
        while (rc == 0 && next < s->n && running < (size_t)parallel &&
               !ch_engine_stop_requested()) {
            size_t i = next++;
            if (o->resume && ch_sweep_trial_done(d, i)) {
                done++;
                printf("  trial %zu: finished before, skipped (--resume)\n", i);
                continue;
            }
            char *yaml = ch_sweep_write_trial(d, &s->trials[i], err);
            char *td = ch_sweep_trial_dir(d, i);
            if (!yaml || !td) {
                free(yaml);
                free(td);
                rc = err && err->code ? err->code : CH_ENOMEM;
                break;
            }
            char *logp = malloc(strlen(td) + 8);
            if (logp) {
                snprintf(logp, strlen(td) + 8, "%s.log", td);
            }
            pids[i] = ch_spawn_run(o->self_exe, yaml, td, o->n_workers, logp);
            free(logp);
            free(yaml);
            free(td);
            if (pids[i] < 0) {
                rc = ch_err_set(err, CH_EIO, "cannot start trial %zu: %s", i, strerror(errno));
                break;
            }
            running++;
        }
        if (running == 0) {
            break;
        }
        int st;
        pid_t p = waitpid(-1, &st, 0);
        if (p < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        for (size_t i = 0; i < s->n; i++) {
            if (pids[i] == p) {
                pids[i] = 0;
                running--;
                done++;
                char status[16];
                const char *stp;
                double v = s_trial_metric(d, i, s->metric, &stp, status, sizeof status);
                printf("  trial %zu (%zu/%zu) %s: %s=%.6g  [%s]\n", i, done, s->n, stp, s->metric,
                       v, s->trials[i].label);
                fflush(stdout);
            }
        }
    }
    /* a stop request: let the running trials mark themselves killed */
    while (running > 0) {
        int st;
        if (waitpid(-1, &st, 0) < 0 && errno != EINTR) {
            break;
        }
        running--;
    }
    free(pids);
    if (rc == 0) {
        rc = ch_sweep_finish(s, d, err);
    }
    if (rc == 0 && ch_engine_stop_requested()) {
        rc = ch_err_set(err, CH_EINTR, "sweep interrupted; `cohort run --resume %s` continues it",
                        d);
    }
    free(d);
    return rc;
}
