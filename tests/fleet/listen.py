#!/usr/bin/env python3
"""Accepts TCP connections on ADDR:PORT... and closes them, so a connect probe sees the path,
not a missing listener. Runs inside a lab namespace; stops when its parent harness kills it."""
import selectors
import socket
import sys

sel = selectors.DefaultSelector()
for spec in sys.argv[1:]:
    addr, port = spec.rsplit(":", 1)
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr.strip("[]"), int(port)))
    s.listen(64)
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        conn, _ = key.fileobj.accept()
        conn.close()
