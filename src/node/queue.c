/*
 * Messages and the one shared queue between connection threads (and the
 * miner) and the chain worker (see node.h for the contract).
 *
 * Each message from a peer waits in that peer's lane; peerless ones (miner,
 * API) in the queue's local lane. The ring lists the non-empty lanes in turn
 * order: queue_pop takes the head message of the first lane that is not held
 * and moves that lane to the back, so every producer gets one message handled
 * per round and one peer's backlog cannot delay the others by more than that.
 * Messages of one lane keep their order (a peer's MSG_DISCONNECTED comes after
 * everything it sent).
 *
 * Holding: a peer's lane is skipped while we have peer.unsent >= hold_bytes
 * of answers it has not taken, unless the peer is closing. Work we would do
 * for it could only pile up in its send queue, so we stop doing it; the
 * writer wakes the consumer once unsent drops (queue_wake_consumer). The
 * hand-off is race-free by ordering two atomics: queue_pop, having seen
 * unsent >= hold_bytes, sets peer.lane_waiting and reads unsent again; the
 * writer lowers unsent before it exchanges lane_waiting. Whichever runs
 * second sees the other's store.
 *
 * Charging: each message from a peer is charged to that peer
 * (peer.q_bytes/q_msgs) from push to pop, and every message to the queue
 * (bytes). A reader whose peer is at its share, or that would take the
 * queue past total_bytes, waits on `space` in queue_push, so it stops
 * reading its socket and TCP pushes back on the sender; a peer with nothing
 * queued may always push one message, so a message larger than the byte
 * share cannot wedge its reader. A held peer at its own (held) share whose
 * writer has got no byte into its socket for QUEUE_STALL_MS since the lane
 * became held (peer.sent_ms, noted per 64 KiB slice; peer.held_ms) keeps
 * asking while it reads nothing of what we send: queue_push drops its lane
 * and returns PC_E_PROTOCOL (the reader bans it). One that reads, however
 * slowly, only waits. queue_pop broadcasts `space` when it skips a held lane
 * whose reader may be waiting, so that reader starts its timed wait.
 *
 * Lock order: queue.mu -> peer.mu. This file takes only queue.mu; it reads
 * peer.closing, peer.unsent and peer.lane_waiting, atomics, without peer.mu.
 * peer_mark_closing sets closing and then broadcasts under queue.mu
 * (queue_wake_producers), so a waiter cannot miss it.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "peer.h"
#include "sync.h"

struct msg *msg_new(enum msg_kind kind, struct peer *p, json_t *body_stolen, size_t wire_bytes)
{
    struct msg *m = calloc(1, sizeof *m);
    if (m == NULL) {
        json_decref(body_stolen);
        return NULL;
    }
    m->kind = kind;
    m->body = body_stolen;
    m->wire_bytes = wire_bytes;
    if (body_stolen != NULL)
        m->type = json_string_value(json_object_get(body_stolen, "type"));
    if (p != NULL) {
        peer_ref(p);
        m->peer = p;
    }
    return m;
}

void msg_free(struct msg *m)
{
    if (m == NULL)
        return;
    json_decref(m->body);
    pc_block_free(m->block);
    pc_blocks_free(m->blocks, m->n_blocks);
    if (m->peer != NULL)
        peer_unref(m->peer);
    free(m);
}

/* Messages that count against their peer's share: all from a peer but
 * MSG_DISCONNECTED, which is never held back (so never charged either). */
static bool is_charged(const struct msg *m)
{
    return m->peer != NULL && m->kind != MSG_DISCONNECTED;
}

static struct msg_lane *lane_of(struct msg_queue *q, const struct msg *m)
{
    return m->peer != NULL ? &m->peer->lane : &q->local;
}

/* Requires q->mu held: m leaves the queue's and its peer's accounting. */
static void uncharge(struct msg_queue *q, struct msg *m)
{
    q->len--;
    q->bytes -= m->wire_bytes;
    if (is_charged(m)) {
        assert(m->peer->q_msgs > 0 && m->peer->q_bytes >= m->wire_bytes);
        m->peer->q_bytes -= m->wire_bytes;
        m->peer->q_msgs--;
    }
}

