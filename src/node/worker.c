/*
 * The chain worker: thread `pc-chain`, the only thread that touches the
 * pc_chain.
 *
 * It pops messages from the node's one queue and applies docs/protocol.md
 * Part 2 to each: answers queries (latestBlock, allBlock, getBlocks,
 * getPeers), validates offered blocks, runs incremental syncs (one per peer at
 * most), chooses between forks, and accepts blocks mined here. Everyone else
 * learns about the chain from the tip snapshot it publishes and from the
 * messages it sends.
 *
 * Invariants:
 *  - w->chain and every struct peer_state are owned by pc-chain (main only
 *    creates the chain before the thread starts and frees it after the join).
 *  - w->chain is an index chain (chain.h): hashes, timestamps, difficulties
 *    and work per height, and the tip block. The blocks themselves are in
 *    the store (n->store, docs/storage.md); replies that carry old blocks
 *    copy their stored JSON, which is exactly the wire form.
 *  - Every change goes: validate -> pc_store_commit (written to the file;
 *    fsynced as --sync-writes says) -> change the in-memory chain -> publish
 *    the tip -> announce. The chain changes only
 *    through pc_chain_append and pc_chain_adopt, with blocks that passed
 *    validation and are already on disk; a failed commit leaves the chain
 *    untouched (the block is dropped, not held against its peer). If the
 *    store keeps failing, or memory runs out after a commit so that the
 *    store and the chain disagree, the worker stops the node (stop_node).
 *  - After every change of the tip: node_publish_tip, n->tip_changed raised,
 *    and an announcement to every peer but the source (announce_changed:
 *    latestBlock, or the blocks of a burst merged into one allBlock).
 *  - A peer with a sync in progress is on w->syncing, and the list holds a
 *    counted reference to it: its state, and the branch in it, cannot be freed
 *    under us. The reference goes when the sync ends (done, invalid, timeout,
 *    disconnect, shutdown), so every branch is freed on pc-chain and the
 *    peer-state destructor (which runs on whichever thread drops the peer's
 *    last reference) only frees plain memory.
 *  - Replies never exceed the frame limit: pages are cut by serialized size.
 *  - Every MSG_LOCAL_BLOCK's mine_request is completed exactly once; after
 *    shutdown began, with PC_E_SHUTDOWN. The worker never touches a request
 *    after unlocking it (the waiter may free it at once).
 *
 * Threads: worker_start and worker_stop run on main; all else on pc-chain.
 * worker_stop comes after queue_close, so the final drain empties the queue
 * for good. pc-chain holds no lock of its own: it takes queue.mu (in
 * queue_pop and to see whether the queue is closed), a mine_request's mu
 * (alone), and whatever peer_send / node_broadcast take inside.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "addr.h"
#include "node.h"
#include "peer.h"
#include "store.h"
#include "sync.h"

/* How long queue_pop waits before the loop looks at its timers. */
#define WORKER_POP_TIMEOUT_MS 500
/* A sync whose last request got no answer for this long is abandoned. */
#define SYNC_TIMEOUT_MS 30000
/* Blocks a sync branch may hold (it may pass this by one page). The branch
 * is adopted when the sync ends; at the cap, early if it beats our chain. */
#define SYNC_MAX_BRANCH_BLOCKS 2000000u
/* Estimated bytes a sync branch may hold (blocks may carry up to 1 MiB of
 * data each, so the block cap alone does not bound memory); treated like
 * the block cap. */
#define SYNC_MAX_BRANCH_BYTES (128u * 1024u * 1024u)
/* Fixed cost counted per block on top of its data strings. */
#define SYNC_BLOCK_OVERHEAD_BYTES 512u
/* Syncs running at once; more peers ahead of us wait for the next
 * announcement. Bounds the memory all branches together can hold. */
#define SYNC_MAX_CONCURRENT 4u
/* How often one sync may start over because our own chain moved under it. */
#define SYNC_MAX_RESTARTS 3u
/* Room kept in a frame for the envelope around a page of blocks. */
#define REPLY_ENVELOPE_SLACK_BYTES 1024u
/* A lower bound on a block's compact JSON (its three hashes alone are 192
 * characters): caps the blocks one allBlock frame can carry. */
#define MIN_BLOCK_JSON_BYTES 200u
/* After adopting at least this many blocks, or building pages of this many
 * bytes, freed memory goes back to the system (malloc_trim, at the next
 * timer tick: not once per page of a sync): a long sync's branch, or the
 * pages served to one, would otherwise stay in RssAnon long after. */
#define TRIM_AFTER_BLOCKS 1000u
#define TRIM_AFTER_PAGE_BYTES (16u * 1024u * 1024u)
/* Announcements: at most one round per this many ms; the blocks of a burst
 * go together, as one allBlock offer of at most ANNOUNCE_MAX_BLOCKS. */
#define ANNOUNCE_GAP_MS 1
#define ANNOUNCE_MAX_BLOCKS 64u
/* Store commits that may fail in a row before the worker stops the node. */
#define WORKER_STORE_MAX_FAILURES 3u
/* Rejections are counted per code in slots 1..63 (-code); others in slot 0. */
#define REJECT_CODE_SLOTS 64

/* --------------------------------------------------------------- counters */

enum wtype {
    WT_HELLO,
    WT_SEED_PEER,
    WT_DISCONNECTED,
    WT_LOCAL_BLOCK,
    WT_LATEST_BLOCK,
    WT_ALL_BLOCK,
    WT_GET_BLOCKS,
    WT_BLOCKS,
    WT_GET_PEERS,
    WT_PEERS,
    WT_ERROR,
    WT_PONG,
    WT_UNKNOWN, /* unknown type, or one not served to this kind of peer */
    WT_DROPPED, /* from a peer we closed for cause, or after shutdown began */
    WT_COUNT
};

static const char *const wtype_names[WT_COUNT] = {
    "hello",  "seedPeer", "disconnected", "localBlock", "latestBlock", "allBlock", "getBlocks",
    "blocks", "getPeers", "peers",        "error",      "pong",        "unknown",  "dropped",
};

/*
 * Written by pc-chain, readable from any thread (a later /metrics route).
 * Relaxed atomics, no lock: each counter only ever grows and no
 * reader needs two of them to agree. 64-bit counts do not wrap in practice.
 */
struct worker_stats {
    atomic_uint_fast64_t handled[WT_COUNT];
    atomic_uint_fast64_t blocks_accepted; /* appended or adopted, from anywhere */
    atomic_uint_fast64_t rejected[REJECT_CODE_SLOTS];
    atomic_uint_fast64_t reorgs;
    atomic_uint_fast64_t syncs_started, syncs_done, syncs_abandoned;
    atomic_uint_fast64_t sends_failed; /* peer closed or over its send queue */
};

/* Remembered tips of offers that lost on work. */
#define JUDGED_OFFERS 16u

/* ------------------------------------------------------------ peer state */

enum sync_kind { SYNC_NONE, SYNC_GETBLOCKS, SYNC_ALLBLOCK };

struct peer_state;

/* An incremental sync with one peer: getBlocks pages from a peerchain peer,
 * allBlock pages from a seed-protocol peer. */
struct sync {
    enum sync_kind kind;
    struct peer *peer;              /* counted reference while kind != SYNC_NONE */
    struct peer_state *prev, *next; /* on w->syncing while kind != SYNC_NONE */
    pc_branch *branch;              /* validated blocks not (yet) adopted, or NULL */
    bool has_cursor;                /* cursor: the last block received */
    pc_hash cursor;
    uint64_t cursor_height;
    uint64_t target;        /* the peer's tip height as it last told us */
    uint64_t branch_bytes;  /* estimated memory of the blocks fetched so far */
    int64_t requested_ms;   /* node_mono_ms() of the last request */
    uint64_t requested_gen; /* w->chain_gen at the last request */
    unsigned restarts;
    uint64_t pages;
    /* Requests sent and not yet answered (0 or 1: the next page is asked for
     * while this one is validated), and answers still to come to requests
     * made before a restart, which are dropped (pages carry no request id,
     * but a peer answers in order). */
    unsigned in_flight, stale;
};

/* What the worker knows about one peer. Owned by pc-chain; freed by
 * state_destroy when the peer is freed. */
