#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""irqsoff_guest.py: the worst interrupts-off stretch with kvmio_lat loaded.

Runs in the lab guest on the debug kernel (make bench-irqsoff boots it
through scripts/debug-kernel/check.sh --guest): the kernel's irqsoff tracer, not kvmio_lat, measures the longest
stretch with interrupts off while each workload runs, three times in one
boot: without kvmio_lat, with it at its default caps, and at its maximum
caps.  kvm_entry fires with interrupts off (just before VMRUN or
VM-entry), and so does kvm_exit on VMX (in vmx_vcpu_run()); on SVM (6.1:
svm_handle_exit()) it fires with them on.  A probe with interrupts off
lengthens the stretch it runs in; the engine's VM lock is taken with
interrupts off too (I/O events, reset, reads of hist and stats).  The workloads:

  exits    4 vCPUs, port writes to userspace (kvm_exit, kvm_pio,
           kvm_userspace_exit, kvm_entry), while another task reads hist and
           stats and writes reset in a loop
  kexits   4 vCPUs, CPUID (kvm_exit, kvm_entry), the same reader
  io       kvmio-vmm io, aio=native and aio=threads on null_blk: doorbells,
           requests, interrupts
  wide     a VM of 64 vCPUs, 50 exits each, hist read while it lives

The irqsoff tracer reports where the worst stretch began and ended, whose
task it was and the stack at its end (kvmio_lat's functions in it are
named); beside it, the time of one exit in the same boot (the exits
loop's ns per exit).  The figures are TCG and debug-kernel times,
comparable only within the run; under TCG the worst stretch is whatever
the emulation made slowest (an interrupt handler, often milliseconds), and
kvmio_lat's own stretches, far shorter, show only as a worst stretch that
is theirs.

  irqsoff_guest.py KO [--vmm VMM] [--out DIR] [--exits N] [--requests N]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "selftests", "lib"))
import labhold  # noqa: E402
from lab_bench import append, log, read, sh, write  # noqa: E402

T = "/sys/kernel/tracing"
DBG = "/sys/kernel/debug/kvmio_lat"
# the maximum caps kvl_config_check() accepts
MAX_CAPS = "max_vms=1024 max_vcpus=4096 max_threads=8192 max_inflight=65534 spare_vcpus=256"
CONFIGS = (("nothing", None), ("kvmio_lat", ""), ("kvmio_lat max caps", MAX_CAPS))






class Irqsoff:
    """The irqsoff tracer on the top-level array, without function tracing
    (which would slow every function and patch text): the worst stretch's
    length, its start and end sites and the stack at its end."""

    def __enter__(self):
        write(T + "/current_tracer", "nop")
        write(T + "/options/function-trace", "0")
        write(T + "/tracing_max_latency", "0")
        write(T + "/current_tracer", "irqsoff")
        write(T + "/tracing_on", "1")
        return self

    def result(self):
        us = int(read(T + "/tracing_max_latency"))
        trace = read(T + "/trace")
        start = re.search(r"=> started at:\s*(\S+)", trace)
        end = re.search(r"=> ended at:\s*(\S+)", trace)
        task = re.search(r"\| task: (\S+)", trace)
        stack = [ln.strip()[3:] for ln in trace.splitlines() if ln.strip().startswith("=> ")
                 and "started at" not in ln and "ended at" not in ln]
        return {"max_us": us, "started_at": start.group(1) if start else "?",
                "ended_at": end.group(1) if end else "?", "stack": stack[:12],
                "task": task.group(1) if task else "?",
                "kvmio_lat_in_stack": any("kvl_" in s or "kvmio_lat" in s for s in stack)}

    def __exit__(self, *exc):
        write(T + "/tracing_on", "0")
        write(T + "/current_tracer", "nop")
        return False


class Reader(threading.Thread):
    """Reads hist and stats and writes reset in a loop, while kvmio_lat is
    loaded: the process-context side of the engine's locks."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop, self.rounds = threading.Event(), 0

    def run(self):
        if not os.path.exists(DBG + "/hist"):
            return
        while not self.stop.is_set():
            try:
                read(DBG + "/hist")
                read(DBG + "/stats")
                write(DBG + "/reset", "1")
            except OSError:
                return
            self.rounds += 1
            time.sleep(0.01)


def vmm(args, timeout=900):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    if r.returncode:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(args[:3]), r.returncode,
                                                r.stdout[-600:]))
    return r.stdout


def workloads(a):
    exits = [a.vmm, "exits", "--vcpus", "4", "--count", str(a.exits)]
    io = [a.vmm, "io", "--vcpus", "2", "--requests", str(a.requests), "--dev", "/dev/nullb0",
          "--no-timing", "--mode"]
    return (("exits", exits), ("kexits", exits + ["--cpuid"]),
            ("io-native", io + ["native"]), ("io-threads", io + ["threads"]),
            ("wide", [a.vmm, "exits", "--vcpus", "64", "--count", "50"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("module")
    ap.add_argument("--vmm", default="build/kvmio-vmm")
    ap.add_argument("--out", default=os.environ.get("LAB_OUT", "/tmp"))
    ap.add_argument("--exits", type=int, default=2000)
    ap.add_argument("--requests", type=int, default=200)
    a = ap.parse_args()
    if not os.path.exists(T + "/tracing_max_latency"):
        log("Bail out! no irqsoff tracer (CONFIG_IRQSOFF_TRACER) in %s" % os.uname().release)
        return 2
    with labhold.kvm_change():
        sh("modprobe kvm_amd", check=True)
    sh("modprobe configfs; modprobe null_blk nr_devices=1", check=True)
    # events held in two instances: the top-level array is the tracer's
    labhold.hold(instances_only=True)
    results, failed = [], 0
    try:
        for name, params in CONFIGS:
            if params is not None:
                sh("insmod %s %s" % (a.module, params), check=True)
            try:
                for wname, cmd in workloads(a):
                    rd = Reader()
                    with Irqsoff() as tr:
                        rd.start()
                        try:
                            out = vmm(cmd)
                        finally:
                            rd.stop.set()
                            rd.join()
                        res = tr.result()
                    m = re.search(r"ns_per_exit (\d+)", out)
                    res.update({"config": name, "workload": wname,
                                "ns_per_exit": int(m.group(1)) if m else None,
                                "reader_rounds": rd.rounds})
                    results.append(res)
                    log("# irqsoff %-20s %-10s max %6d us  %s: %s .. %s%s%s" % (
                        name, wname, res["max_us"], res["task"], res["started_at"],
                        res["ended_at"],
                        "  ns/exit %d" % res["ns_per_exit"] if res["ns_per_exit"] else "",
                        "  (kvmio_lat in the stack: %s)" % " <- ".join(
                            s for s in res["stack"] if "kvl_" in s)
                        if res["kvmio_lat_in_stack"] else ""))
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                log("not ok - %s: %s" % (name, e))
                failed += 1
            finally:
                if params is not None:
                    sh("rmmod kvmio_lat")
    finally:
        labhold.release()
    with open(os.path.join(a.out, "irqsoff.json"), "w") as f:
        json.dump(results, f, indent=1)
    if not failed:
        log("ok - irqsoff measured: %d runs" % len(results))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
