/* half.h: bf16 and fp16 storage for the network's weights and activations:
 * round-to-nearest-even conversions from float and exact conversions back.
 * Arithmetic stays in float (sgemm on float tiles); only storage is half. */
#ifndef CH_MLP_HALF_H
#define CH_MLP_HALF_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CH_PREC_FP32 = 0,
    CH_PREC_BF16 = 1, /* 8-bit exponent, 7-bit mantissa (float's range) */
    CH_PREC_FP16 = 2, /* IEEE binary16: 5-bit exponent, largest finite 65504 */
} ch_precision;

/* Names in enum order, NULL-terminated ("fp32", "bf16", "fp16"). */
extern const char *const ch_precision_names[];

/* Bytes of one stored value (4, 2, 2). */
size_t ch_precision_bytes(ch_precision p);

/* Round to nearest, ties to even; NaN stays NaN (quiet), overflow becomes
 * infinity, fp16 keeps subnormals. These functions can't fail. */
uint16_t ch_bf16_from_f32(float f);
float ch_bf16_to_f32(uint16_t h);
uint16_t ch_fp16_from_f32(float f);
float ch_fp16_to_f32(uint16_t h);

/* dst[i] = half(src[i]) / float(src[i]) for p = BF16 or FP16 (FP32: no-op
 * for round, not allowed for store/load). */
void ch_half_store(ch_precision p, uint16_t *dst, const float *src, size_t n);
void ch_half_load(ch_precision p, float *dst, const uint16_t *src, size_t n);
/* x[i] = float(half(x[i])) in place: the value a half store would keep. */
void ch_half_round(ch_precision p, float *x, size_t n);

/* Little-endian bytes of n values at precision p (4 or 2 bytes each) from
 * float src, and back. Used for tensors on the wire. */
void ch_half_pack(ch_precision p, uint8_t *dst, const float *src, size_t n);
void ch_half_unpack(ch_precision p, float *dst, const uint8_t *src, size_t n);

#endif
