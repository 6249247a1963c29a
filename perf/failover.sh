#!/usr/bin/env bash
# One replicated zone under failure, in one run: a test master (examples/stream_master.rs)
# streams a synthetic cluster of TASKS tasks to three primaries that elect a leader
# through a real ZooKeeper (`LeaderElection`, session `TIMEOUT` s); OURS of our
# secondaries (each with `DataDirectory`, listing all three primaries) and one Knot
# secondary (all three as masters) follow them. The master moves one task a second.
# Measures:
#   - leader `kill -9` → event → answer on every secondary: the latency (slowest
#     secondary) of each change made from the kill until TIMEOUT + 10 s after it, p50 /
#     p99 / max, beside the target TIMEOUT + 1 s;
#   - bytes each of our secondaries received from the kill to the end of the events, and
#     whether any secondary (ours or Knot) took a whole transfer;
#   - a standby's CPU per change, before the kill (the leader's IXFRs applied);
#   - every one of our secondaries killed (`kill -9`) and restarted at once, 15 s before
#     the events end: time to its first answer (from disk) and to the serial the leader
#     served when they were restarted.
# Usage: perf/failover.sh [TASKS (100000)] [OURS (20)] [TIMEOUT (10)]
# Needs: zookeeper (Debian's package, with java), knot (knotd), dig, curl, python3.
# Loopback only; bounded by the events' count and timeouts.
set -euo pipefail
cd "$(dirname "$0")/.."
. perf/lib.sh
tasks=${1:-100000}
ours=${2:-20}
timeout=${3:-10}
kill_at=15
restart_at=55
events=75
cargo build --release --quiet --bin mesos-dns --example stream_master
work_dir

# ZooKeeper, as the tests run it (Debian's jars).
zk_port=$(free_port)
cp=$(ls /usr/share/java/{zookeeper-3,zookeeper-jute-3,slf4j-api,netty-,commons-cli,commons-io,log4j-1.2-,metrics-core-,snappy-java}*.jar 2>/dev/null | tr '\n' ':')
java -Xmx256m -Dzookeeper.admin.enableServer=false -cp "$cp" org.apache.zookeeper.server.ZooKeeperServerMain \
  "$zk_port" "$dir/zk" 2000 > "$dir/zk.log" 2>&1 & pids+=($!)
for _ in $(seq 300); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $zk_port), 1)" 2>/dev/null && break
  sleep 0.2
done

mport=$(free_port)
p_ports=(); p_http=(); for _ in 1 2 3; do p_ports+=("$(free_port)"); p_http+=("$(free_port)"); done
o_ports=(); o_http=(); for _ in $(seq "$ours"); do o_ports+=("$(free_port)"); o_http+=("$(free_port)"); done
knot_port=$(free_port)
secondaries=("${o_ports[@]}" "$knot_port")
list=$(IFS=,; echo "${secondaries[*]}")
notify=$(printf '"127.0.0.1:%s",' "${secondaries[@]}"); notify="[${notify%,}]"
primaries=$(printf '"127.0.0.1:%s",' "${p_ports[@]}"); primaries="[${primaries%,}]"

rm -f "$dir/go"
EVENTS_FILE="$dir/events.txt" ./target/release/examples/stream_master "$tasks" "$mport" "$list" 1 "$events" "$dir/go" 1 20 \
  > "$dir/master.txt" & pids+=($!); master_pid=$!

p_pids=()
for i in 0 1 2; do
  cat > "$dir/p$i.json" <<JSON
{"masters":["127.0.0.1:$mport"],"StateAPI":"subscribe","listener":"127.0.0.1","port":${p_ports[$i]},
 "httpListener":"127.0.0.1","httpPort":${p_http[$i]},"UDPWorkers":1,"externalOn":false,
 "IPSources":["netinfo","docker","mesos","host"],"NotifySecondaries":$notify,
 "LeaderElection":"zk://127.0.0.1:$zk_port/mesos-dns","LeaderElectionTimeout":$timeout,
 "DataDirectory":"$dir/p$i-data"}
JSON
  ./target/release/mesos-dns -config "$dir/p$i.json" -v 1 2> "$dir/p$i.log" & pids+=($!); p_pids+=($!)
  sleep 0.5
done
# Whether primary $1 says it leads (the metrics read whole first: grep -q would cut the
# pipe short, which pipefail counts as a failure).
leads() {
  local m; m=$(curl -s "http://127.0.0.1:${p_http[$1]}/metrics" || true)
  grep -q '^mesos_dns_leader 1' <<< "$m"
}
leader=""
for _ in $(seq 600); do
  for i in 0 1 2; do
    if leads "$i"; then leader=$i; fi
  done
  [ -n "$leader" ] && break
  sleep 0.5
