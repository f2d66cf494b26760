/*
 * peerchain-cli's options, environment and cookie (see config.h).
 *
 * The command line is OPTIONS COMMAND [ARGS], and options may also follow
 * the command (`peerchain-cli blocks --limit 5 --json`), so it is read in two
 * passes over one table: up to the command, then the command's own words
 * (permuted, so options and arguments mix; `--` ends the options, for mine
 * data that starts with '-'). Command options (--from, --limit, --verbose)
 * are checked against the command at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "text.h"

#define PROG "peerchain-cli"
#define TRY_HELP " (try '" PROG " --help')"

enum {
    OPT_HELP = 'h',
    OPT_VERSION = 'V',
    OPT_API = 256,
    OPT_TOKEN,
    OPT_DATADIR,
    OPT_NETWORK,
    OPT_JSON,
    OPT_TIMEOUT,
    OPT_FROM,
    OPT_LIMIT,
    OPT_VERBOSE,
};

static const struct option long_opts[] = {
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {"api", required_argument, NULL, OPT_API},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"datadir", required_argument, NULL, OPT_DATADIR},
    {"network", required_argument, NULL, OPT_NETWORK},
    {"json", no_argument, NULL, OPT_JSON},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
    {"from", required_argument, NULL, OPT_FROM},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {NULL, 0, NULL, 0},
};

struct command {
    const char *name;
    enum cli_command cmd;
    size_t min_args, max_args;
};

static const struct command commands[] = {
    {"status", CMD_STATUS, 0, 0},   {"health", CMD_HEALTH, 0, 0},    {"blocks", CMD_BLOCKS, 0, 0},
    {"block", CMD_BLOCK, 1, 1},     {"mine", CMD_MINE, 0, SIZE_MAX}, {"peers", CMD_PEERS, 0, 0},
    {"addpeer", CMD_ADDPEER, 1, 1},
};

/* The command options seen, to check against the command at the end. */
struct seen {
    bool has_from, has_limit, has_verbose;
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: " PROG " [OPTIONS] COMMAND [ARGS]\n"
            "Talks to a peerchain node's HTTP API.\n"
            "\n"
            "Commands:\n"
            "  status                     the node's network, chain tip, peers, sync, mining\n"
            "  health                     exit 0 if the node answers healthy; quiet unless not\n"
            "  blocks [--from H] [--limit L]\n"
            "                             L blocks from height H, one line each (default:\n"
            "                             the latest %d; L at most %d)\n"
            "  block HEIGHT|HASH|latest   one block in full\n"
            "  mine [DATA...]             mine a block holding DATA strings (needs the token;\n"
            "                             put -- before DATA that starts with '-')\n"
            "  peers [--verbose]          connected peers (--verbose: id, direction, height)\n"
            "  addpeer HOST:PORT          dial a peer (needs the token)\n"
            "\n"
            "Options (before or after the command):\n"
            "  --api HOST:PORT            the node's API (default %s; environment\n"
            "                             PEERCHAIN_API; IPv6 as [::1]:8545)\n"
            "  --token TOKEN              API token for mine and addpeer (environment\n"
            "                             API_TOKEN; default: read DATADIR/.cookie)\n"
            "  --datadir DIR              the node's data directory, for its cookie\n"
            "                             (default $HOME/.peerchain/NETWORK)\n"
            "  --network NAME             the node's network, for the default datadir\n"
            "                             (default main)\n"
            "  --json                     print the node's JSON answer as it came\n"
            "  --timeout-ms N             give up on the node after N ms (default %d)\n"
            "  --help                     this text\n"
            "  --version                  the version\n"
            "\n"
            "Exit status: 0 ok; 1 the node is unreachable, refused or answered badly, or the\n"
            "cookie is unreadable; 2 a usage error.\n",
            CLI_DEFAULT_BLOCKS, CLI_MAX_BLOCKS, CLI_DEFAULT_API, CLI_DEFAULT_TIMEOUT_MS);
}

static enum config_result bad(FILE *err, const char *what, const char *val, const char *want)
{
    char shown[96];
    text_clean(shown, sizeof shown, val, strlen(val));
    fprintf(err, PROG ": %s: '%s' is not %s" TRY_HELP "\n", what, shown, want);
    return CONFIG_EXIT_USAGE;
}

/* Strict decimal: digits only (no sign, space or suffix), lo..hi, no overflow. */
static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        uint64_t d = (uint64_t)(*s - '0');
        if (d > hi || v > (hi - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v < lo)
        return false;
    *out = v;
    return true;
}

static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

/* HOST:PORT or [IPv6]:PORT into cfg->api and cfg->base_url. The host may
 * only hold characters that need no escaping in a URL. */
