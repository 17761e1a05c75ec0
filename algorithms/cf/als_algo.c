/* als_algo.c: model.algorithm als: two rounds per ALS iteration.
 *
 *   round 2k   (OP_USERS): the task carries the item factors Y (and item
 *              biases; the user factors X as warm starts for implicit CG);
 *              a worker solves the users of its plan blocks (user block b =
 *              users [U b / B, U (b + 1) / B) of the plan's B blocks) from
 *              their CSR rows and returns their factors
 *   round 2k+1 (OP_ITEMS): the task carries X (and user biases; Y as warm
 *              starts); a worker solves the items of its blocks (item block
 *              b = items [I b / B, I (b + 1) / B)) from their CSC columns
 *   coord:     concatenates the factor blocks; after the item round reports
 *              train/test RMSE and sampled ranking metrics
 *
 * Every row's solve reads only its own interactions, in CSR or CSC order,
 * and the whole other side, so the factors are the same bytes for any
 * number of workers: nothing is summed across workers. */
#include "algorithms/algo.h"
#include "algorithms/cf/als.h"
#include "algorithms/cf/common.h"
#include "algorithms/cf/query.h"
#include "common/rng.h"
#include "proto/cf.pb-c.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { OP_USERS = 1, OP_ITEMS = 2 };

typedef struct s_coord {
    ch_cf_params p;
    ch_cf_data d;
    ch_cf_model *m;
    ch_cf_heldout h;
    long half; /* half-steps done: iteration half / 2, users next when even */
    char *run_dir;
} s_coord;

typedef struct s_worker {
    ch_cf_params p;
    ch_cf_data d;
    const ch_worker_env *env;
    char *broken; /* the data error, reported by the coordinator's own build first */
    double mu;
} s_worker;

static int s_configure(ch_config *cfg, const ch_schema *schema, ch_err *err)
{
    ch_cf_params p;
    return ch_cf_params_read(cfg, schema, CH_CF_ALS, 0, &p, err);
}

static int s_estimate(ch_config *cfg, const ch_schema *schema, size_t n_rows, size_t n_workers,
                      size_t n_blocks, ch_estimate *out)
{
    (void)n_blocks;
    ch_cf_params p;
    if (ch_cf_params_read(cfg, schema, CH_CF_ALS, 0, &p, NULL) != 0) {
        return 0;
    }
    /* CSR + CSC (12 bytes an interaction each) and both sides' factors
     * (users ~ n_rows / 40 at the usual density) */
    double q = (double)ch_als_q(&p.als), w = n_workers ? (double)n_workers : 1;
    out->worker_bytes = (double)n_rows * 24 + (double)n_rows / 20 * q * 8;
    out->message_bytes = (double)n_rows / 40 / w * q * 8;
    out->flops = (double)n_rows * q * (q + 1);
    out->rounds = 2 * (double)p.iterations;
    return 0;
}

static void s_coord_destroy(void **pst)
{
    if (!pst || !*pst) {
        return;
    }
    s_coord *st = *pst;
    ch_cf_data_free(&st->d);
    void *m = st->m;
    ch_cf_model_destroy(&m);
    ch_cf_heldout_free(&st->h);
    free(st->run_dir);
    free(st);
    *pst = NULL;
}

static void *s_coord_new(const ch_coord_env *env, ch_err *err)
{
    s_coord *st = calloc(1, sizeof *st);
    if (!st || !(st->m = calloc(1, sizeof *st->m))) {
        free(st);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    int rc = ch_cf_params_read(env->cfg, env->schema, CH_CF_ALS, env->seed, &st->p, err);
    if (rc == 0) {
        rc = ch_cf_coord_setup(env, &st->p, CH_CF_ALS, &st->d, st->m, &st->h, err);
    }
    ch_cf_model *m = st->m;
    ch_cf_csr_free(&st->d.by_item); /* the workers solve the items */
    st->run_dir = env->run_dir ? strdup(env->run_dir) : NULL;
    if (rc == 0) {
        size_t nu = m->users.n, ni = m->items.n, f = m->f;
        m->X = ch_calloc_array(nu * f + 1, sizeof *m->X);
        m->Y = ch_alloc_array(ni * f + 1, sizeof *m->Y);
        if (m->biased) {
            m->bu = ch_calloc_array(nu + 1, sizeof *m->bu);
            m->bi = ch_calloc_array(ni + 1, sizeof *m->bi);
        } else {
            m->mu = 0;
        }
        if (!m->X || !m->Y || (m->biased && (!m->bu || !m->bi))) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory for %zu x %zu factors", nu + ni, f);
        }
    }
    if (rc == 0) {
        ch_rng r;
        ch_rng_init(&r, env->seed, ch_rng_stream(CH_STREAM_INIT, 0));
        for (size_t k = 0; k < m->items.n * m->f; k++) {
            m->Y[k] = st->p.init_scale * ch_rng_normal(&r);
        }
    }
    if (rc) {
        void *v = st;
        s_coord_destroy(&v);
        return NULL;
    }
    return st;
}

