/*
 * /status and /metrics: the node's numbers, read from where they live (the
 * tip snapshot, the peer registry, the queue, the worker's and metrics.c's
 * counters). Every source is read on its own, so the numbers of one answer
 * may be a few microseconds apart; none of them is used to decide anything.
 *
 * Threads: libmicrohttpd's connection threads. Locks: tip_mu, peers_mu and
 * queue.mu, each taken and released inside the accessor that needs it.
 */
#include <inttypes.h>
#include <string.h>

#include "api_internal.h"
#include "metrics.h"

/* Sync as /status and /metrics show it. */
struct sync_view {
    uint64_t height; /* our tip */
    uint64_t target; /* the highest height a peer claimed, at least ours */
    double progress; /* height / target, 1.0 when at the target */
    bool is_syncing; /* a sync runs or a peer claims more than we have */
};

static uint64_t running_syncs(const struct worker_counters *wc)
{
    /* Loaded one by one: done + abandoned may have moved past the started
     * count we read a moment earlier. */
    uint64_t ended = wc->syncs_done + wc->syncs_abandoned;
    return wc->syncs_started > ended ? wc->syncs_started - ended : 0;
}

static void sync_view(struct node *n, uint64_t height, struct sync_view *v)
{
    struct worker_counters wc;
    worker_read_counters(n, &wc);
    uint64_t best = node_peers_best_height(n);
    v->height = height;
    v->target = best > height ? best : height;
    v->is_syncing = running_syncs(&wc) > 0 || v->target > height;
    v->progress = v->target > 0 ? (double)height / (double)v->target : 1.0;
}

static int64_t uptime_s(int64_t started_ms)
{
    int64_t ms = node_mono_ms() - started_ms;
    return ms > 0 ? ms / 1000 : 0;
}

json_t *api_status_json(struct node *n, int64_t started_ms)
{
    struct tip_snapshot t;
    node_read_tip(n, &t);
    char tip[PC_HASH_HEX_CHARS + 1], work[PC_WORK_HEX_BYTES];
    pc_hash_to_hex(&t.hash, tip);
    pc_work_to_hex(&t.work, work);
    int in = 0, out = 0;
    node_peer_counts(n, &in, &out);
    struct sync_view sv;
    sync_view(n, t.height, &sv);
    struct metrics_snapshot ms;
    metrics_read(&ms);
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:{s:i, s:i},"
                     " s:{s:s, s:I, s:I, s:f}, s:{s:b, s:I}, s:I}",
                     "network", n->cfg.net->name, "networkId", n->cfg.net->id, "version",
                     PC_VERSION_STRING, "height", (json_int_t)t.height, "tip", tip, "work", work,
                     "peers", "inbound", in, "outbound", out, "sync", "state",
                     sv.is_syncing ? "syncing" : "synced", "height", (json_int_t)sv.height,
                     "target", (json_int_t)sv.target, "progress", sv.progress, "mining", "enabled",
                     (int)n->cfg.mine, "hashRate", (json_int_t)ms.hash_rate, "uptimeSeconds",
                     (json_int_t)uptime_s(started_ms));
}

/* "# HELP" and "# TYPE" lines of one metric family. */
static bool family(struct api_buf *b, const char *name, const char *type, const char *help)
{
    return api_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static bool one(struct api_buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
    return family(b, name, type, help) && api_buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

static bool by_type(struct api_buf *b, const char *name, const char *help,
                    const uint64_t v[METRICS_DIRS][MT_COUNT])
{
    static const char *const dirs[METRICS_DIRS] = {"in", "out"};
    bool ok = family(b, name, "counter", help);
    for (int d = 0; ok && d < METRICS_DIRS; d++)
        for (int t = 0; ok && t < MT_COUNT; t++)
            ok = api_buf_printf(b, "%s{direction=\"%s\",type=\"%s\"} %" PRIu64 "\n", name, dirs[d],
                                metrics_type_name((enum metrics_type)t), v[d][t]);
    return ok;
}

/* One series per error code the worker can count, named by pc_errname. */
static bool rejected(struct api_buf *b, const struct worker_counters *wc)
{
    bool ok = family(b, "peerchain_rejected_total", "counter",
                     "Blocks and messages the chain worker rejected, by reason.");
    for (int slot = 1; ok && slot < WORKER_REJECT_SLOTS; slot++) {
        const char *name = pc_errname(-slot);
        if (strcmp(name, "unknown") != 0)
            ok = api_buf_printf(b, "peerchain_rejected_total{reason=\"%s\"} %" PRIu64 "\n", name,
                                wc->rejected[slot]);
    }
    return ok && api_buf_printf(b, "peerchain_rejected_total{reason=\"other\"} %" PRIu64 "\n",
                                wc->rejected[0]);
}

bool api_metrics_text(struct node *n, int64_t started_ms, struct api_buf *b)
{
    struct tip_snapshot t;
    node_read_tip(n, &t);
    int in = 0, out = 0;
    node_peer_counts(n, &in, &out);
    struct sync_view sv;
    sync_view(n, t.height, &sv);
    struct worker_counters wc;
    worker_read_counters(n, &wc);
    struct metrics_snapshot ms;
    metrics_read(&ms);

    return one(b, "peerchain_height", "gauge", "Height of the chain's tip.", t.height) &&
           family(b, "peerchain_peers", "gauge", "Connected peers by direction.") &&
           api_buf_printf(b, "peerchain_peers{direction=\"inbound\"} %d\n", in) &&
           api_buf_printf(b, "peerchain_peers{direction=\"outbound\"} %d\n", out) &&
           by_type(b, "peerchain_messages_total",
                   "Peer messages received, and queued for sending, by type.", ms.msgs) &&
           by_type(b, "peerchain_message_bytes_total",
                   "Bytes of peer messages received, and queued for sending, by type.", ms.bytes) &&
           rejected(b, &wc) &&
           one(b, "peerchain_bans_total", "counter", "Addresses banned for misbehaviour.",
               ms.bans) &&
           one(b, "peerchain_queue_depth", "gauge", "Messages waiting for the chain worker.",
               queue_depth(&n->queue)) &&
           family(b, "peerchain_sync_progress", "gauge",
                  "Our height over the highest height a peer claimed (1 when synced).") &&
           api_buf_printf(b, "peerchain_sync_progress %.6f\n", sv.progress) &&
           one(b, "peerchain_sync_target_height", "gauge",
               "The highest height a peer claimed, at least ours.", sv.target) &&
           one(b, "peerchain_syncs_running", "gauge", "Syncs with peers in progress.",
               running_syncs(&wc)) &&
           one(b, "peerchain_mining_hash_rate", "gauge",
               "Hashes per second of the --mine miner (0 when not mining).", ms.hash_rate) &&
           one(b, "peerchain_mining_hashes_total", "counter", "Hashes tried by the --mine miner.",
               ms.hashes) &&
           one(b, "peerchain_blocks_mined_total", "counter",
               "Blocks mined here (miner and mineBlock) and accepted.", ms.blocks_mined) &&
           one(b, "peerchain_blocks_accepted_total", "counter",
               "Blocks added to our chain, from anywhere.", wc.blocks_accepted) &&
           one(b, "peerchain_reorgs_total", "counter", "Reorganisations of our chain.",
               wc.reorgs) &&
           one(b, "peerchain_uptime_seconds", "gauge", "Seconds since the node started.",
               (uint64_t)uptime_s(started_ms));
}
