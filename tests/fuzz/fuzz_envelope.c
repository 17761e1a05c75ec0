/* fuzz_envelope.c: libFuzzer target for the receive path: any bytes must
 * give an Envelope or a reason, never a crash, leak or undefined behaviour;
 * an accepted Envelope's payload is then tried as each runtime message the
 * coordinator and workers unpack (Hello, Assign, Task, Update). */
#include "common/wire.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ch_err err = {0};
    Cohort__Envelope *env = ch_wire_decode(data, size, "exp", &err);
    if (!env) {
        if (err.msg[0] == '\0' || err.code != CH_EPROTO) {
            __builtin_trap(); /* a rejection must say why */
        }
        return 0;
    }
    if (env->version != CH_PROTOCOL_VERSION || env->kind == COHORT__KIND__KIND_UNSPECIFIED) {
        __builtin_trap(); /* ch_wire_decode let through what it promised to check */
    }
    size_t len = env->payload.len;
    const uint8_t *p = env->payload.data;
    Cohort__Hello *hello = cohort__hello__unpack(NULL, len, p);
    cohort__hello__free_unpacked(hello, NULL);
    Cohort__Assign *assign = cohort__assign__unpack(NULL, len, p);
    cohort__assign__free_unpacked(assign, NULL);
    Cohort__Task *task = cohort__task__unpack(NULL, len, p);
    cohort__task__free_unpacked(task, NULL);
    Cohort__Update *update = cohort__update__unpack(NULL, len, p);
    cohort__update__free_unpacked(update, NULL);
    (void)ch_wire_kind_name(env->kind);
    cohort__envelope__free_unpacked(env, NULL);
    return 0;
}
