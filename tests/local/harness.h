/* SPDX-License-Identifier: MIT */
/* Helpers for tests that run real pods through the local backend's ops. */
#ifndef FERRY_TESTS_LOCAL_HARNESS_H
#define FERRY_TESTS_LOCAL_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include "backend/backend.h"
#include "pod/pod.h"
#include "pod/status.h"

struct h_pod {
        struct ferry_pod *pod;
        char jid[FERRY_JID_MAX];
        struct ferry_pod_status st;
};

/* A fresh backend on a new temp state dir; opts are "key=value" strings, NULL-terminated. */
struct ferry_backend *h_backend(const char *runtime, const char *const *opts);
void h_backend_free(struct ferry_backend *be);
const char *h_state_dir(void);
/* Remove the temp state dir (at the end of a test program). */
void h_cleanup(void);
bool h_have_bwrap(void);

/* Parse a hop-A create body. Aborts the test on a parse error. */
struct h_pod *h_parse(const char *json);
/* A create body for one pod with given uid from a spec JSON (the "spec" value). */
char *h_body(const char *uid, const char *name, const char *spec_json);
/* submit; returns the backend's return code, err filled */
int h_submit(struct ferry_backend *be, struct h_pod *p, ferry_error_t *err);
void h_poll(struct ferry_backend *be, struct h_pod *p);
/* Poll until the phase is Succeeded/Failed or timeout_s passes; returns the phase. */
int h_wait(struct ferry_backend *be, struct h_pod **pods, size_t n, int timeout_s);
/* Poll until container `name` is Running. */
bool h_wait_running(struct ferry_backend *be, struct h_pod *p, const char *name, int timeout_s);
/* The text of a container's log (records joined, "\n" after full ones); NULL when no log. */
char *h_log(struct ferry_backend *be, struct h_pod *p, const char *container);
/* The same for a log file named by path (logs/logfile.h format). */
char *h_log_file(const char *path);
/* kill until it returns 0; returns the number of -EINPROGRESS answers, -1 on timeout. */
int h_kill(struct ferry_backend *be, struct h_pod *p, int64_t grace, int timeout_s);
void h_pod_free(struct h_pod *p);
struct ferry_cstatus *h_c(struct h_pod *p, const char *name);

#endif
