/* test_run_report.c: report.html and index.html built from a run directory's
 * files only: charts with the right points, metric table, worker events,
 * escaping, failed runs, bad input; and the report and watch commands on
 * such directories. */
#include "cli/cmd_report.h"
#include "cli/cmd_watch.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "coordinator/run_report.h"
#include "tests/check.h"

#include <sys/stat.h>
#include <unistd.h>

static int s_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay ? strstr(hay, needle) : NULL; p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

static void s_write(const char *dir, const char *name, const char *text)
{
    char *p = ch_path_join(dir, name);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    free(p);
}

static char *s_slurp(const char *dir, const char *name)
{
    char *p = ch_path_join(dir, name);
    size_t len;
    char *text = (char *)ch_read_file(p, 64 << 20, &len, NULL);
    free(p);
    return text;
}

static char *s_subdir(const char *root, const char *name)
{
    char *d = ch_path_join(root, name);
    CHECK(ch_mkdirs(d, NULL) == 0);
    return d;
}

static const char *S_EVENTS =
    "{\"time\": 100.000, \"topic\": \"run.start\", \"run\": \"r1\", \"data\": {\"name\": "
    "\"churn <gbt> & co\", \"algorithm\": \"linear\", \"workers\": 2}}\n"
    "{\"time\": 100.010, \"topic\": \"worker.joined\", \"run\": \"r1\", \"data\": {\"worker\": 0, "
    "\"host\": \"vm\", \"pid\": 11}}\n"
    "{\"time\": 100.011, \"topic\": \"worker.joined\", \"run\": \"r1\", \"data\": {\"worker\": 1, "
    "\"host\": \"vm\", \"pid\": 12}}\n"
    "{\"time\": 100.100, \"topic\": \"round.end\", \"run\": \"r1\", \"data\": {\"round\": 0, "
    "\"seconds\": 0.1, \"metrics\": {\"train_loss\": 0.9, \"valid_loss\": 1.0, \"rows_used\": "
    "142}}}\n"
    "{\"time\": 100.200, \"topic\": \"round.end\", \"run\": \"r1\", \"data\": {\"round\": 1, "
    "\"seconds\": 0.1, \"metrics\": {\"train_loss\": 0.7, \"valid_loss\": 0.8}}}\n"
    "{\"time\": 100.250, \"topic\": \"worker.lost\", \"run\": \"r1\", \"data\": {\"worker\": 1, "
    "\"host\": \"vm\", \"pid\": 12, \"reason\": \"<killed> by test\"}}\n"
    "{\"time\": 100.251, \"topic\": \"worker.reassigned\", \"run\": \"r1\", \"data\": {\"shard\": "
    "1, "
    "\"from\": 1, \"to\": 0}}\n"
    "not json at all\n"
    "{\"time\": 100.300, \"topic\": \"round.end\", \"run\": \"r1\", \"data\": {\"round\": 2, "
    "\"seconds\": 0.1, \"metrics\": {\"train_loss\": 0.5, \"valid_loss\": 0.7}}}\n"
    "{\"time\": 100.400, \"topic\": \"round.end\", \"run\": \"r1\", \"data\": {\"round\": 3, "
    "\"seconds\": 0.1, \"metrics\": {\"train_loss\": 0.4, \"valid_loss\": 0.65}}}\n"
    "{\"time\": 100.500, \"topic\": \"round.end\", \"run\": \"r1\", \"data\": {\"round\": 4, "
    "\"seconds\": 0.1, \"metrics\": {\"train_loss\": 0.3, \"valid_loss\": 0.66}}}\n"
    "{\"time\": 100.600, \"topic\": \"run.end\", \"run\": \"r1\", \"data\": {\"status\": "
    "\"finished\", \"rounds\": 5}}\n";

static void s_fake_run(const char *dir, const char *name, double rmse, double r2)
{
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\n  \"status\": \"finished\",\n  \"run_id\": \"r1\",\n  \"name\": \"%s\",\n"
             "  \"algorithm\": \"linear\",\n  \"workers\": 2,\n  \"rounds\": 5,\n"
             "  \"wall_seconds\": 0.600,\n  \"metrics\": {\"test_rmse\": %.17g, \"test_r2\": "
             "%.17g}\n}\n",
             name, rmse, r2);
    s_write(dir, "summary.json", buf);
    s_write(dir, "events.jsonl", S_EVENTS);
    s_write(dir, "config.yaml", "name: \"churn <gbt> & co\"\nmodel:\n  algorithm: linear\n");
}

