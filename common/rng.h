/* rng.h: counter-based random streams derived from (seed, stream id).
 *
 * Every random stream in cohort (a worker, a tree, a round, a rollout) is
 * ch_rng_init(&r, experiment_seed, stream_id): the same seed and id give the
 * same numbers whichever process or thread draws them, so results do not
 * depend on scheduling or on the number of workers. The generator is
 * SplitMix64 over a counter keyed by a hash of (seed, stream). */
#ifndef CH_RNG_H
#define CH_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct ch_rng {
    uint64_t key;
    uint64_t counter;
    double spare; /* cached second normal deviate */
    int has_spare;
} ch_rng;

/* Stream ids are built by the caller from named parts, e.g.
 * ch_rng_stream(CH_STREAM_TREE, tree_index). */
uint64_t ch_rng_stream(uint64_t kind, uint64_t index);
void ch_rng_init(ch_rng *r, uint64_t seed, uint64_t stream);
uint64_t ch_rng_u64(ch_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double ch_rng_uniform(ch_rng *r);
/* Uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t ch_rng_below(ch_rng *r, uint64_t n);
double ch_rng_normal(ch_rng *r);
/* Gamma(shape, 1) by Marsaglia-Tsang; shape > 0. */
double ch_rng_gamma(ch_rng *r, double shape);
/* Poisson(lambda) (inversion for small lambda, PTRS above 10). */
uint64_t ch_rng_poisson(ch_rng *r, double lambda);
/* Fisher-Yates shuffle of n size_t values. */
void ch_rng_shuffle(ch_rng *r, size_t *v, size_t n);

/* Stream kinds: keep them distinct so streams never collide. */
enum {
    CH_STREAM_SPLIT = 1,     /* train/test split */
    CH_STREAM_PARTITION = 2, /* shard plan */
    CH_STREAM_WORKER = 3,
    CH_STREAM_TREE = 4,
    CH_STREAM_ROUND = 5,
    CH_STREAM_ROLLOUT = 6,
    CH_STREAM_INIT = 7,  /* model initialisation */
    CH_STREAM_SAMPLE = 8, /* client sampling, subsampling */
    CH_STREAM_NOISE = 9,  /* differential-privacy noise */
    CH_STREAM_SWEEP = 10,
    CH_STREAM_ALGO = 16, /* algorithms may use CH_STREAM_ALGO + k */
};

#endif