static bool set_api(struct cli_config *cfg, const char *s)
{
    size_t len = strlen(s);
    const char *host = s, *colon;
    size_t host_len;
    uint64_t port;
    if (len == 0 || len >= CLI_MAX_API_BYTES)
        return false;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return false;
        host = s + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
        char v6[CLI_MAX_API_BYTES];
        unsigned char bin[16];
        memcpy(v6, host, host_len);
        v6[host_len] = '\0';
        if (inet_pton(AF_INET6, v6, bin) != 1)
            return false;
    } else {
        colon = strchr(s, ':');
        if (colon == NULL)
            return false;
        host_len = (size_t)(colon - s);
        for (size_t i = 0; i < host_len; i++)
            if (!is_host_char(s[i]))
                return false;
    }
    if (host_len == 0 || !parse_u64(colon + 1, 1, 65535, &port))
        return false;
    memcpy(cfg->api, s, len + 1);
    snprintf(cfg->base_url, sizeof cfg->base_url, "http://%.*s:%u", (int)(colon - s), s,
             (unsigned)port);
    return true;
}

/* Tokens go into an HTTP header: printable ASCII without spaces. */
#define TOKEN_WANT "a token (1 to 256 printable characters without spaces)"
static bool token_ok(const char *s, size_t len)
{
    if (len == 0 || len > CLI_MAX_TOKEN_BYTES)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    return true;
}

/* HEIGHT, a 64-character hash (either case) or "latest". */
static bool set_block_ref(struct cli_config *cfg, const char *s)
{
    size_t len = strlen(s);
    if (strcmp(s, "latest") == 0) {
        cfg->ref = REF_LATEST;
        return true;
    }
    if (len == PC_HASH_HEX_CHARS) {
        for (size_t i = 0; i < len; i++) {
            char c = s[i];
            if (c >= 'A' && c <= 'F')
                c = (char)(c - 'A' + 'a');
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                return false;
            cfg->hash[i] = c;
        }
        cfg->hash[len] = '\0';
        cfg->ref = REF_HASH;
        return true;
    }
    cfg->ref = REF_HEIGHT;
    return parse_u64(s, 1, (uint64_t)PC_MAX_SAFE_INTEGER, &cfg->height);
}

/* Mine data the node would refuse, refused here without asking it. */
static enum config_result check_data(struct cli_config *cfg, FILE *err)
{
    size_t total = 0;
    if (cfg->n_data > PC_MAX_DATA_ITEMS) {
        fprintf(err, PROG ": mine: %zu data items; a block holds at most %u\n", cfg->n_data,
                PC_MAX_DATA_ITEMS);
        return CONFIG_EXIT_USAGE;
    }
    for (size_t i = 0; i < cfg->n_data; i++) {
        size_t len = strlen(cfg->data[i]);
        if (len > PC_MAX_DATA_ITEM_BYTES) {
            fprintf(err, PROG ": mine: data item %zu has %zu bytes; the limit is %u\n", i + 1, len,
                    PC_MAX_DATA_ITEM_BYTES);
            return CONFIG_EXIT_USAGE;
        }
        if (!text_is_utf8(cfg->data[i], len)) {
            fprintf(err, PROG ": mine: data item %zu is not valid UTF-8\n", i + 1);
            return CONFIG_EXIT_USAGE;
        }
        total += len;
    }
    if (total > PC_MAX_BLOCK_DATA_BYTES) {
        fprintf(err, PROG ": mine: %zu bytes of data; a block holds at most %u\n", total,
                PC_MAX_BLOCK_DATA_BYTES);
        return CONFIG_EXIT_USAGE;
    }
    return CONFIG_RUN;
}

