/* test_cf.c: collaborative filtering (algorithms/cf) against reference
 * numbers from NumPy (bench/cf/reference.py, Debian's python3-numpy):
 * Surprise's similarity formulas and KNNBasic / KNNWithMeans / KNNBaseline
 * predictions on a 6 x 5 ratings matrix, and two ALS iterations (explicit
 * biased; implicit with one conjugate-gradient step and with exact solves)
 * from a fixed initialisation. Tolerance 1e-12 everywhere (the same
 * arithmetic in another order). Also: the sparse block tree gives the same
 * bytes for any cut of the blocks, the data rules (duplicates, scale, splits,
 * missing columns) and the ranking metrics on a hand-checked case; similar
 * items (als: cosine of item factors, item_knn: the stored lists) and the
 * `cohort predict` questions of query.c (users only, items only).
 * Run with --dump U I PER_USER GROUPS SEED to print generated ratings (the
 * example's and the benchmarks' data). */
#include "algorithms/cf/als.h"
#include "algorithms/cf/knn.h"
#include "algorithms/cf/model.h"
#include "algorithms/cf/query.h"
#include "algorithms/cf/similar.h"
#include "algorithms/cf/tree.h"
#include "tests/check.h"
#include "tests/unit/test_cf_gen.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static const char *s_csv = "user,item,rating\n1,1,5\n1,2,3\n1,3,4\n2,1,4\n2,3,5\n2,4,1\n3,2,2\n"
                           "3,4,5\n3,5,4\n4,1,1\n4,2,5\n4,5,3\n5,1,4\n5,3,3\n5,4,2\n5,5,1\n"
                           "6,2,4\n6,3,2\n6,5,5\n";

static ch_cf_spec s_spec(void)
{
    ch_cf_spec s = {.user_col = "user",
                    .item_col = "item",
                    .rating_col = "rating",
                    .time_col = "timestamp",
                    .holdout_k = 1,
                    .test_fraction = 0.2,
                    .seed = 1};
    return s;
}

static int s_load(const char *csv, const ch_cf_spec *spec, ch_cf_data *d, ch_err *err)
{
    ch_table *t = ch_csv_parse(csv, strlen(csv), "test.csv", err);
    if (!t) {
        return -1;
    }
    int rc = ch_cf_data_build(t, spec, d, err);
    ch_table_destroy(&t);
    return rc;
}

/* Neighbour lists of all rows through the tree, with the column blocks cut
 * at `cut` (two "workers"); returns the model. */
