/* quantile.c: exact distributed quantiles by counting rounds (see
 * quantile.h). */
#include "algorithms/linear/quantile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double ch_qsel_probs[CH_QSEL_PROBS] = {0, 0.25, 0.5, 0.75, 1};

enum { S_MAX_TARGETS = 2 * CH_QSEL_PROBS };

/* One order statistic being searched for. */
typedef struct s_target {
    double rank;     /* 0-based */
    uint64_t lo, hi; /* the bracket of keys holding it (inclusive) */
    double below;    /* values with a key below lo */
    double count;    /* values in the bracket */
    bool known;
    double value;
} s_target;

struct ch_qsel {
    double n;
    size_t nt;
    s_target t[S_MAX_TARGETS];
    size_t lo_of[CH_QSEL_PROBS], hi_of[CH_QSEL_PROBS]; /* target indices */
    double h[CH_QSEL_PROBS];                           /* type 7 interpolation weight */
};

uint64_t ch_qsel_key(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return (b >> 63) ? ~b : b | ((uint64_t)1 << 63);
}

double ch_qsel_unkey(uint64_t k)
{
    uint64_t b = (k >> 63) ? k & ~((uint64_t)1 << 63) : ~k;
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* Bin width of a bracket: the bins [lo + c w, lo + (c + 1) w) cover it. */
static uint64_t s_width(uint64_t lo, uint64_t hi)
{
    return (hi - lo) / CH_QSEL_BINS + 1;
}

/* Adds the histogram of v over [lo, hi] to out[CH_QSEL_BINS]. */
static void s_hist(const double *v, size_t n, uint64_t lo, uint64_t hi, double *out)
{
    uint64_t w = s_width(lo, hi);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = ch_qsel_key(v[i]);
        if (!isnan(v[i]) && k >= lo && k <= hi) {
            out[(k - lo) / w] += 1;
        }
    }
}

void ch_qsel_first_leaf(const double *v, size_t n, double *hist)
{
    s_hist(v, n, 0, UINT64_MAX, hist);
}

/* Narrows target t with the histogram h of its bracket. */
static int s_narrow(s_target *t, const double *h, ch_err *err)
{
    double total = 0, cum = t->below;
    size_t pick = SIZE_MAX;
    for (size_t c = 0; c < CH_QSEL_BINS; c++) {
        if (!(h[c] >= 0) || h[c] != floor(h[c])) {
            return ch_err_set(err, CH_EPROTO, "quantile round: bin %zu has count %g", c, h[c]);
        }
        total += h[c];
        if (pick == SIZE_MAX && cum + h[c] > t->rank) {
            pick = c;
        } else if (pick == SIZE_MAX) {
            cum += h[c];
        }
    }
    uint64_t w = s_width(t->lo, t->hi);
    if (total != t->count || pick == SIZE_MAX || (uint64_t)pick > (t->hi - t->lo) / w) {
        return ch_err_set(err, CH_EPROTO,
                          "quantile round: the histogram counts %.0f values in a bracket that "
                          "holds %.0f",
                          total, t->count);
    }
    uint64_t nlo = t->lo + (uint64_t)pick * w;
    t->hi = t->hi - nlo < w - 1 ? t->hi : nlo + (w - 1);
    t->lo = nlo;
    t->below = cum;
    t->count = h[pick];
    if (t->lo == t->hi) {
        t->known = true;
        t->value = ch_qsel_unkey(t->lo);
    }
    return 0;
}

/* The target with this rank, added if new; returns its index. */
static size_t s_target_for(ch_qsel *q, double rank)
{
    for (size_t i = 0; i < q->nt; i++) {
        if (q->t[i].rank == rank) {
            return i;
        }
    }
    s_target *t = &q->t[q->nt];
    memset(t, 0, sizeof *t);
    t->rank = rank;
    t->lo = 0;
    t->hi = UINT64_MAX;
    t->count = q->n;
    return q->nt++;
}

