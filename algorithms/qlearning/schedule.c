/* schedule.c: exploration and learning-rate schedules. */
#include "schedule.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>

static const char *const s_kinds[] = {"constant", "linear", "exponential", NULL};
static const char *const s_lr_kinds[] = {"constant", "visits", NULL};

int ql_schedule_read(ch_config *cfg, const char *prefix, const char *def_kind, double def_start,
                     double def_end, double def_steps, double lo, double hi, ql_schedule *out,
                     ch_err *err)
{
    char k[96], s[96], e[96], n[96];
    snprintf(k, sizeof k, "%s_schedule", prefix);
    snprintf(s, sizeof s, "%s_start", prefix);
    snprintf(e, sizeof e, "%s_end", prefix);
    snprintf(n, sizeof n, "%s_steps", prefix);
    int kind = 0, rc;
    if ((rc = ch_cfg_enum(cfg, k, def_kind, s_kinds, &kind, err)) ||
        (rc = ch_cfg_num(cfg, s, def_start, lo, hi, &out->start, err)) ||
        (rc = ch_cfg_num(cfg, e, def_end, lo, hi, &out->end, err)) ||
        (rc = ch_cfg_num(cfg, n, def_steps, 1e-9, 1e15, &out->steps, err))) {
        return rc;
    }
    out->kind = (ql_sched_kind)kind;
    return 0;
}

int ql_lrate_read(ch_config *cfg, ql_lrate *out, ch_err *err)
{
    int kind = 0, rc;
    if ((rc = ch_cfg_enum(cfg, "model.lr_schedule", "constant", s_lr_kinds, &kind, err)) ||
        (rc = ch_cfg_num(cfg, "model.alpha", 0.1, 1e-12, 1, &out->alpha, err)) ||
        (rc = ch_cfg_num(cfg, "model.alpha_power", 0.6, 0, 1, &out->power, err)) ||
        (rc = ch_cfg_num(cfg, "model.alpha_min", 0.0, 0, 1, &out->min, err))) {
        return rc;
    }
    out->kind = (ql_lr_kind)kind;
    return 0;
}

double ql_schedule_at(const ql_schedule *s, double episode)
{
    switch (s->kind) {
    case QL_SCHED_CONSTANT:
        return s->start;
    case QL_SCHED_LINEAR:
        if (episode >= s->steps) {
            return s->end;
        }
        return s->start + (s->end - s->start) * episode / s->steps;
    case QL_SCHED_EXPONENTIAL:
        return s->end + (s->start - s->end) * exp(-episode / s->steps);
    }
    return s->start;
}

double ql_lrate_at(const ql_lrate *l, double n)
{
    if (l->kind == QL_LR_CONSTANT) {
        return l->alpha;
    }
    double a; /* pow is a tenth of a step's time: the common powers without it */
    if (l->power == 0.5) {
        a = l->alpha / sqrt(1.0 + n);
    } else if (l->power == 1.0) {
        a = l->alpha / (1.0 + n);
    } else {
        a = l->alpha * pow(1.0 + n, -l->power);
    }
    return a > l->min ? a : l->min;
}

/* prod_{i<n} (1 - alpha / r(n0 + i)) with r(x) = sqrt(1 + x) or 1 + x, as
 * prod (r - alpha) / prod r four terms at a time: one division per four
 * visits instead of four (the coordinator's merge runs this over every visit
 * of a sync period). 0 as soon as a factor or the product is 0. */
static double s_keep_root(double alpha, bool root, double n0, double n)
{
    double keep = 1, i = 0;
    for (; i + 4 <= n; i += 4) {
        double r0 = 1.0 + n0 + i, r1 = r0 + 1, r2 = r0 + 2, r3 = r0 + 3;
        if (root) {
            r0 = sqrt(r0);
            r1 = sqrt(r1);
            r2 = sqrt(r2);
            r3 = sqrt(r3);
        }
        keep *=
            ((r0 - alpha) * (r1 - alpha)) * ((r2 - alpha) * (r3 - alpha)) / ((r0 * r1) * (r2 * r3));
        if (keep == 0) {
            return 0;
        }
    }
    for (; i < n; i++) {
        double r = root ? sqrt(1.0 + n0 + i) : 1.0 + n0 + i;
        keep *= (r - alpha) / r;
    }
    return keep;
}

double ql_lrate_fraction(const ql_lrate *l, double n0, double n)
{
    if (n <= 0) {
        return 0;
    }
    if (l->kind == QL_LR_CONSTANT) {
        return 1.0 - pow(1.0 - l->alpha, n);
    }
    if (l->min == 0 && (l->power == 0.5 || l->power == 1.0)) {
        return 1.0 - s_keep_root(l->alpha, l->power == 0.5, n0, n);
    }
    /* Four products in turn, so the chain of multiplications does not wait
     * on itself. Stops once the product is 0 (a step size of 1, or an
     * underflow that 1 - keep would not see). */
    double k[4] = {1, 1, 1, 1}, i = 0;
    for (; i + 4 <= n; i += 4) {
        for (int j = 0; j < 4; j++) {
            k[j] *= 1.0 - ql_lrate_at(l, n0 + i + j);
        }
        if ((k[0] * k[1]) * (k[2] * k[3]) == 0) {
            return 1.0;
        }
    }
    for (; i < n; i++) {
        k[0] *= 1.0 - ql_lrate_at(l, n0 + i);
    }
    return 1.0 - (k[0] * k[1]) * (k[2] * k[3]);
}
