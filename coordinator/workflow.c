/* workflow.c: dependency-ordered steps, references, resume, comparisons
 * (see workflow.h). */
#include "coordinator/workflow.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "coordinator/engine.h"
#include "coordinator/launch.h"
#include "common/experiment.h"
#include "coordinator/outputs.h"
#include "coordinator/plan.h"
#include "coordinator/run_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_MAX_STEPS 256

typedef enum { S_EXPERIMENT = 0, S_COMPARE } s_kind;

typedef struct s_step {
    char *name;
    s_kind kind;
    ch_config *cfg; /* experiment steps */
    size_t deps[S_MAX_STEPS];
    size_t n_deps;
    char **compare; /* compare steps: names */
    size_t n_compare;
    const char *metric;
    bool goal_max;
    char *dir;
    bool done;
    char status[16];
} s_step;

typedef struct s_flow {
    ch_config *cfg;
    const char *path;
    char *base; /* directory of the workflow file */
    s_step steps[S_MAX_STEPS];
    size_t n;
    char *dir;
    const ch_workflow_opts *o;
} s_flow;

bool ch_workflow_is(const ch_config *c)
{
    return ch_config_has(c, "steps");
}

static long s_find(const s_flow *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++) {
        if (f->steps[i].name && strcmp(f->steps[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static int s_add_dep(s_step *s, size_t d)
{
    for (size_t i = 0; i < s->n_deps; i++) {
        if (s->deps[i] == d) {
            return 0;
        }
    }
    if (s->n_deps == S_MAX_STEPS) {
        return CH_EINVAL;
    }
    s->deps[s->n_deps++] = d;
    return 0;
}

/* --- references: ${steps.NAME.OUTPUT} ------------------------------------------ */

static const char *const s_outputs[] = {"dir",    "model", "summary", "report",
                                        "config", "data",  NULL};
static const char *const s_output_files[] = {
    "", "model.pb", "summary.json", "report.html", "config.yaml", "data.csv", NULL};

typedef struct s_refctx {
    s_flow *f;
    size_t step;     /* the step whose config is scanned */
    bool substitute; /* false: collect dependencies; true: replace */
} s_refctx;

static int s_refs(void *vctx, const char *text, char **repl, ch_err *err)
{
    s_refctx *ctx = vctx;
    s_flow *f = ctx->f;
    if (!strstr(text, "${")) {
        return 0;
    }
    ch_buf out;
    ch_buf_init(&out);
    const char *p = text;
    while (*p) {
        const char *open = strstr(p, "${");
        if (!open) {
            ch_buf_puts(&out, p);
            break;
        }
        ch_buf_append(&out, p, (size_t)(open - p));
        const char *close = strchr(open, '}');
        if (!close) {
            ch_buf_free(&out);
            return ch_err_set(err, CH_EINVAL, "step %s: unterminated reference in '%s'",
                              f->steps[ctx->step].name, text);
        }
        char ref[256];
        snprintf(ref, sizeof ref, "%.*s", (int)(close - open - 2), open + 2);
        char *dot1 = strncmp(ref, "steps.", 6) == 0 ? ref + 6 : NULL;
        char *dot2 = dot1 ? strrchr(dot1, '.') : NULL;
        if (!dot2) {
            ch_buf_free(&out);
            return ch_err_set(err, CH_EINVAL,
                              "step %s: reference ${%s} is not of the form "
                              "${steps.NAME.OUTPUT}",
                              f->steps[ctx->step].name, ref);
        }
        *dot2 = 0;
        const char *output = dot2 + 1;
        long target = s_find(f, dot1);
        if (target < 0) {
            ch_buf_free(&out);
            return ch_err_set(err, CH_EINVAL, "step %s: reference ${%s.%s} names no step '%s'",
                              f->steps[ctx->step].name, ref, output, dot1);
        }
        int k = -1;
        for (int i = 0; s_outputs[i]; i++) {
            if (!strcmp(s_outputs[i], output)) {
                k = i;
            }
        }
        if (k < 0) {
            ch_buf_free(&out);
            return ch_err_set(err, CH_EINVAL,
                              "step %s: reference ${%s.%s}: unknown output '%s' (known: dir, "
                              "model, summary, report, config, data)",
                              f->steps[ctx->step].name, ref, output, output);
        }
        if ((size_t)target == ctx->step) {
            ch_buf_free(&out);
            return ch_err_set(err, CH_EINVAL, "step %s refers to its own outputs",
                              f->steps[ctx->step].name);
        }
        if (!ctx->substitute) {
            s_add_dep(&f->steps[ctx->step], (size_t)target);
        } else {
            /* absolute: the step that reads it resolves relative paths
             * against its own config file's folder, not the cwd */
            const char *dir = f->steps[target].dir;
            char cwd[4096];
            if (dir[0] != '/' && getcwd(cwd, sizeof cwd)) {
                ch_buf_printf(&out, "%s/", cwd);
            }
            ch_buf_puts(&out, dir);
            if (s_output_files[k][0]) {
                ch_buf_printf(&out, "/%s", s_output_files[k]);
            }
        }
        p = close + 1;
    }
    if (ctx->substitute) {
        *repl = ch_buf_take(&out);
    } else {
        ch_buf_free(&out);
    }
    return 0;
}

/* --- parsing ---------------------------------------------------------------------- */

static int s_names(ch_config *c, const char *path, char ***out, size_t *n, ch_err *err)
{
    *out = NULL;
    *n = 0;
    ch_cfg_type t = ch_config_type(c, path);
    if (t == CH_CFG_NONE) {
        return 0;
    }
    size_t count = t == CH_CFG_SEQ ? ch_config_len(c, path) : 1;
    *out = calloc(count ? count : 1, sizeof **out);
    if (!*out) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        char key[256];
        const char *v;
        if (t == CH_CFG_SEQ) {
            snprintf(key, sizeof key, "%s.%zu", path, i);
        } else {
            snprintf(key, sizeof key, "%s", path);
        }
        int rc = ch_cfg_str(c, key, NULL, &v, err);
        if (rc) {
            return rc;
        }
        (*out)[(*n)++] = strdup(v);
    }
    return 0;
}

static int s_parse(s_flow *f, ch_err *err)
{
    ch_config *c = f->cfg;
    if (ch_config_type(c, "steps") != CH_CFG_SEQ || ch_config_len(c, "steps") == 0) {
        return ch_err_set(err, CH_EINVAL, "%s: steps must be a non-empty list",
                          ch_config_where(c, "steps"));
    }
    f->n = ch_config_len(c, "steps");
    if (f->n > S_MAX_STEPS) {
        return ch_err_set(err, CH_EINVAL, "%s: at most %d steps", f->path, S_MAX_STEPS);
    }
    const char *wname;
    long wf_workers = 0;
    int rc = ch_cfg_str(c, "name", "workflow", &wname, err);
    if (rc == 0 && ch_config_has(c, "workers")) {
        rc = ch_cfg_int(c, "workers", 2, 1, 4096, &wf_workers, err);
    }
    if (rc) {
        return rc;
    }
    for (size_t i = 0; i < f->n; i++) {
        s_step *s = &f->steps[i];
        char key[128];
        const char *name;
        snprintf(key, sizeof key, "steps.%zu.name", i);
        if ((rc = ch_cfg_str(c, key, NULL, &name, err))) {
            return rc;
        }
        if (s_find(f, name) >= 0 && (size_t)s_find(f, name) < i) {
            return ch_err_set(err, CH_EINVAL, "%s: two steps are called '%s'",
                              ch_config_where(c, key), name);
        }
        s->name = strdup(name);
        if (!s->name) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < f->n; i++) {
        s_step *s = &f->steps[i];
        char key[128], use[128], exp[128], cmp[128], set[128];
        snprintf(use, sizeof use, "steps.%zu.use", i);
        snprintf(exp, sizeof exp, "steps.%zu.experiment", i);
        snprintf(cmp, sizeof cmp, "steps.%zu.compare", i);
        snprintf(set, sizeof set, "steps.%zu.set", i);
        int kinds = ch_config_has(c, use) + ch_config_has(c, exp) + ch_config_has(c, cmp);
        if (kinds != 1) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: step '%s' needs exactly one of use:, experiment: or compare:",
                              ch_config_where(c, use), s->name);
        }
        if (ch_config_has(c, cmp)) {
            s->kind = S_COMPARE;
            if ((rc = s_names(c, cmp, &s->compare, &s->n_compare, err))) {
                return rc;
            }
            snprintf(key, sizeof key, "steps.%zu.metric", i);
            if ((rc = ch_cfg_str(c, key, NULL, &s->metric, err))) {
                return rc;
            }
            static const char *const goals[] = {"max", "min", NULL};
            int goal;
            snprintf(key, sizeof key, "steps.%zu.goal", i);
            if ((rc = ch_cfg_enum(c, key, "max", goals, &goal, err))) {
                return rc;
            }
            s->goal_max = goal == 0;
            for (size_t k = 0; k < s->n_compare; k++) {
                long d = s_find(f, s->compare[k]);
                if (d < 0) {
                    return ch_err_set(err, CH_EINVAL, "%s: step '%s' compares an unknown step '%s'",
                                      ch_config_where(c, cmp), s->name, s->compare[k]);
                }
                s_add_dep(s, (size_t)d);
            }
        } else {
            s->kind = S_EXPERIMENT;
            if (ch_config_has(c, use)) {
                const char *file;
                if ((rc = ch_cfg_str(c, use, NULL, &file, err))) {
                    return rc;
                }
                char *full = file[0] == '/' ? strdup(file) : ch_path_join(f->base, file);
                s->cfg = full ? ch_config_load(full, err) : NULL;
                free(full);
                if (!s->cfg) {
                    return ch_err_prefix(err, "%s: step '%s'", ch_config_where(c, use), s->name);
                }
            } else {
                s->cfg = ch_config_subtree(c, exp);
                ch_config_mark_used(c, exp);
                if (!s->cfg) {
                    return ch_err_set(err, CH_EINVAL,
                                      "%s: step '%s': experiment must be a "
                                      "mapping",
                                      ch_config_where(c, exp), s->name);
                }
            }
            if ((rc = ch_config_apply_map(s->cfg, c, set, err))) {
                return rc;
            }
            if (wf_workers > 0 && !ch_config_has(s->cfg, "workers")) {
                char w[32];
                snprintf(w, sizeof w, "%ld", wf_workers);
                ch_config_set_str(s->cfg, "workers", w, NULL);
            }
            if (!ch_config_has(s->cfg, "name")) {
                ch_config_set_str(s->cfg, "name", s->name, NULL);
            }
        }
        char **after;
        size_t n_after;
        snprintf(key, sizeof key, "steps.%zu.after", i);
        if ((rc = s_names(c, key, &after, &n_after, err))) {
            return rc;
        }
        for (size_t k = 0; k < n_after && rc == 0; k++) {
            long d = s_find(f, after[k]);
            if (d < 0) {
                rc = ch_err_set(err, CH_EINVAL, "%s: step '%s' is after an unknown step '%s'",
                                ch_config_where(c, key), s->name, after[k]);
            } else if ((size_t)d == i) {
                rc = ch_err_set(err, CH_EINVAL, "%s: step '%s' is after itself",
                                ch_config_where(c, key), s->name);
            } else {
                s_add_dep(s, (size_t)d);
            }
        }
        for (size_t k = 0; k < n_after; k++) {
            free(after[k]);
        }
        free(after);
        if (rc) {
            return rc;
        }
    }
    /* references add dependencies; they are checked here, before anything runs */
    for (size_t i = 0; i < f->n; i++) {
        if (f->steps[i].cfg) {
            s_refctx ctx = {f, i, false};
            if ((rc = ch_config_map_scalars(f->steps[i].cfg, s_refs, &ctx, err))) {
                return rc;
            }
        }
    }
    static const char *const known[] = {
        "name",           "workers",      "parallel",           "steps.*.name",
        "steps.*.use",    "steps.*.set",  "steps.*.experiment", "steps.*.compare",
        "steps.*.metric", "steps.*.goal", "steps.*.after",      NULL};
    return ch_config_check_unused(c, known, err);
}

/* Dependency order (Kahn; file order among the ready). A cycle is an error
 * that names the steps on it. */
static int s_order(s_flow *f, size_t *order, ch_err *err)
{
    bool placed[S_MAX_STEPS] = {false};
    for (size_t k = 0; k < f->n; k++) {
        size_t pick = f->n;
        for (size_t i = 0; i < f->n && pick == f->n; i++) {
            if (placed[i]) {
                continue;
            }
            bool ready = true;
            for (size_t d = 0; d < f->steps[i].n_deps; d++) {
                ready = ready && placed[f->steps[i].deps[d]];
            }
            if (ready) {
                pick = i;
            }
        }
        if (pick == f->n) {
            ch_buf names;
            ch_buf_init(&names);
            for (size_t i = 0; i < f->n; i++) {
                if (!placed[i]) {
                    ch_buf_printf(&names, "%s%s", names.len ? ", " : "", f->steps[i].name);
                }
            }
            int rc = ch_err_set(err, CH_EINVAL,
                                "%s: the steps %s depend on each other in a "
                                "cycle (after: and ${steps...} references)",
                                f->path, ch_buf_str(&names));
            ch_buf_free(&names);
            return rc;
        }
        placed[pick] = true;
        order[k] = pick;
    }
    return 0;
}

/* --- running ---------------------------------------------------------------------- */

static bool s_finished(const char *dir)
{
    char *path = ch_path_join(dir, "summary.json");
    size_t len;
    uint8_t *text = path ? ch_read_file(path, 64 << 20, &len, NULL) : NULL;
    free(path);
    ch_json *j = text ? ch_json_parse((const char *)text, len, NULL) : NULL;
    free(text);
    bool done = j && ch_json_str(ch_json_get(j, "status")) &&
                strcmp(ch_json_str(ch_json_get(j, "status")), "finished") == 0;
    ch_json_destroy(&j);
    return done;
}

/* A compare step: ranks its steps by the metric; writes summary.json,
 * report.html (table and bar chart, winner marked) and prints the table. */
static int s_compare(s_flow *f, s_step *s, ch_err *err)
{
    int rc = ch_mkdirs(s->dir, err);
    if (rc) {
        return rc;
    }
    size_t n = s->n_compare;
    const char **dirs = calloc(n, sizeof *dirs);
    const char **labels = calloc(n, sizeof *labels);
    double *value = calloc(n, sizeof *value);
    size_t *rank = calloc(n, sizeof *rank);
    if (!dirs || !labels || !value || !rank) {
        free(dirs);
        free(labels);
        free(value);
        free(rank);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    char path[64];
    snprintf(path, sizeof path, "metrics.%s", s->metric);
    for (size_t k = 0; k < n; k++) {
        const s_step *o = &f->steps[s_find(f, s->compare[k])];
        dirs[k] = o->dir;
        labels[k] = o->name;
        value[k] = NAN;
        char *sp = ch_path_join(o->dir, "summary.json");
        size_t len;
        uint8_t *text = sp ? ch_read_file(sp, 64 << 20, &len, NULL) : NULL;
        free(sp);
        ch_json *j = text ? ch_json_parse((const char *)text, len, NULL) : NULL;
        free(text);
        if (j && ch_json_get(ch_json_get(j, "metrics"), s->metric)) {
            value[k] = ch_json_num(ch_json_path(j, path));
        }
        ch_json_destroy(&j);
        rank[k] = k;
    }
    /* rank: best first, missing values last */
    for (size_t a = 0; a < n; a++) {
        for (size_t b = a + 1; b < n; b++) {
            double x = value[rank[a]], y = value[rank[b]];
            bool swap = isnan(x) ? !isnan(y) : (!isnan(y) && (s->goal_max ? y > x : y < x));
            if (swap) {
                size_t t = rank[a];
                rank[a] = rank[b];
                rank[b] = t;
            }
        }
    }
    printf("\n%s: %s by %s (%s is better)\n", s->name, "ranking", s->metric,
           s->goal_max ? "higher" : "lower");
    for (size_t k = 0; k < n; k++) {
        size_t i = rank[k];
        printf("  %s %zu. %-24s %.6g\n", k == 0 && !isnan(value[i]) ? "*" : " ", k + 1, labels[i],
               value[i]);
    }
    ch_buf j;
    ch_buf_init(&j);
    ch_buf_puts(&j, "{\n  \"status\": \"finished\",\n  \"kind\": \"compare\",\n  \"metric\": ");
    ch_buf_json_str(&j, s->metric);
    ch_buf_printf(&j, ",\n  \"goal\": \"%s\",\n  \"winner\": ", s->goal_max ? "max" : "min");
    if (n && !isnan(value[rank[0]])) {
        ch_buf_json_str(&j, labels[rank[0]]);
    } else {
        ch_buf_puts(&j, "null");
    }
    ch_buf_puts(&j, ",\n  \"ranking\": [");
    for (size_t k = 0; k < n; k++) {
        ch_buf_puts(&j, k ? ",\n    {\"step\": " : "\n    {\"step\": ");
        ch_buf_json_str(&j, labels[rank[k]]);
        ch_buf_puts(&j, ", \"value\": ");
        ch_buf_json_num(&j, value[rank[k]]);
        ch_buf_puts(&j, "}");
    }
    ch_buf_puts(&j, "\n  ]\n}\n");
    char *sp = ch_path_join(s->dir, "summary.json");
    rc = sp ? ch_write_file_atomic(sp, j.data, j.len, err) : CH_ENOMEM;
    free(sp);
    ch_buf_free(&j);
    if (rc == 0) {
        rc = ch_index_report(s->dir, s->name, dirs, labels, n, s->metric, s->goal_max, err);
    }
    if (n && !isnan(value[rank[0]])) {
        printf("  winner: %s\n", labels[rank[0]]);
    }
    free(dirs);
    free(labels);
    free(value);
    free(rank);
    return rc;
}

static int s_run_step(s_flow *f, s_step *s, ch_err *err)
{
    if (s->kind == S_COMPARE) {
        return s_compare(f, s, err);
    }
    s_refctx ctx = {f, (size_t)(s - f->steps), true};
    int rc = ch_config_map_scalars(s->cfg, s_refs, &ctx, err);
    if (rc) {
        return rc;
    }
    if (f->o->plan_only) {
        ch_buf out;
        ch_buf_init(&out);
        rc = ch_plan_describe(s->cfg, f->o->n_workers, &out, err);
        printf("=== step %s\n%s\n", s->name, ch_buf_str(&out));
        ch_buf_free(&out);
        return rc;
    }
    ch_run_opts ro = {
        .cfg = s->cfg,
        .out_dir = s->dir,
        .mode = CH_LAUNCH_LOCAL,
        .n_workers = f->o->n_workers,
        .self_exe = NULL,
    };
    s->cfg = NULL; /* taken by the run */
    ch_run_result res;
    extern const char *ch_self_exe(void);
    ro.self_exe = ch_self_exe();
    printf("\n=== step %s\n", s->name);
    fflush(stdout);
    rc = ch_coordinator_run(&ro, &res, err);
    snprintf(s->status, sizeof s->status, "%s", res.status[0] ? res.status : "failed");
    if (rc == 0) {
        printf("  %s: finished, results in %s\n", s->name, s->dir);
    }
    return rc;
}

/* Runs the workflow with up to `parallel` experiment steps at once, each a
 * `cohort run` child process with its output in DIR/<step>.log. A step whose
 * dependency failed is skipped; independent steps go on. */
static int s_run_parallel(s_flow *f, const size_t *order, long parallel, size_t *done_out,
                          ch_err *err)
{
    enum { PENDING, RUNNING, DONE, FAILED, SKIPPED } st[S_MAX_STEPS];
    pid_t pid[S_MAX_STEPS];
    for (size_t i = 0; i < f->n; i++) {
        st[i] = PENDING;
        pid[i] = 0;
    }
    size_t running = 0, failed = 0;
    int rc = 0;
    for (;;) {
        for (size_t k = 0; k < f->n && rc == 0; k++) {
            size_t i = order[k];
            s_step *s = &f->steps[i];
            if (st[i] != PENDING) {
                continue;
            }
            bool ready = true, blocked = false;
            for (size_t d = 0; d < s->n_deps; d++) {
                int ds = st[s->deps[d]];
                ready = ready && ds == DONE;
                blocked = blocked || ds == FAILED || ds == SKIPPED;
            }
            if (blocked) {
                st[i] = SKIPPED;
                printf("=== step %s: not run, a step it depends on did not finish\n", s->name);
                continue;
            }
            if (!ready) {
                continue;
            }
            if (f->o->resume && s_finished(s->dir)) {
                printf("=== step %s: finished before, skipped (--resume)\n", s->name);
                st[i] = DONE;
                continue;
            }
            if (s->kind == S_COMPARE) {
                ch_err cerr;
                ch_err_clear(&cerr);
                st[i] = s_compare(f, s, &cerr) == 0 ? DONE : FAILED;
                if (st[i] == FAILED) {
                    printf("=== step %s failed: %s\n", s->name, cerr.msg);
                }
                continue;
            }
            if (running >= (size_t)parallel) {
                continue;
            }
            s_refctx ctx = {f, i, true};
            char *yaml = NULL, *path = NULL, *logp = NULL;
            if ((rc = ch_config_map_scalars(s->cfg, s_refs, &ctx, err)) ||
                (rc = ch_experiment_resolve_paths(s->cfg, err)) || (rc = ch_mkdirs(f->dir, err))) {
                break;
            }
            yaml = ch_config_emit(s->cfg);
            size_t n = strlen(s->dir) + 16;
            path = malloc(n);
            logp = malloc(n);
            if (!yaml || !path || !logp) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            } else {
                snprintf(path, n, "%s.yaml", s->dir);
                snprintf(logp, n, "%s.log", s->dir);
                rc = ch_write_file_atomic(path, yaml, strlen(yaml), err);
            }
            if (rc == 0) {
                extern const char *ch_self_exe(void);
                pid[i] = ch_spawn_run(ch_self_exe(), path, s->dir, f->o->n_workers, logp);
                if (pid[i] < 0) {
                    rc = ch_err_set(err, CH_EIO, "cannot start step %s: %s", s->name,
                                    strerror(errno));
                } else {
                    st[i] = RUNNING;
                    running++;
                    printf("=== step %s started (log: %s)\n", s->name, logp);
                    fflush(stdout);
                }
            }
            free(yaml);
            free(path);
            free(logp);
        }
        if (rc != 0 || running == 0) {
            break;
        }
        int status;
        pid_t p = waitpid(-1, &status, 0);
        if (p < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        for (size_t i = 0; i < f->n; i++) {
            if (st[i] == RUNNING && pid[i] == p) {
                running--;
                st[i] = s_finished(f->steps[i].dir) ? DONE : FAILED;
                printf("=== step %s %s\n", f->steps[i].name,
                       st[i] == DONE ? "finished" : "failed (see its log)");
                fflush(stdout);
            }
        }
    }
    while (running > 0) {
        int status;
        if (waitpid(-1, &status, 0) < 0 && errno != EINTR) {
            break;
        }
        running--;
    }
    size_t done = 0;
    for (size_t i = 0; i < f->n; i++) {
        done += st[i] == DONE;
        failed += st[i] == FAILED || st[i] == SKIPPED;
    }
    *done_out = done;
    if (rc == 0 && failed) {
        rc = ch_err_set(err, CH_EINVAL, "%zu of %zu steps did not finish", failed, f->n);
    }
    return rc;
}

static void s_free(s_flow *f)
{
    for (size_t i = 0; i < f->n; i++) {
        s_step *s = &f->steps[i];
        free(s->name);
        ch_config_destroy(&s->cfg);
        for (size_t k = 0; k < s->n_compare; k++) {
            free(s->compare[k]);
        }
        free(s->compare);
        free(s->dir);
    }
    free(f->base);
    free(f->dir);
    ch_config_destroy(&f->cfg);
}

static int s_write_index(s_flow *f, ch_err *err)
{
    const char *dirs[S_MAX_STEPS], *labels[S_MAX_STEPS];
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (f->steps[i].kind == S_EXPERIMENT) {
            dirs[n] = f->steps[i].dir;
            labels[n] = f->steps[i].name;
            n++;
        }
    }
    const char *name;
    ch_cfg_str(f->cfg, "name", "workflow", &name, NULL);
    return ch_index_report(f->dir, name, dirs, labels, n, NULL, 1, err);
}

int ch_workflow_run(ch_config *cfg, const char *path, const ch_workflow_opts *o, char *out_dir,
                    size_t out_size, ch_err *err)
{
    s_flow f;
    memset(&f, 0, sizeof f);
    f.cfg = cfg;
    f.path = path;
    f.o = o;
    const char *slash = strrchr(path, '/');
    f.base = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    size_t order[S_MAX_STEPS];
    int rc = f.base ? s_parse(&f, err) : ch_err_set(err, CH_ENOMEM, "out of memory");
    if (rc == 0) {
        rc = s_order(&f, order, err);
    }
    if (rc == 0) {
        if (o->out_dir) {
            f.dir = strdup(o->out_dir);
        } else {
            const char *name;
            char id[160];
            ch_cfg_str(f.cfg, "name", "workflow", &name, NULL);
            ch_outputs_run_id(name, id, sizeof id);
            f.dir = ch_path_join("runs", id);
        }
        if (!f.dir) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < f.n && rc == 0; i++) {
        f.steps[i].dir = ch_path_join(f.dir, f.steps[i].name);
        if (!f.steps[i].dir) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (rc == 0 && !o->plan_only) {
        rc = ch_mkdirs(f.dir, err);
        if (rc == 0) {
            /* keep the workflow as given, for --resume */
            char *yaml = ch_config_emit(f.cfg);
            char *wp = ch_path_join(f.dir, "workflow.yaml");
            if (yaml && wp) {
                rc = ch_write_file_atomic(wp, yaml, strlen(yaml), err);
            }
            free(yaml);
            free(wp);
        }
        snprintf(out_dir, out_size, "%s", f.dir);
    }
    if (rc == 0 && o->plan_only) {
        printf("workflow %s: %zu steps in this order:", path, f.n);
        for (size_t k = 0; k < f.n; k++) {
            printf(" %s", f.steps[order[k]].name);
        }
        printf("\n");
    }
    size_t done = 0;
    long parallel = 1;
    if (rc == 0 && !o->plan_only) {
        /* independent steps at the same time when the cores allow */
        long workers = o->n_workers;
        if (workers <= 0) {
            ch_cfg_int(f.cfg, "workers", 2, 1, 4096, &workers, NULL);
        }
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        long dflt = (cores > 0 ? cores : 1) / (workers + 1);
        rc = ch_cfg_int(f.cfg, "parallel", dflt > 1 ? dflt : 1, 1, 256, &parallel, err);
    }
    if (rc == 0 && parallel > 1) {
        rc = s_run_parallel(&f, order, parallel, &done, err);
    }
    for (size_t k = 0; k < f.n && rc == 0 && parallel == 1; k++) {
        s_step *s = &f.steps[order[k]];
        if (o->resume && !o->plan_only && s_finished(s->dir)) {
            printf("=== step %s: finished before, skipped (--resume)\n", s->name);
            done++;
            continue;
        }
        if (o->plan_only && s->kind == S_COMPARE) {
            printf("=== step %s\ncompare %zu steps by %s (%s)\n\n", s->name, s->n_compare,
                   s->metric, s->goal_max ? "max" : "min");
            continue;
        }
        rc = s_run_step(&f, s, err);
        if (rc) {
            ch_err_prefix(err, "step %s", s->name);
        } else {
            done++;
        }
    }
    if (!o->plan_only && f.dir) {
        ch_err ierr;
        if (s_write_index(&f, &ierr) != 0) {
            ch_warn("workflow index: %s", ierr.msg);
        }
        printf("\nworkflow: %zu of %zu steps finished\n", done, f.n);
    }
    s_free(&f);
    return rc;
}