done
[ -n "$leader" ] || { echo "no leader elected" >&2; exit 1; }
wait_ready "${p_ports[$leader]}" leader.mesos A >/dev/null
serial_of() { dig +short @127.0.0.1 -p "$1" +tries=1 +time=2 mesos SOA 2>/dev/null | awk '{print $3}'; }
# Every primary serves the leader's serial (the standbys' first transfer).
for _ in $(seq 1200); do
  s=$(serial_of "${p_ports[$leader]}")
  ok=1; for i in 0 1 2; do [ "$(serial_of "${p_ports[$i]}")" = "$s" ] || ok=0; done
  [ "$ok" = 1 ] && break
  sleep 0.5
done

o_pids=()
start_ours() {
  for i in $(seq 0 $((ours - 1))); do
    ./target/release/mesos-dns -config "$dir/o$i.json" -v 1 2>> "$dir/o$i.log" & pids+=($!); o_pids[i]=$!
  done
}
for i in $(seq 0 $((ours - 1))); do
  cat > "$dir/o$i.json" <<JSON
{"Primaries":$primaries,"listener":"127.0.0.1","port":${o_ports[$i]},"httpListener":"127.0.0.1",
 "httpPort":${o_http[$i]},"UDPWorkers":1,"externalOn":false,"DataDirectory":"$dir/o$i-data"}
JSON
done
start_ours
mkdir -p "$dir/knot"
masters=""; remotes=""
for i in 0 1 2; do
  remotes+="  - id: p$i
    address: 127.0.0.1@${p_ports[$i]}
"
  masters+="p$i, "
done
cat > "$dir/knot/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$knot_port
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    rundir: $dir/knot
database:
    storage: $dir/knot
log:
  - target: $dir/knot/knot.log
    any: info
remote:
$remotes
acl:
  - id: local
    address: 127.0.0.0/8
    action: [transfer, notify]
zone:
  - domain: mesos
    master: [${masters%, }]
    acl: local
    storage: $dir/knot
    zonefile-sync: -1
    journal-content: none
CONF
knotd -c "$dir/knot/knot.conf" 2>/dev/null & pids+=($!)
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
for i in $(seq 0 $((ours - 1))); do
  for _ in $(seq 2400); do
    k=$(metric "${o_http[$i]}" mesos_dns_zone_kept_serial || true)
    [ -n "$k" ] && [ "${k%.*}" != 0 ] && break
    sleep 0.25
  done
done
for _ in $(seq 1200); do grep -q 'AXFR, incoming.*finished' "$dir/knot/knot.log" && break; sleep 0.25; done

received() { # our secondary's transfer bytes (AXFR + IXFR) and whole transfers
  local m; m=$(curl -s "http://127.0.0.1:$1/metrics")
  echo "$(echo "$m" | awk '/^mesos_dns_transfer_received_bytes_total/ { s += $2 } END { print s + 0 }') $(echo "$m" | awk '/^mesos_dns_transfers_total\{role="secondary",kind="axfr",result="full"\}/ { print $2 + 0 }')"
}
standby=$(( (leader + 1) % 3 ))
touch "$dir/go"
t0=$(date +%s.%N)
cpu0=$(cpu_ns "${p_pids[$standby]}")
sleep "$kill_at"
cpu1=$(cpu_ns "${p_pids[$standby]}")
before=(); for i in $(seq 0 $((ours - 1))); do before+=("$(received "${o_http[$i]}")"); done
knot_axfr_before=$(grep -c 'AXFR, incoming.*finished' "$dir/knot/knot.log" || true)
knot_ixfr_before=$(grep -c 'IXFR, incoming.*finished' "$dir/knot/knot.log" || true)
kill -9 "${p_pids[$leader]}"
t_kill=$(date +%s.%N)
after=()
sleep $((restart_at - kill_at - 1))
for i in $(seq 0 $((ours - 1))); do after+=("$(received "${o_http[$i]}")"); done
knot_axfr_after=$(grep -c 'AXFR, incoming.*finished' "$dir/knot/knot.log" || true)
knot_ixfr=$(( $(grep -c 'IXFR, incoming.*finished' "$dir/knot/knot.log" || true) - knot_ixfr_before ))
new_leader=""
for i in 0 1 2; do
  if [ "$i" != "$leader" ] && leads "$i"; then new_leader=$i; fi
done

# Every secondary killed and restarted at once.
target=$(serial_of "${p_ports[${new_leader:-$standby}]}")
for p in "${o_pids[@]}"; do kill -9 "$p"; done
sleep 0.2
t_restart=$(date +%s.%N)
start_ours
python3 - "$t_restart" "$target" "${o_ports[@]}" > "$dir/restart.txt" <<'PY'
import socket, struct, sys, time
start, target, ports = float(sys.argv[1]), int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
def query(name, qtype, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)
def newer_or_same(a, b):
    return a == b or (a - b) % (1 << 32) < (1 << 31)
