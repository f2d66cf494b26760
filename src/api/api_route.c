/*
 * Routes and strict parsing for the HTTP API (see api_route.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_route.h"

struct route_def {
    const char *path; /* exact, or a prefix ending in '/' when has_arg */
    bool has_arg;     /* one more non-empty segment follows the prefix */
    bool is_post;
    enum api_route route;
};

/* Exact paths before prefixes: /blocks/latest and /blocks/hash/x must win
 * over /blocks/{height}. */
static const struct route_def routes[] = {
    {"/blocks", false, false, API_BLOCKS},
    {"/blocks/latest", false, false, API_BLOCKS_LATEST},
    {"/blocks/hash/", true, false, API_BLOCK_HASH},
    {"/blocks/", true, false, API_BLOCK_HEIGHT},
    {"/mineBlock", false, true, API_MINE_BLOCK},
    {"/peers", false, false, API_PEERS},
    {"/addPeer", false, true, API_ADD_PEER},
    {"/status", false, false, API_STATUS},
    {"/health", false, false, API_HEALTH},
    {"/metrics", false, false, API_METRICS},
};

static bool path_matches(const struct route_def *r, const char *path, const char **arg)
{
    size_t n = strlen(r->path);
    if (!r->has_arg)
        return strcmp(path, r->path) == 0;
    if (strncmp(path, r->path, n) != 0 || path[n] == '\0' || strchr(path + n, '/') != NULL)
        return false;
    *arg = path + n;
    return true;
}

void api_route_match(const char *method, const char *path, struct api_match *m)
{
    memset(m, 0, sizeof *m);
    m->status = 404;
    if (method == NULL || path == NULL)
        return;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route_def *r = &routes[i];
        const char *arg = NULL;
        if (!path_matches(r, path, &arg))
            continue;
        m->route = r->route;
        m->is_post = r->is_post;
        m->arg = arg;
        m->allow = r->is_post ? "POST" : "GET, HEAD";
        bool is_ok = r->is_post ? strcmp(method, "POST") == 0
                                : strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        m->status = is_ok ? 0 : 405;
        return;
    }
}

bool api_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (s == NULL || s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0'))
        return false;
    uint64_t v = 0;
    size_t i = 0;
    for (; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 16)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool api_parse_hash(const char *s, pc_hash *out)
{
    return s != NULL && strlen(s) == PC_HASH_HEX_CHARS &&
           pc_hash_from_hex(s, PC_HASH_HEX_CHARS, out) == 0;
}

bool api_parse_bool(const char *s, bool dflt, bool *out)
{
    if (s == NULL)
        *out = dflt;
    else if (strcmp(s, "1") == 0 || strcmp(s, "true") == 0)
        *out = true;
    else if (strcmp(s, "0") == 0 || strcmp(s, "false") == 0)
        *out = false;
    else
        return false;
    return true;
}

const char *api_bearer_token(const char *value, size_t *len)
{
    static const char scheme[] = "Bearer";
    size_t n = sizeof scheme - 1;
    if (value == NULL || strncasecmp(value, scheme, n) != 0 || value[n] != ' ')
        return NULL;
    const char *t = value + n;
    while (*t == ' ')
        t++;
    size_t k = strcspn(t, " \t");
    if (k == 0 || t[k] != '\0')
        return NULL;
    *len = k;
    return t;
}

bool api_peer_target(const char *s, char *out, size_t out_bytes)
{
    if (s == NULL)
        return false;
    if (strncasecmp(s, "ws://", 5) == 0)
        s += 5;
    size_t n = strlen(s);
    if (n > 0 && s[n - 1] == '/')
        n--;
    if (n == 0 || n >= out_bytes)
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

bool api_buf_add(struct api_buf *b, const char *data, size_t n)
{
    if (n > b->limit - b->len)
        return false;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : b->limit < 256 ? b->limit : 256;
        while (cap < b->len + n)
            cap = cap > b->limit / 2 ? b->limit : cap * 2;
        char *nd = realloc(b->data, cap);
        if (nd == NULL)
            return false;
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return true;
}

bool api_buf_printf(struct api_buf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < sizeof line && api_buf_add(b, line, (size_t)n);
}

void api_buf_free(struct api_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
