/*
 * Messages and the one shared queue between connection threads (and the
 * miner) and the chain worker (see node.h for the contract).
 *
 * Each message from a peer is charged to that peer (peer.q_bytes/q_msgs,
 * guarded by queue.mu) from push to pop. A reader whose peer is at its share
 * waits on `space` in queue_push, so it stops reading its socket and TCP
 * pushes back on the sender; a peer with nothing queued may always push one
 * message, so a message larger than the byte share cannot wedge its reader.
 *
 * Lock order: queue.mu -> peer.mu. This file takes only queue.mu; it reads
 * peer.closing, an atomic, without peer.mu. peer_mark_closing sets closing
 * and then broadcasts `space` under queue.mu (queue_wake_producers), so a
 * waiter cannot miss it.
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

int queue_init(struct msg_queue *q, size_t share_bytes, size_t share_msgs)
{
    memset(q, 0, sizeof *q);
    q->share_bytes = share_bytes;
    q->share_msgs = share_msgs > 0 ? share_msgs : 1;
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

void queue_destroy(struct msg_queue *q)
{
    struct msg *m = q->head;
    while (m != NULL) {
        struct msg *next = m->next;
        if (is_charged(m)) {
            m->peer->q_bytes -= m->wire_bytes;
            m->peer->q_msgs--;
        }
        msg_free(m);
        m = next;
    }
    q->head = q->tail = NULL;
    q->len = q->bytes = 0;
    sync_check(pthread_cond_destroy(&q->space), "pthread_cond_destroy");
    sync_check(pthread_cond_destroy(&q->nonempty), "pthread_cond_destroy");
    sync_check(pthread_mutex_destroy(&q->mu), "pthread_mutex_destroy");
}

/* Requires q->mu held. */
static bool over_share(const struct msg_queue *q, const struct peer *p, size_t wire_bytes)
{
    if (p->q_msgs == 0)
        return false;
    return p->q_msgs >= q->share_msgs || p->q_bytes + wire_bytes > q->share_bytes;
}

int queue_push(struct msg_queue *q, struct msg *m)
{
    struct peer *p = m->peer;
    bool charged = is_charged(m);
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
        if (!over_share(q, p, m->wire_bytes))
            break;
        sync_wait(&q->space, &q->mu);
    }
    m->next = NULL;
    if (q->tail != NULL)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
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
    return r;
}

struct msg *queue_pop(struct msg_queue *q, int timeout_ms)
{
    struct timespec deadline = sync_deadline(timeout_ms);
    sync_lock(&q->mu);
    while (q->head == NULL && !q->closing) {
        if (timeout_ms < 0)
            sync_wait(&q->nonempty, &q->mu);
        else if (sync_timedwait(&q->nonempty, &q->mu, &deadline) == ETIMEDOUT)
            break;
    }
    struct msg *m = q->head;
    if (m != NULL) {
        q->head = m->next;
        if (q->head == NULL)
            q->tail = NULL;
        m->next = NULL;
        q->len--;
        q->bytes -= m->wire_bytes;
        if (is_charged(m)) {
            assert(m->peer->q_msgs > 0 && m->peer->q_bytes >= m->wire_bytes);
            m->peer->q_bytes -= m->wire_bytes;
            m->peer->q_msgs--;
            sync_broadcast(&q->space);
        }
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
    sync_unlock(&q->mu);
}
