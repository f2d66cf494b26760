/*
 * The chain worker and the miner without the network: a struct node with a
 * queue and a worker but no net_start. Mined blocks go in as MSG_LOCAL_BLOCK;
 * "peers" are socketpairs: the test pushes what a reader would push
 * (MSG_HELLO, MSG_SEED_PEER, MSG_PEER) and reads the worker's replies from
 * the other end of the pair. Announcements (node_broadcast) go nowhere here:
 * without net_start there is no registry.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "node.h"
#include "peer.h"
#include "store.h"
#include "testnet.h"

#define READ_TIMEOUT_MS 10000

/* ----------------------------------------------------------- the node */

/* Each node keeps its chain in a fresh temporary data directory, in a map
 * of store_map_bytes (0: the default). */
static char datadir[64];
static size_t store_map_bytes;

static void node_setup(struct node *n, size_t max_frame_bytes)
{
    memset(n, 0, sizeof *n);
    strcpy(datadir, "/tmp/pc-worker-test-XXXXXX");
    CHECK(mkdtemp(datadir) != NULL);
    n->cfg.datadir = datadir;
    CHECK(pc_store_open(datadir, pc_network_find("regtest"), store_map_bytes, &n->store, NULL) ==
          0);
    n->cfg.net = pc_network_find("regtest");
    n->cfg.max_frame_bytes = max_frame_bytes;
    n->cfg.queue_share_bytes = 8u << 20;
    n->cfg.queue_share_msgs = 1024;
    n->cfg.send_queue_bytes = 64u << 20;
    n->cfg.ban_seconds = 60;
    n->nonce = 0x0123456789abcdefu;
    atomic_init(&n->tip_changed, false);
    atomic_init(&n->stopping, false);
    CHECK(queue_init(&n->queue, n->cfg.queue_share_bytes, n->cfg.queue_share_msgs,
                     QUEUE_HOLD_BYTES) == 0);
    CHECK(pthread_mutex_init(&n->tip_mu, NULL) == 0);
    CHECK(worker_start(n) == 0);
}

static void store_teardown(struct node *n);

static void node_teardown(struct node *n)
{
    atomic_store(&n->stopping, true);
    queue_close(&n->queue);
    worker_stop(n);
    queue_destroy(&n->queue);
    CHECK(pthread_mutex_destroy(&n->tip_mu) == 0);
    store_teardown(n);
}

/* Closes the node's store and removes its data directory. */
static void store_teardown(struct node *n)
{
    pc_store_close(n->store);
    n->store = NULL;
    n->cfg.datadir = NULL;
    static const char *const files[] = {"data.mdb", "lock.mdb"};
    char path[128];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", datadir, files[i]);
        unlink(path);
    }
    rmdir(datadir);
}

static uint64_t tip_height(struct node *n)
{
    struct tip_snapshot t;
    node_read_tip(n, &t);
    return t.height;
}

/* The tip height once it is want, or what it is after 10 s. */
static uint64_t wait_tip_height(struct node *n, uint64_t want)
{
    uint64_t h = tip_height(n);
    for (int i = 0; i < 10000 && h != want; i++) {
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
        h = tip_height(n);
    }
    return h;
}

static pc_hash tip_hash(struct node *n)
{
    struct tip_snapshot t;
    node_read_tip(n, &t);
    return t.hash;
}

/* A chain the "remote" side builds: regtest, blocks one second apart from
 * genesis (all in the past, so valid for the worker's clock). */
static pc_chain *remote_chain(size_t n_blocks, const char *datum)
{
    pc_chain *c = pc_chain_new(pc_network_find("regtest"));
    CHECK(c != NULL);
    if (c != NULL && n_blocks > 0)
        CHECK(testnet_grow(c, n_blocks, 1, datum) == 0);
    return c;
}

/* ------------------------------------------------------ local blocks */

struct pending {
    struct mine_request req;
};

static void pending_init(struct pending *pe)
{
    memset(pe, 0, sizeof *pe);
    CHECK(pthread_mutex_init(&pe->req.mu, NULL) == 0);
    CHECK(pthread_cond_init(&pe->req.done_cv, NULL) == 0);
}

