/* tracking.c: the experiment-tracking store in SQLite (see tracking.h).
 *
 * Schema (version 1; docs/tracking.md has the same text with examples).
 * Times are Unix seconds as REAL: datetime(start_time, 'unixepoch') in
 * sqlite3, pd.to_datetime(df.start_time, unit="s") in pandas.
 *
 *   schema_version(version INTEGER, applied REAL)   one row per applied version
 *   experiments(id INTEGER PRIMARY KEY, name TEXT UNIQUE, created REAL)
 *   runs(id TEXT PRIMARY KEY            "20261203-184501-churn-gbt-3f2a"
 *        experiment_id INTEGER          -> experiments.id
 *        name TEXT,
 *        status TEXT                    running | finished | failed | killed
 *        algorithm TEXT, start_time REAL, end_time REAL (NULL while running),
 *        host TEXT, pid INTEGER,        the process that began the run
 *        run_dir TEXT, config_yaml TEXT (the resolved config),
 *        git_commit TEXT NULL)
 *   params(run_id TEXT, key TEXT, value TEXT)       PRIMARY KEY (run_id, key)
 *   metrics(run_id TEXT, key TEXT, step INTEGER, value REAL (NULL = NaN),
 *           time REAL)                              UNIQUE (run_id, key, step)
 *   artifacts(run_id TEXT, name TEXT, path TEXT)    PRIMARY KEY (run_id, name)
 *   events(run_id TEXT, time REAL, topic TEXT, json TEXT)
 *
 * Concurrency: WAL journal, synchronous=NORMAL (a committed point survives a
 * crash of the process; only a power loss can drop the last transactions), a
 * busy timeout of S_BUSY_MS per attempt and S_RETRIES attempts for every
 * write. Writes that span several statements take the write lock up front
 * (BEGIN IMMEDIATE) so two writers never deadlock upgrading a read lock. */
#include "common/tracking.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_BUSY_MS  5000
#define S_RETRIES  8
#define S_HOST_MAX 256

struct ch_track {
    sqlite3 *db;
    char *path;
    char host[S_HOST_MAX];
    int64_t pid;
    sqlite3_stmt *ins_metric;
    sqlite3_stmt *ins_param;
    sqlite3_stmt *ins_event;
    sqlite3_stmt *ins_artifact;
};

static const char *S_SCHEMA =
    "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL, applied REAL NOT NULL);"
    "CREATE TABLE IF NOT EXISTS experiments("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created REAL NOT NULL);"
    "CREATE TABLE IF NOT EXISTS runs("
    "  id TEXT PRIMARY KEY, experiment_id INTEGER NOT NULL REFERENCES experiments(id),"
    "  name TEXT, status TEXT NOT NULL"
    "    CHECK (status IN ('running','finished','failed','killed')),"
    "  algorithm TEXT, start_time REAL NOT NULL, end_time REAL, host TEXT, pid INTEGER,"
    "  run_dir TEXT, config_yaml TEXT, git_commit TEXT);"
    "CREATE INDEX IF NOT EXISTS runs_by_start ON runs(start_time);"
    "CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs(experiment_id);"
    "CREATE TABLE IF NOT EXISTS params("
    "  run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT, PRIMARY KEY (run_id, key));"
    "CREATE TABLE IF NOT EXISTS metrics("
    "  run_id TEXT NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL, value REAL,"
    "  time REAL NOT NULL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS metrics_by_run_key_step ON metrics(run_id, key, step);"
    "CREATE TABLE IF NOT EXISTS artifacts("
    "  run_id TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,"
    "  PRIMARY KEY (run_id, name));"
    "CREATE TABLE IF NOT EXISTS events("
    "  run_id TEXT NOT NULL, time REAL NOT NULL, topic TEXT NOT NULL, json TEXT);"
    "CREATE INDEX IF NOT EXISTS events_by_run_time ON events(run_id, time);";

static const char *S_RUN_COLS =
    "SELECT r.id, e.name, r.name, r.status, r.algorithm, r.host, r.run_dir, r.config_yaml,"
    " r.git_commit, r.start_time, r.end_time, r.pid"
    " FROM runs r LEFT JOIN experiments e ON e.id = r.experiment_id";

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool s_busy(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

/* Sleeps a few milliseconds between retries, longer on later attempts, with
 * jitter from the clock so that writers that collided do not collide again. */
static void s_backoff(int attempt)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long ms = 2L * (attempt + 1) + (long)(ts.tv_nsec % 7);
    struct timespec d = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    nanosleep(&d, NULL);
}

/* Translates an SQLite failure into a CH_E* code and a message naming the
 * file and what the user can do about it. */
