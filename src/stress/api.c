/*
 * peerchain-stress api: POST /mineBlock request rate and latency.
 *
 * --concurrency C threads each send POST /mineBlock {"data":["stress"]}
 * back to back over one keep-alive connection for --seconds S, to a node the
 * run starts (or --target with --token). --peers P handshaked peerchain
 * connections stay open meanwhile; one thread reads and discards what the
 * node sends them (every mined block is announced to each), so that their
 * send queues never fill. Every answer is counted by status; only 200s go
 * into the rate and the latencies.
 */
#include <stdatomic.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.h"
#include "scenario.h"
#include "web.h"
#include "wire.h"

#define API_MAX_SAMPLES_PER_THREAD 400000u
#define API_REQUEST_TIMEOUT_MS 10000

struct api_worker {
    pthread_t th;
    const char *url;   /* immutable after start */
    const char *token; /* immutable after start */
    uint64_t stop_ns;  /* immutable after start */
    /* owned by the worker until joined: */
    struct samples ms;
    uint64_t ok, busy, other, failed;
    char err[WEB_ERR_BYTES];
};

static void *api_worker_run(void *arg)
{
    struct api_worker *w = arg;
    struct web web;
    if (web_init(&web, w->token) != 0) {
        snprintf(w->err, sizeof w->err, "cannot start libcurl");
        w->failed++;
        return NULL;
    }
    while (!stress_stopping && now_ns() < w->stop_ns) {
        uint64_t t0 = now_ns();
        if (web_post(&web, w->url, "{\"data\":[\"stress\"]}", API_REQUEST_TIMEOUT_MS) != 0) {
            memcpy(w->err, web.err, sizeof w->err);
            w->failed++;
            break;
        }
        if (web.status == 200) {
            w->ok++;
            samples_add(&w->ms, ns_to_ms(now_ns() - t0));
        } else if (web.status == 503) {
            w->busy++;
        } else {
            w->other++;
            snprintf(w->err, sizeof w->err, "HTTP %ld: %.200s", web.status,
                     web.body ? web.body : "");
        }
    }
    web_destroy(&web);
    return NULL;
}

/* Reads and drops what the node sends to the idle peers, until stop. */
struct drain {
    pthread_t th;
    struct wire_conn *conns; /* the reader owns their receiving side */
    unsigned n;
    atomic_int stop; /* set by main, read by the drain thread (atomic: two threads) */
    unsigned closed; /* connections the node closed; read after join */
};

static void *drain_run(void *arg)
{
    struct drain *d = arg;
    struct pollfd pfd[100];
    char buf[65536];
    for (unsigned i = 0; i < d->n; i++)
        pfd[i] = (struct pollfd){.fd = d->conns[i].fd, .events = POLLIN};
    while (!atomic_load(&d->stop) && !stress_stopping) {
        if (poll(pfd, d->n, 100) <= 0)
            continue;
        for (unsigned i = 0; i < d->n; i++) {
            if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (recv(pfd[i].fd, buf, sizeof buf, 0) <= 0) {
                pfd[i].fd = -1;
                d->closed++;
            }
        }
    }
    return NULL;
}

