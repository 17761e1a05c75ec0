/* cmd_watch.h: `cohort watch ENDPOINT|RUN_DIR`: follow a run's events live. */
#ifndef CH_CMD_WATCH_H
#define CH_CMD_WATCH_H

/* Runs the `watch` subcommand; argv[0] is "watch". Subscribes to a
 * coordinator's event socket (given, or read from RUN_DIR/endpoints.json)
 * and shows progress until every run it saw has ended: a redrawn status when
 * stdout is a terminal, one line per event otherwise. Returns the exit
 * status: 0 when the runs finished, 1 when a run ended failed or killed, on
 * --timeout or on an error, 2 on a usage error. */
int ch_cmd_watch(int argc, char **argv);

#endif
