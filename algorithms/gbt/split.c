/* split.c: the best split of a node from its histogram, with XGBoost's
 * gain (lambda, alpha, min_child_weight) and its enumeration order. */
#include "algorithms/gbt/gbt.h"

#include <math.h>

static double s_threshold_l1(double g, double alpha)
{
    if (g > alpha) {
        return g - alpha;
    }
    if (g < -alpha) {
        return g + alpha;
    }
    return 0.0;
}

/* XGBoost's CalcGain with max_delta_step 0. */
double ch_gbt_gain(const ch_gbt_params *p, double g, double h)
{
    if (h < p->min_child_weight || h <= 0) {
        return 0.0;
    }
    double t = s_threshold_l1(g, p->alpha);
    return t * t / (h + p->lambda);
}

/* XGBoost's CalcWeight with max_delta_step 0. */
double ch_gbt_weight(const ch_gbt_params *p, double g, double h)
{
    if (h < p->min_child_weight || h <= 0) {
        return 0.0;
    }
    return -s_threshold_l1(g, p->alpha) / (h + p->lambda);
}

/* Scans both directions of every allowed feature. */
ch_gbt_split ch_gbt_split_find(const ch_gbt_params *p, const ch_gbt_cuts *c, const int64_t *hist,
                               const bool *use, int64_t tot_g, int64_t tot_h, double sg, double sh)
{
    ch_gbt_split best = {0};
    best.gain = 0;
    best.feature = -1;
    double root_gain = ch_gbt_gain(p, (double)tot_g / sg, (double)tot_h / sh);
    double mcw = p->min_child_weight;
    for (size_t f = 0; f < c->n_features; f++) {
        if (use && !use[f]) {
            continue;
        }
        const int64_t *hf = hist + 2 * c->hoff[f];
        uint32_t nb = c->n_bins[f];
        const float *cu = c->cuts + c->off[f];
        /* forward: missing values go right */
        int64_t lg = 0, lh = 0;
        for (uint32_t b = 0; b < nb; b++) {
            if (b > 0 && hf[2 * b] == 0 && hf[2 * b + 1] == 0) {
                continue; /* the same sums as bin b - 1: no strictly better gain */
            }
            lg += hf[2 * b];
            lh += hf[2 * b + 1];
            double hl = (double)lh / sh, hr = (double)(tot_h - lh) / sh;
            if (hl < mcw || hr < mcw) {
                continue;
            }
            double gain = ch_gbt_gain(p, (double)lg / sg, hl) +
                          ch_gbt_gain(p, (double)(tot_g - lg) / sg, hr) - root_gain;
            if (!best.valid || gain > best.gain) {
                best = (ch_gbt_split){true, (int32_t)f, (int32_t)b, cu[b], false, gain, lg, lh};
            }
        }
        if (hf[2 * nb] == 0 && hf[2 * nb + 1] == 0) {
            continue;
        }
        /* backward: missing values go left */
        int64_t rg = 0, rh = 0;
        for (uint32_t b = nb; b-- > 0;) {
            if (b + 1 < nb && hf[2 * b] == 0 && hf[2 * b + 1] == 0) {
                continue; /* the same sums as bin b + 1 */
            }
            rg += hf[2 * b];
            rh += hf[2 * b + 1];
            double hr = (double)rh / sh, hl = (double)(tot_h - rh) / sh;
            if (hl < mcw || hr < mcw) {
                continue;
            }
            double gain = ch_gbt_gain(p, (double)(tot_g - rg) / sg, hl) +
                          ch_gbt_gain(p, (double)rg / sg, hr) - root_gain;
            if (!best.valid || gain > best.gain) {
                float thr = b > 0 ? cu[b - 1] : c->min_values[f];
                best = (ch_gbt_split){true, (int32_t)f, (int32_t)b - 1, thr,
                                      true, gain,       tot_g - rg,     tot_h - rh};
            }
        }
    }
    /* XGBoost's ExpandEntry::IsValid */
    if (best.valid) {
        int64_t rh = tot_h - best.left_h;
        if (!(best.gain > 1e-6) || best.left_h == 0 || rh == 0 || best.gain < p->gamma) {
            best.valid = false;
        }
    }
    return best;
}
