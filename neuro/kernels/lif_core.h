/* Per-element math of the fused IF / LIF / ParametricLIF kernels, written once for C and CUDA.
 *
 * neuro/kernels/source.py pastes this text once per compute type, after defining
 *   REAL        the compute type (float or double),
 *   SFX         the name suffix (_f32, _f64, _f16, _bf16),
 *   SG(x)       the surrogate derivative as an expression of x (from Surrogate.c_derivative),
 *   RND(a)      rounding of one result to the input's precision (identity for float and double;
 *               fp16 or bf16 rounding for half-precision inputs, so each operation rounds as
 *               torch's would),
 *   DIV_TAU(a)  a / tau as torch computes it (true division on the CPU; a * (1/tau) on CUDA,
 *               where torch turns division by a Python scalar into a multiplication),
 *   SCALAR_ADD(c), SCALAR_MUL(c)  a Python scalar as torch uses it in an addition or a
 *               multiplication (for half-precision inputs torch rounds some of them to the input's
 *               precision first; identity for float and double),
 *   DEVICE      the function qualifier (static inline / __device__ __forceinline__).
 * Every operation below mirrors neuro/functional/lif.py and common.py in order, so the spikes are
 * bit-equal to the torch reference.
 */

#define CAT2_(a, b) a##b
#define CAT2(a, b) CAT2_(a, b)
#define FN(name) CAT2(name, SFX)

typedef struct {
    int kind, decay, soft, detach, lean, save;
    REAL tau, inv_tau, k, vth, vr, r;
    REAL vth_sub, r_sub, vth_mul, vr_mul; /* the scalars as the forward operations see them */
    /* reverse-pass coefficients, so that the backward loop has no branches:
     * hard (1 hard reset, 0 soft), keep_reset (0 under detach_reset), soft_vth (V_th if soft else 0),
     * gx_gain = dH/dX, leak = 1 - dH/dV_{t-1}, decay (1 if decay_input) */
    REAL hard, keep_reset, soft_vth, gx_gain, leak, decay_f;
} FN(lif_params);

DEVICE FN(lif_params) FN(make_params)(const double *kp, double tau, double vth, double vr, int mode)
{
    FN(lif_params) p;
    p.kind = mode & 3;
    p.decay = (mode & MODE_DECAY) != 0;
    p.soft = (mode & MODE_SOFT) != 0;
    p.detach = (mode & MODE_DETACH) != 0;
    p.lean = (mode & MODE_LEAN) != 0;
    p.save = (mode & MODE_NO_SAVE) == 0;
    p.tau = SCALAR_MUL((REAL)tau);
    p.inv_tau = (REAL)1 / p.tau;
    p.k = kp ? SCALAR_MUL((REAL)kp[0]) : (REAL)0;
    p.vth = (REAL)vth;
    p.vr = (REAL)vr;
    p.r = p.soft ? (REAL)0 : p.vr;
    p.vth_sub = SCALAR_ADD(p.vth);
    p.r_sub = SCALAR_ADD(p.r);
    p.vth_mul = SCALAR_MUL(p.vth);
    p.vr_mul = SCALAR_MUL(p.vr);
    p.hard = p.soft ? (REAL)0 : (REAL)1;
    p.keep_reset = p.detach ? (REAL)0 : (REAL)1;
    p.soft_vth = p.soft ? p.vth : (REAL)0;
    p.decay_f = p.decay ? (REAL)1 : (REAL)0;
    if (p.kind == KIND_IF) {
        p.gx_gain = 1;
        p.leak = 0;
    } else {
        p.leak = p.kind == KIND_LIF ? p.inv_tau : p.k;
        p.gx_gain = p.decay ? p.leak : (REAL)1;
    }
    return p;
}

/* H_t from X_t and V_{t-1} (neuro/functional/lif.py: if_step, _charge_lif, _charge_plif). */
DEVICE REAL FN(charge)(const FN(lif_params) *p, REAL x, REAL v)
{
    if (p->kind == KIND_IF)
        return RND(v + x);
    if (p->kind == KIND_LIF)
        return p->decay ? RND(v + RND(DIV_TAU(RND(x - RND(v - p->r_sub)))))
                        : RND(RND(v - RND(DIV_TAU(RND(v - p->r_sub)))) + x);
    return p->decay ? RND(v + RND(RND(x - RND(v - p->r_sub)) * p->k))
                    : RND(RND(v - RND(RND(v - p->r_sub) * p->k)) + x);
}

/* V_t from H_t and S_t (common.py: fire_and_reset). */
DEVICE REAL FN(reset)(const FN(lif_params) *p, REAL h, REAL s)
{
    if (p->soft)
        return RND(h - RND(s * p->vth_mul));
    return RND(RND(s * p->vr_mul) + RND(RND((REAL)1 - s) * h));
}

/* One reverse step. From dL/dS_t (gs), dL/dV_t (*gv), H_t (h), H_t - V_th (y) and S_t (s), write
 * dL/dX_t to *gx and dL/dV_{t-1} to *gv; return dL/dH_t. The chain rule is the one torch's autograd
 * applies to the reference; dV_t/dH_t is (1 - S) + (V_reset - H) sg' for a hard reset and
 * 1 - V_th sg' for a soft one, without the sg' term under detach_reset. */
DEVICE REAL FN(backward_step)(const FN(lif_params) *p, REAL gs, REAL h, REAL y, REAL s, REAL *gv, REAL *gx)
{
    const REAL x = y; /* SG(x) is written in terms of x */
    const REAL sg = SG(x);
    const REAL dvdh = (REAL)1 - p->hard * s + p->keep_reset * sg * (p->hard * (p->vr - h) - p->soft_vth);
    const REAL gh = gs * sg + *gv * dvdh;
    *gx = gh * p->gx_gain;
    *gv = gh - gh * p->leak;
    return gh;
}

/* dH_t/dk for ParametricLIF, given X_t and V_{t-1}. */
DEVICE REAL FN(dh_dk)(const FN(lif_params) *p, REAL x, REAL v_prev)
{
    return p->decay_f * x - (v_prev - p->r);
}
