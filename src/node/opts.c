/*
 * peerchaind's options (see opts.h). Runs on main before any thread; uses
 * getopt_long's globals, so it is not reentrant (tests call it serially).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "opts.h"
#include "store.h"

#define KIB 1024LL
#define MIB (1024LL * 1024LL)
/* Room a send queue needs beyond one full frame (a ping, an error). */
#define SENDQ_SLACK_BYTES (64 * KIB)

enum {
    OPT_HELP = 'h',
    OPT_VERSION = 'V',
    OPT_NETWORK = 256,
    OPT_P2P_PORT,
    OPT_BIND,
    OPT_PEER,
    OPT_MAX_INBOUND,
    OPT_MAX_OUTBOUND,
    OPT_MAX_INBOUND_PER_IP,
    OPT_MAX_FRAME,
    OPT_SHARE_BYTES,
    OPT_SHARE_MSGS,
    OPT_SENDQ,
    OPT_HS_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_BAN,
    OPT_MINE,
    OPT_MINE_INTERVAL,
    OPT_MINE_BLOCKS,
    OPT_LOG_LEVEL,
    OPT_PORT_FILE,
    OPT_STACK,
    OPT_DATADIR,
    OPT_SYNC_WRITES,
    OPT_API_BIND,
    OPT_API_PORT,
    OPT_API_TOKEN,
    OPT_API_PORT_FILE,
    OPT_NO_API,
};

static const struct option long_opts[] = {
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {"network", required_argument, NULL, OPT_NETWORK},
    {"p2p-port", required_argument, NULL, OPT_P2P_PORT},
    {"bind", required_argument, NULL, OPT_BIND},
    {"peer", required_argument, NULL, OPT_PEER},
    {"max-inbound", required_argument, NULL, OPT_MAX_INBOUND},
    {"max-outbound", required_argument, NULL, OPT_MAX_OUTBOUND},
    {"max-inbound-per-ip", required_argument, NULL, OPT_MAX_INBOUND_PER_IP},
    {"max-frame-bytes", required_argument, NULL, OPT_MAX_FRAME},
    {"queue-share-bytes", required_argument, NULL, OPT_SHARE_BYTES},
    {"queue-share-msgs", required_argument, NULL, OPT_SHARE_MSGS},
    {"send-queue-bytes", required_argument, NULL, OPT_SENDQ},
    {"handshake-timeout-ms", required_argument, NULL, OPT_HS_TIMEOUT},
    {"idle-timeout-ms", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"ban-seconds", required_argument, NULL, OPT_BAN},
    {"mine", no_argument, NULL, OPT_MINE},
    {"mine-interval-ms", required_argument, NULL, OPT_MINE_INTERVAL},
    {"mine-blocks", required_argument, NULL, OPT_MINE_BLOCKS},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"port-file", required_argument, NULL, OPT_PORT_FILE},
    {"thread-stack-kib", required_argument, NULL, OPT_STACK},
    {"datadir", required_argument, NULL, OPT_DATADIR},
    {"sync-writes", required_argument, NULL, OPT_SYNC_WRITES},
    {"api-bind", required_argument, NULL, OPT_API_BIND},
    {"api-port", required_argument, NULL, OPT_API_PORT},
    {"api-token", required_argument, NULL, OPT_API_TOKEN},
    {"api-port-file", required_argument, NULL, OPT_API_PORT_FILE},
    {"no-api", no_argument, NULL, OPT_NO_API},
    {NULL, 0, NULL, 0},
};

/* Range of every numeric flag, with its destination. */
struct num_opt {
    int id;
    long long lo, hi;
};

static const struct num_opt num_opts[] = {
    {OPT_P2P_PORT, 0, 65535},
    {OPT_MAX_INBOUND, 0, 4096},
    {OPT_MAX_OUTBOUND, 0, 1024},
    {OPT_MAX_INBOUND_PER_IP, 1, 4096},
    {OPT_MAX_FRAME, 1024, 256 * MIB},
    {OPT_SHARE_BYTES, 1024, 4096 * MIB},
    {OPT_SHARE_MSGS, 1, 1000000},
    {OPT_SENDQ, 1024, 4096 * MIB},
    {OPT_HS_TIMEOUT, 1, 3600000},
    {OPT_IDLE_TIMEOUT, 2, 86400000},
    {OPT_BAN, 0, 365LL * 86400},
    {OPT_MINE_INTERVAL, 0, 86400000},
    {OPT_MINE_BLOCKS, 0, PC_MAX_SAFE_INTEGER},
    {OPT_STACK, 64, 64 * KIB},
    {OPT_API_PORT, 0, 65535},
};

