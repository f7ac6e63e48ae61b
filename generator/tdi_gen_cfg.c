/* tdi_gen_cfg: the schema of the `circuit:` config section (owned by the generator) plus the
 * top-level seed/name/out; every other top-level section is skipped as another component's.
 * Invariant: a loaded config has exactly one of gu/tau and one of Vs/theta/target_noise_ratio
 * in effect (energy.adc_fom, vdd, gm_over_id are read for the operating point), and node
 * prefixes that cannot collide or break SPICE syntax; devices: mos only with unit: rc.
 * Non-goal: reading other sections. */
#include "tdi_gen.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

#include "tdi_cfg.h"

void tdi_gen_config_init(tdi_gen_config *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    strcpy(c->name, "default");
    strcpy(c->out, "out/default");
    strcpy(c->unit, "rc");
    c->Cu = 1e-12;
    c->gu = 1e-6;
    c->tau = 0;
    c->T = 300;
    c->Vs = 0;
    c->theta = 1.0;
    c->target_noise_ratio = 0; /* explicit theta (the library default; presets set a target) */
    c->v_swing = 0.3;           /* V: +-0.3 V about mid-rail of a 0.8 V supply */
    c->op_avg_relax_min = 1;    /* one slowest relaxation time: 4 conversions */
    c->op_avg_relax_max = 100;
    c->op_adc_bits_min = 4;
    c->op_adc_bits_max = 14;
    c->op_adc_fom = 5e-15;      /* = tdi-cosim's energy defaults */
    c->op_vdd = 0.8;
    c->op_gm_over_id = 20;
    c->rlc_cp = 1.0;
    c->rlc_zeta = 1.0;
    strcpy(c->intra, "dense");
    c->rank = 0;
    strcpy(c->skip, "sharedbus");
    c->noise = 1;
    c->noise_dt = 0;
    c->noise_frac = 0.05;
    c->noise_frac_max = 0.2;
    c->samples[0] = 0;
    c->n_samples = 1;
    c->t_settle = 0;
    c->settle_eps = 1e-3;
    c->t_avg = 0;
    c->avg_relax = 100;
    strcpy(c->readout, "decoder");
    strcpy(c->readout_stage, "none");
    c->readout_tau = 0;
    c->readout_cap = 0;
    c->readout_noise_factor = 2.0;
    c->readout_noise_share = 0.25;
    c->wire_budget = 0;
    strcpy(c->enc_prefix, "x");
    strcpy(c->dec_prefix, "y");
    strcpy(c->devices, "ideal");
    strcpy(c->mos_lib, "models/tdi-bsim4.lib");
    strcpy(c->mos_nmos, "tdi_nmos");
    strcpy(c->mos_pmos, "tdi_pmos");
    strcpy(c->mos_prefix, "m");
    c->mos_scale = 0;
    c->mos_l = 1.0e-6;
    c->mos_w_min = 0.22e-6;     /* the 0.18 um class minimum width */
    c->mos_w_max = 100e-6;
    c->mos_w_grid = 0.01e-6;
    c->mos_gm_over_id = 20;
    c->mos_vdd = 1.4;           /* vcm + VSG: the mirror node sits at vcm (docs/devices.md) */
    c->mos_vcm = 0.9;
    c->mos_avt = 5e-9;          /* V m = 5 mV um (docs/devices.md "Mismatch") */
    c->mos_abeta = 1e-8;        /* m = 1 % um */
    c->mos_mismatch = 0;
    c->chip = 0;
    c->mos_flicker = 1;
    c->mos_self_comp = 0;
    c->mos_self_comp_passes = 1;
    strcpy(c->mos_trim, "none");
    c->mos_trim_bits = 8;
    c->mos_trim_fs = 0;
    c->mos_trim_passes = 1;
    c->hier = 0;
    c->param = 0;
    strcpy(c->noise_src, "trnoise");
    strcpy(c->readout_cards, "control");
    strcpy(c->dialect, "ngspice");
    c->ni_tempco = -1.0 / 300; /* 1/K: a subthreshold gm at fixed bias current ~ 1/T
                                  (docs/nonideal.md); acts only with nonideal.temperature */
}

