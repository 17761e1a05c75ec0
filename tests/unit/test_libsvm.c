/* test_libsvm.c: the LIBSVM/SVMlight reader: dense columns f1..fK with
 * zeros for absent features, the label column, comments, qid, and errors
 * that name the file and line. */
#include "common/table.h"
#include "tests/check.h"

#include <unistd.h>

static char *s_tmp(const char *text, const char *suffix)
{
    char *path = malloc(64);
    snprintf(path, 64, "/tmp/cohort_svm_XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    size_t len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
        perror("mkstemps/write");
        exit(2);
    }
    close(fd);
    return path;
}

static void test_read(void)
{
    ch_err err = {0};
    const char *text = "# a comment line\n"
                       "+1 1:0.5 3:-2 # trailing comment\n"
                       "-1 qid:7 2:1e-3\r\n"
                       "\n"
                       "2.5 5:4\n"
                       "0";
    char *path = s_tmp(text, ".svm");
    ch_table *t = ch_table_read(path, CH_FORMAT_AUTO, &err);
    CHECK(t != NULL);
    if (t) {
        CHECK(t->n_rows == 4);
        CHECK(t->n_cols == 6);
        CHECK_STR(t->cols[0].name, "f1");
        CHECK_STR(t->cols[4].name, "f5");
        CHECK_STR(t->cols[5].name, "label");
        CHECK(t->cols[5].values[0] == 1.0 && t->cols[5].values[1] == -1.0);
        CHECK(t->cols[5].values[2] == 2.5 && t->cols[5].values[3] == 0.0);
        CHECK(t->cols[0].values[0] == 0.5 && t->cols[2].values[0] == -2.0);
        CHECK(t->cols[1].values[0] == 0.0); /* absent = 0 */
        CHECK(t->cols[1].values[1] == 1e-3);
        CHECK(t->cols[4].values[2] == 4.0);
        CHECK(t->cols[4].values[3] == 0.0);
        CHECK_STR(t->source, path);
        CHECK(ch_table_set_target(t, "label", NULL, &err) == 0);
        CHECK(t->n_cols == 5);
    } else {
        fprintf(stderr, "%s\n", err.msg);
    }
    ch_table_destroy(&t);
    /* the explicit format works on any name */
    t = ch_table_read(path, CH_FORMAT_LIBSVM, &err);
    CHECK(t && t->n_rows == 4);
    ch_table_destroy(&t);
    unlink(path);
    free(path);
}

static void test_errors(void)
{
    ch_err err = {0};
    struct {
        const char *text, *want;
    } cases[] = {
        {"1 1:2\nabc 1:2\n", ":2: label 'abc' is not a number"},
        {"1 1:2\n1 2:3\n1 1:x\n", ":3: bad feature '1:x'"},
        {"1 1:2 3\n", ":1: bad feature '3'"},
        {"1 0:2\n", ":1: feature index 0"},
        {"1 3:1 2:1\n", ":1: feature index 2 after 3; indices must be in ascending order"},
        {"1 2:1 2:1\n", ":1: feature index 2 after 2"},
        {"1 999999999:1\n", "larger than cohort's limit"},
        {"# only a comment\n\n", "no data rows"},
        {"1 1:inf\n", ":1: bad feature '1:inf'"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        ch_table *t = ch_libsvm_parse(cases[c].text, strlen(cases[c].text), "x.svm", &err);
        CHECK(t == NULL);
        CHECK(err.code == CH_EINVAL);
        CHECK_HAS(err.msg, cases[c].want);
        CHECK_HAS(err.msg, "x.svm");
        ch_table_destroy(&t);
    }
    /* too wide to hold densely: refused before allocating */
    char big[256];
    snprintf(big, sizeof big, "1 90000000:1\n1 1:1\n1 1:1\n1 1:1\n1 1:1\n1 1:1\n1 1:1\n1 1:1\n");
    ch_table *t = ch_libsvm_parse(big, strlen(big), "wide.svm", &err);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, "too large for a dense table");
}

int main(void)
{
    test_read();
    test_errors();
    CH_TEST_END();
}
