/* test_common: checks of the shared library (tdi_io, tdi_npy, tdi_cfg, tdi_err, tdi_cli).
 * Oracles: FNV-1a 64 published vectors; NumPy itself (np.load of our files, np.save of files we
 * read; a missing numpy is a FAIL); corrupt .npy fixtures made here by patching a file we wrote,
 * with the expected byte offset computed from the file layout; YAML snippets whose error
 * positions are counted by hand in the comments. Everything happens in a fresh build/tc.XXXXXX. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tdi_buf.h"
#include "tdi_cfg.h"
#include "tdi_cli.h"
#include "tdi_err.h"
#include "tdi_io.h"
#include "tdi_npy.h"
#include "tdi_seed.h"
#include "tdi_test.h"

static char g_dir[256];    /* temp dir of this run */
static char g_python[64];  /* interpreter with numpy, "" if none */

static void tpath(char *out, size_t sz, const char *name)
{
    snprintf(out, sz, "%s/%s", g_dir, name);
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int write_bytes(const char *p, const void *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(b, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

/* Number of entries in g_dir whose name starts with prefix (for leftover temporaries). */
static int count_prefixed(const char *prefix)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c '^%s' >/dev/null", g_dir, prefix);
    /* portable enough: use the shell only to count; exit 0 iff at least one match */
    return system(cmd) == 0;
}

/* ---------------------------------------------------------------- hashes, io */

static void test_hash(void)
{
    tdi_check_int((long long)tdi_hash_bytes(TDI_HASH_INIT, "", 0),
                  (long long)UINT64_C(0xcbf29ce484222325), "fnv1a64(\"\")");
    tdi_check_int((long long)tdi_hash_bytes(TDI_HASH_INIT, "a", 1),
                  (long long)UINT64_C(0xaf63dc4c8601ec8c), "fnv1a64(\"a\")");
    /* published FNV-1a 64 test vector */
    tdi_check_int((long long)tdi_hash_bytes(TDI_HASH_INIT, "foobar", 6),
                  (long long)UINT64_C(0x85944171f73967e8), "fnv1a64(\"foobar\")");
    uint64_t inc = tdi_hash_bytes(tdi_hash_bytes(TDI_HASH_INIT, "foo", 3), "bar", 3);
    tdi_check_int((long long)inc, (long long)UINT64_C(0x85944171f73967e8),
                  "fnv1a64 incremental foo+bar");
    char hex[17];
    tdi_hash_hex(UINT64_C(0xaf63dc4c8601ec8c), hex);
    TDI_CHECK(strcmp(hex, "af63dc4c8601ec8c") == 0, "hash hex af63...");
    tdi_hash_hex(UINT64_C(0x0000000000000abc), hex);
    TDI_CHECK(strcmp(hex, "0000000000000abc") == 0, "hash hex keeps leading zeros");

    char p[512];
    tpath(p, sizeof p, "hash.bin");
    write_bytes(p, "foobar", 6);
    uint64_t h = 0;
    tdi_err e;
    tdi_err_clear(&e);
    tdi_check_int(tdi_hash_file(p, &h, &e), 0, "tdi_hash_file ok");
    tdi_check_int((long long)h, (long long)UINT64_C(0x85944171f73967e8), "tdi_hash_file value");
    uint64_t acc = tdi_hash_bytes(TDI_HASH_INIT, "foo", 3);
    tpath(p, sizeof p, "hash2.bin");
    write_bytes(p, "bar", 3);
    tdi_check_int(tdi_hash_file_feed(p, &acc, &e), 0, "tdi_hash_file_feed ok");
    tdi_check_int((long long)acc, (long long)UINT64_C(0x85944171f73967e8),
                  "hash_file_feed continues a running hash (foo + file bar)");
    tpath(p, sizeof p, "no-such-file");
    tdi_check_int(tdi_hash_file(p, &h, &e), TDI_EIO, "tdi_hash_file missing -> EIO");
    tdi_check_contains(e.msg, "no-such-file", "tdi_hash_file message names file");
}

static void test_read_all_mkdirs(void)
{
    tdi_err e;
    tdi_err_clear(&e);
    char p[512];
    tpath(p, sizeof p, "readall.txt");
    const char txt[] = "line one\nline two\n";
    write_bytes(p, txt, sizeof txt - 1);
    char *buf = NULL;
    size_t n = 0;
    tdi_check_int(tdi_file_read_all(p, &buf, &n, &e), 0, "read_all ok");
    tdi_check_int((long long)n, (long long)(sizeof txt - 1), "read_all size");
    TDI_CHECK(buf && memcmp(buf, txt, sizeof txt) == 0, "read_all content + NUL");
    free(buf);
    tpath(p, sizeof p, "missing.txt");
    tdi_check_int(tdi_file_read_all(p, &buf, &n, &e), TDI_EIO, "read_all missing -> EIO");
    tdi_check_contains(e.msg, "missing.txt", "read_all message names file");
    TDI_CHECK(buf == NULL, "read_all leaves *buf NULL on error");

    /* a file bigger than the first 64 KiB read chunk */
    size_t big = 200000;
    char *b = malloc(big);
    for (size_t i = 0; i < big; i++)
        b[i] = (char)('a' + i % 26);
    tpath(p, sizeof p, "big.txt");
    write_bytes(p, b, big);
    tdi_check_int(tdi_file_read_all(p, &buf, &n, &e), 0, "read_all 200 kB ok");
    TDI_CHECK(n == big && memcmp(buf, b, big) == 0 && buf[big] == '\0', "read_all 200 kB same");
    free(buf);
    free(b);

    tpath(p, sizeof p, "mk/a/b/c");
    tdi_check_int(tdi_mkdirs(p, &e), 0, "mkdirs nested");
    struct stat st;
    TDI_CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode), "mkdirs made a directory");
    tdi_check_int(tdi_mkdirs(p, &e), 0, "mkdirs existing -> 0");
    tpath(p, sizeof p, "readall.txt/sub");
    TDI_CHECK(tdi_mkdirs(p, &e) == TDI_EIO, "mkdirs under a file -> EIO");
}

static void test_atomic(void)
{
    tdi_err e;
    tdi_err_clear(&e);
    char p[512];
    tpath(p, sizeof p, "atomic.txt");
    tdi_atomic_file af;
    tdi_check_int(tdi_atomic_open(&af, p, &e), 0, "atomic open");
    fputs("first", af.f);
    TDI_CHECK(!file_exists(p), "atomic: final path absent before commit");
    TDI_CHECK(file_exists(af.tmp), "atomic: temporary exists before commit");
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s", af.tmp);
    tdi_check_int(tdi_atomic_commit(&af, &e), 0, "atomic commit");
    char *buf = NULL;
    size_t n = 0;
    tdi_file_read_all(p, &buf, &n, &e);
    TDI_CHECK(buf && strcmp(buf, "first") == 0, "atomic content after commit");
    free(buf);
    TDI_CHECK(!file_exists(tmp), "atomic: temporary gone after commit");

    /* abort keeps the old content and removes the temporary; a second abort is harmless */
    tdi_check_int(tdi_atomic_open(&af, p, &e), 0, "atomic open 2");
    fputs("second", af.f);
    snprintf(tmp, sizeof tmp, "%s", af.tmp);
    tdi_atomic_abort(&af);
    tdi_atomic_abort(&af);
    buf = NULL;
    tdi_file_read_all(p, &buf, &n, &e);
    TDI_CHECK(buf && strcmp(buf, "first") == 0, "atomic abort keeps old content");
    free(buf);
    TDI_CHECK(!file_exists(tmp), "atomic abort removes temporary");

    /* failed commit (stream error flag set: reading a write-only stream fails) */
    char q[512];
    tpath(q, sizeof q, "atomic-fail.txt");
    tdi_check_int(tdi_atomic_open(&af, q, &e), 0, "atomic open 3");
    fputs("data", af.f);
    (void)fgetc(af.f);
    TDI_CHECK(ferror(af.f), "precondition: stream has its error flag set");
    snprintf(tmp, sizeof tmp, "%s", af.tmp);
    tdi_check_int(tdi_atomic_commit(&af, &e), TDI_EIO, "atomic commit after ferror -> EIO");
    tdi_check_contains(e.msg, "atomic-fail.txt", "atomic failure names file");
    TDI_CHECK(!file_exists(q), "failed commit leaves no final file");
    TDI_CHECK(!file_exists(tmp), "failed commit leaves no temporary");
    tdi_atomic_abort(&af); /* safe after a failed commit */

    /* failed commit (rename onto a non-empty directory fails) */
    tpath(q, sizeof q, "atomic-dir");
    char inner[600];
    snprintf(inner, sizeof inner, "%s/keep", q);
    tdi_mkdirs(q, &e);
    write_bytes(inner, "k", 1);
    tdi_check_int(tdi_atomic_open(&af, q, &e), 0, "atomic open 4");
    fputs("data", af.f);
    snprintf(tmp, sizeof tmp, "%s", af.tmp);
    tdi_check_int(tdi_atomic_commit(&af, &e), TDI_EIO, "atomic commit onto a dir -> EIO");
    TDI_CHECK(file_exists(inner), "directory in the way is untouched");
    TDI_CHECK(!file_exists(tmp), "rename failure leaves no temporary");

    tpath(q, sizeof q, "no/such/dir/x.txt");
    tdi_check_int(tdi_atomic_open(&af, q, &e), TDI_EIO, "atomic open in missing dir -> EIO");
    tdi_check_contains(e.msg, "no/such/dir/x.txt", "atomic open failure names file");

    /* the whole-string form */
    tdi_check_int(tdi_atomic_write_text(p, "third\n", &e), 0, "atomic write_text");
    buf = NULL;
    tdi_file_read_all(p, &buf, &n, &e);
    TDI_CHECK(buf && strcmp(buf, "third\n") == 0, "atomic write_text content");
    free(buf);
    tdi_check_int(tdi_atomic_write_text(q, "x", &e), TDI_EIO, "atomic write_text, missing dir");
    tpath(q, sizeof q, "atomic-dir");
    tdi_check_int(tdi_atomic_write_text(q, "x", &e), TDI_EIO, "atomic write_text onto a dir");
    TDI_CHECK(file_exists(inner), "write_text: directory in the way is untouched");
}

/* 1 when the file at p holds exactly the n bytes b. */
static int same_bytes(const char *p, const char *b, size_t n)
{
    char *got = NULL;
    size_t len = 0;
    int ok = tdi_file_read_all(p, &got, &len, NULL) == 0 && len == n && !memcmp(got, b, n);
    free(got);
    return ok;
}

