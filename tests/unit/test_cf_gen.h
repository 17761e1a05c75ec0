/* test_cf_gen.h: a deterministic ratings generator with planted structure
 * for the cf tests, examples and benchmarks (no ratings data set ships with
 * Debian): users and items fall in `groups` clusters; a user rates mostly
 * items of its own cluster; rating = round(3 + user bias + item bias +
 * 1.5 * [same cluster] - 0.5 * [other cluster] + noise) clipped to 1..5;
 * timestamps increase per user. Writes user,item,rating,timestamp CSV. */
#ifndef CH_TEST_CF_GEN_H
#define CH_TEST_CF_GEN_H

#include "common/rng.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void cf_gen(FILE *out, size_t n_users, size_t n_items, size_t per_user, size_t groups,
                   uint64_t seed)
{
    ch_rng r;
    ch_rng_init(&r, seed, 99);
    double *ib = malloc(n_items * sizeof *ib);
    uint8_t *seen = calloc(n_items, 1);
    size_t *mine = malloc(per_user * 2 * sizeof *mine);
    for (size_t i = 0; i < n_items; i++) {
        ib[i] = 0.5 * ch_rng_normal(&r);
    }
    fprintf(out, "user,item,rating,timestamp\n");
    size_t per_group = n_items / groups;
    for (size_t u = 0; u < n_users; u++) {
        size_t g = u % groups;
        double ub = 0.4 * ch_rng_normal(&r);
        size_t m = per_user / 2 + ch_rng_below(&r, per_user + 1);
        size_t n = 0;
        for (size_t tries = 0; n < m && tries < 50 * m; tries++) {
            size_t i;
            if (ch_rng_uniform(&r) < 0.8) {
                i = g * per_group + ch_rng_below(&r, per_group);
            } else {
                i = ch_rng_below(&r, n_items);
            }
            if (!seen[i]) {
                seen[i] = 1;
                mine[n++] = i;
            }
        }
        for (size_t k = 0; k < n; k++) {
            size_t i = mine[k];
            seen[i] = 0;
            double same = i / per_group == g ? 1.5 : -0.5;
            double v = round(3 + ub + ib[i] + same + 0.5 * ch_rng_normal(&r));
            v = v < 1 ? 1 : (v > 5 ? 5 : v);
            fprintf(out, "%zu,%zu,%.0f,%zu\n", u + 1, i + 1, v, 1000000 + u * 7 + k * 60);
        }
    }
    free(ib);
    free(seen);
    free(mine);
}

#endif