/* A device or model name: [A-Za-z0-9_.]+ (it goes onto an instance card). */
static int cfg_devname_ok(const char *p)
{
    if (!p[0])
        return 0;
    for (; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.'))
            return 0;
    return 1;
}

/* The transistor-level keys (devices: mos): names, grid, rails and the unit kind. */
static int cfg_validate_mos(const tdi_gen_config *c, tdi_err *err)
{
    const char *f = c->path;
    if (strcmp(c->devices, "mos") != 0)
        return 0;
    if (strcmp(c->unit, "rc") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.devices: mos is implemented for unit: "
                           "rc only (got unit: %s)", f, c->unit);
    if (!cfg_devname_ok(c->mos_nmos) || !cfg_devname_ok(c->mos_pmos))
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.mos_nmos '%s' / mos_pmos '%s': a "
                           "device name must be [A-Za-z0-9_.]+", f, c->mos_nmos, c->mos_pmos);
    if (!c->mos_lib[0] || strpbrk(c->mos_lib, " \t\"'"))
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.mos_lib '%s': give a file path "
                           "without blanks or quotes (it goes onto a .include/.lib card)", f,
                           c->mos_lib);
    if (c->mos_corner[0] && !cfg_devname_ok(c->mos_corner))
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.mos_corner '%s': a corner name must be "
                           "[A-Za-z0-9_.]+ (or \"\" for .include)", f, c->mos_corner);
    if (c->mos_w_min > c->mos_w_max)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.mos_w_min %g m exceeds mos_w_max %g m",
                           f, c->mos_w_min, c->mos_w_max);
    if (c->mos_vcm >= c->mos_vdd)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.mos_vcm %g V must lie below mos_vdd "
                           "%g V", f, c->mos_vcm, c->mos_vdd);
    if (c->mos_mismatch && strcmp(c->mos_prefix, "m") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.mos_mismatch: true needs mos_prefix: m "
                           "(delvto/mulu0 are BSIM instance parameters; a subcircuit-wrapped PDK "
                           "device takes its own mismatch parameters)", f);
    if (strcmp(c->readout_stage, "none") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.devices: mos is implemented with "
                           "readout_stage: none only (got %s)", f, c->readout_stage);
    return 0;
}

/* circuit.mos_self_comp compensates OTA output conductances, circuit.mos_trim their rest
 * currents: transistor level only. */
static int cfg_validate_comp(const tdi_gen_config *c, tdi_err *err)
{
    if (c->mos_self_comp && strcmp(c->devices, "mos") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.mos_self_comp: true needs devices: mos "
                           "(it compensates the OTAs' output conductance; ideal elements have "
                           "none)", c->path);
    if (strcmp(c->mos_trim, "none") != 0 && strcmp(c->devices, "mos") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.mos_trim: %s needs devices: mos (it "
                           "trims the OTAs' rest currents; ideal elements have none)", c->path,
                           c->mos_trim);
    return 0;
}

/* circuit.nonideal (docs/nonideal.md): the behavioural model perturbs the ideal elements of rc
 * units; the transistor level has its own (Pelgrom) mismatch. */
static int cfg_validate_nonideal(const tdi_gen_config *c, tdi_err *err)
{
    const char *f = c->path;
    if (!tdi_gen_nonideal_active(c))
        return 0;
    if (strcmp(c->devices, "ideal") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.nonideal is implemented for devices: "
                           "ideal (the transistor level draws its own mismatch: "
                           "circuit.mos_mismatch)", f);
    if (strcmp(c->unit, "rc") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.nonideal is implemented for unit: rc "
                           "only (got unit: %s)", f, c->unit);
    if (c->ni_cap_sigma > 0 && strcmp(c->readout_stage, "none") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.nonideal.cap_sigma needs "
                           "readout_stage: none (the stage's error prediction assumes one "
                           "g_noise/C for every unit)", f);
    return 0;
}

/* A prefix must be lower-case [a-z][a-z0-9_]*, not end in a digit (x1 + 0 would collide with
 * x + 10) and the derived prefixes (p, u, s + prefix, sk) must all differ. */
static int cfg_prefix_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || !islower((unsigned char)p[0]) || isdigit((unsigned char)p[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)p[i]) || isdigit((unsigned char)p[i]) || p[i] == '_'))
            return 0;
    return 1;
}

