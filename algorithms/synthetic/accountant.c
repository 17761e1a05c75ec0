/* accountant.c: zero-concentrated DP accounting: the conversion of rho-zCDP
 * to (epsilon, delta)-DP and back, the Gaussian mechanism's noise scale and
 * the exponential mechanism's epsilon for a rho. */
#include "algorithms/synthetic/synthetic.h"

#include <math.h>

/* delta of rho-zCDP at epsilon (Canonne, Kamath and Steinke 2020, Prop. 12),
 * minimised over the Renyi order alpha by bisection on the derivative, as in
 * the authors' cdp2adp.py. */
static double s_cdp_delta(double rho, double eps)
{
    if (rho <= 0) {
        return 0;
    }
    double amin = 1.01, amax = (eps + 1) / (2 * rho) + 2;
    for (int i = 0; i < 100; i++) { /* far below double precision after 60 */
        double alpha = (amin + amax) / 2;
        double deriv = (2 * alpha - 1) * rho - eps + log1p(-1.0 / alpha);
        if (deriv < 0) {
            amin = alpha;
        } else {
            amax = alpha;
        }
    }
    double alpha = (amin + amax) / 2;
    double d = exp((alpha - 1) * (alpha * rho - eps) + alpha * log1p(-1.0 / alpha)) / (alpha - 1);
    return d < 1 ? d : 1;
}

/* Bisection on epsilon between 0 and the simple bound rho + 2 sqrt(rho
 * log(1/delta)). */
double ch_syn_cdp_eps(double rho, double delta)
{
    if (rho <= 0) {
        return 0;
    }
    double lo = 0, hi = rho + 2 * sqrt(rho * log(1 / delta));
    for (int i = 0; i < 100; i++) {
        double mid = (lo + hi) / 2;
        if (s_cdp_delta(rho, mid) <= delta) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    return hi;
}

/* The conversion increases with rho; bisection on rho in (0, epsilon]
 * (rho-zCDP implies (rho + ..., delta)-DP, so rho <= epsilon). */
double ch_syn_cdp_rho(double epsilon, double delta)
{
    double lo = 0, hi = epsilon;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = (lo + hi) / 2;
        if (ch_syn_cdp_eps(mid, delta) <= epsilon) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

double ch_syn_gauss_sigma(double rho, double sens)
{
    return sens / sqrt(2 * rho);
}

double ch_syn_em_eps(double rho)
{
    return sqrt(8 * rho);
}
