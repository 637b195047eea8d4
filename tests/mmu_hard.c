// SPDX-License-Identifier: GPL-2.0
/*
 * Device MMU hardening (issue 12): share lengths that must be refused
 * before anything is allocated, a storm of unrelated invalidations while
 * the device faults, what may be pinned (file-backed shared mappings,
 * memfd_secret, the shared zero page), mode switches racing shares, and
 * EOPNOTSUPP for sharing in SVA mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "libwd.h"
#include "wd_test.h"

#define PG	4096UL
#define NR_MEMFD_SECRET	447	/* x86_64 */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Lengths whose page array alone would be 2 GiB (1 TiB: the kvcalloc size
 * passes INT_MAX and kvmalloc_node WARNs; just under INT_MAX: 2 GiB of
 * zeroed vmalloc per call) are refused before any allocation: over
 * RLIMIT_MEMLOCK without CAP_IPC_LOCK, and by the pinning itself (the
 * range is not mapped) with it. Any kernel report fails the step.
 */
TEST(share_huge_length_refused)
{
	/* A page-aligned address that nothing maps, with room for 1 TiB. */
	char *hole = (char *)0x200000000000UL;
	const uint64_t lens[] = { 1ULL << 40, (uint64_t)(0x7fffffffUL / 8) * PG };
	int fd, i, status;
	long pin0 = wd_test_vm_pin_kb();
	pid_t pid;

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(WD_MMU_PINNED, wd_test_set_mode(fd, WD_MMU_PINNED));
	for (i = 0; i < 2; i++) {
		double t0 = now();

		EXPECT_EQ(-EFAULT, wd_test_share(fd, hole, lens[i], WD_SHARE_READ));
		TH_LOG("capable, %llu bytes: %.3f s", (unsigned long long)lens[i], now() - t0);
		EXPECT_GT(2.0, now() - t0);
		EXPECT_EQ(pin0, wd_test_vm_pin_kb());
	}
	close(fd);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct rlimit rl = { 64 * PG, 64 * PG };

		if (wd_test_drop_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(10);
		fd = open(WD_TEST_NODE, O_RDWR);
		if (fd < 0 || wd_test_set_mode(fd, WD_MMU_PINNED) != WD_MMU_PINNED)
			_exit(11);
		for (i = 0; i < 2; i++) {
			double t0 = now();

			if (wd_test_share(fd, hole, lens[i], WD_SHARE_READ) != -ENOMEM)
				_exit(12 + i);
			if (now() - t0 > 2.0)
				_exit(14 + i);
		}
		_exit(wd_test_vm_pin_kb() == pin0 ? 0 : 16);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* A share larger than one chunk of the page array, read and written. */
TEST(share_spans_chunks)
{
	size_t len = 1100 * PG;
	char *a = wd_test_anon(len), *b = wd_test_anon(len);
	long pin0 = wd_test_vm_pin_kb();
	uint32_t crc;
	size_t i;
	struct tq t;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	for (i = 0; i < len; i++)
		a[i] = (char)(i * 7 + (i >> 12));
	ASSERT_EQ(0, tq_open_mode(&t, WD_MMU_PINNED));
	ASSERT_EQ(0, wd_test_share(t.fd, a, len, WD_SHARE_READ));
	ASSERT_EQ(0, wd_test_share(t.fd, b, len, WD_SHARE_WRITE));
	EXPECT_EQ(pin0 + 2 * (long)len / 1024, wd_test_vm_pin_kb());
	EXPECT_EQ(WD_ST_OK, tq_copy(&t, b, a, len));
	EXPECT_EQ(0, memcmp(a, b, len));
	ASSERT_EQ(WD_ST_OK, tq_crc(&t, a + 511 * PG + 100, 3 * PG, &crc));
	EXPECT_EQ(wd_test_crc32c(0, a + 511 * PG + 100, 3 * PG), crc);
	EXPECT_EQ(0, wd_test_unshare(t.fd, a, len));
	EXPECT_EQ(0, wd_test_unshare(t.fd, b, len));
	EXPECT_EQ(pin0, wd_test_vm_pin_kb());
	tq_close(&t);
	munmap(a, len);
	munmap(b, len);
}

/* fault_retries of this process's context in debugfs, or -1. */
static long long ctx_fault_retries(void)
{
	char line[256];
	long long v[5], retries = -1;
	int pid, queue;
	char mode[16];
	FILE *f = fopen("/sys/kernel/debug/warpdrive/" WD_TEST_DEV "/contexts", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%d %15s %d %lld %lld %lld %lld %lld", &pid, mode,
			   &queue, &v[0], &v[1], &v[2], &v[3], &v[4]) == 8 &&
		    pid == getpid() && queue >= 0)
			retries = v[4];
	if (f)
		fclose(f);
	return retries;
}

static const char fault_around_param[] = "/sys/module/warpdrive/parameters/fault_around";

static void set_fault_around(const char *val)
{
	FILE *f = fopen(fault_around_param, "w");

	if (f) {
		fprintf(f, "%s\n", val);
		fclose(f);
	}
}

struct storm {
	char *page;
	size_t len;
	volatile int stop;
	unsigned long rounds;
};

static void *storm_loop(void *arg)
{
	struct storm *s = arg;

	/* Every call invalidates, populated or not. */
	while (!s->stop) {
		madvise(s->page, s->len, MADV_DONTNEED);
		__atomic_add_fetch(&s->rounds, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *stop_storm_later(void *arg)
{
	struct storm *s = arg;
	int i;

	for (i = 0; i < 200 && !s->stop; i++)
		usleep(100000);
	s->stop = 1;
	return NULL;
}

/* More storm threads than CPUs: the engine gets little CPU, the storm a lot. */
#define STORM_THREADS	6

/*
 * Sibling threads drop an unrelated page in a tight loop. Device faults
 * elsewhere must not retry because of it: commands on fresh memory
 * complete, and QUEUE_PUT with a long command in flight returns at once.
 * Device faults of 64 pages make each fault long enough for the storm to
 * hit it. (Bounded: a watchdog stops the storm after 20 s.)
 */
TEST(unrelated_invalidation_storm)
{
	size_t len = 64 * PG, big = 16 << 20;
	char *src = wd_test_anon(big), *dst = wd_test_anon(big);
	struct storm s = { .page = wd_test_anon(PG), .len = PG };
	pthread_t th[STORM_THREADS], dog;
	struct wd_cqe cqe;
	struct tq t;
	double t0, put_time;
	int i, ok = 0, timeout = 0;
	char old_fa[16] = "16";
	long long retries;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	ASSERT_NE(NULL, s.page);
	wd_test_read_file(fault_around_param, old_fa, sizeof(old_fa));
	set_fault_around("64");
	ASSERT_EQ(0, tq_open(&t, 8, 0));
	for (i = 0; i < STORM_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, storm_loop, &s));
	ASSERT_EQ(0, pthread_create(&dog, NULL, stop_storm_later, &s));
	while (s.rounds < 100)
		usleep(1000);

	retries = ctx_fault_retries();
	for (i = 0; i < 4; i++) {
		struct wd_cmd c = {
			.opcode = WD_OP_COPY, .tag = i,
			.src = (uintptr_t)src, .src_len = len,
			.dst = (uintptr_t)dst, .dst_len = len,
		};

		/* Fresh pages each time: the device faults every one. */
		madvise(src, len, MADV_DONTNEED);
		madvise(dst, len, MADV_DONTNEED);
		memset(src, 'a' + i, len);
		ASSERT_EQ(0, tq_submit(&t, &c));
		if (tq_reap(&t, &cqe, 3000)) {
			timeout++;
			break;
		}
		if (cqe.status == WD_ST_OK && !memcmp(src, dst, len))
			ok++;
	}
	retries = ctx_fault_retries() - retries;
	TH_LOG("storm rounds so far %lu, commands ok %d, timed out %d, fault retries %lld",
	       s.rounds, ok, timeout, retries);
	EXPECT_EQ(0, timeout);
	EXPECT_EQ(4, ok);
	/* Nothing else touches src and dst meanwhile: no fault starts again. */
	EXPECT_EQ(0, retries);

	/* A long command on never-touched memory, then stop the queue under it. */
	if (!timeout) {
		struct wd_cmd c = {
			.opcode = WD_OP_COPY, .tag = 9,
			.src = (uintptr_t)src, .src_len = big,
			.dst = (uintptr_t)dst, .dst_len = big,
		};

		madvise(src, big, MADV_DONTNEED);
		madvise(dst, big, MADV_DONTNEED);
		ASSERT_EQ(0, tq_submit(&t, &c));
		usleep(50000);
	}
	t0 = now();
	EXPECT_EQ(0, ioctl(t.fd, WD_IOC_QUEUE_PUT));
	put_time = now() - t0;
	TH_LOG("QUEUE_PUT took %.3f s with the storm %s", put_time,
	       s.stop ? "stopped by the watchdog" : "running");
	EXPECT_EQ(0, s.stop);
	EXPECT_GT(3.0, put_time);
	s.stop = 1;
	for (i = 0; i < STORM_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_join(dog, NULL);
	set_fault_around(old_fa);
	tq_close(&t);
	munmap(src, big);
	munmap(dst, big);
	munmap(s.page, PG);
}

/*
 * Sibling threads drop the command's own destination in a tight loop, so
 * device faults there keep being invalidated: the engine must give up
 * (WD_ST_FAULT) or get through in bounded time, never retry for as long
 * as the storm lasts, and QUEUE_PUT must return at once under the storm.
 */
TEST(overlapping_invalidation_storm_bounded)
{
	size_t len = 64 * PG;
	char *src = wd_test_anon(len), *dst = wd_test_anon(len);
	struct storm s = { .page = dst, .len = len };
	pthread_t th, th2, dog;
	char old_fa[16] = "16";
	struct wd_cqe cqe;
	struct tq t;
	double t0, put_time;
	int i, done = 0, other = 0;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	memset(src, 'x', len);
	wd_test_read_file(fault_around_param, old_fa, sizeof(old_fa));
	set_fault_around("64");
	ASSERT_EQ(0, tq_open(&t, 8, 0));
	ASSERT_EQ(0, pthread_create(&th, NULL, storm_loop, &s));
	ASSERT_EQ(0, pthread_create(&th2, NULL, storm_loop, &s));
	ASSERT_EQ(0, pthread_create(&dog, NULL, stop_storm_later, &s));
	while (s.rounds < 100)
		usleep(1000);

	for (i = 0; i < 3; i++) {
		struct wd_cmd c = {
			.opcode = WD_OP_COPY, .tag = i,
			.src = (uintptr_t)src, .src_len = len,
			.dst = (uintptr_t)dst, .dst_len = len,
		};

		t0 = now();
		ASSERT_EQ(0, tq_submit(&t, &c));
		if (tq_reap(&t, &cqe, 4000))
			break;
		TH_LOG("command %d: status %u in %.3f s", i, cqe.status, now() - t0);
		done++;
		if (cqe.status != WD_ST_OK && cqe.status != WD_ST_FAULT)
			other++;
	}
	TH_LOG("storm rounds %lu, commands done %d", s.rounds, done);
	EXPECT_EQ(3, done);
	EXPECT_EQ(0, other);
	if (done == 3) {
		struct wd_cmd c = {
			.opcode = WD_OP_COPY, .tag = 9,
			.src = (uintptr_t)src, .src_len = len,
			.dst = (uintptr_t)dst, .dst_len = len,
		};

		ASSERT_EQ(0, tq_submit(&t, &c));
		usleep(20000);
	}
	t0 = now();
	EXPECT_EQ(0, ioctl(t.fd, WD_IOC_QUEUE_PUT));
	put_time = now() - t0;
	TH_LOG("QUEUE_PUT took %.3f s with the storm %s", put_time,
	       s.stop ? "stopped by the watchdog" : "running");
	EXPECT_EQ(0, s.stop);
	EXPECT_GT(3.0, put_time);
	s.stop = 1;
	pthread_join(th, NULL);
	pthread_join(th2, NULL);
	pthread_join(dog, NULL);
	set_fault_around(old_fa);
	tq_close(&t);
	munmap(src, len);
	munmap(dst, len);
}

/*
 * Writable shares of file-backed shared mappings (page cache behind the
 * file system's back) are refused with EOPNOTSUPP; ramfs files are not
 * shmem. Shared anonymous, shmem (memfd) and private file mappings
 * (copy-on-write to anonymous pages) can be shared for writing, and a
 * read-only share of the file is allowed.
 */
TEST(share_file_backed_writable_refused)
{
	const char *dir = "/tmp/wd_ramfs";
	size_t len = 4 * PG;
	char path[64], *shf, *prf, *sha, *mem;
	int fd, ffd, mfd;

	mkdir(dir, 0700);
	ASSERT_EQ(0, mount("wd_ramfs", dir, "ramfs", 0, NULL));
	snprintf(path, sizeof(path), "%s/f", dir);
	ffd = open(path, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, ffd);
	ASSERT_EQ(0, ftruncate(ffd, len));
	shf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, ffd, 0);
	prf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, ffd, 0);
	sha = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	mfd = memfd_create("wd", 0);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, len));
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, shf);
	ASSERT_NE(MAP_FAILED, prf);
	ASSERT_NE(MAP_FAILED, sha);
	ASSERT_NE(MAP_FAILED, mem);
	memset(shf, 1, len);

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(WD_MMU_PINNED, wd_test_set_mode(fd, WD_MMU_PINNED));
	EXPECT_EQ(-EOPNOTSUPP, wd_test_share(fd, shf, len, WD_SHARE_WRITE));
	EXPECT_EQ(-EOPNOTSUPP, wd_test_share(fd, shf, len, WD_SHARE_READ | WD_SHARE_WRITE));
	EXPECT_EQ(0, wd_test_share(fd, shf, len, WD_SHARE_READ));
	EXPECT_EQ(0, wd_test_unshare(fd, shf, len));
	EXPECT_EQ(0, wd_test_share(fd, prf, len, WD_SHARE_WRITE));
	EXPECT_EQ(0, wd_test_unshare(fd, prf, len));
	EXPECT_EQ(0, wd_test_share(fd, sha, len, WD_SHARE_WRITE));
	EXPECT_EQ(0, wd_test_unshare(fd, sha, len));
	EXPECT_EQ(0, wd_test_share(fd, mem, len, WD_SHARE_WRITE));
	EXPECT_EQ(0, wd_test_unshare(fd, mem, len));
	close(fd);

	munmap(shf, len);
	munmap(prf, len);
	munmap(sha, len);
	munmap(mem, len);
	close(ffd);
	close(mfd);
	unlink(path);
	EXPECT_EQ(0, umount(dir));
	rmdir(dir);
}