int queue_init(struct msg_queue *q, size_t share_bytes, size_t share_msgs, size_t hold_bytes)
{
    memset(q, 0, sizeof *q);
    q->share_bytes = share_bytes;
    q->share_msgs = share_msgs > 0 ? share_msgs : 1;
    q->hold_bytes = hold_bytes > 0 ? hold_bytes : 1;
    q->total_bytes = QUEUE_TOTAL_BYTES;
    if (pthread_mutex_init(&q->mu, NULL) != 0)
        return PC_E_IO;
    if (sync_cond_init(&q->nonempty) != 0)
        goto fail_mu;
    if (sync_cond_init(&q->space) != 0)
        goto fail_nonempty;
    return 0;
fail_nonempty:
    sync_check(pthread_cond_destroy(&q->nonempty), "pthread_cond_destroy");
fail_mu:
    sync_check(pthread_mutex_destroy(&q->mu), "pthread_mutex_destroy");
    return PC_E_IO;
}

/* Requires q->mu held: takes l, which follows prev (NULL: l is first), out
 * of the ring. */
static void ring_unlink(struct msg_queue *q, struct msg_lane *prev, struct msg_lane *l)
{
    if (prev != NULL)
        prev->next = l->next;
    else
        q->ring = l->next;
    if (q->ring_tail == l)
        q->ring_tail = prev;
    l->next = NULL;
    l->in_ring = false;
}

/* Requires q->mu held: takes l out of the ring (it must be there). */
static void ring_remove(struct msg_queue *q, struct msg_lane *l)
{
    struct msg_lane *prev = NULL;
    for (struct msg_lane *x = q->ring; x != NULL; prev = x, x = x->next) {
        if (x == l) {
            ring_unlink(q, prev, l);
            return;
        }
    }
    assert(!"lane not in the ring");
}

/* Requires q->mu held. Takes lane l (and every message in it) out of the
 * queue, and returns the messages as a list for the caller to free after
 * unlocking (freeing may drop the last reference to l's peer). */
static struct msg *lane_take_all(struct msg_queue *q, struct msg_lane *l)
{
    struct msg *all = l->head;
    for (struct msg *m = all; m != NULL; m = m->next)
        uncharge(q, m);
    l->head = l->tail = NULL;
    if (l->in_ring)
        ring_remove(q, l);
    return all;
}

static void msg_list_free(struct msg *m)
{
    while (m != NULL) {
        struct msg *next = m->next;
        msg_free(m);
        m = next;
    }
}

void queue_destroy(struct msg_queue *q)
{
    while (q->ring != NULL)
        msg_list_free(lane_take_all(q, q->ring));
    assert(q->len == 0 && q->bytes == 0);
    sync_check(pthread_cond_destroy(&q->space), "pthread_cond_destroy");
    sync_check(pthread_cond_destroy(&q->nonempty), "pthread_cond_destroy");
    sync_check(pthread_mutex_destroy(&q->mu), "pthread_mutex_destroy");
}

/* Requires q->mu held. Whether p must wait before queueing wire_bytes more:
 * over its own share (over_own_share), or the whole queue over total_bytes
 * (over_total); a peer with nothing queued never waits. A held peer's share
 * is smaller: what it queues will wait anyway, and the memory is ours. */
static bool over_own_share(const struct msg_queue *q, const struct peer *p, size_t wire_bytes,
                           bool is_held)
{
    if (p->q_msgs == 0)
        return false;
    size_t msgs = q->share_msgs;
    if (is_held && msgs > QUEUE_HELD_SHARE_MSGS)
        msgs = QUEUE_HELD_SHARE_MSGS;
    return p->q_msgs >= msgs || p->q_bytes + wire_bytes > q->share_bytes;
}

static bool over_total(const struct msg_queue *q, const struct peer *p, size_t wire_bytes)
{
    return p->q_msgs > 0 && q->bytes + wire_bytes > q->total_bytes;
}

/* Requires q->mu held. Whether l must be skipped for now; if so, its peer is
 * told to wake us (lane_waiting, set before unsent is read: see the top). */
static bool lane_held(const struct msg_queue *q, struct msg_lane *l)
{
    struct peer *p = l->peer;
    if (p == NULL || q->closing || atomic_load(&p->closing))
        return false;
    if (atomic_load(&p->unsent) < q->hold_bytes)
        return false;
    atomic_store(&p->lane_waiting, true);
    return atomic_load(&p->unsent) >= q->hold_bytes && !atomic_load(&p->closing);
}

/* Requires q->mu held: appends l to the ring. */
static void ring_append(struct msg_queue *q, struct msg_lane *l)
{
    l->next = NULL;
    l->in_ring = true;
    if (q->ring_tail != NULL)
        q->ring_tail->next = l;
    else
        q->ring = l;
    q->ring_tail = l;
}

