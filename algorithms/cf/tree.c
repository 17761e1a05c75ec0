/* tree.c: the sparse block tree (see tree.h). */
#include "algorithms/cf/tree.h"

#include <stdlib.h>
#include <string.h>

enum { S_MAGIC = 0x31544643u /* "CFT1" */ };

typedef struct s_held {
    uint32_t level;
    uint64_t index;
    ch_cf_node nd;
} s_held;

struct ch_cf_tree {
    size_t n_blocks, len;
    uint64_t max_key;
    uint32_t top;
    s_held *held;
    size_t n_held, cap_held;
    uint8_t *covered;
};

void ch_cf_node_free(ch_cf_node *nd)
{
    if (!nd) {
        return;
    }
    free(nd->key);
    free(nd->val);
    memset(nd, 0, sizeof *nd);
}

static uint32_t s_top(size_t n_blocks)
{
    uint32_t l = 0;
    while (((size_t)1 << l) < n_blocks) {
        l++;
    }
    return l;
}

/* out = left + right (merged keys). An empty side makes out the other side,
 * moved (the same bytes a merge would copy). */
static int s_combine(ch_cf_node *a, ch_cf_node *b, size_t len, ch_cf_node *out)
{
    memset(out, 0, sizeof *out);
    if (a->n == 0 || b->n == 0) {
        ch_cf_node *keep = a->n == 0 ? b : a;
        *out = *keep;
        memset(keep, 0, sizeof *keep);
        return 0;
    }
    size_t cap = a->n + b->n;
    out->key = malloc((cap + 1) * sizeof *out->key);
    out->val = ch_alloc_array(cap * len + 1, sizeof *out->val);
    if (!out->key || !out->val) {
        ch_cf_node_free(out);
        return CH_ENOMEM;
    }
    size_t i = 0, j = 0, n = 0;
    while (i < a->n || j < b->n) {
        double *o = out->val + n * len;
        if (j >= b->n || (i < a->n && a->key[i] < b->key[j])) {
            out->key[n] = a->key[i];
            memcpy(o, a->val + i * len, len * sizeof *o);
            i++;
        } else if (i >= a->n || b->key[j] < a->key[i]) {
            out->key[n] = b->key[j];
            memcpy(o, b->val + j * len, len * sizeof *o);
            j++;
        } else {
            out->key[n] = a->key[i];
            const double *x = a->val + i * len, *y = b->val + j * len;
            for (size_t k = 0; k < len; k++) {
                o[k] = x[k] + y[k];
            }
            i++;
            j++;
        }
        n++;
    }
    out->n = n;
    return 0;
}

/* Node (level, index), computed from leaves (worker side). */
static int s_node(size_t n_blocks, uint32_t level, uint64_t index, size_t len, ch_cf_leaf_fn leaf,
                  void *ctx, ch_cf_node *out, ch_err *err)
{
    memset(out, 0, sizeof *out);
    if ((index << level) >= n_blocks) {
        return 0;
    }
    if (level == 0) {
        return leaf(ctx, (size_t)index, out, err);
    }
    ch_cf_node l, r;
    int rc = s_node(n_blocks, level - 1, 2 * index, len, leaf, ctx, &l, err);
    if (rc) {
        return rc;
    }
    rc = s_node(n_blocks, level - 1, 2 * index + 1, len, leaf, ctx, &r, err);
    if (rc == 0 && s_combine(&l, &r, len, out) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory combining tree nodes");
    }
    ch_cf_node_free(&l);
    ch_cf_node_free(&r);
    return rc;
}

int ch_cf_tree_range(size_t n_blocks, size_t b0, size_t b1, size_t len, ch_cf_leaf_fn leaf,
                     void *ctx, ch_buf *out, ch_err *err)
{
    uint32_t top = s_top(n_blocks);
    size_t hdr = out->len;
    uint32_t magic = S_MAGIC, count = 0;
    uint64_t len64 = len;
    int rc = ch_buf_append(out, &magic, 4) || ch_buf_append(out, &len64, 8) ||
             ch_buf_append(out, &count, 4);
    for (size_t p = b0; rc == 0 && p < b1;) {
        uint32_t l = 0;
        while (l < top && (p % ((size_t)2 << l)) == 0 && p + ((size_t)2 << l) <= b1) {
            l++;
        }
        ch_cf_node nd;
        rc = s_node(n_blocks, l, p >> l, len, leaf, ctx, &nd, err);
        if (rc) {
            return rc;
        }
        uint64_t idx = p >> l, n = nd.n;
        if (ch_buf_append(out, &l, 4) || ch_buf_append(out, &idx, 8) || ch_buf_append(out, &n, 8) ||
            ch_buf_append(out, nd.key, nd.n * 8) ||
            ch_buf_append(out, nd.val, nd.n * len * sizeof(double))) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory packing tree nodes");
        }
        ch_cf_node_free(&nd);
        count++;
        p += (size_t)1 << l;
    }
    if (rc == 0) {
        memcpy(out->data + hdr + 12, &count, 4);
    }
    return rc;
}

ch_cf_tree *ch_cf_tree_new(size_t n_blocks, size_t len, uint64_t max_key)
{
    ch_cf_tree *t = calloc(1, sizeof *t);
    if (!t) {
        return NULL;
    }
    t->n_blocks = n_blocks;
    t->len = len;
    t->max_key = max_key;
    t->top = s_top(n_blocks);
    t->covered = calloc(n_blocks + 1, 1);
    if (!t->covered) {
        free(t);
        return NULL;
    }
    return t;
}

