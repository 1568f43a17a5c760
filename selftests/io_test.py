#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""I/O path selftests of kvmio_lat in the lab (issue 3).

kvmio-vmm mimics QEMU's aio=native and aio=threads paths with the real KVM
mechanisms (ioeventfd doorbells, an event loop in ppoll, io_submit or a
pread/pwrite pool, irqfd MSIs) on null_blk with a known completion time, and
injects known delays; we check what kvmio_lat recorded.  A delayed stage's
p50 must hold the injected 5 ms (at least 90% of it) and lie within the
interval kvmio-vmm timed in userspace around it (at most 110% of its p50:
that interval also holds the system calls at its ends), as LAB-NOTES §2
advises checking against userspace timestamps under TCG.  TAP output.

    io_test.py --module KO --vmm PATH [--reader PATH] [--requests N]

With --reader, kvmio-lat is also checked on the live module (issue 4).
"""
import contextlib
import json
import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import kvmio_hist  # noqa: E402
import labhold  # noqa: E402

DBG = "/sys/kernel/debug/kvmio_lat"
DELAY_US = 5000          # wake, device and reap delays: 5 ms (LAB-NOTES §2)
P50_TOLERANCE = 0.10
KICK_US = 200           # a kick every 200 us: some land in an exit, the guest runs
PARTITION_TOLERANCE = 0.01

results = []


def tap(ok, name, diag=()):
    results.append(ok)
    for d in diag:
        print("# " + d)
    print("%s %d - %s" % ("ok" if ok else "not ok", len(results), name))
    sys.stdout.flush()


def sh(cmd):
    return subprocess.run(cmd, shell=True, check=False).returncode


def read(path):
    with open(path) as f:
        return f.read()


def run_vmm(vmm, args, while_stopped=None):
    """Run kvmio-vmm with --stop-when-done; return (pid, hist text, stdout).
    while_stopped(pid) runs while the VM still exists."""
    p = subprocess.Popen([vmm] + args + ["--timeout", "90", "--stop-when-done"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # a watchdog beyond the VMM's own timeout: a stuck run fails, it does
    # not hang the whole lab guest
    deadline = time.time() + 150
    while True:
        pid, status = os.waitpid(p.pid, os.WUNTRACED | os.WNOHANG)
        if pid:
            break
        if time.time() > deadline:
            os.kill(p.pid, signal.SIGKILL)
            _, status = os.waitpid(p.pid, 0)
            print("# kvmio-vmm %s: killed after 150 s" % " ".join(args))
            break
        time.sleep(0.1)
    hist = read(DBG + "/hist") if os.WIFSTOPPED(status) else None
    if hist is not None and while_stopped:
        while_stopped(p.pid)
    if os.WIFSTOPPED(status):
        os.kill(p.pid, signal.SIGCONT)
        p.returncode = None
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    ok = os.WIFSTOPPED(status) and p.returncode == 0
    return p.pid, hist, out + err, ok


def vm_stages(hist, pid):
    vms = kvmio_hist.parse(hist)
    if pid not in vms:
        raise KeyError("pid %d not in the snapshot" % pid)
    return vms[pid]["vcpus"]


def vmm_p50s(out):
    """kvmio-vmm's own timings: 'stage NAME count N mean_ns M p50_ns P ...'."""
    p50 = {}
    for ln in out.splitlines():
        w = ln.split()
        if len(w) >= 8 and w[0] == "stage" and w[6] == "p50_ns":
            p50[w[1]] = int(w[7])
    return p50


