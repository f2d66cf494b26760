/*
 * The chain: an ordered list of valid blocks from genesis to tip, with the
 * cumulative work at each height and a hash index; contextual validation
 * (parent link, expected difficulty, median time past, future limit); and
 * fork choice between our chain and a competing branch.
 *
 * Consensus code is pure: the current time is always an argument (`now`, Unix
 * seconds), there is no global state and no locking. A pc_chain is not
 * thread-safe: in peerchaind only the chain worker holds and changes one;
 * everyone else reads a snapshot the worker publishes.
 *
 * Fork choice: a branch replaces our chain only if its cumulative work
 * (sum over its blocks of 2^difficulty) is strictly greater; at equal work
 * we keep the chain we saw first. Only the blocks after the fork point are
 * validated, against the ancestors they build on.
 *
 * Returned block pointers are borrowed from the chain: valid until the next
 * call that changes it (append, adopt, load, free).
 *
 * Two modes share every rule. A full chain (pc_chain_new) keeps every block.
 * An index chain (pc_chain_new_index) keeps per height only what validation
 * and fork choice read (hash, timestamp, difficulty, cumulative work) plus
 * the hash index, and the tip block in full: memory stays small as the chain
 * grows, and the blocks themselves live elsewhere (peerchaind: in LMDB).
 */
#ifndef PEERCHAIN_CHAIN_H
#define PEERCHAIN_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peerchain/block.h"
#include "peerchain/errors.h"
#include "peerchain/hash.h"
#include "peerchain/network.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- rules as pure functions (table-tested) ---- */

/*
 * Expected difficulty of the block at parent_height + 1 (docs/protocol.md
 * "Difficulty retarget"). With N = net->retarget_interval and T =
 * net->target_spacing_s: if N == 0, or parent_height < N + 1, or
 * (parent_height - 1) % N != 0, the parent's difficulty. Otherwise
 * actual = parent_ts - window_start_ts (window_start_ts is the timestamp of
 * the block at parent_height - N) against expected = N * T:
 * 2*actual < expected -> parent + 1 (at most PC_MAX_DIFFICULTY);
 * actual > 2*expected -> parent - 1 (at least net->min_difficulty);
 * otherwise unchanged.
 */
uint32_t pc_retarget(const pc_network *net, uint64_t parent_height, uint32_t parent_difficulty,
                     int64_t parent_ts, int64_t window_start_ts);

/* True if parent_height is a retarget point (the rule above needs a window). */
bool pc_is_retarget_height(const pc_network *net, uint64_t parent_height);

/* Median of n >= 1 timestamps: sorted ascending, the element at index n/2. */
int64_t pc_median_time(const int64_t *ts, size_t n);

/* ---- the chain ---- */

typedef struct pc_chain pc_chain;

/* A new chain holding only net's genesis. NULL on allocation failure.
 * Free with pc_chain_free(). */
pc_chain *pc_chain_new(const pc_network *net);
/* The same in index mode (see the top of the file). */
pc_chain *pc_chain_new_index(const pc_network *net);
void pc_chain_free(pc_chain *c);
bool pc_chain_is_index(const pc_chain *c);

/*
 * Loading an index chain from trusted storage (its blocks were validated
 * when they were stored): pc_chain_load_header appends the entry for height
 * pc_chain_height(c) + 1 without validation (the hash must not be in the
 * chain yet, difficulty <= PC_MAX_DIFFICULTY); then pc_chain_load_tip hands
 * over the block at the last height, which must match that entry (hash,
 * timestamp, difficulty, height, and previousHash the entry below). Between
 * the two, pc_chain_tip is NULL and nothing else may be called. Both return
 * 0, PC_E_NOMEM, or PC_E_ARG (full chain, or no match: the chain is then
 * unchanged). On success of load_tip the chain owns tip.
 */
int pc_chain_load_header(pc_chain *c, const pc_hash *hash, int64_t ts, uint32_t difficulty);
int pc_chain_load_tip(pc_chain *c, pc_block *tip);
/* Makes room for a chain of `height` blocks (both modes), so that growing to
 * it (a load, a long adoption) does not reallocate or rehash on the way.
 * 0 or PC_E_NOMEM (the chain is unchanged either way). */
int pc_chain_reserve(pc_chain *c, uint64_t height);

const pc_network *pc_chain_network(const pc_chain *c);
uint64_t pc_chain_height(const pc_chain *c); /* tip height (>= 1) */
const pc_block *pc_chain_tip(const pc_chain *c);
/* NULL if out of range; in index mode also NULL below the tip (read old
 * blocks from where they are stored, e.g. pc_store_get_block). */
const pc_block *pc_chain_at(const pc_chain *c, uint64_t height);
/* NULL if not in the chain; in index mode also NULL below the tip. */
const pc_block *pc_chain_find(const pc_chain *c, const pc_hash *h);
/* Both modes: the hash at a height, and the height of a hash.
 * 0 or PC_E_NOT_FOUND. */
