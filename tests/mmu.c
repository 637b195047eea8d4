// SPDX-License-Identifier: GPL-2.0
/*
 * The device MMU: shared virtual addressing (a mirrored page table kept
 * coherent by MMU notifiers) and pinned sharing, with every invalidation
 * source racing running commands, fork/COW in both modes, RLIMIT_MEMLOCK
 * accounting and bad arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "libwd.h"
#include "wd_test.h"

#define PG	4096UL

static unsigned long long stat_of(const char *name)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "/sys/class/warpdrive/" WD_TEST_DEV "/stats/%s", name);
	if (wd_test_read_file(path, buf, sizeof(buf)))
		return ~0ULL;
	return strtoull(buf, NULL, 0);
}

TEST(mode_switching)
{
	struct wd_mmu_mode m = { 0 };
	struct tq t;
	int fd;

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(WD_MMU_SVA, wd_test_set_mode(fd, 0));
	EXPECT_EQ(WD_MMU_PINNED, wd_test_set_mode(fd, WD_MMU_PINNED));
	EXPECT_EQ(WD_MMU_PINNED, wd_test_set_mode(fd, 0));
	EXPECT_EQ(WD_MMU_SVA, wd_test_set_mode(fd, WD_MMU_SVA));
	EXPECT_EQ(-EINVAL, wd_test_set_mode(fd, 3));
	EXPECT_EQ(-EINVAL, wd_test_set_mode(fd, 0xffffffff));
	m.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_MMU_MODE, &m));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_MMU_MODE, NULL));
	EXPECT_EQ(EFAULT, errno);
	close(fd);

	/* Not while a queue is bound. */
	ASSERT_EQ(0, tq_open(&t, 8, 0));
	EXPECT_EQ(-EBUSY, wd_test_set_mode(t.fd, WD_MMU_PINNED));
	EXPECT_EQ(WD_MMU_SVA, wd_test_set_mode(t.fd, 0));
	tq_close(&t);
}

TEST(sva_fault_around)
{
	unsigned long long f0 = stat_of("device_faults"), p0 = stat_of("pages_faulted");
	size_t len = 1 << 20;
	char *src = wd_test_anon(len), *dst = wd_test_anon(len);
	unsigned long long faults, pages;
	struct tq t;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	memset(src, 0x42, len);
	ASSERT_EQ(0, tq_open(&t, 8, 0));
	ASSERT_EQ(WD_ST_OK, tq_copy(&t, dst, src, len));
	EXPECT_EQ(0, memcmp(src, dst, len));
	faults = stat_of("device_faults") - f0;
	pages = stat_of("pages_faulted") - p0;
	TH_LOG("%llu device faults mapped %llu pages (%.1f per fault)",
	       faults, pages, (double)pages / faults);
	EXPECT_EQ(2 * len / PG, pages);
	EXPECT_GE(pages / faults, 16);

	/* Warm: a second copy takes no device fault at all. */
	f0 = stat_of("device_faults");
	ASSERT_EQ(WD_ST_OK, tq_copy(&t, dst, src, len));
	EXPECT_EQ(f0, stat_of("device_faults"));
	tq_close(&t);
	munmap(src, len);
	munmap(dst, len);
}

TEST(sva_sees_cpu_changes)
{
	size_t len = 64 * PG;
	char *buf = wd_test_anon(len), *dst = wd_test_anon(len);
	unsigned long long inv0 = stat_of("invalidations");
	uint32_t crc;
	struct tq t;

	ASSERT_EQ(0, tq_open(&t, 8, 0));
	memset(buf, 1, len);
	ASSERT_EQ(WD_ST_OK, tq_crc(&t, buf, len, &crc));
	EXPECT_EQ(wd_test_crc32c(0, buf, len), crc);

	/* MADV_DONTNEED: the device must see the zero pages now there. */
	ASSERT_EQ(0, madvise(buf, len, MADV_DONTNEED));
	ASSERT_EQ(WD_ST_OK, tq_crc(&t, buf, len, &crc));
	EXPECT_EQ(wd_test_crc32c(0, buf, len), crc);
	EXPECT_EQ(0, buf[0]);
	EXPECT_LT(inv0, stat_of("invalidations"));

	/* mprotect read-only: the device may read but not write. */
	memset(buf, 7, len);
	ASSERT_EQ(WD_ST_OK, tq_copy(&t, dst, buf, len));
	ASSERT_EQ(0, mprotect(buf, len, PROT_READ));
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&t, buf, dst, len));
	EXPECT_EQ(WD_ST_OK, tq_copy(&t, dst, buf, len));
	ASSERT_EQ(0, mprotect(buf, len, PROT_NONE));
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&t, dst, buf, len));
	ASSERT_EQ(0, mprotect(buf, len, PROT_READ | PROT_WRITE));

	/* mremap moves the pages: old address faults, new one works. */
	{
		char *moved = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		moved = mremap(buf, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, moved);
		ASSERT_NE(MAP_FAILED, moved);
		EXPECT_EQ(WD_ST_FAULT, tq_copy(&t, dst, buf, len));
		ASSERT_EQ(WD_ST_OK, tq_crc(&t, moved, len, &crc));
		EXPECT_EQ(wd_test_crc32c(0, moved, len), crc);
		buf = moved;
	}
	/* munmap: the device faults. */
	ASSERT_EQ(0, munmap(buf, len));
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&t, dst, buf, len));
	tq_close(&t);
	munmap(dst, len);
}

