/* json.c: strict, bounded JSON reader into an arena-backed tree (see json.h).
 *
 * Recursive descent whose depth is capped at CH_JSON_MAX_DEPTH. Children are
 * gathered on a scratch stack shared by all levels and copied into the
 * arena, exactly sized, when their container closes; a node is 32 bytes and
 * an array's elements are stored inline, so the tree costs a small multiple
 * of the input. */
#include "common/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ch_json {
    ch_json_type type;
    union {
        bool b;
        double num;
        struct {
            char *s;
            size_t len;
        } str;
        struct {
            ch_json *kids; /* n nodes, inline */
            char **keys;   /* objects: n keys; arrays: NULL */
            size_t n;
        } c;
    } u;
};

/* --- arena ------------------------------------------------------------------ */

typedef struct s_chunk {
    struct s_chunk *next;
    size_t used, cap;
    _Alignas(max_align_t) unsigned char data[];
} s_chunk;

/* What ch_json_parse allocates first; the root node is inside it, so the
 * root pointer leads back to the arena. */
typedef struct s_doc {
    s_chunk *chunks;
    size_t next_cap;
    ch_json root;
} s_doc;

#define S_CHUNK_MIN ((size_t)4096)
#define S_CHUNK_MAX ((size_t)8 << 20)

static void *s_arena_alloc(s_doc *d, size_t size)
{
    size = (size + 7u) & ~(size_t)7u;
    s_chunk *c = d->chunks;
    if (!c || c->cap - c->used < size) {
        size_t cap = d->next_cap;
        if (cap < size) {
            cap = size;
        }
        if (cap > SIZE_MAX - sizeof(s_chunk)) {
            return NULL;
        }
        c = malloc(sizeof(s_chunk) + cap);
        if (!c) {
            return NULL;
        }
        c->cap = cap;
        c->used = 0;
        c->next = d->chunks;
        d->chunks = c;
        if (d->next_cap < S_CHUNK_MAX) {
            d->next_cap *= 2;
        }
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

static void s_doc_free(s_doc *d)
{
    s_chunk *c = d->chunks;
    while (c) {
        s_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(d);
}

/* --- parser ----------------------------------------------------------------- */

typedef struct s_parser {
    const char *start;
    const char *p;
    const char *end;
    s_doc *doc;
    ch_json *stack; /* children of open containers */
    size_t top, cap;
    char **keys; /* keys of open objects' children */
    size_t ktop, kcap;
    int depth;
    ch_err *err;
} s_parser;

static int s_fail(s_parser *P, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets "LINE:COLUMN: message" for position `at`; returns CH_EINVAL. */
static int s_fail(s_parser *P, const char *at, const char *fmt, ...)
{
    size_t line = 1, col = 1;
    for (const char *q = P->start; q < at; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ch_err_set(P->err, CH_EINVAL, "%zu:%zu: %s", line, col, msg);
}

static int s_oom(s_parser *P)
{
    return ch_err_set(P->err, CH_ENOMEM, "out of memory reading JSON");
}

static void s_ws(s_parser *P)
{
    while (P->p < P->end && (*P->p == ' ' || *P->p == '\t' || *P->p == '\n' || *P->p == '\r')) {
        P->p++;
    }
}

/* Describes the byte at p for an error message ("end of input", "'x'"). */
static const char *s_what(const s_parser *P, const char *p, char *buf, size_t size)
{
    if (p >= P->end) {
        return "the end of the input";
    }
    unsigned char c = (unsigned char)*p;
    if (c >= 0x21 && c < 0x7f) {
        snprintf(buf, size, "'%c'", c);
    } else {
        snprintf(buf, size, "byte 0x%02x", c);
    }
    return buf;
}

static int s_push(s_parser *P, const ch_json *v, char *key, bool with_key)
{
    if (P->top == P->cap) {
        size_t cap = P->cap ? P->cap * 2 : 64;
        ch_json *s = realloc(P->stack, cap * sizeof *s);
        if (!s) {
            return s_oom(P);
        }
        P->stack = s;
        P->cap = cap;
    }
    P->stack[P->top++] = *v;
    if (with_key) {
        if (P->ktop == P->kcap) {
            size_t cap = P->kcap ? P->kcap * 2 : 64;
            char **k = realloc(P->keys, cap * sizeof *k);
            if (!k) {
                return s_oom(P);
            }
            P->keys = k;
            P->kcap = cap;
        }
        P->keys[P->ktop++] = key;
    }
    return 0;
}

/* Number of bytes of the well-formed UTF-8 sequence at p (at most n bytes
 * available), or 0 when it is not well formed (overlong, surrogate, above
 * U+10FFFF, truncated). */
static size_t s_utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80) {
        return 1;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) {
            lo = 0xa0;
        } else if (c == 0xed) {
            hi = 0x9f;
        }
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) {
            lo = 0x90;
        } else if (c == 0xf4) {
            hi = 0x8f;
        }
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }
    return len;
}

static int s_hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4) {
        return -1;
    }
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

