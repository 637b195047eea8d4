// SPDX-License-Identifier: GPL-2.0
/*
 * The tools and the library's blocking helpers: wdzip against the
 * system's gzip/gunzip (busybox in the guest), a 64 MiB round trip checked
 * with CRC32C against a software reference, corrupt input, a gzip member
 * larger than one command may be, and wdbench.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "kselftest_harness.h"
#include "libwd.h"
#include "wd_test.h"

static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Write @len bytes of compressible but not trivial data to @path. */
static void make_file(const char *path, size_t len, unsigned int seed)
{
	FILE *f = fopen(path, "w");
	size_t i;

	for (i = 0; f && i < len; i++) {
		seed = seed * 1103515245 + 12345;
		fputc("abcdefgh \n"[(seed >> 16) % 10] + ((i >> 12) & 1), f);
	}
	if (f)
		fclose(f);
}

static int file_crc(const char *path, uint32_t *crc)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	*crc = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		*crc = wd_test_crc32c(*crc, buf, n);
	close(fd);
	return n < 0 ? -errno : 0;
}

TEST(helpers_round_trip)
{
	size_t len = 3 << 20, clen, dlen, used;
	char *a = malloc(len), *b = malloc(len), *z = malloc(len + 65536);
	struct wd_queue *q;
	struct wd_dev *dev;
	uint32_t crc;
	size_t i;

	for (i = 0; i < len; i++)
		a[i] = "warpdrive"[i % 9] ^ (char)(i >> 14);
	ASSERT_EQ(0, wd_open_alg(WD_ALG_COPY | WD_ALG_DEFLATE, &dev));
	ASSERT_EQ(0, wd_queue_get(dev, NULL, &q));

	ASSERT_EQ(0, wd_copy(q, b, a, len));
	EXPECT_EQ(0, memcmp(a, b, len));
	ASSERT_EQ(0, wd_fill(q, b, 0x3c, len));
	EXPECT_EQ(0x3c, b[len - 1]);
	ASSERT_EQ(0, wd_crc32c(q, a, len, 0, &crc));
	EXPECT_EQ(wd_test_crc32c(0, a, len), crc);
	ASSERT_EQ(0, wd_compress(q, WD_FMT_GZIP, 6, a, len, z, len + 65536, &clen));
	ASSERT_EQ(0, wd_decompress(q, WD_FMT_GZIP, z, clen, b, len, &dlen, &used));
	EXPECT_EQ(len, dlen);
	EXPECT_EQ(clen, used);
	EXPECT_EQ(0, memcmp(a, b, len));

	/* Errors come back as negative errno values. */
	EXPECT_EQ(-ENOSPC, wd_compress(q, WD_FMT_GZIP, 6, a, len, z, 10, &clen));
	EXPECT_EQ(-EBADMSG, wd_decompress(q, WD_FMT_GZIP, a, 1000, b, len, &dlen, &used));
	EXPECT_EQ(-EFAULT, wd_copy(q, (void *)8, a, 100));
	EXPECT_EQ(-EINVAL, wd_copy(q, a + 10, a, 100));
	EXPECT_EQ(-EINVAL, wd_compress(q, WD_FMT_GZIP, 10, a, len, z, len, &clen));
	EXPECT_NE(NULL, wd_strerror(-EBADMSG));

	wd_queue_put(q);
	wd_close(dev);
	free(a);
	free(b);
	free(z);
}

TEST(wdzip_output_is_gzip)
{
	uint32_t c1, c2;

	make_file("/tmp/t1", 3 << 20, 1);
	ASSERT_EQ(0, file_crc("/tmp/t1", &c1));
	ASSERT_EQ(0, sh("cp /tmp/t1 /tmp/t1.orig"));
	ASSERT_EQ(0, sh("/wd/bin/wdzip -6 /tmp/t1"));
	EXPECT_FALSE(exists("/tmp/t1"));
	EXPECT_TRUE(exists("/tmp/t1.gz"));
	ASSERT_EQ(0, sh("gunzip -c /tmp/t1.gz > /tmp/t1.out"));
	ASSERT_EQ(0, file_crc("/tmp/t1.out", &c2));
	EXPECT_EQ(c1, c2);
	/* And back through the accelerator. */
	ASSERT_EQ(0, sh("/wd/bin/wdzip -d /tmp/t1.gz"));
	ASSERT_EQ(0, file_crc("/tmp/t1", &c2));
	EXPECT_EQ(c1, c2);
	sh("rm -f /tmp/t1*");
}