static int cfg_validate(tdi_gen_config *c, int gu_seen, int tau_seen, int vs_seen,
                        int theta_seen, tdi_err *err)
{
    const char *f = c->path;
    if (gu_seen && tau_seen)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.gu and circuit.tau are both set; "
                           "give one (tau = Cu/gu)", f);
    if (tau_seen)
        c->gu = c->Cu / c->tau;
    c->tau = c->Cu / c->gu;
    if (vs_seen && theta_seen)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.Vs and circuit.theta are both set; "
                           "give one (theta = kB T/(Cu Vs^2))", f);
    if (c->target_noise_ratio > 0 && (vs_seen || theta_seen))
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.target_noise_ratio and circuit.%s are "
                           "both set; give one (the target lets tdi choose Vs; theta: 1 is the "
                           "paper's point)", f, vs_seen ? "Vs" : "theta");
    if (c->op_avg_relax_min > c->op_avg_relax_max || c->op_adc_bits_min > c->op_adc_bits_max)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.op_avg_relax_min/max or "
                           "op_adc_bits_min/max: the minimum exceeds the maximum", f);
    if (vs_seen)
        c->theta = tdi_phys_theta_of_vs(c->T, c->Cu, c->Vs);
    else
        c->Vs = tdi_phys_vs_of_theta(c->T, c->Cu, c->theta);
    if (c->n_samples == 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.samples is empty", f);
    if (!cfg_prefix_ok(c->enc_prefix) || !cfg_prefix_ok(c->dec_prefix))
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.enc_prefix '%s' / dec_prefix '%s': a "
                           "node prefix must be lower case [a-z][a-z0-9_]* and not end in a "
                           "digit (SPICE node names are case-insensitive)", f, c->enc_prefix,
                           c->dec_prefix);
    const tdi_gen_unit_kind *kind = tdi_gen_unit_find(c->unit); /* the key's choices: found */
    if (strcmp(c->readout_stage, "rc") == 0 && kind && !kind->first_order)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.readout_stage: rc is implemented for "
                           "first-order unit kinds only, i.e. unit: rc (got unit: %s)", f,
                           c->unit);
    char derived[10][16];
    snprintf(derived[0], 16, "%s", c->enc_prefix);
    snprintf(derived[1], 16, "%s", c->dec_prefix);
    snprintf(derived[2], 16, "p%s", c->enc_prefix);
    snprintf(derived[3], 16, "p%s", c->dec_prefix);
    snprintf(derived[4], 16, "u%s", c->enc_prefix);
    snprintf(derived[5], 16, "u%s", c->dec_prefix);
    snprintf(derived[6], 16, "s%s", c->enc_prefix);
    snprintf(derived[7], 16, "s%s", c->dec_prefix);
    snprintf(derived[8], 16, "sk");
    snprintf(derived[9], 16, "r%s", c->dec_prefix);
    for (int i = 0; i < 10; i++)
        for (int j = i + 1; j < 10; j++)
            if (strcmp(derived[i], derived[j]) == 0)
                return tdi_err_set(err, TDI_ECONFIG, "%s: node prefixes collide: '%s' is used "
                                   "twice (units x/y, rlc p<x>, buses u<x> s<x> sk, read-out "
                                   "r<y>)", f,
                                   derived[i]);
    for (const char *s = c->name; *s; s++)
        if (!isprint((unsigned char)*s))
            return tdi_err_set(err, TDI_ECONFIG, "%s: name contains a non-printable character "
                               "(it goes into netlist comments)", f);
    int rc = cfg_validate_mos(c, err);
    rc = rc ? rc : cfg_validate_comp(c, err);
    return rc ? rc : cfg_validate_nonideal(c, err);
}

/* The circuit hash: the ideal keys [0, n_ideal); the transistor keys (chip among them) with
 * devices: mos; circuit.chip and the circuit.nonideal keys (the table's tail) with a
 * non-ideality on. Either way a config that uses neither hashes as before. */
static uint64_t cfg_hash(const tdi_cfg_key *keys, size_t nk, size_t n_ideal, int mos, int ni)
{
    size_t n_ni = 0, q = 0;
    while (n_ni < nk && strncmp(keys[nk - 1 - n_ni].path, "circuit.nonideal.", 17) == 0)
        n_ni++;
    tdi_cfg_key hk[128];
    size_t upto = mos ? nk - n_ni : n_ideal;
    for (size_t i = 0; i < upto && q < 128; i++)
        hk[q++] = keys[i];
    if (ni) {
        for (size_t i = n_ideal; i < nk - n_ni && !mos && q < 128; i++)
            if (strcmp(keys[i].path, "circuit.chip") == 0)
                hk[q++] = keys[i];
        for (size_t i = nk - n_ni; i < nk && q < 128; i++)
            hk[q++] = keys[i];
    }
    return tdi_cfg_hash(hk, q);
}

/* The designer keys (hier, param, noise_src, readout_cards, dialect) change the text, not the
 * circuit: at their defaults they leave the hash as it was (today's netlists byte-identical),
 * otherwise their canonical dump is mixed in. */
