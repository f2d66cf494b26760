#!/usr/bin/env bash
# The Docker cluster test: builds the image, starts docker-compose.yml's
# four-node cluster under a project name of its own, and checks, each with a
# bounded wait:
#   1. all nodes agree on a tip, and the agreed tip keeps advancing;
#   2. with node3's container stopped, the other three keep agreeing
#      (node4 dialled only node3: it must have learnt the others by peer
#      exchange);
#   3. node3 started again comes back with the chain kept in its volume
#      (its first reported height is not below the height it had when
#      stopped) and catches up;
#   4. node2 disconnected from the network falls behind while the others
#      advance, and converges again once reconnected.
# Then it removes containers, network and volumes, also when a check fails.
#
#   docker/cluster-test.sh      (needs a running Docker engine and docker-compose)
#
# Nodes are asked through `docker exec ... peerchain-cli status --json`, so
# the host's ports do not matter: the test publishes the APIs on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."

project="pctest$$"
export NODE1_API_PORT="" NODE2_API_PORT="" NODE3_API_PORT="" NODE4_API_PORT=""
export PEERCHAIN_API_TOKEN=""
compose() { docker-compose -p "$project" -f docker-compose.yml "$@"; }
nodes=(node1 node2 node3 node4)
passed=0 failed=0

teardown() {
  local rc=$?
  if [ "$failed" -gt 0 ] || [ $rc -ne 0 ]; then
    echo "---- logs (last 30 lines per node) ----"
    for n in "${nodes[@]}"; do compose logs --no-color --tail 30 "$n" 2>/dev/null || true; done
  fi
  compose down --volumes --remove-orphans --timeout 20 >/dev/null 2>&1 || true
  echo "cluster-test: $passed passed, $failed failed"
  echo "$passed passed, $failed failed"
  if [ $rc -eq 0 ] && [ "$failed" -gt 0 ]; then rc=1; fi
  exit $rc
}
trap teardown EXIT
trap 'exit 130' INT TERM

ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

container() { compose ps -q "$1"; }

# status NODE: "height tip" of the node, or nothing if it does not answer.
status() {
  local c
  c=$(container "$1") || return 0
  [ -n "$c" ] || return 0
  docker exec "$c" peerchain-cli --timeout-ms 3000 status --json 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["height"], d["tip"])' 2>/dev/null ||
    true
}

# hash_at NODE HEIGHT: the hash of the node's block at HEIGHT, or nothing.
hash_at() {
  local c
  c=$(container "$1") || return 0
  [ -n "$c" ] || return 0
  docker exec "$c" peerchain-cli --timeout-ms 3000 --json block "$2" 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["hash"])' 2>/dev/null || true
}

# agree NODES...: prints "height hash" if the nodes agree: the same tip, or,
# since node1 keeps mining while we ask one node after another, tips at most
# two blocks apart with the same block at the lowest of them. Nodes are asked
# in parallel to keep that window short.
agree() {
  local tmp n i=0 lo="" hi=0 first="" same=1
  tmp=$(mktemp -d)
  for n in "$@"; do status "$n" >"$tmp/$n" & done
  wait
  for n in "$@"; do
    read -r h t <"$tmp/$n" || { rm -rf "$tmp"; return 1; }
    [ -n "$h" ] || { rm -rf "$tmp"; return 1; }
    [ -z "$first" ] && first="$h $t"
    [ "$h $t" = "$first" ] || same=0
    { [ -z "$lo" ] || [ "$h" -lt "$lo" ]; } && lo=$h
    [ "$h" -gt "$hi" ] && hi=$h
  done
  if [ $same = 1 ]; then rm -rf "$tmp"; echo "$first"; return 0; fi
  if [ $((hi - lo)) -gt 2 ]; then rm -rf "$tmp"; return 1; fi
  for n in "$@"; do hash_at "$n" "$lo" >"$tmp/$n.h" & done
  wait
  first=""
  for n in "$@"; do
    read -r t <"$tmp/$n.h" || { rm -rf "$tmp"; return 1; }
    [ -z "$first" ] && first=$t
    [ -n "$t" ] && [ "$t" = "$first" ] || { rm -rf "$tmp"; return 1; }
    i=$((i + 1))
  done
  rm -rf "$tmp"
  echo "$lo $first"
}

