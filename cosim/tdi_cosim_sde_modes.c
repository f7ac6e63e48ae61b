/* tdi_cosim_sde_modes: the sde engine's fast path for the per_sample schedule when the circuit is
 * rc units with a symmetric G and one g_noise/C for every unit. In the eigenbasis of
 * C^-1/2 G C^-1/2 the noise is then isotropic, so each mode is an independent scalar step driven
 * by its own Gaussians, drawn directly in the mode basis (a different realisation of the same
 * process: docs/sde.md "Mode-basis fast path"). Unit voltages are formed only at ADC conversions;
 * E_bias is realised per tick, E_R is its exact expectation over the thermal noise given the
 * sample's bias (one quadratic form per sample, not per tick). Invariant: the tick, bias timing,
 * ADC and energy bookkeeping of tdi_cosim_exp's per-sample runs. Non-goals: waveforms, read-out
 * stage units, rlc units, the batch schedule (all on the general path). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <Random123/philox.h>
#include <gsl/gsl_blas.h>

#include "tdi_clock.h"
#include "tdi_cosim.h"

#define MG_TAG 0x6d6f6465u   /* counter word 3 ("mode"): apart from the unit stream's (j, u) */
#define MG_COUNTERS 32       /* Philox counters per block: 128 draws */
#define MG_DRAWS (4 * MG_COUNTERS)
#define MG_TWO_PI 6.28318530717958647692f
#define SM_COLS 128          /* samples per batch (rows of the mode matrix) */

/* ---------------------------------------------------------------- mode-basis Gaussians */
/* One counter's four words -> four draws (both outputs of two Box-Muller pairs), float:
 * u1 = ((w >> 1) + 1) 2^-31 in (0, 1] (|z| <= 6.6), u2 = (w >> 8) 2^-24. Positions in the block
 * of counter q = 4 v + l: cos of pair h at 16 v + 2 l + h, sin at 16 v + 8 + 2 l + h. */
static void mg_counter_scalar(uint64_t seed, uint64_t index, uint32_t q, float *z)
{
    philox4x32_ctr_t ctr = {{(uint32_t)index, (uint32_t)(index >> 32), q, MG_TAG}};
    philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    philox4x32_ctr_t r = philox4x32(ctr, key);
    uint32_t v = q / 4 % (MG_COUNTERS / 4), l = q % 4;
    for (uint32_t h = 0; h < 2; h++) {
        float u1 = ((float)(int32_t)(r.v[2 * h] >> 1) + 1.0f) * 0x1p-31f;
        float u2 = (float)(int32_t)(r.v[2 * h + 1] >> 8) * 0x1p-24f;
        float rad = sqrtf(-2.0f * logf(u1)), th = MG_TWO_PI * u2;
        z[16 * v + 2 * l + h] = rad * cosf(th);
        z[16 * v + 8 + 2 * l + h] = rad * sinf(th);
    }
}

