/* tdi_io: all-or-nothing output and content hashes.
 * Files: written to "<path>.tmp.<pid>", flushed, fsync'd, then renamed over <path>.
 * Directories (bundles): built in "<dir>.tmp.<pid>", then swapped in by rename, only over a
 * directory tdi wrote (marker file TDI_DIR_MARKER) or an empty one: never over user data.
 * Hash: 64-bit FNV-1a, printed as 16 lower-case hex digits. Non-goal: crypto strength. */
#ifndef TDI_IO_H
#define TDI_IO_H

#include <stdint.h>
#include <stdio.h>

#include "tdi_err.h"

typedef struct tdi_atomic_file {
    FILE *f;         /* write here (a stream over sink: no fileno) */
    char path[1024]; /* final path */
    char tmp[1100];  /* temporary path */
    void *sink;      /* the file descriptor and the errno of the first failed write(2), kept
                        so that a full disk is reported as ENOSPC at commit, not as EIO */
} tdi_atomic_file;

/* Opens a temporary file beside path. On success af->f is open for writing ("wb"). */
int tdi_atomic_open(tdi_atomic_file *af, const char *path, tdi_err *err);
/* Flushes, fsyncs, closes and renames the temporary onto the final path. On any failure
 * (including an earlier ferror on af->f) the temporary is removed and nothing appears; the
 * message is "<path>: <step> failed: <strerror of the first failure>" (a write that failed
 * before commit keeps its own errno, e.g. "No space left on device"). */
int tdi_atomic_commit(tdi_atomic_file *af, tdi_err *err);
/* Closes and removes the temporary; safe to call after a failed commit or twice. */
void tdi_atomic_abort(tdi_atomic_file *af);
/* Writes the string text to path atomically (open, write, commit). */
int tdi_atomic_write_text(const char *path, const char *text, tdi_err *err);

/* Directory transactions: tdi_dir_begin creates an empty "<dir>.tmp.<pid>" holding only the
 * marker file TDI_DIR_MARKER and returns its path in tmp (size tmpsz). tdi_dir_commit lists the
 * files in the marker and replaces dir with the temporary (an existing dir is moved aside and
 * deleted after the rename). tdi_dir_abort deletes the temporary tree.
 * Replace only what tdi wrote: both begin and commit refuse (TDI_EIO, nothing written) an
 * existing dir unless tdi_dir_check accepts it. */
#define TDI_DIR_MARKER ".tdi-output"
/* 0 when dir may be replaced by a tdi output directory: it does not exist, is an empty
 * directory, or is a directory of regular files that tdi wrote (the marker lists every entry,
 * or, for output of tdi versions before the marker, it is a substrate or activation bundle,
 * a netlist set or a cosim output recognised by its manifest or headers, holding only the file
 * names those write). Anything else (a regular file, a symlink, a directory holding a file tdi
 * did not write) is TDI_EIO with a message naming dir and the reason. Programs call it before
 * their work, so that a refusal comes at once. */
int tdi_dir_check(const char *dir, tdi_err *err);
int tdi_dir_begin(const char *dir, char *tmp, size_t tmpsz, tdi_err *err);
int tdi_dir_commit(const char *tmp, const char *dir, tdi_err *err);
void tdi_dir_abort(const char *tmp);

/* Reads a whole file of at most max bytes into a malloc'd buffer (NUL-terminated, size
 * excludes the NUL). A longer file (or an endless stream such as /dev/zero) is TDI_EFORMAT
 * "<path>: larger than <max> bytes (...)", read no further than max + 1 bytes. Caller frees
 * *buf. */
int tdi_file_read_max(const char *path, size_t max, char **buf, size_t *size, tdi_err *err);
/* tdi_file_read_max with max = TDI_READ_MAX_TEXT: manifests, markers, JSON, small tables. */
int tdi_file_read_all(const char *path, char **buf, size_t *size, tdi_err *err);
/* Limits (bytes): small text (manifests: a few kB today; 16 MiB); logs and tables of a run
 * (ngspice logs, results.csv: a few MB today; 256 MiB); U-Net checkpoints are bounded by their
 * reader (tools/unet/tdi_unet_ckpt.c). */
#define TDI_READ_MAX_TEXT ((size_t)16 << 20)
#define TDI_READ_MAX_LOG ((size_t)256 << 20)

/* FNV-1a 64. Start with TDI_HASH_INIT, feed bytes, format with tdi_hash_hex (17-byte buffer). */
#define TDI_HASH_INIT UINT64_C(0xcbf29ce484222325)
uint64_t tdi_hash_bytes(uint64_t h, const void *data, size_t n);
int tdi_hash_file(const char *path, uint64_t *out, tdi_err *err);
/* Feeds a file's bytes into a running hash *h (for hashes over several files, e.g. a bundle's
 * manifest + arrays); *h is unchanged on error. */
int tdi_hash_file_feed(const char *path, uint64_t *h, tdi_err *err);
void tdi_hash_hex(uint64_t h, char out[17]);

/* mkdir -p; 0 if it exists already. */
int tdi_mkdirs(const char *path, tdi_err *err);

#endif
