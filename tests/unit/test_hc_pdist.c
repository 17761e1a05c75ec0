/* test_hc_pdist.c: distances computed in bands of rows (model.distances:
 * workers). ch_hc_pdist_rows over uneven bands gives ch_hc_pdist's matrix
 * bit for bit (memcmp), through the AVX2 tiles and the portable loop;
 * ch_hc_bands covers the rows with bands under their bound; and, driven in
 * process through the algorithm interface, the OP_PDIST rounds give the
 * model bytes of the coordinator's own matrix, while a band of the wrong
 * length, for another band, from a shard asked for none, or undecodable is
 * refused with an error naming the shard, and a bad task is refused by the
 * worker. */
#include "algorithms/algo.h"
#include "algorithms/hierarchical/linkage.h"
#include "common/config.h"
#include "common/partition.h"
#include "proto/hierarchical.pb-c.h"
#include "tests/check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t s_next(uint64_t *r)
{
    *r = *r * 6364136223846793005u + 1442695040888963407u;
    return *r >> 11;
}

/* n x d values: standard-normal-like sums with a few exact ties */
static double *s_data(size_t n, size_t d, uint64_t seed)
{
    double *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n * d; i++) {
        double v = 0;
        for (int k = 0; k < 4; k++) {
            v += (double)s_next(&seed) / 9007199254740992.0 - 0.5;
        }
        x[i] = (i % 7 == 0) ? (double)(s_next(&seed) % 3) : v;
    }
    return x;
}

/* ch_hc_pdist_rows over the bands cut at `cuts` (increasing, ending at n)
 * put side by side equals ch_hc_pdist. */
static void s_check_bands(size_t n, size_t d, const size_t *cuts, size_t n_cuts)
{
    size_t pairs = n * (n - 1) / 2;
    double *x = s_data(n, d, n * 31 + d);
    double *full = malloc((pairs ? pairs : 1) * sizeof *full);
    double *band = malloc((pairs ? pairs : 1) * sizeof *band);
    ch_hc_pdist(x, n, d, full);
    memset(band, 0xa5, (pairs ? pairs : 1) * sizeof *band);
    size_t lo = 0;
    for (size_t c = 0; c < n_cuts; c++) {
        size_t hi = cuts[c] < n ? cuts[c] : n;
        ch_hc_pdist_rows(x, n, d, lo, hi, band + ch_hc_row_start(n, lo));
        lo = hi > lo ? hi : lo;
    }
    ch_hc_pdist_rows(x, n, d, lo, n, band + ch_hc_row_start(n, lo));
    if (memcmp(full, band, pairs * sizeof *full) != 0) {
        fprintf(stderr, "bands differ from pdist at n = %zu, d = %zu\n", n, d);
        CHECK(0);
    } else {
        CHECK(1);
    }
    /* an empty band writes nothing */
    double guard = 7.0;
    ch_hc_pdist_rows(x, n, d, 3 < n ? 3 : n, 3 < n ? 3 : n, &guard);
    CHECK(guard == 7.0);
    free(x);
    free(full);
    free(band);
}

static void s_check_kernels(void)
{
    /* uneven bands that start and end inside and at the edges of the
     * 8-column tiles, a one-row band, the last rows */
    static const size_t cuts[] = {1, 2, 7, 8, 9, 16, 23, 50, 51, 121, 200, 201, 202};
    /* odd n and d; d = 515 is past the AVX2 tile's 512 (the portable loop) */
    static const size_t shapes[][2] = {{2, 1}, {9, 3}, {17, 5}, {203, 7}, {1001, 13}, {77, 515}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        size_t n = shapes[k][0], d = shapes[k][1], m = 0, c[16];
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            if (cuts[i] < n) {
                c[m++] = cuts[i];
            }
        }
        s_check_bands(n, d, c, m);
    }
    /* a band of the middle rows only, as a worker computes it */
    size_t n = 301, d = 11;
    double *x = s_data(n, d, 99);
    double *full = malloc(n * (n - 1) / 2 * sizeof *full);
    ch_hc_pdist(x, n, d, full);
    size_t lo = 97, hi = 164, at = ch_hc_row_start(n, lo), len = ch_hc_row_start(n, hi) - at;
    double *band = malloc(len * sizeof *band);
    ch_hc_pdist_rows(x, n, d, lo, hi, band);
    CHECK(memcmp(band, full + at, len * sizeof *band) == 0);
    free(x);
    free(full);
    free(band);
}