static size_t s_put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* P->p is at the opening quote. Validates and unescapes the string into the
 * arena. The unescaped form is never longer than the raw one. */
static int s_string(s_parser *P, char **out, size_t *out_len)
{
    const char *open = P->p;
    const char *q = open + 1;
    /* pass 1: validate, find the closing quote */
    for (;;) {
        if (q >= P->end) {
            return s_fail(P, open, "string is not closed");
        }
        unsigned char c = (unsigned char)*q;
        if (c == '"') {
            break;
        }
        if (c < 0x20) {
            return s_fail(P, q, "control character 0x%02x in a string (escape it)", c);
        }
        if (c == '\\') {
            if (q + 1 >= P->end) {
                return s_fail(P, open, "string is not closed");
            }
            char e = q[1];
            if (e == 'u') {
                unsigned cp;
                if (s_hex4(q + 2, P->end, &cp) != 0) {
                    return s_fail(P, q, "\\u must be followed by four hex digits");
                }
                q += 6;
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return s_fail(P, q - 6, "lone low surrogate \\u%04x", cp);
                }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;
                    if (P->end - q < 6 || q[0] != '\\' || q[1] != 'u' ||
                        s_hex4(q + 2, P->end, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff) {
                        return s_fail(P, q - 6, "high surrogate \\u%04x without a low surrogate",
                                      cp);
                    }
                    q += 6;
                }
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0') {
                char buf[16];
                return s_fail(P, q, "invalid escape \\%s", s_what(P, q + 1, buf, sizeof buf));
            }
            q += 2;
            continue;
        }
        size_t n = s_utf8_len((const unsigned char *)q, (size_t)(P->end - q));
        if (n == 0) {
            return s_fail(P, q, "invalid UTF-8 (byte 0x%02x) in a string", c);
        }
        q += n;
    }
    size_t raw = (size_t)(q - open - 1);
    char *s = s_arena_alloc(P->doc, raw + 1);
    if (!s) {
        return s_oom(P);
    }
    /* pass 2: unescape (the input is known good) */
    size_t o = 0;
    for (const char *r = open + 1; r < q;) {
        if (*r != '\\') {
            s[o++] = *r++;
            continue;
        }
        char e = r[1];
        r += 2;
        switch (e) {
        case 'b':
            s[o++] = '\b';
            break;
        case 'f':
            s[o++] = '\f';
            break;
        case 'n':
            s[o++] = '\n';
            break;
        case 'r':
            s[o++] = '\r';
            break;
        case 't':
            s[o++] = '\t';
            break;
        case 'u': {
            unsigned cp = 0, lo = 0;
            s_hex4(r, q, &cp);
            r += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                s_hex4(r + 2, q, &lo);
                r += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            o += s_put_utf8(s + o, cp);
            break;
        }
        default: /* " \ / */
            s[o++] = e;
            break;
        }
    }
    s[o] = '\0';
    *out = s;
    *out_len = o;
    P->p = q + 1;
    return 0;
}

static bool s_digit(const s_parser *P, const char *q)
{
    return q < P->end && *q >= '0' && *q <= '9';
}

static int s_number(s_parser *P, ch_json *v)
{
    const char *b = P->p, *q = P->p;
    if (*q == '-') {
        q++;
    }
    if (!s_digit(P, q)) {
        return s_fail(P, b, "invalid number: a digit must follow '-'");
    }
    if (*q == '0') {
        q++;
        if (s_digit(P, q)) {
            return s_fail(P, b, "invalid number: leading zero");
        }
    } else {
        while (s_digit(P, q)) {
            q++;
        }
    }
    if (q < P->end && *q == '.') {
        q++;
        if (!s_digit(P, q)) {
            return s_fail(P, q, "invalid number: a digit must follow '.'");
        }
        while (s_digit(P, q)) {
            q++;
        }
    }
    if (q < P->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < P->end && (*q == '+' || *q == '-')) {
            q++;
        }
        if (!s_digit(P, q)) {
            return s_fail(P, q, "invalid number: a digit must follow the exponent");
        }
        while (s_digit(P, q)) {
            q++;
        }
    }
    /* strtod needs a NUL-terminated copy: the input need not have one */
    size_t n = (size_t)(q - b);
    char small[64];
    char *copy = n < sizeof small ? small : malloc(n + 1);
    if (!copy) {
        return s_oom(P);
    }
    memcpy(copy, b, n);
    copy[n] = '\0';
    double d = strtod(copy, NULL);
    if (copy != small) {
        free(copy);
    }
    if (!isfinite(d)) {
        return s_fail(P, b, "number out of range");
    }
    v->type = CH_JSON_NUMBER;
    v->u.num = d;
    P->p = q;
    return 0;
}

