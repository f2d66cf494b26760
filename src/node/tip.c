/*
 * The tip snapshot: what threads other than the chain worker may know about
 * the chain (height, hash, work, the miner's template base). The worker
 * publishes it after every change; readers (hello, the miner, the API) copy
 * it. node.tip is guarded by node.tip_mu; nothing else is held meanwhile.
 */
#include "node.h"
#include "sync.h"

void node_publish_tip(struct node *n, const pc_chain *c)
{
    struct tip_snapshot t;
    const pc_block *tip = pc_chain_tip(c);
    t.height = pc_chain_height(c);
    t.hash = tip->hash;
    pc_chain_work(c, &t.work);
    pc_chain_template_base(c, &t.base);

    sync_lock(&n->tip_mu);
    bool changed = n->tip.generation == 0 || !pc_hash_equal(&n->tip.hash, &t.hash);
    t.generation = n->tip.generation + 1;
    n->tip = t;
    sync_unlock(&n->tip_mu);
    if (changed)
        atomic_store(&n->tip_changed, true);
}

void node_read_tip(struct node *n, struct tip_snapshot *out)
{
    sync_lock(&n->tip_mu);
    *out = n->tip;
    sync_unlock(&n->tip_mu);
}
