/* tracking.h: the experiment-tracking store (SQLite at runs/cohort.db).
 *
 * One ch_track handle per process (or per thread: a handle is not shared
 * between threads). Many processes may write to the same file at once; the
 * store runs in WAL mode with a busy timeout and a bounded retry, so
 * concurrent trials of a sweep lose no metric point. The schema is written
 * out at the top of tracking.c and in docs/tracking.md.
 *
 * Every action returns 0 or a negative CH_E* code and leaves a message on the
 * ch_err (which may be NULL). Strings handed in are copied by SQLite; the
 * caller keeps ownership of them. Query results are owned by the caller and
 * released with the matching _free function. */
#ifndef CH_TRACKING_H
#define CH_TRACKING_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

/* The schema version this code writes (schema_version table). */
#define CH_TRACK_SCHEMA_VERSION 1

typedef struct ch_track ch_track;

/* One row of the runs table joined with its experiment name. Times are Unix
 * seconds (REAL); end_time is NAN while a run has no end. Absent text columns
 * (git_commit, ...) are NULL. */
typedef struct ch_track_run {
    char *id;
    char *experiment;
    char *name;
    char *status; /* running | finished | failed | killed */
    char *algorithm;
    char *host;
    char *run_dir;
    char *config_yaml;
    char *git_commit;
    double start_time;
    double end_time;
    int64_t pid;
} ch_track_run;

/* A key and a text value (params; artifacts use key = name, value = path). */
typedef struct ch_track_kv {
    char *key;
    char *value;
} ch_track_kv;

/* The latest point of one metric of a run, and how many points it has. */
typedef struct ch_track_last {
    char *key;
    int64_t step;
    double value; /* NAN if the stored value was NaN (stored as NULL) */
    int64_t count;
} ch_track_last;

/* Opens (creating if missing) the store at `path`. The directory must exist:
 * the caller creates runs/. Sets WAL mode, creates the tables if missing and
 * marks runs left 'running' by a dead process on this host as 'killed'.
 * Returns NULL on failure with a message naming the file: a corrupt file or
 * one that is not a database says to move it aside; a database locked for
 * longer than the retry budget says so; a database from a newer cohort says
 * to upgrade. */
ch_track *ch_track_open(const char *path, ch_err *err);

/* Closes the store and sets *t to NULL. Accepts NULL and a NULL *t. */
void ch_track_close(ch_track **t);

/* The path the store was opened with. Never NULL. */
const char *ch_track_path(const ch_track *t);

/* Writes a new run id "YYYYMMDD-HHMMSS-<name>-<4 hex>" (local time, 4 random
 * hex digits from /dev/urandom, or from pid and clock if that fails) into buf.
 * Characters of `name` other than [A-Za-z0-9._-] become '-'; NULL or empty
 * name gives "run". Returns 0, or CH_EINVAL if buf is too small (buf then
 * holds a truncated, NUL-terminated id). 48 bytes plus the name is enough. */
int ch_track_new_run_id(const char *name, char *buf, size_t size);

/* Records the start of a run: creates the experiment if it is new and inserts
 * the run as 'running' with this host, pid and the current time. The run's
 * name is the experiment name (ch_track_run_set_name changes it). If run_id
 * already exists (a resumed run) it is marked running again under this
 * process and its params and metrics are kept. algorithm, run_dir and
 * config_yaml may be NULL. */
int ch_track_run_begin(ch_track *t, const char *experiment_name, const char *run_id,
                       const char *algorithm, const char *run_dir, const char *config_yaml,
                       ch_err *err);

/* Sets the run's display name. */
int ch_track_run_set_name(ch_track *t, const char *run_id, const char *name, ch_err *err);

/* Sets the git commit the config came from (NULL clears it). */
int ch_track_run_set_git_commit(ch_track *t, const char *run_id, const char *commit, ch_err *err);

/* Records the end of a run: status is "finished", "failed" or "killed"
 * (anything else is CH_EINVAL); sets end_time to now. CH_ENOTFOUND if the run
 * was never begun. */
