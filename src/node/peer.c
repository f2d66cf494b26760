/*
 * Peers: lifetime, the bounded send queue and its writer thread, closing,
 * misbehaviour, and the ban table.
 *
 * Threads: the reader (pc-in-N or a connector) creates a peer, starts its
 * writer (pc-wr-N) and, at the end, finishes it (peer_finish). The chain
 * worker sends to it and may close it; the writer drains its send queue;
 * main (net_stop) may abort it. Fields and their guards are in peer.h.
 *
 * Closing: peer_close queues an `error` and marks the peer closing under
 * peer.mu in one step, so the writer, which exits only when the queue is empty
 * and the peer is closing, always sends the error first. The writer then
 * shuts down the sending side (FIN after the last byte), which lets an honest
 * remote read the error before it sees the end of the stream.
 *
 * Lock order: queue.mu -> peer.mu -> bans.mu -> log. Never two at once here:
 * queue.mu (queue_wake_producers) is taken after peer.mu is released.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics.h"
#include "peer.h"
#include "sync.h"

#define SEND_SLICE_BYTES (64u * 1024u) /* send_all: progress is noted per slice */

/* ------------------------------------------------------------ accessors */

uint64_t peer_id(const struct peer *p)
{
    return p->id;
}

const char *peer_addr(const struct peer *p)
{
    return p->addr;
}

bool peer_is_inbound(const struct peer *p)
{
    return p->inbound;
}

bool peer_is_seed(const struct peer *p)
{
    return atomic_load(&p->seed);
}

bool peer_is_closing(struct peer *p)
{
    return atomic_load(&p->closing);
}

bool peer_is_rejected(struct peer *p)
{
    return atomic_load(&p->rejected);
}

void *peer_worker_state(struct peer *p)
{
    return p->worker_state;
}

void peer_set_worker_state(struct peer *p, void *state, void (*destroy)(void *))
{
    p->worker_state = state;
    p->worker_destroy = destroy;
}

/* ------------------------------------------------------------- lifetime */

static atomic_uint_fast64_t next_peer_id = 1;

struct peer *peer_new(struct node *n, int fd, bool inbound, const char *ip, const char *addr)
{
    struct peer *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return NULL;
    }
    if (sync_cond_init(&p->cv) != 0) {
        sync_check(pthread_mutex_destroy(&p->mu), "pthread_mutex_destroy");
        free(p);
        return NULL;
    }
    p->node = n;
    p->id = atomic_fetch_add(&next_peer_id, 1);
    p->inbound = inbound;
    p->fd = fd;
    snprintf(p->ip, sizeof p->ip, "%s", ip);
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    atomic_init(&p->refs, 1);
    atomic_init(&p->closing, false);
    atomic_init(&p->rejected, false);
    atomic_init(&p->handshaked, false);
    atomic_init(&p->seed, false);
    atomic_init(&p->listen_port, 0);
    atomic_init(&p->claimed_height, 0);
    atomic_init(&p->unsent, 0);
    atomic_init(&p->lane_waiting, false);
    p->lane.peer = p;
    p->connected_ms = node_mono_ms();
    atomic_init(&p->sent_ms, p->connected_ms);
    atomic_init(&p->held_ms, 0);
    return p;
}

static void chunk_free(struct send_chunk *c)
{
    if (c != NULL) {
        free(c->data);
        free(c);
    }
}

static void peer_free(struct peer *p)
{
    if (p->worker_destroy != NULL)
        p->worker_destroy(p->worker_state);
    struct send_chunk *c = p->sq_head;
    while (c != NULL) {
        struct send_chunk *next = c->next;
        chunk_free(c);
        c = next;
    }
    if (p->fd >= 0 && close(p->fd) != 0)
        node_log(LOG_WARN, p, "close: %s", strerror(errno));
    sync_check(pthread_cond_destroy(&p->cv), "pthread_cond_destroy");
    sync_check(pthread_mutex_destroy(&p->mu), "pthread_mutex_destroy");
    free(p);
}

void peer_ref(struct peer *p)
{
    int old = atomic_fetch_add(&p->refs, 1);
    if (old <= 0)
        abort(); /* a reference to a freed peer: a bug */
}

void peer_unref(struct peer *p)
{
    if (p == NULL)
        return;
    int old = atomic_fetch_sub(&p->refs, 1);
    if (old == 1)
        peer_free(p);
    else if (old <= 0)
        abort();
}

/* ------------------------------------------------------------- sending */

struct dump_buf {
    char *data;
    size_t len, cap, limit;
};

