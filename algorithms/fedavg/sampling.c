/* sampling.c: client sampling from the seed (a partial Fisher-Yates
 * shuffle on the stream (seed, CH_STREAM_SAMPLE, round)). */
#include "algorithms/fedavg/sampling.h"
#include "common/rng.h"

#include <math.h>

size_t ch_fed_sample_count(size_t n_silos, double fraction)
{
    double m = ceil(fraction * (double)n_silos - 1e-9);
    size_t k = m < 1 ? 1 : (size_t)m;
    return k > n_silos ? n_silos : k;
}

size_t ch_fed_sample(uint64_t seed, uint32_t round, size_t n_silos, double fraction, bool *chosen,
                     size_t *idx)
{
    size_t k = ch_fed_sample_count(n_silos, fraction);
    for (size_t s = 0; s < n_silos; s++) {
        chosen[s] = k == n_silos;
        idx[s] = s;
    }
    if (k == n_silos) {
        return k;
    }
    ch_rng r;
    ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_SAMPLE, round));
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)ch_rng_below(&r, n_silos - i);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        chosen[idx[i]] = true;
    }
    return k;
}
