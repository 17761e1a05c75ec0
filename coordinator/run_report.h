/* run_report.h: report.html of a finished (or failed) run, and the index
 * page of a workflow, compare step or sweep, built only from the files a run
 * leaves in its directory, so either can be regenerated at any time
 * (`cohort report DIR`). */
#ifndef CH_RUN_REPORT_H
#define CH_RUN_REPORT_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>

/* Writes run_dir/report.html (atomically) from run_dir's summary.json,
 * events.jsonl, model.pb and config.yaml: title (run name and algorithm),
 * status line, run facts, final metrics, metric curves (one SVG line chart
 * per metric family from the round.end events: train_X, validation_X,
 * valid_X, val_X and test_X share X's chart; x is the round), worker events,
 * the data schema and the algorithm's own sections (its report hook, or its
 * describe text), and the resolved config.
 *
 * Any file but summary.json or events.jsonl may be missing: a failed run
 * without model.pb still gets a report showing its error. Unreadable lines
 * of events.jsonl (a run killed mid-write) are skipped and counted on the
 * page. Returns 0, or an error naming the file: CH_ENOTFOUND when run_dir
 * has neither summary.json nor events.jsonl, CH_EINVAL for a malformed
 * summary.json ("DIR/summary.json:LINE:COL: ..."), CH_EIO when report.html
 * cannot be written (the previous one is then untouched), CH_ENOMEM. */
int ch_run_report(const char *run_dir, ch_err *err);

/* Writes dir/index.html (atomically): title, the runs ranked by `metric`
 * (a key of summary.json's "metrics"; NULL or "" for the first metric the
 * first run has) best first, goal_max choosing whether larger is better, the
 * best run marked in the table and highlighted in a bar chart, and links to
 * every run's report.html relative to dir. labels[i] names run_dirs[i] (NULL
 * labels, or a NULL label, use the run's name from summary.json). A run
 * without a summary.json or without the metric is listed last with "n/a". A
 * run whose report.html is missing gets one first (ch_run_report; a failure
 * there is noted on the page, not returned). dir must exist. Returns 0 or an
 * error as ch_run_report does. */
int ch_index_report(const char *dir, const char *title, const char *const *run_dirs,
                    const char *const *labels, size_t n, const char *metric, int goal_max,
                    ch_err *err);

/* The same, with every run placed on a numeric axis (x[i] the value of the
 * one parameter a sweep varies, named x_name): the index also draws each
 * final metric against it (an elbow chart for a sweep over model.k). x_name
 * NULL: as ch_index_report. */
int ch_index_report_axis(const char *dir, const char *title, const char *const *run_dirs,
                         const char *const *labels, size_t n, const char *metric, int goal_max,
                         const char *x_name, const double *x, ch_err *err);

#endif
