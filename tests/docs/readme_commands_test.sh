#!/usr/bin/env bash
# The README's command reference documents every command and flag that the
# programs accept: each `polder ...` command that `polder help` lists has a
# line in the README's "Command reference" that starts with its name and
# names each of its flags, and likewise for polder-agent and
# polder-controller (from their --help).
set -euo pipefail
bin=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
python3 - "$bin" "$top/README.md" <<'PY'
import re, subprocess, sys
bin_dir, readme_path = sys.argv[1], sys.argv[2]
readme = open(readme_path).read()
m = re.search(r"^## Command reference\n(.*?)(?=^## |\Z)", readme, re.S | re.M)
if not m:
    sys.exit("FAIL: README.md has no '## Command reference' section")
ref_lines = [l.strip() for l in m.group(1).splitlines()]

def documented(command, flags):
    lines = [l for l in ref_lines if l == command or l.startswith(command + " ")]
    if not lines:
        return [f"{command}: no line in the README's command reference"]
    text = " ".join(lines)
    return [f"{command}: flag {f} not documented" for f in flags
            if not re.search(re.escape(f) + r"(?![\w-])", text)]

problems, commands = [], 0
help_text = subprocess.run([f"{bin_dir}/polder", "help"], check=True, capture_output=True,
                           text=True).stdout
command, flags = None, []
for line in help_text.splitlines() + ["polder end"]:
    if line.startswith("polder "):
        if command:
            commands += 1
            problems += documented(command, flags)
        # `polder help codes [--format text|markdown]`: the usage in brackets is not the name,
        # but its flags are the command's.
        flags = re.findall(r"--[a-z][a-z0-9-]*", line)
        command = re.sub(r"\s*\[.*", "", line).strip()
        if command == "polder end":
            command = None
    elif line.startswith("    --"):
        flags.append(line.split()[0])
for program in ("polder-agent", "polder-controller"):
    out = subprocess.run([f"{bin_dir}/{program}", "--help"], capture_output=True, text=True)
    flags = sorted(set(re.findall(r"^\s+(--[a-z][a-z0-9-]*)", out.stdout, re.M)) - {"--help"})
    if not flags:
        problems.append(f"{program}: --help listed no flags (format changed?)")
    commands += 1
    problems += documented(program, flags)
if commands < 15:
    problems.append(f"only {commands} commands found in `polder help`: the parse is broken")
for p in problems:
    print("FAIL:", p)
if problems:
    sys.exit(1)
print(f"PASS: {commands} commands and all their flags are in the README's command reference")
PY
