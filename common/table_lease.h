/* table_lease.h: the engine's hold on a process's training table, which an
 * algorithm may give back once it has taken what it needs (its own copy,
 * a CSR, a cell of points), so the parsed table is not held through the
 * whole run; a later step that needs rows again reads the table again.
 *
 * The lease does not own the table: it manages a slot the engine owns (the
 * experiment's `train`). Releasing frees the table and nulls the slot;
 * getting it after a release calls the loader, which must produce the same
 * table (the same file read the same way): the reloaded table's
 * fingerprint is compared with the one taken at release, and a different
 * table is an error (the file changed during the run).
 *
 * Without a loader (a by-file silo's conformed table, a unit test's table)
 * the lease never frees the table: release keeps it and get returns it. */
#ifndef CH_TABLE_LEASE_H
#define CH_TABLE_LEASE_H

#include "common/err.h"
#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reads the table again into *out (a new table the slot then owns).
 * Returns 0 or a negative error with err set. */
typedef int (*ch_table_loader)(void *ctx, ch_table **out, ch_err *err);

typedef struct ch_table_lease ch_table_lease;

/* A lease over *slot (which must hold a table). load may be NULL: the
 * table is then never freed. Returns NULL when out of memory. */
ch_table_lease *ch_table_lease_new(ch_table **slot, ch_table_loader load, void *ctx);
/* Frees the lease (not the table) and nulls the caller's pointer. Accepts
 * NULL. */
void ch_table_lease_destroy(ch_table_lease **l);

/* The table, read again if it was released. NULL with err set when the
 * reload fails or reads different data. */
const ch_table *ch_table_lease_get(ch_table_lease *l, ch_err *err);
/* Frees the table if the lease can read it again; a no-op otherwise and on
 * NULL. Pointers into the table are invalid afterwards. Can't fail. */
void ch_table_lease_release(ch_table_lease *l);

/* ch_table_fingerprint of the table, computed once (a pass over every
 * value) and kept: the engine's data check and the release's reload check
 * share it. The first call must come while the table is held (a release
 * takes it before freeing the table, so it is known after any release). */
uint64_t ch_table_lease_fingerprint(ch_table_lease *l);

/* Whether the table is in memory now. */
bool ch_table_lease_held(const ch_table_lease *l);
/* How many times the table was released and how many times read again
 * (for tests and the debug log). */
size_t ch_table_lease_releases(const ch_table_lease *l);
size_t ch_table_lease_reloads(const ch_table_lease *l);

#endif
