/* compress.c: fp16, bf16, int8 (per-tensor scale) and top-k (error
 * feedback) encodings of a model delta. Everything is little-endian. */
#include "algorithms/fedavg/compress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ch_fed_encoded_init(ch_fed_encoded *e)
{
    memset(e, 0, sizeof *e);
    ch_buf_init(&e->data);
    ch_buf_init(&e->indices);
}

void ch_fed_encoded_free(ch_fed_encoded *e)
{
    if (!e) {
        return;
    }
    ch_buf_free(&e->data);
    ch_buf_free(&e->indices);
    free(e->scales);
    memset(e, 0, sizeof *e);
}

static uint32_t s_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float s_float(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

uint16_t ch_fed_to_fp16(float x)
{
    uint32_t u = s_bits(x);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t exp = (u >> 23) & 0xffu;
    uint32_t man = u & 0x7fffffu;
    if (exp == 0xff) { /* inf or NaN */
        return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
    }
    int e = (int)exp - 127 + 15;
    if (e >= 31) {
        return (uint16_t)(sign | 0x7c00u); /* overflow to infinity */
    }
    if (e <= 0) { /* subnormal half or zero */
        if (e < -10) {
            return (uint16_t)sign;
        }
        man |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t h = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u))) {
            h++;
        }
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) {
        h++; /* may carry into the exponent: still right, up to infinity */
    }
    return (uint16_t)(sign | h);
}

float ch_fed_from_fp16(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0) {
        float v = ldexpf((float)man, -24);
        return sign ? -v : v;
    }
    if (exp == 31) {
        return s_float(sign | 0x7f800000u | (man << 13));
    }
    return s_float(sign | ((exp + 127 - 15) << 23) | (man << 13));
}