TEST(wdzip_reads_gzip_output)
{
	uint32_t c1, c2;

	make_file("/tmp/t2", 2 << 20, 2);
	ASSERT_EQ(0, file_crc("/tmp/t2", &c1));
	ASSERT_EQ(0, sh("gzip -9 -c /tmp/t2 > /tmp/t2.gz"));
	ASSERT_EQ(0, sh("/wd/bin/wdzip -d -c /tmp/t2.gz > /tmp/t2.out"));
	ASSERT_EQ(0, file_crc("/tmp/t2.out", &c2));
	EXPECT_EQ(c1, c2);
	/* Keep, levels, stdin to stdout. */
	ASSERT_EQ(0, sh("rm /tmp/t2.gz && /wd/bin/wdzip -1 -k /tmp/t2 && test -f /tmp/t2 && test -f /tmp/t2.gz"));
	ASSERT_EQ(0, sh("/wd/bin/wdzip -c < /tmp/t2 | gunzip -c | cmp - /tmp/t2"));
	/* Refuses to overwrite without -f. */
	EXPECT_NE(0, sh("/wd/bin/wdzip -k /tmp/t2 2>/dev/null"));
	EXPECT_EQ(0, sh("/wd/bin/wdzip -k -f /tmp/t2"));
	sh("rm -f /tmp/t2*");
}

TEST(wdzip_corrupt_input_leaves_nothing)
{
	make_file("/tmp/t3", 1 << 20, 3);
	ASSERT_EQ(0, sh("/wd/bin/wdzip /tmp/t3"));
	/* Flip a byte in the middle of the deflate data. */
	ASSERT_EQ(0, sh("printf '\\377' | dd of=/tmp/t3.gz bs=1 seek=5000 conv=notrunc 2>/dev/null"));
	EXPECT_NE(0, sh("/wd/bin/wdzip -d /tmp/t3.gz 2>/tmp/t3.err"));
	EXPECT_FALSE(exists("/tmp/t3"));
	EXPECT_TRUE(exists("/tmp/t3.gz"));
	EXPECT_EQ(0, sh("grep -q 'wdzip: /tmp/t3.gz' /tmp/t3.err"));
	/* Truncated and not gzip at all. */
	ASSERT_EQ(0, sh("head -c 3000 /tmp/t3.gz > /tmp/t4.gz"));
	EXPECT_NE(0, sh("/wd/bin/wdzip -d /tmp/t4.gz 2>/dev/null"));
	EXPECT_FALSE(exists("/tmp/t4"));
	ASSERT_EQ(0, sh("echo hello > /tmp/t5.gz"));
	EXPECT_NE(0, sh("/wd/bin/wdzip -d /tmp/t5.gz 2>/dev/null"));
	EXPECT_FALSE(exists("/tmp/t5"));
	EXPECT_EQ(0, sh("ls -a /tmp | grep -v -q '^\\.t[345]'"));
	sh("rm -f /tmp/t3* /tmp/t4* /tmp/t5*");
}

FIXTURE(big) {
};

FIXTURE_SETUP(big)
{
}

FIXTURE_TEARDOWN(big)
{
	sh("rm -f /tmp/big*");
}

