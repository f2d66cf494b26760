/*
 * Named networks: each has a network id (exchanged in `hello`), a constant
 * genesis block and its consensus parameters. The table is static and
 * immutable; safe from any thread.
 */
#ifndef PEERCHAIN_NETWORK_H
#define PEERCHAIN_NETWORK_H

#include <stdint.h>

#include "peerchain/block.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pc_network {
    const char *name;            /* "main", "regtest" */
    const char *id;              /* network id on the wire, e.g. "peerchain-main-1" */
    uint32_t genesis_difficulty; /* difficulty of genesis and of blocks before the first retarget */
    uint32_t min_difficulty;     /* retarget never goes below this */
    uint32_t retarget_interval;  /* N: blocks per retarget window; 0 = difficulty never changes */
    int64_t target_spacing_s;    /* intended seconds between blocks */
    /* genesis header fields; data is genesis_data (one string) */
    int64_t genesis_timestamp;
    uint64_t genesis_nonce;
    const char *genesis_data;
    const char *genesis_hash_hex; /* expected hash, checked by pc_network_genesis() and tests */
} pc_network;

/* Looks up a network by name. NULL if unknown. */
const pc_network *pc_network_find(const char *name);

/* The table, for listing in --help: *n gets the count. */
const pc_network *pc_network_all(size_t *n);

/* A new copy of the network's genesis block (caller frees with pc_block_free),
 * or NULL on allocation failure. */
pc_block *pc_network_genesis(const pc_network *net);

#ifdef __cplusplus
}
#endif
#endif