static void test_run_report(const char *root)
{
    char *dir = s_subdir(root, "run");
    s_fake_run(dir, "churn <gbt> & co", 0.54, 0.6);
    ch_err err;
    ch_err_clear(&err);
    CHECK(ch_run_report(dir, &err) == 0);
    char *html = s_slurp(dir, "report.html");
    CHECK(html != NULL);
    if (html) {
        /* title: name and algorithm, escaped */
        CHECK_HAS(html, "churn &lt;gbt&gt; &amp; co");
        CHECK(strstr(html, "<gbt>") == NULL);
        CHECK_HAS(html, "linear");
        CHECK_HAS(html, "Status: finished");
        /* one chart per family: loss (train and valid together) and rows_used */
        CHECK(s_count(html, "class=\"chart line-chart\"") == 2);
        CHECK_HAS(html, "data-name=\"train_loss\" data-n=\"5\"");
        CHECK_HAS(html, "data-name=\"valid_loss\" data-n=\"5\"");
        CHECK_HAS(html, "data-name=\"rows_used\" data-n=\"1\"");
        const char *loss = strstr(html, "data-name=\"train_loss\"");
        const char *valid = strstr(html, "data-name=\"valid_loss\"");
        const char *end = loss ? strstr(loss, "</svg>") : NULL;
        CHECK(loss && valid && end && valid < end); /* same chart */
        /* final metrics table */
        CHECK_HAS(html, "Final metrics");
        CHECK_HAS(html, "test_rmse");
        CHECK_HAS(html, "0.54");
        CHECK_HAS(html, "test_r2");
        /* workers */
        CHECK_HAS(html, ">joined<");
        CHECK_HAS(html, ">lost<");
        CHECK_HAS(html, ">reassigned<");
        CHECK_HAS(html, "&lt;killed&gt; by test");
        CHECK_HAS(html, "shard 1: worker 1 -&gt; worker 0");
        /* the bad line is counted, not fatal */
        CHECK_HAS(html, "1 line(s) of events.jsonl could not be read");
        CHECK_HAS(html, "line 8:");
        /* no model.pb; config shown escaped */
        CHECK_HAS(html, "left no model.pb");
        CHECK_HAS(html, "name: &quot;churn &lt;gbt&gt; &amp; co&quot;");
        CHECK(strstr(html, "<script") == NULL);
    }
    free(html);

    /* regenerating gives the same page */
    CHECK(ch_run_report(dir, &err) == 0);
    char *again = s_slurp(dir, "report.html");
    char *first = NULL;
    CHECK(ch_run_report(dir, &err) == 0);
    first = s_slurp(dir, "report.html");
    CHECK(again && first && strcmp(again, first) == 0);
    free(again);
    free(first);

    /* the report command regenerates it and exits 0 */
    char *argv[] = {"report", dir, NULL};
    CHECK(ch_cmd_report(2, argv) == 0);
    char *argv_help[] = {"report", "--help", NULL};
    CHECK(ch_cmd_report(2, argv_help) == 0);
    char *argv_none[] = {"report", NULL};
    CHECK(ch_cmd_report(1, argv_none) == 2);
    char *argv_bad[] = {"report", "/nonexistent/cohort-run", NULL};
    CHECK(ch_cmd_report(2, argv_bad) == 1);
    free(dir);
}

static void test_failed_run(const char *root)
{
    char *dir = s_subdir(root, "failed");
    s_write(dir, "summary.json",
            "{\"status\": \"failed\", \"run_id\": \"r2\", \"name\": \"bad\", \"algorithm\": "
            "\"linear\", \"workers\": 2, \"rounds\": 0, \"wall_seconds\": 1.5, \"error\": "
            "\"worker 1 lost: <boom> & gone\", \"metrics\": {}}\n");
    ch_err err;
    ch_err_clear(&err);
    CHECK(ch_run_report(dir, &err) == 0);
    char *html = s_slurp(dir, "report.html");
    CHECK_HAS(html, "Status: failed");
    CHECK_HAS(html, "worker 1 lost: &lt;boom&gt; &amp; gone");
    CHECK_HAS(html, "No final metrics");
    CHECK_HAS(html, "No per-round metrics");
    CHECK(html && strstr(html, "left no model.pb") == NULL);
    free(html);
    free(dir);
}

