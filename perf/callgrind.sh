#!/usr/bin/env bash
# Instructions per answer (parse + lookup + copy + patch), counted by callgrind: stable on
# a noisy machine. Counts only inside the loop of examples/answer_count that answers the
# same query N times, and divides by N. Usage: perf/callgrind.sh [N (default 20000)]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
cargo build --release --quiet --example answer_count
# OPTIONS-*: the same synthetic cluster with every answer option on (synth::options_config):
# an A answer beside a PTR answer and a DC/OS (autoip) answer.
for t in A SRV NXDOMAIN OPTIONS-A OPTIONS-PTR OPTIONS-DCOS; do
  total=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null '--toggle-collect=*measured_queries*' \
    ./target/release/examples/answer_count "$n" "$t" 2>&1 | grep -oP 'Collected : \K[0-9]+')
  echo "$t: $(( total / n )) instructions per answer"
done