struct mode_racer {
	int fd;
	volatile int stop;
	unsigned long switches;
};

static void *mode_loop(void *arg)
{
	struct mode_racer *r = arg;

	while (!r->stop) {
		if (wd_test_set_mode(r->fd, WD_MMU_SVA) == WD_MMU_SVA)
			r->switches++;
		usleep(300);
		wd_test_set_mode(r->fd, WD_MMU_PINNED);
		usleep(300);
	}
	return NULL;
}

/*
 * Mode switches race shares on one context: a share either fails or can
 * be unshared, and nothing stays pinned (before the fix, a share that
 * passed the mode check before a switch to SVA stayed pinned, could not
 * be unshared, and kept the mode from changing back).
 */
FIXTURE(slow) {
};

FIXTURE_SETUP(slow)
{
}

FIXTURE_TEARDOWN(slow)
{
}

TEST_F_TIMEOUT(slow, mode_switch_races_share, 120)
{
	size_t len = 256 * PG;
	char *a = wd_test_anon(len);
	struct mode_racer r = { 0 };
	unsigned long shared = 0, refused = 0, stuck = 0;
	long pin0 = wd_test_vm_pin_kb();
	pthread_t th;
	double t0;
	int i, ret;

	ASSERT_NE(NULL, a);
	r.fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, r.fd);
	ASSERT_EQ(0, pthread_create(&th, NULL, mode_loop, &r));
	t0 = now();
	for (i = 0; i < 300 && !stuck && now() - t0 < 45; i++) {
		/* Pinning then faults every page in: a wide window. */
		madvise(a, len, MADV_DONTNEED);
		ret = wd_test_share(r.fd, a, len, WD_SHARE_READ | WD_SHARE_WRITE);
		if (ret) {
			refused++;
			continue;
		}
		shared++;
		if (wd_test_unshare(r.fd, a, len))
			stuck++;
	}
	r.stop = 1;
	pthread_join(th, NULL);
	TH_LOG("%lu shared, %lu refused, %lu stuck, %lu switches to SVA in %.1f s",
	       shared, refused, stuck, r.switches, now() - t0);
	EXPECT_EQ(0, stuck);
	EXPECT_EQ(WD_MMU_PINNED, wd_test_set_mode(r.fd, WD_MMU_PINNED));
	if (stuck)
		wd_test_unshare(r.fd, a, len);
	EXPECT_EQ(pin0, wd_test_vm_pin_kb());
	EXPECT_EQ(WD_MMU_SVA, wd_test_set_mode(r.fd, WD_MMU_SVA));
	close(r.fd);
	munmap(a, len);
}

