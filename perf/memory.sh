#!/usr/bin/env bash
# Resident memory of the server holding the 100k-task state, over time: right after the
# first load, once the allocator has had time to hand freed pages back (15 s), and 15 s
# after a refresh of an unchanged state and of a changed one (each decodes the whole
# document again). Usage: perf/memory.sh [TASKS (default 100000)]   Needs: dig, python3.
# BIN=path/to/mesos-dns measures another build (e.g. an older commit's) the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
. perf/lib.sh
tasks=${1:-100000}
cargo build --release --quiet --bin mesos-dns --bin synth-state
work_dir

./target/release/synth-state "$tasks" 1 > "$dir/a.json"
python3 - "$dir/a.json" "$dir/b.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["frameworks"][0]["tasks"][0]["name"] = "renamed"
json.dump(d, open(sys.argv[2], "w"))
PY
cp "$dir/a.json" "$dir/mem-state.json"
port=$(free_port)
server_config mem "$port" 3600
${BIN:-./target/release/mesos-dns} -config "$dir/mem.json" & pids+=($!)
pid=$!
wait_ready "$port"
rss() { awk '/^VmRSS/ {printf "%d MB", $2 / 1024}' /proc/"$pid"/status; }
echo "| moment ($tasks tasks) | RSS |"
echo "|---|---|"
echo "| first state loaded | $(rss) |"
sleep 15; echo "| 15 s later | $(rss) |"
kill -USR1 "$pid"; sleep 15; echo "| 15 s after refreshing the same state | $(rss) |"
cp "$dir/b.json" "$dir/mem-state.json"
kill -USR1 "$pid"; sleep 15; echo "| 15 s after refreshing a changed state | $(rss) |"
echo "| peak (VmHWM) | $(awk '/^VmHWM/ {printf "%d MB", $2 / 1024}' /proc/"$pid"/status) |"
