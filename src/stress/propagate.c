/*
 * peerchain-stress propagate: how fast a block crosses a network.
 *
 * --nodes M nodes in a line, ring or mesh (node i dials its neighbours of
 * lower index, and no one else: --max-outbound keeps peer exchange from
 * adding shortcuts). A passive observer connection on every node timestamps the
 * node's announcement of each block; one thread reads all observers. Then
 * --blocks B blocks are mined one at a time on node 0 through
 * POST /mineBlock, each only after every node announced the previous one.
 *
 * A node's hop latency for a block is its announcement time minus the
 * earliest announcement among its neighbours one hop closer to node 0 (in a
 * line: the node before it). The end-to-end time is the last announcement
 * minus node 0's. Observer timestamps include the announcement's trip to
 * the observer, the same for every node, so it cancels in the differences.
 */
#include <stdatomic.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "scenario.h"
#include "web.h"
#include "wire.h"

#define PROP_MAX_NODES 32u
#define PROP_MAX_BLOCKS 100000u
#define PROP_CONNECT_TIMEOUT_MS 20000u
#define PROP_BLOCK_TIMEOUT_MS 10000u

struct observers {
    pthread_t th;
    struct wire_conn conns[PROP_MAX_NODES]; /* read by the observer thread only */
    unsigned n;                             /* immutable after start */
    uint64_t base_height;                   /* immutable after start */
    uint64_t blocks;                        /* immutable after start */
    pthread_mutex_t mu;
    uint64_t *seen_ns; /* [block][node], 0 = not yet; guarded by mu */
    bool failed;       /* guarded by mu */
    char err[WIRE_ERR_BYTES];
    atomic_int stop; /* set by main, read by the observer thread: atomic, not volatile, for TSan */
};

static void *observe(void *arg)
{
    struct observers *ob = arg;
    struct pollfd pfd[PROP_MAX_NODES];
    for (unsigned i = 0; i < ob->n; i++)
        pfd[i] = (struct pollfd){.fd = ob->conns[i].fd, .events = POLLIN};
    while (!atomic_load(&ob->stop) && !stress_stopping) {
        if (poll(pfd, ob->n, 100) <= 0)
            continue;
        for (unsigned i = 0; i < ob->n; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            /* Every complete message already buffered, then back to poll. */
            json_t *m;
            uint64_t rx;
            int r;
            unsigned wait_ms = 1;
            while ((r = wire_recv(&ob->conns[i], wait_ms, &m, &rx)) == 1) {
                wait_ms = 0;
                if (strcmp(wire_type(m), "latestBlock") == 0) {
                    json_int_t h = json_integer_value(json_object_get(wire_payload(m), "height"));
                    uint64_t k = (uint64_t)h - ob->base_height - 1;
                    if ((uint64_t)h > ob->base_height && k < ob->blocks) {
                        pthread_mutex_lock(&ob->mu);
                        if (ob->seen_ns[k * ob->n + i] == 0)
                            ob->seen_ns[k * ob->n + i] = rx;
                        pthread_mutex_unlock(&ob->mu);
                    }
                }
                json_decref(m);
            }
            if (r < 0) {
                pthread_mutex_lock(&ob->mu);
                ob->failed = true;
                snprintf(ob->err, sizeof ob->err, "observer of node %u: %.120s", i,
                         ob->conns[i].err);
                pthread_mutex_unlock(&ob->mu);
                return NULL;
            }
        }
    }
    return NULL;
}

static bool is_edge(enum topology t, unsigned m, unsigned a, unsigned b)
{
    if (a == b)
        return false;
    if (t == TOPO_MESH)
        return true;
    unsigned d = a > b ? a - b : b - a;
    return d == 1 || (t == TOPO_RING && m > 2 && d == m - 1);
}

/* Peers each node should end up with (either direction). */
static unsigned degree(enum topology t, unsigned m, unsigned i)
{
    unsigned d = 0;
    for (unsigned j = 0; j < m; j++)
        d += is_edge(t, m, i, j);
    return d;
}

static int peers_of(int api_port)
{
    json_t *j = web_node_json(api_port, "/status");
    json_t *p = json_object_get(j, "peers");
    int n = j == NULL ? -1
                      : (int)(json_integer_value(json_object_get(p, "inbound")) +
                              json_integer_value(json_object_get(p, "outbound")));
    json_decref(j);
    return n;
}