/*
 * A read-only share of never-touched private memory must pin the pages
 * the process writes afterwards, not the shared zero page.
 */
TEST(readonly_share_sees_later_writes)
{
	size_t len = 8 * PG;
	char *a = wd_test_anon(len), *ro;
	uint32_t crc;
	struct tq t;

	ASSERT_NE(NULL, a);
	ASSERT_EQ(0, tq_open_mode(&t, WD_MMU_PINNED));
	ASSERT_EQ(0, wd_test_share(t.fd, a, len, WD_SHARE_READ));
	memset(a, 0x5a, len);
	ASSERT_EQ(WD_ST_OK, tq_crc(&t, a, len, &crc));
	EXPECT_EQ(wd_test_crc32c(0, a, len), crc);
	EXPECT_EQ(0, wd_test_unshare(t.fd, a, len));

	/* Never touched and read-only: zeros, and still zeros later. */
	ro = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, wd_test_share(t.fd, ro, len, WD_SHARE_READ));
	ASSERT_EQ(WD_ST_OK, tq_crc(&t, ro, len, &crc));
	EXPECT_EQ(wd_test_crc32c(0, ro, len), crc);
	EXPECT_EQ(0, wd_test_unshare(t.fd, ro, len));
	tq_close(&t);
	munmap(a, len);
	munmap(ro, len);
}

