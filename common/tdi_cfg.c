/* tdi_cfg: schema-driven YAML config loader on libyaml's event parser (the only file that
 * includes yaml.h). Format: one YAML document whose root is a mapping; nested mappings form
 * dotted paths ("train.lr"); leaves are plain/quoted scalars or sequences of scalars (lists).
 * Invariants: every leaf matches a schema key or lies under a TDI_CFG_IGNORE path; a path may
 * appear once; messages are "name:line:col: ..." with 1-based positions from libyaml's marks.
 * Bounds: at most TDI_CFG_MAX_BYTES are read (a bounded read, so /dev/zero ends) and collections
 * nest at most TDI_CFG_MAX_DEPTH deep (checked per event: libyaml scans only ~16 KiB ahead).
 * Non-goals: anchors, aliases, tags, complex keys, multiple documents, writing YAML. */
#include "tdi_cfg.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "tdi_io.h"

#define CFG_PATH_MAX 256

typedef struct {
    yaml_parser_t parser;
    const char *name; /* file name for messages */
    tdi_cfg_key *keys;
    size_t n;
    tdi_err *err;
    char **seen; /* every path met so far (mappings and leaves), for duplicate detection */
    size_t nseen, capseen;
    int depth; /* open mappings + sequences at the last event pulled (root mapping = 1) */
} cfg_ctx;

static int cfg_err_at(cfg_ctx *c, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets a TDI_ECONFIG error "name:line:col: <fmt ...>" at mark m (0-based in libyaml). */
static int cfg_err_at(cfg_ctx *c, yaml_mark_t m, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return tdi_err_set(c->err, TDI_ECONFIG, "%s:%zu:%zu: %s", c->name, m.line + 1, m.column + 1,
                       what);
}

/* Shortest %g form that reads back as the same double (for messages only). */
static void cfg_fmt_double(char *buf, size_t sz, double v)
{
    snprintf(buf, sz, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sz, "%.17g", v);
}

static const char *cfg_event_name(yaml_event_type_t t)
{
    switch (t) {
    case YAML_MAPPING_START_EVENT: return "a mapping";
    case YAML_SEQUENCE_START_EVENT: return "a sequence";
    case YAML_SCALAR_EVENT: return "a scalar";
    default: return "something else";
    }
}

/* Tracks the nesting depth of ev (pulled, deleted here on error). libyaml's scanner keeps one
 * simple-key slot per open flow level and walks them all per token: 200k nested '[' take
 * minutes. Its scanner reads only ~16 KiB ahead of the events, so refusing the event that opens
 * level TDI_CFG_MAX_DEPTH + 1 stops it long before that cost (tests/test_common.c times it). */
static int cfg_depth(cfg_ctx *c, yaml_event_t *ev)
{
    if (ev->type == YAML_MAPPING_END_EVENT || ev->type == YAML_SEQUENCE_END_EVENT)
        c->depth--;
    if (ev->type != YAML_MAPPING_START_EVENT && ev->type != YAML_SEQUENCE_START_EVENT)
        return 0;
    if (++c->depth <= TDI_CFG_MAX_DEPTH)
        return 0;
    yaml_mark_t m = ev->start_mark;
    yaml_event_delete(ev);
    return cfg_err_at(c, m, "nesting deeper than %d levels (mappings and sequences)",
                      TDI_CFG_MAX_DEPTH);
}

/* Pulls the next event; turns parser errors, aliases, anchors and tags into messages. */
static int cfg_next(cfg_ctx *c, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&c->parser, ev)) {
        yaml_parser_t *p = &c->parser;
        const char *problem = p->problem ? p->problem : "YAML error";
        if (p->error == YAML_READER_ERROR)
            return tdi_err_set(c->err, TDI_ECONFIG, "%s: byte offset %zu: %s", c->name,
                               p->problem_offset, problem);
        if (p->context)
            return tdi_err_set(c->err, TDI_ECONFIG, "%s:%zu:%zu: %s (%s at line %zu, column %zu)",
                               c->name, p->problem_mark.line + 1, p->problem_mark.column + 1,
                               problem, p->context, p->context_mark.line + 1,
                               p->context_mark.column + 1);
        return tdi_err_set(c->err, TDI_ECONFIG, "%s:%zu:%zu: %s", c->name,
                           p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
    }
    const yaml_char_t *anchor = NULL, *tag = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
    {
        yaml_mark_t m = ev->start_mark;
        yaml_event_delete(ev);
        return cfg_err_at(c, m, "aliases are not supported");
    }
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        break;
    default:
        break;
    }
    if (anchor || tag) {
        yaml_mark_t m = ev->start_mark;
        yaml_event_delete(ev);
        return cfg_err_at(c, m, "%s are not supported", anchor ? "anchors" : "tags");
    }
    return cfg_depth(c, ev);
}

