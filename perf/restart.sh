#!/usr/bin/env bash
# A secondary's restart, from its kept zone (DataDirectory) beside one by AXFR, in one
# run: a primary serves a synthetic cluster of TASKS tasks (a state file); one of our
# secondaries keeps the zone in DataDirectory. Measures, each ROUNDS times:
#   - a cold start (empty DataDirectory): start → first answer, which needs an AXFR;
#   - a restart after kill -9 with the primary up: start → first answer (from disk);
#   - a restart after kill -9 with the primary frozen (SIGSTOP): start → first answer,
#     which only the disk can give;
# and the secondary's resident memory after each, and the size of zone.redb.
# Usage: perf/restart.sh [TASKS (100000)] [ROUNDS (3)]
# Needs: dig, curl, python3. Loopback only; bounded by ROUNDS and timeouts.
set -euo pipefail
cd "$(dirname "$0")/.."
. perf/lib.sh
tasks=${1:-100000}
rounds=${2:-3}
cargo build --release --quiet --bin mesos-dns --bin synth-state
work_dir
pport=$(free_port); sport=$(free_port); shttp=$(free_port)
server_config primary "$pport" 3600
./target/release/synth-state "$tasks" 1 > "$dir/primary-state.json"
./target/release/mesos-dns -config "$dir/primary.json" 2>"$dir/primary.log" &
primary=$!; pids+=("$primary")
wait_ready "$pport"
cat > "$dir/secondary.json" <<JSON
{"Primaries":["127.0.0.1:$pport"],"listener":"127.0.0.1","port":$sport,"externalon":false,
 "httpListener":"127.0.0.1","httpPort":$shttp,"UDPWorkers":1,"DataDirectory":"$dir/data"}
JSON

# Start → first answer for leader.mesos (NOERROR with an answer), in ms.
first_answer_ms() {
  local started=$1
  for _ in $(seq 3000); do
    if dig @127.0.0.1 -p "$sport" +tries=1 +time=1 leader.mesos A 2>/dev/null | grep -q 'ANSWER: [1-9]'; then
      echo $(( ($(date +%s%N) - started) / 1000000 ))
      return 0
    fi
    sleep 0.01
  done
  echo "no answer; the secondary said:" >&2; tail -5 "$dir/secondary.log" >&2; return 1
}
start_secondary() {
  ./target/release/mesos-dns -config "$dir/secondary.json" 2>>"$dir/secondary.log" &
  secondary=$!; pids+=("$secondary")
}
rss_mb() { echo $(( $(awk '/VmRSS/ {print $2}' /proc/"$1"/status) / 1024 )); }
# Waits until the secondary has committed the zone to disk (its kept serial), bounded;
# then the time that took, in ms.
kept_serial_ready() {
  local started=$1
  for _ in $(seq 1200); do
    if curl -sf "http://127.0.0.1:$shttp/metrics" | grep -q '^mesos_dns_zone_kept_serial [1-9]'; then
      echo $(( ($(date +%s%N) - started) / 1000000 ))
      return 0
    fi
    sleep 0.1
  done
  echo "never kept" >&2; return 1
}

echo "tasks=$tasks records=$(dig @127.0.0.1 -p "$pport" mesos AXFR +tcp 2>/dev/null | grep -vc '^;')"
for round in $(seq "$rounds"); do
  rm -rf "$dir/data"
  t=$(date +%s%N); start_secondary; cold=$(first_answer_ms "$t"); cold_rss=$(rss_mb "$secondary")
  kept=$(kept_serial_ready "$t")
  kill -9 "$secondary"; wait "$secondary" 2>/dev/null || true
  t=$(date +%s%N); start_secondary; warm=$(first_answer_ms "$t"); warm_rss=$(rss_mb "$secondary")
  kept_serial_ready "$t" >/dev/null
  kill -9 "$secondary"; wait "$secondary" 2>/dev/null || true
  kill -STOP "$primary"
  t=$(date +%s%N); start_secondary; frozen=$(first_answer_ms "$t")
  kill -CONT "$primary"
  kill -9 "$secondary"; wait "$secondary" 2>/dev/null || true
  echo "round $round: first answer: cold (AXFR) ${cold} ms, restart from disk ${warm} ms" \
       "(primary frozen: ${frozen} ms), ratio $(python3 -c "print(round($warm/$cold, 3))");" \
       "RSS after: cold ${cold_rss} MB, from disk ${warm_rss} MB; whole zone on disk ${kept} ms after start;" \
       "zone.redb $(( $(stat -c %s "$dir/data/zone.redb") / 1048576 )) MB"
done
