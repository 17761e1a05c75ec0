/* cmd_worker.c: `cohort worker`: a worker that connects to a coordinator. */
#include "cli/cli.h"
#include "worker/worker.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_help[] =
    "usage: cohort worker --connect ENDPOINT [--data FILE] [--timeout SECONDS]\n"
    "\n"
    "Connects to a coordinator (`cohort coordinator ... --bind ENDPOINT`) and\n"
    "trains on its assignment until the run ends.\n"
    "\n"
    "  --connect ENDPOINT  the coordinator, e.g. tcp://head-node:7000\n"
    "  --data FILE         this silo's own data (partition.scheme: by-file); its\n"
    "                      rows never leave this process\n"
    "  --timeout SECONDS   give up when no coordinator answers (default 60)\n"
    "  --curve-server FILE the coordinator's CURVE public key (NAME.pub from\n"
    "                      `cohort keygen`): encrypt, and check the coordinator\n"
    "  --curve-key FILE    this worker's keypair (NAME.key), when the coordinator\n"
    "                      admits only known workers\n";

int ch_cmd_worker(int argc, char **argv)
{
    ch_worker_opts o = {.rank = -1, .timeout_ms = 60000};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool bad = false;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(s_help, stdout);
            return 0;
        }
        if (ch_arg_value(argc, argv, &i, "--connect", &o.connect, &bad) ||
            ch_arg_value(argc, argv, &i, "--data", &o.data_path, &bad) ||
            ch_arg_value(argc, argv, &i, "--curve-server", &o.curve_server, &bad) ||
            ch_arg_value(argc, argv, &i, "--curve-key", &o.curve_key, &bad)) {
            if (bad) {
                return 2;
            }
        } else if (ch_arg_value(argc, argv, &i, "--timeout", &v, &bad)) {
            char *end;
            double s = bad ? 0 : strtod(v, &end);
            if (bad || *end || !(s > 0) || s > 86400) {
                fprintf(stderr, "cohort worker: --timeout needs seconds, got '%s'\n", v ? v : "");
                return 2;
            }
            o.timeout_ms = (long)(s * 1000);
        } else if (ch_arg_value(argc, argv, &i, "--rank", &v, &bad)) {
            /* set by a local coordinator for the child it started */
            if (bad) {
                return 2;
            }
            o.rank = atoi(v);
        } else if (!strcmp(argv[i], "--local")) {
            o.local = true;
        } else {
            fprintf(stderr, "cohort worker: unknown argument '%s' (see cohort worker --help)\n",
                    argv[i]);
            return 2;
        }
    }
    if (!o.connect) {
        fprintf(stderr, "cohort worker: --connect ENDPOINT is required\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    ch_err err;
    ch_err_clear(&err);
    int rc = ch_worker_main(&o, &err);
    if (rc) {
        /* a local worker's coordinator reports the error (it was sent there) */
        if (!o.local || rc == CH_ETIMEOUT || rc == CH_ELOST) {
            fprintf(stderr, "cohort worker: error: %s\n", err.msg);
        }
        return 1;
    }
    return 0;
}
