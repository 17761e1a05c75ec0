/* forest.c: the forest model: prediction, importances, model.pb (see
 * forest.h). */
#include "algorithms/random_forest/forest.h"
#include "common/rng.h"
#include "proto/random_forest.pb-c.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

rf_forest *rf_forest_new(const ch_schema *s, size_t n_classes, rf_criterion criterion)
{
    rf_forest *f = calloc(1, sizeof *f);
    if (!f) {
        return NULL;
    }
    f->n_classes = n_classes;
    f->n_values = f->n_classes ? f->n_classes : 1;
    f->n_features = s->n_features;
    f->criterion = criterion;
    f->oob_score = NAN;
    size_t p = s->n_features ? s->n_features : 1;
    f->names = calloc(p, sizeof *f->names);
    f->levels = calloc(p, sizeof *f->levels);
    f->imp = calloc(p, sizeof *f->imp);
    if (!f->names || !f->levels || !f->imp) {
        rf_forest_destroy(&f);
        return NULL;
    }
    for (size_t j = 0; j < s->n_features; j++) {
        f->names[j] = strdup(s->features[j].name);
        if (!f->names[j]) {
            rf_forest_destroy(&f);
            return NULL;
        }
        f->levels[j] = s->features[j].kind == CH_COL_CATEGORICAL ? s->features[j].n_levels : 0;
    }
    if (f->n_classes) {
        f->classes = calloc(f->n_classes, sizeof *f->classes);
        if (!f->classes) {
            rf_forest_destroy(&f);
            return NULL;
        }
        for (size_t c = 0; c < f->n_classes; c++) {
            char code[32];
            snprintf(code, sizeof code, "%zu", c);
            f->classes[c] = strdup(s->target.kind == CH_COL_CATEGORICAL && c < s->target.n_levels
                                       ? s->target.levels[c]
                                       : code);
            if (!f->classes[c]) {
                rf_forest_destroy(&f);
                return NULL;
            }
        }
    }
    return f;
}

void rf_forest_destroy(rf_forest **pf)
{
    if (!pf || !*pf) {
        return;
    }
    rf_forest *f = *pf;
    if (f->names) {
        for (size_t j = 0; j < f->n_features; j++) {
            free(f->names[j]);
        }
    }
    free(f->names);
    free(f->levels);
    if (f->classes) {
        for (size_t c = 0; c < f->n_classes; c++) {
            free(f->classes[c]);
        }
    }
    free(f->classes);
    if (f->trees) {
        for (size_t t = 0; t < f->n_trees; t++) {
            rf_tree_destroy(&f->trees[t]);
        }
    }
    free(f->trees);
    free(f->oob_pred);
    free(f->oob_curve);
    free(f->oob_curve_trees);
    free(f->imp);
    free(f->perm);
    free(f->perm_std);
    free(f->confusion);
    free(f);
    *pf = NULL;
}

void rf_tree_add_predictions(const rf_tree *tr, const ch_table *t, const size_t *rows, size_t n,
                             double *sum)
{
    size_t nv = tr->n_values;
    for (size_t k = 0; k < n; k++) {
        size_t leaf = rf_tree_leaf(tr, t, rows ? rows[k] : k);
        const double *v = tr->value + leaf * nv;
        for (size_t c = 0; c < nv; c++) {
            sum[k * nv + c] += v[c];
        }
    }
}

typedef struct s_job {
    const rf_forest *f;
    const ch_table *t;
    double *out;
    size_t lo, hi;
} s_job;

static void *s_predict_range(void *arg)
{
    s_job *j = arg;
    const rf_forest *f = j->f;
    size_t nv = f->n_values;
    /* rows in chunks so a chunk's outputs stay in cache across trees */
    for (size_t lo = j->lo; lo < j->hi; lo += 256) {
        size_t hi = lo + 256 < j->hi ? lo + 256 : j->hi;
        memset(j->out + lo * nv, 0, (hi - lo) * nv * sizeof(double));
        for (size_t t = 0; t < f->n_trees; t++) {
            const rf_tree *tr = f->trees[t];
            for (size_t i = lo; i < hi; i++) {
                const double *v = tr->value + rf_tree_leaf(tr, j->t, i) * nv;
                for (size_t c = 0; c < nv; c++) {
                    j->out[i * nv + c] += v[c];
                }
            }
        }
        double inv = f->n_trees ? 1.0 / (double)f->n_trees : 0;
        for (size_t i = lo * nv; i < hi * nv; i++) {
            j->out[i] *= inv;
        }
    }
    return NULL;
}

