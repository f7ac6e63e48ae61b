/* tdi_json: JSON building and encoding through jansson (see tdi_json.h). A tdi_json handle is a
 * jansson json_t (object or array); the layout's outer levels are written here, every key, string
 * and number by json_dumps. Non-goal: a JSON reader. */
#include "tdi_json.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tdi_io.h"

/* jansson's number format: "%.17g" (a ".0" added to integral values), the exact double */
#define JSON_FLAGS (JSON_ENCODE_ANY | JSON_REAL_PRECISION(17))

static json_t *J(const tdi_json *j) { return (json_t *)j; }

tdi_json *tdi_json_object(void) { return (tdi_json *)json_object(); }

void tdi_json_free(tdi_json *root) { json_decref(J(root)); }

/* v stolen; on failure freed */
static int add(json_t *parent, const char *key, json_t *v)
{
    int rc = -1;
    if (parent && v && json_is_object(parent))
        rc = json_object_set_new(parent, key, v);
    else if (parent && v && json_is_array(parent))
        rc = json_array_append_new(parent, v);
    else
        json_decref(v);
    return rc ? TDI_ENOMEM : 0;
}

static tdi_json *add_child(tdi_json *parent, const char *key, json_t *v)
{
    return add(J(parent), key, v) ? NULL : (tdi_json *)v;
}

tdi_json *tdi_json_add_object(tdi_json *parent, const char *key)
{
    return add_child(parent, key, json_object());
}

tdi_json *tdi_json_add_array(tdi_json *parent, const char *key)
{
    return add_child(parent, key, json_array());
}

static json_t *real_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *kv_value(const tdi_json_kv *kv)
{
    switch (kv->type) {
    case TDI_JSON_REAL: return real_or_null(kv->r);
    case TDI_JSON_COUNT:
        return kv->r == floor(kv->r) && fabs(kv->r) < 0x1p53 ? json_integer((json_int_t)kv->r)
                                                              : real_or_null(kv->r);
    case TDI_JSON_INT: return json_integer((json_int_t)kv->i);
    case TDI_JSON_STR: return kv->s ? json_string(kv->s) : json_null();
    case TDI_JSON_BOOL: return json_boolean(kv->i);
    default: return json_null();
    }
}

int tdi_json_set(tdi_json *o, const tdi_json_kv *kv, size_t n)
{
    if (!o || !json_is_object(J(o)))
        return TDI_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (add(J(o), kv[i].key, kv_value(&kv[i])))
            return TDI_ENOMEM;
    return 0;
}

int tdi_json_push(tdi_json *a, const tdi_json_kv *kv, size_t n)
{
    if (!a || !json_is_array(J(a)))
        return TDI_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (add(J(a), NULL, kv_value(&kv[i])))
            return TDI_ENOMEM;
    return 0;
}

/* ------------------------------------------------------------------ encoding */
/* json_dumps of v onto f; -1 when jansson fails */
static int put_dumped(FILE *f, const json_t *v)
{
    char *s = json_dumps(v, JSON_FLAGS);
    if (!s)
        return -1;
    fputs(s, f);
    free(s);
    return 0;
}

static int put_key(FILE *f, const char *key)
{
    json_t *k = json_string(key);
    int rc = k ? put_dumped(f, k) : -1;
    json_decref(k);
    fputs(": ", f);
    return rc;
}

/* v at nesting level lvl: expanded (one member per line) while lvl < expand */
static int put_value(FILE *f, const json_t *v, int lvl, int expand)
{
    int obj = json_is_object(v);
    size_t n = obj ? json_object_size(v) : json_is_array(v) ? json_array_size(v) : 0;
    if (lvl >= expand || n == 0)
        return put_dumped(f, v);
    fputs(obj ? "{\n" : "[\n", f);
    int rc = 0;
    size_t i = 0;
    const char *key;
    json_t *m;
    if (obj) {
        json_object_foreach((json_t *)v, key, m) {
            fprintf(f, "%*s", 2 * (lvl + 1), "");
            rc |= put_key(f, key) | put_value(f, m, lvl + 1, expand);
            fputs(++i < n ? ",\n" : "\n", f);
        }
    } else {
        json_array_foreach(v, i, m) {
            fprintf(f, "%*s", 2 * (lvl + 1), "");
            rc |= put_value(f, m, lvl + 1, expand);
            fputs(i + 1 < n ? ",\n" : "\n", f);
        }
    }
    fprintf(f, "%*s%c", 2 * lvl, "", obj ? '}' : ']');
    return rc;
}

int tdi_json_dump(const tdi_json *root, int expand, char **text, const char *what, tdi_err *err)
{
    size_t len = 0;
    *text = NULL;
    FILE *f = root ? open_memstream(text, &len) : NULL;
    if (!f)
        return tdi_err_set(err, TDI_ENOMEM, "%s: JSON encoding failed (out of memory)", what);
    int rc = put_value(f, J(root), 0, expand);
    fputc('\n', f);
    if (fclose(f) != 0 || rc) {
        free(*text);
        *text = NULL;
        return tdi_err_set(err, TDI_ENOMEM, "%s: JSON encoding failed", what);
    }
    return 0;
}

int tdi_json_write(const char *path, const tdi_json *root, int expand, tdi_err *err)
{
    char *text;
    int rc = tdi_json_dump(root, expand, &text, path, err);
    if (!rc)
        rc = tdi_atomic_write_text(path, text, err);
    free(text);
    return rc;
}
