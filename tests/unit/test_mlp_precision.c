/* test_mlp_precision.c: bf16/fp16 conversions against PyTorch's bit
 * patterns, the wire packing, the dynamic loss scaler, the embedding layer
 * (forward, scatter backward, finite-difference gradient check) and the
 * bf16/fp16 network path (its gradient against finite differences of the
 * float network, loss scaling rescuing fp16 gradients that underflow).
 *
 * The bit patterns were printed by /usr/bin/python3 (torch 1.13):
 *   t = torch.tensor(V, dtype=torch.float32)
 *   t.to(torch.bfloat16).view(torch.int16), t.to(torch.float16).view(torch.int16)
 * for the values V of s_vals below (exact). Tolerances of the gradient
 * checks: float network 2e-2 relative (as test_mlp_layers.c); bf16 and
 * fp16 5e-2 relative plus 1e-2 of the largest |gradient|: bf16 keeps 8
 * significant bits (rounding 2^-9 relative per stored value) and the
 * rounding of each stored activation and input gradient spreads over all
 * entries at the scale of the largest (measured: bf16 0.6%, fp16 0.07% of
 * the largest; fp16 must also be at least 4x closer than bf16). */
#include "algorithms/mlp/half.h"
#include "algorithms/mlp/net.h"
#include "algorithms/mlp/nn.h"
#include "algorithms/mlp/trainer.h"
#include "tests/check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const float s_vals[14] = {1.0f, -2.5f, 3.14159265f, 1e-40f, 65504.0f, 65520.0f, 70000.0f,
    1.00390625f, 1.01171875f, 6e-8f, 2.98e-8f, 1e-3f, -0.1f, 3.3895e38f};
static const uint16_t s_bf16[14] = {16256, 49184, 16457, 1, 18304, 18304, 18313, 16256, 16258,
    13185, 13056, 14979, 48589, 32639};
static const uint16_t s_fp16[14] = {15360, 49408, 16968, 0, 31743, 31744, 31744, 15364, 15372, 1,
    0, 5145, 44646, 31744};
/* clang-format on */

static void test_conversions(void)
{
    for (size_t i = 0; i < 14; i++) {
        uint16_t b = ch_bf16_from_f32(s_vals[i]), h = ch_fp16_from_f32(s_vals[i]);
        if (b != s_bf16[i] || h != s_fp16[i]) {
            fprintf(stderr, "value %zu (%g): bf16 %u (torch %u), fp16 %u (torch %u)\n", i,
                    (double)s_vals[i], b, s_bf16[i], h, s_fp16[i]);
        }
        CHECK(b == s_bf16[i]);
        CHECK(h == s_fp16[i]);
    }
    /* infinities and NaN */
    CHECK(ch_bf16_from_f32(INFINITY) == 0x7f80 && ch_bf16_from_f32(-INFINITY) == 0xff80);
    CHECK(ch_fp16_from_f32(INFINITY) == 0x7c00 && ch_fp16_from_f32(-INFINITY) == 0xfc00);
    CHECK(isnan(ch_bf16_to_f32(ch_bf16_from_f32(NAN))));
    CHECK(isnan(ch_fp16_to_f32(ch_fp16_from_f32(NAN))));
    /* back to float is exact: every bf16 and fp16 pattern round-trips */
    int bad = 0;
    for (uint32_t u = 0; u < 65536; u++) {
        uint16_t p = (uint16_t)u;
        float b = ch_bf16_to_f32(p), h = ch_fp16_to_f32(p);
        if ((!isnan(b) && ch_bf16_from_f32(b) != p) || (!isnan(h) && ch_fp16_from_f32(h) != p)) {
            bad++;
        }
    }
    CHECK(bad == 0);
    CHECK(ch_fp16_to_f32(1) == 5.9604644775390625e-8f); /* smallest subnormal, 2^-24 */
    CHECK(ch_fp16_to_f32(0x7bff) == 65504.0f);
    /* ties go to even in both directions: 1 + 2^-8 -> 1, 1 + 3 * 2^-8 -> 1 + 2^-6 */
    CHECK(ch_bf16_to_f32(ch_bf16_from_f32(1.00390625f)) == 1.0f);
    CHECK(ch_bf16_to_f32(ch_bf16_from_f32(1.01171875f)) == 1.015625f);
    float r[3] = {1.00390625f, -0.1f, 3.0f};
    ch_half_round(CH_PREC_BF16, r, 3);
    CHECK(r[0] == 1.0f && r[1] == ch_bf16_to_f32(48589) && r[2] == 3.0f);
}

