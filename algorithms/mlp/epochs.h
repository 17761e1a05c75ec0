/* epochs.h: the coordinator's side of training a network in epochs of
 * synchronous optimizer steps, shared by mlp.c and transformer.c: the step
 * count, the epoch's sums, the per-epoch curves, early stopping with the
 * best weights, and the checkpoint that holds them (proto/mlp.proto
 * Checkpoint; transformer.proto's Checkpoint has the same fields 1-11, so
 * the bytes are the same for a run that does not scale its loss). */
#ifndef CH_MLP_EPOCHS_H
#define CH_MLP_EPOCHS_H

#include "algorithms/algo.h"
#include "algorithms/mlp/trainer.h"
#include "proto/mlp.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Per-epoch series (the Curves messages). */
typedef struct ch_nn_curves {
    size_t n, cap;
    double *train_loss, *valid_loss, *valid_acc, *lr, *train_acc;
} ch_nn_curves;

/* Frees the series and zeroes c. Accepts a zeroed c. */
void ch_nn_curves_free(ch_nn_curves *c);

/* Appends one epoch. Returns 0 or CH_ENOMEM (c unchanged). */
int ch_nn_curves_push(ch_nn_curves *c, double tl, double vl, double va, double lr, double ta);

/* Replaces c by the series of a Curves message: n[k] values at v[k] in the
 * order train_loss, valid_loss, valid_accuracy, lr, train_accuracy.
 * Returns 0, CH_EINVAL when the counts differ, or CH_ENOMEM. */
int ch_nn_curves_set(ch_nn_curves *c, const size_t n[5], double *const v[5]);

/* Points pb's series at c's arrays (c keeps them). This function can't fail. */
void ch_nn_curves_to_pb(const ch_nn_curves *c, Cohort__Mlp__Curves *pb);

/* ch_nn_curves_set from a Curves message; a NULL pb leaves c empty. */
int ch_nn_curves_from_pb(ch_nn_curves *c, const Cohort__Mlp__Curves *pb);

/* Early stopping: the 0-based epoch of the lowest validation loss (the
 * first of equals), or -1 without any. This function can't fail. */
long ch_nn_curves_best(const ch_nn_curves *c);

/* summary.json's end of the "network" object: the FNV-1a fingerprint of
 * the n_params weights' bytes (equal runs have equal fingerprints) and the
 * last epoch's train and validation losses. Failures show in j->failed. */
void ch_nn_summary_tail(const float *w, size_t n_params, const ch_nn_curves *c, ch_buf *j);

/* model.txt's lines on early stopping (best_epoch > 0: the 1-based epoch
 * whose weights the model holds) and the table of the curves. Failures
 * show in text->failed. */
void ch_nn_curves_describe(const ch_nn_curves *c, long best_epoch, bool stopped_early,
                           ch_buf *text);

/* report.html's "Training curves" section (none without epochs): loss,
 * accuracy (unless head is CH_HEAD_MSE) and learning rate per epoch.
 * Returns 0 or CH_ENOMEM with a message. */
int ch_nn_curves_report(const ch_nn_curves *c, ch_head head, ch_report *r, ch_err *err);

/* The coordinator's training progress. The owner zeroes it, sets the plan
 * (steps_per_epoch, total_steps) once the rows are known and, with
 * early stopping, best_w (n_params floats, owned here: freed by
 * ch_nn_epochs_free). */
typedef struct ch_nn_epochs {
    long steps_per_epoch, total_steps, step;
    long patience; /* model.early_stopping: epochs without a better validation loss; 0 = off */
    float *best_w; /* early stopping: the weights of the best validation epoch */
    bool stopped;  /* early stopping: patience ran out */
    double epoch_loss, epoch_rows, epoch_correct;
    ch_nn_curves curves;
} ch_nn_epochs;

/* Frees best_w and the curves. */
void ch_nn_epochs_free(ch_nn_epochs *e);

/* After a step's update of w[n_params]: fails (CH_EINVAL, naming the
 * algorithm `name`, the step and the parameter) when a weight is not
 * finite, else adds the step's summed loss, rows and correct count to the
 * epoch and counts the step. Returns 0, 1 when the step ended an epoch
 * (then call ch_nn_epochs_end), or the error. */
int ch_nn_epochs_step(ch_nn_epochs *e, const char *name, const float *w, size_t n_params,
                      double loss, double rows, double correct, ch_err *err);

/* The end of an epoch: pushes the curves (train loss and accuracy from
 * the epoch's sums; vl, va the validation metrics, NaN without held-out
 * rows; lr the last step's), keeps w as best_w on a new best validation
 * loss or stops when `patience` epochs passed without one, reports the
 * round metrics (accuracies unless head is CH_HEAD_MSE, validation ones
 * when has_valid) and clears the sums. Returns 0 or CH_ENOMEM. */
int ch_nn_epochs_end(ch_nn_epochs *e, const float *w, size_t n_params, ch_head head, bool has_valid,
                     double vl, double va, double lr, ch_round_metrics *m, ch_err *err);

/* A trained model's record of its training. */
typedef struct ch_nn_record {
    long steps, epochs;
    long best_epoch;    /* early stopping: 1-based epoch of the weights; 0 = last */
    bool stopped_early; /* before model.epochs */
    ch_nn_curves curves;
} ch_nn_record;

/* The end of training: fails (CH_EINTERNAL, naming `name`) unless
 * stats_done and every step ran or early stopping stopped; else copies
 * the best epoch's weights into w[n_params] when restore_best (and early
 * stopping kept some), and fills rec, moving e's curves into it. */
int ch_nn_epochs_finish(ch_nn_epochs *e, const char *name, bool stats_done, bool restore_best,
                        float *w, size_t n_params, ch_nn_record *rec, ch_err *err);

/* The rest of a checkpoint, which the algorithm owns. */
typedef struct ch_nn_ckpt {
    bool stats_done;
    double *stats; /* n_stats feature statistics */
    size_t n_stats;
    size_t *block_rows; /* n_blocks */
    size_t n_blocks;
    float *w, *opt_state; /* n_params and n_opt floats */
    size_t n_params, n_opt;
    ch_loss_scaler *scaler; /* fp16 loss scaling, or NULL (not written) */
    bool scaling;           /* load the scaler's state (a run that scales) */
    double *wire_bytes;     /* tensor bytes sent so far, or NULL (not kept) */
    long *wire_rounds;      /* over this many training rounds */
} ch_nn_ckpt;

/* Appends the checkpoint of e and c to out. Returns 0 or CH_ENOMEM. */
int ch_nn_epochs_save(const ch_nn_epochs *e, const ch_nn_ckpt *c, ch_buf *out, ch_err *err);

/* Restores e and c (stats, block_rows, weights, optimizer state, scaler,
 * stats_done; *n_rows the sum of the block rows) from a checkpoint of
 * `name`'s network of the same sizes. Returns 0 or CH_EINVAL with a
 * message naming what does not match. */
int ch_nn_epochs_load(ch_nn_epochs *e, ch_nn_ckpt *c, size_t *n_rows, const char *name,
                      const uint8_t *data, size_t len, ch_err *err);

#endif
