/*
 * Unit tests for the block JSON codec (block_json.c): round trips of blocks
 * and arrays, and a table of malformed inputs, each expecting its specific
 * code, no block out, a reason, and (under ASan/valgrind) no leak.
 *
 * Malformed inputs are made by editing one member of a valid block object,
 * so each row breaks exactly one thing. Text that is not JSON at all never
 * reaches pc_block_from_json: it fails in json_loads (PC_E_JSON here).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "peerchain/peerchain.h"
#include "testnet.h"

static pc_block *sample; /* a valid mined regtest block with data */

/* Parses text as the node would: json_loads, then pc_block_from_json. */
static int parse_text(const char *text, size_t len, pc_block **out, struct pc_err *err)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    int rc;

    *out = NULL;
    if (!j)
        return pc_err_set(err, PC_E_JSON, "%s", jerr.text);
    rc = pc_block_from_json(j, out, err);
    json_decref(j);
    return rc;
}

static void check_same_block(const pc_block *a, const pc_block *b)
{
    CHECK_EQ_INT(a->version, b->version);
    CHECK_EQ_INT(a->height, b->height);
    CHECK_EQ_INT(a->timestamp, b->timestamp);
    CHECK(pc_hash_equal(&a->previous_hash, &b->previous_hash));
    CHECK(pc_hash_equal(&a->merkle_root, &b->merkle_root));
    CHECK_EQ_INT(a->nonce, b->nonce);
    CHECK_EQ_INT(a->difficulty, b->difficulty);
    CHECK(pc_hash_equal(&a->hash, &b->hash));
    CHECK_EQ_INT(a->n_data, b->n_data);
    for (size_t i = 0; i < a->n_data && i < b->n_data; i++) {
        CHECK_EQ_INT(a->data_len[i], b->data_len[i]);
        CHECK(memcmp(a->data[i], b->data[i], a->data_len[i]) == 0);
    }
}

static void test_round_trip(void)
{
    json_t *j = pc_block_to_json(sample);
    pc_block *back = NULL;
    char *text;
    struct pc_err err = {0};

    CHECK(j != NULL);
    if (!j)
        return;
    CHECK_EQ_INT(json_object_size(j), 9);
    CHECK(json_is_integer(json_object_get(j, "version")));
    CHECK(json_is_integer(json_object_get(j, "nonce")));
    CHECK_EQ_INT(json_string_length(json_object_get(j, "hash")), 64);
    CHECK_EQ_INT(pc_block_from_json(j, &back, &err), PC_OK);
    if (back) {
        check_same_block(sample, back);
        CHECK_EQ_INT(pc_block_check(back, NULL), PC_OK);
        pc_block_free(back);
        back = NULL;
    }
    /* Through text, and the text is stable. */
    text = json_dumps(j, JSON_COMPACT);
    CHECK(text != NULL);
    if (text) {
        json_t *j2;
        char *text2;
        CHECK_EQ_INT(parse_text(text, strlen(text), &back, &err), PC_OK);
        j2 = back ? pc_block_to_json(back) : NULL;
        text2 = j2 ? json_dumps(j2, JSON_COMPACT) : NULL;
        CHECK(text2 && strcmp(text, text2) == 0);
        /* Field order is the seed design's. */
        CHECK(strncmp(text, "{\"version\":1,\"height\":", 22) == 0);
        free(text2);
        json_decref(j2);
        pc_block_free(back);
        back = NULL;
        free(text);
    }
    /* Extra members are ignored. */
    CHECK_EQ_INT(json_object_set_new(j, "extra", json_string("ignored")), 0);
    CHECK_EQ_INT(json_object_set_new(j, "transactions", json_array()), 0);
    CHECK_EQ_INT(pc_block_from_json(j, &back, &err), PC_OK);
    if (back)
        check_same_block(sample, back);
    pc_block_free(back);
    json_decref(j);
}

