/* inputs.c: table rows as padded, masked sequences (inputs.h). */
#include "algorithms/transformer/inputs.h"

#include <math.h>
#include <stdlib.h>

ch_tfm_inputs *ch_tfm_inputs_new(const ch_schema *schema, size_t max_length, bool tokens,
                                 size_t vocab, ch_err *err)
{
    size_t nc = schema->n_features;
    for (size_t c = 0; c < nc; c++) {
        if (schema->features[c].kind != CH_COL_NUMERIC) {
            ch_err_set(err, CH_EINVAL,
                       "transformer: feature column '%s' is categorical; the transformer reads "
                       "numeric columns as positions of a sequence",
                       schema->features[c].name);
            return NULL;
        }
    }
    size_t len = max_length ? max_length : nc;
    if (nc == 0 || len == 0 || nc % len != 0) {
        ch_err_set(err, CH_EINVAL,
                   "transformer: the %zu feature columns do not divide into model.max_length %zu "
                   "positions of equal width",
                   nc, len);
        return NULL;
    }
    if (tokens && nc != len) {
        ch_err_set(err, CH_EINVAL,
                   "transformer: model.input tokens takes one token id per position, and the %zu "
                   "feature columns make %zu per position (model.max_length %zu)",
                   nc, nc / len, len);
        return NULL;
    }
    ch_tfm_inputs *in = calloc(1, sizeof *in);
    if (!in) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    in->feat = ch_features_new(schema, err);
    if (!in->feat) {
        free(in);
        return NULL;
    }
    in->len = len;
    in->d_in = nc / len;
    in->tokens = tokens;
    in->vocab = vocab;
    return in;
}

void ch_tfm_inputs_destroy(ch_tfm_inputs **pin)
{
    if (!pin || !*pin) {
        return;
    }
    ch_features_destroy(&(*pin)->feat);
    free(*pin);
    *pin = NULL;
}

int ch_tfm_inputs_encode(const ch_tfm_inputs *in, const ch_table *t, const size_t *rows, size_t n,
                         float *x, uint8_t *mask, float *y, ch_err *err)
{
    size_t len = in->len, d = in->d_in, nc = len * d;
    if (!in->tokens) {
        ch_features_encode(in->feat, t, rows, n, x, y);
    } else if (y) {
        /* the target only: the features' x is not wanted */
        for (size_t i = 0; i < n; i++) {
            size_t r = rows ? rows[i] : i;
            y[i] = t->has_target ? (float)t->target.values[r] : NAN;
            if (in->feat->regression && isfinite(y[i])) {
                y[i] = (float)((y[i] - in->feat->y_mean) * in->feat->y_scale);
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t r = rows ? rows[i] : i, real = 0;
        for (size_t p = 0; p < len; p++) {
            bool any = false;
            for (size_t j = 0; j < d; j++) {
                const ch_column *col = &t->cols[p * d + j];
                double v = col->values[r];
                if (!isnan(v)) {
                    any = true;
                }
                if (in->tokens) {
                    if (!isnan(v) && !(v >= 0 && v < (double)in->vocab && v == floor(v))) {
                        return ch_err_set(err, CH_EINVAL,
                                          "transformer: row %zu, column '%s': token %g is not a "
                                          "whole number in 0..%zu (model.vocab %zu)",
                                          r + 1, col->name, v, in->vocab - 1, in->vocab);
                    }
                    x[i * nc + p] = isnan(v) ? 0.0f : (float)v;
                }
            }
            mask[i * len + p] = any ? 1 : 0;
            real += any ? 1 : 0;
            if (!any && !in->tokens) {
                for (size_t j = 0; j < d; j++) {
                    x[i * nc + p * d + j] = 0.0f;
                }
            }
        }
        if (real == 0) {
            return ch_err_set(err, CH_EINVAL,
                              "transformer: row %zu is an empty sequence (every value of its %zu "
                              "positions is missing)",
                              r + 1, len);
        }
    }
    return 0;
}
