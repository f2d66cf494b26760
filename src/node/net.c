/*
 * The network side of peerchaind: the listening socket and its acceptor, one
 * connector per outbound address, the reader loop every connection runs
 * (framing, envelope, handshake, ping/pong), and the peer registry.
 *
 * Threads:
 *   pc-acceptor   accept(); refuses banned IPs and connections over
 *                 --max-inbound with an `error`; else one pc-in-<peer> each.
 *   pc-in-<peer>  runs conn_run for one inbound connection.
 *   pc-conn-<i>   dials one address (getaddrinfo at every dial), runs
 *                 conn_run on success, redials with capped backoff + jitter.
 *   main          net_start, net_reap (joins finished threads), net_stop.
 * Any thread (the worker above all) may call node_broadcast,
 * node_peer_addresses, node_add_peer and node_peer_counts.
 *
 * Lock order (node.h): net.peers_mu -> queue.mu -> peer.mu -> bans.mu -> log.
 * net.stop_mu is a leaf: it guards nothing but the backoff waits on stop_cv
 * and is never held with another lock. No lock is held across send, recv,
 * accept, connect, poll or getaddrinfo.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "addr.h"
#include "frame.h"
#include "metrics.h"
#include "net.h"
#include "peer.h"
#include "sync.h"

#define NET_RECV_BYTES (64u * 1024u)   /* one recv() */
#define NET_POLL_MAX_MS 1000           /* a reader looks at its peer at least this often */
#define NET_FLUSH_MS 5000              /* a closing peer's writer may take this long */
#define NET_LINGER_MS 2000             /* after our `error`, wait this long for the remote's FIN */
#define NET_LINGER_BYTES (64u * 1024u) /* ... and drop at most this much of its input */
#define NET_CONNECT_TIMEOUT_MS 10000   /* one connect() attempt */
#define NET_BACKOFF_START_MS 250
#define NET_BACKOFF_CAP_MS 30000
#define NET_DISCOVERED_MAX_FAILS 8 /* a discovered address is dropped after this many */
#define NET_SELF_ADDRS 16          /* remembered targets that turned out to be us */
#define NET_LISTEN_BACKLOG 128
#define NET_MAX_STRING_CHARS 64 /* hello's network and agent */
#define NET_MAX_WORK_HEX 80

/* A thread net.c starts and main reaps: the first member of reader_rec and
 * connector, so one list walk serves both (the struct is freed through it). */
struct thread_rec {
    struct thread_rec *next; /* guarded by peers_mu */
    pthread_t thread;        /* written before the record is listed */
    atomic_bool done;        /* set by the thread as its last act; a flag, no lock */
};

/* An inbound reader thread. */
struct reader_rec {
    struct thread_rec t; /* first */
    struct node *node;   /* immutable */
    struct peer *peer;   /* the thread's reference; owned by the thread */
};

/* A connector: one outbound address. */
struct connector {
    struct thread_rec t;          /* first */
    struct node *node;            /* immutable */
    struct addr_target target;    /* immutable */
    char name[ADDR_TARGET_BYTES]; /* immutable: canonical "host:port" */
    bool configured;              /* immutable: from --peer/PEERS; never gives up */
    unsigned idx;                 /* immutable */
};

struct net {
    pthread_mutex_t peers_mu;
    struct peer *peers;            /* guarded by peers_mu: registry, one reference each */
    int n_inbound, n_outbound;     /* guarded by peers_mu: registered peers */
    struct thread_rec *readers;    /* guarded by peers_mu: struct reader_rec */
    struct thread_rec *connectors; /* guarded by peers_mu: struct connector */
    unsigned next_connector_idx;   /* guarded by peers_mu */
    char self_addrs[NET_SELF_ADDRS][ADDR_TARGET_BYTES]; /* guarded by peers_mu: ring */
    unsigned n_self;                                    /* guarded by peers_mu */
    bool stopping; /* guarded by peers_mu: nothing new is registered */

    pthread_mutex_t stop_mu; /* leaf lock, see the top of the file */
    pthread_cond_t stop_cv;  /* broadcast under stop_mu by net_stop */

    int listen_fd;                           /* immutable while the acceptor runs */
    pthread_t acceptor;                      /* main thread only */
    bool has_acceptor;                       /* main thread only */
    struct ban_table bans;                   /* its own mutex */
    char genesis_hex[PC_HASH_HEX_CHARS + 1]; /* immutable after net_start */
    char nonce_hex[17];                      /* immutable after net_start */
};

struct ban_table *net_bans(struct node *n)
{
    return n->net != NULL ? &n->net->bans : NULL;
}

/* Sleeps up to ms; returns early (true) when the node is stopping. */
static bool stop_sleep(struct node *n, int64_t ms)
{
    struct net *net = n->net;
    struct timespec deadline = sync_deadline(ms);
    sync_lock(&net->stop_mu);
    while (!atomic_load(&n->stopping))
        if (sync_timedwait(&net->stop_cv, &net->stop_mu, &deadline) == ETIMEDOUT)
            break;
    sync_unlock(&net->stop_mu);
    return atomic_load(&n->stopping);
}

/* ------------------------------------------------------------- registry */

/* Inbound peers registered from ip. Requires peers_mu. */
static int inbound_from(const struct net *net, const char *ip)
{
    int k = 0;
    for (const struct peer *q = net->peers; q != NULL; q = q->reg_next)
        k += q->inbound && strcmp(q->ip, ip) == 0;
    return k;
}

static int register_peer(struct node *n, struct peer *p)
{
    struct net *net = n->net;
    int r = 0;
    sync_lock(&net->peers_mu);
    if (net->stopping) {
        r = PC_E_SHUTDOWN;
    } else if (p->inbound && net->n_inbound >= n->cfg.max_inbound) {
        r = PC_E_LIMIT;
    } else if (p->inbound && inbound_from(net, p->ip) >= n->cfg.max_inbound_per_ip) {
        r = PC_E_LIMIT; /* one address must not hold every inbound slot */
    } else {
        peer_ref(p);
        p->reg_prev = NULL;
        p->reg_next = net->peers;
        if (net->peers != NULL)
            net->peers->reg_prev = p;
        net->peers = p;
        p->registered = true;
        if (p->inbound)
            net->n_inbound++;
        else
            net->n_outbound++;
    }
    sync_unlock(&net->peers_mu);
    return r;
}

static void unregister_peer(struct node *n, struct peer *p)
{
    struct net *net = n->net;
    bool was = false;
    sync_lock(&net->peers_mu);
    if (p->registered) {
        was = true;
        if (p->reg_prev != NULL)
            p->reg_prev->reg_next = p->reg_next;
        else
            net->peers = p->reg_next;
        if (p->reg_next != NULL)
            p->reg_next->reg_prev = p->reg_prev;
        p->reg_prev = p->reg_next = NULL;
        p->registered = false;
        if (p->inbound)
            net->n_inbound--;
        else
            net->n_outbound--;
    }
    sync_unlock(&net->peers_mu);
    if (was)
        peer_unref(p);
}