/* Pushes b (taken) with pe as its waiter. 0 or queue_push's refusal. */
static int submit_async(struct node *n, pc_block *b, struct pending *pe)
{
    struct msg *m = msg_new(MSG_LOCAL_BLOCK, NULL, NULL, 0);
    CHECK(m != NULL);
    m->block = b;
    m->req = &pe->req;
    int rc = queue_push(&n->queue, m);
    if (rc != 0) {
        msg_free(m);
        pe->req.done = true;
        pe->req.result = rc;
    }
    return rc;
}

/* Waits for pe; returns its result and frees it. */
static int pending_wait(struct pending *pe)
{
    CHECK(pthread_mutex_lock(&pe->req.mu) == 0);
    while (!pe->req.done)
        CHECK(pthread_cond_wait(&pe->req.done_cv, &pe->req.mu) == 0);
    int rc = pe->req.result;
    json_decref(pe->req.block_json);
    CHECK(pthread_mutex_unlock(&pe->req.mu) == 0);
    CHECK(pthread_cond_destroy(&pe->req.done_cv) == 0);
    CHECK(pthread_mutex_destroy(&pe->req.mu) == 0);
    return rc;
}

static int submit(struct node *n, pc_block *b)
{
    struct pending pe;
    pending_init(&pe);
    submit_async(n, b, &pe);
    return pending_wait(&pe);
}

/* A block mined on base. */
static pc_block *mine_on(const struct pc_template_base *base, const char *datum)
{
    size_t len = strlen(datum);
    pc_block *b = pc_block_template(base, &datum, &len, 1, node_unix_now(), NULL);
    CHECK(b != NULL);
    if (b != NULL)
        CHECK(pc_mine(b, 0, 0, NULL, NULL) == 0);
    return b;
}

/* A block mined on the node's published tip. */
static pc_block *mine_on_tip(struct node *n, const char *datum)
{
    struct tip_snapshot t;
    node_read_tip(n, &t);
    return mine_on(&t.base, datum);
}

static void test_local_blocks(void)
{
    struct node n;
    node_setup(&n, PC_DEFAULT_MAX_FRAME_BYTES);
    CHECK_EQ_INT(tip_height(&n), 1);

    for (uint64_t h = 2; h <= 6; h++) {
        const char *item = "api block";
        size_t len = strlen(item);
        json_t *out = NULL;
        struct pc_err err = {0};
        CHECK_EQ_INT(node_mine_block(&n, &item, &len, 1, &out, &err), 0);
        CHECK_EQ_INT(json_integer_value(json_object_get(out, "height")), h);
        json_decref(out);
        CHECK_EQ_INT(tip_height(&n), h);
    }
    CHECK(atomic_load(&n.tip_changed));

    /* One row per rejection: the chain must not move. */
    struct {
        const char *what;
        int want;
    } rows[] = {
        {"stale", PC_E_HEIGHT},      {"bad-pow", PC_E_POW},       {"bad-hash", PC_E_HASH},
        {"bad-merkle", PC_E_MERKLE}, {"bad-height", PC_E_HEIGHT},
    };
    struct tip_snapshot old;
    node_read_tip(&n, &old);
    pc_block *stale_base = mine_on_tip(&n, "will be stale");
    CHECK_EQ_INT(submit(&n, mine_on_tip(&n, "moves the tip")), 0);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        pc_block *b;
        if (strcmp(rows[i].what, "stale") == 0) {
            b = stale_base;
            stale_base = NULL;
        } else {
            b = mine_on_tip(&n, rows[i].what);
        }
        if (strcmp(rows[i].what, "bad-pow") == 0) {
            while (pc_hash_meets_difficulty(&b->hash, b->difficulty)) {
                b->nonce++;
                pc_block_compute_hash(b, &b->hash);
            }
        } else if (strcmp(rows[i].what, "bad-hash") == 0) {
            b->hash.b[31] ^= 1;
        } else if (strcmp(rows[i].what, "bad-merkle") == 0) {
            b->merkle_root.b[0] ^= 1;
            CHECK(pc_mine(b, 0, 0, NULL, NULL) == 0);
        } else if (strcmp(rows[i].what, "bad-height") == 0) {
            b->height++;
            CHECK(pc_mine(b, 0, 0, NULL, NULL) == 0);
        }
        pc_hash before = tip_hash(&n);
        int rc = submit(&n, b);
        if (rc != rows[i].want)
            fprintf(stderr, "row %s: got %s\n", rows[i].what, pc_errname(rc));
        CHECK_EQ_INT(rc, rows[i].want);
        pc_hash after = tip_hash(&n);
        CHECK(pc_hash_equal(&before, &after));
    }
    CHECK_EQ_INT(tip_height(&n), old.height + 1);
    node_teardown(&n);
}