static int s_fail(const ch_track *t, const char *path, int rc, const char *what, ch_err *err)
{
    const char *p = path ? path : (t ? t->path : "(tracking store)");
    const char *msg = t && t->db ? sqlite3_errmsg(t->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return ch_err_set(err, CH_EIO,
                          "%s: not a valid cohort tracking database (%s); move it aside "
                          "(mv %s %s.bad) and cohort will create a new one",
                          p, msg, p, p);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ch_err_set(err, CH_ETIMEOUT,
                          "%s: database is locked by another process for more than %d s "
                          "(%s); retry, or look for a stuck cohort process",
                          p, S_BUSY_MS * S_RETRIES / 1000, what);
    case SQLITE_CANTOPEN:
        return ch_err_set(err, CH_EIO, "%s: cannot open (%s); does the directory exist?", p, msg);
    case SQLITE_READONLY:
        return ch_err_set(err, CH_EIO, "%s: read-only (%s); check the file's permissions", p, msg);
    case SQLITE_FULL:
        return ch_err_set(err, CH_EIO, "%s: disk full while %s", p, what);
    case SQLITE_NOMEM:
        return ch_err_set(err, CH_ENOMEM, "%s: out of memory while %s", p, what);
    default:
        return ch_err_set(err, CH_EIO, "%s: %s: %s", p, what, msg);
    }
}

/* sqlite3_exec with the bounded retry on SQLITE_BUSY. Returns an SQLite code. */
static int s_exec(ch_track *t, const char *sql)
{
    int rc = SQLITE_OK;
    for (int attempt = 0; attempt < S_RETRIES; attempt++) {
        rc = sqlite3_exec(t->db, sql, NULL, NULL, NULL);
        if (!s_busy(rc)) {
            return rc;
        }
        s_backoff(attempt);
    }
    return rc;
}

/* Steps a write statement (autocommit or inside a transaction) with the
 * bounded retry, and resets it. Returns SQLITE_DONE or the failing code. */
static int s_step_write(ch_track *t, sqlite3_stmt *st, bool in_txn)
{
    int rc = SQLITE_OK;
    for (int attempt = 0; attempt < S_RETRIES; attempt++) {
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_ROW) {
            rc = SQLITE_DONE;
        }
        if (!s_busy(rc) || in_txn) {
            break;
        }
        s_backoff(attempt);
    }
    return rc;
}

static int s_begin(ch_track *t)
{
    return s_exec(t, "BEGIN IMMEDIATE");
}

static int s_commit(ch_track *t)
{
    int rc = s_exec(t, "COMMIT");
    if (rc != SQLITE_OK) {
        sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

static void s_rollback(ch_track *t)
{
    if (!sqlite3_get_autocommit(t->db)) {
        sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

static void s_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s) {
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, i);
    }
}

static void s_bind_double(sqlite3_stmt *st, int i, double v)
{
    if (isnan(v)) {
        sqlite3_bind_null(st, i);
    } else {
        sqlite3_bind_double(st, i, v);
    }
}

/* A copy of a text column, NULL for SQL NULL. *oom is set when strdup fails. */
static char *s_col_dup(sqlite3_stmt *st, int i, bool *oom)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    if (!s) {
        return NULL;
    }
    char *c = strdup((const char *)s);
    if (!c) {
        *oom = true;
    }
    return c;
}

