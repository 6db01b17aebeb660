#!/usr/bin/env python3
"""policy_client.py - a Postfix policy client for test_policyd.sh.

  policy_client.py SOCK session ATTR=VALUE... -- STAGE[:RECIPIENT][,A=V...]...
      one connection; one request per STAGE (MAIL, RCPT, DATA,
      END-OF-MESSAGE ...), each with the ATTRs, the A=Vs after a comma
      in their place (instance=, as Postfix sends it at MAIL); prints
      each answer's action, one a line
  policy_client.py SOCK drop ATTR=VALUE... -- STAGE[:RECIPIENT][,A=V...]
      sends that one request and closes without reading the answer, as
      a Postfix that timed out; prints "dropped"
  policy_client.py SOCK timed ATTR=VALUE... -- STAGE[:RECIPIENT][,A=V...]
      one request; prints "ms=MILLISECONDS ACTION"
  policy_client.py SOCK raw FILE
      sends FILE's bytes and shuts its side down, reads to EOF (at most
      5 s); prints "answer
      ACTION" for each answer, then "closed" or "open"
  policy_client.py SOCK eof ATTR=VALUE...
      sends one request, shuts its side down (as Exim's ${readsocket}),
      reads to EOF; prints the answer and "closed"
  policy_client.py SOCK silent
      connects and says nothing; prints "closed after MS" once the
      server closes (at most 5 s) or "open"
  policy_client.py SOCK idle N ATTR=VALUE...
      opens N connections (half of them with half a request), then asks
      once on a new one; prints "ms=MILLISECONDS ACTION" and "open=K",
      the idle connections still open
SOCK is unix:PATH or inet:HOST:PORT.
"""
import socket
import sys
import time


def connect(spec):
    if spec.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(spec[5:])
    else:
        host, port = spec[5:].rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    s.settimeout(5)
    return s


def request(attrs, extra=()):
    names = {a.partition("=")[0] for a in extra}
    lines = ["request=smtpd_access_policy"]
    lines += [a for a in attrs if a.partition("=")[0] not in names]
    lines += list(extra)
    return ("\n".join(lines) + "\n\n").encode()


def stage_attrs(st):
    """STAGE[:RECIPIENT][,A=V...] to its attribute lines."""
    head, *more = st.split(",")
    stage, _, rcpt = head.partition(":")
    return ["protocol_state=" + stage, "recipient=" + rcpt] + more


def read_answer(s, buf):
    while b"\n\n" not in buf:
        data = s.recv(4096)
        if not data:
            return None, buf
        buf += data
    answer, rest = buf.split(b"\n\n", 1)
    return answer.decode(), rest


def action(answer):
    return answer[len("action="):] if answer.startswith("action=") else answer


def session(spec, args):
    cut = args.index("--")
    attrs, stages = args[:cut], args[cut + 1:]
    s = connect(spec)
    buf = b""
    for st in stages:
        s.sendall(request(attrs, stage_attrs(st)))
        answer, buf = read_answer(s, buf)
        print(action(answer) if answer is not None else "closed")
    s.close()


def drop(spec, args):
    cut = args.index("--")
    s = connect(spec)
    s.sendall(request(args[:cut], stage_attrs(args[cut + 1])))
    s.close()
    print("dropped")


def timed(spec, args):
    cut = args.index("--")
    s = connect(spec)
    s.settimeout(60)
    t0 = time.monotonic()
    s.sendall(request(args[:cut], stage_attrs(args[cut + 1])))
    answer, _ = read_answer(s, b"")
    print("ms=%d %s" % ((time.monotonic() - t0) * 1000,
                        action(answer) if answer else "closed"))


def read_all(s):
    buf = b""
    closed = False
    end = time.time() + 5
    while time.time() < end:
        try:
            data = s.recv(4096)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not data:
            closed = True
            break
        buf += data
    return buf, closed


def raw(spec, path):
    s = connect(spec)
    with open(path, "rb") as f:
        try:
            s.sendall(f.read())
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
    buf, closed = read_all(s)
    for answer in buf.split(b"\n\n"):
        if answer:
            print("answer " + action(answer.decode()))
    print("closed" if closed else "open")


def eof(spec, attrs):
    s = connect(spec)
    s.sendall(request(attrs))
    s.shutdown(socket.SHUT_WR)
    buf, closed = read_all(s)
    for answer in buf.split(b"\n\n"):
        if answer:
            print(action(answer.decode()))
    print("closed" if closed else "open")


def silent(spec):
    s = connect(spec)
    t0 = time.monotonic()
    _, closed = read_all(s)
    print("closed after %d" % ((time.monotonic() - t0) * 1000)
          if closed else "open")


def idle(spec, n, attrs):
    conns = []
    for i in range(n):
        c = connect(spec)
        if i % 2:
            c.sendall(request(attrs)[:40])
        conns.append(c)
    time.sleep(0.2)
    s = connect(spec)
    t0 = time.monotonic()
    s.sendall(request(attrs))
    answer, _ = read_answer(s, b"")
    ms = (time.monotonic() - t0) * 1000
    print("ms=%.1f %s" % (ms, action(answer) if answer else "closed"))
    alive = 0
    for c in conns:
        c.setblocking(False)
        try:
            alive += c.recv(1) != b""
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    print("open=%d" % alive)


def main():
    spec, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == "session":
        session(spec, args)
    elif cmd == "drop":
        drop(spec, args)
    elif cmd == "timed":
        timed(spec, args)
    elif cmd == "raw":
        raw(spec, args[0])
    elif cmd == "eof":
        eof(spec, args)
    elif cmd == "silent":
        silent(spec)
    elif cmd == "idle":
        idle(spec, int(args[0]), args[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