static void cfg_hash_designer(tdi_gen_config *c, const tdi_cfg_key *keys, size_t n)
{
    if (!c->hier && !c->param && strcmp(c->noise_src, "trnoise") == 0 &&
        strcmp(c->readout_cards, "control") == 0 && strcmp(c->dialect, "ngspice") == 0)
        return;
    if (strcmp(c->dialect, "ngspice") == 0) /* the last key: at its default it stays out, so
                                               the hashes from before the key are kept */
        n--;
    c->hash = (c->hash ^ tdi_cfg_hash(keys, n)) * 1099511628211ull;
}

/* A dialect other than ngspice writes only what its simulator documents (docs/dialects.md):
 * ideal elements, no trnoise, no .control block. */
static int cfg_validate_dialect(const tdi_gen_config *c, tdi_err *err)
{
    if (strcmp(c->dialect, "ngspice") == 0)
        return 0;
    if (strcmp(c->devices, "ideal") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.dialect: %s is implemented for "
                           "devices: ideal only (got circuit.devices: %s): circuit.mos_lib "
                           "('%s'%s) must be ngspice's, since tdi-gen reads the operating point "
                           "and sizes the device noise in ngspice and cosim.cir includes it, and "
                           "the transistor-level read-out is an ngspice .control block; a PDK in "
                           "%s's own syntax would need a second card (docs/dialects.md, "
                           "\"Transistor level\")", c->path, c->dialect, c->devices, c->mos_lib,
                           strcmp(c->mos_lib, "models/tdi-bsim4.lib") == 0
                               ? ": the shipped card, ngspice's BSIM4, level=14"
                               : "", c->dialect);
    if (c->noise && strcmp(c->noise_src, "pwl") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.dialect: %s: circuit.noise_src: %s is "
                           "ngspice-only (TRNOISE); set circuit.noise_src: pwl (tdi-cosim's seeded "
                           "stream as PWL sources) or circuit.noise: false", c->path, c->dialect,
                           c->noise_src);
    if (strcmp(c->readout_cards, "measure") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.dialect: %s: circuit.readout_cards: %s "
                           "writes an ngspice .control block; set circuit.readout_cards: measure",
                           c->path, c->dialect, c->readout_cards);
    return 0;
}

/* The designer keys against the circuit: circuit.hier at both levels, the others (and a dialect
 * other than ngspice) for ideal elements only. */
static int cfg_validate_designer(const tdi_gen_config *c, tdi_err *err)
{
    int rc = cfg_validate_dialect(c, err);
    if (rc)
        return rc;
    if (c->param && strcmp(c->devices, "mos") == 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.param: true is not implemented at "
                           "transistor level (devices: mos): its OTAs are sized from absolute "
                           "currents, so an edited gu would not rescale them; the netlist writes "
                           "Vdd, V_cm and every bias current as numbers (docs/devices.md "
                           "\"Hierarchy\")", c->path);
    if ((c->param || strcmp(c->noise_src, "pwl") == 0 ||
         strcmp(c->readout_cards, "control") != 0) && strcmp(c->devices, "ideal") != 0)
        return tdi_err_set(err, TDI_ECONFIG, "%s: circuit.param, circuit.noise_src: pwl "
                           "and circuit.readout_cards are implemented for devices: ideal only "
                           "(got devices: %s; circuit.hier works at both levels)", c->path, c->devices);
    return 0;
}

/* The key table of the `circuit:` section, in hash order: the ideal keys [0, n_ideal), the
 * transistor-level and non-ideal keys [n_ideal, n_base), the designer keys [n_base, n_comp),
 * the self-term compensation keys [n_comp, n_trim), the offset trim's [n_trim, n); the tables'
 * names the choices point into. */
#define CFG_MAX_KEYS 128
typedef struct cfg_table {
    tdi_cfg_key k[CFG_MAX_KEYS];
    size_t n, n_ideal, n_base, n_comp, n_trim;
    int over; /* a group did not fit: raise CFG_MAX_KEYS */
    char units[128], intras[128], skips[128], dialects[128];
} cfg_table;

static void cfg_add(cfg_table *t, const tdi_cfg_key *k, size_t n)
{
    if (t->n + n > CFG_MAX_KEYS) {
        t->over = 1;
        return;
    }
    memcpy(t->k + t->n, k, n * sizeof *k);
    t->n += n;
}