/* After fork the parent's device view follows the parent's pages. */
TEST(sva_fork_cow)
{
	size_t len = 16 * PG;
	char *buf = wd_test_anon(len), *dst = wd_test_anon(len);
	int pipefd[2], status;
	uint32_t crc;
	struct tq t;
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_EQ(0, tq_open(&t, 8, 0));
	memset(buf, 'A', len);
	/* The device has the pages mirrored, writable. */
	ASSERT_EQ(WD_ST_OK, tq_copy(&t, dst, buf, len));
	ASSERT_EQ(WD_ST_OK, tq_copy(&t, buf, dst, len));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* Wait for the parent's device write, then look. */
		if (read(pipefd[0], &c, 1) != 1)
			_exit(3);
		memset(dst, 'C', len);		/* the child's own write */
		_exit(buf[0] == 'A' && buf[len - 1] == 'A' ? 0 : 1);
	}
	/* Parent: CPU write breaks COW for the first page; device writes all. */
	buf[0] = 'B';
	memset(dst, 'P', len);
	ASSERT_EQ(WD_ST_OK, tq_copy(&t, buf, dst, len));
	EXPECT_EQ('P', buf[0]);
	EXPECT_EQ('P', buf[len - 1]);
	ASSERT_EQ(1, write(pipefd[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("the child saw the parent's device write");
	/* The child's writes never reach the parent's device view. */
	ASSERT_EQ(WD_ST_OK, tq_crc(&t, dst, len, &crc));
	EXPECT_EQ(wd_test_crc32c(0, dst, len), crc);
	EXPECT_EQ('P', dst[0]);
	tq_close(&t);
}

struct racer {
	char *buf;
	size_t len;
	int what;
	volatile int stop;
	unsigned long rounds;
};

enum { R_MUNMAP, R_MPROTECT, R_DONTNEED, R_MREMAP, R_FORK, R_NR, R_DONTNEED_PACED };

static void *race_loop(void *arg)
{
	struct racer *r = arg;
	char *spare = mmap(NULL, r->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	while (!r->stop) {
		switch (r->what) {
		case R_MUNMAP:
			munmap(r->buf, r->len);
			mmap(r->buf, r->len, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			break;
		case R_MPROTECT:
			mprotect(r->buf + PG, PG, PROT_READ);
			mprotect(r->buf + PG, PG, PROT_READ | PROT_WRITE);
			break;
		case R_DONTNEED:
			madvise(r->buf, r->len, MADV_DONTNEED);
			break;
		case R_DONTNEED_PACED:
			madvise(r->buf, r->len, MADV_DONTNEED);
			usleep(2000);
			break;
		case R_MREMAP:
			/* Move it away and back. */
			if (mremap(r->buf, r->len, r->len, MREMAP_MAYMOVE | MREMAP_FIXED,
				   spare) != MAP_FAILED)
				mremap(spare, r->len, r->len, MREMAP_MAYMOVE | MREMAP_FIXED,
				       r->buf);
			break;
		case R_FORK: {
			pid_t pid = fork();

			if (pid == 0)
				_exit(0);
			waitpid(pid, NULL, 0);
			break;
		}
		}
		r->rounds++;
	}
	munmap(spare, r->len);
	return NULL;
}

/*
 * Each invalidation source races a loop of commands. The commands target
 * the racing buffer (status OK or FAULT, nothing else) and a stable buffer
 * whose checksum must always come out right.
 */
FIXTURE(race) {
};

FIXTURE_SETUP(race)
{
}

FIXTURE_TEARDOWN(race)
{
}

TEST_F_TIMEOUT(race, invalidations_race_commands, 400)
{
	static const char *const names[] = { "munmap", "mprotect", "madvise", "mremap", "fork" };
	size_t len = 8 * PG;
	char *stable = wd_test_anon(len), *scratch = wd_test_anon(len);
	uint32_t want, crc;
	struct tq t;
	int w, i;

	ASSERT_EQ(0, tq_open(&t, 8, 0));
	for (i = 0; i < (int)len; i++)
		stable[i] = (char)(i * 13);
	want = wd_test_crc32c(0, stable, len);

	for (w = 0; w < R_NR; w++) {
		struct racer r = { .len = len, .what = w };
		unsigned long ok = 0, fault = 0, bad = 0, wrong = 0;
		pthread_t th;

		r.buf = wd_test_anon(len);
		ASSERT_NE(NULL, r.buf);
		ASSERT_EQ(0, pthread_create(&th, NULL, race_loop, &r));
		for (i = 0; i < 250; i++) {
			uint32_t st = tq_copy(&t, r.buf, stable, len);

			if (st == WD_ST_OK)
				ok++;
			else if (st == WD_ST_FAULT)
				fault++;
			else
				bad++;
			st = tq_copy(&t, scratch, r.buf, len);
			if (st != WD_ST_OK && st != WD_ST_FAULT)
				bad++;
			if (tq_crc(&t, stable, len, &crc) != WD_ST_OK || crc != want)
				wrong++;
		}
		r.stop = 1;
		pthread_join(th, NULL);
		TH_LOG("%s: %lu racer rounds, %lu ok, %lu fault", names[w], r.rounds, ok, fault);
		EXPECT_EQ(0, bad);
		EXPECT_EQ(0, wrong);
		munmap(r.buf, len);
	}
	tq_close(&t);
}

/* A long command whose source pages are dropped under it re-faults them. */
TEST_F_TIMEOUT(race, command_refaults_lost_pages, 300)
{
	size_t len = 8 << 20;
	char *src = wd_test_anon(len), *dst = wd_test_anon(len);
	struct racer r = { .len = len, .what = R_DONTNEED_PACED };
	unsigned long long inv0 = stat_of("invalidations");
	pthread_t th;
	int i, ok = 0;

	r.buf = src;
	memset(src, 9, len);
	ASSERT_EQ(0, pthread_create(&th, NULL, race_loop, &r));
	{
		struct tq t;

		ASSERT_EQ(0, tq_open(&t, 8, 0));
		for (i = 0; i < 3; i++)
			if (tq_copy(&t, dst, src, len) == WD_ST_OK)
				ok++;
		tq_close(&t);
	}
	r.stop = 1;
	pthread_join(th, NULL);
	EXPECT_EQ(3, ok);
	EXPECT_LT(inv0, stat_of("invalidations"));
	munmap(src, len);
	munmap(dst, len);
}

TEST(pinned_share_and_access)
{
	size_t len = 16 * PG;
	char *base = wd_test_anon(64 * PG);
	char *a = base, *b = base + 24 * PG, *c = base + 48 * PG;
	long pin0 = wd_test_vm_pin_kb();
	uint32_t crc;
	struct tq t;

	ASSERT_EQ(0, tq_open_mode(&t, WD_MMU_PINNED));
	memset(a, 'a', len);
	/* Nothing shared: every access faults. */
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&t, b, a, len));
	ASSERT_EQ(0, wd_test_share(t.fd, a, len, WD_SHARE_READ));
	ASSERT_EQ(0, wd_test_share(t.fd, b, len, WD_SHARE_READ | WD_SHARE_WRITE));
	EXPECT_EQ(pin0 + 2 * (long)len / 1024, wd_test_vm_pin_kb());
	EXPECT_EQ(2 * len / PG, stat_of("pinned_pages"));

	EXPECT_EQ(WD_ST_OK, tq_copy(&t, b, a, len));
	EXPECT_EQ(0, memcmp(a, b, len));
	/* Read-only share is not a destination; unshared c is nothing. */
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&t, a, b, len));
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&t, c, a, len));
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&t, b, a, len + 1));
	ASSERT_EQ(WD_ST_OK, tq_crc(&t, a + 100, len - 200, &crc));
	EXPECT_EQ(wd_test_crc32c(0, a + 100, len - 200), crc);

	EXPECT_EQ(0, wd_test_unshare(t.fd, a, len));
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&t, b, a, len));
	EXPECT_EQ(pin0 + (long)len / 1024, wd_test_vm_pin_kb());
	/* Close releases the rest. */
	tq_close(&t);
	EXPECT_EQ(pin0, wd_test_vm_pin_kb());
	EXPECT_EQ(0, stat_of("pinned_pages"));
}

