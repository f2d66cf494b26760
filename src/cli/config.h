/*
 * peerchain-cli's command line and environment (PEERCHAIN_API, API_TOKEN)
 * into a struct cli_config, and the API token from the node's cookie file.
 *
 * Everything a user can get wrong is checked here, before any request: an
 * unknown command or flag, a number that is not all digits or out of range,
 * an address, a token or mine data the node would refuse. Such a mistake is
 * one line on stderr and exit 2 (CLI_EXIT_USAGE).
 *
 * Runs on main alone; uses getopt_long's globals, so it is not reentrant.
 */
#ifndef PC_CLI_CONFIG_H
#define PC_CLI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "peerchain/peerchain.h"

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,  /* node unreachable or refusing, bad answer, unreadable cookie */
    CLI_EXIT_USAGE = 2, /* bad command line or environment */
};

#define CLI_DEFAULT_API "127.0.0.1:8545"
#define CLI_MAX_API_BYTES 262u       /* "[" + host + "]:" + port */
#define CLI_MAX_TOKEN_BYTES 256u     /* the node accepts 16..256 printable characters */
#define CLI_MAX_COOKIE_BYTES 4096u   /* a larger .cookie is not one of ours */
#define CLI_MAX_PATH_BYTES 4096u     /* the cookie's path */
#define CLI_MAX_PEER_BYTES 300u      /* addpeer's HOST:PORT */
#define CLI_DEFAULT_TIMEOUT_MS 10000 /* --timeout-ms */
#define CLI_MAX_TIMEOUT_MS 86400000  /* a day: mining on main may be slow */
#define CLI_DEFAULT_BLOCKS 20        /* blocks --limit */
#define CLI_MAX_BLOCKS 1000          /* the API's page limit */

enum cli_command {
    CMD_STATUS,
    CMD_HEALTH,
    CMD_BLOCKS,
    CMD_BLOCK,
    CMD_MINE,
    CMD_PEERS,
    CMD_ADDPEER
};

enum block_ref { REF_LATEST, REF_HEIGHT, REF_HASH };

struct cli_config {
    char api[CLI_MAX_API_BYTES];           /* HOST:PORT as the user wrote it, for messages */
    char base_url[CLI_MAX_API_BYTES + 8u]; /* "http://" HOST:PORT */
    const char *token;                     /* --token or API_TOKEN (borrowed), or NULL */
    const char *datadir;                   /* --datadir (borrowed), or NULL */
    const pc_network *net;                 /* --network, default main: for the default datadir */
    bool is_json;                          /* --json */
    long timeout_ms;
    enum cli_command cmd;
    /* blocks */
    bool has_from;
    uint64_t from;
    uint64_t limit;
    /* block */
    enum block_ref ref;
    uint64_t height;
    char hash[PC_HASH_HEX_CHARS + 1]; /* lowercase */
    /* mine: argv strings, borrowed */
    char **data;
    size_t n_data;
    /* peers */
    bool is_verbose;
    /* addpeer: borrowed */
    const char *peer;
    /* filled by config_token when it reads a cookie */
    char cookie_path[CLI_MAX_PATH_BYTES];
    char cookie_token[CLI_MAX_TOKEN_BYTES + 1];
};

enum config_result {
    CONFIG_RUN = 0,       /* run cfg->cmd */
    CONFIG_EXIT_OK = 1,   /* --help or --version was printed */
    CONFIG_EXIT_USAGE = 2 /* a one-line error was printed */
};

/* Fills cfg from defaults, the environment, then argv (flags win). Help and
 * version go to out, errors to err. cfg borrows strings from argv and the
 * environment, so both must outlive it; nothing needs freeing. */
enum config_result config_parse(int argc, char **argv, struct cli_config *cfg, FILE *out,
                                FILE *err);

/*
 * The token for a mutating request: --token, else API_TOKEN, else the first
 * line of the node's cookie (--datadir, else $HOME/.peerchain/NETWORK, then
 * "/.cookie"), read with a size cap and without its newline. Returns the
 * token (borrowed from cfg or the environment), or NULL after printing one
 * line to err that says where it looked and why it failed.
 */
const char *config_token(struct cli_config *cfg, FILE *err);

#endif