static void test_dir_tx(void)
{
    tdi_err e;
    tdi_err_clear(&e);
    char d[512], f[1100], tmp[1024];
    tpath(d, sizeof d, "bundle");

    tdi_check_int(tdi_dir_begin(d, tmp, sizeof tmp, &e), 0, "dir begin");
    TDI_CHECK(strstr(tmp, "bundle.tmp.") != NULL, "dir tmp is <dir>.tmp.<pid>");
    snprintf(f, sizeof f, "%s/" TDI_DIR_MARKER, tmp);
    TDI_CHECK(file_exists(f), "dir begin: the temporary carries the marker");
    snprintf(f, sizeof f, "%s/old.txt", tmp);
    write_bytes(f, "old", 3);
    tdi_check_int(tdi_dir_commit(tmp, d, &e), 0, "dir commit");
    snprintf(f, sizeof f, "%s/" TDI_DIR_MARKER, d);
    char *mk = NULL;
    tdi_file_read_all(f, &mk, NULL, &e);
    TDI_CHECK(mk && strstr(mk, "\nfile old.txt\n"), "dir commit: the marker lists old.txt");
    free(mk);

    /* a second run into the directory tdi wrote replaces it */
    tdi_check_int(tdi_dir_begin(d, tmp, sizeof tmp, &e), 0, "dir begin over own output");
    snprintf(f, sizeof f, "%s/new.txt", tmp);
    write_bytes(f, "new", 3);
    snprintf(f, sizeof f, "%s/a.txt", tmp);
    write_bytes(f, "a", 1);
    tdi_check_int(tdi_dir_commit(tmp, d, &e), 0, "dir commit over own output");
    snprintf(f, sizeof f, "%s/" TDI_DIR_MARKER, d);
    mk = NULL;
    tdi_file_read_all(f, &mk, NULL, &e);
    TDI_CHECK(mk && strstr(mk, "\nfile a.txt\nfile new.txt\n"),
              "dir commit: the marker lists the files sorted (same output, same bytes)");
    free(mk);
    snprintf(f, sizeof f, "%s/new.txt", d);
    TDI_CHECK(file_exists(f), "dir commit: new file present");
    snprintf(f, sizeof f, "%s/old.txt", d);
    TDI_CHECK(!file_exists(f), "dir commit: old content gone");
    TDI_CHECK(!file_exists(tmp), "dir commit: temporary gone");
    TDI_CHECK(!count_prefixed("bundle\\."), "dir commit: no bundle.* leftovers");

    /* abort leaves the current bundle alone */
    tdi_check_int(tdi_dir_begin(d, tmp, sizeof tmp, &e), 0, "dir begin 2");
    snprintf(f, sizeof f, "%s/sub", tmp);
    tdi_mkdirs(f, &e);
    snprintf(f, sizeof f, "%s/sub/x.txt", tmp);
    write_bytes(f, "x", 1);
    tdi_dir_abort(tmp);
    TDI_CHECK(!file_exists(tmp), "dir abort removes the temporary tree");
    snprintf(f, sizeof f, "%s/new.txt", d);
    TDI_CHECK(file_exists(f), "dir abort keeps the committed bundle");

    /* a stale temporary of a killed run (marker, unlisted files) is emptied by begin */
    tdi_check_int(tdi_dir_begin(d, tmp, sizeof tmp, &e), 0, "dir begin 3");
    snprintf(f, sizeof f, "%s/stale.txt", tmp);
    write_bytes(f, "s", 1);
    tdi_check_int(tdi_dir_begin(d, tmp, sizeof tmp, &e), 0, "dir begin over stale tmp");
    TDI_CHECK(!file_exists(f), "stale temporary emptied");
    tdi_dir_abort(tmp);

    /* a fresh bundle under missing parents */
    tpath(d, sizeof d, "deep/er/bundle2");
    tdi_check_int(tdi_dir_begin(d, tmp, sizeof tmp, &e), 0, "dir begin with missing parents");
    tdi_check_int(tdi_dir_commit(tmp, d, &e), 0, "dir commit fresh");
    struct stat st;
    TDI_CHECK(stat(d, &st) == 0 && S_ISDIR(st.st_mode), "fresh bundle is a directory");

    /* "dir/" names the same bundle as "dir": replaced, no child "dir/.old.*" left behind */
    char ds[600];
    snprintf(ds, sizeof ds, "%s/", d);
    tdi_check_int(tdi_dir_begin(ds, tmp, sizeof tmp, &e), 0, "dir begin with trailing slash");
    TDI_CHECK(strstr(tmp, "bundle2.tmp.") != NULL, "trailing slash: tmp is a sibling");
    snprintf(f, sizeof f, "%s/v2.txt", tmp);
    write_bytes(f, "2", 1);
    tdi_check_int(tdi_dir_commit(tmp, ds, &e), 0, "dir commit with trailing slash");
    snprintf(f, sizeof f, "%s/v2.txt", d);
    TDI_CHECK(file_exists(f), "trailing slash: new bundle in place");

    char small[8];
    TDI_CHECK(tdi_dir_begin(d, small, sizeof small, &e) == TDI_EARG, "dir begin tiny buffer");
}

/* Output paths that tdi did not write are refused, byte for byte intact, nothing written. */
static void test_dir_refuse(void)
{
    tdi_err e;
    tdi_err_clear(&e);
    char d[512], f[1100], tmp[1024];
    static const char keep[] = "precious user data\n";
    /* a foreign directory holding a file */
    tpath(d, sizeof d, "foreign");
    tdi_mkdirs(d, &e);
    snprintf(f, sizeof f, "%s/notes.txt", d);
    write_bytes(f, keep, sizeof keep - 1);
    tdi_check_int(tdi_dir_begin(d, tmp, sizeof tmp, &e), TDI_EIO, "begin refuses a foreign dir");
    tdi_check_contains(e.msg, d, "refusal names the path");
    tdi_check_contains(e.msg, "was not written by tdi", "refusal says why");
    tdi_check_contains(e.msg, "remove it or choose another output path", "...and what to do");
    TDI_CHECK(same_bytes(f, keep, sizeof keep - 1), "foreign file intact after begin");
    TDI_CHECK(!count_prefixed("foreign\\."), "begin refused: no temporary written");
    tdi_check_int(tdi_dir_check(d, &e), TDI_EIO, "tdi_dir_check refuses it too");

    /* the target appears between begin and commit: commit refuses, the file survives */
    tpath(d, sizeof d, "late");
    tdi_check_int(tdi_dir_begin(d, tmp, sizeof tmp, &e), 0, "begin into a free path");
    tdi_mkdirs(d, &e);
    snprintf(f, sizeof f, "%s/notes.txt", d);
    write_bytes(f, keep, sizeof keep - 1);
    tdi_check_int(tdi_dir_commit(tmp, d, &e), TDI_EIO, "commit refuses a dir that appeared");
    TDI_CHECK(same_bytes(f, keep, sizeof keep - 1), "late foreign file intact after commit");
    tdi_dir_abort(tmp);
    TDI_CHECK(!count_prefixed("late\\."), "refused commit + abort: no leftovers");

    /* a regular file and a symlink at the target */
    tpath(d, sizeof d, "plainfile");
    write_bytes(d, keep, sizeof keep - 1);
    tdi_check_int(tdi_dir_begin(d, tmp, sizeof tmp, &e), TDI_EIO, "begin refuses a regular file");
    tdi_check_contains(e.msg, "not a directory", "regular file: reason");
    TDI_CHECK(same_bytes(d, keep, sizeof keep - 1), "regular file intact");
    char l[512], bd[512];
    tpath(l, sizeof l, "link");
    tpath(bd, sizeof bd, "bundle");
    TDI_CHECK(symlink(bd, l) == 0, "symlink made");
    tdi_check_int(tdi_dir_begin(l, tmp, sizeof tmp, &e), TDI_EIO, "begin refuses a symlink");
    tdi_check_contains(e.msg, "symbolic link", "symlink: reason");

    /* tdi's own output where the user added a file: refused, naming the file */
    snprintf(f, sizeof f, "%s/mine.txt", bd);
    write_bytes(f, keep, sizeof keep - 1);
    tdi_check_int(tdi_dir_begin(bd, tmp, sizeof tmp, &e), TDI_EIO, "begin refuses added file");
    tdi_check_contains(e.msg, "'mine.txt'", "added file named");
    TDI_CHECK(same_bytes(f, keep, sizeof keep - 1), "added file intact");

    /* an empty directory is taken */
    tpath(d, sizeof d, "empty");
    tdi_mkdirs(d, &e);
    tdi_check_int(tdi_dir_check(d, &e), 0, "an empty directory may be replaced");

    /* output of tdi before the marker, recognised by its manifest or netlist headers */
    tpath(d, sizeof d, "legacy-sub");
    tdi_mkdirs(d, &e);
    snprintf(f, sizeof f, "%s/manifest.yaml", d);
    write_bytes(f, "format: tdi-substrate\nversion: 1\n", 33);
    snprintf(f, sizeof f, "%s/M.npy", d);
    write_bytes(f, "x", 1);
    tdi_check_int(tdi_dir_check(d, &e), 0, "legacy substrate bundle may be replaced");
    snprintf(f, sizeof f, "%s/notes.txt", d);
    write_bytes(f, keep, sizeof keep - 1);
    tdi_check_int(tdi_dir_check(d, &e), TDI_EIO, "legacy bundle with a foreign file: refused");
    tpath(d, sizeof d, "legacy-net");
    tdi_mkdirs(d, &e);
    snprintf(f, sizeof f, "%s/cosim.cir", d);
    write_bytes(f, "* tdi-gen cosim netlist: x\n", 27);
    snprintf(f, sizeof f, "%s/standalone.cir", d);
    write_bytes(f, "* tdi-gen standalone netlist: x\n", 32);
    tdi_check_int(tdi_dir_check(d, &e), 0, "legacy netlist set may be replaced");
    snprintf(f, sizeof f, "%s/cosim.cir", d);
    write_bytes(f, "* my own netlist\n", 17);
    tdi_check_int(tdi_dir_check(d, &e), TDI_EIO, "netlists without tdi-gen's header: refused");

    tpath(d, sizeof d, "legacy-cosim");
    tdi_mkdirs(d, &e);
    snprintf(f, sizeof f, "%s/results.json", d);
    write_bytes(f, "{\n  \"preset\": \"p\"}\n", 19);
    snprintf(f, sizeof f, "%s/samples.csv", d);
    write_bytes(f, "sample,row,cos_paper,x\n", 23);
    tdi_check_int(tdi_dir_check(d, &e), 0, "legacy cosim output may be replaced");
    snprintf(f, sizeof f, "%s/plot.png", d);
    write_bytes(f, "x", 1);
    tdi_check_int(tdi_dir_check(d, &e), TDI_EIO, "legacy cosim output with a foreign file");

    /* a path longer than the buffers is refused, not cut */
    char longp[5000];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    tdi_check_int(tdi_dir_begin(longp, tmp, sizeof tmp, &e), TDI_EARG, "overlong path refused");
}

/* ---------------------------------------------------------------- npy */

/* Deterministic test values; the Python side computes the same expressions. */
static double val64(size_t i) { return (double)i * 0.37 - 1.5; }

static void fill(tdi_npy_dtype dt, void *data, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (dt == TDI_NPY_F64)
            ((double *)data)[i] = val64(i);
        else
            ((float *)data)[i] = (float)val64(i);
    }
}

static size_t data_offset(const char *path)
{
    unsigned char pre[10] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t got = fread(pre, 1, 10, f);
    fclose(f);
    return got == 10 ? 10 + ((size_t)pre[8] | (size_t)pre[9] << 8) : 0;
}

