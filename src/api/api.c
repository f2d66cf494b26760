/*
 * The HTTP control API inside peerchaind, on libmicrohttpd (MHD). The
 * contract, with an example of every route, is docs/api.md.
 *
 * Threads: MHD's thread-per-connection mode. Handlers may block: mineBlock
 * waits for the worker's verdict, and a request with a wrong token waits
 * API_AUTH_FAIL_DELAY_MS before its 401 (to slow down guessing). In this mode
 * that blocks only the connection's own thread, never other clients, with
 * no suspend/resume state machine to get wrong. The price is a thread per
 * connection, so connections are capped (API_MAX_CONNECTIONS, and per IP),
 * each thread gets a sized stack (API_THREAD_STACK_BYTES; JSON bodies deeper
 * than PC_MAX_JSON_DEPTH are refused before Jansson's recursive parser sees
 * them), idle or slow clients are dropped after API_CONNECTION_TIMEOUT_S, and
 * a connection's header memory is capped (API_CONNECTION_MEMORY_BYTES).
 * MHD's listening thread keeps MHD's name; connection threads rename
 * themselves "pc-api-conn" at their first request.
 *
 * What handlers touch: the tip snapshot (tip_mu), the store through a read
 * snapshot of their own (an LMDB read transaction per request, ended before
 * the answer is queued), the peer registry (peers_mu, inside net.c), atomics
 * (metrics, worker counters), node_mine_block and node_add_peer. They hold
 * no lock of their own. struct api is immutable while MHD runs, but for the
 * atomics it names.
 *
 * Lifetime: main calls api_start after net_start, and api_stop first at
 * shutdown, after setting n->stopping: a mineBlock in flight is cancelled and
 * answers 503; MHD_stop_daemon closes the listening socket and joins every
 * connection thread, so no handler runs while the rest of the node stops.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "addr.h"
#include "api_internal.h"
#include "frame.h"
#include "net.h"
#include "store.h"
#include "sync.h"

#define API_MAX_CONNECTIONS 64u
#define API_MAX_CONNECTIONS_PER_IP 32u
#define API_CONNECTION_TIMEOUT_S 10u /* no progress this long: the connection is closed */
#define API_CONNECTION_MEMORY_BYTES (32u * 1024u) /* request line + headers + read buffer */
#define API_THREAD_STACK_BYTES (512u * 1024u)
#define API_MAX_BODY_BYTES (2u * 1024u * 1024u) /* a block's data may be 1 MiB, escaped */
/* /blocks stops adding blocks past this (as big as a default P2P frame): with every
 * connection busy, responses hold at most 64 times this much memory. */
#define API_MAX_RESPONSE_BYTES (4u * 1024u * 1024u)
#define API_BLOCKS_DEFAULT_LIMIT 100u
#define API_BLOCKS_MAX_LIMIT 1000u
#define API_MAX_MINING 4 /* mineBlock requests mining at once; more get 503 */
#define API_AUTH_FAIL_DELAY_MS 200
#define API_TOKEN_RANDOM_BYTES 32u
#define API_MAX_TOKEN_BYTES 1024u
#define API_COOKIE_NAME ".cookie"

#define JSON_TYPE "application/json"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct api {
    struct node *n;       /* immutable */
    struct MHD_Daemon *d; /* main thread only */
    int64_t started_ms;   /* immutable: uptime when main did not set n->started_ms */
    unsigned char token_hash[crypto_generichash_BYTES]; /* immutable: BLAKE2b of the token */
    char *cookie_path;      /* immutable; set if we wrote the cookie (removed at stop) */
    atomic_int mining;      /* mineBlock requests mining right now */
    atomic_bool is_running; /* MHD started: its log lines drop to debug level */
};

/* One request, from its first callback to MHD's completion notice. Owned by
 * its connection's thread. Every request that reaches a handler gets one:
 * answering in MHD's first callback (before the request is fully read)
 * makes libmicrohttpd 0.9.75 close the connection after the answer, so
 * GET routes are answered on the final callback too, which keeps the
 * connection alive for the next request. */
struct req {
    struct api_match m;
    struct api_buf body; /* POST: capped at API_MAX_BODY_BYTES; GET: unused */
};

