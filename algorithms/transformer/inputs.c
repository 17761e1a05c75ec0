/* inputs.c: table rows as padded, masked sequences (inputs.h). */
#include "algorithms/transformer/inputs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The sequence-file layout: the schema holds the id column only. */
static ch_tfm_inputs *s_new_seqfile(const ch_schema *schema, size_t max_length, bool tokens,
                                    size_t vocab, const char *path, const char *id_column,
                                    ch_err *err)
{
    long id = -1;
    for (size_t c = 0; c < schema->n_features; c++) {
        if (strcmp(schema->features[c].name, id_column) == 0) {
            id = (long)c;
        }
    }
    if (id < 0) {
        ch_err_set(err, CH_EINVAL,
                   "transformer: the training data has no column '%s' (model.id_column) to "
                   "find each row's sequence in model.sequences",
                   id_column);
        return NULL;
    }
    for (size_t c = 0; c < schema->n_features; c++) {
        if ((long)c != id) {
            ch_err_set(err, CH_EINVAL,
                       "transformer: column '%s' of the training data is not used: with "
                       "model.sequences the inputs come from the sequence file and the table "
                       "holds only the id column '%s' and the target; drop the column",
                       schema->features[c].name, id_column);
            return NULL;
        }
    }
    ch_tfm_inputs *in = calloc(1, sizeof *in);
    if (!in) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    in->seqs = ch_tfm_seqs_read(path, max_length, !tokens, err);
    in->feat = in->seqs ? ch_features_new(schema, err) : NULL;
    if (!in->feat) {
        ch_tfm_inputs_destroy(&in);
        return NULL;
    }
    in->id_col = (size_t)id;
    in->id_name = strdup(id_column);
    if (!in->id_name) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        ch_tfm_inputs_destroy(&in);
        return NULL;
    }
    in->len = max_length ? max_length : in->seqs->max_len;
    in->d_in = in->seqs->d;
    in->tokens = tokens;
    in->vocab = vocab;
    if (tokens && in->d_in != 1) {
        ch_err_set(err, CH_EINVAL,
                   "transformer: model.input tokens takes one token id per position, and %s has "
                   "%zu feature columns",
                   path, in->d_in);
        ch_tfm_inputs_destroy(&in);
    }
    return in;
}

ch_tfm_inputs *ch_tfm_inputs_new(const ch_schema *schema, size_t max_length, bool tokens,
                                 size_t vocab, const char *seq_path, const char *id_column,
                                 ch_err *err)
{
    if (seq_path) {
        return s_new_seqfile(schema, max_length, tokens, vocab, seq_path, id_column, err);
    }
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
    ch_tfm_seqs_destroy(&(*pin)->seqs);
    free((*pin)->id_name);
    free(*pin);
    *pin = NULL;
}

/* The target of rows[0..n) (class code or standardised value). */
static void s_targets(const ch_tfm_inputs *in, const ch_table *t, const size_t *rows, size_t n,
                      float *y)
{
    for (size_t i = 0; i < n; i++) {
        size_t r = rows ? rows[i] : i;
        y[i] = t->has_target ? (float)t->target.values[r] : NAN;
        if (in->feat->regression && isfinite(y[i])) {
            y[i] = (float)((y[i] - in->feat->y_mean) * in->feat->y_scale);
        }
    }
}

static int s_encode_seqfile(const ch_tfm_inputs *in, const ch_table *t, const size_t *rows,
                            size_t n, float *x, uint8_t *mask, float *y, ch_err *err)
{
    size_t len = in->len, d = in->d_in;
    const ch_tfm_seqs *s = in->seqs;
    const ch_column *col = &t->cols[in->id_col];
    char id[64];
    memset(x, 0, n * len * d * sizeof *x);
    memset(mask, 0, n * len);
    for (size_t i = 0; i < n; i++) {
        size_t r = rows ? rows[i] : i;
        long k = ch_tfm_id_text(col, r, id, sizeof id) ? ch_tfm_seqs_find(s, id) : -1;
        if (k < 0) {
            return ch_err_set(err, CH_EINVAL,
                              "transformer: row %zu: sequence id '%s' has no rows in %s (an "
                              "empty sequence)",
                              r + 1, isnan(col->values[r]) ? "(missing)" : id, s->path);
        }
        size_t m = s->len[k] < len ? s->len[k] : len;
        for (size_t p = 0; p < m; p++) {
            const float *v = s->vals + (s->first[k] + p) * d;
            for (size_t j = 0; j < d; j++) {
                float a = v[j];
                if (in->tokens && !(a >= 0 && a < (float)in->vocab && a == floorf(a))) {
                    return ch_err_set(err, CH_EINVAL,
                                      "transformer: %s: sequence '%s', element %zu: token %g is "
                                      "not a whole number in 0..%zu (model.vocab %zu)",
                                      s->path, id, p + 1, (double)a, in->vocab - 1, in->vocab);
                }
                x[(i * len + p) * d + j] = a;
            }
            mask[i * len + p] = 1;
        }
    }
    if (y) {
        s_targets(in, t, rows, n, y);
    }
    return 0;
}

int ch_tfm_inputs_encode(const ch_tfm_inputs *in, const ch_table *t, const size_t *rows, size_t n,
                         float *x, uint8_t *mask, float *y, ch_err *err)
{
    size_t len = in->len, d = in->d_in, nc = len * d;
    if (in->seqs) {
        return s_encode_seqfile(in, t, rows, n, x, mask, y, err);
    }
    if (!in->tokens) {
        ch_features_encode(in->feat, t, rows, n, x, y);
    } else if (y) {
        s_targets(in, t, rows, n, y); /* the features' x is not wanted */
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
