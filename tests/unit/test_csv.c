/* test_csv.c: the CSV reader on the bundled data sets and on crafted bad
 * input: shapes, values at known rows, levels, missing values, and errors
 * that name the file, line and column. */
#include "common/table.h"
#include "tests/check.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>

/* Writes text to a new temp file; returns its malloc'd path. */
static char *s_tmp(const char *text, size_t len, const char *suffix)
{
    char *path = malloc(64);
    snprintf(path, 64, "/tmp/cohort_csv_XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
        perror("mkstemps/write");
        exit(2);
    }
    close(fd);
    return path;
}

/* Reads `text` through a temp file; returns the table (or NULL, err set). */
static ch_table *s_read_text(const char *text, ch_err *err, char **path_out)
{
    char *path = s_tmp(text, strlen(text), ".csv");
    ch_table *t = ch_table_read(path, CH_FORMAT_AUTO, err);
    if (path_out) {
        *path_out = path;
    } else {
        unlink(path);
        free(path);
    }
    return t;
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_iris(void)
{
    ch_err err = {0};
    ch_table *t = ch_table_read(ch_test_path("data/iris.csv"), CH_FORMAT_AUTO, &err);
    CHECK(t != NULL);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    CHECK(t->n_rows == 150);
    CHECK(t->n_cols == 5);
    CHECK_STR(t->cols[0].name, "sepal_length_cm");
    CHECK_STR(t->cols[4].name, "target");
    CHECK(t->cols[0].kind == CH_COL_NUMERIC);
    CHECK(t->cols[4].kind == CH_COL_CATEGORICAL);
    CHECK(t->cols[4].n_levels == 3);
    CHECK_STR(t->cols[4].levels[0], "setosa");
    CHECK_STR(t->cols[4].levels[1], "versicolor");
    CHECK_STR(t->cols[4].levels[2], "virginica");
    CHECK(t->cols[0].values[0] == 5.1);
    CHECK(t->cols[1].values[1] == 3.0);
    CHECK(t->cols[2].values[149] == 5.1);
    CHECK(t->cols[3].values[149] == 1.8);
    CHECK(t->cols[0].values[50] == 7.0); /* line 52, the first versicolor */
    CHECK(t->cols[4].values[49] == 0.0);
    CHECK(t->cols[4].values[50] == 1.0);
    CHECK(t->cols[4].values[149] == 2.0);
    CHECK_STR(t->source, ch_test_path("data/iris.csv"));
    ch_table_destroy(&t);
    CHECK(t == NULL);
}

static void test_churn(void)
{
    ch_err err = {0};
    double t0 = s_now();
    ch_table *t = ch_table_read(ch_test_path("data/churn.csv"), CH_FORMAT_AUTO, &err);
    double dt = s_now() - t0;
    CHECK(t != NULL);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    printf("churn.csv (5000 x 20) read and parsed in %.2f ms\n", dt * 1e3);
    CHECK(t->n_rows == 5000);
    CHECK(t->n_cols == 20);
    const char *cat[] = {"state", "area_code", "international_plan", "voice_mail_plan", "churn"};
    for (size_t k = 0; k < 5; k++) {
        long j = ch_table_find(t, cat[k]);
        CHECK(j >= 0);
        CHECK(j >= 0 && t->cols[j].kind == CH_COL_CATEGORICAL);
    }
    size_t n_cat = 0;
    for (size_t j = 0; j < t->n_cols; j++) {
        n_cat += t->cols[j].kind == CH_COL_CATEGORICAL;
    }
    CHECK(n_cat == 5);
    ch_column *state = &t->cols[ch_table_find(t, "state")];
    CHECK(state->n_levels == 51);
    CHECK_STR(state->levels[0], "AK");
    CHECK_STR(state->levels[50], "WY");
    for (size_t k = 1; k < state->n_levels; k++) {
        CHECK(strcmp(state->levels[k - 1], state->levels[k]) < 0);
    }
    /* row 0: "KS",128,"area_code_415","no","yes",25,265.1,... */
    CHECK_STR(state->levels[(size_t)state->values[0]], "KS");
    ch_column *area = &t->cols[ch_table_find(t, "area_code")];
    CHECK(area->n_levels == 3);
    CHECK_STR(area->levels[0], "area_code_408");
    CHECK_STR(area->levels[2], "area_code_510");
    CHECK(area->values[0] == 1.0);
    CHECK(t->cols[ch_table_find(t, "account_length")].values[0] == 128);
    CHECK(t->cols[ch_table_find(t, "total_day_minutes")].values[0] == 265.1);
    CHECK(t->cols[ch_table_find(t, "total_day_minutes")].values[1] == 161.6);
    CHECK(t->cols[ch_table_find(t, "total_intl_charge")].values[0] == 2.7);

    /* the target, yes as the positive class */
    CHECK(ch_table_set_target(t, "churn", "yes", &err) == 0);
    CHECK(t->has_target);
    CHECK(t->n_cols == 19);
    CHECK(ch_table_n_classes(t) == 2);
    CHECK_STR(t->target.levels[1], "yes");
    size_t yes = 0;
    for (size_t i = 0; i < t->n_rows; i++) {
        yes += t->target.values[i] == 1.0;
    }
    CHECK(yes == 707);
    ch_table_destroy(&t);
}

static void test_other_bundled(void)
{
    ch_err err = {0};
    struct {
        const char *file;
        size_t rows, cols;
        size_t n_categorical;
    } cases[] = {
        {"data/breast_cancer.csv", 569, 31, 1},
        {"data/wine.csv", 178, 14, 1},
        {"data/digits.csv", 1797, 65, 0},
        {"data/moons.csv", 100, 2, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        ch_table *t = ch_table_read(ch_test_path(cases[c].file), CH_FORMAT_CSV, &err);
        CHECK(t != NULL);
        if (!t) {
            fprintf(stderr, "%s: %s\n", cases[c].file, err.msg);
            continue;
        }
        CHECK(t->n_rows == cases[c].rows);
        CHECK(t->n_cols == cases[c].cols);
        size_t n_cat = 0;
        for (size_t j = 0; j < t->n_cols; j++) {
            n_cat += t->cols[j].kind == CH_COL_CATEGORICAL;
        }
        CHECK(n_cat == cases[c].n_categorical);
        ch_table_destroy(&t);
    }
    /* moons: the quoted header "X","Y" and full-precision values */
    ch_table *m = ch_table_read(ch_test_path("data/moons.csv"), CH_FORMAT_AUTO, &err);
    CHECK(m && strcmp(m->cols[0].name, "X") == 0 && strcmp(m->cols[1].name, "Y") == 0);
    CHECK(m && m->cols[0].values[0] == -0.415207563317);
    CHECK(m && m->cols[1].values[1] == 0.304334313802);
    ch_table_destroy(&m);
    /* wine: the header with a slash; digits: numeric target 0..9 */
    ch_table *w = ch_table_read(ch_test_path("data/wine.csv"), CH_FORMAT_AUTO, &err);
    CHECK(w && ch_table_find(w, "od280/od315_of_diluted_wines") == 11);
    CHECK(w && w->cols[0].values[0] == 14.23 && w->cols[12].values[0] == 1065.0);
    ch_table_destroy(&w);
    ch_table *d = ch_table_read(ch_test_path("data/digits.csv"), CH_FORMAT_AUTO, &err);
    CHECK(d && d->cols[64].kind == CH_COL_NUMERIC && d->cols[64].values[0] == 0.0 &&
          d->cols[64].values[1] == 1.0);
    ch_table_destroy(&d);
}

static void test_quoting_and_line_endings(void)
{
    ch_err err = {0};
    /* BOM, CRLF, quoted header, comma and "" inside quotes, a newline inside
     * quotes, no trailing newline */
    const char *text = "\xEF\xBB\xBF\"name\",\"x\"\r\n"
                       "\"Smith, John\",1.5\r\n"
                       "\"say \"\"hi\"\"\",2\r\n"
                       "\"two\nlines\",-3e2";
    ch_table *t = ch_csv_parse(text, strlen(text), "q.csv", &err);
    CHECK(t != NULL);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    CHECK(t->n_rows == 3 && t->n_cols == 2);
    CHECK_STR(t->cols[0].name, "name");
    CHECK_STR(t->cols[1].name, "x");
    CHECK(t->cols[0].kind == CH_COL_CATEGORICAL && t->cols[0].n_levels == 3);
    CHECK_STR(t->cols[0].levels[0], "Smith, John");
    CHECK_STR(t->cols[0].levels[1], "say \"hi\"");
    CHECK_STR(t->cols[0].levels[2], "two\nlines");
    CHECK(t->cols[0].values[1] == 1.0);
    CHECK(t->cols[1].values[0] == 1.5);
    CHECK(t->cols[1].values[2] == -300.0);
    ch_table_destroy(&t);

    /* lone CR line endings, and blank lines are skipped */
    const char *cr = "a,b\r1,2\r\r3,4\r";
    t = ch_csv_parse(cr, strlen(cr), "cr.csv", &err);
    CHECK(t && t->n_rows == 2 && t->cols[1].values[1] == 4.0);
    ch_table_destroy(&t);
}

static void test_missing(void)
{
    ch_err err = {0};
    const char *text = "a,b,c\n"
                       "1,x,\n"
                       "NA,y,2\n"
                       "NaN,\"NA\",nan\n"
                       "null,?,NULL\n"
                       "\"\",x, 7 \n";
    ch_table *t = ch_csv_parse(text, strlen(text), "m.csv", &err);
    CHECK(t != NULL);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    CHECK(t->n_rows == 5);
    CHECK(t->cols[0].kind == CH_COL_NUMERIC);
    CHECK(t->cols[0].values[0] == 1.0);
    for (size_t i = 1; i < 5; i++) {
        CHECK(isnan(t->cols[0].values[i]));
    }
    CHECK(t->cols[1].kind == CH_COL_CATEGORICAL && t->cols[1].n_levels == 2);
    CHECK(isnan(t->cols[1].values[2]) && isnan(t->cols[1].values[3]));
    CHECK(t->cols[1].values[4] == 0.0);
    CHECK(isnan(t->cols[2].values[0]) && t->cols[2].values[1] == 2.0);
    CHECK(isnan(t->cols[2].values[2]) && isnan(t->cols[2].values[3]));
    CHECK(t->cols[2].values[4] == 7.0); /* spaces around a number are fine */
    ch_table_destroy(&t);
}

static void test_inference(void)
{
    ch_err err = {0};
    /* 9 numbers and 1 word: 90% numbers -> error naming line 8 */
    const char *mostly = "id,age\n1,30\n2,31\n3,32\n4,33\n5,34\n6,abc\n7,35\n8,36\n9,37\n10,38\n";
    char *path = NULL;
    ch_table *t = s_read_text(mostly, &err, &path);
    CHECK(t == NULL);
    CHECK(err.code == CH_EINVAL);
    char want[256];
    snprintf(want, sizeof want, "%s:7: column 'age': text 'abc' in a numeric column", path);
    CHECK_HAS(err.msg, want);
    unlink(path);
    free(path);

    /* 8 of 10 numbers: categorical, with numbers as levels sorted by strcmp */
    const char *cat = "code\n10\n9\nA\n10\nB\n1\n2\n3\n4\n5\n";
    t = ch_csv_parse(cat, strlen(cat), "c.csv", &err);
    CHECK(t && t->cols[0].kind == CH_COL_CATEGORICAL);
    CHECK(t && t->cols[0].n_levels == 9);
    CHECK(t && strcmp(t->cols[0].levels[0], "1") == 0 && strcmp(t->cols[0].levels[1], "10") == 0);
    CHECK(t && strcmp(t->cols[0].levels[8], "B") == 0);
    CHECK(t && t->cols[0].values[0] == 1.0 && t->cols[0].values[3] == 1.0);
    ch_table_destroy(&t);

    /* inf, hex and 1e999 are text, not numbers */
    double v;
    CHECK(!ch_parse_number("inf", 3, (locale_t)0, &v));
    CHECK(!ch_parse_number("0x10", 4, (locale_t)0, &v));
    CHECK(!ch_parse_number("1e999", 5, (locale_t)0, &v));
    CHECK(!ch_parse_number("1.2.3", 5, (locale_t)0, &v));
    CHECK(!ch_parse_number("1e", 2, (locale_t)0, &v));
    CHECK(!ch_parse_number(".", 1, (locale_t)0, &v));
    CHECK(ch_parse_number(".5", 2, (locale_t)0, &v) && v == 0.5);
    CHECK(ch_parse_number("-0.000123e+2", 12, (locale_t)0, &v) && v == -0.0123);
    CHECK(ch_parse_number("0.1", 3, (locale_t)0, &v) && v == 0.1);
    /* the slow path agrees with strtod */
    const char *hard = "2.2250738585072011e-308";
    CHECK(ch_parse_number(hard, strlen(hard), (locale_t)0, &v) && v == strtod(hard, NULL));
    const char *longd = "3.14159265358979323846264338327950288";
    CHECK(ch_parse_number(longd, strlen(longd), (locale_t)0, &v) && v == strtod(longd, NULL));
    CHECK(ch_parse_number("123456789012345678901234", 24, (locale_t)0, &v) &&
          v == 123456789012345678901234.0);
}

static void test_errors(void)
{
    ch_err err = {0};
    char *path = NULL;
    char want[512];

    ch_table *t = s_read_text("a,b,c,d,e\n1,2,3,4,5\n1,2,3,4,5\n1,2,3,4\n", &err, &path);
    CHECK(t == NULL);
    snprintf(want, sizeof want, "%s:4: expected 5 fields, got 4 (ragged row)", path);
    CHECK_HAS(err.msg, want);
    unlink(path);
    free(path);

    /* a quoted newline earlier moves the line count on */
    t = s_read_text("a,b\n\"x\ny\",1\n1,2,3\n", &err, &path);
    CHECK(t == NULL);
    snprintf(want, sizeof want, "%s:4: expected 2 fields, got 3", path);
    CHECK_HAS(err.msg, want);
    unlink(path);
    free(path);

    t = s_read_text("a,b\n1,2\n\"open,3\n4,5\n", &err, &path);
    CHECK(t == NULL);
    snprintf(want, sizeof want, "%s:3: unterminated quoted field", path);
    CHECK_HAS(err.msg, want);
    unlink(path);
    free(path);

    t = s_read_text("a,b\n\"x\"y,1\n", &err, &path);
    CHECK(t == NULL);
    snprintf(want, sizeof want, "%s:2: text after a closing quote", path);
    CHECK_HAS(err.msg, want);
    unlink(path);
    free(path);

    t = s_read_text("", &err, &path);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, "empty file");
    CHECK_HAS(err.msg, path);
    unlink(path);
    free(path);

    t = s_read_text("\xEF\xBB\xBF\r\n\r\n", &err, NULL);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, "empty file");

    t = s_read_text("a,b,c\n", &err, &path);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, "no data rows");
    unlink(path);
    free(path);

    t = s_read_text("a,b,a\n1,2,3\n", &err, NULL);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, "column name 'a' appears twice (columns 1 and 3)");

    t = ch_csv_parse("a\n1\n\0\n", 6, "nul.csv", &err);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, "nul.csv:3: NUL byte");

    t = ch_table_read("/nonexistent/x.csv", CH_FORMAT_AUTO, &err);
    CHECK(t == NULL && err.code == CH_EIO);
    CHECK_HAS(err.msg, "cannot open /nonexistent/x.csv");

    t = ch_table_read("data.weird", CH_FORMAT_AUTO, &err);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, "cannot tell the format of 'data.weird'");

    /* the size limit, checked on the length without touching the bytes */
    ch_table *big = ch_csv_parse("a", (size_t)CH_READ_MAX_BYTES + 1, "big.csv", &err);
    CHECK(big == NULL);
    CHECK_HAS(err.msg, "4 GiB");
}