static void mg_block_scalar(uint64_t seed, uint64_t index, uint32_t q0, float *z)
{
    for (uint32_t q = 0; q < MG_COUNTERS; q++)
        mg_counter_scalar(seed, index, q0 + q, z);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "tdi_cosim_philox.h"
/* glibc's libmvec, 8-lane float AVX2 variants (x86_64 vector function ABI names) */
__m256 _ZGVdN8v_logf(__m256 x);
__m256 _ZGVdN8v_cosf(__m256 x);
__m256 _ZGVdN8v_sinf(__m256 x);

/* 8 interleaved 4-lane Philox4x32-10 streams (one 32-bit word per 64-bit lane, as
 * tdi_cosim_noise.c), then each vector's words packed into 8 floats: lanes (c0, c2) -> u1,
 * (c1, c3) -> u2, 32-bit lane 2 l + h. The same values as mg_counter_scalar up to libmvec's
 * few ulp. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
mg_block_body(uint64_t seed, uint64_t index, uint32_t q0, float *z)
{
    enum { NV = MG_COUNTERS / 4 };
    __m256i c0[NV], c1[NV], c2[NV], c3[NV];
    for (int v = 0; v < NV; v++) {
        uint32_t q = q0 + 4 * (uint32_t)v;
        c0[v] = _mm256_set1_epi64x((uint32_t)index);
        c1[v] = _mm256_set1_epi64x((uint32_t)(index >> 32));
        c2[v] = _mm256_set_epi64x(q + 3, q + 2, q + 1, q);
        c3[v] = _mm256_set1_epi64x(MG_TAG);
    }
    tdi_cosim_philox10_avx2(c0, c1, c2, c3, NV, seed);
    const __m256 one = _mm256_set1_ps(1.0f), s31 = _mm256_set1_ps(0x1p-31f);
    const __m256 s24 = _mm256_set1_ps(0x1p-24f), m2 = _mm256_set1_ps(-2.0f);
    const __m256 tp = _mm256_set1_ps(MG_TWO_PI);
    for (int v = 0; v < NV; v++) {
        /* low 32 bits of c0 | c2 << 32 (high halves of the lanes may hold garbage) */
        __m256i w1 = _mm256_blend_epi32(c0[v], _mm256_slli_epi64(c2[v], 32), 0xAA);
        __m256i w2 = _mm256_blend_epi32(c1[v], _mm256_slli_epi64(c3[v], 32), 0xAA);
        __m256 u1 = _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w1, 1)),
                                                one), s31);
        __m256 u2 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w2, 8)), s24);
        __m256 rad = _mm256_sqrt_ps(_mm256_mul_ps(m2, _ZGVdN8v_logf(u1)));
        __m256 th = _mm256_mul_ps(tp, u2);
        _mm256_storeu_ps(z + 16 * v, _mm256_mul_ps(rad, _ZGVdN8v_cosf(th)));
        _mm256_storeu_ps(z + 16 * v + 8, _mm256_mul_ps(rad, _ZGVdN8v_sinf(th)));
    }
}

/* AVX-512VL only adds registers (the 8 interleaved streams stay in registers): same results */
#define MG_BLOCK_FN(name, tgt)                                                                 \
    __attribute__((target(tgt))) static void name(uint64_t seed, uint64_t index, uint32_t q0,  \
                                                  float *z)                                    \
    {                                                                                          \
        mg_block_body(seed, index, q0, z);                                                     \
    }
MG_BLOCK_FN(mg_block_avx2, "avx2,fma")
MG_BLOCK_FN(mg_block_avx512vl, "avx2,fma,avx512f,avx512vl")
#define MG_HAVE_AVX2 1
#endif

void tdi_cosim_sde_modes_gauss(uint64_t seed, uint64_t index, size_t cnt, int scalar, float *z)
{
    static int isa = -1; /* 0 scalar, 1 AVX2, 2 AVX2 with AVX-512VL's registers */
    if (isa < 0) {
        isa = 0;
#ifdef MG_HAVE_AVX2
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            isa = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") ? 2 : 1;
#endif
    }
    float pad[MG_DRAWS];
    for (size_t i = 0; i < cnt; i += MG_DRAWS) {
        float *dst = cnt - i >= MG_DRAWS ? z + i : pad; /* the tail goes through pad */
        uint32_t q0 = (uint32_t)(i / 4);
#ifdef MG_HAVE_AVX2
        if (!scalar && isa == 2)
            mg_block_avx512vl(seed, index, q0, dst);
        else if (!scalar && isa == 1)
            mg_block_avx2(seed, index, q0, dst);
        else
#endif
            mg_block_scalar(seed, index, q0, dst);
        if (dst == pad)
            memcpy(z + i, pad, sizeof(float) * (cnt - i));
    }
}

/* ---------------------------------------------------------------- setup */
typedef struct sm_model {
    size_t n, n_read;
    double h, sigma;     /* s; the noise's mode-basis scale amp_i / sqrt(C_i) (A / sqrt(F)) */
    double *e, *c0, *c1, *c2; /* (n) per-mode tick weights (tdi_cosim_sde_mode_weights) */
    double *s1, *s2;     /* (n) sigma c1, sigma c2: the weights of the mode Gaussians */
    double *V;           /* (n, n) V = C^-1/2 U: v = V a; a bias row b gives b V = (P b)^T, the
                            modes' drive (P = U^T C^-1/2 = V^T), and i_bias . v = (b V) . a */
    double *Vr;          /* (n, n_read) the read-out units' rows of V, transposed */
    double *Q;           /* (n, n) Q = V^T R V: resistor power a^T Q a */
    double *M;           /* (n, n) c0_i c0_j Q_ij F_ij (sm_expect): mean part of E_R = wb^T M wb */
    double er_noise;     /* J: the noise part of E[E_R], the same for every sample */
} sm_model;

