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

/* A writer thread for the per-round checkpoints, so the write and its fsync
 * overlap the next round instead of holding up every worker: at most one
 * checkpoint is in flight, and a crash loses at most that one (a resumed run
 * starts from the one before). */
typedef struct ch_ckpt_writer ch_ckpt_writer;

/* NULL with err set when out of memory or no thread can be started. */
ch_ckpt_writer *ch_ckpt_writer_new(const char *run_dir, const char *experiment,
                                   const char *algorithm, ch_err *err);
/* Waits for the checkpoint in flight, then starts writing this one; takes
 * state (malloc'd, freed by the writer). Returns 0, or the error of the
 * previous write (this one is then not started and state is freed). */
int ch_ckpt_writer_put(ch_ckpt_writer *w, uint32_t round, uint8_t *state, size_t len, ch_err *err);
/* Waits until nothing is in flight. Returns 0 or the error of the last
 * write (reported once, when err is not NULL). */
int ch_ckpt_writer_flush(ch_ckpt_writer *w, ch_err *err);
/* The round of the last checkpoint on disk (0 if none); call after flush. */
uint32_t ch_ckpt_writer_round(const ch_ckpt_writer *w);
/* Flushes (an error is logged), stops the thread and frees the writer. */
void ch_ckpt_writer_destroy(ch_ckpt_writer **w);

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