static double s_col_double(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static int s_prepare(ch_track *t, const char *sql, sqlite3_stmt **st, ch_err *err)
{
    int rc = sqlite3_prepare_v2(t->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        return s_fail(t, NULL, rc, "preparing a statement", err);
    }
    return 0;
}

static int s_check_args(const ch_track *t, const char *run_id, const char *what, ch_err *err)
{
    if (!t || !run_id || !run_id[0]) {
        return ch_err_set(err, CH_EINVAL, "tracking: %s needs a store and a run id", what);
    }
    return 0;
}

/* Reads the stored schema version: 0 for a fresh file, or an SQLite error
 * code (negated) if the file cannot be read as a database. */
static int s_read_version(ch_track *t, int *version)
{
    *version = 0;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(t->db,
                                "SELECT count(*) FROM sqlite_master WHERE type='table' AND "
                                "name='schema_version'",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return rc;
    }
    rc = sqlite3_step(st);
    bool exists = rc == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        return rc;
    }
    if (!exists) {
        return SQLITE_OK;
    }
    rc = sqlite3_prepare_v2(t->db, "SELECT max(version) FROM schema_version", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return rc;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Creates the tables in one write transaction unless they are already there.
 * Two processes opening a fresh file at once both get here; the second finds
 * the tables made and the version row present. */
static int s_create_schema(ch_track *t, ch_err *err)
{
    int version = 0;
    int rc = SQLITE_OK;
    for (int attempt = 0; attempt < S_RETRIES; attempt++) {
        rc = s_read_version(t, &version);
        if (!s_busy(rc)) {
            break;
        }
        s_backoff(attempt);
    }
    if (rc != SQLITE_OK) {
        return s_fail(t, NULL, rc, "reading the schema version", err);
    }
    if (version > CH_TRACK_SCHEMA_VERSION) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: tracking schema version %d was written by a newer cohort (this "
                          "one knows version %d); upgrade cohort or use another --db",
                          t->path, version, CH_TRACK_SCHEMA_VERSION);
    }
    if (version == CH_TRACK_SCHEMA_VERSION) {
        return 0;
    }
    rc = s_begin(t);
    if (rc != SQLITE_OK) {
        return s_fail(t, NULL, rc, "creating the tables", err);
    }
    rc = sqlite3_exec(t->db, S_SCHEMA, NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "INSERT INTO schema_version(version, applied) SELECT %d, %.3f WHERE NOT EXISTS "
                 "(SELECT 1 FROM schema_version WHERE version = %d)",
                 CH_TRACK_SCHEMA_VERSION, s_now(), CH_TRACK_SCHEMA_VERSION);
        rc = sqlite3_exec(t->db, sql, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        int code = s_fail(t, NULL, rc, "creating the tables", err);
        s_rollback(t);
        return code;
    }
    rc = s_commit(t);
    if (rc != SQLITE_OK) {
        return s_fail(t, NULL, rc, "creating the tables", err);
    }
    return 0;
}

/* True when pid names no process on this host (kill reports ESRCH). A process
 * we may not signal (EPERM) is alive. */
static bool s_pid_dead(int64_t pid)
{
    if (pid <= 0 || pid > INT32_MAX) {
        return false;
    }
    return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* Marks runs on this host whose process is gone as 'killed'. */
static int s_reap_dead_runs(ch_track *t, ch_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc =
        s_prepare(t, "SELECT id, pid FROM runs WHERE status = 'running' AND host = ?", &st, err);
    if (rc) {
        return rc;
    }
    sqlite3_bind_text(st, 1, t->host, -1, SQLITE_TRANSIENT);
    char **dead = NULL;
    size_t ndead = 0, cap = 0;
    int code = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!s_pid_dead(sqlite3_column_int64(st, 1))) {
            continue;
        }
        if (ndead == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            char **p = realloc(dead, ncap * sizeof *p);
            if (!p) {
                code = ch_err_set(err, CH_ENOMEM, "%s: out of memory", t->path);
                break;
            }
            dead = p;
            cap = ncap;
        }
        bool oom = false;
        dead[ndead] = s_col_dup(st, 0, &oom);
        if (oom || !dead[ndead]) {
            code = ch_err_set(err, CH_ENOMEM, "%s: out of memory", t->path);
            break;
        }
        ndead++;
    }
    if (!code && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        code = s_fail(t, NULL, rc, "looking for runs of dead processes", err);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!code && ndead > 0) {
        code = s_prepare(t,
                         "UPDATE runs SET status = 'killed', end_time = ? "
                         "WHERE id = ? AND status = 'running'",
                         &st, err);
        for (size_t i = 0; !code && i < ndead; i++) {
            sqlite3_bind_double(st, 1, s_now());
            sqlite3_bind_text(st, 2, dead[i], -1, SQLITE_TRANSIENT);
            rc = s_step_write(t, st, false);
            if (rc != SQLITE_DONE) {
                code = s_fail(t, NULL, rc, "marking runs of dead processes killed", err);
            }
        }
        sqlite3_finalize(st);
    }
    for (size_t i = 0; i < ndead; i++) {
        free(dead[i]);
    }
    free(dead);
    return code;
}

ch_track *ch_track_open(const char *path, ch_err *err)
{
    if (!path || !path[0]) {
        ch_err_set(err, CH_EINVAL, "tracking: no database path given");
        return NULL;
    }
    ch_track *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path))) {
        free(t);
        ch_err_set(err, CH_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    t->pid = (int64_t)getpid();
    if (gethostname(t->host, sizeof t->host) != 0) {
        snprintf(t->host, sizeof t->host, "localhost");
    }
    t->host[sizeof t->host - 1] = '\0';

    int rc = sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        s_fail(t, NULL, rc, "opening", err);
        ch_track_close(&t);
        return NULL;
    }
    sqlite3_extended_result_codes(t->db, 0);
    sqlite3_busy_timeout(t->db, S_BUSY_MS);

    /* journal_mode=WAL is the first statement that reads the file, so a
     * corrupt file or one that is not a database fails here. */
    rc = s_exec(t, "PRAGMA journal_mode=WAL");
    if (rc == SQLITE_OK) {
        rc = s_exec(t, "PRAGMA synchronous=NORMAL");
    }
    if (rc != SQLITE_OK) {
        s_fail(t, NULL, rc, "opening", err);
        ch_track_close(&t);
        return NULL;
    }
    if (s_create_schema(t, err) != 0 || s_reap_dead_runs(t, err) != 0) {
        ch_track_close(&t);
        return NULL;
    }
    if (s_prepare(t,
                  "INSERT OR REPLACE INTO metrics(run_id, key, step, value, time) "
                  "VALUES (?, ?, ?, ?, ?)",
                  &t->ins_metric, err) ||
        s_prepare(t, "INSERT OR REPLACE INTO params(run_id, key, value) VALUES (?, ?, ?)",
                  &t->ins_param, err) ||
        s_prepare(t, "INSERT INTO events(run_id, time, topic, json) VALUES (?, ?, ?, ?)",
                  &t->ins_event, err) ||
        s_prepare(t, "INSERT OR REPLACE INTO artifacts(run_id, name, path) VALUES (?, ?, ?)",
                  &t->ins_artifact, err)) {
        ch_track_close(&t);
        return NULL;
    }
    return t;
}

