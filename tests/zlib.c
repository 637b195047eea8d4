// SPDX-License-Identifier: GPL-2.0
/*
 * libwd-zlib with unmodified, dynamically linked zlib programs: the zlib
 * API test program (/wd/bin/zprog, tests/zlib/zprog.c) and pigz, run with
 * LD_PRELOAD=/wd/lib/libwd-zlib.so.1 and compared with the system zlib:
 * byte for byte where the shim hands the stream to zlib (short inputs, the
 * shim disabled), by round trip through the system zlib and busybox gunzip
 * where the device's output may differ. The device's counters and the
 * shim's own figures show who did the work; a device removed in the middle
 * of a stream must not corrupt anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "libwd.h"
#include "wd_test.h"

#define SHIM "/wd/lib/libwd-zlib.so.1"
#define ZPROG "/wd/bin/zprog"
#define PRE "LD_PRELOAD=" SHIM " "

static void make_text(const char *path, size_t len, unsigned int seed)
{
	static const char *const words[] = {
		"accelerator ", "queue ", "shared ", "virtual ", "memory ",
		"device ", "page ", "fault ", "ring ", "deflate\n", "the ", "a ",
	};
	FILE *f = fopen(path, "w");
	size_t n = 0;

	while (f && n < len) {
		const char *w;

		seed = seed * 1103515245 + 12345;
		w = words[(seed >> 16) % 12];
		n += fprintf(f, "%s", w);
		if (!((seed >> 8) & 63))
			n += fprintf(f, "%u ", seed);
	}
	if (f)
		fclose(f);
	if (truncate(path, len))
		perror(path);
}

static uint64_t counter(const char *name)
{
	char attr[64];
	uint64_t v = 0;

	snprintf(attr, sizeof(attr), "stats/%s", name);
	wd_dev_attr_u64("wd_soft0", attr, &v);
	return v;
}

FIXTURE(z) {
};

FIXTURE_SETUP(z)
{
	make_text("/tmp/z.text", 700000, 1);
	make_text("/tmp/z.big", 3 << 20, 2);
	ASSERT_EQ(0, wd_test_sh("head -c 100 /tmp/z.text > /tmp/z.small && : > /tmp/z.empty"));
	ASSERT_EQ(0, wd_test_sh("head -c 300000 /dev/urandom > /tmp/z.noise"));
	unlink("/tmp/z.stats");
}

FIXTURE_TEARDOWN(z)
{
	wd_test_sh("rm -f /tmp/z.* /tmp/zprog.ready /tmp/zprog.go");
}

/* The program's own checks, with the system zlib and with the shim. */
TEST_F_TIMEOUT(z, api, 120)
{
	EXPECT_EQ(0, wd_test_sh(ZPROG " api > /dev/null"));
	EXPECT_EQ(0, wd_test_sh(PRE ZPROG " api > /dev/null"));
	/* crc32 and adler32 of the shim are zlib's */
	EXPECT_EQ(0, wd_test_sh(PRE "WD_ZLIB_THRESHOLD=0 " ZPROG " api > /dev/null"));
}

/*
 * Streaming deflate through the shim in every framing and flush mode, with
 * tiny and large output buffers: the system zlib and busybox gunzip must
 * read it back; the device did the work.
 */
TEST_F_TIMEOUT(z, deflate_streaming, 900)
{
	static const char *const flushes[] = { "none", "sync", "full", "partial", "block" };
	static const int wbits[] = { 31, 15, -15 };
	uint64_t b0 = counter("bytes_read");
	size_t i, j;

	for (i = 0; i < 3; i++) {
		for (j = 0; j < 5; j++) {
			/* Z_SYNC_FLUSH needs room for its marker (zlib.h: > 6) */
			const char *oc = j ? "7" : "1";

			ASSERT_EQ(0, wd_test_sh(PRE "WD_ZLIB_STATS=/tmp/z.stats " ZPROG
						" deflate 6 %d 100000 %s %s /tmp/z.text /tmp/z.out",
						wbits[i], oc, flushes[j]));
			EXPECT_EQ(0, wd_test_sh(ZPROG " inflate %d 65536 65536 /tmp/z.out /tmp/z.back"
						" && cmp /tmp/z.back /tmp/z.text", wbits[i]));
			if (wbits[i] == 31)
				EXPECT_EQ(0, wd_test_sh("gunzip -c < /tmp/z.out | cmp - /tmp/z.text"));
			EXPECT_EQ(0, wd_test_sh(ZPROG " deflate 6 %d 300000 65536 %s /tmp/z.text /tmp/z.ref",
						wbits[i], flushes[j]));
			if (!_metadata->passed) {
				TH_LOG("wbits %d flush %s", wbits[i], flushes[j]);
				return;
			}
		}
	}
	/* Every stream went to the device: 15 of them, 700000 bytes each. */
	EXPECT_LE(15 * 700000ULL, counter("bytes_read") - b0);
	EXPECT_EQ(0, wd_test_sh("grep -q 'deflate streams 1 on the device' /tmp/z.stats"));
	EXPECT_EQ(0, wd_test_sh("! grep -q 'CPU pieces [1-9]' /tmp/z.stats"));
	if (!_metadata->passed)
		wd_test_sh("cat /tmp/z.stats");
}

