/*
 * peerchain-stress connections: many idle peers on one node.
 *
 * A seed node holding --blocks N (default 10,000) is first synced by a fresh
 * node with nothing else connected (the unloaded time). Then --count K
 * connections are opened one after another, each completing the handshake
 * (our hello sent, the node's hello read) and then left idle; they come from
 * 127.0.0.2 and up, CONN_PER_ADDR per address, because the node caps
 * inbound connections per address, and the node is started with
 * --max-inbound K + CONN_SPARE_INBOUND. Reported: the accept rate, the
 * node's RSS growth per connection, how many were still held at the end,
 * and a second fresh node's sync time with all of them open, against the
 * unloaded one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "gen.h"
#include "proc.h"
#include "scenario.h"
#include "wire.h"

#define CONN_PER_ADDR 16u      /* the node's default --max-inbound-per-ip */
#define CONN_SPARE_INBOUND 32u /* room for the fresh nodes and the loader */
#define CONN_HELLO_TIMEOUT_MS 5000u
#define CONN_MAX_COUNT 20000u

/* Opens c from src and completes the handshake. 0 or -1 (c->err). */
static int open_idle(struct wire_conn *c, int port, const char *src)
{
    json_t *m = NULL;
    if (wire_connect(c, "127.0.0.1", port, src, CONN_HELLO_TIMEOUT_MS) != 0)
        return -1;
    if (wire_send_hello(c, pc_network_find("regtest"), NULL, NULL) != 0)
        return -1;
    int r = wire_recv(c, CONN_HELLO_TIMEOUT_MS, &m, NULL);
    if (r <= 0) {
        if (r == 0)
            snprintf(c->err, sizeof c->err, "no hello within %u ms", CONN_HELLO_TIMEOUT_MS);
        return -1;
    }
    bool is_hello = strcmp(wire_type(m), "hello") == 0;
    if (!is_hello)
        snprintf(c->err, sizeof c->err, "first message is '%.40s', not hello", wire_type(m));
    json_decref(m);
    return is_hello ? 0 : -1;
}

/* Still open: no end of stream or error waiting. */
static bool is_open(const struct wire_conn *c)
{
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

int scenario_connections(const struct stress_opts *o, struct results *r)
{
    struct gen_chain g = {0};
    struct wire_conn *conns = NULL;
    struct node_proc *seed, *fresh;
    char seed_addr[64], max_in[24];
    unsigned opened = 0, failed = 0;
    int rc = 1;

    results_param_int(r, "count", o->count);
    results_param_int(r, "blocks", (long long)o->blocks);
    if (o->count > CONN_MAX_COUNT) {
        stress_err("connections: --count at most %u", CONN_MAX_COUNT);
        return 2;
    }
    /* Each connection is an fd here and in the node (which inherits this). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)o->count + 256) {
        stress_err("connections: %u connections need %u fds; the limit is %llu", o->count,
                   o->count + 256, (unsigned long long)rl.rlim_cur);
        return 1;
    }
    if (gen_make(&g, pc_network_find("regtest"), o->blocks) != 0)
        goto out;
    snprintf(max_in, sizeof max_in, "%u", o->count + CONN_SPARE_INBOUND);
    const char *const seed_args[] = {"--max-inbound", max_in, NULL};
    if ((seed = proc_start("seed", seed_args)) == NULL || proc_wait_ready(seed, 10000) != 0 ||
        sync_load_seed(o, &g, seed->p2p_port) != 0)
        goto out;
    snprintf(seed_addr, sizeof seed_addr, "127.0.0.1:%d", seed->p2p_port);

    uint64_t done;
    if (sync_fresh_node(o, seed_addr, g.tip_hash, "fresh-unloaded", &fresh, &done) != 0)
        goto out;
    double unloaded_ms = ns_to_ms(done - fresh->spawned_ns);
    proc_stop(fresh);
    sleep_ms(200); /* let the seed drop the stopped peer */
    long base_kib = proc_status_kib(seed->pid, "VmRSS");
    long base_threads = proc_threads(seed->pid);

    if ((conns = calloc(o->count, sizeof *conns)) == NULL)
        goto out;
    uint64_t t0 = now_ns(), last = t0;
    for (unsigned i = 0; i < o->count && !stress_stopping && scenario_ms_left(o) > 0; i++) {
        char src[32];
        wire_source_addr(i / CONN_PER_ADDR, src);
        if (open_idle(&conns[opened], seed->p2p_port, src) != 0) {
            if (failed++ == 0)
                stress_err("connection %u from %s: %s", i, src, conns[opened].err);
            wire_close(&conns[opened]);
            continue;
        }
        opened++;
        if (now_ns() - last > 500000000u) {
            last = now_ns();
            stress_progress("connections: %u / %u open", opened, o->count);
        }
    }
    double open_s = (double)(now_ns() - t0) / 1e9;
    sleep_ms(300);
    long loaded_kib = proc_status_kib(seed->pid, "VmRSS");
    long loaded_threads = proc_threads(seed->pid);

    if (sync_fresh_node(o, seed_addr, g.tip_hash, "fresh-loaded", &fresh, &done) != 0)
        goto out;
    double loaded_ms = ns_to_ms(done - fresh->spawned_ns);
    unsigned held = 0;
    for (unsigned i = 0; i < opened; i++)
        held += is_open(&conns[i]);

    results_figure(r, "opened", opened, "connections");
    results_figure(r, "refused_or_failed", failed, "connections");
    results_figure(r, "held_at_end", held, "connections");
    results_figure(r, "accept_rate", open_s > 0 ? opened / open_s : 0, "conn/s");
    results_figure(r, "rss_before", (double)base_kib / 1024.0, "MiB");
    results_figure(r, "rss_with_connections", (double)loaded_kib / 1024.0, "MiB");
    results_figure(r, "rss_per_connection", opened ? (double)(loaded_kib - base_kib) / opened : 0,
                   "KiB");
    results_figure(r, "threads_before", (double)base_threads, "threads");
    results_figure(r, "threads_with_connections", (double)loaded_threads, "threads");
    results_figure(r, "honest_sync_unloaded", unloaded_ms, "ms");
    results_figure(r, "honest_sync_loaded", loaded_ms, "ms");
    results_figure(r, "loaded_over_unloaded", unloaded_ms > 0 ? loaded_ms / unloaded_ms : 0,
                   "ratio");
    rc = 0;
out:
    for (unsigned i = 0; conns != NULL && i < opened; i++)
        wire_close(&conns[i]);
    free(conns);
    gen_destroy(&g);
    return stress_stopping ? 130 : rc;
}
