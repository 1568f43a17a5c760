#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""engine_cost.py - the engine's instructions per exit, function by function.

Runs build/engine_cost (scripts/bench/engine_cost.c) under callgrind, which
counts every instruction the engine executes in each of make bench's icount
exit loops, and prints them per exit: the engine's share of what the module
adds to an exit.  The rest is the probes around it (make bench's ``bare``
variant: tracepoints and first tests; then the task tests, the clock reads
and preemption).  Exact: the same binary gives the same counts every run.

  engine_cost.py [--iterations N] [--json FILE] ENGINE_COST_BINARY
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

LOOPS = ("kexits", "exits", "ioexits", "sysread", "sysppoll", "syspread")
SYS_LOOPS = ("sysread", "sysppoll", "syspread")
# callgrind_annotate's self-cost lines: "  620,000 (21.16%)  FILE:FUNC [OBJ]"
LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S+?):(\S+)(?:\s+\[.*\])?$")


def annotate(path):
    """{function: instructions} of the engine's own code in one dump."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", path],
                         check=True, capture_output=True, text=True).stdout
    cost = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        ir, src, fn = int(m.group(1).replace(",", "")), m.group(2), m.group(3)
        # the engine and the headers inlined into it; not the harness
        if "module/engine/" not in src and "include/kvmio_lat/" not in src:
            continue
        cost[fn] = cost.get(fn, 0) + ir
    return cost


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary")
    ap.add_argument("--iterations", type=int, default=10000)
    ap.add_argument("--json")
    a = ap.parse_args()
    if a.iterations < 1:
        ap.error("--iterations must be at least 1")
    binary = os.path.abspath(a.binary)
    with tempfile.TemporaryDirectory(prefix="engine_cost.") as tmp:
        r = subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no",
                            "--callgrind-out-file=" + os.path.join(tmp, "cg.out"),
                            binary, str(a.iterations)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stderr)
            sys.exit("engine_cost: %s failed under callgrind" % binary)
        dumps = sorted(glob.glob(os.path.join(tmp, "cg.out.*")),
                       key=lambda p: int(p.rsplit(".", 1)[1]))
        if len(dumps) != len(LOOPS):
            sys.exit("engine_cost: %d callgrind dumps, expected %d" % (len(dumps), len(LOOPS)))
        result = {}
        for loop, path in zip(LOOPS, dumps):
            per = {fn: ir / a.iterations for fn, ir in annotate(path).items()}
            result[loop] = {"total": sum(per.values()), "functions": per}
            # each loop's events reach the engine: a harness that stopped
            # calling it, or a build without line info, would count nothing
            want = ("kvl_ev_sys_exit",) if loop in SYS_LOOPS else ("kvl_ev_exit", "kvl_ev_entry")
            if not all(per.get(fn) for fn in want):
                sys.exit("engine_cost: no %s counted in %s" % ("/".join(want), loop))
    print("engine instructions per exit or system call (callgrind, %d per loop, userspace "
          "-O2 build)" % a.iterations)
    for loop in LOOPS:
        r = result[loop]
        print("%-8s %6.1f" % (loop, r["total"]))
        for fn, ir in sorted(r["functions"].items(), key=lambda kv: -kv[1]):
            if ir >= 0.05:
                print("           %6.1f  %s" % (ir, fn))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"iterations": a.iterations, "loops": result}, f, indent=1)


if __name__ == "__main__":
    main()
