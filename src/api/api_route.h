/*
 * The HTTP API's pure helpers: which route a method and path name, the
 * strict parsing of what comes in the path, the query and the headers, and a
 * capped growable buffer for response bodies. No I/O, no threads, no state:
 * safe from any thread; unit-tested in test/unit/node_test_api_route.c.
 * docs/api.md is the contract.
 */
#ifndef PC_API_ROUTE_H
#define PC_API_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peerchain/peerchain.h"

enum api_route {
    API_BLOCKS,        /* GET /blocks?from=H&limit=L */
    API_BLOCKS_LATEST, /* GET /blocks/latest */
    API_BLOCK_HEIGHT,  /* GET /blocks/{height} */
    API_BLOCK_HASH,    /* GET /blocks/hash/{hex} */
    API_MINE_BLOCK,    /* POST /mineBlock */
    API_PEERS,         /* GET /peers[?verbose=1] */
    API_ADD_PEER,      /* POST /addPeer */
    API_STATUS,        /* GET /status */
    API_HEALTH,        /* GET /health */
    API_METRICS,       /* GET /metrics */
};

/* What a request line names. */
struct api_match {
    int status; /* 0: found; 404: no such route; 405: wrong method */
    enum api_route route;
    bool is_post;      /* the route takes POST (and so needs the token) */
    const char *allow; /* methods the path takes (the 405's Allow header) */
    const char *arg;   /* API_BLOCK_HEIGHT / API_BLOCK_HASH: the last path segment */
};

/* Matches method and path (no query string). GET routes also take HEAD.
 * arg points into path. */
void api_route_match(const char *method, const char *path, struct api_match *m);

/* A canonical decimal in lo..hi: digits only, no sign, no leading zero (but
 * "0" itself), at most 16 digits. */
bool api_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* 64 lowercase hex characters, nothing else. */
bool api_parse_hash(const char *s, pc_hash *out);

/* "1"/"true" -> true, "0"/"false" -> false; NULL (absent) -> dflt. False
 * return: something else. */
bool api_parse_bool(const char *s, bool dflt, bool *out);

/* The token of an "Authorization: Bearer <token>" header value: the scheme
 * case-insensitively, then one or more spaces, then the token (no spaces).
 * NULL if the value has another shape; else a pointer into value, length in
 * *len. */
const char *api_bearer_token(const char *value, size_t *len);

/* addPeer's "peer": "host:port", with naivechain's "ws://host:port" (and a
 * trailing "/") accepted. Copies the host:port part into out (out_bytes);
 * false if nothing is left or it does not fit. addr_parse judges the rest. */
bool api_peer_target(const char *s, char *out, size_t out_bytes);

/* A growable byte buffer that never passes `limit` bytes (its cap). */
struct api_buf {
    char *data; /* malloc'd, owned; NULL until the first byte */
    size_t len, cap, limit;
};

/* Appends n bytes; false (buffer unchanged) over the limit or out of memory. */
bool api_buf_add(struct api_buf *b, const char *data, size_t n);
/* Appends printf output; false as api_buf_add. */
bool api_buf_printf(struct api_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void api_buf_free(struct api_buf *b);

#endif
