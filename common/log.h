/* log.h: one-line log messages on stderr, prefixed with the process role.
 * The level threshold comes from COHORT_LOG (error, warn, info, debug). */
#ifndef CH_LOG_H
#define CH_LOG_H

enum { CH_LOG_ERROR = 0, CH_LOG_WARN = 1, CH_LOG_INFO = 2, CH_LOG_DEBUG = 3 };

/* Sets the role shown in front of every line ("coordinator", "worker 3").
 * The string is copied. */
void ch_log_role(const char *role);
void ch_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ch_error(...) ch_log(CH_LOG_ERROR, __VA_ARGS__)
#define ch_warn(...) ch_log(CH_LOG_WARN, __VA_ARGS__)
#define ch_info(...) ch_log(CH_LOG_INFO, __VA_ARGS__)
#define ch_debug(...) ch_log(CH_LOG_DEBUG, __VA_ARGS__)

#endif
