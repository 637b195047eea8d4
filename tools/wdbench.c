// SPDX-License-Identifier: GPL-2.0
/*
 * wdbench: WarpDrive benchmarks, reported as ratios against a baseline
 * measured in the same run (absolute times are never judged).
 *
 *   wdbench [--quick] [--scenario NAME] [--rounds N] [--json FILE]
 *           [--cpu N] [--list] [-D DEVICE]
 *
 * Each ratio is the median of --rounds rounds (5; --quick 3) in which the
 * two sides take turns, with the min-max spread of the rounds' ratios and
 * a verdict against its goal (see "Records" below); --json writes every
 * round of every measure.
 *
 * roundtrip  small commands (NOP, COPY of 64 bytes) through the mapped
 *            rings without system calls, against one syscall per command;
 *            and polled with 1-32 commands in flight (batch-size sweep)
 * copy       COPY throughput against memcpy() on the same buffers
 * deflate    DEFLATE/INFLATE (gzip) against user-space zlib
 * mmu        shared virtual addressing against pinned sharing: steady
 *            COPY throughput, first-touch cost (pages per device fault),
 *            and COPY under an invalidation storm
 * devmem     time to make device memory accessible (map + every page
 *            touched once) by each path, against one fault per page and
 *            against the kernel's anonymous memory (touch, MAP_POPULATE);
 *            then the same on memory reserved with fallocate() beforehand
 *            (the cost of mapping alone)
 * migrate    migration of 4 KiB-page ranges to device-private memory and
 *            back, against the kernel's test_hmm driver (loaded for the
 *            measure, through the same ioctls) and memcpy of the same size
 * gzip       wdzip -p N (N: the online CPUs) against pigz -p N, GNU gzip
 *            and libdeflate-gzip, as programs on the same text file:
 *            compression and decompression, levels 1 and 6
 * vcrypto    AES-128-CBC requests per second at 4 and 64 KiB on the
 *            wd_vcrypto device (polled rings, 16 commands in flight,
 *            SVA and pinned; the driver's interrupt completions, or
 *            --vc-polled) against AF_ALG on the kernel's virtio_crypto
 *            device and AF_ALG software AES (cbc(aes-generic))
 *
 * Every result is checked (copies compared, compressed data inflated back
 * with zlib); any accelerator error makes the exit status non-zero.
 */
#include <errno.h>
#include <limits.h>
#include <linux/if_alg.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <sched.h>
#include <math.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
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

/*
 * Records: every figure wdbench reports is one record, printed as a table
 * row and, with --json FILE, written to FILE as one JSON object a line.
 *
 * A record compares a side (WarpDrive) with a baseline measured in the
 * same run, round by round: the two sides take turns (A B, B A, A B, ...:
 * the order alternates, so a drift of the host favours neither), the ratio
 * of each round is A / B of that round, and the figure is the median of
 * those ratios with their min-max spread. A goal on the ratio is met
 * ("pass") only when the whole spread clears it, missed ("fail") when the
 * whole spread misses it, and "unstable" when the spread crosses it.
 * A record without a baseline reports values (faults, kicks per command)
 * the same way: median, min-max, verdict of the goal on them.
 */

#define MAX_ROUNDS	256
#define ROUNDS_MAX	32		/* --rounds at most */

static int rounds = 5;		/* rounds per ratio (--rounds; quick: 3) */
static int bench_cpu = -2;	/* --cpu: -1 none, -2 the last online CPU */
static FILE *json;		/* --json FILE */

struct rec {
	const char *scenario;
	const char *measure;
	const char *unit;	/* of the raw values a[] and b[] */
	const char *side;	/* what a[] measures */
	const char *baseline;	/* what b[] measures; NULL: no baseline */
	const double *a, *b;	/* one value per round */
	int n;
	int values;		/* b[] shown, but no ratio: the figure is a[] */
	const char *goal;	/* ">= 5x", "> 1x", "<= 0", "0.9-1.1x" or a note */
	const char *params;	/* extra JSON members ("\"size\": 4096") or NULL */
};

enum goal_op { GOAL_NONE, GOAL_GE, GOAL_GT, GOAL_LE, GOAL_RANGE };

static const char *const goal_ops[] = { "", ">=", ">", "<=", "range" };

struct goal {
	enum goal_op op;
	double lo, hi;
};

/* ">= X", "> X", "<= X", "LO-HI", each optionally followed by text. */
static struct goal parse_goal(const char *s)
{
	struct goal g = { GOAL_NONE, 0, 0 };
	char *end;

	if (!s)
		return g;
	while (*s == ' ')
		s++;
	if (!strncmp(s, ">=", 2)) {
		g.op = GOAL_GE;
		s += 2;
	} else if (*s == '>') {
		g.op = GOAL_GT;
		s++;
	} else if (!strncmp(s, "<=", 2)) {
		g.op = GOAL_LE;
		s += 2;
	} else if (*s >= '0' && *s <= '9') {
		g.op = GOAL_RANGE;
	} else {
		return g;
	}
	g.lo = g.hi = strtod(s, &end);
	if (end == s)
		g.op = GOAL_NONE;
	if (g.op == GOAL_RANGE) {
		s = end + 1;
		if (*end != '-' || (g.hi = strtod(s, &end), end == s))
			g.op = GOAL_NONE;
	}
	return g;
}

static const char *verdict(struct goal g, double min, double max)
{
	switch (g.op) {
	case GOAL_GE:
		return min >= g.lo ? "pass" : max < g.lo ? "fail" : "unstable";
	case GOAL_GT:
		return min > g.lo ? "pass" : max <= g.lo ? "fail" : "unstable";
	case GOAL_LE:
		return max <= g.lo ? "pass" : min > g.lo ? "fail" : "unstable";
	case GOAL_RANGE:
		if (min >= g.lo && max <= g.hi)
			return "pass";
		return max < g.lo || min > g.hi ? "fail" : "unstable";
	default:
		return "none";
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median, min and max of @n values (not reordered). */
static double stats(const double *v, int n, double *min, double *max)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	*min = s[0];
	*max = s[n - 1];
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void fmt_val(char *s, size_t len, double v)
{
	if (isnan(v))
		snprintf(s, len, "-");
	else if (fabs(v) >= 1000 || v == (long long)v)
		snprintf(s, len, "%.0f", v);
	else if (fabs(v) >= 10)
		snprintf(s, len, "%.1f", v);
	else
		snprintf(s, len, "%.3g", v);
}

static void json_str(const char *s)
{
	fputc('"', json);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(json, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(json, "\\u%04x", *s);
		else
			fputc(*s, json);
	}
	fputc('"', json);
}

static void json_num(double v)
{
	if (isfinite(v))
		fprintf(json, "%.6g", v);
	else
		fputs("null", json);
}

static void json_array(const double *v, int n)
{
	int i;

	fputc('[', json);
	for (i = 0; i < n; i++) {
		if (i)
			fputc(',', json);
		json_num(v[i]);
	}
	fputc(']', json);
}

static void header(void)
{
	printf("%-10s %-34s %12s %12s %8s %-13s %-8s %s\n", "SCENARIO",
	       "MEASURE", "WARPDRIVE", "BASELINE", "RATIO", "SPREAD", "VERDICT",
	       "GOAL");
}

/* A line of text in the table (and nothing in the JSON). */
static void note(const char *scenario, const char *text)
{
	printf("%-10s %s\n", scenario, text);
	fflush(stdout);
}

/*
 * Report one measure: a table row (medians of both sides, median ratio,
 * spread, verdict) and a JSON record with every round.
 */
static void record(const struct rec *r)
{
	double ratio[MAX_ROUNDS], med, min, max, ma, mb = NAN, dummy;
	struct goal g = parse_goal(r->goal);
	const int has_ratio = r->b && !r->values;
	const char *v;
	char a[32], b[32], m[32], sp[32];
	int i, n = r->n < MAX_ROUNDS ? r->n : MAX_ROUNDS;

	if (n < 1)
		return;
	ma = stats(r->a, n, &dummy, &dummy);
	if (r->b)
		mb = stats(r->b, n, &dummy, &dummy);
	for (i = 0; i < n; i++)
		ratio[i] = has_ratio ? r->a[i] / r->b[i] : r->a[i];
	med = stats(ratio, n, &min, &max);
	v = verdict(g, min, max);
	fmt_val(a, sizeof(a), ma);
	fmt_val(b, sizeof(b), mb);
	if (has_ratio) {
		snprintf(m, sizeof(m), "%.2fx", med);
		snprintf(sp, sizeof(sp), "%.2f-%.2f", min, max);
	} else {
		snprintf(m, sizeof(m), "-");
		if (min == max)
			snprintf(sp, sizeof(sp), "=");
		else
			snprintf(sp, sizeof(sp), "%.3g-%.3g", min, max);
	}
	printf("%-10s %-34s %12s %12s %8s %-13s %-8s %s\n", r->scenario,
	       r->measure, a, b, m, sp, g.op == GOAL_NONE ? "" : v,
	       r->goal ? r->goal : "");
	fflush(stdout);
	if (!json)
		return;
	fputs("{\"type\": \"record\", \"scenario\": ", json);
	json_str(r->scenario);
	fputs(", \"measure\": ", json);
	json_str(r->measure);
	fputs(", \"unit\": ", json);
	json_str(r->unit);
	fputs(", \"side\": ", json);
	json_str(r->side);
	fputs(", \"baseline\": ", json);
	if (r->baseline)
		json_str(r->baseline);
	else
		fputs("null", json);
	fprintf(json, ", \"kind\": \"%s\", \"rounds\": %d, \"a\": ",
		has_ratio ? "ratio" : "value", n);
	json_array(r->a, n);
	fputs(", \"b\": ", json);
	if (r->b)
		json_array(r->b, n);
	else
		fputs("null", json);
	fputs(", \"median_a\": ", json);
	json_num(ma);
	fputs(", \"median_b\": ", json);
	json_num(mb);
	if (has_ratio) {
		fputs(", \"ratios\": ", json);
		json_array(ratio, n);
	}
	fputs(", \"median\": ", json);
	json_num(med);
	fputs(", \"min\": ", json);
	json_num(min);
	fputs(", \"max\": ", json);
	json_num(max);
	fputs(", \"goal\": ", json);
	if (g.op == GOAL_NONE) {
		fputs("null", json);
	} else {
		fprintf(json, "{\"op\": \"%s\", ", goal_ops[g.op]);
		if (g.op == GOAL_RANGE) {
			fputs("\"min\": ", json);
			json_num(g.lo);
			fputs(", \"max\": ", json);
			json_num(g.hi);
		} else {
			fputs("\"value\": ", json);
			json_num(g.lo);
		}
		fputs("}", json);
	}
	fputs(", \"goal_text\": ", json);
	if (r->goal)
		json_str(r->goal);
	else
		fputs("null", json);
	fprintf(json, ", \"verdict\": \"%s\"", v);
	if (r->params)
		fprintf(json, ", \"params\": {%s}", r->params);
	fputs("}\n", json);
	fflush(json);
}

/*
 * With --cpu (the default), the engine threads of device @name (kernel
 * threads called "NAME/qN") are moved off wdbench's CPU where the kernel
 * lets them: a polling submitter and a polling engine sharing one CPU run
 * by turns of a scheduler time slice, which would make the polled figures
 * depend on where the scheduler happened to put them. Returns how many
 * threads are now kept apart (threads bound to a CPU are left alone).
 */
static int engines_apart(const char *name)
{
	char path[300], comm[64];
	size_t nlen = strlen(name);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), i;
	struct dirent *de;
	cpu_set_t set;
	int moved = 0;
	DIR *d;
	FILE *f;

	if (bench_cpu < 0 || !name || (d = opendir("/proc")) == NULL)
		return 0;
	CPU_ZERO(&set);
	for (i = 0; i < ncpu && i < CPU_SETSIZE; i++)
		if (i != bench_cpu)
			CPU_SET(i, &set);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, name, nlen) &&
		    comm[nlen] == '/' && comm[nlen + 1] == 'q' &&
		    !sched_setaffinity(atoi(de->d_name), sizeof(set), &set))
			moved++;
		fclose(f);
	}
	closedir(d);
	return moved;
}

