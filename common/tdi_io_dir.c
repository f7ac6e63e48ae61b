/* tdi_io_dir: directory transactions (tdi_io.h) that replace only what tdi wrote.
 * Invariant: an existing target is moved aside and deleted only after tdi_dir_check accepted
 * it, before the move and again after it (the moved tree is what gets deleted), so a file or a
 * foreign directory that sits at the target survives byte for byte and the run fails instead.
 * Non-goals: locking between concurrent tdi processes; nested output directories (every tdi
 * output directory is flat: regular files only). */
#include "tdi_io.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define IO_MARKER_MAGIC "tdi-output 1"
#define IO_MARKER_MAX (1 << 20) /* bytes; a marker lists a few dozen names */

/* nftw callback: removes every entry, children first (FTW_DEPTH). */
static int io_rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(p) != 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf path; 0 when it is gone (or never existed). Only called on trees that
 * tdi_dir_check accepted or on our own temporaries. */
static int io_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return remove(path);
    return nftw(path, io_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir without trailing slashes into out (size sz); TDI_EARG when it does not fit. */
static int io_norm(const char *dir, char *out, size_t sz, tdi_err *err)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--; /* "out/" and "out" name the same directory */
    if (len >= sz)
        return tdi_err_set(err, TDI_EARG, "%.200s...: output path longer than %zu bytes: "
                           "refusing it rather than cutting it", dir, sz - 1);
    memcpy(out, dir, len);
    out[len] = '\0';
    return TDI_OK;
}

/* The entries of a directory (without . and ..): a malloc'd array of malloc'd names. */
typedef struct io_list {
    char **name;
    size_t n;
} io_list;

static void io_list_free(io_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->name[i]);
    free(l->name);
    l->name = NULL;
    l->n = 0;
}

static int io_cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int io_list_dir(const char *dir, io_list *l)
{
    memset(l, 0, sizeof *l);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    size_t cap = 0;
    struct dirent *e;
    int bad = 0;
    errno = 0;
    while (!bad && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (l->n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = realloc(l->name, cap * sizeof *nn);
            bad = !nn;
            if (nn)
                l->name = nn;
        }
        if (!bad && !(l->name[l->n] = strdup(e->d_name)))
            bad = 1;
        if (!bad)
            l->n++;
    }
    if (!bad && errno)
        bad = 1;
    closedir(d);
    if (bad) {
        io_list_free(l);
        return -1;
    }
    if (l->n > 1) /* readdir order varies between file systems: the marker lists sorted */
        qsort(l->name, l->n, sizeof *l->name, io_cmp_name);
    return 0;
}

static int io_has(const io_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->name[i], name))
            return 1;
    return 0;
}

/* Reads at most max bytes of dir/name into a malloc'd NUL-terminated buffer; NULL if the file
 * is missing, unreadable, not regular, or longer than max. */
static char *io_slurp(const char *dir, const char *name, size_t max)
{
    char p[PATH_MAX];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, name) >= sizeof p)
        return NULL;
    struct stat st;
    if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max)
        return NULL;
    char *b = NULL;
    size_t n = 0;
    if (tdi_file_read_max(p, max, &b, &n, NULL) != 0)
        return NULL;
    return b;
}

static int io_starts(const char *dir, const char *name, const char *prefix)
{
    char *b = io_slurp(dir, name, IO_MARKER_MAX);
    int ok = b && !strncmp(b, prefix, strlen(prefix));
    free(b);
    return ok;
}

/* 1 when text has a line equal to line. */
static int io_has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, line, n) && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

/* 1 when name is listed in the marker text ("file NAME" lines). */
static int io_marker_lists(const char *text, const char *name)
{
    char want[NAME_MAX + 8];
    if ((size_t)snprintf(want, sizeof want, "file %s", name) >= sizeof want)
        return 0;
    return io_has_line(text, want);
}

