/*
 * Table-driven tests of the block validity rules: one row per rule. Each row
 * takes a valid next block for a regtest chain, breaks exactly one thing
 * (re-mining afterwards where the rule is checked after the hash, so that
 * only that one thing is wrong), and expects that rule's code from
 * pc_chain_check_next, a reason naming the height, and a refused append that
 * leaves the chain as it was. Context-free rules must give the same code
 * from pc_block_check. A second table checks the order between rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "peerchain/peerchain.h"
#include "testnet.h"

static pc_chain *chain;
static int64_t now;

/* Replaces b's data without the limit checks of pc_block_set_data, to build
 * blocks a peer could send. Each item is len bytes of `fill`. */
static void force_data(pc_block *b, size_t n, size_t len, char fill)
{
    for (size_t i = 0; i < b->n_data; i++)
        free(b->data[i]);
    free(b->data);
    free(b->data_len);
    b->n_data = n;
    b->data = calloc(n, sizeof *b->data);
    b->data_len = calloc(n, sizeof *b->data_len);
    if (!b->data || !b->data_len)
        abort(); /* test harness, not library code */
    for (size_t i = 0; i < n; i++) {
        b->data[i] = malloc(len + 1);
        if (!b->data[i])
            abort();
        memset(b->data[i], fill, len);
        b->data[i][len] = '\0';
        b->data_len[i] = len;
    }
    pc_block_update_merkle(b);
}

static void remine(pc_block *b)
{
    CHECK_EQ_INT(pc_mine(b, 0, 0, NULL, NULL), PC_OK);
}

/* ---- one mutation per rule ---- */

static void m_none(pc_block *b)
{
    (void)b;
}
static void m_height_zero(pc_block *b)
{
    b->height = 0;
}
static void m_height_huge(pc_block *b)
{
    b->height = (uint64_t)PC_MAX_SAFE_INTEGER + 1;
}
static void m_ts_negative(pc_block *b)
{
    b->timestamp = -1;
}
static void m_ts_huge(pc_block *b)
{
    b->timestamp = PC_MAX_SAFE_INTEGER + 1;
}
static void m_nonce_huge(pc_block *b)
{
    b->nonce = (uint64_t)PC_MAX_SAFE_INTEGER + 1;
}
static void m_difficulty_256(pc_block *b)
{
    b->difficulty = 256;
}
static void m_too_many_items(pc_block *b)
{
    force_data(b, PC_MAX_DATA_ITEMS + 1, 1, 'x');
}
static void m_item_too_large(pc_block *b)
{
    force_data(b, 1, PC_MAX_DATA_ITEM_BYTES + 1, 'x');
}
static void m_total_too_large(pc_block *b)
{
    force_data(b, PC_MAX_BLOCK_DATA_BYTES / PC_MAX_DATA_ITEM_BYTES + 1, PC_MAX_DATA_ITEM_BYTES,
               'x');
}
static void m_data_at_limits(pc_block *b)
{
    force_data(b, PC_MAX_BLOCK_DATA_BYTES / PC_MAX_DATA_ITEM_BYTES, PC_MAX_DATA_ITEM_BYTES, 'y');
}
static void m_many_items_ok(pc_block *b)
{
    force_data(b, PC_MAX_DATA_ITEMS, 3, 'z');
}
static void m_bad_utf8(pc_block *b)
{
    force_data(b, 2, 4, 'a');
    b->data[1][2] = (char)0xff;
    pc_block_update_merkle(b);
}
static void m_embedded_nul(pc_block *b)
{
    force_data(b, 1, 5, 'a');
    b->data[0][2] = '\0';
    pc_block_update_merkle(b);
}
static void m_version(pc_block *b)
{
    b->version = 2;
}
static void m_version_zero(pc_block *b)
{
    b->version = 0;
}
static void m_height_plus(pc_block *b)
{
    b->height++;
}
static void m_height_minus(pc_block *b)
{
    b->height--;
}
static void m_prev(pc_block *b)
{
    b->previous_hash.b[31] ^= 1;
}
static void m_merkle(pc_block *b)
{
    b->merkle_root.b[0] ^= 0x80;
}
static void m_data_changed(pc_block *b)
{
    b->data[0][0] ^= 1; /* still ASCII; merkle root no longer matches */
}
static void m_hash(pc_block *b)
{
    b->hash.b[31] ^= 1; /* still meets the difficulty, but is not the hash */
}
static void m_pow(pc_block *b)
{
    /* A correct hash that misses the difficulty. */
    for (b->nonce = 0;; b->nonce++) {
        pc_block_compute_hash(b, &b->hash);
        if (!pc_hash_meets_difficulty(&b->hash, b->difficulty))
            break;
    }
}
static void m_difficulty_up(pc_block *b)
{
    b->difficulty++;
}
static void m_difficulty_down(pc_block *b)
{
    b->difficulty--;
}
static void m_time_at_mtp(pc_block *b)
{
    b->timestamp = pc_chain_median_time_past(chain, pc_chain_height(chain));
}
static void m_time_after_mtp(pc_block *b)
{
    b->timestamp = pc_chain_median_time_past(chain, pc_chain_height(chain)) + 1;
}
static void m_time_future(pc_block *b)
{
    b->timestamp = now + PC_MAX_FUTURE_SECONDS + 1;
}
static void m_time_future_edge(pc_block *b)
{
    b->timestamp = now + PC_MAX_FUTURE_SECONDS;
}
/* Two faults: the one earlier in the documented order wins. */
static void m_version_and_range(pc_block *b)
{
    b->version = 7;
    b->difficulty = 300;
}
static void m_height_and_prev(pc_block *b)
{
    b->height += 5;
    b->previous_hash.b[0] ^= 1;
}
static void m_prev_and_merkle(pc_block *b)
{
    b->previous_hash.b[0] ^= 1;
    b->merkle_root.b[0] ^= 1;
}
static void m_merkle_and_difficulty(pc_block *b)
{
    b->merkle_root.b[0] ^= 1;
    b->difficulty++;
}
static void m_difficulty_and_time(pc_block *b)
{
    b->difficulty++;
    b->timestamp = 0;
}
static void m_old_and_utf8(pc_block *b)
{
    m_bad_utf8(b);
    b->timestamp = 0;
}

