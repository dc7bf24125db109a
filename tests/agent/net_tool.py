#!/usr/bin/env python3
"""TCP helpers for the agent's end-to-end tests, run inside test namespaces.

net_tool.py listen PORT[,PORT...]          accept and close connections until killed
net_tool.py probe HOST PORT                exit 0 if a connection opens within 1 s, else 1
net_tool.py udp-probe HOST PORT            exit 0 if a UDP echo answers within 1 s, else 1
net_tool.py loop HOST PORT STOPFILE MAXSEC connect repeatedly until STOPFILE exists (or MAXSEC);
                                           print "ok=N fail=M", exit 1 if any failed
net_tool.py udp-echo PORT                  answer every UDP datagram with its own bytes
net_tool.py watch HOST ALLOWED_TCP DENIED_TCP DENIED_UDP STOPFILE MAXROUNDS
                                           every 50 ms: connect to ALLOWED_TCP (must work), try
                                           DENIED_TCP and a UDP echo from DENIED_UDP (must not get
                                           through), until STOPFILE exists or MAXROUNDS; prints
                                           "round N" every 10 rounds, a line per breach, then
                                           "rounds=N allowed_fail=A denied_tcp=T denied_udp=U";
                                           exit 1 if any of A, T, U is not 0
"""
import os
import selectors
import socket
import sys
import time


def listen(ports):
    sel = selectors.DefaultSelector()
    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", p))
        s.listen(512)
        sel.register(s, selectors.EVENT_READ)
    print("listening", flush=True)
    while True:
        for key, _ in sel.select():
            conn, _ = key.fileobj.accept()
            conn.close()


def echo_listen(port):
    """Echoes every byte back on each accepted connection (for a long-lived connection)."""
    import threading

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(16)
    print("listening", flush=True)

    def serve(conn):
        with conn:
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                conn.sendall(data)

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def hold(host, port, stopfile, max_seconds):
    """One TCP connection kept open: a byte out and back every 20 ms until STOPFILE exists.
    Fails (exit 1) on the first exchange that does not come back within 2 s."""
    s = socket.create_connection((host, port), timeout=2.0)
    print("connected", flush=True)
    exchanges = 0
    deadline = time.monotonic() + max_seconds
    while not os.path.exists(stopfile) and time.monotonic() < deadline:
        try:
            s.sendall(b"p")
            if s.recv(1) != b"p":
                raise OSError("connection closed")
        except OSError as e:
            print(f"BREACH long-lived connection failed after {exchanges} exchanges: {e}",
                  flush=True)
            sys.exit(1)
        exchanges += 1
        time.sleep(0.02)
    s.close()
    print(f"exchanges={exchanges}", flush=True)
    sys.exit(0 if exchanges else 1)


def connect_error(host, port, timeout):
    """None when a TCP connection opens, else why not ("timed out": dropped)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as e:
        return str(e) or type(e).__name__


def connect(host, port, timeout):
    return connect_error(host, port, timeout) is None


def udp_echo(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    print("listening", flush=True)
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)


def udp_answered(host, port, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(b"polder-gap-probe", (host, port))
            return s.recv(2048) == b"polder-gap-probe"
        except OSError:
            return False


def watch(host, allowed, denied_tcp, denied_udp, stopfile, max_rounds):
    rounds = allowed_fail = tcp_open = udp_open = 0
    while not os.path.exists(stopfile) and rounds < max_rounds:
        start = time.monotonic()
        rounds += 1
        error = connect_error(host, allowed, 1.0)
        if error is not None:
            allowed_fail += 1
            # The time and the error, to match the agents' logs: dropped (timed out) or refused.
            when = time.strftime("%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"
            print(f"BREACH round {rounds} at {when}: allowed tcp/{allowed} failed ({error})",
                  flush=True)
        if connect(host, denied_tcp, 0.03):
            tcp_open += 1
            print(f"BREACH round {rounds}: denied tcp/{denied_tcp} connected", flush=True)
        if udp_answered(host, denied_udp, 0.03):
            udp_open += 1
            print(f"BREACH round {rounds}: denied udp/{denied_udp} answered", flush=True)
        if rounds % 10 == 0:
            print(f"round {rounds}", flush=True)
        time.sleep(max(0.0, 0.05 - (time.monotonic() - start)))
    print(f"rounds={rounds} allowed_fail={allowed_fail} denied_tcp={tcp_open} "
          f"denied_udp={udp_open}", flush=True)
    sys.exit(1 if allowed_fail or tcp_open or udp_open else 0)


def main():
    cmd = sys.argv[1]
    if cmd == "listen":
        listen([int(p) for p in sys.argv[2].split(",")])
    elif cmd == "echo-listen":
        echo_listen(int(sys.argv[2]))
    elif cmd == "hold":
        hold(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
    elif cmd == "probe":
        sys.exit(0 if connect(sys.argv[2], int(sys.argv[3]), 1.0) else 1)
    elif cmd == "udp-probe":
        sys.exit(0 if udp_answered(sys.argv[2], int(sys.argv[3]), 1.0) else 1)
    elif cmd == "udp-echo":
        udp_echo(int(sys.argv[2]))
    elif cmd == "watch":
        watch(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6],
              int(sys.argv[7]))
    elif cmd == "loop":
        host, port, stopfile, maxsec = sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
        ok = fail = 0
        deadline = time.monotonic() + maxsec
        while not os.path.exists(stopfile) and time.monotonic() < deadline:
            if connect(host, port, 2.0):
                ok += 1
            else:
                fail += 1
        print(f"ok={ok} fail={fail}", flush=True)
        sys.exit(1 if fail or not ok else 0)


main()