static void usage(FILE *out)
{
    size_t n = 0;
    const pc_network *nets = pc_network_all(&n);
    fprintf(out,
            "Usage: peerchaind [OPTIONS]\n"
            "A peerchain node: listens for peers, dials peers, keeps the chain with most work.\n"
            "\n"
            "  --network NAME             network to join (default main; one of:");
    for (size_t i = 0; i < n; i++)
        fprintf(out, " %s", nets[i].name);
    fprintf(out,
            ")\n"
            "  --p2p-port N               P2P listening port, 0 = any free port (default %d;\n"
            "                             environment P2P_PORT)\n"
            "  --bind ADDR                listen on, and dial from, this IP (default: all)\n"
            "  --peer HOST:PORT           dial this peer; repeatable; [v6]:port for IPv6\n"
            "                             (environment PEERS: comma-separated list)\n"
            "  --max-inbound N            inbound connections (default 128)\n"
            "  --max-outbound N           outbound addresses dialed (default 16)\n"
            "  --max-inbound-per-ip N     inbound connections from one address (default 16)\n"
            "  --max-frame-bytes N        largest message accepted (default %u)\n"
            "  --queue-share-bytes N      one peer's share of the message queue (default 8 MiB)\n"
            "  --queue-share-msgs N       ... in messages (default 1024)\n"
            "  --send-queue-bytes N       per-peer send queue; over it the peer is dropped\n"
            "                             (default 16 MiB)\n"
            "  --handshake-timeout-ms N   first message must come within (default 10000)\n"
            "  --idle-timeout-ms N        drop a peer silent this long (default 120000)\n"
            "  --ban-seconds N            ban time for a misbehaving address (default 3600)\n"
            "  --mine                     mine blocks\n"
            "  --mine-interval-ms N       pause between mined blocks (default 1000)\n"
            "  --mine-blocks N            stop mining after N blocks, 0 = never (default 0)\n"
            "  --log-level LEVEL          error, warn, info or debug (default info)\n"
            "  --port-file PATH           write the bound P2P port here once listening\n"
            "  --thread-stack-kib N       stack of each connection thread (default 256)\n"
            "  --datadir DIR              where the chain is stored (default\n"
            "                             $HOME/.peerchain/NETWORK)\n"
            "  --sync-writes POLICY       when a stored block is on disk: full = fsynced\n"
            "                             before it is announced (survives power loss);\n"
            "                             os = written to the OS, fsynced within ~1 s and\n"
            "                             at a clean stop (survives the process being\n"
            "                             killed, not a power loss; see docs/storage.md)\n"
            "                             (default: os on regtest, full otherwise)\n"
            "  --api-bind ADDR            HTTP API address (default 127.0.0.1)\n"
            "  --api-port N               HTTP API port, 0 = any free port (default %d;\n"
            "                             environment HTTP_PORT)\n"
            "  --api-token TOKEN          bearer token for mutating API calls (environment\n"
            "                             API_TOKEN; default: a fresh one in DATADIR/.cookie)\n"
            "  --api-port-file PATH       write the bound API port here once listening\n"
            "  --no-api                   do not start the HTTP API\n"
            "  --help                     this text\n"
            "  --version                  the version\n",
            PC_DEFAULT_P2P_PORT, PC_DEFAULT_MAX_FRAME_BYTES, PC_DEFAULT_API_PORT);
}

static void defaults(struct node_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->net = pc_network_find("main");
    cfg->p2p_port = PC_DEFAULT_P2P_PORT;
    cfg->max_inbound = 128;
    cfg->max_outbound = 16;
    cfg->max_inbound_per_ip = 16;
    cfg->max_frame_bytes = PC_DEFAULT_MAX_FRAME_BYTES;
    cfg->queue_share_bytes = 8 * MIB;
    cfg->queue_share_msgs = 1024;
    cfg->send_queue_bytes = 16 * MIB;
    cfg->handshake_timeout_ms = 10000;
    cfg->idle_timeout_ms = 120000;
    cfg->ban_seconds = 3600;
    cfg->mine_interval_ms = 1000;
    cfg->log_level = LOG_INFO;
    cfg->thread_stack_bytes = 256 * KIB;
    cfg->sync_writes = -1; /* the network's default, once the network is known */
    cfg->api = true;
    cfg->api_port = PC_DEFAULT_API_PORT;
    strcpy(cfg->api_bind, "127.0.0.1");
}