struct peer_state {
    uint64_t claimed_height; /* from hello, raised by its offers */
    pc_work claimed_work;    /* from hello */
    struct sync sync;
    /* getBlocks requests of ended syncs whose answers have not come yet:
     * those answers are dropped, also by the next sync (answers come in
     * order, and carry no request id). */
    unsigned owed_pages;
    uint64_t msgs;            /* messages handled */
    uint64_t blocks_accepted; /* blocks of our chain that came from it */
};

struct worker {
    struct node *n;             /* immutable */
    pc_chain *chain;            /* pc-chain only (see the top of the file) */
    pthread_t thread;           /* main */
    atomic_bool quit;           /* set once by worker_stop: drain and exit */
    uint64_t chain_gen;         /* pc-chain: bumps on every change of the tip */
    struct peer_state *syncing; /* pc-chain: peers with a sync in progress */
    unsigned store_failures;    /* pc-chain: store commits failed in a row */
    unsigned n_syncing;         /* pc-chain: length of that list */
    /* pc-chain: tips of recent block lists judged valid but not better than
     * ours, so a peer replaying one costs a lookup, not a validation. */
    pc_hash judged[JUDGED_OFFERS];
    unsigned judged_next;
    /* pc-chain: announcements (announce_changed). */
    int64_t announced_ms;   /* node_mono_ms() of the last one sent */
    bool announce_due;      /* the tip changed since; not yet announced */
    uint64_t announce_fork; /* lowest fork height among those changes */
    /* their one source (counted), or NULL: mined here, or more than one */
    struct peer *announce_from;
    /* pc-chain: much heap was used and freed (a long branch adopted, big
     * pages built): hand it back at the next timer tick (malloc_trim). */
    bool trim_due;
    size_t paged_bytes; /* bytes of pages built since the last trim */
    struct worker_stats stats;
};

static void count(atomic_uint_fast64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static void count_reject(struct worker *w, int code)
{
    int slot = code < 0 && -code < REJECT_CODE_SLOTS ? -code : 0;
    count(&w->stats.rejected[slot]);
}

/* Runs when the peer is freed, on any thread: plain memory only. A sync
 * holds a reference, so no sync (and no branch) can be left here. */
static void state_destroy(void *arg)
{
    free(arg);
}

static struct peer_state *state_of(struct peer *p)
{
    struct peer_state *st = peer_worker_state(p);
    if (st != NULL)
        return st;
    st = calloc(1, sizeof *st);
    if (st == NULL) {
        node_log(LOG_ERROR, p, "out of memory for peer state; message dropped");
        return NULL;
    }
    peer_set_worker_state(p, st, state_destroy);
    return st;
}

/* ------------------------------------------------------------ JSON helpers */

/* True if j is an integer in [lo, hi]; stores it in *out. */
static bool get_uint(const json_t *j, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!json_is_integer(j))
        return false;
    json_int_t v = json_integer_value(j);
    if (v < 0 || (uint64_t)v < lo || (uint64_t)v > hi)
        return false;
    *out = (uint64_t)v;
    return true;
}

/* {"type": type, "payload": payload}; payload stolen. NULL on failure. */
static json_t *envelope(const char *type, json_t *payload)
{
    json_t *env = json_object();
    if (env == NULL || json_object_set_new(env, "type", json_string(type)) != 0) {
        json_decref(payload); /* not yet handed to env */
        json_decref(env);
        return NULL;
    }
    if (json_object_set_new(env, "payload", payload) != 0) { /* takes payload even on failure */
        json_decref(env);
        return NULL;
    }
    return env;
}

/* Bytes of j as peer_send writes it (compact), or SIZE_MAX on failure. */
static size_t json_size(const json_t *j)
{
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    return n == 0 ? SIZE_MAX : n;
}

/* What the blocks of one reply may take: the frame less the envelope. */
static size_t page_budget(const struct worker *w)
{
    size_t max = w->n->cfg.max_frame_bytes;
    return max > 2 * REPLY_ENVELOPE_SLACK_BYTES ? max - REPLY_ENVELOPE_SLACK_BYTES : max / 2;
}

/* peer_send_msg, payload stolen (NULL means we failed to build it). A failed
 * send is no error for the worker: the peer is closed or closing. */
static bool send_to(struct worker *w, struct peer *p, const char *type, json_t *payload)
{
    if (payload == NULL) {
        node_log(LOG_ERROR, p, "out of memory building %s; not sent", type);
        return false;
    }
    int rc = peer_send_msg(p, type, payload);
    if (rc == 0)
        return true;
    count(&w->stats.sends_failed);
    node_log(LOG_DEBUG, p, "%s not sent: %s", type, pc_strerror(rc));
    return false;
}

/* Misbehaviour for a payload of a known type with the wrong shape. */
static void malformed(struct worker *w, struct peer *p, const char *type, const char *what)
{
    char why[PC_ERR_REASON_BYTES];
    snprintf(why, sizeof why, "%s: %s", type, what);
    count_reject(w, PC_E_PROTOCOL);
    peer_misbehave(p, 50, PC_E_PROTOCOL, why);
}

/* Misbehaviour for invalid blocks: the core's code and reason go to the
 * peer. A foreign genesis means another network: disconnect, no ban. Running
 * out of memory is ours, not the peer's. A block too far in the future may
 * become valid as clocks move (an honest peer with a fast clock must not be
 * banned by everyone): dropped without a score. */
static void invalid(struct worker *w, struct peer *p, const struct pc_err *err)
{
    count_reject(w, err->code);
    if (err->code == PC_E_NOMEM)
        node_log(LOG_ERROR, p, "dropped blocks: %s", err->reason);
    else if (err->code == PC_E_STORE || err->code == PC_E_CORRUPT)
        node_log(LOG_DEBUG, p, "dropped blocks: not stored"); /* logged by store_commit */
    else if (err->code == PC_E_TIME_FUTURE)
        node_log(LOG_INFO, p, "dropped blocks, not remembered as invalid: %s", err->reason);
    else if (err->code == PC_E_GENESIS)
        peer_close(p, PC_E_NETWORK, err->reason);
    else
        peer_misbehave(p, 100, err->code, err->reason);
}

static void blocks_free(pc_block **blocks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pc_block_free(blocks[i]);
    free(blocks);
}

/* --------------------------------------------------------------- replies */

/* One stored block of a page: its JSON in the reader's snapshot. */
struct page_item {
    const char *json;
    size_t len;
};

/*
 * Builds a page of our blocks from height `from` on, at most `limit` of them
 * and at most the page budget in serialized bytes: a page holds at least one
 * block when one remains, unless that block alone cannot fit in a frame.
 * is_blocks_reply: {"type":"blocks","payload":{"blocks":[...],"tip":N}};
 * else {"type":"allBlock","payload":[...]}. The blocks are the store's
 * compact JSON, copied as they are (it is the wire form): nothing is parsed
 * or encoded again, and the chain worker keeps no old blocks in memory.
 * Returns the message (malloc'd, ending in '\n') and its length in *len, or
 * NULL (logged, naming p if not NULL).
 */
