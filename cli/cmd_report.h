/* cmd_report.h: `cohort report DIR`: regenerate a run's report.html (or the
 * index page of a directory of runs) from the files on disk. */
#ifndef CH_CMD_REPORT_H
#define CH_CMD_REPORT_H

/* Runs the `report` subcommand; argv[0] is "report". With a run directory
 * (summary.json or events.jsonl in it) it rewrites DIR/report.html; with a
 * directory whose subdirectories are runs (a workflow or sweep) it rewrites
 * every run's report.html and DIR/index.html ranking them by --metric.
 * Prints the path written on stdout, a one-line error on stderr. Returns the
 * exit status: 0 success, 1 failure, 2 usage error. */
int ch_cmd_report(int argc, char **argv);

#endif
