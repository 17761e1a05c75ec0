/* test_mlp_layers.c: every MLP layer, loss and optimizer against PyTorch
 * 1.13 (Debian python3-torch) numbers, plus finite-difference gradient
 * checks.
 *
 * The reference numbers were printed by bench/mlp/torch_reference.py; its
 * inputs are closed formulas (s * sin(a i + b) or cos) recomputed here, so
 * only the outputs are stored. Tolerance: 1e-5 relative (floor 1e-5) for
 * float32 kernels; the optimizer and network steps 2e-5 relative to
 * max(|ref|, 0.05), i.e. 1e-6 absolute near zero, where a parameter of
 * size 0.3 minus three steps cancels. Finite differences
 * run the float kernels with step 1e-2 and accept 2e-2 relative error
 * (float32 rounding of the differenced loss dominates). */
#include "algorithms/mlp/net.h"
#include "algorithms/mlp/nn.h"
#include "algorithms/mlp/optim.h"
#include "algorithms/mlp/schedule.h"
#include "algorithms/mlp/trainer.h"
#include "tests/check.h"

/* clang-format off */
static const double ref_dense_y[15] = {0.746374249, -0.316583335, -0.128933057, 0.346706569, -0.646483958, 0.990984678, -0.91083312, 0.670369029, -0.463169754, -0.0230844356, -0.384800196, 0.200058803, 0.0946612954, -0.562721431, 0.727504909};
static const double ref_dense_dx[12] = {-0.17745477, 0.249895588, 0.484199494, 0.344455183, 0.143759593, -0.210285947, -0.401883841, -0.283023, -0.0760169849, 0.120873131, 0.22438772, 0.154560879};
static const double ref_dense_dw[20] = {-0.835782528, -0.745343685, -0.554026067, -0.287723511, -0.764319777, -0.854379654, -0.828803241, -0.691052198, -0.483138472, -0.728985906, -0.876168549, -0.904765904, -0.0693908036, -0.403568804, -0.683125615, -0.870224595, 0.363396764, 0.0325819515, -0.302642673, -0.596906066};
static const double ref_dense_db[5] = {0.759965479, 0.690991104, 0.432418585, 0.0551964641, -0.33717075};
static const double ref_relu_y[12] = {1.19856381, 2.38775206, 2.22982168, 0.813873351, 0, 0, 0, 0, 0.919901252, 2.27864528, 2.35182643, 1.09815717};
static const double ref_relu_dx[12] = {0.921060979, 0.597833991, 0.110569783, -0.407033205, 0, 0, 0, 0, -0.0723257735, 0.441806197, 0.834712803, 0.998585999};
static const double ref_gelu_y[12] = {1.06031084, 2.3675139, 2.2011025, 0.644702673, -0.153126314, -0.0226824097, -0.0249290261, -0.161944255, 0.755411685, 2.25279617, 2.32985854, 0.948733151};
static const double ref_gelu_dx[12] = {1.02955902, 0.625685692, 0.117332928, -0.417326599, 0.0786881596, 0.0507679991, 0.0496886894, 0.0410571657, -0.0767786801, 0.466740519, 0.876209795, 1.10209239};
static const double ref_tanh_y[12] = {0.833216012, 0.983273387, 0.977131546, 0.671721458, -0.786139905, -0.981526077, -0.979905367, -0.743308067, 0.725850701, 0.979236901, 0.982038558, 0.799836099};
static const double ref_tanh_dx[12] = {0.281615406, 0.0198322125, 0.00499929581, -0.223375872, -0.310534716, -0.0364531167, -0.0360229127, -0.253555208, -0.0342202708, 0.0181560665, 0.0297160018, 0.359752804};
static const double ref_sigmoid_y[12] = {0.768269181, 0.915888608, 0.902895689, 0.692934275, 0.257071614, 0.0880539268, 0.091523245, 0.277312577, 0.715021968, 0.907092988, 0.913079262, 0.749914646};
static const double ref_sigmoid_dx[12] = {0.163977996, 0.0460551381, 0.00969421305, -0.0866070464, -0.155262306, -0.0799638331, -0.0752834603, -0.113554999, -0.0147375008, 0.0372333489, 0.0662474185, 0.187277481};
static const double ref_ln_y[15] = {-0.109752215, 1.21246481, 1.17876959, -0.215525597, -1.50896561, -1.04805076, -1.10268366, -0.190069586, 0.809183955, 1.10617864, 1.80279529, 0.650602937, -0.840611637, -1.21526265, -0.448743254};
static const double ref_ln_dx[15] = {0.858765244, 0.199430332, -0.375679284, -0.497993976, -0.18452248, 0.0739556104, -0.0214900374, -0.0751363635, -0.0460544825, 0.0687252432, -0.103794634, 0.297740996, 0.337174118, -0.0200625062, -0.511058092};
static const double ref_ln_dgamma[5] = {2.37138891, 1.99915648, -0.415298015, -0.598079443, 1.97745717};
static const double ref_ln_dbeta[5] = {0.759965479, 0.690991104, 0.432418585, 0.0551964641, -0.33717075};
static const double ref_xent_loss[1] = {6.34950781};
static const double ref_xent_dz[12] = {-0.885268092, 0.328269184, 0.556998849, 0.637090087, 0.277478874, -0.914568961, 0.473457456, -0.746617436, 0.27316007, 0.0711762533, 0.225156799, -0.296333075};
static const double ref_bce_loss[1] = {5.11706543};
static const double ref_bce_dz[5] = {-0.291820049, 0.950562775, -0.142409921, -0.790436983, 0.0474362783};
static const double ref_mse_loss[1] = {6.2912364};
static const double ref_mse_dz[5] = {-1.13035083, 2.4586916, 3.64372587, 1.98653173, -0.786792397};
static const double ref_opt_sgd[18] = {-0.0656135827, 0.115193114, 0.279979289, 0.373311579, 0.358617365, 0.233592525, -0.148081526, 0.0883280411, 0.321314007, 0.463345498, 0.454938561, 0.290841341, -0.210094437, 0.0911596641, 0.3876203, 0.561881423, 0.539293647, 0.321283787};
static const double ref_opt_momentum[18] = {-0.0656135827, 0.115193114, 0.279979289, 0.373311579, 0.358617365, 0.233592525, -0.234088778, 0.0395483822, 0.332669377, 0.529441059, 0.544627666, 0.361889243, -0.447643369, -0.0256514717, 0.446385384, 0.768427372, 0.796302319, 0.507727683};
static const double ref_opt_nesterov[18] = {-0.15162082, 0.0664134547, 0.291334659, 0.43940714, 0.448306441, 0.304640442, -0.385553002, -0.0284391977, 0.380068868, 0.669831991, 0.711866498, 0.47722128, -0.639321566, -0.0840699747, 0.548608959, 0.983069181, 1.02224863, 0.638570607};
static const double ref_opt_adam[18] = {0.0199500248, 0.159392729, 0.277362198, 0.309872061, 0.268962801, 0.16465041, 0.010014575, 0.150081277, 0.286434919, 0.319873422, 0.278952807, 0.174445078, 0.000301908702, 0.14318341, 0.295615047, 0.329901338, 0.288872153, 0.183580667};
static const double ref_opt_adamw[18] = {0.0199200772, 0.159223333, 0.277094841, 0.30957219, 0.268703848, 0.164495766, 0.00996466447, 0.149756789, 0.285907388, 0.319264144, 0.278425217, 0.174126834, 0.000241891481, 0.142730191, 0.294812709, 0.328972906, 0.288066566, 0.183092698};
static const double ref_net_loss[1] = {2.72371221};
static const double ref_net_grad[53] = {0.104689062, 0.182352111, 0.235334679, 0.256465763, 0.113917567, -0.333261818, -0.735335767, -1.03788555, -0.139112458, -0.361249715, -0.534493506, -0.635396183, 0.0163309425, 0.270149857, 0.487405241, 0.638692677, -0.0958250985, 0.24200964, 0.547089517, 0.778123379, -0.438014388, 1.25436842, 0.472295731, -0.194345593, -1.09430432, -0.272652149, 0.268247217, -0.0581001714, 0.0716609284, -0.291036218, -0.182834595, 0.688265502, 0.261465251, -0.00563083962, -0.261568129, -0.253101856, 0.130711243, -0.503717959, 0.230937317, 0.415950596, 0.443158835, -0.278556108, -0.0110382112, 0.127418891, -0.77725023, -0.19005692, 0.147844836, 0.514756203, -0.358356208, 0.361299634, 0.18085289, -0.43919751, 0.25834462};
static const double ref_net_after2[53] = {0.0793212056, 0.427852958, 0.43042323, 0.0850587785, -0.341432154, -0.479700834, -0.271868676, 0.161392301, 0.485453397, 0.449846625, 0.0821743309, -0.33356151, -0.516065657, -0.275501221, 0.162505716, 0.459531844, 0.425999761, -0.000863874331, -0.402669638, -0.508737624, 0.119941503, 0.00680535473, -0.105574667, -0.0525824577, 0.066747576, 1.02000391, 1.14855003, 1.20154881, 1.00830746, 0.868645608, 0.11998193, 0.0341137089, -0.0612902753, -0.0793447569, -0.0453667939, 0.307619274, 0.532682121, 0.598402143, 0.334265292, -0.0430388451, -0.410362363, -0.569110274, -0.527467072, -0.266387999, 0.166588098, 0.496206909, 0.580063879, 0.444265783, 0.147869721, -0.283792943, 0.0583854839, 0.119121455, 0.0398871489};
/* clang-format on */

