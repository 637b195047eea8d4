// SPDX-License-Identifier: GPL-2.0
/*
 * Seeded ioctl/mmap/ring fuzzer.
 *
 * Each worker (a thread; several threads per process, several processes)
 * draws its operations from its own pseudo-random stream, derived from the
 * run's seed and the worker's number, so the sequence of operations and
 * their arguments is the same on every run with the same seed (what the
 * kernel answers may differ where workers race). It throws at the device:
 * random WarpDrive ioctl numbers and argument structs (valid-ish and
 * hostile: random flags, reserved fields set, huge, wrapping, unaligned,
 * kernel, non-canonical, NULL and PROT_NONE pointers), region fds
 * (create, populate, info, fallocate, ftruncate, mmap with random offsets,
 * lengths, protections and flags), random ring contents and indices, and
 * mmap/munmap/mremap/mprotect/madvise/fork on everything, interleaved.
 *
 * Besides kernel reports (the runner counts them), it fails on what breaks
 * the documented contract and can be checked: an errno outside the
 * documented set of the call (fz_errsets[] below, the one table to update
 * when the ABI changes), a completion with an unknown status or one a
 * command's fields rule out, a wrong result for a command on known data,
 * memory that must read zero and does not, a region whose two mappings
 * disagree, a signal where none may come (or none where one must), and any
 * wait that does not end within FZ_WAIT_MS. Every failure prints the seed,
 * the worker, the operation number and the last operations.
 *
 * Settings (environment first, then the kernel command line):
 *   WD_FUZZ_SEED / wd.fuzz_seed=S      seed (decimal or 0x hex; "random")
 *   WD_FUZZ_OPS / wd.fuzz_ops=N        operations per test, all workers
 *   WD_FUZZ_PROCS / wd.fuzz_procs=N    processes in the concurrent test
 *   WD_FUZZ_THREADS / wd.fuzz_threads=N  threads per process
 *   WD_FUZZ_KNOWN / wd.fuzz_known=all  also throw inputs that hit the
 *                                      known defects listed in fz_known[]
 *   WD_FUZZ_VERBOSE / wd.fuzz_verbose=1  print every operation
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "kselftest_harness.h"
#include "wd_test.h"

#define PG		4096UL
#define FZ_ARENA_PAGES	256		/* commands write only here */
#define FZ_GUARD_PAGES	16		/* PROT_NONE on both sides, never changed */
#define FZ_CONST_LEN	(64 * 1024)	/* read-only known data */
#define FZ_VERIFY_LEN	(64 * 1024)
#define FZ_REGIONS	6
#define FZ_MAPS		12
#define FZ_SHARES	8
#define FZ_TAGS		4096
#define FZ_HIST		40
#define FZ_WAIT_MS	60000		/* longest any command or child may take */
#define FZ_DEFAULT_SEED	0x5eed12ULL
#define FZ_DEFAULT_OPS	6000
#define FZ_TAG_MAGIC	0xf2ULL

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif
#ifndef MADV_COLD
#define MADV_COLD	20
#define MADV_PAGEOUT	21
#endif

/*
 * The largest command length: a constant of the uapi today; when it moves
 * into struct wd_info the fuzzer stops predicting the exact TOO_BIG
 * boundary and accepts TOO_BIG for any length above 1 MiB instead.
 */
#ifdef WD_CMD_MAX_LEN
#define FZ_CMD_MAX	((uint64_t)WD_CMD_MAX_LEN)
#else
#define FZ_CMD_MAX	0
#endif

/* ------------------------------------------------------------------ */
/* Expected errnos: the documented set of every call, in one table.    */
/* ------------------------------------------------------------------ */

enum fz_call {
	C_INFO, C_QUEUE_GET, C_QUEUE_PUT, C_KICK, C_MMU_MODE, C_SHARE,
	C_UNSHARE, C_REGION_CREATE, C_MIGRATE, C_DEV_UNKNOWN,
	C_REG_POPULATE, C_REG_INFO, C_REG_UNKNOWN,
	C_DEV_MMAP, C_REG_MMAP, C_FALLOCATE, C_FTRUNCATE, C_NR
};

struct fz_errset {
	const char *name;
	bool may_succeed;
	int errs[14];		/* zero-terminated */
};

/*
 * Errnos each call may fail with (README and uapi header). ENOMEM is
 * allowed wherever the kernel allocates. ENODEV (device removed) and
 * EPERM (another process's context) are not: the fuzzer never removes the
 * device, and checks EPERM on its own in forked children.
 */
static const struct fz_errset fz_errsets[C_NR] = {
	[C_INFO] = { "WD_IOC_INFO", true, { EFAULT } },
	[C_QUEUE_GET] = { "WD_IOC_QUEUE_GET", true,
		{ EFAULT, EINVAL, EPROTONOSUPPORT, EBUSY, EAGAIN, ENOMEM, EINTR } },
	[C_QUEUE_PUT] = { "WD_IOC_QUEUE_PUT", true, { ENXIO } },
	[C_KICK] = { "WD_IOC_KICK", true, { ENXIO } },
	[C_MMU_MODE] = { "WD_IOC_MMU_MODE", true,
		{ EFAULT, EINVAL, EBUSY, EOPNOTSUPP } },
	/*
	 * SHARE in SVA mode: EINVAL today, EOPNOTSUPP once unsupported
	 * operations say so everywhere; a refused writable file-backed share
	 * (EPERM/EACCES/EOPNOTSUPP); EFAULT/ENOMEM/EAGAIN from pinning.
	 */
	[C_SHARE] = { "WD_IOC_SHARE", true,
		{ EFAULT, EINVAL, E2BIG, ENOMEM, EEXIST, EINTR, EOPNOTSUPP,
		  EPERM, EACCES, EAGAIN } },
	[C_UNSHARE] = { "WD_IOC_UNSHARE", true,
		{ EFAULT, EINVAL, ENOENT, E2BIG, EOPNOTSUPP } },
	[C_REGION_CREATE] = { "WD_IOC_REGION_CREATE", true,
		{ EFAULT, EINVAL, EOPNOTSUPP, E2BIG, ENOMEM, EMFILE, EDQUOT } },
	[C_MIGRATE] = { "WD_IOC_MIGRATE", true,
		{ EFAULT, EINVAL, EOPNOTSUPP, ENOMEM, EINTR, EBUSY } },
	[C_DEV_UNKNOWN] = { "unknown ioctl (device)", false, { ENOTTY } },
	[C_REG_POPULATE] = { "WD_REGION_IOC_POPULATE", true,
		{ EFAULT, EINVAL, ENOMEM, ENOSPC, EDQUOT, EINTR, EACCES } },
	[C_REG_INFO] = { "WD_REGION_IOC_INFO", true, { EFAULT } },
	[C_REG_UNKNOWN] = { "unknown ioctl (region)", false, { ENOTTY } },
	[C_DEV_MMAP] = { "mmap (device)", true,
		{ EINVAL, ENXIO, EBUSY, EPERM, EACCES, ENOMEM, EOVERFLOW } },
	[C_REG_MMAP] = { "mmap (region)", true,
		{ EINVAL, ENOMEM, EINTR, EACCES, EPERM, EOVERFLOW, EDQUOT } },
	[C_FALLOCATE] = { "fallocate (region)", true,
		{ EOPNOTSUPP, EINVAL, ENOSPC, EDQUOT, EINTR, ENOMEM, EFBIG } },
	/*
	 * Issue 12 item 12: region fds accept ftruncate today; the fix
	 * refuses it. Until then success is allowed (fz_known[] below).
	 */
	[C_FTRUNCATE] = { "ftruncate (region)", true,
		{ EINVAL, EPERM, EACCES, EOPNOTSUPP, EFBIG } },
};

/* Completion statuses a command may get, by what its fields say. */
#define ST(x)		(1U << (x))
#define ST_MEM_COPY	(ST(WD_ST_OK) | ST(WD_ST_FAULT) | ST(WD_ST_NOSPACE) | ST(WD_ST_OVERLAP))
#define ST_MEM_FILL	(ST(WD_ST_OK) | ST(WD_ST_FAULT))
#define ST_MEM_CRC	(ST(WD_ST_OK) | ST(WD_ST_FAULT))
#define ST_MEM_DEFLATE	(ST(WD_ST_OK) | ST(WD_ST_FAULT) | ST(WD_ST_NOSPACE) | ST(WD_ST_OVERLAP))
#define ST_MEM_INFLATE	(ST_MEM_DEFLATE | ST(WD_ST_CORRUPT))
#define ST_KNOWN_MAX	WD_ST_MORE
#define FZ_CQ_FLAGS	(WD_CQ_F_NEED_WAKEUP | WD_CQ_F_BAD_INDEX)
#define FZ_DEFLATE_LEVEL_MAX	9

/*
 * Known defects the fuzzer can step around (avoid = true) so the suite
 * stays green until they are fixed; WD_FUZZ_KNOWN=all (or
 * wd.fuzz_known=all) stops avoiding them all, =N,M only items N and M.
 * The issue 12 items below are fixed: their inputs are thrown and their
 * fixed behaviour checked by default.
 */
enum { K_SHARE_HUGE, K_FTRUNCATE, K_DOFORK, K_MIGRATE_SUM, K_NR };
static struct {
	int item;
	const char *what;
	bool avoid;
} fz_known[K_NR] = {
	[K_SHARE_HUGE] = { 1, "SHARE of up to 1 TiB in pinned mode (kvcalloc WARN, GiBs of vmalloc)", false },
	[K_FTRUNCATE] = { 12, "ftruncate on a region fd succeeds", false },
	[K_DOFORK] = { 15, "MADV_DOFORK on the rings lets a child inherit them", false },
	[K_MIGRATE_SUM] = { 19, "MIGRATE moved + failed may exceed the range", false },
};

/* ------------------------------------------------------------------ */
/* Settings, shared failure record, random numbers                     */
/* ------------------------------------------------------------------ */

struct fz_cfg {
	uint64_t seed;
	long ops;
	int procs, threads, verbose;
};
static struct fz_cfg cfg;

struct fz_shared {
	int failures;
	int ops_done;
	int cqes, syncs, clean_checks, forks, calls;
	char first[1024];
};
static struct fz_shared *shared;
static pthread_mutex_t fz_vm_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *cmdline_value(const char *key, char *buf, size_t len)
{
	char line[4096], *p;
	size_t klen = strlen(key);

	if (wd_test_read_file("/proc/cmdline", line, sizeof(line)))
		return NULL;
	for (p = strtok(line, " "); p; p = strtok(NULL, " "))
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			snprintf(buf, len, "%s", p + klen + 1);
			return buf;
		}
	return NULL;
}

static const char *setting(const char *env, const char *key, char *buf, size_t len)
{
	const char *v = getenv(env);

	if (v && *v) {
		snprintf(buf, len, "%s", v);
		return buf;
	}
	return cmdline_value(key, buf, len);
}

static void fz_config(void)
{
	char buf[256];
	const char *v;
	int i;

	if (cfg.ops)
		return;
	cfg.seed = FZ_DEFAULT_SEED;
	cfg.ops = FZ_DEFAULT_OPS;
	cfg.procs = 2;
	cfg.threads = 2;
	v = setting("WD_FUZZ_SEED", "wd.fuzz_seed", buf, sizeof(buf));
	if (v && !strcmp(v, "random")) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		cfg.seed = (uint64_t)ts.tv_sec * 1000003ULL ^ ts.tv_nsec ^ getpid();
	} else if (v) {
		cfg.seed = strtoull(v, NULL, 0);
	}
	v = setting("WD_FUZZ_OPS", "wd.fuzz_ops", buf, sizeof(buf));
	if (v && atol(v) > 0)
		cfg.ops = atol(v);
	v = setting("WD_FUZZ_PROCS", "wd.fuzz_procs", buf, sizeof(buf));
	if (v && atoi(v) > 0)
		cfg.procs = atoi(v);
	v = setting("WD_FUZZ_THREADS", "wd.fuzz_threads", buf, sizeof(buf));
	if (v && atoi(v) > 0)
		cfg.threads = atoi(v);
	v = setting("WD_FUZZ_VERBOSE", "wd.fuzz_verbose", buf, sizeof(buf));
	cfg.verbose = v && atoi(v) > 0;
	v = setting("WD_FUZZ_KNOWN", "wd.fuzz_known", buf, sizeof(buf));
	if (v) {
		for (i = 0; i < K_NR; i++) {
			char item[16];

			snprintf(item, sizeof(item), "%d", fz_known[i].item);
			if (!strcmp(v, "all"))
				fz_known[i].avoid = false;
			else
				for (char *t = strtok(buf, ","); t; t = strtok(NULL, ","))
					if (!strcmp(t, item))
						fz_known[i].avoid = false;
			/* strtok ate the list: read it again for the next item. */
			v = setting("WD_FUZZ_KNOWN", "wd.fuzz_known", buf, sizeof(buf));
		}
	}
	if (!shared) {
		shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (shared == MAP_FAILED)
			abort();
	}
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ------------------------------------------------------------------ */
/* Worker state                                                        */
/* ------------------------------------------------------------------ */

struct fz_queue {
	bool bound;
	bool broken;		/* a ring access faulted after we hurt the rings */
	bool tainted;		/* rings munmapped/mprotected/madvised/moved */
	bool dofork;		/* MADV_DOFORK succeeded on a ring */
	bool cons_valid;
	struct wd_queue_info info;
	struct wd_ctrl *ctrl;
	struct wd_cmd *sq;
	struct wd_cq_hdr *cqh;
	size_t cq_len;
	uint32_t pub;		/* slots before this may be in the engine's hands */
	uint32_t cons;		/* next completion we check */
	uint32_t last_cq_head;	/* what we last wrote to cq_head */
};

struct fz_dev {
	int fd;
	bool nonblock;
	uint32_t mode;		/* WD_MMU_*, as the kernel last said */
	struct fz_queue q;
	int nshares;
	struct { uint64_t addr, len; } shares[FZ_SHARES];
};

struct fz_region {
	int fd;			/* -1: slot free */
	uint64_t size;
	bool clean;		/* never a command target: its data is known */
	bool verified;		/* clean and every page reserved */
	uint8_t *shadow;	/* clean: what the region holds */
	uint8_t *m[2];		/* clean: two mappings of the whole region */
};

struct fz_map {
	uint8_t *addr;		/* NULL: slot free */
	size_t len;
};

struct fz_tag {
	uint64_t serial;
	uint32_t opcode;
	uint32_t mask;		/* allowed statuses */
	bool check_result;
	uint64_t result;
	bool check_consumed;
	uint64_t consumed;
	struct wd_cmd cmd;	/* as written */
	uint32_t index;		/* submission index it was written at */
	const void *ring;	/* and the ring */
};

