/*
 * Small helpers for the node's threads: monotonic condvar deadlines and
 * thread creation with a given stack size and name. Safe from any thread.
 */
#ifndef PC_NODE_SYNC_H
#define PC_NODE_SYNC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Mutex and condvar calls that cannot fail unless the program has a bug
 * (EINVAL, EDEADLK, EPERM): each is checked, and a failure is logged and
 * aborts in every build type. */
void sync_lock(pthread_mutex_t *mu);
void sync_unlock(pthread_mutex_t *mu);
void sync_wait(pthread_cond_t *cv, pthread_mutex_t *mu);
void sync_signal(pthread_cond_t *cv);
void sync_broadcast(pthread_cond_t *cv);
/* Logs "what: strerror(r)" and aborts when r != 0. */
void sync_check(int r, const char *what);

/* Initialises a condvar that measures timed waits on CLOCK_MONOTONIC.
 * 0 or PC_E_IO. */
int sync_cond_init(pthread_cond_t *cv);

/* The CLOCK_MONOTONIC time ms milliseconds from now, for pthread_cond_timedwait
 * on a condvar made by sync_cond_init. */
struct timespec sync_deadline(int64_t ms);

/* Waits on cv until signalled or the deadline. Returns 0 or ETIMEDOUT; any
 * other failure is a bug (aborts). */
int sync_timedwait(pthread_cond_t *cv, pthread_mutex_t *mu, const struct timespec *deadline);

/* pthread_create with stack_bytes (0 = the default) and a thread name of at
 * most 15 characters, set by the new thread itself. 0 or PC_E_IO (the reason
 * is logged). */
int sync_thread_start(pthread_t *t, size_t stack_bytes, const char *name, void *(*fn)(void *),
                      void *arg);

/* Names the calling thread (truncated to 15 characters). */
void sync_thread_name(const char *name);

#endif