int queue_push(struct msg_queue *q, struct msg *m)
{
    struct peer *p = m->peer;
    bool charged = is_charged(m);
    struct msg *dropped = NULL;
    int r = 0;
    sync_lock(&q->mu);
    for (;;) {
        if (q->closing) {
            r = PC_E_SHUTDOWN;
            goto out;
        }
        if (!charged)
            break;
        if (atomic_load(&p->closing)) {
            r = PC_E_LIMIT;
            goto out;
        }
        bool is_held = lane_held(q, &p->lane);
        bool is_over_own = over_own_share(q, p, m->wire_bytes, is_held);
        if (!is_over_own && !over_total(q, p, m->wire_bytes))
            break;
        /* Only a held peer over its own share can be judged: the whole
         * queue being full is others' doing. */
        if (!is_held || !is_over_own) {
            sync_wait(&q->space, &q->mu);
            continue;
        }
        /* The stall is counted from the later of the writer's last progress
         * and the moment the lane became held. */
        int64_t since = atomic_load(&p->sent_ms), held = atomic_load(&p->held_ms);
        int64_t stalled_until = (held > since ? held : since) + QUEUE_STALL_MS;
        if (node_mono_ms() >= stalled_until) {
            dropped = lane_take_all(q, &p->lane);
            sync_broadcast(&q->space); /* the whole queue has room again */
            r = PC_E_PROTOCOL;
            goto out;
        }
        struct timespec deadline = sync_deadline(stalled_until - node_mono_ms());
        sync_timedwait(&q->space, &q->mu, &deadline);
    }
    struct msg_lane *l = lane_of(q, m);
    m->next = NULL;
    if (l->tail != NULL)
        l->tail->next = m;
    else
        l->head = m;
    l->tail = m;
    if (!l->in_ring)
        ring_append(q, l);
    q->len++;
    q->bytes += m->wire_bytes;
    if (q->len > q->high_water)
        q->high_water = q->len;
    if (charged) {
        p->q_bytes += m->wire_bytes;
        p->q_msgs++;
    }
    sync_signal(&q->nonempty);
out:
    sync_unlock(&q->mu);
    msg_list_free(dropped);
    return r;
}

/* Requires q->mu held. Takes the next message in turn, or NULL if every
 * non-empty lane is held. Empty lanes met on the way leave the ring. */
static struct msg *take_next(struct msg_queue *q)
{
    struct msg_lane *prev = NULL, *l = q->ring;
    bool wake_readers = false;
    struct msg *m = NULL;
    while (l != NULL) {
        struct msg_lane *next = l->next;
        if (l->head != NULL && !lane_held(q, l)) {
            m = l->head;
            l->head = m->next;
            if (l->head == NULL)
                l->tail = NULL;
            m->next = NULL;
        } else if (l->head != NULL) {
            /* Held: a reader waiting at its share must look again. */
            if (over_own_share(q, l->peer, 0, true) || over_total(q, l->peer, 0))
                wake_readers = true;
            prev = l;
            l = next;
            continue;
        }
        /* l leaves its place: to the back if it still has messages. */
        ring_unlink(q, prev, l);
        if (l->head != NULL)
            ring_append(q, l);
        if (m != NULL)
            break;
        l = next;
    }
    if (wake_readers)
        sync_broadcast(&q->space);
    return m;
}

struct msg *queue_pop(struct msg_queue *q, int timeout_ms)
{
    struct timespec deadline = sync_deadline(timeout_ms);
    struct msg *m;
    sync_lock(&q->mu);
    while ((m = take_next(q)) == NULL && !q->closing) {
        if (timeout_ms < 0)
            sync_wait(&q->nonempty, &q->mu);
        else if (sync_timedwait(&q->nonempty, &q->mu, &deadline) == ETIMEDOUT)
            break;
    }
    if (m != NULL) {
        uncharge(q, m);
        if (is_charged(m))
            sync_broadcast(&q->space);
    }
    sync_unlock(&q->mu);
    return m;
}

void queue_close(struct msg_queue *q)
{
    sync_lock(&q->mu);
    q->closing = true;
    sync_broadcast(&q->nonempty);
    sync_broadcast(&q->space);
    sync_unlock(&q->mu);
}

size_t queue_depth(struct msg_queue *q)
{
    sync_lock(&q->mu);
    size_t n = q->len;
    sync_unlock(&q->mu);
    return n;
}

void queue_wake_producers(struct msg_queue *q)
{
    sync_lock(&q->mu);
    sync_broadcast(&q->space);
    sync_broadcast(&q->nonempty); /* a closing peer's lane is no longer held */
    sync_unlock(&q->mu);
}

void queue_wake_consumer(struct msg_queue *q)
{
    sync_lock(&q->mu);
    sync_signal(&q->nonempty);
    sync_unlock(&q->mu);
}
