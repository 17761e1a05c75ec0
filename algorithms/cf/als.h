/* als.h: alternating least squares for explicit ratings (biased,
 * regularised: r ~ mu + b_u + b_i + x_u.y_i) and for implicit feedback
 * (Hu, Koren and Volinsky: preference p = [r > 0], confidence c = 1 + alpha
 * r, solved exactly or by a fixed number of warm-started conjugate-gradient
 * steps as the `implicit` package does).
 *
 * One iteration: every user's factors from the item factors (users sharded
 * across workers), then every item's factors from statistics summed over
 * users on the block tree (tree.h), so the result is the same for any
 * worker count. */
#ifndef CH_CF_ALS_H
#define CH_CF_ALS_H

#include "algorithms/cf/data.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct ch_als_params {
    size_t f;      /* factors */
    double lambda; /* regularization */
    double alpha;  /* implicit confidence slope */
    bool implicit;
    bool biased;   /* explicit only */
    long cg_steps; /* implicit: 0 = exact solve */
} ch_als_params;

/* Unknowns per row: f, plus the bias in biased explicit ALS. */
size_t ch_als_q(const ch_als_params *p);
/* Values per item in the summed statistics: q(q+1)/2 + q. */
size_t ch_als_stat_len(const ch_als_params *p);

/* YtY (f x f, row-major) of n rows of f factors (implicit only). */
void ch_als_gram(const double *Y, size_t n, size_t f, double *G);

/* Solves users [u0, u1) of by_user given item factors Y (n_items x f), item
 * biases bi and the global mean mu (explicit biased), G = YtY (implicit).
 * X (n_users x f, warm start for CG) and bu are written for those users.
 * Returns 0 or CH_ENOMEM. */
int ch_als_solve_users(const ch_als_params *p, const ch_cf_csr *by_user, size_t u0, size_t u1,
                       const double *Y, const double *bi, double mu, const double *G, double *X,
                       double *bu);

/* Adds users [u0, u1)'s contributions to the statistics of the items they
 * rated into acc (n_items x stat_len) and marks touched items. */
void ch_als_item_stats(const ch_als_params *p, const ch_cf_csr *by_user, size_t u0, size_t u1,
                       const double *X, const double *bu, double mu, double *acc);

/* Solves every item from its summed statistics (stats: item i at row
 * stat_row[i] or none when -1); G = XtX for implicit. Y (warm start) and bi
 * are written. Returns 0 or CH_ENOMEM. */
int ch_als_solve_items(const ch_als_params *p, size_t n_items, const long *stat_row,
                       const double *stats, const double *G, double *Y, double *bi);

#endif
