/* learner.h: tabular temporal-difference learners (Q-learning, SARSA,
 * Expected SARSA, Double Q-learning) running whole episodes on an exact
 * environment table. */
#ifndef QL_LEARNER_H
#define QL_LEARNER_H

#include "explore.h"
#include "mdp.h"
#include "schedule.h"

#include "common/rng.h"

typedef enum {
    QL_LEARN_Q = 0,
    QL_LEARN_SARSA = 1,
    QL_LEARN_EXPECTED_SARSA = 2,
    QL_LEARN_DOUBLE_Q = 3,
} ql_learner_kind;

extern const char *const ql_learner_names[]; /* NULL-terminated, enum order */

typedef struct ql_learner {
    ql_learner_kind kind;
    double gamma;
    ql_explore explore;
    ql_lrate lr;
} ql_learner;

/* Reads model.learner, model.gamma and the exploration and learning-rate
 * keys. */
int ql_learner_read(ch_config *cfg, ql_learner *out, ch_err *err);

/* What one episode did. */
typedef struct ql_episode {
    double ret; /* discounted return */
    size_t steps;
} ql_episode;

/* Runs one episode of at most m->horizon steps, drawing from r and updating
 * q (n_states x n_actions) in place; double Q-learning also updates q2
 * (NULL otherwise) and acts on q + q2. visits[sa] counts this table's
 * updates (incremented); base[sa] (may be NULL) holds the visits before
 * this table was copied, for the visit-count learning rate. `episode` is
 * the global episode index for the exploration schedule. A step that hits
 * the time limit bootstraps (the episode is cut, not ended). This function
 * can't fail. */
void ql_learner_episode(const ql_learner *l, const ql_mdp *m, double *q, double *q2, double *visits,
                        const double *base, double episode, ch_rng *r, ql_episode *out);

#endif
