/* epochs.c: the coordinator's epochs of synchronous optimizer steps:
 * curves, early stopping and their checkpoint (epochs.h). */
#include "algorithms/mlp/epochs.h"

#include "common/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ch_nn_curves_free(ch_nn_curves *c)
{
    free(c->train_loss);
    free(c->valid_loss);
    free(c->valid_acc);
    free(c->lr);
    free(c->train_acc);
    memset(c, 0, sizeof *c);
}

int ch_nn_curves_push(ch_nn_curves *c, double tl, double vl, double va, double lr, double ta)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 16;
        double **arr[] = {&c->train_loss, &c->valid_loss, &c->valid_acc, &c->lr, &c->train_acc};
        for (size_t i = 0; i < 5; i++) {
            double *p = realloc(*arr[i], nc * sizeof *p);
            if (!p) {
                return CH_ENOMEM;
            }
            *arr[i] = p;
        }
        c->cap = nc;
    }
    c->train_loss[c->n] = tl;
    c->valid_loss[c->n] = vl;
    c->valid_acc[c->n] = va;
    c->lr[c->n] = lr;
    c->train_acc[c->n] = ta;
    c->n++;
    return 0;
}

int ch_nn_curves_set(ch_nn_curves *c, const size_t n[5], double *const v[5])
{
    ch_nn_curves_free(c);
    for (size_t k = 1; k < 5; k++) {
        if (n[k] != n[0]) {
            return CH_EINVAL;
        }
    }
    for (size_t i = 0; i < n[0]; i++) {
        if (ch_nn_curves_push(c, v[0][i], v[1][i], v[2][i], v[3][i], v[4][i]) != 0) {
            return CH_ENOMEM;
        }
    }
    return 0;
}

void ch_nn_curves_to_pb(const ch_nn_curves *c, Cohort__Mlp__Curves *pb)
{
    pb->n_train_loss = pb->n_valid_loss = pb->n_valid_accuracy = pb->n_lr = c->n;
    pb->n_train_accuracy = c->n;
    pb->train_loss = c->train_loss;
    pb->valid_loss = c->valid_loss;
    pb->valid_accuracy = c->valid_acc;
    pb->lr = c->lr;
    pb->train_accuracy = c->train_acc;
}

int ch_nn_curves_from_pb(ch_nn_curves *c, const Cohort__Mlp__Curves *pb)
{
    if (!pb) {
        ch_nn_curves_free(c);
        return 0;
    }
    size_t n[5] = {pb->n_train_loss, pb->n_valid_loss, pb->n_valid_accuracy, pb->n_lr,
                   pb->n_train_accuracy};
    double *v[5] = {pb->train_loss, pb->valid_loss, pb->valid_accuracy, pb->lr, pb->train_accuracy};
    return ch_nn_curves_set(c, n, v);
}

long ch_nn_curves_best(const ch_nn_curves *c)
{
    long best = -1;
    for (size_t e = 0; e < c->n; e++) {
        if (isfinite(c->valid_loss[e]) && (best < 0 || c->valid_loss[e] < c->valid_loss[best])) {
            best = (long)e;
        }
    }
    return best;
}

void ch_nn_summary_tail(const float *w, size_t n_params, const ch_nn_curves *c, ch_buf *j)
{
    /* FNV-1a of the weight bytes: equal runs have equal fingerprints */
    uint64_t h = 1469598103934665603ULL;
    const uint8_t *wb = (const uint8_t *)w;
    for (size_t i = 0; i < n_params * sizeof(float); i++) {
        h = (h ^ wb[i]) * 1099511628211ULL;
    }
    ch_buf_printf(j, ", \"weights_fnv1a\": \"%016llx\"", (unsigned long long)h);
    if (c->n) {
        ch_buf_puts(j, ", \"final_train_loss\": ");
        ch_buf_json_num(j, c->train_loss[c->n - 1]);
        ch_buf_puts(j, ", \"final_valid_loss\": ");
        ch_buf_json_num(j, c->valid_loss[c->n - 1]);
    }
}

void ch_nn_curves_describe(const ch_nn_curves *c, long best_epoch, bool stopped_early, ch_buf *text)
{
    if (best_epoch > 0) {
        ch_buf_printf(text, "early stopping: %s; weights of epoch %ld (lowest validation loss)\n",
                      stopped_early ? "stopped before model.epochs" : "ran every epoch",
                      best_epoch);
    }
    ch_buf_printf(text, "%6s %12s %12s %12s %12s\n", "epoch", "train_loss", "valid_loss",
                  "valid_acc", "lr");
    for (size_t e = 0; e < c->n; e++) {
        ch_buf_printf(text, "%6zu %12.6g %12.6g %12.6g %12.6g\n", e + 1, c->train_loss[e],
                      c->valid_loss[e], c->valid_acc[e], c->lr[e]);
    }
}

