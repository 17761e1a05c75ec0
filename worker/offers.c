/* offers.c: a worker's announced updates awaiting a grant (see offers.h).
 * A worker holds one shard in almost every round, so a short array. */
#include "worker/offers.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

typedef struct s_held {
    uint32_t round, shard;
    ch_buf payload;
} s_held;

struct ch_offers {
    s_held *v;
    size_t n, cap;
};

ch_offers *ch_offers_new(void)
{
    return calloc(1, sizeof(ch_offers));
}

void ch_offers_destroy(ch_offers **o)
{
    if (!o || !*o) {
        return;
    }
    for (size_t i = 0; i < (*o)->n; i++) {
        ch_buf_free(&(*o)->v[i].payload);
    }
    free((*o)->v);
    free(*o);
    *o = NULL;
}

int ch_offers_hold_take(ch_offers *o, uint32_t round, uint32_t shard, ch_buf *payload)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 4, bytes;
        s_held *v = NULL;
        if (ch_mul_size(cap, sizeof *v, &bytes) == 0) {
            v = realloc(o->v, bytes);
        }
        if (!v) {
            ch_buf_free(payload);
            return CH_ENOMEM;
        }
        o->v = v;
        o->cap = cap;
    }
    s_held *h = &o->v[o->n++];
    h->round = round;
    h->shard = shard;
    h->payload = *payload;
    ch_buf_init(payload);
    return 0;
}

static void s_remove(ch_offers *o, size_t i)
{
    o->n--;
    memmove(o->v + i, o->v + i + 1, (o->n - i) * sizeof *o->v);
}

bool ch_offers_take(ch_offers *o, uint32_t round, uint32_t shard, ch_buf *payload)
{
    for (size_t i = 0; i < o->n; i++) {
        if (o->v[i].round == round && o->v[i].shard == shard) {
            *payload = o->v[i].payload;
            s_remove(o, i);
            return true;
        }
    }
    return false;
}

size_t ch_offers_drop_before(ch_offers *o, uint32_t round)
{
    size_t dropped = 0;
    for (size_t i = o->n; i-- > 0;) {
        if (o->v[i].round < round) {
            ch_buf_free(&o->v[i].payload);
            s_remove(o, i);
            dropped++;
        }
    }
    return dropped;
}

size_t ch_offers_count(const ch_offers *o)
{
    return o->n;
}
