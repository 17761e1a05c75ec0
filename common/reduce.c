/* reduce.c: fixed-tree reduction over blocks (see reduce.h). */
#include "common/reduce.h"

#include <stdlib.h>
#include <string.h>

#define S_MAGIC 0x43525431u /* "CRT1" */

void ch_combine_sum(void *ctx, size_t len, const double *left, const double *right,
                    double *out)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++) {
        out[i] = left[i] + right[i];
    }
}

typedef struct s_walk {
    size_t n_blocks, len;
    ch_leaf_fn leaf;
    void *leaf_ctx;
    ch_combine_fn combine;
    void *ctx;
    ch_err *err;
} s_walk;

static void s_combine(ch_combine_fn f, void *ctx, size_t len, const double *a, const double *b,
                      double *out)
{
    f(ctx, len, a, b, out);
}

/* Value of node (level, index) into out; the node must start below n_blocks. */
static int s_node(const s_walk *w, uint32_t level, uint64_t index, double *out, double *scratch)
{
    if (level == 0) {
        memset(out, 0, w->len * sizeof *out);
        return w->leaf(w->leaf_ctx, (size_t)index, out, w->err);
    }
    uint64_t right_start = (2 * index + 1) << (level - 1);
    if (right_start >= w->n_blocks) {
        return s_node(w, level - 1, 2 * index, out, scratch);
    }
    double *left = scratch, *right = scratch + w->len, *rest = scratch + 2 * w->len;
    int rc = s_node(w, level - 1, 2 * index, left, rest);
    if (rc == 0) {
        rc = s_node(w, level - 1, 2 * index + 1, right, rest);
    }
    if (rc == 0) {
        s_combine(w->combine, w->ctx, w->len, left, right, out);
    }
    return rc;
}

static uint32_t s_depth(size_t n_blocks)
{
    uint32_t d = 0;
    while (((size_t)1 << d) < n_blocks) {
        d++;
    }
    return d;
}

int ch_reduce_range(size_t n_blocks, size_t b0, size_t b1, size_t len, ch_leaf_fn leaf,
                    void *leaf_ctx, ch_combine_fn combine, void *combine_ctx, ch_buf *out,
                    ch_err *err)
{
    if (b0 > b1 || b1 > n_blocks) {
        return ch_err_set(err, CH_EINTERNAL, "block range [%zu, %zu) outside %zu blocks", b0, b1,
                          n_blocks);
    }
    uint32_t depth = s_depth(n_blocks);
    s_walk w = {n_blocks, len, leaf, leaf_ctx, combine, combine_ctx, err};
    size_t scratch_n;
    if (ch_mul_size(len, 2 * (size_t)depth + 3, &scratch_n) != 0) {
        return ch_err_set(err, CH_ENOMEM, "reduction too large");
    }
    double *scratch = ch_alloc_array(scratch_n, sizeof(double));
    double *val = ch_alloc_array(len, sizeof(double));
    if (!scratch || !val) {
        free(scratch);
        free(val);
        return ch_err_set(err, CH_ENOMEM, "out of memory in reduction");
    }
    uint32_t magic = S_MAGIC;
    uint64_t len64 = len, count = 0;
    size_t count_at = out->len + sizeof magic + sizeof len64;
    ch_buf_append(out, &magic, sizeof magic);
    ch_buf_append(out, &len64, sizeof len64);
    ch_buf_append(out, &count, sizeof count);
    int rc = 0;
    size_t b = b0;
    while (b < b1 && rc == 0) {
        /* the largest aligned node starting at b whose real blocks lie in [b, b1) */
        uint32_t level = 0;
        while (level < depth && (b % ((size_t)1 << (level + 1))) == 0) {
            size_t end = b + ((size_t)1 << (level + 1));
            if (end > n_blocks) {
                end = n_blocks;
            }
            if (end > b1) {
                break;
            }
            level++;
        }
        rc = s_node(&w, level, b >> level, val, scratch);
        if (rc == 0) {
            uint64_t idx = b >> level;
            ch_buf_append(out, &level, sizeof level);
            ch_buf_append(out, &idx, sizeof idx);
            ch_buf_append(out, val, len * sizeof(double));
            count++;
        }
        size_t end = b + ((size_t)1 << level);
        b = end < n_blocks ? end : n_blocks;
    }
    free(scratch);
    free(val);
    if (rc == 0 && out->failed) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory packing a reduction");
    }
    if (rc == 0) {
        memcpy(out->data + count_at, &count, sizeof count);
    }
    return rc;
}

