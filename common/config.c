/* config.c: the experiment configuration tree (see config.h): YAML loading
 * with file and line on every node, dotted-path typed reads that write their
 * defaults back, --set overrides, the unknown-key check and YAML emission. */
#define _GNU_SOURCE
#include "common/config.h"
#include "common/buf.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define CFG_MAX_DEPTH       64          /* nested mappings/sequences, the top level included */
#define CFG_MAX_BYTES       (16u << 20) /* largest config file */
#define CFG_SHOW_MAX        40          /* bytes of a value quoted in a message */
#define CFG_MAX_SIMPLE_KEY  1000        /* libyaml refuses implicit keys of 1024+ characters */
#define CFG_FILE_SET        "--set"     /* file of nodes from ch_config_set() */
#define CFG_FILE_CODE       "(set)"     /* file of nodes from ch_config_set_str()/_set_tree() */
#define CFG_FILE_DEFAULT    "(default)" /* file of nodes written by a typed read's default */
#define CFG_MAX_SUGGEST_LEN 64          /* keys longer than this get no "did you mean" */

typedef struct cfg_node cfg_node;
struct cfg_node {
    ch_cfg_type type;
    bool used;        /* a reader asked for it (or for something under it) */
    bool is_default;  /* written by a typed read's default, not by the user */
    bool quoted;      /* scalar: a string for sure (quoted in the file); emitted quoted */
    size_t line;      /* 1-based; 0 when not from a file (--set, defaults, code) */
    const char *file; /* interned in the owning config's file list */
    char *key;        /* key in the parent mapping; NULL for sequence items and the root */
    char *text;       /* scalar text: valid UTF-8 without NUL */
    cfg_node **kids;
    size_t n, cap;
};

struct ch_config {
    char *name;
    cfg_node *root; /* always a mapping */
    char **files;   /* interned file names the nodes point into */
    size_t nfiles;
    ch_buf *where; /* backing store of ch_config_where()'s answer */
};

/* A dotted path split into segments pointing into the caller's string. */
typedef struct cfg_path {
    size_t n;
    const char *seg[CFG_MAX_DEPTH];
    size_t len[CFG_MAX_DEPTH];
} cfg_path;

typedef enum { WALK_FOUND, WALK_ABSENT, WALK_BLOCKED } cfg_walk_rc;

/* The nodes met walking a path: trail[0] is the root, trail[depth] the last
 * node reached (the target when found). */
typedef struct cfg_walk {
    cfg_node *trail[CFG_MAX_DEPTH + 1];
    size_t depth;
} cfg_walk;

/* --- small helpers --------------------------------------------------------- */

static char *s_strndup(const char *s, size_t len)
{
    if (len == SIZE_MAX) {
        return NULL;
    }
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

static bool s_is_null_word(const char *s)
{
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* A scalar that YAML reads as null: plain and spelled as null. */
static bool s_is_null(const cfg_node *n)
{
    return n->type == CH_CFG_SCALAR && !n->quoted && s_is_null_word(n->text);
}

/* Length of the UTF-8 sequence at p (0 if invalid); *cp gets the code point. */
static size_t s_utf8_decode(const unsigned char *p, uint32_t *cp)
{
    size_t len;
    uint32_t v;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    } else if ((p[0] & 0xE0) == 0xC0) {
        len = 2;
        v = p[0] & 0x1F;
    } else if ((p[0] & 0xF0) == 0xE0) {
        len = 3;
        v = p[0] & 0x0F;
    } else if ((p[0] & 0xF8) == 0xF0) {
        len = 4;
        v = p[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (p[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        return 0;
    }
    *cp = v;
    return len;
}

static bool s_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        size_t len = s_utf8_decode(p, &cp);
        if (len == 0) {
            return false;
        }
        p += len;
    }
    return true;
}

/* A decimal sequence index without sign or leading zeros. */
static bool s_seg_index(const char *s, size_t len, size_t *idx)
{
    if (len == 0 || len > 18 || (len > 1 && s[0] == '0')) {
        return false;
    }
    size_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *idx = v;
    return true;
}

/* Splits "a.b.0.c". "" is the root (no segments). CH_EINVAL on an empty
 * segment or more than CFG_MAX_DEPTH segments. */
static int s_path_split(const char *path, cfg_path *p)
{
    p->n = 0;
    if (!path || path[0] == '\0') {
        return 0;
    }
    const char *s = path;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        if (len == 0 || p->n == CFG_MAX_DEPTH) {
            return CH_EINVAL;
        }
        p->seg[p->n] = s;
        p->len[p->n] = len;
        p->n++;
        if (!dot) {
            return 0;
        }
        s = dot + 1;
    }
}

/* Length of the path text up to and including segment k-1 ("model" of
 * "model.eta" for k = 1). */
static int s_prefix_len(const char *path, const cfg_path *p, size_t k)
{
    if (k == 0) {
        return 0;
    }
    size_t len = (size_t)(p->seg[k - 1] - path) + p->len[k - 1];
    return len > INT32_MAX ? INT32_MAX : (int)len;
}

/* --- nodes ------------------------------------------------------------------ */

static cfg_node *s_node_new(ch_cfg_type type, const char *file, size_t line)
{
    cfg_node *n = calloc(1, sizeof *n);
    if (n) {
        n->type = type;
        n->file = file;
        n->line = line;
    }
    return n;
}

static void s_node_free(cfg_node *n)
{
    if (!n) {
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        s_node_free(n->kids[i]);
    }
    free(n->kids);
    free(n->key);
    free(n->text);
    free(n);
}

static int s_node_push(cfg_node *parent, cfg_node *kid)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 4;
        size_t bytes;
        if (cap < parent->cap || ch_mul_size(cap, sizeof *parent->kids, &bytes) != 0) {
            return CH_ENOMEM;
        }
        cfg_node **kids = realloc(parent->kids, bytes);
        if (!kids) {
            return CH_ENOMEM;
        }
        parent->kids = kids;
        parent->cap = cap;
    }
    parent->kids[parent->n++] = kid;
    return 0;
}

static cfg_node *s_map_find(const cfg_node *map, const char *key, size_t len)
{
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->kids[i]->key;
        if (strncmp(k, key, len) == 0 && k[len] == '\0') {
            return map->kids[i];
        }
    }
    return NULL;
}

/* Containers on the longest downward path, n itself included (a scalar is 0). */
static size_t s_height(const cfg_node *n)
{
    if (n->type == CH_CFG_SCALAR) {
        return 0;
    }
    size_t h = 0;
    for (size_t i = 0; i < n->n; i++) {
        size_t k = s_height(n->kids[i]);
        h = k > h ? k : h;
    }
    return h + 1;
}

static void s_mark_subtree(cfg_node *n)
{
    n->used = true;
    for (size_t i = 0; i < n->n; i++) {
        s_mark_subtree(n->kids[i]);
    }
}

/* The interned copy of a file name in c; NULL on allocation failure. */
static const char *s_intern(ch_config *c, const char *file)
{
    for (size_t i = 0; i < c->nfiles; i++) {
        if (strcmp(c->files[i], file) == 0) {
            return c->files[i];
        }
    }
    size_t bytes;
    if (ch_mul_size(c->nfiles + 1, sizeof *c->files, &bytes) != 0) {
        return NULL;
    }
    char **files = realloc(c->files, bytes);
    if (!files) {
        return NULL;
    }
    c->files = files;
    char *dup = strdup(file);
    if (!dup) {
        return NULL;
    }
    c->files[c->nfiles++] = dup;
    return dup;
}

/* Deep copy of src whose file names are interned in dst. NULL on failure. */
static cfg_node *s_node_copy(ch_config *dst, const cfg_node *src)
{
    const char *file = s_intern(dst, src->file);
    cfg_node *n = file ? s_node_new(src->type, file, src->line) : NULL;
    if (!n) {
        return NULL;
    }
    n->used = src->used;
    n->is_default = src->is_default;
    n->quoted = src->quoted;
    if ((src->key && !(n->key = strdup(src->key))) ||
        (src->text && !(n->text = strdup(src->text)))) {
        s_node_free(n);
        return NULL;
    }
    if (src->n > 0) {
        n->kids = ch_alloc_array(src->n, sizeof *n->kids);
        if (!n->kids) {
            s_node_free(n);
            return NULL;
        }
        n->cap = src->n;
        for (size_t i = 0; i < src->n; i++) {
            cfg_node *kid = s_node_copy(dst, src->kids[i]);
            if (!kid) {
                s_node_free(n);
                return NULL;
            }
            n->kids[n->n++] = kid;
        }
    }
    return n;
}

static bool s_node_equal(const cfg_node *a, const cfg_node *b)
{
    if (a->type != b->type || a->n != b->n) {
        return false;
    }
    if (a->type == CH_CFG_SCALAR) {
        return strcmp(a->text, b->text) == 0 && s_is_null(a) == s_is_null(b);
    }
    for (size_t i = 0; i < a->n; i++) {
        if (a->type == CH_CFG_MAP && strcmp(a->kids[i]->key, b->kids[i]->key) != 0) {
            return false;
        }
        if (!s_node_equal(a->kids[i], b->kids[i])) {
            return false;
        }
    }
    return true;
}

/* --- messages ----------------------------------------------------------------- */