void node_broadcast_bytes(struct node *n, const char *data, size_t len, const char *type,
                          struct peer *except, enum broadcast_to to)
{
    struct net *net = n->net;
    if (net == NULL)
        return;
    sync_lock(&net->peers_mu);
    for (struct peer *p = net->peers; p != NULL; p = p->reg_next) {
        if (p == except || !atomic_load(&p->handshaked) || atomic_load(&p->closing))
            continue;
        bool is_seed = atomic_load(&p->seed);
        if ((to == BROADCAST_SEED && !is_seed) || (to == BROADCAST_PEERCHAIN && is_seed))
            continue;
        (void)peer_send_bytes(p, data, len, type); /* a failure closes that peer only */
    }
    sync_unlock(&net->peers_mu);
}

void node_broadcast(struct node *n, const json_t *msg, struct peer *except, enum broadcast_to to)
{
    size_t len;
    char *data = peer_serialize(msg, n->cfg.send_queue_bytes + 1, &len);
    if (data == NULL) {
        node_log(LOG_WARN, NULL, "broadcast: message does not serialize within %zu bytes",
                 n->cfg.send_queue_bytes);
        return;
    }
    node_broadcast_bytes(n, data, len, json_string_value(json_object_get(msg, "type")), except, to);
    free(data);
}

/* How a registry walk describes one peer: 0 with *out a new JSON value,
 * or NULL to leave the peer out; PC_E_NOMEM. Called under peers_mu. */
typedef int (*peer_json_fn)(const struct peer *p, bool verbose, json_t **out);

/* A JSON array of what fn makes of the registered peers, at most max of
 * them, built under peers_mu. New reference; NULL on allocation failure. */
static json_t *peers_json(struct node *n, peer_json_fn fn, bool verbose, size_t max)
{
    json_t *arr = json_array();
    struct net *net = n->net;
    if (arr == NULL || net == NULL)
        return arr;
    sync_lock(&net->peers_mu);
    for (struct peer *p = net->peers; p != NULL && json_array_size(arr) < max; p = p->reg_next) {
        json_t *e = NULL;
        if (fn(p, verbose, &e) != 0 || (e != NULL && json_array_append_new(arr, e) != 0)) {
            json_decref(arr);
            arr = NULL;
            break;
        }
    }
    sync_unlock(&net->peers_mu);
    return arr;
}

/* A `peers` entry: the listen address of a handshaked peerchain peer. */
static int listen_address(const struct peer *p, bool verbose, json_t **out)
{
    (void)verbose;
    int port = atomic_load(&p->listen_port);
    if (!atomic_load(&p->handshaked) || atomic_load(&p->seed) || port <= 0)
        return 0;
    char a[ADDR_STR_BYTES];
    addr_join(p->ip, port, a);
    *out = json_string(a);
    return *out != NULL ? 0 : PC_E_NOMEM;
}

json_t *node_peer_addresses(struct node *n)
{
    return peers_json(n, listen_address, false, PC_MAX_PEERS_PER_MESSAGE);
}

/* An API /peers entry for a handshaked, open peer. */
static int api_entry(const struct peer *p, bool verbose, json_t **out)
{
    if (!atomic_load(&p->handshaked) || atomic_load(&p->closing))
        return 0;
    if (!verbose) {
        *out = json_string(p->addr);
        return *out != NULL ? 0 : PC_E_NOMEM;
    }
    int port = atomic_load(&p->listen_port);
    char listen[ADDR_STR_BYTES];
    if (port > 0)
        addr_join(p->ip, port, listen);
    *out =
        json_pack("{s:I, s:s, s:s, s:s, s:I, s:s?}", "id", (json_int_t)p->id, "addr", p->addr,
                  "direction", p->inbound ? "inbound" : "outbound", "protocol",
                  atomic_load(&p->seed) ? "seed" : "peerchain", "height",
                  (json_int_t)atomic_load(&p->claimed_height), "listen", port > 0 ? listen : NULL);
    return *out != NULL ? 0 : PC_E_NOMEM;
}

json_t *node_peer_list(struct node *n, bool verbose)
{
    return peers_json(n, api_entry, verbose, SIZE_MAX);
}

uint64_t node_peers_best_height(struct node *n)
{
    struct net *net = n->net;
    uint64_t best = 0;
    if (net == NULL)
        return 0;
    sync_lock(&net->peers_mu);
    for (struct peer *p = net->peers; p != NULL; p = p->reg_next) {
        uint64_t h = atomic_load(&p->claimed_height);
        if (atomic_load(&p->handshaked) && !atomic_load(&p->closing) && h > best)
            best = h;
    }
    sync_unlock(&net->peers_mu);
    return best;
}

void node_peer_counts(struct node *n, int *inbound, int *outbound)
{
    struct net *net = n->net;
    *inbound = *outbound = 0;
    if (net == NULL)
        return;
    sync_lock(&net->peers_mu);
    *inbound = net->n_inbound;
    *outbound = net->n_outbound;
    sync_unlock(&net->peers_mu);
}

/* --------------------------------------------------------- the handshake */

/* Characters (UTF-8 code points) in a valid UTF-8 string. */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

static bool is_lower_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool get_int(const json_t *o, const char *key, json_int_t lo, json_int_t hi, json_int_t *out)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return false;
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

/* A string of at most max_chars characters (0 = no limit); NULL otherwise. */
static const char *get_str(const json_t *o, const char *key, size_t max_chars, size_t *len)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return NULL;
    *len = json_string_length(v);
    if (max_chars > 0 && utf8_chars(json_string_value(v), *len) > max_chars)
        return NULL;
    return json_string_value(v);
}

struct hello {
    const char *network, *genesis, *nonce, *agent, *work;
    json_int_t version, height, port;
};

/* Shape check of a hello payload (docs/protocol.md, "hello"). NULL if fine,
 * else what is wrong. */
static const char *hello_parse(const json_t *pl, struct hello *h)
{
    size_t len;
    pc_hash hash;
    pc_work work;
    if (!json_is_object(pl))
        return "payload is not an object";
    if ((h->network = get_str(pl, "network", NET_MAX_STRING_CHARS, &len)) == NULL)
        return "network: not a string of at most 64 characters";
    if ((h->genesis = get_str(pl, "genesis", 0, &len)) == NULL || len != PC_HASH_HEX_CHARS ||
        pc_hash_from_hex(h->genesis, len, &hash) != 0)
        return "genesis: not 64 lowercase hex characters";
    if (!get_int(pl, "version", LLONG_MIN, LLONG_MAX, &h->version))
        return "version: not an integer";
    if (!get_int(pl, "height", 1, PC_MAX_SAFE_INTEGER, &h->height))
        return "height: not an integer in 1..2^53-1";
    if ((h->work = get_str(pl, "work", 0, &len)) == NULL || len > NET_MAX_WORK_HEX ||
        pc_work_from_hex(h->work, len, &work) != 0)
        return "work: not minimal lowercase hex of at most 80 characters";
    if (!get_int(pl, "port", 0, 65535, &h->port))
        return "port: not an integer in 0..65535";
    if ((h->nonce = get_str(pl, "nonce", 0, &len)) == NULL || len != 16 ||
        !is_lower_hex(h->nonce, len))
        return "nonce: not 16 lowercase hex characters";
    if ((h->agent = get_str(pl, "agent", NET_MAX_STRING_CHARS, &len)) == NULL)
        return "agent: not a string of at most 64 characters";
    return NULL;
}