int pc_chain_hash_at(const pc_chain *c, uint64_t height, pc_hash *out);
int pc_chain_find_height(const pc_chain *c, const pc_hash *h, uint64_t *height);
void pc_chain_work(const pc_chain *c, pc_work *out);                    /* cumulative work at tip */
int pc_chain_work_at(const pc_chain *c, uint64_t height, pc_work *out); /* 0 or PC_E_NOT_FOUND */

/* Median time past of the (up to) 11 blocks ending at height. */
int64_t pc_chain_median_time_past(const pc_chain *c, uint64_t height);
/* Expected difficulty of a block whose parent is at parent_height. */
uint32_t pc_chain_next_difficulty(const pc_chain *c, uint64_t parent_height);

/*
 * Full validation of b as the next block after our tip: pc_block_check plus
 * height, previousHash, expected difficulty, timestamp > median time past and
 * timestamp <= now + PC_MAX_FUTURE_SECONDS. 0 or the failing rule's code.
 */
int pc_chain_check_next(const pc_chain *c, const pc_block *b, int64_t now, struct pc_err *err);

/* Validates b with pc_chain_check_next and appends it. On success the chain
 * owns b; on failure the caller still owns it and the chain is unchanged. */
int pc_chain_append(pc_chain *c, pc_block *b, int64_t now, struct pc_err *err);

/* ---- competing branches ---- */

/*
 * A branch off our chain: a fork point (a height in our chain) and the valid
 * blocks after it, built up one block at a time so that a sync can validate
 * each page as it arrives. The branch remembers the fork block's hash; if the
 * chain no longer has that block at that height, extending or adopting fails
 * with PC_E_NO_FORK_POINT and the caller starts over.
 */
typedef struct pc_branch pc_branch;

/* A new empty branch forking at fork_height (1 <= fork_height <= tip height).
 * NULL on allocation failure or bad height. Free with pc_branch_free(). */
pc_branch *pc_branch_new(const pc_chain *c, uint64_t fork_height);
void pc_branch_free(pc_branch *br);

uint64_t pc_branch_fork_height(const pc_branch *br);
size_t pc_branch_length(const pc_branch *br);       /* blocks after the fork point */
const pc_block *pc_branch_tip(const pc_branch *br); /* NULL if empty */
/* The branch's blocks in height order (*n of them), e.g. to store them before
 * adopting. Borrowed: valid until the branch changes or is freed. */
const pc_block *const *pc_branch_blocks(const pc_branch *br, size_t *n);
/* Cumulative work of the branch tip (work of chain up to fork + branch blocks). */
void pc_branch_work(const pc_branch *br, pc_work *out);

/* Validates b as the next block of the branch (same rules as
 * pc_chain_check_next, with ancestors taken from the branch and then the
 * chain) and appends it. On success the branch owns b. */
int pc_branch_extend(pc_branch *br, const pc_chain *c, pc_block *b, int64_t now,
                     struct pc_err *err);

/* True if the branch tip has strictly more cumulative work than our tip. */
bool pc_branch_beats(const pc_branch *br, const pc_chain *c);

/*
 * Replaces the chain's blocks after the fork point with the branch's, if the
 * branch beats the chain (else PC_E_LESS_WORK, chain untouched). On success
 * the branch is emptied (its blocks now belong to the chain) and may be freed.
 * If old_out is not NULL it receives the removed blocks (caller frees with
 * pc_blocks_free(*old_out, *n_old)); otherwise they are freed. An index chain
 * keeps no old blocks: there *old_out is NULL and *n_old 0.
 */
int pc_chain_adopt(pc_chain *c, pc_branch *br, pc_block ***old_out, size_t *n_old,
                   struct pc_err *err);

/*
 * Convenience for a whole list of blocks (e.g. an `allBlock` offer): skips the
 * leading blocks that are already in our chain, requires the rest to link onto
 * our chain (PC_E_NO_FORK_POINT) and to each other (PC_E_NOT_CONTIGUOUS),
 * validates them into a branch, and returns it in *out when it beats our chain.
 * Returns 0 with *out set (caller adopts or frees; the branch owns the blocks
 * it took and blocks[] entries it took are set to NULL), PC_E_LESS_WORK if
 * valid but not better (*out NULL), or the first failure. The caller always
 * frees the non-NULL entries left in blocks[].
 */
int pc_chain_evaluate(const pc_chain *c, pc_block **blocks, size_t n, int64_t now, pc_branch **out,
                      struct pc_err *err);

/* ---- locators for incremental sync ---- */

/* Fills out with up to max hashes: the tip, then stepping back 1 block at a
 * time for 10 hashes, then doubling the step; the genesis hash is always last.
 * Returns the count. */
size_t pc_chain_locator(const pc_chain *c, pc_hash *out, size_t max);

/* Height of the first locator hash that is in our chain, or 0 if none is. */
uint64_t pc_chain_locate(const pc_chain *c, const pc_hash *locator, size_t n);

#ifdef __cplusplus
}
#endif
#endif
