/* curve.c: CURVE keys, socket options and the ZAP authenticator (see curve.h). */
#include "common/curve.h"
#include "common/fsutil.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static int s_write(const char *path, const char *text, int mode, ch_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) {
        return ch_err_set(err, CH_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int rc = (w == (ssize_t)n && fsync(fd) == 0) ? 0 : CH_EIO;
    close(fd);
    return rc ? ch_err_set(err, rc, "cannot write %s", path) : 0;
}

int ch_curve_keygen(const char *name, ch_err *err)
{
    ch_keypair kp;
    if (!zmq_has("curve") || zmq_curve_keypair(kp.public_key, kp.secret_key) != 0) {
        return ch_err_set(err, CH_EINVAL, "this ZeroMQ has no CURVE support");
    }
    size_t n = strlen(name) + 8;
    char *key = malloc(n), *pub = malloc(n);
    char text[160];
    int rc = 0;
    if (!key || !pub) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    } else {
        snprintf(key, n, "%s.key", name);
        snprintf(pub, n, "%s.pub", name);
        snprintf(text, sizeof text,
                 "# cohort CURVE keypair: keep secret\npublic = %s\nsecret = %s\n", kp.public_key,
                 kp.secret_key);
        rc = s_write(key, text, 0600, err);
        if (rc == 0) {
            snprintf(text, sizeof text, "# cohort CURVE public key\npublic = %s\n", kp.public_key);
            rc = s_write(pub, text, 0644, err);
        }
    }
    free(key);
    free(pub);
    return rc;
}

int ch_curve_load(const char *path, bool secret_required, ch_keypair *out, ch_err *err)
{
    memset(out, 0, sizeof *out);
    size_t len;
    uint8_t *text = ch_read_file(path, 4096, &len, err);
    if (!text) {
        return err ? err->code : CH_EIO;
    }
    int line = 0, rc = 0;
    char *save = NULL;
    for (char *l = strtok_r((char *)text, "\n", &save); l && rc == 0;
         l = strtok_r(NULL, "\n", &save)) {
        line++;
        if (l[0] == '#' || l[0] == 0) {
            continue;
        }
        char *eq = strchr(l, '=');
        if (!eq) {
            rc = ch_err_set(err, CH_EINVAL, "%s:%d: expected 'public = KEY' or 'secret = KEY'",
                            path, line);
            break;
        }
        char *v = eq + 1;
        while (*v == ' ') {
            v++;
        }
        char *dst = !strncmp(l, "public", 6)   ? out->public_key
                    : !strncmp(l, "secret", 6) ? out->secret_key
                                               : NULL;
        if (!dst || strlen(v) != 40) {
            rc = ch_err_set(err, CH_EINVAL, "%s:%d: not a 40-character Z85 key", path, line);
            break;
        }
        memcpy(dst, v, 41);
    }
    free(text);
    if (rc == 0 && !out->public_key[0]) {
        rc = ch_err_set(err, CH_EINVAL, "%s: no public key", path);
    }
    if (rc == 0 && secret_required && !out->secret_key[0]) {
        rc = ch_err_set(err, CH_EINVAL, "%s: no secret key (give the .key file, not the .pub)",
                        path);
    }
    return rc;
}

int ch_curve_server(void *sock, const ch_keypair *kp, ch_err *err)
{
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->secret_key, 40) != 0) {
        return ch_err_set(err, CH_EIO, "cannot make a CURVE server: %s", zmq_strerror(errno));
    }
    return 0;
}

int ch_curve_client(void *sock, const char *server_public, const ch_keypair *kp, ch_err *err)
{
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_public, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, kp->public_key, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->secret_key, 40) != 0) {
        return ch_err_set(err, CH_EIO, "cannot make a CURVE client: %s", zmq_strerror(errno));
    }
    return 0;
}

#define S_MAX_KEYS 4096

struct ch_zap {
    pthread_t thread;
    void *sock;
    atomic_int stop;
    size_t n;
    uint8_t keys[S_MAX_KEYS][32]; /* binary public keys */
};

static bool s_admitted(const ch_zap *z, const uint8_t *key, size_t len)
{
    for (size_t i = 0; len == 32 && i < z->n; i++) {
        if (memcmp(z->keys[i], key, 32) == 0) {
            return true;
        }
    }
    return false;
}

