/*
 * Hashes, hex, merkle roots and cumulative work (hash.h).
 *
 * SHA-256 comes from libsodium. Hex is canonical lowercase only: a hash has
 * exactly one text form, so two nodes never disagree on whether a hash
 * "matches". Work is a fixed 320-bit integer: the largest cumulative work
 * the rules allow is below 2^255 * 2^53 = 2^308, so it never overflows.
 *
 * Pure; no state but libsodium's one-time init; safe from any thread.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "peerchain/errors.h"
#include "peerchain/hash.h"

static const char hash_hex_digits[16] = "0123456789abcdef";

int pc_crypto_init(void)
{
    /* 0 = initialised now, 1 = already initialised, -1 = failure. */
    return sodium_init() < 0 ? PC_E_ARG : PC_OK;
}

void pc_sha256(const void *data, size_t len, pc_hash *out)
{
    crypto_hash_sha256(out->b, data, len);
}

void pc_hash_to_hex(const pc_hash *h, char out[PC_HASH_HEX_CHARS + 1])
{
    for (size_t i = 0; i < PC_HASH_BYTES; i++) {
        out[2 * i] = hash_hex_digits[h->b[i] >> 4];
        out[2 * i + 1] = hash_hex_digits[h->b[i] & 0x0f];
    }
    out[PC_HASH_HEX_CHARS] = '\0';
}

/* Value of a lowercase hex digit, or -1. Uppercase is not canonical. */
static int hash_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int pc_hash_from_hex(const char *hex, size_t len, pc_hash *out)
{
    pc_hash h;

    if (!hex || len != PC_HASH_HEX_CHARS)
        return PC_E_HEX;
    for (size_t i = 0; i < PC_HASH_BYTES; i++) {
        int hi = hash_hex_value(hex[2 * i]);
        int lo = hash_hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return PC_E_HEX;
        h.b[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = h;
    return PC_OK;
}

bool pc_hash_equal(const pc_hash *a, const pc_hash *b)
{
    return memcmp(a->b, b->b, PC_HASH_BYTES) == 0;
}

bool pc_hash_is_zero(const pc_hash *h)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < PC_HASH_BYTES; i++)
        acc |= h->b[i];
    return acc == 0;
}

unsigned pc_hash_leading_zero_bits(const pc_hash *h)
{
    unsigned bits = 0;
    for (size_t i = 0; i < PC_HASH_BYTES; i++) {
        uint8_t v = h->b[i];
        if (v == 0) {
            bits += 8;
            continue;
        }
        while (!(v & 0x80)) {
            bits++;
            v = (uint8_t)(v << 1);
        }
        break;
    }
    return bits;
}

/* ---- merkle ---- */

/* The one-byte prefixes separate the two kinds of node, so that a leaf can
 * never be read as an inner node (second-preimage attack on the tree). */
enum { MERKLE_LEAF_TAG = 0x00, MERKLE_NODE_TAG = 0x01 };

static void merkle_leaf(const char *item, size_t len, pc_hash *out)
{
    crypto_hash_sha256_state st;
    const unsigned char tag = MERKLE_LEAF_TAG;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &tag, 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)item, len);
    crypto_hash_sha256_final(&st, out->b);
}

static void merkle_node(const pc_hash *left, const pc_hash *right, pc_hash *out)
{
    unsigned char buf[1 + 2 * PC_HASH_BYTES];

    buf[0] = MERKLE_NODE_TAG;
    memcpy(buf + 1, left->b, PC_HASH_BYTES);
    memcpy(buf + 1 + PC_HASH_BYTES, right->b, PC_HASH_BYTES);
    crypto_hash_sha256(out->b, buf, sizeof buf);
}

int pc_merkle_root(const char *const *items, const size_t *lens, size_t n, pc_hash *out)
{
    pc_hash *level;

    if (n == 0) {
        memset(out->b, 0, PC_HASH_BYTES);
        return PC_OK;
    }
    if (n > SIZE_MAX / sizeof *level)
        return PC_E_NOMEM;
    level = malloc(n * sizeof *level);
    if (!level)
        return PC_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        merkle_leaf(items[i], lens[i], &level[i]);

    /* Reduce in place. An odd last node moves up as it is: duplicating it
     * (Bitcoin) would let [a, b, c] and [a, b, c, c] share a root
     * (CVE-2012-2459). */
    while (n > 1) {
        size_t up = 0;
        for (size_t i = 0; i + 1 < n; i += 2)
            merkle_node(&level[i], &level[i + 1], &level[up++]);
        if (n % 2)
            level[up++] = level[n - 1];
        n = up;
    }
    *out = level[0];
    free(level);
    return PC_OK;
}

