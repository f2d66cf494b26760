/*
 * Helpers shared by the unit tests: networks made up for a test (with a
 * genesis mined on the spot, since pc_network_genesis insists on a matching
 * hash) and mining blocks onto a chain. Header-only because CMake builds each
 * test_*.c as its own executable. Difficulties stay small (<= 8) so that a
 * test mines in microseconds.
 */
#ifndef PC_TEST_TESTNET_H
#define PC_TEST_TESTNET_H

#include <stdlib.h>
#include <string.h>

#include "peerchain/peerchain.h"

/* Starts the crypto library and returns a new regtest chain (genesis
 * only), or NULL: the usual start of a test's main(). */
static inline pc_chain *testnet_regtest_chain(void)
{
    if (pc_crypto_init() != PC_OK)
        return NULL;
    return pc_chain_new(pc_network_find("regtest"));
}

/* A network whose hash hex lives next to it. */
struct testnet {
    pc_network net;
    char hash_hex[PC_HASH_HEX_CHARS + 1];
};

/* Fills tn with a network of the given rules and mines its genesis.
 * Returns 0, or -1 if something failed (a test bug). */
static inline int testnet_init(struct testnet *tn, const char *name, uint32_t genesis_difficulty,
                               uint32_t min_difficulty, uint32_t retarget_interval,
                               int64_t spacing_s)
{
    const char *item = name;
    size_t len = strlen(item);
    pc_block *g = pc_block_new();
    int rc = -1;

    memset(tn, 0, sizeof *tn);
    tn->net.name = name;
    tn->net.id = name;
    tn->net.genesis_difficulty = genesis_difficulty;
    tn->net.min_difficulty = min_difficulty;
    tn->net.retarget_interval = retarget_interval;
    tn->net.target_spacing_s = spacing_s;
    tn->net.genesis_timestamp = 1767225600;
    tn->net.genesis_data = name;
    if (!g)
        return -1;
    g->version = PC_BLOCK_VERSION;
    g->height = 1;
    g->timestamp = tn->net.genesis_timestamp;
    g->difficulty = genesis_difficulty;
    if (pc_block_set_data(g, &item, &len, 1, NULL) == 0 && pc_block_update_merkle(g) == 0 &&
        pc_mine(g, 0, 0, NULL, NULL) == 0) {
        tn->net.genesis_nonce = g->nonce;
        pc_hash_to_hex(&g->hash, tn->hash_hex);
        tn->net.genesis_hash_hex = tn->hash_hex;
        rc = 0;
    }
    pc_block_free(g);
    return rc;
}

/* A new mined block on c's tip with one data item and the given timestamp
 * (raised to median time past + 1 if needed). NULL on failure. */
static inline pc_block *testnet_mine_next(const pc_chain *c, int64_t ts, const char *datum)
{
    struct pc_template_base base;
    size_t len = datum ? strlen(datum) : 0;
    pc_block *b;

    pc_chain_template_base(c, &base);
    b = pc_block_template(&base, datum ? &datum : NULL, datum ? &len : NULL, datum ? 1 : 0, ts,
                          NULL);
    if (b && pc_mine(b, 0, 0, NULL, NULL) != 0) {
        pc_block_free(b);
        b = NULL;
    }
    return b;
}

/* Appends n mined blocks, each `step` seconds after the tip, with datum as
 * data. 0 or the first failure's code. */
static inline int testnet_grow(pc_chain *c, size_t n, int64_t step, const char *datum)
{
    for (size_t i = 0; i < n; i++) {
        int64_t ts = pc_chain_tip(c)->timestamp + step;
        pc_block *b = testnet_mine_next(c, ts, datum);
        int rc;
        if (!b)
            return PC_E_NOMEM;
        rc = pc_chain_append(c, b, ts, NULL);
        if (rc != 0) {
            pc_block_free(b);
            return rc;
        }
    }
    return 0;
}

/* Deep copies of c's blocks from height `from` to the tip, for offering to
 * another chain. *n gets the count. NULL on allocation failure. */
static inline pc_block **testnet_copy_blocks(const pc_chain *c, uint64_t from, size_t *n)
{
    uint64_t tip = pc_chain_height(c);
    size_t count = from <= tip ? (size_t)(tip - from + 1) : 0;
    pc_block **v = calloc(count ? count : 1, sizeof *v);

    *n = 0;
    if (!v)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        v[i] = pc_block_clone(pc_chain_at(c, from + i));
        if (!v[i]) {
            pc_blocks_free(v, i);
            return NULL;
        }
    }
    *n = count;
    return v;
}

#endif
