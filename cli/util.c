/* util.c: helpers shared by the subcommands (see cli.h). */
#include "cli/cli.h"
#include "coordinator/engine.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool ch_arg_value(int argc, char **argv, int *i, const char *opt, const char **value, bool *bad)
{
    size_t n = strlen(opt);
    if (strncmp(argv[*i], opt, n) == 0 && argv[*i][n] == '=') {
        *value = argv[*i] + n + 1;
        return true;
    }
    if (strcmp(argv[*i], opt) != 0) {
        return false;
    }
    if (*i + 1 >= argc) {
        fprintf(stderr, "cohort %s: %s needs a value\n", argv[0], opt);
        *bad = true;
        return true;
    }
    *value = argv[++*i];
    return true;
}

const char *ch_self_exe(void)
{
    static char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) {
        return "cohort";
    }
    path[n] = 0;
    return path;
}

ch_config *ch_cli_load_config(const char *path, const char *const *sets, int n_sets)
{
    ch_err err;
    ch_err_clear(&err);
    ch_config *cfg = ch_config_load(path, &err);
    if (!cfg) {
        fprintf(stderr, "cohort: %s\n", err.msg);
        return NULL;
    }
    for (int k = 0; k < n_sets; k++) {
        if (ch_config_set(cfg, sets[k], &err) != 0) {
            fprintf(stderr, "cohort: --set %s: %s\n", sets[k], err.msg);
            ch_config_destroy(&cfg);
            return NULL;
        }
    }
    return cfg;
}

static void s_on_signal(int sig)
{
    (void)sig;
    ch_engine_request_stop();
}

void ch_cli_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