/* "file:line", or "file" for nodes that did not come from a file. */
static void s_loc(const cfg_node *n, char *buf, size_t size)
{
    if (n->line > 0) {
        snprintf(buf, size, "%s:%zu", n->file, n->line);
    } else {
        snprintf(buf, size, "%s", n->file);
    }
}

/* What a node is, for "expected X, got Y": 'text' (shortened, control
 * characters shown as '?'), "nothing", "a mapping" or "a sequence". */
static void s_got(const cfg_node *n, char *buf, size_t size)
{
    if (n->type == CH_CFG_MAP) {
        snprintf(buf, size, "a mapping");
        return;
    }
    if (n->type == CH_CFG_SEQ) {
        snprintf(buf, size, "a sequence");
        return;
    }
    if (n->text[0] == '\0' && !n->quoted) {
        snprintf(buf, size, "nothing");
        return;
    }
    char shown[CFG_SHOW_MAX + 4];
    size_t len = strlen(n->text);
    size_t k = len > CFG_SHOW_MAX ? CFG_SHOW_MAX : len;
    for (size_t i = 0; i < k; i++) {
        unsigned char ch = (unsigned char)n->text[i];
        shown[i] = (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
    }
    strcpy(shown + k, len > k ? "..." : "");
    snprintf(buf, size, "'%s'", shown);
}

/* Sets err to "LOC: PATH: WHAT" about node n and returns CH_EINVAL. */
static int s_fail(ch_err *err, const cfg_node *n, const char *path, int path_len, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
static int s_fail(ch_err *err, const cfg_node *n, const char *path, int path_len, const char *fmt,
                  ...)
{
    char what[CH_ERR_MSG_MAX];
    char loc[CH_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    s_loc(n, loc, sizeof loc);
    if (path && path_len > 0) {
        return ch_err_set(err, CH_EINVAL, "%s: %.*s: %s", loc, path_len, path, what);
    }
    return ch_err_set(err, CH_EINVAL, "%s: %s", loc, what);
}

/* --- walking and putting ------------------------------------------------------ */

static cfg_walk_rc s_walk(const ch_config *c, const cfg_path *p, cfg_walk *w)
{
    cfg_node *cur = c->root;
    w->trail[0] = cur;
    w->depth = 0;
    for (size_t i = 0; i < p->n; i++) {
        cfg_node *next = NULL;
        if (cur->type == CH_CFG_MAP) {
            next = s_map_find(cur, p->seg[i], p->len[i]);
        } else if (cur->type == CH_CFG_SEQ) {
            size_t idx;
            if (!s_seg_index(p->seg[i], p->len[i], &idx)) {
                return WALK_BLOCKED;
            }
            next = idx < cur->n ? cur->kids[idx] : NULL;
        } else {
            return WALK_BLOCKED;
        }
        if (!next) {
            return WALK_ABSENT;
        }
        w->trail[++w->depth] = next;
        cur = next;
    }
    return WALK_FOUND;
}

/* The error for a walk that met a scalar (or a sequence and a key) on the way. */
static int s_blocked(ch_err *err, const char *path, const cfg_path *p, const cfg_walk *w)
{
    const cfg_node *b = w->trail[w->depth];
    char got[CFG_SHOW_MAX + 16];
    s_got(b, got, sizeof got);
    if (b->type == CH_CFG_SEQ) {
        return s_fail(err, b, path, s_prefix_len(path, p, w->depth),
                      "expected a mapping, got a sequence (index it with a number)");
    }
    return s_fail(err, b, path, s_prefix_len(path, p, w->depth), "expected a mapping, got %s", got);
}

/* Puts val (taken, freed on failure) at path, replacing what is there and
 * creating the containers on the way (a sequence where the next segment is
 * "0", a mapping otherwise); those get file `file`, line 0 and flags `used`
 * and `is_default`. CH_ENOTFOUND when a sequence index is past the end. */
static int s_put(ch_config *c, const char *path, const cfg_path *p, cfg_node *val, const char *file,
                 bool used, bool is_default, ch_err *err)
{
    if (p->n == 0) {
        s_node_free(val);
        return ch_err_set(err, CH_EINVAL, "an empty key path cannot be set");
    }
    if (p->n + s_height(val) > CFG_MAX_DEPTH) {
        s_node_free(val);
        return ch_err_set(err, CH_EINVAL, "%s: nesting deeper than %d levels", path, CFG_MAX_DEPTH);
    }
    cfg_walk w;
    cfg_walk_rc rc = s_walk(c, p, &w);
    if (rc == WALK_BLOCKED) {
        s_node_free(val);
        return s_blocked(err, path, p, &w);
    }
    if (rc == WALK_FOUND) {
        cfg_node *parent = w.trail[w.depth - 1];
        cfg_node *old = w.trail[w.depth];
        for (size_t i = 0; i < parent->n; i++) {
            if (parent->kids[i] == old) {
                val->key = old->key;
                old->key = NULL;
                parent->kids[i] = val;
                break;
            }
        }
        s_node_free(old);
        return 0;
    }
    /* Absent: segment w.depth is missing under the container w.trail[w.depth]. */
    cfg_node *top = w.trail[w.depth];
    size_t d = w.depth;
    size_t idx = 0;
    if (top->type == CH_CFG_SEQ) {
        s_seg_index(p->seg[d], p->len[d], &idx);
        if (idx != top->n) {
            s_node_free(val);
            return ch_err_set(err, CH_ENOTFOUND,
                              "%s: index %zu is out of range (the sequence has %zu entries)", path,
                              idx, top->n);
        }
    }
    const char *f = s_intern(c, file);
    cfg_node *chain = val;
    bool oom = !f;
    for (size_t i = p->n - 1; !oom && i > d; i--) {
        size_t zero;
        bool seq = s_seg_index(p->seg[i], p->len[i], &zero) && zero == 0;
        cfg_node *box = s_node_new(seq ? CH_CFG_SEQ : CH_CFG_MAP, f, 0);
        if (!box || (!seq && !(chain->key = s_strndup(p->seg[i], p->len[i]))) ||
            s_node_push(box, chain) != 0) {
            s_node_free(box);
            oom = true;
            break;
        }
        box->used = used;
        box->is_default = is_default;
        chain = box;
    }
    if (oom || (top->type == CH_CFG_MAP && !(chain->key = s_strndup(p->seg[d], p->len[d]))) ||
        s_node_push(top, chain) != 0) {
        s_node_free(chain);
        return ch_err_set(err, CH_ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; used && i <= d; i++) {
        w.trail[i]->used = true;
    }
    return 0;
}

/* --- parsing ------------------------------------------------------------------ */

typedef struct cfg_keyset {
    cfg_node **slot;
    size_t cap; /* a power of two, or 0 */
    size_t n;
} cfg_keyset;

static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static cfg_node *s_keyset_find(const cfg_keyset *ks, const char *key)
{
    if (ks->cap == 0) {
        return NULL;
    }
    size_t i = (size_t)s_hash(key) & (ks->cap - 1);
    while (ks->slot[i]) {
        if (strcmp(ks->slot[i]->key, key) == 0) {
            return ks->slot[i];
        }
        i = (i + 1) & (ks->cap - 1);
    }
    return NULL;
}

static void s_keyset_insert(cfg_node **slot, size_t cap, cfg_node *n)
{
    size_t i = (size_t)s_hash(n->key) & (cap - 1);
    while (slot[i]) {
        i = (i + 1) & (cap - 1);
    }
    slot[i] = n;
}

static int s_keyset_add(cfg_keyset *ks, cfg_node *n)
{
    if ((ks->n + 1) * 2 > ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 16;
        cfg_node **slot = cap > ks->cap ? ch_calloc_array(cap, sizeof *slot) : NULL;
        if (!slot) {
            return CH_ENOMEM;
        }
        for (size_t i = 0; i < ks->cap; i++) {
            if (ks->slot[i]) {
                s_keyset_insert(slot, cap, ks->slot[i]);
            }
        }
        free(ks->slot);
        ks->slot = slot;
        ks->cap = cap;
    }
    s_keyset_insert(ks->slot, ks->cap, n);
    ks->n++;
    return 0;
}

typedef struct cfg_parser {
    yaml_parser_t yp;
    const char *text; /* the input, to turn byte offsets into lines */
    size_t len;
    const char *file;    /* interned in the config being built */
    const char *set_arg; /* the --set argument when parsing its value, else NULL */
    ch_err *err;
    size_t depth; /* open containers */
    struct {
        const char *key; /* NULL: a sequence index */
        size_t idx;
    } seg[CFG_MAX_DEPTH + 1];
    size_t nseg;
    size_t at_line; /* s_marked_default's cursor: the start of line at_line */
    const char *at;
} cfg_parser;

/* The dotted path of the node being parsed, plus `key` when not NULL. */
static void s_parser_path(const cfg_parser *p, const char *key, ch_buf *path)
{
    for (size_t i = 0; i < p->nseg; i++) {
        if (i > 0) {
            ch_buf_puts(path, ".");
        }
        if (p->seg[i].key) {
            ch_buf_puts(path, p->seg[i].key);
        } else {
            ch_buf_printf(path, "%zu", p->seg[i].idx);
        }
    }
    if (key) {
        ch_buf_printf(path, "%s%s", p->nseg > 0 ? "." : "", key);
    }
}

/* Sets err to "FILE:LINE: PATH: WHAT" about the node being parsed (or
 * "--set 'ARG': WHAT" for a --set value). Returns CH_EINVAL. */
static int s_perr(cfg_parser *p, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int s_perr(cfg_parser *p, size_t line, const char *fmt, ...)
{
    char what[CH_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (p->set_arg) {
        return ch_err_set(p->err, CH_EINVAL, "--set '%s': %s", p->set_arg, what);
    }
    ch_buf path;
    ch_buf_init(&path);
    s_parser_path(p, NULL, &path);
    int rc;
    if (path.len > 0) {
        rc =
            ch_err_set(p->err, CH_EINVAL, "%s:%zu: %s: %s", p->file, line, ch_buf_str(&path), what);
    } else {
        rc = ch_err_set(p->err, CH_EINVAL, "%s:%zu: %s", p->file, line, what);
    }
    ch_buf_free(&path);
    return rc;
}

/* "FILE:LINE: duplicate key 'PATH' (first at line N)". */
static int s_duplicate(cfg_parser *p, size_t line, const char *key, size_t first)
{
    ch_buf path;
    ch_buf_init(&path);
    s_parser_path(p, key, &path);
    int rc;
    if (p->set_arg) {
        rc = ch_err_set(p->err, CH_EINVAL, "--set '%s': duplicate key '%s'", p->set_arg,
                        ch_buf_str(&path));
    } else {
        rc = ch_err_set(p->err, CH_EINVAL, "%s:%zu: duplicate key '%s' (first at line %zu)",
                        p->file, line, ch_buf_str(&path), first);
    }
    ch_buf_free(&path);
    return rc;
}

static int s_syntax_error(cfg_parser *p)
{
    yaml_parser_t *y = &p->yp;
    const char *problem = y->problem ? y->problem : "unknown error";
    if (y->error == YAML_MEMORY_ERROR) {
        return ch_err_set(p->err, CH_ENOMEM, "%s: out of memory parsing YAML", p->file);
    }
    if (p->set_arg) {
        return ch_err_set(p->err, CH_EINVAL, "--set '%s': YAML syntax error: %s", p->set_arg,
                          problem);
    }
    if (y->error == YAML_READER_ERROR) {
        size_t line = 1;
        for (size_t i = 0; i < y->problem_offset && i < p->len; i++) {
            line += p->text[i] == '\n';
        }
        return ch_err_set(p->err, CH_EINVAL, "%s:%zu: YAML error: %s (byte %zu)", p->file, line,
                          problem, y->problem_offset);
    }
    return ch_err_set(p->err, CH_EINVAL, "%s:%zu:%zu: YAML syntax error: %s", p->file,
                      y->problem_mark.line + 1, y->problem_mark.column + 1, problem);
}

static int s_next(cfg_parser *p, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&p->yp, ev)) {
        return s_syntax_error(p);
    }
    return 0;
}

static size_t s_line(const cfg_parser *p, const yaml_event_t *ev)
{
    return p->set_arg ? 0 : ev->start_mark.line + 1;
}

/* Rejects anchors and tags on a node's opening event. */
static int s_check_plain_event(cfg_parser *p, const yaml_event_t *ev)
{
    const yaml_char_t *anchor = NULL;
    const yaml_char_t *tag = NULL;
    if (ev->type == YAML_SCALAR_EVENT) {
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
    } else if (ev->type == YAML_MAPPING_START_EVENT) {
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
    } else if (ev->type == YAML_ALIAS_EVENT) {
        return s_perr(p, s_line(p, ev), "aliases are not supported (*%.40s)",
                      (const char *)ev->data.alias.anchor);
    }
    if (anchor) {
        return s_perr(p, s_line(p, ev), "anchors are not supported (&%.40s)", (const char *)anchor);
    }
    if (tag) {
        return s_perr(p, s_line(p, ev), "tags are not supported (%.60s)", (const char *)tag);
    }
    return 0;
}

/* The scalar's text as a C string; error if it holds a NUL. */
static int s_scalar_text(cfg_parser *p, const yaml_event_t *ev, char **out)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (memchr(v, '\0', len)) {
        return s_perr(p, s_line(p, ev), "NUL characters are not allowed");
    }
    *out = s_strndup(v, len);
    if (!*out) {
        return ch_err_set(p->err, CH_ENOMEM, "%s: out of memory", p->file);
    }
    return 0;
}

static int s_parse_node(cfg_parser *p, yaml_event_t *ev, size_t line, cfg_node **out);

/* Whether the line where a scalar ends (0-based, as libyaml counts) closes
 * with the " # default" comment that ch_config_emit writes, so that a
 * resolved config read back (cohort run --resume) emits the same text.
 * Lines, not byte offsets: libyaml's marks count characters. */
static bool s_marked_default(cfg_parser *p, size_t line)
{
    static const char mark[] = " # default";
    size_t n = sizeof mark - 1;
    if (!p->text) {
        return false;
    }
    const char *end = p->text + p->len;
    if (!p->at || line < p->at_line) { /* events come in order: rarely taken */
        p->at = p->text;
        p->at_line = 0;
    }
    const char *s = p->at;
    for (; p->at_line < line && s < end; p->at_line++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        s = nl ? nl + 1 : end;
    }
    p->at = s;
    const char *e = memchr(s, '\n', (size_t)(end - s));
    e = e ? e : end;
    while (e > s && (e[-1] == '\r' || e[-1] == ' ')) {
        e--;
    }
    return (size_t)(e - s) >= n && memcmp(e - n, mark, n) == 0;
}

static int s_parse_map(cfg_parser *p, cfg_node *map)
{
    cfg_keyset ks = {0};
    int rc = 0;
    for (;;) {
        yaml_event_t kev;
        if ((rc = s_next(p, &kev)) != 0) {
            break;
        }
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            break;
        }
        size_t kline = s_line(p, &kev);
        char *key = NULL;
        if (kev.type != YAML_SCALAR_EVENT && kev.type != YAML_ALIAS_EVENT) {
            rc = s_perr(p, kline, "keys must be scalars, not %s",
                        kev.type == YAML_MAPPING_START_EVENT ? "mappings" : "sequences");
        } else if ((rc = s_check_plain_event(p, &kev)) == 0) {
            rc = s_scalar_text(p, &kev, &key);
        }
        yaml_event_delete(&kev);
        if (rc != 0) {
            break;
        }
        cfg_node *dup = s_keyset_find(&ks, key);
        if (dup) {
            rc = s_duplicate(p, kline, key, dup->line);
            free(key);
            break;
        }
        p->seg[p->nseg].key = key;
        p->nseg++;
        yaml_event_t vev;
        cfg_node *kid = NULL;
        if ((rc = s_next(p, &vev)) == 0) {
            rc = s_parse_node(p, &vev, kline, &kid);
        }
        p->nseg--;
        if (rc != 0) {
            free(key);
            break;
        }
        kid->key = key;
        if (s_node_push(map, kid) != 0 || s_keyset_add(&ks, kid) != 0) {
            if (map->n == 0 || map->kids[map->n - 1] != kid) {
                s_node_free(kid);
            }
            rc = ch_err_set(p->err, CH_ENOMEM, "%s: out of memory", p->file);
            break;
        }
    }
    free(ks.slot);
    return rc;
}

static int s_parse_seq(cfg_parser *p, cfg_node *seq)
{
    for (;;) {
        yaml_event_t ev;
        int rc = s_next(p, &ev);
        if (rc != 0) {
            return rc;
        }
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        p->seg[p->nseg].key = NULL;
        p->seg[p->nseg].idx = seq->n;
        p->nseg++;
        cfg_node *kid = NULL;
        rc = s_parse_node(p, &ev, s_line(p, &ev), &kid);
        p->nseg--;
        if (rc != 0) {
            return rc;
        }
        if (s_node_push(seq, kid) != 0) {
            s_node_free(kid);
            return ch_err_set(p->err, CH_ENOMEM, "%s: out of memory", p->file);
        }
    }
}

/* Builds the node that starts with *ev (consumed) into *out. */
static int s_parse_node(cfg_parser *p, yaml_event_t *ev, size_t line, cfg_node **out)
{
    *out = NULL;
    int rc = s_check_plain_event(p, ev);
    if (rc != 0) {
        yaml_event_delete(ev);
        return rc;
    }
    yaml_event_type_t type = ev->type;
    if (type == YAML_SCALAR_EVENT) {
        cfg_node *n = s_node_new(CH_CFG_SCALAR, p->file, line);
        if (!n) {
            yaml_event_delete(ev);
            return ch_err_set(p->err, CH_ENOMEM, "%s: out of memory", p->file);
        }
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        n->is_default = !p->set_arg && s_marked_default(p, ev->end_mark.line);
        rc = s_scalar_text(p, ev, &n->text);
        yaml_event_delete(ev);
        if (rc != 0) {
            s_node_free(n);
            return rc;
        }
        *out = n;
        return 0;
    }
    size_t evline = s_line(p, ev);
    yaml_event_delete(ev);
    if (type != YAML_MAPPING_START_EVENT && type != YAML_SEQUENCE_START_EVENT) {
        return ch_err_set(p->err, CH_EINTERNAL, "%s:%zu: unexpected YAML event %d", p->file, evline,
                          (int)type);
    }
    if (p->depth >= CFG_MAX_DEPTH) {
        return s_perr(p, evline, "nesting deeper than %d levels", CFG_MAX_DEPTH);
    }
    cfg_node *n =
        s_node_new(type == YAML_MAPPING_START_EVENT ? CH_CFG_MAP : CH_CFG_SEQ, p->file, line);
    if (!n) {
        return ch_err_set(p->err, CH_ENOMEM, "%s: out of memory", p->file);
    }
    p->depth++;
    rc = n->type == CH_CFG_MAP ? s_parse_map(p, n) : s_parse_seq(p, n);
    p->depth--;
    if (rc != 0) {
        s_node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

/* Parses the one document of the stream; *root is NULL for an empty stream. */
static int s_parse_doc(cfg_parser *p, cfg_node **root)
{
    yaml_event_t ev;
    int rc;
    *root = NULL;
    if ((rc = s_next(p, &ev)) != 0) {
        return rc;
    }
    yaml_event_delete(&ev); /* stream start */
    if ((rc = s_next(p, &ev)) != 0) {
        return rc;
    }
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        return 0;
    }
    yaml_event_delete(&ev); /* document start */
    if ((rc = s_next(p, &ev)) != 0) {
        return rc;
    }
    if ((rc = s_parse_node(p, &ev, s_line(p, &ev), root)) != 0) {
        return rc;
    }
    if ((rc = s_next(p, &ev)) == 0) {
        yaml_event_delete(&ev); /* document end */
        if ((rc = s_next(p, &ev)) == 0) {
            if (ev.type != YAML_STREAM_END_EVENT) {
                rc = s_perr(p, s_line(p, &ev), "only one YAML document is allowed");
            }
            yaml_event_delete(&ev);
        }
    }
    if (rc != 0) {
        s_node_free(*root);
        *root = NULL;
    }
    return rc;
}

/* Runs the parser over text; file names the nodes (interned in c). */
static int s_parse_text(ch_config *c, const char *text, size_t len, const char *file,
                        const char *set_arg, cfg_node **root, ch_err *err)
{
    cfg_parser p;
    memset(&p, 0, sizeof p);
    p.text = text;
    p.len = len;
    p.file = s_intern(c, file);
    p.set_arg = set_arg;
    p.err = err;
    if (!p.file || !yaml_parser_initialize(&p.yp)) {
        return ch_err_set(err, CH_ENOMEM, "%s: out of memory", file);
    }
    yaml_parser_set_input_string(&p.yp, (const unsigned char *)(text ? text : ""), text ? len : 0);
    int rc = s_parse_doc(&p, root);
    yaml_parser_delete(&p.yp);
    return rc;
}

/* --- construction --------------------------------------------------------------- */

/* Returns an empty mapping named `name` ("(config)" when NULL), or NULL when
 * out of memory. */
ch_config *ch_config_new(const char *name)
{
    ch_config *c = calloc(1, sizeof *c);
    if (!c) {
        return NULL;
    }
    c->name = strdup(name ? name : "(config)");
    c->where = calloc(1, sizeof *c->where);
    const char *file = c->name ? s_intern(c, c->name) : NULL;
    c->root = file ? s_node_new(CH_CFG_MAP, file, 0) : NULL;
    if (!c->root || !c->where) {
        ch_config_destroy(&c);
        return NULL;
    }
    c->root->used = true;
    return c;
}

/* Frees the config and sets *c to NULL. Accepts NULL and a NULL *c. */
void ch_config_destroy(ch_config **c)
{
    if (!c || !*c) {
        return;
    }
    ch_config *self = *c;
    s_node_free(self->root);
    for (size_t i = 0; i < self->nfiles; i++) {
        free(self->files[i]);
    }
    free(self->files);
    if (self->where) {
        ch_buf_free(self->where);
        free(self->where);
    }
    free(self->name);
    free(self);
    *c = NULL;
}

/* Parses len bytes of YAML (NUL bytes are a syntax error) into a new config
 * named `name`. The top level must be a mapping; empty text (or a lone null
 * document) is an empty mapping. NULL with err set on failure. */
ch_config *ch_config_parse(const char *text, size_t len, const char *name, ch_err *err)
{
    if (!name) {
        name = "(config)";
    }
    if (len > CFG_MAX_BYTES) {
        ch_err_set(err, CH_EINVAL, "%s: the config is larger than 16 MiB", name);
        return NULL;
    }
    ch_config *c = ch_config_new(name);
    if (!c) {
        ch_err_set(err, CH_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    cfg_node *root = NULL;
    if (s_parse_text(c, text, len, name, NULL, &root, err) != 0) {
        ch_config_destroy(&c);
        return NULL;
    }
    if (!root || s_is_null(root)) {
        s_node_free(root);
        return c;
    }
    if (root->type != CH_CFG_MAP) {
        char got[CFG_SHOW_MAX + 16];
        s_got(root, got, sizeof got);
        ch_err_set(err, CH_EINVAL, "%s:%zu: the top level must be a mapping, got %s", name,
                   root->line, got);
        s_node_free(root);
        ch_config_destroy(&c);
        return NULL;
    }
    s_node_free(c->root);
    c->root = root;
    root->line = 0;
    root->used = true;
    return c;
}

/* Reads and parses the file at path (see ch_config_parse); the config is
 * named by path. NULL with err set when the file cannot be read, is larger
 * than 16 MiB or does not parse. */
ch_config *ch_config_load(const char *path, ch_err *err)
{
    char why[256];
    FILE *f = fopen(path, "rb");
    if (!f) {
        ch_err_set(err, CH_EIO, "cannot open %s: %s", path, strerror_r(errno, why, sizeof why));
        return NULL;
    }
    ch_buf b;
    ch_buf_init(&b);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= CFG_MAX_BYTES) {
        if (ch_buf_append(&b, chunk, got) != 0) {
            break;
        }
    }
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    ch_config *c = NULL;
    if (failed) {
        ch_err_set(err, CH_EIO, "cannot read %s: %s", path, strerror_r(saved, why, sizeof why));
    } else if (b.failed) {
        ch_err_set(err, CH_ENOMEM, "%s: out of memory", path);
    } else if (b.len > CFG_MAX_BYTES) {
        ch_err_set(err, CH_EINVAL, "%s: the file is larger than 16 MiB", path);
    } else {
        c = ch_config_parse((const char *)b.data, b.len, path, err);
    }
    ch_buf_free(&b);
    return c;
}

/* A deep copy of c, used and default flags included; NULL when out of memory. */
ch_config *ch_config_copy(const ch_config *c)
{
    ch_config *d = ch_config_new(c->name);
    if (!d) {
        return NULL;
    }
    cfg_node *root = s_node_copy(d, c->root);
    if (!root) {
        ch_config_destroy(&d);
        return NULL;
    }
    s_node_free(d->root);
    d->root = root;
    return d;
}

/* --- changes -------------------------------------------------------------------- */

/* Parses the value of a --set: a flow collection or quoted scalar goes
 * through YAML; anything else is taken literally as a plain scalar. */
static int s_set_value(ch_config *c, const char *arg, const char *value, cfg_node **out,
                       ch_err *err)
{
    *out = NULL;
    if (!s_utf8_valid(value)) {
        return ch_err_set(err, CH_EINVAL, "--set '%s': the value is not valid UTF-8", arg);
    }
    const char *file = s_intern(c, CFG_FILE_SET);
    if (!file) {
        return ch_err_set(err, CH_ENOMEM, "--set '%s': out of memory", arg);
    }
    if (strchr("[{\"'", value[0]) == NULL || value[0] == '\0') {
        cfg_node *n = s_node_new(CH_CFG_SCALAR, file, 0);
        if (!n || !(n->text = strdup(value))) {
            s_node_free(n);
            return ch_err_set(err, CH_ENOMEM, "--set '%s': out of memory", arg);
        }
        n->quoted = value[0] == '\0'; /* "key=" sets the empty string, not null */
        *out = n;
        return 0;
    }
    /* Wrapping in [ ] keeps YAML in flow context: "a: b" is not a mapping. */
    size_t len = strlen(value);
    char *wrapped = len < SIZE_MAX - 3 ? malloc(len + 3) : NULL;
    if (!wrapped) {
        return ch_err_set(err, CH_ENOMEM, "--set '%s': out of memory", arg);
    }
    wrapped[0] = '[';
    memcpy(wrapped + 1, value, len);
    wrapped[len + 1] = ']';
    wrapped[len + 2] = '\0';
    cfg_node *root = NULL;
    int rc = s_parse_text(c, wrapped, len + 2, CFG_FILE_SET, arg, &root, err);
    free(wrapped);
    if (rc != 0) {
        return rc;
    }
    if (!root || root->type != CH_CFG_SEQ || root->n != 1) {
        s_node_free(root);
        return ch_err_set(err, CH_EINVAL, "--set '%s': expected one value", arg);
    }
    *out = root->kids[0];
    root->n = 0;
    s_node_free(root);
    return 0;
}

/* Applies "dotted.path=value" (see config.h). The new node and any maps
 * created on the way have file "--set" and are not yet used, so a typo in
 * the path is caught by ch_config_check_unused(). Errors name the argument. */
int ch_config_set(ch_config *c, const char *assignment, ch_err *err)
{
    const char *eq = strchr(assignment, '=');
    if (!eq) {
        return ch_err_set(err, CH_EINVAL, "--set '%s': expected PATH=VALUE", assignment);
    }
    char *path = s_strndup(assignment, (size_t)(eq - assignment));
    if (!path) {
        return ch_err_set(err, CH_ENOMEM, "--set '%s': out of memory", assignment);
    }
    cfg_path p;
    int rc = 0;
    if (path[0] == '\0') {
        rc = ch_err_set(err, CH_EINVAL, "--set '%s': empty key path", assignment);
    } else if (s_path_split(path, &p) != 0) {
        rc = ch_err_set(err, CH_EINVAL,
                        "--set '%s': bad key path '%s' (empty part, or more than %d parts)",
                        assignment, path, CFG_MAX_DEPTH);
    }
    const char *value = eq + 1;
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    char *trimmed = rc == 0 ? strdup(value) : NULL;
    if (rc == 0 && !trimmed) {
        rc = ch_err_set(err, CH_ENOMEM, "--set '%s': out of memory", assignment);
    }
    size_t tlen = trimmed ? strlen(trimmed) : 0;
    while (tlen > 0 && (trimmed[tlen - 1] == ' ' || trimmed[tlen - 1] == '\t')) {
        trimmed[--tlen] = '\0';
    }
    cfg_node *val = NULL;
    if (rc == 0) {
        rc = s_set_value(c, assignment, trimmed, &val, err);
    }
    if (rc == 0) {
        rc = s_put(c, path, &p, val, CFG_FILE_SET, false, false, err);
        if (rc != 0) {
            ch_err_prefix(err, "--set '%s'", assignment);
        }
    }
    free(trimmed);
    free(path);
    return rc;
}

static bool s_plain_safe(const char *s);
static bool s_looks_typed(const char *s);

/* Sets path to the string value (file "(set)", line 0); the node emits
 * quoted when plain YAML would read it as another type. CH_EINVAL for a bad
 * path, invalid UTF-8 or a scalar on the way. */
int ch_config_set_str(ch_config *c, const char *path, const char *value, ch_err *err)
{
    cfg_path p;
    if (s_path_split(path, &p) != 0 || p.n == 0) {
        return ch_err_set(err, CH_EINVAL, "invalid config path '%s'", path ? path : "");
    }
    if (!s_utf8_valid(value)) {
        return ch_err_set(err, CH_EINVAL, "%s: the value is not valid UTF-8", path);
    }
    const char *file = s_intern(c, CFG_FILE_CODE);
    cfg_node *n = file ? s_node_new(CH_CFG_SCALAR, file, 0) : NULL;
    if (!n || !(n->text = strdup(value))) {
        s_node_free(n);
        return ch_err_set(err, CH_ENOMEM, "%s: out of memory", path);
    }
    n->quoted = s_looks_typed(value) || !s_plain_safe(value);
    return s_put(c, path, &p, n, CFG_FILE_CODE, false, false, err);
}

/* Replaces (or creates) the node at path with a deep copy of src's root,
 * which keeps its files, lines and flags. */
int ch_config_set_tree(ch_config *c, const char *path, const ch_config *src, ch_err *err)
{
    cfg_path p;
    if (s_path_split(path, &p) != 0 || p.n == 0) {
        return ch_err_set(err, CH_EINVAL, "invalid config path '%s'", path ? path : "");
    }
    cfg_node *n = s_node_copy(c, src->root);
    if (!n) {
        return ch_err_set(err, CH_ENOMEM, "%s: out of memory", path);
    }
    return s_put(c, path, &p, n, CFG_FILE_CODE, false, false, err);
}

/* Removes the node at path and everything under it; nothing if absent. */
void ch_config_remove(ch_config *c, const char *path)
{
    cfg_path p;
    cfg_walk w;
    if (s_path_split(path, &p) != 0 || p.n == 0 || s_walk(c, &p, &w) != WALK_FOUND) {
        return;
    }
    cfg_node *parent = w.trail[w.depth - 1];
    cfg_node *gone = w.trail[w.depth];
    for (size_t i = 0; i < parent->n; i++) {
        if (parent->kids[i] == gone) {
            memmove(parent->kids + i, parent->kids + i + 1,
                    (parent->n - i - 1) * sizeof *parent->kids);
            parent->n--;
            break;
        }
    }
    s_node_free(gone);
}

/* --- questions ------------------------------------------------------------------ */

static cfg_node *s_find(const ch_config *c, const char *path)
{
    cfg_path p;
    cfg_walk w;
    if (s_path_split(path, &p) != 0 || s_walk(c, &p, &w) != WALK_FOUND) {
        return NULL;
    }
    return w.trail[w.depth];
}

/* Type of the node at path, CH_CFG_NONE when absent; "" is the top level. */
ch_cfg_type ch_config_type(const ch_config *c, const char *path)
{
    const cfg_node *n = s_find(c, path);
    return n ? n->type : CH_CFG_NONE;
}

/* Whether a node exists at path. Does not mark it used. */
bool ch_config_has(const ch_config *c, const char *path)
{
    return s_find(c, path) != NULL;
}

/* Entries of the mapping or sequence at path; 0 for scalars and absent. */
size_t ch_config_len(const ch_config *c, const char *path)
{
    const cfg_node *n = s_find(c, path);
    return n ? n->n : 0;
}

/* Key of entry i of the mapping at path (owned by the config); NULL if none. */
const char *ch_config_key(const ch_config *c, const char *path, size_t i)
{
    const cfg_node *n = s_find(c, path);
    if (!n || n->type != CH_CFG_MAP || i >= n->n) {
        return NULL;
    }
    return n->kids[i]->key;
}

/* "file:line" (or just "file" for nodes not from a file) of the node at
 * path or its nearest existing parent. Valid until the next call on c;
 * "?" when out of memory. */
const char *ch_config_where(const ch_config *c, const char *path)
{
    cfg_path p;
    cfg_walk w;
    if (s_path_split(path, &p) != 0) {
        p.n = 0;
    }
    s_walk(c, &p, &w);
    const cfg_node *n = w.trail[w.depth];
    ch_buf_free(c->where);
    if (n->line > 0) {
        ch_buf_printf(c->where, "%s:%zu", n->file, n->line);
    } else {
        ch_buf_puts(c->where, n->file);
    }
    return c->where->failed || !c->where->data ? "?" : ch_buf_str(c->where);
}

/* Whether the node at path was written by a typed read's default. */
bool ch_config_is_default(const ch_config *c, const char *path)
{
    const cfg_node *n = s_find(c, path);
    return n && n->is_default;
}

/* A new config (same name) holding a copy of the mapping at path; NULL when
 * absent, not a mapping, or out of memory. */
ch_config *ch_config_subtree(const ch_config *c, const char *path)
{
    const cfg_node *n = s_find(c, path);
    if (!n || n->type != CH_CFG_MAP) {
        return NULL;
    }
    ch_config *d = ch_config_new(c->name);
    cfg_node *root = d ? s_node_copy(d, n) : NULL;
    if (!root) {
        ch_config_destroy(&d);
        return NULL;
    }
    free(root->key);
    root->key = NULL;
    s_node_free(d->root);
    d->root = root;
    return d;
}

/* Whether a and b have the same shape, keys in the same order and the same
 * scalar text (a null scalar differs from a quoted string). Locations and
 * flags are not compared. */
bool ch_config_equal(const ch_config *a, const ch_config *b)
{
    return s_node_equal(a->root, b->root);
}

/* The name the config was given (a file path, "(config)" ...). */
const char *ch_config_name(const ch_config *c)
{
    return c->name;
}

/* --- typed reads ---------------------------------------------------------------- */

/* Finds path for a read: *out is the node (it and its parents marked used)
 * or NULL when absent. CH_EINVAL for a bad path or a scalar on the way. */
static int s_lookup(ch_config *c, const char *path, cfg_path *p, cfg_node **out, ch_err *err)
{
    *out = NULL;
    if (s_path_split(path, p) != 0 || p->n == 0) {
        return ch_err_set(err, CH_EINVAL, "invalid config path '%s'", path ? path : "");
    }
    cfg_walk w;
    cfg_walk_rc rc = s_walk(c, p, &w);
    if (rc == WALK_BLOCKED) {
        return s_blocked(err, path, p, &w);
    }
    if (rc == WALK_FOUND) {
        for (size_t i = 0; i <= w.depth; i++) {
            w.trail[i]->used = true;
        }
        *out = w.trail[w.depth];
    }
    return 0;
}

/* Writes a default scalar at path (used, is_default). A path into a
 * sequence past its end is left alone. */
static int s_put_default(ch_config *c, const char *path, const cfg_path *p, const char *text,
                         bool quoted, ch_err *err)
{
    const char *file = s_intern(c, CFG_FILE_DEFAULT);
    cfg_node *n = file ? s_node_new(CH_CFG_SCALAR, file, 0) : NULL;
    if (!n || !(n->text = strdup(text))) {
        s_node_free(n);
        return ch_err_set(err, CH_ENOMEM, "%s: out of memory", path);
    }
    n->quoted = quoted;
    n->used = true;
    n->is_default = true;
    ch_err scratch;
    int rc = s_put(c, path, p, n, CFG_FILE_DEFAULT, true, true, &scratch);
    if (rc == CH_ENOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return ch_err_set(err, rc, "%s", scratch.msg);
    }
    return 0;
}

/* 0: ok; 1: not an integer; 2: an integer out of long's range. */
static int s_parse_long(const char *s, long *out)
{
    const char *d = s + (s[0] == '+' || s[0] == '-');
    if (*d == '\0') {
        return 1;
    }
    for (const char *q = d; *q; q++) {
        if (*q < '0' || *q > '9') {
            return 1;
        }
    }
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno == ERANGE) {
        return 2;
    }
    *out = v;
    return 0;
}

/* Decimal number syntax: [+-] (digits [. digits] | . digits) [e [+-] digits]. */
static bool s_number_syntax(const char *s)
{
    size_t i = 0;
    size_t digits = 0;
    if (s[i] == '+' || s[i] == '-') {
        i++;
    }
    while (s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (s[i] == '.') {
        i++;
        while (s[i] >= '0' && s[i] <= '9') {
            i++;
            digits++;
        }
    }
    if (digits == 0) {
        return false;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        i++;
        if (s[i] == '+' || s[i] == '-') {
            i++;
        }
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        while (s[i] >= '0' && s[i] <= '9') {
            i++;
        }
    }
    return s[i] == '\0';
}

/* 0: ok; 1: not a number; 2: not finite. Uses the C locale whatever the
 * process locale is. */
static int s_parse_double(const char *s, double *out)
{
    if (!s_number_syntax(s)) {
        return 1;
    }
    locale_t cl = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    char *end = NULL;
    double v = cl != (locale_t)0 ? strtod_l(s, &end, cl) : strtod(s, &end);
    if (cl != (locale_t)0) {
        freelocale(cl);
    }
    if (!end || *end != '\0') {
        return 1;
    }
    if (!isfinite(v)) {
        return 2;
    }
    *out = v;
    return 0;
}

/* Shortest "%.Ng" text that reads back as v, in the C locale. */
static void s_format_double(double v, char *buf, size_t size)
{
    locale_t cl = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t old = cl != (locale_t)0 ? uselocale(cl) : (locale_t)0;
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, size, "%.0f", v); /* 30, not 3e+01 */
    } else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, size, "%.*g", prec, v);
            if (strtod(buf, NULL) == v) {
                break;
            }
        }
    }
    if (cl != (locale_t)0) {
        uselocale(old);
        freelocale(cl);
    }
}