static void test_unicode_and_empty(void)
{
    const char *items[] = {"", "h\xc3\xa9llo", "\xf0\x9f\x98\x80", "tab\tquote\"back\\slash"};
    size_t lens[4];
    pc_block *b = pc_block_clone(sample), *back = NULL;
    json_t *j;

    CHECK(b != NULL);
    if (!b)
        return;
    for (size_t i = 0; i < 4; i++)
        lens[i] = strlen(items[i]);
    CHECK_EQ_INT(pc_block_set_data(b, items, lens, 4, NULL), PC_OK);
    j = pc_block_to_json(b);
    CHECK(j != NULL);
    CHECK_EQ_INT(pc_block_from_json(j, &back, NULL), PC_OK);
    if (back)
        check_same_block(b, back);
    pc_block_free(back);
    json_decref(j);
    /* No data at all. */
    CHECK_EQ_INT(pc_block_set_data(b, NULL, NULL, 0, NULL), PC_OK);
    j = pc_block_to_json(b);
    CHECK(json_array_size(json_object_get(j, "data")) == 0);
    back = NULL;
    CHECK_EQ_INT(pc_block_from_json(j, &back, NULL), PC_OK);
    CHECK(back && back->n_data == 0 && back->data == NULL);
    pc_block_free(back);
    json_decref(j);
    pc_block_free(b);
}

static void test_arrays(void)
{
    const pc_block *list[3];
    pc_block *g = pc_network_genesis(pc_network_find("regtest"));
    json_t *a;
    pc_block **out = NULL;
    size_t n = 0;
    struct pc_err err = {0};

    list[0] = g;
    list[1] = sample;
    list[2] = g;
    a = pc_blocks_to_json(list, 3);
    CHECK(a && json_array_size(a) == 3);
    CHECK_EQ_INT(pc_blocks_from_json(a, 3, &out, &n, &err), PC_OK);
    CHECK_EQ_INT(n, 3);
    for (size_t i = 0; i < n && out; i++)
        check_same_block(list[i], out[i]);
    pc_blocks_free(out, n);
    /* Over the cap. */
    out = NULL;
    CHECK_EQ_INT(pc_blocks_from_json(a, 2, &out, &n, &err), PC_E_TOO_LARGE);
    CHECK(out == NULL && n == 0);
    /* One bad element fails the whole array, nothing returned. */
    json_object_del(json_array_get(a, 2), "nonce");
    CHECK_EQ_INT(pc_blocks_from_json(a, 3, &out, &n, &err), PC_E_MISSING);
    CHECK(out == NULL && n == 0);
    json_decref(a);
    /* Empty array: success with zero blocks. */
    a = json_array();
    CHECK_EQ_INT(pc_blocks_from_json(a, 10, &out, &n, &err), PC_OK);
    CHECK_EQ_INT(n, 0);
    pc_blocks_free(out, n);
    json_decref(a);
    /* Not an array. */
    a = json_object();
    CHECK_EQ_INT(pc_blocks_from_json(a, 10, &out, &n, &err), PC_E_TYPE);
    json_decref(a);
    a = pc_blocks_to_json(NULL, 0);
    CHECK(a && json_array_size(a) == 0);
    json_decref(a);
    pc_block_free(g);
}

/* ---- malformed input ---- */

struct bad_row {
    const char *field; /* member to replace or delete; NULL: `value` is the whole text */
    const char *value; /* JSON text of the new value; NULL: delete the member */
    int want;
};

#define HEX64 "0000000000000000000000000000000000000000000000000000000000000000"
#define HEX63 "000000000000000000000000000000000000000000000000000000000000000"

