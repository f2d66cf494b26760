/*
 * Blocks: lifetime, data, the canonical preimage and hash, and the
 * context-free validity rules (block.h, docs/protocol.md Part 1).
 *
 * Invariants of a pc_block that this file keeps: data and data_len are both
 * NULL when n_data is 0, else both hold n_data entries; data[i] is
 * NUL-terminated at data_len[i]. Field values are not trusted: a block built
 * from a peer's JSON is checked by pc_block_check before anyone relies on it.
 *
 * Pure; a block is a plain value; safe from any thread on distinct blocks.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "block_internal.h"
#include "decimal.h"
#include "peerchain/block.h"
#include "peerchain/limits.h"

pc_block *pc_block_new(void)
{
    return calloc(1, sizeof(pc_block));
}

static void block_free_data(char **data, size_t *data_len, size_t n)
{
    if (data) {
        for (size_t i = 0; i < n; i++)
            free(data[i]);
    }
    free(data);
    free(data_len);
}

void pc_block_free(pc_block *b)
{
    if (!b)
        return;
    block_free_data(b->data, b->data_len, b->n_data);
    free(b);
}

/* Copies n strings into new arrays; on failure frees what it made. */
static int block_copy_data(const char *const *items, const size_t *lens, size_t n, char ***data_out,
                           size_t **len_out)
{
    char **data = NULL;
    size_t *data_len = NULL;

    *data_out = NULL;
    *len_out = NULL;
    if (n == 0)
        return PC_OK;
    data = calloc(n, sizeof *data);
    data_len = calloc(n, sizeof *data_len);
    if (!data || !data_len)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] == SIZE_MAX)
            goto fail;
        data[i] = malloc(lens[i] + 1);
        if (!data[i])
            goto fail;
        memcpy(data[i], items[i], lens[i]);
        data[i][lens[i]] = '\0';
        data_len[i] = lens[i];
    }
    *data_out = data;
    *len_out = data_len;
    return PC_OK;
fail:
    block_free_data(data, data_len, n);
    return PC_E_NOMEM;
}

pc_block *pc_block_clone(const pc_block *b)
{
    pc_block *c = malloc(sizeof *c);

    if (!c)
        return NULL;
    *c = *b;
    if (block_copy_data((const char *const *)b->data, b->data_len, b->n_data, &c->data,
                        &c->data_len) != PC_OK) {
        free(c);
        return NULL;
    }
    return c;
}

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF, and no NUL, because data strings travel as C strings and a NUL
 * would make two nodes see different lengths. Jansson enforces the same on
 * load, but a json_t can also be built in memory without those checks.
 */
static bool block_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i];
        size_t more;
        unsigned lo = 0x80, hi = 0xbf; /* allowed range of the first continuation byte */

        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            else if (c == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            else if (c == 0xf4)
                hi = 0x8f; /* above U+10FFFF */
        } else {
            return false; /* continuation byte, C0, C1 or F5..FF as a lead */
        }
        if (len - i - 1 < more)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= more; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return false;
        }
        i += more + 1;
    }
    return true;
}

int block_check_data(const char *const *items, const size_t *lens, size_t n, uint64_t height,
                     struct pc_err *err)
{
    size_t total = 0;

    if (n > PC_MAX_DATA_ITEMS)
        return pc_err_set(err, PC_E_TOO_LARGE, "block %" PRIu64 ": %zu data items, limit %u",
                          height, n, PC_MAX_DATA_ITEMS);
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > PC_MAX_DATA_ITEM_BYTES)
            return pc_err_set(err, PC_E_TOO_LARGE,
                              "block %" PRIu64 ": data item %zu is %zu bytes, limit %u", height, i,
                              lens[i], PC_MAX_DATA_ITEM_BYTES);
        total += lens[i]; /* cannot overflow: at most 1000 * 65536 */
    }
    if (total > PC_MAX_BLOCK_DATA_BYTES)
        return pc_err_set(err, PC_E_TOO_LARGE, "block %" PRIu64 ": data is %zu bytes, limit %u",
                          height, total, PC_MAX_BLOCK_DATA_BYTES);
    for (size_t i = 0; i < n; i++) {
        if (!block_utf8_valid((const unsigned char *)items[i], lens[i]))
            return pc_err_set(err, PC_E_UTF8,
                              "block %" PRIu64 ": data item %zu is not UTF-8 without NUL", height,
                              i);
    }
    return PC_OK;
}

int pc_block_set_data(pc_block *b, const char *const *items, const size_t *lens, size_t n,
                      struct pc_err *err)
{
    char **data;
    size_t *data_len;
    int rc;

    if (n > 0 && (!items || !lens))
        return pc_err_set(err, PC_E_ARG, "block %" PRIu64 ": data items or lengths missing",
                          b->height);
    rc = block_check_data(items, lens, n, b->height, err);
    if (rc != PC_OK)
        return rc;
    rc = block_copy_data(items, lens, n, &data, &data_len);
    if (rc != PC_OK)
        return pc_err_set(err, rc, "block %" PRIu64 ": out of memory copying data", b->height);
    block_free_data(b->data, b->data_len, b->n_data);
    b->data = data;
    b->data_len = data_len;
    b->n_data = n;
    return PC_OK;
}

