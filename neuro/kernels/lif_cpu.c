/* CPU loops of the fused neuron kernels (OpenMP over tiles of neurons).
 *
 * Pasted by neuro/kernels/source.py after lif_core.h, once per REAL. Tensors are contiguous: x,
 * spikes and grad_x [T, N], the state [S, N] (V, then A or I), saved [R, T, N]. Each thread takes
 * one contiguous tile of neurons (its share, at most TILE) and walks time over all of it: the loop
 * over the tile is innermost (SIMD), and each row of a tile is one long sequential stream, which
 * the hardware prefetcher follows; short rows (the old 256-neuron blocks) left it retraining at
 * every row and ran 1.8x slower. The running state lives in the output state tensor itself
 * (forward) and in the output gradient of the initial state (backward), so nothing else is
 * allocated. saved holds H_t (and ALIF's threshold) in REAL or, in lean mode, H_t - theta_t (and
 * the threshold) rounded to bf16 (uint16_t); nothing when no backward will run (MODE_NO_SAVE).
 * The kind, decay_input and what is saved are constants in each call of the always-inline tile
 * functions below, so every combination gets its own vectorised loop without branches.
 */

#define ALWAYS_INLINE static inline __attribute__((always_inline))
#define STORE_NONE 0
#define STORE_EXACT 1
#define STORE_LEAN 2

/* Tiles: each thread's share of the N neurons, rounded up to 16 (one cache line of floats), at most TILE. */
static int64_t tile_size(int64_t N, int threads)
{
    int64_t tile = (N + threads - 1) / threads;
    tile = (tile + 15) / 16 * 16;
    return tile < 16 ? 16 : (tile > TILE ? TILE : tile);
}

/* The tile functions take a local copy of the parameters: read through a pointer, they could alias
 * the stores of the loop, so the compiler reloaded them (and branched on the reset mode) in every
 * iteration, and the PLIF reverse loop did not vectorise at all. */
ALWAYS_INLINE void FN(forward_tile)(const FN(lif_params) *params, const int kind, const int decay, const int store,
                                    const REAL *x, REAL *spikes, REAL *v, REAL *aux, void *saved, int64_t T,
                                    int64_t N, int64_t n0, int64_t nb)
{
    const FN(lif_params) local = *params, *p = &local;
    for (int64_t t = 0; t < T; t++) {
        const int64_t o = t * N + n0;
#pragma omp simd
        for (int64_t j = 0; j < nb; j++) {
            REAL h, th, a = kind == KIND_ALIF || kind == KIND_CUBA ? aux[j] : (REAL)0;
            const REAL y = FN(forward_step)(p, kind, decay, x[o + j], &v[j], &a, &h, &th);
            spikes[o + j] = y >= 0 ? (REAL)1 : (REAL)0;
            if (kind == KIND_ALIF || kind == KIND_CUBA)
                aux[j] = a;
            if (store == STORE_EXACT) {
                ((REAL *)saved)[o + j] = h;
                if (kind == KIND_ALIF)
                    ((REAL *)saved)[T * N + o + j] = th;
            } else if (store == STORE_LEAN) {
                ((uint16_t *)saved)[o + j] = bf16_from_float((float)(y + (REAL)0)); /* -0 -> +0: sign = spike */
                if (kind == KIND_ALIF)
                    ((uint16_t *)saved)[T * N + o + j] = bf16_from_float((float)th);
            }
        }
    }
}

#define FWD_STORES(kind, decay)                                                                                   \
    (store == STORE_NONE    ? FN(forward_tile)(&p, kind, decay, STORE_NONE, x, spikes, v, aux, saved, T, N, n0, nb) \
     : store == STORE_LEAN ? FN(forward_tile)(&p, kind, decay, STORE_LEAN, x, spikes, v, aux, saved, T, N, n0, nb) \
                           : FN(forward_tile)(&p, kind, decay, STORE_EXACT, x, spikes, v, aux, saved, T, N, n0, nb))

void FN(neuro_lif_fwd)(const REAL *x, const REAL *state0, REAL *spikes, REAL *state_last, void *saved, int64_t T,
                       int64_t N, const double *kp, double tau, double vth, double vr, double tau2, double c1,
                       double c2, double c3, int mode, int threads)
{
    const FN(lif_params) p = FN(make_params)(kp, tau, vth, vr, tau2, c1, c2, c3, mode);
    const int two_states = p.kind == KIND_ALIF || p.kind == KIND_CUBA;
    const int store = !p.save ? STORE_NONE : p.lean ? STORE_LEAN : STORE_EXACT;
    const int64_t tile = tile_size(N, threads);
    const int64_t ntiles = (N + tile - 1) / tile;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && T * N >= PARALLEL_MIN)
    for (int64_t b = 0; b < ntiles; b++) {
        const int64_t n0 = b * tile;
        const int64_t nb = N - n0 < tile ? N - n0 : tile;
        REAL *v = state_last + n0, *aux = two_states ? state_last + N + n0 : v;
        memcpy(v, state0 + n0, (size_t)nb * sizeof(REAL));
        if (two_states)
            memcpy(aux, state0 + N + n0, (size_t)nb * sizeof(REAL));
        switch (KIND_ONLY) {
        case KIND_IF:
            FWD_STORES(KIND_IF, 0);
            break;
        case KIND_LIF:
            p.decay ? FWD_STORES(KIND_LIF, 1) : FWD_STORES(KIND_LIF, 0);
            break;
        case KIND_PLIF:
            p.decay ? FWD_STORES(KIND_PLIF, 1) : FWD_STORES(KIND_PLIF, 0);
            break;
        case KIND_ALIF:
            p.decay ? FWD_STORES(KIND_ALIF, 1) : FWD_STORES(KIND_ALIF, 0);
            break;
        default:
            FWD_STORES(KIND_CUBA, 0);
        }
    }
}
#undef FWD_STORES

