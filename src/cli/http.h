/*
 * peerchain-cli's one HTTP exchange with a node's API, over libcurl.
 *
 * A request is one blocking call with one deadline for everything (connect,
 * send, the whole answer). The answer is read into memory up to
 * HTTP_MAX_RESPONSE_BYTES; a larger one is an error, not a truncation, so a
 * hostile or broken server costs at most that much memory. Plain http only:
 * no redirects, no proxies (an http_proxy in the environment must not send
 * requests for 127.0.0.1 elsewhere), no other protocols.
 *
 * Single-threaded: the CLI calls http_global_init once in main, then any
 * number of http_request calls, then http_global_cleanup.
 */
#ifndef PC_CLI_HTTP_H
#define PC_CLI_HTTP_H

#include <stddef.h>

/* Far above any answer an honest node sends: it ends a /blocks page once
 * the page passes 16 MiB, and one block is at most ~6 MiB of JSON (1 MiB of
 * data with every byte escaped). */
#define HTTP_MAX_RESPONSE_BYTES (64u * 1024u * 1024u)
#define HTTP_WHY_BYTES 256u /* a transport failure, one line */

struct http_request {
    const char *base_url; /* "http://HOST:PORT", no trailing slash */
    const char *method;   /* "GET" or "POST" */
    const char *path;     /* "/blocks?from=1&limit=10": already URL-safe */
    const char *body;     /* POST body (JSON text), or NULL */
    const char *token;    /* sent as "Authorization: Bearer TOKEN" if not NULL */
    long timeout_ms;      /* deadline for the whole exchange, > 0 */
};

struct http_response {
    long status; /* HTTP status code */
    char *body;  /* NUL-terminated (the body itself may hold NULs); owned */
    size_t len;  /* bytes in body, without the added NUL */
};

/* Starts libcurl. 0 or -1 (then nothing else here may be called). */
int http_global_init(void);
void http_global_cleanup(void);

/*
 * Sends req and reads the answer. Returns 0 when the node answered, whatever
 * the status: *resp is filled and the caller frees it with
 * http_response_destroy. Returns -1 when there is no answer (refused, timed
 * out, name not resolved, cut off, larger than HTTP_MAX_RESPONSE_BYTES): why
 * gets a one-line reason such as "connection refused", and *resp holds
 * nothing to free.
 */
int http_request(const struct http_request *req, struct http_response *resp,
                 char why[HTTP_WHY_BYTES]);

void http_response_destroy(struct http_response *resp);

#endif
