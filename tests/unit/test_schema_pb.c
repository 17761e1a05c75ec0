/* test_schema_pb.c: schemas on the wire and merging silo schemas
 * (common/schema_pb.h). */
#include "common/schema_pb.h"
#include "tests/check.h"

#include <stdlib.h>

static char **s_levels(const char *a, const char *b, const char *c, size_t *n)
{
    char **l = calloc(3, sizeof *l);
    *n = 0;
    if (a) {
        l[(*n)++] = strdup(a);
    }
    if (b) {
        l[(*n)++] = strdup(b);
    }
    if (c) {
        l[(*n)++] = strdup(c);
    }
    return l;
}

static ch_table *s_table(const char *l1, const char *l2)
{
    ch_table *t = ch_table_new(2);
    double *x = calloc(2, sizeof *x);
    double *c = calloc(2, sizeof *c);
    double *y = calloc(2, sizeof *y);
    size_t n;
    char **lv = s_levels(l1, l2, NULL, &n);
    ch_table_add_column(t, "x", CH_COL_NUMERIC, x, NULL, 0);
    ch_table_add_column(t, "state", CH_COL_CATEGORICAL, c, lv, n);
    ch_table_add_column(t, "y", CH_COL_NUMERIC, y, NULL, 0);
    return t;
}

int main(void)
{
    ch_err err;
    ch_table *a = s_table("CA", "NY");
    ch_table *b = s_table("AK", "NY");
    ch_schema *sa = ch_schema_from_table(a, NULL);
    ch_schema *sb = ch_schema_from_table(b, NULL);
    /* round trip through protobuf */
    Cohort__Schema *pb = ch_schema_to_pb(sa);
    size_t size = cohort__schema__get_packed_size(pb);
    uint8_t *buf = malloc(size);
    cohort__schema__pack(pb, buf);
    Cohort__Schema *back = cohort__schema__unpack(NULL, size, buf);
    ch_schema *sc = ch_schema_from_pb(back, &err);
    CHECK(sc && sc->n_features == 3);
    CHECK_STR(sc->features[1].levels[1], "NY");
    cohort__schema__free_unpacked(back, NULL);
    ch_schema_pb_free(pb);
    free(buf);
    /* merge: levels become the sorted union */
    CHECK(ch_schema_merge(sa, sb, &err) == 0);
    CHECK(sa->features[1].n_levels == 3);
    CHECK_STR(sa->features[1].levels[0], "AK");
    CHECK_STR(sa->features[1].levels[1], "CA");
    CHECK_STR(sa->features[1].levels[2], "NY");
    /* pick the target */
    CHECK(ch_schema_pick_target(sa, "y", NULL, NULL, &err) == 0);
    CHECK(sa->n_features == 2 && !strcmp(sa->target.name, "y"));
    CHECK(ch_schema_pick_target(sc, "nope", NULL, NULL, &err) != 0);
    CHECK_HAS(err.msg, "no target column 'nope'");
    /* silos that disagree on a column's name */
    ch_schema *sd = ch_schema_from_table(a, NULL);
    free(sd->features[0].name);
    sd->features[0].name = strdup("z");
    CHECK(ch_schema_merge(sd, sb, &err) != 0);
    CHECK_HAS(err.msg, "silos disagree on column 1");
    /* untrusted schema: unsorted levels are rejected */
    Cohort__Column col = COHORT__COLUMN__INIT;
    char *bad[] = {"b", "a"};
    col.name = "c";
    col.categorical = 1;
    col.n_levels = 2;
    col.levels = bad;
    Cohort__Column *cols[] = {&col};
    Cohort__Schema hostile = COHORT__SCHEMA__INIT;
    hostile.n_features = 1;
    hostile.features = cols;
    CHECK(ch_schema_from_pb(&hostile, &err) == NULL);
    CHECK_HAS(err.msg, "not sorted");
    ch_schema_destroy(&sa);
    ch_schema_destroy(&sb);
    ch_schema_destroy(&sc);
    ch_schema_destroy(&sd);
    ch_table_destroy(&a);
    ch_table_destroy(&b);
    CH_TEST_END();
}
