#!/usr/bin/env bash
# A poll's memory peak on a primary reading a state file of TASKS running tasks
# (`synth-state TASKS 1 SHAPE`): the server starts (start → first answer, and the first
# load's peak, VmHWM, 3 s later); then one task is renamed in the file and SIGUSR1 makes
# it poll (perf/poll_peak.py: VmRSS every 10 ms until 1 s after the new name answers).
# Each round starts every build of BINS once, in turn, so old and new builds are
# measured side by side.
# Usage: perf/poll_peak.sh [TASKS (100000)] [SHAPES ("uniform long-tail")] [ROUNDS (3)]
# BINS="old-binary ./target/release/mesos-dns" compares builds (default: this one).
# Needs: dig, python3. Loopback only; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
. perf/lib.sh
tasks=${1:-100000}
shapes=${2:-uniform long-tail}
rounds=${3:-3}
cargo build --release --quiet --bin mesos-dns --bin synth-state
bins=${BINS:-./target/release/mesos-dns}
work_dir

echo "| cluster | build | round | start → first answer | first load's peak | resident before the poll | peak during the poll | resident 1 s after the answer | poll → renamed task answered |"
echo "|---|---|---|---|---|---|---|---|---|"
for shape in $shapes; do
  ./target/release/synth-state "$tasks" 1 "$shape" > "$dir/$shape.json"
  for round in $(seq "$rounds"); do
    for bin in $bins; do
      port=$(free_port)
      server_config p "$port" 3600
      cp "$dir/$shape.json" "$dir/p-state.json"
      started=$(now_ms)
      "$bin" -config "$dir/p.json" 2> "$dir/p.log" & pid=$!; pids+=("$pid")
      first=$(python3 perf/first_answer.py "$port" leader.mesos "$started" 300)
      sleep 3
      load_peak=$(awk '/^VmHWM/ {printf "%d", $2 / 1024}' /proc/"$pid"/status)
      rename_first_task "$dir/p-state.json" "renamed-$round"
      read -r before peak after ms < <(python3 perf/poll_peak.py "$pid" "$port" "renamed-$round.marathon.mesos")
      echo "| $shape | $bin | $round | $first ms | $load_peak MB | $before MB | $peak MB | $after MB | $ms ms |"
      stop "$pid"
    done
  done
done
