/*
 * The shared message queue (src/node/queue.c) and peer reference counting.
 *
 * Blocking is tested with real threads and bounded waits: the test waits (at
 * most 10 s) for a producer to reach a point, and never asserts that
 * something happened within a time, so a slow machine cannot fail it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "node.h"
#include "peer.h"

static struct node node;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to 10 s for *v to reach want. */
static bool wait_for(atomic_int *v, int want)
{
    for (int i = 0; i < 10000 && atomic_load(v) != want; i++)
        sleep_ms(1);
    return atomic_load(v) == want;
}

static void setup(size_t share_bytes, size_t share_msgs)
{
    node.cfg.send_queue_bytes = 1 << 20;
    CHECK_EQ_INT(queue_init(&node.queue, share_bytes, share_msgs, QUEUE_HOLD_BYTES), 0);
}

static struct peer *new_peer(void)
{
    struct peer *p = peer_new(&node, -1, true, "127.0.0.1", "127.0.0.1:1");
    CHECK(p != NULL);
    return p;
}

/* Safe from any thread (check.h's counters are not: no CHECK here). */
static struct msg *make_msg(struct peer *p, const char *type, size_t bytes)
{
    json_t *body = json_pack("{s:s, s:{}}", "type", type, "payload");
    struct msg *m = msg_new(MSG_PEER, p, body, bytes);
    if (m == NULL || m->type == NULL)
        abort();
    return m;
}

static void test_order(void)
{
    setup(1 << 20, 100);
    struct peer *p = new_peer();
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(p, "a", 10)), 0);
    CHECK_EQ_INT(queue_push(&node.queue, msg_new(MSG_LOCAL_BLOCK, NULL, NULL, 0)), 0);
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(p, "b", 10)), 0);
    CHECK_EQ_INT(queue_depth(&node.queue), 3);
    CHECK_EQ_INT(p->q_msgs, 2);
    CHECK_EQ_INT(p->q_bytes, 20);
    struct msg *m = queue_pop(&node.queue, 0);
    CHECK(m != NULL && m->kind == MSG_PEER && strcmp(m->type, "a") == 0 && m->peer == p);
    msg_free(m);
    m = queue_pop(&node.queue, 0);
    CHECK(m != NULL && m->kind == MSG_LOCAL_BLOCK && m->peer == NULL && m->type == NULL);
    msg_free(m);
    m = queue_pop(&node.queue, 0);
    CHECK(m != NULL && strcmp(m->type, "b") == 0);
    msg_free(m);
    CHECK_EQ_INT(p->q_msgs, 0);
    CHECK_EQ_INT(p->q_bytes, 0);
    CHECK(queue_pop(&node.queue, 10) == NULL); /* empty: times out */
    CHECK(node.queue.high_water == 3);
    peer_unref(p);
    queue_destroy(&node.queue);
}

struct producer {
    struct peer *p;
    int n;             /* messages to push */
    size_t bytes;      /* wire bytes each */
    atomic_int pushed; /* pushed so far */
    atomic_int result; /* last queue_push result */
    pthread_t t;
};

static void *produce(void *arg)
{
    struct producer *pr = arg;
    for (int i = 0; i < pr->n; i++) {
        struct msg *m = make_msg(pr->p, "x", pr->bytes);
        int r = queue_push(&node.queue, m);
        atomic_store(&pr->result, r);
        if (r != 0) {
            msg_free(m);
            break;
        }
        atomic_fetch_add(&pr->pushed, 1);
    }
    return NULL;
}

static void start(struct producer *pr, struct peer *p, int n, size_t bytes)
{
    pr->p = p;
    pr->n = n;
    pr->bytes = bytes;
    atomic_init(&pr->pushed, 0);
    atomic_init(&pr->result, 1);
    CHECK_EQ_INT(pthread_create(&pr->t, NULL, produce, pr), 0);
}

static void drain(void)
{
    struct msg *m;
    while ((m = queue_pop(&node.queue, 0)) != NULL)
        msg_free(m);
}

