/* forest.c: growing and walking isolation trees (rules in forest.h). */
#include "algorithms/isolation_forest/forest.h"

#include "common/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EULER_GAMMA 0.57721566490153286061

/* Largest sample drawn by Floyd's algorithm with a linear membership scan;
 * larger samples use a partial Fisher-Yates shuffle of the candidates. */
#define FLOYD_MAX 1024

typedef struct s_grow {
    const ch_table *t;
    const ch_iforest_params *p;
    ch_rng rng;
    size_t psi;
    size_t k;      /* columns of this tree */
    size_t *cols;  /* k table columns, ascending */
    size_t *order; /* k positions, shuffled per node */
    size_t *num;   /* positions of the numeric columns */
    size_t n_num;
    size_t *pick;  /* scratch for hyperplane columns */
    double *x;     /* k x psi sample values, column-major */
    size_t *perm;  /* psi sample positions, partitioned per node */
    double *dot;   /* psi hyperplane projections */
    uint8_t *seen; /* levels present in a node */
    size_t max_levels;
    size_t max_depth;
    size_t cap, hp_cap;
    ch_itree *tr;
} s_grow;

double ch_iforest_c(double n)
{
    if (n <= 1) {
        return 0;
    }
    if (n <= 2) {
        return 1;
    }
    return 2.0 * (log(n - 1.0) + EULER_GAMMA) - 2.0 * (n - 1.0) / n;
}

size_t ch_iforest_max_depth(size_t psi)
{
    size_t d = 0;
    while (d < 63 && ((size_t)1 << d) < psi) {
        d++;
    }
    return d;
}

void ch_itree_free(ch_itree *tr)
{
    if (!tr) {
        return;
    }
    free(tr->feature);
    free(tr->value);
    free(tr->left);
    free(tr->flags);
    free(tr->hp_begin);
    free(tr->hp_end);
    free(tr->hp_feature);
    free(tr->hp_weight);
    free(tr->reference);
    memset(tr, 0, sizeof *tr);
}

static int s_size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static int s_double_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Positions 0..n-1 of psi sampled rows into out (ascending unless bootstrap). */
static int s_sample(ch_rng *r, size_t n, size_t psi, bool bootstrap, size_t *out)
{
    if (bootstrap) {
        for (size_t i = 0; i < psi; i++) {
            out[i] = (size_t)ch_rng_below(r, n);
        }
    } else if (psi <= FLOYD_MAX) {
        size_t m = 0;
        for (size_t j = n - psi; j < n; j++) {
            size_t v = (size_t)ch_rng_below(r, (uint64_t)j + 1);
            for (size_t q = 0; q < m; q++) {
                if (out[q] == v) {
                    v = j;
                    break;
                }
            }
            out[m++] = v;
        }
    } else {
        size_t *all = ch_alloc_array(n, sizeof *all);
        if (!all) {
            return CH_ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            all[i] = i;
        }
        for (size_t i = 0; i < psi; i++) {
            size_t j = i + (size_t)ch_rng_below(r, n - i);
            size_t tmp = all[i];
            all[i] = all[j];
            all[j] = tmp;
            out[i] = all[i];
        }
        free(all);
    }
    qsort(out, psi, sizeof *out, s_size_cmp);
    return 0;
}

/* Appends two nodes; returns the first index or -1 on allocation failure. */
static long s_alloc2(s_grow *g)
{
    ch_itree *tr = g->tr;
    if (tr->n_nodes + 2 > g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        int32_t *f = realloc(tr->feature, cap * sizeof *f);
        if (f) {
            tr->feature = f;
        }
        double *v = realloc(tr->value, cap * sizeof *v);
        if (v) {
            tr->value = v;
        }
        uint32_t *l = realloc(tr->left, cap * sizeof *l);
        if (l) {
            tr->left = l;
        }
        uint32_t *fl = realloc(tr->flags, cap * sizeof *fl);
        if (fl) {
            tr->flags = fl;
        }
        uint32_t *hb = tr->hp_begin, *he = tr->hp_end;
        if (g->p->extension_level > 0) {
            hb = realloc(tr->hp_begin, cap * sizeof *hb);
            if (hb) {
                tr->hp_begin = hb;
            }
            he = realloc(tr->hp_end, cap * sizeof *he);
            if (he) {
                tr->hp_end = he;
            }
        }
        if (!f || !v || !l || !fl || (g->p->extension_level > 0 && (!hb || !he))) {
            return -1;
        }
        g->cap = cap;
    }
    size_t first = tr->n_nodes;
    tr->n_nodes += 2;
    return (long)first;
}

