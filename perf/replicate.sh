#!/usr/bin/env bash
# Replication by zone transfer: one primary (this server) follows a test master's
# operator API stream for a synthetic cluster and feeds OURS of our own secondaries
# (secondary mode, `Primaries`) and KNOTS Knot secondaries by AXFR, then NOTIFY + IXFR.
# Measures, side by side in one run:
#   - the initial AXFR into each secondary (seconds, messages, bytes: from our
#     secondaries' logs and Knot's), beside Knot → Knot for the same zone (one more Knot,
#     secondary of the first Knot);
#   - event → answer on every secondary: the master moves one task a second for EVENTS
#     seconds; the prober asks each secondary until all answer the new address
#     (examples/stream_master.rs with a list of ports: the slowest secondary counts);
#   - bytes per change per secondary (IXFR: our secondaries' metrics, Knot's log), the
#     primary's CPU per change per secondary, and our secondaries' CPU and memory;
#   - the master's load in both deployments, worked out for 5,000 agents from the
#     measured document and stream sizes.
# Usage: perf/replicate.sh [TASKS (100000)] [OURS (40)] [KNOTS (1)] [EVENTS (100)]
# BIN=path/to/mesos-dns measures another build the same way.
# Needs: knot (knotd), dig, curl, python3. Loopback only; bounded by EVENTS and timeouts.
set -euo pipefail
cd "$(dirname "$0")/.."
. perf/lib.sh
tasks=${1:-100000}
ours=${2:-40}
knots=${3:-1}
events=${4:-100}
cargo build --release --quiet --bin mesos-dns --example stream_master
work_dir
bin=${BIN:-./target/release/mesos-dns}

mport=$(free_port); port=$(free_port); http=$(free_port)
knot_ports=(); for _ in $(seq "$knots"); do knot_ports+=("$(free_port)"); done
our_ports=(); our_http=(); for _ in $(seq "$ours"); do our_ports+=("$(free_port)"); our_http+=("$(free_port)"); done
chain_port=$(free_port)
all_ports=("${our_ports[@]}" "${knot_ports[@]}")
list=$(IFS=,; echo "${all_ports[*]}")
notify=$(printf '"127.0.0.1:%s",' "${all_ports[@]}"); notify="[${notify%,}]"

rm -f "$dir/go"
./target/release/examples/stream_master "$tasks" "$mport" "$list" 1 "$events" "$dir/go" 1 2 > "$dir/master.txt" &
pids+=($!); master_pid=$!
cat > "$dir/primary.json" <<JSON
{"masters":["127.0.0.1:$mport"],"StateAPI":"subscribe","listener":"127.0.0.1","port":$port,
 "httpListener":"127.0.0.1","httpPort":$http,"UDPWorkers":1,"externalOn":false,
 "IPSources":["netinfo","docker","mesos","host"],"NotifySecondaries":$notify}
JSON
"$bin" -config "$dir/primary.json" 2> "$dir/primary.log" & pids+=($!); primary=$!
wait_ready "$port" leader.mesos A >/dev/null
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$http/ready" >/dev/null && break; sleep 0.5; done

knot() { # NAME PORT PRIMARY_PORT
  local d="$dir/$1"; mkdir -p "$d"
  cat > "$d/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$2
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    rundir: $d
database:
    storage: $d
log:
  - target: $d/knot.log
    any: info
remote:
  - id: primary
    address: 127.0.0.1@$3
acl:
  - id: local
    address: 127.0.0.0/8
    action: [transfer, notify]
zone:
  - domain: mesos
    master: primary
    acl: local
    storage: $d
    zonefile-sync: -1
    journal-content: none
CONF
  knotd -c "$d/knot.conf" 2>/dev/null & pids+=($!)
}

axfr_done() { # NAME → "seconds messages bytes" of its first incoming AXFR, once finished
  grep -m1 'AXFR, incoming.*finished' "$dir/$1/knot.log" 2>/dev/null \
    | sed -E 's/.*finished, ([0-9.]+) seconds, ([0-9]+) messages, ([0-9]+) bytes.*/\1 \2 \3/'
}

wait_axfr() { # NAME
  for _ in $(seq 1200); do
    [ -n "$(axfr_done "$1")" ] && return 0
    sleep 0.25
  done
  echo "$1: no AXFR after 300 s; its log:" >&2; tail -5 "$dir/$1/knot.log" >&2; return 1
}