static void test_npy_roundtrip(void)
{
    static const struct {
        int ndim;
        size_t shape[4];
    } shapes[] = {{0, {0}}, {1, {0}}, {1, {7}}, {2, {3, 4}}, {2, {0, 5}},
                  {3, {2, 3, 4}}, {4, {2, 1, 3, 2}}, {2, {1000, 3}}};
    const tdi_npy_dtype dts[2] = {TDI_NPY_F32, TDI_NPY_F64};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (int t = 0; t < 2; t++) {
            size_t count = 1;
            for (int d = 0; d < shapes[s].ndim; d++)
                count *= shapes[s].shape[d];
            void *data = malloc(count * (size_t)dts[t] + 1);
            fill(dts[t], data, count);
            char p[512], name[96];
            snprintf(name, sizeof name, "rt_%s_%dd_%zu.npy", t ? "f8" : "f4", shapes[s].ndim,
                     count);
            tpath(p, sizeof p, name);
            tdi_err e;
            tdi_err_clear(&e);
            char label[160];
            snprintf(label, sizeof label, "npy write %s", name);
            tdi_check_int(tdi_npy_write(p, dts[t], shapes[s].ndim, shapes[s].shape, data, &e),
                          0, label);
            snprintf(label, sizeof label, "npy data offset %% 64 == 0 (%s)", name);
            size_t off = data_offset(p);
            TDI_CHECK(off > 0 && off % 64 == 0, label);
            tdi_npy a;
            snprintf(label, sizeof label, "npy read %s", name);
            int rc = tdi_npy_read(p, &a, &e);
            tdi_check_int(rc, 0, label);
            if (rc) {
                printf("    %s\n", e.msg);
                free(data);
                continue;
            }
            int same = a.dtype == dts[t] && a.ndim == shapes[s].ndim && a.count == count;
            for (int d = 0; same && d < a.ndim; d++)
                same = a.shape[d] == shapes[s].shape[d];
            same = same && memcmp(a.data, data, count * (size_t)dts[t]) == 0;
            snprintf(label, sizeof label, "npy round trip identical %s", name);
            TDI_CHECK(same, label);
            tdi_npy_destroy(&a);
            free(data);
        }
    }
}

static int find_python(void)
{
    static const char *const cands[] = {"/usr/bin/python3", "python3"};
    for (size_t i = 0; i < 2; i++) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "%s -c 'import numpy' >/dev/null 2>&1", cands[i]);
        if (system(cmd) == 0) {
            snprintf(g_python, sizeof g_python, "%s", cands[i]);
            return 1;
        }
    }
    g_python[0] = '\0';
    return 0;
}

static int run_python(const char *script)
{
    char sp[512];
    tpath(sp, sizeof sp, "check.py");
    if (write_bytes(sp, script, strlen(script)) != 0)
        return -1;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s '%s' '%s'", g_python, sp, g_dir);
    fflush(stdout);
    return system(cmd);
}

static void test_npy_numpy(void)
{
    int have = find_python();
    TDI_CHECK(have, "python3 with numpy available (apt: python3-numpy)");
    if (!have)
        return;
    tdi_err e;
    tdi_err_clear(&e);
    /* we write, numpy loads */
    char p[512];
    size_t sh2[2] = {3, 4}, sh1[1] = {7}, sh4[4] = {2, 1, 3, 2};
    double d[24];
    float f[24];
    fill(TDI_NPY_F64, d, 24);
    fill(TDI_NPY_F32, f, 24);
    tpath(p, sizeof p, "np_a.npy");
    tdi_npy_write(p, TDI_NPY_F32, 2, sh2, f, &e);
    tpath(p, sizeof p, "np_b.npy");
    tdi_npy_write(p, TDI_NPY_F64, 1, sh1, d, &e);
    tpath(p, sizeof p, "np_c.npy");
    tdi_npy_write(p, TDI_NPY_F64, 0, NULL, d + 5, &e);
    tpath(p, sizeof p, "np_d.npy");
    tdi_npy_write(p, TDI_NPY_F32, 4, sh4, f, &e);
    const char *load_py =
        "import sys, numpy as np\n"
        "d = sys.argv[1]\n"
        "def ref(shape, dt):\n"
        "    n = int(np.prod(shape))\n"
        "    return (np.arange(n, dtype=np.float64) * 0.37 - 1.5).astype(dt).reshape(shape)\n"
        "ok = True\n"
        "for name, shape, dt in [('np_a', (3, 4), '<f4'), ('np_b', (7,), '<f8'),\n"
        "                        ('np_d', (2, 1, 3, 2), '<f4')]:\n"
        "    a = np.load(d + '/' + name + '.npy')\n"
        "    good = a.dtype == np.dtype(dt) and a.shape == shape and np.array_equal(a, ref(shape, dt))\n"
        "    print('  numpy load', name, a.dtype, a.shape, 'ok' if good else 'MISMATCH')\n"
        "    ok = ok and good\n"
        "c = np.load(d + '/np_c.npy')\n"
        "good = c.shape == () and c.dtype == np.float64 and float(c) == 5 * 0.37 - 1.5\n"
        "print('  numpy load np_c', c.shape, 'ok' if good else 'MISMATCH')\n"
        "sys.exit(0 if ok and good else 1)\n";
    tdi_check_int(run_python(load_py), 0, "numpy np.load gives our arrays back unchanged");

    /* numpy saves, we read */
    const char *save_py =
        "import sys, numpy as np\n"
        "d = sys.argv[1]\n"
        "def ref(shape, dt):\n"
        "    n = int(np.prod(shape))\n"
        "    return (np.arange(n, dtype=np.float64) * 0.37 - 1.5).astype(dt).reshape(shape)\n"
        "np.save(d + '/py_f4.npy', ref((2, 3), np.float32))\n"
        "np.save(d + '/py_f8.npy', ref((7,), np.float64))\n"
        "np.save(d + '/py_f8_3d.npy', ref((2, 3, 4), np.float64))\n"
        "np.save(d + '/py_0d.npy', np.float64(5 * 0.37 - 1.5))\n"
        "np.save(d + '/py_empty.npy', np.zeros((0, 5), np.float32))\n"
        "np.save(d + '/py_fortran.npy', np.asfortranarray(ref((2, 3), np.float64)))\n"
        "np.save(d + '/py_i8.npy', np.arange(4, dtype='<i8'))\n"
        "np.save(d + '/py_be.npy', ref((3,), '>f8'))\n"
        "a = ref((2, 3), np.float64); a[1, 2] = np.nan\n"
        "np.save(d + '/py_nan.npy', a)\n";
    tdi_check_int(run_python(save_py), 0, "numpy np.save of fixtures");
    static const struct {
        const char *name;
        tdi_npy_dtype dt;
        int ndim;
        size_t shape[4];
    } good[] = {{"py_f4.npy", TDI_NPY_F32, 2, {2, 3}},
                {"py_f8.npy", TDI_NPY_F64, 1, {7}},
                {"py_f8_3d.npy", TDI_NPY_F64, 3, {2, 3, 4}},
                {"py_empty.npy", TDI_NPY_F32, 2, {0, 5}}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        tpath(p, sizeof p, good[i].name);
        tdi_npy a;
        char label[160];
        snprintf(label, sizeof label, "read numpy-written %s", good[i].name);
        int rc = tdi_npy_read(p, &a, &e);
        if (!tdi_check_ok(rc, &e, label))
            continue;
        int same = a.dtype == good[i].dt && a.ndim == good[i].ndim;
        size_t count = 1;
        for (int k = 0; same && k < a.ndim; k++) {
            same = a.shape[k] == good[i].shape[k];
            count *= good[i].shape[k];
        }
        for (size_t k = 0; same && k < count; k++)
            same = good[i].dt == TDI_NPY_F64 ? ((double *)a.data)[k] == val64(k)
                                             : ((float *)a.data)[k] == (float)val64(k);
        snprintf(label, sizeof label, "numpy-written %s: dtype, shape and values exact",
                 good[i].name);
        TDI_CHECK(same, label);
        tdi_npy_destroy(&a);
    }
    tpath(p, sizeof p, "py_0d.npy");
    tdi_npy a;
    int rc = tdi_npy_read(p, &a, &e);
    tdi_check_int(rc, 0, "read numpy-written 0-d");
    if (!rc) {
        TDI_CHECK(a.ndim == 0 && a.count == 1 && ((double *)a.data)[0] == val64(5),
                  "numpy 0-d value exact");
        tdi_npy_destroy(&a);
    }
    tpath(p, sizeof p, "py_fortran.npy");
    tdi_check_int(tdi_npy_read(p, &a, &e), TDI_EFORMAT, "fortran_order True rejected");
    tdi_check_contains(e.msg, "fortran_order", "fortran message");
    tdi_check_contains(e.msg, "py_fortran.npy", "fortran message names file");
    tpath(p, sizeof p, "py_i8.npy");
    tdi_check_int(tdi_npy_read(p, &a, &e), TDI_EFORMAT, "int64 dtype rejected");
    tdi_check_contains(e.msg, "<i8", "dtype message names the dtype");
    tpath(p, sizeof p, "py_be.npy");
    tdi_check_int(tdi_npy_read(p, &a, &e), TDI_EFORMAT, "big-endian >f8 rejected");
    tpath(p, sizeof p, "py_nan.npy");
    double *out = NULL;
    tdi_check_int(tdi_npy_load_f64(p, 0, 0, &out, NULL, NULL, &e), TDI_ENUM,
                  "load_f64 rejects numpy NaN");
    tdi_check_contains(e.msg, "(1, 2)", "NaN message names element (1, 2)");
    tdi_check_contains(e.msg, "py_nan.npy", "NaN message names file");
    TDI_CHECK(out == NULL, "load_f64 leaves *out NULL on error");
}

/* Reads the whole file at p into a malloc'd buffer; n gets its size. */
static unsigned char *slurp(const char *p, size_t *n)
{
    char *b = NULL;
    tdi_err e;
    if (tdi_file_read_all(p, &b, n, &e) != 0)
        return NULL;
    return (unsigned char *)b;
}

/* Writes a patched copy of src (bytes b, size n) to name and checks the read error. */
static void corrupt_case(const char *name, const unsigned char *b, size_t n, int expect_code,
                         size_t expect_off, const char *expect_text)
{
    char p[512], label[200], off[64];
    tpath(p, sizeof p, name);
    write_bytes(p, b, n);
    tdi_npy a;
    tdi_err e;
    tdi_err_clear(&e);
    snprintf(label, sizeof label, "corrupt %s rejected", name);
    tdi_check_int(tdi_npy_read(p, &a, &e), expect_code, label);
    snprintf(label, sizeof label, "corrupt %s: message names file", name);
    tdi_check_contains(e.msg, name, label);
    snprintf(off, sizeof off, "byte offset %zu:", expect_off);
    snprintf(label, sizeof label, "corrupt %s: message names offset", name);
    tdi_check_contains(e.msg, off, label);
    if (expect_text) {
        snprintf(label, sizeof label, "corrupt %s: message says why", name);
        tdi_check_contains(e.msg, expect_text, label);
    }
    TDI_CHECK(a.data == NULL, "failed read leaves no data");
}

/* Copy of b with the first occurrence of from replaced by to (same length); offset in *at. */
static unsigned char *patched(const unsigned char *b, size_t n, const char *from, const char *to,
                              size_t *at)
{
    unsigned char *c = malloc(n);
    memcpy(c, b, n);
    size_t lf = strlen(from);
    *at = 0;
    for (size_t i = 0; i + lf <= n; i++) {
        if (memcmp(c + i, from, lf) == 0) {
            memcpy(c + i, to, lf);
            *at = i;
            break;
        }
    }
    return c;
}

