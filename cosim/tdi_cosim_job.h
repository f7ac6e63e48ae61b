/* tdi_cosim_job: the state of one tdi-cosim job as it passes through its stages (internal to
 * cosim/; docs/cosim.md "Stages"). tdi_cosim_app.c runs them in order: load, circuit, digital
 * interface, plan, engines, metrics, read-out error, energy ledger, report. Each stage reads
 * what the earlier ones filled and fills its own block below; tdi_cosim_app.c frees it all.
 * Every stage returns 0 or a negative TDI_E* code with the message in err.
 * Non-goals: a public API (tdi_cosim.h is that); the engines themselves. */
#ifndef TDI_COSIM_JOB_H
#define TDI_COSIM_JOB_H

#include <stdio.h>

#include "tdi_cosim.h"
#include "tdi_gen.h"
#include "tdi_metrics.h"

/* One row of the table: an engine (index = tdi_cosim_kind) or a baseline (TDI_COSIM_ROW_*). */
typedef struct tdi_cosim_row {
    int have;
    size_t n;             /* samples it was evaluated on */
    double *pred;         /* (ns, D) in simulation units, after gain */
    tdi_metrics m;        /* over its n samples */
    double *cp, *cc, *r2; /* (ns) per-sample metrics */
} tdi_cosim_row;

/* The analog read-out stage's predicted variances and its share of the dissipation. */
typedef struct tdi_cosim_stage_pred {
    double var_sub, var_own; /* V^2, mean over decoder units: filtered substrate, stage noise */
    double E_R_stage;        /* J per inference: g_ro v_r^2 of the stage units */
} tdi_cosim_stage_pred;

/* The energy ledger, J per inference (one sample), docs/physics.md 7. */
typedef struct tdi_cosim_ledger {
    int engine;          /* tdi_cosim_kind whose waveforms the terms come from */
    double T_inf;        /* s: time to solution per sample */
    double E_bias, E_R, E_active, E_dac, E_adc, E_conv, E_digital, E_wread, E_total, E_kT;
    double n_adc;        /* ADC conversions per sample */
    double E_digeq, E_digeq_f; /* the digital-equivalent job, and its folded lower bound */
    double r_digeq, r_fold;    /* E_total over those (0 when the digital side is free) */
    double gpu_part;     /* J: the replaced part of a GPU U-Net step */
    /* measured supplies (transistor level: cc->n_supply > 0; else 0): supply s of cc (Vdd,
       Vbias, Vcm), V_s times the charge it delivered, per inference; from the spice runs, or
       when spice did not run from the realised matrix's rest op (supply_op = 1: its power
       times T_inf) */
    size_t n_supply;
    int supply_op;
    double E_supply[TDI_COSIM_MAX_SUPPLY]; /* J per inference */
    double P_supply[TDI_COSIM_MAX_SUPPLY]; /* W: mean power over the spice runs (or at the op) */
} tdi_cosim_ledger;

/* The transistor-level comparison (docs/cosim.md "Transistor level"): every prediction of the
 * decoder outputs on spice's samples, against the truth and against spice on the transistors.
 * Lines in TDI_COSIM_MOS_* order (tdi_cosim_mos_row_name). */
enum { TDI_COSIM_MOS_ANA_DESIGN, TDI_COSIM_MOS_SPICE_IDEAL, TDI_COSIM_MOS_ANA_G,
       TDI_COSIM_MOS_ANA_OFF, TDI_COSIM_MOS_SDE, TDI_COSIM_MOS_SPICE, TDI_COSIM_MOS_NROW };
typedef struct tdi_cosim_mos_row {
    int have;
    const double *est;    /* (n, D) V: decoder estimates (not owned) */
    tdi_metrics m;        /* over the n samples, after gain */
    double rms_vs_spice;  /* V: rms over samples and decoder units of est - spice's (NAN: no
                             spice run) */
} tdi_cosim_mos_row;
typedef struct tdi_cosim_mos_cmp {
    size_t n;                          /* samples (spice's, else all) */
    tdi_cosim_mos_row row[TDI_COSIM_MOS_NROW];
    double *est_g;                     /* (n, D) V: analytic (extracted G) = analytic - v_off */
    tdi_cosim_out ideal[3];            /* the ideal-element netlist: analytic (design G), -,
                                          spice (index = tdi_cosim_kind) */
    double ideal_wall;                 /* s: its spice run */
} tdi_cosim_mos_cmp;
extern const char *const tdi_cosim_mos_row_name[TDI_COSIM_MOS_NROW]; /* the table's */
extern const char *const tdi_cosim_mos_row_key[TDI_COSIM_MOS_NROW];  /* results.json's */