/* Requests still queued when the queue closes are answered, never lost. */
static void test_shutdown_answers_pending(void)
{
    struct node n;
    node_setup(&n, PC_DEFAULT_MAX_FRAME_BYTES);
    enum { N_PENDING = 64 };
    static struct pending pe[N_PENDING];
    struct tip_snapshot t;
    node_read_tip(&n, &t);
    for (int i = 0; i < N_PENDING; i++) {
        pending_init(&pe[i]);
        submit_async(&n, mine_on(&t.base, "pending"), &pe[i]); /* one base: the rest go stale */
    }
    atomic_store(&n.stopping, true);
    queue_close(&n.queue);
    int accepted = 0, stale = 0, shutdown = 0;
    for (int i = 0; i < N_PENDING; i++) {
        int rc = pending_wait(&pe[i]);
        accepted += rc == 0;
        stale += rc == PC_E_HEIGHT;
        shutdown += rc == PC_E_SHUTDOWN;
    }
    CHECK_EQ_INT(accepted + stale + shutdown, N_PENDING);
    CHECK(accepted <= 1);
    /* Closed queue: a new request is refused at once. */
    struct pending late;
    pending_init(&late);
    CHECK_EQ_INT(submit_async(&n, mine_on_tip(&n, "late"), &late), PC_E_SHUTDOWN);
    CHECK_EQ_INT(pending_wait(&late), PC_E_SHUTDOWN);
    worker_stop(&n);
    queue_destroy(&n.queue);
    CHECK(pthread_mutex_destroy(&n.tip_mu) == 0);
    store_teardown(&n);
}

/*
 * A store that cannot take another block (its map is full): each commit
 * fails, the block is refused with the store's error and the chain stays as
 * it was, nothing announced; the third failure in a row stops the node
 * (n->failed, SIGTERM to the process, caught here), and after that nothing
 * more is written.
 */
static void test_store_failure_stops_node(void)
{
    sigset_t term, old;
    CHECK(sigemptyset(&term) == 0 && sigaddset(&term, SIGTERM) == 0);
    /* Before the worker starts, so that it inherits the mask too. */
    CHECK(pthread_sigmask(SIG_BLOCK, &term, &old) == 0);
    struct node n;
    store_map_bytes = 64u << 10;
    node_setup(&n, PC_DEFAULT_MAX_FRAME_BYTES);
    store_map_bytes = 0;
    static char big[60000];
    memset(big, 'x', sizeof big - 1);
    for (int i = 0; i < 4; i++) {
        struct pending pe;
        pending_init(&pe);
        big[0] = (char)('a' + i);
        CHECK_EQ_INT(submit_async(&n, mine_on_tip(&n, big), &pe), 0);
        CHECK_EQ_INT(pending_wait(&pe), PC_E_STORE);
        CHECK_EQ_INT(tip_height(&n), 1);
        CHECK_EQ_INT(atomic_load(&n.failed), i >= 2);
    }
    struct timespec zero = {0, 0};
    CHECK_EQ_INT(sigtimedwait(&term, NULL, &zero), SIGTERM);
    CHECK_EQ_INT(pc_store_tip_height(n.store), 1);
    node_teardown(&n);
    CHECK(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0);
}

/* ------------------------------------------------------------ fake peers */

struct fake {
    struct node *n;
    struct peer *p;
    int fd;    /* our end of the pair */
    char *buf; /* bytes read, not yet returned */
    size_t len, cap;
};

