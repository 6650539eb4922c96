/* SPDX-License-Identifier: MIT */
/*
 * Run an external tool (sbatch, podman, bwrap...) with an argv array: never a
 * shell. posix_spawn, optional stdin data, a timeout after which the child gets
 * SIGKILL, and bounded capture of stdout and stderr.
 */
#ifndef FERRY_SPAWN_H
#define FERRY_SPAWN_H

#include <stddef.h>

#include "error.h"

struct ferry_spawn_result {
        int exit_code;   /* 0..255 when it exited, -1 otherwise */
        int term_signal; /* signal that ended it, 0 if it exited */
        int timed_out;   /* 1 when we killed it at the timeout */
        char *out;       /* captured stdout, NUL-terminated, owned by the result */
        size_t out_len;
        char *err; /* captured stderr */
        size_t err_len;
        int out_truncated, err_truncated;
};

/* argv[0] is looked up in PATH when it has no '/'. envp NULL = inherit.
 * timeout_ms <= 0 means no timeout. Output beyond out_max per stream is read
 * and dropped (the *_truncated flag is set). Returns 0 when the process ran
 * (whatever its exit code), -errno when it could not be started. */
int ferry_spawn_run(const char *const argv[], const char *const envp[], const char *in,
                    size_t in_len, int timeout_ms, size_t out_max, struct ferry_spawn_result *ret,
                    ferry_error_t *err);

void ferry_spawn_result_free(struct ferry_spawn_result *r);

#endif
