/* test_idx.c: the IDX reader on tiny files written here (plain and gzip),
 * corrupt headers, and Debian's Fashion-MNIST when it is installed. */
#include "common/table.h"
#include "tests/check.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Writes bytes to path, through gzip when gz is set. */
static void s_write(const char *path, const unsigned char *b, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f || gzwrite(f, b, (unsigned)n) != (int)n) {
            fprintf(stderr, "gzwrite %s failed\n", path);
            exit(2);
        }
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(b, 1, n, f) != n) {
            fprintf(stderr, "write %s failed\n", path);
            exit(2);
        }
        fclose(f);
    }
}

/* Three 2x3 images (pixel = 10*i + k) and labels 7, 0, 9. */
static void s_write_pair(const char *dir, const char *suffix, int gz)
{
    unsigned char im[16 + 18] = {0, 0, 0x08, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 3};
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 6; k++) {
            im[16 + 6 * i + k] = (unsigned char)(10 * i + k);
        }
    }
    unsigned char lb[8 + 3] = {0, 0, 0x08, 1, 0, 0, 0, 3, 7, 0, 9};
    char path[512];
    snprintf(path, sizeof path, "%s/t-images-idx3-ubyte%s", dir, suffix);
    s_write(path, im, sizeof im, gz);
    snprintf(path, sizeof path, "%s/t-labels-idx1-ubyte%s", dir, suffix);
    s_write(path, lb, sizeof lb, gz);
}

static void s_check_tiny(const char *path)
{
    ch_err err = {0};
    ch_table *t = ch_table_read(path, CH_FORMAT_AUTO, &err);
    CHECK(t != NULL);
    if (!t) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        return;
    }
    CHECK(t->n_rows == 3);
    CHECK(t->n_cols == 7);
    CHECK_STR(t->cols[0].name, "px0");
    CHECK_STR(t->cols[5].name, "px5");
    CHECK_STR(t->cols[6].name, "label");
    CHECK(t->cols[0].values[0] == 0 && t->cols[5].values[0] == 5);
    CHECK(t->cols[3].values[2] == 23);
    CHECK(t->cols[6].values[0] == 7 && t->cols[6].values[1] == 0 && t->cols[6].values[2] == 9);
    ch_table_destroy(&t);
}

static void test_tiny(const char *dir)
{
    char path[512];
    s_write_pair(dir, "", 0);
    snprintf(path, sizeof path, "%s/t-images-idx3-ubyte", dir);
    s_check_tiny(path);
    s_write_pair(dir, ".gz", 1);
    snprintf(path, sizeof path, "%s/t-images-idx3-ubyte.gz", dir);
    s_check_tiny(path);
}

static void test_bad(const char *dir)
{
    ch_err err = {0};
    char path[512], lpath[512];
    snprintf(path, sizeof path, "%s/b-images-idx3-ubyte", dir);
    snprintf(lpath, sizeof lpath, "%s/b-labels-idx1-ubyte", dir);
    unsigned char lb[8 + 3] = {0, 0, 0x08, 1, 0, 0, 0, 3, 7, 0, 9};
    s_write(lpath, lb, sizeof lb, 0);

    /* absurd dims: 4e9 images of 60000x60000 */
    unsigned char absurd[16] = {0, 0, 0x08, 3,    0xEE, 0x6B, 0x28, 0,
                                0, 0, 0xEA, 0x60, 0,    0,    0xEA, 0x60};
    s_write(path, absurd, sizeof absurd, 0);
    ch_table *t = ch_table_read(path, CH_FORMAT_AUTO, &err);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, "more than the 4 GiB");

    /* plausible dims, file too short: caught from the size, before reading */
    unsigned char shortf[16 + 4] = {0, 0, 0x08, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4};
    s_write(path, shortf, sizeof shortf, 0);
    t = ch_table_read(path, CH_FORMAT_IDX, &err);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, "truncated: the header promises 18 bytes of data, the file holds 4");

    /* gzip: dims far beyond what the compressed size can hold */
    unsigned char big[16] = {0, 0, 0x08, 3, 0, 0x10, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28};
    snprintf(path, sizeof path, "%s/g-images-idx3-ubyte.gz", dir);
    s_write(path, big, sizeof big, 1);
    t = ch_table_read(path, CH_FORMAT_AUTO, &err);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, "more than a");

    /* a gzip file cut short after the header claims 3 images */
    snprintf(path, sizeof path, "%s/b-images-idx3-ubyte", dir);
    s_write(path, shortf, sizeof shortf, 1);
    t = ch_table_read(path, CH_FORMAT_AUTO, &err);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, "truncated");

    /* bad magic */
    unsigned char magic[16] = {'h', 'e', 'l', 'l', 'o', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    s_write(path, magic, sizeof magic, 0);
    t = ch_table_read(path, CH_FORMAT_AUTO, &err);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, "not an IDX file");

    /* label count differs from image count */
    s_write_pair(dir, "", 0);
    unsigned char lb2[8 + 2] = {0, 0, 0x08, 1, 0, 0, 0, 2, 7, 0};
    snprintf(lpath, sizeof lpath, "%s/t-labels-idx1-ubyte", dir);
    s_write(lpath, lb2, sizeof lb2, 0);
    snprintf(path, sizeof path, "%s/t-images-idx3-ubyte", dir);
    t = ch_table_read(path, CH_FORMAT_AUTO, &err);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, "has 3 images but");

    /* no labels file at all */
    unlink(lpath);
    t = ch_table_read(path, CH_FORMAT_AUTO, &err);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, "cannot open");
    CHECK_HAS(err.msg, "t-labels-idx1-ubyte");

    /* a name without images-idx3 */
    t = ch_idx_read("/tmp/whatever.idx", &err);
    CHECK(t == NULL);
    CHECK_HAS(err.msg, "images-idx3");
}

static void test_fashion_mnist(void)
{
    const char *path = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("Fashion-MNIST not installed; skipping that part\n");
        return;
    }
    ch_err err = {0};
    ch_table *t = ch_table_read(path, CH_FORMAT_AUTO, &err);
    CHECK(t != NULL);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    CHECK(t->n_rows == 10000);
    CHECK(t->n_cols == 785);
    CHECK(t->cols[784].values[0] == 9); /* the first test image is an ankle boot */
    CHECK(t->cols[784].values[1] == 2);
    double max = 0;
    for (size_t j = 0; j < 784; j++) {
        for (size_t i = 0; i < 100; i++) {
            max = t->cols[j].values[i] > max ? t->cols[j].values[i] : max;
        }
    }
    CHECK(max == 255);
    ch_table_destroy(&t);
}

int main(void)
{
    char dir[] = "/tmp/cohort_idx_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    test_tiny(dir);
    test_bad(dir);
    test_fashion_mnist();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
    }
    CH_TEST_END();
}