int rf_forest_predict(const rf_forest *f, const ch_table *t, double *out, ch_err *err)
{
    if (t->n_cols != f->n_features) {
        return ch_err_set(err, CH_EINVAL,
                          "the data have %zu features; the forest was trained on %zu", t->n_cols,
                          f->n_features);
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = cpus > 0 ? (size_t)cpus : 1;
    if (nt > 16) {
        nt = 16;
    }
    double work = (double)t->n_rows * (double)f->n_trees;
    if (work < 200000) {
        nt = 1;
    }
    if (nt > t->n_rows / 256 + 1) {
        nt = t->n_rows / 256 + 1;
    }
    s_job jobs[16];
    pthread_t th[16];
    bool started[16] = {false};
    for (size_t k = 0; k < nt; k++) {
        jobs[k] = (s_job){
            .f = f, .t = t, .out = out, .lo = t->n_rows * k / nt, .hi = t->n_rows * (k + 1) / nt};
    }
    for (size_t k = 1; k < nt; k++) {
        started[k] = pthread_create(&th[k], NULL, s_predict_range, &jobs[k]) == 0;
    }
    s_predict_range(&jobs[0]);
    for (size_t k = 1; k < nt; k++) {
        if (started[k]) {
            pthread_join(th[k], NULL);
        } else {
            s_predict_range(&jobs[k]);
        }
    }
    (void)err;
    return 0;
}

int rf_forest_importance(rf_forest *f, ch_err *err)
{
    (void)err;
    size_t p = f->n_features;
    memset(f->imp, 0, (p ? p : 1) * sizeof *f->imp);
    for (size_t t = 0; t < f->n_trees; t++) {
        rf_tree_importance(f->trees[t], p, f->imp);
    }
    double s = 0;
    for (size_t j = 0; j < p; j++) {
        s += f->imp[j];
    }
    for (size_t j = 0; j < p && s > 0; j++) {
        f->imp[j] /= s;
    }
    return 0;
}

double rf_score(size_t n_classes, const double *y, const double *pred, size_t n)
{
    if (n == 0) {
        return NAN;
    }
    if (n_classes) {
        size_t hit = 0;
        for (size_t i = 0; i < n; i++) {
            size_t best = 0;
            for (size_t c = 1; c < n_classes; c++) {
                if (pred[i * n_classes + c] > pred[i * n_classes + best]) {
                    best = c;
                }
            }
            hit += (double)best == y[i];
        }
        return (double)hit / (double)n;
    }
    double mean = 0;
    for (size_t i = 0; i < n; i++) {
        mean += y[i];
    }
    mean /= (double)n;
    double ss = 0, st = 0;
    for (size_t i = 0; i < n; i++) {
        ss += (y[i] - pred[i]) * (y[i] - pred[i]);
        st += (y[i] - mean) * (y[i] - mean);
    }
    return st > 0 ? 1 - ss / st : NAN;
}

int rf_forest_permutation(rf_forest *f, const ch_table *t, size_t max_rows, size_t repeats,
                          uint64_t seed, ch_err *err)
{
    size_t p = f->n_features, nv = f->n_values;
    /* rows: the first max_rows of a seeded shuffle of the rows with a target */
    size_t n = 0;
    size_t *rows = ch_alloc_array(t->n_rows ? t->n_rows : 1, sizeof *rows);
    if (!rows) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < t->n_rows; i++) {
        if (!isnan(t->target.values[i])) {
            rows[n++] = i;
        }
    }
    ch_rng r;
    ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_ALGO + 1, 0));
    if (n > max_rows) {
        ch_rng_shuffle(&r, rows, n);
        n = max_rows;
    }
    ch_table *sub = ch_table_take_rows(t, rows, n);
    free(rows);
    double *pred = ch_alloc_array(n ? n : 1, nv * sizeof(double));
    double *save = ch_alloc_array(n ? n : 1, sizeof(double));
    double *scores = calloc(repeats ? repeats : 1, sizeof(double));
    size_t *perm = ch_alloc_array(n ? n : 1, sizeof(size_t));
    free(f->perm);
    free(f->perm_std);
    f->perm = calloc(p ? p : 1, sizeof(double));
    f->perm_std = calloc(p ? p : 1, sizeof(double));
    int rc = 0;
    if (!sub || !pred || !save || !scores || !perm || !f->perm || !f->perm_std) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory for permutation importance");
        goto done;
    }
    if ((rc = rf_forest_predict(f, sub, pred, err))) {
        goto done;
    }
    double base = rf_score(f->n_classes, sub->target.values, pred, n);
    for (size_t j = 0; j < p && rc == 0; j++) {
        double *col = sub->cols[j].values;
        memcpy(save, col, n * sizeof *save);
        ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_ALGO + 1, 1 + j));
        double mean = 0;
        for (size_t k = 0; k < repeats && rc == 0; k++) {
            for (size_t i = 0; i < n; i++) {
                perm[i] = i;
            }
            ch_rng_shuffle(&r, perm, n);
            for (size_t i = 0; i < n; i++) {
                col[i] = save[perm[i]];
            }
            rc = rf_forest_predict(f, sub, pred, err);
            scores[k] = base - rf_score(f->n_classes, sub->target.values, pred, n);
            mean += scores[k];
        }
        memcpy(col, save, n * sizeof *save);
        mean /= (double)repeats;
        double var = 0;
        for (size_t k = 0; k < repeats; k++) {
            var += (scores[k] - mean) * (scores[k] - mean);
        }
        f->perm[j] = mean;
        f->perm_std[j] = sqrt(var / (double)repeats);
    }
