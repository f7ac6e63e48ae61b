/* tdi_cosim_spice: the ngspice adapter, the only file that includes sharedspice.h: the one
 * instance's init, callbacks and raw calls (cosim/tdi_cosim_ng.h, used by the operating-point
 * adapter tdi_cosim_ngop.c) and the transient driver. It loads a deck from memory, runs it with the blocking "run" (callbacks come on this thread), caps every
 * step at the next digital tick, feeds the EXTERNAL sources (bias held per interval + noise
 * interpolated between tick samples) and reports the accepted state at every tick.
 * Invariants: source values are pure functions of (t, states accepted so far); a run either
 * reports every tick 0..n_ticks or fails with TDI_ESPICE and ngspice's own text.
 * A run leaves the calling thread's OpenMP thread count and floating-point environment as it
 * found them (ngspice's "run" sets its own thread count, which OpenBLAS then follows).
 * Non-goals: bg_run, several instances, reading vectors after the run (".save none"). */
#include <ctype.h>
#include <fenv.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ngspice/sharedspice.h>
#include <omp.h>

#include "tdi_clock.h"
#include "tdi_buf.h"
#include "tdi_cosim.h"
#include "tdi_cosim_ng.h"

#define LOG_CAP 8192 /* bytes of ngspice output kept for error messages */

typedef struct spice_ctx {
    const tdi_cosim_circuit *c;
    const tdi_cosim_noise *nz;
    const tdi_cosim_digital *dg;
    tdi_cosim_stats *st;
    double h;          /* tick, s */
    long bias_k;       /* interval whose bias is in ib (-2: none) */
    double *ib;        /* (n) A, bias of interval bias_k */
    long noise_j;      /* samples s_j, s_j+1 held in s0, s1 (-1: none) */
    double *s0, *s1;   /* (n) A */
    double *d0, *d1;   /* (n_dev) A: the device noise samples j, j + 1 (transistor level) */
    double *v;         /* (n) V, scratch for SendData */
    int *vec_unit;     /* (veccount) unit index of each vector, -1 = other, -2 = time,
                          -3 - s = the branch current of supply s */
    double sup_i[TDI_COSIM_MAX_SUPPLY]; /* A: supply currents at the last integrated point */
    double sup_t;      /* s: that point's time (NAN before the first) */
    int n_vec;
    int *src_hash;     /* open addressing table of 2 * unit + (1 for a noise source) by source
                          name, 2 (n + d) for device noise source d, -1 empty */
    size_t hash_cap;
    long last_tick;    /* last tick reported, -1 before t = 0 */
    struct {           /* the last 8 time-step callbacks, printed with a tick error */
        char kind;     /* 'd' accepted point (SendData), 's' sync */
        int loc, redo;
        double t, d0, d1; /* time; sync: ngspice's step and the step after the cap */
    } trace[8];
    unsigned ntrace;
    int fail;          /* a callback failed: code */
    char fail_msg[512];
    tdi_cosim_ng_watch w; /* ngspice's error lines and exit requests during the run */
} spice_ctx;

static int g_initialised;
static int g_verbose;
static spice_ctx *g_ctx;          /* the run in progress, NULL between runs */
static tdi_cosim_ng_watch *g_watch; /* where ngspice's error lines go, NULL: nowhere */
static char g_log[LOG_CAP];       /* ngspice output since the last reset (error lines first) */
static size_t g_log_len;