static int send_hello(struct node *n, struct peer *p)
{
    struct tip_snapshot tip;
    node_read_tip(n, &tip);
    char work[PC_WORK_HEX_BYTES];
    pc_work_to_hex(&tip.work, work);
    json_t *pl =
        json_pack("{s:s, s:s, s:i, s:I, s:s, s:i, s:s, s:s}", "network", n->cfg.net->id, "genesis",
                  n->net->genesis_hex, "version", PC_PROTOCOL_VERSION, "height",
                  (json_int_t)(tip.height > 0 ? tip.height : 1), "work", work, "port", n->p2p_port,
                  "nonce", n->net->nonce_hex, "agent", "peerchaind/" PC_VERSION_STRING);
    if (pl == NULL)
        return PC_E_NOMEM;
    return peer_send_msg(p, "hello", pl);
}

/* ----------------------------------------------------------- connections */

/* One connection's reading side: on the reader thread's stack, owned by it. */
struct conn {
    struct node *n;
    struct peer *p;
    struct frame_reader fr;
    /* Last time a whole message arrived. Bytes alone do not count: a peer
     * trickling a message that never ends is as silent as one sending nothing. */
    int64_t last_rx_ms;
    bool ping_out;   /* we pinged since last_rx_ms */
    bool got_first;  /* the first message decided the peer's kind */
    const char *end; /* why the loop ended, for the log */
    char end_buf[96];
};

/*
 * A `blocks` page is decoded into pc_blocks here, on the reader's thread, and
 * its JSON tree freed here, so that the chain worker only judges the blocks:
 * this is shape, not chain logic. A payload that does not decode goes on as
 * it is, and the worker finds the same fault and judges the peer for it.
 */
static void predecode_blocks(struct msg *m)
{
    if (m->kind != MSG_PEER || m->type == NULL || strcmp(m->type, "blocks") != 0)
        return;
    json_t *payload = json_object_get(m->body, "payload");
    json_t *arr = json_object_get(payload, "blocks");
    if (!json_is_array(arr) || json_array_size(arr) > PC_GETBLOCKS_MAX_BLOCKS)
        return;
    struct pc_err err = {0};
    /* On success m->blocks is never NULL, even for no blocks. */
    if (pc_blocks_from_json(arr, PC_GETBLOCKS_MAX_BLOCKS, &m->blocks, &m->n_blocks, &err) != 0)
        return;
    json_object_del(payload, "blocks");
}

/* Hands a message to the worker. False if the connection must end. */
static bool conn_push(struct conn *c, enum msg_kind kind, json_t *body, size_t wire_bytes)
{
    struct msg *m = msg_new(kind, c->p, body, wire_bytes);
    if (m == NULL) {
        c->end = "out of memory";
        return false;
    }
    predecode_blocks(m);
    int r = queue_push(&c->n->queue, m);
    if (r == PC_E_PROTOCOL) {
        msg_free(m);
        char why[PC_ERR_REASON_BYTES];
        snprintf(why, sizeof why, "kept sending while reading nothing of ours for %d ms",
                 QUEUE_STALL_MS);
        peer_misbehave(c->p, 100, PC_E_LIMIT, why);
        /* It reads nothing: the error cannot reach it, so do not wait for
         * the writer to flush it. */
        peer_abort(c->p);
        c->end = "sending while not reading";
        return false;
    }
    if (r != 0) {
        msg_free(m);
        c->end = r == PC_E_SHUTDOWN ? "shutting down" : "closed";
        return false;
    }
    return true;
}

/* Returns false if the connection must end. env is stolen. */
static bool on_hello(struct conn *c, json_t *env, size_t wire_bytes)
{
    struct node *n = c->n;
    struct peer *p = c->p;
    struct hello h;
    const char *bad = hello_parse(json_object_get(env, "payload"), &h);
    char why[PC_ERR_REASON_BYTES];
    bool ok = false;
    if (bad != NULL) {
        snprintf(why, sizeof why, "malformed hello: %s", bad);
        peer_misbehave(p, 100, PC_E_PROTOCOL, why);
    } else if (strcmp(h.network, n->cfg.net->id) != 0 ||
               strcmp(h.genesis, n->net->genesis_hex) != 0) {
        snprintf(why, sizeof why, "network %.64s genesis %.16s..., we are %s genesis %.16s...",
                 h.network, h.genesis, n->cfg.net->id, n->net->genesis_hex);
        peer_close(p, PC_E_NETWORK, why);
    } else if (strcmp(h.nonce, n->net->nonce_hex) == 0) {
        p->is_self = true;
        peer_close(p, PC_E_SELF, "connected to ourselves");
    } else if (h.version < 1) {
        snprintf(why, sizeof why, "protocol version %lld not supported", (long long)h.version);
        peer_close(p, PC_E_PROTOCOL, why);
    } else {
        ok = true;
    }
    if (!ok) {
        json_decref(env);
        c->end = "handshake failed";
        return false;
    }
    atomic_store(&p->listen_port, (int)h.port);
    atomic_store(&p->claimed_height, (uint64_t)h.height);
    atomic_store(&p->handshaked, true);
    node_log(LOG_INFO, p, "handshake ok: agent \"%s\" version %lld height %lld port %lld", h.agent,
             (long long)h.version, (long long)h.height, (long long)h.port);
    return conn_push(c, MSG_HELLO, env, wire_bytes);
}

/* ping/pong payloads: {"nonce": 0..2^53-1}. */
static bool ping_nonce(const json_t *env, json_int_t *nonce)
{
    return get_int(json_object_get(env, "payload"), "nonce", 0, PC_MAX_SAFE_INTEGER, nonce);
}

static void on_error_msg(struct conn *c, const json_t *env)
{
    const json_t *pl = json_object_get(env, "payload");
    const char *code = json_string_value(json_object_get(pl, "code"));
    const char *reason = json_string_value(json_object_get(pl, "reason"));
    node_log(LOG_WARN, c->p, "peer sent error %.40s: %.200s", code ? code : "(none)",
             reason ? reason : "");
}