ch_qsel *ch_qsel_new(double n, const double *first)
{
    if (!(n >= 1) || n > 9007199254740992.0 || n != floor(n)) {
        return NULL;
    }
    ch_qsel *q = calloc(1, sizeof *q);
    if (!q) {
        return NULL;
    }
    q->n = n;
    for (size_t k = 0; k < CH_QSEL_PROBS; k++) {
        /* R's quantile type 7: index = 1 + (n - 1) p, lo = floor, hi = ceiling */
        double idx = (n - 1) * ch_qsel_probs[k];
        double rl = floor(idx), rh = ceil(idx);
        q->h[k] = idx - rl;
        q->lo_of[k] = s_target_for(q, rl);
        q->hi_of[k] = s_target_for(q, rh);
    }
    for (size_t i = 0; i < q->nt; i++) {
        if (s_narrow(&q->t[i], first, NULL) != 0) {
            free(q);
            return NULL;
        }
    }
    return q;
}

void ch_qsel_destroy(ch_qsel **q)
{
    if (q && *q) {
        free(*q);
        *q = NULL;
    }
}

bool ch_qsel_done(const ch_qsel *q)
{
    for (size_t i = 0; i < q->nt; i++) {
        if (!q->t[i].known) {
            return false;
        }
    }
    return true;
}

/* The distinct open brackets of the next round: bracket index of each
 * target in map (SIZE_MAX when known). Returns the number of brackets. */
static size_t s_brackets(const ch_qsel *q, uint64_t *lo, uint64_t *hi, size_t *map)
{
    size_t nb = 0;
    for (size_t i = 0; i < q->nt; i++) {
        const s_target *t = &q->t[i];
        map[i] = SIZE_MAX;
        if (t->known) {
            continue;
        }
        for (size_t b = 0; b < nb; b++) {
            if (lo[b] == t->lo && hi[b] == t->hi) {
                map[i] = b;
            }
        }
        if (map[i] == SIZE_MAX) {
            lo[nb] = t->lo;
            hi[nb] = t->hi;
            map[i] = nb++;
        }
    }
    return nb;
}

size_t ch_qsel_task(const ch_qsel *q, ch_buf *payload)
{
    uint64_t lo[S_MAX_TARGETS], hi[S_MAX_TARGETS];
    size_t map[S_MAX_TARGETS];
    size_t nb = s_brackets(q, lo, hi, map);
    uint64_t head = nb;
    ch_buf_append(payload, &head, sizeof head);
    for (size_t b = 0; b < nb; b++) {
        uint64_t rec[2] = {lo[b], hi[b]};
        ch_buf_append(payload, rec, sizeof rec);
    }
    return nb * CH_QSEL_BINS;
}

