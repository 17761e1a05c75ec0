/* bench_mlp.c: cohort's MLP kernels in one process (the "one
 * process with 2 threads" line): Fashion-MNIST, 784-256-128-10, Adam 1e-3,
 * batch 128, 5 epochs, inputs standardised per pixel, a fresh shuffle per
 * epoch. Prints one JSON line: training seconds, test accuracy, GFLOP/s of
 * the training arithmetic, and OpenBLAS sgemm GFLOP/s on the step's shapes
 * and on a 1024^3 product, with the same thread count.
 *
 * PRECISION bf16 or fp16 (default fp32) builds the network at that
 * precision (16-bit weights and activations, float master weights and
 * Adam state, fp16 with dynamic loss scaling) and keeps the encoded
 * training and test rows in 16 bits too (encoded 1024 rows at a time, so
 * no float copy of the data set ever exists); each batch is converted to
 * float. The JSON line then also gives the network workspace's bytes, the
 * stored rows' bytes and the skipped fp16 steps.
 *
 *   bench_mlp DATA_DIR THREADS [EPOCHS] [PRECISION] */
#include "algorithms/mlp/features.h"
#include "algorithms/mlp/half.h"
#include "algorithms/mlp/trainer.h"
#include "common/rng.h"
#include "common/table.h"

#include <cblas.h>
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
        fprintf(stderr, "bench_mlp: %s\n", err.msg);
        exit(1);
    }
    return t;
}

/* GFLOP/s of C = A B^T with A m x k, B n x k (the forward shape). */
static double s_sgemm_gflops(int m, int n, int k, int reps)
{
    float *a = calloc((size_t)m * k, sizeof *a), *b = calloc((size_t)n * k, sizeof *b);
    float *c = calloc((size_t)m * n, sizeof *c);
    for (size_t i = 0; i < (size_t)m * k; i++) {
        a[i] = (float)(i % 7) * 0.1f;
    }
    for (size_t i = 0; i < (size_t)n * k; i++) {
        b[i] = (float)(i % 5) * 0.1f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, k, b, k, 0, c, n);
    double t0 = s_now();
    for (int r = 0; r < reps; r++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, k, b, k, 0, c, n);
    }
    double dt = s_now() - t0;
    free(a);
    free(b);
    free(c);
    return 2.0 * m * n * k * reps / dt / 1e9;
}

/* The process's resident set now, in KB (0 if /proc is unreadable). */
static long s_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = atol(line + 6);
        }
    }
    if (f) {
        fclose(f);
    }
    return kb;
}

/* Encodes rows 1024 at a time into float, then stores them at precision
 * pr (ch_half_pack's bytes; fp32 is the float bytes). */
