/* svg.c: SVG line and bar charts appended to a ch_buf (see svg.h).
 *
 * Text widths are estimated (no font metrics): about 7 px per character at
 * the 12 px font used, which is close enough for margins and legends. */
#include "common/svg.h"
#include "common/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define S_FONT   "system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif"
#define S_CHAR_W 7.0
#define S_AXIS   "#555"
#define S_GRID   "#e5e5e5"
#define S_TEXT   "#333"
#define S_BAR    "#4e79a7"
#define S_WINNER "#e15759"

/* Tableau 10: distinguishable, and readable by most colour-blind readers. */
static const char *const S_PALETTE[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                        "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
#define S_NPALETTE (sizeof S_PALETTE / sizeof S_PALETTE[0])

/* Display length of a UTF-8 string (code points, not bytes). */
static size_t s_textlen(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        n += (*p & 0xc0) != 0x80;
    }
    return n;
}

ch_svg_ticks ch_svg_nice_ticks(double min, double max, int target)
{
    if (!isfinite(min) || !isfinite(max)) {
        min = 0;
        max = 1;
    }
    if (min > max) {
        double tmp = min;
        min = max;
        max = tmp;
    }
    if (min == max) {
        double pad = fabs(min) * 0.1;
        if (pad == 0 || !isfinite(pad)) {
            pad = 1;
        }
        min -= pad;
        max += pad;
    }
    if (target < 2) {
        target = 2;
    }
    ch_svg_ticks t;
    double range = max - min;
    double raw = range / target;
    if (!isfinite(range) || !(raw > 0)) {
        /* A range too wide (or too narrow) for the 1-2-5 rule: divide it. */
        t.lo = min;
        t.step = max / target - min / target;
        t.n = target + 1;
        return t;
    }
    double mag = pow(10.0, floor(log10(raw)));
    double norm = raw / mag;
    double step = norm <= 1.0 + 1e-9   ? 1.0
                  : norm <= 2.0 + 1e-9 ? 2.0
                  : norm <= 5.0 + 1e-9 ? 5.0
                                       : 10.0;
    step *= mag;
    double lo = floor(min / step + 1e-9) * step;
    double hi = ceil(max / step - 1e-9) * step;
    double n = floor((hi - lo) / step + 0.5) + 1;
    if (!(n >= 2 && n <= 4.0 * target + 2) || lo + (n - 1) * step < max - range * 1e-9) {
        t.lo = min;
        t.step = range / target;
        t.n = target + 1;
        return t;
    }
    t.lo = lo;
    t.step = step;
    t.n = (int)n;
    return t;
}

char *ch_svg_format_tick(double v, double step, char *buf, size_t size)
{
    if (!buf || size == 0) {
        return buf;
    }
    step = fabs(step);
    if (fabs(v) < step * 1e-9 || v == 0) {
        v = 0; /* also turns -0 into 0 */
    }
    if (!isfinite(v)) {
        snprintf(buf, size, "%s", isnan(v) ? "n/a" : (v > 0 ? "inf" : "-inf"));
    } else if (step >= 1e-4 && fabs(v) < 1e9 && step > 0) {
        int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, size, "%.*f", dec, v);
    } else {
        snprintf(buf, size, "%.4g", v);
    }
    if (strcmp(buf, "-0") == 0) {
        snprintf(buf, size, "0");
    }
    return buf;
}

/* The <svg> start tag shared by both charts; the title goes in <title> (a
 * tooltip and the accessible name) and is drawn as text by the caller. */
static void s_open(ch_buf *b, const char *cls, int w, int h, const char *title, const char *attr)
{
    ch_buf_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart %s\" %s "
                  "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
                  "style=\"max-width:100%%;height:auto\" font-family=\"%s\" font-size=\"12\">\n",
                  cls, attr, w, h, w, h, S_FONT);
    if (title && title[0]) {
        ch_buf_puts(b, "<title>");
        ch_buf_html(b, title);
        ch_buf_puts(b, "</title>\n");
    }
}

