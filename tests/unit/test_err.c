/* test_err.c: the error context and checked sizes (common/err.h). */
#include "common/err.h"
#include "tests/check.h"

#include <stdint.h>
#include <stdlib.h>

int main(void)
{
    ch_err e;
    ch_err_clear(&e);
    CHECK(e.code == 0 && e.msg[0] == 0);
    CHECK(ch_err_set(&e, CH_EINVAL, "bad %s at line %d", "key", 7) == CH_EINVAL);
    CHECK_STR(e.msg, "bad key at line 7");
    CHECK(ch_err_prefix(&e, "exp.yaml") == CH_EINVAL);
    CHECK_STR(e.msg, "exp.yaml: bad key at line 7");
    CHECK(ch_err_set(NULL, CH_EIO, "dropped") == CH_EIO);
    /* a long message is cut, never overflows */
    char big[4000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ch_err_set(&e, CH_EIO, "%s", big);
    CHECK(strlen(e.msg) == CH_ERR_MSG_MAX - 1);
    ch_err_prefix(&e, "%s", big);
    CHECK(strlen(e.msg) <= CH_ERR_MSG_MAX - 1);
    CHECK_STR(ch_strerror(CH_ETIMEOUT), "timeout");
    size_t out;
    CHECK(ch_mul_size(SIZE_MAX / 2, 3, &out) == CH_ENOMEM);
    CHECK(ch_mul_size(1000, 1000, &out) == 0 && out == 1000000);
    CHECK(ch_alloc_array(SIZE_MAX / 4, 8) == NULL);
    CHECK(ch_calloc_array(SIZE_MAX / 4, 8) == NULL);
    void *p = ch_alloc_array(0, 8);
    CHECK(p != NULL);
    free(p);
    CH_TEST_END();
}