void ch_cf_tree_destroy(ch_cf_tree **pt)
{
    if (!pt || !*pt) {
        return;
    }
    ch_cf_tree *t = *pt;
    for (size_t k = 0; k < t->n_held; k++) {
        ch_cf_node_free(&t->held[k].nd);
    }
    free(t->held);
    free(t->covered);
    free(t);
    *pt = NULL;
}

int ch_cf_tree_add(ch_cf_tree *t, const uint8_t *data, size_t size, ch_err *err)
{
    uint32_t magic, count;
    uint64_t len;
    if (size < 16) {
        return ch_err_set(err, CH_EPROTO, "cf tree: truncated update (%zu bytes)", size);
    }
    memcpy(&magic, data, 4);
    memcpy(&len, data + 4, 8);
    memcpy(&count, data + 12, 4);
    if (magic != S_MAGIC || len != t->len) {
        return ch_err_set(err, CH_EPROTO, "cf tree: bad header (values per key %llu, expected %zu)",
                          (unsigned long long)len, t->len);
    }
    /* first pass: validate everything */
    uint8_t *cov = malloc(t->n_blocks + 1);
    if (!cov) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    memcpy(cov, t->covered, t->n_blocks + 1);
    size_t off = 16;
    int rc = 0;
    for (uint32_t c = 0; c < count && rc == 0; c++) {
        uint32_t l;
        uint64_t idx, n;
        if (size - off < 20) {
            rc = ch_err_set(err, CH_EPROTO, "cf tree: truncated node header");
            break;
        }
        memcpy(&l, data + off, 4);
        memcpy(&idx, data + off + 4, 8);
        memcpy(&n, data + off + 12, 8);
        off += 20;
        if (l > t->top || idx > (uint64_t)t->n_blocks || ((idx + 1) << l) > (uint64_t)t->n_blocks) {
            rc = ch_err_set(err, CH_EPROTO, "cf tree: node (%u, %llu) out of range", l,
                            (unsigned long long)idx);
            break;
        }
        if (n > (size - off) / (8 + 8 * (t->len ? t->len : 1))) {
            rc = ch_err_set(err, CH_EPROTO, "cf tree: truncated node");
            break;
        }
        for (uint64_t k = 0; k < n; k++) {
            uint64_t key, prev = 0;
            memcpy(&key, data + off + 8 * k, 8);
            if (k) {
                memcpy(&prev, data + off + 8 * (k - 1), 8);
            }
            if (key > t->max_key || (k && key <= prev)) {
                rc = ch_err_set(err, CH_EPROTO, "cf tree: keys out of order or range");
                break;
            }
        }
        for (uint64_t b = idx << l; rc == 0 && b < (idx + 1) << l; b++) {
            if (cov[b]) {
                rc = ch_err_set(err, CH_EPROTO, "cf tree: block %llu sent twice",
                                (unsigned long long)b);
            }
            cov[b] = 1;
        }
        off += (size_t)n * 8 * (1 + t->len);
    }
    if (rc == 0 && off != size) {
        rc = ch_err_set(err, CH_EPROTO, "cf tree: %zu trailing bytes", size - off);
    }
    if (rc) {
        free(cov);
        return rc;
    }
    off = 16;
    for (uint32_t c = 0; c < count; c++) {
        if (t->n_held == t->cap_held) {
            size_t cap = t->cap_held ? 2 * t->cap_held : 16;
            s_held *h = realloc(t->held, cap * sizeof *h);
            if (!h) {
                free(cov);
                return ch_err_set(err, CH_ENOMEM, "out of memory");
            }
            t->held = h;
            t->cap_held = cap;
        }
        s_held *h = &t->held[t->n_held];
        uint64_t n;
        memcpy(&h->level, data + off, 4);
        memcpy(&h->index, data + off + 4, 8);
        memcpy(&n, data + off + 12, 8);
        off += 20;
        h->nd.n = (size_t)n;
        h->nd.key = malloc(n * 8 + 8);
        h->nd.val = malloc(n * 8 * t->len + 8);
        if (!h->nd.key || !h->nd.val) {
            ch_cf_node_free(&h->nd);
            free(cov);
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        memcpy(h->nd.key, data + off, n * 8);
        memcpy(h->nd.val, data + off + n * 8, n * 8 * t->len);
        off += (size_t)n * 8 * (1 + t->len);
        t->n_held++;
    }
    memcpy(t->covered, cov, t->n_blocks + 1);
    free(cov);
    return 0;
}

static int s_finish(ch_cf_tree *t, uint32_t level, uint64_t index, ch_cf_node *out, ch_err *err)
{
    memset(out, 0, sizeof *out);
    if ((index << level) >= t->n_blocks) {
        return 0;
    }
    for (size_t k = 0; k < t->n_held; k++) {
        if (t->held[k].level == level && t->held[k].index == index) {
            *out = t->held[k].nd; /* moved out */
            memset(&t->held[k].nd, 0, sizeof t->held[k].nd);
            t->held[k].level = UINT32_MAX;
            return 0;
        }
    }
    if (level == 0) {
        return ch_err_set(err, CH_EINVAL, "cf tree: block %llu not covered",
                          (unsigned long long)index);
    }
    ch_cf_node l, r;
    int rc = s_finish(t, level - 1, 2 * index, &l, err);
    if (rc) {
        return rc;
    }
    rc = s_finish(t, level - 1, 2 * index + 1, &r, err);
    if (rc == 0 && s_combine(&l, &r, t->len, out) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory combining tree nodes");
    }
    ch_cf_node_free(&l);
    ch_cf_node_free(&r);
    return rc;
}

int ch_cf_tree_finish(ch_cf_tree *t, ch_cf_node *root, ch_err *err)
{
    return s_finish(t, t->top, 0, root, err);
}
