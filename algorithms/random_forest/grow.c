/* grow.c: histogram CART growth of one tree (see grow.h). */
#include "algorithms/random_forest/grow.h"
#include "common/rng.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of histograms a tree may hold for later subtraction. */
#define S_HIST_BUDGET ((size_t)256 << 20)

/* A node's histograms: slot[f] is 1 + the offset of feature f's bins in
 * data (0: not built). */
typedef struct s_hist {
    size_t *slot;
    double *data;
    size_t len, cap;
} s_hist;

typedef struct s_item {
    uint32_t node;
    size_t lo, hi; /* range of the order array */
    long depth;
    uint32_t *feat; /* features to try */
    size_t nf;
    s_hist *h; /* may be NULL */
} s_item;

typedef struct s_keyed {
    double key;
    uint32_t idx;
} s_keyed;

/* A candidate split. */
typedef struct s_split {
    bool found;
    double score;
    uint32_t feature;
    uint32_t cut; /* numeric: bins 1..cut go left */
    bool missing_left;
    bool categorical;
    uint64_t *left_levels; /* categorical: bitset of bins-1 going left (words) */
} s_split;

typedef struct s_ctx {
    const rf_grow_data *d;
    const rf_bins *b;
    size_t S; /* stats per bin */
    size_t K;
    size_t p;
    size_t mtry;
    ch_rng rng;
    rf_tree *t;
    /* in-bag rows */
    size_t n_ib;
    size_t *ib_row;
    double *ib_w;
    double *ib_y;
    uint32_t *order; /* node row lists: positions into ib_* */
    uint32_t *tmp;
    /* features with two or more value bins */
    uint32_t *pool;
    size_t n_pool;
    uint32_t *perm;
    /* scratch */
    double *tot, *miss, *cum, *lstat, *rstat;
    double *ent; /* compact entries: S stats each */
    uint32_t *ent_bin;
    uint32_t *ent_idx;
    s_keyed *keyed;
    size_t ent_cap;
    uint32_t *sort_pairs;
    size_t words; /* bitset words for categorical levels */
    uint64_t *best_bits, *cur_bits;
    size_t held_bytes;
} s_ctx;

size_t rf_bootstrap_draws(const rf_params *p, size_t n)
{
    if (!p->bootstrap || p->max_samples == 0) {
        return n;
    }
    if (p->max_samples <= 1) {
        double m = round(p->max_samples * (double)n);
        return m < 1 ? 1 : (size_t)m;
    }
    return (size_t)p->max_samples;
}

int rf_bootstrap(const rf_params *p, uint64_t seed, uint32_t index, size_t n, uint32_t *counts,
                 ch_err *err)
{
    if (!p->bootstrap) {
        for (size_t i = 0; i < n; i++) {
            counts[i] = 1;
        }
        return 0;
    }
    size_t draws = rf_bootstrap_draws(p, n);
    if (draws > n) {
        return ch_err_set(err, CH_EINVAL,
                          "model.max_samples: %zu draws is more than the %zu training rows a "
                          "tree can use",
                          draws, n);
    }
    memset(counts, 0, n * sizeof *counts);
    ch_rng r;
    ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_TREE, index));
    for (size_t k = 0; k < draws; k++) {
        counts[ch_rng_below(&r, n)]++;
    }
    return 0;
}

static void s_hist_free(s_ctx *c, s_hist **ph)
{
    if (!ph || !*ph) {
        return;
    }
    c->held_bytes -= (*ph)->cap * sizeof(double);
    free((*ph)->slot);
    free((*ph)->data);
    free(*ph);
    *ph = NULL;
}

static s_hist *s_hist_new(s_ctx *c)
{
    s_hist *h = calloc(1, sizeof *h);
    if (h) {
        h->slot = calloc(c->p ? c->p : 1, sizeof *h->slot);
        if (!h->slot) {
            free(h);
            h = NULL;
        }
    }
    return h;
}

