/* config.h: experiment configuration: YAML (libyaml) loaded into a tree
 * whose every node remembers its file and line.
 *
 * Readers ask for a key by dotted path ("model.max_depth", "steps.0.name":
 * a number indexes a sequence) with a default and a valid range. A read
 * marks the key as used and, when the key is absent, writes the default into
 * the tree, so that ch_config_emit() gives the resolved config with every
 * default filled in. After everything is read, ch_config_check_unused()
 * reports a key nobody asked for ("unknown key model.max_dpeth at
 * exp.yaml:7; did you mean max_depth?").
 *
 * Errors name the key, the file and the line:
 *   "exp.yaml:7: model.eta: expected a number, got 'fast'"
 *   "exp.yaml:7: model.eta: 1.5 is out of range [0, 1]" */
#ifndef CH_CONFIG_H
#define CH_CONFIG_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct ch_config ch_config;

typedef enum { CH_CFG_NONE = 0, CH_CFG_SCALAR, CH_CFG_MAP, CH_CFG_SEQ } ch_cfg_type;

/* Loads a YAML file (a mapping at the top). NULL with err set on failure:
 * missing file, YAML syntax error (with line and column), duplicate key,
 * anchors/aliases/tags are rejected, nesting deeper than 64, file > 16 MiB. */
ch_config *ch_config_load(const char *path, ch_err *err);
/* The same from a memory buffer; `name` stands for the file in messages. */
ch_config *ch_config_parse(const char *text, size_t len, const char *name, ch_err *err);
/* An empty mapping named `name`. */
ch_config *ch_config_new(const char *name);
/* A deep copy (used flags included). NULL on failure. */
ch_config *ch_config_copy(const ch_config *c);
void ch_config_destroy(ch_config **c);

/* Applies one "dotted.path=value" override (the value is parsed as a YAML
 * flow scalar or flow sequence/map, e.g. `--set model.layers=[64,32]`).
 * Intermediate maps are created. Overridden nodes report "--set" as their
 * file in messages. */
int ch_config_set(ch_config *c, const char *assignment, ch_err *err);
/* Sets path to a plain string scalar (creating maps on the way). */
int ch_config_set_str(ch_config *c, const char *path, const char *value, ch_err *err);
/* Replaces (or creates) the node at path with a deep copy of the root of src. */
int ch_config_set_tree(ch_config *c, const char *path, const ch_config *src, ch_err *err);
/* Applies the mapping at src_path in src as overrides to dst: each key is
 * a dotted path in dst, each value replaces what is there (used for a
 * workflow step's `set:` and a sweep trial's parameters). */
int ch_config_apply_map(ch_config *dst, ch_config *src, const char *src_path, ch_err *err);
/* fn may set *replacement to a malloc'd string that replaces text. */
typedef int (*ch_config_scalar_fn)(void *ctx, const char *text, char **replacement, ch_err *err);
/* Calls fn on every scalar of the tree, in file order. */
int ch_config_map_scalars(ch_config *c, ch_config_scalar_fn fn, void *ctx, ch_err *err);
/* Entry i of the mapping at path, as a new config {value: <entry>}; the
 * entry's key is ch_config_key(c, path, i). NULL if absent. */
ch_config *ch_config_entry(const ch_config *c, const char *path, size_t i);
/* The scalar text at path without marking it used; NULL if absent. */
const char *ch_config_peek(const ch_config *c, const char *path);
/* Removes the node at path, if present. */
void ch_config_remove(ch_config *c, const char *path);

/* Type of the node at path; CH_CFG_NONE when absent. Does not mark it used. */
ch_cfg_type ch_config_type(const ch_config *c, const char *path);
bool ch_config_has(const ch_config *c, const char *path);
/* Number of entries of the map or sequence at path (0 when absent/scalar). */
size_t ch_config_len(const ch_config *c, const char *path);
/* Key of the i-th entry of the map at path, in file order; NULL if none. */
const char *ch_config_key(const ch_config *c, const char *path, size_t i);
/* "file:line" of the node at path (or of the nearest existing parent). The
 * returned string lives until the next call with the same c. */
const char *ch_config_where(const ch_config *c, const char *path);
/* A new config holding a deep copy of the subtree at path (a map); NULL
 * if absent. */
ch_config *ch_config_subtree(const ch_config *c, const char *path);

/* Typed reads. Each marks the key used; an absent key takes the default and
 * the default is written into the tree. Wrong type or range: err set with
 * file, line and key, returns CH_EINVAL. */
int ch_cfg_int(ch_config *c, const char *path, long def, long lo, long hi, long *out, ch_err *err);
int ch_cfg_num(ch_config *c, const char *path, double def, double lo, double hi, double *out,
               ch_err *err);
int ch_cfg_bool(ch_config *c, const char *path, bool def, bool *out, ch_err *err);
/* def == NULL means required: an absent key is an error "missing required
 * key PATH in FILE". The returned string is owned by the config. */
int ch_cfg_str(ch_config *c, const char *path, const char *def, const char **out, ch_err *err);
/* A string that must be one of choices (NULL-terminated); *out is its index.
 * The error lists the choices. */
int ch_cfg_enum(ch_config *c, const char *path, const char *def, const char *const *choices,
                int *out, ch_err *err);
/* A scalar or a flow sequence of numbers ("[64, 32]" or "64"), at most max
 * values; *n gets the count. Absent: *n = 0, nothing written to the tree. */
int ch_cfg_num_list(ch_config *c, const char *path, double *out, size_t max, size_t *n,
                    ch_err *err);
/* Marks the node at path and everything under it as used. */
void ch_config_mark_used(ch_config *c, const char *path);

/* The first key that no reader asked for, as an error with file, line and a
 * "did you mean" suggestion among its used siblings and `known` (a
 * NULL-terminated list of dotted paths, may be NULL). 0 if all were used. */
int ch_config_check_unused(const ch_config *c, const char *const *known, ch_err *err);

/* YAML text of the whole tree (block style, keys in file order). The caller
 * frees it. NULL on allocation failure. */
char *ch_config_emit(const ch_config *c);
/* The file the config was loaded from ("--set" or a name for others). */
const char *ch_config_name(const ch_config *c);

/* Whether a and b hold the same tree: same shape, map keys in the same
 * order, same scalar text, and a null scalar (plain ~, null or nothing)
 * differs from a quoted string. Files, lines and flags are not compared. */
bool ch_config_equal(const ch_config *a, const ch_config *b);
/* Whether the node at path was written by a typed read's default (false
 * when absent). Nodes written by defaults report "(default)" as their file. */
bool ch_config_is_default(const ch_config *c, const char *path);

#endif
