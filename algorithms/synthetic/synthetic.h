/* synthetic.h: the differentially private synthetic-data generator's parts
 * (MST mechanism of McKenna, Miklau and Sheldon 2021): zCDP accounting,
 * discretisation, Gaussian measurement of marginals, the private selection
 * of a maximum spanning tree, consistency of the noisy marginals, sampling
 * along the tree, and the model. Each part has its own .c file. */
#ifndef CH_SYNTHETIC_H
#define CH_SYNTHETIC_H

#include "common/buf.h"
#include "common/err.h"
#include "common/report.h"
#include "common/rng.h"
#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Stream kinds (common/rng.h allows CH_STREAM_ALGO + k). Noise draws use
 * CH_STREAM_NOISE with an index per measurement below. */
enum {
    CH_SYN_NOISE_BOUNDS = 1,  /* + column */
    CH_SYN_NOISE_ONEWAY = 2,  /* one stream for every one-way marginal */
    CH_SYN_NOISE_SELECT = 3,  /* the exponential mechanism */
    CH_SYN_NOISE_PAIRS = 4,   /* the selected two-way marginals */
    CH_SYN_STREAM_SAMPLE = 1, /* CH_STREAM_ALGO + 1: sampling rows */
    CH_SYN_STREAM_EVAL = 2,   /* CH_STREAM_ALGO + 2: the sample evaluate() draws */
    CH_SYN_STREAM_PRIV = 3,   /* CH_STREAM_ALGO + 3: the sample the privacy figures use */
};

#define CH_SYN_MAX_COLS   512
#define CH_SYN_MAX_LEVELS 4096
#define CH_SYN_MAX_BINS   1024
/* The private coarse range of a numeric column: cells for signed powers of two
 * 2^k, k in [CH_SYN_MAG_LO, CH_SYN_MAG_HI), and one for zero. */
#define CH_SYN_MAG_LO    (-16)
#define CH_SYN_MAG_HI    48
#define CH_SYN_MAG_CELLS (2 * (CH_SYN_MAG_HI - CH_SYN_MAG_LO) + 1)

/* --- accounting (accountant.c) ---------------------------------------------- */

/* The smallest epsilon such that rho-zCDP implies (epsilon, delta)-DP, by
 * the conversion of Canonne, Kamath and Steinke (2020, Prop. 12):
 * inf over alpha > 1 of rho*alpha + (log(1/delta) + (alpha-1) log(1-1/alpha)
 * - log(alpha)) / (alpha-1). rho >= 0, 0 < delta < 1. Can't fail. */
double ch_syn_cdp_eps(double rho, double delta);
/* The largest rho whose conversion is at most epsilon (bisection on
 * ch_syn_cdp_eps, relative precision 1e-12). epsilon > 0. */
double ch_syn_cdp_rho(double epsilon, double delta);
/* Standard deviation of Gaussian noise giving rho-zCDP for a query of L2
 * sensitivity `sens`: sigma = sens / sqrt(2 rho). */
double ch_syn_gauss_sigma(double rho, double sens);
/* Epsilon of an exponential mechanism that is rho-zCDP (bounded range,
 * Cesar and Rogers 2021: epsilon-DP EM is epsilon^2/8-zCDP). */
double ch_syn_em_eps(double rho);

/* --- the domain (discretize.c) ------------------------------------------------- */

typedef struct ch_syn_col {
    char *name;
    ch_col_kind kind;
    size_t n_levels; /* categorical */
    char **levels;
    double lo, hi; /* numeric: the range the bins cut (values outside are clamped) */
    uint32_t bins; /* numeric */
    bool given;    /* numeric: bounds given by the user (else found privately) */
    bool integer;  /* numeric: decoded values are rounded */
    bool missing;  /* one more cell for missing values */
    size_t size;   /* cells: levels or bins, + 1 when missing */
} ch_syn_col;

typedef struct ch_syn_domain {
    size_t n_cols;
    ch_syn_col *cols;
    long target; /* index of the data's target column in cols, or -1 */
} ch_syn_domain;

void ch_syn_domain_free(ch_syn_domain *d);
/* Deep copy; 0 or CH_ENOMEM. */
int ch_syn_domain_copy(ch_syn_domain *dst, const ch_syn_domain *src);
/* Sets size from kind, levels/bins and missing. */
void ch_syn_col_size(ch_syn_col *c);
/* Cell of value v in column c (NaN: the missing cell, or the last cell when
 * the column has none; numeric values outside [lo, hi] are clamped). */
uint32_t ch_syn_cell(const ch_syn_col *c, double v);
/* A value for cell k of column c: the level code, or uniform in the numeric
 * bin (rounded for integer columns); NaN for the missing cell. */