static char *build_page(struct worker *w, struct peer *p, bool is_blocks_reply, uint64_t from,
                        uint64_t limit, size_t *len, size_t *n_blocks)
{
    const char *type = is_blocks_reply ? "blocks" : "allBlock";
    const char *head = is_blocks_reply ? "{\"type\":\"blocks\",\"payload\":{\"blocks\":["
                                       : "{\"type\":\"allBlock\",\"payload\":[";
    struct pc_store_reader *rd = NULL;
    struct page_item *items = NULL;
    char *buf = NULL;
    struct pc_err err = {0};
    if (pc_store_reader_begin(w->n->store, &rd, &err) != 0) {
        node_log(LOG_ERROR, p, "%s not built: %s", type, err.reason);
        return NULL;
    }
    uint64_t tip = pc_store_reader_tip(rd);
    assert(tip == pc_chain_height(w->chain)); /* the worker is the only writer */
    if (limit > PC_GETBLOCKS_MAX_BLOCKS)
        limit = PC_GETBLOCKS_MAX_BLOCKS;
    items = malloc((limit ? limit : 1) * sizeof *items);
    if (items == NULL)
        goto nomem;
    size_t budget = page_budget(w), used = 2; /* "[]" */
    size_t n = 0;
    for (uint64_t h = from; h >= 1 && h <= tip && n < limit; h++) {
        const char *json;
        size_t jlen;
        int rc = pc_store_get_json(rd, h, &json, &jlen);
        if (rc != 0) {
            node_log(LOG_ERROR, p, "%s not built: block %" PRIu64 " unreadable: %s", type, h,
                     pc_strerror(rc));
            goto out;
        }
        size_t need = jlen + (n > 0);
        if (need > budget - used) {
            if (n == 0)
                node_log(LOG_WARN, NULL, "block %" PRIu64 " does not fit in a %zu-byte frame", h,
                         w->n->cfg.max_frame_bytes);
            break;
        }
        items[n].json = json;
        items[n].len = jlen;
        n++;
        used += need;
    }
    char tail[64];
    int tail_len = is_blocks_reply ? snprintf(tail, sizeof tail, "],\"tip\":%" PRIu64 "}}\n", tip)
                                   : snprintf(tail, sizeof tail, "]}\n");
    size_t head_len = strlen(head), total = head_len + (used - 2) + (size_t)tail_len;
    buf = malloc(total);
    if (buf == NULL)
        goto nomem;
    memcpy(buf, head, head_len);
    size_t off = head_len;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf[off++] = ',';
        memcpy(buf + off, items[i].json, items[i].len);
        off += items[i].len;
    }
    memcpy(buf + off, tail, (size_t)tail_len);
    assert(off + (size_t)tail_len == total);
    *len = total;
    if (n_blocks != NULL)
        *n_blocks = n;
    w->paged_bytes += total;
    if (w->paged_bytes >= TRIM_AFTER_PAGE_BYTES)
        w->trim_due = true;
    goto out;
nomem:
    node_log(LOG_ERROR, p, "out of memory building %s", type);
out:
    pc_store_reader_end(rd);
    free(items);
    return buf;
}

/* Sends p a page (build_page). */
static void send_page(struct worker *w, struct peer *p, bool is_blocks_reply, uint64_t from,
                      uint64_t limit)
{
    const char *type = is_blocks_reply ? "blocks" : "allBlock";
    size_t len;
    char *buf = build_page(w, p, is_blocks_reply, from, limit, &len, NULL);
    if (buf == NULL)
        return;
    if (peer_send_bytes(p, buf, len, type) != 0) {
        count(&w->stats.sends_failed);
        node_log(LOG_DEBUG, p, "%s not sent", type);
    }
    free(buf);
}

static void answer_latest(struct worker *w, struct peer *p)
{
    json_t *bj = pc_block_to_json(pc_chain_tip(w->chain));
    if (bj != NULL && json_size(bj) > page_budget(w)) {
        node_log(LOG_WARN, p, "our tip does not fit in a frame; latestBlock not answered");
        json_decref(bj);
        return;
    }
    send_to(w, p, "latestBlock", bj);
}

/* Announces our tip with latestBlock to the handshaked peers `to` names,
 * but `except`. */
static void announce_tip(struct worker *w, struct peer *except, enum broadcast_to to)
{
    json_t *env = envelope("latestBlock", pc_block_to_json(pc_chain_tip(w->chain)));
    if (env == NULL) {
        node_log(LOG_ERROR, NULL, "out of memory; new tip not announced");
        return;
    }
    if (json_size(env) > w->n->cfg.max_frame_bytes)
        node_log(LOG_WARN, NULL, "new tip does not fit in a frame; not announced");
    else
        node_broadcast(w->n, env, except, to);
    json_decref(env);
}

/*
 * Announces the blocks above fork_height (our chain as it is now) to every
 * handshaked peer but `except`: one new block as latestBlock; several, up to
 * ANNOUNCE_MAX_BLOCKS, as one allBlock offer to peerchain peers (seed-protocol
 * peers get latestBlock: their design takes an allBlock list as a whole
 * chain); more than that, or more than fit in one frame, as latestBlock,
 * which a peer answers by syncing.
 */
static void announce_blocks(struct worker *w, struct peer *except, uint64_t fork_height)
{
    uint64_t tip = pc_chain_height(w->chain);
    uint64_t n = tip > fork_height ? tip - fork_height : 1;
    if (n == 1 || n > ANNOUNCE_MAX_BLOCKS) {
        announce_tip(w, except, BROADCAST_ALL);
        return;
    }
    size_t len, got = 0;
    char *page = build_page(w, NULL, false, fork_height + 1, n, &len, &got);
    if (page == NULL || got != n) {
        /* Large blocks: the burst does not fit in one frame. Announce the
         * tip alone; peers that lack its parent fetch the blocks. */
        free(page);
        announce_tip(w, except, BROADCAST_ALL);
        return;
    }
    node_broadcast_bytes(w->n, page, len, "allBlock", except, BROADCAST_PEERCHAIN);
    free(page);
    announce_tip(w, except, BROADCAST_SEED);
}

/* Sends what announce_changed held back, once ANNOUNCE_GAP_MS has passed
 * since the last announcement (or at once with is_now). */
static void announce_flush(struct worker *w, bool is_now)
{
    if (!w->announce_due)
        return;
    int64_t now = node_mono_ms();
    if (!is_now && now - w->announced_ms < ANNOUNCE_GAP_MS)
        return;
    announce_blocks(w, w->announce_from, w->announce_fork);
    w->announced_ms = now;
    w->announce_due = false;
    if (w->announce_from != NULL)
        peer_unref(w->announce_from);
    w->announce_from = NULL;
}

/*
 * The tip changed: announce it, at most once per ANNOUNCE_GAP_MS. A change
 * after a quiet spell goes out at once (propagation pays nothing); changes
 * that follow it closely are merged and go out together when the gap has
 * passed (worker_main wakes for it), so a burst of blocks costs each peer
 * one message and one wake-up per gap instead of one per block.
 */
static void announce_changed(struct worker *w, struct peer *from, uint64_t fork_height)
{
    if (!w->announce_due) {
        w->announce_due = true;
        w->announce_fork = fork_height;
        w->announce_from = from;
        if (from != NULL)
            peer_ref(from);
    } else {
        if (fork_height < w->announce_fork)
            w->announce_fork = fork_height;
        if (from != w->announce_from && w->announce_from != NULL) {
            /* Sources differ: nobody is left out. */
            peer_unref(w->announce_from);
            w->announce_from = NULL;
        }
    }
    announce_flush(w, false);
}

/* The first half of tip_changed: the new tip is published (miner, API,
 * hellos) and counted. */
static void tip_publish(struct worker *w, uint64_t added, uint64_t removed)
{
    node_publish_tip(w->n, w->chain);
    atomic_store(&w->n->tip_changed, true); /* a cancel hint for the miner */
    w->chain_gen++;
    atomic_fetch_add_explicit(&w->stats.blocks_accepted, added, memory_order_relaxed);
    if (removed > 0)
        count(&w->stats.reorgs);
}

/* The second half: the log line and the announcement. */
static void tip_announce(struct worker *w, struct peer *from, uint64_t fork_height, uint64_t added,
                         uint64_t removed)
{
    const pc_block *tip = pc_chain_tip(w->chain);
    char hex[PC_HASH_HEX_CHARS + 1], how[96], src[32];
    pc_hash_to_hex(&tip->hash, hex);
    if (removed > 0)
        snprintf(how, sizeof how, "reorg from fork %" PRIu64 ", +%" PRIu64 "/-%" PRIu64 " blocks",
                 fork_height, added, removed);
    else if (added > 1)
        snprintf(how, sizeof how, "appended +%" PRIu64 " blocks", added);
    else
        snprintf(how, sizeof how, "appended");
    if (from != NULL)
        snprintf(src, sizeof src, "peer %" PRIu64, peer_id(from));
    else
        snprintf(src, sizeof src, "local");
    node_log(LOG_INFO, from, "height %" PRIu64 " hash %.16s (%s) from %s", tip->height, hex, how,
             src);
    announce_changed(w, from, fork_height);
}

/* Everything that follows a change of the tip. `from` is the source peer
 * (NULL: mined here); the chain forked at fork_height, gained `added` and
 * lost `removed` blocks. */
static void tip_changed(struct worker *w, struct peer *from, uint64_t fork_height, uint64_t added,
                        uint64_t removed)
{
    tip_publish(w, added, removed);
    tip_announce(w, from, fork_height, added, removed);
}

/*
 * Asks main to stop the node: the store keeps failing, or it and the chain in
 * memory no longer agree, and nothing safe is left to do. SIGTERM goes to the
 * process (raise() would pick this thread, where it is blocked) and so to
 * main's sigtimedwait, which shuts everything down in order; n->failed makes
 * main exit 1. What was committed stays committed: a restart resumes there.
 */