static void test_bad_input(const char *root)
{
    ch_err err;
    ch_err_clear(&err);
    char *empty = s_subdir(root, "empty");
    CHECK(ch_run_report(empty, &err) == CH_ENOTFOUND);
    CHECK_HAS(err.msg, "not a run directory");
    char *bad = s_subdir(root, "bad");
    s_write(bad, "summary.json", "{\n  \"status\": \"finished\",\n  \"name\" \"x\"\n}\n");
    s_write(bad, "report.html", "previous");
    ch_err_clear(&err);
    CHECK(ch_run_report(bad, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "summary.json:3:10: expected ':'");
    char *kept = s_slurp(bad, "report.html");
    CHECK_STR(kept, "previous"); /* nothing already written is lost */
    free(kept);
    CHECK(ch_run_report(NULL, &err) == CH_EINVAL);
    free(empty);
    free(bad);
}

static void test_index(const char *root)
{
    char *group = s_subdir(root, "sweep");
    char *a = s_subdir(group, "a"), *b = s_subdir(group, "b"), *c = s_subdir(group, "c");
    s_fake_run(a, "trial-a", 0.9, 0.3);
    s_fake_run(b, "trial-b", 0.4, 0.8);
    s_write(c, "summary.json",
            "{\"status\": \"failed\", \"name\": \"trial-c\", \"error\": \"x\", \"metrics\": {}}\n");
    const char *dirs[] = {a, b, c};
    const char *labels[] = {"lr=0.1", NULL, "lr=<big>"};
    ch_err err;
    ch_err_clear(&err);
    CHECK(ch_index_report(group, "sweep <lr>", dirs, labels, 3, "test_rmse", 0, &err) == 0);
    char *html = s_slurp(group, "index.html");
    CHECK(html != NULL);
    if (html) {
        CHECK_HAS(html, "sweep &lt;lr&gt;");
        /* relative links; run reports were generated for the links */
        CHECK_HAS(html, "href=\"a/report.html\"");
        CHECK_HAS(html, "href=\"b/report.html\"");
        CHECK_HAS(html, "href=\"c/report.html\"");
        /* ranked by rmse, lower is better: b, then a, then c (no metric) */
        const char *pb = strstr(html, ">trial-b<"), *pa = strstr(html, ">lr=0.1<"),
                   *pc = strstr(html, ">lr=&lt;big&gt;<");
        CHECK(pa && pb && pc && pb < pa && pa < pc);
        CHECK_HAS(html, "Best: trial-b with test_rmse = 0.4");
        CHECK_HAS(html, "1 (best)");
        CHECK_HAS(html, "class=\"chart bar-chart\" data-n=\"2\"");
        CHECK(s_count(html, "bar winner") >= 1);
    }
    free(html);
    char *ra = s_slurp(a, "report.html");
    CHECK(ra != NULL);
    free(ra);
    /* goal max on r2: a is worse than b either way */
    CHECK(ch_index_report(group, NULL, dirs, NULL, 3, "test_r2", 1, &err) == 0);
    html = s_slurp(group, "index.html");
    CHECK_HAS(html, "Best: trial-b with test_r2 = 0.8");
    free(html);
    /* the report command on a directory of runs writes the index */
    char *argv[] = {"report", group, "--metric", "test_r2", NULL};
    CHECK(ch_cmd_report(4, argv) == 0);
    free(a);
    free(b);
    free(c);
    free(group);
}

static void test_watch(const char *root)
{
    /* a finished run: watch reads events.jsonl and exits 0 without a live
     * coordinator */
    char *dir = s_subdir(root, "watched");
    s_fake_run(dir, "w", 0.5, 0.5);
    s_write(dir, "endpoints.json",
            "{\"run_id\": \"r1\", \"tasks\": \"ipc:///tmp/cohort-test-none.ipc\", \"events\": "
            "\"tcp://0.0.0.0:1\", \"pid\": 1}\n");
    char *argv[] = {"watch", dir, "--timeout", "5", NULL};
    CHECK(ch_cmd_watch(4, argv) == 0);
    /* nothing listening: a waiting message, then exit 1 on the timeout */
    char *argv2[] = {"watch", "tcp://127.0.0.1:1", "--timeout", "0.5", NULL};
    CHECK(ch_cmd_watch(4, argv2) == 1);
    char *argv3[] = {"watch", "--timeout", "-1", "x", NULL};
    CHECK(ch_cmd_watch(4, argv3) == 2);
    char *argv4[] = {"watch", NULL};
    CHECK(ch_cmd_watch(1, argv4) == 2);
    free(dir);
}

int main(void)
{
    char root[] = "/tmp/cohort-test-report.XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    test_run_report(root);
    test_failed_run(root);
    test_bad_input(root);
    test_index(root);
    test_watch(root);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", root);
    }
    CH_TEST_END();
}
