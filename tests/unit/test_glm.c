/* test_glm.c: logistic and Poisson regression by distributed IRLS (glm.h)
 * against R's glm() on the bundled churn data, the distribution tails of
 * stats.h against R's pt/pf/qt/qnorm, identical bits for any number of
 * workers, and the edge cases (separation, aliased columns, bad targets).
 *
 * Reference numbers: R 4.2 on this machine,
 *   d <- read.csv("data/churn.csv"); factor() on state, area_code,
 *   international_plan, voice_mail_plan, churn
 *   f <- glm(churn ~ ., data = d, family = binomial)
 *   g <- glm(number_customer_service_calls ~ ., data = d, family = poisson)
 * coef(), summary()$coefficients[, 2] and [, 4], deviance, null.deviance,
 * aic, BIC, logLik, iter, df.residual, df.null, printed with "%.17g".
 * Tolerances: 1e-8 relative on coefficients and standard errors (the
 * iterates are R's; only the rounding of the QR differs, amplified by the
 * near collinearity of the minutes and charge columns), 1e-10 on the
 * deviances and AIC, exact iteration counts. */
#include "algorithms/linear/design.h"
#include "algorithms/linear/glm.h"
#include "algorithms/linear/stats.h"
#include "common/reduce.h"
#include "tests/check.h"

#include <stdint.h>

#define RTOL 1e-8

/* Binomial: coef, se, p-values and (deviance, null deviance, AIC, BIC,
 * logLik, iter, df.residual, df.null). Poisson: the same. */
static const double rb_coef[] = {
    -9.3854459749951449,    0.32909678295267675,    0.92336520220310248,   0.49385954310857344,
    1.8375719517433236,     0.25236887464580304,    0.88090390461933032,   0.53204216092222323,
    0.61485124256746104,    0.64486194699706245,    0.33669365841098514,   -0.32183706830921066,
    0.62122582323230002,    0.51039179873485696,    -0.18714529211917727,  0.55641066981611087,
    0.74964818840109837,    0.90592534160398652,    0.58965952820261403,   0.99185886100223219,
    0.78792719472097172,    1.0305762753546313,     1.0266757760908445,    0.91567099974688715,
    0.54728333006624774,    0.79441616557972905,    1.6664468029611774,    0.33786607894806375,
    0.23405061089249135,    -0.013060968538696514,  0.61766949480960864,   1.2920057864006891,
    0.42821939453654656,    0.91518351399069031,    0.99030284634570676,   0.6531575456677029,
    0.81061902768510585,    0.7896884775395967,     0.36715756349550016,   -0.51819549234143469,
    1.1893454809096893,     0.66868551676036592,    0.76604880152516308,   1.2540699597887195,
    0.80764069640201186,    -0.67642852156854061,   -0.10107069783248293,  1.4634108833792658,
    0.046393687719684641,   0.79347607418370336,    -0.018252056233567449, 0.0015907845819792279,
    -0.05560660621490196,   -0.012085808168167631,  2.2295056583070338,    -2.1795091789950889,
    0.035738647773159167,   3.4539574309442624,     0.0030869300437482788, -20.235207433440397,
    0.023315345685382786,   -0.0013712541208627731, -0.18642302992215173,  0.21773996942292184,
    -0.0021800587294918267, -4.7444604327681441,    -0.44353366990842746,  -0.068912738021032996,
    1.9776904550009087,     0.53001194204691726};