static int s_hp_push(s_grow *g, uint32_t col, double w)
{
    ch_itree *tr = g->tr;
    if (tr->n_hp + 1 > g->hp_cap) {
        size_t cap = g->hp_cap ? g->hp_cap * 2 : 64;
        uint32_t *f = realloc(tr->hp_feature, cap * sizeof *f);
        if (f) {
            tr->hp_feature = f;
        }
        double *wt = realloc(tr->hp_weight, cap * sizeof *wt);
        if (wt) {
            tr->hp_weight = wt;
        }
        if (!f || !wt) {
            return CH_ENOMEM;
        }
        g->hp_cap = cap;
    }
    tr->hp_feature[tr->n_hp] = col;
    tr->hp_weight[tr->n_hp] = w;
    tr->n_hp++;
    return 0;
}

/* min and max of column position c over perm[lo..hi), NaN skipped; false
 * when there are fewer than two distinct values. */
static bool s_range(const s_grow *g, size_t c, size_t lo, size_t hi, double *mn, double *mx)
{
    const double *x = g->x + c * g->psi;
    double a = INFINITY, b = -INFINITY;
    for (size_t r = lo; r < hi; r++) {
        double v = x[g->perm[r]];
        if (v < a) {
            a = v;
        }
        if (v > b) {
            b = v;
        }
    }
    *mn = a;
    *mx = b;
    return b > a;
}

/* Number of levels of categorical column position c present in the node;
 * marks them in g->seen. */
static size_t s_levels(s_grow *g, size_t c, size_t lo, size_t hi)
{
    const double *x = g->x + c * g->psi;
    size_t nl = g->t->cols[g->cols[c]].n_levels;
    memset(g->seen, 0, nl ? nl : 1);
    size_t present = 0;
    for (size_t r = lo; r < hi; r++) {
        double v = x[g->perm[r]];
        if (v >= 0 && v < (double)nl && !g->seen[(size_t)v]) {
            g->seen[(size_t)v] = 1;
            present++;
        }
    }
    return present;
}

/* Moves the rows that go left to the front of perm[lo..hi); returns the
 * split point. goes_left[r] is decided from the value v of sample position r. */
static size_t s_partition(s_grow *g, size_t lo, size_t hi, const double *vals, bool cat,
                          double value, bool missing_left)
{
    size_t m = lo;
    for (size_t r = lo; r < hi; r++) {
        double v = vals[g->perm[r]];
        bool left = isnan(v) ? missing_left : (cat ? v == value : v <= value);
        if (left) {
            size_t tmp = g->perm[m];
            g->perm[m] = g->perm[r];
            g->perm[r] = tmp;
            m++;
        }
    }
    return m;
}