static void stop_node(struct worker *w, const char *why)
{
    if (atomic_exchange(&w->n->failed, true))
        return; /* asked already */
    node_log(LOG_ERROR, NULL, "stopping the node: %s", why);
    if (kill(getpid(), SIGTERM) != 0)
        node_log(LOG_ERROR, NULL, "cannot signal main: %s", strerror(errno));
}

/* pc_store_commit with the worker's bookkeeping: a failure is logged, and
 * WORKER_STORE_MAX_FAILURES of them in a row stop the node. Once the node
 * is stopping for a storage failure nothing more is written: the chain in
 * memory may be behind the store, and a commit from it would undo blocks
 * that are already on disk. */
static int store_commit(struct worker *w, uint64_t fork, const pc_block *const *blocks, size_t n,
                        struct pc_err *err)
{
    if (atomic_load(&w->n->failed))
        return pc_err_set(err, PC_E_STORE, "the node is stopping after a storage failure");
    int rc = pc_store_commit(w->n->store, fork, blocks, n, err);
    if (rc == 0) {
        w->store_failures = 0;
        return 0;
    }
    node_log(LOG_ERROR, NULL, "cannot store blocks %" PRIu64 "..%" PRIu64 "; chain unchanged: %s",
             fork + 1, fork + n, err->reason);
    if (++w->store_failures >= WORKER_STORE_MAX_FAILURES)
        stop_node(w, "the chain store keeps failing");
    return rc;
}

/* --sync-writes os: fsyncs what was committed since the last timer tick, so
 * a power loss takes at most about WORKER_POP_TIMEOUT_MS of blocks. A failed
 * fsync stops the node: the kernel may have dropped the pages it could not
 * write, so a later fsync that succeeds would prove nothing. */
static void store_flush(struct worker *w)
{
    struct pc_err err = {0};
    if (w->n->store == NULL || atomic_load(&w->n->failed) || pc_store_flush(w->n->store, &err) == 0)
        return;
    node_log(LOG_ERROR, NULL, "cannot sync the chain store to disk: %s", err.reason);
    stop_node(w, "the chain store cannot sync");
}

/* After a commit, the chain in memory could not follow (out of memory). */
static void chain_behind_store(struct worker *w, const struct pc_err *err)
{
    node_log(LOG_ERROR, NULL, "stored blocks not applied in memory: %s", err->reason);
    stop_node(w, "the chain in memory is behind the store");
}

/* Validates b as the next block, stores it, and appends it. 0: the chain
 * took b. Else the failure in err (a rule's code, or PC_E_STORE /
 * PC_E_CORRUPT / PC_E_NOMEM: ours) and the caller still owns b. */
static int append_durable(struct worker *w, pc_block *b, struct pc_err *err)
{
    int64_t now = node_unix_now();
    uint64_t height = pc_chain_height(w->chain);
    int rc = pc_chain_check_next(w->chain, b, now, err);
    if (rc != 0)
        return rc;
    const pc_block *one = b;
    rc = store_commit(w, height, &one, 1, err);
    if (rc != 0)
        return rc;
    /* The same check with the same `now`: only allocation can fail. */
    rc = pc_chain_append(w->chain, b, now, err);
    if (rc != 0)
        chain_behind_store(w, err);
    return rc;
}

/* Stores and adopts *brp (which must beat our chain) and frees it. 0 or the
 * failure (the chain is then untouched and *brp still ours). */
static int adopt(struct worker *w, pc_branch **brp, struct peer *from, struct pc_err *err)
{
    uint64_t fork = pc_branch_fork_height(*brp);
    size_t added = 0;
    const pc_block *const *blocks = pc_branch_blocks(*brp, &added);
    uint64_t removed = pc_chain_height(w->chain) - fork;
    if (!pc_branch_beats(*brp, w->chain))
        return pc_err_set(err, PC_E_LESS_WORK, "block %" PRIu64 ": branch does not beat our chain",
                          fork + added);
    int rc = store_commit(w, fork, blocks, added, err);
    if (rc != 0)
        return rc;
    rc = pc_chain_adopt(w->chain, *brp, NULL, NULL, err);
    if (rc != 0) {
        chain_behind_store(w, err);
        return rc;
    }
    pc_branch_free(*brp);
    *brp = NULL;
    if (added >= TRIM_AFTER_BLOCKS)
        w->trim_due = true;
    tip_changed(w, from, fork, added, removed);
    return 0;
}

/* ----------------------------------------------------------------- syncs */

static void sync_end(struct worker *w, struct peer_state *st, bool is_done, const char *why)
{
    struct sync *s = &st->sync;
    assert(s->kind != SYNC_NONE);
    struct peer *p = s->peer;
    node_log(LOG_INFO, p, "sync %s at height %" PRIu64 " (pages: %" PRIu64 "): %s",
             is_done ? "done" : "abandoned", pc_chain_height(w->chain), s->pages, why);
    count(is_done ? &w->stats.syncs_done : &w->stats.syncs_abandoned);
    pc_branch_free(s->branch);
    if (s->prev != NULL)
        s->prev->sync.next = s->next;
    else
        w->syncing = s->next;
    w->n_syncing--;
    if (s->next != NULL)
        s->next->sync.prev = s->prev;
    if (s->kind == SYNC_GETBLOCKS)
        st->owed_pages += s->in_flight + s->stale;
    memset(s, 0, sizeof *s);
    /* Last: this may free the peer, and st with it. */
    peer_unref(p);
}

/* The getBlocks payload of a sync: the last block received first, then our
 * own locator. NULL on allocation failure. */
static json_t *get_blocks_payload(const struct worker *w, const struct sync *s)
{
    pc_hash loc[PC_LOCATOR_MAX_HASHES];
    size_t k = 0;
    if (s->has_cursor)
        loc[k++] = s->cursor;
    k += pc_chain_locator(w->chain, loc + k, PC_LOCATOR_MAX_HASHES - k);
    size_t first_ours = s->has_cursor ? 1 : 0;
    if (first_ours == 1 && k > 1 && pc_hash_equal(&loc[0], &loc[1]))
        first_ours = 2; /* the cursor is our tip: say it once */

    json_t *arr = json_array();
    json_t *payload = json_object();
    bool is_ok = arr != NULL && payload != NULL;
    for (size_t i = 0; is_ok && i < k; i++) {
        if (i == 1 && first_ours == 2)
            continue;
        char hex[PC_HASH_HEX_CHARS + 1];
        pc_hash_to_hex(&loc[i], hex);
        is_ok = json_array_append_new(arr, json_string(hex)) == 0;
    }
    if (!is_ok) {
        json_decref(arr);
        json_decref(payload);
        return NULL;
    }
    if (json_object_set_new(payload, "locator", arr) != 0 ||
        json_object_set_new(payload, "limit", json_integer(PC_GETBLOCKS_MAX_BLOCKS)) != 0) {
        json_decref(payload);
        return NULL;
    }
    return payload;
}

/* The allBlock query of a sync with a seed peer: {} first (all that the seed
 * design understands), then page by page from past the last block received.
 * NULL on allocation failure. */
static json_t *all_block_payload(const struct sync *s)
{
    json_t *payload = json_object();
    if (payload == NULL || !s->has_cursor)
        return payload;
    if (json_object_set_new(payload, "from", json_integer((json_int_t)s->cursor_height + 1)) != 0 ||
        json_object_set_new(payload, "limit", json_integer(PC_GETBLOCKS_MAX_BLOCKS)) != 0) {
        json_decref(payload);
        return NULL;
    }
    return payload;
}

/* Sends the request for the next page. False if the peer cannot take it
 * (the sync is then over). */
static bool sync_request(struct worker *w, struct peer *p, struct peer_state *st)
{
    struct sync *s = &st->sync;
    bool is_getblocks = s->kind == SYNC_GETBLOCKS;
    json_t *payload = is_getblocks ? get_blocks_payload(w, s) : all_block_payload(s);
    s->requested_ms = node_mono_ms();
    s->requested_gen = w->chain_gen;
    if (send_to(w, p, is_getblocks ? "getBlocks" : "allBlock", payload)) {
        s->in_flight++;
        return true;
    }
    sync_end(w, st, false, "the request could not be sent");
    return false;
}