done:
    ch_table_destroy(&sub);
    free(pred);
    free(save);
    free(scores);
    free(perm);
    if (rc) {
        free(f->perm);
        free(f->perm_std);
        f->perm = f->perm_std = NULL;
    }
    return rc;
}

/* --- protobuf ----------------------------------------------------------------- */

int rf_tree_to_pb(const rf_tree *tr, Cohort__Rf__Tree *m)
{
    cohort__rf__tree__init(m);
    size_t n = tr->n_nodes;
    m->index = tr->index;
    m->rows = tr->rows;
    m->n_values = (uint32_t)tr->n_values;
    m->n_feature = m->n_threshold = m->n_left = m->n_right = m->n_missing_left = n;
    m->n_cat_offset = m->n_impurity = m->n_weight = m->n_samples = n;
    m->feature = tr->feature;
    m->threshold = tr->threshold;
    m->left = tr->left;
    m->right = tr->right;
    m->cat_offset = tr->cat_offset;
    m->impurity = tr->impurity;
    m->weight = tr->weight;
    m->samples = tr->samples;
    m->n_value = n * tr->n_values;
    m->value = tr->value;
    m->n_cat_bits = tr->n_cat;
    m->cat_bits = tr->cat;
    m->missing_left = calloc(n ? n : 1, sizeof *m->missing_left);
    if (!m->missing_left) {
        return CH_ENOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        m->missing_left[k] = tr->missing_left[k];
    }
    return 0;
}

