/* progress.c: round progress on stderr (see progress.h). */
#include "coordinator/progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void ch_progress_init(ch_progress *p, const char *name, double total_rounds)
{
    memset(p, 0, sizeof *p);
    p->tty = isatty(STDERR_FILENO) == 1;
    p->total = total_rounds > 0 ? total_rounds : 0;
    snprintf(p->name, sizeof p->name, "%s", name ? name : "run");
}

void ch_progress_round(ch_progress *p, uint32_t round, double seconds, const char *const *keys,
                       const double *values, size_t n)
{
    char metrics[256] = "";
    size_t used = 0;
    for (size_t k = 0; k < n && k < 3 && used < sizeof metrics; k++) {
        int w = snprintf(metrics + used, sizeof metrics - used, " %s=%.4g", keys[k], values[k]);
        if (w < 0) {
            break;
        }
        used += (size_t)w;
    }
    if (!p->tty) {
        fprintf(stderr, "%s: round %u done in %.2f s%s\n", p->name, round, seconds, metrics);
        return;
    }
    char bar[32];
    size_t width = sizeof bar - 1;
    double frac = p->total > 0 ? (double)(round + 1) / p->total : 0;
    if (frac > 1) {
        frac = 1;
    }
    size_t fill = (size_t)(frac * (double)width);
    for (size_t i = 0; i < width; i++) {
        bar[i] = i < fill ? '#' : (p->total > 0 ? '.' : ' ');
    }
    bar[width] = 0;
    if (p->total > 0) {
        fprintf(stderr, "\r%s [%s] %u/%.0f%s\033[K", p->name, bar, round + 1, p->total, metrics);
    } else {
        fprintf(stderr, "\r%s round %u%s\033[K", p->name, round + 1, metrics);
    }
    fflush(stderr);
}

void ch_progress_end(ch_progress *p)
{
    if (p->tty) {
        fputc('\n', stderr);
    }
}