/* seed, name, out and the ideal circuit's keys */
static void cfg_keys_ideal(cfg_table *t, tdi_gen_config *c)
{
    const tdi_cfg_key k[] = {
        {"seed", TDI_CFG_INT, &c->seed, 0, 4294967295.0, 0, NULL, NULL, 0},
        {"name", TDI_CFG_NAME, c->name, 0, 0, sizeof c->name, NULL, NULL, 0},
        {"out", TDI_CFG_STRING, c->out, 0, 0, sizeof c->out, NULL, NULL, 0},
        {"circuit.unit", TDI_CFG_STRING, c->unit, 0, 0, sizeof c->unit, NULL, t->units, 0},
        {"circuit.Cu", TDI_CFG_DOUBLE, &c->Cu, 1e-18, 1, 0, NULL, NULL, 0},
        {"circuit.gu", TDI_CFG_DOUBLE, &c->gu, 1e-15, 1e3, 0, NULL, NULL, 0},
        {"circuit.tau", TDI_CFG_DOUBLE, &c->tau, 1e-15, 1e3, 0, NULL, NULL, 0},
        {"circuit.T", TDI_CFG_DOUBLE, &c->T, 1e-3, 1e4, 0, NULL, NULL, 0},
        {"circuit.Vs", TDI_CFG_DOUBLE, &c->Vs, 1e-12, 1e3, 0, NULL, NULL, 0},
        {"circuit.theta", TDI_CFG_DOUBLE, &c->theta, 1e-12, 1e12, 0, NULL, NULL, 0},
        {"circuit.target_noise_ratio", TDI_CFG_DOUBLE, &c->target_noise_ratio, 0, 1e3, 0, NULL,
         NULL, 0},
        {"circuit.v_swing", TDI_CFG_DOUBLE, &c->v_swing, 1e-6, 1e3, 0, NULL, NULL, 0},
        {"circuit.op_avg_relax_min", TDI_CFG_DOUBLE, &c->op_avg_relax_min, 1e-3, 1e6, 0, NULL,
         NULL, 0},
        {"circuit.op_avg_relax_max", TDI_CFG_DOUBLE, &c->op_avg_relax_max, 1e-3, 1e6, 0, NULL,
         NULL, 0},
        {"circuit.op_adc_bits_min", TDI_CFG_INT, &c->op_adc_bits_min, 1, 30, 0, NULL, NULL, 0},
        {"circuit.op_adc_bits_max", TDI_CFG_INT, &c->op_adc_bits_max, 1, 30, 0, NULL, NULL, 0},
        /* read from tdi-cosim's energy section (same ranges and defaults); the rest of it is
           tdi-cosim's and skipped */
        {"energy", TDI_CFG_IGNORE, NULL, 0, 0, 0, NULL, NULL, 0},
        {"energy.adc_fom", TDI_CFG_DOUBLE, &c->op_adc_fom, 0, 1, 0, NULL, NULL, 0},
        {"energy.vdd", TDI_CFG_DOUBLE, &c->op_vdd, 0, 100, 0, NULL, NULL, 0},
        {"energy.gm_over_id", TDI_CFG_DOUBLE, &c->op_gm_over_id, 1e-3, 100, 0, NULL, NULL, 0},
        {"circuit.rlc_cp", TDI_CFG_DOUBLE, &c->rlc_cp, 1e-6, 1e6, 0, NULL, NULL, 0},
        {"circuit.rlc_zeta", TDI_CFG_DOUBLE, &c->rlc_zeta, 1e-3, 1e3, 0, NULL, NULL, 0},
        {"circuit.intra", TDI_CFG_STRING, c->intra, 0, 0, sizeof c->intra, NULL, t->intras, 0},
        {"circuit.rank", TDI_CFG_INT, &c->rank, 0, 1e9, 0, NULL, NULL, 0},
        {"circuit.skip", TDI_CFG_STRING, c->skip, 0, 0, sizeof c->skip, NULL, t->skips, 0},
        {"circuit.noise", TDI_CFG_BOOL, &c->noise, 0, 0, 0, NULL, NULL, 0},
        {"circuit.noise_dt", TDI_CFG_DOUBLE, &c->noise_dt, 0, 1e3, 0, NULL, NULL, 0},
        {"circuit.noise_frac", TDI_CFG_DOUBLE, &c->noise_frac, 1e-6, 10, 0, NULL, NULL, 0},
        {"circuit.noise_frac_max", TDI_CFG_DOUBLE, &c->noise_frac_max, 1e-6, 10, 0, NULL, NULL,
         0},
        {"circuit.samples", TDI_CFG_ILIST, c->samples, 0, 1e12, TDI_GEN_MAX_SAMPLES,
         &c->n_samples, NULL, 0},
        {"circuit.t_settle", TDI_CFG_DOUBLE, &c->t_settle, 0, 1e6, 0, NULL, NULL, 0},
        {"circuit.settle_eps", TDI_CFG_DOUBLE, &c->settle_eps, 1e-15, 0.5, 0, NULL, NULL, 0},
        {"circuit.t_avg", TDI_CFG_DOUBLE, &c->t_avg, 0, 1e6, 0, NULL, NULL, 0},
        {"circuit.avg_relax", TDI_CFG_DOUBLE, &c->avg_relax, 1e-3, 1e9, 0, NULL, NULL, 0},
        {"circuit.readout", TDI_CFG_STRING, c->readout, 0, 0, sizeof c->readout, NULL,
         "decoder|all", 0},
        {"circuit.readout_stage", TDI_CFG_STRING, c->readout_stage, 0, 0,
         sizeof c->readout_stage, NULL, "none|rc", 0},
        {"circuit.readout_tau", TDI_CFG_DOUBLE, &c->readout_tau, 0, 1e6, 0, NULL, NULL, 0},
        {"circuit.readout_cap", TDI_CFG_DOUBLE, &c->readout_cap, 0, 1, 0, NULL, NULL, 0},
        {"circuit.readout_noise_factor", TDI_CFG_DOUBLE, &c->readout_noise_factor, 0, 1e3, 0,
         NULL, NULL, 0},
        {"circuit.readout_noise_share", TDI_CFG_DOUBLE, &c->readout_noise_share, 1e-6, 1e6, 0,
         NULL, NULL, 0},
        {"circuit.wire_budget", TDI_CFG_INT, &c->wire_budget, 0, 1e15, 0, NULL, NULL, 0},
        {"circuit.enc_prefix", TDI_CFG_STRING, c->enc_prefix, 0, 0, sizeof c->enc_prefix, NULL,
         NULL, 0},
        {"circuit.dec_prefix", TDI_CFG_STRING, c->dec_prefix, 0, 0, sizeof c->dec_prefix, NULL,
         NULL, 0},
        {"circuit.bundle", TDI_CFG_STRING, c->bundle, 0, 0, sizeof c->bundle, NULL, NULL, 0},
        {"circuit.netlists", TDI_CFG_STRING, c->netlists, 0, 0, sizeof c->netlists, NULL, NULL,
         0},
    };
    cfg_add(t, k, sizeof k / sizeof k[0]);
}