rf_tree *rf_tree_from_pb(const Cohort__Rf__Tree *m, size_t n_values, size_t n_features,
                         const size_t *levels, ch_err *err)
{
    size_t n = m->n_feature;
    size_t nv;
    if (m->n_values != n_values || n == 0 || n > INT32_MAX || m->n_threshold != n ||
        m->n_left != n || m->n_right != n || m->n_missing_left != n || m->n_cat_offset != n ||
        m->n_impurity != n || m->n_weight != n || m->n_samples != n ||
        ch_mul_size(n, n_values, &nv) != 0 || m->n_value != nv) {
        ch_err_set(err, CH_EINVAL, "tree %u: its arrays have inconsistent sizes", m->index);
        return NULL;
    }
    rf_tree *t = rf_tree_new(m->index, n_values);
    if (!t) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    t->rows = m->rows;
    for (size_t k = 0; k < n; k++) {
        if (rf_tree_add_node(t) < 0) {
            rf_tree_destroy(&t);
            ch_err_set(err, CH_ENOMEM, "out of memory");
            return NULL;
        }
        t->feature[k] = m->feature[k];
        t->threshold[k] = m->threshold[k];
        t->left[k] = m->left[k];
        t->right[k] = m->right[k];
        t->missing_left[k] = m->missing_left[k] ? 1 : 0;
        t->cat_offset[k] = m->cat_offset[k];
        t->impurity[k] = m->impurity[k];
        t->weight[k] = m->weight[k];
        t->samples[k] = m->samples[k];
    }
    memcpy(t->value, m->value, nv * sizeof(double));
    if (m->n_cat_bits) {
        if (rf_tree_add_cat(t, m->n_cat_bits) < 0) {
            rf_tree_destroy(&t);
            ch_err_set(err, CH_ENOMEM, "out of memory");
            return NULL;
        }
        memcpy(t->cat, m->cat_bits, m->n_cat_bits * sizeof(uint64_t));
    }
    if (rf_tree_check(t, n_features, levels, err) != 0) {
        rf_tree_destroy(&t);
        return NULL;
    }
    return t;
}

int rf_forest_pack(const rf_forest *f, ch_buf *out, ch_err *err)
{
    Cohort__Rf__Forest m = COHORT__RF__FOREST__INIT;
    m.n_classes = (uint32_t)f->n_classes;
    m.n_features = (uint32_t)f->n_features;
    m.criterion = (char *)rf_criterion_name(f->criterion);
    Cohort__Rf__Tree *tm = calloc(f->n_trees ? f->n_trees : 1, sizeof *tm);
    Cohort__Rf__Tree **tp = calloc(f->n_trees ? f->n_trees : 1, sizeof *tp);
    int rc = 0;
    if (!tm || !tp) {
        rc = CH_ENOMEM;
    }
    for (size_t t = 0; t < f->n_trees && rc == 0; t++) {
        rc = rf_tree_to_pb(f->trees[t], &tm[t]);
        tp[t] = &tm[t];
    }
    if (rc == 0) {
        m.n_trees = f->n_trees;
        m.trees = tp;
        m.oob_score = f->oob_score;
        m.n_oob_prediction = f->n_oob * f->n_values;
        m.oob_prediction = f->oob_pred;
        m.n_oob_curve = m.n_oob_curve_trees = f->n_curve;
        m.oob_curve = f->oob_curve;
        m.oob_curve_trees = f->oob_curve_trees;
        m.n_impurity_importance = f->n_features;
        m.impurity_importance = f->imp;
        if (f->perm) {
            m.n_permutation_importance = m.n_permutation_std = f->n_features;
            m.permutation_importance = f->perm;
            m.permutation_std = f->perm_std;
        }
        m.permutation_rows = (char *)f->perm_rows;
        if (f->confusion) {
            m.n_confusion = f->n_classes * f->n_classes;
            m.confusion = f->confusion;
        }
        m.confusion_rows = (char *)f->confusion_rows;
        size_t size = cohort__rf__forest__get_packed_size(&m);
        rc = ch_buf_reserve(out, size);
        if (rc == 0) {
            cohort__rf__forest__pack(&m, out->data + out->len);
            out->len += size;
        }
    }
    if (tm) {
        for (size_t t = 0; t < f->n_trees; t++) {
            free(tm[t].missing_left);
        }
    }
    free(tm);
    free(tp);
    return rc ? ch_err_set(err, CH_ENOMEM, "out of memory packing the forest") : 0;
}

