/* buf.h: a growable byte buffer the caller owns (for messages, JSON, HTML). */
#ifndef CH_BUF_H
#define CH_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct ch_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int failed; /* set once an allocation failed; later appends are no-ops */
} ch_buf;

/* A zeroed ch_buf is a valid empty buffer. */
void ch_buf_init(ch_buf *b);
/* Frees the storage; the buffer is empty and usable again. Accepts NULL. */
void ch_buf_free(ch_buf *b);
/* Ensures room for `extra` more bytes. 0 or CH_ENOMEM. */
int ch_buf_reserve(ch_buf *b, size_t extra);
int ch_buf_append(ch_buf *b, const void *p, size_t n);
int ch_buf_puts(ch_buf *b, const char *s);
int ch_buf_printf(ch_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal with quotes and escapes. */
int ch_buf_json_str(ch_buf *b, const char *s);
/* Appends a double as JSON (null for NaN/inf, shortest round-trip digits). */
int ch_buf_json_num(ch_buf *b, double v);
/* Appends s with HTML escapes (& < > " '). */
int ch_buf_html(ch_buf *b, const char *s);
/* NUL-terminated view of the contents (the NUL is not counted in len).
 * Returns "" for an empty or failed buffer. */
const char *ch_buf_str(ch_buf *b);
/* Takes ownership of the data: returns it (NUL-terminated) and empties b. */
char *ch_buf_take(ch_buf *b);

#endif
