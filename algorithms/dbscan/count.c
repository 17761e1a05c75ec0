/* count.c: neighbour counting: which of a cell's own points are core.
 *
 * The weights of a point's neighbours (itself included) are summed in
 * fixed point (metric.c), exactly, so the sum and the decision do not depend
 * on the order in which the index reports neighbours. The query stops as
 * soon as the sum reaches min_samples: nothing but the flag is kept. */
#include "algorithms/dbscan/dbscan.h"

#include <math.h>

typedef struct s_count {
    const int64_t *wfix;
    int64_t need;
    int64_t *sum; /* per query */
    size_t q0;
} s_count;

static int s_hit(void *ctx, size_t q, size_t j, double value)
{
    (void)value;
    s_count *c = ctx;
    int64_t *s = &c->sum[c->q0 + q];
    *s += c->wfix[j];
    return *s >= c->need;
}

/* Computes core flags of the owned points (see dbscan.h). Works in chunks
 * of queries so the scratch stays small. */
int ch_db_count_core(const ch_db_cell *c, const ch_db_params *p, uint8_t *core, ch_err *err)
{
    enum { CHUNK = 4096 };
    int64_t sum[CHUNK];
    s_count ctx = {.wfix = c->wfix,
                   .need = (int64_t)llround(ldexp(p->min_samples, CH_DB_WEIGHT_BITS)),
                   .sum = sum};
    for (size_t a = 0; a < c->m_own; a += CHUNK) {
        size_t nq = c->m_own - a < CHUNK ? c->m_own - a : CHUNK;
        for (size_t k = 0; k < nq; k++) {
            sum[k] = 0;
        }
        ctx.q0 = 0;
        int rc = ch_db_index_radius(c->ix, c->pts + a * c->d, nq, s_hit, &ctx, err);
        if (rc != 0) {
            return rc;
        }
        for (size_t k = 0; k < nq; k++) {
            core[a + k] = sum[k] >= ctx.need;
        }
    }
    return 0;
}
