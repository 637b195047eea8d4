// SPDX-License-Identifier: GPL-2.0
/*
 * zprog: a plain zlib program, dynamically linked against libz.so.1, that
 * uses the API the ways real programs do. tests/zlib runs it with and
 * without LD_PRELOAD=libwd-zlib.so.1 and compares. Every call's return code
 * and the stream's counters are checked against zlib's documented
 * semantics; a violation prints "zprog: ..." and exits 1.
 *
 *   zprog deflate LEVEL WBITS INCHUNK OUTCHUNK FLUSH IN OUT
 *         FLUSH: none, sync, full, partial, block (after each input chunk)
 *   zprog inflate WBITS INCHUNK OUTCHUNK IN OUT   (concatenated members too)
 *   zprog compress2 LEVEL IN OUT
 *   zprog uncompress IN OUT SIZE
 *   zprog api                                     in-process checks
 *
 * ZPROG_PAUSE=N: after N calls of deflate()/inflate(), create
 * /tmp/zprog.ready and wait for /tmp/zprog.go (a test removes the device
 * meanwhile).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static unsigned long calls, pause_at;

static void fail(const char *fmt, const char *a, long b)
{
	fprintf(stderr, "zprog: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n");
	exit(1);
}

static void maybe_pause(void)
{
	FILE *f;

	if (!pause_at || ++calls != pause_at)
		return;
	f = fopen("/tmp/zprog.ready", "w");
	if (f)
		fclose(f);
	while (access("/tmp/zprog.go", F_OK))
		usleep(10000);
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n;

	if (!f)
		fail("cannot open %s%ld", path, 0);
	*len = 0;
	do {
		if (*len + 65536 > cap) {
			cap = (cap + 65536) * 2;
			buf = realloc(buf, cap);
			if (!buf)
				fail("out of memory%s%ld", "", 0);
		}
		n = fread(buf + *len, 1, 65536, f);
		*len += n;
	} while (n);
	fclose(f);
	return buf;
}

static void spill(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(buf, 1, len, f) != len || fclose(f))
		fail("cannot write %s%ld", path, 0);
}

static int flush_of(const char *s)
{
	if (!strcmp(s, "none"))
		return Z_NO_FLUSH;
	if (!strcmp(s, "sync"))
		return Z_SYNC_FLUSH;
	if (!strcmp(s, "full"))
		return Z_FULL_FLUSH;
	if (!strcmp(s, "partial"))
		return Z_PARTIAL_FLUSH;
	if (!strcmp(s, "block"))
		return Z_BLOCK;
	fail("unknown flush %s%ld", s, 0);
	return 0;
}

/* One deflate() call with its bookkeeping checked. */
static int def_call(z_stream *z, int flush)
{
	uLong tin = z->total_in, tout = z->total_out;
	uInt ain = z->avail_in, aout = z->avail_out;
	Bytef *nin = z->next_in, *nout = z->next_out;
	int ret;

	maybe_pause();
	ret = deflate(z, flush);
	if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
		fail("deflate returned %s%ld", "", ret);
	if (z->next_in - nin != (long)(ain - z->avail_in) ||
	    z->total_in - tin != ain - z->avail_in)
		fail("deflate: input counters disagree%s%ld", "", 0);
	if (z->next_out - nout != (long)(aout - z->avail_out) ||
	    z->total_out - tout != aout - z->avail_out)
		fail("deflate: output counters disagree%s%ld", "", 0);
	if (ret == Z_BUF_ERROR && (ain != z->avail_in || aout != z->avail_out))
		fail("deflate: Z_BUF_ERROR after progress%s%ld", "", 0);
	return ret;
}

