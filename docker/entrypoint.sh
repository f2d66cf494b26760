#!/bin/sh
# Starts peerchaind inside the container. Settings come from the environment
# (docker-compose.yml); extra arguments are passed on to peerchaind.
#   NETWORK           network name (default regtest)
#   P2P_PORT, PEERS   read by peerchaind itself (naivechain style)
#   HTTP_PORT         read by peerchaind itself (default 8545)
#   API_TOKEN         read by peerchaind itself; empty: a cookie in /data
#   MINE              1 to mine
#   MINE_INTERVAL_MS  pause between mined blocks (default 1000)
#   LOG_LEVEL         error, warn, info or debug (default info)
# The API listens on all container addresses so a published port reaches it;
# docker-compose.yml publishes it on the host's 127.0.0.1 only.
set -eu
set -- --network "${NETWORK:-regtest}" --datadir /data --api-bind 0.0.0.0 \
       --log-level "${LOG_LEVEL:-info}" "$@"
if [ "${MINE:-0}" = 1 ]; then
  set -- "$@" --mine --mine-interval-ms "${MINE_INTERVAL_MS:-1000}"
fi
exec peerchaind "$@"
