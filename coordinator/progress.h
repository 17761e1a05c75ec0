/* progress.h: the coordinator's progress display on stderr: a bar redrawn
 * in place when stderr is a terminal, one plain line per round otherwise
 * (logs, CI). */
#ifndef CH_PROGRESS_H
#define CH_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ch_progress {
    bool tty;
    double total; /* expected rounds, 0 if unknown */
    char name[64];
} ch_progress;

void ch_progress_init(ch_progress *p, const char *name, double total_rounds);
/* One round done: keys/values are the round's metrics. */
void ch_progress_round(ch_progress *p, uint32_t round, double seconds, const char *const *keys,
                       const double *values, size_t n);
/* Ends the bar line (a newline on a terminal). */
void ch_progress_end(ch_progress *p);

#endif
