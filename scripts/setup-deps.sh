#!/usr/bin/env bash
# Installs the Debian packages peerchain needs to build, test and run its demo.
# Idempotent: when everything is there it changes nothing and touches no network.
# Only Debian's own package archive is used.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config    # toolchain
  libjansson-dev libsodium-dev        # JSON, hashing and randomness
  liblmdb-dev                         # chain storage
  libmicrohttpd-dev                   # the node's HTTP API
  libcurl4-openssl-dev                # peerchain-cli's HTTP client
  python3                             # integration tests (standard library only)
  valgrind clang-format               # leak check and format check in the test suite
)
# --bench: also what the full benchmark run needs (its plots).
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(python3-matplotlib)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup-deps: missing ${missing[*]}; run as root (or install them) first" >&2
  exit 1
fi
echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-deps: done"