/* transistor level and behavioural non-idealities */
static void cfg_keys_mos(cfg_table *t, tdi_gen_config *c)
{
    const tdi_cfg_key k[] = {
        /* transistor level (docs/devices.md); keep these last: the hash of an ideal config
           covers the keys above only (n_ideal), so every ideal netlist stays byte-identical */
        {"circuit.devices", TDI_CFG_STRING, c->devices, 0, 0, sizeof c->devices, NULL,
         "ideal|mos", 0},
        {"circuit.mos_lib", TDI_CFG_STRING, c->mos_lib, 0, 0, sizeof c->mos_lib, NULL, NULL, 0},
        {"circuit.mos_corner", TDI_CFG_STRING, c->mos_corner, 0, 0, sizeof c->mos_corner, NULL,
         NULL, 0},
        {"circuit.mos_nmos", TDI_CFG_STRING, c->mos_nmos, 0, 0, sizeof c->mos_nmos, NULL, NULL,
         0},
        {"circuit.mos_pmos", TDI_CFG_STRING, c->mos_pmos, 0, 0, sizeof c->mos_pmos, NULL, NULL,
         0},
        {"circuit.mos_prefix", TDI_CFG_STRING, c->mos_prefix, 0, 0, sizeof c->mos_prefix, NULL,
         "m|x", 0},
        {"circuit.mos_scale", TDI_CFG_DOUBLE, &c->mos_scale, 0, 1, 0, NULL, NULL, 0},
        {"circuit.mos_l", TDI_CFG_DOUBLE, &c->mos_l, 1e-8, 1e-3, 0, NULL, NULL, 0},
        {"circuit.mos_w_min", TDI_CFG_DOUBLE, &c->mos_w_min, 1e-8, 1e-2, 0, NULL, NULL, 0},
        {"circuit.mos_w_max", TDI_CFG_DOUBLE, &c->mos_w_max, 1e-8, 1e-2, 0, NULL, NULL, 0},
        {"circuit.mos_w_grid", TDI_CFG_DOUBLE, &c->mos_w_grid, 1e-10, 1e-4, 0, NULL, NULL, 0},
        {"circuit.mos_gm_over_id", TDI_CFG_DOUBLE, &c->mos_gm_over_id, 3, 28, 0, NULL, NULL,
         0},
        {"circuit.mos_gmid", TDI_CFG_STRING, c->mos_gmid, 0, 0, sizeof c->mos_gmid, NULL, NULL,
         0},
        {"circuit.mos_vdd", TDI_CFG_DOUBLE, &c->mos_vdd, 0.3, 10, 0, NULL, NULL, 0},
        {"circuit.mos_vcm", TDI_CFG_DOUBLE, &c->mos_vcm, 0.1, 10, 0, NULL, NULL, 0},
        {"circuit.mos_avt", TDI_CFG_DOUBLE, &c->mos_avt, 0, 1e-6, 0, NULL, NULL, 0},
        {"circuit.mos_abeta", TDI_CFG_DOUBLE, &c->mos_abeta, 0, 1e-5, 0, NULL, NULL, 0},
        {"circuit.mos_mismatch", TDI_CFG_BOOL, &c->mos_mismatch, 0, 0, 0, NULL, NULL, 0},
        {"circuit.chip", TDI_CFG_INT, &c->chip, 0, 4294967295.0, 0, NULL, NULL, 0},
        {"circuit.mos_flicker", TDI_CFG_BOOL, &c->mos_flicker, 0, 0, 0, NULL, NULL, 0},
        /* behavioural non-idealities (docs/nonideal.md); hashed only when one is on, with
           circuit.chip, so an ideal config's hash (and netlist) is unchanged */
        {"circuit.nonideal.gain_sigma", TDI_CFG_DOUBLE, &c->ni_gain_sigma, 0, 0.3, 0, NULL, NULL,
         0},
        {"circuit.nonideal.self_sigma", TDI_CFG_DOUBLE, &c->ni_self_sigma, 0, 0.3, 0, NULL, NULL,
         0},
        {"circuit.nonideal.offset_sigma", TDI_CFG_DOUBLE, &c->ni_offset_sigma, 0, 1, 0, NULL,
         NULL, 0},
        {"circuit.nonideal.gout", TDI_CFG_DOUBLE, &c->ni_gout, 0, 1, 0, NULL, NULL, 0},
        {"circuit.nonideal.cap_sigma", TDI_CFG_DOUBLE, &c->ni_cap_sigma, 0, 0.3, 0, NULL, NULL,
         0},
        {"circuit.nonideal.temperature", TDI_CFG_DOUBLE, &c->ni_temp, 0, 1e4, 0, NULL, NULL, 0},
        {"circuit.nonideal.tempco", TDI_CFG_DOUBLE, &c->ni_tempco, -0.1, 0.1, 0, NULL, NULL, 0},
    };
    cfg_add(t, k, sizeof k / sizeof k[0]);
}

