/*
 * Block hash -> height index (see hash_index.h).
 *
 * Load stays at or under one half, so a probe sequence is short on average
 * (about 1.5 slots for a hit, 2.5 for a miss with linear probing).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "hash_index.h"
#include "peerchain/errors.h"

#define HASH_INDEX_MIN_CAP 16u

/*
 * The home slot. Proof of work makes a block hash start with zero bits, so
 * the low-order end of the hash is used; it is mixed anyway, because a
 * miner can grind it: aiming many blocks at one slot would cost valid
 * proof of work for each, but the mixing makes even that aim pointless
 * without knowing the table size.
 */
static size_t hash_index_home(const pc_hash *key, size_t mask)
{
    uint64_t x;

    memcpy(&x, key->b + PC_HASH_BYTES - sizeof x, sizeof x);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdu; /* the MurmurHash3 64-bit finaliser */
    x ^= x >> 33;
    return (size_t)x & mask;
}

void hash_index_init(struct hash_index *ix)
{
    ix->slots = NULL;
    ix->cap = 0;
    ix->count = 0;
}

void hash_index_destroy(struct hash_index *ix)
{
    free(ix->slots);
    hash_index_init(ix);
}

/* Slot of key, or of the empty slot where it would go. Requires cap > 0
 * and at least one empty slot, which the load limit guarantees. */
static size_t hash_index_probe(const struct hash_index *ix, const pc_hash *key)
{
    size_t mask = ix->cap - 1;
    size_t i = hash_index_home(key, mask);

    while (ix->slots[i].value != 0 && !pc_hash_equal(&ix->slots[i].key, key))
        i = (i + 1) & mask;
    return i;
}

static int hash_index_resize(struct hash_index *ix, size_t cap)
{
    struct hash_index old = *ix;
    struct hash_index_slot *slots = calloc(cap, sizeof *slots);

    if (!slots)
        return PC_E_NOMEM;
    ix->slots = slots;
    ix->cap = cap;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.slots[i].value != 0)
            ix->slots[hash_index_probe(ix, &old.slots[i].key)] = old.slots[i];
    }
    free(old.slots);
    return PC_OK;
}

int hash_index_reserve(struct hash_index *ix, size_t n)
{
    size_t cap = ix->cap ? ix->cap : HASH_INDEX_MIN_CAP;

    if (n > SIZE_MAX / 4 / sizeof(struct hash_index_slot))
        return PC_E_NOMEM;
    while (n > cap / 2)
        cap *= 2;
    if (cap == ix->cap)
        return PC_OK;
    return hash_index_resize(ix, cap);
}

int hash_index_put(struct hash_index *ix, const pc_hash *key, uint64_t value)
{
    size_t i;
    int rc;

    assert(value != 0);
    rc = hash_index_reserve(ix, ix->count + 1);
    if (rc != PC_OK)
        return rc;
    i = hash_index_probe(ix, key);
    if (ix->slots[i].value == 0) {
        ix->slots[i].key = *key;
        ix->count++;
    }
    ix->slots[i].value = value;
    return PC_OK;
}

uint64_t hash_index_get(const struct hash_index *ix, const pc_hash *key)
{
    if (ix->cap == 0)
        return 0;
    return ix->slots[hash_index_probe(ix, key)].value;
}

bool hash_index_del(struct hash_index *ix, const pc_hash *key)
{
    size_t mask, hole, j;

    if (ix->cap == 0)
        return false;
    mask = ix->cap - 1;
    hole = hash_index_probe(ix, key);
    if (ix->slots[hole].value == 0)
        return false;

    /* Backward shift: walk the run after the hole and move back every
     * entry whose home is not cyclically in (hole, j], so that no probe
     * sequence ever crosses an empty slot before reaching its key. */
    j = hole;
    for (;;) {
        size_t home;
        j = (j + 1) & mask;
        if (ix->slots[j].value == 0)
            break;
        home = hash_index_home(&ix->slots[j].key, mask);
        if (hole <= j ? (hole < home && home <= j) : (hole < home || home <= j))
            continue;
        ix->slots[hole] = ix->slots[j];
        hole = j;
    }
    ix->slots[hole].value = 0;
    ix->count--;
    return true;
}
