/* stats.c: distribution tails and quantiles for regression reports (see
 * stats.h). The incomplete beta function is evaluated by its continued
 * fraction (modified Lentz), on the side of the symmetry point where it
 * converges quickly. */
#include "algorithms/linear/stats.h"

#include <float.h>
#include <math.h>

/* The continued fraction of I_x(a, b) (Numerical Recipes' betacf form). */
static double s_betacf(double x, double a, double b)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny) {
        d = tiny;
    }
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) {
            d = tiny;
        }
        c = 1 + aa / c;
        if (fabs(c) < tiny) {
            c = tiny;
        }
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) {
            d = tiny;
        }
        c = 1 + aa / c;
        if (fabs(c) < tiny) {
            c = tiny;
        }
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-16) {
            break;
        }
    }
    return h;
}

double ch_stat_ibeta(double x, double y, double a, double b)
{
    if (isnan(x) || isnan(y) || !(a > 0) || !(b > 0) || x < 0 || y < 0) {
        return NAN;
    }
    if (x == 0) {
        return 0;
    }
    if (y == 0) {
        return 1;
    }
    double lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(y);
    if (x < (a + 1) / (a + b + 2)) {
        return exp(lfront) * s_betacf(x, a, b) / a;
    }
    return 1 - exp(lfront) * s_betacf(y, b, a) / b;
}

double ch_stat_t_two_sided(double t, double df)
{
    if (isnan(t) || !(df > 0)) {
        return NAN;
    }
    if (isinf(t)) {
        return 0;
    }
    double t2 = t * t;
    /* P(|T| > t) = I_{df/(df+t^2)}(df/2, 1/2) */
    return ch_stat_ibeta(df / (df + t2), t2 / (df + t2), df / 2, 0.5);
}

double ch_stat_pt(double t, double df)
{
    double tail = ch_stat_t_two_sided(t, df) / 2;
    return t < 0 ? tail : 1 - tail;
}

double ch_stat_norm_two_sided(double z)
{
    return erfc(fabs(z) / sqrt(2.0));
}

double ch_stat_pnorm(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

double ch_stat_pf_upper(double f, double d1, double d2)
{
    if (isnan(f) || !(d1 > 0) || !(d2 > 0)) {
        return NAN;
    }
    if (f <= 0) {
        return 1;
    }
    if (isinf(f)) {
        return 0;
    }
    /* P(F > f) = I_{d2/(d2+d1 f)}(d2/2, d1/2) */
    double den = d2 + d1 * f;
    return ch_stat_ibeta(d2 / den, d1 * f / den, d2 / 2, d1 / 2);
}

double ch_stat_qnorm(double p)
{
    if (!(p > 0) || !(p < 1)) {
        return p == 0 ? -INFINITY : p == 1 ? INFINITY : NAN;
    }
    /* Acklam's rational approximation (1e-9), then two Newton steps on
     * erfc, which bring it to full precision. */
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    double x;
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= 1 - 0.02425) {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        double q = sqrt(-2 * log(1 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    for (int i = 0; i < 2; i++) {
        double e = ch_stat_pnorm(x) - p;
        double dens = exp(-x * x / 2) / sqrt(2 * M_PI);
        if (dens > 0) {
            x -= e / dens;
        }
    }
    return x;
}

double ch_stat_qt(double p, double df)
{
    if (!(p > 0) || !(p < 1) || !(df > 0)) {
        return NAN;
    }
    if (p == 0.5) {
        return 0;
    }
    /* Newton on pt from the normal quantile, safeguarded by bisection. */
    double x = ch_stat_qnorm(p);
    double lo = -1e300, hi = 1e300;
    double lc = lgamma((df + 1) / 2) - lgamma(df / 2) - 0.5 * log(df * M_PI);
    for (int i = 0; i < 200; i++) {
        double f = ch_stat_pt(x, df) - p;
        if (f > 0) {
            hi = x;
        } else {
            lo = x;
        }
        double dens = exp(lc - (df + 1) / 2 * log1p(x * x / df));
        double nx = dens > 0 ? x - f / dens : NAN;
        if (!(nx > lo && nx < hi)) {
            nx = (lo > -1e300 && hi < 1e300) ? (lo + hi) / 2 : (f > 0 ? x - 1 : x + 1) * 2;
        }
        if (fabs(nx - x) <= 1e-15 * fabs(x)) {
            x = nx;
            break;
        }
        x = nx;
    }
    return x;
}

const char *ch_stat_stars(double p)
{
    if (isnan(p)) {
        return "";
    }
    return p < 0.001 ? "***" : p < 0.01 ? "**" : p < 0.05 ? "*" : p < 0.1 ? "." : " ";
}
