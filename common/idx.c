/* idx.c: the IDX reader (MNIST, Fashion-MNIST): an images file and its
 * labels file, gzip or plain, into columns px0..pxK and "label". */
#include "common/table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define S_MAX_DIMS 8
/* Deflate cannot expand data more than about 1032 times. */
#define S_MAX_GZIP_RATIO 1100

typedef struct s_idx {
    gzFile gz;
    const char *path;
    int type; /* 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64 */
    size_t elem_size;
    int n_dims;
    size_t dims[S_MAX_DIMS];
    size_t n_items;   /* dims[0] */
    size_t item_size; /* elements per item: product of dims[1..] */
} s_idx;

static uint32_t s_be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static size_t s_elem_size(int type)
{
    switch (type) {
    case 0x08:
    case 0x09:
        return 1;
    case 0x0B:
        return 2;
    case 0x0C:
    case 0x0D:
        return 4;
    case 0x0E:
        return 8;
    default:
        return 0;
    }
}

/* Element i of a big-endian item of the file's type, as a double. */
static double s_elem(const unsigned char *p, int type)
{
    switch (type) {
    case 0x08:
        return p[0];
    case 0x09:
        return (signed char)p[0];
    case 0x0B:
        return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
    case 0x0C:
        return (int32_t)s_be32(p);
    case 0x0D: {
        uint32_t u = s_be32(p);
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    default: {
        uint64_t u = (uint64_t)s_be32(p) << 32 | s_be32(p + 4);
        double d;
        memcpy(&d, &u, sizeof d);
        return d;
    }
    }
}

/* Reads exactly n bytes; an error naming the file when it ends early. */
static int s_read(s_idx *f, void *buf, size_t n, ch_err *err)
{
    unsigned char *p = buf;
    while (n > 0) {
        unsigned want = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int r = gzread(f->gz, p, want);
        if (r < 0) {
            int zerr;
            const char *msg = gzerror(f->gz, &zerr);
            return ch_err_set(err, CH_EIO, "cannot read %s: %s", f->path,
                              zerr == Z_ERRNO ? strerror(errno) : msg);
        }
        if (r == 0) {
            return ch_err_set(err, CH_EINVAL,
                              "%s: truncated: the header promises more data than the file holds",
                              f->path);
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Opens an IDX file and checks its header against the file's size:
 * the header's dimensions must fit in what the file can hold (for gzip, the
 * most deflate can expand to) and in CH_READ_MAX_BYTES. */
static int s_open(s_idx *f, const char *path, ch_err *err)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    struct stat st;
    if (stat(path, &st) != 0) {
        return ch_err_set(err, CH_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return ch_err_set(err, CH_EIO, "cannot read %s: not a regular file", path);
    }
    f->gz = gzopen(path, "rb");
    if (!f->gz) {
        return ch_err_set(err, CH_EIO, "cannot open %s: %s", path,
                          errno ? strerror(errno) : "out of memory");
    }
    bool plain = gzdirect(f->gz) == 1;
    unsigned char head[4];
    int rc = s_read(f, head, 4, err);
    if (rc != 0) {
        return ch_err_set(err, CH_EINVAL, "%s: too short to be an IDX file", path);
    }
    f->type = head[2];
    f->n_dims = head[3];
    f->elem_size = s_elem_size(f->type);
    if (head[0] != 0 || head[1] != 0 || f->elem_size == 0 || f->n_dims < 1 ||
        f->n_dims > S_MAX_DIMS) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: not an IDX file (magic %02x %02x %02x %02x; expected 00 00, a type "
                          "08/09/0B/0C/0D/0E and 1..%d dimensions)",
                          path, head[0], head[1], head[2], head[3], S_MAX_DIMS);
    }
    unsigned char dims[4 * S_MAX_DIMS];
    if (s_read(f, dims, 4 * (size_t)f->n_dims, err) != 0) {
        return ch_err_set(err, CH_EINVAL, "%s: truncated IDX header", path);
    }
    size_t total = 1, bytes;
    for (int d = 0; d < f->n_dims; d++) {
        f->dims[d] = s_be32(dims + 4 * d);
        if (f->dims[d] == 0) {
            return ch_err_set(err, CH_EINVAL, "%s: dimension %d is 0 (an empty IDX file)", path,
                              d + 1);
        }
        if (ch_mul_size(total, f->dims[d], &total) != 0) {
            total = SIZE_MAX;
        }
    }
    uint64_t header = 4 + 4 * (uint64_t)f->n_dims;
    if (total == SIZE_MAX || ch_mul_size(total, f->elem_size, &bytes) != 0 ||
        (uint64_t)bytes > CH_READ_MAX_BYTES) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: the header claims %zu items of %zu elements, more than the 4 GiB "
                          "cohort reads; a corrupt header?",
                          path, f->dims[0], f->n_dims > 1 ? total / f->dims[0] : (size_t)1);
    }
    uint64_t room = (uint64_t)st.st_size - (st.st_size >= (off_t)header ? header : 0);
    if (plain && (uint64_t)bytes > room) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: truncated: the header promises %zu bytes of data, the file holds "
                          "%llu",
                          path, bytes, (unsigned long long)room);
    }
    if (!plain && (uint64_t)bytes > (uint64_t)st.st_size * S_MAX_GZIP_RATIO + 4096) {
        return ch_err_set(err, CH_EINVAL,
                          "%s: the header promises %zu bytes of data, more than a %llu-byte gzip "
                          "file can hold; a corrupt header?",
                          path, bytes, (unsigned long long)st.st_size);
    }
    f->n_items = f->dims[0];
    f->item_size = total / f->dims[0];
    return 0;
}

