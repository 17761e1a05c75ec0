/* taxi.c: Gymnasium's Taxi (toy-text, Dietterich 2000) as an exact MDP: a
 * 5x5 grid with walls, four stands R, G, Y, B; state ((row*5 + col)*5 +
 * passenger)*4 + destination, passenger 4 meaning in the taxi; actions
 * south, north, east, west, pickup, dropoff; reward -1 per step, +20 for the
 * delivery (which ends the episode), -10 for an illegal pickup or dropoff.
 * Episodes start uniformly among the 300 states with the passenger waiting
 * at a stand other than the destination. */
#include "env.h"

#include <stdlib.h>

static const char *const s_desc[] = {"+---------+", "|R: | : :G|", "| : | : : |", "| : : : : |",
                                     "| | : | : |", "|Y| : |B: |", "+---------+"};
static const int s_loc[4][2] = {{0, 0}, {0, 4}, {4, 0}, {4, 3}};

static size_t s_encode(int row, int col, int pass, int dest)
{
    return (size_t)(((row * 5 + col) * 5 + pass) * 4 + dest);
}

static int s_stand(int row, int col)
{
    for (int i = 0; i < 4; i++) {
        if (s_loc[i][0] == row && s_loc[i][1] == col) {
            return i;
        }
    }
    return -1;
}

ql_mdp *ql_taxi_build(long max_steps, ch_err *err)
{
    ql_mdp *m = ql_mdp_new(500, 6, (size_t)max_steps);
    if (!m) {
        ch_err_set(err, CH_ENOMEM, "out of memory building taxi");
        return NULL;
    }
    int rc = 0;
    for (int row = 0; row < 5; row++) {
        for (int col = 0; col < 5; col++) {
            for (int pass = 0; pass < 5; pass++) {
                for (int dest = 0; dest < 4; dest++) {
                    for (int a = 0; a < 6 && rc == 0; a++) {
                        int r2 = row, c2 = col, p2 = pass, done = 0;
                        double rew = -1;
                        int stand = s_stand(row, col);
                        if (a == 0) {
                            r2 = row < 4 ? row + 1 : 4;
                        } else if (a == 1) {
                            r2 = row > 0 ? row - 1 : 0;
                        } else if (a == 2 && s_desc[1 + row][2 * col + 2] == ':') {
                            c2 = col < 4 ? col + 1 : 4;
                        } else if (a == 3 && s_desc[1 + row][2 * col] == ':') {
                            c2 = col > 0 ? col - 1 : 0;
                        } else if (a == 4) {
                            if (pass < 4 && stand == pass) {
                                p2 = 4;
                            } else {
                                rew = -10;
                            }
                        } else if (a == 5) {
                            if (stand == dest && pass == 4) {
                                p2 = dest;
                                done = 1;
                                rew = 20;
                            } else if (stand >= 0 && pass == 4) {
                                p2 = stand;
                            } else {
                                rew = -10;
                            }
                        }
                        rc = ql_mdp_add(m, 1.0, rew, s_encode(r2, c2, p2, dest), done);
                        rc =
                            rc ? ch_err_set(err, CH_ENOMEM, "out of memory") : ql_mdp_close(m, err);
                    }
                }
            }
        }
    }
    uint32_t st[300];
    double p[300];
    size_t n = 0;
    for (int row = 0; row < 5; row++) {
        for (int col = 0; col < 5; col++) {
            for (int pass = 0; pass < 4; pass++) {
                for (int dest = 0; dest < 4; dest++) {
                    if (pass != dest) {
                        st[n] = (uint32_t)s_encode(row, col, pass, dest);
                        p[n++] = 1.0 / 300.0;
                    }
                }
            }
        }
    }
    if (rc == 0) {
        rc = ql_mdp_set_start(m, st, p, n, err);
    }
    if (rc == 0) {
        rc = ql_mdp_finish(m, err);
    }
    if (rc) {
        ql_mdp_destroy(&m);
    }
    return m;
}
