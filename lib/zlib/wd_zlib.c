// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libwd-zlib: zlib's API and ABI (libz.so.1) with DEFLATE and INFLATE run
 * on a WarpDrive device, for unmodified programs:
 *
 *   LD_PRELOAD=libwd-zlib.so.1 program ...
 *
 * The streams of this library own strm->state; every zlib function that
 * takes a z_stream is defined here. Everything else (crc32, adler32, gz*,
 * inflateBack*, zlibVersion...) jumps straight to the system zlib, found
 * with dlsym(RTLD_NEXT) or else dlopen() of WD_ZLIB_REAL (default: the
 * path the library was built with).
 *
 * Compression. Input is gathered (up to CHUNK) and compressed by the device
 * as raw DEFLATE; this library writes the zlib or gzip header and trailer.
 * A flush (Z_SYNC_FLUSH, Z_FULL_FLUSH, Z_PARTIAL_FLUSH, Z_BLOCK) or a full
 * chunk ends the device's piece with a sync flush (WD_CMD_F_SYNC: no final
 * block, an empty stored block 00 00 ff ff at the end), so the output so
 * far is complete and byte-aligned, and the next piece starts fresh: valid
 * for any inflater, but not zlib's bytes. A piece the device cannot do (too small, device
 * gone, output larger than stored blocks) is done by the CPU in the same
 * framing. Streams that end below the threshold without having flushed,
 * and every stream asking for what only zlib does (a preset dictionary in
 * zlib framing, a gzip header of its own, deflatePrime, deflateCopy...)
 * before any output, run on the system zlib from the start: their output
 * is zlib's, byte for byte.
 *
 * Decompression. The system zlib reads the zlib or gzip header (so
 * inflateGetHeader, dictionaries and header errors are zlib's own); the
 * deflate data is then inflated by the device as one stream continued from
 * command to command; this library checks the trailer. A stream whose first
 * body call brings less than the threshold, or that asks for Z_BLOCK,
 * Z_TREES, inflateSync and the like, continues on the system zlib. If the
 * device goes away mid-stream, the compressed data of the member seen so far
 * (kept up to HIST_MAX) is replayed into the system zlib and the stream goes
 * on there; beyond HIST_MAX the call fails with Z_STREAM_ERROR and msg
 * "accelerator lost mid-stream". Output is never wrong.
 *
 * Environment: WD_ZLIB_DISABLE=1 (system zlib only), WD_ZLIB_DEVICE=name,
 * WD_ZLIB_THRESHOLD=bytes (default 4096), WD_ZLIB_STATS=1 (a line of
 * figures on stderr at exit) or WD_ZLIB_STATS=path (appended to the file).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "libwd.h"
#include "../libwd_internal.h"

#ifndef WD_ZLIB_REAL_DEFAULT
#define WD_ZLIB_REAL_DEFAULT "libz.so.1"
#endif

#define CHUNK		(1U << 20)	/* input per device DEFLATE command */
#define OUT_CHUNK	(256U << 10)	/* device INFLATE output per command */
#define HIST_MAX	(32U << 20)	/* compressed input kept for replay */
#define DEFAULT_THRESHOLD 4096

#define EXPORT __attribute__((visibility("default")))

/* ---- the system zlib ---------------------------------------------------- */

static void *real_handle;

static void *real_sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		if (!real_handle) {
			const char *path = getenv("WD_ZLIB_REAL");

			real_handle = dlopen(path && *path ? path :
					     WD_ZLIB_REAL_DEFAULT,
					     RTLD_NOW | RTLD_LOCAL);
		}
		if (real_handle)
			p = dlsym(real_handle, name);
	}
	if (!p) {
		fprintf(stderr, "libwd-zlib: %s not found in the system zlib (%s)\n",
			name, dlerror());
		abort();
	}
	return p;
}

