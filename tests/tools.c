// SPDX-License-Identifier: GPL-2.0
/*
 * The tools and the library's blocking helpers and queue sets: wdzip
 * against the system's gzip/gunzip (busybox in the guest), a 64 MiB round
 * trip checked with CRC32C against a software reference, corrupt input, a
 * gzip member larger than one command may be, and wdbench.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "kselftest_harness.h"
#include "libwd.h"
#include "wd_test.h"

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

struct qs_run {
	struct wd_qset *set;
	const char *src;
	size_t len;
	char *dst;
	size_t cap;
	size_t out;
	int ret;
};

static void *qs_thread(void *arg)
{
	struct qs_run *r = arg;

	r->ret = wd_qset_compress(r->set, WD_FMT_GZIP, 1, r->src, r->len,
				  r->dst, r->cap, &r->out);
	return NULL;
}

/*
 * wd_qset_compress(): one stream of each format at two levels from a set of
 * one queue and from a set of a queue per CPU, byte for byte the same and
 * inflated by the system zlib to the input, for inputs of several pieces
 * (text with an incompressible stretch), exactly one piece, a piece and a
 * byte, and nothing; then every refusal, a destination too small (nothing
 * written past its end), a queue with the caller's command in flight, an
 * unreadable source, and two threads sharing a set.
 */
TEST(qset_compress_streams)
{
	static const struct { int fmt; int wbits; } fmts[] = {
		{ WD_FMT_RAW, -15 }, { WD_FMT_ZLIB, 15 }, { WD_FMT_GZIP, 31 },
	};
	const size_t lens[] = { (11 << 19) + 12345, WD_QSET_PIECE,
				WD_QSET_PIECE + 1, 0 };
	size_t big = lens[0], cap = wd_qset_compress_bound(big), got, out[2];
	char *src = malloc(big), *z[2], *back = malloc(big + 1), *hole;
	struct wd_qset *one, *all, *sets[2];
	struct qs_run runs[2];
	pthread_t thr[2];
	struct wd_cqe cqe;
	struct wd_cmd nop = { .opcode = WD_OP_NOP };
	unsigned int f, l, i, s;

	z[0] = malloc(cap + 4096);
	z[1] = malloc(cap + 4096);
	ASSERT_TRUE(src && back && z[0] && z[1]);
	for (i = 0; i < big; i++)
		src[i] = "accelerator queue page "[i % 23] ^ (char)(i >> 15);
	/* An incompressible MiB in the middle. */
	for (i = 0; i < (1 << 20); i++)
		src[(2 << 20) + i] = (char)(rand() >> 5);

	ASSERT_EQ(-EINVAL, wd_qset_open(NULL, WD_QSET_MAX + 1, &one));
	EXPECT_EQ(NULL, one);
	ASSERT_EQ(0, wd_qset_open(NULL, 1, &one));
	ASSERT_EQ(0, wd_qset_open(NULL, 0, &all));
	EXPECT_EQ(1, wd_qset_size(one));
	EXPECT_GE(wd_qset_size(all), 1);
	EXPECT_LE(wd_qset_size(all), sysconf(_SC_NPROCESSORS_ONLN));
	TH_LOG("%u queues for %ld CPUs", wd_qset_size(all),
	       sysconf(_SC_NPROCESSORS_ONLN));
	EXPECT_EQ(NULL, wd_qset_queue(one, 1));
	sets[0] = one;
	sets[1] = all;

	for (i = 0; i < 4; i++)
		for (f = 0; f < 3; f++)
			for (l = 1; l <= 6; l += 5) {
				size_t len = lens[i];

				for (s = 0; s < 2; s++)
					ASSERT_EQ(0, wd_qset_compress(sets[s], fmts[f].fmt, l, src, len,
								      z[s], cap, &out[s]))
						TH_LOG("len %zu format %d level %u set %u", len, fmts[f].fmt, l, s);
				ASSERT_EQ(out[0], out[1]);
				EXPECT_EQ(0, memcmp(z[0], z[1], out[0]));
				EXPECT_LE(out[0], wd_qset_compress_bound(len));
				ASSERT_EQ(0, wd_test_inflate(z[1], out[1], back, big + 1, fmts[f].wbits, &got))
					TH_LOG("len %zu format %d level %u", len, fmts[f].fmt, l);
				ASSERT_EQ(len, got);
				EXPECT_EQ(0, memcmp(src, back, len));
			}
	/* A gzip stream of pieces is one member: wd_decompress() takes it. */
	ASSERT_EQ(0, wd_qset_compress(all, WD_FMT_GZIP, 6, src, big, z[0], cap, &out[0]));
	ASSERT_EQ(0, wd_decompress(wd_qset_queue(all, 0), WD_FMT_GZIP, z[0], out[0],
				   back, big, &got, NULL));
	EXPECT_EQ(big, got);
	EXPECT_EQ(0, memcmp(src, back, big));
	EXPECT_LT(out[0], big / 2);

	/* Refusals. */
	EXPECT_EQ(-EINVAL, wd_qset_compress(all, 3, 6, src, big, z[0], cap, &got));
	EXPECT_EQ(-EINVAL, wd_qset_compress(all, -1, 6, src, big, z[0], cap, &got));
	EXPECT_EQ(-EINVAL, wd_qset_compress(all, WD_FMT_RAW, 10, src, big, z[0], cap, &got));
	EXPECT_EQ(-EINVAL, wd_qset_compress(all, WD_FMT_RAW, -1, src, big, z[0], cap, &got));
	EXPECT_EQ(-EINVAL, wd_qset_compress(all, WD_FMT_RAW, 6, src, big, z[0], cap, NULL));
	EXPECT_EQ(-EINVAL, wd_qset_compress(NULL, WD_FMT_RAW, 6, src, big, z[0], cap, &got));
	/* Too small, by one byte and by far: nothing written past the end. */
	for (i = 0; i < 2; i++) {
		size_t small = i ? out[0] / 3 : out[0] - 1;

		memset(z[1], 0x5a, cap + 4096);
		EXPECT_EQ(-ENOSPC, wd_qset_compress(all, WD_FMT_GZIP, 6, src, big, z[1], small,
						    &got));
		EXPECT_TRUE(wd_test_all(z[1] + small, cap + 4096 - small, 0x5a));
	}
	EXPECT_EQ(-ENOSPC, wd_qset_compress(all, WD_FMT_GZIP, 6, src, big, z[1], 5, &got));
	/* A command of the caller in flight on a queue of the set. */
	ASSERT_EQ(0, wd_submit(wd_qset_queue(all, 0), &nop));
	EXPECT_EQ(-EBUSY, wd_qset_compress(all, WD_FMT_RAW, 1, src, big, z[1], cap, &got));
	ASSERT_EQ(0, wd_wait(wd_qset_queue(all, 0), 5000));
	ASSERT_EQ(1, wd_reap(wd_qset_queue(all, 0), &cqe, 1));
	/* An unreadable source in the third piece. */
	hole = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, hole);
	memcpy(hole, src, 4 << 20);
	ASSERT_EQ(0, mprotect(hole + (2 << 20) + 4096, 4096, PROT_NONE));
	EXPECT_EQ(-EFAULT, wd_qset_compress(all, WD_FMT_ZLIB, 1, hole, 4 << 20, z[1], cap, &got));
	munmap(hole, 4 << 20);
	/* The set still works after every failure. */
	ASSERT_EQ(0, wd_qset_compress(all, WD_FMT_GZIP, 6, src, big, z[1], cap, &got));
	EXPECT_EQ(out[0], got);
	EXPECT_EQ(0, memcmp(z[0], z[1], got));

	/* Two threads on one set: one call at a time, both right. */
	for (i = 0; i < 2; i++) {
		runs[i] = (struct qs_run){ .set = all, .src = src, .len = big - i * 4096,
					   .dst = z[i], .cap = cap };
		ASSERT_EQ(0, pthread_create(&thr[i], NULL, qs_thread, &runs[i]));
	}
	for (i = 0; i < 2; i++) {
		pthread_join(thr[i], NULL);
		ASSERT_EQ(0, runs[i].ret);
		ASSERT_EQ(0, wd_test_inflate(z[i], runs[i].out, back, big + 1, 31, &got));
		EXPECT_EQ(runs[i].len, got);
		EXPECT_EQ(0, memcmp(src, back, got));
	}

	wd_qset_close(one);
	wd_qset_close(all);
	wd_qset_close(NULL);
	free(src);
	free(back);
	free(z[0]);
	free(z[1]);
}