static const double rb_se[] = {
    0.79831903438980312,   0.59712099133695351,   0.5997039316067545,   0.63359781967451445,
    0.61969355755621958,   0.62805496577795317,   0.58598877113715142,  0.63109462020745133,
    0.59136814365377854,   0.60551179597620441,   0.63336024420571602,  0.69602830942798177,
    0.65669461978889421,   0.59133772196392287,   0.67020212054484574,  0.59958642643770821,
    0.58769992684671757,   0.58841504367358399,   0.65006650025313761,  0.58657518263754715,
    0.57610462391973172,   0.57764117397441972,   0.57910333501331701,  0.5711012315813393,
    0.60630489230604168,   0.58715698542434791,   0.56879385340175004,  0.62631177247760961,
    0.6323163013639661,    0.66930513606913145,   0.61379636199241405,  0.5612844336541859,
    0.62167518081120121,   0.58804976671600684,   0.5765915391820311,   0.59076541416951345,
    0.59164137848415121,   0.57845288359511038,   0.6486853911644771,   0.67521856355148446,
    0.5977457480832975,    0.61355879219778398,   0.60128731847636929,  0.55974589720544776,
    0.58760667036693615,   0.68190451622103965,   0.63402150353150788,  0.56883897092057878,
    0.64929864706247509,   0.56250197355997189,   0.61643425361921433,  0.0011753943250663349,
    0.11584680495085617,   0.13341262487251776,   0.12707049073889073,  0.49377271638471049,
    0.015345534958535079,  2.7720374353604731,    0.002358823489291987, 16.306077089550126,
    1.3963117279188551,    0.0023903417143539153, 16.427186741762647,   0.74294339304575585,
    0.0023585741119740902, 16.509407707766194,    4.4823464608481141,   0.02056673909344121,
    16.601619483397425,    0.033865252985495468};
static const double rb_p[] = {
    6.538110650678959e-32, 0.58153825808890158,  0.12363306631983091,    0.43571307919940389,
    0.0030239638552639306, 0.68781201574620343,  0.13276742506062497,    0.39920239359097193,
    0.29847475546029462,   0.28688199507254247,  0.59500377289316164,    0.64380111467933787,
    0.34415424606976031,   0.38807485432566402,  0.78006287890962944,    0.35341235723308895,
    0.2021100967029732,    0.12365724698889657,  0.36436676529384626,    0.090849753536505706,
    0.17141203316009557,   0.074405545038019008, 0.076250008511067488,   0.10885901059202815,
    0.36670973785517424,   0.17605956731448649,  0.0033919064894275576,  0.58957397279019685,
    0.7112722231514399,    0.98443089225133229,  0.31426641065377586,    0.021342304778713586,
    0.49093948753774752,   0.11963609967139849,  0.085885676857188953,   0.2688943363180572,
    0.17064979260689947,   0.17219856333947173,  0.57139207015888616,    0.44281488547730569,
    0.046622007515830628,  0.2757803254270359,   0.20265825436354459,    0.025063199004966976,
    0.16929953667880399,   0.32121237563019123,  0.87334420824388181,    0.010092971916504288,
    0.94303802434539086,   0.15835693230388007,  0.97637881709427565,    0.17592627406913805,
    0.63122653470721279,   0.92781862539433968,  6.4469679759252859e-69, 1.0148136933029455e-05,
    0.019862874326272227,  0.21276455590023702,  0.19064493571495017,    0.21462011788161292,
    0.98667769556971019,   0.56619487348992859,  0.99094544507036775,    0.76946293794330467,
    0.35532381402025004,   0.77382198333122199,  0.92117699735142944,    0.00080610898328876534,
    0.90517524928877147,   3.290388423001507e-55};
static const double rb_fit[] = {3053.8689295092699,
                                4074.9677408085427,
                                3193.8689295092699,
                                3650.0724529084064,
                                -1526.934464754635,
                                6,
                                4930,
                                4999};
static const double rp_coef[] = {
    0.79411491905315923,     0.01793404858549465,     0.15273508339913011,
    0.044869939748271991,    -0.044661641703075031,   0.12508466646078978,
    0.057643703908580306,    -0.014068463421442511,   0.15273656297611848,
    0.094199766678720848,    0.2142362199439071,      0.099698835872028921,
    0.082615606757372145,    0.16727423961681723,     -0.1079385828409509,
    0.13122563597722603,     -0.020603190881553012,   0.053985250504367435,
    0.047002815045656787,    -0.067643055228774784,   0.11366538944596156,
    0.1199664080336986,      0.11121125739379495,     0.01709007934950987,
    0.13147362462650514,     0.098793899443473374,    -0.00061590573461169876,
    -0.018105769139442302,   -0.018258764474847398,   -0.0051685543782059853,
    0.081891139646896607,    0.10841273518914069,     0.046170412959674022,
    0.09505566111433171,     0.12419088818298328,     -0.033503416035983113,
    0.1349312122350092,      0.13406264500543716,     -0.055781944809469151,
    0.01952972596880401,     0.014943147214999425,    0.027913966879744703,
    0.029033476480882208,    0.070969939228720288,    -0.075694293966540968,
    0.054656394804749764,    0.19961186381514479,     0.00051814337151446556,
    -0.080148047972124062,   0.085075999079598189,    0.033626028395262866,
    -0.00011062217643096718, -0.017309309450283781,   0.026924126602480152,
    -0.20508233781798349,    -0.064237440572288293,   0.0031470370488959464,
    0.84726374271529992,     -0.00059266386197457202, -4.9877772683997836,
    0.45571312861245022,     0.00037450573091564666,  -5.3682413110211886,
    -0.045974070707403093,   -0.00027333960719006997, 1.0130052228705999,
    1.1578225208616202,      -0.0031840034083803364,  -4.3173992909145262,
    0.50910327895207252};