static void sm_model_free(sm_model *m)
{
    double *p[] = {m->e, m->c0, m->c1, m->c2, m->s1, m->s2, m->V, m->Vr, m->Q, m->M};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
    memset(m, 0, sizeof *m);
}

/* Symmetry (tdi_cosim_sde_symmetric) to 1e-9 of G's largest entry: far above the rounding of a
 * netlist read-back or of the bus elimination (whose last bits depend on the BLAS's thread
 * count: a 64-ulp test flipped between runs of one sweep), far below any real one-way coupling;
 * the modes are those of G's symmetric part (tdi_cosim_circuit_modes). */
int tdi_cosim_sde_modes_applies(const tdi_cosim_circuit *c, const tdi_cosim_plan *pl,
                                const tdi_cosim_noise *nz, char *why, size_t len)
{
    const char *no = NULL;
    double s0 = nz->amp[0] / sqrt(c->cap[0]);
    if (pl->sde_general)
        no = "the general path was asked for (--sde-general)";
    else if (!c->rc_units || c->n_state > 0)
        no = "not rc units (the units are not the whole state)";
    else if (pl->stage_first > 0)
        no = "a read-out stage";
    else if (pl->n_wave > 0)
        no = "a waveform is recorded";
    else if (!tdi_cosim_sde_symmetric(c, 1e-9))
        no = "G is not symmetric";
    for (size_t i = 0; i < c->n && !no; i++) {
        if (!(c->cap[i] > 0))
            no = "a unit without capacitance";
        else if (c->r_rate[i] != 0)
            no = "a rate (damping) resistor";
        else if (fabs(nz->amp[i] / sqrt(c->cap[i]) - s0) > 1e-12 * s0)
            no = "g_noise/C differs between units";
    }
    if (why && len)
        snprintf(why, len, "%s", no ? no : "rc units, symmetric G, one g_noise/C");
    return !no;
}

/* Q = V^T R V with R = diag(r_unit) + r_map^T diag(r_g) r_map (tdi_cosim_resistor_power). */
static int sm_resistor_form(sm_model *m, const tdi_cosim_circuit *c)
{
    size_t n = m->n, nr = c->n_rmap;
    int ni = (int)n;
    size_t rows = nr > n ? nr : n;
    double *RV = malloc(sizeof(double) * rows * n), *MV = malloc(sizeof(double) * rows * n);
    m->Q = malloc(sizeof(double) * n * n);
    if (!RV || !MV || !m->Q) {
        free(RV);
        free(MV);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++)
            RV[i * n + k] = c->r_unit[i] * m->V[i * n + k];
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ni, ni, ni, 1.0, m->V, ni, RV, ni, 0.0,
                m->Q, ni);
    if (nr) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nr, ni, ni, 1.0, c->r_map, ni,
                    m->V, ni, 0.0, MV, ni);
        for (size_t r = 0; r < nr; r++)
            for (size_t k = 0; k < n; k++)
                RV[r * n + k] = c->r_g[r] * MV[r * n + k];
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ni, ni, (int)nr, 1.0, MV, ni, RV, ni,
                    1.0, m->Q, ni);
    }
    free(RV);
    free(MV);
    for (size_t i = 0; i < n; i++) /* symmetric to rounding: make it exact */
        for (size_t k = 0; k < i; k++)
            m->Q[i * n + k] = m->Q[k * n + i] = 0.5 * (m->Q[i * n + k] + m->Q[k * n + i]);
    return 0;
}