TEST(wdzip_output_is_gzip)
{
	uint32_t c1, c2;

	make_file("/tmp/t1", 3 << 20, 1);
	ASSERT_EQ(0, file_crc("/tmp/t1", &c1));
	ASSERT_EQ(0, wd_test_sh("cp /tmp/t1 /tmp/t1.orig"));
	ASSERT_EQ(0, wd_test_sh("/wd/bin/wdzip -6 /tmp/t1"));
	EXPECT_FALSE(exists("/tmp/t1"));
	EXPECT_TRUE(exists("/tmp/t1.gz"));
	ASSERT_EQ(0, wd_test_sh("gunzip -c /tmp/t1.gz > /tmp/t1.out"));
	ASSERT_EQ(0, file_crc("/tmp/t1.out", &c2));
	EXPECT_EQ(c1, c2);
	/* And back through the accelerator. */
	ASSERT_EQ(0, wd_test_sh("/wd/bin/wdzip -d /tmp/t1.gz"));
	ASSERT_EQ(0, file_crc("/tmp/t1", &c2));
	EXPECT_EQ(c1, c2);
	wd_test_sh("rm -f /tmp/t1*");
}

TEST(wdzip_reads_gzip_output)
{
	uint32_t c1, c2;

	make_file("/tmp/t2", 2 << 20, 2);
	ASSERT_EQ(0, file_crc("/tmp/t2", &c1));
	ASSERT_EQ(0, wd_test_sh("gzip -9 -c /tmp/t2 > /tmp/t2.gz"));
	ASSERT_EQ(0, wd_test_sh("/wd/bin/wdzip -d -c /tmp/t2.gz > /tmp/t2.out"));
	ASSERT_EQ(0, file_crc("/tmp/t2.out", &c2));
	EXPECT_EQ(c1, c2);
	/* Keep, levels, stdin to stdout. */
	ASSERT_EQ(0, wd_test_sh("rm /tmp/t2.gz && /wd/bin/wdzip -1 -k /tmp/t2 && test -f /tmp/t2 && test -f /tmp/t2.gz"));
	ASSERT_EQ(0, wd_test_sh("/wd/bin/wdzip -c < /tmp/t2 | gunzip -c | cmp - /tmp/t2"));
	/* Refuses to overwrite without -f. */
	EXPECT_NE(0, wd_test_sh("/wd/bin/wdzip -k /tmp/t2 2>/dev/null"));
	EXPECT_EQ(0, wd_test_sh("/wd/bin/wdzip -k -f /tmp/t2"));
	wd_test_sh("rm -f /tmp/t2*");
}

