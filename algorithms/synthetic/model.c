/* model.c: the generator's model: lifetime, and its protobuf form
 * (proto/synthetic.proto) for model.pb and checkpoints, checked on the way
 * in as untrusted bytes. */
#include "algorithms/synthetic/synthetic.h"
#include "proto/synthetic.pb-c.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ch_syn_model *ch_syn_model_new(void)
{
    ch_syn_model *m = calloc(1, sizeof *m);
    if (m) {
        m->dom.target = -1;
        m->aug_col = -1;
        m->mean_tv = m->max_tv = m->corr_diff = NAN;
        m->test_auc = m->test_accuracy = m->n_test = NAN;
        ch_syn_privacy_clear(&m->priv);
        ch_syn_fit_clear(&m->util.real);
        ch_syn_fit_clear(&m->util.synth);
        ch_syn_fit_clear(&m->util.real_aug);
        ch_syn_fit_clear(&m->util.synth_aug);
    }
    return m;
}

void ch_syn_model_destroy(ch_syn_model **pm)
{
    if (!pm || !*pm) {
        return;
    }
    ch_syn_model *m = *pm;
    for (size_t j = 0; m->oneway && j < m->dom.n_cols; j++) {
        free(m->oneway[j]);
    }
    free(m->oneway);
    for (size_t e = 0; m->edges && e < m->n_edges; e++) {
        free(m->edges[e].joint);
    }
    free(m->edges);
    free(m->tv);
    free(m->ks);
    free(m->prop);
    ch_syn_fit_clear(&m->util.real);
    ch_syn_fit_clear(&m->util.synth);
    ch_syn_fit_clear(&m->util.real_aug);
    ch_syn_fit_clear(&m->util.synth_aug);
    ch_syn_domain_free(&m->dom);
    free(m);
    *pm = NULL;
}