static const double rp_se[] = {
    0.16542731623862797,    0.12299107429553296,    0.12583818879995098,    0.13036231140135857,
    0.14905608209085686,    0.12599322503853844,    0.12647129526837103,    0.13295927758693107,
    0.12625630628318096,    0.12842238284275709,    0.12786210995985325,    0.1306020991782614,
    0.13674380665453473,    0.1205622406500749,     0.13636567287367768,    0.12513090785735534,
    0.12896289449850362,    0.12683250118665329,    0.13266934050202633,    0.12899715156188699,
    0.12445597853621382,    0.12380387558194765,    0.12430987179483179,    0.12213875890629476,
    0.12680960178304826,    0.12569859254905594,    0.12715497959626199,    0.1317648242938769,
    0.13319151017897524,    0.13262817042167993,    0.12744904129150725,    0.12182804478357943,
    0.13010875529559932,    0.12779847916087028,    0.1214025628622608,     0.12550123777200953,
    0.12724385698443413,    0.12177736542427733,    0.13819050552576728,    0.12928921001653296,
    0.12929250868959438,    0.13148148103759108,    0.13068103414724053,    0.12189366929336126,
    0.1268787784536497,     0.12426666251660283,    0.12390055049737236,    0.12727575220572354,
    0.12941065043418279,    0.11620489098858203,    0.12460543757740991,    0.00028574283982985303,
    0.027845578430939072,   0.031894009522308434,   0.041126927344418855,   0.088644918176584042,
    0.0028556232010674451,  0.67348241034873424,    0.00057048790009361634, 3.9616581479656396,
    0.33491984551374004,    0.00057295759958944897, 3.9402562950175222,     0.17776839801308936,
    0.00056939363290214873, 3.9503908349892831,     1.0748003120997207,     0.0046417078439450589,
    3.9810503630934404,     0.030904184854858626};
static const double rp_p[] = {
    1.5836035859680055e-06, 0.88406675965729886,   0.22484629569950171,    0.73070031155778792,
    0.76445956292693495,    0.32081287457668706,   0.64854467919785841,    0.91573285029572449,
    0.22638092859879441,    0.46324427556785153,   0.093831181047618534,   0.44523769236123867,
    0.54573499414136961,    0.16530418607986838,   0.42863023512187332,    0.29431307618560426,
    0.87306965296584105,    0.67036866765053693,   0.72312498179288109,    0.60001680393950863,
    0.36108586284413463,    0.33254336519058403,   0.37098526734058995,    0.88872045486134588,
    0.29983852459297383,    0.43189169692885981,   0.99613526928700968,    0.89070693931516121,
    0.89096238450138587,    0.9689140991141294,    0.52052246001438807,    0.37352858428813757,
    0.72269436063368686,    0.45700149360341064,   0.30632316591125613,    0.78950237871877194,
    0.28895613542644838,    0.27094753307880615,   0.68646294209636882,    0.87993266942133952,
    0.90798836254347481,    0.83187033465912696,   0.82418112338782645,    0.56041293907596601,
    0.5507828150352031,     0.66005913830145269,   0.10716551469371795,    0.99675179720173435,
    0.53569822243226661,    0.46409493740637753,   0.78726793024718122,    0.69865336054469351,
    0.53419316071331724,    0.39857160289093851,   6.1460368640758647e-07, 0.46866054205080399,
    0.27044031547117148,    0.20837947533364687,   0.29886430579594897,    0.20802580423755404,
    0.1736201304058263,     0.51334632548425185,   0.17306879118664742,    0.79593015359055674,
    0.63118910073851964,    0.79761755483506303,   0.2813711344188925,     0.49274138999379252,
    0.27814871351801013,    5.6784997410382359e-61};