static void test_npy_corrupt(void)
{
    tdi_err e;
    tdi_err_clear(&e);
    char p[512];
    size_t sh[2] = {3, 4};
    double d[12];
    fill(TDI_NPY_F64, d, 12);
    tpath(p, sizeof p, "base.npy");
    tdi_check_int(tdi_npy_write(p, TDI_NPY_F64, 2, sh, d, &e), 0, "write base.npy");
    size_t n = 0;
    unsigned char *b = slurp(p, &n);
    if (!b) {
        TDI_CHECK(0, "read base.npy back");
        return;
    }
    size_t doff = data_offset(p);
    tdi_check_int((long long)n, (long long)(doff + 12 * 8), "base.npy size = header + data");

    corrupt_case("trunc_data.npy", b, n - 5, TDI_EFORMAT, n - 5, "truncated");
    corrupt_case("trunc_header.npy", b, 40, TDI_EFORMAT, 40, "header");
    corrupt_case("trunc_magic.npy", b, 3, TDI_EFORMAT, 3, NULL);
    corrupt_case("empty.npy", b, 0, TDI_EFORMAT, 0, NULL);
    unsigned char *c = malloc(n + 1);
    memcpy(c, b, n);
    c[n] = 0;
    corrupt_case("trailing.npy", c, n + 1, TDI_EFORMAT, n, "trailing");
    memcpy(c, b, n);
    c[1] = 'X';
    corrupt_case("bad_magic.npy", c, n, TDI_EFORMAT, 1, "magic");
    memcpy(c, b, n);
    c[6] = 2;
    corrupt_case("v2.npy", c, n, TDI_EFORMAT, 6, "version 2.0");
    free(c);
    size_t at;
    c = patched(b, n, "'<f8'", "'<i4'", &at);
    corrupt_case("dtype_i4.npy", c, n, TDI_EFORMAT, at, "<i4");
    free(c);
    c = patched(b, n, "False", "True ", &at);
    corrupt_case("fortran.npy", c, n, TDI_EFORMAT, at, "fortran_order");
    free(c);
    c = patched(b, n, "'shape'", "'shapf'", &at);
    corrupt_case("badkey.npy", c, n, TDI_EFORMAT, at, "shapf");
    free(c);
    c = patched(b, n, "(3, 4)", "(3; 4)", &at);
    corrupt_case("badshape.npy", c, n, TDI_EFORMAT, at + 2, "shape");
    free(c);
    c = patched(b, n, "{", "[", &at);
    corrupt_case("nobrace.npy", c, n, TDI_EFORMAT, at, "'{'");
    free(c);
    c = malloc(n);
    memcpy(c, b, n);
    c[doff - 1] = ' '; /* the header's final '\n' */
    corrupt_case("no_newline.npy", c, n, TDI_EFORMAT, doff, "'\\n'");
    free(c);
    /* shape claims more data than there is: (3, 5) needs 120 bytes, file has 96 */
    c = patched(b, n, "(3, 4)", "(3, 5)", &at);
    corrupt_case("shape_too_big.npy", c, n, TDI_EFORMAT, n, "truncated");
    free(c);
    /* a header claiming 9.6 TB of data must fail as truncated without trying to allocate it
     * (the 11 padding spaces after '}' absorb the longer shape text) */
    c = patched(b, n, "(3, 4), }           ", "(3, 400000000000), }", &at);
    TDI_CHECK(at > 0, "precondition: header has 11 padding spaces after the dict");
    corrupt_case("huge_shape.npy", c, n, TDI_EFORMAT, n, "truncated");
    free(c);
    free(b);

    tdi_npy a;
    tpath(p, sizeof p, "does-not-exist.npy");
    tdi_check_int(tdi_npy_read(p, &a, &e), TDI_EIO, "missing npy -> EIO");
    tdi_check_contains(e.msg, "does-not-exist.npy", "missing npy message names file");
}

/* A .npy with the given descr and shape text (the header as NumPy pads it) and ndata zero data
 * bytes; returns the data offset. */
static size_t craft_npy(const char *name, const char *descr, const char *shape, size_t ndata)
{
    char dict[256], p[512];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     descr, shape);
    size_t hlen = (size_t)k + 1;
    hlen += (64 - (10 + hlen) % 64) % 64;
    size_t n = 10 + hlen + ndata;
    unsigned char *b = calloc(n, 1);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hlen & 0xff);
    b[9] = (unsigned char)(hlen >> 8);
    memset(b + 10, ' ', hlen - 1);
    memcpy(b + 10, dict, (size_t)k);
    b[10 + hlen - 1] = '\n';
    tpath(p, sizeof p, name);
    write_bytes(p, b, n);
    free(b);
    return 10 + hlen;
}

/* Reads name and checks code, that the message names the file and holds want. */
static void huge_case(const char *name, int code, const char *want)
{
    char p[512], label[200];
    tpath(p, sizeof p, name);
    tdi_npy a;
    tdi_err e;
    tdi_err_clear(&e);
    snprintf(label, sizeof label, "npy %s: refused", name);
    tdi_check_int(tdi_npy_read(p, &a, &e), code, label);
    snprintf(label, sizeof label, "npy %s: message names the file", name);
    tdi_check_contains(e.msg, name, label);
    snprintf(label, sizeof label, "npy %s: message says why", name);
    tdi_check_contains(e.msg, want, label);
    TDI_CHECK(a.data == NULL, "npy huge shape: failed read leaves no data");
}

/* Reads the file name through a FIFO fed by a child process: a non-regular file, whose size is
 * not known before reading. Returns tdi_npy_read's code. */
static int read_via_fifo(const char *name, tdi_npy *a, tdi_err *e)
{
    char src[512], fifo[512];
    tpath(src, sizeof src, name);
    tpath(fifo, sizeof fifo, "fifo.npy");
    unlink(fifo);
    if (mkfifo(fifo, 0600) != 0)
        return 99;
    pid_t pid = fork();
    if (pid == 0) {
        size_t n = 0;
        unsigned char *b = slurp(src, &n);
        FILE *f = fopen(fifo, "wb");
        if (f && b)
            fwrite(b, 1, n, f);
        _exit(f && b && fclose(f) == 0 ? 0 : 1);
    }
    int rc = tdi_npy_read(fifo, a, e);
    int st = 0;
    waitpid(pid, &st, 0);
    unlink(fifo);
    return rc;
}

/* Shapes whose byte count does not fit in size_t, or wraps to a small number, are "shape too
 * large" (never out of memory, never a read of the wrapped size); a large shape that fits is
 * "file truncated" with both sizes; a zero dimension beside a huge one is an empty array. */
static void test_npy_huge_shapes(void)
{
    craft_npy("h_2p61x8.npy", "<f8", "(2305843009213693952, 8)", 16);
    huge_case("h_2p61x8.npy", TDI_EFORMAT, "shape too large: (2305843009213693952, 8)");
    craft_npy("h_2p32sq.npy", "<f4", "(4294967296, 4294967296)", 16);
    huge_case("h_2p32sq.npy", TDI_EFORMAT, "shape too large");
    /* (2^62 + 1) x 4 elements = 2^64 + 4: wraps to 4 elements, i.e. 16 bytes, which the file has */
    craft_npy("h_wrap16.npy", "<f4", "(4611686018427387905, 4)", 16);
    huge_case("h_wrap16.npy", TDI_EFORMAT, "shape too large");
    /* (2^61 - 1) doubles = 2^64 - 8 bytes: only the header offset + data bytes sum wraps */
    craft_npy("h_endwrap.npy", "<f8", "(2305843009213693951,)", 8);
    huge_case("h_endwrap.npy", TDI_EFORMAT, "shape too large");
    /* 2^58 doubles = 2^61 bytes fit in size_t: a truncated file, with both sizes */
    size_t off = craft_npy("h_2p58.npy", "<f8", "(288230376151711744,)", 8);
    char want[160];
    snprintf(want, sizeof want, "file truncated: expected %zu bytes (%zu header + "
             "2305843009213693952 data), has %zu", off + ((size_t)1 << 61), off, off + 8);
    huge_case("h_2p58.npy", TDI_EFORMAT, want);
    craft_npy("h_zero.npy", "<f8", "(2305843009213693951, 0, 4294967296)", 0);
    char p[512];
    tpath(p, sizeof p, "h_zero.npy");
    tdi_npy a;
    tdi_err e;
    tdi_check_int(tdi_npy_read(p, &a, &e), 0, "npy (2^61-1, 0, 2^32): read as empty");
    tdi_check_int((long long)a.count, 0, "npy (2^61-1, 0, 2^32): 0 elements");
    tdi_npy_destroy(&a);
    /* through a FIFO the size is unknown: the claimed 2^61 bytes are never allocated */
    tdi_check_int(read_via_fifo("h_2p58.npy", &a, &e), TDI_EFORMAT, "npy 2^58 doubles via FIFO");
    tdi_check_contains(e.msg, "file truncated: expected 2305843009213694080 bytes",
                       "npy 2^58 doubles via FIFO: truncated, with the expected size");
    tdi_check_int(read_via_fifo("base.npy", &a, &e), 0, "npy base.npy via FIFO reads");
    tdi_check_int((long long)a.count, 12, "npy base.npy via FIFO: 12 elements");
    tdi_npy_destroy(&a);
    /* 3.2 MB through the FIFO: the buffer grows from 1 MiB twice, and the data arrive intact */
    size_t big_n = 400000, same = 0;
    double *big = malloc(big_n * sizeof *big);
    for (size_t i = 0; i < big_n; i++)
        big[i] = (double)i * 0.5;
    tpath(p, sizeof p, "big.npy");
    tdi_npy_write(p, TDI_NPY_F64, 1, &big_n, big, &e);
    tdi_check_int(read_via_fifo("big.npy", &a, &e), 0, "npy 3.2 MB via FIFO reads");
    for (size_t i = 0; a.data && i < big_n && i < a.count; i++)
        same += ((double *)a.data)[i] == big[i];
    tdi_check_int((long long)same, (long long)big_n, "npy 3.2 MB via FIFO: every element");
    tdi_npy_destroy(&a);
    free(big);
}