TEST_F_TIMEOUT(big, wdzip_64mib_round_trip, 400)
{
	uint32_t c1, c2;

	make_file("/tmp/big", 64 << 20, 4);
	ASSERT_EQ(0, file_crc("/tmp/big", &c1));
	ASSERT_EQ(0, sh("/wd/bin/wdzip -k -1 /tmp/big"));
	ASSERT_EQ(0, sh("gunzip -c /tmp/big.gz | cmp - /tmp/big"));
	ASSERT_EQ(0, sh("rm /tmp/big && /wd/bin/wdzip -d /tmp/big.gz"));
	ASSERT_EQ(0, file_crc("/tmp/big", &c2));
	EXPECT_EQ(c1, c2);
	/* The accelerator's own CRC32C agrees with the software one. */
	{
		char *buf = malloc(64 << 20);
		struct wd_queue *q;
		struct wd_dev *dev;
		uint32_t hw;
		int fd = open("/tmp/big", O_RDONLY);

		ASSERT_NE(NULL, buf);
		ASSERT_EQ(64 << 20, read(fd, buf, 64 << 20));
		close(fd);
		ASSERT_EQ(0, wd_open(NULL, &dev));
		ASSERT_EQ(0, wd_queue_get(dev, NULL, &q));
		ASSERT_EQ(0, wd_crc32c(q, buf, 64 << 20, 0, &hw));
		EXPECT_EQ(c1, hw);
		wd_close(dev);
		free(buf);
	}
}

/* @len bytes of text-like data, as one gzip member with @hdr, onto @f. */
static int write_member(FILE *f, const unsigned char *data, size_t len,
			gz_header *hdr)
{
	size_t cap = compressBound(len) + 1024;
	unsigned char *z = malloc(cap);
	z_stream zs = { 0 };
	int ok;

	if (!z || deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	if (hdr)
		deflateSetHeader(&zs, hdr);
	zs.next_in = (Bytef *)data;
	zs.avail_in = len;
	zs.next_out = z;
	zs.avail_out = cap;
	ok = deflate(&zs, Z_FINISH) == Z_STREAM_END &&
	     fwrite(z, 1, zs.total_out, f) == zs.total_out;
	deflateEnd(&zs);
	free(z);
	return ok ? 0 : -1;
}

/*
 * The per-command limit does not limit wdzip: a gzip member that expands
 * to more than one command may name decompresses, streamed over several
 * commands. The limit is lowered to 1 MiB for the test (wd_soft
 * max_cmd_len), as a 1 GiB member takes minutes under emulation; the
 * member is 3 MiB + 4 KiB, followed by a second member with every
 * optional header field, then zero padding. (A fixture only for the
 * longer time limit.)
 */
TEST_F_TIMEOUT(big, wdzip_member_over_command_limit, 300)
{
	size_t len = (3UL << 20) + 4096, small = 100000, i;
	unsigned char *data = malloc(len);
	unsigned int seed = 9;
	char limit[32];
	gz_header h = { 0 };
	unsigned char extra[300];
	FILE *f;

	ASSERT_NE(NULL, data);
	for (i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		data[i] = "abcdefgh \n"[(seed >> 16) % 10] + ((i >> 13) & 1);
	}
	f = fopen("/tmp/lim.orig", "w");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(len, fwrite(data, 1, len, f));
	ASSERT_EQ(small, fwrite(data, 1, small, f));
	fclose(f);
	f = fopen("/tmp/lim.gz", "w");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, write_member(f, data, len, NULL));
	memset(extra, 'x', sizeof(extra));
	h.extra = extra;
	h.extra_len = sizeof(extra);
	h.name = (Bytef *)"second";
	h.comment = (Bytef *)"with every optional field";
	h.hcrc = 1;
	ASSERT_EQ(0, write_member(f, data, small, &h));
	memset(extra, 0, sizeof(extra));
	ASSERT_EQ(sizeof(extra), fwrite(extra, 1, sizeof(extra), f));
	fclose(f);

	ASSERT_EQ(0, wd_test_reload_soft("max_cmd_len=1048576"));
	ASSERT_EQ(0, wd_test_read_file("/sys/module/wd_soft/parameters/max_cmd_len",
				       limit, sizeof(limit)));
	EXPECT_STREQ("1048576", limit);

	EXPECT_EQ(0, sh("/wd/bin/wdzip -d -k /tmp/lim.gz"));
	EXPECT_EQ(0, sh("cmp /tmp/lim /tmp/lim.orig"));
	EXPECT_EQ(0, sh("gunzip -c /tmp/lim.gz | cmp - /tmp/lim.orig"));

	/* Cut short anywhere, or one bit wrong: an error, and no output. */
	EXPECT_EQ(0, sh("head -c 1000000 /tmp/lim.gz > /tmp/cut.gz"));
	EXPECT_NE(0, sh("/wd/bin/wdzip -d /tmp/cut.gz 2>/dev/null"));
	EXPECT_FALSE(exists("/tmp/cut"));
	EXPECT_EQ(0, sh("head -c 15 /tmp/lim.gz > /tmp/cut.gz"));
	EXPECT_NE(0, sh("/wd/bin/wdzip -d /tmp/cut.gz 2>/dev/null"));
	EXPECT_FALSE(exists("/tmp/cut"));
	EXPECT_EQ(0, sh("cp /tmp/lim.gz /tmp/bad.gz && printf 'Z' | "
			"dd of=/tmp/bad.gz bs=1 seek=500000 conv=notrunc 2>/dev/null"));
	EXPECT_NE(0, sh("/wd/bin/wdzip -d /tmp/bad.gz 2>/dev/null"));
	EXPECT_FALSE(exists("/tmp/bad"));

	EXPECT_EQ(0, wd_test_reload_soft(NULL));
	sh("rm -f /tmp/lim /tmp/lim.orig /tmp/lim.gz /tmp/cut.gz /tmp/bad.gz");
	free(data);
}