/* ---------------------------------------------------------------- replies */

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *resp,
                             const char *type, const char *allow)
{
    if (resp == NULL)
        return MHD_NO;
    bool ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type) == MHD_YES &&
              MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES;
    if (ok && allow != NULL)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) == MHD_YES;
    if (ok && status == MHD_HTTP_UNAUTHORIZED)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer") == MHD_YES;
    enum MHD_Result r = ok ? MHD_queue_response(c, status, resp) : MHD_NO;
    MHD_destroy_response(resp);
    return r;
}

/* Sends len bytes of data (malloc'd; taken in every case). */
static enum MHD_Result send_owned(struct MHD_Connection *c, unsigned status, char *data, size_t len,
                                  const char *type)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL)
        free(data);
    return queue(c, status, resp, type, NULL);
}

static enum MHD_Result send_static(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    return queue(c, status, resp, JSON_TYPE, NULL);
}

static enum MHD_Result send_oom(struct MHD_Connection *c)
{
    return send_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "{\"error\":\"out of memory\"}");
}

/* Sends j (stolen; NULL means building it failed) compactly. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s == NULL)
        return send_oom(c);
    return send_owned(c, status, s, strlen(s), JSON_TYPE);
}

/* {"error": "<one line>"} with status, and an Allow header if allow is set. */
static enum MHD_Result send_error_allow(struct MHD_Connection *c, unsigned status,
                                        const char *allow, const char *fmt, va_list ap)
{
    char text[PC_ERR_REASON_BYTES + 128];
    vsnprintf(text, sizeof text, fmt, ap);
    for (char *p = text; *p != '\0'; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    json_t *msg = json_string(text);
    if (msg == NULL)
        msg = json_string("(the error text is not UTF-8)");
    json_t *j = json_object();
    char *s = NULL;
    if (j != NULL && json_object_set_new(j, "error", msg) == 0)
        s = json_dumps(j, JSON_COMPACT);
    else
        json_decref(msg);
    json_decref(j);
    if (s == NULL)
        return send_oom(c);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL)
        free(s);
    return queue(c, status, resp, JSON_TYPE, allow);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum MHD_Result r = send_error_allow(c, status, NULL, fmt, ap);
    va_end(ap);
    return r;
}

static enum MHD_Result send_405(struct MHD_Connection *c, const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_405(struct MHD_Connection *c, const char *allow, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum MHD_Result r = send_error_allow(c, MHD_HTTP_METHOD_NOT_ALLOWED, allow, fmt, ap);
    va_end(ap);
    return r;
}

/* ------------------------------------------------------------ the request */

/* A query argument: absent (*val NULL, true), or present with a value
 * without NUL bytes (true); false for a key with no value or with a NUL. */
static bool query_arg(struct MHD_Connection *c, const char *key, const char **val)
{
    size_t len = 0;
    *val = NULL;
    if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, key, strlen(key), val, &len) !=
        MHD_YES)
        return true;
    return *val != NULL && strlen(*val) == len;
}

static bool is_authorized(const struct api *a, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    size_t len = 0;
    const char *tok = api_bearer_token(h, &len);
    if (tok == NULL || len > API_MAX_TOKEN_BYTES)
        return false;
    /* Equal-length digests compared in constant time: neither the token's
     * length nor its first differing byte shows in the timing. */
    unsigned char got[crypto_generichash_BYTES];
    if (crypto_generichash(got, sizeof got, (const unsigned char *)tok, len, NULL, 0) != 0)
        return false;
    return sodium_memcmp(got, a->token_hash, sizeof got) == 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* True if the n bytes at p (not NUL-terminated) are all JSON whitespace. */
static bool is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return false;
    return true;
}

/* A POST body so far is kept in r->body. The JSON object it must hold, or a
 * one-line reason (into why) why not. An empty body counts as {}. */
static json_t *body_object(const struct req *r, char *why, size_t why_len)
{
    if (r->body.len == 0)
        return json_object();
    /* The framer bounds the nesting (PC_MAX_JSON_DEPTH) before Jansson's
     * recursive parser runs on a small connection stack, and insists on one
     * object. */
    struct frame_reader fr;
    frame_init(&fr, r->body.len + 2);
    size_t used = 0, flen = 0;
    const char *frame = NULL;
    struct pc_err err = {0};
    json_t *j = NULL;
    int rc = frame_feed(&fr, r->body.data, r->body.len, &used, &frame, &flen, &err);
    if (rc < 0) {
        snprintf(why, why_len, "body: %s", err.reason);
    } else if (rc != FRAME_READY) {
        snprintf(why, why_len, "body: not one complete JSON object");
    } else if (!is_blank(r->body.data + used, r->body.len - used)) {
        snprintf(why, why_len, "body: something follows the JSON object");
    } else {
        json_error_t je;
        j = json_loadb(frame, flen, JSON_REJECT_DUPLICATES, &je);
        if (j == NULL)
            snprintf(why, why_len, "body: invalid JSON at byte %d: %.100s", je.position, je.text);
    }
    frame_destroy(&fr);
    return j;
}

