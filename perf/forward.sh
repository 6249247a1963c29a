#!/usr/bin/env bash
# Forwarding cost, side by side in one run: in-domain answers vs forwarded queries that
# hit the cache vs forwarded queries that all miss it (cache off), against the same Knot
# upstream. mesos-dns pinned to CPU 0; dnsperf and Knot share CPU 1. All on 127.0.0.1.
#
# Usage: perf/forward.sh [SECONDS per run (default 10)]   Needs: dnsperf, knot, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
. perf/lib.sh
secs=${1:-10}
cargo build --release --quiet --bin mesos-dns --bin synth-state --example perf_inputs
work_dir

./target/release/synth-state 10000 1 > "$dir/state.json"
./target/release/examples/perf_inputs "$dir/state.json" "$dir"
knot=$(free_port); hit=$(free_port); miss=$(free_port); hit_http=$(free_port); miss_http=$(free_port)

# The upstream zone: 10,000 names.
{
  echo '$ORIGIN example.test.'; echo '$TTL 3600'
  echo '@ SOA ns.example.test. admin.example.test. 1 60 60 600 3600'; echo '@ NS ns.example.test.'
  echo 'ns A 127.0.0.1'
  for i in $(seq 0 9999); do echo "h$i A 10.$((i / 256 % 256)).$((i % 256)).1"; done
} > "$dir/example.zone"
for i in $(seq 0 9999); do echo "h$i.example.test. A"; done > "$dir/forwarded.txt"
knot_conf "$dir" "$knot" example.test "$dir/example.zone" > "$dir/knot.conf"
config() { # port http_port cache_size
  cat <<JSON
{"StateFile":"state.json","listener":"127.0.0.1","port":$1,"httpListener":"127.0.0.1","httpPort":$2,
 "refreshSeconds":3600,"UDPWorkers":1,"IPSources":["netinfo","docker","mesos","host"],"masters":["10.255.0.1:5050"],
 "externalOn":true,"resolvers":["127.0.0.1:$knot"],"ForwardCacheSize":$3}
JSON
}
config "$hit" "$hit_http" 100000 > "$dir/hit.json"
config "$miss" "$miss_http" 0 > "$dir/miss.json"

taskset -c 1 knotd -c "$dir/knot.conf" & pids+=($!)
taskset -c 0 ./target/release/mesos-dns -config "$dir/hit.json" & pids+=($!); hit_pid=$!
taskset -c 0 ./target/release/mesos-dns -config "$dir/miss.json" & pids+=($!); miss_pid=$!
wait_ready "$knot" h1.example.test A; wait_ready "$hit"; wait_ready "$miss"

run() { # label port pid queries qps
  local before after out lat
  before=$(cpu_ns "$3")
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$2" -d "$4" -l "$secs" -c 8 -q 500 -Q "$5" -v > "$dir/run.txt" 2>&1
  after=$(cpu_ns "$3")
  out=$(grep -v '^> ' "$dir/run.txt")
  lat=$(latency_of "$dir/run.txt")
  printf '| %-28s | %6s | %8s | %5s | %s | %s |\n' "$1" "$5" \
    "$(grep -oP 'Queries per second:\s+\K[0-9]+' <<<"$out")" "$(grep -oP 'Queries lost:\s+\K[0-9]+' <<<"$out")" \
    "$lat" "$(cpu_per_answer "$before" "$after" "$(answered_in "$dir/run.txt")")"
}

# Warm the cache: every forwarded name once.
taskset -c 1 dnsperf -s 127.0.0.1 -p "$hit" -d "$dir/forwarded.txt" -n 1 -c 8 -q 500 > /dev/null 2>&1

echo "| queries                      | offered | qps | lost | latency p50 / p99 / p99.9 (ms) | server CPU µs/answer |"
echo "|---|---|---|---|---|---|"
for qps in 10000 20000; do
  run "in-domain (snapshot)" "$hit" "$hit_pid" "$dir/queries.txt" "$qps"
  run "forwarded, cache hit" "$hit" "$hit_pid" "$dir/forwarded.txt" "$qps"
  run "forwarded, cache off (miss)" "$miss" "$miss_pid" "$dir/forwarded.txt" "$qps"
done
echo
echo "cache: $(curl -s "http://127.0.0.1:$hit_http/metrics" | grep -E '^mesos_dns_responses_total\{rcode="NOERROR",source="(cache|forwarder)"\}' | tr '\n' ' ')"
