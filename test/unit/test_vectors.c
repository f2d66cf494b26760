/*
 * Known-answer vectors: reads every ```vectors block of docs/protocol.md
 * (the one place they live; the format is described there) and checks the
 * library against each line. The expected values were computed outside
 * this code base, so a pass means the C code agrees with the spec, not just
 * with itself. Minimum counts per kind guard against a parser that silently
 * finds nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "peerchain/peerchain.h"

#define VECTORS_PATH PC_SOURCE_DIR "/docs/protocol.md"
#define LINE_MAX_BYTES 4096

static void fail_line(int lineno, const char *what)
{
    fprintf(stderr, "protocol.md:%d: %s\n", lineno, what);
    CHECK(0);
}

static void hex_of(const pc_hash *h, char out[PC_HASH_HEX_CHARS + 1])
{
    pc_hash_to_hex(h, out);
}

static void v_merkle(int lineno, const char *in, const char *want)
{
    json_error_t jerr;
    json_t *arr = json_loads(in, 0, &jerr);
    size_t n = json_array_size(arr);
    const char **items = calloc(n ? n : 1, sizeof *items);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    pc_hash root;
    char hex[PC_HASH_HEX_CHARS + 1];

    if (!json_is_array(arr) || !items || !lens) {
        fail_line(lineno, "merkle input is not a JSON array");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        items[i] = json_string_value(json_array_get(arr, i));
        lens[i] = json_string_length(json_array_get(arr, i));
    }
    CHECK_EQ_INT(pc_merkle_root(items, lens, n, &root), PC_OK);
    hex_of(&root, hex);
    if (strcmp(hex, want) != 0)
        fail_line(lineno, "merkle root differs");
    CHECK_EQ_STR(hex, want);
out:
    free(items);
    free(lens);
    json_decref(arr);
}

static void v_header(int lineno, const char *in, const char *want)
{
    json_error_t jerr;
    json_t *j = json_loads(in, 0, &jerr);
    pc_block *b = NULL;
    char want_pre[PC_PREIMAGE_MAX_BYTES + 1], want_hash[PC_HASH_HEX_CHARS + 1];
    char pre[PC_PREIMAGE_MAX_BYTES + 1], hex[PC_HASH_HEX_CHARS + 1];
    pc_hash h, root;
    size_t n;

    if (sscanf(want, "preimage %209s hash %64s", want_pre, want_hash) != 2) {
        fail_line(lineno, "header expectation is not 'preimage P hash H'");
        goto out;
    }
    if (!j || pc_block_from_json(j, &b, NULL) != PC_OK) {
        fail_line(lineno, "header input is not a block");
        goto out;
    }
    n = pc_block_preimage(b, pre);
    pre[n] = '\0';
    CHECK_EQ_STR(pre, want_pre);
    pc_block_compute_hash(b, &h);
    hex_of(&h, hex);
    CHECK_EQ_STR(hex, want_hash);
    /* The vector's own fields are consistent: hash and merkle root. */
    CHECK(pc_hash_equal(&h, &b->hash));
    CHECK_EQ_INT(pc_merkle_root((const char *const *)b->data, b->data_len, b->n_data, &root),
                 PC_OK);
    CHECK(pc_hash_equal(&root, &b->merkle_root));
out:
    pc_block_free(b);
    json_decref(j);
}

static void v_genesis(int lineno, const char *in, const char *want)
{
    const pc_network *net = pc_network_find(in);
    json_error_t jerr;
    json_t *want_json = json_loads(want, 0, &jerr);
    pc_block *g = NULL;
    json_t *got = NULL;
    char hex[PC_HASH_HEX_CHARS + 1];

    if (!net || !want_json) {
        fail_line(lineno, "unknown network or bad genesis JSON");
        goto out;
    }
    g = pc_network_genesis(net);
    CHECK(g != NULL);
    if (!g)
        goto out;
    got = pc_block_to_json(g);
    if (!json_equal(got, want_json))
        fail_line(lineno, "genesis block differs");
    CHECK(json_equal(got, want_json));
    /* The table's hash, the document's hash and the computed hash agree,
     * and genesis is a valid block by the context-free rules. */
    hex_of(&g->hash, hex);
    CHECK_EQ_STR(hex, net->genesis_hash_hex);
    CHECK_EQ_STR(hex, json_string_value(json_object_get(want_json, "hash")));
    CHECK_EQ_INT(pc_block_check(g, NULL), PC_OK);
    CHECK_EQ_INT(g->height, 1);
    CHECK(pc_hash_is_zero(&g->previous_hash));
out:
    json_decref(got);
    json_decref(want_json);
    pc_block_free(g);
}