int ch_qsel_consume(ch_qsel *q, const double *root, ch_err *err)
{
    uint64_t lo[S_MAX_TARGETS], hi[S_MAX_TARGETS];
    size_t map[S_MAX_TARGETS];
    s_brackets(q, lo, hi, map);
    for (size_t i = 0; i < q->nt; i++) {
        if (map[i] != SIZE_MAX) {
            int rc = s_narrow(&q->t[i], root + map[i] * CH_QSEL_BINS, err);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

void ch_qsel_result(const ch_qsel *q, double *out)
{
    for (size_t k = 0; k < CH_QSEL_PROBS; k++) {
        const s_target *a = &q->t[q->lo_of[k]], *b = &q->t[q->hi_of[k]];
        if (!a->known || !b->known) {
            out[k] = NAN;
            continue;
        }
        double h = q->h[k];
        /* as R: qs[i] <- (1 - h) * qs[i] + h * x[hi[i]] where x[hi] != qs */
        out[k] = h > 0 && b->value != a->value ? (1 - h) * a->value + h * b->value : a->value;
    }
}

int ch_qsel_parse(const uint8_t *data, size_t len, ch_qsel_task_t *t, ch_err *err)
{
    memset(t, 0, sizeof *t);
    uint64_t nb;
    if (len < sizeof nb) {
        return ch_err_set(err, CH_EPROTO, "quantile task of %zu bytes", len);
    }
    memcpy(&nb, data, sizeof nb);
    if (nb > S_MAX_TARGETS || len != sizeof nb + nb * 2 * sizeof(uint64_t)) {
        return ch_err_set(err, CH_EPROTO, "quantile task: %zu bytes for %llu brackets", len,
                          (unsigned long long)nb);
    }
    t->n = (size_t)nb;
    t->lo = malloc((nb ? nb : 1) * sizeof *t->lo);
    t->hi = malloc((nb ? nb : 1) * sizeof *t->hi);
    if (!t->lo || !t->hi) {
        ch_qsel_task_free(t);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t b = 0; b < t->n; b++) {
        uint64_t rec[2];
        memcpy(rec, data + sizeof nb + b * sizeof rec, sizeof rec);
        if (rec[0] > rec[1]) {
            ch_qsel_task_free(t);
            return ch_err_set(err, CH_EPROTO, "quantile task: bracket %zu is malformed", b);
        }
        t->lo[b] = rec[0];
        t->hi[b] = rec[1];
    }
    t->node_len = t->n * CH_QSEL_BINS;
    return 0;
}

void ch_qsel_task_free(ch_qsel_task_t *t)
{
    if (t) {
        free(t->lo);
        free(t->hi);
        memset(t, 0, sizeof *t);
    }
}

void ch_qsel_leaf(const ch_qsel_task_t *t, const double *v, size_t n, double *node)
{
    for (size_t b = 0; b < t->n; b++) {
        double *out = node + b * CH_QSEL_BINS;
        memset(out, 0, CH_QSEL_BINS * sizeof *out);
        s_hist(v, n, t->lo[b], t->hi[b], out);
    }
}

void ch_qsel_combine(void *ctx, size_t len, const double *left, const double *right, double *out)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++) {
        out[i] = left[i] + right[i];
    }
}

const double *ch_qsel_cache_get(const ch_qsel_cache *c, const double *key, size_t key_len, size_t b,
                                size_t *n)
{
    if (!c->key || c->key_len != key_len || b >= c->n_blocks || !c->v[b] ||
        memcmp(c->key, key, key_len * sizeof *key) != 0) {
        return NULL;
    }
    *n = c->n[b];
    return c->v[b];
}

void ch_qsel_cache_free(ch_qsel_cache *c)
{
    if (!c) {
        return;
    }
    for (size_t b = 0; c->v && b < c->n_blocks; b++) {
        free(c->v[b]);
    }
    free(c->v);
    free(c->n);
    free(c->key);
    memset(c, 0, sizeof *c);
}

int ch_qsel_cache_put(ch_qsel_cache *c, const double *key, size_t key_len, size_t n_blocks,
                      size_t b, const double *v, size_t n)
{
    if (!c->key || c->key_len != key_len || c->n_blocks != n_blocks ||
        memcmp(c->key, key, key_len * sizeof *key) != 0) {
        ch_qsel_cache_free(c);
        c->key = malloc((key_len ? key_len : 1) * sizeof *c->key);
        c->v = calloc(n_blocks ? n_blocks : 1, sizeof *c->v);
        c->n = calloc(n_blocks ? n_blocks : 1, sizeof *c->n);
        if (!c->key || !c->v || !c->n) {
            ch_qsel_cache_free(c);
            return CH_ENOMEM;
        }
        memcpy(c->key, key, key_len * sizeof *key);
        c->key_len = key_len;
        c->n_blocks = n_blocks;
    }
    if (b >= n_blocks) {
        return CH_EINVAL;
    }
    free(c->v[b]);
    c->v[b] = malloc((n ? n : 1) * sizeof *v);
    if (!c->v[b]) {
        return CH_ENOMEM;
    }
    memcpy(c->v[b], v, n * sizeof *v);
    c->n[b] = n;
    return 0;
}
