/*
 * peerchain-stress flood: hostile peers at full speed against one node,
 * while an honest peer measures how the node still serves it.
 *
 * The node holds a chain of --blocks N. --peers F hostile peers of each
 * --kind (a comma-separated list) run for --seconds S, each from its own
 * source address (bans are per address), each in its own thread, and
 * reconnect whenever the node drops them:
 *   garbage         bytes that are not JSON, as fast as the socket takes them
 *   oversized       one frame that never ends (past the 4 MiB frame cap)
 *   valid           latestBlock queries back to back (answers read and dropped)
 *   invalid-blocks  latestBlock offers of a block with a wrong merkle root
 *   slow-reader     allBlock requests for 2,000 blocks, answers never read
 * The honest peer (127.0.0.1) sends a latestBlock query, waits for the
 * answer, and again every FLOOD_HONEST_GAP_MS; a getBlocks page every tenth
 * round shows that it can still sync. The node's RSS and queue depth are
 * sampled meanwhile; bans come from /metrics at the end.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gen.h"
#include "proc.h"
#include "scenario.h"
#include "web.h"
#include "wire.h"

#define FLOOD_MAX_KINDS 5u
#define FLOOD_MAX_PEERS 500u /* per kind */
#define FLOOD_HONEST_GAP_MS 2u
#define FLOOD_HONEST_TIMEOUT_MS 5000u
#define FLOOD_CHUNK_BYTES 65536u
#define FLOOD_END_GRACE_MS 1000u /* still_open */

enum flood_kind { K_GARBAGE, K_OVERSIZED, K_VALID, K_INVALID, K_SLOW };
static const char *const kind_names[] = {"garbage", "oversized", "valid", "invalid-blocks",
                                         "slow-reader"};

struct hostile {
    pthread_t th;
    enum flood_kind kind;  /* immutable after start */
    char src[32];          /* immutable after start */
    int port;              /* immutable after start */
    uint64_t stop_ns;      /* immutable after start */
    const char *bad_offer; /* immutable after start; shared, read only */
    /* owned by the thread until joined: */
    uint64_t connects, dropped, refused, bytes_out;
    bool connected_at_end;
};

/* A latestBlock offer of the block after tip with a wrong merkle root: it
 * links onto the node's tip, so the node validates it (an offer below the
 * tip would only be ignored). */
static char *make_bad_offer(const pc_block *g)
{
    struct pc_err err = {0};
    char *text = NULL;
    struct pc_template_base base = {.parent_height = g->height,
                                    .parent_hash = g->hash,
                                    .difficulty = g->difficulty,
                                    .median_time_past = g->timestamp};
    const char *item = "flood";
    size_t len = strlen(item);
    pc_block *b = pc_block_template(&base, &item, &len, 1, g->timestamp + 1, &err);
    if (b != NULL && pc_mine(b, 0, 0, NULL, NULL) == 0) {
        b->merkle_root.b[0] ^= 1; /* invalid by rule 7, still well formed */
        json_t *m = json_pack("{s:s, s:o}", "type", "latestBlock", "payload", pc_block_to_json(b));
        text = m ? json_dumps(m, JSON_COMPACT) : NULL;
        json_decref(m);
    }
    pc_block_free(b);
    return text;
}

/* One round of this kind's traffic on c. -1 once the node dropped us. */
static int hostile_round(struct hostile *h, struct wire_conn *c, char *chunk, bool first)
{
    static const char valid_q[] = "{\"type\":\"latestBlock\",\"payload\":{}}\n";
    static const char slow_q[] =
        "{\"type\":\"allBlock\",\"payload\":{\"from\":1,\"limit\":2000}}\n";
    char sink[FLOOD_CHUNK_BYTES];
    switch (h->kind) {
    case K_GARBAGE:
        return wire_send_raw(c, chunk, FLOOD_CHUNK_BYTES);
    case K_OVERSIZED:
        if (first && wire_send_raw(c, "{\"type\":\"x\",\"payload\":\"", 23) != 0)
            return -1;
        return wire_send_raw(c, chunk, FLOOD_CHUNK_BYTES);
    case K_VALID:
        for (int i = 0; i < 64; i++)
            if (wire_send_raw(c, valid_q, sizeof valid_q - 1) != 0)
                return -1;
        /* Read what is there, so the node's send queue for us drains. */
        for (;;) {
            ssize_t n = recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
            if (n == 0)
                return -1;
            if (n < 0)
                return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
        }
    case K_INVALID:
        if (wire_send_raw(c, h->bad_offer, strlen(h->bad_offer)) != 0 ||
            wire_send_raw(c, "\n", 1) != 0)
            return -1;
        return 0;
    case K_SLOW:
        /* Never read; the sends block once both socket buffers are full. */
        return wire_send_raw(c, slow_q, sizeof slow_q - 1);
    }
    return -1;
}

