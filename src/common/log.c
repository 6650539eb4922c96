/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* set by a signal handler's thread or a reload while others log */
static atomic_int level = FERRY_LOG_INFO;

void ferry_log_set_level(enum ferry_log_level lvl)
{
        atomic_store_explicit(&level, (int)lvl, memory_order_relaxed);
}

int ferry_log_parse_level(const char *s)
{
        static const char *names[] = {"error", "warning", "info", "debug"};
        for (int i = 0; i < 4; i++)
                if (!strcmp(s, names[i]))
                        return i;
        return -EINVAL;
}

void ferry_log(enum ferry_log_level lvl, const char *fmt, ...)
{
        static const char *tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
        char line[2048], ts[FERRY_TIME_MAX];
        va_list ap;
        int n;

        if ((int)lvl > atomic_load_explicit(&level, memory_order_relaxed))
                return;
        ferry_time_format(ferry_now_ns(), 3, ts);
        n = snprintf(line, sizeof(line), "%s %s ", ts, tags[lvl]);
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        fprintf(stderr, "%s\n", line); /* one stdio call: lines do not interleave */
}
