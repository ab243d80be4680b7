/* CUDA kernels of the fused IF / LIF / ParametricLIF neurons: one thread per neuron, time loop inside.
 *
 * Pasted by neuro/kernels/source.py after lif_core.h, once per storage type (STORAGE, LOAD, STORE;
 * the compute type REAL is float). Tensors are contiguous [T, N]. saved holds H_t in the storage
 * type or, in lean mode, H_t - V_th rounded to bf16; nothing under MODE_NO_SAVE.
 */

extern "C" __global__ void FN(neuro_lif_fwd)(const STORAGE *x, const STORAGE *v0, STORAGE *spikes, STORAGE *v_last,
                                             void *saved, long long T, long long N, const double *kp, double tau,
                                             double vth, double vr, int mode)
{
    const long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N)
        return;
    const FN(lif_params) p = FN(make_params)(kp, tau, vth, vr, mode);
    REAL v = LOAD(v0[n]);
    for (long long t = 0; t < T; t++) {
        const long long i = t * N + n;
        const REAL h = FN(charge)(&p, LOAD(x[i]), v);
        const REAL y = RND(h - p.vth_sub);
        const REAL s = y >= 0 ? (REAL)1 : (REAL)0;
        spikes[i] = STORE(s);
        v = FN(reset)(&p, h, s);
        if (p.lean)
            ((unsigned short *)saved)[i] = bf16_from_float(y + (REAL)0);
        else if (p.save)
            ((STORAGE *)saved)[i] = STORE(h);
    }
    v_last[n] = STORE(v);
}

DEVICE void FN(load_saved)(const FN(lif_params) *p, const void *saved, long long i, REAL *h, REAL *y, REAL *s)
{
    if (p->lean) {
        const unsigned short bits = ((const unsigned short *)saved)[i];
        *y = float_from_bf16(bits);
        *h = *y + p->vth;
        *s = (bits & 0x8000u) ? (REAL)0 : (REAL)1; /* the sign of H - V_th is the spike */
    } else {
        *h = LOAD(((const STORAGE *)saved)[i]);
        *y = RND(*h - p->vth_sub);
        *s = *y >= 0 ? (REAL)1 : (REAL)0;
    }
}

extern "C" __global__ void FN(neuro_lif_bwd)(const STORAGE *grad_s, const STORAGE *grad_v_last, const void *saved,
                                             const STORAGE *v0, const STORAGE *x, STORAGE *grad_x, STORAGE *grad_v0,
                                             float *grad_k, long long T, long long N, const double *kp, double tau,
                                             double vth, double vr, int mode)
{
    const long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N)
        return;
    const FN(lif_params) p = FN(make_params)(kp, tau, vth, vr, mode);
    REAL gv = grad_v_last ? LOAD(grad_v_last[n]) : (REAL)0;
    REAL gk = 0;
    for (long long t = T - 1; t >= 0; t--) {
        const long long i = t * N + n;
        REAL h, y, s, gx;
        FN(load_saved)(&p, saved, i, &h, &y, &s);
        const REAL gs = LOAD(grad_s[i]);
        const REAL gh = FN(backward_step)(&p, gs, h, y, s, &gv, &gx);
        grad_x[i] = STORE(gx);
        if (p.kind == KIND_PLIF) {
            REAL v_prev = LOAD(v0[n]);
            if (t > 0) {
                REAL hp, yp, sp;
                FN(load_saved)(&p, saved, i - N, &hp, &yp, &sp);
                v_prev = FN(reset)(&p, hp, sp);
            }
            gk += gh * FN(dh_dk)(&p, LOAD(x[i]), v_prev);
        }
    }
    grad_v0[n] = STORE(gv);
    if (p.kind == KIND_PLIF)
        grad_k[n] = gk;
}
