/*
 * peerchain-stress limits: what this machine allows, measured in the same
 * run as the scenarios so that each figure can also be read as a ratio that
 * survives a noisy machine (docs/performance.md):
 *   - SHA-256 (libsodium, the library peerchain links) on 80-byte messages,
 *     on an 80-byte tail after a copied midstate (what a miner does per
 *     attempt), and in bulk; and pc_mine's attempt rate beside them;
 *   - Jansson's parse rate on a generated chain of --blocks N, the same JSON
 *     `sync --blocks N` sends;
 *   - loopback TCP round trip (1 byte each way, TCP_NODELAY);
 *   - libcurl's empty-request rate against a minimal in-process HTTP server
 *     (keep-alive, empty 200 answers): the client side's ceiling for `api`.
 * Nothing here starts a node; traffic stays on 127.0.0.1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "gen.h"
#include "scenario.h"
#include "web.h"

#define LIMITS_PARSE_REPEATS 3u
#define LIMITS_HTTP_REQ_BYTES 8192u

/* Hashes of 80-byte messages per second over about `ms` milliseconds. */
static double sha256_rate_80(unsigned ms)
{
    unsigned char msg[80], out[crypto_hash_sha256_BYTES];
    uint64_t n = 0, t0 = now_ns(), stop = t0 + (uint64_t)ms * 1000000u, t;
    memset(msg, 'a', sizeof msg);
    do {
        for (int i = 0; i < 4096; i++) {
            crypto_hash_sha256(out, msg, sizeof msg);
            msg[0] = out[0]; /* a dependency, so nothing is hoisted */
        }
        n += 4096;
    } while ((t = now_ns()) < stop);
    return (double)n / ((double)(t - t0) / 1e9);
}

/* The miner's per-attempt work done the plain way: a SHA-256 state after a
 * fixed 64-byte prefix is copied, an 80-byte tail added and finished, per
 * hash. Hashes per second over about `ms` milliseconds. */
static double sha256_tail80_rate(unsigned ms)
{
    unsigned char prefix[64], tail[80], out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state mid, st;
    uint64_t n = 0, t0 = now_ns(), stop = t0 + (uint64_t)ms * 1000000u, t;
    memset(prefix, 'p', sizeof prefix);
    memset(tail, '7', sizeof tail);
    crypto_hash_sha256_init(&mid);
    crypto_hash_sha256_update(&mid, prefix, sizeof prefix);
    do {
        for (int i = 0; i < 4096; i++) {
            st = mid;
            crypto_hash_sha256_update(&st, tail, sizeof tail);
            crypto_hash_sha256_final(&st, out);
            tail[0] = out[0];
        }
        n += 4096;
    } while ((t = now_ns()) < stop);
    return (double)n / ((double)(t - t0) / 1e9);
}

/* Bulk SHA-256 in MB/s over 64 KiB buffers. */
static double sha256_bulk_mbps(unsigned ms)
{
    static unsigned char buf[65536];
    unsigned char out[crypto_hash_sha256_BYTES];
    uint64_t n = 0, t0 = now_ns(), stop = t0 + (uint64_t)ms * 1000000u, t;
    do {
        crypto_hash_sha256(out, buf, sizeof buf);
        buf[0] = out[0];
        n += sizeof buf;
    } while ((t = now_ns()) < stop);
    return (double)n / 1e6 / ((double)(t - t0) / 1e9);
}

/* pc_mine attempts per second on a regtest template that never succeeds. */
static double mine_rate(uint64_t attempts)
{
    const pc_network *net = pc_network_find("regtest");
    pc_block *g = pc_network_genesis(net);
    struct pc_err err = {0};
    double rate = 0;
    if (g == NULL)
        return 0;
    struct pc_template_base base = {.parent_height = 1,
                                    .parent_hash = g->hash,
                                    .difficulty = PC_MAX_DIFFICULTY,
                                    .median_time_past = g->timestamp};
    const char *item = "limits";
    size_t len = strlen(item);
    pc_block *b = pc_block_template(&base, &item, &len, 1, g->timestamp + 1, &err);
    uint64_t done = 0, t0 = now_ns();
    /* Start where nonces have 16 digits, as a long-running miner's do. */
    if (b != NULL && pc_mine(b, 1000000000000000ull, attempts, NULL, &done) == PC_E_EXHAUSTED)
        rate = (double)done / ((double)(now_ns() - t0) / 1e9);
    pc_block_free(b);
    pc_block_free(g);
    return rate;
}

