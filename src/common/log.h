/* SPDX-License-Identifier: MIT */
/* Logging to stderr: one line per event, "TIME LEVEL message". Thread-safe. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

enum ferry_log_level { FERRY_LOG_ERR, FERRY_LOG_WARN, FERRY_LOG_INFO, FERRY_LOG_DEBUG };

void ferry_log_set_level(enum ferry_log_level lvl);
int ferry_log_parse_level(const char *s); /* -EINVAL if unknown */
void ferry_log(enum ferry_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_err(...) ferry_log(FERRY_LOG_ERR, __VA_ARGS__)
#define log_warn(...) ferry_log(FERRY_LOG_WARN, __VA_ARGS__)
#define log_info(...) ferry_log(FERRY_LOG_INFO, __VA_ARGS__)
#define log_debug(...) ferry_log(FERRY_LOG_DEBUG, __VA_ARGS__)

#endif