/* Reads what arrives (an error message, say) for up to FLOOD_END_GRACE_MS:
 * false once the node has closed the connection. The grace lets the node
 * judge a connection opened a moment before the end of the run. */
static bool still_open(struct wire_conn *c)
{
    char sink[4096];
    uint64_t until = now_ns() + (uint64_t)FLOOD_END_GRACE_MS * 1000000u;
    for (;;) {
        ssize_t n = recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return false;
        uint64_t now = now_ns();
        if (now >= until)
            return true;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        (void)poll(&p, 1, (int)((until - now) / 1000000u) + 1);
    }
}

static void *hostile_run(void *arg)
{
    struct hostile *h = arg;
    /* The attack runs on the node's own machine here, where a real one would
     * not: at nice 19 its threads take the CPU only when the node and the
     * honest peer leave it idle, so the figures measure the node, not the
     * scheduler sharing two CPUs with 100 load threads. (Per thread: Linux
     * nice applies to the calling thread.) */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19) != 0)
        stress_err("flood: cannot lower a hostile thread's priority: %s", strerror(errno));
    char *chunk = malloc(FLOOD_CHUNK_BYTES);
    if (chunk == NULL)
        return NULL;
    for (size_t i = 0; i < FLOOD_CHUNK_BYTES; i++)
        chunk[i] = h->kind == K_GARBAGE ? (char)('!' + i % 60) : 'a';
    while (!stress_stopping && now_ns() < h->stop_ns) {
        struct wire_conn c;
        if (wire_connect(&c, "127.0.0.1", h->port, h->src, 1000) != 0) {
            h->refused++;
            wire_close(&c);
            sleep_ms(10);
            continue;
        }
        if (h->kind == K_SLOW) {
            int small = 4096;
            setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        }
        /* Sends must not outlive the run: a slow reader's send blocks. */
        struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
        setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        h->connects++;
        bool ok = h->kind == K_GARBAGE || h->kind == K_OVERSIZED ||
                  wire_send_hello(&c, pc_network_find("regtest"), NULL, NULL) == 0;
        bool first = true;
        while (ok && !stress_stopping && now_ns() < h->stop_ns) {
            if (hostile_round(h, &c, chunk, first) != 0) {
                /* A send timeout is a slow reader doing its job, not a drop. */
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    struct pollfd p = {.fd = c.fd, .events = 0};
                    if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)))
                        ok = false;
                    continue;
                }
                ok = false;
            }
            first = false;
        }
        if (!ok || !still_open(&c))
            h->dropped++;
        else
            h->connected_at_end = true;
        h->bytes_out += c.bytes_out;
        wire_close(&c);
    }
    free(chunk);
    return NULL;
}

struct honest {
    pthread_t th;
    int port;                 /* immutable after start */
    uint64_t stop_ns;         /* immutable after start */
    const char *genesis_hash; /* immutable after start */
    /* owned by the thread until joined: */
    struct samples latest_ms, page_ms;
    uint64_t timeouts, reconnects, pages_short;
};

/* Sends one query and waits for an answer of type `want`. Returns ms, or
 * -1 on timeout or drop. */
static double ask(struct wire_conn *c, const char *type, json_t *payload, const char *want,
                  size_t *n_blocks)
{
    uint64_t t0 = now_ns();
    if (wire_send(c, type, payload) != 0)
        return -1;
    for (;;) {
        json_t *m;
        uint64_t left = FLOOD_HONEST_TIMEOUT_MS - (now_ns() - t0) / 1000000u;
        if ((now_ns() - t0) / 1000000u >= FLOOD_HONEST_TIMEOUT_MS)
            return -1;
        if (wire_recv(c, (unsigned)left, &m, NULL) != 1)
            return -1;
        bool match = strcmp(wire_type(m), want) == 0;
        if (match && n_blocks != NULL)
            *n_blocks = json_array_size(json_object_get(wire_payload(m), "blocks"));
        json_decref(m);
        if (match)
            return ns_to_ms(now_ns() - t0);
    }
}

