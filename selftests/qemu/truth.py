#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""truth.py - hold each request kvmio_lat recorded against QEMU's own trace
of the same run (selftests/qemu/truth_test.sh).

QEMU's log backend (-trace EVENT -msg timestamp=on -D FILE) stamps each
event with CLOCK_REALTIME in microseconds, from the thread that does the
work: virtio_queue_notify when the event loop handles a notify (just after
its wake), virtio_blk_handle_read/_write just before the request is
submitted, virtio_blk_rw_complete/virtio_blk_req_complete when it completes
(the reap), virtio_notify_irqfd/virtio_notify just before the interrupt is
raised.  kvmio_lat's kvmio_lat_request events carry the module's stamps
(clock=ktime: CLOCK_MONOTONIC ns).  The script converts QEMU's stamps with
the REALTIME - MONOTONIC offset the test measured, pairs requests one by
one, and checks each boundary kvmio_lat and QEMU both see:

  wake    module wake       <= QEMU virtio_queue_notify    (+ tolerance)
  submit  module submit     ~  QEMU handle_read/_write
  reap    module reap       <= QEMU rw_complete            (+ tolerance)
  irq     module irq        ~  QEMU's notify that raised the interrupt

A device without MSI-X (vectors=0) is different: QEMU 7.2 gives KVM an
irqfd only for MSI-X vectors, so virtio_notify_irqfd only writes the
device's guest notifier, and the event loop raises the INTx line in a
later iteration (KVM_IRQ_LINE) with no trace event of its own.  The
module knows its interrupt was a line (kvm_set_irq): such a request is
checked by order only, the raise after QEMU's notify and, on the threads
path, the reap (the wake of the raising iteration) between QEMU's
completion and the raise; a native request's reap is its completion seen
in the AIO ring, checked as with MSI-X (Documentation/design.rst).

