/* silplot.c: the silhouette plot from per-cluster histograms (silplot.h). */
#include "algorithms/cluster_common/silplot.h"

#include "common/err.h"
#include "common/svg.h"

#include <math.h>

#define S_W   720.0
#define S_X0  90.0  /* left edge of the plot area */
#define S_PW  600.0 /* plot width */
#define S_Y0  30.0
#define S_PH  300.0 /* plot height, gaps included */
#define S_GAP 4.0   /* between clusters */

static const char *const s_colors[] = {"#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3",
                                       "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd"};

size_t ch_sil_bin(double s)
{
    double b = floor((s + 1.0) * (CH_SIL_BINS / 2.0));
    if (!(b >= 0)) {
        return 0;
    }
    return b >= CH_SIL_BINS ? CH_SIL_BINS - 1 : (size_t)b;
}

static double s_x(double v, double lo)
{
    return S_X0 + (v - lo) / (1.0 - lo) * S_PW;
}

int ch_sil_plot_svg(ch_buf *out, const double *hist, size_t k, double mean)
{
    double total = 0, lo = 0;
    size_t first = CH_SIL_BINS; /* lowest non-empty bin over all clusters */
    for (size_t c = 0; c < k; c++) {
        for (size_t b = 0; b < CH_SIL_BINS; b++) {
            double n = hist[c * CH_SIL_BINS + b];
            total += n;
            if (n > 0 && b < first) {
                first = b;
            }
        }
    }
    if (!(total > 0) || k == 0) {
        return 0;
    }
    double low_edge = -1.0 + (double)first * (2.0 / CH_SIL_BINS);
    lo = low_edge < 0 ? floor(low_edge * 5) / 5 : 0; /* 0, or a tick (0.2 apart) below the lowest */
    double scale = (S_PH - S_GAP * (double)(k - 1)) / total;
    if (scale <= 0) {
        scale = S_PH / total;
    }
    ch_buf_printf(out,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
                  "width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
                  "shape-rendering=\"crispEdges\">"
                  "<text x=\"%.0f\" y=\"18\" font-size=\"13\" text-anchor=\"middle\">"
                  "Silhouette plot</text>",
                  S_W, S_Y0 + S_PH + 45, S_W, S_Y0 + S_PH + 45, S_W / 2);
    ch_svg_ticks t = ch_svg_nice_ticks(lo, 1.0, 6);
    for (int i = 0; i <= t.n; i++) {
        double v = t.lo + t.step * i;
        if (v < lo - 1e-12 || v > 1.0 + 1e-12) {
            continue;
        }
        char buf[32];
        double x = s_x(v, lo);
        ch_buf_printf(out,
                      "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                      "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">%s"
                      "</text>",
                      x, x, S_Y0, S_Y0 + S_PH, x, S_Y0 + S_PH + 14,
                      ch_svg_format_tick(v, t.step, buf, sizeof buf));
    }
    double y = S_Y0;
    for (size_t c = 0; c < k; c++) {
        const double *h = hist + c * CH_SIL_BINS;
        double rows = 0;
        for (size_t b = 0; b < CH_SIL_BINS; b++) {
            rows += h[b];
        }
        if (rows <= 0) {
            continue;
        }
        double top = y;
        /* the cluster's rows sorted by value, highest first: one bar per bin,
         * as long as the bin's middle value */
        for (size_t b = CH_SIL_BINS; b-- > 0;) {
            if (h[b] <= 0) {
                continue;
            }
            double v = -1.0 + ((double)b + 0.5) * (2.0 / CH_SIL_BINS);
            double x0 = s_x(0, lo), x1 = s_x(v, lo), hgt = h[b] * scale;
            ch_buf_printf(out,
                          "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                          "fill=\"%s\"><title>cluster %zu: %.0f rows with silhouette in "
                          "[%.2f, %.2f)</title></rect>",
                          x1 < x0 ? x1 : x0, y, fabs(x1 - x0), hgt, s_colors[c % 10], c, h[b],
                          v - 1.0 / CH_SIL_BINS, v + 1.0 / CH_SIL_BINS);
            y += hgt;
        }
        if (y - top >= 8) {
            ch_buf_printf(out,
                          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">"
                          "cluster %zu</text>",
                          S_X0 - 6, (top + y) / 2 + 3, c);
        }
        y += S_GAP;
    }
    ch_buf_printf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>",
                  s_x(0, lo), s_x(0, lo), S_Y0, S_Y0 + S_PH);
    if (!isnan(mean)) {
        double x = s_x(mean < lo ? lo : mean > 1 ? 1 : mean, lo);
        ch_buf_printf(out,
                      "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#cc3333\" "
                      "stroke-dasharray=\"6 4\"><title>mean silhouette %.4f</title></line>",
                      x, x, S_Y0, S_Y0 + S_PH, mean);
    }
    ch_buf_printf(out,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">"
                  "silhouette value (bins of 0.05; bar height: rows)</text></svg>",
                  S_X0 + S_PW / 2, S_Y0 + S_PH + 36);
    return out->failed ? CH_ENOMEM : 0;
}
