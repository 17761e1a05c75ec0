/* schema_pb.h: converting a table schema to and from its protobuf message,
 * and merging the schemas of silos into one. */
#ifndef CH_SCHEMA_PB_H
#define CH_SCHEMA_PB_H

#include "common/err.h"
#include "common/table.h"
#include "proto/cohort.pb-c.h"

/* A new protobuf Schema that points into s (valid while s lives); free with
 * ch_schema_pb_free (which frees only what this function allocated). */
Cohort__Schema *ch_schema_to_pb(const ch_schema *s);
void ch_schema_pb_free(Cohort__Schema *pb);
/* A new schema from an untrusted message: names non-empty, level lists
 * sorted and without duplicates, at most 1e6 columns. NULL with err set. */
ch_schema *ch_schema_from_pb(const Cohort__Schema *pb, ch_err *err);
/* Merges b into a: the same feature columns in the same order and the same
 * target are required (error naming the first difference); categorical
 * levels become the sorted union. */
int ch_schema_merge(ch_schema *a, const ch_schema *b, ch_err *err);



/* by-file: the silos' schemas list every column; this moves the column
 * `target` out of the features into the target (with `positive`, a binary
 * target's positive level, as code 1) and drops the `weights` column (may be
 * NULL). Errors name the missing column. */
int ch_schema_pick_target(ch_schema *s, const char *target, const char *positive,
                          const char *weights, ch_err *err);
#endif
