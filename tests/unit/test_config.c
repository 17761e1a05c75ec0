/* test_config.c: unit tests of the configuration tree (common/config.c). */
#include "common/config.h"
#include "tests/check.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The DESIGN.md sketch plus a sequence of steps; line numbers matter below. */
static const char *k_exp = "name: churn-gbt\n"                 /* 1 */
                           "seed: 42\n"                        /* 2 */
                           "data:\n"                           /* 3 */
                           "  train: data/churn.csv\n"         /* 4 */
                           "  target: churn\n"                 /* 5 */
                           "  positive: \"yes\"\n"             /* 6 */
                           "  test_fraction: 0.2\n"            /* 7 */
                           "partition: {scheme: stratified}\n" /* 8 */
                           "workers: 4\n"                      /* 9 */
                           "model:\n"                          /* 10 */
                           "  algorithm: gbt\n"                /* 11 */
                           "  rounds: 200\n"                   /* 12 */
                           "  eta: fast\n"                     /* 13 */
                           "  layers: [64, 32]\n"              /* 14 */
                           "steps:\n"                          /* 15 */
                           "  - name: fit\n"                   /* 16 */
                           "    rounds: 10\n"                  /* 17 */
                           "  - name: eval\n";                 /* 18 */

static ch_config *s_parse(const char *text, ch_err *err)
{
    return ch_config_parse(text, strlen(text), "exp.yaml", err);
}

/* Parses text and returns the error message (empty when it parsed). */
static const char *s_parse_error(const char *text, ch_err *err)
{
    ch_err_clear(err);
    ch_config *c = s_parse(text, err);
    if (c) {
        ch_config_destroy(&c);
        return "";
    }
    return err->msg;
}

/* Emits c, re-parses the text and checks the trees are equal. */
static void s_check_round_trip(const ch_config *c)
{
    ch_err err;
    char *text = ch_config_emit(c);
    CHECK(text != NULL);
    if (!text) {
        return;
    }
    ch_config *back = ch_config_parse(text, strlen(text), "emitted", &err);
    CHECK(back != NULL);
    if (!back) {
        fprintf(stderr, "re-parse failed: %s\n--- emitted:\n%s---\n", err.msg, text);
    } else {
        bool eq = ch_config_equal(c, back);
        CHECK(eq);
        if (!eq) {
            fprintf(stderr, "round trip differs; emitted:\n%s---\n", text);
        }
    }
    ch_config_destroy(&back);
    free(text);
}

