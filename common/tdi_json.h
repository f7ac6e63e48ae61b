/* tdi_json: every JSON file tdi writes is built and encoded here, through jansson (the one adapter
 * file of jansson.h is tdi_json.c). Strings are escaped by jansson; a NaN or infinite number is
 * written as null; reals carry 17 significant digits (jansson's JSON_REAL_PRECISION(17)), so a
 * reader gets the exact double back. Files go through tdi_atomic_write_text (temporary, rename).
 * Non-goals: reading JSON (tests read it back with jansson directly), pretty-printing options. */
#ifndef TDI_JSON_H
#define TDI_JSON_H

#include <stddef.h>

#include "tdi_err.h"

/* A JSON object or array under construction (opaque). The root is made by tdi_json_object and
 * freed by tdi_json_free; children belong to their parent (never freed by the caller). */
typedef struct tdi_json tdi_json;

/* One member of an object: build with the macros below (they convert the value to the type). */
enum { TDI_JSON_REAL, TDI_JSON_INT, TDI_JSON_STR, TDI_JSON_BOOL, TDI_JSON_NULL, TDI_JSON_COUNT };
typedef struct tdi_json_kv {
    const char *key;
    int type;     /* TDI_JSON_* */
    double r;     /* TDI_JSON_REAL: NaN or +-Inf is written as null; TDI_JSON_COUNT: a count held
                     in a double, written as an integer when it is one below 2^53 */
    long long i;  /* TDI_JSON_INT, TDI_JSON_BOOL (0 or 1) */
    const char *s; /* TDI_JSON_STR: UTF-8, any characters (escaped on output) */
} tdi_json_kv;
#define TDI_JR(k, v) {(k), TDI_JSON_REAL, (double)(v), 0, NULL}
#define TDI_JC(k, v) {(k), TDI_JSON_COUNT, (double)(v), 0, NULL}
#define TDI_JI(k, v) {(k), TDI_JSON_INT, 0.0, (long long)(v), NULL}
#define TDI_JS(k, v) {(k), TDI_JSON_STR, 0.0, 0, (v)}
#define TDI_JB(k, v) {(k), TDI_JSON_BOOL, 0.0, (v) ? 1 : 0, NULL}
#define TDI_JNULL(k) {(k), TDI_JSON_NULL, 0.0, 0, NULL}
#define TDI_JSON_N(kv) (sizeof(kv) / sizeof((kv)[0]))

/* A new empty root object; NULL when out of memory. */
tdi_json *tdi_json_object(void);
void tdi_json_free(tdi_json *root);

/* A new empty object or array as member key of the object parent, or appended to the array
 * parent (key ignored); returns it (owned by parent), NULL when out of memory or parent NULL. */
tdi_json *tdi_json_add_object(tdi_json *parent, const char *key);
tdi_json *tdi_json_add_array(tdi_json *parent, const char *key);

/* Sets the members kv[0..n-1] of the object o in that order (a key already present is
 * replaced); 0, or TDI_ENOMEM when o is NULL or an allocation failed (or a string is not
 * UTF-8). Builders chain these with || and turn a nonzero result into one error. */
int tdi_json_set(tdi_json *o, const tdi_json_kv *kv, size_t n);
/* Appends the values of kv[0..n-1] (keys ignored) to the array a; 0 or TDI_ENOMEM. */
int tdi_json_push(tdi_json *a, const tdi_json_kv *kv, size_t n);

/* The text of root (caller frees *text) and the file: objects and arrays nested less than
 * expand levels deep hold one member per line (2-space indent), deeper ones sit on one line
 * ("key": value, ", " between members), so each row of a table stays greppable on its line.
 * Ends with a newline. Errors: TDI_ENOMEM "<what>: JSON encoding failed"; the write's own
 * errors name path. */
int tdi_json_dump(const tdi_json *root, int expand, char **text, const char *what,
                  tdi_err *err);
int tdi_json_write(const char *path, const tdi_json *root, int expand, tdi_err *err);

#endif
