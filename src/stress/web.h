/*
 * peerchain-stress: HTTP requests to a node's API over libcurl, one reused
 * easy handle (one keep-alive connection) per struct web. A struct web is
 * used by one thread at a time; web_global_init runs once in main first.
 */
#ifndef PC_STRESS_WEB_H
#define PC_STRESS_WEB_H

#include <stddef.h>

#include <jansson.h>

#define WEB_MAX_BODY_BYTES (16u * 1024u * 1024u)
#define WEB_ERR_BYTES 256u

struct web {
    void *curl; /* CURL *, owned */
    void *hdrs; /* struct curl_slist *, owned */
    char *body; /* last answer, NUL-terminated, owned */
    size_t len, cap;
    long status; /* last answer's status */
    char err[WEB_ERR_BYTES];
};

int web_global_init(void); /* 0 or -1 */
void web_global_cleanup(void);

/* token may be NULL (no Authorization header). 0 or -1. */
int web_init(struct web *w, const char *token);
void web_destroy(struct web *w);

/* GET or POST (body may be NULL) base_url + path, e.g.
 * "http://127.0.0.1:8545", "/status". 0 when an answer came (any status;
 * w->status, w->body), -1 when none did (w->err has one line). */
int web_get(struct web *w, const char *url, long timeout_ms);
int web_post(struct web *w, const char *url, const char *body, long timeout_ms);

/* One GET to the API of the node on 127.0.0.1:api_port (path like
 * "/status"): the answer parsed as JSON (new reference; NULL unless a 200
 * with JSON came), or the value of one /metrics sample (-1 if none). */
json_t *web_node_json(int api_port, const char *path);
double web_node_metric(int api_port, const char *sample);

/* A Prometheus sample such as
 * `peerchain_message_bytes_total{direction="in",type="blocks"}` from a
 * /metrics answer; -1 if absent. */
double web_metric(const char *text, const char *sample);

#endif