/* cosim.chips (tdi_cosim_chips.c): one line per chip of the Monte Carlo over mismatch. */
typedef struct tdi_cosim_chip {
    long chip;                    /* circuit.chip of this draw */
    double rel_fro, asym;         /* the realised matrix against gu M (tdi_cosim_realised) */
    double i_rest_rms;            /* A: rms over units of the rest currents (circuit.mos_trim:
                                     the residual after the chip's own trim) */
    double trim_untrimmed_rms;    /* A: circuit.mos_trim: the chip's rest currents before its
                                     trim (0 without) */
    double trim_rms, trim_W;      /* A, W: its trim currents' rms, sum |I_trim| Vdd (0 without) */
    double off_rms;               /* V: rms over units of G^-1 i_rest (predicted rest offset) */
    double cc_ana, cc_ana_g;      /* centered cosine: analytic (G + offsets), (extracted G) */
    double cc_sde, cc_spice;      /* NAN when not run */
    double rms_spice;             /* V: spice's decoder outputs against analytic (G + offsets),
                                     rms over its samples and units (NAN: no spice) */
    double r2_ana;                /* R^2 of analytic (G + offsets) */
    double wall_s;                /* s: the chip's generation, extraction and engines */
} tdi_cosim_chip;

/* cosim.calibrate (tdi_cosim_calib.c, docs/nonideal.md "Calibration"): the chip's measured map,
 * the retrained skip digital side, its rows and its cost. */
typedef struct tdi_cosim_calib {
    int mode;                  /* 1 probe, 2 loop */
    long probes, iters;        /* probe inferences; loop iterations (probe: 1) */
    double amp_enc, amp_dec;   /* probe drive std (simulation units): encoder, decoder units */
    double t_circuit;          /* s: every probe's time to solution */
    double E_probe;            /* J: every probe's analog and converter energy */
    double macs;               /* digital MACs of the fit and retrain (leading terms) */
    double map_err;            /* probe: |H_fit - H_chip|_F / |H_chip|_F, H_chip the circuit's
                                  own map G^-1 (DAC to decoder, no converters); loop: NAN */
    double enc_rel;            /* |Delta|_F / |W2|_F: the encoder's correction */
    double bias_rms;           /* rms over decoder units of c' - c (simulation units) */
    size_t dac_clip;           /* calibrated biases beyond the DAC's full scale (clipped) */
    long macs_iface;           /* the calibrated interface's MACs per inference (with the output
                                  correction's) */
    int out;                   /* output correction: 0 none, 1 affine, 2 full */
    long macs_out;             /* its MACs per inference (full: 2Dk + D; affine: 2D) */
    double out_rel;            /* |K - I|_F / |I|_F of the correction K */
    tdi_cosim_row row[TDI_COSIM_NCAL]; /* pred and m only (cp, cc, r2 NULL) */
    double wall_s;             /* s: probes, fit and the calibrated engines */
} tdi_cosim_calib;