/* Consumes the rest of a node whose first event is ev (already pulled; deleted here). */
static int cfg_skip(cfg_ctx *c, yaml_event_t *ev)
{
    int depth = ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT;
    yaml_event_delete(ev);
    while (depth > 0) {
        yaml_event_t e;
        if (cfg_next(c, &e))
            return TDI_ECONFIG;
        if (e.type == YAML_MAPPING_START_EVENT || e.type == YAML_SEQUENCE_START_EVENT)
            depth++;
        else if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT)
            depth--;
        yaml_event_delete(&e);
    }
    return 0;
}

/* Records path; error if it was met before. */
static int cfg_mark_seen(cfg_ctx *c, const char *path, yaml_mark_t m)
{
    for (size_t i = 0; i < c->nseen; i++)
        if (strcmp(c->seen[i], path) == 0)
            return cfg_err_at(c, m, "duplicate key '%s'", path);
    if (c->nseen == c->capseen) {
        size_t cap = c->capseen ? 2 * c->capseen : 32;
        char **s = realloc(c->seen, cap * sizeof *s);
        if (!s)
            return tdi_err_set(c->err, TDI_ENOMEM, "%s: out of memory", c->name);
        c->seen = s;
        c->capseen = cap;
    }
    size_t len = strlen(path);
    char *copy = malloc(len + 1);
    if (!copy)
        return tdi_err_set(c->err, TDI_ENOMEM, "%s: out of memory", c->name);
    memcpy(copy, path, len + 1);
    c->seen[c->nseen++] = copy;
    return 0;
}

/* Is path equal to prefix or below it ("a.b" under "a")? */
static int cfg_path_under(const char *path, const char *prefix)
{
    size_t lp = strlen(prefix);
    return strncmp(path, prefix, lp) == 0 && (path[lp] == '\0' || path[lp] == '.');
}

int tdi_cfg_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > TDI_CFG_NAME_MAX || s[0] == '.' || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

