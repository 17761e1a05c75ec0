/* model.c: prediction, recommendation, evaluation, packing and reporting of
 * the collaborative-filtering model (see model.h). */
#include "algorithms/cf/model.h"

#include "proto/cf.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ch_cf_rank_names[] = {"similarity", "prediction", NULL};
const char *const ch_cf_metric_names[] = {"rmse",       "mae",      "precision_at_k", "recall_at_k",
                                          "ndcg_at_k",  "map_at_k", "hit_rate_at_k",  "coverage",
                                          "eval_users", NULL};
const char *const ch_cf_metric_test_keys[] = {"test_rmse",           "test_mae",
                                              "test_precision_at_k", "test_recall_at_k",
                                              "test_ndcg_at_k",      "test_map_at_k",
                                              "test_hit_rate_at_k",  "test_coverage",
                                              "test_eval_users",     NULL};

static const char *const s_kind_names[] = {"als", "user_knn", "item_knn"};

void ch_cf_model_free(ch_cf_model *m)
{
    if (!m) {
        return;
    }
    free(m->user_col);
    free(m->item_col);
    free(m->rating_col);
    ch_cf_ids_free(&m->users);
    ch_cf_ids_free(&m->items);
    ch_cf_csr_free(&m->by_user);
    free(m->bu);
    free(m->bi);
    free(m->X);
    free(m->Y);
    free(m->nb_ptr);
    free(m->nb);
    free(m->nb_sim);
    free(m->means);
    free(m->popular);
    memset(m, 0, sizeof *m);
}

void ch_cf_model_destroy(void **pm)
{
    if (!pm || !*pm) {
        return;
    }
    ch_cf_model_free(*pm);
    free(*pm);
    *pm = NULL;
}

typedef struct s_pop {
    size_t count;
    uint32_t i;
} s_pop;

static int s_cmp_pop(const void *a, const void *b)
{
    const s_pop *x = a, *y = b;
    if (x->count != y->count) {
        return x->count > y->count ? -1 : 1;
    }
    return x->i < y->i ? -1 : (x->i > y->i ? 1 : 0);
}

int ch_cf_model_ready(ch_cf_model *m)
{
    size_t ni = m->items.n;
    s_pop *p = ch_calloc_array(ni + 1, sizeof *p);
    free(m->popular);
    m->popular = ch_alloc_array(ni + 1, sizeof *m->popular);
    if (!p || !m->popular) {
        free(p);
        return CH_ENOMEM;
    }
    for (size_t i = 0; i < ni; i++) {
        p[i].i = (uint32_t)i;
    }
    for (size_t k = 0; k < m->by_user.nnz; k++) {
        p[m->by_user.idx[k]].count++;
    }
    qsort(p, ni, sizeof *p, s_cmp_pop);
    for (size_t i = 0; i < ni; i++) {
        m->popular[i] = p[i].i;
    }
    free(p);
    return 0;
}

static bool s_known_user(const ch_cf_model *m, long u)
{
    return u >= 0 && (size_t)u < m->users.n && m->by_user.ptr[u + 1] > m->by_user.ptr[u];
}

/* Surprise's KNNBasic / KNNWithMeans / KNNBaseline estimate over the stored
 * neighbours of x that rated (or were rated by) y. */
static double s_knn_predict(const ch_cf_model *m, long u, long i)
{
    bool ub = m->kind == CH_CF_USER_KNN;
    size_t x = ub ? (size_t)u : (size_t)i;
    double est;
    switch (m->knn.pred) {
    case CH_KNN_BASIC:
        est = m->mu;
        break;
    case CH_KNN_MEANS:
        est = m->means[x];
        break;
    default:
        est = m->mu + m->bu[u] + m->bi[i];
        break;
    }
    double sum_sim = 0, sum_r = 0;
    long taken = 0, actual = 0;
    for (size_t k = m->nb_ptr[x]; k < m->nb_ptr[x + 1] && taken < m->knn.k; k++) {
        uint32_t nb = m->nb[k];
        double r;
        bool has = ub ? ch_cf_csr_has(&m->by_user, nb, (uint32_t)i, &r)
                      : ch_cf_csr_has(&m->by_user, (size_t)u, nb, &r);
        if (!has) {
            continue;
        }
        taken++;
        double s = m->nb_sim[k];
        if (s > 0) {
            double ref = 0;
            if (m->knn.pred == CH_KNN_MEANS) {
                ref = m->means[nb];
            } else if (m->knn.pred == CH_KNN_BASELINE) {
                ref = ub ? m->mu + m->bu[nb] + m->bi[i] : m->mu + m->bu[u] + m->bi[nb];
            }
            sum_sim += s;
            sum_r += s * (r - ref);
            actual++;
        }
    }
    if (actual < m->knn.min_k) {
        return m->knn.pred == CH_KNN_BASIC ? m->mu : est;
    }
    if (sum_sim > 0) {
        est = m->knn.pred == CH_KNN_BASIC ? sum_r / sum_sim : est + sum_r / sum_sim;
    }
    return est;
}