static ch_cf_model *s_knn_model(ch_cf_kind kind, ch_knn_sim sim, ch_knn_pred pred, long k)
{
    ch_err err = {0};
    ch_cf_data d;
    ch_cf_spec spec = s_spec();
    if (s_load(s_csv, &spec, &d, &err) != 0) {
        return NULL;
    }
    ch_cf_model *m = calloc(1, sizeof *m);
    m->kind = kind;
    m->knn = (ch_knn_params){.sim = sim,
                             .pred = pred,
                             .k = k,
                             .min_k = 1,
                             .min_support = 1,
                             .keep = 100,
                             .reg_u = 15,
                             .reg_i = 10,
                             .bsl_epochs = 10};
    m->eval_k = 10;
    m->top_n = 10;
    ch_knn_view v;
    ch_knn_view_make(&d, kind == CH_CF_USER_KNN, sim, &v);
    size_t rows = v.n_rows, B = 4;
    ch_knn_leaf L = {.v = &v, .sim = sim, .r0 = 0, .r1 = rows, .n_col_blocks = B};
    size_t ns = ch_knn_nstat(sim);
    L.acc = calloc(rows * rows * ns, sizeof *L.acc);
    L.mark = calloc(rows * rows, 1);
    L.touched = calloc(rows * rows, sizeof *L.touched);
    ch_cf_tree *tr = ch_cf_tree_new(B, ns, rows * rows - 1);
    ch_buf a, b;
    ch_buf_init(&a);
    ch_buf_init(&b);
    ch_cf_tree_range(B, 0, 1, ns, ch_knn_leaf_fn, &L, &a, &err);
    ch_cf_tree_range(B, 1, B, ns, ch_knn_leaf_fn, &L, &b, &err);
    CHECK(ch_cf_tree_add(tr, b.data, b.len, &err) == 0);
    CHECK(ch_cf_tree_add(tr, a.data, a.len, &err) == 0);
    CHECK(ch_cf_tree_add(tr, a.data, a.len, &err) == CH_EPROTO); /* blocks sent twice */
    ch_cf_node root;
    CHECK(ch_cf_tree_finish(tr, &root, &err) == 0);
    m->n_nb_rows = rows;
    m->nb_ptr = calloc(rows + 1, sizeof *m->nb_ptr);
    size_t len = 0, cap = 0;
    ch_knn_select(&m->knn, &v, 0, rows, &root, m->nb_ptr, &m->nb, &m->nb_sim, &len, &cap);
    const ch_cf_csr *R = kind == CH_CF_USER_KNN ? &d.by_user : &d.by_item;
    m->means = calloc(rows, sizeof *m->means);
    double s = 0;
    for (size_t q = 0; q < d.by_user.nnz; q++) {
        s += d.by_user.val[q];
    }
    m->mu = s / (double)d.by_user.nnz;
    for (size_t x = 0; x < rows; x++) {
        double t = 0;
        for (size_t q = R->ptr[x]; q < R->ptr[x + 1]; q++) {
            t += R->val[q];
        }
        m->means[x] = t / (double)(R->ptr[x + 1] - R->ptr[x]);
    }
    m->bu = calloc(d.users.n, sizeof *m->bu);
    m->bi = calloc(d.items.n, sizeof *m->bi);
    ch_knn_baselines(&d, m->mu, &m->knn, m->bu, m->bi);
    m->users = d.users;
    m->items = d.items;
    m->by_user = d.by_user;
    memset(&d.users, 0, sizeof d.users);
    memset(&d.items, 0, sizeof d.items);
    memset(&d.by_user, 0, sizeof d.by_user);
    ch_cf_model_ready(m);
    ch_cf_node_free(&root);
    ch_cf_tree_destroy(&tr);
    ch_buf_free(&a);
    ch_buf_free(&b);
    free(L.acc);
    free(L.mark);
    free(L.touched);
    ch_knn_view_free(&v);
    ch_cf_data_free(&d);
    return m;
}

static double s_sim(const ch_cf_model *m, size_t x, size_t y)
{
    for (size_t e = m->nb_ptr[x]; e < m->nb_ptr[x + 1]; e++) {
        if (m->nb[e] == y) {
            return m->nb_sim[e];
        }
    }
    return 0; /* only positive similarities are kept */
}