/* Larger than a piece, one-shot and incompressible. */
TEST_F_TIMEOUT(z, deflate_big_and_noise, 600)
{
	ASSERT_EQ(0, wd_test_sh(PRE ZPROG " deflate 9 31 4000000 65536 none /tmp/z.big /tmp/z.out"));
	EXPECT_EQ(0, wd_test_sh("gunzip -c < /tmp/z.out | cmp - /tmp/z.big"));
	ASSERT_EQ(0, wd_test_sh(PRE ZPROG " compress2 6 /tmp/z.big /tmp/z.out"));
	EXPECT_EQ(0, wd_test_sh(ZPROG " uncompress /tmp/z.out /tmp/z.back 3145728 && cmp /tmp/z.back /tmp/z.big"));
	ASSERT_EQ(0, wd_test_sh(PRE ZPROG " deflate 6 15 50000 7 sync /tmp/z.noise /tmp/z.out"));
	EXPECT_EQ(0, wd_test_sh(ZPROG " inflate 15 65536 65536 /tmp/z.out /tmp/z.back && cmp /tmp/z.back /tmp/z.noise"));
	ASSERT_EQ(0, wd_test_sh(PRE ZPROG " compress2 1 /tmp/z.noise /tmp/z.out"));
	EXPECT_EQ(0, wd_test_sh(ZPROG " uncompress /tmp/z.out /tmp/z.back 300000 && cmp /tmp/z.back /tmp/z.noise"));
}

/* Where the shim hands the stream to zlib, the bytes are zlib's. */
TEST_F_TIMEOUT(z, fallback_is_zlib_byte_for_byte, 300)
{
	static const char *const files[] = { "small", "empty" };
	uint64_t c0;
	size_t i;

	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0, wd_test_sh(PRE ZPROG " compress2 6 /tmp/z.%s /tmp/z.out && "
					ZPROG " compress2 6 /tmp/z.%s /tmp/z.ref && cmp /tmp/z.out /tmp/z.ref",
					files[i], files[i]));
		EXPECT_EQ(0, wd_test_sh(PRE ZPROG " deflate 6 31 10 7 sync /tmp/z.%s /tmp/z.out && "
					ZPROG " deflate 6 31 10 7 sync /tmp/z.%s /tmp/z.ref && cmp /tmp/z.out /tmp/z.ref",
					files[i], files[i]));
	}
	/* A window under 32 KiB (an inflater may hold no more): zlib's. */
	EXPECT_EQ(0, wd_test_sh(PRE ZPROG " deflate 6 9 100000 7 sync /tmp/z.text /tmp/z.out && "
				ZPROG " deflate 6 9 100000 7 sync /tmp/z.text /tmp/z.ref && cmp /tmp/z.out /tmp/z.ref"));
	EXPECT_EQ(0, wd_test_sh(PRE ZPROG " deflate 6 -10 300000 65536 none /tmp/z.text /tmp/z.out && "
				ZPROG " deflate 6 -10 300000 65536 none /tmp/z.text /tmp/z.ref && cmp /tmp/z.out /tmp/z.ref"));
	/* Disabled: zlib throughout, the device untouched. */
	c0 = counter("commands_completed");
	EXPECT_EQ(0, wd_test_sh(PRE "WD_ZLIB_DISABLE=1 " ZPROG " deflate 6 31 100000 7 sync /tmp/z.text /tmp/z.out && "
				ZPROG " deflate 6 31 100000 7 sync /tmp/z.text /tmp/z.ref && cmp /tmp/z.out /tmp/z.ref"));
	EXPECT_EQ(0, wd_test_sh(PRE "WD_ZLIB_DISABLE=1 " ZPROG " inflate 31 1000000 3 /tmp/z.out /tmp/z.back && cmp /tmp/z.back /tmp/z.text"));
	EXPECT_EQ(c0, counter("commands_completed"));
}

/*
 * Inflate on the device: gzip's output, zlib and raw streams, auto-detected
 * framing, tiny output buffers, concatenated members, corrupt input.
 */
