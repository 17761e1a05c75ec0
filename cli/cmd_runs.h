/* cmd_runs.h: `cohort runs`: list, show, compare and export tracked runs. */
#ifndef CH_CMD_RUNS_H
#define CH_CMD_RUNS_H

/* Runs the `runs` subcommand; argv[0] is "runs", argv[1] the action (list,
 * show, compare, export). Tables go to stdout, a one-line error to stderr.
 * Returns the process exit status: 0 on success, 1 when the database is
 * missing or unreadable or a run is not found, 2 on a usage error. */
int ch_cmd_runs(int argc, char **argv);

#endif
