/*
 * Mining: build a block template on a chain tip and search for a nonce.
 *
 * pc_mine hashes the fixed part of the preimage once and, per attempt, only
 * the decimal nonce that ends it (a copy of the SHA-256 state), so one attempt
 * costs one or two compression-function calls and no allocation.
 *
 * Cancellable from another thread through an atomic flag; otherwise pure.
 */
#ifndef PEERCHAIN_MINER_H
#define PEERCHAIN_MINER_H

#include <stdatomic.h>
#include <stdint.h>

#include "peerchain/block.h"
#include "peerchain/chain.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a template needs to know about the tip it builds on. A plain value, so
 * the node's chain worker can publish it for a miner thread to copy. */
struct pc_template_base {
    uint64_t parent_height;
    pc_hash parent_hash;
    uint32_t difficulty;      /* expected difficulty of the next block */
    int64_t median_time_past; /* of the 11 blocks ending at the parent */
};

/* Fills base from c's tip. */
void pc_chain_template_base(const pc_chain *c, struct pc_template_base *base);

/*
 * A new block to mine on base: version, height = parent + 1, previousHash,
 * difficulty, timestamp = max(now, median time past + 1), the given data and
 * its merkle root, nonce 0, hash unset. NULL on allocation failure or if the
 * data breaks a limit (err says which). Caller frees with pc_block_free.
 */
pc_block *pc_block_template(const struct pc_template_base *base, const char *const *items,
                            const size_t *lens, size_t n, int64_t now, struct pc_err *err);

/*
 * Searches nonces start_nonce, start_nonce + 1, ... for at most max_attempts
 * (0 = until the nonce space ends) until the hash meets b->difficulty. On
 * success sets b->nonce and b->hash and returns 0. Returns PC_E_CANCELLED
 * when *cancel becomes true (checked every few thousand attempts; cancel may
 * be NULL), PC_E_EXHAUSTED when out of attempts. *attempts_out (if not NULL)
 * gets the number of hashes computed.
 */
int pc_mine(pc_block *b, uint64_t start_nonce, uint64_t max_attempts, const atomic_bool *cancel,
            uint64_t *attempts_out);

#ifdef __cplusplus
}
#endif
#endif
