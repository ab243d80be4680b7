/* CPU loops of the fused IF / LIF / ParametricLIF kernels (OpenMP over blocks of neurons).
 *
 * Pasted by neuro/kernels/source.py after lif_core.h, once per REAL. Tensors are contiguous
 * [T, N]; each thread takes BLOCK neighbouring neurons and walks time for all of them, so the
 * loop over the block is innermost (SIMD) and every element is read and written once.
 * saved holds H_t (REAL) or, in lean mode, H_t - V_th rounded to bf16 (uint16_t); nothing
 * when no backward will run (MODE_NO_SAVE).
 * The neuron kind, decay_input and the memory mode are constants in each call of the always-inline
 * block functions below, so every combination gets its own vectorised loop without branches.
 */

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE void FN(forward_block)(FN(lif_params) p, const int kind, const int decay, const int lean, const REAL *x,
                                     const REAL *v0, REAL *spikes, REAL *v_last, void *saved, int64_t T, int64_t N,
                                     int64_t n0, int64_t nb)
{
    p.kind = kind;
    p.decay = decay;
    REAL v[BLOCK], scratch[BLOCK];
    for (int64_t j = 0; j < nb; j++)
        v[j] = v0[n0 + j];
    for (int64_t t = 0; t < T; t++) {
        const int64_t o = t * N + n0;
        REAL *h_out = p.save ? (REAL *)saved + o : scratch; /* no backward: H goes to a scratch row */
#pragma omp simd
        for (int64_t j = 0; j < nb; j++) {
            const REAL h = FN(charge)(&p, x[o + j], v[j]);
            const REAL y = RND(h - p.vth_sub);
            const REAL s = y >= 0 ? (REAL)1 : (REAL)0;
            spikes[o + j] = s;
            v[j] = FN(reset)(&p, h, s);
            if (lean)
                ((uint16_t *)saved)[o + j] = bf16_from_float((float)(y + (REAL)0)); /* -0 -> +0: sign = spike */
            else
                h_out[j] = h;
        }
    }
    for (int64_t j = 0; j < nb; j++)
        v_last[n0 + j] = v[j];
}

void FN(neuro_lif_fwd)(const REAL *x, const REAL *v0, REAL *spikes, REAL *v_last, void *saved,
                       int64_t T, int64_t N, const double *kp, double tau, double vth, double vr, int mode)
{
    const FN(lif_params) p = FN(make_params)(kp, tau, vth, vr, mode);
    const int64_t nblocks = (N + BLOCK - 1) / BLOCK;
#define FORWARD(kind, decay, lean) FN(forward_block)(p, kind, decay, lean, x, v0, spikes, v_last, saved, T, N, n0, nb)
#pragma omp parallel for schedule(static) if (T * N >= PARALLEL_MIN)
    for (int64_t b = 0; b < nblocks; b++) {
        const int64_t n0 = b * BLOCK;
        const int64_t nb = N - n0 < BLOCK ? N - n0 : BLOCK;
        if (p.kind == KIND_IF)
            p.lean ? FORWARD(KIND_IF, 0, 1) : FORWARD(KIND_IF, 0, 0);
        else if (p.kind == KIND_LIF && p.decay)
            p.lean ? FORWARD(KIND_LIF, 1, 1) : FORWARD(KIND_LIF, 1, 0);
        else if (p.kind == KIND_LIF)
            p.lean ? FORWARD(KIND_LIF, 0, 1) : FORWARD(KIND_LIF, 0, 0);
        else if (p.decay)
            p.lean ? FORWARD(KIND_PLIF, 1, 1) : FORWARD(KIND_PLIF, 1, 0);
        else
            p.lean ? FORWARD(KIND_PLIF, 0, 1) : FORWARD(KIND_PLIF, 0, 0);
    }
#undef FORWARD
}

