/* err.c: the error context (see err.h). */
#include "common/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ch_err_clear(ch_err *e)
{
    if (e) {
        e->code = 0;
        e->msg[0] = '\0';
    }
}

int ch_err_vset(ch_err *e, int code, const char *fmt, va_list ap)
{
    if (e) {
        e->code = code;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    }
    return code;
}

int ch_err_set(ch_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ch_err_vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

int ch_err_prefix(ch_err *e, const char *fmt, ...)
{
    if (!e) {
        return CH_EINVAL;
    }
    char old[CH_ERR_MSG_MAX];
    memcpy(old, e->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof e->msg) {
        size_t used = (size_t)n;
        size_t room = sizeof e->msg - used;
        size_t len = strnlen(old, sizeof old - 1);
        if (room > 2) {
            e->msg[used] = ':';
            e->msg[used + 1] = ' ';
            size_t copy = len < room - 3 ? len : room - 3;
            memcpy(e->msg + used + 2, old, copy);
            e->msg[used + 2 + copy] = '\0';
        }
    }
    return e->code ? e->code : CH_EINVAL;
}

const char *ch_strerror(int code)
{
    switch (code) {
    case CH_OK: return "ok";
    case CH_EINVAL: return "invalid input";
    case CH_ENOMEM: return "out of memory";
    case CH_EIO: return "I/O error";
    case CH_EPROTO: return "protocol error";
    case CH_ETIMEOUT: return "timeout";
    case CH_ELOST: return "peer lost";
    case CH_ENOTFOUND: return "not found";
    case CH_EINTERNAL: return "internal error";
    case CH_EINTR: return "interrupted";
    default: return "unknown error";
    }
}

int ch_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) {
        return CH_ENOMEM;
    }
    *out = a * b;
    return 0;
}

void *ch_alloc_array(size_t n, size_t size)
{
    size_t bytes;
    if (ch_mul_size(n, size, &bytes) != 0) {
        return NULL;
    }
    return malloc(bytes ? bytes : 1);
}

void *ch_calloc_array(size_t n, size_t size)
{
    if (n != 0 && size > SIZE_MAX / n) {
        return NULL;
    }
    return calloc(n ? n : 1, size ? size : 1);
}