/* Parses one scalar text s (event ev) as element idx of key k. */
static int cfg_scalar(cfg_ctx *c, tdi_cfg_key *k, const yaml_event_t *ev, size_t idx)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    yaml_mark_t m = ev->start_mark;
    char shown[80];
    snprintf(shown, sizeof shown, "%s%.60s%s", plain ? "" : "\"", s, len > 60 ? "..." : "");
    if (!plain)
        strncat(shown, "\"", sizeof shown - strlen(shown) - 1);
    if (memchr(s, '\0', len))
        return cfg_err_at(c, m, "key '%s': value contains a NUL byte", k->path);
    if (k->type == TDI_CFG_NAME && !tdi_cfg_name_ok(s))
        return cfg_err_at(c, m, "key '%s': %s is not a name: use 1 to %d characters from %s, "
                          "not starting with '.' or '-'", k->path, shown, TDI_CFG_NAME_MAX,
                          TDI_CFG_NAME_SET);
    int bounded = !(k->min == 0 && k->max == 0);
    switch (k->type) {
    case TDI_CFG_INT:
    case TDI_CFG_ILIST: {
        if (!plain || len == 0)
            return cfg_err_at(c, m, "key '%s': value '%s' is not an integer", k->path, shown);
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || *end != '\0' || s[0] == ' ')
            return cfg_err_at(c, m, "key '%s': value '%s' is not an integer", k->path, shown);
        if (errno == ERANGE)
            return cfg_err_at(c, m, "key '%s': value '%s' overflows a long", k->path, shown);
        if (bounded && ((double)v < k->min || (double)v > k->max)) {
            char lo[40], hi[40];
            cfg_fmt_double(lo, sizeof lo, k->min);
            cfg_fmt_double(hi, sizeof hi, k->max);
            return cfg_err_at(c, m, "key '%s': value %ld is outside [%s, %s]", k->path, v, lo,
                              hi);
        }
        ((long *)k->dst)[idx] = v;
        return 0;
    }
    case TDI_CFG_DOUBLE:
    case TDI_CFG_DLIST: {
        if (!plain || len == 0)
            return cfg_err_at(c, m, "key '%s': value '%s' is not a number", k->path, shown);
        const char *t = s + (s[0] == '+' || s[0] == '-');
        if (strcasecmp(t, ".inf") == 0 || strcasecmp(t, ".nan") == 0 ||
            strcasecmp(t, "inf") == 0 || strcasecmp(t, "nan") == 0 ||
            strcasecmp(t, "infinity") == 0)
            return cfg_err_at(c, m, "key '%s': value '%s' is not finite", k->path, shown);
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || *end != '\0' || s[0] == ' ')
            return cfg_err_at(c, m, "key '%s': value '%s' is not a number", k->path, shown);
        if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1.0))
            return cfg_err_at(c, m, "key '%s': value '%s' is not finite", k->path, shown);
        if (bounded && (v < k->min || v > k->max)) {
            char lo[40], hi[40];
            cfg_fmt_double(lo, sizeof lo, k->min);
            cfg_fmt_double(hi, sizeof hi, k->max);
            return cfg_err_at(c, m, "key '%s': value %s is outside [%s, %s]", k->path, shown, lo,
                              hi);
        }
        ((double *)k->dst)[idx] = v;
        return 0;
    }
    case TDI_CFG_BOOL: {
        static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no",
                                                                                "off"};
        for (int i = 0; plain && i < 3; i++) {
            if (strcasecmp(s, yes[i]) == 0) {
                *(int *)k->dst = 1;
                return 0;
            }
            if (strcasecmp(s, no[i]) == 0) {
                *(int *)k->dst = 0;
                return 0;
            }
        }
        return cfg_err_at(c, m, "key '%s': value '%s' is not a boolean "
                          "(true/false/yes/no/on/off)", k->path, shown);
    }
    case TDI_CFG_NAME: /* checked above; then stored like a string */
    case TDI_CFG_STRING: {
        if (plain && len == 0)
            return cfg_err_at(c, m, "key '%s': missing value", k->path);
        if (len + 1 > k->size) {
            return cfg_err_at(c, m, "key '%s': value is longer than %zu characters", k->path,
                              k->size - 1);
        }
        if (k->choices) {
            int ok = 0;
            const char *w = k->choices;
            while (!ok) {
                const char *bar = strchr(w, '|');
                size_t wl = bar ? (size_t)(bar - w) : strlen(w);
                ok = wl == len && memcmp(w, s, len) == 0;
                if (!bar)
                    break;
                w = bar + 1;
            }
            if (!ok) {
                return cfg_err_at(c, m, "key '%s': value '%.60s' is not one of %s", k->path, s,
                                  k->choices);
            }
        }
        memcpy(k->dst, s, len + 1);
        return 0;
    }
    case TDI_CFG_IGNORE:
        break;
    }
    return tdi_err_set(c->err, TDI_EARG, "%s: key '%s': bad type in schema", c->name, k->path);
}