static void test_knn(void)
{
    /* item 1's similarities to items 1..5 and item 2 to item 5 (reference.py) */
    static const double cos_i[5] = {0, 0.6726727939963124, 0.9740492440449617, 0.9486832980505138,
                                    0.5368754921931592};
    static const double adj_i[5] = {0, 0, 0.5564622830616341, 0, 0};
    static const double jac_i[5] = {0, 0.3333333333333333, 0.6, 0.4, 0.3333333333333333};
    static const double cos_u[6] = {
        0, 0.975609756097561, 1.0, 0.6726727939963124, 0.9995120760870788, 0.8944271909999159};
    static const double adj_u[6] = {0, 0.6, 1.0, 0, 0.4472135954999579, 0};
    struct {
        ch_cf_kind kind;
        ch_knn_sim sim;
        const double *want;
        size_t n;
    } cases[] = {{CH_CF_ITEM_KNN, CH_KNN_COSINE, cos_i, 5},
                 {CH_CF_ITEM_KNN, CH_KNN_ADJ_COSINE, adj_i, 5},
                 {CH_CF_ITEM_KNN, CH_KNN_JACCARD, jac_i, 5},
                 {CH_CF_USER_KNN, CH_KNN_COSINE, cos_u, 6},
                 {CH_CF_USER_KNN, CH_KNN_ADJ_COSINE, adj_u, 6}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ch_cf_model *m = s_knn_model(cases[c].kind, cases[c].sim, CH_KNN_MEANS, 40);
        for (size_t y = 0; y < cases[c].n; y++) {
            CHECK_NEAR(s_sim(m, 0, y), cases[c].want[y], 1e-12);
        }
        if (cases[c].kind == CH_CF_ITEM_KNN && cases[c].sim == CH_KNN_COSINE) {
            CHECK_NEAR(s_sim(m, 1, 4), 0.9065195959149355, 1e-12);
        }
        void *v = m;
        ch_cf_model_destroy(&v);
    }
    /* Pearson: user 1 ~ user 5 = 1, every other pair of user 1 <= 0 */
    ch_cf_model *m = s_knn_model(CH_CF_USER_KNN, CH_KNN_PEARSON, CH_KNN_MEANS, 40);
    CHECK_NEAR(s_sim(m, 0, 4), 1.0, 1e-12);
    CHECK(m->nb_ptr[1] - m->nb_ptr[0] == 1);
    void *v = m;
    ch_cf_model_destroy(&v);
    /* shrinkage and min_support on one pair */
    ch_knn_params p = {.sim = CH_KNN_PEARSON, .min_support = 2, .shrinkage = 5};
    double st[6] = {2, 6, 8, 20, 26, 34}; /* items 1 and 2: common users 1 (5,3) and 4 (1,5) */
    CHECK_NEAR(ch_knn_similarity(&p, st, 4, 4), -0.16666666666666666, 1e-12);
    p.min_support = 3;
    CHECK(ch_knn_similarity(&p, st, 4, 4) == 0);

    /* predictions of (user, item) = (1,4), (3,1), (6,1), (4,3), k = 2 */
    static const long pu[4] = {0, 2, 5, 3}, pi[4] = {3, 0, 0, 2};
    struct {
        ch_cf_kind kind;
        ch_knn_sim sim;
        ch_knn_pred pred;
        double want[4];
    } pc[] = {
        {CH_CF_USER_KNN,
         CH_KNN_COSINE,
         CH_KNN_BASIC,
         {3.500366032232631, 4.5, 2.5484468192613106, 3.5484468192613106}},
        {CH_CF_USER_KNN,
         CH_KNN_COSINE,
         CH_KNN_MEANS,
         {4.416890353031052, 4.5, 3.043063839343387, 3.053829799179234}},
        {CH_CF_USER_KNN,
         CH_KNN_COSINE,
         CH_KNN_BASELINE,
         {3.6582564408800216, 4.509764529226539, 2.6279209470745117, 3.462391745134693}},
        {CH_CF_USER_KNN,
         CH_KNN_PEARSON,
         CH_KNN_MEANS,
         {3.5, 5.166666666666666, 3.6666666666666665, 3.0}},
        {CH_CF_USER_KNN,
         CH_KNN_PEARSON,
         CH_KNN_BASELINE,
         {2.275125214265427, 4.234412409570984, 3.4306914459029096, 3.311169533552312}},
        {CH_CF_ITEM_KNN,
         CH_KNN_COSINE,
         CH_KNN_BASIC,
         {3.9736659610102762, 3.755351528336161, 2.816984018500701, 2.9147732863506697}},
        {CH_CF_ITEM_KNN,
         CH_KNN_COSINE,
         CH_KNN_MEANS,
         {3.1403326276769423, 4.242949175096205, 2.8169840185007016, 2.9147732863506697}},
        {CH_CF_ITEM_KNN,
         CH_KNN_COSINE,
         CH_KNN_BASELINE,
         {3.7809806864347903, 3.8825927444938046, 2.8299783621358605, 2.9165094437885335}},
        {CH_CF_ITEM_KNN, CH_KNN_PEARSON, CH_KNN_MEANS, {2.6666666666666665, 3.5, 3.5, 3.5}},
    };
    for (size_t c = 0; c < sizeof pc / sizeof pc[0]; c++) {
        m = s_knn_model(pc[c].kind, pc[c].sim, pc[c].pred, 2);
        for (int q = 0; q < 4; q++) {
            CHECK_NEAR(ch_cf_predict_one(m, pu[q], pi[q]), pc[c].want[q], 1e-12);
        }
        if (c == 0) {
            CHECK_NEAR(m->mu, 3.3157894736842106, 1e-15);
            CHECK_NEAR(m->bu[0], 0.10543385152414188, 1e-12);
            CHECK_NEAR(m->bi[3], -0.14206748375563555, 1e-12);
            CHECK_NEAR(ch_cf_predict_one(m, -1, 2), m->mu, 0); /* cold start */
        }
        v = m;
        ch_cf_model_destroy(&v);
    }
}

static const double s_y0[10] = {0.1, -0.2, 0.3, 0.05, -0.15, 0.25, 0.2, 0.2, -0.05, -0.3};

/* Two ALS iterations on the tiny matrix: users from their CSR rows, items
 * from their CSC columns. The items are solved in one range [0, 5) and
 * again cut as [0, 2) + [2, 5) (as two workers would): same bytes. */
