#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kvmio_lat hardening tests (issue 8), run as root inside a lab guest:
#
#   selftests/lab/lab.sh run -- selftests/hardening/run.sh \
#       --module module/kvmio_lat.ko --vmm build/kvmio-vmm \
#       --reader build/kvmio-lat [--inner-io build/inner-io] [--only LIST] [...]
#
# Works on any kernel the module builds for, the KASAN/lockdep/kmemleak debug
# kernel included.  TAP output; exit status 0 only if every test passed.
# The lockdown test runs last and leaves the kernel locked down.
# `hardening.py --help` lists every option; Documentation/safety.rst says
# what each test checks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/hardening.py" "$@"