# Our secondaries: -v 1 logs each whole transfer's time, messages and bytes.
our_pids=()
for i in $(seq "$ours"); do
  cat > "$dir/o$i.json" <<JSON
{"Primaries":["127.0.0.1:$port"],"listener":"127.0.0.1","port":${our_ports[$((i - 1))]},
 "httpListener":"127.0.0.1","httpPort":${our_http[$((i - 1))]},"UDPWorkers":1,"externalOn":false}
JSON
  "$bin" -config "$dir/o$i.json" -v 1 2> "$dir/o$i.log" & pids+=($!); our_pids+=($!)
done
for i in $(seq "$knots"); do knot "s$i" "${knot_ports[$((i - 1))]}" "$port"; done
for i in $(seq "$ours"); do
  for _ in $(seq 1200); do grep -q 'zone transferred whole' "$dir/o$i.log" && break; sleep 0.25; done
  grep -q 'zone transferred whole' "$dir/o$i.log" || { echo "o$i: no AXFR after 300 s" >&2; tail -5 "$dir/o$i.log" >&2; exit 1; }
done
for i in $(seq "$knots"); do wait_axfr "s$i"; done
# Knot → Knot: a Knot secondary of the first. Knot cannot send an RRset larger than one
# message (`slave.<domain>` at 5,000 agents): then this comparison is reported as failed.
if [ "$knots" -gt 0 ]; then
  knot chain "$chain_port" "${knot_ports[0]}"
  for _ in $(seq 240); do
    [ -n "$(axfr_done chain)" ] && break
    grep -q 'AXFR, outgoing.*failed' "$dir/s1/knot.log" && break
    sleep 0.25
  done
fi

# The process's CPU (all threads, exited ones too), in ns.
proc_cpu_ns() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1e9 / hz }' /proc/"$1"/stat
}
# Memory after the initial transfers (kB).
rss_kb() { awk '/VmRSS/ { print $2 }' /proc/"$1"/status; }
our_rss=$(for p in "${our_pids[@]}"; do rss_kb "$p"; done | tr '\n' ' ')
knot_rss=$({ pgrep -f "knotd -c $dir/s" || true; } | while read -r p; do rss_kb "$p"; done | tr '\n' ' ')
cpu0=$(proc_cpu_ns "$primary")
ours_cpu0=0; for p in "${our_pids[@]}"; do ours_cpu0=$((ours_cpu0 + $(proc_cpu_ns "$p"))); done
touch "$dir/go"
# The document as /master/state would serve it, for the worked load below.
state_bytes=$(curl -s "http://127.0.0.1:$mport/master/state" | wc -c)
wait "$master_pid" || true
cpu1=$(proc_cpu_ns "$primary")
ours_cpu1=0; for p in "${our_pids[@]}"; do ours_cpu1=$((ours_cpu1 + $(proc_cpu_ns "$p"))); done
sleep 2
# Our secondaries' IXFR bytes and count.
our_ixfr_bytes=0; our_ixfrs=0; our_fallbacks=0
for h in "${our_http[@]}"; do
  m=$(curl -s "http://127.0.0.1:$h/metrics")
  our_ixfr_bytes=$((our_ixfr_bytes + $(echo "$m" | awk '/^mesos_dns_transfer_received_bytes_total\{kind="ixfr"\}/ { print $2 }')))
  our_ixfrs=$((our_ixfrs + $(echo "$m" | awk '/^mesos_dns_transfers_total\{role="secondary",kind="ixfr",result="incremental"\}/ { print $2 }')))
  our_fallbacks=$((our_fallbacks + $(echo "$m" | awk '/^mesos_dns_transfers_total\{role="secondary",kind="axfr",result="full"\}/ { print $2 }') - 1))
done

python3 - "$dir" "$ours" "$knots" "$events" "$cpu0" "$cpu1" "$state_bytes" "$ours_cpu0" "$ours_cpu1" \
  "$our_ixfr_bytes" "$our_ixfrs" "$our_fallbacks" "$our_rss" "$knot_rss" <<'PY'
import re, statistics, sys
(d, ours, knots, events, cpu0, cpu1, state, ocpu0, ocpu1, oixb, oixn, ofall) = (
    sys.argv[1], *map(int, sys.argv[2:13]))
