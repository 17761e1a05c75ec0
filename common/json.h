/* json.h: a small, strict, bounded JSON reader into a read-only tree.
 *
 * RFC 8259 and nothing more: no comments, no trailing commas, no NaN or
 * Infinity, no leading zeros, no control characters or invalid UTF-8 in
 * strings, nothing after the value but whitespace. Bounded: at most
 * CH_JSON_MAX_DEPTH nested arrays/objects and CH_JSON_MAX_SIZE bytes, so it
 * can read untrusted files (summary.json, events.jsonl, endpoints.json)
 * without recursion or memory running away. Errors say where:
 * "LINE:COLUMN: what" (1-based, column in bytes), so a caller that prefixes
 * the file name gives "summary.json:3:7: expected ',' or '}' in an object".
 *
 * The tree is one allocation arena owned by the root: every node and string
 * lives until ch_json_destroy(&root). Objects keep their keys in file order;
 * duplicate keys are kept and ch_json_get returns the first. Numbers are
 * doubles. Strings are unescaped (\uXXXX, surrogate pairs, to UTF-8) and
 * NUL-terminated; a string may hold an escaped NUL, so ch_json_str_len gives
 * its true length.
 *
 * Every accessor accepts NULL and a node of the wrong type, returning
 * "nothing" (NULL, 0, NaN or the default), so lookups chain without checks:
 *   double r2 = ch_json_num(ch_json_path(summary, "metrics.test_r2"));  */
#ifndef CH_JSON_H
#define CH_JSON_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>

#define CH_JSON_MAX_DEPTH 64
#define CH_JSON_MAX_SIZE  ((size_t)64 << 20)

typedef enum {
    CH_JSON_NULL = 0,
    CH_JSON_BOOL,
    CH_JSON_NUMBER,
    CH_JSON_STRING,
    CH_JSON_ARRAY,
    CH_JSON_OBJECT,
} ch_json_type;

typedef struct ch_json ch_json;

/* Parses len bytes of text (no NUL needed) into a tree. Returns the root,
 * which the caller owns and frees with ch_json_destroy, or NULL with err set:
 * CH_EINVAL "LINE:COLUMN: what" for bad input, input too large or nested too
 * deep; CH_ENOMEM when out of memory. */
ch_json *ch_json_parse(const char *text, size_t len, ch_err *err);

/* Frees the tree of a root returned by ch_json_parse and sets *root to NULL.
 * Accepts NULL and a NULL *root. Never pass an inner node. */
void ch_json_destroy(ch_json **root);

/* The node's type; CH_JSON_NULL for a NULL node too. */
ch_json_type ch_json_type_of(const ch_json *j);
/* True if j is a node of type t (false for NULL). */
bool ch_json_is(const ch_json *j, ch_json_type t);

/* The value of object member `key` (the first if repeated), or NULL when j
 * is not an object or has no such key. */
const ch_json *ch_json_get(const ch_json *j, const char *key);

/* Follows a dotted path of object keys from root ("metrics.test_r2"); a
 * segment made of digits indexes an array ("coefficients.0.name"). NULL when
 * any step is missing. A key that itself contains a dot cannot be reached
 * this way: use ch_json_get. */
const ch_json *ch_json_path(const ch_json *root, const char *path);

/* The number, or NaN when j is not a number. */
double ch_json_num(const ch_json *j);
/* The string (NUL-terminated, owned by the tree), or NULL when j is not a
 * string. */
const char *ch_json_str(const ch_json *j);
/* The string's length in bytes (it may contain an escaped NUL); 0 when j is
 * not a string. */
size_t ch_json_str_len(const ch_json *j);
/* The boolean, or dflt when j is not a boolean. */
bool ch_json_bool(const ch_json *j, bool dflt);

/* The number of elements of an array or members of an object; 0 otherwise. */
size_t ch_json_len(const ch_json *j);
/* Element i of an array or the value of member i of an object; NULL when out
 * of range or j is neither. */
const ch_json *ch_json_at(const ch_json *j, size_t i);
/* The key of member i of an object; NULL when out of range or not an object. */
const char *ch_json_key_at(const ch_json *j, size_t i);

#endif
