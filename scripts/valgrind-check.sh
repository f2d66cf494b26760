#!/usr/bin/env bash
# Runs every unit-test binary of a (non-sanitizer) build tree under valgrind
# memcheck and fails on any error or leak (definite, indirect or possible).
# Then, if peerchaind is built, runs the node under valgrind through a short
# sync between two nodes (test/integration/valgrind_node.py).
#   scripts/valgrind-check.sh BUILD_DIR
set -euo pipefail
dir=${1:?usage: valgrind-check.sh BUILD_DIR}
vg=(valgrind --quiet --error-exitcode=97 --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --track-fds=no)
pass=0 fail=0
for t in "$dir"/test_* "$dir"/node_test_*; do
  [ -x "$t" ] || continue
  if "${vg[@]}" "$t" >"$t.valgrind.log" 2>&1; then
    pass=$((pass + 1)); echo "valgrind ok: $(basename "$t")"
  else
    fail=$((fail + 1)); echo "valgrind FAILED: $(basename "$t")"; tail -n 40 "$t.valgrind.log"
  fi
done
if [ -x "$dir/peerchaind" ] && [ -f test/integration/valgrind_node.py ]; then
  if python3 test/integration/valgrind_node.py --bin-dir "$dir"; then
    pass=$((pass + 1)); echo "valgrind ok: peerchaind"
  else
    fail=$((fail + 1)); echo "valgrind FAILED: peerchaind"
  fi
fi
echo "valgrind: $pass passed, $fail failed"
[ $fail -eq 0 ]
