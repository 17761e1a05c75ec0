/* test_mlp_train.c: the MLP's training plan: batches drawn from the seed
 * cover every row exactly once per epoch whatever the blocks, the input
 * encoding (one-hot, standardisation from summed statistics), and training
 * a small network on XOR (not linearly separable) until the loss is low. */
#include "algorithms/mlp/batch.h"
#include "algorithms/mlp/features.h"
#include "algorithms/mlp/trainer.h"
#include "tests/check.h"

static void test_batches(void)
{
    size_t block_rows[7] = {13, 9, 0, 21, 17, 5, 11}; /* 76 rows */
    size_t n = 76, bs = 10;
    long steps = ch_batch_steps_per_epoch(n, bs);
    CHECK(steps == 8);
    for (long epoch = 0; epoch < 3; epoch++) {
        size_t seen[7][21] = {{0}};
        size_t total = 0;
        for (long s = 0; s < steps; s++) {
            ch_segment seg[7];
            size_t ns = ch_batch_segments(block_rows, 7, 99, epoch, s, bs, seg);
            size_t rows = 0;
            for (size_t i = 0; i < ns; i++) {
                CHECK(seg[i].block < 7 && seg[i].count > 0);
                CHECK(seg[i].offset + seg[i].count <= block_rows[seg[i].block]);
                for (uint32_t k = 0; k < seg[i].count; k++) {
                    seen[seg[i].block][seg[i].offset + k]++;
                }
                rows += seg[i].count;
            }
            CHECK(rows == (s < steps - 1 ? bs : n - bs * (size_t)(steps - 1)));
            total += rows;
        }
        CHECK(total == n);
        int once = 1;
        for (size_t b = 0; b < 7; b++) {
            for (size_t r = 0; r < block_rows[b]; r++) {
                once &= seen[b][r] == 1;
            }
        }
        CHECK(once);
    }
    /* epochs visit blocks in different orders; the same epoch repeats */
    ch_segment a[7], b[7], c[7];
    ch_batch_segments(block_rows, 7, 99, 0, 0, bs, a);
    ch_batch_segments(block_rows, 7, 99, 0, 0, bs, b);
    CHECK(memcmp(a, b, sizeof a[0]) == 0);
    int differs = 0;
    for (long e = 1; e < 6; e++) {
        ch_batch_segments(block_rows, 7, 99, e, 0, bs, c);
        differs |= c[0].block != a[0].block;
    }
    CHECK(differs);
    size_t p1[21], p2[21];
    ch_batch_block_order(5, 1, 3, p1, 21);
    ch_batch_block_order(5, 2, 3, p2, 21);
    CHECK(memcmp(p1, p2, sizeof p1) != 0);
}

static void test_features(void)
{
    ch_table *t = ch_table_new(4);
    double *num = malloc(4 * sizeof *num), *cat = malloc(4 * sizeof *cat);
    double *y = malloc(4 * sizeof *y);
    num[0] = 1, num[1] = 3, num[2] = NAN, num[3] = 5;
    cat[0] = 0, cat[1] = 2, cat[2] = 1, cat[3] = NAN;
    y[0] = 10, y[1] = 20, y[2] = 30, y[3] = 40;
    char **lv = malloc(3 * sizeof *lv);
    lv[0] = strdup("a"), lv[1] = strdup("b"), lv[2] = strdup("c");
    ch_table_add_column(t, "num", CH_COL_NUMERIC, num, NULL, 0);
    ch_table_add_column(t, "cat", CH_COL_CATEGORICAL, cat, lv, 3);
    ch_table_add_column(t, "y", CH_COL_NUMERIC, y, NULL, 0);
    CHECK(ch_table_set_target(t, "y", NULL, NULL) == 0);
    ch_schema *s = ch_schema_from_table(t, NULL);
    ch_features *f = ch_features_new(s, NULL);
    CHECK(f && f->d_in == 4 && f->regression);
    double st[9] = {0}; /* 3 x (2 columns + target) */
    size_t r01[2] = {0, 1}, r23[2] = {2, 3};
    /* statistics of two blocks, summed: the same as over all rows */
    ch_features_stats_add(f, t, r01, 2, st);
    ch_features_stats_add(f, t, r23, 2, st);
    ch_features_set_stats(f, st);
    CHECK_NEAR(f->mean[0], 3, 1e-12);
    CHECK_NEAR(f->scale[0], 1 / sqrt(8.0 / 3), 1e-12);
    CHECK_NEAR(f->y_mean, 25, 1e-12);
    float x[16], yy[4];
    ch_features_encode(f, t, NULL, 4, x, yy);
    CHECK_NEAR(x[0], -2 / sqrt(8.0 / 3), 1e-6);
    CHECK(x[1] == 1 && x[2] == 0 && x[3] == 0);                /* row 0: level a */
    CHECK(x[4 + 3] == 1);                                      /* row 1: level c */
    CHECK(x[8] == 0 && x[8 + 2] == 1);                         /* row 2: missing number -> mean */
    CHECK(x[12 + 1] == 0 && x[12 + 2] == 0 && x[12 + 3] == 0); /* missing level */
    CHECK_NEAR(yy[0], -15 / sqrt(125.0), 1e-6);
    ch_features_destroy(&f);
    ch_schema_destroy(&s);
    ch_table_destroy(&t);
}

static void test_xor(void)
{
    float x[8] = {0, 0, 0, 1, 1, 0, 1, 1}, y[4] = {0, 1, 1, 0};
    for (int a = 0; a < 2; a++) {
        ch_net_spec spec = {.d_in = 2,
                            .d_out = 1,
                            .n_hidden = 1,
                            .hidden = {8},
                            .act = a ? CH_ACT_TANH : CH_ACT_RELU};
        ch_net *net = ch_net_new(&spec, NULL);
        float *w = calloc(net->n_params, sizeof *w), *g = calloc(net->n_params, sizeof *g);
        float *state = calloc(2 * net->n_params, sizeof *state), dout[4];
        ch_net_init(net, CH_INIT_AUTO, 3, w);
        ch_net_ws *ws = ch_net_ws_new(net, 4);
        ch_mlp_params p = {.opt = {CH_OPT_ADAM, 0.9, 0.9, 0.999, 1e-8, 0}};
        double first = 0, last = 0, correct = 0;
        for (long t = 1; t <= 600; t++) {
            memset(g, 0, net->n_params * sizeof *g);
            ch_grad_out go;
            CHECK(ch_mlp_grad(net, CH_HEAD_BCE, w, x, y, 4, true, 0, 0, ws, dout, g, &go) == 0);
            first = t == 1 ? go.loss / 4 : first;
            last = go.loss / 4;
            correct = go.correct;
            ch_mlp_apply(&p, w, g, state, net->n_params, 4, 0.05, t);
        }
        CHECK(last < 0.1 && last < first / 5);
        CHECK(correct == 4);
        free(w);
        free(g);
        free(state);
        ch_net_ws_destroy(&ws);
        ch_net_destroy(&net);
    }
}

static void test_bad_shapes(void)
{
    ch_err err;
    ch_net_spec spec = {.d_in = 3, .d_out = 1, .n_hidden = 2, .hidden = {4, 0}};
    CHECK(ch_net_new(&spec, &err) == NULL);
    CHECK_HAS(err.msg, "hidden layer 1 has width 0");
    spec.hidden[1] = 2;
    spec.d_in = 0;
    CHECK(ch_net_new(&spec, &err) == NULL);
}

int main(void)
{
    test_batches();
    test_features();
    test_xor();
    test_bad_shapes();
    CH_TEST_END();
}