TEST(wdzip_corrupt_input_leaves_nothing)
{
	make_file("/tmp/t3", 1 << 20, 3);
	ASSERT_EQ(0, wd_test_sh("/wd/bin/wdzip /tmp/t3"));
	/* Flip a byte in the middle of the deflate data. */
	ASSERT_EQ(0, wd_test_sh("printf '\\377' | dd of=/tmp/t3.gz bs=1 seek=5000 conv=notrunc 2>/dev/null"));
	EXPECT_NE(0, wd_test_sh("/wd/bin/wdzip -d /tmp/t3.gz 2>/tmp/t3.err"));
	EXPECT_FALSE(exists("/tmp/t3"));
	EXPECT_TRUE(exists("/tmp/t3.gz"));
	EXPECT_EQ(0, wd_test_sh("grep -q 'wdzip: /tmp/t3.gz' /tmp/t3.err"));
	/* Truncated and not gzip at all. */
	ASSERT_EQ(0, wd_test_sh("head -c 3000 /tmp/t3.gz > /tmp/t4.gz"));
	EXPECT_NE(0, wd_test_sh("/wd/bin/wdzip -d /tmp/t4.gz 2>/dev/null"));
	EXPECT_FALSE(exists("/tmp/t4"));
	ASSERT_EQ(0, wd_test_sh("echo hello > /tmp/t5.gz"));
	EXPECT_NE(0, wd_test_sh("/wd/bin/wdzip -d /tmp/t5.gz 2>/dev/null"));
	EXPECT_FALSE(exists("/tmp/t5"));
	EXPECT_EQ(0, wd_test_sh("ls -a /tmp | grep -v -q '^\\.t[345]'"));
	wd_test_sh("rm -f /tmp/t3* /tmp/t4* /tmp/t5*");
}

FIXTURE(big) {
};

FIXTURE_SETUP(big)
{
}

FIXTURE_TEARDOWN(big)
{
	wd_test_sh("rm -f /tmp/big*");
}

TEST_F_TIMEOUT(big, wdzip_64mib_round_trip, 400)
{
	uint32_t c1, c2;

	make_file("/tmp/big", 64 << 20, 4);
	ASSERT_EQ(0, file_crc("/tmp/big", &c1));
	ASSERT_EQ(0, wd_test_sh("/wd/bin/wdzip -k -1 /tmp/big"));
	ASSERT_EQ(0, wd_test_sh("gunzip -c /tmp/big.gz | cmp - /tmp/big"));
	ASSERT_EQ(0, wd_test_sh("rm /tmp/big && /wd/bin/wdzip -d /tmp/big.gz"));
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
/*
 * -p: blocks compressed on several queues give the very bytes one queue
 * gives, whatever the sizes around the block boundaries, and however many
 * queues the device has free; bad counts are refused as pigz refuses them.
 */
TEST_F_TIMEOUT(big, wdzip_processes_same_output, 400)
{
	static const long sizes[] = {
		0, 1, 512 << 10, (512 << 10) + 1, 2 << 20, 6 << 20,
	};
	static const char *const bad[] = { "0", "-1", "abc", "257", "2x", "''" };
	struct wd_dev *hold[3] = { NULL };
	struct wd_queue *hq;
	char err[256];
	size_t i;
	int j;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		make_file("/tmp/bigp", sizes[i], 7 + i);
		ASSERT_EQ(0, wd_test_sh("/wd/bin/wdzip -n -b 512k -p 1 -c /tmp/bigp > /tmp/bigp1.gz"));
		ASSERT_EQ(0, wd_test_sh("/wd/bin/wdzip -n -b 512k -p 4 -c /tmp/bigp > /tmp/bigp4.gz"));
		ASSERT_EQ(0, wd_test_sh("/wd/bin/wdzip -n -b 512k -p 64 -c < /tmp/bigp > /tmp/bigp64.gz"));
		EXPECT_EQ(0, wd_test_sh("cmp /tmp/bigp1.gz /tmp/bigp4.gz")) TH_LOG("%ld bytes", sizes[i]);
		EXPECT_EQ(0, wd_test_sh("cmp /tmp/bigp1.gz /tmp/bigp64.gz")) TH_LOG("%ld bytes", sizes[i]);
		EXPECT_EQ(0, wd_test_sh("gunzip -c /tmp/bigp4.gz | cmp - /tmp/bigp"));
		EXPECT_EQ(0, wd_test_sh("/wd/bin/wdzip -d -p 4 -c /tmp/bigp4.gz | cmp - /tmp/bigp"));
	}
	/* Several threads really ran (-vv says how many queues it got). */
	EXPECT_EQ(0, wd_test_sh("/wd/bin/wdzip -vv -b 512k -p 3 -c /tmp/bigp 2>&1 >/dev/null | "
			"grep -q '^wdzip: 3 queues$'"));
	/* Names and times: the first member only, in either way. */
	ASSERT_EQ(0, wd_test_sh("cp /tmp/bigp /tmp/bigq && /wd/bin/wdzip -k -b 1M -p 1 /tmp/bigp && "
			"/wd/bin/wdzip -k -b 1M -p 2 -S .p2 /tmp/bigp && cmp /tmp/bigp.gz /tmp/bigp.p2"));
	/* With 3 of the 4 queues taken, -p 4 runs on the one left: same bytes. */
	for (j = 0; j < 3; j++) {
		ASSERT_EQ(0, wd_open(WD_TEST_DEV, &hold[j]));
		ASSERT_EQ(0, wd_queue_get(hold[j], NULL, &hq));
	}
	EXPECT_EQ(0, wd_test_sh("/wd/bin/wdzip -vv -n -b 512k -p 4 -c /tmp/bigp 2>/tmp/bigp.err > /tmp/bigp4.gz"));
	EXPECT_EQ(0, wd_test_sh("grep -q '^wdzip: 1 queue$' /tmp/bigp.err"));
	EXPECT_EQ(0, wd_test_sh("cmp /tmp/bigp1.gz /tmp/bigp4.gz"));
	for (j = 0; j < 3; j++)
		wd_close(hold[j]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FILE *f;
		size_t n;

		EXPECT_EQ(1, wd_test_sh("/wd/bin/wdzip -p %s /tmp/bigq 2>/tmp/bigp.err", bad[i]))
			TH_LOG("-p %s", bad[i]);
		f = fopen("/tmp/bigp.err", "r");
		n = f ? fread(err, 1, sizeof(err) - 1, f) : 0;
		err[n] = 0;
		if (f)
			fclose(f);
		EXPECT_NE(NULL, strstr(err, "wdzip: invalid number of processes: "))
			TH_LOG("-p %s: %s", bad[i], err);
		EXPECT_FALSE(exists("/tmp/bigq.gz"));
		EXPECT_TRUE(exists("/tmp/bigq"));
	}
}

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

	EXPECT_EQ(0, wd_test_sh("/wd/bin/wdzip -d -k /tmp/lim.gz"));
	EXPECT_EQ(0, wd_test_sh("cmp /tmp/lim /tmp/lim.orig"));
	EXPECT_EQ(0, wd_test_sh("gunzip -c /tmp/lim.gz | cmp - /tmp/lim.orig"));

	/* Cut short anywhere, or one bit wrong: an error, and no output. */
	EXPECT_EQ(0, wd_test_sh("head -c 1000000 /tmp/lim.gz > /tmp/cut.gz"));
	EXPECT_NE(0, wd_test_sh("/wd/bin/wdzip -d /tmp/cut.gz 2>/dev/null"));
	EXPECT_FALSE(exists("/tmp/cut"));
	EXPECT_EQ(0, wd_test_sh("head -c 15 /tmp/lim.gz > /tmp/cut.gz"));
	EXPECT_NE(0, wd_test_sh("/wd/bin/wdzip -d /tmp/cut.gz 2>/dev/null"));
	EXPECT_FALSE(exists("/tmp/cut"));
	EXPECT_EQ(0, wd_test_sh("cp /tmp/lim.gz /tmp/bad.gz && printf 'Z' | "
				"dd of=/tmp/bad.gz bs=1 seek=500000 conv=notrunc 2>/dev/null"));
	EXPECT_NE(0, wd_test_sh("/wd/bin/wdzip -d /tmp/bad.gz 2>/dev/null"));
	EXPECT_FALSE(exists("/tmp/bad"));

	EXPECT_EQ(0, wd_test_reload_soft(NULL));
	wd_test_sh("rm -f /tmp/lim /tmp/lim.orig /tmp/lim.gz /tmp/cut.gz /tmp/bad.gz");
	free(data);
}