static void sync_start(struct worker *w, struct peer *p, struct peer_state *st, uint64_t target)
{
    struct sync *s = &st->sync;
    if (s->kind != SYNC_NONE)
        return;
    if (w->n_syncing >= SYNC_MAX_CONCURRENT) {
        node_log(LOG_DEBUG, p, "sync not started: %u already running", w->n_syncing);
        return;
    }
    memset(s, 0, sizeof *s);
    s->kind = peer_is_seed(p) ? SYNC_ALLBLOCK : SYNC_GETBLOCKS;
    if (s->kind == SYNC_GETBLOCKS) {
        s->stale = st->owed_pages; /* answers to an ended sync come first */
        st->owed_pages = 0;
    }
    s->target = target;
    peer_ref(p);
    s->peer = p;
    s->next = w->syncing;
    if (w->syncing != NULL)
        w->syncing->sync.prev = st;
    w->syncing = st;
    w->n_syncing++;
    count(&w->stats.syncs_started);
    node_log(LOG_INFO, p, "sync started: our height %" PRIu64 ", peer's %" PRIu64,
             pc_chain_height(w->chain), target);
    sync_request(w, p, st);
}

/* Starts the sync over from our current chain, after our chain moved under
 * it (not the peer's fault). */
static void sync_restart(struct worker *w, struct peer *p, struct peer_state *st)
{
    struct sync *s = &st->sync;
    if (++s->restarts > SYNC_MAX_RESTARTS) {
        sync_end(w, st, false, "our chain kept moving under it");
        return;
    }
    node_log(LOG_DEBUG, p, "sync restarts: our chain moved under it");
    s->stale += s->in_flight;
    s->in_flight = 0;
    pc_branch_free(s->branch);
    s->branch = NULL;
    s->branch_bytes = 0;
    s->has_cursor = false;
    sync_request(w, p, st);
}

static bool chain_has(const pc_chain *c, const pc_block *b)
{
    pc_hash ours;
    return pc_chain_hash_at(c, b->height, &ours) == 0 && pc_hash_equal(&ours, &b->hash);
}

/*
 * Validates one non-empty page of a sync into s->branch: it continues the
 * branch, or (skipping blocks we have) starts a new one where it links onto
 * our chain. Takes the blocks it keeps (their entries become NULL). 0, or the
 * failure in err; *is_orphan tells that the page links nowhere.
 */
static int sync_ingest(struct worker *w, struct sync *s, pc_block **blocks, size_t n,
                       struct pc_err *err, bool *is_orphan)
{
    *is_orphan = false;
    s->has_cursor = true;
    s->cursor = blocks[n - 1]->hash;
    s->cursor_height = blocks[n - 1]->height;

    size_t i = 0;
    const pc_block *btip = s->branch != NULL ? pc_branch_tip(s->branch) : NULL;
    if (btip == NULL || !pc_hash_equal(&blocks[0]->previous_hash, &btip->hash)) {
        while (i < n && chain_has(w->chain, blocks[i]))
            i++;
        if (i == n)
            return 0; /* nothing new in this page */
        const pc_block *first = blocks[i];
        pc_hash parent;
        if (first->height == 1)
            return pc_err_set(err, PC_E_GENESIS, "block 1: genesis is not this network's");
        if (pc_chain_hash_at(w->chain, first->height - 1, &parent) != 0 ||
            !pc_hash_equal(&parent, &first->previous_hash)) {
            *is_orphan = true;
            return pc_err_set(err, PC_E_NO_FORK_POINT,
                              "block %" PRIu64 ": does not link onto our chain or the sync",
                              first->height);
        }
        /* A fresh start on our chain: the peer's answer after a reorg on
         * its side, or the first page. */
        pc_branch_free(s->branch);
        s->branch_bytes = 0;
        s->branch = pc_branch_new(w->chain, first->height - 1);
        if (s->branch == NULL)
            return pc_err_set(err, PC_E_NOMEM, "out of memory for a sync branch");
    }
    /* pc_branch_extend checks each link (height, previousHash), so a page
     * that is not consecutive fails here. */
    for (; i < n; i++) {
        size_t bytes = SYNC_BLOCK_OVERHEAD_BYTES;
        for (size_t k = 0; k < blocks[i]->n_data; k++)
            bytes += blocks[i]->data_len[k];
        int rc = pc_branch_extend(s->branch, w->chain, blocks[i], node_unix_now(), err);
        if (rc != 0)
            return rc;
        blocks[i] = NULL; /* the branch owns it */
        s->branch_bytes += bytes;
    }
    return 0;
}

/* Adopts the sync's branch if it beats our chain. False if the adoption
 * failed (then the sync has been ended). */
static bool sync_adopt_if_better(struct worker *w, struct peer *p, struct peer_state *st)
{
    struct sync *s = &st->sync;
    struct pc_err err = {0};
    if (s->branch == NULL || !pc_branch_beats(s->branch, w->chain))
        return true;
    if (adopt(w, &s->branch, p, &err) == 0)
        return true;
    node_log(LOG_ERROR, p, "cannot adopt the sync branch: %s", err.reason);
    sync_end(w, st, false, err.reason);
    return false;
}

/* The sync is over: fork choice on what it fetched. */
static void sync_finish(struct worker *w, struct peer *p, struct peer_state *st, const char *why)
{
    if (!sync_adopt_if_better(w, p, st))
        return;
    sync_end(w, st, true,
             st->sync.branch != NULL ? "the branch has no more work than ours; dropped" : why);
}

/*
 * One page of a sync arrived (blocks taken: the caller keeps the array and
 * frees what is left in it). Asks for the next page, validates this one into
 * the branch, and adopts the branch as soon as it has more work than our
 * chain (docs/protocol.md, getBlocks / blocks); when the peer has no more,
 * the sync ends. A branch that reaches SYNC_MAX_BRANCH_BLOCKS or
 * SYNC_MAX_BRANCH_BYTES without beating our chain ends the sync.
 */
static void sync_page(struct worker *w, struct peer *p, struct peer_state *st, pc_block **blocks,
                      size_t n)
{
    struct sync *s = &st->sync;
    if (s->in_flight > 0)
        s->in_flight--;
    if (s->stale > 0) {
        s->stale--;
        node_log(LOG_DEBUG, p, "sync page from before a restart dropped");
        return;
    }
    s->pages++;
    if (n == 0) {
        sync_finish(w, p, st, "the peer has no more blocks");
        return;
    }
    uint64_t before = s->has_cursor ? s->cursor_height : 0;
    /* Ask for the next page now, so that the peer serves it and our reader
     * parses it while this one is validated. If this page turns out bad,
     * the sync ends (the answer is then unsolicited) or restarts (the
     * answer is stale). */
    const pc_block *last = blocks[n - 1];
    bool is_asked = false;
    if (s->in_flight == 0 && last->height < s->target && last->height > before) {
        s->has_cursor = true;
        s->cursor = last->hash;
        s->cursor_height = last->height;
        if (!sync_request(w, p, st))
            return;
        is_asked = true;
    }
    struct pc_err err = {0};
    bool is_orphan;
    int rc = sync_ingest(w, s, blocks, n, &err, &is_orphan);
    if (rc == PC_E_NO_FORK_POINT) {
        /* Our fork block went away, our locator went stale, or this is a late
         * answer to an earlier, abandoned request (pages carry no request
         * id): none of it proves the peer wrong. Start over, a bounded
         * number of times. */
        (void)is_orphan;
        sync_restart(w, p, st);
        return;
    }
    if (rc != 0) {
        invalid(w, p, &err);
        sync_end(w, st, false, err.reason);
        return;
    }
    if (s->cursor_height >= s->target || s->cursor_height <= before) {
        sync_finish(w, p, st, "reached the peer's tip");
        return;
    }
    /* Adopt as soon as the branch beats our chain: memory stays one page
     * deep, and what was fetched is kept if the peer goes away. */
    if (!sync_adopt_if_better(w, p, st))
        return;
    if (s->branch != NULL && (pc_branch_length(s->branch) >= SYNC_MAX_BRANCH_BLOCKS ||
                              s->branch_bytes >= SYNC_MAX_BRANCH_BYTES)) {
        sync_end(w, st, false, "the branch reached its cap without more work than ours");
        return;
    }
    if (!is_asked)
        sync_request(w, p, st);
}