typedef struct tdi_cosim_job {
    /* inputs */
    const tdi_cosim_cfg *cfg_in; /* as given (the paper's-kT row runs with it) */
    tdi_cosim_cfg cfg;           /* cfg_in with the operating point's window and ADC */
    const tdi_gen_config *gen;   /* circuit config given as a struct; NULL: from cfg->path */
    FILE *rep;                   /* the table; may be NULL */
    char odir[1100];             /* <out>/cosim */
    char bdir[1100];             /* the substrate bundle */
    /* load */
    tdi_gen_config gcfg;
    tdi_gen_bundle b;
    int have_bundle;
    size_t D, N, s0, ns;         /* read-out units (two modules: units per module), units
                                    (two modules: 2D), first sample, samples */
    size_t o, L;                 /* first read-out unit (two modules: D); U-Net levels (the
                                    bundle's tdi_gen_bundle_levels; two modules: 1) */
    int skip;                    /* bundle mode skip */
    double *x, *truth;           /* (b.n, N - D), (b.n, D) */
    double *mean_fit, *gain;     /* (D) */
    double *ew1, *eb1, *ew2, *eb2, *tw1, *tb1, *tw2, *tb2; /* paper interface, tdi_cosim.h */
    /* circuit */
    tdi_gen_circuit *gc;
    const tdi_gen_phys *ph;      /* &gc->phys */
    tdi_cosim_timing tm;
    tdi_cosim_circuit *cc;
    size_t NT;                   /* units incl. the read-out stage's */
    /* digital interface */
    double *bsim;                /* (ns, N) b = [b_enc; b_dec] in simulation units (levels: the
                                    encoders' then the decoders') */
    double *ibias;               /* (ns, NT) A; the stage units' bias stays 0 */
    const char *iface;           /* its name in the report */
    int projected;               /* skip: b_enc = W2 (W1 x) */
    long macs;                   /* per sample */
    tdi_cosim_digeq dq;
    /* plan */
    double dac_fs_units, dac_fs, adc_fs; /* units, A, V */
    size_t *read;                /* (D) units the ADC reads */
    size_t wave[16];
    int sched_batch[3];          /* per engine: 1 batch, 0 per sample */
    tdi_cosim_plan pl;
    tdi_cosim_conv adc_ni, dac_ni; /* a chip's converters (docs/nonideal.md); n = 0: ideal */
    /* engines */
    int want[3];
    size_t nk[3];                /* samples per engine */
    tdi_cosim_out outs[3];
    double eng_wall[3];          /* s */
    tdi_cosim_op_row paper_row;
    /* metrics and read-out error */
    tdi_cosim_row rows[TDI_COSIM_NROW];
    tdi_metrics lvm[TDI_COSIM_NROW][TDI_BUNDLE_MAX_MOD / 2]; /* per level (L > 1): each row's
                                    metrics over the level's read-out columns */
    tdi_cosim_stage_pred sp;
    long conv;                   /* ADC conversions averaged per unit */
    double q_adc;                /* V: ADC step */
    double pred_rms;             /* V: predicted read-out error */
    double meas_rms[3];          /* V: engine vs analytic */
    double diff_sde_spice;       /* V, NAN unless both ran */
    double sig_units;            /* rms over units of the std over samples of analytic y */
    /* energy */
    tdi_cosim_ledger e;
    /* transistor level (circuit.devices: mos; NULL otherwise): docs/cosim.md "Transistor level" */
    double *G_design;            /* (N, N) S: gu M as the ideal-element netlist reads back */
    tdi_cosim_realised *real;    /* the realised-matrix report of the extracted G */
    tdi_cosim_mos_noise_stats mn_st; /* the device-noise sizing: devices, classes, times */
    tdi_cosim_teff *teff;        /* effective temperature (noise-only spice or sde run) */
    double *teff_psd;            /* (N) A^2/Hz: device white noise per unit (Lyapunov input) */
    double teff_psd_bus;         /* A^2/Hz: device noise at bus-node outputs (not in the input) */
    long teff_ticks;             /* ticks of that run */
    tdi_cosim_kind teff_kind;    /* its engine: spice (the transistors), or sde when spice is off
                                    (the realised circuit with the device PSDs at the units) */
    double rest_off_rms, rest_off_max; /* V: rms and max |.| over units of that run's mean of
                                          v - v_ref (the OTAs' systematic offsets at rest) */
    double teff_wall;            /* s, its wall time */
    double *rest_mean;           /* (N) V: that run's mean of v - v_ref per unit */
    double *v_off;               /* (N) V: G^-1 i_rest, the predicted rest offset per unit */
    double i_rest_rms;           /* A: rms over units of the realised i_rest */
    tdi_cosim_circuit *cc_ideal; /* the ideal-element circuit of the same design (cosim.
                                    ideal_rows; NULL otherwise) */
    tdi_cosim_mos_cmp mc;        /* the comparison lines (tdi_cosim_job_mos_rows) */
    tdi_cosim_chip *chips;       /* (n_chips) cosim.chips; NULL otherwise */
    tdi_gen_circuit **chip_gc;   /* (cfg.chips) cosim.chips_spice: each chip's circuit with its
                                    device noise sized, taken by the loop; NULL otherwise */
    size_t n_chips;
    double chips_wall;           /* s */
    tdi_cosim_calib *cal;        /* cosim.calibrate != none; NULL otherwise */
} tdi_cosim_job;