double ch_syn_decode(const ch_syn_col *c, uint32_t k, ch_rng *r);
/* Coarse cell of x in the signed powers-of-two grid (CH_SYN_MAG_CELLS). */
uint32_t ch_syn_mag_cell(double x);
/* From a noisy count per magnitude cell: the range [lo, hi] spanned by the
 * cells whose count exceeds `threshold`. false when none does. */
bool ch_syn_mag_range(const double *noisy, double threshold, double *lo, double *hi);

/* --- measurement (measure.c) ----------------------------------------------- */

/* A candidate pair (a < b) and the offset of its a x b table (row-major,
 * a's cell the row) in the count vector. */
typedef struct ch_syn_pair {
    uint32_t a, b;
    size_t off;
} ch_syn_pair;

/* The layout of a count vector: one-way tables of every column, then the
 * candidate pairs' tables. */
typedef struct ch_syn_layout {
    size_t n_cols;
    size_t *one_off; /* n_cols + 1 offsets */
    size_t n_pairs;
    ch_syn_pair *pairs;
    size_t len;
} ch_syn_layout;

/* Layout over the domain: pairs with at most max_cells cells are
 * candidates. 0, CH_ENOMEM, or CH_EINVAL when the vector would exceed
 * max_len doubles. */
int ch_syn_layout_make(const ch_syn_domain *d, size_t max_cells, size_t max_len, ch_syn_layout *out,
                       ch_err *err);
void ch_syn_layout_free(ch_syn_layout *l);
/* Adds the counts of rows[0..n) of t (NULL rows: rows 0..n) into out[len].
 * Column j of the domain is t's feature j, or t's target for d->target. */
void ch_syn_count(const ch_syn_domain *d, const ch_syn_layout *l, const ch_table *t,
                  const size_t *rows, size_t n, double *out);
/* Adds N(0, sigma^2) to x[0..n) from r. */
void ch_syn_gauss(double *x, size_t n, double sigma, ch_rng *r);

/* --- selection (select.c) -------------------------------------------------- */

/* L1 sensitivity of the selection score: one row added or removed moves
 * one count of the table by 1 and the outer product of its margins divided
 * by the total by less than 3 in L1. */
#define CH_SYN_SELECT_SENS 4.0

/* The exponential mechanism over a maximum spanning tree (MST's
 * selection): up to n_cols - 1 steps, each picks among the candidate pairs
 * joining two components with probability proportional to
 * exp(eps_step * score / (2 * CH_SYN_SELECT_SENS)), score the L1 distance
 * between the pair's true counts and the outer product of their margins
 * over their total, less a data-independent offset (the L1 that sampling
 * gives an independent table of that shape, from the noisy one-way
 * probabilities `p` (layout one_off) and the noisy total). counts: exact
 * counts (layout). The first n_focus steps pick only among the pairs of
 * column `focus` (the target's neighbours first; fewer steps when it has
 * fewer pairs). Writes the chosen pair indices to chosen[] and returns how
 * many, or CH_ENOMEM (negative). */
long ch_syn_select(const ch_syn_layout *l, const double *counts, const double *p, double total,
                   double eps_step, long focus, size_t n_focus, ch_rng *r, uint32_t *chosen);

/* --- consistency (consistency.c) --------------------------------------------- */

/* Euclidean projection of x[0..n) onto {y >= 0, sum y = total}. Can't fail. */
void ch_syn_project_simplex(double *x, size_t n, double total);
/* Iterative proportional fitting of the ra x rb table t (non-negative) to
 * the row sums r and column sums c (which sum to the same total); a floor
 * keeps rows and columns with mass from being stuck at zero. */
void ch_syn_ipf(double *t, size_t ra, size_t rb, const double *r, const double *c, int iters);

/* --- the model (model.c) ------------------------------------------------------ */

typedef struct ch_syn_edge {
    uint32_t a, b; /* columns, a < b */
    double *joint; /* size_a x size_b, consistent counts */
} ch_syn_edge;

typedef struct ch_syn_budget {
    double epsilon, delta, rho;
    double rho_bounds, rho_oneway, rho_select, rho_pairs;
    double sigma_bounds, sigma_oneway, sigma_pairs, eps_select;
    uint32_t n_bounds, n_oneway, n_select, n_pairs; /* measurements */
    bool federated; /* noise added by each silo (per-silo guarantee) */
} ch_syn_budget;

/* The privacy figures (privacy.c): each real row's distance to the closest
 * synthetic row, training rows against held-out rows; NaN when not computed. */
