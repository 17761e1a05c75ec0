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
    bool values;     /* the next round fetches the bracket's values */
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

/* The target with this rank, added if new; returns its index. */
static size_t s_target_for(ch_qsel *q, double rank, uint64_t lo, uint64_t hi)
{
    for (size_t i = 0; i < q->nt; i++) {
        if (q->t[i].rank == rank) {
            return i;
        }
    }
    s_target *t = &q->t[q->nt];
    memset(t, 0, sizeof *t);
    t->rank = rank;
    t->lo = lo;
    t->hi = hi;
    t->count = q->n;
    t->values = q->n <= CH_QSEL_SLOTS;
    if (rank == 0 || rank == q->n - 1 || lo == hi) {
        t->known = true;
        t->value = ch_qsel_unkey(rank == q->n - 1 && rank != 0 ? hi : lo);
    }
    return q->nt++;
}

ch_qsel *ch_qsel_new(double n, double min, double max)
{
    if (!(n >= 1) || n > 9007199254740992.0 || n != floor(n) || !isfinite(min) || !isfinite(max) ||
        min > max) {
        return NULL;
    }
    ch_qsel *q = calloc(1, sizeof *q);
    if (!q) {
        return NULL;
    }
    q->n = n;
    uint64_t lo = ch_qsel_key(min), hi = ch_qsel_key(max);
    for (size_t k = 0; k < CH_QSEL_PROBS; k++) {
        /* R's quantile type 7: index = 1 + (n - 1) p, lo = floor, hi = ceiling */
        double idx = (n - 1) * ch_qsel_probs[k];
        double rl = floor(idx), rh = ceil(idx);
        q->h[k] = idx - rl;
        q->lo_of[k] = s_target_for(q, rl, lo, hi);
        q->hi_of[k] = s_target_for(q, rh, lo, hi);
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
static size_t s_brackets(const ch_qsel *q, uint64_t *lo, uint64_t *hi, bool *values, size_t *map)
{
    size_t nb = 0;
    for (size_t i = 0; i < q->nt; i++) {
        const s_target *t = &q->t[i];
        map[i] = SIZE_MAX;
        if (t->known) {
            continue;
        }
        for (size_t b = 0; b < nb; b++) {
            if (lo[b] == t->lo && hi[b] == t->hi && values[b] == t->values) {
                map[i] = b;
            }
        }
        if (map[i] == SIZE_MAX) {
            lo[nb] = t->lo;
            hi[nb] = t->hi;
            values[nb] = t->values;
            map[i] = nb++;
        }
    }
    return nb;
}

static size_t s_len(bool values)
{
    /* a histogram is the counts, then each bin's smallest and largest value */
    return values ? CH_QSEL_SLOTS : 3 * CH_QSEL_BINS;
}

size_t ch_qsel_task(const ch_qsel *q, ch_buf *payload)
{
    uint64_t lo[S_MAX_TARGETS], hi[S_MAX_TARGETS];
    bool values[S_MAX_TARGETS];
    size_t map[S_MAX_TARGETS];
    size_t nb = s_brackets(q, lo, hi, values, map);
    uint64_t head = nb;
    ch_buf_append(payload, &head, sizeof head);
    size_t len = 0;
    for (size_t b = 0; b < nb; b++) {
        uint64_t rec[3] = {lo[b], hi[b], values[b] ? 1 : 0};
        ch_buf_append(payload, rec, sizeof rec);
        len += s_len(values[b]);
    }
    return len;
}

/* Bin width of a bracket: the bins [lo + c w, lo + (c + 1) w) cover it. */
static uint64_t s_width(uint64_t lo, uint64_t hi)
{
    return (hi - lo) / CH_QSEL_BINS + 1;
}

int ch_qsel_consume(ch_qsel *q, const double *root, ch_err *err)
{
    uint64_t lo[S_MAX_TARGETS], hi[S_MAX_TARGETS];
    bool values[S_MAX_TARGETS];
    size_t map[S_MAX_TARGETS], off[S_MAX_TARGETS];
    size_t nb = s_brackets(q, lo, hi, values, map);
    for (size_t b = 0, o = 0; b < nb; b++) {
        off[b] = o;
        o += s_len(values[b]);
    }
    for (size_t i = 0; i < q->nt; i++) {
        s_target *t = &q->t[i];
        if (map[i] == SIZE_MAX) {
            continue;
        }
        const double *node = root + off[map[i]];
        if (t->values) {
            size_t have = 0;
            while (have < CH_QSEL_SLOTS && !isnan(node[have])) {
                have++;
            }
            if ((double)have != t->count) {
                return ch_err_set(err, CH_EPROTO,
                                  "quantile round: %zu values in a bracket that holds %.0f", have,
                                  t->count);
            }
            t->value = node[(size_t)(t->rank - t->below)];
            t->known = true;
            continue;
        }
        double total = 0, cum = t->below;
        size_t pick = SIZE_MAX;
        for (size_t c = 0; c < CH_QSEL_BINS; c++) {
            if (!(node[c] >= 0) || node[c] != floor(node[c])) {
                return ch_err_set(err, CH_EPROTO, "quantile round: bin %zu has count %g", c,
                                  node[c]);
            }
            total += node[c];
            if (pick == SIZE_MAX && cum + node[c] > t->rank) {
                pick = c;
            } else if (pick == SIZE_MAX) {
                cum += node[c];
            }
        }
        if (total != t->count || pick == SIZE_MAX) {
            return ch_err_set(err, CH_EPROTO,
                              "quantile round: the histogram counts %.0f values in a bracket that "
                              "holds %.0f",
                              total, t->count);
        }
        uint64_t w = s_width(t->lo, t->hi);
        if ((uint64_t)pick > (t->hi - t->lo) / w) {
            return ch_err_set(err, CH_EPROTO, "quantile round: bin %zu is outside the bracket",
                              pick);
        }
        uint64_t nlo = t->lo + (uint64_t)pick * w;
        uint64_t nhi = t->hi - nlo < w - 1 ? t->hi : nlo + (w - 1);
        /* the bin's own smallest and largest values narrow it further (a
         * tie is found at once) */
        uint64_t vlo = ch_qsel_key(node[CH_QSEL_BINS + pick]);
        uint64_t vhi = ch_qsel_key(node[2 * CH_QSEL_BINS + pick]);
        if (vlo < nlo || vhi > nhi || vlo > vhi) {
            return ch_err_set(err, CH_EPROTO, "quantile round: bin %zu's extremes lie outside it",
                              pick);
        }
        t->lo = vlo;
        t->hi = vhi;
        t->below = cum;
        t->count = node[pick];
        if (vlo == vhi) {
            t->known = true;
            t->value = ch_qsel_unkey(vlo);
        } else {
            t->values = t->count <= CH_QSEL_SLOTS;
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
    if (nb > S_MAX_TARGETS || len != sizeof nb + nb * 3 * sizeof(uint64_t)) {
        return ch_err_set(err, CH_EPROTO, "quantile task: %zu bytes for %llu brackets", len,
                          (unsigned long long)nb);
    }
    t->n = (size_t)nb;
    t->lo = malloc((nb ? nb : 1) * sizeof *t->lo);
    t->hi = malloc((nb ? nb : 1) * sizeof *t->hi);
    t->values = malloc((nb ? nb : 1) * sizeof *t->values);
    if (!t->lo || !t->hi || !t->values) {
        ch_qsel_task_free(t);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t b = 0; b < t->n; b++) {
        uint64_t rec[3];
        memcpy(rec, data + sizeof nb + b * sizeof rec, sizeof rec);
        if (rec[0] > rec[1] || rec[2] > 1) {
            ch_qsel_task_free(t);
            return ch_err_set(err, CH_EPROTO, "quantile task: bracket %zu is malformed", b);
        }
        t->lo[b] = rec[0];
        t->hi[b] = rec[1];
        t->values[b] = rec[2] == 1;
        t->node_len += s_len(t->values[b]);
    }
    return 0;
}

void ch_qsel_task_free(ch_qsel_task_t *t)
{
    if (t) {
        free(t->lo);
        free(t->hi);
        free(t->values);
        memset(t, 0, sizeof *t);
    }
}

static int s_cmp_key(const void *a, const void *b)
{
    uint64_t ka = ch_qsel_key(*(const double *)a), kb = ch_qsel_key(*(const double *)b);
    return ka < kb ? -1 : ka > kb;
}

void ch_qsel_leaf(const ch_qsel_task_t *t, const double *v, size_t n, double *node)
{
    size_t off = 0;
    for (size_t b = 0; b < t->n; b++) {
        double *out = node + off;
        uint64_t lo = t->lo[b], hi = t->hi[b];
        if (!t->values[b]) {
            uint64_t w = s_width(lo, hi);
            double *mn = out + CH_QSEL_BINS, *mx = out + 2 * CH_QSEL_BINS;
            memset(out, 0, 3 * CH_QSEL_BINS * sizeof *out);
            for (size_t i = 0; i < n; i++) {
                uint64_t k = ch_qsel_key(v[i]);
                if (isnan(v[i]) || k < lo || k > hi) {
                    continue;
                }
                size_t c = (size_t)((k - lo) / w);
                if (out[c] == 0 || k < ch_qsel_key(mn[c])) {
                    mn[c] = v[i];
                }
                if (out[c] == 0 || k > ch_qsel_key(mx[c])) {
                    mx[c] = v[i];
                }
                out[c] += 1;
            }
        } else {
            size_t have = 0;
            for (size_t i = 0; i < n && have < CH_QSEL_SLOTS; i++) {
                uint64_t k = ch_qsel_key(v[i]);
                if (!isnan(v[i]) && k >= lo && k <= hi) {
                    out[have++] = v[i];
                }
            }
            qsort(out, have, sizeof *out, s_cmp_key);
            for (size_t i = have; i < CH_QSEL_SLOTS; i++) {
                out[i] = NAN;
            }
        }
        off += s_len(t->values[b]);
    }
}

void ch_qsel_combine(void *ctx, size_t len, const double *left, const double *right, double *out)
{
    const ch_qsel_task_t *t = ctx;
    size_t off = 0;
    (void)len;
    for (size_t b = 0; b < t->n; b++) {
        const double *l = left + off, *r = right + off;
        double *o = out + off;
        if (!t->values[b]) {
            const size_t nb = CH_QSEL_BINS;
            for (size_t c = 0; c < nb; c++) {
                o[c] = l[c] + r[c];
                /* extremes compared as keys; an empty side gives way */
                bool lmin =
                    r[c] == 0 || (l[c] > 0 && ch_qsel_key(l[nb + c]) <= ch_qsel_key(r[nb + c]));
                bool lmax = r[c] == 0 ||
                            (l[c] > 0 && ch_qsel_key(l[2 * nb + c]) >= ch_qsel_key(r[2 * nb + c]));
                o[nb + c] = lmin ? l[nb + c] : r[nb + c];
                o[2 * nb + c] = lmax ? l[2 * nb + c] : r[2 * nb + c];
            }
        } else {
            /* merge two key-sorted lists ended by NaN */
            size_t i = 0, j = 0, k = 0;
            while (k < CH_QSEL_SLOTS) {
                bool li = i < CH_QSEL_SLOTS && !isnan(l[i]);
                bool rj = j < CH_QSEL_SLOTS && !isnan(r[j]);
                if (!li && !rj) {
                    break;
                }
                if (li && (!rj || ch_qsel_key(l[i]) <= ch_qsel_key(r[j]))) {
                    o[k++] = l[i++];
                } else {
                    o[k++] = r[j++];
                }
            }
            for (; k < CH_QSEL_SLOTS; k++) {
                o[k] = NAN;
            }
        }
        off += s_len(t->values[b]);
    }
}

void ch_qsel_range_combine(void *ctx, size_t len, const double *left, const double *right,
                           double *out)
{
    (void)ctx;
    out[0] = left[0] + right[0];
    out[1] = left[1] < right[1] ? left[1] : right[1];
    out[2] = left[2] > right[2] ? left[2] : right[2];
    for (size_t i = 3; i < len; i++) {
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
