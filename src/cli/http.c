/*
 * One HTTP exchange over libcurl's easy interface (see http.h). The answer
 * goes into a buffer that grows by doubling up to HTTP_MAX_RESPONSE_BYTES;
 * curl's own size check stops an answer that announces a larger length
 * before any of it is read, and the write callback stops one that does not.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "peerchain/peerchain.h"

#include "http.h"

#define HTTP_MAX_URL_BYTES 2048u
#define HTTP_MAX_HEADER_BYTES 320u
#define HTTP_FIRST_BUFFER_BYTES 16384u

/* The answer as it arrives. */
struct sink {
    char *buf;
    size_t len, cap;
    bool is_too_large;
    bool is_out_of_memory;
};

static size_t sink_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb; /* curl documents size as always 1 */
    if (n > HTTP_MAX_RESPONSE_BYTES - s->len) {
        s->is_too_large = true;
        return 0; /* anything but n aborts the transfer */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : HTTP_FIRST_BUFFER_BYTES;
        while (cap < s->len + n + 1)
            cap *= 2;
        if (cap > HTTP_MAX_RESPONSE_BYTES + 1u)
            cap = HTTP_MAX_RESPONSE_BYTES + 1u;
        char *p = realloc(s->buf, cap);
        if (p == NULL) {
            s->is_out_of_memory = true;
            return 0;
        }
        s->buf = p;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    return n;
}

int http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void http_global_cleanup(void)
{
    curl_global_cleanup();
}

void http_response_destroy(struct http_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->len = 0;
}

/* Copies s into why as one line: control characters become spaces, a
 * trailing newline goes. */
static void set_why(char why[HTTP_WHY_BYTES], const char *s)
{
    snprintf(why, HTTP_WHY_BYTES, "%s", s);
    for (char *p = why; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    size_t n = strlen(why);
    while (n > 0 && why[n - 1] == ' ')
        why[--n] = '\0';
}

/* A one-line reason for a failed transfer, in the words a user needs. */
static void explain(CURL *h, CURLcode rc, const struct sink *s, const char *errbuf, long timeout_ms,
                    char why[HTTP_WHY_BYTES])
{
    long os_errno = 0;
    char buf[HTTP_WHY_BYTES];
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        if (curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK &&
            os_errno == ECONNREFUSED) {
            set_why(why, "connection refused");
        } else if (os_errno != 0) {
            snprintf(buf, sizeof buf, "cannot connect: %s", strerror((int)os_errno));
            set_why(why, buf);
        } else {
            snprintf(buf, sizeof buf, "cannot connect: %s", errbuf[0] ? errbuf : "unknown reason");
            set_why(why, buf);
        }
        return;
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(buf, sizeof buf, "timed out after %ld ms (see --timeout-ms)", timeout_ms);
        set_why(why, buf);
        return;
    case CURLE_COULDNT_RESOLVE_HOST:
        set_why(why, "cannot resolve the host name");
        return;
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_WRITE_ERROR:
        if (rc == CURLE_FILESIZE_EXCEEDED || s->is_too_large) {
            snprintf(buf, sizeof buf, "the answer is larger than %u MiB",
                     HTTP_MAX_RESPONSE_BYTES / (1024u * 1024u));
            set_why(why, buf);
            return;
        }
        if (s->is_out_of_memory) {
            set_why(why, "out of memory reading the answer");
            return;
        }
        break;
    case CURLE_GOT_NOTHING:
        set_why(why, "the connection closed without an answer");
        return;
    default:
        break;
    }
    set_why(why, errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

/* Sets every option of one exchange; CURLE_OK or the first failure. */
static CURLcode setup(CURL *h, const struct http_request *req, const char *url,
                      struct curl_slist *headers, struct sink *s, char *errbuf)
{
    CURLcode c = curl_easy_setopt(h, CURLOPT_URL, url);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_PROXY, ""); /* "" disables proxies, env included */
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, req->timeout_ms);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_MAX_RESPONSE_BYTES);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_USERAGENT, "peerchain-cli/" PC_VERSION_STRING);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
    if (c == CURLE_OK)
        c = curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    if (c == CURLE_OK && req->body != NULL) {
        c = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(req->body));
        if (c == CURLE_OK)
            c = curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
    }
    if (c == CURLE_OK && strcmp(req->method, "GET") != 0)
        c = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    return c;
}

/* Appends one header line; false on allocation failure (*list is kept). */
static bool add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);
    if (l == NULL)
        return false;
    *list = l;
    return true;
}

static bool build_headers(const struct http_request *req, struct curl_slist **list)
{
    char auth[HTTP_MAX_HEADER_BYTES];
    if (!add_header(list, "Accept: application/json"))
        return false;
    /* curl would otherwise wait for "100 Continue" before a larger body. */
    if (req->body != NULL &&
        (!add_header(list, "Content-Type: application/json") || !add_header(list, "Expect:")))
        return false;
    if (req->token != NULL) {
        int n = snprintf(auth, sizeof auth, "Authorization: Bearer %s", req->token);
        if (n < 0 || (size_t)n >= sizeof auth || !add_header(list, auth))
            return false;
    }
    return true;
}

int http_request(const struct http_request *req, struct http_response *resp,
                 char why[HTTP_WHY_BYTES])
{
    char url[HTTP_MAX_URL_BYTES];
    char errbuf[CURL_ERROR_SIZE];
    struct sink s = {0};
    struct curl_slist *headers = NULL;
    CURL *h = NULL;
    int rc = -1;

    memset(resp, 0, sizeof *resp);
    errbuf[0] = '\0';
    int n = snprintf(url, sizeof url, "%s%s", req->base_url, req->path);
    if (n < 0 || (size_t)n >= sizeof url) {
        set_why(why, "the request URL is too long");
        goto out;
    }
    if (!build_headers(req, &headers)) {
        set_why(why, "out of memory building the request");
        goto out;
    }
    h = curl_easy_init();
    if (h == NULL) {
        set_why(why, "cannot start libcurl");
        goto out;
    }
    CURLcode c = setup(h, req, url, headers, &s, errbuf);
    if (c != CURLE_OK) {
        set_why(why, curl_easy_strerror(c));
        goto out;
    }
    c = curl_easy_perform(h);
    if (c != CURLE_OK) {
        explain(h, c, &s, errbuf, req->timeout_ms, why);
        goto out;
    }
    if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status) != CURLE_OK) {
        set_why(why, "no HTTP status in the answer");
        goto out;
    }
    if (s.buf == NULL) { /* an empty body: still hand back a string */
        s.buf = malloc(1);
        if (s.buf == NULL) {
            set_why(why, "out of memory reading the answer");
            goto out;
        }
    }
    s.buf[s.len] = '\0';
    resp->body = s.buf;
    resp->len = s.len;
    s.buf = NULL;
    rc = 0;
out:
    free(s.buf);
    if (h != NULL)
        curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    return rc;
}
