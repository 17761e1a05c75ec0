/* design.h: the design matrix of a linear model: an intercept, numeric
 * columns as they are, categorical columns dummy-coded against their first
 * level, named as R names them ("(Intercept)", "total_day_minutes",
 * "international_planyes"). */
#ifndef CH_LINEAR_DESIGN_H
#define CH_LINEAR_DESIGN_H

#include "common/err.h"
#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct ch_design {
    bool intercept;
    size_t p;       /* design columns */
    char **names;   /* p names */
    size_t *source; /* p: feature column of each design column (SIZE_MAX: intercept) */
    size_t *level;  /* p: the level a dummy stands for (0 for numeric columns) */
    size_t n_terms; /* the schema's features, one term each */
    char **terms;   /* n_terms feature names (R's term labels) */
} ch_design;

/* Builds the column layout from a schema. NULL on allocation failure. */
ch_design *ch_design_new(const ch_schema *s, bool intercept);
void ch_design_destroy(ch_design **d);

/* Fills row i of t into x[0..p) (stride `stride` between elements). Returns
 * false if a value the row needs is missing (the row is dropped, as R's
 * na.omit does). */
bool ch_design_row(const ch_design *d, const ch_table *t, size_t i, double *x, size_t stride);

#endif