static void s_close(s_idx *f)
{
    if (f->gz) {
        gzclose(f->gz);
        f->gz = NULL;
    }
}

/* Reads an IDX images file and its labels file into a new table the caller
 * owns: pixel columns px0..pxK-1 (values as stored) and "label". The labels
 * file is the images path with "images-idx3" replaced by "labels-idx1".
 * NULL with err set on a missing file, a bad or inconsistent header, a
 * truncated file, or out of memory. */
ch_table *ch_idx_read(const char *images_path, ch_err *err)
{
    const char *at = strstr(images_path, "images-idx3");
    if (!at) {
        ch_err_set(err, CH_EINVAL,
                   "%s: cannot find the labels file: an IDX images file name must contain "
                   "'images-idx3' (its labels file has 'labels-idx1' there instead)",
                   images_path);
        return NULL;
    }
    size_t plen = strlen(images_path);
    char *labels_path = malloc(plen + 1);
    if (!labels_path) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(labels_path, images_path, plen + 1);
    memcpy(labels_path + (at - images_path), "labels-idx1", 11);

    s_idx im, lb;
    memset(&lb, 0, sizeof lb);
    ch_table *t = NULL;
    double **cols = NULL;
    double *labels = NULL;
    unsigned char *item = NULL;
    size_t k = 0;
    if (s_open(&im, images_path, err) != 0 || s_open(&lb, labels_path, err) != 0) {
        goto done;
    }
    if (im.n_dims < 2) {
        ch_err_set(err, CH_EINVAL, "%s: an images file needs 2 or more dimensions, it has %d",
                   images_path, im.n_dims);
        goto done;
    }
    if (lb.n_dims != 1) {
        ch_err_set(err, CH_EINVAL, "%s: a labels file has 1 dimension, this one has %d",
                   labels_path, lb.n_dims);
        goto done;
    }
    if (lb.n_items != im.n_items) {
        ch_err_set(err, CH_EINVAL, "%s has %zu images but %s has %zu labels", images_path,
                   im.n_items, labels_path, lb.n_items);
        goto done;
    }
    k = im.item_size;
    size_t n = im.n_items, item_bytes = k * im.elem_size;
    cols = ch_calloc_array(k, sizeof *cols);
    labels = ch_alloc_array(n, sizeof *labels);
    item = malloc(item_bytes > lb.elem_size ? item_bytes : lb.elem_size);
    if (!cols || !labels || !item) {
        goto oom;
    }
    for (size_t j = 0; j < k; j++) {
        if (!(cols[j] = ch_alloc_array(n, sizeof **cols))) {
            goto oom;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (s_read(&im, item, item_bytes, err) != 0) {
            ch_err_prefix(err, "image %zu", i + 1);
            goto done;
        }
        for (size_t j = 0; j < k; j++) {
            cols[j][i] = s_elem(item + j * im.elem_size, im.type);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (s_read(&lb, item, lb.elem_size, err) != 0) {
            goto done;
        }
        labels[i] = s_elem(item, lb.type);
    }
    t = ch_table_new(n);
    if (!t || !(t->source = strdup(images_path))) {
        goto oom;
    }
    for (size_t j = 0; j < k; j++) {
        char name[32];
        snprintf(name, sizeof name, "px%zu", j);
        double *v = cols[j];
        cols[j] = NULL;
        if (ch_table_add_column(t, name, CH_COL_NUMERIC, v, NULL, 0) != 0) {
            goto oom;
        }
    }
    double *y = labels;
    labels = NULL;
    if (ch_table_add_column(t, "label", CH_COL_NUMERIC, y, NULL, 0) != 0) {
        goto oom;
    }
    goto done;
oom:
    ch_table_destroy(&t);
    ch_err_set(err, CH_ENOMEM, "%s: out of memory", images_path);
done:
    s_close(&im);
    s_close(&lb);
    if (cols) {
        for (size_t j = 0; j < k; j++) {
            free(cols[j]);
        }
        free(cols);
    }
    free(labels);
    free(item);
    free(labels_path);
    return t;
}
