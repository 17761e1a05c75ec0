/* workflow.h: a workflow: experiments as steps with dependencies, run in
 * dependency order, each in its own directory, ending in comparisons.
 *
 *   name: day
 *   workers: 2                     # default for every step
 *   steps:
 *     - name: ols
 *       use: ols.yaml              # relative to the workflow file
 *       set: {model.intercept: false}
 *     - name: fit2
 *       experiment: {...}          # an inline experiment
 *       after: [ols]
 *     - name: review
 *       compare: [ols, fit2]
 *       metric: test_rmse
 *       goal: min
 *
 * A string anywhere in a step may refer to an earlier step's outputs:
 * ${steps.NAME.dir|model|summary|report|config|data}; a reference is also a
 * dependency. Steps run in dependency order (file order among the ready);
 * with `parallel: N` (default: cores / (workers + 1)) up to N independent
 * steps run at once as child processes, each with DIR/<step>.log; a failed
 * step skips only the steps that depend on it. --resume skips the steps
 * whose summary.json says finished. */
#ifndef CH_WORKFLOW_H
#define CH_WORKFLOW_H

#include "common/config.h"
#include "common/err.h"

#include <stdbool.h>

/* True if the config is a workflow (has `steps`). */
bool ch_workflow_is(const ch_config *c);

typedef struct ch_workflow_opts {
    const char *out_dir; /* NULL: runs/<workflow run id> */
    bool resume;
    long n_workers;      /* > 0 overrides every step's workers */
    bool plan_only;      /* validate and print the plan, run nothing */
} ch_workflow_opts;

/* Runs (or plans) the workflow loaded from `path`; takes cfg. out_dir gets
 * the workflow's directory. Returns 0 when every step finished. */
int ch_workflow_run(ch_config *cfg, const char *path, const ch_workflow_opts *o, char *out_dir,
                    size_t out_size, ch_err *err);

#endif