/* Ends a sync whose peer went away or silent. What it fetched is valid, so
 * it is kept if it beats our chain: a flaky peer cannot make a long sync
 * start over forever. */
static void sync_abandon(struct worker *w, struct peer_state *st, const char *why)
{
    if (sync_adopt_if_better(w, st->sync.peer, st))
        sync_end(w, st, false, why);
}

/* Abandons syncs whose peer stopped answering (or is closing). */
static void sync_timers(struct worker *w)
{
    int64_t now = node_mono_ms();
    struct peer_state *st = w->syncing, *next;
    for (; st != NULL; st = next) {
        next = st->sync.next; /* sync_end may free st */
        if (peer_is_closing(st->sync.peer))
            sync_abandon(w, st, "the peer is closing");
        else if (now - st->sync.requested_ms > SYNC_TIMEOUT_MS)
            sync_abandon(w, st, "no answer for 30 s");
    }
}

/* ------------------------------------------------------- block messages */

/* An unsolicited list of blocks (an allBlock offer): fork choice on the
 * whole list. A list that links nowhere but reaches higher than our tip is
 * fetched from the peer. */
static bool was_judged(const struct worker *w, const pc_hash *tip)
{
    for (unsigned i = 0; i < JUDGED_OFFERS; i++)
        if (pc_hash_equal(&w->judged[i], tip))
            return true;
    return false;
}

static void offer_blocks(struct worker *w, struct peer *p, struct peer_state *st, pc_block **blocks,
                         size_t n)
{
    struct pc_err err = {0};
    pc_branch *br = NULL;
    uint64_t last = blocks[n - 1]->height;
    pc_hash last_hash = blocks[n - 1]->hash;
    if (was_judged(w, &last_hash)) {
        node_log(LOG_DEBUG, p, "offered blocks ignored: judged before");
        return;
    }
    int rc = pc_chain_evaluate(w->chain, blocks, n, node_unix_now(), &br, &err);
    if (rc == 0) {
        if (adopt(w, &br, p, &err) != 0)
            node_log(LOG_ERROR, p, "cannot adopt offered blocks: %s", err.reason);
        pc_branch_free(br);
    } else if (rc == PC_E_LESS_WORK) {
        node_log(LOG_DEBUG, p, "offered blocks ignored: %s", err.reason);
        w->judged[w->judged_next] = last_hash;
        w->judged_next = (w->judged_next + 1) % JUDGED_OFFERS;
    } else if (rc == PC_E_NO_FORK_POINT) {
        if (last > pc_chain_height(w->chain))
            sync_start(w, p, st, last);
    } else {
        invalid(w, p, &err);
    }
}

static void on_latest_block(struct worker *w, struct peer *p, struct peer_state *st,
                            const json_t *payload)
{
    if (payload == NULL || json_is_null(payload) ||
        (json_is_object(payload) && json_object_size(payload) == 0)) {
        answer_latest(w, p);
        return;
    }
    if (!json_is_object(payload)) {
        malformed(w, p, "latestBlock", "payload is neither a query nor a block");
        return;
    }
    pc_block *b = NULL;
    struct pc_err err = {0};
    if (pc_block_from_json(payload, &b, &err) != 0) {
        invalid(w, p, &err);
        return;
    }
    if (b->height > st->claimed_height)
        st->claimed_height = b->height;
    const pc_block *tip = pc_chain_tip(w->chain);
    uint64_t height = tip->height;
    if (chain_has(w->chain, b)) {
        /* already ours */
    } else if (pc_hash_equal(&b->previous_hash, &tip->hash)) {
        if (append_durable(w, b, &err) == 0) {
            b = NULL; /* the chain's now */
            st->blocks_accepted++;
            tip_changed(w, p, height, 1, 0);
        } else {
            invalid(w, p, &err);
        }
    } else if (b->height > height) {
        if (st->sync.kind != SYNC_NONE) {
            if (b->height > st->sync.target)
                st->sync.target = b->height;
        } else {
            sync_start(w, p, st, b->height);
        }
    }
    pc_block_free(b);
}

/* An allBlock query: {}, null, [] or {"from": H, "limit": L}. False if the
 * payload is none of these. */
static bool parse_all_block_query(const json_t *payload, uint64_t *from, uint64_t *limit)
{
    *from = 1;
    *limit = PC_GETBLOCKS_MAX_BLOCKS;
    if (payload == NULL || json_is_null(payload))
        return true;
    if (json_is_array(payload))
        return json_array_size(payload) == 0;
    if (!json_is_object(payload))
        return false;
    const json_t *f = json_object_get(payload, "from"), *l = json_object_get(payload, "limit");
    if (f != NULL && !get_uint(f, 1, PC_MAX_SAFE_INTEGER, from))
        return false;
    if (l != NULL && !get_uint(l, 1, PC_MAX_SAFE_INTEGER, limit))
        return false;
    if (*limit > PC_GETBLOCKS_MAX_BLOCKS)
        *limit = PC_GETBLOCKS_MAX_BLOCKS;
    return true;
}

static void on_all_block(struct worker *w, struct peer *p, struct peer_state *st,
                         const json_t *payload)
{
    bool is_awaited = st->sync.kind == SYNC_ALLBLOCK;
    if (json_is_array(payload) && json_array_size(payload) == 0 && is_awaited) {
        /* The empty answer to our own query, not a query. */
        sync_page(w, p, st, NULL, 0);
        return;
    }
    uint64_t from, limit;
    if (!json_is_array(payload) || json_array_size(payload) == 0) {
        if (parse_all_block_query(payload, &from, &limit))
            send_page(w, p, false, from, limit);
        else
            malformed(w, p, "allBlock", "payload is neither a query nor a list of blocks");
        return;
    }
    /* Seed-protocol peers send their whole chain in one allBlock; peerchain
     * peers page theirs (protocol.md). */
    size_t max = peer_is_seed(p) ? w->n->cfg.max_frame_bytes / MIN_BLOCK_JSON_BYTES
                                 : PC_GETBLOCKS_MAX_BLOCKS;
    pc_block **blocks = NULL;
    size_t n = 0;
    struct pc_err err = {0};
    if (json_array_size(payload) > max) {
        malformed(w, p, "allBlock", "more blocks than one page may hold");
        if (is_awaited)
            sync_end(w, st, false, "page too long");
        return;
    }
    if (pc_blocks_from_json(payload, max, &blocks, &n, &err) != 0) {
        invalid(w, p, &err);
        if (is_awaited)
            sync_end(w, st, false, err.reason);
        return;
    }
    if (n > 0 && blocks[n - 1]->height > st->claimed_height)
        st->claimed_height = blocks[n - 1]->height;
    /* Consecutiveness: pc_chain_evaluate checks the whole offer first;
     * a sync page fails on the first link that does not hold. */
    if (is_awaited)
        sync_page(w, p, st, blocks, n);
    else
        offer_blocks(w, p, st, blocks, n);
    blocks_free(blocks, n);
}

static void on_get_blocks(struct worker *w, struct peer *p, const json_t *payload)
{
    const json_t *arr = json_object_get(payload, "locator");
    const json_t *lim = json_object_get(payload, "limit");
    size_t k = json_array_size(arr);
    uint64_t limit = PC_GETBLOCKS_MAX_BLOCKS;
    if (!json_is_object(payload) || !json_is_array(arr) || k < 1 || k > PC_LOCATOR_MAX_HASHES ||
        (lim != NULL && !get_uint(lim, 1, PC_GETBLOCKS_MAX_BLOCKS, &limit))) {
        malformed(w, p, "getBlocks", "needs a locator of 1 to 64 hashes and a limit of 1 to 2000");
        return;
    }
    pc_hash loc[PC_LOCATOR_MAX_HASHES];
    for (size_t i = 0; i < k; i++) {
        const json_t *h = json_array_get(arr, i);
        if (!json_is_string(h) ||
            pc_hash_from_hex(json_string_value(h), json_string_length(h), &loc[i]) != 0) {
            malformed(w, p, "getBlocks", "a locator entry is not a 64-hex hash");
            return;
        }
    }
    uint64_t found = pc_chain_locate(w->chain, loc, k);
    send_page(w, p, true, (found ? found : 1) + 1, limit);
}

/* m's blocks were decoded by the reader (msg.blocks) or are still in the
 * payload; either way the worker judges them. */