static void s_als(const ch_als_params *p, double *X, double *bu, double *Y, double *bi)
{
    ch_err err = {0};
    ch_cf_data d;
    ch_cf_spec spec = s_spec();
    CHECK(s_load(s_csv, &spec, &d, &err) == 0);
    size_t nu = 6, ni = 5, f = 2;
    bool biased = p->biased && !p->implicit;
    double mu = biased ? 3.3157894736842106 : 0;
    memcpy(Y, s_y0, sizeof s_y0);
    memset(X, 0, nu * f * sizeof *X);
    memset(bu, 0, nu * sizeof *bu);
    memset(bi, 0, ni * sizeof *bi);
    double G[4], Y2[10], bi2[5];
    for (int it = 0; it < 2; it++) {
        ch_als_gram(Y, ni, f, G);
        CHECK(ch_als_solve_rows(p, &d.by_user, 0, nu, Y, biased ? bi : NULL, mu, G, X,
                                biased ? bu : NULL) == 0);
        ch_als_gram(X, nu, f, G);
        memcpy(Y2, Y, sizeof Y2);
        CHECK(ch_als_solve_rows(p, &d.by_item, 0, 2, X, biased ? bu : NULL, mu, G, Y2,
                                biased ? bi2 : NULL) == 0);
        CHECK(ch_als_solve_rows(p, &d.by_item, 2, ni, X, biased ? bu : NULL, mu, G, Y2 + 2 * f,
                                biased ? bi2 + 2 : NULL) == 0);
        CHECK(ch_als_solve_rows(p, &d.by_item, 0, ni, X, biased ? bu : NULL, mu, G, Y,
                                biased ? bi : NULL) == 0);
        CHECK(memcmp(Y, Y2, sizeof Y2) == 0);
        CHECK(!biased || memcmp(bi, bi2, sizeof bi2) == 0);
    }
    ch_cf_data_free(&d);
}

static void test_als(void)
{
    double X[12], bu[6], Y[10], bi[5];
    ch_als_params p = {.f = 2, .lambda = 0.1, .biased = true};
    s_als(&p, X, bu, Y, bi);
    static const double wx[12] = {-0.6272098755115264, -0.8402394515866781, -2.4156704210304656,
                                  -0.9878855767060187, -2.2398971370762553, 0.856782715971394,
                                  0.637182527673181,   3.1691586317477296,  0.9809995927222431,
                                  0.34295100727040734, 0.9258100819876407,  -2.763235749071209};
    static const double wbu[6] = {0.519240118083648,  0.32613845177299916, 0.8494745722700214,
                                  0.4869058316531475, -0.7128166874016897, 0.38302332210948475};
    static const double wy[10] = {0.750840806375529,    -1.2602429501823704, 0.9888867509220765,
                                  0.19504292749561514,  -0.5351437218257272, 0.6467324570972095,
                                  -0.10694857649345667, 1.775015662476548,   -0.1708924397967301,
                                  -0.37309037704655573};
    static const double wbi[5] = {0.8071525981602504, -0.07184861419576477, 0.5758244705470663,
                                  -1.0255446287057841, -0.15090789200439514};
    for (int k = 0; k < 12; k++) {
        CHECK_NEAR(X[k], wx[k], 1e-12);
    }
    for (int k = 0; k < 6; k++) {
        CHECK_NEAR(bu[k], wbu[k], 1e-12);
    }
    for (int k = 0; k < 10; k++) {
        CHECK_NEAR(Y[k], wy[k], 1e-12);
    }
    for (int k = 0; k < 5; k++) {
        CHECK_NEAR(bi[k], wbi[k], 1e-12);
    }
    /* implicit, alpha 2, one CG step (differs from the exact solve) */
    ch_als_params q = {.f = 2, .lambda = 0.1, .alpha = 2, .implicit = true, .cg_steps = 1};
    s_als(&q, X, bu, Y, bi);
    static const double cx[12] = {2.0618422209919642,  0.41822247885882985, 1.5761760399601303,
                                  1.5778728492101064,  2.73465407952032,    -0.7771582732853293,
                                  2.2461223962154975,  -1.8700871642538508, 2.1372259356709646,
                                  0.23844376937926476, 2.5187508049269347,  -1.286491052653358};
    static const double cy[10] = {0.4125229802063676,   0.09514055076362521, 0.4022119672963011,
                                  -0.01472333805177448, 0.4156461838890183,  0.24983628264558216,
                                  0.3867440149180523,   0.20970109725826613, 0.233202769254398,
                                  -0.3755763105194257};
    for (int k = 0; k < 12; k++) {
        CHECK_NEAR(X[k], cx[k], 1e-12);
    }
    for (int k = 0; k < 10; k++) {
        CHECK_NEAR(Y[k], cy[k], 1e-12);
    }
    q.cg_steps = 0;
    s_als(&q, X, bu, Y, bi);
    static const double ex[12] = {2.344008746155055,   -0.20056329891818098, 1.0828815107920884,
                                  1.4423573463667587,  3.022849726853062,    -1.1102856968172847,
                                  2.877318152744597,   -1.869634528147827,   2.4429712539441786,
                                  -0.2774705328441684, 2.974563775632613,    -1.6696125200250655};
    static const double ey[10] = {0.4404510014600048,    0.3544414678378354,  0.33291188623544593,
                                  -0.021866589153257916, 0.44591938414488996, 0.35439904146210033,
                                  0.43058274559452037,   0.40293805593392873, 0.2828223705058159,
                                  -0.10728368604806436};
    for (int k = 0; k < 12; k++) {
        CHECK_NEAR(X[k], ex[k], 1e-12);
    }
    for (int k = 0; k < 10; k++) {
        CHECK_NEAR(Y[k], ey[k], 1e-12);
    }
}

