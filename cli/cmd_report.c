/* cmd_report.c: `cohort report DIR [--metric KEY] [--goal max|min]`. */
#include "cli/cmd_report.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "coordinator/run_report.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *S_USAGE =
    "usage: cohort report DIR [--metric KEY] [--goal max|min]\n"
    "\n"
    "Regenerates DIR/report.html from the files a run left in DIR (summary.json,\n"
    "events.jsonl, model.pb, config.yaml) and prints its path. The page is\n"
    "self-contained: open it in any browser, offline.\n"
    "\n"
    "If DIR is not a run but holds runs (a workflow or sweep directory), every\n"
    "run's report.html is regenerated and DIR/index.html ranks the runs:\n"
    "  --metric KEY   final metric to rank by (default: the first one)\n"
    "  --goal max|min whether larger is better (default: min for names with\n"
    "                 rmse, mae, mse, loss or error, else max)\n";

static bool s_is_file(const char *dir, const char *name)
{
    char *p = ch_path_join(dir, name);
    struct stat st;
    bool ok = p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return ok;
}

static bool s_is_run(const char *dir)
{
    return s_is_file(dir, "summary.json") || s_is_file(dir, "events.jsonl");
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool s_lower_is_better(const char *metric)
{
    static const char *const words[] = {"rmse", "mae", "mse", "loss", "error"};
    for (size_t i = 0; metric && i < sizeof words / sizeof words[0]; i++) {
        if (strstr(metric, words[i])) {
            return true;
        }
    }
    return false;
}

/* The index of a directory of runs: its run subdirectories, sorted. */
static int s_index(const char *dir, const char *metric, const char *goal)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cohort report: %s: not a directory\n", dir);
        return 1;
    }
    char **runs = NULL;
    size_t n = 0, cap = 0;
    int status = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char *sub = ch_path_join(dir, e->d_name);
        if (!sub) {
            status = 1;
            break;
        }
        if (!s_is_run(sub)) {
            free(sub);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **v = realloc(runs, cap * sizeof *v);
            if (!v) {
                free(sub);
                status = 1;
                break;
            }
            runs = v;
        }
        runs[n++] = sub;
    }
    closedir(d);
    if (status == 0 && n == 0) {
        fprintf(stderr,
                "cohort report: %s: not a run directory (no summary.json or events.jsonl) and "
                "holds no runs\n",
                dir);
        status = 1;
    } else if (status != 0) {
        fprintf(stderr, "cohort report: out of memory\n");
    }
    if (status == 0) {
        qsort(runs, n, sizeof *runs, s_cmp_str);
        ch_err err;
        ch_err_clear(&err);
        for (size_t i = 0; i < n && status == 0; i++) {
            if (ch_run_report(runs[i], &err) != 0) {
                fprintf(stderr, "cohort report: %s\n", err.msg);
                status = 1;
            }
        }
        bool goal_max = goal ? strcmp(goal, "max") == 0 : !s_lower_is_better(metric);
        if (status == 0 && ch_index_report(dir, dir, (const char *const *)runs, NULL, n, metric,
                                           goal_max, &err) != 0) {
            fprintf(stderr, "cohort report: %s\n", err.msg);
            status = 1;
        }
        if (status == 0) {
            char *out = ch_path_join(dir, "index.html");
            printf("%s\n", out ? out : "index.html");
            free(out);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(runs[i]);
    }
    free(runs);
    return status;
}

int ch_cmd_report(int argc, char **argv)
{
    const char *dir = NULL, *metric = NULL, *goal = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(S_USAGE, stdout);
            return 0;
        }
        if (!strcmp(a, "--metric") || !strcmp(a, "--goal")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cohort report: %s needs a value\n%s", a, S_USAGE);
                return 2;
            }
            *(a[2] == 'm' ? &metric : &goal) = argv[++i];
            continue;
        }
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "cohort report: unknown option '%s'\n%s", a, S_USAGE);
            return 2;
        }
        if (dir) {
            fprintf(stderr, "cohort report: one directory at a time ('%s' and '%s')\n", dir, a);
            return 2;
        }
        dir = a;
    }
    if (!dir) {
        fputs(S_USAGE, stderr);
        return 2;
    }
    if (goal && strcmp(goal, "max") != 0 && strcmp(goal, "min") != 0) {
        fprintf(stderr, "cohort report: --goal must be max or min, not '%s'\n", goal);
        return 2;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "cohort report: %s: no such directory\n", dir);
        return 1;
    }
    if (!s_is_run(dir)) {
        return s_index(dir, metric, goal);
    }
    ch_err err;
    ch_err_clear(&err);
    if (ch_run_report(dir, &err) != 0) {
        fprintf(stderr, "cohort report: %s\n", err.msg);
        return 1;
    }
    char *out = ch_path_join(dir, "report.html");
    printf("%s\n", out ? out : "report.html");
    free(out);
    return 0;
}
