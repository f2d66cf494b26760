/*
 * Thread and condvar helpers (see sync.h). No shared state.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "sync.h"

int sync_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    int r = pthread_condattr_init(&attr);
    if (r != 0)
        return PC_E_IO;
    r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (r == 0)
        r = pthread_cond_init(cv, &attr);
    int r2 = pthread_condattr_destroy(&attr);
    return r == 0 && r2 == 0 ? 0 : PC_E_IO;
}

struct timespec sync_deadline(int64_t ms)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        memset(&ts, 0, sizeof ts); /* cannot fail for CLOCK_MONOTONIC on Linux */
    if (ms < 0)
        ms = 0;
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

void sync_check(int r, const char *what)
{
    if (r == 0)
        return;
    node_log(LOG_ERROR, NULL, "%s: %s (a bug; aborting)", what, strerror(r));
    abort();
}

void sync_lock(pthread_mutex_t *mu)
{
    sync_check(pthread_mutex_lock(mu), "pthread_mutex_lock");
}

void sync_unlock(pthread_mutex_t *mu)
{
    sync_check(pthread_mutex_unlock(mu), "pthread_mutex_unlock");
}

void sync_wait(pthread_cond_t *cv, pthread_mutex_t *mu)
{
    sync_check(pthread_cond_wait(cv, mu), "pthread_cond_wait");
}

void sync_signal(pthread_cond_t *cv)
{
    sync_check(pthread_cond_signal(cv), "pthread_cond_signal");
}

void sync_broadcast(pthread_cond_t *cv)
{
    sync_check(pthread_cond_broadcast(cv), "pthread_cond_broadcast");
}

int sync_timedwait(pthread_cond_t *cv, pthread_mutex_t *mu, const struct timespec *deadline)
{
    int r = pthread_cond_timedwait(cv, mu, deadline);
    if (r == ETIMEDOUT)
        return ETIMEDOUT;
    sync_check(r, "pthread_cond_timedwait");
    return 0;
}

void sync_thread_name(const char *name)
{
    char n[16];
    snprintf(n, sizeof n, "%s", name);
    int r = pthread_setname_np(pthread_self(), n);
    if (r != 0)
        node_log(LOG_DEBUG, NULL, "cannot name thread %s: %s", n, strerror(r));
}

int sync_thread_start(pthread_t *t, size_t stack_bytes, const char *name, void *(*fn)(void *),
                      void *arg)
{
    pthread_attr_t attr;
    int r = pthread_attr_init(&attr);
    if (r != 0) {
        node_log(LOG_ERROR, NULL, "pthread_attr_init: %s", strerror(r));
        return PC_E_IO;
    }
    if (stack_bytes > 0) {
        if (stack_bytes < (size_t)PTHREAD_STACK_MIN)
            stack_bytes = (size_t)PTHREAD_STACK_MIN;
        r = pthread_attr_setstacksize(&attr, stack_bytes);
        if (r != 0)
            node_log(LOG_WARN, NULL, "stack size %zu refused (%s); using the default", stack_bytes,
                     strerror(r));
    }
    r = pthread_create(t, &attr, fn, arg);
    int r2 = pthread_attr_destroy(&attr);
    if (r != 0) {
        node_log(LOG_ERROR, NULL, "cannot start thread %s: %s", name, strerror(r));
        return PC_E_IO;
    }
    if (r2 != 0)
        node_log(LOG_WARN, NULL, "pthread_attr_destroy: %s", strerror(r2));
    char n[16];
    snprintf(n, sizeof n, "%s", name);
    r = pthread_setname_np(*t, n);
    if (r != 0)
        node_log(LOG_DEBUG, NULL, "cannot name thread %s: %s", n, strerror(r));
    return 0;
}