static void s_check_bands_plan(void)
{
    CHECK(ch_hc_row_start(10, 0) == 0);
    CHECK(ch_hc_row_start(10, 1) == 9);
    CHECK(ch_hc_row_start(10, 9) == 45);
    CHECK(ch_hc_row_start(10, 10) == 45);
    CHECK(ch_hc_row_start(10, 4) == ch_hc_condensed(10, 4, 5));
    static const size_t ns[] = {2, 3, 10, 178, 1797};
    static const size_t bs[] = {1, 2, 3, 7, 14, 64, 500};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++) {
        for (size_t b = 0; b < sizeof bs / sizeof bs[0]; b++) {
            size_t n = ns[a], nb = bs[b], total = n * (n - 1) / 2;
            size_t *begin = malloc((nb + 1) * sizeof *begin);
            ch_hc_bands(n, nb, begin);
            bool ok = begin[0] == 0 && begin[nb] == n;
            size_t bound = (total + nb - 1) / nb + n - 1, sum = 0;
            for (size_t k = 0; k < nb; k++) {
                size_t p = ch_hc_row_start(n, begin[k + 1]) - ch_hc_row_start(n, begin[k]);
                ok = ok && begin[k] <= begin[k + 1] && p < bound;
                sum += p;
            }
            CHECK(ok && sum == total);
            free(begin);
        }
    }
}

/* --- the OP_PDIST rounds through the algorithm interface ----------------- */

enum { S_N = 600, S_D = 3 };

typedef enum { S_GOOD, S_SHORT, S_OTHER_BAND, S_GARBAGE } s_corrupt;

/* Re-encodes a PDIST update with one defect. */
static void s_spoil(ch_buf *out, s_corrupt how)
{
    if (how == S_GARBAGE) {
        out->len = 0;
        ch_buf_append(out, "\xff\xff\xff", 3);
        return;
    }
    Cohort__Hierarchical__Update *u =
        cohort__hierarchical__update__unpack(NULL, out->len, out->data);
    if (!u) {
        return;
    }
    if (how == S_SHORT) {
        u->n_dist--;
    } else {
        u->band_begin++;
    }
    out->len = 0;
    size_t size = cohort__hierarchical__update__get_packed_size(u);
    ch_buf_reserve(out, size);
    cohort__hierarchical__update__pack(u, out->data);
    out->len = size;
    cohort__hierarchical__update__free_unpacked(u, NULL);
}

typedef struct s_run {
    int rc;
    ch_err err;
    ch_buf packed;   /* the model payload */
    uint32_t rounds; /* rounds run */
    bool pdist;      /* an OP_PDIST round ran */
} s_run;

/* Runs hierarchical on t with n_shards shards in process. corrupt: the
 * defect put into shard `victim`'s update of the first OP_PDIST round. */
