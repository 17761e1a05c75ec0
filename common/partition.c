/* partition.c: train/test split and shard plans (see partition.h). */
#include "common/partition.h"
#include "common/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const ch_part_scheme_names[] = {"iid", "stratified", "dirichlet", "shards", "by-file",
                                            NULL};

static int s_cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Classes of the target as the plans see them: the levels of a categorical
 * target, or, for a numeric target whose values are all integers in
 * [0, 1024) (class codes such as the IDX labels of Fashion-MNIST), the
 * largest code plus one. 0 when the target is not a class label. */
static size_t s_plan_classes(const ch_table *t)
{
    if (!t->has_target) {
        return 0;
    }
    if (t->target.kind == CH_COL_CATEGORICAL) {
        return ch_table_n_classes(t);
    }
    double max = -1;
    for (size_t i = 0; i < t->n_rows; i++) {
        double v = t->target.values[i];
        if (isnan(v)) {
            continue;
        }
        if (v < 0 || v >= 1024 || v != floor(v)) {
            return 0;
        }
        max = v > max ? v : max;
    }
    return max >= 0 ? (size_t)max + 1 : 0;
}

/* Class code of row i, or n_classes for a missing label. */
static size_t s_class(const ch_table *t, size_t i, size_t k)
{
    double v = t->target.values[i];
    if (isnan(v) || v < 0 || v >= (double)k) {
        return k;
    }
    return (size_t)v;
}

/* Rows grouped by class (missing labels last), each group shuffled.
 * order gets n rows; group_begin gets k + 2 offsets. */
static int s_groups(const ch_table *t, size_t k, ch_rng *r, size_t *order, size_t *group_begin)
{
    size_t n = t->n_rows;
    memset(group_begin, 0, (k + 2) * sizeof *group_begin);
    for (size_t i = 0; i < n; i++) {
        group_begin[s_class(t, i, k) + 1]++;
    }
    for (size_t c = 0; c <= k; c++) {
        group_begin[c + 1] += group_begin[c];
    }
    size_t *fill = ch_alloc_array(k + 1, sizeof *fill);
    if (!fill) {
        return CH_ENOMEM;
    }
    memcpy(fill, group_begin, (k + 1) * sizeof *fill);
    for (size_t i = 0; i < n; i++) {
        order[fill[s_class(t, i, k)]++] = i;
    }
    free(fill);
    for (size_t c = 0; c <= k; c++) {
        ch_rng_shuffle(r, order + group_begin[c], group_begin[c + 1] - group_begin[c]);
    }
    return 0;
}

int ch_split_make(const ch_table *t, double test_fraction, uint64_t seed, ch_split *out,
                  ch_err *err)
{
    memset(out, 0, sizeof *out);
    size_t n = t->n_rows;
    out->train = ch_alloc_array(n, sizeof(size_t));
    out->test = ch_alloc_array(n, sizeof(size_t));
    size_t k = ch_table_n_classes(t);
    size_t *order = ch_alloc_array(n, sizeof(size_t));
    size_t *gb = ch_alloc_array(k + 2, sizeof(size_t));
    if (!out->train || !out->test || !order || !gb) {
        free(order);
        free(gb);
        ch_split_free(out);
        return ch_err_set(err, CH_ENOMEM, "out of memory splitting %zu rows", n);
    }
    ch_rng r;
    ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_SPLIT, 0));
    if (t->has_target && t->target.kind == CH_COL_CATEGORICAL) {
        s_groups(t, k, &r, order, gb);
    } else {
        for (size_t i = 0; i < n; i++) {
            order[i] = i;
        }
        ch_rng_shuffle(&r, order, n);
        gb[0] = 0;
        gb[1] = n;
        k = 0;
    }
    /* within each class, the first round(frac * size) shuffled rows are test */
    for (size_t c = 0; c <= k; c++) {
        size_t size = gb[c + 1] - gb[c];
        size_t nt = (size_t)floor(test_fraction * (double)size + 0.5);
        for (size_t j = 0; j < size; j++) {
            size_t row = order[gb[c] + j];
            if (j < nt) {
                out->test[out->n_test++] = row;
            } else {
                out->train[out->n_train++] = row;
            }
        }
    }
    free(order);
    free(gb);
    qsort(out->train, out->n_train, sizeof(size_t), s_cmp_size);
    qsort(out->test, out->n_test, sizeof(size_t), s_cmp_size);
    if (out->n_train == 0) {
        ch_split_free(out);
        return ch_err_set(err, CH_EINVAL,
                          "data.test_fraction %g leaves no training rows out of %zu",
                          test_fraction, n);
    }
    if (test_fraction > 0 && out->n_test == 0) {
        ch_split_free(out);
        return ch_err_set(err, CH_EINVAL,
                          "data.test_fraction %g leaves no test rows out of %zu; raise it or "
                          "set it to 0",
                          test_fraction, n);
    }
    return 0;
}

