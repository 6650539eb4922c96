/* SPDX-License-Identifier: MIT */
/*
 * Bearer tokens bound to namespaces, read from a file:
 *
 *   # token            namespaces (comma-separated, * = all)
 *   s3cr3t-token-abc   physics,astro
 *   admin-token-xyz    *
 *
 * Comparison is constant-time in the length of the stored token, and every
 * stored token is compared (no early exit), so timing reveals nothing useful.
 */
#ifndef FERRY_AUTH_H
#define FERRY_AUTH_H

#include <stdbool.h>

#include "common/error.h"

struct ferry_auth;
struct ferry_token; /* one entry; borrowed from the auth table */

int ferry_auth_load(const char *path, struct ferry_auth **ret, ferry_error_t *err);
void ferry_auth_free(struct ferry_auth *a);
/* The entry for an "Authorization: Bearer ..." header value, or NULL. */
const struct ferry_token *ferry_auth_check(const struct ferry_auth *a, const char *header);
/* Whether the token may act on namespace ns (signature fits ferry_authz). */
bool ferry_auth_allows(const void *token, const char *ns);

#endif