static void fake_open(struct fake *f, struct node *n, bool is_seed)
{
    int sv[2];
    memset(f, 0, sizeof *f);
    f->n = n;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    f->fd = sv[1];
    f->p = peer_new(n, sv[0], true, "127.0.0.9", "127.0.0.9:9");
    CHECK(f->p != NULL);
    CHECK(peer_start_writer(f->p) == 0);
    atomic_store(&f->p->handshaked, true);
    atomic_store(&f->p->seed, is_seed);
}

static void fake_push(struct fake *f, enum msg_kind kind, json_t *body)
{
    struct msg *m = msg_new(kind, f->p, body, 0);
    CHECK(m != NULL);
    CHECK_EQ_INT(queue_push(&f->n->queue, m), 0);
}

static void fake_send(struct fake *f, const char *type, json_t *payload)
{
    fake_push(f, MSG_PEER, json_pack("{s:s, s:o}", "type", type, "payload", payload));
}

static void fake_hello(struct fake *f, const pc_chain *c)
{
    pc_work w;
    char hex[PC_WORK_HEX_BYTES];
    pc_chain_work(c, &w);
    pc_work_to_hex(&w, hex);
    json_t *pl = json_pack("{s:s, s:I, s:s}", "network", "peerchain-regtest-1", "height",
                           (json_int_t)pc_chain_height(c), "work", hex);
    fake_push(f, MSG_HELLO, json_pack("{s:s, s:o}", "type", "hello", "payload", pl));
}

/* The next message the worker sent this peer; NULL on timeout or EOF. */
static json_t *fake_recv(struct fake *f)
{
    for (;;) {
        char *nl = f->len ? memchr(f->buf, '\n', f->len) : NULL;
        if (nl != NULL) {
            size_t line = (size_t)(nl - f->buf);
            json_t *j = json_loadb(f->buf, line, 0, NULL);
            memmove(f->buf, nl + 1, f->len - line - 1);
            f->len -= line + 1;
            CHECK(j != NULL);
            return j;
        }
        struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
        if (poll(&pfd, 1, READ_TIMEOUT_MS) <= 0)
            return NULL;
        if (f->cap - f->len < 65536) {
            f->cap = f->cap ? f->cap * 2 : 1 << 17;
            f->buf = realloc(f->buf, f->cap);
            if (f->buf == NULL)
                abort();
        }
        ssize_t r = read(f->fd, f->buf + f->len, f->cap - f->len);
        if (r <= 0)
            return NULL;
        f->len += (size_t)r;
    }
}

/* Skips messages until one of `type`; returns it (caller decrefs) or NULL. */
static json_t *fake_expect(struct fake *f, const char *type)
{
    json_t *m;
    while ((m = fake_recv(f)) != NULL) {
        if (strcmp(json_string_value(json_object_get(m, "type")), type) == 0)
            return m;
        json_decref(m);
    }
    fprintf(stderr, "no %s message arrived\n", type);
    return NULL;
}

/* A barrier: the worker handles one peer's messages in order, so once the
 * latestBlock answer arrives everything sent before it was handled. */
static void fake_sync(struct fake *f)
{
    fake_send(f, "latestBlock", json_object());
    json_decref(fake_expect(f, "latestBlock"));
}

static void fake_close(struct fake *f)
{
    fake_push(f, MSG_DISCONNECTED, NULL);
    peer_finish(f->p);
    peer_unref(f->p);
    close(f->fd);
    free(f->buf);
}

/* Answers a getBlocks request from chain c the way a peer would. Returns
 * the height of the last block sent (0 if none). */
