/* test_fsutil.c: mkdir -p, atomic writes, bounded reads (common/fsutil.h),
 * and checkpoints on top of them, direct and through the writer thread
 * (common/checkpoint.h). */
#include "common/checkpoint.h"
#include "common/fsutil.h"
#include "tests/check.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
    char tmpl[] = "/tmp/cohort-fsutil-XXXXXX";
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    char *deep = ch_path_join(dir, "a/b/c");
    ch_err err;
    CHECK(ch_mkdirs(deep, &err) == 0);
    struct stat st;
    CHECK(stat(deep, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(ch_mkdirs(deep, &err) == 0); /* exists: fine */

    char *file = ch_path_join(deep, "f.txt");
    CHECK(ch_write_file_atomic(file, "hello", 5, &err) == 0);
    size_t len;
    uint8_t *data = ch_read_file(file, 100, &len, &err);
    CHECK(data && len == 5 && memcmp(data, "hello", 5) == 0 && data[5] == 0);
    free(data);
    /* over the limit: an error naming the file, no data */
    CHECK(ch_read_file(file, 3, &len, &err) == NULL);
    CHECK_HAS(err.msg, "too large");
    CHECK(ch_read_file("/nonexistent/x", 10, &len, &err) == NULL);
    CHECK(err.code == CH_ENOTFOUND);
    /* a file where a directory should be */
    CHECK(ch_mkdirs(file, &err) != 0);
    /* no temp file is left behind */
    char *tmpfile = ch_path_join(deep, "f.txt.tmp.0");
    CHECK(access(tmpfile, F_OK) != 0);

    /* checkpoints: write, read back, replace atomically */
    const uint8_t state[] = {1, 2, 3, 4};
    CHECK(ch_checkpoint_write(dir, "exp", "linear", 3, state, sizeof state, &err) == 0);
    ch_checkpoint ck;
    CHECK(ch_checkpoint_read(dir, &ck, &err) == 0);
    CHECK(ck.round == 3 && ck.len == 4 && memcmp(ck.state, state, 4) == 0);
    CHECK_STR(ck.algorithm, "linear");
    ch_checkpoint_free(&ck);
    CHECK(ch_checkpoint_write(dir, "exp", "linear", 4, state, 2, &err) == 0);
    CHECK(ch_checkpoint_read(dir, &ck, &err) == 0 && ck.round == 4 && ck.len == 2);
    ch_checkpoint_free(&ck);
    /* a corrupt checkpoint is an error, not a crash */
    char *cp = ch_path_join(dir, "checkpoints/latest.pb");
    CHECK(ch_write_file_atomic(cp, "\xff\xff\xff garbage", 12, &err) == 0);
    CHECK(ch_checkpoint_read(dir, &ck, &err) != 0);
    CHECK_HAS(err.msg, "not a readable cohort checkpoint");
    char *none = ch_path_join(dir, "nothing-here");
    CHECK(ch_checkpoint_read(none, &ck, &err) == CH_ENOTFOUND);

    /* the writer thread: the last of several rounds is on disk after a
     * flush, and its round is reported */
    char *wdir = ch_path_join(dir, "w");
    ch_ckpt_writer *w = ch_ckpt_writer_new(wdir, "exp", "qlearning", &err);
    CHECK(w != NULL);
    for (uint32_t r = 1; r <= 5; r++) {
        uint8_t *s = malloc(r);
        memset(s, (int)r, r);
        CHECK(ch_ckpt_writer_put(w, r, s, r, &err) == 0);
    }
    CHECK(ch_ckpt_writer_flush(w, &err) == 0);
    CHECK(ch_ckpt_writer_round(w) == 5);
    CHECK(ch_checkpoint_read(wdir, &ck, &err) == 0 && ck.round == 5 && ck.len == 5 &&
          ck.state[4] == 5);
    CHECK_STR(ck.algorithm, "qlearning");
    ch_checkpoint_free(&ck);
    ch_ckpt_writer_destroy(&w);
    CHECK(w == NULL);
    /* a write that fails (a file where checkpoints/ should be) is reported
     * by the next put, with the path, and the earlier round stays known */
    char *bad = ch_path_join(dir, "bad");
    char *badck = ch_path_join(bad, "checkpoints");
    CHECK(ch_mkdirs(bad, &err) == 0);
    CHECK(ch_write_file_atomic(badck, "x", 1, &err) == 0);
    w = ch_ckpt_writer_new(bad, "exp", "qlearning", &err);
    CHECK(ch_ckpt_writer_put(w, 1, malloc(4), 4, &err) == 0);
    ch_err_clear(&err);
    CHECK(ch_ckpt_writer_put(w, 2, malloc(4), 4, &err) != 0);
    CHECK_HAS(err.msg, "checkpoints");
    CHECK(ch_ckpt_writer_round(w) == 0);
    CHECK(ch_ckpt_writer_flush(w, &err) == 0); /* reported once */
    ch_ckpt_writer_destroy(&w);

    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    free(deep);
    free(file);
    free(tmpfile);
    free(cp);
    free(none);
    free(wdir);
    free(bad);
    free(badck);
    CH_TEST_END();
}