#define TOL 1e-5

static void s_f(float *v, size_t n, double a, double b, double s, int cosine)
{
    for (size_t i = 0; i < n; i++) {
        v[i] = (float)(s * (cosine ? cos(a * (double)i + b) : sin(a * (double)i + b)));
    }
}

/* |got - ref| <= tol * max(|ref|, floor) elementwise */
static void s_cmp_floor(const float *got, const double *ref, size_t n, double tol, double floor)
{
    for (size_t i = 0; i < n; i++) {
        CHECK_REL(got[i], ref[i], tol, floor);
    }
}

static void s_cmp(const float *got, const double *ref, size_t n, double tol)
{
    s_cmp_floor(got, ref, n, tol, 1e-5);
}

static void test_dense(void)
{
    float x[12], w[20], b[5], dy[15], y[15], dx[12], dw[20] = {0}, db[5] = {0};
    s_f(x, 12, 0.37, 0.1, 1, 0);
    s_f(w, 20, 0.91, 0.2, 0.5, 0);
    s_f(b, 5, 1.3, 0, 0.1, 1);
    s_f(dy, 15, 0.53, 0.4, 1, 1);
    ch_nn_dense_forward(y, x, w, b, 3, 4, 5);
    ch_nn_dense_backward(dx, dw, db, dy, x, w, 3, 4, 5);
    s_cmp(y, ref_dense_y, 15, TOL);
    s_cmp(dx, ref_dense_dx, 12, TOL);
    s_cmp(dw, ref_dense_dw, 20, TOL);
    s_cmp(db, ref_dense_db, 5, TOL);
}