/* A leaf of block b: keys {b, b+3, 7} with values b+1, (b+1)/3, 0.1 b. */
static int s_leaf(void *ctx, size_t b, ch_cf_node *out, ch_err *err)
{
    (void)ctx;
    (void)err;
    out->n = 3;
    out->key = malloc(3 * sizeof *out->key);
    out->val = malloc(6 * sizeof *out->val);
    uint64_t k[3] = {b, b + 3, 7};
    if (b + 3 >= 7) {
        k[1] = 8 + b;
        k[2] = 7;
        uint64_t tmp = k[1];
        k[1] = k[2];
        k[2] = tmp;
    }
    for (int j = 0; j < 3; j++) {
        out->key[j] = k[j];
        out->val[2 * j] = (double)b + 1 + 0.1 * j;
        out->val[2 * j + 1] = ((double)b + 1) / 3 - 0.7 * j;
    }
    return 0;
}

static void test_tree(void)
{
    ch_err err = {0};
    size_t B = 7;
    size_t cuts[][5] = {{0, 7}, {0, 3, 7}, {0, 1, 2, 5, 7}, {0, 4, 5, 6, 7}};
    size_t ncut[] = {2, 3, 5, 5};
    ch_cf_node ref = {0};
    for (int c = 0; c < 4; c++) {
        ch_cf_tree *t = ch_cf_tree_new(B, 2, 100);
        for (size_t s = ncut[c] - 1; s-- > 0;) { /* arrival order reversed */
            ch_buf b;
            ch_buf_init(&b);
            CHECK(ch_cf_tree_range(B, cuts[c][s], cuts[c][s + 1], 2, s_leaf, NULL, &b, &err) == 0);
            CHECK(ch_cf_tree_add(t, b.data, b.len, &err) == 0);
            if (s == 0 && b.len > 20) {
                CHECK(ch_cf_tree_add(t, b.data, b.len - 3, &err) == CH_EPROTO); /* truncated */
            }
            ch_buf_free(&b);
        }
        ch_cf_node root;
        CHECK(ch_cf_tree_finish(t, &root, &err) == 0);
        if (c == 0) {
            ref = root;
            CHECK(root.n == 11);
        } else {
            CHECK(root.n == ref.n && memcmp(root.key, ref.key, ref.n * 8) == 0 &&
                  memcmp(root.val, ref.val, ref.n * 16) == 0);
            ch_cf_node_free(&root);
        }
        ch_cf_tree_destroy(&t);
    }
    ch_cf_tree *t = ch_cf_tree_new(B, 2, 100);
    ch_buf b;
    ch_buf_init(&b);
    ch_cf_tree_range(B, 0, 3, 2, s_leaf, NULL, &b, &err);
    ch_cf_tree_add(t, b.data, b.len, &err);
    ch_cf_node root;
    CHECK(ch_cf_tree_finish(t, &root, &err) == CH_EINVAL); /* blocks 3..6 missing */
    ch_buf_free(&b);
    ch_cf_tree_destroy(&t);
    ch_cf_node_free(&ref);
}

