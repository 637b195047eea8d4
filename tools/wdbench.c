// SPDX-License-Identifier: GPL-2.0
/*
 * wdbench: WarpDrive benchmarks, reported as ratios against a baseline
 * measured in the same run (absolute times are never judged).
 *
 *   wdbench [--quick] [--scenario NAME] [--list] [-D DEVICE]
 *
 * roundtrip  small commands (NOP, COPY of 64 bytes) through the mapped
 *            rings without system calls, against one syscall per command
 * copy       COPY throughput against memcpy() on the same buffers
 * deflate    DEFLATE/INFLATE (gzip) against user-space zlib
 * mmu        shared virtual addressing against pinned sharing: steady
 *            COPY throughput, first-touch cost (pages per device fault),
 *            and COPY under an invalidation storm
 * devmem     time to make device memory accessible (map + every page
 *            touched once) by each path, against one fault per page and
 *            against the kernel's anonymous memory (touch, MAP_POPULATE);
 *            then the same on memory reserved with fallocate() beforehand
 *            (the cost of mapping alone); the best of three rounds
 * migrate    migration of 4 KiB-page ranges to device-private memory and
 *            back, against the kernel's test_hmm driver (loaded for the
 *            measure, through the same ioctls) and memcpy of the same size
 *
 * vcrypto   AES-128-CBC requests per second at 4 and 64 KiB on the
 *            wd_vcrypto device (polled queues, SVA and pinned) against
 *            AF_ALG on the kernel's virtio_crypto device and AF_ALG
 *            software AES (cbc(aes-generic)); each ratio is the median of
 *            5 alternating rounds, with its spread
 *
 * Every result is checked (copies compared, compressed data inflated back
 * with zlib); any accelerator error makes the exit status non-zero.
 */
#include <errno.h>
#include <linux/if_alg.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "libwd.h"
#include "hmm_compat.h"	/* test ABI: module/soft/, not installed */

#define MIB		(1UL << 20)
#define SLOT		64		/* bytes per roundtrip COPY */
#define BATCH		32		/* commands per submit/reap call */
#define STALL_SECS	10		/* no completion for this long: error */

static struct wd_dev *dev;
static struct wd_queue *queue;
static int quick;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* Keep the compiler from dropping work on @p. */
static inline void use(void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

static int __attribute__((format(printf, 2, 3)))
fail(const char *scenario, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "wdbench: %s: ", scenario);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static void *alloc_buf(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, len ? len : 1))
		return NULL;
	memset(p, 0, len);	/* populate: no first-touch faults in timings */
	return p;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	/* xorshift64*: fixed seed, same data every run */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void fill_random(unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = rng() >> 56;
}

/* Text-like data: words of a small vocabulary, spaces, lines. */
static void fill_text(unsigned char *p, size_t len)
{
	static const char *const words[] = {
		"the", "of", "and", "to", "in", "is", "that", "for", "it", "as",
		"was", "with", "be", "by", "on", "not", "he", "this", "are",
		"or", "his", "from", "at", "which", "but", "have", "an", "had",
		"they", "you", "were", "their", "one", "all", "we", "can", "her",
		"has", "there", "been", "if", "more", "when", "will", "would",
		"who", "so", "no", "memory", "device", "queue", "kernel",
		"process", "page", "accelerator", "completion", "submission",
		"virtual", "address", "mapping", "driver", "engine", "ring",
		"interrupt",
	};
	size_t n = 0, col = 0;

	while (n < len) {
		const char *w = words[rng() % (sizeof(words) / sizeof(words[0]))];
		size_t wl = strlen(w);

		while (*w && n < len)
			p[n++] = *w++;
		col += wl + 1;
		if (n < len) {
			if (col > 64 + rng() % 16) {
				p[n++] = '\n';
				col = 0;
			} else {
				p[n++] = rng() % 23 ? ' ' : ',';
			}
		}
	}
}

/* Table */

static void header(void)
{
	printf("%-10s %-32s %18s %18s %8s  %s\n", "SCENARIO", "MEASURE",
	       "WARPDRIVE", "BASELINE", "RATIO", "GOAL");
}

static void row(const char *scenario, const char *measure, const char *accel,
		const char *base, double ratio, const char *goal)
{
	char r[32];

	if (isnan(ratio))
		snprintf(r, sizeof(r), "-");
	else
		snprintf(r, sizeof(r), "%.2fx", ratio);
	printf("%-10s %-32s %18s %18s %8s  %s\n", scenario, measure, accel, base,
	       r, goal ? goal : "");
	fflush(stdout);
}

/* roundtrip */

struct rt {
	int op;			/* WD_OP_NOP or WD_OP_COPY */
	unsigned int depth;	/* commands kept in flight */
	unsigned char *src;	/* depth x SLOT */
	unsigned char *dst;
};

static void rt_cmd(const struct rt *rt, uint64_t idx, struct wd_cmd *cmd)
{
	size_t off = (idx % rt->depth) * SLOT;

	memset(cmd, 0, sizeof(*cmd));
	cmd->opcode = rt->op;
	cmd->tag = idx;
	if (rt->op == WD_OP_COPY) {
		cmd->src = (uintptr_t)(rt->src + off);
		cmd->src_len = SLOT;
		cmd->dst = (uintptr_t)(rt->dst + off);
		cmd->dst_len = SLOT;
	}
}

static int rt_check(const struct rt *rt, const struct wd_cqe *cqe)
{
	if (cqe->status != WD_ST_OK)
		return fail("roundtrip", "command %llu failed: %s",
			    (unsigned long long)cqe->tag, wd_status_str(cqe->status));
	if (cqe->opcode != (uint32_t)rt->op ||
	    (rt->op == WD_OP_COPY && cqe->result != SLOT))
		return fail("roundtrip", "command %llu: bad completion (opcode %u, "
			    "result %llu)", (unsigned long long)cqe->tag,
			    cqe->opcode, (unsigned long long)cqe->result);
	return 0;
}

/* The destination slots written by @count copies hold their sources. */
static int rt_verify(const struct rt *rt, uint64_t count)
{
	size_t used = count < rt->depth ? count : rt->depth;

	if (rt->op == WD_OP_COPY && memcmp(rt->dst, rt->src, used * SLOT))
		return fail("roundtrip", "COPY output differs from its input");
	memset(rt->dst, 0, (size_t)rt->depth * SLOT);
	return 0;
}

/*
 * No completion came for a second: sleep until one does. The rings alone
 * never block, so a stalled engine would otherwise be spun on for ever.
 */
static int rt_stalled(void)
{
	int ret;

	ret = wd_wait(queue, STALL_SECS * 1000);
	if (ret == -ETIMEDOUT)
		return fail("roundtrip", "no completion for %d s (%u in flight)",
			    STALL_SECS + 1, wd_queue_inflight(queue));
	if (ret && ret != -EINTR)
		return fail("roundtrip", "wait: %s", wd_strerror(ret));
	return 0;
}

/*
 * Polled: keep up to rt->depth commands in flight, submitting and reaping
 * in batches, never waiting in the kernel. Stops early after @max_secs.
 */
static int rt_polled(const struct rt *rt, uint64_t n, double max_secs,
		     uint64_t *done, uint64_t *kicks, double *secs)
{
	uint64_t submitted = 0, completed = 0, seen = 0;
	uint64_t k0 = wd_queue_kicks(queue);
	struct wd_cmd cmds[BATCH];
	struct wd_cqe cqes[BATCH];
	double t0 = now(), seen_t = t0;
	unsigned long loops = 0;
	int r, i;

	while (completed < n) {
		uint32_t inflight = wd_queue_inflight(queue);

		if (submitted < n && inflight < rt->depth) {
			uint64_t k = rt->depth - inflight;

			if (k > n - submitted)
				k = n - submitted;
			if (k > BATCH)
				k = BATCH;
			for (i = 0; i < (int)k; i++)
				rt_cmd(rt, submitted + i, &cmds[i]);
			r = wd_submit_batch(queue, cmds, k);
			if (r < 0)
				return fail("roundtrip", "submit: %s", wd_strerror(r));
			submitted += r;
		}
		r = wd_reap(queue, cqes, BATCH);
		if (r < 0)
			return fail("roundtrip", "reap: %s", wd_strerror(r));
		for (i = 0; i < r; i++)
			if (rt_check(rt, &cqes[i]))
				return -1;
		completed += r;
		if (!r)
			cpu_relax();
		if (++loops % 4096 == 0) {
			double t = now();

			if (t - t0 > max_secs)
				n = submitted;		/* drain and stop */
			if (completed != seen) {
				seen = completed;
				seen_t = t;
			} else if (t - seen_t > 1.0 && rt_stalled()) {
				return -1;
			}
		}
	}
	*secs = now() - t0;
	*kicks = wd_queue_kicks(queue) - k0;
	*done = completed;
	return rt_verify(rt, completed);
}

/*
 * One system call per command: submit, ring the doorbell, sleep in poll()
 * until the completion arrives, reap it.
 */