static void free_peers(struct node_config *cfg)
{
    for (size_t i = 0; i < cfg->n_peers; i++)
        free(cfg->peers[i]);
    cfg->n_peers = 0;
}

void opts_free(struct node_config *cfg)
{
    free_peers(cfg);
    free(cfg->port_file);
    cfg->port_file = NULL;
    free(cfg->datadir);
    cfg->datadir = NULL;
    free(cfg->api_token);
    cfg->api_token = NULL;
    free(cfg->api_port_file);
    cfg->api_port_file = NULL;
}

/* Strict decimal: digits only (no sign, space or suffix), in lo..hi. */
static bool parse_num(const char *s, long long lo, long long hi, long long *out)
{
    if (s == NULL || s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static const struct num_opt *find_num(int id)
{
    for (size_t i = 0; i < sizeof num_opts / sizeof num_opts[0]; i++)
        if (num_opts[i].id == id)
            return &num_opts[i];
    return NULL;
}

static void set_num(struct node_config *cfg, int id, long long v)
{
    switch (id) {
    case OPT_P2P_PORT:
        cfg->p2p_port = (int)v;
        break;
    case OPT_MAX_INBOUND:
        cfg->max_inbound = (int)v;
        break;
    case OPT_MAX_OUTBOUND:
        cfg->max_outbound = (int)v;
        break;
    case OPT_MAX_INBOUND_PER_IP:
        cfg->max_inbound_per_ip = (int)v;
        break;
    case OPT_MAX_FRAME:
        cfg->max_frame_bytes = (size_t)v;
        break;
    case OPT_SHARE_BYTES:
        cfg->queue_share_bytes = (size_t)v;
        break;
    case OPT_SHARE_MSGS:
        cfg->queue_share_msgs = (size_t)v;
        break;
    case OPT_SENDQ:
        cfg->send_queue_bytes = (size_t)v;
        break;
    case OPT_HS_TIMEOUT:
        cfg->handshake_timeout_ms = (int)v;
        break;
    case OPT_IDLE_TIMEOUT:
        cfg->idle_timeout_ms = (int)v;
        break;
    case OPT_BAN:
        cfg->ban_seconds = (int)v;
        break;
    case OPT_MINE_INTERVAL:
        cfg->mine_interval_ms = (int)v;
        break;
    case OPT_MINE_BLOCKS:
        cfg->mine_blocks = (uint64_t)v;
        break;
    case OPT_STACK:
        cfg->thread_stack_bytes = (size_t)v * KIB;
        break;
    case OPT_API_PORT:
        cfg->api_port = (int)v;
        break;
    default:
        break;
    }
}

/* Adds one peer target after checking it; "what" names its source for errors. */
static bool add_peer(struct node_config *cfg, const char *s, size_t len, const char *what,
                     FILE *err)
{
    char buf[ADDR_MAX_INPUT + 1];
    struct addr_target t;
    struct pc_err e;
    if (len > ADDR_MAX_INPUT) {
        fprintf(err, "peerchaind: %s: address longer than %u bytes\n", what, ADDR_MAX_INPUT);
        return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (addr_parse(buf, &t, &e) != 0) {
        fprintf(err, "peerchaind: %s: '%s': %s (try 'peerchaind --help')\n", what, buf, e.reason);
        return false;
    }
    if (cfg->n_peers == PC_MAX_CONFIG_PEERS) {
        fprintf(err, "peerchaind: %s: more than %d peers\n", what, PC_MAX_CONFIG_PEERS);
        return false;
    }
    char *copy = strdup(buf);
    if (copy == NULL) {
        fprintf(err, "peerchaind: out of memory\n");
        return false;
    }
    cfg->peers[cfg->n_peers++] = copy;
    return true;
}

static bool add_peer_list(struct node_config *cfg, const char *list, FILE *err)
{
    const char *s = list;
    while (*s != '\0') {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        while (len > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            len--;
        }
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len > 0 && !add_peer(cfg, s, len, "PEERS", err))
            return false;
        s = comma ? comma + 1 : s + strlen(s);
    }
    return true;
}

/* An IP literal for --bind / --api-bind into dst (PC_BIND_ADDR_BYTES);
 * brackets around IPv6 are dropped. */
static bool set_bind(char *dst, const char *s)
{
    char buf[PC_BIND_ADDR_BYTES];
    size_t len = strlen(s);
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    unsigned char a[16];
    if (inet_pton(AF_INET, buf, a) != 1 && inet_pton(AF_INET6, buf, a) != 1)
        return false;
    memcpy(dst, buf, len + 1);
    return true;
}

/* Replaces *dst with a copy of a non-empty string; false on empty or no memory. */
static bool set_str(char **dst, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return false;
    char *copy = strdup(s);
    if (copy == NULL)
        return false;
    free(*dst);
    *dst = copy;
    return true;
}

static bool set_log_level(struct node_config *cfg, const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            cfg->log_level = i;
            return true;
        }
    return false;
}

/* API tokens go into an HTTP header: printable ASCII without spaces. */
#define API_TOKEN_WANT "16 to 256 printable characters without spaces"
static bool token_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 16 || n > 256)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    return true;
}