/* The array conversions (F16C instructions where the CPU has them) give
 * the scalar functions' bits: ties, subnormals, overflow, NaN. */
static void test_arrays(void)
{
    enum { N = 4099 };
    float *v = malloc(N * sizeof *v), *back = malloc(N * sizeof *back);
    uint16_t *h = malloc(N * sizeof *h);
    for (size_t i = 0; i < N; i++) {
        uint32_t u = (uint32_t)(i * 1048573u) ^ 0x9e3779b9u; /* spread over all exponents */
        memcpy(&v[i], &u, sizeof u);
        if (i % 5 == 0) {
            v[i] = s_vals[i / 5 % 14];
        }
    }
    v[1] = NAN;
    for (int p = 1; p <= 2; p++) {
        ch_half_store((ch_precision)p, h, v, N);
        int bad = 0;
        for (size_t i = 0; i < N; i++) {
            uint16_t want = p == 1 ? ch_bf16_from_f32(v[i]) : ch_fp16_from_f32(v[i]);
            bool nan = isnan(v[i]);
            bad +=
                nan ? !isnan(p == 1 ? ch_bf16_to_f32(h[i]) : ch_fp16_to_f32(h[i])) : h[i] != want;
        }
        CHECK(bad == 0);
        ch_half_load((ch_precision)p, back, h, N);
        for (size_t i = 0; i < N; i++) {
            float want = p == 1 ? ch_bf16_to_f32(h[i]) : ch_fp16_to_f32(h[i]);
            bad += isnan(want) ? !isnan(back[i]) : back[i] != want;
        }
        CHECK(bad == 0);
    }
    free(v);
    free(back);
    free(h);
}

static void test_wire(void)
{
    float v[3] = {1.0f, -2.5f, 0.1f}, back[3];
    uint8_t b[12];
    ch_half_pack(CH_PREC_BF16, b, v, 3);
    CHECK(b[0] == 0x80 && b[1] == 0x3f); /* 0x3f80 little-endian */
    ch_half_unpack(CH_PREC_BF16, back, b, 3);
    CHECK(back[0] == 1.0f && back[1] == -2.5f && back[2] == ch_bf16_to_f32(ch_bf16_from_f32(0.1f)));
    ch_half_pack(CH_PREC_FP16, b, v, 3);
    CHECK(b[0] == 0x00 && b[1] == 0x3c); /* 0x3c00 */
    ch_half_unpack(CH_PREC_FP16, back, b, 3);
    CHECK(back[1] == -2.5f && back[2] == ch_fp16_to_f32(ch_fp16_from_f32(0.1f)));
    ch_half_pack(CH_PREC_FP32, b, v, 3);
    CHECK(b[3] == 0x3f && b[2] == 0x80 && b[1] == 0 && b[0] == 0);
    ch_half_unpack(CH_PREC_FP32, back, b, 3);
    CHECK(memcmp(back, v, sizeof v) == 0);
    CHECK(ch_precision_bytes(CH_PREC_FP32) == 4 && ch_precision_bytes(CH_PREC_BF16) == 2);
}

