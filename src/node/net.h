/*
 * net.c internals that main.c needs beyond node.h.
 */
#ifndef PC_NODE_NET_H
#define PC_NODE_NET_H

#include "node.h"

/* Frees what net_start allocated. Call after net_stop and after worker_stop
 * (the worker may still call node_broadcast and friends while draining; after
 * net_stop they find no peers). n->net is NULL afterwards. */
void net_free(struct node *n);

/* Writes the port (and a newline) to path through a temporary name and
 * rename(2), so a reader never sees a partial file: the P2P and API port
 * files. 0 or PC_E_IO (logged). Any thread. */
int node_write_port_file(const char *path, int port);

#endif
