/*
 * Table tests for the difficulty retarget and median-time-past rules
 * (pc_retarget, pc_is_retarget_height, pc_median_time), and the same rules
 * seen through a chain (pc_chain_next_difficulty).
 */
#include <stdint.h>

#include "check.h"
#include "peerchain/peerchain.h"
#include "testnet.h"

/* main's parameters: N = 10, T = 60 s, so expected = 600 s. */
static const pc_network *mainnet;

struct retarget_row {
    uint64_t parent_height;
    uint32_t parent_difficulty;
    int64_t actual; /* parent_ts - window_start_ts */
    uint32_t want;
};

static const struct retarget_row retarget_rows[] = {
    /* not a retarget point: difficulty carries over whatever the time */
    {1, 16, 0, 16},
    {2, 20, 1, 20},
    {10, 20, 1, 20}, /* 10 < N + 1 */
    {12, 20, 1, 20}, /* (12 - 1) % 10 != 0 */
    {20, 20, 9999, 20},
    {30, 20, 1, 20},
    /* retarget points: 11, 21, 31, ... */
    {11, 20, 1, 21},    /* fast: 2 * 1 < 600 */
    {11, 20, 299, 21},  /* 2 * 299 = 598 < 600 */
    {11, 20, 300, 20},  /* exactly half: 600 is not < 600 */
    {11, 20, 600, 20},  /* on target */
    {11, 20, 1200, 20}, /* exactly double: not > 1200 */
    {11, 20, 1201, 19}, /* slow */
    {21, 20, 100000, 19},
    {31, 20, 0, 21},    /* zero time: fast */
    {41, 20, -500, 21}, /* timestamps out of order: still fast */
    {11, 16, 5000, 16}, /* floor at min_difficulty */
    {11, 17, 5000, 16},
    {11, 254, 1, 255}, /* cap at 255 */
    {11, 255, 1, 255},
    {11, 255, 5000, 254},
    {1000001, 30, 1, 31}, /* (1000001 - 1) % 10 == 0 */
    {1000002, 30, 1, 30},
};

static void test_retarget_table(void)
{
    const int64_t start = 1767225600;

    for (size_t i = 0; i < sizeof retarget_rows / sizeof retarget_rows[0]; i++) {
        const struct retarget_row *r = &retarget_rows[i];
        uint32_t got =
            pc_retarget(mainnet, r->parent_height, r->parent_difficulty, start + r->actual, start);
        if (got != r->want)
            fprintf(stderr, "retarget row %zu\n", i);
        CHECK_EQ_INT(got, r->want);
    }
}

static void test_retarget_heights(void)
{
    static const struct {
        uint64_t h;
        int want;
    } rows[] = {{0, 0},  {1, 0},  {2, 0},  {10, 0},  {11, 1}, {12, 0},
                {20, 0}, {21, 1}, {22, 0}, {101, 1}, {100, 0}};
    const pc_network *regtest = pc_network_find("regtest");

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        CHECK_EQ_INT(pc_is_retarget_height(mainnet, rows[i].h), rows[i].want);
        /* regtest never retargets */
        CHECK_EQ_INT(pc_is_retarget_height(regtest, rows[i].h), 0);
        CHECK_EQ_INT(pc_retarget(regtest, rows[i].h, 4, 1000, 0), 4);
    }
    /* N = 1: every parent from height 2 on is a retarget point. */
    {
        pc_network n1 = *mainnet;
        n1.retarget_interval = 1;
        CHECK(!pc_is_retarget_height(&n1, 1));
        CHECK(pc_is_retarget_height(&n1, 2));
        CHECK(pc_is_retarget_height(&n1, 3));
    }
}

