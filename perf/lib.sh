# Helpers shared by the perf scripts (sourced, not run).

# A scratch directory in $dir, and $pids of background processes, both cleaned up on exit.
work_dir() {
  dir=$(mktemp -d)
  pids=()
  trap 'for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
}

# server_config NAME PORT REFRESH: writes $dir/NAME.json, a server that reads
# $dir/NAME-state.json every REFRESH seconds and answers on 127.0.0.1:PORT with one UDP
# worker, no HTTP and no forwarding.
server_config() {
  cat > "$dir/$1.json" <<JSON
{"StateFile":"$1-state.json","listener":"127.0.0.1","port":$2,"externalon":false,"httpon":false,
 "refreshSeconds":$3,"UDPWorkers":1,"IPSources":["netinfo","docker","mesos","host"],"masters":["10.255.0.1:5050"]}
JSON
}

# A port on 127.0.0.1 free for both UDP and TCP (a server listens on both; a port free
# for UDP may be a TCP connection's own).
free_port() {
  python3 -c '
import socket
for _ in range(100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break
'
}

# CPU time of every thread of a process, in ns.
cpu_ns() {
  local total=0
  for f in /proc/"$1"/task/*/schedstat; do total=$((total + $(cut -d' ' -f1 "$f"))); done
  echo "$total"
}

# CPU time of a process in ns, counting threads that ended too (utime + stime, which
# keep their time; in clock ticks, so 10 ms at a time): for a process whose threads
# come and go (a subscription's reader ends with its stream).
process_cpu_ns() {
  awk -v tick="$(getconf CLK_TCK)" '{ printf "%.0f\n", ($14 + $15) * 1e9 / tick }' /proc/"$1"/stat
}

# Waits until the server on port $1 answers $2 (default: mesos SOA) with NOERROR.
wait_ready() {
  for _ in $(seq 600); do
    if dig @127.0.0.1 -p "$1" +tries=1 +time=1 "${2:-mesos}" "${3:-SOA}" 2>/dev/null | grep -q 'status: NOERROR'; then
      return 0
    fi
    sleep 0.2
  done
  echo "server on port $1 did not come up" >&2
  return 1
}

# A knotd configuration: knot_conf DIR PORT ZONE ZONEFILE
knot_conf() {
  mkdir -p "$1/knot"
  cat <<CONF
server:
    listen: 127.0.0.1@$2
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    rundir: $1/knot
database:
    storage: $1/knot
log:
  - target: stderr
    any: error
zone:
  - domain: $3
    file: $4
    storage: $1/knot
CONF
}

# dnsperf -v output in $1 → "p50 X p99 Y p999 Z" (ms).
latency_of() {
  python3 "$(dirname "${BASH_SOURCE[0]}")/latency.py" < "$1" | sed 's/answered=[0-9]* //; s/_ms=/ /g'
}

# Answers received in dnsperf -v output $1.
answered_in() {
  grep -c '^> ' "$1"
}

# CPU µs per answer: cpu_per_answer NS_BEFORE NS_AFTER ANSWERS
cpu_per_answer() {
  python3 -c "print(f'{($2-$1)/1000/max($3,1):.2f}')"
}

# Renames the first task of the state file $1 to $2 (its DiscoveryInfo name too, which
# names it when present), written aside and then moved in.
rename_first_task() {
  python3 - "$1" "$2" <<'PY'
import re, sys, os
path, new = sys.argv[1], sys.argv[2].encode()
doc = open(path, "rb").read()
start = doc.index(b'"tasks":[{')
end = doc.index(b'},{"id":"', start)
task = doc[start:end]
task = re.sub(rb'"name":"[^"]*"', b'"name":"' + new + b'"', task, count=1)
task = re.sub(rb'("discovery":\{"visibility":"[A-Z]*","name":")[^"]*"', rb'\g<1>' + new + b'"', task, count=1)
open(path + ".new", "wb").write(doc[:start] + task + doc[end:])
os.replace(path + ".new", path)
PY
}

# Milliseconds since the epoch.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Stops process $1: SIGTERM, then SIGKILL if it is still there after 30 s.
stop() { kill "$1" 2>/dev/null || true; for _ in $(seq 300); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -9 "$1" 2>/dev/null || true; }

# subscribed_to_answer LOG ANSWERED_MS: ms from the first octets of `SUBSCRIBED` to the
# first answer (Unix ms): the server's "subscribed" log line (-v 1) is written once the
# record is decoded, so the record began at its time (RFC 3339, UTC) less its decode time.
subscribed_to_answer() {
  python3 - "$1" "$2" <<'PY'
import datetime, re, sys
for line in open(sys.argv[1]):
    if "subscribed to the operator API" in line:
        at = datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp() * 1000
        decode = int(re.search(r"decode_ms=(\d+)", line)[1])
        print(round(int(sys.argv[2]) - (at - decode)))
        break
PY
}

# subscribed_config FILE MASTER_PORT PORT: a server that follows the operator API of the
# test master on 127.0.0.1:MASTER_PORT and answers on 127.0.0.1:PORT with one UDP
# worker, no HTTP and no forwarding.
subscribed_config() {
  cat > "$1" <<JSON
{"masters":["127.0.0.1:$2"],"StateAPI":"subscribe","listener":"127.0.0.1","port":$3,
 "externalon":false,"httpon":false,"UDPWorkers":1,"IPSources":["netinfo","docker","mesos","host"]}
JSON
}
