/* frozenlake.c: Gymnasium's FrozenLake (toy-text) as an exact MDP: the
 * 4x4 and 8x8 maps, actions left/down/right/up, on a slippery lake the
 * intended move and the two perpendicular ones with probability 1/3 each;
 * reward 1 on reaching the goal; holes and the goal end the episode. */
#include "env.h"

static const char *const s_map4[] = {"SFFF", "FHFH", "FFFH", "HFFG"};
static const char *const s_map8[] = {"SFFFFFFF", "FFFFFFFF", "FFFHFFFF", "FFFFFHFF",
                                     "FFFHFFFF", "FHHFFFHF", "FHFFHFHF", "FFFHFFFG"};

static size_t s_move(int size, size_t s, int dir)
{
    int row = (int)s / size, col = (int)s % size;
    if (dir == 0) {
        col = col > 0 ? col - 1 : 0;
    } else if (dir == 1) {
        row = row < size - 1 ? row + 1 : size - 1;
    } else if (dir == 2) {
        col = col < size - 1 ? col + 1 : size - 1;
    } else {
        row = row > 0 ? row - 1 : 0;
    }
    return (size_t)(row * size + col);
}

ql_mdp *ql_frozenlake_build(int size, bool slippery, long max_steps, ch_err *err)
{
    const char *const *map = size == 8 ? s_map8 : s_map4;
    size_t n = (size_t)size * (size_t)size;
    ql_mdp *m = ql_mdp_new(n, 4, (size_t)max_steps);
    if (!m) {
        ch_err_set(err, CH_ENOMEM, "out of memory building frozenlake");
        return NULL;
    }
    int rc = 0;
    for (size_t s = 0; s < n && rc == 0; s++) {
        char c = map[s / (size_t)size][s % (size_t)size];
        for (int a = 0; a < 4 && rc == 0; a++) {
            if (c == 'H' || c == 'G') {
                rc = ql_mdp_add(m, 1.0, 0.0, s, 1);
            } else {
                for (int k = -1; k <= 1 && rc == 0; k++) {
                    if (!slippery && k != 0) {
                        continue;
                    }
                    size_t s2 = s_move(size, s, (a + k + 4) % 4);
                    char c2 = map[s2 / (size_t)size][s2 % (size_t)size];
                    rc = ql_mdp_add(m, slippery ? 1.0 / 3.0 : 1.0, c2 == 'G' ? 1.0 : 0.0, s2,
                                    c2 == 'G' || c2 == 'H');
                }
            }
            rc = rc ? ch_err_set(err, CH_ENOMEM, "out of memory") : ql_mdp_close(m, err);
        }
    }
    uint32_t s0 = 0;
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
