/* test_tracking.c: the tracking store: round trips, dead runs, corrupt files,
 * and many concurrent writer processes losing no metric point. */
#include "common/tracking.h"
#include "tests/check.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NPROC   4
#define NPOINTS 500

static char s_dir[256];

static const char *s_path(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", s_dir, name);
    return buf;
}

/* Waits for a child with a deadline; kills it when the deadline passes.
 * Returns its exit status, or -1 if it did not exit cleanly in time. */
static int s_wait_child(pid_t pid, int seconds)
{
    struct timespec d = {0, 10 * 1000000L};
    for (int i = 0; i < seconds * 100; i++) {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
        nanosleep(&d, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void test_run_id(void)
{
    char id[96];
    CHECK(ch_track_new_run_id("churn gbt/<x>", id, sizeof id) == 0);
    /* YYYYMMDD-HHMMSS-churn-gbt--x--hhhh */
    CHECK(strlen(id) == 15 + 1 + 13 + 5);
    CHECK(id[8] == '-' && id[15] == '-');
    CHECK_HAS(id, "-churn-gbt--x--");
    char id2[96];
    CHECK(ch_track_new_run_id("churn gbt/<x>", id2, sizeof id2) == 0);
    CHECK(ch_track_new_run_id(NULL, id, sizeof id) == 0);
    CHECK_HAS(id, "-run-");
    char small[10];
    CHECK(ch_track_new_run_id("name", small, sizeof small) == CH_EINVAL);
    CHECK(strlen(small) == sizeof small - 1);
}

static void test_roundtrip(void)
{
    ch_err err = {0};
    ch_track *t = ch_track_open(s_path("cohort.db"), &err);
    CHECK(t != NULL);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    const char *id = "20261203-184501-churn-gbt-3f2a";
    CHECK(ch_track_run_begin(t, "churn-gbt", id, "gbt", "runs/x", "name: churn-gbt\n", &err) == 0);
    CHECK(ch_track_run_set_git_commit(t, id, "abc123", &err) == 0);
    CHECK(ch_track_param(t, id, "eta", "0.1", &err) == 0);
    CHECK(ch_track_param(t, id, "max_depth", "6", &err) == 0);
    CHECK(ch_track_param(t, id, "eta", "0.05", &err) == 0); /* replaces */
    for (int s = 0; s < 10; s++) {
        CHECK(ch_track_metric(t, id, "train.loss", s, 1.0 / (s + 1), &err) == 0);
    }
    CHECK(ch_track_metric(t, id, "train.loss", 3, 42.0, &err) == 0); /* replaces step 3 */
    const char *keys[] = {"val.auc", "val.auc", "val.loss"};
    int64_t steps[] = {0, 1, 1};
    double vals[] = {0.7, 0.8, NAN};
    CHECK(ch_track_metrics(t, id, 3, keys, steps, vals, &err) == 0);
    CHECK(ch_track_artifact(t, id, "model", "runs/x/model.pb", &err) == 0);
    CHECK(ch_track_event(t, id, 1.5, "round.end", "{\"round\":1}", &err) == 0);
    CHECK(ch_track_metric(t, id, "", 0, 1.0, &err) == CH_EINVAL);
    CHECK(ch_track_run_end(t, id, "bogus", &err) == CH_EINVAL);
    CHECK(ch_track_run_end(t, "no-such-run", "finished", &err) == CH_ENOTFOUND);
    CHECK(ch_track_run_end(t, id, "finished", &err) == 0);
    ch_track_close(&t);
    CHECK(t == NULL);
    ch_track_close(&t); /* NULL is fine */

    t = ch_track_open(s_path("cohort.db"), &err);
    CHECK(t != NULL);
    if (!t) {
        return;
    }
    ch_track_run r;
    CHECK(ch_track_run_get(t, "20261203-1845", &r, &err) == 0); /* unique prefix */
    CHECK_STR(r.id, id);
    CHECK_STR(r.experiment, "churn-gbt");
    CHECK_STR(r.status, "finished");
    CHECK_STR(r.algorithm, "gbt");
    CHECK_STR(r.git_commit, "abc123");
    CHECK_STR(r.config_yaml, "name: churn-gbt\n");
    CHECK(r.pid == (int64_t)getpid());
    CHECK(r.end_time >= r.start_time);
    ch_track_run_clear(&r);
    CHECK(ch_track_run_get(t, "nope", &r, &err) == CH_ENOTFOUND);
    CHECK_HAS(err.msg, "nope");

    ch_track_kv *kv = NULL;
    size_t n = 0;
    CHECK(ch_track_params_get(t, id, &kv, &n, &err) == 0);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(kv[0].key, "eta");
        CHECK_STR(kv[0].value, "0.05");
        CHECK_STR(kv[1].key, "max_depth");
    }
    ch_track_kvs_free(&kv, n);
    CHECK(kv == NULL);
    CHECK(ch_track_artifacts_get(t, id, &kv, &n, &err) == 0);
    CHECK(n == 1 && !strcmp(kv[0].value, "runs/x/model.pb"));
    ch_track_kvs_free(&kv, n);

    ch_track_last *ls = NULL;
    CHECK(ch_track_metrics_last(t, id, &ls, &n, &err) == 0);
    CHECK(n == 3);
    if (n == 3) {
        CHECK_STR(ls[0].key, "train.loss");
        CHECK(ls[0].step == 9 && ls[0].count == 10);
        CHECK_NEAR(ls[0].value, 0.1, 1e-15);
        CHECK_STR(ls[1].key, "val.auc");
        CHECK_NEAR(ls[1].value, 0.8, 0);
        CHECK(isnan(ls[2].value));
    }
    ch_track_lasts_free(&ls, n);

    int64_t *st = NULL;
    double *v = NULL;
    CHECK(ch_track_metric_series(t, id, "train.loss", &st, &v, &n, &err) == 0);
    CHECK(n == 10);
    if (n == 10) {
        CHECK(st[0] == 0 && st[9] == 9);
        CHECK_NEAR(v[3], 42.0, 0);
        CHECK_NEAR(v[4], 0.2, 1e-15);
    }
    free(st);
    free(v);
    CHECK(ch_track_metric_series(t, id, "absent", &st, &v, &n, &err) == 0 && n == 0);
    CHECK(ch_track_metric_count(t, id, &err) == 13);

    /* A second run; list is newest first. */
    CHECK(ch_track_run_begin(t, "churn-gbt", "20261203-184502-churn-gbt-aaaa", "gbt", NULL, NULL,
                             &err) == 0);
    ch_track_run *runs = NULL;
    CHECK(ch_track_runs_list(t, 0, &runs, &n, &err) == 0);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(runs[0].id, "20261203-184502-churn-gbt-aaaa");
        CHECK_STR(runs[0].status, "running"); /* our own process: alive */
        CHECK(isnan(runs[0].end_time));
    }
    ch_track_runs_free(&runs, n);
    CHECK(ch_track_runs_list(t, 1, &runs, &n, &err) == 0 && n == 1);
    ch_track_runs_free(&runs, n);
    CHECK(ch_track_run_get(t, "20261203-18450", &r, &err) == CH_EINVAL); /* ambiguous */
    CHECK_HAS(err.msg, "ambiguous");
    CHECK(ch_track_run_end(t, "20261203-184502-churn-gbt-aaaa", "failed", &err) == 0);
    ch_track_close(&t);
}

/* A run begun by a process that then dies is marked killed on the next open;
 * a run of a live process is left alone. */
static void test_dead_run(void)
{
    const char *path = s_path("dead.db");
    ch_err err = {0};
    pid_t pid = fork();
    if (pid == 0) {
        ch_track *c = ch_track_open(path, NULL);
        int rc = c ? ch_track_run_begin(c, "exp", "dead-run", "ols", NULL, NULL, NULL) : -1;
        ch_track_close(&c);
        _exit(rc == 0 ? 0 : 1);
    }
    CHECK(pid > 0);
    CHECK(s_wait_child(pid, 30) == 0);

    ch_track *t = ch_track_open(path, &err);
    CHECK(t != NULL);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    ch_track_run r;
    CHECK(ch_track_run_get(t, "dead-run", &r, &err) == 0);
    CHECK_STR(r.status, "killed");
    CHECK(r.pid == (int64_t)pid);
    CHECK(!isnan(r.end_time));
    ch_track_run_clear(&r);
    CHECK(ch_track_run_begin(t, "exp", "live-run", "ols", NULL, NULL, &err) == 0);
    ch_track_close(&t);
    t = ch_track_open(path, &err);
    CHECK(t != NULL);
    CHECK(ch_track_run_get(t, "live-run", &r, &err) == 0);
    CHECK_STR(r.status, "running");
    ch_track_run_clear(&r);
    ch_track_close(&t);
}

static void test_corrupt(void)
{
    const char *path = s_path("corrupt.db");
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) {
        return;
    }
    for (int i = 0; i < 8192; i++) {
        fputc((i * 131 + 7) & 0xff, f);
    }
    fclose(f);
    ch_err err = {0};
    ch_track *t = ch_track_open(path, &err);
    CHECK(t == NULL);
    CHECK(err.code == CH_EIO);
    CHECK_HAS(err.msg, path);
    CHECK_HAS(err.msg, "move it aside");

    /* A missing directory names the file too. */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no/such/dir/cohort.db", s_dir);
    t = ch_track_open(missing, &err);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, missing);
}

