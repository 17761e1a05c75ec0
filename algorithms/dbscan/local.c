/* local.c: the whole DBSCAN pipeline in one process, cell after cell, with
 * exactly the steps of the distributed run (count, local union and merge,
 * border); the unit tests use it to check that the result does not depend
 * on the number of cells. */
#include "algorithms/dbscan/dbscan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Frees a result; accepts a zeroed one. */
void ch_db_result_free(ch_db_result *r)
{
    if (r) {
        free(r->label);
        free(r->core);
        free(r->kdist);
        memset(r, 0, sizeof *r);
    }
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* Runs DBSCAN (see dbscan.h). Cells are built one at a time, three times
 * (once per step), as the workers would. */
int ch_db_fit(const ch_table *t, const ch_db_params *p, size_t n_cells, ch_db_result *out,
              ch_err *err)
{
    memset(out, 0, sizeof *out);
    ch_db_slabs sl;
    int rc = ch_db_slabs_make(t, p, n_cells, &sl, err);
    if (rc != 0) {
        return rc;
    }
    size_t n = t->n_rows;
    size_t k = (size_t)p->min_samples;
    size_t ns = k <= 128 ? ch_db_kdist_n(n, p) : 0;
    ch_uf u = {0};
    uint32_t *pairs = NULL;
    uint8_t *cc = NULL;
    int32_t *lc = NULL, *lo = NULL;
    double *part = NULL, *q = NULL;
    out->n = n;
    out->label = ch_alloc_array(n, sizeof *out->label);
    out->core = ch_calloc_array(n, sizeof *out->core);
    out->kdist = ch_alloc_array(ns * k + 1, sizeof *out->kdist);
    part = ch_alloc_array(ns * k + 1, sizeof *part);
    if (!out->label || !out->core || !out->kdist || !part || ch_uf_init(&u, n) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < ns * k; i++) {
        out->kdist[i] = INFINITY;
    }
    if (ns && (rc = ch_db_kdist_queries(t, p, &q, err)) != 0) {
        goto done;
    }
    /* step 1: core flags and the k-distance lists */
    for (size_t s = 0; s < n_cells && rc == 0; s++) {
        ch_db_cell c;
        if ((rc = ch_db_cell_make(t, p, &sl, s, &c, err)) != 0) {
            break;
        }
        cc = realloc(cc, c.m_own ? c.m_own : 1);
        if (!cc) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        } else if ((rc = ch_db_count_core(&c, p, cc, err)) == 0) {
            for (size_t i = 0; i < c.m_own; i++) {
                out->core[c.gidx[i]] = cc[i];
            }
            if (ns && (rc = ch_db_kdist_partial(q, ns, &c, p, k, part, err)) == 0) {
                ch_db_kdist_merge(out->kdist, part, ns, k);
            }
        }
        ch_db_cell_free(&c);
    }
    /* step 2: local unions, merged */
    for (size_t s = 0; s < n_cells && rc == 0; s++) {
        ch_db_cell c;
        if ((rc = ch_db_cell_make(t, p, &sl, s, &c, err)) != 0) {
            break;
        }
        free(cc);
        cc = malloc(c.m ? c.m : 1);
        size_t np = 0;
        if (!cc) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        } else {
            for (size_t i = 0; i < c.m; i++) {
                cc[i] = out->core[c.gidx[i]];
            }
            rc = ch_db_local_union(&c, cc, &pairs, &np, err);
            for (size_t i = 0; i < np && rc == 0; i++) {
                ch_uf_union(&u, pairs[2 * i], pairs[2 * i + 1]);
            }
        }
        ch_db_cell_free(&c);
    }
    if (rc == 0) {
        out->n_clusters = ch_db_number_clusters(&u, out->core, n, out->label);
    }
    /* step 3: border points */
    for (size_t s = 0; s < n_cells && rc == 0; s++) {
        ch_db_cell c;
        if ((rc = ch_db_cell_make(t, p, &sl, s, &c, err)) != 0) {
            break;
        }
        free(lc);
        free(lo);
        lc = ch_alloc_array(c.m ? c.m : 1, sizeof *lc);
        lo = ch_alloc_array(c.m_own ? c.m_own : 1, sizeof *lo);
        if (!lc || !lo) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        } else {
            for (size_t i = 0; i < c.m; i++) {
                lc[i] = out->core[c.gidx[i]] ? out->label[c.gidx[i]] : -1;
            }
            rc = ch_db_border(&c, lc, lo, err);
            for (size_t i = 0; i < c.m_own && rc == 0; i++) {
                out->label[c.gidx[i]] = lo[i];
            }
        }
        ch_db_cell_free(&c);
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            out->n_core += out->core[i];
            out->n_noise += out->label[i] < 0;
        }
        for (size_t j = 0; j < ns; j++) {
            out->kdist[j] = out->kdist[j * k + k - 1];
        }
        qsort(out->kdist, ns, sizeof *out->kdist, s_cmp_double);
        out->n_kdist = ns;
    }
done:
    ch_uf_free(&u);
    ch_db_slabs_free(&sl);
    free(pairs);
    free(cc);
    free(lc);
    free(lo);
    free(part);
    free(q);
    if (rc != 0) {
        ch_db_result_free(out);
    }
    return rc;
}