struct ch_reduce {
    size_t n_blocks, len;
    uint32_t depth;
    ch_combine_fn combine;
    void *ctx;
    size_t covered;
    unsigned char *owner; /* per block: covered? */
    size_t n_nodes, cap_nodes;
    ch_rnode *nodes;
    double *values; /* n_nodes * len */
};

ch_reduce *ch_reduce_new(size_t n_blocks, size_t len, ch_combine_fn combine, void *ctx)
{
    if (n_blocks == 0 || len == 0) {
        return NULL;
    }
    ch_reduce *r = calloc(1, sizeof *r);
    if (!r) {
        return NULL;
    }
    r->n_blocks = n_blocks;
    r->len = len;
    r->depth = s_depth(n_blocks);
    r->combine = combine;
    r->ctx = ctx;
    r->owner = calloc(n_blocks, 1);
    if (!r->owner) {
        free(r);
        return NULL;
    }
    return r;
}

void ch_reduce_destroy(ch_reduce **pr)
{
    if (!pr || !*pr) {
        return;
    }
    ch_reduce *r = *pr;
    free(r->owner);
    free(r->nodes);
    free(r->values);
    free(r);
    *pr = NULL;
}

size_t ch_reduce_covered(const ch_reduce *r)
{
    return r->covered;
}

