/* test_metrics.c: the evaluation metrics against scikit-learn 1.2.1
 * (Debian's python3-sklearn), computed once with /usr/bin/python3:
 *
 *   y = [3.0, -0.5, 2.0, 7.0, 4.25, 1.5, -2.0, 0.0, 5.5, 3.3]
 *   p = [2.5, 0.0, 2.1, 7.8, 4.0, 1.0, -1.5, 0.3, 6.0, 2.9]
 *   np.sqrt(mean_squared_error(y, p)), mean_absolute_error(y, p), r2_score(y, p)
 *   accuracy_score(yc, P.argmax(1)), log_loss(yc, P, labels=[0, 1, 2])
 *   roc_auc_score(yb, s)
 *
 * printed with "%.17g". Tolerance 1e-12 absolute on values of order one
 * (different summation order from numpy's pairwise sums moves the last
 * bits only). */
#include "common/metrics.h"
#include "tests/check.h"

#define TOL 1e-12

static const double y_reg[10] = {3.0, -0.5, 2.0, 7.0, 4.25, 1.5, -2.0, 0.0, 5.5, 3.3};
static const double p_reg[10] = {2.5, 0.0, 2.1, 7.8, 4.0, 1.0, -1.5, 0.3, 6.0, 2.9};

static void test_regression(void)
{
    CHECK_NEAR(ch_metric_rmse(y_reg, p_reg, 10), 0.47037219305566941, TOL);
    CHECK_NEAR(ch_metric_mae(y_reg, p_reg, 10), 0.43499999999999994, TOL);
    CHECK_NEAR(ch_metric_r2(y_reg, p_reg, 10), 0.96833053616223352, TOL);

    /* a NaN or an infinity on either side drops the pair: the same data
     * with two poisoned pairs added gives the same numbers */
    double y[12], p[12];
    memcpy(y, y_reg, sizeof y_reg);
    memcpy(p, p_reg, sizeof p_reg);
    y[10] = NAN;
    p[10] = 1.0;
    y[11] = 2.0;
    p[11] = INFINITY;
    CHECK_NEAR(ch_metric_rmse(y, p, 12), 0.47037219305566941, TOL);
    CHECK_NEAR(ch_metric_mae(y, p, 12), 0.43499999999999994, TOL);
    CHECK_NEAR(ch_metric_r2(y, p, 12), 0.96833053616223352, TOL);

    /* nothing usable: NaN; a perfect fit: 0 error, r2 1 */
    CHECK(isnan(ch_metric_rmse(y, p, 0)));
    CHECK(isnan(ch_metric_mae(y + 10, p + 10, 2)));
    CHECK(isnan(ch_metric_r2(y + 10, p + 10, 2)));
    CHECK(ch_metric_rmse(y_reg, y_reg, 10) == 0.0);
    CHECK(ch_metric_r2(y_reg, y_reg, 10) == 1.0);
    /* a constant target has no variance to explain: NaN, not 1 or -inf */
    const double c[3] = {2, 2, 2}, cp[3] = {1, 2, 3};
    CHECK(isnan(ch_metric_r2(c, cp, 3)));
    /* predicting the mean gives r2 0; worse than the mean is negative */
    const double yy[4] = {1, 2, 3, 4}, mean[4] = {2.5, 2.5, 2.5, 2.5}, bad[4] = {4, 3, 2, 1};
    CHECK_NEAR(ch_metric_r2(yy, mean, 4), 0.0, TOL);
    CHECK_NEAR(ch_metric_r2(yy, bad, 4), -3.0, TOL); /* 1 - 20 / 5 */
}

/* 3 classes; row 3 ties classes 0 and 2 below class 1 (argmax 1, wrong) */
static const double y_cls[10] = {0, 1, 2, 2, 1, 0, 1, 2, 0, 1};
static const double p_cls[30] = {
    0.7,  0.2,  0.1,  /* row 0 */
    0.1,  0.6,  0.3,  /* row 1 */
    0.2,  0.3,  0.5,  /* row 2 */
    0.3,  0.4,  0.3,  /* row 3 */
    0.25, 0.5,  0.25, /* row 4 */
    0.4,  0.35, 0.25, /* row 5 */
    0.5,  0.3,  0.2,  /* row 6 */
    0.05, 0.15, 0.8,  /* row 7 */
    0.6,  0.3,  0.1,  /* row 8 */
    0.2,  0.2,  0.6,  /* row 9 */
};

