/*
 * Unit tests for chain.c: the chain's accessors and work, locators, fork
 * choice (work, not length, decides; ties keep ours), adopting a branch
 * (blocks and hash index swap), evaluating offered block lists, branches
 * invalidated when the chain moves under them, and a long chain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "peerchain/peerchain.h"
#include "testnet.h"

#define FAR_FUTURE 4000000000LL /* `now` that no test block is ahead of */

static void test_basics(void)
{
    const pc_network *net = pc_network_find("regtest");
    pc_chain *c = pc_chain_new(net);
    pc_work w, w2;
    char hex[PC_WORK_HEX_BYTES];

    CHECK(c != NULL);
    if (!c)
        return;
    CHECK(pc_chain_network(c) == net);
    CHECK_EQ_INT(pc_chain_height(c), 1);
    CHECK(pc_chain_tip(c) == pc_chain_at(c, 1));
    CHECK(pc_chain_at(c, 0) == NULL);
    CHECK(pc_chain_at(c, 2) == NULL);
    CHECK(pc_chain_find(c, &pc_chain_tip(c)->hash) == pc_chain_tip(c));
    /* Genesis counts: work at height 1 is 2^4. */
    pc_chain_work(c, &w);
    pc_work_to_hex(&w, hex);
    CHECK_EQ_STR(hex, "10");
    CHECK_EQ_INT(pc_chain_work_at(c, 1, &w2), PC_OK);
    CHECK_EQ_INT(pc_work_cmp(&w, &w2), 0);
    CHECK_EQ_INT(pc_chain_work_at(c, 0, &w2), PC_E_NOT_FOUND);
    CHECK_EQ_INT(pc_chain_work_at(c, 2, &w2), PC_E_NOT_FOUND);
    CHECK_EQ_INT(pc_chain_median_time_past(c, 1), net->genesis_timestamp);

    CHECK_EQ_INT(testnet_grow(c, 20, 5, "x"), PC_OK);
    CHECK_EQ_INT(pc_chain_height(c), 21);
    for (uint64_t h = 1; h <= 21; h++) {
        const pc_block *b = pc_chain_at(c, h);
        CHECK(b && b->height == h);
        CHECK(pc_chain_find(c, &b->hash) == b);
        CHECK_EQ_INT(pc_chain_work_at(c, h, &w2), PC_OK);
    }
    pc_chain_work(c, &w);
    pc_work_to_hex(&w, hex);
    CHECK_EQ_STR(hex, "150"); /* 21 * 16 */
    /* Median of the 11 blocks ending at 21 (timestamps 5 s apart): block 16. */
    CHECK_EQ_INT(pc_chain_median_time_past(c, 21), pc_chain_at(c, 16)->timestamp);
    /* Fewer than 11 blocks: median of what there is (3 blocks -> the 2nd). */
    CHECK_EQ_INT(pc_chain_median_time_past(c, 3), pc_chain_at(c, 2)->timestamp);
    /* 4 blocks (even): sorted index 2 -> block 3. */
    CHECK_EQ_INT(pc_chain_median_time_past(c, 4), pc_chain_at(c, 3)->timestamp);
    {
        pc_hash unknown;
        memset(unknown.b, 0x5a, sizeof unknown.b);
        CHECK(pc_chain_find(c, &unknown) == NULL);
    }
    pc_chain_free(c);
    pc_chain_free(NULL);
}

/* Heights a locator should hold, computed the slow, obvious way. */
static size_t expected_locator(uint64_t tip, size_t max, uint64_t *out)
{
    size_t n = 0;
    uint64_t step = 1;
    int64_t h = (int64_t)tip;

    if (max > PC_LOCATOR_MAX_HASHES)
        max = PC_LOCATOR_MAX_HASHES;
    if (max == 0)
        return 0;
    while (h > 1 && n < max - 1) {
        out[n++] = (uint64_t)h;
        if (n >= 10)
            step *= 2;
        h -= (int64_t)step;
    }
    out[n++] = 1;
    return n;
}

static void check_locator(const pc_chain *c, size_t max)
{
    pc_hash loc[PC_LOCATOR_MAX_HASHES];
    uint64_t want[PC_LOCATOR_MAX_HASHES];
    size_t n = pc_chain_locator(c, loc, max);
    size_t m = expected_locator(pc_chain_height(c), max, want);

    CHECK_EQ_INT(n, m);
    for (size_t i = 0; i < n && i < m; i++)
        CHECK(pc_hash_equal(&loc[i], &pc_chain_at(c, want[i])->hash));
}