static void *honest_run(void *arg)
{
    struct honest *h = arg;
    struct wire_conn c = {.fd = -1};
    bool up = false;
    for (unsigned round = 0; !stress_stopping && now_ns() < h->stop_ns; round++) {
        if (!up) {
            wire_close(&c);
            if (wire_connect(&c, "127.0.0.1", h->port, NULL, 1000) != 0 ||
                wire_send_hello(&c, pc_network_find("regtest"), NULL, NULL) != 0) {
                h->reconnects++;
                sleep_ms(10);
                continue;
            }
            up = true;
        }
        double ms = ask(&c, "latestBlock", json_object(), "latestBlock", NULL);
        if (ms < 0) {
            h->timeouts++;
            up = false;
            continue;
        }
        samples_add(&h->latest_ms, ms);
        if (round % 10 == 0) {
            size_t got = 0;
            json_t *p = json_pack("{s:[s], s:i}", "locator", h->genesis_hash, "limit", 100);
            ms = ask(&c, "getBlocks", p, "blocks", &got);
            if (ms < 0) {
                h->timeouts++;
                up = false;
                continue;
            }
            samples_add(&h->page_ms, ms);
            if (got != 100)
                h->pages_short++;
        }
        sleep_ms(FLOOD_HONEST_GAP_MS);
    }
    wire_close(&c);
    return NULL;
}

static int parse_kinds(const char *list, enum flood_kind *out, unsigned *n)
{
    char buf[128];
    if (strlen(list) >= sizeof buf)
        return -1;
    strcpy(buf, list);
    *n = 0;
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        unsigned k;
        for (k = 0; k < FLOOD_MAX_KINDS && strcmp(t, kind_names[k]) != 0; k++)
            ;
        if (k == FLOOD_MAX_KINDS || *n == FLOOD_MAX_KINDS)
            return -1;
        out[(*n)++] = (enum flood_kind)k;
    }
    return *n > 0 ? 0 : -1;
}