void ch_track_close(ch_track **tp)
{
    if (!tp || !*tp) {
        return;
    }
    ch_track *t = *tp;
    sqlite3_finalize(t->ins_metric);
    sqlite3_finalize(t->ins_param);
    sqlite3_finalize(t->ins_event);
    sqlite3_finalize(t->ins_artifact);
    if (t->db) {
        sqlite3_close(t->db);
    }
    free(t->path);
    free(t);
    *tp = NULL;
}

const char *ch_track_path(const ch_track *t)
{
    return t && t->path ? t->path : "";
}

int ch_track_new_run_id(const char *name, char *buf, size_t size)
{
    if (!buf || size == 0) {
        return CH_EINVAL;
    }
    unsigned char rnd[2] = {0, 0};
    bool have = false;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        have = read(fd, rnd, sizeof rnd) == (ssize_t)sizeof rnd;
        close(fd);
    }
    if (!have) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec;
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        rnd[0] = (unsigned char)x;
        rnd[1] = (unsigned char)(x >> 8);
    }
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    if (!name || !name[0]) {
        name = "run";
    }
    /* stamp "-" name "-" 4 hex, copied a character at a time so that a small
     * buffer gets a truncated, NUL-terminated id */
    static const char hex[] = "0123456789abcdef";
    char tail[6] = {'-', hex[rnd[0] >> 4], hex[rnd[0] & 15], hex[rnd[1] >> 4], hex[rnd[1] & 15],
                    '\0'};
    size_t pos = 0;
    bool fits = true;
    const char *parts[4] = {stamp, "-", name, tail};
    for (int k = 0; k < 4; k++) {
        for (const char *p = parts[k]; *p; p++) {
            if (pos + 1 >= size) {
                fits = false;
                break;
            }
            char c = *p;
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
            buf[pos++] = k != 2 || ok ? c : '-';
        }
    }
    buf[pos] = '\0';
    return fits ? 0 : CH_EINVAL;
}

/* Inserts the experiment if new and puts its id in *id; runs inside the
 * caller's write transaction. Returns an SQLite code (SQLITE_OK on success). */
static int s_experiment_id(ch_track *t, const char *name, int64_t *id)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        t->db, "INSERT OR IGNORE INTO experiments(name, created) VALUES (?, ?)", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 2, s_now());
    rc = s_step_write(t, st, true);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return rc;
    }
    rc = sqlite3_prepare_v2(t->db, "SELECT id FROM experiments WHERE name = ?", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_INTERNAL;
    }
    sqlite3_finalize(st);
    return rc;
}

