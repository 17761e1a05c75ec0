/* fedavg.h: what the files of algorithms/fedavg/ share: the per-round
 * curves, the per-silo record (rows, label histogram, participation) and
 * the trained model, with their protobuf conversions (model_io.c) and the
 * report (report.c). */
#ifndef CH_FEDAVG_H
#define CH_FEDAVG_H

#include "algorithms/algo.h"
#include "algorithms/fedavg/local.h"
#include "algorithms/fedavg/params.h"
#include "algorithms/mlp/features.h"
#include "proto/fedavg.pb-c.h"

#include <stdint.h>

/* One value per federated round that was evaluated or trained. */
typedef struct ch_fed_curves {
    size_t n, cap;
    uint32_t *round;
    double *test_accuracy, *test_loss, *train_loss, *bytes_in, *bytes_out, *participants;
} ch_fed_curves;

int ch_fed_curves_push(ch_fed_curves *c, uint32_t round, double test_accuracy, double test_loss,
                       double train_loss, double bytes_in, double bytes_out, double participants);
void ch_fed_curves_free(ch_fed_curves *c);
/* Points pb's arrays at c's (pb borrows them). */
void ch_fed_curves_to_pb(const ch_fed_curves *c, Cohort__Fedavg__Curves *pb);
/* CH_EINVAL when the arrays disagree in length, CH_ENOMEM. */
int ch_fed_curves_from_pb(ch_fed_curves *c, const Cohort__Fedavg__Curves *pb);

/* The silos of a run. */
typedef struct ch_fed_silos {
    size_t n, n_classes;
    uint64_t *rows;     /* n */
    uint64_t *hist;     /* n x n_classes */
    uint32_t *rounds;   /* n: accepted updates */
    uint32_t *rejected; /* n */
} ch_fed_silos;

int ch_fed_silos_init(ch_fed_silos *s, size_t n, size_t n_classes);
void ch_fed_silos_free(ch_fed_silos *s);
/* pb[] (n entries, each pointing into the caller's array of messages)
 * borrow s's arrays. */
void ch_fed_silos_to_pb(const ch_fed_silos *s, Cohort__Fedavg__Silo *msgs,
                        Cohort__Fedavg__Silo **ptrs);
/* CH_EINVAL when the count or a histogram's length is wrong. */
int ch_fed_silos_from_pb(ch_fed_silos *s, Cohort__Fedavg__Silo *const *pb, size_t n, size_t n_silos,
                         size_t n_classes);

/* The trained model (model.pb's payload). */
typedef struct ch_fed_result {
    ch_fed_params p; /* net, hidden, act (the rest is informative) */
    size_t n_classes;
    ch_features *feat;
    double *stats;
    size_t stats_len;
    ch_fed_model *model;
    float *w;
    uint32_t rounds;
    ch_fed_silos silos;
    ch_fed_curves curves;
} ch_fed_result;

void ch_fed_result_destroy(ch_fed_result **r);
int ch_fed_result_pack(const ch_fed_result *r, ch_buf *out, ch_err *err);
/* Rebuilds a model for schema from model.pb's payload (untrusted: sizes
 * checked). NULL with err set. */
ch_fed_result *ch_fed_result_unpack(const uint8_t *data, size_t len, const ch_schema *schema,
                                    ch_err *err);

/* FNV-1a of the weights' bytes (summary.json, to compare runs). */
uint64_t ch_fed_weights_hash(const float *w, size_t n);

/* The report sections: silos (rows, label histogram, participation) and
 * the per-round curves. */
int ch_fed_report(const ch_fed_result *r, ch_report *rep, ch_err *err);

#endif