/* REAL(fn) is the system zlib's fn, resolved on first use. */
#define REAL(fn) ({							\
	static __typeof__(&fn) real_##fn;				\
	__typeof__(&fn) f_ = __atomic_load_n(&real_##fn, __ATOMIC_RELAXED); \
	if (!f_) {							\
		f_ = (__typeof__(&fn))real_sym(#fn);			\
		__atomic_store_n(&real_##fn, f_, __ATOMIC_RELAXED);	\
	}								\
	f_;								\
})

/*
 * Functions passed through unchanged: a jump through a pointer filled in
 * by the constructor below (any signature, varargs included).
 */
#define FORWARDS(X) \
	X(adler32) X(adler32_combine) X(adler32_combine64) X(adler32_z) \
	X(compressBound) X(crc32) X(crc32_combine) X(crc32_combine64) \
	X(crc32_combine_gen) X(crc32_combine_gen64) X(crc32_combine_op) \
	X(crc32_z) X(get_crc_table) X(gzbuffer) X(gzclearerr) X(gzclose) \
	X(gzclose_r) X(gzclose_w) X(gzdirect) X(gzdopen) X(gzeof) X(gzerror) \
	X(gzflush) X(gzfread) X(gzfwrite) X(gzgetc) X(gzgetc_) X(gzgets) \
	X(gzoffset) X(gzoffset64) X(gzopen) X(gzopen64) X(gzprintf) X(gzputc) \
	X(gzputs) X(gzread) X(gzrewind) X(gzseek) X(gzseek64) X(gzsetparams) \
	X(gztell) X(gztell64) X(gzungetc) X(gzvprintf) X(gzwrite) \
	X(inflateBack) X(inflateBackEnd) X(inflateBackInit_) X(zError) \
	X(zlibCompileFlags) X(zlibVersion)

#if defined(__x86_64__)
#define TRAMPOLINE(name)						\
	__attribute__((visibility("hidden"))) void *wdz_fwd_##name;	\
	__asm__(".text\n.globl " #name "\n.type " #name ", @function\n"	\
		#name ":\n\tjmp *wdz_fwd_" #name "(%rip)\n"		\
		".size " #name ", .-" #name "\n");
#elif defined(__aarch64__)
#define TRAMPOLINE(name)						\
	__attribute__((visibility("hidden"))) void *wdz_fwd_##name;	\
	__asm__(".text\n.globl " #name "\n.type " #name ", %function\n"	\
		#name ":\n\tadrp x16, wdz_fwd_" #name "\n"		\
		"\tldr x16, [x16, :lo12:wdz_fwd_" #name "]\n\tbr x16\n"	\
		".size " #name ", .-" #name "\n");
#else
#error "libwd-zlib: no trampoline for this architecture"
#endif

FORWARDS(TRAMPOLINE)

/* ---- settings and figures ----------------------------------------------- */

static struct {
	int disabled;
	int simulate;		/* test hook: the CPU plays the device */
	int debug;		/* WD_ZLIB_DEBUG: why pieces went to the CPU */
	size_t threshold;
	const char *device;
	const char *stats;
} cfg;

/* WD_ZLIB_SIM_LOSE=N: the simulated device is lost at its Nth command. */
static long sim_lose = -1;

/* Counted with atomics: streams of several threads. */
static struct {
	unsigned long deflate_dev, deflate_cpu, inflate_dev, inflate_cpu;
	unsigned long dev_cmds, dev_in, dev_out, cpu_pieces, no_queue, lost;
} st;

#define COUNT(f, n) __atomic_fetch_add(&st.f, (n), __ATOMIC_RELAXED)

static void print_stats(void)
{
	FILE *f = stderr;

	if (!cfg.stats)
		return;
	if (strcmp(cfg.stats, "1"))
		f = fopen(cfg.stats, "a");
	if (!f)
		return;
	fprintf(f, "libwd-zlib: pid %d deflate streams %lu on the device, %lu on the CPU; inflate streams %lu on the device, %lu on the CPU; device commands %lu, %lu bytes in, %lu bytes out; CPU pieces %lu; no free queue %lu; device lost %lu\n",
		(int)getpid(), st.deflate_dev, st.deflate_cpu, st.inflate_dev,
		st.inflate_cpu, st.dev_cmds, st.dev_in, st.dev_out,
		st.cpu_pieces, st.no_queue, st.lost);
	if (f != stderr)
		fclose(f);
}

__attribute__((constructor)) static void wdz_init(void)
{
	const char *s;

#define RESOLVE(name) wdz_fwd_##name = real_sym(#name);
	FORWARDS(RESOLVE)
#undef RESOLVE
	s = getenv("WD_ZLIB_DISABLE");
	cfg.disabled = s && *s && strcmp(s, "0");
	s = getenv("WD_ZLIB_SIMULATE");
	cfg.simulate = s && *s && strcmp(s, "0");
	s = getenv("WD_ZLIB_SIM_LOSE");
	if (s && *s)
		sim_lose = strtol(s, NULL, 0);
	s = getenv("WD_ZLIB_DEBUG");
	cfg.debug = s && *s && strcmp(s, "0");
	s = getenv("WD_ZLIB_THRESHOLD");
	cfg.threshold = s && *s ? strtoul(s, NULL, 0) : DEFAULT_THRESHOLD;
	cfg.device = getenv("WD_ZLIB_DEVICE");
	cfg.stats = getenv("WD_ZLIB_STATS");
	if (cfg.stats && (!*cfg.stats || !strcmp(cfg.stats, "0")))
		cfg.stats = NULL;
	if (cfg.stats)
		atexit(print_stats);
}

/* ---- the device ----------------------------------------------------------- */

struct dev {
	struct wd_dev *dev;
	struct wd_queue *q;
	uint64_t max_len;
	pid_t pid;		/* the queue is not the child's after fork() */
	int dead;		/* no (more) device for this stream */
	uint64_t tag;
};

static int dev_get(struct dev *d)
{
	struct wd_queue_opts o = { .nonblock = 1 };
	struct wd_info info;
	int ret;

	if (d->q && d->pid == getpid())
		return 0;
	if (d->q) {		/* inherited: give it back, do not use it */
		wd_close(d->dev);
		d->q = NULL;
		d->dev = NULL;
		d->dead = 1;
	}
	if (d->dead || cfg.disabled)
		return -ENODEV;
	if (cfg.simulate) {
		d->max_len = 1ULL << 30;
		return 0;
	}
	ret = cfg.device && *cfg.device ? wd_open(cfg.device, &d->dev) :
		wd_open_alg(WD_ALG_DEFLATE | WD_ALG_INFLATE, &d->dev);
	if (ret)
		goto fail;
	ret = wd_get_info(d->dev, &info);
	if (!ret)
		ret = wd_queue_get(d->dev, &o, &d->q);
	if (ret) {
		if (ret == -EAGAIN)
			COUNT(no_queue, 1);
		wd_close(d->dev);
		d->dev = NULL;
		goto fail;
	}
	d->max_len = info.max_cmd_len ? info.max_cmd_len : CHUNK;
	d->pid = getpid();
	return 0;
fail:
	d->dead = 1;
	return ret;
}

static void dev_put(struct dev *d)
{
	if (d->dev)
		wd_close(d->dev);	/* puts the queue too */
	d->dev = NULL;
	d->q = NULL;
}

/* The device is gone (or failed): never use it again for this stream. */
static void dev_lost(struct dev *d)
{
	dev_put(d);
	if (!d->dead)
		COUNT(lost, 1);
	d->dead = 1;
}

static int dev_run(struct dev *d, struct wd_cmd *cmd, struct wd_cqe *cqe)
{
	int ret;

	cmd->tag = ++d->tag;
	ret = wd_submit(d->q, cmd);
	while (!ret && !(ret = wd_reap(d->q, cqe, 1))) {
		ret = wd_wait(d->q, -1);
		if (ret == -EINTR)
			ret = 0;
	}
	if (ret < 0)
		return ret;
	COUNT(dev_cmds, 1);
	return cqe->tag == cmd->tag ? 0 : -EPROTO;
}

/* ---- stream state --------------------------------------------------------- */

#define WDZ_MAGIC	0x77647a6cU	/* "wdzl" */

enum { K_DEFLATE = 1, K_INFLATE };
/* Which engine serves the stream. */
enum { M_OWN, M_PASS };
/* Inflate phases in M_OWN. */
enum { P_HEAD, P_BODY, P_TRAILER, P_DONE, P_BAD };

struct wdz {
	uint32_t magic;
	int kind;
	z_streamp strm;		/* the z_stream this state belongs to */
	int mode;
	z_stream inner;		/* the system zlib's stream */
	int inner_live;
	struct dev dev;
	int wrap;		/* 0 raw, 1 zlib, 2 gzip */
	int wbits;		/* as given */
	unsigned char *obuf;	/* output not yet handed out */
	size_t ooff, olen, ocap;
	uLong check;		/* adler32 or crc32 so far */
	uLong isize;

	/* deflate */
	int level, memlevel, strategy;
	int bits;		/* window bits, 8 to 15 */
	unsigned char *ibuf;	/* input not yet compressed */
	size_t ilen, icap;
	size_t replay;		/* M_PASS: ibuf bytes not yet fed to inner */
	int started;		/* output produced in our own framing */
	int finished;		/* trailer produced */
	int last_flush;
	int called;		/* deflate() was called */
	unsigned char *dict;	/* raw streams: a dictionary (not used) */
	size_t dictlen;
	z_stream raw;		/* CPU pieces in our framing */
	int raw_live;

	/* inflate */
	int phase;
	int gzip_member;	/* the header read was gzip's */
	int body_started;
	int dev_more;		/* the device stream is open (WD_ST_MORE) */
	int out_full;		/* the last step filled its output: ask again */
	z_stream sim;		/* WD_ZLIB_SIMULATE's device stream */
	int sim_live;
	unsigned char trailer[8];
	int tlen;
	unsigned char *hist;	/* compressed body seen, for replay */
	size_t hlen, hcap;
	int hist_over;
	uint64_t produced;	/* body output produced */
	int raw_body;		/* body continues on @raw (replayed) */
};

/* A stream the system zlib set up (it was not ours): its own functions. */
static int foreign(z_streamp strm)
{
	return strm && strm->state &&
	       ((struct wdz *)strm->state)->magic != WDZ_MAGIC;
}

static struct wdz *get(z_streamp strm, int kind)
{
	struct wdz *s;

	if (!strm)
		return NULL;
	s = (struct wdz *)strm->state;
	if (!s || s->magic != WDZ_MAGIC || s->strm != strm || s->kind != kind)
		return NULL;
	return s;
}

static void inner_in(struct wdz *s)
{
	z_streamp u = s->strm;

	s->inner.next_in = u->next_in;
	s->inner.avail_in = u->avail_in;
	s->inner.next_out = u->next_out;
	s->inner.avail_out = u->avail_out;
	s->inner.total_in = u->total_in;
	s->inner.total_out = u->total_out;
	s->inner.data_type = u->data_type;
}

static void inner_out(struct wdz *s)
{
	z_streamp u = s->strm;

	u->next_in = s->inner.next_in;
	u->avail_in = s->inner.avail_in;
	u->next_out = s->inner.next_out;
	u->avail_out = s->inner.avail_out;
	u->total_in = s->inner.total_in;
	u->total_out = s->inner.total_out;
	u->msg = s->inner.msg;
	u->data_type = s->inner.data_type;
	u->adler = s->inner.adler;
}

static int grow(unsigned char **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 4096;
	unsigned char *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = realloc(*buf, n);
	if (!p)
		return -1;
	*buf = p;
	*cap = n;
	return 0;
}

/* Hand out pending output; returns what is left. */
static size_t drain(struct wdz *s)
{
	z_streamp u = s->strm;
	size_t n = s->olen - s->ooff;

	if (n > u->avail_out)
		n = u->avail_out;
	if (n) {
		memcpy(u->next_out, s->obuf + s->ooff, n);
		u->next_out += n;
		u->avail_out -= n;
		u->total_out += n;
		s->ooff += n;
	}
	if (s->ooff == s->olen)
		s->ooff = s->olen = 0;
	return s->olen - s->ooff;
}

static int out_put(struct wdz *s, const void *p, size_t n)
{
	if (grow(&s->obuf, &s->ocap, s->olen + n))
		return -1;
	memcpy(s->obuf + s->olen, p, n);
	s->olen += n;
	return 0;
}

static void wdz_free(struct wdz *s)
{
	dev_put(&s->dev);
	if (s->inner_live)
		s->kind == K_DEFLATE ? REAL(deflateEnd)(&s->inner) :
				       REAL(inflateEnd)(&s->inner);
	if (s->raw_live)
		s->kind == K_DEFLATE ? REAL(deflateEnd)(&s->raw) :
				       REAL(inflateEnd)(&s->raw);
	free(s->obuf);
	free(s->ibuf);
	free(s->dict);
	free(s->hist);
	if (s->sim_live)
		REAL(inflateEnd)(&s->sim);
	s->magic = 0;
	free(s);
}

/* ---- deflate ------------------------------------------------------------- */

static int wrap_of(int wbits, int *bits)
{
	if (wbits < 0) {
		*bits = -wbits;
		return 0;
	}
	if (wbits > 15) {
		*bits = wbits - 16;
		return 2;
	}
	*bits = wbits;
	return 1;
}

/*
 * Streams the device does not make: level 0 (stored), the strategies that
 * change the encoding (Huffman only, RLE, fixed codes), and windows below
 * 32 KiB (the device's distances may reach 32 KiB back, which an inflater
 * told of a smaller window refuses).
 */
static int cpu_only(const struct wdz *s)
{
	return s->level == 0 || s->bits < 15 ||
	       (s->strategy != Z_DEFAULT_STRATEGY && s->strategy != Z_FILTERED);
}

EXPORT int deflateInit2_(z_streamp strm, int level, int method, int windowBits,
			 int memLevel, int strategy, const char *version,
			 int stream_size)
{
	struct wdz *s;
	int bits, wrap;

	if (!version || version[0] != ZLIB_VERSION[0] ||
	    stream_size != (int)sizeof(z_stream))
		return Z_VERSION_ERROR;
	if (!strm)
		return Z_STREAM_ERROR;
	if (level == Z_DEFAULT_COMPRESSION)
		level = 6;
	wrap = wrap_of(windowBits, &bits);
	if (method != Z_DEFLATED || memLevel < 1 || memLevel > MAX_MEM_LEVEL ||
	    bits < 8 || bits > 15 || level < 0 || level > 9 || strategy < 0 ||
	    strategy > Z_FIXED || windowBits < -15 || windowBits > 31 ||
	    (bits == 8 && wrap != 1))
		return Z_STREAM_ERROR;
	s = calloc(1, sizeof(*s));
	if (!s)
		return Z_MEM_ERROR;
	s->magic = WDZ_MAGIC;
	s->kind = K_DEFLATE;
	s->strm = strm;
	s->wrap = wrap;
	s->wbits = windowBits;
	s->level = level;
	s->memlevel = memLevel;
	s->strategy = strategy;
	s->last_flush = -2;
	s->check = wrap == 2 ? 0 : 1;
	strm->state = (struct internal_state *)s;
	strm->total_in = strm->total_out = 0;
	strm->msg = Z_NULL;
	strm->data_type = Z_UNKNOWN;
	strm->adler = s->check;
	s->bits = bits;
	s->dev.dead = cpu_only(s);
	return Z_OK;
}

EXPORT int deflateInit_(z_streamp strm, int level, const char *version,
			int stream_size)
{
	return deflateInit2_(strm, level, Z_DEFLATED, MAX_WBITS, 8,
			     Z_DEFAULT_STRATEGY, version, stream_size);
}

/* Go over to the system zlib for the whole stream (nothing produced yet). */
static int to_pass(struct wdz *s)
{
	int ret;

	if (s->mode == M_PASS)
		return 0;
	if (s->started)
		return -1;
	memset(&s->inner, 0, sizeof(s->inner));
	if (s->kind == K_DEFLATE) {
		ret = REAL(deflateInit2_)(&s->inner, s->level, Z_DEFLATED, s->wbits,
					  s->memlevel, s->strategy, ZLIB_VERSION,
					  (int)sizeof(z_stream));
		if (ret == Z_OK && s->dict)
			ret = REAL(deflateSetDictionary)(&s->inner, s->dict,
							 s->dictlen);
		s->replay = s->ilen;
		COUNT(deflate_cpu, 1);
	} else {
		ret = REAL(inflateInit2_)(&s->inner, s->wbits, ZLIB_VERSION,
					  (int)sizeof(z_stream));
		COUNT(inflate_cpu, 1);
	}
	if (ret != Z_OK)
		return -1;
	s->inner_live = 1;
	s->mode = M_PASS;
	dev_put(&s->dev);
	return 0;
}

static int pass_deflate(struct wdz *s, int flush)
{
	z_streamp u = s->strm;
	int ret;

	/* First the input taken before the switch. */
	while (s->replay) {
		size_t off = s->ilen - s->replay;
		uInt n = s->replay > 1U << 30 ? 1U << 30 : (uInt)s->replay;

		s->inner.next_in = s->ibuf + off;
		s->inner.avail_in = n;
		s->inner.next_out = u->next_out;
		s->inner.avail_out = u->avail_out;
		ret = REAL(deflate)(&s->inner, Z_NO_FLUSH);
		if (ret != Z_OK && ret != Z_BUF_ERROR)
			return ret;
		s->replay -= n - s->inner.avail_in;
		u->total_out += u->avail_out - s->inner.avail_out;
		u->next_out = s->inner.next_out;
		u->avail_out = s->inner.avail_out;
		u->adler = s->inner.adler;
		if (!u->avail_out)
			return Z_OK;
	}
	inner_in(s);
	s->inner.total_in = u->total_in;	/* counted when taken */
	ret = REAL(deflate)(&s->inner, flush);
	inner_out(s);
	return ret;
}

/* zlib's 2-byte header and gzip's 10-byte header (no name, time 0). */
static int put_header(struct wdz *s)
{
	unsigned char h[10];

	if (s->wrap == 1) {
		unsigned int lvl = s->level == 1 ? 0 : s->level < 6 ? 1 :
				   s->level == 6 ? 2 : 3;
		unsigned int hdr = (0x78 << 8) | (lvl << 6);

		hdr += 31 - hdr % 31;
		h[0] = hdr >> 8;
		h[1] = hdr & 0xff;
		return out_put(s, h, 2);
	}
	if (s->wrap == 2) {
		memset(h, 0, sizeof(h));
		h[0] = 0x1f;
		h[1] = 0x8b;
		h[2] = 8;
		h[8] = s->level == 9 ? 2 : s->level == 1 ? 4 : 0;
		h[9] = 3;
		return out_put(s, h, 10);
	}
	return 0;
}

static int put_trailer(struct wdz *s)
{
	unsigned char t[8];

	if (s->wrap == 1) {
		t[0] = s->check >> 24;
		t[1] = s->check >> 16;
		t[2] = s->check >> 8;
		t[3] = s->check;
		return out_put(s, t, 4);
	}
	if (s->wrap == 2) {
		t[0] = s->check;
		t[1] = s->check >> 8;
		t[2] = s->check >> 16;
		t[3] = s->check >> 24;
		t[4] = s->isize;
		t[5] = s->isize >> 8;
		t[6] = s->isize >> 16;
		t[7] = s->isize >> 24;
		return out_put(s, t, 8);
	}
	return 0;
}

/* A piece on the CPU, in our framing: a fresh raw deflate, flushed. */
static int cpu_piece(struct wdz *s, size_t len, int final)
{
	int ret;

	if (!s->raw_live) {
		memset(&s->raw, 0, sizeof(s->raw));
		if (REAL(deflateInit2_)(&s->raw, s->level, Z_DEFLATED, -15,
					s->memlevel, s->strategy, ZLIB_VERSION,
					(int)sizeof(z_stream)) != Z_OK)
			return -1;
		s->raw_live = 1;
	} else if (REAL(deflateReset)(&s->raw) != Z_OK ||
		   REAL(deflateParams)(&s->raw, s->level, s->strategy) != Z_OK) {
		return -1;
	}
	s->raw.next_in = s->ibuf;
	s->raw.avail_in = len;
	do {
		if (grow(&s->obuf, &s->ocap, s->olen + len / 2 + 4096))
			return -1;
		s->raw.next_out = s->obuf + s->olen;
		s->raw.avail_out = s->ocap - s->olen;
		ret = REAL(deflate)(&s->raw, final ? Z_FINISH : Z_SYNC_FLUSH);
		s->olen = s->ocap - s->raw.avail_out;
		if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
			return -1;
	} while (final ? ret != Z_STREAM_END : s->raw.avail_out == 0 ||
		 s->raw.avail_in);
	COUNT(cpu_pieces, 1);
	return 0;
}

/* WD_ZLIB_SIMULATE: what the device does, by the system zlib. */
static int sim_compress(struct wdz *s, size_t len, int final,
			unsigned char *dst, size_t cap, size_t *out)
{
	z_stream z;
	int ret;

	memset(&z, 0, sizeof(z));
	if (REAL(deflateInit2_)(&z, s->level, Z_DEFLATED, -15, 8,
				Z_DEFAULT_STRATEGY, ZLIB_VERSION,
				(int)sizeof(z)) != Z_OK)
		return -ENOMEM;
	z.next_in = s->ibuf;
	z.avail_in = len;
	z.next_out = dst;
	z.avail_out = cap;
	ret = REAL(deflate)(&z, final ? Z_FINISH : Z_SYNC_FLUSH);
	*out = z.total_out;
	REAL(deflateEnd)(&z);
	if (final)
		return ret == Z_STREAM_END ? 0 : -ENOSPC;
	return ret == Z_OK && !z.avail_in && z.avail_out ? 0 : -ENOSPC;
}

/*
 * The device's raw DEFLATE of ibuf[0..len); a piece that is not the last
 * one ends in a sync flush (WD_CMD_F_SYNC): not final, byte-aligned.
 */
static int dev_compress(struct wdz *s, size_t len, int final,
			unsigned char *dst, size_t cap, size_t *out)
{
	struct wd_cmd cmd = {
		.opcode = WD_OP_DEFLATE,
		.flags = final ? 0 : WD_CMD_F_SYNC,
		.src = (uint64_t)(uintptr_t)s->ibuf,
		.src_len = len,
		.dst = (uint64_t)(uintptr_t)dst,
		.dst_len = cap,
		.param = s->level,
		.format = WD_FMT_RAW,
	};
	struct wd_cqe cqe;
	int ret;

	ret = wd_cmd_start(s->dev.q, &cmd);
	if (!ret)
		ret = wd_cmd_finish(s->dev.q, &cmd, &cqe);
	if (ret)
		return ret;
	if (cqe.result > cap || cqe.consumed != len)
		return -EPROTO;
	*out = cqe.result;
	return 0;
}

/* The device's piece; -1: not done (the caller does it on the CPU). */
static int dev_piece(struct wdz *s, size_t len, int final)
{
	size_t at = s->olen, cap = len + len / 8 + 1024, out = 0;
	size_t stored = len + 5 * (len / 16383 + 1);
	int ret;

	if (!len || len < cfg.threshold || dev_get(&s->dev))
		return -1;
	if (len > s->dev.max_len)
		return -1;
	if (grow(&s->obuf, &s->ocap, at + cap + 8))
		return -1;
	if (cfg.simulate)
		ret = sim_compress(s, len, final, s->obuf + at, cap, &out);
	else
		ret = dev_compress(s, len, final, s->obuf + at, cap, &out);
	if (ret == -ENOSPC)
		return -1;	/* worse than stored: the CPU's stored blocks */
	if (ret) {
		dev_lost(&s->dev);
		return -1;
	}
	if (!cfg.simulate)
		COUNT(dev_cmds, 1);
	COUNT(dev_in, len);
	COUNT(dev_out, out);
	s->olen = at + out;
	if (out > stored) {
		if (cfg.debug)
			fprintf(stderr, "libwd-zlib: piece of %zu bytes -> %zu: larger than stored\n",
				len, out);
		s->olen = at;
		return -1;
	}
	return 0;
}

/* Compress ibuf[0..len) as the next piece of our own framing. */
static int piece(struct wdz *s, size_t len, int final)
{
	if (!s->started) {
		if (put_header(s))
			return -1;
		s->started = 1;
		COUNT(deflate_dev, 1);
	}
	if (!len) {
		/* nothing to compress: an empty block, final or stored */
		if (out_put(s, final ? "\3\0" : "\0\0\0\377\377", final ? 2 : 5))
			return -1;
	} else if (dev_piece(s, len, final) && cpu_piece(s, len, final)) {
		return -1;
	}
	memmove(s->ibuf, s->ibuf + len, s->ilen - len);
	s->ilen -= len;
	if (final) {
		if (put_trailer(s))
			return -1;
		s->finished = 1;
	}
	return 0;
}

static int rank(int f)
{
	return f < 0 ? -1 : (f * 2) - (f > 4 ? 9 : 0);
}

static void take_input(struct wdz *s, size_t n)
{
	z_streamp u = s->strm;

	memcpy(s->ibuf + s->ilen, u->next_in, n);
	if (s->wrap == 2)
		s->check = REAL(crc32)(s->check, u->next_in, n);
	else if (s->wrap == 1)
		s->check = REAL(adler32)(s->check, u->next_in, n);
	s->ilen += n;
	s->isize += n;
	u->next_in += n;
	u->avail_in -= n;
	u->total_in += n;
}

EXPORT int deflate(z_streamp strm, int flush)
{
	if (foreign(strm))
		return REAL(deflate)(strm, flush);
	struct wdz *s = get(strm, K_DEFLATE);
	int old_flush;

	if (!s || flush > Z_BLOCK || flush < 0)
		return Z_STREAM_ERROR;
	if (s->mode == M_PASS)
		return pass_deflate(s, flush);
	if (!strm->next_out || (strm->avail_in && !strm->next_in) ||
	    (s->finished && flush != Z_FINISH)) {
		strm->msg = (char *)"stream error";
		return Z_STREAM_ERROR;
	}
	if (!strm->avail_out) {
		strm->msg = (char *)"buffer error";
		return Z_BUF_ERROR;
	}
	old_flush = s->last_flush;
	s->last_flush = flush;
	s->called = 1;
	if (s->olen) {
		if (drain(s) || !strm->avail_out) {
			s->last_flush = -1;
			return Z_OK;
		}
	} else if (!strm->avail_in && rank(flush) <= rank(old_flush) &&
		   flush != Z_FINISH) {
		strm->msg = (char *)"buffer error";
		return Z_BUF_ERROR;
	}
	if (s->finished && strm->avail_in) {
		strm->msg = (char *)"buffer error";
		return Z_BUF_ERROR;
	}
	for (;;) {
		if (drain(s) || s->finished)
			break;
		if (s->ilen >= CHUNK) {
			if (!s->started && dev_get(&s->dev))
				goto pass;	/* no device: zlib's bytes */
			if (piece(s, CHUNK, 0))
				return Z_MEM_ERROR;
			continue;
		}
		if (strm->avail_in) {
			size_t n = CHUNK - s->ilen;

			if (n > strm->avail_in)
				n = strm->avail_in;
			if (grow(&s->ibuf, &s->icap, s->ilen + n))
				return Z_MEM_ERROR;
			take_input(s, n);
			continue;
		}
		if (flush == Z_NO_FLUSH)
			break;
		/* Short or device-less: all of it on zlib, as zlib would. */
		if (!s->started && (s->ilen < cfg.threshold || dev_get(&s->dev)))
			goto pass;
		if (piece(s, s->ilen, flush == Z_FINISH))
			return Z_MEM_ERROR;
		if (flush != Z_FINISH) {
			drain(s);
			break;
		}
	}
	strm->adler = s->check;
	if (!strm->avail_out)
		s->last_flush = -1;
	if (s->finished && !s->olen)
		return Z_STREAM_END;
	return Z_OK;
pass:
	if (to_pass(s))
		return Z_MEM_ERROR;
	return pass_deflate(s, flush);
}

EXPORT int deflateEnd(z_streamp strm)
{
	if (foreign(strm))
		return REAL(deflateEnd)(strm);
	struct wdz *s = get(strm, K_DEFLATE);
	int ret = Z_OK;

	if (!s)
		return Z_STREAM_ERROR;
	if (s->mode == M_PASS)
		ret = REAL(deflateEnd)(&s->inner);
	else if (s->called && !s->finished)
		ret = Z_DATA_ERROR;	/* as zlib: freed in the middle */
	s->inner_live = 0;
	wdz_free(s);
	strm->state = Z_NULL;
	return ret;
}

static void reset_deflate(struct wdz *s)
{
	z_streamp u = s->strm;

	s->ilen = s->olen = s->ooff = 0;
	s->replay = 0;
	s->started = s->finished = 0;
	s->last_flush = -2;
	s->called = 0;
	s->check = s->wrap == 2 ? 0 : 1;
	s->isize = 0;
	u->total_in = u->total_out = 0;
	u->msg = Z_NULL;
	u->data_type = Z_UNKNOWN;
	u->adler = s->check;
}

EXPORT int deflateResetKeep(z_streamp strm)
{
	if (foreign(strm))
		return REAL(deflateResetKeep)(strm);
	struct wdz *s = get(strm, K_DEFLATE);
	int ret;

	if (!s)
		return Z_STREAM_ERROR;
	if (s->mode == M_PASS) {
		inner_in(s);
		ret = REAL(deflateResetKeep)(&s->inner);
		inner_out(s);
		return ret;
	}
	reset_deflate(s);
	return Z_OK;
}

EXPORT int deflateReset(z_streamp strm)
{
	if (foreign(strm))
		return REAL(deflateReset)(strm);
	struct wdz *s = get(strm, K_DEFLATE);

	if (!s)
		return Z_STREAM_ERROR;
	/* A new stream: the device may serve it even if the last was zlib's. */
	if (s->mode == M_PASS) {
		REAL(deflateEnd)(&s->inner);
		s->inner_live = 0;
		s->mode = M_OWN;
	}
	free(s->dict);
	s->dict = NULL;
	s->dictlen = 0;
	/* Found no free queue last time: try again for the new stream. */
	if (!s->dev.q)
		s->dev.dead = cpu_only(s);
	reset_deflate(s);
	return Z_OK;
}

EXPORT int deflateParams(z_streamp strm, int level, int strategy)
{
	if (foreign(strm))
		return REAL(deflateParams)(strm, level, strategy);
	struct wdz *s = get(strm, K_DEFLATE);
	int ret;

	if (!s)
		return Z_STREAM_ERROR;
	if (level == Z_DEFAULT_COMPRESSION)
		level = 6;
	if (level < 0 || level > 9 || strategy < 0 || strategy > Z_FIXED)
		return Z_STREAM_ERROR;
	if (s->mode == M_OWN && (level == 0 || (strategy != Z_DEFAULT_STRATEGY &&
						strategy != Z_FILTERED)))
		to_pass(s);
	if (s->mode == M_PASS) {
		inner_in(s);
		ret = REAL(deflateParams)(&s->inner, level, strategy);
		inner_out(s);
		return ret;
	}
	/* Our own pieces: the new level applies from the next one. */
	s->level = level;
	s->strategy = strategy;
	if (cpu_only(s)) {
		dev_put(&s->dev);
		s->dev.dead = 1;
	}
	return Z_OK;
}

EXPORT int deflateSetDictionary(z_streamp strm, const Bytef *dictionary,
				uInt dictLength)
{
	if (foreign(strm))
		return REAL(deflateSetDictionary)(strm, dictionary, dictLength);
	struct wdz *s = get(strm, K_DEFLATE);
	int ret;

	if (!s || !dictionary)
		return Z_STREAM_ERROR;
	if (s->mode == M_OWN && s->wrap == 0 && !s->ilen && !s->olen) {
		/*
		 * Raw deflate: a dictionary only lets matches reach into it.
		 * The device does without (the output stays valid for an
		 * inflater that has it); kept for the system zlib if the
		 * stream goes there.
		 */
		free(s->dict);
		s->dict = malloc(dictLength ? dictLength : 1);
		if (!s->dict)
			return Z_MEM_ERROR;
		memcpy(s->dict, dictionary, dictLength);
		s->dictlen = dictLength;
		return Z_OK;
	}
	if (s->mode == M_OWN && (s->wrap == 2 || s->called || to_pass(s)))
		return Z_STREAM_ERROR;	/* as zlib: not now */
	inner_in(s);
	ret = REAL(deflateSetDictionary)(&s->inner, dictionary, dictLength);
	inner_out(s);
	return ret;
}

EXPORT int deflateGetDictionary(z_streamp strm, Bytef *dictionary,
				uInt *dictLength)
{
	if (foreign(strm))
		return REAL(deflateGetDictionary)(strm, dictionary, dictLength);
	struct wdz *s = get(strm, K_DEFLATE);

	if (!s || (s->mode == M_OWN && to_pass(s)))
		return Z_STREAM_ERROR;
	return REAL(deflateGetDictionary)(&s->inner, dictionary, dictLength);
}

EXPORT int deflateSetHeader(z_streamp strm, gz_headerp head)
{
	if (foreign(strm))
		return REAL(deflateSetHeader)(strm, head);
	struct wdz *s = get(strm, K_DEFLATE);

	if (!s || s->wrap != 2 || (s->mode == M_OWN && to_pass(s)))
		return Z_STREAM_ERROR;
	return REAL(deflateSetHeader)(&s->inner, head);
}

EXPORT int deflatePrime(z_streamp strm, int bits, int value)
{
	if (foreign(strm))
		return REAL(deflatePrime)(strm, bits, value);
	struct wdz *s = get(strm, K_DEFLATE);
	int ret;

	if (!s)
		return Z_STREAM_ERROR;
	if (s->mode == M_OWN && to_pass(s))
		return Z_STREAM_ERROR;
	inner_in(s);
	ret = REAL(deflatePrime)(&s->inner, bits, value);
	inner_out(s);
	return ret;
}

EXPORT int deflatePending(z_streamp strm, unsigned *pending, int *bits)
{
	if (foreign(strm))
		return REAL(deflatePending)(strm, pending, bits);
	struct wdz *s = get(strm, K_DEFLATE);

	if (!s)
		return Z_STREAM_ERROR;
	if (s->mode == M_PASS)
		return REAL(deflatePending)(&s->inner, pending, bits);
	/* Our pieces end on a byte: only whole bytes wait. */
	if (pending)
		*pending = s->olen - s->ooff;
	if (bits)
		*bits = 0;
	return Z_OK;
}

EXPORT int deflateTune(z_streamp strm, int good_length, int max_lazy,
		       int nice_length, int max_chain)
{
	if (foreign(strm))
		return REAL(deflateTune)(strm, good_length, max_lazy, nice_length, max_chain);
	struct wdz *s = get(strm, K_DEFLATE);

	if (!s || (s->mode == M_OWN && to_pass(s)))
		return Z_STREAM_ERROR;
	return REAL(deflateTune)(&s->inner, good_length, max_lazy, nice_length,
				 max_chain);
}

EXPORT uLong deflateBound(z_streamp strm, uLong sourceLen)
{
	if (foreign(strm))
		return REAL(deflateBound)(strm, sourceLen);
	struct wdz *s = get(strm, K_DEFLATE);
	uLong wrap = 6;

	if (s && s->mode == M_PASS)
		return REAL(deflateBound)(&s->inner, sourceLen);
	if (s)
		wrap = s->wrap == 0 ? 0 : s->wrap == 1 ? 6 : 18;
	/* Stored blocks at worst, plus a flush marker per piece. */
	return sourceLen + (sourceLen >> 12) + (sourceLen >> 14) +
	       (sourceLen >> 25) + 7 + wrap + 5 * (sourceLen / 16383 + 1) +
	       6 * (sourceLen / CHUNK + 2);
}

EXPORT int deflateCopy(z_streamp dest, z_streamp source)
{
	if (foreign(source))
		return REAL(deflateCopy)(dest, source);
	struct wdz *s = get(source, K_DEFLATE), *d;

	if (!s || !dest || (s->mode == M_OWN && to_pass(s)))
		return Z_STREAM_ERROR;
	d = calloc(1, sizeof(*d));
	if (!d)
		return Z_MEM_ERROR;
	*d = *s;
	memset(&d->dev, 0, sizeof(d->dev));
	d->dev.dead = 1;
	d->obuf = d->ibuf = d->hist = d->dict = NULL;
	d->ocap = d->icap = d->olen = d->ooff = d->ilen = d->replay = 0;
	d->raw_live = 0;
	d->inner_live = 0;
	if (s->replay) {
		d->ibuf = malloc(s->ilen);
		if (!d->ibuf) {
			free(d);
			return Z_MEM_ERROR;
		}
		memcpy(d->ibuf, s->ibuf, s->ilen);
		d->ilen = d->icap = s->ilen;
		d->replay = s->replay;
	}
	*dest = *source;
	d->strm = dest;
	if (REAL(deflateCopy)(&d->inner, &s->inner) != Z_OK) {
		free(d->ibuf);
		free(d);
		return Z_MEM_ERROR;
	}
	d->inner_live = 1;
	dest->state = (struct internal_state *)d;
	return Z_OK;
}

/* ---- inflate --------------------------------------------------------------- */

EXPORT int inflateInit2_(z_streamp strm, int windowBits, const char *version,
			 int stream_size)
{
	struct wdz *s;
	int ret;

	if (!version || version[0] != ZLIB_VERSION[0] ||
	    stream_size != (int)sizeof(z_stream))
		return Z_VERSION_ERROR;
	if (!strm)
		return Z_STREAM_ERROR;
	s = calloc(1, sizeof(*s));
	if (!s)
		return Z_MEM_ERROR;
	/* The system zlib checks windowBits and reads the headers. */
	ret = REAL(inflateInit2_)(&s->inner, windowBits, version, stream_size);
	if (ret != Z_OK) {
		free(s);
		return ret;
	}
	s->inner_live = 1;
	s->magic = WDZ_MAGIC;
	s->kind = K_INFLATE;
	s->strm = strm;
	s->wbits = windowBits;
	s->wrap = windowBits < 0 ? 0 : windowBits >= 32 ? 3 :
		  windowBits > 15 ? 2 : 1;
	s->phase = s->wrap ? P_HEAD : P_BODY;
	strm->state = (struct internal_state *)s;
	strm->total_in = strm->total_out = 0;
	strm->msg = Z_NULL;
	strm->adler = 1;
	return Z_OK;
}

EXPORT int inflateInit_(z_streamp strm, const char *version, int stream_size)
{
	return inflateInit2_(strm, MAX_WBITS, version, stream_size);
}

/* The rest of the stream on the system zlib's inner stream as it stands. */
static int inflate_pass(struct wdz *s, int flush)
{
	int ret;

	if (s->mode != M_PASS) {
		s->mode = M_PASS;
		dev_put(&s->dev);
		COUNT(inflate_cpu, 1);
	}
	inner_in(s);
	ret = REAL(inflate)(&s->inner, flush);
	inner_out(s);
	return ret;
}

static int can_pass(struct wdz *s)
{
	return s->mode == M_PASS || (s->phase == P_HEAD || (s->phase == P_BODY &&
					 !s->body_started));
}

static int bad(struct wdz *s, const char *msg)
{
	s->phase = P_BAD;
	s->strm->msg = (char *)msg;
	return Z_DATA_ERROR;
}

/*
 * The device is lost mid-body: replay the member's compressed data seen so
 * far into a raw inflate on the CPU. Its first s->produced bytes of output
 * were handed out already; what comes after (output the device had not
 * given yet) goes to obuf. 1: the deflate data ended in the replay.
 */
static int body_to_cpu(struct wdz *s)
{
	uint64_t skip = s->produced;
	unsigned char *sink;
	int ret = Z_OK;

	dev_lost(&s->dev);
	if (s->hist_over)
		return -1;
	memset(&s->raw, 0, sizeof(s->raw));
	if (REAL(inflateInit2_)(&s->raw, -15, ZLIB_VERSION,
				(int)sizeof(z_stream)) != Z_OK)
		return -1;
	s->raw_live = 1;
	sink = malloc(OUT_CHUNK);
	if (!sink)
		return -1;
	s->raw.next_in = s->hist;
	s->raw.avail_in = s->hlen;
	while (ret == Z_OK) {
		size_t made, drop;

		s->raw.next_out = sink;
		s->raw.avail_out = OUT_CHUNK;
		ret = REAL(inflate)(&s->raw, Z_SYNC_FLUSH);
		made = OUT_CHUNK - s->raw.avail_out;
		drop = made < skip ? made : skip;
		skip -= drop;
		if (made > drop) {
			if (out_put(s, sink + drop, made - drop)) {
				ret = Z_MEM_ERROR;
				break;
			}
			s->produced += made - drop;
			if (s->gzip_member)
				s->check = REAL(crc32)(s->check, sink + drop, made - drop);
			else if (s->wrap)
				s->check = REAL(adler32)(s->check, sink + drop, made - drop);
		}
		if (ret == Z_BUF_ERROR && !made && !s->raw.avail_in)
			break;
		if (ret == Z_BUF_ERROR)
			ret = Z_OK;
	}
	free(sink);
	if ((ret != Z_BUF_ERROR && ret != Z_STREAM_END) || skip ||
	    s->raw.avail_in)
		return -1;
	s->raw_body = 1;
	return ret == Z_STREAM_END;
}

/* WD_ZLIB_SIMULATE: the device's INFLATE stream, by the system zlib. */
static int sim_inflate(struct wdz *s, const struct wd_cmd *cmd,
		       struct wd_cqe *cqe)
{
	z_stream *z = &s->sim;
	int ret;

	if (sim_lose >= 0 && sim_lose-- == 0)
		return -ENODEV;
	if (!(cmd->flags & WD_CMD_F_CONTINUE)) {
		if (s->sim_live)
			REAL(inflateEnd)(z);
		memset(z, 0, sizeof(*z));
		if (REAL(inflateInit2_)(z, -15, ZLIB_VERSION,
					(int)sizeof(*z)) != Z_OK)
			return -ENOMEM;
		s->sim_live = 1;
	}
	z->next_in = (Bytef *)(uintptr_t)cmd->src;
	z->avail_in = cmd->src_len;
	z->next_out = (Bytef *)(uintptr_t)cmd->dst;
	z->avail_out = cmd->dst_len;
	ret = REAL(inflate)(z, Z_SYNC_FLUSH);
	memset(cqe, 0, sizeof(*cqe));
	cqe->tag = cmd->tag;
	cqe->consumed = cmd->src_len - z->avail_in;
	cqe->result = cmd->dst_len - z->avail_out;
	cqe->status = ret == Z_STREAM_END ? WD_ST_OK :
		      ret == Z_OK || ret == Z_BUF_ERROR ? WD_ST_MORE :
		      WD_ST_CORRUPT;
	return 0;
}

/*
 * One step of the body, into obuf (empty on entry). 1: the deflate data
 * ended. *@err: a zlib error to return.
 */
static int body_step(struct wdz *s, int *err)
{
	z_streamp u = s->strm;
	struct wd_cmd cmd;
	struct wd_cqe cqe;
	size_t used, made;
	int ret, end;

	*err = Z_OK;
	if (grow(&s->obuf, &s->ocap, OUT_CHUNK)) {
		*err = Z_MEM_ERROR;
		return 0;
	}
	if (!s->raw_body) {
		memset(&cmd, 0, sizeof(cmd));
		cmd.opcode = WD_OP_INFLATE;
		cmd.format = WD_FMT_RAW;
		cmd.flags = WD_CMD_F_STREAM | (s->dev_more ? WD_CMD_F_CONTINUE : 0);
		cmd.src = (uintptr_t)u->next_in;
		cmd.dst = (uintptr_t)s->obuf;
		cmd.dst_len = OUT_CHUNK;
		ret = dev_get(&s->dev);
		cmd.src_len = u->avail_in < s->dev.max_len ? u->avail_in :
							    s->dev.max_len;
		if (!ret)
			ret = cfg.simulate ? sim_inflate(s, &cmd, &cqe) :
					     dev_run(&s->dev, &cmd, &cqe);
		if (!ret && (cqe.status == WD_ST_OK || cqe.status == WD_ST_MORE) &&
		    cqe.consumed <= cmd.src_len && cqe.result <= cmd.dst_len) {
			used = cqe.consumed;
			made = cqe.result;
			s->dev_more = cqe.status == WD_ST_MORE;
			end = !s->dev_more;
			COUNT(dev_in, used);
			COUNT(dev_out, made);
			goto took;
		}
		if (!ret && cqe.status == WD_ST_CORRUPT) {
			*err = bad(s, "invalid compressed data (found by the accelerator)");
			return 0;
		}
		/* Gone, cancelled, or an answer that makes no sense. */
		s->dev_more = 0;
		ret = body_to_cpu(s);
		if (ret < 0) {
			s->phase = P_BAD;
			u->msg = (char *)"accelerator lost mid-stream";
			*err = Z_STREAM_ERROR;
			return 0;
		}
		s->out_full = 1;	/* go on from the replay at once */
		if (ret == 1 || s->olen)
			return ret;
		/* nothing new from the replay: on with the caller's input */
	}
	s->raw.next_in = u->next_in;
	s->raw.avail_in = u->avail_in;
	s->raw.next_out = s->obuf;
	s->raw.avail_out = OUT_CHUNK;
	ret = REAL(inflate)(&s->raw, Z_SYNC_FLUSH);
	if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR) {
		*err = bad(s, s->raw.msg ? s->raw.msg : "invalid compressed data");
		return 0;
	}
	used = u->avail_in - s->raw.avail_in;
	made = OUT_CHUNK - s->raw.avail_out;
	end = ret == Z_STREAM_END;
took:
	if (!s->hist_over && !s->raw_body) {
		if (s->hlen + used > HIST_MAX ||
		    grow(&s->hist, &s->hcap, s->hlen + used)) {
			s->hist_over = 1;
		} else {
			memcpy(s->hist + s->hlen, u->next_in, used);
			s->hlen += used;
		}
	}
	u->next_in += used;
	u->avail_in -= used;
	u->total_in += used;
	s->olen = made;
	s->ooff = 0;
	s->produced += made;
	s->out_full = made == OUT_CHUNK;
	if (made) {
		if (s->gzip_member)
			s->check = REAL(crc32)(s->check, s->obuf, made);
		else if (s->wrap)
			s->check = REAL(adler32)(s->check, s->obuf, made);
	}
	return end;
}

static uint32_t get32(const unsigned char *p, int big)
{
	return big ? (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3] :
		     (uint32_t)p[3] << 24 | p[2] << 16 | p[1] << 8 | p[0];
}

EXPORT int inflate(z_streamp strm, int flush)
{
	if (foreign(strm))
		return REAL(inflate)(strm, flush);
	struct wdz *s = get(strm, K_INFLATE);
	uLong in0, out0;
	int ret = Z_OK, err;

	if (!s || flush < 0 || flush > Z_TREES)
		return Z_STREAM_ERROR;
	if (s->mode == M_PASS)
		return inflate_pass(s, flush);
	if (!strm->next_out || (!strm->next_in && strm->avail_in))
		return Z_STREAM_ERROR;
	if (flush == Z_BLOCK || flush == Z_TREES) {
		if (can_pass(s))
			return inflate_pass(s, flush);
		flush = Z_SYNC_FLUSH;	/* no block boundaries from the device */
	}
	in0 = strm->avail_in;
	out0 = strm->avail_out;
	if (s->phase == P_HEAD) {
		int first = strm->avail_in && s->inner.total_in == 0 ?
			    strm->next_in[0] : -1;

		if (first >= 0)
			s->gzip_member = first == 0x1f && s->wrap != 1;
		inner_in(s);
		ret = REAL(inflate)(&s->inner, Z_BLOCK);
		inner_out(s);
		if (ret == Z_NEED_DICT) {
			/* A preset dictionary: the stream is zlib's. */
			s->mode = M_PASS;
			COUNT(inflate_cpu, 1);
			return ret;
		}
		if (ret != Z_OK && ret != Z_BUF_ERROR)
			return ret;
		if (!(strm->data_type & 128))
			return ret;	/* header not complete yet */
		s->phase = P_BODY;
		s->check = s->gzip_member ? 0 : 1;
		if (!strm->avail_in)
			return Z_OK;
	}
	if (s->phase == P_BODY && !s->body_started) {
		if (cfg.disabled || strm->avail_in < cfg.threshold ||
		    dev_get(&s->dev))
			return inflate_pass(s, flush);
		s->body_started = 1;
		COUNT(inflate_dev, 1);
	}
	for (;;) {
		if (drain(s))
			break;
		if (s->phase == P_BODY) {
			uLong ain = strm->avail_in;
			uint64_t made = s->produced;
			int r;

			if (!strm->avail_in && !s->out_full)
				break;	/* needs input */
			r = body_step(s, &err);
			if (err)
				return err;
			if (r == 1)
				s->phase = s->wrap ? P_TRAILER : P_DONE;
			else if (ain == strm->avail_in && made == s->produced &&
				 !s->olen)
				break;	/* no progress */
			continue;
		}
		if (s->phase == P_TRAILER) {
			int need = s->gzip_member ? 8 : 4;

			while (s->tlen < need && strm->avail_in) {
				s->trailer[s->tlen++] = *strm->next_in++;
				strm->avail_in--;
				strm->total_in++;
			}
			if (s->tlen < need)
				break;
			if (get32(s->trailer, !s->gzip_member) != (uint32_t)s->check)
				return bad(s, "incorrect data check");
			if (s->gzip_member &&
			    get32(s->trailer + 4, 0) != (uint32_t)s->produced)
				return bad(s, "incorrect length check");
			s->phase = P_DONE;
			continue;
		}
		break;
	}
	if (s->phase == P_BAD)
		return Z_DATA_ERROR;
	strm->adler = s->check;
	if (s->phase == P_DONE && !s->olen) {
		dev_put(&s->dev);	/* the queue is free for others */
		return Z_STREAM_END;
	}
	if ((in0 == strm->avail_in && out0 == strm->avail_out) ||
	    flush == Z_FINISH)
		return Z_BUF_ERROR;
	return Z_OK;
}

EXPORT int inflateEnd(z_streamp strm)
{
	if (foreign(strm))
		return REAL(inflateEnd)(strm);
	struct wdz *s = get(strm, K_INFLATE);

	if (!s)
		return Z_STREAM_ERROR;
	wdz_free(s);
	strm->state = Z_NULL;
	return Z_OK;
}

static int reset_inflate(struct wdz *s, int wbits, int keep)
{
	z_streamp u = s->strm;
	int ret;

	ret = keep ? REAL(inflateResetKeep)(&s->inner) :
		     wbits == s->wbits ? REAL(inflateReset)(&s->inner) :
		     REAL(inflateReset2)(&s->inner, wbits);
	if (ret != Z_OK)
		return ret;
	if (s->raw_live)
		REAL(inflateEnd)(&s->raw);
	s->raw_live = 0;
	if (s->dev_more && s->dev.q)
		dev_put(&s->dev);	/* a device stream left open */
	s->mode = M_OWN;
	s->wbits = wbits;
	s->wrap = wbits < 0 ? 0 : wbits >= 32 ? 3 : wbits > 15 ? 2 : 1;
	s->phase = s->wrap ? P_HEAD : P_BODY;
	s->body_started = s->dev_more = s->raw_body = s->out_full = 0;
	s->gzip_member = 0;
	s->tlen = 0;
	s->hlen = 0;
	s->hist_over = 0;
	s->produced = 0;
	s->olen = s->ooff = 0;
	s->check = 1;
	u->total_in = u->total_out = 0;
	u->msg = Z_NULL;
	u->adler = 1;
	return Z_OK;
}

EXPORT int inflateReset(z_streamp strm)
{
	if (foreign(strm))
		return REAL(inflateReset)(strm);
	struct wdz *s = get(strm, K_INFLATE);

	return s ? reset_inflate(s, s->wbits, 0) : Z_STREAM_ERROR;
}

EXPORT int inflateReset2(z_streamp strm, int windowBits)
{
	if (foreign(strm))
		return REAL(inflateReset2)(strm, windowBits);
	struct wdz *s = get(strm, K_INFLATE);

	return s ? reset_inflate(s, windowBits, 0) : Z_STREAM_ERROR;
}

EXPORT int inflateResetKeep(z_streamp strm)
{
	if (foreign(strm))
		return REAL(inflateResetKeep)(strm);
	struct wdz *s = get(strm, K_INFLATE);

	return s ? reset_inflate(s, s->wbits, 1) : Z_STREAM_ERROR;
}

/* The inner stream for a call only the system zlib answers. */
#define INFLATE_PASS_CALL(strm, err, call) ({				\
	struct wdz *s_ = get(strm, K_INFLATE);				\
	__typeof__(call) r_ = (err);					\
	if (s_ && can_pass(s_)) {					\
		if (s_->mode != M_PASS) {				\
			s_->mode = M_PASS;				\
			dev_put(&s_->dev);				\
			COUNT(inflate_cpu, 1);				\
		}							\
		inner_in(s_);						\
		r_ = (call);						\
		inner_out(s_);						\
	}								\
	r_;								\
})

