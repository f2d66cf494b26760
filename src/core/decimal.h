/*
 * Canonical decimal for the block hash preimage (docs/protocol.md, "Block
 * hash"): ASCII digits, no sign, no leading zeros, "0" for zero.
 *
 * Shared by the preimage code (block.c) and the miner's inner loop (miner.c),
 * which formats one nonce per attempt: it must be fast and must not allocate.
 * Internal to the core library; pure, safe from any thread.
 */
#ifndef PC_CORE_DECIMAL_H
#define PC_CORE_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/* Digits in UINT64_MAX (18446744073709551615). */
#define DECIMAL_U64_MAX_CHARS 20u

/* Writes v in canonical decimal into out (not NUL-terminated); returns the
 * number of characters written, 1 to DECIMAL_U64_MAX_CHARS. */
size_t decimal_u64(uint64_t v, char *out);

#endif