static void test_median(void)
{
    static const int64_t one[] = {5};
    static const int64_t two[] = {9, 3};            /* sorted 3 9 -> index 1 */
    static const int64_t three[] = {9, 3, 6};       /* 3 6 9 -> 6 */
    static const int64_t four[] = {40, 10, 30, 20}; /* 10 20 30 40 -> index 2 = 30 */
    static const int64_t dups[] = {7, 7, 1, 7, 1};  /* 1 1 7 7 7 -> 7 */
    static const int64_t dups2[] = {1, 1, 1, 7};    /* 1 1 1 7 -> 1 */
    static const int64_t eleven[] = {11, 2, 9, 4, 7, 6, 5, 8, 3, 10, 1}; /* -> 6 */
    static const int64_t same[] = {3, 3, 3, 3, 3, 3};
    static const int64_t neg[] = {-5, 0, -10}; /* not from blocks, still defined */

    CHECK_EQ_INT(pc_median_time(one, 1), 5);
    CHECK_EQ_INT(pc_median_time(two, 2), 9);
    CHECK_EQ_INT(pc_median_time(three, 3), 6);
    CHECK_EQ_INT(pc_median_time(four, 4), 30);
    CHECK_EQ_INT(pc_median_time(dups, 5), 7);
    CHECK_EQ_INT(pc_median_time(dups2, 4), 1);
    CHECK_EQ_INT(pc_median_time(eleven, 11), 6);
    CHECK_EQ_INT(pc_median_time(same, 6), 3);
    CHECK_EQ_INT(pc_median_time(neg, 3), -5);
    /* Every prefix of `eleven` against the sorted-index definition. */
    for (size_t n = 1; n <= 11; n++) {
        int64_t s[11];
        for (size_t i = 0; i < n; i++)
            s[i] = eleven[i];
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && s[j - 1] > s[j]; j--) {
                int64_t t = s[j];
                s[j] = s[j - 1];
                s[j - 1] = t;
            }
        CHECK_EQ_INT(pc_median_time(eleven, n), s[n / 2]);
    }
}

/* The rule through a chain: main-like retargeting at a test difficulty. */
static void test_chain_difficulty(void)
{
    struct testnet tn;
    pc_chain *c;

    CHECK_EQ_INT(testnet_init(&tn, "test-main-like", 2, 1, 10, 60), 0);
    c = pc_chain_new(&tn.net);
    CHECK(c != NULL);
    if (!c)
        return;
    /* Blocks 2..11 one second apart: the window 1..11 took 10 s < 300. */
    CHECK_EQ_INT(testnet_grow(c, 10, 1, "fast"), PC_OK);
    CHECK_EQ_INT(pc_chain_height(c), 11);
    for (uint64_t h = 1; h <= 11; h++)
        CHECK_EQ_INT(pc_chain_at(c, h)->difficulty, 2);
    CHECK_EQ_INT(pc_chain_next_difficulty(c, 11), 3);
    CHECK_EQ_INT(pc_chain_next_difficulty(c, 10), 2);
    /* Blocks 12..21 a long way apart: the window 11..21 is slow. */
    CHECK_EQ_INT(testnet_grow(c, 10, 200, "slow"), PC_OK);
    CHECK_EQ_INT(pc_chain_at(c, 12)->difficulty, 3);
    CHECK_EQ_INT(pc_chain_at(c, 21)->difficulty, 3);
    CHECK_EQ_INT(pc_chain_next_difficulty(c, 21), 2);
    CHECK_EQ_INT(testnet_grow(c, 1, 200, "slow"), PC_OK);
    CHECK_EQ_INT(pc_chain_tip(c)->difficulty, 2);
    /* A window on target keeps it. */
    CHECK_EQ_INT(testnet_grow(c, 9, 60, "on"), PC_OK); /* tip 31 */
    CHECK_EQ_INT(pc_chain_next_difficulty(c, 31), 2);
    pc_chain_free(c);
}

int main(void)
{
    if (pc_crypto_init() != PC_OK)
        return 2;
    mainnet = pc_network_find("main");
    CHECK(mainnet != NULL);
    if (!mainnet)
        return check_summary();
    test_retarget_table();
    test_retarget_heights();
    test_median();
    test_chain_difficulty();
    return check_summary();
}
