#!/usr/bin/env python3
"""Writes a ruleset in the shape `polder compile` produces, for the agent's end-to-end tests.

make_ruleset.py HOST PORT[,PORT...] [SEED]: TCP to each PORT is allowed from 10.1.0.0/24;
SEED changes the revision and adds one harmless element so two rulesets really differ.
"""
import hashlib
import sys

host, ports = sys.argv[1], [int(p) for p in sys.argv[2].split(",")]
seed = sys.argv[3] if len(sys.argv) > 3 else "0"
elements = [f"10.1.0.0/24 . tcp . {p}" for p in ports]
elements.append(f"192.0.2.{int(hashlib.sha256(seed.encode()).hexdigest(), 16) % 250 + 1} . udp . 9")
revision = hashlib.sha256(seed.encode()).hexdigest()
print(f"""# polder ruleset host={host} revision={revision} mode=enforce
table inet polder
delete table inet polder
table inet polder {{
\tset in_allow_v4 {{ type ipv4_addr . inet_proto . inet_service; flags interval; elements = {{ {", ".join(elements)} }} }}
\tchain input {{ type filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\tiif "lo" accept
\t\tip saddr . meta l4proto . th dport @in_allow_v4 counter accept
\t}}
\tchain output {{ type filter hook output priority filter; policy drop;
\t\tct state established,related accept
\t\toif "lo" accept
\t}}
}}""")
