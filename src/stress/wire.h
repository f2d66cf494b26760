/*
 * peerchain-stress: the wire protocol from the client side (docs/protocol.md
 * Part 2), over blocking TCP to 127.0.0.0/8.
 *
 * A peerchaind writes each message as compact JSON and one line feed, so the
 * harness frames what it reads by line; a line over WIRE_MAX_LINE_BYTES is an
 * error. A wire_conn is used by one thread at a time.
 */
#ifndef PC_STRESS_WIRE_H
#define PC_STRESS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "peerchain/peerchain.h"

#define WIRE_MAX_LINE_BYTES (8u * 1024u * 1024u) /* 2x the node's default frame cap */
#define WIRE_ERR_BYTES 160u
#define WIRE_MIN_READ_BYTES 4096u /* room for at least this much per recv */

struct wire_conn {
    int fd;
    char *buf; /* received bytes not yet returned; owned */
    size_t len, cap;
    uint64_t bytes_in, bytes_out;
    char err[WIRE_ERR_BYTES]; /* why the last call failed */
};

/*
 * Connects to host:port (an IPv4 literal in 127.0.0.0/8), from src_ip if not
 * NULL (bans and per-address limits are per source address). Bounded by
 * timeout_ms. 0, or -1 with c->err set.
 */
int wire_connect(struct wire_conn *c, const char *host, int port, const char *src_ip,
                 unsigned timeout_ms);
void wire_close(struct wire_conn *c);

/* Sends text (adds nothing) / a message {"type":..,"payload":..} plus "\n";
 * the payload reference is stolen. 0 or -1. */
int wire_send_raw(struct wire_conn *c, const char *text, size_t len);
int wire_send(struct wire_conn *c, const char *type, json_t *payload);

/* Our hello, at genesis height and work unless tip is given (borrowed). */
int wire_send_hello(struct wire_conn *c, const pc_network *net, const pc_block *tip,
                    const pc_work *work);

/*
 * Receives one message within timeout_ms. Returns 1 with *msg (new
 * reference) and *rx_ns (when its last byte was read), 0 on timeout, -1 on
 * error or end of stream (c->err says which).
 */
int wire_recv(struct wire_conn *c, unsigned timeout_ms, json_t **msg, uint64_t *rx_ns);

/* The message's type (borrowed, "" if none) and payload (borrowed). */
const char *wire_type(const json_t *msg);
json_t *wire_payload(const json_t *msg);

/* Parses "HOST:PORT" into host (an IPv4 literal in 127.0.0.0/8) and port.
 * 0 or -1. */
int wire_parse_target(const char *s, char host[64], int *port);

/* The n-th source address for clients that must not share one (bans and
 * per-address caps are per IP): 127.0.0.2 .. 127.0.0.251, then 127.1.x.y. */
void wire_source_addr(unsigned n, char out[32]);

#endif