static void test_reads(void)
{
    ch_err err;
    ch_config *c = s_parse(k_exp, &err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    long seed = 0;
    CHECK(ch_cfg_int(c, "seed", 1, 0, 1000, &seed, &err) == 0);
    CHECK(seed == 42);
    const char *s = NULL;
    CHECK(ch_cfg_str(c, "data.train", NULL, &s, &err) == 0);
    CHECK_STR(s, "data/churn.csv");
    CHECK(ch_cfg_str(c, "data.positive", NULL, &s, &err) == 0);
    CHECK_STR(s, "yes");
    double frac = 0;
    CHECK(ch_cfg_num(c, "data.test_fraction", 0.5, 0, 1, &frac, &err) == 0);
    CHECK_NEAR(frac, 0.2, 1e-15);
    CHECK(ch_cfg_str(c, "partition.scheme", "random", &s, &err) == 0);
    CHECK_STR(s, "stratified");

    CHECK_STR(ch_config_where(c, "seed"), "exp.yaml:2");
    CHECK_STR(ch_config_where(c, "data.test_fraction"), "exp.yaml:7");
    CHECK_STR(ch_config_where(c, "model"), "exp.yaml:10");
    /* absent: the nearest existing parent */
    CHECK_STR(ch_config_where(c, "model.nothing.here"), "exp.yaml:10");
    CHECK_STR(ch_config_name(c), "exp.yaml");

    /* a wrong type names file, line and key */
    double eta = -1;
    CHECK(ch_cfg_num(c, "model.eta", 0.1, 0, 1, &eta, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "exp.yaml:13: model.eta: expected a number, got 'fast'");
    CHECK(eta == -1);
    /* a range error */
    long rounds = 0;
    CHECK(ch_cfg_int(c, "model.rounds", 100, 1, 150, &rounds, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "exp.yaml:12: model.rounds: '200' is out of range [1, 150]");
    CHECK(ch_cfg_int(c, "model.rounds", 100, 1, 1000, &rounds, &err) == 0);
    CHECK(rounds == 200);
    /* a mapping where a scalar is expected, and a scalar on the way */
    CHECK(ch_cfg_int(c, "data", 0, 0, 1, &rounds, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "exp.yaml:3: data: expected an integer, got a mapping");
    CHECK(ch_cfg_int(c, "seed.x", 0, 0, 1, &rounds, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "exp.yaml:2: seed: expected a mapping, got '42'");
    CHECK(ch_cfg_int(c, "a..b", 0, 0, 1, &rounds, &err) == CH_EINVAL);

    /* number lists: a flow sequence and a single number */
    double v[4];
    size_t n = 99;
    CHECK(ch_cfg_num_list(c, "model.layers", v, 4, &n, &err) == 0);
    CHECK(n == 2 && v[0] == 64 && v[1] == 32);
    CHECK(ch_cfg_num_list(c, "model.layers", v, 1, &n, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "exp.yaml:14: model.layers: at most 1 values, got 2");
    CHECK(ch_cfg_num_list(c, "workers", v, 4, &n, &err) == 0);
    CHECK(n == 1 && v[0] == 4);
    CHECK(ch_cfg_num_list(c, "model.hidden", v, 4, &n, &err) == 0);
    CHECK(n == 0);
    CHECK(!ch_config_has(c, "model.hidden"));

    /* sequence indexing */
    CHECK(ch_config_type(c, "steps") == CH_CFG_SEQ);
    CHECK(ch_config_len(c, "steps") == 2);
    CHECK(ch_cfg_str(c, "steps.1.name", NULL, &s, &err) == 0);
    CHECK_STR(s, "eval");
    CHECK(ch_cfg_int(c, "steps.0.rounds", 1, 1, 100, &rounds, &err) == 0);
    CHECK(rounds == 10);
    CHECK_STR(ch_config_where(c, "steps.1.name"), "exp.yaml:18");
    CHECK_STR(ch_config_where(c, "steps.1"), "exp.yaml:18");
    /* a default inside an existing item is written; past the end it is not */
    CHECK(ch_cfg_int(c, "steps.1.rounds", 5, 1, 100, &rounds, &err) == 0);
    CHECK(rounds == 5 && ch_config_has(c, "steps.1.rounds"));
    CHECK(ch_cfg_int(c, "steps.7.rounds", 3, 1, 100, &rounds, &err) == 0);
    CHECK(rounds == 3 && ch_config_len(c, "steps") == 2);
    CHECK(ch_cfg_str(c, "steps.name", "x", &s, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "exp.yaml:15: steps: expected a mapping, got a sequence");
    CHECK(ch_config_type(c, "steps.0") == CH_CFG_MAP);
    CHECK(ch_config_type(c, "steps.00") == CH_CFG_NONE);
    CHECK(ch_config_type(c, "nothing") == CH_CFG_NONE);
    CHECK(ch_config_type(c, "") == CH_CFG_MAP);
    CHECK(ch_config_len(c, "") == 7);
    CHECK_STR(ch_config_key(c, "", 0), "name");
    CHECK_STR(ch_config_key(c, "data", 3), "test_fraction");
    CHECK(ch_config_key(c, "data", 4) == NULL);
    CHECK(ch_config_key(c, "steps", 0) == NULL);

    /* enums list their choices */
    static const char *const algos[] = {"gbt", "linear", "mlp", NULL};
    int which = -1;
    CHECK(ch_cfg_enum(c, "model.algorithm", "linear", algos, &which, &err) == 0);
    CHECK(which == 0);
    CHECK(ch_cfg_enum(c, "data.target", NULL, algos, &which, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "exp.yaml:5: data.target: expected one of gbt, linear, mlp; got 'churn'");
    CHECK(ch_cfg_enum(c, "model.kind", "mlp", algos, &which, &err) == 0);
    CHECK(which == 2);
    ch_config_destroy(&c);
    CHECK(c == NULL);
    ch_config_destroy(&c);
    ch_config_destroy(NULL);
}

static void test_scalars(void)
{
    ch_err err;
    ch_config *c = s_parse("a: 1e3\nb: -17\nc: +5\nd: 1.5e-3\ne: .inf\nf: 1e999\ng: 0x10\n"
                           "h: Yes\ni: OFF\nj: maybe\nk:\nl: ''\nm: ~\nn: 9223372036854775808\n"
                           "o: \"12\"\np: .5\nq: 5.\n",
                           &err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    long i = 0;
    double d = 0;
    bool b = false;
    const char *s = NULL;
    CHECK(ch_cfg_int(c, "a", 0, -10000, 10000, &i, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "exp.yaml:1: a: expected an integer, got '1e3'");
    CHECK(ch_cfg_num(c, "a", 0, -1e9, 1e9, &d, &err) == 0);
    CHECK(d == 1000);
    CHECK(ch_cfg_int(c, "b", 0, -100, 100, &i, &err) == 0);
    CHECK(i == -17);
    CHECK(ch_cfg_int(c, "c", 0, -100, 100, &i, &err) == 0);
    CHECK(i == 5);
    CHECK(ch_cfg_num(c, "d", 0, 0, 1, &d, &err) == 0);
    CHECK_NEAR(d, 0.0015, 1e-18);
    CHECK(ch_cfg_num(c, "e", 0, -1e300, 1e300, &d, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "exp.yaml:5: e: expected a number, got '.inf'");
    CHECK(ch_cfg_num(c, "f", 0, -1e300, 1e300, &d, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "exp.yaml:6: f: expected a finite number, got '1e999'");
    CHECK(ch_cfg_num(c, "g", 0, 0, 100, &d, &err) == CH_EINVAL);
    CHECK(ch_cfg_num(c, "p", 0, 0, 1, &d, &err) == 0);
    CHECK(d == 0.5);
    CHECK(ch_cfg_num(c, "q", 0, 0, 10, &d, &err) == 0);
    CHECK(d == 5);
    CHECK(ch_cfg_bool(c, "h", false, &b, &err) == 0);
    CHECK(b == true);
    CHECK(ch_cfg_bool(c, "i", true, &b, &err) == 0);
    CHECK(b == false);
    CHECK(ch_cfg_bool(c, "j", true, &b, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "exp.yaml:10: j: expected true or false");
    CHECK_HAS(err.msg, "got 'maybe'");
    CHECK(ch_cfg_str(c, "k", "x", &s, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "exp.yaml:11: k: expected a string, got nothing");
    CHECK(ch_cfg_str(c, "l", "x", &s, &err) == 0);
    CHECK_STR(s, "");
    CHECK(ch_cfg_str(c, "m", "x", &s, &err) == CH_EINVAL);
    CHECK(ch_cfg_int(c, "n", 0, 0, 10, &i, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "exp.yaml:14: n: '9223372036854775808' is out of range [0, 10]");
    CHECK(ch_cfg_int(c, "o", 0, 0, 100, &i, &err) == 0);
    CHECK(i == 12);
    CHECK(ch_cfg_str(c, "o", NULL, &s, &err) == 0);
    CHECK_STR(s, "12");
    /* a default outside its own range is the caller's bug, still an error */
    CHECK(ch_cfg_int(c, "zz", 50, 0, 10, &i, &err) == CH_EINVAL);
    CHECK(!ch_config_has(c, "zz"));
    ch_config_destroy(&c);
}

static void test_defaults_written(void)
{
    ch_err err;
    ch_config *c = s_parse("model:\n  algorithm: gbt\n", &err);
    CHECK(c != NULL);
    if (!c) {
        return;
    }
    long depth = 0;
    double eta = 0;
    bool es = true;
    const char *s = NULL;
    CHECK(ch_cfg_int(c, "model.max_depth", 6, 1, 32, &depth, &err) == 0);
    CHECK(depth == 6);
    CHECK(ch_cfg_num(c, "model.eta", 0.1, 0, 1, &eta, &err) == 0);
    CHECK(eta == 0.1);
    CHECK(ch_cfg_bool(c, "train.early_stop", false, &es, &err) == 0);
    CHECK(es == false);
    CHECK(ch_cfg_str(c, "data.positive", "yes", &s, &err) == 0);
    CHECK_STR(s, "yes");
    CHECK(ch_config_has(c, "model.max_depth"));
    CHECK(ch_config_is_default(c, "model.max_depth"));
    CHECK(!ch_config_is_default(c, "model.algorithm"));
    CHECK(ch_config_type(c, "train") == CH_CFG_MAP);
    CHECK_STR(ch_config_where(c, "model.eta"), "(default)");
    /* a second read sees the value written, not a new default */
    CHECK(ch_cfg_int(c, "model.max_depth", 9, 1, 32, &depth, &err) == 0);
    CHECK(depth == 6);
    /* the data.train default is required */
    CHECK(ch_cfg_str(c, "data.train", NULL, &s, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "missing required key data.train in exp.yaml");

    char *text = ch_config_emit(c);
    CHECK(text != NULL);
    CHECK_STR(text, "model:\n"
                    "  algorithm: gbt\n"
                    "  max_depth: 6 # default\n"
                    "  eta: 0.1 # default\n"
                    "train:\n"
                    "  early_stop: false # default\n"
                    "data:\n"
                    "  positive: \"yes\" # default\n");
    ch_config *back = text ? ch_config_parse(text, strlen(text), "resolved.yaml", &err) : NULL;
    CHECK(back != NULL);
    if (back) {
        depth = 0;
        CHECK(ch_cfg_int(back, "model.max_depth", 1, 1, 32, &depth, &err) == 0);
        CHECK(depth == 6);
        /* the "# default" marks are read back, so the text round-trips */
        CHECK(ch_config_is_default(back, "model.max_depth"));
        CHECK(!ch_config_is_default(back, "model.algorithm"));
        char *again = ch_config_emit(back);
        CHECK(again && strcmp(again, text) == 0);
        free(again);
        CHECK(ch_cfg_str(back, "data.positive", NULL, &s, &err) == 0);
        CHECK_STR(s, "yes");
        CHECK(ch_config_equal(c, back));
    }
    ch_config_destroy(&back);
    free(text);
    ch_config_destroy(&c);
}

static void test_set(void)
{
    ch_err err;
    ch_config *c = s_parse("seed: 42\nmodel:\n  eta: 0.3\nlist: [1, 2]\n", &err);
    CHECK(c != NULL);
    if (!c) {
        return;
    }
    long seed = 0;
    double eta = 0;
    /* overriding an existing value moves its location to --set */
    CHECK_STR(ch_config_where(c, "seed"), "exp.yaml:1");
    CHECK(ch_config_set(c, "seed=7", &err) == 0);
    CHECK(ch_cfg_int(c, "seed", 0, 0, 100, &seed, &err) == 0);
    CHECK(seed == 7);
    CHECK_STR(ch_config_where(c, "seed"), "--set");
    CHECK(ch_config_set(c, "model.eta=fast", &err) == 0);
    CHECK(ch_cfg_num(c, "model.eta", 0.1, 0, 1, &eta, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "--set: model.eta: expected a number, got 'fast'");
    CHECK_STR(ch_config_key(c, "", 1), "model"); /* order kept */
    /* intermediate maps are created */
    CHECK(ch_config_set(c, "a.b.c=1", &err) == 0);
    CHECK(ch_config_type(c, "a") == CH_CFG_MAP);
    CHECK(ch_config_type(c, "a.b") == CH_CFG_MAP);
    CHECK_STR(ch_config_where(c, "a.b"), "--set");
    long abc = 0;
    CHECK(ch_cfg_int(c, "a.b.c", 0, 0, 9, &abc, &err) == 0);
    CHECK(abc == 1);
    /* flow values */
    CHECK(ch_config_set(c, "model.layers=[64, 32]", &err) == 0);
    double v[4];
    size_t n = 0;
    CHECK(ch_cfg_num_list(c, "model.layers", v, 4, &n, &err) == 0);
    CHECK(n == 2 && v[0] == 64 && v[1] == 32);
    CHECK(ch_config_set(c, "partition={scheme: stratified, k: 5}", &err) == 0);
    CHECK(ch_config_len(c, "partition") == 2);
    CHECK(ch_config_set(c, "name='yes'", &err) == 0);
    CHECK(ch_config_set(c, "url=http://x.org/a#b", &err) == 0);
    const char *s = NULL;
    CHECK(ch_cfg_str(c, "url", NULL, &s, &err) == 0);
    CHECK_STR(s, "http://x.org/a#b");
    CHECK(ch_config_set(c, "list.1=5", &err) == 0);
    CHECK(ch_config_set(c, "list.2=6", &err) == 0);
    CHECK(ch_config_len(c, "list") == 3);
    CHECK(ch_config_set(c, "list.9=6", &err) == CH_ENOTFOUND);
    CHECK_HAS(err.msg, "--set 'list.9=6'");
    CHECK(ch_config_set(c, "steps.0.name=fit", &err) == 0);
    CHECK(ch_config_type(c, "steps") == CH_CFG_SEQ);
    CHECK(ch_config_set(c, "empty=", &err) == 0);
    CHECK(ch_cfg_str(c, "empty", "x", &s, &err) == 0);
    CHECK_STR(s, "");

    /* bad arguments are named */
    CHECK(ch_config_set(c, "model.=3", &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "--set 'model.=3'");
    CHECK(ch_config_set(c, "no-equals-sign", &err) == CH_EINVAL);
    CHECK_STR(err.msg, "--set 'no-equals-sign': expected PATH=VALUE");
    CHECK(ch_config_set(c, "=3", &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "--set '=3'");
    CHECK(ch_config_set(c, "x=[1,", &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "--set 'x=[1,': YAML syntax error");
    CHECK(ch_config_set(c, "x=[&a 1]", &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "anchors are not supported");
    CHECK(ch_config_set(c, "seed.x=1", &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "--set 'seed.x=1'");
    CHECK_HAS(err.msg, "seed: expected a mapping, got '7'");
    CHECK(ch_config_set(c, "x=[1], [2]", &err) == CH_EINVAL);
    CHECK(!ch_config_has(c, "x"));

    /* a --set typo is an unknown key at --set */
    static const char *const known[] = {"seed", "model.eta", "model.layers", "a.b.c", "partition",
                                        "name", "url",       "list",         "steps", "empty",
                                        NULL};
    CHECK(ch_config_check_unused(c, known, &err) == 0);
    CHECK(ch_config_set(c, "model.etaa=0.2", &err) == 0);
    CHECK(ch_config_check_unused(c, known, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "--set: unknown key 'model.etaa' (did you mean 'model.eta'?)");

    /* set_str, set_tree, remove */
    CHECK(ch_config_set_str(c, "data.positive", "yes", &err) == 0);
    CHECK(ch_config_set_str(c, "data.train", "a b.csv", &err) == 0);
    char *text = ch_config_emit(c);
    CHECK_HAS(text, "  positive: \"yes\"\n");
    CHECK_HAS(text, "  train: a b.csv\n");
    free(text);
    ch_config *sub = s_parse("x: 1\ny: [2]\n", &err);
    CHECK(ch_config_set_tree(c, "model.sub", sub, &err) == 0);
    CHECK(ch_config_len(c, "model.sub") == 2);
    CHECK_STR(ch_config_where(c, "model.sub.y"), "exp.yaml:2");
    ch_config_destroy(&sub);
    CHECK_STR(ch_config_where(c, "model.sub.y"), "exp.yaml:2"); /* file names were copied */
    ch_config_remove(c, "model.sub.x");
    CHECK(!ch_config_has(c, "model.sub.x"));
    CHECK(ch_config_has(c, "model.sub.y"));
    ch_config_remove(c, "model.sub.nothing");
    s_check_round_trip(c);
    ch_config_destroy(&c);
}

static void test_unknown_keys(void)
{
    ch_err err;
    ch_config *c = s_parse("name: x\n"
                           "seed: 1\n"
                           "modle:\n"
                           "  eta: 0.1\n"
                           "model:\n"
                           "  max_dpeth: 3\n"
                           "  eta: 0.2\n",
                           &err);
    CHECK(c != NULL);
    if (!c) {
        return;
    }
    long seed = 0;
    double eta = 0;
    const char *s = NULL;
    CHECK(ch_cfg_str(c, "name", NULL, &s, &err) == 0);
    CHECK(ch_cfg_int(c, "seed", 0, 0, 10, &seed, &err) == 0);
    CHECK(ch_cfg_num(c, "model.eta", 0.1, 0, 1, &eta, &err) == 0);
    CHECK(ch_config_check_unused(c, NULL, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "exp.yaml:3: unknown key 'modle' (did you mean 'model'?)");
    ch_config_mark_used(c, "modle");
    /* max_depth was not read: the suggestion comes from `known` */
    static const char *const known[] = {"model.max_depth", "model.rounds", NULL};
    CHECK(ch_config_check_unused(c, known, &err) == CH_EINVAL);
    CHECK_STR(err.msg,
              "exp.yaml:6: unknown key 'model.max_dpeth' (did you mean 'model.max_depth'?)");
    CHECK(ch_config_check_unused(c, NULL, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "exp.yaml:6: unknown key 'model.max_dpeth'");
    /* a known path is not unknown, with "*" for any segment */
    static const char *const known2[] = {"model.*", NULL};
    CHECK(ch_config_check_unused(c, known2, &err) == 0);
    long depth = 0;
    CHECK(ch_cfg_int(c, "model.max_dpeth", 1, 1, 10, &depth, &err) == 0);
    CHECK(ch_config_check_unused(c, NULL, &err) == 0);

    /* a sequence entry nobody read */
    ch_config *d = s_parse("steps:\n  - name: a\n  - name: b\n    extra: 1\n", &err);
    CHECK(ch_cfg_str(d, "steps.0.name", NULL, &s, &err) == 0);
    CHECK(ch_config_check_unused(d, NULL, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "exp.yaml:3: unused entry 'steps.1'");
    CHECK(ch_cfg_str(d, "steps.1.name", NULL, &s, &err) == 0);
    CHECK(ch_config_check_unused(d, NULL, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "exp.yaml:4: unknown key 'steps.1.extra'");
    static const char *const known3[] = {"steps.*.extra", NULL};
    CHECK(ch_config_check_unused(d, known3, &err) == 0);
    /* far-off keys get no suggestion */
    ch_config *e = s_parse("lr: 1\n", &err);
    CHECK(ch_cfg_num(e, "eta", 0.1, 0, 1, &eta, &err) == 0);
    CHECK(ch_config_check_unused(e, NULL, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "exp.yaml:1: unknown key 'lr'");
    ch_config_destroy(&e);
    ch_config_destroy(&d);
    ch_config_destroy(&c);
}

static void test_enum_suggest(void)
{
    ch_err err;
    ch_config *c = s_parse("model:\n  algorithm: gbx\n", &err);
    static const char *const algos[] = {"gbt", "linear", "mlp", NULL};
    int which = -1;
    CHECK(ch_cfg_enum(c, "model.algorithm", "gbt", algos, &which, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "exp.yaml:2: model.algorithm: expected one of gbt, linear, mlp; got 'gbx' "
                       "(did you mean 'gbt'?)");
    CHECK(which == -1);
    CHECK(ch_cfg_enum(c, "model.other", "bad", algos, &which, &err) == CH_EINVAL);
    ch_config_destroy(&c);
}

static void test_subtree_and_copy(void)
{
    ch_err err;
    ch_config *c = s_parse(k_exp, &err);
    CHECK(c != NULL);
    if (!c) {
        return;
    }
    ch_config *m = ch_config_subtree(c, "model");
    CHECK(m != NULL);
    if (m) {
        CHECK(ch_config_len(m, "") == 4);
        CHECK_STR(ch_config_where(m, "rounds"), "exp.yaml:12");
        long r = 0;
        CHECK(ch_cfg_int(m, "rounds", 1, 1, 1000, &r, &err) == 0);
        CHECK(r == 200);
        CHECK(ch_cfg_int(m, "max_depth", 6, 1, 32, &r, &err) == 0);
        CHECK(ch_config_has(m, "max_depth"));
        CHECK(!ch_config_has(c, "model.max_depth")); /* a copy, not a view */
        CHECK(ch_config_set(m, "eta=0.5", &err) == 0);
        const char *s = NULL;
        CHECK(ch_cfg_str(c, "model.eta", NULL, &s, &err) == 0);
        CHECK_STR(s, "fast");
    }
    CHECK(ch_config_subtree(c, "seed") == NULL);
    CHECK(ch_config_subtree(c, "nothing") == NULL);
    ch_config_destroy(&m);

    /* a copy keeps used flags */
    const char *s = NULL;
    long v = 0;
    CHECK(ch_cfg_str(c, "name", NULL, &s, &err) == 0);
    ch_config *d = ch_config_copy(c);
    CHECK(d != NULL && ch_config_equal(c, d));
    CHECK(ch_config_check_unused(d, NULL, &err) == CH_EINVAL);
    CHECK_STR(err.msg, "exp.yaml:2: unknown key 'seed'");
    CHECK(ch_cfg_int(d, "seed", 0, 0, 100, &v, &err) == 0);
    CHECK(ch_config_set(d, "seed=1", &err) == 0);
    CHECK(!ch_config_equal(c, d));
    ch_config_destroy(&d);
    ch_config_destroy(&c);
}

static void test_rejects(void)
{
    ch_err err;
    CHECK_STR(s_parse_error("name: a\nseed: 1\ndata: x\nseed: 2\n", &err),
              "exp.yaml:4: duplicate key 'seed' (first at line 2)");
    CHECK_STR(s_parse_error("model:\n  eta: 1\n  eta: 2\n", &err),
              "exp.yaml:3: duplicate key 'model.eta' (first at line 2)");
    CHECK_STR(s_parse_error("base: &b {x: 1}\n", &err),
              "exp.yaml:1: base: anchors are not supported (&b)");
    CHECK_STR(s_parse_error("a: 1\nb: *b\n", &err),
              "exp.yaml:2: b: aliases are not supported (*b)");
    CHECK_STR(s_parse_error("a: !!str 1\n", &err),
              "exp.yaml:1: a: tags are not supported (tag:yaml.org,2002:str)");
    CHECK_STR(s_parse_error("a: 1\nb: c: d\n", &err),
              "exp.yaml:2:5: YAML syntax error: mapping values are not allowed in this context");
    CHECK_STR(s_parse_error("- a\n- b\n", &err),
              "exp.yaml:1: the top level must be a mapping, got a sequence");
    CHECK_STR(s_parse_error("just text\n", &err),
              "exp.yaml:1: the top level must be a mapping, got 'just text'");
    CHECK_STR(s_parse_error("a: 1\n---\nb: 2\n", &err),
              "exp.yaml:2: only one YAML document is allowed");
    CHECK_STR(s_parse_error("a: \"x\\0y\"\n", &err),
              "exp.yaml:1: a: NUL characters are not allowed");
    CHECK_STR(s_parse_error("? [a]\n: 1\n", &err),
              "exp.yaml:1: keys must be scalars, not sequences");
    CHECK_HAS(s_parse_error("a: \xff\n", &err), "exp.yaml:1: YAML error:");
    CHECK_HAS(s_parse_error("a: 1\nb: \x01\n", &err), "exp.yaml:2: YAML error:");

    /* nesting: 64 levels (the top level counts) are fine, 65 are not */
    char deep[400];
    size_t k = 0;
    k += (size_t)snprintf(deep + k, sizeof deep - k, "a: ");
    for (int i = 0; i < 63; i++) {
        deep[k++] = '[';
    }
    for (int i = 0; i < 63; i++) {
        deep[k++] = ']';
    }
    deep[k] = '\0';
    CHECK_STR(s_parse_error(deep, &err), "");
    memmove(deep + 4, deep + 3, k - 2);
    deep[3] = '[';
    deep[k + 1] = ']';
    deep[k + 2] = '\0';
    CHECK_HAS(s_parse_error(deep, &err), "nesting deeper than 64 levels");

    /* empty texts are empty mappings */
    ch_config *c = ch_config_parse("", 0, "empty.yaml", &err);
    CHECK(c != NULL && ch_config_len(c, "") == 0);
    char *text = c ? ch_config_emit(c) : NULL;
    CHECK_STR(text, "{}\n");
    free(text);
    ch_config_destroy(&c);
    c = s_parse("# only a comment\n", &err);
    CHECK(c != NULL && ch_config_len(c, "") == 0);
    ch_config_destroy(&c);
    c = ch_config_parse(NULL, 0, NULL, &err);
    CHECK(c != NULL);
    CHECK_STR(c ? ch_config_name(c) : NULL, "(config)");
    ch_config_destroy(&c);

    /* a buffer over 16 MiB is refused before parsing */
    size_t big = (16u << 20) + 1;
    char *huge = malloc(big);
    CHECK(huge != NULL);
    if (huge) {
        memset(huge, '#', big);
        CHECK(ch_config_parse(huge, big, "huge.yaml", &err) == NULL);
        CHECK_STR(err.msg, "huge.yaml: the config is larger than 16 MiB");
        free(huge);
    }
}

static void test_load(void)
{
    ch_err err;
    char path[] = "/tmp/cohort-test-config-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) {
        return;
    }
    FILE *f = fdopen(fd, "w");
    fputs("seed: 3\nmodel:\n  eta: [1]\n", f);
    fclose(f);
    ch_config *c = ch_config_load(path, &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(ch_config_name(c), path);
        double eta = 0;
        CHECK(ch_cfg_num(c, "model.eta", 0.1, 0, 1, &eta, &err) == CH_EINVAL);
        char want[256];
        snprintf(want, sizeof want, "%s:3: model.eta: expected a number, got a sequence", path);
        CHECK_STR(err.msg, want);
    }
    ch_config_destroy(&c);
    unlink(path);
    CHECK(ch_config_load(path, &err) == NULL);
    CHECK_HAS(err.msg, "cannot open /tmp/cohort-test-config-");
    CHECK(ch_config_load("/tmp", &err) == NULL);
    CHECK_HAS(err.msg, "/tmp");
}

static void test_round_trip(void)
{
    ch_err err;
    const char *tricky = "plain: hello world\n"
                         "yes_str: \"yes\"\n"
                         "num_str: '42'\n"
                         "null_plain: ~\n"
                         "null_word: null\n"
                         "empty:\n"
                         "empty_str: ''\n"
                         "colon: \"a: b\"\n"
                         "hash: \"a #b\"\n"
                         "dash: \"- x\"\n"
                         "neg: -5\n"
                         "lead_space: \"  x\"\n"
                         "trail_space: \"x  \"\n"
                         "newline: \"a\\nb\\tc\\x01\\x7f\\u0085\\u2028\"\n"
                         "utf8: \"h\xc3\xa9llo \xe2\x82\xac\"\n"
                         "backslash: 'a\\b\"c'\n"
                         "\"quoted key: x\": 1\n"
                         "\"~\": tilde key\n"
                         "\"\": empty key\n"
                         "'123': number key\n"
                         "literal: |\n  line one\n  line two\n"
                         "folded: >\n  folded\n  text\n"
                         "dots: ...x\n"
                         "seqs:\n"
                         "  - [1, [2, 3], []]\n"
                         "  - {}\n"
                         "  - {a: 1, b: [x, y]}\n"
                         "  -\n"
                         "  - - - deep\n"
                         "map_in_seq:\n"
                         "  - name: a\n"
                         "    more: {c: d}\n";
    ch_config *c = s_parse(tricky, &err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    s_check_round_trip(c);
    const char *s = NULL;
    CHECK(ch_cfg_str(c, "literal", NULL, &s, &err) == 0);
    CHECK_STR(s, "line one\nline two\n");
    CHECK(ch_cfg_str(c, "seqs.2.b.1", NULL, &s, &err) == 0);
    CHECK_STR(s, "y");
    char *text = ch_config_emit(c);
    CHECK_HAS(text, "yes_str: \"yes\"\n");
    CHECK_HAS(text, "plain: hello world\n");
    CHECK_HAS(text, "null_plain: ~\n");
    CHECK_HAS(text, "empty:\n");
    CHECK_HAS(text, "seqs:\n  - - 1\n    - - 2\n      - 3\n    - []\n  - {}\n");
    CHECK_HAS(text, "map_in_seq:\n  - name: a\n    more:\n      c: d\n");
    free(text);

    /* equality notices a change of value, of key and of null-ness */
    ch_config *d = ch_config_copy(c);
    CHECK(ch_config_equal(c, d));
    CHECK(ch_config_set(d, "plain=hello World", &err) == 0);
    CHECK(!ch_config_equal(c, d));
    ch_config_destroy(&d);
    d = ch_config_copy(c);
    CHECK(ch_config_set(d, "empty=''", &err) == 0);
    CHECK(!ch_config_equal(c, d));
    ch_config_destroy(&d);

    /* a key too long for an implicit key still round-trips */
    size_t n = 1500;
    char *long_doc = malloc(n + 16);
    if (long_doc) {
        memcpy(long_doc, "? ", 2);
        memset(long_doc + 2, 'k', n - 2);
        memcpy(long_doc + n, "\n: {v: 1}\n", 11);
        ch_config *l = ch_config_parse(long_doc, strlen(long_doc), "long.yaml", &err);
        CHECK(l != NULL);
        if (l) {
            s_check_round_trip(l);
        }
        ch_config_destroy(&l);
        free(long_doc);
    }
    ch_config_destroy(&c);
}

int main(void)
{
    test_reads();
    test_scalars();
    test_defaults_written();
    test_set();
    test_unknown_keys();
    test_enum_suggest();
    test_subtree_and_copy();
    test_rejects();
    test_load();
    test_round_trip();
    CH_TEST_END();
}