TEST(pinned_bad_arguments)
{
	size_t len = 4 * PG;
	char *a = wd_test_anon(len), *ro, *none;
	int fd, mfd;

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	/* Sharing is for pinned mode. */
	EXPECT_EQ(-EOPNOTSUPP, wd_test_share(fd, a, len, WD_SHARE_READ));
	ASSERT_EQ(WD_MMU_PINNED, wd_test_set_mode(fd, WD_MMU_PINNED));

	EXPECT_EQ(-EINVAL, wd_test_share(fd, a, 0, WD_SHARE_READ));
	EXPECT_EQ(-EINVAL, wd_test_share(fd, a + 1, len, WD_SHARE_READ));
	EXPECT_EQ(-EINVAL, wd_test_share(fd, a, len - 1, WD_SHARE_READ));
	EXPECT_EQ(-EINVAL, wd_test_share(fd, a, len, 0));
	EXPECT_EQ(-EINVAL, wd_test_share(fd, a, len, 4));
	EXPECT_EQ(-EFAULT, wd_test_share(fd, (void *)0xffff888000000000UL, len, WD_SHARE_READ));
	EXPECT_EQ(-EFAULT, wd_test_share(fd, (void *)0x0000800000000000UL, len, WD_SHARE_READ));
	EXPECT_EQ(-EFAULT, wd_test_share(fd, (void *)(~0UL & ~(PG - 1)), 2 * PG, WD_SHARE_READ));
	EXPECT_EQ(-E2BIG, wd_test_share(fd, a, 1ULL << 41, WD_SHARE_READ));
	{
		struct wd_share_req r = { .addr = (uintptr_t)a, .len = len,
					  .access = WD_SHARE_READ, .pad = 1 };

		EXPECT_EQ(-1, ioctl(fd, WD_IOC_SHARE, &r));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(-1, ioctl(fd, WD_IOC_SHARE, NULL));
		EXPECT_EQ(EFAULT, errno);
	}

	/* Unmapped, PROT_NONE, and a read-only file mapping shared writable. */
	none = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT_EQ(-EFAULT, wd_test_share(fd, none, len, WD_SHARE_READ));
	munmap(none, len);
	EXPECT_EQ(-EFAULT, wd_test_share(fd, none, len, WD_SHARE_READ));
	mfd = memfd_create("ro", 0);
	ASSERT_EQ(0, ftruncate(mfd, len));
	ro = mmap(NULL, len, PROT_READ, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-EFAULT, wd_test_share(fd, ro, len, WD_SHARE_WRITE));
	EXPECT_EQ(0, wd_test_share(fd, ro, len, WD_SHARE_READ));
	EXPECT_EQ(0, wd_test_unshare(fd, ro, len));

	/* Overlaps, unshare of what was never shared, parts, twice. */
	ASSERT_EQ(0, wd_test_share(fd, a, 2 * PG, WD_SHARE_READ));
	EXPECT_EQ(-EEXIST, wd_test_share(fd, a + PG, 2 * PG, WD_SHARE_READ));
	EXPECT_EQ(-EEXIST, wd_test_share(fd, a, PG, WD_SHARE_READ));
	EXPECT_EQ(0, wd_test_share(fd, a + 2 * PG, 2 * PG, WD_SHARE_WRITE));
	EXPECT_EQ(-ENOENT, wd_test_unshare(fd, a + len, PG));
	EXPECT_EQ(-EINVAL, wd_test_unshare(fd, a, PG));
	EXPECT_EQ(-EINVAL, wd_test_unshare(fd, a + PG, PG));
	EXPECT_EQ(0, wd_test_unshare(fd, a, 2 * PG));
	EXPECT_EQ(-ENOENT, wd_test_unshare(fd, a, 2 * PG));
	{
		struct wd_share_req r = { .addr = (uintptr_t)(a + 2 * PG), .len = 2 * PG,
					  .access = WD_SHARE_READ };

		EXPECT_EQ(-1, ioctl(fd, WD_IOC_UNSHARE, &r));
		EXPECT_EQ(EINVAL, errno);
	}
	/* Mode cannot change while something is shared. */
	EXPECT_EQ(-EBUSY, wd_test_set_mode(fd, WD_MMU_SVA));
	EXPECT_EQ(0, wd_test_unshare(fd, a + 2 * PG, 2 * PG));
	EXPECT_EQ(WD_MMU_SVA, wd_test_set_mode(fd, WD_MMU_SVA));
	EXPECT_EQ(0, stat_of("pinned_pages"));
	close(fd);
	close(mfd);
}