EXPORT int inflateSetDictionary(z_streamp strm, const Bytef *dictionary,
				uInt dictLength)
{
	if (foreign(strm))
		return REAL(inflateSetDictionary)(strm, dictionary, dictLength);
	return INFLATE_PASS_CALL(strm, Z_STREAM_ERROR,
		REAL(inflateSetDictionary)(&s_->inner, dictionary, dictLength));
}

EXPORT int inflateGetDictionary(z_streamp strm, Bytef *dictionary,
				uInt *dictLength)
{
	if (foreign(strm))
		return REAL(inflateGetDictionary)(strm, dictionary, dictLength);
	return INFLATE_PASS_CALL(strm, Z_STREAM_ERROR,
		REAL(inflateGetDictionary)(&s_->inner, dictionary, dictLength));
}

EXPORT int inflateSync(z_streamp strm)
{
	if (foreign(strm))
		return REAL(inflateSync)(strm);
	return INFLATE_PASS_CALL(strm, Z_STREAM_ERROR,
				 REAL(inflateSync)(&s_->inner));
}

EXPORT int inflateSyncPoint(z_streamp strm)
{
	if (foreign(strm))
		return REAL(inflateSyncPoint)(strm);
	return INFLATE_PASS_CALL(strm, Z_STREAM_ERROR,
				 REAL(inflateSyncPoint)(&s_->inner));
}

