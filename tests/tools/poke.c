/* poke.c: a hostile peer for the wire tests: connects to a coordinator and
 * sends one bad message of a chosen kind.
 * usage: poke ENDPOINT garbage|version|experiment|kind|badhello|oversize [EXPERIMENT] */
#include "common/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: poke ENDPOINT MODE [EXPERIMENT]\n");
        return 2;
    }
    const char *mode = argv[2];
    const char *exp = argc > 3 ? argv[3] : "";
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 2000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(s, argv[1]) != 0) {
        fprintf(stderr, "poke: cannot connect to %s\n", argv[1]);
        return 1;
    }
    int rc = 0;
    if (!strcmp(mode, "garbage")) {
        const char junk[] = "\xff\xfe this is not a protobuf \x00\x01\x02";
        rc = zmq_send(s, junk, sizeof junk, 0) < 0;
    } else if (!strcmp(mode, "oversize")) {
        size_t n = (size_t)3 << 20;
        char *big = calloc(1, n);
        rc = !big || zmq_send(s, big, n, 0) < 0;
        free(big);
    } else {
        Cohort__Envelope env = COHORT__ENVELOPE__INIT;
        env.version = CH_PROTOCOL_VERSION;
        env.experiment = (char *)exp;
        env.kind = COHORT__KIND__UPDATE;
        env.sender = 0;
        uint8_t junk[16] = {0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff,
                            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
        if (!strcmp(mode, "version")) {
            env.version = 99;
        } else if (!strcmp(mode, "experiment")) {
            env.experiment = (char *)"someone-elses-run";
        } else if (!strcmp(mode, "kind")) {
            env.kind = (Cohort__Kind)77;
        } else if (!strcmp(mode, "badhello")) {
            env.kind = COHORT__KIND__HELLO;
            env.experiment = (char *)"";
            env.payload.data = junk;
            env.payload.len = sizeof junk;
        } else {
            fprintf(stderr, "poke: unknown mode %s\n", mode);
            return 2;
        }
        size_t n = cohort__envelope__get_packed_size(&env);
        uint8_t *buf = malloc(n ? n : 1);
        cohort__envelope__pack(&env, buf);
        rc = zmq_send(s, buf, n, 0) < 0;
        free(buf);
    }
    usleep(200000);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return rc;
}