int scenario_flood(const struct stress_opts *o, struct results *r)
{
    enum flood_kind kinds[FLOOD_MAX_KINDS];
    unsigned n_kinds, n_host = 0;
    struct gen_chain g = {0};
    struct hostile *hs = NULL;
    struct honest hon = {0};
    bool hon_started = false;
    char *bad_offer = NULL, genesis_hex[PC_HASH_HEX_CHARS + 1];
    double max_rss = 0, max_queue = 0;
    int rc = 1;

    if (parse_kinds(o->kind, kinds, &n_kinds) != 0) {
        stress_err("--kind: want a comma-separated list of garbage, oversized, valid, "
                   "invalid-blocks, slow-reader; not '%s'",
                   o->kind);
        return 2;
    }
    if (o->peers > FLOOD_MAX_PEERS) {
        stress_err("flood: --peers at most %u", FLOOD_MAX_PEERS);
        return 2;
    }
    results_param_str(r, "kind", o->kind);
    results_param_int(r, "peers_per_kind", o->peers);
    results_param_int(r, "seconds", o->seconds);
    results_param_int(r, "blocks", (long long)o->blocks);
    if (gen_make(&g, pc_network_find("regtest"), o->blocks) != 0 ||
        (bad_offer = make_bad_offer(g.tip)) == NULL)
        goto out;
    pc_block *gb = pc_network_genesis(pc_network_find("regtest"));
    if (gb == NULL)
        goto out;
    pc_hash_to_hex(&gb->hash, genesis_hex);
    pc_block_free(gb);
    struct node_proc *node = proc_start("node", NULL);
    if (node == NULL || proc_wait_ready(node, 10000) != 0 ||
        sync_load_seed(o, &g, node->p2p_port) != 0)
        goto out;

    uint64_t t0 = now_ns(), stop = t0 + (uint64_t)o->seconds * 1000000000u;
    if (stop > o->deadline_ns)
        stop = o->deadline_ns;
    hon.port = node->p2p_port;
    hon.stop_ns = stop;
    hon.genesis_hash = genesis_hex;
    if (samples_init(&hon.latest_ms, STRESS_MAX_SAMPLES) != 0 ||
        samples_init(&hon.page_ms, STRESS_MAX_SAMPLES) != 0 ||
        pthread_create(&hon.th, NULL, honest_run, &hon) != 0)
        goto out;
    hon_started = true;
    if ((hs = calloc((size_t)n_kinds * o->peers, sizeof *hs)) == NULL)
        goto out;
    for (unsigned k = 0; k < n_kinds; k++) {
        for (unsigned i = 0; i < o->peers; i++, n_host++) {
            struct hostile *h = &hs[n_host];
            h->kind = kinds[k];
            wire_source_addr(n_host, h->src);
            h->port = node->p2p_port;
            h->stop_ns = stop;
            h->bad_offer = bad_offer;
            if (pthread_create(&h->th, NULL, hostile_run, h) != 0) {
                stress_err("cannot start hostile peer %u", n_host);
                goto out;
            }
        }
    }
    struct web w;
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", node->api_port);
    if (web_init(&w, NULL) != 0)
        goto out;
    while (!stress_stopping && now_ns() < stop) {
        double rss = (double)proc_status_kib(node->pid, "VmRSS") / 1024.0;
        if (rss > max_rss)
            max_rss = rss;
        if (web_get(&w, url, 1000) == 0 && w.status == 200) {
            double q = web_metric(w.body, "peerchain_queue_depth");
            if (q > max_queue)
                max_queue = q;
        }
        stress_progress("flood: %.1f / %u s", (double)(now_ns() - t0) / 1e9, o->seconds);
        sleep_ms(100);
    }
    rc = 0;
    double bans = -1;
    if (web_get(&w, url, 2000) == 0 && w.status == 200)
        bans = web_metric(w.body, "peerchain_bans_total");
    web_destroy(&w);
    double peak = (double)proc_status_kib(node->pid, "VmHWM") / 1024.0;
    for (unsigned i = 0; i < n_host; i++)
        pthread_join(hs[i].th, NULL);
    pthread_join(hon.th, NULL);
    hon_started = false;
    uint64_t connects = 0, dropped = 0, refused = 0, at_end = 0, bytes = 0;
    for (unsigned i = 0; i < n_host; i++) {
        connects += hs[i].connects;
        dropped += hs[i].dropped;
        refused += hs[i].refused;
        at_end += hs[i].connected_at_end;
        bytes += hs[i].bytes_out;
    }
    n_host = 0;
    results_figure(r, "honest_latest_p50", samples_pct(&hon.latest_ms, 50), "ms");
    results_figure(r, "honest_latest_p99", samples_pct(&hon.latest_ms, 99), "ms");
    results_figure(r, "honest_latest_max", samples_max(&hon.latest_ms), "ms");
    results_figure(r, "honest_queries", (double)hon.latest_ms.n, "queries");
    results_figure(r, "honest_page_p50", samples_pct(&hon.page_ms, 50), "ms");
    results_figure(r, "honest_page_p99", samples_pct(&hon.page_ms, 99), "ms");
    results_figure(r, "honest_timeouts", (double)hon.timeouts, "timeouts");
    results_figure(r, "honest_short_pages", (double)hon.pages_short, "pages");
    results_figure(r, "node_rss_max", max_rss, "MiB");
    results_figure(r, "node_peak_rss", peak, "MiB");
    results_figure(r, "node_queue_depth_max", max_queue, "messages");
    results_figure(r, "bans", bans, "addresses");
    results_figure(r, "hostile_connects", (double)connects, "connections");
    results_figure(r, "hostile_dropped_by_node", (double)dropped, "connections");
    results_figure(r, "hostile_refused", (double)refused, "connections");
    results_figure(r, "hostile_connected_at_end", (double)at_end, "connections");
    results_figure(r, "hostile_bytes_sent", (double)bytes / 1e6, "MB");
    json_t *raw = json_array();
    for (size_t i = 0; raw != NULL && i < hon.latest_ms.n; i++)
        json_array_append_new(raw, json_real(hon.latest_ms.v[i]));
    json_object_set_new(r->doc, "honest_latest_samples_ms", raw);
out:
    for (unsigned i = 0; i < n_host; i++)
        pthread_join(hs[i].th, NULL);
    if (hon_started)
        pthread_join(hon.th, NULL);
    samples_destroy(&hon.latest_ms);
    samples_destroy(&hon.page_ms);
    free(hs);
    free(bad_offer);
    gen_destroy(&g);
    return stress_stopping ? 130 : rc;
}
