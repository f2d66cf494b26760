/*
 * peerchain-stress: a valid regtest chain made on the spot, as JSON pages.
 *
 * Deterministic: block h has timestamp genesis + (h - 1) s and the one data
 * string "generated block h", and is mined from nonce 0, so the same height
 * always gives the same chain (and the same JSON) in every run and in
 * bench/gen_chain.c. Pages hold GEN_PAGE_BLOCKS blocks, the most one
 * allBlock offer or getBlocks answer carries.
 */
#ifndef PC_STRESS_GEN_H
#define PC_STRESS_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "peerchain/peerchain.h"

#define GEN_PAGE_BLOCKS PC_GETBLOCKS_MAX_BLOCKS
#define GEN_MAX_HEIGHT 10000000u

struct gen_chain {
    uint64_t height;  /* tip height (genesis is 1) */
    char **pages;     /* JSON arrays of the blocks at heights 2.., owned */
    size_t *page_len; /* bytes of each page */
    size_t n_pages;
    size_t json_bytes; /* sum of page_len */
    char tip_hash[PC_HASH_HEX_CHARS + 1];
    pc_block *tip; /* owned */
    pc_work work;  /* cumulative work at the tip */
};

/* Makes the chain up to `height` (>= 1) on net. 0 or -1 (error printed).
 * Free with gen_destroy. */
int gen_make(struct gen_chain *g, const pc_network *net, uint64_t height);
void gen_destroy(struct gen_chain *g);

/*
 * Jansson's parse rate on this chain's JSON in the form a syncing node
 * receives it: each page wrapped as a `blocks` message, parsed with
 * json_loadb and JSON_REJECT_DUPLICATES (as peerchaind does). Best of
 * `repeats`. Returns blocks per second (0 for an empty chain).
 */
double gen_parse_rate(const struct gen_chain *g, unsigned repeats);

#endif
