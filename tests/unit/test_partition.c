/* test_partition.c: the train/test split and the shard plans. The core
 * property: for iid and stratified, the plan order and the block boundaries
 * do not depend on the number of shards, and every shard is a whole range
 * of blocks, so a block-tree reduction gives the same bytes for any number
 * of workers. */
#include "common/partition.h"
#include "tests/check.h"

#include <stdbool.h>

static char **s_level_names(size_t k)
{
    char **l = malloc(k * sizeof *l);
    for (size_t c = 0; c < k; c++) {
        char name[32];
        snprintf(name, sizeof name, "c%02zu", c);
        l[c] = strdup(name);
    }
    return l;
}

/* A table of n rows: a numeric feature x = row index and a categorical
 * target whose class of row i is cls[i] (k levels). */
static ch_table *s_class_table(size_t n, size_t k, const size_t *cls)
{
    ch_table *t = ch_table_new(n);
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)i;
        y[i] = (double)cls[i];
    }
    ch_err err = {0};
    int rc = ch_table_add_column(t, "x", CH_COL_NUMERIC, x, NULL, 0);
    rc |= ch_table_add_column(t, "y", CH_COL_CATEGORICAL, y, s_level_names(k), k);
    rc |= ch_table_set_target(t, "y", NULL, &err);
    CHECK(rc == 0);
    return t;
}

/* n rows, classes in blocks: rows [0, n/k) class 0, and so on. */
static ch_table *s_sorted_classes(size_t n, size_t k)
{
    size_t *cls = malloc(n * sizeof *cls);
    for (size_t i = 0; i < n; i++) {
        cls[i] = i * k / n;
    }
    ch_table *t = s_class_table(n, k, cls);
    free(cls);
    return t;
}

/* n rows with a numeric target (regression): no classes. */
static ch_table *s_numeric_table(size_t n, bool set_target)
{
    ch_table *t = ch_table_new(n);
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)i;
        y[i] = 0.5 * (double)i;
    }
    ch_err err = {0};
    int rc = ch_table_add_column(t, "x", CH_COL_NUMERIC, x, NULL, 0);
    rc |= ch_table_add_column(t, "y", CH_COL_NUMERIC, y, NULL, 0);
    if (set_target) {
        rc |= ch_table_set_target(t, "y", NULL, &err);
    }
    CHECK(rc == 0);
    return t;
}

static ch_table *s_iris(void)
{
    ch_err err = {0};
    ch_table *t = ch_table_read(ch_test_path("data/iris.csv"), CH_FORMAT_AUTO, &err);
    CHECK(t != NULL);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    CHECK(ch_table_set_target(t, "target", NULL, &err) == 0);
    return t;
}

static size_t s_class_of(const ch_table *t, size_t row)
{
    return (size_t)t->target.values[row];
}

/* Whether rows[0..m) holds each of 0..n-1 at most once and, when m == n,
 * every one of them. */
static bool s_is_permutation(const size_t *rows, size_t m, size_t n)
{
    unsigned char *seen = calloc(n ? n : 1, 1);
    bool ok = true;
    for (size_t i = 0; i < m && ok; i++) {
        ok = rows[i] < n && !seen[rows[i]];
        if (ok) {
            seen[rows[i]] = 1;
        }
    }
    for (size_t i = 0; i < n && ok && m == n; i++) {
        ok = seen[i];
    }
    free(seen);
    return ok;
}

