/*
 * peerchaind: parses options, starts the queue, the chain worker, the network
 * and the miner, waits for SIGINT/SIGTERM, and stops everything in order.
 *
 * Before any thread starts, main locks the data directory (flock on
 * DATADIR/.lock: one node per directory; the kernel drops the lock when the
 * process dies, however it dies), binds the P2P port (accepting nothing
 * until the worker runs) and opens the chain store; a store that
 * fails its checks stops the start with its reason, never a reset
 * (docs/storage.md). The store is closed after the worker is joined.
 *
 * SIGINT and SIGTERM are blocked before any thread exists, so every thread
 * inherits the mask and only main takes them, with sigtimedwait (1 s ticks
 * to reap finished connection threads). SIGPIPE is ignored: sends use
 * MSG_NOSIGNAL, and nothing else should kill the node on a dead socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "net.h"
#include "node.h"
#include "opts.h"
#include "store.h"
#include "sync.h"

static int block_signals(sigset_t *set)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    if (sigemptyset(&sa.sa_mask) != 0 || sigaction(SIGPIPE, &sa, NULL) != 0)
        return -1;
    if (sigemptyset(set) != 0 || sigaddset(set, SIGINT) != 0 || sigaddset(set, SIGTERM) != 0)
        return -1;
    return pthread_sigmask(SIG_BLOCK, set, NULL) == 0 ? 0 : -1;
}

/* Until SIGINT or SIGTERM; reaps finished connection threads meanwhile. */
static int wait_for_signal(struct node *n, const sigset_t *set)
{
    for (;;) {
        struct timespec tick = {.tv_sec = 1, .tv_nsec = 0};
        int sig = sigtimedwait(set, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM)
            return sig;
        if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            node_log(LOG_ERROR, NULL, "sigtimedwait: %s", strerror(errno));
            return -1;
        }
        net_reap(n);
    }
}

/* mkdir -p dir (mode 0700): the default $HOME/.peerchain/NETWORK may not
 * exist yet. 0, or -1 with errno. */
static int make_dirs(const char *dir)
{
    char path[PC_MAX_PATH_BYTES + 1];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dir, len + 1);
    for (char *c = path + 1; *c != '\0'; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return -1;
        *c = '/';
    }
    return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* Creates the data directory and takes an exclusive lock on DATADIR/.lock,
 * held until the process exits. The lock fd, or -1 after logging why. */
