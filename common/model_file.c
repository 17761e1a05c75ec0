/* model_file.c: reading and writing model.pb (see model_file.h). */
#include "common/model_file.h"
#include "common/fsutil.h"
#include "common/schema_pb.h"
#include "proto/cohort.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* Packs m into a new buffer (*out, *len). 0 or CH_ENOMEM. */
static int s_pack(const Cohort__Model *m, uint8_t **out, size_t *len)
{
    *len = cohort__model__get_packed_size(m);
    *out = malloc(*len ? *len : 1);
    if (!*out) {
        return CH_ENOMEM;
    }
    cohort__model__pack(m, *out);
    return 0;
}

int ch_model_save(const char *path, const ch_algo *algo, const void *model, const ch_schema *schema,
                  const char *config_yaml, ch_err *err)
{
    ch_buf payload;
    ch_buf_init(&payload);
    int rc = algo->pack(model, &payload, err);
    if (rc) {
        ch_buf_free(&payload);
        return rc;
    }
    /* The Model message is written in three parts around the payload, the
     * fields before it (1-3), the payload (4) and the one after it (5),
     * which are the bytes cohort__model__pack would make (fields in number
     * order; proto3 leaves empty ones out), without a second copy of a
     * payload that can be most of the memory a run holds. */
    Cohort__Model head = COHORT__MODEL__INIT, tail = COHORT__MODEL__INIT;
    head.version = CH_MODEL_VERSION;
    head.algorithm = (char *)algo->name;
    head.schema = ch_schema_to_pb(schema);
    tail.config_yaml = (char *)(config_yaml ? config_yaml : "");
    uint8_t *h = NULL, *t = NULL;
    size_t hn = 0, tn = 0;
    uint8_t key[1 + 10];
    size_t kn = 0;
    if (payload.len) {
        key[kn++] = (4 << 3) | 2; /* field 4, length-delimited */
        for (uint64_t v = payload.len; kn < sizeof key; v >>= 7) {
            key[kn++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
            if (v < 0x80) {
                break;
            }
        }
    }
    if (!head.schema || s_pack(&head, &h, &hn) != 0 || s_pack(&tail, &t, &tn) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
    } else {
        ch_file_piece parts[] = {{h, hn}, {key, kn}, {payload.data, payload.len}, {t, tn}};
        rc = ch_write_file_atomic_pieces(path, parts, sizeof parts / sizeof parts[0], err);
    }
    free(h);
    free(t);
    ch_schema_pb_free(head.schema);
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
        rc = ch_err_set(err, CH_EINVAL, "%s: model format version %u, this cohort reads %d", path,
                        m->version, CH_MODEL_VERSION);
    } else if (!(out->algo = ch_algo_find(m->algorithm))) {
        rc = ch_err_set(err, CH_EINVAL, "%s: unknown algorithm '%s'", path, m->algorithm);
    } else if (!(out->schema = ch_schema_from_pb(m->schema, err))) {
        rc = ch_err_prefix(err, "%s", path);
    } else if (!(out->model =
                     out->algo->unpack(m->payload.data, m->payload.len, out->schema, err))) {
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
