#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# om_check.py - the checks of selftests/export/export_test.sh that need a
# parser: "kvmio-lat export --openmetrics" against the reader's own JSON,
# against what node_exporter serves of it, against Prometheus's
# histogram_quantile(), and what PCP should show of it.
#
#   om_check.py file OM READER HIST [STATS] [--no-vcpu]
#       OM parses strictly (prometheus_client's OpenMetrics parser) and
#       holds exactly the histograms of `READER show --json` (stages, exits)
#       and `show --disk --json` (disks): one series per histogram with
#       observations, _count and le="+Inf" its count, _sum its sum, every
#       finite le the number of observations <= le; the stats as counters
#       (kvmio_lat_X_total) or gauges with the values of "stats".
#   om_check.py scrape OM SCRAPE
#       every kvmio_lat sample of OM is in SCRAPE (node_exporter's
#       /metrics, text format 0.0.4, of the same snapshot exported with
#       --prometheus) with the same value, and no other; every family
#       keeps its type and HELP (a counter's family named with its
#       _total, as the text format has it).
#   om_check.py quantile OM PROM_URL READER HIST [STATS]
#       for each disk and path, Prometheus's
#       histogram_quantile(0.99, sum by (le) (kvmio_lat_disk_seconds_bucket
#       {stage="total", ...})) lies within the exported bucket around the
#       reader's p99 (show --disk --json) of the same disk and path.
#       Waits (up to 30 s) for Prometheus to serve exactly OM's disk series.
#   om_check.py dashboard DASHBOARD.json PROM_URL
#       every query of the Grafana dashboard (panel targets, and the
#       series of its label_values() variables), with $__rate_interval
#       1m and every variable ".*", is valid PromQL to Prometheus and
#       returns series.
#   om_check.py pick OM
#       "NAME VALUE" of one counter sample and one gauge sample (for pmval).
#   om_check.py names OM
#       the sample names of OM, one a line (PCP's metric names under
#       openmetrics.SOURCE.)
#   om_check.py pcp OM PMINFO_F PREFIX
#       PMINFO_F, the output of `pminfo -f PREFIX`, has every sample of OM
#       with its value (instances named by their labels, "le:0.001 pid:7").
#
# Exit status 0 when all is well, 1 after "# " lines saying what is not,
# 2 on a usage error.  Run with Debian's python3 (python3-prometheus-client).
import json
import math
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from prometheus_client.openmetrics.parser import \
    text_string_to_metric_families as om_families
from prometheus_client.parser import \
    text_string_to_metric_families as text_families

STAGE = "kvmio_lat_stage_seconds"
DISK = "kvmio_lat_disk_seconds"
EXIT = "kvmio_lat_exit_seconds"
HISTS = (STAGE, DISK, EXIT)

problems = []


def problem(msg):
    problems.append(msg)


def finish(what):
    for p in problems[:40]:
        print("# " + p)
    if len(problems) > 40:
        print("# ... and %d more" % (len(problems) - 40))
    if not problems:
        print("# %s" % what)
    return 1 if problems else 0


