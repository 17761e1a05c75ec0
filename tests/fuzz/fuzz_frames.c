/* fuzz_frames.c: libFuzzer target for split messages (ch_wire_decode_frames,
 * what ch_wire_recv does with the frames after the routing id). The first
 * byte picks the number of frames (up to CH_WIRE_MAX_FRAMES + 1) and a size
 * bound, the next bytes the cut points, the rest is the message. Any input
 * must give an Envelope or a reason, never a crash, leak or undefined
 * behaviour, and the same verdict and Envelope as decoding the joined bytes
 * whole; too many frames or too many bytes must be refused. */
#include "common/wire.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t nf = 1 + data[0] % (CH_WIRE_MAX_FRAMES + 1);
    long long max = data[0] & 0x80 ? 64 : 0;
    if (size < nf) {
        return 0;
    }
    const uint8_t *msg = data + nf;
    size_t len = size - nf;
    const uint8_t *frames[CH_WIRE_MAX_FRAMES + 1];
    size_t lens[CH_WIRE_MAX_FRAMES + 1];
    size_t prev = 0;
    for (size_t k = 0; k < nf; k++) {
        /* cut points from the bytes, kept in order */
        size_t end = k + 1 < nf ? (size_t)data[1 + k] * len / 255 : len;
        end = end < prev ? prev : end;
        frames[k] = msg + prev;
        lens[k] = end - prev;
        prev = end;
    }
    ch_err e1 = {0}, e2 = {0};
    Cohort__Envelope *split = ch_wire_decode_frames(frames, lens, nf, max, "exp", &e1);
    if (!split && (e1.msg[0] == '\0' || e1.code != CH_EPROTO)) {
        __builtin_trap(); /* a rejection must say why */
    }
    if (nf > CH_WIRE_MAX_FRAMES || (max > 0 && len > (size_t)max)) {
        if (split) {
            __builtin_trap(); /* the bounds did not hold */
        }
        return 0;
    }
    Cohort__Envelope *whole = ch_wire_decode(msg, len, "exp", &e2);
    if ((split == NULL) != (whole == NULL)) {
        __builtin_trap(); /* the cuts changed the verdict */
    }
    if (split && (split->round != whole->round || split->kind != whole->kind ||
                  split->payload.len != whole->payload.len ||
                  (split->payload.len &&
                   memcmp(split->payload.data, whole->payload.data, split->payload.len) != 0))) {
        __builtin_trap(); /* the cuts changed the Envelope */
    }
    if (!split && strcmp(e1.msg, e2.msg) != 0) {
        __builtin_trap(); /* the same bytes, another reason */
    }
    if (split) {
        cohort__envelope__free_unpacked(split, NULL);
        cohort__envelope__free_unpacked(whole, NULL);
    }
    return 0;
}
