/*
 * Block templates and the nonce search (miner.h).
 *
 * The preimage ends with the nonce (docs/protocol.md, "Block hash"), so
 * everything before it is hashed once into a SHA-256 state; each attempt
 * copies that state (a plain struct copy), feeds it the nonce's decimal
 * digits and finalises. No allocation and no formatting library call per
 * attempt.
 *
 * Called from the node's miner thread; the only shared state is the cancel
 * flag, which another thread sets. Otherwise pure.
 */
#include <inttypes.h>
#include <string.h>

#include <sodium.h>

#include "block_internal.h"
#include "decimal.h"
#include "peerchain/chain.h"
#include "peerchain/limits.h"
#include "peerchain/miner.h"

/* How often the search looks at the cancel flag: rare enough to cost
 * nothing, frequent enough (a few ms at regtest speed) to stop promptly. */
#define MINER_CANCEL_CHECK_MASK 4095u

void pc_chain_template_base(const pc_chain *c, struct pc_template_base *base)
{
    const pc_block *tip = pc_chain_tip(c);

    base->parent_height = tip->height;
    base->parent_hash = tip->hash;
    base->difficulty = pc_chain_next_difficulty(c, tip->height);
    base->median_time_past = pc_chain_median_time_past(c, tip->height);
}

pc_block *pc_block_template(const struct pc_template_base *base, const char *const *items,
                            const size_t *lens, size_t n, int64_t now, struct pc_err *err)
{
    pc_block *b = NULL;
    int64_t ts;

    if (base->parent_height >= (uint64_t)PC_MAX_SAFE_INTEGER) {
        pc_err_set(err, PC_E_RANGE, "template: parent height %" PRIu64 " is the last one",
                   base->parent_height);
        return NULL;
    }
    /* The earliest timestamp the median-time-past rule allows, if our
     * clock is behind it. */
    ts = now > base->median_time_past ? now : base->median_time_past + 1;
    if (ts < 0 || ts > PC_MAX_SAFE_INTEGER) {
        pc_err_set(err, PC_E_RANGE, "block %" PRIu64 ": timestamp %" PRId64 " outside 0..2^53-1",
                   base->parent_height + 1, ts);
        return NULL;
    }
    b = pc_block_new();
    if (!b) {
        pc_err_set(err, PC_E_NOMEM, "template: out of memory");
        return NULL;
    }
    b->version = PC_BLOCK_VERSION;
    b->height = base->parent_height + 1;
    b->timestamp = ts;
    b->previous_hash = base->parent_hash;
    b->difficulty = base->difficulty;
    if (pc_block_set_data(b, items, lens, n, err) != PC_OK)
        goto fail;
    if (pc_block_update_merkle(b) != PC_OK) {
        pc_err_set(err, PC_E_NOMEM, "block %" PRIu64 ": out of memory for merkle root", b->height);
        goto fail;
    }
    return b;
fail:
    pc_block_free(b);
    return NULL;
}

int pc_mine(pc_block *b, uint64_t start_nonce, uint64_t max_attempts, const atomic_bool *cancel,
            uint64_t *attempts_out)
{
    char prefix[BLOCK_PREFIX_MAX_BYTES];
    char digits[DECIMAL_U64_MAX_CHARS];
    crypto_hash_sha256_state base, st;
    uint64_t attempts = 0, nonce = start_nonce;
    pc_hash h;
    int rc = PC_E_EXHAUSTED;

    crypto_hash_sha256_init(&base);
    crypto_hash_sha256_update(&base, (const unsigned char *)prefix,
                              block_preimage_prefix(b, prefix));

    /* Nonces above 2^53-1 are out of range for a block, so the nonce
     * space ends there. */
    while (nonce <= (uint64_t)PC_MAX_SAFE_INTEGER) {
        if (max_attempts && attempts == max_attempts)
            break;
        /* Relaxed is enough: the flag carries no data with it, and a late
         * sighting only costs one more batch of hashes. */
        if ((attempts & MINER_CANCEL_CHECK_MASK) == 0 && cancel &&
            atomic_load_explicit(cancel, memory_order_relaxed)) {
            rc = PC_E_CANCELLED;
            break;
        }
        st = base;
        crypto_hash_sha256_update(&st, (const unsigned char *)digits, decimal_u64(nonce, digits));
        crypto_hash_sha256_final(&st, h.b);
        attempts++;
        if (pc_hash_meets_difficulty(&h, b->difficulty)) {
            b->nonce = nonce;
            b->hash = h;
            rc = PC_OK;
            break;
        }
        nonce++;
    }
    if (attempts_out)
        *attempts_out = attempts;
    return rc;
}
