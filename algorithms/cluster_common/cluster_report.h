/* cluster_report.h: report pieces shared by the clustering algorithms:
 * a table of strings built cell by cell, cluster profiles, the contingency
 * table against the target, the silhouette chart and plot. */
#ifndef CH_CLUSTER_REPORT_H
#define CH_CLUSTER_REPORT_H

#include "common/report.h"

#include <stdbool.h>
#include <stddef.h>

/* Cluster sizes and silhouette per cluster: a table (cluster, size, extra
 * columns) and a bar chart of the silhouette when sil is not NULL. extra
 * holds n_extra columns of k values each (extra[c * k + j]). */
int ch_clr_sizes(ch_report *r, size_t k, const double *count, const double *sil,
                 const char *const *extra_names, const double *extra, size_t n_extra);

/* The silhouette plot (silplot.h) under a heading, from hist (k x
 * CH_SIL_BINS row counts); nothing when hist is NULL or k is above 60. */
int ch_clr_silhouette_plot(ch_report *r, size_t k, const double *hist, double mean,
                           unsigned long long rows);

/* Per-cluster means of every feature (original units) against the overall
 * mean: centroids are in standardised space when standardize is set. At
 * most 40 features and 20 clusters are shown (the text says so). */
int ch_clr_profiles(ch_report *r, size_t k, size_t d, const char *const *names,
                    const double *centroids, const double *mean, const double *scale,
                    bool standardize);

/* The k x q contingency table of clusters against target classes, with the
 * adjusted Rand index. */
int ch_clr_contingency(ch_report *r, size_t k, size_t q, const char *const *classes,
                       const double *table, double ari);

#endif
