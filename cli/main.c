/* main.c: the cohort program: one binary whose role comes from its
 * subcommand (and, for `run`, from whether mpirun started it). */
#include "algorithms/algo.h"
#include "cli/cli.h"
#include "cli/cmd_report.h"
#include "cli/cmd_runs.h"
#include "cli/cmd_watch.h"
#include "common/wire.h"

#include <stdio.h>
#include <string.h>

static const char s_help[] =
    "cohort: distributed machine-learning training\n"
    "\n"
    "usage: cohort COMMAND [ARGS] (cohort COMMAND --help for each)\n"
    "\n"
    "  run FILE.yaml         run an experiment (local workers, or under mpirun)\n"
    "  coordinator FILE.yaml run a standalone coordinator for remote workers\n"
    "  worker                join a coordinator as a worker or federated silo\n"
    "  plan FILE.yaml        validate and show the resolved plan and resources\n"
    "  predict               apply a saved model to a data file\n"
    "  runs                  list, show, compare and export tracked runs\n"
    "  watch ENDPOINT|DIR    follow a run's progress live\n"
    "  report DIR            regenerate a run's report.html\n"
    "  algorithms            list the algorithms\n"
    "  keygen NAME           make a CURVE keypair for encrypted silos\n"
    "  version               print the version\n"
    "\n"
    "Quick start: cohort run examples/ols.yaml --workers 2\n"
    "             cohort run examples/day.yaml      (a workflow of experiments)\n";

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(s_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    if (!strcmp(cmd, "run")) {
        return ch_cmd_run(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "coordinator")) {
        return ch_cmd_coordinator(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "worker")) {
        return ch_cmd_worker(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "predict")) {
        return ch_cmd_predict(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "report")) {
        return ch_cmd_report(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "watch")) {
        return ch_cmd_watch(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "keygen")) {
        return ch_cmd_keygen(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "plan")) {
        return ch_cmd_plan(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "runs")) {
        return ch_cmd_runs(sub_argc, sub_argv);
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            printf("usage: cohort version\n\nPrints the program's version and the wire protocol "
                   "version it speaks\n(workers and coordinators must speak the same one).\n");
            return 0;
        }
        printf("cohort %s (protocol %d)\n", COHORT_VERSION, CH_PROTOCOL_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "algorithms")) {
        if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            printf("usage: cohort algorithms\n\nLists every model.algorithm with a line on "
                   "what it does.\n");
            return 0;
        }
        for (const char *const *n = ch_algo_names(); *n; n++) {
            printf("%-20s %s\n", *n, ch_algo_find(*n)->summary);
        }
        return 0;
    }
    fprintf(stderr, "cohort: unknown command '%s' (see cohort --help)\n", cmd);
    return 2;
}