static void test_scaler(void)
{
    ch_loss_scaler s = {.scale = 8, .window = 3};
    CHECK(ch_loss_scaler_update(&s, true) && ch_loss_scaler_update(&s, true));
    CHECK(s.scale == 8);
    CHECK(ch_loss_scaler_update(&s, true));
    CHECK(s.scale == 16 && s.clean == 0);
    CHECK(ch_loss_scaler_update(&s, true) && s.clean == 1);
    CHECK(!ch_loss_scaler_update(&s, false)); /* skipped, halved, the count restarts */
    CHECK(s.scale == 8 && s.clean == 0 && s.skipped == 1);
    for (int i = 0; i < 10; i++) {
        ch_loss_scaler_update(&s, false);
    }
    CHECK(s.scale == 1 && s.skipped == 11); /* never below 1 */
    float g[3] = {1, 2, 3};
    CHECK(ch_grad_finite(g, 3));
    g[1] = INFINITY;
    CHECK(!ch_grad_finite(g, 3));
    g[1] = NAN;
    CHECK(!ch_grad_finite(g, 3));
}

static void test_embedding_kernel(void)
{
    /* 3 levels x dim 2; rows with codes 2, 0, -1 (missing), 2, 7 (unknown), 0.5 */
    const float tab[6] = {1, 2, 3, 4, 5, 6};
    const float idx[6] = {2, 0, -1, 2, 7, 0.5f};
    float y[12], dt[6] = {0};
    ch_nn_embedding_forward(y, 2, idx, 1, tab, 6, 3, 2);
    const float want[12] = {5, 6, 1, 2, 0, 0, 5, 6, 0, 0, 0, 0};
    CHECK(memcmp(y, want, sizeof want) == 0);
    float dy[12];
    for (int i = 0; i < 12; i++) {
        dy[i] = (float)(i + 1);
    }
    ch_nn_embedding_backward(dt, dy, 2, idx, 1, 6, 3, 2);
    /* row 0 gets rows 1's dy; row 2 rows 0 and 3; row 1 nothing */
    CHECK(dt[0] == 3 && dt[1] == 4 && dt[2] == 0 && dt[3] == 0);
    CHECK(dt[4] == 1 + 7 && dt[5] == 2 + 8);
}

/* A network on 4 inputs: numeric, code of 3 levels, numeric, code of 4
 * levels; the codes embedded in 2 and 3 dimensions. */
static ch_net *s_embed_net(ch_precision prec, ch_act act)
{
    ch_net_spec spec = {.d_in = 4,
                        .d_out = 3,
                        .n_hidden = 1,
                        .hidden = {5},
                        .act = act,
                        .layer_norm = true,
                        .precision = prec,
                        .n_embed = 2};
    spec.embed[0] = (ch_embed_spec){.col = 1, .levels = 3, .dim = 2};
    spec.embed[1] = (ch_embed_spec){.col = 3, .levels = 4, .dim = 3};
    return ch_net_new(&spec, NULL);
}

static const float s_ex[24] = {0.5f, 2, -1.0f, 0, -0.3f, 0, 0.8f, 3, 1.2f, 2,  0.1f, -1,
                               0.7f, 1, -0.4f, 0, -1.1f, 2, 0.2f, 3, 0.0f, -1, 0.9f, 1};
static const float s_ey[6] = {0, 2, 1, 1, 0, 2};