# wait_agree SECONDS MIN_HEIGHT NODES...: until the nodes agree on a tip
# with a height above MIN_HEIGHT; prints it.
wait_agree() {
  local secs=$1 min=$2 s
  shift 2
  local deadline=$((SECONDS + secs))
  while [ $SECONDS -lt $deadline ]; do
    if s=$(agree "$@") && [ "${s%% *}" -gt "$min" ]; then echo "$s"; return 0; fi
    sleep 1
  done
  return 1
}

height_of() { local s; s=$(status "$1"); echo "${s%% *}"; }

echo "building the image and starting the cluster (project $project)"
compose build --quiet
compose up -d

tip=$(wait_agree 120 1 "${nodes[@]}") && ok "all four nodes agree at height ${tip%% *}" ||
  { fail "the four nodes agree on a tip above genesis within 120 s"; exit 1; }
h1=${tip%% *}
tip=$(wait_agree 60 "$h1" "${nodes[@]}") && ok "the agreed tip advances (height ${tip%% *} > $h1)" ||
  fail "the agreed tip advances past $h1 within 60 s"

# Docker runs the first check one interval (5 s) after the start: wait for it.
c1=$(container node1)
health=none
for _ in $(seq 1 60); do
  health=$(docker inspect --format '{{.State.Health.Status}}' "$c1" 2>/dev/null || echo none)
  [ "$health" = starting ] || break
  sleep 1
done
[ "$health" = healthy ] && ok "node1's HEALTHCHECK reports healthy" ||
  fail "node1's HEALTHCHECK reports healthy (it says $health)"

# 2. node3 stopped: the rest keep agreeing.
before_stop=$(height_of node3)
compose stop --timeout 20 node3 >/dev/null 2>&1
ok "node3 stopped at height $before_stop"
h=$(height_of node1)
tip=$(wait_agree 90 "$h" node1 node2 node4) &&
  ok "without node3, nodes 1, 2 and 4 keep agreeing (height ${tip%% *})" ||
  fail "without node3, nodes 1, 2 and 4 agree above height $h within 90 s"

# 3. node3 back, chain kept in its volume, catches up. The node logs the
# height it loaded from its data directory before it talks to any peer.
compose start node3 >/dev/null 2>&1
loaded=""
for _ in $(seq 1 60); do
  loaded=$(compose logs --no-color node3 2>/dev/null | grep -oE 'chain loaded from [^:]+: height [0-9]+' |
           tail -n 1 | grep -oE '[0-9]+$' || true)
  # the last "chain loaded" line is this start's once the restart is logged twice
  [ "$(compose logs --no-color node3 2>/dev/null | grep -c 'chain loaded from')" -ge 2 ] && break
  sleep 0.5
done
if [ -n "$loaded" ] && [ "$loaded" -ge "$before_stop" ] && [ "$before_stop" -gt 1 ]; then
  ok "node3 restarted with its chain from its volume (loaded height $loaded, had $before_stop)"
else
  fail "node3 restarted with its chain from its volume (loaded '${loaded:-none}', had $before_stop)"
fi
h=$(height_of node1)
tip=$(wait_agree 90 "$h" "${nodes[@]}") && ok "node3 caught up: all four agree at ${tip%% *}" ||
  fail "node3 catches up and all four agree above $h within 90 s"

# 4. node2 cut off from the network, then reconnected.
net="${project}_peerchain"
c2=$(container node2)
docker network disconnect "$net" "$c2"
cut=$(height_of node2)
ok "node2 disconnected from $net at height $cut"
h=$(height_of node1)
deadline=$((SECONDS + 60)); moved=0
while [ $SECONDS -lt $deadline ]; do
  [ "$(height_of node1)" -gt $((h + 2)) ] && { moved=1; break; }
  sleep 1
done
[ $moved = 1 ] && [ "$(height_of node2)" -le "$cut" ] &&
  ok "while cut off, node2 stays at $(height_of node2) as node1 advances to $(height_of node1)" ||
  fail "node1 advances while node2 (cut off) does not"
docker network connect --alias node2 "$net" "$c2"
h=$(height_of node1)
tip=$(wait_agree 120 "$h" "${nodes[@]}") && ok "node2 reconnected and converged: all four at ${tip%% *}" ||
  fail "after reconnecting node2 all four agree above $h within 120 s"

[ "$failed" -eq 0 ]