TEST_F_TIMEOUT(z, inflate_streaming, 600)
{
	uint64_t b0 = counter("bytes_written");

	ASSERT_EQ(0, wd_test_sh("gzip -c /tmp/z.text > /tmp/z.gz"));
	EXPECT_EQ(0, wd_test_sh(PRE "WD_ZLIB_STATS=/tmp/z.stats " ZPROG
				" inflate 31 1000000 3 /tmp/z.gz /tmp/z.back && cmp /tmp/z.back /tmp/z.text"));
	EXPECT_EQ(0, wd_test_sh("grep -q 'inflate streams 1 on the device' /tmp/z.stats"));
	EXPECT_LE(700000, counter("bytes_written") - b0);
	EXPECT_EQ(0, wd_test_sh(PRE ZPROG " inflate 47 65536 65536 /tmp/z.gz /tmp/z.back && cmp /tmp/z.back /tmp/z.text"));
	ASSERT_EQ(0, wd_test_sh(ZPROG " deflate 6 15 300000 65536 none /tmp/z.text /tmp/z.zl"));
	EXPECT_EQ(0, wd_test_sh(PRE ZPROG " inflate 15 1000000 1 /tmp/z.zl /tmp/z.back && cmp /tmp/z.back /tmp/z.text"));
	EXPECT_EQ(0, wd_test_sh(PRE ZPROG " inflate 47 1000000 4096 /tmp/z.zl /tmp/z.back && cmp /tmp/z.back /tmp/z.text"));
	ASSERT_EQ(0, wd_test_sh(ZPROG " deflate 6 -15 300000 65536 none /tmp/z.text /tmp/z.raw"));
	EXPECT_EQ(0, wd_test_sh(PRE ZPROG " inflate -15 1000000 7 /tmp/z.raw /tmp/z.back && cmp /tmp/z.back /tmp/z.text"));
	/* members: gzip's, the shim's own, a short one (zlib's) */
	ASSERT_EQ(0, wd_test_sh(PRE ZPROG " deflate 6 31 100000 65536 none /tmp/z.big /tmp/z.gz2"));
	ASSERT_EQ(0, wd_test_sh("gzip -c /tmp/z.small > /tmp/z.gz3"));
	ASSERT_EQ(0, wd_test_sh("cat /tmp/z.gz /tmp/z.gz2 /tmp/z.gz3 /tmp/z.gz > /tmp/z.cat && "
				"cat /tmp/z.text /tmp/z.big /tmp/z.small /tmp/z.text > /tmp/z.cattext"));
	EXPECT_EQ(0, wd_test_sh(PRE ZPROG " inflate 31 1000000 1000 /tmp/z.cat /tmp/z.back && cmp /tmp/z.back /tmp/z.cattext"));
	/* corrupt: a zlib error, never a crash or wrong output */
	ASSERT_EQ(0, wd_test_sh("cp /tmp/z.gz /tmp/z.bad && printf '\\377\\377\\377' | "
				"dd of=/tmp/z.bad bs=1 seek=20000 conv=notrunc 2>/dev/null"));
	EXPECT_EQ(3, wd_test_sh(PRE ZPROG " inflate 31 1000000 65536 /tmp/z.bad /tmp/z.back 2>/tmp/z.err"));
	EXPECT_EQ(0, wd_test_sh("grep -q 'inflate: -3' /tmp/z.err"));
	/* a wrong check value in the trailer */
	ASSERT_EQ(0, wd_test_sh("cp /tmp/z.gz /tmp/z.bad && size=$(wc -c < /tmp/z.bad) && printf 'X' | "
				"dd of=/tmp/z.bad bs=1 seek=$((size - 6)) conv=notrunc 2>/dev/null"));
	EXPECT_EQ(3, wd_test_sh(PRE ZPROG " inflate 31 1000000 65536 /tmp/z.bad /tmp/z.back 2>/tmp/z.err"));
	EXPECT_EQ(0, wd_test_sh("grep -q 'incorrect data check' /tmp/z.err"));
	if (!_metadata->passed)
		wd_test_sh("cat /tmp/z.err /tmp/z.stats");
}

