/*
 * peerchaind's options (src/node/opts.c): defaults, environment, strict
 * numbers, and that flags win over P2P_PORT and PEERS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "opts.h"

/* Parses a NULL-terminated argument list (argv[0] added). */
static enum opts_result parse(struct node_config *cfg, const char *const *args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"peerchaind";
    for (; *args != NULL && argc < 63; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    FILE *sink = fopen("/dev/null", "w");
    enum opts_result r = opts_parse(argc, argv, cfg, sink, sink);
    fclose(sink);
    return r;
}

/* Every field of got equals want (peers and port_file by content). */
static void expect_cfg(const struct node_config *got, const struct node_config *want)
{
    CHECK_EQ_STR(got->net->name, want->net->name);
    CHECK_EQ_STR(got->bind_addr, want->bind_addr);
    CHECK_EQ_INT(got->p2p_port, want->p2p_port);
    CHECK_EQ_INT(got->n_peers, want->n_peers);
    for (size_t i = 0; i < got->n_peers && i < want->n_peers; i++)
        CHECK_EQ_STR(got->peers[i], want->peers[i]);
    CHECK_EQ_INT(got->max_inbound, want->max_inbound);
    CHECK_EQ_INT(got->max_outbound, want->max_outbound);
    CHECK_EQ_INT(got->max_frame_bytes, want->max_frame_bytes);
    CHECK_EQ_INT(got->queue_share_bytes, want->queue_share_bytes);
    CHECK_EQ_INT(got->queue_share_msgs, want->queue_share_msgs);
    CHECK_EQ_INT(got->send_queue_bytes, want->send_queue_bytes);
    CHECK_EQ_INT(got->handshake_timeout_ms, want->handshake_timeout_ms);
    CHECK_EQ_INT(got->idle_timeout_ms, want->idle_timeout_ms);
    CHECK_EQ_INT(got->ban_seconds, want->ban_seconds);
    CHECK_EQ_INT(got->mine, want->mine);
    CHECK_EQ_INT(got->mine_interval_ms, want->mine_interval_ms);
    CHECK_EQ_INT(got->mine_blocks, want->mine_blocks);
    CHECK_EQ_INT(got->log_level, want->log_level);
    CHECK_EQ_INT(got->thread_stack_bytes, want->thread_stack_bytes);
    CHECK((got->port_file == NULL) == (want->port_file == NULL));
    if (got->port_file != NULL && want->port_file != NULL)
        CHECK_EQ_STR(got->port_file, want->port_file);
    CHECK_EQ_INT(got->max_inbound_per_ip, want->max_inbound_per_ip);
    CHECK_EQ_STR(got->datadir, want->datadir);
    CHECK_EQ_INT(got->api, want->api);
    CHECK_EQ_STR(got->api_bind, want->api_bind);
    CHECK_EQ_INT(got->api_port, want->api_port);
    CHECK((got->api_token == NULL) == (want->api_token == NULL));
    if (got->api_token != NULL && want->api_token != NULL)
        CHECK_EQ_STR(got->api_token, want->api_token);
    CHECK((got->api_port_file == NULL) == (want->api_port_file == NULL));
    if (got->api_port_file != NULL && want->api_port_file != NULL)
        CHECK_EQ_STR(got->api_port_file, want->api_port_file);
}

static void test_defaults(void)
{
    struct node_config cfg;
    const char *none[] = {NULL};
    char datadir[PC_MAX_PATH_BYTES + 1];
    const char *home = getenv("HOME");
    snprintf(datadir, sizeof datadir, "%s/.peerchain/main", home && home[0] ? home : ".");
    const struct node_config want = {
        .net = pc_network_find("main"),
        .max_inbound_per_ip = 16,
        .datadir = datadir,
        .api = true,
        .api_bind = "127.0.0.1",
        .api_port = 8545,
        .p2p_port = 8555,
        .max_inbound = 128,
        .max_outbound = 16,
        .max_frame_bytes = 4u * 1024 * 1024,
        .queue_share_bytes = 8u * 1024 * 1024,
        .queue_share_msgs = 1024,
        .send_queue_bytes = 16u * 1024 * 1024,
        .handshake_timeout_ms = 10000,
        .idle_timeout_ms = 120000,
        .ban_seconds = 3600,
        .mine_interval_ms = 1000,
        .log_level = LOG_INFO,
        .thread_stack_bytes = 256 * 1024,
    };
    CHECK_EQ_INT(parse(&cfg, none), OPTS_RUN);
    expect_cfg(&cfg, &want);
    opts_free(&cfg);
}

static void test_all_flags(void)
{
    struct node_config cfg;
    const char *args[] = {"--network",
                          "regtest",
                          "--p2p-port",
                          "0",
                          "--bind",
                          "[::1]",
                          "--port-file",
                          "/tmp/x.port",
                          "--peer",
                          "127.0.0.1:1",
                          "--peer",
                          "[::1]:2",
                          "--max-inbound",
                          "3",
                          "--max-outbound",
                          "4",
                          "--max-frame-bytes",
                          "65536",
                          "--queue-share-bytes",
                          "2048",
                          "--queue-share-msgs",
                          "5",
                          "--send-queue-bytes",
                          "131072",
                          "--handshake-timeout-ms",
                          "1000",
                          "--idle-timeout-ms",
                          "3000",
                          "--ban-seconds",
                          "0",
                          "--mine",
                          "--mine-interval-ms",
                          "0",
                          "--mine-blocks",
                          "7",
                          "--log-level",
                          "debug",
                          "--thread-stack-kib=128",
                          "--max-inbound-per-ip",
                          "2",
                          "--datadir",
                          "/tmp/pc-data",
                          "--api-bind",
                          "::1",
                          "--api-port",
                          "0",
                          "--api-token",
                          "0123456789abcdef",
                          "--api-port-file",
                          "/tmp/x.api",
                          "--no-api",
                          NULL};
    /* --peer after --port-file keeps the port file */
    const struct node_config want = {
        .net = pc_network_find("regtest"),
        .max_inbound_per_ip = 2,
        .datadir = (char *)"/tmp/pc-data",
        .api = false,
        .api_bind = "::1",
        .api_port = 0,
        .api_token = (char *)"0123456789abcdef",
        .api_port_file = (char *)"/tmp/x.api",
        .bind_addr = "::1",
        .p2p_port = 0,
        .peers = {(char *)"127.0.0.1:1", (char *)"[::1]:2"},
        .n_peers = 2,
        .max_inbound = 3,
        .max_outbound = 4,
        .max_frame_bytes = 65536,
        .queue_share_bytes = 2048,
        .queue_share_msgs = 5,
        .send_queue_bytes = 131072,
        .handshake_timeout_ms = 1000,
        .idle_timeout_ms = 3000,
        .ban_seconds = 0,
        .mine = true,
        .mine_interval_ms = 0,
        .mine_blocks = 7,
        .log_level = LOG_DEBUG,
        .thread_stack_bytes = 128 * 1024,
        .port_file = (char *)"/tmp/x.port",
    };
    CHECK_EQ_INT(parse(&cfg, args), OPTS_RUN);
    expect_cfg(&cfg, &want);
    opts_free(&cfg);
}

static void test_bad(void)
{
    /* clang-format off */
    static const char *const rows[][4] = {
        {"--no-such-flag", NULL},
        {"--p2p-port", "70000", NULL},
        {"--send-queue-bytes", "65536", NULL}, /* below one frame + slack */
        {"--api-token", "short", NULL},
        {"--api-token", "has a space in it!", NULL},
        {"--api-port", "65536", NULL},
        {"--api-bind", "localhost", NULL},
        {"--max-inbound-per-ip", "0", NULL},
        {"--datadir", "", NULL},
        {"--p2p-port", "abc", NULL},
        {"--p2p-port", "-1", NULL},
        {"--p2p-port", "80x", NULL},
        {"--p2p-port", "", NULL},
        {"--p2p-port", " 80", NULL},
        {"--p2p-port", "+80", NULL},
        {"--max-inbound", "99999999999999999999", NULL},
        {"--handshake-timeout-ms", "1e3", NULL},
        {"--handshake-timeout-ms", "0", NULL},
        {"--ban-seconds", "-5", NULL},
        {"--thread-stack-kib", "8", NULL},
        {"--network", "nosuchnet", NULL},
        {"--bind", "localhost", NULL},
        {"--bind", "", NULL},
        {"--peer", "nohost", NULL},
        {"--peer", "h:0", NULL},
        {"--peer", NULL},
        {"--log-level", "loud", NULL},
        {"--port-file", "", NULL},
        {"stray", NULL},
        {"--mine=yes", NULL},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct node_config cfg;
        enum opts_result r = parse(&cfg, rows[i]);
        if (r != OPTS_EXIT_USAGE)
            fprintf(stderr, "row %zu (%s %s) accepted\n", i, rows[i][0],
                    rows[i][1] ? rows[i][1] : "");
        CHECK_EQ_INT(r, OPTS_EXIT_USAGE);
    }
    struct node_config cfg;
    const char *help[] = {"--help", NULL}, *version[] = {"--version", NULL};
    CHECK_EQ_INT(parse(&cfg, help), OPTS_EXIT_OK);
    CHECK_EQ_INT(parse(&cfg, version), OPTS_EXIT_OK);
}

static void test_env(void)
{
    struct node_config cfg;
    const char *none[] = {NULL};
    setenv("P2P_PORT", "9001", 1);
    setenv("PEERS", " 127.0.0.1:1, ws://127.0.0.2:2 ,,[::1]:3", 1);
    CHECK_EQ_INT(parse(&cfg, none), OPTS_RUN);
    CHECK_EQ_INT(cfg.p2p_port, 9001);
    CHECK_EQ_INT(cfg.n_peers, 3);
    if (cfg.n_peers == 3) {
        CHECK_EQ_STR(cfg.peers[0], "127.0.0.1:1");
        CHECK_EQ_STR(cfg.peers[1], "ws://127.0.0.2:2");
        CHECK_EQ_STR(cfg.peers[2], "[::1]:3");
    }
    opts_free(&cfg);

    /* flags win: --p2p-port over P2P_PORT, --peer replaces PEERS */
    const char *flags[] = {"--p2p-port", "9002", "--peer", "10.0.0.1:5", NULL};
    CHECK_EQ_INT(parse(&cfg, flags), OPTS_RUN);
    CHECK_EQ_INT(cfg.p2p_port, 9002);
    CHECK_EQ_INT(cfg.n_peers, 1);
    CHECK_EQ_STR(cfg.peers[0], "10.0.0.1:5");
    opts_free(&cfg);

    setenv("P2P_PORT", "x", 1);
    CHECK_EQ_INT(parse(&cfg, none), OPTS_EXIT_USAGE);
    setenv("P2P_PORT", "1", 1);
    setenv("PEERS", "a:1,b", 1);
    CHECK_EQ_INT(parse(&cfg, none), OPTS_EXIT_USAGE);
    unsetenv("P2P_PORT");
    unsetenv("PEERS");
}

int main(void)
{
    unsetenv("P2P_PORT");
    unsetenv("PEERS");
    test_defaults();
    test_all_flags();
    test_bad();
    test_env();
    return check_summary();
}
