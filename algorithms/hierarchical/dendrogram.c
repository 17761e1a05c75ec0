/* dendrogram.c: an SVG dendrogram of a SciPy-format linkage (see dendrogram.h). */
#include "algorithms/hierarchical/dendrogram.h"

#include "common/err.h"
#include "common/svg.h"

#include <math.h>
#include <stdlib.h>

typedef struct s_dg {
    const double *z;
    size_t n, first; /* merges >= first are drawn; clusters below are leaves */
    size_t leaves;
    ch_buf *out;
    double x0, y0, w, h, top;
} s_dg;

static double s_y(const s_dg *g, double height)
{
    return g->y0 + g->h - (g->top > 0 ? height / g->top : 0) * g->h;
}

static int s_draw(s_dg *g, size_t id, double *height, size_t *next_leaf, double *xout)
{
    if (id < g->n + g->first) {
        double step = g->w / (double)g->leaves;
        double x = g->x0 + step * (0.5 + (double)(*next_leaf)++);
        size_t size = id < g->n ? 1 : (size_t)g->z[4 * (id - g->n) + 3];
        ch_buf_printf(
            g->out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"middle\">%zu</text>",
            x, g->y0 + g->h + 12, size);
        *height = 0;
        *xout = x;
        return 0;
    }
    const double *m = g->z + 4 * (id - g->n);
    double hl, hr, xl, xr;
    s_draw(g, (size_t)m[0], &hl, next_leaf, &xl);
    s_draw(g, (size_t)m[1], &hr, next_leaf, &xr);
    double y = s_y(g, m[2]);
    ch_buf_printf(g->out,
                  "<path d=\"M%.1f %.1fV%.1fH%.1fV%.1f\" fill=\"none\" stroke=\"#3366aa\" "
                  "stroke-width=\"1.2\"/>",
                  xl, s_y(g, hl), y, xr, s_y(g, hr));
    *height = m[2];
    *xout = (xl + xr) / 2;
    return 0;
}

int ch_hc_dendrogram_svg(ch_buf *out, const double *z, size_t n, size_t lastp, size_t cut)
{
    if (n < 2) {
        return 0;
    }
    size_t m = n - 1;
    size_t p = lastp < n ? lastp : n; /* leaves shown */
    s_dg g = {.z = z, .n = n, .first = m - (p - 1), .leaves = p, .out = out};
    g.x0 = 60;
    g.y0 = 20;
    g.w = 640;
    g.h = 300;
    g.top = z[4 * (m - 1) + 2];
    ch_buf_printf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 720 360\" "
                       "width=\"720\" height=\"360\" font-family=\"sans-serif\">");
    ch_svg_ticks t = ch_svg_nice_ticks(0, g.top > 0 ? g.top : 1, 5);
    for (int i = 0; i <= t.n; i++) {
        double v = t.lo + t.step * i;
        if (v > g.top * 1.0001 + 1e-300) {
            break;
        }
        char buf[32];
        double y = s_y(&g, v);
        ch_buf_printf(out,
                      "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                      "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%s</text>",
                      g.x0, g.x0 + g.w, y, y, g.x0 - 4, y + 3,
                      ch_svg_format_tick(v, t.step, buf, sizeof buf));
    }
    size_t next = 0;
    double h, x;
    s_draw(&g, n + m - 1, &h, &next, &x);
    if (cut >= 2 && cut <= n) {
        /* between the last merge applied and the first one not applied */
        double lo = cut < n ? z[4 * (n - cut - 1) + 2] : 0;
        double hi = z[4 * (n - cut) + 2];
        double y = s_y(&g, (lo + hi) / 2);
        ch_buf_printf(out,
                      "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#cc3333\" "
                      "stroke-dasharray=\"6 4\"/>",
                      g.x0, g.x0 + g.w, y, y);
    }
    ch_buf_printf(out,
                  "<text x=\"14\" y=\"%.1f\" font-size=\"11\" transform=\"rotate(-90 14 %.1f)\" "
                  "text-anchor=\"middle\">merge distance</text></svg>",
                  g.y0 + g.h / 2, g.y0 + g.h / 2);
    return out->failed ? CH_ENOMEM : 0;
}
