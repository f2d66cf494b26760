/*
 * Canonical decimal formatting (see decimal.h).
 *
 * The miner calls this once per hash attempt, so it avoids snprintf (locale,
 * format parsing) and divides once per two digits using a pair table.
 */
#include "decimal.h"

static const char decimal_pairs[201] = "00010203040506070809"
                                       "10111213141516171819"
                                       "20212223242526272829"
                                       "30313233343536373839"
                                       "40414243444546474849"
                                       "50515253545556575859"
                                       "60616263646566676869"
                                       "70717273747576777879"
                                       "80818283848586878889"
                                       "90919293949596979899";

/* Counts digits by comparison, not division: cheaper in the miner's loop. */
static size_t decimal_digits(uint64_t v)
{
    static const uint64_t powers[DECIMAL_U64_MAX_CHARS - 1] = {
        10u,
        100u,
        1000u,
        10000u,
        100000u,
        1000000u,
        10000000u,
        100000000u,
        1000000000u,
        10000000000u,
        100000000000u,
        1000000000000u,
        10000000000000u,
        100000000000000u,
        1000000000000000u,
        10000000000000000u,
        100000000000000000u,
        1000000000000000000u,
        10000000000000000000u,
    };
    size_t n = 1;
    while (n < DECIMAL_U64_MAX_CHARS && v >= powers[n - 1])
        n++;
    return n;
}

size_t decimal_u64(uint64_t v, char *out)
{
    size_t len = decimal_digits(v);
    char *p = out + len;

    /* Fill from the right, two digits per division. */
    while (v >= 100) {
        unsigned pair = (unsigned)(v % 100) * 2;
        v /= 100;
        *--p = decimal_pairs[pair + 1];
        *--p = decimal_pairs[pair];
    }
    if (v >= 10) {
        unsigned pair = (unsigned)v * 2;
        *--p = decimal_pairs[pair + 1];
        *--p = decimal_pairs[pair];
    } else {
        *--p = (char)('0' + v);
    }
    return len;
}
