/* registry.h: the coordinator's table of workers: who they are, how to
 * reach them, when they were last heard from, and whether they are lost. */
#ifndef CH_REGISTRY_H
#define CH_REGISTRY_H

#include "common/table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum { CH_W_JOINED = 0, CH_W_READY, CH_W_LOST, CH_W_DONE } ch_wstate;

typedef struct ch_wslot {
    uint8_t routing[256];
    size_t routing_len;
    int index;
    int rank;
    int pid;
    char host[128];
    ch_wstate state;
    int64_t last_seen_ms;
    int shard;           /* the shard this worker holds; -1 once it passed to a rejoiner */
    uint64_t fingerprint; /* by-file: the silo's data, to recognise it when it rejoins */
    uint64_t block_offset; /* by-file: global index of the silo's first block */
    uint64_t rows;       /* by-file: rows in the silo */
    ch_schema *schema;   /* by-file: the silo's columns */
    char lost_reason[256];
} ch_wslot;

typedef struct ch_registry {
    ch_wslot *w;
    size_t n, cap;
} ch_registry;

void ch_registry_init(ch_registry *r);
void ch_registry_free(ch_registry *r);
/* Adds a worker; returns its slot or NULL on allocation failure. */
ch_wslot *ch_registry_add(ch_registry *r, const uint8_t *routing, size_t routing_len);
/* The slot with this index, or NULL (untrusted index from a peer). */
ch_wslot *ch_registry_get(ch_registry *r, int32_t index);
/* Worker by routing id, or NULL. */
ch_wslot *ch_registry_by_routing(ch_registry *r, const uint8_t *routing, size_t len);
size_t ch_registry_live(const ch_registry *r);
/* Marks a worker lost with a reason (kept for messages). */
void ch_registry_lose(ch_wslot *w, const char *reason);
/* "worker 2 (host:pid)" into buf. */
const char *ch_wslot_name(const ch_wslot *w, char *buf, size_t size);

#endif
