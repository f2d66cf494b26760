/*
 * What the HTTP API's files share: api.c (the daemon, routes that read the
 * store or act) and api_stats.c (/status and /metrics). Called on
 * libmicrohttpd's connection threads.
 */
#ifndef PC_API_INTERNAL_H
#define PC_API_INTERNAL_H

#include <stdint.h>

#include <jansson.h>

#include "api_route.h"
#include "node.h"

/* The /status document (docs/api.md). started_ms: node_mono_ms() at start.
 * New reference; NULL on allocation failure. Takes tip_mu and peers_mu, one
 * at a time. */
json_t *api_status_json(struct node *n, int64_t started_ms);

/* The /metrics text (Prometheus text format 0.0.4) appended to b. False if b
 * ran out of room or memory. Takes tip_mu, peers_mu and queue.mu, one at a
 * time. */
bool api_metrics_text(struct node *n, int64_t started_ms, struct api_buf *b);

#endif