/* Appends AlsTask field `field` (bytes) to payload, preceded by a padding
 * field (AlsTask.pad) that puts the data at a multiple of 8 bytes from
 * `start` (where the task begins), so a worker reads the doubles in place (s_task_view). */
static int s_put_field(ch_buf *payload, size_t start, unsigned field, const void *data, size_t len)
{
    uint8_t hdr[12], pad[2 + 7] = {15 << 3 | 2, 0};
    size_t h = 0;
    hdr[h++] = (uint8_t)(field << 3 | 2);
    for (uint64_t v = len;; v >>= 7) {
        hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f) {
            break;
        }
    }
    size_t fill = (8 - (payload->len - start + 2 + h) % 8) % 8;
    pad[1] = (uint8_t)fill;
    memset(pad + 2, 0, fill);
    if (ch_buf_append(payload, pad, 2 + fill) != 0 || ch_buf_append(payload, hdr, h) != 0 ||
        ch_buf_append(payload, data, len) != 0) {
        return CH_ENOMEM;
    }
    return 0;
}

static int s_pack_task(const s_coord *st, bool users, ch_buf *payload, ch_err *err)
{
    const ch_cf_model *m = st->m;
    bool cg = m->implicit && st->p.als.cg_steps > 0;
    size_t start = payload->len, nx = m->users.n, ni = m->items.n;
    /* one allocation: four fields of data, header and padding */
    size_t need = 4 * 24 + (users || cg ? ni * m->f * 8 : 0) + (m->bi && users ? ni * 8 : 0) +
                  (!users || cg ? nx * m->f * 8 : 0) + (m->bu && !users ? nx * 8 : 0);
    int rc = ch_buf_reserve(payload, need);
    if (users || cg) {
        rc = rc ? rc : s_put_field(payload, start, 1, m->Y, ni * m->f * 8);
    }
    if (m->bi && users) {
        rc = rc ? rc : s_put_field(payload, start, 2, m->bi, ni * 8);
    }
    if (!users || cg) {
        rc = rc ? rc : s_put_field(payload, start, 3, m->X, nx * m->f * 8);
    }
    if (m->bu && !users) {
        rc = rc ? rc : s_put_field(payload, start, 4, m->bu, nx * 8);
    }
    return rc ? ch_err_set(err, CH_ENOMEM, "out of memory") : 0;
}

static int s_next_task(void *vst, uint32_t round, uint32_t *op, ch_buf *payload, ch_err *err)
{
    s_coord *st = vst;
    (void)round;
    if (st->half >= 2 * st->p.iterations) {
        return 1;
    }
    bool users = st->half % 2 == 0;
    *op = users ? OP_USERS : OP_ITEMS;
    return s_pack_task(st, users, payload, err);
}