static uint64_t answer_get_blocks(struct fake *f, const pc_chain *c, const json_t *req)
{
    const json_t *pl = json_object_get(req, "payload");
    const json_t *arr = json_object_get(pl, "locator");
    pc_hash loc[PC_LOCATOR_MAX_HASHES];
    size_t k = json_array_size(arr);
    bool is_ok = k >= 1 && k <= PC_LOCATOR_MAX_HASHES;
    for (size_t i = 0; is_ok && i < k; i++)
        is_ok = pc_hash_from_hex(json_string_value(json_array_get(arr, i)), 64, &loc[i]) == 0;
    CHECK(is_ok);
    uint64_t from = is_ok ? pc_chain_locate(c, loc, k) : 0;
    from = (from ? from : 1) + 1;
    uint64_t limit = (uint64_t)json_integer_value(json_object_get(pl, "limit"));
    uint64_t last = 0;
    json_t *blocks = json_array();
    for (uint64_t h = from; h <= pc_chain_height(c) && json_array_size(blocks) < limit; h++) {
        json_array_append_new(blocks, pc_block_to_json(pc_chain_at(c, h)));
        last = h;
    }
    fake_send(f, "blocks",
              json_pack("{s:o, s:I}", "blocks", blocks, "tip", (json_int_t)pc_chain_height(c)));
    return last;
}

static json_t *block_json_at(const pc_chain *c, uint64_t h)
{
    return pc_block_to_json(pc_chain_at(c, h));
}

static json_t *blocks_json(const pc_chain *c, uint64_t from, uint64_t to)
{
    json_t *arr = json_array();
    for (uint64_t h = from; h <= to; h++)
        json_array_append_new(arr, block_json_at(c, h));
    return arr;
}

/* ----------------------------------------------------------- peer tests */

static void test_queries_and_offers(void)
{
    struct node n;
    node_setup(&n, PC_DEFAULT_MAX_FRAME_BYTES);
    pc_chain *remote = remote_chain(5, "remote");
    struct fake f;
    fake_open(&f, &n, false);
    pc_chain *genesis_only = remote_chain(0, NULL);
    fake_hello(&f, genesis_only); /* no more work than ours: no sync */
    json_t *m = fake_expect(&f, "getPeers");
    CHECK(m != NULL);
    json_decref(m);

    /* latestBlock query: our tip (genesis). */
    fake_send(&f, "latestBlock", json_null());
    m = fake_expect(&f, "latestBlock");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(m, "payload"), "height")), 1);
    json_decref(m);

    /* Offers that link onto the tip are appended, one by one. */
    for (uint64_t h = 2; h <= 3; h++)
        fake_send(&f, "latestBlock", block_json_at(remote, h));
    fake_sync(&f);
    CHECK_EQ_INT(tip_height(&n), 3);
    /* Already known: ignored. Lower and not linking: ignored. */
    fake_send(&f, "latestBlock", block_json_at(remote, 2));
    fake_sync(&f);
    CHECK_EQ_INT(tip_height(&n), 3);

    /* allBlock queries: {} from genesis, {from, limit}, [] like {}. */
    fake_send(&f, "allBlock", json_pack("{s:i, s:i}", "from", 2, "limit", 1));
    m = fake_expect(&f, "allBlock");
    CHECK_EQ_INT(json_array_size(json_object_get(m, "payload")), 1);
    json_decref(m);
    fake_send(&f, "allBlock", json_array());
    m = fake_expect(&f, "allBlock");
    CHECK_EQ_INT(json_array_size(json_object_get(m, "payload")), 3);
    json_decref(m);
    fake_send(&f, "allBlock", json_pack("{s:i}", "from", 99));
    m = fake_expect(&f, "allBlock");
    CHECK_EQ_INT(json_array_size(json_object_get(m, "payload")), 0);
    json_decref(m);

    /* getBlocks from a locator of our block 2: blocks 3.., tip 3. */
    char hex[PC_HASH_HEX_CHARS + 1];
    pc_hash_to_hex(&pc_chain_at(remote, 2)->hash, hex);
    fake_send(&f, "getBlocks", json_pack("{s:[s]}", "locator", hex));
    m = fake_expect(&f, "blocks");
    json_t *pl = json_object_get(m, "payload");
    CHECK_EQ_INT(json_array_size(json_object_get(pl, "blocks")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(pl, "tip")), 3);
    json_decref(m);

    /* getPeers: an answer even without a registry. */
    fake_send(&f, "getPeers", json_object());
    m = fake_expect(&f, "peers");
    CHECK(json_is_array(json_object_get(json_object_get(m, "payload"), "peers")));
    json_decref(m);

    /* An allBlock offer of the rest: adopted. */
    fake_send(&f, "allBlock", blocks_json(remote, 2, 6));
    fake_sync(&f);
    CHECK_EQ_INT(tip_height(&n), 6);

    /* One malformed payload (50) is survivable; the second closes. */
    fake_send(&f, "getBlocks", json_pack("{s:[i]}", "locator", 7));
    fake_sync(&f);
    CHECK(!peer_is_closing(f.p));
    fake_send(&f, "blocks", json_string("nope"));
    json_decref(fake_expect(&f, "error"));
    CHECK(peer_is_closing(f.p));
    fake_close(&f);

    /* An invalid block linking onto the tip: misbehaviour 100, closed. */
    fake_open(&f, &n, false);
    pc_block *bad = testnet_mine_next(remote, pc_chain_tip(remote)->timestamp + 1, "bad");
    bad->merkle_root.b[0] ^= 1;
    CHECK(pc_mine(bad, 0, 0, NULL, NULL) == 0);
    fake_send(&f, "latestBlock", pc_block_to_json(bad));
    m = fake_expect(&f, "error");
    CHECK(m != NULL);
    CHECK(peer_is_closing(f.p));
    json_decref(m);
    CHECK_EQ_INT(tip_height(&n), 6);
    pc_block_free(bad);
    fake_close(&f);

    pc_chain_free(genesis_only);
    pc_chain_free(remote);
    node_teardown(&n);
}

