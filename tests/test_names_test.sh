#!/usr/bin/env bash
# Catch2 test names that CTest cannot run: catch_discover_tests splits a name at
# ';' (two bogus tests that each "pass" with "No tests ran") and a name starting
# with '-' is read as a command-line flag. Both have slipped in before; this
# fails on any such name in the tree.
set -euo pipefail
cd "${SASLGUARD_SOURCE_DIR:-$(dirname "$0")/..}"
bad=$(grep -rnE 'TEST_CASE\("([^"]*;|-)' --include='*.cpp' tests || true)
if [ -n "$bad" ]; then
  echo "test names CTest cannot run (';' inside, or a leading '-'):" >&2
  echo "$bad" >&2
  exit 1
fi
echo "test names ok"
