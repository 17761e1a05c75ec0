/* buf.c: growable byte buffer (see buf.h). */
#include "common/buf.h"
#include "common/err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ch_buf_init(ch_buf *b)
{
    memset(b, 0, sizeof *b);
}

void ch_buf_free(ch_buf *b)
{
    if (b) {
        free(b->data);
        memset(b, 0, sizeof *b);
    }
}

int ch_buf_reserve(ch_buf *b, size_t extra)
{
    if (b->failed) {
        return CH_ENOMEM;
    }
    if (extra > SIZE_MAX - b->len - 1) {
        b->failed = 1;
        return CH_ENOMEM;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return CH_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int ch_buf_append(ch_buf *b, const void *p, size_t n)
{
    if (ch_buf_reserve(b, n) != 0) {
        return CH_ENOMEM;
    }
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int ch_buf_puts(ch_buf *b, const char *s)
{
    return ch_buf_append(b, s, strlen(s));
}

int ch_buf_printf(ch_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || ch_buf_reserve(b, (size_t)n) != 0) {
        return CH_ENOMEM;
    }
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int ch_buf_json_str(ch_buf *b, const char *s)
{
    int rc = ch_buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0; p++) {
        switch (*p) {
        case '"': rc = ch_buf_puts(b, "\\\""); break;
        case '\\': rc = ch_buf_puts(b, "\\\\"); break;
        case '\n': rc = ch_buf_puts(b, "\\n"); break;
        case '\r': rc = ch_buf_puts(b, "\\r"); break;
        case '\t': rc = ch_buf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20) {
                rc = ch_buf_printf(b, "\\u%04x", *p);
            } else {
                rc = ch_buf_append(b, p, 1);
            }
        }
    }
    return rc ? rc : ch_buf_puts(b, "\"");
}

int ch_buf_json_num(ch_buf *b, double v)
{
    if (!isfinite(v)) {
        return ch_buf_puts(b, "null");
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        return ch_buf_printf(b, "%.0f", v);
    }
    /* the shortest digits that read back as v */
    char tmp[32];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v) {
            break;
        }
    }
    return ch_buf_puts(b, tmp);
}

int ch_buf_html(ch_buf *b, const char *s)
{
    int rc = 0;
    for (const char *p = s; *p && rc == 0; p++) {
        switch (*p) {
        case '&': rc = ch_buf_puts(b, "&amp;"); break;
        case '<': rc = ch_buf_puts(b, "&lt;"); break;
        case '>': rc = ch_buf_puts(b, "&gt;"); break;
        case '"': rc = ch_buf_puts(b, "&quot;"); break;
        case '\'': rc = ch_buf_puts(b, "&#39;"); break;
        default: rc = ch_buf_append(b, p, 1);
        }
    }
    return rc;
}

const char *ch_buf_str(ch_buf *b)
{
    if (!b->data || b->failed) {
        return "";
    }
    return (const char *)b->data;
}

char *ch_buf_take(ch_buf *b)
{
    if (b->failed) {
        ch_buf_free(b);
        return NULL;
    }
    if (!b->data && ch_buf_reserve(b, 0) != 0) {
        return NULL;
    }
    b->data[b->len] = 0;
    char *p = (char *)b->data;
    memset(b, 0, sizeof *b);
    return p;
}
