/* unionfind.c: union-find over point indices, the smaller index always the
 * root, so the sets and their roots do not depend on the order of unions. */
#include "algorithms/dbscan/dbscan.h"

#include <stdlib.h>

/* Makes n singletons. Returns 0 or CH_ENOMEM. */
int ch_uf_init(ch_uf *u, size_t n)
{
    u->n = n;
    u->parent = ch_alloc_array(n ? n : 1, sizeof *u->parent);
    if (!u->parent) {
        return CH_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        u->parent[i] = (uint32_t)i;
    }
    return 0;
}

/* Frees the parents; accepts a zeroed or freed u. */
void ch_uf_free(ch_uf *u)
{
    if (u) {
        free(u->parent);
        u->parent = NULL;
        u->n = 0;
    }
}

/* Returns the root (smallest member) of x's set, halving the path. x < n. */
uint32_t ch_uf_find(ch_uf *u, uint32_t x)
{
    while (u->parent[x] != x) {
        u->parent[x] = u->parent[u->parent[x]];
        x = u->parent[x];
    }
    return x;
}

/* Joins the sets of a and b; the smaller root becomes the root. */
void ch_uf_union(ch_uf *u, uint32_t a, uint32_t b)
{
    uint32_t ra = ch_uf_find(u, a), rb = ch_uf_find(u, b);
    if (ra < rb) {
        u->parent[rb] = ra;
    } else if (rb < ra) {
        u->parent[ra] = rb;
    }
}
