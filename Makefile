# WarpDrive top-level Makefile.
#
#   make test      the whole test suite in a QEMU guest on the debug kernels
#                  of both series, 6.1 then 6.12 (KERNEL=6.1 or KERNEL=6.12
#                  for one; ONLY=NAME: just the test program NAME of tests/list)
#   make run       the demo on the release kernel
#   make shell     an interactive guest (developers)
#   make bench     wdbench on the release kernel; a full run writes
#                  docs/bench/bench.json, docs/bench/*.png and README.md's
#                  benchmark tables (make bench-report); with
#                  BENCH_ARGS="--scenario mmu" (or --quick) all goes to
#                  build/bench/ and README.md is left alone
#   make bench-report  tables and charts again from the last run's JSON
#   make fuzz      only the fuzzer, long: FUZZ_OPS=N FUZZ_SEED=S (or random)
#                  FUZZ_TIMEOUT=seconds FUZZ_PROCS= FUZZ_THREADS= FUZZ_KNOWN=all
#   make selftest-runner  prove the runner catches kernel reports
#   make check     checkpatch on module/ and include/
#   make test-stock  the suite on Debian's stock 6.1 and 6.12 kernels
#                  (STOCK=6.1 for one; ONLY=NAME as for make test)
#   make deb       Debian packages; make dkms-check: dkms build against
#                  Debian's stock 6.1 and 6.12 headers
#   make user      only the user-space library, tools and tests (host)
#   make wdzip-compat  wdzip against GNU gzip on the host (libwd served by
#                  zlib: options, messages, exit status, files left)
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
LIBDIR ?= $(PREFIX)/lib
MANDIR ?= $(PREFIX)/share/man
VERSION := 0.1.0