typedef struct ch_syn_privacy {
    double n_synthetic, n_train, n_holdout; /* rows compared */
    double exact_train, exact_holdout;      /* share of rows at distance 0 */
    double dcr_train_p05, dcr_train_median, dcr_holdout_p05, dcr_holdout_median;
    double mia_auc; /* AUC of -DCR as a member score: 0.5 = no better than chance */
} ch_syn_privacy;

/* A logistic regression fitted on some rows and scored on held-out real
 * rows (utility.c); NaN / done false when not computed. */
typedef struct ch_syn_fit {
    bool done;
    size_t k;                   /* classes */
    double n_train;             /* rows fitted */
    double auc, accuracy;       /* AUC for two classes */
    double *recall, *precision; /* per class, k each */
} ch_syn_fit;

/* What a model trained on the release is worth: on the real training rows
 * (simulation only), on the synthetic plain rows, on the real rows plus the
 * augmented ones (simulation), on every row of data.csv. */
typedef struct ch_syn_utility {
    ch_syn_fit real, synth, real_aug, synth_aug;
} ch_syn_utility;

typedef struct ch_syn_model {
    ch_syn_domain dom;
    double total;    /* the noisy row count */
    double **oneway; /* per column: consistent counts (size cells) */
    size_t n_edges;
    ch_syn_edge *edges;
    ch_syn_budget budget;
    uint64_t seed;
    uint64_t rows;     /* rows in data.csv (besides the augmented ones) */
    long aug_col;      /* column of the augmented class, -1 for none */
    uint32_t aug_cell; /* its cell */
    uint64_t aug_rows;
    /* quality against held-out rows (finalize), NaN when not computed */
    double *tv; /* per column: total-variation distance of one-way marginals */
    double *ks; /* per column: Kolmogorov-Smirnov distance (numeric), NaN else */
    double mean_tv, max_tv, corr_diff, test_auc, test_accuracy, n_test;
    uint32_t stage; /* 0 bounds pending, 1 domain set, 2 fitted */
    double *prop;   /* NULL, or per level of aug_col: the share of the plain rows */
    /* the reports' privacy and utility figures (not in the protobuf) */
    ch_syn_privacy priv;
    ch_syn_utility util;
} ch_syn_model;

ch_syn_model *ch_syn_model_new(void);
void ch_syn_model_destroy(ch_syn_model **m);
/* Packs into the proto/synthetic.proto Model message appended to out. */
int ch_syn_model_pack(const ch_syn_model *m, ch_buf *out, ch_err *err);
/* Unpacks and checks every size (untrusted bytes). NULL with err set. */
ch_syn_model *ch_syn_model_unpack(const uint8_t *data, size_t len, ch_err *err);

/* --- sampling (sample.c) --------------------------------------------------- */

typedef struct ch_syn_sampler ch_syn_sampler;

/* Prepares sampling along the tree (a forest when the candidate graph was
 * not connected), rooted at column `root` of each component it is in
 * (-1: the lowest column of each component). NULL on CH_ENOMEM. */
ch_syn_sampler *ch_syn_sampler_new(const ch_syn_model *m, long root);
void ch_syn_sampler_destroy(ch_syn_sampler **s);
/* Draws one row of cells into cell[n_cols]. fixed: the root's cell, or -1
 * to draw it: a fixed root samples the rest from the exact conditional, so a
 * rare class costs no more than a common one (no rejection). */
void ch_syn_sample_row(const ch_syn_sampler *s, long fixed, ch_rng *r, uint32_t *cell);
/* Log-probability of a row of cells under the model. */
double ch_syn_log_prob(const ch_syn_sampler *s, const uint32_t *cell);
/* The class of each of n plain rows when the model has proportions: exactly
 * the largest-remainder rounding of prop[l] * n rows of level l (prop sums
 * to 1), in an order shuffled from (seed, stream). NULL on CH_ENOMEM. */
uint32_t *ch_syn_class_plan(const double *prop, size_t k, size_t n, uint64_t seed, uint64_t stream);
/* Draws n rows (+ n_aug rows with the root fixed to aug_cell) as a table of
 * the domain's columns, decoded. With m->prop, the n plain rows have the
 * root (aug_col) fixed by ch_syn_class_plan: each class is sampled from the
 * exact conditional, without rejection. NULL on failure. */
ch_table *ch_syn_generate(const ch_syn_model *m, uint64_t n, uint64_t n_aug, uint64_t stream,
                          ch_err *err);
/* Writes table t (as from ch_syn_generate) as CSV with a header, levels by
 * name, numbers with up to 6 decimals (%.10g from 1e9 on), missing as
 * empty. 0 or an error naming path. */
int ch_syn_write_csv(const ch_table *t, const char *path, ch_err *err);

