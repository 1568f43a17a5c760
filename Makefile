# SPDX-License-Identifier: GPL-2.0
#
# kvmio_lat - where does a QEMU-KVM guest's block I/O latency go?
#
#   make                 the module (for KDIR) and the kvmio-lat reader
#   make KDIR=<dir>      the module for another kernel's headers
#   make KVL_WERROR=1    with warnings fatal (make check builds so, W=1 too)
#   make check           everything a change must pass (see README.md)
#   make demo            boot the lab, run real QEMU, show where latency goes
#
# All kbuild logic lives in Kbuild and module/Kbuild: DKMS runs plain
# `make -C KDIR M=$PWD`, which never reads this file's rules.

ifneq ($(KERNELRELEASE),)
include $(src)/Kbuild
else

KDIR ?= /lib/modules/$(shell uname -r)/build
CC ?= gcc
BUILD ?= build
PREFIX ?= /usr/local
KSRC := .cache/ksrc
KSELFTEST := $(KSRC)/tools/testing/selftests

ENGINE_SRC := $(wildcard module/engine/*.c)
ENGINE_HDR := $(wildcard include/kvmio_lat/*.h module/engine/*.h)
READER_SRC := $(wildcard userspace/*.c)
READER_HDR := $(wildcard userspace/*.h)

WFLAGS := -Wall -Wextra -Werror -Wno-sign-compare
CFLAGS_USER := -std=gnu11 -O2 -g $(WFLAGS) -D_GNU_SOURCE -Iinclude
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all
TEST_CFLAGS := -std=gnu11 -O1 -g $(WFLAGS) -Wno-unused-parameter -D_GNU_SOURCE -DKVL_MEMO_CHECK \
	-Iinclude -I$(KSELFTEST) -Iselftests/unit $(SANITIZE)

UNIT_TESTS := $(patsubst selftests/unit/%.c,$(BUILD)/unit/%,$(wildcard selftests/unit/*_test.c))

.PHONY: all module reader vmm inner-io selftests unit check demo bench install install-reader \
	clean checkpatch ksrc

all: module reader

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

reader: $(BUILD)/kvmio-lat

$(BUILD)/kvmio-lat: $(READER_SRC) $(READER_HDR) $(ENGINE_SRC) $(ENGINE_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_USER) $(READER_CFLAGS) -Iuserspace -o $@ $(READER_SRC) $(ENGINE_SRC) -lm $(READER_LIBS)

ksrc: $(KSRC)/.done
$(KSRC)/.done:
	scripts/ksrc.sh $(KSRC) >/dev/null

# The lab's programs: they run inside the guest, with the machine's libc.
vmm: $(BUILD)/kvmio-vmm
$(BUILD)/kvmio-vmm: $(wildcard selftests/vmm/*.c selftests/vmm/*.h)
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 -O2 -g $(WFLAGS) -pthread -o $@ \
		$(wildcard selftests/vmm/*.c) -laio

# The inner guest's workload: static, it runs in a busybox initramfs.
inner-io: $(BUILD)/inner-io
$(BUILD)/inner-io: selftests/qemu/inner-io.c
	@mkdir -p $(BUILD)
	$(CC) -static -O2 $(WFLAGS) -pthread -o $@ $<

selftests: vmm inner-io $(BUILD)/kvmio_lat_test
$(BUILD)/kvmio_lat_test: selftests/kvmio_lat_test.c $(wildcard selftests/vmm/*.h) $(KSRC)/.done
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 -O2 -g $(WFLAGS) -Wno-unused-parameter -D_GNU_SOURCE \
		-I$(KSELFTEST) -Iselftests/vmm -o $@ selftests/kvmio_lat_test.c

# Host unit tests of the pure C parts, under ASan and UBSan.
$(BUILD)/unit/%: selftests/unit/%.c $(ENGINE_SRC) $(ENGINE_HDR) $(wildcard selftests/unit/*.h) $(KSRC)/.done
	@mkdir -p $(BUILD)/unit
	$(CC) $(TEST_CFLAGS) -o $@ $< $(ENGINE_SRC) -lm

# versions_test.sh: one version everywhere, --help and the man page agree.
unit: $(UNIT_TESTS) $(BUILD)/kvmio-lat
	@set -e; for t in $(UNIT_TESTS); do echo "# $$t"; $$t; done
	@echo "# selftests/unit/versions_test.sh"; \
		selftests/unit/versions_test.sh $(BUILD)/kvmio-lat

checkpatch: $(KSRC)/.done
	scripts/checkpatch.sh

check:
	scripts/check.sh

demo:
	scripts/demo.sh

install: module install-reader
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install

# The reader, its man page, and the systemd service and timer that write
# its export for node_exporter every 15 s (Documentation/export.rst).
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
install-reader: reader
	install -D -m 0755 $(BUILD)/kvmio-lat $(DESTDIR)$(PREFIX)/bin/kvmio-lat
	install -D -m 0644 userspace/kvmio-lat.8 $(DESTDIR)$(PREFIX)/share/man/man8/kvmio-lat.8
	install -d $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	for u in kvmio-lat-export.service kvmio-lat-export.timer; do \
		sed 's|@BINDIR@|$(PREFIX)/bin|g' userspace/systemd/$$u \
			>$(DESTDIR)$(SYSTEMD_UNIT_DIR)/$$u && \
		chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/$$u || exit 1; \
	done

# Not kbuild's clean: with M=$(CURDIR) it deletes every *.o and *.ko under
# the checkout, the lab's cached kernel modules and debug kernel build too.
clean:
	rm -f Module.symvers modules.order .Module.symvers.cmd .modules.order.cmd
	find module \( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name '*.order' -o -name '*.symvers' -o -name '.*.d' \) \
		-type f -delete
	rm -rf $(BUILD) .tmp_versions

# --- reader: begin ---
# The reader's host test includes userspace/*.c (all but main.c), and the
# snapshot parser is fuzzed with libFuzzer (clang 14) for FUZZ_SECONDS.
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 30
FUZZ_DIR := $(BUILD)/fuzz
READER_LIB_SRC := $(filter-out userspace/main.c,$(READER_SRC))
READER_FIXTURES := $(wildcard selftests/unit/fixtures/*)

# record/replay read trace-cmd recordings with libtracecmd (scripts/deps.sh
# installs libtracecmd-dev, libtraceevent-dev): a hard dependency.
READER_PKGS := libtracecmd libtraceevent
READER_CFLAGS := $(shell pkg-config --cflags $(READER_PKGS) 2>/dev/null)
READER_LIBS := $(shell pkg-config --libs $(READER_PKGS) 2>/dev/null)

reader-deps:
	@pkg-config --exists $(READER_PKGS) || { echo "kvmio-lat needs $(READER_PKGS) (apt-get install libtracecmd-dev libtraceevent-dev pkg-config, or scripts/deps.sh)" >&2; exit 1; }

$(BUILD)/kvmio-lat: | reader-deps

# The tests that include the reader's sources link libtracecmd too.
READER_TESTS := $(BUILD)/unit/reader_test $(BUILD)/unit/replay_test $(BUILD)/unit/loop_test
$(READER_TESTS): $(BUILD)/unit/%: selftests/unit/%.c $(READER_SRC) $(READER_HDR) \
		$(READER_FIXTURES) $(ENGINE_SRC) $(ENGINE_HDR) \
		$(wildcard selftests/unit/*.h) $(KSRC)/.done | reader-deps
	@mkdir -p $(BUILD)/unit
	$(CC) $(TEST_CFLAGS) $(READER_CFLAGS) -o $@ $< $(ENGINE_SRC) -lm $(READER_LIBS)

replay-test: $(BUILD)/unit/replay_test
	$(BUILD)/unit/replay_test

# Replay speed (records per second) without sanitizers, on the fixtures or
# BENCH_FILES (e.g. a lab recording of selftests/qemu/replay_test.sh).
BENCH_ROUNDS ?= 50
BENCH_FILES ?= $(filter-out %_missing.dat,$(wildcard selftests/unit/fixtures/replay_*.dat))
$(BUILD)/replay_bench: selftests/unit/replay_bench.c $(READER_LIB_SRC) $(READER_HDR) $(ENGINE_SRC) $(ENGINE_HDR) | reader-deps
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_USER) $(READER_CFLAGS) -Iuserspace -o $@ $< $(READER_LIB_SRC) $(ENGINE_SRC) -lm $(READER_LIBS)

bench-replay: $(BUILD)/replay_bench
	$(BUILD)/replay_bench $(BENCH_ROUNDS) $(BENCH_FILES)

reader-test: $(BUILD)/unit/reader_test
	$(BUILD)/unit/reader_test

FUZZ_CFLAGS = -std=gnu11 -O1 -g -Wall -D_GNU_SOURCE -DKVL_MEMO_CHECK -Iinclude -Iuserspace \
	$(READER_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_RUN = -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=1024 \
	-print_final_stats=1

$(FUZZ_DIR)/snapshot_fuzz: selftests/unit/snapshot_fuzz.c $(READER_LIB_SRC) $(READER_HDR) $(ENGINE_SRC) $(ENGINE_HDR)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(READER_LIB_SRC) $(ENGINE_SRC) -lm $(READER_LIBS)

# The engine fed decoded event streams, its invariants checked (engine_fuzz.c).
$(FUZZ_DIR)/engine_fuzz: selftests/unit/engine_fuzz.c selftests/unit/engine_fixture.h \
		selftests/unit/fuzz_input.h $(READER_LIB_SRC) $(READER_HDR) $(ENGINE_SRC) $(ENGINE_HDR)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Iselftests/unit -o $@ $< $(READER_LIB_SRC) $(ENGINE_SRC) \
		-lm $(READER_LIBS)

# Replay's record translation, markers and tgids files (replay_fuzz.c
# includes replay.c for its static functions).
$(FUZZ_DIR)/replay_fuzz: selftests/unit/replay_fuzz.c selftests/unit/fuzz_input.h \
		$(READER_LIB_SRC) $(READER_HDR) $(ENGINE_SRC) $(ENGINE_HDR)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(filter-out userspace/replay.c,$(READER_LIB_SRC)) \
		$(ENGINE_SRC) -lm $(READER_LIBS)

# replay --loop's chain syntax and matcher on decoded event streams, its
# invariants checked (loop_fuzz.c).
$(FUZZ_DIR)/loop_fuzz: selftests/unit/loop_fuzz.c selftests/unit/fuzz_input.h \
		$(READER_LIB_SRC) $(READER_HDR) $(ENGINE_SRC) $(ENGINE_HDR)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(READER_LIB_SRC) $(ENGINE_SRC) -lm $(READER_LIBS)

# Each target runs FUZZ_SECONDS from a fresh corpus (the snapshot parser's
# seeded with the fixtures, replay's with the inputs of its past crashes,
# fixtures/replay-regress/, the loop's with chains and past crashes,
# fixtures/loop-seeds/); any crash, leak, sanitizer report or failed
# invariant fails the target (the reproducer is left in $(FUZZ_DIR)/).
fuzz: $(FUZZ_DIR)/snapshot_fuzz $(FUZZ_DIR)/engine_fuzz $(FUZZ_DIR)/replay_fuzz \
		$(FUZZ_DIR)/loop_fuzz
	@rm -rf $(FUZZ_DIR)/corpus $(FUZZ_DIR)/engine-corpus $(FUZZ_DIR)/replay-corpus \
		$(FUZZ_DIR)/loop-corpus
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/engine-corpus $(FUZZ_DIR)/replay-corpus \
		$(FUZZ_DIR)/loop-corpus
	cp selftests/unit/fixtures/*.hist selftests/unit/fixtures/*.stats $(FUZZ_DIR)/corpus/
	$(FUZZ_DIR)/snapshot_fuzz $(FUZZ_RUN) -max_len=16384 \
		-dict=selftests/unit/fixtures/snapshot.dict \
		-artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus
	cp selftests/unit/fixtures/engine-regress/* $(FUZZ_DIR)/engine-corpus/
	$(FUZZ_DIR)/engine_fuzz $(FUZZ_RUN) -max_len=4096 \
		-artifact_prefix=$(FUZZ_DIR)/engine- $(FUZZ_DIR)/engine-corpus
	cp selftests/unit/fixtures/replay-regress/* $(FUZZ_DIR)/replay-corpus/
	KVL_FUZZ_DAT=selftests/unit/fixtures/replay_native.dat \
		$(FUZZ_DIR)/replay_fuzz $(FUZZ_RUN) -max_len=4096 \
		-artifact_prefix=$(FUZZ_DIR)/replay- $(FUZZ_DIR)/replay-corpus
	cp selftests/unit/fixtures/loop-seeds/* $(FUZZ_DIR)/loop-corpus/
	$(FUZZ_DIR)/loop_fuzz $(FUZZ_RUN) -max_len=4096 \
		-dict=selftests/unit/fixtures/loop.dict \
		-artifact_prefix=$(FUZZ_DIR)/loop- $(FUZZ_DIR)/loop-corpus

.PHONY: reader-test fuzz reader-deps replay-test bench-replay
# --- reader: end ---

# --- matrix: begin ---
# Every supported Debian kernel (5.10, 6.1, 6.1 PREEMPT_RT, 6.12, 7.x):
# built with its suite's compiler in a cached chroot, DKMS round trip and
# `make install` there, probe prototypes checked against the kernel's BTF,
# booted in the lab for the selftests and real QEMU.  Not part of make
# check (Documentation/testing.rst says why).  See scripts/matrix/matrix.sh and
# Documentation/compat.rst.
#   make matrix MATRIX_ARGS="--only bullseye,sid"
MATRIX_ARGS ?=

matrix:
	scripts/matrix/matrix.sh $(MATRIX_ARGS)

.PHONY: matrix
# --- matrix: end ---

# --- bench: begin ---
# What kvmio_lat costs, against ftrace (trace-cmd record), a hist trigger and
# bpftrace, measured in one lab boot: exit loop, an untracked process, the
# VMM's I/O loops, real QEMU, scaling to 16 vCPUs, memory, replay speed.
# Prints a table and writes build/bench/bench.json (see
# Documentation/performance.rst and scripts/bench/bench.sh --help); then
# boots the lab once more with a clock that counts instructions (--icount)
# for the exit loops, exact where wall times are noise: build/bench-icount/.
# bench-quick (make check runs it): every section once with tiny sizes, into
# build/bench-quick (and the exit loops counted, build/bench-quick-icount);
# it checks that the benchmark works, never how fast.
#   make bench BENCH_ARGS="--rounds 9 --sections exits,untracked"
#   make bench-icount BENCH_ICOUNT_ARGS="--rounds 2 --variant git-HEAD"
BENCH_ARGS ?=
BENCH_ICOUNT_ARGS ?=

# the instruction-count boot runs even when the first one missed figures
bench: $(BUILD)/engine_cost
	rc=0; scripts/bench/bench.sh $(BENCH_ARGS) || rc=$$?; \
	scripts/bench/bench.sh --icount $(BENCH_ICOUNT_ARGS) || rc=$$?; \
	scripts/bench/engine_cost.py $(BUILD)/engine_cost || rc=$$?; exit $$rc

bench-icount:
	scripts/bench/bench.sh --icount $(BENCH_ICOUNT_ARGS)

bench-quick: $(BUILD)/engine_cost
	scripts/bench/bench.sh --quick $(BENCH_ARGS)
	scripts/bench/bench.sh --quick --icount
	scripts/bench/engine_cost.py --iterations 1000 $(BUILD)/engine_cost

# The engine's share of each icount exit loop, function by function:
# callgrind counts its instructions (scripts/bench/engine_cost.c).
$(BUILD)/engine_cost: scripts/bench/engine_cost.c $(ENGINE_SRC) $(ENGINE_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_USER) -o $@ $< $(ENGINE_SRC)

bench-engine: $(BUILD)/engine_cost
	scripts/bench/engine_cost.py $(BUILD)/engine_cost

# The worst interrupts-off stretch, by the debug kernel's irqsoff tracer,
# without kvmio_lat and with it at its default and maximum caps.
bench-irqsoff: reader selftests
	DEBUG_KERNEL_OUT=$(BUILD)/bench-irqsoff scripts/debug-kernel/check.sh \
		--guest scripts/bench/irqsoff_guest.py

.PHONY: bench-quick bench-icount bench-engine bench-irqsoff
# --- bench: end ---

# --- hardening: begin ---
# The hardening tests on the lab's stock kernel (make check runs them
# too; make check-debug runs them on the debug kernel;
# Documentation/safety.rst).  module/kvmio_lat.ko
# must be built for the lab's kernel:
#   make module KDIR=/lib/modules/$(scripts/lab-kver.sh)/build
hardening: reader selftests
	selftests/lab/lab.sh run -- selftests/hardening/run.sh --module module/kvmio_lat.ko \
		--vmm build/kvmio-vmm --reader build/kvmio-lat --inner-io build/inner-io

.PHONY: hardening
# --- hardening: end ---

# --- debug-kernel: begin ---
# kvmio_lat under KASAN, lockdep, kmemleak and DEBUG_ATOMIC_SLEEP: Debian's
# linux-source-6.1 with scripts/debug-kernel/debug.config, cached in
# .cache/debug-kernel, booted in the lab for every in-lab test, then two
# kmemleak scans.  See scripts/debug-kernel/ and Documentation/testing.rst.
#   make debug-kernel          build it (or take it from the cache): prints
#                              release=, kdir= (for make module KDIR=...)
#   make check-debug           the module against it, every lab test on it
#   make debug-kernel-canary   each detector catches a bug made on purpose
debug-kernel:
	scripts/debug-kernel/build.sh

check-debug:
	scripts/debug-kernel/check.sh

debug-kernel-canary:
	scripts/debug-kernel/canary.sh

.PHONY: debug-kernel check-debug debug-kernel-canary
# --- debug-kernel: end ---

# --- export-test: begin ---
# kvmio-lat export --openmetrics read by the real consumers, on the host:
# node_exporter's textfile collector, Prometheus, PCP's pmdaopenmetrics
# (selftests/export/export_test.sh installs them when missing, starts each
# on a free port of 127.0.0.1 in a temporary directory, stops them; root).
export-test: reader
	selftests/export/export_test.sh $(BUILD)/kvmio-lat

.PHONY: export-test
# --- export-test: end ---

# --- report-test: begin ---
# kvmio-lat report read by a browser, on the host: the fixtures' pages
# loaded by headless Chromium with JavaScript off and on (installed when
# missing: scripts/deps.sh chromium; root then), each histogram charted and
# each number that of show --json, no request made, a screenshot that is
# not blank (selftests/report/report_test.sh, Documentation/report.rst).
report-test: reader
	selftests/report/report_test.sh $(BUILD)/kvmio-lat

.PHONY: report-test
# --- report-test: end ---

endif