static void s_title(ch_buf *b, const char *title, double x)
{
    if (title && title[0]) {
        ch_buf_printf(b,
                      "<text class=\"title\" x=\"%.1f\" y=\"22\" text-anchor=\"middle\" "
                      "font-size=\"15\" font-weight=\"600\" fill=\"" S_TEXT "\">",
                      x);
        ch_buf_html(b, title);
        ch_buf_puts(b, "</text>\n");
    }
}

static void s_no_data(ch_buf *b, double x, double y)
{
    ch_buf_printf(b,
                  "<text class=\"no-data\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                  "fill=\"#999\">no data</text>\n",
                  x, y);
}

/* --- line chart ------------------------------------------------------------ */

typedef struct s_frame {
    double left, top, pw, ph;  /* plot area */
    double xlo, xhi, ylo, yhi; /* data domain (y in log10 units when log) */
    bool log_y;
} s_frame;

static bool s_point(const ch_svg_series *s, size_t i, bool log_y, double *x, double *y)
{
    *x = s->x ? s->x[i] : (double)i;
    *y = s->y[i];
    if (log_y) {
        *y = *y > 0 ? log10(*y) : NAN;
    }
    return isfinite(*x) && isfinite(*y);
}

static double s_px(const s_frame *f, double x)
{
    return f->left + (x - f->xlo) / (f->xhi - f->xlo) * f->pw;
}

static double s_py(const s_frame *f, double y)
{
    return f->top + f->ph - (y - f->ylo) / (f->yhi - f->ylo) * f->ph;
}

/* Log axis ticks: whole decades, every k-th when there are many. */
static ch_svg_ticks s_log_ticks(double lmin, double lmax)
{
    ch_svg_ticks t;
    double lo = floor(lmin), hi = ceil(lmax);
    if (hi <= lo) {
        hi = lo + 1;
    }
    double k = ceil((hi - lo) / 8.0);
    lo = floor(lo / k) * k;
    hi = ceil(hi / k) * k;
    t.lo = lo;
    t.step = k;
    t.n = (int)((hi - lo) / k + 0.5) + 1;
    return t;
}

static void s_fmt_y(const s_frame *f, const ch_svg_ticks *ty, double v, char *buf, size_t size)
{
    if (f->log_y) {
        double p = pow(10.0, v);
        snprintf(buf, size, "%g", p);
    } else {
        ch_svg_format_tick(v, ty->step, buf, size);
    }
}

/* Draws one series: polylines for runs of two or more finite points, dots for
 * isolated points. */
static void s_draw_series(ch_buf *b, const s_frame *f, const ch_svg_series *s, const char *color)
{
    size_t count = 0;
    for (size_t i = 0; i < s->n; i++) {
        double x, y;
        count += s_point(s, i, f->log_y, &x, &y);
    }
    ch_buf_puts(b, "<g class=\"series\" data-name=\"");
    ch_buf_html(b, s->name ? s->name : "");
    ch_buf_printf(b, "\" data-n=\"%zu\" stroke=\"%s\" fill=\"%s\">\n", count, color, color);
    size_t i = 0;
    while (i < s->n) {
        double x, y;
        if (!s_point(s, i, f->log_y, &x, &y)) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < s->n && s_point(s, j, f->log_y, &x, &y)) {
            j++;
        }
        if (j - i == 1) {
            s_point(s, i, f->log_y, &x, &y);
            ch_buf_printf(b, "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>\n",
                          s_px(f, x), s_py(f, y));
        } else {
            ch_buf_puts(b, "<polyline class=\"line\" fill=\"none\" stroke-width=\"2\" "
                           "stroke-linejoin=\"round\" points=\"");
            for (size_t k = i; k < j; k++) {
                s_point(s, k, f->log_y, &x, &y);
                ch_buf_printf(b, "%s%.1f,%.1f", k > i ? " " : "", s_px(f, x), s_py(f, y));
            }
            ch_buf_puts(b, "\"/>\n");
        }
        i = j;
    }
    ch_buf_puts(b, "</g>\n");
}

