/* cluster_report.c: report pieces shared by the clustering algorithms. */
#include "algorithms/cluster_common/cluster_report.h"

#include "algorithms/cluster_common/silplot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A table of nrows x ncols malloc'd cells. */
typedef struct s_tab {
    size_t nrows, ncols;
    char **cells;
    bool failed;
} s_tab;

static int s_tab_init(s_tab *t, size_t nrows, size_t ncols)
{
    t->nrows = nrows;
    t->ncols = ncols;
    t->failed = false;
    t->cells = calloc(nrows * ncols + 1, sizeof *t->cells);
    return t->cells ? 0 : CH_ENOMEM;
}

static void s_tab_set(s_tab *t, size_t r, size_t c, const char *fmt, double v)
{
    char buf[64];
    if (isnan(v)) {
        snprintf(buf, sizeof buf, "n/a");
    } else {
        snprintf(buf, sizeof buf, fmt, v);
    }
    t->cells[r * t->ncols + c] = strdup(buf);
    t->failed |= t->cells[r * t->ncols + c] == NULL;
}

static void s_tab_str(s_tab *t, size_t r, size_t c, const char *s)
{
    t->cells[r * t->ncols + c] = strdup(s);
    t->failed |= t->cells[r * t->ncols + c] == NULL;
}

static int s_tab_emit(ch_report *r, s_tab *t, const char *const *header)
{
    int rc = t->failed ? CH_ENOMEM
                       : ch_report_table(r, header, t->ncols, (const char *const *)t->cells,
                                         t->nrows, -1);
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    t->cells = NULL;
    return rc;
}

int ch_clr_sizes(ch_report *r, size_t k, const double *count, const double *sil,
                 const char *const *extra_names, const double *extra, size_t n_extra)
{
    size_t ncols = 2 + n_extra + (sil ? 1 : 0);
    const char **header = calloc(ncols, sizeof *header);
    s_tab t;
    if (!header || s_tab_init(&t, k, ncols) != 0) {
        free(header);
        return CH_ENOMEM;
    }
    header[0] = "cluster";
    header[1] = "size";
    for (size_t e = 0; e < n_extra; e++) {
        header[2 + e] = extra_names[e];
    }
    if (sil) {
        header[ncols - 1] = "silhouette";
    }
    for (size_t c = 0; c < k; c++) {
        s_tab_set(&t, c, 0, "%.0f", (double)c);
        s_tab_set(&t, c, 1, "%.0f", count[c]);
        for (size_t e = 0; e < n_extra; e++) {
            s_tab_set(&t, c, 2 + e, "%.6g", extra[e * k + c]);
        }
        if (sil) {
            s_tab_set(&t, c, ncols - 1, "%.4f", sil[c]);
        }
    }
    int rc = s_tab_emit(r, &t, header);
    free(header);
    if (rc == 0 && sil && k <= 200) {
        char **labels = calloc(k, sizeof *labels);
        if (!labels) {
            return CH_ENOMEM;
        }
        for (size_t c = 0; c < k; c++) {
            char buf[32];
            snprintf(buf, sizeof buf, "cluster %zu", c);
            labels[c] = strdup(buf);
            if (!labels[c]) {
                rc = CH_ENOMEM;
            }
        }
        ch_svg_bar_opts o = {
            .title = "Silhouette per cluster", .value_label = "mean silhouette", .highlight = -1};
        if (rc == 0) {
            rc = ch_report_bar_chart(r, &o, (const char *const *)labels, sil, k);
        }
        for (size_t c = 0; c < k; c++) {
            free(labels[c]);
        }
        free(labels);
    }
    return rc;
}

int ch_clr_silhouette_plot(ch_report *r, size_t k, const double *hist, double mean,
                           unsigned long long rows)
{
    if (!hist || k == 0 || k > 60) {
        return 0;
    }
    ch_buf svg;
    ch_buf_init(&svg);
    int rc = ch_sil_plot_svg(&svg, hist, k, mean);
    if (rc == 0 && svg.len > 0) {
        char text[256];
        snprintf(text, sizeof text,
                 "Each cluster's rows sorted by silhouette value, highest first, over %llu "
                 "rows (values binned to 0.05; hover a bar for its count). The dashed line is "
                 "the mean silhouette; bars left of zero are rows closer to another cluster.",
                 rows);
        rc = ch_report_heading(r, "Silhouette plot");
        rc = rc ? rc : ch_report_paragraph(r, text);
        rc = rc ? rc : ch_report_svg(r, ch_buf_str(&svg));
    }
    ch_buf_free(&svg);
    return rc;
}

int ch_clr_profiles(ch_report *r, size_t k, size_t d, const char *const *names,
                    const double *centroids, const double *mean, const double *scale,
                    bool standardize)
{
    size_t kd = k < 20 ? k : 20, dd = d < 40 ? d : 40;
    const char **header = calloc(2 + kd, sizeof *header);
    char **hbuf = calloc(kd, sizeof *hbuf);
    s_tab t;
    if (!header || !hbuf || s_tab_init(&t, dd, 2 + kd) != 0) {
        free(header);
        free(hbuf);
        return CH_ENOMEM;
    }
    header[0] = "feature";
    header[1] = "overall mean";
    int rc = 0;
    for (size_t c = 0; c < kd; c++) {
        char buf[32];
        snprintf(buf, sizeof buf, "cluster %zu", c);
        hbuf[c] = strdup(buf);
        header[2 + c] = hbuf[c] ? hbuf[c] : "";
    }
    for (size_t f = 0; f < dd; f++) {
        s_tab_str(&t, f, 0, names && names[f] ? names[f] : "");
        s_tab_set(&t, f, 1, "%.4g", mean[f]);
        for (size_t c = 0; c < kd; c++) {
            double v = centroids[c * d + f];
            s_tab_set(&t, f, 2 + c, "%.4g", standardize ? v * scale[f] + mean[f] : v);
        }
    }
    ch_report_heading(r, "Cluster profiles");
    if (dd < d || kd < k) {
        char note[160];
        snprintf(note, sizeof note,
                 "Showing %zu of %zu features and %zu of %zu clusters (summary.json holds every "
                 "centroid).",
                 dd, d, kd, k);
        ch_report_paragraph(r, note);
    }
    rc = s_tab_emit(r, &t, header);
    for (size_t c = 0; c < kd; c++) {
        free(hbuf[c]);
    }
    free(hbuf);
    free(header);
    return rc;
}

int ch_clr_contingency(ch_report *r, size_t k, size_t q, const char *const *classes,
                       const double *table, double ari)
{
    const char **header = calloc(1 + q, sizeof *header);
    s_tab t;
    if (!header || s_tab_init(&t, k, 1 + q) != 0) {
        free(header);
        return CH_ENOMEM;
    }
    header[0] = "cluster";
    for (size_t j = 0; j < q; j++) {
        header[1 + j] = classes && classes[j] ? classes[j] : "";
    }
    for (size_t c = 0; c < k; c++) {
        s_tab_set(&t, c, 0, "%.0f", (double)c);
        for (size_t j = 0; j < q; j++) {
            s_tab_set(&t, c, 1 + j, "%.0f", table[c * q + j]);
        }
    }
    ch_report_heading(r, "Clusters against the target");
    char note[96];
    snprintf(note, sizeof note, "Adjusted Rand index against the target: %.4f", ari);
    ch_report_paragraph(r, note);
    int rc = s_tab_emit(r, &t, header);
    free(header);
    return rc;
}