static const double rp_fit[] = {5668.8298918671226,
                                5991.1440384516845,
                                15662.994200972365,
                                16119.197724371503,
                                -7761.4971004861827,
                                5,
                                4930,
                                4999};

typedef struct fit_ctx {
    ch_glm_family fam;
    const ch_table *t;
    const ch_design *d;
    const size_t *block_rows; /* n_blocks + 1 offsets into rows 0..n */
    const size_t *rows;
    const double *beta;
    ch_glm_ws ws;
} fit_ctx;

static int s_leaf(void *vctx, size_t b, double *out, ch_err *err)
{
    fit_ctx *c = vctx;
    size_t lo = c->block_rows[b], hi = c->block_rows[b + 1];
    return ch_glm_leaf(c->fam, c->d, c->t, c->rows + lo, hi - lo, c->beta, &c->ws, out, err);
}

/* Runs the whole IRLS with the rows cut into n_blocks even blocks reduced
 * by `workers` workers. The iteration state is left in *it (free it). */
static int s_fit(ch_glm_family fam, const ch_table *t, const ch_design *d, size_t n_blocks,
                 size_t workers, ch_glm_iter *it, ch_err *err)
{
    size_t p = d->p, m = p + 1, len = ch_glm_node_len(p);
    size_t *bb = malloc((n_blocks + 1) * sizeof *bb);
    size_t *rows = malloc(t->n_rows * sizeof *rows);
    double *beta = malloc(p * sizeof *beta);
    double *root = malloc(len * sizeof *root);
    for (size_t b = 0; b <= n_blocks; b++) {
        bb[b] = b * t->n_rows / n_blocks;
    }
    for (size_t i = 0; i < t->n_rows; i++) {
        rows[i] = i;
    }
    fit_ctx c = {fam, t, d, bb, rows, NULL, {0}};
    int rc = ch_glm_iter_init(it, fam, p, d->intercept, 1e-8, 25);
    while (rc == 0 && !it->done) {
        c.beta = ch_glm_iter_beta(it, beta) ? beta : NULL;
        ch_reduce *r = ch_reduce_new(n_blocks, len, ch_glm_combine, &m);
        for (size_t w = 0; w < workers && rc == 0; w++) {
            ch_buf part;
            ch_buf_init(&part);
            rc = ch_reduce_range(n_blocks, w * n_blocks / workers, (w + 1) * n_blocks / workers,
                                 len, s_leaf, &c, ch_glm_combine, &m, &part, err);
            if (rc == 0) {
                rc = ch_reduce_add(r, part.data, part.len, err);
            }
            ch_buf_free(&part);
        }
        if (rc == 0) {
            rc = ch_reduce_finish(r, root, err);
        }
        ch_reduce_destroy(&r);
        if (rc == 0) {
            rc = ch_glm_iter_step(it, root, err);
        }
    }
    ch_glm_ws_free(&c.ws);
    free(bb);
    free(rows);
    free(beta);
    free(root);
    return rc;
}

static ch_table *s_churn(const char *target)
{
    ch_err err = {0};
    ch_table *t = ch_table_read(ch_test_path("data/churn.csv"), CH_FORMAT_AUTO, &err);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        CHECK(t != NULL);
        return NULL;
    }
    CHECK(ch_table_set_target(t, target, NULL, &err) == 0);
    CHECK(t->n_rows == 5000);
    return t;
}

static ch_design *s_design(const ch_table *t, bool intercept)
{
    ch_schema *s = ch_schema_from_table(t, NULL);
    ch_design *d = s ? ch_design_new(s, intercept) : NULL;
    ch_schema_destroy(&s);
    CHECK(d != NULL);
    return d;
}