/* The name of a key of object o other than `allowed`, or NULL. */
static const char *unknown_key(const json_t *o, const char *allowed)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)o, key, v)
    {
        (void)v;
        if (strcmp(key, allowed) != 0)
            return key;
    }
    return NULL;
}

/* ----------------------------------------------------------------- blocks */

/* A read snapshot of the store, or an error already queued in *res. */
static struct pc_store_reader *begin_read(struct api *a, struct MHD_Connection *c,
                                          enum MHD_Result *res)
{
    if (a->n->store == NULL) {
        *res = send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "block storage is not open");
        return NULL;
    }
    struct pc_store_reader *rd = NULL;
    struct pc_err err = {0};
    if (pc_store_reader_begin(a->n->store, &rd, &err) != 0) {
        *res = send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot read the store: %s", err.reason);
        return NULL;
    }
    return rd;
}

/* The stored (wire) JSON of the block at height as the whole reply. */
static enum MHD_Result send_stored_block(struct MHD_Connection *c, struct pc_store_reader *rd,
                                         uint64_t height)
{
    const char *js = NULL;
    size_t len = 0;
    int rc = pc_store_get_json(rd, height, &js, &len);
    if (rc == PC_E_NOT_FOUND)
        return send_error(c, MHD_HTTP_NOT_FOUND, "no block at height %" PRIu64, height);
    if (rc != 0)
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read block %" PRIu64 ": %s",
                          height, pc_strerror(rc));
    char *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL)
        return send_oom(c);
    memcpy(copy, js, len);
    return send_owned(c, MHD_HTTP_OK, copy, len, JSON_TYPE);
}

static enum MHD_Result get_block_at(struct api *a, struct MHD_Connection *c, const char *arg,
                                    bool is_latest)
{
    uint64_t height = 0;
    if (!is_latest && !api_parse_uint(arg, 1, PC_MAX_SAFE_INTEGER, &height))
        return send_error(c, MHD_HTTP_BAD_REQUEST,
                          "height: not a whole number in 1..9007199254740991");
    enum MHD_Result res = MHD_NO; /* set by begin_read when it fails */
    struct pc_store_reader *rd = begin_read(a, c, &res);
    if (rd == NULL)
        return res;
    res = send_stored_block(c, rd, is_latest ? pc_store_reader_tip(rd) : height);
    pc_store_reader_end(rd);
    return res;
}

static enum MHD_Result get_block_by_hash(struct api *a, struct MHD_Connection *c, const char *arg)
{
    pc_hash h;
    if (!api_parse_hash(arg, &h))
        return send_error(c, MHD_HTTP_BAD_REQUEST, "hash: not 64 lowercase hex characters");
    enum MHD_Result res = MHD_NO; /* set by begin_read when it fails */
    struct pc_store_reader *rd = begin_read(a, c, &res);
    if (rd == NULL)
        return res;
    uint64_t height = 0;
    int rc = pc_store_find(rd, &h, &height);
    if (rc == PC_E_NOT_FOUND)
        res = send_error(c, MHD_HTTP_NOT_FOUND, "no block with hash %s", arg);
    else if (rc != 0)
        res = send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot look the hash up: %s",
                         pc_strerror(rc));
    else
        res = send_stored_block(c, rd, height);
    pc_store_reader_end(rd);
    return res;
}

/* Appends blocks from..tip (at most limit; past API_MAX_RESPONSE_BYTES only
 * while the array is empty) to b as a JSON array. 0 or the store's code. */
static int blocks_page(struct pc_store_reader *rd, uint64_t from, uint64_t limit, struct api_buf *b)
{
    uint64_t tip = pc_store_reader_tip(rd), count = 0;
    if (!api_buf_add(b, "[", 1))
        return PC_E_NOMEM;
    for (uint64_t h = from; h <= tip && count < limit; h++) {
        const char *js = NULL;
        size_t len = 0;
        int rc = pc_store_get_json(rd, h, &js, &len);
        if (rc != 0)
            return rc;
        if (count > 0 && len + 2 > API_MAX_RESPONSE_BYTES - b->len)
            break;
        if ((count > 0 && !api_buf_add(b, ",", 1)) || !api_buf_add(b, js, len))
            return PC_E_NOMEM;
        count++;
    }
    return api_buf_add(b, "]", 1) ? 0 : PC_E_NOMEM;
}