static void v_work(int lineno, const char *in, const char *want)
{
    json_error_t jerr;
    json_t *arr = json_loads(in, 0, &jerr);
    pc_work w;
    char hex[PC_WORK_HEX_BYTES];

    if (!json_is_array(arr)) {
        fail_line(lineno, "work input is not a JSON array");
        json_decref(arr);
        return;
    }
    pc_work_zero(&w);
    for (size_t i = 0; i < json_array_size(arr); i++)
        pc_work_add_pow2(&w, (unsigned)json_integer_value(json_array_get(arr, i)));
    pc_work_to_hex(&w, hex);
    CHECK_EQ_STR(hex, want);
    /* And back. */
    {
        pc_work back;
        CHECK_EQ_INT(pc_work_from_hex(hex, strlen(hex), &back), PC_OK);
        CHECK_EQ_INT(pc_work_cmp(&back, &w), 0);
    }
    json_decref(arr);
}

static void v_work_hex(int lineno, const char *in, const char *want)
{
    json_error_t jerr;
    json_t *s = json_loads(in, JSON_DECODE_ANY, &jerr);
    pc_work w;
    int rc;

    if (!json_is_string(s)) {
        fail_line(lineno, "work-hex input is not a JSON string");
        json_decref(s);
        return;
    }
    rc = pc_work_from_hex(json_string_value(s), json_string_length(s), &w);
    if (strcmp(want, "ok") == 0) {
        char back[PC_WORK_HEX_BYTES];
        CHECK_EQ_INT(rc, PC_OK);
        pc_work_to_hex(&w, back);
        CHECK_EQ_STR(back, json_string_value(s));
    } else {
        CHECK_EQ_STR(pc_errname(rc), want);
    }
    json_decref(s);
}

static void v_zeros(int lineno, const char *in, const char *want)
{
    pc_hash h;

    if (pc_hash_from_hex(in, strlen(in), &h) != PC_OK) {
        fail_line(lineno, "zeros input is not a hash");
        return;
    }
    CHECK_EQ_INT(pc_hash_leading_zero_bits(&h), atoi(want));
}

static void v_errname(int lineno, const char *in, const char *want)
{
    (void)lineno;
    CHECK_EQ_STR(pc_errname(atoi(in)), want);
}

static struct vector_kind {
    const char *name;
    void (*run)(int lineno, const char *in, const char *want);
    int min; /* at least this many in the document */
    int seen;
} kinds[] = {
    {"merkle", v_merkle, 5, 0},    {"header", v_header, 3, 0},     {"genesis", v_genesis, 2, 0},
    {"work", v_work, 5, 0},        {"work-hex", v_work_hex, 8, 0}, {"zeros", v_zeros, 5, 0},
    {"errname", v_errname, 38, 0},
};
#define KIND_COUNT (sizeof kinds / sizeof kinds[0])

static void run_line(int lineno, char *line)
{
    char *sep = strstr(line, " => ");
    char *space = strchr(line, ' ');
    char *in, *want;

    if (!sep || !space || space > sep) {
        fail_line(lineno, "not '<kind> <input> => <expected>'");
        return;
    }
    *space = '\0';
    *sep = '\0';
    in = space + 1;
    want = sep + 4;
    for (size_t k = 0; k < KIND_COUNT; k++) {
        if (strcmp(line, kinds[k].name) == 0) {
            kinds[k].seen++;
            kinds[k].run(lineno, in, want);
            return;
        }
    }
    fail_line(lineno, "unknown vector kind");
}

int main(void)
{
    FILE *f;
    char line[LINE_MAX_BYTES];
    int lineno = 0, in_block = 0, blocks = 0;

    if (pc_crypto_init() != PC_OK)
        return 2;
    f = fopen(VECTORS_PATH, "r");
    CHECK(f != NULL);
    if (!f) {
        perror(VECTORS_PATH);
        return check_summary();
    }
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        lineno++;
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            fail_line(lineno, "line too long for the test");
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (!in_block) {
            if (strcmp(line, "```vectors") == 0) {
                in_block = 1;
                blocks++;
            }
            continue;
        }
        if (strcmp(line, "```") == 0) {
            in_block = 0;
            continue;
        }
        if (len == 0 || line[0] == '#')
            continue;
        run_line(lineno, line);
    }
    fclose(f);
    CHECK(!in_block);
    CHECK(blocks >= 1);
    for (size_t k = 0; k < KIND_COUNT; k++) {
        if (kinds[k].seen < kinds[k].min)
            fprintf(stderr, "only %d '%s' vectors, want >= %d\n", kinds[k].seen, kinds[k].name,
                    kinds[k].min);
        CHECK(kinds[k].seen >= kinds[k].min);
    }
    return check_summary();
}
