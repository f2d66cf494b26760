/*
 * peerchain-stress: libcurl client for the node's HTTP API. See web.h.
 */
#include "web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

int web_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void web_global_cleanup(void)
{
    curl_global_cleanup();
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct web *w = arg;
    size_t n = size * nmemb;
    if (w->len + n + 1 > WEB_MAX_BODY_BYTES)
        return 0; /* libcurl reports a write error: the answer is too large */
    if (w->len + n + 1 > w->cap) {
        size_t ncap = w->cap ? w->cap : 4096;
        while (ncap < w->len + n + 1)
            ncap *= 2;
        char *nb = realloc(w->body, ncap);
        if (nb == NULL)
            return 0;
        w->body = nb;
        w->cap = ncap;
    }
    memcpy(w->body + w->len, data, n);
    w->len += n;
    w->body[w->len] = '\0';
    return n;
}

int web_init(struct web *w, const char *token)
{
    memset(w, 0, sizeof *w);
    CURL *c = curl_easy_init();
    if (c == NULL)
        return -1;
    w->curl = c;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (h == NULL)
        return -1;
    w->hdrs = h;
    if (token != NULL) {
        char line[320];
        snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        struct curl_slist *h2 = curl_slist_append(h, line);
        if (h2 == NULL)
            return -1;
        w->hdrs = h2;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, (struct curl_slist *)w->hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never through an http_proxy */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    return 0;
}

void web_destroy(struct web *w)
{
    if (w->curl != NULL)
        curl_easy_cleanup(w->curl);
    curl_slist_free_all(w->hdrs);
    free(w->body);
    memset(w, 0, sizeof *w);
}

static int perform(struct web *w, const char *url, long timeout_ms)
{
    CURL *c = w->curl;
    w->len = 0;
    w->status = 0;
    if (w->body != NULL)
        w->body[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        snprintf(w->err, sizeof w->err, "%s: %s", url, curl_easy_strerror(rc));
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &w->status);
    return 0;
}

int web_get(struct web *w, const char *url, long timeout_ms)
{
    curl_easy_setopt(w->curl, CURLOPT_HTTPGET, 1L);
    return perform(w, url, timeout_ms);
}

int web_post(struct web *w, const char *url, const char *body, long timeout_ms)
{
    curl_easy_setopt(w->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
    return perform(w, url, timeout_ms);
}

double web_metric(const char *text, const char *sample)
{
    size_t n = strlen(sample);
    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, sample, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

json_t *web_node_json(int api_port, const char *path)
{
    struct web w;
    char url[128];
    json_t *j = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", api_port, path);
    if (web_init(&w, NULL) == 0 && web_get(&w, url, 5000) == 0 && w.status == 200)
        j = json_loadb(w.body, w.len, 0, NULL);
    web_destroy(&w);
    return j;
}

double web_node_metric(int api_port, const char *sample)
{
    struct web w;
    char url[128];
    double v = -1;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", api_port);
    if (web_init(&w, NULL) == 0 && web_get(&w, url, 5000) == 0 && w.status == 200)
        v = web_metric(w.body, sample);
    web_destroy(&w);
    return v;
}