static int s_aggregate(void *vst, uint32_t round, uint32_t op, const ch_update *ups, size_t n,
                       ch_round_metrics *rm, ch_err *err)
{
    s_coord *st = vst;
    ch_cf_model *m = st->m;
    (void)round;
    bool users = st->half % 2 == 0;
    if (op != (users ? OP_USERS : OP_ITEMS)) {
        return ch_err_set(err, CH_EPROTO, "als: unexpected op %u", op);
    }
    size_t rows = users ? m->users.n : m->items.n, f = m->f, next = 0;
    double *Z = users ? m->X : m->Y, *zb = users ? m->bu : m->bi;
    int rc = 0;
    /* the shards' row ranges, in shard order, tile [0, rows) */
    for (size_t k = 0; k < n && rc == 0; k++) {
        Cohort__Cf__AlsUpdate *u =
            cohort__cf__als_update__unpack(NULL, ups[k].state_len, ups[k].state);
        if (!u) {
            rc = ch_err_set(err, CH_EPROTO, "als: update of shard %u does not parse", ups[k].shard);
            break;
        }
        size_t r0 = (size_t)u->r0, r1 = (size_t)u->r1;
        if (r0 != next || r1 < r0 || r1 > rows || u->z.len != (r1 - r0) * f * 8 ||
            (zb && u->zb.len != (r1 - r0) * 8)) {
            rc = ch_err_set(err, CH_EPROTO, "als: update of shard %u has wrong rows or sizes",
                            ups[k].shard);
        } else {
            memcpy(Z + r0 * f, u->z.data, u->z.len);
            if (zb) {
                memcpy(zb + r0, u->zb.data, u->zb.len);
            }
            next = r1;
        }
        cohort__cf__als_update__free_unpacked(u, NULL);
    }
    if (rc == 0 && next != rows) {
        rc = ch_err_set(err, CH_EPROTO, "als: the updates cover %zu of %zu %s", next, rows,
                        users ? "users" : "items");
    }
    if (rc != 0) {
        return rc;
    }
    st->half++;
    if (users) {
        return 0; /* metrics once per iteration, after the items */
    }
    if (!m->implicit) {
        const ch_cf_csr *R = &m->by_user;
        double se = 0;
        for (size_t u = 0; u < m->users.n; u++) {
            for (size_t k = R->ptr[u]; k < R->ptr[u + 1]; k++) {
                double e = ch_cf_predict_one(m, (long)u, R->idx[k]) - R->val[k];
                se += e * e;
            }
        }
        ch_round_metric(rm, "train_rmse", R->nnz ? sqrt(se / (double)R->nnz) : 0);
    }
    return ch_cf_round_metrics(m, &st->h, st->p.eval_users, rm, err);
}

static void *s_finalize(void *vst, ch_err *err)
{
    s_coord *st = vst;
    if (ch_cf_finish(st->m, &st->h, &st->p, st->run_dir, err) != 0) {
        return NULL;
    }
    ch_cf_model *m = st->m;
    st->m = NULL;
    return m;
}

static int s_save(void *vst, ch_buf *out, ch_err *err)
{
    s_coord *st = vst;
    ch_cf_model *m = st->m;
    uint64_t it = (uint64_t)st->half;
    int rc = ch_buf_append(out, &it, 8) || ch_buf_append(out, m->X, m->users.n * m->f * 8) ||
             ch_buf_append(out, m->Y, m->items.n * m->f * 8) ||
             (m->bu && ch_buf_append(out, m->bu, m->users.n * 8)) ||
             (m->bi && ch_buf_append(out, m->bi, m->items.n * 8));
    return rc ? ch_err_set(err, CH_ENOMEM, "out of memory") : 0;
}

static int s_load(void *vst, const uint8_t *data, size_t len, ch_err *err)
{
    s_coord *st = vst;
    ch_cf_model *m = st->m;
    size_t nx = m->users.n * m->f * 8, ny = m->items.n * m->f * 8;
    size_t nb = m->bu ? (m->users.n + m->items.n) * 8 : 0;
    uint64_t it;
    if (len != 8 + nx + ny + nb) {
        return ch_err_set(err, CH_EPROTO, "als: checkpoint has %zu bytes, expected %zu", len,
                          8 + nx + ny + nb);
    }
    memcpy(&it, data, 8);
    if (it > 2 * (uint64_t)st->p.iterations) {
        return ch_err_set(err, CH_EPROTO, "als: checkpoint half-step out of range");
    }
    st->half = (long)it;
    memcpy(m->X, data + 8, nx);
    memcpy(m->Y, data + 8 + nx, ny);
    if (m->bu) {
        memcpy(m->bu, data + 8 + nx + ny, m->users.n * 8);
        memcpy(m->bi, data + 8 + nx + ny + m->users.n * 8, m->items.n * 8);
    }
    return 0;
}

/* --- worker --------------------------------------------------------------- */