/* Reads the value node of schema key k (first event ev already pulled; deleted here). */
static int cfg_value(cfg_ctx *c, tdi_cfg_key *k, yaml_event_t *ev)
{
    int rc = 0;
    int list = k->type == TDI_CFG_DLIST || k->type == TDI_CFG_ILIST;
    if (ev->type == YAML_SCALAR_EVENT) {
        if (list && k->size < 1)
            rc = cfg_err_at(c, ev->start_mark, "key '%s': more than 0 elements", k->path);
        else
            rc = cfg_scalar(c, k, ev, 0);
        if (!rc && list)
            *k->nout = 1;
        yaml_event_delete(ev);
        return rc;
    }
    if (!list || ev->type != YAML_SEQUENCE_START_EVENT) {
        rc = cfg_err_at(c, ev->start_mark, "key '%s': expected %s", k->path,
                        list ? "a scalar or a sequence of scalars" : "a single value");
        yaml_event_delete(ev);
        return rc;
    }
    yaml_event_delete(ev);
    size_t count = 0;
    for (;;) {
        yaml_event_t e;
        if (cfg_next(c, &e))
            return TDI_ECONFIG;
        if (e.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&e);
            break;
        }
        if (e.type != YAML_SCALAR_EVENT) {
            rc = cfg_err_at(c, e.start_mark, "key '%s': list elements must be scalars, got %s",
                            k->path, cfg_event_name(e.type));
        } else if (count >= k->size) {
            rc = cfg_err_at(c, e.start_mark, "key '%s': more than %zu elements", k->path,
                            k->size);
        } else {
            rc = cfg_scalar(c, k, &e, count++);
        }
        yaml_event_delete(&e);
        if (rc)
            return rc;
    }
    *k->nout = count;
    return 0;
}

/* Reads mapping entries up to MAPPING_END; prefix is the mapping's dotted path ("" at root). */
static int cfg_mapping(cfg_ctx *c, const char *prefix)
{
    for (;;) {
        yaml_event_t kev;
        if (cfg_next(c, &kev))
            return TDI_ECONFIG;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return 0;
        }
        yaml_mark_t km = kev.start_mark;
        if (kev.type != YAML_SCALAR_EVENT) {
            yaml_event_delete(&kev);
            return cfg_err_at(c, km, "keys must be scalars");
        }
        char path[CFG_PATH_MAX];
        int w = snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "",
                         (const char *)kev.data.scalar.value);
        int empty = kev.data.scalar.length == 0;
        yaml_event_delete(&kev);
        if (w < 0 || (size_t)w >= sizeof path)
            return cfg_err_at(c, km, "key path too long");
        if (empty)
            return cfg_err_at(c, km, "empty key");
        int rc = cfg_mark_seen(c, path, km);
        if (rc)
            return rc;
        tdi_cfg_key *exact = NULL, *ignore = NULL;
        int has_children = 0;
        size_t plen = strlen(path);
        for (size_t i = 0; i < c->n; i++) {
            tdi_cfg_key *k = &c->keys[i];
            if (k->type == TDI_CFG_IGNORE && cfg_path_under(path, k->path))
                ignore = k;
            else if (strcmp(k->path, path) == 0)
                exact = k;
            else if (strncmp(k->path, path, plen) == 0 && k->path[plen] == '.')
                has_children = 1;
        }
        yaml_event_t vev;
        if (cfg_next(c, &vev))
            return TDI_ECONFIG;
        if (ignore && !exact && !has_children) {
            ignore->seen = 1;
            rc = cfg_skip(c, &vev);
        } else if (exact) {
            exact->seen = 1;
            rc = cfg_value(c, exact, &vev);
        } else if (has_children) {
            if (vev.type != YAML_MAPPING_START_EVENT) {
                rc = cfg_err_at(c, vev.start_mark, "key '%s' must be a mapping, got %s", path,
                                cfg_event_name(vev.type));
                yaml_event_delete(&vev);
            } else {
                yaml_event_delete(&vev);
                rc = cfg_mapping(c, path);
            }
        } else {
            yaml_event_delete(&vev);
            rc = cfg_err_at(c, km, "unknown key '%s'", path);
        }
        if (rc)
            return rc;
    }
}