static int s_node(s_grow *g, size_t node, size_t lo, size_t hi, size_t depth)
{
    ch_itree *tr = g->tr;
    tr->left[node] = 0;
    tr->flags[node] = 0;
    if (tr->hp_begin) {
        tr->hp_begin[node] = (uint32_t)tr->n_hp;
        tr->hp_end[node] = (uint32_t)tr->n_hp;
    }
    size_t n = hi - lo;
    if (n <= 1 || depth >= g->max_depth) {
        tr->feature[node] = CH_IT_LEAF;
        tr->value[node] = (double)depth + ch_iforest_c((double)n);
        return 0;
    }
    /* draw columns in random order until one can split this node */
    long chosen = -1;
    double mn = 0, mx = 0;
    size_t n_present = 0;
    for (size_t i = 0; i < g->k && chosen < 0; i++) {
        size_t j = i + (size_t)ch_rng_below(&g->rng, g->k - i);
        size_t tmp = g->order[i];
        g->order[i] = g->order[j];
        g->order[j] = tmp;
        size_t c = g->order[i];
        if (g->t->cols[g->cols[c]].kind == CH_COL_CATEGORICAL) {
            n_present = s_levels(g, c, lo, hi);
            if (n_present >= 2) {
                chosen = (long)c;
            }
        } else if (s_range(g, c, lo, hi, &mn, &mx)) {
            chosen = (long)c;
        }
    }
    if (chosen < 0) {
        tr->feature[node] = CH_IT_LEAF;
        tr->value[node] = (double)depth + ch_iforest_c((double)n);
        return 0;
    }
    size_t c = (size_t)chosen;
    const ch_column *col = &g->t->cols[g->cols[c]];
    size_t mid;
    if (col->kind == CH_COL_CATEGORICAL) {
        size_t want = (size_t)ch_rng_below(&g->rng, n_present), level = 0;
        for (size_t l = 0; l < col->n_levels; l++) {
            if (g->seen[l] && want-- == 0) {
                level = l;
                break;
            }
        }
        bool ml = ch_rng_below(&g->rng, 2) == 0;
        tr->feature[node] = (int32_t)g->cols[c];
        tr->value[node] = (double)level;
        tr->flags[node] = CH_IT_CATEGORICAL | (ml ? CH_IT_MISSING_LEFT : 0);
        mid = s_partition(g, lo, hi, g->x + c * g->psi, true, (double)level, ml);
    } else if (g->p->extension_level == 0) {
        double thr = mn + (mx - mn) * ch_rng_uniform(&g->rng);
        if (thr >= mx) {
            thr = mn;
        }
        bool ml = ch_rng_below(&g->rng, 2) == 0;
        tr->feature[node] = (int32_t)g->cols[c];
        tr->value[node] = thr;
        tr->flags[node] = ml ? CH_IT_MISSING_LEFT : 0;
        mid = s_partition(g, lo, hi, g->x + c * g->psi, false, thr, ml);
    } else {
        /* hyperplane through a uniform point of the node's bounding box with
         * a normal of N(0, 1) weights on the lead column and
         * extension_level other numeric columns */
        size_t m = 0;
        for (size_t q = 0; q < g->n_num; q++) {
            if (g->num[q] != c) {
                g->pick[m++] = g->num[q];
            }
        }
        size_t extra = g->p->extension_level < m ? g->p->extension_level : m;
        for (size_t q = 0; q < extra; q++) {
            size_t j = q + (size_t)ch_rng_below(&g->rng, m - q);
            size_t tmp = g->pick[q];
            g->pick[q] = g->pick[j];
            g->pick[j] = tmp;
        }
        g->pick[extra] = c;
        for (size_t r = lo; r < hi; r++) {
            g->dot[g->perm[r]] = 0;
        }
        double thr = 0;
        for (size_t q = 0; q <= extra; q++) {
            size_t pc = g->pick[q];
            double a, b;
            s_range(g, pc, lo, hi, &a, &b);
            double w = ch_rng_normal(&g->rng);
            double u = ch_rng_uniform(&g->rng);
            if (!(b >= a)) {
                continue; /* every value missing here */
            }
            thr += w * (a + (b - a) * u);
            if (s_hp_push(g, (uint32_t)g->cols[pc], w) != 0) {
                return CH_ENOMEM;
            }
            const double *x = g->x + pc * g->psi;
            for (size_t r = lo; r < hi; r++) {
                g->dot[g->perm[r]] += w * x[g->perm[r]];
            }
        }
        bool ml = ch_rng_below(&g->rng, 2) == 0;
        tr->feature[node] = CH_IT_HYPER;
        tr->value[node] = thr;
        tr->flags[node] = ml ? CH_IT_MISSING_LEFT : 0;
        tr->hp_end[node] = (uint32_t)tr->n_hp;
        mid = s_partition(g, lo, hi, g->dot, false, thr, ml);
    }
    long first = s_alloc2(g);
    if (first < 0) {
        return CH_ENOMEM;
    }
    tr->left[node] = (uint32_t)first;
    /* the hyperplane offsets of later nodes start where this node's end */
    int rc = s_node(g, (size_t)first, lo, mid, depth + 1);
    if (rc == 0) {
        rc = s_node(g, (size_t)first + 1, mid, hi, depth + 1);
    }
    return rc;
}

/* Per column: the median of the sample's values (numeric) or its most
 * common level (categorical); NaN when every value is missing. */
