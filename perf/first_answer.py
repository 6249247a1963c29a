#!/usr/bin/env python3
"""Waits until a DNS server answers NAME (type A) with at least one record, and prints the
milliseconds since START_MS (Unix time in ms). One process and one socket ask every 5 ms,
so waiting costs the machine next to nothing (a `dig` started every 5 ms took a good part
of a core from the server being timed).
Usage: first_answer.py PORT NAME START_MS [TIMEOUT_SECONDS (120)]. Asks 127.0.0.1 only."""
import os
import socket
import struct
import sys
import time

port, name, start_ms = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0
qname = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.connect(("127.0.0.1", port))
sock.settimeout(0.005)
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    qid = struct.unpack("!H", os.urandom(2))[0]
    try:
        sock.send(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1))
        while True:
            reply = sock.recv(4096)
            rid, flags, _, ancount = struct.unpack("!HHHH", reply[:8])
            if rid == qid:
                break
        if flags & 0xF == 0 and ancount > 0:
            print(int(time.time() * 1000) - start_ms)
            sys.exit(0)
    except (OSError, struct.error):  # refused, no reply within 5 ms, or a short reply
        pass
    # Every attempt, answered or not, waits 5 ms: a refused query returns at once, and
    # asking again at once would spin a core beside the server being timed.
    time.sleep(0.005)
print(f"port {port} never answered {name}", file=sys.stderr)
sys.exit(1)