static void s_check_fit(const ch_glm_iter *it, const double *coef, const double *se,
                        const double *pv, const double *fit, size_t p)
{
    CHECK(it->converged);
    CHECK(it->iter == (uint32_t)fit[5]);
    CHECK(it->fit.rank == p);
    double worst = 0;
    for (size_t j = 0; j < p; j++) {
        double sej = sqrt(it->fit.cov_unscaled[j * p + j]);
        CHECK_REL(it->beta[j], coef[j], RTOL, 0.0);
        CHECK_REL(sej, se[j], RTOL, 0.0);
        /* p-values through the normal tail; relative 1e-6 covers the
         * propagation of 1e-8 in z for the smallest p-values */
        CHECK_REL(ch_stat_norm_two_sided(it->beta[j] / sej), pv[j], 1e-6, 1e-300);
        double e = fabs(it->beta[j] - coef[j]) / fabs(coef[j]);
        worst = e > worst ? e : worst;
    }
    printf("# worst relative coefficient difference to R: %.3g\n", worst);
    double dev = it->stats[CH_GLM_DEV], ll = it->stats[CH_GLM_LOGLIK];
    double n = it->stats[CH_GLM_NROWS];
    CHECK_REL(dev, fit[0], 1e-10, 0.0);
    CHECK_REL(it->null_deviance, fit[1], 1e-10, 0.0);
    CHECK_REL(-2 * ll + 2 * (double)p, fit[2], 1e-10, 0.0);
    CHECK_REL(-2 * ll + log(n) * (double)p, fit[3], 1e-10, 0.0);
    CHECK_REL(ll, fit[4], 1e-10, 0.0);
    CHECK(n - (double)p == fit[6]);
    CHECK(n - 1 == fit[7]);
    CHECK(it->n_path == it->iter);
}

static void test_logistic_matches_r(void)
{
    ch_table *t = s_churn("churn");
    if (!t) {
        return;
    }
    ch_design *d = s_design(t, true);
    size_t p = sizeof rb_coef / sizeof rb_coef[0];
    CHECK(d->p == p);
    CHECK_STR(d->names[54], "international_planyes");
    CHECK_STR(d->names[53], "area_codearea_code_510");
    ch_err err = {0};
    ch_glm_iter it;
    if (s_fit(CH_GLM_BINOMIAL, t, d, 1, 1, &it, &err) == 0) {
        s_check_fit(&it, rb_coef, rb_se, rb_p, rb_fit, p);
        CHECK(it.stats[CH_GLM_NBOUNDARY] == 0);
    } else {
        fprintf(stderr, "%s\n", err.msg);
        CHECK(!"fit");
    }
    /* 37 blocks over 1, 2 and 4 workers: the same bits, still R's answer */
    ch_glm_iter w[3];
    const size_t workers[3] = {1, 2, 4};
    for (size_t q = 0; q < 3; q++) {
        CHECK(s_fit(CH_GLM_BINOMIAL, t, d, 37, workers[q], &w[q], &err) == 0);
    }
    s_check_fit(&w[0], rb_coef, rb_se, rb_p, rb_fit, p);
    for (size_t q = 1; q < 3; q++) {
        CHECK(memcmp(w[q].beta, w[0].beta, p * sizeof(double)) == 0);
        CHECK(memcmp(w[q].fit.cov_unscaled, w[0].fit.cov_unscaled, p * p * sizeof(double)) == 0);
        CHECK(memcmp(w[q].stats, w[0].stats, sizeof w[0].stats) == 0);
    }
    for (size_t q = 0; q < 3; q++) {
        ch_glm_iter_free(&w[q]);
    }
    ch_glm_iter_free(&it);
    ch_design_destroy(&d);
    ch_table_destroy(&t);
}

static void test_poisson_matches_r(void)
{
    ch_table *t = s_churn("number_customer_service_calls");
    if (!t) {
        return;
    }
    ch_design *d = s_design(t, true);
    size_t p = sizeof rp_coef / sizeof rp_coef[0];
    CHECK(d->p == p);
    CHECK_STR(d->names[p - 1], "churnyes");
    ch_err err = {0};
    ch_glm_iter it;
    if (s_fit(CH_GLM_POISSON, t, d, 16, 3, &it, &err) == 0) {
        s_check_fit(&it, rp_coef, rp_se, rp_p, rp_fit, p);
    } else {
        fprintf(stderr, "%s\n", err.msg);
        CHECK(!"fit");
    }
    ch_glm_iter_free(&it);
    ch_design_destroy(&d);
    ch_table_destroy(&t);
}

