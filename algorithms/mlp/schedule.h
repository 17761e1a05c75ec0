/* schedule.h: learning-rate schedules (constant, step, cosine, one-cycle),
 * optionally after a linear warmup. */
#ifndef CH_MLP_SCHEDULE_H
#define CH_MLP_SCHEDULE_H

typedef enum {
    CH_SCHED_CONSTANT = 0,
    CH_SCHED_STEP = 1,     /* lr * gamma^floor(epoch / step_epochs) */
    CH_SCHED_COSINE = 2,   /* from lr down to lr_min over the steps after warmup */
    CH_SCHED_ONECYCLE = 3, /* linear up to lr over the first 30%, cosine down to lr_min */
} ch_sched_kind;

/* Names in enum order, NULL-terminated. */
extern const char *const ch_sched_names[];

typedef struct ch_schedule {
    ch_sched_kind kind;
    double lr, lr_min;
    long warmup_steps;    /* linear from lr/warmup to lr over these steps first */
    long steps_per_epoch; /* > 0 */
    long total_steps;     /* > 0 */
    long step_epochs;     /* step schedule: epochs between decays (> 0) */
    double gamma;         /* step schedule: decay factor */
} ch_schedule;

/* The learning rate of step t (0-based). This function can't fail. */
double ch_schedule_lr(const ch_schedule *s, long t);

#endif
