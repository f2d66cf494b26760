/*
 * peerchain-stress: the peerchaind processes a run starts itself.
 *
 * Each node gets its own directory under the run's temporary directory (its
 * --datadir, port files and log), an ephemeral P2P and API port on
 * 127.0.0.1, regtest, and a random API token. Every node started is in one
 * registry; the SIGINT handler sends SIGTERM to each by PID
 * (proc_signal_all), and proc_stop_all stops and reaps every one at the end.
 * Children also get PR_SET_PDEATHSIG, so they die if the harness is killed.
 *
 * Start and stop nodes from the main thread only (the death signal follows
 * the thread that forked).
 */
#ifndef PC_STRESS_PROC_H
#define PC_STRESS_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_MAX_NODES 64
#define PROC_MAX_EXTRA_ARGS 24
#define PROC_PATH_BYTES 1024
#define PROC_TOKEN_HEX 64

struct node_proc {
    pid_t pid;                         /* 0 once reaped */
    char dir[PROC_PATH_BYTES];         /* node's own directory */
    int p2p_port, api_port;            /* 0 until proc_wait_ready */
    char token[PROC_TOKEN_HEX + 1];    /* its --api-token */
    uint64_t spawned_ns, listening_ns; /* fork and port file seen */
    int exit_status;                   /* waitpid status once reaped */
};

/* Makes the run's temporary directory. 0 or -1 (one-line error printed). */
int proc_setup(const char *bin_dir, bool keep_tmp);
/* Stops every node still running (SIGTERM, then SIGKILL after 10 s), reaps
 * it, and removes the temporary directory unless keep_tmp. Returns the
 * number of nodes that did not exit 0. */
int proc_stop_all(void);
/* Async-signal-safe: SIGTERM to every running node. */
void proc_signal_all(void);

/*
 * Starts a node with these extra flags (NULL-terminated, may be NULL), e.g.
 * {"--peer", "127.0.0.1:4000", NULL}. Returns a borrowed pointer valid until
 * proc_stop_all, or NULL (error printed).
 */
struct node_proc *proc_start(const char *name, const char *const *extra);
/* Waits until both port files exist (bounded by timeout_ms). 0 or -1. */
int proc_wait_ready(struct node_proc *n, unsigned timeout_ms);
/* Stops one node and reaps it; returns its exit status (0 = clean exit). */
int proc_stop(struct node_proc *n);
/* A field such as "VmHWM" or "RssAnon" from /proc/PID/status in KiB; -1 if
 * unknown. */
long proc_status_kib(pid_t pid, const char *field);
/* Threads (from /proc/PID/status) and open fds of pid; -1 if unknown. */
long proc_threads(pid_t pid);
long proc_fds(pid_t pid);
/* CPU time (user + system) in ms of the process, or with thread_prefix of
 * its live threads whose name starts with it; -1 if unreadable. */
double proc_cpu_ms(pid_t pid, const char *thread_prefix);
/* The run's temporary directory (borrowed). */
const char *proc_tmp_dir(void);

#endif
