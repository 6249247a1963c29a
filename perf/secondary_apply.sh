#!/usr/bin/env bash
# A secondary's CPU per applied change: one primary (this server) follows a test
# master's operator API stream for a synthetic cluster and feeds one of our secondaries
# (AXFR, then NOTIFY + IXFR per change). The secondary's CPU (every thread, from
# schedstat, in ns) is read over SECONDS idle, then over SECONDS while the master moves
# RATE tasks a second; the idle CPU is taken off, and the rest divided by the IXFRs the
# secondary applied (and by the changes). Every 5th change is probed on the secondary,
# so the event → answer figures come from the same run.
# Per thread, the same split shows where the CPU goes. The primary's CPU (the process's,
# which keeps the time of threads that ended: its stream reader ends when the test
# master closes the stream) per event is read over the same windows, idle taken off:
# the event's cost end to end (the stream read and decoded, applied, published, the
# NOTIFY sent and the IXFR answered).
# Usage: perf/secondary_apply.sh [TASKS (100000)] [RATE (5)] [SECONDS (20)]
# BIN=path/to/mesos-dns measures another build (primary and secondary) the same way.
# KEEP_LOG=file keeps the secondary's log.
# Needs: dig, curl, python3. Loopback only; bounded by SECONDS and timeouts.
set -euo pipefail
cd "$(dirname "$0")/.."
. perf/lib.sh
tasks=${1:-100000}
rate=${2:-5}
secs=${3:-20}
cargo build --release --quiet --bin mesos-dns --example stream_master
work_dir
bin=${BIN:-./target/release/mesos-dns}

mport=$(free_port); port=$(free_port); http=$(free_port); sport=$(free_port); shttp=$(free_port)
rm -f "$dir/go"
./target/release/examples/stream_master "$tasks" "$mport" "$sport" "$rate" "$secs" "$dir/go" 5 2 > "$dir/master.txt" &
pids+=($!); master_pid=$!
cat > "$dir/primary.json" <<JSON
{"masters":["127.0.0.1:$mport"],"StateAPI":"subscribe","listener":"127.0.0.1","port":$port,
 "httpListener":"127.0.0.1","httpPort":$http,"UDPWorkers":1,"externalOn":false,
 "IPSources":["netinfo","docker","mesos","host"],"NotifySecondaries":["127.0.0.1:$sport"]}
JSON
"$bin" -config "$dir/primary.json" 2> "$dir/primary.log" & pids+=($!); primary=$!
wait_ready "$port" leader.mesos A >/dev/null
cat > "$dir/secondary.json" <<JSON
{"Primaries":["127.0.0.1:$port"],"listener":"127.0.0.1","port":$sport,
 "httpListener":"127.0.0.1","httpPort":$shttp,"UDPWorkers":1,"externalOn":false}
JSON
"$bin" -config "$dir/secondary.json" -v 1 2> "$dir/secondary.log" & pids+=($!); secondary=$!
for _ in $(seq 1200); do grep -q 'zone transferred whole' "$dir/secondary.log" && break; sleep 0.25; done
grep -q 'zone transferred whole' "$dir/secondary.log" || { echo "no AXFR after 300 s" >&2; tail -5 "$dir/secondary.log" >&2; exit 1; }
sleep 2 # the freed transfer buffers settle

# "thread-name ns" for every thread of process $1.
threads_cpu() {
  for t in /proc/"$1"/task/*; do
    echo "$(cat "$t/comm") $(cut -d' ' -f1 "$t/schedstat")"
  done
}
# The secondary's threads into $dir/NAME; the primary's threads, and its whole process
# as "process", into $dir/pNAME.
take_cpu() {
  threads_cpu "$secondary" > "$dir/$1"
  { threads_cpu "$primary"; echo "process $(process_cpu_ns "$primary")"; } > "$dir/p$1"
}
ixfrs() {
  curl -s "http://127.0.0.1:$shttp/metrics" \
    | awk '/^mesos_dns_transfers_total\{role="secondary",kind="ixfr",result="incremental"\}/ { print $2 }'
}
take_cpu idle0
sleep "$secs"
take_cpu idle1
ixfr0=$(ixfrs)
take_cpu busy0
touch "$dir/go"
wait "$master_pid" || true
take_cpu busy1
sleep 1
ixfr1=$(ixfrs)
[ -n "${KEEP_LOG:-}" ] && cp "$dir/secondary.log" "$KEEP_LOG"

python3 - "$dir" "$tasks" "$rate" "$secs" "$ixfr0" "$ixfr1" <<'PY'
import collections, sys
d, tasks, rate, secs, ix0, ix1 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), *map(int, sys.argv[5:7])
def read(name):
    cpu = collections.Counter()
    for line in open(f"{d}/{name}"):
        comm, ns = line.rsplit(" ", 1)
        cpu[comm] += int(ns)
    return cpu
idle = read("idle1"); idle.subtract(read("idle0"))
busy = read("busy1"); busy.subtract(read("busy0"))
master = dict(kv.split("=") for kv in open(f"{d}/master.txt").read().split())
changes, applied = int(master["events"]), ix1 - ix0
work = sum(busy.values()) - sum(idle.values())
print(f"{tasks} tasks, {rate:g} changes/s for {secs:g} s: {changes} changes, {applied} IXFRs applied")
print()
print("| thread | idle CPU (µs/s) | CPU while changing (µs/s) | per IXFR, idle taken off (µs) |")
print("|---|---|---|---|")
for comm in sorted(set(busy) | set(idle), key=lambda c: -(busy[c] - idle[c])):
    print(f"| {comm} | {idle[comm] / 1e3 / secs:.0f} | {busy[comm] / 1e3 / secs:.0f} | {(busy[comm] - idle[comm]) / 1e3 / max(applied, 1):.0f} |")
print(f"| **all** | {sum(idle.values()) / 1e3 / secs:.0f} | {sum(busy.values()) / 1e3 / secs:.0f} | **{work / 1e3 / max(applied, 1):.0f}** |")
print()
print(f"per change: {work / 1e3 / max(changes, 1):.0f} µs; event → answer on the secondary p50 / p99 / max: "
      f"{float(master['p50_ms']):.1f} / {float(master['p99_ms']):.1f} / {float(master['max_ms']):.1f} ms "
      f"({master['probes']} probed, {master['timeouts']} timeouts)")
pidle = read("pidle1"); pidle.subtract(read("pidle0"))
pbusy = read("pbusy1"); pbusy.subtract(read("pbusy0"))
pwork = pbusy.pop("process") - pidle.pop("process")
# Threads alive at both ends of each window (an ended thread's time is in the process's).
threads = sorted(set(pbusy) | set(pidle), key=lambda c: -(pbusy[c] - pidle[c]))
print(f"primary per event, the whole process, idle taken off: {pwork / 1e3 / max(changes, 1):.0f} µs (threads alive "
      "throughout: " + ", ".join(f"{c} {(pbusy[c] - pidle[c]) / 1e3 / max(changes, 1):.0f}" for c in threads
                if pbusy[c] - pidle[c] >= 1e3 * max(changes, 1)) + ")")
PY
