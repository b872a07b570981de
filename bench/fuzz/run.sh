#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang and runs each for a
# fixed time on a seed corpus taken from the test fixtures; prints execs/s and
# coverage (libFuzzer "cov" = covered edges, "ft" = features) per harness.
# Exits non-zero when a harness crashes; the crashing input is kept in
# $out/<harness>/crash-* (make it a Catch2 regression test, then fix).
#
#   bench/fuzz/run.sh            60 s per harness
#   bench/fuzz/run.sh 300        300 s per harness
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
build=${SASLGUARD_FUZZ_BUILD_DIR:-build-fuzz}
out=${SASLGUARD_FUZZ_OUT:-$build/fuzz-runs}
mkdir -p "$out"; out=$(cd "$out" && pwd)

cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSASLGUARD_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j2 --target fuzz_log_parser fuzz_showq fuzz_webhook fuzz_telegram_update

# Seed corpora: one file per fixture log line; showq captures get a chunk-size
# byte in front (see showq_fuzz.cpp); webhook fixtures as is; Telegram answers
# with a status byte 0 (HTTP 200).
rm -rf "$out"; mkdir -p "$out"
seed() { mkdir -p "$out/$1/seed" "$out/$1/corpus"; }
seed log_parser
n=0
cat tests/fixtures/postfix-logs/*.log | while IFS= read -r line; do
  n=$((n + 1)); printf '%s' "$line" > "$out/log_parser/seed/line$n"
done
seed showq
for f in tests/fixtures/showq/*.showq; do
  for c in 0 7 200; do { printf "\\$(printf '%03o' $c)"; cat "$f"; } > "$out/showq/seed/$(basename "$f").$c"; done
done
seed webhook
cp tests/fixtures/webhooks/*.json "$out/webhook/seed/"
seed telegram_update
i=0
for body in \
  '{"ok":true,"result":[]}' \
  '{"ok":true,"result":[{"update_id":5,"message":{"message_id":1,"from":{"id":42,"is_bot":false,"first_name":"A"},"chat":{"id":42,"type":"private"},"date":1700000000,"text":"/status"}}]}' \
  '{"ok":true,"result":[{"update_id":6,"callback_query":{"id":"99","from":{"id":42,"is_bot":false,"first_name":"A","username":"adm"},"message":{"message_id":3,"chat":{"id":42,"type":"private"},"date":1700000000},"chat_instance":"1","data":"0123456789abcdef"}}]}' \
  '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}' \
  '{"ok":false,"error_code":401,"description":"Unauthorized"}' \
  '{"message":"Not found"}' \
  '<html>502 Bad Gateway</html>'; do
  i=$((i + 1)); { printf '\000'; printf '%s' "$body"; } > "$out/telegram_update/seed/t$i"
done
# Extra seeds from the repository, if the Telegram tests keep captured answers.
for f in tests/fixtures/telegram/*.json; do
  [ -e "$f" ] || continue; i=$((i + 1)); { printf '\000'; cat "$f"; } > "$out/telegram_update/seed/t$i"
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
bin=$(cd "$build/tests/fuzz" && pwd)
printf '%-22s %8s %10s %8s %8s %8s %s\n' harness seconds execs execs/s cov ft result
for h in log_parser showq webhook telegram_update; do
  dir=$out/$h
  set +e
  (cd "$dir" && "$bin/fuzz_$h" -max_total_time="$secs" -max_len=8192 \
     -print_final_stats=1 -artifact_prefix="$dir/" corpus seed) > "$dir/log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$dir/log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -oE 'ft: [0-9]+' "$dir/log" | tail -1 | cut -d' ' -f2)
  result=ok
  if [ "$rc" -ne 0 ]; then result="CRASH rc=$rc: $(ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* 2>/dev/null | head -1 || true)"; status=1; fi
  printf '%-22s %8s %10s %8s %8s %8s %s\n' "$h" "$secs" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
[ "$status" -eq 0 ] || echo "a harness failed: see $out/<harness>/log" >&2
exit "$status"
