/* test_buf.c: the growable buffer and its JSON/HTML escaping (common/buf.h). */
#include "common/buf.h"
#include "tests/check.h"

#include <math.h>
#include <stdlib.h>

int main(void)
{
    ch_buf b;
    ch_buf_init(&b);
    CHECK_STR(ch_buf_str(&b), "");
    for (int i = 0; i < 10000; i++) {
        ch_buf_puts(&b, "ab");
    }
    CHECK(b.len == 20000);
    CHECK(b.data[b.len] == 0);
    ch_buf_free(&b);

    ch_buf_json_str(&b, "a\"b\\c\nd\te\x01");
    CHECK_STR(ch_buf_str(&b), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
    ch_buf_free(&b);

    ch_buf_json_num(&b, 30);
    ch_buf_puts(&b, " ");
    ch_buf_json_num(&b, 0.1);
    ch_buf_puts(&b, " ");
    ch_buf_json_num(&b, NAN);
    ch_buf_puts(&b, " ");
    ch_buf_json_num(&b, 1.0 / 3.0);
    CHECK_STR(ch_buf_str(&b), "30 0.1 null 0.3333333333333333");
    /* the shortest digits still read back exactly */
    ch_buf_free(&b);
    ch_buf_json_num(&b, 0.1 + 0.2);
    CHECK(strtod(ch_buf_str(&b), NULL) == 0.1 + 0.2);
    ch_buf_free(&b);

    ch_buf_html(&b, "<a href='x'>&</a>\"");
    CHECK_STR(ch_buf_str(&b), "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;&quot;");
    ch_buf_free(&b);

    ch_buf_printf(&b, "%d-%s", 42, "x");
    char *taken = ch_buf_take(&b);
    CHECK_STR(taken, "42-x");
    CHECK(b.data == NULL && b.len == 0);
    free(taken);
    /* taking an empty buffer gives an empty string, not garbage */
    taken = ch_buf_take(&b);
    CHECK(taken && taken[0] == 0);
    free(taken);
    ch_buf_free(NULL);
    CH_TEST_END();
}
