/*
 * Unit tests for the canonical decimal helper (src/core/decimal.c), which
 * both the preimage and the miner's inner loop use: compared with printf
 * at every digit-count boundary and on a spread of values.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "core/decimal.h"

static void check_one(uint64_t v)
{
    char want[32], got[DECIMAL_U64_MAX_CHARS + 1];
    size_t n = decimal_u64(v, got);

    got[n] = '\0';
    snprintf(want, sizeof want, "%" PRIu64, v);
    CHECK_EQ_STR(got, want);
    CHECK_EQ_INT(n, strlen(want));
}

int main(void)
{
    uint64_t p = 1;

    check_one(0);
    check_one(UINT64_MAX);
    check_one(9007199254740991u); /* 2^53 - 1 */
    check_one(9007199254740992u);
    /* Each power of ten and its neighbours: where the digit count changes. */
    for (int i = 0; i < 20; i++) {
        check_one(p - 1);
        check_one(p);
        check_one(p + 1);
        if (i < 19)
            p *= 10;
    }
    /* A spread of values (a simple LCG, deterministic). */
    for (uint64_t x = 1, i = 0; i < 10000; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        check_one(x);
        check_one(x >> (i % 64));
    }
    return check_summary();
}