static enum MHD_Result get_blocks(struct api *a, struct MHD_Connection *c)
{
    uint64_t from = 1, limit = API_BLOCKS_DEFAULT_LIMIT;
    const char *f, *l;
    if (!query_arg(c, "from", &f) ||
        (f != NULL && !api_parse_uint(f, 1, PC_MAX_SAFE_INTEGER, &from)))
        return send_error(c, MHD_HTTP_BAD_REQUEST,
                          "from: not a whole number in 1..9007199254740991");
    if (!query_arg(c, "limit", &l) ||
        (l != NULL && !api_parse_uint(l, 1, PC_MAX_SAFE_INTEGER, &limit)))
        return send_error(c, MHD_HTTP_BAD_REQUEST, "limit: not a whole number of at least 1");
    if (limit > API_BLOCKS_MAX_LIMIT)
        limit = API_BLOCKS_MAX_LIMIT;
    enum MHD_Result res = MHD_NO; /* set by begin_read when it fails */
    struct pc_store_reader *rd = begin_read(a, c, &res);
    if (rd == NULL)
        return res;
    /* Room for one block over the soft cap: a page always makes progress. */
    struct api_buf b = {.limit = API_MAX_RESPONSE_BYTES + API_MAX_BODY_BYTES * 8};
    int rc = blocks_page(rd, from, limit, &b);
    pc_store_reader_end(rd);
    if (rc == PC_E_NOMEM) {
        api_buf_free(&b);
        return send_oom(c);
    }
    if (rc != 0) {
        api_buf_free(&b);
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read blocks: %s",
                          pc_strerror(rc));
    }
    return send_owned(c, MHD_HTTP_OK, b.data, b.len, JSON_TYPE);
}

/* ---------------------------------------------------------- other routes */

static enum MHD_Result get_peers(struct api *a, struct MHD_Connection *c)
{
    const char *v;
    bool verbose;
    if (!query_arg(c, "verbose", &v) || !api_parse_bool(v, false, &verbose))
        return send_error(c, MHD_HTTP_BAD_REQUEST, "verbose: not 0, 1, false or true");
    return send_json(c, MHD_HTTP_OK, node_peer_list(a->n, verbose));
}

static int64_t started_ms(const struct api *a)
{
    return a->n->started_ms > 0 ? a->n->started_ms : a->started_ms;
}

static enum MHD_Result get_health(struct api *a, struct MHD_Connection *c)
{
    if (atomic_load(&a->n->stopping))
        return send_static(c, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"status\":\"stopping\"}");
    struct tip_snapshot t;
    node_read_tip(a->n, &t);
    return send_json(c, MHD_HTTP_OK,
                     json_pack("{s:s, s:I}", "status", "ok", "height", (json_int_t)t.height));
}

static enum MHD_Result get_metrics(struct api *a, struct MHD_Connection *c)
{
    struct api_buf b = {.limit = API_MAX_RESPONSE_BYTES};
    if (!api_metrics_text(a->n, started_ms(a), &b)) {
        api_buf_free(&b);
        return send_oom(c);
    }
    return send_owned(c, MHD_HTTP_OK, b.data, b.len, METRICS_TYPE);
}