static int rt_syscall(const struct rt *rt, uint64_t n, double max_secs,
		      uint64_t *done, uint64_t *kicks, double *secs)
{
	uint64_t i, k0 = wd_queue_kicks(queue);
	double t0 = now();
	struct wd_cqe cqe;
	struct wd_cmd cmd;
	int r;

	for (i = 0; i < n; i++) {
		uint64_t before = wd_queue_kicks(queue);

		if (i % 256 == 0 && i && now() - t0 > max_secs)
			break;
		rt_cmd(rt, i, &cmd);
		r = wd_submit(queue, &cmd);
		/* wd_submit() kicks when the engine sleeps: once is enough */
		if (!r && wd_queue_kicks(queue) == before)
			r = wd_kick(queue);
		if (r)
			return fail("roundtrip", "submit: %s", wd_strerror(r));
		do {
			r = wd_wait(queue, STALL_SECS * 1000);
			if (r == -EINTR)
				continue;
			if (r)
				return fail("roundtrip", "wait: %s", wd_strerror(r));
			r = wd_reap(queue, &cqe, 1);
			if (r < 0)
				return fail("roundtrip", "reap: %s", wd_strerror(r));
		} while (r != 1);
		if (rt_check(rt, &cqe))
			return -1;
	}
	*secs = now() - t0;
	*kicks = wd_queue_kicks(queue) - k0;
	*done = i;
	return rt_verify(rt, i);
}

static uint64_t dev_stat(const char *name);

/* Commands per engine wake-up, as text ("no sleep" when it never slept). */
static void per_wakeup(char *s, size_t n, uint64_t cmds, uint64_t wakeups)
{
	if (wakeups)
		snprintf(s, n, "%.1f", (double)cmds / wakeups);
	else
		snprintf(s, n, "no sleep");
}

static int roundtrip_one(struct rt *rt, const char *name)
{
	uint64_t n_poll = quick ? 20000 : 400000, n_sys = quick ? 2000 : 40000;
	double cap = quick ? 2.0 : 10.0, t_poll, t_sys, r_poll, r_sys;
	uint64_t done_poll, done_sys, k_poll, k_sys, w0, w_sys, w_poll;
	char measure[64], a[32], b[32];

	/*
	 * Each mode after a warm-up of its own (engine running, pages and
	 * caches hot), which is not counted: the polled kicks are those of
	 * the steady state. The engine's wake-ups (sysfs stats) are those of
	 * the measured runs.
	 */
	if (rt_syscall(rt, n_sys / 10, cap, &done_sys, &k_sys, &t_sys))
		return -1;
	w0 = dev_stat("engine_wakeups");
	if (rt_syscall(rt, n_sys, cap, &done_sys, &k_sys, &t_sys))
		return -1;
	w_sys = dev_stat("engine_wakeups") - w0;
	if (rt_polled(rt, n_poll / 10, cap, &done_poll, &k_poll, &t_poll))
		return -1;
	w0 = dev_stat("engine_wakeups");
	if (rt_polled(rt, n_poll, cap, &done_poll, &k_poll, &t_poll))
		return -1;
	w_poll = dev_stat("engine_wakeups") - w0;

	r_poll = done_poll / t_poll;
	r_sys = done_sys / t_sys;
	snprintf(measure, sizeof(measure), "%s cmd/s: polled | 1 syscall", name);
	snprintf(a, sizeof(a), "%.0f", r_poll);
	snprintf(b, sizeof(b), "%.0f", r_sys);
	row("roundtrip", measure, a, b, r_poll / r_sys, ">= 5x");
	snprintf(measure, sizeof(measure), "%s kicks/cmd: polled | 1 syscall",
		 name);
	snprintf(a, sizeof(a), "%.4f", (double)k_poll / done_poll);
	snprintf(b, sizeof(b), "%.4f", (double)k_sys / done_sys);
	row("roundtrip", measure, a, b, NAN, "polled: 0");
	snprintf(measure, sizeof(measure), "%s cmds/engine wake-up: pol | sys",
		 name);
	per_wakeup(a, sizeof(a), done_poll, w_poll);
	per_wakeup(b, sizeof(b), done_sys, w_sys);
	row("roundtrip", measure, a, b, NAN, NULL);
	return 0;
}

static int scenario_roundtrip(void)
{
	uint32_t sq = wd_queue_sq_entries(queue), cq = wd_queue_cq_entries(queue);
	struct rt rt;
	int ret;

	/* No more in flight than the completion ring holds: never stalls. */
	rt.depth = sq < cq ? sq : cq;
	rt.src = alloc_buf((size_t)rt.depth * SLOT);
	rt.dst = alloc_buf((size_t)rt.depth * SLOT);
	if (!rt.src || !rt.dst) {
		free(rt.src);
		free(rt.dst);
		return fail("roundtrip", "out of memory");
	}
	fill_random(rt.src, (size_t)rt.depth * SLOT);
	rt.op = WD_OP_NOP;
	ret = roundtrip_one(&rt, "NOP");
	if (!ret) {
		rt.op = WD_OP_COPY;
		ret = roundtrip_one(&rt, "COPY64");
	}
	free(rt.src);
	free(rt.dst);
	return ret;
}

/* copy */

static int copy_one(size_t size, int iters)
{
	unsigned char *src = alloc_buf(size), *dst = alloc_buf(size);
	double t_acc, t_mem, t;
	char measure[64], a[32], b[32];
	int ret = -1, i, err;

	if (!src || !dst) {
		fail("copy", "out of memory");
		goto out;
	}
	fill_random(src, size);

	/* Warm-up, checked. */
	err = wd_copy(queue, dst, src, size);
	if (err) {
		fail("copy", "%zu MiB: %s", size / MIB, wd_strerror(err));
		goto out;
	}
	if (memcmp(dst, src, size)) {
		fail("copy", "%zu MiB: output differs from input", size / MIB);
		goto out;
	}
	memset(dst, 0, size);

	t = now();
	for (i = 0; i < iters; i++) {
		err = wd_copy(queue, dst, src, size);
		if (err) {
			fail("copy", "%zu MiB: %s", size / MIB, wd_strerror(err));
			goto out;
		}
	}
	t_acc = now() - t;
	if (memcmp(dst, src, size)) {
		fail("copy", "%zu MiB: output differs from input", size / MIB);
		goto out;
	}

	memcpy(dst, src, size);		/* warm-up */
	t = now();
	for (i = 0; i < iters; i++) {
		memcpy(dst, src, size);
		use(dst);
	}
	t_mem = now() - t;

	snprintf(measure, sizeof(measure), "%zu MiB x %d MB/s: COPY | memcpy",
		 size / MIB, iters);
	snprintf(a, sizeof(a), "%.1f", size * (double)iters / t_acc / 1e6);
	snprintf(b, sizeof(b), "%.1f", size * (double)iters / t_mem / 1e6);
	row("copy", measure, a, b, t_mem / t_acc, NULL);
	ret = 0;
out:
	free(src);
	free(dst);
	return ret;
}

static int scenario_copy(void)
{
	if (quick)
		return copy_one(MIB, 8) || copy_one(4 * MIB, 2) ? -1 : 0;
	return copy_one(MIB, 64) || copy_one(16 * MIB, 8) ? -1 : 0;
}

/* deflate */

