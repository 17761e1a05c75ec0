/* checkpoint.c: atomic per-round checkpoints (see checkpoint.h). */
#include "common/checkpoint.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "proto/cohort.pb-c.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int ch_checkpoint_write(const char *run_dir, const char *experiment, const char *algorithm,
                        uint32_t round, const uint8_t *state, size_t len, ch_err *err)
{
    char *dir = ch_path_join(run_dir, "checkpoints");
    char *path = dir ? ch_path_join(dir, "latest.pb") : NULL;
    int rc = 0;
    if (!dir || !path) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = ch_mkdirs(dir, err))) {
        goto done;
    }
    Cohort__Checkpoint c = COHORT__CHECKPOINT__INIT;
    c.version = 1;
    c.experiment = (char *)experiment;
    c.algorithm = (char *)algorithm;
    c.round = round;
    c.state.data = (uint8_t *)state;
    c.state.len = len;
    size_t size = cohort__checkpoint__get_packed_size(&c);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    cohort__checkpoint__pack(&c, buf);
    rc = ch_write_file_atomic(path, buf, size, err);
    free(buf);
done:
    free(dir);
    free(path);
    return rc;
}

struct ch_ckpt_writer {
    char *run_dir, *experiment, *algorithm;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* the job: state != NULL while one waits or is being written */
    uint8_t *state;
    size_t len;
    uint32_t round;
    bool quit;
    /* the outcome */
    uint32_t written; /* round of the last checkpoint on disk */
    int rc;
    ch_err err;
};

static void *s_writer_main(void *arg)
{
    ch_ckpt_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->state && !w->quit) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        if (!w->state) {
            break;
        }
        uint8_t *state = w->state;
        size_t len = w->len;
        uint32_t round = w->round;
        pthread_mutex_unlock(&w->mu);
        ch_err err;
        ch_err_clear(&err);
        int rc =
            ch_checkpoint_write(w->run_dir, w->experiment, w->algorithm, round, state, len, &err);
        free(state);
        pthread_mutex_lock(&w->mu);
        if (rc) {
            w->rc = rc;
            w->err = err;
        } else {
            w->written = round;
        }
        w->state = NULL;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Frees what ch_ckpt_writer_new allocated (the thread is stopped or was
 * never started). Accepts NULL. */
static void s_writer_free(ch_ckpt_writer *w, bool sync_objects)
{
    if (!w) {
        return;
    }
    if (sync_objects) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
    }
    free(w->run_dir);
    free(w->experiment);
    free(w->algorithm);
    free(w);
}

ch_ckpt_writer *ch_ckpt_writer_new(const char *run_dir, const char *experiment,
                                   const char *algorithm, ch_err *err)
{
    ch_ckpt_writer *w = calloc(1, sizeof *w);
    if (w) {
        w->run_dir = strdup(run_dir);
        w->experiment = strdup(experiment);
        w->algorithm = strdup(algorithm);
    }
    if (!w || !w->run_dir || !w->experiment || !w->algorithm) {
        s_writer_free(w, false);
        ch_err_set(err, CH_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, s_writer_main, w) != 0) {
        s_writer_free(w, true);
        ch_err_set(err, CH_EIO, "cannot start the checkpoint writer thread");
        return NULL;
    }
    return w;
}

/* Called with w->mu held. */
static int s_writer_wait(ch_ckpt_writer *w, ch_err *err)
{
    while (w->state) {
        pthread_cond_wait(&w->cv, &w->mu);
    }
    int rc = w->rc;
    if (rc && err) { /* reported once; kept for a caller that passes none */
        *err = w->err;
        w->rc = 0;
    }
    return rc;
}

int ch_ckpt_writer_put(ch_ckpt_writer *w, uint32_t round, uint8_t *state, size_t len, ch_err *err)
{
    pthread_mutex_lock(&w->mu);
    int rc = s_writer_wait(w, err);
    if (rc == 0) {
        w->state = state ? state : malloc(1);
        w->len = state ? len : 0;
        w->round = round;
        if (!w->state) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        pthread_cond_broadcast(&w->cv);
    } else {
        free(state);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int ch_ckpt_writer_flush(ch_ckpt_writer *w, ch_err *err)
{
    pthread_mutex_lock(&w->mu);
    int rc = s_writer_wait(w, err);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

uint32_t ch_ckpt_writer_round(const ch_ckpt_writer *w)
{
    return w->written;
}

void ch_ckpt_writer_destroy(ch_ckpt_writer **pw)
{
    ch_ckpt_writer *w = pw ? *pw : NULL;
    if (!w) {
        return;
    }
    ch_err err;
    ch_err_clear(&err);
    if (ch_ckpt_writer_flush(w, &err) != 0) {
        ch_warn("checkpoint: %s", err.msg);
    }
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    s_writer_free(w, true);
    *pw = NULL;
}

int ch_checkpoint_read(const char *run_dir, ch_checkpoint *out, ch_err *err)
{
    memset(out, 0, sizeof *out);
    char *path = ch_path_join(run_dir, "checkpoints/latest.pb");
    if (!path) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    size_t len;
    uint8_t *data = ch_read_file(path, (size_t)8 << 30, &len, err);
    if (!data) {
        free(path);
        return err ? err->code : CH_EIO;
    }
    Cohort__Checkpoint *c = cohort__checkpoint__unpack(NULL, len, data);
    free(data);
    if (!c || c->version != 1) {
        if (c) {
            cohort__checkpoint__free_unpacked(c, NULL);
        }
        int rc = ch_err_set(err, CH_EINVAL, "%s is not a readable cohort checkpoint", path);
        free(path);
        return rc;
    }
    free(path);
    out->round = c->round;
    out->algorithm = strdup(c->algorithm);
    out->experiment = strdup(c->experiment);
    out->state = malloc(c->state.len ? c->state.len : 1);
    out->len = c->state.len;
    if (out->state) {
        memcpy(out->state, c->state.data, c->state.len);
    }
    cohort__checkpoint__free_unpacked(c, NULL);
    if (!out->algorithm || !out->experiment || !out->state) {
        ch_checkpoint_free(out);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    return 0;
}

void ch_checkpoint_free(ch_checkpoint *c)
{
    if (c) {
        free(c->algorithm);
        free(c->experiment);
        free(c->state);
        memset(c, 0, sizeof *c);
    }
}
