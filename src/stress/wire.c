/*
 * peerchain-stress: wire protocol client. See wire.h.
 */
#include "wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "util.h"

static int set_err(struct wire_conn *c, const char *what, int e)
{
    snprintf(c->err, sizeof c->err, "%s: %s", what, strerror(e));
    return -1;
}

int wire_parse_target(const char *s, char host[64], int *port)
{
    const char *colon = strrchr(s, ':');
    struct in_addr a;
    char *end;
    if (colon == NULL || (size_t)(colon - s) >= 64)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p < 1 || p > 65535 || inet_pton(AF_INET, host, &a) != 1)
        return -1;
    /* Traffic stays on loopback: 127.0.0.0/8 only. */
    if ((ntohl(a.s_addr) >> 24) != 127)
        return -1;
    *port = (int)p;
    return 0;
}

int wire_connect(struct wire_conn *c, const char *host, int port, const char *src_ip,
                 unsigned timeout_ms)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    memset(c, 0, sizeof *c);
    c->fd = -1;
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
        snprintf(c->err, sizeof c->err, "%s is not an address in 127.0.0.0/8", host);
        return -1;
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        return set_err(c, "socket", errno);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (src_ip != NULL) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        if (inet_pton(AF_INET, src_ip, &src.sin_addr) != 1 ||
            bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0) {
            set_err(c, "bind source address", errno);
            goto fail;
        }
    }
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (errno != EINPROGRESS) {
            snprintf(c->err, sizeof c->err, "cannot reach %s:%d: %s", host, port, strerror(errno));
            goto fail;
        }
        struct pollfd p = {.fd = c->fd, .events = POLLOUT};
        int r = poll(&p, 1, (int)timeout_ms);
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (r == 0) {
            snprintf(c->err, sizeof c->err, "cannot reach %s:%d: timed out", host, port);
            goto fail;
        }
        if (r < 0 || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            snprintf(c->err, sizeof c->err, "cannot reach %s:%d: %s", host, port,
                     strerror(r < 0 ? errno : soerr));
            goto fail;
        }
    }
    /* Blocking from here on; waits use poll. */
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
    return 0;
fail:
    close(c->fd);
    c->fd = -1;
    return -1;
}

void wire_close(struct wire_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    c->buf = NULL;
    c->fd = -1;
    c->len = c->cap = 0;
}

int wire_send_raw(struct wire_conn *c, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t w = send(c->fd, text, len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return set_err(c, "send", errno);
        }
        text += w;
        len -= (size_t)w;
        c->bytes_out += (uint64_t)w;
    }
    return 0;
}

int wire_send(struct wire_conn *c, const char *type, json_t *payload)
{
    json_t *msg = json_pack("{s:s, s:o}", "type", type, "payload", payload ? payload : json_null());
    if (msg == NULL) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return -1;
    }
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (text == NULL) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return -1;
    }
    size_t n = strlen(text);
    int rc = wire_send_raw(c, text, n);
    if (rc == 0)
        rc = wire_send_raw(c, "\n", 1);
    free(text);
    return rc;
}

int wire_send_hello(struct wire_conn *c, const pc_network *net, const pc_block *tip,
                    const pc_work *work)
{
    pc_block *genesis = NULL;
    char hash_hex[PC_HASH_HEX_CHARS + 1], work_hex[PC_WORK_HEX_BYTES], nonce_hex[17];
    unsigned char nonce[8];
    pc_work w;
    if (tip == NULL) {
        genesis = pc_network_genesis(net);
        if (genesis == NULL) {
            snprintf(c->err, sizeof c->err, "out of memory");
            return -1;
        }
        tip = genesis;
        pc_work_zero(&w);
        pc_work_add_pow2(&w, genesis->difficulty);
        work = &w;
    }
    pc_block *g = genesis != NULL ? genesis : pc_network_genesis(net);
    if (g == NULL) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return -1;
    }
    pc_hash_to_hex(&g->hash, hash_hex);
    pc_work_to_hex(work, work_hex);
    randombytes_buf(nonce, sizeof nonce);
    sodium_bin2hex(nonce_hex, sizeof nonce_hex, nonce, sizeof nonce);
    json_t *p = json_pack("{s:s, s:s, s:i, s:I, s:s, s:i, s:s, s:s}", "network", net->id, "genesis",
                          hash_hex, "version", PC_PROTOCOL_VERSION, "height",
                          (json_int_t)tip->height, "work", work_hex, "port", 0, "nonce", nonce_hex,
                          "agent", "peerchain-stress/" PC_VERSION_STRING);
    pc_block_free(g);
    if (p == NULL) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return -1;
    }
    return wire_send(c, "hello", p);
}

int wire_recv(struct wire_conn *c, unsigned timeout_ms, json_t **msg, uint64_t *rx_ns)
{
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
        if (nl != NULL) {
            size_t line = (size_t)(nl - c->buf);
            json_error_t je;
            *msg = json_loadb(c->buf, line, 0, &je);
            memmove(c->buf, nl + 1, c->len - line - 1);
            c->len -= line + 1;
            if (*msg == NULL) {
                snprintf(c->err, sizeof c->err, "bad JSON from the node: %.100s", je.text);
                return -1;
            }
            if (rx_ns != NULL)
                *rx_ns = now_ns();
            return 1;
        }
        if (c->len >= WIRE_MAX_LINE_BYTES) {
            snprintf(c->err, sizeof c->err, "a message over %u bytes", WIRE_MAX_LINE_BYTES);
            return -1;
        }
        uint64_t t = now_ns();
        if (t >= deadline || stress_stopping)
            return 0;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int r = poll(&p, 1, (int)((deadline - t) / 1000000u) + 1);
        if (r < 0 && errno != EINTR)
            return set_err(c, "poll", errno);
        if (r <= 0)
            continue;
        /* Small at first: a run may hold a thousand idle connections. */
        if (c->cap - c->len < WIRE_MIN_READ_BYTES) {
            size_t ncap = c->cap ? c->cap * 2 : 2 * WIRE_MIN_READ_BYTES;
            if (ncap > WIRE_MAX_LINE_BYTES + WIRE_MIN_READ_BYTES)
                ncap = WIRE_MAX_LINE_BYTES + WIRE_MIN_READ_BYTES;
            char *nb = realloc(c->buf, ncap);
            if (nb == NULL) {
                snprintf(c->err, sizeof c->err, "out of memory");
                return -1;
            }
            c->buf = nb;
            c->cap = ncap;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return set_err(c, "recv", errno);
        if (n == 0) {
            snprintf(c->err, sizeof c->err, "the node closed the connection");
            return -1;
        }
        c->len += (size_t)n;
        c->bytes_in += (uint64_t)n;
    }
}

const char *wire_type(const json_t *msg)
{
    const char *t = json_string_value(json_object_get(msg, "type"));
    return t ? t : "";
}

json_t *wire_payload(const json_t *msg)
{
    return json_object_get(msg, "payload");
}

void wire_source_addr(unsigned n, char out[32])
{
    if (n < 250)
        snprintf(out, 32, "127.0.0.%u", n + 2);
    else
        snprintf(out, 32, "127.%u.%u.%u", 1 + (n - 250) / 62500, ((n - 250) / 250) % 250 + 1,
                 (n - 250) % 250 + 2);
}
