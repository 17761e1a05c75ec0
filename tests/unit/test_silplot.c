/* test_silplot.c: the silhouette plot's bins (silplot.h) and the SVG drawn
 * from a per-cluster histogram: one bar per non-empty bin, bar heights in
 * proportion to the rows, bars below zero drawn left of the zero line, and
 * the mean line where the mean is. */
#include "algorithms/cluster_common/silplot.h"
#include "tests/check.h"

#include <stdio.h>
#include <string.h>

static size_t s_count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) {
        n++;
    }
    return n;
}

/* The height attribute of the rect whose title names (cluster c, rows). */
static double s_height_of(const char *svg, const char *title)
{
    const char *t = strstr(svg, title);
    if (!t) {
        return -1;
    }
    const char *r = t;
    while (r > svg && strncmp(r, "<rect", 5) != 0) {
        r--;
    }
    const char *h = strstr(r, "height=\"");
    double v = -1;
    if (h && h < t) {
        sscanf(h + 8, "%lf", &v);
    }
    return v;
}

static double s_attr_after(const char *svg, const char *anchor, const char *attr)
{
    const char *a = strstr(svg, anchor);
    const char *r = a;
    while (r && r > svg && strncmp(r, "<", 1) != 0) {
        r--;
    }
    while (r && r > svg && strncmp(r, "<line", 5) != 0 && strncmp(r, "<rect", 5) != 0) {
        r--;
    }
    const char *h = r ? strstr(r, attr) : NULL;
    double v = -1;
    if (h && h < a) {
        sscanf(h + strlen(attr), "%lf", &v);
    }
    return v;
}

static void test_bins(void)
{
    CHECK(ch_sil_bin(-1.0) == 0);
    CHECK(ch_sil_bin(-0.95) == 1);
    CHECK(ch_sil_bin(-1e-12) == CH_SIL_BINS / 2 - 1);
    CHECK(ch_sil_bin(0.0) == CH_SIL_BINS / 2);
    CHECK(ch_sil_bin(0.049) == CH_SIL_BINS / 2);
    CHECK(ch_sil_bin(0.051) == CH_SIL_BINS / 2 + 1);
    CHECK(ch_sil_bin(1.0) == CH_SIL_BINS - 1);
    CHECK(ch_sil_bin(1.0000001) == CH_SIL_BINS - 1);
    CHECK(ch_sil_bin(-1.0000001) == 0);
    CHECK(ch_sil_bin(NAN) == 0);
}

static void test_plot(void)
{
    double hist[2 * CH_SIL_BINS] = {0};
    ch_buf b;
    ch_buf_init(&b);
    CHECK(ch_sil_plot_svg(&b, hist, 2, 0.5) == 0);
    CHECK(b.len == 0); /* nothing counted: nothing drawn */

    /* cluster 0: 30 rows at 0.7, 10 at 0.3; cluster 1: 20 rows at 0.5, 5 at -0.2 */
    hist[ch_sil_bin(0.7)] = 30;
    hist[ch_sil_bin(0.3)] = 10;
    hist[CH_SIL_BINS + ch_sil_bin(0.5)] = 20;
    hist[CH_SIL_BINS + ch_sil_bin(-0.2)] = 5;
    CHECK(ch_sil_plot_svg(&b, hist, 2, 0.45) == 0);
    const char *svg = ch_buf_str(&b);
    CHECK(strncmp(svg, "<svg", 4) == 0 && strstr(svg, "</svg>") != NULL);
    CHECK(s_count(svg, "<rect") == 4);
    CHECK(strstr(svg, "cluster 0: 30 rows with silhouette in [0.70, 0.75)") != NULL);
    CHECK(strstr(svg, "cluster 1: 5 rows with silhouette in [-0.20, -0.15)") != NULL);
    double h30 = s_height_of(svg, "cluster 0: 30 rows"),
           h10 = s_height_of(svg, "cluster 0: 10 rows");
    double h20 = s_height_of(svg, "cluster 1: 20 rows"), h5 = s_height_of(svg, "cluster 1: 5 rows");
    CHECK(h10 > 0);
    CHECK_NEAR(h30 / h10, 3.0, 1e-3);
    CHECK_NEAR(h20 / h5, 4.0, 1e-3);
    /* 65 rows and one 4-pixel gap fill the 300-pixel plot */
    CHECK_NEAR(h30 + h10 + h20 + h5, 296.0, 0.05);
    /* the negative bar starts left of the zero line and ends on it */
    double x_neg = s_attr_after(svg, "cluster 1: 5 rows", "x=\"");
    double w_neg = s_attr_after(svg, "cluster 1: 5 rows", "width=\"");
    double x_pos = s_attr_after(svg, "cluster 1: 20 rows", "x=\"");
    CHECK(x_neg < x_pos);
    CHECK_NEAR(x_neg + w_neg, x_pos, 0.02);
    CHECK(strstr(svg, "mean silhouette 0.4500") != NULL);
    CHECK(strstr(svg, ">cluster 0</text>") != NULL && strstr(svg, ">cluster 1</text>") != NULL);
    ch_buf_free(&b);
}

int main(void)
{
    test_bins();
    test_plot();
    CH_TEST_END();
}
