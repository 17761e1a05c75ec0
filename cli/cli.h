/* cli.h: the subcommands of the cohort program and their shared helpers.
 * Each command takes argv with argv[0] the subcommand name and returns the
 * process exit status: 0 success, 1 failure, 2 usage error. */
#ifndef CH_CLI_H
#define CH_CLI_H

#include "common/config.h"

#include <stdbool.h>

int ch_cmd_run(int argc, char **argv);
int ch_cmd_coordinator(int argc, char **argv);
int ch_cmd_worker(int argc, char **argv);
int ch_cmd_predict(int argc, char **argv);
int ch_cmd_plan(int argc, char **argv);
int ch_cmd_keygen(int argc, char **argv);

/* True if argv[i] is opt; then *value gets argv[i+1] (and i advances), or
 * a usage error is printed when it is missing. */
bool ch_arg_value(int argc, char **argv, int *i, const char *opt, const char **value, bool *bad);
/* Path of the running executable (for starting local workers). */
const char *ch_self_exe(void);
/* Loads a config file and applies --set overrides; prints the error. */
ch_config *ch_cli_load_config(const char *path, const char *const *sets, int n_sets);
/* Installs SIGINT/SIGTERM handlers that stop the coordinator cleanly. */
void ch_cli_signals(void);

#endif
