/* half.c: bf16/fp16 conversions (round to nearest even) and array helpers. */
#include "algorithms/mlp/half.h"

#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define S_HAVE_F16C 1

/* The F16C instructions convert 8 values at a time with the same rounding
 * (to nearest even, subnormals kept); used when the CPU has them. */
__attribute__((target("avx,f16c"))) static size_t s_f16c_store(uint16_t *dst, const float *src,
                                                               size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128((__m128i *)(void *)(dst + i), h);
    }
    return i;
}

__attribute__((target("avx,f16c"))) static size_t s_f16c_load(float *dst, const uint16_t *src,
                                                              size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    return i;
}

/* CPUID leaf 1: F16C (ecx bit 29), AVX (28), OSXSAVE (27), and the OS
 * saving the YMM registers (XCR0 bits 1-2). Asked once: the answer is a
 * fact of the machine, so the cache is not mutable state in any useful
 * sense, and two threads racing to fill it write the same value. (clang 14
 * does not know "f16c" in __builtin_cpu_supports.) */
static bool s_f16c(void)
{
    static int known = -1;
    if (known < 0) {
        unsigned a, b, c, d, lo = 0, hi = 0;
        bool ok = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) && (c & (1u << 28)) &&
                  (c & (1u << 27));
        if (ok) {
            __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
            ok = (lo & 6u) == 6u;
        }
        (void)hi;
        known = ok;
    }
    return known == 1;
}
#endif

const char *const ch_precision_names[] = {"fp32", "bf16", "fp16", NULL};

size_t ch_precision_bytes(ch_precision p)
{
    return p == CH_PREC_FP32 ? 4 : 2;
}

static uint32_t s_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float s_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Adds half an ulp of bf16 (minus one when the kept bit is even), so the
 * truncation rounds to nearest with ties to even; the carry may reach the
 * exponent, which is the right result (up to infinity). */
uint16_t ch_bf16_from_f32(float f)
{
    uint32_t u = s_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN, sign kept */
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float ch_bf16_to_f32(uint16_t h)
{
    return s_float((uint32_t)h << 16);
}

uint16_t ch_fp16_from_f32(float f)
{
    uint32_t x = s_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x >= 0x7f800000u) {
        return (uint16_t)(sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u));
    }
    if (x >= 0x477ff000u) { /* 65520 and above round to infinity */
        return (uint16_t)(sign | 0x7c00u);
    }
    uint32_t e = x >> 23, m = x & 0x7fffffu;
    if (e < 113) { /* below 2^-14: a subnormal half (or zero) */
        if (e < 102) {
            return sign; /* below 2^-25, which itself ties to zero */
        }
        m |= 0x800000u;
        uint32_t shift = 126 - e, r = m >> shift, rem = m & ((1u << shift) - 1);
        uint32_t halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (r & 1u))) {
            r++;
        }
        return (uint16_t)(sign | r);
    }
    uint32_t u = ((e - 112) << 10) | (m >> 13), rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (u & 1u))) {
        u++;
    }
    return (uint16_t)(sign | u);
}

float ch_fp16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) {
        return s_float(sign | 0x7f800000u | (m << 13));
    }
    if (e == 0) { /* zero or subnormal: m * 2^-24 */
        float v = (float)m * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return s_float(sign | ((e + 112) << 23) | (m << 13));
}

void ch_half_store(ch_precision p, uint16_t *dst, const float *src, size_t n)
{
    if (p == CH_PREC_BF16) {
        for (size_t i = 0; i < n; i++) {
            dst[i] = ch_bf16_from_f32(src[i]);
        }
    } else {
        size_t i = 0;
#ifdef S_HAVE_F16C
        i = s_f16c() ? s_f16c_store(dst, src, n) : 0;
#endif
        for (; i < n; i++) {
            dst[i] = ch_fp16_from_f32(src[i]);
        }
    }
}

void ch_half_load(ch_precision p, float *dst, const uint16_t *src, size_t n)
{
    if (p == CH_PREC_BF16) {
        for (size_t i = 0; i < n; i++) {
            dst[i] = ch_bf16_to_f32(src[i]);
        }
    } else {
        size_t i = 0;
#ifdef S_HAVE_F16C
        i = s_f16c() ? s_f16c_load(dst, src, n) : 0;
#endif
        for (; i < n; i++) {
            dst[i] = ch_fp16_to_f32(src[i]);
        }
    }
}

void ch_half_round(ch_precision p, float *x, size_t n)
{
    if (p == CH_PREC_BF16) {
        for (size_t i = 0; i < n; i++) {
            x[i] = ch_bf16_to_f32(ch_bf16_from_f32(x[i]));
        }
    } else if (p == CH_PREC_FP16) {
        uint16_t h[256];
        for (size_t i = 0; i < n; i += 256) {
            size_t m = n - i < 256 ? n - i : 256;
            ch_half_store(p, h, x + i, m);
            ch_half_load(p, x + i, h, m);
        }
    }
}

/* Byte by byte, so the wire format is little-endian on any host. */
void ch_half_pack(ch_precision p, uint8_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p == CH_PREC_FP32) {
            uint32_t u = s_bits(src[i]);
            for (int b = 0; b < 4; b++) {
                dst[4 * i + (size_t)b] = (uint8_t)(u >> (8 * b));
            }
        } else {
            uint16_t h = p == CH_PREC_BF16 ? ch_bf16_from_f32(src[i]) : ch_fp16_from_f32(src[i]);
            dst[2 * i] = (uint8_t)h;
            dst[2 * i + 1] = (uint8_t)(h >> 8);
        }
    }
}

void ch_half_unpack(ch_precision p, float *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p == CH_PREC_FP32) {
            uint32_t u = 0;
            for (int b = 0; b < 4; b++) {
                u |= (uint32_t)src[4 * i + (size_t)b] << (8 * b);
            }
            dst[i] = s_float(u);
        } else {
            uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
            dst[i] = p == CH_PREC_BF16 ? ch_bf16_to_f32(h) : ch_fp16_to_f32(h);
        }
    }
}