static int cmd_deflate(char **av)
{
	int level = atoi(av[0]), wbits = atoi(av[1]);
	size_t inchunk = strtoul(av[2], NULL, 0), outchunk = strtoul(av[3], NULL, 0);
	int flush = flush_of(av[4]), ret;
	size_t len, off = 0, olen = 0, ocap;
	unsigned char *in = slurp(av[5], &len), *out, *ob;
	z_stream z;

	ocap = len + len / 2 + 65536;
	out = malloc(ocap);
	ob = malloc(outchunk);
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, level, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		fail("deflateInit2 failed%s%ld", "", 0);
	do {
		size_t n = len - off < inchunk ? len - off : inchunk;
		int f = off + n == len ? Z_FINISH : flush;

		z.next_in = in + off;
		z.avail_in = n;
		off += n;
		do {
			z.next_out = ob;
			z.avail_out = outchunk;
			ret = def_call(&z, f);
			if (olen + (outchunk - z.avail_out) > ocap)
				fail("output too large%s%ld", "", 0);
			memcpy(out + olen, ob, outchunk - z.avail_out);
			olen += outchunk - z.avail_out;
			if (f == Z_FINISH && ret == Z_BUF_ERROR && z.avail_out)
				fail("deflate(Z_FINISH): Z_BUF_ERROR with room%s%ld", "", 0);
		} while (f == Z_FINISH ? ret != Z_STREAM_END : z.avail_out == 0);
		if (z.avail_in)
			fail("deflate left %s%ld bytes of input", "", z.avail_in);
		/* After a flush every byte so far is out: a tiny call must give nothing. */
	} while (off < len);
	if (z.total_in != len || z.total_out != olen)
		fail("deflate totals wrong%s%ld", "", 0);
	/* Again with Z_FINISH after the end: Z_STREAM_END, nothing more. */
	z.avail_out = outchunk;
	z.next_out = ob;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END || z.avail_out != outchunk)
		fail("deflate after the end not Z_STREAM_END%s%ld", "", 0);
	if (deflateEnd(&z) != Z_OK)
		fail("deflateEnd failed%s%ld", "", 0);
	spill(av[6], out, olen);
	return 0;
}

static int cmd_inflate(char **av)
{
	int wbits = atoi(av[0]), ret = Z_OK, members = 0, full = 0;
	size_t inchunk = strtoul(av[1], NULL, 0), outchunk = strtoul(av[2], NULL, 0);
	size_t len, off = 0, olen = 0, ocap = 1 << 20;
	unsigned char *in = slurp(av[3], &len), *out = malloc(ocap), *ob = malloc(outchunk);
	z_stream z;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, wbits) != Z_OK)
		fail("inflateInit2 failed%s%ld", "", 0);
	for (;;) {
		uLong tin, tout;
		uInt ain, aout;

		/* More input once the last call did not fill the output (zpipe.c) */
		if (!z.avail_in && !full) {
			size_t n = len - off < inchunk ? len - off : inchunk;

			if (!n && ret != Z_STREAM_END)
				fail("input ends inside a stream%s%ld", "", 0);
			if (!n)
				break;
			z.next_in = in + off;
			z.avail_in = n;
			off += n;
		}
		if (ret == Z_STREAM_END && z.avail_in) {
			/* another member: as gzip -d, zcat and friends do */
			if (inflateReset(&z) != Z_OK)
				fail("inflateReset failed%s%ld", "", 0);
		}
		z.next_out = ob;
		z.avail_out = outchunk;
		tin = z.total_in;
		tout = z.total_out;
		ain = z.avail_in;
		aout = z.avail_out;
		maybe_pause();
		ret = inflate(&z, Z_NO_FLUSH);
		if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR) {
			fprintf(stderr, "zprog: inflate: %d (%s)\n", ret,
				z.msg ? z.msg : "no message");
			exit(3);
		}
		if (z.total_in - tin != ain - z.avail_in ||
		    z.total_out - tout != aout - z.avail_out)
			fail("inflate counters disagree%s%ld", "", 0);
		if (ret == Z_BUF_ERROR && (ain != z.avail_in || aout != z.avail_out))
			fail("inflate: Z_BUF_ERROR after progress%s%ld", "", 0);
		if (ret == Z_BUF_ERROR && z.avail_in && aout)
			fail("inflate: stuck with input and room%s%ld", "", 0);
		if (olen + (outchunk - z.avail_out) > ocap) {
			ocap *= 2;
			out = realloc(out, ocap);
		}
		memcpy(out + olen, ob, outchunk - z.avail_out);
		olen += outchunk - z.avail_out;
		full = z.avail_out == 0;
		if (ret == Z_STREAM_END)
			members++;
	}
	inflateEnd(&z);
	if (!members)
		fail("no stream end%s%ld", "", 0);
	spill(av[4], out, olen);
	return 0;
}

static int cmd_compress2(char **av)
{
	size_t len;
	unsigned char *in = slurp(av[1], &len);
	uLongf dlen = compressBound(len);
	unsigned char *out = malloc(dlen);
	int ret = compress2(out, &dlen, in, len, atoi(av[0]));

	if (ret != Z_OK)
		fail("compress2: %s%ld", "", ret);
	spill(av[2], out, dlen);
	return 0;
}

static int cmd_uncompress(char **av)
{
	size_t len;
	unsigned char *in = slurp(av[0], &len);
	uLongf dlen = strtoul(av[2], NULL, 0);
	unsigned char *out = malloc(dlen + 1);
	int ret = uncompress(out, &dlen, in, len);

	if (ret != Z_OK)
		fail("uncompress: %s%ld", "", ret);
	spill(av[1], out, dlen);
	return 0;
}