static void test_locator(void)
{
    pc_chain *c = pc_chain_new(pc_network_find("regtest"));
    pc_hash loc[PC_LOCATOR_MAX_HASHES];
    size_t n;

    CHECK(c != NULL);
    if (!c)
        return;
    /* Only genesis. */
    n = pc_chain_locator(c, loc, PC_LOCATOR_MAX_HASHES);
    CHECK_EQ_INT(n, 1);
    CHECK(pc_hash_equal(&loc[0], &pc_chain_tip(c)->hash));

    CHECK_EQ_INT(testnet_grow(c, 29, 1, "l"), PC_OK); /* tip 30 */
    /* The documented example: 30..21, then 19, 15, 7, then genesis. */
    {
        static const uint64_t want[] = {30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 19, 15, 7, 1};
        n = pc_chain_locator(c, loc, PC_LOCATOR_MAX_HASHES);
        CHECK_EQ_INT(n, sizeof want / sizeof want[0]);
        for (size_t i = 0; i < n && i < sizeof want / sizeof want[0]; i++)
            CHECK(pc_hash_equal(&loc[i], &pc_chain_at(c, want[i])->hash));
    }
    for (size_t max = 0; max <= PC_LOCATOR_MAX_HASHES + 2; max++)
        check_locator(c, max);
    /* max 1: genesis alone (genesis is always last). */
    n = pc_chain_locator(c, loc, 1);
    CHECK_EQ_INT(n, 1);
    CHECK(pc_hash_equal(&loc[0], &pc_chain_at(c, 1)->hash));
    CHECK_EQ_INT(pc_chain_locator(c, loc, 0), 0);

    /* locate: the first known hash wins. */
    n = pc_chain_locator(c, loc, PC_LOCATOR_MAX_HASHES);
    CHECK_EQ_INT(pc_chain_locate(c, loc, n), 30);
    memset(loc[0].b, 0x11, sizeof loc[0].b); /* unknown tip */
    CHECK_EQ_INT(pc_chain_locate(c, loc, n), 29);
    CHECK_EQ_INT(pc_chain_locate(c, loc, 1), 0);
    CHECK_EQ_INT(pc_chain_locate(c, loc, 0), 0);

    CHECK_EQ_INT(testnet_grow(c, 1000 - 30, 1, "l"), PC_OK);
    for (size_t max = 1; max <= PC_LOCATOR_MAX_HASHES; max += 7)
        check_locator(c, max);
    check_locator(c, PC_LOCATOR_MAX_HASHES);
    pc_chain_free(c);
}

/*
 * Two chains from one genesis on a network whose difficulty moves: "fast"
 * blocks (1 s apart) raise the difficulty at every retarget, "slow" ones
 * (500 s apart) lower it to the floor. Difficulties stay <= 7.
 */
static void test_fork_choice_by_work(void)
{
    struct testnet tn;
    pc_chain *fast = NULL, *slow = NULL;
    pc_block **offer = NULL;
    size_t n = 0;
    pc_branch *br = NULL;
    pc_work wf, ws;
    struct pc_err err = {0};

    CHECK_EQ_INT(testnet_init(&tn, "test-retarget", 3, 2, 2, 100), 0);
    fast = pc_chain_new(&tn.net);
    slow = pc_chain_new(&tn.net);
    CHECK(fast && slow);
    if (!fast || !slow)
        goto out;
    CHECK_EQ_INT(testnet_grow(fast, 8, 1, "fast"), PC_OK);    /* tip 9 */
    CHECK_EQ_INT(testnet_grow(slow, 20, 500, "slow"), PC_OK); /* tip 21 */
    CHECK_EQ_INT(pc_chain_tip(fast)->difficulty, 6);
    CHECK_EQ_INT(pc_chain_tip(slow)->difficulty, 2);
    pc_chain_work(fast, &wf);
    pc_chain_work(slow, &ws);
    CHECK(pc_work_cmp(&wf, &ws) > 0); /* the premise: shorter, more work */

    /* Longer chain with less work loses. */
    offer = testnet_copy_blocks(slow, 2, &n);
    CHECK_EQ_INT(pc_chain_evaluate(fast, offer, n, FAR_FUTURE, &br, &err), PC_E_LESS_WORK);
    CHECK(br == NULL);
    CHECK_EQ_INT(pc_chain_height(fast), 9);
    pc_blocks_free(offer, n);

    /* Shorter chain with more work wins. */
    offer = testnet_copy_blocks(fast, 2, &n);
    CHECK_EQ_INT(pc_chain_evaluate(slow, offer, n, FAR_FUTURE, &br, &err), PC_OK);
    CHECK(br != NULL);
    if (br) {
        CHECK_EQ_INT(pc_branch_fork_height(br), 1);
        CHECK_EQ_INT(pc_branch_length(br), 8);
        CHECK(pc_branch_beats(br, slow));
        CHECK_EQ_INT(pc_chain_adopt(slow, br, NULL, NULL, &err), PC_OK);
        pc_branch_free(br);
        br = NULL;
    }
    /* The evaluate took every block: entries are NULL. */
    for (size_t i = 0; i < n; i++)
        CHECK(offer[i] == NULL);
    pc_blocks_free(offer, n);
    offer = NULL;
    CHECK_EQ_INT(pc_chain_height(slow), 9);
    CHECK(pc_hash_equal(&pc_chain_tip(slow)->hash, &pc_chain_tip(fast)->hash));
    pc_chain_work(slow, &ws);
    CHECK_EQ_INT(pc_work_cmp(&ws, &wf), 0);
out:
    pc_chain_free(fast);
    pc_chain_free(slow);
}

