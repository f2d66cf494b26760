/*
 * The block JSON codec (block.h; docs/protocol.md, "Block JSON").
 *
 * Parsing never trusts its input: a peer chooses every byte. Each field is
 * looked up, type-checked and range-checked before it is used, every
 * failure has its own code and a one-line reason naming the field, and
 * nothing here asserts on input. Semantic rules (merkle root, hash, proof of
 * work, version value) are left to pc_block_check, so that a block that
 * parses can still be reported with the rule it breaks.
 *
 * Pure; safe from any thread on distinct values.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peerchain/block.h"
#include "peerchain/limits.h"

/* "block 17" once the height is known, "block" before: the prefix of every
 * reason. */
struct bjson_ctx {
    const json_t *obj;
    char who[32];
    struct pc_err *err;
};

static const json_t *bjson_field(struct bjson_ctx *cx, const char *key, int *rc)
{
    const json_t *v = json_object_get(cx->obj, key);

    *rc = PC_OK;
    if (!v)
        *rc = pc_err_set(cx->err, PC_E_MISSING, "%s: missing field '%s'", cx->who, key);
    return v;
}

/* A JSON integer (not a real, string or boolean) in min..max. */
static int bjson_uint(struct bjson_ctx *cx, const char *key, uint64_t min, uint64_t max,
                      uint64_t *out)
{
    int rc;
    const json_t *v = bjson_field(cx, key, &rc);
    json_int_t i;

    if (!v)
        return rc;
    if (!json_is_integer(v))
        return pc_err_set(cx->err, PC_E_TYPE, "%s: field '%s' is not an integer", cx->who, key);
    i = json_integer_value(v);
    if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
        return pc_err_set(cx->err, PC_E_RANGE,
                          "%s: field '%s' is %" JSON_INTEGER_FORMAT ", outside %" PRIu64
                          "..%" PRIu64,
                          cx->who, key, i, min, max);
    *out = (uint64_t)i;
    return PC_OK;
}

/* A string of exactly 64 lowercase hex characters. */
static int bjson_hash(struct bjson_ctx *cx, const char *key, pc_hash *out)
{
    int rc;
    const json_t *v = bjson_field(cx, key, &rc);

    if (!v)
        return rc;
    if (!json_is_string(v))
        return pc_err_set(cx->err, PC_E_TYPE, "%s: field '%s' is not a string", cx->who, key);
    if (pc_hash_from_hex(json_string_value(v), json_string_length(v), out) != PC_OK)
        return pc_err_set(cx->err, PC_E_HEX, "%s: field '%s' is not 64 lowercase hex characters",
                          cx->who, key);
    return PC_OK;
}

/* An array of at most PC_MAX_DATA_ITEMS strings; the byte limits and UTF-8
 * are checked by pc_block_set_data before anything is copied. */
static int bjson_data(struct bjson_ctx *cx, pc_block *b)
{
    int rc;
    const json_t *v = bjson_field(cx, "data", &rc);
    const char **items = NULL;
    size_t *lens = NULL;
    size_t n;

    if (!v)
        return rc;
    if (!json_is_array(v))
        return pc_err_set(cx->err, PC_E_TYPE, "%s: field 'data' is not an array", cx->who);
    n = json_array_size(v);
    /* Checked before allocating, so a hostile array costs us nothing. */
    if (n > PC_MAX_DATA_ITEMS)
        return pc_err_set(cx->err, PC_E_TOO_LARGE, "%s: %zu data items, limit %u", cx->who, n,
                          PC_MAX_DATA_ITEMS);
    if (n == 0)
        return PC_OK;
    items = calloc(n, sizeof *items);
    lens = calloc(n, sizeof *lens);
    if (!items || !lens) {
        rc = pc_err_set(cx->err, PC_E_NOMEM, "%s: out of memory reading data", cx->who);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(v, i);
        if (!json_is_string(s)) {
            rc = pc_err_set(cx->err, PC_E_TYPE, "%s: data item %zu is not a string", cx->who, i);
            goto out;
        }
        items[i] = json_string_value(s);
        lens[i] = json_string_length(s); /* not strlen: counts past an embedded NUL */
    }
    rc = pc_block_set_data(b, items, lens, n, cx->err);
out:
    free(items);
    free(lens);
    return rc;
}