static void test_npy_load(void)
{
    tdi_err e;
    tdi_err_clear(&e);
    char p[512];
    size_t sh[2] = {3, 4}, sh1[1] = {9};
    float f[12];
    fill(TDI_NPY_F32, f, 12);
    tpath(p, sizeof p, "load_f4.npy");
    tdi_npy_write(p, TDI_NPY_F32, 2, sh, f, &e);
    double *d = NULL;
    size_t r = 0, c = 0;
    tdi_check_int(tdi_npy_load_f64(p, 3, 4, &d, &r, &c, &e), 0, "load_f64 of f4 3x4");
    int same = d != NULL;
    for (size_t i = 0; same && i < 12; i++)
        same = d[i] == (double)f[i];
    TDI_CHECK(same && r == 3 && c == 4, "load_f64 converts f4 exactly, shape 3x4");
    free(d);
    tdi_check_int(tdi_npy_load_f64(p, 4, 0, &d, &r, &c, &e), TDI_EFORMAT, "rows mismatch");
    tdi_check_contains(e.msg, "expected 4 rows, got 3", "rows mismatch message");
    tdi_check_int(tdi_npy_load_f64(p, 0, 5, &d, &r, &c, &e), TDI_EFORMAT, "cols mismatch");
    tdi_check_contains(e.msg, "load_f4.npy", "cols mismatch names file");

    double v[9];
    fill(TDI_NPY_F64, v, 9);
    v[5] = INFINITY;
    tpath(p, sizeof p, "load_inf.npy");
    tdi_npy_write(p, TDI_NPY_F64, 1, sh1, v, &e);
    float *fo = NULL;
    tdi_check_int(tdi_npy_load_f32(p, 0, 0, &fo, &r, &c, &e), TDI_ENUM, "load_f32 rejects Inf");
    tdi_check_contains(e.msg, "element 5", "Inf message names element 5");
    tdi_check_int(tdi_npy_load_f32(p, 9, 2, &fo, &r, &c, &e), TDI_EFORMAT,
                  "1-D array with cols != 0 rejected");
    v[5] = 1e300; /* finite double, not representable as float */
    tdi_npy_write(p, TDI_NPY_F64, 1, sh1, v, &e);
    tdi_check_int(tdi_npy_load_f32(p, 0, 0, &fo, &r, &c, &e), TDI_ENUM,
                  "load_f32 rejects float overflow");
    v[5] = 0.25;
    tdi_npy_write(p, TDI_NPY_F64, 1, sh1, v, &e);
    tdi_check_int(tdi_npy_load_f32(p, 9, 0, &fo, &r, &c, &e), 0, "load_f32 1-D ok");
    TDI_CHECK(fo && r == 9 && c == 0 && fo[5] == 0.25f && fo[3] == (float)v[3],
              "load_f32 values and 1-D shape");
    free(fo);
    size_t sh3[3] = {1, 1, 1};
    tpath(p, sizeof p, "load_3d.npy");
    tdi_npy_write(p, TDI_NPY_F64, 3, sh3, v, &e);
    tdi_check_int(tdi_npy_load_f64(p, 0, 0, &d, &r, &c, &e), TDI_EFORMAT, "load_f64 3-D rejected");
}

/* A directory where a .npy is expected: named as such (it used to say "file ends inside the
 * magic", since fopen succeeds on a directory and the first read fails). */
static void test_npy_directory(void)
{
    tdi_err e;
    tdi_err_clear(&e);
    char p[512];
    tpath(p, sizeof p, "adir.npy");
    tdi_check_int(mkdir(p, 0777), 0, "npy dir: mkdir adir.npy");
    tdi_npy a;
    tdi_check_int(tdi_npy_read(p, &a, &e), TDI_EIO, "npy dir: read refused with TDI_EIO");
    char want[600];
    snprintf(want, sizeof want, "%s: is a directory", p);
    tdi_check_contains(e.msg, want, "npy dir: message names the path and 'is a directory'");
    TDI_CHECK(!strstr(e.msg, "magic"), "npy dir: message does not blame the magic");
    double *d = NULL;
    size_t r = 0, c = 0;
    tdi_check_int(tdi_npy_load_f64(p, 0, 0, &d, &r, &c, &e), TDI_EIO, "npy dir: load_f64 too");
    tdi_check_contains(e.msg, "is a directory", "npy dir: load_f64 message");
}

/* ---------------------------------------------------------------- tdi_cli */

/* Runs tdi_cli_omp_passive in a child with OMP_WAIT_POLICY unset (set = NULL) or set to `set`;
 * the exec target is /bin/sh testing the variable against want. Returns the child's exit
 * status: 0 when the variable seen was want; 3 when the helper returned without exec. */
static int omp_child(const char *set, const char *want)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (set)
            setenv("OMP_WAIT_POLICY", set, 1);
        else
            unsetenv("OMP_WAIT_POLICY");
        char script[128];
        snprintf(script, sizeof script, "test \"$OMP_WAIT_POLICY\" = '%s'", want);
        char *argv[] = {"sh", "-c", script, NULL};
        tdi_cli_omp_passive("/bin/sh", argv);
        /* not exec'd: the variable must be the user's, untouched */
        const char *v = getenv("OMP_WAIT_POLICY");
        _exit(v && strcmp(v, want) == 0 ? 3 : 4);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static void test_cli(void)
{
    tdi_check_int(omp_child(NULL, "PASSIVE"), 0,
                  "omp_passive: unset -> re-executed with OMP_WAIT_POLICY=PASSIVE");
    tdi_check_int(omp_child("ACTIVE", "ACTIVE"), 3,
                  "omp_passive: the user's ACTIVE is kept, no re-exec");
    tdi_check_int(omp_child("", ""), 3, "omp_passive: an empty user value is kept, no re-exec");
    char *h1[] = {"p", "x", "--help", NULL}, *h2[] = {"p", "-h", NULL};
    char *h3[] = {"p", "--helpme", "-hx", NULL};
    tdi_check_int(tdi_cli_wants_help(3, h1), 1, "wants_help: --help after a positional");
    tdi_check_int(tdi_cli_wants_help(2, h2), 1, "wants_help: -h");
    tdi_check_int(tdi_cli_wants_help(3, h3), 0, "wants_help: --helpme, -hx are not help");
}

/* ---------------------------------------------------------------- cfg */

/* Does text contain line as a whole line? */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

typedef struct {
    long seed, epochs;
    double lr, warmup;
    int ema;
    char schedule[16], name[12];
    double betas[4];
    size_t nbetas;
    long channels[3];
    size_t nchannels;
    double one[2];
    size_t none;
} cfg_vals;

#define NKEYS 12

static void cfg_schema(cfg_vals *v, tdi_cfg_key k[NKEYS])
{
    *v = (cfg_vals){.seed = 7, .warmup = 0.5, .lr = 0.1, .epochs = 1, .schedule = "linear",
                    .name = "x"}; /* the defaults */
    const tdi_cfg_key tab[NKEYS] = {
        {"seed", TDI_CFG_INT, &v->seed, 0, 1e9, 0, NULL, NULL, 0},
        {"train.lr", TDI_CFG_DOUBLE, &v->lr, 0, 1, 0, NULL, NULL, 0},
        {"train.epochs", TDI_CFG_INT, &v->epochs, 1, 1000, 0, NULL, NULL, 0},
        {"train.warmup", TDI_CFG_DOUBLE, &v->warmup, 0, 1, 0, NULL, NULL, 0},
        {"train.ema", TDI_CFG_BOOL, &v->ema, 0, 0, 0, NULL, NULL, 0},
        {"train.schedule", TDI_CFG_STRING, v->schedule, 0, 0, sizeof v->schedule, NULL,
         "linear|cosine", 0},
        {"train.betas", TDI_CFG_DLIST, v->betas, 0, 1, 4, &v->nbetas, NULL, 0},
        {"model.channels", TDI_CFG_ILIST, v->channels, 1, 512, 3, &v->nchannels, NULL, 0},
        {"model.name", TDI_CFG_STRING, v->name, 0, 0, sizeof v->name, NULL, NULL, 0},
        {"model.one", TDI_CFG_DLIST, v->one, -10, 10, 2, &v->none, NULL, 0},
        {"circuit", TDI_CFG_IGNORE, NULL, 0, 0, 0, NULL, NULL, 0},
        {"model.deep.other", TDI_CFG_IGNORE, NULL, 0, 0, 0, NULL, NULL, 0},
    };
    memcpy(k, tab, sizeof tab);
}

static const char *good_cfg =
    "# a config with every type\n"
    "seed: 42\n"
    "train:\n"
    "  lr: 1e-3\n"
    "  epochs: 10\n"
    "  ema: yes\n"
    "  schedule: cosine\n"
    "  betas: [0.9, 0.999]\n"
    "model:\n"
    "  channels:\n"
    "    - 32\n"
    "    - 64\n"
    "  name: \"unet s\"\n"
    "  one: -2.5\n"
    "  deep:\n"
    "    other: {anything: [1, 2, {x: y}], bad: abc}\n"
    "circuit:\n"
    "  r: not-a-number\n"
    "  nested: {c: [1, 2]}\n";

static void test_cfg_good(void)
{
    cfg_vals v;
    tdi_cfg_key k[NKEYS];
    cfg_schema(&v, k);
    tdi_err e;
    tdi_err_clear(&e);
    int rc = tdi_cfg_load_string("good.yaml", good_cfg, k, NKEYS, &e);
    tdi_check_ok(rc, &e, "cfg good loads");
    tdi_check_int(v.seed, 42, "cfg seed");
    tdi_check_near(v.lr, 1e-3, 0, "cfg train.lr (strtod of the same text: exact)");
    tdi_check_int(v.epochs, 10, "cfg train.epochs");
    tdi_check_near(v.warmup, 0.5, 0, "cfg train.warmup keeps default");
    tdi_check_int(k[3].seen, 0, "cfg absent key not seen");
    tdi_check_int(k[0].seen, 1, "cfg present key seen");
    tdi_check_int(k[10].seen, 1, "cfg ignored subtree seen");
    tdi_check_int(v.ema, 1, "cfg bool yes");
    TDI_CHECK(strcmp(v.schedule, "cosine") == 0, "cfg string choice");
    TDI_CHECK(strcmp(v.name, "unet s") == 0, "cfg quoted string");
    tdi_check_int((long long)v.nbetas, 2, "cfg flow list count");
    tdi_check_near(v.betas[1], 0.999, 0, "cfg flow list element");
    tdi_check_int((long long)v.nchannels, 2, "cfg block list count");
    tdi_check_int(v.channels[1], 64, "cfg block list element");
    tdi_check_int((long long)v.none, 1, "cfg scalar as 1-element list");
    tdi_check_near(v.one[0], -2.5, 0, "cfg scalar list value");

    /* canonical dump and its hash */
    char *txt = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&txt, &len);
    tdi_cfg_dump(m, k, NKEYS);
    fclose(m);
    TDI_CHECK(has_line(txt, "seed: 42"), "dump int");
    TDI_CHECK(has_line(txt, "train.lr: 0.001"), "dump double %.17g");
    TDI_CHECK(has_line(txt, "train.ema: true"), "dump bool");
    TDI_CHECK(has_line(txt, "train.betas: [0.90000000000000002, 0.999]"), "dump dlist");
    TDI_CHECK(has_line(txt, "model.channels: [32, 64]"), "dump ilist");
    TDI_CHECK(has_line(txt, "model.name: unet s"), "dump string");
    TDI_CHECK(txt && strncmp(txt, "seed: 42\ntrain.lr:", 18) == 0, "dump in table order");
    TDI_CHECK(txt && !strstr(txt, "circuit"), "dump leaves out ignored subtrees");
    uint64_t h = tdi_cfg_hash(k, NKEYS);
    tdi_check_int((long long)h, (long long)tdi_hash_bytes(TDI_HASH_INIT, txt, len),
                  "cfg hash = FNV-1a of the dump");
    free(txt);
    v.lr = 0.002;
    TDI_CHECK(tdi_cfg_hash(k, NKEYS) != h, "cfg hash changes with a value");

    /* the same from a file; an empty file keeps the defaults */
    char p[512];
    tpath(p, sizeof p, "good.yaml");
    write_bytes(p, good_cfg, strlen(good_cfg));
    cfg_schema(&v, k);
    tdi_check_int(tdi_cfg_load(p, k, NKEYS, &e), 0, "cfg load from file");
    tdi_check_int(tdi_cfg_hash(k, NKEYS), (long long)h, "cfg from file: same hash");
    cfg_schema(&v, k);
    tdi_check_int(tdi_cfg_load_string("empty.yaml", "# nothing\n", k, NKEYS, &e), 0,
                  "cfg empty file ok");
    tdi_check_int(v.seed, 7, "cfg empty file keeps defaults");
    cfg_schema(&v, k);
    tdi_check_int(tdi_cfg_load_string("b.yaml", "train: {ema: Off, betas: []}\n", k, NKEYS, &e),
                  0, "cfg flow mapping, bool Off, empty list");
    TDI_CHECK(v.ema == 0 && v.nbetas == 0, "cfg bool off and empty list values");
    tpath(p, sizeof p, "none.yaml");
    tdi_check_int(tdi_cfg_load(p, k, NKEYS, &e), TDI_EIO, "cfg missing file -> EIO");
    tdi_check_contains(e.msg, "none.yaml", "cfg missing file named");
}

