/*
 * Unit tests for the hash -> height index (src/core/hash_index.c): basic
 * put/get/del, colliding keys that exercise the backward-shift deletion, and
 * a million entries with half deleted, compared against the truth.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/hash_index.h"

/* A key whose home slot depends only on `home` (the index reads the last 8
 * bytes) and whose identity on `id`. */
static pc_hash key_of(uint64_t id, uint64_t home)
{
    pc_hash h;
    memset(h.b, 0, sizeof h.b);
    memcpy(h.b, &id, sizeof id);
    memcpy(h.b + 24, &home, sizeof home);
    return h;
}

static void test_basic(void)
{
    struct hash_index ix;
    pc_hash a = key_of(1, 1), b = key_of(2, 2);

    hash_index_init(&ix);
    CHECK_EQ_INT(hash_index_get(&ix, &a), 0);
    CHECK(!hash_index_del(&ix, &a));
    CHECK_EQ_INT(hash_index_put(&ix, &a, 10), 0);
    CHECK_EQ_INT(hash_index_get(&ix, &a), 10);
    CHECK_EQ_INT(hash_index_get(&ix, &b), 0);
    CHECK_EQ_INT(hash_index_put(&ix, &a, 11), 0); /* replace */
    CHECK_EQ_INT(hash_index_get(&ix, &a), 11);
    CHECK_EQ_INT(ix.count, 1);
    CHECK(hash_index_del(&ix, &a));
    CHECK(!hash_index_del(&ix, &a));
    CHECK_EQ_INT(hash_index_get(&ix, &a), 0);
    CHECK_EQ_INT(ix.count, 0);
    hash_index_destroy(&ix);
}

/* Many keys with the same home form one long run; deleting from its middle
 * must keep every other key reachable. Mixed homes wrap around the end. */
static void test_collisions(void)
{
    struct hash_index ix;
    enum { N = 200 };
    int alive[N];

    hash_index_init(&ix);
    for (uint64_t i = 0; i < N; i++) {
        pc_hash k = key_of(i, i % 3 == 0 ? 7 : i); /* a third share one home */
        CHECK_EQ_INT(hash_index_put(&ix, &k, i + 1), 0);
        alive[i] = 1;
    }
    for (uint64_t i = 0; i < N; i += 2) {
        pc_hash k = key_of(i, i % 3 == 0 ? 7 : i);
        CHECK(hash_index_del(&ix, &k));
        alive[i] = 0;
    }
    for (uint64_t i = 0; i < N; i++) {
        pc_hash k = key_of(i, i % 3 == 0 ? 7 : i);
        CHECK_EQ_INT(hash_index_get(&ix, &k), alive[i] ? i + 1 : 0);
    }
    CHECK_EQ_INT(ix.count, N / 2);
    hash_index_destroy(&ix);
}

static pc_hash random_key(uint64_t i)
{
    pc_hash h;
    uint64_t x = i * 0x9e3779b97f4a7c15u + 1;
    for (size_t j = 0; j < 4; j++) {
        x ^= x >> 31;
        x *= 0xbf58476d1ce4e5b9u;
        x ^= x >> 29;
        memcpy(h.b + 8 * j, &x, sizeof x);
    }
    return h;
}

static void test_million(void)
{
    enum { N = 1000000 };
    struct hash_index ix;
    size_t bad = 0;

    hash_index_init(&ix);
    CHECK_EQ_INT(hash_index_reserve(&ix, N), 0);
    for (uint64_t i = 0; i < N; i++) {
        pc_hash k = random_key(i);
        if (hash_index_put(&ix, &k, i + 1) != 0)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(ix.count, N);
    for (uint64_t i = 0; i < N; i += 2) {
        pc_hash k = random_key(i);
        if (!hash_index_del(&ix, &k))
            bad++;
    }
    for (uint64_t i = 0; i < N; i++) {
        pc_hash k = random_key(i);
        if (hash_index_get(&ix, &k) != (i % 2 ? i + 1 : 0))
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(ix.count, N / 2);
    hash_index_destroy(&ix);
}

int main(void)
{
    test_basic();
    test_collisions();
    test_million();
    return check_summary();
}