static void test_embedding_net(void)
{
    ch_net *net = s_embed_net(CH_PREC_FP32, CH_ACT_TANH);
    CHECK(net && net->layers[0].kind == CH_L_EMBED && net->layers[0].out == 2 + 2 + 3);
    /* tables 3x2 + 4x3, dense 7x5 + 5, layer norm 10, dense 5x3 + 3 */
    CHECK(net->n_params == 6 + 12 + 40 + 10 + 18);
    size_t np = net->n_params;
    float *w = calloc(np, sizeof *w), *g = calloc(np, sizeof *g), dout[18];
    ch_net_init(net, CH_INIT_XAVIER, 3, w);
    CHECK(w[0] != 0 && w[17] != 0); /* tables drawn */
    ch_net_ws *ws = ch_net_ws_new(net, 6);
    ch_grad_out go;
    CHECK(ch_mlp_grad(net, CH_HEAD_SOFTMAX, w, s_ex, s_ey, 6, false, 1, 0, ws, dout, g, &go) == 0);
    /* code 1 of the second column (table rows 6+3..6+5) appears in row 5
     * only; every level of column 1 is used; nothing is used twice as
     * often as... simply: a level no row uses gets no gradient */
    int bad = 0;
    for (size_t i = 0; i < np; i++) {
        const float h = 1e-2f;
        float keep = w[i];
        double lp, lm, c;
        w[i] = keep + h;
        ch_mlp_eval(net, CH_HEAD_SOFTMAX, w, s_ex, s_ey, 6, 6, ws, dout, &lp, &c, NULL);
        w[i] = keep - h;
        ch_mlp_eval(net, CH_HEAD_SOFTMAX, w, s_ex, s_ey, 6, 6, ws, dout, &lm, &c, NULL);
        w[i] = keep;
        double fd = (lp - lm) / (2 * h), s = fabs(fd) > 1e-2 ? fabs(fd) : 1e-2;
        if (fabs(fd - g[i]) > 2e-2 * s) {
            bad++;
            fprintf(stderr, "embedding gradcheck param %zu: fd %g analytic %g\n", i, fd,
                    (double)g[i]);
        }
    }
    CHECK(bad == 0);
    /* the second table's level 2 is used by no row: exactly zero */
    for (size_t j = 0; j < 3; j++) {
        CHECK(g[6 + 2 * 3 + j] == 0.0f);
    }
    /* and a used row is not */
    CHECK(g[6 + 0] != 0.0f);
    free(w);
    free(g);
    ch_net_ws_destroy(&ws);
    ch_net_destroy(&net);
    /* malformed embeddings are refused */
    ch_net_spec bad_spec = {.d_in = 4, .d_out = 2, .n_embed = 2};
    bad_spec.embed[0] = (ch_embed_spec){.col = 3, .levels = 3, .dim = 2};
    bad_spec.embed[1] = (ch_embed_spec){.col = 1, .levels = 3, .dim = 2};
    ch_err err;
    CHECK(ch_net_new(&bad_spec, &err) == NULL);
    CHECK_HAS(err.msg, "embedding 1");
    bad_spec.n_embed = 1;
    bad_spec.embed[0].dim = 0;
    CHECK(ch_net_new(&bad_spec, &err) == NULL);
}

/* The bf16/fp16 network's analytic gradient against central differences of
 * the float network with the same weights (the half forward is piecewise
 * constant in the weights, so it cannot be differenced itself). */
