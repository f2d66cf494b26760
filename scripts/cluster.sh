#!/usr/bin/env bash
# The main job: installs what is missing, builds peerchaind, and runs a local
# four-node regtest cluster on 127.0.0.1 (a line n1-n2-n3-n4 plus n4-n1, so
# blocks are relayed through other nodes), with n1 and n3 mining. Every two
# seconds it prints each node's tip, asked with peerchain-cli over the node's
# HTTP API, and whether they all agree. Each node keeps its chain in its own
# data directory under the run folder. Stops every node it started (by PID)
# at the end or on Ctrl-C.
#
#   scripts/cluster.sh [--seconds N]    run for N seconds (default 30; 0 = until Ctrl-C)
#
# Exits 0 if all nodes agreed on a tip above genesis in the final check.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    *) echo "cluster.sh: unknown argument '$1' (use --seconds N)" >&2; exit 2 ;;
  esac
done
case "$seconds" in ''|*[!0-9]*) echo "cluster.sh: --seconds wants a whole number" >&2; exit 2 ;; esac

bash scripts/setup-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target peerchaind peerchain-cli >/dev/null
echo "built build/peerchaind and build/peerchain-cli"

run=$(mktemp -d /tmp/peerchain-cluster.XXXXXX)
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; echo "logs kept in $run"' EXIT
trap 'exit 130' INT TERM

# start NAME ARGS...: starts a node and waits (bounded) for its port file.
start() {
  local name=$1; shift
  build/peerchaind --network regtest --bind 127.0.0.1 --p2p-port 0 --datadir "$run/$name.data" \
    --api-port 0 --api-port-file "$run/$name.api" --port-file "$run/$name.port" "$@" \
    2>"$run/$name.log" &
  pids+=($!)
  for _ in $(seq 1 100); do [ -s "$run/$name.port" ] && [ -s "$run/$name.api" ] && break; sleep 0.1; done
  [ -s "$run/$name.api" ] || { echo "$name did not start; log:"; cat "$run/$name.log"; exit 1; }
  echo "$name: P2P 127.0.0.1:$(cat "$run/$name.port"), API 127.0.0.1:$(cat "$run/$name.api")"
}
port() { cat "$run/$1.port"; }

start n1 --mine --mine-interval-ms 1500
start n2 --peer "127.0.0.1:$(port n1)"
start n3 --peer "127.0.0.1:$(port n2)" --mine --mine-interval-ms 2500
start n4 --peer "127.0.0.1:$(port n3)" --peer "127.0.0.1:$(port n1)"

# tip NAME: "height hash-prefix" of the node's tip, from its API.
tip() {
  build/peerchain-cli --api "127.0.0.1:$(cat "$run/$1.api")" --timeout-ms 2000 --json status 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["height"], d["tip"][:16])' 2>/dev/null ||
    true
}

agreed=0
start_s=$(date +%s)
while :; do
  sleep 2
  line="" first="" same=1
  for n in n1 n2 n3 n4; do
    t=$(tip $n); t=${t:-"? unreachable"}
    line+="$n=$(echo "$t" | tr ' ' ':')  "
    [ -z "$first" ] && first=$t
    [ "$t" = "$first" ] || same=0
  done
  if [ $same = 1 ] && [ "${first%% *}" != 1 ]; then agreed=1; verdict="agree"; else agreed=0; verdict="syncing"; fi
  echo "$(date +%T)  $line $verdict"
  for i in "${!pids[@]}"; do
    kill -0 "${pids[$i]}" 2>/dev/null || { echo "node n$((i + 1)) exited unexpectedly"; exit 1; }
  done
  if [ "$seconds" != 0 ] && [ $(( $(date +%s) - start_s )) -ge "$seconds" ]; then
    # Mining never pauses, so a check can land mid-relay: give it a few more tries.
    for _ in 1 2 3 4 5; do [ $agreed = 1 ] && break; sleep 1
      t1=$(tip n1); agreed=1
      for n in n2 n3 n4; do [ "$(tip $n)" = "$t1" ] || agreed=0; done
    done
    break
  fi
done
stop_all
if [ $agreed = 1 ]; then echo "cluster: all 4 nodes agree"; exit 0; fi
echo "cluster: nodes did not agree"; exit 1
