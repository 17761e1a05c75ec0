/* model_file.c: reading and writing model.pb (see model_file.h). */
#include "common/model_file.h"
#include "common/fsutil.h"
#include "common/schema_pb.h"
#include "proto/cohort.pb-c.h"

#include <stdlib.h>
#include <string.h>

int ch_model_save(const char *path, const ch_algo *algo, const void *model,
                  const ch_schema *schema, const char *config_yaml, ch_err *err)
{
    ch_buf payload;
    ch_buf_init(&payload);
    int rc = algo->pack(model, &payload, err);
    if (rc) {
        ch_buf_free(&payload);
        return rc;
    }
    Cohort__Model m = COHORT__MODEL__INIT;
    m.version = CH_MODEL_VERSION;
    m.algorithm = (char *)algo->name;
    m.schema = ch_schema_to_pb(schema);
    m.payload.data = payload.data;
    m.payload.len = payload.len;
    m.config_yaml = (char *)(config_yaml ? config_yaml : "");
    if (!m.schema) {
        ch_buf_free(&payload);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    size_t size = cohort__model__get_packed_size(&m);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    } else {
        cohort__model__pack(&m, buf);
        rc = ch_write_file_atomic(path, buf, size, err);
    }
    free(buf);
    ch_schema_pb_free(m.schema);
    ch_buf_free(&payload);
    return rc;
}

int ch_model_load(const char *path, ch_model_file *out, ch_err *err)
{
    memset(out, 0, sizeof *out);
    size_t len;
    uint8_t *data = ch_read_file(path, (size_t)4 << 30, &len, err);
    if (!data) {
        return err ? err->code : CH_EIO;
    }
    Cohort__Model *m = cohort__model__unpack(NULL, len, data);
    free(data);
    if (!m) {
        return ch_err_set(err, CH_EINVAL, "%s is not a cohort model file (it does not decode)",
                          path);
    }
    int rc = 0;
    if (m->version != CH_MODEL_VERSION) {
        rc = ch_err_set(err, CH_EINVAL, "%s: model format version %u, this cohort reads %d",
                        path, m->version, CH_MODEL_VERSION);
    } else if (!(out->algo = ch_algo_find(m->algorithm))) {
        rc = ch_err_set(err, CH_EINVAL, "%s: unknown algorithm '%s'", path, m->algorithm);
    } else if (!(out->schema = ch_schema_from_pb(m->schema, err))) {
        rc = ch_err_prefix(err, "%s", path);
    } else if (!(out->model = out->algo->unpack(m->payload.data, m->payload.len, out->schema,
                                                err))) {
        rc = ch_err_prefix(err, "%s", path);
    } else {
        out->config_yaml = strdup(m->config_yaml ? m->config_yaml : "");
    }
    cohort__model__free_unpacked(m, NULL);
    if (rc) {
        ch_model_file_free(out);
    }
    return rc;
}

void ch_model_file_free(ch_model_file *m)
{
    if (!m) {
        return;
    }
    if (m->algo && m->model) {
        m->algo->model_destroy(&m->model);
    }
    ch_schema_destroy(&m->schema);
    free(m->config_yaml);
    memset(m, 0, sizeof *m);
}