/* Loads text as "c.yaml" and checks code and that the message contains want. */
static void cfg_bad(const char *label, const char *text, int code, const char *want)
{
    cfg_vals v;
    tdi_cfg_key k[NKEYS];
    cfg_schema(&v, k);
    tdi_err e;
    tdi_err_clear(&e);
    char l[200];
    snprintf(l, sizeof l, "cfg %s: error code", label);
    tdi_check_int(tdi_cfg_load_string("c.yaml", text, k, NKEYS, &e), code, l);
    snprintf(l, sizeof l, "cfg %s: message", label);
    tdi_check_contains(e.msg, want, l);
}

static void test_cfg_bad(void)
{
    /* line 4 "  bogus: 3": key starts in column 3 */
    cfg_bad("unknown key", "seed: 1\ntrain:\n  lr: 0.1\n  bogus: 3\n", TDI_ECONFIG,
            "c.yaml:4:3: unknown key 'train.bogus'");
    cfg_bad("unknown subtree", "extra:\n  x: 1\n", TDI_ECONFIG,
            "c.yaml:1:1: unknown key 'extra'");
    /* "  name: x: 2": the second ':' is column 10 (a string key, so the value 'x' itself is
     * fine and the scanner's error is what gets reported) */
    cfg_bad("malformed yaml", "seed: 1\nmodel:\n  name: x: 2\n", TDI_ECONFIG,
            "c.yaml:3:10: mapping values are not allowed");
    /* unclosed flow sequence: libyaml reports where it gave up; we check only the line
     * number shape "c.yaml:N:" and the problem text */
    cfg_bad("unclosed flow list", "train:\n  betas: [0.1, 0.2\n", TDI_ECONFIG,
            "did not find expected");
    /* "  lr: 5": the value is column 7 */
    cfg_bad("out of range", "train:\n  lr: 5\n", TDI_ECONFIG,
            "c.yaml:2:7: key 'train.lr': value 5 is outside [0, 1]");
    cfg_bad("int out of range", "train:\n  epochs: 0\n", TDI_ECONFIG,
            "c.yaml:2:11: key 'train.epochs': value 0 is outside [1, 1000]");
    cfg_bad("not a number", "train:\n  lr: abc\n", TDI_ECONFIG,
            "c.yaml:2:7: key 'train.lr': value 'abc' is not a number");
    cfg_bad("quoted number", "train:\n  lr: \"0.1\"\n", TDI_ECONFIG, "is not a number");
    cfg_bad("not an integer", "train:\n  epochs: 2.5\n", TDI_ECONFIG,
            "key 'train.epochs': value '2.5' is not an integer");
    cfg_bad("int overflow", "seed: 99999999999999999999999\n", TDI_ECONFIG, "overflows");
    cfg_bad("NaN", "train:\n  lr: .nan\n", TDI_ECONFIG, "is not finite");
    cfg_bad("Inf", "train:\n  lr: -.inf\n", TDI_ECONFIG, "is not finite");
    cfg_bad("huge double", "train:\n  lr: 1e999\n", TDI_ECONFIG, "is not finite");
    cfg_bad("not a bool", "train:\n  ema: maybe\n", TDI_ECONFIG, "is not a boolean");
    cfg_bad("bad choice", "train:\n  schedule: step\n", TDI_ECONFIG,
            "value 'step' is not one of linear|cosine");
    cfg_bad("string too long", "model:\n  name: abcdefghijklmnop\n", TDI_ECONFIG,
            "longer than 11 characters");
    cfg_bad("duplicate leaf", "seed: 1\nseed: 2\n", TDI_ECONFIG,
            "c.yaml:2:1: duplicate key 'seed'");
    cfg_bad("duplicate mapping", "train:\n  lr: 0.1\ntrain:\n  epochs: 2\n", TDI_ECONFIG,
            "c.yaml:3:1: duplicate key 'train'");
    cfg_bad("duplicate nested", "train:\n  lr: 0.1\n  lr: 0.2\n", TDI_ECONFIG,
            "c.yaml:3:3: duplicate key 'train.lr'");
    /* "  betas: [1, 2, 3, 4, 5]" has cap 4 in the schema... betas are in [0, 1], so use
     * values in range: the fifth element "0.5" starts at column 31 */
    cfg_bad("list too long", "train:\n  betas: [0.1, 0.2, 0.3, 0.4, 0.5]\n", TDI_ECONFIG,
            "c.yaml:2:31: key 'train.betas': more than 4 elements");
    cfg_bad("block list too long", "model:\n  channels:\n  - 1\n  - 2\n  - 3\n  - 4\n",
            TDI_ECONFIG, "c.yaml:6:5: key 'model.channels': more than 3 elements");
    cfg_bad("list element range", "model:\n  channels: [8, 1024]\n", TDI_ECONFIG,
            "c.yaml:2:17: key 'model.channels': value 1024 is outside [1, 512]");
    cfg_bad("nested list", "model:\n  channels: [[1]]\n", TDI_ECONFIG,
            "list elements must be scalars");
    cfg_bad("mapping for scalar", "train:\n  lr: {a: 1}\n", TDI_ECONFIG,
            "c.yaml:2:7: key 'train.lr': expected a single value");
    cfg_bad("scalar for mapping", "train: 3\n", TDI_ECONFIG,
            "c.yaml:1:8: key 'train' must be a mapping");
    cfg_bad("top-level list", "- 1\n- 2\n", TDI_ECONFIG, "top level must be a mapping");
    cfg_bad("alias", "seed: &a 1\ntrain:\n  epochs: *a\n", TDI_ECONFIG,
            "c.yaml:1:7: anchors are not supported");
    cfg_bad("tag", "seed: !!int 3\n", TDI_ECONFIG, "tags are not supported");
    cfg_bad("two documents", "seed: 1\n---\nseed: 2\n", TDI_ECONFIG,
            "only one YAML document");
    cfg_bad("tab indentation", "train:\n\tlr: 0.1\n", TDI_ECONFIG, "c.yaml:2:");
    cfg_bad("empty value", "model:\n  name:\n", TDI_ECONFIG, "missing value");

    /* the ignored subtree really is skipped, even with garbage inside */
    cfg_vals v;
    tdi_cfg_key k[NKEYS];
    cfg_schema(&v, k);
    tdi_err e;
    tdi_err_clear(&e);
    tdi_check_int(tdi_cfg_load_string("i.yaml", "circuit:\n  a: [1, {b: c}]\n  d: e\n", k,
                                      NKEYS, &e), 0, "cfg IGNORE skips the subtree");
    /* a key next to an ignored one is still checked */
    cfg_bad("sibling of ignored", "model:\n  deep:\n    other: 1\n    more: 2\n", TDI_ECONFIG,
            "c.yaml:4:5: unknown key 'model.deep.more'");

    /* an incomplete schema is a caller error */
    cfg_schema(&v, k);
    k[6].nout = NULL;
    tdi_check_int(tdi_cfg_load_string("s.yaml", "seed: 1\n", k, NKEYS, &e), TDI_EARG,
                  "cfg list without nout -> EARG");
}

/* tdi_cfg_load_preset: the sections the table reads are checked in full, the other preset
 * sections are skipped, unknown top-level keys are errors */
/* tdi_cfg_locate: the key's line:col (1-based, counted by hand below), keys inside sequences
 * of mappings skipped, a default (absent key) gives the file name alone. */
static void test_cfg_locate(void)
{
    char p[512], loc[600], want[600];
    tpath(p, sizeof p, "locate.yaml");
    const char *text = "seed: 1\n"                 /* line 1 */
                       "cosim:\n"                  /* 2 */
                       "  list: [1, 2]\n"          /* 3 */
                       "  items:\n"                /* 4 */
                       "    - {t_avg: 3}\n"        /* 5: a t_avg inside a sequence */
                       "  t_avg: 5.0e5\n"          /* 6 */
                       "circuit: {noise_dt: 1}\n"; /* 7: col 11 */
    write_bytes(p, text, strlen(text));
    tdi_cfg_locate(p, "cosim.t_avg", loc, sizeof loc);
    snprintf(want, sizeof want, "%s:6:3", p);
    tdi_check_contains(loc, want, "locate: cosim.t_avg at 6:3");
    tdi_cfg_locate(p, "circuit.noise_dt", loc, sizeof loc);
    snprintf(want, sizeof want, "%s:7:11", p);
    tdi_check_contains(loc, want, "locate: circuit.noise_dt in a flow mapping at 7:11");
    tdi_cfg_locate(p, "cosim.tick", loc, sizeof loc);
    TDI_CHECK(strcmp(loc, p) == 0, "locate: absent key gives the file name alone");
    tdi_cfg_locate(p, "seed", loc, sizeof loc);
    snprintf(want, sizeof want, "%s:1:1", p);
    tdi_check_contains(loc, want, "locate: top-level seed at 1:1");
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Loads path with the test schema; checks the code and that the message contains want. */
static void cfg_bad_file(const char *label, const char *path, int code, const char *want)
{
    cfg_vals v;
    tdi_cfg_key k[NKEYS];
    cfg_schema(&v, k);
    tdi_err e;
    tdi_err_clear(&e);
    char l[300];
    snprintf(l, sizeof l, "cfg %s: error code", label);
    tdi_check_int(tdi_cfg_load(path, k, NKEYS, &e), code, l);
    snprintf(l, sizeof l, "cfg %s: message", label);
    tdi_check_contains(e.msg, want, l);
}

/* A file of n bytes of comment lines ("#...\n", the last line possibly short): valid YAML. */
static int write_comments(const char *p, size_t n)
{
    char *b = malloc(n ? n : 1);
    if (!b)
        return -1;
    for (size_t i = 0; i < n; i++)
        b[i] = (i % 64 == 63 || i + 1 == n) ? '\n' : (i % 64 == 0 ? '#' : 'x');
    int rc = write_bytes(p, b, n);
    free(b);
    return rc;
}

/* Loads /dev/fd/N of a pipe a child fills with n comment bytes (then closes). Returns the code. */
static int cfg_load_pipe(size_t n, tdi_err *e)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -999;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        char line[64];
        memset(line, 'x', sizeof line);
        line[0] = '#';
        line[63] = '\n';
        for (size_t w = 0; w < n; w += sizeof line)
            if (write(fd[1], line, sizeof line) != (ssize_t)sizeof line)
                _exit(0); /* the reader stopped early (EPIPE): expected for the long stream */
        _exit(0);
    }
    close(fd[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fd[0]);
    cfg_vals v;
    tdi_cfg_key k[NKEYS];
    cfg_schema(&v, k);
    int rc = tdi_cfg_load(path, k, NKEYS, e);
    close(fd[0]);
    waitpid(pid, NULL, 0);
    return rc;
}