static int dump_cb(const char *buf, size_t size, void *arg)
{
    struct dump_buf *b = arg;
    if (size > b->limit - b->len - 1) /* keep one byte for '\n' */
        return -1;
    if (b->len + size + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + size + 1)
            cap *= 2;
        if (cap > b->limit)
            cap = b->limit;
        char *nd = realloc(b->data, cap);
        if (nd == NULL)
            return -1;
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, buf, size);
    b->len += size;
    return 0;
}

char *peer_serialize(const json_t *msg, size_t limit, size_t *len_out)
{
    struct dump_buf b = {NULL, 0, 0, limit};
    if (limit < 2 || json_dump_callback(msg, dump_cb, &b, JSON_COMPACT) != 0) {
        free(b.data);
        return NULL;
    }
    b.data[b.len++] = '\n'; /* dump_cb kept room for it */
    *len_out = b.len;
    return b.data;
}

/* Appends c; with respect_cap, refuses (returns PC_E_LIMIT) when it would
 * take the queue past send_queue_bytes. Requires p->mu held. */
static int enqueue_locked(struct peer *p, struct send_chunk *c, bool respect_cap)
{
    if (respect_cap && p->sq_bytes + c->len > p->node->cfg.send_queue_bytes)
        return PC_E_LIMIT;
    c->next = NULL;
    if (p->sq_tail != NULL)
        p->sq_tail->next = c;
    else
        p->sq_head = c;
    p->sq_tail = c;
    p->sq_bytes += c->len;
    size_t before = atomic_fetch_add(&p->unsent, c->len);
    size_t hold = p->node->queue.hold_bytes;
    if (before < hold && before + c->len >= hold)
        atomic_store(&p->held_ms, node_mono_ms()); /* the stall clock starts now */
    sync_broadcast(&p->cv);
    return 0;
}

/* Sets closing; requires p->mu held. The caller then calls
 * queue_wake_producers after unlocking. */
static void set_closing_locked(struct peer *p)
{
    atomic_store(&p->closing, true);
    sync_broadcast(&p->cv);
}

static int send_chunk_owned(struct peer *p, char *data, size_t len)
{
    struct send_chunk *c = malloc(sizeof *c);
    if (c == NULL) {
        free(data);
        return PC_E_NOMEM;
    }
    c->data = data;
    c->len = len;
    sync_lock(&p->mu);
    int r = atomic_load(&p->closing) ? PC_E_SHUTDOWN : enqueue_locked(p, c, true);
    sync_unlock(&p->mu);
    if (r == 0)
        return 0;
    chunk_free(c);
    if (r == PC_E_LIMIT) {
        node_log(LOG_WARN, p, "send queue over %zu bytes", p->node->cfg.send_queue_bytes);
        peer_close(p, PC_E_LIMIT, "send queue full: not reading fast enough");
    }
    return r;
}

int peer_send_bytes(struct peer *p, const char *data, size_t len, const char *type)
{
    if (atomic_load(&p->closing))
        return PC_E_SHUTDOWN;
    char *copy = malloc(len);
    if (copy == NULL)
        return PC_E_NOMEM;
    memcpy(copy, data, len);
    int r = send_chunk_owned(p, copy, len);
    if (r == 0)
        metrics_count_msg(METRICS_OUT, type, len);
    return r;
}

int peer_send(struct peer *p, const json_t *msg)
{
    if (atomic_load(&p->closing))
        return PC_E_SHUTDOWN;
    size_t len;
    /* A message larger than the whole send queue could never be queued. */
    char *data = peer_serialize(msg, p->node->cfg.send_queue_bytes + 1, &len);
    if (data == NULL) {
        node_log(LOG_WARN, p, "cannot serialize a message within %zu bytes",
                 p->node->cfg.send_queue_bytes);
        peer_close(p, PC_E_LIMIT, "message larger than the send queue");
        return PC_E_LIMIT;
    }
    int r = send_chunk_owned(p, data, len);
    if (r == 0)
        metrics_count_msg(METRICS_OUT, json_string_value(json_object_get(msg, "type")), len);
    return r;
}

int peer_send_msg(struct peer *p, const char *type, json_t *payload)
{
    json_t *env =
        json_pack("{s:s, s:o}", "type", type, "payload", payload != NULL ? payload : json_object());
    if (env == NULL)
        return PC_E_NOMEM;
    int r = peer_send(p, env);
    json_decref(env);
    return r;
}

/* ------------------------------------------------------------- the writer */

/* 0, or a negative errno. */
/* Sends len bytes to p, in slices of at most SEND_SLICE_BYTES, noting the
 * time after each in p->sent_ms: a peer that reads a large answer slowly
 * shows progress, which queue_push's stall rule looks at. 0, or a negative
 * errno. */
