/* measure.c: the marginals the generator measures: the layout of one-way
 * and candidate two-way count tables in one vector, counting rows into it,
 * and the Gaussian mechanism's noise. */
#include "algorithms/synthetic/synthetic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ch_syn_layout_free(ch_syn_layout *l)
{
    if (!l) {
        return;
    }
    free(l->one_off);
    free(l->pairs);
    memset(l, 0, sizeof *l);
}

int ch_syn_layout_make(const ch_syn_domain *d, size_t max_cells, size_t max_len, ch_syn_layout *out,
                       ch_err *err)
{
    memset(out, 0, sizeof *out);
    size_t n = d->n_cols;
    size_t np = n * (n - (n > 0)) / 2;
    out->one_off = calloc(n + 1, sizeof *out->one_off);
    out->pairs = calloc(np ? np : 1, sizeof *out->pairs);
    if (!out->one_off || !out->pairs) {
        ch_syn_layout_free(out);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    out->n_cols = n;
    size_t len = 0;
    for (size_t j = 0; j < n; j++) {
        out->one_off[j] = len;
        len += d->cols[j].size;
    }
    out->one_off[n] = len;
    for (size_t a = 0; a < n; a++) {
        for (size_t b = a + 1; b < n; b++) {
            size_t cells;
            if (ch_mul_size(d->cols[a].size, d->cols[b].size, &cells) != 0 || cells > max_cells) {
                continue;
            }
            ch_syn_pair *p = &out->pairs[out->n_pairs++];
            p->a = (uint32_t)a;
            p->b = (uint32_t)b;
            p->off = len;
            len += cells;
            if (len > max_len) {
                ch_syn_layout_free(out);
                return ch_err_set(err, CH_EINVAL,
                                  "synthetic: the candidate two-way marginals need more than "
                                  "%zu counts; lower model.bins or model.max_cells",
                                  max_len);
            }
        }
    }
    out->len = len;
    return 0;
}

/* Column j's value of row i. */
static double s_value(const ch_syn_domain *d, const ch_table *t, size_t j, size_t i)
{
    if ((long)j == d->target) {
        return t->target.values[i];
    }
    return t->cols[j].values[i];
}

void ch_syn_count(const ch_syn_domain *d, const ch_syn_layout *l, const ch_table *t,
                  const size_t *rows, size_t n, double *out)
{
    size_t nc = d->n_cols;
    uint32_t cell[CH_SYN_MAX_COLS];
    for (size_t q = 0; q < n; q++) {
        size_t i = rows ? rows[q] : q;
        for (size_t j = 0; j < nc; j++) {
            cell[j] = ch_syn_cell(&d->cols[j], s_value(d, t, j, i));
            out[l->one_off[j] + cell[j]] += 1;
        }
        for (size_t p = 0; p < l->n_pairs; p++) {
            const ch_syn_pair *pr = &l->pairs[p];
            out[pr->off + (size_t)cell[pr->a] * d->cols[pr->b].size + cell[pr->b]] += 1;
        }
    }
}

void ch_syn_gauss(double *x, size_t n, double sigma, ch_rng *r)
{
    for (size_t i = 0; i < n; i++) {
        x[i] += sigma * ch_rng_normal(r);
    }
}
