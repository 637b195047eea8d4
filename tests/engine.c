// SPDX-License-Identifier: GPL-2.0
/*
 * The software accelerator's engines: COPY, FILL, CRC32C, DEFLATE and
 * INFLATE on process memory, checked against user-space references
 * (zlib, a bitwise CRC32C), and every kind of bad command.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "kselftest_harness.h"
#include "libwd.h"
#include "wd_test.h"

static struct wd_cmd cmd(uint32_t op, const void *src, uint64_t src_len,
			 void *dst, uint64_t dst_len)
{
	struct wd_cmd c = {
		.opcode = op, .tag = 0xfeed,
		.src = (uintptr_t)src, .src_len = src_len,
		.dst = (uintptr_t)dst, .dst_len = dst_len,
	};

	return c;
}

FIXTURE(eng) {
	struct tq t;
};

FIXTURE_SETUP(eng)
{
	ASSERT_EQ(0, tq_open(&self->t, 16, 0));
}

FIXTURE_TEARDOWN(eng)
{
	tq_close(&self->t);
}

static uint32_t run(struct tq *t, struct wd_cmd c, struct wd_cqe *out)
{
	struct wd_cqe cqe;

	if (tq_run(t, &c, &cqe))
		return 0xdead;
	if (out)
		*out = cqe;
	return cqe.status;
}

TEST_F(eng, copy_sizes_and_alignments)
{
	static const size_t sizes[] = { 0, 1, 7, 4095, 4096, 4097, 65536 + 3, 1 << 20 };
	static const size_t offs[] = { 0, 1, 4095 };
	char *src = malloc((2 << 20) + 8192), *dst = malloc((2 << 20) + 8192);
	struct wd_cqe cqe;
	size_t i, j, k;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	for (k = 0; k < (2 << 20) + 8192; k++)
		src[k] = (char)(k * 7 + 3);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (j = 0; j < sizeof(offs) / sizeof(offs[0]); j++) {
			char *s = src + offs[j], *d = dst + offs[(j + 1) % 3];

			memset(dst, 0xee, (2 << 20) + 8192);
			ASSERT_EQ(WD_ST_OK, run(&self->t, cmd(WD_OP_COPY, s, sizes[i], d, sizes[i]), &cqe));
			EXPECT_EQ(sizes[i], cqe.result);
			EXPECT_EQ(0xfeed, cqe.tag);
			EXPECT_EQ(0, memcmp(s, d, sizes[i])) TH_LOG("size %zu", sizes[i]);
			/* Not a byte beyond. */
			EXPECT_EQ((char)0xee, d[sizes[i]]);
		}
	free(src);
	free(dst);
}

TEST_F(eng, fill)
{
	char *buf = malloc(70000);
	struct wd_cqe cqe;
	struct wd_cmd c;
	size_t i;

	memset(buf, 1, 70000);
	c = cmd(WD_OP_FILL, NULL, 0, buf + 5, 65536);
	c.param = 0xab;
	ASSERT_EQ(WD_ST_OK, run(&self->t, c, &cqe));
	EXPECT_EQ(65536, cqe.result);
	for (i = 0; i < 70000; i++)
		if (buf[i] != ((i >= 5 && i < 65541) ? (char)0xab : 1))
			break;
	EXPECT_EQ(70000, i);
	c.param = 256;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	free(buf);
}

TEST_F(eng, crc32c_matches_reference_and_chains)
{
	char *buf = malloc(300000);
	struct wd_cqe cqe;
	struct wd_cmd c;
	size_t i;

	c = cmd(WD_OP_CRC32C, "123456789", 9, NULL, 0);
	ASSERT_EQ(WD_ST_OK, run(&self->t, c, &cqe));
	EXPECT_EQ(0xE3069283, cqe.result);

	for (i = 0; i < 300000; i++)
		buf[i] = (char)(i * 31 + (i >> 9));
	c = cmd(WD_OP_CRC32C, buf + 1, 299999, NULL, 0);
	ASSERT_EQ(WD_ST_OK, run(&self->t, c, &cqe));
	EXPECT_EQ(wd_test_crc32c(0, buf + 1, 299999), cqe.result);

	/* Chaining: crc(a) then seed it into crc(b) = crc(a + b). */
	c = cmd(WD_OP_CRC32C, buf, 1000, NULL, 0);
	ASSERT_EQ(WD_ST_OK, run(&self->t, c, &cqe));
	c = cmd(WD_OP_CRC32C, buf + 1000, 5000, NULL, 0);
	c.param = (uint32_t)cqe.result;
	ASSERT_EQ(WD_ST_OK, run(&self->t, c, &cqe));
	EXPECT_EQ(wd_test_crc32c(0, buf, 6000), cqe.result);

	c = cmd(WD_OP_CRC32C, buf, 0, NULL, 0);
	c.param = 0x1234;
	ASSERT_EQ(WD_ST_OK, run(&self->t, c, &cqe));
	EXPECT_EQ(0x1234, cqe.result);
	free(buf);
}