/* zlib, gzip framing: compress @in at @level into @out (cap @cap). */
static int zlib_gzip(int level, const void *in, size_t len, void *out,
		     size_t cap, size_t *out_len)
{
	z_stream s;
	int ret;

	memset(&s, 0, sizeof(s));
	if (deflateInit2(&s, level, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	s.next_in = (Bytef *)in;
	s.avail_in = len;
	s.next_out = out;
	s.avail_out = cap;
	ret = deflate(&s, Z_FINISH);
	*out_len = s.total_out;
	deflateEnd(&s);
	return ret == Z_STREAM_END ? 0 : -1;
}

/* zlib: inflate one gzip stream; 0 only if it fills out[0..*out_len). */
static int zlib_gunzip(const void *in, size_t len, void *out, size_t cap,
		       size_t *out_len)
{
	z_stream s;
	int ret;

	memset(&s, 0, sizeof(s));
	if (inflateInit2(&s, 15 + 16) != Z_OK)
		return -1;
	s.next_in = (Bytef *)in;
	s.avail_in = len;
	s.next_out = out;
	s.avail_out = cap;
	ret = inflate(&s, Z_FINISH);
	*out_len = s.total_out;
	inflateEnd(&s);
	return ret == Z_STREAM_END ? 0 : -1;
}

struct dfl {
	unsigned char *in;	/* the text */
	size_t len;
	unsigned char *comp;	/* accelerator output */
	unsigned char *zcomp;	/* zlib output */
	unsigned char *back;	/* decompressed */
	size_t cap;		/* of comp and zcomp */
	size_t comp_len;
	int iters;
};

static int deflate_level(struct dfl *d, int level)
{
	size_t zlen = 0, blen = 0;
	double t, t_acc, t_zlib;
	char measure[64], a[32], b[32];
	int i, err;

	t = now();
	for (i = 0; i < d->iters; i++) {
		err = wd_compress(queue, WD_FMT_GZIP, level, d->in, d->len,
				  d->comp, d->cap, &d->comp_len);
		if (err)
			return fail("deflate", "level %d: %s", level,
				    wd_strerror(err));
	}
	t_acc = now() - t;
	if (zlib_gunzip(d->comp, d->comp_len, d->back, d->len, &blen) ||
	    blen != d->len || memcmp(d->back, d->in, d->len))
		return fail("deflate", "level %d: output does not inflate back "
			    "to the input with zlib", level);

	t = now();
	for (i = 0; i < d->iters; i++)
		if (zlib_gzip(level, d->in, d->len, d->zcomp, d->cap, &zlen))
			return fail("deflate", "zlib failed at level %d", level);
	t_zlib = now() - t;

	snprintf(measure, sizeof(measure), "level %d MB/s: DEFLATE | zlib",
		 level);
	snprintf(a, sizeof(a), "%.1f", d->len * (double)d->iters / t_acc / 1e6);
	snprintf(b, sizeof(b), "%.1f", d->len * (double)d->iters / t_zlib / 1e6);
	row("deflate", measure, a, b, t_zlib / t_acc, NULL);
	snprintf(measure, sizeof(measure), "level %d bytes out of %zu", level,
		 d->len);
	snprintf(a, sizeof(a), "%zu (%.1f%%)", d->comp_len,
		 100.0 * d->comp_len / d->len);
	snprintf(b, sizeof(b), "%zu (%.1f%%)", zlen, 100.0 * zlen / d->len);
	row("deflate", measure, a, b, (double)d->comp_len / zlen,
	    "size ratio");
	return 0;
}

/* INFLATE of the accelerator's last output, against zlib on the same. */
static int inflate_rate(struct dfl *d)
{
	size_t blen = 0, used = 0;
	double t, t_acc, t_zlib;
	char a[32], b[32];
	int i, err;

	t = now();
	for (i = 0; i < d->iters; i++) {
		memset(d->back, 0, d->len);
		err = wd_decompress(queue, WD_FMT_GZIP, d->comp, d->comp_len,
				    d->back, d->len, &blen, &used);
		if (err)
			return fail("deflate", "INFLATE: %s", wd_strerror(err));
	}
	t_acc = now() - t;
	if (blen != d->len || used != d->comp_len ||
	    memcmp(d->back, d->in, d->len))
		return fail("deflate", "INFLATE output differs from the input "
			    "(%zu of %zu bytes, consumed %zu of %zu)", blen,
			    d->len, used, d->comp_len);

	t = now();
	for (i = 0; i < d->iters; i++)
		if (zlib_gunzip(d->comp, d->comp_len, d->back, d->len, &blen))
			return fail("deflate", "zlib inflate failed");
	t_zlib = now() - t;

	snprintf(a, sizeof(a), "%.1f", d->len * (double)d->iters / t_acc / 1e6);
	snprintf(b, sizeof(b), "%.1f", d->len * (double)d->iters / t_zlib / 1e6);
	row("deflate", "inflate MB/s: INFLATE | zlib", a, b, t_zlib / t_acc,
	    NULL);
	return 0;
}

static int scenario_deflate(void)
{
	struct dfl d = {
		.len = quick ? 512 * 1024 : 4 * MIB,
		.iters = quick ? 1 : 3,
	};
	int ret = -1;

	d.cap = compressBound(d.len) + 4096;
	d.in = alloc_buf(d.len);
	d.back = alloc_buf(d.len);
	d.comp = alloc_buf(d.cap);
	d.zcomp = alloc_buf(d.cap);
	if (!d.in || !d.back || !d.comp || !d.zcomp) {
		fail("deflate", "out of memory");
		goto out;
	}
	fill_text(d.in, d.len);
	if (!deflate_level(&d, 1) && !deflate_level(&d, 6) && !inflate_rate(&d))
		ret = 0;
out:
	free(d.in);
	free(d.back);
	free(d.comp);
	free(d.zcomp);
	return ret;
}

/* mmu */

static uint64_t dev_stat(const char *name)
{
	char attr[64];
	uint64_t v = 0;

	snprintf(attr, sizeof(attr), "stats/%s", name);
	wd_dev_attr_u64(wd_dev_name(dev), attr, &v);
	return v;
}

/* MB/s of @iters COPYs of @len bytes on @q; -1 on a device error. */
static double copy_rate(struct wd_queue *q, void *dst, const void *src,
			size_t len, int iters)
{
	double t0 = now();
	int i, ret;

	for (i = 0; i < iters; i++) {
		ret = wd_copy(q, dst, src, len);
		if (ret) {
			fail("mmu", "COPY: %s", wd_strerror(ret));
			return -1;
		}
	}
	return (double)len * iters / MIB / (now() - t0);
}

struct storm {
	char *buf;
	size_t len;
	volatile int stop;
	unsigned long rounds;
};

/*
 * Invalidate the device's view of @buf a thousand times a second: drop the
 * pages (MADV_DONTNEED), then let the CPU write one byte per 64 KiB back.
 */
static void *storm_loop(void *arg)
{
	struct storm *st = arg;
	size_t off;

	while (!st->stop) {
		madvise(st->buf, st->len, MADV_DONTNEED);
		for (off = 0; off < st->len; off += 65536)
			st->buf[off] = 1;
		st->rounds++;
		usleep(1000);
	}
	return NULL;
}

/*
 * The kernel's own copy of the same pages (wd_soft's debugfs
 * copy_baseline: pinned, memcpy() a page at a time through the direct
 * map): seconds for @rounds copies of @len bytes, or a negative errno.
 */
static double kernel_copy_secs(int fd, const void *src, void *dst,
			       size_t len, int rounds)
{
	char buf[96];
	ssize_t n;
	int l;

	l = snprintf(buf, sizeof(buf), "%lx %lx %zu %d", (unsigned long)src,
		     (unsigned long)dst, len, rounds);
	if (write(fd, buf, l) != l)
		return -errno;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return n ? -errno : -EIO;
	buf[n] = 0;
	return strtoull(buf, NULL, 10) / 1e9;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define KC_ROUNDS	5

/* wd_soft's engines' busy time so far (debugfs busy_ns), -1 if unknown. */
static long long busy_ns(void)
{
	char buf[32];
	int fd = open("/sys/kernel/debug/wd_soft/busy_ns", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtoll(buf, NULL, 10);
}

/*
 * One COPY through @q, reaped by polling the completion ring (as polled
 * submission does), not by sleeping in poll(): the wake-up of a sleeping
 * thread (on an idle vCPU of an emulator, an IPI and a host thread to
 * schedule) is not the framework's cost. Returns 0 or -1.
 */
static int copy_polled(struct wd_queue *q, void *dst, const void *src,
		       size_t len)
{
	struct wd_cmd cmd = { 0 };
	struct wd_cqe cqe;
	double t0 = 0;
	unsigned long spins = 0;
	int r;

	cmd.opcode = WD_OP_COPY;
	cmd.src = (uintptr_t)src;
	cmd.src_len = len;
	cmd.dst = (uintptr_t)dst;
	cmd.dst_len = len;
	r = wd_submit(q, &cmd);
	if (r)
		return fail("mmu", "submit: %s", wd_strerror(r));
	while ((r = wd_reap(q, &cqe, 1)) == 0) {
		cpu_relax();
		if (++spins % 65536)
			continue;
		if (!t0)
			t0 = now();
		else if (now() - t0 > STALL_SECS)
			return fail("mmu", "no completion for %d s", STALL_SECS);
	}
	if (r < 0)
		return fail("mmu", "reap: %s", wd_strerror(r));
	if (cqe.status != WD_ST_OK || cqe.result != len)
		return fail("mmu", "COPY: %s", wd_status_str(cqe.status));
	return 0;
}

/*
 * COPY through a queue and the device MMU (@q: SVA or pinned, @mode its
 * name; one command at a time, reaped by polling) against the kernel
 * copying the same pages, at 1, 4 and 16 MiB:
 * KC_ROUNDS rounds in which the two take turns; the ratio is the median
 * of the rounds' ratios, the spread their min-max.
 */
static int kcopy_rows(int kfd, struct wd_queue *q, const char *mode,
		      char *src, char *dst, size_t max)
{
	static const size_t sizes[] = { 1 * MIB, 4 * MIB, 16 * MIB };
	unsigned int s;

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t len = sizes[s];
		int iters = (quick ? 16 : 64) * MIB / len, r, i;
		double ratio[KC_ROUNDS], busy[KC_ROUNDS], wd_rate = 0;
		double k_rate = 0, e_rate = 0;
		char measure[64], a[32], b[32], goal[48];

		if (len > max)
			break;
		if (wd_copy(q, dst, src, len))	/* warm: mirror filled */
			return fail("mmu", "COPY %zu failed", len);
		for (r = 0; r < KC_ROUNDS; r++) {
			double t0 = now(), t_wd, t_k, t_e;
			long long e0 = busy_ns();

			for (i = 0; i < iters; i++)
				if (copy_polled(q, dst, src, len))
					return -1;
			t_wd = now() - t0;
			t_e = (busy_ns() - e0) / 1e9;
			t_k = kernel_copy_secs(kfd, src, dst, len, iters);
			if (t_k <= 0)
				return fail("mmu", "kernel copy: %s",
					    strerror((int)-t_k));
			ratio[r] = t_k / t_wd;
			busy[r] = e0 >= 0 && t_e > 0 ? t_k / t_e : NAN;
			e_rate += e0 >= 0 && t_e > 0 ?
				  (double)len * iters / MIB / t_e / KC_ROUNDS : NAN;
			wd_rate += (double)len * iters / MIB / t_wd / KC_ROUNDS;
			k_rate += (double)len * iters / MIB / t_k / KC_ROUNDS;
		}
		if (memcmp(dst, src, len))
			return fail("mmu", "COPY output differs");
		qsort(ratio, KC_ROUNDS, sizeof(ratio[0]), cmp_dbl);
		snprintf(measure, sizeof(measure), "COPY %zu MiB MB/s: %s | kernel",
			 len / MIB, mode);
		snprintf(a, sizeof(a), "%.1f", wd_rate);
		snprintf(b, sizeof(b), "%.1f", k_rate);
		snprintf(goal, sizeof(goal), ">= 0.80x (%.2f-%.2f)", ratio[0],
			 ratio[KC_ROUNDS - 1]);
		row("mmu", measure, a, b, ratio[KC_ROUNDS / 2], goal);
		/* The engine's own time only (wd_soft busy_ns). */
		qsort(busy, KC_ROUNDS, sizeof(busy[0]), cmp_dbl);
		snprintf(measure, sizeof(measure), "  engine busy MB/s: %s | kernel",
			 mode);
		snprintf(a, sizeof(a), "%.1f", e_rate);
		snprintf(goal, sizeof(goal), "(%.2f-%.2f)", busy[0],
			 busy[KC_ROUNDS - 1]);
		row("mmu", measure, a, b, busy[KC_ROUNDS / 2], goal);
	}
	return 0;
}

static int scenario_mmu(void)
{
	size_t len = (quick ? 4 : 16) * MIB;
	int iters = quick ? 4 : 16, ret = -1;
	struct wd_dev *pdev = NULL;
	struct wd_queue *pq = NULL;
	struct storm st = { 0 };
	double sva, pin, stormy;
	uint64_t f0, p0, faults, pages;
	char *src = NULL, *dst = NULL, *fresh_src = NULL, *fresh_dst = NULL;
	char a[32], b[32];
	pthread_t th;

	/*
	 * Separate allocations: buffers at a fixed power-of-two distance
	 * alias in an emulator's direct-mapped TLB and measure that instead.
	 * alloc_buf() touches them: CPU pages exist, the device has none.
	 */
	src = alloc_buf(len);
	dst = alloc_buf(len);
	fresh_src = alloc_buf(len);
	fresh_dst = alloc_buf(len);
	if (!src || !dst || !fresh_src || !fresh_dst) {
		fail("mmu", "out of memory");
		goto out;
	}
	fill_random((unsigned char *)src, len);

	/* First touch: the device faults the buffers in. */
	f0 = dev_stat("device_faults");
	p0 = dev_stat("pages_faulted");
	if (wd_copy(queue, fresh_dst, fresh_src, len)) {
		fail("mmu", "first-touch COPY failed");
		goto out;
	}
	faults = dev_stat("device_faults") - f0;
	pages = dev_stat("pages_faulted") - p0;
	snprintf(a, sizeof(a), "%.1f", faults ? (double)pages / faults : 0.0);
	row("mmu", "SVA pages per device fault", a, "1 (no fault-around)",
	    faults ? (double)pages / faults : NAN, ">= 16");

	/* Steady state: SVA (warm mirror) against pinned shares. */
	if (wd_copy(queue, dst, src, len))
		goto out;
	f0 = dev_stat("device_faults");
	p0 = dev_stat("invalidations");
	if ((sva = copy_rate(queue, dst, src, len, iters)) < 0)
		goto out;
	snprintf(a, sizeof(a), "%llu",
		 (unsigned long long)(dev_stat("device_faults") - f0));
	snprintf(b, sizeof(b), "%llu inval.",
		 (unsigned long long)(dev_stat("invalidations") - p0));
	row("mmu", "SVA device faults in steady state", a, b, NAN, "0");

	/*
	 * What an munmap elsewhere in the process costs the device: 1 MiB
	 * mapped, touched and unmapped in the middle of a reservation of its
	 * own, so no 2 MiB block around it holds anything the device mirrors.
	 */
	{
		size_t res_len = 8 * MIB;
		char *res = mmap(NULL, res_len, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				 -1, 0);
		uint64_t n0 = dev_stat("notifier_calls");
		int i = 0;

		for (; res != MAP_FAILED && i < 100; i++) {
			char *o = (char *)(((uintptr_t)res + 3 * MIB) &
					   ~(2 * MIB - 1));

			o = mmap(o, MIB, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			if (o == MAP_FAILED)
				break;
			memset(o, 1, MIB);
			munmap(o, MIB);
		}
		snprintf(a, sizeof(a), "%.2f",
			 i ? (double)(dev_stat("notifier_calls") - n0) / i : NAN);
		row("mmu", "device notifier calls/unrelated munmap", a, "-",
		    NAN, "0");
		if (res != MAP_FAILED)
			munmap(res, res_len);
	}
	ret = wd_open(wd_dev_name(dev), &pdev);
	if (!ret)
		ret = wd_set_mmu_mode(pdev, WD_MMU_PINNED);
	if (!ret)
		ret = wd_queue_get(pdev, NULL, &pq);
	if (!ret)
		ret = wd_share(pdev, src, len, WD_SHARE_READ);
	if (!ret)
		ret = wd_share(pdev, dst, len, WD_SHARE_READ | WD_SHARE_WRITE);
	if (ret) {
		fail("mmu", "pinned context: %s", wd_strerror(ret));
		ret = -1;
		goto out;
	}
	ret = -1;
	if ((pin = copy_rate(pq, dst, src, len, iters)) < 0)
		goto out;
	snprintf(a, sizeof(a), "%.1f", sva);
	snprintf(b, sizeof(b), "%.1f", pin);
	row("mmu", "COPY MB/s: SVA | pinned", a, b, sva / pin, ">= 0.90x");

	/* Framework overhead: the kernel's own copy of the same pages. */
	{
		int kfd = open("/sys/kernel/debug/wd_soft/copy_baseline", O_RDWR);

		if (kfd < 0) {
			row("mmu", "COPY | kernel copy: no wd_soft debugfs", "-",
			    "-", NAN, NULL);
		} else {
			ret = kcopy_rows(kfd, queue, "SVA", src, dst, len);
			if (!ret)
				ret = kcopy_rows(kfd, pq, "pinned", src, dst,
						 len);
			close(kfd);
			if (ret)
				goto out;
			ret = -1;
		}
	}

	/* An invalidation storm on the source while SVA copies run. */
	st.buf = src;
	st.len = len;
	if (pthread_create(&th, NULL, storm_loop, &st)) {
		fail("mmu", "no thread");
		goto out;
	}
	stormy = copy_rate(queue, dst, src, len, iters);
	st.stop = 1;
	pthread_join(th, NULL);
	if (stormy < 0)
		goto out;
	snprintf(a, sizeof(a), "%.1f", stormy);
	snprintf(b, sizeof(b), "%.1f", sva);
	row("mmu", "COPY MB/s: storm | quiet (SVA)", a, b, stormy / sva,
	    NULL);
	snprintf(a, sizeof(a), "%lu", st.rounds);
	row("mmu", "storm rounds (whole-buffer drops)", a, "-", NAN, NULL);
	ret = 0;
out:
	if (pq)
		wd_queue_put(pq);
	wd_close(pdev);
	free(src);
	free(dst);
	free(fresh_src);
	free(fresh_dst);
	return ret;
}

/* devmem */

enum {
	DM_FAULT,		/* region with a window of 1: one fault per page */
	DM_AROUND,		/* default fault-around window */
	DM_MAP_POPULATE,
	DM_MADVISE,		/* MADV_POPULATE_WRITE */
	DM_IOCTL,		/* WD_REGION_IOC_POPULATE */
	DM_ADVANCE,		/* WD_REGION_MAP_ADVANCE */
	DM_ANON_TOUCH,
	DM_ANON_POPULATE,
	DM_NR,
};

static const char *const dm_names[DM_NR] = {
	"1 fault/page", "fault-around", "MAP_POPULATE", "MADV_POP_WRITE",
	"populate ioctl", "map in advance", "anon touch", "anon MAP_POP",
};

struct dm_result {
	double secs;
	uint64_t setup_faults;	/* before the touch */
	uint64_t touch_faults;	/* during it */
};

static uint64_t dm_faults(int anon)
{
	struct rusage ru;
	uint64_t v = 0;

	if (anon) {
		getrusage(RUSAGE_SELF, &ru);
		return ru.ru_minflt;
	}
	wd_dev_attr_u64(wd_dev_name(dev), "stats/devmem_faults", &v);
	return v;
}

/* Write one byte per page, as a program first using the memory would. */
static void dm_touch(unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += 4096)
		p[i] = (unsigned char)((i >> 12) + 1);
}

static int dm_verify(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += 4096)
		if (p[i] != (unsigned char)((i >> 12) + 1) || p[i + 1] ||
		    p[i + 2048] || p[i + 4095])
			return -1;
	return 0;
}

/*
 * Make @len bytes accessible by @path and touch them; time it. With
 * @reserved the region's memory is taken (and zeroed) by fallocate()
 * before the clock starts: what is left is the cost of mapping it.
 */
static int dm_run_once(int path, size_t len, int reserved,
		       struct dm_result *r)
{
	int anon = path >= DM_ANON_TOUCH, fd = -1, err, flags;
	uint64_t f0, f1, f2;
	unsigned char *p;
	size_t done;
	double t0, t1;

	if (!anon) {
		err = wd_region_create_ex(dev, len,
					  path == DM_ADVANCE ? WD_REGION_MAP_ADVANCE : 0,
					  path == DM_FAULT ? 1 : 0, &fd);
		if (!err && reserved)
			err = wd_region_reserve(fd, 0, len);
		if (err) {
			if (fd >= 0)
				close(fd);
			return fail("devmem", "region of %zu MiB: %s", len / MIB,
				    wd_strerror(err));
		}
	}
	f0 = dm_faults(anon);
	t0 = now();
	if (anon) {
		flags = MAP_PRIVATE | MAP_ANONYMOUS;
		if (path == DM_ANON_POPULATE)
			flags |= MAP_POPULATE;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	} else {
		flags = MAP_SHARED;
		if (path == DM_MAP_POPULATE)
			flags |= MAP_POPULATE;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
	}
	if (p == MAP_FAILED) {
		err = -errno;
		goto out;
	}
	err = 0;
	if (path == DM_MADVISE && madvise(p, len, MADV_POPULATE_WRITE))
		err = -errno;
	if (path == DM_IOCTL) {
		err = wd_region_populate(fd, p, len, &done);
		if (!err && done != len)
			err = -ENOSPC;
	}
	if (err)
		goto out_unmap;
	f1 = dm_faults(anon);
	dm_touch(p, len);
	t1 = now();
	f2 = dm_faults(anon);
	r->secs = t1 - t0;
	r->setup_faults = f1 - f0;
	r->touch_faults = f2 - f1;
	if (dm_verify(p, len))
		err = -EIO;
out_unmap:
	munmap(p, len);
out:
	if (fd >= 0)
		close(fd);
	if (err)
		return fail("devmem", "%s: %s", dm_names[path], err == -EIO ?
			    "memory does not read back as written over zeroes" :
			    wd_strerror(err));
	return 0;
}

/* The pool and an anonymous buffer of the same size must fit. */
/* Keep the best run: other work on the host only ever slows one down. */
static int dm_run(int path, size_t len, int reserved, struct dm_result *r,
		  int round)
{
	struct dm_result one;

	if (dm_run_once(path, len, reserved, &one))
		return -1;
	if (!round || one.secs < r->secs)
		*r = one;
	return 0;
}

static size_t dm_size(void)
{
	uint64_t free_dm = 0, avail_kb = 0;
	char line[128];
	size_t len;
	FILE *f;

	if (wd_dev_attr_u64(wd_dev_name(dev), "devmem_free", &free_dm))
		return 0;
	f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB",
			   (unsigned long long *)&avail_kb) == 1)
			break;
	if (f)
		fclose(f);
	len = free_dm;
	if (avail_kb && avail_kb * 1024 < len + 192 * MIB)
		len = avail_kb * 1024 > 192 * MIB ? avail_kb * 1024 - 192 * MIB : 0;
	if (len > 1024 * MIB)
		len = 1024 * MIB;
	if (quick && len > 16 * MIB)
		len = 16 * MIB;
	return len & ~(2 * MIB - 1);
}

