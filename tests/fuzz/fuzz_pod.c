/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the pod JSON parser (all three body kinds) and the
 * status/log-record parsers. Built with -Dfuzz=true (clang); the same entry
 * point is linked into a replay driver that the normal test run uses to run
 * the committed corpus (tests/fuzz/corpus/pod).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logs/logfile.h"
#include "pod/pod.h"
#include "pod/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ferry_error_t err;
        for (int kind = FERRY_BODY_CREATE_A; kind <= FERRY_BODY_POD; kind++) {
                struct ferry_pod *p = NULL;
                if (ferry_pod_parse((const char *)data, size, (enum ferry_body_kind)kind, NULL, &p,
                                    &err) == 0) {
                        for (size_t i = 0; i < p->n_init + p->n_containers; i++)
                                (void)ferry_pod_container_at(p, i)->name;
                        ferry_pod_free(p);
                }
        }
        char *s = malloc(size + 1);
        memcpy(s, data, size);
        s[size] = '\0';
        struct ferry_pod_status st;
        if (ferry_pod_status_deserialize(s, &st) == 0)
                ferry_pod_status_clear(&st);
        struct ferry_log_record rec;
        (void)ferry_logfile_parse(s, size, &rec);
        free(s);
        return 0;
}
