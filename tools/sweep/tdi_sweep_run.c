/* tdi_sweep_run: the sweep driver. Serial: run every job not yet in results.csv, append its row.
 * Distributed (comm->size > 1), dynamic assignment: every rank expands the same grid; rank 0
 * owns results.csv and the queue of pending jobs, hands one job index to whichever rank asks,
 * and runs jobs itself in a second thread (the main thread only talks to the other ranks, so
 * one process per rank computes: one job per process at a time, as libngspice needs).
 * Messages (tags): worker -> 0: READY (empty), ROW (the row text, which implies ready),
 * FAIL (an error message: the worker stops); 0 -> worker: JOB (8-byte little-endian index),
 * STOP. Waiting is a probe + 2 ms sleep loop, never a spinning receive: on a 2-core machine a
 * busy-polling master would steal a core from the jobs.
 * Non-goal: fault tolerance of a dead rank (rerun the sweep: finished rows are kept). */
#include "tdi_clock.h"
#include "tdi_sweep.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { TAG_READY = 1, TAG_ROW = 2, TAG_FAIL = 3, TAG_JOB = 4, TAG_STOP = 5 };

static void nap(void)
{
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
}

static void fmt_dur(double s, char *b, size_t n)
{
    if (!(s >= 0) || s > 1e7)
        snprintf(b, n, "?");
    else if (s < 60)
        snprintf(b, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(b, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(b, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

/* progress line: done/total of this run, rate, ETA */
static void progress(const tdi_sweep_opts *o, size_t done, size_t todo, size_t skipped,
                     size_t failed, double t0)
{
    if (!o || !o->progress)
        return;
    double el = tdi_clock_s(CLOCK_MONOTONIC) - t0, rate = el > 0 ? (double)done / el : 0;
    char eta[32], els[32];
    fmt_dur(rate > 0 ? (double)(todo - done) / rate : -1, eta, sizeof eta);
    fmt_dur(el, els, sizeof els);
    fprintf(stderr, "tdi-sweep: %zu/%zu jobs done (%zu already in results.csv, %zu failed), "
            "%.3g jobs/min, elapsed %s, ETA %s\n", done, todo, skipped, failed, 60.0 * rate, els,
            eta);
}

static int row_failed(const char *row)
{
    /* the status column follows the 14 input columns */
    const char *p = row;
    for (int i = 0; i < 14 && p; i++) {
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return p && strncmp(p, "failed,", 7) == 0;
}

/* ------------------------------------------------------------------ rank 0's local worker */
typedef struct local_q {
    pthread_mutex_t mu;
    const tdi_sweep_cfg *c;
    const tdi_sweep_job *jobs;
    const size_t *pending;
    size_t n_pending, *next;  /* shared with the master: next pending job to hand out */
    size_t limit;             /* hand out at most this many */
    char **rows;              /* finished rows not yet written (owned) */
    size_t n_rows, cap_rows;
    int stop, finished, rc;
    tdi_err err;
    FILE *log;
} local_q;

static void *local_worker(void *arg)
{
    local_q *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        if (q->stop || *q->next >= q->n_pending || *q->next >= q->limit) {
            q->finished = 1;
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        size_t idx = q->pending[(*q->next)++];
        pthread_mutex_unlock(&q->mu);
        char *row = NULL;
        tdi_err e;
        tdi_err_clear(&e);
        int rc = tdi_sweep_job_run(q->c, &q->jobs[idx], q->log, &row, &e);
        pthread_mutex_lock(&q->mu);
        if (rc) {
            q->rc = rc;
            q->err = e;
            q->stop = 1;
        } else if (q->n_rows == q->cap_rows) {
            size_t cap = q->cap_rows ? 2 * q->cap_rows : 16;
            char **r = realloc(q->rows, cap * sizeof *r);
            if (!r) {
                free(row);
                q->rc = tdi_err_set(&q->err, TDI_ENOMEM, "sweep: out of memory");
                q->stop = 1;
            } else {
                q->rows = r;
                q->cap_rows = cap;
            }
        }
        if (!rc && q->cap_rows > q->n_rows)
            q->rows[q->n_rows++] = row;
        pthread_mutex_unlock(&q->mu);
    }
}

/* ------------------------------------------------------------------ the remote worker */
static int worker_loop(const tdi_sweep_cfg *c, const tdi_sweep_comm *m,
                       const tdi_sweep_job *jobs, size_t n, const tdi_sweep_opts *o,
                       tdi_err *err)
{
    if (m->send(m->ctx, 0, TAG_READY, "", 0))
        return tdi_err_set(err, TDI_EIO, "sweep rank %d: send failed", m->rank);
    for (;;) {
        int src, tag, pr;
        size_t len;
        while ((pr = m->probe(m->ctx, &src, &tag, &len)) == 0)
            nap();
        if (pr < 0)
            return tdi_err_set(err, TDI_EIO, "sweep rank %d: probe failed", m->rank);
        unsigned char b[8] = {0};
        if (len > sizeof b || m->recv(m->ctx, src, tag, b, len))
            return tdi_err_set(err, TDI_EIO, "sweep rank %d: bad message", m->rank);
        if (tag == TAG_STOP)
            return 0;
        uint64_t idx = 0;
        for (int i = 7; i >= 0; i--)
            idx = (idx << 8) | b[i];
        if (tag != TAG_JOB || idx >= n)
            return tdi_err_set(err, TDI_EIO, "sweep rank %d: unexpected message (tag %d)",
                               m->rank, tag);
        char *row = NULL;
        tdi_err e;
        tdi_err_clear(&e);
        int rc = tdi_sweep_job_run(c, &jobs[idx], o ? o->log : NULL, &row, &e);
        if (rc) {
            m->send(m->ctx, 0, TAG_FAIL, e.msg, strlen(e.msg) + 1);
            *err = e;
            return rc;
        }
        rc = m->send(m->ctx, 0, TAG_ROW, row, strlen(row) + 1);
        free(row);
        if (rc)
            return tdi_err_set(err, TDI_EIO, "sweep rank %d: send failed", m->rank);
    }
}

/* ------------------------------------------------------------------ the serial sweep */
/* Runs the first `limit` pending jobs in order, appending each row to results.csv (fd). */
static int sweep_serial(const tdi_sweep_cfg *c, const tdi_sweep_opts *o,
                        const tdi_sweep_job *jobs, const size_t *pending, size_t limit, int fd,
                        tdi_sweep_stats *st, double t0, tdi_err *err)
{
    for (size_t q = 0; q < limit; q++) {
        char *row = NULL;
        int rc = tdi_sweep_job_run(c, &jobs[pending[q]], o ? o->log : NULL, &row, err);
        if (rc)
            return rc;
        rc = tdi_sweep_results_append(fd, row, err);
        st->failed += row_failed(row);
        free(row);
        if (rc)
            return rc;
        st->done++;
        progress(o, st->done, limit, st->skipped, st->failed, t0);
    }
    return 0;
}

/* ------------------------------------------------------------------ rank 0's master */
/* The master's state: the local worker's queue q (q.next points at next), the ranks still
 * running (remote), the first error that stops handing out jobs (mrc; rows still drain) and
 * the receive buffer. */
typedef struct {
    const tdi_sweep_comm *m;
    const tdi_sweep_opts *o;
    tdi_sweep_stats *st;
    int fd;
    double t0;
    const size_t *pending;
    size_t np, limit, next;
    local_q q;
    int remote, mrc;
    char *buf;
    size_t bufcap;
} master;

/* Appends a finished row to results.csv and counts it. */
static int master_row(master *ms, const char *row, tdi_err *err)
{
    int rc = tdi_sweep_results_append(ms->fd, row, err);
    if (!rc) {
        ms->st->done++;
        ms->st->failed += row_failed(row);
        progress(ms->o, ms->st->done, ms->limit, ms->st->skipped, ms->st->failed, ms->t0);
    }
    return rc;
}

/* Takes and writes the local worker's finished rows; *lfin: it had finished when they were
 * taken. Returns the number of rows taken. */
static size_t master_drain_local(master *ms, int *lfin, tdi_err *err)
{
    pthread_mutex_lock(&ms->q.mu);
    char **rows = ms->q.rows;
    size_t nr = ms->q.n_rows;
    ms->q.rows = NULL;
    ms->q.n_rows = ms->q.cap_rows = 0;
    *lfin = ms->q.finished;
    pthread_mutex_unlock(&ms->q.mu);
    for (size_t i = 0; i < nr; i++) {
        if (!ms->mrc)
            ms->mrc = master_row(ms, rows[i], err);
        free(rows[i]);
    }
    free(rows);
    if (ms->mrc) {
        pthread_mutex_lock(&ms->q.mu);
        ms->q.stop = 1;
        pthread_mutex_unlock(&ms->q.mu);
    }
    return nr;
}

/* Hands rank src the next pending job, or stops it. */
static int master_reply(master *ms, int src, tdi_err *err)
{
    pthread_mutex_lock(&ms->q.mu);
    int give = !ms->mrc && !ms->q.stop && ms->next < ms->np && ms->next < ms->limit;
    size_t idx = give ? ms->pending[ms->next++] : 0;
    pthread_mutex_unlock(&ms->q.mu);
    if (!give) {
        ms->m->send(ms->m->ctx, src, TAG_STOP, "", 0);
        ms->remote--;
        return 0;
    }
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)idx >> (8 * i));
    if (ms->m->send(ms->m->ctx, src, TAG_JOB, b, 8))
        return tdi_err_set(err, TDI_EIO, "sweep: send to rank %d failed", src);
    return 0;
}

/* Handles one waiting message of another rank, if any (*busy = 1 then): a FAIL ends that rank
 * (*again = 1: the caller goes straight to its next round), a ROW is written, and READY or ROW
 * is answered with a job or STOP. Nonzero: a communication failure that ends the sweep. */
static int master_message(master *ms, int *busy, int *again, tdi_err *err)
{
    int src, tag;
    size_t len;
    int pr = ms->remote > 0 ? ms->m->probe(ms->m->ctx, &src, &tag, &len) : 0;
    if (pr < 0)
        return tdi_err_set(err, TDI_EIO, "sweep: probe failed");
    if (pr == 0)
        return 0;
    *busy = 1;
    if (len + 1 > ms->bufcap) {
        char *nb = realloc(ms->buf, len + 1);
        if (!nb)
            return tdi_err_set(err, TDI_ENOMEM, "sweep: out of memory");
        ms->buf = nb;
        ms->bufcap = len + 1;
    }
    if (ms->m->recv(ms->m->ctx, src, tag, ms->buf, len))
        return tdi_err_set(err, TDI_EIO, "sweep: receive from rank %d failed", src);
    ms->buf[len] = '\0';
    if (tag == TAG_FAIL) {
        if (!ms->mrc)
            ms->mrc = tdi_err_set(err, TDI_EIO, "sweep rank %d: %s", src, ms->buf);
        ms->remote--;
        *again = 1;
        return 0;
    }
    if (tag == TAG_ROW && !ms->mrc)
        ms->mrc = master_row(ms, ms->buf, err);
    return master_reply(ms, src, err);
}

/* The master's loop (rc: an error already set, e.g. no local worker): drain local rows, serve
 * one message, until the local worker has finished and every other rank is stopped. */
static int master_loop(master *ms, int rc, tdi_err *err)
{
    for (;;) {
        int lfin, busy = 0, again = 0;
        size_t nr = master_drain_local(ms, &lfin, err);
        busy = nr > 0;
        int r = master_message(ms, &busy, &again, err);
        if (r) {
            rc = r;
            break;
        }
        if (again)
            continue;
        if (lfin && nr == 0 && ms->remote == 0)
            break; /* the local worker had finished before its queue was emptied above */
        if (!busy)
            nap();
    }
    return rc;
}

/* Distributed: rank 0 = master (this thread) + a local worker thread running pending jobs. */
static int sweep_master(const tdi_sweep_cfg *c, const tdi_sweep_comm *m,
                        const tdi_sweep_opts *o, const tdi_sweep_job *jobs,
                        const size_t *pending, size_t np, size_t limit, int fd,
                        tdi_sweep_stats *st, double t0, tdi_err *err)
{
    master ms;
    memset(&ms, 0, sizeof ms);
    ms.m = m;
    ms.o = o;
    ms.st = st;
    ms.fd = fd;
    ms.t0 = t0;
    ms.pending = pending;
    ms.np = np;
    ms.limit = limit;
    ms.remote = m->size - 1;
    pthread_mutex_init(&ms.q.mu, NULL);
    ms.q.c = c;
    ms.q.jobs = jobs;
    ms.q.pending = pending;
    ms.q.n_pending = np;
    ms.q.next = &ms.next;
    ms.q.limit = limit;
    ms.q.log = o ? o->log : NULL;
    int rc = 0;
    pthread_t th;
    int started = pthread_create(&th, NULL, local_worker, &ms.q) == 0;
    if (!started) {
        ms.q.finished = 1;
        rc = tdi_err_set(err, TDI_ENOMEM, "sweep: cannot start the local worker thread");
    }
    ms.mrc = rc;
    rc = master_loop(&ms, rc, err);
    pthread_mutex_lock(&ms.q.mu);
    ms.q.stop = 1;
    pthread_mutex_unlock(&ms.q.mu);
    if (started)
        pthread_join(th, NULL);
    for (size_t i = 0; i < ms.q.n_rows; i++) /* only after an error */
        free(ms.q.rows[i]);
    free(ms.q.rows);
    free(ms.buf);
    pthread_mutex_destroy(&ms.q.mu);
    if (!rc)
        rc = ms.mrc;
    if (!rc && ms.q.rc) {
        *err = ms.q.err;
        rc = ms.q.rc;
    }
    return rc;
}

/* ------------------------------------------------------------------ the sweep */
int tdi_sweep_run(const tdi_sweep_cfg *c, const tdi_sweep_comm *m, const tdi_sweep_opts *o,
                  tdi_sweep_stats *st, tdi_err *err)
{
    double t0 = tdi_clock_s(CLOCK_MONOTONIC);
    tdi_sweep_job *jobs = NULL;
    size_t n = 0;
    memset(st, 0, sizeof *st);
    int rc = tdi_sweep_grid(c, &jobs, &n, err);
    if (rc)
        return rc;
    st->total = n;
    int size = m ? m->size : 1, rank = m ? m->rank : 0;
    if (rank != 0) {
        rc = worker_loop(c, m, jobs, n, o, err);
        free(jobs);
        return rc;
    }
    unsigned char *done = malloc(n);
    size_t *pending = malloc(n * sizeof *pending);
    int fd = -1;
    size_t n_done = 0;
    if (!done || !pending)
        rc = tdi_err_set(err, TDI_ENOMEM, "sweep: out of memory");
    else
        rc = tdi_sweep_results_open(c, jobs, n, done, &n_done, &fd, err);
    if (!rc) {
        st->skipped = n_done;
        size_t np = 0;
        for (size_t i = 0; i < n; i++)
            if (!done[i])
                pending[np++] = i;
        size_t limit = o && o->max_jobs > 0 && (size_t)o->max_jobs < np ? (size_t)o->max_jobs
                                                                           : np;
        if (o && o->progress)
            fprintf(stderr, "tdi-sweep: %s: %zu jobs in the grid, %zu already in %s/results.csv, "
                    "%zu to run on %d rank%s\n", c->path, n, n_done, c->out, limit, size,
                    size > 1 ? "s" : "");
        rc = size <= 1 ? sweep_serial(c, o, jobs, pending, limit, fd, st, t0, err)
                       : sweep_master(c, m, o, jobs, pending, np, limit, fd, st, t0, err);
    }
    st->wall_s = tdi_clock_s(CLOCK_MONOTONIC) - t0;
    if (fd >= 0)
        close(fd);
    free(done);
    free(pending);
    free(jobs);
    return rc;
}