static int io_ends(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Output of tdi before the marker: which of the entries tdi wrote, by kind. Returns the kind's
 * name, or NULL when the directory is not recognised as one. */
static const char *io_legacy_kind(const char *dir, const io_list *l)
{
    char *man = io_slurp(dir, "manifest.yaml", IO_MARKER_MAX);
    int sub = man && io_has_line(man, "format: tdi-substrate");
    int act = man && io_has_line(man, "format: tdi-activations");
    free(man);
    if (sub || act)
        return sub ? "substrate bundle" : "activation bundle";
    if (io_has(l, "cosim.cir") && io_has(l, "standalone.cir") &&
        io_starts(dir, "cosim.cir", "* tdi-gen cosim netlist") &&
        io_starts(dir, "standalone.cir", "* tdi-gen standalone netlist"))
        return "netlist set";
    if (io_starts(dir, "results.json", "{\n  \"preset\": ") &&
        io_starts(dir, "samples.csv", "sample,row,cos_paper,"))
        return "cosim output";
    return NULL;
}

/* 1 when a legacy directory of that kind may hold name. */
static int io_legacy_owns(const char *kind, const char *name)
{
    if (!strcmp(kind, "substrate bundle") || !strcmp(kind, "activation bundle"))
        return !strcmp(name, "manifest.yaml") || !strcmp(name, "metrics.json") ||
               io_ends(name, ".npy");
    if (!strcmp(kind, "netlist set"))
        return !strcmp(name, "cosim.cir") || !strcmp(name, "standalone.cir") ||
               !strcmp(name, "wires.json");
    return !strcmp(name, "results.json") || !strcmp(name, "samples.csv") ||
           !strcmp(name, "waveform.csv");
}

static int io_refuse(tdi_err *err, const char *dir, const char *why)
{
    return tdi_err_set(err, TDI_EIO, "%s exists and was not written by tdi (%s): refusing to "
                       "replace it; remove it or choose another output path", dir, why);
}

/* The check on a normalised path; shown is the name used in messages. stale: dir is a
 * leftover temporary of a killed run, whose marker does not list files yet: the marker alone
 * proves that tdi made it. */
static int io_check(const char *dir, const char *shown, int stale, tdi_err *err)
{
    struct stat st;
    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT)
            return TDI_OK;
        return tdi_err_set(err, TDI_EIO, "%s: %s", shown, strerror(errno));
    }
    if (S_ISLNK(st.st_mode))
        return io_refuse(err, shown, "it is a symbolic link");
    if (!S_ISDIR(st.st_mode))
        return io_refuse(err, shown, "it is not a directory");
    io_list l;
    if (io_list_dir(dir, &l) != 0)
        return tdi_err_set(err, TDI_EIO, "%s: cannot list the directory: %s", shown,
                           strerror(errno ? errno : ENOMEM));
    char *marker = io_has(&l, TDI_DIR_MARKER) ? io_slurp(dir, TDI_DIR_MARKER, IO_MARKER_MAX)
                                               : NULL;
    const char *kind = NULL;
    if (marker && strncmp(marker, IO_MARKER_MAGIC "\n", strlen(IO_MARKER_MAGIC) + 1) != 0) {
        free(marker);
        marker = NULL;
    }
    if (!marker && l.n > 0 && !(kind = io_legacy_kind(dir, &l))) {
        io_list_free(&l);
        return io_refuse(err, shown, "no " TDI_DIR_MARKER " file and no tdi manifest");
    }
    int rc = TDI_OK;
    for (size_t i = 0; i < l.n && !rc; i++) {
        const char *nm = l.name[i];
        char p[PATH_MAX], why[NAME_MAX + 96];
        int own = marker ? (stale || !strcmp(nm, TDI_DIR_MARKER) || io_marker_lists(marker, nm))
                         : io_legacy_owns(kind, nm);
        int reg = (size_t)snprintf(p, sizeof p, "%s/%s", dir, nm) < sizeof p &&
                  lstat(p, &st) == 0 && S_ISREG(st.st_mode);
        if (!own || (!reg && !stale)) {
            snprintf(why, sizeof why, "it holds '%.*s', which tdi did not write", NAME_MAX, nm);
            rc = io_refuse(err, shown, why);
        }
    }
    free(marker);
    io_list_free(&l);
    return rc;
}

int tdi_dir_check(const char *dir_in, tdi_err *err)
{
    if (!dir_in || !dir_in[0])
        return tdi_err_set(err, TDI_EARG, "tdi_dir_check: empty path");
    char dir[PATH_MAX];
    int rc = io_norm(dir_in, dir, sizeof dir, err);
    return rc ? rc : io_check(dir, dir, 0, err);
}

/* Removes a leftover of an earlier run (our temporary or moved-aside tree) at path, if tdi
 * wrote it. */
static int io_clear_stale(const char *path, const char *dir, tdi_err *err)
{
    int rc = io_check(path, path, 1, err);
    if (rc)
        return tdi_err_prefix(err, "%s: leftover of an earlier run in the way", dir);
    if (io_rmtree(path) != 0)
        return tdi_err_set(err, TDI_EIO, "%s: cannot remove stale %s: %s", dir, path,
                           strerror(errno));
    return TDI_OK;
}