static const struct bad_row bad_rows[] = {
    /* the whole value */
    {NULL, "[]", PC_E_TYPE},
    {NULL, "\"block\"", PC_E_TYPE},
    {NULL, "17", PC_E_TYPE},
    {NULL, "null", PC_E_TYPE},
    {NULL, "true", PC_E_TYPE},
    {NULL, "{}", PC_E_MISSING},
    {NULL, "[{\"height\":1}]", PC_E_TYPE},
    {NULL, "{\"version\":1", PC_E_JSON},   /* truncated */
    {NULL, "{\"version\":1}}", PC_E_JSON}, /* trailing garbage */
    {NULL, "{'version':1}", PC_E_JSON},
    {NULL, "", PC_E_JSON},
    {NULL, "{\"data\":[\"a\\u0000b\"]}", PC_E_JSON},       /* Jansson refuses NUL */
    {NULL, "{\"data\":[\"\xff\"]}", PC_E_JSON},            /* invalid UTF-8 */
    {NULL, "{\"nonce\":1e400}", PC_E_JSON},                /* real overflow */
    {NULL, "{\"nonce\":99999999999999999999}", PC_E_JSON}, /* integer overflow */
    /* integers: each field, each way to be wrong */
    {"version", NULL, PC_E_MISSING},
    {"version", "\"1\"", PC_E_TYPE},
    {"version", "1.0", PC_E_TYPE},
    {"version", "true", PC_E_TYPE},
    {"version", "null", PC_E_TYPE},
    {"version", "-1", PC_E_RANGE},
    {"version", "9007199254740992", PC_E_RANGE},
    {"version", "4294967296", PC_E_VERSION}, /* in range, cannot be version 1 */
    {"height", NULL, PC_E_MISSING},
    {"height", "\"2\"", PC_E_TYPE},
    {"height", "2.5", PC_E_TYPE},
    {"height", "false", PC_E_TYPE},
    {"height", "[2]", PC_E_TYPE},
    {"height", "0", PC_E_RANGE},
    {"height", "-2", PC_E_RANGE},
    {"height", "9007199254740992", PC_E_RANGE},
    {"height", "9223372036854775807", PC_E_RANGE},
    {"height", "-9223372036854775808", PC_E_RANGE},
    {"timestamp", NULL, PC_E_MISSING},
    {"timestamp", "\"1767225600\"", PC_E_TYPE},
    {"timestamp", "1767225600.0", PC_E_TYPE},
    {"timestamp", "1.7e9", PC_E_TYPE},
    {"timestamp", "{}", PC_E_TYPE},
    {"timestamp", "-1", PC_E_RANGE},
    {"timestamp", "9007199254740992", PC_E_RANGE},
    {"nonce", NULL, PC_E_MISSING},
    {"nonce", "\"0\"", PC_E_TYPE},
    {"nonce", "0.5", PC_E_TYPE},
    {"nonce", "null", PC_E_TYPE},
    {"nonce", "-1", PC_E_RANGE},
    {"nonce", "9007199254740992", PC_E_RANGE},
    {"difficulty", NULL, PC_E_MISSING},
    {"difficulty", "\"4\"", PC_E_TYPE},
    {"difficulty", "4.0", PC_E_TYPE},
    {"difficulty", "true", PC_E_TYPE},
    {"difficulty", "-1", PC_E_RANGE},
    {"difficulty", "256", PC_E_RANGE},
    {"difficulty", "9007199254740991", PC_E_RANGE},
    /* hashes */
    {"previousHash", NULL, PC_E_MISSING},
    {"previousHash", "0", PC_E_TYPE},
    {"previousHash", "null", PC_E_TYPE},
    {"previousHash", "[\"" HEX64 "\"]", PC_E_TYPE},
    {"previousHash", "\"\"", PC_E_HEX},
    {"previousHash", "\"" HEX63 "\"", PC_E_HEX},
    {"previousHash", "\"" HEX64 "0\"", PC_E_HEX},
    {"previousHash", "\"" HEX63 "A\"", PC_E_HEX},
    {"previousHash", "\"" HEX63 "g\"", PC_E_HEX},
    {"previousHash", "\"0x" HEX63 "\"", PC_E_HEX},
    {"previousHash", "\" " HEX63 "\"", PC_E_HEX},
    {"merkleRoot", NULL, PC_E_MISSING},
    {"merkleRoot", "1", PC_E_TYPE},
    {"merkleRoot", "\"" HEX63 "\"", PC_E_HEX},
    {"merkleRoot", "\"ABCDEF" HEX64 "\"", PC_E_HEX},
    {"merkleRoot", "\"ABCDEF0000000000000000000000000000000000000000000000000000000000\"",
     PC_E_HEX},
    {"hash", NULL, PC_E_MISSING},
    {"hash", "false", PC_E_TYPE},
    {"hash", "{}", PC_E_TYPE},
    {"hash", "\"" HEX63 "\"", PC_E_HEX},
    {"hash", "\"" HEX63 "z\"", PC_E_HEX},
    {"hash", "\"000000000000000000000000000000000000000000000000000000000000000\\u00e9\"",
     PC_E_HEX},
    /* data */
    {"data", NULL, PC_E_MISSING},
    {"data", "\"hello\"", PC_E_TYPE},
    {"data", "{}", PC_E_TYPE},
    {"data", "null", PC_E_TYPE},
    {"data", "7", PC_E_TYPE},
    {"data", "[1]", PC_E_TYPE},
    {"data", "[\"ok\", null]", PC_E_TYPE},
    {"data", "[[\"nested\"]]", PC_E_TYPE},
    {"data", "[{\"a\":\"b\"}]", PC_E_TYPE},
    {"data", "[true]", PC_E_TYPE},
    {"data", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", PC_E_TYPE},
};

static json_t *sample_json(void)
{
    return pc_block_to_json(sample);
}

static void run_bad_row(size_t i, const struct bad_row *r)
{
    static pc_block sentinel;
    pc_block *out = &sentinel; /* from_json must reset it to NULL */
    struct pc_err err = {0};
    int rc;

    if (!r->field) {
        rc = parse_text(r->value, strlen(r->value), &out, &err);
    } else {
        json_t *j = sample_json();
        if (r->value) {
            json_error_t jerr;
            json_t *v = json_loads(r->value, JSON_DECODE_ANY, &jerr);
            CHECK(v != NULL); /* the row's value itself is valid JSON */
            json_object_set_new(j, r->field, v);
        } else {
            json_object_del(j, r->field);
        }
        rc = pc_block_from_json(j, &out, &err);
        json_decref(j);
    }
    if (rc != r->want)
        fprintf(stderr, "bad row %zu (%s = %s): got %s (%s), want %s\n", i,
                r->field ? r->field : "(text)", r->value ? r->value : "(deleted)", pc_errname(rc),
                err.reason, pc_errname(r->want));
    CHECK_EQ_INT(rc, r->want);
    CHECK(out == NULL);
    CHECK(err.reason[0] != '\0');
    CHECK(strchr(err.reason, '\n') == NULL);
}

/* Rows that need sizes or bytes a literal cannot hold. */
static void test_bad_data_sizes(void)
{
    struct pc_err err = {0};
    pc_block *out = NULL;
    json_t *j, *arr;
    char *big;

    /* 1001 items */
    j = sample_json();
    arr = json_array();
    for (size_t i = 0; i < PC_MAX_DATA_ITEMS + 1; i++)
        json_array_append_new(arr, json_string("x"));
    json_object_set_new(j, "data", arr);
    CHECK_EQ_INT(pc_block_from_json(j, &out, &err), PC_E_TOO_LARGE);
    CHECK(out == NULL);
    /* exactly 1000: fine as JSON */
    json_array_remove(arr, 0);
    CHECK_EQ_INT(pc_block_from_json(j, &out, &err), PC_OK);
    pc_block_free(out);
    out = NULL;
    json_decref(j);

    big = malloc(PC_MAX_DATA_ITEM_BYTES + 2);
    CHECK(big != NULL);
    if (!big)
        return;
    memset(big, 'b', PC_MAX_DATA_ITEM_BYTES + 1);
    /* one item of 65537 bytes */
    j = sample_json();
    arr = json_array();
    json_array_append_new(arr, json_stringn(big, PC_MAX_DATA_ITEM_BYTES + 1));
    json_object_set_new(j, "data", arr);
    CHECK_EQ_INT(pc_block_from_json(j, &out, &err), PC_E_TOO_LARGE);
    CHECK(out == NULL);
    json_decref(j);
    /* 17 items of 65536 bytes: each fine, together over 1 MiB */
    j = sample_json();
    arr = json_array();
    for (size_t i = 0; i < 17; i++)
        json_array_append_new(arr, json_stringn(big, PC_MAX_DATA_ITEM_BYTES));
    json_object_set_new(j, "data", arr);
    CHECK_EQ_INT(pc_block_from_json(j, &out, &err), PC_E_TOO_LARGE);
    CHECK(out == NULL);
    /* 16 of them: exactly 1 MiB, fine */
    json_array_remove(arr, 16);
    CHECK_EQ_INT(pc_block_from_json(j, &out, &err), PC_OK);
    pc_block_free(out);
    out = NULL;
    json_decref(j);
    free(big);

    /* Strings built in memory skip Jansson's checks: an embedded NUL and
     * invalid UTF-8 must still be caught. */
    j = sample_json();
    arr = json_array();
    json_array_append_new(arr, json_stringn_nocheck("a\0b", 3));
    json_object_set_new(j, "data", arr);
    CHECK_EQ_INT(pc_block_from_json(j, &out, &err), PC_E_UTF8);
    CHECK(out == NULL);
    json_array_set_new(arr, 0, json_stringn_nocheck("\xc0\x80", 2)); /* overlong NUL */
    CHECK_EQ_INT(pc_block_from_json(j, &out, &err), PC_E_UTF8);
    json_array_set_new(arr, 0, json_stringn_nocheck("\xed\xa0\x80", 3)); /* surrogate */
    CHECK_EQ_INT(pc_block_from_json(j, &out, &err), PC_E_UTF8);
    json_array_set_new(arr, 0, json_stringn_nocheck("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK_EQ_INT(pc_block_from_json(j, &out, &err), PC_E_UTF8);
    json_array_set_new(arr, 0, json_stringn_nocheck("\xe2\x82", 2)); /* truncated */
    CHECK_EQ_INT(pc_block_from_json(j, &out, &err), PC_E_UTF8);
    json_array_set_new(arr, 0, json_stringn_nocheck("\xe2\x82\xac", 3)); /* the euro sign */
    CHECK_EQ_INT(pc_block_from_json(j, &out, &err), PC_OK);
    pc_block_free(out);
    out = NULL;
    json_decref(j);

    /* An out pointer is required; a missing one is the caller's bug. */
    j = sample_json();
    CHECK_EQ_INT(pc_block_from_json(j, NULL, &err), PC_E_ARG);
    json_decref(j);
}

/* Semantic rules are pc_block_check's: a version-2 block parses, then
 * fails the check with PC_E_VERSION. */
static void test_version_is_checked_later(void)
{
    json_t *j = sample_json();
    pc_block *out = NULL;
    struct pc_err err = {0};

    json_object_set_new(j, "version", json_integer(2));
    CHECK_EQ_INT(pc_block_from_json(j, &out, &err), PC_OK);
    CHECK(out != NULL);
    if (out) {
        CHECK_EQ_INT(out->version, 2);
        CHECK_EQ_INT(pc_block_check(out, &err), PC_E_VERSION);
    }
    pc_block_free(out);
    json_decref(j);
}

/* pc_block_write_json must give exactly json_dumps(pc_block_to_json(b),
 * JSON_COMPACT), for every byte a data string may hold and for strings made
 * of random pieces of them, and must report the length when cap is short. */
static void check_writer_matches_jansson(const pc_block *b)
{
    json_t *j = pc_block_to_json(b);
    char *want = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    CHECK(want != NULL);
    if (!want)
        return;
    size_t n = strlen(want);
    char *got = malloc(n + 1);
    CHECK(got != NULL);
    if (got) {
        CHECK_EQ_INT(pc_block_write_json(b, got, n), n);
        CHECK(memcmp(got, want, n) == 0);
        CHECK_EQ_INT(pc_block_write_json(b, got, n / 2), n); /* short: length only */
        CHECK_EQ_INT(pc_block_write_json(b, NULL, 0), n);
    }
    free(got);
    free(want);
}

static void test_write_json(void)
{
    pc_block *b = pc_block_clone(sample);
    CHECK(b != NULL);
    if (!b)
        return;
    check_writer_matches_jansson(b);
    const char *none[1] = {NULL};
    CHECK_EQ_INT(pc_block_set_data(b, none, (const size_t[]){0}, 0, NULL), PC_OK);
    check_writer_matches_jansson(b);

    /* Every byte 0x01..0x7f alone, then UTF-8 of 2, 3 and 4 bytes. */
    char one[2] = {0, 0};
    const char *items[1] = {one};
    for (int c = 1; c < 0x80; c++) {
        one[0] = (char)c;
        CHECK_EQ_INT(pc_block_set_data(b, items, (const size_t[]){1}, 1, NULL), PC_OK);
        check_writer_matches_jansson(b);
    }
    static const char *const pieces[] = {"a",
                                         "\"",
                                         "\\",
                                         "/",
                                         "\b",
                                         "\f",
                                         "\n",
                                         "\r",
                                         "\t",
                                         "\x01",
                                         "\x1f",
                                         "\x7f",
                                         "\xc3\xa9",
                                         "\xe2\x80\xa8",
                                         "\xf0\x9f\x98\x80",
                                         " ",
                                         "z9"};
    size_t np = sizeof pieces / sizeof pieces[0];
    uint32_t x = 12345;
    for (int round = 0; round < 300; round++) {
        char buf[4][64];
        const char *data[4];
        size_t lens[4];
        size_t nd = 1 + (size_t)(round % 4);
        for (size_t d = 0; d < nd; d++) {
            size_t len = 0;
            for (int k = 0; k < 8; k++) {
                x = x * 1103515245u + 12345u;
                const char *piece = pieces[(x >> 16) % np];
                size_t pl = strlen(piece);
                memcpy(buf[d] + len, piece, pl);
                len += pl;
            }
            buf[d][len] = '\0';
            data[d] = buf[d];
            lens[d] = len;
        }
        CHECK_EQ_INT(pc_block_set_data(b, data, lens, nd, NULL), PC_OK);
        b->nonce = x % 1000000u;
        b->timestamp = (int64_t)(x % 2000000000u);
        check_writer_matches_jansson(b);
    }
    pc_block_free(b);
}

int main(void)
{
    pc_chain *c;
    size_t rows = sizeof bad_rows / sizeof bad_rows[0];

    c = testnet_regtest_chain();
    CHECK(c != NULL);
    if (!c)
        return check_summary();
    sample = testnet_mine_next(c, pc_chain_tip(c)->timestamp + 1, "sample data");
    CHECK(sample != NULL);
    if (!sample) {
        pc_chain_free(c);
        return check_summary();
    }
    test_round_trip();
    test_unicode_and_empty();
    test_arrays();
    CHECK(rows >= 60);
    for (size_t i = 0; i < rows; i++)
        run_bad_row(i, &bad_rows[i]);
    test_bad_data_sizes();
    test_version_is_checked_later();
    test_write_json();
    pc_block_free(sample);
    pc_chain_free(c);
    return check_summary();
}