int pc_block_update_merkle(pc_block *b)
{
    return pc_merkle_root((const char *const *)b->data, b->data_len, b->n_data, &b->merkle_root);
}

/* ---- preimage and hash ---- */

static size_t block_put_hex(const pc_hash *h, char *out)
{
    char hex[PC_HASH_HEX_CHARS + 1];

    pc_hash_to_hex(h, hex);
    memcpy(out, hex, PC_HASH_HEX_CHARS);
    return PC_HASH_HEX_CHARS;
}

size_t block_preimage_prefix(const pc_block *b, char out[BLOCK_PREFIX_MAX_BYTES])
{
    size_t n = 0;

    n += decimal_u64(b->version, out + n);
    n += decimal_u64(b->height, out + n);
    /* Validation keeps timestamps in 0..2^53-1; an out-of-range negative one
     * still formats deterministically (as its two's complement) and then
     * fails the range check, so no sign is ever written. */
    n += decimal_u64((uint64_t)b->timestamp, out + n);
    n += block_put_hex(&b->merkle_root, out + n);
    n += block_put_hex(&b->previous_hash, out + n);
    n += decimal_u64(b->difficulty, out + n);
    assert(n <= BLOCK_PREFIX_MAX_BYTES);
    return n;
}

size_t pc_block_preimage(const pc_block *b, char out[PC_PREIMAGE_MAX_BYTES])
{
    size_t n = block_preimage_prefix(b, out);
    return n + decimal_u64(b->nonce, out + n);
}

void pc_block_compute_hash(const pc_block *b, pc_hash *out)
{
    char pre[PC_PREIMAGE_MAX_BYTES];
    size_t n = pc_block_preimage(b, pre);
    pc_sha256(pre, n, out);
}

bool pc_hash_meets_difficulty(const pc_hash *h, uint32_t difficulty)
{
    return pc_hash_leading_zero_bits(h) >= difficulty;
}

/* ---- context-free validity ---- */

static bool block_is_safe_int(uint64_t v)
{
    return v <= (uint64_t)PC_MAX_SAFE_INTEGER;
}

int block_check_form(const pc_block *b, struct pc_err *err)
{
    int rc;

    assert(b->n_data == 0 || (b->data && b->data_len));
    if (b->height < 1 || !block_is_safe_int(b->height))
        return pc_err_set(err, PC_E_RANGE, "block %" PRIu64 ": height outside 1..2^53-1",
                          b->height);
    if (b->timestamp < 0 || !block_is_safe_int((uint64_t)b->timestamp))
        return pc_err_set(err, PC_E_RANGE,
                          "block %" PRIu64 ": timestamp %" PRId64 " outside 0..2^53-1", b->height,
                          b->timestamp);
    if (!block_is_safe_int(b->nonce))
        return pc_err_set(err, PC_E_RANGE, "block %" PRIu64 ": nonce %" PRIu64 " above 2^53-1",
                          b->height, b->nonce);
    if (b->difficulty > PC_MAX_DIFFICULTY)
        return pc_err_set(err, PC_E_RANGE, "block %" PRIu64 ": difficulty %" PRIu32 " above %u",
                          b->height, b->difficulty, PC_MAX_DIFFICULTY);
    rc = block_check_data((const char *const *)b->data, b->data_len, b->n_data, b->height, err);
    if (rc != PC_OK)
        return rc;
    if (b->version != PC_BLOCK_VERSION)
        return pc_err_set(err, PC_E_VERSION, "block %" PRIu64 ": version %" PRIu32 " not accepted",
                          b->height, b->version);
    return PC_OK;
}

int block_check_proof(const pc_block *b, struct pc_err *err)
{
    pc_hash h;

    if (pc_merkle_root((const char *const *)b->data, b->data_len, b->n_data, &h) != PC_OK)
        return pc_err_set(err, PC_E_NOMEM, "block %" PRIu64 ": out of memory for merkle root",
                          b->height);
    if (!pc_hash_equal(&h, &b->merkle_root))
        return pc_err_set(err, PC_E_MERKLE, "block %" PRIu64 ": merkleRoot does not match data",
                          b->height);
    pc_block_compute_hash(b, &h);
    if (!pc_hash_equal(&h, &b->hash))
        return pc_err_set(err, PC_E_HASH, "block %" PRIu64 ": hash is not the header's hash",
                          b->height);
    if (!pc_hash_meets_difficulty(&b->hash, b->difficulty))
        return pc_err_set(err, PC_E_POW,
                          "block %" PRIu64 ": hash has %u leading zero bits, difficulty %" PRIu32,
                          b->height, pc_hash_leading_zero_bits(&b->hash), b->difficulty);
    return PC_OK;
}

int pc_block_check(const pc_block *b, struct pc_err *err)
{
    int rc = block_check_form(b, err);
    if (rc != PC_OK)
        return rc;
    return block_check_proof(b, err);
}
