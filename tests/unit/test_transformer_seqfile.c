/* test_transformer_seqfile.c: sequences in long form (seqfile.c) and their
 * encoding as padded, masked rows (inputs.c): grouping by id with rows out
 * of order, ordering by position (ties in file order), standardisation,
 * numeric and text ids, and the errors (a sequence longer than max_length,
 * a categorical feature, too few columns, an id without rows). */
#include "algorithms/transformer/inputs.h"
#include "algorithms/transformer/seqfile.h"
#include "tests/check.h"

#include <unistd.h>

static char s_dir[] = "/tmp/cohort-seqfile-XXXXXX";

static const char *s_write(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_read(void)
{
    /* b's rows come before a's and out of order; a has a tie at position 2 */
    const char *p = s_write("s.csv", "id,pos,x,y\n"
                                     "b,3,30,1\n"
                                     "a,2,20,2\n"
                                     "b,1,10,3\n"
                                     "a,1,10,4\n"
                                     "a,2,21,5\n"
                                     "c,9,,6\n");
    ch_err err;
    ch_err_clear(&err);
    ch_tfm_seqs *s = ch_tfm_seqs_read(p, 0, false, &err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    CHECK(s->n_ids == 3 && s->d == 2 && s->max_len == 3);
    long a = ch_tfm_seqs_find(s, "a"), b = ch_tfm_seqs_find(s, "b"), c = ch_tfm_seqs_find(s, "c");
    CHECK(a == 0 && b == 1 && c == 2 && ch_tfm_seqs_find(s, "d") == -1);
    CHECK(s->len[0] == 3 && s->len[1] == 2 && s->len[2] == 1);
    /* a: positions 1, 2, 2 (file order for the tie): x = 10, 20, 21 */
    const float *va = s->vals + s->first[0] * 2;
    CHECK(va[0] == 10 && va[2] == 20 && va[4] == 21 && va[5] == 5);
    const float *vb = s->vals + s->first[1] * 2;
    CHECK(vb[0] == 10 && vb[2] == 30);
    CHECK(isnan(s->vals[s->first[2] * 2])); /* raw values keep the missing one */
    ch_tfm_seqs_destroy(&s);

    /* standardised: x over its 5 values (10, 20, 21, 10, 30): mean 18.2 */
    s = ch_tfm_seqs_read(p, 0, true, &err);
    CHECK(s != NULL);
    double m = 18.2, sd = sqrt((10 * 10 + 20 * 20 + 21 * 21 + 10 * 10 + 30 * 30) / 5.0 - m * m);
    CHECK_NEAR(s->vals[s->first[0] * 2], (10 - m) / sd, 1e-6);
    CHECK(s->vals[s->first[2] * 2] == 0.0f); /* missing: the mean */
    ch_tfm_seqs_destroy(&s);

    /* too long for max_length 2: names the file, the sequence and the line */
    s = ch_tfm_seqs_read(p, 2, true, &err);
    CHECK(s == NULL);
    CHECK(strstr(err.msg, "sequence 'a' has more than model.max_length 2 elements") != NULL);
    CHECK(strstr(err.msg, "line 6") != NULL);
    p = s_write("cat.csv", "id,pos,x\n1,1,red\n1,2,blue\n2,1,red\n");
    CHECK(ch_tfm_seqs_read(p, 0, true, &err) == NULL);
    CHECK(strstr(err.msg, "feature column 'x' is not numeric") != NULL);
    p = s_write("two.csv", "id,pos\n1,1\n");
    CHECK(ch_tfm_seqs_read(p, 0, true, &err) == NULL);
    CHECK(strstr(err.msg, "this one has 2") != NULL);
}

/* A table of ids 7, 8 (numeric ids, as the CSV reader gives them) against
 * a file whose ids are written 7 and 8.0. */
static void test_encode(void)
{
    const char *p = s_write("n.csv", "id,pos,x\n8.0,1,1\n7,1,2\n7,2,3\n");
    char *path = strdup(p);
    ch_table *t = ch_table_new(3);
    double *v = malloc(3 * sizeof *v);
    v[0] = 7;
    v[1] = 8;
    v[2] = 9;
    ch_table_add_column(t, "id", CH_COL_NUMERIC, v, NULL, 0);
    ch_schema *sc = ch_schema_from_table(t, NULL);
    ch_err err;
    ch_err_clear(&err);
    ch_tfm_inputs *in = ch_tfm_inputs_new(sc, 3, false, 0, path, "id", &err);
    CHECK(in != NULL);
    if (in) {
        float x[3 * 3];
        uint8_t mask[3 * 3];
        CHECK(ch_tfm_inputs_encode(in, t, NULL, 2, x, mask, NULL, &err) == 0);
        CHECK(mask[0] == 1 && mask[1] == 1 && mask[2] == 0); /* 7: two elements */
        CHECK(mask[3] == 1 && mask[4] == 0 && mask[5] == 0); /* 8: one */
        CHECK(x[0] < x[1] && x[2] == 0.0f);                  /* 2 then 3, standardised */
        CHECK(ch_tfm_inputs_encode(in, t, NULL, 3, x, mask, NULL, &err) != 0);
        CHECK(strstr(err.msg, "row 3: sequence id '9' has no rows") != NULL);
        ch_tfm_inputs_destroy(&in);
    }
    /* a table column other than the id */
    double *v2 = calloc(3, sizeof *v2);
    ch_table_add_column(t, "age", CH_COL_NUMERIC, v2, NULL, 0);
    ch_schema *sc2 = ch_schema_from_table(t, NULL);
    CHECK(ch_tfm_inputs_new(sc2, 3, false, 0, path, "id", &err) == NULL);
    CHECK(strstr(err.msg, "column 'age' of the training data is not used") != NULL);
    ch_schema_destroy(&sc);
    ch_schema_destroy(&sc2);
    ch_table_destroy(&t);
    free(path);
}

int main(void)
{
    if (!mkdtemp(s_dir)) {
        return 1;
    }
    test_read();
    test_encode();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", s_dir);
    }
    CH_TEST_END();
}