int ch_reduce_add(ch_reduce *r, const uint8_t *data, size_t size, ch_err *err)
{
    uint32_t magic;
    uint64_t len64, count;
    size_t head = sizeof magic + sizeof len64 + sizeof count;
    if (size < head) {
        return ch_err_set(err, CH_EPROTO, "reduction part truncated (%zu bytes)", size);
    }
    memcpy(&magic, data, sizeof magic);
    memcpy(&len64, data + sizeof magic, sizeof len64);
    memcpy(&count, data + sizeof magic + sizeof len64, sizeof count);
    if (magic != S_MAGIC) {
        return ch_err_set(err, CH_EPROTO, "reduction part has a bad magic number");
    }
    if (len64 != r->len) {
        return ch_err_set(err, CH_EPROTO, "reduction part has vectors of %llu values, expected %zu",
                          (unsigned long long)len64, r->len);
    }
    size_t node_bytes = sizeof(uint32_t) + sizeof(uint64_t) + r->len * sizeof(double);
    if (count > r->n_blocks || (size - head) / node_bytes != count ||
        (size - head) % node_bytes != 0) {
        return ch_err_set(err, CH_EPROTO, "reduction part size %zu does not hold %llu nodes",
                          size, (unsigned long long)count);
    }
    /* validate every node before changing anything */
    unsigned char *mark = calloc(r->n_blocks, 1);
    if (!mark) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    const uint8_t *p = data + head;
    for (uint64_t i = 0; i < count; i++, p += node_bytes) {
        uint32_t level;
        uint64_t index;
        memcpy(&level, p, sizeof level);
        memcpy(&index, p + sizeof level, sizeof index);
        if (level > r->depth || index >= ((uint64_t)1 << (r->depth - level)) ||
            (index << level) >= r->n_blocks) {
            free(mark);
            return ch_err_set(err, CH_EPROTO, "reduction node (level %u, index %llu) is outside "
                                              "the tree of %zu blocks",
                              level, (unsigned long long)index, r->n_blocks);
        }
        size_t lo = (size_t)(index << level), hi = lo + ((size_t)1 << level);
        if (hi > r->n_blocks) {
            hi = r->n_blocks;
        }
        for (size_t b = lo; b < hi; b++) {
            if (r->owner[b] || mark[b]) {
                free(mark);
                return ch_err_set(err, CH_EPROTO, "block %zu was sent twice", b);
            }
            mark[b] = 1;
        }
    }
    free(mark);
    if (r->n_nodes + count > r->cap_nodes) {
        size_t cap = r->cap_nodes ? r->cap_nodes : 16;
        while (cap < r->n_nodes + count) {
            cap *= 2;
        }
        ch_rnode *nodes = realloc(r->nodes, cap * sizeof *nodes);
        if (!nodes) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        r->nodes = nodes;
        size_t bytes;
        if (ch_mul_size(cap, r->len * sizeof(double), &bytes) != 0) {
            return ch_err_set(err, CH_ENOMEM, "reduction too large");
        }
        double *values = realloc(r->values, bytes);
        if (!values) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        r->values = values;
        r->cap_nodes = cap;
    }
    p = data + head;
    for (uint64_t i = 0; i < count; i++, p += node_bytes) {
        ch_rnode *nd = &r->nodes[r->n_nodes];
        memcpy(&nd->level, p, sizeof nd->level);
        memcpy(&nd->index, p + sizeof nd->level, sizeof nd->index);
        memcpy(r->values + r->n_nodes * r->len, p + sizeof(uint32_t) + sizeof(uint64_t),
               r->len * sizeof(double));
        size_t lo = (size_t)(nd->index << nd->level), hi = lo + ((size_t)1 << nd->level);
        if (hi > r->n_blocks) {
            hi = r->n_blocks;
        }
        for (size_t b = lo; b < hi; b++) {
            r->owner[b] = 1;
        }
        r->covered += hi - lo;
        r->n_nodes++;
    }
    return 0;
}

static const double *s_find(const ch_reduce *r, uint32_t level, uint64_t index)
{
    for (size_t i = 0; i < r->n_nodes; i++) {
        if (r->nodes[i].level == level && r->nodes[i].index == index) {
            return r->values + i * r->len;
        }
    }
    return NULL;
}

static int s_finish(const ch_reduce *r, uint32_t level, uint64_t index, double *out,
                    double *scratch, ch_err *err)
{
    const double *v = s_find(r, level, index);
    if (v) {
        memcpy(out, v, r->len * sizeof *out);
        return 0;
    }
    if (level == 0) {
        return ch_err_set(err, CH_EINVAL, "block %llu is missing from the reduction",
                          (unsigned long long)index);
    }
    uint64_t right_start = (2 * index + 1) << (level - 1);
    if (right_start >= r->n_blocks) {
        return s_finish(r, level - 1, 2 * index, out, scratch, err);
    }
    double *left = scratch, *right = scratch + r->len, *rest = scratch + 2 * r->len;
    int rc = s_finish(r, level - 1, 2 * index, left, rest, err);
    if (rc == 0) {
        rc = s_finish(r, level - 1, 2 * index + 1, right, rest, err);
    }
    if (rc == 0) {
        s_combine(r->combine, r->ctx, r->len, left, right, out);
    }
    return rc;
}

int ch_reduce_finish(ch_reduce *r, double *out, ch_err *err)
{
    if (r->covered != r->n_blocks) {
        return ch_err_set(err, CH_EINVAL, "only %zu of %zu blocks arrived", r->covered,
                          r->n_blocks);
    }
    double *scratch = ch_alloc_array(r->len * (2 * (size_t)r->depth + 3), sizeof(double));
    if (!scratch) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    int rc = s_finish(r, r->depth, 0, out, scratch, err);
    free(scratch);
    return rc;
}