TEST_F(eng, deflate_all_formats_levels_inflate_with_zlib)
{
	static const struct { uint32_t fmt; int wbits; } fmts[] = {
		{ WD_FMT_RAW, -15 }, { WD_FMT_ZLIB, 15 }, { WD_FMT_GZIP, 31 },
	};
	size_t len = 200000, cap = 300000, out;
	char *src = malloc(len), *dst = malloc(cap), *back = malloc(len);
	struct wd_cqe cqe;
	struct wd_cmd c;
	unsigned int f, level;

	wd_test_fill_text(src, len, 1, 8);
	for (f = 0; f < 3; f++)
		for (level = 0; level <= 9; level += (level == 1 ? 5 : level == 6 ? 3 : 1)) {
			c = cmd(WD_OP_DEFLATE, src, len, dst, cap);
			c.format = fmts[f].fmt;
			c.param = level;
			ASSERT_EQ(WD_ST_OK, run(&self->t, c, &cqe)) TH_LOG("fmt %u level %u", f, level);
			EXPECT_EQ(len, cqe.consumed);
			EXPECT_LT(cqe.result, len / 2);
			ASSERT_EQ(0, wd_test_inflate(dst, cqe.result, back, len, fmts[f].wbits, &out));
			EXPECT_EQ(len, out);
			EXPECT_EQ(0, memcmp(src, back, len));
		}
	free(src);
	free(dst);
	free(back);
}

TEST_F(eng, inflate_zlib_and_gzip_output)
{
	size_t len = 500000, cap = compressBound(len) + 64;
	char *src = malloc(len), *z = malloc(cap), *back = malloc(len + 100);
	struct wd_cqe cqe;
	struct wd_cmd c;
	z_stream zs = { 0 };
	uLongf zlen = cap;

	wd_test_fill_text(src, len, 7, 8);
	/* zlib format from zlib's compress2(). */
	ASSERT_EQ(Z_OK, compress2((Bytef *)z, &zlen, (Bytef *)src, len, 9));
	c = cmd(WD_OP_INFLATE, z, zlen, back, len + 100);
	c.format = WD_FMT_ZLIB;
	ASSERT_EQ(WD_ST_OK, run(&self->t, c, &cqe));
	EXPECT_EQ(len, cqe.result);
	EXPECT_EQ(zlen, cqe.consumed);
	EXPECT_EQ(0, memcmp(src, back, len));

	/* gzip format with a file name in the header, as gzip writes. */
	{
		gz_header h = { 0 };

		h.name = (Bytef *)"file.txt";
		h.comment = (Bytef *)"a comment";
		h.hcrc = 1;
		ASSERT_EQ(Z_OK, deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY));
		ASSERT_EQ(Z_OK, deflateSetHeader(&zs, &h));
		zs.next_in = (Bytef *)src;
		zs.avail_in = len;
		zs.next_out = (Bytef *)z;
		zs.avail_out = cap;
		ASSERT_EQ(Z_STREAM_END, deflate(&zs, Z_FINISH));
		zlen = zs.total_out;
		deflateEnd(&zs);
	}
	/* Trailing bytes after the member are left alone: consumed says where it ended. */
	memcpy(z + zlen, "\x1f\x8bXXXX", 6);
	c = cmd(WD_OP_INFLATE, z, zlen + 6, back, len);
	c.format = WD_FMT_GZIP;
	ASSERT_EQ(WD_ST_OK, run(&self->t, c, &cqe));
	EXPECT_EQ(len, cqe.result);
	EXPECT_EQ(zlen, cqe.consumed);
	EXPECT_EQ(0, memcmp(src, back, len));

	/* Destination one byte short. */
	c = cmd(WD_OP_INFLATE, z, zlen, back, len - 1);
	c.format = WD_FMT_GZIP;
	EXPECT_EQ(WD_ST_NOSPACE, run(&self->t, c, NULL));
	free(src);
	free(z);
	free(back);
}