static void dm_row(const char *measure, const struct dm_result *a,
		   const struct dm_result *b, size_t len, const char *goal)
{
	char x[32], y[32];

	snprintf(x, sizeof(x), "%.1f", len / a->secs / 1e6);
	snprintf(y, sizeof(y), "%.1f", len / b->secs / 1e6);
	row("devmem", measure, x, y, b->secs / a->secs, goal);
}

static int scenario_devmem(void)
{
	struct dm_result r[DM_NR], res[DM_ANON_TOUCH], thp_pop, thp_touch;
	char measure[64], x[32], y[32];
	struct wd_dev_desc d;
	int i, round;
	size_t len;

	if (wd_describe(wd_dev_name(dev), &d) || !(d.flags & WD_DEV_F_DEVMEM)) {
		row("devmem", "no device memory on this device", "-", "-", NAN,
		    NULL);
		return 0;
	}
	len = dm_size();
	if (!len)
		return fail("devmem", "not enough device or system memory");

	/* Rounds over every path, interleaved; the best of each is kept. */
	for (round = 0; round < (quick ? 1 : 3); round++) {
		/* Baselines: anonymous memory in 4 KiB pages, then as configured. */
		if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
			return fail("devmem", "prctl(PR_SET_THP_DISABLE): %s",
				    strerror(errno));
		if (dm_run(DM_ANON_TOUCH, len, 0, &r[DM_ANON_TOUCH], round) ||
		    dm_run(DM_ANON_POPULATE, len, 0, &r[DM_ANON_POPULATE], round))
			return -1;
		prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0);
		if (dm_run(DM_ANON_POPULATE, len, 0, &thp_pop, round) ||
		    dm_run(DM_ANON_TOUCH, len, 0, &thp_touch, round))
			return -1;
		for (i = 0; i < DM_ANON_TOUCH; i++)
			if (dm_run(i, len, 0, &r[i], round) ||
			    dm_run(i, len, 1, &res[i], round))
				return -1;
	}

	snprintf(measure, sizeof(measure), "%zu MiB MB/s: 1 fault/pg | anon",
		 len / MIB);
	dm_row(measure, &r[DM_FAULT], &r[DM_ANON_TOUCH], len, NULL);
	dm_row("fault-around | 1 fault/page", &r[DM_AROUND], &r[DM_FAULT],
	       len, NULL);
	for (i = DM_MAP_POPULATE; i <= DM_ADVANCE; i++) {
		snprintf(measure, sizeof(measure), "%s | 1 fault/page",
			 dm_names[i]);
		dm_row(measure, &r[i], &r[DM_FAULT], len, ">= 4x");
		snprintf(measure, sizeof(measure), "%s | anon MAP_POP", dm_names[i]);
		dm_row(measure, &r[i], &r[DM_ANON_POPULATE], len, ">= 1x");
	}
	/* The same paths on memory reserved (taken, zeroed) beforehand. */
	dm_row("reserved: 1 fault/pg | fresh", &res[DM_FAULT], &r[DM_FAULT],
	       len, NULL);
	for (i = DM_AROUND; i <= DM_ADVANCE; i++) {
		snprintf(measure, sizeof(measure), "reserved: %s | 1/page",
			 dm_names[i]);
		dm_row(measure, &res[i], &res[DM_FAULT], len,
		       i == DM_AROUND ? NULL : ">= 4x");
	}
	dm_row("anon MAP_POP: THP | 4 KiB", &thp_pop, &r[DM_ANON_POPULATE],
	       len, NULL);
	dm_row("anon touch: THP | 4 KiB", &thp_touch, &r[DM_ANON_TOUCH], len,
	       NULL);
	for (i = 0; i < DM_NR; i++) {
		if (i == DM_FAULT || i == DM_ANON_TOUCH)
			continue;
		snprintf(measure, sizeof(measure), "faults: %s | %s",
			 dm_names[i], i < DM_ANON_TOUCH ? "1/page" : "anon");
		snprintf(x, sizeof(x), "%llu+%llu",
			 (unsigned long long)r[i].setup_faults,
			 (unsigned long long)r[i].touch_faults);
		if (i < DM_ANON_TOUCH)
			snprintf(y, sizeof(y), "%llu+%llu",
				 (unsigned long long)r[DM_FAULT].setup_faults,
				 (unsigned long long)r[DM_FAULT].touch_faults);
		else
			snprintf(y, sizeof(y), "%llu+%llu",
				 (unsigned long long)r[DM_ANON_TOUCH].setup_faults,
				 (unsigned long long)r[DM_ANON_TOUCH].touch_faults);
		row("devmem", measure, x, y, NAN, "setup+touch");
	}
	return 0;
}

