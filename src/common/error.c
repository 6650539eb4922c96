/* SPDX-License-Identifier: MIT */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ferry_errprintf(ferry_error_t *err, int errnum, const char *fmt, ...)
{
        va_list ap;

        if (!err)
                return errnum;
        va_start(ap, fmt);
        vsnprintf(err->text, sizeof(err->text), fmt, ap);
        va_end(ap);
        return errnum;
}

int ferry_errprefix(ferry_error_t *err, int errnum, const char *fmt, ...)
{
        char old[FERRY_ERROR_TEXT_MAX];
        va_list ap;
        int n;

        if (!err)
                return errnum;
        memcpy(old, err->text, sizeof(old));
        va_start(ap, fmt);
        n = vsnprintf(err->text, sizeof(err->text), fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof(err->text))
                snprintf(err->text + n, sizeof(err->text) - (size_t)n, ": %s", old);
        return errnum;
}
