/*
 * peerchain-stress churn: peers come, sync a little and go, while the node
 * mines; afterwards nothing may be left behind.
 *
 * The node holds --blocks N and mines (--mine, a block every
 * CHURN_MINE_INTERVAL_MS). --peers P threads, each from its own source
 * address and with its own random sequence (from --seed), loop for
 * --seconds S: connect, then one of: hang up before hello; hello and hang
 * up; hello and a latestBlock query; hello and a getBlocks page of a random
 * size from a random point in the chain. Each waits a random while and
 * hangs up. Then the node's threads, open fds and RSS are compared with
 * their values before the churn, allowing CHURN_SETTLE_MS for it to reap
 * what closed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "proc.h"
#include "scenario.h"
#include "web.h"
#include "wire.h"

#define CHURN_MAX_PEERS 64u
#define CHURN_MINE_INTERVAL_MS "50"
#define CHURN_SETTLE_MS 10000u
#define CHURN_ANSWER_TIMEOUT_MS 5000u

struct churner {
    pthread_t th;
    unsigned seed;    /* immutable after start */
    char src[32];     /* immutable after start */
    int port;         /* immutable after start */
    uint64_t stop_ns; /* immutable after start */
    const char *genesis_hash;
    /* owned by the thread until joined: */
    uint64_t sessions, pages, blocks, queries, failures;
};

/* Waits for a message of type want; 0, or -1 on timeout or drop. */
static int await(struct wire_conn *c, const char *want, json_t **out)
{
    uint64_t t0 = now_ns();
    while ((now_ns() - t0) / 1000000u < CHURN_ANSWER_TIMEOUT_MS) {
        json_t *m;
        if (wire_recv(c, 200, &m, NULL) < 0)
            return -1;
        if (m == NULL)
            continue;
        if (strcmp(wire_type(m), want) == 0) {
            *out = m;
            return 0;
        }
        json_decref(m);
        m = NULL;
    }
    return -1;
}

static void *churn_run(void *arg)
{
    struct churner *ch = arg;
    unsigned rs = ch->seed;
    while (!stress_stopping && now_ns() < ch->stop_ns) {
        struct wire_conn c;
        json_t *m = NULL;
        ch->sessions++;
        if (wire_connect(&c, "127.0.0.1", ch->port, ch->src, 1000) != 0) {
            ch->failures++;
            wire_close(&c);
            sleep_ms(10);
            continue;
        }
        unsigned action = (unsigned)rand_r(&rs) % 4;
        if (action > 0 && wire_send_hello(&c, pc_network_find("regtest"), NULL, NULL) != 0)
            action = 0;
        if (action == 2) {
            if (wire_send(&c, "latestBlock", json_object()) == 0 &&
                await(&c, "latestBlock", &m) == 0)
                ch->queries++;
            else
                ch->failures++;
        } else if (action == 3) {
            int limit = 1 + rand_r(&rs) % 2000;
            json_t *p = json_pack("{s:[s], s:i}", "locator", ch->genesis_hash, "limit", limit);
            if (wire_send(&c, "getBlocks", p) == 0 && await(&c, "blocks", &m) == 0) {
                ch->pages++;
                ch->blocks += json_array_size(json_object_get(wire_payload(m), "blocks"));
            } else {
                ch->failures++;
            }
        }
        json_decref(m);
        sleep_ms((unsigned)rand_r(&rs) % 100);
        wire_close(&c);
    }
    return NULL;
}

static long height_of(int api_port)
{
    json_t *j = web_node_json(api_port, "/health");
    long h = j ? (long)json_integer_value(json_object_get(j, "height")) : -1;
    json_decref(j);
    return h;
}

