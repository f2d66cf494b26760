/*
 * Peers (one per TCP connection) and the ban table: the network side's view.
 * The worker sees only node.h's peer_* functions.
 *
 * Lock order (node.h): net.peers_mu -> queue.mu -> peer.mu -> bans.mu -> log.
 */
#ifndef PC_NODE_PEER_H
#define PC_NODE_PEER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "node.h"

/* A serialized message waiting in a peer's send queue. */
struct send_chunk {
    struct send_chunk *next;
    size_t len;
    char *data; /* owned */
};

/*
 * A connection. Reference-counted (refs is atomic: increments and the final
 * decrement need no lock, and the thread that drops the last reference is the
 * only one left to touch the peer, so it frees it). The reader, the writer,
 * the registry and every queued msg hold a reference. The socket is closed
 * only when the peer is freed, so shutdown(2) by any holder of a reference is
 * always on the right socket.
 */
struct peer {
    /* immutable after peer_new */
    struct node *node;
    uint64_t id;
    bool inbound;
    int fd;
    char ip[ADDR_IP_BYTES];    /* remote IP, the ban key */
    char addr[ADDR_STR_BYTES]; /* remote "ip:port" */

    atomic_int refs; /* see above */
    /* Set once (false -> true) under mu, read without a lock anywhere: a
     * closing peer takes no new sends, and queue_push stops waiting for it. */
    atomic_bool closing;
    /* Set once (false -> true) by peer_close, read by the worker: we closed
     * the peer for cause, so what it still has queued is dropped. A peer
     * that merely hung up is closing but not rejected: what it sent before
     * its FIN is still handled (the seed design's client may send an offer
     * and hang up). */
    atomic_bool rejected;
    /* Set once by the reader thread (listen_port before handshaked), read by
     * the worker and registry walkers: flags need no lock; the store of
     * handshaked orders listen_port before it. */
    atomic_bool handshaked;
    atomic_bool seed;
    atomic_int listen_port; /* port from hello, 0 if none */
    /* Highest height the peer claimed (hello, latestBlock); written by the
     * reader, read by registry walkers (the API's sync target). Only a claim:
     * nothing is decided on it, so a lone atomic is enough. */
    atomic_uint_fast64_t claimed_height;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* broadcast under mu: send queue grew, closing set, writer done */
    struct send_chunk *sq_head, *sq_tail; /* guarded by mu */
    size_t sq_bytes;                      /* guarded by mu: bytes waiting to be written */
    int score;                            /* guarded by mu: misbehaviour */
    bool banned;                          /* guarded by mu: score reached 100 once */
    bool writer_done;                     /* guarded by mu: the writer thread finished */

    /* Guarded by node->queue.mu: this peer's charge against the shared queue,
     * and its lane there (lane.peer is immutable: this peer). */
    size_t q_bytes, q_msgs;
    struct msg_lane lane;
    /* Bytes of ours the peer has not taken yet: the send queue plus the chunk
     * the writer is sending. Raised under mu by enqueuers, lowered by the
     * writer after each chunk, read anywhere (queue_pop holds the peer's lane
     * while it is >= queue.hold_bytes). */
    atomic_size_t unsent;
    /* Set by queue_pop when it skips the held lane, cleared by whoever wakes
     * the consumer once unsent drops (the writer): see queue.c. */
    atomic_bool lane_waiting;
    /* node_mono_ms() when the writer last got bytes of ours into the socket
     * (a slice of at most 64 KiB; at first, when the peer was made): written
     * by the writer, read by queue_push. */
    atomic_int_fast64_t sent_ms;
    /* node_mono_ms() when unsent last rose to queue.hold_bytes or above:
     * written by enqueuers under mu, read by queue_push. */
    atomic_int_fast64_t held_ms;

    /* Owned by the chain worker thread (destroy runs in peer_free). */
    void *worker_state;
    void (*worker_destroy)(void *);

    /* Owned by the connection's reader thread. */
    pthread_t writer;
    bool has_writer;
    bool is_self;         /* hello carried our own nonce */
    int64_t connected_ms; /* node_mono_ms() at connect */

    /* Guarded by net.peers_mu: the registry list. */
    struct peer *reg_prev, *reg_next;
    bool registered;
};

/* A new peer for a connected socket, with one reference (the caller's).
 * Takes the socket on success only; NULL on allocation or init failure. */
struct peer *peer_new(struct node *n, int fd, bool inbound, const char *ip, const char *addr);

/* Starts the writer thread pc-wr-<id> (it holds its own reference). 0 or PC_E_IO. */
int peer_start_writer(struct peer *p);

/* Marks the peer closing (no error message): wakes its writer (which flushes
 * what is queued, then shuts down the sending side) and any queue_push
 * waiting for it. Idempotent. */
void peer_mark_closing(struct peer *p);

/* Marks closing and shuts the socket down both ways at once (shutdown). */
void peer_abort(struct peer *p);

/* Reader's end of a connection, step 1: marks closing and waits up to
 * flush_ms for the writer to send what is queued (it then shuts down the
 * sending side). True if it did. */
bool peer_flush(struct peer *p, int flush_ms);
/* Step 2: shuts the socket down both ways and joins the writer. */
void peer_finish(struct peer *p);

/* Queues len bytes (already serialized, ending in '\n') under the send cap;
 * as peer_send. type is the message's type, for the metrics. */
int peer_send_bytes(struct peer *p, const char *data, size_t len, const char *type);

/* Serializes msg compactly plus '\n' into a new buffer (caller frees).
 * NULL if it would exceed limit bytes or on allocation failure. */
char *peer_serialize(const json_t *msg, size_t limit, size_t *len_out);

/* queue.c: broadcasts the queue's `space` condvar so a producer waiting for
 * a peer that just started closing gives up (takes queue.mu). */
void queue_wake_producers(struct msg_queue *q);

/* ---- bans: one table per node, bounded, with expiry ---- */

#define BAN_MAX_ENTRIES 10000

struct ban_entry {
    char ip[ADDR_IP_BYTES];
    int64_t until_ms; /* node_mono_ms() deadline */
};

struct ban_table {
    pthread_mutex_t mu;  /* node.bans_mu in node.h's lock order */
    struct ban_entry *e; /* guarded by mu: n live-or-expired entries */
    size_t n;            /* guarded by mu */
};

int ban_init(struct ban_table *b);
void ban_destroy(struct ban_table *b);
/* Bans ip until now + seconds. When full, expired entries go first, then the
 * one closest to expiry. */
void ban_add(struct ban_table *b, const char *ip, int seconds);
bool ban_check(struct ban_table *b, const char *ip);

/* net.c: the node's ban table (NULL before net_start). */
struct ban_table *net_bans(struct node *n);

#endif
