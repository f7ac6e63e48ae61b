/* tdi_sweep_csv: <out>/results.csv, the sweep's only output and its resume state. Format: the
 * header line (tdi_sweep_csv_header), then one line per finished job in completion order, each
 * appended by a single write() of the whole line followed by fsync(). A kill can at worst leave
 * one partial last line (no '\n'); opening drops it, so its job runs again.
 * Cells follow RFC 4180 (tdi_sweep_csv_split): quoted when they hold a comma or a double quote;
 * no cell holds a line break, so a row is one line.
 * Invariants: a job index appears at most once; every row's input columns equal the grid's.
 * Non-goal: sorting (readers sort by the job column). */
#include "tdi_sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tdi_io.h"

long tdi_sweep_csv_split(char *line, char **field, size_t max)
{
    char *r = line, *w = line;
    size_t n = 0;
    for (;;) {
        char *start = w;
        if (*r == '"') {
            for (r++;; r++) {
                if (*r == '\0')
                    return -1; /* no closing quote */
                if (*r == '"' && r[1] != '"')
                    break;
                if (*r == '"')
                    r++; /* "" -> " */
                *w++ = *r;
            }
            r++;
            if (*r != ',' && *r != '\0')
                return -1; /* text after the closing quote */
        } else {
            while (*r != ',' && *r != '\0') {
                if (*r == '"')
                    return -1; /* a quote inside an unquoted cell */
                *w++ = *r++;
            }
        }
        int last = *r == '\0';
        *w++ = '\0';
        if (n < max)
            field[n] = start;
        n++;
        if (last)
            return (long)n;
        r++;
    }
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int tdi_sweep_results_append(int fd, const char *row, tdi_err *err)
{
    size_t n = strlen(row);
    if (n == 0 || row[n - 1] != '\n' || memchr(row, '\n', n - 1))
        return tdi_err_set(err, TDI_EARG, "results.csv: a row must be one line ending in '\\n'");
    if (write_all(fd, row, n) || fsync(fd))
        return tdi_err_set(err, TDI_EIO, "results.csv: write failed: %s", strerror(errno));
    return 0;
}

int tdi_sweep_results_open(const tdi_sweep_cfg *c, const tdi_sweep_job *jobs, size_t n,
                           unsigned char *done, size_t *n_done, int *fd, tdi_err *err)
{
    char path[700];
    *fd = -1;
    *n_done = 0;
    memset(done, 0, n);
    int rc = tdi_mkdirs(c->out, err);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/results.csv", c->out);
    const char *hdr = tdi_sweep_csv_header();
    if (access(path, F_OK) != 0) { /* new file: the header appears atomically */
        tdi_atomic_file af;
        if ((rc = tdi_atomic_open(&af, path, err)))
            return rc;
        fprintf(af.f, "%s\n", hdr);
        if ((rc = tdi_atomic_commit(&af, err)))
            return rc;
    }
    char *buf = NULL;
    size_t size = 0;
    if ((rc = tdi_file_read_max(path, TDI_READ_MAX_LOG, &buf, &size, err)))
        return rc;
    /* drop a partial last line */
    size_t keep = size;
    while (keep > 0 && buf[keep - 1] != '\n')
        keep--;
    size_t hl = strlen(hdr);
    if (keep < hl + 1 || strncmp(buf, hdr, hl) != 0 || buf[hl] != '\n') {
        free(buf);
        return tdi_err_set(err, TDI_EFORMAT, "%s:1: not the header of a tdi-sweep results file "
                           "(another program's or another version's file? move it away)", path);
    }
    char inp[1024];
    size_t lineno = 1;
    for (size_t p = hl + 1; p < keep;) {
        char *e = memchr(buf + p, '\n', keep - p);
        size_t len = (size_t)(e - (buf + p));
        lineno++;
        char *endp;
        errno = 0;
        unsigned long long idx = strtoull(buf + p, &endp, 10);
        if (endp == buf + p || *endp != ',' || errno || idx >= n) {
            free(buf);
            return tdi_err_set(err, TDI_EFORMAT, "%s:%zu: job index missing or outside this "
                               "grid of %zu jobs (results of another sweep?)", path, lineno, n);
        }
        if (tdi_sweep_row_inputs(c, &jobs[idx], inp, sizeof inp) ||
            strlen(inp) > len || strncmp(buf + p, inp, strlen(inp)) != 0 ||
            buf[p + strlen(inp)] != ',') {
            free(buf);
            return tdi_err_set(err, TDI_EFORMAT, "%s:%zu: the inputs of job %llu differ from "
                               "this sweep's grid (expected \"%s\"): results of another sweep "
                               "file? use another sweep.out", path, lineno, idx, inp);
        }
        if (done[idx]) {
            free(buf);
            return tdi_err_set(err, TDI_EFORMAT, "%s:%zu: job %llu appears twice", path, lineno,
                               idx);
        }
        done[idx] = 1;
        (*n_done)++;
        p += len + 1;
    }
    free(buf);
    int f = open(path, O_WRONLY | O_APPEND);
    if (f < 0)
        return tdi_err_set(err, TDI_EIO, "%s: %s", path, strerror(errno));
    if (keep < size && ftruncate(f, (off_t)keep) != 0) {
        close(f);
        return tdi_err_set(err, TDI_EIO, "%s: cannot drop the partial last line: %s", path,
                           strerror(errno));
    }
    *fd = f;
    return 0;
}
