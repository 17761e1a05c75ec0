/* border.c: the border rule. A non-core point within eps of core points
 * joins the cluster with the smallest number among them (clusters are
 * numbered by their smallest core index, merge.c); with none it is noise.
 * This is scikit-learn's outcome: its clusters grow in that same order and
 * a border point keeps the first cluster that reaches it. */
#include "algorithms/dbscan/dbscan.h"

typedef struct s_border {
    const int32_t *label;
    int32_t *best; /* per query, -1 until a core neighbour is seen */
} s_border;

static int s_hit(void *ctx, size_t q, size_t j, double value)
{
    (void)value;
    s_border *b = ctx;
    int32_t l = b->label[j];
    if (l >= 0 && (b->best[q] < 0 || l < b->best[q])) {
        b->best[q] = l;
    }
    return b->best[q] == 0; /* nothing is smaller than cluster 0 */
}

/* Labels of the owned points (see dbscan.h): owned core points copy their
 * label; runs of non-core points are queried together. */
int ch_db_border(const ch_db_cell *c, const int32_t *label_cell, int32_t *out, ch_err *err)
{
    for (size_t i = 0; i < c->m_own; i++) {
        out[i] = label_cell[i];
    }
    /* a core point has a label >= 0 and a non-core one -1 before this */
    size_t k = 0;
    while (k < c->m_own) {
        while (k < c->m_own && label_cell[k] >= 0) {
            k++;
        }
        size_t k0 = k;
        while (k < c->m_own && label_cell[k] < 0) {
            k++;
        }
        if (k > k0) {
            s_border ctx = {.label = label_cell, .best = out + k0};
            int rc = ch_db_index_radius(c->ix, c->pts + k0 * c->d, k - k0, s_hit, &ctx, err);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}