int ch_syn_model_pack(const ch_syn_model *m, ch_buf *out, ch_err *err)
{
    size_t n = m->dom.n_cols;
    Cohort__Synthetic__Model pb = COHORT__SYNTHETIC__MODEL__INIT;
    Cohort__Synthetic__Budget bu = COHORT__SYNTHETIC__BUDGET__INIT;
    Cohort__Synthetic__Column *cols = calloc(n ? n : 1, sizeof *cols);
    Cohort__Synthetic__Column **colp = calloc(n ? n : 1, sizeof *colp);
    Cohort__Synthetic__Edge *ed = calloc(m->n_edges ? m->n_edges : 1, sizeof *ed);
    Cohort__Synthetic__Edge **edp = calloc(m->n_edges ? m->n_edges : 1, sizeof *edp);
    size_t n_one = 0;
    for (size_t j = 0; j < n; j++) {
        n_one += m->dom.cols[j].size;
    }
    double *one = m->oneway ? malloc((n_one ? n_one : 1) * sizeof *one) : NULL;
    int rc = 0;
    if (!cols || !colp || !ed || !edp || (m->oneway && !one)) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    pb.stage = m->stage;
    for (size_t j = 0; j < n; j++) {
        const ch_syn_col *c = &m->dom.cols[j];
        cohort__synthetic__column__init(&cols[j]);
        cols[j].name = c->name;
        cols[j].kind = c->kind == CH_COL_CATEGORICAL;
        cols[j].n_levels = c->n_levels;
        cols[j].levels = c->levels;
        cols[j].lo = c->lo;
        cols[j].hi = c->hi;
        cols[j].bins = c->bins;
        cols[j].given = c->given;
        cols[j].integer = c->integer;
        cols[j].missing = c->missing;
        colp[j] = &cols[j];
    }
    pb.n_columns = n;
    pb.columns = colp;
    pb.target = m->dom.target;
    pb.total = m->total;
    if (one) {
        size_t k = 0;
        for (size_t j = 0; j < n; j++) {
            memcpy(one + k, m->oneway[j], m->dom.cols[j].size * sizeof *one);
            k += m->dom.cols[j].size;
        }
        pb.n_oneway = n_one;
        pb.oneway = one;
    }
    for (size_t e = 0; e < m->n_edges; e++) {
        cohort__synthetic__edge__init(&ed[e]);
        ed[e].a = m->edges[e].a;
        ed[e].b = m->edges[e].b;
        ed[e].n_joint = m->dom.cols[m->edges[e].a].size * m->dom.cols[m->edges[e].b].size;
        ed[e].joint = m->edges[e].joint;
        edp[e] = &ed[e];
    }
    pb.n_edges = m->n_edges;
    pb.edges = edp;
    const ch_syn_budget *b = &m->budget;
    bu.epsilon = b->epsilon;
    bu.delta = b->delta;
    bu.rho = b->rho;
    bu.rho_bounds = b->rho_bounds;
    bu.rho_oneway = b->rho_oneway;
    bu.rho_select = b->rho_select;
    bu.rho_pairs = b->rho_pairs;
    bu.sigma_bounds = b->sigma_bounds;
    bu.sigma_oneway = b->sigma_oneway;
    bu.sigma_pairs = b->sigma_pairs;
    bu.eps_select = b->eps_select;
    bu.n_bounds = b->n_bounds;
    bu.n_oneway = b->n_oneway;
    bu.n_select = b->n_select;
    bu.n_pairs = b->n_pairs;
    bu.federated = b->federated;
    pb.budget = &bu;
    pb.seed = m->seed;
    pb.rows = m->rows;
    pb.aug_col = m->aug_col;
    pb.aug_cell = m->aug_cell;
    pb.aug_rows = m->aug_rows;
    if (m->prop && m->aug_col >= 0) {
        pb.n_proportions = m->dom.cols[m->aug_col].n_levels;
        pb.proportions = m->prop;
    }
    if (m->tv && m->ks) {
        pb.n_tv = pb.n_ks = n;
        pb.tv = m->tv;
        pb.ks = m->ks;
    }
    pb.mean_tv = m->mean_tv;
    pb.max_tv = m->max_tv;
    pb.corr_diff = m->corr_diff;
    pb.test_auc = m->test_auc;
    pb.test_accuracy = m->test_accuracy;
    pb.n_test = m->n_test;
    Cohort__Synthetic__Privacy pv = COHORT__SYNTHETIC__PRIVACY__INIT;
    if (!isnan(m->priv.mia_auc)) {
        const ch_syn_privacy *p = &m->priv;
        pv.n_synthetic = p->n_synthetic;
        pv.n_train = p->n_train;
        pv.n_holdout = p->n_holdout;
        pv.exact_train = p->exact_train;
        pv.exact_holdout = p->exact_holdout;
        pv.dcr_train_p05 = p->dcr_train_p05;
        pv.dcr_train_median = p->dcr_train_median;
        pv.dcr_holdout_p05 = p->dcr_holdout_p05;
        pv.dcr_holdout_median = p->dcr_holdout_median;
        pv.mia_auc = p->mia_auc;
        pb.privacy = &pv;
    }
    Cohort__Synthetic__Fit fp[4];
    const ch_syn_fit *fits[4] = {&m->util.real, &m->util.synth, &m->util.real_aug,
                                 &m->util.synth_aug};
    Cohort__Synthetic__Fit **slot[4] = {&pb.fit_real, &pb.fit_synth, &pb.fit_real_aug,
                                        &pb.fit_synth_aug};
    for (int i = 0; i < 4; i++) {
        cohort__synthetic__fit__init(&fp[i]);
        if (fits[i]->done) {
            fp[i].k = (uint32_t)fits[i]->k;
            fp[i].n_train = fits[i]->n_train;
            fp[i].auc = fits[i]->auc;
            fp[i].accuracy = fits[i]->accuracy;
            fp[i].n_recall = fp[i].n_precision = fits[i]->k;
            fp[i].recall = fits[i]->recall;
            fp[i].precision = fits[i]->precision;
            *slot[i] = &fp[i];
        }
    }
    size_t size = cohort__synthetic__model__get_packed_size(&pb);
    if (ch_buf_reserve(out, size) != 0) {
        rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        goto done;
    }
    cohort__synthetic__model__pack(&pb, out->data + out->len);
    out->len += size;
done:
    free(cols);
    free(colp);
    free(ed);
    free(edp);
    free(one);
    return rc;
}

static double *s_dup(const double *p, size_t n)
{
    double *q = malloc((n ? n : 1) * sizeof *q);
    if (q && n) {
        memcpy(q, p, n * sizeof *q);
    }
    return q;
}