static bool s_bool_word(const char *s, bool *v)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *v = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *v = false;
            return true;
        }
    }
    return false;
}

/* Whether plain text would read back as null, a boolean or a number. */
static bool s_looks_typed(const char *s)
{
    bool b;
    return s_is_null_word(s) || s_bool_word(s, &b) || strcasecmp(s, "y") == 0 ||
           strcasecmp(s, "n") == 0 || s_number_syntax(s) || strcasecmp(s, ".inf") == 0 ||
           strcasecmp(s, "-.inf") == 0 || strcasecmp(s, ".nan") == 0;
}

/* Reads an integer in [lo, hi] (decimal, optional sign). */
int ch_cfg_int(ch_config *c, const char *path, long def, long lo, long hi, long *out, ch_err *err)
{
    cfg_path p;
    cfg_node *n;
    int rc = s_lookup(c, path, &p, &n, err);
    if (rc != 0) {
        return rc;
    }
    if (!n) {
        if (def < lo || def > hi) {
            return ch_err_set(err, CH_EINVAL, "%s: the default %ld is out of range [%ld, %ld]",
                              path, def, lo, hi);
        }
        char text[32];
        snprintf(text, sizeof text, "%ld", def);
        if ((rc = s_put_default(c, path, &p, text, false, err)) != 0) {
            return rc;
        }
        *out = def;
        return 0;
    }
    char got[CFG_SHOW_MAX + 16];
    s_got(n, got, sizeof got);
    long v = 0;
    int bad = n->type == CH_CFG_SCALAR ? s_parse_long(n->text, &v) : 1;
    if (bad == 1) {
        return s_fail(err, n, path, (int)strlen(path), "expected an integer, got %s", got);
    }
    if (bad == 2 || v < lo || v > hi) {
        return s_fail(err, n, path, (int)strlen(path), "%s is out of range [%ld, %ld]", got, lo,
                      hi);
    }
    *out = v;
    return 0;
}

