#!/usr/bin/env bash
# The store's tests (store_tests: the repositories, intake, worker and Telegram
# state) once more, on PostgreSQL: a private cluster (tests/lib/postgres.sh),
# every test's store a schema of its own (store_under_test.hpp).
set -eo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"
# shellcheck source=../lib/postgres.sh
. "$here/../lib/postgres.sh"
pg_private_cluster store-pg
SASLGUARD_TEST_PG_CONNINFO=$PG_CONNINFO "$SASLGUARD_BUILD_DIR/tests/receiver/store_tests" "$@"
