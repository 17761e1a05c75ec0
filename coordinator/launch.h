/* launch.h: local mode: the coordinator starts its workers as child
 * processes (fork + exec of this program) and reaps every one of them, on
 * success and on failure, so no orphan or zombie is left behind. */
#ifndef CH_LAUNCH_H
#define CH_LAUNCH_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct ch_children {
    pid_t *pid;
    int *status; /* wait status once reaped */
    bool *reaped;
    size_t n;
} ch_children;

/* Starts n workers: `exe worker --connect endpoint --local`. Each child dies
 * with its parent (PR_SET_PDEATHSIG). On failure the ones already started
 * are killed and reaped. */
int ch_children_start(ch_children *c, const char *exe, const char *endpoint, size_t n,
                      ch_err *err);
/* Reaps any child that has exited (non-blocking). Returns the number of
 * children newly found dead; their slots are marked reaped. */
size_t ch_children_poll(ch_children *c);
/* True if child i has exited; *why describes how ("exit status 1", "killed
 * by signal 9"). */
bool ch_children_dead(const ch_children *c, size_t i, char *why, size_t size);
/* Waits up to grace_ms for all children to exit, then SIGKILLs the rest and
 * reaps them. Always leaves no child unreaped. */
void ch_children_stop(ch_children *c, int grace_ms);
void ch_children_free(ch_children *c);

/* Starts `exe run yaml --out out_dir [--workers n]` as a child process
 * whose standard output and error go to log_path (NULL: inherited).
 * Returns its pid, or -1 (errno set). The caller reaps it. */
pid_t ch_spawn_run(const char *exe, const char *yaml, const char *out_dir, long n_workers,
                   const char *log_path);

#endif