static int listen_loopback(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Serves one connection on the listening socket: echo (arg->http false) or
 * an empty 200 for every request (true), until the client hangs up. */
struct server {
    int lfd;
    bool http;
};

static void *serve(void *arg)
{
    const struct server *s = arg;
    char buf[LIMITS_HTTP_REQ_BYTES];
    size_t have = 0;
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (;;) {
        ssize_t n = recv(fd, buf + have, sizeof buf - have, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (!s->http) {
            if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
                break;
            continue;
        }
        have += (size_t)n;
        /* Requests carry no body: each ends at an empty line. */
        char *end;
        while ((end = memmem(buf, have, "\r\n\r\n", 4)) != NULL) {
            size_t used = (size_t)(end + 4 - buf);
            if (send(fd, ok, sizeof ok - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof ok - 1))
                goto out;
            memmove(buf, buf + used, have - used);
            have -= used;
        }
        if (have == sizeof buf)
            break;
    }
out:
    close(fd);
    return NULL;
}

/* Loopback round trips of one byte: fills samples (microseconds). */
static int tcp_rtt(unsigned rounds, struct samples *us)
{
    struct server s = {.http = false};
    int port, fd = -1, rc = -1;
    pthread_t th;
    if ((s.lfd = listen_loopback(&port)) < 0)
        return -1;
    if (pthread_create(&th, NULL, serve, &s) != 0) {
        close(s.lfd);
        return -1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char b = 'x';
        rc = 0;
        for (unsigned i = 0; i < rounds && !stress_stopping; i++) {
            uint64_t t0 = now_ns();
            if (send(fd, &b, 1, MSG_NOSIGNAL) != 1 || recv(fd, &b, 1, MSG_WAITALL) != 1) {
                rc = -1;
                break;
            }
            samples_add(us, (double)(now_ns() - t0) / 1e3);
        }
    }
    if (fd >= 0)
        close(fd); /* the server sees the end and returns */
    else
        shutdown(s.lfd, SHUT_RDWR);
    pthread_join(th, NULL);
    close(s.lfd);
    return rc;
}

/* libcurl GETs per second against an empty in-process server. */
static double http_empty_rate(unsigned ms)
{
    struct server s = {.http = true};
    struct web w;
    char url[64];
    int port;
    pthread_t th;
    double rate = 0;
    uint64_t n = 0;
    if ((s.lfd = listen_loopback(&port)) < 0)
        return 0;
    if (pthread_create(&th, NULL, serve, &s) != 0) {
        close(s.lfd);
        return 0;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    if (web_init(&w, NULL) == 0) {
        uint64_t t0 = now_ns(), stop = t0 + (uint64_t)ms * 1000000u, t;
        while ((t = now_ns()) < stop && !stress_stopping) {
            if (web_get(&w, url, 2000) != 0 || w.status != 200)
                break;
            n++;
        }
        rate = (double)n / ((double)(now_ns() - t0) / 1e9);
    }
    web_destroy(&w); /* closes the connection: the server returns */
    if (n == 0)
        shutdown(s.lfd, SHUT_RDWR);
    pthread_join(th, NULL);
    close(s.lfd);
    return rate;
}

int scenario_limits(const struct stress_opts *o, struct results *r)
{
    unsigned ms = o->smoke ? 200 : 1000;
    unsigned rounds = o->smoke ? 2000 : 20000;
    struct gen_chain g;
    struct samples rtt;

    results_param_int(r, "blocks", (long long)o->blocks);
    stress_progress("limits: SHA-256");
    double h80 = sha256_rate_80(ms);
    results_figure(r, "sha256_80B_rate", h80, "hashes/s");
    double tail = sha256_tail80_rate(ms);
    results_figure(r, "sha256_tail80_rate", tail, "hashes/s");
    results_figure(r, "sha256_bulk_rate", sha256_bulk_mbps(ms), "MB/s");
    double mine = mine_rate(o->smoke ? 200000 : 2000000);
    results_figure(r, "mine_rate", mine, "hashes/s");
    if (h80 > 0)
        results_figure(r, "mine_over_sha256_80B", mine / h80, "ratio");
    if (tail > 0)
        results_figure(r, "mine_over_sha256_tail80", mine / tail, "ratio");

    stress_progress("limits: Jansson");
    if (gen_make(&g, pc_network_find("regtest"), o->blocks) != 0)
        return 1;
    results_figure(r, "chain_json_bytes", (double)g.json_bytes, "B");
    double parse = gen_parse_rate(&g, LIMITS_PARSE_REPEATS);
    results_figure(r, "jansson_parse_rate", parse, "blocks/s");
    results_figure(r, "jansson_parse_mbps",
                   parse * (double)g.json_bytes / (double)(g.height > 1 ? g.height - 1 : 1) / 1e6,
                   "MB/s");
    gen_destroy(&g);

    stress_progress("limits: loopback TCP");
    if (samples_init(&rtt, rounds) != 0 || tcp_rtt(rounds, &rtt) != 0) {
        samples_destroy(&rtt);
        stress_err("loopback TCP round trip: %s", strerror(errno));
        return 1;
    }
    results_figure(r, "tcp_rtt_p50", samples_pct(&rtt, 50), "us");
    results_figure(r, "tcp_rtt_p99", samples_pct(&rtt, 99), "us");
    samples_destroy(&rtt);

    stress_progress("limits: libcurl");
    double hr = http_empty_rate(ms);
    if (hr <= 0) {
        stress_err("empty-request HTTP rate: no answer from the in-process server");
        return 1;
    }
    results_figure(r, "http_empty_rate", hr, "req/s");
    return stress_stopping ? 130 : 0;
}