static void test_half_gradcheck(void)
{
    double emax_bf16[4] = {0};
    for (int pi = 1; pi <= 2; pi++) {
        for (int a = 1; a < 4; a++) { /* gelu, tanh, sigmoid: no kinks */
            ch_precision prec = (ch_precision)pi;
            ch_net *nf = s_embed_net(CH_PREC_FP32, (ch_act)a), *nh = s_embed_net(prec, (ch_act)a);
            size_t np = nf->n_params;
            CHECK(nh->n_params == np);
            float *w = calloc(np, sizeof *w), *gh = calloc(np, sizeof *gh);
            float *gf = calloc(np, sizeof *gf), dout[18];
            ch_net_init(nf, CH_INIT_XAVIER, 11 + (uint64_t)a, w);
            /* the float net differences the weights the half net stores */
            ch_half_round(prec, w, np);
            ch_net_ws *wf = ch_net_ws_new(nf, 6), *wh = ch_net_ws_new(nh, 6);
            ch_grad_out go;
            CHECK(ch_mlp_grad(nh, CH_HEAD_SOFTMAX, w, s_ex, s_ey, 6, false, 1, 0, wh, dout, gh,
                              &go) == 0);
            /* the half net's outputs are stored values */
            const float *z = ch_net_forward(nh, w, s_ex, 6, false, 1, 0, wh);
            for (size_t i = 0; i < 18; i++) {
                float r = z[i];
                ch_half_round(prec, &r, 1);
                CHECK(r == z[i]);
            }
            ch_mlp_grad(nf, CH_HEAD_SOFTMAX, w, s_ex, s_ey, 6, false, 1, 0, wf, dout, gf, &go);
            double *fd = calloc(np, sizeof *fd), gmax = 0, diff_f = 0;
            for (size_t i = 0; i < np; i++) {
                const float h = 1e-2f;
                float keep = w[i];
                double lp, lm, c;
                w[i] = keep + h;
                ch_mlp_eval(nf, CH_HEAD_SOFTMAX, w, s_ex, s_ey, 6, 6, wf, dout, &lp, &c, NULL);
                w[i] = keep - h;
                ch_mlp_eval(nf, CH_HEAD_SOFTMAX, w, s_ex, s_ey, 6, 6, wf, dout, &lm, &c, NULL);
                w[i] = keep;
                fd[i] = (lp - lm) / (2 * h);
                gmax = fabs(fd[i]) > gmax ? fabs(fd[i]) : gmax;
                diff_f = fmax(diff_f, fabs((double)gh[i] - gf[i]));
            }
            int bad = 0;
            for (size_t i = 0; i < np; i++) {
                if (fabs(fd[i] - gh[i]) > 5e-2 * fabs(fd[i]) + 1e-2 * gmax) {
                    bad++;
                    fprintf(stderr, "%s gradcheck act %d param %zu: fd %g analytic %g\n",
                            ch_precision_names[pi], a, i, fd[i], (double)gh[i]);
                }
            }
            double emax = 0;
            for (size_t i = 0; i < np; i++) {
                emax = fmax(emax, fabs(fd[i] - gh[i]));
            }
            if (pi == CH_PREC_BF16) {
                emax_bf16[a] = emax;
            } else {
                CHECK(emax < 0.25 * emax_bf16[a]);
            }
            CHECK(bad == 0);
            CHECK(diff_f > 0); /* the half path really rounds */
            free(fd);
            free(w);
            free(gh);
            free(gf);
            ch_net_ws_destroy(&wf);
            ch_net_ws_destroy(&wh);
            ch_net_destroy(&nf);
            ch_net_destroy(&nh);
        }
    }
}

/* fp16 gradients of a nearly fitted regression underflow (below 2^-25 they
 * round to zero) unless the loss is scaled up first; scaled, they match
 * the float network's to fp16 accuracy. The output gradient 2^-20 is the
 * same exact value for both networks. */
