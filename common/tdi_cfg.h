/* tdi_cfg: YAML configuration through a schema. A config is a YAML mapping, possibly nested;
 * each leaf is addressed by its dotted path ("train.lr"). The caller fills a table of
 * tdi_cfg_key entries pointing at its own struct fields (already set to defaults) and calls
 * tdi_cfg_load: every leaf must match a key (unknown keys are errors), every value must parse
 * and lie within [min, max]. Errors carry "file:line:col" (1-based) of the offending node.
 * Details: a path may appear only once (duplicates are errors); numbers and booleans must be
 * plain (unquoted) scalars, booleans case-insensitive; an empty file keeps all defaults; a
 * mapping is only accepted where schema keys lie below it; seen is reset to 0 on each load.
 * Non-goals: anchors/aliases/tags (rejected), multi-document files, writing YAML (use
 * tdi_cfg_dump for the canonical form that config hashes are taken from). */
#ifndef TDI_CFG_H
#define TDI_CFG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tdi_err.h"

typedef enum {
    TDI_CFG_INT,     /* long;   range [min, max] */
    TDI_CFG_DOUBLE,  /* double; range [min, max], finite */
    TDI_CFG_BOOL,    /* int 0/1; true/false/yes/no/on/off */
    TDI_CFG_STRING,  /* char[size]; too long is an error; if choices != NULL, must be one of
                        the '|'-separated words, e.g. "rc|rlc" */
    TDI_CFG_NAME,    /* char[size]; a name (preset `name:`): tdi_cfg_name_ok, else an error at
                        the value's file:line:col */
    TDI_CFG_DLIST,   /* double list: YAML sequence (or a single scalar) into double[cap];
                        count written to *nout; each element in [min, max] */
    TDI_CFG_ILIST,   /* long list: like DLIST, into long[cap] */
    TDI_CFG_IGNORE   /* a whole subtree owned by another component (e.g. "circuit" read by
                        tdi-fit): skipped, not checked; dst may be NULL. Keys of the table
                        below it are still read (a component may read a few keys of another's
                        section: IGNORE "energy" plus "energy.adc_fom") */
} tdi_cfg_type;

typedef struct tdi_cfg_key {
    const char *path;    /* dotted path, e.g. "train.lr" */
    tdi_cfg_type type;
    void *dst;           /* long*, double*, int*, char*, double*, long* */
    double min, max;     /* range for numbers (inclusive); min == max == 0 means unbounded;
                            ignored for strings/bools */
    size_t size;         /* STRING: buffer size; DLIST/ILIST: capacity (elements) */
    size_t *nout;        /* DLIST/ILIST: number of elements read */
    const char *choices; /* STRING only, may be NULL */
    int seen;            /* set to 1 by tdi_cfg_load when the key appeared */
} tdi_cfg_key;

/* Names (presets) go into file names, CSV cells, netlist comments and plot legends: 1 to
 * TDI_CFG_NAME_MAX characters from [A-Za-z0-9._-], not starting with '.' or '-' (docs/formats.md).
 * Returns 1 when s is such a name. */
#define TDI_CFG_NAME_MAX 63
#define TDI_CFG_NAME_SET "A-Z a-z 0-9 . _ -"
int tdi_cfg_name_ok(const char *s);

/* Resource bounds (docs/formats.md, "Config files"): a config holds at most TDI_CFG_MAX_BYTES
 * (1 MiB, ~170x the largest shipped config, configs/paper.yaml at 6 KB); longer input, or an
 * endless one such as /dev/zero, is "<name>: config larger than 1 MiB". Mappings and sequences
 * nest at most TDI_CFG_MAX_DEPTH levels (the root mapping is level 1; shipped configs use at most 3), deeper is
 * "<name>:line:col: nesting deeper than 64 levels". Pipes and devices are read (bounded),
 * directories refused. */
#define TDI_CFG_MAX_BYTES (1L << 20)
#define TDI_CFG_MAX_DEPTH 64

/* Parses path and applies it to keys[0..n). On error nothing is guaranteed about dst values. */
int tdi_cfg_load(const char *path, tdi_cfg_key *keys, size_t n, tdi_err *err);
/* Same from a string; name is used in error messages instead of a path. */
int tdi_cfg_load_string(const char *name, const char *text, tdi_cfg_key *keys, size_t n,
                        tdi_err *err);
/* A preset file (configs/paper.yaml) holds the sections of every program: seed, name and out at
 * the top, then these sections, each owned by one component (NULL-terminated list). */
extern const char *const tdi_cfg_preset_sections[];
/* Loads a preset (from the file name, or from text when text != NULL, name naming it in
 * errors): like tdi_cfg_load, but each preset section that no key of the table lies in is
 * skipped as TDI_CFG_IGNORE (it belongs to another program). The sections the table reads are
 * checked in full, and a top-level key that is neither a preset section nor in the table is an
 * error (a misspelt section is not skipped). The first n_required keys of the table are
 * top-level keys the file must give (e.g. seed, name, out): "missing top-level key" if not. */
int tdi_cfg_load_preset(const char *name, const char *text, tdi_cfg_key *keys, size_t n,
                        size_t n_required, tdi_err *err);
/* Writes "path: value" lines for every key in table order (canonical form: %ld for ints,
 * %.17g for doubles, true/false, strings unquoted, lists as [a, b]); TDI_CFG_IGNORE entries are
 * left out (they belong to another component). Used for hashes and for manifests. */
void tdi_cfg_dump(FILE *f, const tdi_cfg_key *keys, size_t n);
/* FNV-1a 64 of the canonical dump. */
uint64_t tdi_cfg_hash(const tdi_cfg_key *keys, size_t n);

/* After a successful load: "path:line:col" (1-based, of the key) of the dotted key in the file
 * path into buf[n], or just "path" when the file does not set it (a default). For messages about
 * values checked after loading (e.g. a tick count derived from several keys). */
void tdi_cfg_locate(const char *path, const char *key, char *buf, size_t n);

#endif