static s_run s_fit(ch_table *t, const char *distances, size_t n_shards, s_corrupt corrupt,
                   uint32_t victim)
{
    s_run r;
    memset(&r, 0, sizeof r);
    ch_buf_init(&r.packed);
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "model: {algorithm: hierarchical, linkage: average, n_clusters: 4, distances: %s}\n"
             "runtime: {max_message_mb: 1}\n",
             distances);
    const ch_algo *a = ch_algo_find("hierarchical");
    ch_config *cfg = ch_config_parse(yaml, strlen(yaml), "test.yaml", &r.err);
    ch_schema *schema = ch_schema_from_table(t, NULL);
    ch_plan plan;
    memset(&plan, 0, sizeof plan);
    void *st = NULL, *w = NULL;
    if (!a || !cfg || !schema || a->configure(cfg, schema, &r.err) != 0 ||
        ch_plan_make(t, CH_PART_IID, n_shards, 0, 7, &plan, &r.err) != 0) {
        r.rc = CH_EINVAL;
        goto out;
    }
    ch_coord_env ce = {.cfg = cfg,
                       .schema = schema,
                       .train = t,
                       .n_train = t->n_rows,
                       .n_blocks = plan.n_blocks,
                       .n_shards = n_shards,
                       .seed = 7};
    ch_worker_env we = {
        .cfg = cfg, .schema = schema, .train = t, .plan = &plan, .n_blocks_total = plan.n_blocks};
    st = a->coord_new(&ce, &r.err);
    w = st ? a->worker_new(&we, &r.err) : NULL;
    if (!st || !w) {
        r.rc = CH_EINVAL;
        goto out;
    }
    for (uint32_t round = 0; r.rc == 0 && round < 1000; round++) {
        uint32_t op;
        ch_buf pay, out[8];
        ch_buf_init(&pay);
        r.rc = a->next_task(st, round, &op, &pay, &r.err);
        if (r.rc == 1) {
            r.rc = 0;
            ch_buf_free(&pay);
            break;
        }
        bool live[8], chosen[8];
        ch_round_plan rp = {0};
        for (size_t s = 0; s < n_shards; s++) {
            live[s] = chosen[s] = true;
        }
        if (r.rc == 0 && a->participants) {
            r.rc = a->participants(st, round, live, n_shards, chosen, &rp, &r.err);
        }
        ch_update ups[8];
        size_t nu = 0;
        for (size_t s = 0; s < n_shards; s++) {
            ch_buf_init(&out[s]);
            uint64_t samples = 0;
            if (r.rc == 0 && chosen[s]) {
                r.rc = a->run_task(w, round, op, pay.data, pay.len, (uint32_t)s, &out[s], &samples,
                                   &r.err);
                if (op == 2 && !r.pdist && s == victim && corrupt != S_GOOD) {
                    s_spoil(&out[s], corrupt);
                }
                ups[nu++] = (ch_update){(uint32_t)s, samples, out[s].data, out[s].len};
            }
        }
        r.pdist |= op == 2;
        ch_round_metrics m = {0};
        if (r.rc == 0) {
            r.rc = a->aggregate(st, round, op, ups, nu, &m, &r.err);
        }
        r.rounds = round + 1;
        for (size_t s = 0; s < n_shards; s++) {
            ch_buf_free(&out[s]);
        }
        ch_buf_free(&pay);
    }
    if (r.rc == 0) {
        void *model = a->finalize(st, &r.err);
        r.rc = model ? a->pack(model, &r.packed, &r.err) : CH_EINVAL;
        if (model) {
            a->model_destroy(&model);
        }
    }
out:
    if (a) {
        a->worker_destroy(&w);
        a->coord_destroy(&st);
    }
    ch_plan_free(&plan);
    ch_schema_destroy(&schema);
    ch_config_destroy(&cfg);
    return r;
}

static ch_table *s_table(void)
{
    ch_table *t = ch_table_new(S_N);
    double *x = s_data(S_N, S_D, 5);
    for (size_t j = 0; j < S_D; j++) {
        double *col = malloc(S_N * sizeof *col);
        for (size_t i = 0; i < S_N; i++) {
            col[i] = x[i * S_D + j] + (double)((i / 150) * 3 * (j == 0));
        }
        char name[8];
        snprintf(name, sizeof name, "f%zu", j);
        ch_table_add_column(t, name, CH_COL_NUMERIC, col, NULL, 0);
    }
    free(x);
    return t;
}

static void s_check_rounds(void)
{
    ch_table *t = s_table();
    s_run ref = s_fit(t, "coordinator", 2, S_GOOD, 0);
    CHECK(ref.rc == 0 && ref.rounds == 1 && !ref.pdist);
    /* 600 rows: 179700 distances, 1.4 MB, so bands of at most 1 MB make
     * two rounds with 1 shard, one of 3 bands with 3 */
    for (size_t w = 1; w <= 3; w += 2) {
        s_run r = s_fit(t, "workers", w, S_GOOD, 0);
        CHECK(r.rc == 0 && r.pdist);
        CHECK(r.rounds == (w == 1 ? 3u : 2u));
        CHECK(r.packed.len == ref.packed.len && r.packed.len > 0 &&
              memcmp(r.packed.data, ref.packed.data, ref.packed.len) == 0);
        ch_buf_free(&r.packed);
    }
    /* auto: 600 rows is below its threshold, the coordinator computes */
    s_run au = s_fit(t, "auto", 3, S_GOOD, 0);
    CHECK(au.rc == 0 && !au.pdist && au.rounds == 1);
    ch_buf_free(&au.packed);

    static const struct {
        s_corrupt how;
        const char *says;
    } bad[] = {{S_SHORT, "), which have "},
               {S_OTHER_BAND, "shard 1 sent the distances of rows ["},
               {S_GARBAGE, "the distance update for shard 1 does not decode"}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        s_run r = s_fit(t, "workers", 3, bad[k].how, 1);
        CHECK(r.rc == CH_EPROTO);
        if (!strstr(r.err.msg, bad[k].says) || !strstr(r.err.msg, "shard 1 ")) {
            fprintf(stderr, "expected '%s' in: %s\n", bad[k].says, r.err.msg);
            CHECK(0);
        }
        ch_buf_free(&r.packed);
    }
    ch_buf_free(&ref.packed);
    ch_table_destroy(&t);
}