int ch_track_run_begin(ch_track *t, const char *experiment_name, const char *run_id,
                       const char *algorithm, const char *run_dir, const char *config_yaml,
                       ch_err *err)
{
    if (s_check_args(t, run_id, "run_begin", err)) {
        return CH_EINVAL;
    }
    if (!experiment_name || !experiment_name[0]) {
        return ch_err_set(err, CH_EINVAL, "tracking: run %s has no experiment name", run_id);
    }
    int rc = SQLITE_OK;
    for (int attempt = 0; attempt < S_RETRIES; attempt++) {
        rc = s_begin(t);
        if (rc != SQLITE_OK) {
            break;
        }
        int64_t exp_id = 0;
        rc = s_experiment_id(t, experiment_name, &exp_id);
        if (rc == SQLITE_OK) {
            sqlite3_stmt *st = NULL;
            rc = sqlite3_prepare_v2(
                t->db,
                "INSERT INTO runs(id, experiment_id, name, status, algorithm, start_time, end_time,"
                " host, pid, run_dir, config_yaml) VALUES (?, ?, ?, 'running', ?, ?, NULL, ?, ?, "
                "?, ?) ON CONFLICT(id) DO UPDATE SET status = 'running', end_time = NULL,"
                " host = excluded.host, pid = excluded.pid,"
                " algorithm = coalesce(excluded.algorithm, algorithm),"
                " run_dir = coalesce(excluded.run_dir, run_dir),"
                " config_yaml = coalesce(excluded.config_yaml, config_yaml)",
                -1, &st, NULL);
            if (rc == SQLITE_OK) {
                sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(st, 2, exp_id);
                sqlite3_bind_text(st, 3, experiment_name, -1, SQLITE_TRANSIENT);
                s_bind_text(st, 4, algorithm);
                sqlite3_bind_double(st, 5, s_now());
                sqlite3_bind_text(st, 6, t->host, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(st, 7, t->pid);
                s_bind_text(st, 8, run_dir);
                s_bind_text(st, 9, config_yaml);
                rc = s_step_write(t, st, true);
                rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
                sqlite3_finalize(st);
            }
        }
        if (rc == SQLITE_OK) {
            rc = s_commit(t);
            if (rc == SQLITE_OK) {
                return 0;
            }
        }
        s_rollback(t);
        if (!s_busy(rc)) {
            break;
        }
        s_backoff(attempt);
    }
    return s_fail(t, NULL, rc, "beginning a run", err);
}

/* Runs one UPDATE on runs with (value, run_id) bound; CH_ENOTFOUND when no
 * row changed. */
static int s_update_run(ch_track *t, const char *sql, const char *run_id, const char *value,
                        double time, const char *what, ch_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = s_prepare(t, sql, &st, err);
    if (rc) {
        return rc;
    }
    s_bind_text(st, 1, value);
    sqlite3_bind_text(st, 2, run_id, -1, SQLITE_TRANSIENT);
    if (sqlite3_bind_parameter_count(st) >= 3) {
        sqlite3_bind_double(st, 3, time);
    }
    rc = s_step_write(t, st, false);
    int changed = sqlite3_changes(t->db);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return s_fail(t, NULL, rc, what, err);
    }
    if (changed == 0) {
        return ch_err_set(err, CH_ENOTFOUND, "%s: no run %s (was it begun?)", t->path, run_id);
    }
    return 0;
}

int ch_track_run_set_name(ch_track *t, const char *run_id, const char *name, ch_err *err)
{
    if (s_check_args(t, run_id, "run_set_name", err)) {
        return CH_EINVAL;
    }
    return s_update_run(t, "UPDATE runs SET name = ? WHERE id = ?", run_id, name, 0,
                        "setting a run's name", err);
}

int ch_track_run_set_git_commit(ch_track *t, const char *run_id, const char *commit, ch_err *err)
{
    if (s_check_args(t, run_id, "run_set_git_commit", err)) {
        return CH_EINVAL;
    }
    return s_update_run(t, "UPDATE runs SET git_commit = ? WHERE id = ?", run_id, commit, 0,
                        "setting a run's git commit", err);
}

int ch_track_run_end(ch_track *t, const char *run_id, const char *status, ch_err *err)
{
    if (s_check_args(t, run_id, "run_end", err)) {
        return CH_EINVAL;
    }
    if (!status ||
        (strcmp(status, "finished") && strcmp(status, "failed") && strcmp(status, "killed"))) {
        return ch_err_set(err, CH_EINVAL,
                          "tracking: run %s: status '%s' is not finished, failed or killed", run_id,
                          status ? status : "(null)");
    }
    return s_update_run(t, "UPDATE runs SET status = ?, end_time = ?3 WHERE id = ?2", run_id,
                        status, s_now(), "ending a run", err);
}

