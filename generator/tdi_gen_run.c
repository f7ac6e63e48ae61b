/* tdi_gen_run: the whole tdi-gen job: bundle -> circuit -> standalone.cir (its dialect's name,
 * and its companion, e.g. standalone.mdl), cosim.cir and wires.json (and whatever the caller's
 * hook writes, e.g. realised.json) in one directory transaction (nothing appears unless
 * everything was written). Invariant: every check (config, bundle, PD, noise interval, budget)
 * runs before the first byte is written. Non-goal: argument parsing (tools/gen/tdi_gen_main.c). */
#include "tdi_clock.h"
#include "tdi_gen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_linalg.h>

#include "tdi_io.h"

static int write_netlist(const char *dir, const char *name, const tdi_gen_circuit *c,
                         tdi_gen_mode mode, tdi_err *err)
{
    char path[1200];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return tdi_err_set(err, TDI_EARG, "%s/%s: path longer than %zu bytes", dir, name,
                           sizeof path - 1);
    tdi_atomic_file af;
    int rc = tdi_atomic_open(&af, path, err);
    if (rc)
        return rc;
    rc = tdi_gen_netlist_write(c, mode, 0, 0, af.f, err);
    if (rc) {
        tdi_atomic_abort(&af);
        return tdi_err_prefix(err, "%s", path);
    }
    return tdi_atomic_commit(&af, err);
}

/* dir = the argument if given, else the config's key if set, else <out>/<sub>; snprintf's
 * return (the caller refuses a path that did not fit) */
static int pick_dir(char *dir, size_t n, const char *arg, const char *key, const char *out,
                    const char *sub)
{
    if (arg)
        return snprintf(dir, n, "%s", arg);
    if (key[0])
        return snprintf(dir, n, "%s", key);
    return snprintf(dir, n, "%s/%s", out, sub);
}

int tdi_gen_run(const tdi_gen_config *cfg, const char *bundle_dir, const char *out_dir,
                FILE *log, tdi_err *err)
{
    return tdi_gen_run_ex(cfg, bundle_dir, out_dir, log, NULL, err);
}

int tdi_gen_run_ex(const tdi_gen_config *cfg, const char *bundle_dir, const char *out_dir,
                   FILE *log, const tdi_gen_run_hook *hook, tdi_err *err)
{
    char bdir[1100], odir[1100], tmp[1200];
    int wb = pick_dir(bdir, sizeof bdir, bundle_dir, cfg->bundle, cfg->out, "substrate");
    int wo = pick_dir(odir, sizeof odir, out_dir, cfg->netlists, cfg->out, "netlists");
    if (wb < 0 || (size_t)wb >= sizeof bdir || wo < 0 || (size_t)wo >= sizeof odir)
        return tdi_err_set(err, TDI_EARG, "tdi-gen: bundle or output path longer than %zu "
                           "bytes: refusing it rather than cutting it", sizeof odir - 1);
    int rc0 = tdi_dir_check(odir, err); /* refuse a foreign target before the work */
    if (rc0)
        return rc0;
    double t0 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    tdi_gen_bundle b;
    int rc = tdi_gen_bundle_read(bdir, &b, err);
    if (rc)
        return rc;
    tdi_gen_circuit *c = NULL;
    int begun = 0;
    double t1 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID), t3;
    if ((rc = tdi_gen_circuit_build(cfg, &b, &c, err)))
        goto done;
    if (hook && hook->prepare && (rc = hook->prepare(hook->user, c, err)))
        goto done;
    t3 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID);
    /* parent of the output directory must exist for the transaction */
    {
        char parent[1100];
        snprintf(parent, sizeof parent, "%s", odir);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) {
            *slash = '\0';
            if ((rc = tdi_mkdirs(parent, err)))
                goto done;
        }
    }
    if ((rc = tdi_dir_begin(odir, tmp, sizeof tmp, err)))
        goto done;
    begun = 1;
    if ((rc = write_netlist(tmp, tdi_gen_standalone_name(c), c, TDI_GEN_STANDALONE, err)) ||
        (rc = write_netlist(tmp, "cosim.cir", c, TDI_GEN_COSIM, err)))
        goto done;
    if (tdi_gen_companion_name(c) && /* Spectre's measurements: standalone.mdl */
        (rc = write_netlist(tmp, tdi_gen_companion_name(c), c, TDI_GEN_COMPANION, err)))
        goto done;
    {
        char path[1300];
        snprintf(path, sizeof path, "%s/wires.json", tmp);
        if ((rc = tdi_gen_wires_json(c, path, err)))
            goto done;
    }
    if (hook && hook->run && (rc = hook->run(hook->user, c, tmp, err)))
        goto done;
    if ((rc = tdi_dir_commit(tmp, odir, err)))
        goto done;
    begun = 0;
    if (log) {
        fprintf(log, "tdi-gen: %s -> %s/{%s%s%s,cosim.cir,wires.json%s%s}\n", bdir, odir,
                tdi_gen_standalone_name(c), tdi_gen_companion_name(c) ? "," : "",
                tdi_gen_companion_name(c) ? tdi_gen_companion_name(c) : "",
                hook && hook->files && *hook->files ? "," : "",
                hook && hook->files ? hook->files : "");
        tdi_gen_phys_print(c, log);
        tdi_gen_op_print(c, log);
        tdi_gen_wires_print(c, log);
        double t4 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID);
        fprintf(log, "timing (CPU s): read %.3f, checks+physics %.3f, elements and their text "
                "%.3f, write both netlists%s %.3f; total %.3f\n", t1 - t0, c->time_prep,
                c->time_elems, hook && hook->files && *hook->files ? " (and the hook's files)" : "",
                t4 - t3, t4 - t0);
        if (hook && hook->print) /* its own timing (the extraction's is in its report) */
            hook->print(hook->user, log);
    }