/*
 * Move wdbench onto the CPUs the engine threads may use (@on), or back to
 * its own CPU: for a baseline that must run where the engine does (the
 * kernel's copy against the engine's), not on a quieter CPU. Returns 0 or
 * -1; a no-op without --cpu.
 */
static int on_engine_cpus(int on)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), i;
	cpu_set_t set;

	if (bench_cpu < 0)
		return 0;
	CPU_ZERO(&set);
	for (i = 0; i < ncpu && i < CPU_SETSIZE; i++)
		if ((i != bench_cpu) == !!on)
			CPU_SET(i, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -1 : 0;
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

/*
 * Commands per second of one mode for @slice seconds (and its kicks per
 * command, and the engine's wake-ups per command from its sysfs stats),
 * after a quarter of that uncounted: the engine settles into
 * the mode's steady state (polling, or sleeping between commands) first.
 */
static int rt_measure(struct rt *rt, int polled, double slice, double *rate,
		      double *kpc, double *wpc)
{
	int (*fn)(const struct rt *, uint64_t, double, uint64_t *, uint64_t *,
		  double *) = polled ? rt_polled : rt_syscall;
	const uint64_t lots = UINT64_MAX / 2;
	uint64_t done, kicks, w0;
	double t;

	if (fn(rt, lots, slice / 4, &done, &kicks, &t))
		return -1;
	w0 = dev_stat("engine_wakeups");
	if (fn(rt, lots, slice, &done, &kicks, &t))
		return -1;
	*rate = done / t;
	if (kpc)
		*kpc = (double)kicks / done;
	if (wpc)
		*wpc = (double)(dev_stat("engine_wakeups") - w0) / done;
	return 0;
}

/* Turns of each side of the main ratio in one round. */
#define RT_TURNS	4

/*
 * The main ratio's two sides, polled and one syscall per command, in
 * RT_TURNS turns of @slice / RT_TURNS each, the order reversed every
 * other turn (@rev: polled first in the first turn): a drift of the host
 * within the round lands on both. Rates and per-command figures are the
 * turns' means.
 */
static int rt_turns(struct rt *rt, double slice, int rev, double *pol,
		    double *kp, double *wp, double *sys, double *ks,
		    double *ws)
{
	double rate, k, w;
	int t, side;

	*pol = *kp = *wp = *sys = *ks = *ws = 0;
	for (t = 0; t < RT_TURNS; t++)
		for (side = 0; side < 2; side++) {
			int polled = side ^ ((t + rev) & 1);

			if (rt_measure(rt, polled, slice / RT_TURNS, &rate, &k,
				       &w))
				return -1;
			*(polled ? pol : sys) += rate / RT_TURNS;
			*(polled ? kp : ks) += k / RT_TURNS;
			*(polled ? wp : ws) += w / RT_TURNS;
		}
	return 0;
}

/* Commands in flight (and so the most per submit call) of the sweep. */
static const unsigned int rt_sweep[] = { 1, 2, 4, 8, 16, 32 };

#define RT_SWEEP	((int)(sizeof(rt_sweep) / sizeof(rt_sweep[0])))

/*
 * Rounds in which one syscall per command and the polled rings take turns:
 * polled with the ring full (batches of BATCH), and in a full run polled
 * with 1, 2, 4 ... 32 commands in flight, each submitted in one call (the
 * batch-size sweep). Each mode runs for a fixed time per round.
 */
static int roundtrip_one(struct rt *rt, const char *name)
{
	double sys[MAX_ROUNDS], pol[MAX_ROUNDS], kp[MAX_ROUNDS], ks[MAX_ROUNDS];
	double wp[MAX_ROUNDS], ws[MAX_ROUNDS];
	double sw[RT_SWEEP][MAX_ROUNDS], slice = quick ? 0.2 : 0.3;
	unsigned int ring = rt->depth;
	int nsw = quick ? 0 : RT_SWEEP, n = quick ? rounds : 2 * rounds, r, j;
	char measure[64], side[64], params[128];

	/*
	 * Twice the rounds of other scenarios, shorter: how fast a polled
	 * queue goes depends on both CPUs running at once, so the rates
	 * jump when the host runs other work; more rounds sample that more
	 * evenly. The two sides of the main ratio take RT_TURNS turns each
	 * (rt_turns()).
	 */
	for (r = 0; r < n; r++) {
		int rev = r & 1;

		for (j = 0; rev && j < nsw; j++) {
			rt->depth = rt_sweep[nsw - 1 - j] < ring ?
				    rt_sweep[nsw - 1 - j] : ring;
			if (rt_measure(rt, 1, slice, &sw[nsw - 1 - j][r], NULL,
				       NULL))
				return -1;
		}
		rt->depth = ring;
		if (rt_turns(rt, slice, rev, &pol[r], &kp[r], &wp[r], &sys[r],
			     &ks[r], &ws[r]))
			return -1;
		for (j = 0; !rev && j < nsw; j++) {
			rt->depth = rt_sweep[j] < ring ? rt_sweep[j] : ring;
			if (rt_measure(rt, 1, slice, &sw[j][r], NULL, NULL))
				return -1;
		}
		rt->depth = ring;
	}

	snprintf(measure, sizeof(measure), "%s cmd/s: polled | 1 syscall", name);
	snprintf(side, sizeof(side), "polled rings, %u in flight, batches of %d",
		 ring, BATCH);
	snprintf(params, sizeof(params),
		 "\"op\": \"%s\", \"in_flight\": %u, \"batch\": %d", name, ring,
		 BATCH);
	record(&(struct rec){ .scenario = "roundtrip", .measure = measure,
		.unit = "cmd/s", .side = side,
		.baseline = "one system call per command", .a = pol, .b = sys,
		.n = n, .goal = ">= 5x", .params = params });
	snprintf(measure, sizeof(measure), "%s kicks/cmd: polled | 1 syscall",
		 name);
	record(&(struct rec){ .scenario = "roundtrip", .measure = measure,
		.unit = "kicks/cmd", .side = side,
		.baseline = "one system call per command", .a = kp, .b = ks,
		.n = n, .values = 1, .goal = "polled: 0",
		.params = params });
	snprintf(measure, sizeof(measure),
		 "%s engine wake-ups/cmd: polled | 1 syscall", name);
	record(&(struct rec){ .scenario = "roundtrip", .measure = measure,
		.unit = "wake-ups/cmd", .side = side,
		.baseline = "one system call per command", .a = wp, .b = ws,
		.n = n, .values = 1, .goal = "polled: ~0",
		.params = params });
	for (j = 0; j < nsw; j++) {
		unsigned int b = rt_sweep[j] < ring ? rt_sweep[j] : ring;

		snprintf(measure, sizeof(measure),
			 "%s cmd/s: batch %u | 1 syscall", name, b);
		snprintf(side, sizeof(side),
			 "polled rings, %u in flight, submitted in one call", b);
		snprintf(params, sizeof(params),
			 "\"op\": \"%s\", \"sweep\": \"batch\", \"batch\": %u",
			 name, b);
		record(&(struct rec){ .scenario = "roundtrip",
			.measure = measure, .unit = "cmd/s", .side = side,
			.baseline = "one system call per command", .a = sw[j],
			.b = sys, .n = n, .params = params });
	}
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

/* MB/s of @iters COPYs on the queue (< 0 on an error), or of memcpy(). */
static double copy_round(int accel, unsigned char *dst,
			 const unsigned char *src, size_t size, int iters)
{
	double t = now();
	int i, err;

	for (i = 0; i < iters; i++) {
		if (!accel) {
			memcpy(dst, src, size);
			use(dst);
			continue;
		}
		err = wd_copy(queue, dst, src, size);
		if (err) {
			fail("copy", "%zu MiB: %s", size / MIB, wd_strerror(err));
			return -1;
		}
	}
	return size * (double)iters / (now() - t) / 1e6;
}

static int copy_one(size_t size, int iters)
{
	unsigned char *src = alloc_buf(size), *dst = alloc_buf(size);
	double acc[MAX_ROUNDS], mem[MAX_ROUNDS];
	char measure[64], params[64];
	int ret = -1, r, err;

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
	memcpy(dst, src, size);		/* warm-up */

	for (r = 0; r < rounds; r++) {
		int rev = r & 1;

		if (rev)
			mem[r] = copy_round(0, dst, src, size, iters);
		memset(dst, 0, size);
		acc[r] = copy_round(1, dst, src, size, iters);
		if (acc[r] < 0)
			goto out;
		if (memcmp(dst, src, size)) {
			fail("copy", "%zu MiB: output differs from input",
			     size / MIB);
			goto out;
		}
		if (!rev)
			mem[r] = copy_round(0, dst, src, size, iters);
	}

	snprintf(measure, sizeof(measure), "%zu MiB x %d MB/s: COPY | memcpy",
		 size / MIB, iters);
	snprintf(params, sizeof(params), "\"size\": %zu, \"iters\": %d", size,
		 iters);
	record(&(struct rec){ .scenario = "copy", .measure = measure,
		.unit = "MB/s", .side = "COPY through the queue",
		.baseline = "memcpy", .a = acc, .b = mem, .n = rounds,
		.params = params });
	ret = 0;
out:
	free(src);
	free(dst);
	return ret;
}

/* Per round: 1 MiB x 16 and 16 MiB x 2 (quick: 1 MiB x 2, 4 MiB x 1). */
static int scenario_copy(void)
{
	if (quick)
		return copy_one(MIB, 2) || copy_one(4 * MIB, 1) ? -1 : 0;
	return copy_one(MIB, 16) || copy_one(16 * MIB, 2) ? -1 : 0;
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

/* MB/s of one DEFLATE at @level on the device (@accel) or with zlib. */
static double deflate_round(struct dfl *d, int level, int accel, size_t *zlen)
{
	double t = now();
	int i, err;

	for (i = 0; i < d->iters; i++) {
		if (!accel) {
			if (zlib_gzip(level, d->in, d->len, d->zcomp, d->cap,
				      zlen)) {
				fail("deflate", "zlib failed at level %d", level);
				return -1;
			}
			continue;
		}
		err = wd_compress(queue, WD_FMT_GZIP, level, d->in, d->len,
				  d->comp, d->cap, &d->comp_len);
		if (err) {
			fail("deflate", "level %d: %s", level, wd_strerror(err));
			return -1;
		}
	}
	return d->len * (double)d->iters / (now() - t) / 1e6;
}

static int deflate_level(struct dfl *d, int level)
{
	double acc[MAX_ROUNDS], zl[MAX_ROUNDS], sa[MAX_ROUNDS], sz[MAX_ROUNDS];
	size_t zlen = 0, blen = 0;
	char measure[64], params[64];
	int r;

	for (r = 0; r < rounds; r++) {
		int rev = r & 1;

		if (rev && (zl[r] = deflate_round(d, level, 0, &zlen)) < 0)
			return -1;
		if ((acc[r] = deflate_round(d, level, 1, NULL)) < 0)
			return -1;
		if (!rev && (zl[r] = deflate_round(d, level, 0, &zlen)) < 0)
			return -1;
		if (zlib_gunzip(d->comp, d->comp_len, d->back, d->len, &blen) ||
		    blen != d->len || memcmp(d->back, d->in, d->len))
			return fail("deflate", "level %d: output does not "
				    "inflate back to the input with zlib", level);
		sa[r] = d->comp_len;
		sz[r] = zlen;
	}

	snprintf(params, sizeof(params), "\"level\": %d, \"size\": %zu", level,
		 d->len);
	snprintf(measure, sizeof(measure), "level %d MB/s: DEFLATE | zlib",
		 level);
	record(&(struct rec){ .scenario = "deflate", .measure = measure,
		.unit = "MB/s", .side = "DEFLATE (gzip) on the device",
		.baseline = "user-space zlib", .a = acc, .b = zl, .n = rounds,
		.params = params });
	snprintf(measure, sizeof(measure), "level %d bytes out of %zu", level,
		 d->len);
	record(&(struct rec){ .scenario = "deflate", .measure = measure,
		.unit = "bytes", .side = "DEFLATE (gzip) on the device",
		.baseline = "user-space zlib", .a = sa, .b = sz, .n = rounds,
		.goal = "size ratio (lower: smaller)", .params = params });
	return 0;
}

/* MB/s of one INFLATE of the device's last output, on the device or zlib. */
static double inflate_round(struct dfl *d, int accel)
{
	size_t blen = 0, used = 0;
	double t = now();
	int i, err;

	for (i = 0; i < d->iters; i++) {
		if (!accel) {
			if (zlib_gunzip(d->comp, d->comp_len, d->back, d->len,
					&blen)) {
				fail("deflate", "zlib inflate failed");
				return -1;
			}
			continue;
		}
		err = wd_decompress(queue, WD_FMT_GZIP, d->comp, d->comp_len,
				    d->back, d->len, &blen, &used);
		if (err) {
			fail("deflate", "INFLATE: %s", wd_strerror(err));
			return -1;
		}
		if (blen != d->len || used != d->comp_len ||
		    memcmp(d->back, d->in, d->len)) {
			fail("deflate", "INFLATE output differs from the input "
			     "(%zu of %zu bytes, consumed %zu of %zu)", blen,
			     d->len, used, d->comp_len);
			return -1;
		}
		memset(d->back, 0, d->len);
	}
	return d->len * (double)d->iters / (now() - t) / 1e6;
}

/* INFLATE of the accelerator's last output, against zlib on the same. */
static int inflate_rate(struct dfl *d)
{
	double acc[MAX_ROUNDS], zl[MAX_ROUNDS];
	char params[64];
	int r;

	for (r = 0; r < rounds; r++) {
		int rev = r & 1;

		if (rev && (zl[r] = inflate_round(d, 0)) < 0)
			return -1;
		if ((acc[r] = inflate_round(d, 1)) < 0)
			return -1;
		if (!rev && (zl[r] = inflate_round(d, 0)) < 0)
			return -1;
	}
	snprintf(params, sizeof(params), "\"size\": %zu", d->len);
	record(&(struct rec){ .scenario = "deflate",
		.measure = "inflate MB/s: INFLATE | zlib", .unit = "MB/s",
		.side = "INFLATE (gzip) on the device",
		.baseline = "user-space zlib", .a = acc, .b = zl, .n = rounds,
		.params = params });
	return 0;
}

/*
 * One large buffer compressed by wd_qset_compress() on a set of a queue per
 * CPU against the same call on a set of one queue (the output is the same
 * bytes), at levels 1 and 6, the two taking turns: how the device's
 * engines (wd_soft: one per CPU) scale for one caller.
 */
static int qset_rate(struct dfl *d)
{
	static const int levels[] = { 1, 6 };
	struct wd_qset *one = NULL, *all = NULL;
	size_t cap = wd_qset_compress_bound(d->len), out[2];
	unsigned char *z[2] = { alloc_buf(cap), alloc_buf(cap) };
	int ret = -1, li, r, side;
	char params[96], line[96];

	if (!z[0] || !z[1]) {
		fail("deflate", "out of memory");
		goto out;
	}
	ret = wd_qset_open(wd_dev_name(dev), 0, &all);
	if (!ret)
		ret = wd_qset_open(wd_dev_name(dev), 1, &one);
	if (ret) {
		fail("deflate", "queue set: %s", wd_strerror(ret));
		goto out;
	}
	snprintf(line, sizeof(line), "queue set: %u queues for %ld CPUs",
		 wd_qset_size(all), sysconf(_SC_NPROCESSORS_ONLN));
	note("deflate", line);
	for (li = 0; li < 2; li++) {
		double mbs[2][MAX_ROUNDS];
		char measure[64];

		for (r = 0; r < rounds; r++) {
			for (side = 0; side < 2; side++) {
				/* Set of one first in odd rounds. */
				int k = side ^ (r & 1);
				double t = now();

				ret = wd_qset_compress(k ? one : all, WD_FMT_GZIP,
						       levels[li], d->in, d->len,
						       z[k], cap, &out[k]);
				if (ret) {
					fail("deflate", "wd_qset_compress: %s",
					     wd_strerror(ret));
					goto out;
				}
				mbs[k][r] = d->len / 1e6 / (now() - t);
			}
			if (out[0] != out[1] || memcmp(z[0], z[1], out[0])) {
				ret = fail("deflate", "a queue set's output depends on its size");
				goto out;
			}
		}
		snprintf(measure, sizeof(measure),
			 "qset level %d MB/s: %u queues | 1 queue", levels[li],
			 wd_qset_size(all));
		snprintf(params, sizeof(params),
			 "\"size\": %zu, \"level\": %d, \"queues\": %u",
			 d->len, levels[li], wd_qset_size(all));
		record(&(struct rec){ .scenario = "deflate", .measure = measure,
			.unit = "MB/s",
			.side = "wd_qset_compress(), a queue per CPU",
			.baseline = "wd_qset_compress(), one queue",
			.a = mbs[0], .b = mbs[1], .n = rounds, .params = params });
	}
	ret = 0;
out:
	wd_qset_close(one);
	wd_qset_close(all);
	free(z[0]);
	free(z[1]);
	return ret;
}

static int scenario_deflate(void)
{
	struct dfl d = {
		.len = quick ? 512 * 1024 : 4 * MIB,
		.iters = 1,
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
	if (deflate_level(&d, 1) || deflate_level(&d, 6) || inflate_rate(&d) ||
	    qset_rate(&d))
		goto out;
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
 * COPY through a queue and the device MMU (@q: SVA or pinned, @mode its
 * name) against the kernel copying the same pages, at 1, 4 and 16 MiB, in
 * rounds in which the two take KC_TURNS turns each, in alternating order.
 * One command at a time through wd_copy(), which spins briefly and then
 * sleeps until the completion, as an application waits for a copy of
 * milliseconds: a process polling all along would keep a second CPU busy
 * while the kernel's side runs on one. The kernel's copy runs on the CPUs
 * the engine threads run on (engines_apart()), so that both copies meet
 * the same interrupts and the same share of the host. A second record compares the
 * engine's own busy time (wd_soft's busy_ns) with the kernel's copy: what
 * the framework costs outside the engine is the difference between the
 * two. The copies must take no device fault (the mirror is warm).
 */
/* Turns of each side in one round of kcopy_rows(). */
#define KC_TURNS	4

static int kcopy_rows(int kfd, struct wd_queue *q, const char *mode,
		      char *src, char *dst, size_t max)
{
	static const size_t sizes[] = { 1 * MIB, 4 * MIB, 16 * MIB };
	unsigned int s;

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t len = sizes[s];
		int iters = (quick ? 16 : 128) * MIB / len, r, i;
		uint64_t f0;
		double wd[MAX_ROUNDS], k[MAX_ROUNDS], busy[MAX_ROUNDS];
		char measure[64], side[64], params[64];
		double mib = (double)len * iters / MIB;

		if (len > max)
			break;
		if (wd_copy(q, dst, src, len))	/* warm: mirror filled */
			return fail("mmu", "COPY %zu failed", len);
		f0 = dev_stat("device_faults");
		for (r = 0; r < rounds; r++) {
			int turns = iters < KC_TURNS ? iters : KC_TURNS, tn;
			double t_wd = 0, t_k = 0, t_e = 0;

			/*
			 * The round's copies in turns, WarpDrive first in even
			 * turns and the kernel first in odd ones.
			 */
			for (tn = 0; tn < 2 * turns; tn++) {
				int n = iters / turns + (tn / 2 < iters % turns);
				double t0 = now(), t;
				long long e0 = busy_ns();

				if ((tn & 1) == (tn / 2 & 1)) {
					for (i = 0; i < n; i++)
						if (wd_copy(q, dst, src, len))
							return fail("mmu", "COPY failed");
					t_wd += now() - t0;
					t_e += (busy_ns() - e0) / 1e9;
					continue;
				}
				/* On the engine's CPUs, as the engine copies. */
				if (on_engine_cpus(1))
					return fail("mmu", "affinity: %s",
						    strerror(errno));
				t = kernel_copy_secs(kfd, src, dst, len, n);
				if (on_engine_cpus(0))
					return fail("mmu", "affinity: %s",
						    strerror(errno));
				if (t <= 0)
					return fail("mmu", "kernel copy: %s",
						    strerror((int)-t));
				t_k += t;
			}
			wd[r] = mib / t_wd;
			k[r] = mib / t_k;
			busy[r] = busy_ns() >= 0 && t_e > 0 ? mib / t_e : NAN;
		}
		if (memcmp(dst, src, len))
			return fail("mmu", "COPY output differs");
		if (dev_stat("device_faults") != f0)
			return fail("mmu", "%s COPY of %zu MiB took device faults",
				    mode, len / MIB);
		snprintf(params, sizeof(params),
			 "\"size\": %zu, \"iters\": %d, \"mmu\": \"%s\"", len,
			 iters, mode);
		snprintf(measure, sizeof(measure),
			 "COPY %zu MiB MB/s: %s | kernel", len / MIB, mode);
		snprintf(side, sizeof(side), "COPY, %s, one at a time, wd_copy()",
			 mode);
		record(&(struct rec){ .scenario = "mmu", .measure = measure,
			.unit = "MiB/s", .side = side,
			.baseline = "the kernel's memcpy() of the same pages",
			.a = wd, .b = k, .n = rounds, .goal = ">= 0.80x",
			.params = params });
		snprintf(measure, sizeof(measure),
			 "COPY %zu MiB engine busy MB/s: %s | kernel",
			 len / MIB, mode);
		snprintf(side, sizeof(side), "COPY, %s, engine busy time only",
			 mode);
		record(&(struct rec){ .scenario = "mmu", .measure = measure,
			.unit = "MiB/s", .side = side,
			.baseline = "the kernel's memcpy() of the same pages",
			.a = busy, .b = k, .n = rounds, .params = params });
	}
	return 0;
}

/* Address space for the unrelated munmap of the mmu scenario. */
#define RES_LEN		(8 * MIB)

static int scenario_mmu(void)
{
	size_t len = (quick ? 4 : 16) * MIB;
	int iters = quick ? 1 : 4, ret = -1, r, kfd;
	struct wd_dev *pdev = NULL;
	struct wd_queue *pq = NULL;
	double ppf[MAX_ROUNDS], one[MAX_ROUNDS], sva[MAX_ROUNDS],
	       pin[MAX_ROUNDS], stormy[MAX_ROUNDS], quiet[MAX_ROUNDS],
	       sf[MAX_ROUNDS], inv[MAX_ROUNDS], storms[MAX_ROUNDS],
	       ncalls[MAX_ROUNDS];
	uint64_t f0, p0, i0, n0;
	char *src = NULL, *dst = NULL, *fresh_src = NULL, *fresh_dst = NULL;
	char *res = NULL;
	char params[64];
	pthread_t th;

	/*
	 * Separate allocations: buffers at a fixed power-of-two distance
	 * alias in an emulator's direct-mapped TLB and measure that instead.
	 * alloc_buf() touches them: CPU pages exist, the device has none.
	 * The reservation for the unrelated munmap below comes first.
	 */
	res = mmap(NULL, RES_LEN, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED) {
		res = NULL;
		fail("mmu", "no reservation: %s", strerror(errno));
		goto out;
	}
	src = alloc_buf(len);
	dst = alloc_buf(len);
	if (!src || !dst) {
		fail("mmu", "out of memory");
		goto out;
	}
	fill_random((unsigned char *)src, len);
	snprintf(params, sizeof(params), "\"size\": %zu, \"iters\": %d", len,
		 iters);

	/* First touch, once a round: the device faults fresh buffers in. */
	for (r = 0; r < rounds; r++) {
		uint64_t faults;

		fresh_src = alloc_buf(len);
		fresh_dst = alloc_buf(len);
		if (!fresh_src || !fresh_dst) {
			fail("mmu", "out of memory");
			goto out;
		}
		f0 = dev_stat("device_faults");
		p0 = dev_stat("pages_faulted");
		if (wd_copy(queue, fresh_dst, fresh_src, len)) {
			fail("mmu", "first-touch COPY failed");
			goto out;
		}
		faults = dev_stat("device_faults") - f0;
		ppf[r] = faults ? (double)(dev_stat("pages_faulted") - p0) /
			 faults : 0;
		one[r] = 1;
		free(fresh_src);
		free(fresh_dst);
		fresh_src = fresh_dst = NULL;
	}
	record(&(struct rec){ .scenario = "mmu",
		.measure = "SVA pages per device fault", .unit = "pages/fault",
		.side = "SVA, first touch of a fresh buffer (sequential)",
		.baseline = "no fault-around: 1", .a = ppf, .b = one,
		.n = rounds, .values = 1, .goal = ">= 16", .params = params });

	/*
	 * What an munmap elsewhere in the process costs the device: 1 MiB
	 * mapped, touched and unmapped in the middle of a reservation taken
	 * before the device saw any buffer, so no 2 MiB block around it
	 * holds or held anything the device mirrors. (Address space freed
	 * after the device mirrored it keeps its empty blocks' notifiers
	 * until they are collected.) Device notifier calls per munmap, a
	 * hundred munmaps a round.
	 */
	for (r = 0; r < rounds; r++) {
		char *o = (char *)(((uintptr_t)res + 3 * MIB) &
				   ~(2 * MIB - 1));
		int i;

		n0 = dev_stat("notifier_calls");
		for (i = 0; i < 100; i++) {
			if (mmap(o, MIB, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				 -1, 0) == MAP_FAILED)
				break;
			memset(o, 1, MIB);
			/* Back to a reservation: nothing else lands there. */
			mmap(o, MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			     MAP_NORESERVE | MAP_FIXED, -1, 0);
		}
		ncalls[r] = i ? (double)(dev_stat("notifier_calls") - n0) / i :
			    NAN;
		if (i < 100) {
			fail("mmu", "mmap in the reservation failed");
			goto out;
		}
	}
	record(&(struct rec){ .scenario = "mmu",
		.measure = "device notifier calls/unrelated munmap",
		.unit = "calls/munmap",
		.side = "SVA queue open, 1 MiB munmap 2 MiB away from its pages",
		.a = ncalls, .n = rounds, .values = 1, .goal = "<= 0",
		.params = params });

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
	engines_apart(wd_dev_name(dev));
	/* Steady state: SVA (warm mirror) against pinned shares, in turns. */
	if (wd_copy(queue, dst, src, len) || wd_copy(pq, dst, src, len))
		goto out;
	for (r = 0; r < rounds; r++) {
		int rev = r & 1;

		if (rev && (pin[r] = copy_rate(pq, dst, src, len, iters)) < 0)
			goto out;
		f0 = dev_stat("device_faults");
		i0 = dev_stat("invalidations");
		if ((sva[r] = copy_rate(queue, dst, src, len, iters)) < 0)
			goto out;
		sf[r] = dev_stat("device_faults") - f0;
		inv[r] = dev_stat("invalidations") - i0;
		if (!rev && (pin[r] = copy_rate(pq, dst, src, len, iters)) < 0)
			goto out;
	}
	record(&(struct rec){ .scenario = "mmu",
		.measure = "SVA device faults in steady state", .unit = "faults",
		.side = "SVA device faults", .baseline = "invalidations",
		.a = sf, .b = inv, .n = rounds, .values = 1, .goal = "<= 0",
		.params = params });
	record(&(struct rec){ .scenario = "mmu",
		.measure = "COPY MB/s: SVA | pinned", .unit = "MiB/s",
		.side = "COPY, SVA (warm mirror)",
		.baseline = "COPY, pinned shares", .a = sva, .b = pin,
		.n = rounds, .goal = ">= 0.90x", .params = params });

	/*
	 * An invalidation storm on the source while SVA copies run, in turns
	 * with quiet SVA copies.
	 */
	for (r = 0; r < rounds; r++) {
		struct storm st = { .buf = src, .len = len };
		int rev = r & 1;

		if (rev && (quiet[r] = copy_rate(queue, dst, src, len, iters)) < 0)
			goto out;
		if (pthread_create(&th, NULL, storm_loop, &st)) {
			fail("mmu", "no thread");
			goto out;
		}
		stormy[r] = copy_rate(queue, dst, src, len, iters);
		st.stop = 1;
		pthread_join(th, NULL);
		storms[r] = st.rounds;
		if (stormy[r] < 0)
			goto out;
		if (!rev && (quiet[r] = copy_rate(queue, dst, src, len, iters)) < 0)
			goto out;
	}
	record(&(struct rec){ .scenario = "mmu",
		.measure = "COPY MB/s: storm | quiet (SVA)", .unit = "MiB/s",
		.side = "COPY, SVA, source dropped 1000 times a second",
		.baseline = "COPY, SVA, quiet", .a = stormy, .b = quiet,
		.n = rounds, .params = params });
	record(&(struct rec){ .scenario = "mmu",
		.measure = "storm rounds (whole-buffer drops)", .unit = "drops",
		.side = "drops of the source during the storm's copies",
		.a = storms, .n = rounds, .params = params });

	/*
	 * The storm gave the source new pages; the pinned share still holds
	 * the old ones (a share pins what was mapped when it was made).
	 * Share the source again so that pinned copies read what it holds.
	 */
	ret = wd_unshare(pdev, src, len);
	if (!ret)
		ret = wd_share(pdev, src, len, WD_SHARE_READ);
	if (ret) {
		fail("mmu", "share the source again: %s", wd_strerror(ret));
		ret = -1;
		goto out;
	}
	ret = -1;
	/* Framework overhead: the kernel's own copy of the same pages. */
	kfd = open("/sys/kernel/debug/wd_soft/copy_baseline", O_RDWR);
	if (kfd < 0) {
		note("mmu", "COPY | kernel copy: no wd_soft debugfs");
	} else {
		r = kcopy_rows(kfd, queue, "SVA", src, dst, len);
		if (!r)
			r = kcopy_rows(kfd, pq, "pinned", src, dst, len);
		close(kfd);
		if (r)
			goto out;
	}
	ret = 0;
out:
	if (pq)
		wd_queue_put(pq);
	wd_close(pdev);
	free(src);
	free(dst);
	free(fresh_src);
	free(fresh_dst);
	if (res)
		munmap(res, RES_LEN);
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

/* Turns of every devmem run in one round. */
#define DM_TURNS	3

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

/*
 * One turn of @path in round @round: r[@round] gets the mean time of the
 * round's @turn + 1 turns so far (the faults are those of one run).
 */
static int dm_run(int path, size_t len, int reserved, struct dm_result *r,
		  int round, int turn)
{
	struct dm_result one = { 0 };

	if (dm_run_once(path, len, reserved, &one))
		return -1;
	if (!turn)
		r[round].secs = 0;
	r[round].secs = (r[round].secs * turn + one.secs) / (turn + 1);
	r[round].setup_faults = one.setup_faults;
	r[round].touch_faults = one.touch_faults;
	return 0;
}

/* The pool and an anonymous buffer of the same size must fit. */
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
	if (quick && len > 8 * MIB)
		len = 8 * MIB;
	return len & ~(2 * MIB - 1);
}

/*
 * One record: @a against @b, round by round (MB/s of each). @params: extra
 * JSON members, or NULL.
 */
static void dm_row_p(const char *measure, const struct dm_result *a,
		     const struct dm_result *b, size_t len, const char *goal,
		     const char *params)
{
	double x[MAX_ROUNDS], y[MAX_ROUNDS];
	char p[160], side[64], *base;
	int i;

	/* "SIDE | BASELINE" */
	snprintf(side, sizeof(side), "%s", measure);
	base = strstr(side, " | ");
	if (base) {
		*base = 0;
		base += 3;
	}
	for (i = 0; i < rounds; i++) {
		x[i] = len / a[i].secs / 1e6;
		y[i] = len / b[i].secs / 1e6;
	}
	snprintf(p, sizeof(p), "\"size\": %zu%s%s", len, params ? ", " : "",
		 params ? params : "");
	record(&(struct rec){ .scenario = "devmem", .measure = measure,
		.unit = "MB/s", .side = side, .baseline = base, .a = x,
		.b = y, .n = rounds, .goal = goal, .params = p });
}

static void __attribute__((unused))
dm_row(const char *measure, const struct dm_result *a,
       const struct dm_result *b, size_t len, const char *goal)
{
	dm_row_p(measure, a, b, len, goal, NULL);
}

/*
 * One pool's table: every path, fresh and reserved, against one fault per
 * page and against anonymous memory (measured in the same rounds). @pool
 * names the pool in the rows ("" for the device's own, wd_soft's RAM);
 * @pfnmap: VM_PFNMAP regions, where MADV_POPULATE_* is refused (a row
 * says so) and MAP_POPULATE maps nothing (its row shows the faults left).
 */
static int dm_table(const char *pool, int pfnmap, size_t len)
{
	static struct dm_result r[DM_NR][ROUNDS_MAX], res[DM_ANON_TOUCH][ROUNDS_MAX],
		thp_pop[ROUNDS_MAX], thp_touch[ROUNDS_MAX];
	struct {
		int path, reserved, thp;
		struct dm_result *out;
	} runs[4 + 2 * DM_ANON_TOUCH];
	double sf[ROUNDS_MAX], tf[ROUNDS_MAX];
	char measure[96], params[128];
	const char *pname = *pool ? pool : "ram";
	int i, k, n = 0, round;

	/*
	 * The runs of a round. Baselines: anonymous memory in 4 KiB pages,
	 * then as configured (THP); then every path on fresh and on reserved
	 * memory (MADV_POPULATE_* is refused on VM_PFNMAP: not run there).
	 */
#define DM_RUN(p, rsv, t, o) do {					\
		runs[n].path = (p);					\
		runs[n].reserved = (rsv);				\
		runs[n].thp = (t);					\
		runs[n++].out = (o);					\
	} while (0)
	DM_RUN(DM_ANON_TOUCH, 0, 0, r[DM_ANON_TOUCH]);
	DM_RUN(DM_ANON_POPULATE, 0, 0, r[DM_ANON_POPULATE]);
	DM_RUN(DM_ANON_POPULATE, 0, 1, thp_pop);
	DM_RUN(DM_ANON_TOUCH, 0, 1, thp_touch);
	for (i = 0; i < DM_ANON_TOUCH; i++) {
		if (pfnmap && i == DM_MADVISE)
			continue;
		DM_RUN(i, 0, 0, r[i]);
		DM_RUN(i, 1, 0, res[i]);
	}
#undef DM_RUN

	/*
	 * Rounds over every path, interleaved: each ratio is the median of
	 * the rounds' ratios. A round is DM_TURNS turns of every run (one
	 * run of 64 MiB takes some tens of milliseconds, which the host's
	 * jitter moves a lot); every other turn takes them in reverse order.
	 */
	for (round = 0; round < rounds; round++) {
		int t;

		for (t = 0; t < DM_TURNS; t++)
			for (k = 0; k < n; k++) {
				int j = (round * DM_TURNS + t) & 1 ? n - 1 - k : k;

				if (prctl(PR_SET_THP_DISABLE, !runs[j].thp, 0, 0,
					  0))
					return fail("devmem", "prctl(PR_SET_THP_DISABLE): %s",
						    strerror(errno));
				if (dm_run(runs[j].path, len, runs[j].reserved,
					   runs[j].out, round, t))
					return -1;
			}
	}
	prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0);

#define DM_P(path, mem) (snprintf(params, sizeof(params),		\
		"\"pool\": \"%.*s\", \"path\": \"%s\", \"memory\": \"%s\"",	\
		(int)strcspn(pname, ":"), pname, dm_names[path], mem), params)
	snprintf(measure, sizeof(measure), "%s%zu MiB MB/s: 1 fault/pg | anon",
		 pool, len / MIB);
	dm_row_p(measure, r[DM_FAULT], r[DM_ANON_TOUCH], len, NULL,
		 DM_P(DM_FAULT, "fresh"));
	snprintf(measure, sizeof(measure), "%sfault-around | 1 fault/page",
		 pool);
	dm_row_p(measure, r[DM_AROUND], r[DM_FAULT], len, NULL,
		 DM_P(DM_AROUND, "fresh"));
	for (i = DM_MAP_POPULATE; i <= DM_ADVANCE; i++) {
		/* VM_PFNMAP: MAP_POPULATE maps nothing, no goal to meet. */
		int nogoal = pfnmap && i == DM_MAP_POPULATE;

		if (pfnmap && i == DM_MADVISE) {
			snprintf(measure, sizeof(measure),
				 "%s%s: EINVAL (VM_PFNMAP: refused)", pool,
				 dm_names[i]);
			note("devmem", measure);
			continue;
		}
		snprintf(measure, sizeof(measure), "%s%s | 1 fault/page", pool,
			 dm_names[i]);
		dm_row_p(measure, r[i], r[DM_FAULT], len,
			 nogoal ? NULL : ">= 4x", DM_P(i, "fresh"));
		snprintf(measure, sizeof(measure), "%s%s | anon MAP_POP", pool,
			 dm_names[i]);
		dm_row_p(measure, r[i], r[DM_ANON_POPULATE], len,
			 nogoal ? NULL : ">= 1x", DM_P(i, "fresh"));
	}
	/* The same paths on memory reserved (taken, zeroed) beforehand. */
	snprintf(measure, sizeof(measure), "%sreserved: 1 fault/pg | fresh",
		 pool);
	dm_row_p(measure, res[DM_FAULT], r[DM_FAULT], len, NULL,
		 DM_P(DM_FAULT, "reserved"));
	for (i = DM_AROUND; i <= DM_ADVANCE; i++) {
		if (pfnmap && i == DM_MADVISE)
			continue;
		snprintf(measure, sizeof(measure), "%sreserved: %s | 1/page",
			 pool, dm_names[i]);
		dm_row_p(measure, res[i], res[DM_FAULT], len,
			 i == DM_AROUND || (pfnmap && i == DM_MAP_POPULATE) ?
			 NULL : ">= 4x", DM_P(i, "reserved"));
	}
	if (!*pool) {
		dm_row_p("anon MAP_POP: THP | 4 KiB", thp_pop,
			 r[DM_ANON_POPULATE], len, NULL,
			 DM_P(DM_ANON_POPULATE, "THP"));
		dm_row_p("anon touch: THP | 4 KiB", thp_touch, r[DM_ANON_TOUCH],
			 len, NULL, DM_P(DM_ANON_TOUCH, "THP"));
	}
	/* Faults of each path (anonymous: minflt): during setup, the touch. */
	for (i = 0; i < DM_NR; i++) {
		if ((pfnmap && i == DM_MADVISE) || (*pool && i >= DM_ANON_TOUCH))
			continue;
		for (round = 0; round < rounds; round++) {
			sf[round] = r[i][round].setup_faults;
			tf[round] = r[i][round].touch_faults;
		}
		snprintf(measure, sizeof(measure), "%sfaults: %s, setup | touch",
			 pool, dm_names[i]);
		record(&(struct rec){ .scenario = "devmem", .measure = measure,
			.unit = "faults", .side = "faults during setup",
			.baseline = "faults during the touch", .a = sf, .b = tf,
			.n = rounds, .values = 1, .goal = "setup | touch",
			.params = DM_P(i, "fresh") });
	}