int ch_track_param(ch_track *t, const char *run_id, const char *key, const char *value, ch_err *err)
{
    if (s_check_args(t, run_id, "param", err)) {
        return CH_EINVAL;
    }
    if (!key || !key[0]) {
        return ch_err_set(err, CH_EINVAL, "tracking: run %s: a param needs a key", run_id);
    }
    sqlite3_bind_text(t->ins_param, 1, run_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(t->ins_param, 2, key, -1, SQLITE_TRANSIENT);
    s_bind_text(t->ins_param, 3, value);
    int rc = s_step_write(t, t->ins_param, false);
    sqlite3_clear_bindings(t->ins_param);
    if (rc != SQLITE_DONE) {
        return s_fail(t, NULL, rc, "writing a param", err);
    }
    return 0;
}

static void s_bind_metric(ch_track *t, const char *run_id, const char *key, int64_t step,
                          double value, double now)
{
    sqlite3_bind_text(t->ins_metric, 1, run_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(t->ins_metric, 2, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(t->ins_metric, 3, step);
    s_bind_double(t->ins_metric, 4, value);
    sqlite3_bind_double(t->ins_metric, 5, now);
}

int ch_track_metric(ch_track *t, const char *run_id, const char *key, int64_t step, double value,
                    ch_err *err)
{
    if (s_check_args(t, run_id, "metric", err)) {
        return CH_EINVAL;
    }
    if (!key || !key[0]) {
        return ch_err_set(err, CH_EINVAL, "tracking: run %s: a metric needs a key", run_id);
    }
    s_bind_metric(t, run_id, key, step, value, s_now());
    int rc = s_step_write(t, t->ins_metric, false);
    sqlite3_clear_bindings(t->ins_metric);
    if (rc != SQLITE_DONE) {
        return s_fail(t, NULL, rc, "writing a metric point", err);
    }
    return 0;
}

int ch_track_metrics(ch_track *t, const char *run_id, size_t n, const char *const keys[],
                     const int64_t steps[], const double values[], ch_err *err)
{
    if (s_check_args(t, run_id, "metrics", err)) {
        return CH_EINVAL;
    }
    if (n == 0) {
        return 0;
    }
    if (!keys || !steps || !values) {
        return ch_err_set(err, CH_EINVAL, "tracking: run %s: metrics without arrays", run_id);
    }
    for (size_t i = 0; i < n; i++) {
        if (!keys[i] || !keys[i][0]) {
            return ch_err_set(err, CH_EINVAL, "tracking: run %s: metric %zu has no key", run_id, i);
        }
    }
    int rc = SQLITE_OK;
    for (int attempt = 0; attempt < S_RETRIES; attempt++) {
        rc = s_begin(t);
        if (rc != SQLITE_OK) {
            break;
        }
        double now = s_now();
        for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
            s_bind_metric(t, run_id, keys[i], steps[i], values[i], now);
            rc = s_step_write(t, t->ins_metric, true);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        }
        sqlite3_clear_bindings(t->ins_metric);
        if (rc == SQLITE_OK) {
            rc = s_commit(t);
            if (rc == SQLITE_OK) {
                return 0;
            }
        }
        s_rollback(t);
        if (!s_busy(rc)) {
            break;
        }
        s_backoff(attempt);
    }
    return s_fail(t, NULL, rc, "writing metric points", err);
}

int ch_track_artifact(ch_track *t, const char *run_id, const char *name, const char *path,
                      ch_err *err)
{
    if (s_check_args(t, run_id, "artifact", err)) {
        return CH_EINVAL;
    }
    if (!name || !name[0] || !path) {
        return ch_err_set(err, CH_EINVAL, "tracking: run %s: an artifact needs a name and a path",
                          run_id);
    }
    sqlite3_bind_text(t->ins_artifact, 1, run_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(t->ins_artifact, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(t->ins_artifact, 3, path, -1, SQLITE_TRANSIENT);
    int rc = s_step_write(t, t->ins_artifact, false);
    sqlite3_clear_bindings(t->ins_artifact);
    if (rc != SQLITE_DONE) {
        return s_fail(t, NULL, rc, "writing an artifact", err);
    }
    return 0;
}

int ch_track_event(ch_track *t, const char *run_id, double time, const char *topic,
                   const char *json, ch_err *err)
{
    if (s_check_args(t, run_id, "event", err)) {
        return CH_EINVAL;
    }
    if (!topic || !topic[0]) {
        return ch_err_set(err, CH_EINVAL, "tracking: run %s: an event needs a topic", run_id);
    }
    sqlite3_bind_text(t->ins_event, 1, run_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(t->ins_event, 2, time);
    sqlite3_bind_text(t->ins_event, 3, topic, -1, SQLITE_TRANSIENT);
    s_bind_text(t->ins_event, 4, json);
    int rc = s_step_write(t, t->ins_event, false);
    sqlite3_clear_bindings(t->ins_event);
    if (rc != SQLITE_DONE) {
        return s_fail(t, NULL, rc, "writing an event", err);
    }
    return 0;
}

/* --- queries -------------------------------------------------------------- */

void ch_track_run_clear(ch_track_run *r)
{
    if (!r) {
        return;
    }
    free(r->id);
    free(r->experiment);
    free(r->name);
    free(r->status);
    free(r->algorithm);
    free(r->host);
    free(r->run_dir);
    free(r->config_yaml);
    free(r->git_commit);
    memset(r, 0, sizeof *r);
}

void ch_track_runs_free(ch_track_run **runs, size_t n)
{
    if (!runs || !*runs) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ch_track_run_clear(&(*runs)[i]);
    }
    free(*runs);
    *runs = NULL;
}

void ch_track_kvs_free(ch_track_kv **kvs, size_t n)
{
    if (!kvs || !*kvs) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free((*kvs)[i].key);
        free((*kvs)[i].value);
    }
    free(*kvs);
    *kvs = NULL;
}

void ch_track_lasts_free(ch_track_last **lasts, size_t n)
{
    if (!lasts || !*lasts) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free((*lasts)[i].key);
    }
    free(*lasts);
    *lasts = NULL;
}

/* Grows *arr (of elements of size `elem`) to hold one more; 0 or CH_ENOMEM. */
static int s_grow(void **arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap) {
        return 0;
    }
    size_t ncap = *cap ? *cap * 2 : 16;
    size_t bytes = 0;
    if (ch_mul_size(ncap, elem, &bytes) != 0) {
        return CH_ENOMEM;
    }
    void *p = realloc(*arr, bytes);
    if (!p) {
        return CH_ENOMEM;
    }
    memset((char *)p + n * elem, 0, (ncap - n) * elem);
    *arr = p;
    *cap = ncap;
    return 0;
}

static bool s_fill_run(sqlite3_stmt *st, ch_track_run *r)
{
    bool oom = false;
    r->id = s_col_dup(st, 0, &oom);
    r->experiment = s_col_dup(st, 1, &oom);
    r->name = s_col_dup(st, 2, &oom);
    r->status = s_col_dup(st, 3, &oom);
    r->algorithm = s_col_dup(st, 4, &oom);
    r->host = s_col_dup(st, 5, &oom);
    r->run_dir = s_col_dup(st, 6, &oom);
    r->config_yaml = s_col_dup(st, 7, &oom);
    r->git_commit = s_col_dup(st, 8, &oom);
    r->start_time = s_col_double(st, 9);
    r->end_time = s_col_double(st, 10);
    r->pid = sqlite3_column_int64(st, 11);
    return !oom;
}

int ch_track_runs_list(ch_track *t, size_t limit, ch_track_run **out, size_t *n, ch_err *err)
{
    *out = NULL;
    *n = 0;
    if (!t) {
        return ch_err_set(err, CH_EINVAL, "tracking: runs_list without a store");
    }
    char sql[512];
    snprintf(sql, sizeof sql, "%s ORDER BY r.start_time DESC, r.id DESC LIMIT ?", S_RUN_COLS);
    sqlite3_stmt *st = NULL;
    int code = s_prepare(t, sql, &st, err);
    if (code) {
        return code;
    }
    sqlite3_bind_int64(st, 1, limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit);
    ch_track_run *runs = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (s_grow((void **)&runs, cnt, &cap, sizeof *runs) != 0) {
            code = ch_err_set(err, CH_ENOMEM, "%s: out of memory listing runs", t->path);
            break;
        }
        bool ok = s_fill_run(st, &runs[cnt]);
        cnt++; /* counted even when partly filled, so that it is freed */
        if (!ok) {
            code = ch_err_set(err, CH_ENOMEM, "%s: out of memory listing runs", t->path);
            break;
        }
    }
    if (!code && rc != SQLITE_DONE) {
        code = s_fail(t, NULL, rc, "listing runs", err);
    }
    sqlite3_finalize(st);
    if (code) {
        ch_track_runs_free(&runs, cnt);
        return code;
    }
    *out = runs;
    *n = cnt;
    return 0;
}