/* LeakSanitizer hook (make asan): ngspice 39.3 keeps allocations for the life of the process
 * (the instance is never unloaded); they are not ours to free. Inert in normal builds. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libngspice.so\n";
}

void tdi_cosim_spice_set_verbose(int verbose)
{
    g_verbose = verbose;
}

static void log_append(const char *s)
{
    size_t n = strlen(s);
    if (g_log_len + n + 2 >= LOG_CAP)
        return;
    memcpy(g_log + g_log_len, s, n);
    g_log_len += n;
    g_log[g_log_len++] = '\n';
    g_log[g_log_len] = '\0';
}

/* Lines ngspice prints on failure. Warnings ("warning", "note") are not errors. */
static int line_is_error(const char *s)
{
    static const char *const pat[] = {"error", "aborted", "too small", "singular",
                                      "unknown", "fatal", "no such", "cannot", "could not",
                                      "failed", "not found", "unrecognized", "bad "};
    char low[512];
    size_t i;
    for (i = 0; s[i] && i + 1 < sizeof low; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    low[i] = '\0';
    if (strstr(low, "warning") || strstr(low, "note:"))
        return 0;
    for (size_t p = 0; p < sizeof pat / sizeof pat[0]; p++)
        if (strstr(low, pat[p]))
            return 1;
    return 0;
}

static int cb_printf(char *s, int id, void *user)
{
    (void)id;
    (void)user;
    if (g_verbose)
        fprintf(stderr, "ngspice: %s\n", s);
    const char *body = s;
    if (strncmp(s, "stdout ", 7) == 0 || strncmp(s, "stderr ", 7) == 0)
        body = s + 7;
    if (g_watch && line_is_error(body)) {
        g_watch->ng_error = 1;
        g_watch->tail = 2;
        log_append(body);
    } else if (g_watch && g_watch->tail > 0) {
        g_watch->tail--;
        log_append(body);
    }
    return 0;
}

static int cb_status(char *s, int id, void *user)
{
    (void)s;
    (void)id;
    (void)user;
    return 0;
}

static int cb_exit(int status, NG_BOOL unload, NG_BOOL quit, int id, void *user)
{
    (void)unload;
    (void)quit;
    (void)id;
    (void)user;
    if (g_watch) {
        g_watch->exited = 1;
        char m[64];
        snprintf(m, sizeof m, "ngspice requested exit with status %d", status);
        log_append(m);
    }
    return 0;
}

static int cb_bgrunning(NG_BOOL running, int id, void *user)
{
    (void)running;
    (void)id;
    (void)user;
    return 0;
}

void tdi_cosim_ng_watch_begin(tdi_cosim_ng_watch *w)
{
    memset(w, 0, sizeof *w);
    g_log_len = 0;
    g_log[0] = '\0';
    g_watch = w;
}

void tdi_cosim_ng_watch_end(void)
{
    g_watch = NULL;
}

const char *tdi_cosim_ng_log(void)
{
    return g_log;
}

int tdi_cosim_ng_raw_circ(char **lines)
{
    return ngSpice_Circ(lines);
}

int tdi_cosim_ng_raw_command(const char *cmd)
{
    return ngSpice_Command((char *)cmd);
}

char **tdi_cosim_ng_raw_vecs(void)
{
    char *plot = ngSpice_CurPlot();
    return plot ? ngSpice_AllVecs(plot) : NULL;
}

int tdi_cosim_ng_raw_vec(const char *name, const double **re, size_t *len)
{
    pvector_info v = ngGet_Vec_Info((char *)name);
    if (!v || v->v_length < 0)
        return -1;
    *re = v->v_realdata; /* NULL for a complex vector */
    *len = (size_t)v->v_length;
    return 0;
}

static void ctx_fail(spice_ctx *x, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ctx_fail(spice_ctx *x, int code, const char *fmt, ...)
{
    if (x->fail)
        return; /* keep the first failure */
    x->fail = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->fail_msg, sizeof x->fail_msg, fmt, ap);
    va_end(ap);
}

static uint64_t str_hash(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *s; s++)
        h = (h ^ (unsigned char)tolower((unsigned char)*s)) * UINT64_C(0x100000001b3);
    return h;
}

static int name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

static const char *src_name(const tdi_cosim_circuit *c, int code)
{
    size_t u = (size_t)code >> 1;
    if (u >= c->n)
        return c->dev_src[u - c->n];
    return (code & 1) ? c->src_noise[u] : c->src[u];
}

