/* registry.c: the table of workers (see registry.h). */
#include "coordinator/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ch_registry_init(ch_registry *r)
{
    memset(r, 0, sizeof *r);
}

void ch_registry_free(ch_registry *r)
{
    for (size_t i = 0; i < r->n; i++) {
        ch_schema_destroy(&r->w[i].schema);
    }
    free(r->w);
    memset(r, 0, sizeof *r);
}

ch_wslot *ch_registry_add(ch_registry *r, const uint8_t *routing, size_t routing_len)
{
    if (routing_len > sizeof r->w[0].routing) {
        return NULL;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        ch_wslot *w = realloc(r->w, cap * sizeof *w);
        if (!w) {
            return NULL;
        }
        r->w = w;
        r->cap = cap;
    }
    ch_wslot *s = &r->w[r->n];
    memset(s, 0, sizeof *s);
    memcpy(s->routing, routing, routing_len);
    s->routing_len = routing_len;
    s->index = (int)r->n;
    s->shard = (int)r->n;
    r->n++;
    return s;
}

ch_wslot *ch_registry_get(ch_registry *r, int32_t index)
{
    if (index < 0 || (size_t)index >= r->n) {
        return NULL;
    }
    return &r->w[index];
}

ch_wslot *ch_registry_by_routing(ch_registry *r, const uint8_t *routing, size_t len)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->w[i].routing_len == len && memcmp(r->w[i].routing, routing, len) == 0) {
            return &r->w[i];
        }
    }
    return NULL;
}

size_t ch_registry_live(const ch_registry *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        n += r->w[i].state == CH_W_JOINED || r->w[i].state == CH_W_READY;
    }
    return n;
}

void ch_registry_lose(ch_wslot *w, const char *reason)
{
    w->state = CH_W_LOST;
    snprintf(w->lost_reason, sizeof w->lost_reason, "%s", reason);
}

const char *ch_wslot_name(const ch_wslot *w, char *buf, size_t size)
{
    snprintf(buf, size, "worker %d (%s pid %d)", w->index, w->host[0] ? w->host : "?", w->pid);
    return buf;
}
