/*
 * The named networks and their genesis blocks (network.h; docs/protocol.md,
 * "Networks").
 *
 * Each genesis block is a constant of its network: nodes never receive it
 * from a peer, they build it from this table. The nonces were found once by
 * mining (the first nonce from 0 that meets the genesis difficulty) and the
 * resulting hashes are written here and in docs/protocol.md, where
 * test_vectors.c checks that the code still produces them.
 *
 * Static, immutable table; safe from any thread.
 */
#include <assert.h>
#include <string.h>

#include "peerchain/limits.h"
#include "peerchain/network.h"

static const pc_network network_table[] = {
    {
        .name = "main",
        .id = "peerchain-main-1",
        .genesis_difficulty = 16,
        .min_difficulty = 16,
        .retarget_interval = 10,
        .target_spacing_s = 60,
        .genesis_timestamp = 1767225600, /* 2026-01-01T00:00:00Z */
        .genesis_nonce = 5993,
        .genesis_data = "peerchain genesis: main 2026-01-01",
        .genesis_hash_hex = "0000b6c68f2e1b9d13f3e8e8c65cb1e70c16686ec4c06d7f35050d1f14f90812",
    },
    {
        .name = "regtest",
        .id = "peerchain-regtest-1",
        .genesis_difficulty = 4,
        .min_difficulty = 4,
        .retarget_interval = 0, /* fixed difficulty: tests mine quickly */
        .target_spacing_s = 1,
        .genesis_timestamp = 1767225600,
        .genesis_nonce = 24,
        .genesis_data = "peerchain genesis: regtest",
        .genesis_hash_hex = "0b305c01266bc8ea1bea22ce55b8e33d4f10aa90f82b55412a50f8be96677648",
    },
};

#define NETWORK_COUNT (sizeof network_table / sizeof network_table[0])

const pc_network *pc_network_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < NETWORK_COUNT; i++) {
        if (strcmp(network_table[i].name, name) == 0)
            return &network_table[i];
    }
    return NULL;
}

const pc_network *pc_network_all(size_t *n)
{
    if (n)
        *n = NETWORK_COUNT;
    return network_table;
}

#ifndef NDEBUG
static bool network_genesis_matches(const pc_network *net, const pc_block *b)
{
    pc_hash want;
    const char *hex = net->genesis_hash_hex;

    return hex && pc_hash_from_hex(hex, strlen(hex), &want) == PC_OK &&
           pc_hash_equal(&want, &b->hash);
}
#endif

pc_block *pc_network_genesis(const pc_network *net)
{
    const char *item = net->genesis_data;
    size_t len;
    pc_block *b;

    assert(item);
    len = strlen(item);
    b = pc_block_new();
    if (!b)
        return NULL;
    b->version = PC_BLOCK_VERSION;
    b->height = 1;
    b->timestamp = net->genesis_timestamp;
    /* previous_hash stays all zero: genesis has no parent. */
    b->difficulty = net->genesis_difficulty;
    b->nonce = net->genesis_nonce;
    /* The data is a constant of the network, so a limit failure here is a
     * bad table, which the vectors test catches; allocation is the only
     * failure left at run time. */
    if (pc_block_set_data(b, &item, &len, 1, NULL) != PC_OK || pc_block_update_merkle(b) != PC_OK) {
        pc_block_free(b);
        return NULL;
    }
    pc_block_compute_hash(b, &b->hash);
    /* An invariant of the table, not input. */
    assert(network_genesis_matches(net, b));
    return b;
}