static void s_encode(const ch_features *f, const ch_table *t, size_t n, uint8_t *x, float *y,
                     ch_precision pr)
{
    size_t d = f->d_in, vb = ch_precision_bytes(pr);
    float *buf = malloc(1024 * d * sizeof *buf);
    size_t *rows = malloc(1024 * sizeof *rows);
    for (size_t i = 0; i < n; i += 1024) {
        size_t m = n - i < 1024 ? n - i : 1024;
        for (size_t k = 0; k < m; k++) {
            rows[k] = i + k;
        }
        ch_features_encode(f, t, rows, m, buf, y + i);
        ch_half_pack(pr, x + i * d * vb, buf, m * d);
    }
    free(buf);
    free(rows);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_mlp DATA_DIR THREADS [EPOCHS]\n");
        return 2;
    }
    int threads = atoi(argv[2]);
    long epochs = argc > 3 ? atol(argv[3]) : 5;
    int prec = 0;
    while (argc > 4 && ch_precision_names[prec] && strcmp(ch_precision_names[prec], argv[4]) != 0) {
        prec++;
    }
    if (!ch_precision_names[prec]) {
        fprintf(stderr, "bench_mlp: unknown precision %s (fp32, bf16, fp16)\n", argv[4]);
        return 2;
    }
    ch_precision pr = (ch_precision)prec;
    size_t vb = ch_precision_bytes(pr); /* bytes of a stored input */
    openblas_set_num_threads(threads);
    ch_table *train = s_load(argv[1], "train"), *test = s_load(argv[1], "t10k");
    ch_schema *schema = ch_schema_from_table(train, NULL);
    ch_features *f = ch_features_new(schema, NULL);
    f->regression = false;
    size_t n = train->n_rows, nt = test->n_rows, d = f->d_in, bs = 128;
    double *st = calloc(ch_features_stats_len(f), sizeof *st);
    ch_features_stats_add(f, train, NULL, n, st);
    ch_features_set_stats(f, st);
    /* the encoded rows: float, or 16-bit values (ch_half_pack's bytes) */
    uint8_t *x = malloc(n * d * vb), *xt = malloc(nt * d * vb);
    float *y = malloc(n * sizeof *y), *yt = malloc(nt * sizeof *yt);
    s_encode(f, train, n, x, y, pr);
    s_encode(f, test, nt, xt, yt, pr);
    /* the tables' doubles are not needed any more */
    ch_table_destroy(&train);
    ch_table_destroy(&test);

    ch_net_spec spec = {.d_in = d,
                        .d_out = 10,
                        .n_hidden = 2,
                        .hidden = {256, 128},
                        .act = CH_ACT_RELU,
                        .precision = pr};
    ch_net *net = ch_net_new(&spec, NULL);
    size_t np = net->n_params;
    float *w = malloc(np * sizeof *w), *g = malloc(np * sizeof *g);
    float *state = calloc(2 * np, sizeof *state);
    ch_net_init(net, CH_INIT_HE, 42, w);
    ch_net_ws *ws = ch_net_ws_new(net, 512);
    float *xb = malloc(bs * d * sizeof *xb), *yb = malloc(bs * sizeof *yb);
    float *dout = malloc(512 * 10 * sizeof *dout);
    size_t *perm = malloc(n * sizeof *perm);
    ch_mlp_params p = {.opt = {CH_OPT_ADAM, 0.9, 0.9, 0.999, 1e-8, 0}};
    ch_loss_scaler sc = {.scale = 65536, .window = 2000};
    ch_rng r;
    ch_rng_init(&r, 42, 1);

    double t0 = s_now();
    long t = 0;
    for (long e = 0; e < epochs; e++) {
        for (size_t i = 0; i < n; i++) {
            perm[i] = i;
        }
        ch_rng_shuffle(&r, perm, n);
        for (size_t b = 0; b < n; b += bs) {
            size_t m = n - b < bs ? n - b : bs;
            for (size_t k = 0; k < m; k++) {
                ch_half_unpack(pr, xb + k * d, x + perm[b + k] * d * vb, d);
                yb[k] = y[perm[b + k]];
            }
            memset(g, 0, np * sizeof *g);
            ch_grad_out go;
            float scale = pr == CH_PREC_FP16 ? (float)sc.scale : 1.0f;
            ch_mlp_grad_scaled(net, CH_HEAD_SOFTMAX, w, xb, yb, m, true, 42, 0, scale, ws, dout, g,
                               &go);
            t++;
            if (pr != CH_PREC_FP16 || ch_loss_scaler_update(&sc, ch_grad_finite(g, np))) {
                ch_mlp_apply(&p, w, g, state, np, (double)m * scale, 1e-3, t);
            }
        }
    }
    double train_s = s_now() - t0;
    long train_rss = s_rss_kb(); /* data, network, optimizer: what training holds */
    double loss = 0, correct = 0;
    float *xe = malloc(512 * d * sizeof *xe);
    for (size_t i = 0; i < nt; i += 512) {
        size_t m = nt - i < 512 ? nt - i : 512;
        double l, c;
        ch_half_unpack(pr, xe, xt + i * d * vb, m * d);
        ch_mlp_eval(net, CH_HEAD_SOFTMAX, w, xe, yt + i, m, 512, ws, dout, &l, &c, NULL);
        loss += l;
        correct += c;
    }
    /* forward 2 in out per row per dense; backward dW 2 in out, dX 2 in out
     * except for the first layer */
    double per_row = 0;
    for (size_t l = 0; l < net->n_layers; l++) {
        const ch_layer *ly = &net->layers[l];
        if (ly->kind == CH_L_DENSE) {
            per_row += (ly->dense_index == 0 ? 4.0 : 6.0) * (double)(ly->in * ly->out);
        }
    }
    double gflops = per_row * (double)n * (double)epochs / train_s / 1e9;
    double peak_big = s_sgemm_gflops(1024, 1024, 1024, 10);
    double peak_step = s_sgemm_gflops(128, 256, 784, 200);
    printf("{\"threads\": %d, \"epochs\": %ld, \"train_seconds\": %.3f, \"test_accuracy\": %.4f, "
           "\"test_loss\": %.4f, \"gflops\": %.2f, \"sgemm_gflops_1024\": %.2f, "
           "\"sgemm_gflops_128x256x784\": %.2f, \"precision\": \"%s\", \"workspace_bytes\": %zu, "
           "\"rows_bytes\": %zu, \"skipped_steps\": %ld, \"train_rss_kb\": %ld}\n",
           threads, epochs, train_s, correct / (double)nt, loss / (double)nt, gflops, peak_big,
           peak_step, ch_precision_names[pr], ch_net_ws_bytes(ws), (n + nt) * d * vb, sc.skipped,
           train_rss);
    return 0;
}
