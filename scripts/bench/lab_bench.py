#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench, inside the lab guest: what kvmio_lat costs, and its peers.

Runs as root in the lab's chroot (selftests/lab/lab.sh run).  Every raw
sample goes to OUT/raw.json as soon as it is taken (a guest that dies
leaves what it measured; --resume skips the sections already complete), and
each run prints one progress line.  scripts/bench/report.py turns raw.json
into the table and bench.json: nothing here computes a verdict.

    lab_bench.py --out DIR --module KO --vmm PATH --sysloop PATH --inner-initrd GZ
                 --reader PATH [--quick] [--rounds N] [--sections a,b,...]
                 [--peers a,b,...] [--variant NAME=KO]... [--resume]

Sections, in the order they run:
  exits     the VMM's port-I/O exit loop, 1 vCPU: nothing loaded, kvmio_lat,
            trace-cmd record of kvm_exit+kvm_entry, a hist-trigger synthetic
            exit->entry latency histogram; and not with --quick (they take
            long to start under TCG): bpftrace hist() of the same,
            kvmio_lat with clock=ktime (kvmio_lat itself runs with clock=tsc,
            what its default takes on a host), and, not with --icount, that
            with the clocksource switched to the HPET, the lab's default
            under TCG
  kexits    the same with exits KVM handles itself (CPUID): no system call
            per exit, as for most exits of a real guest
  ioexits   the same with a virtio doorbell's exit: port I/O bound to an
            ioeventfd nothing reads (exit, kvm_pio, entry, no userspace)
  untracked a syscall loop that runs no vCPU: nothing, kvmio_lat, kvmio_lat
            while a VM is tracked
  tracked   the same calls made by a tracked VM's I/O thread (sysloop --vm),
            the mix and read, write, ppoll, pread one kind at a time
  ioloop    the VMM's QEMU-like aio=native and aio=threads loops on null_blk
            (one run: both loops, one after the other)
  scaling   the exit loop with 1, 2, 4, 8, 16 vCPU threads
  scaling_vms  the exit loop in 1, 2, 4 VMs of one vCPU each, at once
  memory    kvmio_lat's stats memory_bytes: idle, VMs of 1..8 vCPUs, a short
            and a long I/O run, after each VM exits
  qemu      real QEMU (nested KVM), one inner guest with a virtio-blk disk on
            aio=native and one on aio=threads (one run: inner-io on each, its
            own time); with --quick it boots in the background from the start
  record    a kvmio-lat record of the I/O loop; its replay speed is measured
            on the machine (bench.sh)
  profile   (not with --quick) perf record -a -g of the exit loop with
            kvmio_lat, ftrace and kvmio_lat on the HPET: where the time goes

Interleaving: every run of a configuration sits between two runs with
nothing loaded, made just before and just after it, and the order of the
configurations rotates from round to round; report.py takes each run's cost
against the mean of its two neighbouring baseline runs, then the median over
rounds.
"""
import argparse
import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "selftests", "lib"))
import labhold  # noqa: E402

TRACEFS = "/sys/kernel/tracing"
DBG = "/sys/kernel/debug/kvmio_lat"
CLOCKSOURCE = "/sys/devices/system/clocksource/clocksource0/current_clocksource"
TMP = "/tmp/kvmio-bench"

# The peers' programs, exactly as bench reports them.
TRACE_CMD = ["trace-cmd", "record", "-e", "kvm:kvm_exit", "-e", "kvm:kvm_entry"]
SYNTH = "kvmio_bench_lat"
HIST_SETUP = [
    # (file under tracefs, what is written); torn down in reverse with '!'
    ("synthetic_events", "%s u64 lat_ns; int tid" % SYNTH),
    ("events/kvm/kvm_exit/trigger", "hist:keys=common_pid:ts0=common_timestamp"),
    ("events/kvm/kvm_entry/trigger",
     "hist:keys=common_pid:lat=common_timestamp-$ts0:"
     "onmatch(kvm.kvm_exit).trace(%s,$lat,common_pid)" % SYNTH),
    ("events/synthetic/%s/trigger" % SYNTH, "hist:keys=lat_ns.log2:sort=lat_ns"),
]
BPFTRACE_PROG = (
    'BEGIN { printf("READY\\n"); } '
    'tracepoint:kvm:kvm_exit { @start[tid] = nsecs; } '
    'tracepoint:kvm:kvm_entry /@start[tid]/ { '
    '@exit_to_entry_ns = hist(nsecs - @start[tid]); delete(@start[tid]); }')


def log(msg):
    print(msg, flush=True)


def sh(cmd, check=False, timeout=600):
    r = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout)
    if check and r.returncode:
        raise RuntimeError("%s: exit %d: %s" % (cmd, r.returncode, r.stdout.strip()[-800:]))
    return r.returncode, r.stdout


def read(path, default=None):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        if default is None:
            raise
        return default


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def append(path, text):
    """One write(2) with O_APPEND (tracefs files cannot seek: no "a" mode)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, (text + "\n").encode())
    finally:
        os.close(fd)


def run(cmd, timeout):
    """cmd to completion: (rc, stdout+stderr); rc 124 on timeout."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        return 124, out
    return p.returncode, out


def rotate(seq, r):
    r %= len(seq)
    return seq[r:] + seq[:r]


def stats():
    """kvmio_lat's stats file as {key: int}."""
    st = {}
    for ln in read(DBG + "/stats", "").splitlines():
        k, _, v = ln.partition(":")
        if v.strip().lstrip("-").isdigit():
            st[k.strip()] = int(v)
    return st


def interrupt(p, timeout=300):
    """Stop a peer tool the way a user does (SIGINT, it writes its output),
    killing it if it has not exited after @timeout seconds."""
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


class RunFailed(RuntimeError):
    """A measured program failed or timed out (not the tool being measured)."""


class Watchdog:
    """Progress marks, written to OUT/heartbeat (bench.sh watches its age
    from the machine); a mark older than STALL seconds makes a thread save
    what every process is doing to OUT/stall-N.txt, once per mark."""

    def __init__(self, out, stall):
        self.out, self.stall, self.n = out, stall, 0
        self.what, self.since, self.reported = "start", time.monotonic(), False
        self.lock = threading.Lock()
        threading.Thread(target=self._watch, daemon=True).start()

    def mark(self, what):
        with self.lock:
            self.what, self.since, self.reported = what, time.monotonic(), False
        write(os.path.join(self.out, "heartbeat"), "%.0f %s\n" % (time.monotonic(), what))

    def _watch(self):
        while True:
            time.sleep(10)
            with self.lock:
                late = not self.reported and time.monotonic() - self.since > self.stall
                what = self.what
                if late:
                    self.reported = True
            if late:
                self.n += 1
                log("# bench STALL: no progress for %d s at '%s'; what runs:" % (self.stall, what))
                # from /proc and to the console only: no program to start and
                # no file to write (the 9p root and $LAB_OUT may be what hangs)
                log("\n".join("# " + ln for ln in tasks().splitlines()))


