#!/usr/bin/env python3
"""One poll's memory, seen from outside: reads the server's resident memory, sends it
SIGUSR1 (poll now), then reads VmRSS every 10 ms while asking for NAME (type A) every
50 ms, until 1 s after NAME is answered (at most TIMEOUT seconds). Prints
`before_mb peak_mb after_mb answered_ms`: resident before the poll, the highest resident
sampled, resident at the end, and the time from the signal to the answer.
With HOLD_S set, sampling goes on until HOLD_S seconds after the signal instead (for a
signal whose work does not change NAME's answer, such as a new subscription).
Usage: poll_peak.py PID PORT NAME [TIMEOUT_SECONDS (60)]. Asks 127.0.0.1 only."""
import os
import signal
import socket
import struct
import sys
import time

pid, port, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
hold = float(os.environ.get("HOLD_S", "0"))


def rss_kb():
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


qname = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.connect(("127.0.0.1", port))
sock.setblocking(False)
before = peak = rss_kb()
started = time.monotonic()
os.kill(pid, signal.SIGUSR1)
answered = None
tick = 0
while time.monotonic() - started < timeout:
    peak = max(peak, rss_kb())
    if answered is None:
        try:
            while True:
                reply = sock.recv(4096)
                _, flags, _, ancount = struct.unpack("!HHHH", reply[:8])
                if flags & 0xF == 0 and ancount > 0:
                    answered = time.monotonic()
                    break
        except (BlockingIOError, ConnectionRefusedError, struct.error):
            pass
        if answered is None and tick % 5 == 0:
            qid = struct.unpack("!H", os.urandom(2))[0]
            try:
                sock.send(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1))
            except OSError:
                pass
    elif time.monotonic() - answered >= 1.0 and time.monotonic() - started >= hold:
        break
    tick += 1
    time.sleep(0.01)
if answered is None:
    print(f"port {port} never answered {name}", file=sys.stderr)
    sys.exit(1)
print(before // 1024, peak // 1024, rss_kb() // 1024, round((answered - started) * 1000))