/* Reads a finite number in [lo, hi]. */
int ch_cfg_num(ch_config *c, const char *path, double def, double lo, double hi, double *out,
               ch_err *err)
{
    cfg_path p;
    cfg_node *n;
    int rc = s_lookup(c, path, &p, &n, err);
    if (rc != 0) {
        return rc;
    }
    if (!n) {
        if (!(def >= lo && def <= hi) || !isfinite(def)) {
            return ch_err_set(err, CH_EINVAL, "%s: the default %g is out of range [%g, %g]", path,
                              def, lo, hi);
        }
        char text[64];
        s_format_double(def, text, sizeof text);
        if ((rc = s_put_default(c, path, &p, text, false, err)) != 0) {
            return rc;
        }
        *out = def;
        return 0;
    }
    char got[CFG_SHOW_MAX + 16];
    s_got(n, got, sizeof got);
    double v = 0;
    int bad = n->type == CH_CFG_SCALAR ? s_parse_double(n->text, &v) : 1;
    if (bad == 1) {
        return s_fail(err, n, path, (int)strlen(path), "expected a number, got %s", got);
    }
    if (bad == 2) {
        return s_fail(err, n, path, (int)strlen(path), "expected a finite number, got %s", got);
    }
    if (!(v >= lo && v <= hi)) {
        return s_fail(err, n, path, (int)strlen(path), "%s is out of range [%g, %g]", got, lo, hi);
    }
    *out = v;
    return 0;
}

