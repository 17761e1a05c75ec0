/* strategy.c: server steps (FedAvg, FedAvgM, FedAdagrad, FedAdam, FedYogi)
 * and robust aggregation (median, trimmed mean, Krum, multi-Krum). */
#include "algorithms/fedavg/strategy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double ch_fed_fix_limit(size_t n_silos)
{
    double cap = ldexp(1.0, 53); /* llround stays exact below 2^53 */
    double share = ldexp(1.0, 62) / (double)(n_silos ? n_silos : 1);
    return (share < cap ? share : cap) / ldexp(1.0, CH_FED_FIX_BITS);
}

void ch_fed_fix_add(int64_t *acc, const float *delta, size_t n, double weight)
{
    double s = weight * ldexp(1.0, CH_FED_FIX_BITS);
    for (size_t i = 0; i < n; i++) {
        acc[i] += (int64_t)llround((double)delta[i] * s);
    }
}

int ch_fed_server_moments(ch_fed_strategy s)
{
    switch (s) {
    case CH_FED_FEDAVGM:
        return 1;
    case CH_FED_FEDADAGRAD:
    case CH_FED_FEDADAM:
    case CH_FED_FEDYOGI:
        return 2;
    default:
        return 0;
    }
}

double ch_fed_server_lr(const ch_fed_params *p, long t)
{
    if (p->server_lr_schedule != CH_FED_LR_COSINE || p->rounds < 2) {
        return p->server_lr;
    }
    long T = p->rounds, k = t < 1 ? 0 : t > T ? T - 1 : t - 1;
    return p->server_lr * 0.5 * (1.0 + cos(3.14159265358979323846 * (double)k / (double)T));
}

void ch_fed_server_step(const ch_fed_params *p, float *w, float *m, float *v, const int64_t *acc,
                        double denom, const float *delta, size_t n, long t)
{
    double inv = acc ? 1.0 / (ldexp(1.0, CH_FED_FIX_BITS) * denom) : 1.0;
    /* no bias correction, as in Reddi et al.; t only sets the rate */
    double lr = ch_fed_server_lr(p, t), b1 = p->beta1, b2 = p->beta2, tau = p->tau;
    for (size_t i = 0; i < n; i++) {
        double d = acc ? (double)acc[i] * inv : (double)delta[i];
        switch (p->strategy) {
        case CH_FED_FEDAVGM:
            m[i] = (float)(p->server_momentum * m[i] + d);
            w[i] += (float)(lr * m[i]);
            break;
        case CH_FED_FEDADAGRAD:
        case CH_FED_FEDADAM:
        case CH_FED_FEDYOGI: {
            double mi = b1 * m[i] + (1 - b1) * d, d2 = d * d, vi = v[i];
            if (p->strategy == CH_FED_FEDADAGRAD) {
                vi += d2;
            } else if (p->strategy == CH_FED_FEDADAM) {
                vi = b2 * vi + (1 - b2) * d2;
            } else {
                double sg = vi - d2 > 0 ? 1 : vi - d2 < 0 ? -1 : 0;
                vi = vi - (1 - b2) * d2 * sg;
            }
            m[i] = (float)mi;
            v[i] = (float)vi;
            w[i] += (float)(lr * mi / (sqrt(vi) + tau));
            break;
        }
        default: /* fedavg, fedprox, robust: w += lr * mean delta */
            w[i] += (float)(lr * d);
            break;
        }
    }
}

static int s_dbl_cmp(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return a < b ? -1 : a > b ? 1 : 0;
}

static void s_sort(double *x, size_t k)
{
    if (k <= 16) { /* insertion sort: the usual handful of silos */
        for (size_t i = 1; i < k; i++) {
            double v = x[i];
            size_t j = i;
            while (j > 0 && x[j - 1] > v) {
                x[j] = x[j - 1];
                j--;
            }
            x[j] = v;
        }
        return;
    }
    qsort(x, k, sizeof *x, s_dbl_cmp);
}

static void s_krum(const ch_fed_params *p, float *const *ups, size_t k, size_t n, float *out,
                   bool *chosen, double *scratch)
{
    double *dist = scratch, *score = scratch + k * k;
    for (size_t a = 0; a < k; a++) {
        dist[a * k + a] = 0;
        for (size_t b = a + 1; b < k; b++) {
            double s = 0;
            for (size_t i = 0; i < n; i++) {
                double d = (double)ups[a][i] - (double)ups[b][i];
                s += d * d;
            }
            dist[a * k + b] = dist[b * k + a] = s;
        }
    }
    long f = p->byzantine;
    long near = (long)k - f - 2;
    near = near < 1 ? 1 : near > (long)k - 1 ? (long)k - 1 : near;
    double *row = malloc((k ? k : 1) * sizeof *row);
    for (size_t a = 0; a < k; a++) {
        size_t c = 0;
        for (size_t b = 0; b < k; b++) {
            if (b != a && row) {
                row[c++] = dist[a * k + b];
            }
        }
        double s = 0;
        if (row) {
            s_sort(row, c);
            for (long j = 0; j < near && (size_t)j < c; j++) {
                s += row[j];
            }
        }
        score[a] = s;
    }
    free(row);
    size_t m = 1;
    if (p->strategy == CH_FED_MULTIKRUM) {
        long mm = p->krum_m > 0 ? p->krum_m : (long)k - f;
        m = mm < 1 ? 1 : mm > (long)k ? k : (size_t)mm;
    }
    bool *used = chosen;
    memset(used, 0, k * sizeof *used);
    for (size_t j = 0; j < m; j++) { /* the m lowest scores, ties to the lower silo */
        size_t best = k;
        for (size_t a = 0; a < k; a++) {
            if (!used[a] && (best == k || score[a] < score[best])) {
                best = a;
            }
        }
        used[best] = true;
    }
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t a = 0; a < k; a++) {
            s += used[a] ? (double)ups[a][i] : 0;
        }
        out[i] = (float)(s / (double)m);
    }
}

void ch_fed_robust(const ch_fed_params *p, float *const *ups, size_t k, size_t n, float *out,
                   bool *chosen, double *scratch)
{
    if (k == 0) {
        memset(out, 0, n * sizeof *out);
        return;
    }
    if (p->strategy == CH_FED_KRUM || p->strategy == CH_FED_MULTIKRUM) {
        s_krum(p, ups, k, n, out, chosen, scratch);
        return;
    }
    if (chosen) {
        for (size_t a = 0; a < k; a++) {
            chosen[a] = true;
        }
    }
    size_t cut = p->strategy == CH_FED_TRIMMED_MEAN ? (size_t)floor(p->trim * (double)k) : 0;
    if (2 * cut >= k) {
        cut = (k - 1) / 2;
    }
    double *col = scratch;
    for (size_t i = 0; i < n; i++) {
        for (size_t a = 0; a < k; a++) {
            col[a] = ups[a][i];
        }
        s_sort(col, k);
        if (p->strategy == CH_FED_MEDIAN) {
            out[i] = (float)(k % 2 ? col[k / 2] : 0.5 * (col[k / 2 - 1] + col[k / 2]));
        } else {
            double s = 0;
            for (size_t a = cut; a < k - cut; a++) {
                s += col[a];
            }
            out[i] = (float)(s / (double)(k - 2 * cut));
        }
    }
}
