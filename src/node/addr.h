/*
 * Peer addresses: parsing "host:port" targets and formatting socket addresses.
 *
 * Accepted targets: "host:port", "1.2.3.4:port", "[v6]:port", and the seed
 * design's "ws://host:port" (an optional trailing '/' too). host is a DNS name
 * (letters, digits, '-', '.', '_'; at most 253 bytes) or an IP literal; IPv6
 * literals must be in brackets. port is 1..65535 in plain decimal.
 *
 * Pure functions; safe from any thread.
 */
#ifndef PC_NODE_ADDR_H
#define PC_NODE_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/socket.h>

#include "peerchain/errors.h"

#define ADDR_MAX_INPUT 300u    /* longest target string accepted */
#define ADDR_HOST_BYTES 254u   /* 253 + NUL */
#define ADDR_IP_BYTES 46u      /* INET6_ADDRSTRLEN */
#define ADDR_STR_BYTES 56u     /* "[" ip "]:" port NUL */
#define ADDR_TARGET_BYTES 264u /* normalised target: "[" host "]:" port NUL */

struct addr_target {
    char host[ADDR_HOST_BYTES]; /* without brackets */
    char port[6];               /* decimal, for getaddrinfo */
    int port_num;               /* 1..65535 */
    bool is_v6;                 /* host is an IPv6 literal */
};

/* Parses s. 0 or PC_E_ARG (with a reason in err, may be NULL). */
int addr_parse(const char *s, struct addr_target *out, struct pc_err *err);

/* Writes the canonical "host:port" / "[v6]:port" form of t into out. */
void addr_target_format(const struct addr_target *t, char out[ADDR_TARGET_BYTES]);

/* "ip" and "ip:port" ("[v6]:port") of a socket address. An IPv4-mapped IPv6
 * address is written as IPv4, so one remote has one name whichever way it
 * reached us (bans are keyed on ip). Returns 0 or PC_E_ARG (unknown family). */
int addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, char ip[ADDR_IP_BYTES],
                       char str[ADDR_STR_BYTES], int *port);

/* "ip:port" with brackets for IPv6 (ip as written by addr_from_sockaddr). */
void addr_join(const char *ip, int port, char out[ADDR_STR_BYTES]);

#endif
