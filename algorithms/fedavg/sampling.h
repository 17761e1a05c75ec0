/* sampling.h: which silos take part in a round: ceil(fraction x silos) of
 * them drawn from (seed, round), independently of which are connected. */
#ifndef CH_FEDAVG_SAMPLING_H
#define CH_FEDAVG_SAMPLING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Silos asked per round: max(1, ceil(fraction * n_silos - 1e-9)). */
size_t ch_fed_sample_count(size_t n_silos, double fraction);

/* Sets chosen[0..n_silos) for round `round`: a uniform draw without
 * replacement of ch_fed_sample_count silos (all of them when fraction is
 * 1). Returns the count. idx is scratch for n_silos entries. This function
 * can't fail. */
size_t ch_fed_sample(uint64_t seed, uint32_t round, size_t n_silos, double fraction, bool *chosen,
                     size_t *idx);

#endif
