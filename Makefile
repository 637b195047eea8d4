# WarpDrive top-level Makefile.
#
#   make test      the whole test suite in a QEMU guest on the debug kernel
#                  (ONLY=NAME: just the test program NAME of tests/list)
#   make run       the demo on the release kernel
#   make shell     an interactive guest (developers)
#   make bench     wdbench on the release kernel (BENCH_ARGS="--scenario mmu")
#   make fuzz      only the fuzzer, long: FUZZ_OPS=N FUZZ_SEED=S (or random)
#                  FUZZ_TIMEOUT=seconds FUZZ_PROCS= FUZZ_THREADS= FUZZ_KNOWN=all
#   make selftest-runner  prove the runner catches kernel reports
#   make check     checkpatch on module/ and include/
#   make user      only the user-space library, tools and tests (host)
#
# Everything built goes to $(BUILD).

BUILD ?= build
# Guest kernels and the unpacked kernel source are cached outside the clone
# (vm/kernel.sh); `make distclean` says how to drop that cache.
WD_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/warpdrive
export WD_CACHE
SRC := $(WD_CACHE)/linux-source-6.1
U := $(BUILD)/user
PREFIX ?= /usr/local
VERSION := 0.1.0

CC ?= gcc
CFLAGS ?= -O2 -g
WFLAGS := -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration
CPPFLAGS := -Iinclude/uapi -Ilib/include -D_GNU_SOURCE
# The test_hmm compatible ABI is a test interface, not installed uapi.
HMM_COMPAT_INC := -Imodule/soft
LDLIBS_USER := -lz -lpthread

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(patsubst lib/%.c,$(U)/lib/%.o,$(LIB_SRCS))
LIB_PIC_OBJS := $(patsubst lib/%.c,$(U)/lib/pic/%.o,$(LIB_SRCS))
TOOLS := $(patsubst tools/%.c,$(U)/tools/%,$(wildcard tools/*.c))
TEST_COMMON := tests/wd_test.c
TESTS := $(patsubst tests/%.c,$(U)/tests/%,$(filter-out $(TEST_COMMON),$(wildcard tests/*.c)))
HARNESS := $(SRC)/tools/testing/selftests
# The kernel's own HMM selftest, built unmodified from the unpacked source;
# tests/hmm_upstream runs it against test_hmm.ko and against WarpDrive.
HMM_TESTS := $(U)/tests/hmm-tests

GUEST := python3 vm/run.py --logdir $(BUILD)/logs

.PHONY: all user deps test fuzz run shell bench selftest-runner check install clean \
	guest-debug guest-release

all: user

deps:
	@vm/deps.sh

user: $(U)/lib/libwd.a $(U)/lib/libwd.so.0 $(U)/lib/pkgconfig/libwd.pc $(TOOLS) $(TESTS) \
	$(HMM_TESTS)

$(SRC)/.wd-version:
	@vm/kernel.sh unpack >/dev/null

$(U)/lib/%.o: lib/%.c lib/include/libwd.h lib/libwd_internal.h include/uapi/warpdrive/warpdrive.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -c -o $@ $<

$(U)/lib/pic/%.o: lib/%.c lib/include/libwd.h lib/libwd_internal.h include/uapi/warpdrive/warpdrive.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -fPIC -fvisibility=default -c -o $@ $<

$(U)/lib/libwd.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(U)/lib/libwd.so.0: $(LIB_PIC_OBJS)
	$(CC) -shared -Wl,-soname,libwd.so.0 -o $@ $^ $(LDLIBS_USER)
	ln -sf libwd.so.0 $(U)/lib/libwd.so

$(U)/lib/pkgconfig/libwd.pc: lib/libwd.pc.in
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

# Tools and tests run inside the guest: link them statically.
$(U)/tools/%: tools/%.c $(U)/lib/libwd.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(HMM_COMPAT_INC) $(CFLAGS) $(WFLAGS) -static -o $@ $< $(U)/lib/libwd.a $(LDLIBS_USER)

$(U)/tests/%: tests/%.c $(TEST_COMMON) tests/wd_test.h $(U)/lib/libwd.a | $(SRC)/.wd-version
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(HMM_COMPAT_INC) -I$(HARNESS) -Itests $(CFLAGS) $(WFLAGS) -Wno-sign-compare -Wno-misleading-indentation -static -o $@ $< $(TEST_COMMON) $(U)/lib/libwd.a $(LDLIBS_USER)

$(HMM_TESTS): | $(SRC)/.wd-version
	@mkdir -p $(dir $@)
	$(CC) -Wall -I$(SRC) -O2 -static -o $@ \
		$(SRC)/tools/testing/selftests/vm/hmm-tests.c -lrt -lpthread

guest-debug guest-release: guest-%: deps user
	vm/build.sh $* $(BUILD)

test: guest-debug
	$(GUEST) --kernel $(BUILD)/debug/bzImage --initrd $(BUILD)/debug/initramfs.cpio.gz --mode test \
		$(if $(ONLY),--only $(ONLY))

# The fuzzer alone on the debug kernel, as long as asked (README "Fuzzing").
FUZZ_OPS ?= 20000
FUZZ_SEED ?= random
FUZZ_TIMEOUT ?= 3600
fuzz: guest-debug
	$(GUEST) --kernel $(BUILD)/debug/bzImage --initrd $(BUILD)/debug/initramfs.cpio.gz --mode test \
		--only fuzz --timeout $$(( $(FUZZ_TIMEOUT) + 300 )) \
		wd.fuzz_ops=$(FUZZ_OPS) wd.fuzz_seed=$(FUZZ_SEED) wd.step_timeout=$(FUZZ_TIMEOUT) \
		$(if $(FUZZ_PROCS),wd.fuzz_procs=$(FUZZ_PROCS)) \
		$(if $(FUZZ_THREADS),wd.fuzz_threads=$(FUZZ_THREADS)) \
		$(if $(FUZZ_KNOWN),wd.fuzz_known=$(FUZZ_KNOWN)) \
		$(if $(FUZZ_VERBOSE),wd.fuzz_verbose=1)

selftest-runner: guest-debug
	$(GUEST) --kernel $(BUILD)/debug/bzImage --initrd $(BUILD)/debug/initramfs.cpio.gz --mode selftest

run: guest-release
	$(GUEST) --kernel $(BUILD)/release/bzImage --initrd $(BUILD)/release/initramfs.cpio.gz --mode run

bench: guest-release
	$(GUEST) --kernel $(BUILD)/release/bzImage --initrd $(BUILD)/release/initramfs.cpio.gz --mode bench --bench-args "$(BENCH_ARGS)"

shell: guest-release
	$(GUEST) --kernel $(BUILD)/release/bzImage --initrd $(BUILD)/release/initramfs.cpio.gz --mode shell

check: $(SRC)/.wd-version
	perl $(SRC)/scripts/checkpatch.pl --no-tree --terse -f \
		$$(find module include -name '*.[ch]' | sort)

install: user
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/warpdrive $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(U)/lib/libwd.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(U)/lib/libwd.so.0 $(DESTDIR)$(PREFIX)/lib/
	ln -sf libwd.so.0 $(DESTDIR)$(PREFIX)/lib/libwd.so
	install -m 644 $(U)/lib/pkgconfig/libwd.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 644 lib/include/libwd.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/uapi/warpdrive/warpdrive.h $(DESTDIR)$(PREFIX)/include/warpdrive/
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf $(U) $(BUILD)/debug $(BUILD)/release $(BUILD)/logs

# The cached kernels are shared by every clone on this machine and stay;
# distclean says where they are.
distclean:
	rm -rf $(BUILD)
	@echo "kept the guest kernel cache $(WD_CACHE); drop it with: rm -rf $(WD_CACHE)"