static int src_lookup(const spice_ctx *x, const char *name)
{
    size_t m = x->hash_cap - 1;
    for (size_t p = (size_t)str_hash(name) & m;; p = (p + 1) & m) {
        int u = x->src_hash[p];
        if (u < 0)
            return -1;
        if (name_eq(src_name(x->c, u), name))
            return u;
    }
}

static int src_insert(spice_ctx *x, int code, tdi_err *err)
{
    const char *nm = src_name(x->c, code);
    size_t m = x->hash_cap - 1, p = (size_t)str_hash(nm) & m;
    while (x->src_hash[p] >= 0) {
        if (name_eq(src_name(x->c, x->src_hash[p]), nm))
            return tdi_err_set(err, TDI_EARG, "source name '%s' used twice", nm);
        p = (p + 1) & m;
    }
    x->src_hash[p] = code;
    return 0;
}

static int node_lookup(const tdi_cosim_circuit *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (name_eq(c->node[i], name))
            return (int)i;
    return -1;
}

/* -3 - s when name is "<supply s>#branch" (ngspice's name of a voltage source's current),
 * else -1 */
static int supply_lookup(const tdi_cosim_circuit *c, const char *name)
{
    const char *h = strchr(name, '#');
    if (!h || !name_eq(h, "#branch"))
        return -1;
    for (size_t s = 0; s < c->n_supply; s++)
        if (strlen(c->supply[s]) == (size_t)(h - name) &&
            strncasecmp(c->supply[s], name, (size_t)(h - name)) == 0)
            return -3 - (int)s;
    return -1;
}

static int cb_init_data(pvecinfoall vi, int id, void *user)
{
    (void)id;
    (void)user;
    spice_ctx *x = g_ctx;
    if (!x)
        return 0;
    free(x->vec_unit);
    x->n_vec = vi->veccount;
    x->vec_unit = malloc(sizeof(int) * (size_t)(vi->veccount > 0 ? vi->veccount : 1));
    if (!x->vec_unit) {
        ctx_fail(x, TDI_ENOMEM, "out of memory");
        x->n_vec = 0;
        return 0;
    }
    size_t found = 0;
    int have_time = 0;
    for (int i = 0; i < vi->veccount; i++) {
        const char *nm = vi->vecs[i]->vecname;
        if (name_eq(nm, "time")) {
            x->vec_unit[i] = -2;
            have_time = 1;
            continue;
        }
        int u = node_lookup(x->c, nm);
        if (u < 0)
            u = supply_lookup(x->c, nm);
        x->vec_unit[i] = u;
        if (u >= 0)
            found++;
    }
    size_t sup = 0;
    for (int i = 0; i < vi->veccount; i++)
        sup += x->vec_unit[i] <= -3;
    if (!have_time)
        ctx_fail(x, TDI_ESPICE, "ngspice plot has no time vector (not a transient run?)");
    else if (sup != x->c->n_supply)
        ctx_fail(x, TDI_ESPICE, "ngspice reports the current of %zu of the %zu supplies (each "
                 "must be a voltage source of the netlist: '%s'...)", sup, x->c->n_supply,
                 x->c->supply[0]);
    else if (found != x->c->n)
        ctx_fail(x, TDI_ESPICE, "ngspice reports %zu of the %zu unit nodes", found, x->c->n);
    return 0;
}

/* Every callback places a time on the tick grid by the same rule: within TICK_TOL ticks of
 * t_k = k h it is tick k (*on = 1), otherwise it lies in (t_k, t_k+1) with k = floor(t / h).
 * One rule for all callbacks, so that they cannot disagree at the boundary: they once used
 * different tolerances, and after 209,407 ticks of 1 ulp drift a point 1.000008e-6 ticks before
 * a tick was "on the tick" for the step control and "between ticks" for the digital side. */
#define TICK_TOL 1e-6
long tdi_cosim_tick_of(double t, double h, int *on)
{
    double kf = t / h, k = nearbyint(kf);
    *on = fabs(kf - k) <= TICK_TOL;
    return *on ? (long)k : (long)floor(kf);
}

