/* merge.c: clusters of core points: the local union of a cell, and the
 * coordinator's numbering of the merged clusters.
 *
 * A cell joins each of its own core points with every core neighbour it can
 * see (own or halo) and reports, for each core point, the smallest global
 * index in its local set. The coordinator unions those pairs from all
 * cells: every core-core edge with at least one end owned by some cell is
 * seen by that cell, so the merged sets are exactly the clusters. */
#include "algorithms/dbscan/dbscan.h"

#include <stdlib.h>

typedef struct s_join {
    ch_uf *u;
    const uint8_t *core;
    size_t q0;
} s_join;

static int s_hit(void *ctx, size_t q, size_t j, double value)
{
    (void)value;
    s_join *c = ctx;
    if (c->core[j]) {
        ch_uf_union(c->u, (uint32_t)(c->q0 + q), (uint32_t)j);
    }
    return 0;
}

/* Local union of a cell (see dbscan.h). Local indices: own points come
 * first, then halo points (partition.c orders each part), so the smallest
 * local index of a set is not its smallest global index; the pairs carry
 * the smallest global index, computed in a second pass. */
int ch_db_local_union(const ch_db_cell *c, const uint8_t *core_cell, uint32_t **pairs,
                      size_t *n_pairs, ch_err *err)
{
    ch_uf u;
    uint32_t *low = ch_alloc_array(c->m ? c->m : 1, sizeof *low);
    if (ch_uf_init(&u, c->m) != 0 || !low) {
        ch_uf_free(&u);
        free(low);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    s_join ctx = {.u = &u, .core = core_cell};
    enum { CHUNK = 4096 };
    int rc = 0;
    for (size_t a = 0; a < c->m_own && rc == 0; a += CHUNK) {
        size_t nq = c->m_own - a < CHUNK ? c->m_own - a : CHUNK;
        /* only core queries: gather them in place by querying one at a time
         * would lose BLAS blocking, so query all and ignore non-core */
        ctx.q0 = a;
        size_t k = 0;
        while (k < nq && rc == 0) {
            /* runs of core points, queried together */
            while (k < nq && !core_cell[a + k]) {
                k++;
            }
            size_t k0 = k;
            while (k < nq && core_cell[a + k]) {
                k++;
            }
            if (k > k0) {
                ctx.q0 = a + k0;
                rc = ch_db_index_radius(c->ix, c->pts + (a + k0) * c->d, k - k0, s_hit, &ctx, err);
            }
        }
    }
    size_t count = 0;
    if (rc == 0) {
        for (size_t i = 0; i < c->m; i++) {
            low[i] = UINT32_MAX;
        }
        for (size_t i = 0; i < c->m; i++) {
            if (core_cell[i]) {
                uint32_t r = ch_uf_find(&u, (uint32_t)i);
                low[r] = c->gidx[i] < low[r] ? c->gidx[i] : low[r];
            }
        }
        for (size_t i = 0; i < c->m; i++) {
            if (core_cell[i] && low[ch_uf_find(&u, (uint32_t)i)] != c->gidx[i]) {
                count++;
            }
        }
        size_t cap = *n_pairs + count;
        uint32_t *np = count ? realloc(*pairs, (cap ? cap : 1) * 2 * sizeof *np) : *pairs;
        if (count && !np) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        } else {
            *pairs = np;
            for (size_t i = 0; i < c->m; i++) {
                uint32_t l = core_cell[i] ? low[ch_uf_find(&u, (uint32_t)i)] : 0;
                if (core_cell[i] && l != c->gidx[i]) {
                    (*pairs)[2 * *n_pairs] = c->gidx[i];
                    (*pairs)[2 * *n_pairs + 1] = l;
                    (*n_pairs)++;
                }
            }
        }
    }
    ch_uf_free(&u);
    free(low);
    return rc;
}

/* Numbers the clusters (see dbscan.h). Returns the number of clusters;
 * can't fail. */
size_t ch_db_number_clusters(ch_uf *u, const uint8_t *core, size_t n, int32_t *label)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        label[i] = -1;
    }
    /* the root of a set is its smallest index, itself a core point; the
     * first core point met in index order is its set's root */
    for (size_t i = 0; i < n; i++) {
        if (!core[i]) {
            continue;
        }
        uint32_t r = ch_uf_find(u, (uint32_t)i);
        if (r == i) {
            label[i] = (int32_t)k++;
        } else {
            label[i] = label[r];
        }
    }
    return k;
}
