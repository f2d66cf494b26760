/*
 * The HTTP API's pure helpers (src/api/api_route.c): routes, strict numbers,
 * hashes, booleans, bearer tokens, addPeer targets and the capped buffer.
 * Table-driven: one row per case.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_route.h"
#include "check.h"

static void test_routes(void)
{
    static const struct {
        const char *method, *path;
        int status;
        enum api_route route;
        const char *arg;
    } rows[] = {
        {"GET", "/blocks", 0, API_BLOCKS, NULL},
        {"HEAD", "/blocks", 0, API_BLOCKS, NULL},
        {"GET", "/blocks/latest", 0, API_BLOCKS_LATEST, NULL},
        {"GET", "/blocks/12", 0, API_BLOCK_HEIGHT, "12"},
        {"GET", "/blocks/abc", 0, API_BLOCK_HEIGHT, "abc"},
        {"GET", "/blocks/hash/00ff", 0, API_BLOCK_HASH, "00ff"},
        {"GET", "/blocks/hash", 0, API_BLOCK_HEIGHT, "hash"},
        {"GET", "/blocks/hash/", 404, 0, NULL},
        {"GET", "/blocks/", 404, 0, NULL},
        {"GET", "/blocks/1/2", 404, 0, NULL},
        {"GET", "/blocks/hash/a/b", 404, 0, NULL},
        {"GET", "/blocks/", 404, 0, NULL},
        {"GET", "/status", 0, API_STATUS, NULL},
        {"GET", "/status/", 404, 0, NULL},
        {"GET", "/Status", 404, 0, NULL},
        {"GET", "/health", 0, API_HEALTH, NULL},
        {"GET", "/metrics", 0, API_METRICS, NULL},
        {"GET", "/peers", 0, API_PEERS, NULL},
        {"POST", "/mineBlock", 0, API_MINE_BLOCK, NULL},
        {"POST", "/addPeer", 0, API_ADD_PEER, NULL},
        {"GET", "/mineBlock", 405, API_MINE_BLOCK, NULL},
        {"PUT", "/addPeer", 405, API_ADD_PEER, NULL},
        {"POST", "/status", 405, API_STATUS, NULL},
        {"DELETE", "/blocks/3", 405, API_BLOCK_HEIGHT, "3"},
        {"GET", "/", 404, 0, NULL},
        {"GET", "", 404, 0, NULL},
        {"GET", "//blocks", 404, 0, NULL},
        {"get", "/status", 405, API_STATUS, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct api_match m;
        api_route_match(rows[i].method, rows[i].path, &m);
        CHECK_EQ_INT(m.status, rows[i].status);
        if (rows[i].status == 404)
            continue;
        CHECK_EQ_INT(m.route, rows[i].route);
        CHECK(m.allow != NULL);
        if (rows[i].arg != NULL)
            CHECK_EQ_STR(m.arg, rows[i].arg);
    }
    struct api_match m;
    api_route_match(NULL, "/status", &m);
    CHECK_EQ_INT(m.status, 404);
    api_route_match("POST", "/mineBlock", &m);
    CHECK(m.is_post);
    CHECK_EQ_STR(m.allow, "POST");
    api_route_match("GET", "/status", &m);
    CHECK(!m.is_post);
    CHECK_EQ_STR(m.allow, "GET, HEAD");
}

static void test_uint(void)
{
    static const struct {
        const char *s;
        uint64_t lo, hi;
        bool ok;
        uint64_t v;
    } rows[] = {
        {"1", 1, 100, true, 1},
        {"100", 1, 100, true, 100},
        {"101", 1, 100, false, 0},
        {"0", 1, 100, false, 0},
        {"0", 0, 100, true, 0},
        {"01", 0, 100, false, 0},
        {"", 0, 100, false, 0},
        {"-1", 0, 100, false, 0},
        {"+1", 0, 100, false, 0},
        {" 1", 0, 100, false, 0},
        {"1 ", 0, 100, false, 0},
        {"1e3", 0, 10000, false, 0},
        {"0x10", 0, 100, false, 0},
        {"9007199254740991", 1, 9007199254740991ull, true, 9007199254740991ull},
        {"9007199254740992", 1, 9007199254740991ull, false, 0},
        {"9999999999999999", 0, UINT64_MAX, true, 9999999999999999ull},
        {"99999999999999999", 0, UINT64_MAX, false, 0},
        {"18446744073709551616", 0, UINT64_MAX, false, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t v = 12345;
        bool ok = api_parse_uint(rows[i].s, rows[i].lo, rows[i].hi, &v);
        CHECK_EQ_INT(ok, rows[i].ok);
        CHECK(ok ? v == rows[i].v : v == 12345);
    }
    uint64_t v;
    CHECK(!api_parse_uint(NULL, 0, 10, &v));
}

static void test_hash(void)
{
    pc_hash h;
    char hex[65];
    memset(hex, 'a', 64);
    hex[64] = '\0';
    CHECK(api_parse_hash(hex, &h));
    CHECK_EQ_INT(h.b[0], 0xaa);
    hex[10] = 'A';
    CHECK(!api_parse_hash(hex, &h));
    hex[10] = 'g';
    CHECK(!api_parse_hash(hex, &h));
    hex[10] = '0';
    hex[63] = '\0';
    CHECK(!api_parse_hash(hex, &h));
    CHECK(!api_parse_hash("", &h));
    CHECK(!api_parse_hash(NULL, &h));
}

static void test_bool(void)
{
    bool b = false;
    CHECK(api_parse_bool(NULL, true, &b) && b);
    CHECK(api_parse_bool("1", false, &b) && b);
    CHECK(api_parse_bool("true", false, &b) && b);
    CHECK(api_parse_bool("0", true, &b) && !b);
    CHECK(api_parse_bool("false", true, &b) && !b);
    CHECK(!api_parse_bool("", false, &b));
    CHECK(!api_parse_bool("yes", false, &b));
    CHECK(!api_parse_bool("TRUE", false, &b));
}

static void test_bearer(void)
{
    static const struct {
        const char *value, *token;
    } rows[] = {
        {"Bearer abc", "abc"},
        {"bearer abc", "abc"},
        {"BEARER   abc", "abc"},
        {"Bearer", NULL},
        {"Bearer ", NULL},
        {"Bearerabc", NULL},
        {"Basic abc", NULL},
        {"Bearer abc def", NULL},
        {"Bearer abc ", NULL},
        {"Bearer a\tb", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t len = 0;
        const char *t = api_bearer_token(rows[i].value, &len);
        if (rows[i].token == NULL) {
            CHECK(t == NULL);
        } else {
            CHECK(t != NULL && len == strlen(rows[i].token) && memcmp(t, rows[i].token, len) == 0);
        }
    }
    size_t len;
    CHECK(api_bearer_token(NULL, &len) == NULL);
}

static void test_peer_target(void)
{
    static const struct {
        const char *in, *out;
    } rows[] = {
        {"127.0.0.1:6001", "127.0.0.1:6001"},
        {"ws://127.0.0.1:6001", "127.0.0.1:6001"},
        {"WS://localhost:6001/", "localhost:6001"},
        {"[::1]:6001", "[::1]:6001"},
        {"ws://", NULL},
        {"", NULL},
        {"/", NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[32];
        bool ok = api_peer_target(rows[i].in, out, sizeof out);
        CHECK_EQ_INT(ok, rows[i].out != NULL);
        if (ok && rows[i].out != NULL)
            CHECK_EQ_STR(out, rows[i].out);
    }
    char small[8];
    CHECK(!api_peer_target("127.0.0.1:6001", small, sizeof small));
    CHECK(!api_peer_target(NULL, small, sizeof small));
}

static void test_buf(void)
{
    struct api_buf b = {.limit = 10};
    CHECK(api_buf_add(&b, "hello", 5));
    CHECK(api_buf_printf(&b, "%d", 12345));
    CHECK_EQ_INT(b.len, 10);
    CHECK(!api_buf_add(&b, "x", 1));
    CHECK(!api_buf_printf(&b, "y"));
    CHECK_EQ_INT(b.len, 10);
    CHECK(memcmp(b.data, "hello12345", 10) == 0);
    CHECK(b.cap <= b.limit);
    api_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0);
    struct api_buf big = {.limit = 1u << 20};
    char chunk[1000];
    memset(chunk, 'z', sizeof chunk);
    size_t added = 0;
    while (api_buf_add(&big, chunk, sizeof chunk))
        added += sizeof chunk;
    CHECK_EQ_INT(added, ((1u << 20) / 1000) * 1000);
    CHECK(big.cap <= big.limit);
    api_buf_free(&big);
}

int main(void)
{
    test_routes();
    test_uint();
    test_hash();
    test_bool();
    test_bearer();
    test_peer_target();
    test_buf();
    return check_summary();
}