/* hello with more work: getBlocks pages, validated as they come; a branch
 * longer than one page is adopted. */
static void test_sync_pages(void)
{
    struct node n;
    node_setup(&n, PC_DEFAULT_MAX_FRAME_BYTES);
    CHECK_EQ_INT(submit(&n, mine_on_tip(&n, "our own fork")), 0);
    pc_chain *remote = remote_chain(PC_GETBLOCKS_MAX_BLOCKS + 500, "remote");
    struct fake f;
    fake_open(&f, &n, false);
    fake_hello(&f, remote);
    int pages = 0;
    uint64_t last = 0;
    json_t *req;
    while (last < pc_chain_height(remote) && pages < 5 &&
           (req = fake_expect(&f, "getBlocks")) != NULL) {
        last = answer_get_blocks(&f, remote, req);
        json_decref(req);
        pages++;
    }
    fake_sync(&f);
    CHECK_EQ_INT(pages, 2);
    CHECK_EQ_INT(tip_height(&n), pc_chain_height(remote));
    pc_hash want = pc_chain_tip(remote)->hash, got = tip_hash(&n);
    CHECK(pc_hash_equal(&want, &got));
    fake_close(&f);

    /* A page with an invalid block in its middle: nothing of it is taken. */
    pc_chain *longer = remote_chain(0, NULL);
    for (uint64_t h = 2; h <= pc_chain_height(remote); h++)
        CHECK(pc_chain_append(longer, pc_block_clone(pc_chain_at(remote, h)), node_unix_now(),
                              NULL) == 0);
    CHECK(testnet_grow(longer, 10, 1, "more") == 0);
    fake_open(&f, &n, false);
    fake_hello(&f, longer);
    req = fake_expect(&f, "getBlocks");
    json_t *blocks = blocks_json(longer, pc_chain_height(remote) + 1, pc_chain_height(longer));
    json_t *mid = json_array_get(blocks, 5);
    json_object_set_new(mid, "nonce",
                        json_integer(json_integer_value(json_object_get(mid, "nonce")) + 1));
    fake_send(
        &f, "blocks",
        json_pack("{s:o, s:I}", "blocks", blocks, "tip", (json_int_t)pc_chain_height(longer)));
    json_decref(fake_expect(&f, "error"));
    CHECK(peer_is_closing(f.p));
    CHECK_EQ_INT(tip_height(&n), pc_chain_height(remote));
    json_decref(req);
    fake_close(&f);

    pc_chain_free(longer);
    pc_chain_free(remote);
    node_teardown(&n);
}

