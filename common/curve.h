/* curve.h: CURVE encryption and authentication for standalone silos.
 *
 * `cohort keygen NAME` writes NAME.key (the keypair, mode 0600) and
 * NAME.pub (the public key). The coordinator is a CURVE server with its
 * keypair; a worker is a client that knows the coordinator's public key and
 * has its own keypair. With a directory of authorised workers' *.pub files,
 * the coordinator's ZAP handler admits only those keys; without it, any
 * worker that knows the server key may connect (encrypted, not
 * authenticated). Keys are Z85 text (40 characters). */
#ifndef CH_CURVE_H
#define CH_CURVE_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct ch_keypair {
    char public_key[41];
    char secret_key[41];
} ch_keypair;

/* Generates a keypair and writes NAME.key and NAME.pub. */
int ch_curve_keygen(const char *name, ch_err *err);
/* Reads a .key file (public and secret) or, with secret_required false, a
 * .pub file (public only). Errors name the file and the line. */
int ch_curve_load(const char *path, bool secret_required, ch_keypair *out, ch_err *err);

/* Makes sock a CURVE server with kp. */
int ch_curve_server(void *sock, const ch_keypair *kp, ch_err *err);
/* Makes sock a CURVE client of server_public with its own keypair kp. */
int ch_curve_client(void *sock, const char *server_public, const ch_keypair *kp, ch_err *err);

typedef struct ch_zap ch_zap;
/* Starts the ZAP handler in zmq_ctx admitting only the public keys in the
 * *.pub files of dir. Must start before the server sockets bind. */
ch_zap *ch_zap_start(void *zmq_ctx, const char *dir, ch_err *err);
/* Number of keys admitted. */
size_t ch_zap_count(const ch_zap *z);
void ch_zap_stop(ch_zap **z);

#endif