struct row {
    const char *name;
    void (*mutate)(pc_block *b);
    int remine;       /* re-mine after mutating, so hash and PoW are right */
    int want;         /* from pc_chain_check_next */
    int context_free; /* pc_block_check gives the same code */
};

static const struct row rows[] = {
    {"valid", m_none, 0, PC_OK, 1},
    {"height 0", m_height_zero, 1, PC_E_RANGE, 1},
    {"height 2^53", m_height_huge, 1, PC_E_RANGE, 1},
    {"timestamp -1", m_ts_negative, 1, PC_E_RANGE, 1},
    {"timestamp 2^53", m_ts_huge, 1, PC_E_RANGE, 1},
    {"nonce 2^53", m_nonce_huge, 0, PC_E_RANGE, 1},
    {"difficulty 256", m_difficulty_256, 0, PC_E_RANGE, 1},
    {"1001 data items", m_too_many_items, 1, PC_E_TOO_LARGE, 1},
    {"data item 65537 bytes", m_item_too_large, 1, PC_E_TOO_LARGE, 1},
    {"data 1 MiB + 64 KiB", m_total_too_large, 1, PC_E_TOO_LARGE, 1},
    {"data exactly 1 MiB", m_data_at_limits, 1, PC_OK, 1},
    {"exactly 1000 items", m_many_items_ok, 1, PC_OK, 1},
    {"invalid UTF-8", m_bad_utf8, 1, PC_E_UTF8, 1},
    {"embedded NUL", m_embedded_nul, 1, PC_E_UTF8, 1},
    {"version 2", m_version, 1, PC_E_VERSION, 1},
    {"version 0", m_version_zero, 1, PC_E_VERSION, 1},
    {"height + 1", m_height_plus, 1, PC_E_HEIGHT, 0},
    {"height - 1", m_height_minus, 1, PC_E_HEIGHT, 0},
    {"previousHash", m_prev, 1, PC_E_PREV_HASH, 0},
    {"merkleRoot", m_merkle, 1, PC_E_MERKLE, 1},
    {"data changed", m_data_changed, 1, PC_E_MERKLE, 1},
    {"hash", m_hash, 0, PC_E_HASH, 1},
    {"proof of work", m_pow, 0, PC_E_POW, 1},
    {"difficulty + 1", m_difficulty_up, 1, PC_E_DIFFICULTY, 0},
    {"difficulty - 1", m_difficulty_down, 1, PC_E_DIFFICULTY, 0},
    {"timestamp = MTP", m_time_at_mtp, 1, PC_E_TIME_OLD, 0},
    {"timestamp = MTP + 1", m_time_after_mtp, 1, PC_OK, 0},
    {"timestamp > now + 2h", m_time_future, 1, PC_E_TIME_FUTURE, 0},
    {"timestamp = now + 2h", m_time_future_edge, 1, PC_OK, 0},
    /* order between rules */
    {"range before version", m_version_and_range, 0, PC_E_RANGE, 1},
    {"height before prev", m_height_and_prev, 1, PC_E_HEIGHT, 0},
    {"prev before merkle", m_prev_and_merkle, 1, PC_E_PREV_HASH, 0},
    {"merkle before difficulty", m_merkle_and_difficulty, 1, PC_E_MERKLE, 0},
    {"difficulty before time", m_difficulty_and_time, 1, PC_E_DIFFICULTY, 0},
    {"limits before time", m_old_and_utf8, 1, PC_E_UTF8, 0},
};

