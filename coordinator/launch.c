/* launch.c: starting and reaping local worker processes (see launch.h). */
#include "coordinator/launch.h"
#include "common/wire.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int ch_children_start(ch_children *c, const char *exe, const char *endpoint, size_t n, ch_err *err)
{
    memset(c, 0, sizeof *c);
    c->pid = calloc(n ? n : 1, sizeof *c->pid);
    c->status = calloc(n ? n : 1, sizeof *c->status);
    c->reaped = calloc(n ? n : 1, sizeof *c->reaped);
    if (!c->pid || !c->status || !c->reaped) {
        ch_children_free(c);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    /* Workers run BLAS on one thread (worker.c); saying so before OpenBLAS
     * loads keeps it from starting an idle thread that spins for the first
     * tenth of a second, on cores the workers share. Built here: after fork
     * the child only executes. */
    extern char **environ;
    size_t n_env = 0;
    while (environ[n_env]) {
        n_env++;
    }
    char **envp = calloc(n_env + 2, sizeof *envp);
    if (!envp) {
        ch_children_free(c);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t j = 0; j < n_env; j++) {
        if (strncmp(environ[j], "OPENBLAS_NUM_THREADS=", 21) != 0) {
            envp[k++] = environ[j];
        }
    }
    envp[k] = (char *)"OPENBLAS_NUM_THREADS=1";
    pid_t parent = getpid();
    for (size_t i = 0; i < n; i++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            int e = errno;
            ch_children_stop(c, 0);
            free(envp);
            return ch_err_set(err, CH_EIO, "cannot start worker %zu: fork: %s", i, strerror(e));
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent) {
                _exit(3);
            }
            char idx[32];
            snprintf(idx, sizeof idx, "%zu", i);
            char *argv[] = {(char *)exe, "worker", "--connect", (char *)endpoint,
                            "--local",   "--rank", idx,         NULL};
            execve(exe, argv, envp);
            fprintf(stderr, "worker %zu: cannot execute %s: %s\n", i, exe, strerror(errno));
            _exit(127);
        }
        c->pid[i] = pid;
        c->n = i + 1;
    }
    free(envp);
    return 0;
}

size_t ch_children_poll(ch_children *c)
{
    size_t found = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->reaped[i]) {
            continue;
        }
        int st;
        pid_t r = waitpid(c->pid[i], &st, WNOHANG);
        if (r == c->pid[i]) {
            c->reaped[i] = true;
            c->status[i] = st;
            found++;
        }
    }
    return found;
}

bool ch_children_dead(const ch_children *c, size_t i, char *why, size_t size)
{
    if (i >= c->n || !c->reaped[i]) {
        return false;
    }
    int st = c->status[i];
    if (WIFSIGNALED(st)) {
        snprintf(why, size, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    } else {
        snprintf(why, size, "exited with status %d", WEXITSTATUS(st));
    }
    return true;
}

void ch_children_stop(ch_children *c, int grace_ms)
{
    int64_t end = ch_now_ms() + grace_ms;
    for (;;) {
        ch_children_poll(c);
        size_t alive = 0;
        for (size_t i = 0; i < c->n; i++) {
            alive += !c->reaped[i];
        }
        if (alive == 0 || ch_now_ms() >= end) {
            break;
        }
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < c->n; i++) {
        if (!c->reaped[i]) {
            kill(c->pid[i], SIGKILL);
            int st;
            while (waitpid(c->pid[i], &st, 0) < 0 && errno == EINTR) {
            }
            c->reaped[i] = true;
            c->status[i] = st;
        }
    }
}

void ch_children_free(ch_children *c)
{
    if (c) {
        free(c->pid);
        free(c->status);
        free(c->reaped);
        memset(c, 0, sizeof *c);
    }
}

pid_t ch_spawn_run(const char *exe, const char *yaml, const char *out_dir, long n_workers,
                   const char *log_path)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) {
        return pid;
    }
    if (log_path) {
        FILE *f = fopen(log_path, "w");
        if (f) {
            dup2(fileno(f), 1);
            dup2(fileno(f), 2);
        }
    }
    char w[32];
    snprintf(w, sizeof w, "%ld", n_workers);
    if (n_workers > 0) {
        execl(exe, exe, "run", yaml, "--out", out_dir, "--workers", w, (char *)NULL);
    } else {
        execl(exe, exe, "run", yaml, "--out", out_dir, (char *)NULL);
    }
    _exit(127);
}