CC ?= gcc
CFLAGS ?= -O2 -g
WFLAGS := -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration
WD_CPPFLAGS := -Iinclude/uapi -Ilib/include -D_GNU_SOURCE
# The test_hmm compatible ABI is a test interface, not installed uapi.
HMM_COMPAT_INC := -Imodule/soft
LDLIBS_USER := -lz -lpthread

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(patsubst lib/%.c,$(U)/lib/%.o,$(LIB_SRCS))
LIB_PIC_OBJS := $(patsubst lib/%.c,$(U)/lib/pic/%.o,$(LIB_SRCS))
TOOLS := $(patsubst tools/%.c,$(U)/tools/%,$(wildcard tools/*.c))
# The same tools linked against the shared library, for `make install`.
TOOLS_DYN := $(patsubst tools/%.c,$(U)/bin/%,$(wildcard tools/*.c))
LIB_SO := $(U)/lib/libwd.so.$(VERSION)
TEST_COMMON := tests/wd_test.c
TESTS := $(patsubst tests/%.c,$(U)/tests/%,$(filter-out $(TEST_COMMON),$(wildcard tests/*.c)))
HARNESS := $(SRC)/tools/testing/selftests
# The kernel's own HMM selftest, built unmodified from the unpacked source;
# tests/hmm_upstream runs it against test_hmm.ko and against WarpDrive.
HMM_TESTS := $(U)/tests/hmm-tests
# Programs only the guest has (the demo's steps), linked statically.
GUEST_PROGS := $(U)/guest/wddemo
# libwd-zlib: zlib's ABI on the device (lib/zlib/wd_zlib.c), with libwd
# inside it, hidden. The system zlib it forwards to, found by path when it
# is installed in zlib's place.
ZLIB_SO := $(U)/lib/libwd-zlib.so.1
# Not the queue sets: they use zlib's checksums, which the shim itself
# exports (forwarded to the system zlib it loads).
LIB_HIDDEN_OBJS := $(patsubst lib/%.c,$(U)/lib/hidden/%.o,$(filter-out lib/wd_qset.c,$(LIB_SRCS)))
ZLIB_REAL ?= $(firstword $(wildcard /lib/x86_64-linux-gnu/libz.so.1 /lib/aarch64-linux-gnu/libz.so.1 /usr/lib/libz.so.1) libz.so.1)
# Dynamically linked programs run in the guest against the system zlib
# (tests/zlib/: the zlib API test program).
DYN_PROGS := $(U)/dyn/zprog

# The guest kernels' series: 6.1 (default) or 6.12 (make test KERNEL=6.12).
# 6.12's kernels, modules, initramfs and logs go to $(BUILD)/6.12-debug,
# $(BUILD)/logs/6.12 and so on; 6.1 keeps $(BUILD)/debug and $(BUILD)/logs.
KERNEL ?= 6.1
export WD_KERNEL := $(KERNEL)
KP := $(if $(filter 6.1,$(KERNEL)),,$(KERNEL)-)
# The kernel's own HMM selftest of that series (its test_hmm.ko goes with it).
SRC_K := $(WD_CACHE)/linux-source-$(KERNEL)
HMM_TESTS_612 := $(U)/tests-6.12/hmm-tests

# `make test` runs every series unless KERNEL was given.
TEST_KERNELS := $(if $(filter command line environment environment override,$(origin KERNEL)),$(KERNEL),6.1 6.12)

GUEST := python3 vm/run.py --logdir $(BUILD)/logs$(if $(KP),/$(KERNEL))

.PHONY: all user lib deps test test-kernel fuzz run shell bench bench-report selftest-runner check install clean \
	guest-debug guest-release deb dkms-check test-stock wdzip-compat

all: user

deps:
	@vm/deps.sh

# The library and the tools as installed (no kernel source needed).
lib: $(U)/lib/libwd.a $(LIB_SO) $(U)/lib/pkgconfig/libwd.pc $(TOOLS_DYN) $(ZLIB_SO)

user: lib $(TOOLS) $(TESTS) $(HMM_TESTS) $(GUEST_PROGS) $(DYN_PROGS)

$(SRC)/.wd-version:
	@vm/kernel.sh unpack >/dev/null

$(U)/lib/%.o: lib/%.c lib/include/libwd.h lib/libwd_internal.h include/uapi/warpdrive/warpdrive.h
	@mkdir -p $(dir $@)
	$(CC) $(WD_CPPFLAGS) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -c -o $@ $<

$(U)/lib/pic/%.o: lib/%.c lib/include/libwd.h lib/libwd_internal.h include/uapi/warpdrive/warpdrive.h
	@mkdir -p $(dir $@)
	$(CC) $(WD_CPPFLAGS) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -fPIC -fvisibility=default -c -o $@ $<

$(U)/lib/hidden/%.o: lib/%.c lib/include/libwd.h lib/libwd_internal.h include/uapi/warpdrive/warpdrive.h
	@mkdir -p $(dir $@)
	$(CC) $(WD_CPPFLAGS) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(ZLIB_SO): lib/zlib/wd_zlib.c lib/zlib/libwd-zlib.map lib/libwd_internal.h $(LIB_HIDDEN_OBJS)
	$(CC) $(WD_CPPFLAGS) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -fPIC -fvisibility=hidden \
		-DWD_ZLIB_REAL_DEFAULT='"$(ZLIB_REAL)"' $(LDFLAGS) -shared \
		-Wl,-soname,libwd-zlib.so.1 -Wl,--version-script=lib/zlib/libwd-zlib.map \
		-o $@ lib/zlib/wd_zlib.c $(LIB_HIDDEN_OBJS) -ldl -lpthread
	ln -sf libwd-zlib.so.1 $(U)/lib/libwd-zlib.so

$(U)/dyn/%: tests/zlib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) $(LDFLAGS) -o $@ $< -lz

$(U)/lib/libwd.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(LIB_SO): $(LIB_PIC_OBJS)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libwd.so.0 -o $@ $^ $(LDLIBS_USER)
	ln -sf libwd.so.$(VERSION) $(U)/lib/libwd.so.0
	ln -sf libwd.so.0 $(U)/lib/libwd.so

$(U)/lib/pkgconfig/libwd.pc: lib/libwd.pc.in
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

$(U)/bin/%: tools/%.c $(LIB_SO)
	@mkdir -p $(dir $@)
	$(CC) $(WD_CPPFLAGS) $(CPPFLAGS) $(HMM_COMPAT_INC) $(CFLAGS) $(WFLAGS) $(LDFLAGS) -o $@ $< -L$(U)/lib -lwd $(LDLIBS_USER)

# Tools and tests run inside the guest: link them statically.
$(U)/tools/%: tools/%.c $(U)/lib/libwd.a
	@mkdir -p $(dir $@)
	$(CC) $(WD_CPPFLAGS) $(CPPFLAGS) $(HMM_COMPAT_INC) $(CFLAGS) $(WFLAGS) -static -o $@ $< $(U)/lib/libwd.a $(LDLIBS_USER)

$(U)/guest/%: vm/guest/%.c $(U)/lib/libwd.a
	@mkdir -p $(dir $@)
	$(CC) $(WD_CPPFLAGS) $(CPPFLAGS) $(CFLAGS) $(WFLAGS) -static -o $@ $< $(U)/lib/libwd.a $(LDLIBS_USER)

$(U)/tests/%: tests/%.c $(TEST_COMMON) tests/wd_test.h $(U)/lib/libwd.a | $(SRC)/.wd-version
	@mkdir -p $(dir $@)
	$(CC) $(WD_CPPFLAGS) $(CPPFLAGS) $(HMM_COMPAT_INC) -I$(HARNESS) -Itests $(CFLAGS) $(WFLAGS) -Wno-sign-compare -Wno-misleading-indentation -static -o $@ $< $(TEST_COMMON) $(U)/lib/libwd.a $(LDLIBS_USER)

$(HMM_TESTS): | $(SRC)/.wd-version
	@mkdir -p $(dir $@)
	$(CC) -Wall -I$(SRC) -O2 -static -o $@ \
		$(SRC)/tools/testing/selftests/vm/hmm-tests.c -lrt -lpthread

guest-debug guest-release: guest-%: deps user $(if $(KP),$(HMM_TESTS_612))
	vm/build.sh $* $(BUILD)

# 6.12 moved the mm selftests from selftests/vm to selftests/mm.
$(HMM_TESTS_612):
	@WD_KERNEL=6.12 vm/kernel.sh unpack >/dev/null
	@mkdir -p $(dir $@)
	$(CC) -Wall -I$(WD_CACHE)/linux-source-6.12 -O2 -static -o $@ \
		$(WD_CACHE)/linux-source-6.12/tools/testing/selftests/mm/hmm-tests.c -lrt -lpthread

# The suite on each series' debug kernel in turn; every series runs and the
# target fails if any did. The later series' kernel is built (niced, in the
# background, log in $(BUILD)/logs/guest-build.log) while the first one's
# suite runs: on a machine without cached kernels that overlaps most of a
# kernel build with a run that leaves CPU time idle.
test: deps user
	@for k in $(wordlist 2,9,$(TEST_KERNELS)); do WD_KERNEL=$$k vm/deps.sh || exit 1; done
	@$(MAKE) --no-print-directory KERNEL=$(firstword $(TEST_KERNELS)) guest-debug
	@st=0; rest="$(wordlist 2,9,$(TEST_KERNELS))"; bg=; mkdir -p $(BUILD)/logs; \
	if [ -n "$$rest" ]; then \
		( for k in $$rest; do nice -n 19 $(MAKE) --no-print-directory KERNEL=$$k guest-debug || exit 1; done ) \
			> $(BUILD)/logs/guest-build.log 2>&1 & bg=$$!; \
	fi; \
	echo "== suite on the $(firstword $(TEST_KERNELS)) debug kernel"; \
	sum=; if $(MAKE) --no-print-directory KERNEL=$(firstword $(TEST_KERNELS)) test-kernel; \
	then sum="$(firstword $(TEST_KERNELS)) passed"; else st=1; sum="$(firstword $(TEST_KERNELS)) FAILED"; fi; \
	if [ -n "$$bg" ] && ! wait $$bg; then \
		echo "make test: building the $$rest guest failed:"; tail -n 30 $(BUILD)/logs/guest-build.log; exit 1; \
	fi; \
	for k in $$rest; do \
		echo "== suite on the $$k debug kernel"; \
		if $(MAKE) --no-print-directory KERNEL=$$k test-kernel; \
		then sum="$$sum, $$k passed"; else st=1; sum="$$sum, $$k FAILED"; fi; \
	done; echo "make test: $$sum"; exit $$st

# One series (KERNEL) only.
test-kernel: guest-debug
	$(GUEST) --kernel $(BUILD)/$(KP)debug/bzImage --initrd $(BUILD)/$(KP)debug/initramfs.cpio.gz --mode test \
		$(if $(ONLY),--only $(ONLY))

# The fuzzer alone on the debug kernel, as long as asked (README "Fuzzing").
FUZZ_OPS ?= 20000
FUZZ_SEED ?= random
FUZZ_TIMEOUT ?= 3600
fuzz: guest-debug
	$(GUEST) --kernel $(BUILD)/$(KP)debug/bzImage --initrd $(BUILD)/$(KP)debug/initramfs.cpio.gz --mode test \
		--only fuzz --timeout $$(( $(FUZZ_TIMEOUT) + 300 )) \
		wd.fuzz_ops=$(FUZZ_OPS) wd.fuzz_seed=$(FUZZ_SEED) wd.step_timeout=$(FUZZ_TIMEOUT) \
		$(if $(FUZZ_PROCS),wd.fuzz_procs=$(FUZZ_PROCS)) \
		$(if $(FUZZ_THREADS),wd.fuzz_threads=$(FUZZ_THREADS)) \
		$(if $(FUZZ_KNOWN),wd.fuzz_known=$(FUZZ_KNOWN)) \
		$(if $(FUZZ_VERBOSE),wd.fuzz_verbose=1)

# Debian's own kernels (images and headers downloaded and unpacked into the
# kernel cache, never installed): modules built against the stock headers,
# the suite run on the stock image. Every series runs; the target fails if
# any did.
STOCK ?= 6.1 6.12
test-stock: deps user
	@vm/deps.sh stock
	@st=0; for s in $(STOCK); do \
		echo "== Debian stock kernel $$s"; \
		if vm/build.sh stock-$$s $(BUILD); then \
			python3 vm/run.py --logdir $(BUILD)/logs/stock-$$s \
				--kernel $(BUILD)/stock-$$s/bzImage \
				--initrd $(BUILD)/stock-$$s/initramfs.cpio.gz --mode test \
				$(if $(ONLY),--only $(ONLY)) || st=1; \
		else st=1; fi; \
	done; exit $$st

selftest-runner: guest-debug
	$(GUEST) --kernel $(BUILD)/$(KP)debug/bzImage --initrd $(BUILD)/$(KP)debug/initramfs.cpio.gz --mode selftest

run: guest-release
	$(GUEST) --kernel $(BUILD)/$(KP)release/bzImage --initrd $(BUILD)/$(KP)release/initramfs.cpio.gz --mode run

# A full `make bench` (no BENCH_ARGS, the default 6.1 kernel) is the one
# the README reports: its JSON and charts go to docs/bench/ and its tables
# into README.md. Any other run (BENCH_ARGS, KERNEL=6.12) writes to
# $(BUILD)/bench/ (or $(BUILD)/6.12-bench/) only. The tables and charts are made
# even when a scenario failed (the JSON says the run is incomplete, and the
# README is then left alone); the exit status is the run's.
BENCH_DIR ?= $(if $(strip $(BENCH_ARGS))$(KP),$(BUILD)/$(KP)bench,docs/bench)
BENCH_REPORT = python3 tools/bench-report.py $(BENCH_DIR)/bench.json --out $(BENCH_DIR) \
	$(if $(filter docs/bench,$(BENCH_DIR)),--readme README.md)
# (No $(MAKE) in the recipe: `make -n bench` must not boot the guest.)
bench: guest-release
	@st=0; $(GUEST) --kernel $(BUILD)/$(KP)release/bzImage --initrd $(BUILD)/$(KP)release/initramfs.cpio.gz --mode bench \
		--bench-args="$(BENCH_ARGS)" --timeout 4200 --bench-json $(BENCH_DIR)/bench.json || st=$$?; \
	if [ -f $(BENCH_DIR)/bench.json ]; then $(BENCH_REPORT) || st=1; fi; \
	exit $$st

bench-report:
	$(BENCH_REPORT)

shell: guest-release
	$(GUEST) --kernel $(BUILD)/$(KP)release/bzImage --initrd $(BUILD)/$(KP)release/initramfs.cpio.gz --mode shell

# wdzip's gzip front end on the host, each case against GNU gzip; the
# device's DEFLATE/INFLATE is tested in the guest (tests/tools.c).
wdzip-compat: tools/wdzip.c tests/wdzip-host/libwd-stub.c tests/wdzip-host/no-tmpfile.c
	mkdir -p $(BUILD)/host
	$(CC) $(WD_CPPFLAGS) $(CFLAGS) $(WFLAGS) -o $(BUILD)/host/wdzip tools/wdzip.c \
		tests/wdzip-host/libwd-stub.c -lz
	$(CC) $(CFLAGS) $(WFLAGS) -D_GNU_SOURCE -shared -fPIC -o $(BUILD)/host/no-tmpfile.so \
		tests/wdzip-host/no-tmpfile.c -ldl
	tests/wdzip-host/compare.sh $(BUILD)/host/wdzip man/wdzip.1 $(BUILD)/host/no-tmpfile.so

# Warnings are printed; only checkpatch errors fail (the compat header's
# LINUX_VERSION_CODE tests are warnings checkpatch gives any such header).
check: $(SRC)/.wd-version
	@perl $(SRC)/scripts/checkpatch.pl --no-tree --terse -f \
		$$(find module include -name '*.[ch]' | sort) > $(BUILD)/checkpatch.log 2>&1 || true
	@cat $(BUILD)/checkpatch.log
	@! grep -q ': ERROR:' $(BUILD)/checkpatch.log

install: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include/warpdrive $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(U)/lib/libwd.a $(DESTDIR)$(LIBDIR)/
	install -m 644 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libwd.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libwd.so.0
	ln -sf libwd.so.0 $(DESTDIR)$(LIBDIR)/libwd.so
	install -m 644 $(U)/lib/pkgconfig/libwd.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 644 lib/include/libwd.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/uapi/warpdrive/warpdrive.h $(DESTDIR)$(PREFIX)/include/warpdrive/
	install -m 755 $(TOOLS_DYN) $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(ZLIB_SO) $(DESTDIR)$(LIBDIR)/
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 man/*.7 $(DESTDIR)$(MANDIR)/man7/

# Debian packages (warpdrive-dkms, libwd0, libwd-dev, warpdrive-tools) in
# $(BUILD)/deb, built by dpkg-buildpackage from a copy of the tracked files.
deb:
	@vm/deps.sh deb
	vm/deb.sh $(BUILD)/deb $(VERSION)

# Build the DKMS package's modules against Debian's stock kernel headers
# (6.1 and 6.12, unpacked, not installed) in a private DKMS tree.
dkms-check: deb
	vm/dkms-check.sh $(BUILD)/deb $(VERSION)

clean:
	rm -rf $(U) $(BUILD)/debug $(BUILD)/release $(BUILD)/6.12-* $(BUILD)/stock-* $(BUILD)/logs

# The cached kernels are shared by every clone on this machine and stay;
# distclean says where they are.
distclean:
	rm -rf $(BUILD)
	@echo "kept the guest kernel cache $(WD_CACHE); drop it with: rm -rf $(WD_CACHE)"
