/* err.h: error codes and the error context that carries a message for the user.
 *
 * Every action returns int (0 ok, negative CH_E* code). A function that fails
 * also writes a human message into the ch_err the caller passed, naming what
 * was wrong and where (file:line, key, peer). The caller decides whether to
 * print it. Passing a NULL ch_err is allowed: the message is dropped. */
#ifndef CH_ERR_H
#define CH_ERR_H

#include <stdarg.h>
#include <stddef.h>

enum {
    CH_OK = 0,
    CH_EINVAL = -1,   /* bad argument or bad input (config, data file) */
    CH_ENOMEM = -2,   /* out of memory or size overflow */
    CH_EIO = -3,      /* file system or socket failure */
    CH_EPROTO = -4,   /* malformed or unexpected message from a peer */
    CH_ETIMEOUT = -5, /* a deadline passed */
    CH_ELOST = -6,    /* a peer was lost */
    CH_ENOTFOUND = -7,
    CH_EINTERNAL = -8, /* a bug: an invariant did not hold */
    CH_EINTR = -9,     /* interrupted by a signal */
};

#define CH_ERR_MSG_MAX 1024

typedef struct ch_err {
    int code;
    char msg[CH_ERR_MSG_MAX];
} ch_err;

/* Clears the context. Accepts NULL. */
void ch_err_clear(ch_err *e);

/* Sets code and a printf-style message; returns code so callers can
 * `return ch_err_set(err, CH_EINVAL, "...")`. Accepts a NULL context. */
int ch_err_set(ch_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int ch_err_vset(ch_err *e, int code, const char *fmt, va_list ap);

/* Prepends "prefix: " to the message already set (adds context on the way up).
 * Returns the stored code. */
int ch_err_prefix(ch_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A short name for a code ("invalid input", "timeout", ...). Never NULL. */
const char *ch_strerror(int code);

/* Checked size arithmetic: return 0 on success, CH_ENOMEM on overflow. */
int ch_mul_size(size_t a, size_t b, size_t *out);

/* malloc/calloc of n*size with overflow check; NULL on failure or overflow. */
void *ch_alloc_array(size_t n, size_t size);
void *ch_calloc_array(size_t n, size_t size);

#endif
