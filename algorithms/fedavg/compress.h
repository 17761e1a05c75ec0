/* compress.h: update compression: a silo's model delta as float32, fp16,
 * bf16, int8 with one scale per tensor, or the top-k entries by magnitude
 * with error feedback (what was not sent is added to the next round's
 * delta). The coordinator reads an encoded delta in chunks, so it never
 * holds a decoded copy of a whole update. */
#ifndef CH_FEDAVG_COMPRESS_H
#define CH_FEDAVG_COMPRESS_H

#include "algorithms/fedavg/params.h"
#include "common/buf.h"
#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

/* An encoded delta (what travels in an Update). */
typedef struct ch_fed_encoded {
    ch_fed_comp enc;
    ch_buf data;    /* values: 4, 2, 2 or 1 bytes each; top-k: float32 */
    ch_buf indices; /* top-k: uint32 positions, ascending */
    float *scales;  /* int8: one per tensor */
    size_t n_scales;
} ch_fed_encoded;

void ch_fed_encoded_init(ch_fed_encoded *e);
void ch_fed_encoded_free(ch_fed_encoded *e);

/* Encodes delta[n] whose tensors end at tensor_end[0..n_tensors) (the
 * last is n). For top-k, residual[n] (zero at first) is added to delta
 * first and keeps what is not sent; delta is then overwritten with
 * delta + residual. k = ceil(fraction * n). Returns 0 or CH_ENOMEM. */
int ch_fed_encode(ch_fed_comp c, float *delta, size_t n, const size_t *tensor_end, size_t n_tensors,
                  double topk_fraction, float *residual, ch_fed_encoded *out, ch_err *err);

/* A received encoded delta, borrowed from the message. */
typedef struct ch_fed_view {
    ch_fed_comp enc;
    size_t n; /* parameters */
    const uint8_t *data;
    size_t data_len;
    const float *scales;
    size_t n_scales;
    const uint8_t *indices;
    size_t n_indices;
    const size_t *tensor_end; /* the model's tensors, for int8 scales */
    size_t n_tensors;
} ch_fed_view;

/* Checks a view against the model: sizes, encoding, tensor count, top-k
 * positions strictly ascending and below n. CH_EPROTO with the reason. */
int ch_fed_view_check(const ch_fed_view *v, ch_err *err);

/* Decodes values [start, start + count) of a checked view into out
 * (positions a top-k view does not carry are 0). This function can't fail. */
void ch_fed_view_get(const ch_fed_view *v, size_t start, size_t count, float *out);

/* IEEE half and bfloat16 conversions (round to nearest even). */
uint16_t ch_fed_to_fp16(float x);
float ch_fed_from_fp16(uint16_t h);
uint16_t ch_fed_to_bf16(float x);
float ch_fed_from_bf16(uint16_t h);

#endif
