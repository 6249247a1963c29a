#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each (default 600), one after the
# other, from the seeds in fuzz/seeds/<target> and the corpus it grows in
# fuzz/corpus/<target>, and prints one line per target: executions and crashes (a crash
# leaves its input in fuzz/artifacts/<target>/). Needs the nightly toolchain and
# cargo-fuzz (cargo install cargo-fuzz). Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build -O >/dev/null
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "seeds/$target"
  log="corpus/$target.log"
  set +e
  cargo +nightly fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1
  status=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(ls "artifacts/$target" 2>/dev/null | grep -c -E '^(crash|oom|timeout|leak)-' || true)
  echo "$target: ${seconds} s, ${runs:-0} executions, exit $status, ${crashes} crash files"
done