int ch_nn_curves_report(const ch_nn_curves *c, ch_head head, ch_report *r, ch_err *err)
{
    if (!c->n) {
        return 0;
    }
    double *x = malloc(c->n * sizeof *x);
    if (!x) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t e = 0; e < c->n; e++) {
        x[e] = (double)(e + 1);
    }
    ch_report_section(r, "Training curves");
    ch_svg_series loss[2] = {{"train", x, c->train_loss, c->n},
                             {"validation", x, c->valid_loss, c->n}};
    ch_svg_line_opts lo = {.title = "Loss per epoch", .x_label = "epoch", .y_label = "loss"};
    int rc = ch_report_line_chart(r, &lo, loss, 2);
    if (rc == 0 && head != CH_HEAD_MSE) {
        ch_svg_series acc[2] = {{"train", x, c->train_acc, c->n},
                                {"validation", x, c->valid_acc, c->n}};
        ch_svg_line_opts ao = {
            .title = "Accuracy per epoch", .x_label = "epoch", .y_label = "accuracy"};
        rc = ch_report_line_chart(r, &ao, acc, 2);
    }
    if (rc == 0) {
        ch_svg_series lr[1] = {{"lr", x, c->lr, c->n}};
        ch_svg_line_opts ro = {.title = "Learning rate at the end of each epoch",
                               .x_label = "epoch",
                               .y_label = "learning rate"};
        rc = ch_report_line_chart(r, &ro, lr, 1);
    }
    free(x);
    return rc ? ch_err_set(err, rc, "out of memory building the report") : 0;
}

void ch_nn_epochs_free(ch_nn_epochs *e)
{
    free(e->best_w);
    e->best_w = NULL;
    ch_nn_curves_free(&e->curves);
}

int ch_nn_epochs_step(ch_nn_epochs *e, const char *name, const float *w, size_t n_params,
                      double loss, double rows, double correct, ch_err *err)
{
    long epoch = e->step / e->steps_per_epoch;
    for (size_t i = 0; i < n_params; i++) {
        if (!isfinite(w[i])) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: step %ld (epoch %ld) made a weight non-finite (parameter "
                              "%zu); lower model.lr or set model.clip_norm",
                              name, e->step, epoch, i);
        }
    }
    e->epoch_loss += loss;
    e->epoch_rows += rows;
    e->epoch_correct += correct;
    e->step++;
    return e->step % e->steps_per_epoch == 0 ? 1 : 0;
}

/* After an epoch's validation: keeps the weights of a new best epoch and
 * stops when `patience` epochs passed without one. */
static void s_early_stop(ch_nn_epochs *e, const float *w, size_t n_params)
{
    if (!e->patience || !e->best_w) {
        return;
    }
    long best = ch_nn_curves_best(&e->curves), last = (long)e->curves.n - 1;
    if (best == last) {
        memcpy(e->best_w, w, n_params * sizeof *w);
    } else if (best >= 0 && last - best >= e->patience) {
        e->stopped = true;
    }
}

int ch_nn_epochs_end(ch_nn_epochs *e, const float *w, size_t n_params, ch_head head, bool has_valid,
                     double vl, double va, double lr, ch_round_metrics *m, ch_err *err)
{
    double tl = e->epoch_rows > 0 ? e->epoch_loss / e->epoch_rows : NAN;
    double ta = head != CH_HEAD_MSE && e->epoch_rows > 0 ? e->epoch_correct / e->epoch_rows : NAN;
    if (ch_nn_curves_push(&e->curves, tl, vl, va, lr, ta) != 0) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    s_early_stop(e, w, n_params);
    ch_round_metric(m, "epoch", (double)(e->step / e->steps_per_epoch));
    ch_round_metric(m, "train_loss", tl);
    if (head != CH_HEAD_MSE) {
        ch_round_metric(m, "train_accuracy", ta);
    }
    if (has_valid) {
        ch_round_metric(m, "valid_loss", vl);
        if (head != CH_HEAD_MSE) {
            ch_round_metric(m, "valid_accuracy", va);
        }
    }
    ch_round_metric(m, "lr", lr);
    e->epoch_loss = e->epoch_rows = e->epoch_correct = 0;
    return 0;
}

int ch_nn_epochs_finish(ch_nn_epochs *e, const char *name, bool stats_done, bool restore_best,
                        float *w, size_t n_params, ch_nn_record *rec, ch_err *err)
{
    if (!stats_done || (e->step < e->total_steps && !e->stopped)) {
        return ch_err_set(err, CH_EINTERNAL, "%s: finalize before training finished", name);
    }
    long best = e->best_w && restore_best ? ch_nn_curves_best(&e->curves) : -1;
    if (best >= 0) {
        memcpy(w, e->best_w, n_params * sizeof *w);
    }
    *rec = (ch_nn_record){.steps = e->step,
                          .epochs = e->step / e->steps_per_epoch,
                          .best_epoch = best + 1,
                          .stopped_early = e->stopped,
                          .curves = e->curves};
    memset(&e->curves, 0, sizeof e->curves);
    return 0;
}

