/*
 * --sync-writes (src/node/opts.c) and the store's sync policy
 * (src/store/store.c): defaults per network, explicit values, bad values
 * refused with a one-line error naming the flag, and a store under the "os"
 * policy that keeps its commits across a flush, a policy change and a
 * reopen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "opts.h"
#include "store.h"
#include "testnet.h"

/* Parses a NULL-terminated argument list (argv[0] added); the error text
 * goes to errbuf. */
static enum opts_result parse(struct node_config *cfg, const char *const *args, char *errbuf,
                              size_t errcap)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"peerchaind";
    for (; *args != NULL && argc < 31; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    FILE *out = fopen("/dev/null", "w");
    FILE *err = tmpfile();
    enum opts_result r = opts_parse(argc, argv, cfg, out, err);
    errbuf[0] = '\0';
    if (err != NULL) {
        rewind(err);
        size_t n = fread(errbuf, 1, errcap - 1, err);
        errbuf[n] = '\0';
        fclose(err);
    }
    if (out != NULL)
        fclose(out);
    return r;
}

static void expect_policy(const char *const *args, enum pc_store_sync want)
{
    struct node_config cfg;
    char e[512];
    CHECK_EQ_INT(parse(&cfg, args, e, sizeof e), OPTS_RUN);
    CHECK_EQ_INT(cfg.sync_writes, want);
    opts_free(&cfg);
}

static void expect_refused(const char *value)
{
    const char *args[] = {"--network", "regtest", "--sync-writes", value, NULL};
    struct node_config cfg;
    char e[512];
    CHECK_EQ_INT(parse(&cfg, args, e, sizeof e), OPTS_EXIT_USAGE);
    CHECK(strstr(e, "--sync-writes") != NULL);
    CHECK(strstr(e, "full or os") != NULL);
    char *nl = strchr(e, '\n');
    CHECK(nl != NULL && nl[1] == '\0'); /* one line */
}

static void test_opts(void)
{
    const char *main_default[] = {"--datadir", "/tmp/x", NULL};
    const char *regtest_default[] = {"--network", "regtest", "--datadir", "/tmp/x", NULL};
    const char *main_os[] = {"--sync-writes", "os", "--datadir", "/tmp/x", NULL};
    const char *regtest_full[] = {"--sync-writes", "full", "--network", "regtest", NULL};
    const char *twice[] = {"--sync-writes", "full", "--sync-writes", "os", NULL};
    expect_policy(main_default, PC_STORE_SYNC_FULL);
    expect_policy(regtest_default, PC_STORE_SYNC_OS);
    expect_policy(main_os, PC_STORE_SYNC_OS);
    expect_policy(regtest_full, PC_STORE_SYNC_FULL); /* the flag wins, wherever it stands */
    expect_policy(twice, PC_STORE_SYNC_OS);          /* the last one counts */
    expect_refused("");
    expect_refused("FULL");
    expect_refused("fsync");
    expect_refused("os ");

    struct node_config cfg;
    char e[512];
    const char *novalue[] = {"--sync-writes", NULL};
    CHECK_EQ_INT(parse(&cfg, novalue, e, sizeof e), OPTS_EXIT_USAGE);
    CHECK(strstr(e, "needs a value") != NULL);

    FILE *help = tmpfile();
    const char *argv[] = {"peerchaind", "--help", NULL};
    CHECK(help != NULL);
    if (help != NULL) {
        CHECK_EQ_INT(opts_parse(2, (char **)argv, &cfg, help, help), OPTS_EXIT_OK);
        char text[16384];
        rewind(help);
        size_t n = fread(text, 1, sizeof text - 1, help);
        text[n] = '\0';
        CHECK(strstr(text, "--sync-writes") != NULL);
        fclose(help);
    }
}

static void test_names(void)
{
    enum pc_store_sync s = PC_STORE_SYNC_FULL;
    CHECK(pc_store_sync_parse("os", &s) && s == PC_STORE_SYNC_OS);
    CHECK(pc_store_sync_parse("full", &s) && s == PC_STORE_SYNC_FULL);
    CHECK(!pc_store_sync_parse("Os", &s));
    CHECK(!pc_store_sync_parse(NULL, &s));
    CHECK_EQ_STR(pc_store_sync_name(PC_STORE_SYNC_OS), "os");
    CHECK_EQ_STR(pc_store_sync_name(PC_STORE_SYNC_FULL), "full");
}

/* Appends n mined blocks to both the chain c and the store s. */
static void append(pc_chain *c, struct pc_store *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t h = pc_chain_height(c);
        CHECK_EQ_INT(testnet_grow(c, 1, 1, "sync"), 0);
        const pc_block *b = pc_chain_at(c, h + 1);
        struct pc_err err = {0};
        CHECK_EQ_INT(pc_store_commit(s, h, &b, 1, &err), PC_OK);
    }
}

static void expect_tip(const char *dir, const pc_chain *c)
{
    struct pc_store *s = NULL;
    struct pc_err err = {0};
    CHECK_EQ_INT(pc_store_open(dir, pc_network_find("regtest"), 0, &s, &err), PC_OK);
    if (s == NULL)
        return;
    CHECK_EQ_INT(pc_store_tip_height(s), pc_chain_height(c));
    CHECK_EQ_INT(pc_store_get_sync(s), PC_STORE_SYNC_FULL); /* every open starts at full */
    struct pc_store_reader *r = NULL;
    CHECK_EQ_INT(pc_store_reader_begin(s, &r, &err), PC_OK);
    pc_block *b = NULL;
    if (r != NULL)
        CHECK_EQ_INT(pc_store_get_block(r, pc_chain_height(c), &b, &err), PC_OK);
    CHECK(b != NULL && pc_hash_equal(&b->hash, &pc_chain_tip(c)->hash));
    pc_block_free(b);
    pc_store_reader_end(r);
    pc_store_close(s);
}

static void test_store(void)
{
    char dir[] = "/tmp/pc-test-sync.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    pc_chain *c = testnet_regtest_chain();
    CHECK(c != NULL);
    struct pc_store *s = NULL;
    struct pc_err err = {0};
    CHECK_EQ_INT(pc_store_open(dir, pc_network_find("regtest"), 0, &s, &err), PC_OK);
    if (c == NULL || s == NULL)
        return;
    CHECK_EQ_INT(pc_store_set_sync(s, (enum pc_store_sync)7, &err), PC_E_ARG);
    CHECK_EQ_INT(pc_store_set_sync(s, PC_STORE_SYNC_OS, &err), PC_OK);
    CHECK_EQ_INT(pc_store_get_sync(s), PC_STORE_SYNC_OS);
    CHECK_EQ_INT(pc_store_flush(s, &err), PC_OK); /* nothing to flush */
    append(c, s, 5);
    CHECK_EQ_INT(pc_store_flush(s, &err), PC_OK);
    append(c, s, 5);
    /* Back to full: what is unsynced is flushed first, later commits sync. */
    CHECK_EQ_INT(pc_store_set_sync(s, PC_STORE_SYNC_FULL, &err), PC_OK);
    append(c, s, 2);
    CHECK_EQ_INT(pc_store_set_sync(s, PC_STORE_SYNC_OS, &err), PC_OK);
    append(c, s, 3); /* left unsynced: close syncs them */
    pc_store_close(s);
    expect_tip(dir, c);

    char p[600];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
    pc_chain_free(c);
}

int main(void)
{
    test_opts();
    test_names();
    test_store();
    return check_summary();
}
