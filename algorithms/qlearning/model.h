/* model.h: the learned Q-learning model (tables, greedy and optimal
 * policies, exact and Monte-Carlo returns, learning curves), its protobuf
 * I/O and its outputs (summary, report, policy table). */
#ifndef QL_MODEL_H
#define QL_MODEL_H

#include "env.h"
#include "learner.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/report.h"

#include <stdint.h>

typedef struct ql_model {
    ql_env env; /* kind and the fields labels need */
    ql_learner_kind learner;
    double gamma;
    size_t n_states, n_actions;
    double *q, *q2, *visits; /* q2 NULL unless double Q-learning */
    uint32_t *policy, *optimal_policy;
    double *optimal_q;
    double policy_return, optimal_return;
    double mc_return, mc_stderr;
    uint64_t mc_episodes;
    size_t n_rounds;
    double *curve_train, *curve_greedy;
    uint64_t episodes, steps;
    int64_t rounds_to_target;
    double target_fraction;
    uint64_t round;
    uint32_t groups;
    uint64_t sync_every;
    double seconds_to_target; /* this run only (NaN after unpack): not in model.pb */
} ql_model;

/* An empty model with tables of n_states x n_actions (q2 when dbl). NULL
 * when out of memory. */
ql_model *ql_model_new(size_t n_states, size_t n_actions, bool dbl);
void ql_model_destroy(ql_model **m);

/* Appends the Model message to out. Returns 0 or CH_ENOMEM. */
int ql_model_pack(const ql_model *m, ch_buf *out, ch_err *err);
/* Decodes and checks a Model message (sizes, enum values). NULL with err
 * set (CH_EPROTO) on bad bytes. */
ql_model *ql_model_unpack(const uint8_t *data, size_t len, ch_err *err);

/* Writes the policy table (state, learned and optimal action, Q values) as
 * CSV to path. Returns 0 or CH_EIO/CH_ENOMEM. */
int ql_model_write_policy(const ql_model *m, const char *path, ch_err *err);
/* summary.json keys, the plain-text description and the report sections. */
int ql_model_summary_json(const ql_model *m, ch_buf *json);
int ql_model_describe(const ql_model *m, ch_buf *text);
int ql_model_report(const ql_model *m, ch_report *r, ch_err *err);

#endif
