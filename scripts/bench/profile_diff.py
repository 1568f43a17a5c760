#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Where the instructions kvmio_lat adds go, from an --icount profile.

    scripts/bench/profile_diff.py [--top N] [--workload W] RAW.json [BASE] [TOOL]

RAW.json is a bench run's raw data (OUT/lab/raw.json) whose profile section
ran under --icount (bench.sh --icount --sections profile ...).  Under
-icount shift=0 a busy CPU's clock advances one ns per instruction, so
perf's cpu-clock sampling at F Hz takes one sample per 1e9/F instructions:
a function's samples x 1e9/F / units is its instructions per unit (an
exit, an I/O), give or take the square root of its samples.  For each
workload it prints, per function (as the leaf frame: its own
instructions), TOOL's figure, BASE's (default: nothing loaded) and the
difference, largest differences first, and the totals.
"""
import argparse
import json
import math
import sys


def per_unit(prof, count):
    return count * 1e9 / prof["perf_freq"] / prof["units"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("raw")
    ap.add_argument("base", nargs="?", default="nothing")
    ap.add_argument("tool", nargs="?", default="kvmio_lat")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--workload", action="append", default=[])
    ap.add_argument("--inclusive", action="store_true",
                    help="functions anywhere on the chain (callees included)")
    a = ap.parse_args()
    try:
        with open(a.raw) as f:
            samples = json.load(f)["sections"]["profile"]["samples"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print("profile_diff: %s: no profile section (%s)" % (a.raw, e), file=sys.stderr)
        return 2
    runs = {(p["workload"], p["config"]): p for p in samples}
    if not any("self" in p and "units" in p for p in samples):
        print("profile_diff: %s: a profile without per-function tallies (older bench)" % a.raw,
              file=sys.stderr)
        return 2
    key = "inclusive" if a.inclusive else "self"
    workloads = a.workload or sorted({w for w, _ in runs})
    status = 0
    for w in workloads:
        base, tool = runs.get((w, a.base)), runs.get((w, a.tool))
        if not base or not tool:
            print("# %s: no %s run beside %s" % (w, a.tool, a.base))
            status = 1
            continue
        unit = tool["unit"]
        tb, tt = per_unit(base, base["samples"]), per_unit(tool, tool["samples"])
        print("# %s: instructions per %s, %s %.0f, %s %.0f, added %.0f (+%.1f %%)"
              " (%d and %d samples at %d Hz, +-%.0f per %s)" % (
                  w, unit, a.base, tb, a.tool, tt, tt - tb, 100.0 * (tt - tb) / tb,
                  base["samples"], tool["samples"], tool["perf_freq"],
                  math.hypot(per_unit(base, math.sqrt(base["samples"])),
                             per_unit(tool, math.sqrt(tool["samples"]))), unit))
        names = set(base[key]) | set(tool[key])
        rows = []
        for n in names:
            b, t = per_unit(base, base[key].get(n, 0)), per_unit(tool, tool[key].get(n, 0))
            rows.append((t - b, n, b, t))
        rows.sort(key=lambda r: -abs(r[0]))
        print("%-40s %10s %10s %10s" % ("function (%s)" % key, a.base[:10], a.tool[:10], "added"))
        for d, n, b, t in rows[:a.top]:
            print("%-40s %10.0f %10.0f %+10.0f" % (n[:40], b, t, d))
        kvl = sum(r[0] for r in rows if r[1].startswith("kvl_"))
        print("%-40s %10s %10s %+10.0f" % ("kvl_* functions in all", "", "", kvl))
        print()
    return status


if __name__ == "__main__":
    sys.exit(main())
