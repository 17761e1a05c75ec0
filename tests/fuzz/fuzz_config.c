/* fuzz_config.c: libFuzzer target for the config parser: parse arbitrary
 * bytes, read a few keys, apply the first line as a --set, and check that
 * the emitted YAML parses back to an equal tree. */
#include "common/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads through the typed getters (which write defaults into the tree). */
static void s_read_some(ch_config *c)
{
    ch_err err;
    long l = 0;
    double d = 0;
    bool b = false;
    const char *s = NULL;
    int which = 0;
    double list[8];
    size_t n = 0;
    static const char *const algos[] = {"gbt", "linear", "mlp", NULL};
    static const char *const known[] = {"model.max_depth", "steps.*.name", "data", NULL};
    ch_cfg_int(c, "seed", 42, -1000000, 1000000, &l, &err);
    ch_cfg_num(c, "model.eta", 0.1, 0, 1, &d, &err);
    ch_cfg_bool(c, "model.early_stop", true, &b, &err);
    ch_cfg_str(c, "name", "run", &s, &err);
    ch_cfg_str(c, "data.train", NULL, &s, &err);
    ch_cfg_enum(c, "model.algorithm", "gbt", algos, &which, &err);
    ch_cfg_num_list(c, "model.layers", list, 8, &n, &err);
    ch_cfg_str(c, "steps.0.name", "first", &s, &err);
    ch_cfg_int(c, "steps.1.rounds", 3, 0, 10, &l, &err);
    for (size_t i = 0; i < ch_config_len(c, ""); i++) {
        const char *k = ch_config_key(c, "", i);
        if (k && ch_config_type(c, k) == CH_CFG_MAP) {
            ch_config *sub = ch_config_subtree(c, k);
            ch_config_destroy(&sub);
        }
        (void)ch_config_where(c, k ? k : "");
    }
    ch_config_check_unused(c, known, &err);
}

/* Emits c and aborts when the text does not parse back to an equal tree. */
static void s_round_trip(const ch_config *c)
{
    ch_err err;
    char *text = ch_config_emit(c);
    if (!text) {
        return;
    }
    ch_config *back = ch_config_parse(text, strlen(text), "emitted", &err);
    if (!back || !ch_config_equal(c, back)) {
        fprintf(stderr, "round trip failed: %s\n--- emitted:\n%s\n---\n",
                back ? "trees differ" : err.msg, text);
        abort();
    }
    ch_config_destroy(&back);
    free(text);
}

/* libFuzzer entry point: one input is one config file. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ch_err err;
    ch_config *c = ch_config_parse((const char *)data, size, "fuzz.yaml", &err);
    if (!c) {
        return 0;
    }
    s_round_trip(c);
    s_read_some(c);
    s_round_trip(c);

    /* the first line (if it has no NUL) as a --set argument */
    const uint8_t *nl = memchr(data, '\n', size);
    size_t len = nl ? (size_t)(nl - data) : size;
    if (len < 512 && !memchr(data, '\0', len)) {
        char arg[512];
        memcpy(arg, data, len);
        arg[len] = '\0';
        ch_config_set(c, arg, &err);
        ch_config_set_str(c, "name", arg, &err);
        ch_config *d = ch_config_copy(c);
        if (d) {
            ch_config_set_tree(d, "copy.of.c", c, &err);
            ch_config_remove(d, "seed");
            s_round_trip(d);
        }
        ch_config_destroy(&d);
        s_round_trip(c);
    }
    ch_config_destroy(&c);
    return 0;
}