/* Raises the peer's claimed height (for the API's sync target) from a
 * latestBlock announcement's "height". Only a claim: the worker validates. */
static void note_claimed_height(struct peer *p, const char *type, const json_t *env)
{
    json_int_t h;
    if (strcmp(type, "latestBlock") != 0 ||
        !get_int(json_object_get(env, "payload"), "height", 1, PC_MAX_SAFE_INTEGER, &h))
        return;
    uint64_t cur = atomic_load(&p->claimed_height);
    while ((uint64_t)h > cur &&
           !atomic_compare_exchange_weak(&p->claimed_height, &cur, (uint64_t)h))
        ;
}

/* What a message costs in its peer's queue share: its wire bytes, or, when
 * more, what its parsed tree takes (Jansson spends ~64 bytes a value), so
 * value-dense frames cannot hide most of their memory from the share. */
#define QUEUE_BYTES_PER_VALUE 64u
static size_t queue_charge(size_t wire_bytes, size_t values)
{
    if (values > SIZE_MAX / QUEUE_BYTES_PER_VALUE)
        return SIZE_MAX;
    size_t parsed = values * QUEUE_BYTES_PER_VALUE;
    return parsed > wire_bytes ? parsed : wire_bytes;
}

/* One complete frame. Returns false if the connection must end. */
static bool on_frame(struct conn *c, const char *frame, size_t len)
{
    struct peer *p = c->p;
    size_t charge = queue_charge(len, frame_values(&c->fr));
    json_error_t je;
    /* Duplicate keys are rejected: two parsers must never read one message
     * two ways. \u0000 is rejected by default (no JSON_ALLOW_NUL). */
    json_t *env = json_loadb(frame, len, JSON_REJECT_DUPLICATES, &je);
    char why[PC_ERR_REASON_BYTES];
    if (env == NULL) {
        snprintf(why, sizeof why, "invalid JSON at byte %d: %.100s", je.position, je.text);
        peer_misbehave(p, 100, PC_E_JSON, why);
        c->end = "invalid JSON";
        return false;
    }
    const json_t *type_j = json_object_get(env, "type");
    const char *type = json_string_value(type_j);
    size_t tlen = json_string_length(type_j);
    if (!json_is_object(env) || type == NULL || tlen == 0 ||
        utf8_chars(type, tlen) > PC_MAX_TYPE_CHARS) {
        json_decref(env);
        peer_misbehave(p, 100, PC_E_PROTOCOL, "bad envelope: no \"type\" string of 1..32 chars");
        c->end = "bad envelope";
        return false;
    }
    metrics_count_msg(METRICS_IN, type, len);
    note_claimed_height(p, type, env);
    bool is_seed_type = strcmp(type, "latestBlock") == 0 || strcmp(type, "allBlock") == 0;

    if (!c->got_first) {
        c->got_first = true;
        if (strcmp(type, "hello") == 0)
            return on_hello(c, env, charge);
        if (is_seed_type) {
            atomic_store(&p->seed, true);
            atomic_store(&p->handshaked, true);
            node_log(LOG_INFO, p, "seed-protocol peer (first message %s)", type);
            if (!conn_push(c, MSG_SEED_PEER, NULL, 0)) {
                json_decref(env);
                return false;
            }
            return conn_push(c, MSG_PEER, env, charge);
        }
        if (strcmp(type, "error") == 0) {
            on_error_msg(c, env); /* e.g. we are banned there: no reply */
            json_decref(env);
            peer_mark_closing(p);
            c->end = "refused by peer";
            return false;
        }
        snprintf(why, sizeof why, "first message is %.32s, not hello, latestBlock or allBlock",
                 type);
        json_decref(env);
        peer_close(p, PC_E_PROTOCOL, why);
        c->end = "handshake failed";
        return false;
    }

    json_int_t nonce;
    if (strcmp(type, "hello") == 0) {
        peer_misbehave(p, 50, PC_E_PROTOCOL, "second hello");
    } else if (strcmp(type, "ping") == 0) {
        if (!ping_nonce(env, &nonce))
            peer_misbehave(p, 50, PC_E_PROTOCOL, "malformed ping");
        else if (!atomic_load(&p->seed))
            (void)peer_send_msg(p, "pong", json_pack("{s:I}", "nonce", nonce));
    } else if (strcmp(type, "pong") == 0) {
        if (!ping_nonce(env, &nonce))
            peer_misbehave(p, 50, PC_E_PROTOCOL, "malformed pong");
    } else if (strcmp(type, "error") == 0) {
        on_error_msg(c, env);
    } else {
        return conn_push(c, MSG_PEER, env, charge);
    }
    json_decref(env);
    return !atomic_load(&p->closing);
}

/* Feeds received bytes to the framer. False if the connection must end. */
static bool on_bytes(struct conn *c, const char *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        size_t used;
        const char *frame;
        size_t flen;
        struct pc_err err;
        int r = frame_feed(&c->fr, buf + off, len - off, &used, &frame, &flen, &err);
        off += used;
        if (r < 0) {
            peer_misbehave(c->p, 100, err.code, err.reason);
            c->end = "bad framing";
            return false;
        }
        if (r != FRAME_READY)
            continue;
        c->last_rx_ms = node_mono_ms();
        c->ping_out = false;
        if (!on_frame(c, frame, flen))
            return false;
    }
    return true;
}

static void send_ping(struct conn *c)
{
    uint64_t nonce;
    randombytes_buf(&nonce, sizeof nonce);
    nonce &= (uint64_t)PC_MAX_SAFE_INTEGER;
    (void)peer_send_msg(c->p, "ping", json_pack("{s:I}", "nonce", (json_int_t)nonce));
    c->ping_out = true;
}

/* Closes the peer with a `timeout` error: "<what> <ms> ms". Returns -1. */
static int conn_timed_out(struct conn *c, const char *what, int ms, const char *end)
{
    char why[PC_ERR_REASON_BYTES];
    snprintf(why, sizeof why, "%s %d ms", what, ms);
    peer_close(c->p, PC_E_TIMEOUT, why);
    c->end = end;
    return -1;
}

/* Checks timers; returns the poll timeout, or -1 if the peer was closed. */
static int conn_timers(struct conn *c, int64_t now)
{
    const struct node_config *cfg = &c->n->cfg;
    struct peer *p = c->p;
    int64_t next = now + NET_POLL_MAX_MS;
    if (!c->got_first) {
        int64_t due = p->connected_ms + cfg->handshake_timeout_ms;
        if (now >= due)
            return conn_timed_out(c, "no hello within", cfg->handshake_timeout_ms,
                                  "handshake timeout");
        next = due < next ? due : next;
    }
    int64_t idle_due = c->last_rx_ms + cfg->idle_timeout_ms;
    if (now >= idle_due)
        return conn_timed_out(c, "silent for", cfg->idle_timeout_ms, "idle timeout");
    next = idle_due < next ? idle_due : next;
    if (c->got_first && !atomic_load(&p->seed) && !c->ping_out) {
        int64_t ping_due = c->last_rx_ms + cfg->idle_timeout_ms / 2;
        if (now >= ping_due)
            send_ping(c);
        else
            next = ping_due < next ? ping_due : next;
    }
    return (int)(next - now);
}