/* The step may not pass the next tick, and a step that would end within TICK_TOL before it
   ends exactly on it: otherwise the rounding of t + h accumulates (up to 1 ulp per step) and
   the points drift off the grid. */
double tdi_cosim_tick_step(double t, double h, double delta)
{
    int on;
    double tn = (double)(tdi_cosim_tick_of(t, h, &on) + 1) * h;
    return t + delta > tn - TICK_TOL * h ? tn - t : delta;
}

static void trace_add(spice_ctx *x, char kind, int loc, int redo, double t, double d0, double d1)
{
    unsigned i = x->ntrace++ % 8;
    x->trace[i].kind = kind;
    x->trace[i].loc = loc;
    x->trace[i].redo = redo;
    x->trace[i].t = t;
    x->trace[i].d0 = d0;
    x->trace[i].d1 = d1;
}

/* the trace, latest first, in ticks */
static void trace_fmt(const spice_ctx *x, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < 8 && i < x->ntrace && len < n; i++) {
        unsigned j = (x->ntrace - 1 - i) % 8;
        int w = x->trace[j].kind == 'd'
                    ? snprintf(buf + len, n - len, "; point t/h = %.9f", x->trace[j].t / x->h)
                    : snprintf(buf + len, n - len, "; sync loc %d redo %d t/h = %.9f step %.9g -> "
                               "%.9g ticks", x->trace[j].loc, x->trace[j].redo,
                               x->trace[j].t / x->h, x->trace[j].d0 / x->h,
                               x->trace[j].d1 / x->h);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

/* The supplies' delivered charge, trapezoid from the last point to this one (a point that does
 * not advance the time, e.g. a repeat at a tick, adds nothing). */
static void supply_point(spice_ctx *x, double t, const double *cur)
{
    size_t ns = x->c->n_supply;
    if (!isnan(x->sup_t) && !(t > x->sup_t))
        return;
    if (!isnan(x->sup_t)) {
        double dt = t - x->sup_t;
        for (size_t s = 0; s < ns; s++)
            x->st->supply_q[s] -= 0.5 * dt * (x->sup_i[s] + cur[s]);
        x->st->supply_t += dt;
    }
    memcpy(x->sup_i, cur, ns * sizeof *cur);
    x->sup_t = t;
}

static int cb_send_data(pvecvaluesall va, int count, int id, void *user)
{
    (void)count;
    (void)id;
    (void)user;
    spice_ctx *x = g_ctx;
    if (!x || x->fail || !x->vec_unit || va->veccount != x->n_vec)
        return 0;
    double t = NAN, cur[TDI_COSIM_MAX_SUPPLY];
    for (int i = 0; i < va->veccount; i++) {
        int u = x->vec_unit[i];
        if (u >= 0)
            x->v[u] = va->vecsa[i]->creal - x->c->v_ref; /* v_ref = 0: exact, ideal unchanged */
        else if (u == -2)
            t = va->vecsa[i]->creal;
        else if (u <= -3)
            cur[-3 - u] = va->vecsa[i]->creal;
    }
    if (x->c->n_supply)
        supply_point(x, t, cur);
    x->st->points++;
    trace_add(x, 'd', 0, 0, t, 0, 0);
    int on;
    long k = tdi_cosim_tick_of(t, x->h, &on);
    if (!on && k <= x->last_tick)
        return 0; /* an accepted point between ticks (a rejected-step retry) */
    if (k != x->last_tick + 1 || !on) {
        if (k != x->last_tick) { /* a repeated point at the same tick is harmless */
            char tr[1024];
            trace_fmt(x, tr, sizeof tr);
            ctx_fail(x, TDI_ESPICE, "tick %ld missed (accepted point at t = %.17g s = %.9f "
                     "ticks after tick %ld)%s", x->last_tick + 1, t, t / x->h, x->last_tick, tr);
        }
        return 0;
    }
    x->last_tick = k;
    x->st->ticks_hit++;
    /* x->ib holds the bias of the interval that ended at this tick (zeros at k = 0) */
    int rc = x->dg->on_tick(x->dg->user, k, t, x->v, x->ib);
    if (rc)
        ctx_fail(x, rc, "digital side failed at tick %ld", k);
    return 0;
}

static void bias_update(spice_ctx *x, long k, double t)
{
    size_t n = x->c->n;
    if (k == x->bias_k)
        return;
    if (k < 0) {
        memset(x->ib, 0, sizeof(double) * n);
    } else {
        if (k != x->last_tick) {
            char tr[1024];
            trace_fmt(x, tr, sizeof tr);
            ctx_fail(x, TDI_ESPICE, "source asked for interval %ld (t = %.9f ticks) with last "
                     "accepted tick %ld%s", k, t / x->h, x->last_tick, tr);
            return;
        }
        const double *b = x->dg->bias(x->dg->user, k);
        if (!b) {
            ctx_fail(x, TDI_EARG, "digital side returned no bias for interval %ld", k);
            return;
        }
        memcpy(x->ib, b, sizeof(double) * n);
    }
    x->bias_k = k;
}

static int cb_isrc(double *ret, double t, char *name, int id, void *user)
{
    (void)id;
    (void)user;
    spice_ctx *x = g_ctx;
    if (!x) {
        *ret = 0.0;
        return 0;
    }
    x->st->src_calls++;
    int code = src_lookup(x, name), u = code >> 1;
    if (code < 0)
        ctx_fail(x, TDI_ESPICE, "ngspice asked for EXTERNAL source '%s', which the circuit "
                 "does not drive", name);
    if (x->fail) {
        *ret = NAN; /* makes the Newton iteration fail so that the run stops */
        return 0;
    }
    int on;
    long k = tdi_cosim_tick_of(t, x->h, &on);
    long kb = on ? k - 1 : k; /* t in (t_k, t_k+1] -> interval k; t = 0 -> -1 */
    if (kb != x->bias_k) {
        bias_update(x, kb, t);
        if (x->fail) {
            *ret = NAN;
            return 0;
        }
    }
    long j = k < 0 ? 0 : k;
    if (j != x->noise_j) {
        tdi_cosim_noise_sample(x->nz, j, x->s0);
        tdi_cosim_noise_sample(x->nz, j + 1, x->s1);
        if (x->nz->dev) {
            tdi_cosim_noise_dev_sample(x->nz, j, x->d0);
            tdi_cosim_noise_dev_sample(x->nz, j + 1, x->d1);
        }
        x->noise_j = j;
    }
    double f = on ? 0.0 : t / x->h - (double)j;
    if (f < 0)
        f = 0;
    if ((size_t)u >= x->c->n) { /* a transistor's noise source: silent when noise is off */
        size_t d = (size_t)u - x->c->n;
        *ret = x->nz->dev ? (1.0 - f) * x->d0[d] + f * x->d1[d] : 0.0;
        return 0;
    }
    double noise = (1.0 - f) * x->s0[u] + f * x->s1[u];
    if (code & 1)
        *ret = noise;
    else
        *ret = x->ib[u] + (x->c->src_noise[u] ? 0.0 : noise);
    return 0;
}

static int cb_vsrc(double *ret, double t, char *name, int id, void *user)
{
    (void)t;
    (void)id;
    (void)user;
    *ret = NAN;
    if (g_ctx)
        ctx_fail(g_ctx, TDI_ESPICE, "ngspice asked for EXTERNAL voltage source '%s'; the "
                 "co-simulator drives current sources only", name);
    return 0;
}

static int cb_sync(double t, double *delta, double olddelta, int redostep, int id, int loc,
                   void *user)
{
    (void)olddelta;
    (void)id;
    (void)user;
    spice_ctx *x = g_ctx;
    if (!x)
        return 0;
    /* called before each step (loc 0) and after each attempt (loc 1, with t moved back when
       the attempt is redone) */
    double d0 = *delta;
    *delta = tdi_cosim_tick_step(t, x->h, *delta);
    trace_add(x, 's', loc, redostep, t, d0, *delta);
    return 0;
}

int tdi_cosim_ng_init(tdi_err *err)
{
    if (g_initialised)
        return 0;
    int ident = 0;
    if (ngSpice_Init(cb_printf, cb_status, cb_exit, cb_send_data, cb_init_data, cb_bgrunning,
                     NULL) != 0)
        return tdi_err_set(err, TDI_ESPICE, "ngSpice_Init failed");
    if (ngSpice_Init_Sync(cb_vsrc, cb_isrc, cb_sync, &ident, NULL) != 0)
        return tdi_err_set(err, TDI_ESPICE, "ngSpice_Init_Sync failed");
    g_initialised = 1;
    return 0;
}

/* Cards without our control lines: user .tran/.end/.save/.options tran are dropped. */
static int card_is_control(const char *l)
{
    while (*l == ' ' || *l == '\t')
        l++;
    int end = strncasecmp(l, ".end", 4) == 0 && (l[4] == '\0' || isspace((unsigned char)l[4]));
    return strncasecmp(l, ".tran", 5) == 0 || end ||
           strncasecmp(l, ".save", 5) == 0 || strncasecmp(l, ".control", 8) == 0;
}

char *tdi_cosim_spice_deck(const tdi_cosim_circuit *c, double tick, long n_ticks, int plain,
                           tdi_err *err)
{
    if (!c->lines) {
        tdi_err_set(err, TDI_EARG, "circuit has no netlist cards");
        return NULL;
    }
    tdi_buf b = {0};
    tdi_buf_printf(&b, "* tdi-cosim deck: %zu units, tick %.17g s, %ld ticks\n", c->n, tick,
                   n_ticks); /* out of memory is sticky: checked once, at the end */
    int in_control = 0; /* a .control ... .endc block is dropped whole */
    for (size_t i = 0; !b.oom && c->lines[i]; i++) {
        const char *l = c->lines[i];
        if (i == 0 && l[0] == '*')
            continue; /* the title line is ours */
        const char *w = l + strspn(l, " \t");
        if (strncasecmp(w, ".control", 8) == 0)
            in_control = 1;
        if (in_control) {
            if (strncasecmp(w, ".endc", 5) == 0)
                in_control = 0;
            continue;
        }
        if (card_is_control(l))
            continue;
        if (plain && strcasestr(l, "external")) {
            /* "Iname n+ n- external" -> "Iname n+ n- dc 0" for batch-mode comparisons */
            const char *e = strcasestr(l, "external");
            tdi_buf_printf(&b, "%.*sdc 0%s\n", (int)(e - l), l, e + 8);
            continue;
        }
        tdi_buf_printf(&b, "%s\n", l);
    }
    tdi_buf_printf(&b, ".tran %.17g %.17g 0 %.17g\n", tick, tick * (double)n_ticks, tick);
    if (!plain)
        tdi_buf_printf(&b, ".save none\n");
    else /* batch mode: keep one vector (run with ngspice -b -r FILE) */
        tdi_buf_printf(&b, ".save v(%s)\n", c->node ? c->node[0] : "0");
    tdi_buf_printf(&b, ".end\n");
    char *deck = tdi_buf_take(&b); /* NULL after out of memory */
    if (!deck)
        tdi_err_set(err, TDI_ENOMEM, "out of memory building the deck");
    return deck;
}

/* What ngspice may change in the process and a run must hand back unchanged. ngspice 39.3 calls
 * omp_set_num_threads(num_threads, default 2) in every "run"; OpenBLAS's OpenMP build takes its
 * thread count from omp_get_max_threads() at each call, so without the restore every later GEMM
 * of the sde engine ran on 2 threads (docs/results.md, cosim "Speed": 10-40x the CPU time on a
 * loaded machine).
 * The FP environment is restored too: ngspice leaves exception flags set (measured harmless for
 * speed, but the caller's environment is not ngspice's to change). */
void tdi_cosim_ng_host_save(tdi_cosim_ng_host *h)
{
    h->omp_threads = omp_get_max_threads();
    fegetenv(&h->fenv);
}

void tdi_cosim_ng_host_restore(const tdi_cosim_ng_host *h)
{
    omp_set_num_threads(h->omp_threads);
    fesetenv(&h->fenv);
}

static void spice_cleanup(void)
{
    ngSpice_Command((char *)"remcirc");
    ngSpice_Command((char *)"destroy all");
}

/* The run's arguments and every unit's node and source name. */
static int spice_args(const tdi_cosim_circuit *c, const tdi_cosim_noise *nz,
                      const tdi_cosim_digital *dg, const tdi_cosim_stats *st, tdi_err *err)
{
    if (!c || !nz || !dg || !st || !dg->bias || !dg->on_tick || !(dg->tick > 0) ||
        dg->n_ticks < 1 || nz->n != c->n)
        return tdi_err_set(err, TDI_EARG, "spice run: inconsistent arguments");
    for (size_t i = 0; i < c->n; i++)
        if (!c->node || !c->src || !c->node[i] || !c->src[i])
            return tdi_err_set(err, TDI_EARG, "spice run: unit %zu has no node/source name", i);
    return 0;
}

static void spice_ctx_free(spice_ctx *x)
{
    free(x->ib);
    free(x->s0);
    free(x->s1);
    free(x->v);
    free(x->d0);
    free(x->d1);
    free(x->vec_unit);
    free(x->src_hash);
}

/* The run's context: its arrays and the hash of every source the callbacks answer (each
 * unit's bias and noise source, each device's noise source). */
static int spice_ctx_init(spice_ctx *x, const tdi_cosim_circuit *c, const tdi_cosim_noise *nz,
                          const tdi_cosim_digital *dg, tdi_cosim_stats *st, tdi_err *err)
{
    size_t n = c->n;
    memset(x, 0, sizeof *x);
    x->c = c, x->nz = nz, x->dg = dg, x->st = st, x->h = dg->tick;
    x->bias_k = -2, x->noise_j = -1, x->last_tick = -1, x->sup_t = NAN;
    x->hash_cap = 16;
    while (x->hash_cap < 4 * (n + c->n_dev))
        x->hash_cap *= 2;
    x->ib = calloc(n, sizeof(double));
    x->s0 = calloc(n, sizeof(double));
    x->s1 = calloc(n, sizeof(double));
    x->v = calloc(n, sizeof(double));
    x->d0 = calloc(c->n_dev + 1, sizeof(double));
    x->d1 = calloc(c->n_dev + 1, sizeof(double));
    x->src_hash = malloc(sizeof(int) * x->hash_cap);
    if (!x->ib || !x->s0 || !x->s1 || !x->v || !x->d0 || !x->d1 || !x->src_hash)
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    for (size_t p = 0; p < x->hash_cap; p++)
        x->src_hash[p] = -1;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        rc = src_insert(x, 2 * (int)i, err);
        if (!rc && c->src_noise[i])
            rc = src_insert(x, 2 * (int)i + 1, err);
    }
    for (size_t d = 0; d < c->n_dev && !rc; d++)
        rc = src_insert(x, 2 * (int)(n + d), err);
    if (!rc && nz->dev && nz->dev->n != c->n_dev)
        rc = tdi_err_set(err, TDI_EARG, "spice run: device noise for %zu of %zu devices",
                         nz->dev->n, c->n_dev);
    return rc;
}