static int s_value(s_parser *P, ch_json *v);

/* Copies the children gathered since `base` (and their keys since `kbase`)
 * into the arena as v's children and pops them. */
static int s_close(s_parser *P, ch_json *v, size_t base, size_t kbase, bool object)
{
    size_t n = P->top - base;
    v->u.c.n = n;
    v->u.c.kids = NULL;
    v->u.c.keys = NULL;
    if (n) {
        v->u.c.kids = s_arena_alloc(P->doc, n * sizeof(ch_json)); /* n*32 < 2*input */
        if (!v->u.c.kids) {
            return s_oom(P);
        }
        memcpy(v->u.c.kids, P->stack + base, n * sizeof(ch_json));
        if (object) {
            v->u.c.keys = s_arena_alloc(P->doc, n * sizeof(char *));
            if (!v->u.c.keys) {
                return s_oom(P);
            }
            memcpy(v->u.c.keys, P->keys + kbase, n * sizeof(char *));
        }
    }
    P->top = base;
    P->ktop = kbase;
    return 0;
}

static int s_container(s_parser *P, ch_json *v, bool object)
{
    const char *open = P->p;
    if (P->depth >= CH_JSON_MAX_DEPTH) {
        return s_fail(P, open, "nested deeper than %d levels", CH_JSON_MAX_DEPTH);
    }
    P->depth++;
    P->p++;
    v->type = object ? CH_JSON_OBJECT : CH_JSON_ARRAY;
    size_t base = P->top, kbase = P->ktop;
    char close = object ? '}' : ']';
    const char *kind = object ? "an object" : "an array";
    char buf[16];
    int rc;
    s_ws(P);
    if (P->p < P->end && *P->p == close) {
        P->p++;
        P->depth--;
        return s_close(P, v, base, kbase, object);
    }
    for (;;) {
        char *key = NULL;
        if (object) {
            s_ws(P);
            if (P->p >= P->end || *P->p != '"') {
                return s_fail(P, P->p, "expected a key string in %s, found %s", kind,
                              s_what(P, P->p, buf, sizeof buf));
            }
            size_t klen;
            if ((rc = s_string(P, &key, &klen)) != 0) {
                return rc;
            }
            s_ws(P);
            if (P->p >= P->end || *P->p != ':') {
                return s_fail(P, P->p, "expected ':' after the key \"%.40s\", found %s", key,
                              s_what(P, P->p, buf, sizeof buf));
            }
            P->p++;
        }
        ch_json kid;
        if ((rc = s_value(P, &kid)) != 0) {
            return rc;
        }
        if ((rc = s_push(P, &kid, key, object)) != 0) {
            return rc;
        }
        s_ws(P);
        if (P->p < P->end && *P->p == ',') {
            P->p++;
            s_ws(P);
            if (P->p < P->end && *P->p == close) {
                return s_fail(P, P->p, "trailing comma in %s", kind);
            }
            continue;
        }
        if (P->p < P->end && *P->p == close) {
            P->p++;
            break;
        }
        if (P->p >= P->end) {
            return s_fail(P, open, "%s is not closed", object ? "object" : "array");
        }
        return s_fail(P, P->p, "expected ',' or '%c' in %s, found %s", close, kind,
                      s_what(P, P->p, buf, sizeof buf));
    }
    P->depth--;
    return s_close(P, v, base, kbase, object);
}

static int s_literal(s_parser *P, const char *word, ch_json *v, ch_json_type t, bool b)
{
    size_t n = strlen(word);
    if ((size_t)(P->end - P->p) < n || memcmp(P->p, word, n) != 0) {
        return s_fail(P, P->p, "expected a value");
    }
    P->p += n;
    v->type = t;
    v->u.b = b;
    return 0;
}

static int s_value(s_parser *P, ch_json *v)
{
    memset(v, 0, sizeof *v);
    s_ws(P);
    if (P->p >= P->end) {
        return s_fail(P, P->p, "expected a value, found the end of the input");
    }
    char c = *P->p;
    switch (c) {
    case '{':
        return s_container(P, v, true);
    case '[':
        return s_container(P, v, false);
    case '"':
        v->type = CH_JSON_STRING;
        return s_string(P, &v->u.str.s, &v->u.str.len);
    case 't':
        return s_literal(P, "true", v, CH_JSON_BOOL, true);
    case 'f':
        return s_literal(P, "false", v, CH_JSON_BOOL, false);
    case 'n':
        return s_literal(P, "null", v, CH_JSON_NULL, false);
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            return s_number(P, v);
        }
        char buf[16];
        return s_fail(P, P->p, "expected a value, found %s", s_what(P, P->p, buf, sizeof buf));
    }
}

