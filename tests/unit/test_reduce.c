/* test_reduce.c: the fixed-tree reduction. The root must be the same bytes
 * however [0, n_blocks) is split among workers and in whatever order their
 * parts arrive; the leaves are chosen so that a different summation order
 * gives different bits. ch_reduce_add takes untrusted bytes: every malformed
 * part is rejected with CH_EPROTO and leaves the state as it was. */
#include "common/reduce.h"
#include "common/rng.h"
#include "tests/check.h"

#include <stdbool.h>
#include <stdint.h>

#define LEN 4

/* Leaf b: values whose sum depends on the order of additions (1e16 + 1 is
 * 1e16 in double, and so on). */
static int s_leaf(void *ctx, size_t b, double *out, ch_err *err)
{
    (void)ctx;
    (void)err;
    static const double pat[3] = {1e16, 1.0, -1e16};
    out[0] = pat[b % 3];
    out[1] = 1.0 / (double)(b + 1);
    out[2] = (b % 2 ? 1e-3 : 1e20) * (double)((b * 2654435761u) % 1000 + 1);
    out[3] = b % 5 == 0 ? 3.0 : 0.1 * (double)b;
    return 0;
}

/* A leaf of 3 values, for a part of the wrong length. */
static int s_leaf3(void *ctx, size_t b, double *out, ch_err *err)
{
    double full[LEN];
    int rc = s_leaf(ctx, b, full, err);
    memcpy(out, full, 3 * sizeof *out);
    return rc;
}

/* A leaf that fails on one block (ctx holds the block number). */
static int s_failing_leaf(void *ctx, size_t b, double *out, ch_err *err)
{
    if (b == *(size_t *)ctx) {
        return ch_err_set(err, CH_EIO, "cannot read block %zu", b);
    }
    return s_leaf(NULL, b, out, err);
}

static void s_part(size_t n_blocks, size_t b0, size_t b1, ch_buf *out)
{
    ch_err err = {0};
    ch_buf_init(out);
    int rc = ch_reduce_range(n_blocks, b0, b1, LEN, s_leaf, NULL, ch_combine_sum, NULL, out, &err);
    CHECK(rc == 0);
}

/* Root over one worker owning every block. */
static void s_single(size_t n_blocks, double *root)
{
    ch_err err = {0};
    ch_buf part;
    s_part(n_blocks, 0, n_blocks, &part);
    ch_reduce *r = ch_reduce_new(n_blocks, LEN, ch_combine_sum, NULL);
    CHECK(ch_reduce_add(r, part.data, part.len, &err) == 0);
    CHECK(ch_reduce_covered(r) == n_blocks);
    CHECK(ch_reduce_finish(r, root, &err) == 0);
    ch_reduce_destroy(&r);
    CHECK(r == NULL);
    ch_buf_free(&part);
}

/* Root over workers owning [cut[w], cut[w+1]), parts added in `order`.
 * Returns whether it equals `want` bit for bit. */
static bool s_split_root(size_t n_blocks, size_t w, const size_t *cut, const size_t *order,
                         const double *want)
{
    ch_err err = {0};
    ch_reduce *r = ch_reduce_new(n_blocks, LEN, ch_combine_sum, NULL);
    bool ok = r != NULL;
    for (size_t i = 0; i < w && ok; i++) {
        size_t k = order[i];
        ch_buf part;
        s_part(n_blocks, cut[k], cut[k + 1], &part);
        ok = ch_reduce_add(r, part.data, part.len, &err) == 0;
        ch_buf_free(&part);
    }
    double root[LEN];
    ok = ok && ch_reduce_finish(r, root, &err) == 0;
    ok = ok && memcmp(root, want, sizeof root) == 0;
    if (!ok) {
        fprintf(stderr, "n_blocks %zu, %zu workers:", n_blocks, w);
        for (size_t i = 0; i <= w; i++) {
            fprintf(stderr, " %zu", cut[i]);
        }
        fprintf(stderr, " (%s)\n", err.msg);
    }
    ch_reduce_destroy(&r);
    return ok;
}

