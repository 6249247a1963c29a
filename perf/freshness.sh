#!/usr/bin/env bash
# Freshness: how long a task change takes to reach the answers, and what following the
# masters costs, with the operator API stream beside polling every 5 s and every 60 s.
# A test master (examples/stream_master.rs) serves one synthetic cluster both ways and
# moves one task to a new address RATE times a second; it probes a sample of the moved
# names until the new address answers. dnsperf offers 20k qps alongside. Per mode:
# event → answer p50/p99, dnsperf p99 and losses, the server's CPU and the bytes read
# from the master per minute, RSS.
# The server's UDP worker is pinned to CPU 0, dnsperf to CPU 1.
# Usage: perf/freshness.sh [TASKS (100000)] [RATE (1000)] [SECONDS (30)] [MODES ("subscribe poll5 poll60")]
# BIN=path/to/mesos-dns measures another build the same way.
# Needs: dnsperf, python3, dig. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
. perf/lib.sh
tasks=${1:-100000}
rate=${2:-1000}
secs=${3:-30}
modes=${4:-subscribe poll5 poll60}
cargo build --release --quiet --bin mesos-dns --bin synth-state --example stream_master --example perf_inputs
work_dir
bin=${BIN:-./target/release/mesos-dns}
./target/release/synth-state "$tasks" 1 > "$dir/state.json"
./target/release/examples/perf_inputs "$dir/state.json" "$dir" >/dev/null

rss_mb() { awk -v k="$2" '$1 == k {printf "%.0f", $2 / 1024}' /proc/"$1"/status; }
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }

echo "| mode | events/s | event→answer p50 / p99 (ms) | probes (timeouts) | dnsperf qps | lost | p99 (ms) | server CPU s/min | MB read from master/min | RSS / peak (MB) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for mode in $modes; do
  case $mode in
    subscribe) api=subscribe; refresh=60; probe_every=10; probe_ms=1; wait=$((secs + 5)) ;;
    poll5) api=poll; refresh=5; probe_every=200; probe_ms=20; wait=$((secs + 20)) ;;
    poll60) api=poll; refresh=60; probe_every=500; probe_ms=50; wait=$((secs + 75)) ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
  esac
  port=$(free_port); http=$(free_port); mport=$(free_port)
  rm -f "$dir/go"
  taskset -c 1 ./target/release/examples/stream_master "$tasks" "$mport" "$port" "$rate" "$secs" "$dir/go" "$probe_every" "$probe_ms" > "$dir/master.txt" &
  master_pid=$!; pids+=($master_pid)
  cat > "$dir/server.json" <<JSON
{"masters":["127.0.0.1:$mport"],"StateAPI":"$api","RefreshSeconds":$refresh,"listener":"127.0.0.1","port":$port,
 "httpport":$http,"externalon":false,"UDPWorkers":1,"IPSources":["netinfo","docker","mesos","host"],"stateTimeoutSeconds":60}
JSON
  sleep 1
  "$bin" -config "$dir/server.json" & server=$!; pids+=($server)
  wait_ready "$port"
  sleep 2
  cpu0=$(cpu_ns "$server"); t0=$(date +%s%N)
  bytes0=$(( $(metric "$http" 'mesos_dns_master_bytes_read_total{source="state"}') + $(metric "$http" 'mesos_dns_master_bytes_read_total{source="stream"}') ))
  touch "$dir/go"
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$port" -d "$dir/queries.txt" -l "$secs" -c 8 -q 500 -Q 20000 -v > "$dir/run.txt" 2>&1 || true
  # The master ends once its last probe is answered or timed out.
  for _ in $(seq "$wait"); do kill -0 "$master_pid" 2>/dev/null || break; sleep 1; done
  t1=$(date +%s%N); cpu1=$(cpu_ns "$server")
  bytes1=$(( $(metric "$http" 'mesos_dns_master_bytes_read_total{source="state"}') + $(metric "$http" 'mesos_dns_master_bytes_read_total{source="stream"}') ))
  line=$(cat "$dir/master.txt")
  get() { grep -oP "$1=\K[^ ]+" <<<"$line"; }
  minutes=$(python3 -c "print(($t1-$t0)/6e10)")
  out=$(grep -v '^> ' "$dir/run.txt")
  printf '| %s | %s | %s / %s | %s (%s) | %s | %s | %s | %s | %s | %s / %s |\n' "$mode" "$rate" \
    "$(get p50_ms)" "$(get p99_ms)" "$(get probes)" "$(get timeouts)" \
    "$(grep -oP 'Queries per second:\s+\K[0-9]+' <<<"$out")" "$(grep -oP 'Queries lost:\s+\K[0-9]+' <<<"$out")" \
    "$(latency_of "$dir/run.txt" | awk '{print $4}')" \
    "$(python3 -c "print(f'{($cpu1-$cpu0)/1e9/$minutes:.1f}')")" \
    "$(python3 -c "print(f'{($bytes1-$bytes0)/1e6/$minutes:.1f}')")" \
    "$(rss_mb "$server" VmRSS:)" "$(rss_mb "$server" VmHWM:)"
  kill "$server" "$master_pid" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
done