rf_forest *rf_forest_unpack(const uint8_t *data, size_t len, const ch_schema *s, ch_err *err)
{
    Cohort__Rf__Forest *m = cohort__rf__forest__unpack(NULL, len, data);
    if (!m) {
        ch_err_set(err, CH_EINVAL, "the random forest payload does not decode");
        return NULL;
    }
    int crit = -1;
    for (int c = 0; c < 3; c++) {
        if (m->criterion && strcmp(m->criterion, rf_criterion_name((rf_criterion)c)) == 0) {
            crit = c;
        }
    }
    size_t k = s->target.kind == CH_COL_CATEGORICAL ? s->target.n_levels : m->n_classes;
    rf_forest *f =
        crit >= 0 && k <= RF_MAX_CLASSES ? rf_forest_new(s, k, (rf_criterion)crit) : NULL;
    int rc = 0;
    if (crit < 0 || k > RF_MAX_CLASSES || k == 1) {
        rc = ch_err_set(err, CH_EINVAL, "the random forest has an unknown criterion or %zu classes",
                        k);
    } else if (!f) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    } else if (m->n_classes != f->n_classes || m->n_features != f->n_features) {
        rc = ch_err_set(err, CH_EINVAL,
                        "the forest has %u classes and %u features; its schema %zu and %zu",
                        m->n_classes, m->n_features, f->n_classes, f->n_features);
    } else if (m->n_impurity_importance != f->n_features ||
               (m->n_permutation_importance && m->n_permutation_importance != f->n_features) ||
               m->n_permutation_std != m->n_permutation_importance ||
               m->n_oob_curve != m->n_oob_curve_trees || m->n_oob_prediction % f->n_values != 0 ||
               (m->n_confusion && m->n_confusion != f->n_classes * f->n_classes)) {
        rc = ch_err_set(err, CH_EINVAL, "the forest's arrays have inconsistent sizes");
    }
    if (rc == 0) {
        f->trees = calloc(m->n_trees ? m->n_trees : 1, sizeof *f->trees);
        f->oob_pred = malloc((m->n_oob_prediction ? m->n_oob_prediction : 1) * sizeof(double));
        f->oob_curve = malloc((m->n_oob_curve ? m->n_oob_curve : 1) * sizeof(double));
        f->oob_curve_trees = malloc((m->n_oob_curve ? m->n_oob_curve : 1) * sizeof(uint32_t));
        if (m->n_permutation_importance) {
            f->perm = malloc(f->n_features * sizeof(double));
            f->perm_std = malloc(f->n_features * sizeof(double));
        }
        if (m->n_confusion) {
            f->confusion = malloc(m->n_confusion * sizeof(uint64_t));
        }
        if (!f->trees || !f->oob_pred || !f->oob_curve || !f->oob_curve_trees ||
            (m->n_permutation_importance && (!f->perm || !f->perm_std)) ||
            (m->n_confusion && !f->confusion)) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    for (size_t t = 0; rc == 0 && t < m->n_trees; t++) {
        f->trees[t] = rf_tree_from_pb(m->trees[t], f->n_values, f->n_features, f->levels, err);
        if (!f->trees[t]) {
            rc = err->code ? err->code : CH_EINVAL;
        } else {
            f->n_trees = t + 1;
        }
    }
    if (rc == 0) {
        f->oob_score = m->oob_score;
        f->n_oob = m->n_oob_prediction / f->n_values;
        if (m->n_oob_prediction) {
            memcpy(f->oob_pred, m->oob_prediction, m->n_oob_prediction * sizeof(double));
        }
        f->n_curve = m->n_oob_curve;
        if (m->n_oob_curve) {
            memcpy(f->oob_curve, m->oob_curve, m->n_oob_curve * sizeof(double));
            memcpy(f->oob_curve_trees, m->oob_curve_trees, m->n_oob_curve * sizeof(uint32_t));
        }
        if (f->n_features) {
            memcpy(f->imp, m->impurity_importance, f->n_features * sizeof(double));
        }
        if (f->perm) {
            memcpy(f->perm, m->permutation_importance, f->n_features * sizeof(double));
            memcpy(f->perm_std, m->permutation_std, f->n_features * sizeof(double));
        }
        if (f->confusion) {
            memcpy(f->confusion, m->confusion, m->n_confusion * sizeof(uint64_t));
        }
        snprintf(f->perm_rows, sizeof f->perm_rows, "%s",
                 m->permutation_rows ? m->permutation_rows : "");
        snprintf(f->confusion_rows, sizeof f->confusion_rows, "%s",
                 m->confusion_rows ? m->confusion_rows : "");
    }
    cohort__rf__forest__free_unpacked(m, NULL);
    if (rc) {
        rf_forest_destroy(&f);
    }
    return f;
}