/* Room for feature f's bins in h (zeroed); returns the bins or NULL. */
static double *s_hist_add(s_ctx *c, s_hist *h, uint32_t f)
{
    size_t need = (size_t)c->b->n_bins[f] * c->S;
    if (h->len + need > h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1024;
        while (cap < h->len + need) {
            cap *= 2;
        }
        double *d = realloc(h->data, cap * sizeof *d);
        if (!d) {
            return NULL;
        }
        c->held_bytes += (cap - h->cap) * sizeof(double);
        h->data = d;
        h->cap = cap;
    }
    size_t off = h->len;
    h->len += need;
    memset(h->data + off, 0, need * sizeof(double));
    h->slot[f] = off + 1;
    return h->data + off;
}

static inline double *s_hist_get(const s_hist *h, uint32_t f)
{
    return h && h->slot[f] ? h->data + (h->slot[f] - 1) : NULL;
}

/* Adds the rows order[lo..hi) to the bins of feature f. */
static void s_hist_build(s_ctx *c, double *hb, uint32_t f, size_t lo, size_t hi)
{
    const rf_bins *b = c->b;
    size_t S = c->S;
    size_t n = b->n_rows;
    const uint8_t *c8 = b->code8 ? b->code8 + (size_t)f * n : NULL;
    const uint16_t *c16 = b->code16 ? b->code16 + (size_t)f * n : NULL;
    for (size_t k = lo; k < hi; k++) {
        uint32_t j = c->order[k];
        size_t row = c->ib_row[j];
        size_t bin = c8 ? c8[row] : c16[row];
        double *s = hb + bin * S;
        double w = c->ib_w[j];
        s[0] += 1;
        if (c->K) {
            s[1 + (size_t)c->ib_y[j]] += w;
        } else {
            s[1] += w;
            s[2] += w * c->ib_y[j];
        }
    }
}

/* Impurity from a stat vector (count, class sums | count, w, wy) and, for
 * regression, the weighted sum of squares. */
static double s_impurity(const s_ctx *c, const double *s, double wyy)
{
    if (c->K) {
        double w = 0;
        for (size_t k = 0; k < c->K; k++) {
            w += s[1 + k];
        }
        if (!(w > 0)) {
            return 0;
        }
        double g = 0;
        if (c->d->p->criterion == RF_ENTROPY) {
            for (size_t k = 0; k < c->K; k++) {
                double q = s[1 + k] / w;
                if (q > 0) {
                    g -= q * log2(q);
                }
            }
            return g;
        }
        for (size_t k = 0; k < c->K; k++) {
            double q = s[1 + k] / w;
            g += q * q;
        }
        return 1 - g;
    }
    double w = s[1];
    if (!(w > 0)) {
        return 0;
    }
    double m = s[2] / w;
    double v = wyy / w - m * m;
    return v > 0 ? v : 0;
}

/* The split score to maximise for children l and r (stat vectors), or
 * -inf when the split breaks a constraint. */
static double s_score(const s_ctx *c, const double *l, const double *r)
{
    double minleaf = (double)c->d->p->min_samples_leaf;
    if (l[0] < minleaf || r[0] < minleaf) {
        return -INFINITY;
    }
    if (c->K) {
        double wl = 0, wr = 0;
        for (size_t k = 0; k < c->K; k++) {
            wl += l[1 + k];
            wr += r[1 + k];
        }
        if (!(wl > 0) || !(wr > 0)) {
            return -INFINITY;
        }
        double s = 0;
        if (c->d->p->criterion == RF_ENTROPY) {
            for (size_t k = 0; k < c->K; k++) {
                if (l[1 + k] > 0) {
                    s += l[1 + k] * log(l[1 + k] / wl);
                }
                if (r[1 + k] > 0) {
                    s += r[1 + k] * log(r[1 + k] / wr);
                }
            }
            return s;
        }
        double sl = 0, sr = 0;
        for (size_t k = 0; k < c->K; k++) {
            sl += l[1 + k] * l[1 + k];
            sr += r[1 + k] * r[1 + k];
        }
        return sl / wl + sr / wr;
    }
    if (!(l[1] > 0) || !(r[1] > 0)) {
        return -INFINITY;
    }
    return l[2] * l[2] / l[1] + r[2] * r[2] / r[1];
}

