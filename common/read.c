/* read.c: ch_table_read, which picks a reader by format or file name, and
 * the whole-file reading the text readers share. */
#include "common/table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

/* Parses a format name; returns the ch_format, or -1 for an unknown name.
 * Can't fail otherwise. */
int ch_format_parse(const char *name)
{
    if (!name) {
        return -1;
    }
    if (strcmp(name, "auto") == 0) {
        return CH_FORMAT_AUTO;
    }
    if (strcmp(name, "csv") == 0) {
        return CH_FORMAT_CSV;
    }
    if (strcmp(name, "libsvm") == 0 || strcmp(name, "svmlight") == 0) {
        return CH_FORMAT_LIBSVM;
    }
    if (strcmp(name, "idx") == 0) {
        return CH_FORMAT_IDX;
    }
    return -1;
}

static bool s_ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

/* The format a file name implies, ignoring a trailing ".gz"; -1 if none. */
static int s_format_from_name(const char *path)
{
    size_t n = strlen(path);
    if (s_ends_with(path, n, ".gz")) {
        n -= 3;
    }
    if (s_ends_with(path, n, ".csv")) {
        return CH_FORMAT_CSV;
    }
    if (s_ends_with(path, n, ".svm") || s_ends_with(path, n, ".libsvm") ||
        s_ends_with(path, n, ".svmlight")) {
        return CH_FORMAT_LIBSVM;
    }
    if (s_ends_with(path, n, "-ubyte") || s_ends_with(path, n, ".idx")) {
        return CH_FORMAT_IDX;
    }
    return -1;
}

/* Reads a data file in the given format (or the one its name implies).
 * The caller owns the table. NULL with err set on failure. */
ch_table *ch_table_read(const char *path, ch_format format, ch_err *err)
{
    if (!path || !*path) {
        ch_err_set(err, CH_EINVAL, "no data file given");
        return NULL;
    }
    int f = (int)format;
    if (format == CH_FORMAT_AUTO) {
        f = s_format_from_name(path);
        if (f < 0) {
            ch_err_set(err, CH_EINVAL,
                       "cannot tell the format of '%s' from its name (expected .csv, .svm, "
                       ".libsvm, .svmlight or -ubyte, optionally .gz); give the format "
                       "explicitly: csv, libsvm or idx",
                       path);
            return NULL;
        }
    }
    switch (f) {
    case CH_FORMAT_CSV:
        return ch_csv_read(path, err);
    case CH_FORMAT_LIBSVM:
        return ch_libsvm_read(path, err);
    case CH_FORMAT_IDX:
        return ch_idx_read(path, err);
    default:
        ch_err_set(err, CH_EINVAL, "unknown data format %d", (int)format);
        return NULL;
    }
}

/* Reads path (plain, or gzip through zlib) into a new NUL-terminated buffer
 * (see table.h). Errors name the file: cannot open, is a directory, larger
 * than max, read failure. */
int ch_data_read_all(const char *path, size_t max, char **out, size_t *len, ch_err *err)
{
    *out = NULL;
    *len = 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        return ch_err_set(err, CH_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        return ch_err_set(err, CH_EIO, "cannot read %s: it is a directory", path);
    }
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        return ch_err_set(err, CH_EIO, "cannot open %s: %s", path,
                          errno ? strerror(errno) : "out of memory");
    }
    bool plain = gzdirect(gz) == 1; /* right after gzopen, this peeks at the magic */
    if (plain && S_ISREG(st.st_mode) && (uint64_t)st.st_size > (uint64_t)max) {
        gzclose(gz);
        return ch_err_set(err, CH_EINVAL,
                          "%s is %.1f GiB; cohort reads data files up to %.1f GiB (split it into "
                          "one file per worker)",
                          path, (double)st.st_size / (1u << 30), (double)max / (1u << 30));
    }
    /* one byte over the size, so the read that finds the end does not find
     * the buffer full and double it (a transient copy of the whole file) */
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
    if (!plain && cap < ((size_t)1 << 28)) {
        cap *= 4; /* a guess at the compression ratio; grown below */
    }
    if (cap > max) {
        cap = max;
    }
    char *buf = malloc(cap + 1);
    size_t n = 0;
    int rc = 0;
    if (!buf) {
        gzclose(gz);
        return ch_err_set(err, CH_ENOMEM, "out of memory reading %s (%zu bytes)", path, cap);
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max) {
                /* one more byte tells whether the file is over the limit */
                char probe;
                if (gzread(gz, &probe, 1) == 1) {
                    rc = ch_err_set(err, CH_EINVAL,
                                    "%s holds more than %.1f GiB of data; cohort reads data "
                                    "files up to that size (split it into one file per worker)",
                                    path, (double)max / (1u << 30));
                }
                break;
            }
            size_t ncap = cap > max / 2 ? max : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                rc = ch_err_set(err, CH_ENOMEM, "out of memory reading %s", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t want = cap - n;
        if (want > ((size_t)1 << 30)) {
            want = (size_t)1 << 30;
        }
        int r = gzread(gz, buf + n, (unsigned)want);
        if (r < 0) {
            int zerr;
            const char *msg = gzerror(gz, &zerr);
            rc = ch_err_set(err, CH_EIO, "cannot read %s: %s", path,
                            zerr == Z_ERRNO ? strerror(errno) : msg);
            break;
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
    }
    gzclose(gz);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}
