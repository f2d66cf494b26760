/*
 * The node's log and clocks.
 *
 * node_log writes one line per event to stderr with one write(2), so lines
 * from different threads never interleave (a pipe write of at most PIPE_BUF
 * bytes is atomic; lines are capped well below it). Text that came from a
 * peer (agents, error reasons) may reach the log, so control characters are
 * replaced: one event is always one line.
 *
 * Called from every thread. No locks: the level is an atomic int (a plain
 * setting read on every call; no other state depends on it).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node.h"

#define LOG_LINE_BYTES 1024

static atomic_int log_level = LOG_INFO;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void node_log_set_level(enum log_level lvl)
{
    atomic_store(&log_level, (int)lvl);
}

int64_t node_mono_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0; /* cannot fail for CLOCK_MONOTONIC on Linux */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t node_unix_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec;
}

/* Appends at most cap - *len - 1 bytes; keeps *len <= cap - 1. */
static void append_fmt(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append_fmt(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len >= cap - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (r < 0)
        return;
    *len += (size_t)r < cap - *len ? (size_t)r : cap - *len - 1;
}

void node_log(enum log_level lvl, const struct peer *p, const char *fmt, ...)
{
    if ((int)lvl > atomic_load(&log_level))
        return;
    int saved_errno = errno;
    char line[LOG_LINE_BYTES];
    size_t len = 0;

    struct timespec ts;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL) {
        memset(&tm, 0, sizeof tm);
        ts.tv_nsec = 0;
    }
    append_fmt(line, sizeof line, &len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               ts.tv_nsec / 1000000L, level_names[lvl <= LOG_DEBUG ? lvl : LOG_DEBUG]);
    if (p != NULL)
        append_fmt(line, sizeof line, &len, "[peer %llu %s] ", (unsigned long long)peer_id(p),
                   peer_addr(p));
    size_t text_start = len;

    if (len + 2 < sizeof line) { /* the prefix is short; keep room for text and '\n' */
        va_list ap;
        va_start(ap, fmt);
        int r = vsnprintf(line + len, sizeof line - len - 1, fmt, ap);
        va_end(ap);
        if (r > 0)
            len += (size_t)r < sizeof line - len - 1 ? (size_t)r : sizeof line - len - 2;
    }

    /* One event, one line: peer-supplied text must not forge log lines. */
    for (size_t i = text_start; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c == 0x7f)
            line[i] = '?';
    }
    line[len++] = '\n';

    const char *w = line;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(STDERR_FILENO, w, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* nowhere left to report a failing log */
        w += n;
        left -= (size_t)n;
    }
    errno = saved_errno;
}