static void test_loss_scaling(void)
{
    ch_net_spec spec = {.d_in = 4, .d_out = 1, .n_hidden = 1, .hidden = {8}, .act = CH_ACT_TANH};
    ch_net *nf = ch_net_new(&spec, NULL);
    spec.precision = CH_PREC_FP16;
    ch_net *nh = ch_net_new(&spec, NULL);
    size_t np = nf->n_params;
    float *w = calloc(np, sizeof *w), *gf = calloc(np, sizeof *gf), *g1 = calloc(np, sizeof *g1);
    float *gs = calloc(np, sizeof *gs), dout[4];
    ch_net_init(nf, CH_INIT_XAVIER, 5, w);
    for (size_t i = 0; i < np; i++) {
        w[i] *= 0.02f; /* small weights: small input gradients */
    }
    ch_half_round(CH_PREC_FP16, w, np);
    float x[16];
    for (int i = 0; i < 16; i++) {
        x[i] = (float)sin(0.7 * i + 0.3);
    }
    ch_net_ws *wf = ch_net_ws_new(nf, 4), *wh = ch_net_ws_new(nh, 4);
    const float tiny = 9.5367431640625e-7f; /* 2^-20 */
    float scales[2] = {1.0f, 65536.0f}, *gh[2] = {g1, gs};
    ch_net_forward(nf, w, x, 4, false, 0, 0, wf);
    for (int i = 0; i < 4; i++) {
        dout[i] = tiny;
    }
    ch_net_backward(nf, w, x, dout, 4, gf, wf);
    for (int k = 0; k < 2; k++) {
        ch_net_forward(nh, w, x, 4, false, 0, 0, wh);
        for (int i = 0; i < 4; i++) {
            dout[i] = tiny * scales[k];
        }
        ch_net_backward(nh, NULL, x, dout, 4, gh[k], wh);
    }
    /* the first layer's weight gradients (8 x 4) */
    size_t zero1 = 0, zeros = 0, bad = 0, nonzero_f = 0;
    for (size_t i = 0; i < 32; i++) {
        nonzero_f += gf[i] != 0;
        zero1 += g1[i] == 0;
        zeros += gs[i] == 0;
        double s = gs[i] / 65536.0;
        if (fabs(s - gf[i]) > 2e-2 * fabs(gf[i]) + 1e-16) {
            bad++;
            fprintf(stderr, "scaled fp16 gradient %zu: %g, float %g\n", i, s, (double)gf[i]);
        }
    }
    CHECK(nonzero_f == 32);
    CHECK(zero1 == 32); /* unscaled, they all underflow to zero in fp16 */
    CHECK(zeros == 0);  /* scaled, none do */
    CHECK(bad == 0);
    /* through the trainer: a scale that overflows fp16 gives an inf the
     * scaler sees */
    float y[4] = {1, -1, 2, 0};
    ch_grad_out go;
    memset(gs, 0, np * sizeof *gs);
    CHECK(ch_mlp_grad_scaled(nh, CH_HEAD_MSE, w, x, y, 4, false, 0, 0, 1e12f, wh, dout, gs, &go) ==
          0);
    CHECK(isfinite(go.loss) && !ch_grad_finite(gs, np));
    free(w);
    free(gf);
    free(g1);
    free(gs);
    ch_net_ws_destroy(&wf);
    ch_net_ws_destroy(&wh);
    ch_net_destroy(&nf);
    ch_net_destroy(&nh);
}

/* What a worker holds for the benchmark's 784-256-128-10 network at batch
 * 128: float weights plus the float workspace, against the bf16 workspace
 * (which holds the 16-bit weights itself). */
static void test_memory(void)
{
    ch_net_spec spec = {
        .d_in = 784, .d_out = 10, .n_hidden = 2, .hidden = {256, 128}, .act = CH_ACT_RELU};
    ch_net *nf = ch_net_new(&spec, NULL);
    spec.precision = CH_PREC_BF16;
    ch_net *nh = ch_net_new(&spec, NULL);
    ch_net_ws *wf = ch_net_ws_new(nf, 128), *wh = ch_net_ws_new(nh, 128);
    size_t f = ch_net_ws_bytes(wf) + nf->n_params * 4, h = ch_net_ws_bytes(wh);
    fprintf(stderr, "worker bytes at batch 128: fp32 %zu, bf16 %zu\n", f, h);
    CHECK(h < 0.85 * (double)f);
    CHECK(ch_net_ws_half_weights(wh) != NULL && ch_net_ws_half_weights(wf) == NULL);
    ch_net_ws_destroy(&wf);
    ch_net_ws_destroy(&wh);
    ch_net_destroy(&nf);
    ch_net_destroy(&nh);
}

int main(void)
{
    test_conversions();
    test_arrays();
    test_wire();
    test_scaler();
    test_embedding_kernel();
    test_embedding_net();
    test_half_gradcheck();
    test_loss_scaling();
    test_memory();
    CH_TEST_END();
}
