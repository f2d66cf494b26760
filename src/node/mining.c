/*
 * Mining: the optional thread `pc-miner` (--mine) and node_mine_block (for
 * the HTTP API).
 *
 * Both build a template on the published tip (node_read_tip), search for a
 * nonce with pc_mine, and hand the block to the chain worker as a
 * MSG_LOCAL_BLOCK carrying a mine_request on their own stack; then they wait
 * for the worker's verdict. The worker is the only judge: a block mined here
 * is validated like any other.
 *
 * Invariants:
 *  - n->tip_changed: raised by the worker after every change of the tip (and
 *    by miner_stop, to cut a search short); cleared only by pc-miner, right
 *    before it reads the tip, so a change after that read always cancels the
 *    search on the old tip. It is only a cancel hint: no data hangs on it.
 *    node_mine_block does not use it (it cancels only at shutdown).
 *  - A mine_request lives until its `done` is set: either the queue refused
 *    the message (PC_E_SHUTDOWN: the worker never saw it), or the worker
 *    completes it exactly once, with PC_E_SHUTDOWN if it drains the queue at
 *    shutdown. So the while-loop wait below always ends.
 *
 * Threads: miner_start and miner_stop on main; the loop on pc-miner;
 * node_mine_block on any thread except pc-chain (it waits for pc-chain).
 * Locks: miner.mu and a mine_request's mu, each taken alone.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "node.h"
#include "sync.h"

/* Nonces tried between two looks at the stop flags. */
#define MINER_CHUNK_ATTEMPTS (1u << 18)
/* After a rejection other than a stale tip, wait at least this long. */
#define MINER_BACKOFF_MS 1000
/* node_mine_block: further tries when the tip moved under a mined block. */
#define MINE_BLOCK_RETRIES 5
#define MINER_DATA_BYTES 96

struct miner {
    pthread_t thread; /* main */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* monotonic; broadcast under mu when quit is set */
    /* Set once by miner_stop under mu (so a sleeper cannot miss it); read
     * anywhere, hence atomic. */
    atomic_bool quit;
    uint64_t accepted; /* pc-miner only */
};

static bool miner_should_stop(struct node *n, struct miner *mn)
{
    return atomic_load(&n->stopping) || atomic_load(&mn->quit);
}

/*
 * Hands b (taken) to the chain worker and waits for its verdict: 0 (and *out
 * the block's JSON, a new reference, if out is not NULL) or the rejection's
 * code with its reason in *err.
 */
static int submit_block(struct node *n, pc_block *b, json_t **out, struct pc_err *err)
{
    struct mine_request req;
    memset(&req, 0, sizeof req);
    int rc = pthread_mutex_init(&req.mu, NULL);
    if (rc != 0) {
        pc_block_free(b);
        return pc_err_set(err, PC_E_IO, "pthread_mutex_init: %s", strerror(rc));
    }
    rc = pthread_cond_init(&req.done_cv, NULL);
    if (rc != 0) {
        pc_block_free(b);
        rc = pc_err_set(err, PC_E_IO, "pthread_cond_init: %s", strerror(rc));
        goto out_mu;
    }
    struct msg *m = msg_new(MSG_LOCAL_BLOCK, NULL, NULL, 0);
    if (m == NULL) {
        pc_block_free(b);
        rc = pc_err_set(err, PC_E_NOMEM, "out of memory for a message");
        goto out_cv;
    }
    m->block = b;
    m->req = &req;
    rc = queue_push(&n->queue, m);
    if (rc != 0) {
        msg_free(m); /* frees b; the worker never saw req */
        rc = pc_err_set(err, rc, "the node is shutting down");
        goto out_cv;
    }

    sync_lock(&req.mu);
    while (!req.done)
        sync_wait(&req.done_cv, &req.mu);
    rc = req.result;
    if (err != NULL)
        *err = req.err;
    json_t *bj = req.block_json;
    sync_unlock(&req.mu);

    if (rc == 0 && out != NULL && bj == NULL)
        rc = pc_err_set(err, PC_E_NOMEM, "block accepted, but out of memory for its JSON");
    if (out != NULL && rc == 0)
        *out = bj;
    else
        json_decref(bj);
out_cv:
    sync_check(pthread_cond_destroy(&req.done_cv), "pthread_cond_destroy");
out_mu:
    sync_check(pthread_mutex_destroy(&req.mu), "pthread_mutex_destroy");
    return rc;
}

