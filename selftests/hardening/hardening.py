#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Hardening tests of kvmio_lat.ko in a real kernel with real KVM (issue 8).

Run as root inside a lab guest (selftests/hardening/run.sh is the entry
point).  Each test tries to break the module: hostile writes to every
writable debugfs file, unprivileged access, kernel addresses in the output,
rmmod/insmod under load, kvm going away underneath, VMs killed mid-I/O, many
vCPUs and VMs, every cap hit, readers racing resets, kernel lockdown.  TAP
output; exit status 1 if any test failed.  Documentation/safety.rst says
what each test checks and what it found.
"""
import argparse
import ctypes
import errno
import mmap
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kvmio_hist  # noqa: E402
import labhold  # noqa: E402

DBG = "/sys/kernel/debug/kvmio_lat"
FILES = {"hist": 0o400, "stats": 0o400, "reset": 0o200, "enable": 0o600, "pids": 0o600}
WRITABLE = ("reset", "enable", "pids")
NAME = "kvmio_lat"
NULLB = "/dev/nullb0"
SYS_FINIT_MODULE = 313		# x86-64
SYS_DELETE_MODULE = 176
O_NONBLOCK = os.O_NONBLOCK

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.write.restype = ctypes.c_ssize_t
libc.write.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]

A = None			# the command line
results = []


HELD = []	# a test's TAP lines, held until the runner knows it counts
GUEST_FAULTS = [0]	# kvmio-vmm runs whose test guest faulted (exit 3)
STALLS = [0]		# kvmio-vmm runs whose guest did not finish in time


def out(line):
    if HELD:
        HELD[-1].append(line)
    else:
        print(line)
        sys.stdout.flush()


def tap(ok, name, diag=(), todo=None):
    """One TAP line; ok is True, False or "skip".  A @todo test is a known
    bug (TAP's TODO directive): it is reported but does not fail the run."""
    for d in diag:
        out("# " + d)
    n = len(results) + 1
    if ok == "skip":
        results.append(True)
        out("ok %d - %s # SKIP" % (n, name))
    else:
        results.append(bool(ok) or bool(todo))
        out("%s %d - %s%s" % ("ok" if ok else "not ok", n, name,
                              " # TODO " + todo if todo else ""))


def sh(cmd):
    return subprocess.run(cmd, shell=True, check=False, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode


# ---------------------------------------------------------------- module

def insmod(params=""):
    """0 or the errno of finit_module()."""
    fd = os.open(A.module, os.O_RDONLY | os.O_CLOEXEC)
    try:
        r = libc.syscall(SYS_FINIT_MODULE, fd, params.encode(), 0)
        return ctypes.get_errno() if r else 0
    finally:
        os.close(fd)


def rmmod(retry_busy=0):
    """(errno or 0, number of retries).  An open debugfs file holds the
    module: delete_module(O_NONBLOCK) says EAGAIN then, so retry a while."""
    busy = 0
    while True:
        r = libc.syscall(SYS_DELETE_MODULE, NAME.encode(), O_NONBLOCK)
        e = ctypes.get_errno() if r else 0
        if e in (errno.EAGAIN, errno.EBUSY) and busy < retry_busy:
            busy += 1
            time.sleep(0.02)
            continue
        return e, busy


def loaded(name=NAME):
    with open("/proc/modules") as f:
        return any(ln.split(" ", 1)[0] == name for ln in f)


def hold_keys():
    """labhold's holds (the tracepoints at two probes, an empty VM), so the
    module's loads patch no kernel text under the lab's TCG; call again
    after kvm is reloaded.  --no-hold-keys tests the patching too."""
    if A.hold_keys:
        labhold.hold()


def kvm_sh(cmd):
    """Load or unload kvm with the other CPUs offline, the empty VM let go
    before and taken after (labhold.kvm_change())."""
    if not A.hold_keys:
        return sh(cmd)
    with labhold.kvm_change():
        return sh(cmd)


def kvm_is_module():
    return os.path.exists("/sys/module/kvm/initstate") or not os.path.exists("/dev/kvm")


def load(params=""):
    """Fresh module with @params: True when loaded."""
    if loaded():
        rmmod(retry_busy=250)
    return insmod(params) == 0


def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def hist():
    return read(DBG + "/hist")


def stats():
    return kvmio_hist.parse_stats(read(DBG + "/stats"))


def hist_in_pieces(size):
    """hist read @size bytes at a time: the seq_file restarts at each read
    from the piece (a VM, a vCPU, its disks) it stopped in."""
    fd = os.open(DBG + "/hist", os.O_RDONLY)
    try:
        parts = []
        while True:
            b = os.read(fd, size)
            if not b:
                return b"".join(parts).decode()
            parts.append(b)
    finally:
        os.close(fd)


def without_ages(text):
    """hist without exited VMs' ages, which move between two reads."""
    return re.sub(r"(?m)^(vm .* exited) \d+$", r"\1", text)


def keep(name, text):
    """Save @text as @name in the lab's output directory (lab.sh --out), for
    a failure's post-mortem; the path, or None."""
    out = os.environ.get("LAB_OUT")
    if not out:
        return None
    path = os.path.join(out, name)
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError:
        return None
    return path


def write(name, data, offset=None):
    """Bytes written, or -errno (of open or write)."""
    try:
        fd = os.open(DBG + "/" + name, os.O_WRONLY)
    except OSError as e:
        return -e.errno
    try:
        return os.write(fd, data) if offset is None else os.pwrite(fd, data, offset)
    except OSError as e:
        return -e.errno
    finally:
        os.close(fd)


def write_ptr(name, addr, count):
    """write(2) of @count bytes at address @addr: bytes or -errno."""
    fd = os.open(DBG + "/" + name, os.O_WRONLY)
    try:
        r = libc.write(fd, ctypes.c_void_p(addr), count)
        return r if r >= 0 else -ctypes.get_errno()
    finally:
        os.close(fd)


def wait_for(cond, timeout, step=0.05):
    end = time.time() + timeout
    while True:
        v = cond()
        if v or time.time() > end:
            return v
        time.sleep(step)


def load_sizes():
    """(bytes per vCPU, bytes per VM) from the module's load message."""
    out = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    m = re.findall(r"kvmio_lat: loaded: .* (\d+) bytes per vCPU, (\d+) per VM", out)
    return (int(m[-1][0]), int(m[-1][1])) if m else (0, 0)


def idle_memory():
    """memory_bytes once the pools are refilled and frees are done."""
    last = [None]

    def stable():
        m = stats()["memory_bytes"]
        same = m == last[0]
        last[0] = m
        return same
    time.sleep(0.2)
    wait_for(stable, 5, 0.2)
    return last[0]


# ---------------------------------------------------------------- VMM

class Vmm:
    """kvmio-vmm in the background.  With stop=True it stops itself when
    done, while its VM still exists (--stop-when-done)."""

    def __init__(self, args, stop=True, timeout=120):
        argv = [A.vmm] + args + ["--timeout", str(timeout)]
        if stop:
            argv.append("--stop-when-done")
        self.args = args
        self.started = time.time()
        self.deadline = timeout	# kvmio-vmm's own: it gives up then
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        self.pid = self.p.pid
        self.stopped = False
        self.faulted = False
        self.out = ""
        self.stuck = ""
        self.stalled = False

    def wait_stopped(self, timeout=150):
        """True once stopped; False if it exited (status kept) or hung.
        Shortly before kvmio-vmm's own deadline, where its threads are is
        noted (why() prints it if it then fails)."""
        end = time.time() + timeout
        while time.time() < end:
            if not self.stuck and time.time() > self.started + self.deadline - 10:
                self.stuck = thread_stacks(self.pid)
            pid, st = os.waitpid(self.pid, os.WUNTRACED | os.WNOHANG)
            if pid:
                if os.WIFSTOPPED(st):
                    self.stopped = True
                    return True
                self.p.returncode = os.waitstatus_to_exitcode(st)
                self.count_fault()
                return False
            time.sleep(0.05)
        self.stuck = thread_stacks(self.pid)
        self.stall()
        return False

    def stall(self):
        if not self.stalled:
            self.stalled = True
            STALLS[0] += 1

    def count_fault(self):
        if self.p.returncode == VMM_EXIT_GUEST_FAULT and not self.faulted:
            self.faulted = True
            GUEST_FAULTS[0] += 1

    def finish(self, timeout=150):
        """Let it exit; True if it passed."""
        if self.stopped:
            os.kill(self.pid, signal.SIGCONT)
            self.stopped = False
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
        self.out = (out or "") + (err or "")
        self.count_fault()
        if VMM_TIMEOUT in self.out:
            self.stall()
        return self.p.returncode == 0

    def kill(self):
        os.kill(self.pid, signal.SIGKILL)
        if self.stopped:
            os.kill(self.pid, signal.SIGCONT)
        self.p.communicate()

    def why(self):
        lines = [ln for ln in self.out.splitlines() if ln.strip()]
        return "kvmio-vmm %s: rc %s; %s%s" % (" ".join(self.args), self.p.returncode,
                                             " | ".join(lines[-3:]),
                                             "; at the deadline: " + self.stuck
                                             if self.stuck else "")


def thread_stacks(pid):
    """Where @pid's threads are, when it missed a deadline: per distinct
    (state, kernel stack), how many threads, their CPU seconds, and the
    top frames (/proc/PID/task/TID/stack), so that a thread blocked in
    the kernel names its wait and a busy one shows as R."""
    groups = {}
    try:
        tids = sorted(os.listdir("/proc/%d/task" % pid), key=int)
    except OSError:
        return "gone"
    for t in tids:
        base = "/proc/%d/task/%s/" % (pid, t)
        try:
            with open(base + "stat") as f:
                st = f.read().rsplit(")", 1)[1].split()
            with open(base + "stack") as f:
                frames = [ln.split()[-1] for ln in f.read().splitlines()[:8]]
        except (OSError, IndexError):
            continue
        key = (st[0], " < ".join(f.split("+")[0] for f in frames))
        cpu = (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")
        n, c = groups.get(key, (0, 0.0))
        groups[key] = (n + 1, c + cpu)
    return "; ".join("%d x %s %.1f s [%s]" % (n, k[0], c, k[1])
                     for k, (n, c) in sorted(groups.items(), key=lambda x: -x[1][0])) or "gone"


def exits_args(vcpus, count):
    return ["exits", "--vcpus", str(vcpus), "--count", str(count)]


def io_args(mode, vcpus, requests):
    return ["io", "--mode", mode, "--vcpus", str(vcpus), "--requests", str(requests),
            "--dev", NULLB, "--no-timing"]


def exit_counts(text, pid):
    """{vcpu: io exits counted} for process @pid."""
    vms = kvmio_hist.parse(text)
    if pid not in vms:
        return {}
    return {v: (d["exits"]["io"].count if "io" in d["exits"] else 0)
            for v, d in vms[pid]["vcpus"].items()}


def check_exact(text, pid, vcpus, n):
    """Problems with the exit counts of a kvmio-vmm exits run."""
    c = exit_counts(text, pid)
    bad = ["vcpu %d: %s io exits, want %d" % (v, c.get(v), n)
           for v in range(vcpus) if c.get(v) != n]
    if len(c) != vcpus:
        bad.append("%d vCPUs in the snapshot, want %d" % (len(c), vcpus))
    return bad


# kvmio-vmm's exit status when the test guest itself faulted (vmm.h): the
# lab's emulated nested SVM rarely does that right after kvm_amd reloads;
# no probe can.  measure() runs the VMM once more then, and says so.
VMM_EXIT_GUEST_FAULT = 3
VMM_TIMEOUT = "timeout: the guest did not finish"	# vmm.c, its --timeout


def measure(what, vcpus=2, count=None):
    """Run exits on @vcpus and check every exit was counted: (ok, diag)."""
    count = count or A.exits
    v = Vmm(exits_args(vcpus, count))
    if not v.wait_stopped():
        v.finish()
        return False, ["%s: %s" % (what, v.why())]
    text = hist()
    bad = check_exact(text, v.pid, vcpus, count)
    if bad:		# what else was counted or dropped, for the diagnosis
        st = stats()
        vms = kvmio_hist.parse(text)
        other = {vc: {r: h.count for r, h in d["exits"].items() if r != "io"}
                 for vc, d in vms.get(v.pid, {"vcpus": {}})["vcpus"].items()}
        bad.append("other exits %s; dropped %s" % (other, {k: x for k, x in st.items()
                                                          if k.startswith("dropped")}))
    ok = v.finish() and not bad
    return ok, ["%s: %d vCPUs x %d exits: %s" % (what, vcpus, count,
                                                "all counted" if not bad else
                                                "; ".join(bad[:4] + bad[-1:] if len(bad) > 4
                                                          else bad))]


# ---------------------------------------------------------------- snapshots

ADDR_HEX = re.compile(r"(?i)\b(?:0x)?[0-9a-f]*[a-f][0-9a-f]*\b")
SIGNED = re.compile(r"-\d")


def address_like(text):
    """Tokens that could be kernel addresses: 12 or more hex digits with a
    letter (a raw or hashed pointer, or ffff8880...), or a decimal number
    of 2^63 or more outside sumsq (a pointer printed as an integer, or a
    negative value printed unsigned)."""
    bad = []
    for m in ADDR_HEX.finditer(text):
        tok = m.group(0)
        digits = tok[2:] if tok.lower().startswith("0x") else tok
        if len(digits) >= 12:
            bad.append(tok)
    for m in re.finditer(r"(?:(\w+)=)?\b(\d{19,})\b", text):
        if m.group(1) != "sumsq" and int(m.group(2)) >= 1 << 63:
            bad.append(m.group(0))
    return bad


# the module's hist text, format 5 (Documentation/output.rst)
HIST_HEADER = "# kvmio_lat hist 5"
HLINE = re.compile(r"^(exit|stage|disk) (\d+) (\d+) (.*?) count=")
FIELDS = ("count", "min", "max", "mean", "stddev", "p50", "p90", "p99", "p999", "sum",
          "sumsq", "negative", "overflow")
BUCKET = re.compile(r"^  \[(\d+), (\d+)\) (\d+)$")


def torn_slack(count):
    """How far a live count may be from its buckets: what kvmio-lat accepts
    as updates in flight (kvl_torn_slack() in userspace/parse.h)."""
    return 16 + count // 128


def snapshot_problems(text, live, slack=torn_slack):
    """What is wrong with a hist snapshot.  Always: the format (header,
    "end", every field a non-negative decimal, bucket bounds), no value
    beyond 2^63 (sumsq: 2^128).  @live: writers were running, so count may
    be behind its buckets by up to @slack(count) and ahead of them by one
    (an update between its count and its bucket); otherwise it must be
    exact, and min <= percentiles <= max, min <= mean <= max."""
    lines = text.split("\n")
    bad = []
    if not lines or lines[0] != HIST_HEADER:
        return ["no header: %r" % lines[:1]]
    if len(lines) < 2 or lines[-2] != "end" or lines[-1] != "":
        return ["no final 'end': truncated"]
    if SIGNED.search(text):
        bad.append("a negative number")
    cur = None

    def close(h):
        if h is None:
            return
        f, name, total = h
        # since format 2: negative values are in bucket [0, 1), so not added
        diff = f["count"] - (total + f["overflow"])
        if (not live and diff) or diff > 1 or -diff > slack(f["count"]):
            bad.append("%s: count %d, buckets+overflow %d" % (
                name, f["count"], f["count"] - diff))
        if not live and f["count"]:
            inr = f["count"] - f["overflow"]
            ps = [f["p50"], f["p90"], f["p99"], f["p999"]]
            if inr and not (f["min"] <= f["mean"] <= f["max"]):
                bad.append("%s: mean %d outside [%d, %d]" % (name, f["mean"], f["min"], f["max"]))
            if ps != sorted(ps) or ps[0] < f["min"] or ps[-1] > f["max"]:
                bad.append("%s: percentiles %s outside [%d, %d] or unordered" % (
                    name, ps, f["min"], f["max"]))
            if inr and f["sum"] < f["min"] * inr:
                bad.append("%s: sum %d < min x %d" % (name, f["sum"], inr))

    for ln in lines[1:-2]:
        if ln.startswith("#"):
            continue
        m = BUCKET.match(ln)
        if m:
            lo, hi, n = (int(x) for x in m.groups())
            if cur is None or not lo < hi or not 0 < n < 1 << 63:
                bad.append("bad bucket line %r" % ln)
            else:
                cur[2] += n
            continue
        m = HLINE.match(ln)
        if m:
            close(cur)
            f = dict(kv.split("=", 1) for kv in ln[m.end() - len("count="):].split())
            if set(f) != set(FIELDS) or not all(x.isdigit() for x in f.values()):
                bad.append("bad histogram line %r" % ln)
                cur = None
                continue
            f = {k: int(x) for k, x in f.items()}
            if any(x >= 1 << 63 for k, x in f.items() if k != "sumsq") or f["sumsq"] >= 1 << 128:
                bad.append("out-of-range value in %r" % ln)
            cur = [f, " ".join(ln.split()[:5]), 0]
            continue
        w = ln.split()
        # "vm PID COMM vcpus N [exited NS]" (COMM without spaces here)
        if (len(w) in (5, 7) and w[0] == "vm" and w[1].isdigit() and w[4].isdigit() and
            (len(w) == 5 or (w[5] == "exited" and w[6].isdigit()))) or \
           (len(w) == 7 and w[0] == "vcpu" and w[1].isdigit() and w[2].isdigit() and
                w[6].isdigit()):
            close(cur)
            cur = None
            continue
        bad.append("unexpected line %r" % ln)
    close(cur)
    return bad


# ---------------------------------------------------------------- tests

def state():
    """Everything a write could change."""
    return (read(DBG + "/enable"), read(DBG + "/pids"), hist(), read(DBG + "/stats"))


def diff_state(a, b):
    names = ("enable", "pids", "hist", "stats")
    return [n for n, x, y in zip(names, a, b) if x != y]


BAD_COMMON = [
    (b"", "empty"), (b"\n", "newline only"), (b"99999999999999999999999", "huge"),
    (b"4294967297", "2^32 + 1"), (b"18446744073709551617", "2^64 + 1"),
    (b"-1", "negative"), (b"abc", "text"), (b"1abc", "number and text"),
    (b"0x1", "hex"), (b" 1", "leading blank"), (b"1 ", "trailing blank"),
    (b"1 1", "two values"), (b"1\n1\n", "two lines"), (b"1\n\n", "two newlines"),
    (b"1\x00", "NUL after"), (b"\x001", "NUL before"), (b"1\x00xyz", "NUL then junk"),
    (b"\xff\xfe\x01", "binary"), (b"1" * 4096, "4 KiB of 1s"),
    (b"0" * 33 + b"1" + b"junk" * 1024, "4 KiB: zeros, 1, junk"),
    (b"0" * 4095 + b"1", "4 KiB: zeros then 1"), (os.urandom(8192), "8 KiB random"),
]
BAD_ONLY = {
    "enable": [(b"2", "2"), (b"10", "10"), (b"1.0", "1.0"), (b"true", "true")],
    "reset": [(b"0", "0"), (b"2", "2"), (b"0\n", "0 newline")],
    "pids": [(b"0", "pid 0"), (b"-5", "negative pid"), (b"12 x", "pid and text"),
             (b"2147483648", "pid 2^31"), (b"99999999999", "huge pid"),
             (b"1;2", "semicolon"), (b" ".join(b"%d" % (i + 1) for i in range(33)), "33 pids"),
             (b"1\x002", "pid NUL pid"), (b"12,\x00", "pid, NUL"),
             (b"7 " * 600, "1.2 KiB of pids")],
}
WANT_ERRNO = {"1.2 KiB of pids": errno.E2BIG}


def bad_writes(name):
    """(data, label, errno wanted) for @name."""
    out = []
    for data, label in BAD_COMMON + BAD_ONLY.get(name, []):
        if name == "pids" and label in ("empty", "newline only", "two lines",
                                        "trailing blank", "leading blank", "two newlines",
                                        "two values"):
            continue	# valid pids lists ("", "\n", "1 1", ...)
        want = WANT_ERRNO.get(label, errno.EINVAL)
        if name == "pids" and len(data) >= 1024:
            want = errno.E2BIG
        out.append((data, label, want))
    return out


def faulting_buffer():
    """(mmap, address): a mapped page whose next page is PROT_NONE."""
    m = mmap.mmap(-1, 2 * mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(m))
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    if libc.mprotect(ctypes.c_void_p(base + mmap.PAGESIZE), mmap.PAGESIZE, 0):
        raise OSError(ctypes.get_errno(), "mprotect")
    return m, base


def test_hostile():
    """Every bad write refused with the right errno, nothing changed."""
    ok = load()
    v = Vmm(exits_args(2, 500)) if ok else None
    if not ok or not v.wait_stopped():
        tap(False, "hostile input: setup (module, a stopped VM)", [v.why()] if v else [])
        return v
    # a known, non-default state: histograms, pids list, enable 1
    write("pids", b"%d 4242\n" % v.pid)
    base = state()
    m, addr = faulting_buffer()
    try:
        for name in WRITABLE:
            diag, fails, n = [], 0, 0
            for data, label, want in bad_writes(name):
                r = write(name, data)
                after = state()
                changed = diff_state(base, after)
                n += 1
                if r != -want or changed:
                    fails += 1
                    diag.append("%s: %s (%d bytes): %s, want -%s; changed: %s" % (
                        name, label, len(data), r, errno.errorcode[want], changed or "nothing"))
                    base = after
            # writes at an offset: partial writes are refused
            for off in (1, 2, 4096, 1 << 40):
                r = write(name, b"1", offset=off)
                n += 1
                if r != -errno.EINVAL or diff_state(base, state()):
                    fails += 1
                    diag.append("%s: pwrite at %d: %s, want -EINVAL" % (name, off, r))
            # buffers the kernel cannot read: wholly, or past the first byte
            page_end = addr + mmap.PAGESIZE
            ctypes.memmove(page_end - 1, b"1", 1)
            for label, p, cnt in (("unmapped", 1, 2), ("crossing into PROT_NONE", page_end - 1, 2)):
                r = write_ptr(name, p, cnt)
                n += 1
                if r != -errno.EFAULT or diff_state(base, state()):
                    fails += 1
                    diag.append("%s: %s buffer: %s, want -EFAULT" % (name, label, r))
            tap(not fails, "hostile input: %s refuses %d bad writes (empty, huge, negative, "
                "text, several values, NUL, binary, 4-8 KiB, offsets, bad buffers) with the "
                "right errno and changes nothing" % (name, n), diag[:12])
    finally:
        m.close()
    return v


# The documented grammar, as regular expressions over the whole write (of
# at most 15 bytes for enable and reset).
ENABLE_OK = re.compile(rb"\+?0*[01]\n?")
RESET_OK = re.compile(rb"\+?0*1\n?")
PID_TOK = re.compile(rb"\+?\d+")


def pids_model(data):
    """(errno or 0, resulting pids text) for a pids write."""
    if len(data) >= 1024:
        return errno.E2BIG, None
    if b"\x00" in data:
        return errno.EINVAL, None
    toks = [t for t in re.split(rb"[ \t\n,]", data) if t]
    if len(toks) > 32 or not all(PID_TOK.fullmatch(t) for t in toks):
        return errno.EINVAL, None
    vals = [int(t) for t in toks]
    if any(x <= 0 or x > 0x7fffffff for x in vals):
        return errno.EINVAL, None
    return 0, " ".join(str(x) for x in vals) + "\n"


def random_write(rng):
    """Mostly short strings of the characters the parsers care about."""
    kind = rng.random()
    if kind < 0.05:
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 64)))
    if kind < 0.08:
        return rng.choice(b"0123456789 \n").to_bytes(1, "little") * rng.randrange(900, 1500)
    alphabet = b"0000111112345678 9\n\t,+-x\x00"
    return bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))


