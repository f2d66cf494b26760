/*
 * LMDB store: create, append, reopen, replace after a fork point in one
 * transaction, readers, and refusal of foreign or damaged data directories.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "store.h"
#include "testnet.h"

static char tmpl[] = "/tmp/pc-test-store.XXXXXX";

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        out[0] = '\0'; /* test paths are short; an empty path fails loudly below */
}

static void rm_dir(const char *dir)
{
    char p[512];
    const char *files[] = {"data.mdb", "lock.mdb", "junk"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        path_in(p, sizeof p, dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* Mines n blocks on c (timestamps one second apart) and returns them as an
 * array borrowed from c, heights from+1 .. from+n. */
static const pc_block **grow(pc_chain *c, size_t n, const char *datum)
{
    uint64_t from = pc_chain_height(c);
    if (testnet_grow(c, n, 1, datum) != 0)
        return NULL;
    const pc_block **v = calloc(n, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = pc_chain_at(c, from + 1 + i);
    return v;
}

static int count_headers(void *ctx, uint64_t height, const struct pc_store_header *h)
{
    (void)h;
    uint64_t *n = ctx;
    if (height != *n + 1)
        return -1;
    (*n)++;
    return 0;
}

static void test_create_append_reopen(const pc_network *net, const char *dir)
{
    struct pc_store *s = NULL;
    struct pc_err err;
    CHECK_EQ_INT(pc_store_open(dir, net, 0, &s, &err), PC_OK);
    if (s == NULL) {
        fprintf(stderr, "cannot open store: %s\n", err.reason);
        return;
    }
    CHECK_EQ_INT(pc_store_tip_height(s), 1);

    pc_chain *c = pc_chain_new(net);
    const pc_block **v = grow(c, 20, "a");
    CHECK(v != NULL);
    CHECK_EQ_INT(pc_store_commit(s, 1, (const pc_block *const *)v, 20, &err), PC_OK);
    CHECK_EQ_INT(pc_store_tip_height(s), 21);
    /* heights must be consecutive from fork+1 */
    CHECK_EQ_INT(pc_store_commit(s, 21, (const pc_block *const *)v, 1, &err), PC_E_ARG);
    CHECK_EQ_INT(pc_store_commit(s, 99, NULL, 0, &err), PC_E_ARG);
    free(v);
    pc_store_close(s);

    s = NULL;
    CHECK_EQ_INT(pc_store_open(dir, net, 0, &s, &err), PC_OK);
    CHECK_EQ_INT(pc_store_tip_height(s), 21);

    struct pc_store_reader *r = NULL;
    CHECK_EQ_INT(pc_store_reader_begin(s, &r, &err), PC_OK);
    CHECK_EQ_INT(pc_store_reader_tip(r), 21);
    for (uint64_t h = 1; h <= 21; h++) {
        pc_block *b = NULL;
        CHECK_EQ_INT(pc_store_get_block(r, h, &b, &err), PC_OK);
        CHECK(b && pc_hash_equal(&b->hash, &pc_chain_at(c, h)->hash));
        uint64_t found = 0;
        CHECK_EQ_INT(pc_store_find(r, &pc_chain_at(c, h)->hash, &found), PC_OK);
        CHECK_EQ_INT(found, h);
        pc_block_free(b);
    }
    const char *json;
    size_t len;
    CHECK_EQ_INT(pc_store_get_json(r, 22, &json, &len), PC_E_NOT_FOUND);
    CHECK_EQ_INT(pc_store_get_json(r, 5, &json, &len), PC_OK);
    CHECK(len > 0 && json[0] == '{' && json[len - 1] == '}');
    pc_store_reader_end(r);

    uint64_t n = 0;
    CHECK_EQ_INT(pc_store_scan_headers(s, count_headers, &n, &err), PC_OK);
    CHECK_EQ_INT(n, 21);
    pc_store_close(s);
    pc_chain_free(c);
}

/* A replacement removes the old blocks above the fork and their hash entries,
 * and a reader opened before it keeps seeing the old chain. */
static void test_replace(const pc_network *net, const char *dir)
{
    struct pc_store *s = NULL;
    struct pc_err err;
    CHECK_EQ_INT(pc_store_open(dir, net, 0, &s, &err), PC_OK);

    pc_chain *old = pc_chain_new(net), *alt = pc_chain_new(net);
    const pc_block **a = grow(old, 10, "old");
    CHECK_EQ_INT(pc_store_commit(s, 1, (const pc_block *const *)a, 10, &err), PC_OK);
    /* alt shares blocks 2..4, then differs */
    for (uint64_t h = 2; h <= 4; h++) {
        pc_block *b = pc_block_clone(pc_chain_at(old, h));
        CHECK_EQ_INT(pc_chain_append(alt, b, 1767225600 + 100000, &err), PC_OK);
    }
    const pc_block **b = grow(alt, 8, "alt");
    CHECK(a && b);

    struct pc_store_reader *before = NULL;
    CHECK_EQ_INT(pc_store_reader_begin(s, &before, &err), PC_OK);

    CHECK_EQ_INT(pc_store_commit(s, 4, (const pc_block *const *)b, 8, &err), PC_OK);
    CHECK_EQ_INT(pc_store_tip_height(s), 12);

    struct pc_store_reader *after = NULL;
    CHECK_EQ_INT(pc_store_reader_begin(s, &after, &err), PC_OK);
    uint64_t h = 0;
    CHECK_EQ_INT(pc_store_find(after, &pc_chain_at(old, 7)->hash, &h), PC_E_NOT_FOUND);
    CHECK_EQ_INT(pc_store_find(after, &pc_chain_at(alt, 7)->hash, &h), PC_OK);
    CHECK_EQ_INT(h, 7);
    CHECK_EQ_INT(pc_store_find(after, &pc_chain_at(old, 3)->hash, &h), PC_OK);
    CHECK_EQ_INT(pc_store_reader_tip(after), 12);
    /* the snapshot taken before still sees the old chain */
    CHECK_EQ_INT(pc_store_reader_tip(before), 11);
    CHECK_EQ_INT(pc_store_find(before, &pc_chain_at(old, 7)->hash, &h), PC_OK);
    pc_store_reader_end(before);
    pc_store_reader_end(after);
    pc_store_close(s);

    s = NULL;
    CHECK_EQ_INT(pc_store_open(dir, net, 0, &s, &err), PC_OK);
    CHECK_EQ_INT(pc_store_tip_height(s), 12);
    pc_store_close(s);
    free(a);
    free(b);
    pc_chain_free(old);
    pc_chain_free(alt);
}

static void test_refusals(const pc_network *net, const pc_network *other, const char *dir)
{
    struct pc_store *s = NULL;
    struct pc_err err;
    /* a directory of another network */
    CHECK_EQ_INT(pc_store_open(dir, other, 0, &s, &err), PC_E_CORRUPT);
    CHECK(s == NULL && strstr(err.reason, "network") != NULL);

    /* a data file that is not LMDB */
    char fdir[] = "/tmp/pc-test-store-foreign.XXXXXX", p[512];
    CHECK(mkdtemp(fdir) != NULL);
    path_in(p, sizeof p, fdir, "data.mdb");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char junk[8192];
    memset(junk, 'x', sizeof junk);
    CHECK(fd >= 0 && write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
    close(fd);
    CHECK(pc_store_open(fdir, net, 0, &s, &err) != PC_OK);
    CHECK(s == NULL && err.reason[0] != '\0');
    rm_dir(fdir);

    /* a path that is a file, and an empty path */
    path_in(p, sizeof p, dir, "junk");
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    close(fd);
    CHECK_EQ_INT(pc_store_open(p, net, 0, &s, &err), PC_E_IO);
    CHECK_EQ_INT(pc_store_open("", net, 0, &s, &err), PC_E_ARG);
}

int main(void)
{
    struct testnet tn, tn2;
    CHECK_EQ_INT(pc_crypto_init(), 0);
    CHECK_EQ_INT(testnet_init(&tn, "store-test", 2, 2, 0, 1), 0);
    CHECK_EQ_INT(testnet_init(&tn2, "store-other", 2, 2, 0, 1), 0);
    if (mkdtemp(tmpl) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    char d1[128], d2[128];
    path_in(d1, sizeof d1, tmpl, "a");
    path_in(d2, sizeof d2, tmpl, "b");
    test_create_append_reopen(&tn.net, d1);
    test_replace(&tn.net, d2);
    test_refusals(&tn.net, &tn2.net, d1);
    rm_dir(d1);
    rm_dir(d2);
    char junk[600];
    path_in(junk, sizeof junk, tmpl, "a/junk");
    unlink(junk);
    rmdir(tmpl);
    return check_summary();
}
