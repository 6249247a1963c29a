#!/usr/bin/env bash
# Replication by zone transfer: one primary (this server) follows a test master's
# operator API stream for a synthetic cluster and feeds SECONDARIES Knot secondaries by
# AXFR, then NOTIFY + IXFR. Measures, side by side in one run:
#   - the initial AXFR into each secondary (seconds, messages, bytes, from Knot's log),
#     beside Knot → Knot for the same zone (one more Knot, secondary of the first);
#   - event → answer on every secondary: the master moves one task a second for EVENTS
#     seconds; the prober asks each secondary until all answer the new address
#     (examples/stream_master.rs with a list of ports: the slowest secondary counts);
#   - bytes per change per secondary (IXFR, from Knot's log) and the primary's CPU per
#     change per secondary;
#   - the master's load in both deployments, worked out for 5,000 agents from the
#     measured document and stream sizes.
# Our own secondary mode is not there yet: the secondaries are Knot.
# Usage: perf/replicate.sh [TASKS (100000)] [SECONDARIES (8)] [EVENTS (100)]
# Needs: knot (knotd), dig, python3. Loopback only; bounded by EVENTS and timeouts.
set -euo pipefail
cd "$(dirname "$0")/.."
. perf/lib.sh
tasks=${1:-100000}
secondaries=${2:-8}
events=${3:-100}
cargo build --release --quiet --bin mesos-dns --example stream_master
work_dir

mport=$(free_port); port=$(free_port); http=$(free_port)
knot_ports=(); for _ in $(seq "$secondaries"); do knot_ports+=("$(free_port)"); done
chain_port=$(free_port)
list=$(IFS=,; echo "${knot_ports[*]}")
notify=$(printf '"127.0.0.1:%s",' "${knot_ports[@]}"); notify="[${notify%,}]"

rm -f "$dir/go"
./target/release/examples/stream_master "$tasks" "$mport" "$list" 1 "$events" "$dir/go" 1 2 > "$dir/master.txt" &
pids+=($!); master_pid=$!
cat > "$dir/primary.json" <<JSON
{"masters":["127.0.0.1:$mport"],"StateAPI":"subscribe","listener":"127.0.0.1","port":$port,
 "httpListener":"127.0.0.1","httpPort":$http,"UDPWorkers":1,"externalOn":false,
 "IPSources":["netinfo","docker","mesos","host"],"NotifySecondaries":$notify}
JSON
./target/release/mesos-dns -config "$dir/primary.json" 2> "$dir/primary.log" & pids+=($!); primary=$!
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

for i in $(seq "$secondaries"); do knot "s$i" "${knot_ports[$((i - 1))]}" "$port"; done
for i in $(seq "$secondaries"); do wait_axfr "s$i"; done
# Knot → Knot: a Knot secondary of the first. Knot cannot send an RRset larger than one
# message (`slave.<domain>` at 5,000 agents): then this comparison is reported as failed.
knot chain "$chain_port" "${knot_ports[0]}"
for _ in $(seq 240); do
  [ -n "$(axfr_done chain)" ] && break
  grep -q 'AXFR, outgoing.*failed' "$dir/s1/knot.log" && break
  sleep 0.25
done

# The process's CPU (all threads, exited ones too), in ns.
proc_cpu_ns() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1e9 / hz }' /proc/"$1"/stat
}
cpu0=$(proc_cpu_ns "$primary")
touch "$dir/go"
# The document as /master/state would serve it, for the worked load below.
state_bytes=$(curl -s "http://127.0.0.1:$mport/master/state" | wc -c)
wait "$master_pid" || true
cpu1=$(proc_cpu_ns "$primary")
sleep 2

python3 - "$dir" "$secondaries" "$events" "$cpu0" "$cpu1" "$state_bytes" <<'PY'
import glob, re, sys
d, n, events, cpu0, cpu1, state = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
def axfr(name):
    for line in open(f"{d}/{name}/knot.log"):
        m = re.search(r"AXFR, incoming.*finished, ([0-9.]+) seconds, ([0-9]+) messages, ([0-9]+) bytes", line)
        if m:
            return float(m[1]), int(m[2]), int(m[3])
ours = [axfr(f"s{i}") for i in range(1, n + 1)]
chain = axfr("chain")
chain_error = next((l.split("] ", 1)[-1].strip() for l in open(f"{d}/s1/knot.log") if "AXFR, outgoing" in l and "failed" in l), None)
ixfr_bytes, ixfrs, axfr_fallbacks = 0, 0, 0
for i in range(1, n + 1):
    for line in open(f"{d}/s{i}/knot.log"):
        m = re.search(r"IXFR, incoming.*finished, [0-9.]+ seconds, [0-9]+ messages, ([0-9]+) bytes", line)
        if m:
            ixfr_bytes += int(m[1]); ixfrs += 1
        if "fallback" in line.lower():
            axfr_fallbacks += 1
master = dict(kv.split("=") for kv in open(f"{d}/master.txt").read().split())
secs = sorted(o[0] for o in ours)
print(f"| measure | value |")
print(f"|---|---|")
print(f"| initial AXFR, ours → Knot: seconds (median of {n}), messages, MB | {secs[len(secs)//2]:.2f}, {ours[0][1]}, {ours[0][2]/1e6:.1f} |")
if chain:
    print(f"| initial AXFR, Knot → Knot, same zone: seconds, messages, MB | {chain[0]:.2f}, {chain[1]}, {chain[2]/1e6:.1f} |")
else:
    print(f"| initial AXFR, Knot → Knot, same zone | failed: {chain_error} |")
print(f"| event → answer on every one of {n} secondaries, p50 / p99 / max (ms) | {float(master['p50_ms']):.1f} / {float(master['p99_ms']):.1f} / {float(master['max_ms']):.1f} ({master['probes']} events, {master['timeouts']} timeouts) |")
print(f"| IXFRs taken / AXFR fallbacks | {ixfrs} / {axfr_fallbacks} |")
print(f"| bytes per change per secondary (IXFR) | {ixfr_bytes / max(ixfrs, 1):.0f} |")
print(f"| primary CPU per change per secondary | {(cpu1 - cpu0) / 1e3 / max(events * n, 1):.0f} µs |")
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