/* Point @z at @in_len bytes of input at @in and @out_len of room at @out. */
static void set_bufs(z_stream *z, unsigned char *in, uInt in_len,
		     unsigned char *out, uInt out_len)
{
	z->next_in = in;
	z->avail_in = in_len;
	z->next_out = out;
	z->avail_out = out_len;
}

#define CHECK(c) do { if (!(c)) fail("api: %s (line %ld)", #c, __LINE__); } while (0)

static int cmd_api(void)
{
	static unsigned char text[300000], z1[400000], back[300000];
	const char dict[] = "the quick brown fox jumps over the lazy dog";
	unsigned char small[64];
	uLongf zl, bl;
	z_stream z;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(text); i++)
		text[i] = "the quick brown fox "[(i * 7 + i / 300) % 20];
	/* checksums pass through */
	CHECK(crc32(0, (const Bytef *)"123456789", 9) == 0xcbf43926);
	CHECK(adler32(1, (const Bytef *)"Wikipedia", 9) == 0x11e60398);
	CHECK(zlibVersion()[0] == ZLIB_VERSION[0]);
	/* bad arguments */
	memset(&z, 0, sizeof(z));
	CHECK(deflateInit2(&z, 10, Z_DEFLATED, 15, 8, 0) == Z_STREAM_ERROR);
	CHECK(deflateInit2(&z, 6, Z_DEFLATED, 7, 8, 0) == Z_STREAM_ERROR);
	CHECK(deflateInit_(&z, 6, "0.9", (int)sizeof(z)) == Z_VERSION_ERROR);
	CHECK(deflate(NULL, Z_NO_FLUSH) == Z_STREAM_ERROR);
	CHECK(inflate(NULL, Z_NO_FLUSH) == Z_STREAM_ERROR);
	CHECK(deflateEnd(NULL) == Z_STREAM_ERROR);
	/* no room: Z_BUF_ERROR; useless repeated calls: Z_BUF_ERROR */
	CHECK(deflateInit(&z, 6) == Z_OK);
	set_bufs(&z, text, sizeof(text), z1, 0);
	CHECK(deflate(&z, Z_NO_FLUSH) == Z_BUF_ERROR);
	CHECK(deflate(&z, 99) == Z_STREAM_ERROR);
	z.avail_out = sizeof(z1);
	CHECK(deflate(&z, Z_NO_FLUSH) == Z_OK);
	CHECK(z.avail_in == 0 && z.total_in == sizeof(text));
	CHECK(deflate(&z, Z_NO_FLUSH) == Z_BUF_ERROR);
	CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
	CHECK(z.adler == adler32(adler32(0, NULL, 0), text, sizeof(text)));
	zl = z.total_out;
	CHECK(deflateEnd(&z) == Z_OK);
	bl = sizeof(back);
	CHECK(uncompress(back, &bl, z1, zl) == Z_OK && bl == sizeof(text) &&
	      !memcmp(back, text, bl));
	/* a destination one byte short */
	bl = sizeof(text) - 1;
	CHECK(uncompress(back, &bl, z1, zl) == Z_BUF_ERROR);
	/* cut short, and corrupt */
	bl = sizeof(back);
	CHECK(uncompress(back, &bl, z1, zl - 10) == Z_DATA_ERROR);
	z1[zl / 2] ^= 0x55;
	z1[zl / 2 + 1] ^= 0xaa;
	bl = sizeof(back);
	ret = uncompress(back, &bl, z1, zl);
	CHECK(ret == Z_DATA_ERROR || (ret == Z_OK && memcmp(back, text, bl)) ||
	      ret == Z_BUF_ERROR);
	/* deflateBound is enough for one Z_FINISH call, even for noise */
	for (i = 0; i < sizeof(back); i++)
		back[i] = (unsigned char)(rand() >> 7);
	memset(&z, 0, sizeof(z));
	CHECK(deflateInit2(&z, 9, Z_DEFLATED, 31, 8, 0) == Z_OK);
	zl = deflateBound(&z, sizeof(back));
	CHECK(zl <= sizeof(z1));
	set_bufs(&z, back, sizeof(back), z1, zl);
	CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
	CHECK(deflateEnd(&z) == Z_OK);
	/* preset dictionary, zlib framing: Z_NEED_DICT on the way back */
	memset(&z, 0, sizeof(z));
	CHECK(deflateInit(&z, 6) == Z_OK);
	CHECK(deflateSetDictionary(&z, (const Bytef *)dict, sizeof(dict)) == Z_OK);
	set_bufs(&z, text, sizeof(text), z1, sizeof(z1));
	CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
	zl = z.total_out;
	CHECK(deflateEnd(&z) == Z_OK);
	memset(&z, 0, sizeof(z));
	CHECK(inflateInit(&z) == Z_OK);
	set_bufs(&z, z1, zl, back, sizeof(back));
	CHECK(inflate(&z, Z_NO_FLUSH) == Z_NEED_DICT);
	CHECK(z.adler == adler32(1, (const Bytef *)dict, sizeof(dict)));
	CHECK(inflateSetDictionary(&z, (const Bytef *)dict, sizeof(dict)) == Z_OK);
	CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
	CHECK(z.total_out == sizeof(text) && !memcmp(back, text, sizeof(text)));
	CHECK(inflateEnd(&z) == Z_OK);
	/* gzip header fields through inflateGetHeader */
	{
		unsigned char name[32];
		gz_header h, g;

		memset(&h, 0, sizeof(h));
		h.name = (Bytef *)"file.txt";
		h.time = 1234567;
		h.os = 3;
		memset(&z, 0, sizeof(z));
		CHECK(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, 0) == Z_OK);
		CHECK(deflateSetHeader(&z, &h) == Z_OK);
		set_bufs(&z, text, sizeof(text), z1, sizeof(z1));
		CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
		zl = z.total_out;
		CHECK(deflateEnd(&z) == Z_OK);
		memset(&g, 0, sizeof(g));
		g.name = name;
		g.name_max = sizeof(name);
		memset(&z, 0, sizeof(z));
		CHECK(inflateInit2(&z, 47) == Z_OK);
		CHECK(inflateGetHeader(&z, &g) == Z_OK);
		set_bufs(&z, z1, zl, back, sizeof(back));
		CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
		CHECK(g.done == 1 && g.time == 1234567 && !strcmp((char *)name, "file.txt"));
		CHECK(!memcmp(back, text, sizeof(text)));
		CHECK(inflateEnd(&z) == Z_OK);
	}
	/* inflate with no room at all, then a byte at a time of room */
	bl = sizeof(z1);
	CHECK(compress2(z1, &bl, text, sizeof(text), 6) == Z_OK);
	memset(&z, 0, sizeof(z));
	CHECK(inflateInit(&z) == Z_OK);
	set_bufs(&z, z1, bl, small, 0);
	CHECK(inflate(&z, Z_NO_FLUSH) == Z_BUF_ERROR || z.avail_in < bl);
	for (i = 0, ret = Z_OK; ret == Z_OK && i < sizeof(text); i++) {
		z.next_out = small;
		z.avail_out = 1;
		ret = inflate(&z, Z_NO_FLUSH);
		CHECK(z.avail_out == 0 && small[0] == text[i]);
	}
	/* the last byte may come with Z_OK: then the end with no room */
	if (ret == Z_OK) {
		z.avail_out = 1;
		z.next_out = small;
		ret = inflate(&z, Z_NO_FLUSH);
		CHECK(z.avail_out == 1);
	}
	CHECK(ret == Z_STREAM_END && i == sizeof(text) && z.total_out == sizeof(text));
	CHECK(z.avail_in == 0);
	CHECK(inflateEnd(&z) == Z_OK);
	/* empty input, every framing */
	for (i = 0; i < 3; i++) {
		int wb[] = { -15, 15, 31 };

		memset(&z, 0, sizeof(z));
		CHECK(deflateInit2(&z, 6, Z_DEFLATED, wb[i], 8, 0) == Z_OK);
		set_bufs(&z, text, 0, z1, sizeof(z1));
		CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
		CHECK(deflateEnd(&z) == Z_OK);
	}
	/* deflateEnd in the middle of a stream says so */
	memset(&z, 0, sizeof(z));
	CHECK(deflateInit(&z, 6) == Z_OK);
	set_bufs(&z, text, sizeof(text), z1, sizeof(z1));
	CHECK(deflate(&z, Z_NO_FLUSH) == Z_OK);
	CHECK(deflateEnd(&z) == Z_DATA_ERROR);
	printf("api ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *p = getenv("ZPROG_PAUSE");

	pause_at = p ? strtoul(p, NULL, 0) : 0;
	if (argc == 9 && !strcmp(argv[1], "deflate"))
		return cmd_deflate(argv + 2);
	if (argc == 7 && !strcmp(argv[1], "inflate"))
		return cmd_inflate(argv + 2);
	if (argc == 5 && !strcmp(argv[1], "compress2"))
		return cmd_compress2(argv + 2);
	if (argc == 5 && !strcmp(argv[1], "uncompress"))
		return cmd_uncompress(argv + 2);
	if (argc == 2 && !strcmp(argv[1], "api"))
		return cmd_api();
	fprintf(stderr, "usage: see tests/zlib/zprog.c\n");
	return 2;
}