static void test_classification(void)
{
    CHECK_NEAR(ch_metric_accuracy(y_cls, p_cls, 10, 3), 0.69999999999999996, TOL);
    CHECK_NEAR(ch_metric_logloss(y_cls, p_cls, 10, 3), 0.79214383568649416, TOL);

    /* binary as two columns: log_loss([0,1,1,0], [.2,.7,.9,.4]) */
    const double yb[4] = {0, 1, 1, 0};
    const double pb[8] = {0.8, 0.2, 0.3, 0.7, 0.1, 0.9, 0.6, 0.4};
    CHECK_NEAR(ch_metric_logloss(yb, pb, 4, 2), 0.2990011586691898, TOL);
    CHECK_NEAR(ch_metric_accuracy(yb, pb, 4, 2), 1.0, TOL);

    /* ties in the probabilities go to the first class, as numpy's argmax */
    const double yt[2] = {0, 1};
    const double pt[4] = {0.5, 0.5, 0.5, 0.5};
    CHECK_NEAR(ch_metric_accuracy(yt, pt, 2, 2), 0.5, TOL);

    /* missing labels are skipped; no labels at all is NaN */
    double y[11];
    double p[33];
    memcpy(y, y_cls, sizeof y_cls);
    memcpy(p, p_cls, sizeof p_cls);
    y[10] = NAN;
    p[30] = 1;
    p[31] = 0;
    p[32] = 0;
    CHECK_NEAR(ch_metric_accuracy(y, p, 11, 3), 0.69999999999999996, TOL);
    CHECK_NEAR(ch_metric_logloss(y, p, 11, 3), 0.79214383568649416, TOL);
    CHECK(isnan(ch_metric_accuracy(y + 10, p + 30, 1, 3)));
    CHECK(isnan(ch_metric_logloss(y + 10, p + 30, 1, 3)));

    /* a probability of 0 for the true class is clipped at 1e-15, not inf;
     * a probability of 1 is clipped at 1 - 1e-15 */
    const double y0[1] = {1};
    const double p0[2] = {1.0, 0.0};
    CHECK_NEAR(ch_metric_logloss(y0, p0, 1, 2), -log(1e-15), 1e-9);
    const double p1[2] = {0.0, 1.0};
    double l1 = ch_metric_logloss(y0, p1, 1, 2);
    CHECK(l1 > 0 && l1 < 2e-15);
}

static void test_auc(void)
{
    /* ties across classes at 0.1, 0.35 and 0.4: sklearn 0.59722222222222232 */
    const double yb[12] = {0, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 0};
    const double s[12] = {0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.9, 0.2, 0.35, 0.6, 0.1, 0.35};
    CHECK_NEAR(ch_metric_auc(yb, s, 12), 0.59722222222222232, TOL);

    /* perfect, reversed and all-tied scores */
    const double y4[4] = {0, 0, 1, 1};
    const double up[4] = {0.1, 0.2, 0.3, 0.4}, down[4] = {0.4, 0.3, 0.2, 0.1};
    const double flat[4] = {0.5, 0.5, 0.5, 0.5};
    CHECK_NEAR(ch_metric_auc(y4, up, 4), 1.0, TOL);
    CHECK_NEAR(ch_metric_auc(y4, down, 4), 0.0, TOL);
    CHECK_NEAR(ch_metric_auc(y4, flat, 4), 0.5, TOL);

    /* NaN labels or scores are skipped */
    const double yn[6] = {0, 0, 1, 1, NAN, 1};
    const double sn[6] = {0.1, 0.2, 0.3, 0.4, 0.0, NAN};
    CHECK_NEAR(ch_metric_auc(yn, sn, 6), 1.0, TOL);

    /* one class only, or nothing: NaN */
    const double ones[3] = {1, 1, 1};
    CHECK(isnan(ch_metric_auc(ones, up, 3)));
    CHECK(isnan(ch_metric_auc(ones, up, 0)));
}

int main(void)
{
    test_regression();
    test_classification();
    test_auc();
    CH_TEST_END();
}