/* ---- work ---- */

void pc_work_zero(pc_work *w)
{
    memset(w, 0, sizeof *w);
}

void pc_work_add_pow2(pc_work *w, unsigned bits)
{
    assert(bits <= PC_MAX_DIFFICULTY);
    size_t i = bits / 64;
    uint64_t add = (uint64_t)1 << (bits % 64);

    for (; i < PC_WORK_LIMBS && add; i++) {
        uint64_t old = w->limb[i];
        w->limb[i] = old + add;
        add = w->limb[i] < old; /* carry */
    }
    /* Unreachable: cumulative work stays below 2^308 (see the top). */
    assert(add == 0);
}

void pc_work_add(pc_work *w, const pc_work *x)
{
    uint64_t carry = 0;

    for (size_t i = 0; i < PC_WORK_LIMBS; i++) {
        uint64_t a = w->limb[i];
        uint64_t s = a + x->limb[i];
        uint64_t c1 = s < a;
        uint64_t s2 = s + carry;
        uint64_t c2 = s2 < s;
        w->limb[i] = s2;
        carry = c1 | c2;
    }
    /* A sum of chain works cannot overflow, but x may be a value a peer
     * sent (pc_work_from_hex accepts any 320-bit number), so overflow is
     * input, not a bug: saturate instead of asserting or wrapping, which
     * keeps comparisons monotone. */
    if (carry) {
        for (size_t i = 0; i < PC_WORK_LIMBS; i++)
            w->limb[i] = UINT64_MAX;
    }
}

void pc_work_sub(pc_work *w, const pc_work *x)
{
    uint64_t borrow = 0;

    assert(pc_work_cmp(w, x) >= 0);
    for (size_t i = 0; i < PC_WORK_LIMBS; i++) {
        uint64_t a = w->limb[i];
        uint64_t d = a - x->limb[i];
        uint64_t b1 = a < x->limb[i];
        uint64_t d2 = d - borrow;
        uint64_t b2 = d < borrow;
        w->limb[i] = d2;
        borrow = b1 | b2;
    }
}

int pc_work_cmp(const pc_work *a, const pc_work *b)
{
    for (size_t i = PC_WORK_LIMBS; i-- > 0;) {
        if (a->limb[i] != b->limb[i])
            return a->limb[i] < b->limb[i] ? -1 : 1;
    }
    return 0;
}

void pc_work_to_hex(const pc_work *w, char out[PC_WORK_HEX_BYTES])
{
    size_t n = 0;

    for (size_t i = PC_WORK_LIMBS; i-- > 0;) {
        for (int shift = 60; shift >= 0; shift -= 4) {
            unsigned d = (unsigned)(w->limb[i] >> shift) & 0x0f;
            if (n == 0 && d == 0)
                continue; /* no leading zeros */
            out[n++] = hash_hex_digits[d];
        }
    }
    if (n == 0)
        out[n++] = '0';
    out[n] = '\0';
}

int pc_work_from_hex(const char *hex, size_t len, pc_work *out)
{
    pc_work w;

    if (!hex || len == 0)
        return PC_E_HEX;
    /* Check every character first, so that "0x12" or "ABC" is PC_E_HEX
     * whatever its length. */
    for (size_t i = 0; i < len; i++) {
        if (hash_hex_value(hex[i]) < 0)
            return PC_E_HEX;
    }
    if (hex[0] == '0' && len > 1)
        return PC_E_HEX; /* minimal form only: one text per value */
    if (len > PC_WORK_LIMBS * 16)
        return PC_E_RANGE; /* well-formed, but above 2^320 - 1 */

    pc_work_zero(&w);
    for (size_t i = 0; i < len; i++) {
        size_t nibble = len - 1 - i; /* position from the least significant end */
        uint64_t d = (uint64_t)hash_hex_value(hex[i]);
        w.limb[nibble / 16] |= d << (4 * (nibble % 16));
    }
    *out = w;
    return PC_OK;
}