static void s_worker_destroy(void **pw)
{
    if (!pw || !*pw) {
        return;
    }
    s_worker *w = *pw;
    free(w->broken);
    ch_cf_data_free(&w->d);
    free(w);
    *pw = NULL;
}

static void *s_worker_new(const ch_worker_env *env, ch_err *err)
{
    s_worker *w = calloc(1, sizeof *w);
    if (!w) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    w->env = env;
    int rc = ch_cf_params_read(env->cfg, env->schema, CH_CF_ALS, env->seed, &w->p, err);
    if (rc == 0 && ch_cf_worker_setup(env, &w->p, &w->d, err) != 0) {
        w->broken = strdup(err && err->msg[0] ? err->msg : "cf: bad data");
        ch_err_clear(err);
        return w;
    }
    if (rc == 0) {
        const ch_cf_csr *R = &w->d.by_user; /* the same sum as the coordinator's */
        double s = 0;
        for (size_t k = 0; k < R->nnz; k++) {
            s += R->val[k];
        }
        w->mu = R->nnz && w->p.als.biased && !w->p.als.implicit ? s / (double)R->nnz : 0;
    }
    if (rc) {
        void *v = w;
        s_worker_destroy(&v);
        return NULL;
    }
    return w;
}

/* The AlsTask's byte fields as views into the payload (protobuf wire
 * format: every field of AlsTask is length-delimited), so the factors,
 * 25.6 MB at 100,000 users x 32, are not copied once more by unpacking.
 * Unknown fields are skipped. Returns 0, or -1 when the bytes do not
 * parse. */
static int s_varint(const uint8_t *p, size_t len, size_t *at, uint64_t *v)
{
    *v = 0;
    for (unsigned sh = 0; sh < 64; sh += 7) {
        if (*at >= len) {
            return -1;
        }
        uint8_t c = p[(*at)++];
        *v |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80)) {
            return 0;
        }
    }
    return -1;
}