/* Size bound: 1 MiB (TDI_CFG_MAX_BYTES) loads, one byte more, 2 MB and endless streams do not. */
static void test_cfg_size(void)
{
    char p[512], want[600];
    tpath(p, sizeof p, "mib.yaml");
    write_comments(p, (size_t)TDI_CFG_MAX_BYTES);
    cfg_vals v;
    tdi_cfg_key k[NKEYS];
    cfg_schema(&v, k);
    tdi_err e;
    tdi_err_clear(&e);
    tdi_check_int(tdi_cfg_load(p, k, NKEYS, &e), 0, "cfg exactly 1 MiB of comments loads");
    write_comments(p, (size_t)TDI_CFG_MAX_BYTES + 1);
    snprintf(want, sizeof want, "%s: config larger than 1 MiB (1048577 bytes)", p);
    cfg_bad_file("1 MiB + 1 byte refused", p, TDI_ECONFIG, want);
    tpath(p, sizeof p, "2mb.yaml");
    write_comments(p, 2000000);
    snprintf(want, sizeof want, "%s: config larger than 1 MiB (2000000 bytes)", p);
    cfg_bad_file("2 MB file refused", p, TDI_ECONFIG, want);
    /* /dev/zero never ends: the read stops one byte past 1 MiB. The bound is that the call
     * returns at all; 5 s is >1000x the < 1 ms measured here, room for a loaded 2-core box. */
    double t0 = now_s();
    cfg_bad_file("/dev/zero refused", "/dev/zero", TDI_ECONFIG,
                 "/dev/zero: config larger than 1 MiB (read 1048577 bytes, not at the end)");
    double dt = now_s() - t0;
    char l[120];
    snprintf(l, sizeof l, "cfg /dev/zero refused in %.2f ms (< 5 s)", 1e3 * dt);
    tdi_check_le(dt, 5.0, l);
    tdi_err_clear(&e);
    tdi_check_int(cfg_load_pipe(4096, &e), 0, "cfg a pipe (/dev/fd/N) of 4 KB loads");
    tdi_err_clear(&e);
    tdi_check_int(cfg_load_pipe(2000000, &e), TDI_ECONFIG, "cfg a pipe of 2 MB refused");
    tdi_check_contains(e.msg, "config larger than 1 MiB (read 1048577 bytes", "cfg pipe message");
    cfg_bad_file("directory refused", g_dir, TDI_ECONFIG, "is a directory, not a config file");
    /* tdi_cfg_load_string has the same bound */
    char *big = malloc((size_t)TDI_CFG_MAX_BYTES + 2);
    if (big) {
        memset(big, '\n', (size_t)TDI_CFG_MAX_BYTES + 1);
        big[TDI_CFG_MAX_BYTES + 1] = '\0';
        cfg_schema(&v, k);
        tdi_err_clear(&e);
        tdi_check_int(tdi_cfg_load_string("s.yaml", big, k, NKEYS, &e), TDI_ECONFIG,
                      "cfg string of 1 MiB + 1 refused");
        tdi_check_contains(e.msg, "s.yaml: config larger than 1 MiB", "cfg string size message");
        free(big);
    }
}

/* "circuit:" (an ignored subtree) followed by n '[' on line 2 after two spaces. */
static char *cfg_brackets(size_t n)
{
    char *t = malloc(n + 32);
    if (!t)
        return NULL;
    int h = snprintf(t, 32, "seed: 1\ncircuit:\n  ");
    memset(t + h, '[', n);
    t[h + (int)n] = '\0';
    return t;
}

/* Depth bound: the root mapping is level 1; level 65 is refused at its own line:col. */
static void test_cfg_depth(void)
{
    char *t = cfg_brackets(63); /* levels 2..64, closed: "[[...[1]...]]" */
    if (t) {
        char *full = malloc(strlen(t) + 63 + 3);
        if (full) {
            sprintf(full, "%s1%.*s\n", t, 63, t + strlen(t) - 63);
            for (char *q = strrchr(full, '1') + 1; *q == '['; q++)
                *q = ']';
            cfg_bad("64 flow levels load", full, 0, "");
            free(full);
        }
        free(t);
    }
    /* 64 '[' on line 3 from column 3: the 64th, at column 3 + 63 = 66, opens level 65 */
    t = cfg_brackets(64);
    if (t) {
        cfg_bad("65 flow levels", t, TDI_ECONFIG,
                "c.yaml:3:66: nesting deeper than 64 levels");
        free(t);
    }
    /* block mappings: line j + 2 (j = 1..) is key "k" indented j spaces and opens level j + 1 */
    char blk[8192] = "seed: 1\ncircuit:\n";
    for (int j = 1; j <= 63; j++)
        snprintf(blk + strlen(blk), sizeof blk - strlen(blk), "%*sk:%s\n", j, "",
                 j == 63 ? " 1" : "");
    cfg_bad("64 block levels load", blk, 0, "");
    blk[strlen(blk) - 3] = '\n'; /* "k: 1\n" -> "k:\n" then one more key: level 65 */
    blk[strlen(blk) - 2] = '\0';
    snprintf(blk + strlen(blk), sizeof blk - strlen(blk), "%*sk: 1\n", 64, "");
    cfg_bad("65 block levels", blk, TDI_ECONFIG, "c.yaml:66:65: nesting deeper than 64 levels");
    /* 200,000 '[' cost minutes in libyaml's scanner (its simple-key walk is quadratic in the
     * flow depth); refused at level 65 they took 3 ms here. 5 s: >1000x that, for a loaded
     * 2-core machine; the uncapped parse would take ~70 s (docs/formats.md). */
    t = cfg_brackets(200000);
    if (t) {
        double t0 = now_s();
        cfg_bad("200k nested '['", t, TDI_ECONFIG, "c.yaml:3:66: nesting deeper than 64");
        double dt = now_s() - t0;
        char l[120];
        snprintf(l, sizeof l, "cfg 200k nested '[' refused in %.2f ms (< 5 s)", 1e3 * dt);
        tdi_check_le(dt, 5.0, l);
        free(t);
    }
}

/* Every shipped config passes the loader's bounds and grammar (each program's own tests check
 * its keys); the top-level keys here are the union over configs/ (ignored subtrees). */
static void test_cfg_shipped(void)
{
    static const char *const top[] = {"seed", "name", "out", "export", "substrate", "circuit",
                                      "cosim", "energy", "sweep", "data", "diffusion", "eval",
                                      "model", "sample", "train", "e2e", "tune"};
    enum { NTOP = sizeof top / sizeof top[0] };
    tdi_cfg_key k[NTOP];
    for (size_t i = 0; i < NTOP; i++)
        k[i] = (tdi_cfg_key){top[i], TDI_CFG_IGNORE, NULL, 0, 0, 0, NULL, NULL, 0};
    glob_t g;
    size_t ok = 0, n = 0;
    if (glob("configs/*.yaml", 0, NULL, &g) == 0) {
        n = g.gl_pathc;
        for (size_t i = 0; i < n; i++) {
            tdi_err e;
            tdi_err_clear(&e);
            int rc = tdi_cfg_load(g.gl_pathv[i], k, NTOP, &e);
            if (rc)
                printf("  %s: %s\n", g.gl_pathv[i], e.msg);
            ok += rc == 0;
        }
        globfree(&g);
    }
    TDI_CHECK(n >= 14, "cfg configs/*.yaml found (14 shipped)");
    tdi_check_int((long long)ok, (long long)n, "cfg every shipped config loads within the bounds");
}

