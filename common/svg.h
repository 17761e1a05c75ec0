/* svg.h: SVG charts drawn by cohort (line charts, horizontal bar charts).
 *
 * The output is a standalone <svg> element (with xmlns, so it can be saved as
 * a .svg file or inlined in HTML): no JavaScript, no fonts or styles fetched
 * from the network. Every data element carries a class and a data-n count so
 * a test (or headless browser) can check that a chart has data:
 *   <svg class="chart line-chart" data-series="S">
 *     <g class="series" data-name="..." data-n="POINTS"> <polyline class="line" ...>
 *   <svg class="chart bar-chart" data-n="BARS">  <rect class="bar" data-value="...">
 * Non-finite values (NaN, inf) are gaps; a series or chart with no finite
 * point draws its axes and "no data". */
#ifndef CH_SVG_H
#define CH_SVG_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* Nice axis ticks: lo + i*step for i in [0, n), where step is 1, 2 or 5
 * times a power of ten and [lo, lo + (n-1)*step] covers the data range. */
typedef struct ch_svg_ticks {
    double lo;
    double step;
    int n;
} ch_svg_ticks;

/* Computes ticks covering [min, max] with about `target` intervals (at least
 * 2; 5 is a good default). A zero-width range (min == max) is widened around
 * the value; min > max is swapped; non-finite input gives the ticks of
 * [0, 1]. This function can't fail. */
ch_svg_ticks ch_svg_nice_ticks(double min, double max, int target);

/* Formats tick value v for an axis whose step is `step` with just enough
 * decimals ("0.25", "1e+06", never "-0"). Writes a NUL-terminated string into
 * buf (32 bytes is enough) and returns buf. */
char *ch_svg_format_tick(double v, double step, char *buf, size_t size);

/* One line of a line chart. x and y are parallel arrays of n values the
 * caller owns; x may be NULL to mean 0, 1, 2, ... */
typedef struct ch_svg_series {
    const char *name;
    const double *x;
    const double *y;
    size_t n;
} ch_svg_series;

typedef struct ch_svg_line_opts {
    const char *title;   /* NULL for none */
    const char *x_label; /* NULL for none */
    const char *y_label; /* NULL for none */
    int width;           /* pixels; 0 means 720 */
    int height;          /* pixels; 0 means 400 */
    bool log_y;          /* log10 y axis; y <= 0 becomes a gap */
} ch_svg_line_opts;

/* Appends a line chart of ns series to out: axes with nice ticks and labels,
 * the title, axis labels and (with two or more series, or one named series)
 * a legend. opts may be NULL for defaults. Isolated points (one finite point
 * between gaps) are drawn as dots. Returns 0, or CH_ENOMEM when the buffer
 * could not grow (out->failed is then set). */
int ch_svg_line_chart(ch_buf *out, const ch_svg_line_opts *opts, const ch_svg_series *series,
                      size_t ns);

typedef struct ch_svg_bar_opts {
    const char *title;       /* NULL for none */
    const char *value_label; /* label of the value axis, NULL for none */
    int width;               /* pixels; 0 means 720; the height follows the bar count */
    long highlight;          /* index of the bar drawn as the winner, -1 for none */
} ch_svg_bar_opts;

/* Appends a horizontal bar chart of n bars (labels[i], values[i]), in the
 * order given, the value axis starting at zero (negative values extend left).
 * The highlighted bar gets class "bar winner" and a distinct colour. A NaN
 * value shows its label and "n/a" with no bar. opts may be NULL. Returns 0
 * or CH_ENOMEM. */
int ch_svg_bar_chart(ch_buf *out, const ch_svg_bar_opts *opts, const char *const *labels,
                     const double *values, size_t n);

#endif
