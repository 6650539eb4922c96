/* SPDX-License-Identifier: MIT */
/*
 * Error text for functions that can fail.
 *
 * Convention (see doc/design.md): a function that can fail returns int, >= 0 on
 * success and -errno on failure, and fills a caller-owned ferry_error_t with one
 * human sentence. Filling the buffer never allocates, so it is safe on error
 * paths (including ENOMEM). The caller logs it once, where it is handled.
 */
#ifndef FERRY_ERROR_H
#define FERRY_ERROR_H

#include <stdbool.h>
#include <stddef.h>

#define FERRY_ERROR_TEXT_MAX 512

typedef struct ferry_error {
        char text[FERRY_ERROR_TEXT_MAX];
} ferry_error_t;

/* Write a message into err (if non-NULL) and return errnum, which should be
 * negative. Usage: return ferry_errprintf(err, -EINVAL, "bad %s", what); */
int ferry_errprintf(ferry_error_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message: "prefix: old text". Returns errnum. */
int ferry_errprefix(ferry_error_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void ferry_error_clear(ferry_error_t *err)
{
        if (err)
                err->text[0] = '\0';
}

/*
 * The one errno <-> HTTP table (doc/conventions.md), used by ferryd's HTTP
 * server, the kubelet port, libferry-client (hop A) and libferry-kube:
 *
 *   -EINVAL       400 BadRequest        the request is wrong; do not repeat it
 *   -EKEYREJECTED 401 Unauthorized      no or a refused credential (token, certificate)
 *   -EACCES       403 Forbidden         authenticated, not allowed (-EPERM: 403 too)
 *   -ENOENT       404 NotFound
 *   -EEXIST       409 Conflict          exists already, or changed under us (-EBUSY: 409 too)
 *   -ESTALE       410 Gone              Kubernetes: resourceVersion too old, relist
 *   -E2BIG        413 TooLarge
 *   -EOPNOTSUPP   422 Unsupported       well-formed, but cannot be done here (= -ENOTSUP)
 *   -EUSERS       429 TooManyRequests   slow down and retry
 *   -EIO          500 InternalError     and any errno not listed
 *   -ENOSYS       501 NotImplemented
 *   -EHOSTUNREACH 502 BadGateway        a proxy could not reach what is behind it
 *   -EAGAIN       503 Unavailable       retry later (-ECONNREFUSED: 503 too)
 *   -ETIMEDOUT    504 Timeout
 *
 * A status not listed maps to -EIO (5xx) or -EREMOTEIO (anything else).
 * Round trip: ferry_error_http_status(ferry_error_from_http(code)) == code for
 * every status above.
 */
unsigned ferry_error_http_status(int r, const char **ret_reason);
/* -errno for an HTTP status; 0 for 1xx-3xx. */
int ferry_error_from_http(long code);
/* True for the errors a retry of the same request may cure: 429, 502, 503,
 * 504 and the transport errors (-ECONNREFUSED, -ECONNRESET, -ETIMEDOUT,
 * -EHOSTUNREACH, -ENETUNREACH, -EAGAIN, -EBUSY, -EUSERS). */
bool ferry_error_transient(int r);

#endif
