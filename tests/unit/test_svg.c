/* test_svg.c: SVG charts: nice ticks, point counts, escaping, degenerate input. */
#include "common/svg.h"
#include "tests/check.h"

#include <stdint.h>

/* Number of occurrences of needle in hay. */
static int s_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

/* True if the text holds a printed non-finite number ("nan", "-inf", ...)
 * rather than those letters inside a word such as "dominant". */
static int s_bad_number(const char *svg)
{
    const char *words[] = {"nan", "inf"};
    for (int w = 0; w < 2; w++) {
        for (const char *p = strstr(svg, words[w]); p; p = strstr(p + 1, words[w])) {
            int before = p > svg && ((p[-1] | 0x20) >= 'a' && (p[-1] | 0x20) <= 'z');
            int after = (p[3] | 0x20) >= 'a' && (p[3] | 0x20) <= 'z';
            if (!before && !after) {
                return 1;
            }
        }
    }
    return 0;
}

/* Number of "x,y" pairs over every polyline points="..." attribute. */
static int s_polyline_points(const char *svg)
{
    int n = 0;
    for (const char *p = strstr(svg, "<polyline"); p; p = strstr(p + 1, "<polyline")) {
        const char *a = strstr(p, "points=\"");
        if (!a) {
            break;
        }
        a += 8;
        const char *end = strchr(a, '"');
        for (const char *c = a; c < end; c++) {
            n += *c == ',';
        }
    }
    return n;
}

static void check_ticks(double lo, double hi, double step, double first, int n)
{
    ch_svg_ticks t = ch_svg_nice_ticks(lo, hi, 5);
    CHECK_REL(t.step, step, 1e-12, 1e-300);
    CHECK_REL(t.lo, first, 1e-12, 1e-12);
    CHECK(t.n == n);
    if (t.n != n || fabs(t.step - step) > 1e-12 * fabs(step)) {
        fprintf(stderr, "  ticks(%g, %g): lo %g step %g n %d\n", lo, hi, t.lo, t.step, t.n);
    }
}

static void test_ticks(void)
{
    check_ticks(0, 1, 0.2, 0, 6);
    check_ticks(0, 10, 2, 0, 6);
    check_ticks(0.3, 0.92, 0.2, 0.2, 5); /* 0.2 .. 1.0 */
    check_ticks(-3.2, 7.9, 5, -5, 4);    /* -5, 0, 5, 10 */
    check_ticks(0, 100, 20, 0, 6);
    check_ticks(1e-6, 5e-6, 1e-6, 1e-6, 5);
    check_ticks(12000, 98000, 20000, 0, 6);
    check_ticks(0.5, 0.5, 0.02, 0.44, 7); /* equal values: widened by 10 % */
    check_ticks(0, 0, 0.5, -1, 5);        /* zero: widened to [-1, 1] */
    check_ticks(10, 0, 2, 0, 6);          /* swapped */
    check_ticks(NAN, 3, 0.2, 0, 6);       /* non-finite: [0, 1] */
    /* The ticks always cover the data and steps are 1, 2 or 5 x 10^k. */
    double cases[][2] = {{0.001, 0.0123}, {-1e9, 3e9}, {1, 1.0000001}, {-0.7, -0.2}, {5, 1e6}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ch_svg_ticks t = ch_svg_nice_ticks(cases[i][0], cases[i][1], 5);
        CHECK(t.lo <= cases[i][0] + 1e-12 * fabs(cases[i][0]));
        CHECK(t.lo + (t.n - 1) * t.step >= cases[i][1] - 1e-9 * fabs(cases[i][1]));
        double m = t.step / pow(10, floor(log10(t.step)));
        CHECK(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9);
        CHECK(t.n >= 3 && t.n <= 12);
    }
    char buf[32];
    CHECK_STR(ch_svg_format_tick(0.30000000000000004, 0.1, buf, sizeof buf), "0.3");
    CHECK_STR(ch_svg_format_tick(-1e-17, 0.1, buf, sizeof buf), "0.0");
    CHECK_STR(ch_svg_format_tick(-1e-17, 1, buf, sizeof buf), "0");
    CHECK_STR(ch_svg_format_tick(40000, 20000, buf, sizeof buf), "40000");
    CHECK_STR(ch_svg_format_tick(2.5e-6, 5e-7, buf, sizeof buf), "2.5e-06");
    CHECK_STR(ch_svg_format_tick(3e12, 1e12, buf, sizeof buf), "3e+12");
    CHECK_STR(ch_svg_format_tick(0.25, 0.05, buf, sizeof buf), "0.25");
}