/* H_t, H_t - V_th and S_t of element i, from the saved tensor. */
ALWAYS_INLINE void FN(load_saved)(const FN(lif_params) *p, const int lean, const void *saved,
                                                                 int64_t i, REAL *h, REAL *y, REAL *s)
{
    if (lean) {
        const uint16_t bits = ((const uint16_t *)saved)[i];
        *y = (REAL)float_from_bf16(bits);
        *h = *y + p->vth;
        *s = (bits & 0x8000u) ? (REAL)0 : (REAL)1; /* the sign of H - V_th is the spike */
    } else {
        *h = ((const REAL *)saved)[i];
        *y = RND(*h - p->vth_sub);
        *s = *y >= 0 ? (REAL)1 : (REAL)0;
    }
}

/* One time step of the reverse pass for a block of nb neurons; lean and plif are constants at
 * each call site, so the compiler emits a vectorised loop for each combination. */
ALWAYS_INLINE void FN(backward_row)(
    const FN(lif_params) *p, const int lean, const int plif, const REAL *grad_s, const void *saved, const REAL *v0,
    const REAL *x, REAL *grad_x, REAL *gv, REAL *gk, int64_t t, int64_t N, int64_t n0, int64_t nb)
{
    const int64_t o = t * N + n0;
    const int64_t o_prev = t > 0 ? o - N : o;
#pragma omp simd
    for (int64_t j = 0; j < nb; j++) {
        REAL h, y, s, gx;
        FN(load_saved)(p, lean, saved, o + j, &h, &y, &s);
        const REAL gs = grad_s[o + j];
        const REAL gh = FN(backward_step)(p, gs, h, y, s, &gv[j], &gx);
        grad_x[o + j] = gx;
        if (plif) { /* V_{t-1}: recomputed from step t-1, or v0 (a select, so the loop vectorises) */
            REAL hp, yp, sp;
            FN(load_saved)(p, lean, saved, o_prev + j, &hp, &yp, &sp);
            const REAL v_prev = t > 0 ? FN(reset)(p, hp, sp) : v0[n0 + j];
            gk[j] += gh * FN(dh_dk)(p, x[o + j], v_prev);
        }
    }
}

/* grad_v_last may be NULL (no gradient reached it); x and grad_k are used by
 * ParametricLIF only (grad_k[n] = sum over t of dL/dk for neuron n). */
void FN(neuro_lif_bwd)(const REAL *grad_s, const REAL *grad_v_last, const void *saved, const REAL *v0,
                       const REAL *x, REAL *grad_x, REAL *grad_v0, REAL *grad_k, int64_t T, int64_t N,
                       const double *kp, double tau, double vth, double vr, int mode)
{
    const FN(lif_params) p = FN(make_params)(kp, tau, vth, vr, mode);
    const int64_t nblocks = (N + BLOCK - 1) / BLOCK;
    const int plif = p.kind == KIND_PLIF;
#pragma omp parallel for schedule(static) if (T * N >= PARALLEL_MIN)
    for (int64_t b = 0; b < nblocks; b++) {
        const int64_t n0 = b * BLOCK;
        const int64_t nb = N - n0 < BLOCK ? N - n0 : BLOCK;
        REAL gv[BLOCK], gk[BLOCK];
        for (int64_t j = 0; j < nb; j++) {
            gv[j] = grad_v_last ? grad_v_last[n0 + j] : (REAL)0;
            gk[j] = 0;
        }
        for (int64_t t = T - 1; t >= 0; t--) {
            if (p.lean && plif)
                FN(backward_row)(&p, 1, 1, grad_s, saved, v0, x, grad_x, gv, gk, t, N, n0, nb);
            else if (p.lean)
                FN(backward_row)(&p, 1, 0, grad_s, saved, v0, x, grad_x, gv, gk, t, N, n0, nb);
            else if (plif)
                FN(backward_row)(&p, 0, 1, grad_s, saved, v0, x, grad_x, gv, gk, t, N, n0, nb);
            else
                FN(backward_row)(&p, 0, 0, grad_s, saved, v0, x, grad_x, gv, gk, t, N, n0, nb);
        }
        for (int64_t j = 0; j < nb; j++) {
            grad_v0[n0 + j] = gv[j];
            if (plif)
                grad_k[n0 + j] = gk[j];
        }
    }
}
