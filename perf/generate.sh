#!/usr/bin/env bash
# Decode + generate of synthetic states (10k and 100k running tasks), one core, with
# peak RSS. Usage: perf/generate.sh [RUNS]   (writes nothing outside target/ and $TMPDIR)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
cargo build --release --quiet --bin synth-state --example decode_generate
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for tasks in 10000 100000; do
  ./target/release/synth-state "$tasks" 1 > "$dir/state.json"
  size=$(stat -c %s "$dir/state.json")
  echo "== $tasks running tasks, $((size / 1000000)) MB of JSON"
  for _ in $(seq "$runs"); do
    taskset -c 0 ./target/release/examples/decode_generate "$dir/state.json"
  done
done