/* the standalone text's form */
static void cfg_keys_designer(cfg_table *t, tdi_gen_config *c)
{
    const tdi_cfg_key k[] = {
        /* the standalone text's form (docs/generator.md "For a chip designer"); last: they
           enter the hash only when not at their defaults (cfg_hash_designer) */
        {"circuit.hier", TDI_CFG_BOOL, &c->hier, 0, 0, 0, NULL, NULL, 0},
        {"circuit.param", TDI_CFG_BOOL, &c->param, 0, 0, 0, NULL, NULL, 0},
        {"circuit.noise_src", TDI_CFG_STRING, c->noise_src, 0, 0, sizeof c->noise_src, NULL,
         "trnoise|pwl", 0},
        {"circuit.readout_cards", TDI_CFG_STRING, c->readout_cards, 0, 0,
         sizeof c->readout_cards, NULL, "control|measure|both", 0},
        {"circuit.dialect", TDI_CFG_STRING, c->dialect, 0, 0, sizeof c->dialect, NULL, t->dialects,
         0},
    };
    cfg_add(t, k, sizeof k / sizeof k[0]);
}

/* self-term compensation */
static void cfg_keys_comp(cfg_table *t, tdi_gen_config *c)
{
    const tdi_cfg_key k[] = {
        /* self-term compensation (docs/devices.md): after the designer keys, hashed only when
           on (cfg_hash_comp), so every netlist without it stays byte-identical */
        {"circuit.mos_self_comp", TDI_CFG_BOOL, &c->mos_self_comp, 0, 0, 0, NULL, NULL, 0},
        {"circuit.mos_self_comp_passes", TDI_CFG_INT, &c->mos_self_comp_passes, 1, 3, 0, NULL,
         NULL, 0},
    };
    cfg_add(t, k, sizeof k / sizeof k[0]);
}