def test_random_writes(vm):
    """A few thousand random writes checked against the documented grammar."""
    rng = random.Random(A.seed)
    diag, fails, accepted = [], 0, {n: 0 for n in WRITABLE}
    per_file = A.random_writes // 3
    base = state()
    for name in ("enable", "reset"):
        for _ in range(per_file):
            data = random_write(rng)
            grammar = ENABLE_OK if name == "enable" else RESET_OK
            want = 0 if len(data) < 16 and grammar.fullmatch(data) else errno.EINVAL
            r = write(name, data)
            after = state()
            if want == 0:
                accepted[name] += 1
                good = r == len(data)
                if name == "enable":
                    good = good and after[0] == ("1\n" if data.rstrip(b"\n")[-1:] == b"1"
                                                 else "0\n")
                    write("enable", b"1")
                    after = state()
            else:
                good = r == -want and not diff_state(base, after)
            if not good:
                fails += 1
                if len(diag) < 10:
                    diag.append("%s: %r: %s, want %s" % (name, data[:40], r,
                                                         -want if want else len(data)))
            base = after
    cur = read(DBG + "/pids")
    for _ in range(per_file):
        data = random_write(rng)
        want, text = pids_model(data)
        r = write("pids", data)
        now = read(DBG + "/pids")
        if want == 0:
            accepted["pids"] += 1
            good = r == len(data) and now == text
        else:
            good = r == -want and now == cur
        if not good:
            fails += 1
            if len(diag) < 10:
                diag.append("pids: %r: %s (%r), want %s (%r)" % (data[:40], r, now,
                                                               -want if want else len(data),
                                                               text or cur))
        cur = now
    write("pids", b"\n")
    tap(not fails, "hostile input: %d random writes (%s accepted) match the documented "
        "grammar, the rejected ones change nothing" % (
            3 * per_file, ", ".join("%s %d" % kv for kv in accepted.items())), diag)
    if vm:
        vm.finish()
    ok, d = measure("after the hostile writes")
    tap(ok, "hostile input: the module still counts every exit afterwards", d)


