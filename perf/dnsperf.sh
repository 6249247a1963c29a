#!/usr/bin/env bash
# Side-by-side UDP benchmark on this machine: mesos-dns vs Knot DNS (same records, from a
# zone file our code exports) vs a recvmmsg/sendmmsg reflector (the harness's ceiling).
# Each server is pinned to CPU 0, dnsperf to CPU 1. All traffic is on 127.0.0.1.
#
# Usage: perf/dnsperf.sh [TASKS (default 100000)] [SECONDS per run (default 10)]
# OLD=path/to/mesos-dns adds another build (e.g. an older commit's) to the same run, as
# "mesos-dns (old)", serving the same state on its own port.
# Needs: dnsperf, knot (apt-get install dnsperf knot), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
. perf/lib.sh
tasks=${1:-100000}
secs=${2:-10}
cargo build --release --quiet --bin mesos-dns --bin synth-state --example perf_inputs --example reflector
work_dir


./target/release/synth-state "$tasks" 1 > "$dir/ours-state.json"
./target/release/examples/perf_inputs "$dir/ours-state.json" "$dir"
ours=$(free_port); knot=$(free_port); refl=$(free_port)

server_config ours "$ours" 3600
knot_conf "$dir" "$knot" mesos "$dir/mesos.zone" > "$dir/knot.conf"

taskset -c 0 ./target/release/mesos-dns -config "$dir/ours.json" & pids+=($!); ours_pid=$!
taskset -c 0 knotd -c "$dir/knot.conf" & pids+=($!); knot_pid=$!
taskset -c 0 ./target/release/examples/reflector "127.0.0.1:$refl" & pids+=($!); refl_pid=$!
if [ -n "${OLD:-}" ]; then
  old=$(free_port)
  server_config old "$old" 3600
  cp "$dir/ours-state.json" "$dir/old-state.json"
  taskset -c 0 "$OLD" -config "$dir/old.json" & pids+=($!); old_pid=$!
  wait_ready "$old"
fi

wait_ready "$ours"; wait_ready "$knot"
sleep 1


run() { # name port pid qps
  local name=$1 port=$2 pid=$3 qps=$4 qarg=() before after out
  [ "$qps" != max ] && qarg=(-Q "$qps")
  before=$(cpu_ns "$pid")
  # Output goes to a file: a pipe reader would compete with the server or dnsperf for CPU.
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$dir/queries.txt" -l "$secs" -c 8 -q 500 "${qarg[@]}" -v > "$dir/run.txt" 2>&1
  after=$(cpu_ns "$pid")
  out=$(grep -v '^> ' "$dir/run.txt")
  local sent lost achieved lat
  sent=$(grep -oP 'Queries sent:\s+\K[0-9]+' <<<"$out")
  lost=$(grep -oP 'Queries lost:\s+\K[0-9]+' <<<"$out")
  achieved=$(grep -oP 'Queries per second:\s+\K[0-9.]+' <<<"$out")
  lat=$(latency_of "$dir/run.txt")
  local cpu_us
  cpu_us=$(cpu_per_answer "$before" "$after" "$(answered_in "$dir/run.txt")")
  printf '| %-10s | %6s | %8s | %8s | %6s | %s | %s |\n' "$name" "$qps" "$sent" "${achieved%.*}" "$lost" "$lat" "$cpu_us"
}

echo "records: $(grep -c . "$dir/mesos.zone") zone lines; queries: 60% A, 30% SRV, 10% NXDOMAIN over the zone"
echo "mesos-dns RSS serving: $(grep VmRSS /proc/$ours_pid/status | awk '{print $2/1024 " MB"}')"
echo
echo "| server     | offered| sent     | qps      | lost   | latency p50 / p99 / p99.9 (ms) | server CPU µs/answer |"
echo "|---|---|---|---|---|---|---|"
for qps in 20000 50000 max; do
  run mesos-dns "$ours" "$ours_pid" "$qps"
  [ -n "${OLD:-}" ] && run "mesos-dns (old)" "$old" "$old_pid" "$qps"
  run knot "$knot" "$knot_pid" "$qps"
  run reflector "$refl" "$refl_pid" "$qps"
done
