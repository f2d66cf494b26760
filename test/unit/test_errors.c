/*
 * Unit tests for errors.c: every code has a message and a unique stable
 * kebab-case name, unknown codes are handled, and pc_err_set keeps its
 * promises (one line, never empty, returns the code, accepts NULL).
 */
#include <ctype.h>
#include <string.h>

#include "check.h"
#include "peerchain/errors.h"

/* Names are part of the wire protocol: pin the ones docs/protocol.md and
 * peers rely on. */
static const struct {
    int code;
    const char *name;
} pinned[] = {
    {PC_OK, "ok"},
    {PC_E_MERKLE, "bad-merkle-root"},
    {PC_E_PROTOCOL, "protocol"},
    {PC_E_NETWORK, "wrong-network"},
    {PC_E_SELF, "self-connection"},
    {PC_E_BANNED, "banned"},
    {PC_E_TIMEOUT, "timeout"},
    {PC_E_FRAME_TOO_LARGE, "frame-too-large"},
    {PC_E_LIMIT, "limit"},
    {PC_E_LESS_WORK, "less-work"},
    {PC_E_TIME_OLD, "time-too-old"},
    {PC_E_TIME_FUTURE, "time-too-new"},
    {PC_E_POW, "bad-proof-of-work"},
};

static int is_kebab(const char *s)
{
    if (!*s || *s == '-')
        return 0;
    for (; *s; s++) {
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-'))
            return 0;
        if (s[0] == '-' && (s[1] == '-' || s[1] == '\0'))
            return 0;
    }
    return 1;
}

int main(void)
{
    struct pc_err err;
    char longarg[400];

    for (int c = PC_OK; c >= PC_E_CORRUPT; c--) {
        const char *name = pc_errname(c);
        const char *msg = pc_strerror(c);
        CHECK(name && is_kebab(name));
        CHECK(msg && *msg && strcmp(msg, "unknown error") != 0);
        CHECK(strcmp(name, "unknown") != 0);
        for (int d = c - 1; d >= PC_E_CORRUPT; d--)
            CHECK(strcmp(name, pc_errname(d)) != 0);
    }
    for (size_t i = 0; i < sizeof pinned / sizeof pinned[0]; i++)
        CHECK_EQ_STR(pc_errname(pinned[i].code), pinned[i].name);
    CHECK_EQ_STR(pc_errname(PC_E_CORRUPT - 1), "unknown");
    CHECK_EQ_STR(pc_errname(1), "unknown");
    CHECK_EQ_STR(pc_errname(-2147483647 - 1), "unknown");
    CHECK_EQ_STR(pc_strerror(PC_E_CORRUPT - 1), "unknown error");
    CHECK_EQ_STR(pc_strerror(42), "unknown error");

    CHECK_EQ_INT(pc_err_set(&err, PC_E_HEIGHT, "block %d: x", 17), PC_E_HEIGHT);
    CHECK_EQ_INT(err.code, PC_E_HEIGHT);
    CHECK_EQ_STR(err.reason, "block 17: x");
    CHECK_EQ_INT(pc_err_set(NULL, PC_E_HASH, "ignored"), PC_E_HASH);
    /* Never empty on failure. */
    CHECK_EQ_INT(pc_err_set(&err, PC_E_POW, "%s", ""), PC_E_POW);
    CHECK_EQ_STR(err.reason, pc_strerror(PC_E_POW));
    /* One line. */
    pc_err_set(&err, PC_E_JSON, "a\nb\rc");
    CHECK_EQ_STR(err.reason, "a b c");
    /* Truncated, still terminated. */
    memset(longarg, 'x', sizeof longarg - 1);
    longarg[sizeof longarg - 1] = '\0';
    pc_err_set(&err, PC_E_JSON, "%s", longarg);
    CHECK_EQ_INT(strlen(err.reason), PC_ERR_REASON_BYTES - 1);
    return check_summary();
}