static void test_data(void)
{
    ch_err err = {0};
    ch_cf_data d;
    ch_cf_spec s = s_spec();
    const char *dup = "user,item,rating,timestamp\na,x,1,5\na,x,3,2\nb,y,4,1\na,y,2,1\n";
    CHECK(s_load(dup, &s, &d, &err) == 0);
    double r = 0;
    CHECK(d.by_user.nnz == 3 && d.n_dups == 1);
    CHECK(ch_cf_csr_has(&d.by_user, 0, 0, &r) && r == 1); /* last = latest time (5) */
    CHECK_STR(d.users.label[1], "b");
    ch_cf_data_free(&d);
    s.duplicates = CH_CF_DUP_MEAN;
    CHECK(s_load(dup, &s, &d, &err) == 0 && ch_cf_csr_has(&d.by_user, 0, 0, &r) && r == 2);
    ch_cf_data_free(&d);
    s.duplicates = CH_CF_DUP_SUM;
    CHECK(s_load(dup, &s, &d, &err) == 0 && ch_cf_csr_has(&d.by_user, 0, 0, &r) && r == 4);
    ch_cf_data_free(&d);
    s.duplicates = CH_CF_DUP_ERROR;
    CHECK(s_load(dup, &s, &d, &err) == CH_EINVAL && strstr(err.msg, "rated item 'x' 2 times"));
    s = s_spec();
    s.has_scale = true;
    s.scale_lo = 1;
    s.scale_hi = 4;
    CHECK(s_load(s_csv, &s, &d, &err) == CH_EINVAL &&
          strstr(err.msg, "outside model.rating_scale"));
    s = s_spec();
    s.rating_col = "stars";
    CHECK(s_load(s_csv, &s, &d, &err) == CH_EINVAL && strstr(err.msg, "no column 'stars'"));
    s = s_spec();
    s.split = CH_CF_SPLIT_TIME;
    CHECK(s_load(s_csv, &s, &d, &err) == CH_EINVAL && strstr(err.msg, "needs a time column"));
    /* leave-one-out: every user with >= 2 ratings loses exactly one */
    s = s_spec();
    s.split = CH_CF_SPLIT_LEAVE_K;
    CHECK(s_load(s_csv, &s, &d, &err) == 0);
    CHECK(d.n_test == 6 && d.by_user.nnz == 13);
    for (size_t u = 0; u < 6; u++) {
        size_t c = 0;
        for (size_t k = 0; k < d.n_test; k++) {
            c += d.test_user[k] == u;
        }
        CHECK(c == 1);
    }
    ch_cf_data_free(&d);
    /* by time: the latest 25% */
    s.split = CH_CF_SPLIT_TIME;
    s.test_fraction = 0.25;
    CHECK(s_load(dup, &s, &d, &err) == 0 && d.n_test == 1 && d.test_item[0] == 0);
    ch_cf_data_free(&d);
}

static void test_metrics(void)
{
    /* one user, four items, f = 1: scores 4, 3, 2, 1; item 0 seen */
    ch_cf_model m = {0};
    m.kind = CH_CF_ALS;
    m.implicit = true;
    m.f = 1;
    double X[1] = {1}, Y[4] = {4, 3, 2, 1};
    m.X = X;
    m.Y = Y;
    m.users.n = 1;
    m.items.n = 4;
    size_t ptr[2] = {0, 1};
    uint32_t idx[1] = {0};
    double val[1] = {1};
    m.by_user = (ch_cf_csr){.n_rows = 1, .n_cols = 4, .nnz = 1, .ptr = ptr, .idx = idx, .val = val};
    uint32_t pop[4] = {0, 1, 2, 3};
    m.popular = pop;
    m.eval_k = 2;
    long u[2] = {0, 0}, i[2] = {2, 3};
    double r[2] = {1, 1}, out[CH_CF_NMET];
    CHECK(ch_cf_evaluate(&m, 2, u, i, r, true, 0, out) == 0);
    CHECK(isnan(out[CH_CF_M_RMSE]));
    CHECK_NEAR(out[CH_CF_M_PRECISION], 0.5, 1e-15);
    CHECK_NEAR(out[CH_CF_M_RECALL], 0.5, 1e-15);
    CHECK_NEAR(out[CH_CF_M_NDCG], (1 / log2(3)) / (1 + 1 / log2(3)), 1e-15);
    CHECK_NEAR(out[CH_CF_M_MAP], 0.25, 1e-15);
    CHECK_NEAR(out[CH_CF_M_HIT], 1, 0);
    CHECK_NEAR(out[CH_CF_M_COVERAGE], 0.5, 1e-15);
    uint32_t top[4];
    double ts[4], sc[4];
    uint8_t cand[4];
    CHECK(ch_cf_topn(&m, 0, 4, top, ts, sc, cand) == 3 && top[0] == 1 && top[2] == 3);
    CHECK(ch_cf_topn(&m, -1, 2, top, ts, sc, cand) == 2 && top[0] == 0); /* cold: popular */
}