/* The HTTP status for a failed node_mine_block. */
static unsigned mine_status(int rc)
{
    switch (rc) {
    case PC_E_TOO_LARGE:
    case PC_E_UTF8:
    case PC_E_TYPE:
    case PC_E_RANGE:
    case PC_E_ARG:
        return MHD_HTTP_BAD_REQUEST;
    case PC_E_SHUTDOWN:
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    default:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* mineBlock's items: borrowed from data (a string, an array of strings, or
 * absent). False with a reason in why. */
static bool mine_items(const json_t *data, const char ***items, size_t **lens, size_t *n, char *why,
                       size_t why_len)
{
    *n = data == NULL ? 0 : json_is_string(data) ? 1 : json_array_size(data);
    if (data != NULL && !json_is_string(data) && !json_is_array(data)) {
        snprintf(why, why_len, "data: not a string or an array of strings");
        return false;
    }
    *items = calloc(*n ? *n : 1, sizeof **items);
    *lens = calloc(*n ? *n : 1, sizeof **lens);
    if (*items == NULL || *lens == NULL) {
        snprintf(why, why_len, "out of memory");
        return false;
    }
    for (size_t i = 0; i < *n; i++) {
        const json_t *s = json_is_string(data) ? data : json_array_get(data, i);
        if (!json_is_string(s)) {
            snprintf(why, why_len, "data[%zu]: not a string", i);
            return false;
        }
        (*items)[i] = json_string_value(s);
        (*lens)[i] = json_string_length(s);
    }
    return true;
}

static enum MHD_Result post_mine_block(struct api *a, struct MHD_Connection *c, json_t *body)
{
    const char *bad = unknown_key(body, "data");
    if (bad != NULL)
        return send_error(c, MHD_HTTP_BAD_REQUEST, "unknown field \"%.64s\" (only \"data\")", bad);
    const char **items = NULL;
    size_t *lens = NULL, n_items = 0;
    char why[PC_ERR_REASON_BYTES];
    enum MHD_Result res = MHD_NO; /* set by begin_read when it fails */
    if (!mine_items(json_object_get(body, "data"), &items, &lens, &n_items, why, sizeof why)) {
        res = send_error(c, MHD_HTTP_BAD_REQUEST, "%s", why);
        goto out;
    }
    if (atomic_fetch_add(&a->mining, 1) >= API_MAX_MINING) {
        atomic_fetch_sub(&a->mining, 1);
        res = send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                         "%d mineBlock requests are mining already; try again", API_MAX_MINING);
        goto out;
    }
    json_t *block = NULL;
    struct pc_err err = {0};
    int rc = node_mine_block(a->n, items, lens, n_items, &block, &err);
    atomic_fetch_sub(&a->mining, 1);
    if (rc == 0)
        res = send_json(c, MHD_HTTP_OK, block);
    else
        res = send_error(c, mine_status(rc), "%s: %s", pc_errname(rc),
                         err.reason[0] ? err.reason : pc_strerror(rc));
out:
    free(items);
    free(lens);
    return res;
}

static enum MHD_Result post_add_peer(struct api *a, struct MHD_Connection *c, json_t *body)
{
    const char *bad = unknown_key(body, "peer");
    if (bad != NULL)
        return send_error(c, MHD_HTTP_BAD_REQUEST, "unknown field \"%.64s\" (only \"peer\")", bad);
    const char *s = json_string_value(json_object_get(body, "peer"));
    char target[ADDR_MAX_INPUT + 1];
    if (s == NULL || !api_peer_target(s, target, sizeof target))
        return send_error(c, MHD_HTTP_BAD_REQUEST, "peer: needs a \"host:port\" string");
    int rc = node_add_peer(a->n, target);
    switch (rc) {
    case 0:
        node_log(LOG_INFO, NULL, "API: added peer %s", target);
        return send_json(c, MHD_HTTP_OK,
                         json_pack("{s:s, s:s}", "peer", target, "status", "added"));
    case PC_E_DUPLICATE:
        return send_error(c, MHD_HTTP_CONFLICT, "%.100s is already a peer", target);
    case PC_E_SELF:
        return send_error(c, MHD_HTTP_CONFLICT, "%.100s is this node", target);
    case PC_E_ARG:
        return send_error(c, MHD_HTTP_BAD_REQUEST, "peer: \"%.100s\" is not host:port", target);
    case PC_E_LIMIT:
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "limit: already dialing --max-outbound %d peers", a->n->cfg.max_outbound);
    case PC_E_BANNED:
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "banned: %.100s is banned", target);
    case PC_E_SHUTDOWN:
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down");
    default:
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", pc_strerror(rc));
    }
}

/* ------------------------------------------------------------- dispatch */

static enum MHD_Result dispatch_get(struct api *a, struct MHD_Connection *c,
                                    const struct api_match *m)
{
    switch (m->route) {
    case API_BLOCKS:
        return get_blocks(a, c);
    case API_BLOCKS_LATEST:
        return get_block_at(a, c, NULL, true);
    case API_BLOCK_HEIGHT:
        return get_block_at(a, c, m->arg, false);
    case API_BLOCK_HASH:
        return get_block_by_hash(a, c, m->arg);
    case API_PEERS:
        return get_peers(a, c);
    case API_STATUS:
        return send_json(c, MHD_HTTP_OK, api_status_json(a->n, started_ms(a)));
    case API_HEALTH:
        return get_health(a, c);
    case API_METRICS:
        return get_metrics(a, c);
    default:
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "route without a GET handler");
    }
}