/* ------------------------------------------------------------ the thread */

/* Sleeps ms, or less if the miner is told to stop. */
static void miner_sleep(struct node *n, struct miner *mn, int ms)
{
    if (ms <= 0)
        return;
    struct timespec deadline = sync_deadline(ms);
    sync_lock(&mn->mu);
    while (!miner_should_stop(n, mn))
        if (sync_timedwait(&mn->wake, &mn->mu, &deadline) != 0)
            break;
    sync_unlock(&mn->mu);
}

/*
 * Builds a template on the current tip and searches in chunks. 0 with *out
 * the solved block; PC_E_CANCELLED when the tip moved; PC_E_SHUTDOWN when
 * told to stop; PC_E_EXHAUSTED (nonce space used up: the next template gets a
 * new timestamp); or the template's failure. *tries counts hashes.
 */
static int mine_on_tip(struct node *n, struct miner *mn, pc_block **out, uint64_t *tries,
                       struct pc_err *err)
{
    /* Clear before reading: a change after the read cancels the search. */
    atomic_store(&n->tip_changed, false);
    struct tip_snapshot snap;
    node_read_tip(n, &snap);

    char data[MINER_DATA_BYTES];
    int len = snprintf(data, sizeof data, "mined by peerchaind %016" PRIx64 " #%" PRIu64, n->nonce,
                       mn->accepted + 1);
    const char *items[1] = {data};
    size_t lens[1] = {(size_t)len};
    pc_block *b = pc_block_template(&snap.base, items, lens, 1, node_unix_now(), err);
    if (b == NULL)
        return err->code != 0 ? err->code : pc_err_set(err, PC_E_NOMEM, "template: no memory");

    uint64_t nonce = 0;
    int rc;
    for (;;) {
        if (miner_should_stop(n, mn)) {
            rc = PC_E_SHUTDOWN;
            break;
        }
        uint64_t done = 0;
        int64_t t0 = node_mono_ms();
        rc = pc_mine(b, nonce, MINER_CHUNK_ATTEMPTS, &n->tip_changed, &done);
        metrics_count_hashes(done, node_mono_ms() - t0);
        *tries += done;
        nonce += done;
        if (rc != PC_E_EXHAUSTED || done == 0 ||
            nonce > (uint64_t)PC_MAX_SAFE_INTEGER - MINER_CHUNK_ATTEMPTS)
            break;
    }
    if (rc == 0)
        *out = b;
    else
        pc_block_free(b);
    return rc;
}

static void *miner_main(void *arg)
{
    struct node *n = arg;
    struct miner *mn = n->miner;
    uint64_t limit = n->cfg.mine_blocks;
    node_log(LOG_INFO, NULL, "miner started%s", limit ? "" : " (no block limit)");
    while (!miner_should_stop(n, mn)) {
        if (limit != 0 && mn->accepted >= limit) {
            node_log(LOG_INFO, NULL, "mined %" PRIu64 " blocks as asked; miner stops",
                     mn->accepted);
            break;
        }
        struct pc_err err = {0};
        pc_block *b = NULL;
        uint64_t tries = 0;
        int64_t t0 = node_mono_ms();
        int rc = mine_on_tip(n, mn, &b, &tries, &err);
        if (rc == PC_E_CANCELLED || rc == PC_E_EXHAUSTED)
            continue; /* a new tip, or a new timestamp */
        if (rc == PC_E_SHUTDOWN)
            break;
        if (rc != 0) {
            node_log(LOG_ERROR, NULL, "cannot build a block template: %s", err.reason);
            miner_sleep(n, mn, MINER_BACKOFF_MS);
            continue;
        }
        int64_t ms = node_mono_ms() - t0;
        uint64_t height = b->height;
        char hex[PC_HASH_HEX_CHARS + 1];
        pc_hash_to_hex(&b->hash, hex);
        rc = submit_block(n, b, NULL, &err);
        if (rc == PC_E_SHUTDOWN)
            break;
        if (rc == 0) {
            mn->accepted++;
            metrics_count_mined();
            node_log(LOG_INFO, NULL,
                     "mined block height %" PRIu64 " hash %.16s: %" PRIu64 " hashes in %" PRId64
                     " ms (%.1f kH/s)",
                     height, hex, tries, ms, ms > 0 ? (double)tries / (double)ms : (double)tries);
            miner_sleep(n, mn, n->cfg.mine_interval_ms);
        } else if (rc == PC_E_PREV_HASH || rc == PC_E_HEIGHT) {
            node_log(LOG_DEBUG, NULL, "mined block %" PRIu64 " went stale", height);
        } else {
            node_log(LOG_WARN, NULL, "mined block %" PRIu64 " rejected: %s: %s", height,
                     pc_errname(rc), err.reason);
            int ms_wait = n->cfg.mine_interval_ms;
            miner_sleep(n, mn, ms_wait > MINER_BACKOFF_MS ? ms_wait : MINER_BACKOFF_MS);
        }
    }
    metrics_set_hash_rate(0); /* not mining any more */
    return NULL;
}