static void test_formats(void)
{
    CHECK(ch_format_parse("csv") == CH_FORMAT_CSV);
    CHECK(ch_format_parse("auto") == CH_FORMAT_AUTO);
    CHECK(ch_format_parse("libsvm") == CH_FORMAT_LIBSVM);
    CHECK(ch_format_parse("idx") == CH_FORMAT_IDX);
    CHECK(ch_format_parse("parquet") == -1);
    CHECK(ch_format_parse(NULL) == -1);
}

/* A wider synthetic file, to keep an eye on speed (not a benchmark). */
static void test_speed(void)
{
    size_t rows = 20000, cols = 50;
    size_t cap = rows * cols * 12 + 1024, n = 0;
    char *buf = malloc(cap);
    for (size_t j = 0; j < cols; j++) {
        n += (size_t)snprintf(buf + n, cap - n, "%sc%zu", j ? "," : "", j);
    }
    buf[n++] = '\n';
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < cols; j++) {
            n += (size_t)snprintf(buf + n, cap - n, "%s%.4f", j ? "," : "",
                                  (double)((i * 31 + j * 17) % 1000) / 7.0);
        }
        buf[n++] = '\n';
    }
    ch_err err = {0};
    double t0 = s_now();
    ch_table *t = ch_csv_parse(buf, n, "synthetic.csv", &err);
    double dt = s_now() - t0;
    printf("synthetic %zu x %zu (%.1f MB) parsed in %.1f ms\n", rows, cols, (double)n / 1e6,
           dt * 1e3);
    CHECK(t && t->n_rows == rows && t->n_cols == cols);
    CHECK(t && t->cols[7].values[123] == 133.1429); /* (123*31 + 7*17) % 1000 / 7 */
    ch_table_destroy(&t);
    free(buf);
}

int main(void)
{
    test_iris();
    test_churn();
    test_other_bundled();
    test_quoting_and_line_endings();
    test_missing();
    test_inference();
    test_errors();
    test_formats();
    test_speed();
    CH_TEST_END();
}
