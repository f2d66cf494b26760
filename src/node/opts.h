/*
 * peerchaind's command line and environment (P2P_PORT, PEERS) into a
 * struct node_config. Called once by main before any thread starts.
 */
#ifndef PC_NODE_OPTS_H
#define PC_NODE_OPTS_H

#include <stdio.h>

#include "node.h"

enum opts_result {
    OPTS_RUN = 0,       /* start the node */
    OPTS_EXIT_OK = 1,   /* --help or --version was printed: exit 0 */
    OPTS_EXIT_USAGE = 2 /* a bad flag or variable: a one-line error was printed; exit 2 */
};

/* Fills cfg from defaults, then the environment (P2P_PORT, PEERS), then argv
 * (flags win). Help and version go to out, errors to err. Every number is
 * parsed strictly (all digits, in range). On OPTS_RUN the caller frees cfg
 * with opts_free; otherwise nothing is left to free. */
enum opts_result opts_parse(int argc, char **argv, struct node_config *cfg, FILE *out, FILE *err);
void opts_free(struct node_config *cfg);

#endif
