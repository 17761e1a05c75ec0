/* test_transformer_grad.c: finite-difference gradient checks of the
 * transformer's kernels and of the whole encoder: masked multi-head
 * attention, mean and class-token pooling, one pre-norm block, and every
 * parameter of small networks (vector and token inputs, learned and
 * sinusoidal positions, padded sequences), plus the mask's contract
 * (padding changes nothing real) and the layout's errors.
 *
 * The kernels are float32: central differences with step 1e-2 on a loss
 * computed in double, accepted at 2e-2 relative error with an absolute
 * floor of 2e-3 (float rounding of the differenced loss dominates below
 * it). */
#include "algorithms/mlp/nn.h"
#include "algorithms/transformer/attention.h"
#include "algorithms/transformer/encoder.h"
#include "algorithms/transformer/train.h"
#include "common/rng.h"
#include "tests/check.h"

#define H_STEP 1e-2f
#define RTOL   2e-2
#define FLOOR  0.1 /* |ref| below this: tolerance RTOL * FLOOR = 2e-3 absolute */

static void s_rand(float *v, size_t n, uint64_t stream, double sd)
{
    ch_rng r;
    ch_rng_init(&r, 7, stream);
    for (size_t i = 0; i < n; i++) {
        v[i] = (float)(ch_rng_normal(&r) * sd);
    }
}

static double s_dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        s += (double)a[i] * b[i];
    }
    return s;
}

/* --- attention: loss = sum(ctx * r) ------------------------------------------ */

enum { AB = 2, AT = 5, AH = 2, AD = 6 };
static const uint8_t s_amask[AB * AT] = {1, 1, 1, 0, 0, 1, 1, 1, 1, 1};

static double s_attn_loss(const float *qkv, const float *r)
{
    float ctx[AB * AT * AD], prob[AB * AH * AT * AT];
    ch_tfm_attn_forward(ctx, prob, qkv, s_amask, AB, AT, AH, AD);
    return s_dot(ctx, r, AB * AT * AD);
}

static void test_attention(void)
{
    float qkv[AB * AT * 3 * AD], r[AB * AT * AD], ctx[AB * AT * AD], prob[AB * AH * AT * AT];
    float dqkv[AB * AT * 3 * AD], scratch[AT * AT];
    s_rand(qkv, AB * AT * 3 * AD, 1, 1.0);
    s_rand(r, AB * AT * AD, 2, 1.0);
    ch_tfm_attn_forward(ctx, prob, qkv, s_amask, AB, AT, AH, AD);
    /* padding keys get no weight, every row sums to 1 */
    int masked_zero = 1, rows_one = 1;
    for (size_t s = 0; s < AB; s++) {
        for (size_t h = 0; h < AH; h++) {
            for (size_t i = 0; i < AT; i++) {
                double sum = 0;
                for (size_t j = 0; j < AT; j++) {
                    float p = prob[((s * AH + h) * AT + i) * AT + j];
                    sum += p;
                    if (!s_amask[s * AT + j] && p != 0.0f) {
                        masked_zero = 0;
                    }
                }
                rows_one &= fabs(sum - 1) < 1e-6;
            }
        }
    }
    CHECK(masked_zero);
    CHECK(rows_one);
    ch_tfm_attn_backward(dqkv, r, prob, qkv, AB, AT, AH, AD, scratch);
    for (size_t i = 0; i < AB * AT * 3 * AD; i++) {
        float keep = qkv[i];
        qkv[i] = keep + H_STEP;
        double lp = s_attn_loss(qkv, r);
        qkv[i] = keep - H_STEP;
        double lm = s_attn_loss(qkv, r);
        qkv[i] = keep;
        CHECK_REL(dqkv[i], (lp - lm) / (2 * H_STEP), RTOL, FLOOR);
    }
    /* keys and values at padding (sequence 0, positions 3 and 4) get zero gradient */
    for (size_t p = 3; p < 5; p++) {
        for (size_t j = AD; j < 3 * AD; j++) {
            CHECK(dqkv[p * 3 * AD + j] == 0.0f);
        }
    }
    /* changing a padding key or value changes no real position's output */
    float ctx2[AB * AT * AD];
    qkv[4 * 3 * AD + AD + 1] += 5.0f;
    qkv[3 * 3 * AD + 2 * AD + 2] -= 5.0f;
    ch_tfm_attn_forward(ctx2, prob, qkv, s_amask, AB, AT, AH, AD);
    CHECK(memcmp(ctx, ctx2, 3 * AD * sizeof(float)) == 0);
}

/* --- pooling: loss = sum(pool(x) * r) ---------------------------------------- */

