#!/usr/bin/env python3
"""Reads `dnsperf -v` output on stdin; prints latency percentiles in ms as key=value."""
import sys

lat = []
for line in sys.stdin:
    if line.startswith("> "):
        try:
            lat.append(float(line.rsplit(None, 1)[1]))
        except ValueError:
            pass
lat.sort()

def pct(p):
    if not lat:
        return float("nan")
    return lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))] * 1000.0

print(f"answered={len(lat)} p50_ms={pct(50):.3f} p99_ms={pct(99):.3f} p999_ms={pct(99.9):.3f}")
