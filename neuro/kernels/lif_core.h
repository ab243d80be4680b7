/* Per-element math of the fused IF / LIF / ParametricLIF / ALIF / CubaLIF kernels, written once for C and CUDA.
 *
 * neuro/kernels/source.py pastes this text once per compute type, after defining
 *   REAL        the compute type (float or double),
 *   SFX         the name suffix (_f32, _f64, _f16, _bf16),
 *   SG(x)       the surrogate derivative as an expression of x (from Surrogate.c_derivative),
 *   RND(a)      rounding of one result to the input's precision (identity for float and double;
 *               fp16 or bf16 rounding for half-precision inputs, so each operation rounds as
 *               torch's would),
 *   DIV(a, c)   a / p->c as torch computes a division by a Python scalar (true division on the
 *               CPU; a * p->inv_c on CUDA, where torch multiplies by the reciprocal),
 *   SCALAR_ADD(c), SCALAR_MUL(c)  a Python scalar as torch uses it in an addition or a
 *               multiplication (for half-precision inputs torch rounds some of them to the input's
 *               precision first; identity for float and double),
 *   DEVICE      the function qualifier (static inline / __device__ __forceinline__).
 * Every operation below mirrors neuro/functional (lif.py, alif.py, cuba_lif.py, common.py) in order,
 * so the spikes are bit-equal to the torch reference.
 *
 * State per neuron: V, plus A (ALIF's threshold adaptation) or I (CubaLIF's synaptic current),
 * called "aux" below. The kind and decay_input are arguments of the step functions: constants at
 * every CPU call site (so each combination is its own vectorised loop), the uniform p->kind on CUDA.
 */

#define CAT2_(a, b) a##b
#define CAT2(a, b) CAT2_(a, b)
#define FN(name) CAT2(name, SFX)

typedef struct {
    int kind, decay, soft, detach, lean, save;
    REAL tau, inv_tau, tau2, inv_tau2, k, vth, vr, r;
    REAL vth_sub, r_sub, vth_mul, vr_mul;  /* the scalars as the forward operations see them */
    REAL beta_mul, vleak_sub, res_mul, win_mul; /* ALIF beta; CubaLIF v_leak, r, w_in */
    /* reverse-pass coefficients, so that the backward loop has no branches:
     * hard (1 hard reset, 0 soft), keep_reset (0 under detach_reset), soft_f (1 soft, 0 hard),
     * gx_gain = dH/dX, leak = 1 - dH/dV_{t-1}, decay (1 if decay_input), keep_a = dA_t/dA_{t-1},
     * beta; CubaLIF: h_per_i = dH/dI_t, keep_i = dI_t/dI_{t-1}, i_per_x = dI_t/dX_t */
    REAL hard, keep_reset, soft_f, gx_gain, leak, decay_f, keep_a, beta, h_per_i, keep_i, i_per_x;
} FN(lif_params);

DEVICE FN(lif_params) FN(make_params)(const double *kp, double tau, double vth, double vr, double tau2, double c1,
                                      double c2, double c3, int mode)
{
    FN(lif_params) p;
    p.kind = mode & KIND_MASK;
    p.decay = (mode & MODE_DECAY) != 0;
    p.soft = (mode & MODE_SOFT) != 0;
    p.detach = (mode & MODE_DETACH) != 0;
    p.lean = (mode & MODE_LEAN) != 0;
    p.save = (mode & MODE_NO_SAVE) == 0;
    p.tau = SCALAR_MUL((REAL)tau);
    p.inv_tau = (REAL)1 / p.tau;
    p.tau2 = SCALAR_MUL((REAL)tau2);
    p.inv_tau2 = (REAL)1 / p.tau2;
    p.k = kp ? SCALAR_MUL((REAL)kp[0]) : (REAL)0;
    p.vth = (REAL)vth;
    p.vr = (REAL)vr;
    p.r = p.soft ? (REAL)0 : p.vr;
    p.vth_sub = SCALAR_ADD(p.vth);
    p.r_sub = SCALAR_ADD(p.r);
    p.vth_mul = SCALAR_MUL(p.vth);
    p.vr_mul = SCALAR_MUL(p.vr);
    p.beta_mul = SCALAR_MUL((REAL)c1);
    p.vleak_sub = SCALAR_ADD((REAL)c1);
    p.res_mul = SCALAR_MUL((REAL)c2);
    p.win_mul = SCALAR_MUL((REAL)c3);
    p.hard = p.soft ? (REAL)0 : (REAL)1;
    p.keep_reset = p.detach ? (REAL)0 : (REAL)1;
    p.soft_f = p.soft ? (REAL)1 : (REAL)0;
    p.decay_f = p.decay ? (REAL)1 : (REAL)0;
    p.keep_a = (REAL)1 - p.inv_tau2;
    p.beta = (REAL)c1;
    p.h_per_i = (REAL)c2 / p.tau;
    p.keep_i = (REAL)1 - p.inv_tau2;
    p.i_per_x = (REAL)c3 / p.tau2;
    if (p.kind == KIND_IF) {
        p.gx_gain = 1;
        p.leak = 0;
    } else {
        p.leak = p.kind == KIND_PLIF ? p.k : p.inv_tau;
        p.gx_gain = p.decay ? p.leak : (REAL)1;
    }
    return p;
}

