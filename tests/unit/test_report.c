/* test_report.c: the HTML report: structure, escaping, charts, atomic write. */
#include "common/report.h"
#include "tests/check.h"

#include <sys/stat.h>
#include <unistd.h>

static int s_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

static char *s_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    ch_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        ch_buf_append(&b, chunk, n);
    }
    fclose(f);
    return ch_buf_take(&b);
}

static void test_build_and_write(const char *dir)
{
    ch_report *r = ch_report_new("churn-gbt <run> & co");
    CHECK(r != NULL);
    if (!r) {
        return;
    }
    CHECK(ch_report_subtitle(r, "run 20261203-184501-churn-gbt-3f2a") == 0);
    CHECK(ch_report_section(r, "Summary") == 0);
    const char *keys[] = {"algorithm", "status", "workers"};
    const char *vals[] = {"gbt", "finished", "4"};
    CHECK(ch_report_kv(r, keys, vals, 3) == 0);

    CHECK(ch_report_section(r, "Metric curves") == 0);
    double x[5] = {1, 2, 3, 4, 5}, tr[5] = {0.9, 0.6, 0.5, 0.45, 0.4},
           va[5] = {0.95, 0.7, 0.62, 0.6, 0.61};
    ch_svg_series s[2] = {{"train", x, tr, 5}, {"validation", x, va, 5}};
    ch_svg_line_opts o = {.title = "log-loss", .x_label = "round", .y_label = "loss"};
    CHECK(ch_report_line_chart(r, &o, s, 2) == 0);

    CHECK(ch_report_section(r, "Final metrics") == 0);
    const char *hdr[] = {"metric", "train", "validation"};
    const char *cells[] = {"auc", "0.93",     "0.91", "log-loss", "0.40",
                           "n/a", "note x<y", "0.5",  "-"};
    CHECK(ch_report_table(r, hdr, 3, cells, 3, 0) == 0);
    const char *bl[] = {"gbt", "forest"};
    double bv[] = {0.91, 0.88};
    ch_svg_bar_opts bo = {.title = "AUC", .highlight = 0};
    CHECK(ch_report_bar_chart(r, &bo, bl, bv, 2) == 0);

    CHECK(ch_report_section(r, "Config") == 0);
    CHECK(ch_report_pre(r, "config.yaml", "name: churn-gbt\nmodel: {algorithm: gbt}\n# <&>\n") ==
          0);
    const char *ll[] = {"run 1"}, *lh[] = {"runs/a b/report.html"};
    CHECK(ch_report_links(r, ll, lh, 1) == 0);

    char path[512];
    snprintf(path, sizeof path, "%s/report.html", dir);
    ch_err err = {0};
    CHECK(ch_report_write(r, path, &err) == 0);
    /* Overwrite: still atomic, no temp file left behind. */
    CHECK(ch_report_write(r, path, &err) == 0);
    ch_report_destroy(&r);
    CHECK(r == NULL);
    ch_report_destroy(&r);

    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
    char *html = s_read(path);
    CHECK(html != NULL);
    if (!html) {
        return;
    }
    CHECK(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    CHECK_HAS(html, "<meta charset=\"utf-8\">");
    CHECK_HAS(html, "<title>churn-gbt &lt;run&gt; &amp; co</title>");
    CHECK_HAS(html, "<style>");
    CHECK(strstr(html, "<script") == NULL);
    CHECK(strstr(html, "http://") == NULL || s_count(html, "http://") == 2); /* only xmlns */
    CHECK(strstr(html, "https://") == NULL);
    CHECK(s_count(html, "<section") == 4);
    CHECK(s_count(html, "</section>") == 4);
    CHECK(s_count(html, "<h2>") == 4);
    CHECK_HAS(html, "<a href=\"#s2\">Metric curves</a>");
    CHECK(s_count(html, "<svg ") == 2);
    CHECK(s_count(html, "</svg>") == 2);
    CHECK(s_count(html, "class=\"series\"") == 2);
    CHECK_HAS(html, "class=\"bar winner\"");
    CHECK_HAS(html, "<tr class=\"best\">");
    /* numeric columns right-aligned, text column not */
    CHECK_HAS(html, "<th scope=\"col\">metric</th><th scope=\"col\" class=\"num\">train</th>");
    CHECK_HAS(html, "<td class=\"num\">0.93</td>");
    CHECK_HAS(html, "<td>note x&lt;y</td>");
    CHECK_HAS(html, "# &lt;&amp;&gt;");
    CHECK_HAS(html, "href=\"runs/a b/report.html\"");
    CHECK_HAS(html, "</html>");
    free(html);

    /* No temp files left in the directory. */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1) {
            n = -1;
        }
        pclose(p);
    }
    CHECK(n == 0);
    unlink(path);
}

static void test_write_failure(const char *dir)
{
    ch_report *r = ch_report_new(NULL);
    CHECK(r != NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/missing/dir/report.html", dir);
    ch_err err = {0};
    CHECK(ch_report_write(r, path, &err) == CH_EIO);
    CHECK_HAS(err.msg, path);
    ch_buf b = {0};
    CHECK(ch_report_render(r, &b) == 0);
    CHECK_HAS(ch_buf_str(&b), "<title>cohort report</title>");
    CHECK(strstr(ch_buf_str(&b), "<nav") == NULL); /* no sections, no contents */
    ch_buf_free(&b);
    ch_report_destroy(&r);
}

int main(void)
{
    char dir[] = "/tmp/ch-report-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_build_and_write(dir);
    test_write_failure(dir);
    rmdir(dir);
    CH_TEST_END();
}