static int s_reference(const ch_table *t, const size_t *rows, const size_t *pos, size_t psi,
                       double *ref)
{
    double *v = malloc(psi * sizeof *v);
    if (!v) {
        return CH_ENOMEM;
    }
    for (size_t c = 0; c < t->n_cols; c++) {
        const ch_column *col = &t->cols[c];
        size_t m = 0;
        for (size_t i = 0; i < psi; i++) {
            size_t row = rows ? rows[pos[i]] : pos[i];
            double x = col->values[row];
            if (!isnan(x)) {
                v[m++] = x;
            }
        }
        if (m == 0) {
            ref[c] = NAN;
            continue;
        }
        qsort(v, m, sizeof *v, s_double_cmp);
        if (col->kind == CH_COL_CATEGORICAL) {
            double best = v[0];
            size_t best_n = 0;
            for (size_t i = 0; i < m;) {
                size_t j = i;
                while (j < m && v[j] == v[i]) {
                    j++;
                }
                if (j - i > best_n) {
                    best_n = j - i;
                    best = v[i];
                }
                i = j;
            }
            ref[c] = best;
        } else {
            ref[c] = m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
        }
    }
    free(v);
    return 0;
}

int ch_itree_grow(const ch_table *t, const size_t *rows, size_t n, const ch_iforest_params *p,
                  uint32_t index, ch_itree *out, ch_err *err)
{
    memset(out, 0, sizeof *out);
    if (n < 2) {
        return ch_err_set(err, CH_EINVAL,
                          "an isolation tree needs at least 2 rows, and %zu are "
                          "available",
                          n);
    }
    if (p->psi < 2 || (!p->bootstrap && p->psi > n)) {
        return ch_err_set(err, CH_EINVAL,
                          "max_samples %zu is out of range: between 2 and the %zu rows available",
                          p->psi, n);
    }
    if (t->n_cols == 0 || p->max_features < 1 || p->max_features > t->n_cols) {
        return ch_err_set(err, CH_EINVAL, "max_features %zu is out of range [1, %zu]",
                          p->max_features, t->n_cols);
    }
    s_grow g;
    memset(&g, 0, sizeof g);
    g.t = t;
    g.p = p;
    g.psi = p->psi;
    g.k = p->max_features;
    g.tr = out;
    g.max_depth = ch_iforest_max_depth(p->psi);
    ch_rng_init(&g.rng, p->seed, ch_rng_stream(CH_STREAM_TREE, index));
    out->index = index;
    out->n_samples = (uint32_t)p->psi;
    int rc = CH_ENOMEM;
    size_t *pos = ch_alloc_array(p->psi, sizeof *pos);
    size_t *all = ch_alloc_array(t->n_cols, sizeof *all);
    g.cols = ch_alloc_array(g.k, sizeof *g.cols);
    g.order = ch_alloc_array(g.k, sizeof *g.order);
    g.num = ch_alloc_array(g.k, sizeof *g.num);
    g.pick = ch_alloc_array(g.k + 1, sizeof *g.pick);
    g.perm = ch_alloc_array(g.psi, sizeof *g.perm);
    g.dot = ch_alloc_array(g.psi, sizeof *g.dot);
    size_t xn;
    g.x = ch_mul_size(g.k, g.psi, &xn) == 0 ? ch_alloc_array(xn, sizeof *g.x) : NULL;
    out->reference = ch_alloc_array(t->n_cols, sizeof *out->reference);
    for (size_t c = 0; c < t->n_cols; c++) {
        if (t->cols[c].kind == CH_COL_CATEGORICAL && t->cols[c].n_levels > g.max_levels) {
            g.max_levels = t->cols[c].n_levels;
        }
    }
    g.seen = malloc(g.max_levels ? g.max_levels : 1);
    if (!pos || !all || !g.cols || !g.order || !g.num || !g.pick || !g.perm || !g.dot || !g.x ||
        !out->reference || !g.seen) {
        goto done;
    }
    /* the tree's columns: all of them, or a random subset (ascending) */
    for (size_t c = 0; c < t->n_cols; c++) {
        all[c] = c;
    }
    if (g.k < t->n_cols) {
        for (size_t i = 0; i < g.k; i++) {
            size_t j = i + (size_t)ch_rng_below(&g.rng, t->n_cols - i);
            size_t tmp = all[i];
            all[i] = all[j];
            all[j] = tmp;
        }
        qsort(all, g.k, sizeof *all, s_size_cmp);
    }
    for (size_t i = 0; i < g.k; i++) {
        g.cols[i] = all[i];
        g.order[i] = i;
        if (t->cols[all[i]].kind == CH_COL_NUMERIC) {
            g.num[g.n_num++] = i;
        }
    }
    if ((rc = s_sample(&g.rng, n, g.psi, p->bootstrap, pos)) != 0) {
        goto done;
    }
    for (size_t i = 0; i < g.k; i++) {
        const double *src = t->cols[g.cols[i]].values;
        double *dst = g.x + i * g.psi;
        for (size_t r = 0; r < g.psi; r++) {
            dst[r] = src[rows ? rows[pos[r]] : pos[r]];
        }
    }
    for (size_t r = 0; r < g.psi; r++) {
        g.perm[r] = r;
    }
    if ((rc = s_reference(t, rows, pos, g.psi, out->reference)) != 0) {
        goto done;
    }
    rc = CH_ENOMEM;
    g.cap = 0;
    {
        /* the root: one node, then pairs of children */
        size_t cap = 64;
        out->feature = malloc(cap * sizeof *out->feature);
        out->value = malloc(cap * sizeof *out->value);
        out->left = malloc(cap * sizeof *out->left);
        out->flags = malloc(cap * sizeof *out->flags);
        if (p->extension_level > 0) {
            out->hp_begin = malloc(cap * sizeof *out->hp_begin);
            out->hp_end = malloc(cap * sizeof *out->hp_end);
        }
        if (!out->feature || !out->value || !out->left || !out->flags ||
            (p->extension_level > 0 && (!out->hp_begin || !out->hp_end))) {
            goto done;
        }
        g.cap = cap;
        out->n_nodes = 1;
    }
    rc = s_node(&g, 0, 0, g.psi, 0);
done:
    free(pos);
    free(all);
    free(g.cols);
    free(g.order);
    free(g.num);
    free(g.pick);
    free(g.perm);
    free(g.dot);
    free(g.x);
    free(g.seen);
    if (rc != 0) {
        ch_itree_free(out);
        return ch_err_set(err, rc, "out of memory growing isolation tree %u", index);
    }
    return 0;
}