def test_access():
    """Root-only files; unprivileged opens fail; no kernel address anywhere."""
    load()
    diag, ok = [], True
    for name, mode in FILES.items():
        st = os.stat(DBG + "/" + name)
        if st.st_mode & 0o7777 != mode or st.st_mode & 0o077 or st.st_uid != 0:
            ok = False
        diag.append("%s: mode %o uid %d" % (name, st.st_mode & 0o7777, st.st_uid))
    # what a user without privileges gets
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            opened = []
            for name in FILES:
                for flags in (os.O_RDONLY, os.O_WRONLY):
                    try:
                        os.close(os.open(DBG + "/" + name, flags))
                        opened.append(name)
                    except OSError as e:
                        if e.errno not in (errno.EACCES, errno.EPERM):
                            opened.append("%s (%s)" % (name, e))
            os._exit(len(opened))
        except BaseException:
            os._exit(99)
    _, st = os.waitpid(pid, 0)
    user_ok = os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0
    diag.append("user 65534: every open for reading or writing refused: %s" % (
        "yes" if user_ok else "no (status %#x)" % st))
    tap(ok and user_ok, "access: every file root-only (%s), none opens for an "
        "unprivileged user" % ", ".join("%s %o" % kv for kv in FILES.items()), diag)

    # no kernel address: while VMs with exits and I/O exist
    vms = [Vmm(exits_args(2, 300)), Vmm(io_args("native", 1, 20)),
           Vmm(io_args("threads", 1, 20))]
    up = [v.wait_stopped() for v in vms]
    outputs = {n: read(DBG + "/" + n) for n in ("hist", "stats", "enable", "pids")}
    rc, out, err = reader("show", "--exits", "--hist")
    outputs["kvmio-lat show"] = out + err
    for v in vms:
        v.finish()
    log = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    outputs["dmesg"] = "\n".join(ln for ln in log.splitlines() if NAME in ln)
    bad = {n: address_like(t)[:3] for n, t in outputs.items()}
    bad = {n: b for n, b in bad.items() if b}
    tap(all(up) and not bad and "stage" in outputs["hist"],
        "access: no kernel address in hist, stats, enable, pids, the module's dmesg lines "
        "or kvmio-lat's output (%d bytes scanned)" % sum(len(t) for t in outputs.values()),
        ["%s: %s" % kv for kv in bad.items()] +
        ([] if all(up) else ["a VMM did not reach its stop point"]))