/* pigz, an unmodified program, compressing through the shim. */
TEST_F_TIMEOUT(z, pigz, 600)
{
	uint64_t b0 = counter("bytes_read");

	if (access("/usr/bin/pigz", X_OK))
		SKIP(return, "no pigz in this guest (vm/deps.sh installs it)");
	ASSERT_EQ(0, wd_test_sh(PRE "WD_ZLIB_STATS=/tmp/z.stats /usr/bin/pigz -c /tmp/z.big > /tmp/z.gz"));
	EXPECT_EQ(0, wd_test_sh("gunzip -c /tmp/z.gz | cmp - /tmp/z.big"));
	EXPECT_LE(3 << 20, counter("bytes_read") - b0);
	EXPECT_EQ(0, wd_test_sh("grep -q 'deflate streams [1-9][0-9]* on the device' /tmp/z.stats"));
	/* independent blocks, one thread, best compression */
	EXPECT_EQ(0, wd_test_sh(PRE "/usr/bin/pigz -9 -i -p 1 -c /tmp/z.text | gunzip -c | cmp - /tmp/z.text"));
	/* and back (pigz inflates with inflateBack: zlib's own) */
	EXPECT_EQ(0, wd_test_sh(PRE "/usr/bin/pigz -d -c /tmp/z.gz | cmp - /tmp/z.big"));
	EXPECT_EQ(0, wd_test_sh("gzip -c /tmp/z.text > /tmp/z.gz2 && " PRE "/usr/bin/pigz -d -c /tmp/z.gz2 | cmp - /tmp/z.text"));
	/* more threads than the device has queues: the rest on the CPU */
	EXPECT_EQ(0, wd_test_sh(PRE "/usr/bin/pigz -p 8 -b 128 -c /tmp/z.big | gunzip -c | cmp - /tmp/z.big"));
	wd_test_sh("cat /tmp/z.stats");
}

/*
 * Installed in zlib's place: a directory with libz.so.1 pointing at the
 * shim, first in the library path; the shim finds the system zlib by path.
 */
TEST_F_TIMEOUT(z, in_zlibs_place, 300)
{
	uint64_t b0 = counter("bytes_read");

	ASSERT_EQ(0, wd_test_sh("mkdir -p /tmp/z.lib && ln -sf " SHIM " /tmp/z.lib/libz.so.1"));
	EXPECT_EQ(0, wd_test_sh("LD_LIBRARY_PATH=/tmp/z.lib " ZPROG " api > /dev/null"));
	EXPECT_EQ(0, wd_test_sh("LD_LIBRARY_PATH=/tmp/z.lib " ZPROG
				" deflate 6 31 100000 65536 none /tmp/z.text /tmp/z.out && "
				"gunzip -c < /tmp/z.out | cmp - /tmp/z.text"));
	EXPECT_LE(700000, counter("bytes_read") - b0);
	if (!access("/usr/bin/pigz", X_OK))
		EXPECT_EQ(0, wd_test_sh("LD_LIBRARY_PATH=/tmp/z.lib /usr/bin/pigz -c /tmp/z.text | "
					"gunzip -c | cmp - /tmp/z.text"));
	wd_test_sh("rm -rf /tmp/z.lib");
}

/*
 * The device removed while a stream is open (ZPROG_PAUSE stops the program
 * after a few calls): the stream must finish on the CPU with the right
 * output, or fail with a zlib error; never wrong bytes.
 */
static int removed_mid_stream(struct __test_metadata *_metadata,
			      const char *cmd, const char *check)
{
	pid_t pid;
	int status, i;

	unlink("/tmp/zprog.ready");
	unlink("/tmp/zprog.go");
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 3000 && access("/tmp/zprog.ready", F_OK); i++)
		usleep(10000);
	EXPECT_EQ(0, access("/tmp/zprog.ready", F_OK));
	EXPECT_EQ(0, wd_test_remove_device(0));
	EXPECT_EQ(0, wd_test_sh("touch /tmp/zprog.go"));
	waitpid(pid, &status, 0);
	EXPECT_TRUE(WIFEXITED(status));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		EXPECT_EQ(0, wd_test_sh("%s", check));
	} else {
		EXPECT_EQ(0, wd_test_sh("grep -q 'accelerator lost' /tmp/z.err"));
	}
	EXPECT_EQ(0, wd_test_sh("grep -q 'device lost 1' /tmp/z.stats"));
	TH_LOG("exit %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	wd_test_sh("cat /tmp/z.stats /tmp/z.err");
	EXPECT_EQ(0, wd_test_reload_soft(NULL));
	unlink("/tmp/z.stats");
	return 0;
}

TEST_F_TIMEOUT(z, device_removed_mid_inflate, 300)
{
	ASSERT_EQ(0, wd_test_sh("gzip -c /tmp/z.big > /tmp/z.gz"));
	removed_mid_stream(_metadata,
			   "ZPROG_PAUSE=4 WD_ZLIB_STATS=/tmp/z.stats " PRE ZPROG
			   " inflate 31 4000000 100000 /tmp/z.gz /tmp/z.back 2>/tmp/z.err",
			   "cmp /tmp/z.back /tmp/z.big");
}

TEST_F_TIMEOUT(z, device_removed_mid_deflate, 300)
{
	removed_mid_stream(_metadata,
			   "ZPROG_PAUSE=3 WD_ZLIB_STATS=/tmp/z.stats " PRE ZPROG
			   " deflate 6 31 1048576 65536 sync /tmp/z.big /tmp/z.out 2>/tmp/z.err",
			   "gunzip -c < /tmp/z.out | cmp - /tmp/z.big");
}

TEST_HARNESS_MAIN