/* R 4.2: 2*pt(-abs(t), df), pt(t, df) for (t, df) = (2.5, 10), (-0.3, 3),
 * (8, 163), (40, 4930), (1.1, 1.5); qt(0.975, c(163, 3, 1.5)),
 * qnorm(0.975), qnorm(1e-10), pf(24.3, 14, 163, lower = FALSE),
 * pf(0.7, 3, 10, lower = FALSE), 2 * pnorm(-11.75651), 2 * pnorm(-30).
 * Tolerance 1e-12 relative (R's algorithms differ: TOMS 708, AS 241). */
static void test_distributions(void)
{
    const double t[5][2] = {{2.5, 10}, {-0.3, 3}, {8, 163}, {40, 4930}, {1.1, 1.5}};
    const double two[5] = {0.031446844236608776, 0.78376329203991901, 2.191894983956037e-13,
                           2.9328135337109614e-303, 0.4168996246146337};
    const double lower[5] = {0.98427657788169554, 0.39188164601995951, 0.99999999999989042, 1,
                             0.79155018769268315};
    for (size_t i = 0; i < 5; i++) {
        /* the 1e-303 tail loses digits in lgamma(2465.5) ~ 1.7e4: 1e-10 */
        CHECK_REL(ch_stat_t_two_sided(t[i][0], t[i][1]), two[i], i == 3 ? 1e-10 : 1e-12, 0.0);
        CHECK_REL(ch_stat_pt(t[i][0], t[i][1]), lower[i], 1e-12, 0.0);
    }
    CHECK_REL(ch_stat_qt(0.975, 163), 1.9746246209663574, 1e-12, 0.0);
    CHECK_REL(ch_stat_qt(0.975, 3), 3.1824463052837078, 1e-12, 0.0);
    CHECK_REL(ch_stat_qt(0.975, 1.5), 6.0166631044279288, 1e-12, 0.0);
    CHECK_REL(ch_stat_qt(0.025, 3), -3.1824463052837078, 1e-12, 0.0);
    CHECK_REL(ch_stat_qnorm(0.975), 1.9599639845400536, 1e-14, 0.0);
    CHECK_REL(ch_stat_qnorm(1e-10), -6.3613409024040557, 1e-12, 0.0);
    CHECK_REL(ch_stat_pf_upper(24.3, 14, 163), 6.5365691882669264e-33, 1e-11, 0.0);
    CHECK_REL(ch_stat_pf_upper(0.7, 3, 10), 0.57318974700127723, 1e-12, 0.0);
    CHECK_REL(ch_stat_norm_two_sided(-11.75651), 6.5381362511531613e-32, 1e-12, 0.0);
    CHECK_REL(ch_stat_norm_two_sided(30), 9.8134278542963744e-198, 1e-12, 0.0);
    CHECK(isnan(ch_stat_t_two_sided(1, 0)));
    CHECK(isnan(ch_stat_pf_upper(NAN, 1, 2)));
    CHECK(ch_stat_pf_upper(-1, 1, 2) == 1);
    CHECK_STR(ch_stat_stars(0.0004), "***");
    CHECK_STR(ch_stat_stars(0.004), "**");
    CHECK_STR(ch_stat_stars(0.04), "*");
    CHECK_STR(ch_stat_stars(0.07), ".");
    CHECK_STR(ch_stat_stars(0.5), " ");
}

/* A column that is a combination of others is aliased (NA), the rest is
 * R's fit without it. */
