/* checkpoint.h: the coordinator's per-round checkpoint: the algorithm's
 * global state after a round, written atomically to
 * DIR/checkpoints/latest.pb (temp file, fsync, rename). */
#ifndef CH_CHECKPOINT_H
#define CH_CHECKPOINT_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

int ch_checkpoint_write(const char *run_dir, const char *experiment, const char *algorithm,
                        uint32_t round, const uint8_t *state, size_t len, ch_err *err);

typedef struct ch_checkpoint {
    uint32_t round;
    char *algorithm;
    char *experiment;
    uint8_t *state;
    size_t len;
} ch_checkpoint;

/* Reads DIR/checkpoints/latest.pb. CH_ENOTFOUND if there is none. */
int ch_checkpoint_read(const char *run_dir, ch_checkpoint *out, ch_err *err);
void ch_checkpoint_free(ch_checkpoint *c);

#endif