done:
    if (begun)
        tdi_dir_abort(tmp);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
    return rc;
}

/* A non-ideal chip's equilibrium node voltages per sample (ns, N) V: G_chip v = bias + i_unit
 * (docs/nonideal.md); *out malloc'd. */
static int chip_means(const tdi_gen_circuit *c, double **out, tdi_err *err)
{
    size_t N = c->N, ns = c->n_samples;
    double *v = malloc(ns * N * sizeof *v), *A = malloc(N * N * sizeof *A);
    gsl_permutation *p = gsl_permutation_alloc(N);
    int sg, rc = 0;
    if (!v || !A || !p) {
        rc = tdi_err_set(err, TDI_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(A, c->chip->G, N * N * sizeof *A);
    gsl_matrix_view Av = gsl_matrix_view_array(A, N, N);
    if (gsl_linalg_LU_decomp(&Av.matrix, p, &sg)) {
        rc = tdi_err_set(err, TDI_ENUM, "the chip's G is singular");
        goto done;
    }
    for (size_t s = 0; s < ns && !rc; s++) {
        for (size_t i = 0; i < N; i++)
            v[s * N + i] = c->bias[s * N + i] + c->chip->i_unit[i];
        gsl_vector_view x = gsl_vector_view_array(v + s * N, N);
        if (gsl_linalg_LU_svx(&Av.matrix, p, &x.vector))
            rc = tdi_err_set(err, TDI_ENUM, "the chip's G is singular");
    }
done:
    free(A);
    gsl_permutation_free(p);
    if (rc)
        free(v);
    else
        *out = v;
    return rc;
}

int tdi_gen_compare_log(const tdi_gen_circuit *c, const tdi_gen_bundle *b, const char *log_text,
                        FILE *out, double *chi2n, double *zmax, tdi_err *err)
{
    double *cm = NULL; /* a chip: its own equilibrium is the expectation */
    if (c->chip) {
        int rc = chip_means(c, &cm, err);
        if (rc)
            return rc;
    }
    size_t N = c->N, D = c->D, o = c->mod[c->out].off, m = 0; /* o..o+D: read-out module */
    size_t first = c->readout_all ? 0 : o, last = c->readout_all ? N : o + D;
    double chi2 = 0, zm = 0;
    if (out)
        fprintf(out, "%-16s %14s %14s %12s %8s\n", "average", "ngspice (V)", "analytic (V)",
                "pred std (V)", "z");
    for (size_t si = 0; si < c->n_samples; si++)
        for (size_t i = first; i < last; i++) {
            char key[80];
            snprintf(key, sizeof key, "avg_%s_s%zu", c->nodes[i].name, si);
            size_t kl = strlen(key);
            const char *p = log_text, *hit = NULL;
            while ((p = strstr(p, key)) != NULL) { /* at a line start, followed by blanks, '=' */
                const char *q = p + kl;
                if ((p == log_text || p[-1] == '\n') && (*q == ' ' || *q == '=')) {
                    hit = q;
                    break;
                }
                p = q;
            }
            double v;
            if (!hit || sscanf(hit, " = %lf", &v) != 1) {
                free(cm);
                return tdi_err_set(err, TDI_EFORMAT, "ngspice log: no line '%s = <value>' (did "
                                   "the run finish?)", key);
            }
            size_t n = (size_t)c->samples[si];
            double ex = cm ? cm[si * N + i]
                           : i >= o && i < o + D ? c->phys.Vs * b->analytic[n * D + (i - o)]
                                                 : c->expect_mean[si * N + i];
            double z = (v - ex) / c->readout_sd[i];
            chi2 += z * z;
            zm = fmax(zm, fabs(z));
            m++;
            if (out)
                fprintf(out, "%-16s %14.6g %14.6g %12.3g %+8.2f\n", key, v, ex,
                        c->readout_sd[i], z);
        }
    *chi2n = m ? chi2 / (double)m : 0;
    *zmax = zm;
    if (out)
        fprintf(out, "%zu averages: chi2/N = %.3f, max |z| = %.2f (z: deviation in predicted "
                "read-out standard deviations, docs/physics.md 5)%s\n", m, *chi2n, zm,
                cm ? "; expected: the non-ideal chip's own equilibrium (docs/nonideal.md)" : "");
    free(cm);
    return 0;
}

int tdi_gen_run_compare(const tdi_gen_config *cfg, const char *bundle_dir, const char *log_path,
                        FILE *out, double *chi2n, double *zmax, tdi_err *err)
{
    char bdir[1100];
    if (bundle_dir)
        snprintf(bdir, sizeof bdir, "%s", bundle_dir);
    else if (cfg->bundle[0])
        snprintf(bdir, sizeof bdir, "%s", cfg->bundle);
    else
        snprintf(bdir, sizeof bdir, "%s/substrate", cfg->out);
    char *log_text = NULL;
    size_t len = 0;
    int rc = tdi_file_read_max(log_path, TDI_READ_MAX_LOG, &log_text, &len, err);
    if (rc)
        return rc;
    tdi_gen_bundle b;
    if ((rc = tdi_gen_bundle_read(bdir, &b, err))) {
        free(log_text);
        return rc;
    }
    tdi_gen_circuit *c = NULL;
    rc = tdi_gen_circuit_build(cfg, &b, &c, err);
    if (!rc)
        rc = tdi_gen_compare_log(c, &b, log_text, out, chi2n, zmax, err);
    if (rc)
        tdi_err_prefix(err, "%s", log_path);
    tdi_gen_circuit_free(c);
    tdi_gen_bundle_destroy(&b);
    free(log_text);
    return rc;
}
