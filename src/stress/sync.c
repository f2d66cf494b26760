/*
 * peerchain-stress sync: how fast a fresh node catches up.
 *
 * A seed node is given a generated chain of --blocks N (the harness offers
 * it as allBlock pages, as a peer would), or --target names a running node
 * that already holds one. Then a fresh node is started with the seed as its
 * only peer, and a passive observer connection on the fresh node waits for
 * the seed's tip hash to be announced (or answered to a latestBlock query,
 * if the sync ends before the observer is in). The time is from the fresh
 * node's fork to that message. Alongside: the fresh node's start-to-listening
 * time, both nodes' peak RSS, the bytes the fresh node received in `blocks`
 * messages, and Jansson's parse rate on the same chain's JSON, so that the
 * sync rate can be read as a ratio of what parsing alone allows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "proc.h"
#include "scenario.h"
#include "web.h"
#include "wire.h"

#define SYNC_PARSE_REPEATS 3u

unsigned scenario_ms_left(const struct stress_opts *o)
{
    uint64_t t = now_ns();
    return t >= o->deadline_ns ? 0 : (unsigned)((o->deadline_ns - t) / 1000000u);
}

/* Waits on c for a latestBlock whose payload has hash `hash` (or, if hash is
 * NULL, height >= height). Returns 0 with *rx_ns, or -1 (error printed). */
static int wait_tip(const struct stress_opts *o, struct wire_conn *c, const char *hash,
                    uint64_t height, const char *who, uint64_t *rx_ns)
{
    uint64_t start = now_ns(), last_progress = start;
    for (;;) {
        json_t *m = NULL;
        unsigned left = scenario_ms_left(o);
        int r = wire_recv(c, left < 1000 ? left : 1000, &m, rx_ns);
        if (r < 0) {
            stress_err("%s: %s", who, c->err);
            return -1;
        }
        if (r == 1 && strcmp(wire_type(m), "latestBlock") == 0) {
            json_t *p = wire_payload(m);
            const char *h = json_string_value(json_object_get(p, "hash"));
            json_int_t ht = json_integer_value(json_object_get(p, "height"));
            bool done = hash ? (h != NULL && strcmp(h, hash) == 0) : (uint64_t)ht >= height;
            json_decref(m);
            if (done)
                return 0;
        } else if (r == 1) {
            json_decref(m);
        }
        if (stress_stopping)
            return -1;
        if (scenario_ms_left(o) == 0) {
            stress_err("%s: no tip %s within the run's time limit", who, hash ? hash : "");
            return -1;
        }
        if (now_ns() - last_progress > 1000000000u) {
            last_progress = now_ns();
            stress_progress("%s: waiting for the tip, %.1f s", who,
                            (double)(last_progress - start) / 1e9);
        }
    }
}

/* Offers the chain to the node on port as allBlock pages, then waits until
 * its tip is ours. */
int sync_load_seed(const struct stress_opts *o, const struct gen_chain *g, int port)
{
    static const char head[] = "{\"type\":\"allBlock\",\"payload\":";
    struct wire_conn c;
    int rc = -1;
    if (wire_connect(&c, "127.0.0.1", port, NULL, 5000) != 0) {
        stress_err("%s", c.err);
        return -1;
    }
    if (wire_send_hello(&c, pc_network_find("regtest"), NULL, NULL) != 0)
        goto out;
    for (size_t i = 0; i < g->n_pages && !stress_stopping; i++) {
        if (wire_send_raw(&c, head, sizeof head - 1) != 0 ||
            wire_send_raw(&c, g->pages[i], g->page_len[i]) != 0 || wire_send_raw(&c, "}\n", 2))
            goto out;
        stress_progress("loading the seed: page %zu / %zu", i + 1, g->n_pages);
    }
    /* The worker takes one peer's messages in order: this answer comes after
     * every page has been dealt with. */
    if (wire_send(&c, "latestBlock", json_object()) != 0)
        goto out;
    uint64_t rx;
    if (wait_tip(o, &c, g->tip_hash, 0, "loading the seed", &rx) != 0) {
        wire_close(&c);
        return -1;
    }
    rc = 0;
out:
    if (rc != 0 && c.err[0])
        stress_err("loading the seed: %s", c.err);
    wire_close(&c);
    return rc;
}

/* The tip (height, hash) of a running node, by a latestBlock query. */
static int query_tip(const char *host, int port, uint64_t *height, char hash[65])
{
    struct wire_conn c;
    json_t *m = NULL;
    int rc = -1;
    if (wire_connect(&c, host, port, NULL, 5000) != 0) {
        stress_err("%s", c.err);
        return -1;
    }
    if (wire_send_hello(&c, pc_network_find("regtest"), NULL, NULL) != 0 ||
        wire_send(&c, "latestBlock", json_object()) != 0) {
        stress_err("%s:%d: %s", host, port, c.err);
        goto out;
    }
    for (int i = 0; i < 100; i++) {
        int r = wire_recv(&c, 5000, &m, NULL);
        if (r <= 0) {
            stress_err("%s:%d: %s", host, port, r == 0 ? "no answer to latestBlock" : c.err);
            goto out;
        }
        if (strcmp(wire_type(m), "latestBlock") == 0) {
            json_t *p = wire_payload(m);
            const char *h = json_string_value(json_object_get(p, "hash"));
            *height = (uint64_t)json_integer_value(json_object_get(p, "height"));
            if (h == NULL || strlen(h) != 64) {
                stress_err("%s:%d: a latestBlock answer without a hash", host, port);
                goto out;
            }
            memcpy(hash, h, 65);
            rc = 0;
            goto out;
        }
        json_decref(m);
        m = NULL;
    }
    stress_err("%s:%d: no answer to latestBlock", host, port);
out:
    json_decref(m);
    wire_close(&c);
    return rc;
}