static int send_all(struct peer *p, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n =
            send(p->fd, data, len < SEND_SLICE_BYTES ? len : SEND_SLICE_BYTES, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno; /* EAGAIN: SO_SNDTIMEO passed without progress */
        }
        data += n;
        len -= (size_t)n;
        atomic_store(&p->sent_ms, node_mono_ms());
    }
    return 0;
}

static void *writer_main(void *arg)
{
    struct peer *p = arg;
    int err = 0;
    sync_lock(&p->mu);
    for (;;) {
        while (p->sq_head == NULL && !atomic_load(&p->closing))
            sync_wait(&p->cv, &p->mu);
        struct send_chunk *c = p->sq_head;
        if (c == NULL)
            break; /* closing and flushed */
        p->sq_head = c->next;
        if (p->sq_head == NULL)
            p->sq_tail = NULL;
        p->sq_bytes -= c->len;
        sync_unlock(&p->mu);
        err = send_all(p, c->data, c->len);
        size_t sent = c->len;
        chunk_free(c);
        /* Lower unsent, then look at lane_waiting (queue.c's hand-off);
         * queue.mu is taken with no lock of ours held. */
        size_t left = atomic_fetch_sub(&p->unsent, sent) - sent;
        if (left < p->node->queue.hold_bytes && atomic_exchange(&p->lane_waiting, false))
            queue_wake_consumer(&p->node->queue);
        sync_lock(&p->mu);
        if (err != 0)
            break;
    }
    bool was_closing = atomic_load(&p->closing);
    if (err != 0)
        set_closing_locked(p);
    p->writer_done = true;
    sync_broadcast(&p->cv);
    sync_unlock(&p->mu);

    if (err != 0) {
        if (!was_closing)
            node_log(LOG_INFO, p, "send failed: %s", strerror(-err));
        queue_wake_producers(&p->node->queue);
        /* Wake the reader: the connection is useless now. */
        if (shutdown(p->fd, SHUT_RDWR) != 0 && errno != ENOTCONN)
            node_log(LOG_DEBUG, p, "shutdown: %s", strerror(errno));
    } else if (shutdown(p->fd, SHUT_WR) != 0 && errno != ENOTCONN) {
        node_log(LOG_DEBUG, p, "shutdown(SHUT_WR): %s", strerror(errno));
    }
    peer_unref(p);
    return NULL;
}

int peer_start_writer(struct peer *p)
{
    char name[16];
    snprintf(name, sizeof name, "pc-wr-%llu", (unsigned long long)p->id);
    peer_ref(p);
    if (sync_thread_start(&p->writer, p->node->cfg.thread_stack_bytes, name, writer_main, p) != 0) {
        peer_unref(p);
        return PC_E_IO;
    }
    p->has_writer = true;
    return 0;
}

/* ------------------------------------------------------------- closing */

void peer_mark_closing(struct peer *p)
{
    sync_lock(&p->mu);
    bool was = atomic_load(&p->closing);
    if (!was)
        set_closing_locked(p);
    sync_unlock(&p->mu);
    if (!was)
        queue_wake_producers(&p->node->queue);
}

void peer_abort(struct peer *p)
{
    peer_mark_closing(p);
    if (p->fd >= 0 && shutdown(p->fd, SHUT_RDWR) != 0 && errno != ENOTCONN)
        node_log(LOG_DEBUG, p, "shutdown: %s", strerror(errno));
}

void peer_close(struct peer *p, int code, const char *reason)
{
    atomic_store(&p->rejected, true);
    if (atomic_load(&p->closing))
        return;
    json_t *reason_j = json_string(reason != NULL ? reason : "");
    if (reason_j == NULL)
        reason_j = json_string("(reason is not UTF-8)");
    json_t *env = json_pack("{s:s, s:{s:s, s:o*}}", "type", "error", "payload", "code",
                            pc_errname(code), "reason", reason_j);
    size_t len = 0;
    char *data = env != NULL ? peer_serialize(env, 64 * 1024, &len) : NULL;
    json_decref(env);
    struct send_chunk *c = data != NULL ? malloc(sizeof *c) : NULL;
    if (c != NULL) {
        c->data = data;
        c->len = len;
    } else {
        free(data);
    }

    sync_lock(&p->mu);
    bool was = atomic_load(&p->closing);
    if (!was) {
        /* The error goes out even over the cap: it is small and the last. */
        if (c != NULL && enqueue_locked(p, c, false) == 0) {
            metrics_count_msg_type(METRICS_OUT, MT_ERROR, c->len);
            c = NULL;
        }
        set_closing_locked(p);
    }
    sync_unlock(&p->mu);
    chunk_free(c);
    if (was)
        return;
    queue_wake_producers(&p->node->queue);
    node_log(LOG_INFO, p, "closing: sent error %s: %s", pc_errname(code), reason ? reason : "");
}

