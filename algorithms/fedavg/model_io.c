/* model_io.c: the federated model's bytes: curves and silos to and from
 * protobuf, model.pb's payload, the weights' hash. */
#include "algorithms/fedavg/fedavg.h"
#include "common/pb.h"

#include <stdlib.h>
#include <string.h>

int ch_fed_curves_push(ch_fed_curves *c, uint32_t round, double test_accuracy, double test_loss,
                       double train_loss, double bytes_in, double bytes_out, double participants)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 32;
        uint32_t *r = realloc(c->round, nc * sizeof *r);
        if (!r) {
            return CH_ENOMEM;
        }
        c->round = r;
        double **arr[] = {&c->test_accuracy, &c->test_loss, &c->train_loss,
                          &c->bytes_in,      &c->bytes_out, &c->participants};
        for (size_t i = 0; i < 6; i++) {
            double *p = realloc(*arr[i], nc * sizeof *p);
            if (!p) {
                return CH_ENOMEM;
            }
            *arr[i] = p;
        }
        c->cap = nc;
    }
    c->round[c->n] = round;
    c->test_accuracy[c->n] = test_accuracy;
    c->test_loss[c->n] = test_loss;
    c->train_loss[c->n] = train_loss;
    c->bytes_in[c->n] = bytes_in;
    c->bytes_out[c->n] = bytes_out;
    c->participants[c->n] = participants;
    c->n++;
    return 0;
}

void ch_fed_curves_free(ch_fed_curves *c)
{
    free(c->round);
    free(c->test_accuracy);
    free(c->test_loss);
    free(c->train_loss);
    free(c->bytes_in);
    free(c->bytes_out);
    free(c->participants);
    memset(c, 0, sizeof *c);
}

void ch_fed_curves_to_pb(const ch_fed_curves *c, Cohort__Fedavg__Curves *pb)
{
    pb->n_round = pb->n_test_accuracy = pb->n_test_loss = pb->n_train_loss = c->n;
    pb->n_bytes_in = pb->n_bytes_out = pb->n_participants = c->n;
    pb->round = c->round;
    pb->test_accuracy = c->test_accuracy;
    pb->test_loss = c->test_loss;
    pb->train_loss = c->train_loss;
    pb->bytes_in = c->bytes_in;
    pb->bytes_out = c->bytes_out;
    pb->participants = c->participants;
}

int ch_fed_curves_from_pb(ch_fed_curves *c, const Cohort__Fedavg__Curves *pb)
{
    ch_fed_curves_free(c);
    if (!pb) {
        return 0;
    }
    size_t n = pb->n_round;
    if (pb->n_test_accuracy != n || pb->n_test_loss != n || pb->n_train_loss != n ||
        pb->n_bytes_in != n || pb->n_bytes_out != n || pb->n_participants != n) {
        return CH_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = ch_fed_curves_push(c, pb->round[i], pb->test_accuracy[i], pb->test_loss[i],
                                    pb->train_loss[i], pb->bytes_in[i], pb->bytes_out[i],
                                    pb->participants[i]);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

int ch_fed_silos_init(ch_fed_silos *s, size_t n, size_t n_classes)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->n_classes = n_classes;
    s->rows = ch_calloc_array(n ? n : 1, sizeof *s->rows);
    s->hist = ch_calloc_array(n * n_classes + 1, sizeof *s->hist);
    s->rounds = ch_calloc_array(n ? n : 1, sizeof *s->rounds);
    s->rejected = ch_calloc_array(n ? n : 1, sizeof *s->rejected);
    if (!s->rows || !s->hist || !s->rounds || !s->rejected) {
        ch_fed_silos_free(s);
        return CH_ENOMEM;
    }
    return 0;
}

void ch_fed_silos_free(ch_fed_silos *s)
{
    free(s->rows);
    free(s->hist);
    free(s->rounds);
    free(s->rejected);
    memset(s, 0, sizeof *s);
}

void ch_fed_silos_to_pb(const ch_fed_silos *s, Cohort__Fedavg__Silo *msgs,
                        Cohort__Fedavg__Silo **ptrs)
{
    for (size_t i = 0; i < s->n; i++) {
        cohort__fedavg__silo__init(&msgs[i]);
        msgs[i].rows = s->rows[i];
        msgs[i].n_histogram = s->n_classes;
        msgs[i].histogram = s->hist + i * s->n_classes;
        msgs[i].rounds = s->rounds[i];
        msgs[i].rejected = s->rejected[i];
        ptrs[i] = &msgs[i];
    }
}

int ch_fed_silos_from_pb(ch_fed_silos *s, Cohort__Fedavg__Silo *const *pb, size_t n, size_t n_silos,
                         size_t n_classes)
{
    if (n != n_silos) {
        return CH_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!pb[i] || pb[i]->n_histogram != n_classes) {
            return CH_EINVAL;
        }
        s->rows[i] = pb[i]->rows;
        if (n_classes) {
            memcpy(s->hist + i * n_classes, pb[i]->histogram, n_classes * sizeof *s->hist);
        }
        s->rounds[i] = pb[i]->rounds;
        s->rejected[i] = pb[i]->rejected;
    }
    return 0;
}