/* One option; CONFIG_RUN to go on. */
static enum config_result take_option(struct cli_config *cfg, int c, struct seen *seen, FILE *out,
                                      FILE *err)
{
    uint64_t v;
    char want[64];
    switch (c) {
    case OPT_HELP:
        usage(out);
        return CONFIG_EXIT_OK;
    case OPT_VERSION:
        fprintf(out, PROG " %s\n", PC_VERSION_STRING);
        return CONFIG_EXIT_OK;
    case OPT_API:
        if (!set_api(cfg, optarg))
            return bad(err, "--api", optarg, "HOST:PORT (IPv6 as [::1]:8545)");
        return CONFIG_RUN;
    case OPT_TOKEN:
        if (!token_ok(optarg, strlen(optarg)))
            return bad(err, "--token", "...", TOKEN_WANT);
        cfg->token = optarg;
        return CONFIG_RUN;
    case OPT_DATADIR:
        if (optarg[0] == '\0' || strlen(optarg) >= CLI_MAX_PATH_BYTES - sizeof "/.cookie")
            return bad(err, "--datadir", optarg, "a directory path");
        cfg->datadir = optarg;
        return CONFIG_RUN;
    case OPT_NETWORK:
        cfg->net = pc_network_find(optarg);
        if (cfg->net == NULL)
            return bad(err, "--network", optarg, "a known network (main or regtest)");
        return CONFIG_RUN;
    case OPT_JSON:
        cfg->is_json = true;
        return CONFIG_RUN;
    case OPT_TIMEOUT:
        snprintf(want, sizeof want, "a whole number in 1..%d", CLI_MAX_TIMEOUT_MS);
        if (!parse_u64(optarg, 1, CLI_MAX_TIMEOUT_MS, &v))
            return bad(err, "--timeout-ms", optarg, want);
        cfg->timeout_ms = (long)v;
        return CONFIG_RUN;
    case OPT_FROM:
        if (!parse_u64(optarg, 1, (uint64_t)PC_MAX_SAFE_INTEGER, &cfg->from))
            return bad(err, "--from", optarg, "a block height (a whole number from 1)");
        cfg->has_from = true;
        seen->has_from = true;
        return CONFIG_RUN;
    case OPT_LIMIT:
        snprintf(want, sizeof want, "a whole number in 1..%d", CLI_MAX_BLOCKS);
        if (!parse_u64(optarg, 1, CLI_MAX_BLOCKS, &cfg->limit))
            return bad(err, "--limit", optarg, want);
        seen->has_limit = true;
        return CONFIG_RUN;
    case OPT_VERBOSE:
        cfg->is_verbose = true;
        seen->has_verbose = true;
        return CONFIG_RUN;
    default:
        fprintf(err, PROG ": option %d is not handled (a bug)\n", c);
        return CONFIG_EXIT_USAGE;
    }
}

/* Runs getopt_long over argv[0..argc) (argv[0] is skipped, as a program
 * name); stops at the first non-option if in_order. */
static enum config_result parse_options(int argc, char **argv, bool in_order,
                                        struct cli_config *cfg, struct seen *seen, FILE *out,
                                        FILE *err)
{
    char shown[96];
    optind = 0; /* GNU: a full reset, so the parser may run again */
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, in_order ? "+:hV" : ":hV", long_opts, NULL);
        if (c == -1)
            return CONFIG_RUN;
        if (c == '?' || c == ':') {
            /* getopt has stepped past the word it did not like. */
            const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
            text_clean(shown, sizeof shown, word, strlen(word));
            fprintf(err,
                    c == '?' ? PROG ": unknown option '%s'" TRY_HELP "\n"
                             : PROG ": option '%s' needs a value" TRY_HELP "\n",
                    shown);
            return CONFIG_EXIT_USAGE;
        }
        enum config_result r = take_option(cfg, c, seen, out, err);
        if (r != CONFIG_RUN)
            return r;
    }
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* A command option given to a command it does not belong to. */
static enum config_result check_seen(const struct command *cmd, const struct seen *seen, FILE *err)
{
    const char *stray = NULL;
    if (cmd->cmd != CMD_BLOCKS && (seen->has_from || seen->has_limit))
        stray = seen->has_from ? "--from" : "--limit";
    else if (cmd->cmd != CMD_PEERS && seen->has_verbose)
        stray = "--verbose";
    if (stray == NULL)
        return CONFIG_RUN;
    fprintf(err, PROG ": option '%s' does not apply to '%s'" TRY_HELP "\n", stray, cmd->name);
    return CONFIG_EXIT_USAGE;
}

/* The command's words after its options: counted, then checked. */
static enum config_result take_args(struct cli_config *cfg, const struct command *cmd, char **args,
                                    size_t n, FILE *err)
{
    if (n < cmd->min_args || n > cmd->max_args) {
        if (n < cmd->min_args)
            fprintf(err, PROG ": '%s' needs %s" TRY_HELP "\n", cmd->name,
                    cmd->cmd == CMD_BLOCK ? "HEIGHT, HASH or latest" : "HOST:PORT");
        else
            fprintf(err, PROG ": '%s' takes %s" TRY_HELP "\n", cmd->name,
                    cmd->max_args == 0 ? "no arguments" : "one argument");
        return CONFIG_EXIT_USAGE;
    }
    switch (cmd->cmd) {
    case CMD_BLOCK:
        if (!set_block_ref(cfg, args[0]))
            return bad(err, "block", args[0], "a height, a 64-character block hash or 'latest'");
        return CONFIG_RUN;
    case CMD_ADDPEER:
        if (strlen(args[0]) > CLI_MAX_PEER_BYTES || !token_ok(args[0], strlen(args[0])))
            return bad(err, "addpeer", args[0], "HOST:PORT");
        cfg->peer = args[0];
        return CONFIG_RUN;
    case CMD_MINE:
        cfg->data = args;
        cfg->n_data = n;
        return check_data(cfg, err);
    default:
        return CONFIG_RUN;
    }
}

