/*
 * The index-mode chain (pc_chain_new_index): the same validation results as
 * a full chain on the same inputs (retarget, median time past, links), the
 * trusted load from storage (pc_chain_load_header / pc_chain_load_tip),
 * adoption of a branch, and lookups that work in both modes.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testnet.h"

/* A network that retargets every 4 blocks, so short chains cross several
 * retarget points. */
static struct testnet tn;

/* Appends clones of full's blocks from..tip to c; 0 or the first failure. */
static int copy_onto(pc_chain *c, const pc_chain *full, uint64_t from, int64_t now)
{
    for (uint64_t h = from; h <= pc_chain_height(full); h++) {
        pc_block *b = pc_block_clone(pc_chain_at(full, h));
        int rc = b ? pc_chain_append(c, b, now, NULL) : PC_E_NOMEM;
        if (rc != 0) {
            pc_block_free(b);
            return rc;
        }
    }
    return 0;
}

/* Grows c by n blocks with uneven spacing: fast, then slow, so difficulty
 * goes up and down. */
static int grow_uneven(pc_chain *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t step = (i / 8) % 2 == 0 ? 1 : 40;
        int rc = testnet_grow(c, 1, step, "x");
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A next block for c broken in one way, re-mined so that only that rule
 * fails. kind: 0 valid, 1 difficulty, 2 old timestamp, 3 previousHash,
 * 4 height. */
static pc_block *candidate(const pc_chain *c, int kind)
{
    const pc_block *tip = pc_chain_tip(c);
    pc_block *b = testnet_mine_next(c, tip->timestamp + 5, "cand");
    if (b == NULL)
        return NULL;
    switch (kind) {
    case 1:
        b->difficulty++;
        break;
    case 2:
        b->timestamp = pc_chain_median_time_past(c, tip->height);
        break;
    case 3:
        b->previous_hash.b[0] ^= 1;
        break;
    case 4:
        b->height++;
        break;
    default:
        return b;
    }
    if (pc_mine(b, 0, 0, NULL, NULL) != 0) {
        pc_block_free(b);
        return NULL;
    }
    return b;
}

static void test_same_rules(void)
{
    pc_chain *full = pc_chain_new(&tn.net), *ix = pc_chain_new_index(&tn.net);
    CHECK(full != NULL && ix != NULL);
    if (full == NULL || ix == NULL)
        goto out;
    CHECK(!pc_chain_is_index(full));
    CHECK(pc_chain_is_index(ix));
    CHECK_EQ_INT(grow_uneven(full, 60), 0);
    CHECK_EQ_INT(copy_onto(ix, full, 2, pc_chain_tip(full)->timestamp), 0);
    CHECK_EQ_INT(pc_chain_height(ix), pc_chain_height(full));

    bool has_retargeted = false;
    for (uint64_t h = 1; h <= pc_chain_height(full); h++) {
        CHECK_EQ_INT(pc_chain_next_difficulty(ix, h), pc_chain_next_difficulty(full, h));
        CHECK_EQ_INT(pc_chain_median_time_past(ix, h), pc_chain_median_time_past(full, h));
        pc_work a, b;
        CHECK_EQ_INT(pc_chain_work_at(ix, h, &a), 0);
        CHECK_EQ_INT(pc_chain_work_at(full, h, &b), 0);
        CHECK_EQ_INT(pc_work_cmp(&a, &b), 0);
        pc_hash ha;
        uint64_t found = 0;
        CHECK_EQ_INT(pc_chain_hash_at(ix, h, &ha), 0);
        CHECK(pc_hash_equal(&ha, &pc_chain_at(full, h)->hash));
        CHECK_EQ_INT(pc_chain_find_height(ix, &ha, &found), 0);
        CHECK_EQ_INT(found, h);
        if (pc_chain_at(full, h)->difficulty != tn.net.genesis_difficulty)
            has_retargeted = true;
        /* Below the tip an index chain has no blocks. */
        CHECK((pc_chain_at(ix, h) == NULL) == (h < pc_chain_height(ix)));
    }
    CHECK(has_retargeted);
    CHECK(pc_chain_at(ix, pc_chain_height(ix)) == pc_chain_tip(ix));
    CHECK(pc_chain_find(ix, &pc_chain_tip(full)->hash) == pc_chain_tip(ix));
    CHECK(pc_chain_find(ix, &pc_chain_at(full, 2)->hash) == NULL);

    /* Each candidate gets the same verdict from both, including the clock. */
    int64_t now = pc_chain_tip(full)->timestamp + 10;
    static const int want[] = {0, PC_E_DIFFICULTY, PC_E_TIME_OLD, PC_E_PREV_HASH, PC_E_HEIGHT};
    for (int kind = 0; kind < 5; kind++) {
        pc_block *b = candidate(full, kind);
        CHECK(b != NULL);
        if (b == NULL)
            continue;
        struct pc_err e1, e2;
        int r1 = pc_chain_check_next(full, b, now, &e1);
        int r2 = pc_chain_check_next(ix, b, now, &e2);
        CHECK_EQ_INT(r1, want[kind]);
        CHECK_EQ_INT(r2, r1);
        if (r1 != 0 && r2 == r1)
            CHECK_EQ_STR(e2.reason, e1.reason);
        CHECK_EQ_INT(pc_chain_check_next(ix, b, b->timestamp - PC_MAX_FUTURE_SECONDS - 1, NULL),
                     kind == 0 ? PC_E_TIME_FUTURE : want[kind]);
        pc_block_free(b);
    }

    pc_hash lf[PC_LOCATOR_MAX_HASHES], li[PC_LOCATOR_MAX_HASHES];
    size_t nf = pc_chain_locator(full, lf, PC_LOCATOR_MAX_HASHES);
    size_t ni = pc_chain_locator(ix, li, PC_LOCATOR_MAX_HASHES);
    CHECK_EQ_INT(ni, nf);
    CHECK(memcmp(lf, li, nf * sizeof lf[0]) == 0);
    CHECK_EQ_INT(pc_chain_locate(ix, lf + 3, nf - 3), pc_chain_locate(full, lf + 3, nf - 3));
out:
    pc_chain_free(full);
    pc_chain_free(ix);
}

/* Loads an index chain from full's entries and tip, as peerchaind does from
 * its store. */
static pc_chain *load_from(const pc_chain *full)
{
    pc_chain *ix = pc_chain_new_index(&tn.net);
    if (ix == NULL || pc_chain_reserve(ix, pc_chain_height(full)) != 0)
        goto fail;
    for (uint64_t h = 2; h <= pc_chain_height(full); h++) {
        const pc_block *b = pc_chain_at(full, h);
        if (pc_chain_load_header(ix, &b->hash, b->timestamp, b->difficulty) != 0)
            goto fail;
    }
    pc_block *tip = pc_block_clone(pc_chain_tip(full));
    if (tip == NULL || pc_chain_load_tip(ix, tip) != 0) {
        pc_block_free(tip);
        goto fail;
    }
    return ix;
fail:
    pc_chain_free(ix);
    return NULL;
}

static void test_load(void)
{
    pc_chain *full = pc_chain_new(&tn.net), *ix = NULL;
    CHECK(full != NULL);
    if (full == NULL)
        return;
    CHECK_EQ_INT(grow_uneven(full, 40), 0);

    /* A full chain refuses trusted loads. */
    const pc_block *t = pc_chain_tip(full);
    CHECK_EQ_INT(pc_chain_load_header(full, &t->hash, t->timestamp, t->difficulty), PC_E_ARG);

    ix = load_from(full);
    CHECK(ix != NULL);
    if (ix != NULL) {
        /* Room for more changes nothing visible. */
        CHECK_EQ_INT(pc_chain_reserve(ix, 4096), 0);
        CHECK_EQ_INT(pc_chain_height(ix), pc_chain_height(full));
    }
    if (ix == NULL)
        goto out;
    CHECK_EQ_INT(pc_chain_height(ix), pc_chain_height(full));
    CHECK(pc_hash_equal(&pc_chain_tip(ix)->hash, &t->hash));
    pc_work a, b;
    pc_chain_work(ix, &a);
    pc_chain_work(full, &b);
    CHECK_EQ_INT(pc_work_cmp(&a, &b), 0);

    /* A loaded chain validates and grows like any other. */
    CHECK_EQ_INT(testnet_grow(full, 5, 3, "after"), 0);
    CHECK_EQ_INT(copy_onto(ix, full, pc_chain_height(ix) + 1, pc_chain_tip(full)->timestamp), 0);
    CHECK(pc_hash_equal(&pc_chain_tip(ix)->hash, &pc_chain_tip(full)->hash));

    /* A tip that does not match the last header is refused, and so is a
     * duplicate header or an impossible difficulty. */
    pc_chain *bad = pc_chain_new_index(&tn.net);
    CHECK(bad != NULL);
    if (bad != NULL) {
        const pc_block *b2 = pc_chain_at(full, 2), *b3 = pc_chain_at(full, 3);
        CHECK_EQ_INT(pc_chain_load_header(bad, &b2->hash, b2->timestamp, b2->difficulty), 0);
        CHECK_EQ_INT(pc_chain_load_header(bad, &b2->hash, b2->timestamp, b2->difficulty), PC_E_ARG);
        CHECK_EQ_INT(pc_chain_load_header(bad, &b3->hash, b3->timestamp, PC_MAX_DIFFICULTY + 1),
                     PC_E_ARG);
        CHECK(pc_chain_tip(bad) == NULL);
        pc_block *wrong = pc_block_clone(b3);
        CHECK_EQ_INT(pc_chain_load_tip(bad, wrong), PC_E_ARG);
        pc_block_free(wrong);
        pc_block *stamp = pc_block_clone(b2);
        stamp->timestamp++;
        CHECK_EQ_INT(pc_chain_load_tip(bad, stamp), PC_E_ARG);
        pc_block_free(stamp);
        pc_block *right = pc_block_clone(b2);
        CHECK_EQ_INT(pc_chain_load_tip(bad, right), 0);
        CHECK(pc_chain_tip(bad) == right);
        pc_chain_free(bad);
    }
out:
    pc_chain_free(full);
    pc_chain_free(ix);
}

static void test_adopt(void)
{
    pc_chain *ours = pc_chain_new(&tn.net), *theirs = pc_chain_new(&tn.net), *ix = NULL;
    CHECK(ours != NULL && theirs != NULL);
    if (ours == NULL || theirs == NULL)
        goto out;
    CHECK_EQ_INT(grow_uneven(ours, 20), 0);
    CHECK_EQ_INT(copy_onto(theirs, ours, 2, pc_chain_tip(ours)->timestamp), 0);
    CHECK_EQ_INT(testnet_grow(ours, 3, 5, "ours"), 0);
    CHECK_EQ_INT(testnet_grow(theirs, 6, 5, "theirs"), 0);
    ix = load_from(ours);
    CHECK(ix != NULL);
    if (ix == NULL)
        goto out;
    pc_hash old_tip = pc_chain_tip(ix)->hash;

    /* The whole of their chain, as an allBlock offer would bring it. */
    size_t n = 0;
    pc_block **v = testnet_copy_blocks(theirs, 1, &n);
    pc_branch *br = NULL;
    int64_t now = pc_chain_tip(theirs)->timestamp;
    CHECK(v != NULL);
    CHECK_EQ_INT(pc_chain_evaluate(ix, v, n, now, &br, NULL), 0);
    CHECK(br != NULL);
    if (br != NULL) {
        CHECK_EQ_INT(pc_branch_fork_height(br), 21);
        size_t nb = 0;
        const pc_block *const *bb = pc_branch_blocks(br, &nb);
        CHECK_EQ_INT(nb, 6);
        CHECK(nb == 6 && bb[0]->height == 22 && bb[5] == pc_branch_tip(br));

        pc_block **old = (pc_block **)&old_tip; /* must be overwritten */
        size_t n_old = 99;
        CHECK_EQ_INT(pc_chain_adopt(ix, br, &old, &n_old, NULL), 0);
        CHECK(old == NULL);
        CHECK_EQ_INT(n_old, 0);
        CHECK_EQ_INT(pc_chain_height(ix), pc_chain_height(theirs));
        CHECK(pc_hash_equal(&pc_chain_tip(ix)->hash, &pc_chain_tip(theirs)->hash));
        uint64_t h = 0;
        CHECK_EQ_INT(pc_chain_find_height(ix, &old_tip, &h), PC_E_NOT_FOUND);
        CHECK_EQ_INT(pc_chain_find_height(ix, &pc_chain_at(theirs, 23)->hash, &h), 0);
        CHECK_EQ_INT(h, 23);
        pc_work a, b;
        pc_chain_work(ix, &a);
        pc_chain_work(theirs, &b);
        CHECK_EQ_INT(pc_work_cmp(&a, &b), 0);
        pc_branch_free(br);
    }
    pc_blocks_free(v, n); /* entries the branch took are NULL */

    /* Ours again, shorter: the same offer is now less work. */
    v = testnet_copy_blocks(ours, 1, &n);
    br = NULL;
    CHECK_EQ_INT(pc_chain_evaluate(ix, v, n, now, &br, NULL), PC_E_LESS_WORK);
    CHECK(br == NULL);
    pc_blocks_free(v, n);
out:
    pc_chain_free(ours);
    pc_chain_free(theirs);
    pc_chain_free(ix);
}

int main(void)
{
    if (pc_crypto_init() != PC_OK || testnet_init(&tn, "ixnet", 2, 1, 4, 10) != 0) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    test_same_rules();
    test_load();
    test_adopt();
    return check_summary();
}
