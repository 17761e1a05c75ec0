/* test_uploads.c: upload flow control's books. The coordinator's grant
 * table never has more than `slots` grants outstanding, grants in the order
 * the offers came, frees a slot when the update is taken or its worker is
 * gone, and ignores repeated offers; a worker's held updates are given back
 * once and dropped when a later round starts. */
#include "coordinator/uploads.h"
#include "tests/check.h"
#include "worker/offers.h"

static void test_slots_bound_and_order(void)
{
    ch_uploads u;
    CHECK(ch_uploads_init(&u, 2) == 0);
    for (int w = 0; w < 20; w++) {
        CHECK(ch_uploads_offer(&u, w, (uint32_t)w) == 0);
    }
    CHECK(ch_uploads_offer(&u, 3, 3) == 0); /* the same offer again: ignored */
    CHECK(ch_uploads_waiting(&u) == 20);
    int w;
    uint32_t s;
    int next = 0;
    /* grant as slots free up; the order is the offers' */
    for (int round = 0; round < 10; round++) {
        while (ch_uploads_next(&u, &w, &s)) {
            CHECK(w == next && s == (uint32_t)next);
            next++;
            ch_uploads_grant(&u, w, s, 0);
            CHECK(ch_uploads_inflight(&u) <= 2);
        }
        CHECK(ch_uploads_inflight(&u) == 2);
        CHECK(ch_uploads_release(&u, next - 2, (uint32_t)(next - 2)));
        CHECK(!ch_uploads_release(&u, next - 2, (uint32_t)(next - 2))); /* once */
    }
    CHECK(ch_uploads_offer(&u, next - 1, (uint32_t)(next - 1)) == 0); /* granted: ignored */
    CHECK(!ch_uploads_release(&u, 99, 0));                            /* never granted */
    CHECK(u.max_inflight == 2);
    CHECK(u.offers == 20);
    ch_uploads_free(&u);
}

static void test_forget(void)
{
    ch_uploads u;
    CHECK(ch_uploads_init(&u, 1) == 0);
    CHECK(ch_uploads_offer(&u, 5, 0) == 0);
    CHECK(ch_uploads_offer(&u, 6, 1) == 0);
    CHECK(ch_uploads_offer(&u, 5, 2) == 0);
    CHECK(ch_uploads_offer(&u, 7, 3) == 0);
    int w;
    uint32_t s;
    CHECK(ch_uploads_next(&u, &w, &s) && w == 5 && s == 0);
    ch_uploads_grant(&u, w, s, 0);
    CHECK(!ch_uploads_next(&u, &w, &s)); /* the one slot is taken */
    /* worker 5 dies holding the slot: freed, and its other offer dropped */
    CHECK(ch_uploads_forget(&u, 5) == 1);
    CHECK(ch_uploads_waiting(&u) == 2);
    CHECK(ch_uploads_next(&u, &w, &s) && w == 6 && s == 1);
    ch_uploads_grant(&u, w, s, 0);
    CHECK(ch_uploads_forget(&u, 7) == 0); /* only waiting */
    CHECK(ch_uploads_waiting(&u) == 0);
    ch_uploads_free(&u);
}

static void test_off(void)
{
    ch_uploads u;
    CHECK(ch_uploads_init(&u, 0) == 0);
    CHECK(ch_uploads_offer(&u, 1, 1) == 0);
    int w;
    uint32_t s;
    CHECK(!ch_uploads_next(&u, &w, &s));
    CHECK(ch_uploads_waiting(&u) == 0);
    ch_uploads_free(&u);
    ch_uploads_free(&u); /* a freed book frees again */
}

static void test_worker_offers(void)
{
    ch_offers *o = ch_offers_new();
    CHECK(o != NULL);
    for (uint32_t r = 1; r <= 3; r++) {
        ch_buf b;
        ch_buf_init(&b);
        ch_buf_printf(&b, "update %u", r);
        CHECK(ch_offers_hold_take(o, r, 4, &b) == 0);
        CHECK(b.data == NULL && b.len == 0);
    }
    ch_buf got;
    ch_buf_init(&got);
    CHECK(!ch_offers_take(o, 2, 5, &got)); /* another shard */
    CHECK(ch_offers_take(o, 2, 4, &got));
    CHECK_STR(ch_buf_str(&got), "update 2");
    ch_buf_free(&got);
    CHECK(!ch_offers_take(o, 2, 4, &got)); /* given once */
    CHECK(ch_offers_drop_before(o, 3) == 1);
    CHECK(ch_offers_count(o) == 1);
    CHECK(ch_offers_take(o, 3, 4, &got));
    ch_buf_free(&got);
    ch_offers_destroy(&o);
    CHECK(o == NULL);
    ch_offers_destroy(&o);
}

/* Grants older than the timeout are revoked, oldest first, freeing their
 * slots for the next offers; a revoked upload that comes later holds no
 * slot. */
static void test_revoke(void)
{
    ch_uploads u;
    CHECK(ch_uploads_init(&u, 2) == 0);
    int64_t at;
    CHECK(!ch_uploads_oldest(&u, &at)); /* nothing granted */
    for (int w = 0; w < 4; w++) {
        CHECK(ch_uploads_offer(&u, w, (uint32_t)(10 + w)) == 0);
    }
    int w;
    uint32_t s;
    CHECK(ch_uploads_next(&u, &w, &s) && w == 0);
    ch_uploads_grant(&u, w, s, 1000);
    CHECK(ch_uploads_next(&u, &w, &s) && w == 1);
    ch_uploads_grant(&u, w, s, 1500);
    CHECK(!ch_uploads_next(&u, &w, &s)); /* both slots taken */
    CHECK(ch_uploads_oldest(&u, &at) && at == 1000);

    ch_upload_ref g;
    CHECK(!ch_uploads_revoke_older(&u, 1000, &g)); /* not older than 1000 */
    CHECK(ch_uploads_revoke_older(&u, 1600, &g));  /* both are; the oldest first */
    CHECK(g.worker == 0 && g.shard == 10 && g.at == 1000);
    CHECK(ch_uploads_inflight(&u) == 1 && u.revoked == 1);
    CHECK(ch_uploads_oldest(&u, &at) && at == 1500);
    CHECK(ch_uploads_next(&u, &w, &s) && w == 2); /* the freed slot goes on */
    ch_uploads_grant(&u, w, s, 1700);
    CHECK(ch_uploads_revoke_older(&u, 1600, &g) && g.worker == 1);
    CHECK(!ch_uploads_revoke_older(&u, 1600, &g)); /* 1700 is recent */
    CHECK(ch_uploads_inflight(&u) == 1 && u.revoked == 2);
    CHECK(!ch_uploads_release(&u, 0, 10)); /* the revoked upload came late: no slot */
    CHECK(ch_uploads_release(&u, 2, 12));
    CHECK(ch_uploads_inflight(&u) == 0);
    ch_uploads_free(&u);
}

int main(void)
{
    test_slots_bound_and_order();
    test_forget();
    test_off();
    test_revoke();
    test_worker_offers();
    CH_TEST_END();
}
