#!/usr/bin/python3
"""Splits a policy written by polder_gen_policy into about N files, as a real
policy is split (one file per team or application): each top-level list
(zones, hosts, flows, ...) is cut into chunks at item boundaries, and every
chunk becomes its own file `KEY-NN.yaml` holding `KEY:` and its items.

Usage: split_policy.py SRC_DIR DST_DIR FILES
"""
import os
import sys


def read_lists(path):
    """Top-level `key:` blocks of a generated file, each as (key, header, items)."""
    blocks = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines(keepends=True)
    for line in lines:
        if not line.startswith(" ") and line.rstrip().endswith(":"):
            blocks.append([line.rstrip()[:-1], line, []])
        elif not line.startswith(" "):
            blocks.append([None, line, []])  # a scalar entry such as `version: 1`
        elif line.startswith("  - "):
            blocks[-1][2].append(line)
        elif blocks[-1][2]:
            blocks[-1][2][-1] += line
        else:
            blocks[-1][1] += line  # a mapping such as `settings:`
    return blocks


def main():
    src, dst, files = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(dst, exist_ok=True)
    blocks = []
    for name in sorted(os.listdir(src)):
        blocks += [(name, b) for b in read_lists(os.path.join(src, name))]
    total = sum(len(b[2]) for _, b in blocks) or 1
    for name, (key, header, items) in blocks:
        stem = name.rsplit(".", 1)[0]
        if key is None or not items:
            with open(os.path.join(dst, f"{stem}-{key or 'scalar'}.yaml"), "a") as f:
                f.write(header + "".join(items))
            continue
        chunks = max(1, round(files * len(items) / total))
        size = -(-len(items) // chunks)
        for n in range(chunks):
            part = items[n * size:(n + 1) * size]
            if part:
                with open(os.path.join(dst, f"{key}-{n:02d}.yaml"), "w") as f:
                    f.write(header + "".join(part))


if __name__ == "__main__":
    main()