static int s_ent_reserve(s_ctx *c, size_t n)
{
    if (n <= c->ent_cap) {
        return 0;
    }
    size_t cap = c->ent_cap ? c->ent_cap : 64;
    while (cap < n) {
        cap *= 2;
    }
    double *e = realloc(c->ent, cap * c->S * sizeof *e);
    if (!e) {
        return CH_ENOMEM;
    }
    c->ent = e;
    uint32_t *eb = realloc(c->ent_bin, cap * sizeof *eb);
    if (!eb) {
        return CH_ENOMEM;
    }
    c->ent_bin = eb;
    uint32_t *ei = realloc(c->ent_idx, cap * sizeof *ei);
    if (!ei) {
        return CH_ENOMEM;
    }
    c->ent_idx = ei;
    s_keyed *ek = realloc(c->keyed, cap * sizeof *ek);
    if (!ek) {
        return CH_ENOMEM;
    }
    c->keyed = ek;
    c->ent_cap = cap;
    return 0;
}

static int s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Fills the compact entries (non-empty value bins in ascending order) and
 * c->miss for feature f of the node, from a histogram or, when hb is NULL,
 * by sorting the node's bins. Returns the number of entries or -1. */
static long s_entries(s_ctx *c, const double *hb, uint32_t f, size_t lo, size_t hi)
{
    size_t S = c->S;
    memset(c->miss, 0, S * sizeof(double));
    size_t ne = 0;
    if (hb) {
        uint32_t nb = c->b->n_bins[f];
        memcpy(c->miss, hb, S * sizeof(double));
        if (s_ent_reserve(c, nb) != 0) {
            return -1;
        }
        for (uint32_t bin = 1; bin < nb; bin++) {
            const double *s = hb + (size_t)bin * S;
            if (s[0] > 0) {
                memcpy(c->ent + ne * S, s, S * sizeof(double));
                c->ent_bin[ne++] = bin;
            }
        }
        return (long)ne;
    }
    size_t n = hi - lo;
    if (s_ent_reserve(c, n) != 0) {
        return -1;
    }
    /* pairs (bin << 32 | position) would need 64 bits; sort bins with
     * positions packed as bin * n + k for the small n this path sees */
    uint32_t *pairs = c->sort_pairs;
    for (size_t k = 0; k < n; k++) {
        pairs[2 * k] = rf_bin(c->b, f, c->ib_row[c->order[lo + k]]);
        pairs[2 * k + 1] = c->order[lo + k];
    }
    qsort(pairs, n, 2 * sizeof(uint32_t), s_cmp_u32);
    for (size_t k = 0; k < n; k++) {
        uint32_t bin = pairs[2 * k];
        uint32_t j = pairs[2 * k + 1];
        double *s;
        if (bin == 0) {
            s = c->miss;
        } else {
            if (ne == 0 || c->ent_bin[ne - 1] != bin) {
                memset(c->ent + ne * S, 0, S * sizeof(double));
                c->ent_bin[ne++] = bin;
            }
            s = c->ent + (ne - 1) * S;
        }
        double w = c->ib_w[j];
        s[0] += 1;
        if (c->K) {
            s[1 + (size_t)c->ib_y[j]] += w;
        } else {
            s[1] += w;
            s[2] += w * c->ib_y[j];
        }
    }
    return (long)ne;
}

/* Statistic that orders a categorical level's entry. */
static double s_level_key(const s_ctx *c, const double *s, size_t major)
{
    if (c->K) {
        double w = 0;
        for (size_t k = 0; k < c->K; k++) {
            w += s[1 + k];
        }
        size_t cls = c->K == 2 ? 1 : major;
        return w > 0 ? s[1 + cls] / w : 0;
    }
    return s[1] > 0 ? s[2] / s[1] : 0;
}