/* The document: STREAM_START, then nothing or one DOCUMENT with a root mapping. */
static int cfg_document(cfg_ctx *c)
{
    yaml_event_t ev;
    if (cfg_next(c, &ev))
        return TDI_ECONFIG;
    yaml_event_delete(&ev); /* STREAM_START */
    if (cfg_next(c, &ev))
        return TDI_ECONFIG;
    if (ev.type == YAML_STREAM_END_EVENT) { /* empty file: all defaults */
        yaml_event_delete(&ev);
        return 0;
    }
    yaml_event_delete(&ev); /* DOCUMENT_START */
    if (cfg_next(c, &ev))
        return TDI_ECONFIG;
    int rc = 0;
    if (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.length == 0 &&
        ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        yaml_event_delete(&ev); /* a document of only comments or "---" */
    } else if (ev.type != YAML_MAPPING_START_EVENT) {
        rc = cfg_err_at(c, ev.start_mark, "the top level must be a mapping, got %s",
                        cfg_event_name(ev.type));
        yaml_event_delete(&ev);
        return rc;
    } else {
        yaml_event_delete(&ev);
        rc = cfg_mapping(c, "");
        if (rc)
            return rc;
    }
    if (cfg_next(c, &ev))
        return TDI_ECONFIG;
    yaml_event_delete(&ev); /* DOCUMENT_END */
    if (cfg_next(c, &ev))
        return TDI_ECONFIG;
    if (ev.type != YAML_STREAM_END_EVENT)
        rc = cfg_err_at(c, ev.start_mark, "only one YAML document is allowed");
    yaml_event_delete(&ev);
    return rc;
}

static int cfg_load_buf(const char *name, const char *text, size_t len, tdi_cfg_key *keys,
                        size_t n, tdi_err *err)
{
    if (!name || !text || (n && !keys))
        return tdi_err_set(err, TDI_EARG, "tdi_cfg_load: bad arguments");
    for (size_t i = 0; i < n; i++) {
        tdi_cfg_key *k = &keys[i];
        keys[i].seen = 0;
        int list = k->type == TDI_CFG_DLIST || k->type == TDI_CFG_ILIST;
        if (!k->path || !k->path[0] || (k->type != TDI_CFG_IGNORE && !k->dst) ||
            (list && !k->nout) ||
            ((k->type == TDI_CFG_STRING || k->type == TDI_CFG_NAME) && k->size == 0))
            return tdi_err_set(err, TDI_EARG, "%s: schema entry %zu ('%s') is incomplete", name,
                               i, k->path ? k->path : "(null)");
    }
    if (len > TDI_CFG_MAX_BYTES)
        return tdi_err_set(err, TDI_ECONFIG, "%s: config larger than 1 MiB (%zu bytes)", name,
                           len);
    if (memchr(text, '\0', len))
        return tdi_err_set(err, TDI_ECONFIG, "%s: byte offset %zu: NUL byte in config", name,
                           (size_t)((const char *)memchr(text, '\0', len) - text));
    cfg_ctx c;
    memset(&c, 0, sizeof c);
    c.name = name;
    c.keys = keys;
    c.n = n;
    c.err = err;
    if (!yaml_parser_initialize(&c.parser))
        return tdi_err_set(err, TDI_ENOMEM, "%s: cannot initialise the YAML parser", name);
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
    int rc = cfg_document(&c);
    yaml_parser_delete(&c.parser);
    for (size_t i = 0; i < c.nseen; i++)
        free(c.seen[i]);
    free(c.seen);
    if (rc && err && err->code == TDI_OK)
        err->code = rc;
    return rc;
}

int tdi_cfg_load_string(const char *name, const char *text, tdi_cfg_key *keys, size_t n,
                        tdi_err *err)
{
    if (!text)
        return tdi_err_set(err, TDI_EARG, "tdi_cfg_load_string: NULL text");
    return cfg_load_buf(name, text, strlen(text), keys, n, err);
}

/* Reads at most TDI_CFG_MAX_BYTES + 1 bytes of path into a malloc'd, NUL-terminated *buf.
 * Regular files are refused by size before reading; pipes and character devices (/dev/stdin,
 * <(...), /dev/zero) are read until EOF or one byte past the cap; directories are refused. */