def tasks():
    """Every task's state and wait channel, and the kernel stack of those
    that are blocked or belong to the bench's programs."""
    out = []
    for pid in sorted((int(p) for p in os.listdir("/proc") if p.isdigit())):
        for tid in sorted(int(t) for t in os.listdir("/proc/%d/task" % pid)
                          if t.isdigit()) if os.path.isdir("/proc/%d/task" % pid) else []:
            base = "/proc/%d/task/%d/" % (pid, tid)
            st = read(base + "stat", "")
            if not st:
                continue
            comm = st[st.index("(") + 1:st.rindex(")")]
            state = st[st.rindex(")") + 2]
            wchan = read(base + "wchan", "?")
            out.append("%d/%d %s %s %s" % (pid, tid, comm, state, wchan))
            if state == "D" or comm.startswith(("kvmio-vmm", "python3", "qemu", "trace-cmd",
                                                "bpftrace", "sysloop", "perf", "kvm")):
                out += ["    " + ln for ln in read(base + "stack", "").splitlines()]
    return "\n".join(out)


class Stopped:
    """kvmio-vmm ARGS --stop-when-done: the VM exists (stopped) inside `with`.
    ARGS carry the VMM's own --timeout; TIMEOUT bounds the wait on top."""

    def __init__(self, vmm, args, timeout=1300):
        self.timeout = timeout
        self.output = ""
        self.p = subprocess.Popen([vmm] + args + ["--stop-when-done"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def __enter__(self):
        end = time.monotonic() + self.timeout
        while True:
            pid, status = os.waitpid(self.p.pid, os.WUNTRACED | os.WNOHANG)
            if pid:
                break
            if time.monotonic() > end:
                self.p.kill()
                self.output, _ = self.p.communicate()
                raise RunFailed("kvmio-vmm %s: no result within %d s: %s" % (
                    " ".join(self.p.args[1:3]), self.timeout, self.output[-800:]))
            time.sleep(0.05)
        if not os.WIFSTOPPED(status):
            self.p.returncode = os.waitstatus_to_exitcode(status)
            raise RunFailed("kvmio-vmm failed (exit %d): %s" % (self.p.returncode,
                                                                    self.p.stdout.read()[-800:]))
        return self

    def __exit__(self, *exc):
        os.kill(self.p.pid, signal.SIGCONT)
        self.output, _ = self.p.communicate(timeout=600)
        time.sleep(0.2)     # the module drops the VM on its exit
        return False


# ---------------------------------------------------------------- peers

class Peer:
    """A tool measuring exits: start() before a timed run, stop() after."""
    name = "nothing"

    def start(self):
        pass

    def stop(self, keep=False):
        return {}


# The system-call probes attached at load, not when the first VM appears:
# the same steady state, but no text patching while a VM runs, which the
# lab's TCG can hang on (Documentation/lab.rst); the untracked
# process's run without a VM is the one that shows the default.
# clock=tsc: what the default (clock=auto) takes on any host whose CPU says
# its TSC is constant; TCG's CPU model does not say so, and the lab boots
# tsc=reliable (bench.sh).  kvmio_lat@ktime shows the other clock.
ALWAYS = "syscall_probes_always=1 clock=tsc"
KTIME = "syscall_probes_always=1 clock=ktime"


class Kvmio(Peer):
    """kvmio_lat loaded (with the clocksource switched to CLOCK, if given).
    Builds without the clock parameter (--variant git-REV) ignore it."""

    def __init__(self, name, ko, clock=None, params=ALWAYS):
        self.name, self.ko, self.clock, self.saved = name, ko, clock, None
        self.params = params

    def start(self):
        sh("rmmod kvmio_lat 2>/dev/null")
        if self.clock:
            self.saved = read(CLOCKSOURCE).strip()
            write(CLOCKSOURCE, self.clock)
            if read(CLOCKSOURCE).strip() != self.clock:
                raise RuntimeError("cannot switch the clocksource to " + self.clock)
        sh("insmod %s %s" % (self.ko, self.params), check=True)
        if stats().get("kvm_attached") != 1:
            self.stop()
            raise RuntimeError("kvmio_lat did not attach to kvm")

    def stop(self, keep=False):
        st = stats() if keep else None
        rc, out = sh("rmmod kvmio_lat")
        if self.saved:
            write(CLOCKSOURCE, self.saved)
            self.saved = None
        if rc:
            raise RuntimeError("rmmod kvmio_lat: " + out)
        return {"stats": st} if keep else {}


class TraceCmd(Peer):
    """trace-cmd recording kvm_exit and kvm_entry (or, with @cmd, another
    recorder taking -o FILE and stopping on SIGINT)."""

    def __init__(self, name="ftrace", cmd=TRACE_CMD):
        self.name, self.cmd = name, cmd
        self.dat = os.path.join(TMP, "trace.dat")
        self.logf = os.path.join(TMP, "trace-cmd.log")
        self.p = None

    def start(self):
        if os.path.exists(self.dat):
            os.unlink(self.dat)
        with open(self.logf, "w") as lf:
            self.p = subprocess.Popen(self.cmd + ["-o", self.dat], stdout=lf,
                                      stderr=subprocess.STDOUT, cwd=TMP)
        en = TRACEFS + "/events/kvm/kvm_entry/enable"
        end = time.monotonic() + 300
        while read(en, "0").strip() != "1":
            if self.p.poll() is not None or time.monotonic() > end:
                self.stop()
                raise RuntimeError("trace-cmd did not start: " + read(self.logf, "")[-800:])
            time.sleep(0.05)
        time.sleep(0.5)     # its per-CPU recorders start right after the events
        self.clock = read(TRACEFS + "/trace_clock", "?").strip()

    def stop(self, keep=False):
        interrupt(self.p)
        res = {}
        if keep and os.path.exists(self.dat):
            res = {"dat_bytes": os.path.getsize(self.dat), "trace_clock": self.clock,
                   "log": read(self.logf, "")[-1500:]}
        if os.path.exists(self.dat):
            os.unlink(self.dat)
        if self.p.returncode not in (0, -signal.SIGINT):
            raise RuntimeError("trace-cmd exited %d: %s" % (self.p.returncode,
                                                           read(self.logf, "")[-800:]))
        return res


class FtraceOnePid(Peer):
    """ftrace's raw_syscalls events for one other process (set_event_pid),
    in an instance of its own: what any system-call tracer watching a VM
    costs a process it does not watch."""
    name = "ftrace_pid"
    inst = TRACEFS + "/instances/kvmio_bench_sys"

    def start(self):
        os.makedirs(self.inst, exist_ok=True)
        write(self.inst + "/set_event_pid", str(os.getpid()))
        write(self.inst + "/events/raw_syscalls/enable", "1")

    def stop(self, keep=False):
        write(self.inst + "/events/raw_syscalls/enable", "0")
        write(self.inst + "/set_event_pid", "")
        os.rmdir(self.inst)
        return {}


class HistTrigger(Peer):
    name = "hist_trigger"

    def start(self):
        for f, s in HIST_SETUP:
            try:
                append(os.path.join(TRACEFS, f), s)
            except OSError as e:
                err = read(TRACEFS + "/error_log", "")
                self.stop()
                raise RuntimeError("hist trigger: writing %r to %s: %s; error_log: %s" %
                                   (s, f, e, err[-500:]))

    def stop(self, keep=False):
        res = {}
        if keep:
            res["hist"] = read(os.path.join(TRACEFS, "events/synthetic", SYNTH, "hist"), "")
        for f, s in reversed(HIST_SETUP):
            path = os.path.join(TRACEFS, f)
            try:
                if f == "synthetic_events":
                    if SYNTH in read(path, ""):
                        append(path, "!" + SYNTH)
                elif s.split(":")[1] in read(path, ""):
                    append(path, "!" + s)
            except OSError:
                pass
        return res


class Bpftrace(Peer):
    name = "bpftrace"

    def __init__(self):
        self.outf = os.path.join(TMP, "bpftrace.out")
        self.p = None

    def start(self):
        with open(self.outf, "w") as of:
            self.p = subprocess.Popen(["bpftrace", "-B", "line", "-e", BPFTRACE_PROG],
                                      stdout=of, stderr=subprocess.STDOUT)
        end = time.monotonic() + 600     # compiling under TCG: tens of seconds
        while "READY" not in read(self.outf, ""):
            if self.p.poll() is not None or time.monotonic() > end:
                self.stop()
                raise RuntimeError("bpftrace did not start: " + read(self.outf, "")[-800:])
            time.sleep(0.05)

    def stop(self, keep=False):
        interrupt(self.p)
        return {"output": read(self.outf, "")[-4000:]} if keep else {}


# ---------------------------------------------------------------- the bench

class Bench:
    def __init__(self, a):
        self.a = a
        os.makedirs(TMP, exist_ok=True)
        self.rawf = os.path.join(a.out, "raw.json")
        self.raw = {}
        if a.resume and os.path.exists(self.rawf):
            self.raw = json.load(open(self.rawf))
        self.raw.setdefault("boots", []).append({
            "kernel": os.uname().release,
            "cpus": os.cpu_count(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "clocksource": read(CLOCKSOURCE, "?").strip(),
            "cmdline": read("/proc/cmdline", "?").strip(),
            "trace_clock": read(TRACEFS + "/trace_clock", "?").strip(),
            "quick": a.quick,
            "icount": a.icount,
            "sections": a.sections,
        })
        self.boot = len(self.raw["boots"]) - 1
        self.raw.setdefault("sections", {})
        self.kvmio = Kvmio("kvmio_lat", a.module)
        self.kvmio_default = Kvmio("kvmio_lat", a.module, params="")
        self.dog = Watchdog(a.out, a.stall)
        self.current = None
        self.inner = None
        self.variants = [Kvmio("kvmio_lat:" + n, ko) for n, ko in
                         (v.split("=", 1) for v in a.variant)]

    def save(self):
        tmp = self.rawf + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.raw, f, indent=1, sort_keys=True)
        os.replace(tmp, self.rawf)

    def section(self, name, params):
        s = {"boot": self.boot, "params": params, "samples": [], "notes": [],
             "complete": False}
        self.raw["sections"][name] = s
        self.save()
        return s

    def done(self, sec):
        sec["complete"] = True
        self.save()

    def interleaved(self, sec, configs, measure, label, rounds=None):
        """Around every config run, a run with nothing loaded; rotate the order."""
        base = Peer()
        rounds = rounds or self.a.rounds
        for r in range(rounds):
            seq = []
            for c in rotate(configs, r):
                seq += [base, c]
            seq.append(base)
            keep = r == rounds - 1
            for i, peer in enumerate(seq):
                self.current = peer.name
                for attempt in (1, 2):
                    self.dog.mark("%s round %d: starting %s" % (label, r, peer.name))
                    peer.start()
                    try:
                        self.dog.mark("%s round %d: %s, measuring" % (label, r, peer.name))
                        res = measure()
                    except RunFailed as e:
                        # TCG's nested SVM now and then strands a vCPU: once
                        # is noted and measured again, twice fails the section
                        if attempt == 2:
                            raise
                        sec["notes"].append("%s round %d %s: measured again after: %s" %
                                            (label, r, peer.name, str(e)[:300]))
                        log("# bench %s round %d %s: run failed, measuring again: %s" %
                            (label, r, peer.name, str(e)[:200]))
                        continue
                    finally:
                        self.dog.mark("%s round %d: stopping %s" % (label, r, peer.name))
                        produced = peer.stop(keep=keep)
                    break
                res.update({"round": r, "seq": i, "config": peer.name,
                            "t": round(time.monotonic(), 3)})
                sec["samples"].append(res)
                if produced:
                    sec.setdefault("produced", {}).setdefault(label, {})[peer.name] = produced
                self.save()
                log("# bench %-12s round %d %-20s %s" % (label, r, peer.name, " ".join(
                    "%s=%.5g" % (k, v) for k, v in res.items()
                    if isinstance(v, float) and k != "t")))

    # -- the exit loop

    def exits_run(self, vcpus, total, snapshot=None, kind="pio"):
        """One exit-loop run; with kvmio_lat loaded and snapshot a dict, its
        snapshot of that VM goes there (taken after the timed loop).  kind:
        pio (port I/O to userspace), cpuid (exits KVM handles itself) or
        ioeventfd (port I/O KVM hands to an ioeventfd: a virtio doorbell)."""
        per = max(1, total // vcpus)
        with Stopped(self.a.vmm, ["exits", "--vcpus", str(vcpus), "--count", str(per),
                                  "--timeout", str(self.a.run_timeout)] +
                     ([] if kind == "pio" else ["--" + kind]),
                     self.a.run_timeout + 30) as v:
            if snapshot is not None and self.current == "kvmio_lat":
                hist = read(DBG + "/hist")
                exits = {}
                for ln in hist.splitlines():
                    w = ln.split()
                    if w and w[0] == "exit" and int(w[1]) == v.p.pid:
                        exits[w[3]] = int(re.search(r"count=(\d+)", ln).group(1))
                snapshot.update({"stats": stats(), "exits_by_reason": exits,
                                 "hist_bytes": len(hist)})
        m = re.search(r"summary vcpus (\d+) exits (\d+) elapsed_ns (\d+) ns_per_exit \d+ "
                      r"result (\w+)", v.output)
        if v.p.returncode or not m or m.group(4) != "pass":
            raise RunFailed("kvmio-vmm exits failed (exit %s): %s" %
                               (v.p.returncode, v.output[-800:]))
        exits, elapsed = int(m.group(2)), int(m.group(3))
        # wall time per exit, and the CPU time an exit takes: wall x the
        # CPUs the vCPU threads keep busy
        busy = min(vcpus, os.cpu_count())
        return {"vcpus": vcpus, "exits": exits, "elapsed_ns": elapsed,
                "ns_per_exit": elapsed / exits, "cpu_ns_per_exit": busy * elapsed / exits}

    def exit_peers(self):
        known = {"kvmio_lat": self.kvmio, "ftrace": TraceCmd(), "hist_trigger": HistTrigger(),
                 "bpftrace": Bpftrace(),
                 "kvmio_lat@ktime": Kvmio("kvmio_lat@ktime", self.a.module, params=KTIME),
                 "kvmio_lat@hpet": Kvmio("kvmio_lat@hpet", self.a.module, "hpet", KTIME)}
        bad = [p for p in self.a.peers if p not in known]
        if bad:
            raise RuntimeError("unknown exit-loop peers: %s" % ", ".join(bad))
        return [known[p] for p in self.a.peers] + self.variants

    def exit_loop(self, name, kind):
        """Every exit-loop peer, interleaved; what kvmio_lat had for the
        loop of its last run goes to "produced"."""
        n = self.a.exits
        params = {"vcpus": 1, "exits_per_run": n, "rounds": self.a.rounds,
                  "peers": self.a.peers, "trace_cmd": " ".join(TRACE_CMD + ["-o", "FILE"]),
                  "hist_trigger": HIST_SETUP, "bpftrace": BPFTRACE_PROG}
        if kind != "pio":
            params["exit"] = kind
        sec = self.section(name, params)
        snap = {}
        self.interleaved(sec, self.exit_peers(),
                         lambda: self.exits_run(1, n, snap, kind=kind), name)
        sec.setdefault("produced", {}).setdefault("exits", {}).setdefault(
            "kvmio_lat", {}).update(snap)
        self.done(sec)

    def sec_exits(self):
        self.exit_loop("exits", "pio")

    def sec_kexits(self):
        """The exit loop again with exits KVM handles itself (CPUID): no
        return to userspace, so no system call per exit, as for most exits
        of a real guest (HLT, MSRs, ioeventfd doorbells, NPT faults)."""
        self.exit_loop("kexits", "cpuid")

    def sec_ioexits(self):
        """The exit loop again with the I/O exit of a virtio doorbell: port
        I/O bound to an ioeventfd (exit, kvm_pio, entry; KVM signals the
        eventfd, nothing returns to userspace), the commonest I/O exit."""
        self.exit_loop("ioexits", "ioeventfd")

    # -- where the exit loop's time goes

    def sec_profile(self):
        """perf record -a -g of one run per (workload, configuration): which
        share of the workload's samples has a tracing tool's function on its
        call chain (callees included: the tool's clock reads, locks, ...)."""
        data = os.path.join(TMP, "perf.data")
        ne, ns, nr = self.a.exits * 2, self.a.sys_iters, self.a.profile_requests or self.a.requests
        vmm = self.a.vmm
        io = [vmm, "io", "--vcpus", "1", "--requests", str(nr), "--dev", "/dev/nullb0",
              "--no-timing", "--mode"]
        peers = {p.name: p for p in self.exit_peers()}
        # (workload, peers, command, what one unit is, units per run, whose samples)
        work = [("exits", [Peer()] + list(peers.values()),
                 [vmm, "exits", "--vcpus", "1", "--count", str(ne)], "exit", ne, "vcpu0"),
                ("kexits", [Peer()] + list(peers.values()),
                 [vmm, "exits", "--cpuid", "--vcpus", "1", "--count", str(ne)], "exit", ne,
                 "vcpu0"),
                ("untracked", [Peer(), self.kvmio_default],
                 [self.a.sysloop, "--mode", "mix", "--iters", str(ns)], "syscall", ns * 8,
                 "sysloop"),
                ("tracked", [Peer(), self.kvmio],
                 [self.a.sysloop, "--vm", "--mode", "mix", "--iters", str(ns)], "syscall",
                 ns * 8, "sysloop"),
                ("ioloop-native", [Peer(), self.kvmio], io + ["native"], "request", nr,
                 "busy"),
                ("ioloop-threads", [Peer(), self.kvmio], io + ["threads"], "request", nr,
                 "busy"),
                ("ioloop-uring", [Peer(), self.kvmio], io + ["io_uring"], "request", nr,
                 "busy")]
        if self.a.profile_workloads:
            work = [w for w in work if w[0] in self.a.profile_workloads]
        sec = self.section("profile", {
            "record": "perf record -q -a -g -F %d -o FILE -- COMMAND" % self.a.perf_freq,
            "script": "perf script -F comm,tid,ip,sym: the workload's samples (the exit "
                      "loop: its vCPU thread; else the process, by name) and their call "
                      "chains; the other samples counted per comm",
            "how": "a sample counts for a category when one of its frames matches it; "
                   "share x the run's time per unit = time per unit spent there",
            "categories": {k: v.pattern for k, v in PROFILE_CATEGORIES.items()},
            "workloads": {w[0]: " ".join(os.path.basename(x) for x in w[2]) for w in work}})
        self.nullb()
        for wname, wpeers, cmd, unit, units, whose in work:
            for peer in wpeers:
                self.dog.mark("profile %s: %s" % (wname, peer.name))
                peer.start()
                try:
                    rc, out = run(["perf", "record", "-q", "-a", "-g", "-F",
                                   str(self.a.perf_freq), "-o", data, "--"] + cmd, 1800)
                    el = re.search(r"elapsed_ns (\d+)", out)
                    # under --icount and perf at 20 kHz the VMM's guest
                    # counted an interrupt or two more than its requests
                    # (twice, with kvmio_lat loaded): the lab's nested SVM
                    # (kvmio_lat injects nothing); every request
                    # done, the profile stands, and says so
                    whole = re.search(r"completed (\d+) of \1 requests", out)
                    if not el or (rc and not whole):
                        raise RuntimeError("perf record %s failed: %s" % (wname, out[-800:]))
                    if rc:
                        sec.setdefault("warnings", []).append(
                            "%s %s: %s" % (wname, peer.name, whole.group(0)))
                    if whose == "vcpu0":
                        tid = int(re.search(r"vcpu 0 tid (\d+)", out).group(1))
                        mine = (lambda c, t, tid=tid: t == tid)
                    elif whose == "busy":     # the I/O's kworkers and interrupts too
                        mine = (lambda c, t: not c.startswith("swapper"))
                    else:
                        mine = (lambda c, t, whose=whose: c == whose)
                    # while the module is loaded: perf finds its symbols in kallsyms
                    rc, scr = run(["perf", "script", "-i", data, "-F", "comm,tid,ip,sym"], 1800)
                finally:
                    peer.stop()
                os.unlink(data)
                if rc:
                    raise RuntimeError("perf script failed: " + scr[-800:])
                self.profiled(sec, scr, mine, wname, peer.name, unit,
                              int(el.group(1)) / units, units)
        if self.a.profile_qemu and (not self.a.profile_workloads or
                                    "qemu" in self.a.profile_workloads):
            self.profile_qemu(sec, data)
        self.done(sec)

    def profiled(self, sec, scr, mine, wname, config, unit, ns_per, units):
        prof = profile_chains(scr, mine)
        prof.update({"workload": wname, "config": config, "unit": unit, "ns_per_unit": ns_per,
                     "units": units, "perf_freq": self.a.perf_freq})
        sec["samples"].append(prof)
        self.save()
        log("# bench profile %-14s %-16s ns/%s=%.0f samples=%d %s" % (
            wname, config, unit, ns_per, prof["samples"], " ".join(
                "%s=%.1f%%" % (k, 100.0 * v / max(1, prof["samples"]))
                for k, v in sorted(prof["categories"].items()) if v)))

    def profile_qemu(self, sec, data):
        """Real QEMU under perf: every sample but the idle task's (QEMU's
        vCPUs, main loop and thread pool, and the kworkers and interrupts
        the I/O wakes) during one inner-io run per path, nothing loaded and
        kvmio_lat loaded."""
        ios = self.a.profile_ios or (self.a.qemu_reads, self.a.qemu_writes)
        sec["params"]["workloads"].update(
            {"qemu-" + m: "real QEMU, inner-io %d reads + %d writes on aio=%s" % (ios + (m,))
             for m in QEMU_MODES})
        q = self.inner_ready()
        for peer in [Peer(), self.kvmio] + self.variants:
            self.dog.mark("profile qemu: %s" % peer.name)
            peer.start()
            try:
                for mode in QEMU_MODES:
                    perf = subprocess.Popen(
                        ["perf", "record", "-q", "-a", "-g", "-F", str(self.a.perf_freq), "-o",
                         data, "--", "sh", "-c", "echo recording; exec sleep 3600"],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                    if "recording" not in perf.stdout.readline():
                        perf.kill()
                        raise RuntimeError("perf record did not start: " + perf.stdout.read())
                    q.send("go %s %d %d" % ((mode,) + ios))
                    m = q.wait_for(r"inner-io: reads (\d+) writes (\d+) jobs \d+ in ([\d.]+) s",
                                   1800)
                    q.wait_for("KVMIO-BENCH-DONE", 60)
                    # perf's status then is its workload's, killed: the
                    # recording is judged by what perf script makes of it
                    perf.send_signal(signal.SIGINT)
                    out = perf.communicate(timeout=300)[0]
                    rc, scr = run(["perf", "script", "-i", data, "-F", "comm,tid,ip,sym"], 1800)
                    if os.path.exists(data):
                        os.unlink(data)
                    if rc:
                        raise RuntimeError("perf record (status %d: %s) / script failed: %s" % (
                            perf.returncode, out[-400:], scr[-800:]))
                    n = int(m.group(1)) + int(m.group(2))
                    # every busy sample: the probes also run in kworkers
                    # and in completions' interrupts, wherever they land
                    self.profiled(sec, scr, lambda c, t: not c.startswith("swapper"),
                                  "qemu-" + mode, peer.name, "I/O", float(m.group(3)) * 1e9 / n, n)
            finally:
                peer.stop()

    # -- a process that runs no vCPU

    def sec_untracked(self):
        iters = self.a.sys_iters
        sec = self.section("untracked", {"sysloop": "mix", "iters": iters,
                                         "syscalls_per_iter": 8, "rounds": self.a.rounds})
        bench = self

        class WithVm(Kvmio):
            """kvmio_lat loaded and a VM tracked (kvmio-vmm stopped with its VM)."""

            def __init__(self, name="kvmio_lat+vm", ko=bench.a.module):
                super().__init__(name, ko)
                self.vm = None

            def start(self):
                super().start()
                self.vm = Stopped(bench.a.vmm, ["exits", "--vcpus", "1", "--count", "100",
                                                "--timeout", str(bench.a.vmm_timeout)],
                                  bench.a.vmm_timeout + 60)
                self.vm.__enter__()
                # its own vCPU in the hist (the real-QEMU inner guest, alive
                # from the profile section on, may be tracked too)
                # (bare tracks nothing: its probes return at their first test)
                if not self.name.startswith("kvmio_lat:bare") and \
                        ("\nvcpu %d 0 " % self.vm.p.pid) not in "\n" + read(DBG + "/hist", ""):
                    raise RuntimeError("no tracked VM for the untracked-process run")

            def stop(self, keep=False):
                self.vm.__exit__()
                return super().stop(keep)

        def measure():
            rc, out = run([self.a.sysloop, "--mode", "mix", "--iters", str(iters)], 600)
            m = re.search(r"syscalls (\d+) elapsed_ns (\d+) ns_per_syscall [\d.]+ cpu_ns (\d+)",
                          out)
            if rc or not m:
                raise RunFailed("sysloop failed: " + out[-800:])
            calls = int(m.group(1))
            return {"ns_per_syscall": int(m.group(2)) / calls,
                    "cpu_ns_per_syscall": int(m.group(3)) / calls}

        # each --variant too, with its VM: what a change costs other processes
        with_vm = [WithVm(v.name + "+vm", v.ko) for v in self.variants]
        self.interleaved(sec, [self.kvmio_default, WithVm(), FtraceOnePid()] + with_vm,
                         measure, "untracked")
        self.done(sec)

    # -- a VM's own I/O thread

    TRACKED_MODES = ("mix", "read", "write", "ppoll", "pread")

    def sec_tracked(self):
        """The system calls of a tracked VM's I/O thread (sysloop --vm: the
        process runs a vCPU to one exit first), one call kind at a time:
        what each hooked call of QEMU's event loop and pool costs with the
        hooks' return armed and the engine at work."""
        iters = max(self.a.sys_iters // 5, 1000)
        sec = self.section("tracked", {"sysloop": "--vm", "iters": iters,
                                       "modes": list(self.TRACKED_MODES),
                                       "rounds": self.a.rounds})

        def measure():
            res = {}
            for mode in self.TRACKED_MODES:
                rc, out = run([self.a.sysloop, "--vm", "--mode", mode, "--iters", str(iters)],
                              600)
                m = re.search(r"syscalls (\d+) elapsed_ns (\d+)", out)
                t = re.search(r"^tracked (\S+)", out, re.M)
                if rc or not m or not t:
                    raise RunFailed("sysloop --vm failed: " + out[-800:])
                # (bare tracks nothing: its probes return at their first test)
                if t.group(1) == "0" and not self.current.endswith(":bare"):
                    raise RunFailed("sysloop --vm: kvmio_lat did not track its VM")
                res[mode + "_ns_per_call"] = int(m.group(2)) / int(m.group(1))
            return res
        self.interleaved(sec, [self.kvmio] + self.variants, measure, "tracked")
        self.done(sec)

    # -- the VMM's I/O loops

    def nullb(self):
        if not os.path.exists("/dev/nullb0"):
            sh("modprobe configfs; modprobe null_blk nr_devices=1", check=True)

    def sec_ioloop(self):
        self.nullb()
        req = self.a.requests
        sec = self.section("ioloop", {"dev": "/dev/nullb0 (null_blk defaults)",
                                      "requests_per_run": req, "vcpus": 1,
                                      "rounds": self.a.rounds})

        def measure():
            res = {}
            for mode in ("native", "threads"):
                rc, out = run([self.a.vmm, "io", "--mode", mode, "--vcpus", "1",
                               "--requests", str(req), "--dev", "/dev/nullb0", "--no-timing",
                               "--timeout", str(self.a.vmm_timeout)], self.a.vmm_timeout + 60)
                m = re.search(r"summary .* elapsed_ns (\d+) result (\w+)", out)
                if rc or not m or m.group(2) != "pass":
                    raise RunFailed("kvmio-vmm io --mode %s failed: %s" % (mode, out[-800:]))
                res[mode + "_requests_per_s"] = req * 1e9 / int(m.group(1))
            return res
        self.interleaved(sec, [self.kvmio] + self.variants, measure, "ioloop")
        self.done(sec)

    # -- scaling

    def scaling(self, name, plist, counts, run, warm_up=False):
        """The exit loop at each of COUNTS (vCPU threads, VMs) through RUN(n,
        total).  With --icount, a second run 4 x as long per count splits
        the added cost into a part per exit and a part per run (setting up
        and tearing down), which a larger count shares among fewer exits."""
        totals = [self.a.scaling_exits] + ([4 * self.a.scaling_exits] if self.a.icount else [])
        sec = self.section(name, {plist: counts, "exits_per_run": totals[0], "totals": totals,
                                  "rounds": self.a.rounds, "cpus": os.cpu_count()})
        if warm_up:
            self.dog.mark("%s: warming up" % name)
            run(counts[-1], totals[0])
        for n in counts:
            for t in totals:
                self.interleaved(sec, [self.kvmio], lambda n=n, t=t: dict(run(n, t), total=t),
                                 "%s-%d%s" % (name, n, "" if t == totals[0] else "-x%d" % (t // totals[0])))
        self.done(sec)

    def sec_scaling(self):
        self.scaling("scaling", "threads", self.a.scaling_threads, self.exits_run)

    def vms_run(self, vms, total):
        """VMS kvmio-vmm exit loops of one vCPU each, all at once, TOTAL
        exits among them: from the first loop's start to the last one's end
        (CLOCK_MONOTONIC, as each VMM reports them).  Each VMM sets up, then
        waits 300 ms before its loop, so that no VM's setup, which waits
        on nothing that -icount counts, falls inside; a VM's exit can,
        which the split by totals (report.py) takes out."""
        per = max(1, total // vms)
        ps = [subprocess.Popen([self.a.vmm, "exits", "--vcpus", "1", "--count", str(per),
                                "--timeout", str(self.a.run_timeout),
                                "--start-delay-ms", "300"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for _ in range(vms)]
        outs = []
        try:
            for p in ps:
                outs.append(p.communicate(timeout=self.a.run_timeout + 30)[0])
        except subprocess.TimeoutExpired:
            raise RunFailed("kvmio-vmm exits: %d VMs, no result within %d s" %
                            (vms, self.a.run_timeout + 30))
        finally:
            for p in ps:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        exits, starts, ends = 0, [], []
        for p, out in zip(ps, outs):
            m = re.search(r"summary vcpus \d+ exits (\d+) .* result (\w+) start_ns (\d+) "
                          r"end_ns (\d+)", out)
            if p.returncode or not m or m.group(2) != "pass":
                raise RunFailed("kvmio-vmm exits failed (exit %s): %s" % (p.returncode, out[-800:]))
            exits += int(m.group(1))
            starts.append(int(m.group(3)))
            ends.append(int(m.group(4)))
        elapsed = max(ends) - min(starts)
        time.sleep(0.2)     # the module drops the VMs on their exit
        busy = min(vms, os.cpu_count())
        return {"vms": vms, "exits": exits, "elapsed_ns": elapsed,
                "ns_per_exit": elapsed / exits, "cpu_ns_per_exit": busy * elapsed / exits}

    def sec_scaling_vms(self):
        # a first start of that many VMs at once is slower, whoever is
        # loaded: one run to warm up, not kept
        self.scaling("scaling_vms", "vms", self.a.scaling_vms, self.vms_run, warm_up=True)

    # -- memory

    def settle(self):
        """memory_bytes once the pools' refill work has run (3 equal reads)."""
        last, same = None, 0
        for _ in range(150):
            cur = stats()["memory_bytes"]
            same = same + 1 if cur == last else 0
            if same == 2:
                return cur
            last = cur
            time.sleep(0.1)
        return last

    def sec_memory(self):
        sec = self.section("memory", {"vcpus": self.a.memory_vcpus,
                                      "long_run_requests": self.a.long_requests})
        mem = sec["memory"] = {}
        self.nullb()
        self.kvmio.start()
        try:
            mem["idle"] = self.settle()
            dm = sh("dmesg | grep 'kvmio_lat: loaded' | tail -1")[1].strip()
            m = re.search(r"(\d+) bytes per vCPU, (\d+) per VM", dm)
            if m:
                mem["charge_per_vcpu"], mem["charge_per_vm"] = int(m.group(1)), int(m.group(2))
            for n in self.a.memory_vcpus:
                self.dog.mark("memory: VM of %d vCPUs" % n)
                with Stopped(self.a.vmm, ["exits", "--vcpus", str(n), "--count", "100",
                                          "--timeout", str(self.a.vmm_timeout)],
                             self.a.vmm_timeout + 60):
                    mem["vm_%d_vcpus" % n] = self.settle()
                    mem["vm_%d_vcpus_tracked" % n] = stats().get("vcpus")
                mem["after_vm_%d_exit" % n] = self.settle()
                log("# bench memory VM of %d vCPU(s): %d bytes, after it exits %d" %
                    (n, mem["vm_%d_vcpus" % n], mem["after_vm_%d_exit" % n]))
            # one VM shape, a short and a long I/O run: no growth with the length
            for tag, req in (("short", self.a.short_requests), ("long", self.a.long_requests)):
                self.dog.mark("memory: %s run" % tag)
                with Stopped(self.a.vmm, ["io", "--mode", "native", "--vcpus", "2",
                                          "--requests", str(req), "--dev", "/dev/nullb0",
                                          "--no-timing", "--timeout", str(self.a.vmm_timeout)],
                             self.a.vmm_timeout + 60):
                    mem["%s_run" % tag] = self.settle()
                    mem["%s_run_requests" % tag] = req
                    mem["%s_run_stats" % tag] = stats()
                mem["after_%s_run_exit" % tag] = self.settle()
                log("# bench memory %s run (%d requests): %d bytes, after it exits %d" %
                    (tag, req, mem["%s_run" % tag], mem["after_%s_run_exit" % tag]))
        finally:
            self.kvmio.stop()
        self.done(sec)

    # -- real QEMU

    def qemu_boot(self):
        """Start the inner guest: a disk on aio=native, one on aio=threads,
        one on aio=io_uring."""
        cmd = ["qemu-system-x86_64", "-enable-kvm", "-cpu", "host", "-m", "256", "-smp", "1",
               "-nographic", "-nodefaults", "-no-reboot", "-serial", "stdio",
               "-kernel", os.environ["LAB_VMLINUZ"], "-initrd", self.a.inner_initrd,
               "-append", "console=ttyS0 quiet panic=-1"]
        # both on the lab's scratch disk: nothing reads back what is written;
        # with --icount on null_blk, so that no time is spent waiting for the
        # host, which the instruction clock would count at the host's pace
        disk = os.environ.get("LAB_DISK", "/dev/vda")
        if self.a.icount:
            self.nullb()
            disk = "/dev/nullb0"
        for i, mode in enumerate(QEMU_MODES):
            cmd += ["-drive", "file=%s,if=none,id=d%d,format=raw,cache=none,aio=%s,"
                    "file.locking=off" % (disk, i, mode),
                    "-device", "virtio-blk-pci,drive=d%d,serial=%s" % (i, mode)]
        self.inner = Inner(cmd, os.path.join(self.a.out, "qemu.log"))
        self.inner_cmd = " ".join(cmd)
        self.inner_up = False

    def inner_ready(self):
        """The inner guest, once it is up (with --quick it has been booting
        in the background since the start).  It says so once: the profile's
        real-QEMU runs and the qemu section share one boot, and the second
        to ask must not wait for the line again (a full make bench stalled
        there until the watchdog killed the lab).  A guest that dies before
        it is up (the lab's nested SVM: a clean-clone make check saw QEMU
        exit silently during the inner kernel's boot) boots once more."""
        if not self.inner:
            self.qemu_boot()
        if not self.inner_up:
            try:
                self.inner.wait_for("KVMIO-BENCH-READY", 900)
            except RuntimeError as e:
                if "QEMU exited" not in str(e):
                    raise
                log("# bench: the inner guest died before it was up (%s): once more" % e)
                self.inner.close()
                self.qemu_boot()
                self.inner.wait_for("KVMIO-BENCH-READY", 900)
            self.inner_up = True
        return self.inner

    def sec_qemu(self):
        ios = (self.a.qemu_reads, self.a.qemu_writes)
        sec = self.section("qemu", {"reads": ios[0], "writes": ios[1],
                                    "rounds": self.a.qemu_rounds})
        try:
            q = self.inner_ready()
            sec["params"]["qemu"] = self.inner_cmd

            def measure():
                res = {}
                for mode in QEMU_MODES:
                    q.send("go %s %d %d" % ((mode,) + ios))
                    m = q.wait_for(r"inner-io: reads (\d+) writes (\d+) jobs \d+ in ([\d.]+) s",
                                   1800)
                    q.wait_for("KVMIO-BENCH-DONE", 60)
                    res[mode + "_iops"] = (int(m.group(1)) + int(m.group(2))) / float(m.group(3))
                return res
            # the recording a host without the module would make instead
            peers = [TraceCmd("kvmio-lat_record", [os.path.abspath(self.a.reader), "record"])] \
                if self.a.qemu_record else []
            self.interleaved(sec, [self.kvmio] + self.variants + peers, measure, "qemu",
                             self.a.qemu_rounds)
        finally:
            if self.inner:
                self.inner.close()
            self.inner = None
        self.done(sec)

    # -- a recording for the replay speed (measured on the machine)

    def sec_record(self):
        self.nullb()
        n = self.a.record_requests
        cmd = "%s record -o %s -- %s io --mode native --vcpus 2 --requests %d " \
              "--dev /dev/nullb0 --no-timing"
        sec = self.section("record", {"requests": n, "command": cmd % (
            "kvmio-lat", "FILE", "kvmio-vmm", n)})
        dat = os.path.join(self.a.out, "replay.dat")
        if os.path.exists(dat):
            os.unlink(dat)
        rc, out = sh(cmd % (self.a.reader, dat, self.a.vmm, n), timeout=1800)
        sec["output"] = out[-2000:]
        if rc or not os.path.exists(dat):
            raise RuntimeError("kvmio-lat record failed (exit %d): %s" % (rc, out[-800:]))
        sec["file"] = "replay.dat"
        sec["file_bytes"] = os.path.getsize(dat)
        self.done(sec)


# What a sample counts for when one of its frames matches (perf script syms).
PROFILE_CATEGORIES = {
    "kvmio_lat": re.compile(r"^kvl_"),
    "ftrace_events": re.compile(r"^(trace_event_raw_event_|trace_event_buffer_|ring_buffer_|"
                                r"rb_|trace_buffer_)"),
    "hist_trigger": re.compile(r"^(event_triggers_call|event_hist_trigger|hist_|"
                               r"trace_synth|synth_)"),
    "bpf": re.compile(r"^(bpf_|__bpf_trace_|trace_call_bpf|perf_trace_)"),
    "clock_read": re.compile(r"^(ktime_get_mono_fast_ns|read_hpet|read_tsc|local_clock|"
                             r"sched_clock|native_sched_clock|trace_clock)"),
    "syscall_work": re.compile(r"^(syscall_trace_enter|syscall_exit_work)"),
}


def profile_chains(script, mine):
    """perf script -F comm,tid,ip,sym with call chains, the samples for which
    mine(comm, tid) is true -> sample counts: in all, per category, per kvl_
    function (callees included), per function as the leaf ("self") and
    anywhere on the chain ("inclusive"), the clock reads made by kvmio_lat (kvl_
    frames with a clock read below), per category the functions its samples
    were in (the leaf frame); and the other samples per comm."""
    cats = {k: 0 for k in PROFILE_CATEGORIES}
    leaves = {k: {} for k in PROFILE_CATEGORIES}
    kvl, others, total, kvl_clock = {}, {}, 0, 0
    self_syms, incl_syms = {}, {}     # every function: as the leaf, anywhere
    for block in script.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln.strip()]
        if not lines or lines[0].startswith("\t"):     # frames are tab-indented
            continue
        head = lines[0].rsplit(None, 1)
        comm, tid = head[0].strip(), int(head[1]) if head[-1].isdigit() else -1
        if not mine(comm, tid):
            others[comm] = others.get(comm, 0) + 1
            continue
        total += 1
        syms = [ln.split()[-1].split("+")[0] for ln in lines[1:] if ln.startswith("\t")]
        for k, pat in PROFILE_CATEGORIES.items():
            if any(pat.match(x) for x in syms):
                cats[k] += 1
                leaves[k][syms[0]] = leaves[k].get(syms[0], 0) + 1
        if syms:
            self_syms[syms[0]] = self_syms.get(syms[0], 0) + 1
        for x in set(syms):
            incl_syms[x] = incl_syms.get(x, 0) + 1
        funcs = {x for x in syms if x.startswith("kvl_")}
        for x in funcs:
            kvl[x] = kvl.get(x, 0) + 1
        if funcs and any(PROFILE_CATEGORIES["clock_read"].match(x) for x in syms):
            kvl_clock += 1

    def top(d, n):
        return dict(sorted(d.items(), key=lambda kv: -kv[1])[:n])
    return {"samples": total, "categories": cats, "kvl_functions": kvl,
            "self": top(self_syms, 200), "inclusive": top(incl_syms, 300),
            "kvmio_lat_clock_read": kvl_clock,
            "leaves": {k: top(v, 20) for k, v in leaves.items() if v},
            "others": top(others, 15)}


class Inner:
    """A QEMU whose serial console is our stdin/stdout, read line by line."""

    def __init__(self, cmd, logf):
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.log = open(logf, "w")
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        for ln in self.p.stdout:
            self.log.write(ln)
            self.log.flush()
            self.lines.put(ln)
        self.lines.put(None)

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def wait_for(self, pat, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                ln = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if ln is None:
                raise RuntimeError("QEMU exited while waiting for %r" % pat)
            m = re.search(pat, ln)
            if m:
                return m
        raise RuntimeError("QEMU: no %r within %d s" % (pat, timeout))

    def close(self):
        try:
            self.send("quit")
        except OSError:
            pass
        try:
            self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.log.close()


# the real-QEMU section's disks: one per QEMU I/O path
QEMU_MODES = ("native", "threads", "io_uring")
SECTIONS = ["exits", "kexits", "ioexits", "profile", "untracked", "tracked", "ioloop", "scaling", "scaling_vms",
            "memory", "qemu", "record"]
# --quick: no profile, and the inner guest boots in the background from the
# start (its figures do not count), its section before those that count VMs
# the profile section's workloads (sec_profile(); qemu: profile_qemu())
PROFILE_WORKLOADS = ["exits", "kexits", "untracked", "tracked", "ioloop-native", "ioloop-threads",
                     "ioloop-uring", "qemu"]
QUICK_SECTIONS = ["exits", "kexits", "ioexits", "ioloop", "scaling", "scaling_vms", "qemu", "untracked",
                  "tracked", "memory", "record"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--module", required=True)
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--sysloop", required=True)
    ap.add_argument("--inner-initrd", required=True,
                    help="lab.sh inner-initrd of scripts/bench/inner.sh with inner-io")
    ap.add_argument("--reader", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--icount", action="store_true",
                    help="the lab's clock counts instructions (bench.sh --icount): leave "
                    "out kvmio_lat@hpet, whose cost is QEMU's device model, which "
                    "instructions do not see")
    ap.add_argument("--resume", action="store_true",
                    help="keep the sections of raw.json that are complete")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--qemu-rounds", type=int,
                    help="rounds of the real-QEMU section (default: 3 x --rounds, 1 with --quick: one inner-guest "
                    "run varies by more than the 3%% target)")
    ap.add_argument("--no-qemu-record", dest="qemu_record", action="store_false",
                    help="real QEMU without its kvmio-lat record runs (trace-cmd recording "
                    "the engine's events: what a host without the module would run)")
    ap.add_argument("--no-profile-qemu", dest="profile_qemu", action="store_false",
                    help="the profile section without its real-QEMU workloads")
    ap.add_argument("--profile-workloads",
                    help="the profile section's workloads, comma separated (default all: "
                    "%s)" % ",".join(PROFILE_WORKLOADS))
    ap.add_argument("--perf-freq", type=int,
                    help="the profile's sampling frequency (default 2999; under --icount a "
                    "sample every 1e9/F instructions of a busy CPU)")
    ap.add_argument("--profile-ios",
                    help="READS,WRITES of each real-QEMU profile run (default: the qemu "
                    "section's)")
    ap.add_argument("--profile-requests", type=int,
                    help="requests of each I/O-loop profile run (default: the ioloop section's)")
    ap.add_argument("--sections")
    ap.add_argument("--peers", help="exit-loop tools, comma separated (default: "
                    "kvmio_lat,ftrace,hist_trigger and, without --quick, bpftrace, "
                    "kvmio_lat@ktime and, without --icount, kvmio_lat@hpet)")
    ap.add_argument("--variant", action="append", default=[],
                    help="NAME=KO: another build of kvmio_lat in the exit loops, the "
                    "profile, the I/O loops and real QEMU")
    a = ap.parse_args()
    q = a.quick
    a.rounds = a.rounds or (1 if q else 7)
    a.exits = 1000 if q else 10000
    a.sys_iters = 2000 if q else 50000
    a.requests = 50 if q else 1000
    a.qemu_rounds = a.qemu_rounds or (1 if q else 3 * a.rounds)
    # full: a few seconds per run, so the inner guest's run-to-run noise
    # averages over more than a scheduling hiccup of the lab's TCG
    a.qemu_reads, a.qemu_writes = (20, 5) if q else (2000, 500)
    a.scaling_threads = [1, 16] if q else [1, 2, 4, 8, 16]
    a.scaling_exits = 1600 if q else 8000
    a.scaling_vms = [1, 2] if q else [1, 2, 4]
    a.memory_vcpus = [1, 2] if q else [1, 2, 4, 8]
    a.short_requests, a.long_requests = (10, 100) if q else (20, 20000)
    a.record_requests = 100 if q else 4000
    a.perf_freq = a.perf_freq or (999 if q else 2999)
    try:
        a.profile_ios = tuple(int(x) for x in a.profile_ios.split(",")) if a.profile_ios else None
        assert a.profile_ios is None or (len(a.profile_ios) == 2 and min(a.profile_ios) >= 0)
    except (ValueError, AssertionError):
        log("Bail out! --profile-ios wants READS,WRITES")
        return 2
    a.vmm_timeout = 120 if q else 600      # seconds for one kvmio-vmm run
    a.run_timeout = 60 if q else 180       # ... of the exit loop (seconds here)
    a.stall = 300                         # no progress for this long: say what runs
    a.sections = a.sections.split(",") if a.sections else (QUICK_SECTIONS if q else SECTIONS)
    a.profile_workloads = a.profile_workloads.split(",") if a.profile_workloads else []
    bad = set(a.profile_workloads) - set(PROFILE_WORKLOADS)
    if bad:
        log("Bail out! unknown profile workloads: %s" % ", ".join(sorted(bad)))
        return 2
    a.peers = a.peers.split(",") if a.peers else ["kvmio_lat", "ftrace", "hist_trigger"] + \
        ([] if q else ["bpftrace", "kvmio_lat@ktime"]) + ([] if q or a.icount else ["kvmio_lat@hpet"])
    bad = [s for s in a.sections if s not in SECTIONS]
    if bad:
        log("Bail out! unknown sections: %s (known: %s)" % (", ".join(bad), ", ".join(SECTIONS)))
        return 2

    # --quick checks that the bench works, never how fast, so it takes the
    # tests' holds (selftests/lib/labhold.py): kvm loaded with one CPU, the
    # tracepoints at two probes (in two instances: trace-cmd takes the
    # top-level array), so no load, unload or recording patches kernel text,
    # which the lab's TCG can hang on (a clean-clone make check's bench-quick
    # did, at syscall_trace_enter, unloading kvmio_lat)
    with labhold.kvm_change() if q else contextlib.nullcontext():
        kvm = sh("modprobe kvm_amd")[0]
    if kvm or not os.path.exists("/dev/kvm"):
        log("Bail out! no /dev/kvm in the lab guest")
        return 2
    if q:
        labhold.hold(instances_only=True)
    # A VM that lives (stopped) through the whole run, created before any
    # kvmio_lat load (so never tracked): KVM flips static keys when the
    # first VM, or the first vCPU without an in-kernel LAPIC, comes and when
    # the last goes (preempt_notifier_key patches __schedule), and QEMU 7.2's
    # TCG can keep running a stale translation of text patched by the other
    # vCPU: the guest then loops on an int3 that is no longer there, with
    # its runqueue locked.  Held at 1, those keys never flip.
    holder = Stopped(a.vmm, ["exits", "--vcpus", "1", "--count", "1", "--timeout", "0"], 300)
    holder.__enter__()
    b = Bench(a)
    if q and "qemu" in a.sections and not b.raw["sections"].get("qemu", {}).get("complete"):
        b.qemu_boot()
    failed = []
    for s in a.sections:
        if a.resume and b.raw["sections"].get(s, {}).get("complete"):
            continue
        t0 = time.monotonic()
        b.dog.mark("section " + s)
        log("# bench section %s" % s)
        try:
            getattr(b, "sec_" + s)()
        except Exception as e:      # report it, go on with the next section
            sh("rmmod kvmio_lat 2>/dev/null")
            failed.append(s)
            b.raw["sections"].setdefault(s, {})["error"] = "%s: %s" % (type(e).__name__, e)
            b.save()
            log("# bench section %s FAILED: %s" % (s, e))
        b.raw["sections"].setdefault(s, {})["seconds"] = round(time.monotonic() - t0, 1)
        b.save()
        log("# bench section %s: %.0f s" % (s, time.monotonic() - t0))
    if b.inner:
        b.inner.close()
    holder.__exit__()
    if q:
        labhold.release()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