bool peer_flush(struct peer *p, int flush_ms)
{
    peer_mark_closing(p);
    if (!p->has_writer)
        return true;
    struct timespec deadline = sync_deadline(flush_ms);
    sync_lock(&p->mu);
    while (!p->writer_done)
        if (sync_timedwait(&p->cv, &p->mu, &deadline) == ETIMEDOUT)
            break;
    bool done = p->writer_done;
    sync_unlock(&p->mu);
    if (!done)
        node_log(LOG_INFO, p, "send queue not flushed in %d ms; dropping it", flush_ms);
    return done;
}

void peer_finish(struct peer *p)
{
    peer_mark_closing(p);
    /* Also makes a writer stuck in send() fail at once. */
    if (p->fd >= 0 && shutdown(p->fd, SHUT_RDWR) != 0 && errno != ENOTCONN)
        node_log(LOG_DEBUG, p, "shutdown: %s", strerror(errno));
    if (p->has_writer) {
        sync_check(pthread_join(p->writer, NULL), "pthread_join writer");
        p->has_writer = false;
    }
}

/* ------------------------------------------------------------ misbehaviour */

void peer_misbehave(struct peer *p, int score, int code, const char *reason)
{
    sync_lock(&p->mu);
    p->score += score;
    int total = p->score;
    bool ban = total >= 100 && !p->banned;
    if (ban)
        p->banned = true;
    sync_unlock(&p->mu);

    node_log(LOG_WARN, p, "misbehaviour +%d (score %d): %s: %s", score, total, pc_errname(code),
             reason ? reason : "");
    if (!ban)
        return;
    int secs = p->node->cfg.ban_seconds;
    struct ban_table *bans = net_bans(p->node);
    if (bans != NULL)
        ban_add(bans, p->ip, secs);
    metrics_count_ban();
    node_log(LOG_WARN, p, "banned %s for %d s", p->ip, secs);
    char why[PC_ERR_REASON_BYTES + 48];
    snprintf(why, sizeof why, "%s: %s", pc_errname(code), reason ? reason : "");
    peer_close(p, PC_E_BANNED, why);
}

/* ------------------------------------------------------------------ bans */

int ban_init(struct ban_table *b)
{
    memset(b, 0, sizeof *b);
    if (pthread_mutex_init(&b->mu, NULL) != 0)
        return PC_E_IO;
    return 0;
}

void ban_destroy(struct ban_table *b)
{
    free(b->e);
    b->e = NULL;
    b->n = 0;
    sync_check(pthread_mutex_destroy(&b->mu), "pthread_mutex_destroy");
}

/* Drops expired entries. Requires b->mu held. */
static void ban_expire_locked(struct ban_table *b, int64_t now)
{
    size_t w = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->e[i].until_ms > now)
            b->e[w++] = b->e[i];
    b->n = w;
}

void ban_add(struct ban_table *b, const char *ip, int seconds)
{
    int64_t now = node_mono_ms();
    int64_t until = now + (int64_t)seconds * 1000;
    sync_lock(&b->mu);
    if (b->e == NULL) {
        b->e = calloc(BAN_MAX_ENTRIES, sizeof *b->e);
        if (b->e == NULL) {
            sync_unlock(&b->mu);
            node_log(LOG_ERROR, NULL, "out of memory for the ban table; %s not banned", ip);
            return;
        }
    }
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->e[i].ip, ip) == 0) {
            if (b->e[i].until_ms < until)
                b->e[i].until_ms = until;
            goto out;
        }
    if (b->n == BAN_MAX_ENTRIES)
        ban_expire_locked(b, now);
    struct ban_entry *slot;
    if (b->n < BAN_MAX_ENTRIES) {
        slot = &b->e[b->n++];
    } else { /* full of live bans: replace the one that ends first */
        slot = &b->e[0];
        for (size_t i = 1; i < b->n; i++)
            if (b->e[i].until_ms < slot->until_ms)
                slot = &b->e[i];
    }
    snprintf(slot->ip, sizeof slot->ip, "%s", ip);
    slot->until_ms = until;
out:
    sync_unlock(&b->mu);
}

bool ban_check(struct ban_table *b, const char *ip)
{
    int64_t now = node_mono_ms();
    bool banned = false;
    sync_lock(&b->mu);
    for (size_t i = 0; i < b->n; i++)
        if (b->e[i].until_ms > now && strcmp(b->e[i].ip, ip) == 0) {
            banned = true;
            break;
        }
    sync_unlock(&b->mu);
    return banned;
}
