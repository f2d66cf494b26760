/*
 * peerchain core library: the consensus rules of the peerchain network.
 * Include this one header to get all of it. See docs/protocol.md.
 */
#ifndef PEERCHAIN_PEERCHAIN_H
#define PEERCHAIN_PEERCHAIN_H

#include "peerchain/errors.h"
#include "peerchain/limits.h"
#include "peerchain/hash.h"
#include "peerchain/block.h"
#include "peerchain/network.h"
#include "peerchain/chain.h"
#include "peerchain/miner.h"

#define PC_VERSION_STRING "0.1.0"

#endif
