/* SPDX-License-Identifier: MIT */
/* Logging to stderr: one line per event, "TIME LEVEL message". Thread-safe.
 * When stderr is the journal (systemd's JOURNAL_STREAM names it), each line is
 * "<N>message" instead: N is the syslog priority (3 error, 4 warning, 6 info,
 * 7 debug), which journald turns into the entry's PRIORITY. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdbool.h>

enum ferry_log_level { FERRY_LOG_ERR, FERRY_LOG_WARN, FERRY_LOG_INFO, FERRY_LOG_DEBUG };

void ferry_log_set_level(enum ferry_log_level lvl);
int ferry_log_parse_level(const char *s); /* -EINVAL if unknown */
bool ferry_log_to_journal(void);          /* stderr is the journal: "<N>" prefixes */
void ferry_log(enum ferry_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_err(...) ferry_log(FERRY_LOG_ERR, __VA_ARGS__)
#define log_warn(...) ferry_log(FERRY_LOG_WARN, __VA_ARGS__)
#define log_info(...) ferry_log(FERRY_LOG_INFO, __VA_ARGS__)
#define log_debug(...) ferry_log(FERRY_LOG_DEBUG, __VA_ARGS__)

#endif
