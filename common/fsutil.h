/* fsutil.h: small file-system helpers: mkdir -p, atomic writes, whole-file reads. */
#ifndef CH_FSUTIL_H
#define CH_FSUTIL_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

/* Creates dir and its parents (mode 0755). 0 or CH_EIO with a message. */
int ch_mkdirs(const char *dir, ch_err *err);
/* Writes data to path atomically: a temp file in the same directory,
 * fsync, rename. Nothing at path changes unless the whole write succeeded. */
int ch_write_file_atomic(const char *path, const void *data, size_t len, ch_err *err);
/* The same for a file made of n pieces written one after the other, so a
 * caller that has the pieces apart (a header and a large payload) does not
 * join them into one more copy first. Pieces of length 0 are skipped. */
typedef struct ch_file_piece {
    const void *data;
    size_t len;
} ch_file_piece;
int ch_write_file_atomic_pieces(const char *path, const ch_file_piece *pieces, size_t n,
                                ch_err *err);
/* Reads a whole file (at most max bytes) into a malloc'd buffer with a NUL
 * after the data. NULL with err set on failure. */
uint8_t *ch_read_file(const char *path, size_t max, size_t *len, ch_err *err);
/* path joined: "a" + "/" + "b" in a malloc'd string (NULL on failure). */
char *ch_path_join(const char *a, const char *b);

#endif
