# SPDX-License-Identifier: GPL-2.0
"""Keep the lab guest's kernel from patching its own text during a test.

QEMU's multi-threaded TCG, which the lab runs on, can let a vCPU execute a
stale int3 of a text patch another vCPU just finished: an "Oops: int3", a
soft lockup, or a vCPU sitting for a minute at a patch site (reproduced
without kvmio_lat by toggling raw_syscalls in tracefs;
Documentation/lab.rst).  Two kinds of patch happen in every
test, and neither is what the tests are about:

* kvmio_lat's loads and unloads: a tracepoint's first probe switches its
  static key and its second turns its static call to the iterator; from two
  probes on, adding or removing one patches nothing.  hold_events() enables
  each tracepoint kvmio_lat uses as an ftrace event that records nothing
  (tracing_on 0) in the top-level trace array and in an instance of ours:
  loads then move it between two and three probes.
* kvm switches the scheduler's preempt-notifier key when its first VM is
  created and its last destroyed, and its kvm_has_noapic_vcpu key (in
  kvm_amd's svm_vcpu_load, run at every context switch of a vCPU thread)
  when the first vCPU without an in-kernel LAPIC comes and the last goes:
  kvmio-vmm's exit loops make such vCPUs; and its apic_sw_disabled key
  while any in-kernel LAPIC is software-disabled (QEMU's vCPUs until
  their guest enables them; switched off a second later, at any moment).
  hold_vm() keeps a VM with one vCPU without a LAPIC and one with a
  software-disabled LAPIC open, neither ever run (so kvmio_lat never
  sees them); release_vm() before kvm is unloaded.

One patch no hold can avoid: loading or unloading kvm itself (since 5.17
kvm_amd switches perf's guest callbacks, static calls in the core kernel).
one_cpu() runs such a step with every other CPU offline, so no other vCPU
can run the text being patched.

As a program, for the shell tests: `labhold.py` holds both until it gets
SIGTERM or SIGINT, then lets go; it prints "held" once it holds them
(`--instances`: events held in two instances of ours, leaving the
top-level array to trace-cmd; `--modprobe=kvm_amd`: load it first, the
kvm_change() way, unless it is loaded).
`labhold.py one-cpu CMD...` runs CMD with the other CPUs offline.
"""
import contextlib
import fcntl
import glob
import os
import signal
import subprocess
import sys

TRACING = "/sys/kernel/tracing"
INSTANCE = TRACING + "/instances/kvmio_lat_hold"
EVENTS = ("raw_syscalls/sys_enter", "raw_syscalls/sys_exit", "sched/sched_process_exit",
          "kvm/kvm_exit", "kvm/kvm_entry", "kvm/kvm_userspace_exit", "kvm/kvm_mmio",
          "kvm/kvm_fast_mmio", "kvm/kvm_pio", "kvm/kvm_msi_set_irq", "kvm/kvm_set_irq",
          "kvm/kvm_apic_accept_irq", "kvm/kvm_apicv_accept_irq", "kvm/kvm_inj_virq",
          "io_uring/io_uring_submit_sqe", "io_uring/io_uring_submit_req",
          "io_uring/io_uring_complete")
# kvmio_lat's kretprobes (module/syshooks.c) sit on these functions through
# ftrace: a kprobe event on each, enabled, makes kvmio_lat's an aggregate
# of it that patches nothing when it comes or goes (kvm_ioeventfd's needs
# no hold: nothing runs it while it is patched).
HOOKED = ("__x64_sys_read", "__x64_sys_write", "__x64_sys_poll", "__x64_sys_select",
          "__x64_sys_pselect6", "__x64_sys_ppoll", "__x64_sys_epoll_wait",
          "__x64_sys_epoll_pwait", "__x64_sys_epoll_pwait2", "__x64_sys_io_uring_enter",
          "__x64_sys_io_submit", "__x64_sys_io_getevents", "__x64_sys_io_pgetevents",
          "__x64_sys_pread64", "__x64_sys_pwrite64", "__x64_sys_preadv",
          "__x64_sys_pwritev", "__x64_sys_preadv2", "__x64_sys_pwritev2",
          "__x64_sys_fsync", "__x64_sys_fdatasync")
KPROBE_GROUP = "kvmio_lat_hold"
KVM_CREATE_VM = 0xAE01
KVM_CREATE_VCPU = 0xAE41
KVM_CREATE_IRQCHIP = 0xAE60

_vm = []
_arrays = []	# the trace arrays hold_events() enabled events in


def _write(path, text):
    try:
        with open(path, "w") as f:
            f.write(text)
        return True
    except OSError:
        return False


