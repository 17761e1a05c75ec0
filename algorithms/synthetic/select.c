/* select.c: MST's private selection of a maximum spanning tree: Kruskal's
 * algorithm where each step is an exponential mechanism over the pairs that
 * join two components, scored by how far the pair's counts are from
 * independence (the L1 distance between the table and the outer product of
 * its own margins, a bounded-sensitivity stand-in for mutual information). */
#include "algorithms/synthetic/synthetic.h"

#include <math.h>
#include <stdlib.h>

static uint32_t s_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

long ch_syn_select(const ch_syn_layout *l, const double *counts, const double *p, double total,
                   double eps_step, long focus, size_t n_focus, ch_rng *r, uint32_t *chosen)
{
    size_t n = l->n_cols, np = l->n_pairs;
    double *score = malloc((np ? np : 1) * sizeof *score);
    size_t wn = np > 2 * CH_SYN_MAX_LEVELS + 2 ? np : 2 * CH_SYN_MAX_LEVELS + 2;
    double *w = malloc(wn * sizeof *w);
    uint32_t *parent = malloc((n ? n : 1) * sizeof *parent);
    if (!score || !w || !parent) {
        free(score);
        free(w);
        free(parent);
        return CH_ENOMEM;
    }
    for (size_t k = 0; k < np; k++) {
        const ch_syn_pair *pr = &l->pairs[k];
        size_t sa = l->one_off[pr->a + 1] - l->one_off[pr->a];
        size_t sb = l->one_off[pr->b + 1] - l->one_off[pr->b];
        const double *t = counts + pr->off;
        const double *pa = p + l->one_off[pr->a], *pb = p + l->one_off[pr->b];
        double *ra = w, *cb = w + sa; /* scratch: sa + sb <= cells of the pair */
        double nn = 0;
        for (size_t x = 0; x < sa; x++) {
            ra[x] = 0;
        }
        for (size_t y = 0; y < sb; y++) {
            cb[y] = 0;
        }
        for (size_t x = 0; x < sa; x++) {
            for (size_t y = 0; y < sb; y++) {
                ra[x] += t[x * sb + y];
                cb[y] += t[x * sb + y];
                nn += t[x * sb + y];
            }
        }
        double s = 0, off = 0;
        for (size_t x = 0; x < sa; x++) {
            for (size_t y = 0; y < sb; y++) {
                s += fabs(t[x * sb + y] - (nn > 0 ? ra[x] * cb[y] / nn : 0));
                off += sqrt(total * pa[x] * pb[y] * (1 - pa[x]) * (1 - pb[y]));
            }
        }
        /* less the L1 that sampling alone gives an independent table of
         * this shape, from the noisy one-ways (data-independent, so the
         * sensitivity stays): without it the widest pairs win every step */
        score[k] = s - sqrt(2 / M_PI) * off;
    }
    for (size_t j = 0; j < n; j++) {
        parent[j] = (uint32_t)j;
    }
    long m = 0;
    for (size_t step = 0; step + 1 < n; step++) {
        double best = -INFINITY;
        /* the first n_focus steps choose among focus's pairs only (a
         * data-independent restriction: the accounting is unchanged); when
         * focus has no pair left, the usual step */
        for (int pass = 0; pass < 2 && best == -INFINITY; pass++) {
            bool only = pass == 0 && step < n_focus;
            for (size_t k = 0; k < np; k++) {
                bool cross = s_find(parent, l->pairs[k].a) != s_find(parent, l->pairs[k].b);
                if (only && (long)l->pairs[k].a != focus && (long)l->pairs[k].b != focus) {
                    cross = false;
                }
                w[k] = cross ? eps_step * score[k] / (2 * CH_SYN_SELECT_SENS) : -INFINITY;
                best = w[k] > best ? w[k] : best;
            }
        }
        if (best == -INFINITY) {
            break; /* the candidate graph is not connected: a forest */
        }
        double z = 0;
        for (size_t k = 0; k < np; k++) {
            w[k] = w[k] == -INFINITY ? 0 : exp(w[k] - best);
            z += w[k];
        }
        double u = ch_rng_uniform(r) * z, acc = 0;
        size_t pick = np;
        for (size_t k = 0; k < np; k++) {
            if (w[k] > 0) {
                pick = k;
                acc += w[k];
                if (u < acc) {
                    break;
                }
            }
        }
        chosen[m++] = (uint32_t)pick;
        parent[s_find(parent, l->pairs[pick].a)] = s_find(parent, l->pairs[pick].b);
    }
    free(score);
    free(w);
    free(parent);
    return m;
}