#undef DM_P
	return 0;
}

#define WD_BAR_KO	"/wd/modules/wd_bar.ko"

/* (Re)load wd_bar with @params; the name of its device, or NULL. */
static const char *dm_bar_load(const char *params)
{
	static struct wd_dev_desc d[16];
	int fd, n, i, tries;

	syscall(SYS_delete_module, "wd_bar", O_NONBLOCK);
	fd = open(WD_BAR_KO, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	i = syscall(SYS_finit_module, fd, params, 0);
	close(fd);
	if (i)
		return NULL;
	/* The PCI device binds as the module loads; its node may lag. */
	for (tries = 0; tries < 50; tries++) {
		n = wd_list_devices(d, 16);
		for (i = 0; i < n; i++)
			if (!strcmp(d[i].api, "wd_bar_v1"))
				return d[i].name;
		usleep(20000);
	}
	return NULL;
}

/*
 * The same table on BAR memory (wd_bar on the guest's ivshmem device), in
 * pages and in pfnmap mode, when the module and the device are there.
 * The BAR is 64 MiB: its tables use at most that.
 */
static int dm_bar_tables(size_t len)
{
	static const struct {
		const char *params, *label;
		int pfnmap;
	} modes[] = {
		{ "mode=pages", "bar/pages: ", 0 },
		{ "mode=pfnmap", "bar/pfnmap: ", 1 },
	};
	struct wd_dev *own = dev, *bdev;
	char line[96];
	const char *name;
	uint64_t size = 0;
	size_t blen;
	unsigned int m;
	int ret = 0;

	if (access(WD_BAR_KO, R_OK))
		return 0;
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]) && !ret; m++) {
		name = dm_bar_load(modes[m].params);
		if (!name || wd_open(name, &bdev)) {
			snprintf(line, sizeof(line), "%sno wd_bar device (ivshmem)",
				 modes[m].label);
			note("devmem", line);
			continue;
		}
		wd_dev_attr_u64(name, "devmem_size", &size);
		blen = len < size ? len : size;
		blen &= ~(2 * MIB - 1);
		dev = bdev;
		ret = dm_table(modes[m].label, modes[m].pfnmap, blen);
		dev = own;
		wd_close(bdev);
	}
	syscall(SYS_delete_module, "wd_bar", O_NONBLOCK);
	return ret;
}