/* Reads true/false, yes/no or on/off (any case). */
int ch_cfg_bool(ch_config *c, const char *path, bool def, bool *out, ch_err *err)
{
    cfg_path p;
    cfg_node *n;
    int rc = s_lookup(c, path, &p, &n, err);
    if (rc != 0) {
        return rc;
    }
    if (!n) {
        if ((rc = s_put_default(c, path, &p, def ? "true" : "false", false, err)) != 0) {
            return rc;
        }
        *out = def;
        return 0;
    }
    bool v = false;
    if (n->type != CH_CFG_SCALAR || !s_bool_word(n->text, &v)) {
        char got[CFG_SHOW_MAX + 16];
        s_got(n, got, sizeof got);
        return s_fail(err, n, path, (int)strlen(path),
                      "expected true or false (or yes/no, on/off), got %s", got);
    }
    *out = v;
    return 0;
}

/* The string node at path, or the default written back; *out is its text.
 * def NULL makes the key required. */
static int s_read_str(ch_config *c, const char *path, const char *def, cfg_node **node, ch_err *err)
{
    cfg_path p;
    cfg_node *n;
    int rc = s_lookup(c, path, &p, &n, err);
    if (rc != 0) {
        return rc;
    }
    if (!n) {
        if (!def) {
            return ch_err_set(err, CH_EINVAL, "missing required key %s in %s", path, c->name);
        }
        if (!s_utf8_valid(def)) {
            return ch_err_set(err, CH_EINVAL, "%s: the default is not valid UTF-8", path);
        }
        rc = s_put_default(c, path, &p, def, s_looks_typed(def) || !s_plain_safe(def), err);
        if (rc != 0) {
            return rc;
        }
        *node = NULL;
        return 0;
    }
    if (n->type != CH_CFG_SCALAR || s_is_null(n)) {
        char got[CFG_SHOW_MAX + 16];
        s_got(n, got, sizeof got);
        return s_fail(err, n, path, (int)strlen(path), "expected a string, got %s%s", got,
                      n->type == CH_CFG_SCALAR ? " (write \"\" for an empty string)" : "");
    }
    *node = n;
    return 0;
}

