#!/usr/bin/env bash
# The one command that runs every test: installs what is missing, builds, runs
# the unit, integration and end-to-end tests with CTest. Exits non-zero on any
# failure. Safe to run twice; runs side by side with the demo (private ports).
#
#   ./scripts/test.sh              everything
#   ./scripts/test.sh -L unit      only the tests with a CTest label (unit|integration|e2e)
#   ./scripts/test.sh -R parser    only tests whose name matches
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

build=${SASLGUARD_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"

# Integration tests mostly wait on daemons, so run more at once than we have cores.
ctest --test-dir "$build" --output-on-failure --no-tests=error -j"${SASLGUARD_TEST_JOBS:-3}" "$@"