static const char *topo_name(enum topology t)
{
    return t == TOPO_LINE ? "line" : t == TOPO_RING ? "ring" : "mesh";
}

int scenario_propagate(const struct stress_opts *o, struct results *r)
{
    unsigned m = o->nodes;
    struct node_proc *nodes[PROP_MAX_NODES];
    char addrs[PROP_MAX_NODES][32];
    unsigned dist[PROP_MAX_NODES];
    struct observers ob = {.n = 0};
    struct samples hop, e2e;
    bool obs_started = false, mu_ready = false;
    int rc = 1;

    results_param_int(r, "nodes", m);
    results_param_str(r, "topology", topo_name(o->topology));
    results_param_int(r, "blocks", (long long)o->blocks);
    if (m > PROP_MAX_NODES || o->blocks > PROP_MAX_BLOCKS) {
        stress_err("propagate: at most %u nodes and %u blocks", PROP_MAX_NODES, PROP_MAX_BLOCKS);
        return 2;
    }
    if (samples_init(&hop, (size_t)o->blocks * m) != 0 || samples_init(&e2e, o->blocks) != 0)
        return 1;

    /* Node i dials every neighbour below it. */
    for (unsigned i = 0; i < m; i++) {
        const char *args[2 * PROP_MAX_NODES + 3];
        size_t k = 2;
        char name[16], max_out[24];
        for (unsigned j = 0; j < i && k + 2 < PROC_MAX_EXTRA_ARGS; j++) {
            if (is_edge(o->topology, m, i, j)) {
                args[k++] = "--peer";
                args[k++] = addrs[j];
            }
        }
        args[k] = NULL;
        /* Only the configured neighbours: peer exchange would otherwise add
         * shortcuts and a line would not stay a line. */
        snprintf(max_out, sizeof max_out, "%zu", (k - 2) / 2);
        args[0] = "--max-outbound";
        args[1] = max_out;
        snprintf(name, sizeof name, "node%u", i);
        if ((nodes[i] = proc_start(name, args)) == NULL || proc_wait_ready(nodes[i], 10000) != 0)
            goto out;
        snprintf(addrs[i], sizeof addrs[i], "127.0.0.1:%d", nodes[i]->p2p_port);
    }
    /* Hop distances from node 0 (breadth first over the topology). */
    for (unsigned i = 0; i < m; i++)
        dist[i] = i == 0 ? 0 : UINT32_MAX;
    for (unsigned d = 0; d < m; d++)
        for (unsigned i = 0; i < m; i++)
            for (unsigned j = 0; dist[i] == d && j < m; j++)
                if (is_edge(o->topology, m, i, j) && dist[j] == UINT32_MAX)
                    dist[j] = d + 1;

    /* Wait for the topology to be connected before observers join. */
    uint64_t until = now_ns() + (uint64_t)PROP_CONNECT_TIMEOUT_MS * 1000000u;
    for (unsigned i = 0; i < m; i++) {
        int want = (int)degree(o->topology, m, i);
        while (peers_of(nodes[i]->api_port) < want) {
            if (now_ns() > until || stress_stopping) {
                stress_err("node%u did not get its %d peers within %u ms", i, want,
                           PROP_CONNECT_TIMEOUT_MS);
                goto out;
            }
            stress_progress("propagate: connecting node%u", i);
            sleep_ms(10);
        }
    }

    ob.blocks = o->blocks;
    ob.base_height = 1;
    ob.seen_ns = calloc((size_t)o->blocks * m, sizeof *ob.seen_ns);
    if (ob.seen_ns == NULL || pthread_mutex_init(&ob.mu, NULL) != 0)
        goto out;
    mu_ready = true;
    for (; ob.n < m; ob.n++) {
        struct wire_conn *c = &ob.conns[ob.n];
        if (wire_connect(c, "127.0.0.1", nodes[ob.n]->p2p_port, NULL, 5000) != 0 ||
            wire_send_hello(c, pc_network_find("regtest"), NULL, NULL) != 0) {
            stress_err("observer of node%u: %s", ob.n, c->err);
            wire_close(c);
            goto out;
        }
    }
    if (pthread_create(&ob.th, NULL, observe, &ob) != 0)
        goto out;
    obs_started = true;
    /* Observers count as peers too: let every hello land first. */
    sleep_ms(100);

    struct web w;
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mineBlock", nodes[0]->api_port);
    if (web_init(&w, nodes[0]->token) != 0)
        goto out;
    for (uint64_t b = 0; b < o->blocks && !stress_stopping; b++) {
        if (web_post(&w, url, "{\"data\":[\"propagate\"]}", 10000) != 0 || w.status != 200) {
            stress_err("mineBlock on node0: %s", w.status ? w.body : w.err);
            web_destroy(&w);
            goto out;
        }
        uint64_t t_end = now_ns() + (uint64_t)PROP_BLOCK_TIMEOUT_MS * 1000000u;
        bool all = false, failed = false;
        while (!all && !failed && !stress_stopping) {
            pthread_mutex_lock(&ob.mu);
            all = true;
            for (unsigned i = 0; i < m; i++)
                all = all && ob.seen_ns[b * m + i] != 0;
            failed = ob.failed;
            pthread_mutex_unlock(&ob.mu);
            if (!all && now_ns() > t_end) {
                stress_err("block %llu did not reach every node within %u ms",
                           (unsigned long long)b + 2, PROP_BLOCK_TIMEOUT_MS);
                failed = true;
            }
            if (!all)
                sleep_ms(1);
        }
        if (failed) {
            if (ob.failed)
                stress_err("%s", ob.err);
            web_destroy(&w);
            goto out;
        }
        stress_progress("propagate: block %llu / %llu", (unsigned long long)b + 1,
                        (unsigned long long)o->blocks);
    }
    web_destroy(&w);
    if (stress_stopping)
        goto out;

    pthread_mutex_lock(&ob.mu);
    json_t *rows = json_array(); /* per block, each node's announcement after node 0's, ms */
    for (uint64_t b = 0; b < o->blocks; b++) {
        const uint64_t *t = &ob.seen_ns[b * m];
        uint64_t last = t[0];
        json_t *row = json_array();
        for (unsigned i = 0; row != NULL && i < m; i++)
            json_array_append_new(
                row, json_real(t[i] >= t[0] ? ns_to_ms(t[i] - t[0]) : -ns_to_ms(t[0] - t[i])));
        json_array_append_new(rows, row);
        for (unsigned i = 1; i < m; i++) {
            uint64_t from = UINT64_MAX;
            for (unsigned j = 0; j < m; j++)
                if (is_edge(o->topology, m, i, j) && dist[j] + 1 == dist[i] && t[j] < from)
                    from = t[j];
            samples_add(&hop, t[i] > from ? ns_to_ms(t[i] - from) : 0);
            if (t[i] > last)
                last = t[i];
        }
        samples_add(&e2e, ns_to_ms(last - t[0]));
    }
    pthread_mutex_unlock(&ob.mu);
    unsigned maxd = 0;
    for (unsigned i = 0; i < m; i++)
        maxd = dist[i] > maxd ? dist[i] : maxd;
    results_figure(r, "hops", maxd, "hops");
    results_figure(r, "hop_p50", samples_pct(&hop, 50), "ms");
    results_figure(r, "hop_p95", samples_pct(&hop, 95), "ms");
    results_figure(r, "hop_p99", samples_pct(&hop, 99), "ms");
    results_figure(r, "end_to_end_p50", samples_pct(&e2e, 50), "ms");
    results_figure(r, "end_to_end_p99", samples_pct(&e2e, 99), "ms");
    /* The raw samples, for the CDF plot in bench/run. */
    json_t *raw = json_array();
    for (size_t i = 0; raw != NULL && i < hop.n; i++)
        json_array_append_new(raw, json_real(hop.v[i]));
    json_object_set_new(r->doc, "hop_samples_ms", raw);
    json_object_set_new(r->doc, "announce_ms", rows);
    rc = 0;
out:
    if (obs_started) {
        atomic_store(&ob.stop, 1);
        pthread_join(ob.th, NULL);
    }
    for (unsigned i = 0; i < ob.n; i++)
        wire_close(&ob.conns[i]);
    if (mu_ready)
        pthread_mutex_destroy(&ob.mu);
    free(ob.seen_ns);
    samples_destroy(&hop);
    samples_destroy(&e2e);
    return stress_stopping ? 130 : rc;
}
