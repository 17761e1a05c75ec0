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

/* "name": {"n_train": .., "auc": .., "accuracy": .., "recall": {level: ..},
 * "precision": {...}} for a fitted utility model. */
static void s_fit_json(ch_buf *j, const ch_syn_model *m, const char *name, const ch_syn_fit *f,
                       bool *first)
{
    if (!f->done) {
        return;
    }
    const ch_syn_col *c = &m->dom.cols[m->dom.target];
    ch_buf_printf(j, "%s\n    \"%s\": {\"rows\": ", *first ? "" : ",", name);
    *first = false;
    ch_buf_json_num(j, f->n_train);
    s_num(j, "auc", f->auc);
    s_num(j, "accuracy", f->accuracy);
    const char *what[2] = {"recall", "precision"};
    const double *v[2] = {f->recall, f->precision};
    for (int q = 0; q < 2; q++) {
        ch_buf_printf(j, ", \"%s\": {", what[q]);
        for (size_t l = 0; l < f->k && l < c->n_levels; l++) {
            if (l) {
                ch_buf_puts(j, ", ");
            }
            ch_buf_json_str(j, c->levels[l]);
            ch_buf_puts(j, ": ");
            ch_buf_json_num(j, v[q][l]);
        }
        ch_buf_puts(j, "}");
    }
    ch_buf_puts(j, "}");
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
        if (!m->prop) {
            ch_buf_puts(j, ", \"class\": ");
            ch_buf_json_str(j, c->levels[m->aug_cell]);
        }
        ch_buf_printf(j, ", \"rows\": %llu", (unsigned long long)m->aug_rows);
        if (m->prop) {
            ch_buf_puts(j, ", \"proportions\": {");
            for (size_t l = 0; l < c->n_levels; l++) {
                ch_buf_puts(j, l ? ", " : "");
                ch_buf_json_str(j, c->levels[l]);
                ch_buf_puts(j, ": ");
                ch_buf_json_num(j, m->prop[l]);
            }
            ch_buf_puts(j, "}");
        }
        ch_buf_puts(j, "}");
    }
    const ch_syn_privacy *p = &m->priv;
    if (!isnan(p->mia_auc)) {
        ch_buf_puts(j, ",\n  \"privacy_eval\": {\"synthetic_rows\": ");
        ch_buf_json_num(j, p->n_synthetic);
        s_num(j, "train_rows", p->n_train);
        s_num(j, "holdout_rows", p->n_holdout);
        s_num(j, "exact_match_train", p->exact_train);
        s_num(j, "exact_match_holdout", p->exact_holdout);
        s_num(j, "dcr_train_p05", p->dcr_train_p05);
        s_num(j, "dcr_train_median", p->dcr_train_median);
        s_num(j, "dcr_holdout_p05", p->dcr_holdout_p05);
        s_num(j, "dcr_holdout_median", p->dcr_holdout_median);
        s_num(j, "mia_auc", p->mia_auc);
        ch_buf_puts(j, ", \"note\": \"each real row's distance to the closest synthetic row "
                       "(mean over columns of |x - y| / range, or 0/1 for levels), training "
                       "rows (computed where they are) against held-out rows; mia_auc: the "
                       "attack calling closer rows members, 0.5 = chance\"}");
    }
    const ch_syn_utility *u = &m->util;
    if (u->synth.done || u->real.done) {
        bool first = true;
        ch_buf_puts(j, ",\n  \"utility\": {");
        s_fit_json(j, m, "train_on_real", &u->real, &first);
        s_fit_json(j, m, "train_on_synthetic", &u->synth, &first);
        s_fit_json(j, m, "train_on_real_plus_augmented", &u->real_aug, &first);
        s_fit_json(j, m, "train_on_synthetic_plus_augmented", &u->synth_aug, &first);
        ch_buf_puts(j, ",\n    \"model\": \"logistic regression (L2, lambda 1, one-hot "
                       "levels, standardised numbers, one-vs-rest), Newton's method; scored on "
                       "the held-out rows\"}");
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

/* The privacy figures as a table: training rows against held-out rows. */
static int s_privacy_section(const ch_syn_model *m, ch_report *r)
{
    const ch_syn_privacy *p = &m->priv;
    ch_report_section(r, "Privacy: distance to the closest synthetic row");
    char v[10][48];
    snprintf(v[0], sizeof v[0], "%.0f", p->n_train);
    snprintf(v[1], sizeof v[1], "%.0f", p->n_holdout);
    snprintf(v[2], sizeof v[2], "%.4f", p->exact_train);
    snprintf(v[3], sizeof v[3], "%.4f", p->exact_holdout);
    snprintf(v[4], sizeof v[4], "%.3f", p->dcr_train_p05);
    snprintf(v[5], sizeof v[5], "%.3f", p->dcr_holdout_p05);
    snprintf(v[6], sizeof v[6], "%.3f", p->dcr_train_median);
    snprintf(v[7], sizeof v[7], "%.3f", p->dcr_holdout_median);
    const char *cells[] = {"rows compared",      v[0], v[1], "exact-match rate", v[2], v[3],
                           "DCR 5th percentile", v[4], v[5], "DCR median",       v[6], v[7]};
    static const char *const h[] = {"", "training rows", "held-out rows"};
    int rc = ch_report_table(r, h, 3, cells, 4, -1);
    char t[400];
    snprintf(t, sizeof t,
             "Membership-inference AUC %.3f (an attacker calling a row a member when a "
             "synthetic row is close to it; 0.5 is chance, 1 a copy of the training rows). "
             "Against %.0f synthetic rows; training rows counted where they are, only the "
             "histograms sent.",
             p->mia_auc, p->n_synthetic);
    return rc ? rc : ch_report_paragraph(r, t);
}

/* The utility figures: per model, AUC, accuracy and the recall and
 * precision of every class. */
static int s_utility_section(const ch_syn_model *m, ch_report *r, ch_err *err)
{
    const ch_syn_utility *u = &m->util;
    const ch_syn_fit *f[4] = {&u->real, &u->synth, &u->real_aug, &u->synth_aug};
    const char *name[4] = {"real training rows", "synthetic rows", "real + augmented rows",
                           "synthetic + augmented rows"};
    const ch_syn_col *c = &m->dom.cols[m->dom.target];
    size_t k = c->n_levels, nc = 4 + 2 * k, nr = 0;
    char **cells = calloc(4 * nc, sizeof *cells);
    const char **hd = calloc(nc, sizeof *hd);
    char **hs = calloc(nc, sizeof *hs);
    int rc = cells && hd && hs ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
    for (size_t l = 0; rc == 0 && l < k; l++) {
        ch_buf b;
        ch_buf_init(&b);
        ch_buf_printf(&b, "recall %s", c->levels[l]);
        hs[4 + l] = strdup(ch_buf_str(&b));
        b.len = 0;
        ch_buf_printf(&b, "precision %s", c->levels[l]);
        hs[4 + k + l] = strdup(ch_buf_str(&b));
        ch_buf_free(&b);
    }
    if (rc == 0) {
        hd[0] = "trained on";
        hd[1] = "rows";
        hd[2] = "AUC";
        hd[3] = "accuracy";
        for (size_t q = 4; q < nc; q++) {
            hd[q] = hs[q] ? hs[q] : "";
        }
    }
    for (size_t i = 0; rc == 0 && i < 4; i++) {
        if (!f[i]->done) {
            continue;
        }
        char **row = cells + nr * nc;
        char x[64];
        row[0] = strdup(name[i]);
        snprintf(x, sizeof x, "%.0f", f[i]->n_train);
        row[1] = strdup(x);
        snprintf(x, sizeof x, "%.4f", f[i]->auc);
        row[2] = strdup(x);
        snprintf(x, sizeof x, "%.4f", f[i]->accuracy);
        row[3] = strdup(x);
        for (size_t l = 0; l < k; l++) {
            snprintf(x, sizeof x, "%.4f", f[i]->recall[l]);
            row[4 + l] = strdup(x);
            snprintf(x, sizeof x, "%.4f", f[i]->precision[l]);
            row[4 + k + l] = strdup(x);
        }
        nr++;
    }
    for (size_t q = 0; rc == 0 && q < nr * nc; q++) {
        rc = cells[q] ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0 && nr) {
        ch_report_section(r, "Utility and fairness: a model trained on the release, tested on "
                             "real held-out rows");
        rc = ch_report_table(r, hd, nc, (const char *const *)cells, nr, -1);
        if (rc == 0) {
            rc = ch_report_paragraph(
                r, "Logistic regression (L2 penalty 1, one-hot levels, standardised numbers, "
                   "one-vs-rest), fitted by Newton's method on each set of rows; recall and "
                   "precision per class show what augmentation does to each class.");
        }
    }
    for (size_t q = 0; cells && q < 4 * nc; q++) {
        free(cells[q]);
    }
    for (size_t q = 0; hs && q < nc; q++) {
        free(hs[q]);
    }
    free(cells);
    free(hs);
    free(hd);
    return rc;
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
    if (rc == 0 && !isnan(m->priv.mia_auc)) {
        rc = s_privacy_section(m, r);
    }
    if (rc == 0 && (m->util.synth.done || m->util.real.done)) {
        rc = s_utility_section(m, r, err);
    }
    return rc;
}