static void defaults(struct cli_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->net = pc_network_find("main");
    cfg->timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
    cfg->limit = CLI_DEFAULT_BLOCKS;
    if (!set_api(cfg, CLI_DEFAULT_API))
        cfg->api[0] = '\0'; /* cannot happen: the default is well formed */
}

static enum config_result from_env(struct cli_config *cfg, FILE *err)
{
    const char *api = getenv("PEERCHAIN_API");
    const char *token = getenv("API_TOKEN");
    if (api != NULL && api[0] != '\0' && !set_api(cfg, api))
        return bad(err, "PEERCHAIN_API", api, "HOST:PORT (IPv6 as [::1]:8545)");
    if (token != NULL && token[0] != '\0') {
        if (!token_ok(token, strlen(token)))
            return bad(err, "API_TOKEN", "...", TOKEN_WANT);
        cfg->token = token;
    }
    return CONFIG_RUN;
}

enum config_result config_parse(int argc, char **argv, struct cli_config *cfg, FILE *out, FILE *err)
{
    struct seen seen = {0};
    defaults(cfg);
    enum config_result r = from_env(cfg, err);
    if (r == CONFIG_RUN)
        r = parse_options(argc, argv, true, cfg, &seen, out, err);
    if (r != CONFIG_RUN)
        return r;
    int at = optind;
    if (at >= argc) {
        fprintf(err, PROG ": no command given" TRY_HELP "\n");
        return CONFIG_EXIT_USAGE;
    }
    const struct command *cmd = find_command(argv[at]);
    if (cmd == NULL) {
        char shown[96];
        text_clean(shown, sizeof shown, argv[at], strlen(argv[at]));
        fprintf(err, PROG ": unknown command '%s'" TRY_HELP "\n", shown);
        return CONFIG_EXIT_USAGE;
    }
    cfg->cmd = cmd->cmd;
    /* The command word stands in for the program name of the second pass. */
    r = parse_options(argc - at, argv + at, false, cfg, &seen, out, err);
    if (r == CONFIG_RUN)
        r = check_seen(cmd, &seen, err);
    if (r != CONFIG_RUN)
        return r;
    return take_args(cfg, cmd, argv + at + optind, (size_t)(argc - at - optind), err);
}

/* Reads the cookie's first line into cfg->cookie_token; NULL or the reason. */
static const char *read_cookie(struct cli_config *cfg)
{
    static char why[64];
    char buf[CLI_MAX_COOKIE_BYTES + 1];
    size_t len = 0;
    struct stat st;
    /* O_NONBLOCK: a FIFO planted at the path must not hang us in open. */
    int fd = open(cfg->cookie_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return strerror(errno);
    const char *fail = NULL;
    if (fstat(fd, &st) != 0) {
        fail = strerror(errno);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        fail = "not a regular file";
        goto out;
    }
    while (len < sizeof buf) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fail = strerror(errno);
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > CLI_MAX_COOKIE_BYTES) {
        snprintf(why, sizeof why, "larger than %u bytes", CLI_MAX_COOKIE_BYTES);
        fail = why;
        goto out;
    }
    size_t line = 0;
    while (line < len && buf[line] != '\n')
        line++;
    if (line > 0 && buf[line - 1] == '\r')
        line--;
    if (!token_ok(buf, line)) {
        fail = "it does not hold a token on its first line";
        goto out;
    }
    memcpy(cfg->cookie_token, buf, line);
    cfg->cookie_token[line] = '\0';
out:
    close(fd);
    return fail;
}

const char *config_token(struct cli_config *cfg, FILE *err)
{
    if (cfg->token != NULL)
        return cfg->token;
    const char *home = getenv("HOME");
    int n;
    if (cfg->datadir != NULL)
        n = snprintf(cfg->cookie_path, sizeof cfg->cookie_path, "%s/.cookie", cfg->datadir);
    else
        n = snprintf(cfg->cookie_path, sizeof cfg->cookie_path, "%s/.peerchain/%s/.cookie",
                     home && home[0] ? home : ".", cfg->net->name);
    if (n < 0 || (size_t)n >= sizeof cfg->cookie_path) {
        fprintf(err, PROG ": the cookie's path is too long; pass --token or --datadir\n");
        return NULL;
    }
    const char *why = read_cookie(cfg);
    if (why != NULL) {
        char shown[256];
        text_clean(shown, sizeof shown, cfg->cookie_path, strlen(cfg->cookie_path));
        fprintf(err,
                PROG ": cannot read the API token from %s: %s (pass --token or API_TOKEN, or "
                     "the node's --datadir or --network)\n",
                shown, why);
        return NULL;
    }
    return cfg->cookie_token;
}