def check_path(name, vmm, requests, mode, vcpus, delays, extra=()):
    """delays: {stage: [kvmio-vmm intervals whose p50s sum to it]}, checked
    when vcpus == 1."""
    args = ["io", "--mode", mode, "--vcpus", str(vcpus), "--requests", str(requests),
            "--dev", "/dev/nullb0", "--wake-delay-us", str(DELAY_US),
            "--reap-delay-us", str(DELAY_US)] + list(extra)
    if not delays:
        args.append("--no-timing")
    sh("echo 1 > %s/reset" % DBG)
    pid, hist, out, ran = run_vmm(vmm, args)
    diag = []
    if not ran or hist is None:
        tap(False, name + ": kvmio-vmm ran", out.splitlines()[-10:])
        return
    others = [p for p in kvmio_hist.STAGES if p != mode]
    stages = kvmio_hist.STAGES[mode]
    ok = True
    try:
        vc = vm_stages(hist, pid)
    except (KeyError, ValueError) as e:
        tap(False, name, [str(e)])
        return
    for v in range(vcpus):
        st = vc.get(v, {"stages": {p: {} for p in kvmio_hist.STAGES}})["stages"]
        got = {s: st[mode].get(s) for s in stages}
        n = got["total"].count if got["total"] else 0
        if n != requests:
            ok = False
            diag.append("vcpu %d: %d requests recorded, want exactly %d" % (v, n, requests))
            continue
        for s in stages:
            if not got[s] or got[s].count != requests:
                ok = False
                diag.append("vcpu %d: stage %s has %s values" % (v, s, got[s] and got[s].count))
        parts = sum(got[s].mean for s in stages if s != "total")
        total = got["total"].mean
        diag.append("vcpu %d: mean total %.0f us = sum of stage means %.0f us; p50 %s" % (
            v, total / 1e3, parts / 1e3,
            ", ".join("%s %.0f" % (s, got[s]["p50"] / 1e3) for s in stages)))
        if abs(parts - total) > PARTITION_TOLERANCE * total:
            ok = False
            diag.append("vcpu %d: stage means do not add up to the total mean" % v)
        if vcpus == 1:
            user = vmm_p50s(out)
            for s, parts in delays.items():
                p50 = got[s]["p50"]
                if not all(x in user for x in parts):
                    ok = False
                    diag.append("kvmio-vmm did not report %s" % parts)
                    continue
                want = sum(user[x] for x in parts)
                # the stage holds the injected delay and lies inside the
                # interval kvmio-vmm timed around it (which also holds the
                # system calls at its ends): both within 10%
                delay = DELAY_US * 1000
                good = (p50 >= (1 - P50_TOLERANCE) * delay and
                        p50 <= (1 + P50_TOLERANCE) * want)
                diag.append("vcpu %d: %s p50 %.0f us; injected %d us; userspace %s p50 "
                            "%.0f us: %s" % (
                                v, s, p50 / 1e3, DELAY_US, "+".join(parts), want / 1e3,
                                "ok" if good else "NOT between 90% of the delay and "
                                "110% of the userspace interval"))
                ok = ok and good
        for other in others:
            if st[other]:
                ok = False
                diag.append("vcpu %d: the %s path is not empty: %s" % (v, other, list(st[other])))
    if "--kick-us" in extra:
        # the kicks must have ended KVM_RUN, or the run proves nothing
        eintr = [int(ln.split()[4]) for ln in out.splitlines()
                 if ln.startswith("kicks vcpu ")]
        diag.append("KVM_RUN ended by a kick (-EINTR), per vCPU: %s" % eintr)
        if len(eintr) != vcpus or min(eintr) < 1:
            ok = False
    tap(ok, name, diag)