struct fz_worker {
	int id;			/* process * 16 + thread */
	uint64_t seed, rng;
	long op, ops;
	bool child;
	int failed;
	struct fz_dev dev[2];
	struct wd_info info;
	uint8_t *arena;		/* FZ_ARENA_PAGES, commands' destinations */
	uint8_t *guard;		/* a PROT_NONE page */
	uint8_t *cbuf;		/* FZ_CONST_LEN pattern + zlib stream, read-only */
	size_t zlen;
	uint8_t *vbuf;		/* verification destination */
	uint8_t *argp;		/* argument page, followed by a PROT_NONE page */
	uint8_t *rop;		/* read-only argument page */
	struct fz_region reg[FZ_REGIONS];
	struct fz_map maps[FZ_MAPS];
	uint64_t serial;
	struct fz_tag tags[FZ_TAGS];
	char hist[FZ_HIST][160];
	int nhist;
	uint64_t want;		/* serial q_run waits for */
	bool got;
	struct wd_cqe want_cqe;
};

static __thread struct fz_worker *fz_cur;
static __thread sigjmp_buf *volatile fz_jb;
/* Keeps memory accesses between setting and clearing a guard. */
#define FZ_BARRIER()	__asm__ volatile("" ::: "memory")

static uint64_t rnd(struct fz_worker *w)
{
	return splitmix(&w->rng);
}

static uint64_t below(struct fz_worker *w, uint64_t n)
{
	return n ? rnd(w) % n : 0;
}

static bool chance(struct fz_worker *w, unsigned int one_in)
{
	return below(w, one_in) == 0;
}

static void out(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (write(1, buf, n) < 0)
		return;
}

static void note(struct fz_worker *w, const char *fmt, ...)
{
	char *h = w->hist[w->nhist++ % FZ_HIST];
	va_list ap;
	int n;

	n = snprintf(h, 160, "op %ld: ", w->op);
	va_start(ap, fmt);
	vsnprintf(h + n, 160 - n, fmt, ap);
	va_end(ap);
	if (cfg.verbose)
		out("# [seed %#" PRIx64 " w%d] %s\n", cfg.seed, w->id, h);
}

static void fail(struct fz_worker *w, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out("# FUZZ FAILURE seed=%#" PRIx64 " worker=%d%s op=%ld: %s\n",
	    cfg.seed, w->id, w->child ? " (forked child)" : "", w->op, msg);
	out("#   replay: WD_FUZZ_SEED=%#" PRIx64 " (make fuzz FUZZ_SEED=%#" PRIx64
	    "); last operations of this worker:\n", cfg.seed, cfg.seed);
	for (i = w->nhist > FZ_HIST ? w->nhist - FZ_HIST : 0; i < w->nhist; i++)
		out("#     %s\n", w->hist[i % FZ_HIST]);
	if (__atomic_fetch_add(&shared->failures, 1, __ATOMIC_SEQ_CST) == 0)
		snprintf(shared->first, sizeof(shared->first),
			 "seed=%#" PRIx64 " worker=%d op=%ld: %s", cfg.seed,
			 w->id, w->op, msg);
	w->failed++;
}