/* --- quality and predictions (quality.c) ------------------------------------ */

/* Compares a sample of the model (S rows, stream CH_SYN_STREAM_EVAL) with
 * the held-out rows `test` (may be NULL: nothing computed): per-column
 * total-variation distance of the one-way marginals over the model's cells,
 * Kolmogorov-Smirnov distance of numeric columns, mean absolute difference
 * of the numeric columns' correlations, and the model as a classifier of a
 * categorical target (AUC for two classes, accuracy). These use real rows
 * and are not covered by the privacy guarantee. 0 or CH_ENOMEM. */
int ch_syn_quality(ch_syn_model *m, const ch_table *test, ch_err *err);
/* The model as a predictor: for a categorical target, P(target | the other
 * columns) under the tree model (n_levels outputs per row); otherwise the
 * log-probability of each row's cells (one output). t is conformed to the
 * schema (features in order, the target absent or set). */
int ch_syn_predict(const ch_syn_model *m, const ch_table *t, double *out, ch_err *err);

/* --- privacy figures (privacy.c) ---------------------------------------------- */

/* The DCR histogram: cell 0 holds distance 0 (an exact copy), cell k
 * (1..CH_SYN_DCR_BINS) distances in ((k-1)/B, k/B]. */
#define CH_SYN_DCR_BINS  1000
#define CH_SYN_DCR_CELLS (CH_SYN_DCR_BINS + 1)
/* Rows the privacy figures compare at most: synthetic, and training rows
 * (spread over the blocks), and held-out rows. */
#define CH_SYN_PRIV_ROWS 2000

void ch_syn_privacy_clear(ch_syn_privacy *p);
/* Rows [0, n) of t as points for distances (n x n_cols, malloc'd):
 * numeric values divided by their column's range, level codes, NaN for
 * missing. t is a generated table (every column in order) or a real one
 * (the target apart). NULL with err set. */
double *ch_syn_points(const ch_syn_domain *d, const ch_table *t, size_t n, ch_err *err);
/* Distance of the point `row` to the closest of syn[n_syn]: the mean over
 * columns of |x - y| / range (at most 1) for numeric columns, x != y for
 * categorical ones, 1 when one of the two is missing. INFINITY when n_syn
 * is 0. Can't fail. */
double ch_syn_dcr(const ch_syn_domain *d, const double *syn, size_t n_syn, const double *row);
/* The histogram cell of a distance. */
size_t ch_syn_dcr_cell(double dcr);
/* Adds to hist[CH_SYN_DCR_CELLS] the cell of each row's DCR, rows[0..n)
 * of t (NULL: rows 0..n). 0 or an error. */
int ch_syn_dcr_hist(const ch_syn_domain *d, const double *syn, size_t n_syn, const ch_table *t,
                    const size_t *rows, size_t n, double *hist, ch_err *err);
/* The figures from the training rows' and held-out rows' histograms:
 * exact-match rates, DCR quantiles (cell upper edges) and the AUC of the
 * attack scoring -DCR (ties within a cell counted half). Can't fail. */
void ch_syn_privacy_from_hist(const double *train, const double *holdout, ch_syn_privacy *p);

/* --- utility (utility.c) ----------------------------------------------------- */

/* Fits w[0..p] (w[0] the intercept) minimising the logistic loss summed over
 * X (n x p, row-major) and y in {0, 1}, plus lambda/2 |w[1..p]|^2, by
 * Newton's method (as scikit-learn's LogisticRegression(C = 1/lambda)).
 * 0, CH_ENOMEM, or CH_EINVAL when a Newton step fails. */
int ch_syn_logit_fit(const double *X, const double *y, size_t n, size_t p, double lambda,
                     double *w);
void ch_syn_fit_clear(ch_syn_fit *f);
/* Fits one-vs-rest logistic regressions (lambda 1; one-hot levels,
 * standardised numbers, missing as zero) of the categorical target on rows
 * [0, n_train) of train and scores them on test. Nothing (done false) when
 * the domain has no categorical target, test has no target rows, or the
 * design is wider than 2000 features. 0 or an error. */
int ch_syn_fit_eval(const ch_syn_domain *d, const ch_table *train, size_t n_train,
                    const ch_table *test, ch_syn_fit *out, ch_err *err);

/* --- reports (report.c) ------------------------------------------------------- */

/* summary.json keys: privacy (epsilon, delta, rho, the split), tree,
 * quality. */
int ch_syn_summary_json(const ch_syn_model *m, ch_buf *j);
int ch_syn_describe(const ch_syn_model *m, ch_buf *text);
int ch_syn_report(const ch_syn_model *m, ch_report *r, ch_err *err);

#endif