def _append(path, text):
    """A line to a tracefs command file (kprobe_events): opened O_APPEND
    but never seeked, which Python's "a" mode does and tracefs refuses."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except OSError:
        return False
    try:
        os.write(fd, text.encode())
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def hold_events(on=True, instances_only=False):
    """Enable (on) or disable every event of EVENTS this kernel has, in two
    arrays: the top-level one and an instance of ours, or (instances_only,
    for tests that record with trace-cmd, which takes over the top-level
    array) two instances of ours.  Call it again after kvm is (re)loaded:
    its events come and go with it."""
    if not os.path.exists(TRACING + "/tracing_on"):
        os.system("mount -t tracefs nodev %s 2>/dev/null" % TRACING)
    if on:
        _arrays[:] = [INSTANCE, INSTANCE + "2"] if instances_only else [TRACING, INSTANCE]
    for top in list(_arrays):
        if on:
            try:
                os.makedirs(top, exist_ok=True)
            except OSError:
                return
            if not _write(top + "/tracing_on", "0"):
                return
        for e in EVENTS + _kprobe_events(on):
            _write("%s/events/%s/enable" % (top, e), "1" if on else "0")
        if not on and top != TRACING:
            try:
                os.rmdir(top)
            except OSError:
                pass
    if not on:
        _arrays.clear()
        for f in HOOKED:
            _append(TRACING + "/kprobe_events", "-:%s/%s\n" % (KPROBE_GROUP, f))


def _kprobe_events(define):
    """The kprobe events of HOOKED this kernel has (kvm_ioeventfd: while kvm
    is loaded), defined first if @define."""
    have = []
    for f in HOOKED:
        ev = "%s/%s" % (KPROBE_GROUP, f)
        if define and not os.path.exists(TRACING + "/events/" + ev):
            _append(TRACING + "/kprobe_events", "p:%s %s\n" % (ev, f))
        if os.path.exists(TRACING + "/events/" + ev):
            have.append(ev)
    return tuple(have)


def hold_vm():
    """Hold, while kvm is loaded, two VMs of one vCPU that never runs
    (nothing if there is no kvm).  kvm switches static keys as VMs and
    vCPUs come and go, text patching the lab's TCG can hang on (module
    docstring): the preempt notifiers (first VM in, last out);
    kvm_has_noapic_vcpu (vCPUs without an in-kernel LAPIC, as the exit
    loop's: the first VM's vCPU); and apic_sw_disabled, on while any
    in-kernel LAPIC is software-disabled, which every vCPU with one is
    until its guest enables it (QEMU's, kvmio-vmm io's) and which is
    switched off a second after the last one is (a deferred key, from a
    workqueue, at any moment): the second VM's vCPU has an in-kernel LAPIC
    that no guest ever enables."""
    if _vm:
        return
    try:
        kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return
    try:
        _vm.append(fcntl.ioctl(kvm, KVM_CREATE_VM, 0))
        _vm.append(fcntl.ioctl(_vm[-1], KVM_CREATE_VCPU, 0))
        _vm.append(fcntl.ioctl(kvm, KVM_CREATE_VM, 0))
        fcntl.ioctl(_vm[-1], KVM_CREATE_IRQCHIP, 0)
        _vm.append(fcntl.ioctl(_vm[-1], KVM_CREATE_VCPU, 0))
    except OSError:
        pass
    os.close(kvm)


def release_vm():
    """Before kvm is unloaded: its module is busy while a VM exists."""
    while _vm:
        os.close(_vm.pop())	# each vCPU before its VM


@contextlib.contextmanager
def one_cpu():
    """Every CPU but cpu0 offline for the duration (those that can go)."""
    went = []
    for f in sorted(glob.glob("/sys/devices/system/cpu/cpu[0-9]*/online")):
        try:
            with open(f) as fh:
                if fh.read().strip() != "1":
                    continue
            if _write(f, "0"):
                went.append(f)
        except OSError:
            pass
    try:
        yield
    finally:
        for f in went:
            _write(f, "1")


@contextlib.contextmanager
def kvm_change():
    """Load or unload kvm inside: every other CPU offline, the empty VM let
    go before and taken again after (after a reload, that VM is kvm's first
    and flips the preempt-notifier key: a hardening run hung there, a vCPU
    at a stale int3 in __schedule with its runqueue locked)."""
    with one_cpu():
        release_vm()
        yield
        hold_vm()


def hold(instances_only=False):
    """Taking the holds patches text itself (each tracepoint's first two
    probes, kvm's first VM): with one CPU."""
    with one_cpu():
        hold_events(True, instances_only)
        hold_vm()


def release():
    """Letting go patches too (the last VM, the last probes): one CPU."""
    with one_cpu():
        release_vm()
        hold_events(False)


def main():
    args = sys.argv[1:]
    if args[:1] == ["one-cpu"] and len(args) > 1:
        with one_cpu():
            return subprocess.run(args[1:], check=False).returncode
    instances = "--instances" in args
    mods = [a.split("=", 1)[1] for a in args if a.startswith("--modprobe=")]
    if len(args) != instances + len(mods):
        print("usage: labhold.py [--instances] [--modprobe=MODULE] | one-cpu CMD...",
              file=sys.stderr)
        return 2
    sigs = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)	# no race with sigwait
    for m in mods:
        if not os.path.exists("/sys/module/" + m):
            with kvm_change():
                if subprocess.run(["modprobe", m], check=False).returncode:
                    print("labhold: modprobe %s failed" % m, file=sys.stderr)
                    return 1
    hold(instances_only=instances)
    print("held", flush=True)
    signal.sigwait(sigs)
    release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
