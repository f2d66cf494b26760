/*
 * A map from block hash to height, for pc_chain_find and locators: open
 * addressing with linear probing, and deletion by backward shift (no
 * tombstones), so lookups stay O(1) however many reorgs delete entries.
 *
 * Internal to the core library. Not thread-safe: it belongs to one pc_chain.
 */
#ifndef PC_CORE_HASH_INDEX_H
#define PC_CORE_HASH_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peerchain/hash.h"

struct hash_index_slot {
    pc_hash key;
    uint64_t value; /* 0 marks an empty slot: heights start at 1 */
};

struct hash_index {
    struct hash_index_slot *slots; /* cap slots, or NULL while cap is 0 */
    size_t cap;                    /* 0 or a power of two */
    size_t count;                  /* used slots; kept <= cap / 2 */
};

/* An empty index; allocates nothing. */
void hash_index_init(struct hash_index *ix);
void hash_index_destroy(struct hash_index *ix);

/* Makes room for n entries, so that the puts bringing count up to n cannot
 * fail. 0 or PC_E_NOMEM (index unchanged). */
int hash_index_reserve(struct hash_index *ix, size_t n);

/* Maps key to value (value >= 1), replacing any previous value.
 * 0 or PC_E_NOMEM (index unchanged). */
int hash_index_put(struct hash_index *ix, const pc_hash *key, uint64_t value);

/* The value for key, or 0 if absent. */
uint64_t hash_index_get(const struct hash_index *ix, const pc_hash *key);

/* Removes key; true if it was present. */
bool hash_index_del(struct hash_index *ix, const pc_hash *key);

#endif