/* A peer at its message share blocks until the worker pops; others do not. */
static void test_share_msgs(void)
{
    setup(1 << 20, 2);
    struct peer *flood = new_peer(), *honest = new_peer();
    struct producer pr;
    start(&pr, flood, 3, 10);
    CHECK(wait_for(&pr.pushed, 2));
    sleep_ms(50); /* give a broken queue the chance to take a third */
    CHECK_EQ_INT(atomic_load(&pr.pushed), 2);
    CHECK_EQ_INT(queue_depth(&node.queue), 2);

    /* Another peer, the miner and a disconnect are not held up. */
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(honest, "h", 10)), 0);
    CHECK_EQ_INT(queue_push(&node.queue, msg_new(MSG_LOCAL_BLOCK, NULL, NULL, 0)), 0);
    CHECK_EQ_INT(queue_push(&node.queue, msg_new(MSG_DISCONNECTED, flood, NULL, 0)), 0);
    CHECK_EQ_INT(queue_depth(&node.queue), 5);

    struct msg *m = queue_pop(&node.queue, 0); /* one of flood's: frees a slot */
    CHECK(m != NULL && m->peer == flood);
    msg_free(m);
    CHECK(wait_for(&pr.pushed, 3));
    CHECK_EQ_INT(pthread_join(pr.t, NULL), 0);
    CHECK_EQ_INT(atomic_load(&pr.result), 0);
    drain();
    CHECK_EQ_INT(flood->q_msgs, 0);
    peer_unref(flood);
    peer_unref(honest);
    queue_destroy(&node.queue);
}

/* The byte share: blocks when the next message would pass it, but a peer
 * with nothing queued may always push one message, however large. */
static void test_share_bytes(void)
{
    setup(100, 1000);
    struct peer *p = new_peer();
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(p, "big", 500)), 0);
    struct producer pr;
    start(&pr, p, 1, 10);
    sleep_ms(20);
    CHECK_EQ_INT(atomic_load(&pr.pushed), 0);
    drain();
    CHECK(wait_for(&pr.pushed, 1));
    CHECK_EQ_INT(pthread_join(pr.t, NULL), 0);
    drain();

    start(&pr, p, 3, 40); /* 40 + 40 fit, the third (120 > 100) waits */
    CHECK(wait_for(&pr.pushed, 2));
    CHECK_EQ_INT(p->q_bytes, 80);
    struct msg *m = queue_pop(&node.queue, -1);
    msg_free(m);
    CHECK(wait_for(&pr.pushed, 3));
    CHECK_EQ_INT(pthread_join(pr.t, NULL), 0);
    drain();
    peer_unref(p);
    queue_destroy(&node.queue);
}

/* Closing the peer wakes its blocked reader with PC_E_LIMIT. */
static void test_peer_close_wakes(void)
{
    setup(1 << 20, 1);
    struct peer *p = new_peer();
    struct producer pr;
    start(&pr, p, 5, 1);
    CHECK(wait_for(&pr.pushed, 1));
    peer_mark_closing(p);
    CHECK_EQ_INT(pthread_join(pr.t, NULL), 0);
    CHECK_EQ_INT(atomic_load(&pr.result), PC_E_LIMIT);
    CHECK_EQ_INT(atomic_load(&pr.pushed), 1);
    CHECK(peer_is_closing(p));
    /* a closing peer still gets its MSG_DISCONNECTED through */
    CHECK_EQ_INT(queue_push(&node.queue, msg_new(MSG_DISCONNECTED, p, NULL, 0)), 0);
    /* but no more messages */
    struct msg *m = make_msg(p, "late", 1);
    CHECK_EQ_INT(queue_push(&node.queue, m), PC_E_LIMIT);
    msg_free(m);
    drain();
    peer_unref(p);
    queue_destroy(&node.queue);
}