TEST(pinned_rlimit_memlock)
{
	size_t len = 64 * PG;
	char *a = wd_test_anon(len);
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct rlimit rl = { 32 * PG, 32 * PG };
		long pin0;
		int fd;

		if (wd_test_drop_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(10);
		fd = open(WD_TEST_NODE, O_RDWR);
		if (fd < 0 || wd_test_set_mode(fd, WD_MMU_PINNED) != WD_MMU_PINNED)
			_exit(11);
		pin0 = wd_test_vm_pin_kb();
		/* Over the limit: refused, nothing charged or pinned. */
		if (wd_test_share(fd, a, len, WD_SHARE_READ) != -ENOMEM)
			_exit(12);
		if (wd_test_vm_pin_kb() != pin0)
			_exit(13);
		/* Within it: fine, and charged. */
		if (wd_test_share(fd, a, 16 * PG, WD_SHARE_READ) ||
		    wd_test_share(fd, a + 16 * PG, 16 * PG, WD_SHARE_READ))
			_exit(14);
		if (wd_test_vm_pin_kb() != pin0 + 32 * 4)
			_exit(15);
		if (wd_test_share(fd, a + 32 * PG, PG, WD_SHARE_READ) != -ENOMEM)
			_exit(16);
		if (wd_test_unshare(fd, a, 16 * PG) || wd_test_vm_pin_kb() != pin0 + 16 * 4)
			_exit(17);
		close(fd);
		_exit(wd_test_vm_pin_kb() == pin0 ? 0 : 18);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, stat_of("pinned_pages"));
}

