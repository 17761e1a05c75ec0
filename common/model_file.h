/* model_file.h: model.pb, a trained model with the schema of its data. */
#ifndef CH_MODEL_FILE_H
#define CH_MODEL_FILE_H

#include "algorithms/algo.h"
#include "common/err.h"
#include "common/table.h"

#define CH_MODEL_VERSION 1

/* Writes algo's model with its schema and config to path (atomically). */
int ch_model_save(const char *path, const ch_algo *algo, const void *model,
                  const ch_schema *schema, const char *config_yaml, ch_err *err);

/* A loaded model.pb. */
typedef struct ch_model_file {
    const ch_algo *algo;
    void *model;
    ch_schema *schema;
    char *config_yaml;
} ch_model_file;

/* Reads and checks path (version, known algorithm, decodable payload).
 * 0 with *out filled, or an error naming the file. */
int ch_model_load(const char *path, ch_model_file *out, ch_err *err);
void ch_model_file_free(ch_model_file *m);

#endif