/* The marker: magic, the writing program, and (at commit) one "file NAME" line per entry. */
static int io_write_marker(const char *tmp, int with_files, tdi_err *err)
{
    char p[PATH_MAX];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", tmp, TDI_DIR_MARKER) >= sizeof p)
        return tdi_err_set(err, TDI_EARG, "%s: path too long", tmp);
    io_list l = {0};
    if (with_files && io_list_dir(tmp, &l) != 0)
        return tdi_err_set(err, TDI_EIO, "%s: cannot list: %s", tmp, strerror(errno));
    tdi_atomic_file af;
    int rc = tdi_atomic_open(&af, p, err);
    if (!rc) {
        fprintf(af.f, IO_MARKER_MAGIC "\n# written by %s: tdi replaces this directory only "
                "while it holds nothing but the files listed here\n",
                program_invocation_short_name);
        for (size_t i = 0; i < l.n; i++) {
            if (!strcmp(l.name[i], TDI_DIR_MARKER))
                continue;
            if (strchr(l.name[i], '\n')) {
                tdi_atomic_abort(&af);
                io_list_free(&l);
                return tdi_err_set(err, TDI_EARG, "%s: a file name holds a newline", tmp);
            }
            fprintf(af.f, "file %s\n", l.name[i]);
        }
        rc = tdi_atomic_commit(&af, err);
    }
    io_list_free(&l);
    return rc;
}

int tdi_dir_begin(const char *dir_in, char *tmp, size_t tmpsz, tdi_err *err)
{
    if (!dir_in || !dir_in[0] || !tmp || tmpsz == 0)
        return tdi_err_set(err, TDI_EARG, "tdi_dir_begin: bad arguments");
    tmp[0] = '\0';
    char dir[PATH_MAX], t[PATH_MAX];
    int rc = io_norm(dir_in, dir, sizeof dir, err);
    if (rc)
        return rc;
    int w = snprintf(t, sizeof t, "%s.tmp.%ld", dir, (long)getpid());
    if (w < 0 || (size_t)w >= tmpsz || (size_t)w >= sizeof t)
        return tdi_err_set(err, TDI_EARG, "%s: temporary path does not fit in %zu bytes: "
                           "refusing it rather than cutting it", dir, tmpsz);
    if ((rc = io_check(dir, dir, 0, err)) || (rc = io_clear_stale(t, dir, err)))
        return rc;
    /* the parent may not exist yet: create it, then the temporary itself */
    char parent[PATH_MAX];
    memcpy(parent, dir, strlen(dir) + 1);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        if ((rc = tdi_mkdirs(parent, err)))
            return rc;
    }
    if (mkdir(t, 0777) != 0)
        return tdi_err_set(err, TDI_EIO, "%s: cannot create %s: %s", dir, t, strerror(errno));
    if ((rc = io_write_marker(t, 0, err))) {
        io_rmtree(t);
        return rc;
    }
    memcpy(tmp, t, (size_t)w + 1);
    return TDI_OK;
}

int tdi_dir_commit(const char *tmp, const char *dir_in, tdi_err *err)
{
    if (!tmp || !dir_in || !tmp[0] || !dir_in[0])
        return tdi_err_set(err, TDI_EARG, "tdi_dir_commit: bad arguments");
    char dir[PATH_MAX], old[PATH_MAX + 32];
    int rc = io_norm(dir_in, dir, sizeof dir, err);
    if (rc)
        return rc;
    snprintf(old, sizeof old, "%s.old.%ld", dir, (long)getpid());
    if ((rc = io_write_marker(tmp, 1, err)) || (rc = io_check(dir, dir, 0, err)))
        return rc;
    struct stat st;
    int had_old = 0;
    if (lstat(dir, &st) == 0) {
        if ((rc = io_clear_stale(old, dir, err)))
            return rc;
        if (rename(dir, old) != 0)
            return tdi_err_set(err, TDI_EIO, "%s: cannot move the old output aside: %s", dir,
                               strerror(errno));
        had_old = 1;
        /* what was moved may differ from what was checked (another process in between):
           check the moved tree itself, and put it back if it is not ours to delete */
        if ((rc = io_check(old, dir, 0, err))) {
            if (rename(old, dir) != 0)
                return tdi_err_prefix(err, "%s was moved to %s and could not be put back",
                                      dir, old);
            return rc;
        }
    } else if (errno != ENOENT) {
        return tdi_err_set(err, TDI_EIO, "%s: %s", dir, strerror(errno));
    }
    if (rename(tmp, dir) != 0) {
        int e = errno;
        if (had_old)
            rename(old, dir); /* put the old output back; best effort */
        return tdi_err_set(err, TDI_EIO, "%s: cannot rename %s into place: %s", dir, tmp,
                           strerror(e));
    }
    if (had_old && io_rmtree(old) != 0)
        return tdi_err_set(err, TDI_EIO, "%s: new output in place but cannot delete %s: %s",
                           dir, old, strerror(errno));
    return TDI_OK;
}

void tdi_dir_abort(const char *tmp)
{
    if (tmp && tmp[0])
        io_rmtree(tmp);
}