void ch_split_free(ch_split *s)
{
    if (s) {
        free(s->train);
        free(s->test);
        memset(s, 0, sizeof *s);
    }
}

void ch_plan_free(ch_plan *p)
{
    if (p) {
        free(p->rows);
        free(p->block_begin);
        free(p->shard_block);
        memset(p, 0, sizeof *p);
    }
}

size_t ch_plan_shard_begin(const ch_plan *p, size_t s)
{
    return p->block_begin[p->shard_block[s]];
}

size_t ch_plan_shard_end(const ch_plan *p, size_t s)
{
    return p->block_begin[p->shard_block[s + 1]];
}

static int s_plan_alloc(ch_plan *p, size_t n_rows, size_t n_blocks, size_t n_shards)
{
    p->rows = ch_alloc_array(n_rows, sizeof(size_t));
    p->block_begin = ch_alloc_array(n_blocks + 1, sizeof(size_t));
    p->shard_block = ch_alloc_array(n_shards + 1, sizeof(size_t));
    if (!p->rows || !p->block_begin || !p->shard_block) {
        ch_plan_free(p);
        return CH_ENOMEM;
    }
    p->n_rows = n_rows;
    p->n_blocks = n_blocks;
    p->n_shards = n_shards;
    return 0;
}

/* Blocks evenly over rows [0, n) of the plan order; shards take whole blocks. */
static void s_even_blocks(ch_plan *p)
{
    for (size_t b = 0; b <= p->n_blocks; b++) {
        p->block_begin[b] = b * p->n_rows / p->n_blocks;
    }
    for (size_t s = 0; s <= p->n_shards; s++) {
        p->shard_block[s] = s * p->n_blocks / p->n_shards;
    }
}

/* Stratified order: classes interleaved so that every prefix of the order
 * holds each class in proportion (largest remainder, deterministic). */
static int s_stratified_order(const ch_table *t, ch_rng *r, size_t *order)
{
    size_t k = s_plan_classes(t);
    size_t n = t->n_rows;
    size_t *grouped = ch_alloc_array(n, sizeof(size_t));
    size_t *gb = ch_alloc_array(k + 2, sizeof(size_t));
    size_t *taken = ch_calloc_array(k + 1, sizeof(size_t));
    if (!grouped || !gb || !taken) {
        free(grouped);
        free(gb);
        free(taken);
        return CH_ENOMEM;
    }
    s_groups(t, k, r, grouped, gb);
    for (size_t i = 0; i < n; i++) {
        /* pick the class furthest behind its share at position i + 1 */
        size_t best = 0;
        double best_gap = -INFINITY;
        for (size_t c = 0; c <= k; c++) {
            size_t size = gb[c + 1] - gb[c];
            if (taken[c] >= size) {
                continue;
            }
            double gap = (double)(i + 1) * (double)size / (double)n - (double)taken[c];
            if (gap > best_gap) {
                best_gap = gap;
                best = c;
            }
        }
        order[i] = grouped[gb[best] + taken[best]++];
    }
    free(grouped);
    free(gb);
    free(taken);
    return 0;
}

/* Label-skewed plans: each shard's rows are contiguous in the order, and
 * each shard is cut into its own blocks. */