static enum MHD_Result dispatch_post(struct api *a, struct MHD_Connection *c, struct req *r)
{
    if (atomic_load(&a->n->stopping))
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down");
    char why[PC_ERR_REASON_BYTES + 64];
    json_t *body = body_object(r, why, sizeof why);
    if (body == NULL)
        return send_error(c, MHD_HTTP_BAD_REQUEST, "%s", why);
    enum MHD_Result res = MHD_NO; /* set by begin_read when it fails */
    if (!json_is_object(body))
        res = send_error(c, MHD_HTTP_BAD_REQUEST, "body: not a JSON object");
    else if (r->m.route == API_MINE_BLOCK)
        res = post_mine_block(a, c, body);
    else
        res = post_add_peer(a, c, body);
    json_decref(body);
    return res;
}

/* The first callback of a request: headers are in, no body yet. Answers
 * GET routes and every refusal at once; a POST that may go on gets its
 * struct req. */
static enum MHD_Result first_call(struct api *a, struct MHD_Connection *c, const char *url,
                                  const char *method, void **con_cls)
{
    static _Thread_local bool named; /* one prctl per connection thread, not per request */
    if (!named) {
        sync_thread_name("pc-api-conn");
        named = true;
    }
    struct api_match m;
    api_route_match(method, url, &m);
    if (m.status == 404)
        return send_error(c, MHD_HTTP_NOT_FOUND, "no such route: %.100s", url);
    if (m.status == 405)
        return send_405(c, m.allow, "%.16s is not allowed here; use %s", method, m.allow);
    if (!m.is_post) {
        struct req *r = calloc(1, sizeof *r);
        if (r == NULL)
            return send_oom(c);
        r->m = m; /* m.arg points into url, which MHD keeps for the request */
        *con_cls = r;
        return MHD_YES; /* answered on the final callback */
    }
    if (!is_authorized(a, c)) {
        sleep_ms(API_AUTH_FAIL_DELAY_MS); /* this connection's thread only */
        return send_error(c, MHD_HTTP_UNAUTHORIZED, "missing or wrong bearer token");
    }
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t declared = 0;
    if (cl != NULL &&
        (!api_parse_uint(cl, 0, UINT64_MAX, &declared) || declared > API_MAX_BODY_BYTES))
        return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "body over %u bytes", API_MAX_BODY_BYTES);
    struct req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return send_oom(c);
    r->m = m;
    r->body.limit = API_MAX_BODY_BYTES;
    *con_cls = r;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct api *a = cls;
    struct req *r = *con_cls;
    if (r == NULL)
        return first_call(a, c, url, method, con_cls);
    if (!r->m.is_post) {
        if (*upload_data_size == 0)
            return dispatch_get(a, c, &r->m);
        *upload_data_size = 0; /* a body on a GET is read and ignored */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* Only a chunked body can pass the limit here (a declared length was
         * checked); it cannot be answered mid-upload, so the connection is
         * closed. */
        if (!api_buf_add(&r->body, upload_data, *upload_data_size))
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return dispatch_post(a, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct req *r = *con_cls;
    if (r == NULL)
        return;
    api_buf_free(&r->body);
    free(r);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct api *a = cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\r\n")] = '\0';
    /* Once running, MHD's complaints are about clients: debug level. */
    node_log(atomic_load(&a->is_running) ? LOG_DEBUG : LOG_WARN, NULL, "http: %s", line);
}

/* ------------------------------------------------------------ the token */

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Writes token to <datadir>/.cookie, mode 0600, through a temporary name.
 * O_NOFOLLOW: a symlink planted at the temporary name is not followed. The
 * directory exists: main created and locked it before opening the store. */
static int write_cookie(struct api *a, const char *datadir, const char *token)
{
    char path[PC_MAX_PATH_BYTES + 32], tmp[PC_MAX_PATH_BYTES + 48];
    snprintf(path, sizeof path, "%s/" API_COOKIE_NAME, datadir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    /* A stale file of a crashed run goes first; O_EXCL then makes sure we
     * write a file we created, and O_NONBLOCK that a FIFO cannot hang us. */
    if (unlink(tmp) != 0 && errno != ENOENT)
        goto fail;
    int fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    /* open's mode is filtered by the umask and ignored for an existing file. */
    bool ok = fchmod(fd, 0600) == 0 && write_all(fd, token, strlen(token)) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    errno = e;
    if (!ok || rename(tmp, path) != 0) {
        e = errno;
        (void)unlink(tmp);
        errno = e;
        goto fail;
    }
    a->cookie_path = strdup(path);
    if (a->cookie_path == NULL) {
        (void)unlink(path);
        return PC_E_NOMEM;
    }
    node_log(LOG_INFO, NULL, "API token written to %s", path);
    return 0;
fail:
    node_log(LOG_ERROR, NULL, "cannot write the API cookie %s: %s", path, strerror(errno));
    return PC_E_IO;
}

/* The configured token, or a fresh random one in the cookie file. */
static int token_setup(struct api *a)
{
    const struct node_config *cfg = &a->n->cfg;
    char fresh[API_TOKEN_RANDOM_BYTES * 2 + 1];
    const char *token = cfg->api_token;
    if (token == NULL) {
        unsigned char raw[API_TOKEN_RANDOM_BYTES];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(fresh, sizeof fresh, raw, sizeof raw);
        sodium_memzero(raw, sizeof raw);
        token = fresh;
        int rc = write_cookie(a, cfg->datadir, fresh);
        if (rc != 0)
            return rc;
    }
    int rc = crypto_generichash(a->token_hash, sizeof a->token_hash, (const unsigned char *)token,
                                strlen(token), NULL, 0);
    sodium_memzero(fresh, sizeof fresh);
    return rc == 0 ? 0 : PC_E_IO;
}

/* --------------------------------------------------------- start and stop */

static void api_free(struct api *a)
{
    if (a == NULL)
        return;
    if (a->d != NULL)
        MHD_stop_daemon(a->d); /* joins every MHD thread */
    if (a->cookie_path != NULL && unlink(a->cookie_path) != 0)
        node_log(LOG_WARN, NULL, "cannot remove %s: %s", a->cookie_path, strerror(errno));
    free(a->cookie_path);
    free(a);
}

/* --api-bind and --api-port as a socket address. */
static bool bind_addr(const struct node_config *cfg, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, cfg->api_bind, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)cfg->api_port);
        return true;
    }
    if (inet_pton(AF_INET6, cfg->api_bind, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)cfg->api_port);
        return true;
    }
    return false;
}

