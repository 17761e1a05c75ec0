/* fsutil.c: file-system helpers (see fsutil.h). */
#include "common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ch_mkdirs(const char *dir, ch_err *err)
{
    char *p = strdup(dir);
    if (!p) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                int e = errno;
                free(p);
                return ch_err_set(err, CH_EIO, "cannot create directory %s: %s", dir, strerror(e));
            }
            p[i] = c;
        }
    }
    free(p);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return ch_err_set(err, CH_EIO, "%s exists and is not a directory", dir);
    }
    return 0;
}

/* Writes len bytes to fd; 0 or the errno. */
static int s_write_all(int fd, const char *p, size_t left)
{
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        p += w;
        left -= (size_t)w;
    }
    return 0;
}

int ch_write_file_atomic_pieces(const char *path, const ch_file_piece *pieces, size_t n,
                                ch_err *err)
{
    size_t tn = strlen(path) + 32;
    char *tmp = malloc(tn);
    if (!tmp) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    snprintf(tmp, tn, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return ch_err_set(err, CH_EIO, "cannot write %s: %s", path, strerror(e));
    }
    for (size_t i = 0; i < n; i++) {
        int e = s_write_all(fd, pieces[i].data, pieces[i].len);
        if (e) {
            close(fd);
            unlink(tmp);
            free(tmp);
            return ch_err_set(err, CH_EIO, "cannot write %s: %s", path, strerror(e));
        }
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return ch_err_set(err, CH_EIO, "cannot write %s: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return ch_err_set(err, CH_EIO, "cannot rename into %s: %s", path, strerror(e));
    }
    free(tmp);
    return 0;
}

int ch_write_file_atomic(const char *path, const void *data, size_t len, ch_err *err)
{
    ch_file_piece one = {data, len};
    return ch_write_file_atomic_pieces(path, &one, 1, err);
}

uint8_t *ch_read_file(const char *path, size_t max, size_t *len, ch_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ch_err_set(err, errno == ENOENT ? CH_ENOTFOUND : CH_EIO, "cannot open %s: %s", path,
                   strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        ch_err_set(err, CH_EIO, "%s is not a regular file", path);
        return NULL;
    }
    if ((unsigned long long)st.st_size > max) {
        fclose(f);
        ch_err_set(err, CH_EINVAL, "%s is too large (%lld bytes, limit %zu)", path,
                   (long long)st.st_size, max);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size + 1);
    if (!buf) {
        fclose(f);
        ch_err_set(err, CH_ENOMEM, "out of memory reading %s", path);
        return NULL;
    }
    size_t got = fread(buf, 1, size, f);
    fclose(f);
    if (got != size) {
        free(buf);
        ch_err_set(err, CH_EIO, "short read on %s", path);
        return NULL;
    }
    buf[size] = 0;
    *len = size;
    return buf;
}

char *ch_path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s) {
        snprintf(s, n, "%s/%s", a, b);
    }
    return s;
}