/* The expectation of E_R over the thermal noise, per sample from rest under a held bias b
 * (sm_run_batch), trapezoid weights w_t = h (1 <= t < L), h / 2 (t = L), p_0 = 0. Mode i:
 * a_i(t) = m_i(t) + n_i(t), the mean m_i(t) = c0_i wb_i f_i(t) with f_i(0) = 0,
 * f_i(t) = e_i f_i(t-1) + 1 (wb = V^T b), the noise n_i(t) = e_i n_i(t-1) + s1_i xi(t-1) +
 * s2_i xi(t), xi(0) = 0, zero-mean and independent between modes (isotropic: xi iid N(0, 1)
 * per mode), MA(1) within a mode: Var v_i(1) = s2^2, v_i(t) = e^2 v_i(t-1) + s1^2 + 2 e s1 s2
 * + s2^2 (Cov(n_i(t-1), xi(t-1)) = s2). So E[sum_t w_t a^T Q a] = wb^T M wb + er_noise with
 * M_ij = c0_i c0_j Q_ij F_ij, F_ij = sum_t w_t f_i(t) f_j(t) (a SYRK over row chunks of
 * sqrt(w_t) f(t): n^2 L flops once per run), er_noise = sum_i Q_ii sum_t w_t v_i(t). */
#define SM_CHUNK 256 /* ticks per SYRK */
static int sm_expect(sm_model *m, long L)
{
    size_t n = m->n;
    int ni = (int)n;
    double *F = calloc(n * n, sizeof(double)), *Fm = malloc(sizeof(double) * SM_CHUNK * n);
    double *f = calloc(n, sizeof(double)), *v = calloc(n, sizeof(double));
    m->M = malloc(sizeof(double) * n * n);
    if (!F || !Fm || !f || !v || !m->M) {
        free(F);
        free(Fm);
        free(f);
        free(v);
        return -1;
    }
    double h = m->h, en = 0;
    for (long t0 = 1; t0 <= L; t0 += SM_CHUNK) {
        long rows = L - t0 + 1 < SM_CHUNK ? L - t0 + 1 : SM_CHUNK;
        for (long r = 0; r < rows; r++) {
            long t = t0 + r;
            double w = t < L ? h : 0.5 * h, sw = sqrt(w);
            for (size_t i = 0; i < n; i++) {
                f[i] = m->e[i] * f[i] + 1.0;
                Fm[r * ni + (long)i] = sw * f[i];
                double s1 = m->s1[i], s2 = m->s2[i];
                v[i] = t == 1 ? s2 * s2
                              : m->e[i] * m->e[i] * v[i] + s1 * s1 + 2 * m->e[i] * s1 * s2 +
                                    s2 * s2;
                en += w * m->Q[i * n + i] * v[i];
            }
        }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, ni, (int)rows, 1.0, Fm, ni, 1.0, F,
                    ni);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i; j < n; j++)
            m->M[i * n + j] = m->M[j * n + i] =
                m->c0[i] * m->c0[j] * m->Q[i * n + j] * F[i * n + j];
    m->er_noise = en;
    free(F);
    free(Fm);
    free(f);
    free(v);
    return 0;
}

/* The modes in a canonical order and sign, so that mode k gets the same Gaussians whatever the
 * eigensolver's order and signs (they move when G changes in its last bits, e.g. with the BLAS
 * thread count of the bus elimination): ascending eigenvalue, and each eigenvector's
 * projection on a fixed generic vector (Gaussian entries) positive. Only a set of modes
 * degenerate to rounding can still change its realisation (not its law). U: (n, n) columns. */
