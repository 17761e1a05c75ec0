/* optim.h: optimizers over a flat parameter array: SGD, SGD with momentum
 * (heavy ball or Nesterov), Adam and AdamW, as torch.optim defines them;
 * plus global-norm gradient clipping. */
#ifndef CH_MLP_OPTIM_H
#define CH_MLP_OPTIM_H

#include <stddef.h>

typedef enum {
    CH_OPT_SGD = 0,
    CH_OPT_MOMENTUM = 1, /* torch.optim.SGD(momentum=mu) */
    CH_OPT_NESTEROV = 2, /* torch.optim.SGD(momentum=mu, nesterov=True) */
    CH_OPT_ADAM = 3,     /* weight decay as an L2 term in the gradient */
    CH_OPT_ADAMW = 4,    /* decoupled weight decay */
} ch_opt_kind;

/* Names in enum order, NULL-terminated. */
extern const char *const ch_opt_names[];

typedef struct ch_opt_params {
    ch_opt_kind kind;
    double momentum;     /* SGD momentum */
    double beta1, beta2; /* Adam */
    double eps;
    double weight_decay;
} ch_opt_params;

/* Floats of optimizer state per parameter (0, 1 or 2). */
size_t ch_opt_state_per_param(ch_opt_kind kind);

/* One step at learning rate lr on n parameters w with gradient g (g is
 * modified when weight decay is folded into it). state holds
 * ch_opt_state_per_param(kind) * n floats, zeroed before the first step;
 * t is the 1-based step number (Adam's bias correction). This function
 * can't fail. */
void ch_opt_step(const ch_opt_params *p, float *w, float *g, float *state, size_t n, double lr,
                 long t);

/* Scales g so that its L2 norm is at most max_norm (torch's
 * clip_grad_norm_: factor max_norm / (norm + 1e-6) when below 1). Returns
 * the norm before clipping. max_norm <= 0 only measures. This function
 * can't fail. */
double ch_opt_clip(float *g, size_t n, double max_norm);

#endif