static int lock_datadir(const char *dir)
{
    char path[PC_MAX_PATH_BYTES + 16];
    if (make_dirs(dir) != 0) {
        node_log(LOG_ERROR, NULL, "cannot create the data directory %s: %s", dir, strerror(errno));
        return -1;
    }
    /* Everything in it (lock, cookie, chain) is trusted from here on, so
     * nobody else may be able to plant or swap files in it. */
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        node_log(LOG_ERROR, NULL, "the data directory %s is not a directory", dir);
        return -1;
    }
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        node_log(LOG_ERROR, NULL,
                 "the data directory %s is writable by others or not ours (mode %03o, owner %u); "
                 "chmod 700 it",
                 dir, (unsigned)(st.st_mode & 0777), (unsigned)st.st_uid);
        return -1;
    }
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        node_log(LOG_ERROR, NULL, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    int rc;
    while ((rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
        ;
    if (rc != 0) {
        if (errno == EWOULDBLOCK)
            node_log(LOG_ERROR, NULL, "data directory %s is in use by another peerchaind", dir);
        else
            node_log(LOG_ERROR, NULL, "cannot lock %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    static struct node node; /* large; zeroed; lives as long as the process */
    struct node *n = &node;
    /* First of all, so that a SIGTERM sent the moment we start waits for
     * sigtimedwait and a clean stop instead of killing the process. */
    sigset_t set;
    if (block_signals(&set) != 0) {
        fprintf(stderr, "peerchaind: cannot set up signals: %s\n", strerror(errno));
        return 1;
    }
    enum opts_result o = opts_parse(argc, argv, &n->cfg, stdout, stderr);
    if (o == OPTS_EXIT_OK)
        return 0;
    if (o != OPTS_RUN)
        return 2;
    node_log_set_level((enum log_level)n->cfg.log_level);

    int rc = 1, lock_fd = -1;
    bool tip_mu = false, queue = false, worker = false, miner = false;
    if (pc_crypto_init() != 0) {
        node_log(LOG_ERROR, NULL, "cannot initialise libsodium");
        goto out;
    }
    randombytes_buf(&n->nonce, sizeof n->nonce);
    n->started_ms = node_mono_ms();
    atomic_init(&n->stopping, false);
    atomic_init(&n->failed, false);
    atomic_init(&n->tip_changed, false);
    if (pthread_mutex_init(&n->tip_mu, NULL) != 0) {
        node_log(LOG_ERROR, NULL, "pthread_mutex_init failed");
        goto out;
    }
    tip_mu = true;
    if (queue_init(&n->queue, n->cfg.queue_share_bytes, n->cfg.queue_share_msgs,
                   QUEUE_HOLD_BYTES) != 0) {
        node_log(LOG_ERROR, NULL, "cannot create the message queue");
        goto out;
    }
    queue = true;
    node_log(LOG_INFO, NULL, "peerchaind %s starting on network %s (%s)", PC_VERSION_STRING,
             n->cfg.net->name, n->cfg.net->id);
    if ((lock_fd = lock_datadir(n->cfg.datadir)) < 0)
        goto out;
    /* Listen before opening the chain, so the port is up sooner; nothing is
     * accepted until net_start below, after the worker holds the chain (the
     * kernel's backlog keeps early peers waiting). docs/performance.md. */
    if (net_listen(n) != 0) {
        node_log(LOG_ERROR, NULL, "cannot start the network");
        goto out;
    }
    struct pc_err err = {0};
    if (pc_store_open(n->cfg.datadir, n->cfg.net, 0, &n->store, &err) != 0) {
        node_log(LOG_ERROR, NULL, "cannot open the chain in %s: %s", n->cfg.datadir, err.reason);
        goto out;
    }
    if (pc_store_set_sync(n->store, (enum pc_store_sync)n->cfg.sync_writes, &err) != 0) {
        node_log(LOG_ERROR, NULL, "cannot set the store's sync policy: %s", err.reason);
        goto out;
    }
    node_log(LOG_INFO, NULL, "chain store %s: --sync-writes %s (%s)", n->cfg.datadir,
             pc_store_sync_name((enum pc_store_sync)n->cfg.sync_writes),
             n->cfg.sync_writes == PC_STORE_SYNC_OS
                 ? "commits written to the OS, fsynced every 0.5 s and at stop"
                 : "every commit fsynced");
    if (worker_start(n) != 0) {
        node_log(LOG_ERROR, NULL, "cannot start the chain worker");
        goto out;
    }
    worker = true;
    if (net_start(n) != 0) {
        node_log(LOG_ERROR, NULL, "cannot start the network");
        goto out;
    }
    if (api_start(n) != 0) {
        node_log(LOG_ERROR, NULL, "cannot start the HTTP API");
        goto out;
    }
    if (n->cfg.mine) {
        if (miner_start(n) != 0) {
            node_log(LOG_ERROR, NULL, "cannot start the miner");
            goto out;
        }
        miner = true;
    }

    int sig = wait_for_signal(n, &set);
    if (sig > 0)
        node_log(LOG_INFO, NULL, "%s received; stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = sig > 0 ? 0 : 1;

out:
    atomic_store(&n->stopping, true);
    api_stop(n); /* first: no request runs while the rest stops */
    net_stop(n);
    if (miner)
        miner_stop(n);
    if (queue)
        queue_close(&n->queue);
    if (worker)
        worker_stop(n);
    pc_store_close(n->store); /* after the worker, its only writer */
    n->store = NULL;
    if (lock_fd >= 0)
        close(lock_fd);
    if (atomic_load(&n->failed))
        rc = 1;
    net_free(n);
    if (queue)
        queue_destroy(&n->queue);
    if (tip_mu)
        sync_check(pthread_mutex_destroy(&n->tip_mu), "pthread_mutex_destroy");
    opts_free(&n->cfg);
    if (rc == 0)
        node_log(LOG_INFO, NULL, "stopped cleanly");
    return rc;
}
