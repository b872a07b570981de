#!/usr/bin/env bash
# The one command that runs every test: installs what is missing, builds, runs
# the unit, integration and end-to-end tests with CTest. Exits non-zero on any
# failure. Safe to run twice; runs side by side with the demo (private ports).
#
#   ./scripts/test.sh              everything
#   ./scripts/test.sh -L unit      only the tests with a CTest label (unit|integration|e2e)
#   ./scripts/test.sh -R parser    only tests whose name matches
#
# After the normal run comes the sanitizer stage (issue #9): a second build in
# build-asan with -DSASLGUARD_SANITIZE=ON (gcc, ASan + UBSan, any report aborts),
# running every `unit` test plus the integration tests listed in asan_daemon_tests
# below, which start the real daemons. Extra arguments do not narrow this stage;
# SASLGUARD_SKIP_ASAN=1 skips it for quick local runs (CI always runs it).
#
# Builds were most of a clean run (file by file, the sanitizer tree alone took
# ~16 minutes on 2 cores), so these keep them down:
# - unity builds (CMAKE_UNITY_BUILD, 16 sources per unit): the receiver's files
#   each parse nlohmann/json, cpp-httplib and the standard library again and
#   instantiate the same templates; compiled 16 at a time, a clean build of the
#   normal tree took 343 CPU-seconds instead of 775 (8 at a time: 495). Files
#   of one target then share a translation unit, so two files must not define
#   the same name in an anonymous namespace (a copy the compiler now reports;
#   shared helpers belong in one place anyway). SASLGUARD_UNITY=OFF builds
#   file by file.
# - the test build keeps line tables only (-g1, still file:line in backtraces)
#   instead of full debug info: a receiver source file compiles in 11.7 s
#   instead of 15.8 s at -O2. The optimisation level stays the shipped one.
#   Release packages are built by debian/rules with their own flags.
# - the sanitizer tree builds only what its stage runs: the unit test binaries
#   (read from the normal tree's test list) and the two daemons.
# - the sanitizer tree is built while the normal tests run, at idle CPU and I/O
#   priority (SCHED_IDLE): the compiler gets the cycles the tests leave.
# Measured on a clean clone (2026-11-30): install 71 s, normal build 172 s
# (was ~7 min), normal tests 787 s (CPU-bound: rules_scenarios, lintian and the
# receivers take the cores, so the sanitizer build gets little of them), the
# sanitizer unit tests 91 s and daemon tests 60 s (were 131 s and 122 s).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
# The house format first: a file clang-format would change fails the run.
bash scripts/check-format.sh

build=${SASLGUARD_BUILD_DIR:-build}
unity=(-DCMAKE_UNITY_BUILD="${SASLGUARD_UNITY:-ON}" -DCMAKE_UNITY_BUILD_BATCH_SIZE=16)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" \
  "${unity[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"

asan=${SASLGUARD_ASAN_BUILD_DIR:-build-asan}
asan_build_pid=
if [ "${SASLGUARD_SKIP_ASAN:-0}" != 1 ]; then
  cmake -S . -B "$asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSASLGUARD_SANITIZE=ON "${unity[@]}" >/dev/null
  # What the sanitizer stage runs: every binary behind a `unit` test, and the
  # daemons its integration tests start (asan_daemon_tests below).
  mapfile -t asan_targets < <(ctest --test-dir "$build" -N -V -L unit |
    sed -n 's/^[0-9]*: Test command: \([^ ]*\).*/\1/p' | grep -v '^/usr/bin/bash$' | xargs -n1 basename | sort -u)
  [ "${#asan_targets[@]}" -gt 0 ] || { echo "test.sh: no unit test binary found in $build" >&2; exit 1; }
  asan_targets+=(saslguard-exporter saslguard-receiver)
  echo "test.sh: building the sanitizer tree in the background: ${asan_targets[*]} (log: $asan/build.log)" >&2
  # setsid: its own process group, so a failed run stops the compilers too.
  setsid chrt --idle 0 ionice -c 3 nice -n 19 cmake --build "$asan" -j"$(nproc)" --target "${asan_targets[@]}" \
    > "$asan/build.log" 2>&1 &
  asan_build_pid=$!
  trap '[ -z "$asan_build_pid" ] || kill -- "-$asan_build_pid" 2>/dev/null || true' EXIT
fi

# Integration tests mostly wait on daemons, so run more at once than we have cores.
ctest --test-dir "$build" --output-on-failure --no-tests=error -j"${SASLGUARD_TEST_JOBS:-3}" "$@"

if [ -z "$asan_build_pid" ]; then
  echo "test.sh: SASLGUARD_SKIP_ASAN=1, sanitizer stage skipped" >&2
  exit 0
fi
echo "test.sh: waiting for the sanitizer build" >&2
if ! wait "$asan_build_pid"; then
  asan_build_pid=
  tail -n 60 "$asan/build.log" >&2
  echo "test.sh: the sanitizer build failed (whole log: $asan/build.log)" >&2
  exit 1
fi
asan_build_pid=
# Integration tests that run saslguard-exporter / saslguard-receiver built with
# the sanitizers (both daemons, webhook flood + SIGKILL, and the fault tests;
# measured: 210 unit tests in 14 s, these 8 in 82 s under ASan on 2 cores).
asan_daemon_tests='^(exporter_oneshot_golden|exporter_live_log|receiver_alertmanager|receiver_sigkill|telegram_receiver|fault_disk_full|fault_log_deleted|fault_telegram_down)$'
# halt_on_error: the first report fails the test (UBSan is also built with
# -fno-sanitize-recover). Leak checking stays on for the short-lived test binaries.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
ctest --test-dir "$asan" --output-on-failure --no-tests=error -j"${SASLGUARD_TEST_JOBS:-3}" -L unit
# receiver_sigkill: 2,000 alerts instead of 6,000 under the sanitizers (the same
# five kills during the burst; the full run is in the normal stage): it was
# the stage's longest test by far, 122 s of a 2-minute stage.
SIGKILL_ALERTS=${SIGKILL_ALERTS:-2000} \
  ctest --test-dir "$asan" --output-on-failure --no-tests=error -j"${SASLGUARD_TEST_JOBS:-3}" -R "$asan_daemon_tests"
