#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing, checks
# formatting, then builds and runs every test (unit and integration) three
# times: a normal build, AddressSanitizer+UBSan, and ThreadSanitizer; then a
# valgrind leak check of the unit tests and of a running node.
#
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --quick    normal build only, for the edit-compile-test loop
#
# Build trees go to build/, build-asan/, build-tsan/ under the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    *) echo "test.sh: unknown argument '$a' (use --quick or nothing)" >&2; exit 2 ;;
  esac
done

bash scripts/setup-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
werror=OFF
[ "${CI:-}" = true ] && werror=ON

step() { printf '\n==== %s ====\n' "$*"; }

step "format check (clang-format)"
mapfile -t sources < <(git ls-files -- 'src/*.c' 'src/*.h' 'include/*.h' 'test/*.c' 'test/*.h' 2>/dev/null ||
                       find src include test -name '*.[ch]')
if [ ${#sources[@]} -gt 0 ]; then
  clang-format --dry-run --Werror "${sources[@]}"
fi
echo "format: ${#sources[@]} files clean"

# build_and_test DIR SANITIZER: configure, build, run ctest.
build_and_test() {
  local dir=$1 san=$2
  step "build $dir (sanitizer: ${san:-none})"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPC_WERROR=$werror -DPC_SANITIZE="$san" >/dev/null
  cmake --build "$dir" -j "$jobs"
  step "ctest $dir"
  ctest --test-dir "$dir" -j "$jobs" --output-on-failure --timeout 600
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=99"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:exitcode=99"

build_and_test build ""
if [ $quick = 1 ]; then
  echo "quick run: sanitizer and valgrind passes skipped"
  exit 0
fi
build_and_test build-asan address
build_and_test build-tsan thread

step "valgrind (unit tests and a running node)"
bash scripts/valgrind-check.sh build

step "the README's main job: a local cluster that mines and agrees"
bash scripts/cluster.sh --seconds 12

step "docker: the image and the docker-compose cluster"
if ! { docker info >/dev/null 2>&1 && command -v docker-compose >/dev/null; } &&
   [ -f ../shared/ci/docker-env.sh ]; then
  bash ../shared/ci/docker-env.sh up
fi
if docker info >/dev/null 2>&1 && command -v docker-compose >/dev/null; then
  bash docker/cluster-test.sh
elif [ "${CI:-}" = true ]; then
  echo "docker: no engine and no ../shared/ci/docker-env.sh to start one" >&2
  exit 1
else
  echo "docker: skipped (no Docker engine with docker-compose on this machine)"
fi
