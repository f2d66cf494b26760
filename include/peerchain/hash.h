/*
 * Hashes, hex, merkle roots and cumulative work.
 *
 * A pc_hash holds the 32 raw bytes of a SHA-256 digest; on the wire and in
 * preimages a hash is written as 64 lowercase hex characters, first byte
 * first. Work is a 320-bit unsigned integer (little-endian 64-bit limbs).
 *
 * Pure functions; safe from any thread. pc_crypto_init() must have been
 * called once (it is idempotent) before any function that hashes.
 */
#ifndef PEERCHAIN_HASH_H
#define PEERCHAIN_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peerchain/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pc_hash {
    uint8_t b[PC_HASH_BYTES];
} pc_hash;

typedef struct pc_work {
    uint64_t limb[PC_WORK_LIMBS]; /* limb[0] least significant */
} pc_work;

/* Initialises libsodium. Returns 0, or PC_E_ARG if libsodium cannot start. */
int pc_crypto_init(void);

/* SHA-256 of len bytes. */
void pc_sha256(const void *data, size_t len, pc_hash *out);

/* Writes 64 lowercase hex chars and a NUL into out (65 bytes). */
void pc_hash_to_hex(const pc_hash *h, char out[PC_HASH_HEX_CHARS + 1]);

/* Parses exactly 64 lowercase hex chars (len must be 64). 0 or PC_E_HEX. */
int pc_hash_from_hex(const char *hex, size_t len, pc_hash *out);

bool pc_hash_equal(const pc_hash *a, const pc_hash *b);
bool pc_hash_is_zero(const pc_hash *h);

/* Number of leading zero bits of h read as a 256-bit big-endian number (0..256). */
unsigned pc_hash_leading_zero_bits(const pc_hash *h);

/* Merkle root of n UTF-8 strings (lengths in lens), per docs/protocol.md:
 * leaf = SHA256(0x00 || item), node = SHA256(0x01 || left || right), an odd
 * node at the end of a level is carried up unchanged, and n == 0 gives 32 zero
 * bytes. Returns 0 or PC_E_NOMEM. */
int pc_merkle_root(const char *const *items, const size_t *lens, size_t n, pc_hash *out);

/* ---- work ---- */
void pc_work_zero(pc_work *w);
/* w += 2^bits; bits <= PC_MAX_DIFFICULTY. Cannot overflow for any chain the rules allow. */
void pc_work_add_pow2(pc_work *w, unsigned bits);
void pc_work_add(pc_work *w, const pc_work *x);
/* w -= x; requires w >= x (asserted). */
void pc_work_sub(pc_work *w, const pc_work *x);
/* -1, 0, 1 as a <, ==, > b. */
int pc_work_cmp(const pc_work *a, const pc_work *b);
/* Minimal lowercase hex, no prefix, "0" for zero. out needs PC_WORK_HEX_BYTES. */
#define PC_WORK_HEX_BYTES (PC_WORK_LIMBS * 16u + 1u)
void pc_work_to_hex(const pc_work *w, char out[PC_WORK_HEX_BYTES]);
/* Parses minimal lowercase hex as written by pc_work_to_hex. 0 or PC_E_HEX / PC_E_RANGE. */
int pc_work_from_hex(const char *hex, size_t len, pc_work *out);

#ifdef __cplusplus
}
#endif
#endif