/* The structural invariants of any plan over n rows. */
static void s_check_plan_shape(const ch_plan *p, size_t n, size_t shards)
{
    CHECK(p->n_rows == n);
    CHECK(p->n_shards == shards);
    CHECK(p->n_blocks >= shards && p->n_blocks <= CH_PLAN_MAX_BLOCKS);
    CHECK(s_is_permutation(p->rows, p->n_rows, n)); /* every row exactly once */
    CHECK(p->block_begin[0] == 0 && p->block_begin[p->n_blocks] == n);
    bool blocks_ok = true;
    for (size_t b = 0; b < p->n_blocks; b++) {
        blocks_ok &= p->block_begin[b] < p->block_begin[b + 1]; /* no empty block */
    }
    CHECK(blocks_ok);
    CHECK(p->shard_block[0] == 0 && p->shard_block[shards] == p->n_blocks);
    bool shards_ok = true;
    size_t total = 0;
    for (size_t s = 0; s < shards; s++) {
        shards_ok &= p->shard_block[s] < p->shard_block[s + 1]; /* at least one block */
        shards_ok &= ch_plan_shard_begin(p, s) == p->block_begin[p->shard_block[s]];
        shards_ok &= ch_plan_shard_end(p, s) == p->block_begin[p->shard_block[s + 1]];
        total += ch_plan_shard_end(p, s) - ch_plan_shard_begin(p, s);
        if (s > 0) {
            shards_ok &= ch_plan_shard_begin(p, s) == ch_plan_shard_end(p, s - 1);
        }
    }
    CHECK(shards_ok);
    CHECK(total == n);
}

static void test_split_stratified(void)
{
    ch_table *t = s_iris();
    if (!t) {
        return;
    }
    ch_err err = {0};
    ch_split s;
    CHECK(ch_split_make(t, 0.2, 7, &s, &err) == 0);
    CHECK(s.n_train == 120 && s.n_test == 30);
    /* train and test are disjoint, cover every row, ascending */
    size_t *all = malloc(150 * sizeof *all);
    memcpy(all, s.train, s.n_train * sizeof *all);
    memcpy(all + s.n_train, s.test, s.n_test * sizeof *all);
    CHECK(s_is_permutation(all, 150, 150));
    free(all);
    bool asc = true;
    for (size_t i = 1; i < s.n_train; i++) {
        asc &= s.train[i - 1] < s.train[i];
    }
    for (size_t i = 1; i < s.n_test; i++) {
        asc &= s.test[i - 1] < s.test[i];
    }
    CHECK(asc);
    /* stratified: iris has 50 of each class, so exactly 10 of each in test
     * and 40 in train */
    size_t test_count[3] = {0}, train_count[3] = {0};
    for (size_t i = 0; i < s.n_test; i++) {
        test_count[s_class_of(t, s.test[i])]++;
    }
    for (size_t i = 0; i < s.n_train; i++) {
        train_count[s_class_of(t, s.train[i])]++;
    }
    for (size_t c = 0; c < 3; c++) {
        CHECK(test_count[c] == 10);
        CHECK(train_count[c] == 40);
    }

    /* deterministic for a seed, different for another */
    ch_split s2, s3;
    CHECK(ch_split_make(t, 0.2, 7, &s2, &err) == 0);
    CHECK(s2.n_test == s.n_test && memcmp(s2.test, s.test, s.n_test * sizeof *s.test) == 0);
    CHECK(ch_split_make(t, 0.2, 8, &s3, &err) == 0);
    CHECK(s3.n_test == s.n_test && memcmp(s3.test, s.test, s.n_test * sizeof *s.test) != 0);
    ch_split_free(&s);
    ch_split_free(&s2);
    ch_split_free(&s3);

    /* unbalanced classes 70/20/10 of 200: test fraction 0.25 takes
     * round(0.25 * size) of each: 35, 10, 5 */
    size_t cls[200];
    for (size_t i = 0; i < 200; i++) {
        cls[i] = i % 10 < 7 ? 0 : (i % 10 < 9 ? 1 : 2);
    }
    ch_table *u = s_class_table(200, 3, cls);
    CHECK(ch_split_make(u, 0.25, 1, &s, &err) == 0);
    size_t tc[3] = {0};
    for (size_t i = 0; i < s.n_test; i++) {
        tc[s_class_of(u, s.test[i])]++;
    }
    CHECK(tc[0] == 35 && tc[1] == 10 && tc[2] == 5);
    CHECK(s.n_train == 150);
    ch_split_free(&s);
    ch_table_destroy(&u);
    ch_table_destroy(&t);
}

