/* model.h: the DBSCAN model: what predict needs (core points and their
 * labels) and what the report shows (cluster sizes, the k-distance curve, a
 * scatter sample). Everything is linear in the number of core points. */
#ifndef CH_DBSCAN_MODEL_H
#define CH_DBSCAN_MODEL_H

#include "algorithms/algo.h"
#include "algorithms/dbscan/dbscan.h"

typedef struct ch_db_model {
    ch_db_params p;
    size_t d;
    char **names; /* d feature names */
    size_t n_points, n_core, n_noise, n_clusters;
    uint64_t *sizes;      /* n_clusters points per cluster */
    uint64_t *sizes_core; /* n_clusters core points per cluster */
    double *core_pts;     /* n_core x d as read */
    int32_t *core_label;  /* n_core */
    double *kdist;        /* n_kdist ascending */
    size_t n_kdist, knee;
    double *sx, *sy; /* scatter sample */
    int32_t *sl;
    size_t n_scatter;
    ch_db_quality q; /* silhouette and Davies-Bouldin, noise left out */
} ch_db_model;

/* Frees the model and nulls the pointer; accepts NULL. */
void ch_db_model_destroy(void **pm);
/* The model side of the vtable (model.c). */
int ch_db_model_predict(const void *vm, const ch_table *t, double *out, ch_err *err);
int ch_db_model_pack(const void *vm, ch_buf *out, ch_err *err);
void *ch_db_model_unpack(const uint8_t *data, size_t len, const ch_schema *schema, ch_err *err);
int ch_db_model_summary(const void *vm, ch_buf *json);
int ch_db_model_metrics(const void *vm, ch_round_metrics *out, ch_err *err);
int ch_db_model_describe(const void *vm, ch_buf *text);
int ch_db_model_report(const void *vm, ch_report *r, ch_err *err);

#endif
