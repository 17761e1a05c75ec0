/* quantile.h: exact quantiles of values that stay on their workers, by
 * counting rounds (the residual quantiles of summary(lm) and summary(glm)).
 *
 * Each double has a 64-bit key, its bit pattern made monotone, so a bracket
 * of keys is exact and holds every double between its ends. For each order
 * statistic R's quantile type 7 needs (ranks floor(h) and floor(h) + 1 for
 * h = (n - 1) q, q in 0, 1/4, 1/2, 3/4, 1) the coordinator keeps a bracket,
 * first all keys. A round asks every worker for a histogram of
 * CH_QSEL_BINS equal bins of each open bracket; the bin holding the rank
 * becomes the new bracket, and after at most six rounds (64 key bits, 12
 * per round) it is a single key: the value. Only counts leave a worker,
 * never a value; counts are sums of integers, so the result does not depend
 * on how the values are split among workers. The first histogram (of all
 * keys) does not depend on n, so it travels with the count in the round
 * that also gives n. */
#ifndef CH_LINEAR_QUANTILE_H
#define CH_LINEAR_QUANTILE_H

#include "common/buf.h"
#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { CH_QSEL_BINS = 4096, CH_QSEL_PROBS = 5 };

/* The probabilities reported: R's summary.lm Min, 1Q, Median, 3Q, Max. */
extern const double ch_qsel_probs[CH_QSEL_PROBS];

/* Worker side, first round: the histogram of all keys of v[0..n) into
 * hist[CH_QSEL_BINS] (added to what is there; NaN values are ignored). This
 * function can't fail. */
void ch_qsel_first_leaf(const double *v, size_t n, double *hist);

typedef struct ch_qsel ch_qsel;

/* Coordinator side: the search for n values (n >= 1) given the summed first
 * histogram. NULL when out of memory or when n or the histogram is not
 * usable (counts that are not whole, or do not add up to n). */
ch_qsel *ch_qsel_new(double n, const double *first);
void ch_qsel_destroy(ch_qsel **q);

/* True when every quantile is known (no more rounds). */
bool ch_qsel_done(const ch_qsel *q);

/* Appends the next round's task to payload and returns the length in
 * doubles of the node a leaf fills (0 when done). */
size_t ch_qsel_task(const ch_qsel *q, ch_buf *payload);

/* Consumes the reduced node of the round asked by ch_qsel_task. Counts
 * that do not add up (a worker that miscounted) are CH_EPROTO. */
int ch_qsel_consume(ch_qsel *q, const double *root, ch_err *err);

/* The quantiles at ch_qsel_probs into out[CH_QSEL_PROBS] (NaN until
 * done). */
void ch_qsel_result(const ch_qsel *q, double *out);

/* Worker side: a parsed task. */
typedef struct ch_qsel_task_t {
    size_t n;     /* brackets */
    uint64_t *lo; /* n: inclusive key bounds */
    uint64_t *hi;
    size_t node_len; /* doubles per node: n * CH_QSEL_BINS */
} ch_qsel_task_t;

/* Parses the task bytes (untrusted: sizes and bounds are checked; CH_EPROTO
 * otherwise). Returns 0, CH_EPROTO or CH_ENOMEM. */
int ch_qsel_parse(const uint8_t *data, size_t len, ch_qsel_task_t *t, ch_err *err);
void ch_qsel_task_free(ch_qsel_task_t *t);

/* A leaf: node[t->node_len], the histograms of v[0..n) over the task's
 * brackets (NaN values are ignored). This function can't fail. */
void ch_qsel_leaf(const ch_qsel_task_t *t, const double *v, size_t n, double *node);

/* combine function for reduce.h: counts add (ctx unused). */
void ch_qsel_combine(void *ctx, size_t len, const double *left, const double *right, double *out);

/* Worker side: the values of each block kept between the rounds of one
 * search, so a counting round only counts. Entries are valid for one key
 * (the coefficients the values were computed from, compared bit for bit);
 * a block with no entry (a shard reassigned after a failure) is computed
 * again by the caller. Zero-initialise; ch_qsel_cache_free releases. */
typedef struct ch_qsel_cache {
    size_t n_blocks;
    double **v;
    size_t *n;
    double *key;
    size_t key_len;
} ch_qsel_cache;

/* Block b's values under key (n into *n), or NULL when not cached. */
const double *ch_qsel_cache_get(const ch_qsel_cache *c, const double *key, size_t key_len, size_t b,
                                size_t *n);
/* Keeps a copy of v[0..n) as block b's values under key (another key
 * empties the cache first); n_blocks bounds b. Returns 0 or CH_ENOMEM (then
 * nothing is kept for b). */
int ch_qsel_cache_put(ch_qsel_cache *c, const double *key, size_t key_len, size_t n_blocks,
                      size_t b, const double *v, size_t n);
void ch_qsel_cache_free(ch_qsel_cache *c);

/* The monotone key of a double and back (exposed for the tests). */
uint64_t ch_qsel_key(double x);
double ch_qsel_unkey(uint64_t k);

#endif