int miner_start(struct node *n)
{
    if (!n->cfg.mine)
        return 0;
    struct miner *mn = calloc(1, sizeof *mn);
    if (mn == NULL)
        return PC_E_NOMEM;
    atomic_init(&mn->quit, false);
    if (pthread_mutex_init(&mn->mu, NULL) != 0) {
        free(mn);
        return PC_E_IO;
    }
    if (sync_cond_init(&mn->wake) != 0) {
        sync_check(pthread_mutex_destroy(&mn->mu), "pthread_mutex_destroy");
        free(mn);
        return PC_E_IO;
    }
    n->miner = mn;
    int rc = sync_thread_start(&mn->thread, 0, "pc-miner", miner_main, n);
    if (rc != 0) {
        n->miner = NULL;
        sync_check(pthread_cond_destroy(&mn->wake), "pthread_cond_destroy");
        sync_check(pthread_mutex_destroy(&mn->mu), "pthread_mutex_destroy");
        free(mn);
    }
    return rc;
}

void miner_stop(struct node *n)
{
    struct miner *mn = n->miner;
    if (mn == NULL)
        return;
    sync_lock(&mn->mu);
    atomic_store(&mn->quit, true);
    sync_broadcast(&mn->wake);
    sync_unlock(&mn->mu);
    atomic_store(&n->tip_changed, true); /* cuts a running pc_mine short */
    sync_check(pthread_join(mn->thread, NULL), "pthread_join pc-miner");
    sync_check(pthread_cond_destroy(&mn->wake), "pthread_cond_destroy");
    sync_check(pthread_mutex_destroy(&mn->mu), "pthread_mutex_destroy");
    free(mn);
    n->miner = NULL;
}

/* ------------------------------------------------------- one-shot mining */

int node_mine_block(struct node *n, const char *const *items, const size_t *lens, size_t n_items,
                    json_t **out, struct pc_err *err)
{
    struct pc_err local = {0};
    if (err == NULL)
        err = &local;
    if (out != NULL)
        *out = NULL;
    int rc = PC_E_ARG;
    for (int attempt = 0; attempt <= MINE_BLOCK_RETRIES; attempt++) {
        struct tip_snapshot snap;
        node_read_tip(n, &snap);
        pc_block *b = pc_block_template(&snap.base, items, lens, n_items, node_unix_now(), err);
        if (b == NULL)
            return err->code != 0 ? err->code : pc_err_set(err, PC_E_NOMEM, "template: no memory");
        /* To completion; only shutdown cancels. */
        rc = pc_mine(b, 0, 0, &n->stopping, NULL);
        if (rc != 0) {
            pc_block_free(b);
            return rc == PC_E_CANCELLED
                       ? pc_err_set(err, PC_E_SHUTDOWN, "the node is shutting down")
                       : pc_err_set(err, rc, "no nonce meets the difficulty");
        }
        rc = submit_block(n, b, out, err);
        if (rc == 0)
            metrics_count_mined();
        if (rc != PC_E_PREV_HASH && rc != PC_E_HEIGHT)
            return rc;
        node_log(LOG_DEBUG, NULL, "mined block went stale (%s); trying again", err->reason);
    }
    return rc;
}