/*
 * wdzip as a drop-in for gzip. The expected messages and exit status are
 * GNU gzip 1.12's, recorded on the host (the guest has only busybox):
 * 0 success, 1 error, 2 warning. Each test works in a fresh /tmp/gzc
 * holding a (text, 3893 bytes), h ("hello\n", 6 bytes), h.gz (h as one
 * member with no name and no time, 26 bytes from zlib at level 6, as
 * `gzip -n` writes it) and a directory d with d/1 and d/e/2.
 */
#define GZC "/tmp/gzc"

/* Run @cmd in GZC; its stderr into @err (if not NULL); its exit status. */
static int gzc(char *err, size_t len, const char *fmt, ...)
{
	char cmd[900], full[1024];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd " GZC " && %s 2>" GZC ".err", cmd);
	ret = wd_test_sh("%s", full);
	if (err) {
		FILE *f = fopen(GZC ".err", "r");
		size_t n = f ? fread(err, 1, len - 1, f) : 0;

		err[n] = 0;
		if (f)
			fclose(f);
	}
	return ret;
}

/* @path's bytes into @buf (at most @len); how many, or -1. */
static ssize_t slurp(const char *path, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len);
	close(fd);
	return n;
}

/* @path's text into @buf (NUL-terminated, at most @len - 1 bytes): some. */
static void slurp_text(struct __test_metadata *_metadata, const char *path,
		       char *buf, size_t len)
{
	ssize_t n = slurp(path, buf, len - 1);

	ASSERT_LT(0, n);
	buf[n] = 0;
}

static int spew(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "w");
	int ok = f && fwrite(buf, 1, len, f) == len;

	if (f)
		ok &= fclose(f) == 0;
	return ok ? 0 : -1;
}

/* "hello\n" as one gzip member, no name, MTIME 0: 26 bytes. */
static size_t hello_gz(unsigned char *out)
{
	static const char data[] = "hello\n";
	z_stream zs = { 0 };
	size_t n;

	deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	zs.next_in = (Bytef *)data;
	zs.avail_in = 6;
	zs.next_out = out;
	zs.avail_out = 64;
	deflate(&zs, Z_FINISH);
	n = zs.total_out;
	deflateEnd(&zs);
	out[9] = 3;		/* OS Unix, as gzip */
	return n;
}

FIXTURE(gzc) {
	unsigned char hgz[64];
	size_t hgz_len;
	char err[4096];
};

FIXTURE_SETUP(gzc)
{
	wd_test_sh("rm -rf " GZC " " GZC ".err");
	ASSERT_EQ(0, wd_test_sh("mkdir -p " GZC "/d/e && cd " GZC " && seq 1000 > a && "
				"echo hello > h && echo x > d/1 && echo y > d/e/2 && "
				"touch -d '2020-01-02 03:04:05' a h"));
	self->hgz_len = hello_gz(self->hgz);
	ASSERT_EQ(26, self->hgz_len);
	ASSERT_EQ(0, spew(GZC "/h.gz", self->hgz, self->hgz_len));
}

FIXTURE_TEARDOWN(gzc)
{
	wd_test_sh("rm -rf " GZC " " GZC ".err");
}

