/* cmd_predict.c: `cohort predict`: apply a saved model to a data file. */
#include "cli/cli.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/model_file.h"
#include "coordinator/outputs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_help[] =
    "usage: cohort predict --model DIR/model.pb --data FILE [--out preds.csv]\n"
    "\n"
    "Applies a trained model to FILE (CSV, LIBSVM or IDX, with the training\n"
    "columns; extra columns are ignored). Writes one row per input row: the\n"
    "prediction for regression, or the predicted class and one probability\n"
    "column per class. Without --out the predictions go to standard output.\n"
    "When FILE holds the target column, the metrics are printed on stderr.\n"
    "A recommender (als, user_knn, item_knn) given FILE with only the user\n"
    "column writes each user's top-N (user,rank,item,score); with only the\n"
    "item column, each item's similar items (item,rank,neighbour,similarity).\n"
    "\n"
    "  --contribs   write each row's feature contributions instead (gbt: exact\n"
    "               TreeSHAP in margin space): one column per feature and a\n"
    "               bias column, per class for multi-class models; a row's\n"
    "               values sum to its raw margin\n";

/* Writes csv to path out, or to standard output when out is NULL.
 * Returns 0 or 1 with the reason in err. */
static int s_emit(const char *out, const ch_buf *csv, ch_err *err)
{
    if (csv->failed) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return 1;
    }
    if (out) {
        if (ch_write_file_atomic(out, csv->data, csv->len, err) != 0) {
            return 1;
        }
        fprintf(stderr, "cohort predict: written to %s\n", out);
    } else {
        fwrite(csv->data, 1, csv->len, stdout);
    }
    return 0;
}

/* --contribs: the header (per group: "<class>:<feature>" or the feature
 * name, then "bias"), then one row per input row. 0, or 1 with err. */
static int s_contribs(const ch_model_file *mf, ch_table *t, ch_buf *csv, ch_err *err)
{
    if (!mf->algo->contribs) {
        ch_err_set(err, CH_EINVAL, "%s models have no feature contributions (gbt has)",
                   mf->algo->name);
        return 1;
    }
    if (ch_table_conform(t, mf->schema, err) != 0) {
        return 1;
    }
    size_t G = mf->algo->contrib_groups(mf->model), F = mf->schema->n_features;
    double *v = ch_alloc_array(t->n_rows ? t->n_rows : 1, G * (F + 1) * sizeof *v);
    if (!v) {
        ch_err_set(err, CH_ENOMEM, "out of memory for %zu rows", t->n_rows);
        return 1;
    }
    if (mf->algo->contribs(mf->model, t, v, err) != 0) {
        free(v);
        return 1;
    }
    const ch_column *y = &mf->schema->target;
    for (size_t g = 0; g < G; g++) {
        for (size_t j = 0; j <= F; j++) {
            if (g || j) {
                ch_buf_puts(csv, ",");
            }
            if (G > 1) {
                if (g < y->n_levels) {
                    ch_buf_printf(csv, "%s:", y->levels[g]);
                } else {
                    ch_buf_printf(csv, "%zu:", g);
                }
            }
            ch_buf_puts(csv, j < F ? mf->schema->features[j].name : "bias");
        }
    }
    ch_buf_puts(csv, "\n");
    for (size_t i = 0; i < t->n_rows; i++) {
        for (size_t c = 0; c < G * (F + 1); c++) {
            ch_buf_printf(csv, c ? ",%.17g" : "%.17g", v[i * G * (F + 1) + c]);
        }
        ch_buf_puts(csv, "\n");
    }
    free(v);
    return 0;
}