/* The branch is adopted as soon as it beats our chain, and the next page is
 * asked for before this one is validated: a valid first page that beats our
 * chain is kept when a later page holds an invalid block (whose sender is
 * banned). */
static void test_sync_adopts_each_page(void)
{
    struct node n;
    node_setup(&n, PC_DEFAULT_MAX_FRAME_BYTES);
    pc_chain *remote = remote_chain(PC_GETBLOCKS_MAX_BLOCKS + 100, "remote");
    struct fake f;
    fake_open(&f, &n, false);
    fake_hello(&f, remote);
    json_t *req = fake_expect(&f, "getBlocks");
    CHECK_EQ_INT(answer_get_blocks(&f, remote, req), PC_GETBLOCKS_MAX_BLOCKS + 1);
    json_decref(req);
    req = fake_expect(&f, "getBlocks"); /* asked before page 1 is validated... */
    CHECK_EQ_INT(wait_tip_height(&n, PC_GETBLOCKS_MAX_BLOCKS + 1),
                 PC_GETBLOCKS_MAX_BLOCKS + 1); /* ...which is then adopted */
    json_t *blocks = blocks_json(remote, PC_GETBLOCKS_MAX_BLOCKS + 2, pc_chain_height(remote));
    json_t *bad = json_array_get(blocks, 50);
    json_object_set_new(bad, "timestamp", json_integer(1));
    fake_send(
        &f, "blocks",
        json_pack("{s:o, s:I}", "blocks", blocks, "tip", (json_int_t)pc_chain_height(remote)));
    json_decref(fake_expect(&f, "error"));
    CHECK(peer_is_closing(f.p));
    CHECK_EQ_INT(tip_height(&n), PC_GETBLOCKS_MAX_BLOCKS + 1);
    json_decref(req);
    fake_close(&f);
    pc_chain_free(remote);
    node_teardown(&n);
}

/* A seed-protocol peer: a higher tip that does not link is fetched with
 * allBlock {}, and the answer (from genesis) is adopted. */
static void test_seed_peer(void)
{
    struct node n;
    node_setup(&n, PC_DEFAULT_MAX_FRAME_BYTES);
    CHECK_EQ_INT(submit(&n, mine_on_tip(&n, "ours")), 0);
    pc_chain *remote = remote_chain(9, "seed");
    struct fake f;
    fake_open(&f, &n, true);
    fake_push(&f, MSG_SEED_PEER, NULL);
    fake_send(&f, "latestBlock", block_json_at(remote, pc_chain_height(remote)));
    json_t *q = fake_expect(&f, "allBlock");
    json_t *qp = json_object_get(q, "payload");
    CHECK(json_is_object(qp) && json_object_size(qp) == 0);
    json_decref(q);
    fake_send(&f, "allBlock", blocks_json(remote, 1, pc_chain_height(remote)));
    fake_sync(&f);
    CHECK_EQ_INT(tip_height(&n), pc_chain_height(remote));
    /* A seed peer is served nothing but latestBlock and allBlock. */
    fake_send(&f, "getPeers", json_object());
    fake_sync(&f);
    CHECK(!peer_is_closing(f.p));
    fake_close(&f);
    pc_chain_free(remote);
    node_teardown(&n);
}

/* Replies are cut to the frame size: a chain of large blocks goes out in
 * several pages, each under the limit, none empty. */
static void test_pages_fit_frames(void)
{
    enum { FRAME = 64 * 1024, N_BLOCKS = 40 };
    struct node n;
    node_setup(&n, FRAME);
    static char big[10000];
    memset(big, 'x', sizeof big - 1);
    for (int i = 0; i < N_BLOCKS; i++) {
        big[0] = (char)('a' + i % 26);
        CHECK_EQ_INT(submit(&n, mine_on_tip(&n, big)), 0);
    }
    struct fake f;
    fake_open(&f, &n, false);
    uint64_t from = 1, got = 0;
    int pages = 0;
    while (pages < 2 * N_BLOCKS) {
        fake_send(&f, "allBlock", json_pack("{s:I}", "from", (json_int_t)from));
        json_t *m = fake_expect(&f, "allBlock");
        if (m == NULL)
            break;
        size_t k = json_array_size(json_object_get(m, "payload"));
        CHECK(json_dumpb(m, NULL, 0, JSON_COMPACT) + 1 <= FRAME);
        json_decref(m);
        if (k == 0)
            break;
        pages++;
        got += k;
        from += k;
    }
    CHECK_EQ_INT(got, N_BLOCKS + 1);
    CHECK(pages >= 5);
    fake_close(&f);
    node_teardown(&n);
}