/* Reads until the connection ends; sets c->end. */
static void conn_read_loop(struct conn *c, char *buf)
{
    struct peer *p = c->p;
    for (;;) {
        if (atomic_load(&c->n->stopping)) {
            c->end = "shutting down";
            return;
        }
        if (atomic_load(&p->closing)) {
            if (c->end == NULL)
                c->end = "closed";
            return;
        }
        int64_t now = node_mono_ms();
        int timeout = conn_timers(c, now);
        if (timeout < 0)
            return;
        struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, timeout);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            snprintf(c->end_buf, sizeof c->end_buf, "poll: %s", strerror(errno));
            c->end = c->end_buf;
            return;
        }
        if (pr == 0)
            continue;
        ssize_t n = recv(p->fd, buf, NET_RECV_BYTES, 0);
        if (n == 0) {
            c->end =
                atomic_load(&c->n->stopping) ? "shutting down" : "remote closed the connection";
            return;
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            snprintf(c->end_buf, sizeof c->end_buf, "recv: %s", strerror(errno));
            c->end = c->end_buf;
            return;
        }
        if (!on_bytes(c, buf, (size_t)n))
            return;
    }
}

/* After we sent `error`: read and drop until the remote closes (it has read
 * the error by then), NET_LINGER_MS pass or NET_LINGER_BYTES arrive, so that
 * closing our socket with unread input does not reset the connection before
 * an honest remote has read the error. */