int sync_fresh_node(const struct stress_opts *o, const char *seed_addr, const char *tip_hash,
                    const char *name, struct node_proc **fresh_out, uint64_t *done_ns)
{
    struct wire_conn obs = {.fd = -1};
    struct node_proc *fresh;
    const char *const fresh_args[] = {"--peer", seed_addr, NULL};
    int rc = -1;
    if ((fresh = proc_start(name, fresh_args)) == NULL || proc_wait_ready(fresh, 10000) != 0)
        return -1;
    *fresh_out = fresh;
    if (wire_connect(&obs, "127.0.0.1", fresh->p2p_port, NULL, 5000) != 0) {
        stress_err("observer: %s", obs.err);
        goto out;
    }
    /* Asking once covers a sync that ended before the observer came in;
     * otherwise the answer is an older tip and the announcement ends it. */
    if (wire_send_hello(&obs, pc_network_find("regtest"), NULL, NULL) != 0 ||
        wire_send(&obs, "latestBlock", json_object()) != 0) {
        stress_err("observer: %s", obs.err);
        goto out;
    }
    if (wait_tip(o, &obs, tip_hash, 0, "syncing the fresh node", done_ns) != 0)
        goto out;
    stress_progress_done();
    rc = 0;
out:
    wire_close(&obs);
    return rc;
}

int scenario_sync(const struct stress_opts *o, struct results *r)
{
    struct gen_chain g = {0};
    struct node_proc *seed = NULL, *fresh = NULL;
    char seed_host[64] = "127.0.0.1", seed_addr[96], tip_hash[65];
    int seed_port = 0, rc = 1;
    uint64_t height = o->blocks;

    results_param_int(r, "blocks", (long long)o->blocks);
    if (o->target != NULL) {
        if (wire_parse_target(o->target, seed_host, &seed_port) != 0) {
            stress_err("--target: want HOST:PORT with HOST in 127.0.0.0/8, not %s", o->target);
            return 2;
        }
        results_param_str(r, "target", o->target);
        if (query_tip(seed_host, seed_port, &height, tip_hash) != 0)
            return 1;
        results_param_int(r, "blocks", (long long)height);
    } else {
        if (gen_make(&g, pc_network_find("regtest"), o->blocks) != 0)
            goto out;
        memcpy(tip_hash, g.tip_hash, sizeof tip_hash);
        results_figure(r, "chain_json_bytes", (double)g.json_bytes, "B");
        if ((seed = proc_start("seed", NULL)) == NULL || proc_wait_ready(seed, 10000) != 0)
            goto out;
        results_figure(r, "seed_start_to_listening",
                       ns_to_ms(seed->listening_ns - seed->spawned_ns), "ms");
        results_figure(r, "seed_idle_rss", (double)proc_status_kib(seed->pid, "VmRSS") / 1024.0,
                       "MiB");
        seed_port = seed->p2p_port;
        if (sync_load_seed(o, &g, seed_port) != 0)
            goto out;
    }
    snprintf(seed_addr, sizeof seed_addr, "%s:%d", seed_host, seed_port);
    uint64_t done_ns;
    if (sync_fresh_node(o, seed_addr, tip_hash, "fresh", &fresh, &done_ns) != 0)
        goto out;
    stress_progress_done();

    double secs = (double)(done_ns - fresh->spawned_ns) / 1e9;
    double bytes = web_node_metric(
        fresh->api_port, "peerchain_message_bytes_total{direction=\"in\",type=\"blocks\"}");
    results_figure(r, "sync_time", secs * 1000.0, "ms");
    results_figure(r, "sync_rate", (double)(height - 1) / secs, "blocks/s");
    if (bytes >= 0) {
        results_figure(r, "wire_bytes_blocks", bytes, "B");
        results_figure(r, "wire_rate", bytes / secs / 1e6, "MB/s");
    }
    results_figure(r, "fresh_start_to_listening", ns_to_ms(fresh->listening_ns - fresh->spawned_ns),
                   "ms");
    results_figure(r, "fresh_peak_rss", (double)proc_status_kib(fresh->pid, "VmHWM") / 1024.0,
                   "MiB");
    results_figure(r, "fresh_rss_anon", (double)proc_status_kib(fresh->pid, "RssAnon") / 1024.0,
                   "MiB");
    results_figure(r, "fresh_rss_file", (double)proc_status_kib(fresh->pid, "RssFile") / 1024.0,
                   "MiB");
    /* Where the fresh node's time went: its chain worker against the
     * connector thread that reads and parses the pages. */
    results_figure(r, "fresh_cpu_total", proc_cpu_ms(fresh->pid, NULL), "ms");
    results_figure(r, "fresh_cpu_worker", proc_cpu_ms(fresh->pid, "pc-chain"), "ms");
    results_figure(r, "fresh_cpu_reader", proc_cpu_ms(fresh->pid, "pc-conn-"), "ms");
    if (seed != NULL) {
        results_figure(r, "seed_peak_rss", (double)proc_status_kib(seed->pid, "VmHWM") / 1024.0,
                       "MiB");
        results_figure(r, "seed_rss_anon", (double)proc_status_kib(seed->pid, "RssAnon") / 1024.0,
                       "MiB");
        double parse = gen_parse_rate(&g, SYNC_PARSE_REPEATS);
        results_figure(r, "jansson_parse_rate", parse, "blocks/s");
        if (parse > 0)
            results_figure(r, "sync_over_parse", (double)(height - 1) / secs / parse, "ratio");
    }
    rc = 0;
out:
    gen_destroy(&g);
    return stress_stopping ? 130 : rc;
}
