/* log.c: stderr logging with a role prefix (see log.h).
 * The role and level are process-wide settings made once at start-up. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char s_role[64] = "cohort";
static int s_level = -1;

void ch_log_role(const char *role)
{
    snprintf(s_role, sizeof s_role, "%s", role);
}

static int s_threshold(void)
{
    if (s_level < 0) {
        const char *v = getenv("COHORT_LOG");
        s_level = CH_LOG_INFO;
        if (v) {
            if (!strcmp(v, "error")) {
                s_level = CH_LOG_ERROR;
            } else if (!strcmp(v, "warn")) {
                s_level = CH_LOG_WARN;
            } else if (!strcmp(v, "debug")) {
                s_level = CH_LOG_DEBUG;
            }
        }
    }
    return s_level;
}

void ch_log(int level, const char *fmt, ...)
{
    if (level > s_threshold()) {
        return;
    }
    static const char *names[] = {"error", "warning", "info", "debug"};
    char line[2048];
    int n = snprintf(line, sizeof line, "%s: %s: ", s_role, names[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line) {
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    }
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}
