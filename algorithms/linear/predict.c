/* predict.c: fit and standard error on the link or response scale for
 * `cohort predict` (see predict.h). */
#include "algorithms/linear/predict.h"

#include <math.h>
#include <stdlib.h>

const char *const ch_lp_scales[] = {"response", "link", NULL};

/* Appends a number as `cohort predict` writes them, or NA. */
static void s_num(ch_buf *csv, double v, bool first)
{
    if (!first) {
        ch_buf_puts(csv, ",");
    }
    if (isnan(v)) {
        ch_buf_puts(csv, "NA");
    } else {
        ch_buf_printf(csv, "%.17g", v);
    }
}

int ch_lp_csv(const ch_lp_spec *s, const ch_table *t, const ch_schema *schema, ch_buf *csv,
              ch_err *err)
{
    size_t n = t->n_rows, p = s->design->p;
    size_t *rows = malloc((n ? n : 1) * sizeof *rows);
    if (!rows) {
        return ch_err_set(err, CH_ENOMEM, "out of memory for %zu rows", n);
    }
    for (size_t i = 0; i < n; i++) {
        rows[i] = i;
    }
    ch_table *c = ch_table_take_rows(t, rows, n);
    free(rows);
    if (!c) {
        return ch_err_set(err, CH_ENOMEM, "out of memory copying %zu rows", n);
    }
    int rc = ch_table_conform(c, schema, err);
    double *x = malloc((p ? p : 1) * sizeof *x);
    double *cx = malloc((p ? p : 1) * sizeof *cx);
    if (rc == 0 && (!x || !cx)) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        ch_buf_puts(csv, s->se ? "fit,se_fit\n" : "fit\n");
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        double eta = NAN, se = NAN;
        if (ch_design_row(s->design, c, i, x, 1)) {
            eta = 0;
            for (size_t j = 0; j < p; j++) {
                eta += s->aliased[j] ? 0.0 : s->coef[j] * x[j];
            }
            if (s->se) {
                /* x' C x over the kept columns */
                double q = 0;
                for (size_t a = 0; a < p; a++) {
                    cx[a] = 0;
                    for (size_t b = 0; b < p; b++) {
                        if (!s->aliased[a] && !s->aliased[b]) {
                            cx[a] += s->cov[b * p + a] * x[b];
                        }
                    }
                    q += s->aliased[a] ? 0.0 : x[a] * cx[a];
                }
                se = s->scale * sqrt(q > 0 ? q : 0);
            }
        }
        double fit = eta;
        if (s->type == CH_LP_RESPONSE && s->link == CH_LP_LOGIT) {
            fit = 1 / (1 + exp(-eta));
            se *= fit * (1 - fit);
        } else if (s->type == CH_LP_RESPONSE && s->link == CH_LP_LOG) {
            fit = exp(eta);
            se *= fit;
        }
        s_num(csv, fit, true);
        if (s->se) {
            s_num(csv, se, false);
        }
        ch_buf_puts(csv, "\n");
    }
    free(x);
    free(cx);
    ch_table_destroy(&c);
    if (rc == 0 && csv->failed) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    return rc;
}