/* Compress with user-space zlib: wbits -15 raw, 15 zlib, 31 gzip. */
static size_t zlib_compress_any(const void *src, size_t len, void *dst,
				size_t cap, int wbits)
{
	z_stream zs = { 0 };
	size_t out;

	if (deflateInit2(&zs, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	zs.next_in = (Bytef *)src;
	zs.avail_in = len;
	zs.next_out = dst;
	zs.avail_out = cap;
	out = deflate(&zs, Z_FINISH) == Z_STREAM_END ? zs.total_out : 0;
	deflateEnd(&zs);
	return out;
}

static const struct { uint32_t fmt; int wbits; const char *name; } framings[] = {
	{ WD_FMT_RAW, -15, "raw" }, { WD_FMT_ZLIB, 15, "zlib" },
	{ WD_FMT_GZIP, 31, "gzip" },
};

/*
 * A truncated stream is CORRUPT whatever the room, also when the
 * destination holds exactly what the truncated input decodes to (where
 * zlib is stuck both for input and for room); a complete stream one byte
 * short of room is NOSPACE.
 */
TEST_F(eng, inflate_truncated_with_exact_room_is_corrupt)
{
	size_t len = 65536, cap = 2 * len, zlen, cut, n;
	char *src = malloc(len), *z = malloc(cap), *back = malloc(cap);
	struct wd_cqe cqe;
	struct wd_cmd c;
	unsigned int f;

	wd_test_fill_text(src, len, 11, 8);
	for (f = 0; f < 3; f++) {
		zlen = zlib_compress_any(src, len, z, cap, framings[f].wbits);
		ASSERT_LT(100, zlen);
		for (cut = zlen / 4; cut < zlen; cut += cut < zlen - 16 ? zlen / 4 : 1) {
			c = cmd(WD_OP_INFLATE, z, cut, back, cap);
			c.format = framings[f].fmt;
			ASSERT_EQ(WD_ST_CORRUPT, run(&self->t, c, &cqe))
				TH_LOG("%s cut at %zu of %zu", framings[f].name, cut, zlen);
			n = cqe.result;
			if (!n)
				continue;
			c.dst_len = n;
			EXPECT_EQ(WD_ST_CORRUPT, run(&self->t, c, &cqe))
				TH_LOG("%s cut at %zu of %zu, dst_len %zu: status %u",
				       framings[f].name, cut, zlen, n, cqe.status);
			EXPECT_EQ(n, cqe.result);
			EXPECT_EQ(0, memcmp(src, back, n));
		}
		/* The whole stream: one byte short of room, then exact. */
		c = cmd(WD_OP_INFLATE, z, zlen, back, len - 1);
		c.format = framings[f].fmt;
		EXPECT_EQ(WD_ST_NOSPACE, run(&self->t, c, NULL)) TH_LOG("%s", framings[f].name);
		c.dst_len = len;
		EXPECT_EQ(WD_ST_OK, run(&self->t, c, &cqe)) TH_LOG("%s", framings[f].name);
		EXPECT_EQ(len, cqe.result);
	}
	free(src);
	free(z);
	free(back);
}

/*
 * WD_CMD_F_STREAM: one stream inflated over many commands, each with a
 * small piece of source and room, in raw and zlib framing; the output is
 * zlib's input and the statuses say MORE until the end.
 */
TEST_F(eng, inflate_stream_across_commands)
{
	size_t len = 300000, cap = compressBound(len) + 64, zlen;
	char *src = malloc(len), *z = malloc(cap), *back = malloc(len + 4096);
	struct wd_cqe cqe;
	struct wd_cmd c;
	unsigned int f, steps;

	wd_test_fill_text(src, len, 13, 8);
	for (f = 0; f < 2; f++) {
		size_t in = 0, out = 0, inchunk = 777 + f * 3000, outchunk = 4000 - f * 1500;
		uint32_t st = WD_ST_MORE;

		zlen = zlib_compress_any(src, len, z, cap, framings[f].wbits);
		ASSERT_LT(100, zlen);
		memset(back, 0, len + 4096);
		for (steps = 0; st == WD_ST_MORE && steps < 100000; steps++) {
			size_t sl = zlen - in < inchunk ? zlen - in : inchunk;

			c = cmd(WD_OP_INFLATE, z + in, sl, back + out, outchunk);
			c.format = framings[f].fmt;
			c.flags = WD_CMD_F_STREAM | (steps ? WD_CMD_F_CONTINUE : 0);
			st = run(&self->t, c, &cqe);
			ASSERT_TRUE(st == WD_ST_MORE || st == WD_ST_OK)
				TH_LOG("%s step %u: status %u", framings[f].name, steps, st);
			ASSERT_LE(cqe.consumed, sl);
			ASSERT_LE(cqe.result, outchunk);
			in += cqe.consumed;
			out += cqe.result;
			ASSERT_LE(out, len);
		}
		EXPECT_EQ(WD_ST_OK, st);
		EXPECT_EQ(zlen, in);
		EXPECT_EQ(len, out);
		EXPECT_EQ(0, memcmp(src, back, len));
		TH_LOG("%s: %u commands", framings[f].name, steps);

		/* The stream ended: continuing it is refused. */
		c = cmd(WD_OP_INFLATE, z, zlen, back, len);
		c.format = framings[f].fmt;
		c.flags = WD_CMD_F_STREAM | WD_CMD_F_CONTINUE;
		EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));

		/* A truncated stream never completes OK: MORE, source used up. */
		c = cmd(WD_OP_INFLATE, z, zlen / 2, back, len + 4096);
		c.format = framings[f].fmt;
		c.flags = WD_CMD_F_STREAM;
		EXPECT_EQ(WD_ST_MORE, run(&self->t, c, &cqe));
		EXPECT_EQ(zlen / 2, cqe.consumed);
		/* Another command between the two halves does not disturb it. */
		c = cmd(WD_OP_INFLATE, z, zlen, back + len, 10);
		c.format = framings[f].fmt;
		EXPECT_EQ(WD_ST_NOSPACE, run(&self->t, c, NULL));
		out = cqe.result;
		c = cmd(WD_OP_INFLATE, z + zlen / 2, zlen - zlen / 2, back + out, len + 4096 - out);
		c.format = framings[f].fmt;
		c.flags = WD_CMD_F_STREAM | WD_CMD_F_CONTINUE;
		EXPECT_EQ(WD_ST_OK, run(&self->t, c, &cqe));
		EXPECT_EQ(len, out + cqe.result);
		EXPECT_EQ(0, memcmp(src, back, len));
	}

	/* Flags elsewhere, gzip streams, CONTINUE alone, another format. */
	c = cmd(WD_OP_INFLATE, z, zlen, back, len);
	c.format = WD_FMT_GZIP;
	c.flags = WD_CMD_F_STREAM;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	c.format = WD_FMT_RAW;
	c.flags = WD_CMD_F_CONTINUE;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	c.flags = 4 | WD_CMD_F_STREAM;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	c = cmd(WD_OP_DEFLATE, src, 100, back, 1000);
	c.flags = WD_CMD_F_STREAM;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	zlen = zlib_compress_any(src, len, z, cap, 15);
	c = cmd(WD_OP_INFLATE, z, 100, back, len);
	c.format = WD_FMT_ZLIB;
	c.flags = WD_CMD_F_STREAM;
	EXPECT_EQ(WD_ST_MORE, run(&self->t, c, &cqe));
	c = cmd(WD_OP_INFLATE, z + cqe.consumed, zlen - cqe.consumed, back, len);
	c.format = WD_FMT_RAW;
	c.flags = WD_CMD_F_STREAM | WD_CMD_F_CONTINUE;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	free(src);
	free(z);
	free(back);
}