def reader(*args):
    r = subprocess.run([A.reader] + list(args), capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


class Loop(threading.Thread):
    """Run @fn(i) until stopped; keep what went wrong."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.stop, self.runs, self.errors = fn, threading.Event(), 0, []

    def run(self):
        i = 0
        while not self.stop.is_set():
            try:
                e = self.fn(i)
            except Exception as ex:	# a test thread must report, not die
                e = "exception: %r" % ex
            if e:
                self.errors.append(e)
            self.runs += 1
            i += 1

    def end(self):
        self.stop.set()
        self.join(300)


def vmm_loop(argsets, pause=0.0):
    def one(i):
        args = argsets[i % len(argsets)]
        r = subprocess.run([A.vmm] + args + ["--timeout", "120"], capture_output=True,
                           text=True, timeout=200)
        time.sleep(pause)
        if r.returncode == VMM_EXIT_GUEST_FAULT:
            GUEST_FAULTS[0] += 1
        if VMM_TIMEOUT in r.stderr:
            STALLS[0] += 1
        if r.returncode:
            return "kvmio-vmm %s: rc %d: %s" % (" ".join(args), r.returncode,
                                                 " | ".join(r.stderr.strip().splitlines()[:6])[:900])
        return None
    return one


def debugfs_reader(i):
    """Read hist and stats; gone, or the module going, is fine."""
    for n in ("hist", "stats"):
        try:
            t = read(DBG + "/" + n)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENXIO, errno.EIO, errno.ENODEV):
                continue
            return "%s: %s" % (n, e)
        if n == "hist" and (not t.startswith(HIST_HEADER) or not t.endswith("end\n")):
            return "a torn hist: %r...%r" % (t[:30], t[-30:])
    if i % 10 == 0:
        rc, _, err = reader("show")
        if rc not in (0, 1):
            return "kvmio-lat show: rc %d %s" % (rc, err.strip())
    time.sleep(0.01)
    return None


def unload_vmm_loops():
    """The unload test's VMMs, back to back: a 2-vCPU exit loop, and native
    and threads I/O in turn."""
    return [Loop(vmm_loop([exits_args(2, A.exits)], 0.1)),
            Loop(vmm_loop([io_args("native", 2, 30), io_args("threads", 2, 30)], 0.1))]


def test_unload_under_load():
    load()
    loops = unload_vmm_loops() + [Loop(debugfs_reader)]
    for t in loops:
        t.start()
    time.sleep(1)
    rng = random.Random(A.seed)
    fails, busy, cycles, t0, t_rm, t_ins = [], 0, 0, time.time(), [], []
    for c in range(A.cycles):
        t1 = time.time()
        e, b = rmmod(retry_busy=500)
        t_rm.append(time.time() - t1)
        busy += b
        if e:
            fails.append("cycle %d: rmmod: %s" % (c, os.strerror(e)))
            break
        time.sleep(rng.uniform(0, 0.2))
        t1 = time.time()
        e = insmod()
        t_ins.append(time.time() - t1)
        if e:
            fails.append("cycle %d: insmod: %s" % (c, os.strerror(e)))
            break
        cycles += 1
        time.sleep(rng.uniform(0.05, 0.4))
    for t in loops:
        t.end()
    errs = [e for t in loops for e in t.errors]
    diag = ["%d rmmod/insmod cycles in %.1f s (rmmod max %.2f s, insmod max %.2f s); "
            "rmmod retried %d times (a reader had a file open); exits VMM runs %d, io VMM "
            "runs %d, reader rounds %d" % (
                cycles, time.time() - t0, max(t_rm or [0]), max(t_ins or [0]), busy,
                loops[0].runs, loops[1].runs, loops[2].runs)]
    tap(not fails and not errs and cycles == A.cycles and loops[0].runs and loops[1].runs,
        "unload under load: %d rmmod/insmod cycles while VMs do exits and native/threads "
        "I/O and debugfs is read: every VMM run passes, every reader gets a whole "
        "snapshot or ENOENT/ENXIO" % A.cycles, diag + fails + errs[:5])
    if not loaded():
        insmod()
    ok, d = measure("after the cycles")
    tap(ok, "unload under load: counting is exact after the cycles", d)


def attached():
    return stats().get("kvm_attached") == 1


def test_kvm_reload():
    if not kvm_is_module():
        tap("skip", "kvm comes and goes: kvm is built in here")
        return
    rmmod(retry_busy=250)
    rc = kvm_sh("rmmod kvm_amd; rmmod kvm")
    pre = not loaded("kvm") and insmod() == 0 and stats()["kvm_attached"] == 0
    diag = ["kvm unloaded (rc %d), kvmio_lat loaded first: %s" % (rc, pre)]
    ok = pre
    for i in range(A.kvm_cycles):
        up = kvm_sh("modprobe kvm_amd") == 0 and wait_for(attached, 5)
        hold_keys()
        m_ok, d = measure("kvm load %d" % (i + 1))
        down = kvm_sh("rmmod kvm_amd && rmmod kvm") == 0 and not attached() and loaded()
        diag += d + ["cycle %d: attached after modprobe %s, detached after rmmod %s" % (
            i + 1, bool(up), down)]
        ok = ok and up and m_ok and down
    up = kvm_sh("modprobe kvm_amd") == 0 and wait_for(attached, 5)
    hold_keys()
    m_ok, d = measure("kvm loaded again")
    m_ok = m_ok and up
    st = stats()
    tap(ok and m_ok and st["vms"] == 0,
        "kvm comes and goes: kvmio_lat loaded before kvm, then kvm_amd and kvm unloaded and "
        "reloaded %d times under it: attaches, detaches, counts every exit each time" %
        A.kvm_cycles, diag + d)


def settled(base):
    """True when no VM runs, no request is in flight, the VMs that exited
    are kept (marked exited) until a reset, and after it the pools are
    back to @base bytes."""
    def running_gone():
        s = stats()
        return s["vms"] == 0 and s["inflight"] == 0 and s["vcpus"] == 0

    def freed():
        s = stats()
        return s["vms_exited"] == 0 and s["memory_bytes"] == base
    if not wait_for(running_gone, 10, 0.1):
        return False
    kept = stats()["vms_exited"] > 0 and "exited " in hist()
    return kept and write("reset", b"1") == 1 and wait_for(freed, 10, 0.1)


def test_vm_death_vmm():
    load()
    base = idle_memory()
    diag, ok = ["memory_bytes with no VM: %d" % base], True
    runs = [exits_args(4, 10000000), io_args("native", 2, 1000000),
            io_args("threads", 2, 1000000), io_args("native", 4, 1000000)]
    for args in runs:
        v = Vmm(args, stop=False, timeout=300)
        io = args[0] == "io"
        busy = wait_for(lambda: stats()["requests" if io else "vcpus"] >= (5 if io else 4), 60)
        s = stats()
        v.kill()
        gone = settled(base)
        s2 = stats()
        diag.append("%s: killed with %d vCPUs, %d requests done, %d in flight; after: vms %d "
                    "inflight %d memory %d" % (" ".join(args[:3]), s["vcpus"], s["requests"],
                                               s["inflight"], s2["vms"], s2["inflight"],
                                               s2["memory_bytes"]))
        ok = ok and busy and gone
    tap(ok, "VM death: kvmio-vmm killed with SIGKILL mid-exits and mid-I/O (native, threads): "
        "vms 0, inflight 0, the VM kept as exited, memory_bytes back to where it started "
        "after a reset", diag)


QEMU_SCRIPT = """echo KVMIO-INNER-START
/bin/inner-io /dev/vda 10000000 0 4
sleep 600
"""


def test_vm_death_qemu():
    if not A.inner_io or not os.environ.get("LAB_SH"):
        tap("skip", "VM death, real QEMU: needs --inner-io and the lab (LAB_SH)")
        return
    load()
    base = idle_memory()
    work = tempfile.mkdtemp()
    script = os.path.join(work, "script")
    with open(script, "w") as f:
        f.write(QEMU_SCRIPT)
    initrd = os.path.join(work, "inner.gz")
    if sh("%s inner-initrd --file %s:/bin/inner-io %s %s" % (
            os.environ["LAB_SH"], A.inner_io, initrd, script)):
        tap(False, "VM death, real QEMU: cannot build the inner initrd")
        return
    kernel = os.environ.get("LAB_VMLINUZ")
    log = open(os.path.join(work, "qemu.log"), "w+")
    q = subprocess.Popen(
        ["qemu-system-x86_64", "-enable-kvm", "-cpu", "host", "-m", "256", "-smp", "1",
         "-nographic", "-nodefaults", "-no-reboot", "-serial", "stdio", "-kernel", kernel,
         "-initrd", initrd, "-append", "console=ttyS0 quiet panic=-1",
         "-drive", "file=/dev/vda,if=none,id=d0,format=raw,cache=none,aio=native",
         "-device", "virtio-blk-pci,drive=d0"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def started():
        log.seek(0)
        return "KVMIO-INNER-START" in log.read() or q.poll() is not None
    wait_for(started, 240, 0.5)
    busy = wait_for(lambda: stats()["requests"] >= 50 or q.poll() is not None, 120, 0.2)
    s = stats()
    q.kill()
    q.wait()
    gone = settled(base)
    s2 = stats()
    log.seek(0)
    tail = log.read().splitlines()[-3:]
    tap(busy and q.returncode == -signal.SIGKILL and s["inflight"] >= 0 and gone,
        "VM death: real QEMU (aio=native, 4 jobs) killed with SIGKILL mid-I/O: vms 0, "
        "inflight 0, the VM kept as exited, memory_bytes back to where it started after "
        "a reset",
        ["at the kill: %d requests done, %d in flight, memory %d (idle %d)" % (
            s["requests"], s["inflight"], s["memory_bytes"], base),
         "after: vms %d inflight %d memory %d" % (s2["vms"], s2["inflight"],
                                                   s2["memory_bytes"])] +
        ([] if busy else ["QEMU log: " + " | ".join(tail)]))


def test_scale():
    # enough spare vCPUs that no pool runs dry: every count must be exact
    if not load("spare_vcpus=64"):
        tap(False, "scale: cannot load with spare_vcpus=64")
        return
    vcpu_b, vm_b = load_sizes()
    base = idle_memory()
    n = max(A.exits // 10, 100)
    v = Vmm(exits_args(64, n), timeout=300)
    up = v.wait_stopped(300)
    text, s = hist(), stats()
    bad = check_exact(text, v.pid, 64, n) if up else [v.why()]
    # the same text read 61 bytes at a time (no vCPU runs: nothing moves)
    pieces = hist_in_pieces(61)
    if without_ages(pieces) != without_ages(text):
        bad.append("hist read 61 bytes at a time differs from one read (%d bytes, %d)" % (
            len(pieces), len(text)))
    want_mem = base + vm_b + 64 * vcpu_b
    mem_ok = wait_for(lambda: stats()["memory_bytes"] == want_mem, 5)
    mem = stats()["memory_bytes"]
    v.finish()
    tap(up and not bad and s["vcpus"] == 64 and s["dropped"] == 0 and mem_ok,
        "scale: one VM with 64 vCPU threads: every exit of every vCPU counted, nothing "
        "dropped, memory_bytes = idle + 1 VM + 64 vCPUs; hist read 61 bytes at a time the "
        "same as in one read",
        ["64 vCPUs x %d exits: %s; vcpus %d dropped %d memory %d (want %d)" % (
            n, "; ".join(bad[:3]) or "all counted", s["vcpus"], s["dropped"], mem,
            want_mem)])

    # several VMs at once: staggered so the VM pool (2 spare) refills
    vms = []
    for i in range(4):
        vms.append(Vmm(exits_args(4, A.exits)))
        time.sleep(0.2)
    vms += [Vmm(io_args("native", 2, A.requests)), Vmm(io_args("threads", 2, A.requests))]
    up = [v.wait_stopped(300) for v in vms]
    text, s = hist(), stats()
    parsed = kvmio_hist.parse(text)
    bad = []
    for v in vms[:4]:
        bad += check_exact(text, v.pid, 4, A.exits)
    for v, path in ((vms[4], "native"), (vms[5], "threads")):
        for c in range(2):
            tot = parsed.get(v.pid, {}).get("vcpus", {}).get(c, {}).get(
                "stages", {}).get(path, {}).get("total")
            if not tot or tot.count != A.requests:
                bad.append("%s vcpu %d: %s requests, want %d" % (
                    path, c, tot.count if tot else None, A.requests))
    if bad:
        kept = keep("scale-6vms.hist", text + "\n# stats\n" + read(DBG + "/stats") +
                    "\n# pids: exits %s, native %d, threads %d\n" % (
                        " ".join(str(v.pid) for v in vms[:4]), vms[4].pid, vms[5].pid))
        if kept:
            bad.insert(0, "hist and stats kept in %s" % kept)
    passed = [v.finish() for v in vms]
    # where a request went if it was not counted (stats, all VMs)
    astray = " ".join("%s %d" % (k, s[k]) for k in (
        "doorbells_expired", "dropped_doorbells", "doorbells_skipped", "doorbells_shared",
        "submits_unmatched", "irqs_unmatched",
        "requests_expired", "lost_events", "mailbox_full", "inflight") if s.get(k))
    tap(all(up) and all(passed) and not bad and s["vms"] == 6 and s["dropped"] == 0,
        "scale: 6 VMs at once (4 x 4 vCPUs doing exits, a native and a threads I/O VM): "
        "all tracked, every exit and request counted",
        ["vms %d vcpus %d dropped %d requests %d%s" % (s["vms"], s["vcpus"], s["dropped"],
                                                       s["requests"],
                                                       "; " + astray if astray else "")] +
        bad[:6] +
        [v.why() for v, p in zip(vms, passed) if not p])


def test_caps():
    # spare_vcpus 32: the pool never runs dry here (test_pool_pressure's
    # job), so each tracked vCPU is tracked from its first exit
    params = "max_vms=2 max_vcpus=4 spare_vcpus=32"
    if not load(params):
        tap(False, "caps: cannot load with %s" % params)
        return
    vcpu_b, vm_b = load_sizes()
    base = idle_memory()
    bound = base + 2 * vm_b + 2 * 4 * vcpu_b
    vms = []
    for i in range(3):
        vms.append(Vmm(exits_args(6, A.exits)))
        time.sleep(0.2)
    up = [v.wait_stopped(300) for v in vms]
    text, s = hist(), stats()
    parsed = kvmio_hist.parse(text)
    tracked = [v for v in vms if v.pid in parsed]
    bad = []
    for v in tracked:
        c = exit_counts(text, v.pid)
        if len(c) != 4 or any(x != A.exits for x in c.values()):
            bad.append("pid %d: %s" % (v.pid, c))
    peak = s["memory_bytes"]
    passed = [v.finish() for v in vms]
    gone = settled(base)
    diag = ["%s: vms %d vcpus %d dropped_vms %d dropped_vcpus %d memory %d (bound %d, idle "
            "%d)" % (params, s["vms"], s["vcpus"], s["dropped_vms"], s["dropped_vcpus"], peak,
                     bound, base)] + bad + [v.why() for v, p in zip(vms, passed) if not p]
    tap(all(up) and all(passed) and len(tracked) == 2 and s["vcpus"] == 8 and
        s["dropped_vms"] > 0 and s["dropped_vcpus"] > 0 and not bad and peak <= bound and gone,
        "caps: max_vms=2, max_vcpus=4 with 3 VMs of 6 vCPUs: 2 VMs x 4 vCPUs tracked and "
        "counted exactly, the rest dropped and counted, memory within the caps' bound, "
        "back to idle after", diag)

    # threads and requests: one native VM of 4 vCPUs, 2 requests in flight allowed
    params = "max_threads=8 max_inflight=2"
    if not load(params):
        tap(False, "caps: cannot load with %s" % params)
        return
    base = idle_memory()
    v = Vmm(io_args("native", 4, A.requests))
    w = Vmm(exits_args(12, 200))
    up = v.wait_stopped(300) and w.wait_stopped(300)
    s = stats()
    nv = hist().count("\nvcpu %d " % w.pid)	# vCPU entries, duplicates too
    passed = v.finish() and w.finish()
    gone = settled(base)
    tap(up and passed and s["dropped_requests"] > 0 and s["dropped_threads"] > 0 and
        s["inflight"] <= 2 * s["vms"] and nv <= 8 and gone,
        "caps: max_threads=8, max_inflight=2: a 12-vCPU VM and a 4-vCPU native I/O VM run "
        "to the end, threads and requests beyond the caps dropped and counted, at most 8 "
        "vCPUs of the 12 tracked",
        ["vms %d vcpus %d (12-vCPU VM: %d) dropped_threads %d dropped_requests %d "
         "requests %d inflight %d" % (s["vms"], s["vcpus"], nv, s["dropped_threads"],
                                      s["dropped_requests"], s["requests"], s["inflight"]),
         # all of them: once (ci37, debug kernel) 4 requests and no drop
         "stats: " + " ".join("%s %s" % kv for kv in sorted(s.items()) if kv[1])] +
        ([] if passed else [v.why(), w.why()]))


def test_pool_pressure():
    """64 vCPUs start at once with one spare vCPU object: the pool runs dry,
    exits are dropped and counted until the refill catches up."""
    if not load("spare_vcpus=1"):
        tap(False, "pool: cannot load with spare_vcpus=1")
        return
    base = idle_memory()
    # at least 500 exits each: with fewer (--exits 500 on the debug kernel,
    # 125 each) a vCPU can finish while the pool is still dry, never tracked
    n = max(A.exits // 4, 500)
    v = Vmm(exits_args(64, n), timeout=300)
    up = v.wait_stopped(300)
    text, s = hist(), stats()
    c = exit_counts(text, v.pid)
    total = sum(c.values())
    passed = v.finish()
    gone = settled(base)
    ok = (up and passed and len(c) == 64 and s["vcpus"] == 64 and
          64 * n - s["dropped_vcpus"] <= total <= 64 * n and gone)
    tap(ok, "pool: 64 vCPUs starting at once with spare_vcpus=1: all 64 end up tracked, every "
        "exit either counted or in dropped_vcpus, memory back to idle after",
        ["%d vCPUs tracked, %d of %d io exits counted, dropped_vcpus %d" % (
            len(c), total, 64 * n, s["dropped_vcpus"])] + ([] if passed else [v.why()]))


def test_readers_during_writes():
    load()
    v = Vmm(exits_args(4, A.exits * 5), timeout=300)
    io = Loop(vmm_loop([io_args("threads", 2, 100), io_args("native", 2, 100)]))
    io.start()
    snaps, shows, resets, live_bad, torn = [0], [0], [0], [], []
    stop = threading.Event()

    def reader_fn():
        while not stop.is_set():
            t = hist()
            snaps[0] += 1
            # the module's own guarantee: count never ahead of its buckets
            # by more than the update in progress, however far behind
            b = snapshot_problems(t, True, slack=lambda c: 1 << 64)
            if b:
                live_bad.extend(b[:2])
            # what kvmio-lat accepts (count within 16 + count/128)
            if snapshot_problems(t, True) and not torn:
                torn.append(t)
                with open("/tmp/torn.hist", "w") as f:
                    f.write(t)
                rc, _, err = reader("show", "--input", "/tmp/torn.hist")
                torn.append("%s; kvmio-lat show --input <that snapshot>: rc %d %s" % (
                    snapshot_problems(t, True)[0], rc, err.strip()[:200]))
            s = read(DBG + "/stats")
            if SIGNED.search(s) or address_like(s):
                live_bad.append("stats: %r" % s)

    def show_fn():		# what a user sees: never a "corrupted" snapshot
        while not stop.is_set():
            rc, out, err = reader("show", "--json", "--exits")
            shows[0] += 1
            if rc:
                live_bad.append("kvmio-lat show: rc %d: %s" % (rc, err.strip()[:160]))

    def reset_fn():
        while not stop.is_set():
            if write("reset", b"1") != 1:
                live_bad.append("reset write failed")
            resets[0] += 1
            time.sleep(random.uniform(0.005, 0.05))
    th = [threading.Thread(target=f) for f in (reader_fn, show_fn, reset_fn)]
    for t in th:
        t.start()
    up = v.wait_stopped(300)
    stop.set()
    for t in th:
        t.join()
    io.end()
    # no writer runs now: every histogram must be consistent
    quiet = hist()
    q_bad = snapshot_problems(quiet, False)
    tap(up and not live_bad and not io.errors,
        "readers during writes: %d hist snapshots and %d kvmio-lat show runs while 4 vCPUs "
        "exit, I/O VMs run and reset is written %d times: whole, no negative or out-of-range "
        "value, no count ahead of its buckets (no reset seen half done), kvmio-lat show "
        "never fails" % (snaps[0], shows[0], resets[0]),
        live_bad[:8] + io.errors[:3] + ([] if up else [v.why()]))
    tap(not torn, "readers during writes: every live snapshot within what kvmio-lat accepts "
        "(count at most 16 + count/128 behind its buckets)", torn[1:])
    tap(up and not q_bad,
        "readers during writes: once the writers stop, every histogram is consistent "
        "(count = buckets + under/overflow, min <= mean, percentiles <= max)", q_bad[:8])
    write("reset", b"1")
    after = snapshot_problems(hist(), False)
    v.finish()
    ok, d = measure("after the resets")
    tap(ok and not after, "readers during writes: reset then counts exactly", d + after[:4])


def test_control():
    """The readers test's load without kvmio_lat (only with --only control,
    usually with --repeat): how often the lab's guest dies or a VMM fails
    under that load on its own, to tell the lab's faults from the
    module's."""
    if loaded():
        rmmod(retry_busy=250)
    v = Vmm(exits_args(4, A.exits * 5), timeout=300)
    io = Loop(vmm_loop([io_args("threads", 2, 100), io_args("native", 2, 100)]))
    io.start()
    runs, stop = [0, 0], threading.Event()

    def spawn_fn():		# as the readers test's kvmio-lat show: a process a round
        while not stop.is_set():
            subprocess.run([A.reader, "--version"], capture_output=True)
            runs[0] += 1

    def read_fn():		# as its hist and stats reads
        while not stop.is_set():
            try:
                read("/proc/self/status")
                read("/proc/%d/stat" % v.pid)
            except OSError:	# the VMM is gone: wait_stopped() says why
                pass
            runs[1] += 1
    th = [threading.Thread(target=f) for f in (spawn_fn, read_fn)]
    for t in th:
        t.start()
    up = v.wait_stopped(300)
    stop.set()
    for t in th:
        t.join()
    io.end()
    done = v.finish()
    tap(up and done and not io.errors,
        "control, without kvmio_lat: 4 vCPUs exit and I/O VMs run while %d processes are "
        "spawned and /proc read %d times: every VMM run passes" % (runs[0], runs[1]),
        io.errors[:3] + ([] if up and done else [v.why()]))


