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
	$(CC) $(CFLAGS_USER) -Iuserspace -o $@ $(READER_SRC) $(ENGINE_SRC) -lm $(READER_LIBS)

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

$(BUILD)/unit/reader_test: $(READER_SRC) $(READER_HDR) $(READER_FIXTURES)

reader-test: $(BUILD)/unit/reader_test
	$(BUILD)/unit/reader_test

$(FUZZ_DIR)/snapshot_fuzz: selftests/unit/snapshot_fuzz.c $(READER_LIB_SRC) $(READER_HDR) $(ENGINE_SRC) $(ENGINE_HDR)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) -std=gnu11 -O1 -g -Wall -D_GNU_SOURCE -Iinclude -Iuserspace \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ $< $(READER_LIB_SRC) $(ENGINE_SRC) -lm

# Runs from a fresh copy of the seed corpus; any crash, leak or sanitizer
# report fails the target (the reproducer is left in $(FUZZ_DIR)/).
fuzz: $(FUZZ_DIR)/snapshot_fuzz
	@rm -rf $(FUZZ_DIR)/corpus && mkdir -p $(FUZZ_DIR)/corpus
	cp selftests/unit/fixtures/*.hist selftests/unit/fixtures/*.stats $(FUZZ_DIR)/corpus/
	$(FUZZ_DIR)/snapshot_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
		-timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
		-dict=selftests/unit/fixtures/snapshot.dict \
		-artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus

.PHONY: reader-test fuzz
# --- reader: end ---

endif
