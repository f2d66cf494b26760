/*
 * Unit tests for block.c: lifetime and deep copies, setting data (limits
 * checked before anything changes), the preimage layout and the hash. The
 * rule-by-rule validity table is test_validation.c; known-answer preimages
 * are in docs/protocol.md (test_vectors.c).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "peerchain/peerchain.h"

static void test_lifetime(void)
{
    pc_block *b = pc_block_new();
    pc_block *c;
    const char *items[] = {"alpha", "beta"};
    const size_t lens[] = {5, 4};

    CHECK(b != NULL);
    if (!b)
        return;
    CHECK_EQ_INT(b->version, 0);
    CHECK_EQ_INT(b->n_data, 0);
    CHECK(b->data == NULL && b->data_len == NULL);
    pc_block_free(NULL);

    b->height = 9;
    CHECK_EQ_INT(pc_block_set_data(b, items, lens, 2, NULL), PC_OK);
    CHECK_EQ_INT(b->n_data, 2);
    CHECK_EQ_STR(b->data[0], "alpha");
    CHECK_EQ_STR(b->data[1], "beta");
    CHECK(b->data[0] != items[0]); /* copied */

    c = pc_block_clone(b);
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ_INT(c->height, 9);
        CHECK_EQ_INT(c->n_data, 2);
        CHECK(c->data != b->data && c->data[0] != b->data[0]);
        CHECK_EQ_STR(c->data[1], "beta");
        c->data[1][0] = 'B';
        CHECK_EQ_STR(b->data[1], "beta"); /* deep */
        pc_block_free(c);
    }
    /* Replacing data frees the old; zero items gives NULL arrays. */
    CHECK_EQ_INT(pc_block_set_data(b, items, lens, 1, NULL), PC_OK);
    CHECK_EQ_INT(b->n_data, 1);
    CHECK_EQ_INT(pc_block_set_data(b, NULL, NULL, 0, NULL), PC_OK);
    CHECK(b->n_data == 0 && b->data == NULL && b->data_len == NULL);
    c = pc_block_clone(b);
    CHECK(c && c->n_data == 0 && c->data == NULL);
    pc_block_free(c);
    pc_block_free(b);
}

static void test_set_data_limits(void)
{
    pc_block *b = pc_block_new();
    const char *ok[] = {"keep"};
    const size_t ok_len[] = {4};
    struct pc_err err = {0};
    char *big = malloc(PC_MAX_DATA_ITEM_BYTES + 1);

    CHECK(b && big);
    if (!b || !big) {
        pc_block_free(b);
        free(big);
        return;
    }
    b->height = 3;
    CHECK_EQ_INT(pc_block_set_data(b, ok, ok_len, 1, NULL), PC_OK);
    memset(big, 'x', PC_MAX_DATA_ITEM_BYTES + 1);
    {
        const char *items[] = {big};
        const size_t lens[] = {PC_MAX_DATA_ITEM_BYTES + 1};
        CHECK_EQ_INT(pc_block_set_data(b, items, lens, 1, &err), PC_E_TOO_LARGE);
        CHECK(strncmp(err.reason, "block 3: ", 9) == 0);
    }
    {
        const char *items[] = {"ok", "a\xff"};
        const size_t lens[] = {2, 2};
        CHECK_EQ_INT(pc_block_set_data(b, items, lens, 2, &err), PC_E_UTF8);
    }
    {
        const char *items[] = {"a\0b"};
        const size_t lens[] = {3};
        CHECK_EQ_INT(pc_block_set_data(b, items, lens, 1, &err), PC_E_UTF8);
    }
    {
        const char **items = calloc(PC_MAX_DATA_ITEMS + 1, sizeof *items);
        size_t *lens = calloc(PC_MAX_DATA_ITEMS + 1, sizeof *lens);
        CHECK(items && lens);
        for (size_t i = 0; items && lens && i <= PC_MAX_DATA_ITEMS; i++)
            items[i] = "";
        if (items && lens) {
            CHECK_EQ_INT(pc_block_set_data(b, items, lens, PC_MAX_DATA_ITEMS + 1, &err),
                         PC_E_TOO_LARGE);
            CHECK_EQ_INT(pc_block_set_data(b, items, lens, PC_MAX_DATA_ITEMS, &err), PC_OK);
            CHECK_EQ_INT(b->n_data, PC_MAX_DATA_ITEMS);
            CHECK_EQ_INT(pc_block_set_data(b, ok, ok_len, 1, NULL), PC_OK);
        }
        free(items);
        free(lens);
    }
    CHECK_EQ_INT(pc_block_set_data(b, NULL, NULL, 2, &err), PC_E_ARG);
    /* Failures left the data alone. */
    CHECK_EQ_INT(b->n_data, 1);
    CHECK_EQ_STR(b->data[0], "keep");
    free(big);
    pc_block_free(b);
}

static void test_preimage(void)
{
    pc_block *b = pc_block_new();
    char pre[PC_PREIMAGE_MAX_BYTES + 1];
    char want[PC_PREIMAGE_MAX_BYTES + 1];
    size_t n;
    pc_hash h, h2;

    CHECK(b != NULL);
    if (!b)
        return;
    /* All zero: "0" for each number. */
    n = pc_block_preimage(b, pre);
    pre[n] = '\0';
    snprintf(want, sizeof want, "000%064d%064d00", 0, 0);
    CHECK_EQ_STR(pre, want);

    b->version = 1;
    b->height = 17;
    b->timestamp = 1767225600;
    memset(b->merkle_root.b, 0xab, PC_HASH_BYTES);
    memset(b->previous_hash.b, 0x01, PC_HASH_BYTES);
    b->difficulty = 16;
    b->nonce = 42;
    n = pc_block_preimage(b, pre);
    pre[n] = '\0';
    CHECK_EQ_STR(pre, "1171767225600"
                      "abababababababababababababababababababababababababababababababab"
                      "0101010101010101010101010101010101010101010101010101010101010101"
                      "1642");
    pc_block_compute_hash(b, &h);
    pc_sha256(pre, n, &h2);
    CHECK(pc_hash_equal(&h, &h2));

    /* The largest values fit the buffer. */
    b->version = UINT32_MAX;
    b->height = UINT64_MAX;
    b->timestamp = INT64_MAX;
    b->difficulty = UINT32_MAX;
    b->nonce = UINT64_MAX;
    n = pc_block_preimage(b, pre);
    CHECK_EQ_INT(n, PC_PREIMAGE_MAX_BYTES - 1 - 1); /* int64 max has 19 digits */
    CHECK(n < PC_PREIMAGE_MAX_BYTES);
    pc_block_free(b);
}

int main(void)
{
    if (pc_crypto_init() != PC_OK)
        return 2;
    test_lifetime();
    test_set_data_limits();
    test_preimage();
    return check_summary();
}