double ch_cf_predict_one(const ch_cf_model *m, long u, long i)
{
    bool ku = s_known_user(m, u);
    bool ki = i >= 0 && (size_t)i < m->items.n;
    if (m->kind == CH_CF_ALS) {
        double s = m->implicit ? 0 : m->mu;
        if (ku && m->bu) {
            s += m->bu[u];
        }
        if (ki && m->bi) {
            s += m->bi[i];
        }
        if (ku && ki) {
            const double *x = m->X + (size_t)u * m->f, *y = m->Y + (size_t)i * m->f;
            for (size_t k = 0; k < m->f; k++) {
                s += x[k] * y[k];
            }
        }
        return s;
    }
    if (!ku || !ki) {
        return m->mu;
    }
    return s_knn_predict(m, u, i);
}

void ch_cf_insert_best(uint32_t *items, double *scores, size_t *cnt, size_t n, uint32_t i, double s)
{
    size_t c = *cnt;
    if (c == n && !(s > scores[c - 1] || (s == scores[c - 1] && i < items[c - 1]))) {
        return;
    }
    size_t p = c < n ? c : n - 1;
    while (p > 0 && (s > scores[p - 1] || (s == scores[p - 1] && i < items[p - 1]))) {
        items[p] = items[p - 1];
        scores[p] = scores[p - 1];
        p--;
    }
    items[p] = i;
    scores[p] = s;
    if (c < n) {
        *cnt = c + 1;
    }
}

size_t ch_cf_topn(const ch_cf_model *m, long u, size_t n, uint32_t *items, double *scores,
                  double *score, uint8_t *cand)
{
    size_t ni = m->items.n, cnt = 0;
    if (n == 0) {
        return 0;
    }
    if (s_known_user(m, u)) {
        const ch_cf_csr *R = &m->by_user;
        size_t a = R->ptr[u], b = R->ptr[u + 1];
        if (m->kind == CH_CF_ALS) {
            const double *x = m->X + (size_t)u * m->f;
            size_t k = a;
            for (size_t i = 0; i < ni; i++) {
                while (k < b && R->idx[k] < i) {
                    k++;
                }
                if (k < b && R->idx[k] == i) {
                    continue;
                }
                const double *y = m->Y + i * m->f;
                double s = m->bi && !m->implicit ? m->bi[i] : 0;
                for (size_t j = 0; j < m->f; j++) {
                    s += x[j] * y[j];
                }
                if (!m->implicit) {
                    s += m->mu + (m->bu ? m->bu[u] : 0);
                }
                ch_cf_insert_best(items, scores, &cnt, n, (uint32_t)i, s);
            }
        } else {
            memset(cand, 0, ni);
            if (m->kind == CH_CF_ITEM_KNN) {
                for (size_t k = a; k < b; k++) {
                    size_t j = R->idx[k];
                    long taken = 0;
                    for (size_t e = m->nb_ptr[j]; e < m->nb_ptr[j + 1] && taken < m->knn.k; e++) {
                        uint32_t i = m->nb[e];
                        if (!cand[i]) {
                            cand[i] = 1;
                            score[i] = 0;
                        }
                        score[i] += m->nb_sim[e];
                        taken++;
                    }
                }
            } else {
                long taken = 0;
                for (size_t e = m->nb_ptr[u]; e < m->nb_ptr[u + 1] && taken < m->knn.k; e++) {
                    uint32_t v = m->nb[e];
                    for (size_t k = R->ptr[v]; k < R->ptr[v + 1]; k++) {
                        uint32_t i = R->idx[k];
                        if (!cand[i]) {
                            cand[i] = 1;
                            score[i] = 0;
                        }
                        score[i] += m->nb_sim[e];
                    }
                    taken++;
                }
            }
            for (size_t k = a; k < b; k++) {
                cand[R->idx[k]] = 0;
            }
            for (size_t i = 0; i < ni; i++) {
                if (cand[i]) {
                    double s = m->rank_by == CH_CF_RANK_PREDICTION
                                   ? ch_cf_predict_one(m, u, (long)i)
                                   : score[i];
                    ch_cf_insert_best(items, scores, &cnt, n, (uint32_t)i, s);
                }
            }
            /* fewer candidates than n: the rest from the popularity list */
            for (size_t p = 0; cnt < n && p < ni; p++) {
                uint32_t i = m->popular[p];
                bool skip = cand[i] || ch_cf_csr_has(R, (size_t)u, i, NULL);
                for (size_t q = 0; q < cnt && !skip; q++) {
                    skip = items[q] == i;
                }
                if (!skip) {
                    items[cnt] = i;
                    scores[cnt++] = 0;
                }
            }
        }
        return cnt;
    }
    for (size_t p = 0; p < ni && cnt < n; p++) {
        uint32_t i = m->popular[p];
        items[cnt] = i;
        scores[cnt++] = (double)(m->by_user.nnz ? 0 : 0);
    }
    return cnt;
}