static int s_task_view(const uint8_t *p, size_t len, ProtobufCBinaryData field[5])
{
    memset(field, 0, 5 * sizeof *field);
    for (size_t at = 0; at < len;) {
        uint64_t key, n;
        if (s_varint(p, len, &at, &key) != 0) {
            return -1;
        }
        switch (key & 7) {
        case 0:
            if (s_varint(p, len, &at, &n) != 0) {
                return -1;
            }
            break;
        case 1:
        case 5:
            n = (key & 7) == 1 ? 8 : 4;
            if (len - at < n) {
                return -1;
            }
            at += n;
            break;
        case 2:
            if (s_varint(p, len, &at, &n) != 0 || len - at < n) {
                return -1;
            }
            if (key >> 3 >= 1 && key >> 3 <= 4) {
                field[key >> 3].data = (uint8_t *)(p + at);
                field[key >> 3].len = n;
            }
            at += n;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

static int s_run_task(void *vw, uint32_t round, uint32_t op, const uint8_t *payload, size_t len,
                      uint32_t shard, ch_buf *out, uint64_t *samples, ch_err *err)
{
    s_worker *w = vw;
    (void)round;
    if (w->broken) {
        return ch_err_set(err, CH_EINVAL, "%s", w->broken);
    }
    const ch_plan *plan = w->env->plan;
    if ((op != OP_USERS && op != OP_ITEMS) || shard >= plan->n_shards) {
        return ch_err_set(err, CH_EPROTO, "als: bad task (op %u, shard %u)", op, shard);
    }
    ProtobufCBinaryData fld[5]; /* by AlsTask field number */
    if (s_task_view(payload, len, fld) != 0) {
        return ch_err_set(err, CH_EPROTO, "als: task does not parse");
    }
    void *own[5] = {0}; /* copies of fields not 8-byte aligned in this buffer */
    for (int k = 1; k < 5; k++) {
        if (fld[k].len && (uintptr_t)fld[k].data % 8 != 0) {
            if (!(own[k] = malloc(fld[k].len))) {
                for (int j = 1; j < k; j++) {
                    free(own[j]);
                }
                return ch_err_set(err, CH_ENOMEM, "out of memory");
            }
            memcpy(own[k], fld[k].data, fld[k].len);
            fld[k].data = own[k];
        }
    }
    const ProtobufCBinaryData *ty = &fld[1], *tbi = &fld[2], *tx = &fld[3], *tbu = &fld[4];
    bool users = op == OP_USERS;
    size_t nu = w->d.users.n, ni = w->d.items.n, f = w->p.als.f;
    bool biased = w->p.als.biased && !w->p.als.implicit;
    bool cg = w->p.als.implicit && w->p.als.cg_steps > 0;
    /* solved side: rows of R; other side: V (n_other x f) */
    const ch_cf_csr *R = users ? &w->d.by_user : &w->d.by_item;
    size_t n_rows = users ? nu : ni, n_other = users ? ni : nu;
    const ProtobufCBinaryData *v = users ? ty : tx, *vb = users ? tbi : tbu;
    const ProtobufCBinaryData *z0 = users ? tx : ty;
    int rc = 0;
    if (v->len != n_other * f * 8 || (biased && vb->len != n_other * 8) ||
        (cg && z0->len != n_rows * f * 8)) {
        rc = ch_err_set(err, CH_EPROTO, "als: task sizes do not match the data");
    }
    size_t B = w->env->n_blocks_total;
    size_t b0 = plan->shard_block[shard], b1 = plan->shard_block[shard + 1];
    size_t r0 = ch_cf_block_begin(n_rows, b0, B), r1 = ch_cf_block_begin(n_rows, b1, B);
    double *G = rc == 0 ? ch_calloc_array(f * f + 1, sizeof *G) : NULL;
    double *Z = rc == 0 ? ch_calloc_array((r1 - r0) * f + 1, sizeof *Z) : NULL;
    double *zb = rc == 0 ? ch_calloc_array(r1 - r0 + 1, sizeof *zb) : NULL;
    if (rc == 0 && (!G || !Z || !zb)) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        const double *V = (const double *)v->data;
        if (cg) {
            memcpy(Z, z0->data + r0 * f * 8, (r1 - r0) * f * 8);
        }
        if (w->p.als.implicit) {
            ch_als_gram(V, n_other, f, G);
        }
        if (ch_als_solve_rows(&w->p.als, R, r0, r1, V, biased ? (const double *)vb->data : NULL,
                              w->mu, G, Z, biased ? zb : NULL) != 0) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (rc == 0) {
        Cohort__Cf__AlsUpdate u = COHORT__CF__ALS_UPDATE__INIT;
        u.r0 = r0;
        u.r1 = r1;
        u.z.data = (uint8_t *)Z;
        u.z.len = (r1 - r0) * f * 8;
        if (biased) {
            u.zb.data = (uint8_t *)zb;
            u.zb.len = (r1 - r0) * 8;
        }
        size_t size = cohort__cf__als_update__get_packed_size(&u);
        if (ch_buf_reserve(out, size) != 0) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        } else {
            cohort__cf__als_update__pack(&u, out->data + out->len);
            out->len += size;
        }
        *samples = R->ptr[r1] - R->ptr[r0];
    }
    free(G);
    free(Z);
    free(zb);
    for (int k = 1; k < 5; k++) {
        free(own[k]);
    }
    return rc;
}

const ch_algo ch_algo_als = {
    .name = "als",
    .summary = "alternating least squares (explicit biased or implicit confidence-weighted) "
               "with top-N recommendations",
    .needs_target = false,
    .configure = s_configure,
    .estimate = s_estimate,
    .coord_new = s_coord_new,
    .next_task = s_next_task,
    .aggregate = s_aggregate,
    .finalize = s_finalize,
    .save = s_save,
    .load = s_load,
    .coord_destroy = s_coord_destroy,
    .worker_new = s_worker_new,
    .run_task = s_run_task,
    .worker_destroy = s_worker_destroy,
    .output_kind = ch_cf_output_kind,
    .n_outputs = ch_cf_n_outputs,
    .predict = ch_cf_predict,
    .pack = ch_cf_pack,
    .unpack = ch_cf_unpack,
    .evaluate = ch_cf_eval_hook,
    .output_name = ch_cf_output_name,
    .predict_csv = ch_cf_predict_csv,
    .summary_json = ch_cf_summary_json,
    .describe = ch_cf_describe,
    .report = ch_cf_report,
    .model_destroy = ch_cf_model_destroy,
};