static void on_blocks(struct worker *w, struct peer *p, struct peer_state *st, struct msg *m)
{
    const json_t *payload = json_object_get(m->body, "payload");
    const json_t *arr = json_object_get(payload, "blocks");
    uint64_t tip;
    if (!json_is_object(payload) || (m->blocks == NULL && !json_is_array(arr)) ||
        !get_uint(json_object_get(payload, "tip"), 1, PC_MAX_SAFE_INTEGER, &tip)) {
        malformed(w, p, "blocks", "needs a blocks array and a tip height");
        return;
    }
    if (m->blocks == NULL && json_array_size(arr) > PC_GETBLOCKS_MAX_BLOCKS) {
        malformed(w, p, "blocks", "more blocks than asked for");
        return;
    }
    if (st->sync.kind != SYNC_GETBLOCKS) {
        if (st->owed_pages > 0)
            st->owed_pages--; /* the late answer to an ended sync */
        node_log(LOG_DEBUG, p, "unsolicited blocks page ignored");
        return;
    }
    pc_block **blocks = NULL;
    size_t n = 0;
    struct pc_err err = {0};
    if (m->blocks != NULL) {
        blocks = m->blocks; /* taken */
        n = m->n_blocks;
        m->blocks = NULL;
        m->n_blocks = 0;
    } else if (pc_blocks_from_json(arr, PC_GETBLOCKS_MAX_BLOCKS, &blocks, &n, &err) != 0) {
        invalid(w, p, &err);
        sync_end(w, st, false, err.reason);
        return;
    }
    st->sync.target = tip;
    if (tip > st->claimed_height)
        st->claimed_height = tip;
    sync_page(w, p, st, blocks, n);
    blocks_free(blocks, n);
}

/* ------------------------------------------------------- other messages */

static void on_hello(struct worker *w, struct peer *p, struct peer_state *st, const json_t *body)
{
    const json_t *payload = json_object_get(body, "payload");
    const json_t *work = json_object_get(payload, "work");
    uint64_t height = 0;
    /* The reader checked the shape; stay careful all the same. */
    if (!get_uint(json_object_get(payload, "height"), 1, PC_MAX_SAFE_INTEGER, &height) ||
        !json_is_string(work) ||
        pc_work_from_hex(json_string_value(work), json_string_length(work), &st->claimed_work) !=
            0) {
        node_log(LOG_WARN, p, "hello without a readable height and work; no sync");
        pc_work_zero(&st->claimed_work);
    }
    st->claimed_height = height;
    send_to(w, p, "getPeers", json_object());
    pc_work ours;
    pc_chain_work(w->chain, &ours);
    if (pc_work_cmp(&st->claimed_work, &ours) > 0)
        sync_start(w, p, st, height);
}

static void on_peers(struct worker *w, struct peer *p, const json_t *payload)
{
    const json_t *arr = json_object_get(payload, "peers");
    if (!json_is_object(payload) || !json_is_array(arr) ||
        json_array_size(arr) > PC_MAX_PEERS_PER_MESSAGE) {
        malformed(w, p, "peers", "needs a peers array of at most 100 addresses");
        return;
    }
    size_t i;
    const json_t *a;
    json_array_foreach(arr, i, a)
    {
        /* Only IP literals from gossip: a name would make a connector block
         * in a resolver a stranger chose (and delay our shutdown). Names
         * come from the command line and the API. */
        struct addr_target t;
        unsigned char ipbuf[16];
        if (!json_is_string(a) || addr_parse(json_string_value(a), &t, NULL) != 0 ||
            inet_pton(t.is_v6 ? AF_INET6 : AF_INET, t.host, ipbuf) != 1)
            continue;
        int rc = node_add_peer(w->n, json_string_value(a));
        if (rc == 0)
            node_log(LOG_DEBUG, p, "learnt peer %s", json_string_value(a));
    }
}

static void on_error(struct peer *p, const json_t *payload)
{
    const char *code = json_string_value(json_object_get(payload, "code"));
    const char *reason = json_string_value(json_object_get(payload, "reason"));
    node_log(LOG_INFO, p, "peer sent error %s: %s", code ? code : "?", reason ? reason : "");
}

static enum wtype peer_msg_type(const char *type)
{
    static const enum wtype known[] = {WT_LATEST_BLOCK, WT_ALL_BLOCK, WT_GET_BLOCKS, WT_BLOCKS,
                                       WT_GET_PEERS,    WT_PEERS,     WT_ERROR,      WT_PONG};
    for (size_t i = 0; type != NULL && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(type, wtype_names[known[i]]) == 0)
            return known[i];
    return WT_UNKNOWN;
}

static void on_peer_message(struct worker *w, struct peer *p, struct peer_state *st, struct msg *m)
{
    const json_t *payload = json_object_get(m->body, "payload");
    enum wtype t = peer_msg_type(m->type);
    /* A seed-protocol peer is served only latestBlock and allBlock. */
    if (peer_is_seed(p) && t != WT_LATEST_BLOCK && t != WT_ALL_BLOCK)
        t = WT_UNKNOWN;
    count(&w->stats.handled[t]);
    switch (t) {
    case WT_LATEST_BLOCK:
        on_latest_block(w, p, st, payload);
        break;
    case WT_ALL_BLOCK:
        on_all_block(w, p, st, payload);
        break;
    case WT_GET_BLOCKS:
        on_get_blocks(w, p, payload);
        break;
    case WT_BLOCKS:
        on_blocks(w, p, st, m);
        break;
    case WT_GET_PEERS:
        send_to(w, p, "peers", json_pack("{s:o}", "peers", node_peer_addresses(w->n)));
        break;
    case WT_PEERS:
        on_peers(w, p, payload);
        break;
    case WT_ERROR:
        on_error(p, payload);
        break;
    default: /* pong, unknown types: counted, nothing else */
        node_log(LOG_DEBUG, p, "ignored %s", m->type ? m->type : "(no type)");
        break;
    }
}

/* --------------------------------------------------------- local blocks */

/* Fills the waiter's request and wakes it; the request is not touched after
 * the unlock. block_json is stolen. */
static void complete_request(struct mine_request *req, int result, json_t *block_json,
                             const struct pc_err *err)
{
    sync_lock(&req->mu);
    req->result = result;
    req->block_json = block_json;
    if (err != NULL)
        req->err = *err;
    req->done = true;
    sync_signal(&req->done_cv);
    sync_unlock(&req->mu);
}

static void on_local_block(struct worker *w, struct msg *m, bool is_stopping)
{
    struct pc_err err = {0};
    json_t *bj = NULL;
    int rc;
    bool accepted = false;
    uint64_t height = pc_chain_height(w->chain);
    if (is_stopping) {
        rc = pc_err_set(&err, PC_E_SHUTDOWN, "the node is shutting down");
    } else if (m->block == NULL) {
        rc = pc_err_set(&err, PC_E_ARG, "local block message without a block");
    } else {
        rc = append_durable(w, m->block, &err);
        if (rc == 0) {
            m->block = NULL; /* the chain's now */
            accepted = true;
            tip_publish(w, 1, 0);
            if (m->req != NULL)
                bj = pc_block_to_json(pc_chain_tip(w->chain));
        } else {
            count_reject(w, rc);
            bool is_stale = rc == PC_E_PREV_HASH || rc == PC_E_HEIGHT;
            node_log(is_stale ? LOG_DEBUG : LOG_WARN, NULL, "local block rejected: %s: %s",
                     pc_errname(rc), err.reason);
        }
    }
    /* The waiter hears as soon as the block is committed and published; the
     * announcement (JSON, a send per peer) need not delay its answer. */
    if (m->req != NULL)
        complete_request(m->req, rc, bj, &err);
    if (accepted)
        tip_announce(w, NULL, height, 1, 0);
}

/* ------------------------------------------------------------- the loop */