/* Closing the queue wakes every blocked producer and the consumer. */
static void test_queue_close_wakes(void)
{
    setup(1 << 20, 1);
    struct peer *a = new_peer(), *b = new_peer();
    struct producer pa, pb;
    start(&pa, a, 3, 1);
    start(&pb, b, 3, 1);
    CHECK(wait_for(&pa.pushed, 1));
    CHECK(wait_for(&pb.pushed, 1));
    queue_close(&node.queue);
    CHECK_EQ_INT(pthread_join(pa.t, NULL), 0);
    CHECK_EQ_INT(pthread_join(pb.t, NULL), 0);
    CHECK_EQ_INT(atomic_load(&pa.result), PC_E_SHUTDOWN);
    CHECK_EQ_INT(atomic_load(&pb.result), PC_E_SHUTDOWN);
    /* the worker's final drain still gets what was queued, then NULL */
    int got = 0;
    struct msg *m;
    while ((m = queue_pop(&node.queue, -1)) != NULL) {
        got++;
        msg_free(m);
    }
    CHECK_EQ_INT(got, 2);
    m = msg_new(MSG_LOCAL_BLOCK, NULL, NULL, 0);
    CHECK_EQ_INT(queue_push(&node.queue, m), PC_E_SHUTDOWN);
    msg_free(m);
    peer_unref(a);
    peer_unref(b);
    queue_destroy(&node.queue);
}

static atomic_int destroyed;
static void destroy_state(void *s)
{
    free(s);
    atomic_fetch_add(&destroyed, 1);
}

/* A queued message keeps its peer alive; the worker's state goes with the
 * last reference; queue_destroy frees what is left. */
static void test_refs(void)
{
    setup(1 << 20, 100);
    struct peer *p = new_peer();
    peer_set_worker_state(p, malloc(16), destroy_state);
    CHECK(peer_worker_state(p) != NULL);
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(p, "a", 1)), 0);
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(p, "b", 1)), 0);
    peer_unref(p); /* the reader lets go; two messages still hold it */
    CHECK_EQ_INT(atomic_load(&destroyed), 0);
    struct msg *m = queue_pop(&node.queue, 0);
    msg_free(m);
    CHECK_EQ_INT(atomic_load(&destroyed), 0);
    queue_destroy(&node.queue); /* frees "b" and with it the peer */
    CHECK_EQ_INT(atomic_load(&destroyed), 1);
    msg_free(NULL);
}

/* Round robin: one message per non-empty lane per turn, order kept inside
 * each lane, so a peer with a backlog delays another by one message. */
static void test_round_robin(void)
{
    setup(1 << 20, 100);
    struct peer *flood = new_peer(), *honest = new_peer();
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(queue_push(&node.queue, make_msg(flood, i == 0 ? "f0" : "f", 10)), 0);
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(honest, "h1", 10)), 0);
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(honest, "h2", 10)), 0);
    const char *want[] = {"f0", "h1", "f", "h2", "f", "f", "f"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        struct msg *m = queue_pop(&node.queue, 0);
        CHECK(m != NULL && strcmp(m->type, want[i]) == 0);
        msg_free(m);
    }
    CHECK(queue_pop(&node.queue, 0) == NULL);
    CHECK(node.queue.ring == NULL && node.queue.ring_tail == NULL);
    peer_unref(flood);
    peer_unref(honest);
    queue_destroy(&node.queue);
}

/* A peer with hold_bytes of our answers unsent is skipped until its writer
 * lowers `unsent` and wakes the consumer; others are served meanwhile. */
static void test_hold(void)
{
    setup(1 << 20, 100);
    struct peer *slow = new_peer(), *honest = new_peer();
    atomic_store(&slow->unsent, QUEUE_HOLD_BYTES);
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(slow, "s", 10)), 0);
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(honest, "h", 10)), 0);
    struct msg *m = queue_pop(&node.queue, 0);
    CHECK(m != NULL && m->peer == honest);
    msg_free(m);
    CHECK(queue_pop(&node.queue, 20) == NULL); /* held: nothing to take */
    CHECK(atomic_load(&slow->lane_waiting));
    CHECK_EQ_INT(queue_depth(&node.queue), 1);

    /* The writer's side of the hand-off. */
    atomic_store(&slow->unsent, QUEUE_HOLD_BYTES - 1);
    CHECK(atomic_exchange(&slow->lane_waiting, false));
    queue_wake_consumer(&node.queue);
    m = queue_pop(&node.queue, 0);
    CHECK(m != NULL && m->peer == slow);
    msg_free(m);

    /* A closing peer is never held: its messages (a disconnect) go through. */
    atomic_store(&slow->unsent, 10 * QUEUE_HOLD_BYTES);
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(slow, "s", 10)), 0);
    CHECK(queue_pop(&node.queue, 0) == NULL);
    peer_mark_closing(slow);
    m = queue_pop(&node.queue, 0);
    CHECK(m != NULL && m->peer == slow);
    msg_free(m);
    peer_unref(slow);
    peer_unref(honest);
    queue_destroy(&node.queue);
}