/* A chain that shares our first `shared` blocks and then grows its own. */
static pc_chain *fork_of(const pc_chain *ours, uint64_t shared, size_t more, int64_t step,
                         const char *tag)
{
    pc_chain *c = pc_chain_new(pc_chain_network(ours));

    if (!c)
        return NULL;
    for (uint64_t h = 2; h <= shared; h++) {
        pc_block *b = pc_block_clone(pc_chain_at(ours, h));
        if (!b || pc_chain_append(c, b, FAR_FUTURE, NULL) != PC_OK) {
            pc_block_free(b);
            pc_chain_free(c);
            return NULL;
        }
    }
    if (testnet_grow(c, more, step, tag) != PC_OK) {
        pc_chain_free(c);
        return NULL;
    }
    return c;
}

/* Our regtest chain *a with a_blocks mined after genesis, and a rival *b
 * that shares a's blocks up to height `shared`, then mines b_blocks of its
 * own; blocks 10 s apart. 0, or -1 with both NULL. */
static int two_chains(size_t a_blocks, uint64_t shared, size_t b_blocks, pc_chain **a, pc_chain **b)
{
    *a = pc_chain_new(pc_network_find("regtest"));
    *b = NULL;
    if (*a && testnet_grow(*a, a_blocks, 10, "a") == PC_OK)
        *b = fork_of(*a, shared, b_blocks, 10, "b");
    if (!*b) {
        pc_chain_free(*a);
        *a = NULL;
        return -1;
    }
    return 0;
}

static void test_equal_work_keeps_ours(void)
{
    pc_chain *a, *b;
    pc_block **offer = NULL;
    size_t n = 0;
    pc_branch *br = NULL;
    struct pc_err err = {0};
    pc_hash tip;

    /* Both at height 7 with the same work. */
    CHECK_EQ_INT(two_chains(6, 3, 4, &a, &b), 0);
    if (!a)
        return;
    tip = pc_chain_tip(a)->hash;
    offer = testnet_copy_blocks(b, 1, &n);
    CHECK_EQ_INT(pc_chain_evaluate(a, offer, n, FAR_FUTURE, &br, &err), PC_E_LESS_WORK);
    CHECK(br == NULL);
    CHECK(pc_hash_equal(&pc_chain_tip(a)->hash, &tip));
    pc_blocks_free(offer, n);

    /* The same through the branch API. */
    br = pc_branch_new(a, 3);
    CHECK(br != NULL);
    for (uint64_t h = 4; br && h <= 7; h++) {
        pc_block *x = pc_block_clone(pc_chain_at(b, h));
        CHECK_EQ_INT(pc_branch_extend(br, a, x, FAR_FUTURE, &err), PC_OK);
    }
    CHECK(!pc_branch_beats(br, a));
    CHECK_EQ_INT(pc_chain_adopt(a, br, NULL, NULL, &err), PC_E_LESS_WORK);
    CHECK(pc_hash_equal(&pc_chain_tip(a)->hash, &tip));
    CHECK_EQ_INT(pc_branch_length(br), 4); /* untouched */
    pc_branch_free(br);
    pc_chain_free(a);
    pc_chain_free(b);
}