/* Reads any scalar as a string; see config.h for def == NULL. */
int ch_cfg_str(ch_config *c, const char *path, const char *def, const char **out, ch_err *err)
{
    cfg_node *n = NULL;
    int rc = s_read_str(c, path, def, &n, err);
    if (rc != 0) {
        return rc;
    }
    if (n) {
        *out = n->text;
        return 0;
    }
    cfg_node *d = s_find(c, path);
    *out = d ? d->text : def;
    return 0;
}

/* Optimal string alignment distance (a transposition costs 1), or
 * SIZE_MAX for strings too long to compare. */
static size_t s_distance(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    if (la > CFG_MAX_SUGGEST_LEN || lb > CFG_MAX_SUGGEST_LEN) {
        return SIZE_MAX;
    }
    size_t d[CFG_MAX_SUGGEST_LEN + 1][CFG_MAX_SUGGEST_LEN + 1];
    for (size_t i = 0; i <= la; i++) {
        d[i][0] = i;
    }
    for (size_t j = 0; j <= lb; j++) {
        d[0][j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t v = d[i - 1][j] + 1;
            v = d[i][j - 1] + 1 < v ? d[i][j - 1] + 1 : v;
            v = d[i - 1][j - 1] + cost < v ? d[i - 1][j - 1] + cost : v;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v) {
                v = d[i - 2][j - 2] + 1;
            }
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

/* Whether cand is close enough to word to suggest it. */
static bool s_close(const char *word, const char *cand, size_t *best)
{
    size_t d = s_distance(word, cand);
    size_t lw = strlen(word);
    size_t lc = strlen(cand);
    size_t longest = lw > lc ? lw : lc;
    if (d == 0 || d > 2 || 2 * d > longest || d >= *best) {
        return false;
    }
    *best = d;
    return true;
}

/* Reads a string that must be one of choices; *out is its index. */
int ch_cfg_enum(ch_config *c, const char *path, const char *def, const char *const *choices,
                int *out, ch_err *err)
{
    if (def) {
        bool ok = false;
        for (size_t i = 0; choices[i]; i++) {
            ok = ok || strcmp(choices[i], def) == 0;
        }
        if (!ok) {
            return ch_err_set(err, CH_EINVAL, "%s: the default '%s' is not one of the choices",
                              path, def);
        }
    }
    cfg_node *n = NULL;
    int rc = s_read_str(c, path, def, &n, err);
    if (rc != 0) {
        return rc;
    }
    const char *v = n ? n->text : def;
    size_t best = SIZE_MAX;
    const char *suggest = NULL;
    for (size_t i = 0; choices[i]; i++) {
        if (strcmp(choices[i], v) == 0) {
            if (i > INT32_MAX) {
                break;
            }
            *out = (int)i;
            return 0;
        }
        if (s_close(v, choices[i], &best)) {
            suggest = choices[i];
        }
    }
    ch_buf list;
    ch_buf_init(&list);
    for (size_t i = 0; choices[i]; i++) {
        ch_buf_printf(&list, "%s%s", i ? ", " : "", choices[i]);
    }
    char got[CFG_SHOW_MAX + 16];
    s_got(n, got, sizeof got);
    if (suggest) {
        rc = s_fail(err, n, path, (int)strlen(path),
                    "expected one of %s; got %s (did you mean '%s'?)", ch_buf_str(&list), got,
                    suggest);
    } else {
        rc = s_fail(err, n, path, (int)strlen(path), "expected one of %s; got %s",
                    ch_buf_str(&list), got);
    }
    ch_buf_free(&list);
    return rc;
}

/* Reads one number or a sequence of numbers (at most max). Absent: *n = 0
 * and nothing is written to the tree. */
int ch_cfg_num_list(ch_config *c, const char *path, double *out, size_t max, size_t *n, ch_err *err)
{
    cfg_path p;
    cfg_node *node;
    int rc = s_lookup(c, path, &p, &node, err);
    if (rc != 0) {
        return rc;
    }
    *n = 0;
    if (!node) {
        return 0;
    }
    s_mark_subtree(node);
    if (node->type == CH_CFG_MAP) {
        return s_fail(err, node, path, (int)strlen(path),
                      "expected a number or a list of numbers, got a mapping");
    }
    size_t count = node->type == CH_CFG_SEQ ? node->n : 1;
    if (count > max) {
        return s_fail(err, node, path, (int)strlen(path), "at most %zu values, got %zu", max,
                      count);
    }
    for (size_t i = 0; i < count; i++) {
        const cfg_node *item = node->type == CH_CFG_SEQ ? node->kids[i] : node;
        char got[CFG_SHOW_MAX + 16];
        s_got(item, got, sizeof got);
        double v = 0;
        int bad = item->type == CH_CFG_SCALAR ? s_parse_double(item->text, &v) : 1;
        if (bad != 0) {
            ch_buf ipath;
            ch_buf_init(&ipath);
            if (node->type == CH_CFG_SEQ) {
                ch_buf_printf(&ipath, "%s.%zu", path, i);
            } else {
                ch_buf_puts(&ipath, path);
            }
            rc = s_fail(err, item, ch_buf_str(&ipath), (int)ipath.len,
                        "expected a %snumber, got %s", bad == 2 ? "finite " : "", got);
            ch_buf_free(&ipath);
            return rc;
        }
        out[i] = v;
    }
    *n = count;
    return 0;
}

/* Marks the node at path, its parents and everything under it as used. */
void ch_config_mark_used(ch_config *c, const char *path)
{
    cfg_path p;
    cfg_walk w;
    if (s_path_split(path, &p) != 0 || s_walk(c, &p, &w) != WALK_FOUND) {
        return;
    }
    for (size_t i = 0; i < w.depth; i++) {
        w.trail[i]->used = true;
    }
    s_mark_subtree(w.trail[w.depth]);
}

/* --- the unknown-key check -------------------------------------------------------- */

enum { KNOWN_NO = 0, KNOWN_EXACT, KNOWN_ABOVE };

/* Whether pattern (dotted, "*" matches one segment) covers path exactly
 * (KNOWN_EXACT), names something below it (KNOWN_ABOVE), or neither. */
static int s_known_match(const char *pattern, const char *path)
{
    const char *a = pattern;
    const char *b = path;
    for (;;) {
        size_t la = strcspn(a, ".");
        size_t lb = strcspn(b, ".");
        if (!(la == 1 && a[0] == '*') && (la != lb || strncmp(a, b, la) != 0)) {
            return KNOWN_NO;
        }
        a += la;
        b += lb;
        if (*b == '\0') {
            return *a == '\0' ? KNOWN_EXACT : KNOWN_ABOVE;
        }
        if (*a == '\0') {
            return KNOWN_NO;
        }
        a++;
        b++;
    }
}

static int s_known(const char *const *known, const char *path)
{
    int best = KNOWN_NO;
    for (size_t i = 0; known && known[i]; i++) {
        int m = s_known_match(known[i], path);
        best = m > best ? m : best;
        if (best == KNOWN_EXACT) {
            break;
        }
    }
    return best;
}

/* The closest used sibling or known path to the unknown map entry `kid` of
 * `parent` (whose path is ppath), as a full dotted path into sugg. */
static void s_suggest(const cfg_node *parent, const char *ppath, const cfg_node *kid,
                      const char *const *known, ch_buf *sugg)
{
    size_t best = SIZE_MAX;
    const char *pick = NULL;
    for (size_t i = 0; i < parent->n; i++) {
        const cfg_node *sib = parent->kids[i];
        if (sib != kid && sib->used && s_close(kid->key, sib->key, &best)) {
            pick = sib->key;
        }
    }
    for (size_t i = 0; known && known[i]; i++) {
        const char *dot = strrchr(known[i], '.');
        const char *last = dot ? dot + 1 : known[i];
        size_t plen = dot ? (size_t)(dot - known[i]) : 0;
        char *pp = s_strndup(known[i], plen);
        bool same = pp && (plen == 0 ? ppath[0] == '\0' : s_known_match(pp, ppath) == KNOWN_EXACT);
        free(pp);
        if (same && strcmp(last, "*") != 0 && s_close(kid->key, last, &best)) {
            pick = last;
        }
    }
    if (pick) {
        ch_buf_printf(sugg, "%s%s%s", ppath, ppath[0] ? "." : "", pick);
    }
}

/* Depth-first in file order; 1 when an unused node was reported. */
static int s_unused(const cfg_node *n, ch_buf *path, const char *const *known, ch_err *err)
{
    for (size_t i = 0; i < n->n; i++) {
        const cfg_node *kid = n->kids[i];
        size_t keep = path->len;
        if (kid->key) {
            ch_buf_printf(path, "%s%s", keep ? "." : "", kid->key);
        } else {
            ch_buf_printf(path, "%s%zu", keep ? "." : "", i);
        }
        const char *here = ch_buf_str(path);
        int k = s_known(known, here);
        int found = 0;
        if (k == KNOWN_EXACT) {
            found = 0;
        } else if (!kid->used && k != KNOWN_ABOVE) {
            char loc[CH_ERR_MSG_MAX];
            s_loc(kid, loc, sizeof loc);
            if (kid->key) {
                ch_buf sugg;
                ch_buf_init(&sugg);
                char *ppath = s_strndup(here, keep);
                if (ppath) {
                    s_suggest(n, ppath, kid, known, &sugg);
                }
                free(ppath);
                if (sugg.len > 0) {
                    ch_err_set(err, CH_EINVAL, "%s: unknown key '%s' (did you mean '%s'?)", loc,
                               here, ch_buf_str(&sugg));
                } else {
                    ch_err_set(err, CH_EINVAL, "%s: unknown key '%s'", loc, here);
                }
                ch_buf_free(&sugg);
            } else {
                ch_err_set(err, CH_EINVAL, "%s: unused entry '%s'", loc, here);
            }
            found = 1;
        } else {
            found = s_unused(kid, path, known, err);
        }
        path->len = keep;
        if (path->data) {
            path->data[keep] = '\0';
        }
        if (found) {
            return 1;
        }
    }
    return 0;
}

/* Reports the first node (in file order) nobody read and `known` does not
 * cover; known paths may use "*" for one segment ("steps.*.name"). */
int ch_config_check_unused(const ch_config *c, const char *const *known, ch_err *err)
{
    ch_buf path;
    ch_buf_init(&path);
    int found = s_unused(c->root, &path, known, err);
    bool failed = path.failed;
    ch_buf_free(&path);
    if (failed) {
        return ch_err_set(err, CH_ENOMEM, "%s: out of memory checking for unknown keys", c->name);
    }
    return found ? CH_EINVAL : 0;
}

/* --- emission ----------------------------------------------------------------- */

static bool s_plain_first(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.' || ch == '/' || ch == '+';
}

/* Whether s can be written as a plain scalar (or key) in block context and
 * read back unchanged. Conservative: anything doubtful gets quoted. */
static bool s_plain_safe(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || s[len - 1] == ' ' || strncmp(s, "...", 3) == 0 || s_is_null_word(s)) {
        return false;
    }
    if (!s_plain_first(s[0]) && !(s[0] == '-' && len > 1 && s_plain_first(s[1]))) {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        char ch = s[i];
        if (!s_plain_first(ch) && !strchr(" -=()$%^?~<>;@!&*|'\"`\\", ch)) {
            return false;
        }
    }
    return true;
}

/* Appends s double-quoted, escaping what YAML would not read back as is. */
static void s_emit_dq(ch_buf *b, const char *s)
{
    ch_buf_puts(b, "\"");
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        size_t len = s_utf8_decode(p, &cp);
        if (len == 0) {
            ch_buf_append(b, p, 1);
            p++;
            continue;
        }
        if (cp == '"' || cp == '\\') {
            ch_buf_printf(b, "\\%c", (char)cp);
        } else if (cp == '\n') {
            ch_buf_puts(b, "\\n");
        } else if (cp == '\t') {
            ch_buf_puts(b, "\\t");
        } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
            ch_buf_printf(b, "\\x%02X", (unsigned)cp);
        } else if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF) {
            ch_buf_printf(b, "\\u%04X", (unsigned)cp);
        } else {
            ch_buf_append(b, p, len);
        }
        p += len;
    }
    ch_buf_puts(b, "\"");
}

