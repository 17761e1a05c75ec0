/* test_syn_toy.h: the synthetic tests' toy model, built by hand: two
 * columns, class (no 95 %, yes 5 %) and x (3 cells on [0, 3]) whose
 * distribution depends on the class (yes: x mostly in cell 2). */
#ifndef CH_TEST_SYN_TOY_H
#define CH_TEST_SYN_TOY_H

#include "algorithms/synthetic/synthetic.h"

#include <stdlib.h>
#include <string.h>

static inline ch_syn_model *ch_test_syn_toy(void)
{
    ch_syn_model *m = ch_syn_model_new();
    m->dom.n_cols = 2;
    m->dom.cols = calloc(2, sizeof *m->dom.cols);
    ch_syn_col *a = &m->dom.cols[0], *b = &m->dom.cols[1];
    a->name = strdup("class");
    a->kind = CH_COL_CATEGORICAL;
    a->n_levels = 2;
    a->levels = calloc(2, sizeof(char *));
    a->levels[0] = strdup("no");
    a->levels[1] = strdup("yes");
    ch_syn_col_size(a);
    b->name = strdup("x");
    b->kind = CH_COL_NUMERIC;
    b->lo = 0;
    b->hi = 3;
    b->bins = 3;
    ch_syn_col_size(b);
    m->dom.target = 0;
    m->total = 1000;
    m->oneway = calloc(2, sizeof(double *));
    m->oneway[0] = malloc(2 * sizeof(double));
    m->oneway[1] = malloc(3 * sizeof(double));
    double joint[6] = {900, 50, 0, 0, 10, 40}; /* yes: x mostly in cell 2 */
    m->oneway[0][0] = 950;
    m->oneway[0][1] = 50;
    m->oneway[1][0] = 900;
    m->oneway[1][1] = 60;
    m->oneway[1][2] = 40;
    m->n_edges = 1;
    m->edges = calloc(1, sizeof *m->edges);
    m->edges[0].a = 0;
    m->edges[0].b = 1;
    m->edges[0].joint = malloc(sizeof joint);
    memcpy(m->edges[0].joint, joint, sizeof joint);
    m->stage = 2;
    m->seed = 9;
    m->aug_col = 0;
    m->aug_cell = 1;
    return m;
}

#endif