int ch_svg_line_chart(ch_buf *out, const ch_svg_line_opts *opts, const ch_svg_series *series,
                      size_t ns)
{
    ch_svg_line_opts o = {0};
    if (opts) {
        o = *opts;
    }
    int w = o.width > 0 ? o.width : 720;
    int h = o.height > 0 ? o.height : 400;
    s_frame f = {0};
    f.log_y = o.log_y;

    /* Data domain over every finite point. */
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    size_t total = 0;
    size_t name_len = 0;
    bool named = false;
    for (size_t k = 0; k < ns; k++) {
        const ch_svg_series *s = &series[k];
        if (s->name && s->name[0]) {
            named = true;
            size_t l = s_textlen(s->name);
            name_len = l > name_len ? l : name_len;
        }
        for (size_t i = 0; s->y && i < s->n; i++) {
            double x, y;
            if (s_point(s, i, f.log_y, &x, &y)) {
                xmin = fmin(xmin, x);
                xmax = fmax(xmax, x);
                ymin = fmin(ymin, y);
                ymax = fmax(ymax, y);
                total++;
            }
        }
    }
    if (total == 0) {
        xmin = 0;
        xmax = 1;
        ymin = 0;
        ymax = 1;
    }
    ch_svg_ticks tx = ch_svg_nice_ticks(xmin, xmax, 6);
    ch_svg_ticks ty = f.log_y ? s_log_ticks(ymin, ymax) : ch_svg_nice_ticks(ymin, ymax, 5);
    f.xlo = tx.lo;
    f.xhi = tx.lo + (tx.n - 1) * tx.step;
    f.ylo = ty.lo;
    f.yhi = ty.lo + (ty.n - 1) * ty.step;

    /* Margins from the widest y tick label and the legend. */
    size_t ylab = 1;
    char buf[64];
    for (int i = 0; i < ty.n; i++) {
        s_fmt_y(&f, &ty, ty.lo + i * ty.step, buf, sizeof buf);
        size_t l = strlen(buf);
        ylab = l > ylab ? l : ylab;
    }
    bool legend = ns >= 2 || (ns == 1 && named);
    double legend_w = legend ? fmin(28 + S_CHAR_W * (double)name_len, 200) + 16 : 0;
    f.left = 14 + S_CHAR_W * (double)ylab + (o.y_label ? 22 : 0);
    f.top = o.title && o.title[0] ? 40 : 14;
    double right = 18 + legend_w;
    double bottom = 34 + (o.x_label ? 20 : 0);
    f.pw = fmax(w - f.left - right, 40);
    f.ph = fmax(h - f.top - bottom, 40);

    char attr[64];
    snprintf(attr, sizeof attr, "data-series=\"%zu\"", ns);
    s_open(out, "line-chart", w, h, o.title, attr);
    s_title(out, o.title, f.left + f.pw / 2);

    /* Grid, ticks and tick labels. */
    ch_buf_puts(out, "<g class=\"axis y-axis\" fill=\"" S_TEXT "\">\n");
    for (int i = 0; i < ty.n; i++) {
        double v = ty.lo + i * ty.step;
        double y = s_py(&f, v);
        s_fmt_y(&f, &ty, v, buf, sizeof buf);
        ch_buf_printf(out,
                      "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                      "stroke=\"" S_GRID "\"/>\n<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" "
                      "text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>\n",
                      f.left, f.left + f.pw, y, y, f.left - 6, y, buf);
    }
    ch_buf_puts(out, "</g>\n<g class=\"axis x-axis\" fill=\"" S_TEXT "\">\n");
    for (int i = 0; i < tx.n; i++) {
        double v = tx.lo + i * tx.step;
        double x = s_px(&f, v);
        ch_svg_format_tick(v, tx.step, buf, sizeof buf);
        ch_buf_printf(out,
                      "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"" S_AXIS
                      "\"/>\n<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
                      "%s</text>\n",
                      x, x, f.top + f.ph, f.top + f.ph + 5, x, f.top + f.ph + 18, buf);
    }
    ch_buf_puts(out, "</g>\n");
    ch_buf_printf(out,
                  "<path class=\"frame\" d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" stroke=\"" S_AXIS
                  "\"/>\n",
                  f.left, f.top, f.top + f.ph, f.left + f.pw);
    if (o.x_label) {
        ch_buf_printf(out,
                      "<text class=\"axis-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                      "fill=\"" S_TEXT "\">",
                      f.left + f.pw / 2, f.top + f.ph + 40);
        ch_buf_html(out, o.x_label);
        ch_buf_puts(out, "</text>\n");
    }
    if (o.y_label) {
        double cx = 16, cy = f.top + f.ph / 2;
        ch_buf_printf(out,
                      "<text class=\"axis-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                      "transform=\"rotate(-90 %.1f %.1f)\" fill=\"" S_TEXT "\">",
                      cx, cy, cx, cy);
        ch_buf_html(out, o.y_label);
        if (f.log_y) {
            ch_buf_puts(out, " (log)");
        }
        ch_buf_puts(out, "</text>\n");
    }

    for (size_t k = 0; k < ns; k++) {
        if (series[k].y) {
            s_draw_series(out, &f, &series[k], S_PALETTE[k % S_NPALETTE]);
        } else {
            ch_buf_puts(out, "<g class=\"series\" data-name=\"");
            ch_buf_html(out, series[k].name ? series[k].name : "");
            ch_buf_puts(out, "\" data-n=\"0\"></g>\n");
        }
    }
    if (total == 0) {
        s_no_data(out, f.left + f.pw / 2, f.top + f.ph / 2);
    }

    if (legend) {
        double lx = f.left + f.pw + 16;
        ch_buf_puts(out, "<g class=\"legend\" fill=\"" S_TEXT "\">\n");
        for (size_t k = 0; k < ns; k++) {
            double ly = f.top + 8 + 20.0 * (double)k;
            ch_buf_printf(out,
                          "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                          "stroke-width=\"3\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
                          "dominant-baseline=\"middle\">",
                          lx, lx + 20, ly, ly, S_PALETTE[k % S_NPALETTE], lx + 26, ly);
            ch_buf_html(out, series[k].name && series[k].name[0] ? series[k].name : "(unnamed)");
            ch_buf_puts(out, "</text>\n");
        }
        ch_buf_puts(out, "</g>\n");
    }
    ch_buf_puts(out, "</svg>\n");
    return out->failed ? CH_ENOMEM : 0;
}