static void test_pooling(void)
{
    float x[AB * AT * AD], r[AB * AD], y[AB * AD], dx[AB * AT * AD];
    s_rand(x, AB * AT * AD, 3, 1.0);
    s_rand(r, AB * AD, 4, 1.0);
    for (int kind = 0; kind < 2; kind++) {
        if (kind == 0) {
            ch_tfm_pool_mean_forward(y, x, s_amask, AB, AT, AD);
            ch_tfm_pool_mean_backward(dx, r, s_amask, AB, AT, AD);
        } else {
            ch_tfm_pool_first_forward(y, x, AB, AT, AD);
            ch_tfm_pool_first_backward(dx, r, AB, AT, AD);
        }
        for (size_t i = 0; i < AB * AT * AD; i++) {
            float keep = x[i];
            x[i] = keep + H_STEP;
            kind ? ch_tfm_pool_first_forward(y, x, AB, AT, AD)
                 : ch_tfm_pool_mean_forward(y, x, s_amask, AB, AT, AD);
            double lp = s_dot(y, r, AB * AD);
            x[i] = keep - H_STEP;
            kind ? ch_tfm_pool_first_forward(y, x, AB, AT, AD)
                 : ch_tfm_pool_mean_forward(y, x, s_amask, AB, AT, AD);
            double lm = s_dot(y, r, AB * AD);
            x[i] = keep;
            CHECK_REL(dx[i], (lp - lm) / (2 * H_STEP), RTOL, FLOOR);
        }
    }
    /* the mean of sequence 0 is over its 3 real positions */
    ch_tfm_pool_mean_forward(y, x, s_amask, AB, AT, AD);
    CHECK_NEAR(y[0], (x[0] + x[AD] + x[2 * AD]) / 3.0, 1e-6);
}

/* --- whole networks ---------------------------------------------------------- */

typedef struct s_case {
    const char *name;
    ch_tfm_spec spec;
    ch_head head;
} s_case;

/* Summed loss of the network on (x, mask, y). */
static double s_net_loss(const ch_tfm *m, ch_head head, const float *w, const float *x,
                         const uint8_t *mask, const float *y, size_t n, ch_tfm_ws *ws, float *dout)
{
    double loss, correct;
    ch_tfm_eval(m, head, w, x, mask, y, n, n, ws, dout, &loss, &correct, NULL);
    return loss;
}

static void s_check_net(const s_case *c)
{
    enum { N = 3 };
    ch_err err;
    ch_err_clear(&err);
    ch_tfm *m = ch_tfm_new(&c->spec, &err);
    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "%s: %s\n", c->name, err.msg);
        return;
    }
    size_t L = c->spec.len, np = m->n_params, w_in = L * c->spec.d_in;
    float *w = calloc(np, sizeof *w), *g = calloc(np, sizeof *g);
    float x[N * 64], y[N], dout[N * 8];
    uint8_t mask[N * 16];
    ch_tfm_ws *ws = ch_tfm_ws_new(m, N);
    ch_tfm_init(m, 11, w);
    /* perturb the gains and biases too, so their gradients are exercised */
    float noise[4096];
    s_rand(noise, np < 4096 ? np : 4096, 5, 0.1);
    for (size_t i = 0; i < np && i < 4096; i++) {
        w[i] += noise[i];
    }
    s_rand(x, N * w_in, 6, 1.0);
    for (size_t s = 0; s < N; s++) {
        for (size_t p = 0; p < L; p++) {
            mask[s * L + p] = p < L - s; /* sequence s has s padding positions */
            if (!mask[s * L + p]) {
                for (size_t j = 0; j < c->spec.d_in; j++) {
                    x[(s * L + p) * c->spec.d_in + j] = 0.0f;
                }
            }
            if (c->spec.input == CH_TFM_IN_TOKENS) {
                x[s * L + p] = (float)((s * 7 + p * 3) % c->spec.vocab);
            }
        }
        y[s] = c->head == CH_HEAD_MSE ? (float)s - 1.0f : (float)(s % c->spec.d_out);
    }
    ch_grad_out go;
    int rc = ch_tfm_grad(m, c->head, w, x, mask, y, N, ws, dout, g, &go);
    CHECK(rc == 0);
    size_t bad = 0;
    double worst = 0;
    for (size_t i = 0; i < np; i++) {
        float keep = w[i];
        w[i] = keep + H_STEP;
        double lp = s_net_loss(m, c->head, w, x, mask, y, N, ws, dout);
        w[i] = keep - H_STEP;
        double lm = s_net_loss(m, c->head, w, x, mask, y, N, ws, dout);
        w[i] = keep;
        double fd = (lp - lm) / (2 * H_STEP);
        double tol = RTOL * (fabs(fd) > FLOOR ? fabs(fd) : FLOOR);
        if (fabs(g[i] - fd) > tol) {
            if (bad < 5) {
                fprintf(stderr, "%s: parameter %zu: analytic %g, finite difference %g\n", c->name,
                        i, (double)g[i], fd);
            }
            bad++;
        }
        worst = fabs(g[i] - fd) / tol > worst ? fabs(g[i] - fd) / tol : worst;
    }
    printf("%s: %zu parameters, largest error / tolerance %.3f\n", c->name, np, worst);
    CHECK(bad == 0);
    /* padding does not matter: change the padded inputs, same outputs */
    float out1[N * 8];
    const float *z = ch_tfm_forward(m, w, x, mask, N, ws);
    memcpy(out1, z, N * c->spec.d_out * sizeof *out1);
    if (c->spec.input == CH_TFM_IN_VECTOR) {
        for (size_t i = 0; i < N * L; i++) {
            if (!mask[i]) {
                x[i * c->spec.d_in] = 3.0f;
            }
        }
    } else {
        for (size_t i = 0; i < N * L; i++) {
            if (!mask[i]) {
                x[i] = (float)(c->spec.vocab - 1);
            }
        }
    }
    z = ch_tfm_forward(m, w, x, mask, N, ws);
    CHECK(memcmp(out1, z, N * c->spec.d_out * sizeof *out1) == 0);
    ch_tfm_ws_destroy(&ws);
    ch_tfm_destroy(&m);
    free(w);
    free(g);
}