/* RFC 27 (ZAP): request frames version, request id, domain, address,
 * identity, mechanism, credentials...; reply version, request id, status
 * code, status text, user id, metadata. */
static void *s_zap(void *arg)
{
    ch_zap *z = arg;
    while (!atomic_load(&z->stop)) {
        zmq_pollitem_t it = {z->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0) {
            continue;
        }
        zmq_msg_t part[8];
        size_t n = 0;
        int more = 1;
        while (more && n < 8) {
            zmq_msg_init(&part[n]);
            if (zmq_msg_recv(&part[n], z->sock, 0) < 0) {
                zmq_msg_close(&part[n]);
                break;
            }
            more = zmq_msg_more(&part[n]);
            n++;
        }
        while (more) { /* drain anything beyond what a request holds */
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            zmq_msg_recv(&extra, z->sock, 0);
            more = zmq_msg_more(&extra);
            zmq_msg_close(&extra);
        }
        bool ok = n >= 7 && zmq_msg_size(&part[5]) == 5 &&
                  memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0 &&
                  s_admitted(z, zmq_msg_data(&part[6]), zmq_msg_size(&part[6]));
        if (!ok && n >= 7) {
            ch_warn("refused a connection from an unknown CURVE key");
        }
        if (n >= 2) {
            zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE);
            zmq_send(z->sock, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
            zmq_send(z->sock, ok ? "200" : "400", 3, ZMQ_SNDMORE);
            zmq_send(z->sock, ok ? "OK" : "unknown key", ok ? 2 : 11, ZMQ_SNDMORE);
            zmq_send(z->sock, "", 0, ZMQ_SNDMORE);
            zmq_send(z->sock, "", 0, 0);
        }
        for (size_t i = 0; i < n; i++) {
            zmq_msg_close(&part[i]);
        }
    }
    return NULL;
}

ch_zap *ch_zap_start(void *zmq_ctx, const char *dir, ch_err *err)
{
    ch_zap *z = calloc(1, sizeof *z);
    if (!z) {
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    DIR *d = opendir(dir);
    if (!d) {
        ch_err_set(err, CH_EIO, "cannot read the authorised keys in %s: %s", dir, strerror(errno));
        free(z);
        return NULL;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL && rc == 0) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".pub") != 0 || z->n == S_MAX_KEYS) {
            continue;
        }
        char *path = ch_path_join(dir, e->d_name);
        ch_keypair kp;
        rc = path ? ch_curve_load(path, false, &kp, err) : CH_ENOMEM;
        free(path);
        if (rc == 0 && !zmq_z85_decode(z->keys[z->n], kp.public_key)) {
            rc = ch_err_set(err, CH_EINVAL, "%s/%s: not a Z85 key", dir, e->d_name);
        }
        if (rc == 0) {
            z->n++;
        }
    }
    closedir(d);
    if (rc == 0 && z->n == 0) {
        rc = ch_err_set(err, CH_EINVAL, "%s holds no *.pub key: no worker could connect", dir);
    }
    z->sock = rc == 0 ? zmq_socket(zmq_ctx, ZMQ_REP) : NULL;
    if (rc == 0 && (!z->sock || zmq_bind(z->sock, "inproc://zeromq.zap.01") != 0)) {
        rc = ch_err_set(err, CH_EIO, "cannot start the CURVE authenticator: %s",
                        zmq_strerror(errno));
    }
    atomic_init(&z->stop, 0);
    if (rc == 0 && pthread_create(&z->thread, NULL, s_zap, z) != 0) {
        rc = ch_err_set(err, CH_EIO, "cannot start the CURVE authenticator thread");
    }
    if (rc) {
        if (z->sock) {
            zmq_close(z->sock);
        }
        free(z);
        return NULL;
    }
    return z;
}

size_t ch_zap_count(const ch_zap *z)
{
    return z ? z->n : 0;
}

void ch_zap_stop(ch_zap **pz)
{
    if (!pz || !*pz) {
        return;
    }
    ch_zap *z = *pz;
    atomic_store(&z->stop, 1);
    pthread_join(z->thread, NULL);
    zmq_close(z->sock);
    free(z);
    *pz = NULL;
}
