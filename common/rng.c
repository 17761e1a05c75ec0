/* rng.c: counter-based SplitMix64 streams (see rng.h). */
#include "common/rng.h"

#include <math.h>

static uint64_t s_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t ch_rng_stream(uint64_t kind, uint64_t index)
{
    return s_mix(kind * 0x9e3779b97f4a7c15ULL) ^ s_mix(index + 0x632be59bd9b4e019ULL);
}

void ch_rng_init(ch_rng *r, uint64_t seed, uint64_t stream)
{
    r->key = s_mix(s_mix(seed ^ 0x5851f42d4c957f2dULL) + stream);
    r->counter = 0;
    r->has_spare = 0;
    r->spare = 0;
}

uint64_t ch_rng_u64(ch_rng *r)
{
    r->counter++;
    return s_mix(r->key + r->counter * 0x9e3779b97f4a7c15ULL);
}

double ch_rng_uniform(ch_rng *r)
{
    return (double)(ch_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t ch_rng_below(ch_rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = ch_rng_u64(r);
    } while (x >= limit);
    return x % n;
}

double ch_rng_normal(ch_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * ch_rng_uniform(r) - 1.0;
        v = 2.0 * ch_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * log(s) / s);
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

double ch_rng_gamma(ch_rng *r, double shape)
{
    if (shape < 1.0) {
        /* Gamma(a) = Gamma(a + 1) * U^(1/a) */
        double u = ch_rng_uniform(r);
        return ch_rng_gamma(r, shape + 1.0) * pow(u > 0 ? u : 0x1.0p-53, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0;
    double c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = ch_rng_normal(r);
        double v = 1.0 + c * x;
        if (v <= 0) {
            continue;
        }
        v = v * v * v;
        double u = ch_rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) {
            return d * v;
        }
        if (u > 0 && log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) {
            return d * v;
        }
    }
}

uint64_t ch_rng_poisson(ch_rng *r, double lambda)
{
    if (lambda <= 0) {
        return 0;
    }
    if (lambda < 10.0) {
        double l = exp(-lambda), p = 1.0;
        uint64_t k = 0;
        do {
            k++;
            p *= ch_rng_uniform(r);
        } while (p > l);
        return k - 1;
    }
    /* PTRS, Hormann (1993) */
    double slam = sqrt(lambda), loglam = log(lambda);
    double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
        double u = ch_rng_uniform(r) - 0.5, v = ch_rng_uniform(r);
        double us = 0.5 - fabs(u);
        double k = floor((2 * a / us + b) * u + lambda + 0.43);
        if (us >= 0.07 && v <= vr) {
            return (uint64_t)k;
        }
        if (k < 0 || (us < 0.013 && v > us)) {
            continue;
        }
        if (log(v) + log(invalpha) - log(a / (us * us) + b) <=
            -lambda + k * loglam - lgamma(k + 1)) {
            return (uint64_t)k;
        }
    }
}

void ch_rng_shuffle(ch_rng *r, size_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ch_rng_below(r, i);
        size_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}