TEST_F(eng, corrupt_input)
{
	size_t len = 100000, cap = 200000;
	char *src = malloc(len), *z = malloc(cap), *back = malloc(len);
	struct wd_cqe cqe;
	struct wd_cmd c;
	size_t zlen, i;

	wd_test_fill_text(src, len, 3, 8);
	c = cmd(WD_OP_DEFLATE, src, len, z, cap);
	c.format = WD_FMT_GZIP;
	ASSERT_EQ(WD_ST_OK, run(&self->t, c, &cqe));
	zlen = cqe.result;

	/* Truncated. */
	c = cmd(WD_OP_INFLATE, z, zlen / 2, back, len);
	c.format = WD_FMT_GZIP;
	EXPECT_EQ(WD_ST_CORRUPT, run(&self->t, c, NULL));
	/* Trailer CRC wrong. */
	z[zlen - 6] ^= 1;
	c = cmd(WD_OP_INFLATE, z, zlen, back, len);
	c.format = WD_FMT_GZIP;
	EXPECT_EQ(WD_ST_CORRUPT, run(&self->t, c, NULL));
	z[zlen - 6] ^= 1;
	/* Bad magic, bad method, reserved flag bits. */
	for (i = 0; i < 4; i++) {
		static const int at[] = { 0, 1, 2, 3 };
		static const char val[] = { 0x1e, 0x8c, 7, (char)0xe0 };
		char saved = z[at[i]];

		z[at[i]] = val[i];
		c = cmd(WD_OP_INFLATE, z, zlen, back, len);
		c.format = WD_FMT_GZIP;
		EXPECT_EQ(WD_ST_CORRUPT, run(&self->t, c, NULL)) TH_LOG("header byte %d", at[i]);
		z[at[i]] = saved;
	}
	/* Garbage in the deflate body, at many places: never OK with wrong data. */
	for (i = 20; i < zlen - 8; i += zlen / 50) {
		uint32_t st;

		z[i] ^= 0x55;
		c = cmd(WD_OP_INFLATE, z, zlen, back, len);
		c.format = WD_FMT_GZIP;
		st = run(&self->t, c, &cqe);
		EXPECT_TRUE(st == WD_ST_CORRUPT || st == WD_ST_NOSPACE) TH_LOG("offset %zu: %u", i, st);
		z[i] ^= 0x55;
	}
	/* Random bytes as raw deflate. */
	for (i = 0; i < cap; i++)
		z[i] = (char)(rand() >> 7);
	c = cmd(WD_OP_INFLATE, z, 4096, back, len);
	EXPECT_NE(WD_ST_OK, run(&self->t, c, NULL));
	free(src);
	free(z);
	free(back);
}