EXPORT int inflatePrime(z_streamp strm, int bits, int value)
{
	if (foreign(strm))
		return REAL(inflatePrime)(strm, bits, value);
	return INFLATE_PASS_CALL(strm, Z_STREAM_ERROR,
				 REAL(inflatePrime)(&s_->inner, bits, value));
}

EXPORT long inflateMark(z_streamp strm)
{
	if (foreign(strm))
		return REAL(inflateMark)(strm);
	return INFLATE_PASS_CALL(strm, -65536L, REAL(inflateMark)(&s_->inner));
}

EXPORT int inflateGetHeader(z_streamp strm, gz_headerp head)
{
	if (foreign(strm))
		return REAL(inflateGetHeader)(strm, head);
	return INFLATE_PASS_CALL(strm, Z_STREAM_ERROR,
				 REAL(inflateGetHeader)(&s_->inner, head));
}

EXPORT int inflateUndermine(z_streamp strm, int subvert)
{
	if (foreign(strm))
		return REAL(inflateUndermine)(strm, subvert);
	return INFLATE_PASS_CALL(strm, Z_STREAM_ERROR,
				 REAL(inflateUndermine)(&s_->inner, subvert));
}

EXPORT int inflateValidate(z_streamp strm, int check)
{
	if (foreign(strm))
		return REAL(inflateValidate)(strm, check);
	return INFLATE_PASS_CALL(strm, Z_STREAM_ERROR,
				 REAL(inflateValidate)(&s_->inner, check));
}

