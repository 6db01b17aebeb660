#!/usr/bin/env python3
"""faultclient.py - clients for test_faults.sh (stdlib only, loopback only).

  hold PORT N SECONDS          open N connections (sources 127.0.3.x ..),
                               never read, close all after SECONDS
  churn PORT N                 N connect-and-close at once (every other one
                               with a reset)
  halfopen PORT N SECONDS      N clients that send "EHLO par" (no line end):
                               a third never read and vanish with a reset
                               after SECONDS, a third shut down their
                               writing side and wait, a third close at once
  greet PORT SRC [220]         one session from SRC: read to the final
                               "220 ", send EHLO, read to the end; prints
                               "elapsed=S first=... last=..."; exit 0 if it
                               was greeted and ended with a 4xx line (with
                               "220": stop at the greeting, exit 0 if any)
  sessions PORT SECONDS CONC NET
                               CONC threads of short sessions for SECONDS
                               (connect, final 220, EHLO, close), each from
                               a new source 127.NET.x.y; prints the count
  dump N MS                    an mdb_load "bytevalue" input of N valid hit
                               records (keys 10.x.y.z/32, tar-pit contact at
                               MS) for the store's "hits" database
Every count and time is bounded by the arguments.
"""
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"


def source(net, i):
    return "127.%d.%d.%d" % (net, (i // 250) % 250, i % 250 + 1)


def dial(port, src, blocking=True):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    if blocking:
        s.settimeout(10)
        s.connect((HOST, port))
    else:
        s.setblocking(False)
        s.connect_ex((HOST, port))
    return s


def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def hold(port, n, seconds):
    socks = []
    for i in range(n):
        try:
            socks.append(dial(port, source(3, i), blocking=False))
        except OSError:
            pass
    print("held %d of %d" % (len(socks), n), flush=True)
    time.sleep(seconds)
    for s in socks:
        s.close()


def churn(port, n):
    done = 0
    for i in range(n):
        try:
            s = dial(port, source(4, i % 2000))
        except OSError:
            continue
        if i % 2:
            reset(s)
        else:
            s.close()
        done += 1
    print("churned %d of %d" % (done, n))


def halfopen(port, n, seconds):
    kept = []
    done = 0
    for i in range(n):
        try:
            s = dial(port, source(5, i % 2000))
            s.sendall(b"EHLO par")
        except OSError:
            continue
        done += 1
        if i % 3 == 0:
            kept.append((s, True))
        elif i % 3 == 1:
            s.shutdown(socket.SHUT_WR)
            kept.append((s, False))
        else:
            s.close()
    print("half-open %d of %d" % (done, n), flush=True)
    time.sleep(seconds)
    for s, vanish in kept:
        if vanish:
            reset(s)
        else:
            s.close()


def read_until(s, data, want, deadline):
    while want not in data:
        s.settimeout(max(0.1, deadline - time.time()))
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def greet(port, src, only220):
    t0 = time.time()
    data = b""
    try:
        s = dial(port, src)
        data = read_until(s, data, b"\r\n220 ", t0 + 30)
        if not data.startswith(b"220 ") and b"\r\n220 " not in data:
            raise OSError("no final 220")
        if only220:
            print("elapsed=%.3f greeted" % (time.time() - t0))
            sys.exit(0)
        s.sendall(b"EHLO greet.example\r\n")
        deadline = t0 + 60
        while time.time() < deadline:
            s.settimeout(max(0.1, deadline - time.time()))
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
    except OSError as e:
        print("error=%s" % e)
    lines = data.decode("ascii", "replace").split("\r\n")
    lines = [x for x in lines if x]
    first = lines[0] if lines else ""
    last = lines[-1] if lines else ""
    print("elapsed=%.3f first=%s last=%s" % (time.time() - t0, first, last))
    sys.exit(0 if first.startswith("220") and last[:1] == "4" else 1)


def sessions(port, seconds, conc, net):
    end = time.time() + seconds
    counts = [0] * conc
    errors = [0] * conc

    def worker(k):
        i = k
        while time.time() < end:
            try:
                s = dial(port, source(net, i))
                read_until(s, b"", b"220 ", time.time() + 5)
                s.sendall(b"EHLO s%d.example\r\n" % i)
                s.close()
                counts[k] += 1
            except OSError:
                errors[k] += 1
                time.sleep(0.05)
            i += conc
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("sessions=%d errors=%d" % (sum(counts), sum(errors)))


def dump(n, ms):
    out = sys.stdout
    out.write("VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n")
    for i in range(n):
        key = "10.%d.%d.%d/32" % (i >> 16 & 255, i >> 8 & 255, i & 255)
        rec = struct.pack("<BBBBIIIqqqqQ", 1, 0, 0, 0, 0, 1, 0, ms, ms,
                          0, 0, 1000)
        out.write(" %s\n %s\n" % (key.encode().hex(), rec.hex()))
    out.write("DATA=END\n")


def main(argv):
    mode = argv[1]
    a = argv[2:]
    if mode == "hold":
        hold(int(a[0]), int(a[1]), float(a[2]))
    elif mode == "churn":
        churn(int(a[0]), int(a[1]))
    elif mode == "halfopen":
        halfopen(int(a[0]), int(a[1]), float(a[2]))
    elif mode == "greet":
        greet(int(a[0]), a[1], len(a) > 2 and a[2] == "220")
    elif mode == "sessions":
        sessions(int(a[0]), float(a[1]), int(a[2]), int(a[3]))
    elif mode == "dump":
        dump(int(a[0]), int(a[1]))
    else:
        sys.exit("faultclient: unknown mode %s" % mode)


if __name__ == "__main__":
    main(sys.argv)