static void test_activations(void)
{
    const double *ry[] = {ref_relu_y, ref_gelu_y, ref_tanh_y, ref_sigmoid_y};
    const double *rdx[] = {ref_relu_dx, ref_gelu_dx, ref_tanh_dx, ref_sigmoid_dx};
    for (int a = 0; a < 4; a++) {
        float x[12], dy[12], y[12], dx[12];
        s_f(x, 12, 0.77, 0.5, 2.5, 0);
        s_f(dy, 12, 0.53, 0.4, 1, 1);
        ch_nn_act_forward((ch_act)a, y, x, 12);
        ch_nn_act_backward((ch_act)a, dx, dy, x, y, 12);
        s_cmp(y, ry[a], 12, TOL);
        s_cmp(dx, rdx[a], 12, TOL);
    }
}

static void test_layernorm(void)
{
    float x[15], g[5], be[5], dy[15], y[15], mean[3], rstd[3], dx[15], dg[5] = {0}, db[5] = {0};
    s_f(x, 15, 0.83, 0.3, 2, 0);
    s_f(g, 5, 1, 0, 0.2, 0);
    for (int i = 0; i < 5; i++) {
        g[i] += 1;
    }
    s_f(be, 5, 1, 0, 0.1, 1);
    s_f(dy, 15, 0.53, 0.4, 1, 1);
    ch_nn_layernorm_forward(y, mean, rstd, x, g, be, 3, 5);
    ch_nn_layernorm_backward(dx, dg, db, dy, x, mean, rstd, g, 3, 5);
    s_cmp(y, ref_ln_y, 15, TOL);
    s_cmp(dx, ref_ln_dx, 15, TOL);
    s_cmp(dg, ref_ln_dgamma, 5, TOL);
    s_cmp(db, ref_ln_dbeta, 5, TOL);
}