TEST(wdbench_quick)
{
	EXPECT_EQ(0, sh("/wd/bin/wdbench --quick --scenario copy > /tmp/bench.out 2>&1"));
	EXPECT_EQ(0, sh("grep -qi memcpy /tmp/bench.out"));
	if (!_metadata->passed)
		sh("cat /tmp/bench.out");
}

/* A process keeping the device busy with copies until it is killed. */
static pid_t start_copy_load(const char *devname)
{
	pid_t pid = fork();

	if (pid == 0) {
		size_t len = 256 << 10;
		char *a = malloc(len), *b = malloc(len);
		struct wd_queue *q;
		struct wd_dev *dev;

		if (!a || !b || wd_open(devname, &dev) ||
		    wd_queue_get(dev, NULL, &q))
			_exit(1);
		memset(a, 'x', len);
		for (;;)
			if (wd_copy(q, b, a, len))
				_exit(1);
	}
	return pid;
}

/* The number after "KEY": in @obj, or -1 (null or missing). */
static double json_num(const char *obj, const char *key)
{
	char pat[96];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(obj, pat);
	if (!p || !strncmp(p + strlen(pat), "null", 4))
		return -1;
	return strtod(p + strlen(pat), NULL);
}

static uint64_t stat_of(const char *dev, const char *name)
{
	char attr[64];
	uint64_t v = 0;

	snprintf(attr, sizeof(attr), "stats/%s", name);
	wd_dev_attr_u64(dev, attr, &v);
	return v;
}

/*
 * wdctl top -n 3 --json under a load: three objects, each with non-zero
 * rates, and rate x interval equal to the counter's growth between
 * consecutive samples, all within what sysfs says before and after.
 */
FIXTURE(top) {
};

FIXTURE_SETUP(top)
{
}

FIXTURE_TEARDOWN(top)
{
}

