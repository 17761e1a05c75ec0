/* cliffwalking.c: Gymnasium's CliffWalking (toy-text) as an exact MDP: a
 * 4x12 grid, start at the bottom left, goal at the bottom right, the cliff
 * between them; actions up/right/down/left; reward -1 per step and -100 for
 * stepping into the cliff, which sends the agent back to the start without
 * ending the episode; reaching the goal ends it. */
#include "env.h"

enum { S_ROWS = 4, S_COLS = 12, S_START = 36, S_GOAL = 47 };

ql_mdp *ql_cliffwalking_build(long max_steps, ch_err *err)
{
    ql_mdp *m = ql_mdp_new(S_ROWS * S_COLS, 4, (size_t)max_steps);
    if (!m) {
        ch_err_set(err, CH_ENOMEM, "out of memory building cliffwalking");
        return NULL;
    }
    static const int dr[4] = {-1, 0, 1, 0}, dc[4] = {0, 1, 0, -1};
    int rc = 0;
    for (int s = 0; s < S_ROWS * S_COLS && rc == 0; s++) {
        for (int a = 0; a < 4 && rc == 0; a++) {
            if (s == S_GOAL) {
                rc = ql_mdp_add(m, 1.0, 0.0, (size_t)s, 1);
            } else {
                int r = s / S_COLS + dr[a], c = s % S_COLS + dc[a];
                r = r < 0 ? 0 : (r >= S_ROWS ? S_ROWS - 1 : r);
                c = c < 0 ? 0 : (c >= S_COLS ? S_COLS - 1 : c);
                int s2 = r * S_COLS + c;
                if (r == S_ROWS - 1 && c >= 1 && c <= S_COLS - 2) {
                    rc = ql_mdp_add(m, 1.0, -100.0, S_START, 0);
                } else {
                    rc = ql_mdp_add(m, 1.0, -1.0, (size_t)s2, s2 == S_GOAL);
                }
            }
            rc = rc ? ch_err_set(err, CH_ENOMEM, "out of memory") : ql_mdp_close(m, err);
        }
    }
    uint32_t s0 = S_START;
    double one = 1.0;
    if (rc == 0) {
        rc = ql_mdp_set_start(m, &s0, &one, 1, err);
    }
    if (rc == 0) {
        rc = ql_mdp_finish(m, err);
    }
    if (rc) {
        ql_mdp_destroy(&m);
    }
    return m;
}