static int scenario_devmem(void)
{
	struct wd_dev_desc d;
	size_t len;

	if (wd_describe(wd_dev_name(dev), &d) || !(d.flags & WD_DEV_F_DEVMEM)) {
		note("devmem", "no device memory on this device");
		return 0;
	}
	len = dm_size();
	if (!len)
		return fail("devmem", "not enough device or system memory");
	if (dm_table("", 0, len))
		return -1;
	/* BAR pools: at most what the BAR holds. */
	return dm_bar_tables(len);
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

static int scenario_migrate(void)
{
	static const size_t sizes[] = {
		64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20,
	};
	int nsizes = quick ? 4 : 5, i, k, ret = -1, kofd = -1;
	size_t maxlen = sizes[nsizes - 1];
	char *buf, *out, *copy;
	int thfd = -1, wcfd = -1;
	double *t = NULL;
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
	 * them alike; each ratio is the median of the rounds' ratios. Times
	 * are turned into MiB/s per round.
	 */
	t = calloc(7 * MAX_ROUNDS, sizeof(*t));
	if (!t) {
		fail("migrate", "out of memory");
		goto out;
	}
	for (i = 0; i < nsizes; i++) {
		size_t len = sizes[i], kib = len >> 10;
		int iters = (int)((quick ? 16 : 48) * MIB / len);
		double *w_d = t, *w_s = t + MAX_ROUNDS, *h_d = t + 2 * MAX_ROUNDS;
		double *h_s = t + 3 * MAX_ROUNDS, *c_d = t + 4 * MAX_ROUNDS;
		double *c_s = t + 5 * MAX_ROUNDS, *mt = t + 6 * MAX_ROUNDS;
		const char *big = len >= MIB ? ">= 0.50x memcpy" : NULL;
		char m[64], params[96];
		int j, reps;
		double t0, dummy;

		/*
		 * @rounds rounds of @reps round trips by each method in
		 * turns; a round's figure is its total time.
		 */
		reps = iters / rounds > 1 ? iters / rounds : 1;
		iters = rounds;
		want = crc32(0, (unsigned char *)buf, len);
		/* Warm up: device memory allocated, code paths hot. */
		if (mig_round(-1, buf, out, len, &dummy, &dummy) ||
		    (thfd >= 0 && mig_round(thfd, buf, out, len, &dummy, &dummy)) ||
		    (wcfd >= 0 && mig_round(wcfd, buf, out, len, &dummy, &dummy)))
			goto out;
		memcpy(copy, buf, len);
		for (k = 0; k < iters; k++) {
			for (j = 0; j < reps; j++) {
				double td, ts;

				if (mig_round(-1, buf, out, len, &td, &ts))
					goto out;
				w_d[k] += td;
				w_s[k] += ts;
				if (thfd >= 0) {
					if (mig_round(thfd, buf, out, len, &td, &ts))
						goto out;
					h_d[k] += td;
					h_s[k] += ts;
				}
				if (wcfd >= 0) {
					if (mig_round(wcfd, buf, out, len, &td, &ts))
						goto out;
					c_d[k] += td;
					c_s[k] += ts;
				}
				t0 = now();
				memcpy(copy, buf, len);
				use(copy);
				mt[k] += now() - t0;
			}
		}
		if (crc32(0, (unsigned char *)buf, len) != want) {
			fail("migrate", "data changed on the round trips");
			goto out;
		}
		for (k = 0; k < 7 * MAX_ROUNDS; k++)
			if (t[k] > 0)
				t[k] = (double)len * reps / MIB / t[k];

#define MIG_REC(meas_, dir_, a_, aname_, b_, bname_, goal_) do {	\
		snprintf(params, sizeof(params),				\
			 "\"size\": %zu, \"direction\": \"%s\", "		\
			 "\"round_trips_per_round\": %d", len, dir_, reps);	\
		record(&(struct rec){ .scenario = "migrate", .measure = meas_, \
			.unit = "MiB/s", .side = aname_, .baseline = bname_,	\
			.a = a_, .b = b_, .n = iters, .goal = goal_,		\
			.params = params });					\
	} while (0)
		if (thfd >= 0) {
			snprintf(m, sizeof(m), "to device %5zu KiB | test_hmm", kib);
			MIG_REC(m, "to device", w_d, "WD_IOC_MIGRATE", h_d,
				"test_hmm", NULL);
		}
		if (thfd >= 0 && wcfd >= 0) {
			snprintf(m, sizeof(m), "to device %5zu KiB, hmm ABI | test_hmm", kib);
			MIG_REC(m, "to device", c_d, "WarpDrive, test_hmm's ABI",
				h_d, "test_hmm", ">= 1.00x test_hmm");
		}
		if (thfd >= 0) {
			snprintf(m, sizeof(m), "to system %5zu KiB | test_hmm", kib);
			MIG_REC(m, "to system", w_s, "WD_IOC_MIGRATE", h_s,
				"test_hmm", NULL);
		}
		if (thfd >= 0 && wcfd >= 0) {
			snprintf(m, sizeof(m), "to system %5zu KiB, hmm ABI | test_hmm", kib);
			MIG_REC(m, "to system", c_s, "WarpDrive, test_hmm's ABI",
				h_s, "test_hmm", ">= 1.00x test_hmm");
		}
		snprintf(m, sizeof(m), "to device %5zu KiB | memcpy", kib);
		MIG_REC(m, "to device", w_d, "WD_IOC_MIGRATE", mt, "memcpy", big);
		snprintf(m, sizeof(m), "to system %5zu KiB | memcpy", kib);
		MIG_REC(m, "to system", w_s, "WD_IOC_MIGRATE", mt, "memcpy", big);
#undef MIG_REC
		memset(t, 0, 7 * MAX_ROUNDS * sizeof(*t));
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

#define VC_DEPTH	16	/* commands in flight on a WarpDrive queue */
#define VC_TURNS	8	/* turns of the sides in one round */

/* --vc-polled: wd_vcrypto's engines poll for completions. */
static int vc_polled;

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

/*
 * A number from the "vcrypto" attribute wd_vcrypto gives the device's
 * parent ("@key N" lines), or -1.
 */
static long vc_attr(const char *name, const char *key)
{
	char path[256], line[128];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/warpdrive/%s/device/vcrypto",
		 name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ' ') {
			v = strtol(line + kl + 1, NULL, 0);
			break;
		}
	fclose(f);
	return v;
}

static int scenario_vcrypto(void)
{
	static const size_t sizes[] = { 4096, 65536 };
	double secs = quick ? 0.3 : 1.0;
	struct wd_dev *sd = NULL, *pd = NULL;
	struct wd_queue *sq = NULL, *pq = NULL;
	unsigned char *buf = NULL, *ref = NULL;
	char base[128], name[64] = "";
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
	engines_apart(name);
	if (vc_set_polled(vc_polled ? "1" : "0"))
		printf("vcrypto: cannot set wd_vcrypto's completion mode\n");
	gop = vc_afalg_open("cbc(aes-generic)", buf, &gtfm);
	if (base[0])
		bop = vc_afalg_open(base, buf, &btfm);
	if (gop < 0 || (base[0] && bop < 0)) {
		fail("vcrypto", "AF_ALG: %s", strerror(gop < 0 ? -gop : -bop));
		goto out;
	}
	printf("vcrypto: %s (polled rings, %s completions), baseline AF_ALG %s, software AF_ALG cbc(aes-generic); AES-128-CBC, %d rounds of %d turns of %.3f s per side, depth %d\n",
	       name, vc_polled ? "polled" : "interrupt", base[0] ? base : "-",
	       rounds, VC_TURNS, secs / VC_TURNS, VC_DEPTH);

	for (si = 0; si < 2; si++) {
		size_t len = sizes[si];
		unsigned char *src = buf + 4096, *dst = src + 65536;
		double sva[ROUNDS_MAX], pin[ROUNDS_MAX], dev[ROUNDS_MAX],
		       sw[ROUNDS_MAX];
		uint64_t kicks = 0, cmds = 0;
		char m[64], params[64];

		/* Correctness first: the device against the software. */
		if (wd_encrypt(sq, WD_CIPHER_CBC, buf, 16, src, dst, len) ||
		    vc_afalg_run(gop, buf + 16, src, ref, len) ||
		    memcmp(dst, ref, len)) {
			fail("vcrypto", "%zu bytes: device result differs from software", len);
			goto out;
		}
		for (r = 0; r < rounds; r++) {
			double a = 0, b = 0, c = 0, d = 0;
			int k, bad = 0;

			/*
			 * A round is VC_TURNS turns of the four sides, the order
			 * reversed every other turn: a drift of the host within
			 * the round lands on every side alike.
			 */
			for (k = 0; k < VC_TURNS && !bad; k++) {
				double t = secs / VC_TURNS, x, y, z, w;

				if (k & 1) {
					w = bop >= 0 ? vc_afalg_rate(bop, buf, src, ref, len, t) : NAN;
					z = vc_afalg_rate(gop, buf, src, ref, len, t);
					y = vc_wd_rate(pq, buf, src, dst, len, t, &kicks, &cmds);
					x = vc_wd_rate(sq, buf, src, dst, len, t, &kicks, &cmds);
				} else {
					x = vc_wd_rate(sq, buf, src, dst, len, t, &kicks, &cmds);
					y = vc_wd_rate(pq, buf, src, dst, len, t, &kicks, &cmds);
					z = vc_afalg_rate(gop, buf, src, ref, len, t);
					w = bop >= 0 ? vc_afalg_rate(bop, buf, src, ref, len, t) : NAN;
				}
				bad = x < 0 || y < 0 || z < 0 || w < 0;
				a += x / VC_TURNS;
				b += y / VC_TURNS;
				c += z / VC_TURNS;
				d += w / VC_TURNS;
			}
			sva[r] = a;
			pin[r] = b;
			sw[r] = c;
			dev[r] = d;
			if (bad) {
				fail("vcrypto", "%zu bytes: a measure failed", len);
				goto out;
			}
		}
#define VC_ROW(what_, num_, den_, dname_, goal_) do {			\
		snprintf(m, sizeof(m), "%s %zuK", what_, len >> 10);		\
		record(&(struct rec){ .scenario = "vcrypto", .measure = m,	\
			.unit = "req/s", .side = what_, .baseline = dname_,	\
			.a = num_, .b = den_, .n = rounds, .goal = goal_,	\
			.params = params });					\
	} while (0)
		snprintf(params, sizeof(params), "\"size\": %zu", len);
		if (bop >= 0) {
			VC_ROW("SVA vs AF_ALG virtio", sva, dev,
			       "AF_ALG, kernel virtio_crypto", ">= 2x");
			VC_ROW("pinned vs AF_ALG virtio", pin, dev,
			       "AF_ALG, kernel virtio_crypto", ">= 2x");
		}
		VC_ROW("pinned vs SVA", pin, sva, "WarpDrive SVA", "0.9-1.1x");
		VC_ROW("SVA vs AF_ALG software", sva, sw,
		       "AF_ALG cbc(aes-generic)", "> 1x: offload wins");
#undef VC_ROW
		printf("vcrypto   %zuK: %llu commands, %llu doorbell syscalls (%.4f per command); at most %ld of a queue's requests on the device at once so far (depth %ld)\n",
		       len >> 10, (unsigned long long)cmds,
		       (unsigned long long)kicks, cmds ? (double)kicks / cmds : 0,
		       vc_attr(name, "inflight_peak"),
		       vc_attr(name, "queue_depth"));
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

/* gzip: wdzip against the usual gzip programs, as programs */

#define GZ_TOOLS	4
#define GZ_FILE		"/tmp/wdbench-gzip.txt"

struct gz_tool {
	const char *name;
	char path[PATH_MAX];
	int present;
};

/*
 * Run @argv with stdin from @in and stdout to @out, on every online CPU
 * (wdbench itself is bound to one); seconds it took, or -1 if it failed.
 */
static double gz_run(char *const argv[], const char *in, const char *out)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), i;
	int status, fd;
	double t0 = now();
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		for (i = 0; i < ncpu && i < CPU_SETSIZE; i++)
			CPU_SET(i, &set);
		sched_setaffinity(0, sizeof(set), &set);
		fd = open(in, O_RDONLY);
		if (fd < 0 || dup2(fd, 0) < 0)
			_exit(126);
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return now() - t0;
}

