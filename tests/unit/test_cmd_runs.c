/* test_cmd_runs.c: `cohort runs` against a temporary tracking store. */
#include "cli/cmd_runs.h"
#include "common/buf.h"
#include "common/tracking.h"
#include "tests/check.h"

#include <fcntl.h>
#include <unistd.h>

static char s_dir[64];
static char s_db[128];

/* Runs ch_cmd_runs with stdout and stderr captured into *out and *errout
 * (the caller frees both). Returns its exit status. */
static int s_run(char **out, char **errout, int argc, const char **argv)
{
    char po[160], pe[160];
    snprintf(po, sizeof po, "%s/stdout", s_dir);
    snprintf(pe, sizeof pe, "%s/stderr", s_dir);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fo, 1);
    dup2(fe, 2);
    int rc = ch_cmd_runs(argc, (char **)argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    close(fo);
    close(fe);
    char *files[2] = {po, pe};
    char **dst[2] = {out, errout};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "rb");
        ch_buf b = {0};
        char chunk[4096];
        size_t n;
        while (f && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
            ch_buf_append(&b, chunk, n);
        }
        if (f) {
            fclose(f);
        }
        ch_buf_append(&b, "", 0); /* NUL-terminates an empty capture too */
        *dst[i] = ch_buf_take(&b);
        unlink(files[i]);
    }
    return rc;
}

#define RUN(rc_expected, ...)                                                                      \
    do {                                                                                           \
        const char *argv_[] = {__VA_ARGS__};                                                       \
        free(out);                                                                                 \
        free(err);                                                                                 \
        int rc_ = s_run(&out, &err, (int)(sizeof argv_ / sizeof argv_[0]), argv_);                 \
        CHECK(rc_ == (rc_expected));                                                               \
        if (rc_ != (rc_expected)) {                                                                \
            fprintf(stderr, "  rc %d\n  stdout: %s\n  stderr: %s\n", rc_, out, err);               \
        }                                                                                          \
    } while (0)

static void s_fill(void)
{
    ch_err e = {0};
    ch_track *t = ch_track_open(s_db, &e);
    CHECK(t != NULL);
    if (!t) {
        return;
    }
    const char *ids[3] = {"20261203-100000-churn-gbt-aaaa", "20261203-100100-churn-rf-bbbb",
                          "20261203-100200-churn-mlp-cccc"};
    const char *algos[3] = {"gbt", "forest", "mlp"};
    double auc[3] = {0.91, 0.88, 0.90};
    for (int i = 0; i < 3; i++) {
        CHECK(ch_track_run_begin(t, "churn", ids[i], algos[i], "runs/x", "seed: 42\n", &e) == 0);
        CHECK(ch_track_param(t, ids[i], "seed", "42", &e) == 0);
        CHECK(ch_track_param(t, ids[i], "lr", i == 0 ? "0.1" : "0.05", &e) == 0);
        CHECK(ch_track_param(t, ids[i], "note", "a, \"quoted\" note", &e) == 0);
        for (int s = 0; s < 5; s++) {
            CHECK(ch_track_metric(t, ids[i], "val.auc", s, auc[i] - 0.01 * (4 - s), &e) == 0);
            CHECK(ch_track_metric(t, ids[i], "val.loss", s, 1.0 - auc[i], &e) == 0);
        }
        CHECK(ch_track_run_end(t, ids[i], "finished", &e) == 0);
    }
    CHECK(ch_track_artifact(t, ids[0], "model", "runs/x/model.pb", &e) == 0);
    ch_track_close(&t);
}

