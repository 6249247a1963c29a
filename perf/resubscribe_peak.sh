#!/usr/bin/env bash
# A new subscription's memory peak on a primary that follows the operator API of a
# cluster of TASKS running tasks (`synth-state TASKS 1`, served by
# examples/stream_master.rs): the server subscribes (start → first answer, and that first
# load's peak, VmHWM, 3 s later; and from the first octets of `SUBSCRIBED` to the first
# answer, as perf/compact.sh reckons it); then SIGUSR1 makes it subscribe again, and VmRSS is
# read every 10 ms for HOLD seconds (perf/poll_peak.py), long enough for the second
# `SUBSCRIBED` to be rendered, sent and taken (the log's second "subscribed" line says
# when it was decoded). The cluster is the same both times, as after a dropped
# connection: what a new subscription costs beside the model already held.
# Each round starts every build of BINS once, in turn, so old and new builds are
# measured side by side.
# Usage: perf/resubscribe_peak.sh [TASKS (100000)] [ROUNDS (3)] [HOLD (10)]
# BINS="old-binary ./target/release/mesos-dns" compares builds (default: this one).
# Needs: dig, python3, curl. Loopback only; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
. perf/lib.sh
tasks=${1:-100000}
rounds=${2:-3}
hold=${3:-10}
cargo build --release --quiet --bin mesos-dns --example stream_master
bins=${BINS:-./target/release/mesos-dns}
work_dir

mport=$(free_port)
./target/release/examples/stream_master "$tasks" "$mport" 1 1 1 "$dir/never" 1 1 > /dev/null & master=$!; pids+=("$master")
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$mport/master/state" -o /dev/null -m 60 && break; sleep 0.5; done

echo "| build | round | start → first answer | \`SUBSCRIBED\` → first answer | first load's peak | resident before | peak while subscribing again | resident after | second \`SUBSCRIBED\` decoded in |"
echo "|---|---|---|---|---|---|---|---|---|"
for round in $(seq "$rounds"); do
  for bin in $bins; do
    port=$(free_port)
    subscribed_config "$dir/sub.json" "$mport" "$port"
    started=$(now_ms)
    "$bin" -config "$dir/sub.json" -v 1 2> "$dir/sub.log" & pid=$!; pids+=("$pid")
    first=$(python3 perf/first_answer.py "$port" leader.mesos "$started" 300)
    from_record=$(subscribed_to_answer "$dir/sub.log" $((started + first)))
    sleep 3
    load_peak=$(awk '/^VmHWM/ {printf "%d", $2 / 1024}' /proc/"$pid"/status)
    read -r before peak after _ < <(HOLD_S=$hold python3 perf/poll_peak.py "$pid" "$port" leader.mesos)
    decoded=$(grep "subscribed to the operator API" "$dir/sub.log" | sed -n 2p | sed -n 's/.*decode_ms=\([0-9]*\).*/\1 ms/p')
    echo "| $bin | $round | $first ms | $from_record ms | $load_peak MB | $before MB | $peak MB | $after MB | ${decoded:-not within $hold s} |"
    stop "$pid"
  done
done