static int sm_canonical(size_t n, double *lam, double *U)
{
    size_t *ix = malloc(sizeof(size_t) * n);
    double *l2 = malloc(sizeof(double) * n), *U2 = malloc(sizeof(double) * n * n);
    double *w = malloc(sizeof(double) * n);
    if (!ix || !l2 || !U2 || !w) {
        free(ix);
        free(l2);
        free(U2);
        free(w);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        w[i] = tdi_cosim_noise_gauss(0x5eed, i, 1);
    for (size_t k = 0; k < n; k++)
        ix[k] = k;
    for (size_t i = 1; i < n; i++) /* insertion sort by eigenvalue */
        for (size_t j = i; j > 0 && lam[ix[j - 1]] > lam[ix[j]]; j--) {
            size_t t = ix[j];
            ix[j] = ix[j - 1];
            ix[j - 1] = t;
        }
    for (size_t k = 0; k < n; k++) {
        double proj = 0;
        for (size_t i = 0; i < n; i++)
            proj += U[i * n + ix[k]] * w[i];
        double sg = proj < 0 ? -1.0 : 1.0;
        l2[k] = lam[ix[k]];
        for (size_t i = 0; i < n; i++)
            U2[i * n + k] = sg * U[i * n + ix[k]];
    }
    memcpy(lam, l2, sizeof(double) * n);
    memcpy(U, U2, sizeof(double) * n * n);
    free(ix);
    free(l2);
    free(U2);
    free(w);
    return 0;
}

static int sm_model_init(sm_model *m, const tdi_cosim_circuit *c, const tdi_cosim_plan *pl,
                         const tdi_cosim_noise *nz, tdi_err *err)
{
    size_t n = c->n, nr = pl->n_read;
    memset(m, 0, sizeof *m);
    m->n = n;
    m->n_read = nr;
    m->h = pl->tick;
    m->sigma = nz->amp[0] / sqrt(c->cap[0]);
    double *lam = malloc(sizeof(double) * n), *U = malloc(sizeof(double) * n * n);
    double **arr[] = {&m->e, &m->c0, &m->c1, &m->c2, &m->s1, &m->s2};
    for (size_t q = 0; q < 6; q++)
        *arr[q] = malloc(sizeof(double) * n);
    m->V = malloc(sizeof(double) * n * n);
    m->Vr = malloc(sizeof(double) * n * nr);
    int rc = 0;
    if (!lam || !U || !m->e || !m->c0 || !m->c1 || !m->c2 || !m->s1 || !m->s2 || !m->V || !m->Vr) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = tdi_cosim_circuit_modes(c, n, lam, U, err))) {
        tdi_err_prefix(err, "sde (mode basis)");
        goto done;
    }
    if (sm_canonical(n, lam, U)) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < n; k++) {
        tdi_cosim_sde_mode_weights(lam[k], m->h, &m->e[k], &m->c0[k], &m->c1[k], &m->c2[k]);
        m->s1[k] = m->sigma * m->c1[k];
        m->s2[k] = m->sigma * m->c2[k];
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++)
            m->V[i * n + k] = U[i * n + k] / sqrt(c->cap[i]);
    for (size_t k = 0; k < n; k++)
        for (size_t r = 0; r < nr; r++)
            m->Vr[k * nr + r] = m->V[pl->read[r] * n + k];
    if (sm_resistor_form(m, c))
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
done:
    free(lam);
    free(U);
    return rc;
}

/* ---------------------------------------------------------------- one batch of samples */
typedef struct sm_batch {
    size_t cols;
    double *A;       /* (cols, n) modes */
    double *Cb;      /* (cols, n) c0 (P b): the held bias's drive per tick */
    double *Wb;      /* (cols, n) V^T b: i_bias . v = Wb . a */
    double *Y;       /* (cols, n) scratch: Wb M (E_R, once per batch) */
    double *VR;      /* (cols, n_read) read-out voltages at a conversion */
    float *X0, *X1;  /* (cols, n) mode Gaussians of this tick and the next */
    double *pb;      /* (cols) bias power at the previous tick */
} sm_batch;

static void sm_batch_free(sm_batch *q)
{
    void *p[] = {q->A, q->Cb, q->Wb, q->Y, q->VR, q->X0, q->X1, q->pb};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
}

static int sm_batch_alloc(sm_batch *q, size_t n, size_t nr, size_t cols)
{
    memset(q, 0, sizeof *q);
    size_t m = cols * n;
    q->A = calloc(m, sizeof(double));
    q->Cb = calloc(m, sizeof(double));
    q->Wb = calloc(m, sizeof(double));
    q->Y = calloc(m, sizeof(double));
    q->VR = calloc(cols * nr, sizeof(double));
    q->X0 = calloc(m, sizeof(float));
    q->X1 = calloc(m, sizeof(float));
    q->pb = calloc(cols, sizeof(double));
    return q->A && q->Cb && q->Wb && q->Y && q->VR && q->X0 && q->X1 && q->pb ? 0 : -1;
}

