/*
 * Peer address parsing and formatting (src/node/addr.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"
#include "check.h"

static void test_parse_table(void)
{
    /* clang-format off */
    static const struct {
        const char *in;
        int code;
        const char *host;
        int port;
        const char *canon;
    } rows[] = {
        {"127.0.0.1:8555", 0, "127.0.0.1", 8555, "127.0.0.1:8555"},
        {"localhost:1", 0, "localhost", 1, "localhost:1"},
        {"node-1.example.org:65535", 0, "node-1.example.org", 65535, "node-1.example.org:65535"},
        {"peer_2:8555", 0, "peer_2", 8555, "peer_2:8555"},
        {"[::1]:8555", 0, "::1", 8555, "[::1]:8555"},
        {"[2001:db8::7]:9", 0, "2001:db8::7", 9, "[2001:db8::7]:9"},
        {"[::ffff:127.0.0.1]:80", 0, "::ffff:127.0.0.1", 80, "[::ffff:127.0.0.1]:80"},
        {"ws://127.0.0.1:6001", 0, "127.0.0.1", 6001, "127.0.0.1:6001"},
        {"ws://seed.local:6001/", 0, "seed.local", 6001, "seed.local:6001"},
        {"ws://[::1]:6001", 0, "::1", 6001, "[::1]:6001"},
        /* bad */
        {"", -2, NULL, 0, NULL},
        {":8555", -2, NULL, 0, NULL},
        {"host", -2, NULL, 0, NULL},
        {"host:", -2, NULL, 0, NULL},
        {"host:0", -2, NULL, 0, NULL},
        {"host:65536", -2, NULL, 0, NULL},
        {"host:99999999999", -2, NULL, 0, NULL},
        {"host:-1", -2, NULL, 0, NULL},
        {"host:+80", -2, NULL, 0, NULL},
        {"host:080", -2, NULL, 0, NULL},
        {"host:80x", -2, NULL, 0, NULL},
        {"host: 80", -2, NULL, 0, NULL},
        {"host:8555:1", -2, NULL, 0, NULL},
        {"::1:8555", -2, NULL, 0, NULL},
        {"[::1]", -2, NULL, 0, NULL},
        {"[::1]8555", -2, NULL, 0, NULL},
        {"[::1:8555", -2, NULL, 0, NULL},
        {"[]:8555", -2, NULL, 0, NULL},
        {"[notv6]:8555", -2, NULL, 0, NULL},
        {"[127.0.0.1]:8555", -2, NULL, 0, NULL},
        {"ho st:80", -2, NULL, 0, NULL},
        {"host/x:80", -2, NULL, 0, NULL},
        {"h\xc3\xa9:80", -2, NULL, 0, NULL},
        {"ws://", -2, NULL, 0, NULL},
        {"http://host:80", -2, NULL, 0, NULL},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct addr_target t;
        struct pc_err err = {0};
        int r = addr_parse(rows[i].in, &t, &err);
        if (r != rows[i].code)
            fprintf(stderr, "row %zu (%s): got %d\n", i, rows[i].in, r);
        CHECK_EQ_INT(r, rows[i].code);
        if (r != 0) {
            CHECK(err.code == r && err.reason[0] != '\0');
            continue;
        }
        CHECK_EQ_STR(t.host, rows[i].host);
        CHECK_EQ_INT(t.port_num, rows[i].port);
        char canon[ADDR_TARGET_BYTES];
        addr_target_format(&t, canon);
        CHECK_EQ_STR(canon, rows[i].canon);
    }
    CHECK_EQ_INT(addr_parse(NULL, &(struct addr_target){0}, NULL), -2);
}

static void test_lengths(void)
{
    char s[600];
    struct addr_target t;
    /* a 253-byte host is fine, 254 is not */
    memset(s, 'a', 253);
    strcpy(s + 253, ":80");
    CHECK_EQ_INT(addr_parse(s, &t, NULL), 0);
    CHECK_EQ_INT(strlen(t.host), 253);
    memset(s, 'a', 254);
    strcpy(s + 254, ":80");
    CHECK_EQ_INT(addr_parse(s, &t, NULL), -2);
    /* an input longer than ADDR_MAX_INPUT is refused before parsing */
    memset(s, 'a', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    CHECK_EQ_INT(addr_parse(s, &t, NULL), -2);
}

static void test_sockaddr(void)
{
    char ip[ADDR_IP_BYTES], str[ADDR_STR_BYTES];
    int port = 0;
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(4242)};
    inet_pton(AF_INET, "127.0.0.9", &s4.sin_addr);
    CHECK_EQ_INT(addr_from_sockaddr((struct sockaddr *)&s4, sizeof s4, ip, str, &port), 0);
    CHECK_EQ_STR(ip, "127.0.0.9");
    CHECK_EQ_STR(str, "127.0.0.9:4242");
    CHECK_EQ_INT(port, 4242);

    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(8555)};
    inet_pton(AF_INET6, "::1", &s6.sin6_addr);
    CHECK_EQ_INT(addr_from_sockaddr((struct sockaddr *)&s6, sizeof s6, ip, str, &port), 0);
    CHECK_EQ_STR(ip, "::1");
    CHECK_EQ_STR(str, "[::1]:8555");

    /* IPv4-mapped: one remote, one name (bans are keyed on it) */
    inet_pton(AF_INET6, "::ffff:10.1.2.3", &s6.sin6_addr);
    CHECK_EQ_INT(addr_from_sockaddr((struct sockaddr *)&s6, sizeof s6, ip, str, NULL), 0);
    CHECK_EQ_STR(ip, "10.1.2.3");
    CHECK_EQ_STR(str, "10.1.2.3:8555");

    /* short length or unknown family */
    CHECK_EQ_INT(addr_from_sockaddr((struct sockaddr *)&s6, sizeof s4, ip, str, NULL), -2);
    struct sockaddr sa = {.sa_family = AF_UNIX};
    CHECK_EQ_INT(addr_from_sockaddr(&sa, sizeof sa, ip, str, NULL), -2);

    addr_join("2001:db8::1", 1, str);
    CHECK_EQ_STR(str, "[2001:db8::1]:1");
    addr_join("1.2.3.4", 65535, str);
    CHECK_EQ_STR(str, "1.2.3.4:65535");
}

int main(void)
{
    test_parse_table();
    test_lengths();
    test_sockaddr();
    return check_summary();
}
