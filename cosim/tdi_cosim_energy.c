/* tdi_cosim_energy: the energy ledger. The resistor dissipation of every resistor of the netlist
 * from the unit waveforms (identical in every engine: bus nodes are algebraic, their voltages
 * linear in the units'), the digital-equivalent job (the same decoder estimate computed
 * digitally: MACs and weight reads), and the job's ledger per inference (docs/physics.md 7).
 * Non-goals: the energy constants (the `energy:` config), the report (tdi_cosim_report.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim_job.h"
#include "tdi_linalg.h"

double tdi_cosim_resistor_power(const tdi_cosim_circuit *c, const double *v)
{
    size_t n = c->n;
    double p = 0;
    for (size_t i = 0; i < n; i++)
        p += c->r_unit[i] * v[i] * v[i];
    for (size_t r = 0; r < c->n_rmap; r++) {
        const double *m = c->r_map + r * n;
        double u = 0;
        for (size_t j = 0; j < n; j++)
            u += m[j] * v[j];
        p += c->r_g[r] * u * u;
    }
    return p;
}

double tdi_cosim_resistor_tick(const tdi_cosim_circuit *c, const double *vprev, double p0,
                               const double *v, double p1, double h)
{
    double e = 0.5 * h * (p0 + p1), q = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->r_rate[i] != 0)
            q += c->r_rate[i] * (v[i] - vprev[i]) * (v[i] - vprev[i]);
    return e + q / h;
}

int tdi_cosim_digeq_count(size_t D, size_t k, int mode, tdi_cosim_digeq *q, tdi_err *err)
{
    memset(q, 0, sizeof *q);
    long d = (long)D, kk = (long)k;
    if (D == 0 || mode < 0 || mode > 2 || (mode == 2 && k == 0))
        return tdi_err_set(err, TDI_EARG, "digital equivalent: need D > 0, mode 0..2, k > 0 "
                           "when projected");
    if (mode == 0) {
        /* enc_w1 (4, D), enc_w2 (D, 4), tr_w1 (16, D), tr_w2 (D, 16) and their biases */
        q->iface_macs = 4 * d + d * 4 + 16 * d + d * 16;
        q->iface_reads = q->iface_macs + 4 + d + 16 + d;
        q->matvec_macs = d * 2 * d;
        q->matvec_reads = d * 2 * d;
        /* h4 = enc_w1 x + b; h16 = (tr_w1 enc_w2) h4 + b'; y = (W_x enc_w2) h4 +
           (W_y tr_w2) h16 + b'' */
        q->folded_macs = 4 * d + 16 * 4 + d * 4 + d * 16;
        q->folded_reads = q->folded_macs + 4 + 16 + d;
    } else {
        q->iface_macs = mode == 1 ? d * d : 2 * d * kk;
        q->iface_reads = q->iface_macs;
        q->matvec_macs = d * d;
        q->matvec_reads = d * d + d; /* and the precomputed [M^-1]_{yy} c */
        q->folded_macs = q->iface_macs;
        q->folded_reads = q->iface_reads + d;
    }
    return 0;
}

int tdi_cosim_digeq_matrix(const double *M, size_t D, double *W, tdi_err *err)
{
    size_t N = 2 * D;
    double *L = malloc(N * N * sizeof *L);
    if (!L)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    int rc = tdi_linalg_chol(M, N, L, "digital equivalent: M", 0, NULL, err);
    if (!rc) {
        /* row D + i of M^-1 (M symmetric) = e_{D+i}^T M^-1: the rows of W solved in place */
        memset(W, 0, D * N * sizeof *W);
        for (size_t i = 0; i < D; i++)
            W[i * N + D + i] = 1.0;
        tdi_linalg_chol_solve_rows(L, N, W, D);
    }
    free(L);
    return rc;
}

/* Without spice: the rails' power at the realised matrix's rest op (the linearised route reads
 * it) times the inference time; nothing when that op did not read them. */
