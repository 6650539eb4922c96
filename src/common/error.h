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

#endif