static void test_networks(void)
{
    const s_case cases[] = {
        {"one block, vector inputs, learned positions, mean pooling, softmax",
         {.len = 5,
          .d_in = 3,
          .d_model = 8,
          .heads = 2,
          .n_layers = 1,
          .d_ff = 12,
          .d_out = 3,
          .input = CH_TFM_IN_VECTOR,
          .pos = CH_TFM_POS_LEARNED,
          .pool = CH_TFM_POOL_MEAN},
         CH_HEAD_SOFTMAX},
        {"two blocks, sinusoidal positions, class token, binary",
         {.len = 4,
          .d_in = 2,
          .d_model = 8,
          .heads = 4,
          .n_layers = 2,
          .d_ff = 6,
          .d_out = 1,
          .input = CH_TFM_IN_VECTOR,
          .pos = CH_TFM_POS_SINUSOIDAL,
          .pool = CH_TFM_POOL_CLS},
         CH_HEAD_BCE},
        {"tokens, learned positions, class token, regression",
         {.len = 5,
          .d_in = 1,
          .vocab = 7,
          .d_model = 6,
          .heads = 3,
          .n_layers = 1,
          .d_ff = 8,
          .d_out = 1,
          .input = CH_TFM_IN_TOKENS,
          .pos = CH_TFM_POS_LEARNED,
          .pool = CH_TFM_POOL_CLS},
         CH_HEAD_MSE},
        {"no blocks, no positions (embedding, norm, pooling, head)",
         {.len = 3,
          .d_in = 2,
          .d_model = 4,
          .heads = 1,
          .n_layers = 0,
          .d_ff = 4,
          .d_out = 3,
          .input = CH_TFM_IN_VECTOR,
          .pos = CH_TFM_POS_NONE,
          .pool = CH_TFM_POOL_MEAN},
         CH_HEAD_SOFTMAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_check_net(&cases[i]);
    }
}

/* --- layout errors ------------------------------------------------------------- */

static void test_errors(void)
{
    ch_err err;
    ch_err_clear(&err);
    ch_tfm_spec sp = {
        .len = 4, .d_in = 2, .d_model = 10, .heads = 4, .n_layers = 1, .d_ff = 8, .d_out = 2};
    ch_tfm *m = ch_tfm_new(&sp, &err);
    CHECK(m == NULL);
    CHECK(strstr(err.msg, "d_model 10 is not divisible by heads 4") != NULL);
    ch_err_clear(&err);
    sp.heads = 2;
    sp.len = CH_TFM_MAX_LEN + 1;
    m = ch_tfm_new(&sp, &err);
    CHECK(m == NULL);
    CHECK(strstr(err.msg, "sequence length") != NULL);
    ch_err_clear(&err);
    sp.len = 4;
    sp.input = CH_TFM_IN_TOKENS;
    sp.d_in = 1;
    sp.vocab = 0;
    m = ch_tfm_new(&sp, &err);
    CHECK(m == NULL);
    CHECK(strstr(err.msg, "vocabulary") != NULL);
    /* sinusoid: position 0 is (0, 1, 0, 1, ...), position p has sin(p) first */
    float pe[3 * 4];
    ch_tfm_sinusoid(pe, 3, 4);
    CHECK_NEAR(pe[0], 0, 0);
    CHECK_NEAR(pe[1], 1, 0);
    CHECK_NEAR(pe[2 * 4], sin(2.0), 1e-6);
    CHECK_NEAR(pe[2 * 4 + 3], cos(2.0 / 100.0), 1e-6);
}

int main(void)
{
    test_attention();
    test_pooling();
    test_networks();
    test_errors();
    CH_TEST_END();
}
