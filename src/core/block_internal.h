/*
 * Block helpers shared inside the core library, not part of the public API.
 *
 * Validation is split in two stages so that chain.c can slot its contextual
 * rules between them and keep the one documented order (docs/protocol.md,
 * "Validation order"): form (ranges, limits, version) -> height ->
 * previousHash -> proof (merkle, hash, proof of work) -> difficulty -> time.
 * Pure; safe from any thread.
 */
#ifndef PC_CORE_BLOCK_INTERNAL_H
#define PC_CORE_BLOCK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "peerchain/block.h"

/* Bytes of the preimage before the nonce, at most. */
#define BLOCK_PREFIX_MAX_BYTES (PC_PREIMAGE_MAX_BYTES - 20 - 1)

/* Writes the preimage without its final field, the nonce, into out (not
 * NUL-terminated); returns its length. The miner hashes this once. */
size_t block_preimage_prefix(const pc_block *b, char out[BLOCK_PREFIX_MAX_BYTES]);

/* Data limits, then UTF-8: PC_E_TOO_LARGE or PC_E_UTF8 with a reason naming
 * the block height and the item, or 0. */
int block_check_data(const char *const *items, const size_t *lens, size_t n, uint64_t height,
                     struct pc_err *err);

/* Stage 1: field ranges, data limits and UTF-8, then the version.
 * PC_E_RANGE, PC_E_TOO_LARGE, PC_E_UTF8, PC_E_VERSION or 0. */
int block_check_form(const pc_block *b, struct pc_err *err);

/* Stage 2: merkle root, recomputed hash, proof of work.
 * PC_E_MERKLE, PC_E_HASH, PC_E_POW, PC_E_NOMEM or 0. */
int block_check_proof(const pc_block *b, struct pc_err *err);

#endif