typedef struct s_ev {
    long u;
    size_t row;
} s_ev;

static int s_cmp_ev(const void *a, const void *b)
{
    const s_ev *x = a, *y = b;
    if (x->u != y->u) {
        return x->u < y->u ? -1 : 1;
    }
    return x->row < y->row ? -1 : (x->row > y->row ? 1 : 0);
}

int ch_cf_evaluate(const ch_cf_model *m, size_t n, const long *u, const long *i, const double *r,
                   bool has_rating, size_t max_users, double out[CH_CF_NMET])
{
    for (int k = 0; k < CH_CF_NMET; k++) {
        out[k] = NAN;
    }
    if (has_rating && !(m->kind == CH_CF_ALS && m->implicit) && n > 0) {
        double se = 0, ae = 0;
        for (size_t k = 0; k < n; k++) {
            double e = ch_cf_predict_one(m, u[k], i[k]) - r[k];
            se += e * e;
            ae += fabs(e);
        }
        out[CH_CF_M_RMSE] = sqrt(se / (double)n);
        out[CH_CF_M_MAE] = ae / (double)n;
    }
    size_t K = m->eval_k, ni = m->items.n;
    s_ev *ev = ch_alloc_array(n + 1, sizeof *ev);
    uint32_t *top = ch_alloc_array(K + 1, sizeof *top);
    double *tops = ch_alloc_array(K + 1, sizeof *tops);
    double *score = ch_alloc_array(ni + 1, sizeof *score);
    uint8_t *cand = ch_calloc_array(ni + 1, 1);
    uint8_t *seen = ch_calloc_array(ni + 1, 1);
    int rc = ev && top && tops && score && cand && seen ? 0 : CH_ENOMEM;
    size_t ne = 0;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        bool rel = has_rating ? r[k] >= m->relevant_min && (!m->implicit || r[k] > 0) : true;
        if (u[k] >= 0 && rel) {
            ev[ne].u = u[k];
            ev[ne++].row = k;
        }
    }
    if (rc == 0) {
        qsort(ev, ne, sizeof *ev, s_cmp_ev);
    }
    size_t n_users = 0;
    for (size_t a = 0; rc == 0 && a < ne;) {
        size_t b = a;
        while (b < ne && ev[b].u == ev[a].u) {
            b++;
        }
        n_users++;
        a = b;
    }
    size_t stride = max_users && n_users > max_users ? (n_users + max_users - 1) / max_users : 1;
    double prec = 0, rec = 0, ndcg = 0, map = 0, hit = 0;
    size_t evaluated = 0, ui = 0;
    for (size_t a = 0; rc == 0 && a < ne; ui++) {
        size_t b = a;
        while (b < ne && ev[b].u == ev[a].u) {
            b++;
        }
        if (ui % stride == 0) {
            size_t nrel = b - a;
            size_t got = ch_cf_topn(m, ev[a].u, K, top, tops, score, cand);
            size_t hits = 0;
            double dcg = 0, ap = 0, idcg = 0;
            for (size_t j = 0; j < got; j++) {
                seen[top[j]] |= 2;
                bool h = false;
                for (size_t q = a; q < b && !h; q++) {
                    h = i[ev[q].row] == (long)top[j];
                }
                if (h) {
                    hits++;
                    dcg += 1.0 / log2((double)j + 2);
                    ap += (double)hits / (double)(j + 1);
                }
            }
            size_t ideal = nrel < K ? nrel : K;
            for (size_t j = 0; j < ideal; j++) {
                idcg += 1.0 / log2((double)j + 2);
            }
            prec += (double)hits / (double)K;
            rec += (double)hits / (double)nrel;
            ndcg += idcg > 0 ? dcg / idcg : 0;
            map += ideal ? ap / (double)ideal : 0;
            hit += hits > 0;
            evaluated++;
        }
        a = b;
    }
    if (rc == 0 && evaluated) {
        size_t cov = 0;
        for (size_t k = 0; k < ni; k++) {
            cov += (seen[k] & 2) != 0;
        }
        double e = (double)evaluated;
        out[CH_CF_M_PRECISION] = prec / e;
        out[CH_CF_M_RECALL] = rec / e;
        out[CH_CF_M_NDCG] = ndcg / e;
        out[CH_CF_M_MAP] = map / e;
        out[CH_CF_M_HIT] = hit / e;
        out[CH_CF_M_COVERAGE] = ni ? (double)cov / (double)ni : 0;
        out[CH_CF_M_USERS] = e;
    }
    free(ev);
    free(top);
    free(tops);
    free(score);
    free(cand);
    free(seen);
    return rc;
}

