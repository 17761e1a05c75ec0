/* kmeans_report.c: the k-means sections of report.html (see kmeans_report.h). */
#include "algorithms/kmeans/kmeans_report.h"

#include "algorithms/cluster_common/cluster_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The inertia curve of each restart, from the (restart, iter, inertia)
 * history. */
static int s_curves(const Cohort__Kmeans__Model *m, ch_report *r)
{
    size_t n = m->n_history / 3;
    if (n == 0) {
        return 0;
    }
    uint32_t restarts = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t rs = (uint32_t)m->history[3 * i];
        restarts = rs + 1 > restarts ? rs + 1 : restarts;
    }
    restarts = restarts > 10 ? 10 : restarts;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    ch_svg_series *s = calloc(restarts ? restarts : 1, sizeof *s);
    char(*names)[32] = calloc(restarts ? restarts : 1, sizeof *names);
    int rc = 0;
    if (!x || !y || !s || !names) {
        rc = CH_ENOMEM;
    }
    size_t at = 0;
    for (uint32_t rs = 0; rc == 0 && rs < restarts; rs++) {
        s[rs].x = x + at;
        s[rs].y = y + at;
        for (size_t i = 0; i < n; i++) {
            if ((uint32_t)m->history[3 * i] == rs) {
                x[at] = m->history[3 * i + 1];
                y[at] = m->history[3 * i + 2];
                at++;
                s[rs].n++;
            }
        }
        snprintf(names[rs], sizeof names[rs], "restart %u", rs);
        s[rs].name = names[rs];
    }
    if (rc == 0) {
        ch_svg_line_opts o = {
            .title = "Inertia per iteration", .x_label = "iteration", .y_label = "inertia"};
        rc = ch_report_line_chart(r, &o, s, restarts);
    }
    free(x);
    free(y);
    free(s);
    free(names);
    return rc;
}

int ch_km_report(const Cohort__Kmeans__Model *m, ch_report *r, ch_err *err)
{
    size_t k = m->k;
    char v[10][64];
    snprintf(v[0], sizeof v[0], "%u", m->k);
    snprintf(v[1], sizeof v[1], "%llu (%llu skipped for missing values)",
             (unsigned long long)m->n_rows, (unsigned long long)m->n_skipped);
    snprintf(v[2], sizeof v[2], "%s, init %s", m->algorithm, m->init);
    snprintf(v[3], sizeof v[3], "%.10g", m->inertia);
    snprintf(v[4], sizeof v[4], "%u (restart %u of %zu)", m->n_iter, m->best_restart,
             m->n_restart_inertia);
    if (isnan(m->silhouette)) {
        snprintf(v[5], sizeof v[5], "not computed");
    } else {
        snprintf(v[5], sizeof v[5], "%.6f over %llu rows", m->silhouette,
                 (unsigned long long)m->silhouette_rows);
    }
    snprintf(v[6], sizeof v[6], "%.6g", m->davies_bouldin);
    snprintf(v[7], sizeof v[7], "%.6g", m->calinski_harabasz);
    snprintf(v[8], sizeof v[8], "%.4f", m->adjusted_rand);
    const char *keys[] = {"clusters",
                          "rows",
                          "method",
                          "inertia",
                          "iterations",
                          "silhouette",
                          "Davies-Bouldin",
                          "Calinski-Harabasz",
                          "adjusted Rand index",
                          "note"};
    const char *vals[] = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], m->note};
    size_t nkv = m->n_contingency ? 9 : 8;
    ch_report_section(r, "Clusters");
    int rc = ch_report_kv(r, keys, vals, nkv);
    if (rc == 0 && m->note && m->note[0]) {
        rc = ch_report_paragraph(r, m->note);
    }
    if (rc == 0) {
        const char *extra_names[] = {"weight", "inertia", "mean distance"};
        double *extra = malloc(3 * k * sizeof *extra);
        if (!extra) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        memcpy(extra, m->weight, k * sizeof *extra);
        memcpy(extra + k, m->cluster_inertia, k * sizeof *extra);
        memcpy(extra + 2 * k, m->spread, k * sizeof *extra);
        rc = ch_clr_sizes(r, k, m->count, m->n_silhouette_cluster ? m->silhouette_cluster : NULL,
                          extra_names, extra, 3);
        free(extra);
    }
    if (rc == 0) {
        rc = ch_clr_silhouette_plot(r, k, m->n_silhouette_hist ? m->silhouette_hist : NULL,
                                    m->silhouette, (unsigned long long)m->silhouette_rows);
    }
    if (rc == 0) {
        rc = s_curves(m, r);
    }
    if (rc == 0) {
        rc = ch_clr_profiles(r, k, m->d, (const char *const *)m->names, m->centroids, m->mean,
                             m->scale, m->standardize);
    }
    if (rc == 0 && m->n_contingency) {
        rc = ch_clr_contingency(r, k, m->n_classes, (const char *const *)m->classes, m->contingency,
                                m->adjusted_rand);
    }
    if (rc == 0 && m->n_restart_inertia > 1) {
        ch_report_heading(r, "Restarts");
        size_t n = m->n_restart_inertia;
        char **labels = calloc(n, sizeof *labels);
        if (!labels) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            char buf[32];
            snprintf(buf, sizeof buf, "restart %zu", i);
            labels[i] = strdup(buf);
            if (!labels[i]) {
                rc = CH_ENOMEM;
            }
        }
        ch_svg_bar_opts o = {.title = "Final inertia per restart",
                             .value_label = "inertia",
                             .highlight = (long)m->best_restart};
        if (rc == 0) {
            rc = ch_report_bar_chart(r, &o, (const char *const *)labels, m->restart_inertia, n);
        }
        for (size_t i = 0; i < n; i++) {
            free(labels[i]);
        }
        free(labels);
    }
    return rc ? ch_err_set(err, rc, "out of memory writing the k-means report") : 0;
}
