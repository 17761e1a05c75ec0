/* checkpoint.c: atomic per-round checkpoints (see checkpoint.h). */
#include "common/checkpoint.h"
#include "common/fsutil.h"
#include "proto/cohort.pb-c.h"

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