/* Sharing is a pinned-mode operation: EOPNOTSUPP in SVA mode. */
TEST(share_in_sva_mode_unsupported)
{
	size_t len = 4 * PG;
	char *a = wd_test_anon(len);
	int fd = open(WD_TEST_NODE, O_RDWR);

	ASSERT_LE(0, fd);
	ASSERT_EQ(WD_MMU_SVA, wd_test_set_mode(fd, WD_MMU_SVA));
	EXPECT_EQ(-EOPNOTSUPP, wd_test_share(fd, a, len, WD_SHARE_READ));
	EXPECT_EQ(-EOPNOTSUPP, wd_test_unshare(fd, a, len));
	close(fd);
	munmap(a, len);
}

/*
 * memfd_secret pages are not in the direct map (last: on a kernel without
 * the fix this oopses the engine): device accesses to them
 * complete with WD_ST_FAULT (no oops), and they cannot be shared.
 */
/*
 * Memory registered with userfaultfd: a device fault or a long-term pin
 * cannot wait for its handler, so the device refuses it (FAULT, EFAULT),
 * also where its pages are present, and the kernel prints nothing (a
 * fault without FAULT_FLAG_ALLOW_RETRY there dumps a stack on this kernel).
 */
TEST(userfaultfd_range_refused)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_copy cp = { 0 };
	size_t len = 4 * PG;
	char *u, *buf = wd_test_anon(len), *page = wd_test_anon(PG);
	long pin0 = wd_test_vm_pin_kb();
	uint32_t crc;
	struct tq t;
	int ufd, fd;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, page);
	ufd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (ufd < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(ufd, UFFDIO_API, &api));
	u = wd_test_anon(len);
	ASSERT_NE(NULL, u);
	reg.range.start = (uintptr_t)u;
	reg.range.len = len;
	ASSERT_EQ(0, ioctl(ufd, UFFDIO_REGISTER, &reg));
	/* The first page is present (the handler's job, done here). */
	memset(page, 'u', PG);
	cp.dst = (uintptr_t)u;
	cp.src = (uintptr_t)page;
	cp.len = PG;
	ASSERT_EQ(0, ioctl(ufd, UFFDIO_COPY, &cp));
	memset(buf, 'b', len);

	ASSERT_EQ(0, tq_open(&t, 8, 0));
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&t, buf, u, len));	/* missing pages */
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&t, buf, u, PG));	/* present page */
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&t, u + PG, buf, PG));
	EXPECT_EQ(WD_ST_FAULT, tq_crc(&t, u, PG, &crc));
	EXPECT_EQ('b', buf[0]);
	EXPECT_EQ('u', u[0]);
	/* Ordinary memory still works on the same queue. */
	EXPECT_EQ(WD_ST_OK, tq_copy(&t, buf + PG, buf, PG));
	tq_close(&t);

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(WD_MMU_PINNED, wd_test_set_mode(fd, WD_MMU_PINNED));
	EXPECT_EQ(-EFAULT, wd_test_share(fd, u, len, WD_SHARE_READ));
	EXPECT_EQ(-EFAULT, wd_test_share(fd, u, PG, WD_SHARE_WRITE));
	EXPECT_EQ(pin0, wd_test_vm_pin_kb());
	close(fd);
	close(ufd);
	munmap(u, len);
	munmap(page, PG);
	munmap(buf, len);
}