ch_json *ch_json_parse(const char *text, size_t len, ch_err *err)
{
    if (!text && len) {
        ch_err_set(err, CH_EINVAL, "no JSON text");
        return NULL;
    }
    if (len > CH_JSON_MAX_SIZE) {
        ch_err_set(err, CH_EINVAL, "1:1: %zu bytes of JSON is more than the %zu MiB limit", len,
                   CH_JSON_MAX_SIZE >> 20);
        return NULL;
    }
    s_doc *d = calloc(1, sizeof *d);
    if (!d) {
        ch_err_set(err, CH_ENOMEM, "out of memory reading JSON");
        return NULL;
    }
    d->next_cap = len / 2 < S_CHUNK_MIN   ? S_CHUNK_MIN
                  : len / 2 > S_CHUNK_MAX ? S_CHUNK_MAX
                                          : len / 2;
    s_parser P = {.start = text, .p = text, .end = text + len, .doc = d, .err = err};
    /* a UTF-8 byte order mark is allowed (RFC 8259 section 8.1) */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        P.p += 3;
    }
    int rc = s_value(&P, &d->root);
    if (rc == 0) {
        s_ws(&P);
        if (P.p < P.end) {
            char buf[16];
            rc = s_fail(&P, P.p, "unexpected %s after the value", s_what(&P, P.p, buf, sizeof buf));
        }
    }
    free(P.stack);
    free(P.keys);
    if (rc != 0) {
        s_doc_free(d);
        return NULL;
    }
    return &d->root;
}

void ch_json_destroy(ch_json **root)
{
    if (!root || !*root) {
        return;
    }
    s_doc *d = (s_doc *)((char *)*root - offsetof(s_doc, root));
    s_doc_free(d);
    *root = NULL;
}

/* --- accessors -------------------------------------------------------------- */

ch_json_type ch_json_type_of(const ch_json *j)
{
    return j ? j->type : CH_JSON_NULL;
}

bool ch_json_is(const ch_json *j, ch_json_type t)
{
    return j && j->type == t;
}

const ch_json *ch_json_get(const ch_json *j, const char *key)
{
    if (!ch_json_is(j, CH_JSON_OBJECT) || !key) {
        return NULL;
    }
    for (size_t i = 0; i < j->u.c.n; i++) {
        if (strcmp(j->u.c.keys[i], key) == 0) {
            return &j->u.c.kids[i];
        }
    }
    return NULL;
}

/* Member of object j whose key is exactly the n bytes at key. */
static const ch_json *s_get_n(const ch_json *j, const char *key, size_t n)
{
    for (size_t i = 0; i < j->u.c.n; i++) {
        const char *k = j->u.c.keys[i];
        if (strncmp(k, key, n) == 0 && k[n] == '\0') {
            return &j->u.c.kids[i];
        }
    }
    return NULL;
}

const ch_json *ch_json_path(const ch_json *root, const char *path)
{
    if (!root || !path) {
        return NULL;
    }
    const ch_json *j = root;
    const char *seg = path;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        if (j->type == CH_JSON_OBJECT) {
            j = s_get_n(j, seg, n);
        } else if (j->type == CH_JSON_ARRAY && n > 0 && n < 20 && strspn(seg, "0123456789") >= n) {
            size_t idx = 0;
            for (size_t i = 0; i < n; i++) {
                idx = idx * 10 + (size_t)(seg[i] - '0');
            }
            j = idx < j->u.c.n ? &j->u.c.kids[idx] : NULL;
        } else {
            return NULL;
        }
        if (!j || !dot) {
            return j;
        }
        seg = dot + 1;
    }
}

double ch_json_num(const ch_json *j)
{
    return ch_json_is(j, CH_JSON_NUMBER) ? j->u.num : NAN;
}

const char *ch_json_str(const ch_json *j)
{
    return ch_json_is(j, CH_JSON_STRING) ? j->u.str.s : NULL;
}

size_t ch_json_str_len(const ch_json *j)
{
    return ch_json_is(j, CH_JSON_STRING) ? j->u.str.len : 0;
}

bool ch_json_bool(const ch_json *j, bool dflt)
{
    return ch_json_is(j, CH_JSON_BOOL) ? j->u.b : dflt;
}

size_t ch_json_len(const ch_json *j)
{
    if (ch_json_is(j, CH_JSON_ARRAY) || ch_json_is(j, CH_JSON_OBJECT)) {
        return j->u.c.n;
    }
    return 0;
}

const ch_json *ch_json_at(const ch_json *j, size_t i)
{
    return i < ch_json_len(j) ? &j->u.c.kids[i] : NULL;
}

const char *ch_json_key_at(const ch_json *j, size_t i)
{
    return ch_json_is(j, CH_JSON_OBJECT) && i < j->u.c.n ? j->u.c.keys[i] : NULL;
}