int ch_cf_write_buf(const char *path, ch_buf *b, ch_err *err)
{
    if (b->failed) {
        return ch_err_set(err, CH_ENOMEM, "out of memory writing %s", path);
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        return ch_err_set(err, CH_EIO, "cannot write %s", path);
    }
    size_t w = fwrite(b->data, 1, b->len, f);
    int bad = fclose(f) != 0 || w != b->len;
    return bad ? ch_err_set(err, CH_EIO, "cannot write %s", path) : 0;
}

void ch_cf_csv_field(ch_buf *b, const char *s)
{
    if (strpbrk(s, ",\"\n\r")) {
        ch_buf_puts(b, "\"");
        for (const char *p = s; *p; p++) {
            ch_buf_append(b, p, 1);
            if (*p == '"') {
                ch_buf_append(b, p, 1);
            }
        }
        ch_buf_puts(b, "\"");
    } else {
        ch_buf_puts(b, s);
    }
}

int ch_cf_write_recommendations(const ch_cf_model *m, const char *path, ch_err *err)
{
    size_t n = m->top_n, ni = m->items.n;
    uint32_t *top = ch_alloc_array(n + 1, sizeof *top);
    double *tops = ch_alloc_array(n + 1, sizeof *tops);
    double *score = ch_alloc_array(ni + 1, sizeof *score);
    uint8_t *cand = ch_calloc_array(ni + 1, 1);
    if (!top || !tops || !score || !cand) {
        free(top);
        free(tops);
        free(score);
        free(cand);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    ch_buf b;
    ch_buf_init(&b);
    ch_buf_puts(&b, "user,rank,item,score\n");
    for (size_t u = 0; u < m->users.n; u++) {
        size_t got = ch_cf_topn(m, (long)u, n, top, tops, score, cand);
        for (size_t j = 0; j < got; j++) {
            ch_cf_csv_field(&b, m->users.label[u]);
            ch_buf_printf(&b, ",%zu,", j + 1);
            ch_cf_csv_field(&b, m->items.label[top[j]]);
            ch_buf_printf(&b, ",%.6g\n", tops[j]);
        }
    }
    int rc = ch_cf_write_buf(path, &b, err);
    ch_buf_free(&b);
    free(top);
    free(tops);
    free(score);
    free(cand);
    return rc;
}

/* --- ch_algo hooks -------------------------------------------------------- */

ch_output_kind ch_cf_output_kind(const void *model)
{
    (void)model;
    return CH_OUT_REGRESSION;
}

size_t ch_cf_n_outputs(const void *model)
{
    (void)model;
    return 1;
}

const char *ch_cf_output_name(const void *model, size_t k)
{
    const ch_cf_model *m = model;
    (void)k;
    return m->kind == CH_CF_ALS && m->implicit ? "score" : "rating";
}

static int s_lookup(const ch_cf_model *m, const ch_table *t, long **u, long **i, double **r,
                    bool *has_rating, ch_err *err)
{
    size_t n = t->n_rows;
    *u = ch_alloc_array(n + 1, sizeof **u);
    *i = ch_alloc_array(n + 1, sizeof **i);
    *r = ch_alloc_array(n + 1, sizeof **r);
    if (!*u || !*i || !*r) {
        return ch_err_set(err, CH_ENOMEM, "out of memory for %zu rows", n);
    }
    return ch_cf_lookup(t, &m->users, &m->items, m->user_col, m->item_col, m->rating_col, *u, *i,
                        *r, has_rating, err);
}

int ch_cf_predict(const void *model, const ch_table *t, double *out, ch_err *err)
{
    const ch_cf_model *m = model;
    long *u = NULL, *i = NULL;
    double *r = NULL;
    bool hr;
    int rc = s_lookup(m, t, &u, &i, &r, &hr, err);
    for (size_t k = 0; rc == 0 && k < t->n_rows; k++) {
        out[k] = ch_cf_predict_one(m, u[k], i[k]);
    }
    free(u);
    free(i);
    free(r);
    return rc;
}

int ch_cf_eval_hook(const void *model, const ch_table *t, ch_round_metrics *out, ch_err *err)
{
    const ch_cf_model *m = model;
    long *u = NULL, *i = NULL;
    double *r = NULL;
    bool hr;
    double met[CH_CF_NMET];
    int rc = s_lookup(m, t, &u, &i, &r, &hr, err);
    if (rc == 0 && ch_cf_evaluate(m, t->n_rows, u, i, r, hr, 0, met) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory evaluating");
    }
    for (int k = 0; rc == 0 && k < CH_CF_NMET; k++) {
        if (isfinite(met[k])) {
            ch_round_metric(out, ch_cf_metric_test_keys[k], met[k]);
        }
    }
    free(u);
    free(i);
    free(r);
    return rc;
}

/* --- packing -------------------------------------------------------------- */

static ProtobufCBinaryData s_bytes(const void *p, size_t n)
{
    ProtobufCBinaryData b = {n, (uint8_t *)p};
    return b;
}

int ch_cf_pack(const void *model, ch_buf *out, ch_err *err)
{
    const ch_cf_model *m = model;
    Cohort__Cf__Model pb = COHORT__CF__MODEL__INIT;
    size_t nu = m->users.n, ni = m->items.n;
    uint64_t *ptr = ch_alloc_array(nu + 1, sizeof *ptr);
    uint64_t *nbp = ch_alloc_array(m->n_nb_rows + 1, sizeof *nbp);
    if (!ptr || !nbp) {
        free(ptr);
        free(nbp);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k <= nu; k++) {
        ptr[k] = m->by_user.ptr[k];
    }
    for (size_t k = 0; m->nb_ptr && k <= m->n_nb_rows; k++) {
        nbp[k] = m->nb_ptr[k];
    }
    size_t nnb = m->nb_ptr ? m->nb_ptr[m->n_nb_rows] : 0;
    pb.kind = m->kind;
    pb.user_col = m->user_col;
    pb.item_col = m->item_col;
    pb.rating_col = m->rating_col;
    pb.user_keys = s_bytes(m->users.key, nu * 8);
    pb.n_user_labels = nu;
    pb.user_labels = m->users.label;
    pb.item_keys = s_bytes(m->items.key, ni * 8);
    pb.n_item_labels = ni;
    pb.item_labels = m->items.label;
    pb.csr_ptr = s_bytes(ptr, (nu + 1) * 8);
    pb.csr_idx = s_bytes(m->by_user.idx, m->by_user.nnz * 4);
    pb.csr_val = s_bytes(m->by_user.val, m->by_user.nnz * 8);
    pb.mu = m->mu;
    pb.bu = s_bytes(m->bu, m->bu ? nu * 8 : 0);
    pb.bi = s_bytes(m->bi, m->bi ? ni * 8 : 0);
    pb.factors = (uint32_t)m->f;
    pb.implicit = m->implicit;
    pb.biased = m->biased;
    pb.x = s_bytes(m->X, m->X ? nu * m->f * 8 : 0);
    pb.y = s_bytes(m->Y, m->Y ? ni * m->f * 8 : 0);
    pb.similarity = m->knn.sim;
    pb.prediction = m->knn.pred;
    pb.rank_by = m->rank_by;
    pb.k = (uint32_t)m->knn.k;
    pb.min_k = (uint32_t)m->knn.min_k;
    pb.shrinkage = m->knn.shrinkage;
    pb.min_support = (uint32_t)m->knn.min_support;
    pb.nb_ptr = s_bytes(nbp, m->nb_ptr ? (m->n_nb_rows + 1) * 8 : 0);
    pb.nb = s_bytes(m->nb, nnb * 4);
    pb.nb_sim = s_bytes(m->nb_sim, nnb * 8);
    pb.means = s_bytes(m->means, m->means ? m->n_nb_rows * 8 : 0);
    pb.eval_k = (uint32_t)m->eval_k;
    pb.top_n = (uint32_t)m->top_n;
    pb.relevant_min = m->relevant_min;
    pb.alpha = m->alpha;
    pb.regularization = m->lambda;
    pb.iterations = (uint32_t)m->iterations;
    pb.split = (uint32_t)m->split;
    pb.holdout_interactions = m->n_holdout;
    pb.n_dups = m->n_dups;
    double hold[CH_CF_NMET];
    if (m->has_holdout) {
        memcpy(hold, m->holdout, sizeof hold);
        pb.n_holdout = CH_CF_NMET;
        pb.holdout = hold;
    }
    size_t size = cohort__cf__model__get_packed_size(&pb);
    int rc = ch_buf_reserve(out, size);
    if (rc == 0) {
        cohort__cf__model__pack(&pb, out->data + out->len);
        out->len += size;
    } else {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory packing the model");
    }
    free(ptr);
    free(nbp);
    return rc;
}

static void *s_copy(ProtobufCBinaryData b, size_t want, bool *bad)
{
    if (b.len != want) {
        *bad = true;
        return NULL;
    }
    void *p = malloc(want ? want : 1);
    if (!p) {
        *bad = true;
        return NULL;
    }
    if (want) {
        memcpy(p, b.data, want);
    }
    return p;
}

static int s_ids_from(ch_cf_ids *ids, ProtobufCBinaryData keys, char **labels, size_t n_labels)
{
    ids->n = n_labels;
    if (keys.len != n_labels * 8) {
        return -1;
    }
    bool bad = false;
    ids->key = s_copy(keys, n_labels * 8, &bad);
    ids->label = ch_calloc_array(n_labels + 1, sizeof *ids->label);
    if (bad || !ids->label) {
        return -1;
    }
    for (size_t k = 0; k < n_labels; k++) {
        ids->label[k] = strdup(labels[k]);
        if (!ids->label[k] || (k && !(ids->key[k - 1] < ids->key[k]))) {
            return -1;
        }
    }
    return 0;
}

void *ch_cf_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err)
{
    (void)schema;
    Cohort__Cf__Model *pb = cohort__cf__model__unpack(NULL, len, data);
    if (!pb) {
        ch_err_set(err, CH_EPROTO, "cf: model payload does not parse");
        return NULL;
    }
    ch_cf_model *m = calloc(1, sizeof *m);
    bool bad = !m || pb->kind > 2 || pb->similarity > CH_KNN_JACCARD ||
               pb->prediction > CH_KNN_BASIC || pb->rank_by > 1;
    if (!bad) {
        m->kind = (ch_cf_kind)pb->kind;
        m->user_col = strdup(pb->user_col);
        m->item_col = strdup(pb->item_col);
        m->rating_col = strdup(pb->rating_col);
        bad = !m->user_col || !m->item_col || !m->rating_col ||
              s_ids_from(&m->users, pb->user_keys, pb->user_labels, pb->n_user_labels) ||
              s_ids_from(&m->items, pb->item_keys, pb->item_labels, pb->n_item_labels);
    }
    size_t nu = bad ? 0 : m->users.n, ni = bad ? 0 : m->items.n;
    if (!bad && pb->csr_ptr.len == (nu + 1) * 8 && pb->csr_idx.len % 4 == 0) {
        size_t nnz = pb->csr_idx.len / 4;
        ch_cf_csr *R = &m->by_user;
        R->n_rows = nu;
        R->n_cols = ni;
        R->nnz = nnz;
        R->ptr = ch_alloc_array(nu + 1, sizeof *R->ptr);
        R->idx = s_copy(pb->csr_idx, nnz * 4, &bad);
        R->val = s_copy(pb->csr_val, nnz * 8, &bad);
        bad = bad || !R->ptr;
        for (size_t k = 0; !bad && k <= nu; k++) {
            uint64_t v;
            memcpy(&v, pb->csr_ptr.data + 8 * k, 8);
            R->ptr[k] = (size_t)v;
            bad = v > nnz || (k && R->ptr[k] < R->ptr[k - 1]) || (k == nu && v != nnz) ||
                  (k == 0 && v != 0);
        }
        for (size_t k = 0; !bad && k < nnz; k++) {
            bad = R->idx[k] >= ni;
        }
    } else {
        bad = true;
    }
    if (!bad) {
        m->mu = pb->mu;
        m->f = pb->factors;
        m->implicit = pb->implicit;
        m->biased = pb->biased;
        m->knn.sim = (ch_knn_sim)pb->similarity;
        m->knn.pred = (ch_knn_pred)pb->prediction;
        m->rank_by = (ch_cf_rank_by)pb->rank_by;
        m->knn.k = pb->k;
        m->knn.min_k = pb->min_k;
        m->knn.shrinkage = pb->shrinkage;
        m->knn.min_support = pb->min_support;
        m->eval_k = pb->eval_k ? pb->eval_k : 10;
        m->top_n = pb->top_n ? pb->top_n : 10;
        m->relevant_min = pb->relevant_min;
        m->alpha = pb->alpha;
        m->lambda = pb->regularization;
        m->iterations = pb->iterations;
        m->split = (int)pb->split;
        m->n_holdout = pb->holdout_interactions;
        m->n_dups = pb->n_dups;
        if (pb->bu.len) {
            m->bu = s_copy(pb->bu, nu * 8, &bad);
        }
        if (pb->bi.len) {
            m->bi = s_copy(pb->bi, ni * 8, &bad);
        }
        if (pb->n_holdout == CH_CF_NMET) {
            m->has_holdout = true;
            memcpy(m->holdout, pb->holdout, sizeof m->holdout);
        }
    }
    if (!bad && m->kind == CH_CF_ALS) {
        bad = m->f == 0 || m->f > 100000 || (!m->implicit && m->biased && (!m->bu || !m->bi));
        if (!bad) {
            m->X = s_copy(pb->x, nu * m->f * 8, &bad);
            m->Y = s_copy(pb->y, ni * m->f * 8, &bad);
        }
    } else if (!bad) {
        size_t rows = m->kind == CH_CF_USER_KNN ? nu : ni, other = rows;
        m->n_nb_rows = rows;
        bad = pb->nb_ptr.len != (rows + 1) * 8 || pb->nb.len % 4 != 0 ||
              (m->knn.pred == CH_KNN_BASELINE && (!m->bu || !m->bi));
        size_t nnb = bad ? 0 : pb->nb.len / 4;
        if (!bad) {
            m->nb_ptr = ch_alloc_array(rows + 1, sizeof *m->nb_ptr);
            m->nb = s_copy(pb->nb, nnb * 4, &bad);
            m->nb_sim = s_copy(pb->nb_sim, nnb * 8, &bad);
            m->means = s_copy(pb->means, rows * 8, &bad);
            bad = bad || !m->nb_ptr;
        }
        for (size_t k = 0; !bad && k <= rows; k++) {
            uint64_t v;
            memcpy(&v, pb->nb_ptr.data + 8 * k, 8);
            m->nb_ptr[k] = (size_t)v;
            bad = v > nnb || (k && m->nb_ptr[k] < m->nb_ptr[k - 1]) || (k == rows && v != nnb) ||
                  (k == 0 && v != 0);
        }
        for (size_t k = 0; !bad && k < nnb; k++) {
            bad = m->nb[k] >= other;
        }
    }
    cohort__cf__model__free_unpacked(pb, NULL);
    if (!bad && ch_cf_model_ready(m) != 0) {
        bad = true;
    }
    if (bad) {
        ch_err_set(err, CH_EPROTO, "cf: model payload is inconsistent (sizes or ids)");
        void *v = m;
        ch_cf_model_destroy(&v);
        return NULL;
    }
    return m;
}

