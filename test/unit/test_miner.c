/*
 * Unit tests for miner.c: templates, a mined regtest block that the chain
 * accepts, cancellation, attempt limits, the end of the nonce space, and
 * that the midstate search finds exactly the nonce a brute-force loop over
 * pc_block_compute_hash finds.
 */
#include <stdatomic.h>
#include <string.h>

#include "check.h"
#include "peerchain/peerchain.h"
#include "testnet.h"

static void test_template(const pc_chain *c)
{
    struct pc_template_base base;
    const char *items[] = {"one", "two"};
    const size_t lens[] = {3, 3};
    struct pc_err err = {0};
    pc_block *b;
    pc_hash root;

    pc_chain_template_base(c, &base);
    CHECK_EQ_INT(base.parent_height, pc_chain_height(c));
    CHECK(pc_hash_equal(&base.parent_hash, &pc_chain_tip(c)->hash));
    CHECK_EQ_INT(base.difficulty, 4);
    CHECK_EQ_INT(base.median_time_past, pc_chain_median_time_past(c, pc_chain_height(c)));

    b = pc_block_template(&base, items, lens, 2, base.median_time_past + 100, &err);
    CHECK(b != NULL);
    if (b) {
        CHECK_EQ_INT(b->version, PC_BLOCK_VERSION);
        CHECK_EQ_INT(b->height, base.parent_height + 1);
        CHECK(pc_hash_equal(&b->previous_hash, &base.parent_hash));
        CHECK_EQ_INT(b->difficulty, 4);
        CHECK_EQ_INT(b->timestamp, base.median_time_past + 100);
        CHECK_EQ_INT(b->nonce, 0);
        CHECK_EQ_INT(b->n_data, 2);
        CHECK_EQ_INT(pc_merkle_root(items, lens, 2, &root), PC_OK);
        CHECK(pc_hash_equal(&b->merkle_root, &root));
        pc_block_free(b);
    }
    /* A clock behind the median time past: the earliest valid time. */
    b = pc_block_template(&base, NULL, NULL, 0, base.median_time_past - 50, &err);
    CHECK(b != NULL);
    if (b) {
        CHECK_EQ_INT(b->timestamp, base.median_time_past + 1);
        CHECK(pc_hash_is_zero(&b->merkle_root));
        pc_block_free(b);
    }
    b = pc_block_template(&base, NULL, NULL, 0, base.median_time_past, &err);
    CHECK(b && b->timestamp == base.median_time_past + 1);
    pc_block_free(b);
    /* Data over a limit: NULL and the reason. */
    {
        static char big[PC_MAX_DATA_ITEM_BYTES + 1];
        const char *bi[] = {big};
        const size_t bl[] = {sizeof big};
        memset(big, 'x', sizeof big);
        b = pc_block_template(&base, bi, bl, 1, base.median_time_past + 1, &err);
        CHECK(b == NULL);
        CHECK_EQ_INT(err.code, PC_E_TOO_LARGE);
    }
    /* Timestamps out of range. */
    b = pc_block_template(&base, NULL, NULL, 0, PC_MAX_SAFE_INTEGER + 1, &err);
    CHECK(b == NULL);
    CHECK_EQ_INT(err.code, PC_E_RANGE);
}

static void test_mine_and_append(pc_chain *c)
{
    struct pc_template_base base;
    const char *items[] = {"mined"};
    const size_t lens[] = {5};
    uint64_t attempts = 0;
    pc_block *b;
    int64_t now;

    for (int i = 0; i < 5; i++) {
        pc_chain_template_base(c, &base);
        now = base.median_time_past + 10;
        b = pc_block_template(&base, items, lens, 1, now, NULL);
        CHECK(b != NULL);
        if (!b)
            return;
        CHECK_EQ_INT(pc_mine(b, 0, 0, NULL, &attempts), PC_OK);
        CHECK_EQ_INT(attempts, b->nonce + 1);
        CHECK_EQ_INT(pc_block_check(b, NULL), PC_OK);
        CHECK_EQ_INT(pc_chain_check_next(c, b, now, NULL), PC_OK);
        CHECK_EQ_INT(pc_chain_append(c, b, now, NULL), PC_OK);
    }
}