/* migrate */

#define TEST_HMM_KO	"/wd/modules/test_hmm.ko"

/*
 * Open the test_hmm ABI node whose sysfs device directory is @sysdir
 * (test_hmm's own device and WarpDrive's misc device may both be called
 * hmm_dmirror0, only one of them owns /dev/hmm_dmirror0): make a private
 * node from its dev number.
 */
static int open_dmirror(const char *sysdir, const char *tmpname)
{
	char path[128], buf[32];
	unsigned int maj, min;
	int fd, n;

	snprintf(path, sizeof(path), "%s/dev", sysdir);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%u:%u", &maj, &min) != 2)
		return -1;
	unlink(tmpname);
	if (mknod(tmpname, S_IFCHR | 0600, makedev(maj, min)))
		return -1;
	fd = open(tmpname, O_RDWR);
	unlink(tmpname);
	return fd;
}

struct mig_rate {
	double to_dev;		/* MB/s */
	double to_sys;
};

static int hmm_ioctl(int fd, unsigned long req, void *addr, void *out,
		     size_t len)
{
	struct wd_hmm_cmd c = {
		.addr = (uintptr_t)addr,
		.ptr = (uintptr_t)out,
		.npages = len / 4096,
	};

	if (ioctl(fd, req, &c))
		return -errno;
	return c.cpages == len / 4096 ? 0 : -EIO;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of @n times, in MB/s for @len bytes each (robust to a busy host). */
static double median_rate(double *t, int n, size_t len)
{
	qsort(t, n, sizeof(*t), cmp_double);
	return (double)len / MIB / t[n / 2];
}

/*
 * One round trip of @len bytes: to the device and back (explicitly). With
 * @hmm_fd >= 0 through the test_hmm ABI (whose migration to the device
 * also hands the data back in @out), else WD_IOC_MIGRATE. The times of
 * each direction go to *@td and *@ts.
 */
static int mig_round(int hmm_fd, char *buf, char *out, size_t len,
		     double *td, double *ts)
{
	uint64_t moved = 0, failed = 0;
	double t0, t1;
	int ret;

	t0 = now();
	if (hmm_fd >= 0) {
		ret = hmm_ioctl(hmm_fd, WD_HMM_MIGRATE_TO_DEV, buf, out, len);
	} else {
		ret = wd_migrate(dev, buf, len, WD_MIGRATE_TO_DEVICE, &moved,
				 &failed);
		if (!ret && moved != len / 4096)
			return fail("migrate", "to device: %llu of %zu pages moved, %llu failed",
				    (unsigned long long)moved, len / 4096,
				    (unsigned long long)failed);
	}
	t1 = now();
	if (ret)
		return fail("migrate", "to device: %s", strerror(-ret));
	if (hmm_fd >= 0) {
		ret = hmm_ioctl(hmm_fd, WD_HMM_MIGRATE_TO_SYS, buf, out, len);
	} else {
		ret = wd_migrate(dev, buf, len, WD_MIGRATE_TO_SYSTEM, &moved,
				 &failed);
		if (!ret && moved != len / 4096)
			ret = -EIO;
	}
	if (ret)
		return fail("migrate", "to system: %s", strerror(-ret));
	*td = t1 - t0;
	*ts = now() - t1;
	return 0;
}

static void rate_str(char *s, size_t n, double v)
{
	if (v > 0)
		snprintf(s, n, "%.1f", v);
	else
		snprintf(s, n, "-");
}

static int scenario_migrate(void)
{
	static const size_t sizes[] = {
		64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20,
	};
	int nsizes = quick ? 4 : 5, i, k, ret = -1, kofd = -1;
	size_t maxlen = sizes[nsizes - 1];
	struct mig_rate wd[5] = { 0 }, th[5] = { 0 }, wc[5] = { 0 };
	double mc[5] = { 0 }, *t = NULL;
	char *buf, *out, *copy;
	char a[32], b[32], m[64];
	int thfd = -1, wcfd = -1;
	uint64_t want;

	/*
	 * 4 KiB pages throughout, as documented: no transparent huge page,
	 * and none left behind by a neighbour that shared the VMA before
	 * madvise (migrate_vma cannot move pages of a PTE-mapped THP).
	 */
	buf = mmap(NULL, maxlen, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf != MAP_FAILED)
		madvise(buf, maxlen, MADV_NOHUGEPAGE);
	out = alloc_buf(maxlen);
	copy = alloc_buf(maxlen);
	if (buf == MAP_FAILED || !out || !copy) {
		fail("migrate", "out of memory");
		goto out;
	}
	fill_random((unsigned char *)buf, maxlen);

	/* The kernel's own test_hmm driver, loaded only for its measure. */
	kofd = open(TEST_HMM_KO, O_RDONLY | O_CLOEXEC);
	if (kofd >= 0 && !syscall(SYS_finit_module, kofd, "", 0))
		thfd = open_dmirror("/sys/devices/hmm_dmirror0", "/tmp/.wdbench_th");
	wcfd = open_dmirror("/sys/class/misc/hmm_dmirror0", "/tmp/.wdbench_wc");

	/*
	 * The methods take turns round by round, so that a busy host slows
	 * them alike; each figure is the median of its rounds.
	 */
	t = calloc(7 * 256, sizeof(*t));
	if (!t) {
		fail("migrate", "out of memory");
		goto out;
	}
	for (i = 0; i < nsizes; i++) {
		size_t len = sizes[i];
		int iters = (int)((quick ? 16 : 48) * MIB / len);
		double *w_d = t, *w_s = t + 256, *h_d = t + 512, *h_s = t + 768;
		double *c_d = t + 1024, *c_s = t + 1280, *mt = t + 1536;
		double t0, dummy;

		iters = iters < 5 ? 5 : iters > 256 ? 256 : iters;
		want = crc32(0, (unsigned char *)buf, len);
		/* Warm up: device memory allocated, code paths hot. */
		if (mig_round(-1, buf, out, len, &dummy, &dummy) ||
		    (thfd >= 0 && mig_round(thfd, buf, out, len, &dummy, &dummy)) ||
		    (wcfd >= 0 && mig_round(wcfd, buf, out, len, &dummy, &dummy)))
			goto out;
		memcpy(copy, buf, len);
		for (k = 0; k < iters; k++) {
			if (mig_round(-1, buf, out, len, &w_d[k], &w_s[k]))
				goto out;
			if (thfd >= 0 && mig_round(thfd, buf, out, len, &h_d[k], &h_s[k]))
				goto out;
			if (wcfd >= 0 && mig_round(wcfd, buf, out, len, &c_d[k], &c_s[k]))
				goto out;
			t0 = now();
			memcpy(copy, buf, len);
			use(copy);
			mt[k] = now() - t0;
		}
		if (crc32(0, (unsigned char *)buf, len) != want) {
			fail("migrate", "data changed on the round trips");
			goto out;
		}
		wd[i].to_dev = median_rate(w_d, iters, len);
		wd[i].to_sys = median_rate(w_s, iters, len);
		if (thfd >= 0) {
			th[i].to_dev = median_rate(h_d, iters, len);
			th[i].to_sys = median_rate(h_s, iters, len);
		}
		if (wcfd >= 0) {
			wc[i].to_dev = median_rate(c_d, iters, len);
			wc[i].to_sys = median_rate(c_s, iters, len);
		}
		mc[i] = median_rate(mt, iters, len);
	}

	for (i = 0; i < nsizes; i++) {
		size_t kib = sizes[i] >> 10;
		double big = sizes[i] >= (1 << 20);

		snprintf(m, sizeof(m), "to device %5zu KiB MB/s", kib);
		rate_str(a, sizeof(a), wd[i].to_dev);
		rate_str(b, sizeof(b), th[i].to_dev);
		row("migrate", m, a, b, th[i].to_dev > 0 ? wd[i].to_dev / th[i].to_dev : NAN,
		    NULL);
		snprintf(m, sizeof(m), "  same ABI as test_hmm (+copy out)");
		rate_str(a, sizeof(a), wc[i].to_dev);
		row("migrate", m, a, b, th[i].to_dev > 0 && wc[i].to_dev > 0 ?
		    wc[i].to_dev / th[i].to_dev : NAN, ">= 1.00x test_hmm");
		snprintf(m, sizeof(m), "to system %5zu KiB MB/s", kib);
		rate_str(a, sizeof(a), wd[i].to_sys);
		rate_str(b, sizeof(b), th[i].to_sys);
		row("migrate", m, a, b, th[i].to_sys > 0 ? wd[i].to_sys / th[i].to_sys : NAN,
		    NULL);
		snprintf(m, sizeof(m), "  same ABI as test_hmm");
		rate_str(a, sizeof(a), wc[i].to_sys);
		row("migrate", m, a, b, th[i].to_sys > 0 && wc[i].to_sys > 0 ?
		    wc[i].to_sys / th[i].to_sys : NAN, ">= 1.00x test_hmm");
		snprintf(m, sizeof(m), "to device %5zu KiB | memcpy", kib);
		rate_str(a, sizeof(a), wd[i].to_dev);
		rate_str(b, sizeof(b), mc[i]);
		row("migrate", m, a, b, wd[i].to_dev / mc[i], big ? ">= 0.50x memcpy" : NULL);
		snprintf(m, sizeof(m), "to system %5zu KiB | memcpy", kib);
		rate_str(a, sizeof(a), wd[i].to_sys);
		row("migrate", m, a, b, wd[i].to_sys / mc[i], big ? ">= 0.50x memcpy" : NULL);
	}
	if (thfd < 0)
		printf("migrate: test_hmm not available (%s), its columns are empty\n",
		       TEST_HMM_KO);
	if (wcfd < 0)
		printf("migrate: no compatible node (load wd_soft with hmm_compat=1)\n");
	ret = 0;
out:
	if (thfd >= 0)
		close(thfd);
	if (wcfd >= 0)
		close(wcfd);
	if (kofd >= 0) {
		syscall(SYS_delete_module, "test_hmm", O_NONBLOCK);
		close(kofd);
	}
	if (buf != MAP_FAILED)
		munmap(buf, maxlen);
	free(out);
	free(copy);
	free(t);
	return ret;
}

/* vcrypto */

#define VC_ROUNDS	5
#define VC_DEPTH	8

/* An AF_ALG cbc(aes) operation socket for the driver @drv, or -errno. */
static int vc_afalg_open(const char *drv, const unsigned char *key, int *tfm)
{
	struct sockaddr_alg sa = { .salg_family = AF_ALG, .salg_type = "skcipher" };
	int op, tries = 0;

	snprintf((char *)sa.salg_name, sizeof(sa.salg_name), "%s", drv);
	*tfm = socket(AF_ALG, SOCK_SEQPACKET, 0);
	if (*tfm < 0)
		return -errno;
	while (bind(*tfm, (struct sockaddr *)&sa, sizeof(sa))) {
		if (errno != ENOENT || ++tries > 30)
			goto err;
		usleep(100000);
	}
	if (setsockopt(*tfm, SOL_ALG, ALG_SET_KEY, key, 16))
		goto err;
	op = accept(*tfm, NULL, 0);
	if (op < 0)
		goto err;
	return op;
err:
	op = -errno;
	close(*tfm);
	return op;
}

/* One CBC encryption through an AF_ALG operation socket: 0 or -errno. */
static int vc_afalg_run(int op, const unsigned char *iv, const void *src,
			void *dst, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(uint32_t)) +
		  CMSG_SPACE(sizeof(struct af_alg_iv) + 16)] = { 0 };
	struct msghdr msg = { 0 };
	struct iovec iov = { .iov_base = (void *)src, .iov_len = len };
	struct af_alg_iv *aiv;
	struct cmsghdr *c;
	size_t done = 0;

	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_OP;
	c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
	*(uint32_t *)CMSG_DATA(c) = ALG_OP_ENCRYPT;
	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_IV;
	c->cmsg_len = CMSG_LEN(sizeof(struct af_alg_iv) + 16);
	aiv = (struct af_alg_iv *)CMSG_DATA(c);
	aiv->ivlen = 16;
	memcpy(aiv->iv, iv, 16);
	if (sendmsg(op, &msg, 0) != (ssize_t)len)
		return -errno;
	while (done < len) {
		ssize_t n = read(op, (char *)dst + done, len - done);

		if (n <= 0)
			return n ? -errno : -EIO;
		done += n;
	}
	return 0;
}