int ch_track_run_end(ch_track *t, const char *run_id, const char *status, ch_err *err);

/* Sets a parameter (a later value for the same key replaces the earlier). */
int ch_track_param(ch_track *t, const char *run_id, const char *key, const char *value,
                   ch_err *err);

/* Logs one metric point with the current wall time. A second point for the
 * same (run, key, step) replaces the first, so a resumed run that repeats a
 * step leaves one point. NaN is stored as NULL. */
int ch_track_metric(ch_track *t, const char *run_id, const char *key, int64_t step, double value,
                    ch_err *err);

/* Logs n metric points in one transaction (all or none). keys, steps and
 * values are parallel arrays of length n. Use this from a training loop: one
 * transaction per round costs about as much as one point. */
int ch_track_metrics(ch_track *t, const char *run_id, size_t n, const char *const keys[],
                     const int64_t steps[], const double values[], ch_err *err);

/* Records an artifact (a file the run wrote) by name; replaces the path of an
 * artifact with the same name. */
int ch_track_artifact(ch_track *t, const char *run_id, const char *name, const char *path,
                      ch_err *err);

/* Appends an event: time in Unix seconds, a topic ("round.end") and its JSON
 * body (stored as text, not parsed). */
int ch_track_event(ch_track *t, const char *run_id, double time, const char *topic,
                   const char *json, ch_err *err);

/* --- queries (for the CLI and reports) ----------------------------------- */

/* Lists runs, newest first, at most `limit` of them (0 = all). On success
 * *out is an array of *n runs the caller frees with ch_track_runs_free. */
int ch_track_runs_list(ch_track *t, size_t limit, ch_track_run **out, size_t *n, ch_err *err);

/* Looks up one run by its id or by a prefix that matches exactly one id.
 * CH_ENOTFOUND if none matches, CH_EINVAL (message lists two matches) if the
 * prefix is ambiguous. Free *out with ch_track_run_clear. */
int ch_track_run_get(ch_track *t, const char *id, ch_track_run *out, ch_err *err);

/* Releases the strings of one run and zeroes it. Accepts NULL. */
void ch_track_run_clear(ch_track_run *r);

/* Releases an array from ch_track_runs_list and sets *runs to NULL. Accepts
 * NULL and a NULL *runs. */
void ch_track_runs_free(ch_track_run **runs, size_t n);

/* The run's params sorted by key. Free with ch_track_kvs_free. */
int ch_track_params_get(ch_track *t, const char *run_id, ch_track_kv **out, size_t *n, ch_err *err);

/* The run's artifacts (key = name, value = path) sorted by name. */
int ch_track_artifacts_get(ch_track *t, const char *run_id, ch_track_kv **out, size_t *n,
                           ch_err *err);

/* Releases a kv array and sets *kvs to NULL. Accepts NULL. */
void ch_track_kvs_free(ch_track_kv **kvs, size_t n);

/* For each metric key of the run, the point with the highest step and the
 * number of points, sorted by key. Free with ch_track_lasts_free. */
int ch_track_metrics_last(ch_track *t, const char *run_id, ch_track_last **out, size_t *n,
                          ch_err *err);

/* Releases a ch_track_last array and sets *lasts to NULL. Accepts NULL. */
void ch_track_lasts_free(ch_track_last **lasts, size_t n);

/* One metric's series ordered by step: *steps and *values are parallel arrays
 * of *n entries the caller frees with free(). *n = 0 (and NULL arrays) when
 * the run has no such metric; that is not an error. */
int ch_track_metric_series(ch_track *t, const char *run_id, const char *key, int64_t **steps,
                           double **values, size_t *n, ch_err *err);

/* Number of rows in the metrics table, for one run or (run_id NULL) for all.
 * Returns the count, or a negative CH_E* code. */
int64_t ch_track_metric_count(ch_track *t, const char *run_id, ch_err *err);

#endif
