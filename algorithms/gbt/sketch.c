/* sketch.c: quantile cuts from value summaries merged across shards, and
 * the binning of values into uint8 codes.
 *
 * Each shard sends, per feature, the distinct values of its sampled rows
 * with their counts; the union multiset does not depend on how rows are
 * split into shards, so neither do the cuts. */
#include "algorithms/gbt/gbt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Order-preserving unsigned key of a float (no NaN here). */
static uint32_t s_fkey(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static float s_funkey(uint32_t k)
{
    uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Sorts keys a[0..n) with LSD radix passes (tmp: n scratch); passes where
 * every key has the same byte are skipped. Returns the sorted array (a or
 * tmp). */
static uint32_t *s_radix(uint32_t *a, uint32_t *tmp, size_t n)
{
    size_t cnt[4][256];
    memset(cnt, 0, sizeof cnt);
    for (size_t i = 0; i < n; i++) {
        for (int d = 0; d < 4; d++) {
            cnt[d][(a[i] >> (8 * d)) & 255u]++;
        }
    }
    for (int d = 0; d < 4; d++) {
        if (n == 0 || cnt[d][(a[0] >> (8 * d)) & 255u] == n) {
            continue;
        }
        size_t pos = 0;
        for (size_t b = 0; b < 256; b++) {
            size_t c = cnt[d][b];
            cnt[d][b] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++) {
            tmp[cnt[d][(a[i] >> (8 * d)) & 255u]++] = a[i];
        }
        uint32_t *t = a;
        a = tmp;
        tmp = t;
    }
    return a;
}

/* Sorted distinct values with counts (radix sort of the float keys; -0
 * counts as +0). */
int ch_gbt_summary_from(float *v, size_t n, ch_gbt_summary *s)
{
    memset(s, 0, sizeof *s);
    size_t a = n ? n : 1;
    uint32_t *k = malloc(a * sizeof *k);
    uint32_t *tmp = malloc(a * sizeof *tmp);
    s->values = malloc(a * sizeof *s->values);
    s->counts = malloc(a * sizeof *s->counts);
    if (!k || !tmp || !s->values || !s->counts) {
        free(k);
        free(tmp);
        ch_gbt_summary_free(s);
        return CH_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        k[i] = s_fkey(v[i] + 0.0f);
    }
    const uint32_t *sorted = s_radix(k, tmp, n);
    for (size_t i = 0; i < n; i++) {
        if (s->n && sorted[i] == sorted[i - 1]) {
            s->counts[s->n - 1]++;
        } else {
            s->values[s->n] = s_funkey(sorted[i]);
            s->counts[s->n] = 1;
            s->n++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = s_funkey(sorted[i]);
    }
    free(k);
    free(tmp);
    return 0;
}

/* The union of k summaries, by repeated two-way merges. */
int ch_gbt_summary_merge(const ch_gbt_summary *parts, size_t k, ch_gbt_summary *out)
{
    memset(out, 0, sizeof *out);
    size_t total = 0;
    for (size_t i = 0; i < k; i++) {
        total += parts[i].n;
    }
    out->values = malloc((total ? total : 1) * sizeof *out->values);
    out->counts = malloc((total ? total : 1) * sizeof *out->counts);
    float *tv = malloc((total ? total : 1) * sizeof *tv);
    uint64_t *tc = malloc((total ? total : 1) * sizeof *tc);
    if (!out->values || !out->counts || !tv || !tc) {
        free(tv);
        free(tc);
        ch_gbt_summary_free(out);
        return CH_ENOMEM;
    }
    for (size_t p = 0; p < k; p++) {
        const ch_gbt_summary *b = &parts[p];
        size_t i = 0, j = 0, n = 0;
        while (i < out->n || j < b->n) {
            if (j >= b->n || (i < out->n && out->values[i] < b->values[j])) {
                tv[n] = out->values[i];
                tc[n++] = out->counts[i++];
            } else if (i >= out->n || b->values[j] < out->values[i]) {
                tv[n] = b->values[j];
                tc[n++] = b->counts[j++];
            } else {
                tv[n] = out->values[i];
                tc[n++] = out->counts[i++] + b->counts[j++];
            }
        }
        memcpy(out->values, tv, n * sizeof *tv);
        memcpy(out->counts, tc, n * sizeof *tc);
        out->n = n;
    }
    free(tv);
    free(tc);
    return 0;
}

void ch_gbt_summary_free(ch_gbt_summary *s)
{
    if (!s) {
        return;
    }
    free(s->values);
    free(s->counts);
    memset(s, 0, sizeof *s);
}

/* Allocates the arrays for the given bin counts. */
int ch_gbt_cuts_alloc(ch_gbt_cuts *c, size_t n_features, const uint32_t *n_bins)
{
    memset(c, 0, sizeof *c);
    c->n_features = n_features;
    c->n_bins = malloc((n_features ? n_features : 1) * sizeof *c->n_bins);
    c->off = malloc((n_features + 1) * sizeof *c->off);
    c->hoff = malloc((n_features + 1) * sizeof *c->hoff);
    c->min_values = malloc((n_features ? n_features : 1) * sizeof *c->min_values);
    if (!c->n_bins || !c->off || !c->hoff || !c->min_values) {
        ch_gbt_cuts_free(c);
        return CH_ENOMEM;
    }
    c->off[0] = c->hoff[0] = 0;
    for (size_t f = 0; f < n_features; f++) {
        c->n_bins[f] = n_bins[f];
        c->off[f + 1] = c->off[f] + n_bins[f];
        c->hoff[f + 1] = c->hoff[f] + n_bins[f] + 1;
    }
    c->cuts = malloc((c->off[n_features] ? c->off[n_features] : 1) * sizeof *c->cuts);
    if (!c->cuts) {
        ch_gbt_cuts_free(c);
        return CH_ENOMEM;
    }
    return 0;
}

void ch_gbt_cuts_free(ch_gbt_cuts *c)
{
    if (!c) {
        return;
    }
    free(c->n_bins);
    free(c->off);
    free(c->hoff);
    free(c->cuts);
    free(c->min_values);
    memset(c, 0, sizeof *c);
}

/* Cut values of one feature into out (at most maxb); returns the count. */
static size_t s_feature_cuts(const ch_gbt_summary *s, size_t maxb, float *out, float *min_value)
{
    if (s->n == 0) {
        out[0] = 1e-5f;
        *min_value = -1e-5f;
        return 1;
    }
    float mn = s->values[0], mx = s->values[s->n - 1];
    *min_value = mn - (fabsf(mn) + 1e-5f);
    size_t k = 0;
    if (s->n <= maxb) {
        for (size_t i = 1; i < s->n; i++) {
            out[k++] = s->values[i];
        }
    } else {
        uint64_t total = 0;
        for (size_t i = 0; i < s->n; i++) {
            total += s->counts[i];
        }
        /* cut i at the first value whose rank reaches i * total / maxb */
        size_t j = 0;
        uint64_t before = 0;
        for (size_t i = 1; i < maxb; i++) {
            double target = (double)i * (double)total / (double)maxb;
            while (j < s->n && (double)before < target) {
                before += s->counts[j];
                j++;
            }
            if (j >= s->n) {
                break;
            }
            if (j > 0 && (k == 0 || s->values[j] > out[k - 1])) {
                out[k++] = s->values[j];
            }
        }
    }
    out[k++] = mx + (fabsf(mx) + 1e-5f);
    return k;
}

/* Cuts of every feature. */
int ch_gbt_cuts_build(ch_gbt_cuts *c, const ch_gbt_summary *per_feature, const bool *has_missing,
                      size_t n_features, long max_bin)
{
    uint32_t *nb = calloc(n_features ? n_features : 1, sizeof *nb);
    float *tmp = malloc(((size_t)max_bin + 1) * n_features * sizeof *tmp + sizeof *tmp);
    float *mins = malloc((n_features ? n_features : 1) * sizeof *mins);
    int rc = (!nb || !tmp || !mins) ? CH_ENOMEM : 0;
    for (size_t f = 0; rc == 0 && f < n_features; f++) {
        size_t maxb = (size_t)max_bin - (has_missing[f] && max_bin == 256 ? 1 : 0);
        nb[f] = (uint32_t)s_feature_cuts(&per_feature[f], maxb, tmp + f * ((size_t)max_bin + 1),
                                         &mins[f]);
    }
    if (rc == 0) {
        rc = ch_gbt_cuts_alloc(c, n_features, nb);
    }
    for (size_t f = 0; rc == 0 && f < n_features; f++) {
        memcpy(c->cuts + c->off[f], tmp + f * ((size_t)max_bin + 1), nb[f] * sizeof(float));
        c->min_values[f] = mins[f];
    }
    free(nb);
    free(tmp);
    free(mins);
    return rc;
}

/* upper_bound over the feature's cuts, clamped to the last bin. */
uint8_t ch_gbt_bin(const ch_gbt_cuts *c, size_t f, double x)
{
    uint32_t nb = c->n_bins[f];
    if (isnan(x)) {
        return (uint8_t)nb;
    }
    float v = (float)x;
    const float *cu = c->cuts + c->off[f];
    /* upper bound without data-dependent branches (conditional moves) */
    uint32_t lo = 0, len = nb;
    while (len > 0) {
        uint32_t half = len / 2;
        bool right = !(cu[lo + half] > v);
        lo = right ? lo + half + 1 : lo;
        len = right ? len - half - 1 : half;
    }
    return (uint8_t)(lo >= nb ? nb - 1 : lo);
}