TEST_F(slow, secretmem_refused)
{
	size_t len = 4 * PG;
	char *sec, *buf = wd_test_anon(len);
	long pin0 = wd_test_vm_pin_kb();
	uint32_t crc;
	int sfd, fd;
	struct tq t;

	sfd = syscall(NR_MEMFD_SECRET, 0);
	if (sfd < 0)
		SKIP(return, "memfd_secret: %s (boot with secretmem.enable=1)", strerror(errno));
	ASSERT_EQ(0, ftruncate(sfd, len));
	sec = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	ASSERT_NE(MAP_FAILED, sec);
	memset(sec, 's', len);
	memset(buf, 'b', len);

	ASSERT_EQ(0, tq_open(&t, 8, 0));
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&t, buf, sec, len));
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&t, sec, buf, len));
	EXPECT_EQ(WD_ST_FAULT, tq_crc(&t, sec, len, &crc));
	EXPECT_EQ('s', sec[0]);
	EXPECT_EQ('b', buf[0]);
	/* Ordinary memory still works on the same queue. */
	EXPECT_EQ(WD_ST_OK, tq_crc(&t, buf, len, &crc));
	tq_close(&t);

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(WD_MMU_PINNED, wd_test_set_mode(fd, WD_MMU_PINNED));
	EXPECT_EQ(-EFAULT, wd_test_share(fd, sec, len, WD_SHARE_READ));
	EXPECT_EQ(-EFAULT, wd_test_share(fd, sec, len, WD_SHARE_WRITE));
	EXPECT_EQ(pin0, wd_test_vm_pin_kb());
	close(fd);
	munmap(sec, len);
	close(sfd);
	munmap(buf, len);
}

TEST_HARNESS_MAIN
