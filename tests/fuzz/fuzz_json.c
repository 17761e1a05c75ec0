/* fuzz_json.c: libFuzzer target for the JSON reader: any bytes either parse
 * into a tree every accessor can walk or fail with a message; no crash, no
 * leak, no read past the input. */
#include "common/json.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Visits every node (depth is bounded by the parser). */
static size_t s_walk(const ch_json *j)
{
    size_t n = 1;
    switch (ch_json_type_of(j)) {
    case CH_JSON_STRING:
        n += ch_json_str_len(j) + strlen(ch_json_str(j));
        break;
    case CH_JSON_NUMBER:
        n += ch_json_num(j) > 0;
        break;
    case CH_JSON_OBJECT:
        for (size_t i = 0; i < ch_json_len(j); i++) {
            const char *k = ch_json_key_at(j, i);
            n += strlen(k);
            n += ch_json_get(j, k) != NULL;
            n += s_walk(ch_json_at(j, i));
        }
        break;
    case CH_JSON_ARRAY:
        for (size_t i = 0; i < ch_json_len(j); i++) {
            n += s_walk(ch_json_at(j, i));
        }
        break;
    default:
        n += ch_json_bool(j, false);
        break;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ch_err err;
    ch_err_clear(&err);
    ch_json *j = ch_json_parse((const char *)data, size, &err);
    if (!j) {
        /* a failure always says where */
        if (err.code == CH_EINVAL && !strchr(err.msg, ':')) {
            __builtin_trap();
        }
        return 0;
    }
    volatile size_t n = s_walk(j);
    (void)n;
    (void)ch_json_path(j, "metrics.test_r2");
    (void)ch_json_path(j, "0.a.1");
    ch_json_destroy(&j);
    return 0;
}