/* --- summary, description, report ---------------------------------------- */

int ch_cf_summary_json(const void *model, ch_buf *json)
{
    const ch_cf_model *m = model;
    ch_buf_printf(json, ",\n  \"n_users\": %zu,\n  \"n_items\": %zu,\n  \"n_interactions\": %zu",
                  m->users.n, m->items.n, m->by_user.nnz);
    ch_buf_printf(json, ",\n  \"eval_k\": %zu,\n  \"duplicates_merged\": %zu", m->eval_k,
                  m->n_dups);
    if (m->has_holdout) {
        ch_buf_printf(json, ",\n  \"holdout\": {\"split\": \"%s\", \"interactions\": %zu",
                      ch_cf_split_names[m->split], m->n_holdout);
        for (int k = 0; k < CH_CF_NMET; k++) {
            if (isfinite(m->holdout[k])) {
                ch_buf_printf(json, ", \"%s\": ", ch_cf_metric_test_keys[k]);
                ch_buf_json_num(json, m->holdout[k]);
            }
        }
        ch_buf_puts(json, "}");
    }
    return json->failed ? CH_ENOMEM : 0;
}

int ch_cf_describe(const void *model, ch_buf *text)
{
    const ch_cf_model *m = model;
    ch_buf_printf(text, "%s: %zu users, %zu items, %zu training interactions (density %.4g)\n",
                  s_kind_names[m->kind], m->users.n, m->items.n, m->by_user.nnz,
                  m->users.n && m->items.n
                      ? (double)m->by_user.nnz / ((double)m->users.n * (double)m->items.n)
                      : 0);
    if (m->kind == CH_CF_ALS) {
        ch_buf_printf(text, "%s ALS, %zu factors, regularization %g%s, %ld iterations\n",
                      m->implicit ? "implicit" : (m->biased ? "explicit biased" : "explicit"), m->f,
                      m->lambda, m->implicit ? "" : "", m->iterations);
        if (m->implicit) {
            ch_buf_printf(text, "confidence 1 + %g r\n", m->alpha);
        }
    } else {
        size_t nnb = m->nb_ptr[m->n_nb_rows];
        ch_buf_printf(text,
                      "%s similarity, k %ld, min_k %ld, min_support %ld, shrinkage %g, "
                      "prediction %s, %zu neighbour links kept (%.1f per %s)\n",
                      ch_knn_sim_names[m->knn.sim], m->knn.k, m->knn.min_k, m->knn.min_support,
                      m->knn.shrinkage, ch_knn_pred_names[m->knn.pred], nnb,
                      m->n_nb_rows ? (double)nnb / (double)m->n_nb_rows : 0,
                      m->kind == CH_CF_USER_KNN ? "user" : "item");
    }
    ch_buf_puts(text, "cold start: users without training interactions get the most popular "
                      "items; unknown user or item ratings predict the global mean\n");
    if (m->has_holdout) {
        ch_buf_printf(text, "held out by %s: %zu interactions\n", ch_cf_split_names[m->split],
                      m->n_holdout);
        for (int k = 0; k < CH_CF_NMET; k++) {
            if (isfinite(m->holdout[k])) {
                ch_buf_printf(text, "  %s = %.6g\n", ch_cf_metric_test_keys[k], m->holdout[k]);
            }
        }
    }
    return text->failed ? CH_ENOMEM : 0;
}

