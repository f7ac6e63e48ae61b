/* tdi_test: the one test harness. Each check prints one line "PASS|FAIL name: observed ...
 * expected ... (tol ...)" with %.17g; a test program ends with TDI_TEST_END, which prints
 * "summary: P passed, F failed" and makes the exit status the verdict. tests/run.sh adds the
 * summaries of all test programs and prints the final "N passed, N failed". */
#ifndef TDI_TEST_H
#define TDI_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tdi_io.h"

static int tdi_test_pass_, tdi_test_fail_;

static inline int tdi_test_report_(int ok, const char *name, const char *detail)
{
    if (ok)
        tdi_test_pass_++;
    else
        tdi_test_fail_++;
    printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", name, detail[0] ? ": " : "", detail);
    fflush(stdout);
    return ok;
}

/* A boolean check; the expression text is the detail. */
#define TDI_CHECK(cond, name) tdi_test_report_(!!(cond), (name), #cond)

/* |obs - exp| <= tol (absolute). NaN fails. */
static inline int tdi_check_near(double obs, double exp, double tol, const char *name)
{
    char d[256];
    int ok = isfinite(obs) && fabs(obs - exp) <= tol;
    snprintf(d, sizeof d, "observed %.17g expected %.17g (abs tol %.3g)", obs, exp, tol);
    return tdi_test_report_(ok, name, d);
}

/* |obs - exp| <= rtol * max(|exp|, tiny). */
static inline int tdi_check_rel(double obs, double exp, double rtol, const char *name)
{
    char d[256];
    double scale = fabs(exp) > 1e-300 ? fabs(exp) : 1e-300;
    int ok = isfinite(obs) && fabs(obs - exp) <= rtol * scale;
    snprintf(d, sizeof d, "observed %.17g expected %.17g (rel tol %.3g)", obs, exp, rtol);
    return tdi_test_report_(ok, name, d);
}

/* obs <= bound. */
static inline int tdi_check_le(double obs, double bound, const char *name)
{
    char d[256];
    int ok = isfinite(obs) && obs <= bound;
    snprintf(d, sizeof d, "observed %.17g bound <= %.17g", obs, bound);
    return tdi_test_report_(ok, name, d);
}

/* Integer equality. */
static inline int tdi_check_int(long long obs, long long exp, const char *name)
{
    char d[128];
    snprintf(d, sizeof d, "observed %lld expected %lld", obs, exp);
    return tdi_test_report_(obs == exp, name, d);
}

/* The string hay contains needle (for error messages: file names, line:col). */
static inline int tdi_check_contains(const char *hay, const char *needle, const char *name)
{
    char d[1400];
    int ok = hay && needle && strstr(hay, needle) != NULL;
    snprintf(d, sizeof d, "\"%.1200s\" should contain \"%s\"", hay ? hay : "(null)",
             needle ? needle : "(null)");
    return tdi_test_report_(ok, name, d);
}

/* A whole file as a malloc'd NUL-terminated string, or NULL if it cannot be read. */
static inline char *tdi_test_slurp(const char *path)
{
    char *b = NULL;
    size_t n;
    tdi_err e;
    if (tdi_file_read_all(path, &b, &n, &e))
        return NULL;
    return b;
}

/* Writes text to path (a fixture); 0, or -1 when the file cannot be written. */
static inline int tdi_test_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int bad = fputs(text, f) < 0;
    return fclose(f) || bad ? -1 : 0;
}

/* max over i < n of |a[i] - s b[i]| (e.g. a read-back K against gu M); 0 when n is 0 */
static inline double tdi_test_max_diff(const double *a, double s, const double *b, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++)
        w = fmax(w, fabs(a[i] - s * b[i]));
    return w;
}

/* rc == 0 (a call that must succeed); on failure the error message follows the FAIL line. */
static inline int tdi_check_ok(int rc, const tdi_err *e, const char *name)
{
    int ok = tdi_check_int(rc, 0, name);
    if (!ok)
        printf("    %s\n", e->msg);
    return ok;
}

/* The value at path in a JSON text, parsed with jansson (the library tdi writes JSON with):
 * path is member names and array indices joined by '.', e.g. "rows.sde.cos_centered" or
 * "supply_measured.sources.0.P_W"; NULL when the text is not JSON or path is missing. Caller
 * json_decref's *doc (the parsed text) after using the value. */
static inline json_t *tdi_test_json_at(const char *txt, const char *path, json_t **doc)
{
    *doc = txt ? json_loads(txt, 0, NULL) : NULL;
    json_t *v = *doc;
    char seg[128];
    for (const char *p = path; v && p && *p;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(seg, sizeof seg, "%.*s", (int)n, p);
        v = json_is_array(v) ? json_array_get(v, strtoul(seg, NULL, 10)) : json_object_get(v, seg);
        p = dot ? dot + 1 : NULL;
    }
    return v;
}

/* The number at path (tdi_test_json_at); NAN when missing, null or not a number. */
static inline double tdi_test_json_num(const char *txt, const char *path)
{
    json_t *doc, *v = tdi_test_json_at(txt, path, &doc);
    double x = json_is_number(v) ? json_number_value(v) : NAN;
    json_decref(doc);
    return x;
}

/* 1 when the value at path is the string want (also: the text is JSON). */
static inline int tdi_test_json_str_is(const char *txt, const char *path, const char *want)
{
    json_t *doc, *v = tdi_test_json_at(txt, path, &doc);
    int eq = json_is_string(v) && strcmp(json_string_value(v), want) == 0;
    json_decref(doc);
    return eq;
}

/* The index of the first element of the array at path whose member key is the string want;
 * -1 when there is none (or the text is not JSON). */
static inline int tdi_test_json_find(const char *txt, const char *path, const char *key,
                                     const char *want)
{
    json_t *doc, *a = tdi_test_json_at(txt, path, &doc), *v;
    size_t i;
    int at = -1;
    json_array_foreach(a, i, v) {
        json_t *m = json_object_get(v, key);
        if (at < 0 && json_is_string(m) && strcmp(json_string_value(m), want) == 0)
            at = (int)i;
    }
    json_decref(doc);
    return at;
}

/* 1 when the value at path exists (null included) and the text is JSON. */
static inline int tdi_test_json_has(const char *txt, const char *path)
{
    json_t *doc, *v = tdi_test_json_at(txt, path, &doc);
    json_decref(doc);
    return v != NULL;
}

#define TDI_TEST_END()                                                                         \
    do {                                                                                       \
        printf("summary: %d passed, %d failed\n", tdi_test_pass_, tdi_test_fail_);            \
        return tdi_test_fail_ ? 1 : 0;                                                         \
    } while (0)

#endif