/* AF_ALG requests per second for @secs; < 0 on error. */
static double vc_afalg_rate(int op, const unsigned char *key_iv,
			    const void *src, void *dst, size_t len, double secs)
{
	double t0 = now(), t;
	long n = 0;

	do {
		if (vc_afalg_run(op, key_iv + 16, src, dst, len))
			return -1;
		n++;
		t = now();
	} while (t - t0 < secs);
	return n / (t - t0);
}

/*
 * WarpDrive requests per second for @secs, VC_DEPTH commands in flight on
 * the mapped rings; the doorbells made are added to *@kicks and the
 * commands to *@cmds. < 0 on a device error.
 */
static double vc_wd_rate(struct wd_queue *q, const unsigned char *key_iv,
			 const unsigned char *src, unsigned char *dst,
			 size_t len, double secs, uint64_t *kicks,
			 uint64_t *cmds)
{
	uint64_t k0 = wd_queue_kicks(q), sent = 0, done = 0;
	double t0 = now(), t = t0, last = t0;
	struct wd_cqe cqe[VC_DEPTH];
	int n, i;

	while (t - t0 < secs || done < sent) {
		while (sent - done < VC_DEPTH && t - t0 < secs) {
			struct wd_cmd c = {
				.opcode = WD_OP_ENCRYPT, .tag = sent,
				.src = (uintptr_t)src, .src_len = len,
				.dst = (uintptr_t)(dst + (sent % VC_DEPTH) * len),
				.dst_len = len,
				.param = WD_CIPHER_PARAM(WD_CIPHER_CBC, 16),
				.key = (uintptr_t)key_iv,
			};

			if (wd_submit(q, &c))
				break;
			sent++;
		}
		n = wd_reap(q, cqe, VC_DEPTH);
		if (n < 0)
			return -1;
		for (i = 0; i < n; i++)
			if (cqe[i].status != WD_ST_OK) {
				fprintf(stderr, "wdbench: vcrypto: %s\n",
					wd_status_str(cqe[i].status));
				return -1;
			}
		done += n;
		t = now();
		if (n)
			last = t;
		else if (t - last > STALL_SECS)
			return -1;
		else
			cpu_relax();
	}
	*kicks += wd_queue_kicks(q) - k0;
	*cmds += done;
	return done / (t - t0);
}