static void conn_linger(struct conn *c, char *buf)
{
    int64_t until = node_mono_ms() + NET_LINGER_MS;
    size_t dropped = 0;
    /* A peer still streaming (an oversized frame, a flood) is not read on:
     * past NET_LINGER_BYTES we close, and it is cut off. */
    while (dropped < NET_LINGER_BYTES) {
        int64_t left = until - node_mono_ms();
        if (left <= 0 || atomic_load(&c->n->stopping))
            return;
        struct pollfd pfd = {.fd = c->p->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return;
        ssize_t n = recv(c->p->fd, buf, NET_RECV_BYTES, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        dropped += (size_t)n;
    }
}

static void set_socket_options(struct node *n, int fd)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        node_log(LOG_DEBUG, NULL, "TCP_NODELAY: %s", strerror(errno));
    /* A writer blocked this long without progress gives up on the peer. */
    struct timeval tv = {.tv_sec = n->cfg.idle_timeout_ms / 1000,
                         .tv_usec = (n->cfg.idle_timeout_ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
        node_log(LOG_WARN, NULL, "SO_SNDTIMEO: %s", strerror(errno));
}

struct conn_result {
    bool handshaked;
    bool self;
};

/*
 * Runs one registered connection to its end: starts the writer, sends hello,
 * reads; then flushes, shuts down, joins the writer, unregisters the peer and
 * tells the worker. The caller keeps its own reference.
 */
static void conn_run(struct node *n, struct peer *p, struct conn_result *res)
{
    struct conn c = {.n = n, .p = p, .last_rx_ms = node_mono_ms()};
    frame_init(&c.fr, n->cfg.max_frame_bytes);
    char *buf = malloc(NET_RECV_BYTES);
    node_log(LOG_INFO, p, "connected (%s)", p->inbound ? "inbound" : "outbound");
    if (buf == NULL) {
        c.end = "out of memory";
    } else if (peer_start_writer(p) != 0) {
        c.end = "cannot start writer thread";
    } else if (send_hello(n, p) != 0) {
        c.end = "cannot send hello";
    } else {
        conn_read_loop(&c, buf);
    }
    /* We close deliberately when closing is set and the node is not stopping:
     * give the writer time to send the error, then wait for the remote. */
    bool deliberate = atomic_load(&p->closing) && !atomic_load(&n->stopping);
    if (peer_flush(p, NET_FLUSH_MS) && deliberate && buf != NULL)
        conn_linger(&c, buf);
    peer_finish(p);
    unregister_peer(n, p);
    node_log(LOG_INFO, p, "disconnected: %s", c.end != NULL ? c.end : "closed");

    struct msg *m = msg_new(MSG_DISCONNECTED, p, NULL, 0);
    if (m != NULL && queue_push(&n->queue, m) != 0)
        msg_free(m);
    res->handshaked = atomic_load(&p->handshaked);
    res->self = p->is_self;
    frame_destroy(&c.fr);
    free(buf);
}

/* ------------------------------------------------------------- inbound */

static void *reader_main(void *arg)
{
    struct reader_rec *rec = arg;
    struct conn_result res;
    conn_run(rec->node, rec->peer, &res);
    peer_unref(rec->peer);
    rec->peer = NULL;
    atomic_store(&rec->t.done, true);
    return NULL;
}

/* Best effort, never blocks: an `error` to a connection we refuse. */
static void refuse(int fd, int code, const char *reason)
{
    char msg[256];
    int len = snprintf(msg, sizeof msg,
                       "{\"type\":\"error\",\"payload\":{\"code\":\"%s\","
                       "\"reason\":\"%s\"}}\n",
                       pc_errname(code), reason);
    if (len > 0 && (size_t)len < sizeof msg &&
        send(fd, msg, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) == len)
        metrics_count_msg_type(METRICS_OUT, MT_ERROR, (size_t)len);
    /* Drop what the remote already sent (its hello): closing with unread
     * input would reset the connection and could lose our error. */
    char sink[4096];
    for (int i = 0; i < 16 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
        ;
    (void)shutdown(fd, SHUT_WR);
    if (close(fd) != 0)
        node_log(LOG_DEBUG, NULL, "close: %s", strerror(errno));
}

static void accept_one(struct node *n, int fd, const struct sockaddr *sa, socklen_t salen)
{
    struct net *net = n->net;
    char ip[ADDR_IP_BYTES], addr[ADDR_STR_BYTES];
    if (addr_from_sockaddr(sa, salen, ip, addr, NULL) != 0) {
        node_log(LOG_WARN, NULL, "accepted a connection of unknown address family");
        refuse(fd, PC_E_PROTOCOL, "unknown address family");
        return;
    }
    if (ban_check(&net->bans, ip)) {
        node_log(LOG_INFO, NULL, "refused %s: banned", addr);
        refuse(fd, PC_E_BANNED, "your address is banned");
        return;
    }
    set_socket_options(n, fd);
    struct peer *p = peer_new(n, fd, true, ip, addr);
    if (p == NULL) {
        node_log(LOG_ERROR, NULL, "refused %s: out of memory", addr);
        refuse(fd, PC_E_NOMEM, "out of memory");
        return;
    }
    int r = register_peer(n, p);
    if (r != 0) {
        p->fd = -1; /* refuse() closes it */
        peer_unref(p);
        node_log(LOG_INFO, NULL, "refused %s: %s", addr,
                 r == PC_E_LIMIT ? "too many inbound connections" : "shutting down");
        refuse(fd, r, r == PC_E_LIMIT ? "too many inbound connections" : "shutting down");
        return;
    }
    struct reader_rec *rec = calloc(1, sizeof *rec);
    char name[16];
    snprintf(name, sizeof name, "pc-in-%llu", (unsigned long long)p->id);
    if (rec != NULL) {
        rec->node = n;
        rec->peer = p; /* our reference passes to the thread */
        atomic_init(&rec->t.done, false);
    }
    if (rec == NULL ||
        sync_thread_start(&rec->t.thread, n->cfg.thread_stack_bytes, name, reader_main, rec) != 0) {
        free(rec);
        node_log(LOG_ERROR, p, "cannot start a reader; dropping the connection");
        peer_abort(p);
        unregister_peer(n, p);
        peer_unref(p);
        return;
    }
    sync_lock(&net->peers_mu);
    rec->t.next = net->readers;
    net->readers = &rec->t;
    sync_unlock(&net->peers_mu);
}

static void *acceptor_main(void *arg)
{
    struct node *n = arg;
    struct net *net = n->net;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(net->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
        if (atomic_load(&n->stopping)) {
            if (fd >= 0 && close(fd) != 0)
                node_log(LOG_DEBUG, NULL, "close: %s", strerror(errno));
            break;
        }
        if (fd >= 0) {
            accept_one(n, fd, (struct sockaddr *)&ss, sl);
            continue;
        }
        int e = errno;
        if (e == EINTR || e == ECONNABORTED || e == EPROTO || e == EPERM)
            continue;
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
            node_log(LOG_WARN, NULL, "accept: %s; pausing", strerror(e));
            stop_sleep(n, 100);
            continue;
        }
        node_log(LOG_ERROR, NULL, "accept: %s; no more inbound connections", strerror(e));
        break;
    }
    return NULL;
}

/* ------------------------------------------------------------ outbound */

/* Non-blocking connect bounded by NET_CONNECT_TIMEOUT_MS, watching stopping. */
static int connect_bounded(struct node *n, int fd, const struct sockaddr *sa, socklen_t len)
{
    if (connect(fd, sa, len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    int64_t until = node_mono_ms() + NET_CONNECT_TIMEOUT_MS;
    for (;;) {
        if (atomic_load(&n->stopping))
            return -ECANCELED;
        int64_t left = until - node_mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int pr = poll(&pfd, 1, left < 200 ? (int)left : 200);
        if (pr < 0 && errno != EINTR)
            return -errno;
        if (pr <= 0)
            continue;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            return -errno;
        return soerr == 0 ? 0 : -soerr;
    }
}

/* The source address for outbound connections when --bind names one IP. */
static bool bind_source(const struct node *n, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    const char *b = n->cfg.bind_addr;
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (b[0] == '\0')
        return false;
    if (inet_pton(AF_INET, b, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        *len = sizeof *s4;
        return true;
    }
    if (inet_pton(AF_INET6, b, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        *len = sizeof *s6;
        return true;
    }
    return false;
}

/* Resolves and dials c's target. 0 with *fd_out connected and ip/addr set,
 * or a negative code with a reason in why. */
static int dial(struct connector *c, int *fd_out, char ip[ADDR_IP_BYTES], char addr[ADDR_STR_BYTES],
                char *why, size_t why_len)
{
    struct node *n = c->node;
    struct sockaddr_storage src;
    socklen_t src_len = 0;
    bool has_src = bind_source(n, &src, &src_len);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_family = has_src ? src.ss_family : AF_UNSPEC,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(c->target.host, c->target.port, &hints, &res);
    if (g != 0) {
        snprintf(why, why_len, "cannot resolve %.100s%s: %s", c->target.host,
                 !has_src                    ? ""
                 : src.ss_family == AF_INET6 ? " as IPv6 (--bind)"
                                             : " as IPv4 (--bind)",
                 gai_strerror(g));
        return PC_E_IO;
    }
    int r = PC_E_IO;
    snprintf(why, why_len, "no usable address");
    for (struct addrinfo *ai = res; ai != NULL && r != 0; ai = ai->ai_next) {
        if (addr_from_sockaddr(ai->ai_addr, ai->ai_addrlen, ip, addr, NULL) != 0)
            continue;
        if (ban_check(&n->net->bans, ip)) {
            snprintf(why, why_len, "%s is banned", ip);
            r = PC_E_BANNED;
            continue;
        }
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            snprintf(why, why_len, "socket: %s", strerror(errno));
            continue;
        }
        int e = 0;
        if (has_src && bind(fd, (struct sockaddr *)&src, src_len) != 0)
            e = -errno;
        if (e == 0)
            e = connect_bounded(n, fd, ai->ai_addr, ai->ai_addrlen);
        int fl = e == 0 ? fcntl(fd, F_GETFL) : -1;
        if (e == 0 && (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0))
            e = -errno;
        if (e != 0) {
            snprintf(why, why_len, "connect %s: %s", addr, strerror(-e));
            if (close(fd) != 0)
                node_log(LOG_DEBUG, NULL, "close: %s", strerror(errno));
            continue;
        }
        *fd_out = fd;
        r = 0;
    }
    freeaddrinfo(res);
    return r;
}

static void remember_self(struct node *n, const char *name)
{
    struct net *net = n->net;
    sync_lock(&net->peers_mu);
    snprintf(net->self_addrs[net->n_self % NET_SELF_ADDRS], ADDR_TARGET_BYTES, "%s", name);
    net->n_self++;
    sync_unlock(&net->peers_mu);
}

static void *connector_main(void *arg)
{
    struct connector *c = arg;
    struct node *n = c->node;
    int64_t backoff = NET_BACKOFF_START_MS;
    unsigned fails = 0;
    while (!atomic_load(&n->stopping)) {
        int fd = -1;
        char ip[ADDR_IP_BYTES], addr[ADDR_STR_BYTES], why[160];
        bool handshaked = false;
        if (dial(c, &fd, ip, addr, why, sizeof why) != 0) {
            node_log(fails < 3 ? LOG_INFO : LOG_DEBUG, NULL, "dial %s failed: %s", c->name, why);
        } else {
            set_socket_options(n, fd);
            struct peer *p = peer_new(n, fd, false, ip, addr);
            if (p == NULL) {
                node_log(LOG_ERROR, NULL, "dial %s: out of memory", c->name);
                if (close(fd) != 0)
                    node_log(LOG_DEBUG, NULL, "close: %s", strerror(errno));
            } else if (register_peer(n, p) != 0) {
                peer_unref(p);
                break; /* stopping */
            } else {
                struct conn_result res;
                conn_run(n, p, &res);
                peer_unref(p);
                if (res.self) {
                    node_log(LOG_INFO, NULL, "%s is ourselves; not dialing it again", c->name);
                    remember_self(n, c->name);
                    break;
                }
                handshaked = res.handshaked;
            }
        }
        if (handshaked) {
            backoff = NET_BACKOFF_START_MS;
            fails = 0;
        } else if (++fails >= NET_DISCOVERED_MAX_FAILS && !c->configured) {
            node_log(LOG_INFO, NULL, "giving up on %s after %u failed attempts", c->name, fails);
            break;
        }
        int64_t wait = backoff + randombytes_uniform((uint32_t)(backoff / 2 + 1));
        if (stop_sleep(n, wait))
            break;
        backoff = backoff * 2 > NET_BACKOFF_CAP_MS ? NET_BACKOFF_CAP_MS : backoff * 2;
    }
    atomic_store(&c->t.done, true);
    return NULL;
}

/* Starts a connector for t. Requires peers_mu held. */
static int connector_start_locked(struct node *n, const struct addr_target *t, const char *name,
                                  bool configured)
{
    struct net *net = n->net;
    struct connector *c = calloc(1, sizeof *c);
    if (c == NULL)
        return PC_E_NOMEM;
    c->node = n;
    c->target = *t;
    snprintf(c->name, sizeof c->name, "%s", name);
    c->configured = configured;
    c->idx = net->next_connector_idx++;
    atomic_init(&c->t.done, false);
    char tname[16];
    snprintf(tname, sizeof tname, "pc-conn-%u", c->idx);
    node_log(LOG_INFO, NULL, "dialing %s (%s)", name, configured ? "configured" : "discovered");
    if (sync_thread_start(&c->t.thread, n->cfg.thread_stack_bytes, tname, connector_main, c) != 0) {
        free(c);
        return PC_E_IO;
    }
    c->t.next = net->connectors;
    net->connectors = &c->t;
    return 0;
}

/* True if t is an IP literal naming our own listening socket. With --bind, a
 * target equal to that address and port; without it, a loopback address with
 * our port (we hold that port on every local address, so no other process
 * can listen there). Saves a connection that the hello nonce would refuse. */
static bool is_own_address(const struct node *n, const struct addr_target *t)
{
    if (t->port_num != n->p2p_port)
        return false;
    if (n->cfg.bind_addr[0] != '\0')
        return strcmp(t->host, n->cfg.bind_addr) == 0;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, t->host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, t->host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

static int add_peer(struct node *n, const char *hostport, bool configured)
{
    struct net *net = n->net;
    struct addr_target t;
    struct pc_err err;
    if (addr_parse(hostport, &t, &err) != 0)
        return PC_E_ARG;
    if (net == NULL)
        return PC_E_SHUTDOWN;
    char name[ADDR_TARGET_BYTES];
    addr_target_format(&t, name);
    if (ban_check(&net->bans, t.host))
        return PC_E_BANNED;
    if (is_own_address(n, &t))
        return PC_E_SELF;

    int r = 0;
    sync_lock(&net->peers_mu);
    int alive = 0;
    if (net->stopping)
        r = PC_E_SHUTDOWN;
    for (struct thread_rec *tr = net->connectors; tr != NULL && r == 0; tr = tr->next) {
        const struct connector *c = (const struct connector *)tr;
        if (atomic_load(&tr->done))
            continue;
        alive++;
        if (strcmp(c->name, name) == 0)
            r = PC_E_DUPLICATE;
    }
    for (unsigned i = 0; i < NET_SELF_ADDRS && i < net->n_self && r == 0; i++)
        if (strcmp(net->self_addrs[i], name) == 0)
            r = PC_E_SELF;
    for (struct peer *p = net->peers; p != NULL && r == 0; p = p->reg_next) {
        char a[ADDR_STR_BYTES];
        addr_join(p->ip, atomic_load(&p->listen_port), a);
        if (atomic_load(&p->handshaked) && strcmp(a, name) == 0)
            r = PC_E_DUPLICATE; /* already connected (it dialed us) */
    }
    if (r == 0 && alive >= n->cfg.max_outbound)
        r = PC_E_LIMIT;
    if (r == 0)
        r = connector_start_locked(n, &t, name, configured);
    sync_unlock(&net->peers_mu);
    return r;
}

int node_add_peer(struct node *n, const char *hostport)
{
    return add_peer(n, hostport, false);
}

/* ------------------------------------------------------------- listening */

/* socket, SO_REUSEADDR, bind, listen on ss (port set by the caller). The
 * socket or -1 with errno set. */
static int listen_on(struct sockaddr_storage *ss, socklen_t len, bool dual_stack)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        node_log(LOG_WARN, NULL, "SO_REUSEADDR: %s", strerror(errno));
    if (dual_stack && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0)
        node_log(LOG_WARN, NULL, "IPV6_V6ONLY=0: %s; IPv6 only", strerror(errno));
    if (bind(fd, (struct sockaddr *)ss, len) != 0 || listen(fd, NET_LISTEN_BACKLOG) != 0) {
        int e = errno;
        (void)close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Listens on --bind's address, or on IPv6 any (dual stack) falling back to
 * IPv4 any; sets n->p2p_port to the bound port. */
static int listen_socket(struct node *n, int *fd_out)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    uint16_t port_be = htons((uint16_t)n->cfg.p2p_port);
    int fd;
    if (bind_source(n, &ss, &len)) {
        if (ss.ss_family == AF_INET6)
            s6->sin6_port = port_be;
        else
            s4->sin_port = port_be;
        fd = listen_on(&ss, len, false);
    } else {
        memset(&ss, 0, sizeof ss);
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_any;
        s6->sin6_port = port_be;
        fd = listen_on(&ss, sizeof *s6, true);
        if (fd < 0 && errno != EADDRINUSE && errno != EACCES) {
            node_log(LOG_INFO, NULL, "no IPv6 (%s); listening on IPv4 only", strerror(errno));
            memset(&ss, 0, sizeof ss);
            s4->sin_family = AF_INET;
            s4->sin_addr.s_addr = htonl(INADDR_ANY);
            s4->sin_port = port_be;
            fd = listen_on(&ss, sizeof *s4, false);
        }
    }
    if (fd < 0) {
        node_log(LOG_ERROR, NULL, "cannot listen on %s port %d: %s",
                 n->cfg.bind_addr[0] ? n->cfg.bind_addr : "all addresses", n->cfg.p2p_port,
                 strerror(errno));
        return PC_E_IO;
    }
    socklen_t sl = sizeof ss;
    char ip[ADDR_IP_BYTES];
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        addr_from_sockaddr((struct sockaddr *)&ss, sl, ip, NULL, &port) != 0) {
        node_log(LOG_ERROR, NULL, "getsockname: %s", strerror(errno));
        (void)close(fd);
        return PC_E_IO;
    }
    n->p2p_port = port;
    *fd_out = fd;
    return 0;
}

/* See net.h: temporary name, then rename(2). */
int node_write_port_file(const char *path, int port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return PC_E_ARG;
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        goto fail;
    bool ok = fprintf(f, "%d\n", port) > 0;
    if (fclose(f) != 0 || !ok)
        goto fail_unlink;
    if (rename(tmp, path) != 0)
        goto fail_unlink;
    return 0;
fail_unlink:
    (void)unlink(tmp);
fail:
    node_log(LOG_ERROR, NULL, "cannot write port file %s: %s", path, strerror(errno));
    return PC_E_IO;
}

/* --------------------------------------------------------- start and stop */

static int net_alloc(struct node *n)
{
    struct net *net = calloc(1, sizeof *net);
    if (net == NULL)
        return PC_E_NOMEM;
    net->listen_fd = -1;
    if (pthread_mutex_init(&net->peers_mu, NULL) != 0)
        goto fail;
    if (pthread_mutex_init(&net->stop_mu, NULL) != 0)
        goto fail_peers_mu;
    if (sync_cond_init(&net->stop_cv) != 0)
        goto fail_stop_mu;
    if (ban_init(&net->bans) != 0)
        goto fail_stop_cv;
    n->net = net;
    return 0;
fail_stop_cv:
    sync_check(pthread_cond_destroy(&net->stop_cv), "pthread_cond_destroy");
fail_stop_mu:
    sync_check(pthread_mutex_destroy(&net->stop_mu), "pthread_mutex_destroy");
fail_peers_mu:
    sync_check(pthread_mutex_destroy(&net->peers_mu), "pthread_mutex_destroy");
fail:
    free(net);
    return PC_E_IO;
}

int net_listen(struct node *n)
{
    int r = net_alloc(n);
    if (r != 0)
        return r;
    struct net *net = n->net;

    pc_block *g = pc_network_genesis(n->cfg.net);
    if (g == NULL)
        return PC_E_NOMEM;
    pc_hash_to_hex(&g->hash, net->genesis_hex);
    pc_block_free(g);
    snprintf(net->nonce_hex, sizeof net->nonce_hex, "%016llx", (unsigned long long)n->nonce);

    if ((r = listen_socket(n, &net->listen_fd)) != 0)
        return r;
    node_log(LOG_INFO, NULL, "listening on port %d", n->p2p_port);
    if (n->cfg.port_file != NULL && (r = node_write_port_file(n->cfg.port_file, n->p2p_port)) != 0)
        return r;
    return 0;
}

int net_start(struct node *n)
{
    int r;
    if (n->net == NULL && (r = net_listen(n)) != 0)
        return r;
    struct net *net = n->net;
    if ((r = sync_thread_start(&net->acceptor, 0, "pc-acceptor", acceptor_main, n)) != 0)
        return r;
    net->has_acceptor = true;

    for (size_t i = 0; i < n->cfg.n_peers; i++) {
        r = add_peer(n, n->cfg.peers[i], true);
        if (r == PC_E_LIMIT) {
            node_log(LOG_WARN, NULL, "--max-outbound %d reached; not dialing %s",
                     n->cfg.max_outbound, n->cfg.peers[i]);
        } else if (r == PC_E_DUPLICATE) {
            node_log(LOG_INFO, NULL, "%s given twice", n->cfg.peers[i]);
        } else if (r == PC_E_SELF) {
            node_log(LOG_WARN, NULL, "%s is our own address (a self-connection); not dialing it",
                     n->cfg.peers[i]);
        } else if (r != 0) {
            node_log(LOG_ERROR, NULL, "cannot dial %s: %s", n->cfg.peers[i], pc_strerror(r));
            return r;
        }
    }
    return 0;
}

/* Moves the finished records of *list (all when all) onto *done. Requires
 * peers_mu held. */
static void take_finished(struct thread_rec **list, struct thread_rec **done, bool all)
{
    for (struct thread_rec **pp = list; *pp != NULL;) {
        struct thread_rec *t = *pp;
        if (all || atomic_load(&t->done)) {
            *pp = t->next;
            t->next = *done;
            *done = t;
        } else {
            pp = &t->next;
        }
    }
}

/* Joins finished inbound readers and connectors (all of them when all). */
static void reap(struct node *n, bool all)
{
    struct net *net = n->net;
    struct thread_rec *done = NULL;
    sync_lock(&net->peers_mu);
    take_finished(&net->readers, &done, all);
    take_finished(&net->connectors, &done, all);
    sync_unlock(&net->peers_mu);
    while (done != NULL) {
        struct thread_rec *next = done->next;
        sync_check(pthread_join(done->thread, NULL), "pthread_join");
        free(done); /* the record's first member: frees the whole record */
        done = next;
    }
}

void net_reap(struct node *n)
{
    if (n->net != NULL)
        reap(n, false);
}

void net_stop(struct node *n)
{
    struct net *net = n->net;
    if (net == NULL)
        return;
    atomic_store(&n->stopping, true);
    sync_lock(&net->peers_mu);
    net->stopping = true;
    sync_unlock(&net->peers_mu);

    /* The acceptor: shutdown(2) on a listening socket makes accept() return. */
    if (net->has_acceptor) {
        if (shutdown(net->listen_fd, SHUT_RDWR) != 0)
            node_log(LOG_DEBUG, NULL, "shutdown(listen): %s", strerror(errno));
        sync_check(pthread_join(net->acceptor, NULL), "pthread_join acceptor");
        net->has_acceptor = false;
    }
    if (net->listen_fd >= 0) {
        if (close(net->listen_fd) != 0)
            node_log(LOG_DEBUG, NULL, "close(listen): %s", strerror(errno));
        net->listen_fd = -1;
    }
    /* Connectors in a backoff wait. */
    sync_lock(&net->stop_mu);
    sync_broadcast(&net->stop_cv);
    sync_unlock(&net->stop_mu);
    /* Every connection: its reader and writer wake and end. */
    sync_lock(&net->peers_mu);
    for (struct peer *p = net->peers; p != NULL; p = p->reg_next)
        peer_abort(p);
    sync_unlock(&net->peers_mu);
    reap(n, true);
}

void net_free(struct node *n)
{
    struct net *net = n->net;
    if (net == NULL)
        return;
    reap(n, true);
    if (net->listen_fd >= 0)
        (void)close(net->listen_fd);
    ban_destroy(&net->bans);
    sync_check(pthread_cond_destroy(&net->stop_cv), "pthread_cond_destroy");
    sync_check(pthread_mutex_destroy(&net->stop_mu), "pthread_mutex_destroy");
    sync_check(pthread_mutex_destroy(&net->peers_mu), "pthread_mutex_destroy");
    free(net);
    n->net = NULL;
}