/* A tiny implicit ALS model over categorical ids: users ann, bob, cy;
 * items v..z with factors (f = 2) chosen so the cosines are known. */
static ch_cf_model *s_als_model(void)
{
    ch_err err = {0};
    ch_cf_data d;
    ch_cf_spec spec = s_spec();
    const char *csv = "user,item,rating\nann,w,1\nbob,v,1\ncy,x,1\ncy,y,1\ncy,z,1\nann,z,1\n";
    if (s_load(csv, &spec, &d, &err) != 0) {
        return NULL;
    }
    ch_cf_model *m = calloc(1, sizeof *m);
    m->kind = CH_CF_ALS;
    m->implicit = true;
    m->f = 2;
    m->top_n = 3;
    m->user_col = strdup("user");
    m->item_col = strdup("item");
    m->rating_col = strdup("rating");
    /* v (1,0); w (2,0.1): cos 2/sqrt(4.01); x (1,1): cos 1/sqrt(2) with v,
     * 2.1/sqrt(8.02) with w;
     * y (-1,0): negative; z (0,0): no direction */
    static const double Y[10] = {1, 0, 2, 0.1, 1, 1, -1, 0, 0, 0};
    static const double X[6] = {1, 0, 0, 1, 1, 1};
    m->Y = malloc(sizeof Y);
    m->X = malloc(sizeof X);
    memcpy(m->Y, Y, sizeof Y);
    memcpy(m->X, X, sizeof X);
    m->users = d.users;
    m->items = d.items;
    m->by_user = d.by_user;
    memset(&d.users, 0, sizeof d.users);
    memset(&d.items, 0, sizeof d.items);
    memset(&d.by_user, 0, sizeof d.by_user);
    ch_cf_data_free(&d);
    ch_cf_model_ready(m);
    return m;
}

/* The answer of ch_cf_predict_csv to the CSV question q: the return code,
 * the output in out (caller frees), the message in err. */
static int s_ask(const ch_cf_model *m, const char *q, char **out, ch_err *err)
{
    ch_table *t = ch_csv_parse(q, strlen(q), "q.csv", err);
    CHECK(t != NULL);
    ch_buf b;
    ch_buf_init(&b);
    int rc = t ? ch_cf_predict_csv(m, t, &b, err) : -1;
    *out = strdup(ch_buf_str(&b));
    ch_buf_free(&b);
    ch_table_destroy(&t);
    return rc;
}

static char *s_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s = calloc(1, 1 << 16);
    if (f) {
        size_t n = fread(s, 1, (1 << 16) - 1, f);
        s[n] = 0;
        fclose(f);
    }
    return s;
}