/* deck split in place into the NULL-terminated line array ngSpice_Circ takes (*lines). */
static int spice_lines(char *deck, char ***lines, tdi_err *err)
{
    size_t nl = 1, li = 0;
    for (char *p = deck; *p; p++)
        nl += *p == '\n';
    if (!(*lines = calloc(nl + 1, sizeof(char *))))
        return tdi_err_set(err, TDI_ENOMEM, "out of memory");
    for (char *p = deck; *p;) {
        char *e = strchr(p, '\n');
        (*lines)[li++] = p;
        if (!e)
            break;
        *e = '\0';
        p = e + 1;
    }
    (*lines)[li] = NULL;
    return 0;
}

/* ngspice loads the deck and runs it in lock-step (the callbacks drive x); then the checks that
 * the run failed nowhere and reached its last tick. */
static int spice_exec(spice_ctx *x, char **lines, tdi_err *err)
{
    const tdi_cosim_digital *dg = x->dg;
    int rc = 0;
    tdi_cosim_ng_watch_begin(&x->w);
    g_ctx = x;
    int circ_rc = ngSpice_Circ(lines);
    if (circ_rc != 0 || x->w.ng_error || x->w.exited) {
        rc = tdi_err_set(err, TDI_ESPICE, "ngspice rejected the netlist (ngSpice_Circ returned "
                         "%d): %s", circ_rc, g_log_len ? g_log : "(no message)");
        goto out;
    }
    /* transistor level (the only circuits with supplies): BSIM4's device load runs OpenMP with
       ngspice's num_threads (default 2); on a shared 2-core host one thread measured 24x less
       CPU for a 5-transistor OTA transient (docs/cosim.md "Transistor level"). The variable
       persists in the instance: set it every run, both ways, so ideal runs stay as they were. */
    ngSpice_Command((char *)(x->c->n_supply ? "set num_threads=1" : "unset num_threads"));
    ngSpice_Command((char *)"run");
    if (x->fail)
        rc = tdi_err_set(err, x->fail, "%s%s%s", x->fail_msg, g_log_len ? "; ngspice: " : "",
                         g_log);
    else if (x->w.ng_error || x->w.exited)
        rc = tdi_err_set(err, TDI_ESPICE, "ngspice run failed: %s", g_log);
    else if (x->last_tick != dg->n_ticks || x->st->ticks_hit != dg->n_ticks + 1)
        rc = tdi_err_set(err, TDI_ESPICE, "ngspice run ended after tick %ld of %ld (%ld ticks "
                         "seen)%s%s", x->last_tick, dg->n_ticks, x->st->ticks_hit,
                         g_log_len ? ": " : "", g_log);
out:
    spice_cleanup();
    g_ctx = NULL;
    tdi_cosim_ng_watch_end();
    return rc;
}