our_rss = [int(x) for x in sys.argv[13].split()]
knot_rss = [int(x) for x in sys.argv[14].split()]
def knot_axfr(name):
    for line in open(f"{d}/{name}/knot.log"):
        m = re.search(r"AXFR, incoming.*finished, ([0-9.]+) seconds, ([0-9]+) messages, ([0-9]+) bytes", line)
        if m:
            return float(m[1]), int(m[2]), int(m[3])
def our_axfr(i):
    for line in open(f"{d}/o{i}.log"):
        if "zone transferred whole" in line:
            f = dict(re.findall(r"(\w+)=(\d+)", line))
            return int(f["transfer_ms"]) / 1e3, int(f["messages"]), int(f["transfer_bytes"])
our = [our_axfr(i) for i in range(1, ours + 1)]
kn = [knot_axfr(f"s{i}") for i in range(1, knots + 1)]
chain = knot_axfr("chain") if knots else None
chain_error = next((l.split("] ", 1)[-1].strip() for l in open(f"{d}/s1/knot.log") if "AXFR, outgoing" in l and "failed" in l), None) if knots else None
kixb, kixn, kfall = 0, 0, 0
for i in range(1, knots + 1):
    for line in open(f"{d}/s{i}/knot.log"):
        m = re.search(r"IXFR, incoming.*finished, [0-9.]+ seconds, [0-9]+ messages, ([0-9]+) bytes", line)
        if m:
            kixb += int(m[1]); kixn += 1
        if "fallback" in line.lower():
            kfall += 1
master = dict(kv.split("=") for kv in open(f"{d}/master.txt").read().split())
n = ours + knots
med = lambda xs: statistics.median(xs) if xs else float("nan")
print("| measure | value |")
print("|---|---|")
if our:
    print(f"| initial AXFR, ours → our {ours} secondaries (all at once): seconds median / max, messages, MB | {med([o[0] for o in our]):.2f} / {max(o[0] for o in our):.2f}, {our[0][1]}, {our[0][2]/1e6:.1f} |")
if kn:
    print(f"| initial AXFR, ours → Knot (with the above): seconds median, messages, MB | {med([k[0] for k in kn]):.2f}, {kn[0][1]}, {kn[0][2]/1e6:.1f} |")
if chain:
    print(f"| initial AXFR, Knot → Knot, same zone: seconds, messages, MB | {chain[0]:.2f}, {chain[1]}, {chain[2]/1e6:.1f} |")
elif knots:
    print(f"| initial AXFR, Knot → Knot, same zone | failed: {chain_error} |")
print(f"| event → answer on every one of {n} secondaries, p50 / p99 / max (ms) | {float(master['p50_ms']):.1f} / {float(master['p99_ms']):.1f} / {float(master['max_ms']):.1f} ({master['probes']} events, {master['timeouts']} timeouts) |")
print(f"| IXFRs taken / AXFR fallbacks: ours; Knot | {oixn} / {ofall}; {kixn} / {kfall} |")
print(f"| bytes per change per secondary (IXFR): ours; Knot | {oixb / max(oixn, 1):.0f}; {kixb / max(kixn, 1):.0f} |")
print(f"| primary CPU per change per secondary | {(cpu1 - cpu0) / 1e3 / max(events * n, 1):.0f} µs |")
if ours:
    print(f"| our secondary's CPU per change (applying the IXFR) | {(ocpu1 - ocpu0) / 1e3 / max(events * ours, 1):.0f} µs |")
    print(f"| memory after the initial AXFR: our secondary (median RSS); Knot | {med(our_rss)/1e3:.0f} MB; {med(knot_rss)/1e3 if knot_rss else float('nan'):.0f} MB |")
stream = (int(master["stream_bytes"]) - int(master["subscribed_bytes"])) / max(int(master["events"]), 1)
print()
print(f"Master's load for 5,000 agents (document {state/1e6:.0f} MB as measured here; {stream:.0f} B of stream per event):")
print()
print("| deployment | master serves |")
print("|---|---|")
if state:
    print(f"| every agent polls /master/state every 60 s | {5000 * state / 1e9 * 60:.0f} GB/hour, 83 requests/s of {state/1e6:.0f} MB |")
print(f"| every agent subscribes | 5,000 subscriptions (the operator API allows 1,000 by default); {5000 * stream / 1e3:.0f} KB per event |")
print(f"| 3 primaries subscribe, agents run secondaries | 3 subscriptions; {3 * stream / 1e3:.1f} KB per event; the agents' traffic is IXFR from the primaries |")
PY
