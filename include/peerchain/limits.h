/*
 * Consensus limits and protocol constants, in one place, with units in the names.
 *
 * The PC_MAX_* values marked "consensus" are part of the block validity rules
 * (docs/protocol.md): changing one forks the network. The others are defaults
 * of the node, overridable by flags.
 */
#ifndef PEERCHAIN_LIMITS_H
#define PEERCHAIN_LIMITS_H

/* ---- consensus ---- */
#define PC_BLOCK_VERSION 1u                    /* the only block version accepted */
#define PC_MAX_SAFE_INTEGER 9007199254740991LL /* 2^53-1: every JSON integer is in [0, this] */
#define PC_MAX_DIFFICULTY 255u                 /* leading zero bits; 256 would demand hash 0 */
#define PC_MAX_DATA_ITEMS 1000u                /* strings in a block's data array */
#define PC_MAX_DATA_ITEM_BYTES 65536u          /* UTF-8 bytes in one data string */
#define PC_MAX_BLOCK_DATA_BYTES 1048576u       /* sum of data string bytes in one block */
#define PC_MTP_WINDOW_BLOCKS 11u               /* median-time-past window */
#define PC_MAX_FUTURE_SECONDS 7200             /* a block may be this far ahead of our clock */

/* ---- sizes ---- */
#define PC_HASH_BYTES 32u
#define PC_HASH_HEX_CHARS 64u
#define PC_WORK_LIMBS 5u /* 320-bit cumulative work: 2^255 * 2^53 fits */

/* ---- node defaults (flags override) ---- */
#define PC_DEFAULT_P2P_PORT 8555
#define PC_DEFAULT_API_PORT 8545
#define PC_PROTOCOL_VERSION 1
#define PC_DEFAULT_MAX_FRAME_BYTES (4u * 1024u * 1024u)
#define PC_MAX_JSON_DEPTH 64          /* nesting accepted in a frame */
#define PC_MAX_TYPE_CHARS 32u         /* length of a message "type" */
#define PC_LOCATOR_MAX_HASHES 64u     /* hashes in a getBlocks locator */
#define PC_GETBLOCKS_MAX_BLOCKS 2000u /* blocks per getBlocks / allBlock page */
#define PC_MAX_PEERS_PER_MESSAGE 100u /* addresses in one `peers` message */

#endif
