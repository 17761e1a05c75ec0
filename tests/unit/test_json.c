/* test_json.c: the strict JSON reader: values, escapes, key order, paths,
 * bounds, and an error with line:column for every kind of bad input. */
#include "common/buf.h"
#include "common/json.h"
#include "tests/check.h"

#include <stdint.h>

static ch_json *s_parse(const char *text, ch_err *err)
{
    ch_err_clear(err);
    return ch_json_parse(text, strlen(text), err);
}

static void test_values(void)
{
    ch_err err;
    const char *text = "{\n  \"status\": \"finished\",\n  \"workers\": 2,\n"
                       "  \"metrics\": {\"test_rmse\": 0.54, \"test_r2\": -1.5e-3},\n"
                       "  \"ok\": true, \"no\": false, \"none\": null,\n"
                       "  \"coefficients\": [{\"name\": \"(Intercept)\", \"estimate\": 13}, "
                       "{\"name\": \"ash\"}],\n  \"empty\": [], \"eo\": {}\n}\n";
    ch_json *j = s_parse(text, &err);
    CHECK(j != NULL);
    if (!j) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    CHECK(ch_json_type_of(j) == CH_JSON_OBJECT);
    CHECK(ch_json_len(j) == 9);
    CHECK_STR(ch_json_str(ch_json_get(j, "status")), "finished");
    CHECK(ch_json_num(ch_json_get(j, "workers")) == 2.0);
    CHECK(ch_json_num(ch_json_path(j, "metrics.test_rmse")) == 0.54);
    CHECK(ch_json_num(ch_json_path(j, "metrics.test_r2")) == -1.5e-3);
    CHECK(ch_json_bool(ch_json_get(j, "ok"), false) == true);
    CHECK(ch_json_bool(ch_json_get(j, "no"), true) == false);
    CHECK(ch_json_is(ch_json_get(j, "none"), CH_JSON_NULL));
    CHECK_STR(ch_json_str(ch_json_path(j, "coefficients.1.name")), "ash");
    CHECK(ch_json_num(ch_json_path(j, "coefficients.0.estimate")) == 13.0);
    CHECK(ch_json_path(j, "coefficients.2.name") == NULL);
    CHECK(ch_json_path(j, "metrics.nope") == NULL);
    CHECK(ch_json_path(j, "status.x") == NULL);
    CHECK(ch_json_len(ch_json_get(j, "empty")) == 0);
    CHECK(ch_json_is(ch_json_get(j, "eo"), CH_JSON_OBJECT));
    /* key order is file order */
    const char *order[] = {"status", "workers", "metrics", "ok", "no", "none", "coefficients"};
    for (size_t i = 0; i < 7; i++) {
        CHECK_STR(ch_json_key_at(j, i), order[i]);
    }
    CHECK_STR(ch_json_key_at(ch_json_get(j, "metrics"), 1), "test_r2");
    CHECK(ch_json_key_at(j, 9) == NULL);
    CHECK(ch_json_at(j, 9) == NULL);
    /* wrong types give "nothing" */
    CHECK(isnan(ch_json_num(ch_json_get(j, "status"))));
    CHECK(ch_json_str(ch_json_get(j, "workers")) == NULL);
    CHECK(ch_json_get(ch_json_get(j, "coefficients"), "name") == NULL);
    CHECK(isnan(ch_json_num(NULL)));
    CHECK(ch_json_len(NULL) == 0);
    CHECK(ch_json_path(NULL, "a") == NULL);
    ch_json_destroy(&j);
    CHECK(j == NULL);
    ch_json_destroy(&j);
    ch_json_destroy(NULL);
}

static void test_scalars_and_numbers(void)
{
    ch_err err;
    struct {
        const char *text;
        double v;
    } nums[] = {
        {"0", 0},          {"-0", -0.0},  {"1", 1},
        {"-12.5", -12.5},  {"1e3", 1000}, {"1E+3", 1000},
        {"2.5e-2", 0.025}, {"  7  ", 7},  {"123456789012345678901234567890", 1.2345678901234568e29},
        {"1e-400", 0}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        ch_json *j = s_parse(nums[i].text, &err);
        CHECK(j != NULL);
        CHECK_REL(ch_json_num(j), nums[i].v, 1e-15, 1e-300);
        ch_json_destroy(&j);
    }
    ch_json *j = s_parse("true", &err);
    CHECK(ch_json_bool(j, false));
    ch_json_destroy(&j);
    j = s_parse("null", &err);
    CHECK(j && ch_json_type_of(j) == CH_JSON_NULL);
    ch_json_destroy(&j);
    /* the input needs no NUL: a number at the very end of the buffer */
    char buf[3] = {'4', '2', 'x'};
    j = ch_json_parse(buf, 2, &err);
    CHECK(ch_json_num(j) == 42.0);
    ch_json_destroy(&j);
}

