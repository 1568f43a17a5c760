# SPDX-License-Identifier: GPL-2.0
"""Parse kvmio_lat's hist text (format 5, or 2 to 4 of older modules) for lab tests.

Deliberately independent of the kvmio-lat reader: the tests check the module
against their own reading of the documented format.
"""
import re

STAGES = {
    "native": ["doorbell_to_wake", "wake_to_submit", "submit", "submit_to_reap",
               "reap_to_irq", "irq_to_entry", "total"],
    "threads": ["doorbell_to_wake", "wake_to_dispatch", "io", "io_to_reap",
                "reap_to_irq", "irq_to_entry", "total"],
    # format 5
    "io_uring": ["doorbell_to_wake", "wake_to_submit", "submit", "submit_to_complete",
                 "complete_to_reap", "reap_to_irq", "irq_to_entry", "total"],
}
# A disk's histograms (format 3), the same on both paths: submit_to_irq is
# submit + submit_to_reap + reap_to_irq (threads: io + io_to_reap +
# reap_to_irq) of its requests.  Format 4 adds io before them: the host's
# I/O alone (threads: the worker's system call; native: io_submit to the
# completion seen in the AIO ring, absent when the ring was not read).
DISK_STAGES = ["io", "submit_to_irq", "total"]
VERSIONS = ("2", "3", "4", "5")

_FIELD = re.compile(r"(\w+)=(\d+)")
_BUCKET = re.compile(r"^  \[(\d+), (\d+)\) (\d+)$")


class Hist:
    def __init__(self, fields):
        self.f = {k: int(v) for k, v in _FIELD.findall(fields)}
        self.buckets = []

    def __getitem__(self, k):
        return self.f[k]

    @property
    def count(self):
        return self.f["count"]

    @property
    def mean(self):
        # zeros (and negatives, as 0) are in bucket [0, 1) and the mean
        inrange = self.f["count"] - self.f["overflow"]
        return self.f["sum"] / inrange if inrange else 0.0


def parse(text):
    """{pid: {"comm": str, "vcpus": {vcpu: {"exits": {reason: Hist},
    "stages": {path: {stage: Hist}}, "exit_count": n}},
    "disks": {fd: {path: {disk_stage: Hist}}}}}; "disks" is empty in a
    format 2 snapshot, and a path of a disk has only its non-empty
    histograms (DISK_STAGES; no "io" before format 4)."""
    lines = text.splitlines()
    head = "# kvmio_lat hist "
    if not lines or not lines[0].startswith(head) or lines[0][len(head):] not in VERSIONS:
        raise ValueError("not a kvmio_lat hist %s snapshot: %r" % (
            " or ".join(VERSIONS), lines[:1]))
    version = int(lines[0][len(head):])
    if lines[-1] != "end":
        raise ValueError("truncated snapshot (no 'end' line)")
    vms, cur = {}, None
    for ln in lines[1:-1]:
        if ln.startswith("#"):
            continue
        m = _BUCKET.match(ln)
        if m:
            cur.buckets.append(tuple(int(x) for x in m.groups()))
            continue
        w = ln.split()
        if w[0] == "vm":	# vm PID COMM vcpus N [exited NS]
            vms[int(w[1])] = {"comm": w[2], "vcpus": {}, "disks": {},
                              "exited_ns": int(w[6]) if len(w) > 6 else None}
        elif w[0] == "vcpu":
            vms[int(w[1])]["vcpus"][int(w[2])] = {
                "exits": {}, "stages": {p: {} for p in STAGES},
                "exit_count": int(w[6])}
        elif w[0] == "exit":
            cur = Hist(ln)
            vms[int(w[1])]["vcpus"][int(w[2])]["exits"][w[3]] = cur
        elif w[0] == "stage":
            if w[3] not in STAGES or w[4] not in STAGES[w[3]] or \
                    (w[3] == "io_uring" and version < 5):
                raise ValueError("unexpected stage histogram: %r" % ln)
            cur = Hist(ln)
            vms[int(w[1])]["vcpus"][int(w[2])]["stages"][w[3]][w[4]] = cur
        elif w[0] == "disk" and version >= 3:	# disk PID FD PATH STAGE ...
            if (w[3] not in STAGES or w[4] not in DISK_STAGES
                    or (w[4] == "io" and version < 4)
                    or (w[3] == "io_uring" and version < 5)):
                raise ValueError("unexpected disk histogram: %r" % ln)
            cur = Hist(ln)
            disk = vms[int(w[1])]["disks"].setdefault(
                int(w[2]), {p: {} for p in STAGES})
            disk[w[3]][w[4]] = cur
        else:
            raise ValueError("unexpected line: %r" % ln)
    return vms


def parse_stats(text):
    out = {}
    for ln in text.splitlines():
        k, _, v = ln.partition(": ")
        out[k] = int(v)
    return out
