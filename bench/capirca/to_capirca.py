#!/usr/bin/python3
"""Writes the policy of a polder policy directory (as polder_gen_policy writes
it) in Capirca's language, for bench/capirca/capirca_bench.sh.

Usage: to_capirca.py POLICY_DIR OUT_DIR
Writes OUT_DIR/def/NETWORK.net, OUT_DIR/def/SERVICES.svc and
OUT_DIR/policies/pol/polder.pol: one nftables filter with one term per flow and
protocol, in flow order. Zones and hosts become networks, services become
per-protocol port lists, `sources` becomes the term's source addresses,
`expires` its expiration; icmp services become icmp terms (without
icmp-type, which Capirca 2.0.6's nftables generator cannot render).
"""
import os
import sys

import yaml


def load(policy_dir):
    merged = {}
    for name in sorted(os.listdir(policy_dir)):
        if not name.endswith((".yaml", ".yml")):
            continue
        with open(os.path.join(policy_dir, name), encoding="utf-8") as f:
            doc = yaml.load(f, Loader=yaml.CSafeLoader) or {}
        for key, value in doc.items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            else:
                merged[key] = value
    return merged


def token(name):
    return name.upper().replace("-", "_")


def as_list(v):
    return v if isinstance(v, list) else [v]


def main():
    src, out = sys.argv[1], sys.argv[2]
    p = load(src)
    os.makedirs(os.path.join(out, "def"), exist_ok=True)
    os.makedirs(os.path.join(out, "policies", "pol"), exist_ok=True)
    with open(os.path.join(out, "def", "NETWORK.net"), "w") as f:
        for z in p.get("zones", []):
            f.write(f"ZONE_{token(z['name'])} = " + "\n    ".join(z.get("cidrs", [])) + "\n")
        for h in p.get("hosts", []):
            f.write(f"HOST_{token(h['name'])} = " + "\n    ".join(h["addresses"]) + "\n")
    names = {z["name"]: f"ZONE_{token(z['name'])}" for z in p.get("zones", [])}
    names.update({h["name"]: f"HOST_{token(h['name'])}" for h in p.get("hosts", [])})
    # Per service: {protocol: [port expressions]} and icmp types.
    ports = {}
    with open(os.path.join(out, "def", "SERVICES.svc"), "w") as f:
        for s in p.get("services", []):
            by_proto = {}
            for port in s["ports"]:
                proto, _, rest = port.partition("/")
                by_proto.setdefault(proto, []).append(rest)
            ports[s["name"]] = by_proto
            for proto, values in by_proto.items():
                if proto in ("icmp", "icmpv6"):
                    continue
                f.write(f"SVC_{token(s['name'])}_{proto.upper()} = " +
                        " ".join(f"{v}/{proto}" for v in values) + "\n")
    with open(os.path.join(out, "policies", "pol", "polder.pol"), "w") as f:
        f.write("header {\n  target:: nftables inet INPUT\n}\n\n")
        sources_defs = []
        for i, flow in enumerate(p.get("flows", [])):
            action = "deny" if flow.get("action") == "deny" else "accept"
            by_proto = {}
            for svc in as_list(flow["services"]):
                if svc == "any":
                    by_proto.setdefault("any", [])
                    continue
                for proto, values in ports[svc].items():
                    by_proto.setdefault(proto, []).append((svc, values))
            src_tokens = [names[e] for e in as_list(flow["from"])]
            if "sources" in flow:
                sources_defs.append(f"SOURCES_{i} = " + "\n    ".join(flow["sources"]))
                src_tokens = [f"SOURCES_{i}"]
            dst_tokens = [names[e] for e in as_list(flow["to"])]
            for proto, entries in sorted(by_proto.items()):
                f.write(f"term flow-{i}-{proto} {{\n")
                f.write(f"  source-address:: {' '.join(src_tokens)}\n")
                f.write(f"  destination-address:: {' '.join(dst_tokens)}\n")
                if proto == "any":
                    pass  # every protocol and port: no protocol:: line
                elif proto in ("icmp", "icmpv6"):
                    # Not icmp-type: Capirca 2.0.6's nftables generator fails on it
                    # (TypeError in PortsAndProtocols); the term admits all of icmp.
                    f.write(f"  protocol:: {proto}\n")
                else:
                    f.write(f"  protocol:: {proto}\n")
                    f.write("  destination-port:: " +
                            " ".join(sorted({f"SVC_{token(s)}_{proto.upper()}"
                                             for s, _ in entries})) + "\n")
                if "expires" in flow:
                    f.write(f"  expiration:: {str(flow['expires'])[:10]}\n")
                f.write(f"  action:: {action}\n}}\n\n")
    if sources_defs:
        with open(os.path.join(out, "def", "NETWORK.net"), "a") as f:
            f.write("\n".join(sources_defs) + "\n")


if __name__ == "__main__":
    main()