/* Does @path hold exactly @len bytes equal to @want? */
static int gz_same(const char *path, const unsigned char *want, size_t len,
		   unsigned char *buf)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, len + 1);
	close(fd);
	return n == (ssize_t)len && !memcmp(buf, want, len);
}

static long long gz_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long long)st.st_size;
}

/*
 * The command line of tool @t: compress at @level (@decompress 0) or
 * decompress, on @ncpu CPUs for the parallel ones, stdin to stdout.
 */
static void gz_argv(struct gz_tool *t, int k, int level, int decompress,
		    int ncpu, char *argv[8], char bufs[3][32])
{
	int n = 0;

	argv[n++] = t->path;
	snprintf(bufs[0], 32, "-%d", level);
	snprintf(bufs[1], 32, "%d", ncpu);
	argv[n++] = decompress ? "-d" : bufs[0];
	argv[n++] = "-c";
	if (k == 0) {		/* wdzip: the device wdbench uses */
		snprintf(bufs[2], 32, "%s", wd_dev_name(dev));
		argv[n++] = "-D";
		argv[n++] = bufs[2];
	}
	if (k <= 1) {		/* wdzip and pigz: -p N */
		argv[n++] = "-p";
		argv[n++] = bufs[1];
	}
	argv[n] = NULL;
}

