#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check a hist snapshot taken while a real QEMU guest did a known number of
O_DIRECT I/Os on virtio-blk with aio=MODE (issue 3's real-QEMU test)."""
import argparse
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import kvmio_hist  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=sorted(kvmio_hist.STAGES), required=True)
    ap.add_argument("--ios", type=int, required=True, help="I/Os the guest did")
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--guest-mean-us", type=float, default=0,
                    help="the mean latency the guest measured, for comparison")
    ap.add_argument("hist")
    a = ap.parse_args()

    vms = kvmio_hist.parse(open(a.hist).read())
    if a.pid not in vms:
        print("FAIL: QEMU pid %d not in the snapshot (vms: %s)" % (a.pid, list(vms)))
        return 1
    vm = vms[a.pid]
    ok = True
    total = {}
    for name in kvmio_hist.STAGES[a.mode]:
        h = [v["stages"][a.mode].get(name) for v in vm["vcpus"].values()]
        h = [x for x in h if x]
        total[name] = (sum(x.count for x in h), sum(x["sum"] for x in h))
        if not total[name][0]:
            print("FAIL: %s stage %s is empty" % (a.mode, name))
            ok = False
    n, tsum = total["total"]
    print("%s: %d requests recorded for %d guest I/Os" % (a.mode, n, a.ios))
    if abs(n - a.ios) > a.tolerance * a.ios:
        print("FAIL: request count %d not within %.0f%% of %d" % (n, a.tolerance * 100, a.ios))
        ok = False
    if n:
        means = {k: s / c if c else 0 for k, (c, s) in total.items()}
        parts = sum(v for k, v in means.items() if k != "total")
        print("mean total %.0f ns, sum of stage means %.0f ns; %s" % (
            means["total"], parts,
            ", ".join("%s %.0f" % (k, v) for k, v in means.items() if k != "total")))
        if a.guest_mean_us:
            print("guest-measured mean latency %.0f ns; kvmio_lat total mean %.0f ns (%.0f%%)" % (
                a.guest_mean_us * 1e3, means["total"], 100.0 * means["total"] / (a.guest_mean_us * 1e3)))
        if abs(parts - means["total"]) > a.tolerance * means["total"]:
            print("FAIL: stage means do not add up to the total mean within %.0f%%" %
                  (a.tolerance * 100))
            ok = False
    for other in sorted(kvmio_hist.STAGES):
        if other == a.mode:
            continue
        stray = sum(v["stages"][other]["total"].count
                    for v in vm["vcpus"].values() if "total" in v["stages"][other])
        print("%s path: %d requests" % (other, stray))
        if stray > a.tolerance * a.ios:
            print("FAIL: %d requests on the %s path" % (stray, other))
            ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
