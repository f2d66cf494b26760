/*
 * Blocks: the in-memory form, the canonical header preimage and hash, the
 * context-free checks, and the JSON codec.
 *
 * A block's fields are those of the seed design's IBlock. Context-free checks
 * (pc_block_check) need nothing but the block itself; checks against a parent
 * and the chain behind it live in chain.h.
 *
 * Ownership: a pc_block owns its data strings. pc_block_free(NULL) is a no-op.
 * Thread safety: a block is a plain value; share it read-only or not at all.
 */
#ifndef PEERCHAIN_BLOCK_H
#define PEERCHAIN_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "peerchain/errors.h"
#include "peerchain/hash.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pc_block {
    uint32_t version;      /* PC_BLOCK_VERSION */
    uint64_t height;       /* genesis is 1 */
    int64_t timestamp;     /* Unix seconds, 0..PC_MAX_SAFE_INTEGER */
    pc_hash previous_hash; /* all zero for genesis */
    pc_hash merkle_root;
    uint64_t nonce;      /* 0..PC_MAX_SAFE_INTEGER */
    uint32_t difficulty; /* 0..PC_MAX_DIFFICULTY */
    size_t n_data;
    char **data;      /* n_data NUL-terminated UTF-8 strings, owned */
    size_t *data_len; /* byte length of each string, owned */
    pc_hash hash;
} pc_block;

/* A new block with zeroed header and no data. NULL on allocation failure.
 * Caller frees with pc_block_free(). */
pc_block *pc_block_new(void);
void pc_block_free(pc_block *b);

/* Deep copy. NULL on allocation failure. */
pc_block *pc_block_clone(const pc_block *b);

/* Replaces b's data with copies of the n strings. Checks the data limits and
 * UTF-8 (PC_E_TOO_LARGE, PC_E_UTF8) before changing anything. Does not
 * recompute the merkle root. */
int pc_block_set_data(pc_block *b, const char *const *items, const size_t *lens, size_t n,
                      struct pc_err *err);

/* Recomputes merkle_root from data. 0 or PC_E_NOMEM. */
int pc_block_update_merkle(pc_block *b);

/*
 * The hash preimage (docs/protocol.md "Block hash"): the decimal forms of
 * version, height, timestamp, then merkleRoot and previousHash as lowercase
 * hex, then difficulty and nonce in decimal, concatenated with no separators.
 * Decimal: ASCII digits, no sign, no leading zeros, "0" for zero.
 */
#define PC_PREIMAGE_MAX_BYTES (10 + 20 + 20 + 64 + 64 + 10 + 20 + 1)

/* Writes the preimage (not NUL-terminated) into out; returns its length. */
size_t pc_block_preimage(const pc_block *b, char out[PC_PREIMAGE_MAX_BYTES]);

/* SHA-256 of the preimage. */
void pc_block_compute_hash(const pc_block *b, pc_hash *out);

/* True if hash has at least `difficulty` leading zero bits. */
bool pc_hash_meets_difficulty(const pc_hash *h, uint32_t difficulty);

/*
 * Context-free validity: version, ranges, data limits and UTF-8, merkle root,
 * recomputed hash, proof of work. Returns 0 or the first failing rule's code
 * (PC_E_VERSION, PC_E_RANGE, PC_E_TOO_LARGE, PC_E_UTF8, PC_E_MERKLE,
 * PC_E_HASH, PC_E_POW, PC_E_NOMEM), with a reason in err.
 */
int pc_block_check(const pc_block *b, struct pc_err *err);

/* ---- JSON codec ---- */

/* New JSON object with the nine fields (hashes as lowercase hex). Caller owns
 * the reference (json_decref). NULL on allocation failure. */
json_t *pc_block_to_json(const pc_block *b);

/*
 * Writes b as compact JSON text into buf (no NUL is written): byte for byte
 * what json_dumps(pc_block_to_json(b), JSON_COMPACT) gives, without building
 * a JSON tree. Returns the text's length; when that exceeds cap, nothing
 * useful is in buf and the caller retries with a buffer that large. b's data
 * must be valid UTF-8 without NUL (what pc_block_from_json and
 * pc_block_set_data accept).
 */
size_t pc_block_write_json(const pc_block *b, char *buf, size_t cap);

/*
 * Parses a block from a JSON object. Never trusts input: every field must be
 * present with the right type (extra fields are ignored), integers in range,
 * hashes 64 lowercase hex chars, data an array of at most PC_MAX_DATA_ITEMS
 * strings within the byte limits. Does NOT check merkle, hash or PoW (see
 * pc_block_check). On success *out is a new block the caller frees; on failure
 * *out is NULL and err says which field and why.
 */
int pc_block_from_json(const json_t *j, pc_block **out, struct pc_err *err);

/* Parses a JSON array of blocks; at most max_blocks (else PC_E_TOO_LARGE).
 * On success *out is a new array of *n_out new blocks: free with
 * pc_blocks_free(*out, *n_out). On failure nothing is returned. */
int pc_blocks_from_json(const json_t *arr, size_t max_blocks, pc_block ***out, size_t *n_out,
                        struct pc_err *err);
void pc_blocks_free(pc_block **blocks, size_t n);

/* JSON array of n blocks. New reference, NULL on allocation failure. */
json_t *pc_blocks_to_json(const pc_block *const *blocks, size_t n);

#ifdef __cplusplus
}
#endif
#endif