first, current = {}, {}
socks = {}
for p in ports:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setblocking(False); s.connect(("127.0.0.1", p)); socks[p] = s
deadline = time.time() + 180
while time.time() < deadline and len(current) < len(ports):
    for p, s in socks.items():
        if p in current:
            continue
        try:
            s.send(query("leader.mesos", 1, 1) if p not in first else query("mesos", 6, 2))
        except OSError:
            pass
    time.sleep(0.02)
    for p, s in socks.items():
        while True:
            try:
                r = s.recv(4096)
            except OSError:
                break
            qid, flags, _, an = struct.unpack(">HHHH", r[:8])
            if flags & 0xF or an == 0:
                continue
            now = time.time() - start
            if qid == 1 and p not in first:
                first[p] = now
            elif qid == 2:
                # SOA serial: the answer's RDATA ends with serial, refresh, retry, expire, minimum.
                serial = struct.unpack(">I", r[-20:-16])[0]
                if newer_or_same(serial, target):
                    current[p] = now
firsts = sorted(first.values()); currents = sorted(current.values())
pick = lambda xs, q: xs[min(len(xs) - 1, int(q * (len(xs) - 1)))] if xs else float("nan")
print(f"first_p50={pick(firsts, .5):.2f} first_max={pick(firsts, 1):.2f} current_p50={pick(currents, .5):.2f} current_max={pick(currents, 1):.2f} answered={len(firsts)} current={len(currents)} of={len(ports)}")
PY
wait "$master_pid" || true
# What the new leader spent its takeover on (its log from the election on).
if [ -n "$new_leader" ]; then
  sed -n '/elected leader: following Mesos/,$p' "$dir/p$new_leader.log" \
    | grep -E 'elected leader: following Mesos|subscribed to the operator API|published new snapshot' | head -3 \
    | sed -E 's/^([^ ]+) +[A-Z]+ +[^ ]+ /\1 /' > "$dir/takeover.txt" || true
fi

python3 - "$dir" "$ours" "$timeout" "$t0" "$t_kill" "$cpu0" "$cpu1" "$kill_at" "$knot_axfr_before" "$knot_axfr_after" "$knot_ixfr" "${new_leader:-none}" \
  "${before[*]}" "${after[*]}" <<'PY'
import statistics, sys
d, ours, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0, t_kill, cpu0, cpu1, kill_at = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
kb0, kb1, kixfr, new_leader = int(sys.argv[9]), int(sys.argv[10]), int(sys.argv[11]), sys.argv[12]
before = [int(x) for x in sys.argv[13].split()]
after = [int(x) for x in sys.argv[14].split()]
kill = t_kill - t0
window = []
for line in open(f"{d}/events.txt"):
    sent, lat = line.split()
    if kill <= float(sent) <= kill + timeout + 10:
        window.append(float("inf") if lat == "none" else float(lat))
window.sort()
pick = lambda xs, q: xs[min(len(xs) - 1, int(q * (len(xs) - 1)))] if xs else float("nan")
bytes_per = [after[2 * i] - before[2 * i] for i in range(ours)]
axfrs = sum(after[2 * i + 1] - before[2 * i + 1] for i in range(ours))
restart = dict(kv.split("=") for kv in open(f"{d}/restart.txt").read().split())
master = dict(kv.split("=") for kv in open(f"{d}/master.txt").read().split())
print("| measure | value | target |")
print("|---|---|---|")
print(f"| leader `kill -9` → event → answer on every secondary ({ours} ours + Knot), events sent in the {timeout + 10} s after the kill: p50 / p99 / max | {pick(window, .5)/1e3:.2f} / {pick(window, .99)/1e3:.2f} / {pick(window, 1)/1e3:.2f} s ({len(window)} events) | p99 ≤ {timeout + 1} s |")
print(f"| new leader elected | primary {new_leader} | one |")
print(f"| bytes per secondary from the kill to the restart (our {ours}): median / max | {statistics.median(bytes_per)/1e3:.1f} / {max(bytes_per)/1e3:.1f} KB | ≤ 64 KB |")
print(f"| whole transfers during the failover: ours; Knot | {axfrs}; {kb1 - kb0} (Knot IXFRs: {kixfr}) | 0 |")
print(f"| a standby's CPU per change (before the kill, 1 change/s; everything it does in that second: the IXFR applied and kept, NOTIFYs, the transfers secondaries ask of it) | {(cpu1 - cpu0) / 1e3 / kill_at:.0f} µs | — |")
print(f"| all {ours} secondaries restarted at once: first answer (from disk) p50 / max | {float(restart['first_p50']):.2f} / {float(restart['first_max']):.2f} s ({restart['answered']} of {restart['of']}) | ≤ 1 s each |")
print(f"| … current again (the leader's serial at the restart) p50 / max | {float(restart['current_p50']):.2f} / {float(restart['current_max']):.2f} s ({restart['current']} of {restart['of']}) | ≤ 5 s |")
print(f"| all events: p50 / p99 / max (ms), timeouts | {master['p50_ms']} / {master['p99_ms']} / {master['max_ms']}, {master['timeouts']} of {master['probes']} |  |")
print()
import datetime
print(f"The kill at +{kill:.1f} s ({datetime.datetime.fromtimestamp(t_kill, datetime.timezone.utc).strftime('%H:%M:%S.%f')[:-3]} UTC); the new leader's log:")
print()
for line in open(f"{d}/takeover.txt"):
    print("    " + line.rstrip())
PY