int ch_cf_report(const void *model, ch_report *r, ch_err *err)
{
    const ch_cf_model *m = model;
    ch_buf t;
    ch_buf_init(&t);
    ch_cf_describe(m, &t);
    int rc = ch_report_section(r, "Collaborative filtering");
    if (rc == 0) {
        rc = ch_report_pre(r, "Model", ch_buf_str(&t));
    }
    ch_buf_free(&t);
    /* a sample of recommendations: the first 8 users, top 5 each */
    size_t nu = m->users.n < 8 ? m->users.n : 8, n = m->top_n < 5 ? m->top_n : 5;
    size_t ni = m->items.n;
    uint32_t top[5];
    double tops[5];
    double *score = ch_alloc_array(ni + 1, sizeof *score);
    uint8_t *cand = ch_calloc_array(ni + 1, 1);
    char **cells = ch_calloc_array(nu * 5 * 4 + 1, sizeof *cells);
    size_t rows = 0;
    if (!score || !cand || !cells) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t u = 0; rc == 0 && u < nu; u++) {
        size_t got = ch_cf_topn(m, (long)u, n, top, tops, score, cand);
        for (size_t j = 0; j < got; j++) {
            char buf[64];
            cells[rows * 4] = strdup(m->users.label[u]);
            snprintf(buf, sizeof buf, "%zu", j + 1);
            cells[rows * 4 + 1] = strdup(buf);
            cells[rows * 4 + 2] = strdup(m->items.label[top[j]]);
            snprintf(buf, sizeof buf, "%.4g", tops[j]);
            cells[rows * 4 + 3] = strdup(buf);
            rows++;
        }
    }
    if (rc == 0) {
        rc = ch_report_heading(r, "Sample of recommendations (recommendations.csv has every user)");
    }
    if (rc == 0) {
        const char *hdr[] = {"user", "rank", "item", "score"};
        rc = ch_report_table(r, hdr, 4, (const char *const *)cells, rows, -1);
    }
    for (size_t k = 0; cells && k < rows * 4; k++) {
        free(cells[k]);
    }
    free(cells);
    free(score);
    free(cand);
    if (rc == 0) {
        rc = ch_report_paragraph(
            r, "Recommendations exclude items the user rated in training. Users without "
               "training interactions get the most popular items (cold start). Ranking "
               "metrics count a held-out interaction as relevant when its rating is at least "
               "model.relevant_min; the per-iteration curves use a sample of model.eval_users "
               "users.");
    }
    return rc;
}