int api_start(struct node *n)
{
    const struct node_config *cfg = &n->cfg;
    if (!cfg->api)
        return 0;
    struct sockaddr_storage ss;
    if (!bind_addr(cfg, &ss)) {
        node_log(LOG_ERROR, NULL, "--api-bind %s is not an IP address", cfg->api_bind);
        return PC_E_ARG;
    }
    struct api *a = calloc(1, sizeof *a);
    if (a == NULL)
        return PC_E_NOMEM;
    a->n = n;
    a->started_ms = node_mono_ms();
    atomic_init(&a->mining, 0);
    atomic_init(&a->is_running, false);
    int rc = token_setup(a);
    if (rc != 0)
        goto fail;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The logger first, so that MHD routes every later complaint to it. */
    a->d =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, a, MHD_OPTION_EXTERNAL_LOGGER,
                         on_mhd_log, a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_MAX_CONNECTIONS,
                         MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)API_MAX_CONNECTIONS_PER_IP,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_CONNECTION_TIMEOUT_S,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONNECTION_MEMORY_BYTES,
                         MHD_OPTION_THREAD_STACK_SIZE, (size_t)API_THREAD_STACK_BYTES,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, a, MHD_OPTION_END);
    if (a->d == NULL) {
        node_log(LOG_ERROR, NULL, "cannot start the HTTP API on %s port %d", cfg->api_bind,
                 cfg->api_port);
        rc = PC_E_IO;
        goto fail;
    }
    atomic_store(&a->is_running, true);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
    int port = info != NULL ? info->port : cfg->api_port;
    node_log(LOG_INFO, NULL, "HTTP API listening on %s port %d", cfg->api_bind, port);
    if (cfg->api_port_file != NULL && (rc = node_write_port_file(cfg->api_port_file, port)) != 0)
        goto fail;
    n->api = a;
    return 0;
fail:
    api_free(a);
    return rc;
}

void api_stop(struct node *n)
{
    api_free(n->api);
    n->api = NULL;
}
