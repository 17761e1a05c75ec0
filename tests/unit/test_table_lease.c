/* test_table_lease.c: the training-table lease: release frees the table
 * only when it can be read again, a get after a release reads it again
 * (the same table), and a table that reads differently is an error, not a
 * silent switch of data under a running algorithm. */
#include "common/table_lease.h"
#include "tests/check.h"

/* A loader over a CSV text the test can change between reads. */
typedef struct {
    const char *text;
    int calls;
    bool fail;
} s_src;

static int s_load(void *ctx, ch_table **out, ch_err *err)
{
    s_src *s = ctx;
    s->calls++;
    if (s->fail) {
        return ch_err_set(err, CH_EIO, "cannot open t.csv");
    }
    *out = ch_csv_parse(s->text, strlen(s->text), "t.csv", err);
    return *out ? 0 : err->code ? err->code : CH_EIO;
}

static ch_table *s_read(s_src *s)
{
    ch_err err = {0};
    ch_table *t = NULL;
    return s_load(s, &t, &err) == 0 ? t : NULL;
}

static void test_release_and_read_again(void)
{
    s_src src = {"a,b\n1,2\n3,4\n5,6\n", 0, false};
    ch_table *slot = s_read(&src);
    CHECK(slot != NULL);
    uint64_t fp = ch_table_fingerprint(slot);
    ch_table_lease *l = ch_table_lease_new(&slot, s_load, &src);
    CHECK(l != NULL);
    CHECK(ch_table_lease_held(l));

    ch_err err = {0};
    const ch_table *t = ch_table_lease_get(l, &err);
    CHECK(t == slot && src.calls == 1); /* held: no read */

    /* the fingerprint is the table's, and is kept: after a release it is
     * still known without the table */
    CHECK(ch_table_lease_fingerprint(l) == fp);
    ch_table_lease_release(l);
    CHECK(slot == NULL && !ch_table_lease_held(l));
    CHECK(ch_table_lease_fingerprint(l) == fp && src.calls == 1);
    CHECK(ch_table_lease_releases(l) == 1 && ch_table_lease_reloads(l) == 0);
    ch_table_lease_release(l); /* already released: nothing to do */
    CHECK(ch_table_lease_releases(l) == 1);

    t = ch_table_lease_get(l, &err);
    CHECK(t != NULL && t == slot && src.calls == 2);
    CHECK(t && t->n_rows == 3 && ch_table_fingerprint(t) == fp);
    CHECK(ch_table_lease_reloads(l) == 1 && ch_table_lease_held(l));

    /* the file changes while the run holds no table: refused, and the
     * error says which file and what to do */
    ch_table_lease_release(l);
    src.text = "a,b\n1,2\n3,4\n5,7\n";
    t = ch_table_lease_get(l, &err);
    CHECK(t == NULL && slot == NULL);
    CHECK(err.code == CH_EINVAL);
    CHECK_HAS(err.msg, "t.csv changed during the run");
    CHECK(ch_table_lease_reloads(l) == 1);

    /* a row more is a change too */
    src.text = "a,b\n1,2\n3,4\n5,6\n7,8\n";
    err = (ch_err){0};
    CHECK(ch_table_lease_get(l, &err) == NULL && err.code == CH_EINVAL);

    /* the file gone: the loader's error, prefixed */
    src.fail = true;
    err = (ch_err){0};
    CHECK(ch_table_lease_get(l, &err) == NULL);
    CHECK_HAS(err.msg, "reading the training table again");
    CHECK_HAS(err.msg, "cannot open t.csv");

    /* back as it was: read again */
    src.fail = false;
    src.text = "a,b\n1,2\n3,4\n5,6\n";
    t = ch_table_lease_get(l, &err);
    CHECK(t != NULL && ch_table_lease_reloads(l) == 2);

    ch_table_lease_destroy(&l);
    CHECK(l == NULL);
    CHECK(slot != NULL); /* the lease does not own the table */
    ch_table_destroy(&slot);
    ch_table_lease_destroy(&l);
}

static void test_without_loader(void)
{
    s_src src = {"x\n1\n2\n", 0, false};
    ch_table *slot = s_read(&src);
    ch_table_lease *l = ch_table_lease_new(&slot, NULL, NULL);
    ch_table_lease_release(l); /* cannot be read again: kept */
    CHECK(slot != NULL && ch_table_lease_held(l));
    CHECK(ch_table_lease_releases(l) == 0);
    ch_err err = {0};
    CHECK(ch_table_lease_get(l, &err) == slot);
    ch_table_lease_destroy(&l);
    ch_table_destroy(&slot);

    /* no lease at all (a process without a training table) */
    CHECK(ch_table_lease_get(NULL, &err) == NULL && err.code == CH_EINTERNAL);
    CHECK(!ch_table_lease_held(NULL));
    ch_table_lease_release(NULL);
}

int main(void)
{
    test_release_and_read_again();
    test_without_loader();
    CH_TEST_END();
}
