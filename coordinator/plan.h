/* plan.h: `cohort plan`: an experiment validated and resolved without
 * running it: every parameter with its default, the shards per worker, and
 * the estimated memory, traffic and work, to size a cluster allocation. */
#ifndef CH_PLAN_H
#define CH_PLAN_H

#include "common/buf.h"
#include "common/config.h"
#include "common/err.h"

/* Appends the resolved plan of the experiment cfg (not taken) to out.
 * n_workers > 0 overrides the config's workers. Fails as `cohort run`
 * would: unknown keys, unreadable data, bad values. */
int ch_plan_describe(const ch_config *cfg, long n_workers, ch_buf *out, ch_err *err);

#endif
