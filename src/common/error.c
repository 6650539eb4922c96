/* SPDX-License-Identifier: MIT */
#include "error.h"

#include <errno.h>
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

/* Canonical rows first: the reverse direction takes the first row of a status. */
static const struct {
        int err;
        unsigned code;
        const char *reason;
} http_table[] = {
    {-EINVAL, 400, "BadRequest"},
    {-EKEYREJECTED, 401, "Unauthorized"},
    {-EACCES, 403, "Forbidden"},
    {-ENOENT, 404, "NotFound"},
    {-EEXIST, 409, "Conflict"},
    {-ESTALE, 410, "Gone"},
    {-E2BIG, 413, "TooLarge"},
    {-EOPNOTSUPP, 422, "Unsupported"},
    {-EUSERS, 429, "TooManyRequests"},
    {-EIO, 500, "InternalError"},
    {-ENOSYS, 501, "NotImplemented"},
    {-EHOSTUNREACH, 502, "BadGateway"},
    {-EAGAIN, 503, "Unavailable"},
    {-ETIMEDOUT, 504, "Timeout"},
    /* aliases: errno -> status only */
    {-EPERM, 403, "Forbidden"},
    {-EBUSY, 409, "Conflict"},
    {-ENOTSUP, 422, "Unsupported"},
    {-ECONNREFUSED, 503, "Unavailable"},
};

unsigned ferry_error_http_status(int r, const char **ret_reason)
{
        for (size_t i = 0; i < sizeof(http_table) / sizeof(http_table[0]); i++)
                if (http_table[i].err == r) {
                        if (ret_reason)
                                *ret_reason = http_table[i].reason;
                        return http_table[i].code;
                }
        if (ret_reason)
                *ret_reason = "InternalError";
        return 500;
}

int ferry_error_from_http(long code)
{
        if (code >= 100 && code < 400)
                return 0;
        for (size_t i = 0; i < sizeof(http_table) / sizeof(http_table[0]); i++)
                if (http_table[i].code == code)
                        return http_table[i].err;
        return code >= 500 && code < 600 ? -EIO : -EREMOTEIO;
}

bool ferry_error_transient(int r)
{
        switch (r) {
        case -EAGAIN:
        case -EBUSY:
        case -EUSERS:
        case -ETIMEDOUT:
        case -ECONNREFUSED:
        case -ECONNRESET:
        case -EHOSTUNREACH:
        case -ENETUNREACH: return true;
        default: return false;
        }
}
