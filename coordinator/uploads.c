/* uploads.c: the book of a round's upload offers and grants (see
 * uploads.h). Both lists are short (the grants at most `slots`, the offers
 * at most one per worker and shard), so they are plain arrays searched
 * from the front. */
#include "coordinator/uploads.h"
#include "common/err.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int ch_uploads_init(ch_uploads *u, size_t slots)
{
    memset(u, 0, sizeof *u);
    u->slots = slots;
    if (slots == 0) {
        return 0;
    }
    u->grant = ch_calloc_array(slots, sizeof *u->grant);
    return u->grant ? 0 : CH_ENOMEM;
}

void ch_uploads_free(ch_uploads *u)
{
    free(u->grant);
    free(u->wait);
    memset(u, 0, sizeof *u);
}

static bool s_has(const ch_upload_ref *v, size_t n, int worker, uint32_t shard)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].worker == worker && v[i].shard == shard) {
            return true;
        }
    }
    return false;
}

int ch_uploads_offer(ch_uploads *u, int worker, uint32_t shard)
{
    if (u->slots == 0 || s_has(u->wait, u->n_wait, worker, shard) ||
        s_has(u->grant, u->n_grant, worker, shard)) {
        return 0;
    }
    if (u->n_wait == u->cap_wait) {
        size_t cap = u->cap_wait ? 2 * u->cap_wait : 16;
        size_t bytes;
        if (ch_mul_size(cap, sizeof *u->wait, &bytes) != 0) {
            return CH_ENOMEM;
        }
        ch_upload_ref *w = realloc(u->wait, bytes);
        if (!w) {
            return CH_ENOMEM;
        }
        u->wait = w;
        u->cap_wait = cap;
    }
    u->wait[u->n_wait].worker = worker;
    u->wait[u->n_wait].shard = shard;
    u->n_wait++;
    u->offers++;
    return 0;
}

bool ch_uploads_next(ch_uploads *u, int *worker, uint32_t *shard)
{
    if (u->slots == 0 || u->n_grant >= u->slots || u->n_wait == 0) {
        return false;
    }
    *worker = u->wait[0].worker;
    *shard = u->wait[0].shard;
    u->n_wait--;
    memmove(u->wait, u->wait + 1, u->n_wait * sizeof *u->wait);
    return true;
}

void ch_uploads_grant(ch_uploads *u, int worker, uint32_t shard, int64_t now_ms)
{
    assert(u->n_grant < u->slots); /* ch_uploads_next checked it */
    u->grant[u->n_grant].worker = worker;
    u->grant[u->n_grant].shard = shard;
    u->grant[u->n_grant].at = now_ms;
    u->n_grant++;
    u->grants++;
    if (u->n_grant > u->max_inflight) {
        u->max_inflight = u->n_grant;
    }
}

/* Removes entry i of v[0..*n), keeping the order. */
static void s_remove(ch_upload_ref *v, size_t *n, size_t i)
{
    (*n)--;
    memmove(v + i, v + i + 1, (*n - i) * sizeof *v);
}

/* Index of the oldest grant (grants are appended in time order, but a
 * clock step or a caller's order is not assumed). */
static size_t s_oldest(const ch_uploads *u)
{
    size_t best = 0;
    for (size_t i = 1; i < u->n_grant; i++) {
        if (u->grant[i].at < u->grant[best].at) {
            best = i;
        }
    }
    return best;
}

bool ch_uploads_oldest(const ch_uploads *u, int64_t *at)
{
    if (u->n_grant == 0) {
        return false;
    }
    *at = u->grant[s_oldest(u)].at;
    return true;
}

bool ch_uploads_revoke_older(ch_uploads *u, int64_t before, ch_upload_ref *out)
{
    if (u->n_grant == 0) {
        return false;
    }
    size_t i = s_oldest(u);
    if (u->grant[i].at >= before) {
        return false;
    }
    *out = u->grant[i];
    s_remove(u->grant, &u->n_grant, i);
    u->revoked++;
    return true;
}

bool ch_uploads_release(ch_uploads *u, int worker, uint32_t shard)
{
    for (size_t i = 0; i < u->n_grant; i++) {
        if (u->grant[i].worker == worker && u->grant[i].shard == shard) {
            s_remove(u->grant, &u->n_grant, i);
            return true;
        }
    }
    return false;
}

size_t ch_uploads_forget(ch_uploads *u, int worker)
{
    size_t freed = 0;
    for (size_t i = u->n_grant; i-- > 0;) {
        if (u->grant[i].worker == worker) {
            s_remove(u->grant, &u->n_grant, i);
            freed++;
        }
    }
    for (size_t i = u->n_wait; i-- > 0;) {
        if (u->wait[i].worker == worker) {
            s_remove(u->wait, &u->n_wait, i);
        }
    }
    return freed;
}

size_t ch_uploads_inflight(const ch_uploads *u)
{
    return u->n_grant;
}

size_t ch_uploads_waiting(const ch_uploads *u)
{
    return u->n_wait;
}