/*
 * wdzip against pigz, GNU gzip and libdeflate-gzip on the same text file,
 * run as programs (fork and exec, stdin to stdout through files in /tmp),
 * levels 1 and 6, compression and decompression. wdzip and pigz get -p N
 * with N the online CPUs, and every program may run on all of them. The
 * decompressions all read GNU gzip's output at that level (one member, the
 * usual .gz). Rounds: each program once in turn, the order rotated from
 * round to round. Every output is checked in the first round.
 */
static int scenario_gzip(void)
{
	struct gz_tool tools[GZ_TOOLS] = {
		{ .name = "wdzip" }, { .name = "pigz" }, { .name = "gzip" },
		{ .name = "libdeflate-gzip" },
	};
	static const char *const sys_path[GZ_TOOLS] = {
		NULL, "/usr/bin/pigz", "/usr/bin/gzip", "/usr/bin/libdeflate-gzip",
	};
	static const int levels[] = { 1, 6 };
	double mbs[GZ_TOOLS][MAX_ROUNDS], sz[GZ_TOOLS][MAX_ROUNDS];
	size_t len = (quick ? 4 : 16) * MIB;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned char *text = NULL, *buf = NULL;
	char self[PATH_MAX], line[160];
	int ret = -1, fd, li, d, r, i, k;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return fail("gzip", "where is wdbench: %s", strerror(errno));
	self[n] = 0;
	snprintf(tools[0].path, sizeof(tools[0].path), "%.*s/wdzip",
		 (int)(strrchr(self, '/') - self), self);
	for (k = 0; k < GZ_TOOLS; k++) {
		if (sys_path[k])
			snprintf(tools[k].path, sizeof(tools[k].path), "%s",
				 sys_path[k]);
		tools[k].present = !access(tools[k].path, X_OK);
	}
	if (!tools[0].present || !tools[1].present) {
		note("gzip", "no wdzip or no pigz here: skipped (vm/deps.sh installs pigz)");
		return 0;
	}
	for (k = 2; k < GZ_TOOLS; k++) {
		if (tools[k].present)
			continue;
		snprintf(line, sizeof(line), "no %s here: its rows skipped",
			 tools[k].path);
		note("gzip", line);
	}

	text = alloc_buf(len);
	buf = alloc_buf(len + 1);
	if (!text || !buf) {
		fail("gzip", "out of memory");
		goto out;
	}
	/* The same text every run, whatever ran before. */
	rng_state = 0x9e3779b97f4a7c15ULL;
	fill_text(text, len);
	fd = open(GZ_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		fail("gzip", "%s: %s", GZ_FILE, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	snprintf(line, sizeof(line),
		 "%zu MiB of text, %ld CPUs: wdzip -p %ld, pigz -p %ld; gzip and libdeflate-gzip use one",
		 len / MIB, ncpu, ncpu, ncpu);
	note("gzip", line);

	for (li = 0; li < (int)(sizeof(levels) / sizeof(levels[0])); li++) {
		int level = levels[li];
		char gzin[64];

		/* GNU gzip's output at this level: the decompressions' input. */
		snprintf(gzin, sizeof(gzin), "/tmp/wdbench-gzip.%d.gz", level);
		for (d = 0; d < 2; d++) {
			for (r = 0; r < rounds; r++) {
				for (i = 0; i < GZ_TOOLS; i++) {
					char *argv[8], bufs[3][32], out[64];
					double t;

					k = (i + r) % GZ_TOOLS;
					if (!tools[k].present)
						continue;
					if (d && !tools[2].present)
						continue;
					gz_argv(&tools[k], k, level, d, ncpu, argv, bufs);
					snprintf(out, sizeof(out), "/tmp/wdbench-gzip.%s.out",
						 tools[k].name);
					t = gz_run(argv, d ? gzin : GZ_FILE, out);
					if (t <= 0) {
						fail("gzip", "%s %s failed", tools[k].path,
						     argv[1]);
						goto out;
					}
					mbs[k][r] = len / t / 1e6;
					if (!d)
						sz[k][r] = gz_size(out);
					if (!d && k == 2 && rename(out, gzin)) {
						fail("gzip", "%s: %s", gzin, strerror(errno));
						goto out;
					}
					if (r)
						continue;
					/* Check: back to the text, by GNU gzip or wdzip. */
					if (!d) {
						char *chk[] = { tools[2].present ? tools[2].path :
								tools[0].path, "-d", "-c", NULL };
						const char *cin = k == 2 ? gzin : out;

						if (gz_run(chk, cin, "/tmp/wdbench-gzip.chk") <= 0 ||
						    !gz_same("/tmp/wdbench-gzip.chk", text, len, buf)) {
							fail("gzip", "%s -%d: output does not decompress to the input",
							     tools[k].name, level);
							goto out;
						}
					} else if (!gz_same(out, text, len, buf)) {
						fail("gzip", "%s -d: output differs from the input",
						     tools[k].name);
						goto out;
					}
				}
			}
			for (k = 1; k < GZ_TOOLS; k++) {
				char measure[64], side[64], base[64], params[96];

				if (!tools[k].present || (d && !tools[2].present))
					continue;
				/* "libdeflate" for short: the table's column. */
				snprintf(measure, sizeof(measure), "%s%s -%d MB/s: wdzip | %.10s",
					 d ? "decompress" : "compress", d ? " of" : "",
					 level, tools[k].name);
				snprintf(side, sizeof(side), "wdzip %s-p %ld",
					 d ? "-d " : "", ncpu);
				snprintf(base, sizeof(base), "%s%s%s", tools[k].name,
					 d ? " -d" : "",
					 k == 1 ? " -p N" : "");
				snprintf(params, sizeof(params),
					 "\"level\": %d, \"size\": %zu, \"cpus\": %ld, \"decompress\": %s",
					 level, len, ncpu, d ? "true" : "false");
				record(&(struct rec){ .scenario = "gzip",
					.measure = measure, .unit = "MB/s",
					.side = side, .baseline = base,
					.a = mbs[0], .b = mbs[k], .n = rounds,
					.goal = k == 1 ? ">= 1x" : NULL,
					.params = params });
			}
			if (d)
				continue;
			{
				char measure[64], params[64];

				snprintf(measure, sizeof(measure),
					 "-%d bytes out of %zu: wdzip | pigz", level, len);
				snprintf(params, sizeof(params),
					 "\"level\": %d, \"size\": %zu", level, len);
				record(&(struct rec){ .scenario = "gzip",
					.measure = measure, .unit = "bytes",
					.side = "wdzip", .baseline = "pigz",
					.a = sz[0], .b = sz[1], .n = rounds,
					.goal = "size ratio (lower: smaller)",
					.params = params });
			}
		}
	}
	ret = 0;
out:
	free(text);
	free(buf);
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
	{ "gzip", "wdzip -p N vs pigz -p N, gzip, libdeflate-gzip: compress and decompress",
	  WD_ALG_DEFLATE | WD_ALG_INFLATE, scenario_gzip },
};

#define NR_SCENARIOS	((int)(sizeof(scenarios) / sizeof(scenarios[0])))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wdbench [--quick] [--scenario NAME] [--rounds N] [--json FILE]\n"
		"               [--list] [-D DEVICE]\n"
		"Benchmarks a WarpDrive device against a baseline measured in the\n"
		"same run; prints ratios, exits non-zero on any device error.\n"
		"  -q, --quick          smaller sizes, fewer iterations, 3 rounds\n"
		"  -r, --rounds N       rounds per ratio (default 5, quick 3; 1-%d)\n"
		"  -j, --json FILE      also write every record to FILE, one JSON\n"
		"                       object a line (a \"meta\" line first)\n"
		"  -s, --scenario NAME  run only this scenario (default: all)\n"
		"  -l, --list           list the scenarios\n"
		"  -D, --device NAME    use this device (default: the first able)\n"
		"  -c, --cpu N          run on CPU N only, the device's engine\n"
		"                       threads on the others (default: the last\n"
		"                       online CPU; -1: no placement)\n"
		"      --vc-polled      vcrypto: wd_vcrypto's engines poll the device\n"
		"                       for completions (default: its interrupts)\n"
		"  -h, --help           this text\n", ROUNDS_MAX);
}

