#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench: kvmio-lat replay's speed on this machine (issue 5's goal:
at least a million events per second).

    replay_speed.py READER FILE.dat OUT.json RUNS

Runs `READER replay FILE --speed` RUNS times and keeps what --speed reports
(records, records/s overall and after opening the file), median over runs.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import time

SPEED = re.compile(r"replay: (\d+) records on (\d+) CPUs, (\d+) to the engine, in ([\d.]+) s "
                   r"\(([\d.]+) s opening the file\): (\d+) records/s, (\d+) after opening")


def main():
    reader, dat, outf, nruns = sys.argv[1:5]
    runs = []
    for _ in range(int(nruns)):
        t0 = time.monotonic()
        p = subprocess.run([reader, "replay", dat, "--speed"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        wall = time.monotonic() - t0
        m = SPEED.search(p.stderr)
        if p.returncode or not m:
            with open(outf, "w") as f:
                json.dump({"skipped": "kvmio-lat replay failed: " + p.stderr[-500:]}, f)
            return 0
        runs.append({"records": int(m.group(1)), "cpus": int(m.group(2)),
                     "engine_events": int(m.group(3)), "seconds": float(m.group(4)),
                     "open_seconds": float(m.group(5)), "records_per_s": int(m.group(6)),
                     "after_open_per_s": int(m.group(7)), "wall_s": wall})
    with open(outf, "w") as f:
        json.dump({"file_bytes": os.path.getsize(dat), "runs": runs,
                   "events": runs[0]["records"],
                   "events_per_s": statistics.median(r["records_per_s"] for r in runs),
                   "events_per_s_after_open": statistics.median(r["after_open_per_s"]
                                                                for r in runs),
                   "command": "kvmio-lat replay FILE --speed"}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
