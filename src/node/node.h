/*
 * peerchaind internals: the contract between the network side (acceptor,
 * connectors, connection threads, peers, queue: net.c, peer.c, queue.c) and
 * the chain side (chain worker and miner: worker.c, mining.c).
 *
 * Threads (docs/architecture.md has the picture):
 *   main        parses options, starts everything, waits for SIGINT/SIGTERM,
 *               reaps finished connection threads, stops and joins all.
 *   pc-acceptor owns the listening socket; blocking accept(); one reader
 *               thread per inbound connection.
 *   pc-conn-N   one per outbound address: dials (getaddrinfo at every dial),
 *               runs the reader loop itself, redials with capped backoff.
 *   pc-in-N     reader of inbound connection N.
 *   pc-wr-N     writer of connection N: drains the peer's bounded send queue.
 *   pc-chain    the chain worker: the only thread that touches the pc_chain.
 *   pc-miner    optional (--mine): mines on the published tip.
 *
 * Readers frame bytes, parse JSON, shape-check the envelope, handle the
 * handshake (network, genesis, self-connection) and ping/pong, and push
 * everything else onto the one shared queue. They do no chain logic.
 *
 * Lock order for the whole node (never take a lock listed earlier while
 * holding one listed later):
 *   node.peers_mu  ->  queue.mu  ->  peer.mu  ->  node.tip_mu  ->  node.bans_mu
 *   -> log lock (innermost)
 * No lock is ever held across send/recv/accept/connect/getaddrinfo or while
 * waiting on a condvar tied to another lock.
 */
#ifndef PC_NODE_H
#define PC_NODE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "peerchain/peerchain.h"

struct peer;
struct pc_store;
struct node;

/* ------------------------------------------------------------------ options */

#define PC_MAX_CONFIG_PEERS 64
#define PC_BIND_ADDR_BYTES 64
#define PC_MAX_PATH_BYTES 1024

struct node_config { /* immutable after start */
    const pc_network *net;
    char bind_addr[PC_BIND_ADDR_BYTES]; /* "" = all addresses (IPv6 any + IPv4) */
    int p2p_port;                       /* 0 = ephemeral (printed in the log) */
    char *peers[PC_MAX_CONFIG_PEERS];   /* "host:port" / "[v6]:port"; owned */
    size_t n_peers;
    int max_inbound;           /* default 128 */
    int max_inbound_per_ip;    /* inbound connections from one address, default 16 */
    int max_outbound;          /* default 16 (connector threads, incl. discovered) */
    size_t max_frame_bytes;    /* default PC_DEFAULT_MAX_FRAME_BYTES */
    size_t queue_share_bytes;  /* one peer's share of the shared queue, default 8 MiB */
    size_t queue_share_msgs;   /* ... in messages, default 1024 */
    size_t send_queue_bytes;   /* per-peer send queue cap, default 16 MiB */
    int handshake_timeout_ms;  /* first message must arrive within, default 10000 */
    int idle_timeout_ms;       /* no message for this long -> disconnect, default 120000 */
    int ban_seconds;           /* default 3600 */
    bool mine;                 /* --mine */
    int mine_interval_ms;      /* pause between mined blocks, default 1000 (0 = none) */
    uint64_t mine_blocks;      /* --mine-blocks: stop mining after this many (0 = no limit) */
    int log_level;             /* LOG_ERROR..LOG_DEBUG */
    size_t thread_stack_bytes; /* connection threads, default 256 KiB */
    char *port_file;           /* if set, write the bound P2P port here once listening */
    char *datadir;             /* chain storage; never NULL after opts_parse; owned */
    int sync_writes;           /* enum pc_store_sync: --sync-writes, else by network */
    bool api;                  /* start the HTTP API (--no-api clears it) */
    char api_bind[PC_BIND_ADDR_BYTES]; /* default "127.0.0.1" */
    int api_port;                      /* default PC_DEFAULT_API_PORT; 0 = ephemeral */
    char *api_token;                   /* --api-token / API_TOKEN, or NULL: a cookie file; owned */
    char *api_port_file;               /* if set, write the bound API port here once listening */
};

/* --------------------------------------------------------------------- log */

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* One line to stderr: "2026-11-26T15:42:07.123Z INFO [peer 12 127.0.0.1:4242] text".
 * peer may be NULL. Thread-safe; one write(2) per line. */