/* One tick of every row: a = e a + c0 P b + s1 xi_k + s2 xi_k+1 (s1,2 = sigma c1,2). */
__attribute__((target_clones("avx2", "default"))) static void
sm_step(const sm_model *m, sm_batch *q, int noisy)
{
    size_t n = m->n;
    const double *restrict e = m->e, *restrict s1 = m->s1, *restrict s2 = m->s2;
    for (size_t c = 0; c < q->cols; c++) {
        double *restrict a = q->A + c * n;
        const double *restrict cb = q->Cb + c * n;
        const float *restrict x0 = q->X0 + c * n, *restrict x1 = q->X1 + c * n;
        if (noisy) {
#pragma omp simd
            for (size_t k = 0; k < n; k++)
                a[k] = e[k] * a[k] + cb[k] + (s1[k] * (double)x0[k] + s2[k] * (double)x1[k]);
        } else {
#pragma omp simd
            for (size_t k = 0; k < n; k++)
                a[k] = e[k] * a[k] + cb[k];
        }
    }
}

/* sum_k x_k y_k (vectorised: the order of the sum is fixed per build and machine) */
__attribute__((target_clones("avx2", "default"))) static double
sm_dot(const double *restrict x, const double *restrict y, size_t n)
{
    double d = 0;
#pragma omp simd reduction(+ : d)
    for (size_t k = 0; k < n; k++)
        d += x[k] * y[k];
    return d;
}

/* E[E_R] of every row (sm_expect): wb^T M wb + er_noise, one (cols x n)(n x n) GEMM. */
static void sm_resistor_energy(const sm_model *m, sm_batch *q, double *e_r)
{
    int ni = (int)m->n;
    cblas_dsymm(CblasRowMajor, CblasRight, CblasUpper, (int)q->cols, ni, 1.0, m->M, ni, q->Wb, ni,
                0.0, q->Y, ni);
    for (size_t c = 0; c < q->cols; c++)
        e_r[c] += sm_dot(q->Y + c * m->n, q->Wb + c * m->n, m->n) + m->er_noise;
}

/* Samples s_base .. s_base + cols - 1, each a run of L ticks from rest (tdi_cosim_exp's
 * per-sample runs): E_bias by the trapezoid rule, E_R its expectation (sm_resistor_energy), ADC
 * conversions after the settling ticks. */
static int sm_run_batch(const sm_model *m, const tdi_cosim_plan *pl, const tdi_cosim_noise *nz,
                        long L, size_t s_base, sm_batch *q, tdi_cosim_out *out, long *n_acc)
{
    size_t n = m->n, nr = m->n_read, cols = q->cols;
    int ni = (int)n;
    int noisy = m->sigma != 0;
    double h = pl->tick, *pb1 = malloc(sizeof(double) * cols);
    if (!pb1)
        return TDI_ENOMEM;
    const double *B = out->bias_q + s_base * n; /* each run holds its sample's bias */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cols, ni, ni, 1.0, B, ni, m->V, ni,
                0.0, q->Wb, ni);
    for (size_t c = 0; c < cols; c++)
        for (size_t k = 0; k < n; k++)
            q->Cb[c * n + k] = m->c0[k] * q->Wb[c * n + k];
    sm_resistor_energy(m, q, out->e_r + s_base);
    memset(q->A, 0, sizeof(double) * cols * n);
    memset(q->X0, 0, sizeof(float) * cols * n); /* noise sample 0 is 0 */
    memset(q->pb, 0, sizeof(double) * cols);   /* tick 0: v = 0 */
    for (long k = 1; k <= L; k++) {
        if (noisy)
            for (size_t c = 0; c < cols; c++)
                tdi_cosim_sde_modes_gauss(nz->seed, (uint64_t)((long)(s_base + c) * L + k), n, 0,
                                          q->X1 + c * n);
        sm_step(m, q, noisy);
        float *t = q->X0;
        q->X0 = q->X1;
        q->X1 = t;
        for (size_t c = 0; c < cols; c++) {
            pb1[c] = sm_dot(q->Wb + c * n, q->A + c * n, n);
            out->e_bias[s_base + c] += 0.5 * h * (q->pb[c] + pb1[c]);
        }
        memcpy(q->pb, pb1, sizeof(double) * cols);
        long a = k - pl->settle_ticks;
        if (a > 0 && a % pl->adc_stride == 0) {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cols, (int)nr, ni, 1.0,
                        q->A, ni, m->Vr, (int)nr, 0.0, q->VR, (int)nr);
            for (size_t c = 0; c < cols; c++) {
                double *e = out->est + (s_base + c) * nr;
                for (size_t r = 0; r < nr; r++)
                    e[r] += tdi_cosim_quantize(q->VR[c * nr + r], pl->adc_bits, pl->adc_fs);
                n_acc[s_base + c]++;
                out->n_adc += (long)nr;
            }
        }
    }
    free(pb1);
    return 0;
}