aio=io_uring: QEMU logs luring_co_submit (its LuringAIOCB, the request's
user_data) in the thread that handled the request, and
luring_process_completion as it reaps it.  The module's completion must
lie between its submission and that reap, and its reap (the loop's
return from its wait) before it.  With --kernel-uring, the kernel's own
io_uring events of the same run (ftrace, mono clock): each io_uring
request's submit_to_complete must be the kernel's interval from its
io_uring_submit_sqe/_req to its io_uring_complete (same ring and
user_data): each of the module's two stamps at or after the kernel's
event, within --kernel-us (ftrace's probe runs first), for 97 %, and the
median of the difference within --kernel-median-us.

A boundary is within tolerance when the module's stamp lies between the
QEMU events of the same device that bracket it, within --slack-us (clock
alignment, QEMU's µs stamps):

  wake    after the device's previous notify handling, not after this one
  submit  after QEMU logged the request, before QEMU completed it
  reap    after the submission ended, not after QEMU completed it
  irq     not before QEMU's notify, before the device's next one

A stamp taken from the wrong event (another request's interrupt, a wake
of the request before) falls outside.  With --wake-unseen-ok, a record
whose wake is its submission (the module saw no wake: an iothread polling
its queues, poll-max-ns, finds a request without a system call) is
counted apart and its wake not checked.  The absolute gaps are printed too:
under the lab's TCG, QEMU's thread is preempted between a log line and
the system call after it for ms (tens of ms on a loaded machine), which
no fixed tolerance separates from a wrong pairing; --tolerance-us bounds
only the slowest request (a ghost).

QEMU does not raise an interrupt for every completion: with EVENT_IDX it
skips one while the guest has not re-enabled them (it is still taking
completions from the used ring).  Such a request reaches the guest with
the next interrupt of its device (or none, taken from the ring by the
guest's handler); its "irq" is the first notify of its device after it.

Disks: each module record names its disk by QEMU's file descriptor (fd=),
QEMU's events by device (vdev).  The pairs give each device's fd (by
majority); every pair must agree with it, no two devices may share one,
and with --hist, the per-disk counts of the module's hist file (disk
lines) must equal each device's requests in QEMU's trace within
--disk-count-slack percent.  --slow-disk-us D: one device was made slow
by D µs (dm-delay under it): QEMU's median handle -> completion of exactly
one device is at least D, and the module's median I/O stage is at least
0.9 D on that disk's submit_to_irq row and below it on every other disk's.

  truth.py --qemu QEMU.log --module REQUESTS.txt --offset-ns N
           [--tolerance-us T] [--label NAME] [--json OUT.json]
           [--min-attributed P] [--min-within P] [--count-slack P]
           [--boot-until-us S] [--hist HIST [--disk-count-slack P]
           [--slow-disk-us D]] [--kernel-uring FTRACE.txt]

Prints a summary, one line per failed check prefixed "FAIL", and exits 1
if any check fails.
"""
import argparse
import bisect
import json
import re
import sys

QEMU_LINE = re.compile(r'^(\d+)@(\d+)\.(\d+):(\S+)\s*(.*)$')
KV = re.compile(r'(\w+)[=\s]+(0x[0-9a-fA-F]+|-?\d+)')
# how far a pool thread's submission may come before QEMU logs its request
PAIR_SLACK_NS = 300 * 1000
MODULE_FIELDS = ('doorbell', 'wake', 'submit', 'submit_end', 'complete',
                 'reap', 'irq', 'entry')
QREQ_STAMPS = ('kind', 'handle', 'sector', 'rw_done', 'done', 'notify',
               'notify_next', 'queue_notify', 'queue_notify_prev',
               'suppressed', 'intx', 'uring_reap')


def kv(rest):
    """'vdev 0x55 req 0x77 sector 8' or 'vdev=0x55 ...' -> dict of ints."""
    out = {}
    for k, v in KV.findall(rest):
        out[k] = int(v, 0)
    return out


class QReq:
    __slots__ = ('vdev', 'req', 'kind', 'handle', 'sector', 'rw_done', 'done',
                 'notify', 'notify_next', 'queue_notify', 'queue_notify_prev',
                 'suppressed', 'intx', 'match', 'tid', 'lucb', 'uring_reap')

    def __init__(self, vdev, req, kind, t):
        self.vdev, self.req, self.kind, self.handle = vdev, req, kind, t
        self.sector = self.tid = self.lucb = self.uring_reap = None
        self.rw_done = self.done = self.notify = self.queue_notify = None
        self.notify_next = self.queue_notify_prev = None
        self.suppressed = self.intx = False
        self.match = None



def read_qemu(path, offset_ns):
    """QEMU's requests (in handle order), each with its device's notify
    times around it, and every notify in time order: (t, vdev, vq)."""
    open_reqs, reqs, notes = {}, [], []
    notifies, queue_notifies = {}, {}
    # io_uring: the requests a thread handled, not yet given their
    # LuringAIOCB; the LuringAIOCBs submitted, not yet reaped
    unsubmitted, by_lucb = {}, {}
    with open(path, errors='replace') as f:
        for line in f:
            m = QEMU_LINE.match(line.strip())
            if not m:
                continue
            t = (int(m.group(2)) * 1000000 + int(m.group(3))) * 1000 - offset_ns
            ev, args = m.group(4), kv(m.group(5))
            vdev = args.get('vdev')
            if ev in ('virtio_blk_handle_read', 'virtio_blk_handle_write'):
                q = QReq(vdev, args.get('req'), ev[-5:].strip('_'), t)
                q.sector = args.get('sector')
                q.tid = int(m.group(1))
                open_reqs[(vdev, q.req)] = q
                reqs.append(q)
                unsubmitted.setdefault(q.tid, []).append(q)
            elif ev == 'luring_co_submit':
                # the oldest request its thread handled and did not submit
                pend = unsubmitted.get(int(m.group(1)), [])
                if pend:
                    q = pend.pop(0)
                    q.lucb = args.get('luringcb')
                    by_lucb[q.lucb] = q
            elif ev == 'luring_process_completion':
                q = by_lucb.pop(args.get('luringcb'), None)
                if q:
                    q.uring_reap = t
            elif ev == 'virtio_blk_rw_complete':
                q = open_reqs.get((vdev, args.get('req')))
                if q:
                    q.rw_done = t
            elif ev == 'virtio_blk_req_complete':
                q = open_reqs.pop((vdev, args.get('req')), None)
                if q:
                    q.done = t
            elif ev in ('virtio_notify_irqfd', 'virtio_notify'):
                notifies.setdefault(vdev, []).append(t)
                notes.append((t, vdev, args.get('vq')))
            elif ev == 'virtio_queue_notify':
                queue_notifies.setdefault(vdev, []).append(t)
    for q in reqs:
        if q.done is None:
            continue
        nts = notifies.get(q.vdev, [])
        i = bisect.bisect_left(nts, q.done)
        q.notify = nts[i] if i < len(nts) else None
        q.notify_next = nts[i + 1] if i + 1 < len(nts) else None
        qts = queue_notifies.get(q.vdev, [])
        j = bisect.bisect_right(qts, q.handle)
        q.queue_notify = qts[j - 1] if j else None
        q.queue_notify_prev = qts[j - 2] if j > 1 else None
    # a completion whose device raised no interrupt before the next
    # completion of that device: QEMU suppressed it (EVENT_IDX)
    by_vdev = {}
    for q in reqs:
        if q.done is not None:
            by_vdev.setdefault(q.vdev, []).append(q)
    for qs in by_vdev.values():
        qs.sort(key=lambda q: q.done)
        for a, b in zip(qs, qs[1:]):
            if a.notify is None or a.notify > b.done:
                a.suppressed = True
        if qs and qs[-1].notify is None:
            qs[-1].suppressed = True
    notes.sort(key=lambda n: n[0])
    return reqs, notes


def early_by(notes, ts, r, q):
    """Whose interrupt ended request @r (QEMU's @q) before QEMU's notify for
    it: the device and queue QEMU notified last before the module's stamp
    (QEMU logs a notify just before raising it).  @ts: the notes' times."""
    i = bisect.bisect_right(ts, r['irq']) - 1
    j = bisect.bisect_left(ts, q.notify)
    if i < 0 or j >= len(notes):
        return 'unknown'
    if notes[i][1] != q.vdev:
        return 'another device'
    return 'its own queue' if notes[i][2] == notes[j][2] else 'another queue of its disk'


def read_module(path):
    """kvmio_lat_request records, from ftrace text or replay --requests."""
    recs = []
    with open(path, errors='replace') as f:
        for line in f:
            if 'tgid=' not in line or 'entry=' not in line:
                continue
            body = line[line.index('tgid='):]
            d = {}
            for tok in body.split():
                if '=' in tok:
                    k, v = tok.split('=', 1)
                    d[k] = v
            try:
                r = {k: int(d[k]) for k in MODULE_FIELDS}
                r['path'] = d.get('path', '?')
                r['vcpu'] = int(d.get('vcpu', -1))
                r['addr'] = d.get('mmio', d.get('port', '?'))
                r['fd'] = int(d.get('fd', -1))
                r['off'] = int(d.get('off', -1))
                r['line'] = ' line ' in body	# INTx, not MSI
            except (KeyError, ValueError):
                continue
            recs.append(r)
    recs.sort(key=lambda r: (r['submit'], r['doorbell']))
    return recs


def candidates(q, r, tol):
    """May module record @r be QEMU request @q?  Its submission lies
    between QEMU's handling and completion of @q, its interrupt after."""
    return (q.handle - tol <= r['submit'] <= q.done + tol and
            (q.notify is None or r['irq'] >= q.done - tol))


def cost(q, r):
    c = abs(r['submit'] - q.handle)
    if q.notify is not None:
        c += abs(r['irq'] - q.notify)
    return c


def match(reqs, recs, tol, vdev_of=None):
    """Pair module records with QEMU requests.  First (no @vdev_of) the
    cheapest candidate, to learn which notify address is which device;
    then, for each disk (the module's fd of each of QEMU's devices, which
    the first pass tells; the path for records without an fd), in order:
    QEMU logs requests in the order it submits them, so the k-th
    submission the module saw on a disk is the k-th QEMU handled there (a
    pool thread may start one a little out of order: the earliest one
    not taken that QEMU handled before it).  Not by notify address: a
    request queued behind another disk's notify shares that doorbell
    (rule 4).  Pairing never looks at the boundaries checked."""
    for q in reqs:
        q.match = None
    pairs = []
    if vdev_of is None:
        order = sorted(range(len(reqs)), key=lambda i: reqs[i].handle)
        keys = [reqs[i].handle for i in order]
        taken = set()
        for r in recs:
            lo = bisect.bisect_left(keys, r['submit'] - 120 * 1000000000)
            hi = bisect.bisect_right(keys, r['submit'] + tol)
            best, best_cost = None, None
            for k in range(lo, hi):
                i = order[k]
                if i in taken or not candidates(reqs[i], r, tol):
                    continue
                c = cost(reqs[i], r)
                if best is None or c < best_cost:
                    best, best_cost = i, c
            if best is not None:
                taken.add(best)
                reqs[best].match = r
            pairs.append((r, reqs[best] if best is not None else None))
        return pairs
    queues = {}
    for q in sorted(reqs, key=lambda q: q.handle):
        queues.setdefault(vdev_of.get(q.vdev), []).append(q)
    heads = {v: 0 for v in queues}
    slack = PAIR_SLACK_NS
    for r in recs:
        v = r['fd'] if r['fd'] >= 0 else r['path']
        qs = queues.get(v, [])
        i = heads.get(v, 0)
        while i < len(qs) and qs[i].match is not None:
            i += 1
        heads[v] = i
        best = None
        for k in range(i, len(qs)):
            if qs[k].handle > r['submit'] + slack:
                break
            if qs[k].match is None:
                best = qs[k]
                break
        if best is not None:
            best.match = r
        pairs.append((r, best))
    return pairs


def learn_bases(pairs, vdev_of):
    """The module's disk (fd) -> where QEMU's sector 0 lies in that file
    (the drive's offset= window), by majority of a first matching, from
    the pairs whose fd is their device's."""
    votes = {}
    for r, q in pairs:
        if q is None or q.sector is None or r['off'] < 0 or \
                vdev_of.get(q.vdev) != r['fd']:
            continue
        v = votes.setdefault(r['fd'], {})
        b = r['off'] - q.sector * 512
        v[b] = v.get(b, 0) + 1
    return {fd: max(v, key=v.get) for fd, v in votes.items()}


def match_blocks(reqs, recs, tol, vdev_of, base_of):
    """Pair by block: a record's fd and file offset name the device and
    sector QEMU logged (offset = sector * 512 + the disk's base), which
    pairs exactly whatever the order of submissions.  A block handled
    more than once (the boot's partition scan): the latest not yet taken
    that QEMU handled before the record's submission.  Records without an
    offset (a recording's io_submit, an iocb past the 16th) are paired by
    order (match()) among what is left.  Returns the pairs and how many
    were paired by block."""
    for q in reqs:
        q.match = None
    slack = PAIR_SLACK_NS
    by_block = {}
    for q in sorted(reqs, key=lambda q: q.handle):
        if q.sector is not None:
            by_block.setdefault((vdev_of.get(q.vdev), q.sector * 512),
                                []).append(q)
    pairs, rest, n_block = [], [], 0
    for r in recs:
        fd = r['fd']
        if r['off'] < 0 or fd not in base_of:
            rest.append(r)
            continue
        best = None
        for q in by_block.get((fd, r['off'] - base_of[fd]), []):
            if q.handle > r['submit'] + slack:
                break
            if q.match is None:
                best = q
        if best is not None:
            best.match = r
            n_block += 1
        pairs.append((r, best))
    if rest:
        left = [q for q in reqs if q.match is None]
        pairs += match(left, rest, tol, vdev_of)
    return pairs, n_block


def learn_disks(pairs):
    """QEMU vdev -> the module's disk (its fd; the path, native or
    threads, for records without one), by majority of a first matching."""
    votes = {}
    for r, q in pairs:
        if q is not None:
            v = votes.setdefault(q.vdev, {})
            k = r['fd'] if r['fd'] >= 0 else r['path']
            v[k] = v.get(k, 0) + 1
    return {d: max(v, key=v.get) for d, v in votes.items()}


def read_hist_disks(path):
    """The disk lines of the module's hist file (format 3 or 4):
    {fd: {(path, stage): {count, p50, p90, max}}}."""
    disks = {}
    with open(path, errors='replace') as f:
        for line in f:
            if not line.startswith('disk '):
                continue
            tok = line.split()
            fields = dict(t.split('=', 1) for t in tok[5:] if '=' in t)
            disks.setdefault(int(tok[2]), {})[(tok[3], tok[4])] = {
                k: int(fields[k]) for k in ('count', 'p50', 'p90', 'max')}
    return disks




def check_disks(a, wanted, matched, fails, summary):
    """Each device's fd, per-disk counts and the injected delay."""
    votes = {}
    for r, q in matched:
        if r['fd'] >= 0:
            v = votes.setdefault(q.vdev, {})
            v[r['fd']] = v.get(r['fd'], 0) + 1
    fd_of = {vd: max(c, key=c.get) for vd, c in votes.items()}
    agree = sum(1 for r, q in matched if fd_of.get(q.vdev) == r['fd'])
    agree_pct = 100.0 * agree / len(matched) if matched else 0.0
    summary['disk_agree_pct'] = round(agree_pct, 2)
    print('# %s: %.2f%% of requests paired by time on the disk (fd) of their '
          'QEMU device' % (a.label, agree_pct))
    if agree_pct < a.min_disk_agree:
        fails.append('%.2f%% of requests paired by time on their device\'s fd '
                     '(want %.1f%%)' % (agree_pct, a.min_disk_agree))
    if len(set(fd_of.values())) != len(fd_of):
        fails.append('two QEMU devices on one fd: %s' % fd_of)
    if not a.hist:
        return
    hd = read_hist_disks(a.hist)
    qcount, qlat = {}, {}
    for q in wanted:
        qcount[q.vdev] = qcount.get(q.vdev, 0) + 1
        if q.rw_done is not None:
            qlat.setdefault(q.vdev, []).append(q.rw_done - q.handle)
    rows = []
    slow = []
    # the delayed device: of those whose requests went the delayed disk's
    # path, the one with the most (truth_test.sh gives it 5 % more than
    # the other disk; QEMU's medians cannot tell it at depth, where the
    # lab's loaded event loop holds every disk's requests for ms)
    paths = {}
    for r, q in matched:
        paths.setdefault(q.vdev, {}).setdefault(r['path'], 0)
        paths[q.vdev][r['path']] += 1
    mine = [vd for vd, c in paths.items()
            if max(c, key=c.get) == a.slow_disk_path]
    slow_vdev = max(mine, key=lambda vd: qcount.get(vd, 0)) if mine else None
    for vd in sorted(qcount, key=lambda v: fd_of.get(v, -1)):
        fd = fd_of.get(vd)
        h = hd.get(fd, {})
        mcount = sum(v['count'] for (p, st), v in h.items() if st == 'total')

        def median(stage):
            # the median of the path with most requests (flushes of a
            # native disk go through the pool)
            m = [(v['count'], v['p50']) for (p, st), v in h.items()
                 if st == stage]
            return max(m)[1] if m else 0
        mp50 = {st: median(st) for st in ('io', 'submit_to_irq')}
        qp50 = pct(qlat.get(vd, []), 50)
        rows.append({'vdev': '0x%x' % (vd or 0), 'fd': fd, 'qemu_requests': qcount[vd],
                     'module_requests': mcount,
                     'qemu_p50_handle_to_complete_us': round(qp50 / 1000.0, 1),
                     'module_p50_io_us': round(mp50['io'] / 1000.0, 1),
                     'module_p50_submit_to_irq_us':
                     round(mp50['submit_to_irq'] / 1000.0, 1)})
        print('#   disk fd %s (QEMU vdev 0x%x): QEMU %d requests, module %d; '
              'median QEMU handle -> complete %.1f µs, module io %.1f µs, '
              'submit_to_irq %.1f µs'
              % (fd, vd or 0, qcount[vd], mcount, qp50 / 1000.0,
                 mp50['io'] / 1000.0, mp50['submit_to_irq'] / 1000.0))
        if fd is None or abs(mcount - qcount[vd]) > \
                a.disk_count_slack / 100.0 * qcount[vd]:
            fails.append('disk fd %s (vdev 0x%x): module %d requests, QEMU %d'
                         % (fd, vd or 0, mcount, qcount[vd]))
        for st in a.slow_disk_stages.split(','):
            if a.slow_disk_us and vd == slow_vdev:
                slow.append((fd, st, mp50[st]))
                if qp50 < a.slow_disk_us * 1000:
                    fails.append('the slow disk (fd %s): QEMU\'s median %.1f µs '
                                 '< %d µs: the delay was not injected as meant'
                                 % (fd, qp50 / 1000.0, a.slow_disk_us))
            elif a.slow_disk_us and \
                    mp50[st] - qp50 >= 0.9 * a.slow_disk_us * 1000:
                # (against QEMU's own median for the device: on a loaded
                # machine QEMU itself takes ms per request)
                fails.append('disk fd %s: median %s %.1f µs, QEMU\'s own %.1f µs: '
                             'the delay of another device' %
                             (fd, st, mp50[st] / 1000.0, qp50 / 1000.0))
    summary['disks'] = rows
    if a.slow_disk_us:
        if slow_vdev is None:
            fails.append('no QEMU device of path %s to be the slow disk'
                         % a.slow_disk_path)
        for fd, st, m in slow:
            if m < 0.9 * a.slow_disk_us * 1000:
                fails.append('the slow disk (fd %s): module median %s %.1f µs < 0.9 x %d µs'
                             % (fd, st, m / 1000.0, a.slow_disk_us))


FTRACE_URING = re.compile(r'\s(\d+)\.(\d+): (io_uring_submit_sqe|io_uring_submit_req|'
                          r'io_uring_complete): ring (\S+?),.*?user_data 0x([0-9a-fA-F]+)')


def read_kernel_uring(path):
    """The kernel's io_uring requests: [(submitted, completed)] in ns of
    the mono clock, each submission paired with the next completion of
    its ring and user_data."""
    open_, done = {}, []
    with open(path, errors='replace') as f:
        for line in f:
            m = FTRACE_URING.search(line)
            if not m:
                continue
            t = int(m.group(1)) * 1000000000 + int(m.group(2).ljust(9, '0')[:9])
            key = (m.group(4), int(m.group(5), 16))
            if m.group(3) == 'io_uring_complete':
                s = open_.pop(key, None)
                if s is not None:
                    done.append((s, t))
            else:
                open_[key] = t
    done.sort()
    return done


def check_kernel_uring(a, recs, fails, summary):
    """Each io_uring record's submission and completion against the
    kernel's own events of that request.  ftrace's probe on a tracepoint
    runs before the module's (kvmio_lat registers below the default
    priority), so the module's stamp of an event comes a little after
    ftrace's: the request is the kernel's last submission at or before the
    module's, and its completion must come at or before the module's,
    each within --kernel-us.  submit_to_complete then differs from the
    kernel's own by the difference of the two lags alone."""
    kern = read_kernel_uring(a.kernel_uring)
    subs = [k[0] for k in kern]
    mine = [r for r in recs if r['path'] == 'io_uring']
    tol = int(a.kernel_us * 1000)
    lag_s, lag_c, diffs, unpaired, bad = [], [], [], 0, 0
    for r in mine:
        i = bisect.bisect_right(subs, r['submit_end']) - 1
        if i < 0:
            unpaired += 1
            continue
        s, c = kern[i]
        ls, lc = r['submit_end'] - s, r['complete'] - c
        lag_s.append(ls)
        lag_c.append(lc)
        diffs.append(lc - ls)
        if not (0 <= ls <= tol and 0 <= lc <= tol):
            bad += 1
    within = 100.0 * (len(mine) - unpaired - bad) / len(mine) if mine else 100.0

    def us(v, p):
        return round(pct(v, p) / 1000.0, 1)
    summary['kernel_uring'] = {
        'records': len(mine), 'kernel_requests': len(kern), 'unpaired': unpaired,
        'outside': bad, 'within_pct': round(within, 2),
        'submit_lag_us': {'p50': us(lag_s, 50), 'p99': us(lag_s, 99)},
        'complete_lag_us': {'p50': us(lag_c, 50), 'p99': us(lag_c, 99)},
        'submit_to_complete_diff_us': {'p1': us(diffs, 1), 'p50': us(diffs, 50),
                                       'p99': us(diffs, 99)}}
    print('# %s: io_uring against the kernel\'s own events: %d records, %d kernel '
          'requests, %d unpaired, %.2f%% with both stamps within %.0f µs after the '
          'kernel\'s (lag p50/p99: submit %.1f/%.1f µs, completion %.1f/%.1f µs); '
          'submit_to_complete - the kernel\'s: p1 %+.1f p50 %+.1f p99 %+.1f µs'
          % (a.label, len(mine), len(kern), unpaired, within, a.kernel_us,
             us(lag_s, 50), us(lag_s, 99), us(lag_c, 50), us(lag_c, 99),
             us(diffs, 1), us(diffs, 50), us(diffs, 99)))
    if mine and (unpaired or within < a.min_kernel_within):
        fails.append('io_uring: %d records without the kernel\'s submission; %.2f%% '
                     'with both stamps within %.0f µs of the kernel\'s (want %.1f%%)'
                     % (unpaired, within, a.kernel_us, a.min_kernel_within))
    if diffs and abs(pct(diffs, 50)) > a.kernel_median_us * 1000:
        fails.append('io_uring: median submit_to_complete - the kernel\'s %+.1f µs '
                     '(want within %.0f µs)' % (pct(diffs, 50) / 1000.0,
                                              a.kernel_median_us))


def pct(values, p):
    if not values:
        return 0
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100.0 * len(v)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--qemu', required=True)
    ap.add_argument('--module', required=True)
    ap.add_argument('--offset-ns', type=int, required=True,
                    help='CLOCK_REALTIME - CLOCK_MONOTONIC during the run')
    ap.add_argument('--tolerance-us', type=float, default=1000.0)
    ap.add_argument('--slack-us', type=float, default=300.0)
    ap.add_argument('--label', default='run')
    ap.add_argument('--json')
    ap.add_argument('--min-attributed', type=float, default=100.0,
                    help='percent of QEMU requests the module must record')
    ap.add_argument('--min-within', type=float,
                    help='percent of matched requests within tolerance '
                    '(default 99, none with --target-within)')
    ap.add_argument('--target-within', type=float,
                    help='print the share within tolerance against this '
                    'target, failing only below --min-within')
    ap.add_argument('--count-slack', type=float, default=0.0,
                    help='percent by which the counts may differ')
    ap.add_argument('--irq-timeout-ms', type=float, default=1000,
                    help='the module\'s irq_timeout_ms')
    ap.add_argument('--hist', help='the module\'s hist file of the run')
    ap.add_argument('--disk-count-slack', type=float, default=0.0,
                    help='percent by which a disk\'s counts may differ')
    ap.add_argument('--min-disk-agree', type=float, default=99.0,
                    help='percent of requests paired by time whose fd is '
                    'their device\'s')
    ap.add_argument('--slow-disk-us', type=int, default=0,
                    help='one device was delayed this much (dm-delay)')
    ap.add_argument('--slow-disk-stages', default='io,submit_to_irq',
                    help='the disk histograms that must show that delay')
    ap.add_argument('--slow-disk-path', default='native',
                    help='the delayed device\'s path: of that path\'s devices, '
                    'the one with the most requests')
    ap.add_argument('--min-io-within', type=float, default=0.0,
                    help='percent of matched requests whose host I/O (the '
                    'module\'s io) lies within QEMU\'s handle .. completion')
    ap.add_argument('--pairs', help='write each matched pair (module '
                    'stamps, QEMU\'s, what fell outside) to this file, one '
                    'JSON object a line, for a closer look')
    ap.add_argument('--wake-unseen-ok', action='store_true',
                    help='a record whose wake is its submission (no wake seen: '
                    'an iothread that polls its queues finds requests with no '
                    'system call) is counted, its wake not checked')
    ap.add_argument('--kernel-uring', help='the kernel\'s io_uring_submit_sqe/_req '
                    'and io_uring_complete events of the run (ftrace text, '
                    'mono clock)')
    ap.add_argument('--kernel-us', type=float, default=1000.0,
                    help='how long after the kernel\'s own event the module may '
                    'stamp an io_uring submission or completion (ftrace\'s '
                    'probe runs first: tens of µs under the lab\'s TCG, '
                    'hundreds when an interrupt comes between the two probes)')
    ap.add_argument('--min-kernel-within', type=float, default=97.0,
                    help='percent of io_uring records with both stamps within '
                    '--kernel-us of the kernel\'s (the rest: the lab\'s vCPU '
                    'held for ms between ftrace\'s probe and the module\'s, '
                    'one stamp at a time)')
    ap.add_argument('--kernel-median-us', type=float, default=20.0,
                    help='how far the median of submit_to_complete - the '
                    'kernel\'s own may be from 0')
    ap.add_argument('--boot-until-us', type=float, default=0,
                    help='QEMU requests handled before this many µs after the first are the boot\'s')
    a = ap.parse_args()
    tol = int(a.tolerance_us * 1000)

    reqs, notes = read_qemu(a.qemu, a.offset_ns)
    reqs = [q for q in reqs if q.done is not None]
    recs = read_module(a.module)
    if not reqs:
        print('FAIL %s: no completed request in QEMU\'s trace %s' % (a.label, a.qemu))
        return 1
    # no interrupt within irq_timeout of its completion: the guest polled
    # (SeaBIOS), the module counts it in requests_without_irq
    irq_timeout = int(a.irq_timeout_ms * 1000000)
    polled = [q for q in reqs
              if q.notify is None or q.notify - q.done > irq_timeout]
    wanted = [q for q in reqs if q not in polled]
    # A notify up to twice irq_timeout late, after the boot: on a loaded
    # host (depth 32 in the lab) QEMU's suppressed notifications leave a
    # request's interrupt over a second after QEMU completed it.  The
    # module records it if its loop saw the completion less than
    # irq_timeout before the interrupt, or the guest's used ring names it
    # there; else it counts it without one, as QEMU's stamps can't tell:
    # such a request counts either way (printed), firmware's polled
    # reads (no notify for seconds) do not.
    t0 = min(q.handle for q in reqs)
    late = [q for q in polled if q.notify is not None and
            q.notify - q.done <= 2 * irq_timeout and
            q.handle - t0 >= a.boot_until_us * 1000]
    first = match(wanted, recs, tol)
    disks = learn_disks(first)
    pairs, by_block = match_blocks(wanted + late, recs, tol, disks,
                                   learn_bases(first, disks))
    late_recorded = [q for q in late if q.match is not None]
    polled = [q for q in polled if q not in late_recorded]
    wanted += late_recorded
    matched = [(r, q) for r, q in pairs if q is not None]
    extra = [r for r, q in pairs if q is None]
    lost = [q for q in wanted if q.match is None]

    # Each boundary in the order QEMU's code path puts the two stamps:
    # the loop wakes (module) then handles the notify (QEMU); QEMU logs
    # the request then submits it (native; a pool thread's pread comes
    # later still, after a dispatch QEMU does not log); the loop wakes
    # (module's reap) then completes it (QEMU); QEMU logs the notify then
    # writes the irqfd (module's irq).  d = module - QEMU.
    diffs = {'wake': [], 'submit': [], 'complete': [], 'reap': [], 'irq': []}
    within, bad = 0, []
    slack = int(a.slack_us * 1000)
    never = 10 ** 19

    def between(v, lo, hi):
        return (lo is None or v >= lo - slack) and (hi is None or v <= hi + slack)

    # per boundary and path: how many requests it puts outside
    outside = {}
    note_ts = [n[0] for n in notes]
    early = {}
    # the host's I/O as the disk's io histogram has it: the worker's
    # system call (threads), io_submit to the reap (native)
    io_in = {}
    for r, q in matched:
        end = r['submit_end'] if r['path'] == 'threads' else \
            r['complete'] if r['path'] == 'io_uring' else r['reap']
        n_in = io_in.setdefault(r['path'], [0, 0])
        n_in[1] += 1
        if q.rw_done is not None and between(r['submit'], q.handle, None) and \
                between(end, None, q.rw_done):
            n_in[0] += 1
    pairs_out = open(a.pairs, 'w') if a.pairs else None
    within_path, wake_unseen = {}, {}
    for r, q in matched:
        d, out = {}, []
        d['submit'] = r['submit'] - q.handle
        if not (between(r['submit'], q.handle, q.rw_done) and
                between(r['submit_end'], q.handle, q.rw_done)):
            out.append('submit')
        if r['path'] == 'io_uring' and q.uring_reap is not None:
            # posted by the kernel, then reaped by QEMU: the loop returned
            # (the module's reap) in between
            d['complete'] = r['complete'] - q.uring_reap
            if not between(r['complete'], r['submit_end'], q.uring_reap):
                out.append('complete')
            if not between(r['reap'], r['complete'], q.uring_reap):
                out.append('reap_uring')
        if q.rw_done is not None:
            d['reap'] = r['reap'] - q.rw_done
            if r['line'] and r['path'] == 'threads':
                # the wake of the iteration that raises INTx
                ok = between(r['reap'], q.rw_done, r['irq'])
            else:	# the loop wakes (native: sees the AIO ring), then
                # QEMU completes it
                ok = between(r['reap'], r['submit_end'], q.rw_done)
            if not ok:
                out.append('reap')
        unseen = a.wake_unseen_ok and r['wake'] == r['submit']
        if unseen:	# found by polling: no wake to compare
            wake_unseen[r['path']] = wake_unseen.get(r['path'], 0) + 1
        elif q.queue_notify is not None and q.queue_notify >= r['doorbell']:
            d['wake'] = r['wake'] - q.queue_notify	# wakes, then handles
            if not (r['wake'] > (q.queue_notify_prev or -never) - slack and
                    r['wake'] <= q.queue_notify + slack):
                out.append('wake')
        if q.notify is not None:
            d['irq'] = r['irq'] - q.notify	# logged, then raised
            # (INTx: raised an iteration later, which QEMU does not stamp)
            if r['irq'] < q.notify - slack:
                out.append('irq_early')
                key = '%s by %s' % (r['path'], early_by(notes, note_ts, r, q))
                early[key] = early.get(key, 0) + 1
            elif not r['line'] and q.notify_next is not None and \
                    r['irq'] > q.notify_next + slack:
                out.append('irq_late')
        for k, v in d.items():
            diffs[k].append(v)
        for k in out:
            key = '%s %s' % (r['path'], k)
            outside[key] = outside.get(key, 0) + 1
        n_path = within_path.setdefault(r['path'], [0, 0])
        n_path[1] += 1
        if not out:
            within += 1
            n_path[0] += 1
        else:
            bad.append((r, q, d))
        if pairs_out:
            rec = {k: r.get(k) for k in MODULE_FIELDS + ('path', 'fd', 'off', 'addr', 'vcpu')}
            rec.update({'q_' + k: getattr(q, k, None) for k in QREQ_STAMPS})
            rec['q_req'], rec['q_vdev'] = q.req, q.vdev
            rec['outside'] = out
            pairs_out.write(json.dumps(rec) + '\n')

    qemu_span = [q.notify - q.handle for q in reqs
                 if q.notify is not None and q not in polled]
    slowest_qemu = max(qemu_span) if qemu_span else 0
    mod_span = [r['irq'] - r['submit'] for r in recs]
    slowest_mod = max(mod_span) if mod_span else 0
    suppressed = sum(1 for q in reqs if q.suppressed)
    boot = [q for q in reqs if a.boot_until_us and q.handle - t0 < a.boot_until_us * 1000]
    boot_lost = [q for q in boot if q.match is None and q not in polled]

    n_q, n_m = len(reqs), len(recs)
    # what the module should record: every request that had an interrupt
    n_want = n_q - len(polled)
    attributed = 100.0 * len(matched) / n_want if n_want else 100.0
    within_pct = 100.0 * within / len(matched) if matched else 0.0
    summary = {
        'label': a.label, 'qemu_requests': n_q, 'module_requests': n_m,
        'offset_ns': a.offset_ns,
        'matched': len(matched), 'lost': len(lost), 'extra': len(extra),
        'paired_by_block': by_block,
        'io_within_pct': {p: round(100.0 * v[0] / v[1], 2) for p, v in io_in.items()},
        'outside_by_boundary': dict(sorted(outside.items())),
        'irq_early_by': dict(sorted(early.items())),
        'polled': len(polled),
        'late_interrupt': len(late), 'late_recorded': len(late_recorded),
        'attributed_pct': round(attributed, 2),
        'within_pct': round(within_pct, 2),
        'within_pct_by_path': {p: round(100.0 * v[0] / v[1], 2)
                               for p, v in within_path.items()},
        'wake_unseen_by_path': wake_unseen,
        'tolerance_us': a.tolerance_us,
        'slack_us': a.slack_us,
        'intx_requests': sum(1 for r, q in matched if r['line']),
        'suppressed_interrupts': suppressed,
        'slowest_qemu_us': round(slowest_qemu / 1000.0, 1),
        'slowest_module_us': round(slowest_mod / 1000.0, 1),
        'boot_requests': len(boot), 'boot_lost': len(boot_lost),
        'diff_us': {k: {'p50': round(pct(v, 50) / 1000.0, 1),
                        'p99': round(pct(v, 99) / 1000.0, 1),
                        'max': round(max(v) / 1000.0 if v else 0, 1),
                        'min': round(min(v) / 1000.0 if v else 0, 1)}
                    for k, v in diffs.items()},
    }
    print('# %s: QEMU %d requests (%d with a suppressed interrupt, %d with none: '
          'polled), module %d: %d matched, %d lost, %d extra; %.2f%% attributed, '
          '%.2f%% within QEMU\'s bracketing events'
          % (a.label, n_q, suppressed, len(polled), n_m, len(matched), len(lost),
             len(extra), attributed, within_pct))
    print('#   paired by block (fd, offset): %d of %d matched; outside, by path '
          'and boundary: %s' % (by_block, len(matched),
                                ', '.join('%s %d' % kv for kv in sorted(outside.items()))
                                or 'none'))
    if late:
        print('#   interrupt over %.0f ms after QEMU\'s completion: %d, of which '
              'the module recorded %d' % (a.irq_timeout_ms, len(late), len(late_recorded)))
    if early:
        print('#   ended before QEMU\'s notify, by the interrupt of: %s'
              % ', '.join('%s %d' % kv for kv in sorted(early.items())))
    if wake_unseen:
        print('#   no wake seen (the loop found them polling), not checked: %s'
              % ', '.join('%s %d' % kv for kv in sorted(wake_unseen.items())))
    print('#   within, by path: %s'
          % ', '.join('%s %.2f%% of %d' % (p, 100.0 * v[0] / v[1], v[1])
                      for p, v in sorted(within_path.items())))
    print('#   host I/O (io) within QEMU\'s handle .. completion: %s'
          % ', '.join('%s %.2f%% of %d' % (p, 100.0 * v[0] / v[1], v[1])
                      for p, v in sorted(io_in.items())))
    for k, v in summary['diff_us'].items():
        print('#   %-6s module - QEMU, µs: min %9.1f p50 %9.1f p99 %9.1f max %9.1f'
              % (k, v['min'], v['p50'], v['p99'], v['max']))
    print('#   slowest request submit -> irq: QEMU %.1f µs, module %.1f µs'
          % (summary['slowest_qemu_us'], summary['slowest_module_us']))
    for r, q, d in bad[:5]:
        print('#   outside: %s %s vcpu %d addr %s: %s; QEMU %s req 0x%x%s'
              % (r['path'], 'module', r['vcpu'], r['addr'],
                 ' '.join('%s %+.1f µs' % (k, v / 1000.0) for k, v in d.items()),
                 q.kind, q.req or 0, ' (suppressed)' if q.suppressed else ''))
    for q in lost[:5]:
        print('#   lost: QEMU %s req 0x%x vdev 0x%x handled at +%.3f s%s'
              % (q.kind, q.req or 0, q.vdev or 0, (q.handle - t0) / 1e9,
                 ' (suppressed)' if q.suppressed else ''))

    fails = []
    if a.count_slack == 0 and attributed < a.min_attributed:
        fails.append('%d of %d QEMU requests recorded (%.2f%%, want %.2f%%)'
                     % (len(matched), n_want, attributed, a.min_attributed))
    if a.count_slack and abs(n_m - n_want) > a.count_slack / 100.0 * n_want:
        fails.append('module %d requests vs QEMU %d: more than %.1f%% apart'
                     % (n_m, n_want, a.count_slack))
    if a.count_slack and (lost or extra) and \
            len(lost) + len(extra) > a.count_slack / 100.0 * n_want:
        fails.append('%d QEMU requests unpaired, %d module requests: more than %.1f%%'
                     % (len(lost), len(extra), a.count_slack))
    if a.target_within is not None:
        print('# %s: %.2f%% of matched requests within tolerance: target %.0f%% %s'
              % (a.label, within_pct, a.target_within,
                 'met' if within_pct >= a.target_within else 'NOT MET'))
        summary['target_within_pct'] = a.target_within
    if a.min_within is None and a.target_within is None:
        a.min_within = 99.0
    if a.min_within is not None and within_pct < a.min_within:
        fails.append('%.2f%% of matched requests within tolerance (want %.1f%%)'
                     % (within_pct, a.min_within))
    for p, v in sorted(io_in.items()):
        if 100.0 * v[0] / v[1] < a.min_io_within:
            fails.append('%s: host I/O within QEMU\'s handle .. completion for '
                         '%.2f%% of requests (want %.1f%%)'
                         % (p, 100.0 * v[0] / v[1], a.min_io_within))
    if slowest_mod > slowest_qemu + tol:
        fails.append('slowest module request %.1f µs > QEMU\'s slowest %.1f µs + %.0f µs'
                     % (slowest_mod / 1000.0, slowest_qemu / 1000.0, a.tolerance_us))
    if a.count_slack == 0 and extra:
        fails.append('%d module requests match no QEMU request' % len(extra))
    if boot_lost:
        fails.append('%d of %d boot-time requests not recorded' % (len(boot_lost), len(boot)))
    if a.kernel_uring:
        check_kernel_uring(a, recs, fails, summary)
    # whether a record's fd is its device's: on the first pass, which
    # pairs by time alone (the second pairs within one fd)
    check_disks(a, wanted, [(r, q) for r, q in first if q is not None],
                fails, summary)
    for f in fails:
        print('FAIL %s: %s' % (a.label, f))
    summary['failures'] = fails
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(summary, f, indent=1)
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