int main(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/ch-runs-XXXXXX");
    if (!mkdtemp(s_dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(s_db, sizeof s_db, "%s/cohort.db", s_dir);
    char *out = NULL, *err = NULL;

    /* Missing database: one clear line, status 1, and no file created. */
    RUN(1, "runs", "list", "--db", s_db);
    CHECK_HAS(err, "no tracking database at");
    CHECK(access(s_db, F_OK) != 0);
    RUN(2, "runs", "frobnicate");
    CHECK_HAS(err, "unknown action 'frobnicate'");
    CHECK(strchr(err, '\n') == strrchr(err, '\n')); /* one line */
    RUN(2, "runs");
    RUN(0, "runs", "--help");
    CHECK_HAS(out, "usage: cohort runs");
    RUN(0, "runs", "list", "--help");
    CHECK_HAS(out, "--limit N");
    RUN(0, "runs", "show", "--help");
    RUN(0, "runs", "compare", "--help");
    RUN(0, "runs", "export", "--help");
    RUN(2, "runs", "list", "--bogus");
    CHECK_HAS(err, "unknown option '--bogus'");
    RUN(2, "runs", "list", "--limit", "x");
    RUN(2, "runs", "show", "--db", s_db);

    s_fill();
    RUN(0, "runs", "list", "--db", s_db);
    CHECK_HAS(out, "ID");
    CHECK_HAS(out, "20261203-100200-churn-mlp-cccc");
    CHECK(strstr(out, "cccc") < strstr(out, "aaaa")); /* newest first */
    RUN(0, "runs", "list", "--db", s_db, "--limit=1");
    CHECK(strstr(out, "aaaa") == NULL);

    RUN(0, "runs", "show", "20261203-1000", "--db", s_db, "--config");
    CHECK_HAS(out, "run         20261203-100000-churn-gbt-aaaa");
    CHECK_HAS(out, "status      finished");
    CHECK_HAS(out, "val.auc");
    CHECK_HAS(out, "0.91");
    CHECK_HAS(out, "runs/x/model.pb");
    CHECK_HAS(out, "seed: 42");
    RUN(1, "runs", "show", "nope", "--db", s_db);
    CHECK_HAS(err, "no run with id nope");
    RUN(1, "runs", "show", "20261203", "--db", s_db);
    CHECK_HAS(err, "ambiguous");

    RUN(0, "runs", "compare", "--db", s_db, "20261203-1000", "20261203-1001", "20261203-1002",
        "--metric", "val.auc");
    CHECK_HAS(out, "*1");
    CHECK_HAS(out, "best: 20261203-100000-churn-gbt-aaaa (val.auc = 0.91, higher is better)");
    CHECK_HAS(out, "params that differ");
    CHECK_HAS(out, "lr");
    {
        /* seed is the same everywhere: not listed among differing params */
        const char *p = strstr(out, "params that differ");
        CHECK(p && strstr(p, "seed") == NULL);
    }
    RUN(0, "runs", "compare", "--db", s_db, "20261203-1001", "20261203-1002", "--metric",
        "val.loss");
    CHECK_HAS(out, "best: 20261203-100200-churn-mlp-cccc");
    RUN(1, "runs", "compare", "--db", s_db, "20261203-1001", "--metric", "absent");
    CHECK_HAS(err, "none of these runs has a metric 'absent'");
    RUN(0, "runs", "compare", "--db", s_db, "20261203-1001", "20261203-1002");
    CHECK_HAS(out, "val.loss");

    RUN(2, "runs", "export", "--db", s_db);
    CHECK_HAS(err, "--csv");
    RUN(0, "runs", "export", "--csv", "--db", s_db);
    CHECK_HAS(out, "run_id,experiment,name,status,algorithm,start_time,end_time,host,pid,"
                   "git_commit,param.lr,param.note,param.seed,metric.val.auc,metric.val.loss\n");
    CHECK_HAS(out, "\"a, \"\"quoted\"\" note\"");
    CHECK_HAS(out, ",0.91,");
    CHECK_HAS(out, ",0.089999999999999969\n");
    char csv[160];
    snprintf(csv, sizeof csv, "%s/runs.csv", s_dir);
    RUN(0, "runs", "export", "--csv", "--metrics", "--out", csv, "--db", s_db);
    CHECK(out && out[0] == '\0');
    FILE *f = fopen(csv, "r");
    int lines = 0;
    for (int c; f && (c = fgetc(f)) != EOF;) {
        lines += c == '\n';
    }
    if (f) {
        fclose(f);
    }
    CHECK(lines == 1 + 3 * 2 * 5);
    unlink(csv);

    free(out);
    free(err);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[200];
        snprintf(p, sizeof p, "%s%s", s_db, suffix[i]);
        unlink(p);
    }
    rmdir(s_dir);
    CH_TEST_END();
}