static void test_split_numeric_and_errors(void)
{
    ch_err err = {0};
    ch_table *t = s_numeric_table(101, true);
    ch_split s;
    CHECK(ch_split_make(t, 0.25, 3, &s, &err) == 0);
    CHECK(s.n_test == 25 && s.n_train == 76); /* round(25.25) */
    size_t all[101];
    memcpy(all, s.train, s.n_train * sizeof *all);
    memcpy(all + s.n_train, s.test, s.n_test * sizeof *all);
    CHECK(s_is_permutation(all, 101, 101));
    ch_split_free(&s);

    /* fraction 0: everything trains */
    CHECK(ch_split_make(t, 0.0, 3, &s, &err) == 0);
    CHECK(s.n_test == 0 && s.n_train == 101);
    ch_split_free(&s);

    /* fraction 1: nothing left to train on */
    CHECK(ch_split_make(t, 1.0, 3, &s, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "no training rows");
    CHECK(s.train == NULL && s.test == NULL);
    ch_table_destroy(&t);

    /* too few rows for a non-zero fraction to take any */
    t = s_numeric_table(3, true);
    CHECK(ch_split_make(t, 0.1, 3, &s, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "no test rows");
    ch_table_destroy(&t);
}

/* The core determinism property for one scheme over table t. */
static void s_check_shard_invariance(const ch_table *t, ch_part_scheme scheme, uint64_t seed)
{
    ch_err err = {0};
    ch_plan base;
    CHECK(ch_plan_make(t, scheme, 1, 0, seed, &base, &err) == 0);
    s_check_plan_shape(&base, t->n_rows, 1);
    size_t expect_blocks = t->n_rows < CH_PLAN_MAX_BLOCKS ? t->n_rows : CH_PLAN_MAX_BLOCKS;
    CHECK(base.n_blocks == expect_blocks);
    /* blocks are even: sizes differ by at most one row */
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t b = 0; b < base.n_blocks; b++) {
        size_t sz = base.block_begin[b + 1] - base.block_begin[b];
        lo = sz < lo ? sz : lo;
        hi = sz > hi ? sz : hi;
    }
    CHECK(hi - lo <= 1);

    const size_t shard_counts[] = {2, 3, 4, 7};
    for (size_t k = 0; k < 4; k++) {
        size_t ns = shard_counts[k];
        ch_plan p;
        CHECK(ch_plan_make(t, scheme, ns, 0, seed, &p, &err) == 0);
        s_check_plan_shape(&p, t->n_rows, ns);
        CHECK(p.scheme == scheme);
        /* IDENTICAL order and blocks whatever the number of shards */
        CHECK(p.n_blocks == base.n_blocks);
        CHECK(memcmp(p.rows, base.rows, base.n_rows * sizeof *p.rows) == 0);
        CHECK(memcmp(p.block_begin, base.block_begin,
                     (base.n_blocks + 1) * sizeof *p.block_begin) == 0);
        /* shards balanced to within one block */
        size_t smin = SIZE_MAX, smax = 0;
        for (size_t s = 0; s < ns; s++) {
            size_t nb = p.shard_block[s + 1] - p.shard_block[s];
            smin = nb < smin ? nb : smin;
            smax = nb > smax ? nb : smax;
        }
        CHECK(smax - smin <= 1);
        ch_plan_free(&p);
    }

    /* deterministic for a seed; another seed gives another order */
    ch_plan again, other;
    CHECK(ch_plan_make(t, scheme, 3, 0, seed, &again, &err) == 0);
    CHECK(memcmp(again.rows, base.rows, base.n_rows * sizeof *base.rows) == 0);
    CHECK(ch_plan_make(t, scheme, 3, 0, seed + 1, &other, &err) == 0);
    CHECK(memcmp(other.rows, base.rows, base.n_rows * sizeof *base.rows) != 0);
    ch_plan_free(&again);
    ch_plan_free(&other);
    ch_plan_free(&base);
}

static void test_plan_iid_stratified_invariance(void)
{
    ch_table *iris = s_iris();
    if (iris) {
        s_check_shard_invariance(iris, CH_PART_IID, 11);
        s_check_shard_invariance(iris, CH_PART_STRATIFIED, 11);
    }
    ch_table_destroy(&iris);

    /* more rows than blocks: 256 uneven blocks of 3 or 4 rows */
    size_t n = 1000;
    size_t *cls = malloc(n * sizeof *cls);
    for (size_t i = 0; i < n; i++) {
        cls[i] = (i * 7919) % 10 < 6 ? 0 : ((i * 7919) % 10 < 9 ? 1 : 2); /* 60/30/10 */
    }
    ch_table *t = s_class_table(n, 3, cls);
    free(cls);
    s_check_shard_invariance(t, CH_PART_IID, 5);
    s_check_shard_invariance(t, CH_PART_STRATIFIED, 5);
    ch_table_destroy(&t);

    /* iid on a regression table and on a table with no target at all */
    t = s_numeric_table(300, true);
    s_check_shard_invariance(t, CH_PART_IID, 6);
    ch_table_destroy(&t);
    t = s_numeric_table(9, false);
    s_check_shard_invariance(t, CH_PART_IID, 6);
    ch_table_destroy(&t);

    /* exactly as many shards as rows */
    t = s_numeric_table(7, true);
    ch_err err = {0};
    ch_plan p;
    CHECK(ch_plan_make(t, CH_PART_IID, 7, 0, 1, &p, &err) == 0);
    s_check_plan_shape(&p, 7, 7);
    ch_plan_free(&p);
    ch_table_destroy(&t);
}

static void test_plan_stratified_proportions(void)
{
    size_t n = 1000, k = 3;
    size_t *cls = malloc(n * sizeof *cls);
    for (size_t i = 0; i < n; i++) {
        cls[i] = (i * 7919) % 10 < 6 ? 0 : ((i * 7919) % 10 < 9 ? 1 : 2); /* 60/30/10 */
    }
    ch_table *t = s_class_table(n, k, cls);
    free(cls);
    ch_err err = {0};
    const size_t shard_counts[] = {2, 4, 7};
    for (size_t q = 0; q < 3; q++) {
        size_t ns = shard_counts[q];
        ch_plan p;
        CHECK(ch_plan_make(t, CH_PART_STRATIFIED, ns, 0, 21, &p, &err) == 0);
        double worst = 0;
        for (size_t s = 0; s < ns; s++) {
            size_t b = ch_plan_shard_begin(&p, s), e = ch_plan_shard_end(&p, s);
            size_t count[3] = {0};
            for (size_t r = b; r < e; r++) {
                count[s_class_of(t, p.rows[r])]++;
            }
            const double whole[3] = {0.6, 0.3, 0.1};
            for (size_t c = 0; c < k; c++) {
                double d = fabs((double)count[c] / (double)(e - b) - whole[c]);
                worst = d > worst ? d : worst;
            }
        }
        /* the interleaved order keeps every prefix within a row or two of
         * the class shares: with >= 140 rows a shard is within 2% */
        CHECK(worst < 0.02);
        ch_plan_free(&p);
    }
    /* iid, by contrast, is only proportional on average: nothing to check
     * beyond shape; stratified blocks of 3-4 rows each still hold the
     * majority class */
    ch_plan p;
    CHECK(ch_plan_make(t, CH_PART_STRATIFIED, 1, 0, 21, &p, &err) == 0);
    bool every_block_has_majority = true;
    for (size_t b = 0; b < p.n_blocks; b++) {
        bool has0 = false;
        for (size_t r = p.block_begin[b]; r < p.block_begin[b + 1]; r++) {
            has0 |= s_class_of(t, p.rows[r]) == 0;
        }
        every_block_has_majority &= has0;
    }
    CHECK(every_block_has_majority);
    ch_plan_free(&p);
    ch_table_destroy(&t);
}

/* Mean over shards of the total variation distance between the shard's
 * class distribution and the whole table's (uniform over k here). */
static double s_skew(const ch_table *t, const ch_plan *p, size_t k)
{
    double tv_sum = 0;
    size_t *count = calloc(k, sizeof *count);
    for (size_t s = 0; s < p->n_shards; s++) {
        memset(count, 0, k * sizeof *count);
        size_t b = ch_plan_shard_begin(p, s), e = ch_plan_shard_end(p, s);
        for (size_t r = b; r < e; r++) {
            count[s_class_of(t, p->rows[r])]++;
        }
        double tv = 0;
        for (size_t c = 0; c < k; c++) {
            tv += fabs((double)count[c] / (double)(e - b) - 1.0 / (double)k);
        }
        tv_sum += tv / 2;
    }
    free(count);
    return tv_sum / (double)p->n_shards;
}

static void test_plan_dirichlet(void)
{
    size_t n = 1000, k = 10, ns = 5;
    ch_table *t = s_sorted_classes(n, k);
    ch_err err = {0};
    ch_plan skewed, even;
    int rc = ch_plan_make(t, CH_PART_DIRICHLET, ns, 0.1, 3, &skewed, &err);
    CHECK(rc == 0);
    if (rc != 0) {
        fprintf(stderr, "dirichlet: %s\n", err.msg);
    }
    CHECK(ch_plan_make(t, CH_PART_DIRICHLET, ns, 1000.0, 3, &even, &err) == 0);
    s_check_plan_shape(&skewed, n, ns);
    s_check_plan_shape(&even, n, ns);
    CHECK(skewed.scheme == CH_PART_DIRICHLET);
    double sk = s_skew(t, &skewed, k), ev = s_skew(t, &even, k);
    /* alpha 0.1: most of a shard is a few classes; alpha 1000: each class
     * splits about 1/5 per shard (sd of a share ~0.006), so each shard is
     * within a few percent of uniform */
    CHECK(sk > 0.4);
    CHECK(ev < 0.05);
    /* rows within a shard are ascending and blocks stay inside shards */
    bool asc = true;
    for (size_t s = 0; s < ns; s++) {
        for (size_t r = ch_plan_shard_begin(&skewed, s) + 1; r < ch_plan_shard_end(&skewed, s);
             r++) {
            asc &= skewed.rows[r - 1] < skewed.rows[r];
        }
    }
    CHECK(asc);
    /* deterministic for a seed */
    ch_plan again;
    CHECK(ch_plan_make(t, CH_PART_DIRICHLET, ns, 0.1, 3, &again, &err) == 0);
    CHECK(again.n_blocks == skewed.n_blocks &&
          memcmp(again.rows, skewed.rows, n * sizeof *again.rows) == 0 &&
          memcmp(again.block_begin, skewed.block_begin,
                 (skewed.n_blocks + 1) * sizeof *again.block_begin) == 0);
    ch_plan_free(&again);
    ch_plan_free(&skewed);
    ch_plan_free(&even);

    /* alpha must be positive */
    CHECK(ch_plan_make(t, CH_PART_DIRICHLET, ns, 0.0, 3, &again, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "partition.alpha");
    CHECK(ch_plan_make(t, CH_PART_DIRICHLET, ns, NAN, 3, &again, &err) == CH_EINVAL);
    ch_table_destroy(&t);
}

static void test_plan_shards(void)
{
    /* 10 classes of 100 rows, 10 workers: 20 pieces of 50 rows, each
     * inside one class, two per worker */
    size_t n = 1000, k = 10, ns = 10;
    ch_table *t = s_sorted_classes(n, k);
    ch_err err = {0};
    ch_plan p;
    CHECK(ch_plan_make(t, CH_PART_SHARDS, ns, 0, 4, &p, &err) == 0);
    s_check_plan_shape(&p, n, ns);
    bool at_most_two = true;
    for (size_t s = 0; s < ns; s++) {
        bool seen[10] = {false};
        size_t labels = 0;
        for (size_t r = ch_plan_shard_begin(&p, s); r < ch_plan_shard_end(&p, s); r++) {
            size_t c = s_class_of(t, p.rows[r]);
            labels += !seen[c];
            seen[c] = true;
        }
        at_most_two &= labels >= 1 && labels <= 2;
        at_most_two &= ch_plan_shard_end(&p, s) - ch_plan_shard_begin(&p, s) == 100;
    }
    CHECK(at_most_two);
    ch_plan_free(&p);

    /* iris, 3 workers: 6 pieces of 25 rows, so still at most 2 labels */
    ch_table_destroy(&t);
    t = s_iris();
    if (t) {
        CHECK(ch_plan_make(t, CH_PART_SHARDS, 3, 0, 4, &p, &err) == 0);
        s_check_plan_shape(&p, 150, 3);
        for (size_t s = 0; s < 3; s++) {
            bool seen[3] = {false};
            size_t labels = 0;
            for (size_t r = ch_plan_shard_begin(&p, s); r < ch_plan_shard_end(&p, s); r++) {
                size_t c = s_class_of(t, p.rows[r]);
                labels += !seen[c];
                seen[c] = true;
            }
            CHECK(labels <= 2);
        }
        ch_plan_free(&p);
    }
    ch_table_destroy(&t);
}

static void test_plan_errors(void)
{
    ch_err err = {0};
    ch_plan p;
    ch_table *t = s_sorted_classes(5, 2);
    CHECK(ch_plan_make(t, CH_PART_IID, 6, 0, 1, &p, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "more workers (6) than training rows (5)");
    CHECK(p.rows == NULL);
    CHECK(ch_plan_make(t, CH_PART_STRATIFIED, 6, 0, 1, &p, &err) == CH_EINVAL);
    CHECK(ch_plan_make(t, CH_PART_IID, 0, 0, 1, &p, &err) == CH_EINVAL);
    ch_table_destroy(&t);

    /* stratified, dirichlet and shards need class labels: a categorical
     * target, or integer codes (IDX labels); a real-valued target is refused */
    const ch_part_scheme need[] = {CH_PART_STRATIFIED, CH_PART_DIRICHLET, CH_PART_SHARDS};
    for (size_t q = 0; q < 3; q++) {
        t = s_numeric_table(50, true);
        CHECK(ch_plan_make(t, need[q], 2, 1.0, 1, &p, &err) == CH_EINVAL);
        CHECK_HAS(err.msg, "needs a class target");
        CHECK_HAS(err.msg, ch_part_scheme_names[need[q]]);
        ch_table_destroy(&t);
        t = s_numeric_table(50, false);
        CHECK(ch_plan_make(t, need[q], 2, 1.0, 1, &p, &err) == CH_EINVAL);
        CHECK_HAS(err.msg, "needs a class target");
        ch_table_destroy(&t);
        /* integer class codes 0, 1, 2 in a numeric column are classes */
        t = s_numeric_table(60, true);
        for (size_t i = 0; i < 60; i++) {
            t->target.values[i] = (double)(i % 3);
        }
        CHECK(ch_plan_make(t, need[q], 2, 1.0, 1, &p, &err) == 0);
        if (need[q] == CH_PART_STRATIFIED && p.rows) {
            /* each shard holds 10 of each code */
            size_t count[3] = {0, 0, 0};
            for (size_t r = ch_plan_shard_begin(&p, 0); r < ch_plan_shard_end(&p, 0); r++) {
                count[(size_t)t->target.values[p.rows[r]]]++;
            }
            CHECK(count[0] == 10 && count[1] == 10 && count[2] == 10);
        }
        ch_plan_free(&p);
        ch_table_destroy(&t);
    }

    /* more shards than the plan has blocks */
    t = s_numeric_table(1000, true);
    CHECK(ch_plan_make(t, CH_PART_IID, CH_PLAN_MAX_BLOCKS + 1, 0, 1, &p, &err) == CH_EINVAL);
    CHECK(ch_plan_make(t, CH_PART_IID, CH_PLAN_MAX_BLOCKS, 0, 1, &p, &err) == 0);
    s_check_plan_shape(&p, 1000, CH_PLAN_MAX_BLOCKS);
    ch_plan_free(&p);
    ch_table_destroy(&t);

    /* the single-shard plan of a by-file silo */
    CHECK(ch_plan_single(0, &p) == CH_EINVAL);
    CHECK(ch_plan_single(300, &p) == 0);
    s_check_plan_shape(&p, 300, 1);
    bool identity = true;
    for (size_t i = 0; i < 300; i++) {
        identity &= p.rows[i] == i;
    }
    CHECK(identity);
    ch_plan_free(&p);
    ch_plan_free(&p); /* freeing twice is harmless */
}

int main(void)
{
    test_split_stratified();
    test_split_numeric_and_errors();
    test_plan_iid_stratified_invariance();
    test_plan_stratified_proportions();
    test_plan_dirichlet();
    test_plan_shards();
    test_plan_errors();
    CH_TEST_END();
}