static void test_aliased(void)
{
    ch_table *t = s_churn("churn");
    if (!t) {
        return;
    }
    long acc = ch_table_find(t, "account_length");
    double *alias = malloc(t->n_rows * sizeof *alias);
    for (size_t i = 0; i < t->n_rows; i++) {
        alias[i] = 2 * t->cols[acc].values[i];
    }
    CHECK(ch_table_add_column(t, "alias", CH_COL_NUMERIC, alias, NULL, 0) == 0);
    ch_design *d = s_design(t, true);
    size_t p = sizeof rb_coef / sizeof rb_coef[0];
    CHECK(d->p == p + 1);
    ch_err err = {0};
    ch_glm_iter it;
    if (s_fit(CH_GLM_BINOMIAL, t, d, 8, 2, &it, &err) == 0) {
        CHECK(it.fit.rank == p);
        CHECK(it.fit.aliased[p]);
        CHECK(isnan(it.beta[p]));
        CHECK(isnan(it.fit.cov_unscaled[p * (p + 1) + p]));
        for (size_t j = 0; j < p; j++) {
            CHECK(!it.fit.aliased[j]);
            CHECK_REL(it.beta[j], rb_coef[j], RTOL, 0.0);
            CHECK_REL(sqrt(it.fit.cov_unscaled[j * (p + 1) + j]), rb_se[j], RTOL, 0.0);
        }
        CHECK_REL(it.stats[CH_GLM_DEV], rb_fit[0], 1e-10, 0.0);
        CHECK(it.iter == 6);
    } else {
        fprintf(stderr, "%s\n", err.msg);
        CHECK(!"fit");
    }
    ch_glm_iter_free(&it);
    ch_design_destroy(&d);
    ch_table_destroy(&t);
}

/* A small table with x separating the classes: the fit stops with fitted
 * probabilities at the boundary, which is counted (the warning's cause). */
static ch_table *s_small(size_t n, double (*fx)(size_t), double (*fy)(size_t), bool categorical)
{
    ch_table *t = ch_table_new(n);
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        x[i] = fx(i);
        y[i] = fy(i);
    }
    CHECK(ch_table_add_column(t, "x", CH_COL_NUMERIC, x, NULL, 0) == 0);
    if (categorical) {
        char **lv = malloc(2 * sizeof *lv);
        lv[0] = strdup("no");
        lv[1] = strdup("yes");
        CHECK(ch_table_add_column(t, "y", CH_COL_CATEGORICAL, y, lv, 2) == 0);
    } else {
        CHECK(ch_table_add_column(t, "y", CH_COL_NUMERIC, y, NULL, 0) == 0);
    }
    ch_err err = {0};
    CHECK(ch_table_set_target(t, "y", NULL, &err) == 0);
    return t;
}

static double s_x(size_t i)
{
    return (double)i;
}

static double s_sep(size_t i)
{
    return i >= 20 ? 1 : 0;
}

static double s_negcount(size_t i)
{
    return i == 7 ? -1 : (double)(i % 4);
}

static void test_edge_cases(void)
{
    ch_err err = {0};
    ch_table *t = s_small(40, s_x, s_sep, true);
    ch_design *d = s_design(t, true);
    ch_glm_iter it;
    CHECK(s_fit(CH_GLM_BINOMIAL, t, d, 4, 2, &it, &err) == 0);
    CHECK(it.stats[CH_GLM_NBOUNDARY] > 0);
    CHECK(it.stats[CH_GLM_DEV] < 1e-6);
    printf("# separation: %u iterations, converged %d, %g boundary rows, slope %g\n", it.iter,
           it.converged, it.stats[CH_GLM_NBOUNDARY], it.beta[1]);
    ch_glm_iter_free(&it);
    ch_design_destroy(&d);
    ch_table_destroy(&t);

    /* a negative count is an error naming the row */
    t = s_small(20, s_x, s_negcount, false);
    d = s_design(t, true);
    CHECK(s_fit(CH_GLM_POISSON, t, d, 2, 1, &it, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "row 8");
    CHECK_HAS(err.msg, "negative");
    ch_glm_iter_free(&it);

    /* no usable rows */
    for (size_t i = 0; i < t->n_rows; i++) {
        t->target.values[i] = NAN;
    }
    CHECK(s_fit(CH_GLM_POISSON, t, d, 2, 1, &it, &err) == CH_EINVAL);
    CHECK_HAS(err.msg, "no complete rows");
    ch_glm_iter_free(&it);
    ch_design_destroy(&d);
    ch_table_destroy(&t);
}

int main(void)
{
    test_distributions();
    test_logistic_matches_r();
    test_poisson_matches_r();
    test_aliased();
    test_edge_cases();
    CH_TEST_END();
}
