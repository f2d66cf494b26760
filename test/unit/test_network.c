/*
 * Unit tests for network.c: lookup, the table's parameters as
 * docs/protocol.md states them, and genesis blocks that are valid, fresh
 * copies each time, and the start of a usable chain. (Genesis hashes against
 * the document: test_vectors.c.)
 */
#include <string.h>

#include "check.h"
#include "peerchain/peerchain.h"

/* The parameters as docs/protocol.md ("Networks") states them. */
static const pc_network expect[] = {
    {.name = "main",
     .id = "peerchain-main-1",
     .genesis_difficulty = 16,
     .min_difficulty = 16,
     .retarget_interval = 10,
     .target_spacing_s = 60,
     .genesis_data = "peerchain genesis: main 2026-01-01"},
    {.name = "regtest",
     .id = "peerchain-regtest-1",
     .genesis_difficulty = 4,
     .min_difficulty = 4,
     .retarget_interval = 0,
     .target_spacing_s = 1,
     .genesis_data = "peerchain genesis: regtest"},
};

static void check_genesis(const pc_network *net)
{
    pc_block *a = pc_network_genesis(net);
    pc_block *b = pc_network_genesis(net);
    char hex[PC_HASH_HEX_CHARS + 1];

    CHECK(a && b && a != b);
    if (!a || !b)
        goto out;
    CHECK_EQ_INT(a->version, PC_BLOCK_VERSION);
    CHECK_EQ_INT(a->height, 1);
    CHECK_EQ_INT(a->timestamp, 1767225600);
    CHECK(pc_hash_is_zero(&a->previous_hash));
    CHECK_EQ_INT(a->difficulty, net->genesis_difficulty);
    CHECK_EQ_INT(a->nonce, net->genesis_nonce);
    CHECK_EQ_INT(a->n_data, 1);
    CHECK_EQ_STR(a->data[0], net->genesis_data);
    pc_hash_to_hex(&a->hash, hex);
    CHECK_EQ_STR(hex, net->genesis_hash_hex);
    CHECK_EQ_INT(pc_block_check(a, NULL), PC_OK);
    /* The nonce is the first that works: nothing below it meets the
     * difficulty. */
    for (uint64_t n = 0; n < a->nonce; n++) {
        pc_hash h;
        b->nonce = n;
        pc_block_compute_hash(b, &h);
        if (pc_hash_meets_difficulty(&h, b->difficulty)) {
            CHECK(!"an earlier nonce meets the genesis difficulty");
            break;
        }
    }
out:
    pc_block_free(a);
    pc_block_free(b);
}

int main(void)
{
    const pc_network *all;
    size_t n = 0;

    if (pc_crypto_init() != PC_OK)
        return 2;
    CHECK(pc_network_find("testnet") == NULL);
    CHECK(pc_network_find("") == NULL);
    CHECK(pc_network_find("Main") == NULL);
    CHECK(pc_network_find(NULL) == NULL);
    all = pc_network_all(&n);
    CHECK_EQ_INT(n, sizeof expect / sizeof expect[0]);
    for (size_t i = 0; i < n; i++)
        CHECK(pc_network_find(all[i].name) == &all[i]);

    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        const pc_network *net = pc_network_find(expect[i].name);
        CHECK(net != NULL);
        if (!net)
            continue;
        CHECK_EQ_STR(net->id, expect[i].id);
        CHECK_EQ_INT(net->genesis_difficulty, expect[i].genesis_difficulty);
        CHECK_EQ_INT(net->min_difficulty, expect[i].min_difficulty);
        CHECK_EQ_INT(net->retarget_interval, expect[i].retarget_interval);
        CHECK_EQ_INT(net->target_spacing_s, expect[i].target_spacing_s);
        CHECK_EQ_STR(net->genesis_data, expect[i].genesis_data);
        check_genesis(net);
    }
    return check_summary();
}
