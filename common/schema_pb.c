/* schema_pb.c: schema <-> protobuf, and merging silo schemas (see schema_pb.h). */
#include "common/schema_pb.h"

#include <stdlib.h>
#include <string.h>

static void s_col_to_pb(const ch_column *c, Cohort__Column *pb)
{
    cohort__column__init(pb);
    pb->name = c->name ? c->name : (char *)"";
    pb->categorical = c->kind == CH_COL_CATEGORICAL;
    pb->n_levels = c->n_levels;
    pb->levels = c->levels;
}

/* The message and everything ch_schema_to_pb allocated, freed together. */
typedef struct s_pbschema {
    Cohort__Schema pb; /* first: the pointer handed out */
    Cohort__Column target;
    Cohort__Column *cols;
    Cohort__Column **ptrs;
} s_pbschema;

Cohort__Schema *ch_schema_to_pb(const ch_schema *s)
{
    s_pbschema *h = calloc(1, sizeof *h);
    if (!h) {
        return NULL;
    }
    h->cols = calloc(s->n_features ? s->n_features : 1, sizeof *h->cols);
    h->ptrs = calloc(s->n_features ? s->n_features : 1, sizeof *h->ptrs);
    if (!h->cols || !h->ptrs) {
        free(h->cols);
        free(h->ptrs);
        free(h);
        return NULL;
    }
    cohort__schema__init(&h->pb);
    for (size_t i = 0; i < s->n_features; i++) {
        s_col_to_pb(&s->features[i], &h->cols[i]);
        h->ptrs[i] = &h->cols[i];
    }
    h->pb.n_features = s->n_features;
    h->pb.features = h->ptrs;
    s_col_to_pb(&s->target, &h->target);
    h->pb.target = &h->target;
    h->pb.positive = s->positive ? s->positive : (char *)"";
    return &h->pb;
}

void ch_schema_pb_free(Cohort__Schema *pb)
{
    if (!pb) {
        return;
    }
    s_pbschema *h = (s_pbschema *)pb;
    free(h->cols);
    free(h->ptrs);
    free(h);
}

static int s_col_from_pb(const Cohort__Column *pb, ch_column *c, ch_err *err)
{
    memset(c, 0, sizeof *c);
    if (!pb) {
        return 0;
    }
    if (pb->n_levels > 1000000) {
        return ch_err_set(err, CH_EPROTO, "column '%.64s' has too many levels", pb->name);
    }
    c->name = strdup(pb->name ? pb->name : "");
    c->kind = pb->categorical ? CH_COL_CATEGORICAL : CH_COL_NUMERIC;
    if (!c->name) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (pb->n_levels) {
        c->levels = calloc(pb->n_levels, sizeof *c->levels);
        if (!c->levels) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        c->n_levels = pb->n_levels;
        for (size_t l = 0; l < pb->n_levels; l++) {
            c->levels[l] = strdup(pb->levels[l]);
            if (!c->levels[l]) {
                return ch_err_set(err, CH_ENOMEM, "out of memory");
            }
            if (l > 0 && strcmp(pb->levels[l - 1], pb->levels[l]) >= 0) {
                return ch_err_set(err, CH_EPROTO, "column '%.64s': levels not sorted or repeated",
                                  c->name);
            }
        }
    }
    return 0;
}

