/* bench_transformer.c: cohort's transformer kernels in one process, the
 * model of examples/fmnist-transformer.yaml: Fashion-MNIST as 28 rows of 28
 * pixels, d_model 64, 4 heads, 2 pre-norm blocks, d_ff 128, learned
 * positions, mean pooling, Adam 1e-3, batch 128, the first N training
 * images, a fresh shuffle per epoch, inputs standardised per pixel with
 * those images' statistics, accuracy on the 10,000 test images. Prints one
 * JSON line; "gflops" counts the products' arithmetic (forward per
 * position: input projection, q|k|v, scores, weights x values, output
 * projection and the feed-forward pair; backward twice the forward, the
 * input projection's dx excepted).
 *
 *   bench_transformer DATA_DIR THREADS [N_TRAIN] [EPOCHS] */
#include "algorithms/mlp/features.h"
#include "algorithms/transformer/train.h"
#include "common/rng.h"
#include "common/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void openblas_set_num_threads(int);

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static ch_table *s_load(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, name);
    ch_err err;
    ch_table *t = ch_table_read(path, CH_FORMAT_AUTO, &err);
    if (!t || ch_table_set_target(t, "label", NULL, &err) != 0) {
        fprintf(stderr, "bench_transformer: %s\n", err.msg);
        exit(1);
    }
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_transformer DATA_DIR THREADS [N_TRAIN] [EPOCHS]\n");
        return 2;
    }
    int threads = atoi(argv[2]);
    size_t n = argc > 3 ? (size_t)atol(argv[3]) : 10000;
    long epochs = argc > 4 ? atol(argv[4]) : 1;
    openblas_set_num_threads(threads);
    ch_table *train = s_load(argv[1], "train"), *test = s_load(argv[1], "t10k");
    ch_schema *schema = ch_schema_from_table(train, NULL);
    ch_features *f = ch_features_new(schema, NULL);
    f->regression = false;
    n = n < train->n_rows ? n : train->n_rows;
    size_t nt = test->n_rows, d = f->d_in, bs = 128, L = 28;
    double *st = calloc(ch_features_stats_len(f), sizeof *st);
    ch_features_stats_add(f, train, NULL, n, st);
    ch_features_set_stats(f, st);
    float *x = malloc(n * d * sizeof *x), *y = malloc(n * sizeof *y);
    float *xt = malloc(nt * d * sizeof *xt), *yt = malloc(nt * sizeof *yt);
    ch_features_encode(f, train, NULL, n, x, y);
    ch_features_encode(f, test, NULL, nt, xt, yt);
    uint8_t *mask = malloc(nt * L);
    memset(mask, 1, nt * L);

    ch_tfm_spec spec = {.len = L,
                        .d_in = d / L,
                        .d_model = 64,
                        .heads = 4,
                        .n_layers = 2,
                        .d_ff = 128,
                        .d_out = 10,
                        .input = CH_TFM_IN_VECTOR,
                        .pos = CH_TFM_POS_LEARNED,
                        .pool = CH_TFM_POOL_MEAN};
    ch_tfm *m = ch_tfm_new(&spec, NULL);
    size_t np = m->n_params;
    float *w = malloc(np * sizeof *w), *g = malloc(np * sizeof *g);
    float *state = calloc(2 * np, sizeof *state);
    ch_tfm_init(m, 42, w);
    ch_tfm_ws *ws = ch_tfm_ws_new(m, 256);
    float *xb = malloc(bs * d * sizeof *xb), *yb = malloc(bs * sizeof *yb);
    float *dout = malloc(256 * 10 * sizeof *dout);
    size_t *perm = malloc(n * sizeof *perm);
    ch_tfm_params p = {.opt = {.kind = CH_OPT_ADAM, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8}};
    ch_rng r;
    ch_rng_init(&r, 42, 1);

    double t0 = s_now(), train_loss = 0;
    long t = 0;
    for (long e = 0; e < epochs; e++) {
        for (size_t i = 0; i < n; i++) {
            perm[i] = i;
        }
        ch_rng_shuffle(&r, perm, n);
        train_loss = 0;
        for (size_t b = 0; b < n; b += bs) {
            size_t k = n - b < bs ? n - b : bs;
            for (size_t j = 0; j < k; j++) {
                memcpy(xb + j * d, x + perm[b + j] * d, d * sizeof *xb);
                yb[j] = y[perm[b + j]];
            }
            memset(g, 0, np * sizeof *g);
            ch_grad_out go;
            ch_tfm_grad(m, CH_HEAD_SOFTMAX, w, xb, mask, yb, k, ws, dout, g, &go);
            ch_tfm_apply(&p, w, g, state, np, (double)k, 1e-3, ++t);
            train_loss += go.loss;
        }
    }
    double train_s = s_now() - t0;
    double loss, correct;
    t0 = s_now();
    ch_tfm_eval(m, CH_HEAD_SOFTMAX, w, xt, mask, yt, nt, 256, ws, dout, &loss, &correct, NULL);
    double eval_s = s_now() - t0;
    double D = 64, F = 128, T = (double)L, din = (double)(d / L), layers = 2;
    double fwd = 2 * din * D + layers * 2 * (3 * D * D + 2 * T * D + D * D + 2 * D * F);
    double per_seq = T * (3 * fwd - 2 * din * D) + 3 * 2 * D * 10;
    double gflops = per_seq * (double)n * (double)epochs / train_s / 1e9;
    printf("{\"threads\": %d, \"n_train\": %zu, \"epochs\": %ld, \"parameters\": %zu, "
           "\"train_seconds\": %.3f, \"eval_seconds\": %.3f, \"last_epoch_train_loss\": %.4f, "
           "\"test_accuracy\": %.4f, \"test_loss\": %.4f, \"gflops\": %.2f}\n",
           threads, n, epochs, np, train_s, eval_s, train_loss / (double)n, correct / (double)nt,
           loss / (double)nt, gflops);
    return 0;
}