/* Every way of cutting [0, n) into w contiguous (possibly empty) ranges:
 * recursion over the next cut point. Returns the number of failures. */
static size_t s_all_cuts(size_t n, size_t w, size_t *cut, size_t i, const double *want,
                         size_t *tried)
{
    if (i == w) {
        cut[w] = n;
        size_t order[8], rev[8];
        for (size_t k = 0; k < w; k++) {
            order[k] = k;
            rev[k] = w - 1 - k;
        }
        size_t bad = !s_split_root(n, w, cut, order, want);
        bad += !s_split_root(n, w, cut, rev, want); /* arrival order does not matter */
        (*tried)++;
        return bad;
    }
    size_t bad = 0;
    for (size_t c = cut[i - 1]; c <= n; c++) {
        cut[i] = c;
        bad += s_all_cuts(n, w, cut, i + 1, want, tried);
    }
    return bad;
}

static void test_split_invariance(void)
{
    const size_t sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 31, 33, 256};
    for (size_t q = 0; q < sizeof sizes / sizeof sizes[0]; q++) {
        size_t n = sizes[q];
        double want[LEN];
        s_single(n, want);
        for (size_t w = 1; w <= 5; w++) {
            size_t cut[8] = {0};
            if (n <= 17 || (n <= 40 && w <= 3)) {
                size_t tried = 0;
                size_t bad = s_all_cuts(n, w, cut, 1, want, &tried);
                CHECK(bad == 0);
                CHECK(tried > 0);
            } else {
                /* every split is too many: take the even split and 300
                 * random ones per worker count */
                ch_rng rng;
                ch_rng_init(&rng, 17, ch_rng_stream(CH_STREAM_ALGO, w));
                size_t bad = 0;
                for (size_t trial = 0; trial < 301; trial++) {
                    cut[0] = 0;
                    cut[w] = n;
                    if (trial == 0) {
                        for (size_t k = 1; k < w; k++) {
                            cut[k] = k * n / w;
                        }
                    } else {
                        for (size_t k = 1; k < w; k++) {
                            cut[k] = (size_t)ch_rng_below(&rng, n + 1);
                        }
                        /* sort the interior cut points */
                        for (size_t a = 1; a < w; a++) {
                            for (size_t b = a + 1; b < w; b++) {
                                if (cut[b] < cut[a]) {
                                    size_t tmp = cut[a];
                                    cut[a] = cut[b];
                                    cut[b] = tmp;
                                }
                            }
                        }
                    }
                    size_t order[8];
                    for (size_t k = 0; k < w; k++) {
                        order[k] = k;
                    }
                    ch_rng_shuffle(&rng, order, w);
                    bad += !s_split_root(n, w, cut, order, want);
                }
                CHECK(bad == 0);
            }
        }
    }

    /* one worker per block, parts arriving in a random order */
    size_t n = 256;
    double want[LEN];
    s_single(n, want);
    size_t *cut = malloc((n + 1) * sizeof *cut), *order = malloc(n * sizeof *order);
    for (size_t k = 0; k <= n; k++) {
        cut[k] = k;
    }
    for (size_t k = 0; k < n; k++) {
        order[k] = k;
    }
    ch_rng rng;
    ch_rng_init(&rng, 18, 0);
    ch_rng_shuffle(&rng, order, n);
    CHECK(s_split_root(n, n, cut, order, want));
    free(cut);
    free(order);
}

/* The leaves do make the order matter: summing them left to right gives
 * other bits than the tree, so the invariance above is not trivial. */
