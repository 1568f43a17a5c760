#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Checks of a "kvmio-lat report" page, for selftests/report/report_test.sh.

  render URL --js on|off --dom F --png F --netlog F --requests F [--size WxH]
        load URL in headless Chromium, driven over the DevTools protocol
        (--remote-debugging-pipe), JavaScript on or off
        (Emulation.setScriptExecutionDisabled, before the page loads): the
        DOM as the browser built it (DOM.getOuterHTML, which needs no
        script: --dump-dom reads it with JavaScript and prints nothing when
        it is off), a screenshot, Chromium's network log, and every request
        and JavaScript error the DevTools protocol reported
  page DOM JSON --js on|off
        the page against `kvmio-lat show --json` of the same snapshot: every
        number in it, every histogram of the JSON in it (bucket by bucket),
        the charts drawn to scale, JavaScript's mark there or not
  static HTML   no reference to anything outside the file
  net NETLOG REQUESTS
        no request of the page: none in the DevTools events, and none in
        the network log (a request the page makes is partitioned by its
        top frame's site, file://; Chromium's own, e.g. its component
        updater, are not the page's)
  png PNG       a screenshot that is not blank
"""
import base64
import html.parser
import json
import os
import re
import struct
import subprocess
import sys
import time
import zlib

# ---------------------------------------------------------------------
# Chromium over the DevTools protocol


class Browser:
    """Headless Chromium on a pipe: fd 3 its commands, fd 4 its replies."""

    def __init__(self, profile, netlog, size):
        cmd_r, self.cmd_w = os.pipe()
        self.rep_r, rep_w = os.pipe()
        os.set_inheritable(cmd_r, True)
        os.set_inheritable(rep_w, True)
        chromium = os.environ.get("CHROMIUM", "chromium")
        args = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--remote-debugging-pipe", "--user-data-dir=" + profile,
                "--no-first-run", "--no-default-browser-check",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--hide-scrollbars",
                # nothing leaves the machine, even if the page asked
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--log-net-log=" + netlog, "--net-log-capture-mode=Default",
                "--window-size=%d,%d" % size, "about:blank"]

        def fds():
            os.dup2(cmd_r, 3)
            os.dup2(rep_w, 4)

        self.proc = subprocess.Popen(args, preexec_fn=fds, pass_fds=(3, 4),
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(rep_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def _read(self, deadline):
        while b"\0" not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no reply from chromium")
            chunk = os.read(self.rep_r, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed its pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method, timeout=60):
        deadline = time.monotonic() + timeout
        for e in self.events:
            if e.get("method") == method:
                return e
        while True:
            e = self._read(deadline)
            self.events.append(e)
            if e.get("method") == method:
                return e

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except (OSError, RuntimeError, TimeoutError, EOFError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.cmd_w)
        os.close(self.rep_r)


def render(args):
    url, opts = args[0], dict(zip(args[1::2], args[2::2]))
    size = tuple(int(x) for x in opts.get("--size", "1280x2000").split("x"))
    profile = opts["--dom"] + ".profile"
    b = Browser(profile, opts["--netlog"], size)
    try:
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = b.call("Target.attachToTarget",
                   {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            b.call(domain + ".enable", session=s)
        b.call("Emulation.setScriptExecutionDisabled",
               {"value": opts["--js"] == "off"}, session=s)
        b.call("Emulation.setDeviceMetricsOverride",
               {"width": size[0], "height": size[1], "deviceScaleFactor": 1,
                "mobile": False}, session=s)
        b.events.clear()
        b.call("Page.navigate", {"url": url}, session=s)
        b.wait_event("Page.loadEventFired")
        time.sleep(1)	# anything the page would fetch late
        root = b.call("DOM.getDocument", {"depth": -1}, session=s)["root"]
        dom = b.call("DOM.getOuterHTML", {"nodeId": root["nodeId"]},
                     session=s)["outerHTML"]
        png = b.call("Page.captureScreenshot", {"format": "png"}, session=s)
        b.call("Network.disable", session=s)	# flush: events come first
    finally:
        b.close()
    with open(opts["--dom"], "w", encoding="utf-8") as f:
        f.write(dom)
    with open(opts["--png"], "wb") as f:
        f.write(base64.b64decode(png["data"]))
    seen = {"requests": [], "errors": []}
    for e in b.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Network.requestWillBeSent":
            seen["requests"].append(p["request"]["url"])
        elif m == "Network.webSocketCreated":
            seen["requests"].append(p["url"])
        elif m == "Runtime.exceptionThrown":
            seen["errors"].append(p["exceptionDetails"].get("text", "?") + " " +
                                  json.dumps(p["exceptionDetails"].get("exception", {})
                                             .get("description", "")))
        elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
            seen["errors"].append(p["entry"]["text"])
    with open(opts["--requests"], "w", encoding="utf-8") as f:
        json.dump(seen, f, indent=1)
    subprocess.run(["rm", "-rf", profile], check=False)
    return 0

# ---------------------------------------------------------------------
# the DOM


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag = tag
        self.a = dict(attrs)
        self.parent = parent
        self.children = []
        self.text = ""		# all text inside, children's too

    def cls(self):
        return self.a.get("class", "").split()


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}


class Tree(html.parser.HTMLParser):
    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.cur = self.root
        self.all = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        self.all.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        self.all.append(n)

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        n = self.cur
        while n is not None:
            n.text += data
            n = n.parent


def fmt_ns(ns):
    """kvl_fmt_ns() of userspace/output.c: show's units."""
    if ns < 999.5:
        return "%.0fns" % ns
    units = [(1e3, "µs"), (1e6, "ms"), (1e9, "s")]
    for i, (div, unit) in enumerate(units):
        v = ns / div
        if v >= 999.5 and i + 1 < len(units):
            continue
        if v < 9.995:
            return "%.2f%s" % (v, unit)
        if v < 99.95:
            return "%.1f%s" % (v, unit)
        return "%.0f%s" % (v, unit)
    raise AssertionError


def comm_text(s):
    """A name as the page shows it: control characters as '?'."""
    return "".join("?" if ord(c) < 0x20 or c == "\x7f" else c for c in s)


def json_hists(doc):
    """{key: stats} of every histogram of show --json; keys as the page's."""
    h = {}
    for vm in doc["vms"]:
        pid = str(vm["pid"])
        for v in vm["vcpus"]:
            vc = str(v["vcpu"])
            for reason, st in v["exits"].items():
                h[("exit", pid, vc, "", reason)] = st
            for path, stages in v["paths"].items():
                for stage, st in stages.items():
                    h[("stage", pid, vc, path, stage)] = st
        for d in vm["disks"]:
            for path, stages in d["paths"].items():
                for stage, st in stages.items():
                    h[("disk", pid, str(d["fd"]), path, stage)] = st
    return h


def key_of(n):
    a = n.a
    kind = a.get("data-kind")
    if kind in ("stage", "exit"):
        return (kind, a.get("data-pid"), a.get("data-vcpu"), a.get("data-path", ""),
                a.get("data-stage", a.get("data-reason")))
    if kind == "disk":
        return (kind, a.get("data-pid"), a.get("data-fd"), a.get("data-path"),
                a.get("data-stage"))
    return None


REAL = ("mean_ns", "stddev_ns")


class Page:
    def __init__(self, dom_text, doc, js):
        self.t = Tree(dom_text)
        self.doc = doc
        self.js = js
        self.hists = json_hists(doc)
        self.errors = []
        self.checked = 0

    def err(self, msg):
        if len(self.errors) < 40:
            self.errors.append(msg)

    def value_ok(self, n, want):
        """data-value and (class kvl-num) the text of @n against @want."""
        field, got = n.a["data-field"], n.a.get("data-value")
        if field in REAL:
            ok = got is not None and got == "%.1f" % want
            # the text is of the unrounded value: a neighbour of the JSON's
            texts = {fmt_ns(want + d) for d in (-0.05, 0, 0.05)}
        else:
            ok = got == str(want)
            texts = {fmt_ns(want) if field.endswith("_ns") else str(want)}
        if not ok:
            self.err("%s %s: data-value %s, show --json %s" %
                     (key_of(n) or n.a.get("data-kind"), field, got, want))
        if "kvl-num" in n.cls() and n.text.strip() not in texts:
            self.err("%s %s: text '%s', show --json %s (%s)" %
                     (key_of(n) or n.a.get("data-kind"), field, n.text.strip(),
                      want, " or ".join(sorted(texts))))
        self.checked += 1

    def numbers(self):
        """Every element with a value: equal to show --json's."""
        stats = self.doc.get("stats", {})
        vms = {str(vm["pid"]): vm for vm in self.doc["vms"]}
        for n in self.t.all:
            if "data-field" not in n.a:
                continue
            kind, field = n.a.get("data-kind"), n.a["data-field"]
            if kind == "stat":
                name = n.a.get("data-stat")
                if name not in stats:
                    self.err("stat %s: not in show --json" % name)
                else:
                    self.value_ok(n, stats[name])
                continue
            if kind == "vm":
                vm = vms.get(n.a.get("data-pid"))
                if not vm or field not in vm:
                    self.err("vm %s %s: not in show --json" % (n.a.get("data-pid"), field))
                else:
                    self.value_ok(n, vm[field])
                continue
            k = key_of(n)
            if k not in self.hists:
                self.err("%s: no such histogram in show --json" % (k,))
            elif field not in self.hists[k]:
                self.err("%s: no field %s in show --json" % (k, field))
            else:
                self.value_ok(n, self.hists[k][field])

    def where(self, cls, key):
        return [n for n in self.t.all if cls in n.cls() and key_of(n) == key]

    def coverage(self):
        """Every histogram of show --json: drawn, its buckets, its numbers."""
        for k, st in self.hists.items():
            self.numbers_of(k)
            if k[0] == "exit":	# bars by reason, no histograms
                continue
            svgs = [n for n in self.where("kvl-hist", k) if n.tag == "svg"]
            if len(svgs) != 1:
                self.err("%s: %d histogram charts, want 1" % (k, len(svgs)))
                continue
            svg = svgs[0]
            rects = [c for c in svg.children if "kvl-bucket" in c.cls()]
            got = [[int(c.a["data-lo"]), int(c.a["data-hi"]), int(c.a["data-n"])]
                   for c in rects]
            if got != st["buckets"]:
                self.err("%s: buckets %s..., show --json %s..." %
                         (k, got[:3], st["buckets"][:3]))
            for f in ("negative", "overflow"):
                if svg.a.get("data-" + f) != str(st[f]):
                    self.err("%s: data-%s %s, show --json %s" %
                             (k, f, svg.a.get("data-" + f), st[f]))
            self.bars_area(k, rects)

    def numbers_of(self, k):
        """Its numbers as text, and its place in a bar chart."""
        fields = {n.a["data-field"] for n in self.where("kvl-num", k)}
        for f in ("count", "mean_ns", "p50_ns", "p99_ns", "p999_ns",
                  "min_ns", "max_ns", "stddev_ns", "p90_ns"):
            if f not in fields:
                self.err("%s: no %s in the page" % (k, f))
        segs = self.where("kvl-seg", k)
        if k[0] == "stage" and k[4] == "total":
            segs = [n for n in self.where("kvl-num", k) if n.tag == "tspan"]
        if not segs:
            self.err("%s: not in its bar chart" % (k,))

    def bars_area(self, k, rects):
        """A bucket's bar: area (height x width) proportional to its count."""
        bars = []
        for c in rects:
            w, h, n = float(c.a["width"]), float(c.a["height"]), int(c.a["data-n"])
            if w <= 0 or h < 0 or h > 100:
                self.err("%s: bucket %s drawn %sx%s" % (k, c.a["data-lo"], w, h))
            else:
                bars.append((w, h, n))
        if not bars:
            return
        # px per value, from the largest bar (the least rounded); width
        # and height are printed to 0.01 px
        w0, h0, n0 = max(bars, key=lambda b: b[0] * b[1])
        per, slack = w0 * h0 / n0, 0.005 * (w0 + h0) / n0
        for w, h, n in bars:
            if abs(w * h / n - per) > 0.005 * (w + h) / n + slack + 1e-9:
                self.err("%s: a bar of %d values has area %.4f, %.4f per value elsewhere" %
                         (k, n, w * h, per))
                break

    def stacks(self):
        """Each bar chart: segments to scale, a vCPU's stages end to end."""
        charts = [n for n in self.t.all if n.tag == "svg" and "kvl-stack" in n.cls()]
        for svg in charts:
            scale = float(svg.a["data-scale"])
            segs = [n for n in svg.children if "kvl-seg" in n.cls()]
            if not segs:
                self.err("empty bar chart %s %s" % (svg.a.get("data-pid"), svg.a.get("data-path")))
            ends = {}
            for n in segs:
                k = key_of(n)
                st = self.hists.get(k)
                if st is None:
                    continue
                x, w = float(n.a["x"]), float(n.a["width"])
                if abs(w - st["mean_ns"] * scale) > 0.01 + st["mean_ns"] * scale * 1e-4:
                    self.err("%s: segment %.2f px, mean %.1f ns at %g px/ns" %
                             (k, w, st["mean_ns"], scale))
                if k[0] == "stage":
                    row = k[:4]
                    if row in ends and abs(ends[row] - x) > 0.02:
                        self.err("%s: segment at %.2f, the previous one ends at %.2f" %
                                 (k, x, ends[row]))
                    ends[row] = x + w
        return len(charts)

    def structure(self):
        pids = {str(vm["pid"]): vm for vm in self.doc["vms"]}
        secs = [n for n in self.t.all if n.tag == "section" and "kvl-vm" in n.cls()]
        got = [n.a.get("data-pid") for n in secs]
        if sorted(got) != sorted(pids):
            self.err("VM sections %s, show --json %s" % (got, sorted(pids)))
        for n in secs:
            vm = pids.get(n.a.get("data-pid"))
            comm = [c for c in self.t.all if "kvl-comm" in c.cls() and self.inside(c, n)]
            if vm and (len(comm) != 1 or comm[0].text != comm_text(vm["comm"])):
                self.err("VM %s: name %r, show --json %r" %
                         (n.a.get("data-pid"), comm[0].text if comm else None, vm["comm"]))
        stacks = self.stacks()
        paths = {(k[1], k[3]) for k in self.hists if k[0] == "stage"}
        if stacks < len(paths):
            self.err("%d bar charts for %d VM paths with stages" % (stacks, len(paths)))
        exits = {(k[1], k[2]) for k in self.hists if k[0] == "exit"}
        charts = {(n.a.get("data-pid"), n.a.get("data-vcpu")) for n in self.t.all
                  if n.tag == "svg" and "kvl-exits" in n.cls()}
        if charts != exits:
            self.err("exit charts of %s, show --json has exits of %s" %
                     (sorted(charts), sorted(exits)))
        stats = self.doc.get("stats", {})
        shown = {n.a.get("data-stat") for n in self.t.all if n.a.get("data-kind") == "stat"}
        if set(stats) != shown:
            self.err("stats %s, show --json %s" % (sorted(shown), sorted(stats)))
        marked = "kvl-js" in [n for n in self.t.all if n.tag == "html"][0].cls()
        if marked != (self.js == "on"):
            self.err("JavaScript was %s, but its mark on <html> is %s" %
                     (self.js, "there" if marked else "not there"))

    @staticmethod
    def inside(n, anc):
        while n is not None:
            if n is anc:
                return True
            n = n.parent
        return False


def page(args):
    dom_file, json_file, js = args[0], args[1], args[3]
    with open(dom_file, encoding="utf-8") as f:
        dom = f.read()
    with open(json_file, encoding="utf-8") as f:
        doc = json.load(f)
    p = Page(dom, doc, js)
    p.numbers()
    p.coverage()
    p.structure()
    svgs = sum(1 for n in p.t.all if n.tag == "svg")
    for e in p.errors:
        print("# " + e)
    print("# %d values checked, %d histograms of show --json, %d SVG charts" %
          (p.checked, len(p.hists), svgs))
    return 1 if p.errors or not p.checked else 0

# ---------------------------------------------------------------------
# nothing from outside


class Refs(html.parser.HTMLParser):
    """Attributes and style text that could make a browser fetch."""
    URL_ATTRS = {"src", "href", "xlink:href", "srcset", "poster", "data",
                 "action", "formaction", "background", "manifest", "ping",
                 "codebase", "cite", "longdesc", "usemap"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.bad = []
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        if tag in ("img", "iframe", "object", "embed", "link", "audio",
                   "video", "source", "base", "frame", "image", "use",
                   "feimage", "portal"):
            self.bad.append("<%s %s>" % (tag, attrs))
        for k, v in attrs:
            v = v or ""
            if k in self.URL_ATTRS and not (k == "href" and v.startswith("#")):
                self.bad.append("%s=%r on <%s>" % (k, v, tag))
            if k == "style" and re.search(r"url\(|@import", v, re.I):
                self.bad.append("style=%r on <%s>" % (v, tag))
            if k == "http-equiv" and v.lower() == "refresh":
                self.bad.append("meta refresh")
        self.in_style = tag == "style"

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.in_style = False

    def handle_data(self, data):
        if self.in_style and re.search(r"url\(|@import", data, re.I):
            self.bad.append("style sheet: %s" % data.strip()[:80])

    def handle_endtag(self, tag):
        self.in_style = False


def static(args):
    with open(args[0], encoding="utf-8") as f:
        text = f.read()
    r = Refs()
    r.feed(text)
    # a namespace name is never fetched: xmlns="http://www.w3.org/2000/svg"
    rest = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for m in re.finditer(r"\b(?:https?|wss?|ftp)://[^\s\"'<>)]*", rest):
        r.bad.append("URL %s" % m.group(0))
    if re.search(r"\bfetch\(|XMLHttpRequest|WebSocket|sendBeacon|import\(", text):
        r.bad.append("a script that could fetch")
    for b in r.bad[:20]:
        print("# outside reference: " + b)
    return 1 if r.bad else 0

# ---------------------------------------------------------------------
# the network


PAGE_MARK = re.compile(r'"network_(?:isolation|anonymization)_key": "file://'
                       r'|<file://|_dk_file://')
URL = re.compile(r"\b(?:https?|wss?|ftp)://[^\s\"'<>]+")


def net(args):
    with open(args[0], encoding="utf-8") as f:
        text = f.read()
    # a network log Chromium did not close ends inside "events": [...]
    try:
        log = json.loads(text)
    except ValueError:
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    with open(args[1], encoding="utf-8") as f:
        seen = json.load(f)
    page_sources, urls = set(), {}
    for e in log.get("events", []):
        p = json.dumps(e.get("params", {}))
        src = e.get("source", {}).get("id")
        if PAGE_MARK.search(p):
            page_sources.add(src)
        for u in URL.findall(p):
            urls.setdefault(src, set()).add(u)
    page_urls = sorted({u for s in page_sources for u in urls.get(s, ())})
    other = sorted({u for s, us in urls.items() if s not in page_sources for u in us})
    bad = 0
    for u in page_urls:
        print("# network log: the page requested %s" % u)
        bad += 1
    for u in seen["requests"]:
        if not re.match(r"(file|data|about|blob):", u):
            print("# DevTools: the page requested %s" % u)
            bad += 1
    for e in seen["errors"]:
        print("# JavaScript error: %s" % e)
        bad += 1
    print("# %d events in the network log; Chromium's own requests, not the page's: %d" %
          (len(log.get("events", [])), len(other)))
    return 1 if bad or not log.get("events") else 0

# ---------------------------------------------------------------------
# a PNG


def png_pixels(path):
    """(width, height, rows of RGBA/RGB bytes) of an 8-bit PNG, no library."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                raise ValueError("PNG of depth %d, colour type %d" % (depth, ctype))
            bpp = 4 if ctype == 6 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, rows, prev = zlib.decompress(idat), [], bytearray(w * bpp)
    stride = w * bpp
    for y in range(h):
        ft, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def png(args):
    w, h, bpp, rows = png_pixels(args[0])
    colours, ink = {}, 0
    for row in rows[::2]:
        for x in range(0, w * bpp, bpp * 2):
            px = row[x:x + 3]
            colours[px] = colours.get(px, 0) + 1
    total = sum(colours.values())
    background = max(colours, key=colours.get)
    ink = total - colours[background]
    print("# %dx%d, %d colours, %.1f %% not background" %
          (w, h, len(colours), 100.0 * ink / total))
    # a page of charts: many colours (the stages', anti-aliased text) and
    # a fair share of the pixels not the background's
    return 0 if len(colours) >= 16 and ink >= total * 0.02 else 1


if __name__ == "__main__":
    cmds = {"render": render, "page": page, "static": static, "net": net, "png": png}
    if len(sys.argv) < 3 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    sys.exit(cmds[sys.argv[1]](sys.argv[2:]))
