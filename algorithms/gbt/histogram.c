/* histogram.c: gradient/hessian histograms of tree nodes in int64 fixed
 * point (exact, associative sums: the same for any shard layout), and their
 * lossless wire encoding. */
#include "algorithms/gbt/gbt.h"

#include <string.h>

/* Features per pass: a block's slots (about 64 x 257 pairs, 263 KB) stay in
 * the L2 cache while the node's rows stream through it. */
#define S_FEATURE_BLOCK 64

/* Row-wise accumulation, one block of features at a time. */
void ch_gbt_hist_build(int64_t *hist, const ch_gbt_cuts *c, const uint8_t *bins,
                       const int32_t *rows, size_t n, const int64_t *g, const int64_t *h)
{
    size_t F = c->n_features;
    const size_t *hoff = c->hoff;
    for (size_t f0 = 0; f0 < F; f0 += S_FEATURE_BLOCK) {
        size_t f1 = f0 + S_FEATURE_BLOCK < F ? f0 + S_FEATURE_BLOCK : F;
        for (size_t k = 0; k < n; k++) {
            size_t r = (size_t)rows[k];
            int64_t gr = g[r], hr = h[r];
            if (gr == 0 && hr == 0) {
                continue;
            }
            const uint8_t *b = bins + r * F;
            for (size_t f = f0; f < f1; f++) {
                int64_t *e = hist + 2 * (hoff[f] + b[f]);
                e[0] += gr;
                e[1] += hr;
            }
        }
    }
}

/* Sibling = parent - built child. */
void ch_gbt_hist_sub(int64_t *out, const int64_t *parent, const int64_t *child, size_t len)
{
    for (size_t i = 0; i < 2 * len; i++) {
        out[i] = (int64_t)((uint64_t)parent[i] - (uint64_t)child[i]);
    }
}

static uint8_t *s_put(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

/* Reads one varint; NULL when it runs past end or is too long. */
static const uint8_t *s_get(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned sh = 0; sh < 64; sh += 7) {
        if (p >= end) {
            return NULL;
        }
        uint8_t b = *p++;
        x |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) {
            *v = x;
            return p;
        }
    }
    return NULL;
}

/* Runs of empty slots as one count, other slots as zigzag g and h. */
size_t ch_gbt_hist_encode(const int64_t *hist, size_t len, uint8_t *out)
{
    uint8_t *o = out;
    size_t i = 0;
    while (i < len) {
        size_t z = i;
        while (z < len && hist[2 * z] == 0 && hist[2 * z + 1] == 0) {
            z++;
        }
        o = s_put(o, (uint64_t)(z - i));
        i = z;
        if (i == len) {
            break;
        }
        uint64_t g = (uint64_t)hist[2 * i], h = (uint64_t)hist[2 * i + 1];
        o = s_put(o, (g << 1) ^ (uint64_t)(hist[2 * i] < 0 ? -1 : 0));
        o = s_put(o, (h << 1) ^ (uint64_t)(hist[2 * i + 1] < 0 ? -1 : 0));
        i++;
    }
    return (size_t)(o - out);
}

/* Decodes one histogram and adds it (mod 2^64) to acc. */
const uint8_t *ch_gbt_hist_decode_add(uint64_t *acc, size_t len, const uint8_t *in,
                                      const uint8_t *end)
{
    size_t i = 0;
    const uint8_t *p = in;
    while (i < len) {
        uint64_t z, g, h;
        if (!(p = s_get(p, end, &z)) || z > len - i) {
            return NULL;
        }
        i += (size_t)z;
        if (i == len) {
            break;
        }
        if (!(p = s_get(p, end, &g)) || !(p = s_get(p, end, &h))) {
            return NULL;
        }
        acc[2 * i] += (g >> 1) ^ (0 - (g & 1));
        acc[2 * i + 1] += (h >> 1) ^ (0 - (h & 1));
        i++;
    }
    return p;
}
