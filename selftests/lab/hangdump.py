#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Where a hung lab guest's vCPUs are: lab.sh's report on a timeout.

A guest that hangs under the lab's TCG often says nothing: both vCPUs stuck
with interrupts off leave no lockup or RCU report (Documentation/lab.rst).
Before lab.sh kills such a guest it runs

    hangdump.py capture MONITOR_SOCKET OUT [AFTER_SECONDS]

which asks QEMU's monitor for every vCPU's registers and the words on its
stack, three times a second apart, and for each its local APIC's state
(is its timer armed and counting, is an interrupt pending?), then presses
SysRq-9 and SysRq-t on the guest's keyboard (lab.sh boots it with
sysrq_always_enabled): every task's state and stack, for a guest whose
CPUs all idle, where the registers show nothing; and after the kill

    hangdump.py report RUNDIR

which names each vCPU's RIP and the kernel text addresses on its stack,
with the symbols the guest left in RUNDIR/kallsyms (core kernel, at boot),
RUNDIR/modsyms and RUNDIR/modules (the modules' symbols and /proc/modules,
saved again whenever the list changed), each local APIC's timer, and the
user tasks SysRq-t printed on its console (RUNDIR/console.log; kernel
threads left out).  The key press is an interrupt: a guest stuck only for
want of one goes on, and lab.sh says so.
"""
import bisect
import re
import socket
import sys
import time

SAMPLES = 3
STACK_WORDS = 96


def monitor(sock, cmd):
    sock.sendall(cmd.encode() + b"\n")
    out = b""
    sock.settimeout(2.0)
    try:	# HMP has no end-of-reply marker: read until its prompt
        while not out.rstrip().endswith(b"(qemu)"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    return out.decode(errors="replace")


def capture(path, out, after=0):
    time.sleep(after)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    monitor(s, "")	# the banner
    with open(out, "w") as f:
        for n in range(SAMPLES):
            regs = monitor(s, "info registers -a")
            f.write("@@sample %d\n%s\n" % (n, regs))
            for cpu, rsp in re.findall(r"CPU#(\d+)\s.*?RSP=([0-9a-f]+)", regs, re.S):
                monitor(s, "cpu %s" % cpu)
                f.write("@@stack cpu %s\n%s\n" % (cpu, monitor(s, "x/%dgx 0x%s" % (STACK_WORDS, rsp))))
            time.sleep(1)
        for cpu in sorted(set(re.findall(r"CPU#(\d+)", regs))):
            f.write("@@lapic cpu %s\n%s\n" % (cpu, monitor(s, "info lapic %s" % cpu)))
        monitor(s, "sendkey alt-sysrq-9")	# the tasks print at KERN_INFO
        monitor(s, "sendkey alt-sysrq-t")
        f.write("@@sysrq t\n")
        f.flush()
        time.sleep(3)
    return 0


def user_tasks(rundir):
    """The SysRq-t blocks of tasks that are not kernel threads."""
    try:
        with open(rundir + "/console.log", errors="replace") as f:
            text = f.read()
    except OSError:
        return
    text = re.sub(r"\x1b(\[[0-9;?]*[A-Za-z]|c)", "", text.replace("\r", ""))
    start = text.find("sysrq: Show State")
    if start < 0:
        print("  (the guest's console shows no SysRq-t output)")
        return
    lines = [re.sub(r"^\[ *[0-9.]+\] ?", "", ln) for ln in text[start:].splitlines()]
    blocks, cur = [], None
    for ln in lines:
        if ln.startswith("task:"):
            cur = [ln]
            blocks.append(cur)
        elif cur is not None and ln.strip():
            cur.append(ln)
    users = [b for b in blocks if not re.search(r"\b(ppid:2|pid:2) ", b[0] + " ")]
    print("  SysRq-t: %d tasks, %d of them not kernel threads (state: frames; the "
          "system call it is in):" % (len(blocks), len(users)))
    for b in users:
        head = re.match(r"task:(.*?)\s+state:(\S+).*?pid:(\d+)", b[0])
        frames = [re.sub(r"\+0x.*", "", ln.strip()) for ln in b[1:]
                  if re.match(r"\s+[a-z_][\w.]*\+0x", ln)]
        sysno = re.search(r"ORIG_RAX: ([0-9a-f]+)", " ".join(b))
        print("  | %s %s %s: %s%s" % (
            head.group(1) if head else "?", head.group(3) if head else "?",
            head.group(2) if head else "?", " < ".join(frames[:12]),
            "; syscall %d" % int(sysno.group(1), 16) if sysno else ""))


class Symbols:
    def __init__(self, rundir):
        self.addrs, self.names, self.mods = [], [], []
        syms = []
        for name in ("kallsyms", "modsyms"):
            try:
                with open(rundir + "/" + name) as f:
                    for ln in f:
                        p = ln.split()
                        if len(p) >= 3 and p[1] in "tTwW":
                            syms.append((int(p[0], 16), p[2] + (" " + p[3] if len(p) > 3 else "")))
            except (OSError, ValueError):
                pass
        syms.sort()
        self.addrs = [a for a, _ in syms]
        self.names = [n for _, n in syms]
        try:
            with open(rundir + "/modules") as f:
                for ln in f:
                    p = ln.split()
                    if len(p) >= 6:
                        base = int(p[5], 16)
                        self.mods.append((base, base + int(p[1]), p[0]))
        except (OSError, ValueError):
            pass

    def name(self, addr):
        i = bisect.bisect_right(self.addrs, addr) - 1
        for lo, hi, mod in self.mods:	# a module's symbol must be its own
            if lo <= addr < hi and not (i >= 0 and self.addrs[i] >= lo and
                                        self.names[i].endswith("[%s]" % mod)):
                return "[%s]+0x%x" % (mod, addr - lo)
        if i >= 0 and self.addrs and addr - self.addrs[i] < 0x10000 and \
                (i + 1 == len(self.addrs) or addr < self.addrs[-1] + 0x10000):
            return "%s+0x%x" % (self.names[i], addr - self.addrs[i])
        return None


def report(rundir):
    try:
        with open(rundir + "/hang-regs.txt") as f:
            text = f.read()
    except OSError:
        print("  (no register dump: QEMU's monitor did not answer)")
        return 0
    syms = Symbols(rundir)
    if not syms.addrs:
        print("  (no kallsyms from the guest: addresses only)")
    rips = {}
    for sample in text.split("@@sample")[1:]:
        sample = sample.split("@@stack")[0]
        for cpu, body in re.findall(r"CPU#(\d+)\n(.*?)(?=CPU#|\Z)", sample, re.S):
            m = re.search(r"RIP=([0-9a-f]+).*?CPL=(\d).*?HLT=(\d)", body, re.S)
            if m:
                rips.setdefault(cpu, []).append((int(m.group(1), 16), m.group(2), m.group(3)))
    for cpu in sorted(rips):
        seen = ", ".join("%s%s" % (syms.name(r) or "%x" % r,
                                   " (user)" if cpl == "3" else " (halted)" if hlt == "1" else "")
                         for r, cpl, hlt in rips[cpu])
        print("  cpu %s RIP: %s" % (cpu, seen))
    shown = set()
    for cpu, body in re.findall(r"@@stack cpu (\d+)\n(.*?)(?=@@|\Z)", text, re.S):
        words = [int(w, 16) for w in re.findall(r" 0x([0-9a-f]{16})", body)]
        frames = [syms.name(w) for w in words if w >= 0xffffffff80000000]
        frames = [f for f in frames if f]
        line = "  cpu %s stack: %s" % (cpu, " < ".join(frames[:24]))
        if frames and line not in shown:	# a stack that moved is shown again
            shown.add(line)
            print(line)
    for cpu, body in re.findall(r"@@lapic cpu (\d+)\n(.*?)(?=@@|\Z)", text, re.S):
        timer = re.search(r"Timer\s+(.*)", body)
        irr = re.search(r"IRR\s+(.*)", body)
        print("  cpu %s LAPIC timer: %s; IRR %s" % (
            cpu, timer.group(1).strip() if timer else "?", irr.group(1).strip() if irr else "?"))
    if "@@sysrq" in text:
        user_tasks(rundir)
    return 0


def main():
    if len(sys.argv) in (4, 5) and sys.argv[1] == "capture":
        try:
            return capture(sys.argv[2], sys.argv[3], float(sys.argv[4:5] and sys.argv[4] or 0))
        except OSError as e:
            print("hangdump: %s" % e, file=sys.stderr)
            return 1
    if len(sys.argv) == 3 and sys.argv[1] == "report":
        return report(sys.argv[2])
    print("usage: hangdump.py capture SOCKET OUT [AFTER] | report RUNDIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