static void test_order_matters(void)
{
    size_t n = 7;
    double want[LEN], seq[LEN] = {0}, leaf[LEN];
    s_single(n, want);
    for (size_t b = 0; b < n; b++) {
        s_leaf(NULL, b, leaf, NULL);
        for (size_t i = 0; i < LEN; i++) {
            seq[i] += leaf[i];
        }
    }
    CHECK(memcmp(seq, want, sizeof seq) != 0);
}

static void test_leaf_error(void)
{
    ch_err err = {0};
    ch_buf out;
    ch_buf_init(&out);
    size_t bad = 5;
    CHECK(ch_reduce_range(8, 0, 8, LEN, s_failing_leaf, &bad, ch_combine_sum, NULL, &out, &err) ==
          CH_EIO);
    CHECK_HAS(err.msg, "cannot read block 5");
    ch_buf_free(&out);
    /* a range outside the tree is our bug, not the peer's */
    CHECK(ch_reduce_range(8, 3, 9, LEN, s_leaf, NULL, ch_combine_sum, NULL, &out, &err) ==
          CH_EINTERNAL);
    CHECK(ch_reduce_range(8, 5, 3, LEN, s_leaf, NULL, ch_combine_sum, NULL, &out, &err) ==
          CH_EINTERNAL);
    ch_buf_free(&out);
    CHECK(ch_reduce_new(0, LEN, ch_combine_sum, NULL) == NULL);
    CHECK(ch_reduce_new(4, 0, ch_combine_sum, NULL) == NULL);
    ch_reduce_destroy(NULL);
}

/* Header: magic u32, len u64, count u64; node: level u32, index u64, LEN doubles. */
#define HEAD (4 + 8 + 8)
#define NODE (4 + 8 + LEN * 8)

/* A hand-made part with the given nodes (values from the leaf of the first
 * block each covers; only the framing matters here). */
static void s_craft(ch_buf *out, uint32_t magic, uint64_t len, uint64_t count, size_t n_nodes,
                    const uint32_t *level, const uint64_t *index)
{
    ch_buf_init(out);
    ch_buf_append(out, &magic, 4);
    ch_buf_append(out, &len, 8);
    ch_buf_append(out, &count, 8);
    for (size_t i = 0; i < n_nodes; i++) {
        double v[LEN] = {1, 2, 3, 4};
        ch_buf_append(out, &level[i], 4);
        ch_buf_append(out, &index[i], 8);
        ch_buf_append(out, v, sizeof v);
    }
}

