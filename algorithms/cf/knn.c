/* knn.c: similarities, neighbour selection and baselines (see knn.h). */
#include "algorithms/cf/knn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const ch_knn_sim_names[] = {"cosine", "adjusted_cosine", "pearson", "jaccard", NULL};
const char *const ch_knn_pred_names[] = {"means", "baseline", "basic", NULL};

size_t ch_knn_nstat(ch_knn_sim s)
{
    return s == CH_KNN_JACCARD ? 1 : (s == CH_KNN_PEARSON ? 6 : 4);
}

void ch_knn_view_free(ch_knn_view *v)
{
    if (!v) {
        return;
    }
    ch_cf_csr_free(&v->cols);
    free(v->row_count);
    memset(v, 0, sizeof *v);
}

int ch_knn_view_make(const ch_cf_data *d, bool user_based, ch_knn_sim s, ch_knn_view *v)
{
    memset(v, 0, sizeof *v);
    /* columns x rows: user_knn sums over items -> by_item; item_knn -> by_user */
    const ch_cf_csr *src = user_based ? &d->by_item : &d->by_user;
    const ch_cf_csr *rows = user_based ? &d->by_user : &d->by_item;
    v->n_rows = src->n_cols;
    ch_cf_csr *c = &v->cols;
    c->n_rows = src->n_rows;
    c->n_cols = src->n_cols;
    c->nnz = src->nnz;
    c->ptr = ch_alloc_array(src->n_rows + 1, sizeof *c->ptr);
    c->idx = ch_alloc_array(src->nnz + 1, sizeof *c->idx);
    c->val = ch_alloc_array(src->nnz + 1, sizeof *c->val);
    v->row_count = ch_alloc_array(v->n_rows + 1, sizeof *v->row_count);
    if (!c->ptr || !c->idx || !c->val || !v->row_count) {
        ch_knn_view_free(v);
        return CH_ENOMEM;
    }
    memcpy(c->ptr, src->ptr, (src->n_rows + 1) * sizeof *c->ptr);
    memcpy(c->idx, src->idx, src->nnz * sizeof *c->idx);
    for (size_t col = 0; col < src->n_rows; col++) {
        double mean = 0;
        size_t a = src->ptr[col], b = src->ptr[col + 1];
        if (s == CH_KNN_ADJ_COSINE && b > a) {
            for (size_t k = a; k < b; k++) {
                mean += src->val[k];
            }
            mean /= (double)(b - a);
        }
        for (size_t k = a; k < b; k++) {
            c->val[k] = src->val[k] - mean;
        }
    }
    for (size_t r = 0; r < v->n_rows; r++) {
        v->row_count[r] = rows->ptr[r + 1] - rows->ptr[r];
    }
    return 0;
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

int ch_knn_leaf_fn(void *ctx, size_t block, ch_cf_node *out, ch_err *err)
{
    ch_knn_leaf *L = ctx;
    const ch_cf_csr *c = &L->v->cols;
    size_t n_rows = L->v->n_rows, ns = ch_knn_nstat(L->sim);
    size_t c0 = c->n_rows * block / L->n_col_blocks, c1 = c->n_rows * (block + 1) / L->n_col_blocks;
    size_t nt = 0;
    for (size_t col = c0; col < c1; col++) {
        size_t a = c->ptr[col], b = c->ptr[col + 1];
        for (size_t kx = a; kx < b; kx++) {
            size_t x = c->idx[kx];
            if (x < L->r0 || x >= L->r1) {
                continue;
            }
            double va = c->val[kx];
            size_t base = (x - L->r0) * n_rows;
            for (size_t ky = a; ky < b; ky++) {
                size_t y = c->idx[ky];
                if (y == x) {
                    continue;
                }
                size_t key = base + y;
                if (!L->mark[key]) {
                    L->mark[key] = 1;
                    L->touched[nt++] = key;
                }
                double vb = c->val[ky], *s = L->acc + key * ns;
                s[0] += 1;
                if (ns == 4) {
                    s[1] += va * vb;
                    s[2] += va * va;
                    s[3] += vb * vb;
                } else if (ns == 6) {
                    s[1] += va;
                    s[2] += vb;
                    s[3] += va * vb;
                    s[4] += va * va;
                    s[5] += vb * vb;
                }
            }
        }
    }
    qsort(L->touched, nt, sizeof *L->touched, s_cmp_u64);
    out->n = nt;
    out->key = malloc((nt + 1) * sizeof *out->key);
    out->val = ch_alloc_array(nt * ns + 1, sizeof *out->val);
    if (!out->key || !out->val) {
        ch_cf_node_free(out);
        return ch_err_set(err, CH_ENOMEM, "out of memory for %zu pair statistics", nt);
    }
    for (size_t k = 0; k < nt; k++) {
        uint64_t key = L->touched[k];
        out->key[k] = key;
        memcpy(out->val + k * ns, L->acc + key * ns, ns * sizeof(double));
        memset(L->acc + key * ns, 0, ns * sizeof(double));
        L->mark[key] = 0;
    }
    return 0;
}

double ch_knn_similarity(const ch_knn_params *p, const double *s, size_t nx, size_t ny)
{
    double n = s[0], sim = 0;
    if (n < (double)p->min_support || n <= 0) {
        return 0;
    }
    if (p->sim == CH_KNN_JACCARD) {
        sim = n / ((double)nx + (double)ny - n);
    } else if (p->sim == CH_KNN_PEARSON) {
        double num = n * s[3] - s[1] * s[2];
        double den = (n * s[4] - s[1] * s[1]) * (n * s[5] - s[2] * s[2]);
        sim = den > 0 ? num / sqrt(den) : 0;
    } else {
        double den = s[2] * s[3];
        sim = den > 0 ? s[1] / sqrt(den) : 0;
    }
    if (p->shrinkage > 0) {
        sim *= (n - 1) / (n - 1 + p->shrinkage);
    }
    return sim;
}

typedef struct s_cand {
    double sim;
    uint32_t y;
} s_cand;

static int s_cmp_cand(const void *a, const void *b)
{
    const s_cand *x = a, *y = b;
    if (x->sim != y->sim) {
        return x->sim > y->sim ? -1 : 1;
    }
    return x->y < y->y ? -1 : (x->y > y->y ? 1 : 0);
}

int ch_knn_select(const ch_knn_params *p, const ch_knn_view *v, size_t r0, size_t r1,
                  const ch_cf_node *root, size_t *ptr, uint32_t **nb, double **sim, size_t *len,
                  size_t *cap)
{
    size_t n_rows = v->n_rows, ns = ch_knn_nstat(p->sim);
    s_cand *cand = ch_alloc_array(n_rows + 1, sizeof *cand);
    if (!cand) {
        return CH_ENOMEM;
    }
    size_t k = 0;
    for (size_t x = r0; x < r1; x++) {
        size_t nc = 0;
        uint64_t lo = (uint64_t)(x - r0) * n_rows, hi = lo + n_rows;
        for (; k < root->n && root->key[k] < hi; k++) {
            if (root->key[k] < lo) {
                continue;
            }
            size_t y = (size_t)(root->key[k] - lo);
            double s = ch_knn_similarity(p, root->val + k * ns, v->row_count[x], v->row_count[y]);
            if (s > 0) {
                cand[nc].sim = s;
                cand[nc++].y = (uint32_t)y;
            }
        }
        qsort(cand, nc, sizeof *cand, s_cmp_cand);
        if (nc > (size_t)p->keep) {
            nc = (size_t)p->keep;
        }
        if (*len + nc > *cap) {
            size_t nw = (*cap ? *cap * 2 : 1024);
            while (nw < *len + nc) {
                nw *= 2;
            }
            uint32_t *a = realloc(*nb, nw * sizeof *a);
            if (a) {
                *nb = a;
            }
            double *b = realloc(*sim, nw * sizeof *b);
            if (b) {
                *sim = b;
            }
            if (!a || !b) {
                free(cand);
                return CH_ENOMEM;
            }
            *cap = nw;
        }
        for (size_t j = 0; j < nc; j++) {
            (*nb)[*len + j] = cand[j].y;
            (*sim)[*len + j] = cand[j].sim;
        }
        *len += nc;
        ptr[x + 1] = *len;
    }
    free(cand);
    return 0;
}

void ch_knn_baselines(const ch_cf_data *d, double mu, const ch_knn_params *p, double *bu,
                      double *bi)
{
    const ch_cf_csr *U = &d->by_user, *I = &d->by_item;
    memset(bu, 0, U->n_rows * sizeof *bu);
    memset(bi, 0, I->n_rows * sizeof *bi);
    for (long e = 0; e < p->bsl_epochs; e++) {
        for (size_t i = 0; i < I->n_rows; i++) {
            double dev = 0;
            for (size_t k = I->ptr[i]; k < I->ptr[i + 1]; k++) {
                dev += I->val[k] - mu - bu[I->idx[k]];
            }
            bi[i] = dev / (p->reg_i + (double)(I->ptr[i + 1] - I->ptr[i]));
        }
        for (size_t u = 0; u < U->n_rows; u++) {
            double dev = 0;
            for (size_t k = U->ptr[u]; k < U->ptr[u + 1]; k++) {
                dev += U->val[k] - mu - bi[U->idx[k]];
            }
            bu[u] = dev / (p->reg_u + (double)(U->ptr[u + 1] - U->ptr[u]));
        }
    }
}
