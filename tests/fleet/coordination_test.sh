#!/usr/bin/env bash
# Runs the Catch2 tests of the fleet's claim and dedup SQL (coordination_test.cpp)
# against a private PostgreSQL cluster (tests/lib/postgres.sh).
set -eo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"
# shellcheck source=../lib/postgres.sh
. "$here/../lib/postgres.sh"
pg_private_cluster fleet-sql
SASLGUARD_TEST_PG=$PG_CONNINFO "$SASLGUARD_BUILD_DIR/tests/fleet/fleet_coordination_test"