def parse_om(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return list(om_families(text))


def show_json(reader, hist, stats, *extra):
    cmd = [reader, "show", "--input", hist]
    if stats:
        cmd += ["--stats", stats]
    cmd += list(extra) + ["--json"]
    return json.loads(subprocess.check_output(cmd))


def le_ns(le):
    return None if le == "+Inf" else int(round(float(le) * 1e9))


class Series:
    """One exported histogram: its buckets (le -> cumulative), count, sum."""

    def __init__(self):
        self.buckets = {}
        self.count = None
        self.sum = None
        self.labels = {}	# of its _count: all but le


def histograms(fams, name, key_labels):
    """name's series in the parsed file, keyed by key_labels' values."""
    out = {}
    for fam in fams:
        if fam.name != name:
            continue
        for s in fam.samples:
            key = tuple(s.labels.get(k) for k in key_labels)
            ser = out.setdefault(key, Series())
            if s.name == name + "_bucket":
                ser.buckets[s.labels["le"]] = s.value
            elif s.name == name + "_count":
                ser.count = s.value
                ser.labels = s.labels
            elif s.name == name + "_sum":
                ser.sum = s.value
    return out


def check_series(what, ser, h):
    """ser (exported) against h, a histogram of the reader's JSON."""
    n = h["count"]
    if ser.count != n:
        problem("%s: _count %s, the reader counts %d" % (what, ser.count, n))
    if ser.buckets.get("+Inf") != n:
        problem("%s: le=\"+Inf\" %s, the reader counts %d"
                % (what, ser.buckets.get("+Inf"), n))
    # the JSON has the mean to 0.1 ns: the sum to 0.1 ns per observation
    want = h["mean_ns"] * n * 1e-9
    if ser.sum is None or abs(ser.sum - want) > 0.06e-9 * n + 1e-9 * abs(want):
        problem("%s: _sum %s, the reader's mean x count is %.9g"
                % (what, ser.sum, want))
    for le, v in ser.buckets.items():
        ns = le_ns(le)
        if ns is None:
            continue
        below = 0
        for lo, hi, c in h["buckets"]:
            if hi - 1 <= ns:	# [lo, hi): every value <= hi - 1
                below += c
            elif lo <= ns:
                problem("%s: le=\"%s\" (%d ns) cuts the reader's bucket "
                        "[%d, %d)" % (what, le, ns, lo, hi))
        if v != below:
            problem("%s: le=\"%s\" counts %s, the reader's buckets %d"
                    % (what, le, v, below))
    bounds = sorted(ser.buckets, key=lambda le: math.inf
                    if le == "+Inf" else float(le))
    prev = -1
    for le in bounds:
        if ser.buckets[le] < prev:
            problem("%s: buckets not cumulative at le=\"%s\"" % (what, le))
        prev = ser.buckets[le]


def compare(what, got, want):
    """got: key -> Series (file), want: key -> JSON histogram (reader)."""
    for key, h in want.items():
        if key not in got:
            problem("%s %s: in the reader's JSON (count %d), not exported"
                    % (what, key, h["count"]))
        else:
            check_series("%s %s" % (what, key), got[key], h)
    for key, ser in got.items():
        if key not in want and ser.count:
            problem("%s %s: exported (count %s), not in the reader's JSON"
                    % (what, key, ser.count))


def merge(hists):
    """The vCPUs' histograms of one VM, path and stage, as --no-vcpu."""
    n = sum(h["count"] for h in hists)
    mean = sum(h["mean_ns"] * h["count"] for h in hists) / n
    b = {}
    for h in hists:
        for lo, hi, c in h["buckets"]:
            b[(lo, hi)] = b.get((lo, hi), 0) + c
    return {"count": n, "mean_ns": mean,
            "buckets": [[lo, hi, c] for (lo, hi), c in sorted(b.items())]}


def disk_key(fams):
    """How the file tells disks apart: by an fd label, else by disk."""
    for f in fams:
        if f.name == DISK and any("fd" in s.labels for s in f.samples):
            return ("pid", "fd", "path", "stage")
    return ("pid", "disk", "path", "stage")


def disk_id(keys, got, pid, d):
    """The file's fd or disk label value of d, a disk of show --disk --json."""
    if keys[1] == "fd":
        return str(d["fd"])
    names = {str(d["fd"]), "fd %d" % d["fd"]} | (
        {d["name"]} if d.get("name") else set())
    return next((k[1] for k in got if k[0] == pid and k[1] in names),
                str(d["fd"]))


def cmd_file(args):
    no_vcpu = "--no-vcpu" in args
    args = [a for a in args if a != "--no-vcpu"]
    if len(args) not in (3, 4):
        return usage()
    om, reader, hist = args[:3]
    stats = args[3] if len(args) == 4 else None
    try:
        fams = parse_om(om)
    except Exception as e:	# the parser's ValueError, or a decode error
        problem("OpenMetrics parser: %s: %r" % (om, e))
        return finish("")
    types = {f.name: f.type for f in fams}
    for name in HISTS:
        if name in types and types[name] != "histogram":
            problem("%s is a %s" % (name, types[name]))
    for f in fams:
        if f.name in HISTS and f.unit != "seconds":
            problem("%s: unit %r" % (f.name, f.unit))
        if not f.documentation:
            problem("%s: no HELP" % f.name)
        if not f.name.startswith("kvmio_lat_"):
            problem("%s: not a kvmio_lat_ family" % f.name)

    d = show_json(reader, hist, stats, "--exits")
    want_st, want_ex = {}, {}
    for vm in d["vms"]:
        pid = str(vm["pid"])
        for v in vm["vcpus"]:
            vc = str(v["vcpu"])
            for path, stages in v.get("paths", {}).items():
                for st, h in stages.items():
                    want_st.setdefault((pid, vc, path, st), []).append(h)
            for r, h in v.get("exits", {}).items():
                want_ex.setdefault((pid, vc, r), []).append(h)
    if no_vcpu:
        m = {}
        for (pid, vc, path, st), hs in want_st.items():
            m.setdefault((pid, None, path, st), []).extend(hs)
        want_st = m
        m = {}
        for (pid, vc, r), hs in want_ex.items():
            m.setdefault((pid, None, r), []).extend(hs)
        want_ex = m
    want_st = {k: merge(hs) for k, hs in want_st.items()}
    want_ex = {k: merge(hs) for k, hs in want_ex.items()}
    compare(STAGE, histograms(fams, STAGE, ("pid", "vcpu", "path", "stage")),
            want_st)
    compare(EXIT, histograms(fams, EXIT, ("pid", "vcpu", "reason")), want_ex)

    dd = show_json(reader, hist, stats, "--disk")
    keys = disk_key(fams)
    got = histograms(fams, DISK, keys)
    want = {}
    for vm in dd["vms"]:
        pid = str(vm["pid"])
        for dk in vm.get("disks", []):
            label = disk_id(keys, got, pid, dk)
            for path, stages in dk.get("paths", {}).items():
                for st, h in stages.items():
                    want[(pid, label, path, st)] = h
    compare(DISK, got, want)

    # the labels: the same vm for one pid everywhere, no vcpu with --no-vcpu
    vm_of = {}
    for f in fams:
        for s in f.samples:
            if "pid" in s.labels:
                vm = s.labels.get("vm")
                if vm_of.setdefault(s.labels["pid"], vm) != vm:
                    problem("pid %s: vm %r and %r" % (s.labels["pid"],
                                                      vm_of[s.labels["pid"]],
                                                      vm))
            if no_vcpu and f.name in (STAGE, EXIT) and "vcpu" in s.labels:
                problem("--no-vcpu: %s has a vcpu label" % s.name)

    st = d.get("stats") or {}
    seen = set()
    for f in fams:
        if not f.name.startswith("kvmio_lat_") or f.name in HISTS:
            continue
        key = f.name[len("kvmio_lat_"):]
        if f.type not in ("counter", "gauge"):
            problem("%s is a %s" % (f.name, f.type))
        if key not in st:
            continue	# not one of the stats (a per-VM gauge, ...)
        if len(f.samples) != 1 or f.samples[0].labels:
            problem("%s: %d samples, labels %s" % (f.name, len(f.samples),
                                                   f.samples[0].labels))
            continue
        seen.add(key)
        if f.samples[0].value != st[key]:
            problem("%s = %s, stats say %s" % (f.samples[0].name,
                                               f.samples[0].value, st[key]))
    missing = sorted(set(st) - seen)
    if missing:
        problem("stats not exported: %s" % " ".join(missing))
    nsamples = sum(len(f.samples) for f in fams)
    return finish("%s: %d families, %d samples, %d stage + %d exit + %d disk "
                  "series, %d stats" % (om, len(fams), nsamples, len(want_st),
                                        len(want_ex), len(want), len(seen)))


def samples_of(fams):
    out = {}
    for f in fams:
        for s in f.samples:
            if s.name.startswith("kvmio_lat_"):
                out[(s.name, tuple(sorted(s.labels.items())))] = (s.value,
                                                                  f.name)
    return out


def cmd_scrape(args):
    if len(args) != 2:
        return usage()
    fams = parse_om(args[0])
    with open(args[1], encoding="utf-8") as f:
        scraped = list(text_families(f.read()))
    want, got = samples_of(fams), samples_of(scraped)
    for k, (v, _) in want.items():
        if k not in got:
            problem("not served: %s%s" % (k[0], dict(k[1])))
        elif got[k][0] != v and not (math.isnan(v) and math.isnan(got[k][0])):
            problem("%s%s: served %s, the file says %s"
                    % (k[0], dict(k[1]), got[k][0], v))
    for k in got:
        if k not in want:
            problem("served, not in the file: %s%s" % (k[0], dict(k[1])))
    # what became of each family's type and HELP
    otype = {f.name: f.type for f in fams}
    ohelp = {f.name: f.documentation for f in fams}
    stype = {f.name: f.type for f in scraped}
    shelp = {f.name: f.documentation for f in scraped}
    moved = {}	# (file family, served family) -> a sample name
    for k, (_, fam) in want.items():
        if k in got:
            moved.setdefault((fam, got[k][1]), k[0])
    # export --prometheus names a counter's family with its _total, as
    # the text format does; nothing else may change on the way
    for (fam, sfam), sample in sorted(moved.items()):
        ot, st = otype[fam], stype[sfam]
        if ohelp[fam] and shelp[sfam] != ohelp[fam]:
            problem("HELP lost: %s %r served as %s %r"
                    % (fam, ohelp[fam], sfam, shelp[sfam]))
        if ot == st and (fam == sfam or (ot == "counter" and sfam == fam + "_total")):
            continue
        problem("type lost: %s %s (%s) served as %s %s" % (ot, fam, sample, st, sfam))
    return finish("%d kvmio_lat samples served as written" % len(want))


def prom_query(url, q):
    u = url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode(
        {"query": q})
    with urllib.request.urlopen(u, timeout=10) as r:
        res = json.load(r)
    if res.get("status") != "success":
        raise RuntimeError("%s: %s" % (q, res))
    return res["data"]["result"]


def wait_prom(url, got, keys, timeout):
    """Until Prometheus serves exactly the disk series got (the file's)."""
    want = set(got)
    deadline = time.monotonic() + timeout
    seen = None
    while True:
        try:
            res = prom_query(url, DISK + "_count")
            seen = {tuple(r["metric"].get(k) for k in keys) for r in res}
            if seen == want:
                return True
        except Exception as e:	# not up yet: try again
            seen = e
        if time.monotonic() > deadline:
            problem("Prometheus did not serve the file's %d disk series in "
                    "%d s: it has %s" % (len(want), timeout, seen))
            return False
        time.sleep(0.25)


def cmd_quantile(args):
    if len(args) not in (4, 5):
        return usage()
    om, url, reader, hist = args[:4]
    stats = args[4] if len(args) == 5 else None
    fams = parse_om(om)
    keys = disk_key(fams)
    got = histograms(fams, DISK, keys)
    if not wait_prom(url, got, keys, 30):
        return finish("")
    dd = show_json(reader, hist, stats, "--disk")
    n = 0
    for vm in dd["vms"]:
        pid = str(vm["pid"])
        for dk in vm.get("disks", []):
            label = disk_id(keys, got, pid, dk)
            for path, stages in dk.get("paths", {}).items():
                h = stages.get("total")
                if not h:
                    continue
                key = (pid, label, path, "total")
                if key not in got:
                    problem("disk %s %s of pid %s: no total series"
                            % (dk["fd"], path, pid))
                    continue
                disk = got[key].labels.get("disk", label)
                p99 = h["p99_ns"] * 1e-9
                les = sorted(float(le) for le in got[key].buckets
                             if le != "+Inf")
                lo = max([le for le in les if le < p99], default=0.0)
                hi = min([le for le in les if le >= p99], default=math.inf)
                q = ('histogram_quantile(0.99, sum by (le) '
                     '(kvmio_lat_disk_seconds_bucket{stage="total",pid="%s",'
                     'disk="%s",path="%s"}))' % (pid, disk, path))
                try:
                    res = prom_query(url, q)
                except Exception as e:
                    problem("query %s: %s" % (q, e))
                    continue
                if len(res) != 1:
                    problem("%s: %d results: %s" % (q, len(res), res))
                    continue
                v = float(res[0]["value"][1])
                ok = lo - 1e-12 <= v <= hi + 1e-12
                print("# disk \"%s\" path %s: reader p99 %.9g s, Prometheus "
                      "%.9g s, bucket (%.9g, %.9g]%s" % (disk, path, p99, v,
                                                        lo, hi,
                                                        "" if ok else " NO"))
                if not ok:
                    problem("disk %s path %s: Prometheus's p99 %.9g s is out "
                            "of (%.9g, %.9g], the reader says %.9g s"
                            % (disk, path, v, lo, hi, p99))
                n += 1
    if not n and not problems:
        problem("no disk with a total histogram in %s" % hist)
    return finish("%d disk/path p99s agree within a bucket" % n)


def cmd_dashboard(args):
    if len(args) != 2:
        return usage()
    with open(args[0], encoding="utf-8") as f:
        dash = json.load(f)
    url = args[1]
    queries = []
    for panel in dash.get("panels", []):
        for t in panel.get("targets", []):
            queries.append((panel.get("title", "?"), t["expr"]))
    for v in dash.get("templating", {}).get("list", []):
        m = re.match(r"label_values\((.*), *(\w+)\)$", v.get("definition", ""))
        if m:
            queries.append(("variable " + v["name"], "count by (%s) (%s)"
                            % (m.group(2), m.group(1))))
        elif v.get("type") == "query":
            problem("variable %s: not a label_values() query" % v["name"])

    def subst(q):
        q = q.replace("$__rate_interval", "1m")
        return re.sub(r"\$\{?(\w+)\}?", ".*", q)

    def answers():
        out = []
        for title, q in queries:
            try:
                out.append((title, q, len(prom_query(url, subst(q))), None))
            except Exception as e:
                out.append((title, q, 0, e))
        return out
    # rate() wants two scrapes of a series in its window: a new file's
    # series answer a second or two after they are first served
    deadline = time.time() + 20
    got = answers()
    while any(n == 0 for _, _, n, _ in got) and time.time() < deadline:
        time.sleep(1)
        got = answers()
    for title, q, n, e in got:
        if e is not None:
            problem("%s: %s" % (title, e))
        elif not n:
            problem("%s: no series for %s" % (title, subst(q)))
        else:
            print("# %s: %d series" % (title, n))
    return finish("%d dashboard queries answered" % len(queries))


def cmd_pick(args):
    if len(args) != 1:
        return usage()
    fams = parse_om(args[0])
    for t in ("counter", "gauge"):
        # the largest value: 0 would match a value read as missing
        best = max((f.samples[0] for f in fams if f.type == t
                    and f.name.startswith("kvmio_lat_")
                    and len(f.samples) == 1 and not f.samples[0].labels),
                   key=lambda s: s.value, default=None)
        if best:
            print(best.name, repr(best.value))
    return 0


def cmd_names(args):
    if len(args) != 1:
        return usage()
    names = set()
    for f in parse_om(args[0]):
        names.update(s.name for s in f.samples)
    for n in sorted(names):
        print(n)
    return 0


def pminfo_values(path, prefix):
    """{(name, instance name less its number): value} of pminfo -f."""
    out = {}
    name = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(prefix):
                name = line[len(prefix):]
                continue
            m = re.match(r'\s+value (\S+)$', line)
            if m and name:
                out[(name, ())] = float(m.group(1))
                continue
            m = re.match(r'\s+inst \[\d+ or "\d+ (.*)"\] value (\S+)$',
                         line)
            if m and name:
                out[(name, m.group(1))] = float(m.group(2))
    return out


def cmd_pcp(args):
    if len(args) != 3:
        return usage()
    om, pminfo, prefix = args
    fams = parse_om(om)
    got = pminfo_values(pminfo, prefix)
    n = 0
    for f in fams:
        for s in f.samples:
            # pmdaopenmetrics names an instance "N k1:v1 k2:v2", by key
            key = (s.name, " ".join("%s:%s" % kv for kv in
                                    sorted(s.labels.items())) or ())
            n += 1
            if key not in got:
                problem("pminfo -f has no %s%s" % (s.name, s.labels or ""))
            elif not math.isclose(got[key], s.value, rel_tol=1e-6,
                                  abs_tol=1e-12):
                problem("pminfo -f: %s%s = %s, the file says %s"
                        % (s.name, s.labels or "", got[key], s.value))
    extra = len(got) - n
    if extra > 0:
        problem("pminfo -f has %d values more than the file's %d samples"
                % (extra, n))
    return finish("pminfo -f: the file's %d samples, same values" % n)


def usage():
    print("usage: om_check.py file|scrape|quantile|dashboard|pick|names|pcp ARGS (see its "
          "header)", file=sys.stderr)
    return 2


def main(argv):
    cmds = {"file": cmd_file, "scrape": cmd_scrape, "quantile": cmd_quantile,
            "pick": cmd_pick, "names": cmd_names, "pcp": cmd_pcp,
            "dashboard": cmd_dashboard}
    if len(argv) < 2 or argv[1] not in cmds:
        return usage()
    return cmds[argv[1]](argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