static void test_losses(void)
{
    float z[12], dz[12], lab[4] = {0, 2, 1, 2};
    s_f(z, 12, 0.61, 0.2, 2, 0);
    CHECK_REL(ch_nn_softmax_xent(dz, NULL, z, lab, 4, 3), ref_xent_loss[0], TOL, 1e-5);
    s_cmp(dz, ref_xent_dz, 12, TOL);
    float zb[5], yb[5] = {1, 0, 1, 1, 0}, dzb[5];
    s_f(zb, 5, 1.1, 0.3, 3, 0);
    CHECK_REL(ch_nn_bce_logits(dzb, zb, yb, 5), ref_bce_loss[0], TOL, 1e-5);
    s_cmp(dzb, ref_bce_dz, 5, TOL);
    float zm[5], ym[5], dzm[5];
    s_f(zm, 5, 0.9, 0.1, 2, 0);
    s_f(ym, 5, 0.4, 0.7, 1, 1);
    CHECK_REL(ch_nn_mse(dzm, zm, ym, 5), ref_mse_loss[0], TOL, 1e-5);
    s_cmp(dzm, ref_mse_dz, 5, TOL);
    /* a missing or out-of-range label contributes nothing */
    float bad[4] = {0, NAN, 7, 2};
    double l = ch_nn_softmax_xent(dz, NULL, z, bad, 4, 3);
    CHECK(isfinite(l));
    CHECK(dz[3] == 0 && dz[4] == 0 && dz[5] == 0 && dz[6] == 0);
}

static void test_optimizers(void)
{
    struct {
        ch_opt_params p;
        double lr;
        const double *ref;
    } c[] = {
        {{CH_OPT_SGD, 0.9, 0.9, 0.999, 1e-8, 0.01}, 0.1, ref_opt_sgd},
        {{CH_OPT_MOMENTUM, 0.9, 0.9, 0.999, 1e-8, 0.01}, 0.1, ref_opt_momentum},
        {{CH_OPT_NESTEROV, 0.9, 0.9, 0.999, 1e-8, 0.01}, 0.1, ref_opt_nesterov},
        {{CH_OPT_ADAM, 0.9, 0.9, 0.999, 1e-8, 0.01}, 0.01, ref_opt_adam},
        {{CH_OPT_ADAMW, 0.9, 0.9, 0.999, 1e-8, 0.1}, 0.01, ref_opt_adamw},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        float w[6], g[6], state[12] = {0};
        s_f(w, 6, 0.5, 0.1, 0.3, 0);
        for (long t = 1; t <= 3; t++) {
            s_f(g, 6, 0.7, 0.3 * (double)t, 1, 1);
            ch_opt_step(&c[k].p, w, g, state, 6, c[k].lr, t);
            /* parameters are O(0.3) minus steps: absolute 1e-6 near 0 */
            s_cmp_floor(w, c[k].ref + (t - 1) * 6, 6, 2e-5, 0.05);
        }
    }
    /* clipping: norm of (3, 4) is 5; clipped to 1 */
    float g[2] = {3, 4};
    CHECK_NEAR(ch_opt_clip(g, 2, 1.0), 5.0, 1e-9);
    CHECK_NEAR(g[0], 0.6, 1e-6);
    CHECK_NEAR(g[1], 0.8, 1e-6);
}