int ch_track_run_get(ch_track *t, const char *id, ch_track_run *out, ch_err *err)
{
    memset(out, 0, sizeof *out);
    if (s_check_args(t, id, "run_get", err)) {
        return CH_EINVAL;
    }
    char sql[512];
    snprintf(sql, sizeof sql,
             "%s WHERE r.id = ?1 OR substr(r.id, 1, length(?1)) = ?1"
             " ORDER BY (r.id = ?1) DESC, r.start_time DESC LIMIT 2",
             S_RUN_COLS);
    sqlite3_stmt *st = NULL;
    int code = s_prepare(t, sql, &st, err);
    if (code) {
        return code;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (!s_fill_run(st, out)) {
            code = ch_err_set(err, CH_ENOMEM, "%s: out of memory reading run %s", t->path, id);
        } else if (strcmp(out->id, id) != 0) {
            rc = sqlite3_step(st);
            if (rc == SQLITE_ROW) {
                code = ch_err_set(err, CH_EINVAL,
                                  "%s: run id prefix '%s' is ambiguous (%s, %s, ...); give more "
                                  "of the id",
                                  t->path, id, out->id, (const char *)sqlite3_column_text(st, 0));
            }
        }
    } else if (rc == SQLITE_DONE) {
        code = ch_err_set(err, CH_ENOTFOUND, "%s: no run with id %s", t->path, id);
    } else {
        code = s_fail(t, NULL, rc, "reading a run", err);
    }
    sqlite3_finalize(st);
    if (code) {
        ch_track_run_clear(out);
    }
    return code;
}

static int s_kv_query(ch_track *t, const char *sql, const char *run_id, ch_track_kv **out,
                      size_t *n, const char *what, ch_err *err)
{
    *out = NULL;
    *n = 0;
    if (s_check_args(t, run_id, what, err)) {
        return CH_EINVAL;
    }
    sqlite3_stmt *st = NULL;
    int code = s_prepare(t, sql, &st, err);
    if (code) {
        return code;
    }
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
    ch_track_kv *kvs = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (s_grow((void **)&kvs, cnt, &cap, sizeof *kvs) != 0) {
            code = ch_err_set(err, CH_ENOMEM, "%s: out of memory reading %s", t->path, what);
            break;
        }
        bool oom = false;
        kvs[cnt].key = s_col_dup(st, 0, &oom);
        kvs[cnt].value = s_col_dup(st, 1, &oom);
        cnt++;
        if (oom) {
            code = ch_err_set(err, CH_ENOMEM, "%s: out of memory reading %s", t->path, what);
            break;
        }
    }
    if (!code && rc != SQLITE_DONE) {
        code = s_fail(t, NULL, rc, what, err);
    }
    sqlite3_finalize(st);
    if (code) {
        ch_track_kvs_free(&kvs, cnt);
        return code;
    }
    *out = kvs;
    *n = cnt;
    return 0;
}