int scenario_churn(const struct stress_opts *o, struct results *r)
{
    struct gen_chain g = {0};
    struct churner ch[CHURN_MAX_PEERS];
    unsigned started = 0, n = o->peers;
    char genesis_hex[PC_HASH_HEX_CHARS + 1];
    int rc = 1;

    results_param_int(r, "seconds", o->seconds);
    results_param_int(r, "peers", n);
    results_param_int(r, "seed", o->seed);
    results_param_int(r, "blocks", (long long)o->blocks);
    if (n < 1 || n > CHURN_MAX_PEERS) {
        stress_err("churn: --peers 1..%u", CHURN_MAX_PEERS);
        return 2;
    }
    pc_block *gb = pc_network_genesis(pc_network_find("regtest"));
    if (gb == NULL)
        return 1;
    pc_hash_to_hex(&gb->hash, genesis_hex);
    pc_block_free(gb);
    if (gen_make(&g, pc_network_find("regtest"), o->blocks) != 0)
        goto out;
    const char *const args[] = {"--mine", "--mine-interval-ms", CHURN_MINE_INTERVAL_MS, NULL};
    struct node_proc *node = proc_start("node", args);
    if (node == NULL || proc_wait_ready(node, 10000) != 0 ||
        sync_load_seed(o, &g, node->p2p_port) != 0)
        goto out;
    sleep_ms(300);
    long th0 = proc_threads(node->pid), fd0 = proc_fds(node->pid);
    long rss0 = proc_status_kib(node->pid, "VmRSS"), h0 = height_of(node->api_port);

    uint64_t t0 = now_ns(), stop = t0 + (uint64_t)o->seconds * 1000000000u;
    if (stop > o->deadline_ns)
        stop = o->deadline_ns;
    for (; started < n; started++) {
        struct churner *c = &ch[started];
        memset(c, 0, sizeof *c);
        c->seed = o->seed * 7919u + started;
        wire_source_addr(started, c->src);
        c->port = node->p2p_port;
        c->stop_ns = stop;
        c->genesis_hash = genesis_hex;
        if (pthread_create(&c->th, NULL, churn_run, c) != 0) {
            stress_err("cannot start churn thread %u", started);
            goto out;
        }
    }
    long peak_threads = 0;
    while (!stress_stopping && now_ns() < stop) {
        long t = proc_threads(node->pid);
        peak_threads = t > peak_threads ? t : peak_threads;
        stress_progress("churn: %.1f / %u s", (double)(now_ns() - t0) / 1e9, o->seconds);
        sleep_ms(100);
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(ch[i].th, NULL);
    unsigned joined = started;
    started = 0;
    long h1 = height_of(node->api_port);

    /* Settle: the node reaps finished connection threads about once a second. */
    uint64_t s0 = now_ns();
    long th1, fd1;
    for (;;) {
        th1 = proc_threads(node->pid);
        fd1 = proc_fds(node->pid);
        if ((th1 <= th0 && fd1 <= fd0) || now_ns() - s0 > (uint64_t)CHURN_SETTLE_MS * 1000000u ||
            stress_stopping)
            break;
        sleep_ms(50);
    }
    double settle_ms = ns_to_ms(now_ns() - s0);
    long rss1 = proc_status_kib(node->pid, "VmRSS");
    uint64_t sessions = 0, pages = 0, blocks = 0, queries = 0, failures = 0;
    for (unsigned i = 0; i < joined; i++) {
        sessions += ch[i].sessions;
        pages += ch[i].pages;
        blocks += ch[i].blocks;
        queries += ch[i].queries;
        failures += ch[i].failures;
    }
    results_figure(r, "sessions", (double)sessions, "connections");
    results_figure(r, "pages_fetched", (double)pages, "pages");
    results_figure(r, "blocks_fetched", (double)blocks, "blocks");
    results_figure(r, "queries_answered", (double)queries, "queries");
    results_figure(r, "failures", (double)failures, "sessions");
    results_figure(r, "blocks_mined_meanwhile", (double)(h1 - h0), "blocks");
    results_figure(r, "threads_before", (double)th0, "threads");
    results_figure(r, "threads_peak", (double)peak_threads, "threads");
    results_figure(r, "threads_after", (double)th1, "threads");
    results_figure(r, "fds_before", (double)fd0, "fds");
    results_figure(r, "fds_after", (double)fd1, "fds");
    results_figure(r, "rss_before", (double)rss0 / 1024.0, "MiB");
    results_figure(r, "rss_after", (double)rss1 / 1024.0, "MiB");
    results_figure(r, "settle_time", settle_ms, "ms");
    results_figure(r, "leaked_threads", (double)(th1 > th0 ? th1 - th0 : 0), "threads");
    results_figure(r, "leaked_fds", (double)(fd1 > fd0 ? fd1 - fd0 : 0), "fds");
    rc = 0;
out:
    for (unsigned i = 0; i < started; i++)
        pthread_join(ch[i].th, NULL);
    gen_destroy(&g);
    return stress_stopping ? 130 : rc;
}
