/* report.c: what a release states: the (epsilon, delta) it spent and the
 * budget split, the tree, and the quality against held-out rows, for
 * summary.json, model.txt and report.html. */
#include "algorithms/synthetic/synthetic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_num(ch_buf *j, const char *key, double v)
{
    ch_buf_printf(j, ", \"%s\": ", key);
    ch_buf_json_num(j, v);
}

int ch_syn_summary_json(const ch_syn_model *m, ch_buf *j)
{
    const ch_syn_budget *b = &m->budget;
    ch_buf_puts(j, ",\n  \"privacy\": {\"epsilon\": ");
    ch_buf_json_num(j, b->epsilon);
    s_num(j, "delta", b->delta);
    s_num(j, "rho", b->rho);
    ch_buf_printf(j, ", \"mode\": \"%s\"",
                  b->federated ? "federated: noise added by each silo, guarantee per silo"
                               : "central: noise added once at the coordinator");
    ch_buf_puts(j, ", \"split\": [");
    ch_buf_puts(j, "{\"measurement\": \"bounds\"");
    s_num(j, "rho", b->rho_bounds);
    ch_buf_printf(j, ", \"count\": %u", b->n_bounds);
    s_num(j, "sigma", b->sigma_bounds);
    ch_buf_puts(j, "}, {\"measurement\": \"one-way marginals\"");
    s_num(j, "rho", b->rho_oneway);
    ch_buf_printf(j, ", \"count\": %u", b->n_oneway);
    s_num(j, "sigma", b->sigma_oneway);
    ch_buf_puts(j, "}, {\"measurement\": \"tree selection (exponential mechanism)\"");
    s_num(j, "rho", b->rho_select);
    ch_buf_printf(j, ", \"count\": %u", b->n_select);
    s_num(j, "epsilon_per_step", b->eps_select);
    ch_buf_puts(j, "}, {\"measurement\": \"two-way marginals\"");
    s_num(j, "rho", b->rho_pairs);
    ch_buf_printf(j, ", \"count\": %u", b->n_pairs);
    s_num(j, "sigma", b->sigma_pairs);
    ch_buf_puts(j, "}]}");
    ch_buf_puts(j, ",\n  \"noisy_rows\": ");
    ch_buf_json_num(j, m->total);
    ch_buf_printf(j, ",\n  \"rows\": %llu,\n  \"augmented_rows\": %llu",
                  (unsigned long long)m->rows, (unsigned long long)m->aug_rows);
    if (m->aug_col >= 0) {
        const ch_syn_col *c = &m->dom.cols[m->aug_col];
        ch_buf_puts(j, ",\n  \"augment\": {\"column\": ");
        ch_buf_json_str(j, c->name);
        ch_buf_puts(j, ", \"class\": ");
        ch_buf_json_str(j, c->levels[m->aug_cell]);
        ch_buf_printf(j, ", \"rows\": %llu}", (unsigned long long)m->aug_rows);
    }
    ch_buf_puts(j, ",\n  \"tree\": [");
    for (size_t e = 0; e < m->n_edges; e++) {
        ch_buf_puts(j, e ? ", [" : "[");
        ch_buf_json_str(j, m->dom.cols[m->edges[e].a].name);
        ch_buf_puts(j, ", ");
        ch_buf_json_str(j, m->dom.cols[m->edges[e].b].name);
        ch_buf_puts(j, "]");
    }
    ch_buf_puts(j, "]");
    ch_buf_puts(j, ",\n  \"columns\": [");
    for (size_t c = 0; c < m->dom.n_cols; c++) {
        const ch_syn_col *col = &m->dom.cols[c];
        ch_buf_puts(j, c ? ",\n    {\"name\": " : "\n    {\"name\": ");
        ch_buf_json_str(j, col->name);
        ch_buf_printf(j, ", \"kind\": \"%s\", \"cells\": %zu",
                      col->kind == CH_COL_CATEGORICAL ? "categorical" : "numeric", col->size);
        if (col->kind == CH_COL_NUMERIC) {
            s_num(j, "low", col->lo);
            s_num(j, "high", col->hi);
            ch_buf_printf(j, ", \"bounds\": \"%s\"", col->given ? "given" : "private");
        }
        if (m->tv) {
            s_num(j, "tv", m->tv[c]);
            s_num(j, "ks", m->ks[c]);
        }
        ch_buf_puts(j, "}");
    }
    ch_buf_puts(j, "\n  ]");
    ch_buf_puts(j, ",\n  \"quality_note\": \"tv, ks, corr_diff and the classifier metrics "
                   "compare with held-out real rows and are not covered by the privacy "
                   "guarantee\"");
    return j->failed ? CH_ENOMEM : 0;
}

