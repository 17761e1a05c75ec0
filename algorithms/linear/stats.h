/* stats.h: the distribution tails a regression report needs: Student t
 * (through the regularized incomplete beta function), the normal, the F
 * distribution, and the quantiles of t and normal for confidence intervals.
 * Accurate to about 1e-14 relative over the ranges a report uses (checked
 * against R's pt, pnorm, pf, qt and qnorm in tests/unit/test_glm.c). */
#ifndef CH_LINEAR_STATS_H
#define CH_LINEAR_STATS_H

/* The regularized incomplete beta I_x(a, b) for a, b > 0, 0 <= x <= 1; y is
 * 1 - x, passed separately so callers keep its precision. NaN outside the
 * domain. */
double ch_stat_ibeta(double x, double y, double a, double b);

/* P(|T| > |t|) for Student t with df > 0 degrees of freedom (the two-sided
 * p-value of R's summary.lm). NaN for NaN input or df <= 0. */
double ch_stat_t_two_sided(double t, double df);

/* P(T <= t) for Student t (R's pt(t, df)). */
double ch_stat_pt(double t, double df);

/* P(|Z| > |z|) for the standard normal (summary.glm's Pr(>|z|)). */
double ch_stat_norm_two_sided(double z);

/* P(Z <= z) (R's pnorm). */
double ch_stat_pnorm(double z);

/* P(F > f) for F with (d1, d2) degrees of freedom (R's pf(f, d1, d2,
 * lower.tail = FALSE)). */
double ch_stat_pf_upper(double f, double d1, double d2);

/* The p-quantile of the standard normal (R's qnorm), 0 < p < 1. */
double ch_stat_qnorm(double p);

/* The p-quantile of Student t with df degrees of freedom (R's qt). */
double ch_stat_qt(double p, double df);

/* R's significance code for a p-value: "***" < 0.001 < "**" < 0.01 < "*"
 * < 0.05 < "." < 0.1 < " ". A static string. */
const char *ch_stat_stars(double p);

#endif
