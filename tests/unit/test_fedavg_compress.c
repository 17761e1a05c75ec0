/* test_fedavg_compress.c: the update encodings of fedavg: fp16 and bf16
 * conversions bit for bit against NumPy (float16) and PyTorch (bfloat16),
 * int8 within half a step of its per-tensor scale, top-k with error
 * feedback losing nothing over rounds, and hostile views refused. */
#include "algorithms/fedavg/compress.h"
#include "tests/check.h"

/* Values and their half / bfloat16 bits from /usr/bin/python3:
 * np.array(xs, np.float32).astype(np.float16).view(np.uint16) and
 * torch.tensor(xs).to(torch.bfloat16).view(torch.int16): exact (tolerance 0). */
static const float s_xs[10] = {0.1f,  -2.5f, 65504.0f,      70000.0f,    1e-5f,
                               6e-8f, 3e-8f, 1.0009765625f, 0.33333334f, -1e-7f};
static const uint16_t s_fp16[10] = {0x2e66, 0xc100, 0x7bff, 0x7c00, 0xa8,
                                    0x1,    0x1,    0x3c01, 0x3555, 0x8002};
static const uint16_t s_bf16[10] = {0x3dcd, 0xc020, 0x4780, 0x4789, 0x3728,
                                    0x3381, 0x3301, 0x3f80, 0x3eab, 0xb3d7};

static void test_half(void)
{
    for (size_t i = 0; i < 10; i++) {
        CHECK(ch_fed_to_fp16(s_xs[i]) == s_fp16[i]);
        CHECK(ch_fed_to_bf16(s_xs[i]) == s_bf16[i]);
    }
    CHECK_NEAR(ch_fed_from_fp16(0x2e66), 0.0999755859375, 0);
    CHECK_NEAR(ch_fed_from_fp16(0x1), 5.960464477539063e-08, 0);
    CHECK(isinf(ch_fed_from_fp16(0x7c00)));
    CHECK(isnan(ch_fed_from_fp16(ch_fed_to_fp16(NAN))));
    CHECK(isnan(ch_fed_from_bf16(ch_fed_to_bf16(NAN))));
    CHECK_NEAR(ch_fed_from_bf16(0x4789), 70144.0, 0);
    /* every finite half survives a round trip */
    int same = 1;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) != 0x7c00) {
            same &= ch_fed_to_fp16(ch_fed_from_fp16((uint16_t)h)) == h;
        }
    }
    CHECK(same);
}

static void s_view(ch_fed_view *v, const ch_fed_encoded *e, size_t n, const size_t *tend, size_t nt)
{
    *v = (ch_fed_view){.enc = e->enc,
                       .n = n,
                       .data = e->data.data,
                       .data_len = e->data.len,
                       .scales = e->scales,
                       .n_scales = e->n_scales,
                       .indices = e->indices.data,
                       .n_indices = e->indices.len,
                       .tensor_end = tend,
                       .n_tensors = nt};
}

static void test_int8(void)
{
    enum { N = 300 };
    float d[N], back[N];
    size_t tend[2] = {200, N};
    for (size_t i = 0; i < N; i++) {
        d[i] = i < 200 ? 0.01f * sinf((float)i) : 3.0f * cosf((float)i);
    }
    ch_fed_encoded e;
    ch_fed_encoded_init(&e);
    CHECK(ch_fed_encode(CH_FED_COMP_INT8, d, N, tend, 2, 0, NULL, &e, NULL) == 0);
    CHECK(e.data.len == N && e.n_scales == 2);
    ch_fed_view v;
    s_view(&v, &e, N, tend, 2);
    CHECK(ch_fed_view_check(&v, NULL) == 0);
    ch_fed_view_get(&v, 0, N, back);
    int within = 1;
    for (size_t i = 0; i < N; i++) {
        float half = 0.5001f * e.scales[i < 200 ? 0 : 1];
        within &= fabsf(back[i] - d[i]) <= half;
    }
    CHECK(within);
    /* a chunk that starts inside the second tensor uses its scale */
    float part[10];
    ch_fed_view_get(&v, 250, 10, part);
    CHECK(memcmp(part, back + 250, sizeof part) == 0);
    /* too few scales is refused */
    v.n_scales = 1;
    ch_err err;
    CHECK(ch_fed_view_check(&v, &err) == CH_EPROTO);
    ch_fed_encoded_free(&e);
}

