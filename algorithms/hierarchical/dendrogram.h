/* dendrogram.h: an SVG dendrogram of a SciPy-format linkage. */
#ifndef CH_HC_DENDROGRAM_H
#define CH_HC_DENDROGRAM_H

#include "common/buf.h"

#include <stddef.h>

/* Appends an <svg> dendrogram of the linkage z ((n-1) x 4) to out, showing
 * the last `lastp` merges (SciPy's truncate_mode="lastp": each leaf is a
 * cluster labelled with its size) and a dashed line where the tree is cut
 * into `cut` clusters. The markup holds only numbers (no user text).
 * Returns 0 or CH_ENOMEM. */
int ch_hc_dendrogram_svg(ch_buf *out, const double *z, size_t n, size_t lastp, size_t cut);

#endif