int pc_block_from_json(const json_t *j, pc_block **out, struct pc_err *err)
{
    struct bjson_ctx cx = {.obj = j, .who = "block", .err = err};
    pc_block *b = NULL;
    uint64_t v;
    int rc;

    if (!out)
        return pc_err_set(err, PC_E_ARG, "block: no output pointer");
    *out = NULL;
    if (!json_is_object(j))
        return pc_err_set(err, PC_E_TYPE, "block: not a JSON object");
    b = pc_block_new();
    if (!b)
        return pc_err_set(err, PC_E_NOMEM, "block: out of memory");

    /* Height first, so that every later reason can name the block. */
    rc = bjson_uint(&cx, "height", 1, PC_MAX_SAFE_INTEGER, &b->height);
    if (rc != PC_OK)
        goto out;
    snprintf(cx.who, sizeof cx.who, "block %" PRIu64, b->height);

    /* Any version in range parses, so that pc_block_check can reject it
     * with PC_E_VERSION; one that does not fit the 32-bit field can never
     * be accepted and is rejected here with the same code. */
    rc = bjson_uint(&cx, "version", 0, PC_MAX_SAFE_INTEGER, &v);
    if (rc != PC_OK)
        goto out;
    if (v > UINT32_MAX) {
        rc = pc_err_set(err, PC_E_VERSION, "%s: version %" PRIu64 " not accepted", cx.who, v);
        goto out;
    }
    b->version = (uint32_t)v;
    rc = bjson_uint(&cx, "timestamp", 0, PC_MAX_SAFE_INTEGER, &v);
    if (rc != PC_OK)
        goto out;
    b->timestamp = (int64_t)v;
    rc = bjson_hash(&cx, "previousHash", &b->previous_hash);
    if (rc != PC_OK)
        goto out;
    rc = bjson_hash(&cx, "merkleRoot", &b->merkle_root);
    if (rc != PC_OK)
        goto out;
    rc = bjson_uint(&cx, "nonce", 0, PC_MAX_SAFE_INTEGER, &b->nonce);
    if (rc != PC_OK)
        goto out;
    rc = bjson_uint(&cx, "difficulty", 0, PC_MAX_DIFFICULTY, &v);
    if (rc != PC_OK)
        goto out;
    b->difficulty = (uint32_t)v;
    rc = bjson_data(&cx, b);
    if (rc != PC_OK)
        goto out;
    rc = bjson_hash(&cx, "hash", &b->hash);
    if (rc != PC_OK)
        goto out;
    *out = b;
    b = NULL;
out:
    pc_block_free(b);
    return rc;
}

int pc_blocks_from_json(const json_t *arr, size_t max_blocks, pc_block ***out, size_t *n_out,
                        struct pc_err *err)
{
    pc_block **blocks = NULL;
    size_t n, done = 0;
    int rc = PC_OK;

    if (!out || !n_out)
        return pc_err_set(err, PC_E_ARG, "blocks: no output pointer");
    *out = NULL;
    *n_out = 0;
    if (!json_is_array(arr))
        return pc_err_set(err, PC_E_TYPE, "blocks: not a JSON array");
    n = json_array_size(arr);
    if (n > max_blocks)
        return pc_err_set(err, PC_E_TOO_LARGE, "blocks: %zu blocks, limit %zu", n, max_blocks);
    /* Never NULL on success, even for an empty array. */
    blocks = calloc(n ? n : 1, sizeof *blocks);
    if (!blocks)
        return pc_err_set(err, PC_E_NOMEM, "blocks: out of memory");
    for (; done < n; done++) {
        rc = pc_block_from_json(json_array_get(arr, done), &blocks[done], err);
        if (rc != PC_OK)
            goto out;
    }
    *out = blocks;
    *n_out = n;
    blocks = NULL;
out:
    pc_blocks_free(blocks, done);
    return rc;
}

void pc_blocks_free(pc_block **blocks, size_t n)
{
    if (!blocks)
        return;
    for (size_t i = 0; i < n; i++)
        pc_block_free(blocks[i]);
    free(blocks);
}

/* json_object_set_new steals the value even when it fails (and accepts a
 * NULL value as a failure), so each field is one checked call. */
static int bjson_set(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, v) == 0 ? PC_OK : PC_E_NOMEM;
}

static json_t *bjson_hex(const pc_hash *h)
{
    char hex[PC_HASH_HEX_CHARS + 1];

    pc_hash_to_hex(h, hex);
    return json_stringn(hex, PC_HASH_HEX_CHARS);
}