int ch_syn_describe(const ch_syn_model *m, ch_buf *t)
{
    const ch_syn_budget *b = &m->budget;
    ch_buf_printf(t,
                  "Differentially private synthetic data (MST): (epsilon %.4g, delta %.3g)-DP, "
                  "rho %.6g zCDP%s\n",
                  b->epsilon, b->delta, b->rho,
                  b->federated ? ", per silo (each silo added its own noise)" : "");
    ch_buf_printf(t,
                  "Budget: bounds rho %.4g (%u), one-way rho %.4g (%u, sigma %.4g), selection "
                  "rho %.4g (%u steps, eps %.4g each), two-way rho %.4g (%u, sigma %.4g)\n",
                  b->rho_bounds, b->n_bounds, b->rho_oneway, b->n_oneway, b->sigma_oneway,
                  b->rho_select, b->n_select, b->eps_select, b->rho_pairs, b->n_pairs,
                  b->sigma_pairs);
    ch_buf_printf(t, "Rows: %llu generated + %llu augmented; noisy training rows %.1f\n",
                  (unsigned long long)m->rows, (unsigned long long)m->aug_rows, m->total);
    for (size_t e = 0; e < m->n_edges; e++) {
        ch_buf_printf(t, "  edge %s -- %s\n", m->dom.cols[m->edges[e].a].name,
                      m->dom.cols[m->edges[e].b].name);
    }
    if (!isnan(m->mean_tv)) {
        ch_buf_printf(t, "Held-out rows: mean one-way TV %.4f (max %.4f), correlation diff %.4f\n",
                      m->mean_tv, m->max_tv, m->corr_diff);
    }
    return t->failed ? CH_ENOMEM : 0;
}

int ch_syn_report(const ch_syn_model *m, ch_report *r, ch_err *err)
{
    const ch_syn_budget *b = &m->budget;
    char v[8][160];
    snprintf(v[0], sizeof v[0], "(%.4g, %.3g)-DP  (rho = %.6g zCDP)", b->epsilon, b->delta, b->rho);
    snprintf(v[1], sizeof v[1], "%s",
             b->federated ? "federated: every silo added its own noise; the guarantee holds "
                            "per silo"
                          : "central: exact counts summed over the block tree, noise added "
                            "once at the coordinator");
    snprintf(v[2], sizeof v[2], "rho %.4g over %u columns (Gaussian, sigma %.4g)", b->rho_bounds,
             b->n_bounds, b->sigma_bounds);
    snprintf(v[3], sizeof v[3], "rho %.4g over %u marginals (Gaussian, sigma %.4g)", b->rho_oneway,
             b->n_oneway, b->sigma_oneway);
    snprintf(v[4], sizeof v[4], "rho %.4g over %u steps (exponential mechanism, eps %.4g each)",
             b->rho_select, b->n_select, b->eps_select);
    snprintf(v[5], sizeof v[5], "rho %.4g over %u marginals (Gaussian, sigma %.4g)", b->rho_pairs,
             b->n_pairs, b->sigma_pairs);
    snprintf(v[6], sizeof v[6], "%llu generated + %llu of the augmented class",
             (unsigned long long)m->rows, (unsigned long long)m->aug_rows);
    snprintf(v[7], sizeof v[7], "%.4g", m->mean_tv);
    const char *keys[] = {"privacy spent",    "mode",
                          "private bounds",   "one-way marginals",
                          "tree selection",   "two-way marginals",
                          "rows in data.csv", "mean one-way TV (held-out rows)"};
    const char *vals[] = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
    ch_report_section(r, "Differentially private synthetic data");
    int rc = ch_report_kv(r, keys, vals, 8);
    if (rc == 0) {
        ch_report_paragraph(r, "The release (model.pb and data.csv) is differentially private "
                               "for the training rows. The quality figures below compare with "
                               "held-out real rows and are not covered by the guarantee.");
    }
    if (rc == 0 && m->n_edges) {
        size_t n = m->n_edges;
        const char **cells = calloc(2 * n, sizeof *cells);
        if (!cells) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t e = 0; e < n; e++) {
            cells[2 * e] = m->dom.cols[m->edges[e].a].name;
            cells[2 * e + 1] = m->dom.cols[m->edges[e].b].name;
        }
        static const char *const h[] = {"column", "column"};
        ch_report_section(r, "Tree of measured two-way marginals");
        rc = ch_report_table(r, h, 2, cells, n, -1);
        free(cells);
    }
    if (rc == 0 && m->tv) {
        size_t n = m->dom.n_cols;
        const char **labels = calloc(n, sizeof *labels);
        if (!labels) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t j = 0; j < n; j++) {
            labels[j] = m->dom.cols[j].name;
        }
        ch_svg_bar_opts o = {.title = "Total-variation distance per column (synthetic vs "
                                      "held-out)",
                             .value_label = "TV distance",
                             .highlight = -1};
        ch_report_section(r, "Quality");
        rc = ch_report_bar_chart(r, &o, labels, m->tv, n);
        free(labels);
    }
    return rc;
}