TEST_F_TIMEOUT(top, wdctl_top_under_load, 120)
{
	uint64_t before, after, bin, bout, prev = 0;
	struct wd_dev_desc d;
	char line[16384], pat[128];
	int n = 0, status;
	FILE *f;
	pid_t load;

	ASSERT_LE(1, wd_list_devices(&d, 1));
	load = start_copy_load(d.name);
	ASSERT_LT(0, load);
	usleep(300000);
	before = stat_of(d.name, "commands_completed");
	bin = stat_of(d.name, "bytes_read");
	bout = stat_of(d.name, "bytes_written");
	EXPECT_EQ(0, sh("/wd/bin/wdctl top -n 3 -d 0.5 --json > /tmp/top.json"));
	after = stat_of(d.name, "commands_completed");
	EXPECT_EQ(0, sh("/wd/bin/wdctl top -n 2 -d 0.3 > /tmp/top.txt"));
	EXPECT_EQ(0, waitpid(load, &status, WNOHANG));	/* still loading */
	kill(load, SIGKILL);
	waitpid(load, &status, 0);
	EXPECT_LT(before, after);
	EXPECT_LT(bin, stat_of(d.name, "bytes_read"));
	EXPECT_LT(bout, stat_of(d.name, "bytes_written"));

	f = fopen("/tmp/top.json", "r");
	ASSERT_NE(NULL, f);
	snprintf(pat, sizeof(pat), "{\"name\": \"%s\"", d.name);
	while (fgets(line, sizeof(line), f)) {
		char *obj = strstr(line, pat), *next;
		double dt = json_num(line, "interval_s"), rate, now;

		n++;
		EXPECT_EQ(n, (int)json_num(line, "sample"));
		ASSERT_NE(NULL, obj);
		next = strstr(obj + 1, "{\"name\": ");
		if (next)
			*next = 0;
		EXPECT_LT(0.4, dt);
		rate = json_num(obj, "commands_per_s");
		now = json_num(obj, "commands_completed");
		EXPECT_LT(0, rate);
		EXPECT_LT(0, json_num(obj, "bytes_in_per_s"));
		EXPECT_LT(0, json_num(obj, "bytes_out_per_s"));
		/*
		 * Copies read and write the same bytes (the two counters
		 * are read one after the other: a command may fall between).
		 */
		EXPECT_GE(0.2 * json_num(obj, "bytes_in_per_s"),
			  fabs(json_num(obj, "bytes_in_per_s") -
			       json_num(obj, "bytes_out_per_s")));
		EXPECT_LE(1, json_num(obj, "queues_bound"));
		EXPECT_LE(0, json_num(obj, "faults_per_s"));
		EXPECT_LE(0, json_num(obj, "invalidations_per_s"));
		EXPECT_LE(before, (uint64_t)now);
		EXPECT_GE(after, (uint64_t)now);
		if (n > 1) {
			double grew = now - prev;

			EXPECT_GE(0.5, rate * dt - grew);
			EXPECT_LE(-0.5, rate * dt - grew);
		}
		prev = now;
		/* the load's row, from debugfs */
		snprintf(pat + 100, 28, "\"pid\": %d,", load);
		EXPECT_NE(NULL, strstr(obj, pat + 100));
		snprintf(pat, sizeof(pat), "{\"name\": \"%s\"", d.name);
	}
	fclose(f);
	EXPECT_EQ(3, n);
	EXPECT_EQ(0, sh("test $(grep -c '^DEVICE' /tmp/top.txt) = 2"));
	EXPECT_EQ(0, sh("grep -q '^%s  *[0-9]' /tmp/top.txt && grep -q '  pid %d ' /tmp/top.txt",
			d.name, load));
	if (!_metadata->passed)
		sh("cat /tmp/top.json /tmp/top.txt");
	/* Bad arguments: usage error, nothing printed on stdout. */
	EXPECT_EQ(2, sh("/wd/bin/wdctl top -n 0 2>/dev/null"));
	EXPECT_EQ(2, sh("/wd/bin/wdctl top -d 0 2>/dev/null"));
	EXPECT_EQ(2, sh("/wd/bin/wdctl top -n 3x 2>/dev/null"));
	EXPECT_EQ(2, sh("/wd/bin/wdctl top extra 2>/dev/null"));
	sh("rm -f /tmp/top.json /tmp/top.txt");
}

TEST_HARNESS_MAIN
