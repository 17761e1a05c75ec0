/* step.c: one synchronous step's task and the fixed-order sum of its
 * gradient leaves (step.h). */
#include "algorithms/mlp/step.h"

#include "proto/mlp.pb-c.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ch_nn_task_pack(const ch_nn_task *t, ch_buf *payload, ch_err *err)
{
    size_t nseg = t->nseg;
    Cohort__Mlp__Segment *segs = calloc(nseg ? nseg : 1, sizeof *segs);
    Cohort__Mlp__Segment **sp = calloc(nseg ? nseg : 1, sizeof *sp);
    if (!segs || !sp) {
        free(segs);
        free(sp);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nseg; i++) {
        cohort__mlp__segment__init(&segs[i]);
        segs[i].block = t->seg[i].block;
        segs[i].offset = t->seg[i].offset;
        segs[i].count = t->seg[i].count;
        sp[i] = &segs[i];
    }
    Cohort__Mlp__Task m = COHORT__MLP__TASK__INIT;
    m.step = (uint64_t)t->step;
    m.epoch = (uint32_t)(t->step / t->steps_per_epoch);
    m.step_in_epoch = (uint32_t)(t->step % t->steps_per_epoch);
    m.n_segments = nseg;
    m.segments = sp;
    m.weights.data = (uint8_t *)t->weights;
    m.weights.len = t->n_params * ch_precision_bytes(t->wire);
    m.wire_precision = (uint32_t)t->wire;
    m.loss_scale = t->loss_scale;
    m.n_stats = t->n_stats;
    m.stats = (double *)t->stats;
    size_t size = protobuf_c_message_get_packed_size(&m.base);
    int rc = ch_buf_reserve(payload, size) != 0
                 ? ch_err_set(err, CH_ENOMEM, "out of memory packing %zu bytes", size)
                 : 0;
    if (rc == 0) {
        protobuf_c_message_pack(&m.base, payload->data + payload->len);
        payload->len += size;
    }
    free(segs);
    free(sp);
    return rc;
}

int ch_nn_leaves_sum(const char *name, const ch_nn_task *t, const ch_update *ups, size_t n,
                     double *gsum, float *ltmp, float *g, ch_nn_leaves *sum, ch_err *err)
{
    size_t nseg = t->nseg, np = t->n_params;
    Cohort__Mlp__Update **u = calloc(n ? n : 1, sizeof *u);
    const Cohort__Mlp__Leaf **leaf = calloc(nseg ? nseg : 1, sizeof *leaf);
    int rc = (!u || !leaf) ? ch_err_set(err, CH_ENOMEM, "out of memory") : 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        u[i] = cohort__mlp__update__unpack(NULL, ups[i].state_len, ups[i].state);
        if (!u[i]) {
            rc = ch_err_set(err, CH_EPROTO, "%s: the update of shard %u does not decode", name,
                            ups[i].shard);
            break;
        }
        if (u[i]->step_plus_one != (uint64_t)t->step + 1) {
            rc = ch_err_set(err, CH_EPROTO, "%s: shard %u answered step %llu during step %ld", name,
                            ups[i].shard, (unsigned long long)u[i]->step_plus_one - 1, t->step);
            break;
        }
        for (size_t k = 0; k < u[i]->n_leaves && rc == 0; k++) {
            const Cohort__Mlp__Leaf *lf = u[i]->leaves[k];
            size_t j = 0;
            while (j < nseg && t->seg[j].block != lf->block) {
                j++;
            }
            if (j == nseg || leaf[j]) {
                rc = ch_err_set(err, CH_EPROTO,
                                "%s: shard %u sent a gradient for block %u, which is %s", name,
                                ups[i].shard, lf->block,
                                j == nseg ? "not in this step's batch" : "already covered");
            } else if (lf->grad.len != np * ch_precision_bytes(t->wire) ||
                       lf->rows > t->seg[j].count || !isfinite(lf->loss)) {
                rc = ch_err_set(err, CH_EPROTO,
                                "%s: shard %u sent a malformed gradient for block %u (%zu "
                                "bytes, %u rows)",
                                name, ups[i].shard, lf->block, lf->grad.len, lf->rows);
            } else {
                leaf[j] = lf;
            }
        }
    }
    for (size_t j = 0; j < nseg && rc == 0; j++) {
        if (!leaf[j]) {
            rc = ch_err_set(err, CH_EPROTO, "%s: no gradient for block %u of step %ld", name,
                            t->seg[j].block, t->step);
        }
    }
    *sum = (ch_nn_leaves){0};
    if (rc == 0) {
        /* the fixed order: segments in the batch's order, whoever sent them */
        memset(gsum, 0, np * sizeof *gsum);
        for (size_t j = 0; j < nseg; j++) {
            ch_half_unpack(t->wire, ltmp, leaf[j]->grad.data, np);
            for (size_t i = 0; i < np; i++) {
                gsum[i] += ltmp[i];
            }
            sum->rows += leaf[j]->rows;
            sum->loss += leaf[j]->loss;
            sum->correct += leaf[j]->correct;
        }
        for (size_t i = 0; i < np; i++) {
            g[i] = (float)gsum[i];
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (u && u[i]) {
            cohort__mlp__update__free_unpacked(u[i], NULL);
        }
    }
    free(u);
    free(leaf);
    return rc;
}
