/*
 * peerchain-stress scenarios. Each takes the parsed options, fills a
 * results document, and returns an exit code: 0 done, 1 the run failed (a
 * node unreachable, a wait ran out, a node misbehaved), 2 bad options.
 */
#ifndef PC_STRESS_SCENARIO_H
#define PC_STRESS_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

enum topology { TOPO_LINE, TOPO_RING, TOPO_MESH };

struct stress_opts {
    const char *bin_dir;   /* where peerchaind is */
    const char *json_path; /* --json, or NULL */
    bool smoke;            /* small sizes */
    bool keep_tmp;
    unsigned timeout_s; /* the whole run stops after this */
    uint64_t blocks;    /* sync: chain height; propagate: blocks mined */
    unsigned nodes;     /* propagate */
    enum topology topology;
    unsigned seconds;     /* api */
    unsigned concurrency; /* api */
    unsigned peers;       /* api */
    unsigned count;       /* connections */
    const char *kind;     /* flood: comma-separated kinds */
    unsigned seed;        /* churn: random sequence */
    const char *target;   /* HOST:PORT of a running node, or NULL */
    const char *token;    /* its API token (api --target) */
    uint64_t deadline_ns; /* now_ns() at start + timeout_s */
};

int scenario_sync(const struct stress_opts *o, struct results *r);
int scenario_propagate(const struct stress_opts *o, struct results *r);
int scenario_api(const struct stress_opts *o, struct results *r);
int scenario_connections(const struct stress_opts *o, struct results *r);
int scenario_flood(const struct stress_opts *o, struct results *r);
int scenario_churn(const struct stress_opts *o, struct results *r);
int scenario_limits(const struct stress_opts *o, struct results *r);

/* Shared by scenarios (sync.c). sync_load_seed offers g to the node on
 * 127.0.0.1:port as allBlock pages and waits until its tip is g's.
 * sync_fresh_node starts a node (named name) whose only peer is seed_addr
 * and waits until it announces tip_hash; *done_ns is when (its fork time is
 * (*fresh)->spawned_ns). Both 0 or -1 (error printed). */
struct gen_chain;
struct node_proc;
int sync_load_seed(const struct stress_opts *o, const struct gen_chain *g, int port);
int sync_fresh_node(const struct stress_opts *o, const char *seed_addr, const char *tip_hash,
                    const char *name, struct node_proc **fresh, uint64_t *done_ns);

/* Milliseconds left before the run's deadline (0 when past it). */
unsigned scenario_ms_left(const struct stress_opts *o);

#endif