/* Copies and checks the columns. */
static int s_columns(ch_syn_model *m, const Cohort__Synthetic__Model *pb, ch_err *err)
{
    size_t n = pb->n_columns;
    if (n == 0 || n > CH_SYN_MAX_COLS) {
        return ch_err_set(err, CH_EINVAL, "synthetic model: %zu columns", n);
    }
    m->dom.cols = calloc(n, sizeof *m->dom.cols);
    if (!m->dom.cols) {
        return ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    m->dom.n_cols = n;
    for (size_t j = 0; j < n; j++) {
        const Cohort__Synthetic__Column *s = pb->columns[j];
        ch_syn_col *c = &m->dom.cols[j];
        c->kind = s->kind ? CH_COL_CATEGORICAL : CH_COL_NUMERIC;
        c->lo = s->lo;
        c->hi = s->hi;
        c->bins = s->bins;
        c->given = s->given;
        c->integer = s->integer;
        c->missing = s->missing;
        c->name = strdup(s->name ? s->name : "");
        if (!c->name) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        if (s->kind > 1 || s->n_levels > CH_SYN_MAX_LEVELS ||
            (c->kind == CH_COL_CATEGORICAL && s->n_levels == 0) ||
            (c->kind == CH_COL_NUMERIC &&
             (s->n_levels || s->bins == 0 || s->bins > CH_SYN_MAX_BINS ||
              !(isfinite(s->lo) && isfinite(s->hi) && s->lo < s->hi)))) {
            return ch_err_set(err, CH_EINVAL, "synthetic model: column %zu is malformed", j);
        }
        if (s->n_levels) {
            c->levels = calloc(s->n_levels, sizeof *c->levels);
            if (!c->levels) {
                return ch_err_set(err, CH_ENOMEM, "out of memory");
            }
            for (size_t l = 0; l < s->n_levels; l++) {
                c->levels[l] = strdup(s->levels[l]);
                c->n_levels = l + 1;
                if (!c->levels[l]) {
                    return ch_err_set(err, CH_ENOMEM, "out of memory");
                }
            }
        }
        ch_syn_col_size(c);
    }
    return 0;
}

ch_syn_model *ch_syn_model_unpack(const uint8_t *data, size_t len, ch_err *err)
{
    Cohort__Synthetic__Model *pb = cohort__synthetic__model__unpack(NULL, len, data);
    if (!pb) {
        ch_err_set(err, CH_EINVAL, "the synthetic model does not decode");
        return NULL;
    }
    ch_syn_model *m = ch_syn_model_new();
    int rc = m ? s_columns(m, pb, err) : ch_err_set(err, CH_ENOMEM, "out of memory");
    size_t n = m ? m->dom.n_cols : 0;
    if (rc == 0 &&
        (pb->stage > 2 || pb->target < -1 || pb->target >= (int64_t)n || pb->aug_col < -1 ||
         pb->aug_col >= (int64_t)n ||
         (pb->aug_col >= 0 && pb->aug_cell >= m->dom.cols[pb->aug_col].size) || pb->n_edges >= n ||
         (pb->n_proportions &&
          (pb->aug_col < 0 || pb->n_proportions != m->dom.cols[pb->aug_col].n_levels)) ||
         (pb->n_tv && (pb->n_tv != n || pb->n_ks != n)))) {
        rc = ch_err_set(err, CH_EINVAL, "synthetic model: inconsistent sizes");
    }
    if (rc == 0) {
        m->stage = pb->stage;
        m->dom.target = pb->target;
        m->total = pb->total;
        m->seed = pb->seed;
        m->rows = pb->rows;
        m->aug_col = pb->aug_col;
        m->aug_cell = pb->aug_cell;
        m->aug_rows = pb->aug_rows;
        m->mean_tv = pb->mean_tv;
        m->max_tv = pb->max_tv;
        m->corr_diff = pb->corr_diff;
        m->test_auc = pb->test_auc;
        m->test_accuracy = pb->test_accuracy;
        m->n_test = pb->n_test;
        if (pb->budget) {
            const Cohort__Synthetic__Budget *b = pb->budget;
            ch_syn_budget *o = &m->budget;
            o->epsilon = b->epsilon;
            o->delta = b->delta;
            o->rho = b->rho;
            o->rho_bounds = b->rho_bounds;
            o->rho_oneway = b->rho_oneway;
            o->rho_select = b->rho_select;
            o->rho_pairs = b->rho_pairs;
            o->sigma_bounds = b->sigma_bounds;
            o->sigma_oneway = b->sigma_oneway;
            o->sigma_pairs = b->sigma_pairs;
            o->eps_select = b->eps_select;
            o->n_bounds = b->n_bounds;
            o->n_oneway = b->n_oneway;
            o->n_select = b->n_select;
            o->n_pairs = b->n_pairs;
            o->federated = b->federated;
        }
    }
    if (rc == 0 && pb->n_oneway) {
        size_t n_one = 0;
        for (size_t j = 0; j < n; j++) {
            n_one += m->dom.cols[j].size;
        }
        m->oneway = calloc(n, sizeof *m->oneway);
        if (pb->n_oneway != n_one || !m->oneway) {
            rc = ch_err_set(err, CH_EINVAL, "synthetic model: one-way marginals malformed");
        }
        for (size_t j = 0, k = 0; rc == 0 && j < n; j++) {
            m->oneway[j] = s_dup(pb->oneway + k, m->dom.cols[j].size);
            k += m->dom.cols[j].size;
            rc = m->oneway[j] ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (rc == 0 && pb->n_edges) {
        m->edges = calloc(pb->n_edges, sizeof *m->edges);
        rc = m->edges ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
        for (size_t e = 0; rc == 0 && e < pb->n_edges; e++) {
            const Cohort__Synthetic__Edge *s = pb->edges[e];
            if (s->a >= s->b || s->b >= n ||
                s->n_joint != m->dom.cols[s->a].size * m->dom.cols[s->b].size) {
                rc = ch_err_set(err, CH_EINVAL, "synthetic model: edge %zu malformed", e);
                break;
            }
            m->edges[e].a = s->a;
            m->edges[e].b = s->b;
            m->edges[e].joint = s_dup(s->joint, s->n_joint);
            m->n_edges = e + 1;
            rc = m->edges[e].joint ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (rc == 0 && pb->n_proportions) {
        double sum = 0;
        for (size_t l = 0; l < pb->n_proportions; l++) {
            double v = pb->proportions[l];
            sum += v >= 0 && isfinite(v) ? v : NAN;
        }
        m->prop = s_dup(pb->proportions, pb->n_proportions);
        if (!(fabs(sum - 1) < 1e-6)) {
            rc = ch_err_set(err, CH_EINVAL, "synthetic model: proportions malformed");
        } else if (!m->prop) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
        }
    }
    if (rc == 0 && pb->stage == 2 && !m->oneway) {
        rc = ch_err_set(err, CH_EINVAL, "synthetic model: fitted without marginals");
    }
    if (rc == 0 && pb->n_tv) {
        m->tv = s_dup(pb->tv, n);
        m->ks = s_dup(pb->ks, n);
        rc = m->tv && m->ks ? 0 : ch_err_set(err, CH_ENOMEM, "out of memory");
    }
    if (rc == 0 && pb->privacy) {
        const Cohort__Synthetic__Privacy *p = pb->privacy;
        ch_syn_privacy *o = &m->priv;
        o->n_synthetic = p->n_synthetic;
        o->n_train = p->n_train;
        o->n_holdout = p->n_holdout;
        o->exact_train = p->exact_train;
        o->exact_holdout = p->exact_holdout;
        o->dcr_train_p05 = p->dcr_train_p05;
        o->dcr_train_median = p->dcr_train_median;
        o->dcr_holdout_p05 = p->dcr_holdout_p05;
        o->dcr_holdout_median = p->dcr_holdout_median;
        o->mia_auc = p->mia_auc;
    }
    const Cohort__Synthetic__Fit *fin[4] = {pb->fit_real, pb->fit_synth, pb->fit_real_aug,
                                            pb->fit_synth_aug};
    ch_syn_fit *fout[4] = {&m->util.real, &m->util.synth, &m->util.real_aug, &m->util.synth_aug};
    for (int i = 0; rc == 0 && i < 4; i++) {
        const Cohort__Synthetic__Fit *f = fin[i];
        if (!f) {
            continue;
        }
        long tj = m->dom.target;
        if (tj < 0 || m->dom.cols[tj].kind != CH_COL_CATEGORICAL ||
            f->k != m->dom.cols[tj].n_levels || f->n_recall != f->k || f->n_precision != f->k) {
            rc = ch_err_set(err, CH_EINVAL, "synthetic model: utility figures malformed");
            break;
        }
        fout[i]->recall = s_dup(f->recall, f->k);
        fout[i]->precision = s_dup(f->precision, f->k);
        if (!fout[i]->recall || !fout[i]->precision) {
            rc = ch_err_set(err, CH_ENOMEM, "out of memory");
            break;
        }
        fout[i]->k = f->k;
        fout[i]->n_train = f->n_train;
        fout[i]->auc = f->auc;
        fout[i]->accuracy = f->accuracy;
        fout[i]->done = true;
    }
    cohort__synthetic__model__free_unpacked(pb, NULL);
    if (rc != 0) {
        ch_syn_model_destroy(&m);
    }
    return m;
}