static void s_emit_scalar(ch_buf *b, const cfg_node *n)
{
    if (!n->quoted && (s_is_null_word(n->text) || s_plain_safe(n->text))) {
        ch_buf_puts(b, n->text);
    } else {
        s_emit_dq(b, n->text);
    }
}

static void s_indent(ch_buf *b, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        ch_buf_append(b, " ", 1);
    }
}

static void s_emit_map(ch_buf *b, const cfg_node *n, size_t indent, bool first_inline);
static void s_emit_seq(ch_buf *b, const cfg_node *n, size_t indent, bool first_inline);

/* What follows "key:" or "-": the value on the same line, or a newline and
 * the block at indent + 2. */
static void s_emit_value(ch_buf *b, const cfg_node *n, size_t indent, bool in_seq)
{
    if (n->type == CH_CFG_SCALAR) {
        if (n->text[0] != '\0' || n->quoted) {
            ch_buf_puts(b, " ");
            s_emit_scalar(b, n);
        }
        ch_buf_puts(b, n->is_default ? " # default\n" : "\n");
    } else if (n->n == 0) {
        ch_buf_puts(b, n->type == CH_CFG_MAP ? " {}\n" : " []\n");
    } else if (in_seq) {
        ch_buf_puts(b, " ");
        if (n->type == CH_CFG_MAP) {
            s_emit_map(b, n, indent + 2, true);
        } else {
            s_emit_seq(b, n, indent + 2, true);
        }
    } else {
        ch_buf_puts(b, "\n");
        if (n->type == CH_CFG_MAP) {
            s_emit_map(b, n, indent + 2, false);
        } else {
            s_emit_seq(b, n, indent + 2, false);
        }
    }
}

