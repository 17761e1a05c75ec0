/* test_table.c: the table: columns, target and weights, take_rows,
 * fingerprint, schema and conform (new data encoded as in training). */
#include "common/table.h"
#include "tests/check.h"

static double *s_vals(size_t n, const double *src)
{
    double *v = malloc(n * sizeof *v);
    memcpy(v, src, n * sizeof *v);
    return v;
}

static char **s_levels(size_t n, const char *const *names)
{
    char **l = malloc(n * sizeof *l);
    for (size_t i = 0; i < n; i++) {
        l[i] = strdup(names[i]);
    }
    return l;
}

static ch_table *s_csv(const char *text)
{
    ch_err err = {0};
    ch_table *t = ch_csv_parse(text, strlen(text), "t.csv", &err);
    if (!t) {
        fprintf(stderr, "parse failed: %s\n", err.msg);
    }
    return t;
}

static void test_columns_and_target(void)
{
    ch_err err = {0};
    ch_table *t = ch_table_new(4);
    CHECK(t && t->n_rows == 4 && t->n_cols == 0);
    const double x[] = {1, 2, 3, 4};
    const double w[] = {1, 0.5, 2, 0};
    const double y[] = {0, 1, 1, 0}; /* codes into {no, yes} */
    const char *yn[] = {"no", "yes"};
    CHECK(ch_table_add_column(t, "x", CH_COL_NUMERIC, s_vals(4, x), NULL, 0) == 0);
    CHECK(ch_table_add_column(t, "w", CH_COL_NUMERIC, s_vals(4, w), NULL, 0) == 0);
    CHECK(ch_table_add_column(t, "churn", CH_COL_CATEGORICAL, s_vals(4, y), s_levels(2, yn), 2) ==
          0);
    CHECK(t->n_cols == 3);
    CHECK(ch_table_find(t, "w") == 1);
    CHECK(ch_table_find(t, "nope") == -1);

    /* a misspelt name: the error names the file, lists columns, suggests */
    t->source = strdup("data/churn.csv");
    CHECK(ch_table_set_target(t, "churnn", NULL, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "no column 'churnn' in data/churn.csv (columns: x, w, churn");
    CHECK_HAS(err.msg, "did you mean 'churn'?");
    CHECK(ch_table_set_target(t, "zzzzzzzz", NULL, &err) == CH_EINVAL);
    CHECK(strstr(err.msg, "did you mean") == NULL);
    CHECK(ch_table_set_target(t, "churn", "maybe", &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "no level 'maybe' (levels: no, yes)");
    CHECK(t->n_cols == 3 && !t->has_target);

    /* positive = "no" swaps the codes: no -> 1, yes -> 0 */
    CHECK(ch_table_set_target(t, "churn", "no", &err) == 0);
    CHECK(t->has_target && t->n_cols == 2);
    CHECK_STR(t->target.name, "churn");
    CHECK_STR(t->target.levels[0], "yes");
    CHECK_STR(t->target.levels[1], "no");
    CHECK(t->target.values[0] == 1.0 && t->target.values[1] == 0.0);
    CHECK(ch_table_n_classes(t) == 2);
    CHECK(ch_table_set_target(t, "x", NULL, &err) == CH_EINVAL);

    CHECK(ch_table_set_weights(t, "w", &err) == 0);
    CHECK(t->n_cols == 1 && t->weights && t->weights[1] == 0.5);
    CHECK(ch_table_find(t, "w") == -1);
    ch_table_destroy(&t);
    CHECK(t == NULL);
    ch_table_destroy(&t);   /* NULL is fine */
    ch_table_destroy(NULL); /* so is a NULL pointer */
}

static void test_target_positive(void)
{
    ch_err err = {0};
    ch_table *t = s_csv("a,y\n1,yes\n2,no\n3,yes\n4,NA\n");
    CHECK(ch_table_set_target(t, "y", "yes", &err) == 0);
    CHECK(t->target.values[0] == 1.0 && t->target.values[1] == 0.0);
    CHECK(t->target.values[2] == 1.0 && isnan(t->target.values[3]));
    CHECK_STR(t->target.levels[0], "no");
    CHECK_STR(t->target.levels[1], "yes");
    ch_table_destroy(&t);

    /* three levels: a positive class is refused */
    t = s_csv("a,y\n1,r\n2,g\n3,b\n");
    CHECK(ch_table_set_target(t, "y", "g", &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "has 3 levels (b, g, r)");
    CHECK(ch_table_set_target(t, "y", NULL, &err) == 0);
    CHECK(ch_table_n_classes(t) == 3);
    ch_table_destroy(&t);

    /* a numeric 0/1 target with positive "1" becomes categorical */
    t = s_csv("a,y\n1,0\n2,1\n3,1\n");
    CHECK(ch_table_set_target(t, "y", "1", &err) == 0);
    CHECK(t->target.kind == CH_COL_CATEGORICAL && t->target.n_levels == 2);
    CHECK_STR(t->target.levels[0], "0");
    CHECK_STR(t->target.levels[1], "1");
    CHECK(t->target.values[0] == 0.0 && t->target.values[2] == 1.0);
    ch_table_destroy(&t);
    t = s_csv("a,y\n1,0\n2,1\n3,2\n");
    CHECK(ch_table_set_target(t, "y", "1", &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "more than two values");
    ch_table_destroy(&t);
}

static void test_weights_errors(void)
{
    ch_err err = {0};
    ch_table *t = s_csv("a,w\n1,1\n2,-1\n");
    CHECK(ch_table_set_weights(t, "w", &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "t.csv: row 2: weight -1 in column 'w'");
    CHECK(t->weights == NULL && t->n_cols == 2);
    ch_table_destroy(&t);
    t = s_csv("a,w\n1,1\n2,NA\n");
    CHECK(ch_table_set_weights(t, "w", &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "row 2: weight in column 'w' is missing");
    ch_table_destroy(&t);
    t = s_csv("a,w\n1,x\n2,y\n");
    CHECK(ch_table_set_weights(t, "w", &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "weights must be numbers");
    ch_table_destroy(&t);
}

static void test_take_rows(void)
{
    ch_err err = {0};
    ch_table *t = s_csv("x,c,y,w\n10,a,1,0.1\n20,b,0,0.2\n30,a,1,0.3\n40,c,0,0.4\n");
    CHECK(ch_table_set_target(t, "y", NULL, &err) == 0);
    CHECK(ch_table_set_weights(t, "w", &err) == 0);
    size_t rows[] = {3, 0, 0};
    ch_table *s = ch_table_take_rows(t, rows, 3);
    CHECK(s != NULL);
    if (s) {
        CHECK(s->n_rows == 3 && s->n_cols == 2);
        CHECK(s->cols[0].values[0] == 40 && s->cols[0].values[1] == 10 &&
              s->cols[0].values[2] == 10);
        CHECK(s->cols[1].n_levels == 3);
        CHECK_STR(s->cols[1].levels[(size_t)s->cols[1].values[0]], "c");
        CHECK_STR(s->cols[1].levels[(size_t)s->cols[1].values[1]], "a");
        CHECK(s->has_target && s->target.values[0] == 0 && s->target.values[1] == 1);
        CHECK(s->weights && s->weights[0] == 0.4 && s->weights[2] == 0.1);
        CHECK_STR(s->source, "t.csv");
        CHECK(s->cols[1].levels != t->cols[1].levels); /* a deep copy */
    }
    ch_table_destroy(&s);
    size_t bad[] = {1, 4};
    CHECK(ch_table_take_rows(t, bad, 2) == NULL);
    ch_table *empty = ch_table_take_rows(t, rows, 0);
    CHECK(empty && empty->n_rows == 0 && empty->n_cols == 2);
    ch_table_destroy(&empty);
    ch_table_destroy(&t);
}

static void test_fingerprint(void)
{
    const char *text = "x,c\n1.5,a\n2,b\nNA,a\n";
    ch_table *a = s_csv(text), *b = s_csv(text);
    uint64_t fa = ch_table_fingerprint(a);
    CHECK(fa == ch_table_fingerprint(b));
    CHECK(fa != 0);
    /* a different NaN bit pattern is the same missing value */
    b->cols[0].values[2] = -NAN;
    CHECK(fa == ch_table_fingerprint(b));
    b->cols[0].values[1] = 2.0000000000000004;
    CHECK(fa != ch_table_fingerprint(b));
    b->cols[0].values[1] = 2;
    CHECK(fa == ch_table_fingerprint(b));
    free(b->cols[1].levels[1]);
    b->cols[1].levels[1] = strdup("B");
    CHECK(fa != ch_table_fingerprint(b));
    ch_table_destroy(&b);
    b = s_csv("x,d\n1.5,a\n2,b\nNA,a\n"); /* a column renamed */
    CHECK(fa != ch_table_fingerprint(b));
    ch_table_destroy(&b);
    b = s_csv(text);
    ch_err err = {0};
    CHECK(ch_table_set_target(b, "c", NULL, &err) == 0);
    CHECK(fa != ch_table_fingerprint(b)); /* the target is part of the schema */
    ch_table_destroy(&b);
    ch_table_destroy(&a);
}

static void test_conform(void)
{
    ch_err err = {0};
    /* training: state has levels {CA, NY, TX}; the target positive "yes" */
    ch_table *train = s_csv("state,x,zip,churn\nNY,1,100,yes\nCA,2,200,no\nTX,3,100,no\n");
    CHECK(ch_table_set_target(train, "churn", "yes", &err) == 0);
    ch_schema *s = ch_schema_from_table(train, "yes");
    CHECK(s && s->n_features == 3 && strcmp(s->positive, "yes") == 0);
    CHECK(s && s->features[0].values == NULL && s->features[0].n_levels == 3);
    CHECK_STR(s->target.levels[1], "yes");

    /* new data: columns in another order, an extra column, state seen in
     * another level order (its own codes differ), zip read as numeric */
    ch_table *t = s_csv("extra,x,churn,state,zip\n9,5,no,TX,100\n9,6,yes,CA,200\n9,7,NA,TX,100\n");
    CHECK(t->cols[3].n_levels == 2); /* {CA, TX}: TX is code 1 here */
    CHECK(ch_table_conform(t, s, &err) == 0);
    CHECK(t->n_cols == 3);
    CHECK_STR(t->cols[0].name, "state");
    CHECK_STR(t->cols[1].name, "x");
    CHECK_STR(t->cols[2].name, "zip");
    CHECK(t->cols[0].n_levels == 3);
    CHECK(t->cols[0].values[0] == 2.0); /* TX in {CA, NY, TX} */
    CHECK(t->cols[0].values[1] == 0.0); /* CA */
    CHECK(t->cols[1].values[2] == 7.0);
    CHECK(t->cols[2].kind == CH_COL_NUMERIC && t->cols[2].values[1] == 200);
    CHECK(t->has_target && t->target.kind == CH_COL_CATEGORICAL);
    CHECK(t->target.values[0] == 0.0 && t->target.values[1] == 1.0 && isnan(t->target.values[2]));
    CHECK_STR(t->target.levels[1], "yes");
    ch_table_destroy(&t);

    /* no target column: fine, has_target false */
    t = s_csv("state,x,zip\nNY,1,1\n");
    CHECK(ch_table_conform(t, s, &err) == 0);
    CHECK(!t->has_target && t->n_cols == 3);
    ch_table_destroy(&t);

    /* an unseen level: error naming the row, column and level */
    t = s_csv("state,x,zip\nNY,1,100\nWA,2,100\n");
    uint64_t before = ch_table_fingerprint(t);
    CHECK(ch_table_conform(t, s, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "t.csv, row 2: column 'state': level 'WA' was not seen in training");
    CHECK_HAS(err.msg, "(levels: CA, NY, TX)");
    CHECK(ch_table_fingerprint(t) == before); /* unchanged on error */
    ch_table_destroy(&t);

    /* a missing column */
    t = s_csv("state,zip\nNY,100\n");
    CHECK(ch_table_conform(t, s, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "t.csv lacks 1 column the model was trained on: 'x'");
    ch_table_destroy(&t);

    /* text where the model expects numbers */
    t = s_csv("state,x,zip\nNY,1,100\nNY,lots,100\nNY,lots,100\n");
    CHECK(ch_table_conform(t, s, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "row 2: column 'x': text 'lots' where the model was trained on numbers");
    ch_table_destroy(&t);
    ch_schema_destroy(&s);
    CHECK(s == NULL);
    ch_table_destroy(&train);

    /* trained on a column with words; new rows only have numbers in it */
    train = s_csv("code\nA\n10\n7\n");
    s = ch_schema_from_table(train, NULL);
    CHECK(s && s->features[0].kind == CH_COL_CATEGORICAL && s->target.name == NULL);
    t = s_csv("code\n7\n10\n");
    CHECK(t->cols[0].kind == CH_COL_NUMERIC);
    CHECK(ch_table_conform(t, s, &err) == 0);
    CHECK(t->cols[0].kind == CH_COL_CATEGORICAL);
    /* levels sorted by strcmp: "10" < "7" < "A" */
    CHECK(t->cols[0].values[0] == 1.0 && t->cols[0].values[1] == 0.0);
    ch_table_destroy(&t);
    t = s_csv("code\n8\n");
    CHECK(ch_table_conform(t, s, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "level '8' was not seen in training");
    ch_table_destroy(&t);
    ch_schema_destroy(&s);
    ch_table_destroy(&train);
}

int main(void)
{
    test_columns_and_target();
    test_target_positive();
    test_weights_errors();
    test_take_rows();
    test_fingerprint();
    test_conform();
    CH_TEST_END();
}