/* Row names, in TDI_COSIM_ROW_* order (results.json, samples.csv, the table). */
extern const char *const tdi_cosim_row_name[TDI_COSIM_NROW];

/* circuit (tdi_cosim_build.c): the generator's circuit, the operating point, the tick plan and
 * the engines' circuit; deck: the spice deck written instead of a run (--deck). */
int tdi_cosim_job_circuit(tdi_cosim_job *j, tdi_err *err);
int tdi_cosim_job_deck(tdi_cosim_job *j, tdi_err *err);
/* A run's tick counts (tdi_cosim_timing_plan: checked, within the tick budget) for ns samples
 * from the cosim keys of cfg, else the circuit's values (g, ph); with the analog read-out stage
 * one conversion a tick after the stage has settled. Each count keeps the key it came from. */
int tdi_cosim_plan_timing(const tdi_cosim_cfg *cfg, const tdi_gen_config *g,
                          const tdi_gen_phys *ph, size_t ns, tdi_cosim_timing *tm, tdi_err *err);
/* digital interface (tdi_cosim_iface.c): bsim and ibias per sample, checked against the
 * bundle's b_enc / b_dec, and the interface's MAC count. */
int tdi_cosim_job_iface(tdi_cosim_job *j, tdi_err *err);
/* plan and engines (tdi_cosim_engines.c): converters' full scales, the engines' plan; the
 * paper's-kT row, then every wanted engine. */
int tdi_cosim_job_plan(tdi_cosim_job *j, tdi_err *err);
/* The converters' full scales for ns samples of b (bsim (ns, 2D), simulation units) whose bias
 * currents ib (ns, cc->n) drive cc: DAC in units of b (cfg's, else 1.05 max |b|), ADC in V
 * (cfg's, else 1.1 (max |v*| + 6 sigma) over the decoder units). */
int tdi_cosim_fullscale(const tdi_cosim_cfg *cfg, const tdi_gen_circuit *gc,
                        const tdi_cosim_circuit *cc, const double *bsim, const double *ib,
                        size_t ns, double *dac_fs_units, double *adc_fs, tdi_err *err);
int tdi_cosim_job_engines(tdi_cosim_job *j, tdi_err *err);
/* metrics (tdi_cosim_metrics.c): the rows' predictions and metrics; the read-out error,
 * predicted and measured, and the signal. */
int tdi_cosim_job_metrics(tdi_cosim_job *j, tdi_err *err);
int tdi_cosim_job_readout(tdi_cosim_job *j, tdi_err *err);
/* transistor level (tdi_cosim_mos.c): the engines' circuit of a devices: mos build (the ideal
 * build of the same config, overlaid by tdi_cosim_circuit_mos), and the effective temperature
 * from a noise-only spice run, or with spice off an sde run of the realised circuit with the
 * device PSDs at the units (nothing when cfg.teff_relax is 0, noise or both engines off). */
int tdi_cosim_job_circuit_mos(tdi_cosim_job *j, double tick, double t_stop, tdi_err *err);
/* The realised-matrix method of cosim.realised (TDI_COSIM_REALISED_*; auto when unparsable). */
int tdi_cosim_job_realised_method(const tdi_cosim_job *j);
/* The engines' circuit *cc of the devices: mos build gc of config g (bundle b): the devices:
 * ideal build of g read back (G_design (N, N) S, may be NULL, gets its G), overlaid by
 * tdi_cosim_circuit_mos (extract, real as there); *cci (cci may be NULL) gets the ideal-element
 * circuit itself. The caller frees both circuits (also on error). */
int tdi_cosim_mos_circuits(const tdi_gen_config *g, const tdi_gen_bundle *b,
                           const tdi_gen_circuit *gc, double tick, double t_stop, int extract,
                           tdi_cosim_realised *real, double *G_design, tdi_cosim_circuit **cc,
                           tdi_cosim_circuit **cci, tdi_err *err);
