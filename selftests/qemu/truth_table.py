#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""truth_table.py - Documentation/design.rst's accuracy table, from the
ground-truth test's results (selftests/qemu/truth_test.sh writes
truth-SCENARIO.json into the lab's --out directory).

  truth_table.py [--update Documentation/design.rst] --date YYYY-MM-DD
                 --command CMD OUTDIR

Prints the table; with --update, replaces what stands between the
".. truth-table-begin" and ".. truth-table-end" lines of the file.
"""
import argparse
import glob
import json
import os
import sys
import textwrap

BEGIN = '.. truth-table-begin'
END = '.. truth-table-end'


def rows(outdir):
    for path in sorted(glob.glob(os.path.join(outdir, 'truth-*.json'))):
        with open(path) as f:
            yield json.load(f)


def rst_table(head, body):
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    rule = ' '.join('=' * w for w in widths)
    fmt = ' '.join('%%-%ds' % w for w in widths)
    return [rule, (fmt % tuple(head)).rstrip(), rule] + \
        [(fmt % tuple(r)).rstrip() for r in body] + [rule]


def disk_table(results):
    """Per disk: each device's requests and median in QEMU's trace beside
    the module's row for the fd that device's requests carried."""
    head = ['scenario', 'disk fd', 'QEMU', 'module', 'QEMU median',
            'io median', 'submit_to_irq median', 'fd agrees']
    body = []
    for j in results:
        for d in j.get('disks', []):
            body.append([j['label'], str(d['fd']), str(d['qemu_requests']),
                         str(d['module_requests']),
                         '%.1f ms' % (d['qemu_p50_handle_to_complete_us'] / 1000.0),
                         '%.1f ms' % (d.get('module_p50_io_us', 0) / 1000.0),
                         '%.1f ms' % (d['module_p50_submit_to_irq_us'] / 1000.0),
                         '%.2f %%' % j['disk_agree_pct']])
    if not body:
        return []
    note = ('Per disk: "QEMU", "module": requests of the device in QEMU\'s '
            'trace and in the module\'s hist rows of the fd its requests '
            'carried; "QEMU median": handle to completion; "io", '
            '"submit_to_irq": the module\'s medians of those disk rows; '
            '"fd agrees": requests paired by time alone whose fd is their '
            'device\'s (loose at depth: the pairing above is by block).  '
            'The slow disk, in every scenario, is the first one, on dm-delay '
            '(10 ms per I/O): native, io_uring in the uring scenarios.')
    return [''] + rst_table(head, body) + [''] + textwrap.wrap(note, 75)


def table(results, date, command):
    head = ['scenario', 'QEMU', 'no irq', 'module', 'lost', 'extra',
            'within', 'io within', 'kernel', 'wake p99', 'submit p99', 'reap p99',
            'irq p99', 'slowest QEMU', 'slowest module']
    body = []
    for j in results:
        d = j['diff_us']
        body.append([
            j['label'], str(j['qemu_requests']), str(j.get('polled', 0)),
            str(j['module_requests']), str(j['lost']), str(j['extra']),
            '%.2f %%' % j['within_pct'],
            '%.1f %%' % min(j.get('io_within_pct', {}).values() or [0]),
            '%.2f %%' % j['kernel_uring']['within_pct']
            if j.get('kernel_uring', {}).get('records') else '-',
            '%.0f µs' % d['wake']['p99'], '%.0f µs' % d['submit']['p99'],
            '%.0f µs' % d['reap']['p99'], '%.0f µs' % d['irq']['p99'],
            '%.1f ms' % (j['slowest_qemu_us'] / 1000.0),
            '%.1f ms' % (j['slowest_module_us'] / 1000.0)])
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    rule = ' '.join('=' * w for w in widths)
    fmt = ' '.join('%%-%ds' % w for w in widths)
    tol = {j['tolerance_us'] for j in results}
    out = ['Measured on %s with::' % date, '', '    ' + command, '',
           rule, (fmt % tuple(head)).rstrip(), rule]
    out += [(fmt % tuple(r)).rstrip() for r in body]
    targets = ', '.join('%s %.0f %%' % (j['label'], j['target_within_pct'])
                        for j in results if 'target_within_pct' in j and
                        j['within_pct'] < j['target_within_pct'])
    note = ('"no irq": requests QEMU completed without raising an interrupt '
            'for them (SeaBIOS polls the ring), counted in '
            '``requests_without_irq``.  "within": requests whose four stamps '
            'lie between the QEMU events of their device that bracket them '
            '(above)%s.  "io within": requests whose host I/O (the disk '
            'rows\' ``io``) lies between QEMU\'s handling and completion of '
            'them, the lowest share of the scenario\'s paths.  "kernel": '
            'io_uring requests both of whose kernel stamps lie within 1 ms '
            'after the kernel\'s own io_uring events of that request.  "p99": '
            'of module minus QEMU, per boundary.  '
            '"slowest": submission to interrupt; the module\'s may exceed '
            'QEMU\'s by at most %s µs.' % (
                '; targets not yet met: ' + targets if targets else '',
                '/'.join('%.0f' % t for t in sorted(tol))))
    out += [rule, ''] + textwrap.wrap(note, 75)
    out += disk_table(results)
    return '\n'.join(out) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('outdir')
    ap.add_argument('--date', required=True)
    ap.add_argument('--command', required=True)
    ap.add_argument('--update')
    a = ap.parse_args()
    results = list(rows(a.outdir))
    if not results:
        print('truth_table: no truth-*.json in %s' % a.outdir, file=sys.stderr)
        return 1
    text = table(results, a.date, a.command)
    if not a.update:
        sys.stdout.write(text)
        return 0
    with open(a.update) as f:
        doc = f.read()
    if BEGIN not in doc or END not in doc:
        print('truth_table: %s has no %s / %s lines' % (a.update, BEGIN, END),
              file=sys.stderr)
        return 1
    pre, rest = doc.split(BEGIN, 1)
    _, post = rest.split(END, 1)
    with open(a.update, 'w') as f:
        f.write(pre + BEGIN + '\n\n' + text + '\n' + END + post)
    return 0


if __name__ == '__main__':
    sys.exit(main())
