/* tdi_seed: the one derivation of a random stream's seed from a config's master seed, a purpose
 * and an index (a step, an epoch, a module, a split, a sweep job). Invariant: the value depends on
 * (seed, purpose, index) only, so a resumed or re-run job repeats its streams. Purposes that
 * existed before this file keep their historical formula (same numbers as before); a new purpose
 * gets the splitmix64 mix below. Non-goals: the generators themselves (gsl_rng, Philox). */
#ifndef TDI_SEED_H
#define TDI_SEED_H

#include <stdint.h>

/* One entry per use. Values are part of the streams (the mix hashes them): never renumber.
 * G = 0x9E3779B97F4A7C15 (2^64 / golden ratio), mix(x) = the splitmix64 finaliser, arithmetic
 * mod 2^64. Formulas: docs/common.md. */
typedef enum tdi_seed_purpose {
    TDI_SEED_UNET_INIT = 1,   /* tdi-unet parameter initialisation; index 0 */
    TDI_SEED_UNET_PERM = 2,   /* tdi-unet minibatch permutation; index = epoch */
    TDI_SEED_UNET_STEP = 3,   /* tdi-unet per-step noise (t, epsilon); index = step */
    TDI_SEED_UNET_EVAL = 4,   /* tdi-unet evaluation draws; index = image block */
    TDI_SEED_UNET_SAMPLE = 5, /* tdi-unet sampling; index = image number */
    TDI_SEED_UNET_EXPORT = 6, /* tdi-unet activation export; index = split and block */
    TDI_SEED_UNET_BENCH = 7,  /* tdi-unet bench inputs; index 0 */
    TDI_SEED_SWEEP_JOB = 8,   /* tdi-sweep job seed; index = job index (1 .. 2^32-1) */
    TDI_SEED_SWEEP_SYNTH = 9, /* tdi-sweep synthetic activations; index 1 fit, 2 test split */
    TDI_SEED_FIT_MLP = 10,    /* tdi-fit interface MLPs; index 1 encoder, 2 translator */
    TDI_SEED_FIT_BATCH = 11,  /* tdi-fit minibatch order; seed = that MLP's seed, index 0 */
    TDI_SEED_GEN_LANCZOS = 12, /* tdi-gen Lanczos start vector; index 0 on M, 1 on M^-1 */
    TDI_SEED_GEN_LOWRANK = 13, /* tdi-gen low-rank intra factoring; index = module (0 enc) */
    TDI_SEED_COSIM_NOISE = 14, /* tdi-cosim thermal-noise key (Philox); index 0 */
    TDI_SEED_MISMATCH = 15,   /* device mismatch of one chip (Pelgrom draws); index = chip */
    TDI_SEED_DEVNOISE = 16,   /* transistor-level device noise (white + 1/f); index 0 */
    TDI_SEED_SSKIP = 17,      /* substrate-skip read-out noise in the U-Net; index = draw */
    TDI_SEED_TUNE = 18,       /* skip-aware fine-tune (minibatch, t, epsilon); index = step */
    TDI_SEED_NONIDEAL = 19,   /* a chip's behavioural non-idealities (Philox key); index = chip */
    TDI_SEED_SAMPLE_SSKIP = 20, /* sampling with substrate skips: the layer's seed at step t;
                                  index = t (the U-Net's time step) */
    TDI_SEED_CALIB = 21       /* tdi-cosim chip calibration: probe inputs and their read-out
                                 noise (Philox key); index = chip + 2^32 cosim.calib_draw */
} tdi_seed_purpose;

/* The seed of stream (purpose, index) under master seed `seed` (64 bits; purposes that feed
 * mt19937 are folded to 32 bits as before). */
uint64_t tdi_seed(uint64_t seed, tdi_seed_purpose purpose, uint64_t index);

/* A standard Gaussian of the counter (index, item) under key: Philox4x32-10 (Random123) of the
 * counter {index lo, index hi, item lo, item hi}, two 53-bit uniforms, Box-Muller. The one copy
 * of the draw that the co-simulator's noise stream (tdi_cosim_noise_gauss), the standalone PWL
 * noise (tdi_gen_noise_gauss) and a non-ideal chip's draws (tdi_gen_nonideal_gauss) share, so
 * their streams agree bit for bit. Stateless; any thread. */
double tdi_seed_gauss(uint64_t key, uint64_t item, uint64_t index);

#endif
