/* tdi_err: message formatting for the shared error type (see tdi_err.h). */
#include "tdi_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void tdi_err_clear(tdi_err *e)
{
    if (!e)
        return;
    e->code = TDI_OK;
    e->msg[0] = '\0';
}

int tdi_err_set(tdi_err *e, int code, const char *fmt, ...)
{
    if (!e)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = code;
    return code;
}

int tdi_err_prefix(tdi_err *e, const char *fmt, ...)
{
    if (!e)
        return TDI_EARG;
    char pre[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    char old[sizeof e->msg];
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%.400s: %.600s", pre, old);
    return e->code;
}