static void test_adopt_swaps_index(void)
{
    pc_chain *a, *b;
    pc_block **offer = NULL, **old = NULL;
    size_t n = 0, n_old = 0;
    pc_branch *br = NULL;
    struct pc_err err = {0};
    pc_hash old_hashes[3];
    pc_work wa, wb;

    /* a: tip 6; b: tip 10, forking after 3. */
    CHECK_EQ_INT(two_chains(5, 3, 7, &a, &b), 0);
    if (!a)
        return;
    for (int i = 0; i < 3; i++)
        old_hashes[i] = pc_chain_at(a, 4 + (uint64_t)i)->hash;

    /* The whole of b from genesis: known blocks 1..3 are skipped. */
    offer = testnet_copy_blocks(b, 1, &n);
    CHECK_EQ_INT(pc_chain_evaluate(a, offer, n, FAR_FUTURE, &br, &err), PC_OK);
    CHECK(br != NULL);
    if (!br)
        goto out;
    CHECK_EQ_INT(pc_branch_fork_height(br), 3);
    CHECK_EQ_INT(pc_branch_length(br), 7);
    CHECK(pc_hash_equal(&pc_branch_tip(br)->hash, &pc_chain_tip(b)->hash));
    /* Skipped blocks stay with the caller. */
    CHECK(offer[0] && offer[1] && offer[2] && !offer[3]);
    pc_branch_work(br, &wb);
    pc_chain_work(b, &wa);
    CHECK_EQ_INT(pc_work_cmp(&wa, &wb), 0);

    CHECK_EQ_INT(pc_chain_adopt(a, br, &old, &n_old, &err), PC_OK);
    CHECK_EQ_INT(pc_branch_length(br), 0);
    pc_branch_free(br);
    br = NULL;
    CHECK_EQ_INT(n_old, 3);
    for (size_t i = 0; i < n_old && i < 3; i++) {
        CHECK(pc_hash_equal(&old[i]->hash, &old_hashes[i]));
        CHECK(pc_chain_find(a, &old_hashes[i]) == NULL);
    }
    pc_blocks_free(old, n_old);
    CHECK_EQ_INT(pc_chain_height(a), 10);
    for (uint64_t h = 1; h <= 10; h++) {
        const pc_block *x = pc_chain_at(a, h);
        CHECK(pc_hash_equal(&x->hash, &pc_chain_at(b, h)->hash));
        CHECK(pc_chain_find(a, &x->hash) == x);
    }
    pc_chain_work(a, &wa);
    pc_chain_work(b, &wb);
    CHECK_EQ_INT(pc_work_cmp(&wa, &wb), 0);
    /* The adopted chain keeps growing normally. */
    CHECK_EQ_INT(testnet_grow(a, 2, 10, "after"), PC_OK);
    CHECK_EQ_INT(pc_chain_height(a), 12);
out:
    pc_blocks_free(offer, n);
    pc_branch_free(br);
    pc_chain_free(a);
    pc_chain_free(b);
}

