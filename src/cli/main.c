/*
 * peerchain-cli: a small client of a peerchain node's HTTP API
 * (docs/api.md), in the spirit of bitcoin-cli. One command, one or two
 * requests, readable output (or the node's JSON with --json), and an exit
 * status scripts can trust: 0 ok, 1 the node (or its cookie) failed us,
 * 2 a usage error (config.h).
 *
 * Every answer is checked before it is shown: a transport failure, an HTTP
 * error (quoting the node's {"error"}), text that is not JSON and JSON of
 * the wrong shape each end in one line on stderr and exit 1. Single-threaded.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "http.h"
#include "print.h"
#include "text.h"

#define PROG "peerchain-cli"
#define CLI_MAX_PATH_QUERY_BYTES 128u /* "/blocks/hash/<64 hex>" and the like */
#define CLI_ERROR_SHOWN_BYTES 240u    /* the node's error text, as quoted */

/* One answered request: the body as received and its parsed JSON. */
struct answer {
    struct http_response resp;
    json_t *json; /* owned */
};

static void answer_destroy(struct answer *a)
{
    json_decref(a->json);
    a->json = NULL;
    http_response_destroy(&a->resp);
}

/* The node's reason for an HTTP error: its {"error"} string, else the start
 * of the body, else nothing. */
static const char *error_text(const struct http_response *resp, char *out, size_t cap)
{
    json_t *j = json_loadb(resp->body, resp->len, 0, NULL);
    const json_t *e = json_is_object(j) ? json_object_get(j, "error") : NULL;
    if (json_is_string(e))
        text_clean(out, cap, json_string_value(e), json_string_length(e));
    else if (resp->len > 0)
        text_clean(out, cap, resp->body, resp->len);
    else
        snprintf(out, cap, "no reason given");
    json_decref(j);
    return out;
}

static const char *json_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    default:
        return "a plain value";
    }
}

/*
 * Sends one request and checks the answer: it came, it is a 2xx, it is
 * JSON. On success fills *a (caller destroys it) and returns CLI_EXIT_OK;
 * otherwise prints one line and returns CLI_EXIT_FAIL with nothing to free.
 */