/* By key, ties by entry (that is, by level). */
static int s_cmp_key(const void *a, const void *b)
{
    const s_keyed *x = a, *y = b;
    if (x->key < y->key) {
        return -1;
    }
    if (x->key > y->key) {
        return 1;
    }
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Evaluates the splits of feature f on the node's entries; updates best. */
static void s_eval(s_ctx *c, uint32_t f, size_t ne, s_split *best)
{
    size_t S = c->S;
    bool cat = c->b->categorical[f];
    if (ne == 0 || (ne < 2 && !(c->miss[0] > 0))) {
        return;
    }
    for (size_t e = 0; e < ne; e++) {
        c->ent_idx[e] = (uint32_t)e;
    }
    if (cat) {
        size_t major = 0;
        for (size_t k = 1; k < c->K; k++) {
            if (c->tot[1 + k] > c->tot[1 + major]) {
                major = k;
            }
        }
        s_keyed *kv = c->keyed;
        for (size_t e = 0; e < ne; e++) {
            kv[e].key = s_level_key(c, c->ent + e * S, major);
            kv[e].idx = (uint32_t)e;
        }
        qsort(kv, ne, sizeof *kv, s_cmp_key);
        for (size_t e = 0; e < ne; e++) {
            c->ent_idx[e] = kv[e].idx;
        }
    }
    bool has_miss = c->miss[0] > 0;
    memset(c->cum, 0, S * sizeof(double));
    long best_pos = -1;
    bool best_ml = false;
    double best_score = best->found ? best->score : -INFINITY;
    /* the last position (every value left) is a split only when the
     * missing values go right */
    size_t last = has_miss ? ne : ne - 1;
    for (size_t e = 0; e < last; e++) {
        const double *s = c->ent + (size_t)c->ent_idx[e] * S;
        for (size_t k = 0; k < S; k++) {
            c->cum[k] += s[k];
        }
        /* missing right */
        for (size_t k = 0; k < S; k++) {
            c->rstat[k] = c->tot[k] - c->cum[k];
        }
        double sc = s_score(c, c->cum, c->rstat);
        if (sc > best_score) {
            best_score = sc;
            best_pos = (long)e;
            best_ml = false;
        }
        if (has_miss && e + 1 < ne) {
            for (size_t k = 0; k < S; k++) {
                c->lstat[k] = c->cum[k] + c->miss[k];
                c->rstat[k] = c->tot[k] - c->lstat[k];
            }
            sc = s_score(c, c->lstat, c->rstat);
            if (sc > best_score) {
                best_score = sc;
                best_pos = (long)e;
                best_ml = true;
            }
        }
    }
    if (best_pos < 0) {
        return;
    }
    best->found = true;
    best->score = best_score;
    best->feature = f;
    best->categorical = cat;
    if (!has_miss) {
        /* no missing value here: they go to the child with more rows */
        double nl = 0;
        if (cat) {
            for (long e = 0; e <= best_pos; e++) {
                nl += c->ent[(size_t)c->ent_idx[e] * S];
            }
        } else {
            for (long e = 0; e <= best_pos; e++) {
                nl += c->ent[(size_t)e * S];
            }
        }
        best_ml = nl >= c->tot[0] - nl;
    }
    best->missing_left = best_ml;
    if (cat) {
        memset(best->left_levels, 0, c->words * sizeof(uint64_t));
        for (long e = 0; e <= best_pos; e++) {
            uint32_t level = c->ent_bin[c->ent_idx[e]] - 1;
            best->left_levels[level / 64] |= (uint64_t)1 << (level % 64);
        }
        best->cut = 0;
    } else {
        best->cut = c->ent_bin[best_pos];
    }
}

static inline bool s_goes_left(const s_ctx *c, const s_split *sp, size_t row)
{
    uint32_t bin = rf_bin(c->b, sp->feature, row);
    if (bin == 0) {
        return sp->missing_left;
    }
    if (sp->categorical) {
        uint32_t level = bin - 1;
        return (sp->left_levels[level / 64] >> (level % 64)) & 1;
    }
    return bin <= sp->cut;
}

/* Draws the features a node tries (partial Fisher-Yates over the pool). */
static uint32_t *s_draw(s_ctx *c, size_t *nf)
{
    size_t m = c->mtry < c->n_pool ? c->mtry : c->n_pool;
    uint32_t *out = malloc((m ? m : 1) * sizeof *out);
    if (!out) {
        return NULL;
    }
    memcpy(c->perm, c->pool, c->n_pool * sizeof *c->perm);
    for (size_t i = 0; i < m; i++) {
        size_t j = i + (size_t)ch_rng_below(&c->rng, c->n_pool - i);
        uint32_t t = c->perm[i];
        c->perm[i] = c->perm[j];
        c->perm[j] = t;
        out[i] = c->perm[i];
    }
    *nf = m;
    return out;
}

static void s_item_free(s_ctx *c, s_item *it)
{
    free(it->feat);
    it->feat = NULL;
    s_hist_free(c, &it->h);
}

/* Node totals, value and impurity; returns the weighted sum of squares
 * through tot (regression) and fills the node. */
static void s_node_stats(s_ctx *c, const s_item *it)
{
    size_t S = c->S;
    memset(c->tot, 0, S * sizeof(double));
    double wyy = 0;
    for (size_t k = it->lo; k < it->hi; k++) {
        uint32_t j = c->order[k];
        double w = c->ib_w[j];
        c->tot[0] += 1;
        if (c->K) {
            c->tot[1 + (size_t)c->ib_y[j]] += w;
        } else {
            c->tot[1] += w;
            c->tot[2] += w * c->ib_y[j];
            wyy += w * c->ib_y[j] * c->ib_y[j];
        }
    }
    rf_tree *t = c->t;
    size_t nd = it->node;
    double *val = t->value + nd * t->n_values;
    double w = 0;
    if (c->K) {
        for (size_t k = 0; k < c->K; k++) {
            w += c->tot[1 + k];
        }
        for (size_t k = 0; k < c->K; k++) {
            val[k] = w > 0 ? c->tot[1 + k] / w : 1.0 / (double)c->K;
        }
    } else {
        w = c->tot[1];
        val[0] = w > 0 ? c->tot[2] / w : 0;
    }
    t->weight[nd] = w;
    t->samples[nd] = (uint32_t)c->tot[0];
    t->impurity[nd] = s_impurity(c, c->tot, wyy);
}

/* Splits one node: returns 0 (children pushed onto stack or leaf), or an
 * error. Takes ownership of it's features and histograms. */
static int s_split_node(s_ctx *c, s_item *it, s_item *stack, size_t *top, ch_err *err)
{
    const rf_params *p = c->d->p;
    rf_tree *t = c->t;
    s_node_stats(c, it);
    size_t count = it->hi - it->lo;
    if ((p->max_depth > 0 && it->depth >= p->max_depth) || count < (size_t)p->min_samples_split ||
        count < 2 * (size_t)p->min_samples_leaf || t->impurity[it->node] <= DBL_EPSILON) {
        s_item_free(c, it);
        return 0;
    }
    s_split best = {.found = false, .left_levels = c->best_bits};
    for (size_t i = 0; i < it->nf; i++) {
        uint32_t f = it->feat[i];
        const double *hb = s_hist_get(it->h, f);
        if (!hb && count >= c->b->n_bins[f] && c->held_bytes < S_HIST_BUDGET) {
            if (!it->h && !(it->h = s_hist_new(c))) {
                return ch_err_set(err, CH_ENOMEM, "out of memory growing a tree");
            }
            double *nb = s_hist_add(c, it->h, f);
            if (!nb) {
                return ch_err_set(err, CH_ENOMEM, "out of memory growing a tree");
            }
            s_hist_build(c, nb, f, it->lo, it->hi);
            hb = nb;
        }
        long ne = s_entries(c, hb, f, it->lo, it->hi);
        if (ne < 0) {
            return ch_err_set(err, CH_ENOMEM, "out of memory growing a tree");
        }
        s_eval(c, f, (size_t)ne, &best);
    }
    if (!best.found) {
        s_item_free(c, it);
        return 0;
    }
    /* partition order[lo..hi) stably: left rows, then right rows */
    size_t nl = 0, nr = 0;
    double max_left = -INFINITY, min_right = INFINITY;
    const double *x = c->d->table->cols[best.feature].values;
    for (size_t k = it->lo; k < it->hi; k++) {
        uint32_t j = c->order[k];
        size_t row = c->ib_row[j];
        if (s_goes_left(c, &best, row)) {
            c->order[it->lo + nl++] = j;
            if (!best.categorical && !isnan(x[row]) && x[row] > max_left) {
                max_left = x[row];
            }
        } else {
            c->tmp[nr++] = j;
            if (!best.categorical && !isnan(x[row]) && x[row] < min_right) {
                min_right = x[row];
            }
        }
    }
    memcpy(c->order + it->lo + nl, c->tmp, nr * sizeof *c->order);
    long l = rf_tree_add_node(t);
    long r = l >= 0 ? rf_tree_add_node(t) : -1;
    if (r < 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory growing a tree");
    }
    size_t nd = it->node;
    t->feature[nd] = (int32_t)best.feature;
    t->left[nd] = (uint32_t)l;
    t->right[nd] = (uint32_t)r;
    t->missing_left[nd] = best.missing_left;
    if (best.categorical) {
        long off = rf_tree_add_cat(t, c->words);
        if (off < 0) {
            return ch_err_set(err, CH_ENOMEM, "out of memory growing a tree");
        }
        memcpy(t->cat + off, best.left_levels, c->words * sizeof(uint64_t));
        t->cat_offset[nd] = (uint32_t)off + 1;
        t->threshold[nd] = 0;
    } else {
        double thr = max_left / 2.0 + min_right / 2.0;
        if (thr == min_right || isinf(thr) || isnan(thr)) {
            thr = max_left;
        }
        if (isinf(thr) || isnan(thr)) {
            /* every non-missing value on one side: any cut between the bins */
            thr = c->b->upper[best.feature][best.cut - 1];
        }
        t->threshold[nd] = thr;
    }
    s_item L = {.node = (uint32_t)l, .lo = it->lo, .hi = it->lo + nl, .depth = it->depth + 1};
    s_item R = {.node = (uint32_t)r, .lo = it->lo + nl, .hi = it->hi, .depth = it->depth + 1};
    L.feat = s_draw(c, &L.nf);
    R.feat = L.feat ? s_draw(c, &R.nf) : NULL;
    if (!R.feat) {
        free(L.feat);
        return ch_err_set(err, CH_ENOMEM, "out of memory growing a tree");
    }
    /* histogram subtraction: the smaller child builds the bins the larger
     * one needs, the larger one gets the parent's minus the smaller's */
    s_item *small = nl <= nr ? &L : &R;
    s_item *large = nl <= nr ? &R : &L;
    if (it->h) {
        for (size_t i = 0; i < large->nf; i++) {
            uint32_t f = large->feat[i];
            const double *ph = s_hist_get(it->h, f);
            if (!ph || c->held_bytes >= S_HIST_BUDGET) {
                continue;
            }
            if (!small->h && !(small->h = s_hist_new(c))) {
                goto oom;
            }
            if (!large->h && !(large->h = s_hist_new(c))) {
                goto oom;
            }
            double *sh = s_hist_add(c, small->h, f);
            if (!sh) {
                goto oom;
            }
            s_hist_build(c, sh, f, small->lo, small->hi);
            double *lh = s_hist_add(c, large->h, f);
            if (!lh) {
                goto oom;
            }
            size_t len = (size_t)c->b->n_bins[f] * c->S;
            sh = s_hist_get(small->h, f);
            for (size_t k = 0; k < len; k++) {
                lh[k] = ph[k] - sh[k];
            }
        }
    }
    s_item_free(c, it);
    stack[(*top)++] = *large;
    stack[(*top)++] = *small;
    return 0;
oom:
    s_item_free(c, &L);
    s_item_free(c, &R);
    return ch_err_set(err, CH_ENOMEM, "out of memory growing a tree");
}

static void s_ctx_free(s_ctx *c)
{
    free(c->ib_row);
    free(c->ib_w);
    free(c->ib_y);
    free(c->order);
    free(c->tmp);
    free(c->pool);
    free(c->perm);
    free(c->tot);
    free(c->miss);
    free(c->cum);
    free(c->lstat);
    free(c->rstat);
    free(c->ent);
    free(c->ent_bin);
    free(c->ent_idx);
    free(c->keyed);
    free(c->sort_pairs);
    free(c->best_bits);
    free(c->cur_bits);
}

rf_tree *rf_grow(const rf_grow_data *d, uint32_t index, ch_err *err)
{
    s_ctx c;
    memset(&c, 0, sizeof c);
    c.d = d;
    c.b = d->bins;
    c.K = d->n_classes;
    c.S = c.K ? 1 + c.K : 3;
    c.p = c.b->n_features;
    c.mtry = rf_params_mtry(d->p, c.p);
    size_t n = d->n_rows;
    rf_tree *t = NULL;
    s_item *stack = NULL;
    size_t top = 0;
    uint32_t *counts = ch_alloc_array(n ? n : 1, sizeof *counts);
    if (!counts) {
        ch_err_set(err, CH_ENOMEM, "out of memory for %zu rows", n);
        return NULL;
    }
    if (n > UINT32_MAX) {
        free(counts);
        ch_err_set(err, CH_EINVAL, "a tree grows on at most 2^32 rows; this one has %zu", n);
        return NULL;
    }
    if (rf_bootstrap(d->p, d->seed, index, n, counts, err) != 0) {
        free(counts);
        return NULL;
    }
    /* the same stream continues after the bootstrap draws */
    ch_rng_init(&c.rng, d->seed, ch_rng_stream(CH_STREAM_TREE, index));
    if (d->p->bootstrap) {
        size_t draws = rf_bootstrap_draws(d->p, n);
        for (size_t k = 0; k < draws; k++) {
            (void)ch_rng_below(&c.rng, n);
        }
    }
    size_t maxlev = 1;
    for (size_t f = 0; f < c.p; f++) {
        if (c.b->categorical[f] && c.b->n_bins[f] > maxlev) {
            maxlev = c.b->n_bins[f];
        }
    }
    c.words = maxlev / 64 + 1;
    c.ib_row = ch_alloc_array(n ? n : 1, sizeof *c.ib_row);
    c.ib_w = ch_alloc_array(n ? n : 1, sizeof *c.ib_w);
    c.ib_y = ch_alloc_array(n ? n : 1, sizeof *c.ib_y);
    c.order = ch_alloc_array(n ? n : 1, sizeof *c.order);
    c.tmp = ch_alloc_array(n ? n : 1, sizeof *c.tmp);
    c.sort_pairs = ch_alloc_array(n ? 2 * n : 2, sizeof *c.sort_pairs);
    c.pool = calloc(c.p ? c.p : 1, sizeof *c.pool);
    c.perm = calloc(c.p ? c.p : 1, sizeof *c.perm);
    c.tot = calloc(c.S, sizeof(double));
    c.miss = calloc(c.S, sizeof(double));
    c.cum = calloc(c.S, sizeof(double));
    c.lstat = calloc(c.S, sizeof(double));
    c.rstat = calloc(c.S, sizeof(double));
    c.best_bits = calloc(c.words, sizeof(uint64_t));
    c.cur_bits = calloc(c.words, sizeof(uint64_t));
    stack = calloc(2 * (size_t)(d->p->max_depth > 0 ? d->p->max_depth : 64) + 4, sizeof *stack);
    size_t stack_cap = 2 * (size_t)(d->p->max_depth > 0 ? d->p->max_depth : 64) + 4;
    t = rf_tree_new(index, c.K ? c.K : 1);
    if (!c.ib_row || !c.ib_w || !c.ib_y || !c.order || !c.tmp || !c.sort_pairs || !c.pool ||
        !c.perm || !c.tot || !c.miss || !c.cum || !c.lstat || !c.rstat || !c.best_bits ||
        !c.cur_bits || !stack || !t) {
        ch_err_set(err, CH_ENOMEM, "out of memory growing a tree on %zu rows", n);
        goto fail;
    }
    t->rows = n;
    c.t = t;
    /* class weights of this tree (balanced_subsample: from its draws) */
    double cw_sub[RF_MAX_CLASSES];
    const double *cw = d->class_weight;
    if (c.K && d->p->cw == RF_CW_BALANCED_SUBSAMPLE) {
        double cnt[RF_MAX_CLASSES] = {0};
        double total = 0;
        for (size_t i = 0; i < n; i++) {
            cnt[(size_t)d->table->target.values[d->rows[i]]] += counts[i];
            total += counts[i];
        }
        size_t present = 0;
        for (size_t k = 0; k < c.K; k++) {
            present += cnt[k] > 0;
        }
        for (size_t k = 0; k < c.K; k++) {
            cw_sub[k] = cnt[k] > 0 ? total / ((double)present * cnt[k]) : 0;
        }
        cw = cw_sub;
    }
    const double *y = d->table->target.values;
    const double *rw = d->table->weights;
    for (size_t i = 0; i < n; i++) {
        if (counts[i] == 0) {
            continue;
        }
        size_t row = d->rows[i];
        double w = (double)counts[i] * (rw ? rw[row] : 1.0);
        if (c.K && cw) {
            w *= cw[(size_t)y[row]];
        }
        c.ib_row[c.n_ib] = row;
        c.ib_w[c.n_ib] = w;
        c.ib_y[c.n_ib] = y[row];
        c.order[c.n_ib] = (uint32_t)c.n_ib;
        c.n_ib++;
    }
    for (size_t f = 0; f < c.p; f++) {
        if (c.b->n_bins[f] >= 3) {
            c.pool[c.n_pool++] = (uint32_t)f;
        }
    }
    if (rf_tree_add_node(t) < 0) {
        ch_err_set(err, CH_ENOMEM, "out of memory growing a tree");
        goto fail;
    }
    s_item root = {.node = 0, .lo = 0, .hi = c.n_ib, .depth = 0};
    root.feat = s_draw(&c, &root.nf);
    if (!root.feat) {
        ch_err_set(err, CH_ENOMEM, "out of memory growing a tree");
        goto fail;
    }
    stack[top++] = root;
    while (top > 0) {
        if (top + 2 > stack_cap) {
            size_t cap = stack_cap * 2;
            s_item *ns = realloc(stack, cap * sizeof *ns);
            if (!ns) {
                ch_err_set(err, CH_ENOMEM, "out of memory growing a tree");
                goto fail;
            }
            stack = ns;
            stack_cap = cap;
        }
        s_item it = stack[--top];
        if (s_split_node(&c, &it, stack, &top, err) != 0) {
            s_item_free(&c, &it);
            goto fail;
        }
    }
    free(stack);
    free(counts);
    s_ctx_free(&c);
    return t;
fail:
    while (stack && top > 0) {
        s_item_free(&c, &stack[--top]);
    }
    free(stack);
    free(counts);
    s_ctx_free(&c);
    rf_tree_destroy(&t);
    return NULL;
}