/* offset trim */
static void cfg_keys_trim(cfg_table *t, tdi_gen_config *c)
{
    const tdi_cfg_key k[] = {
        /* offset trim (docs/devices.md "Offset trim"): last, hashed only when not none
           (cfg_load), so every netlist without it stays byte-identical */
        {"circuit.mos_trim", TDI_CFG_STRING, c->mos_trim, 0, 0, sizeof c->mos_trim, NULL,
         "none|ideal|dac", 0},
        {"circuit.mos_trim_bits", TDI_CFG_INT, &c->mos_trim_bits, 2, 16, 0, NULL, NULL, 0},
        {"circuit.mos_trim_fs", TDI_CFG_DOUBLE, &c->mos_trim_fs, 0, 1, 0, NULL, NULL, 0},
        {"circuit.mos_trim_passes", TDI_CFG_INT, &c->mos_trim_passes, 1, 3, 0, NULL, NULL, 0},
    };
    cfg_add(t, k, sizeof k / sizeof k[0]);
}

/* c's key table into t (the group boundaries set as each group starts). */
static void cfg_keys(cfg_table *t, tdi_gen_config *c)
{
    t->n = 0;
    t->over = 0;
    tdi_gen_unit_names(t->units, sizeof t->units);
    tdi_gen_dialect_names(t->dialects, sizeof t->dialects);
    tdi_gen_intra_names(t->intras, sizeof t->intras);
    tdi_gen_skip_names(t->skips, sizeof t->skips);
    cfg_keys_ideal(t, c);
    t->n_ideal = t->n;
    cfg_keys_mos(t, c);
    t->n_base = t->n;
    cfg_keys_designer(t, c);
    t->n_comp = t->n;
    cfg_keys_comp(t, c);
    t->n_trim = t->n;
    cfg_keys_trim(t, c);
}

/* Which of the alternative keys the text set: gu or tau, Vs or theta. */
static int cfg_seen(const cfg_table *t, const char *path)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->k[i].seen && strcmp(t->k[i].path, path) == 0)
            return 1;
    return 0;
}

static int cfg_load(const char *name, const char *text, tdi_gen_config *c, tdi_err *err)
{
    cfg_table t; /* about 9 kB */
    cfg_keys(&t, c);
    snprintf(c->path, sizeof c->path, "%s", name);
    if (t.over)
        return tdi_err_set(err, TDI_ECONFIG, "%s: the generator's key table is over %d keys "
                           "(CFG_MAX_KEYS in generator/tdi_gen_cfg.c)", name, CFG_MAX_KEYS);
    int rc = tdi_cfg_load_preset(name, text, t.k, t.n, 0, err);
    if (rc)
        return rc;
    rc = cfg_validate(c, cfg_seen(&t, "circuit.gu"), cfg_seen(&t, "circuit.tau"),
                      cfg_seen(&t, "circuit.Vs"), cfg_seen(&t, "circuit.theta"), err);
    if (!rc)
        rc = cfg_validate_designer(c, err);
    if (rc)
        return rc;
    c->hash = cfg_hash(t.k, t.n_base, t.n_ideal, strcmp(c->devices, "mos") == 0,
                       tdi_gen_nonideal_active(c));
    cfg_hash_designer(c, t.k + t.n_base, t.n_comp - t.n_base);
    if (c->mos_self_comp) /* changes the realisation: its keys enter the hash */
        c->hash = (c->hash ^ tdi_cfg_hash(t.k + t.n_comp, t.n_trim - t.n_comp)) *
                  1099511628211ull;
    if (strcmp(c->mos_trim, "none") != 0) /* so does the trim */
        c->hash = (c->hash ^ tdi_cfg_hash(t.k + t.n_trim, t.n - t.n_trim)) * 1099511628211ull;
    return 0;
}

int tdi_gen_config_load(const char *path, tdi_gen_config *c, tdi_err *err)
{
    return cfg_load(path, NULL, c, err);
}

int tdi_gen_config_load_string(const char *name, const char *text, tdi_gen_config *c,
                               tdi_err *err)
{
    return cfg_load(name, text, c, err);
}