def test_control_all():
    """The VMM loads of the whole run, in its order, without kvmio_lat (only
    with --only control-all): unload's back-to-back exit and I/O VMMs,
    death's killed VMMs, scale's 64-vCPU VM and six VMs at once, pool's 64
    vCPUs starting together, then the readers test's load (test_control()).
    Against full runs, how often the lab alone spoils a boot."""
    if loaded():
        rmmod(retry_busy=250)
    errs = []
    loops = unload_vmm_loops()
    for t in loops:
        t.start()
    time.sleep(10)
    for t in loops:
        t.end()
        errs += t.errors
    for args in (exits_args(4, 100000), io_args("native", 2, 1000),
                 io_args("threads", 2, 1000), io_args("native", 4, 1000)):
        v = Vmm(args, stop=False, timeout=300)
        time.sleep(0.5)
        v.kill()
    n = max(A.exits // 10, 100)
    vms = [Vmm(exits_args(64, n), timeout=300)]
    vms[0].wait_stopped(300)
    done = [vms[0].finish()]
    vms = []
    for i in range(4):
        vms.append(Vmm(exits_args(4, A.exits)))
        time.sleep(0.2)
    vms += [Vmm(io_args("native", 2, A.requests)), Vmm(io_args("threads", 2, A.requests))]
    for v in vms:
        v.wait_stopped(300)
    done += [v.finish() for v in vms]
    v = Vmm(exits_args(64, max(A.exits // 4, 500)), timeout=300)
    v.wait_stopped(300)
    done.append(v.finish())
    tap(all(done) and not errs,
        "control-all, without kvmio_lat: the unload, death, scale and pool tests' VMMs: "
        "every VMM run passes", errs[:3])
    test_control()


def test_lockdown():
    lk = "/sys/kernel/security/lockdown"
    if not os.path.exists(lk):
        sh("mount -t securityfs securityfs /sys/kernel/security")
    if not os.path.exists(lk):
        tap("skip", "lockdown: no /sys/kernel/security/lockdown (CONFIG_SECURITY_LOCKDOWN_LSM)")
        return
    if "[none]" not in read(lk):
        tap("skip", "lockdown: already locked down (%s)" % read(lk).strip())
        return
    load()
    v = Vmm(exits_args(1, 100))
    up = v.wait_stopped()
    diag = []

    def check(mode):
        with open(lk, "w") as f:
            f.write(mode)
        now = read(lk).strip()
        h = hist()
        s = stats()
        opens = {}
        for name in FILES:
            for flags, how in ((os.O_RDONLY, "r"), (os.O_WRONLY, "w")):
                if FILES[name] & (0o400 if how == "r" else 0o200) == 0:
                    continue
                try:
                    os.close(os.open(DBG + "/" + name, flags))
                    opens[name + ":" + how] = "ok"
                except OSError as e:
                    opens[name + ":" + how] = errno.errorcode[e.errno]
        rc_show, out, _ = reader("show")
        rc_reset, _, err = reader("reset")
        want = {"hist:r": "ok", "stats:r": "ok", "reset:w": "EPERM", "enable:r": "EPERM",
                "enable:w": "EPERM", "pids:r": "EPERM", "pids:w": "EPERM"}
        good = (("vm %d" % v.pid) in h and s["vms"] >= 1 and opens == want and
                rc_show == 0 and rc_reset == 1)
        diag.append("%s: opens %s; kvmio-lat show rc %d, reset rc %d (%s)" % (
            now, " ".join("%s=%s" % kv for kv in sorted(opens.items())), rc_show, rc_reset,
            err.strip()[:100]))
        return good

    integ = up and check("integrity")
    e = insmod()	# a second copy would be refused anyway: EEXIST
    diag.append("integrity: insmod of the (unsigned) module again: %s" % (
        errno.errorcode.get(e, e)))
    conf = check("confidentiality")
    try:
        os.close(os.open("/sys/kernel/tracing/trace", os.O_RDONLY))
        tr = "ok"
    except OSError as ex:
        tr = errno.errorcode[ex.errno]
    v.finish()
    e, _ = rmmod(retry_busy=250)
    e2 = insmod()
    diag.append("confidentiality: tracefs trace open %s; rmmod %s; insmod after %s" % (
        tr, errno.errorcode.get(e, e or "ok"), errno.errorcode.get(e2, e2 or "ok")))
    tap(integ and conf and tr == "EPERM" and e == 0 and e2 == errno.EPERM,
        "lockdown (integrity, then confidentiality): hist and stats readable, kvmio-lat show "
        "works; reset, enable, pids refused (EPERM), kvmio-lat reset fails; rmmod works, "
        "the unsigned module no longer loads; confidentiality closes tracefs", diag)


def test_kmemleak():
    km = "/sys/kernel/debug/kmemleak"
    if not os.path.exists(km):
        tap("skip", "kmemleak: not in this kernel")
        return
    if not A.kmemleak:
        tap("skip", "kmemleak: --kmemleak not given (a scan can take minutes under TCG)")
        return
    if loaded():
        rmmod(retry_busy=250)
    for _ in range(2):	# an object is reported once two scans agree
        time.sleep(6)	# older than kmemleak's minimum age (5 s)
        with open(km, "w") as f:
            f.write("scan")
    leaks = read(km)
    n = leaks.count("unreferenced object")
    tap(n == 0, "kmemleak: no suspected leak after the hardening tests",
        leaks.splitlines()[:20])


TESTS = [
    ("hostile", lambda: test_random_writes(test_hostile())),
    ("access", test_access),
    ("unload", test_unload_under_load),
    ("kvm", test_kvm_reload),
    ("death", test_vm_death_vmm),
    ("qemu", test_vm_death_qemu),
    ("scale", test_scale),
    ("caps", test_caps),
    ("pool", test_pool_pressure),
    ("readers", test_readers_during_writes),
    ("kmemleak", test_kmemleak),
    ("lockdown", test_lockdown),	# last: cannot be undone in this boot
]
# run only when named in --only: experiments, not checks of the module
CONTROLS = [
    ("control", test_control),
    ("control-all", test_control_all),
]


def run_test(name, fn):
    """Run @fn once more if a test guest faulted during it (kvmio-vmm exit 3:
    the guest took a vector it never expects, which nested SVM under the
    lab's TCG does now and then with or without kvmio_lat; the module only
    reads) or stalled (a VMM missed its deadline: the lab's nested SVM now
    and then strands a vCPU; the first attempt's lines name where its
    threads were).  A fault of the module would fail the second attempt
    too.  The first attempt's lines are kept as comments."""
    for attempt in (1, 2):
        faults, stalls, n = GUEST_FAULTS[0], STALLS[0], len(results)
        HELD.append([])
        try:
            fn()
        finally:
            lines = HELD.pop()
        failed = False in results[n:]
        if attempt == 1 and failed and (GUEST_FAULTS[0] > faults or STALLS[0] > stalls):
            del results[n:]
            print("# %s: %d test guest(s) faulted (kvmio-vmm exit %d) and %d stalled, in the "
                  "lab's nested SVM: once more; the first attempt said:" % (
                      name, GUEST_FAULTS[0] - faults, VMM_EXIT_GUEST_FAULT,
                      STALLS[0] - stalls))
            for ln in lines:
                print("#   " + ln)
            continue
        for ln in lines:
            print(ln)
        sys.stdout.flush()
        return


def main():
    global A
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", required=True)
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--reader", required=True)
    ap.add_argument("--inner-io", help="static inner-io: enables the real-QEMU death test")
    ap.add_argument("--only", help="comma-separated: " + ",".join(n for n, _ in TESTS + CONTROLS))
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the chosen tests this many times (hunting a rare failure)")
    ap.add_argument("--exits", type=int, default=2000, help="exits per vCPU per run")
    ap.add_argument("--requests", type=int, default=40, help="I/O requests per vCPU")
    ap.add_argument("--cycles", type=int, default=20, help="rmmod/insmod cycles")
    ap.add_argument("--kvm-cycles", type=int, default=2)
    ap.add_argument("--random-writes", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--kmemleak", action="store_true",
                    help="clear kmemleak first, scan it at the end")
    ap.add_argument("--no-hold-keys", dest="hold_keys", action="store_false",
                    help="let module loads and VMs patch kernel text, as on a real host "
                         "(selftests/lib/labhold.py; can stall TCG guests)")
    A = ap.parse_args()
    if A.seed is None:
        A.seed = random.randrange(1 << 30)
    only = set(A.only.split(",")) if A.only else None
    known = {n for n, _ in TESTS + CONTROLS}
    if only and only - known:
        ap.error("unknown test in --only: %s" % ",".join(only - known))
    if A.repeat < 1:
        ap.error("--repeat wants 1 or more")
    print("TAP version 13")
    print("# kvmio_lat hardening, seed %d, kernel %s" % (A.seed, os.uname().release))
    if os.geteuid():
        print("1..0 # SKIP needs root (run it in the lab: selftests/lab/lab.sh)")
        return 4
    if kvm_sh("modprobe kvm_amd") or sh("modprobe configfs && modprobe null_blk nr_devices=1 "
                                     "irqmode=2 completion_nsec=1000000"):
        print("Bail out! cannot load kvm_amd or null_blk")
        return 1
    hold_keys()
    if A.kmemleak:		# only leaks from now on
        try:
            with open("/sys/kernel/debug/kmemleak", "w") as f:
                f.write("clear")
        except OSError:
            pass
    chosen = [(n, f) for n, f in TESTS + CONTROLS
              if (only and n in only) or (not only and (n, f) in TESTS)]
    for rep in range(1, A.repeat + 1):
        for name, fn in chosen:
            if name == "lockdown" and rep < A.repeat:
                continue	# it cannot be undone: only in the last round
            t0 = time.time()
            print("# %s: start%s" % (name, " (round %d of %d)" % (rep, A.repeat)
                                     if A.repeat > 1 else ""))	# a hung guest shows where
            sys.stdout.flush()
            run_test(name, fn)
            print("# %s: %.1f s" % (name, time.time() - t0))
    if loaded():
        rmmod(retry_busy=250)
    print("1..%d" % len(results))
    failed = results.count(False)
    print("# Totals: pass:%d fail:%d" % (len(results) - failed, failed))
    if failed and (GUEST_FAULTS[0] or STALLS[0]):
        # selftests/lab/lab-hazard.sh reads this line: such a boot is
        # suspect (the faults and stalls come in bad stretches, a hang or
        # the lab's panic often after them), so the run gets a fresh one
        print("# hardening: this boot's test guests: %d faulted (kvmio-vmm exit %d, \"guest "
              "took unexpected vector\"), %d stalled: the lab's nested SVM" % (
                  GUEST_FAULTS[0], VMM_EXIT_GUEST_FAULT, STALLS[0]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