int tdi_cosim_spice_run(const tdi_cosim_circuit *c, const tdi_cosim_noise *nz,
                        const tdi_cosim_digital *dg, tdi_cosim_stats *st, tdi_err *err)
{
    int rc = spice_args(c, nz, dg, st, err);
    if (rc)
        return rc;
    tdi_cosim_ng_host host;
    tdi_cosim_ng_host_save(&host);
    if ((rc = tdi_cosim_ng_init(err))) {
        tdi_cosim_ng_host_restore(&host);
        return rc;
    }
    memset(st, 0, sizeof *st);
    double cpu0 = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID), wall0 = tdi_clock_s(CLOCK_MONOTONIC);
    spice_ctx x;
    char *deck = NULL;
    char **lines = NULL;
    rc = spice_ctx_init(&x, c, nz, dg, st, err);
    if (!rc && !(deck = tdi_cosim_spice_deck(c, dg->tick, dg->n_ticks, 0, err)))
        rc = err ? err->code : TDI_ENOMEM;
    rc = rc ? rc : spice_lines(deck, &lines, err);
    rc = rc ? rc : spice_exec(&x, lines, err);
    tdi_cosim_ng_host_restore(&host);
    st->cpu_s = tdi_clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    st->wall_s = tdi_clock_s(CLOCK_MONOTONIC) - wall0;
    free(lines);
    free(deck);
    spice_ctx_free(&x);
    return rc;
}