int scenario_api(const struct stress_opts *o, struct results *r)
{
    char host[64] = "127.0.0.1", url[128];
    int api_port = 0, rc = 1;
    const char *token = o->token;
    struct api_worker *ws = NULL;
    struct drain d = {.n = 0};
    unsigned started = 0;
    bool drain_started = false;
    uint64_t t0 = 0, stop;

    results_param_int(r, "seconds", o->seconds);
    results_param_int(r, "concurrency", o->concurrency);
    results_param_int(r, "peers", o->peers);
    if (o->target != NULL) {
        if (wire_parse_target(o->target, host, &api_port) != 0) {
            stress_err("--target: want HOST:PORT with HOST in 127.0.0.0/8, not %s", o->target);
            return 2;
        }
        if (token == NULL || o->peers != 0) {
            stress_err("api --target needs --token and works without --peers");
            return 2;
        }
        results_param_str(r, "target", o->target);
    } else {
        struct node_proc *n = proc_start("node", NULL);
        if (n == NULL || proc_wait_ready(n, 10000) != 0)
            return 1;
        api_port = n->api_port;
        token = n->token;
        if (o->peers > 0) {
            d.conns = calloc(o->peers, sizeof *d.conns);
            if (d.conns == NULL)
                goto out;
            for (; d.n < o->peers; d.n++) {
                struct wire_conn *c = &d.conns[d.n];
                if (wire_connect(c, "127.0.0.1", n->p2p_port, NULL, 5000) != 0 ||
                    wire_send_hello(c, pc_network_find("regtest"), NULL, NULL) != 0) {
                    stress_err("peer %u: %s", d.n, c->err);
                    wire_close(c);
                    goto out;
                }
            }
            if (pthread_create(&d.th, NULL, drain_run, &d) != 0)
                goto out;
            drain_started = true;
        }
    }
    snprintf(url, sizeof url, "http://%s:%d/health", host, api_port);
    struct web probe;
    if (web_init(&probe, NULL) != 0 || web_get(&probe, url, 5000) != 0) {
        stress_err("cannot reach the API at %s:%d: %s", host, api_port, probe.err);
        web_destroy(&probe);
        goto out;
    }
    web_destroy(&probe);

    snprintf(url, sizeof url, "http://%s:%d/mineBlock", host, api_port);
    ws = calloc(o->concurrency, sizeof *ws);
    if (ws == NULL)
        goto out;
    t0 = now_ns();
    stop = t0 + (uint64_t)o->seconds * 1000000000u;
    if (o->deadline_ns < stop)
        stop = o->deadline_ns;
    for (; started < o->concurrency; started++) {
        struct api_worker *w = &ws[started];
        w->url = url;
        w->token = token;
        w->stop_ns = stop;
        if (samples_init(&w->ms, API_MAX_SAMPLES_PER_THREAD) != 0 ||
            pthread_create(&w->th, NULL, api_worker_run, w) != 0) {
            samples_destroy(&w->ms);
            stress_err("cannot start worker thread %u", started);
            goto out;
        }
    }
    while (!stress_stopping && now_ns() < stop) {
        sleep_ms(200);
        stress_progress("api: %.1f / %u s", (double)(now_ns() - t0) / 1e9, o->seconds);
    }
    rc = 0;
out:;
    struct samples all;
    uint64_t ok = 0, busy = 0, other = 0, failed = 0;
    int have_all = samples_init(&all, (size_t)started * API_MAX_SAMPLES_PER_THREAD);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(ws[i].th, NULL);
        ok += ws[i].ok;
        busy += ws[i].busy;
        other += ws[i].other;
        failed += ws[i].failed;
        if (ws[i].err[0] != '\0' && (ws[i].failed || ws[i].other))
            stress_err("worker %u: %s", i, ws[i].err);
        for (size_t k = 0; have_all == 0 && k < ws[i].ms.n; k++)
            samples_add(&all, ws[i].ms.v[k]);
        samples_destroy(&ws[i].ms);
    }
    /* Requests in flight at the stop time are counted, so is their time. */
    double secs = t0 ? (double)(now_ns() - t0) / 1e9 : 0;
    if (drain_started) {
        atomic_store(&d.stop, 1);
        pthread_join(d.th, NULL);
    }
    if (rc == 0) {
        if (failed > 0) {
            rc = 1;
        } else {
            results_figure(r, "requests_ok", (double)ok, "requests");
            results_figure(r, "requests_503", (double)busy, "requests");
            results_figure(r, "requests_other", (double)other, "requests");
            results_figure(r, "mine_block_rate", secs > 0 ? (double)ok / secs : 0, "req/s");
            results_figure(r, "latency_p50", samples_pct(&all, 50), "ms");
            results_figure(r, "latency_p95", samples_pct(&all, 95), "ms");
            results_figure(r, "latency_p99", samples_pct(&all, 99), "ms");
            results_figure(r, "peers_dropped", (double)d.closed, "peers");
        }
    }
    if (have_all == 0)
        samples_destroy(&all);
    for (unsigned i = 0; i < d.n; i++)
        wire_close(&d.conns[i]);
    free(d.conns);
    free(ws);
    return stress_stopping ? 130 : rc;
}