static void run_row(const struct row *r)
{
    pc_block *b = testnet_mine_next(chain, now, "payload");
    const pc_block *tip = pc_chain_tip(chain);
    uint64_t height_before = pc_chain_height(chain);
    struct pc_err err = {0};
    char want_reason[40];
    int rc;

    CHECK(b != NULL);
    if (!b)
        return;
    r->mutate(b);
    if (r->remine)
        remine(b);
    rc = pc_chain_check_next(chain, b, now, &err);
    if (rc != r->want)
        fprintf(stderr, "row '%s': got %s (%s), want %s\n", r->name, pc_errname(rc), err.reason,
                pc_errname(r->want));
    CHECK_EQ_INT(rc, r->want);
    if (r->context_free) {
        struct pc_err err2 = {0};
        CHECK_EQ_INT(pc_block_check(b, &err2), r->want);
    }
    if (r->want != PC_OK) {
        /* "block 17: ...": the reason names the block's (claimed) height. */
        snprintf(want_reason, sizeof want_reason, "block %llu: ", (unsigned long long)b->height);
        CHECK_EQ_INT(err.code, r->want);
        CHECK(strncmp(err.reason, want_reason, strlen(want_reason)) == 0);
        CHECK(strchr(err.reason, '\n') == NULL);
        CHECK_EQ_INT(pc_chain_append(chain, b, now, NULL), r->want);
        CHECK_EQ_INT(pc_chain_height(chain), height_before);
        CHECK(pc_chain_tip(chain) == tip);
        pc_block_free(b);
    } else {
        /* Valid rows are checked, not appended, so every row sees the
         * same chain. */
        pc_block_free(b);
    }
}

int main(void)
{
    chain = testnet_regtest_chain();
    CHECK(chain != NULL);
    if (!chain)
        return check_summary();
    /* Twelve blocks, a minute apart, so that the median time past is a
     * real median of 11. */
    CHECK_EQ_INT(testnet_grow(chain, 12, 60, "grow"), PC_OK);
    now = pc_chain_tip(chain)->timestamp + 30;

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        run_row(&rows[i]);

    /* The genesis rule belongs to evaluate: a block list that starts at
     * height 1 with a genesis that is not ours. */
    {
        pc_block *g = pc_network_genesis(pc_network_find("main"));
        pc_block *list[1] = {g};
        pc_branch *br = NULL;
        struct pc_err err = {0};
        CHECK_EQ_INT(pc_chain_evaluate(chain, list, 1, now, &br, &err), PC_E_GENESIS);
        CHECK(br == NULL);
        CHECK(strncmp(err.reason, "block 1: ", 9) == 0);
        pc_block_free(list[0]);
    }
    pc_chain_free(chain);
    return check_summary();
}