static void test_rejections(void)
{
    const size_t n = 7; /* depth 3 */
    ch_err err = {0};
    double want[LEN];
    s_single(n, want);
    ch_reduce *r = ch_reduce_new(n, LEN, ch_combine_sum, NULL);

    /* a valid first part: blocks [0, 3) */
    ch_buf first;
    s_part(n, 0, 3, &first);
    CHECK(first.len == HEAD + 2 * NODE); /* nodes (1, 0) and (0, 2) */
    CHECK(ch_reduce_add(r, first.data, first.len, &err) == 0);
    CHECK(ch_reduce_covered(r) == 3);

    ch_buf rest;
    s_part(n, 3, 7, &rest); /* nodes (0, 3) and (2, 1) */
    CHECK(rest.len == HEAD + 2 * NODE);

    /* truncated anywhere: inside the header, inside a node, one byte short */
    const size_t cuts[] = {
        0, 1, HEAD - 1, HEAD, HEAD + 3, HEAD + NODE - 1, HEAD + NODE, rest.len - 8, rest.len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        ch_err_clear(&err);
        CHECK(ch_reduce_add(r, rest.data, cuts[i], &err) == CH_EPROTO);
        CHECK(err.msg[0] != '\0');
        CHECK(ch_reduce_covered(r) == 3);
    }
    /* trailing garbage is as bad as a missing byte */
    ch_buf longer;
    ch_buf_init(&longer);
    ch_buf_append(&longer, rest.data, rest.len);
    ch_buf_append(&longer, "x", 1);
    CHECK(ch_reduce_add(r, longer.data, longer.len, &err) == CH_EPROTO);
    ch_buf_free(&longer);

    /* a count that does not match the bytes */
    ch_buf bad;
    const uint32_t lv1[] = {0};
    const uint64_t ix1[] = {3};
    s_craft(&bad, 0x43525431u, LEN, 2, 1, lv1, ix1);
    CHECK(ch_reduce_add(r, bad.data, bad.len, &err) == CH_EPROTO);
    CHECK_HAS(err.msg, "does not hold");
    ch_buf_free(&bad);
    s_craft(&bad, 0x43525431u, LEN, UINT64_MAX, 1, lv1, ix1);
    CHECK(ch_reduce_add(r, bad.data, bad.len, &err) == CH_EPROTO);
    ch_buf_free(&bad);

    /* wrong vector length: a part computed with len 3 */
    ch_buf wrong;
    ch_buf_init(&wrong);
    CHECK(ch_reduce_range(n, 3, 7, 3, s_leaf3, NULL, ch_combine_sum, NULL, &wrong, &err) == 0);
    CHECK(ch_reduce_add(r, wrong.data, wrong.len, &err) == CH_EPROTO);
    CHECK_HAS(err.msg, "vectors of 3 values, expected 4");
    ch_buf_free(&wrong);
    s_craft(&bad, 0x43525431u, LEN + 1, 1, 1, lv1, ix1);
    CHECK(ch_reduce_add(r, bad.data, bad.len, &err) == CH_EPROTO);
    ch_buf_free(&bad);

    /* bad magic */
    ch_buf_init(&bad);
    ch_buf_append(&bad, rest.data, rest.len);
    bad.data[0] ^= 0xff;
    CHECK(ch_reduce_add(r, bad.data, bad.len, &err) == CH_EPROTO);
    CHECK_HAS(err.msg, "magic");
    ch_buf_free(&bad);

    /* overlapping blocks: the same part again, a part overlapping it, a
     * part that repeats a block inside itself */
    CHECK(ch_reduce_add(r, first.data, first.len, &err) == CH_EPROTO);
    CHECK_HAS(err.msg, "sent twice");
    ch_buf over;
    s_part(n, 2, 5, &over);
    CHECK(ch_reduce_add(r, over.data, over.len, &err) == CH_EPROTO);
    CHECK_HAS(err.msg, "block 2 was sent twice");
    ch_buf_free(&over);
    {
        const uint32_t lv[] = {0, 0};
        const uint64_t ix[] = {4, 4};
        s_craft(&bad, 0x43525431u, LEN, 2, 2, lv, ix);
        CHECK(ch_reduce_add(r, bad.data, bad.len, &err) == CH_EPROTO);
        CHECK_HAS(err.msg, "block 4 was sent twice");
        ch_buf_free(&bad);
    }
    {
        /* level-2 node (2, 1) covers blocks 4..6, so with (0, 5) it overlaps */
        const uint32_t lv[] = {0, 2};
        const uint64_t ix[] = {5, 1};
        s_craft(&bad, 0x43525431u, LEN, 2, 2, lv, ix);
        CHECK(ch_reduce_add(r, bad.data, bad.len, &err) == CH_EPROTO);
        ch_buf_free(&bad);
    }
    /* a valid node followed by an overlapping one: nothing of it is kept */
    {
        const uint32_t lv[] = {0, 0};
        const uint64_t ix[] = {3, 1};
        s_craft(&bad, 0x43525431u, LEN, 2, 2, lv, ix);
        CHECK(ch_reduce_add(r, bad.data, bad.len, &err) == CH_EPROTO);
        ch_buf_free(&bad);
    }

    /* nodes outside the tree of 7 blocks (depth 3) */
    const uint32_t out_lv[] = {0, 1, 2, 3, 4, 32, 63, 64, 200, UINT32_MAX};
    const uint64_t out_ix[] = {7, 4, 2, 1, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof out_lv / sizeof out_lv[0]; i++) {
        s_craft(&bad, 0x43525431u, LEN, 1, 1, &out_lv[i], &out_ix[i]);
        ch_err_clear(&err);
        CHECK(ch_reduce_add(r, bad.data, bad.len, &err) == CH_EPROTO);
        CHECK_HAS(err.msg, "outside the tree");
        ch_buf_free(&bad);
    }
    {
        const uint32_t lv = 0;
        const uint64_t ix = UINT64_MAX;
        s_craft(&bad, 0x43525431u, LEN, 1, 1, &lv, &ix);
        CHECK(ch_reduce_add(r, bad.data, bad.len, &err) == CH_EPROTO);
        ch_buf_free(&bad);
    }
    CHECK(ch_reduce_covered(r) == 3);

    /* finish reports the missing blocks */
    double root[LEN];
    CHECK(ch_reduce_finish(r, root, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "only 3 of 7 blocks arrived");

    /* nothing was changed by the rejections: the real rest completes the
     * tree with the single-worker bits */
    CHECK(ch_reduce_add(r, rest.data, rest.len, &err) == 0);
    CHECK(ch_reduce_covered(r) == 7);
    CHECK(ch_reduce_finish(r, root, &err) == 0);
    CHECK(memcmp(root, want, sizeof root) == 0);
    /* once complete, anything more overlaps */
    CHECK(ch_reduce_add(r, rest.data, rest.len, &err) == CH_EPROTO);
    ch_reduce_destroy(&r);
    ch_buf_free(&first);
    ch_buf_free(&rest);

    /* an empty part (a worker with no blocks) is valid and adds nothing */
    r = ch_reduce_new(n, LEN, ch_combine_sum, NULL);
    ch_buf empty;
    s_part(n, 4, 4, &empty);
    CHECK(empty.len == HEAD);
    CHECK(ch_reduce_add(r, empty.data, empty.len, &err) == 0);
    CHECK(ch_reduce_covered(r) == 0);
    CHECK(ch_reduce_finish(r, root, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "only 0 of 7 blocks arrived");
    ch_buf_free(&empty);
    ch_reduce_destroy(&r);
}

/* Random bytes and random corruptions of a valid part are rejected or
 * accepted, never crash (run under ASan in the sanitizer build). */
static void test_random_parts(void)
{
    const size_t n = 13;
    ch_buf good;
    s_part(n, 0, n, &good);
    ch_rng rng;
    ch_rng_init(&rng, 99, 0);
    size_t accepted = 0;
    for (int trial = 0; trial < 2000; trial++) {
        ch_err err = {0};
        ch_reduce *r = ch_reduce_new(n, LEN, ch_combine_sum, NULL);
        uint8_t *buf = malloc(good.len);
        memcpy(buf, good.data, good.len);
        size_t flips = 1 + ch_rng_below(&rng, 4);
        for (size_t f = 0; f < flips; f++) {
            buf[ch_rng_below(&rng, good.len)] ^= (uint8_t)(1u << ch_rng_below(&rng, 8));
        }
        size_t len = trial % 3 == 0 ? (size_t)ch_rng_below(&rng, good.len + 1) : good.len;
        int rc = ch_reduce_add(r, buf, len, &err);
        CHECK(rc == 0 || rc == CH_EPROTO);
        if (rc == 0) {
            accepted++; /* a flip in a value: the framing is still valid */
            double root[LEN];
            (void)ch_reduce_finish(r, root, &err);
        } else {
            CHECK(ch_reduce_covered(r) == 0);
        }
        free(buf);
        ch_reduce_destroy(&r);
    }
    CHECK(accepted > 0);
    ch_buf_free(&good);
}

int main(void)
{
    test_split_invariance();
    test_order_matters();
    test_leaf_error();
    test_rejections();
    test_random_parts();
    CH_TEST_END();
}