/* H_t from X_t and V_{t-1} (lif.py: if_step, _charge_lif, _charge_plif); ALIF charges as LIF. */
DEVICE REAL FN(charge)(const FN(lif_params) *p, const int kind, const int decay, REAL x, REAL v)
{
    if (kind == KIND_IF)
        return RND(v + x);
    if (kind == KIND_LIF || kind == KIND_ALIF)
        return decay ? RND(v + RND(DIV(RND(x - RND(v - p->r_sub)), tau)))
                     : RND(RND(v - RND(DIV(RND(v - p->r_sub), tau))) + x);
    return decay ? RND(v + RND(RND(x - RND(v - p->r_sub)) * p->k)) : RND(RND(v - RND(RND(v - p->r_sub) * p->k)) + x);
}

/* V_t from H_t, S_t and the threshold as the reset multiplies it (common.py: fire_and_reset). */
DEVICE REAL FN(reset)(const FN(lif_params) *p, REAL h, REAL s, REAL th_mul)
{
    if (p->soft)
        return RND(h - RND(s * th_mul));
    return RND(RND(s * p->vr_mul) + RND(RND((REAL)1 - s) * h));
}

/* One forward step: from X_t and the state (*v, *aux) before it, write H_t to *h and the threshold
 * theta_t to *th, update the state in place and return H_t - theta_t (its sign is the spike). */
DEVICE REAL FN(forward_step)(const FN(lif_params) *p, const int kind, const int decay, REAL x, REAL *v, REAL *aux,
                             REAL *h, REAL *th)
{
    REAL th_sub = p->vth_sub, th_mul = p->vth_mul;
    if (kind == KIND_CUBA) { /* cuba_lif.py: I_t, then H_t from V_{t-1} and I_t */
        const REAL i = RND(*aux + RND(DIV(RND(RND(x * p->win_mul) - *aux), tau2)));
        *h = RND(*v + RND(DIV(RND(RND(p->vleak_sub - *v) + RND(p->res_mul * i)), tau)));
        *aux = i;
    } else {
        *h = FN(charge)(p, kind, decay, x, *v);
    }
    if (kind == KIND_ALIF) { /* alif.py: theta_t = V_th + beta A_{t-1} */
        th_sub = RND(RND(p->beta_mul * *aux) + p->vth_sub);
        th_mul = th_sub;
    }
    *th = th_sub;
    const REAL y = RND(*h - th_sub);
    const REAL s = y >= 0 ? (REAL)1 : (REAL)0;
    *v = FN(reset)(p, *h, s, th_mul);
    if (kind == KIND_ALIF) /* A_t = A_{t-1} - A_{t-1} / tau_adapt + S_t */
        *aux = RND(RND(*aux - RND(DIV(*aux, tau2))) + s);
    return y;
}

/* One reverse step. From dL/dS_t (gs), dL/dV_t (*gv), dL/dA_t or dL/dI_t (*ga), H_t (h), the
 * threshold (th), H_t - theta_t (y) and S_t (s), write dL/dX_t to *gx, dL/dV_{t-1} to *gv and
 * dL/dA_{t-1} or dL/dI_{t-1} to *ga; return dL/dH_t. The chain rule is the one torch's autograd
 * applies to the reference; dV_t/dS_t is V_reset - H for a hard reset and -theta for a soft one,
 * and the reset's sg' terms vanish under detach_reset. ALIF's spike also enters A_t; its threshold
 * enters S_t and (soft reset) V_t. */
DEVICE REAL FN(backward_step)(const FN(lif_params) *p, const int kind, REAL gs, REAL h, REAL th, REAL y, REAL s,
                              REAL *gv, REAL *ga, REAL *gx)
{
    const REAL x = y; /* SG(x) is written in terms of x (a constant for the straight-through estimator) */
    (void)x;
    const REAL sg = SG(x);
    const REAL g_spike = kind == KIND_ALIF ? gs + *ga : gs;
    const REAL dv_ds = p->keep_reset * (p->hard * (p->vr - h) - p->soft_f * th);
    const REAL gh = g_spike * sg + *gv * ((REAL)1 - p->hard * s + sg * dv_ds);
    if (kind == KIND_ALIF) {
        const REAL g_th = -(g_spike * sg + *gv * (sg * dv_ds)) - *gv * p->soft_f * s;
        *ga = *ga * p->keep_a + p->beta * g_th;
    }
    if (kind == KIND_CUBA) {
        const REAL gi = *ga + gh * p->h_per_i;
        *gx = gi * p->i_per_x;
        *ga = gi * p->keep_i;
        *gv = gh - gh * p->inv_tau;
        return gh;
    }
    *gx = gh * p->gx_gain;
    *gv = gh - gh * p->leak;
    return gh;
}

/* dH_t/dk for ParametricLIF, given X_t and V_{t-1}. */
DEVICE REAL FN(dh_dk)(const FN(lif_params) *p, REAL x, REAL v_prev)
{
    return p->decay_f * x - (v_prev - p->r);
}