uint64_t ch_fed_weights_hash(const float *w, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    const uint8_t *p = (const uint8_t *)w;
    for (size_t i = 0; i < n * sizeof *w; i++) {
        h = (h ^ p[i]) * 1099511628211ULL;
    }
    return h;
}

void ch_fed_result_destroy(ch_fed_result **pr)
{
    if (!pr || !*pr) {
        return;
    }
    ch_fed_result *r = *pr;
    ch_features_destroy(&r->feat);
    free(r->stats);
    ch_fed_model_destroy(&r->model);
    free(r->w);
    ch_fed_silos_free(&r->silos);
    ch_fed_curves_free(&r->curves);
    free(r);
    *pr = NULL;
}

int ch_fed_result_pack(const ch_fed_result *r, ch_buf *out, ch_err *err)
{
    Cohort__Fedavg__Model pb = COHORT__FEDAVG__MODEL__INIT;
    uint32_t hidden[CH_MLP_MAX_HIDDEN];
    for (size_t i = 0; i < r->p.n_hidden; i++) {
        hidden[i] = (uint32_t)r->p.hidden[i];
    }
    pb.net = (uint32_t)r->p.net;
    pb.n_hidden = r->p.n_hidden;
    pb.hidden = hidden;
    pb.activation = (uint32_t)r->p.act;
    pb.n_classes = (uint32_t)r->n_classes;
    pb.n_stats = r->stats_len;
    pb.stats = r->stats;
    size_t np = r->model->ops->n_params(r->model);
    pb.weights.data = (uint8_t *)r->w;
    pb.weights.len = np * sizeof *r->w;
    pb.strategy = (char *)ch_fed_strategy_names[r->p.strategy];
    pb.compression = (char *)ch_fed_comp_names[r->p.compression];
    pb.rounds = r->rounds;
    Cohort__Fedavg__Silo *msgs = calloc(r->silos.n + 1, sizeof *msgs);
    Cohort__Fedavg__Silo **ptrs = calloc(r->silos.n + 1, sizeof *ptrs);
    if (!msgs || !ptrs) {
        free(msgs);
        free(ptrs);
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    ch_fed_silos_to_pb(&r->silos, msgs, ptrs);
    pb.n_silos = r->silos.n;
    pb.silos = ptrs;
    Cohort__Fedavg__Curves cv = COHORT__FEDAVG__CURVES__INIT;
    ch_fed_curves_to_pb(&r->curves, &cv);
    pb.curves = &cv;
    int rc = ch_pb_append(&pb.base, out, err);
    free(msgs);
    free(ptrs);
    return rc;
}

ch_fed_result *ch_fed_result_unpack(const uint8_t *data, size_t len, const ch_schema *schema,
                                    ch_err *err)
{
    Cohort__Fedavg__Model *pb = cohort__fedavg__model__unpack(NULL, len, data);
    if (!pb) {
        ch_err_set(err, CH_EINVAL, "the fedavg model does not decode");
        return NULL;
    }
    ch_fed_result *r = calloc(1, sizeof *r);
    int rc = r ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
    if (rc == 0 && (pb->net > CH_FED_NET_LOGISTIC || pb->n_hidden > CH_MLP_MAX_HIDDEN ||
                    pb->activation > CH_ACT_SIGMOID || pb->n_classes > 100000)) {
        rc = ch_err_set(err, CH_EINVAL, "the fedavg model has a bad network description");
    }
    if (rc == 0) {
        r->p.net = (ch_fed_net)pb->net;
        r->p.n_hidden = pb->n_hidden;
        for (size_t i = 0; i < pb->n_hidden; i++) {
            r->p.hidden[i] = pb->hidden[i];
        }
        r->p.act = (ch_act)pb->activation;
        r->n_classes = pb->n_classes;
        r->rounds = pb->rounds;
        for (int s = 0; ch_fed_strategy_names[s]; s++) {
            if (pb->strategy && strcmp(pb->strategy, ch_fed_strategy_names[s]) == 0) {
                r->p.strategy = (ch_fed_strategy)s;
            }
        }
        for (int s = 0; ch_fed_comp_names[s]; s++) {
            if (pb->compression && strcmp(pb->compression, ch_fed_comp_names[s]) == 0) {
                r->p.compression = (ch_fed_comp)s;
            }
        }
        r->feat = ch_features_new(schema, err);
        rc = r->feat ? 0 : CH_EINVAL;
    }
    if (rc == 0) {
        if (r->n_classes) {
            r->feat->regression = false;
        }
        r->stats_len = ch_features_stats_len(r->feat);
        if (pb->n_stats != r->stats_len) {
            rc = ch_err_set(err, CH_EINVAL,
                            "the fedavg model has %zu feature statistics; the schema needs %zu",
                            pb->n_stats, r->stats_len);
        }
    }
    if (rc == 0) {
        r->stats = ch_alloc_array(r->stats_len + 1, sizeof *r->stats);
        r->model = ch_fed_model_new(&r->p, r->feat->d_in, r->n_classes, err);
        rc = r->stats && r->model ? 0 : CH_ENOMEM;
    }
    if (rc == 0) {
        memcpy(r->stats, pb->stats, r->stats_len * sizeof *r->stats);
        ch_features_set_stats(r->feat, r->stats);
        size_t np = r->model->ops->n_params(r->model);
        if (pb->weights.len != np * sizeof(float)) {
            rc = ch_err_set(err, CH_EINVAL, "the fedavg model has %zu weight bytes; expected %zu",
                            pb->weights.len, np * sizeof(float));
        } else {
            r->w = ch_alloc_array(np, sizeof *r->w);
            rc = r->w ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
            if (rc == 0) {
                memcpy(r->w, pb->weights.data, pb->weights.len);
            }
        }
    }
    if (rc == 0) {
        rc = ch_fed_silos_init(&r->silos, pb->n_silos, r->n_classes);
        if (rc == 0) {
            rc = ch_fed_silos_from_pb(&r->silos, pb->silos, pb->n_silos, pb->n_silos, r->n_classes);
        }
        if (rc == 0) {
            rc = ch_fed_curves_from_pb(&r->curves, pb->curves);
        }
        if (rc) {
            ch_err_set(err, rc, "the fedavg model's silos or curves are malformed");
        }
    }
    cohort__fedavg__model__free_unpacked(pb, NULL);
    if (rc) {
        ch_fed_result_destroy(&r);
    }
    return r;
}