int tdi_cosim_sde_modes_run(const tdi_cosim_circuit *c, const tdi_cosim_plan *pl,
                            const tdi_cosim_noise *nz, long L, tdi_cosim_out *out, long *n_acc,
                            tdi_err *err)
{
    if (!tdi_cosim_sde_modes_applies(c, pl, nz, NULL, 0) || L < 1 || nz->n != c->n)
        return tdi_err_set(err, TDI_EARG, "sde (mode basis): the circuit or plan does not "
                           "qualify");
    size_t ns = pl->n_samples;
    sm_model m;
    sm_batch q;
    memset(&q, 0, sizeof q);
    /* the set-up (O(n^3) once) is outside the run's time, as tdi_cosim_sde_alloc's */
    int rc = sm_model_init(&m, c, pl, nz, err);
    if (!rc && sm_batch_alloc(&q, c->n, pl->n_read, ns < SM_COLS ? ns : SM_COLS))
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
    double cpu0 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID), wall0 = tdi_clock_s(CLOCK_MONOTONIC);
    if (!rc && sm_expect(&m, L)) /* n^2 L flops once: inside the run's time */
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
    for (size_t s0 = 0; s0 < ns && !rc; s0 += SM_COLS) {
        q.cols = ns - s0 < SM_COLS ? ns - s0 : SM_COLS;
        if (sm_run_batch(&m, pl, nz, L, s0, &q, out, n_acc))
            rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        out->st.ticks_hit += (L + 1) * (long)q.cols;
        out->st.points += (L + 1) * (long)q.cols;
    }
    sm_batch_free(&q);
    sm_model_free(&m);
    out->sde_modes = !rc;
    out->st.cpu_s += tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    out->st.wall_s += tdi_clock_s(CLOCK_MONOTONIC) - wall0;
    return rc;
}

typedef struct sm_lim_arg {
    size_t n, cols;
    double *a, *l;
    float *z;
} sm_lim_arg;

static void sm_lim_trmm(void *p)
{
    sm_lim_arg *g = p;
    cblas_dtrmm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, (int)g->cols,
                (int)g->n, 1.0, g->l, (int)g->n, g->a, (int)g->n);
}

static void sm_lim_noise(void *p)
{
    sm_lim_arg *g = p;
    for (size_t c = 0; c < g->cols; c++)
        tdi_cosim_sde_modes_gauss(1, (uint64_t)c + 1, g->n, 0, g->z + c * g->n);
}

int tdi_cosim_sde_modes_limits(size_t n, size_t cols, double seconds, double *gflops_trmm,
                               double *ns_draw, tdi_err *err)
{
    sm_lim_arg g = {n, cols, malloc(sizeof(double) * cols * n), malloc(sizeof(double) * n * n),
                    malloc(sizeof(float) * cols * n)};
    if (!g.a || !g.l || !g.z) {
        free(g.a);
        free(g.l);
        free(g.z);
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < cols * n; i++)
        g.a[i] = 1e-3 * (double)(i % 97);
    for (size_t i = 0; i < n * n; i++) /* a lower factor of norm ~1: a stays bounded */
        g.l[i] = i / n == i % n ? 1.0 : 1e-3 * (double)(i % 89) / (double)n;
    double t = tdi_clock_per_call(sm_lim_trmm, &g, seconds);
    *gflops_trmm = (double)(cols * n * n) / t * 1e-9; /* n^2 flops per row */
    *ns_draw = tdi_clock_per_call(sm_lim_noise, &g, seconds) / (double)(cols * n) * 1e9;
    free(g.a);
    free(g.l);
    free(g.z);
    return 0;
}
