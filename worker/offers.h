/* offers.h: the updates a worker has announced (OFFER) and holds until the
 * coordinator grants their upload (GRANT), under upload flow control
 * (docs/protocol.md). A held update is the packed Update payload, sent as
 * it is when granted; one that was not granted by the time a later round's
 * task or the end of the run comes is dropped. */
#ifndef CH_OFFERS_H
#define CH_OFFERS_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ch_offers ch_offers;

/* An empty set, or NULL when out of memory. */
ch_offers *ch_offers_new(void);
/* Frees the set and every update in it; nulls *o. Accepts NULL. */
void ch_offers_destroy(ch_offers **o);

/* Holds the update of (round, shard): takes payload's bytes (payload is
 * left empty). Returns 0, or CH_ENOMEM (payload is then freed). */
int ch_offers_hold_take(ch_offers *o, uint32_t round, uint32_t shard, ch_buf *payload);
/* Moves the update of (round, shard) into *payload (the caller frees it)
 * and returns true; false when none is held (never offered, or dropped). */
bool ch_offers_take(ch_offers *o, uint32_t round, uint32_t shard, ch_buf *payload);
/* Drops the updates of rounds before `round`. Returns how many. */
size_t ch_offers_drop_before(ch_offers *o, uint32_t round);
size_t ch_offers_count(const ch_offers *o);

#endif