/* A sync that ends with its next page already asked for (the page failed on
 * a block too far in the future: no ban) owes that answer; when the same
 * peer starts a new sync, the late answer is dropped, not taken as the new
 * sync's first page. */
static void test_owed_answer_dropped(void)
{
    struct node n;
    node_setup(&n, PC_DEFAULT_MAX_FRAME_BYTES);
    pc_chain *c = remote_chain(PC_GETBLOCKS_MAX_BLOCKS + 10, "owed");
    struct fake f;
    fake_open(&f, &n, false);
    fake_hello(&f, c);
    json_t *req = fake_expect(&f, "getBlocks");
    json_decref(req);

    /* Page 1 whose last block is valid but 3 h ahead of our clock. */
    uint64_t last_h = PC_GETBLOCKS_MAX_BLOCKS + 1;
    json_t *page = blocks_json(c, 2, last_h - 1);
    pc_block *fut = pc_block_clone(pc_chain_at(c, last_h));
    CHECK(fut != NULL);
    fut->timestamp = node_unix_now() + 3 * 3600;
    CHECK(pc_mine(fut, 0, 0, NULL, NULL) == 0);
    json_array_append_new(page, pc_block_to_json(fut));
    fake_send(&f, "blocks",
              json_pack("{s:o, s:I}", "blocks", page, "tip", (json_int_t)pc_chain_height(c)));
    json_t *owed = fake_expect(&f, "getBlocks"); /* asked before validating */
    CHECK(owed != NULL);
    fake_sync(&f); /* the page was judged: the sync ended, not the peer */
    CHECK(!peer_is_closing(f.p));
    CHECK_EQ_INT(tip_height(&n), 1);

    /* A new offer starts a new sync... */
    fake_send(&f, "latestBlock", block_json_at(c, pc_chain_height(c)));
    req = fake_expect(&f, "getBlocks");
    CHECK(req != NULL);
    /* ...and the answer owed to the old one arrives first: dropped, so no
     * restart (a getBlocks) follows it. */
    json_t *late = blocks_json(c, last_h + 1, pc_chain_height(c));
    fake_send(&f, "blocks",
              json_pack("{s:o, s:I}", "blocks", late, "tip", (json_int_t)pc_chain_height(c)));
    fake_send(&f, "latestBlock", json_object());
    json_t *m;
    bool restarted = false;
    while ((m = fake_recv(&f)) != NULL) {
        const char *type = json_string_value(json_object_get(m, "type"));
        bool is_end = strcmp(type, "latestBlock") == 0;
        restarted = restarted || strcmp(type, "getBlocks") == 0;
        json_decref(m);
        if (is_end)
            break;
    }
    CHECK(!restarted);
    /* The new sync's own answer is taken. */
    if (req != NULL)
        answer_get_blocks(&f, c, req);
    CHECK_EQ_INT(wait_tip_height(&n, PC_GETBLOCKS_MAX_BLOCKS + 1), PC_GETBLOCKS_MAX_BLOCKS + 1);
    json_decref(req);
    json_decref(owed);
    pc_block_free(fut);
    fake_close(&f);
    pc_chain_free(c);
    node_teardown(&n);
}

int main(void)
{
    if (pc_crypto_init() != 0)
        return 1;
    node_log_set_level(LOG_WARN);
    test_local_blocks();
    test_shutdown_answers_pending();
    test_store_failure_stops_node();
    test_queries_and_offers();
    test_sync_pages();
    test_sync_adopts_each_page();
    test_seed_peer();
    test_pages_fit_frames();
    test_owed_answer_dropped();
    return check_summary();
}