static void test_topk(void)
{
    enum { N = 1000, R = 6 };
    float res[N] = {0}, total[N] = {0}, sent[N] = {0}, d[N], chunk[N];
    size_t tend[1] = {N};
    for (int r = 0; r < R; r++) {
        for (size_t i = 0; i < N; i++) {
            d[i] = sinf((float)(i * 7 + (size_t)r * 13)) * (float)(1 + i % 5);
            total[i] += d[i];
        }
        ch_fed_encoded e;
        ch_fed_encoded_init(&e);
        CHECK(ch_fed_encode(CH_FED_COMP_TOPK, d, N, tend, 1, 0.05, res, &e, NULL) == 0);
        CHECK(e.indices.len == 50 * 4 && e.data.len == 50 * 4);
        ch_fed_view v;
        s_view(&v, &e, N, tend, 1);
        CHECK(ch_fed_view_check(&v, NULL) == 0);
        ch_fed_view_get(&v, 0, N, chunk);
        size_t nz = 0;
        for (size_t i = 0; i < N; i++) {
            sent[i] += chunk[i];
            nz += chunk[i] != 0;
        }
        CHECK(nz == 50);
        /* a chunk in the middle decodes like the whole */
        float mid[100];
        ch_fed_view_get(&v, 450, 100, mid);
        CHECK(memcmp(mid, chunk + 450, sizeof mid) == 0);
        /* positions not ascending are refused */
        if (r == 0) {
            uint8_t tmp[4];
            memcpy(tmp, e.indices.data, 4);
            memcpy(e.indices.data, e.indices.data + 4, 4);
            memcpy(e.indices.data + 4, tmp, 4);
            CHECK(ch_fed_view_check(&v, NULL) == CH_EPROTO);
        }
        ch_fed_encoded_free(&e);
    }
    /* error feedback: what was sent plus what is left is everything */
    double worst = 0;
    for (size_t i = 0; i < N; i++) {
        double gap = fabs((double)sent[i] + res[i] - total[i]);
        worst = gap > worst ? gap : worst;
    }
    CHECK(worst < 1e-4);
}

static void test_sizes(void)
{
    float d[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    size_t tend[1] = {8};
    ch_fed_encoded e;
    ch_fed_encoded_init(&e);
    CHECK(ch_fed_encode(CH_FED_COMP_FP16, d, 8, tend, 1, 0, NULL, &e, NULL) == 0);
    ch_fed_view v;
    s_view(&v, &e, 8, tend, 1);
    CHECK(ch_fed_view_check(&v, NULL) == 0);
    v.n = 9; /* the wrong shape */
    ch_err err;
    CHECK(ch_fed_view_check(&v, &err) == CH_EPROTO);
    CHECK(strstr(err.msg, "needs 18") != NULL);
    v.n = 8;
    v.enc = (ch_fed_comp)9;
    CHECK(ch_fed_view_check(&v, &err) == CH_EPROTO);
    ch_fed_encoded_free(&e);
    ch_fed_encoded_init(&e);
    CHECK(ch_fed_encode(CH_FED_COMP_BF16, d, 8, tend, 1, 0, NULL, &e, NULL) == 0);
    s_view(&v, &e, 8, tend, 1);
    float back[8];
    ch_fed_view_get(&v, 0, 8, back);
    CHECK(memcmp(back, d, sizeof d) == 0); /* small integers are exact in bf16 */
    ch_fed_encoded_free(&e);
}

int main(void)
{
    test_half();
    test_int8();
    test_topk();
    test_sizes();
    CH_TEST_END();
}