static void test_strings(void)
{
    ch_err err;
    ch_json *j = s_parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", &err);
    CHECK_STR(ch_json_str(j), "a\"b\\c/d\b\f\n\r\t");
    ch_json_destroy(&j);
    /* \u escapes to UTF-8, a surrogate pair to one 4-byte sequence */
    j = s_parse("\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"", &err);
    CHECK_STR(ch_json_str(j), "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    CHECK(ch_json_str_len(j) == 10);
    ch_json_destroy(&j);
    /* raw UTF-8 passes through */
    j = s_parse("\"caf\xc3\xa9 \xe2\x82\xac\"", &err);
    CHECK_STR(ch_json_str(j), "caf\xc3\xa9 \xe2\x82\xac");
    ch_json_destroy(&j);
    /* an escaped NUL is kept; the length says so */
    j = s_parse("\"a\\u0000b\"", &err);
    CHECK(ch_json_str_len(j) == 3);
    CHECK(j && memcmp(ch_json_str(j), "a\0b", 4) == 0);
    ch_json_destroy(&j);
    /* a byte order mark is skipped */
    j = s_parse("\xef\xbb\xbf[1]", &err);
    CHECK(ch_json_len(j) == 1);
    ch_json_destroy(&j);
    /* duplicate keys: the first wins */
    j = s_parse("{\"a\": 1, \"a\": 2}", &err);
    CHECK(ch_json_num(ch_json_get(j, "a")) == 1.0);
    CHECK(ch_json_len(j) == 2);
    ch_json_destroy(&j);
}

/* text must fail with a message starting with `where` and containing `what` */
static void s_bad(const char *text, const char *where, const char *what)
{
    ch_err err;
    ch_json *j = s_parse(text, &err);
    CHECK(j == NULL);
    CHECK(err.code == CH_EINVAL);
    if (strncmp(err.msg, where, strlen(where)) != 0 || !strstr(err.msg, what)) {
        fprintf(stderr, "input %s: got \"%s\", expected \"%s ... %s\"\n", text, err.msg, where,
                what);
        CHECK(0);
    }
    ch_json_destroy(&j);
}

static void test_errors(void)
{
    s_bad("", "1:1:", "expected a value");
    s_bad("   \n  ", "2:3:", "expected a value");
    s_bad("[1, 2,]", "1:7:", "trailing comma");
    s_bad("{\"a\": 1,}", "1:9:", "trailing comma");
    s_bad("{\n  \"a\": 1\n  \"b\": 2\n}", "3:3:", "expected ',' or '}'");
    s_bad("{\"a\" 1}", "1:6:", "expected ':'");
    s_bad("{a: 1}", "1:2:", "expected a key string");
    s_bad("[1 2]", "1:4:", "expected ',' or ']'");
    s_bad("[1, 2", "1:1:", "array is not closed");
    s_bad("{\"a\": 1", "1:1:", "object is not closed");
    s_bad("\"abc", "1:1:", "string is not closed");
    s_bad("01", "1:1:", "leading zero");
    s_bad("-", "1:1:", "digit must follow '-'");
    s_bad("1.", "1:3:", "digit must follow '.'");
    s_bad("1e", "1:3:", "exponent");
    s_bad(".5", "1:1:", "expected a value");
    s_bad("+1", "1:1:", "expected a value");
    s_bad("1e999", "1:1:", "out of range");
    s_bad("NaN", "1:1:", "expected a value");
    s_bad("Infinity", "1:1:", "expected a value");
    s_bad("tru", "1:1:", "expected a value");
    s_bad("nul", "1:1:", "expected a value");
    s_bad("1 2", "1:3:", "after the value");
    s_bad("{} x", "1:4:", "after the value");
    s_bad("// c\n1", "1:1:", "expected a value");
    s_bad("\"a\tb\"", "1:3:", "control character 0x09");
    s_bad("\"\\x\"", "1:2:", "invalid escape \\'x'");
    s_bad("\"\\u12G4\"", "1:2:", "four hex digits");
    s_bad("\"\\ud800\"", "1:2:", "without a low surrogate");
    s_bad("\"\\ud800\\u0041\"", "1:2:", "without a low surrogate");
    s_bad("\"\\udc00\"", "1:2:", "lone low surrogate");
    s_bad("\"\xff\"", "1:2:", "invalid UTF-8");
    s_bad("\"\xc0\xaf\"", "1:2:", "invalid UTF-8");         /* overlong '/' */
    s_bad("\"\xed\xa0\x80\"", "1:2:", "invalid UTF-8");     /* encoded surrogate */
    s_bad("\"\xf4\x90\x80\x80\"", "1:2:", "invalid UTF-8"); /* above U+10FFFF */
    s_bad("\"\xe2\x82\"", "1:2:", "invalid UTF-8");         /* truncated */
}

static void test_bounds(void)
{
    ch_err err;
    /* 64 levels are fine, 65 are not */
    char deep[200];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = '\0';
    ch_json *j = s_parse(deep, &err);
    CHECK(j != NULL);
    ch_json_destroy(&j);
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    s_bad(deep, "1:65:", "deeper than 64");
    /* a deep attack does not recurse past the limit */
    size_t n = 1 << 20;
    char *big = malloc(n + 1);
    memset(big, '[', n);
    big[n] = '\0';
    j = ch_json_parse(big, n, &err);
    CHECK(j == NULL && strstr(err.msg, "deeper"));
    /* too large: refused before reading */
    j = ch_json_parse(big, CH_JSON_MAX_SIZE + 1, &err);
    CHECK(j == NULL && strstr(err.msg, "64 MiB"));
    free(big);
    /* a wide array: many children across arena chunks */
    ch_buf b = {0};
    ch_buf_puts(&b, "{\"xs\": [");
    for (int i = 0; i < 100000; i++) {
        ch_buf_printf(&b, "%s%d", i ? "," : "", i);
    }
    ch_buf_puts(&b, "], \"tail\": \"end\"}");
    j = ch_json_parse((const char *)b.data, b.len, &err);
    CHECK(ch_json_len(ch_json_get(j, "xs")) == 100000);
    CHECK(ch_json_num(ch_json_path(j, "xs.99999")) == 99999.0);
    CHECK_STR(ch_json_str(ch_json_get(j, "tail")), "end");
    ch_json_destroy(&j);
    ch_buf_free(&b);
}

int main(void)
{
    test_values();
    test_scalars_and_numbers();
    test_strings();
    test_errors();
    test_bounds();
    CH_TEST_END();
}