static json_t *bjson_data_array(const pc_block *b)
{
    json_t *a = json_array();

    if (!a)
        return NULL;
    for (size_t i = 0; i < b->n_data; i++) {
        /* json_stringn also refuses invalid UTF-8: only a block that fails
         * pc_block_check can have it, and it then has no JSON form. */
        if (json_array_append_new(a, json_stringn(b->data[i], b->data_len[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *pc_block_to_json(const pc_block *b)
{
    json_t *o = json_object();

    if (!o)
        return NULL;
    /* The seed design's field order; JSON readers must not depend on it. */
    if (bjson_set(o, "version", json_integer((json_int_t)b->version)) != PC_OK ||
        bjson_set(o, "height", json_integer((json_int_t)b->height)) != PC_OK ||
        bjson_set(o, "timestamp", json_integer((json_int_t)b->timestamp)) != PC_OK ||
        bjson_set(o, "previousHash", bjson_hex(&b->previous_hash)) != PC_OK ||
        bjson_set(o, "merkleRoot", bjson_hex(&b->merkle_root)) != PC_OK ||
        bjson_set(o, "nonce", json_integer((json_int_t)b->nonce)) != PC_OK ||
        bjson_set(o, "difficulty", json_integer((json_int_t)b->difficulty)) != PC_OK ||
        bjson_set(o, "data", bjson_data_array(b)) != PC_OK ||
        bjson_set(o, "hash", bjson_hex(&b->hash)) != PC_OK) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- compact text without a tree (pc_block_write_json) ---- */

/* An output cursor: bytes past cap are counted, not written. */
struct jw {
    char *buf;
    size_t cap, len;
};

static void jw_put(struct jw *w, const char *s, size_t n)
{
    if (w->len < w->cap)
        memcpy(w->buf + w->len, s, n <= w->cap - w->len ? n : w->cap - w->len);
    w->len += n;
}

static void jw_str(struct jw *w, const char *s)
{
    jw_put(w, s, strlen(s));
}

static void jw_u64(struct jw *w, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    jw_put(w, tmp + i, sizeof tmp - i);
}

static void jw_hex(struct jw *w, const pc_hash *h)
{
    char hex[PC_HASH_HEX_CHARS + 1];
    pc_hash_to_hex(h, hex);
    jw_put(w, "\"", 1);
    jw_put(w, hex, PC_HASH_HEX_CHARS);
    jw_put(w, "\"", 1);
}

/* A JSON string as Jansson's encoder writes it without JSON_ENSURE_ASCII or
 * JSON_ESCAPE_SLASH: '"' and '\\' escaped, \b \f \n \r \t by name, other
 * bytes below 0x20 as \u00XX (upper-case hex), everything else (UTF-8
 * included) as it is. */
static void jw_string(struct jw *w, const char *s, size_t n)
{
    static const char hexd[] = "0123456789ABCDEF";
    size_t run = 0; /* bytes of s[0..] that need no escape, not yet written */
    jw_put(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        jw_put(w, s + i - run, run);
        run = 0;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t k = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hexd[c >> 4];
            esc[5] = hexd[c & 15];
            k = 6;
        }
        jw_put(w, esc, k);
    }
    jw_put(w, s + n - run, run);
    jw_put(w, "\"", 1);
}

size_t pc_block_write_json(const pc_block *b, char *buf, size_t cap)
{
    struct jw w = {buf, cap, 0};
    /* The field order of pc_block_to_json. */
    jw_str(&w, "{\"version\":");
    jw_u64(&w, b->version);
    jw_str(&w, ",\"height\":");
    jw_u64(&w, b->height);
    jw_str(&w, ",\"timestamp\":");
    if (b->timestamp < 0) { /* never valid, but written as Jansson would */
        jw_put(&w, "-", 1);
        jw_u64(&w, (uint64_t)0 - (uint64_t)b->timestamp);
    } else {
        jw_u64(&w, (uint64_t)b->timestamp);
    }
    jw_str(&w, ",\"previousHash\":");
    jw_hex(&w, &b->previous_hash);
    jw_str(&w, ",\"merkleRoot\":");
    jw_hex(&w, &b->merkle_root);
    jw_str(&w, ",\"nonce\":");
    jw_u64(&w, b->nonce);
    jw_str(&w, ",\"difficulty\":");
    jw_u64(&w, b->difficulty);
    jw_str(&w, ",\"data\":[");
    for (size_t i = 0; i < b->n_data; i++) {
        if (i > 0)
            jw_put(&w, ",", 1);
        jw_string(&w, b->data[i], b->data_len[i]);
    }
    jw_str(&w, "],\"hash\":");
    jw_hex(&w, &b->hash);
    jw_put(&w, "}", 1);
    return w.len;
}

json_t *pc_blocks_to_json(const pc_block *const *blocks, size_t n)
{
    json_t *a = json_array();

    if (!a)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(a, pc_block_to_json(blocks[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}