static int vc_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* "median (min-max)" of @n ratios. */
static double vc_median(double *v, int n, char *spread, size_t len)
{
	qsort(v, n, sizeof(*v), vc_cmp_double);
	snprintf(spread, len, "%.2f-%.2f", v[0], v[n - 1]);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The driver name of the baseline virtio_crypto cbc(aes), from /proc/crypto. */
static int vc_baseline_driver(char *out, size_t len)
{
	char line[256], drv[128] = "";
	FILE *f = fopen("/proc/crypto", "r");
	int found = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "driver : %127s", drv) == 1)
			continue;
		if (strstr(line, "module") && strstr(line, "virtio_crypto") &&
		    strstr(drv, "cbc")) {
			snprintf(out, len, "%s", drv);
			found = 1;
			break;
		}
	}
	fclose(f);
	return found ? 0 : -ENOENT;
}

static int vc_set_polled(const char *v)
{
	FILE *f = fopen("/sys/module/wd_vcrypto/parameters/polled", "w");

	if (!f)
		return -errno;
	fputs(v, f);
	return fclose(f) ? -errno : 0;
}

/*
 * The wd_vcrypto device's name; in the guest, load the driver for
 * WarpDrive's virtio-crypto device first if needed. 0 or -ENODEV.
 */
static int vc_find(char *name, size_t len)
{
	struct wd_dev_desc d[16];
	int nd, i, pass;

	for (pass = 0; pass < 2; pass++) {
		nd = wd_list_devices(d, 16);
		for (i = 0; i < nd && i < 16; i++)
			if ((d[i].algorithms & WD_ALG_AES_CBC) &&
			    !strncmp(d[i].name, "wd_vcrypto", 10)) {
				snprintf(name, len, "%.63s", d[i].name);
				return 0;
			}
		if (pass || access("/wd/bin/wd-vcrypto", X_OK) ||
		    system("/wd/bin/wd-vcrypto load >/dev/null 2>&1"))
			break;
	}
	return -ENODEV;
}

