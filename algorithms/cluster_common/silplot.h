/* silplot.h: the silhouette plot (Rousseeuw 1987: each cluster's rows
 * sorted by their silhouette value, drawn as horizontal bars) from
 * per-cluster histograms of the values, so that workers can send counts
 * (k x CH_SIL_BINS, summed in any order to the same integers) instead of a
 * value per row. The plot is exact up to the bin width, 0.05. */
#ifndef CH_SILPLOT_H
#define CH_SILPLOT_H

#include "common/buf.h"

#include <stddef.h>

#define CH_SIL_BINS 40 /* over [-1, 1]: bin b holds [-1 + b/20, -1 + (b+1)/20) */

/* The bin of silhouette value s; 1 falls in the last bin, values outside
 * [-1, 1] (rounding) in the first or last. */
size_t ch_sil_bin(double s);

/* Appends an SVG silhouette plot of k clusters: hist[c * CH_SIL_BINS + b]
 * rows of cluster c in bin b; mean, the overall silhouette, is drawn as a
 * dashed line (skipped when NaN). Nothing is written when no row is
 * counted. */
int ch_sil_plot_svg(ch_buf *out, const double *hist, size_t k, double mean);

#endif