static void energy_supply_op(tdi_cosim_job *j, tdi_cosim_ledger *e)
{
    const double *w = j->real ? j->real->op_supply_W : NULL;
    if (!w || isnan(w[0]) || j->cc->n_supply != TDI_COSIM_OP_SUPPLY)
        return;
    e->n_supply = TDI_COSIM_OP_SUPPLY;
    e->supply_op = 1;
    for (size_t s = 0; s < e->n_supply; s++) {
        e->P_supply[s] = w[s];
        e->E_supply[s] = w[s] * e->T_inf;
    }
}

/* The supplies the spice engine measured (docs/cosim.md "Supply power"): V_s q_s per inference
 * and as a mean power; without spice the rest op's (energy_supply_op); nothing when the
 * circuit has no supplies. */
static void energy_supply(tdi_cosim_job *j, tdi_cosim_ledger *e)
{
    const tdi_cosim_stats *st = &j->outs[TDI_COSIM_SPICE].st;
    e->n_supply = 0;
    e->supply_op = 0;
    if (!j->outs[TDI_COSIM_SPICE].est || j->nk[TDI_COSIM_SPICE] == 0 || !(st->supply_t > 0)) {
        energy_supply_op(j, e);
        return;
    }
    e->n_supply = j->cc->n_supply;
    for (size_t s = 0; s < e->n_supply; s++) {
        double E = j->cc->supply_v[s] * st->supply_q[s];
        e->E_supply[s] = E / (double)j->nk[TDI_COSIM_SPICE];
        e->P_supply[s] = E / st->supply_t;
    }
}

/* The ledger per inference (one sample) from the most physical engine that ran. */
void tdi_cosim_job_energy(tdi_cosim_job *j)
{
    const tdi_cosim_cfg *cfg = &j->cfg;
    const tdi_gen_phys *ph = j->ph;
    const tdi_cosim_digeq *dq = &j->dq;
    tdi_cosim_ledger *e = &j->e;
    int ek = j->outs[2].est ? 2 : j->outs[1].est ? 1 : 0;
    const tdi_cosim_out *o = &j->outs[ek];
    size_t n = j->nk[ek];
    e->engine = ek;
    e->T_inf = (double)j->tm.per_sample * j->tm.tick;
    e->E_bias = e->E_R = 0;
    for (size_t s = 0; s < n; s++) {
        e->E_bias += o->e_bias[s];
        e->E_R += o->e_r[s];
    }
    for (size_t s = 0; s < n; s++)
        j->sp.E_R_stage += o->e_r_stage[s] / (double)n;
    e->E_bias /= (double)n;
    e->E_R /= (double)n;
    e->E_active = cfg->vdd * j->cc->sum_gm / cfg->gm_over_id * e->T_inf;
    e->n_adc = (double)(j->conv * (long)j->D);
    e->E_dac = (double)j->N * cfg->dac_fom * ldexp(1.0, (int)cfg->dac_bits);
    e->E_adc = e->n_adc * cfg->adc_fom * ldexp(1.0, (int)cfg->adc_bits);
    e->E_conv = e->E_dac + e->E_adc;
    e->E_digital = (double)j->macs * cfg->e_mac;
    e->E_wread = (double)dq->iface_reads * cfg->e_read;
    e->E_total = fabs(e->E_bias) + e->E_R + e->E_active + e->E_conv + e->E_digital + e->E_wread;
    e->E_digeq = (double)(dq->iface_macs + dq->matvec_macs) * cfg->e_mac +
                 (double)(dq->iface_reads + dq->matvec_reads) * cfg->e_read;
    e->E_digeq_f = (double)dq->folded_macs * cfg->e_mac + (double)dq->folded_reads * cfg->e_read;
    /* analog / digital; 0 when the digital side is configured free (energy.mac = weight_read
       = 0) */
    e->r_digeq = e->E_digeq > 0 ? e->E_total / e->E_digeq : 0;
    e->r_fold = e->E_digeq_f > 0 ? e->E_total / e->E_digeq_f : 0;
    e->E_kT = ph->kT * (double)j->N * (e->T_inf / ph->t_slow);
    e->gpu_part = cfg->gpu_step * cfg->gpu_replaced_fraction;
    energy_supply(j, e);
}
