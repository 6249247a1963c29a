#!/usr/bin/env bash
# Soak and fault run (not in CI): the server under steady load for SECONDS while its
# master keeps changing and going away, to find leaks, lost queries and stuck threads.
#
#   - UDP load: dnsperf at up to QPS (default 50,000), 90% names of the domain and 10%
#     forwarded to a Knot upstream on loopback;
#   - TCP load: a second dnsperf over TCP at up to 1,000 qps on 4 connections;
#   - the master (examples/stream_master.rs, 10,000 tasks, operator API stream) moves a
#     task every 2 s, and exits every 55 s, coming back 5 s later (a flapping master:
#     the stream drops, the server backs off and subscribes again);
#   - HTTP: /metrics, /v1/config, /ready and /health scraped every second.
# Every 10 s: RSS, open descriptors and threads of the server. At the end the server gets
# SIGTERM and must exit 0.
# Reports: queries sent/lost (UDP, TCP), RSS and descriptor drift, thread count drift
# (threads are never restarted: a change means one died), subscriptions, warnings and
# errors logged, failed scrapes, exit status.
#
# Usage: perf/soak.sh [SECONDS (600)] [QPS (50000)]   Needs: dnsperf, knot, dig, curl,
# python3. Loopback only; every loop is bounded by SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
. perf/lib.sh
secs=${1:-600}
qps=${2:-50000}
tasks=10000
cargo build --release --quiet --bin mesos-dns --bin synth-state --example stream_master --example perf_inputs
work_dir

./target/release/synth-state "$tasks" 1 > "$dir/state.json"
./target/release/examples/perf_inputs "$dir/state.json" "$dir" > /dev/null
knot=$(free_port); port=$(free_port); http=$(free_port); mport=$(free_port)

# The upstream zone for forwarded names.
{
  echo '$ORIGIN example.test.'; echo '$TTL 30'
  echo '@ SOA ns.example.test. admin.example.test. 1 60 60 600 30'; echo '@ NS ns.example.test.'
  echo 'ns A 127.0.0.1'
  for i in $(seq 0 999); do echo "h$i A 10.$((i / 256 % 256)).$((i % 256)).1"; done
} > "$dir/example.zone"
knot_conf "$dir" "$knot" example.test "$dir/example.zone" > "$dir/knot.conf"
# 9 in-domain queries for each forwarded one.
python3 - "$dir" <<'PY'
import sys, itertools
d = sys.argv[1]
inside = open(f"{d}/queries.txt").read().split("\n")
inside = [q for q in inside if q][:9000]
with open(f"{d}/mix.txt", "w") as out:
    for i, q in enumerate(inside):
        out.write(q + "\n")
        if i % 9 == 8:
            out.write(f"h{(i // 9) % 1000}.example.test. A\n")
PY

cat > "$dir/server.json" <<JSON
{"masters":["127.0.0.1:$mport"],"StateAPI":"auto","listener":"127.0.0.1","port":$port,
 "httpListener":"127.0.0.1","httpPort":$http,"refreshSeconds":5,"UDPWorkers":1,
 "IPSources":["netinfo","docker","mesos","host"],"externalOn":true,"resolvers":["127.0.0.1:$knot"],
 "timeout":2}
JSON

knotd -c "$dir/knot.conf" & pids+=($!)
wait_ready "$knot" h1.example.test A

# The flapping master: up 55 s (a task moves every 2 s), down 5 s, for the whole run.
(
  end=$((SECONDS + secs))
  while (( SECONDS < end )); do
    touch "$dir/go"
    ./target/release/examples/stream_master "$tasks" "$mport" "$port" 0.5 55 "$dir/go" 1000000 50 >> "$dir/master.txt" 2>&1 || true
    sleep 5
  done
) & pids+=($!)
sleep 1
./target/release/mesos-dns -config "$dir/server.json" 2> "$dir/server.log" & server=$!; pids+=($server)
wait_ready "$port"
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/ready" > /dev/null && break; sleep 0.2; done

