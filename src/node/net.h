/*
 * net.c internals that main.c needs beyond node.h.
 */
#ifndef PC_NODE_NET_H
#define PC_NODE_NET_H

#include "node.h"

/* The first half of net_start, for main to call before the chain is opened:
 * allocates n->net, binds and listens on the P2P port and writes the port
 * file. No thread starts and nothing is accepted: peers that connect wait in
 * the kernel's backlog until net_start (after worker_start) starts the
 * acceptor. 0 or an error (logged); net_stop and net_free clean up either
 * way. net_start calls it itself when main has not. */
int net_listen(struct node *n);

/* Frees what net_listen and net_start allocated. Call after net_stop and
 * after worker_stop (the worker may still call node_broadcast and friends
 * while draining; after net_stop they find no peers). n->net is NULL
 * afterwards. */
void net_free(struct node *n);

/* Writes the port (and a newline) to path through a temporary name and
 * rename(2), so a reader never sees a partial file: the P2P and API port
 * files. 0 or PC_E_IO (logged). Any thread. */
int node_write_port_file(const char *path, int port);

#endif
