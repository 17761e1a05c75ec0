/* schedule.c: the learning rate as a function of the step. */
#include "algorithms/mlp/schedule.h"

#include <math.h>
#include <stddef.h>

const char *const ch_sched_names[] = {"constant", "step", "cosine", "onecycle", NULL};

/* Warmup (step t < warmup_steps): lr * (t + 1) / warmup_steps. After it the
 * schedule runs on t' = t - warmup_steps over T' = total - warmup steps.
 * This function can't fail. */
double ch_schedule_lr(const ch_schedule *s, long t)
{
    if (t < s->warmup_steps) {
        return s->lr * (double)(t + 1) / (double)s->warmup_steps;
    }
    long tt = t - s->warmup_steps;
    long span = s->total_steps - s->warmup_steps;
    if (span < 1) {
        span = 1;
    }
    double frac = (double)tt / (double)span;
    if (frac > 1) {
        frac = 1;
    }
    switch (s->kind) {
    case CH_SCHED_CONSTANT:
        return s->lr;
    case CH_SCHED_STEP: {
        long epoch = s->steps_per_epoch > 0 ? t / s->steps_per_epoch : 0;
        long k = s->step_epochs > 0 ? epoch / s->step_epochs : 0;
        return s->lr * pow(s->gamma, (double)k);
    }
    case CH_SCHED_COSINE:
        return s->lr_min + (s->lr - s->lr_min) * 0.5 * (1 + cos(M_PI * frac));
    case CH_SCHED_ONECYCLE: {
        const double up = 0.3;
        if (frac < up) {
            return s->lr_min + (s->lr - s->lr_min) * frac / up;
        }
        double f = (frac - up) / (1 - up);
        return s->lr_min + (s->lr - s->lr_min) * 0.5 * (1 + cos(M_PI * f));
    }
    }
    return s->lr;
}