int tdi_cosim_job_teff(tdi_cosim_job *j, tdi_err *err);
/* The comparison lines (after the metrics): the ideal-element netlist's analytic and spice runs
 * with the job's plan and seeds (cosim.ideal_rows), the extracted-G analytic without the rest
 * currents, each against the truth and against spice on the transistors. Nothing for ideal
 * jobs. tdi_cosim_job_mos_free frees what the transistor-level stages allocated. */
int tdi_cosim_job_mos_rows(tdi_cosim_job *j, tdi_err *err);
void tdi_cosim_job_mos_free(tdi_cosim_job *j);
/* The Monte Carlo over mismatch (tdi_cosim_chips.c; cosim.chips > 0, devices: mos with
 * circuit.mos_mismatch): chip = circuit.chip .. + chips - 1, each regenerated, extracted and
 * run by the analytic engine (G + offsets; cosim.chips_sde, cosim.chips_spice add those);
 * fills j->chips. The table block and chips.csv (tdi_cosim_report.c). */
int tdi_cosim_job_chips(tdi_cosim_job *j, tdi_err *err);
/* After the load stage: TDI_ECONFIG (naming the keys) when cosim.chips > 0 but the circuit
 * config is not devices: mos with circuit.mos_mismatch: true. After the circuit stage, with
 * cosim.chips_spice: every chip's circuit built and its device noise sized (before any
 * transient: docs/noise.md). tdi_cosim_chips_free frees what the chips stages allocated. */
int tdi_cosim_chips_check(const tdi_cosim_job *j, tdi_err *err);
int tdi_cosim_job_chips_prepare(tdi_cosim_job *j, tdi_err *err);
void tdi_cosim_chips_free(tdi_cosim_job *j);
/* The per-chip table with mean / std / min / max; chips.csv (a header line, one line per chip);
 * results.json's member ", \"chips\": {...}" inside "transistor_level" (nothing without
 * chips). */
void tdi_cosim_chips_print(const tdi_cosim_job *j, FILE *f);
void tdi_cosim_chips_csv(const tdi_cosim_job *j, FILE *f);
int tdi_cosim_chips_json(const tdi_cosim_job *j, tdi_json *o); /* "chips" in o; 0 | TDI_ENOMEM */
/* calibration (tdi_cosim_calib.c; after the energy ledger): nothing for cosim.calibrate none;
 * else TDI_ECONFIG unless skip mode, one level, ideal devices, no read-out stage; fills j->cal.
 * The table block, results.json's "calibration" and calib.csv (tdi_cosim_calib_report.c). */
int tdi_cosim_job_calib(tdi_cosim_job *j, tdi_err *err);
void tdi_cosim_calib_free(tdi_cosim_calib *cal);
/* The paper mode's interface refitted to a chip's measured map (tdi_cosim_calib_paper.c): He, Hd
 * (D, D) the chip's fitted encoder and decoder blocks (V per unit), y0 (D) its offset, Hde, Hdd
 * the design's; w the 8 refitted arrays (tdi_cosim_paper_interface's order, sized as j's); rel
 * |B' - B|_F / |B|_F of the encoder's output layer B = [enc_w2 | enc_b2]. */
int tdi_cosim_calib_paper(const tdi_cosim_job *j, const double *He, const double *Hd,
                          const double *y0, const double *Hde, const double *Hdd, double ridge,
                          double *const w[8], double *rel, tdi_err *err);
void tdi_cosim_calib_print(const tdi_cosim_job *j, FILE *f);
void tdi_cosim_calib_csv(const tdi_cosim_job *j, FILE *f);
int tdi_cosim_calib_json(const tdi_cosim_job *j, tdi_json *root); /* 0 | TDI_ENOMEM */
void tdi_cosim_calib_summary(const tdi_cosim_job *j, tdi_cosim_summary *sum);
/* energy ledger (tdi_cosim_energy.c) */
void tdi_cosim_job_energy(tdi_cosim_job *j);
/* report (tdi_cosim_report.c): the table's head, the output files (one directory
 * transaction), the summary for in-process callers, the table. */
void tdi_cosim_report_head(const tdi_cosim_job *j);
int tdi_cosim_report_write(const tdi_cosim_job *j, tdi_err *err);
void tdi_cosim_report_summary(const tdi_cosim_job *j, tdi_cosim_summary *sum);
void tdi_cosim_report_table(const tdi_cosim_job *j);

#endif
