/* table_lease.c: a training table an algorithm may give back (see
 * table_lease.h). */
#include "common/table_lease.h"
#include "common/log.h"

#include <stdlib.h>

struct ch_table_lease {
    ch_table **slot;
    ch_table_loader load;
    void *ctx;
    uint64_t fingerprint; /* of the table as first held (have_fp) */
    size_t n_rows;
    bool have_fp;
    size_t releases, reloads;
};

ch_table_lease *ch_table_lease_new(ch_table **slot, ch_table_loader load, void *ctx)
{
    ch_table_lease *l = calloc(1, sizeof *l);
    if (l) {
        l->slot = slot;
        l->load = load;
        l->ctx = ctx;
    }
    return l;
}

void ch_table_lease_destroy(ch_table_lease **l)
{
    if (l && *l) {
        free(*l);
        *l = NULL;
    }
}

const ch_table *ch_table_lease_get(ch_table_lease *l, ch_err *err)
{
    if (!l) {
        ch_err_set(err, CH_EINTERNAL, "no training table here");
        return NULL;
    }
    if (*l->slot) {
        return *l->slot;
    }
    ch_table *t = NULL;
    int rc = l->load(l->ctx, &t, err);
    if (rc) {
        ch_err_prefix(err, "reading the training table again");
        return NULL;
    }
    if (t->n_rows != l->n_rows || ch_table_fingerprint(t) != l->fingerprint) {
        ch_err_set(err, CH_EINVAL,
                   "%s changed during the run (read again: %zu rows, different values); "
                   "leave the training file alone while a run uses it",
                   t->source ? t->source : "the training file", t->n_rows);
        ch_table_destroy(&t);
        return NULL;
    }
    l->reloads++;
    ch_debug("training table read again (%zu rows)", t->n_rows);
    *l->slot = t;
    return t;
}

uint64_t ch_table_lease_fingerprint(ch_table_lease *l)
{
    if (!l->have_fp && *l->slot) {
        l->fingerprint = ch_table_fingerprint(*l->slot);
        l->n_rows = (*l->slot)->n_rows;
        l->have_fp = true;
    }
    return l->fingerprint;
}

void ch_table_lease_release(ch_table_lease *l)
{
    if (!l || !l->load || !*l->slot) {
        return;
    }
    (void)ch_table_lease_fingerprint(l); /* what a reload must match */
    l->releases++;
    ch_debug("training table released (%zu rows)", (*l->slot)->n_rows);
    ch_table_destroy(l->slot);
}

bool ch_table_lease_held(const ch_table_lease *l)
{
    return l && *l->slot;
}

size_t ch_table_lease_releases(const ch_table_lease *l)
{
    return l ? l->releases : 0;
}

size_t ch_table_lease_reloads(const ch_table_lease *l)
{
    return l ? l->reloads : 0;
}
