/* design.c: dummy-coded design matrices (see design.h). */
#include "algorithms/linear/design.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ch_design_destroy(ch_design **pd)
{
    if (!pd || !*pd) {
        return;
    }
    ch_design *d = *pd;
    for (size_t j = 0; j < d->p && d->names; j++) {
        free(d->names[j]);
    }
    free(d->names);
    for (size_t f = 0; f < d->n_terms && d->terms; f++) {
        free(d->terms[f]);
    }
    free(d->terms);
    free(d->source);
    free(d->level);
    free(d);
    *pd = NULL;
}

static char *s_concat(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (s) {
        snprintf(s, n, "%s%s", a, b);
    }
    return s;
}

ch_design *ch_design_new(const ch_schema *s, bool intercept)
{
    ch_design *d = calloc(1, sizeof *d);
    if (!d) {
        return NULL;
    }
    size_t p = intercept ? 1 : 0;
    for (size_t c = 0; c < s->n_features; c++) {
        const ch_column *col = &s->features[c];
        p += col->kind == CH_COL_CATEGORICAL ? (col->n_levels ? col->n_levels - 1 : 0) : 1;
    }
    d->intercept = intercept;
    d->names = calloc(p ? p : 1, sizeof *d->names);
    d->source = calloc(p ? p : 1, sizeof *d->source);
    d->level = calloc(p ? p : 1, sizeof *d->level);
    if (!d->names || !d->source || !d->level) {
        ch_design_destroy(&d);
        return NULL;
    }
    size_t j = 0;
    if (intercept) {
        d->names[j] = strdup("(Intercept)");
        d->source[j] = SIZE_MAX;
        d->p = ++j;
    }
    for (size_t c = 0; c < s->n_features; c++) {
        const ch_column *col = &s->features[c];
        if (col->kind == CH_COL_CATEGORICAL) {
            for (size_t l = 1; l < col->n_levels; l++) {
                d->names[j] = s_concat(col->name, col->levels[l]);
                d->source[j] = c;
                d->level[j] = l;
                d->p = ++j;
            }
        } else {
            d->names[j] = strdup(col->name);
            d->source[j] = c;
            d->p = ++j;
        }
    }
    for (size_t k = 0; k < d->p; k++) {
        if (!d->names[k]) {
            ch_design_destroy(&d);
            return NULL;
        }
    }
    d->terms = calloc(s->n_features ? s->n_features : 1, sizeof *d->terms);
    if (!d->terms) {
        ch_design_destroy(&d);
        return NULL;
    }
    d->n_terms = s->n_features;
    for (size_t c = 0; c < s->n_features; c++) {
        d->terms[c] = strdup(s->features[c].name);
        if (!d->terms[c]) {
            ch_design_destroy(&d);
            return NULL;
        }
    }
    return d;
}

bool ch_design_row(const ch_design *d, const ch_table *t, size_t i, double *x, size_t stride)
{
    for (size_t j = 0; j < d->p; j++) {
        size_t c = d->source[j];
        double v;
        if (c == SIZE_MAX) {
            v = 1.0;
        } else {
            double raw = t->cols[c].values[i];
            if (isnan(raw)) {
                return false;
            }
            v = t->cols[c].kind == CH_COL_CATEGORICAL ? (raw == (double)d->level[j] ? 1.0 : 0.0)
                                                      : raw;
        }
        x[j * stride] = v;
    }
    return true;
}