ch_schema *ch_schema_from_pb(const Cohort__Schema *pb, ch_err *err)
{
    if (!pb) {
        ch_err_set(err, CH_EPROTO, "missing schema");
        return NULL;
    }
    if (pb->n_features > 1000000) {
        ch_err_set(err, CH_EPROTO, "schema has too many columns (%zu)", pb->n_features);
        return NULL;
    }
    ch_schema *s = calloc(1, sizeof *s);
    if (!s) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    s->features = calloc(pb->n_features ? pb->n_features : 1, sizeof *s->features);
    if (!s->features) {
        free(s);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    s->n_features = pb->n_features;
    int rc = 0;
    for (size_t i = 0; i < pb->n_features && rc == 0; i++) {
        rc = s_col_from_pb(pb->features[i], &s->features[i], err);
    }
    if (rc == 0) {
        rc = s_col_from_pb(pb->target, &s->target, err);
    }
    if (rc == 0 && pb->positive && pb->positive[0]) {
        s->positive = strdup(pb->positive);
    }
    if (rc != 0) {
        ch_schema_destroy(&s);
        return NULL;
    }
    return s;
}

/* Sorted union of two sorted level lists into c (replacing its levels). */
static int s_union(ch_column *c, const ch_column *o)
{
    size_t cap = c->n_levels + o->n_levels;
    char **out = calloc(cap ? cap : 1, sizeof *out);
    if (!out) {
        return CH_ENOMEM;
    }
    size_t i = 0, j = 0, n = 0;
    while (i < c->n_levels || j < o->n_levels) {
        int cmp = i == c->n_levels   ? 1
                  : j == o->n_levels ? -1
                                     : strcmp(c->levels[i], o->levels[j]);
        if (cmp <= 0) {
            out[n++] = c->levels[i++];
            if (cmp == 0) {
                j++;
            }
        } else {
            out[n] = strdup(o->levels[j++]);
            if (!out[n]) {
                /* the strings moved so far still belong to c: give them back */
                free(out);
                return CH_ENOMEM;
            }
            n++;
        }
    }
    free(c->levels);
    c->levels = out;
    c->n_levels = n;
    return 0;
}

int ch_schema_merge(ch_schema *a, const ch_schema *b, ch_err *err)
{
    if (a->n_features != b->n_features) {
        return ch_err_set(err, CH_EINVAL, "silos disagree on the columns: %zu against %zu",
                          a->n_features, b->n_features);
    }
    for (size_t i = 0; i <= a->n_features; i++) {
        ch_column *ca = i < a->n_features ? &a->features[i] : &a->target;
        const ch_column *cb = i < a->n_features ? &b->features[i] : &b->target;
        if (strcmp(ca->name ? ca->name : "", cb->name ? cb->name : "") != 0) {
            return ch_err_set(err, CH_EINVAL, "silos disagree on column %zu: '%s' against '%s'",
                              i + 1, ca->name, cb->name);
        }
        if (ca->kind != cb->kind) {
            return ch_err_set(err, CH_EINVAL,
                              "silos disagree on the type of column '%s' (numeric in one, "
                              "categorical in another)",
                              ca->name);
        }
        if (ca->kind == CH_COL_CATEGORICAL && s_union(ca, cb) != 0) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    return 0;
}

static void s_col_free(ch_column *c)
{
    free(c->name);
    for (size_t l = 0; l < c->n_levels; l++) {
        free(c->levels[l]);
    }
    free(c->levels);
    free(c->values);
    memset(c, 0, sizeof *c);
}

static long s_find(const ch_schema *s, const char *name)
{
    for (size_t i = 0; i < s->n_features; i++) {
        if (strcmp(s->features[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static void s_remove(ch_schema *s, size_t i)
{
    memmove(&s->features[i], &s->features[i + 1], (s->n_features - i - 1) * sizeof *s->features);
    s->n_features--;
}

int ch_schema_pick_target(ch_schema *s, const char *target, const char *positive,
                          const char *weights, ch_err *err)
{
    if (weights) {
        long w = s_find(s, weights);
        if (w < 0) {
            return ch_err_set(err, CH_EINVAL, "the silos have no weights column '%s'", weights);
        }
        s_col_free(&s->features[w]);
        s_remove(s, (size_t)w);
    }
    if (!target) {
        return 0;
    }
    long t = s_find(s, target);
    if (t < 0) {
        return ch_err_set(err, CH_EINVAL, "the silos have no target column '%s'", target);
    }
    s_col_free(&s->target);
    s->target = s->features[t];
    s_remove(s, (size_t)t);
    if (positive) {
        ch_column *c = &s->target;
        if (c->kind != CH_COL_CATEGORICAL || c->n_levels != 2) {
            return ch_err_set(err, CH_EINVAL,
                              "data.positive needs a target with two levels; '%s' has %zu",
                              target, c->n_levels);
        }
        if (strcmp(c->levels[1], positive) != 0) {
            if (strcmp(c->levels[0], positive) != 0) {
                return ch_err_set(err, CH_EINVAL, "target '%s' has no level '%s'", target,
                                  positive);
            }
            char *tmp = c->levels[0];
            c->levels[0] = c->levels[1];
            c->levels[1] = tmp;
        }
        free(s->positive);
        s->positive = strdup(positive);
    }
    return 0;
}