EXPORT unsigned long inflateCodesUsed(z_streamp strm)
{
	if (foreign(strm))
		return REAL(inflateCodesUsed)(strm);
	return INFLATE_PASS_CALL(strm, (unsigned long)-1,
				 REAL(inflateCodesUsed)(&s_->inner));
}

EXPORT int inflateCopy(z_streamp dest, z_streamp source)
{
	if (foreign(source))
		return REAL(inflateCopy)(dest, source);
	struct wdz *s = get(source, K_INFLATE), *d;

	if (!s || !dest || !can_pass(s))
		return Z_STREAM_ERROR;
	if (s->mode != M_PASS) {
		s->mode = M_PASS;
		dev_put(&s->dev);
		COUNT(inflate_cpu, 1);
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return Z_MEM_ERROR;
	*d = *s;
	memset(&d->dev, 0, sizeof(d->dev));
	d->obuf = d->ibuf = d->hist = d->dict = NULL;
	d->ocap = d->hcap = d->olen = d->ooff = d->hlen = 0;
	d->raw_live = 0;
	inner_in(s);
	if (REAL(inflateCopy)(&d->inner, &s->inner) != Z_OK) {
		free(d);
		return Z_MEM_ERROR;
	}
	*dest = *source;
	d->strm = dest;
	dest->state = (struct internal_state *)d;
	return Z_OK;
}

/* ---- one-shot ---------------------------------------------------------- */

EXPORT int compress2(Bytef *dest, uLongf *destLen, const Bytef *source,
		     uLong sourceLen, int level)
{
	z_stream z;
	int ret;

	memset(&z, 0, sizeof(z));
	ret = deflateInit_(&z, level, ZLIB_VERSION, (int)sizeof(z));
	if (ret != Z_OK)
		return ret;
	z.next_in = (Bytef *)source;
	z.next_out = dest;
	/* Larger than 4 GiB: zlib's own loop. */
	if (sourceLen > 0xffffffffUL || *destLen > 0xffffffffUL) {
		deflateEnd(&z);
		return REAL(compress2)(dest, destLen, source, sourceLen, level);
	}
	z.avail_in = sourceLen;
	z.avail_out = *destLen;
	ret = deflate(&z, Z_FINISH);
	if (ret != Z_STREAM_END && ((struct wdz *)z.state)->mode == M_OWN) {
		/* Our pieces did not fit where zlib's would: zlib's then. */
		deflateEnd(&z);
		memset(&z, 0, sizeof(z));
		/* deflateInit2_: zlib's deflateInit_ calls ours */
		if (REAL(deflateInit2_)(&z, level, Z_DEFLATED, MAX_WBITS, 8,
					Z_DEFAULT_STRATEGY, ZLIB_VERSION,
					(int)sizeof(z)) != Z_OK)
			return Z_MEM_ERROR;
		z.next_in = (Bytef *)source;
		z.avail_in = sourceLen;
		z.next_out = dest;
		z.avail_out = *destLen;
		ret = REAL(deflate)(&z, Z_FINISH);
		*destLen = z.total_out;
		REAL(deflateEnd)(&z);
		return ret == Z_STREAM_END ? Z_OK : ret == Z_OK ? Z_BUF_ERROR : ret;
	}
	*destLen = z.total_out;
	deflateEnd(&z);
	return ret == Z_STREAM_END ? Z_OK : ret == Z_OK ? Z_BUF_ERROR : ret;
}

EXPORT int compress(Bytef *dest, uLongf *destLen, const Bytef *source,
		    uLong sourceLen)
{
	return compress2(dest, destLen, source, sourceLen, Z_DEFAULT_COMPRESSION);
}

/* zlib's uncompress2() contract, on our inflate. */
EXPORT int uncompress2(Bytef *dest, uLongf *destLen, const Bytef *source,
		       uLong *sourceLen)
{
	unsigned char spare[1];
	uLong len = *sourceLen, left = *destLen;
	z_stream z;
	int ret;

	if (len > 0xffffffffUL || left > 0xffffffffUL)
		return REAL(uncompress2)(dest, destLen, source, sourceLen);
	if (!left) {
		dest = spare;	/* detect data past an empty output */
		left = 1;
	}
	memset(&z, 0, sizeof(z));
	ret = inflateInit_(&z, ZLIB_VERSION, (int)sizeof(z));
	if (ret != Z_OK)
		return ret;
	z.next_in = (Bytef *)source;
	z.avail_in = len;
	z.next_out = dest;
	z.avail_out = left;
	ret = inflate(&z, Z_NO_FLUSH);
	*sourceLen = len - z.avail_in;
	if (dest != spare)
		*destLen = z.total_out;
	inflateEnd(&z);
	if (ret == Z_STREAM_END)
		return Z_OK;
	if (ret == Z_NEED_DICT)
		return Z_DATA_ERROR;
	if (ret == Z_BUF_ERROR || ret == Z_OK)
		return z.avail_out == 0 ? Z_BUF_ERROR : Z_DATA_ERROR;
	return ret;
}

EXPORT int uncompress(Bytef *dest, uLongf *destLen, const Bytef *source,
		      uLong sourceLen)
{
	return uncompress2(dest, destLen, source, &sourceLen);
}