/* A held peer at its share that has read nothing for QUEUE_STALL_MS is
 * refused with PC_E_PROTOCOL and its queued messages are dropped, also when
 * its reader was already waiting for space when the lane became held (the
 * consumer wakes it). One that still reads only waits. */
static void test_held_and_full(void)
{
    setup(1 << 20, 2);
    struct peer *slow = new_peer(), *honest = new_peer();
    atomic_store(&slow->unsent, QUEUE_HOLD_BYTES);
    atomic_store(&slow->sent_ms, node_mono_ms() - QUEUE_STALL_MS);
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(slow, "s", 10)), 0);
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(slow, "s", 10)), 0);
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(honest, "h", 10)), 0);
    struct msg *m = make_msg(slow, "s", 10);
    CHECK_EQ_INT(queue_push(&node.queue, m), PC_E_PROTOCOL);
    msg_free(m);
    CHECK_EQ_INT(slow->q_msgs, 0);
    CHECK_EQ_INT(queue_depth(&node.queue), 1);
    m = queue_pop(&node.queue, 0);
    CHECK(m != NULL && m->peer == honest);
    msg_free(m);

    /* Not held yet: the reader waits at its share... */
    atomic_store(&slow->unsent, 0);
    struct producer pr;
    start(&pr, slow, 3, 10);
    CHECK(wait_for(&pr.pushed, 2));
    /* ...then our answers pile up, and the consumer, finding the lane held
     * and full, wakes it to give up. */
    atomic_store(&slow->unsent, QUEUE_HOLD_BYTES);
    CHECK(queue_pop(&node.queue, 0) == NULL);
    CHECK_EQ_INT(pthread_join(pr.t, NULL), 0);
    CHECK_EQ_INT(atomic_load(&pr.result), PC_E_PROTOCOL);
    CHECK_EQ_INT(queue_depth(&node.queue), 0);
    CHECK(node.queue.ring == NULL);

    /* Held and full, but its writer made progress lately: it waits. */
    atomic_store(&slow->sent_ms, node_mono_ms() + 60000);
    start(&pr, slow, 3, 10);
    CHECK(wait_for(&pr.pushed, 2));
    CHECK(queue_pop(&node.queue, 0) == NULL);
    sleep_ms(50); /* give a broken queue the chance to refuse it */
    CHECK_EQ_INT(atomic_load(&pr.pushed), 2);
    CHECK_EQ_INT(atomic_load(&pr.result), 0);
    atomic_store(&slow->unsent, 0); /* it read: no longer held */
    m = queue_pop(&node.queue, 0);
    CHECK(m != NULL && m->peer == slow);
    msg_free(m);
    CHECK(wait_for(&pr.pushed, 3));
    CHECK_EQ_INT(pthread_join(pr.t, NULL), 0);
    CHECK_EQ_INT(atomic_load(&pr.result), 0);
    drain();
    peer_unref(slow);
    peer_unref(honest);
    queue_destroy(&node.queue);
}

/* The stall rule does not ban a peer whose lane has just become held (its
 * writer idle for long before: the clock starts at held_ms), nor a held peer
 * that is over only the whole queue's total, which is others' doing. */