def reader(path, *args):
    r = subprocess.run([path] + list(args), capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def check_reader_live(rd, vmm, requests):
    """kvmio-lat on the live module: JSON, bars, compare, watch, reset."""
    diag = []

    def checks(pid):
        rc, out, err = reader(rd, "show", "--json", "--exits")
        try:
            doc = json.loads(out)
            vm = [v for v in doc["vms"] if v["pid"] == pid][0]
            tot = vm["vcpus"][0]["paths"]["native"]["total"]
            ok_json = (doc["schema"] == "kvmio_lat/5" and tot["count"] == requests
                       and vm["vcpus"][0]["exits"] and "dropped" in doc["stats"]
                       and sum(b[2] for b in tot["buckets"]) == tot["count"])
            diag.append("show --json: schema %s, native total count %d, p50 %d ns, %d exit reasons" % (
                doc["schema"], tot["count"], tot["p50_ns"], len(vm["vcpus"][0]["exits"])))
        except (ValueError, KeyError, IndexError) as e:
            ok_json = False
            diag.append("show --json: %s; rc %d; %s" % (e, rc, err.strip()))
        rc2, out2, _ = reader(rd, "show", "--hist", "--pid", str(pid))
        ok_hist = rc2 == 0 and "distribution" in out2 and "total" in out2
        rc3, out3, _ = reader(rd, "compare", "--paths", "--pid", str(pid))
        ok_cmp = rc3 == 0 and "total" in out3
        rc4, out4, _ = reader(rd, "watch", "-i", "0.2", "-n", "2", "--json")
        lines = [ln for ln in out4.splitlines() if ln.strip()]
        ok_watch = rc4 == 0 and len(lines) == 2 and all(
            json.loads(ln)["schema"] == "kvmio_lat/5" for ln in lines)
        rc5, _, _ = reader(rd, "reset")
        rc6, out6, _ = reader(rd, "show", "--csv", "--pid", str(pid))
        ok_reset = rc5 == 0 and rc6 == 0 and len(out6.strip().splitlines()) == 1
        diag.append("show --hist %s, compare --paths %s, watch %s, reset %s" % tuple(
            "ok" if x else "FAILED" for x in (ok_hist, ok_cmp, ok_watch, ok_reset)))
        checks.ok = ok_json and ok_hist and ok_cmp and ok_watch and ok_reset

    checks.ok = False
    sh("echo 1 > %s/reset" % DBG)
    _, _, out, ran = run_vmm(vmm, ["io", "--mode", "native", "--vcpus", "1",
                                   "--requests", str(requests), "--dev", "/dev/nullb0",
                                   "--no-timing"], checks)
    tap(ran and checks.ok, "kvmio-lat on the live module: show --json/--hist/--exits, "
        "compare --paths, watch, reset", diag)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", required=True)
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--reader", help="kvmio-lat, to check it on live data")
    ap.add_argument("--no-hold-keys", dest="hold_keys", action="store_false",
                    help="let loads patch kernel text (selftests/lib/labhold.py)")
    a = ap.parse_args()

    print("TAP version 13")
    print("1..%d" % (12 if a.reader else 11))
    sh("rmmod kvmio_lat 2>/dev/null")
    # loading kvm patches text (labhold.py); offline CPUs only if it will
    cold = a.hold_keys and not os.path.exists("/sys/module/kvm_amd")
    with labhold.kvm_change() if cold else contextlib.nullcontext():
        kvm = sh("modprobe kvm_amd")
    if kvm or sh("modprobe configfs && modprobe null_blk nr_devices=1 "
                 "irqmode=2 completion_nsec=%d" % (DELAY_US * 1000)):
        print("Bail out! cannot load kvm_amd or null_blk")
        return 1
    if a.hold_keys:
        labhold.hold()	# no text patching under the lab's TCG (labhold.py)
    # Exact counts need every system call of a VM from its first exit on.
    # By default the module attaches those probes from a work item once
    # the VM appears, and kvmio-vmm submits within 2 ms of it: on a busy
    # CI machine the work ran later (39 of 40 recorded, 2026-12-06).  The
    # default is covered by kvmio_lat_test and the real-QEMU tests, whose
    # first I/O comes long after the VM's first exit.
    if sh("insmod %s syscall_probes_always=1" % a.module):
        print("Bail out! cannot load kvmio_lat")
        return 1
    n = a.requests
    native = {"wake_to_submit": ["wake_to_submit"],
              "submit_to_reap": ["submit_to_complete"],
              "reap_to_irq": ["reap_to_irq"]}
    threads = {"wake_to_dispatch": ["wake_to_submit", "handoff"],
               "io": ["worker_io"],
               "reap_to_irq": ["reap_to_irq"]}
    # io_uring: the module's reap is the loop's return, where kvmio-vmm's
    # complete_to_reap starts.  Its submit_to_complete, the kernel's own
    # interval, holds null_blk's delay but starts inside io_uring_enter,
    # before the return kvmio-vmm times from (under the debug kernel the
    # rest of the call took 0.7 ms): no userspace interval bounds it; the
    # truth test holds it against the kernel's own events instead.
    uring = {"wake_to_submit": ["wake_to_submit"],
             "reap_to_irq": ["complete_to_reap", "reap_to_irq"]}
    check_path("native, 1 vCPU: exact count, 5 ms delays found at p50 (90% of delay - 110% of userspace), "
               "stages add up, threads path empty", a.vmm, n, "native", 1, native)
    check_path("threads, 1 vCPU: exact count, 5 ms delays found at p50 (90% of delay - 110% of userspace), "
               "stages add up, native path empty", a.vmm, n, "threads", 1, threads)
    check_path("native, 2 vCPUs kept apart: exact count per vCPU, stages add up",
               a.vmm, n, "native", 2, {})
    check_path("io_uring, 1 vCPU: exact count, 5 ms delays found at p50 (90% of delay - 110% "
               "of userspace), stages add up, other paths empty", a.vmm, n, "io_uring", 1, uring)
    check_path("io_uring, 2 vCPUs kept apart: exact count per vCPU, stages add up",
               a.vmm, n, "io_uring", 2, {})
    check_path("threads, 2 vCPUs kept apart: exact count per vCPU, stages add up",
               a.vmm, n, "threads", 2, {})
    check_path("native with io_getevents (the 2016 chain): exact count, delays found",
               a.vmm, n, "native", 1, native, ["--reap", "getevents"])
    # QEMU kicks its vCPUs with a signal: one that comes while KVM handles
    # a doorbell's exit ends KVM_RUN (KVM_EXIT_INTR) after the ioeventfd
    # took the doorbell, which must stand
    check_path("native, vCPUs kicked every %d us (KVM_EXIT_INTR): exact count per vCPU, "
               "stages add up" % KICK_US, a.vmm, n, "native", 2, {},
               ["--kick-us", str(KICK_US)])
    if a.reader:
        check_reader_live(a.reader, a.vmm, n)
    hooks = read("/sys/module/kvmio_lat/parameters/syscall_hooks").strip()
    print("# the system calls above were seen through: %s" % hooks)
    time.sleep(0.2)
    st = kvmio_hist.parse_stats(read(DBG + "/stats"))
    tap(st["vms"] == 0 and st["inflight"] == 0,
        "after the VMs exit: vms 0, inflight 0",
        ["stats: vms %d vcpus %d inflight %d dropped %d unmatched %d" % (
            st["vms"], st["vcpus"], st["inflight"], st["dropped"], st["unmatched"])])
    sh("rmmod kvmio_lat")
    # the other way of seeing system calls (module/syshooks.c): the
    # raw_syscalls tracepoints, or the kretprobes where they are not the default
    other = "tracepoint" if hooks == "kprobe" else "kprobe"
    if sh("insmod %s syscall_probes_always=1 syscall_hooks=%s" % (a.module, other)):
        # only the kretprobes may be missing (a kernel without kprobes on ftrace)
        tap(other == "kprobe", "syscall_hooks=%s: cannot load%s" % (
            other, " # SKIP no kretprobes on ftrace" if other == "kprobe" else ""))
    else:
        check_path("native with syscall_hooks=%s: exact count, delays found" % other,
                   a.vmm, n, "native", 1, native)
        check_path("threads with syscall_hooks=%s: exact count, delays found" % other,
                   a.vmm, n, "threads", 1, threads)
        sh("rmmod kvmio_lat")
    if a.hold_keys:
        labhold.release()
    failed = results.count(False)
    print("# Totals: pass:%d fail:%d" % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