/* The 4 -> 5 (layer norm, GELU) -> 3 network of torch_reference.py. */
static ch_net *s_ref_net(float **w)
{
    ch_net_spec spec = {.d_in = 4,
                        .d_out = 3,
                        .n_hidden = 1,
                        .hidden = {5},
                        .act = CH_ACT_GELU,
                        .layer_norm = true};
    ch_net *net = ch_net_new(&spec, NULL);
    CHECK(net && net->n_params == 20 + 5 + 5 + 5 + 15 + 3);
    *w = calloc(net->n_params, sizeof **w);
    float *p = *w;
    s_f(p, 20, 0.91, 0.2, 0.5, 0);
    s_f(p + 20, 5, 1.3, 0, 0.1, 1);
    s_f(p + 25, 5, 1, 0, 0.2, 0);
    for (int i = 25; i < 30; i++) {
        p[i] += 1;
    }
    s_f(p + 30, 5, 1, 0, 0.1, 1);
    s_f(p + 35, 15, 0.67, 0.5, 0.6, 0);
    s_f(p + 50, 3, 0.8, 0.9, 0.1, 0);
    return net;
}

static void test_network(void)
{
    float *w;
    ch_net *net = s_ref_net(&w);
    float x[12], y[3] = {2, 0, 1}, dout[9];
    s_f(x, 12, 0.37, 0.1, 1, 0);
    ch_net_ws *ws = ch_net_ws_new(net, 3);
    float *g = calloc(net->n_params, sizeof *g);
    ch_grad_out go;
    CHECK(ch_mlp_grad(net, CH_HEAD_SOFTMAX, w, x, y, 3, true, 1, 0, ws, dout, g, &go) == 0);
    CHECK_REL(go.loss, ref_net_loss[0], TOL, 1e-5);
    /* entries near 0 come from cancelling sums: absolute 1e-6 below |ref| 0.05 */
    s_cmp_floor(g, ref_net_grad, net->n_params, 2e-5, 0.05);
    /* two Adam steps on the mean gradient, as the coordinator applies them */
    ch_mlp_params p = {.opt = {CH_OPT_ADAM, 0.9, 0.9, 0.999, 1e-8, 0}};
    float *state = calloc(2 * net->n_params, sizeof *state);
    for (long t = 1; t <= 2; t++) {
        memset(g, 0, net->n_params * sizeof *g);
        ch_mlp_grad(net, CH_HEAD_SOFTMAX, w, x, y, 3, true, 1, 0, ws, dout, g, &go);
        ch_mlp_apply(&p, w, g, state, net->n_params, 3, 0.01, t);
    }
    s_cmp_floor(w, ref_net_after2, net->n_params, 2e-5, 0.05);
    free(state);
    free(g);
    free(w);
    ch_net_ws_destroy(&ws);
    ch_net_destroy(&net);
}

/* Finite differences of L = sum(out * r) through the whole network, for
 * every parameter and each activation, with dropout 0 and layer norm. */
static void test_gradcheck(void)
{
    for (int a = 0; a < 4; a++) {
        for (int head = 0; head < 3; head++) {
            ch_net_spec spec = {.d_in = 3,
                                .d_out = head == CH_HEAD_SOFTMAX ? 3 : 1,
                                .n_hidden = 2,
                                .hidden = {4, 3},
                                .act = (ch_act)a,
                                .layer_norm = head == 1};
            ch_net *net = ch_net_new(&spec, NULL);
            size_t np = net->n_params;
            float *w = calloc(np, sizeof *w), *g = calloc(np, sizeof *g);
            ch_net_init(net, CH_INIT_XAVIER, 7 + (uint64_t)a, w);
            for (size_t i = 0; i < np; i++) {
                w[i] += 0.05f * (float)sin((double)i); /* nonzero biases, gains != 1 */
            }
            float x[6], y[2] = {1, 0}, dout[6];
            if (head == CH_HEAD_SOFTMAX) {
                y[0] = 2;
            } else if (head == CH_HEAD_MSE) {
                y[0] = 0.5f;
                y[1] = -0.3f;
            }
            s_f(x, 6, 0.9, 0.2, 1.5, 0);
            ch_net_ws *ws = ch_net_ws_new(net, 2);
            ch_grad_out go;
            ch_mlp_grad(net, (ch_head)head, w, x, y, 2, false, 1, 0, ws, dout, g, &go);
            int bad = 0;
            for (size_t i = 0; i < np; i++) {
                const float h = 1e-2f;
                float keep = w[i];
                double lp, lm, c;
                w[i] = keep + h;
                ch_mlp_eval(net, (ch_head)head, w, x, y, 2, 2, ws, dout, &lp, &c, NULL);
                w[i] = keep - h;
                ch_mlp_eval(net, (ch_head)head, w, x, y, 2, 2, ws, dout, &lm, &c, NULL);
                w[i] = keep;
                double fd = (lp - lm) / (2 * h);
                double s = fabs(fd) > 1e-2 ? fabs(fd) : 1e-2;
                /* ReLU kinks make a difference quotient meaningless near 0 */
                if (fabs(fd - g[i]) > 2e-2 * s && a != CH_ACT_RELU) {
                    bad++;
                    fprintf(stderr, "gradcheck act %d head %d param %zu: fd %g analytic %g\n", a,
                            head, i, fd, (double)g[i]);
                }
            }
            CHECK(bad == 0);
            free(w);
            free(g);
            ch_net_ws_destroy(&ws);
            ch_net_destroy(&net);
        }
    }
}

