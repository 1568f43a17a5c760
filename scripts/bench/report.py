#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench: the lab's raw samples -> the table and bench.json.

    report.py RAW.json [--replay REPLAY.json] [--meta META.json]
              --json OUT.json [--table OUT.txt] [--require-all]

Costs are paired: each run of a configuration is compared with the mean of
the two runs with nothing loaded made just before and just after it in the
same round ("added", and "x base" = run / that mean); the median is taken
over rounds and "spread" is the range of the per-round values.  Targets
(issue 7) are judged here and only here, on the medians; a target whose
median's 95% interval (the per-round range for up to 8 rounds, order
statistics beyond: median_interval()) falls on both sides of its limit is
marked "not resolved".
--require-all (make bench-quick): exit 1 unless every section produced its
figures; a quick run's figures are never judged.
"""
import argparse
import json
import statistics
import sys

BASE = "nothing"
LIMITS = {
    "exit_cost_vs_ftrace": 0.35,       # an exit to userspace: added <= 0.35 x ftrace's
    "kernel_exit_cost_vs_ftrace": 0.25,  # an exit KVM handles itself
    "ioeventfd_exit_cost_vs_ftrace": 0.35,  # a virtio doorbell's exit
    "untracked_slowdown": 0.05,        # syscalls of a process without vCPUs
    "qemu_iops_loss": 0.03,            # real QEMU IOPS lower by at most 3 %
    "scaling_flatness": 0.10,          # added cost per exit within 10 % of 1 thread's
    "memory_per_vcpu_bytes": 64 * 1024,
}
EXIT_ORDER = [BASE, "kvmio_lat", "ftrace", "hist_trigger", "bpftrace", "kvmio_lat@ktime",
              "kvmio_lat@hpet"]


def med(xs):
    return statistics.median(xs) if xs else None


def spread(xs):
    return [min(xs), max(xs)] if xs else None


def median_interval(xs, level=0.95):
    """A distribution-free interval for the median of @xs: the order
    statistics k and n-k+1 with P(Binomial(n, 1/2) < k) <= (1-level)/2.
    Up to 8 values that is min..max (the spread); with 21 it is the 6th to
    the 16th, so more rounds resolve a smaller effect."""
    n, xs = len(xs), sorted(xs)
    if not n:
        return None
    k, tail, c = 0, 0.0, 1.0	# c = C(n, i)
    for i in range(n):
        tail += c / 2 ** n	# P(X <= i)
        if tail > (1 - level) / 2:
            break
        k = i + 1
        c = c * (n - i) / (i + 1)
    k = max(k, 1)
    return [xs[k - 1], xs[n - k]]


def paired(samples, metric, keep=lambda s: True):
    """{config: {"values", "added", "ratio"}}: each config run against the
    mean of the baseline runs next to it (same round, seq -1 and +1)."""
    idx = {(s["round"], s["seq"]): s for s in samples if keep(s) and metric in s}
    by = {}
    for (r, i), s in sorted(idx.items()):
        c = by.setdefault(s["config"], {"values": [], "added": [], "ratio": []})
        c["values"].append(s[metric])
        if s["config"] == BASE:
            continue
        nb = [idx[(r, j)][metric] for j in (i - 1, i + 1)
              if (r, j) in idx and idx[(r, j)]["config"] == BASE]
        if nb:
            b = sum(nb) / len(nb)
            c["added"].append(s[metric] - b)
            c["ratio"].append(s[metric] / b)
    return by


def aa_changes(samples, metric):
    """The method's own noise (an A/A comparison): for every tool run, its
    two baseline neighbours against each other (after / before - 1), what
    a tool that costs nothing would show in the same places."""
    idx = {(s["round"], s["seq"]): s for s in samples if metric in s}
    out = []
    for (r, i), s in sorted(idx.items()):
        b, a = idx.get((r, i - 1)), idx.get((r, i + 1))
        if s["config"] != BASE and b and a and b["config"] == BASE == a["config"] and b[metric]:
            out.append(a[metric] / b[metric] - 1)
    return out


def summarize(by, scale=1.0):
    out = {}
    for c, d in by.items():
        v = [x * scale for x in d["values"]]
        o = out[c] = {"median": med(v), "spread": spread(v), "runs": len(v)}
        if d["added"]:
            a = [x * scale for x in d["added"]]
            o.update({"added_median": med(a), "added_spread": spread(a), "added_per_round": a,
                      "ratio_vs_baseline": med(d["ratio"]),
                      "ratio_spread": spread(d["ratio"])})
    return out


def f(x, nd=2):
    return "-" if x is None else "%.*f" % (nd, x)


def pct(x, nd=1):
    return "-" if x is None else "%+.*f%%" % (nd, 100 * x)


def rng(sp, nd=2, fmt=None):
    if not sp:
        return "-"
    fmt = fmt or (lambda x: f(x, nd))
    return "%s..%s" % (fmt(sp[0]), fmt(sp[1]))


class Report:
    def __init__(self, raw, replay, meta):
        self.raw, self.replay, self.meta = raw, replay, meta
        self.quick = any(b.get("quick") for b in raw.get("boots", []))
        # bench.sh --icount: the lab's nanosecond is one guest instruction
        self.icount = any(b.get("icount") for b in raw.get("boots", [])) or meta.get("icount")
        self.secs = raw.get("sections", {})
        # the sections asked for (runs before kexits existed did not say)
        asked = [b["sections"] for b in raw.get("boots", []) if "sections" in b]
        self.asked = set().union(*asked) if asked else None
        self.J = {"meta": meta, "boots": raw.get("boots", []), "quick": self.quick,
                  "limits": LIMITS, "targets": {}}
        self.lines = []
        self.missing = []

    # -- output helpers

    def title(self, t):
        self.lines += ["", t, "-" * len(t)]

    def row(self, *cols, w=(30, 10, 10, 18, 9, 9)):
        s = str(cols[0]).ljust(w[0])
        for c, wd in zip(cols[1:], w[1:]):
            s += str(c).rjust(wd)
        self.lines.append(s.rstrip())

    def note(self, t):
        self.lines.append("  " + t)

    def target(self, name, what, value, limit, per_round=None, higher_is_worse=True,
               show=str, interval=None, why="the rounds give"):
        """Judge value against limit.  per_round (values of the rounds) or
        interval ([low, high]) that straddles the limit: not resolved.  The
        rounds' interval is that of their median (median_interval()): the
        spread itself for up to 8 rounds."""
        t = {"what": what, "value": value, "limit": limit, "per_round": per_round,
             "interval": interval}
        if self.quick:
            verdict = "not judged (quick run)"
        elif value is None:
            verdict = "not measured"
        else:
            ok = value <= limit if higher_is_worse else value >= limit
            t["met"] = ok
            verdict = "met" if ok else "MISSED"
            sp = interval or median_interval(per_round or [])
            if per_round and not interval and len(per_round) > 8:
                why = "the median's 95%% interval over %d rounds is" % len(per_round)
                t["interval"] = sp
            if sp and ((sp[0] <= limit) != (sp[1] <= limit)):
                t["resolved"] = False
                verdict += " (not resolved: %s %s)" % (why, rng(sp, fmt=show))
            else:
                t["resolved"] = True
                if per_round and len(per_round) > 8:
                    verdict += " (resolved: %s %s)" % (why, rng(sp, fmt=show))
        t["verdict"] = verdict
        self.J["targets"][name] = t
        self.note("target: %s: %s -> %s" % (what, "-" if value is None else show(value),
                                              verdict))

    def need(self, cond, what):
        if not cond:
            self.missing.append(what)

    def section(self, name):
        s = self.secs.get(name)
        if not s and self.asked is not None and name not in self.asked:
            return None
        if s and s.get("error"):
            self.need(False, "%s: %s" % (name, s["error"]))
        if not s or not s.get("samples") and not s.get("memory") and name != "record":
            self.need(False, "%s: no samples" % name)
            return None
        return s

    # -- sections

    def exit_loop(self, name="exits", key="exit_loop", target="exit_cost_vs_ftrace",
                  kind="port-I/O exits to userspace"):
        s = self.section(name)
        if not s:
            return
        p = s["params"]
        ic = self.icount
        wall = summarize(paired(s["samples"], "ns_per_exit"), 1.0 if ic else 1e-3)
        ft = wall.get("ftrace", {}).get("added_median")
        ft_round = wall.get("ftrace", {}).get("added_per_round")
        for c, d in wall.items():
            if ft and d.get("added_median") is not None:
                d["added_vs_ftrace_added"] = d["added_median"] / ft
                if ft_round and len(ft_round) == len(d["added_per_round"]):
                    d["added_vs_ftrace_per_round"] = [a / b if b else None for a, b in
                                                      zip(d["added_per_round"], ft_round)]
        self.J[key] = {"unit": "guest instructions per exit (icount; kvmio-vmm's own timing)"
                       if ic else "us per exit, wall (kvmio-vmm's own timing)",
                               "params": p, "configs": wall,
                               "produced": s.get("produced", {})}
        self.title("Exit loop: kvmio-vmm exits, 1 vCPU, %d %s per run, "
                   "%d round(s)%s" % (p["exits_per_run"], kind, p["rounds"],
                                      ", in instructions" if ic else ""))
        nd = 0 if ic else 2
        self.row("what runs", "insns/exit" if ic else "us/exit",
                 "added" if ic else "added us", "added spread", "x base", "/ ftrace")
        order = EXIT_ORDER + sorted(c for c in wall if c not in EXIT_ORDER)
        for c in order:
            if c in wall:
                d = wall[c]
                self.row(c, f(d["median"], nd), f(d.get("added_median"), nd),
                         rng(d.get("added_spread"), nd), f(d.get("ratio_vs_baseline"), 3),
                         f(d.get("added_vs_ftrace_added")))
        for c in [BASE] + p.get("peers", []):
            self.need(c == BASE and c in wall or "added_median" in wall.get(c, {}),
                      "%s: %s" % (name, c))
        kv = wall.get("kvmio_lat", {})
        self.target(target, "kvmio_lat's added cost per exit (%s) <= %.2f x "
                    "ftrace recording's" % (kind, LIMITS[target]),
                    kv.get("added_vs_ftrace_added"), LIMITS[target],
                    [x for x in kv.get("added_vs_ftrace_per_round") or [] if x is not None],
                    show=lambda x: "%.2f" % x)
        pr = s.get("produced", {}).get("exits", {})
        if pr:
            self.note("what each produced (last round):")
            k = pr.get("kvmio_lat", {})
            if "exits_by_reason" in k:
                self.note("  kvmio_lat: exit->entry histograms per vCPU and exit reason %s "
                          "(%d-byte snapshot), and the I/O stages per path (none here)" %
                          (k["exits_by_reason"], k["hist_bytes"]))
            t = pr.get("ftrace", {})
            if t:
                self.note("  ftrace: a %s-byte trace.dat of raw events, to post-process" %
                          t.get("dat_bytes"))
            h = pr.get("hist_trigger", {}).get("hist", "")
            if h:
                self.note("  hist trigger: one exit->entry histogram, all threads merged, "
                          "%d log2 buckets" % sum(ln.startswith("{") for ln in h.splitlines()))
            b = pr.get("bpftrace", {}).get("output", "")
            if b:
                self.note("  bpftrace: one exit->entry hist(), all threads merged, %d power-"
                          "of-2 buckets" % sum(ln.startswith("[") for ln in b.splitlines()))

    # (label, category of lab_bench.PROFILE_CATEGORIES or a special key)
    PROFILE_ROWS = [
        ("in kvmio_lat's functions", "kvmio_lat"),
        ("  of which its clock reads", "kvmio_lat_clock_read"),
        ("in ftrace's event writes", "ftrace_events"),
        ("in hist triggers", "hist_trigger"),
        ("in BPF programs", "bpf"),
        ("in syscall entry/exit work", "syscall_work"),
    ]

    TOOL_PROCESSES = ("trace-cmd", "bpftrace")

    def profile(self):
        s = self.secs.get("profile")
        if not s or not s.get("samples"):
            return
        P = self.J["profile"] = {"params": s["params"], "workloads": {}}
        self.title("Profile: perf record -a -g, the workload's samples with the function on "
                   "their call chain")
        W = (40, 12, 9, 9, 12)
        order = {}	# a workload's rows together, in the order workloads came
        for x in s["samples"]:
            order.setdefault(x["workload"], len(order))
        for x in sorted(s["samples"], key=lambda x: order[x["workload"]]):
            wl = P["workloads"].setdefault(x["workload"], {})
            if not wl:
                self.lines.append("%s: %s" % (x["workload"],
                                              s["params"]["workloads"].get(x["workload"])))
                self.row("  what runs / where", "us/" + x["unit"], "samples", "share",
                         "us there", w=W)
            n = x["samples"] or 1
            us = x["ns_per_unit"] / 1e3
            cnt = dict(x["categories"], kvmio_lat_clock_read=x["kvmio_lat_clock_read"])
            d = wl[x["config"]] = {"us_per_unit": us, "unit": x["unit"], "samples": x["samples"],
                                   "shares": {k: v / n for k, v in cnt.items()},
                                   "us_per_unit_in": {k: us * v / n for k, v in cnt.items()},
                                   "kvl_functions": {k: v / n for k, v in
                                                     x["kvl_functions"].items()}}
            self.row("  " + x["config"], f(us), x["samples"], w=W)
            for label, k in self.PROFILE_ROWS:
                if cnt.get(k):
                    self.row("    " + label, "", cnt[k], "%.1f%%" % (100.0 * cnt[k] / n),
                             f(us * cnt[k] / n, 3), w=W)
            top = sorted((kv for kv in x["kvl_functions"].items() if kv[1]),
                         key=lambda kv: -kv[1])[:6]
            for k, v in top:
                self.row("      " + k, "", v, "%.1f%%" % (100.0 * v / n), f(us * v / n, 3), w=W)
            for comm in self.TOOL_PROCESSES:
                v = x.get("others", {}).get(comm)
                if v:
                    d["own_process"] = {"comm": comm, "samples": v, "vs_workload": v / n}
                    self.row("    its own process (%s)" % comm, "", v,
                             "%.1f%%" % (100.0 * v / n), f(us * v / n, 3), w=W)
        self.perf_targets(s["samples"])

    def perf_targets(self, samples):
        """The targets again, from the profile's shares: a tool whose
        functions hold share s of a workload's samples adds s / (1 - s) to
        what the workload costs without it; +-2 binomial sigmas give the
        interval."""
        def share(workload, config, cat):
            for x in samples:
                if x["workload"] == workload and x["config"] == config and x["samples"]:
                    k, n = x["categories"].get(cat, 0), x["samples"]
                    sd = (k / n * (1 - k / n) / n) ** 0.5
                    return k / n, max(0.0, k / n - 2 * sd), min(0.999, k / n + 2 * sd)
            return None

        def odds(p):
            return p / (1 - p)

        def vs_ftrace(workload, name, which):
            """kvmio_lat's cost per exit of @workload against ftrace's."""
            kv, ft = share(workload, "kvmio_lat", "kvmio_lat"), share(workload, "ftrace",
                                                                      "ftrace_events")
            if kv and ft and ft[0]:
                self.target(name, "from the profile: kvmio_lat's cost per %s <= %.1f x "
                            "ftrace's (in the vCPU thread)" % (which,
                                                              LIMITS["exit_cost_vs_ftrace"]),
                            odds(kv[0]) / odds(ft[0]), LIMITS["exit_cost_vs_ftrace"],
                            interval=[odds(kv[1]) / odds(ft[2]),
                                      odds(kv[2]) / odds(max(ft[1], 1e-9))],
                            show=lambda x: "%.2f" % x, why="2 sigmas of the sample counts give")
            return kv, ft

        kv, ft = vs_ftrace("exits", "exit_cost_vs_ftrace_perf", "exit")
        vs_ftrace("kexits", "kernel_exit_cost_vs_ftrace_perf", "exit KVM handles itself")
        rec = [x for x in samples if x["workload"] == "exits" and x["config"] == "ftrace"]
        if kv and ft and ft[0] and rec and rec[0].get("others", {}).get("trace-cmd"):
            n = rec[0]["samples"]
            r = rec[0]["others"]["trace-cmd"] / ((1 - ft[0]) * n)
            self.J["targets"]["exit_cost_vs_ftrace_perf"]["with_recorder"] = \
                odds(kv[0]) / (odds(ft[0]) + r)
            self.note("  counting the CPU time of trace-cmd's own recorder too: %.2f" %
                      (odds(kv[0]) / (odds(ft[0]) + r)))
        un, u0 = share("untracked", "kvmio_lat", "syscall_work"), share("untracked", "nothing",
                                                                         "syscall_work")
        if un and u0:
            self.target("untracked_slowdown_perf", "from the profile: an untracked process's "
                        "system calls at most 5% slower (samples in the syscall entry/exit "
                        "work, kvmio_lat's probes included)", odds(un[0]) - odds(u0[0]),
                        LIMITS["untracked_slowdown"],
                        interval=[odds(un[1]) - odds(u0[2]), odds(un[2]) - odds(u0[1])],
                        show=pct, why="2 sigmas of the sample counts give")

    def untracked(self):
        s = self.section("untracked")
        if not s:
            return
        d = summarize(paired(s["samples"], "ns_per_syscall"))
        self.J["untracked"] = {"unit": "%s per system call (sysloop --mode mix)" %
                               ("guest instructions" if self.icount else "ns"),
                               "params": s["params"], "configs": d}
        self.title("Untracked process: sysloop, %d x 8 system calls per run, no vCPU" %
                   s["params"]["iters"])
        self.row("what runs", "insns/call" if self.icount else "ns/call",
                 "added" if self.icount else "added ns", "added spread", "slower")
        variants = sorted(c for c in d if c.startswith("kvmio_lat:"))
        for c in (BASE, "kvmio_lat", "kvmio_lat+vm", "ftrace_pid", *variants):
            v = d.get(c, {})
            # ftrace_pid: runs made before it was measured have none
            self.need(c == BASE and c in d or "added_median" in v or c == "ftrace_pid",
                      "untracked: %s" % c)
            if c in d:
                self.row(c, f(v["median"], 0), f(v.get("added_median"), 0),
                         rng(v.get("added_spread"), 0),
                         pct(v["ratio_vs_baseline"] - 1) if "ratio_vs_baseline" in v else "-")
        worst = max((c for c in ("kvmio_lat", "kvmio_lat+vm") if "ratio_vs_baseline" in d.get(c, {})),
                    key=lambda c: d[c]["ratio_vs_baseline"], default=None)
        self.target("untracked_slowdown", "an untracked process's system calls at most 5%% "
                    "slower (worst: %s)" % worst,
                    d[worst]["ratio_vs_baseline"] - 1 if worst else None,
                    LIMITS["untracked_slowdown"],
                    [x - 1 for x in paired(s["samples"], "ns_per_syscall")[worst]["ratio"]]
                    if worst else None, show=pct)
        self.note("kvmio_lat+vm: a tracked VM exists (its process stopped) during the run")
        if "ftrace_pid" in d:
            self.note("ftrace_pid: ftrace's raw_syscalls events on for one other process "
                      "(set_event_pid): any system-call tracer's cost to the rest")

    def tracked(self):
        """A tracked VM's I/O thread (sysloop --vm): per call kind, what
        each configuration adds to one call."""
        s = self.section("tracked")
        if not s:
            return
        unit = "guest instructions" if self.icount else "ns"
        J = self.J["tracked"] = {"unit": "%s per system call (sysloop --vm)" % unit,
                                 "params": s["params"], "modes": {}}
        self.title("A tracked VM's I/O thread: sysloop --vm, %d calls of each kind per run"
                   % s["params"]["iters"])
        self.row("call / what runs", "insns/call" if self.icount else "ns/call",
                 "added" if self.icount else "added ns", "added spread", "slower")
        for mode in s["params"]["modes"]:
            d = summarize(paired(s["samples"], mode + "_ns_per_call"))
            J["modes"][mode] = d
            self.need("added_median" in d.get("kvmio_lat", {}), "tracked: %s" % mode)
            for c in (BASE, "kvmio_lat", *sorted(c for c in d if c.startswith("kvmio_lat:"))):
                if c in d:
                    v = d[c]
                    self.row("%s, %s" % (mode, c), f(v["median"], 0),
                             f(v.get("added_median"), 0), rng(v.get("added_spread"), 0),
                             pct(v["ratio_vs_baseline"] - 1) if "ratio_vs_baseline" in v
                             else "-")
        self.note("mix: one each of getppid, read, ppoll, epoll_wait, pread64, io_submit, "
                  "io_getevents and ioctl, as the untracked process's; write: 8 bytes to an "
                  "eventfd")

    def per_mode(self, name, metric, unit, heading, label):
        """Sections whose runs measure both paths: MODE_METRIC per sample."""
        s = self.section(name)
        if not s:
            return None
        J = self.J[name] = {"unit": unit, "params": s["params"], "modes": {}}
        self.title(heading)
        self.row("path / what runs", label, "change", "median's 95%")
        for mode in ("native", "threads", "io_uring"):
            if not any("%s_%s" % (mode, metric) in x for x in s["samples"]):
                continue	# (io_uring: not in the I/O loops, nor in older runs)
            by = paired(s["samples"], "%s_%s" % (mode, metric))
            d = summarize(by)
            self.need("added_median" in d.get("kvmio_lat", {}), "%s: %s" % (name, mode))
            if not d:
                continue
            J["modes"][mode] = d
            # kvmio_lat, then any --variant build (kvmio_lat:NAME) or peer
            configs = [BASE, "kvmio_lat"] + sorted(c for c in d if c not in (BASE, "kvmio_lat"))
            for c in configs[1:]:
                if c in by and by[c]["ratio"]:
                    d[c]["change_per_round"] = [x - 1 for x in by[c]["ratio"]]
                    d[c]["change_interval"] = [x - 1 for x in median_interval(by[c]["ratio"])]
            for c in configs:
                if c in d:
                    v = d[c]
                    self.row("aio=%s, %s" % (mode, c), f(v["median"], 1),
                             pct(v["ratio_vs_baseline"] - 1) if "ratio_vs_baseline" in v else "",
                             rng(v.get("change_interval"), fmt=pct)
                             if "change_interval" in v else "")
            aa = aa_changes(s["samples"], "%s_%s" % (mode, metric))
            if aa:
                d["aa"] = {"median": med(aa), "spread": spread(aa), "per_round": aa,
                           "abs_median": med([abs(x) for x in aa])}
                self.row("aio=%s, A/A" % mode, "", pct(med(aa)), rng(median_interval(aa), fmt=pct))
        if any("aa" in m for m in J["modes"].values()):
            self.note("A/A: the two nothing-loaded runs around each tool run, one against "
                      "the other: what a tool that costs nothing shows (the method's noise)")
        return J

    def ioloop(self):
        s = self.secs.get("ioloop", {})
        self.per_mode("ioloop", "requests_per_s", "requests per second (kvmio-vmm io "
                      "--no-timing)", "I/O loop: kvmio-vmm io on null_blk, 1 vCPU, %s requests "
                      "per path per run" % s.get("params", {}).get("requests_per_run"), "req/s")

    def qemu(self):
        s = self.secs.get("qemu", {})
        J = self.per_mode("qemu", "iops", "I/Os per second, inner-io's own time in the inner "
                          "guest", "Real QEMU: inner guest, virtio-blk, inner-io %s reads + %s "
                          "writes (O_DIRECT 4 KiB) per path per run" % (
                              s.get("params", {}).get("reads"),
                              s.get("params", {}).get("writes")), "IOPS")
        if J is None:
            return
        if any("kvmio-lat_record" in m for m in J["modes"].values()):
            self.note("kvmio-lat_record: trace-cmd recording the events the engine needs "
                      "(kvmio-lat record), what a host without the module would run instead")
        worst = min((m for m in J["modes"] if "ratio_vs_baseline" in J["modes"][m].get("kvmio_lat", {})),
                    key=lambda m: J["modes"][m]["kvmio_lat"]["ratio_vs_baseline"], default=None)
        k = J["modes"][worst]["kvmio_lat"] if worst else {}
        self.target("qemu_iops_loss", "real-QEMU IOPS at most 3%% lower (worst: aio=%s)" % worst,
                    1 - k["ratio_vs_baseline"] if worst else None, LIMITS["qemu_iops_loss"],
                    [-x for x in k.get("change_per_round", [])] if worst else None,
                    show=lambda x: "%.1f%% lower" % (100 * x))

    def scaling(self, name="scaling", key="vcpus", plist="threads", what="vCPU threads"):
        """Added cost per exit against 1 of @key (vCPU threads of one VM, or
        VMs of one vCPU each), and with two totals per count its split."""
        s = self.section(name)
        if not s:
            return
        p = s["params"]
        J = self.J[name] = {"unit": "us of CPU per exit: wall time x the CPUs the vCPU "
                                    "threads keep busy (min(threads, guest CPUs)) / exits",
                            "params": p, plist: {}}
        self.title("Scaling: exit loop with N %s, %d exits per run in all, %s guest CPUs"
                   % (what, p["exits_per_run"], p["cpus"]))
        W = (14, 10, 10, 10, 18, 9, 9)
        self.row(what, "base us", "kvmio us", "added us", "added spread", "x base",
                 "vs 1", w=W)
        totals = p.get("totals", [p["exits_per_run"]])
        first = totals[0]
        ref, rel_all, rel_rounds = None, [], []
        marginal = {}
        for n in p[plist]:
            by = paired(s["samples"], "cpu_ns_per_exit",
                        lambda x, n=n: x[key] == n and x.get("total", first) == first)
            c = summarize(by, 1e-3)
            k = c.get("kvmio_lat", {})
            if len(totals) > 1:
                marginal[n] = self.scaling_split(s["samples"], key, n, first, totals[-1])
            self.need("added_median" in k, "%s: %d %s" % (name, n, what))
            if "added_median" not in k:
                continue
            add = k["added_median"]
            if ref is None:
                ref = add
            rel = add / ref if ref else None
            k["added_vs_1"] = rel
            J[plist][str(n)] = c
            if n != p[plist][0] and rel is not None:
                rel_all.append(rel)
                rel_rounds += [a / ref for a in k["added_per_round"]]
            self.row(str(n), f(c[BASE]["median"]), f(k["median"]), f(add),
                     rng(k["added_spread"]), f(k["ratio_vs_baseline"], 3), f(rel), w=W)
        if marginal:
            self.scaling_marginal(name, plist, what, p, marginal, first, totals[-1])
            return
        dev = max((abs(r - 1) for r in rel_all), default=None)
        # per-round |deviations| pool four thread counts and are biased up by
        # the noise itself: no median interval, only their whole range judges
        devs = [abs(r - 1) for r in rel_rounds]
        self.target(name + "_flatness", "added CPU per exit within 10%% of 1's, up to %s "
                    "%s (largest deviation)" % (p[plist][-1], what), dev,
                    LIMITS["scaling_flatness"], devs, interval=spread(devs),
                    show=lambda x: "%.0f%%" % (100 * x))

    def scaling_split(self, samples, key, n, e1, e2):
        """Added cost = per exit + per run / exits: from runs of e1 and e2
        exits, round by round, (per exit us, per run us) lists."""
        got = {}
        for t in (e1, e2):
            by = paired(samples, "cpu_ns_per_exit",
                        lambda x, t=t: x[key] == n and x.get("total", e1) == t)
            got[t] = by.get("kvmio_lat", {}).get("added", [])
        out = []
        for a1, a2 in zip(got[e1], got[e2]):
            m = (a2 * e2 - a1 * e1) / (e2 - e1)
            out.append((m * 1e-3, (a1 - m) * e1 * 1e-3))
        return out

    def scaling_marginal(self, name, plist, what, p, marginal, e1, e2):
        """The flatness target on the per-exit part alone."""
        J = self.J[name]
        W = (14, 16, 16, 18, 9)
        self.lines.append("")
        self.note("the added cost split, from runs of %d and %d exits: added = per exit + "
                  "per run / exits (the per-run part: setting up and tearing down)" % (e1, e2))
        self.row(what, "per exit us", "spread", "per run us", "vs 1", w=W)
        ref, devs, rel_all = None, [], []
        for n in p[plist]:
            ms = [m for m, _ in marginal[n]]
            fs = [x for _, x in marginal[n]]
            self.need(bool(ms), "%s: %d %s, split" % (name, n, what))
            if not ms:
                continue
            m = med(ms)
            ref = m if ref is None else ref
            rel = m / ref if ref else None
            J[plist].setdefault(str(n), {})["kvmio_lat_split"] = {
                "per_exit_median": m, "per_exit_per_round": ms, "per_run_us_median": med(fs),
                "per_run_us_per_round": fs, "per_exit_vs_1": rel}
            if n != p[plist][0] and ref:
                rel_all.append(rel)
                devs += [abs(x / ref - 1) for x in ms]
            self.row(str(n), f(m), rng(spread(ms)), f(med(fs), 0), f(rel), w=W)
        dev = max((abs(r - 1) for r in rel_all), default=None)
        self.target(name + "_flatness", "added CPU per exit, its per-exit part, within 10%% of "
                    "1's, up to %s %s (largest deviation)" % (p[plist][-1], what), dev,
                    LIMITS["scaling_flatness"], devs, interval=spread(devs),
                    show=lambda x: "%.0f%%" % (100 * x))

    def memory(self):
        s = self.section("memory")
        if not s or not s.get("memory"):
            return
        m = s["memory"]
        idle = m["idle"]
        ns = [n for n in s["params"]["vcpus"] if "vm_%d_vcpus" % n in m]
        slopes = [(m["vm_%d_vcpus" % b] - m["vm_%d_vcpus" % a]) / (b - a)
                  for a, b in zip(ns, ns[1:])]
        per_vcpu = slopes[0] if slopes and len(set(slopes)) == 1 else (med(slopes) if slopes else None)
        per_vm = m["vm_%d_vcpus" % ns[0]] - idle - ns[0] * per_vcpu if per_vcpu is not None else None
        back = [m[k] == idle for k in m if k.startswith("after_")]
        growth = m["long_run"] - m["short_run"] if "long_run" in m and "short_run" in m else None
        J = self.J["memory"] = {
            "unit": "bytes, stats memory_bytes (whole pages, pools' spare objects included)",
            "raw": m, "idle": idle, "per_vcpu": per_vcpu, "per_vcpu_slopes": slopes,
            "per_vcpu_exact": len(set(slopes)) == 1 if slopes else None, "per_vm": per_vm,
            "long_run_growth": growth, "back_to_idle_after_every_exit": all(back) if back else None}
        self.need(per_vcpu is not None and per_vm is not None, "memory: per vCPU and per VM")
        self.need(growth is not None, "memory: long run")
        self.title("Memory: kvmio_lat's stats memory_bytes, default parameters")
        self.row("state", "bytes", w=(44, 12))
        self.row("loaded, idle", idle, w=(44, 12))
        for n in ns:
            self.row("VM of %d vCPU(s), stopped" % n, m["vm_%d_vcpus" % n], w=(44, 12))
            self.row("  after it exits", m["after_vm_%d_exit" % n], w=(44, 12))
        for t in ("short", "long"):
            if "%s_run" % t in m:
                self.row("VM of 2 vCPUs after %d I/O requests" % m["%s_run_requests" % t],
                         m["%s_run" % t], w=(44, 12))
                self.row("  after it exits", m["after_%s_run_exit" % t], w=(44, 12))
        self.row("per vCPU", f(per_vcpu, 0), w=(44, 12))
        self.note("(each added vCPU: %s)" % ", ".join("%.0f" % x for x in slopes))
        self.row("per VM (without its vCPUs)", f(per_vm, 0), w=(44, 12))
        if "charge_per_vcpu" in m:
            self.note("the module's own count at load: %d bytes per vCPU, %d per VM" %
                      (m["charge_per_vcpu"], m["charge_per_vm"]))
        self.row("growth from the short to the long run", f(growth, 0), w=(44, 12))
        self.target("memory_per_vcpu", "memory per vCPU <= 65536 bytes", per_vcpu,
                    LIMITS["memory_per_vcpu_bytes"], show=lambda x: "%.0f" % x)
        self.target("memory_growth", "no growth over a long run", growth, 0,
                    show=lambda x: "%+.0f bytes" % x)
        self.target("memory_released", "back to idle after every VM exits",
                    None if not back else int(not all(back)), 0,
                    show=lambda x: "yes" if x == 0 else "no")

    def replay_speed(self):
        r = self.replay
        rec = self.secs.get("record", {})
        if not r and self.asked is not None and "record" not in self.asked:
            return      # --sections without record
        if rec.get("error"):
            self.need(False, "record: %s" % rec["error"])
        self.title("Replay: kvmio-lat replay --speed on this machine, the lab's recording")
        if not r or not r.get("events_per_s"):
            self.note((r or {}).get("skipped", "not measured: no recording"))
            self.need(False, "replay speed")
            return
        self.J["replay"] = r
        self.row("events/s (median of %d)" % len(r["runs"]), f(r["events_per_s"], 0),
                 w=(44, 14))
        self.row("  not counting opening the file", f(r["events_per_s_after_open"], 0),
                 w=(44, 14))
        self.note("%d events, %d-byte recording of: %s" % (r["events"], r["file_bytes"],
                                                          rec.get("params", {}).get("command")))

    def build(self):
        b0 = (self.raw.get("boots") or [{}])[0]
        m = self.meta
        self.lines.append("kvmio_lat bench, %s, %s: lab kernel %s, %s guest CPUs, clocksource %s"
                          " (%s), %s" % (
                              m.get("date", "?"), m.get("command", "?"), b0.get("kernel", "?"),
                              b0.get("cpus", "?"), b0.get("clocksource", "?"),
                              m.get("lab_append") or "lab default",
                              "QUICK: sizes too small to mean anything" if self.quick else
                              "TCG: compare within this run only"))
        if self.icount:
            self.lines.append("icount: the lab's clock counts guest instructions while it runs "
                              "(QEMU -icount shift=0,sleep=on, 1 CPU): every ns of a busy loop "
                              "is one instruction")
        if len(self.raw.get("boots", [])) > 1:
            self.lines.append("the guest died once: sections were finished in boot(s) %s" %
                              sorted({s.get("boot") for s in self.secs.values()}))
        self.lines.append("added = a run - the mean of the baseline runs just before and after "
                          "it; medians over rounds; spread = min..max over rounds")
        self.exit_loop()
        self.exit_loop("kexits", "kernel_exit_loop", "kernel_exit_cost_vs_ftrace",
                       "CPUID exits KVM handles itself")
        self.exit_loop("ioexits", "ioeventfd_exit_loop", "ioeventfd_exit_cost_vs_ftrace",
                       "ioeventfd doorbells: exit, kvm_pio, entry")
        self.profile()
        self.untracked()
        self.tracked()
        self.ioloop()
        self.qemu()
        self.scaling()
        self.scaling("scaling_vms", "vms", "vms", "VMs")
        self.memory()
        self.replay_speed()
        errors = {k: v["error"] for k, v in self.secs.items() if v.get("error")}
        if errors:
            self.J["errors"] = errors
            self.title("Sections that failed")
            for k, v in errors.items():
                self.note("%s: %s" % (k, v[:500]))
        self.J["missing"] = self.missing
        self.J["seconds"] = {k: v.get("seconds") for k, v in self.secs.items()}
        return "\n".join(self.lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--replay")
    ap.add_argument("--meta")
    ap.add_argument("--json", required=True)
    ap.add_argument("--table")
    ap.add_argument("--require-all", action="store_true")
    a = ap.parse_args()
    raw = json.load(open(a.raw))
    replay = json.load(open(a.replay)) if a.replay else None
    meta = json.load(open(a.meta)) if a.meta else {}
    R = Report(raw, replay, meta)
    text = R.build()
    with open(a.json, "w") as fp:
        json.dump(R.J, fp, indent=1, sort_keys=True)
    if a.table:
        with open(a.table, "w") as fp:
            fp.write(text + "\n")
    print(text)
    if a.require_all:
        if R.missing:
            print("\nbench: figures missing: %s" % "; ".join(R.missing))
            return 1
        print("\nbench: every section produced its figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
