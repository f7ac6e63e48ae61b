/* tdi_err: the one error type of tdi. Library functions return 0 or a negative TDI_E* code and
 * put a human-readable message (with file:line:col where one exists) into a caller-owned tdi_err.
 * Non-goal: no exit()/abort() here; mains decide how to die. */
#ifndef TDI_ERR_H
#define TDI_ERR_H

#include <stddef.h>

enum {
    TDI_OK = 0,
    TDI_EIO = -1,      /* file missing, unreadable, short read/write, rename failed */
    TDI_EFORMAT = -2,  /* file content malformed: bad magic, truncated, wrong dtype/shape */
    TDI_ECONFIG = -3,  /* YAML syntax error, unknown key, value out of range */
    TDI_ENUM = -4,     /* NaN/Inf, matrix not positive definite, divergence */
    TDI_ENOMEM = -5,   /* allocation failed */
    TDI_ESPICE = -6,   /* ngspice reported an error or a run failed */
    TDI_EARG = -7      /* caller passed inconsistent arguments */
};

typedef struct tdi_err {
    int code;       /* last code set, TDI_OK when none */
    char msg[1024]; /* NUL-terminated message */
} tdi_err;

void tdi_err_clear(tdi_err *e);
/* Messages longer than msg keep their end (the cause): the longest words (paths) are cut in
 * the middle ("...") first, keeping 8 characters at each end of a cut word. */
/* Sets e->code and formats the message; returns code so callers can `return tdi_err_set(...)`.
 * e may be NULL. */
int tdi_err_set(tdi_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "prefix: " to an existing message (keeps the code). Returns e->code. */
int tdi_err_prefix(tdi_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