static void test_cfg_preset(void)
{
    long seed = 0, a = 0, b = 0;
    tdi_cfg_key k[] = {
        {"seed", TDI_CFG_INT, &seed, 0, 100, 0, NULL, NULL, 0},
        {"circuit.a", TDI_CFG_INT, &a, 0, 100, 0, NULL, NULL, 0},
        {"cosim.b", TDI_CFG_INT, &b, 0, 100, 0, NULL, NULL, 0},
    };
    size_t n = sizeof k / sizeof k[0];
    tdi_err e;
    tdi_err_clear(&e);
    const char *good = "seed: 3\ncircuit:\n  a: 4\ncosim:\n  b: 5\n"
                       "substrate: {D: 64, garbage: [1, {x: y}]}\nsweep: {k: [1]}\n";
    tdi_check_int(tdi_cfg_load_preset("p.yaml", good, k, n, 1, &e), 0,
                  "preset: sections without table keys skipped");
    tdi_check_int(seed * 100 + a * 10 + b, 345, "preset: the table's keys read");
    TDI_CHECK(k[0].seen && k[1].seen && k[2].seen, "preset: seen flags copied back");
    tdi_check_int(tdi_cfg_load_preset("p.yaml", "seed: 1\n", k, n, 1, &e), 0,
                  "preset: second load");
    TDI_CHECK(k[0].seen && !k[1].seen && !k[2].seen, "preset: seen flags reset on reload");
    static const struct {
        const char *text, *where, *name;
    } bad[] = {
        {"circuit:\n  a: 1\n  zz: 2\n", "p.yaml:3:3: unknown key 'circuit.zz'",
         "preset: a section the table reads is checked in full"},
        {"cosim:\n  b: 1\n  engine: sde\n", "p.yaml:3:3: unknown key 'cosim.engine'",
         "preset: every section the table reads is checked"},
        {"seed: 1\nsubstrat: {D: 1}\n", "p.yaml:2:1: unknown key 'substrat'",
         "preset: misspelt section refused"},
        {"circuit:\n  a: 500\n", "p.yaml:2:6:", "preset: values range-checked"},
        {"circuit:\n  a: 1\n", "p.yaml: missing top-level key 'seed'",
         "preset: a required key missing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tdi_err_clear(&e);
        tdi_check_int(tdi_cfg_load_preset("p.yaml", bad[i].text, k, n, 1, &e), TDI_ECONFIG,
                      bad[i].name);
        tdi_check_contains(e.msg, bad[i].where, bad[i].name);
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/preset.yaml", g_dir);
    tdi_test_write(path, good);
    a = 0;
    tdi_check_int(tdi_cfg_load_preset(path, NULL, k, n, 1, &e), 0, "preset: from file");
    tdi_check_int(a, 4, "preset: from file, value");
}

static void test_err(void)
{
    tdi_err e;
    tdi_err_clear(&e);
    tdi_check_int(e.code, TDI_OK, "err clear");
    tdi_check_int(tdi_err_set(&e, TDI_EIO, "x %d", 3), TDI_EIO, "err set returns code");
    tdi_check_int(tdi_err_prefix(&e, "ctx %s", "a"), TDI_EIO, "err prefix keeps code");
    TDI_CHECK(strcmp(e.msg, "ctx a: x 3") == 0, "err prefix text");
    char longmsg[2000];
    memset(longmsg, 'z', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    tdi_err_set(&e, TDI_EIO, "%s", longmsg);
    tdi_err_prefix(&e, "p");
    TDI_CHECK(strlen(e.msg) < sizeof e.msg && strncmp(e.msg, "p: zzz", 6) == 0,
              "err prefix of a full message stays NUL-terminated, prefix first");
    tdi_check_int(tdi_err_set(NULL, TDI_ENUM, "ignored"), TDI_ENUM, "err set NULL ok");
}

/* the splitmix64 finaliser, written out again as the oracle of tdi_seed's formulas */
static uint64_t ref_fin(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* tdi_seed reproduces, purpose by purpose, the expression each caller used before it existed
 * (so every stream, hence every golden number, is unchanged); exact integer equality. */
static void test_seed(void)
{
    const uint64_t G = UINT64_C(0x9E3779B97F4A7C15), s = 12345;
    int ok = 1;
    for (uint64_t p = TDI_SEED_UNET_INIT; p <= TDI_SEED_UNET_BENCH; p++)
        for (uint64_t i = 0; i < 3; i++) {
            uint64_t z = s * G ^ (p << 48) ^ i;
            z = ref_fin(ref_fin(z + G) + G);
            ok &= tdi_seed(s, (tdi_seed_purpose)p, i) == (z & 0xffffffffu);
        }
    TDI_CHECK(ok, "seed: tdi-unet purposes = two splitmix64 steps of sG ^ purpose<<48 ^ index");
    uint64_t job = ref_fin(9 * G + 4 + 1) & 0xffffffffu;
    tdi_check_int((long long)tdi_seed(9, TDI_SEED_SWEEP_JOB, 4), (long long)job,
                  "seed: sweep job = splitmix64(sG + index + 1) folded to 32 bits");
    tdi_check_int((long long)tdi_seed(s, TDI_SEED_SWEEP_SYNTH, 2), (long long)(s * 7919 + 2),
                  "seed: sweep synthetic test split = s 7919 + 2");
    tdi_check_int((long long)tdi_seed(s, TDI_SEED_FIT_MLP, 1), (long long)(s * 2654435761u + 1),
                  "seed: tdi-fit encoder MLP = s 2654435761 + 1");
    TDI_CHECK(tdi_seed(s, TDI_SEED_FIT_BATCH, 0) == (s ^ G), "seed: tdi-fit batch order = s ^ G");
    tdi_check_int((long long)tdi_seed(s, TDI_SEED_GEN_LANCZOS, 1), (long long)(s + 1),
                  "seed: tdi-gen Lanczos on M^-1 = s + 1");
    tdi_check_int((long long)tdi_seed(s, TDI_SEED_GEN_LOWRANK, 1), (long long)(s * 2 + 1 + 7),
                  "seed: tdi-gen decoder low-rank = 2 s + module + 7");
    TDI_CHECK(tdi_seed(s, TDI_SEED_COSIM_NOISE, 0) == s * G + 5, "seed: cosim noise = s G + 5");
    TDI_CHECK(tdi_seed(s, TDI_SEED_UNET_STEP, 7) != tdi_seed(s, TDI_SEED_UNET_PERM, 7) &&
                  tdi_seed(s, TDI_SEED_UNET_STEP, 7) != tdi_seed(s, TDI_SEED_UNET_STEP, 8),
              "seed: purposes and indices give different streams");
}

/* tdi_buf: growth across many appends equals the text written in one go; embedded NULs kept. */
static void test_buf(void)
{
    tdi_buf b = {0};
    char *empty = tdi_buf_take(&b);
    TDI_CHECK(empty && empty[0] == '\0' && b.s == NULL, "buf: take of an empty buffer is \"\"");
    free(empty);
    size_t want = 0;
    for (int i = 0; i < 5000; i++) { /* 5000 lines cross many doublings from 256 bytes */
        tdi_buf_printf(&b, "line %d %.17g\n", i, i / 7.0);
        want += (size_t)snprintf(NULL, 0, "line %d %.17g\n", i, i / 7.0);
    }
    tdi_check_int((long long)b.len, (long long)want, "buf: length after 5000 printf appends");
    TDI_CHECK(b.len < b.cap && b.s[b.len] == '\0' && strncmp(b.s, "line 0 0\nline 1 ", 16) == 0,
              "buf: NUL-terminated, first lines in order");
    char last[64];
    snprintf(last, sizeof last, "line 4999 %.17g\n", 4999 / 7.0);
    TDI_CHECK(strcmp(b.s + b.len - strlen(last), last) == 0, "buf: last line intact");
    tdi_buf_destroy(&b);
    tdi_buf_append(&b, "ab\0cd", 5);
    tdi_buf_printf(&b, "%s", "ef");
    TDI_CHECK(b.len == 7 && memcmp(b.s, "ab\0cdef", 8) == 0 && !b.oom,
              "buf: append keeps embedded NUL bytes");
    char *t = tdi_buf_take(&b);
    TDI_CHECK(t && t[6] == 'f' && b.s == NULL && b.len == 0, "buf: take hands over, b empty");
    free(t);
    tdi_buf_destroy(NULL);
}


/* The descriptor of the open file whose /proc/self/fd link is path; -1 if none. */
static int fd_of(const char *path)
{
    char abs[PATH_MAX], link[64], got[PATH_MAX];
    if (!realpath(".", abs) || strlen(abs) + strlen(path) + 2 > sizeof abs)
        return -1;
    strcat(strcat(abs, "/"), path);
    for (int fd = 3; fd < 1024; fd++) {
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, got, sizeof got - 1);
        if (n <= 0)
            continue;
        got[n] = '\0';
        if (!strcmp(got, abs))
            return fd;
    }
    return -1;
}

/* A full disk: the temporary's descriptor is swapped for /dev/full (ENOSPC on every write),
 * with bytes beyond stdio's buffer (the write fails inside fwrite, seen at commit as ferror)
 * and with a few bytes (the write fails at commit's flush). Both must say ENOSPC's text, name
 * the file and leave nothing behind. */
static void full_disk_case(size_t nbytes, const char *label)
{
    tdi_err e;
    tdi_err_clear(&e);
    char p[512], name[128];
    tpath(p, sizeof p, "full.bin");
    tdi_atomic_file af;
    if (!TDI_CHECK(tdi_atomic_open(&af, p, &e) == 0, "full disk: atomic open"))
        return;
    int fd = fd_of(af.tmp), full = open("/dev/full", O_WRONLY);
    snprintf(name, sizeof name, "full disk (%s): temporary descriptor found, /dev/full opened",
             label);
    if (!TDI_CHECK(fd >= 0 && full >= 0 && dup2(full, fd) == fd, name)) {
        tdi_atomic_abort(&af);
        return;
    }
    close(full);
    for (size_t i = 0; i < nbytes; i++)
        fputc('x', af.f);
    snprintf(name, sizeof name, "full disk (%s): commit fails", label);
    tdi_check_int(tdi_atomic_commit(&af, &e), TDI_EIO, name);
    snprintf(name, sizeof name, "full disk (%s): message has strerror(ENOSPC)", label);
    tdi_check_contains(e.msg, "No space left on device", name);
    snprintf(name, sizeof name, "full disk (%s): message names the file", label);
    tdi_check_contains(e.msg, "full.bin", name);
    struct stat st;
    snprintf(name, sizeof name, "full disk (%s): no file appears", label);
    TDI_CHECK(stat(p, &st) != 0, name);
}

static void test_err_causes(void)
{
    full_disk_case(200000, "write inside fwrite");
    full_disk_case(10, "write at flush");
    /* a message longer than the buffer keeps its cause: the path is cut in the middle */
    char longp[2100];
    memset(longp, 'd', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    memcpy(longp, "/nonexistent/", 13);
    memcpy(longp + sizeof longp - 10, "/tail.npy", 10);
    tdi_err e;
    tdi_err_clear(&e);
    tdi_atomic_file af;
    tdi_check_int(tdi_atomic_open(&af, longp, &e), TDI_EARG, "2,099-byte path refused, not cut");
    tdi_check_contains(e.msg, "refusing it rather than cutting it",
                       "2,099-byte path: message keeps its reason");
    tdi_err_set(&e, TDI_EIO, "%s: cannot create %s: %s", longp, longp, strerror(ENOSPC));
    size_t n = strlen(e.msg);
    TDI_CHECK(n < sizeof e.msg && n > 900, "long message fills the buffer without overflow");
    TDI_CHECK(n >= 23 && !strcmp(e.msg + n - 23, "No space left on device"),
              "long message ends with its cause");
    tdi_check_contains(e.msg, "/nonexistent/ddd", "long message keeps the path's head");
    tdi_check_contains(e.msg, "ail.npy: cannot create", "long message keeps the path's tail");
    tdi_check_contains(e.msg, "d/tail.npy: No space",
                       "long message keeps the second path's tail");
    tdi_check_contains(e.msg, "...", "long message marks the cut");
    tdi_err_prefix(&e, "%s: while writing", longp);
    n = strlen(e.msg);
    TDI_CHECK(n >= 23 && !strcmp(e.msg + n - 23, "No space left on device"),
              "prefixed long message still ends with its cause");
    /* a path that fits, in a directory that does not exist: file and errno text */
    char p[512];
    tpath(p, sizeof p, "no-such-dir/x.txt");
    tdi_check_int(tdi_atomic_write_text(p, "x", &e), TDI_EIO, "write into a missing dir fails");
    tdi_check_contains(e.msg, "No such file or directory", "missing dir: strerror in message");
    tdi_check_contains(e.msg, "no-such-dir/x.txt", "missing dir: message names the file");
}

/* Bounded reads: a sparse file one byte over the limit, an endless stream, a file at it. */
static void test_read_bounded(void)
{
    tdi_err e;
    tdi_err_clear(&e);
    char p[512];
    tpath(p, sizeof p, "sparse.big");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    int made = fd >= 0 && ftruncate(fd, (off_t)TDI_READ_MAX_TEXT + 1) == 0;
    if (fd >= 0)
        close(fd);
    if (!TDI_CHECK(made, "sparse file of 16 MiB + 1 made"))
        return;
    char *buf = NULL;
    size_t n = 0;
    tdi_check_int(tdi_file_read_all(p, &buf, &n, &e), TDI_EFORMAT,
                  "read_all of 16 MiB + 1 bytes refused");
    tdi_check_contains(e.msg, "sparse.big: larger than 16777216 bytes",
                       "oversized file: message names the file and the limit");
    TDI_CHECK(buf == NULL, "oversized file: *buf stays NULL");
    tdi_check_int(tdi_file_read_max(p, (size_t)TDI_READ_MAX_TEXT + 1, &buf, &n, &e), 0,
                  "the same file under a limit of its size is read");
    tdi_check_int((long long)n, (long long)TDI_READ_MAX_TEXT + 1, "bytes read at the limit");
    free(buf);
    buf = NULL;
    unlink(p);
    tdi_check_int(tdi_file_read_max("/dev/zero", 4096, &buf, &n, &e), TDI_EFORMAT,
                  "endless /dev/zero refused at a 4096-byte limit");
    tdi_check_contains(e.msg, "/dev/zero: larger than 4096 bytes", "/dev/zero: message");
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "build/tc.XXXXXX");
    mkdir("build", 0777);
    if (!mkdtemp(g_dir)) {
        printf("FAIL cannot create a temp dir under build/: %s\n", strerror(errno));
        return 1;
    }
    test_err();
    test_seed();
    test_buf();
    test_hash();
    test_read_all_mkdirs();
    test_err_causes();
    test_read_bounded();
    test_atomic();
    test_dir_tx();
    test_dir_refuse();
    test_npy_roundtrip();
    test_npy_corrupt();
    test_npy_huge_shapes();
    test_npy_load();
    test_npy_directory();
    test_npy_numpy();
    test_cfg_good();
    test_cfg_bad();
    test_cfg_preset();
    test_cfg_locate();
    test_cli();
    test_cfg_size();
    test_cfg_depth();
    test_cfg_shipped();
    if (!tdi_test_fail_)
        tdi_dir_abort(g_dir); /* keep the files of a failed run for inspection */
    TDI_TEST_END();
}