/*
 * The classic GUP-after-fork hazard: after fork, the parent's pinned pages
 * must stay the parent's, both for what the device writes and what it reads.
 */
TEST(pinned_fork_cow)
{
	size_t len = 8 * PG;
	char *buf = wd_test_anon(len), *src = wd_test_anon(len);
	int pipefd[2], back[2], status;
	uint32_t crc;
	struct tq t;
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_EQ(0, pipe(back));
	memset(buf, 'A', len);
	ASSERT_EQ(0, tq_open_mode(&t, WD_MMU_PINNED));
	ASSERT_EQ(0, wd_test_share(t.fd, buf, len, WD_SHARE_READ | WD_SHARE_WRITE));
	ASSERT_EQ(0, wd_test_share(t.fd, src, len, WD_SHARE_READ | WD_SHARE_WRITE));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		memset(buf, 'C', len);		/* the child's copy */
		if (write(back[1], "c", 1) != 1 || read(pipefd[0], &c, 1) != 1)
			_exit(3);
		_exit(buf[0] == 'C' && buf[len - 1] == 'C' ? 0 : 1);
	}
	ASSERT_EQ(1, read(back[0], &c, 1));
	/* The device reads the parent's data, not the child's. */
	ASSERT_EQ(WD_ST_OK, tq_crc(&t, buf, len, &crc));
	EXPECT_EQ(wd_test_crc32c(0, buf, len), crc);
	EXPECT_EQ('A', buf[0]);
	/* The parent's CPU writes and the device's writes meet in one page. */
	buf[1] = 'B';
	memset(src, 'P', len);
	ASSERT_EQ(WD_ST_OK, tq_copy(&t, buf, src, len));
	EXPECT_EQ('P', buf[0]);
	EXPECT_EQ('P', buf[1]);
	EXPECT_EQ('P', buf[len - 1]);
	ASSERT_EQ(1, write(pipefd[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	tq_close(&t);
}

TEST(pinned_leaks_on_exit)
{
	size_t len = 32 * PG;
	int status, i;
	pid_t pid;

	for (i = 0; i < 3; i++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			char *a = wd_test_anon(len);
			int fd = open(WD_TEST_NODE, O_RDWR);

			wd_test_set_mode(fd, WD_MMU_PINNED);
			if (wd_test_share(fd, a, len, WD_SHARE_READ | WD_SHARE_WRITE))
				_exit(1);
			if (i == 2)
				kill(getpid(), SIGKILL);
			_exit(0);	/* no unshare, no close */
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
	}
	EXPECT_EQ(0, stat_of("pinned_pages"));
}

/* A private anonymous mapping of one 2 MiB-aligned 2 MiB block, or NULL. */
static char *block_2m(void)
{
	size_t blk = 2UL << 20;
	char *p = mmap(NULL, 2 * blk, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *b;

	if (p == MAP_FAILED)
		return NULL;
	b = (char *)(((uintptr_t)p + blk - 1) & ~(blk - 1));
	if (b > p)
		munmap(p, b - p);
	if (b + blk < p + 2 * blk)
		munmap(b + blk, p + 2 * blk - (b + blk));
	/* No khugepaged collapse (an invalidation) while we count. */
	madvise(b, blk, MADV_NOHUGEPAGE);
	return b;
}

/*
 * The device's mirror is watched only where it has entries: munmap,
 * MADV_DONTNEED and mprotect elsewhere in the process deliver nothing to
 * the device (stats/notifier_calls), while a change inside the mirrored
 * range still does and the device sees it.
 */
TEST(sva_unrelated_munmap_costs_nothing)
{
	size_t blk = 2UL << 20, other_len = 4UL << 20;
	char *buf = block_2m(), *other;
	unsigned long long n0, i0;
	uint32_t crc;
	struct tq t;
	int i;

	ASSERT_NE(NULL, buf);
	memset(buf, 3, blk);
	ASSERT_EQ(0, tq_open(&t, 8, 0));
	ASSERT_EQ(WD_ST_OK, tq_crc(&t, buf, blk, &crc));
	EXPECT_EQ(wd_test_crc32c(0, buf, blk), crc);

	n0 = stat_of("notifier_calls");
	i0 = stat_of("invalidations");
	for (i = 0; i < 8; i++) {
		other = mmap(NULL, other_len, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, other);
		memset(other, i, other_len);
		ASSERT_EQ(0, madvise(other, other_len / 2, MADV_DONTNEED));
		ASSERT_EQ(0, mprotect(other, other_len, PROT_READ));
		ASSERT_EQ(0, munmap(other, other_len));
	}
	EXPECT_EQ(n0, stat_of("notifier_calls"));
	EXPECT_EQ(i0, stat_of("invalidations"));

	/* Inside the mirror: delivered, entries dropped, new data seen. */
	ASSERT_EQ(0, madvise(buf + 5 * PG, PG, MADV_DONTNEED));
	EXPECT_LT(n0, stat_of("notifier_calls"));
	EXPECT_LT(i0, stat_of("invalidations"));
	ASSERT_EQ(WD_ST_OK, tq_crc(&t, buf, blk, &crc));
	EXPECT_EQ(wd_test_crc32c(0, buf, blk), crc);
	EXPECT_EQ(0, buf[5 * PG]);
	tq_close(&t);
	munmap(buf, blk);
}

/* One read-write page at each 2 MiB step of a PROT_NONE reservation. */
static char *spread_pages(int n)
{
	size_t blk = 2UL << 20;
	char *p = mmap(NULL, (n + 1) * blk, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), *b;
	int i;

	if (p == MAP_FAILED)
		return NULL;
	b = (char *)(((uintptr_t)p + blk - 1) & ~(blk - 1));
	for (i = 0; i < n; i++) {
		if (mprotect(b + i * blk, PG, PROT_READ | PROT_WRITE))
			return NULL;
		memset(b + i * blk, i & 0x7f, PG);
	}
	return b;
}

/*
 * Blocks whose entries all went are freed once their number has doubled:
 * after that, changes in their ranges call nothing in the device, and the
 * device mirrors those ranges again correctly when it touches them anew.
 */
TEST(sva_empty_blocks_freed)
{
	const int n = 300;
	size_t blk = 2UL << 20;
	char *a = spread_pages(n), *b = spread_pages(n);
	unsigned long long n0;
	uint32_t crc;
	struct tq t;
	int i;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, tq_open(&t, 8, 0));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(WD_ST_OK, tq_crc(&t, a + i * blk, PG, &crc));
		EXPECT_EQ(wd_test_crc32c(0, a + i * blk, PG), crc);
	}
	/* Every entry of a's blocks goes: they are empty now. */
	n0 = stat_of("notifier_calls");
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, madvise(a + i * blk, PG, MADV_DONTNEED));
	EXPECT_LE(n0 + n, stat_of("notifier_calls"));
	/* Enough new blocks that the empty ones are collected. */
	for (i = 0; i < n; i++) {
		ASSERT_EQ(WD_ST_OK, tq_crc(&t, b + i * blk, PG, &crc));
		EXPECT_EQ(wd_test_crc32c(0, b + i * blk, PG), crc);
	}
	n0 = stat_of("notifier_calls");
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, madvise(a + i * blk, PG, MADV_DONTNEED));
	EXPECT_EQ(n0, stat_of("notifier_calls"));
	/* b's blocks still hold entries: still watched. */
	ASSERT_EQ(0, madvise(b, PG, MADV_DONTNEED));
	EXPECT_LT(n0, stat_of("notifier_calls"));
	/* A freed block's range is mirrored again, with what is there now. */
	memset(a + 7 * blk, 0x5a, PG);
	ASSERT_EQ(WD_ST_OK, tq_crc(&t, a + 7 * blk, PG, &crc));
	EXPECT_EQ(wd_test_crc32c(0, a + 7 * blk, PG), crc);
	tq_close(&t);
	munmap(a, n * blk);
	munmap(b, n * blk);
}