uint16_t ch_fed_to_bf16(float x)
{
    uint32_t u = s_bits(x);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu)) {
        return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float ch_fed_from_bf16(uint16_t h)
{
    return s_float((uint32_t)h << 16);
}

static void s_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static uint16_t s_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static void s_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t s_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

typedef struct s_mag {
    float a;
    uint32_t i;
} s_mag;

/* larger magnitude first, then lower position: a total order, so the
 * selection does not depend on qsort's algorithm */
static int s_mag_cmp(const void *pa, const void *pb)
{
    const s_mag *a = pa, *b = pb;
    if (a->a != b->a) {
        return a->a > b->a ? -1 : 1;
    }
    return a->i < b->i ? -1 : a->i > b->i ? 1 : 0;
}

static int s_u32_cmp(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return a < b ? -1 : a > b ? 1 : 0;
}

static int s_topk(float *delta, size_t n, double fraction, float *residual, ch_fed_encoded *out,
                  ch_err *err)
{
    size_t k = (size_t)ceil(fraction * (double)n);
    k = k < 1 ? 1 : k > n ? n : k;
    s_mag *m = ch_alloc_array(n, sizeof *m);
    uint32_t *pos = ch_alloc_array(k, sizeof *pos);
    if (!m || !pos || ch_buf_reserve(&out->data, k * 4) || ch_buf_reserve(&out->indices, k * 4)) {
        free(m);
        free(pos);
        return ch_err_set(err, CH_ENOMEM, "out of memory for top-%zu of %zu values", k, n);
    }
    for (size_t i = 0; i < n; i++) {
        if (residual) {
            delta[i] += residual[i];
        }
        m[i].a = fabsf(delta[i]);
        m[i].i = (uint32_t)i;
    }
    qsort(m, n, sizeof *m, s_mag_cmp);
    for (size_t j = 0; j < k; j++) {
        pos[j] = m[j].i;
    }
    free(m);
    qsort(pos, k, sizeof *pos, s_u32_cmp);
    if (residual) {
        memcpy(residual, delta, n * sizeof *residual);
    }
    for (size_t j = 0; j < k; j++) {
        s_put32(out->indices.data + 4 * j, pos[j]);
        s_put32(out->data.data + 4 * j, s_bits(delta[pos[j]]));
        if (residual) {
            residual[pos[j]] = 0; /* sent */
        }
    }
    out->indices.len = k * 4;
    out->data.len = k * 4;
    free(pos);
    return 0;
}

int ch_fed_encode(ch_fed_comp c, float *delta, size_t n, const size_t *tensor_end, size_t n_tensors,
                  double topk_fraction, float *residual, ch_fed_encoded *out, ch_err *err)
{
    out->enc = c;
    size_t width = c == CH_FED_COMP_NONE ? 4 : c == CH_FED_COMP_INT8 ? 1 : 2;
    if (c == CH_FED_COMP_TOPK) {
        return s_topk(delta, n, topk_fraction, residual, out, err);
    }
    if (ch_buf_reserve(&out->data, n * width + 1) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory encoding %zu values", n);
    }
    uint8_t *p = out->data.data;
    switch (c) {
    case CH_FED_COMP_NONE:
        for (size_t i = 0; i < n; i++) {
            s_put32(p + 4 * i, s_bits(delta[i]));
        }
        break;
    case CH_FED_COMP_FP16:
        for (size_t i = 0; i < n; i++) {
            s_put16(p + 2 * i, ch_fed_to_fp16(delta[i]));
        }
        break;
    case CH_FED_COMP_BF16:
        for (size_t i = 0; i < n; i++) {
            s_put16(p + 2 * i, ch_fed_to_bf16(delta[i]));
        }
        break;
    case CH_FED_COMP_INT8: {
        out->scales = ch_alloc_array(n_tensors ? n_tensors : 1, sizeof *out->scales);
        if (!out->scales) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        out->n_scales = n_tensors;
        size_t b = 0;
        for (size_t t = 0; t < n_tensors; t++) {
            size_t e = tensor_end[t];
            float amax = 0;
            for (size_t i = b; i < e; i++) {
                float a = fabsf(delta[i]);
                amax = a > amax ? a : amax;
            }
            float scale = amax / 127.0f;
            out->scales[t] = scale;
            for (size_t i = b; i < e; i++) {
                long q = scale > 0 ? lrintf(delta[i] / scale) : 0;
                q = q > 127 ? 127 : q < -127 ? -127 : q;
                p[i] = (uint8_t)(int8_t)q;
            }
            b = e;
        }
        break;
    }
    case CH_FED_COMP_TOPK:
        break;
    }
    out->data.len = n * width;
    return 0;
}

int ch_fed_view_check(const ch_fed_view *v, ch_err *err)
{
    size_t width;
    switch (v->enc) {
    case CH_FED_COMP_NONE:
        width = 4;
        break;
    case CH_FED_COMP_FP16:
    case CH_FED_COMP_BF16:
        width = 2;
        break;
    case CH_FED_COMP_INT8:
        width = 1;
        if (v->n_scales != v->n_tensors) {
            return ch_err_set(err, CH_EPROTO, "int8 update with %zu scales for %zu tensors",
                              v->n_scales, v->n_tensors);
        }
        break;
    case CH_FED_COMP_TOPK: {
        if (v->n_indices % 4 || v->data_len != v->n_indices || v->n_indices / 4 > v->n) {
            return ch_err_set(err, CH_EPROTO,
                              "top-k update with %zu index bytes and %zu value bytes for %zu "
                              "parameters",
                              v->n_indices, v->data_len, v->n);
        }
        size_t k = v->n_indices / 4;
        for (size_t j = 0; j < k; j++) {
            uint32_t p = s_get32(v->indices + 4 * j);
            if (p >= v->n || (j && p <= s_get32(v->indices + 4 * (j - 1)))) {
                return ch_err_set(err, CH_EPROTO,
                                  "top-k position %u (entry %zu) is out of range or not "
                                  "ascending",
                                  p, j);
            }
        }
        return 0;
    }
    default:
        return ch_err_set(err, CH_EPROTO, "unknown update encoding %d", (int)v->enc);
    }
    if (v->data_len != v->n * width) {
        return ch_err_set(err, CH_EPROTO, "update of %zu bytes; %s needs %zu for %zu parameters",
                          v->data_len, ch_fed_comp_names[v->enc], v->n * width, v->n);
    }
    return 0;
}

/* Position of the first top-k entry >= pos (binary search). */
static size_t s_topk_first(const ch_fed_view *v, size_t pos)
{
    size_t lo = 0, hi = v->n_indices / 4;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s_get32(v->indices + 4 * mid) < pos) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

void ch_fed_view_get(const ch_fed_view *v, size_t start, size_t count, float *out)
{
    const uint8_t *p = v->data;
    switch (v->enc) {
    case CH_FED_COMP_NONE:
        for (size_t i = 0; i < count; i++) {
            out[i] = s_float(s_get32(p + 4 * (start + i)));
        }
        break;
    case CH_FED_COMP_FP16:
        for (size_t i = 0; i < count; i++) {
            out[i] = ch_fed_from_fp16(s_get16(p + 2 * (start + i)));
        }
        break;
    case CH_FED_COMP_BF16:
        for (size_t i = 0; i < count; i++) {
            out[i] = ch_fed_from_bf16(s_get16(p + 2 * (start + i)));
        }
        break;
    case CH_FED_COMP_INT8: {
        size_t t = 0;
        while (t < v->n_tensors && v->tensor_end[t] <= start) {
            t++;
        }
        for (size_t i = 0; i < count; i++) {
            size_t pos = start + i;
            while (t + 1 < v->n_tensors && v->tensor_end[t] <= pos) {
                t++;
            }
            out[i] = (float)(int8_t)p[pos] * v->scales[t];
        }
        break;
    }
    case CH_FED_COMP_TOPK: {
        memset(out, 0, count * sizeof *out);
        size_t k = v->n_indices / 4;
        for (size_t j = s_topk_first(v, start); j < k; j++) {
            size_t pos = s_get32(v->indices + 4 * j);
            if (pos >= start + count) {
                break;
            }
            out[pos - start] = s_float(s_get32(p + 4 * j));
        }
        break;
    }
    }
}