static void test_evaluate_rejects(void)
{
    pc_chain *a, *b;
    pc_block **offer = NULL;
    size_t n = 0;
    pc_branch *br = NULL;
    struct pc_err err = {0};

    /* a: tip 6; b: tip 11, forking after 3. */
    CHECK_EQ_INT(two_chains(5, 3, 8, &a, &b), 0);
    if (!a)
        return;

    /* Not contiguous: a gap in the list. */
    offer = testnet_copy_blocks(b, 4, &n); /* heights 4..11 */
    pc_block_free(offer[2]);               /* drop 6 */
    memmove(&offer[2], &offer[3], (n - 3) * sizeof *offer);
    n--;
    CHECK_EQ_INT(pc_chain_evaluate(a, offer, n, FAR_FUTURE, &br, &err), PC_E_NOT_CONTIGUOUS);
    CHECK(br == NULL);
    CHECK(strncmp(err.reason, "block 7: ", 9) == 0);
    pc_blocks_free(offer, n);

    /* Not contiguous: right heights, wrong link. */
    offer = testnet_copy_blocks(b, 4, &n);
    offer[1]->previous_hash.b[5] ^= 1;
    CHECK_EQ_INT(pc_chain_evaluate(a, offer, n, FAR_FUTURE, &br, &err), PC_E_NOT_CONTIGUOUS);
    pc_blocks_free(offer, n);

    /* No fork point: starts above a block we do not have. */
    offer = testnet_copy_blocks(b, 5, &n);
    CHECK_EQ_INT(pc_chain_evaluate(a, offer, n, FAR_FUTURE, &br, &err), PC_E_NO_FORK_POINT);
    CHECK(strncmp(err.reason, "block 5: ", 9) == 0);
    pc_blocks_free(offer, n);

    /* No fork point: starts beyond our tip. */
    offer = testnet_copy_blocks(b, 9, &n);
    CHECK_EQ_INT(pc_chain_evaluate(a, offer, n, FAR_FUTURE, &br, &err), PC_E_NO_FORK_POINT);
    pc_blocks_free(offer, n);

    /* Genesis mismatch at the start of a list. */
    offer = testnet_copy_blocks(b, 1, &n);
    offer[0]->hash.b[3] ^= 1;
    offer[1]->previous_hash = offer[0]->hash;
    CHECK_EQ_INT(pc_chain_evaluate(a, offer, n, FAR_FUTURE, &br, &err), PC_E_GENESIS);
    pc_blocks_free(offer, n);

    /* An invalid block in the middle: its own code; blocks taken before
     * it are freed with the branch and their entries are NULL. */
    offer = testnet_copy_blocks(b, 4, &n);
    offer[3]->merkle_root.b[0] ^= 1;
    CHECK_EQ_INT(pc_chain_evaluate(a, offer, n, FAR_FUTURE, &br, &err), PC_E_MERKLE);
    CHECK(br == NULL);
    CHECK(offer[0] == NULL && offer[2] == NULL && offer[3] != NULL);
    pc_blocks_free(offer, n);

    /* Blocks too far in the future for `now`. */
    offer = testnet_copy_blocks(b, 4, &n);
    CHECK_EQ_INT(pc_chain_evaluate(a, offer, n, pc_chain_at(b, 4)->timestamp - 7201, &br, &err),
                 PC_E_TIME_FUTURE);
    pc_blocks_free(offer, n);

    /* Nothing new: everything already ours, or an empty list. */
    offer = testnet_copy_blocks(a, 1, &n);
    CHECK_EQ_INT(pc_chain_evaluate(a, offer, n, FAR_FUTURE, &br, &err), PC_E_LESS_WORK);
    pc_blocks_free(offer, n);
    CHECK_EQ_INT(pc_chain_evaluate(a, NULL, 0, FAR_FUTURE, &br, &err), PC_E_LESS_WORK);
    CHECK_EQ_INT(pc_chain_height(a), 6);
    pc_chain_free(a);
    pc_chain_free(b);
}

static void test_branch_invalidated(void)
{
    pc_chain *a, *b, *c = NULL;
    pc_branch *br_b = NULL, *br_c = NULL;
    pc_block *next = NULL;
    struct pc_err err = {0};

    /* a: tip 5; b forks after 4; c, with more work, after 2. */
    CHECK_EQ_INT(two_chains(4, 4, 4, &a, &b), 0);
    if (!a)
        return;
    c = fork_of(a, 2, 6, 10, "c");
    CHECK(c != NULL);
    if (!c)
        goto out;

    CHECK(pc_branch_new(a, 0) == NULL);
    CHECK(pc_branch_new(a, 6) == NULL);
    br_b = pc_branch_new(a, 4);
    br_c = pc_branch_new(a, 2);
    CHECK(br_b && br_c);
    if (!br_b || !br_c)
        goto out;
    CHECK(pc_branch_tip(br_b) == NULL);
    for (uint64_t h = 5; h <= 6; h++) {
        pc_block *x = pc_block_clone(pc_chain_at(b, h));
        CHECK_EQ_INT(pc_branch_extend(br_b, a, x, FAR_FUTURE, &err), PC_OK);
    }
    /* A wrong block does not change the branch; the caller keeps it. */
    next = pc_block_clone(pc_chain_at(b, 8));
    CHECK_EQ_INT(pc_branch_extend(br_b, a, next, FAR_FUTURE, &err), PC_E_HEIGHT);
    CHECK_EQ_INT(pc_branch_length(br_b), 2);
    pc_block_free(next);
    next = NULL;

    for (uint64_t h = 3; h <= 8; h++) {
        pc_block *x = pc_block_clone(pc_chain_at(c, h));
        CHECK_EQ_INT(pc_branch_extend(br_c, a, x, FAR_FUTURE, &err), PC_OK);
    }
    CHECK_EQ_INT(pc_chain_adopt(a, br_c, NULL, NULL, &err), PC_OK);
    /* Block 4, br_b's fork point, is gone. */
    CHECK(!pc_branch_beats(br_b, a));
    next = pc_block_clone(pc_chain_at(b, 7));
    CHECK_EQ_INT(pc_branch_extend(br_b, a, next, FAR_FUTURE, &err), PC_E_NO_FORK_POINT);
    CHECK(strncmp(err.reason, "block 4: ", 9) == 0);
    pc_block_free(next);
    CHECK_EQ_INT(pc_chain_adopt(a, br_b, NULL, NULL, &err), PC_E_NO_FORK_POINT);
    CHECK(pc_hash_equal(&pc_chain_tip(a)->hash, &pc_chain_tip(c)->hash));
out:
    pc_branch_free(br_b);
    pc_branch_free(br_c);
    pc_chain_free(a);
    pc_chain_free(b);
    pc_chain_free(c);
}

