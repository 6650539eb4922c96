/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* set by a signal handler's thread or a reload while others log */
static atomic_int level = FERRY_LOG_INFO;
static pthread_once_t journal_once = PTHREAD_ONCE_INIT;
static bool to_journal;

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

/* systemd sets JOURNAL_STREAM=DEV:INODE for a service whose stderr goes to the
 * journal; it holds only while stderr is still that stream (a child whose
 * stderr was redirected inherits the variable). */
static void detect_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        int n = 0;

        if (!e || sscanf(e, "%llu:%llu%n", &dev, &ino, &n) != 2 || e[n] != '\0')
                return;
        if (fstat(STDERR_FILENO, &st) < 0)
                return;
        to_journal = (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

bool ferry_log_to_journal(void)
{
        pthread_once(&journal_once, detect_journal);
        return to_journal;
}

void ferry_log(enum ferry_log_level lvl, const char *fmt, ...)
{
        static const char *tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
        static const int prio[] = {3, 4, 6, 7}; /* syslog's LOG_ERR, LOG_WARNING, ... */
        char line[2048], ts[FERRY_TIME_MAX];
        va_list ap;
        int n;

        if ((int)lvl > atomic_load_explicit(&level, memory_order_relaxed))
                return;
        if (ferry_log_to_journal()) {
                /* journald reads the priority from "<N>" and stamps the time itself */
                n = snprintf(line, sizeof(line), "<%d>", prio[lvl]);
        } else {
                ferry_time_format(ferry_now_ns(), 3, ts);
                n = snprintf(line, sizeof(line), "%s %s ", ts, tags[lvl]);
        }
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        fprintf(stderr, "%s\n", line); /* one stdio call: lines do not interleave */
}
