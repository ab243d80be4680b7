/* CUDA kernels of the fused neurons: one thread per neuron, time loop inside.
 *
 * Pasted by neuro/kernels/source.py after lif_core.h, once per storage type (STORAGE, LOAD, STORE;
 * the compute type REAL is float). Tensors are contiguous: x, spikes and grad_x [T, N], the state
 * [S, N] (V, then A or I), saved [R, T, N] in the storage type or, in lean mode, H_t - theta_t (and
 * ALIF's threshold) rounded to bf16; nothing under MODE_NO_SAVE. The kind is uniform across a
 * launch, so its branches never diverge.
 */

extern "C" __global__ void FN(neuro_lif_fwd)(const STORAGE *x, const STORAGE *state0, STORAGE *spikes,
                                             STORAGE *state_last, void *saved, long long T, long long N,
                                             const double *kp, double tau, double vth, double vr, double tau2,
                                             double c1, double c2, double c3, int mode)
{
    const long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N)
        return;
    const FN(lif_params) p = FN(make_params)(kp, tau, vth, vr, tau2, c1, c2, c3, mode);
    const bool two_states = p.kind == KIND_ALIF || p.kind == KIND_CUBA;
    REAL v = LOAD(state0[n]), aux = two_states ? LOAD(state0[N + n]) : (REAL)0;
    for (long long t = 0; t < T; t++) {
        const long long i = t * N + n;
        REAL h, th;
        const REAL y = FN(forward_step)(&p, p.kind, p.decay, LOAD(x[i]), &v, &aux, &h, &th);
        spikes[i] = STORE(y >= 0 ? (REAL)1 : (REAL)0);
        if (p.lean) {
            ((unsigned short *)saved)[i] = bf16_from_float(y + (REAL)0);
            if (p.kind == KIND_ALIF)
                ((unsigned short *)saved)[T * N + i] = bf16_from_float(th);
        } else if (p.save) {
            ((STORAGE *)saved)[i] = STORE(h);
            if (p.kind == KIND_ALIF)
                ((STORAGE *)saved)[T * N + i] = STORE(th);
        }
    }
    state_last[n] = STORE(v);
    if (two_states)
        state_last[N + n] = STORE(aux);
}

DEVICE void FN(load_saved)(const FN(lif_params) *p, const void *saved, long long TN, long long i, REAL *h, REAL *th,
                           REAL *y, REAL *s)
{
    const bool alif = p->kind == KIND_ALIF;
    if (p->lean) {
        const unsigned short bits = ((const unsigned short *)saved)[i];
        *th = alif ? float_from_bf16(((const unsigned short *)saved)[TN + i]) : p->vth;
        *y = float_from_bf16(bits);
        *h = *y + *th;
        *s = (bits & 0x8000u) ? (REAL)0 : (REAL)1; /* the sign of H - theta is the spike */
    } else {
        *h = LOAD(((const STORAGE *)saved)[i]);
        *th = alif ? LOAD(((const STORAGE *)saved)[TN + i]) : p->vth;
        *y = RND(*h - (alif ? *th : p->vth_sub));
        *s = *y >= 0 ? (REAL)1 : (REAL)0;
    }
}

extern "C" __global__ void FN(neuro_lif_bwd)(const STORAGE *grad_s, const STORAGE *grad_state_last,
                                             const void *saved, const STORAGE *state0, const STORAGE *x,
                                             STORAGE *grad_x, STORAGE *grad_state0, float *grad_k, long long T,
                                             long long N, const double *kp, double tau, double vth, double vr,
                                             double tau2, double c1, double c2, double c3, int mode)
{
    const long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N)
        return;
    const FN(lif_params) p = FN(make_params)(kp, tau, vth, vr, tau2, c1, c2, c3, mode);
    const bool two_states = p.kind == KIND_ALIF || p.kind == KIND_CUBA;
    REAL gv = grad_state_last ? LOAD(grad_state_last[n]) : (REAL)0;
    REAL ga = two_states && grad_state_last ? LOAD(grad_state_last[N + n]) : (REAL)0;
    REAL gk = 0;
    for (long long t = T - 1; t >= 0; t--) {
        const long long i = t * N + n;
        REAL h, th, y, s, gx;
        FN(load_saved)(&p, saved, T * N, i, &h, &th, &y, &s);
        const REAL gh = FN(backward_step)(&p, p.kind, LOAD(grad_s[i]), h, th, y, s, &gv, &ga, &gx);
        grad_x[i] = STORE(gx);
        if (p.kind == KIND_PLIF) {
            REAL v_prev = LOAD(state0[n]);
            if (t > 0) {
                REAL hp, thp, yp, sp;
                FN(load_saved)(&p, saved, T * N, i - N, &hp, &thp, &yp, &sp);
                v_prev = FN(reset)(&p, hp, sp, p.vth_mul);
            }
            gk += gh * FN(dh_dk)(&p, LOAD(x[i]), v_prev);
        }
    }
    grad_state0[n] = STORE(gv);
    if (two_states)
        grad_state0[N + n] = STORE(ga);
    if (p.kind == KIND_PLIF)
        grad_k[n] = gk;
}