TEST_F(eng, deflate_destination_too_small)
{
	char *src = malloc(100000), *dst = malloc(100000);
	struct wd_cmd c;

	wd_test_fill_text(src, 100000, 5, 8);
	c = cmd(WD_OP_DEFLATE, src, 100000, dst, 100);
	c.format = WD_FMT_GZIP;
	EXPECT_EQ(WD_ST_NOSPACE, run(&self->t, c, NULL));
	c = cmd(WD_OP_COPY, src, 100000, dst, 99999);
	EXPECT_EQ(WD_ST_NOSPACE, run(&self->t, c, NULL));
	free(src);
	free(dst);
}

TEST_F(eng, empty_deflate_stream)
{
	char dst[64], back[8];
	struct wd_cqe cqe;
	struct wd_cmd c;
	size_t out;

	c = cmd(WD_OP_DEFLATE, NULL, 0, dst, sizeof(dst));
	c.format = WD_FMT_GZIP;
	ASSERT_EQ(WD_ST_OK, run(&self->t, c, &cqe));
	ASSERT_EQ(0, wd_test_inflate(dst, cqe.result, back, sizeof(back), 31, &out));
	EXPECT_EQ(0, out);
}

/*
 * WD_CMD_F_SYNC: raw DEFLATE pieces that do not end. Pieces of independent
 * inputs (text, random bytes, nothing, one byte, text again), each at
 * another level, concatenated and closed with a final empty block (03 00)
 * are one raw stream that zlib inflates to the inputs in order, and no
 * piece is final on its own; the zlib and gzip framings refuse the flag,
 * as INFLATE does; the destination's size rule at its boundary.
 */