int ch_nn_epochs_save(const ch_nn_epochs *e, const ch_nn_ckpt *c, ch_buf *out, ch_err *err)
{
    Cohort__Mlp__Checkpoint ck = COHORT__MLP__CHECKPOINT__INIT;
    Cohort__Mlp__Curves cv = COHORT__MLP__CURVES__INIT;
    uint64_t *br = calloc(c->n_blocks ? c->n_blocks : 1, sizeof *br);
    if (!br) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    for (size_t b = 0; b < c->n_blocks; b++) {
        br[b] = c->block_rows[b];
    }
    ck.stats_done = c->stats_done;
    ck.n_stats = c->n_stats;
    ck.stats = c->stats;
    ck.n_block_rows = c->n_blocks;
    ck.block_rows = br;
    ck.step = (uint64_t)e->step;
    ck.weights.data = (uint8_t *)c->w;
    ck.weights.len = c->n_params * sizeof(float);
    ck.opt_state.data = (uint8_t *)c->opt_state;
    ck.opt_state.len = c->n_opt * sizeof(float);
    ck.epoch_loss = e->epoch_loss;
    ck.epoch_rows = e->epoch_rows;
    ck.epoch_correct = e->epoch_correct;
    ch_nn_curves_to_pb(&e->curves, &cv);
    ck.curves = &cv;
    if (e->best_w) {
        ck.best_weights.data = (uint8_t *)e->best_w;
        ck.best_weights.len = c->n_params * sizeof(float);
    }
    if (c->scaler) {
        ck.loss_scale = c->scaler->scale;
        ck.scale_clean = (uint64_t)c->scaler->clean;
        ck.skipped_steps = (uint64_t)c->scaler->skipped;
    }
    if (c->wire_bytes && c->wire_rounds) {
        ck.wire_bytes = *c->wire_bytes;
        ck.wire_rounds = (uint64_t)*c->wire_rounds;
    }
    size_t size = protobuf_c_message_get_packed_size(&ck.base);
    int rc = ch_buf_reserve(out, size) != 0
                 ? ch_err_set(err, CH_ENOMEM, "out of memory packing %zu bytes", size)
                 : 0;
    if (rc == 0) {
        protobuf_c_message_pack(&ck.base, out->data + out->len);
        out->len += size;
    }
    free(br);
    return rc;
}

int ch_nn_epochs_load(ch_nn_epochs *e, ch_nn_ckpt *c, size_t *n_rows, const char *name,
                      const uint8_t *data, size_t len, ch_err *err)
{
    Cohort__Mlp__Checkpoint *ck = cohort__mlp__checkpoint__unpack(NULL, len, data);
    if (!ck) {
        return ch_err_set(err, CH_EINVAL, "the %s checkpoint does not decode", name);
    }
    size_t np = c->n_params, nos = c->n_opt * sizeof(float);
    int rc = 0;
    if (ck->n_stats != c->n_stats || ck->n_block_rows != c->n_blocks ||
        ck->weights.len != np * sizeof(float) || ck->opt_state.len != nos ||
        ck->best_weights.len != (e->best_w ? np * sizeof(float) : 0)) {
        rc = ch_err_set(err, CH_EINVAL,
                        "the %s checkpoint does not match this network and data (%zu "
                        "parameters expected)",
                        name, np);
    }
    if (rc == 0) {
        memcpy(c->stats, ck->stats, ck->n_stats * sizeof *c->stats);
        *n_rows = 0;
        for (size_t b = 0; b < c->n_blocks; b++) {
            c->block_rows[b] = (size_t)ck->block_rows[b];
            *n_rows += c->block_rows[b];
        }
        memcpy(c->w, ck->weights.data, ck->weights.len);
        if (nos > 0) { /* plain SGD has no state (and the field no data) */
            memcpy(c->opt_state, ck->opt_state.data, nos);
        }
        e->step = (long)ck->step;
        e->epoch_loss = ck->epoch_loss;
        e->epoch_rows = ck->epoch_rows;
        e->epoch_correct = ck->epoch_correct;
        if (c->scaler && c->scaling && ck->loss_scale >= 1) {
            c->scaler->scale = ck->loss_scale;
            c->scaler->clean = (long)ck->scale_clean;
            c->scaler->skipped = (long)ck->skipped_steps;
        }
        if (c->wire_bytes && c->wire_rounds) {
            *c->wire_bytes = ck->wire_bytes;
            *c->wire_rounds = (long)ck->wire_rounds;
        }
        rc = ch_nn_curves_from_pb(&e->curves, ck->curves);
        if (rc != 0) {
            rc = ch_err_set(err, CH_EINVAL, "the %s checkpoint's curves are malformed", name);
        } else if (e->best_w) {
            memcpy(e->best_w, ck->best_weights.data, ck->best_weights.len);
            long best = ch_nn_curves_best(&e->curves), last = (long)e->curves.n - 1;
            e->stopped = best >= 0 && last - best >= e->patience;
        }
        c->stats_done = ck->stats_done;
    }
    cohort__mlp__checkpoint__free_unpacked(ck, NULL);
    return rc;
}
