#!/usr/bin/env bash
# Regression test for issue #15: evicting users past --max-users must stay O(1).
# Runs bench/exporter_eviction/run.sh at a cap of 5000: the log with twice the
# cap (15,000 evictions) may cost at most 6x the CPU time of the at-cap log.
# Linear eviction (the old family scan) made that ratio ~200x. CPU time, not
# wall time, so a busy machine does not make it fail.
set -euo pipefail
CHECK_RATIO=6 exec bash "$SASLGUARD_SOURCE_DIR/bench/exporter_eviction/run.sh" 5000