TEST_F(eng, deflate_sync_pieces_concatenate)
{
	static const size_t lens[] = { 150000, 70000, 0, 1, 300000 };
	size_t total = 0, cap, zlen = 0, out, i, k;
	char *src, *z, *back;
	struct wd_cqe cqe;
	struct wd_cmd c;

	for (i = 0; i < 5; i++)
		total += lens[i];
	cap = compressBound(total) + 5 * 64;
	src = malloc(total);
	z = malloc(cap);
	back = malloc(total + 1);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, z);
	ASSERT_NE(NULL, back);
	wd_test_fill_text(src, lens[0], 3, 8);
	for (k = 0; k < lens[1]; k++)
		src[lens[0] + k] = (char)(rand() >> 7);
	src[lens[0] + lens[1]] = 'x';
	wd_test_fill_text(src + total - lens[4], lens[4], 4, 8);

	for (i = 0, k = 0; i < 5; k += lens[i], i++) {
		size_t tail = zlen;

		c = cmd(WD_OP_DEFLATE, src + k, lens[i], z + zlen, cap - zlen);
		c.flags = WD_CMD_F_SYNC;
		c.param = (unsigned int)(i * 2 + 1);
		ASSERT_EQ(WD_ST_OK, run(&self->t, c, &cqe)) TH_LOG("piece %zu", i);
		EXPECT_EQ(lens[i], cqe.consumed);
		zlen += cqe.result;
		/* Ends with the sync marker: an empty stored block. */
		ASSERT_GE(cqe.result, 4);
		EXPECT_EQ(0, memcmp(z + zlen - 4, "\0\0\377\377", 4));
		/* On its own it inflates to its input but never ends. */
		EXPECT_NE(0, wd_test_inflate(z + tail, cqe.result, back,
					      total + 1, -15, &out));
		EXPECT_EQ(lens[i], out);
		EXPECT_EQ(0, memcmp(src + k, back, lens[i]));
	}
	memcpy(z + zlen, "\3\0", 2);
	ASSERT_EQ(0, wd_test_inflate(z, zlen + 2, back, total + 1, -15, &out));
	EXPECT_EQ(total, out);
	EXPECT_EQ(0, memcmp(src, back, total));

	/*
	 * A sync flush needs a byte of room beyond its output (the uapi
	 * says why): one byte more is OK and the same output, exactly the
	 * output or less is NOSPACE.
	 */
	c = cmd(WD_OP_DEFLATE, src, lens[0], z, cap);
	c.flags = WD_CMD_F_SYNC;
	ASSERT_EQ(WD_ST_OK, run(&self->t, c, &cqe));
	out = cqe.result;
	c.dst_len = out + 1;
	EXPECT_EQ(WD_ST_OK, run(&self->t, c, &cqe));
	EXPECT_EQ(out, cqe.result);
	c.dst_len = out;
	EXPECT_EQ(WD_ST_NOSPACE, run(&self->t, c, NULL));
	c.dst_len = out - 1;
	EXPECT_EQ(WD_ST_NOSPACE, run(&self->t, c, NULL));

	/* Raw DEFLATE only, and no other flag with it. */
	c.dst_len = cap;
	c.format = WD_FMT_ZLIB;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	c.format = WD_FMT_GZIP;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	c.format = WD_FMT_RAW;
	c.flags = WD_CMD_F_SYNC | WD_CMD_F_STREAM;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	c.flags = WD_CMD_F_SYNC << 1;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	c = cmd(WD_OP_INFLATE, z, zlen + 2, back, total);
	c.flags = WD_CMD_F_SYNC;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	c.flags = WD_CMD_F_SYNC | WD_CMD_F_STREAM;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	c = cmd(WD_OP_COPY, src, 10, back, 10);
	c.flags = WD_CMD_F_SYNC;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	free(src);
	free(z);
	free(back);
}