static void test_similar_query(void)
{
    ch_err err = {0};
    ch_cf_model *m = s_als_model();
    CHECK(m != NULL);
    if (!m) {
        return;
    }
    CHECK_STR(m->users.label[1], "bob");
    CHECK_STR(m->items.label[0], "v");
    CHECK(ch_cf_has_similar(m));
    uint32_t top[5];
    double sim[5];
    /* v: w then x; y (negative cosine) and z (zero vector) are not similar */
    CHECK(ch_cf_similar(m, NULL, 0, 5, top, sim) == 2);
    CHECK(top[0] == 1 && top[1] == 2);
    CHECK_NEAR(sim[0], 2 / sqrt(4.01), 1e-15);
    CHECK_NEAR(sim[1], 1 / sqrt(2), 1e-15);
    CHECK(ch_cf_similar(m, NULL, 0, 1, top, sim) == 1 && top[0] == 1); /* n caps */
    CHECK(ch_cf_similar(m, NULL, 4, 5, top, sim) == 0);                /* z: none */
    double *unit = ch_cf_unit_factors(m);
    CHECK(unit != NULL && ch_cf_similar(m, unit, 0, 5, top, sim) == 2 && top[0] == 1);
    CHECK_NEAR(sim[0], 2 / sqrt(4.01), 1e-15);
    free(unit);
    /* similar_items.csv: the same lists, blockwise */
    char path[] = "/tmp/test_cf_simXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK(ch_cf_write_similar(m, path, &err) == 0);
    char *file = s_read_file(path);
    unlink(path);
    CHECK_STR(file, "item,rank,neighbour,similarity\n"
                    "v,1,w,0.998752\nv,2,x,0.707107\n"
                    "w,1,v,0.998752\nw,2,x,0.741536\n"
                    "x,1,w,0.741536\nx,2,v,0.707107\n");
    free(file);

    /* users only: bob is code 0 in the question, 1 in the model (matched by
     * label); bob has v */
    char *out = NULL;
    CHECK(s_ask(m, "user\nbob\nnobody\n", &out, &err) == 0);
    /* bob = (0,1): w 0.1, x 1, y 0, z 0 -> x, w, then y (id order) */
    CHECK_STR(out, "user,rank,item,score\nbob,1,x,1\nbob,2,w,0.1\nbob,3,y,0\n"
                   /* unknown: the popularity list (z twice, then v, w...) */
                   "nobody,1,z,0\nnobody,2,v,0\nnobody,3,w,0\n");
    free(out);
    /* items only */
    CHECK(s_ask(m, "item,extra\nx,1\nnope,2\n", &out, &err) == 0);
    CHECK_STR(out, "item,rank,neighbour,similarity\nx,1,w,0.741536\nx,2,v,0.707107\n");
    free(out);
    /* both columns, or neither: an ordinary prediction table */
    CHECK(s_ask(m, "user,item\nbob,v\n", &out, &err) == 1 && out[0] == 0);
    free(out);
    CHECK(s_ask(m, "who\nbob\n", &out, &err) == 1);
    free(out);
    /* a missing id names the row */
    CHECK(s_ask(m, "user,x\nbob,1\n,2\n", &out, &err) == CH_EINVAL &&
          strstr(err.msg, "row 2 has no user"));
    free(out);
    ch_cf_model_destroy((void **)&m);

    /* item_knn: the stored lists; numeric ids matched as printed */
    m = s_knn_model(CH_CF_ITEM_KNN, CH_KNN_COSINE, CH_KNN_MEANS, 40);
    m->user_col = strdup("user");
    m->item_col = strdup("item");
    m->top_n = 2;
    long c = ch_cf_similar(m, NULL, 0, 10, top, sim);
    CHECK(c > 0 && (size_t)c == m->nb_ptr[1] - m->nb_ptr[0]);
    for (long e = 0; e < c; e++) {
        CHECK(top[e] == m->nb[e] && sim[e] == m->nb_sim[e]);
    }
    CHECK(s_ask(m, "user\n3\n", &out, &err) == 0);
    uint32_t want[2];
    double ws[2], sc[5];
    uint8_t cand[5];
    CHECK(ch_cf_topn(m, 2, 2, want, ws, sc, cand) == 2);
    char line[256];
    snprintf(line, sizeof line, "user,rank,item,score\n3,1,%s,%.6g\n3,2,%s,%.6g\n",
             m->items.label[want[0]], ws[0], m->items.label[want[1]], ws[1]);
    CHECK_STR(out, line);
    free(out);
    ch_cf_model_destroy((void **)&m);

    /* user_knn names no similar items */
    m = s_knn_model(CH_CF_USER_KNN, CH_KNN_COSINE, CH_KNN_MEANS, 40);
    m->user_col = strdup("user");
    m->item_col = strdup("item");
    CHECK(!ch_cf_has_similar(m) && ch_cf_similar(m, NULL, 0, 3, top, sim) == 0);
    CHECK(s_ask(m, "item\n1\n", &out, &err) == CH_EINVAL &&
          strstr(err.msg, "user_knn keeps neighbours of users only"));
    free(out);
    ch_cf_model_destroy((void **)&m);
}

int main(int argc, char **argv)
{
    if (argc == 7 && strcmp(argv[1], "--dump") == 0) {
        cf_gen(stdout, strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10),
               strtoul(argv[4], NULL, 10), strtoul(argv[5], NULL, 10), strtoull(argv[6], NULL, 10));
        return 0;
    }
    test_knn();
    test_als();
    test_tree();
    test_data();
    test_metrics();
    test_similar_query();
    printf("%d passed, %d failed\n", ch_t_pass, ch_t_fail);
    return ch_t_fail != 0;
}
