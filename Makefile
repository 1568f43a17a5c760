# SPDX-License-Identifier: GPL-2.0
#
# kvmio_lat - where does a QEMU-KVM guest's block I/O latency go?
#
#   make                 the module (for KDIR) and the kvmio-lat reader
#   make KDIR=<dir>      the module for another kernel's headers
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
ENGINE_HDR := $(wildcard include/kvmio_lat/*.h)
READER_SRC := $(wildcard userspace/*.c)
READER_HDR := $(wildcard userspace/*.h)

WFLAGS := -Wall -Wextra -Werror -Wno-sign-compare
CFLAGS_USER := -std=gnu11 -O2 -g $(WFLAGS) -D_GNU_SOURCE -Iinclude
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all
TEST_CFLAGS := -std=gnu11 -O1 -g $(WFLAGS) -Wno-unused-parameter -D_GNU_SOURCE \
	-Iinclude -I$(KSELFTEST) -Iselftests/unit $(SANITIZE)

UNIT_TESTS := $(patsubst selftests/unit/%.c,$(BUILD)/unit/%,$(wildcard selftests/unit/*_test.c))

.PHONY: all module reader vmm inner-io selftests unit check demo bench install \
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

unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "# $$t"; $$t; done

checkpatch: $(KSRC)/.done
	scripts/checkpatch.sh

check:
	scripts/check.sh

demo:
	scripts/demo.sh

install: module reader
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	install -D -m 0755 $(BUILD)/kvmio-lat $(DESTDIR)$(PREFIX)/bin/kvmio-lat
	install -D -m 0644 userspace/kvmio-lat.8 $(DESTDIR)$(PREFIX)/share/man/man8/kvmio-lat.8

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null || true
	rm -rf $(BUILD)

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
READER_TESTS := $(BUILD)/unit/reader_test $(BUILD)/unit/replay_test
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

$(FUZZ_DIR)/snapshot_fuzz: selftests/unit/snapshot_fuzz.c $(READER_LIB_SRC) $(READER_HDR) $(ENGINE_SRC) $(ENGINE_HDR)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) -std=gnu11 -O1 -g -Wall -D_GNU_SOURCE -Iinclude -Iuserspace \
		$(READER_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ $< $(READER_LIB_SRC) $(ENGINE_SRC) -lm $(READER_LIBS)

# Runs from a fresh copy of the seed corpus; any crash, leak or sanitizer
# report fails the target (the reproducer is left in $(FUZZ_DIR)/).
fuzz: $(FUZZ_DIR)/snapshot_fuzz
	@rm -rf $(FUZZ_DIR)/corpus && mkdir -p $(FUZZ_DIR)/corpus
	cp selftests/unit/fixtures/*.hist selftests/unit/fixtures/*.stats $(FUZZ_DIR)/corpus/
	$(FUZZ_DIR)/snapshot_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
		-timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
		-dict=selftests/unit/fixtures/snapshot.dict \
		-artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus

.PHONY: reader-test fuzz reader-deps replay-test bench-replay
# --- reader: end ---

# --- matrix: begin ---
# Every supported Debian kernel (5.10, 6.1, 6.1 PREEMPT_RT, 6.12, 7.x):
# built with its suite's compiler in a cached chroot, DKMS round trip and
# `make install` there, probe prototypes checked against the kernel's BTF,
# booted in the lab for the selftests and real QEMU.  See
# scripts/matrix/matrix.sh and Documentation/compat.rst.
#   make matrix MATRIX_ARGS="--only bullseye,sid"
MATRIX_ARGS ?=

matrix:
	scripts/matrix/matrix.sh $(MATRIX_ARGS)

.PHONY: matrix
# --- matrix: end ---

endif
