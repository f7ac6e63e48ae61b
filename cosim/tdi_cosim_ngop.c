/* tdi_cosim_ngop: ngspice's operating point through the shared library (tdi_cosim.h,
 * "ngspice operating point"): load a deck, run commands ("op", "alter ..."), read vectors
 * ("i(vh3)", "@m1[gm]"). Shares the process's one instance with the transient driver
 * (cosim/tdi_cosim_ng.h). Invariants: one deck loaded here at a time (a load replaces it); every
 * error line ngspice prints during a call makes the call fail with TDI_ESPICE and that text, so
 * a failed op never leaves stale vectors looking valid. Non-goals: complex vectors, bg_run. */
#include <stdlib.h>
#include <string.h>

#include "tdi_cosim.h"
#include "tdi_cosim_ng.h"
#include "tdi_gen.h"

static int g_loaded; /* a deck of ours is in ngspice */

/* Fails with TDI_ESPICE when ngspice printed an error line or asked to exit during the call. */
static int ng_check(const tdi_cosim_ng_watch *w, const char *what, tdi_err *err)
{
    if (!w->ng_error && !w->exited)
        return 0;
    const char *log = tdi_cosim_ng_log();
    return tdi_err_set(err, TDI_ESPICE, "ngspice %s failed: %s", what,
                       *log ? log : "(no message)");
}

/* One command inside a watch, the host state saved and restored around it. */
static int ng_command(const char *cmd, tdi_cosim_ng_watch *w)
{
    tdi_cosim_ng_host host;
    tdi_cosim_ng_host_save(&host);
    tdi_cosim_ng_watch_begin(w);
    int rc = tdi_cosim_ng_raw_command(cmd);
    tdi_cosim_ng_watch_end();
    tdi_cosim_ng_host_restore(&host);
    return rc;
}

void tdi_cosim_ng_unload(void)
{
    if (!g_loaded)
        return;
    tdi_cosim_ng_watch w;
    ng_command("remcirc", &w);
    ng_command("destroy all", &w);
    g_loaded = 0;
}

int tdi_cosim_ng_load(const tdi_gen_text *t, tdi_err *err)
{
    if (!t || !t->lines || t->n_lines < 2)
        return tdi_err_set(err, TDI_EARG, "ngspice load: no netlist text");
    const char *last = t->lines[t->n_lines - 1];
    if (strncasecmp(last + strspn(last, " \t"), ".end", 4) != 0)
        return tdi_err_set(err, TDI_EARG, "ngspice load: the last line is '%s', not .end", last);
    int rc = tdi_cosim_ng_init(err);
    if (rc)
        return rc;
    tdi_cosim_ng_unload();
    tdi_cosim_ng_host host;
    tdi_cosim_ng_host_save(&host);
    tdi_cosim_ng_watch w;
    tdi_cosim_ng_watch_begin(&w);
    int circ_rc = tdi_cosim_ng_raw_circ(t->lines);
    tdi_cosim_ng_watch_end();
    tdi_cosim_ng_host_restore(&host);
    g_loaded = 1; /* ngspice keeps a circuit even after a parse error */
    if (circ_rc != 0 && !w.ng_error)
        rc = tdi_err_set(err, TDI_ESPICE, "ngspice rejected the netlist (ngSpice_Circ returned "
                         "%d): %s", circ_rc, *tdi_cosim_ng_log() ? tdi_cosim_ng_log() :
                         "(no message)");
    else
        rc = ng_check(&w, "netlist load", err);
    if (!rc) /* BSIM4's load runs OpenMP on num_threads (default 2); see docs/ngspice.md 7 */
        rc = tdi_cosim_ng_cmd("set num_threads=1", err);
    if (rc)
        tdi_cosim_ng_unload();
    return rc;
}

int tdi_cosim_ng_cmd(const char *cmd, tdi_err *err)
{
    if (!cmd || !*cmd)
        return tdi_err_set(err, TDI_EARG, "ngspice command: empty");
    if (!g_loaded)
        return tdi_err_set(err, TDI_EARG, "ngspice command '%s': no netlist loaded", cmd);
    tdi_cosim_ng_watch w;
    ng_command(cmd, &w);
    char what[160];
    snprintf(what, sizeof what, "command '%.120s'", cmd);
    return ng_check(&w, what, err);
}

/* The real data of vec (len >= 1), or TDI_ESPICE with ngspice's message. */
static int ng_get(const char *vec, const double **re, size_t *len, tdi_err *err)
{
    if (!vec || !*vec)
        return tdi_err_set(err, TDI_EARG, "ngspice vector: empty name");
    if (!g_loaded)
        return tdi_err_set(err, TDI_EARG, "ngspice vector '%s': no netlist loaded", vec);
    tdi_cosim_ng_host host;
    tdi_cosim_ng_host_save(&host);
    tdi_cosim_ng_watch w;
    tdi_cosim_ng_watch_begin(&w);
    int rc = tdi_cosim_ng_raw_vec(vec, re, len);
    tdi_cosim_ng_watch_end();
    tdi_cosim_ng_host_restore(&host);
    const char *log = tdi_cosim_ng_log();
    if (rc)
        return tdi_err_set(err, TDI_ESPICE, "ngspice has no vector '%s'%s%s", vec,
                           *log ? ": " : "", log);
    if (!*re)
        return tdi_err_set(err, TDI_ESPICE, "ngspice vector '%s' is complex (real ones only)",
                           vec);
    if (*len < 1)
        return tdi_err_set(err, TDI_ESPICE, "ngspice vector '%s' is empty", vec);
    return 0;
}

int tdi_cosim_ng_real(const char *vec, double *out, tdi_err *err)
{
    const double *re;
    size_t len;
    int rc = ng_get(vec, &re, &len, err);
    if (rc)
        return rc;
    *out = re[0];
    return 0;
}

int tdi_cosim_ng_vector(const char *vec, double **out, size_t *n, tdi_err *err)
{
    const double *re;
    size_t len;
    *out = NULL;
    *n = 0;
    int rc = ng_get(vec, &re, &len, err);
    if (rc)
        return rc;
    double *v = malloc(sizeof(double) * len);
    if (!v)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory copying ngspice vector '%s'", vec);
    memcpy(v, re, sizeof(double) * len);
    *out = v;
    *n = len;
    return 0;
}