TEST_F(gzc, wdzip_options_as_gzip)
{
	/* Every gzip option wdzip has is in --help. */
	static const char *const opts[] = {
		"-c, --stdout", "-d, --decompress", "-f, --force", "-h, --help",
		"-k, --keep", "-l, --list", "-L, --license", "-n, --no-name",
		"-N, --name", "-q, --quiet", "-r, --recursive", "-S, --suffix=SUF",
		"-t, --test", "-v, --verbose", "-V, --version", "-1, --fast",
		"-9, --best",
	};
	char help[4096];
	unsigned int i;

	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip --help > help.txt"));
	slurp_text(_metadata, GZC "/help.txt", help, sizeof(help));
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		EXPECT_NE(NULL, strstr(help, opts[i]));
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -V | grep -q '^wdzip (WarpDrive) [0-9]'"));
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip --version | grep -q '^wdzip (WarpDrive) [0-9]'"));
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -L | grep -q 'GPL'"));

	/* Unknown options: gzip's two lines and status 1, nothing touched. */
	EXPECT_EQ(1, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -y a"));
	EXPECT_STREQ("wdzip: invalid option -- 'y'\n"
		     "Try `wdzip --help' for more information.\n", self->err);
	EXPECT_EQ(1, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip --bogus a"));
	EXPECT_STREQ("wdzip: unrecognized option '--bogus'\n"
		     "Try `wdzip --help' for more information.\n", self->err);
	EXPECT_EQ(1, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -S"));
	EXPECT_STREQ("wdzip: option requires an argument -- 'S'\n"
		     "Try `wdzip --help' for more information.\n", self->err);
	EXPECT_EQ(1, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -S '' a"));
	EXPECT_STREQ("wdzip: invalid suffix ''\n", self->err);
	EXPECT_TRUE(exists(GZC "/a"));
	EXPECT_FALSE(exists(GZC "/a.gz"));
}

/* Refusals: gzip's warnings (status 2) or errors (1), inputs untouched. */
TEST_F(gzc, wdzip_refusals_as_gzip)
{
	/* The output exists. */
	ASSERT_EQ(0, gzc(NULL, 0, "echo old > a.gz"));
	EXPECT_EQ(2, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip a"));
	EXPECT_STREQ("wdzip: a.gz already exists;\tnot overwritten\n", self->err);
	EXPECT_EQ(0, gzc(NULL, 0, "test -f a && grep -q old a.gz"));
	/* -q: silent, still 2. */
	EXPECT_EQ(2, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -q a"));
	EXPECT_STREQ("", self->err);
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -f a && test ! -e a && gunzip -t a.gz"));

	/* Two hard links: refused without -f, with -k too (gzip 1.12). */
	ASSERT_EQ(0, gzc(NULL, 0, "ln h hl"));
	EXPECT_EQ(2, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -k h"));
	EXPECT_STREQ("wdzip: h has 1 other link -- file ignored\n", self->err);
	ASSERT_EQ(0, gzc(NULL, 0, "ln h hl2"));
	EXPECT_EQ(2, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip h"));
	EXPECT_STREQ("wdzip: h has 2 other links -- file ignored\n", self->err);
	EXPECT_TRUE(exists(GZC "/h"));
	ASSERT_EQ(0, gzc(NULL, 0, "rm h.gz"));
	EXPECT_FALSE(exists(GZC "/h.gz"));
	/* -c reads it; -f compresses it and removes that name only. */
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -c h | gunzip -c | cmp - hl"));
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -f h"));
	EXPECT_FALSE(exists(GZC "/h"));
	EXPECT_EQ(0, gzc(NULL, 0, "gunzip -c h.gz | cmp - hl"));

	/* Directories, suffixes, symbolic links, missing files. */
	EXPECT_EQ(2, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip d"));
	EXPECT_STREQ("wdzip: d is a directory -- ignored\n", self->err);
	EXPECT_EQ(0, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip h.gz"));
	EXPECT_STREQ("wdzip: h.gz already has .gz suffix -- unchanged\n", self->err);
	EXPECT_EQ(2, gzc(self->err, sizeof(self->err), "echo z > u && /wd/bin/wdzip -d u"));
	EXPECT_STREQ("wdzip: u: unknown suffix -- ignored\n", self->err);
	ASSERT_EQ(0, gzc(NULL, 0, "ln -s hl sl"));
	EXPECT_EQ(1, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip sl"));
	EXPECT_STREQ("wdzip: sl: Too many levels of symbolic links\n", self->err);
	EXPECT_EQ(1, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip nonexist"));
	EXPECT_STREQ("wdzip: nonexist: No such file or directory\n", self->err);
	EXPECT_EQ(2, gzc(self->err, sizeof(self->err),
			 "/wd/bin/wdzip -c /dev/null > /dev/null; /wd/bin/wdzip /dev/null"));
	EXPECT_STREQ("wdzip: /dev/null is not a directory or a regular file - ignored\n",
		     self->err);
	/* An error outweighs a warning in the status. */
	EXPECT_EQ(1, gzc(NULL, 0, "/wd/bin/wdzip d nonexist"));
	EXPECT_NE(0, gzc(NULL, 0, "ls -a | grep -q 'wdzip\\|\\.gz\\.'"));
}

/* Bad headers and data: gzip's message for each, status 1, no output. */
TEST_F(gzc, wdzip_corrupt_messages_as_gzip)
{
	static const struct {
		const char *name;
		int at;			/* byte changed, -1: cut to @val bytes */
		int val;
		const char *msg;
	} cases[] = {
		{ "m.gz", 2, 7, "wdzip: m.gz: unknown method 7 -- not supported\n" },
		{ "e.gz", 3, 0x20, "wdzip: e.gz is encrypted -- not supported\n" },
		{ "r.gz", 3, 0x48, "wdzip: r.gz has flags 0x48 -- not supported\n" },
		{ "t.gz", -1, 5, "wdzip: t.gz: unexpected end of file\n" },
		{ "e0.gz", -1, 0, "wdzip: e0.gz: unexpected end of file\n" },
		{ "c.gz", 18, 0, "wdzip: c.gz: invalid compressed data--crc error\n" },
		{ "l.gz", 22, 9, "wdzip: l.gz: invalid compressed data--length error\n" },
		{ "b.gz", 10, 0xff, "wdzip: b.gz: invalid compressed data--format violated\n" },
		{ "n.gz", 0, 'x', "wdzip: n.gz: not in gzip format\n" },
	};
	unsigned char buf[64], hc[64];
	unsigned int i, crc;
	char out[128];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[64];
		size_t len = self->hgz_len;

		memcpy(buf, self->hgz, len);
		if (cases[i].at < 0)
			len = cases[i].val;
		else
			buf[cases[i].at] = cases[i].val;
		snprintf(path, sizeof(path), GZC "/%s", cases[i].name);
		ASSERT_EQ(0, spew(path, buf, len));
		EXPECT_EQ(1, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -d %s",
				 cases[i].name));
		EXPECT_STREQ(cases[i].msg, self->err);
		EXPECT_TRUE(exists(path));
		snprintf(out, sizeof(out), "%.*s", (int)strlen(path) - 3, path);
		EXPECT_FALSE(exists(out)) TH_LOG("%s", out);
		/* -t says the same. */
		EXPECT_EQ(1, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -t %s",
				 cases[i].name));
		EXPECT_STREQ(cases[i].msg, self->err);
	}

	/* FHCRC: a header with a name and its checksum, then one bit off. */
	memcpy(hc, self->hgz, 10);
	hc[3] = 2 | 8;
	memcpy(hc + 10, "stored", 7);
	crc = crc32(0, hc, 17) & 0xffff;
	hc[17] = crc;
	hc[18] = crc >> 8;
	memcpy(hc + 19, self->hgz + 10, self->hgz_len - 10);
	ASSERT_EQ(0, spew(GZC "/hok.gz", hc, self->hgz_len + 9));
	hc[17] ^= 1;
	ASSERT_EQ(0, spew(GZC "/hc.gz", hc, self->hgz_len + 9));
	EXPECT_EQ(1, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -d hc.gz"));
	snprintf(out, sizeof(out),
		 "wdzip: hc.gz: header checksum 0x%04x != computed checksum 0x%04x\n",
		 crc ^ 1, crc);
	EXPECT_STREQ(out, self->err);
	EXPECT_FALSE(exists(GZC "/hc"));
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -d hok.gz && cmp hok h"));
	EXPECT_NE(0, gzc(NULL, 0, "ls -a | grep -q 'wdzip\\|\\.gz\\.'"));
}

/* Trailing garbage: the output is written, then a warning (status 2). */
TEST_F(gzc, wdzip_trailing_garbage_warns)
{
	ASSERT_EQ(0, gzc(NULL, 0, "cp h.gz g.gz && echo junk >> g.gz && cp g.gz q.gz && "
			 "cp g.gz c.gz && cp h.gz z.gz && head -c 10 /dev/zero >> z.gz"));
	EXPECT_EQ(2, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -d g.gz"));
	EXPECT_STREQ("wdzip: g.gz: decompression OK, trailing garbage ignored\n",
		     self->err);
	EXPECT_EQ(0, gzc(NULL, 0, "cmp g h && test ! -e g.gz"));
	EXPECT_EQ(2, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -dq q.gz"));
	EXPECT_STREQ("", self->err);
	EXPECT_EQ(2, gzc(NULL, 0, "/wd/bin/wdzip -dc c.gz > c.out"));
	EXPECT_EQ(0, gzc(NULL, 0, "cmp c.out h"));
	EXPECT_EQ(2, gzc(NULL, 0, "/wd/bin/wdzip -t c.gz"));
	/* Zeros after the last member are padding: no warning. */
	EXPECT_EQ(0, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -d z.gz"));
	EXPECT_STREQ("", self->err);
	EXPECT_EQ(0, gzc(NULL, 0, "cmp z h"));
	/* Two members and the start of a third: an error. */
	ASSERT_EQ(0, gzc(NULL, 0, "cat h.gz h.gz > mm.gz && printf '\\037\\213' >> mm.gz"));
	EXPECT_EQ(1, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -d mm.gz"));
	EXPECT_STREQ("wdzip: mm.gz: unexpected end of file\n", self->err);
	EXPECT_FALSE(exists(GZC "/mm"));
}

/* -t and -l, with their exact output. */
TEST_F(gzc, wdzip_test_and_list)
{
	char out[1024];

	EXPECT_EQ(0, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -t h.gz"));
	EXPECT_STREQ("", self->err);
	EXPECT_EQ(0, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -tv h.gz h.gz"));
	EXPECT_STREQ("h.gz:\t OK\nh.gz:\t OK\n", self->err);
	EXPECT_EQ(1, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -t a"));
	EXPECT_STREQ("wdzip: a: not in gzip format\n", self->err);
	/* Standard input: gzip's forms. */
	EXPECT_EQ(0, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -tv < h.gz"));
	EXPECT_STREQ(" OK\n", self->err);
	EXPECT_EQ(1, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -t < a"));
	EXPECT_STREQ("wdzip: stdin: not in gzip format\n", self->err);
	EXPECT_EQ(0, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -dv < h.gz > /dev/null"));
	EXPECT_STREQ("", self->err);
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -l < h.gz > l.txt"));
	slurp_text(_metadata, GZC "/l.txt", out, sizeof(out));
	EXPECT_STREQ("         compressed        uncompressed  ratio uncompressed_name\n"
		     "                 26                   6 -33.3% stdout\n", out);
	EXPECT_TRUE(exists(GZC "/h.gz"));

	/* gzip 1.12 prints exactly these for this file. */
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -l h.gz > l.txt"));
	slurp_text(_metadata, GZC "/l.txt", out, sizeof(out));
	EXPECT_STREQ("         compressed        uncompressed  ratio uncompressed_name\n"
		     "                 26                   6 -33.3% h\n", out);
	ASSERT_EQ(0, gzc(NULL, 0, "touch -d '2020-01-02 03:04:05' h.gz"));
	EXPECT_EQ(0, gzc(NULL, 0, "TZ=UTC /wd/bin/wdzip -lv h.gz > l.txt"));
	slurp_text(_metadata, GZC "/l.txt", out, sizeof(out));
	EXPECT_STREQ("method  crc     date  time           compressed        uncompressed  ratio uncompressed_name\n"
		     "defla 363a3020 Jan  2 03:04                  26                   6 -33.3% h\n",
		     out);

	/* wdzip's many members: the sizes are the whole file's. */
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -k -b 1k a && "
			 "/wd/bin/wdzip -l a.gz h.gz > l.txt"));
	slurp_text(_metadata, GZC "/l.txt", out, sizeof(out));
	EXPECT_NE(NULL, strstr(out, "                3893 ")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "                3899 ")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "% (totals)\n")) TH_LOG("%s", out);
	EXPECT_EQ(0, gzc(NULL, 0, "gunzip -t a.gz"));
}

/* -S, -r, -c, -k and -v as gzip. */
TEST_F(gzc, wdzip_suffix_recursive_stdout_keep_verbose)
{
	struct stat st;
	char want[128];

	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -S .z -k a && test -f a.z && test -f a"));
	EXPECT_EQ(2, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -d -S .z a.z"));
	EXPECT_STREQ("wdzip: a already exists;\tnot overwritten\n", self->err);
	EXPECT_EQ(0, gzc(NULL, 0, "mv a a.orig && /wd/bin/wdzip -d -S .z a.z && cmp a a.orig"));
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -S _x a && test -f a_x && cp a_x a2_x && "
			 "/wd/bin/wdzip -d -S _x a2_x && cmp a2 a.orig"));

	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -r d"));
	EXPECT_EQ(0, gzc(NULL, 0, "test -f d/1.gz && test -f d/e/2.gz && test ! -e d/1"));
	EXPECT_EQ(0, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -r d"));
	EXPECT_STREQ("", self->err);
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -dr d && test \"$(cat d/e/2)\" = y && "
			 "test ! -e d/1.gz"));

	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -c h > hc.gz && test -f h && gunzip -c hc.gz | cmp - h"));
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -dc hc.gz | cmp - h && test -f hc.gz"));
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip < h | /wd/bin/wdzip -d | cmp - h"));
	EXPECT_EQ(0, gzc(NULL, 0, "rm h.gz && /wd/bin/wdzip -k h && test -f h && test -f h.gz"));

	/* -v: gzip's ratio of the deflate data, framing (20 bytes) left out. */
	ASSERT_EQ(0, gzc(NULL, 0, "rm h.gz"));
	EXPECT_EQ(0, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -v h"));
	ASSERT_EQ(0, stat(GZC "/h.gz", &st));
	snprintf(want, sizeof(want), "h:\t%5.1f%% -- replaced with h.gz\n",
		 100.0 * (6.0 - (st.st_size - 20)) / 6.0);
	EXPECT_STREQ(want, self->err);
	EXPECT_EQ(0, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -dkv h.gz"));
	snprintf(want, sizeof(want), "h.gz:\t%5.1f%% -- created h\n",
		 100.0 * (6.0 - (st.st_size - 20)) / 6.0);
	EXPECT_STREQ(want, self->err);
	EXPECT_EQ(0, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -cv h > /dev/null"));
	snprintf(want, sizeof(want), "h:\t%5.1f%% -- replaced with stdout\n",
		 100.0 * (6.0 - (st.st_size - 20)) / 6.0);
	EXPECT_STREQ(want, self->err);
}

/* -n/-N: the name and time saved when compressing, restored with -N. */
TEST_F(gzc, wdzip_name_and_time)
{
	unsigned char hd[32];
	struct stat st;

	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -k a"));
	ASSERT_EQ(32, slurp(GZC "/a.gz", hd, sizeof(hd)));
	EXPECT_EQ(8, hd[3]);			/* FNAME */
	EXPECT_EQ(1577934245u, hd[4] | hd[5] << 8 | hd[6] << 16 | (uint32_t)hd[7] << 24);
	EXPECT_EQ(0, memcmp(hd + 10, "a", 2));
	EXPECT_EQ(0, gzc(NULL, 0, "gunzip -c a.gz | cmp - a"));
	/* The stored name and time come back with -N, not without. */
	EXPECT_EQ(0, gzc(NULL, 0, "mv a a.orig && cp a.gz x.gz && mv a.gz y.gz && "
			 "touch -d '2021-05-06 07:08:09' x.gz y.gz"));
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -dN x.gz && cmp a a.orig && test ! -e x"));
	ASSERT_EQ(0, stat(GZC "/a", &st));
	EXPECT_EQ(1577934245, st.st_mtime);
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -d y.gz && cmp y a.orig"));
	ASSERT_EQ(0, stat(GZC "/y", &st));
	EXPECT_EQ(1620284889, st.st_mtime);
	/* -N and the stored name taken: not overwritten, input kept. */
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip y && mv y.gz z.gz && cp z.gz w.gz"));
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -dN z.gz"));
	EXPECT_EQ(2, gzc(self->err, sizeof(self->err), "/wd/bin/wdzip -dN w.gz"));
	EXPECT_STREQ("wdzip: y already exists;\tnot overwritten\n", self->err);
	EXPECT_TRUE(exists(GZC "/w.gz"));
	/* -l -N names the stored name. */
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -lN w.gz | grep -q ' y$'"));

	/* -n: no name, MTIME 0. */
	EXPECT_EQ(0, gzc(NULL, 0, "rm h.gz && /wd/bin/wdzip -n -k h"));
	ASSERT_LT(18, slurp(GZC "/h.gz", hd, sizeof(hd)));
	EXPECT_EQ(0, hd[3]);
	EXPECT_EQ(0, hd[4] | hd[5] | hd[6] | hd[7]);
	/* Standard input: no name, no time. */
	EXPECT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip < h > s.gz"));
	ASSERT_LT(10, slurp(GZC "/s.gz", hd, sizeof(hd)));
	EXPECT_EQ(0, hd[3]);
	EXPECT_EQ(0, hd[4] | hd[5] | hd[6] | hd[7]);
}

/* Start wdzip with @argv. */
static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();

	if (pid)
		return pid;
	execv("/wd/bin/wdzip", argv);
	_exit(127);
}

/*
 * Start wdzip with @argv and SIGKILL it after each of a few delays. After
 * each, GZC holds what `ls -a` shows as @ls_want (@rm first removes the
 * output of a run the signal came too late for). How many were killed.
 */
static unsigned int kill_at_delays(struct __test_metadata *_metadata,
				   char *const argv[], const char *rm,
				   const char *ls_want)
{
	static const int delays_ms[] = { 20, 100, 300, 800 };
	unsigned int i, killed = 0;
	char ls[1024];

	for (i = 0; i < sizeof(delays_ms) / sizeof(delays_ms[0]); i++) {
		int status;
		pid_t pid = spawn(argv);

		ASSERT_LT(0, pid);
		usleep(delays_ms[i] * 1000);
		kill(pid, SIGKILL);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		if (WIFSIGNALED(status)) {
			killed++;
		} else {
			EXPECT_EQ(0, gzc(NULL, 0, "%s", rm));
		}
		EXPECT_EQ(0, gzc(NULL, 0, "ls -a > ls.txt"));
		slurp_text(_metadata, GZC "/ls.txt", ls, sizeof(ls));
		EXPECT_STREQ(ls_want, ls);
	}
	return killed;
}

/*
 * Nothing left when killed with SIGKILL at any point: the output is an
 * unnamed file until it is complete (/tmp is tmpfs, which has O_TMPFILE;
 * every filesystem of the guest has it, so the named fallback is tested on
 * the host: make wdzip-compat).
 */
TEST_F_TIMEOUT(gzc, wdzip_sigkill_leaves_nothing, 300)
{
	char *const compress[] = { "wdzip", "-9", "-k", GZC "/big", NULL };
	char *const decompress[] = { "wdzip", "-d", "-k", GZC "/big.gz", NULL };
	unsigned int killed;

	make_file(GZC "/big", 24 << 20, 5);
	killed = kill_at_delays(_metadata, compress, "rm big.gz",
				".\n..\na\nbig\nd\nh\nh.gz\nls.txt\n");
	EXPECT_LT(0, killed);

	/* And while decompressing. */
	ASSERT_EQ(0, gzc(NULL, 0, "/wd/bin/wdzip -1 big"));
	killed = kill_at_delays(_metadata, decompress, "rm big",
				".\n..\na\nbig.gz\nd\nh\nh.gz\nls.txt\n");
	EXPECT_LT(0, killed);
}

/* A full filesystem: an error, no output, the input kept. */
TEST_F(gzc, wdzip_enospc_clean)
{
	ASSERT_EQ(0, wd_test_sh("mkdir -p " GZC "/sm && mount -t tmpfs -o size=64k none " GZC "/sm"));
	make_file(GZC "/sm/f", 40 << 10, 6);
	ASSERT_EQ(0, gzc(NULL, 0, "head -c 200000 /dev/urandom > r && cp sm/f f.orig"));
	EXPECT_EQ(1, gzc(self->err, sizeof(self->err), "cp r sm/r 2>/dev/null; "
			 "dd if=/dev/zero of=sm/fill bs=1k count=40 2>/dev/null; "
			 "/wd/bin/wdzip sm/f"));
	EXPECT_STREQ("wdzip: sm/f.gz: No space left on device\n", self->err);
	EXPECT_EQ(0, gzc(NULL, 0, "cmp sm/f f.orig && test ! -e sm/f.gz"));
	EXPECT_NE(0, gzc(NULL, 0, "ls -a sm | grep -q '^\\.f'"));
	wd_test_sh("umount " GZC "/sm");
}

TEST(wdbench_quick)
{
	EXPECT_EQ(0, wd_test_sh("/wd/bin/wdbench --quick --scenario copy > /tmp/bench.out 2>&1"));
	EXPECT_EQ(0, wd_test_sh("grep -qi memcpy /tmp/bench.out"));
	if (!_metadata->passed)
		wd_test_sh("cat /tmp/bench.out");
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
	EXPECT_EQ(0, wd_test_sh("/wd/bin/wdctl top -n 3 -d 0.5 --json > /tmp/top.json"));
	after = stat_of(d.name, "commands_completed");
	EXPECT_EQ(0, wd_test_sh("/wd/bin/wdctl top -n 2 -d 0.3 > /tmp/top.txt"));
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
	EXPECT_EQ(0, wd_test_sh("test $(grep -c '^DEVICE' /tmp/top.txt) = 2"));
	EXPECT_EQ(0, wd_test_sh("grep -q '^%s  *[0-9]' /tmp/top.txt && grep -q '  pid %d ' /tmp/top.txt",
				d.name, load));
	if (!_metadata->passed)
		wd_test_sh("cat /tmp/top.json /tmp/top.txt");
	/* Bad arguments: usage error, nothing printed on stdout. */
	EXPECT_EQ(2, wd_test_sh("/wd/bin/wdctl top -n 0 2>/dev/null"));
	EXPECT_EQ(2, wd_test_sh("/wd/bin/wdctl top -d 0 2>/dev/null"));
	EXPECT_EQ(2, wd_test_sh("/wd/bin/wdctl top -n 3x 2>/dev/null"));
	EXPECT_EQ(2, wd_test_sh("/wd/bin/wdctl top extra 2>/dev/null"));
	wd_test_sh("rm -f /tmp/top.json /tmp/top.txt");
}

TEST_HARNESS_MAIN
