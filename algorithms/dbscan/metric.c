/* metric.c: DBSCAN's distances (euclidean, manhattan, cosine), computed
 * directly in coordinate order so that every process gets the same bits. */
#include "algorithms/dbscan/dbscan.h"

#include <math.h>

const char *const ch_db_metric_names[] = {"euclidean", "manhattan", "cosine", NULL};

/* Returns eps^2 for euclidean (distances are compared squared, as
 * scikit-learn's k-d tree does), eps otherwise. Can't fail. */
double ch_db_threshold(const ch_db_params *p)
{
    return p->metric == CH_DB_EUCLIDEAN ? p->eps * p->eps : p->eps;
}

/* Returns the distance value of two rows (see dbscan.h). Can't fail. */
double ch_db_dist_value(ch_db_metric m, const double *a, const double *b, size_t d)
{
    double s = 0;
    if (m == CH_DB_EUCLIDEAN) {
        for (size_t j = 0; j < d; j++) {
            double t = a[j] - b[j];
            s += t * t;
        }
    } else if (m == CH_DB_MANHATTAN) {
        for (size_t j = 0; j < d; j++) {
            s += fabs(a[j] - b[j]);
        }
    } else {
        for (size_t j = 0; j < d; j++) {
            s += a[j] * b[j];
        }
        s = 1.0 - s;
        s = s < 0 ? 0 : s;
    }
    return s;
}

/* Returns the distance for a distance value. Can't fail. */
double ch_db_value_to_dist(ch_db_metric m, double v)
{
    return m == CH_DB_EUCLIDEAN ? sqrt(v) : v;
}

/* Normalises a row in place (cosine); zero rows stay zero. Can't fail. */
void ch_db_normalise(double *row, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        s += row[j] * row[j];
    }
    if (s > 0) {
        double r = sqrt(s);
        for (size_t j = 0; j < d; j++) {
            row[j] /= r;
        }
    }
}

/* Returns the halo half-width: eps for euclidean and manhattan (a
 * coordinate difference never exceeds the distance); sqrt(2 eps) for cosine
 * on normalised rows (|a_k - b_k| <= |a - b| = sqrt(2 (1 - cos))). A relative
 * margin of 1e-6 covers rounding. Can't fail. */
double ch_db_halo(const ch_db_params *p)
{
    double h = p->metric == CH_DB_COSINE ? sqrt(2.0 * p->eps) : p->eps;
    return h * (1 + 1e-6) + 1e-300;
}

/* Returns false when row i has a missing or infinite coordinate. Can't
 * fail otherwise. */
bool ch_db_row(const ch_table *t, size_t i, ch_db_metric m, double *out)
{
    for (size_t j = 0; j < t->n_cols; j++) {
        double v = t->cols[j].values[i];
        if (!isfinite(v)) {
            return false;
        }
        out[j] = v;
    }
    if (m == CH_DB_COSINE) {
        ch_db_normalise(out, t->n_cols);
    }
    return true;
}

/* Returns the weight of row i in fixed point: round(w * 2^32). Weights are
 * finite and >= 0 (table.h); larger than 2^30 is clamped. Can't fail. */
int64_t ch_db_weight_fixed(const ch_table *t, size_t i)
{
    if (!t->weights) {
        return (int64_t)1 << CH_DB_WEIGHT_BITS;
    }
    double w = t->weights[i];
    if (!(w > 0)) {
        return 0;
    }
    if (w > 1073741824.0) {
        w = 1073741824.0;
    }
    return (int64_t)llround(ldexp(w, CH_DB_WEIGHT_BITS));
}