int ch_track_params_get(ch_track *t, const char *run_id, ch_track_kv **out, size_t *n, ch_err *err)
{
    return s_kv_query(t, "SELECT key, value FROM params WHERE run_id = ? ORDER BY key", run_id, out,
                      n, "params", err);
}

int ch_track_artifacts_get(ch_track *t, const char *run_id, ch_track_kv **out, size_t *n,
                           ch_err *err)
{
    return s_kv_query(t, "SELECT name, path FROM artifacts WHERE run_id = ? ORDER BY name", run_id,
                      out, n, "artifacts", err);
}

int ch_track_metrics_last(ch_track *t, const char *run_id, ch_track_last **out, size_t *n,
                          ch_err *err)
{
    *out = NULL;
    *n = 0;
    if (s_check_args(t, run_id, "metrics_last", err)) {
        return CH_EINVAL;
    }
    /* With a single max() aggregate SQLite takes the bare column `value`
     * from the row holding the maximum step. */
    sqlite3_stmt *st = NULL;
    int code = s_prepare(t,
                         "SELECT key, max(step), value, count(*) FROM metrics WHERE run_id = ? "
                         "GROUP BY key ORDER BY key",
                         &st, err);
    if (code) {
        return code;
    }
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
    ch_track_last *ls = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (s_grow((void **)&ls, cnt, &cap, sizeof *ls) != 0) {
            code = ch_err_set(err, CH_ENOMEM, "%s: out of memory reading metrics", t->path);
            break;
        }
        bool oom = false;
        ls[cnt].key = s_col_dup(st, 0, &oom);
        ls[cnt].step = sqlite3_column_int64(st, 1);
        ls[cnt].value = s_col_double(st, 2);
        ls[cnt].count = sqlite3_column_int64(st, 3);
        cnt++;
        if (oom) {
            code = ch_err_set(err, CH_ENOMEM, "%s: out of memory reading metrics", t->path);
            break;
        }
    }
    if (!code && rc != SQLITE_DONE) {
        code = s_fail(t, NULL, rc, "reading metrics", err);
    }
    sqlite3_finalize(st);
    if (code) {
        ch_track_lasts_free(&ls, cnt);
        return code;
    }
    *out = ls;
    *n = cnt;
    return 0;
}

int ch_track_metric_series(ch_track *t, const char *run_id, const char *key, int64_t **steps,
                           double **values, size_t *n, ch_err *err)
{
    *steps = NULL;
    *values = NULL;
    *n = 0;
    if (s_check_args(t, run_id, "metric_series", err)) {
        return CH_EINVAL;
    }
    if (!key) {
        return ch_err_set(err, CH_EINVAL, "tracking: metric_series needs a key");
    }
    sqlite3_stmt *st = NULL;
    int code = s_prepare(
        t, "SELECT step, value FROM metrics WHERE run_id = ? AND key = ? ORDER BY step", &st, err);
    if (code) {
        return code;
    }
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
    int64_t *s = NULL;
    double *v = NULL;
    size_t cnt = 0, cap_s = 0, cap_v = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (s_grow((void **)&s, cnt, &cap_s, sizeof *s) != 0 ||
            s_grow((void **)&v, cnt, &cap_v, sizeof *v) != 0) {
            code = ch_err_set(err, CH_ENOMEM, "%s: out of memory reading metric %s", t->path, key);
            break;
        }
        s[cnt] = sqlite3_column_int64(st, 0);
        v[cnt] = s_col_double(st, 1);
        cnt++;
    }
    if (!code && rc != SQLITE_DONE) {
        code = s_fail(t, NULL, rc, "reading a metric series", err);
    }
    sqlite3_finalize(st);
    if (code) {
        free(s);
        free(v);
        return code;
    }
    *steps = s;
    *values = v;
    *n = cnt;
    return 0;
}

int64_t ch_track_metric_count(ch_track *t, const char *run_id, ch_err *err)
{
    if (!t) {
        return ch_err_set(err, CH_EINVAL, "tracking: metric_count without a store");
    }
    sqlite3_stmt *st = NULL;
    int code = s_prepare(t,
                         run_id ? "SELECT count(*) FROM metrics WHERE run_id = ?"
                                : "SELECT count(*) FROM metrics",
                         &st, err);
    if (code) {
        return code;
    }
    if (run_id) {
        sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
    }
    int rc = sqlite3_step(st);
    int64_t count = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        return s_fail(t, NULL, rc, "counting metrics", err);
    }
    return count;
}