/* --- bar chart -------------------------------------------------------------- */

int ch_svg_bar_chart(ch_buf *out, const ch_svg_bar_opts *opts, const char *const *labels,
                     const double *values, size_t n)
{
    ch_svg_bar_opts o = {.highlight = -1};
    if (opts) {
        o = *opts;
    }
    int w = o.width > 0 ? o.width : 720;
    const double bar_h = 22, gap = 8;
    double vmin = 0, vmax = 0;
    size_t label_len = 4, finite = 0;
    for (size_t i = 0; i < n; i++) {
        if (labels && labels[i]) {
            size_t l = s_textlen(labels[i]);
            label_len = l > label_len ? l : label_len;
        }
        if (values && isfinite(values[i])) {
            vmin = fmin(vmin, values[i]);
            vmax = fmax(vmax, values[i]);
            finite++;
        }
    }
    if (vmin == vmax) {
        vmax = vmin + 1; /* all zero or no data: a unit axis */
    }
    ch_svg_ticks t = ch_svg_nice_ticks(vmin, vmax, 5);
    double lo = t.lo, hi = t.lo + (t.n - 1) * t.step;

    double left = fmin(16 + S_CHAR_W * (double)label_len, w * 0.4);
    double top = o.title && o.title[0] ? 40 : 12;
    double right = 64;
    double pw = fmax(w - left - right, 40);
    double ph = n ? (double)n * (bar_h + gap) : 40;
    double bottom = 30 + (o.value_label ? 20 : 0);
    int h = (int)ceil(top + ph + bottom);

    char attr[64];
    snprintf(attr, sizeof attr, "data-n=\"%zu\"", finite);
    s_open(out, "bar-chart", w, h, o.title, attr);
    s_title(out, o.title, left + pw / 2);

    char buf[64];
    ch_buf_puts(out, "<g class=\"axis x-axis\" fill=\"" S_TEXT "\">\n");
    for (int i = 0; i < t.n; i++) {
        double v = t.lo + i * t.step;
        double x = left + (v - lo) / (hi - lo) * pw;
        ch_svg_format_tick(v, t.step, buf, sizeof buf);
        ch_buf_printf(out,
                      "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                      "stroke=\"" S_GRID "\"/>\n<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" "
                      "text-anchor=\"middle\">%s</text>\n",
                      x, x, top, top + ph, x, top + ph + 16, buf);
    }
    ch_buf_puts(out, "</g>\n");
    double x0 = left + (0 - lo) / (hi - lo) * pw;

    ch_buf_puts(out, "<g class=\"bars\">\n");
    for (size_t i = 0; i < n; i++) {
        double y = top + (double)i * (bar_h + gap) + gap / 2;
        bool win = o.highlight >= 0 && (size_t)o.highlight == i;
        double v = values ? values[i] : NAN;
        const char *label = labels && labels[i] ? labels[i] : "";
        ch_buf_printf(out,
                      "<text class=\"bar-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                      "dominant-baseline=\"middle\" fill=\"" S_TEXT "\"%s>",
                      left - 8, y + bar_h / 2, win ? " font-weight=\"700\"" : "");
        ch_buf_html(out, label);
        ch_buf_puts(out, "</text>\n");
        if (!isfinite(v)) {
            ch_buf_printf(out,
                          "<text class=\"bar-value\" x=\"%.1f\" y=\"%.1f\" "
                          "dominant-baseline=\"middle\" fill=\"#999\">n/a</text>\n",
                          x0 + 4, y + bar_h / 2);
            continue;
        }
        double xv = left + (v - lo) / (hi - lo) * pw;
        double bx = fmin(x0, xv), bw = fabs(xv - x0);
        ch_buf_printf(out,
                      "<rect class=\"bar%s\" data-value=\"%.17g\" x=\"%.1f\" y=\"%.1f\" "
                      "width=\"%.1f\" height=\"%.1f\" rx=\"2\" fill=\"%s\"><title>",
                      win ? " winner" : "", v, bx, y, bw, bar_h, win ? S_WINNER : S_BAR);
        ch_buf_html(out, label);
        ch_buf_printf(out, ": %.6g</title></rect>\n", v);
        bool neg = v < 0;
        ch_buf_printf(out,
                      "<text class=\"bar-value\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" "
                      "dominant-baseline=\"middle\" fill=\"" S_TEXT "\"%s>%.4g%s</text>\n",
                      neg ? bx - 4 : bx + bw + 4, y + bar_h / 2, neg ? "end" : "start",
                      win ? " font-weight=\"700\"" : "", v, win ? " \xe2\x98\x85" : "");
    }
    ch_buf_puts(out, "</g>\n");
    ch_buf_printf(out,
                  "<line class=\"zero\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                  "stroke=\"" S_AXIS "\"/>\n",
                  x0, x0, top, top + ph);
    if (n == 0 || finite == 0) {
        s_no_data(out, left + pw / 2, top + ph / 2);
    }
    if (o.value_label) {
        ch_buf_printf(out,
                      "<text class=\"axis-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                      "fill=\"" S_TEXT "\">",
                      left + pw / 2, top + ph + 38);
        ch_buf_html(out, o.value_label);
        ch_buf_puts(out, "</text>\n");
    }
    ch_buf_puts(out, "</svg>\n");
    return out->failed ? CH_ENOMEM : 0;
}
