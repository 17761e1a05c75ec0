/* plan.c: resolved experiment plans with resource estimates (see plan.h). */
#include "coordinator/plan.h"
#include "common/experiment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_bytes(ch_buf *out, const char *label, double b)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    ch_buf_printf(out, "  %-28s %.1f %s\n", label, b, unit[u]);
}

int ch_plan_describe(const ch_config *cfg, long n_workers, ch_buf *out, ch_err *err)
{
    ch_config *copy = ch_config_copy(cfg);
    if (!copy) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    ch_experiment x;
    int rc = ch_experiment_configure(&x, copy, err);
    if (rc) {
        ch_experiment_free(&x);
        return rc;
    }
    if (n_workers > 0) {
        char set[64];
        snprintf(set, sizeof set, "workers=%ld", n_workers);
        ch_config_set(x.cfg, set, NULL);
        x.workers = n_workers;
    }
    bool by_file = x.scheme == CH_PART_BY_FILE;
    ch_plan plan = {0};
    if (!by_file) {
        if ((rc = ch_experiment_load(&x, NULL, err)) || (rc = ch_experiment_check_keys(&x, err)) ||
            (rc = ch_plan_make_or_empty(x.train, x.scheme, (size_t)x.workers, x.alpha, x.seed,
                                        &plan, err))) {
            ch_experiment_free(&x);
            return rc;
        }
    }
    char *yaml = ch_config_emit(x.cfg);
    ch_buf_printf(out, "algorithm %s: %s\n", x.algo->name, x.algo->summary);
    ch_buf_printf(out, "resolved config (defaults marked):\n");
    for (const char *p = yaml ? yaml : ""; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        ch_buf_printf(out, "  | %.*s\n", (int)n, p);
        p += n + (nl ? 1 : 0);
    }
    free(yaml);
    if (by_file) {
        ch_buf_printf(out,
                      "data: by-file: each of the %ld silos brings its own file; sizes are "
                      "known when they connect\n",
                      x.workers);
        ch_experiment_free(&x);
        return 0;
    }
    ch_buf_printf(out, "data: %zu training rows x %zu columns, %zu test rows\n", x.train->n_rows,
                  x.train->n_cols, x.test ? x.test->n_rows : 0);
    ch_buf_printf(out, "shards (%s, %zu reduction blocks):\n", ch_part_scheme_names[x.scheme],
                  plan.n_blocks);
    for (size_t s = 0; s < plan.n_shards; s++) {
        ch_buf_printf(out, "  worker %-3zu %zu rows\n", s,
                      ch_plan_shard_end(&plan, s) - ch_plan_shard_begin(&plan, s));
    }
    double table_bytes = (double)x.train->n_rows * (double)(x.train->n_cols + 2) * 8;
    ch_buf_printf(out, "estimated resources:\n");
    s_bytes(out, "data per worker", table_bytes);
    if (x.algo->estimate) {
        ch_estimate est = {0};
        if (x.algo->estimate(x.cfg, x.schema, x.train->n_rows, (size_t)x.workers, plan.n_blocks,
                             &est) == 0) {
            s_bytes(out, "working memory per worker", est.worker_bytes);
            s_bytes(out, "memory per worker (total)", est.worker_bytes + table_bytes);
            s_bytes(out, "sent per worker per round", est.message_bytes);
            ch_buf_printf(out, "  %-28s %.3g GFLOP\n", "work per round", est.flops / 1e9);
            ch_buf_printf(out, "  %-28s %.0f\n", "rounds", est.rounds);
        }
    }
    ch_plan_free(&plan);
    ch_experiment_free(&x);
    return 0;
}