/* The /proc/self/maps line of @addr, for failure reports (signal-safe). */
static void maps_line(uint64_t addr, char *buf, size_t len)
{
	static __thread char text[32768];
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	ssize_t n = 0, r;
	char *line, *end;

	snprintf(buf, len, "not mapped");
	if (fd < 0)
		return;
	while (n < (ssize_t)sizeof(text) - 1 &&
	       (r = read(fd, text + n, sizeof(text) - 1 - n)) > 0)
		n += r;
	close(fd);
	text[n] = 0;
	for (line = text; line && *line; line = end ? end + 1 : NULL) {
		unsigned long long lo, hi;

		end = strchr(line, '\n');
		if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && addr >= lo && addr < hi) {
			snprintf(buf, len, "%.*s", end ? (int)(end - line) : (int)strlen(line), line);
			return;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Signals: accesses that may fault run under a guard                  */
/* ------------------------------------------------------------------ */

static void fz_signal(int sig, siginfo_t *si, void *uc)
{
	struct fz_worker *w = fz_cur;

	if (fz_jb)
		siglongjmp(*fz_jb, sig);
	char where[256];

	maps_line((uintptr_t)si->si_addr, where, sizeof(where));
	out("# FUZZ FAILURE seed=%#" PRIx64 " worker=%d%s op=%ld: unexpected signal %d code %d at %p (%s)\n",
	    cfg.seed, w ? w->id : -1, w && w->child ? " (forked child)" : "", w ? w->op : -1L,
	    sig, si->si_code, si->si_addr, where);
	if (w) {
		int i;

		for (i = w->nhist > FZ_HIST ? w->nhist - FZ_HIST : 0; i < w->nhist; i++)
			out("#     %s\n", w->hist[i % FZ_HIST]);
	}
	__atomic_fetch_add(&shared->failures, 1, __ATOMIC_SEQ_CST);
	_exit(86);
}

static void fz_signals(void)
{
	struct sigaction sa = { .sa_sigaction = fz_signal, .sa_flags = SA_SIGINFO | SA_NODEFER };

	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

enum { A_READ, A_WRITE, A_FILL };

/* Copy or fill under a guard; returns 0 or the signal that stopped it. */
static int guarded(int how, void *dst, const void *src, int c, size_t len)
{
	sigjmp_buf jb, *old = fz_jb;
	volatile int sig;

	sig = sigsetjmp(jb, 1);
	if (sig) {
		FZ_BARRIER();
		fz_jb = old;
		return sig;
	}
	fz_jb = &jb;
	FZ_BARRIER();
	if (how == A_FILL)
		memset(dst, c, len);
	else
		memcpy(dst, src, len);
	FZ_BARRIER();
	fz_jb = old;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Checking syscall results                                            */
/* ------------------------------------------------------------------ */

static const char *call_name(enum fz_call c)
{
	return fz_errsets[c].name;
}

/*
 * @ret/@err: what the call returned; @must: the only acceptable errno
 * (0: any of the call's set).
 */
static void check_ret(struct fz_worker *w, enum fz_call c, long ret, int err,
		      int must, const char *what)
{
	const struct fz_errset *s = &fz_errsets[c];
	int i;

	__atomic_fetch_add(&shared->calls, 1, __ATOMIC_RELAXED);
	if (ret != -1) {
		if (ret != 0)
			fail(w, "%s (%s) returned %ld", call_name(c), what, ret);
		else if (must)
			fail(w, "%s (%s) succeeded; expected %s", call_name(c),
			     what, strerror(must));
		else if (!s->may_succeed)
			fail(w, "%s (%s) succeeded", call_name(c), what);
		return;
	}
	if (must) {
		if (err != must)
			fail(w, "%s (%s) failed with %s; expected %s",
			     call_name(c), what, strerror(err), strerror(must));
		return;
	}
	for (i = 0; s->errs[i]; i++)
		if (s->errs[i] == err)
			return;
	fail(w, "%s (%s) failed with %s (errno %d), not in its documented set",
	     call_name(c), what, strerror(err), err);
}

/* ------------------------------------------------------------------ */
/* Addresses, lengths and argument pointers                            */
/* ------------------------------------------------------------------ */

enum { P_OK, P_RO, P_BAD };

static const uint64_t fz_bad_addrs[] = {
	0, 8, 0xfff, 0x10000,
	0xffff888000000000ULL, 0xffffffff81000000ULL, 0xffffc90000000000ULL,
	0xfffffffffffff000ULL, 0xffffffffffffffffULL,
	0x0000800000000000ULL, 0x00007ffffffff000ULL, 0x8000000000000000ULL,
	0x00ff000000000000ULL,
};

/* An address nothing is mapped at in this process (static, non-PIE). */
static uint64_t unmapped_addr(struct fz_worker *w)
{
	return 0x20000 + below(w, 0x200) * PG + (chance(w, 4) ? below(w, PG) : 0);
}

static uint64_t bad_addr(struct fz_worker *w)
{
	switch (below(w, 4)) {
	case 0:
		return unmapped_addr(w);
	case 1:
		return (uint64_t)(uintptr_t)w->guard + below(w, PG);
	default:
		return fz_bad_addrs[below(w, sizeof(fz_bad_addrs) / sizeof(fz_bad_addrs[0]))] +
		       (chance(w, 3) ? below(w, 1 << 20) : 0);
	}
}

/* A length: mostly modest, sometimes hostile. */
static uint64_t rnd_len(struct fz_worker *w, uint64_t modest)
{
	static const uint64_t huge[] = {
		1ULL << 30, (1ULL << 30) + 1, (1ULL << 30) - 1, 1ULL << 31,
		1ULL << 40, 1ULL << 47, 1ULL << 63, ~0ULL, ~0ULL - PG + 1,
	};

	switch (below(w, 16)) {
	case 0:
		return 0;
	case 1:
		return huge[below(w, sizeof(huge) / sizeof(huge[0]))];
	case 2:
		return rnd(w);
	case 3:
		return 1 + below(w, 64);
	default:
		return 1 + below(w, modest);
	}
}

/*
 * Where an ioctl argument lives: the argument page (a struct at a random
 * offset, now and then straddling into the PROT_NONE page after it), the
 * read-only page, or a bad pointer. Returns the pointer and its class.
 */
static void *arg_ptr(struct fz_worker *w, const void *data, size_t len, int *cls)
{
	uint8_t *p;

	switch (below(w, 12)) {
	case 0:
		*cls = P_BAD;
		return (void *)(uintptr_t)bad_addr(w);
	case 1:
		/* Straddles the guard page. */
		*cls = len > 1 ? P_BAD : P_OK;
		p = w->argp + PG - len + 1 + below(w, len > 1 ? len - 1 : 1);
		if (p + len <= w->argp + PG)
			*cls = P_OK;
		memcpy(p, data, w->argp + PG - p < (long)len ? (size_t)(w->argp + PG - p) : len);
		return p;
	case 2:
		*cls = P_RO;
		mprotect(w->rop, PG, PROT_READ | PROT_WRITE);
		p = w->rop + below(w, PG - len + 1);
		memcpy(p, data, len);
		mprotect(w->rop, PG, PROT_READ);
		return p;
	default:
		*cls = P_OK;
		p = w->argp + below(w, PG - len + 1);
		if (chance(w, 2))
			p = (uint8_t *)((uintptr_t)p & ~7UL);
		memcpy(p, data, len);
		return p;
	}
}

/* ------------------------------------------------------------------ */
/* Command generation and prediction                                   */
/* ------------------------------------------------------------------ */

static bool len_big(uint64_t len)
{
	return FZ_CMD_MAX ? len > FZ_CMD_MAX : false;
}

static bool len_maybe_big(uint64_t len)
{
	return FZ_CMD_MAX ? false : len > (1ULL << 20);
}

/* Statuses @c may complete with, judging by its fields alone. */
static uint32_t predict(const struct wd_cmd *c)
{
	bool bad = false, big, maybe;
	uint32_t mem;

	if (c->reserved || c->opcode > WD_OP_INFLATE ||
	    c->flags & ~(WD_CMD_F_STREAM | WD_CMD_F_CONTINUE | WD_CMD_F_SYNC) ||
	    (c->flags && c->opcode != WD_OP_INFLATE && c->opcode != WD_OP_DEFLATE) ||
	    (c->flags && c->opcode == WD_OP_INFLATE && (c->flags & WD_CMD_F_SYNC)) ||
	    (c->flags && c->opcode == WD_OP_DEFLATE &&
	     (c->flags != WD_CMD_F_SYNC || c->format != WD_FMT_RAW)))
		return ST(WD_ST_INVALID);
	big = len_big(c->src_len) || len_big(c->dst_len);
	maybe = len_maybe_big(c->src_len) || len_maybe_big(c->dst_len);
	switch (c->opcode) {
	case WD_OP_NOP:
		bad = c->src || c->src_len || c->dst || c->dst_len || c->param || c->format;
		mem = ST(WD_ST_OK);
		break;
	case WD_OP_COPY:
		bad = c->param || c->format;
		mem = ST_MEM_COPY;
		break;
	case WD_OP_FILL:
		bad = c->src || c->src_len || c->format || c->param > 255;
		mem = ST_MEM_FILL;
		break;
	case WD_OP_CRC32C:
		bad = c->dst || c->dst_len || c->format;
		mem = ST_MEM_CRC;
		break;
	case WD_OP_DEFLATE:
		bad = c->param > FZ_DEFLATE_LEVEL_MAX || c->format > WD_FMT_GZIP;
		mem = ST_MEM_DEFLATE;
		break;
	default:
		bad = c->param || c->format > WD_FMT_GZIP;
		mem = ST_MEM_INFLATE;
		/*
		 * An INFLATE stream: MORE, or INVALID for gzip framing or a
		 * CONTINUE that does not match the queue's stream.
		 */
		if (c->flags)
			mem |= ST(WD_ST_MORE) | ST(WD_ST_INVALID);
		break;
	}
	if (big && bad)
		return ST(WD_ST_INVALID) | ST(WD_ST_TOO_BIG);
	if (big)
		return ST(WD_ST_TOO_BIG);
	if (bad)
		return ST(WD_ST_INVALID) | (maybe ? ST(WD_ST_TOO_BIG) : 0);
	return mem | (maybe ? ST(WD_ST_TOO_BIG) : 0);
}

/* A range the engine must refuse at once: kernel, non-canonical, wrapping. */
static bool range_never_user(uint64_t a, uint64_t len)
{
	return len && (a + len < a || a + len > 0x00007ffffffff000ULL);
}

static uint64_t arena_addr(struct fz_worker *w)
{
	return (uint64_t)(uintptr_t)w->arena + below(w, FZ_ARENA_PAGES * PG);
}

static uint64_t src_addr(struct fz_worker *w)
{
	struct fz_queue *q = &w->dev[0].q;

	switch (below(w, 10)) {
	case 0:
		return bad_addr(w);
	case 1:
	case 2:
		return (uint64_t)(uintptr_t)w->cbuf + below(w, FZ_CONST_LEN);
	case 3:
		if (q->bound && q->sq)
			return (uint64_t)(uintptr_t)q->sq;
		return (uint64_t)(uintptr_t)w->cbuf;
	default:
		return arena_addr(w);
	}
}

static uint64_t dst_addr(struct fz_worker *w)
{
	switch (below(w, 8)) {
	case 0:
		return bad_addr(w);
	case 1:
		return (uint64_t)(uintptr_t)w->cbuf + below(w, FZ_CONST_LEN);	/* read-only */
	default:
		return arena_addr(w);
	}
}

/*
 * A random command. Destinations are only ever the arena, the read-only
 * buffer or addresses nothing can be mapped at, so the engine cannot
 * scribble over the fuzzer's own state.
 */
static void gen_cmd(struct fz_worker *w, struct wd_cmd *c)
{
	uint64_t modest;

	memset(c, 0, sizeof(*c));
	c->opcode = chance(w, 12) ? (uint32_t)rnd(w) : below(w, 6);
	modest = c->opcode >= WD_OP_DEFLATE ? 16 * PG : 64 * PG;
	switch (c->opcode) {
	case WD_OP_NOP:
		break;
	case WD_OP_FILL:
		c->dst = dst_addr(w);
		c->dst_len = rnd_len(w, modest);
		c->param = below(w, 256);
		break;
	case WD_OP_CRC32C:
		c->src = src_addr(w);
		c->src_len = rnd_len(w, modest);
		c->param = chance(w, 2) ? 0 : (uint32_t)rnd(w);
		break;
	case WD_OP_INFLATE:
		c->src = chance(w, 3) ? (uint64_t)(uintptr_t)w->cbuf + FZ_CONST_LEN : src_addr(w);
		c->src_len = chance(w, 3) ? w->zlen : rnd_len(w, modest);
		c->dst = dst_addr(w);
		c->dst_len = rnd_len(w, modest);
		c->format = chance(w, 2) ? WD_FMT_ZLIB : below(w, 3);
		break;
	default:	/* COPY, DEFLATE, unknown opcodes */
		c->src = src_addr(w);
		c->src_len = rnd_len(w, modest);
		c->dst = dst_addr(w);
		c->dst_len = chance(w, 2) ? c->src_len : rnd_len(w, modest);
		if (c->opcode == WD_OP_DEFLATE) {
			c->param = below(w, 10);
			c->format = below(w, 3);
			if (!c->format && chance(w, 4))
				c->flags = WD_CMD_F_SYNC;
		}
		break;
	}
	/* Hostile touches: fields that must be zero, out-of-range values. */
	if (chance(w, 16))
		c->flags = 1U << below(w, 32);
	if (chance(w, 16))
		c->reserved = rnd(w);
	if (chance(w, 16))
		c->param = (uint32_t)rnd(w);
	if (chance(w, 16))
		c->format = below(w, 5);
	if (chance(w, 20))
		c->src = rnd(w);
	if (chance(w, 20))
		c->dst = chance(w, 2) || c->src < (uintptr_t)w->arena ||
			 c->src >= (uintptr_t)w->arena + FZ_ARENA_PAGES * PG ? bad_addr(w) : c->src;
	if (chance(w, 24)) {
		/* Wrap around the end of the address space. */
		c->src = ~0ULL - below(w, 4 * PG);
		c->src_len = 8 * PG;
	}
	if (chance(w, 32)) {
		/* Complete garbage, but for the tag set below. */
		uint64_t junk[sizeof(*c) / 8];
		size_t i;

		for (i = 0; i < sizeof(*c) / 8; i++)
			junk[i] = rnd(w);
		memcpy(c, junk, sizeof(*c));
	}
}

/* Record what @c (with a fresh tag) may complete with. */
static void tag_cmd(struct fz_worker *w, struct wd_cmd *c)
{
	struct fz_tag *t;
	uint64_t s = ++w->serial;
	uint32_t mask = predict(c);
	bool mem_only = !(mask & (ST(WD_ST_INVALID) | ST(WD_ST_TOO_BIG)));

	c->tag = FZ_TAG_MAGIC << 56 | (uint64_t)(w->id & 0xff) << 40 | s;
	t = &w->tags[s % FZ_TAGS];
	memset(t, 0, sizeof(*t));
	t->serial = s;
	t->opcode = c->opcode;
	t->mask = mask;
	if (!mem_only)
		return;
	/* Addresses the engine must refuse whatever it does first. */
	if (c->opcode == WD_OP_FILL && range_never_user(c->dst, c->dst_len))
		t->mask = ST(WD_ST_FAULT);
	if (c->opcode == WD_OP_CRC32C && range_never_user(c->src, c->src_len))
		t->mask = ST(WD_ST_FAULT);
	if (c->opcode == WD_OP_FILL) {
		t->check_result = true;
		t->result = c->dst_len;
	}
	if (c->opcode == WD_OP_CRC32C && c->src >= (uintptr_t)w->cbuf &&
	    c->src + c->src_len <= (uintptr_t)w->cbuf + FZ_CONST_LEN &&
	    c->src + c->src_len >= c->src) {
		t->check_result = true;
		t->result = wd_test_crc32c(c->param,
					   (void *)(uintptr_t)c->src, c->src_len);
	}
	if (c->opcode == WD_OP_COPY) {
		t->check_result = true;
		t->result = c->src_len;
	}
	if (c->opcode != WD_OP_INFLATE) {
		t->check_consumed = true;
		t->consumed = c->src_len;
	}
}

static void check_cqe(struct fz_worker *w, const struct wd_cqe *e, uint32_t at)
{
	struct fz_tag *t;
	uint64_t s = e->tag & ((1ULL << 40) - 1);

	if (e->status > ST_KNOWN_MAX) {
		fail(w, "completion tag %#" PRIx64 " has unknown status %u",
		     (uint64_t)e->tag, e->status);
		return;
	}
	if (e->tag == 0) {
		/* A slot never written since the queue was bound: zeros, a NOP. */
		if (e->status != WD_ST_OK || e->opcode != WD_OP_NOP)
			fail(w, "completion of a zeroed slot: status %u opcode %u",
			     e->status, e->opcode);
		return;
	}
	if (e->tag >> 56 != FZ_TAG_MAGIC || ((e->tag >> 40) & 0xff) != (uint64_t)(w->id & 0xff)) {
		fail(w, "completion with a tag we never wrote: %#" PRIx64, (uint64_t)e->tag);
		return;
	}
	t = &w->tags[s % FZ_TAGS];
	if (t->serial != s)
		return;		/* too old to remember */
	__atomic_fetch_add(&shared->cqes, 1, __ATOMIC_RELAXED);
	if (e->opcode != t->opcode) {
		struct fz_tag *p = &w->tags[(s - 1) % FZ_TAGS];

		out("#   serial %llu was: op %u src %#llx/%#llx dst %#llx/%#llx; serial %llu: op %u src %#llx/%#llx dst %#llx/%#llx at %u\n",
		    (unsigned long long)s, t->cmd.opcode, (unsigned long long)t->cmd.src,
		    (unsigned long long)t->cmd.src_len, (unsigned long long)t->cmd.dst,
		    (unsigned long long)t->cmd.dst_len, (unsigned long long)p->serial, p->cmd.opcode,
		    (unsigned long long)p->cmd.src, (unsigned long long)p->cmd.src_len,
		    (unsigned long long)p->cmd.dst, (unsigned long long)p->cmd.dst_len, p->index);
		fail(w, "completion %#" PRIx64 " (at %u): opcode %u, command had %u (written at index %u of ring %p)",
		     (uint64_t)e->tag, at, e->opcode, t->opcode, t->index, t->ring);
	}
	if (!(t->mask & ST(e->status)))
		fail(w, "completion %#" PRIx64 " (opcode %u): status %u, its fields allow only mask %#x",
		     (uint64_t)e->tag, t->opcode, e->status, t->mask);
	if (e->status == WD_ST_OK && t->check_result && e->result != t->result)
		fail(w, "completion %#" PRIx64 " (opcode %u): result %#" PRIx64 ", expected %#" PRIx64,
		     (uint64_t)e->tag, t->opcode, (uint64_t)e->result, t->result);
	if (e->status == WD_ST_OK && t->check_consumed && e->consumed != t->consumed)
		fail(w, "completion %#" PRIx64 " (opcode %u): consumed %" PRIu64 ", expected %" PRIu64,
		     (uint64_t)e->tag, t->opcode, (uint64_t)e->consumed, t->consumed);
}

/* ------------------------------------------------------------------ */
/* Queues and rings                                                    */
/* ------------------------------------------------------------------ */

static void *fz_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p;

	/* Keep fresh mappings out of a hole an arena operation has open. */
	pthread_mutex_lock(&fz_vm_lock);
	int err;

	p = mmap(addr, len, prot, flags, fd, off);
	err = errno;
	pthread_mutex_unlock(&fz_vm_lock);
	errno = err;
	return p;
}

/* Make [p, p + len) of the arena reserved again (never a hole for long). */
static void arena_reserve(uint8_t *p, size_t len)
{
	mmap(p, len, PROT_NONE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
}

static void q_forget(struct fz_queue *q)
{
	memset(q, 0, sizeof(*q));
}

static void q_unmap_all(struct fz_queue *q)
{
	if (q->ctrl)
		munmap(q->ctrl, q->info.ctrl_size);
	if (q->sq)
		munmap(q->sq, q->info.sq_size);
	if (q->cqh)
		munmap(q->cqh, q->cq_len);
	q->ctrl = NULL;
	q->sq = NULL;
	q->cqh = NULL;
}

static bool q_usable(struct fz_queue *q)
{
	return q->bound && !q->broken && q->ctrl && q->sq && q->cqh;
}

static struct wd_cqe *q_cqe(struct fz_queue *q, uint32_t i)
{
	return (struct wd_cqe *)((uint8_t *)q->cqh + WD_CQ_HDR_SIZE) +
	       (i & (q->info.cq_entries - 1));
}

/*
 * Run @fn on the rings under a guard. A fault is a failure unless the
 * fuzzer hurt the ring mappings itself (then the queue is only broken).
 */
static bool q_guard(struct fz_worker *w, struct fz_queue *q,
		    void (*fn)(struct fz_worker *, struct fz_queue *, void *), void *arg)
{
	sigjmp_buf jb, *old = fz_jb;
	volatile int sig;

	sig = sigsetjmp(jb, 1);
	if (sig) {
		FZ_BARRIER();
		fz_jb = old;
		if (!q->tainted)
			fail(w, "signal %d on an intact ring mapping", sig);
		q->broken = true;
		return false;
	}
	fz_jb = &jb;
	FZ_BARRIER();
	fn(w, q, arg);
	FZ_BARRIER();
	fz_jb = old;
	return true;
}

/* Check the completions from cons to cq_tail, and consume them. */
static void reap_fn(struct fz_worker *w, struct fz_queue *q, void *arg)
{
	uint32_t tail = __atomic_load_n(&q->cqh->cq_tail, __ATOMIC_ACQUIRE);
	uint32_t flags = __atomic_load_n(&q->cqh->flags, __ATOMIC_RELAXED);
	struct wd_cqe e;

	if (flags & ~(uint32_t)FZ_CQ_FLAGS)
		fail(w, "completion header flags %#x (device never removed)", flags);
	if (!q->cons_valid || tail - q->cons > q->info.cq_entries) {
		/* We skipped completions: resume at what the kernel waits for. */
		q->cons = q->last_cq_head;
		q->cons_valid = true;
	}
	if (tail - q->cons <= q->info.cq_entries) {
		while (q->cons != tail) {
			memcpy(&e, q_cqe(q, q->cons), sizeof(e));
			check_cqe(w, &e, q->cons);
			if (w->want && e.tag >> 56 == FZ_TAG_MAGIC &&
			    (e.tag & ((1ULL << 40) - 1)) == w->want) {
				w->want_cqe = e;
				w->got = true;
			}
			q->cons++;
		}
	}
	q->cons = tail;
	q->last_cq_head = tail;
	__atomic_store_n(&q->ctrl->cq_head, tail, __ATOMIC_RELEASE);
}

static void q_reap(struct fz_worker *w, struct fz_queue *q)
{
	if (q_usable(q))
		q_guard(w, q, reap_fn, NULL);
}

struct submit_arg {
	int n;
	bool kick;
	const struct wd_cmd *fixed;	/* submit this one (tagged) instead */
	int done;
};

/* Write up to n commands into free slots and publish them. */
static void submit_fn(struct fz_worker *w, struct fz_queue *q, void *arg)
{
	struct submit_arg *a = arg;
	uint32_t head = __atomic_load_n(&q->cqh->sq_head, __ATOMIC_ACQUIRE);
	uint32_t n = q->info.sq_entries;
	struct wd_cmd c;
	int i;

	/*
	 * pub bounds every tail the engine may have accepted: slots from it
	 * up to head + n are free; nothing before it is ever rewritten.
	 */
	for (i = 0; i < a->n && q->pub - head < n; i++) {
		if (a->fixed)
			c = *a->fixed;
		else
			gen_cmd(w, &c);
		tag_cmd(w, &c);
		w->tags[w->serial % FZ_TAGS].index = q->pub;
		w->tags[w->serial % FZ_TAGS].ring = q->sq;
		w->tags[w->serial % FZ_TAGS].cmd = c;
		memcpy(&q->sq[q->pub & (n - 1)], &c, sizeof(c));
		q->pub++;
		a->done++;
	}
	/* After a hostile jump pub may be out of reach: publish what is. */
	__atomic_store_n(&q->ctrl->sq_tail, q->pub - head <= n ? q->pub : head + n,
			 __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void q_kick(struct fz_worker *w, struct fz_dev *d)
{
	long ret = ioctl(d->fd, WD_IOC_KICK, 0);

	check_ret(w, C_KICK, ret, errno, d->q.bound ? 0 : ENXIO, "kick");
}

/* Kernel stacks of the device's engine threads, for a stall report. */
static void engine_stacks(void)
{
	char path[64], comm[64], stack[4096];
	int pid;

	for (pid = 2; pid < 4096; pid++) {
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		if (wd_test_read_file(path, comm, sizeof(comm)) || strncmp(comm, WD_TEST_DEV, 7))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stack", pid);
		if (wd_test_read_file(path, stack, sizeof(stack)))
			continue;
		out("#   kernel stack of %s (pid %d):\n", comm, pid);
		for (char *l = strtok(stack, "\n"); l; l = strtok(NULL, "\n"))
			out("#     %s\n", l);
	}
}

/* What the engine is busy with, for a failure report. */
static void q_stuck(struct fz_worker *w, struct fz_queue *q)
{
	uint32_t head = __atomic_load_n(&q->cqh->sq_head, __ATOMIC_ACQUIRE);
	struct wd_cmd c;
	char where[256];

	memcpy(&c, &q->sq[(head - 1) & (q->info.sq_entries - 1)], sizeof(c));
	maps_line(c.src, where, sizeof(where));
	char ctxs[4096];

	engine_stacks();
	if (!wd_test_read_file("/sys/kernel/debug/warpdrive/" WD_TEST_DEV "/contexts", ctxs,
			       sizeof(ctxs)))
		for (char *l = strtok(ctxs, "\n"); l; l = strtok(NULL, "\n"))
			out("#   %s\n", l);
	out("#   pid %d queue_id %u sq %u cq %u\n", getpid(), q->info.queue_id, q->info.sq_entries,
	    q->info.cq_entries);
	out("#   queue: sq_head %u sq_tail %u pub %u cq_tail %u cq_head %u flags %#x\n", head,
	    q->ctrl->sq_tail, q->pub, q->cqh->cq_tail, q->ctrl->cq_head, q->cqh->flags);
	out("#   last command taken: opcode %u flags %#x src %#llx+%#llx (%s)\n", c.opcode, c.flags,
	    (unsigned long long)c.src, (unsigned long long)c.src_len, where);
	maps_line(c.dst, where, sizeof(where));
	out("#     dst %#llx+%#llx (%s) param %u format %u\n", (unsigned long long)c.dst,
	    (unsigned long long)c.dst_len, where, c.param, c.format);
}

/*
 * Put the indices right, submit @c and wait for its completion, checking
 * every completion on the way. Returns the completion, or false when the
 * queue cannot be used (then nothing is checked).
 */
static bool q_run(struct fz_worker *w, struct fz_dev *d, const struct wd_cmd *c,
		  struct wd_cqe *res)
{
	struct fz_queue *q = &d->q;
	struct submit_arg a = { .n = 1, .fixed = c };
	uint64_t want;
	struct timespec t0, t1;
	long ms = 0;

	if (!q_usable(q))
		return false;
	q_reap(w, q);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!a.done) {
		if (!q_guard(w, q, submit_fn, &a))
			return false;
		if (a.done)
			break;
		q_kick(w, d);
		q_reap(w, q);
		usleep(1000);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms > FZ_WAIT_MS) {
			q_stuck(w, q);
			fail(w, "no free submission slot within %d ms", FZ_WAIT_MS);
			return false;
		}
	}
	want = w->serial;
	w->want = want;
	w->got = false;
	q_kick(w, d);
	for (;;) {
		struct pollfd pfd = { .fd = d->fd, .events = POLLIN };

		if (!q_usable(q))
			break;
		/* Every completion is checked; ours is caught on the way. */
		q_reap(w, q);
		if (w->got) {
			*res = w->want_cqe;
			w->want = 0;
			return true;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms > FZ_WAIT_MS) {
			q_stuck(w, q);
			fail(w, "command %#" PRIx64 " (opcode %u) did not complete within %d ms",
			     want, c->opcode, FZ_WAIT_MS);
			break;
		}
		if (poll(&pfd, 1, 50) == 0)
			q_kick(w, d);
	}
	w->want = 0;
	return false;
}

/* ------------------------------------------------------------------ */
/* Device file operations                                              */
/* ------------------------------------------------------------------ */

static void dev_open(struct fz_worker *w, struct fz_dev *d)
{
	memset(d, 0, sizeof(*d));
	d->nonblock = chance(w, 2);
	d->fd = open(WD_TEST_NODE, O_RDWR | O_CLOEXEC | (d->nonblock ? O_NONBLOCK : 0));
	if (d->fd < 0)
		fail(w, "open %s: %s", WD_TEST_NODE, strerror(errno));
	d->mode = WD_MMU_SVA;
}

static void dev_close(struct fz_worker *w, struct fz_dev *d)
{
	note(w, "close device fd %d", d->fd);
	q_unmap_all(&d->q);
	close(d->fd);
	dev_open(w, d);
}

static void ring_zero_fn(struct fz_worker *w, struct fz_queue *q, void *arg)
{
	const uint8_t *p;
	size_t i;

	for (p = (uint8_t *)q->ctrl, i = 0; i < q->info.ctrl_size; i++)
		if (p[i]) {
			fail(w, "fresh control page byte %zu is %#x", i, p[i]);
			return;
		}
	for (p = (uint8_t *)q->sq, i = 0; i < q->info.sq_size; i++)
		if (p[i]) {
			fail(w, "fresh submission ring byte %zu is %#x", i, p[i]);
			return;
		}
	if (q->cqh->sq_head || q->cqh->cq_tail || q->cqh->dropped ||
	    q->cqh->flags & ~(uint32_t)WD_CQ_F_NEED_WAKEUP)
		fail(w, "fresh completion header not clear: sq_head %u cq_tail %u flags %#x",
		     q->cqh->sq_head, q->cqh->cq_tail, q->cqh->flags);
	for (p = (uint8_t *)q->cqh + WD_CQ_HDR_SIZE, i = WD_CQ_HDR_SIZE; i < q->cq_len; i++, p++)
		if (*p) {
			fail(w, "fresh completion region byte %zu is %#x", i, *p);
			return;
		}
}

static void map_rings(struct fz_worker *w, struct fz_dev *d)
{
	struct fz_queue *q = &d->q;
	void *p;

	p = fz_mmap(NULL, q->info.ctrl_size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd,
		    q->info.ctrl_offset);
	check_ret(w, C_DEV_MMAP, p == MAP_FAILED ? -1 : 0, errno, 0, "control page");
	q->ctrl = p == MAP_FAILED ? NULL : p;
	p = fz_mmap(NULL, q->info.sq_size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd,
		    q->info.sq_offset);
	check_ret(w, C_DEV_MMAP, p == MAP_FAILED ? -1 : 0, errno, 0, "submission ring");
	q->sq = p == MAP_FAILED ? NULL : p;
	p = fz_mmap(NULL, q->info.cq_size, PROT_READ, MAP_SHARED, d->fd, q->info.cq_offset);
	check_ret(w, C_DEV_MMAP, p == MAP_FAILED ? -1 : 0, errno, 0, "completion ring");
	q->cqh = p == MAP_FAILED ? NULL : p;
	q->cq_len = q->info.cq_size;
	if (q->ctrl && q->sq && q->cqh)
		q_guard(w, q, ring_zero_fn, NULL);
}

static bool ring_size_ok(uint32_t n)
{
	return n == 0 || (n >= 2 && n <= 4096 && !(n & (n - 1)));
}

static uint32_t rnd_ring_size(struct fz_worker *w)
{
	static const uint32_t v[] = { 0, 2, 4, 8, 16, 32, 64, 1, 3, 100, 8192, 4096, 0xffffffff };

	return chance(w, 8) ? (uint32_t)rnd(w) : v[below(w, sizeof(v) / sizeof(v[0]))];
}

static void op_get(struct fz_worker *w, struct fz_dev *d)
{
	struct wd_queue_info in = { 0 }, *p;
	bool valid;
	int cls, must = 0, err;
	long ret;

	/* Never wait for a queue: other workers may hold them all. */
	in.flags = WD_QF_NONBLOCK;
	/* The caller's ABI version: anything else is refused first. */
	in.api_version = chance(w, 16) ? (uint32_t)rnd(w) : WD_API_VERSION;
	if (chance(w, 16))
		in.pad = 1 + below(w, 100);
	if (chance(w, 8))
		in.flags |= 1U << below(w, 32);
	in.sq_entries = chance(w, 2) ? 2U << below(w, 5) : rnd_ring_size(w);
	in.cq_entries = chance(w, 2) ? 0 : rnd_ring_size(w);
	if (chance(w, 12))
		in.queue_id = 1 + below(w, 8);
	if (chance(w, 12))
		in.cq_offset = rnd(w);
	if (chance(w, 12))
		in.reserved[below(w, sizeof(in.reserved) / sizeof(in.reserved[0]))] =
			1 + below(w, 100);
	valid = !(in.flags & ~WD_QF_NONBLOCK) && !in.queue_id && !in.cq_offset &&
		!in.reserved[0] && !in.reserved[1] && !in.reserved[2] &&
		!in.pad && ring_size_ok(in.sq_entries) && ring_size_ok(in.cq_entries);
	p = arg_ptr(w, &in, sizeof(in), &cls);
	if (cls == P_BAD)
		must = EFAULT;
	else if (in.api_version != WD_API_VERSION)
		must = EPROTONOSUPPORT;
	else if (!valid)
		must = EINVAL;
	else if (d->q.bound)
		must = EBUSY;
	note(w, "QUEUE_GET fd %d sq %u cq %u flags %#x ptr %p cls %d", d->fd,
	     in.sq_entries, in.cq_entries, in.flags, (void *)p, cls);
	ret = ioctl(d->fd, WD_IOC_QUEUE_GET, p);
	err = errno;
	check_ret(w, C_QUEUE_GET, ret, err, must, "bind");
	/* A read-only argument: bound, then the copy out fails and unbinds. */
	if (cls == P_RO && !must && (ret == 0 || (err != EFAULT && err != EAGAIN &&
						    err != ENOMEM)))
		fail(w, "QUEUE_GET with a read-only argument: ret %ld errno %d", ret, err);
	if (ret || cls != P_OK || d->q.bound)
		return;
	q_forget(&d->q);
	memcpy(&d->q.info, p, sizeof(d->q.info));
	d->q.bound = true;
	d->q.cons_valid = true;
	if (d->q.info.sq_entries < 2 || d->q.info.sq_entries & (d->q.info.sq_entries - 1) ||
	    d->q.info.cq_entries < 2 || d->q.info.cq_entries & (d->q.info.cq_entries - 1) ||
	    (in.sq_entries && d->q.info.sq_entries != in.sq_entries) ||
	    (in.cq_entries && d->q.info.cq_entries != in.cq_entries) ||
	    d->q.info.ctrl_size < sizeof(struct wd_ctrl) ||
	    d->q.info.sq_size < d->q.info.sq_entries * sizeof(struct wd_cmd) ||
	    d->q.info.cq_size < WD_CQ_HDR_SIZE + d->q.info.cq_entries * sizeof(struct wd_cqe)) {
		fail(w, "QUEUE_GET granted sq %u cq %u sizes %llu/%llu/%llu for sq %u cq %u",
		     d->q.info.sq_entries, d->q.info.cq_entries,
		     (unsigned long long)d->q.info.ctrl_size,
		     (unsigned long long)d->q.info.sq_size,
		     (unsigned long long)d->q.info.cq_size, in.sq_entries, in.cq_entries);
		d->q.broken = true;
		return;
	}
	if (!chance(w, 6))
		map_rings(w, d);
}

static void revoked_fn(struct fz_worker *w, struct fz_queue *q, void *arg)
{
	*(volatile uint32_t *)arg = *(volatile uint32_t *)&q->ctrl->sq_tail;
}

static void op_put(struct fz_worker *w, struct fz_dev *d)
{
	long ret;

	note(w, "QUEUE_PUT fd %d (bound %d)", d->fd, d->q.bound);
	ret = ioctl(d->fd, WD_IOC_QUEUE_PUT, chance(w, 2) ? 0 : rnd(w));
	check_ret(w, C_QUEUE_PUT, ret, errno, d->q.bound ? 0 : ENXIO, "release");
	if (ret)
		return;
	/* The rings are revoked: a touch is SIGBUS, never stale memory. */
	if (d->q.ctrl && !d->q.tainted) {
		sigjmp_buf jb, *old = fz_jb;
		volatile int sig;
		uint32_t v;

		sig = sigsetjmp(jb, 1);
		if (!sig) {
			fz_jb = &jb;
			FZ_BARRIER();
			revoked_fn(w, &d->q, &v);
		}
		FZ_BARRIER();
		fz_jb = old;
		if (sig != SIGBUS)
			fail(w, "touching the control page after QUEUE_PUT gave signal %d, not SIGBUS",
			     sig);
	}
	q_unmap_all(&d->q);
	q_forget(&d->q);
}

static void op_info(struct fz_worker *w, struct fz_dev *d)
{
	struct wd_info in, *p;
	int cls, i;
	long ret;

	memset(&in, 0xa5, sizeof(in));
	p = arg_ptr(w, &in, sizeof(in), &cls);
	note(w, "INFO fd %d ptr %p cls %d", d->fd, (void *)p, cls);
	ret = ioctl(d->fd, WD_IOC_INFO, p);
	check_ret(w, C_INFO, ret, errno, cls == P_OK ? 0 : EFAULT, "info");
	if (ret || cls != P_OK)
		return;
	memcpy(&in, p, sizeof(in));
	if (in.api_version != WD_API_VERSION || in.queues_free > in.queues_total ||
	    in.pad)
		fail(w, "WD_IOC_INFO: api %u (header %u), queues %u/%u, pad %u",
		     in.api_version, WD_API_VERSION, in.queues_free, in.queues_total, in.pad);
	for (i = 0; i < (int)(sizeof(in.reserved) / sizeof(in.reserved[0])); i++)
		if (in.reserved[i])
			fail(w, "WD_IOC_INFO: reserved[%d] = %#llx", i,
			     (unsigned long long)in.reserved[i]);
	w->info = in;
}

static void query_mode(struct fz_worker *w, struct fz_dev *d)
{
	struct wd_mmu_mode m = { 0 };

	if (ioctl(d->fd, WD_IOC_MMU_MODE, &m)) {
		fail(w, "WD_IOC_MMU_MODE query: %s", strerror(errno));
		return;
	}
	if (m.mode != WD_MMU_SVA && m.mode != WD_MMU_PINNED)
		fail(w, "WD_IOC_MMU_MODE query says mode %u", m.mode);
	d->mode = m.mode;
}

static void op_mmu_mode(struct fz_worker *w, struct fz_dev *d)
{
	static const uint32_t modes[] = { 0, WD_MMU_SVA, WD_MMU_PINNED, WD_MMU_PINNED, 3, 0xffffffff };
	struct wd_mmu_mode in = { 0 }, *p;
	int cls, must = 0;
	long ret;

	in.mode = modes[below(w, sizeof(modes) / sizeof(modes[0]))];
	if (chance(w, 10))
		in.pad = 1;
	if (chance(w, 10))
		in.reserved[below(w, 2)] = rnd(w) | 1;
	p = arg_ptr(w, &in, sizeof(in), &cls);
	if (cls == P_BAD)
		must = EFAULT;
	else if (in.pad || in.reserved[0] || in.reserved[1])
		must = EINVAL;
	else if (in.mode > WD_MMU_PINNED && !d->q.bound)
		must = EINVAL;		/* with a queue bound, EBUSY may come first */
	note(w, "MMU_MODE fd %d mode %u ptr cls %d", d->fd, in.mode, cls);
	ret = ioctl(d->fd, WD_IOC_MMU_MODE, p);
	check_ret(w, C_MMU_MODE, ret, errno, must, "mode");
	query_mode(w, d);
	if (d->mode == WD_MMU_SVA)
		d->nshares = 0;		/* switching needs nothing shared */
}

static void op_share(struct fz_worker *w, struct fz_dev *d)
{
	struct wd_share_req in = { 0 }, *p;
	int cls, must = 0;
	long ret;

	in.addr = chance(w, 5) ? bad_addr(w) : (arena_addr(w) & ~(PG - 1));
	if (chance(w, 10))
		in.addr += 1 + below(w, PG - 1);
	in.len = chance(w, 4) ? rnd_len(w, 1 << 20) : PG * (1 + below(w, 32));
	if (chance(w, 10))
		in.len = (uint64_t)(uintptr_t)w->arena + FZ_ARENA_PAGES * PG - in.addr;
	if (chance(w, 8))
		in.len &= ~(PG - 1);
	if (chance(w, 12)) {
		/* Around the largest share, at an address where it fits. */
		static const uint64_t big[] = { 1ULL << 40, (1ULL << 40) - PG, 1ULL << 39,
						(1ULL << 40) + PG };

		in.addr = 0x100000;
		in.len = big[below(w, 4)];
	}
	in.access = chance(w, 8) ? (uint32_t)rnd(w) : 1 + below(w, 3);
	if (chance(w, 12))
		in.pad = 1;
	if (chance(w, 12))
		in.reserved[below(w, 2)] = 1;
	/* Issue 12 item 1: lengths the kernel allocates for before checking. */
	if (fz_known[K_SHARE_HUGE].avoid && in.len > (64ULL << 20) && in.len <= (1ULL << 40))
		in.len = chance(w, 2) ? (1ULL << 41) : in.len & ((64ULL << 20) - 1);
	p = arg_ptr(w, &in, sizeof(in), &cls);
	if (cls == P_BAD)
		must = EFAULT;
	else if (d->mode == WD_MMU_PINNED && (in.pad || in.reserved[0] || in.reserved[1]))
		must = EINVAL;
	note(w, "SHARE fd %d addr %#llx len %#llx access %#x cls %d mode %u", d->fd,
	     (unsigned long long)in.addr, (unsigned long long)in.len, in.access, cls, d->mode);
	if (d->nshares >= FZ_SHARES)
		return;
	ret = ioctl(d->fd, WD_IOC_SHARE, p);
	check_ret(w, C_SHARE, ret, errno, must, "share");
	if (!ret && d->mode != WD_MMU_PINNED)
		fail(w, "SHARE succeeded in SVA mode");
	if (!ret) {
		d->shares[d->nshares].addr = in.addr;
		d->shares[d->nshares++].len = in.len;
	}
}

static void op_unshare(struct fz_worker *w, struct fz_dev *d)
{
	struct wd_share_req in = { 0 }, *p;
	int cls, must = 0, pick = -1;
	long ret;

	if (d->nshares && !chance(w, 4)) {
		pick = below(w, d->nshares);
		in.addr = d->shares[pick].addr;
		in.len = d->shares[pick].len;
		if (chance(w, 5) && in.len > PG) {
			in.len -= PG;		/* part of a share: EINVAL */
			must = EINVAL;
			pick = -1;
		}
	} else {
		in.addr = chance(w, 2) ? bad_addr(w) : arena_addr(w) & ~(PG - 1);
		in.len = rnd_len(w, 1 << 20);
	}
	if (chance(w, 12))
		in.access = 1;
	if (chance(w, 12))
		in.reserved[1] = 1;
	p = arg_ptr(w, &in, sizeof(in), &cls);
	if (cls == P_BAD)
		must = EFAULT;
	else if (d->mode == WD_MMU_PINNED && in.reserved[1])
		must = EINVAL;	/* (a bad access value may lose to the range checks) */
	note(w, "UNSHARE fd %d addr %#llx len %#llx cls %d", d->fd,
	     (unsigned long long)in.addr, (unsigned long long)in.len, cls);
	ret = ioctl(d->fd, WD_IOC_UNSHARE, p);
	check_ret(w, C_UNSHARE, ret, errno, must, "unshare");
	/* A share we made, asked for exactly, must go. */
	if (pick >= 0 && !must && !in.access && ret)
		fail(w, "UNSHARE of a share we made failed: %s", strerror(errno));
	if (pick >= 0 && !ret)
		d->shares[pick] = d->shares[--d->nshares];
}

/* Whether the test device has device-private memory (sysfs flags). */
static bool fz_has_devpriv(void)
{
	static int has = -1;	/* the same for every worker: races are benign */
	char buf[32];

	if (has < 0)
		has = !wd_test_read_file("/sys/class/warpdrive/" WD_TEST_DEV "/flags",
					 buf, sizeof(buf)) &&
		      (strtoul(buf, NULL, 0) & WD_DEV_F_DEVPRIV);
	return has;
}

static void op_migrate(struct fz_worker *w, struct fz_dev *d)
{
	struct wd_migrate in = { 0 }, *p;
	int cls, must = 0, err;
	long ret;

	in.addr = chance(w, 6) ? bad_addr(w) : arena_addr(w) & ~(PG - 1);
	in.len = chance(w, 5) ? rnd_len(w, 1 << 20) : PG * (1 + below(w, 64));
	in.direction = chance(w, 8) ? (uint32_t)rnd(w) : 1 + below(w, 2);
	if (chance(w, 12))
		in.flags = 1;
	if (chance(w, 12))
		in.reserved[below(w, 4)] = 1;
	if (chance(w, 4))
		in.moved = rnd(w);
	p = arg_ptr(w, &in, sizeof(in), &cls);
	if (cls == P_BAD)
		must = EFAULT;
	else if (!fz_has_devpriv())	/* a kernel without DEVICE_PRIVATE */
		must = EOPNOTSUPP;
	else if (in.flags || in.reserved[0] || in.reserved[1] || in.reserved[2] ||
		 in.reserved[3] ||
		 (in.direction != WD_MIGRATE_TO_DEVICE && in.direction != WD_MIGRATE_TO_SYSTEM))
		must = EINVAL;
	note(w, "MIGRATE fd %d addr %#llx len %#llx dir %u cls %d", d->fd,
	     (unsigned long long)in.addr, (unsigned long long)in.len, in.direction, cls);
	ret = ioctl(d->fd, WD_IOC_MIGRATE, p);
	err = errno;
	check_ret(w, C_MIGRATE, ret, err, must, "migrate");
	if ((ret == 0 || err == ENOMEM) && cls == P_OK && !must) {
		struct wd_migrate o;

		memcpy(&o, p, sizeof(o));
		if (!fz_known[K_MIGRATE_SUM].avoid && o.moved + o.failed > in.len / PG)
			fail(w, "MIGRATE of %llu pages: moved %llu + failed %llu",
			     (unsigned long long)(in.len / PG), (unsigned long long)o.moved,
			     (unsigned long long)o.failed);
	}
}

static void op_kick(struct fz_worker *w, struct fz_dev *d)
{
	note(w, "KICK fd %d", d->fd);
	q_kick(w, d);
}

/* ------------------------------------------------------------------ */
/* Rings: contents, indices, mappings                                  */
/* ------------------------------------------------------------------ */

static void op_submit(struct fz_worker *w, struct fz_dev *d)
{
	struct submit_arg a = { .n = 1 + below(w, 8) };

	if (!q_usable(&d->q))
		return;
	note(w, "submit %d random commands on fd %d (pub %u)", a.n, d->fd, d->q.pub);
	q_guard(w, &d->q, submit_fn, &a);
	if (chance(w, 2))
		q_kick(w, d);
	if (chance(w, 2))
		q_reap(w, &d->q);
}

struct hostile_arg {
	int kind;
	uint32_t v;
};

static void hostile_fn(struct fz_worker *w, struct fz_queue *q, void *arg)
{
	struct hostile_arg *a = arg;
	uint32_t head = __atomic_load_n(&q->cqh->sq_head, __ATOMIC_ACQUIRE);
	uint32_t n = q->info.sq_entries, t;

	switch (a->kind) {
	case 0:		/* backwards */
		t = head - 1 - a->v % 8;
		break;
	case 1:		/* beyond any slot */
		t = q->pub + n + 1 + a->v % (1U << 20);
		break;
	case 2:		/* anywhere */
		t = a->v;
		break;
	case 3:		/* forward, within reach: publishes stale slots */
		t = head + a->v % (n + 1);
		break;
	default: {	/* the completion index, anywhere */
		uint32_t tail = __atomic_load_n(&q->cqh->cq_tail, __ATOMIC_ACQUIRE);

		t = a->kind == 4 ? a->v : tail - a->v % (2 * q->info.cq_entries);
		q->last_cq_head = t;
		q->cons_valid = false;
		__atomic_store_n(&q->ctrl->cq_head, t, __ATOMIC_RELEASE);
		return;
	}
	}
	/* Any tail the engine could accept bounds what it may read. */
	if (t - head <= q->pub - head + n && (int32_t)(t - q->pub) > 0)
		q->pub = t;
	__atomic_store_n(&q->ctrl->sq_tail, t, __ATOMIC_RELEASE);
}

static void op_hostile(struct fz_worker *w, struct fz_dev *d)
{
	struct hostile_arg a = { .kind = below(w, 6), .v = (uint32_t)rnd(w) };

	if (!q_usable(&d->q))
		return;
	note(w, "hostile index move %d (%#x) on fd %d", a.kind, a.v, d->fd);
	q_guard(w, &d->q, hostile_fn, &a);
	if (chance(w, 2))
		q_kick(w, d);
}

static void op_dev_mmap(struct fz_worker *w, struct fz_dev *d)
{
	struct fz_queue *q = &d->q;
	uint64_t offs[3] = { q->info.ctrl_offset, q->info.sq_offset, q->info.cq_offset };
	uint64_t sizes[3] = { q->info.ctrl_size, q->info.sq_size, q->info.cq_size };
	static const int prots[] = { PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE,
				     PROT_NONE, PROT_READ | PROT_EXEC };
	int r = below(w, 3), prot = prots[below(w, 5)];
	int flags = chance(w, 6) ? MAP_PRIVATE : MAP_SHARED;
	uint64_t off = offs[r], len = sizes[r] ? sizes[r] : PG;
	int i, err, must = 0;
	void *p;

	if (chance(w, 4))
		off += (chance(w, 2) ? PG : 1ULL << 22) * (chance(w, 2) ? 1 : -1);
	if (chance(w, 8))
		off = rnd(w) & ~(PG - 1) & ((1ULL << 52) - 1);
	if (chance(w, 4))
		len = chance(w, 2) ? len + PG : PG * (1 + below(w, 8));
	if (chance(w, 8))
		flags |= MAP_POPULATE;
	/* The VFS refuses offsets and lengths that overflow first. */
	if (off >= (1ULL << 40) || len >= (1ULL << 30))
		must = 0;
	else if (flags & MAP_PRIVATE)
		must = EINVAL;
	else if (!q->bound)
		must = ENXIO;
	note(w, "mmap device fd %d off %#llx len %#llx prot %#x flags %#x", d->fd,
	     (unsigned long long)off, (unsigned long long)len, prot, flags);
	p = fz_mmap(NULL, len, prot, flags, d->fd, off);
	err = errno;
	check_ret(w, C_DEV_MMAP, p == MAP_FAILED ? -1 : 0, err, must, "ring");
	if (p == MAP_FAILED)
		return;
	for (i = 0; i < 3; i++)
		if (q->bound && off == offs[i] && len == sizes[i])
			break;
	if (i == 3)
		fail(w, "mmap of the device at offset %#llx length %#llx succeeded",
		     (unsigned long long)off, (unsigned long long)len);
	else if (i == 2 && (prot & PROT_WRITE))
		fail(w, "the completion ring was mapped writable");
	else if ((i == 0 && q->ctrl) || (i == 1 && q->sq) || (i == 2 && q->cqh))
		fail(w, "ring region %d mapped twice in one binding", i);
	else if (!q->tainted && !q->broken &&
		 prot == (i == 2 ? PROT_READ : (PROT_READ | PROT_WRITE))) {
		/* A ring we had not mapped yet: adopt it. */
		if (i == 0)
			q->ctrl = p;
		else if (i == 1)
			q->sq = p;
		else {
			q->cqh = p;
			q->cq_len = len;
		}
		return;
	}
	munmap(p, len);
}

static void op_ring_vm(struct fz_worker *w, struct fz_dev *d)
{
	static const int advice[] = { MADV_DONTNEED, MADV_FREE, MADV_COLD, MADV_PAGEOUT,
		MADV_WILLNEED, MADV_HUGEPAGE, MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK,
		MADV_REMOVE, MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_MERGEABLE,
		MADV_SEQUENTIAL, MADV_DONTDUMP, MADV_DODUMP };
	struct fz_queue *q = &d->q;
	uint8_t **slot, *p;
	size_t len;
	int r = below(w, 3), kind = below(w, 6), ret, adv;

	if (!q->bound)
		return;
	slot = r == 0 ? (uint8_t **)&q->ctrl : r == 1 ? (uint8_t **)&q->sq : (uint8_t **)&q->cqh;
	len = r == 0 ? q->info.ctrl_size : r == 1 ? q->info.sq_size : q->cq_len;
	p = *slot;
	if (!p)
		return;
	switch (kind) {
	case 0:		/* split */
		if (len <= PG)
			return;
		note(w, "munmap one page of ring %d", r);
		ret = munmap(p + PG, PG);
		if (!ret)
			fail(w, "a ring mapping was split by munmap");
		return;
	case 1:
		if (!chance(w, 4))
			return;
		note(w, "munmap ring %d", r);
		if (munmap(p, len))
			fail(w, "munmap of a whole ring: %s", strerror(errno));
		*slot = NULL;
		q->tainted = true;
		return;
	case 2: {
		int prot = below(w, 4);

		note(w, "mprotect ring %d to %d", r, prot);
		ret = mprotect(p, len > PG && chance(w, 2) ? PG : len, prot);
		if (!ret && len > PG && prot != (r == 2 ? PROT_READ : 3))
			q->tainted = true;
		if (!ret && r == 2 && (prot & PROT_WRITE)) {
			char where[256];

			maps_line((uintptr_t)p, where, sizeof(where));
			fail(w, "the completion ring was made writable (%p: %s)", (void *)p, where);
		}
		if (!ret)
			q->tainted = true;
		return;
	}
	case 3: {
		void *to;

		note(w, "mremap ring %d", r);
		to = mremap(p, len, len + PG, 0);
		if (to != MAP_FAILED)
			fail(w, "a ring mapping grew in place");
		/*
		 * A failed MREMAP_FIXED may have unmapped the target already:
		 * no other thread may map anything there before it is freed.
		 */
		pthread_mutex_lock(&fz_vm_lock);
		to = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (to != MAP_FAILED) {
			p = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
			if (p == MAP_FAILED)
				munmap(to, len);
			else
				*slot = p;	/* moved: must keep working */
		}
		pthread_mutex_unlock(&fz_vm_lock);
		return;
	}
	default:
		adv = advice[below(w, sizeof(advice) / sizeof(advice[0]))];
		if (adv == MADV_DOFORK && fz_known[K_DOFORK].avoid)
			return;
		note(w, "madvise ring %d advice %d", r, adv);
		ret = madvise(p, len, adv);
		if (!ret && adv == MADV_DOFORK)
			q->dofork = true;
		if (!ret && (adv == MADV_DONTNEED || adv == MADV_FREE || adv == MADV_REMOVE ||
			     adv == MADV_PAGEOUT || adv == MADV_WIPEONFORK || adv == MADV_COLD))
			q->tainted = true;
		return;
	}
}

/*
 * A command whose outcome is known, on a queue put right first: checks
 * the engine's data, not only its statuses.
 */
static void op_sync(struct fz_worker *w, struct fz_dev *d)
{
	struct wd_cmd c = { 0 };
	struct wd_cqe e;
	uint64_t off = below(w, FZ_CONST_LEN / 2), len = 1 + below(w, FZ_CONST_LEN / 2);
	int kind = below(w, 7);
	uint32_t want = WD_ST_OK;
	uint8_t b = rnd(w);

	if (!q_usable(&d->q) || d->mode != WD_MMU_SVA)
		return;
	memset(w->vbuf, 0x5a, FZ_VERIFY_LEN);
	switch (kind) {
	case 0:
		c.opcode = WD_OP_COPY;
		c.src = (uintptr_t)w->cbuf + off;
		c.src_len = c.dst_len = len;
		c.dst = (uintptr_t)w->vbuf;
		break;
	case 1:
		c.opcode = WD_OP_FILL;
		c.dst = (uintptr_t)w->vbuf;
		c.dst_len = len;
		c.param = b;
		break;
	case 2:
		c.opcode = WD_OP_CRC32C;
		c.src = (uintptr_t)w->cbuf + off;
		c.src_len = len;
		c.param = chance(w, 2) ? 0 : (uint32_t)rnd(w);
		break;
	case 3:
		c.opcode = WD_OP_INFLATE;
		c.src = (uintptr_t)w->cbuf + FZ_CONST_LEN;
		c.src_len = w->zlen;
		c.dst = (uintptr_t)w->vbuf;
		c.dst_len = FZ_VERIFY_LEN;
		c.format = WD_FMT_ZLIB;
		break;
	case 4:
		c.opcode = WD_OP_COPY;
		c.src = fz_bad_addrs[4 + below(w, 9)];
		c.src_len = c.dst_len = len;
		c.dst = (uintptr_t)w->vbuf;
		want = WD_ST_FAULT;
		break;
	case 5:
		c.opcode = WD_OP_FILL;
		c.dst = (uintptr_t)w->cbuf + off;	/* read-only */
		c.dst_len = len;
		want = WD_ST_FAULT;
		break;
	default:
		c.opcode = WD_OP_NOP;
		break;
	}
	note(w, "sync command opcode %u len %llu on fd %d", c.opcode, (unsigned long long)len, d->fd);
	if (!q_run(w, d, &c, &e))
		return;
	__atomic_fetch_add(&shared->syncs, 1, __ATOMIC_RELAXED);
	if (e.status != want) {
		fail(w, "known command opcode %u src %#llx len %llu: status %u, expected %u",
		     c.opcode, (unsigned long long)c.src, (unsigned long long)len, e.status, want);
		return;
	}
	if (want != WD_ST_OK)
		return;
	switch (kind) {
	case 0:
		if (e.result != len || memcmp(w->vbuf, w->cbuf + off, len) ||
		    w->vbuf[len] != 0x5a)
			fail(w, "COPY of %llu known bytes: result %llu, data %s", (unsigned long long)len,
			     (unsigned long long)e.result,
			     memcmp(w->vbuf, w->cbuf + off, len) ? "differs" : "past the end");
		break;
	case 1: {
		uint64_t i;

		for (i = 0; i < len; i++)
			if (w->vbuf[i] != b)
				break;
		if (e.result != len || i != len || w->vbuf[len] != 0x5a)
			fail(w, "FILL of %llu bytes: result %llu, first wrong byte %llu",
			     (unsigned long long)len, (unsigned long long)e.result,
			     (unsigned long long)i);
		break;
	}
	case 2:
		if (e.result != wd_test_crc32c(c.param, w->cbuf + off, len))
			fail(w, "CRC32C of %llu known bytes: %#llx, expected %#x", (unsigned long long)len,
			     (unsigned long long)e.result, wd_test_crc32c(c.param, w->cbuf + off, len));
		break;
	case 3:
		if (e.result != FZ_CONST_LEN || e.consumed != w->zlen ||
		    memcmp(w->vbuf, w->cbuf, FZ_CONST_LEN))
			fail(w, "INFLATE of the known stream: result %llu consumed %llu (of %zu), data %s",
			     (unsigned long long)e.result, (unsigned long long)e.consumed, w->zlen,
			     memcmp(w->vbuf, w->cbuf, FZ_CONST_LEN) ? "differs" : "right");
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Regions                                                             */
/* ------------------------------------------------------------------ */

static void region_free(struct fz_worker *w, struct fz_region *r)
{
	if (r->fd < 0)
		return;
	note(w, "close region fd %d", r->fd);
	if (r->m[0])
		munmap(r->m[0], r->size);
	if (r->m[1])
		munmap(r->m[1], r->size);
	if (r->shadow)
		munmap(r->shadow, r->size);
	close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

static struct fz_region *pick_region(struct fz_worker *w, int clean)
{
	int i, start = below(w, FZ_REGIONS);

	for (i = 0; i < FZ_REGIONS; i++) {
		struct fz_region *r = &w->reg[(start + i) % FZ_REGIONS];

		if (r->fd >= 0 && (clean < 0 || r->clean == clean) &&
		    (clean != 1 || r->verified))
			return r;
	}
	return NULL;
}

/* What a failed comparison read: the mapping there and the rings. */
static void clean_explain(struct fz_worker *w, struct fz_region *r, int i, size_t at)
{
	char where[256];
	int d;

	maps_line((uintptr_t)r->m[i] + at, where, sizeof(where));
	out("#   mapping %d of region fd %d at %p: %s\n", i, r->fd, (void *)r->m[i], where);
	for (d = 0; d < 2; d++)
		out("#   fd %d queue: bound %d tainted %d broken %d ctrl %p sq %p cq %p\n",
		    w->dev[d].fd, w->dev[d].q.bound, w->dev[d].q.tainted, w->dev[d].q.broken,
		    (void *)w->dev[d].q.ctrl, (void *)w->dev[d].q.sq, (void *)w->dev[d].q.cqh);
}

/* Compare a clean region's two mappings with what it must hold. */
static void clean_compare(struct fz_worker *w, struct fz_region *r, const char *after)
{
	int i, sig;
	uint8_t *tmp = w->vbuf;
	size_t off, n;

	if (!r->verified)
		return;
	__atomic_fetch_add(&shared->clean_checks, 1, __ATOMIC_RELAXED);
	for (i = 0; i < 2; i++)
		for (off = 0; off < r->size; off += n) {
			n = r->size - off < FZ_VERIFY_LEN ? r->size - off : FZ_VERIFY_LEN;
			sig = guarded(A_READ, tmp, r->m[i] + off, 0, n);
			if (sig) {
				fail(w, "signal %d reading a reserved region page (mapping %d, %s)",
				     sig, i, after);
				r->verified = false;
				return;
			}
			if (memcmp(tmp, r->shadow + off, n)) {
				size_t k;

				for (k = 0; k < n && tmp[k] == r->shadow[off + k]; k++)
					;
				fail(w, "region byte %zu via mapping %d is %#x, expected %#x (%s)",
				     off + k, i, tmp[k], r->shadow[off + k], after);
				clean_explain(w, r, i, off + k);
				r->verified = false;
				return;
			}
		}
}

/* Reserve every page of a clean region so touching it never needs the pool. */
static void clean_reserve(struct fz_worker *w, struct fz_region *r, uint64_t off, uint64_t len)
{
	if (fallocate(r->fd, 0, off, len)) {
		int err = errno;

		check_ret(w, C_FALLOCATE, -1, err, 0, "reserve");
		if (err != ENOSPC && err != EDQUOT)
			fail(w, "reserving a clean region range: %s", strerror(err));
		r->verified = false;
	}
}

static void region_clean_setup(struct fz_worker *w, struct fz_region *r)
{
	struct wd_region_info ri;
	int i;

	r->verified = true;
	clean_reserve(w, r, 0, r->size);
	if (!r->verified)
		return;
	__atomic_fetch_add(&shared->clean_checks, 1, __ATOMIC_RELAXED);
	for (i = 0; i < 2; i++) {
		r->m[i] = fz_mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
		if (r->m[i] == MAP_FAILED) {
			fail(w, "mapping a new region: %s", strerror(errno));
			r->m[i] = NULL;
			r->verified = false;
			return;
		}
	}
	r->shadow = fz_mmap(NULL, r->size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->shadow == MAP_FAILED) {
		r->shadow = NULL;
		r->verified = false;
		return;
	}
	/* Device memory handed to a new region reads zero. */
	clean_compare(w, r, "fresh region");
	if (!ioctl(r->fd, WD_REGION_IOC_INFO, &ri) && r->verified &&
	    (ri.size != r->size || ri.resident != r->size))
		fail(w, "WD_REGION_IOC_INFO of a reserved region: size %llu resident %llu, expected %llu",
		     (unsigned long long)ri.size, (unsigned long long)ri.resident,
		     (unsigned long long)r->size);
}

static void op_region_create(struct fz_worker *w, struct fz_dev *d, void *given, int gcls)
{
	struct wd_region_create in = { 0 }, *p;
	struct fz_region *r = NULL;
	uint64_t devmem = w->info.devmem_size ? w->info.devmem_size : 16 << 20;
	int cls, must = 0, i, fa_ok;
	long ret;

	switch (below(w, 10)) {
	case 0:
		in.size = rnd_len(w, devmem);
		break;
	case 1:
		in.size = devmem + (chance(w, 2) ? PG : 0);
		break;
	default:
		in.size = PG * (1 + below(w, 16));
	}
	in.flags = chance(w, 8) ? 1U << below(w, 32) : below(w, 4);
	in.fault_around = chance(w, 2) ? 0 : chance(w, 6) ? (uint32_t)rnd(w) % 2000 :
			  1U << below(w, 10);
	if (chance(w, 12))
		in.fd = 1 + below(w, 10);
	if (chance(w, 12))
		in.pad = 1;
	if (chance(w, 12))
		in.reserved[below(w, 4)] = 1;
	/* Keep the pool for everyone: a whole-device region only sparse. */
	if (in.size > 64 * PG)
		in.flags &= ~WD_REGION_MAP_ADVANCE;
	fa_ok = !in.fault_around || (in.fault_around <= WD_REGION_FAULT_AROUND_MAX &&
				     !(in.fault_around & (in.fault_around - 1)));
	p = given ? given : arg_ptr(w, &in, sizeof(in), &cls);
	if (given)
		cls = gcls;
	if (cls == P_BAD)
		must = EFAULT;
	else if (given)
		must = 0;
	else if (in.flags & ~(WD_REGION_MAP_ADVANCE | WD_REGION_CLOEXEC) || in.fd ||
		 in.pad || in.reserved[0] || in.reserved[1] || in.reserved[2] ||
		 in.reserved[3] || !fa_ok || !in.size || in.size & (PG - 1))
		must = EINVAL;
	else if (in.size > devmem)
		must = E2BIG;
	else if (cls == P_RO)
		must = EFAULT;
	for (i = 0; i < FZ_REGIONS; i++)
		if (w->reg[i].fd < 0)
			r = &w->reg[i];
	if (!r) {
		r = &w->reg[below(w, FZ_REGIONS)];
		region_free(w, r);
	}
	note(w, "REGION_CREATE size %#llx flags %#x fa %u cls %d", (unsigned long long)in.size,
	     in.flags, in.fault_around, cls);
	ret = ioctl(d->fd, WD_IOC_REGION_CREATE, p);
	check_ret(w, C_REGION_CREATE, ret, errno, must, "create");
	if (ret || cls != P_OK)
		return;
	memcpy(&in, p, sizeof(in));
	if ((int)in.fd < 0 || fcntl(in.fd, F_GETFD) < 0) {
		fail(w, "REGION_CREATE returned fd %d", (int)in.fd);
		return;
	}
	if (!!(fcntl(in.fd, F_GETFD) & FD_CLOEXEC) != !!(in.flags & WD_REGION_CLOEXEC))
		fail(w, "region fd close-on-exec %d, asked %d", !!(fcntl(in.fd, F_GETFD) & FD_CLOEXEC),
		     !!(in.flags & WD_REGION_CLOEXEC));
	r->fd = in.fd;
	r->size = in.size;
	r->clean = in.size <= 16 * PG && chance(w, 2);
	if (r->clean)
		region_clean_setup(w, r);
}

static void op_region_populate(struct fz_worker *w, struct fz_region *r, void *given, int gcls)
{
	struct wd_region_populate in = { 0 }, *p;
	int cls, must = 0, err;
	long ret;
	int i = below(w, FZ_MAPS);

	if (r->verified && chance(w, 2)) {
		in.addr = (uintptr_t)r->m[below(w, 2)] + PG * below(w, r->size / PG);
		in.len = PG * (1 + below(w, 4));
	} else if (w->maps[i].addr && chance(w, 2)) {
		in.addr = (uintptr_t)w->maps[i].addr + PG * below(w, w->maps[i].len / PG);
		in.len = PG * (1 + below(w, 64));
	} else {
		in.addr = chance(w, 3) ? bad_addr(w) : arena_addr(w) & ~(PG - 1);
		in.len = rnd_len(w, 1 << 20);
	}
	if (chance(w, 10))
		in.flags = 1;
	if (chance(w, 10))
		in.done = 1;
	if (chance(w, 10))
		in.reserved[0] = 1;
	p = given ? given : arg_ptr(w, &in, sizeof(in), &cls);
	if (given)
		cls = gcls;
	if (cls == P_BAD)
		must = EFAULT;
	else if (!given && (in.flags || in.done || in.reserved[0] || !in.len ||
			    (in.len | in.addr) & (PG - 1)))
		must = EINVAL;
	note(w, "POPULATE region fd %d addr %#llx len %#llx cls %d", r->fd,
	     (unsigned long long)in.addr, (unsigned long long)in.len, cls);
	ret = ioctl(r->fd, WD_REGION_IOC_POPULATE, p);
	err = errno;
	check_ret(w, C_REG_POPULATE, ret, err, must, "populate");
	if (!ret && cls == P_OK && !given) {
		struct wd_region_populate o;

		memcpy(&o, p, sizeof(o));
		/* Success means something was done, at most what was asked. */
		if (!o.done || o.done > in.len || o.done & (PG - 1))
			fail(w, "POPULATE of %#llx bytes succeeded with done %#llx",
			     (unsigned long long)in.len, (unsigned long long)o.done);
	}
	if (r->verified)
		clean_compare(w, r, "populate");
}

static void op_region_info(struct fz_worker *w, struct fz_region *r, void *given, int gcls)
{
	struct wd_region_info in, *p;
	int cls;
	long ret;

	memset(&in, 0x3c, sizeof(in));
	p = given ? given : arg_ptr(w, &in, sizeof(in), &cls);
	if (given)
		cls = gcls;
	note(w, "REGION INFO fd %d cls %d", r->fd, cls);
	ret = ioctl(r->fd, WD_REGION_IOC_INFO, p);
	check_ret(w, C_REG_INFO, ret, errno, cls == P_OK ? 0 : EFAULT, "info");
	if (ret || cls != P_OK)
		return;
	memcpy(&in, p, sizeof(in));
	if (in.size != r->size || in.resident > in.size || in.flags & ~WD_REGION_MAP_ADVANCE ||
	    !in.fault_around || in.fault_around > WD_REGION_FAULT_AROUND_MAX ||
	    in.fault_around & (in.fault_around - 1) ||
	    in.reserved[0] || in.reserved[1] || in.reserved[2] || in.reserved[3])
		fail(w, "WD_REGION_IOC_INFO: size %llu (made %llu) resident %llu flags %#x fault_around %u",
		     (unsigned long long)in.size, (unsigned long long)r->size,
		     (unsigned long long)in.resident, in.flags, in.fault_around);
	if (r->verified && in.resident != r->size)
		fail(w, "a reserved region has %llu of %llu bytes resident",
		     (unsigned long long)in.resident, (unsigned long long)r->size);
}

static void op_region_mmap(struct fz_worker *w, struct fz_region *r)
{
	static const int prots[] = { PROT_READ | PROT_WRITE, PROT_READ, PROT_WRITE, PROT_NONE,
				     PROT_READ | PROT_EXEC };
	uint64_t off = PG * below(w, r->size / PG), len = PG * (1 + below(w, 16));
	int prot = prots[below(w, 5)], flags = MAP_SHARED, must = 0, err, i;
	bool fixed = !r->clean && chance(w, 2);
	uint8_t *at = NULL, *p;

	if (chance(w, 8))
		off = chance(w, 2) ? r->size : rnd(w) & ~(PG - 1) & ((1ULL << 50) - 1);
	if (chance(w, 8))
		len = chance(w, 2) ? r->size - off + PG : rnd_len(w, 1 << 20);
	if (len > FZ_ARENA_PAGES * PG)
		fixed = false;
	if (chance(w, 6))
		flags = MAP_PRIVATE;
	if (chance(w, 6))
		flags |= MAP_POPULATE;
	if (fixed) {
		at = w->arena + PG * below(w, FZ_ARENA_PAGES - (len + PG - 1) / PG + 1);
		flags |= MAP_FIXED;
	}
	if ((flags & MAP_PRIVATE) && len && len < (1ULL << 30) && !(prot & PROT_EXEC) &&
	    off < (1ULL << 40))
		must = EINVAL;
	else if (len && len < (1ULL << 30) && !(prot & PROT_EXEC) && off >= r->size &&
		 off < (1ULL << 40))
		must = EINVAL;
	note(w, "mmap region fd %d off %#llx len %#llx prot %#x flags %#x at %p", r->fd,
	     (unsigned long long)off, (unsigned long long)len, prot, flags, (void *)at);
	pthread_mutex_lock(&fz_vm_lock);
	p = mmap(at, len, prot, flags, r->fd, off);
	err = errno;
	if (fixed && p == MAP_FAILED)
		/* A failed MAP_FIXED may have unmapped the range: fill it again. */
		arena_reserve(at, len);
	pthread_mutex_unlock(&fz_vm_lock);
	check_ret(w, C_REG_MMAP, p == MAP_FAILED ? -1 : 0, err, must, "map");
	if (p == MAP_FAILED || fixed)
		return;
	if (off + len > r->size)
		fail(w, "a region of %#llx bytes was mapped at %#llx + %#llx",
		     (unsigned long long)r->size, (unsigned long long)off, (unsigned long long)len);
	i = below(w, FZ_MAPS);
	if (w->maps[i].addr)
		munmap(w->maps[i].addr, w->maps[i].len);
	w->maps[i].addr = p;
	w->maps[i].len = len;
	/* Touch it; a SIGBUS is allowed (the pool may be empty). */
	if (prot & PROT_WRITE && !r->clean)
		guarded(A_FILL, p, NULL, 0x11, 1);
}

static void op_fallocate(struct fz_worker *w, struct fz_region *r)
{
	static const int modes[] = { 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, FALLOC_FL_COLLAPSE_RANGE,
		FALLOC_FL_INSERT_RANGE, FALLOC_FL_UNSHARE_RANGE };
	bool listed = !chance(w, 10);
	int mode = listed ? modes[below(w, 8)] : (int)(rnd(w) & 0x7f);
	int64_t off = PG * below(w, r->size / PG), len = PG * (1 + below(w, 16));
	int must = 0, err;
	long ret;

	if (chance(w, 8))
		off = chance(w, 2) ? -(int64_t)PG : (int64_t)(rnd(w) >> 2);
	if (chance(w, 8))
		len = chance(w, 3) ? 0 : chance(w, 2) ? (int64_t)(rnd(w) >> 2) : 1;
	if (chance(w, 10))
		off += 1;
	/* The VFS checks first: negative ranges, then the mode, then EFBIG. */
	if (off < 0 || len <= 0)
		must = EINVAL;
	else if (!listed || off + len < 0 || off + len > (1LL << 31) - 1)
		must = 0;
	else if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE) ||
		 (mode & FALLOC_FL_PUNCH_HOLE && !(mode & FALLOC_FL_KEEP_SIZE)))
		must = EOPNOTSUPP;
	else if ((off | len) & (PG - 1) || (uint64_t)off >= r->size ||
		 (uint64_t)len > r->size - off)
		must = EINVAL;
	note(w, "fallocate region fd %d mode %#x off %#llx len %#llx", r->fd, mode,
	     (unsigned long long)off, (unsigned long long)len);
	ret = fallocate(r->fd, mode, off, len);
	err = errno;
	check_ret(w, C_FALLOCATE, ret, err, must, "fallocate");
}

static void op_ftruncate(struct fz_worker *w, struct fz_region *r)
{
	static const int64_t lens[] = { 0, PG, -1, 1LL << 40 };
	int64_t len = chance(w, 2) ? (int64_t)r->size : lens[below(w, 4)];
	long ret;

	note(w, "ftruncate region fd %d to %lld", r->fd, (long long)len);
	ret = ftruncate(r->fd, len);
	check_ret(w, C_FTRUNCATE, ret, errno, len < 0 ? EINVAL : 0, "size");
	/* Issue 12 item 12: the size of a region does not change. */
	if (!ret && len != (int64_t)r->size && !fz_known[K_FTRUNCATE].avoid)
		fail(w, "ftruncate changed the size of a region fd (%llu to %lld)",
		     (unsigned long long)r->size, (long long)len);
}

/* Operations on a clean region whose contents are known. */
static void op_clean(struct fz_worker *w, struct fz_region *r)
{
	uint64_t pg = below(w, r->size / PG), n = 1 + below(w, r->size / PG - pg);
	int i = below(w, 2), sig, err;
	uint8_t buf[64];
	size_t k;

	switch (below(w, 6)) {
	case 0:		/* write through one mapping, read through the other */
		for (k = 0; k < sizeof(buf); k++)
			buf[k] = rnd(w);
		k = pg * PG + below(w, PG - sizeof(buf));
		note(w, "clean region fd %d: write %zu bytes at %#zx via mapping %d", r->fd,
		     sizeof(buf), k, i);
		sig = guarded(A_WRITE, r->m[i] + k, buf, 0, sizeof(buf));
		if (sig) {
			fail(w, "signal %d writing a reserved region page", sig);
			r->verified = false;
			return;
		}
		memcpy(r->shadow + k, buf, sizeof(buf));
		clean_compare(w, r, "write");
		return;
	case 1:		/* punch: zero for everyone */
		note(w, "clean region fd %d: punch pages %llu+%llu", r->fd,
		     (unsigned long long)pg, (unsigned long long)n);
		if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, pg * PG, n * PG)) {
			fail(w, "punching a region: %s", strerror(errno));
			r->verified = false;
			return;
		}
		memset(r->shadow + pg * PG, 0, n * PG);
		clean_reserve(w, r, pg * PG, n * PG);
		clean_compare(w, r, "punch");
		return;
	case 2:		/* MADV_REMOVE: a punch through a mapping */
		note(w, "clean region fd %d: MADV_REMOVE pages %llu+%llu via %d", r->fd,
		     (unsigned long long)pg, (unsigned long long)n, i);
		if (madvise(r->m[i] + pg * PG, n * PG, MADV_REMOVE)) {
			err = errno;
			fail(w, "MADV_REMOVE on a region: %s", strerror(err));
			r->verified = false;
			return;
		}
		memset(r->shadow + pg * PG, 0, n * PG);
		clean_reserve(w, r, pg * PG, n * PG);
		clean_compare(w, r, "MADV_REMOVE");
		return;
	case 3:		/* MADV_DONTNEED: this process's entries only, data stays */
		note(w, "clean region fd %d: MADV_DONTNEED via %d", r->fd, i);
		if (madvise(r->m[i] + pg * PG, n * PG, MADV_DONTNEED))
			fail(w, "MADV_DONTNEED on a region: %s", strerror(errno));
		clean_compare(w, r, "MADV_DONTNEED");
		return;
	case 4:
		op_region_populate(w, r, NULL, 0);
		return;
	default:
		op_region_info(w, r, NULL, 0);
		return;
	}
}

/* ------------------------------------------------------------------ */
/* The arena: mappings changing under the commands                     */
/* ------------------------------------------------------------------ */

static void op_arena(struct fz_worker *w)
{
	static const int advice[] = { MADV_DONTNEED, MADV_FREE, MADV_COLD, MADV_PAGEOUT,
		MADV_WILLNEED, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTFORK, MADV_DOFORK,
		MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_REMOVE, MADV_POPULATE_READ,
		MADV_POPULATE_WRITE, MADV_MERGEABLE, MADV_UNMERGEABLE, MADV_SEQUENTIAL };
	size_t pg = below(w, FZ_ARENA_PAGES), n = 1 + below(w, 32), len;
	uint8_t *p, *q;
	int kind = below(w, 10), fd;
	struct fz_region *r;

	if (pg + n > FZ_ARENA_PAGES)
		n = FZ_ARENA_PAGES - pg;
	p = w->arena + pg * PG;
	len = n * PG;
	/*
	 * A failed MAP_FIXED or MREMAP_FIXED may leave a hole: it is filled
	 * again before any other thread may map (fz_vm_lock), or a ring
	 * could land in the arena and take the engine's writes.
	 */
	pthread_mutex_lock(&fz_vm_lock);
	switch (kind) {
	case 0:
		note(w, "arena: anonymous private at page %zu+%zu", pg, n);
		if (mmap(p, len, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0) == MAP_FAILED)
			arena_reserve(p, len);
		break;
	case 1:
		note(w, "arena: anonymous shared at page %zu+%zu", pg, n);
		if (mmap(p, len, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_SHARED | MAP_ANONYMOUS,
			 -1, 0) == MAP_FAILED)
			arena_reserve(p, len);
		break;
	case 2:
		note(w, "arena: memfd at page %zu+%zu", pg, n);
		fd = syscall(SYS_memfd_create, "fuzz", 0);
		if (fd < 0)
			break;
		if (ftruncate(fd, len) ||
		    mmap(p, len, chance(w, 3) ? PROT_READ : PROT_READ | PROT_WRITE,
			 MAP_FIXED | MAP_SHARED, fd, 0) == MAP_FAILED)
			arena_reserve(p, len);
		close(fd);
		break;
	case 3:
		r = pick_region(w, 0);
		if (!r || len > r->size)
			break;
		note(w, "arena: region fd %d at page %zu+%zu", r->fd, pg, n);
		if (mmap(p, len, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_SHARED, r->fd,
			 PG * below(w, r->size / PG - n + 1)) == MAP_FAILED)
			arena_reserve(p, len);
		break;
	case 4:
		note(w, "arena: munmap page %zu+%zu", pg, n);
		munmap(p, len);
		arena_reserve(p, len);
		break;
	case 5:
		q = w->arena + PG * below(w, FZ_ARENA_PAGES - n + 1);
		note(w, "arena: mremap page %zu+%zu to %p", pg, n, (void *)q);
		if (mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, q) != MAP_FAILED) {
			/* Reserve what the move left empty. */
			if (q + len <= p || q >= p + len)
				arena_reserve(p, len);
			else if (q > p)
				arena_reserve(p, q - p);
			else
				arena_reserve(q + len, p - q);
		} else {
			/* The target may be unmapped already. */
			arena_reserve(q, len);
		}
		break;
	case 6:
		note(w, "arena: mprotect page %zu+%zu", pg, n);
		mprotect(p, len, below(w, 4));
		break;
	case 7: {
		int adv = advice[below(w, sizeof(advice) / sizeof(advice[0]))];

		note(w, "arena: madvise %d page %zu+%zu", adv, pg, n);
		madvise(p, len, adv);
		break;
	}
	default:
		note(w, "arena: write page %zu+%zu", pg, n);
		guarded(A_FILL, p, NULL, (int)rnd(w), len);
		break;
	}
	pthread_mutex_unlock(&fz_vm_lock);
}

/* ------------------------------------------------------------------ */
/* Random ioctl numbers                                                */
/* ------------------------------------------------------------------ */

static void op_dev_ioctl_rand(struct fz_worker *w, struct fz_dev *d)
{
	static const unsigned int sizes[] = { 0, sizeof(struct wd_info), sizeof(struct wd_queue_info),
		sizeof(struct wd_mmu_mode), sizeof(struct wd_share_req),
		sizeof(struct wd_region_create), sizeof(struct wd_migrate),
		sizeof(struct wd_region_populate), sizeof(struct wd_region_info), 8, 4 };
	unsigned int dir = below(w, 4), nr = chance(w, 2) ? below(w, 0x40) : below(w, 256);
	unsigned int size = chance(w, 3) ? below(w, 1 << 14) : sizes[below(w, 11)];
	unsigned long cmd = _IOC(dir, WD_IOC_MAGIC, nr, size);
	uint8_t junk[256];
	size_t k;
	int cls;
	void *p;
	long ret;

	for (k = 0; k < sizeof(junk); k++)
		junk[k] = chance(w, 2) ? 0 : rnd(w);
	p = arg_ptr(w, junk, sizeof(junk), &cls);
	if (chance(w, 4))
		p = (void *)(uintptr_t)rnd(w);
	note(w, "ioctl device fd %d cmd %#lx arg %p", d->fd, cmd, p);
	/*
	 * A number that is a real command gets a struct made for it (junk
	 * could make QUEUE_GET wait for a queue, or SHARE hit a known defect).
	 */
	if (cmd == WD_IOC_INFO)
		op_info(w, d);
	else if (cmd == WD_IOC_QUEUE_GET)
		op_get(w, d);
	else if (cmd == WD_IOC_QUEUE_PUT)
		op_put(w, d);
	else if (cmd == WD_IOC_KICK)
		op_kick(w, d);
	else if (cmd == WD_IOC_MMU_MODE)
		op_mmu_mode(w, d);
	else if (cmd == WD_IOC_SHARE)
		op_share(w, d);
	else if (cmd == WD_IOC_UNSHARE)
		op_unshare(w, d);
	else if (cmd == WD_IOC_REGION_CREATE)
		op_region_create(w, d, NULL, 0);
	else if (cmd == WD_IOC_MIGRATE)
		op_migrate(w, d);
	else {
		ret = ioctl(d->fd, cmd, p);
		check_ret(w, C_DEV_UNKNOWN, ret, errno, ENOTTY, "random number");
	}
}

static void op_region_ioctl_rand(struct fz_worker *w, struct fz_region *r)
{
	unsigned int dir = below(w, 4), nr = below(w, 0x40);
	unsigned int size = chance(w, 2) ? below(w, 256) :
			    chance(w, 2) ? sizeof(struct wd_region_populate) :
					   sizeof(struct wd_region_info);
	unsigned long cmd = _IOC(dir, WD_IOC_MAGIC, nr, size);
	uint8_t junk[128] = { 0 };
	int cls;
	void *p = arg_ptr(w, junk, sizeof(junk), &cls);
	long ret;

	if (chance(w, 3)) {
		/* The device's own commands mean nothing on a region. */
		static const unsigned long dev_cmds[] = { WD_IOC_INFO, WD_IOC_QUEUE_GET,
			WD_IOC_QUEUE_PUT, WD_IOC_KICK, WD_IOC_MMU_MODE, WD_IOC_SHARE,
			WD_IOC_UNSHARE, WD_IOC_REGION_CREATE, WD_IOC_MIGRATE };

		cmd = dev_cmds[below(w, 9)];
	}
	if (cmd == WD_REGION_IOC_POPULATE) {
		op_region_populate(w, r, p, cls);
		return;
	}
	if (cmd == WD_REGION_IOC_INFO) {
		op_region_info(w, r, p, cls);
		return;
	}
	note(w, "ioctl region fd %d cmd %#lx", r->fd, cmd);
	ret = ioctl(r->fd, cmd, p);
	check_ret(w, C_REG_UNKNOWN, ret, errno, ENOTTY, "random number");
}

/* Region commands on the device file are unknown there. */
static void op_dev_region_cmd(struct fz_worker *w, struct fz_dev *d)
{
	unsigned long cmd = chance(w, 2) ? WD_REGION_IOC_POPULATE : WD_REGION_IOC_INFO;

	note(w, "region ioctl %#lx on device fd %d", cmd, d->fd);
	long ret;

	ret = ioctl(d->fd, cmd, w->argp);
	check_ret(w, C_DEV_UNKNOWN, ret, errno, ENOTTY, "region command");
}

/* ------------------------------------------------------------------ */
/* fork                                                                */
/* ------------------------------------------------------------------ */

static void worker_loop(struct fz_worker *w);

static int wait_child(struct fz_worker *w, pid_t pid, const char *what)
{
	struct timespec t0, t1;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0) {
			fail(w, "waitpid for %s: %s", what, strerror(errno));
			return -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if ((t1.tv_sec - t0.tv_sec) * 1000 > FZ_WAIT_MS) {
			int i;

			engine_stacks();
			for (i = 0; i < 2; i++)
				if (q_usable(&w->dev[i].q) && !w->dev[i].q.tainted)
					q_stuck(w, &w->dev[i].q);
			fail(w, "%s did not finish within %d ms", what, FZ_WAIT_MS);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		usleep(10000);
	}
	if (WIFSIGNALED(status)) {
		fail(w, "%s was killed by signal %d", what, WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

static void child_checks(struct fz_worker *w)
{
	int i, sig;
	uint32_t v;

	for (i = 0; i < 2; i++) {
		struct fz_dev *d = &w->dev[i];
		struct wd_info info;

		/* The device file works only in the process that opened it. */
		long ret = ioctl(d->fd, WD_IOC_INFO, &info);

		check_ret(w, C_INFO, ret, errno, EPERM, "inherited fd");
		if (d->q.bound) {
			void *p = mmap(NULL, d->q.info.ctrl_size, PROT_READ | PROT_WRITE,
				       MAP_SHARED, d->fd, d->q.info.ctrl_offset);

			check_ret(w, C_DEV_MMAP, p == MAP_FAILED ? -1 : 0, errno, EPERM,
				  "inherited fd");
			if (p != MAP_FAILED)
				munmap(p, d->q.info.ctrl_size);
		}
		/* The rings are not inherited, whatever madvise said. */
		if (d->q.ctrl) {
			sig = guarded(A_READ, &v, d->q.ctrl, 0, sizeof(v));
			if (sig != SIGSEGV)
				fail(w, "a forked child reading the parent's control page got signal %d%s",
				     sig, d->q.dofork ? " (after MADV_DOFORK)" : "");
		}
		if (d->q.sq) {
			sig = guarded(A_READ, &v, d->q.sq, 0, sizeof(v));
			if (sig != SIGSEGV)
				fail(w, "a forked child reading the parent's submission ring got signal %d%s",
				     sig, d->q.dofork ? " (after MADV_DOFORK)" : "");
		}
		close(d->fd);
	}
	/* Regions are shared with the child: it sees the same data. */
	for (i = 0; i < FZ_REGIONS; i++) {
		struct fz_region *r = &w->reg[i];

		if (r->fd >= 0 && r->verified)
			clean_compare(w, r, "in a forked child");
		/* The parent keeps checking its clean regions: leave them be. */
		if (r->fd >= 0 && r->clean)
			region_free(w, r);
	}
}

static void op_fork(struct fz_worker *w)
{
	pid_t pid;
	int ret;

	if (w->child)
		return;
	note(w, "fork");
	__atomic_fetch_add(&shared->forks, 1, __ATOMIC_RELAXED);
	pid = fork();
	if (pid < 0) {
		fail(w, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		pthread_mutex_init(&fz_vm_lock, NULL);
		/*
		 * MADV_DONTFORK left holes in the child's copy of the arena:
		 * fill it again before a ring could be mapped into one.
		 */
		mmap(w->arena, FZ_ARENA_PAGES * PG, PROT_READ | PROT_WRITE,
		     MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		w->child = true;
		w->nhist = 0;
		child_checks(w);
		/* A short life of its own on fresh contexts. */
		dev_open(w, &w->dev[0]);
		dev_open(w, &w->dev[1]);
		w->op = 0;
		w->ops = 10 + below(w, 30);
		worker_loop(w);
		_exit(w->failed ? 1 : 0);
	}
	ret = wait_child(w, pid, "a forked child");
	(void)ret;
}

/* ------------------------------------------------------------------ */
/* Workers                                                             */
/* ------------------------------------------------------------------ */

static void final_checks(struct fz_worker *w)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct fz_dev *d = &w->dev[i];
		struct wd_cmd c = { .opcode = WD_OP_NOP };
		struct wd_cqe e;

		/* Whatever the rings went through, the queue works again. */
		if (q_usable(&d->q) && !d->q.tainted && !w->failed) {
			note(w, "final NOP on fd %d", d->fd);
			if (q_run(w, d, &c, &e) && e.status != WD_ST_OK)
				fail(w, "a NOP on a put-right queue completed with status %u", e.status);
		}
	}
}

static void worker_loop(struct fz_worker *w)
{
	for (; w->op < w->ops && !w->failed; w->op++) {
		struct fz_dev *d = &w->dev[chance(w, 4) ? 1 : 0];
		struct fz_region *r;
		unsigned int pick = below(w, 160);

		if (d->fd < 0)
			dev_open(w, d);
		if (pick < 14)
			op_submit(w, d);
		else if (pick < 18)
			q_reap(w, &d->q);
		else if (pick < 24)
			op_hostile(w, d);
		else if (pick < 32)
			op_sync(w, d);
		else if (pick < 38)
			op_get(w, d);
		else if (pick < 41)
			op_put(w, d);
		else if (pick < 43)
			op_kick(w, d);
		else if (pick < 46)
			op_ring_vm(w, d);
		else if (pick < 49)
			op_dev_mmap(w, d);
		else if (pick < 51)
			op_info(w, d);
		else if (pick < 54)
			op_mmu_mode(w, d);
		else if (pick < 58)
			op_share(w, d);
		else if (pick < 61)
			op_unshare(w, d);
		else if (pick < 64)
			op_migrate(w, d);
		else if (pick < 70)
			op_dev_ioctl_rand(w, d);
		else if (pick < 71)
			op_dev_region_cmd(w, d);
		else if (pick < 76)
			op_region_create(w, d, NULL, 0);
		else if (pick < 106) {
			r = pick_region(w, pick < 94 ? 0 : 1);
			if (!r)
				continue;
			if (pick < 79)
				op_region_populate(w, r, NULL, 0);
			else if (pick < 81)
				op_region_info(w, r, NULL, 0);
			else if (pick < 85)
				op_region_mmap(w, r);
			else if (pick < 88)
				op_fallocate(w, r);
			else if (pick < 89)
				op_ftruncate(w, r);
			else if (pick < 92)
				op_region_ioctl_rand(w, r);
			else if (pick < 94)
				region_free(w, r);
			else
				op_clean(w, r);
		} else if (pick < 108) {
			int i = below(w, FZ_MAPS);

			if (w->maps[i].addr) {
				note(w, "munmap region mapping %p", (void *)w->maps[i].addr);
				munmap(w->maps[i].addr, w->maps[i].len);
				w->maps[i].addr = NULL;
			}
		} else if (pick < 150) {
			op_arena(w);
		} else if (pick < 152) {
			op_fork(w);
		} else if (pick < 153) {
			dev_close(w, d);
		} else {
			q_reap(w, &d->q);
			op_submit(w, d);
		}
	}
	if (!w->failed)
		final_checks(w);
	__atomic_fetch_add(&shared->ops_done, (int)w->op, __ATOMIC_RELAXED);
}

static void *xmap(size_t len, int prot)
{
	void *p = fz_mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		out("# fuzz: mmap of %zu bytes failed: %s\n", len, strerror(errno));
		abort();
	}
	return p;
}

static struct fz_worker *worker_new(int id, uint64_t seed, long ops)
{
	struct fz_worker *w = xmap(sizeof(*w), PROT_READ | PROT_WRITE);
	uLongf zlen = compressBound(FZ_CONST_LEN);
	uint8_t *base;
	size_t i;

	w->id = id;
	w->seed = seed;
	w->rng = seed;
	w->ops = ops;
	base = xmap((FZ_ARENA_PAGES + 2 * FZ_GUARD_PAGES) * PG, PROT_NONE);
	w->guard = base;
	w->arena = base + FZ_GUARD_PAGES * PG;
	mmap(w->arena, FZ_ARENA_PAGES * PG, PROT_READ | PROT_WRITE,
	     MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->cbuf = xmap(FZ_CONST_LEN + zlen, PROT_READ | PROT_WRITE);
	/* Known data that compresses: words from a small alphabet. */
	for (i = 0; i < FZ_CONST_LEN; i++)
		w->cbuf[i] = "warpdrive fuzz \n"[rnd(w) % 16];
	if (compress2(w->cbuf + FZ_CONST_LEN, &zlen, w->cbuf, FZ_CONST_LEN, 6) != Z_OK)
		abort();
	w->zlen = zlen;
	mprotect(w->cbuf, FZ_CONST_LEN + compressBound(FZ_CONST_LEN), PROT_READ);
	w->vbuf = xmap(FZ_VERIFY_LEN + PG, PROT_READ | PROT_WRITE);
	w->argp = xmap(2 * PG, PROT_READ | PROT_WRITE);
	mprotect(w->argp + PG, PG, PROT_NONE);
	w->rop = xmap(PG, PROT_READ);
	for (i = 0; i < FZ_REGIONS; i++)
		w->reg[i].fd = -1;
	fz_cur = w;
	dev_open(w, &w->dev[0]);
	dev_open(w, &w->dev[1]);
	op_info(w, &w->dev[0]);
	return w;
}

static void worker_end(struct fz_worker *w)
{
	int i;

	for (i = 0; i < 2; i++) {
		q_unmap_all(&w->dev[i].q);
		close(w->dev[i].fd);
	}
	for (i = 0; i < FZ_REGIONS; i++)
		region_free(w, &w->reg[i]);
	for (i = 0; i < FZ_MAPS; i++)
		if (w->maps[i].addr)
			munmap(w->maps[i].addr, w->maps[i].len);
	/* The arena stays reserved: a late engine write must land nowhere else. */
}

static void *worker_thread(void *arg)
{
	struct fz_worker *w = arg;

	fz_cur = w;
	worker_loop(w);
	worker_end(w);
	return NULL;
}

/* Run @procs processes of @threads workers for @ops operations in all. */
static int run_fuzz(int procs, int threads, long ops, int test)
{
	struct timespec t0, t1;
	long per = ops / (procs * threads) + 1;
	long limit_ms = 2L * FZ_WAIT_MS + per * 60;	/* 8 times what they take here */
	pid_t pids[64];
	int p, left, status;

	if (procs > 64)
		procs = 64;
	shared->failures = 0;
	shared->ops_done = 0;
	shared->cqes = shared->syncs = shared->clean_checks = shared->forks = shared->calls = 0;
	shared->first[0] = 0;
	out("# fuzz: seed=%#" PRIx64 " test=%d processes=%d threads=%d ops=%ld (replay: WD_FUZZ_SEED=%#"
	    PRIx64 " or make fuzz FUZZ_SEED=%#" PRIx64 ")\n", cfg.seed, test, procs, threads,
	    ops, cfg.seed, cfg.seed);
	for (p = 0; p < K_NR; p++)
		if (fz_known[p].avoid)
			out("# fuzz: avoiding known defect (issue 12 item %d): %s\n",
			    fz_known[p].item, fz_known[p].what);
	fflush(stdout);
	for (p = 0; p < procs; p++) {
		pids[p] = fork();
		if (pids[p] < 0)
			return -1;
		if (pids[p] == 0) {
			pthread_t tids[16];
			struct fz_worker *ws[16];
			int t, n = threads > 16 ? 16 : threads;

			fz_signals();
			/* All set up before any starts: no allocation races the fuzzing. */
			for (t = 0; t < n; t++) {
				uint64_t s = cfg.seed ^ ((uint64_t)test << 48) ^ ((uint64_t)(p * 16 + t) << 32);

				ws[t] = worker_new(p * 16 + t, splitmix(&s), per);
			}
			for (t = 0; t < n; t++)
				if (pthread_create(&tids[t], NULL, worker_thread, ws[t]))
					_exit(2);
			for (t = 0; t < n; t++)
				pthread_join(tids[t], NULL);
			_exit(0);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	left = procs;
	while (left) {
		pid_t r = waitpid(-1, &status, WNOHANG);

		if (r > 0) {
			left--;
			if (WIFSIGNALED(status) || WEXITSTATUS(status)) {
				out("# fuzz: a worker process ended with %s %d\n",
				    WIFSIGNALED(status) ? "signal" : "status",
				    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
				if (!shared->failures)
					shared->failures = 1;
			}
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if ((t1.tv_sec - t0.tv_sec) * 1000 > limit_ms) {
			out("# FUZZ FAILURE seed=%#" PRIx64 ": workers still running after %ld s; killed\n",
			    cfg.seed, limit_ms / 1000);
			shared->failures++;
			for (p = 0; p < procs; p++)
				kill(pids[p], SIGKILL);
			while (waitpid(-1, &status, 0) > 0)
				;
			break;
		}
		usleep(20000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out("# fuzz: %d operations in %ld s (%d calls checked, %d completions checked, %d known commands, %d region comparisons, %d forks), %d failure(s)%s%s\n",
	    shared->ops_done, (long)(t1.tv_sec - t0.tv_sec), shared->calls, shared->cqes,
	    shared->syncs, shared->clean_checks, shared->forks, shared->failures,
	    shared->first[0] ? "; first: " : "", shared->first);
	return shared->failures;
}

FIXTURE(fz) {
	int unused;
};

FIXTURE_SETUP(fz)
{
	fz_config();
	if (access(WD_TEST_NODE, F_OK))
		SKIP(return, WD_TEST_NODE " is missing");
}

FIXTURE_TEARDOWN(fz)
{
}

/* One worker: the sequence of operations is fully set by the seed. */
TEST_F_TIMEOUT(fz, one_worker, 86400)
{
	EXPECT_EQ(0, run_fuzz(1, 1, cfg.ops / 3, 1)) TH_LOG("seed %#" PRIx64, cfg.seed);
}

/* Several processes of several threads, each on its own contexts. */
TEST_F_TIMEOUT(fz, concurrent, 86400)
{
	EXPECT_EQ(0, run_fuzz(cfg.procs, cfg.threads, cfg.ops - cfg.ops / 3, 2))
		TH_LOG("seed %#" PRIx64, cfg.seed);
}

TEST_HARNESS_MAIN
