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

#endif
