/* kmeans_report.h: the k-means sections of report.html. */
#ifndef CH_KM_REPORT_H
#define CH_KM_REPORT_H

#include "common/report.h"
#include "proto/kmeans.pb-c.h"

/* Adds the clustering summary, cluster sizes, silhouette per cluster,
 * inertia per iteration, cluster profiles and (with a target) the
 * contingency table to r. Returns 0 or CH_ENOMEM. */
int ch_km_report(const Cohort__Kmeans__Model *m, ch_report *r, ch_err *err);

#endif