static void test_dropout(void)
{
    enum { M = 20000 };
    float *x = malloc(M * sizeof *x), *y = malloc(M * sizeof *y), *mask = malloc(M * sizeof *mask);
    float *dx = malloc(M * sizeof *dx);
    for (int i = 0; i < M; i++) {
        x[i] = 1.0f;
    }
    ch_rng r;
    ch_rng_init(&r, 42, 1);
    ch_nn_dropout_forward(y, mask, x, M, 0.25f, &r);
    size_t kept = 0;
    for (int i = 0; i < M; i++) {
        kept += y[i] != 0;
        CHECK(y[i] == 0 || fabsf(y[i] - 1.0f / 0.75f) < 1e-6f);
    }
    /* 15000 expected, binomial sd 61: 5 sd */
    CHECK(kept > 15000 - 310 && kept < 15000 + 310);
    ch_nn_dropout_backward(dx, x, mask, M);
    CHECK(memcmp(dx, y, M * sizeof *dx) == 0);
    /* the same stream gives the same mask */
    float *y2 = malloc(M * sizeof *y2);
    ch_rng_init(&r, 42, 1);
    ch_nn_dropout_forward(y2, mask, x, M, 0.25f, &r);
    CHECK(memcmp(y, y2, M * sizeof *y) == 0);
    free(x);
    free(y);
    free(y2);
    free(mask);
    free(dx);
}

static void test_schedules(void)
{
    ch_schedule s = {.kind = CH_SCHED_COSINE,
                     .lr = 1,
                     .lr_min = 0,
                     .steps_per_epoch = 10,
                     .total_steps = 100,
                     .step_epochs = 3,
                     .gamma = 0.5};
    CHECK_NEAR(ch_schedule_lr(&s, 0), 1, 1e-12);
    CHECK_NEAR(ch_schedule_lr(&s, 50), 0.5, 1e-12);
    CHECK_NEAR(ch_schedule_lr(&s, 100), 0, 1e-12);
    s.kind = CH_SCHED_STEP;
    CHECK_NEAR(ch_schedule_lr(&s, 29), 1, 1e-12);
    CHECK_NEAR(ch_schedule_lr(&s, 30), 0.5, 1e-12);
    CHECK_NEAR(ch_schedule_lr(&s, 65), 0.25, 1e-12);
    s.kind = CH_SCHED_CONSTANT;
    s.warmup_steps = 4;
    CHECK_NEAR(ch_schedule_lr(&s, 0), 0.25, 1e-12);
    CHECK_NEAR(ch_schedule_lr(&s, 3), 1, 1e-12);
    CHECK_NEAR(ch_schedule_lr(&s, 50), 1, 1e-12);
    s.kind = CH_SCHED_COSINE; /* cosine over the 96 steps after warmup */
    CHECK_NEAR(ch_schedule_lr(&s, 4 + 48), 0.5, 1e-12);
    s.kind = CH_SCHED_ONECYCLE;
    s.warmup_steps = 0;
    CHECK_NEAR(ch_schedule_lr(&s, 15), 0.5, 1e-12);
    CHECK_NEAR(ch_schedule_lr(&s, 30), 1, 1e-12);
}

int main(void)
{
    test_dense();
    test_activations();
    test_layernorm();
    test_losses();
    test_optimizers();
    test_network();
    test_gradcheck();
    test_dropout();
    test_schedules();
    CH_TEST_END();
}