TEST_F(eng, bad_commands)
{
	char *buf = malloc(8192), *ro;
	struct wd_cmd c;

	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);

	c = cmd(99, buf, 10, buf + 4096, 10);
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	c = cmd(WD_OP_COPY, buf, 10, buf + 4096, 10);
	c.flags = 1;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	c = cmd(WD_OP_COPY, buf, 10, buf + 4096, 10);
	c.reserved = 1ULL << 63;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	c = cmd(WD_OP_COPY, buf, 10, buf + 4096, 10);
	c.format = WD_FMT_GZIP;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	c = cmd(WD_OP_DEFLATE, buf, 10, buf + 4096, 10);
	c.format = 3;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	c = cmd(WD_OP_DEFLATE, buf, 10, buf + 4096, 100);
	c.param = 10;
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));
	c = cmd(WD_OP_NOP, buf, 1, NULL, 0);
	EXPECT_EQ(WD_ST_INVALID, run(&self->t, c, NULL));

	/* Lengths: the device reports its limit (wd_soft: 1 GiB). */
	{
		struct wd_info info;

		ASSERT_EQ(0, ioctl(self->t.fd, WD_IOC_INFO, &info));
		EXPECT_EQ(1ULL << 30, info.max_cmd_len);
		c = cmd(WD_OP_COPY, buf, info.max_cmd_len + 1, buf, info.max_cmd_len + 1);
		EXPECT_EQ(WD_ST_TOO_BIG, run(&self->t, c, NULL));
		c = cmd(WD_OP_FILL, NULL, 0, buf, info.max_cmd_len + 1);
		EXPECT_EQ(WD_ST_TOO_BIG, run(&self->t, c, NULL));
	}
	c = cmd(WD_OP_FILL, NULL, 0, buf, ~0ULL);
	EXPECT_EQ(WD_ST_TOO_BIG, run(&self->t, c, NULL));

	/* Addresses: wrap-around, kernel, non-canonical, unmapped, NULL. */
	c = cmd(WD_OP_COPY, (void *)~0xfffUL, 8192, buf, 8192);
	EXPECT_EQ(WD_ST_FAULT, run(&self->t, c, NULL));
	c = cmd(WD_OP_COPY, buf, 4096, (void *)0xffff888000000000UL, 4096);
	EXPECT_EQ(WD_ST_FAULT, run(&self->t, c, NULL));
	c = cmd(WD_OP_COPY, (void *)0xffffffff81000000UL, 4096, buf, 4096);
	EXPECT_EQ(WD_ST_FAULT, run(&self->t, c, NULL));
	c = cmd(WD_OP_COPY, (void *)0x0000800000000000UL, 4096, buf, 4096);
	EXPECT_EQ(WD_ST_FAULT, run(&self->t, c, NULL));
	c = cmd(WD_OP_COPY, (void *)0x00007ffffffff000UL, 8192, buf, 8192);
	EXPECT_EQ(WD_ST_FAULT, run(&self->t, c, NULL));
	c = cmd(WD_OP_COPY, NULL, 16, buf, 16);
	EXPECT_EQ(WD_ST_FAULT, run(&self->t, c, NULL));
	c = cmd(WD_OP_CRC32C, (void *)0xffff888000000000UL, 4096, NULL, 0);
	EXPECT_EQ(WD_ST_FAULT, run(&self->t, c, NULL));

	/* Read-only destination: nothing written, FAULT. */
	memset(buf, 0x77, 4096);
	c = cmd(WD_OP_COPY, buf, 4096, ro, 4096);
	EXPECT_EQ(WD_ST_FAULT, run(&self->t, c, NULL));
	EXPECT_EQ(0, ro[0]);
	c = cmd(WD_OP_FILL, NULL, 0, ro, 4096);
	EXPECT_EQ(WD_ST_FAULT, run(&self->t, c, NULL));
	/* Read-only source is fine. */
	c = cmd(WD_OP_COPY, ro, 4096, buf, 4096);
	EXPECT_EQ(WD_ST_OK, run(&self->t, c, NULL));

	/* Overlap. */
	c = cmd(WD_OP_COPY, buf, 4096, buf + 100, 4096);
	EXPECT_EQ(WD_ST_OVERLAP, run(&self->t, c, NULL));
	c = cmd(WD_OP_DEFLATE, buf + 100, 4096, buf, 4096);
	EXPECT_EQ(WD_ST_OVERLAP, run(&self->t, c, NULL));

	munmap(ro, 4096);
	free(buf);
}

TEST_F(eng, prot_none_and_unmapped_middle)
{
	char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char dst[3 * 4096];
	struct wd_cqe cqe;
	struct wd_cmd c;

	ASSERT_NE(MAP_FAILED, m);
	memset(m, 1, 3 * 4096);
	ASSERT_EQ(0, mprotect(m + 4096, 4096, PROT_NONE));
	c = cmd(WD_OP_COPY, m, 3 * 4096, dst, sizeof(dst));
	EXPECT_EQ(WD_ST_FAULT, run(&self->t, c, &cqe));
	ASSERT_EQ(0, munmap(m + 4096, 4096));
	EXPECT_EQ(WD_ST_FAULT, run(&self->t, c, &cqe));
	c = cmd(WD_OP_COPY, m, 4096, dst, 4096);
	EXPECT_EQ(WD_ST_OK, run(&self->t, c, &cqe));
	munmap(m, 3 * 4096);
}

TEST_HARNESS_MAIN