int ch_itree_check(const ch_itree *tr, const ch_column *cols, size_t n_features, ch_err *err)
{
    if (tr->n_nodes == 0 || tr->n_samples < 2) {
        return ch_err_set(err, CH_EPROTO, "isolation tree %u is empty", tr->index);
    }
    for (size_t i = 0; i < tr->n_nodes; i++) {
        int32_t f = tr->feature[i];
        if (!isfinite(tr->value[i])) {
            return ch_err_set(err, CH_EPROTO, "isolation tree %u node %zu: value is not finite",
                              tr->index, i);
        }
        if (f == CH_IT_LEAF) {
            continue;
        }
        if (tr->left[i] <= i || (size_t)tr->left[i] + 1 >= tr->n_nodes) {
            return ch_err_set(err, CH_EPROTO, "isolation tree %u node %zu: child %u out of order",
                              tr->index, i, tr->left[i]);
        }
        if (f == CH_IT_HYPER) {
            if (!tr->hp_begin || !tr->hp_end || tr->hp_begin[i] > tr->hp_end[i] ||
                tr->hp_end[i] > tr->n_hp) {
                return ch_err_set(err, CH_EPROTO, "isolation tree %u node %zu: bad hyperplane",
                                  tr->index, i);
            }
            for (size_t q = tr->hp_begin[i]; q < tr->hp_end[i]; q++) {
                if (tr->hp_feature[q] >= n_features ||
                    cols[tr->hp_feature[q]].kind != CH_COL_NUMERIC || !isfinite(tr->hp_weight[q])) {
                    return ch_err_set(err, CH_EPROTO,
                                      "isolation tree %u node %zu: bad hyperplane term", tr->index,
                                      i);
                }
            }
        } else if (f < 0 || (size_t)f >= n_features) {
            return ch_err_set(err, CH_EPROTO, "isolation tree %u node %zu: feature %d of %zu",
                              tr->index, i, f, n_features);
        } else if ((tr->flags[i] & CH_IT_CATEGORICAL) && cols[f].kind != CH_COL_CATEGORICAL) {
            return ch_err_set(err, CH_EPROTO,
                              "isolation tree %u node %zu: level split on numeric column %d",
                              tr->index, i, f);
        }
    }
    return 0;
}