/* NPROC processes open a fresh file at the same moment and each log NPOINTS
 * points with one call per point. Every point must be there. */
static void test_concurrent(void)
{
    const char *path = s_path("conc.db");
    char p[512];
    snprintf(p, sizeof p, "%s", path);
    pid_t pids[NPROC];
    for (int k = 0; k < NPROC; k++) {
        pids[k] = fork();
        if (pids[k] == 0) {
            ch_err e = {0};
            ch_track *c = ch_track_open(p, &e);
            if (!c) {
                fprintf(stderr, "child %d: %s\n", k, e.msg);
                _exit(2);
            }
            char run[32], key[32];
            snprintf(run, sizeof run, "run-%d", k);
            snprintf(key, sizeof key, "loss.w%d", k);
            int rc = ch_track_run_begin(c, "conc", run, "ols", NULL, NULL, &e);
            for (int s = 0; rc == 0 && s < NPOINTS; s++) {
                rc = ch_track_metric(c, "shared", key, s, k * 1000.0 + s, &e);
            }
            if (rc == 0) {
                rc = ch_track_run_end(c, run, "finished", &e);
            }
            if (rc != 0) {
                fprintf(stderr, "child %d: %s\n", k, e.msg);
            }
            ch_track_close(&c);
            _exit(rc == 0 ? 0 : 1);
        }
        CHECK(pids[k] > 0);
    }
    for (int k = 0; k < NPROC; k++) {
        CHECK(s_wait_child(pids[k], 100) == 0);
    }
    ch_err err = {0};
    ch_track *t = ch_track_open(path, &err);
    CHECK(t != NULL);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    CHECK(ch_track_metric_count(t, NULL, &err) == NPROC * NPOINTS);
    for (int k = 0; k < NPROC; k++) {
        char key[32];
        snprintf(key, sizeof key, "loss.w%d", k);
        int64_t *st = NULL;
        double *v = NULL;
        size_t n = 0;
        CHECK(ch_track_metric_series(t, "shared", key, &st, &v, &n, &err) == 0);
        CHECK(n == NPOINTS);
        int missing = 0;
        for (size_t i = 0; i < n; i++) {
            if (st[i] != (int64_t)i || v[i] != k * 1000.0 + (double)i) {
                missing++;
            }
        }
        CHECK(missing == 0);
        free(st);
        free(v);
    }
    ch_track_run *runs = NULL;
    size_t n = 0;
    CHECK(ch_track_runs_list(t, 0, &runs, &n, &err) == 0);
    CHECK(n == NPROC);
    for (size_t i = 0; i < n; i++) {
        CHECK_STR(runs[i].status, "finished");
    }
    ch_track_runs_free(&runs, n);
    ch_track_close(&t);
}

static void s_rm(const char *name)
{
    char p[600];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s%s", s_dir, name, suffix[i]);
        unlink(p);
    }
}

int main(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/ch-track-XXXXXX");
    if (!mkdtemp(s_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_run_id();
    test_roundtrip();
    test_dead_run();
    test_corrupt();
    test_concurrent();
    s_rm("cohort.db");
    s_rm("dead.db");
    s_rm("corrupt.db");
    s_rm("conc.db");
    rmdir(s_dir);
    CH_TEST_END();
}