static void s_emit_map(ch_buf *b, const cfg_node *n, size_t indent, bool first_inline)
{
    for (size_t i = 0; i < n->n; i++) {
        const cfg_node *kid = n->kids[i];
        if (i > 0 || !first_inline) {
            s_indent(b, indent);
        }
        ch_buf key;
        ch_buf_init(&key);
        if (s_plain_safe(kid->key)) {
            ch_buf_puts(&key, kid->key);
        } else {
            s_emit_dq(&key, kid->key);
        }
        if (key.failed) {
            b->failed = 1;
        } else if (key.len > CFG_MAX_SIMPLE_KEY) {
            /* too long for an implicit key: "? KEY" then ": VALUE" */
            ch_buf_printf(b, "? %s\n", ch_buf_str(&key));
            s_indent(b, indent);
        } else {
            ch_buf_puts(b, ch_buf_str(&key));
        }
        ch_buf_free(&key);
        ch_buf_puts(b, ":");
        s_emit_value(b, kid, indent, false);
    }
}

static void s_emit_seq(ch_buf *b, const cfg_node *n, size_t indent, bool first_inline)
{
    for (size_t i = 0; i < n->n; i++) {
        if (i > 0 || !first_inline) {
            s_indent(b, indent);
        }
        ch_buf_puts(b, "-");
        s_emit_value(b, n->kids[i], indent, true);
    }
}

/* Block-style YAML of the whole tree, keys in order, defaults marked with a
 * "# default" comment; it parses back to an equal tree. The caller frees
 * it; NULL when out of memory. */
char *ch_config_emit(const ch_config *c)
{
    ch_buf b;
    ch_buf_init(&b);
    if (c->root->n == 0) {
        ch_buf_puts(&b, "{}\n");
    } else {
        s_emit_map(&b, c->root, 0, false);
    }
    if (b.failed) {
        ch_buf_free(&b);
        return NULL;
    }
    return ch_buf_take(&b);
}

static void s_clear_used(cfg_node *n)
{
    n->used = false;
    for (size_t i = 0; i < n->n; i++) {
        s_clear_used(n->kids[i]);
    }
}

/* Applies every entry of the mapping at src_path in src to dst: the entry's
 * key is a dotted path in dst ("model.max_depth"), its value (scalar,
 * sequence or mapping) a deep copy that replaces what dst has there. The
 * copies keep their file and line, so errors about them point at src. */
int ch_config_apply_map(ch_config *dst, ch_config *src, const char *src_path, ch_err *err)
{
    cfg_node *map = s_find(src, src_path);
    if (!map) {
        return 0;
    }
    if (map->type != CH_CFG_MAP) {
        return s_fail(err, map, src_path, (int)strlen(src_path), "expected a mapping of overrides");
    }
    s_mark_subtree(map);
    for (size_t i = 0; i < map->n; i++) {
        cfg_node *kid = map->kids[i];
        cfg_path p;
        if (s_path_split(kid->key, &p) != 0 || p.n == 0) {
            return s_fail(err, kid, src_path, (int)strlen(src_path), "invalid key path '%s'",
                          kid->key);
        }
        cfg_node *copy = s_node_copy(dst, kid);
        if (!copy) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        s_clear_used(copy);
        free(copy->key); /* s_put names it after the path's last segment */
        copy->key = NULL;
        int rc = s_put(dst, kid->key, &p, copy, CFG_FILE_CODE, false, false, err);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

static int s_map_scalars(ch_config *c, cfg_node *n, ch_config_scalar_fn fn, void *ctx, ch_err *err)
{
    if (n->type == CH_CFG_SCALAR) {
        char *repl = NULL;
        int rc = fn(ctx, n->text ? n->text : "", &repl, err);
        if (rc) {
            return rc;
        }
        if (repl) {
            free(n->text);
            n->text = repl;
            n->quoted = true;
        }
        return 0;
    }
    for (size_t i = 0; i < n->n; i++) {
        int rc = s_map_scalars(c, n->kids[i], fn, ctx, err);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

/* Calls fn on the text of every scalar; a replacement it returns (malloc'd)
 * takes the scalar's place as a string. Stops at fn's first error. */
int ch_config_map_scalars(ch_config *c, ch_config_scalar_fn fn, void *ctx, ch_err *err)
{
    return s_map_scalars(c, c->root, fn, ctx, err);
}

/* Entry i of the mapping at path as a new config whose only key is "value"
 * (so that a map key containing dots, like a sweep's "model.eta", can be read
 * with the usual getters). The copy keeps file and line. NULL if absent. */
ch_config *ch_config_entry(const ch_config *c, const char *path, size_t i)
{
    const cfg_node *n = s_find(c, path);
    if (!n || n->type != CH_CFG_MAP || i >= n->n) {
        return NULL;
    }
    ch_config *d = ch_config_new(c->name);
    cfg_node *copy = d ? s_node_copy(d, n->kids[i]) : NULL;
    if (!copy) {
        ch_config_destroy(&d);
        return NULL;
    }
    s_clear_used(copy);
    free(copy->key);
    copy->key = strdup("value");
    if (!copy->key || s_node_push(d->root, copy) != 0) {
        s_node_free(copy);
        ch_config_destroy(&d);
        return NULL;
    }
    return d;
}

/* The text of the scalar at path, without marking it used (for recording a
 * config, not reading it); NULL when absent or not a scalar. */
const char *ch_config_peek(const ch_config *c, const char *path)
{
    const cfg_node *n = s_find(c, path);
    return n && n->type == CH_CFG_SCALAR ? (n->text ? n->text : "") : NULL;
}