/*
 * A long chain on a difficulty-0 network (every nonce is valid, so the cost
 * is validation, not mining): appends, lookups by hash at both ends, and a
 * deep reorg near the tip. PC_TEST_CHAIN_BLOCKS overrides the length (the
 * design target is 1000000; the default keeps the suite fast).
 */
static void test_long_chain(void)
{
    struct testnet tn;
    pc_chain *c;
    const char *env = getenv("PC_TEST_CHAIN_BLOCKS");
    size_t blocks = env ? (size_t)strtoull(env, NULL, 10) : 100000;
    size_t bad = 0;

    if (blocks < 20)
        blocks = 20;
    CHECK_EQ_INT(testnet_init(&tn, "test-long", 0, 0, 0, 1), 0);
    c = pc_chain_new(&tn.net);
    CHECK(c != NULL);
    if (!c)
        return;
    for (size_t i = 1; i < blocks; i++) {
        const pc_block *tip = pc_chain_tip(c);
        pc_block *b = pc_block_new();
        if (!b) {
            bad++;
            break;
        }
        b->version = PC_BLOCK_VERSION;
        b->height = tip->height + 1;
        b->timestamp = tip->timestamp + 1;
        b->previous_hash = tip->hash;
        pc_block_compute_hash(b, &b->hash);
        if (pc_chain_append(c, b, FAR_FUTURE, NULL) != PC_OK) {
            pc_block_free(b);
            bad++;
            break;
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(pc_chain_height(c), blocks);
    for (uint64_t h = 1; h <= blocks; h += blocks / 1000 ? blocks / 1000 : 1) {
        const pc_block *b = pc_chain_at(c, h);
        if (pc_chain_find(c, &b->hash) != b)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    {
        pc_hash loc[PC_LOCATOR_MAX_HASHES];
        size_t n = pc_chain_locator(c, loc, PC_LOCATOR_MAX_HASHES);
        CHECK(n > 10 && n <= PC_LOCATOR_MAX_HASHES);
        CHECK(pc_hash_equal(&loc[n - 1], &pc_chain_at(c, 1)->hash));
        CHECK_EQ_INT(pc_chain_locate(c, loc, n), blocks);
    }
    /* Reorg the last 10 blocks for 11 others. */
    {
        uint64_t fork = blocks - 10;
        pc_branch *br = pc_branch_new(c, fork);
        pc_hash gone = pc_chain_tip(c)->hash;
        CHECK(br != NULL);
        for (int i = 0; br && i < 11; i++) {
            const pc_block *tip = pc_branch_tip(br) ? pc_branch_tip(br) : pc_chain_at(c, fork);
            pc_block *b = pc_block_new();
            if (!b)
                break;
            b->version = PC_BLOCK_VERSION;
            b->height = tip->height + 1;
            b->timestamp = tip->timestamp + 2;
            b->previous_hash = tip->hash;
            pc_block_compute_hash(b, &b->hash);
            CHECK_EQ_INT(pc_branch_extend(br, c, b, FAR_FUTURE, NULL), PC_OK);
        }
        CHECK_EQ_INT(pc_chain_adopt(c, br, NULL, NULL, NULL), PC_OK);
        CHECK_EQ_INT(pc_chain_height(c), blocks + 1);
        CHECK(pc_chain_find(c, &gone) == NULL);
        CHECK(pc_chain_find(c, &pc_chain_tip(c)->hash) == pc_chain_tip(c));
        pc_branch_free(br);
    }
    pc_chain_free(c);
}

int main(void)
{
    if (pc_crypto_init() != PC_OK)
        return 2;
    test_basics();
    test_locator();
    test_fork_choice_by_work();
    test_equal_work_keeps_ours();
    test_adopt_swaps_index();
    test_evaluate_rejects();
    test_branch_invalidated();
    test_long_chain();
    return check_summary();
}