static void test_stall_fairness(void)
{
    setup(1 << 20, 2);
    struct peer *p = new_peer(), *other = new_peer();
    atomic_store(&p->sent_ms, node_mono_ms() - 60000); /* idle for a minute */
    atomic_store(&p->held_ms, node_mono_ms());         /* held just now */
    atomic_store(&p->unsent, QUEUE_HOLD_BYTES);
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(p, "s", 10)), 0);
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(p, "s", 10)), 0);
    struct producer pr;
    start(&pr, p, 1, 10);
    sleep_ms(50);
    CHECK_EQ_INT(atomic_load(&pr.result), 1); /* still waiting, not refused */
    atomic_store(&p->unsent, 0);
    struct msg *m = queue_pop(&node.queue, 0);
    msg_free(m);
    CHECK(wait_for(&pr.pushed, 1));
    CHECK_EQ_INT(pthread_join(pr.t, NULL), 0);
    CHECK_EQ_INT(atomic_load(&pr.result), 0);
    drain();

    /* Over only the total: another peer fills the queue past total_bytes. */
    node.queue.total_bytes = 100;
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(other, "o", 200)), 0);
    atomic_store(&p->sent_ms, node_mono_ms() - 60000);
    atomic_store(&p->held_ms, node_mono_ms() - 60000);
    atomic_store(&p->unsent, QUEUE_HOLD_BYTES);
    CHECK_EQ_INT(queue_push(&node.queue, make_msg(p, "s", 10)), 0); /* its first: always */
    start(&pr, p, 1, 10);
    sleep_ms(50);
    CHECK_EQ_INT(atomic_load(&pr.result), 1); /* waits for room, not banned */
    m = queue_pop(&node.queue, 0);            /* other's: the queue has room again */
    CHECK(m != NULL && m->peer == other);
    msg_free(m);
    CHECK(wait_for(&pr.pushed, 1));
    CHECK_EQ_INT(pthread_join(pr.t, NULL), 0);
    CHECK_EQ_INT(atomic_load(&pr.result), 0);
    atomic_store(&p->unsent, 0);
    drain();
    peer_unref(p);
    peer_unref(other);
    queue_destroy(&node.queue);
}

/* The writer notes progress (peer.sent_ms) as each slice of a large answer
 * goes out, not only once the whole message is sent: a peer reading a big
 * page slowly is not taken for one that reads nothing (queue_push's stall
 * rule). A socketpair with small buffers and a reader that takes 8 KiB at a
 * time. */
static void test_send_progress(void)
{
    setup(1 << 20, 100);
    node.cfg.send_queue_bytes = 4u << 20;
    int sv[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int small = 8192;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct peer *p = peer_new(&node, sv[0], true, "127.0.0.1", "127.0.0.1:1");
    CHECK(p != NULL);
    if (p == NULL)
        return;
    atomic_store(&p->sent_ms, 0); /* "long ago" */
    CHECK_EQ_INT(peer_start_writer(p), 0);
    size_t len = 1u << 20;
    char *page = malloc(len);
    CHECK(page != NULL);
    memset(page, 'x', len);
    page[len - 1] = '\n';
    CHECK_EQ_INT(peer_send_bytes(p, page, len, "allBlock"), 0);
    free(page);
    char buf[8192];
    size_t got = 0;
    bool progressed_midway = false;
    for (int i = 0; i < 100000 && got < len; i++) {
        ssize_t n = recv(sv[1], buf, sizeof buf, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        /* Past two slices in, the message itself is still being sent. */
        if (got >= 3 * 64 * 1024 && got < len / 2 && atomic_load(&p->unsent) > 0 &&
            atomic_load(&p->sent_ms) > 0)
            progressed_midway = true;
    }
    CHECK_EQ_INT(got, len);
    CHECK(progressed_midway);
    peer_finish(p); /* joins the writer: its accounting is done */
    CHECK_EQ_INT(atomic_load(&p->unsent), 0);
    close(sv[1]);
    peer_unref(p);
    queue_destroy(&node.queue);
}

int main(void)
{
    test_order();
    test_round_robin();
    test_hold();
    test_held_and_full();
    test_stall_fairness();
    test_send_progress();
    test_share_msgs();
    test_share_bytes();
    test_peer_close_wakes();
    test_queue_close_wakes();
    test_refs();
    return check_summary();
}