/* The first line of the JSON file: what ran, where. */
static void json_meta(int argc, char **argv, const char *only)
{
	char line[256], cpu[128] = "";
	struct utsname u;
	FILE *f;
	int i;

	if (!json)
		return;
	uname(&u);
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(cpu, sizeof(cpu), "%s", strchr(line, ':') + 2);
			cpu[strcspn(cpu, "\n")] = 0;
			break;
		}
	if (f)
		fclose(f);
	fputs("{\"type\": \"meta\", \"tool\": \"wdbench\", \"args\": ", json);
	line[0] = 0;
	for (i = 1; i < argc; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
			 "%s%s", i > 1 ? " " : "", argv[i]);
	json_str(line);
	fputs(", \"scenario\": ", json);
	if (only)
		json_str(only);
	else
		fputs("null", json);
	fprintf(json, ", \"quick\": %s, \"rounds\": %d, \"device\": ",
		quick ? "true" : "false", rounds);
	json_str(wd_dev_name(dev));
	fprintf(json, ", \"sq_entries\": %u, \"cq_entries\": %u, "
		"\"kernel\": ", wd_queue_sq_entries(queue),
		wd_queue_cq_entries(queue));
	json_str(u.release);
	fputs(", \"kernel_version\": ", json);
	json_str(u.version);
	fputs(", \"machine\": ", json);
	json_str(u.machine);
	fputs(", \"cpu\": ", json);
	json_str(cpu);
	fprintf(json, ", \"cpus\": %ld, \"wdbench_cpu\": %d, "
		"\"engine_threads_apart\": %d}\n", sysconf(_SC_NPROCESSORS_ONLN),
		bench_cpu, engines_apart(wd_dev_name(dev)));
	fflush(json);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "scenario", required_argument, NULL, 's' },
		{ "list", no_argument, NULL, 'l' },
		{ "device", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "json", required_argument, NULL, 'j' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "vc-polled", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	const char *only = NULL, *device = NULL, *json_path = NULL;
	int c, i, ret, failed = 0, found = 0, set_rounds = 0;
	double t0 = now();
	uint32_t algs = 0;

	while ((c = getopt_long(argc, argv, "qs:lD:hr:j:c:", lopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			bench_cpu = atoi(optarg);
			break;
		case 'P':
			vc_polled = 1;
			break;
		case 'r':
			set_rounds = atoi(optarg);
			if (set_rounds < 1 || set_rounds > ROUNDS_MAX) {
				fprintf(stderr, "wdbench: --rounds 1 to %d\n",
					ROUNDS_MAX);
				return 2;
			}
			break;
		case 'j':
			json_path = optarg;
			break;
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
	rounds = set_rounds ? set_rounds : quick ? 3 : 5;
	if (bench_cpu == -2)
		bench_cpu = sysconf(_SC_NPROCESSORS_ONLN) > 1 ?
			    sysconf(_SC_NPROCESSORS_ONLN) - 1 : -1;
	if (bench_cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(bench_cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "wdbench: CPU %d: %s\n", bench_cpu,
				strerror(errno));
			return 2;
		}
	}
	if (json_path) {
		json = fopen(json_path, "w");
		if (!json) {
			fprintf(stderr, "wdbench: %s: %s\n", json_path,
				strerror(errno));
			return 1;
		}
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
	       "device; sizes: lower is better). Each ratio is the median of\n"
	       "%d rounds in which the two sides take turns, SPREAD its min-max;"
	       " VERDICT: pass\nonly when the whole spread meets the goal, "
	       "unstable when it crosses it.\n\n", wd_dev_name(dev),
	       wd_queue_sq_entries(queue), wd_queue_cq_entries(queue),
	       quick ? "quick" : "full", rounds);
	json_meta(argc, argv, only);
	header();
	for (i = 0; i < NR_SCENARIOS; i++) {
		if (only && strcmp(only, scenarios[i].name))
			continue;
		engines_apart(wd_dev_name(dev));
		if (scenarios[i].run())
			failed = 1;
	}
	printf("\nwdbench: kicks made by this run: %llu\n",
	       (unsigned long long)wd_queue_kicks(queue));
	wd_close(dev);
	if (json) {
		fprintf(json, "{\"type\": \"end\", \"failed\": %s, "
			"\"seconds\": %.1f}\n", failed ? "true" : "false",
			now() - t0);
		fclose(json);
	}
	if (failed)
		fprintf(stderr, "wdbench: FAILED (accelerator error, see above)\n");
	return failed;
}
