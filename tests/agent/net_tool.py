#!/usr/bin/env python3
"""TCP helpers for the agent's end-to-end tests, run inside test namespaces.

net_tool.py listen PORT[,PORT...]          accept and close connections until killed
net_tool.py probe HOST PORT                exit 0 if a connection opens within 1 s, else 1
net_tool.py loop HOST PORT STOPFILE MAXSEC connect repeatedly until STOPFILE exists (or MAXSEC);
                                           print "ok=N fail=M", exit 1 if any failed
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


def connect(host, port, timeout):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def main():
    cmd = sys.argv[1]
    if cmd == "listen":
        listen([int(p) for p in sys.argv[2].split(",")])
    elif cmd == "probe":
        sys.exit(0 if connect(sys.argv[2], int(sys.argv[3]), 1.0) else 1)
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