sample() { # → "rss_kb fds threads"
  echo "$(awk '$1 == "VmRSS:" {print $2}' /proc/$server/status) $(ls /proc/$server/fd | wc -l) $(awk '$1 == "Threads:" {print $2}' /proc/$server/status)"
}
start_sample=$(sample)
echo "$start_sample" > "$dir/samples.txt"
(
  end=$((SECONDS + secs))
  while (( SECONDS < end )); do sleep 10; sample >> "$dir/samples.txt" || true; done
) & pids+=($!)
(
  end=$((SECONDS + secs)); fails=0; scrapes=0
  while (( SECONDS < end )); do
    for path in /metrics /v1/config /ready /health; do
      scrapes=$((scrapes + 1))
      curl -sf -m 5 -o /dev/null "http://127.0.0.1:$http$path" || fails=$((fails + 1))
    done
    echo "$scrapes $fails" > "$dir/scrapes.txt"
    sleep 1
  done
) & pids+=($!); scraper=$!

dnsperf -s 127.0.0.1 -p "$port" -d "$dir/mix.txt" -l "$secs" -c 8 -q 1000 -Q "$qps" > "$dir/udp.txt" 2>&1 & udp=$!
dnsperf -m tcp -s 127.0.0.1 -p "$port" -d "$dir/mix.txt" -l "$secs" -c 4 -q 100 -Q 1000 > "$dir/tcp.txt" 2>&1 & tcp=$!
wait "$udp" "$tcp" || true
wait "$scraper" || true
end_sample=$(sample)
subscriptions=$(curl -s "http://127.0.0.1:$http/metrics" | awk '$1 ~ /^mesos_dns_(subscriptions_total|state_refresh_failures_total|upstream_failures_total|dropped_total)/ {print $1 "=" $2}' | tr '\n' ' ')
kill -TERM "$server"
stop_start=$(date +%s%N)
status=0; wait "$server" || status=$?
stop_ms=$(( ($(date +%s%N) - stop_start) / 1000000 ))

field() { grep -oP "$2:\s+\K[0-9.]+" "$1" | head -1; }
read -r rss0 fd0 th0 <<< "$start_sample"
read -r rss1 fd1 th1 <<< "$end_sample"
rss_max=$(awk '{ if ($1 > m) m = $1 } END { print m }' "$dir/samples.txt")
read -r scrapes fails < "$dir/scrapes.txt"
echo "soak: ${secs} s, offered up to ${qps} qps UDP + 1000 qps TCP, 10% forwarded"
echo
echo "| measure | value |"
echo "|---|---|"
echo "| UDP queries sent / completed / lost | $(field "$dir/udp.txt" 'Queries sent') / $(field "$dir/udp.txt" 'Queries completed') / $(field "$dir/udp.txt" 'Queries lost') |"
echo "| UDP qps achieved | $(field "$dir/udp.txt" 'Queries per second') |"
echo "| TCP queries sent / completed / lost | $(field "$dir/tcp.txt" 'Queries sent') / $(field "$dir/tcp.txt" 'Queries completed') / $(field "$dir/tcp.txt" 'Queries lost') |"
echo "| RSS start / end / max (MB) | $((rss0 / 1024)) / $((rss1 / 1024)) / $((rss_max / 1024)) |"
echo "| open descriptors start / end | $fd0 / $fd1 |"
echo "| threads start / end | $th0 / $th1 |"
echo "| master restarts (stream_master runs) | $(grep -c '^events=' "$dir/master.txt" || true) |"
echo "| counters at the end | ${subscriptions:-none} |"
echo "| warnings / errors logged | $(grep -c ' WARN ' "$dir/server.log" || true) / $(grep -c ' ERROR ' "$dir/server.log" || true) |"
echo "| HTTP scrapes / failed | $scrapes / $fails |"
echo "| SIGTERM → exit (ms), status | $stop_ms, $status |"
echo
echo "warnings by kind:"
grep ' WARN ' "$dir/server.log" | sed -E 's/^.* WARN [a-z_:]+: //; s/[0-9]+(\.[0-9]+)?/N/g' | sort | uniq -c | sort -rn | head -8
