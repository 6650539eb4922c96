/* SPDX-License-Identifier: MIT */
/* Standard base64 (RFC 4648 alphabet, '=' padding), as Kubernetes stores Secret data. */
#ifndef FERRY_BASE64_H
#define FERRY_BASE64_H

#include <stddef.h>

/* Encode n bytes; returns a NUL-terminated string the caller frees. */
char *ferry_base64_encode(const void *p, size_t n);
/* Decode; CR and LF are skipped, padding is optional, nothing may follow it.
 * *ret (NUL-terminated for convenience, caller frees) and *ret_len are set on
 * success. 0, or -EINVAL on a character outside the alphabet or a dangling one. */
int ferry_base64_decode(const char *in, size_t len, unsigned char **ret, size_t *ret_len);
/* Decode a NUL-terminated string as the API server writes Secret data: exact
 * padding, no line breaks. Same results as ferry_base64_decode(), -EINVAL on
 * anything looser. */
int ferry_base64_decode_strict(const char *s, unsigned char **ret, size_t *ret_len);

#endif
