"""The two list-making stages of scripts/hot-code-order (see its header for what and why).

    hot_code_order.py callgrind PROFILE OUT   writes OUT from PROFILE/callgrind.<verb>
    hot_code_order.py faults PROFILE OUT      appends to OUT what PROFILE/faults.<verb> add

PROFILE also holds svcunit (the profiled executable, with its symbol table) and svcunit.map (its link
map, --no-demangle).
"""
import bisect
import collections
import glob
import os
import re
import subprocess
import sys


def orderable(profile):
    """Names that may be listed. lld moves whole input sections: a name defined once, or only in
    sections of its own, moves its code; a name that repeats across objects whose code is one `.text`
    (local names in the static Swift runtime, not compiled with function sections) would move every
    one of those objects."""
    sections = collections.defaultdict(list)
    current = None
    for line in open(os.path.join(profile, "svcunit.map"), errors="replace"):
        fields = line.split()
        if len(fields) >= 5 and ":(" in fields[-1]:
            current = fields[-1].rsplit(":(", 1)[1].rstrip(")")
        elif len(fields) == 5 and current is not None:
            sections[fields[4]].append(current)
    return {name for name, where in sections.items() if len(where) == 1 or ".text" not in where}


def from_callgrind(profile, out):
    binary = os.path.join(profile, "svcunit")
    allowed = orderable(profile)
    verbs = {}
    for path in sorted(glob.glob(os.path.join(profile, "callgrind.*"))):
        ran, obj = set(), None
        for line in open(path, errors="replace"):
            if line.startswith("ob="):
                obj = line[3:].strip()
            elif line.startswith("fn=") and obj == binary:
                name = re.sub(r"'[0-9]+$", "", line[3:].strip())  # callgrind's recursion suffix
                if name in allowed:
                    ran.add(name)
        verbs[path.rsplit(".", 1)[1]] = ran
    if len(verbs) < 10 or any(not ran for ran in verbs.values()):
        sys.exit(f"a profile is missing or empty: {sorted(v for v, r in verbs.items() if not r)}")
    users = collections.Counter(name for ran in verbs.values() for name in ran)
    benchmarked = set().union(*(verbs[v] for v in ("status", "start", "stop", "entrypoint")))
    always = ["_start", "_init", "_fini"]  # run before main; callgrind gives them no function
    order = [n for n in always if n in allowed] + sorted(
        (n for n in users if n not in always), key=lambda n: (n not in benchmarked, -users[n], n))
    with open(out, "w") as f:
        f.write("# The functions svcunit's commands run, hottest first: lld's --symbol-ordering-file for release\n")
        f.write("# builds (Package.swift). Written by scripts/hot-code-order; do not edit by hand.\n")
        f.write(f"# Profiled: {', '.join(sorted(verbs))}.\n")
        f.writelines(n + "\n" for n in order)
    print(f"{out}: {len(order)} functions from callgrind ({len(benchmarked)} run by status, start, stop or the entrypoint)",
          file=sys.stderr)


def from_faults(profile, out):
    binary = os.path.join(profile, "svcunit")
    allowed = orderable(profile)
    nm = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    symbols = sorted((int(f[0], 16), f[2]) for f in (line.split() for line in nm.splitlines())
                     if len(f) == 3 and f[1] in "tTwW")
    starts = [a for a, _ in symbols]
    sections = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout
    text = re.search(r"\.text\s+PROGBITS\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", sections)
    low, size = int(text.group(1), 16), int(text.group(2), 16)
    known = {line.rstrip("\n") for line in open(out)}
    added = []
    for path in sorted(glob.glob(os.path.join(profile, "faults.*"))):
        base = None
        for line in open(path, errors="replace"):
            if "PERF_RECORD_MMAP2" in line and line.rstrip().endswith(binary) and "@ 0 " in line:
                base = int(re.search(r"\[(0x[0-9a-f]+)\(", line).group(1), 16)  # the file's start
            elif base is not None and "PERF_RECORD" not in line and line.strip():
                address = int(line.split()[0], 16) - base
                if low <= address < low + size:
                    name = symbols[bisect.bisect_right(starts, address) - 1][1]
                    if name not in known and name in allowed:
                        known.add(name)
                        added.append(name)
    if not added and not glob.glob(os.path.join(profile, "faults.*")):
        sys.exit("no page-fault records")
    with open(out, "a") as f:
        f.writelines(n + "\n" for n in added)
    print(f"{out}: {len(added)} functions added from page faults", file=sys.stderr)


if __name__ == "__main__":
    stage, profile, out = sys.argv[1:4]
    {"callgrind": from_callgrind, "faults": from_faults}[stage](profile, out)