/* The notifier blocks of this process's context with a queue, or -1. */
static long ctx_blocks(void)
{
	char line[256], mode[16];
	long long v[6];
	long blocks = -1, b;
	int pid, queue;
	FILE *f = fopen("/sys/kernel/debug/warpdrive/" WD_TEST_DEV "/contexts", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%d %15s %d %lld %lld %lld %lld %lld %lld %ld", &pid, mode,
			   &queue, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &b) == 10 &&
		    pid == getpid() && queue >= 0)
			blocks = b;
	if (f)
		fclose(f);
	return blocks;
}

/*
 * A block an munmap leaves empty is freed soon after (from a work item):
 * the range, mapped again for something the device never saw, costs the
 * device nothing, and the device mirrors it right when it does touch it.
 * A block that still holds entries beside the unmapped part stays, and
 * still delivers changes there. (b's halves are two VMAs from the start:
 * splitting a VMA inside a 2 MiB range makes the kernel invalidate all of
 * it, which would empty the block.)
 */
TEST(sva_unmapped_blocks_freed)
{
	size_t blk = 2UL << 20;
	char *a = block_2m(), *b = block_2m(), *again;
	unsigned long long n0;
	long before;
	uint32_t crc;
	struct tq t;
	int i;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	memset(a, 1, blk);
	memset(b, 2, blk);
	ASSERT_EQ(0, mprotect(b + blk / 2, blk / 2, PROT_READ));
	ASSERT_EQ(0, tq_open(&t, 8, 0));
	ASSERT_EQ(WD_ST_OK, tq_crc(&t, a, blk, &crc));
	ASSERT_EQ(WD_ST_OK, tq_crc(&t, b, blk, &crc));
	before = ctx_blocks();
	ASSERT_GE(before, 2);

	ASSERT_EQ(0, munmap(b, blk / 2));
	ASSERT_EQ(0, munmap(a, blk));
	for (i = 0; i < 500 && ctx_blocks() > before - 1; i++)
		usleep(10000);
	EXPECT_EQ(before - 1, ctx_blocks());

	n0 = stat_of("notifier_calls");
	for (i = 0; i < 8; i++) {
		again = mmap(a, blk, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		ASSERT_EQ(a, again);
		memset(again, i, blk);
		ASSERT_EQ(0, mprotect(again, blk, PROT_READ));
		ASSERT_EQ(0, munmap(again, blk));
	}
	EXPECT_EQ(n0, stat_of("notifier_calls"));

	/* b's mirrored half: still watched, and seen right. */
	ASSERT_EQ(0, madvise(b + blk / 2, PG, MADV_DONTNEED));
	EXPECT_LT(n0, stat_of("notifier_calls"));
	ASSERT_EQ(WD_ST_OK, tq_crc(&t, b + blk / 2, blk / 2, &crc));
	EXPECT_EQ(wd_test_crc32c(0, b + blk / 2, blk / 2), crc);

	/* a's range mirrored anew: the device sees what is there now. */
	again = mmap(a, blk, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ASSERT_EQ(a, again);
	memset(again, 0x5a, blk);
	ASSERT_EQ(WD_ST_OK, tq_crc(&t, again, blk, &crc));
	EXPECT_EQ(wd_test_crc32c(0, again, blk), crc);
	EXPECT_EQ(before, ctx_blocks());
	tq_close(&t);
	munmap(again, blk);
	munmap(b + blk / 2, blk / 2);
}

/*
 * wd_soft's debugfs copy_baseline (the kernel's own copy of the same
 * pages, wdbench's baseline): it copies, reports a time, and refuses
 * malformed, unaligned, overlapping, oversized and unmapped requests.
 */
TEST(copy_baseline_knob)
{
	size_t len = 16 * PG;
	char *src = wd_test_anon(len), *dst = wd_test_anon(len), cmd[128], out[32];
	int fd, i;
	struct {
		const char *fmt;
		int err;
	} bad[] = {
		{ "nonsense", EINVAL },
		{ "%lx %lx", EINVAL },
		{ "%lx %lx 4096 0", EINVAL },			/* no rounds */
		{ "%lx %lx 4096 1001", EINVAL },		/* too many */
		{ "%lx %lx 100 1", EINVAL },			/* not pages */
		{ "%lx %lx 0 1", EINVAL },
		{ "%lx %lx 1099511627776 1", EINVAL },	/* too long */
	};

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	fd = open("/sys/kernel/debug/wd_soft/copy_baseline", O_RDWR);
	ASSERT_LE(0, fd);
	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		int n = snprintf(cmd, sizeof(cmd), bad[i].fmt,
				 (unsigned long)src, (unsigned long)dst);

		EXPECT_EQ(-1, write(fd, cmd, n)) TH_LOG("%s", cmd);
		EXPECT_EQ(bad[i].err, errno) TH_LOG("%s", cmd);
	}
	/* Unaligned, overlapping, wrapping, unmapped. */
	snprintf(cmd, sizeof(cmd), "%lx %lx 4096 1", (unsigned long)src + 1,
		 (unsigned long)dst);
	EXPECT_EQ(-1, write(fd, cmd, strlen(cmd)));
	EXPECT_EQ(EINVAL, errno);
	snprintf(cmd, sizeof(cmd), "%lx %lx 8192 1", (unsigned long)src,
		 (unsigned long)src + PG);
	EXPECT_EQ(-1, write(fd, cmd, strlen(cmd)));
	EXPECT_EQ(EINVAL, errno);
	snprintf(cmd, sizeof(cmd), "fffffffffffff000 %lx 8192 1",
		 (unsigned long)dst);
	EXPECT_EQ(-1, write(fd, cmd, strlen(cmd)));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, munmap(src + 8 * PG, PG));
	snprintf(cmd, sizeof(cmd), "%lx %lx %zu 1", (unsigned long)src,
		 (unsigned long)dst, len);
	EXPECT_EQ(-1, write(fd, cmd, strlen(cmd)));
	EXPECT_EQ(EFAULT, errno);
	/* Read-only destination: refused, nothing written. */
	ASSERT_EQ(0, mprotect(dst, len, PROT_READ));
	snprintf(cmd, sizeof(cmd), "%lx %lx 4096 1", (unsigned long)src,
		 (unsigned long)dst);
	EXPECT_EQ(-1, write(fd, cmd, strlen(cmd)));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, mprotect(dst, len, PROT_READ | PROT_WRITE));

	/* wd_soft's busy_ns grows with the commands its engines run. */
	{
		const char *bpath = "/sys/kernel/debug/wd_soft/busy_ns";
		char busy[32];
		unsigned long long b0, b1;
		struct tq t;

		ASSERT_EQ(0, wd_test_read_file(bpath, busy, sizeof(busy)));
		b0 = strtoull(busy, NULL, 10);
		ASSERT_EQ(0, tq_open(&t, 8, 0));
		ASSERT_EQ(WD_ST_OK, tq_copy(&t, dst, src, 4 * PG));
		tq_close(&t);
		ASSERT_EQ(0, wd_test_read_file(bpath, busy, sizeof(busy)));
		b1 = strtoull(busy, NULL, 10);
		EXPECT_LT(b0, b1);
	}

	/* A good one: the pages are copied, and the time is given. */
	for (i = 0; i < (int)(8 * PG); i++)
		src[i] = (char)(i * 7 + 1);
	snprintf(cmd, sizeof(cmd), "%lx %lx %lu 3", (unsigned long)src,
		 (unsigned long)dst, 8 * PG);
	EXPECT_EQ((ssize_t)strlen(cmd), write(fd, cmd, strlen(cmd)));
	EXPECT_EQ(0, memcmp(src, dst, 8 * PG));
	memset(out, 0, sizeof(out));
	EXPECT_LT(0, pread(fd, out, sizeof(out) - 1, 0));
	EXPECT_LT(0, strtoull(out, NULL, 10)) TH_LOG("%s", out);
	close(fd);
	munmap(src, len);
	munmap(dst, len);
}

TEST(debugfs_context_stats)
{
	size_t len = 32 * PG;
	char *src = wd_test_anon(len), *dst = wd_test_anon(len), buf[4096], want[64];
	struct tq t;
	FILE *f;
	size_t n;

	memset(src, 1, len);
	ASSERT_EQ(0, tq_open(&t, 8, 0));
	ASSERT_EQ(WD_ST_OK, tq_copy(&t, dst, src, len));
	f = fopen("/sys/kernel/debug/warpdrive/" WD_TEST_DEV "/contexts", "r");
	ASSERT_NE(NULL, f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	/* Our line: pid, mode, queue, 4 faults of 16 pages (2 x 32 pages). */
	snprintf(want, sizeof(want), "%9d sva    %5u      4            64",
		 getpid(), t.info.queue_id);
	EXPECT_NE(NULL, strstr(buf, want)) TH_LOG("%s", buf);
	tq_close(&t);
}

TEST_HARNESS_MAIN
