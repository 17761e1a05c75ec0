/* strategy.h: the server side of each strategy.
 *
 * Streaming strategies (fedavg, fedprox, fedavgm, fedadagrad, fedadam,
 * fedyogi) see only the sample-weighted mean of the round's deltas, summed
 * as they arrive in fixed point (int64, CH_FED_FIX_BITS fractional bits),
 * so the sum is exact and does not depend on arrival order; the server then
 * steps the global model with that mean as its pseudo-gradient (Reddi et
 * al., "Adaptive Federated Optimization", 2021). Robust strategies
 * (median, trimmed_mean, krum, multikrum) need every update of a round at
 * once: the coordinator buffers those, one per silo, in silo order. */
#ifndef CH_FEDAVG_STRATEGY_H
#define CH_FEDAVG_STRATEGY_H

#include "algorithms/fedavg/params.h"

#include <stddef.h>
#include <stdint.h>

#define CH_FED_FIX_BITS 24

/* Largest |delta x samples| an update may carry when n_silos updates are
 * summed in int64 fixed point (so the sum cannot overflow). */
double ch_fed_fix_limit(size_t n_silos);

/* Adds delta[i] * weight into acc[i] in fixed point. The caller checked
 * |delta[i] * weight| < ch_fed_fix_limit. This function can't fail. */
void ch_fed_fix_add(int64_t *acc, const float *delta, size_t n, double weight);

/* Server update of the global model w[n] from the mean delta
 * d[i] = acc[i] / 2^CH_FED_FIX_BITS / denom (acc may be NULL: then
 * d = delta). m and v are the server's moment buffers (NULL when the
 * strategy has none); t is the 1-based server step. This function can't
 * fail. */
/* The server learning rate of round t (1-based) of p->rounds: server_lr,
 * or under the cosine schedule server_lr * (1 + cos(pi (t - 1) / T)) / 2,
 * server_lr in round 1 falling to near 0 in round T (a t past T gets
 * round T's rate). */
double ch_fed_server_lr(const ch_fed_params *p, long t);

void ch_fed_server_step(const ch_fed_params *p, float *w, float *m, float *v, const int64_t *acc,
                        double denom, const float *delta, size_t n, long t);

/* Moment buffers the strategy keeps (0: none, 1: m, 2: m and v). */
int ch_fed_server_moments(ch_fed_strategy s);

/* Robust aggregate of k updates ups[j][n] (silo order) into out[n]:
 * coordinate-wise median, trimmed mean (p->trim cut at each end), Krum
 * (the update closest to its k - f - 2 nearest) or multi-Krum (the mean of
 * the krum_m best, default k - f). chosen[k] receives which updates were
 * used. scratch holds k * k + k doubles. This function can't
 * fail. */
void ch_fed_robust(const ch_fed_params *p, float *const *ups, size_t k, size_t n, float *out,
                   bool *chosen, double *scratch);

#endif