static int cfg_read_bounded(const char *path, char **buf, size_t *len, tdi_err *err)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tdi_err_set(err, TDI_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int rc = TDI_OK;
    if (fstat(fileno(f), &st) != 0)
        rc = tdi_err_set(err, TDI_EIO, "%s: cannot stat: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode))
        rc = tdi_err_set(err, TDI_ECONFIG, "%s: is a directory, not a config file", path);
    else if (S_ISREG(st.st_mode) && st.st_size > TDI_CFG_MAX_BYTES)
        rc = tdi_err_set(err, TDI_ECONFIG, "%s: config larger than 1 MiB (%lld bytes)", path,
                         (long long)st.st_size);
    char *b = rc ? NULL : malloc((size_t)TDI_CFG_MAX_BYTES + 2);
    if (!rc && !b)
        rc = tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", path);
    size_t n = 0;
    while (!rc && n <= TDI_CFG_MAX_BYTES) {
        size_t got = fread(b + n, 1, (size_t)TDI_CFG_MAX_BYTES + 1 - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (!rc && ferror(f))
        rc = tdi_err_set(err, TDI_EIO, "%s: read error after %zu bytes: %s", path, n,
                         strerror(errno));
    else if (!rc && n > TDI_CFG_MAX_BYTES)
        rc = tdi_err_set(err, TDI_ECONFIG, "%s: config larger than 1 MiB (read %zu bytes, "
                         "not at the end)", path, n);
    fclose(f);
    if (rc) {
        free(b);
        return rc;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return TDI_OK;
}

int tdi_cfg_load(const char *path, tdi_cfg_key *keys, size_t n, tdi_err *err)
{
    if (!path)
        return tdi_err_set(err, TDI_EARG, "tdi_cfg_load: NULL path");
    char *buf;
    size_t len;
    int rc = cfg_read_bounded(path, &buf, &len, err);
    if (rc)
        return rc;
    rc = cfg_load_buf(path, buf, len, keys, n, err);
    free(buf);
    return rc;
}

const char *const tdi_cfg_preset_sections[] = {"export", "substrate", "circuit", "cosim",
                                                "energy", "sweep", "e2e", NULL};

int tdi_cfg_load_preset(const char *name, const char *text, tdi_cfg_key *keys, size_t n,
                        size_t n_required, tdi_err *err)
{
    size_t ns = 0;
    while (tdi_cfg_preset_sections[ns])
        ns++;
    tdi_cfg_key *all = calloc(n + ns, sizeof *all);
    if (!all)
        return tdi_err_set(err, TDI_ENOMEM, "%s: out of memory", name ? name : "config");
    if (n)
        memcpy(all, keys, n * sizeof *all);
    size_t m = n;
    for (size_t i = 0; i < ns; i++) {
        const char *sec = tdi_cfg_preset_sections[i];
        int read = 0;
        for (size_t j = 0; j < n && !read; j++)
            read = keys[j].path && cfg_path_under(keys[j].path, sec);
        if (!read)
            all[m++] = (tdi_cfg_key){sec, TDI_CFG_IGNORE, NULL, 0, 0, 0, NULL, NULL, 0};
    }
    int rc = text ? tdi_cfg_load_string(name, text, all, m, err) : tdi_cfg_load(name, all, m, err);
    for (size_t i = 0; i < n; i++)
        keys[i].seen = all[i].seen;
    free(all);
    for (size_t i = 0; !rc && i < n_required && i < n; i++)
        if (!keys[i].seen)
            rc = tdi_err_set(err, TDI_ECONFIG, "%s: missing top-level key '%s'", name,
                             keys[i].path);
    return rc;
}

/* Output sink of the canonical dump: a FILE or a running hash. */
typedef struct {
    FILE *f;
    uint64_t h;
} cfg_sink;

static void cfg_put(cfg_sink *s, const char *text)
{
    if (s->f)
        fputs(text, s->f);
    else
        s->h = tdi_hash_bytes(s->h, text, strlen(text));
}

static void cfg_emit(cfg_sink *s, const tdi_cfg_key *keys, size_t n)
{
    char num[64];
    for (size_t i = 0; i < n; i++) {
        const tdi_cfg_key *k = &keys[i];
        if (k->type == TDI_CFG_IGNORE || !k->dst)
            continue; /* owned by another component: not part of this config's identity */
        cfg_put(s, k->path);
        cfg_put(s, ": ");
        switch (k->type) {
        case TDI_CFG_INT:
            snprintf(num, sizeof num, "%ld", *(const long *)k->dst);
            cfg_put(s, num);
            break;
        case TDI_CFG_DOUBLE:
            snprintf(num, sizeof num, "%.17g", *(const double *)k->dst);
            cfg_put(s, num);
            break;
        case TDI_CFG_BOOL:
            cfg_put(s, *(const int *)k->dst ? "true" : "false");
            break;
        case TDI_CFG_STRING:
        case TDI_CFG_NAME:
            cfg_put(s, (const char *)k->dst);
            break;
        case TDI_CFG_DLIST:
        case TDI_CFG_ILIST: {
            size_t cnt = k->nout ? *k->nout : 0;
            if (cnt > k->size)
                cnt = k->size;
            cfg_put(s, "[");
            for (size_t j = 0; j < cnt; j++) {
                if (k->type == TDI_CFG_DLIST)
                    snprintf(num, sizeof num, "%s%.17g", j ? ", " : "",
                             ((const double *)k->dst)[j]);
                else
                    snprintf(num, sizeof num, "%s%ld", j ? ", " : "", ((const long *)k->dst)[j]);
                cfg_put(s, num);
            }
            cfg_put(s, "]");
            break;
        }
        case TDI_CFG_IGNORE:
            break;
        }
        cfg_put(s, "\n");
    }
}

void tdi_cfg_dump(FILE *f, const tdi_cfg_key *keys, size_t n)
{
    if (!f)
        return;
    cfg_sink s = {f, 0};
    cfg_emit(&s, keys, n);
}

uint64_t tdi_cfg_hash(const tdi_cfg_key *keys, size_t n)
{
    cfg_sink s = {NULL, TDI_HASH_INIT};
    cfg_emit(&s, keys, n);
    return s.h;
}

/* ------------------------------------------------------------- locating a key after a load */
typedef struct {
    yaml_parser_t parser;
    const char *want;
    int found;
    yaml_mark_t mark;
} cfg_locator;

/* Walks a node whose first event is ev (deleted here); prefix is the mapping path above. */
static int cfg_locate_node(cfg_locator *l, yaml_event_t *ev, const char *prefix, int depth)
{
    yaml_event_type_t t = ev->type;
    yaml_event_delete(ev);
    if (t != YAML_MAPPING_START_EVENT && t != YAML_SEQUENCE_START_EVENT)
        return 0;
    if (depth > 64) /* deeper than any schema: a valid config never gets here */
        return -1;
    for (;;) {
        yaml_event_t k, v;
        if (!yaml_parser_parse(&l->parser, &k))
            return -1;
        if (k.type == YAML_MAPPING_END_EVENT || k.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&k);
            return 0;
        }
        char path[CFG_PATH_MAX] = "";
        if (t == YAML_MAPPING_START_EVENT && k.type == YAML_SCALAR_EVENT) {
            snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "",
                     (const char *)k.data.scalar.value);
            if (!l->found && strcmp(path, l->want) == 0) {
                l->found = 1;
                l->mark = k.start_mark;
            }
        }
        if (t == YAML_SEQUENCE_START_EVENT) { /* k is an element */
            if (cfg_locate_node(l, &k, prefix, depth + 1))
                return -1;
            continue;
        }
        yaml_event_delete(&k);
        if (!yaml_parser_parse(&l->parser, &v) || cfg_locate_node(l, &v, path, depth + 1))
            return -1;
    }
}

void tdi_cfg_locate(const char *path, const char *key, char *buf, size_t n)
{
    snprintf(buf, n, "%s", path ? path : "(config)");
    char *text = NULL;
    size_t len = 0;
    tdi_err e;
    if (!path || !key || cfg_read_bounded(path, &text, &len, &e))
        return;
    cfg_locator l;
    memset(&l, 0, sizeof l);
    l.want = key;
    if (yaml_parser_initialize(&l.parser)) {
        yaml_parser_set_input_string(&l.parser, (const unsigned char *)text, len);
        yaml_event_t ev;
        int ok = 1;
        while (ok && !l.found && yaml_parser_parse(&l.parser, &ev)) {
            int end = ev.type == YAML_STREAM_END_EVENT;
            ok = !end && cfg_locate_node(&l, &ev, "", 0) == 0;
        }
        yaml_parser_delete(&l.parser);
    }
    free(text);
    if (l.found)
        snprintf(buf, n, "%s:%zu:%zu", path, l.mark.line + 1, l.mark.column + 1);
}
