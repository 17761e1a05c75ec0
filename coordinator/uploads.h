/* uploads.h: upload flow control, the coordinator's book of one round's
 * offers and grants. A worker whose update is ready announces it (OFFER);
 * the coordinator grants at most `slots` uploads at a time (GRANT), in the
 * order the offers came, and frees a slot when that update has been taken
 * (checked and aggregated, or refused) or its worker is gone. So at most
 * `slots` updates are on their way or waiting in ZeroMQ's buffers, however
 * many workers finish together (docs/protocol.md, "Upload flow control").
 * This table only keeps the books; the engine sends the messages. */
#ifndef CH_UPLOADS_H
#define CH_UPLOADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ch_upload_ref {
    int worker;
    uint32_t shard;
    int64_t at; /* a grant: when it was sent (ms, ch_now_ms) */
} ch_upload_ref;

typedef struct ch_uploads {
    size_t slots;         /* uploads granted at once; 0: no flow control */
    ch_upload_ref *grant; /* granted, not yet taken (at most slots) */
    size_t n_grant;
    ch_upload_ref *wait; /* offers not yet granted, oldest first */
    size_t n_wait, cap_wait;
    size_t max_inflight;   /* the most grants outstanding at once */
    size_t offers, grants; /* counted over the round */
    size_t revoked;        /* grants revoked for taking too long */
} ch_uploads;

/* An empty book for `slots` slots (0: flow control off; every call below
 * is then a no-op). Returns 0 or CH_ENOMEM. */
int ch_uploads_init(ch_uploads *u, size_t slots);
/* Frees the storage; the book is empty. Accepts a zeroed book. */
void ch_uploads_free(ch_uploads *u);

/* Worker `worker` has the update of `shard` ready. Queued behind the
 * offers already waiting; an offer already waiting or granted is ignored.
 * Returns 0 or CH_ENOMEM. */
int ch_uploads_offer(ch_uploads *u, int worker, uint32_t shard);

/* When a slot is free and an offer waits: removes the oldest offer into
 * *worker and *shard and returns true. The caller grants it
 * (ch_uploads_grant) or drops it (no longer wanted). */
bool ch_uploads_next(ch_uploads *u, int *worker, uint32_t *shard);
/* Takes a slot for (worker, shard), after ch_uploads_next gave it, at time
 * now_ms. */
void ch_uploads_grant(ch_uploads *u, int worker, uint32_t shard, int64_t now_ms);

/* When the oldest outstanding grant was sent: false when there is none. */
bool ch_uploads_oldest(const ch_uploads *u, int64_t *at);
/* Revokes the oldest grant sent before `before` (ms): frees its slot and
 * returns it in *out; false when no grant is that old. A worker granted an
 * upload that does not come (hung with its heartbeat alive) then holds no
 * slot; if its update comes later it is taken as one without a grant. */
bool ch_uploads_revoke_older(ch_uploads *u, int64_t before, ch_upload_ref *out);

/* The update of (worker, shard) was taken: frees its slot. Returns whether
 * it held one (an update sent without a grant holds none). */
bool ch_uploads_release(ch_uploads *u, int worker, uint32_t shard);
/* The worker is gone: frees its slots and drops its waiting offers.
 * Returns the number of slots freed. */
size_t ch_uploads_forget(ch_uploads *u, int worker);

/* Grants outstanding, and offers still waiting. */
size_t ch_uploads_inflight(const ch_uploads *u);
size_t ch_uploads_waiting(const ch_uploads *u);

#endif