/* Whether row i of t takes the left branch at a split node. */
static inline bool s_goes_left(const ch_itree *tr, size_t node, const ch_table *t, size_t i)
{
    int32_t f = tr->feature[node];
    uint32_t fl = tr->flags[node];
    if (f >= 0) {
        double x = t->cols[f].values[i];
        if (isnan(x)) {
            return fl & CH_IT_MISSING_LEFT;
        }
        return (fl & CH_IT_CATEGORICAL) ? x == tr->value[node] : x <= tr->value[node];
    }
    double dot = 0;
    for (size_t q = tr->hp_begin[node]; q < tr->hp_end[node]; q++) {
        dot += tr->hp_weight[q] * t->cols[tr->hp_feature[q]].values[i];
    }
    if (isnan(dot)) {
        return fl & CH_IT_MISSING_LEFT;
    }
    return dot <= tr->value[node];
}

double ch_itree_path(const ch_itree *tr, const ch_table *t, size_t i)
{
    size_t node = 0;
    while (tr->feature[node] != CH_IT_LEAF) {
        node = tr->left[node] + (s_goes_left(tr, node, t, i) ? 0 : 1);
    }
    return tr->value[node];
}

double ch_iforest_score(const ch_itree *trees, size_t n_trees, const ch_table *t, size_t i)
{
    if (n_trees == 0) {
        return NAN;
    }
    double s = 0;
    for (size_t k = 0; k < n_trees; k++) {
        s += ch_itree_path(&trees[k], t, i) / ch_iforest_c((double)trees[k].n_samples);
    }
    return exp2(-s / (double)n_trees);
}

void ch_iforest_score_rows(const ch_itree *trees, size_t n_trees, const ch_table *t,
                           const size_t *rows, size_t n, double *out)
{
    enum { BLOCK = 256 };
    for (size_t b = 0; b < n; b += BLOCK) {
        size_t e = b + BLOCK < n ? b + BLOCK : n;
        for (size_t k = b; k < e; k++) {
            out[k] = 0;
        }
        /* tree by tree over a block of rows: the tree stays in cache; the
         * sum per row runs over the trees in order, as ch_iforest_score */
        for (size_t q = 0; q < n_trees; q++) {
            const ch_itree *tr = &trees[q];
            double cq = ch_iforest_c((double)tr->n_samples);
            for (size_t k = b; k < e; k++) {
                out[k] += ch_itree_path(tr, t, rows ? rows[k] : k) / cq;
            }
        }
        for (size_t k = b; k < e; k++) {
            out[k] = n_trees ? exp2(-out[k] / (double)n_trees) : NAN;
        }
    }
}

void ch_iforest_attribution(const ch_itree *trees, size_t n_trees, const ch_table *t, size_t i,
                            double *share, size_t n_cols)
{
    for (size_t c = 0; c < n_cols; c++) {
        share[c] = 0;
    }
    for (size_t k = 0; k < n_trees; k++) {
        const ch_itree *tr = &trees[k];
        double h = ch_itree_path(tr, t, i);
        double w = 1.0 / (h > 1 ? h : 1);
        size_t node = 0;
        while (tr->feature[node] != CH_IT_LEAF) {
            int32_t f = tr->feature[node];
            if (f >= 0) {
                if ((size_t)f < n_cols) {
                    share[f] += w;
                }
            } else {
                size_t a = tr->hp_begin[node], b = tr->hp_end[node];
                for (size_t q = a; q < b; q++) {
                    if (tr->hp_feature[q] < n_cols) {
                        share[tr->hp_feature[q]] += w / (double)(b - a);
                    }
                }
            }
            node = tr->left[node] + (s_goes_left(tr, node, t, i) ? 0 : 1);
        }
    }
    double tot = 0;
    for (size_t c = 0; c < n_cols; c++) {
        tot += share[c];
    }
    if (tot > 0) {
        for (size_t c = 0; c < n_cols; c++) {
            share[c] /= tot;
        }
    }
}