void node_log(enum log_level lvl, const struct peer *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void node_log_set_level(enum log_level lvl);

/* ------------------------------------------------------------- the message */

enum msg_kind {
    MSG_PEER,         /* a message from a peer: body is the envelope */
    MSG_HELLO,        /* peer completed the handshake: body is its hello envelope */
    MSG_SEED_PEER,    /* peer turned out to speak the seed protocol (body NULL); its
                         first message follows as MSG_PEER */
    MSG_DISCONNECTED, /* peer is gone; worker drops its per-peer state (body NULL) */
    MSG_LOCAL_BLOCK,  /* a block mined here: block set, peer NULL */
};

/* A waiter for the fate of a locally mined block (node_mine_block). Owned by
 * the waiting thread; the worker fills result/block_json/err, sets done and
 * signals under mu. */
struct mine_request {
    pthread_mutex_t mu;
    pthread_cond_t done_cv; /* signalled under mu when done is set */
    bool done;              /* guarded by mu */
    int result;             /* guarded by mu: 0 accepted, else PC_E_* */
    json_t *block_json;     /* guarded by mu: new reference on success */
    struct pc_err err;      /* guarded by mu */
};

struct msg {
    struct msg *next; /* guarded by queue.mu while queued */
    enum msg_kind kind;
    struct peer *peer; /* counted reference or NULL; msg_free releases it */
    json_t *body;      /* owned reference or NULL */
    const char *type;  /* borrowed from body ("type"), NULL if no body */
    size_t wire_bytes; /* charged to the peer's queue share */
    pc_block *block;   /* MSG_LOCAL_BLOCK: owned */
    /* A `blocks` page decoded by the reader (the array is then gone from
     * body): blocks[0..n_blocks-1], owned; NULL if not decoded (an empty
     * page decodes to a non-NULL array of none). */
    pc_block **blocks;
    size_t n_blocks;
    struct mine_request *req; /* MSG_LOCAL_BLOCK: optional waiter, not owned */
};

struct msg *msg_new(enum msg_kind kind, struct peer *p, json_t *body_stolen, size_t wire_bytes);
void msg_free(struct msg *m);

/* ------------------------------------------------------------ the queue */

/* One producer's FIFO inside the shared queue: each peer has one, and the
 * peerless producers (miner, API) share the queue's `local` lane. All fields
 * are guarded by queue.mu. */
struct msg_lane {
    struct msg *head, *tail;
    struct msg_lane *next; /* in the queue's ring of non-empty lanes */
    bool in_ring;
    struct peer *peer; /* immutable: the owner, NULL for the local lane */
};

/* One shared queue: many producers (readers, miner), one consumer (worker).
 * Messages wait in per-producer lanes; the worker takes one message from
 * each non-empty lane in turn (round robin), so a flooding peer delays the
 * others by at most one message per round. A peer's lane is held (skipped)
 * while we have at least hold_bytes of answers for that peer unsent: it gets
 * no more work done until it reads. Each peer may hold at most
 * queue_share_bytes / queue_share_msgs of the queue, and all together
 * total_bytes; a reader over either (with something of its own queued)
 * blocks in queue_push (so TCP pushes back), unless its lane is held and it
 * has read nothing for QUEUE_STALL_MS: then it neither reads nor stops
 * asking, and queue_push refuses it. */
struct msg_queue {
    pthread_mutex_t mu;
    pthread_cond_t nonempty;           /* signalled under mu on push, wake and close */
    pthread_cond_t space;              /* broadcast under mu on pop and on close */
    struct msg_lane *ring, *ring_tail; /* guarded by mu: non-empty lanes in turn order */
    struct msg_lane local;             /* guarded by mu: peerless producers */
    size_t len;                        /* guarded by mu */
    size_t bytes;                      /* guarded by mu */
    size_t high_water;                 /* guarded by mu: deepest len seen */
    bool closing;                      /* guarded by mu; set once at shutdown */
    size_t share_bytes, share_msgs;    /* immutable after init */
    size_t hold_bytes;                 /* immutable after init */
    size_t total_bytes;                /* immutable after init: QUEUE_TOTAL_BYTES */
};

#define QUEUE_HOLD_BYTES (256u * 1024u) /* default hold_bytes */
/* What the whole queue may hold (charged bytes) before producers with
 * something already queued wait: per-peer shares alone would let many
 * peers together hold share x peers. */
#define QUEUE_TOTAL_BYTES (2u * 1024u * 1024u)
/* A peer at its share, held, whose writer has got no byte into its socket
 * for this long, is refused (queue_push returns PC_E_PROTOCOL). */
#define QUEUE_STALL_MS 2000
/* A held peer's share in messages (if smaller than queue_share_msgs). */
#define QUEUE_HELD_SHARE_MSGS 64u

int queue_init(struct msg_queue *q, size_t share_bytes, size_t share_msgs, size_t hold_bytes);
void queue_destroy(struct msg_queue *q); /* frees anything left */
/* Takes ownership of m on success. Blocks while m->peer is over its share,
 * unless the peer or queue is closing. MSG_DISCONNECTED and peerless messages
 * are never blocked by shares and are accepted even for a closing peer.
 * Returns 0, or PC_E_SHUTDOWN (queue closing) / PC_E_LIMIT (peer closing) /
 * PC_E_PROTOCOL (the peer is over its share while its lane is held and it
 * has read nothing of ours for QUEUE_STALL_MS: it keeps sending without
 * reading our answers; its queued messages are dropped): then the caller
 * still owns m. */
int queue_push(struct msg_queue *q, struct msg *m);
/* Next message or NULL after timeout_ms (<0: wait forever) or once closed
 * and empty. Caller owns the message. */
struct msg *queue_pop(struct msg_queue *q, int timeout_ms);
void queue_close(struct msg_queue *q);
size_t queue_depth(struct msg_queue *q);
/* Wakes the consumer: a held lane may be free again (takes queue.mu). */
void queue_wake_consumer(struct msg_queue *q);

/* ------------------------------------------------------------------ peers */

/*
 * A connection. Reference-counted: the reader, the writer, the registry and
 * each queued msg hold a reference; the last peer_unref frees it. Fields are
 * documented in peer.c; the worker uses only the functions below plus
 * worker_state, which is owned by the chain worker thread alone.
 */
uint64_t peer_id(const struct peer *p);
const char *peer_addr(const struct peer *p); /* "ip:port" of the remote, immutable */
bool peer_is_inbound(const struct peer *p);
bool peer_is_seed(const struct peer *p); /* speaks only latestBlock/allBlock */
bool peer_is_closing(struct peer *p);
/* Closed by us for cause (peer_close, a ban): its queued messages are dropped. */
bool peer_is_rejected(struct peer *p);
void peer_ref(struct peer *p);
void peer_unref(struct peer *p);

/* Serialises msg compactly plus '\n' and appends it to the send queue.
 * Never blocks on the network. If the send queue would exceed its cap, the
 * peer is closed and PC_E_LIMIT returned; PC_E_SHUTDOWN if already closing. */
int peer_send(struct peer *p, const json_t *msg);
/* Builds {"type": type, "payload": payload} (payload stolen; NULL = {}) and sends. */
int peer_send_msg(struct peer *p, const char *type, json_t *payload);
/* Sends {"type":"error","payload":{"code":<pc_errname>,"reason":...}} then
 * closes: the writer flushes what is queued, then the socket is shut down. */
void peer_close(struct peer *p, int code, const char *reason);
/* Adds to the peer's misbehaviour score; at >= 100 its IP is banned for
 * ban_seconds and the peer closed with the reason. */
void peer_misbehave(struct peer *p, int score, int code, const char *reason);

/* Worker-owned per-peer state: set and read only by the chain worker. The
 * destructor (if set) runs when the peer is freed, on whatever thread drops
 * the last reference, so it must not touch the chain. */
void *peer_worker_state(struct peer *p);
void peer_set_worker_state(struct peer *p, void *state, void (*destroy)(void *));

/* Sends msg to every peer that has completed the handshake and is of the
 * kind `to` names, except `except` (may be NULL). */
enum broadcast_to {
    BROADCAST_ALL,
    BROADCAST_PEERCHAIN, /* peers that sent hello */
    BROADCAST_SEED,      /* seed-protocol peers */
};
void node_broadcast(struct node *n, const json_t *msg, struct peer *except, enum broadcast_to to);
/* ... and already serialized (len bytes ending in '\n'; type for metrics). */
void node_broadcast_bytes(struct node *n, const char *data, size_t len, const char *type,
                          struct peer *except, enum broadcast_to to);

/* Addresses for a `peers` reply: handshaked peerchain peers with a known
 * listen address ("ip:port"), at most PC_MAX_PEERS_PER_MESSAGE. New JSON
 * array reference. */
json_t *node_peer_addresses(struct node *n);

/* Adds an outbound target (from peer exchange or the API): starts a connector
 * if under max_outbound and not already known, not ourselves, not banned.
 * Returns 0, PC_E_DUPLICATE, PC_E_LIMIT or PC_E_ARG (unparsable). */
int node_add_peer(struct node *n, const char *hostport);

/* Counts for status/metrics. */
void node_peer_counts(struct node *n, int *inbound, int *outbound);

/* The handshaked, open peers for the API's /peers: "ip:port" strings of the
 * remote ends, or (verbose) objects {"id", "addr", "direction", "protocol",
 * "height" (claimed), "listen" ("ip:port" or null)}. Takes peers_mu alone and
 * reads only immutable fields and atomics under it. New array reference;
 * NULL on allocation failure. */
json_t *node_peer_list(struct node *n, bool verbose);

/* The highest height any handshaked peer claimed (hello or a later
 * latestBlock), 0 without peers: the API's sync target. Takes peers_mu. */
uint64_t node_peers_best_height(struct node *n);

/* ------------------------------------------------------- the tip snapshot */

/* What non-worker threads may know about the chain; published by the worker
 * after every change, under tip_mu. */
struct tip_snapshot {
    uint64_t height;
    pc_hash hash;
    pc_work work;
    struct pc_template_base base; /* for the miner */
    uint64_t generation;          /* bumps on every change */
};

void node_publish_tip(struct node *n, const pc_chain *c); /* worker only */
void node_read_tip(struct node *n, struct tip_snapshot *out);

/* --------------------------------------------------------------- the node */

struct node {
    struct node_config cfg; /* immutable after start */
    uint64_t nonce;         /* random, immutable: detects self-connections */
    struct msg_queue queue;

    pthread_mutex_t tip_mu;
    struct tip_snapshot tip; /* guarded by tip_mu */
    atomic_bool tip_changed; /* set by worker on tip change; the miner clears it.
                                Atomic: it is only a cancel hint for pc_mine. */

    atomic_bool stopping; /* set once by main on SIGINT/SIGTERM; read anywhere */
    atomic_bool failed;   /* set by a thread that cannot go on (the store keeps failing)
                             before it sends SIGTERM to the process: main then exits 1 */

    struct net *net;        /* net.c's private state (peers registry, bans, threads) */
    struct worker *worker;  /* worker.c's private state */
    struct miner *miner;    /* mining.c's private state, NULL unless --mine */
    struct pc_store *store; /* LMDB chain storage, opened by main before the worker starts and
                               closed after it stops; the worker is its only writer, any
                               thread may read through a pc_store_reader */
    struct api *api;        /* api.c's private state, NULL unless the API runs */
    int64_t started_ms;     /* node_mono_ms() at start; immutable (uptime) */
    int p2p_port;           /* bound port, set before threads start */
};

/* net.c: start listening + acceptor + connectors; stop closes everything and
 * joins every thread it started. */
int net_start(struct node *n);
void net_reap(struct node *n); /* join finished connection threads; main calls it periodically */
void net_stop(struct node *n);

/* worker.c: the chain worker thread. */
int worker_start(struct node *n);
void worker_stop(struct node *n); /* after queue_close: drains, joins */

/* A copy of the worker's counters for the API (relaxed loads: each is exact
 * on its own; no two need agree). Any thread while the worker exists;
 * all zero before worker_start and after worker_stop. */
#define WORKER_REJECT_SLOTS 64
struct worker_counters {
    uint64_t blocks_accepted, reorgs;
    uint64_t syncs_started, syncs_done, syncs_abandoned; /* started - done - abandoned: running */
    uint64_t rejected[WORKER_REJECT_SLOTS]; /* slot -code for codes > -64; slot 0: the rest */
};
void worker_read_counters(struct node *n, struct worker_counters *out);

/* api.c: the HTTP API (libmicrohttpd). api_start after net_start; api_stop
 * first at shutdown, so no request runs while the rest stops. */
int api_start(struct node *n);
void api_stop(struct node *n);

/* mining.c: the miner thread (--mine) and one-shot mining for the API. */
int miner_start(struct node *n);
void miner_stop(struct node *n);
/* Mines one block with the given data on the current tip and submits it to
 * the worker; waits until the worker accepted it (0, *out = new JSON of the
 * block) or rejected it (error code). Retries if the tip moved under it. */
int node_mine_block(struct node *n, const char *const *items, const size_t *lens, size_t n_items,
                    json_t **out, struct pc_err *err);

/* Milliseconds on CLOCK_MONOTONIC, and Unix seconds (the node's `now`). */
int64_t node_mono_ms(void);
int64_t node_unix_now(void);

#endif