int ch_cmd_predict(int argc, char **argv)
{
    const char *model_path = NULL, *data = NULL, *out = NULL;
    bool contribs = false;
    for (int i = 1; i < argc; i++) {
        bool bad = false;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(s_help, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--contribs")) {
            contribs = true;
            continue;
        }
        if (ch_arg_value(argc, argv, &i, "--model", &model_path, &bad) ||
            ch_arg_value(argc, argv, &i, "--data", &data, &bad) ||
            ch_arg_value(argc, argv, &i, "--out", &out, &bad)) {
            if (bad) {
                return 2;
            }
        } else {
            fprintf(stderr, "cohort predict: unknown argument '%s' (see cohort predict --help)\n",
                    argv[i]);
            return 2;
        }
    }
    if (!model_path || !data) {
        fputs(s_help, stderr);
        return 2;
    }
    ch_err err;
    ch_err_clear(&err);
    ch_model_file mf;
    if (ch_model_load(model_path, &mf, &err) != 0) {
        fprintf(stderr, "cohort predict: %s\n", err.msg);
        return 1;
    }
    int status = 1;
    double *pred = NULL;
    ch_buf csv;
    ch_buf_init(&csv);
    ch_table *t = ch_table_read(data, CH_FORMAT_AUTO, &err);
    if (contribs) {
        status = t ? s_contribs(&mf, t, &csv, &err) : 1;
        if (status == 0) {
            status = s_emit(out, &csv, &err);
        }
        if (status != 0) {
            fprintf(stderr, "cohort predict --contribs: %s\n", err.msg);
        }
        goto done;
    }
    int own = t && mf.algo->predict_csv ? mf.algo->predict_csv(mf.model, t, &csv, &err) : 1;
    if (own <= 0) { /* the algorithm's own answer (predict_csv), or its error */
        status = own == 0 ? s_emit(out, &csv, &err) : 1;
        if (status != 0) {
            fprintf(stderr, "cohort predict: %s\n", err.msg);
        }
        goto done;
    }
    /* an algorithm trained without a table (ch_algo.no_data) reads its own
     * columns; the others see the training columns in training order */
    if (!t || (!mf.algo->no_data && ch_table_conform(t, mf.schema, &err) != 0)) {
        fprintf(stderr, "cohort predict: %s\n", err.msg);
        goto done;
    }
    size_t k = mf.algo->n_outputs(mf.model);
    pred = ch_alloc_array(t->n_rows, k * sizeof(double));
    if (!pred) {
        fprintf(stderr, "cohort predict: out of memory for %zu rows\n", t->n_rows);
        goto done;
    }
    if (mf.algo->predict(mf.model, t, pred, &err) != 0) {
        fprintf(stderr, "cohort predict: %s\n", err.msg);
        goto done;
    }
    bool regression = mf.algo->output_kind(mf.model) == CH_OUT_REGRESSION;
    const ch_column *target = &mf.schema->target;
    if (mf.algo->output_name) {
        for (size_t c = 0; c < k; c++) {
            const char *name = mf.algo->output_name(mf.model, c);
            ch_buf_printf(&csv, "%s%s", c ? "," : "", name ? name : "output");
        }
        ch_buf_puts(&csv, "\n");
    } else if (regression) {
        ch_buf_puts(&csv, "prediction\n");
    } else {
        ch_buf_puts(&csv, "predicted");
        for (size_t c = 0; c < k; c++) {
            ch_buf_printf(&csv, ",p_%s", c < target->n_levels ? target->levels[c] : "?");
        }
        ch_buf_puts(&csv, "\n");
    }
    for (size_t i = 0; i < t->n_rows; i++) {
        if (mf.algo->output_name) {
            for (size_t c = 0; c < k; c++) {
                ch_buf_printf(&csv, c ? ",%.17g" : "%.17g", pred[i * k + c]);
            }
            ch_buf_puts(&csv, "\n");
            continue;
        }
        if (regression) {
            if (isnan(pred[i])) {
                ch_buf_puts(&csv, "NA\n");
            } else {
                ch_buf_printf(&csv, "%.17g\n", pred[i]);
            }
            continue;
        }
        size_t best = 0;
        for (size_t c = 1; c < k; c++) {
            if (pred[i * k + c] > pred[i * k + best]) {
                best = c;
            }
        }
        ch_buf_puts(&csv, best < target->n_levels ? target->levels[best] : "?");
        for (size_t c = 0; c < k; c++) {
            ch_buf_printf(&csv, ",%.17g", pred[i * k + c]);
        }
        ch_buf_puts(&csv, "\n");
    }
    if (csv.failed) {
        fprintf(stderr, "cohort predict: out of memory\n");
        goto done;
    }
    if (out) {
        if (ch_write_file_atomic(out, csv.data, csv.len, &err) != 0) {
            fprintf(stderr, "cohort predict: %s\n", err.msg);
            goto done;
        }
        fprintf(stderr, "cohort predict: %zu predictions written to %s\n", t->n_rows, out);
    } else {
        fwrite(csv.data, 1, csv.len, stdout);
    }
    if (t->has_target) {
        ch_buf m;
        ch_buf_init(&m);
        if (ch_evaluate(mf.algo, mf.model, t, "", &m, NULL, &err) == 0 && m.len) {
            fprintf(stderr, "cohort predict: metrics {%s}\n", ch_buf_str(&m));
        }
        ch_buf_free(&m);
    }
    status = 0;
done:
    free(pred);
    ch_buf_free(&csv);
    ch_table_destroy(&t);
    ch_model_file_free(&mf);
    return status;
}
