/*
 * Unit tests for hash.c: hex, leading zero bits, merkle structure and the
 * 320-bit work arithmetic. Known-answer values live in docs/protocol.md and
 * are checked by test_vectors.c; this file checks properties and edges.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "peerchain/peerchain.h"

static pc_hash hash_of_byte(uint8_t first, uint8_t rest)
{
    pc_hash h;
    memset(h.b, rest, sizeof h.b);
    h.b[0] = first;
    return h;
}

static void test_hex(void)
{
    pc_hash h, back;
    char hex[PC_HASH_HEX_CHARS + 1];
    char buf[80];

    for (size_t i = 0; i < PC_HASH_BYTES; i++)
        h.b[i] = (uint8_t)(i * 37 + 5);
    pc_hash_to_hex(&h, hex);
    CHECK_EQ_INT(strlen(hex), 64);
    CHECK_EQ_INT(pc_hash_from_hex(hex, 64, &back), PC_OK);
    CHECK(pc_hash_equal(&h, &back));
    CHECK_EQ_STR(hex, "052a4f7499bee3082d52779cc1e60b30557a9fc4e90e33587da2c7ec11365b80");

    /* Rejections leave out untouched. */
    memset(back.b, 0xaa, sizeof back.b);
    CHECK_EQ_INT(pc_hash_from_hex(hex, 63, &back), PC_E_HEX);
    CHECK_EQ_INT(pc_hash_from_hex(hex, 65, &back), PC_E_HEX);
    CHECK_EQ_INT(pc_hash_from_hex("", 0, &back), PC_E_HEX);
    CHECK_EQ_INT(pc_hash_from_hex(NULL, 64, &back), PC_E_HEX);
    memcpy(buf, hex, 65);
    buf[10] = 'A';
    CHECK_EQ_INT(pc_hash_from_hex(buf, 64, &back), PC_E_HEX); /* uppercase is not canonical */
    buf[10] = 'g';
    CHECK_EQ_INT(pc_hash_from_hex(buf, 64, &back), PC_E_HEX);
    buf[10] = '\0';
    CHECK_EQ_INT(pc_hash_from_hex(buf, 64, &back), PC_E_HEX);
    buf[10] = ' ';
    CHECK_EQ_INT(pc_hash_from_hex(buf, 64, &back), PC_E_HEX);
    CHECK_EQ_INT(back.b[0], 0xaa);

    memset(h.b, 0, sizeof h.b);
    CHECK(pc_hash_is_zero(&h));
    h.b[31] = 1;
    CHECK(!pc_hash_is_zero(&h));
}

static void test_leading_zeros(void)
{
    pc_hash h;

    memset(h.b, 0, sizeof h.b);
    CHECK_EQ_INT(pc_hash_leading_zero_bits(&h), 256);
    CHECK(pc_hash_meets_difficulty(&h, 255));
    h = hash_of_byte(0x80, 0);
    CHECK_EQ_INT(pc_hash_leading_zero_bits(&h), 0);
    CHECK(pc_hash_meets_difficulty(&h, 0));
    CHECK(!pc_hash_meets_difficulty(&h, 1));
    h = hash_of_byte(0x01, 0xff);
    CHECK_EQ_INT(pc_hash_leading_zero_bits(&h), 7);
    h = hash_of_byte(0x00, 0x00);
    h.b[1] = 0x10;
    CHECK_EQ_INT(pc_hash_leading_zero_bits(&h), 11);
    CHECK(pc_hash_meets_difficulty(&h, 11));
    CHECK(!pc_hash_meets_difficulty(&h, 12));
    memset(h.b, 0, sizeof h.b);
    h.b[31] = 1;
    CHECK_EQ_INT(pc_hash_leading_zero_bits(&h), 255);
    CHECK(pc_hash_meets_difficulty(&h, 255));
}

static void test_merkle_structure(void)
{
    const char *items[] = {"a", "b", "c", "c"};
    const size_t lens[] = {1, 1, 1, 1};
    pc_hash r0, r1, r3, r4, leaf;
    unsigned char pre[2] = {0x00, 'a'};

    CHECK_EQ_INT(pc_merkle_root(NULL, NULL, 0, &r0), PC_OK);
    CHECK(pc_hash_is_zero(&r0));
    /* One item: the root is its leaf hash, SHA256(0x00 || item). */
    CHECK_EQ_INT(pc_merkle_root(items, lens, 1, &r1), PC_OK);
    pc_sha256(pre, sizeof pre, &leaf);
    CHECK(pc_hash_equal(&r1, &leaf));
    /* Carrying the odd node up (not duplicating it) keeps [a,b,c] and
     * [a,b,c,c] apart: Bitcoin's CVE-2012-2459 mutation does not apply. */
    CHECK_EQ_INT(pc_merkle_root(items, lens, 3, &r3), PC_OK);
    CHECK_EQ_INT(pc_merkle_root(items, lens, 4, &r4), PC_OK);
    CHECK(!pc_hash_equal(&r3, &r4));
    /* An empty string is an item: [""] differs from []. */
    {
        const char *e[] = {""};
        const size_t el[] = {0};
        pc_hash re;
        CHECK_EQ_INT(pc_merkle_root(e, el, 1, &re), PC_OK);
        CHECK(!pc_hash_is_zero(&re));
    }
    /* Lengths are honoured: bytes past them do not count. */
    {
        const char *x[] = {"ab"};
        const size_t xl[] = {1};
        pc_hash rx;
        CHECK_EQ_INT(pc_merkle_root(x, xl, 1, &rx), PC_OK);
        CHECK(pc_hash_equal(&rx, &r1));
    }
}