/* The first nonce >= start that meets the difficulty, the slow way. */
static uint64_t brute_force(pc_block *b, uint64_t start, pc_hash *h)
{
    for (uint64_t n = start;; n++) {
        b->nonce = n;
        pc_block_compute_hash(b, h);
        if (pc_hash_meets_difficulty(h, b->difficulty))
            return n;
    }
}

static void test_matches_brute_force(const pc_chain *c)
{
    struct pc_template_base base;
    const char *items[] = {"brute", "force"};
    const size_t lens[] = {5, 5};
    static const uint64_t starts[] = {0, 1, 7, 99, 1000, 123456789, 9007199254000000u};

    pc_chain_template_base(c, &base);
    for (uint32_t d = 0; d <= 8; d += 2) {
        for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
            pc_block *b = pc_block_template(&base, items, lens, 2, base.median_time_past + 1, NULL);
            pc_hash want;
            uint64_t want_nonce, attempts = 0;
            if (!b) {
                CHECK(b != NULL);
                return;
            }
            b->difficulty = d;
            want_nonce = brute_force(b, starts[i], &want);
            b->nonce = 0;
            CHECK_EQ_INT(pc_mine(b, starts[i], 0, NULL, &attempts), PC_OK);
            CHECK_EQ_INT(b->nonce, want_nonce);
            CHECK(pc_hash_equal(&b->hash, &want));
            CHECK_EQ_INT(attempts, want_nonce - starts[i] + 1);
            pc_block_free(b);
        }
    }
}

static void test_limits(const pc_chain *c)
{
    struct pc_template_base base;
    atomic_bool cancel;
    uint64_t attempts = 99;
    pc_block *b;

    pc_chain_template_base(c, &base);
    b = pc_block_template(&base, NULL, NULL, 0, base.median_time_past + 1, NULL);
    CHECK(b != NULL);
    if (!b)
        return;
    b->difficulty = 200; /* never found in these tests */

    atomic_init(&cancel, true);
    CHECK_EQ_INT(pc_mine(b, 0, 0, &cancel, &attempts), PC_E_CANCELLED);
    CHECK_EQ_INT(attempts, 0);

    /* Exhaustion by attempts; the flag is read but not set. */
    atomic_store(&cancel, false);
    CHECK_EQ_INT(pc_mine(b, 0, 10000, &cancel, &attempts), PC_E_EXHAUSTED);
    CHECK_EQ_INT(attempts, 10000);
    CHECK_EQ_INT(pc_mine(b, 5, 1, NULL, &attempts), PC_E_EXHAUSTED);
    CHECK_EQ_INT(attempts, 1);

    /* The nonce space ends at 2^53 - 1. */
    CHECK_EQ_INT(pc_mine(b, (uint64_t)PC_MAX_SAFE_INTEGER - 4, 0, NULL, &attempts), PC_E_EXHAUSTED);
    CHECK_EQ_INT(attempts, 5);
    CHECK_EQ_INT(pc_mine(b, (uint64_t)PC_MAX_SAFE_INTEGER + 1, 0, NULL, &attempts), PC_E_EXHAUSTED);
    CHECK_EQ_INT(attempts, 0);
    CHECK_EQ_INT(pc_mine(b, UINT64_MAX, 0, NULL, NULL), PC_E_EXHAUSTED);
    /* A failed search leaves nonce and hash alone. */
    CHECK_EQ_INT(b->nonce, 0);
    CHECK(pc_hash_is_zero(&b->hash));
    pc_block_free(b);
}

int main(void)
{
    pc_chain *c;

    c = testnet_regtest_chain();
    CHECK(c != NULL);
    if (!c)
        return check_summary();
    test_template(c);
    test_mine_and_append(c);
    CHECK_EQ_INT(pc_chain_height(c), 6);
    test_matches_brute_force(c);
    test_limits(c);
    pc_chain_free(c);
    return check_summary();
}