static enum opts_result bad(FILE *err, const char *flag, const char *val, const char *want)
{
    fprintf(err, "peerchaind: %s: '%s' is not %s (try 'peerchaind --help')\n", flag, val, want);
    return OPTS_EXIT_USAGE;
}

static enum opts_result parse_flags(int argc, char **argv, struct node_config *cfg, FILE *out,
                                    FILE *err, bool *peer_flag_seen)
{
    char want[96];
    optind = 0; /* GNU: a full reset, so the parser may run again */
    opterr = 0;
    for (;;) {
        int prev = optind ? optind : 1;
        int c = getopt_long(argc, argv, "+:hV", long_opts, NULL);
        if (c == -1)
            break;
        const char *flag = prev < argc ? argv[prev] : "?";
        if (c == '?') {
            fprintf(err, "peerchaind: unknown option '%s' (try 'peerchaind --help')\n", flag);
            return OPTS_EXIT_USAGE;
        }
        if (c == ':') {
            fprintf(err, "peerchaind: option '%s' needs a value (try 'peerchaind --help')\n", flag);
            return OPTS_EXIT_USAGE;
        }
        const struct num_opt *no = find_num(c);
        if (no != NULL) {
            long long v;
            snprintf(want, sizeof want, "a whole number in %lld..%lld", no->lo, no->hi);
            if (!parse_num(optarg, no->lo, no->hi, &v))
                return bad(err, flag, optarg, want);
            set_num(cfg, c, v);
            continue;
        }
        switch (c) {
        case OPT_HELP:
            usage(out);
            return OPTS_EXIT_OK;
        case OPT_VERSION:
            fprintf(out, "peerchaind %s\n", PC_VERSION_STRING);
            return OPTS_EXIT_OK;
        case OPT_NETWORK:
            cfg->net = pc_network_find(optarg);
            if (cfg->net == NULL)
                return bad(err, "--network", optarg, "a known network (see --help)");
            break;
        case OPT_BIND:
            if (!set_bind(cfg->bind_addr, optarg))
                return bad(err, "--bind", optarg, "an IPv4 or IPv6 address");
            break;
        case OPT_API_BIND:
            if (!set_bind(cfg->api_bind, optarg))
                return bad(err, "--api-bind", optarg, "an IPv4 or IPv6 address");
            break;
        case OPT_DATADIR:
            if (strlen(optarg) > PC_MAX_PATH_BYTES || !set_str(&cfg->datadir, optarg))
                return bad(err, "--datadir", optarg, "a directory path");
            break;
        case OPT_SYNC_WRITES: {
            enum pc_store_sync sw;
            if (!pc_store_sync_parse(optarg, &sw))
                return bad(err, "--sync-writes", optarg, "full or os");
            cfg->sync_writes = (int)sw;
            break;
        }
        case OPT_API_TOKEN:
            if (!token_ok(optarg) || !set_str(&cfg->api_token, optarg))
                return bad(err, "--api-token", "...", API_TOKEN_WANT);
            break;
        case OPT_API_PORT_FILE:
            if (!set_str(&cfg->api_port_file, optarg))
                return bad(err, "--api-port-file", optarg, "a path");
            break;
        case OPT_NO_API:
            cfg->api = false;
            break;
        case OPT_PEER:
            if (!*peer_flag_seen) { /* --peer replaces PEERS */
                free_peers(cfg);
                *peer_flag_seen = true;
            }
            if (!add_peer(cfg, optarg, strlen(optarg), "--peer", err))
                return OPTS_EXIT_USAGE;
            break;
        case OPT_MINE:
            cfg->mine = true;
            break;
        case OPT_LOG_LEVEL:
            if (!set_log_level(cfg, optarg))
                return bad(err, "--log-level", optarg, "error, warn, info or debug");
            break;
        case OPT_PORT_FILE:
            if (optarg[0] == '\0')
                return bad(err, "--port-file", optarg, "a path");
            free(cfg->port_file);
            cfg->port_file = strdup(optarg);
            if (cfg->port_file == NULL) {
                fprintf(err, "peerchaind: out of memory\n");
                return OPTS_EXIT_USAGE;
            }
            break;
        default:
            fprintf(err, "peerchaind: option '%s' is not handled (a bug)\n", flag);
            return OPTS_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(err, "peerchaind: unexpected argument '%s' (try 'peerchaind --help')\n",
                argv[optind]);
        return OPTS_EXIT_USAGE;
    }
    return OPTS_RUN;
}

/* $HOME/.peerchain/<network> (./.peerchain/<network> without HOME). */
static bool default_datadir(struct node_config *cfg, FILE *err)
{
    const char *home = getenv("HOME");
    char buf[PC_MAX_PATH_BYTES + 1];
    int n =
        snprintf(buf, sizeof buf, "%s/.peerchain/%s", home && home[0] ? home : ".", cfg->net->name);
    if (n < 0 || (size_t)n >= sizeof buf || !set_str(&cfg->datadir, buf)) {
        fprintf(err, "peerchaind: HOME is too long for a data directory; use --datadir\n");
        return false;
    }
    return true;
}

enum opts_result opts_parse(int argc, char **argv, struct node_config *cfg, FILE *out, FILE *err)
{
    defaults(cfg);
    if (cfg->net == NULL) {
        fprintf(err, "peerchaind: the main network is missing (a bug)\n");
        return OPTS_EXIT_USAGE;
    }
    const char *env_port = getenv("P2P_PORT");
    const char *env_peers = getenv("PEERS");
    long long v;
    if (env_port != NULL && env_port[0] != '\0') {
        if (!parse_num(env_port, 0, 65535, &v)) {
            fprintf(err, "peerchaind: P2P_PORT: '%s' is not a whole number in 0..65535\n",
                    env_port);
            return OPTS_EXIT_USAGE;
        }
        cfg->p2p_port = (int)v;
    }
    if (env_peers != NULL && !add_peer_list(cfg, env_peers, err)) {
        opts_free(cfg);
        return OPTS_EXIT_USAGE;
    }
    const char *env_http = getenv("HTTP_PORT");
    if (env_http != NULL && env_http[0] != '\0') {
        if (!parse_num(env_http, 0, 65535, &v)) {
            fprintf(err, "peerchaind: HTTP_PORT: '%s' is not a whole number in 0..65535\n",
                    env_http);
            opts_free(cfg);
            return OPTS_EXIT_USAGE;
        }
        cfg->api_port = (int)v;
    }
    const char *env_token = getenv("API_TOKEN");
    if (env_token != NULL && env_token[0] != '\0') {
        if (!token_ok(env_token) || !set_str(&cfg->api_token, env_token)) {
            fprintf(err, "peerchaind: API_TOKEN: not %s\n", API_TOKEN_WANT);
            opts_free(cfg);
            return OPTS_EXIT_USAGE;
        }
    }
    bool peer_flag_seen = false;
    enum opts_result r = parse_flags(argc, argv, cfg, out, err, &peer_flag_seen);
    if (r == OPTS_RUN && cfg->send_queue_bytes < cfg->max_frame_bytes + SENDQ_SLACK_BYTES) {
        /* Else every full-size reply would overflow the send queue and drop the peer. */
        fprintf(err,
                "peerchaind: --send-queue-bytes (%zu) must be at least --max-frame-bytes (%zu) "
                "+ %lld\n",
                cfg->send_queue_bytes, cfg->max_frame_bytes, SENDQ_SLACK_BYTES);
        r = OPTS_EXIT_USAGE;
    }
    if (r == OPTS_RUN && cfg->sync_writes < 0)
        cfg->sync_writes = strcmp(cfg->net->name, "regtest") == 0 ? (int)PC_STORE_SYNC_OS
                                                                  : (int)PC_STORE_SYNC_FULL;
    if (r == OPTS_RUN && cfg->datadir == NULL && !default_datadir(cfg, err))
        r = OPTS_EXIT_USAGE;
    if (r != OPTS_RUN)
        opts_free(cfg);
    return r;
}