static void work_from(pc_work *w, const char *hex)
{
    CHECK_EQ_INT(pc_work_from_hex(hex, strlen(hex), w), PC_OK);
}

static void check_work_hex(const pc_work *w, const char *want)
{
    char hex[PC_WORK_HEX_BYTES];
    pc_work_to_hex(w, hex);
    CHECK_EQ_STR(hex, want);
}

static void test_work(void)
{
    pc_work w, x, y;
    char hex[PC_WORK_HEX_BYTES];

    pc_work_zero(&w);
    check_work_hex(&w, "0");
    pc_work_add_pow2(&w, 0);
    check_work_hex(&w, "1");
    pc_work_add_pow2(&w, 4);
    check_work_hex(&w, "11");

    /* Carry across a limb: 2^63 + 2^63 = 2^64. */
    pc_work_zero(&w);
    pc_work_add_pow2(&w, 63);
    pc_work_add_pow2(&w, 63);
    check_work_hex(&w, "10000000000000000");
    CHECK_EQ_INT(w.limb[0], 0);
    CHECK_EQ_INT(w.limb[1], 1);

    /* Carry chain through several limbs. */
    work_from(&w, "ffffffffffffffffffffffffffffffffffffffffffffffff");
    pc_work_add_pow2(&w, 0);
    check_work_hex(&w, "1000000000000000000000000000000000000000000000000");

    pc_work_zero(&w);
    pc_work_add_pow2(&w, 255);
    pc_work_add_pow2(&w, 255);
    check_work_hex(&w, "1"
                       "0000000000000000000000000000000000000000000000000000000000000000");

    /* add, sub, cmp */
    work_from(&x, "123456789abcdef0123456789abcdef");
    work_from(&y, "fedcba9876543210fedcba987654321");
    w = x;
    pc_work_add(&w, &y);
    check_work_hex(&w, "11111111111111101111111111111110");
    CHECK_EQ_INT(pc_work_cmp(&w, &x), 1);
    CHECK_EQ_INT(pc_work_cmp(&x, &w), -1);
    CHECK_EQ_INT(pc_work_cmp(&x, &x), 0);
    pc_work_sub(&w, &y);
    CHECK_EQ_INT(pc_work_cmp(&w, &x), 0);
    /* Borrow across limbs: 2^128 - 1. */
    work_from(&w, "100000000000000000000000000000000");
    work_from(&x, "1");
    pc_work_sub(&w, &x);
    check_work_hex(&w, "ffffffffffffffffffffffffffffffff");

    /* Overflow in pc_work_add saturates (a peer can send a 320-bit value). */
    memset(hex, 'f', 80);
    hex[80] = '\0';
    work_from(&w, hex);
    work_from(&x, "1");
    pc_work_add(&w, &x);
    check_work_hex(&w, hex);
    work_from(&x, hex);
    pc_work_add(&w, &x);
    check_work_hex(&w, hex);

    /* Parsing: minimal lowercase hex only. */
    CHECK_EQ_INT(pc_work_from_hex("", 0, &w), PC_E_HEX);
    CHECK_EQ_INT(pc_work_from_hex(NULL, 0, &w), PC_E_HEX);
    CHECK_EQ_INT(pc_work_from_hex("00", 2, &w), PC_E_HEX);
    CHECK_EQ_INT(pc_work_from_hex("01", 2, &w), PC_E_HEX);
    CHECK_EQ_INT(pc_work_from_hex("A", 1, &w), PC_E_HEX);
    CHECK_EQ_INT(pc_work_from_hex("0x1", 3, &w), PC_E_HEX);
    CHECK_EQ_INT(pc_work_from_hex("-1", 2, &w), PC_E_HEX);
    CHECK_EQ_INT(pc_work_from_hex("1 ", 2, &w), PC_E_HEX);
    CHECK_EQ_INT(pc_work_from_hex("0", 1, &w), PC_OK);
    CHECK_EQ_INT(pc_work_cmp(&w, &(pc_work){{0}}), 0);
    {
        char big[82];
        memset(big, 'f', 81);
        big[81] = '\0';
        CHECK_EQ_INT(pc_work_from_hex(big, 81, &w), PC_E_RANGE);
        big[0] = '1';
        memset(big + 1, '0', 80);
        CHECK_EQ_INT(pc_work_from_hex(big, 81, &w), PC_E_RANGE);
        CHECK_EQ_INT(pc_work_from_hex(big + 1, 80, &w), PC_E_HEX); /* leading zero */
        CHECK_EQ_INT(pc_work_from_hex(big, 80, &w), PC_OK);        /* 2^316 */
        CHECK_EQ_INT(w.limb[4], (uint64_t)1 << 60);
    }
    /* Round trip of assorted values. */
    {
        static const char *vals[] = {"1",
                                     "a",
                                     "10",
                                     "deadbeef",
                                     "1000000000000000",
                                     "ffffffffffffffff",
                                     "10000000000000000",
                                     "abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
        for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
            work_from(&w, vals[i]);
            check_work_hex(&w, vals[i]);
        }
    }
}

int main(void)
{
    if (pc_crypto_init() != PC_OK)
        return 2;
    test_hex();
    test_leading_zeros();
    test_merkle_structure();
    test_work();
    return check_summary();
}