/* An update from a shard that was asked for nothing, and a task that does
 * not fit the worker's data. */
static void s_check_unasked(void)
{
    ch_table *t = s_table();
    const ch_algo *a = ch_algo_find("hierarchical");
    ch_err err;
    memset(&err, 0, sizeof err);
    const char *yaml = "model: {algorithm: hierarchical, distances: workers}\n";
    ch_config *cfg = ch_config_parse(yaml, strlen(yaml), "test.yaml", &err);
    ch_schema *schema = ch_schema_from_table(t, NULL);
    ch_plan plan;
    CHECK(a->configure(cfg, schema, &err) == 0);
    CHECK(ch_plan_make(t, CH_PART_IID, 2, 0, 7, &plan, &err) == 0);
    ch_coord_env ce = {.cfg = cfg,
                       .schema = schema,
                       .train = t,
                       .n_train = t->n_rows,
                       .n_blocks = plan.n_blocks,
                       .n_shards = 2};
    ch_worker_env we = {
        .cfg = cfg, .schema = schema, .train = t, .plan = &plan, .n_blocks_total = plan.n_blocks};
    void *st = a->coord_new(&ce, &err);
    void *w = a->worker_new(&we, &err);
    CHECK(st && w);
    uint32_t op = 0;
    ch_buf pay, out[2];
    ch_buf_init(&pay);
    CHECK(a->next_task(st, 0, &op, &pay, &err) == 0 && op == 1);
    ch_update ups[2];
    for (uint32_t s = 0; s < 2; s++) {
        ch_buf_init(&out[s]);
        uint64_t samples;
        CHECK(a->run_task(w, 0, op, pay.data, pay.len, s, &out[s], &samples, &err) == 0);
        ups[s] = (ch_update){s, samples, out[s].data, out[s].len};
    }
    ch_round_metrics m = {0};
    CHECK(a->aggregate(st, 0, op, ups, 2, &m, &err) == 0);
    ch_buf_free(&pay);
    ch_buf_init(&pay);
    CHECK(a->next_task(st, 1, &op, &pay, &err) == 0 && op == 2);
    /* shard 2 of 2: no band */
    ch_update stray = {2, 1, out[0].data, out[0].len};
    CHECK(a->aggregate(st, 1, op, &stray, 1, &m, &err) == CH_EPROTO);
    CHECK(strstr(err.msg, "shard 2 sent distances, but it was asked for no band") != NULL);
    /* the worker: a task for shard 5 of 2, a truncated task, garbage */
    ch_buf res;
    ch_buf_init(&res);
    uint64_t samples;
    CHECK(a->run_task(w, 1, op, pay.data, pay.len, 5, &res, &samples, &err) == CH_EPROTO);
    CHECK(strstr(err.msg, "no band for shard 5") != NULL);
    CHECK(a->run_task(w, 1, op, pay.data, pay.len / 2, 0, &res, &samples, &err) == CH_EPROTO);
    CHECK(a->run_task(w, 1, op, (const uint8_t *)"\x08\x05\x10\x03", 4, 0, &res, &samples, &err) ==
          CH_EPROTO);
    CHECK(strstr(err.msg, "inconsistent sizes") != NULL);
    CHECK(res.len == 0);
    ch_buf_free(&res);
    ch_buf_free(&pay);
    ch_buf_free(&out[0]);
    ch_buf_free(&out[1]);
    a->worker_destroy(&w);
    a->coord_destroy(&st);
    ch_plan_free(&plan);
    ch_schema_destroy(&schema);
    ch_config_destroy(&cfg);
    ch_table_destroy(&t);
}

int main(void)
{
    s_check_kernels();
    s_check_bands_plan();
    s_check_rounds();
    s_check_unasked();
    CH_TEST_END();
}
