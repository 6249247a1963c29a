#!/usr/bin/env bash
# The compact zone's figures (issue: compact zone state) on two clusters of TASKS running
# tasks, one after the other: `synth-state TASKS 1` (uniform) and `synth-state TASKS 1
# long-tail` (long-tailed app sizes, more IPv6 and DiscoveryInfo). For each:
#   - our primary reading the state file: start → first answer (leader.mesos), resident
#     memory 20 s later, peak (VmHWM);
#   - our secondary of it (AXFR, no DataDirectory) started once the primary answers:
#     start → first answer, resident 20 s later, peak;
#   - Knot as a secondary of the same zone: resident once it serves the primary's serial;
#   - ROUNDS times: one task renamed in the state file, then SIGUSR1 to the primary
#     (a poll) → our secondary answers the new name (NOTIFY + IXFR), in ms;
#   - with the uniform shape, a primary following the operator API instead
#     (examples/stream_master.rs serves the same cluster): start → first answer, and
#     from the first octets of `SUBSCRIBED` (the time the test master takes to render
#     it left out: its log line's time less its decode time) → first answer; resident
#     20 s later, peak.
# Usage: perf/compact.sh [TASKS (100000)] [SHAPES ("uniform long-tail")] [ROUNDS (3)]
# BIN=path/to/mesos-dns measures another build (e.g. an older commit's) the same way.
# Needs: dig, python3; knotd for the Knot column. Loopback only; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
. perf/lib.sh
tasks=${1:-100000}
shapes=${2:-uniform long-tail}
rounds=${3:-3}
cargo build --release --quiet --bin mesos-dns --bin synth-state --example stream_master
bin=${BIN:-./target/release/mesos-dns}
work_dir

rss_mb() { awk '/^VmRSS/ {printf "%d", $2 / 1024}' /proc/"$1"/status; }
peak_mb() { awk '/^VmHWM/ {printf "%d", $2 / 1024}' /proc/"$1"/status; }
# Waits (bounded) until the server on port $1 answers $2 with data; the time since $3 (ms).
# One prober process asking every 5 ms (a `dig` started every 5 ms took a good part of a
# core from the server being timed, on 2 cores).
answered_after() { python3 perf/first_answer.py "$1" "$2" "$3" 300; }
serial_of() { dig @127.0.0.1 -p "$1" +tries=1 +time=1 +short mesos SOA 2>/dev/null | awk '{print $3}'; }
echo "| cluster | records | primary: first answer | primary: resident | primary: peak | secondary: first answer (AXFR) | secondary: resident | secondary: peak | Knot secondary: resident | one task renamed → secondary answers (poll), ms |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for shape in $shapes; do
  pport=$(free_port); sport=$(free_port)
  server_config "p-$shape" "$pport" 3600
  ./target/release/synth-state "$tasks" 1 "$shape" > "$dir/p-$shape-state.json"
  # The primary NOTIFYs its secondary.
  python3 - "$dir/p-$shape.json" "$sport" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["NotifySecondaries"] = ["127.0.0.1:" + sys.argv[2]]
json.dump(c, open(sys.argv[1], "w"))
PY
  cat > "$dir/s-$shape.json" <<JSON
{"Primaries":["127.0.0.1:$pport"],"listener":"127.0.0.1","port":$sport,"externalon":false,
 "httpon":false,"UDPWorkers":1}
JSON
  started=$(now_ms)
  "$bin" -config "$dir/p-$shape.json" 2> "$dir/p-$shape.log" & primary=$!; pids+=("$primary")
  p_first=$(answered_after "$pport" leader.mesos "$started")
  started=$(now_ms)
  "$bin" -config "$dir/s-$shape.json" 2> "$dir/s-$shape.log" & secondary=$!; pids+=("$secondary")
  s_first=$(answered_after "$sport" leader.mesos "$started")
  records=$(dig @127.0.0.1 -p "$pport" mesos AXFR +tcp 2>/dev/null | grep -vc '^;' || true)
  sleep 20
  p_rss=$(rss_mb "$primary"); p_peak=$(peak_mb "$primary")
  s_rss=$(rss_mb "$secondary"); s_peak=$(peak_mb "$secondary")
  knot_rss="—"
  if command -v knotd >/dev/null; then
    kport=$(free_port); kd="$dir/knot-$shape"; mkdir -p "$kd"
    cat > "$kd/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$kport
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    rundir: $kd
database:
    storage: $kd
log:
  - target: stderr
    any: error
remote:
  - id: primary
    address: 127.0.0.1@$pport
zone:
  - domain: mesos
    master: primary
    storage: $kd
    zonefile-sync: -1
    journal-content: none
CONF
    knotd -c "$kd/knot.conf" 2>/dev/null & knot=$!; pids+=("$knot")
    want=$(serial_of "$pport")
    for _ in $(seq 1200); do [ "$(serial_of "$kport")" = "$want" ] && break; sleep 0.25; done
    sleep 5
    knot_rss="$(rss_mb "$knot") MB"
    stop "$knot"
  fi
  moves=()
  for round in $(seq "$rounds"); do
    rename_first_task "$dir/p-$shape-state.json" "moved-$round"
    started=$(now_ms)
    kill -USR1 "$primary"
    moves+=("$(answered_after "$sport" "moved-$round.marathon.mesos" "$started")")
  done
  echo "| $shape | $records | $p_first ms | $p_rss MB | $p_peak MB | $s_first ms | $s_rss MB | $s_peak MB | $knot_rss | ${moves[*]} |"
  stop "$secondary"; stop "$primary"
done

# A primary that subscribes: the first answer comes from `SUBSCRIBED`.
if [[ " $shapes " == *" uniform "* ]]; then
  mport=$(free_port); pport=$(free_port)
  ./target/release/examples/stream_master "$tasks" "$mport" "$pport" 1 1 "$dir/never" 1 1 > /dev/null & master=$!; pids+=("$master")
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$mport/master/state" -o /dev/null -m 60 && break; sleep 0.5; done
  subscribed_config "$dir/sub.json" "$mport" "$pport"
  started=$(now_ms)
  "$bin" -config "$dir/sub.json" -v 1 2> "$dir/sub.log" & primary=$!; pids+=("$primary")
  first=$(answered_after "$pport" leader.mesos "$started")
  from_record=$(subscribed_to_answer "$dir/sub.log" $((started + first)))
  sleep 20
  echo
  echo "| primary subscribed (uniform) | start → first answer | \`SUBSCRIBED\` → first answer | resident | peak |"
  echo "|---|---|---|---|---|"
  echo "| $tasks tasks | $first ms | $from_record ms | $(rss_mb "$primary") MB | $(peak_mb "$primary") MB |"
  stop "$primary"; stop "$master"
fi
