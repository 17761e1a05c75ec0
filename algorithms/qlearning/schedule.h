/* schedule.h: schedules over episodes (exploration rate, temperature) and
 * the learning rate per state-action visit count. */
#ifndef QL_SCHEDULE_H
#define QL_SCHEDULE_H

#include "common/config.h"
#include "common/err.h"

typedef enum {
    QL_SCHED_CONSTANT = 0,
    QL_SCHED_LINEAR = 1,      /* start -> end over `steps` episodes, then end */
    QL_SCHED_EXPONENTIAL = 2, /* end + (start - end) exp(-episode / steps) */
} ql_sched_kind;

typedef struct ql_schedule {
    ql_sched_kind kind;
    double start, end, steps;
} ql_schedule;

typedef enum {
    QL_LR_CONSTANT = 0, /* alpha */
    QL_LR_VISITS = 1,   /* max(alpha_min, alpha / (1 + n)^power), n = earlier visits */
} ql_lr_kind;

typedef struct ql_lrate {
    ql_lr_kind kind;
    double alpha, power, min;
} ql_lrate;

/* Reads `<prefix>_schedule`, `<prefix>_start`, `<prefix>_end` and
 * `<prefix>_steps` (e.g. model.epsilon_*) with the given defaults and range
 * [lo, hi] for the values. Returns 0 or CH_EINVAL with the key. */
int ql_schedule_read(ch_config *cfg, const char *prefix, const char *def_kind, double def_start,
                     double def_end, double def_steps, double lo, double hi, ql_schedule *out,
                     ch_err *err);
/* Reads model.lr_schedule, model.alpha, model.alpha_power, model.alpha_min. */
int ql_lrate_read(ch_config *cfg, ql_lrate *out, ch_err *err);

/* The value at a (global) episode index. This function can't fail. */
double ql_schedule_at(const ql_schedule *s, double episode);
/* The step size for a pair visited n times before. This function can't fail. */
double ql_lrate_at(const ql_lrate *l, double n);
/* The fraction of the way to a fixed target that n updates starting after
 * n0 earlier visits cover: 1 - prod_{i<n} (1 - alpha(n0 + i)); 0 for n = 0.
 * (Sequential updates Q <- Q + alpha (y - Q) with a fixed target y give
 * Q_n - Q_0 = F (y - Q_0).) This function can't fail. */
double ql_lrate_fraction(const ql_lrate *l, double n0, double n);

#endif