static void test_line_chart(void)
{
    double x[10], y1[10], y2[10];
    for (int i = 0; i < 10; i++) {
        x[i] = i + 1;
        y1[i] = 1.0 / (i + 1);
        y2[i] = 0.5 + 0.01 * i;
    }
    y2[4] = NAN; /* a gap: 4 points, then 5 */
    ch_svg_series s[2] = {{"train <loss> & \"x\"", x, y1, 10}, {"validation", x, y2, 10}};
    ch_svg_line_opts o = {.title = "Loss & <accuracy>", .x_label = "round", .y_label = "loss"};
    ch_buf b = {0};
    CHECK(ch_svg_line_chart(&b, &o, s, 2) == 0);
    const char *svg = ch_buf_str(&b);
    CHECK(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
    CHECK_HAS(svg, "</svg>");
    CHECK(s_count(svg, "class=\"series\"") == 2);
    CHECK_HAS(svg, "data-n=\"10\"");
    CHECK_HAS(svg, "data-n=\"9\"");
    CHECK(s_count(svg, "<polyline") == 3);
    CHECK(s_polyline_points(svg) == 19);
    CHECK_HAS(svg, "train &lt;loss&gt; &amp; &quot;x&quot;");
    CHECK_HAS(svg, "Loss &amp; &lt;accuracy&gt;");
    CHECK(strstr(svg, "<loss>") == NULL);
    CHECK(strstr(svg, "<accuracy>") == NULL);
    CHECK_HAS(svg, "class=\"legend\"");
    CHECK_HAS(svg, ">round</text>");
    CHECK(!s_bad_number(svg));
    ch_buf_free(&b);

    /* log y: non-positive values become gaps; decade ticks. */
    double ly[5] = {1000, 100, 0, 1, 0.01};
    ch_svg_series sl = {"loss", NULL, ly, 5};
    ch_svg_line_opts ol = {.log_y = true, .y_label = "loss"};
    CHECK(ch_svg_line_chart(&b, &ol, &sl, 1) == 0);
    svg = ch_buf_str(&b);
    CHECK_HAS(svg, "data-n=\"4\"");
    CHECK(s_polyline_points(svg) == 4);
    CHECK_HAS(svg, ">1000</text>");
    CHECK_HAS(svg, ">0.01</text>");
    CHECK_HAS(svg, "loss (log)");
    ch_buf_free(&b);
}

static void test_degenerate(void)
{
    ch_buf b = {0};
    /* No series at all. */
    CHECK(ch_svg_line_chart(&b, NULL, NULL, 0) == 0);
    CHECK_HAS(ch_buf_str(&b), "no data");
    ch_buf_free(&b);

    /* One point, an empty series, an all-NaN series. */
    double x1 = 5, y1 = 0.7;
    double nan3[3] = {NAN, NAN, NAN};
    ch_svg_series s[3] = {
        {"one", &x1, &y1, 1}, {"empty", NULL, NULL, 0}, {"all-missing", NULL, nan3, 3}};
    CHECK(ch_svg_line_chart(&b, NULL, s, 3) == 0);
    const char *svg = ch_buf_str(&b);
    CHECK(s_count(svg, "class=\"series\"") == 3);
    CHECK(s_count(svg, "<circle class=\"point\"") == 1);
    CHECK(s_count(svg, "<polyline") == 0);
    CHECK(!s_bad_number(svg));
    ch_buf_free(&b);

    /* All-equal values: a flat line in the middle, finite coordinates. */
    double flat[4] = {3, 3, 3, 3};
    ch_svg_series sf = {"flat", NULL, flat, 4};
    CHECK(ch_svg_line_chart(&b, NULL, &sf, 1) == 0);
    svg = ch_buf_str(&b);
    CHECK(s_polyline_points(svg) == 4);
    CHECK(!s_bad_number(svg));
    ch_buf_free(&b);

    /* Bars: empty, all zero, NaN. */
    CHECK(ch_svg_bar_chart(&b, NULL, NULL, NULL, 0) == 0);
    CHECK_HAS(ch_buf_str(&b), "no data");
    ch_buf_free(&b);
    const char *lz[2] = {"a", "b"};
    double vz[2] = {0, NAN};
    CHECK(ch_svg_bar_chart(&b, NULL, lz, vz, 2) == 0);
    svg = ch_buf_str(&b);
    CHECK(s_count(svg, "<rect class=\"bar") == 1);
    CHECK_HAS(svg, "n/a");
    CHECK(!s_bad_number(svg));
    ch_buf_free(&b);
}

static void test_bar_chart(void)
{
    const char *labels[4] = {"gbt", "forest", "mlp <wide>", "linear"};
    double vals[4] = {0.91, 0.88, 0.90, -0.2};
    ch_svg_bar_opts o = {.title = "val AUC", .value_label = "AUC", .highlight = 0};
    ch_buf b = {0};
    CHECK(ch_svg_bar_chart(&b, &o, labels, vals, 4) == 0);
    const char *svg = ch_buf_str(&b);
    CHECK_HAS(svg, "class=\"chart bar-chart\"");
    CHECK_HAS(svg, "data-n=\"4\"");
    CHECK(s_count(svg, "<rect class=\"bar") == 4);
    CHECK(s_count(svg, "class=\"bar winner\"") == 1);
    CHECK_HAS(svg, "mlp &lt;wide&gt;");
    CHECK_HAS(svg, "data-value=\"0.91000000000000003\"");
    ch_buf_free(&b);
}

int main(void)
{
    test_ticks();
    test_line_chart();
    test_degenerate();
    test_bar_chart();
    CH_TEST_END();
}
