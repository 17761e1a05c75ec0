/* glm.h: generalized linear models (binomial with the logit link, Poisson
 * with the log link) fitted by distributed iteratively reweighted least
 * squares, the algorithm of R's glm.fit, step for step.
 *
 * A round evaluates one state (R's starting values, or coefficients beta)
 * on every row: the working weights and response, then the TSQR factor of
 * [sqrt(W) X, sqrt(W) z] (qr.h) and a few sums (deviance, log-likelihood,
 * sums for the null deviance), all reduced over the fixed block tree
 * (common/reduce.h). The coordinator checks R's convergence test on the
 * deviance and solves the weighted least squares problem for the next
 * coefficients with R's pivoting tolerance, so the iterates, the number of
 * Fisher scoring iterations and the covariance are R's. Only sums and
 * triangular factors leave a worker. */
#ifndef CH_LINEAR_GLM_H
#define CH_LINEAR_GLM_H

#include "algorithms/linear/design.h"
#include "algorithms/linear/qr.h"
#include "common/err.h"
#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CH_GLM_BINOMIAL = 0, CH_GLM_POISSON = 1 } ch_glm_family;

/* The sums at the front of a node, before the QR node of qr.h. */
enum {
    CH_GLM_DEV = 0,   /* sum of deviance residuals */
    CH_GLM_LOGLIK,    /* log-likelihood */
    CH_GLM_SWY,       /* sum w y */
    CH_GLM_SW,        /* sum w */
    CH_GLM_SWYLOGY,   /* sum w y log y (Poisson null deviance) */
    CH_GLM_NBOUNDARY, /* rows with mu numerically at the boundary */
    CH_GLM_NROWS,     /* rows used */
    CH_GLM_NSTATS
};

/* Length of a node for p design columns. */
size_t ch_glm_node_len(size_t p);

/* combine function for reduce.h: ctx is a size_t* holding p + 1. */
void ch_glm_combine(void *ctx, size_t len, const double *left, const double *right, double *out);

/* Scratch space for leaves (reused between blocks). */
typedef struct ch_glm_ws {
    double *a;
    size_t a_rows;
    size_t *keep;
    double *row;
} ch_glm_ws;
void ch_glm_ws_free(ch_glm_ws *ws);

/* The leaf of rows[0..n) of t: beta NULL evaluates R's starting values
 * (mustart), otherwise the coefficients beta (p, aliased ones 0). Rows with
 * a missing value or a weight <= 0 are skipped. A binomial target is the
 * categorical code 0/1; a Poisson target must be >= 0 (CH_EINVAL naming the
 * row otherwise). node gets ch_glm_node_len(d->p) doubles. */
int ch_glm_leaf(ch_glm_family fam, const ch_design *d, const ch_table *t, const size_t *rows,
                size_t n, const double *beta, ch_glm_ws *ws, double *node, ch_err *err);

/* The deviance residuals sign(y - mu) sqrt(d_i) (R's residuals.glm) of
 * rows[0..n) of t at the coefficients beta (p, aliased ones 0) into e, for
 * the rows ch_glm_leaf uses; x is p doubles of scratch. Returns the number
 * written. This function can't fail. */
size_t ch_glm_devres(ch_glm_family fam, const ch_design *d, const ch_table *t, const size_t *rows,
                     size_t n, const double *beta, double *x, double *e);

/* The rows of one block for the sandwich (robust.h) of a converged fit, as
 * sandwich::vcovHC sees a glm: the working weights W and the triangular
 * factor are those of the last IRLS solve, taken at beta_prev (NULL: at
 * R's starting values), the working residuals those of the final beta.
 * Writes sqrt(W) x of each used row into a (n x p of room; on return the
 * leading dimension is the number of rows written) and
 * sqrt(W) (y - mu) / mu_eta into e, so that e^2 a a' is the row's term of
 * the meat and a' C a its leverage. Returns the rows written. This
 * function can't fail. */
size_t ch_glm_hc_rows(ch_glm_family fam, const ch_design *d, const ch_table *t, const size_t *rows,
                      size_t n, const double *beta, const double *beta_prev, double *a, double *e);

/* The coordinator's iteration state. */
typedef struct ch_glm_iter {
    ch_glm_family fam;
    size_t p;
    bool intercept;
    double tol;        /* R's epsilon: |dev - devold| / (|dev| + 0.1) < tol */
    uint32_t max_iter; /* R's maxit */
    bool start;        /* the next evaluation is of the starting values */
    bool done, converged;
    uint32_t iter;     /* least squares solves so far */
    uint32_t halvings; /* step halvings of the current iteration */
    double *beta;      /* p: the coefficients being evaluated (NaN where aliased) */
    double *beta_prev; /* p: the last accepted coefficients */
    ch_ols fit;        /* the solve that produced beta (its covariance) */
    double devold;
    double null_deviance;
    double stats[CH_GLM_NSTATS]; /* sums at the last accepted evaluation */
    double *path;                /* deviance per evaluated iterate */
    size_t n_path;
} ch_glm_iter;

/* Sets up the iteration. Returns 0 or CH_ENOMEM. */
int ch_glm_iter_init(ch_glm_iter *it, ch_glm_family fam, size_t p, bool intercept, double tol,
                     uint32_t max_iter);
void ch_glm_iter_free(ch_glm_iter *it);

/* Consumes the root of the evaluation round (ch_glm_node_len doubles):
 * checks convergence, halves a step whose deviance is not finite, or solves
 * for the next coefficients. it->done is set when finished. Errors: no
 * rows, a deviance that stays infinite. */
int ch_glm_iter_step(ch_glm_iter *it, const double *root, ch_err *err);

/* The coefficients of the next evaluation for a leaf (aliased as 0) into
 * out[p]; returns false when the next evaluation is of the starting
 * values. */
bool ch_glm_iter_beta(const ch_glm_iter *it, double *out);

#endif