/* H_t, the threshold, H_t - theta_t and S_t of element i, from the saved tensor. */
ALWAYS_INLINE void FN(load_saved)(const FN(lif_params) *p, const int kind, const int lean, const void *saved,
                                  int64_t TN, int64_t i, REAL *h, REAL *th, REAL *y, REAL *s)
{
    if (lean) {
        const uint16_t bits = ((const uint16_t *)saved)[i];
        *th = kind == KIND_ALIF ? (REAL)float_from_bf16(((const uint16_t *)saved)[TN + i]) : p->vth;
        *y = (REAL)float_from_bf16(bits);
        *h = *y + *th;
        *s = (bits & 0x8000u) ? (REAL)0 : (REAL)1; /* the sign of H - theta is the spike */
    } else {
        *h = ((const REAL *)saved)[i];
        *th = kind == KIND_ALIF ? ((const REAL *)saved)[TN + i] : p->vth;
        *y = RND(*h - (kind == KIND_ALIF ? *th : p->vth_sub));
        *s = *y >= 0 ? (REAL)1 : (REAL)0;
    }
}

/* The reverse pass over one tile: gv, ga and gk are the tile's slices of grad_state0 and grad_k. */
ALWAYS_INLINE void FN(backward_tile)(const FN(lif_params) *params, const int kind, const int lean,
                                     const REAL *grad_s, const void *saved, const REAL *v0, const REAL *x,
                                     REAL *grad_x, REAL *gv, REAL *ga, REAL *gk, int64_t T, int64_t N, int64_t n0,
                                     int64_t nb)
{
    const FN(lif_params) local = *params, *p = &local;
    const int64_t TN = T * N;
    for (int64_t t = T - 1; t >= 0; t--) {
        const int64_t o = t * N + n0;
        const int64_t o_prev = t > 0 ? o - N : o;
#pragma omp simd
        for (int64_t j = 0; j < nb; j++) {
            REAL h, th, y, s, gx, a = kind == KIND_ALIF || kind == KIND_CUBA ? ga[j] : (REAL)0;
            FN(load_saved)(p, kind, lean, saved, TN, o + j, &h, &th, &y, &s);
            const REAL gh = FN(backward_step)(p, kind, grad_s[o + j], h, th, y, s, &gv[j], &a, &gx);
            grad_x[o + j] = gx;
            if (kind == KIND_ALIF || kind == KIND_CUBA)
                ga[j] = a;
            if (kind == KIND_PLIF) { /* V_{t-1}: recomputed from step t-1, or v0; both loaded, then a
                                      * select (a conditional load would stop the vectoriser) */
                REAL hp, thp, yp, sp;
                FN(load_saved)(p, kind, lean, saved, TN, o_prev + j, &hp, &thp, &yp, &sp);
                const REAL recomputed = FN(reset)(p, hp, sp, p->vth_mul), first = v0[j];
                gk[j] += gh * FN(dh_dk)(p, x[o + j], t > 0 ? recomputed : first);
            }
        }
    }
}

#define BWD_LEAN(kind)                                                                                             \
    (p.lean ? FN(backward_tile)(&p, kind, 1, grad_s, saved, v0, x, grad_x, gv, ga, gk, T, N, n0, nb)                 \
            : FN(backward_tile)(&p, kind, 0, grad_s, saved, v0, x, grad_x, gv, ga, gk, T, N, n0, nb))

/* grad_state_last may be NULL (no gradient reached it); v0 (state0's V) and x are read by
 * ParametricLIF only, which also writes grad_k[n] = sum over t of dL/dk for neuron n. */
void FN(neuro_lif_bwd)(const REAL *grad_s, const REAL *grad_state_last, const void *saved, const REAL *state0,
                       const REAL *x, REAL *grad_x, REAL *grad_state0, REAL *grad_k, int64_t T, int64_t N,
                       const double *kp, double tau, double vth, double vr, double tau2, double c1, double c2,
                       double c3, int mode, int threads)
{
    const FN(lif_params) p = FN(make_params)(kp, tau, vth, vr, tau2, c1, c2, c3, mode);
    const int two_states = p.kind == KIND_ALIF || p.kind == KIND_CUBA;
    const int64_t tile = tile_size(N, threads);
    const int64_t ntiles = (N + tile - 1) / tile;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && T * N >= PARALLEL_MIN)
    for (int64_t b = 0; b < ntiles; b++) {
        const int64_t n0 = b * tile;
        const int64_t nb = N - n0 < tile ? N - n0 : tile;
        REAL *gv = grad_state0 + n0, *ga = two_states ? grad_state0 + N + n0 : gv;
        REAL *gk = grad_k ? grad_k + n0 : gv;
        const REAL *v0 = state0 + n0;
        for (int64_t j = 0; j < nb; j++) {
            gv[j] = grad_state_last ? grad_state_last[n0 + j] : (REAL)0;
            if (two_states)
                ga[j] = grad_state_last ? grad_state_last[N + n0 + j] : (REAL)0;
            if (p.kind == KIND_PLIF)
                gk[j] = 0;
        }
        switch (KIND_ONLY) {
        case KIND_IF:
            BWD_LEAN(KIND_IF);
            break;
        case KIND_LIF:
            BWD_LEAN(KIND_LIF);
            break;
        case KIND_PLIF:
            BWD_LEAN(KIND_PLIF);
            break;
        case KIND_ALIF:
            BWD_LEAN(KIND_ALIF);
            break;
        default:
            BWD_LEAN(KIND_CUBA);
        }
    }
}
#undef BWD_LEAN