static int scenario_vcrypto(void)
{
	static const size_t sizes[] = { 4096, 65536 };
	double secs = quick ? 0.3 : 1.0;
	struct wd_dev *sd = NULL, *pd = NULL;
	struct wd_queue *sq = NULL, *pq = NULL;
	unsigned char *buf = NULL, *ref = NULL;
	char base[128], name[64] = "", spread[32], a[32], b[32];
	int ret = -1, bop = -1, btfm = -1, gop = -1, gtfm = -1, si, r;
	size_t bufsz = 4096 + 65536 * (VC_DEPTH + 1);

	if (vc_find(name, sizeof(name))) {
		printf("vcrypto: no wd_vcrypto device, skipped\n");
		return 0;
	}
	buf = alloc_buf(bufsz);
	ref = alloc_buf(65536);
	if (!buf || !ref) {
		fail("vcrypto", "out of memory");
		goto out;
	}
	fill_random(buf, bufsz);
	/*
	 * WDBENCH_NO_BASELINE: leave the kernel's virtio_crypto alone (on a
	 * debug kernel its DMA-API warnings would fail the run).
	 */
	if (getenv("WDBENCH_NO_BASELINE")) {
		printf("vcrypto: baseline device skipped (WDBENCH_NO_BASELINE)\n");
		base[0] = 0;
	} else if (vc_baseline_driver(base, sizeof(base))) {
		printf("vcrypto: no virtio_crypto cbc(aes) in /proc/crypto; baseline device column empty\n");
		base[0] = 0;
	}
	if (wd_open(name, &sd) || wd_set_mmu_mode(sd, WD_MMU_SVA) ||
	    wd_queue_get(sd, NULL, &sq) || wd_open(name, &pd) ||
	    wd_set_mmu_mode(pd, WD_MMU_PINNED) ||
	    wd_share(pd, buf, bufsz, WD_SHARE_READ | WD_SHARE_WRITE) ||
	    wd_queue_get(pd, NULL, &pq)) {
		fail("vcrypto", "%s: cannot open two queues (SVA, pinned)", name);
		goto out;
	}
	if (vc_set_polled("1"))
		printf("vcrypto: cannot switch wd_vcrypto to polled completions\n");
	gop = vc_afalg_open("cbc(aes-generic)", buf, &gtfm);
	if (base[0])
		bop = vc_afalg_open(base, buf, &btfm);
	if (gop < 0 || (base[0] && bop < 0)) {
		fail("vcrypto", "AF_ALG: %s", strerror(gop < 0 ? -gop : -bop));
		goto out;
	}
	printf("vcrypto: %s (polled), baseline AF_ALG %s, software AF_ALG cbc(aes-generic); AES-128-CBC, %d rounds of %.1f s, depth %d\n",
	       name, base[0] ? base : "-", VC_ROUNDS, secs, VC_DEPTH);

	for (si = 0; si < 2; si++) {
		size_t len = sizes[si];
		unsigned char *src = buf + 4096, *dst = src + 65536;
		double sva[VC_ROUNDS], pin[VC_ROUNDS], dev[VC_ROUNDS],
		       sw[VC_ROUNDS], x[VC_ROUNDS], med;
		uint64_t kicks = 0, cmds = 0;
		char m[64];

		/* Correctness first: the device against the software. */
		if (wd_encrypt(sq, WD_CIPHER_CBC, buf, 16, src, dst, len) ||
		    vc_afalg_run(gop, buf + 16, src, ref, len) ||
		    memcmp(dst, ref, len)) {
			fail("vcrypto", "%zu bytes: device result differs from software", len);
			goto out;
		}
		for (r = 0; r < VC_ROUNDS; r++) {
			/* Alternate the order so drifts do not favour one. */
			int rev = r & 1;

			if (!rev)
				sva[r] = vc_wd_rate(sq, buf, src, dst, len, secs, &kicks, &cmds);
			pin[r] = vc_wd_rate(pq, buf, src, dst, len, secs, &kicks, &cmds);
			if (rev)
				sva[r] = vc_wd_rate(sq, buf, src, dst, len, secs, &kicks, &cmds);
			dev[r] = bop >= 0 ? vc_afalg_rate(bop, buf, src, ref, len, secs) : NAN;
			sw[r] = vc_afalg_rate(gop, buf, src, ref, len, secs);
			if (sva[r] < 0 || pin[r] < 0 || dev[r] < 0 || sw[r] < 0) {
				fail("vcrypto", "%zu bytes: a measure failed", len);
				goto out;
			}
		}
#define VC_ROW(what, num, den, goal) do {					\
		for (r = 0; r < VC_ROUNDS; r++)					\
			x[r] = (num)[r] / (den)[r];				\
		med = vc_median(x, VC_ROUNDS, spread, sizeof(spread));		\
		qsort(num, VC_ROUNDS, sizeof(double), vc_cmp_double);		\
		qsort(den, VC_ROUNDS, sizeof(double), vc_cmp_double);		\
		snprintf(m, sizeof(m), "%s %zuK", what, len >> 10);		\
		snprintf(a, sizeof(a), "%.0f/s", (num)[VC_ROUNDS / 2]);		\
		snprintf(b, sizeof(b), "%.0f/s", (den)[VC_ROUNDS / 2]);		\
		printf("%-10s %-32s %18s %18s %8.2fx  %s [spread %s]\n",	\
		       "vcrypto", m, a, b, med, goal, spread);			\
	} while (0)
		{
			double s1[VC_ROUNDS], p1[VC_ROUNDS], d1[VC_ROUNDS];

			memcpy(s1, sva, sizeof(s1));
			memcpy(p1, pin, sizeof(p1));
			memcpy(d1, dev, sizeof(d1));
			if (bop >= 0) {
				VC_ROW("SVA vs AF_ALG virtio", sva, dev, ">= 2x");
				memcpy(sva, s1, sizeof(s1));
				memcpy(dev, d1, sizeof(d1));
				VC_ROW("pinned vs AF_ALG virtio", pin, dev, ">= 2x");
				memcpy(pin, p1, sizeof(p1));
			}
			VC_ROW("pinned vs SVA", pin, sva, "0.9-1.1x");
			memcpy(pin, p1, sizeof(p1));
			memcpy(sva, s1, sizeof(s1));
			VC_ROW("SVA vs AF_ALG software", sva, sw, "> 1x: offload wins");
		}
#undef VC_ROW
		printf("vcrypto   %zuK: %llu commands, %llu doorbell syscalls (%.4f per command)\n",
		       len >> 10, (unsigned long long)cmds,
		       (unsigned long long)kicks, cmds ? (double)kicks / cmds : 0);
	}
	ret = 0;
out:
	vc_set_polled("0");
	if (bop >= 0) {
		close(bop);
		close(btfm);
	}
	if (gop >= 0) {
		close(gop);
		close(gtfm);
	}
	wd_close(sd);
	wd_close(pd);
	free(buf);
	free(ref);
	return ret;
}

static const struct scenario {
	const char *name;
	const char *what;
	uint32_t algs;
	int (*run)(void);
} scenarios[] = {
	{ "roundtrip", "small commands: polled rings vs one syscall per command",
	  WD_ALG_COPY, scenario_roundtrip },
	{ "copy", "COPY throughput vs memcpy on the same buffers",
	  WD_ALG_COPY, scenario_copy },
	{ "deflate", "DEFLATE/INFLATE (gzip) throughput and size vs zlib",
	  WD_ALG_DEFLATE | WD_ALG_INFLATE, scenario_deflate },
	{ "mmu", "SVA vs pinned: COPY throughput, faults, invalidation storm",
	  WD_ALG_COPY, scenario_mmu },
	{ "devmem", "device memory made accessible: each path vs faults and anon",
	  WD_ALG_COPY, scenario_devmem },
	{ "migrate", "migration to device-private memory and back vs test_hmm, memcpy",
	  WD_ALG_COPY, scenario_migrate },
	{ "vcrypto", "AES-CBC on the virtio-crypto device vs AF_ALG (device, software)",
	  0, scenario_vcrypto },
};

#define NR_SCENARIOS	((int)(sizeof(scenarios) / sizeof(scenarios[0])))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wdbench [--quick] [--scenario NAME] [--list] [-D DEVICE]\n"
		"Benchmarks a WarpDrive device against a baseline measured in the\n"
		"same run; prints ratios, exits non-zero on any device error.\n"
		"  -q, --quick          smaller sizes and fewer iterations\n"
		"  -s, --scenario NAME  run only this scenario (default: all)\n"
		"  -l, --list           list the scenarios\n"
		"  -D, --device NAME    use this device (default: the first able)\n"
		"  -h, --help           this text\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "scenario", required_argument, NULL, 's' },
		{ "list", no_argument, NULL, 'l' },
		{ "device", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *only = NULL, *device = NULL;
	int c, i, ret, failed = 0, found = 0;
	uint32_t algs = 0;

	while ((c = getopt_long(argc, argv, "qs:lD:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quick = 1;
			break;
		case 's':
			only = optarg;
			break;
		case 'l':
			for (i = 0; i < NR_SCENARIOS; i++)
				printf("%-10s %s\n", scenarios[i].name,
				       scenarios[i].what);
			return 0;
		case 'D':
			device = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < NR_SCENARIOS; i++) {
		if (only && strcmp(only, scenarios[i].name))
			continue;
		algs |= scenarios[i].algs;
		found = 1;
	}
	if (!found) {
		fprintf(stderr, "wdbench: no scenario '%s' (see --list)\n", only);
		return 2;
	}

	if (!device && !algs) {
		/* vcrypto alone: its own device, loaded if need be. */
		static char vname[64];

		device = vc_find(vname, sizeof(vname)) ? NULL : vname;
		if (!device) {
			printf("vcrypto: no wd_vcrypto device, skipped\n");
			return 0;
		}
	}
	ret = device ? wd_open(device, &dev) : wd_open_alg(algs, &dev);
	if (!ret)
		ret = wd_queue_get(dev, NULL, &queue);
	if (ret) {
		fprintf(stderr, "wdbench: %s%s%s\n", device ? device : "",
			device ? ": " : "", wd_strerror(ret));
		wd_close(dev);
		return 1;
	}
	printf("wdbench: device %s, rings %u/%u entries, %s run; ratios are "
	       "WARPDRIVE over BASELINE\n(rates: higher is better for the "
	       "device; sizes: lower is better)\n\n", wd_dev_name(dev),
	       wd_queue_sq_entries(queue), wd_queue_cq_entries(queue),
	       quick ? "quick" : "full");
	header();
	for (i = 0; i < NR_SCENARIOS; i++) {
		if (only && strcmp(only, scenarios[i].name))
			continue;
		if (scenarios[i].run())
			failed = 1;
	}
	printf("\nwdbench: kicks made by this run: %llu\n",
	       (unsigned long long)wd_queue_kicks(queue));
	wd_close(dev);
	if (failed)
		fprintf(stderr, "wdbench: FAILED (accelerator error, see above)\n");
	return failed;
}