static int call(const struct cli_config *cfg, const char *method, const char *path,
                const char *body, const char *token, struct answer *a)
{
    char why[HTTP_WHY_BYTES];
    char shown[CLI_ERROR_SHOWN_BYTES];
    json_error_t jerr;
    struct http_request req = {.base_url = cfg->base_url,
                               .method = method,
                               .path = path,
                               .body = body,
                               .token = token,
                               .timeout_ms = cfg->timeout_ms};
    memset(a, 0, sizeof *a);
    if (http_request(&req, &a->resp, why) != 0) {
        fprintf(stderr, PROG ": cannot reach the node at %s: %s\n", cfg->api, why);
        return CLI_EXIT_FAIL;
    }
    if (a->resp.status < 200 || a->resp.status > 299) {
        long status = a->resp.status;
        fprintf(stderr, PROG ": the node at %s answered %s %s with HTTP %ld: %s%s\n", cfg->api,
                method, path, status, error_text(&a->resp, shown, sizeof shown),
                status == 401 || status == 403 ? " (check --token, API_TOKEN or the node's cookie)"
                                               : "");
        answer_destroy(a);
        return CLI_EXIT_FAIL;
    }
    a->json = json_loadb(a->resp.body, a->resp.len, 0, &jerr);
    if (a->json == NULL) {
        fprintf(stderr, PROG ": the node at %s answered %s %s with text that is not JSON: %s\n",
                cfg->api, method, path,
                text_clean(shown, sizeof shown, jerr.text, strlen(jerr.text)));
        answer_destroy(a);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

/* The answer to GET/POST path was JSON of another shape than `want`. */
static int bad_shape(const struct cli_config *cfg, const char *method, const char *path,
                     const json_t *got, const char *want)
{
    fprintf(stderr, PROG ": the node at %s answered %s %s with %s, not %s\n", cfg->api, method,
            path, json_type_name(got), want);
    return CLI_EXIT_FAIL;
}

/* The body as the node sent it, ending in one newline. */
static void print_raw(const struct http_response *resp)
{
    fwrite(resp->body, 1, resp->len, stdout);
    if (resp->len == 0 || resp->body[resp->len - 1] != '\n')
        fputc('\n', stdout);
}

/* A GET whose answer is printed raw or by show(); shape errors are exit 1. */
static int get_and_print(const struct cli_config *cfg, const char *path,
                         bool (*show)(FILE *, const json_t *), const char *want)
{
    struct answer a;
    int rc = call(cfg, "GET", path, NULL, NULL, &a);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (cfg->is_json)
        print_raw(&a.resp);
    else if (!show(stdout, a.json))
        rc = bad_shape(cfg, "GET", path, a.json, want);
    answer_destroy(&a);
    return rc;
}

static int cmd_health(const struct cli_config *cfg)
{
    struct answer a;
    int rc = call(cfg, "GET", "/health", NULL, NULL, &a);
    if (rc != CLI_EXIT_OK)
        return rc;
    const json_t *st = json_is_object(a.json) ? json_object_get(a.json, "status") : NULL;
    if (a.resp.status != 200 || !json_is_string(st) || strcmp(json_string_value(st), "ok") != 0) {
        fprintf(stderr,
                PROG ": the node at %s answered GET /health with HTTP %ld but not "
                     "{\"status\": \"ok\"}\n",
                cfg->api, a.resp.status);
        rc = CLI_EXIT_FAIL;
    } else if (cfg->is_json) {
        print_raw(&a.resp);
    }
    answer_destroy(&a);
    return rc;
}

/* blocks without --from: the latest `limit` blocks, so first the tip. */
static int latest_height(const struct cli_config *cfg, uint64_t *height)
{
    struct answer a;
    int rc = call(cfg, "GET", "/blocks/latest", NULL, NULL, &a);
    if (rc != CLI_EXIT_OK)
        return rc;
    const json_t *h = json_is_object(a.json) ? json_object_get(a.json, "height") : NULL;
    if (!json_is_integer(h) || json_integer_value(h) < 1) {
        fprintf(stderr,
                PROG ": the node at %s answered GET /blocks/latest without a block height\n",
                cfg->api);
        rc = CLI_EXIT_FAIL;
    } else {
        *height = (uint64_t)json_integer_value(h);
    }
    answer_destroy(&a);
    return rc;
}

static int cmd_blocks(const struct cli_config *cfg)
{
    char path[CLI_MAX_PATH_QUERY_BYTES];
    uint64_t from = cfg->from;
    if (!cfg->has_from) {
        uint64_t tip = 0;
        int rc = latest_height(cfg, &tip);
        if (rc != CLI_EXIT_OK)
            return rc;
        from = tip > cfg->limit ? tip - cfg->limit + 1 : 1;
    }
    snprintf(path, sizeof path, "/blocks?from=%" PRIu64 "&limit=%" PRIu64, from, cfg->limit);
    return get_and_print(cfg, path, print_block_lines, "an array of blocks");
}

static int cmd_block(const struct cli_config *cfg)
{
    char path[CLI_MAX_PATH_QUERY_BYTES];
    if (cfg->ref == REF_LATEST)
        snprintf(path, sizeof path, "/blocks/latest");
    else if (cfg->ref == REF_HEIGHT)
        snprintf(path, sizeof path, "/blocks/%" PRIu64, cfg->height);
    else
        snprintf(path, sizeof path, "/blocks/hash/%s", cfg->hash);
    return get_and_print(cfg, path, print_block, "a block object");
}

static bool print_verbose_peers(FILE *out, const json_t *v)
{
    return print_peers(out, v, true);
}

static bool print_plain_peers(FILE *out, const json_t *v)
{
    return print_peers(out, v, false);
}

/* A POST with the token; the answer must be an object. */
static int post(struct cli_config *cfg, const char *path, json_t *body, struct answer *a)
{
    const char *token = config_token(cfg, stderr);
    if (token == NULL)
        return CLI_EXIT_FAIL;
    char *text = json_dumps(body, JSON_COMPACT);
    if (text == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return CLI_EXIT_FAIL;
    }
    int rc = call(cfg, "POST", path, text, token, a);
    free(text);
    if (rc == CLI_EXIT_OK && !json_is_object(a->json)) {
        rc = bad_shape(cfg, "POST", path, a->json, "an object");
        answer_destroy(a);
    }
    return rc;
}

static int cmd_mine(struct cli_config *cfg)
{
    struct answer a;
    json_t *data = json_array();
    json_t *body = json_object();
    int rc = CLI_EXIT_FAIL;
    if (data == NULL || body == NULL || json_object_set(body, "data", data) != 0)
        goto nomem;
    for (size_t i = 0; i < cfg->n_data; i++) /* UTF-8 was checked by config_parse */
        if (json_array_append_new(data, json_stringn(cfg->data[i], strlen(cfg->data[i]))) != 0)
            goto nomem;
    rc = post(cfg, "/mineBlock", body, &a);
    if (rc == CLI_EXIT_OK) {
        if (cfg->is_json)
            print_raw(&a.resp);
        else
            print_block(stdout, a.json);
        answer_destroy(&a);
    }
    goto out;
nomem:
    fprintf(stderr, PROG ": out of memory\n");
out:
    json_decref(body);
    json_decref(data);
    return rc;
}

static int cmd_addpeer(struct cli_config *cfg)
{
    struct answer a;
    char peer[CLI_MAX_PEER_BYTES + 8], status[64];
    json_t *body = json_pack("{s:s}", "peer", cfg->peer);
    if (body == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return CLI_EXIT_FAIL;
    }
    int rc = post(cfg, "/addPeer", body, &a);
    json_decref(body);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (cfg->is_json) {
        print_raw(&a.resp);
    } else {
        const json_t *p = json_object_get(a.json, "peer");
        const json_t *s = json_object_get(a.json, "status");
        text_clean(peer, sizeof peer, cfg->peer, strlen(cfg->peer));
        if (json_is_string(p))
            text_clean(peer, sizeof peer, json_string_value(p), json_string_length(p));
        if (json_is_string(s))
            text_clean(status, sizeof status, json_string_value(s), json_string_length(s));
        else
            snprintf(status, sizeof status, "added");
        printf("%s: %s\n", peer, status);
    }
    answer_destroy(&a);
    return rc;
}

static int run(struct cli_config *cfg)
{
    switch (cfg->cmd) {
    case CMD_STATUS:
        return get_and_print(cfg, "/status", print_status, "an object");
    case CMD_HEALTH:
        return cmd_health(cfg);
    case CMD_BLOCKS:
        return cmd_blocks(cfg);
    case CMD_BLOCK:
        return cmd_block(cfg);
    case CMD_MINE:
        return cmd_mine(cfg);
    case CMD_PEERS:
        return cfg->is_verbose
                   ? get_and_print(cfg, "/peers?verbose=1", print_verbose_peers, "an array")
                   : get_and_print(cfg, "/peers", print_plain_peers, "an array");
    case CMD_ADDPEER:
        return cmd_addpeer(cfg);
    }
    return CLI_EXIT_USAGE;
}

/* A full disk or a closed pipe must not pass for success. */
static int flush_stdout(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, PROG ": cannot write the output: %s\n", strerror(errno));
        return rc == CLI_EXIT_OK ? CLI_EXIT_FAIL : rc;
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct cli_config cfg;
    enum config_result r = config_parse(argc, argv, &cfg, stdout, stderr);
    if (r == CONFIG_EXIT_OK)
        return flush_stdout(CLI_EXIT_OK);
    if (r != CONFIG_RUN)
        return CLI_EXIT_USAGE;
    if (http_global_init() != 0) {
        fprintf(stderr, PROG ": cannot start libcurl\n");
        return CLI_EXIT_FAIL;
    }
    int rc = run(&cfg);
    http_global_cleanup();
    return flush_stdout(rc);
}