static int s_skewed(const ch_table *t, ch_part_scheme scheme, size_t n_shards, double alpha,
                    ch_rng *r, ch_plan *p, ch_err *err)
{
    size_t n = t->n_rows;
    size_t k = s_plan_classes(t);
    size_t *grouped = ch_alloc_array(n, sizeof(size_t));
    size_t *gb = ch_alloc_array(k + 2, sizeof(size_t));
    size_t *owner = ch_alloc_array(n, sizeof(size_t));
    size_t *count = ch_calloc_array(n_shards + 1, sizeof(size_t));
    double *prop = ch_alloc_array(n_shards, sizeof(double));
    int rc = 0;
    if (!grouped || !gb || !owner || !count || !prop) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory planning %zu rows", n);
        goto done;
    }
    s_groups(t, k, r, grouped, gb);
    if (scheme == CH_PART_SHARDS) {
        /* sort by label, cut into 2 * n_shards pieces, deal two random pieces
         * to each shard (McMahan et al., 2017) */
        size_t pieces = 2 * n_shards;
        size_t *deal = ch_alloc_array(pieces, sizeof(size_t));
        if (!deal) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < pieces; i++) {
            deal[i] = i;
        }
        ch_rng_shuffle(r, deal, pieces);
        for (size_t i = 0; i < pieces; i++) {
            size_t lo = deal[i] * n / pieces, hi = (deal[i] + 1) * n / pieces;
            for (size_t j = lo; j < hi; j++) {
                owner[grouped[j]] = i / 2;
            }
        }
        free(deal);
    } else {
        /* per class, proportions ~ Dirichlet(alpha) over shards */
        for (size_t c = 0; c <= k; c++) {
            size_t size = gb[c + 1] - gb[c];
            double sum = 0;
            for (size_t s = 0; s < n_shards; s++) {
                prop[s] = ch_rng_gamma(r, alpha);
                sum += prop[s];
            }
            double acc = 0;
            size_t start = 0;
            for (size_t s = 0; s < n_shards; s++) {
                acc += prop[s] / sum;
                size_t end = s + 1 == n_shards ? size : (size_t)floor(acc * (double)size + 0.5);
                if (end < start) {
                    end = start;
                }
                for (size_t j = start; j < end && j < size; j++) {
                    owner[grouped[gb[c] + j]] = s;
                }
                start = end;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        count[owner[i] + 1]++;
    }
    for (size_t s = 0; s < n_shards; s++) {
        if (count[s + 1] == 0) {
            rc = ch_err_set(err, CH_EINVAL,
                            "partition %s gave worker %zu no rows (%zu rows, %zu workers%s); "
                            "use fewer workers%s",
                            ch_part_scheme_names[scheme], s, n, n_shards,
                            scheme == CH_PART_DIRICHLET ? ", small alpha" : "",
                            scheme == CH_PART_DIRICHLET ? " or a larger partition.alpha" : "");
            goto done;
        }
    }
    for (size_t s = 0; s < n_shards; s++) {
        count[s + 1] += count[s];
    }
    size_t per_shard = CH_PLAN_MAX_BLOCKS / n_shards;
    if (per_shard == 0) {
        per_shard = 1;
    }
    size_t n_blocks = 0;
    for (size_t s = 0; s < n_shards; s++) {
        size_t rows = count[s + 1] - count[s];
        n_blocks += rows < per_shard ? rows : per_shard;
    }
    rc = s_plan_alloc(p, n, n_blocks, n_shards);
    if (rc) {
        ch_err_set(err, rc, "out of memory");
        goto done;
    }
    size_t *fill = ch_alloc_array(n_shards, sizeof(size_t));
    if (!fill) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(fill, count, n_shards * sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        p->rows[fill[owner[i]]++] = i; /* ascending row order within a shard */
    }
    free(fill);
    size_t b = 0;
    for (size_t s = 0; s < n_shards; s++) {
        size_t rows = count[s + 1] - count[s];
        size_t nb = rows < per_shard ? rows : per_shard;
        p->shard_block[s] = b;
        for (size_t j = 0; j < nb; j++) {
            p->block_begin[b++] = count[s] + j * rows / nb;
        }
    }
    p->shard_block[n_shards] = b;
    p->block_begin[b] = n;
done:
    free(grouped);
    free(gb);
    free(owner);
    free(count);
    free(prop);
    return rc;
}

int ch_plan_make(const ch_table *t, ch_part_scheme scheme, size_t n_shards, double alpha,
                 uint64_t seed, ch_plan *out, ch_err *err)
{
    memset(out, 0, sizeof *out);
    size_t n = t->n_rows;
    if (n_shards == 0) {
        return ch_err_set(err, CH_EINVAL, "need at least one worker");
    }
    if (n_shards > n) {
        return ch_err_set(err, CH_EINVAL,
                          "more workers (%zu) than training rows (%zu): use at most %zu workers",
                          n_shards, n, n);
    }
    if (n_shards > CH_PLAN_MAX_BLOCKS) {
        return ch_err_set(err, CH_EINVAL, "at most %d workers can share one data set, got %zu",
                          CH_PLAN_MAX_BLOCKS, n_shards);
    }
    bool need_classes = scheme == CH_PART_STRATIFIED || scheme == CH_PART_DIRICHLET ||
                        scheme == CH_PART_SHARDS;
    if (need_classes && s_plan_classes(t) == 0) {
        return ch_err_set(err, CH_EINVAL,
                          "partition.scheme %s needs a class target (data.target: categorical, "
                          "or integer class codes 0..1023); use iid",
                          ch_part_scheme_names[scheme]);
    }
    if (scheme == CH_PART_BY_FILE) {
        return ch_err_set(err, CH_EINTERNAL, "by-file has no coordinator plan");
    }
    ch_rng r;
    ch_rng_init(&r, seed, ch_rng_stream(CH_STREAM_PARTITION, 0));
    out->scheme = scheme;
    if (scheme == CH_PART_DIRICHLET || scheme == CH_PART_SHARDS) {
        if (scheme == CH_PART_DIRICHLET && !(alpha > 0)) {
            return ch_err_set(err, CH_EINVAL, "partition.alpha must be > 0, got %g", alpha);
        }
        int rc = s_skewed(t, scheme, n_shards, alpha, &r, out, err);
        out->scheme = scheme;
        return rc;
    }
    size_t n_blocks = n < CH_PLAN_MAX_BLOCKS ? n : CH_PLAN_MAX_BLOCKS;
    if (s_plan_alloc(out, n, n_blocks, n_shards) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory planning %zu rows", n);
    }
    out->scheme = scheme;
    if (scheme == CH_PART_STRATIFIED) {
        if (s_stratified_order(t, &r, out->rows) != 0) {
            ch_plan_free(out);
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            out->rows[i] = i;
        }
        ch_rng_shuffle(&r, out->rows, n);
    }
    s_even_blocks(out);
    return 0;
}

int ch_plan_single(size_t n_rows, ch_plan *out)
{
    memset(out, 0, sizeof *out);
    if (n_rows == 0) {
        return CH_EINVAL;
    }
    size_t n_blocks = n_rows < CH_PLAN_MAX_BLOCKS ? n_rows : CH_PLAN_MAX_BLOCKS;
    if (s_plan_alloc(out, n_rows, n_blocks, 1) != 0) {
        return CH_ENOMEM;
    }
    out->scheme = CH_PART_BY_FILE;
    for (size_t i = 0; i < n_rows; i++) {
        out->rows[i] = i;
    }
    s_even_blocks(out);
    return 0;
}

int ch_plan_make_or_empty(const ch_table *t, ch_part_scheme scheme, size_t n_shards, double alpha,
                          uint64_t seed, ch_plan *out, ch_err *err)
{
    if (t->n_rows > 0) {
        return ch_plan_make(t, scheme, n_shards, alpha, seed, out, err);
    }
    memset(out, 0, sizeof *out);
    if (n_shards == 0 || n_shards > CH_PLAN_MAX_BLOCKS) {
        return ch_err_set(err, CH_EINVAL, "need 1 to %d workers, got %zu", CH_PLAN_MAX_BLOCKS,
                          n_shards);
    }
    if (s_plan_alloc(out, 0, n_shards, n_shards) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    out->scheme = scheme;
    for (size_t b = 0; b <= n_shards; b++) {
        out->block_begin[b] = 0;
        out->shard_block[b] = b;
    }
    return 0;
}
