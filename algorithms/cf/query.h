/* query.h: `cohort predict` questions that are not one prediction per
 * input row: a table with the user column and no item column asks for each
 * user's top-N recommendations; one with the item column and no user
 * column for each item's similar items (the ch_algo predict_csv hook). */
#ifndef CH_CF_QUERY_H
#define CH_CF_QUERY_H

#include "algorithms/cf/model.h"

/* Answers the question of table t (as read, not conformed: ids are matched
 * to the model's by label, the categorical level name or the number as
 * recommendations.csv prints it). Users only: user,rank,item,score, top_n
 * rows per input row, seen items excluded, an unknown user gets the
 * popularity list (score 0) as in recommendations.csv. Items only:
 * item,rank,neighbour,similarity, top_n rows per input row as in
 * similar_items.csv; an unknown item has no rows; user_knn has no similar
 * items (an error). Returns 1 when t has both columns or neither (an
 * ordinary prediction table: predict is used), 0 with the CSV appended to
 * csv, or a negative error naming the row (a missing id). */
int ch_cf_predict_csv(const void *model, const ch_table *t, ch_buf *csv, ch_err *err);

#endif