static void handle(struct worker *w, struct msg *m, bool is_stopping)
{
    struct peer *p = m->peer;
    if (m->kind == MSG_LOCAL_BLOCK) {
        count(&w->stats.handled[WT_LOCAL_BLOCK]);
        on_local_block(w, m, is_stopping);
        return;
    }
    if (p == NULL) {
        assert(false && "a peer message without a peer");
        return;
    }
    struct peer_state *st = peer_worker_state(p);
    if (m->kind == MSG_DISCONNECTED) {
        count(&w->stats.handled[WT_DISCONNECTED]);
        if (st != NULL && st->sync.kind != SYNC_NONE)
            sync_abandon(w, st, "the peer disconnected");
        return; /* st itself goes with the peer */
    }
    /* A peer that only hung up still had its say: what it sent before its
     * FIN is handled (replies to it just fail). One we closed for cause is
     * not heard any more. */
    if (is_stopping || peer_is_rejected(p)) {
        count(&w->stats.handled[WT_DROPPED]);
        return;
    }
    if (st == NULL && (st = state_of(p)) == NULL)
        return;
    st->msgs++;
    switch (m->kind) {
    case MSG_HELLO:
        count(&w->stats.handled[WT_HELLO]);
        on_hello(w, p, st, m->body);
        break;
    case MSG_SEED_PEER:
        count(&w->stats.handled[WT_SEED_PEER]);
        node_log(LOG_DEBUG, p, "speaks the seed protocol");
        break;
    case MSG_PEER:
        on_peer_message(w, p, st, m);
        break;
    default:
        assert(false && "unexpected message kind");
        break;
    }
}

static bool queue_is_closed(struct msg_queue *q)
{
    sync_lock(&q->mu);
    bool closed = q->closing;
    sync_unlock(&q->mu);
    return closed;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct msg_queue *q = &w->n->queue;
    int64_t next_timers_ms = node_mono_ms() + WORKER_POP_TIMEOUT_MS;
    for (;;) {
        /* Wake for a held-back announcement when its gap has passed. */
        int timeout_ms = WORKER_POP_TIMEOUT_MS;
        if (w->announce_due) {
            int64_t left = w->announced_ms + ANNOUNCE_GAP_MS - node_mono_ms();
            timeout_ms = left < 0 ? 0 : left < timeout_ms ? (int)left : timeout_ms;
        }
        struct msg *m = queue_pop(q, timeout_ms);
        if (m != NULL) {
            handle(w, m, atomic_load(&w->n->stopping));
            msg_free(m);
        } else if (atomic_load(&w->quit) || queue_is_closed(q)) {
            break;
        }
        announce_flush(w, false);
        if (node_mono_ms() >= next_timers_ms) {
            sync_timers(w);
            store_flush(w);
            if (w->trim_due) {
                malloc_trim(0);
                w->trim_due = false;
                w->paged_bytes = 0;
            }
            next_timers_ms = node_mono_ms() + WORKER_POP_TIMEOUT_MS;
        }
    }
    /* The queue is closed: it takes nothing new, so this empties it for
     * good. Mining requests still queued learn that we are stopping. */
    struct msg *m;
    while ((m = queue_pop(q, 0)) != NULL) {
        handle(w, m, true);
        msg_free(m);
    }
    announce_flush(w, true);
    while (w->syncing != NULL)
        sync_end(w, w->syncing, false, "shutting down");
    return NULL;
}

/* ----------------------------------------------------------- start, stop */

struct load_ctx {
    pc_chain *c;
    struct pc_err *err;
};

/* pc_store_scan_headers callback: one stored header into the index. */
static int load_header(void *arg, uint64_t height, const struct pc_store_header *h)
{
    struct load_ctx *ctx = arg;
    if (height == 1) {
        pc_hash genesis;
        if (pc_chain_hash_at(ctx->c, 1, &genesis) != 0 || !pc_hash_equal(&genesis, &h->hash))
            return pc_err_set(ctx->err, PC_E_CORRUPT, "store: genesis header is not the network's");
        return 0;
    }
    int rc = pc_chain_load_header(ctx->c, &h->hash, h->timestamp, h->difficulty);
    if (rc == PC_E_NOMEM)
        return pc_err_set(ctx->err, rc, "out of memory loading header %" PRIu64, height);
    if (rc != 0)
        return pc_err_set(ctx->err, PC_E_CORRUPT,
                          "store: header %" PRIu64 " is damaged (repeated hash or bad difficulty)",
                          height);
    return 0;
}

/* The index chain from the store: every header record (no block is read,
 * parsed or hashed), then the tip block. pc_store_open has already checked
 * the tail of the chain. */
static int load_chain(struct node *n, pc_chain **out, struct pc_err *err)
{
    struct pc_store_reader *rd = NULL;
    pc_block *tip = NULL;
    *out = NULL;
    pc_chain *c = pc_chain_new_index(n->cfg.net);
    if (c == NULL)
        return pc_err_set(err, PC_E_NOMEM, "out of memory for the chain");
    struct load_ctx ctx = {c, err};
    /* One allocation for the whole index, not a rehash at every doubling. */
    int rc = pc_chain_reserve(c, pc_store_tip_height(n->store));
    if (rc != 0)
        rc = pc_err_set(err, rc, "out of memory for a chain of %" PRIu64 " blocks",
                        pc_store_tip_height(n->store));
    if (rc == 0)
        rc = pc_store_scan_headers(n->store, load_header, &ctx, err);
    if (rc == 0 && pc_chain_height(c) > 1) {
        rc = pc_store_reader_begin(n->store, &rd, err);
        if (rc == 0)
            rc = pc_store_get_block(rd, pc_chain_height(c), &tip, err);
        if (rc == 0 && pc_chain_load_tip(c, tip) != 0)
            rc = pc_err_set(err, PC_E_CORRUPT,
                            "store: tip block %" PRIu64 " differs from its header",
                            pc_chain_height(c));
        else if (rc == 0)
            tip = NULL; /* the chain's now */
    }
    pc_store_reader_end(rd);
    pc_block_free(tip);
    if (rc != 0) {
        pc_chain_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int worker_start(struct node *n)
{
    if (n->store == NULL) {
        node_log(LOG_ERROR, NULL, "the chain worker needs an open store");
        return PC_E_ARG;
    }
    struct worker *w = calloc(1, sizeof *w); /* zero counters: atomics of all-zero bits */
    if (w == NULL)
        return PC_E_NOMEM;
    w->n = n;
    atomic_init(&w->quit, false);
    int64_t t0 = node_mono_ms();
    struct pc_err err = {0};
    int lrc = load_chain(n, &w->chain, &err);
    if (lrc != 0) {
        node_log(LOG_ERROR, NULL, "cannot load the chain from %s: %s", n->cfg.datadir, err.reason);
        free(w);
        return lrc;
    }
    node_log(LOG_INFO, NULL, "chain loaded from %s: height %" PRIu64 " in %" PRId64 " ms",
             n->cfg.datadir, pc_chain_height(w->chain), node_mono_ms() - t0);
    node_publish_tip(n, w->chain);
    n->worker = w;
    int rc = sync_thread_start(&w->thread, 0, "pc-chain", worker_main, w);
    if (rc != 0) {
        n->worker = NULL;
        pc_chain_free(w->chain);
        free(w);
        return rc;
    }
    return 0;
}

void worker_stop(struct node *n)
{
    struct worker *w = n->worker;
    if (w == NULL)
        return;
    atomic_store(&w->quit, true);
    sync_check(pthread_join(w->thread, NULL), "pthread_join pc-chain");
    uint64_t accepted = atomic_load(&w->stats.blocks_accepted);
    node_log(LOG_INFO, NULL,
             "chain worker stopped at height %" PRIu64 " (%" PRIu64 " blocks accepted)",
             pc_chain_height(w->chain), accepted);
    pc_chain_free(w->chain);
    free(w);
    n->worker = NULL;
}

_Static_assert(REJECT_CODE_SLOTS == WORKER_REJECT_SLOTS, "node.h and worker.c disagree on slots");

void worker_read_counters(struct node *n, struct worker_counters *out)
{
    memset(out, 0, sizeof *out);
    struct worker *w = n->worker;
    if (w == NULL)
        return;
    const struct worker_stats *s = &w->stats;
    out->blocks_accepted = atomic_load_explicit(&s->blocks_accepted, memory_order_relaxed);
    out->reorgs = atomic_load_explicit(&s->reorgs, memory_order_relaxed);
    out->syncs_started = atomic_load_explicit(&s->syncs_started, memory_order_relaxed);
    out->syncs_done = atomic_load_explicit(&s->syncs_done, memory_order_relaxed);
    out->syncs_abandoned = atomic_load_explicit(&s->syncs_abandoned, memory_order_relaxed);
    for (int i = 0; i < REJECT_CODE_SLOTS; i++)
        out->rejected[i] = atomic_load_explicit(&s->rejected[i], memory_order_relaxed);
}
