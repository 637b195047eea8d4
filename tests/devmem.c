// SPDX-License-Identifier: GPL-2.0
/*
 * Device memory regions: every way to make pages present (fault, fault-
 * around, MAP_POPULATE, MADV_POPULATE_*, the populate ioctl, map in
 * advance) with the faults each takes counted, punch-hole and reserve,
 * MADV_DONTNEED, sharing between processes and across fork, split
 * mappings, exhaustion and quota, engines on region memory (SVA and
 * pinned), races between punching and faulting, leaks on exit, device
 * removal while mapped, and hostile arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "libwd.h"
#include "wd_test.h"

#define PG	4096UL
#define SYSDEV	"/sys/class/warpdrive/" WD_TEST_DEV "/"
#define FA_PARAM "/sys/module/warpdrive/parameters/region_fault_around"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif

static unsigned long long attr(const char *name)
{
	char path[160];

	snprintf(path, sizeof(path), SYSDEV "%s", name);
	return wd_test_read_u64(path);
}

static unsigned long long stat_of(const char *name)
{
	char path[160];

	snprintf(path, sizeof(path), SYSDEV "stats/%s", name);
	return wd_test_read_u64(path);
}

/* Wait (up to 5 s) for devmem_held_pages to be @want; returns it. */
static unsigned long long wait_held(unsigned long long want)
{
	unsigned long long held = 0;
	int i;

	for (i = 0; i < 500; i++) {
		held = stat_of("devmem_held_pages");
		if (held == want)
			break;
		usleep(10000);
	}
	return held;
}

/* Faults a sequential touch of [p, p + len) takes with an aligned window. */
static unsigned long windows(const void *p, size_t len, unsigned long win)
{
	uintptr_t a = (uintptr_t)p, w = win * PG;

	return (a + len - 1) / w - a / w + 1;
}

/* Accesses that may raise SIGBUS or SIGSEGV, reported instead of dying. */
static sigjmp_buf fault_jb;
static volatile sig_atomic_t fault_sig;

static void on_fault(int sig)
{
	fault_sig = sig;
	siglongjmp(fault_jb, 1);
}

static int try_access(volatile char *p, int write, char v)
{
	struct sigaction sa = { .sa_handler = on_fault }, obus, osegv;
	int ret = 0;

	sigaction(SIGBUS, &sa, &obus);
	sigaction(SIGSEGV, &sa, &osegv);
	if (sigsetjmp(fault_jb, 1) == 0) {
		if (write)
			*p = v;
		else
			(void)*p;
	} else {
		ret = fault_sig;
	}
	sigaction(SIGBUS, &obus, NULL);
	sigaction(SIGSEGV, &osegv, NULL);
	return ret;
}

static unsigned long long pool_size(void)
{
	return attr("devmem_size");
}

/*
 * Every test runs with the pool empty, no quota and the default window,
 * and puts the knobs back even when it fails.
 */
FIXTURE(dm) {
};

FIXTURE_SETUP(dm)
{
	wd_test_write_str(SYSDEV "devmem_user_quota", "0");
	wd_test_write_str(FA_PARAM, "16");
	wd_test_wait_used(SYSDEV, 0);
}

FIXTURE_TEARDOWN(dm)
{
	wd_test_write_str(SYSDEV "devmem_user_quota", "0");
	wd_test_write_str(FA_PARAM, "16");
}

TEST_F(dm, sysfs_and_sparse_zeroed)
{
	unsigned long long size = pool_size(), used0;
	struct wd_region_info i;
	struct stat st;
	size_t len = 64 * PG;
	char *p, *q;
	int fd;

	ASSERT_NE(0, size);
	EXPECT_TRUE(attr("flags") & WD_DEV_F_DEVMEM);
	used0 = wd_test_wait_used(SYSDEV, 0);
	ASSERT_EQ(0, used0);
	EXPECT_EQ(size, attr("devmem_free"));
	EXPECT_EQ(0, attr("devmem_user_quota"));

	fd = wd_test_new_region(WD_TEST_NODE, len, 0, 0);
	ASSERT_LE(0, fd);
	/* Sparse: nothing taken yet. */
	EXPECT_EQ(0, attr("devmem_used"));
	ASSERT_EQ(0, wd_test_region_info(fd, &i));
	EXPECT_EQ(len, i.size);
	EXPECT_EQ(0, i.resident);
	EXPECT_EQ(16, i.fault_around);
	EXPECT_EQ(0, i.flags);
	/* A regular file to fstat(), of the region's size. */
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(len, st.st_size);
	EXPECT_FALSE(fcntl(fd, F_GETFD) & FD_CLOEXEC);

	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	EXPECT_TRUE(wd_test_all(p, len, 0));
	EXPECT_EQ(len, wd_test_resident(fd));
	EXPECT_EQ(len, attr("devmem_used"));
	EXPECT_EQ(size - len, attr("devmem_free"));
	memset(p, 0x5a, len);

	/* Every mapping sees the same memory, at any offset. */
	q = wd_test_map(fd, 4 * PG, PROT_READ, 0, 8 * PG);
	ASSERT_NE(NULL, q);
	EXPECT_TRUE(wd_test_all(q, 4 * PG, 0x5a));
	p[8 * PG] = 1;
	EXPECT_EQ(1, q[0]);
	munmap(q, 4 * PG);
	munmap(p, len);
	p = wd_test_map(fd, len, PROT_READ, 0, 0);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(1, p[8 * PG]);
	EXPECT_EQ(0x5a, p[len - 1]);
	munmap(p, len);
	close(fd);
	EXPECT_EQ(0, wd_test_wait_used(SYSDEV, 0));
	EXPECT_EQ(size, attr("devmem_free"));
}

TEST_F(dm, bad_create_arguments)
{
	unsigned long long size = pool_size();
	struct wd_region_create c;
	int dev = wd_test_dev_open(WD_TEST_NODE), fd;

	ASSERT_LE(0, dev);
	EXPECT_EQ(-EINVAL, wd_test_region_create(dev, 0, 0, 0));
	EXPECT_EQ(-EINVAL, wd_test_region_create(dev, PG + 1, 0, 0));
	EXPECT_EQ(-EINVAL, wd_test_region_create(dev, 100, 0, 0));
	EXPECT_EQ(-E2BIG, wd_test_region_create(dev, size + PG, 0, 0));
	EXPECT_EQ(-E2BIG, wd_test_region_create(dev, 1ULL << 62, 0, 0));
	EXPECT_EQ(-E2BIG, wd_test_region_create(dev, ~0ULL & ~(PG - 1), 0, 0));
	EXPECT_EQ(-EINVAL, wd_test_region_create(dev, PG, 1U << 2, 0));
	EXPECT_EQ(-EINVAL, wd_test_region_create(dev, PG, 0x80000000U, 0));
	EXPECT_EQ(-EINVAL, wd_test_region_create(dev, PG, 0, 3));
	EXPECT_EQ(-EINVAL, wd_test_region_create(dev, PG, 0, 1024));
	EXPECT_EQ(-EINVAL, wd_test_region_create(dev, PG, 0, ~0U));

	memset(&c, 0, sizeof(c));
	c.size = PG;
	c.fd = 3;
	EXPECT_EQ(-1, ioctl(dev, WD_IOC_REGION_CREATE, &c));
	EXPECT_EQ(EINVAL, errno);
	c.fd = 0;
	c.pad = 1;
	EXPECT_EQ(-1, ioctl(dev, WD_IOC_REGION_CREATE, &c));
	EXPECT_EQ(EINVAL, errno);
	c.pad = 0;
	c.reserved[3] = 1;
	EXPECT_EQ(-1, ioctl(dev, WD_IOC_REGION_CREATE, &c));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(dev, WD_IOC_REGION_CREATE, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(dev, WD_IOC_REGION_CREATE, (void *)16));
	EXPECT_EQ(EFAULT, errno);

	/* Limits that work; CLOEXEC. */
	fd = wd_test_region_create(dev, size, WD_REGION_CLOEXEC,
				   WD_REGION_FAULT_AROUND_MAX);
	ASSERT_LE(0, fd);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* Region ioctls only on region files, and the other way round. */
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_REGION_CREATE, &c));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_INFO, &c));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(dev, WD_REGION_IOC_INFO, &c));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, _IO(WD_IOC_MAGIC, 0x2f), 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, WD_REGION_IOC_INFO, NULL));
	EXPECT_EQ(EFAULT, errno);
	/* Not readable or writable with read()/write(), no lseek. */
	{
		char b[8];

		EXPECT_EQ(-1, read(fd, b, sizeof(b)));
		EXPECT_EQ(-1, write(fd, b, sizeof(b)));
		EXPECT_EQ(-1, lseek(fd, 0, SEEK_SET));
	}
	close(fd);

	/* The device fd is its opener's; a region fd is anyone's. */
	fd = wd_test_region_create(dev, PG, 0, 0);
	ASSERT_LE(0, fd);
	{
		pid_t pid = fork();
		int status;

		ASSERT_LE(0, pid);
		if (pid == 0) {
			struct wd_region_info i;
			char *p;

			if (wd_test_region_create(dev, PG, 0, 0) != -EPERM)
				_exit(1);
			if (wd_test_region_info(fd, &i) || i.size != PG)
				_exit(2);
			p = wd_test_map_rw(fd, PG);
			if (!p)
				_exit(3);
			p[0] = 7;
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	{
		char *p = wd_test_map_rw(fd, PG);

		ASSERT_NE(NULL, p);
		EXPECT_EQ(7, p[0]);
		munmap(p, PG);
	}
	close(fd);
	close(dev);
}

TEST_F(dm, bad_mmap_arguments)
{
	size_t len = 16 * PG;
	int fd = wd_test_new_region(WD_TEST_NODE, len, 0, 0), ro;
	void *p;

	ASSERT_LE(0, fd);
	/* Private copies of device memory are not offered. */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	/* Beyond the end, whole or in part. */
	p = mmap(NULL, len + PG, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, len - PG);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, len);
	EXPECT_EQ(MAP_FAILED, p);
	p = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 1ULL << 50);
	EXPECT_EQ(MAP_FAILED, p);
	/* Device memory is never executable. */
	p = mmap(NULL, PG, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, PG, PROT_READ | PROT_EXEC));
	/* Cannot grow in place, can move. */
	EXPECT_EQ(MAP_FAILED, mremap(p, len, 2 * len, 0));
	{
		char *moved, *spare = mmap(NULL, len, PROT_NONE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		((char *)p)[PG] = 9;
		moved = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, spare);
		ASSERT_NE(MAP_FAILED, moved);
		EXPECT_EQ(9, moved[PG]);
		moved[2 * PG] = 8;
		EXPECT_EQ(0, try_access(moved + 3 * PG, 1, 1));
		munmap(moved, len);
	}
	/* An fd without write access cannot map writable (via /proc: ENXIO). */
	{
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ro = open(path, O_RDONLY);
		EXPECT_EQ(-1, ro);
	}
	close(fd);
}

/* One fault per page when the window is 1: counted by stats and minflt. */
TEST_F(dm, fault_per_page)
{
	size_t n = 64, len = n * PG;
	int fd = wd_test_new_region(WD_TEST_NODE, len, 0, 1);
	unsigned long long f0, m0;
	long flt0;
	char *p;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	f0 = stat_of("devmem_faults");
	m0 = stat_of("devmem_pages_mapped");
	flt0 = wd_test_minflt();
	wd_test_touch(p, len, 1);
	EXPECT_EQ(n, stat_of("devmem_faults") - f0);
	EXPECT_EQ(n, stat_of("devmem_pages_mapped") - m0);
	EXPECT_LE(n, wd_test_minflt() - flt0);
	EXPECT_EQ(len, wd_test_resident(fd));
	/* Warm: no more faults. */
	f0 = stat_of("devmem_faults");
	flt0 = wd_test_minflt();
	wd_test_touch(p, len, 2);
	EXPECT_EQ(0, stat_of("devmem_faults") - f0);
	EXPECT_EQ(0, wd_test_minflt() - flt0);
	munmap(p, len);
	close(fd);
}

/* The default window, a bigger one, the module parameter, VMA limits. */
TEST_F(dm, fault_around)
{
	size_t n = 256, len = n * PG;
	unsigned long long f0, m0;
	int fd, fd2;
	char *p;

	fd = wd_test_new_region(WD_TEST_NODE, len, 0, 0);
	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	f0 = stat_of("devmem_faults");
	m0 = stat_of("devmem_pages_mapped");
	wd_test_touch(p, len, 1);
	EXPECT_EQ(windows(p, len, 16), stat_of("devmem_faults") - f0);
	EXPECT_EQ(n, stat_of("devmem_pages_mapped") - m0);
	TH_LOG("default window: %llu faults for %zu pages",
	       stat_of("devmem_faults") - f0, n);
	munmap(p, len);
	close(fd);

	fd = wd_test_new_region(WD_TEST_NODE, len, 0, 128);
	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	f0 = stat_of("devmem_faults");
	/* Reads map pages writable too: writes after them take no fault. */
	EXPECT_TRUE(wd_test_all(p, len, 0));
	wd_test_touch(p, len, 3);
	EXPECT_EQ(windows(p, len, 128), stat_of("devmem_faults") - f0);
	munmap(p, len);
	close(fd);

	/* The module parameter is the default of regions that ask for 0. */
	ASSERT_EQ(0, wd_test_write_str(FA_PARAM, "4"));
	fd = wd_test_new_region(WD_TEST_NODE, len, 0, 0);
	fd2 = wd_test_new_region(WD_TEST_NODE, len, 0, 8);
	ASSERT_EQ(0, wd_test_write_str(FA_PARAM, "16"));
	ASSERT_LE(0, fd);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, wd_test_write_str(FA_PARAM, "4"));
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	f0 = stat_of("devmem_faults");
	wd_test_touch(p, len, 1);
	EXPECT_EQ(windows(p, len, 4), stat_of("devmem_faults") - f0);
	munmap(p, len);
	p = wd_test_map_rw(fd2, len);
	ASSERT_NE(NULL, p);
	f0 = stat_of("devmem_faults");
	wd_test_touch(p, len, 1);
	EXPECT_EQ(windows(p, len, 8), stat_of("devmem_faults") - f0);
	munmap(p, len);
	/* Out of range values are clamped, not trusted. */
	ASSERT_EQ(0, wd_test_write_str(FA_PARAM, "100000"));
	{
		struct wd_region_info i;

		ASSERT_EQ(0, wd_test_region_info(fd, &i));
		EXPECT_EQ(WD_REGION_FAULT_AROUND_MAX, i.fault_around);
		ASSERT_EQ(0, wd_test_write_str(FA_PARAM, "0"));
		ASSERT_EQ(0, wd_test_region_info(fd, &i));
		EXPECT_EQ(1, i.fault_around);
	}
	ASSERT_EQ(0, wd_test_write_str(FA_PARAM, "16"));
	close(fd);
	close(fd2);

	/*
	 * The window never leaves the VMA: nothing outside it is taken. The
	 * window is aligned on the virtual address, so the 8-page mapping is
	 * placed inside one 64-page-aligned window (at a free address of a
	 * reservation): then the fault takes exactly its 8 pages.
	 */
	fd = wd_test_new_region(WD_TEST_NODE, len, 0, 64);
	ASSERT_LE(0, fd);
	{
		char *r = mmap(NULL, 128 * PG, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uintptr_t at;

		ASSERT_NE(MAP_FAILED, r);
		at = ((uintptr_t)r + 64 * PG - 1) & ~(uintptr_t)(64 * PG - 1);
		p = mmap((void *)at, 8 * PG, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 32 * PG);
		ASSERT_EQ((void *)at, p);
		p[3 * PG] = 1;
		EXPECT_EQ(8 * PG, wd_test_resident(fd));
		munmap(r, 128 * PG);
	}
	close(fd);
}

/* MAP_POPULATE: every fault inside mmap(), none on the touch after. */
TEST_F(dm, map_populate)
{
	size_t n = 128, len = n * PG;
	unsigned long long f0, f1;
	long flt0, flt1;
	int fd;
	char *p;

	fd = wd_test_new_region(WD_TEST_NODE, len, 0, 1);
	ASSERT_LE(0, fd);
	f0 = stat_of("devmem_faults");
	flt0 = wd_test_minflt();
	p = wd_test_map(fd, len, PROT_READ | PROT_WRITE, MAP_POPULATE, 0);
	ASSERT_NE(NULL, p);
	f1 = stat_of("devmem_faults");
	flt1 = wd_test_minflt();
	EXPECT_EQ(n, f1 - f0);
	EXPECT_LE(n, flt1 - flt0);
	EXPECT_EQ(len, wd_test_resident(fd));
	wd_test_touch(p, len, 1);
	EXPECT_EQ(f1, stat_of("devmem_faults"));
	EXPECT_EQ(0, wd_test_minflt() - flt1);
	EXPECT_TRUE(wd_test_all(p + PG + 1, PG - 1, 0));
	munmap(p, len);
	close(fd);

	/* With the default window the populate takes one fault per window. */
	fd = wd_test_new_region(WD_TEST_NODE, len, 0, 0);
	ASSERT_LE(0, fd);
	f0 = stat_of("devmem_faults");
	p = wd_test_map(fd, len, PROT_READ | PROT_WRITE, MAP_POPULATE, 0);
	ASSERT_NE(NULL, p);
	f1 = stat_of("devmem_faults");
	EXPECT_EQ(windows(p, len, 16), f1 - f0);
	flt1 = wd_test_minflt();
	wd_test_touch(p, len, 1);
	EXPECT_EQ(f1, stat_of("devmem_faults"));
	EXPECT_EQ(0, wd_test_minflt() - flt1);
	munmap(p, len);
	close(fd);
}

static void madv_populate(struct __test_metadata *_metadata, int advice)
{
	size_t n = 96, len = n * PG;
	unsigned long long f0, f1;
	long flt1;
	int fd = wd_test_new_region(WD_TEST_NODE, len, 0, 1);
	char *p;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	f0 = stat_of("devmem_faults");
	ASSERT_EQ(0, madvise(p, len, advice));
	f1 = stat_of("devmem_faults");
	EXPECT_EQ(n, f1 - f0);
	EXPECT_EQ(len, wd_test_resident(fd));
	flt1 = wd_test_minflt();
	wd_test_touch(p, len, 1);
	EXPECT_EQ(f1, stat_of("devmem_faults"));
	EXPECT_EQ(0, wd_test_minflt() - flt1);
	/* Again: everything is there already. */
	ASSERT_EQ(0, madvise(p, len, advice));
	EXPECT_EQ(f1, stat_of("devmem_faults"));
	munmap(p, len);

	/* Read-only mapping: READ works, WRITE is refused as for any file. */
	p = wd_test_map(fd, len, PROT_READ, 0, 0);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, madvise(p, len, MADV_POPULATE_READ));
	EXPECT_EQ(-1, madvise(p, len, MADV_POPULATE_WRITE));
	EXPECT_EQ(EINVAL, errno);
	munmap(p, len);
	close(fd);
}

TEST_F(dm, madv_populate_write)
{
	madv_populate(_metadata, MADV_POPULATE_WRITE);
}

TEST_F(dm, madv_populate_read)
{
	madv_populate(_metadata, MADV_POPULATE_READ);
}

/* The populate ioctl maps without any fault at all. */
TEST_F(dm, populate_ioctl)
{
	size_t n = 1024 + 40, len = n * PG;
	unsigned long long f0, m0;
	uint64_t done = 0;
	long flt0;
	int fd = wd_test_new_region(WD_TEST_NODE, len, 0, 1);
	char *p;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	f0 = stat_of("devmem_faults");
	m0 = stat_of("devmem_pages_mapped");
	flt0 = wd_test_minflt();
	ASSERT_EQ(0, wd_test_populate(fd, p, len, &done));
	EXPECT_EQ(len, done);
	EXPECT_EQ(0, stat_of("devmem_faults") - f0);
	EXPECT_EQ(n, stat_of("devmem_pages_mapped") - m0);
	EXPECT_EQ(len, wd_test_resident(fd));
	wd_test_touch(p, len, 4);
	EXPECT_EQ(0, stat_of("devmem_faults") - f0);
	EXPECT_EQ(0, wd_test_minflt() - flt0);
	/* Twice: nothing new to map, all of it done. */
	m0 = stat_of("devmem_pages_mapped");
	ASSERT_EQ(0, wd_test_populate(fd, p + PG, len - PG, &done));
	EXPECT_EQ(len - PG, done);
	EXPECT_EQ(m0, stat_of("devmem_pages_mapped"));
	EXPECT_EQ(4, p[len - PG]);

	/* A hole punched in the middle is filled again, zeroed. */
	ASSERT_EQ(0, wd_test_punch(fd, 100 * PG, 300 * PG));
	EXPECT_EQ(len - 300 * PG, wd_test_resident(fd));
	ASSERT_EQ(0, wd_test_populate(fd, p, len, &done));
	EXPECT_EQ(len, done);
	EXPECT_EQ(300, stat_of("devmem_pages_mapped") - m0);
	EXPECT_TRUE(wd_test_all(p + 100 * PG, 300 * PG, 0));
	EXPECT_EQ(4, p[99 * PG]);
	EXPECT_EQ(4, p[400 * PG]);
	munmap(p, len);

	/* Populate a read-only mapping: mapped read-only. */
	p = wd_test_map(fd, len, PROT_READ, 0, 0);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, wd_test_populate(fd, p, len, &done));
	EXPECT_EQ(SIGSEGV, try_access(p, 1, 1));
	EXPECT_EQ(0, try_access(p, 0, 0));
	munmap(p, len);
	close(fd);
}

TEST_F(dm, populate_bad_arguments)
{
	size_t len = 32 * PG;
	int fd = wd_test_new_region(WD_TEST_NODE, len, 0, 0),
	    fd2 = wd_test_new_region(WD_TEST_NODE, len, 0, 0);
	struct wd_region_populate r;
	char *p, *q, *a, *none;
	uint64_t done;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, fd2);
	/* Leave a hole after the mapping, then an anonymous page. */
	a = mmap(NULL, len + 2 * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, a);
	p = mmap(a, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	ASSERT_EQ(a, p);
	q = wd_test_map_rw(fd2, len);
	ASSERT_NE(NULL, q);

	EXPECT_EQ(-EINVAL, wd_test_populate(fd, p, 0, NULL));
	EXPECT_EQ(-EINVAL, wd_test_populate(fd, p + 1, PG, NULL));
	EXPECT_EQ(-EINVAL, wd_test_populate(fd, p, PG + 1, NULL));
	EXPECT_EQ(-EFAULT, wd_test_populate(fd, (void *)(-PG), 2 * PG, NULL));
	EXPECT_EQ(-EFAULT, wd_test_populate(fd, (void *)0x0000800000000000UL,
					    PG, NULL));
	EXPECT_EQ(-EFAULT, wd_test_populate(fd, (void *)PG, PG, NULL));
	/* Another region's mapping, an anonymous one, PROT_NONE. */
	EXPECT_EQ(-EINVAL, wd_test_populate(fd, q, PG, NULL));
	EXPECT_EQ(-EINVAL, wd_test_populate(fd, p + len + PG, PG, NULL));
	none = wd_test_map(fd, PG, PROT_NONE, 0, 0);
	ASSERT_NE(NULL, none);
	EXPECT_EQ(-EACCES, wd_test_populate(fd, none, PG, NULL));
	munmap(none, PG);

	memset(&r, 0, sizeof(r));
	r.addr = (uintptr_t)p;
	r.len = PG;
	r.flags = 1;
	EXPECT_EQ(-1, ioctl(fd, WD_REGION_IOC_POPULATE, &r));
	EXPECT_EQ(EINVAL, errno);
	r.flags = 0;
	r.pad = 1;
	EXPECT_EQ(-1, ioctl(fd, WD_REGION_IOC_POPULATE, &r));
	EXPECT_EQ(EINVAL, errno);
	r.pad = 0;
	r.done = 1;
	EXPECT_EQ(-1, ioctl(fd, WD_REGION_IOC_POPULATE, &r));
	EXPECT_EQ(EINVAL, errno);
	r.done = 0;
	r.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(fd, WD_REGION_IOC_POPULATE, &r));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(fd, WD_REGION_IOC_POPULATE, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, wd_test_resident(fd));

	/* A range that runs out of the mapping: a short count, not an error. */
	munmap(a + len, 2 * PG);
	done = 0;
	EXPECT_EQ(0, wd_test_populate(fd, p + 8 * PG, len, &done));
	EXPECT_EQ(len - 8 * PG, done);
	EXPECT_EQ(len - 8 * PG, wd_test_resident(fd));
	munmap(p, len);
	munmap(q, len);
	close(fd);
	close(fd2);
}

TEST_F(dm, map_in_advance)
{
	size_t n = 700, len = n * PG;
	unsigned long long f0, m0;
	struct wd_region_info i;
	long flt0;
	int fd = wd_test_new_region(WD_TEST_NODE, len, WD_REGION_MAP_ADVANCE,
				    0);
	char *p;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, wd_test_region_info(fd, &i));
	EXPECT_EQ(WD_REGION_MAP_ADVANCE, i.flags);
	EXPECT_EQ(0, i.resident);
	f0 = stat_of("devmem_faults");
	m0 = stat_of("devmem_pages_mapped");
	/* mmap takes the memory; nothing is mapped before the VMA is linked. */
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, stat_of("devmem_pages_mapped") - m0);
	EXPECT_EQ(len, wd_test_resident(fd));
	/* The first touch maps the whole mapping, in one fault. */
	flt0 = wd_test_minflt();
	EXPECT_TRUE(wd_test_all(p + 300 * PG, PG, 0));
	EXPECT_EQ(f0 + 1, stat_of("devmem_faults"));
	EXPECT_EQ(n, stat_of("devmem_pages_mapped") - m0);
	EXPECT_TRUE(wd_test_all(p, len, 0));
	wd_test_touch(p, len, 1);
	EXPECT_EQ(f0 + 1, stat_of("devmem_faults"));
	EXPECT_EQ(1, wd_test_minflt() - flt0);
	/* A punched hole refills on fault, as for any region. */
	ASSERT_EQ(0, wd_test_punch(fd, 0, PG));
	EXPECT_EQ(0, p[0]);
	EXPECT_EQ(f0 + 2, stat_of("devmem_faults"));
	munmap(p, len);
	close(fd);
}

TEST_F(dm, punch_hole_and_reserve)
{
	unsigned long long size = pool_size(), m0;
	size_t n = 64, len = n * PG;
	int fd = wd_test_new_region(WD_TEST_NODE, len, 0, 0);
	char *p, *q;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	q = wd_test_map(fd, len, PROT_READ, 0, 0);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, q);
	memset(p, 0x77, len);
	EXPECT_TRUE(wd_test_all(q, len, 0x77));
	EXPECT_EQ(len, attr("devmem_used"));

	/* Zapped from every mapping, back to the pool, zero on next touch. */
	ASSERT_EQ(0, wd_test_punch(fd, 16 * PG, 8 * PG));
	EXPECT_EQ(len - 8 * PG, attr("devmem_used"));
	EXPECT_EQ(size - len + 8 * PG, attr("devmem_free"));
	EXPECT_EQ(len - 8 * PG, wd_test_resident(fd));
	EXPECT_TRUE(wd_test_all(q + 16 * PG, 8 * PG, 0));
	EXPECT_TRUE(wd_test_all(p + 16 * PG, 8 * PG, 0));
	EXPECT_TRUE(wd_test_all(p + 15 * PG, PG, 0x77));
	EXPECT_TRUE(wd_test_all(p + 24 * PG, PG, 0x77));
	/* Punch of what is not there, of the end, of everything. */
	ASSERT_EQ(0, wd_test_punch(fd, 16 * PG, 8 * PG));
	ASSERT_EQ(0, wd_test_punch(fd, len - PG, PG));
	EXPECT_EQ(0, q[len - 1]);
	ASSERT_EQ(0, wd_test_punch(fd, 0, len));
	EXPECT_EQ(0, wd_test_resident(fd));
	EXPECT_EQ(0, attr("devmem_used"));

	/* Bad ranges and modes. */
	EXPECT_EQ(-EINVAL, wd_test_punch(fd, 1, PG));
	EXPECT_EQ(-EINVAL, wd_test_punch(fd, 0, PG - 1));
	EXPECT_EQ(-EINVAL, wd_test_punch(fd, 0, len + PG));
	EXPECT_EQ(-EINVAL, wd_test_punch(fd, len, PG));
	EXPECT_EQ(-EINVAL, wd_test_punch(fd, len - PG, 2 * PG));
	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, PG));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, PG));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, PG));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_INSERT_RANGE, 0, PG));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, fallocate(fd, 0x100, 0, PG));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, fallocate(fd, 0, -PG, PG));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, fallocate(fd, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, fallocate(fd, 0, 0x7ffffffffffff000LL, 0x2000));
	EXPECT_EQ(EFBIG, errno);

	/* Reserve: memory taken, zeroed, nothing mapped until touched. */
	m0 = stat_of("devmem_pages_mapped");
	ASSERT_EQ(0, fallocate(fd, 0, 8 * PG, 8 * PG));
	EXPECT_EQ(8 * PG, wd_test_resident(fd));
	EXPECT_EQ(8 * PG, attr("devmem_used"));
	EXPECT_EQ(m0, stat_of("devmem_pages_mapped"));
	ASSERT_EQ(0, fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 16 * PG));
	EXPECT_EQ(16 * PG, wd_test_resident(fd));
	EXPECT_TRUE(wd_test_all(p, 16 * PG, 0));

	/* MADV_REMOVE is a punch through a mapping. */
	memset(p, 0x33, len);
	ASSERT_EQ(0, madvise(p + 4 * PG, 4 * PG, MADV_REMOVE));
	EXPECT_EQ(len - 4 * PG, wd_test_resident(fd));
	EXPECT_TRUE(wd_test_all(q + 4 * PG, 4 * PG, 0));
	EXPECT_TRUE(wd_test_all(q + 8 * PG, PG, 0x33));

	munmap(p, len);
	munmap(q, len);
	close(fd);
	EXPECT_EQ(0, wd_test_wait_used(SYSDEV, 0));
}

/* MADV_DONTNEED drops page table entries only: the memory stays. */
TEST_F(dm, madv_dontneed)
{
	size_t n = 32, len = n * PG;
	unsigned long long used, f0;
	int fd = wd_test_new_region(WD_TEST_NODE, len, 0, 1);
	char *p;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	memset(p, 0x42, len);
	used = attr("devmem_used");
	ASSERT_EQ(0, madvise(p, len, MADV_DONTNEED));
	EXPECT_EQ(used, attr("devmem_used"));
	EXPECT_EQ(len, wd_test_resident(fd));
	f0 = stat_of("devmem_faults");
	EXPECT_TRUE(wd_test_all(p, len, 0x42));
	EXPECT_EQ(n, stat_of("devmem_faults") - f0);
	munmap(p, len);
	close(fd);
}

/* Take file descriptor @fd of process @pid (the guest has no AF_UNIX). */
static int grab_fd(pid_t pid, int fd)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0), ret;

	if (pidfd < 0)
		return -errno;
	ret = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	close(pidfd);
	return ret < 0 ? -errno : ret;
}

/* A region passed to a process that never opened the device. */
TEST_F(dm, two_processes_share)
{
	size_t len = 48 * PG;
	int to_child[2], to_parent[2], status, fd;
	char *p, c;
	pid_t pid;

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int num, rfd;
		char *m;

		if (read(to_child[0], &num, sizeof(num)) != sizeof(num))
			_exit(1);
		rfd = grab_fd(getppid(), num);
		if (rfd < 0)
			_exit(10);
		m = wd_test_map_rw(rfd, len);
		if (!m || !wd_test_all(m, len, 'P'))
			_exit(2);
		memset(m + PG, 'C', PG);
		if (wd_test_populate(rfd, m, len, NULL))
			_exit(3);
		if (write(to_parent[1], "w", 1) != 1 || read(to_child[0], &c, 1) != 1)
			_exit(4);
		/* The parent punched: this mapping sees it. */
		if (!wd_test_all(m, PG, 0) || !wd_test_all(m + 2 * PG, PG, 'P'))
			_exit(5);
		_exit(0);
	}
	fd = wd_test_new_region(WD_TEST_NODE, len, 0, 0);
	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	memset(p, 'P', len);
	ASSERT_EQ(sizeof(fd), write(to_child[1], &fd, sizeof(fd)));
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	EXPECT_TRUE(wd_test_all(p + PG, PG, 'C'));
	ASSERT_EQ(0, wd_test_punch(fd, 0, PG));
	ASSERT_EQ(1, write(to_child[1], "p", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	munmap(p, len);
	close(fd);
	EXPECT_EQ(0, wd_test_wait_used(SYSDEV, 0));
}

/* fork(): the child's mapping is the same memory (shared, not copied). */
TEST_F(dm, fork_shares)
{
	size_t len = 32 * PG;
	int fd = wd_test_new_region(WD_TEST_NODE, len, 0, 0), status;
	unsigned long long used;
	char *p;
	pid_t pid;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	memset(p, 'A', 16 * PG);	/* half present, half not yet */
	used = attr("devmem_used");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (!wd_test_all(p, 16 * PG, 'A') ||
		    !wd_test_all(p + 16 * PG, 16 * PG, 0))
			_exit(1);
		memset(p, 'B', len);
		if (wd_test_punch(fd, 4 * PG, PG))
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_TRUE(wd_test_all(p, 4 * PG, 'B'));
	EXPECT_TRUE(wd_test_all(p + 4 * PG, PG, 0));
	EXPECT_TRUE(wd_test_all(p + 5 * PG, len - 5 * PG, 'B'));
	/* Nothing was copied: the pool holds one copy of the region. */
	EXPECT_LE(used, attr("devmem_used"));
	EXPECT_EQ(len, attr("devmem_used"));
	munmap(p, len);
	close(fd);
}

/* The fd closed while mapped; the file lives as long as the mapping. */
TEST_F(dm, close_while_mapped)
{
	size_t len = 32 * PG;
	int fd = wd_test_new_region(WD_TEST_NODE, len, 0, 1);
	char *p;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	memset(p, 1, len / 2);
	close(fd);
	EXPECT_EQ(len / 2, attr("devmem_used"));
	memset(p, 2, len);
	EXPECT_TRUE(wd_test_all(p, len, 2));
	EXPECT_EQ(len, attr("devmem_used"));
	munmap(p, len);
	EXPECT_EQ(0, wd_test_wait_used(SYSDEV, 0));
}

/* Splits by munmap and mprotect of the middle of a mapping. */
TEST_F(dm, split_mappings)
{
	size_t n = 64, len = n * PG;
	int fd = wd_test_new_region(WD_TEST_NODE, len, 0, 16);
	uint64_t done;
	char *p;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	memset(p, 'x', len);

	ASSERT_EQ(0, munmap(p + 16 * PG, 8 * PG));
	EXPECT_EQ(SIGSEGV, try_access(p + 16 * PG, 0, 0));
	EXPECT_TRUE(wd_test_all(p, 16 * PG, 'x'));
	EXPECT_TRUE(wd_test_all(p + 24 * PG, len - 24 * PG, 'x'));
	/* The unmapped part is still the region's. */
	EXPECT_EQ(len, wd_test_resident(fd));

	ASSERT_EQ(0, mprotect(p + 32 * PG, 8 * PG, PROT_READ));
	EXPECT_EQ(SIGSEGV, try_access(p + 33 * PG, 1, 1));
	EXPECT_EQ(0, try_access(p + 33 * PG, 0, 0));
	EXPECT_EQ(0, try_access(p + 31 * PG, 1, 'y'));
	EXPECT_EQ(0, try_access(p + 40 * PG, 1, 'y'));

	/* Punch across all the pieces; each faults back in zeroed. */
	ASSERT_EQ(0, wd_test_punch(fd, 8 * PG, 40 * PG));
	EXPECT_TRUE(wd_test_all(p + 8 * PG, 8 * PG, 0));
	EXPECT_TRUE(wd_test_all(p + 24 * PG, 24 * PG, 0));
	EXPECT_EQ('x', p[7 * PG]);
	EXPECT_EQ('x', p[48 * PG]);
	/* Populate across the read-only piece (between two writable ones). */
	ASSERT_EQ(0, wd_test_punch(fd, 0, len));
	ASSERT_EQ(0, wd_test_populate(fd, p + 24 * PG, len - 24 * PG, &done));
	EXPECT_EQ(len - 24 * PG, done);
	EXPECT_EQ(SIGSEGV, try_access(p + 34 * PG, 1, 1));
	EXPECT_EQ(0, mprotect(p + 32 * PG, 8 * PG, PROT_READ | PROT_WRITE));
	memset(p + 24 * PG, 'z', len - 24 * PG);
	/* Through the hole it stops short. */
	ASSERT_EQ(0, wd_test_populate(fd, p, len, &done));
	EXPECT_EQ(16 * PG, done);
	munmap(p, len);
	close(fd);
	EXPECT_EQ(0, wd_test_wait_used(SYSDEV, 0));
}

/* A different process reads region memory through GUP. */
TEST_F(dm, gup_from_another_process)
{
	size_t len = 16 * PG;
	int fd = wd_test_new_region(WD_TEST_NODE, len, 0, 1), status;
	char *p, buf[4 * 4096];
	pid_t parent = getpid(), pid;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	memset(p, 'g', 4 * PG);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct iovec local = { buf, sizeof(buf) };
		struct iovec remote = { p + 2 * PG, sizeof(buf) };

		/* Two pages present, two never touched: read as zero. */
		if (process_vm_readv(parent, &local, 1, &remote, 1, 0) != sizeof(buf))
			_exit(1);
		_exit(wd_test_all(buf, 2 * PG, 'g') &&
		      wd_test_all(buf + 2 * PG, 2 * PG, 0) ? 0 : 2);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(6 * PG, wd_test_resident(fd));
	munmap(p, len);
	close(fd);
}

/* The engines use region mappings like any memory: SVA mode. */
TEST_F(dm, engine_sva_on_region)
{
	size_t len = 256 * PG;
	int fd = wd_test_new_region(WD_TEST_NODE, len, 0, 0);
	unsigned long long f0;
	char *p, *src, *back;
	struct tq t;
	size_t i;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	src = malloc(len);
	back = malloc(len);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, back);
	for (i = 0; i < len; i++)
		src[i] = (char)(i * 7 + 3);
	ASSERT_EQ(0, tq_open(&t, 8, 0));

	/* The device faults the untouched region in itself. */
	f0 = stat_of("devmem_faults");
	ASSERT_EQ(WD_ST_OK, tq_dev_copy(&t, p, src, len));
	EXPECT_LT(f0, stat_of("devmem_faults"));
	EXPECT_EQ(0, memcmp(p, src, len));
	EXPECT_EQ(len, wd_test_resident(fd));
	ASSERT_EQ(WD_ST_OK, tq_dev_copy(&t, back, p, len));
	EXPECT_EQ(0, memcmp(back, src, len));

	/* After a punch the device sees the fresh zeroed memory, not the old. */
	ASSERT_EQ(0, wd_test_punch(fd, 0, len / 2));
	ASSERT_EQ(WD_ST_OK, tq_dev_copy(&t, back, p, len));
	EXPECT_TRUE(wd_test_all(back, len / 2, 0));
	EXPECT_EQ(0, memcmp(back + len / 2, src + len / 2, len / 2));
	/* Region to region. */
	ASSERT_EQ(WD_ST_OK, tq_dev_copy(&t, p, p + len / 2, len / 2));
	EXPECT_EQ(0, memcmp(p, src + len / 2, len / 2));
	tq_close(&t);
	munmap(p, len);
	close(fd);
	free(src);
	free(back);
}

static int dev_share(int fd, void *addr, size_t len, uint32_t access, unsigned long cmd)
{
	struct wd_share_req r = { .addr = (uintptr_t)addr, .len = len, .access = access };

	return ioctl(fd, cmd, &r) ? -errno : 0;
}

/*
 * Pinned pages punched out of a region are not reused while pinned: the
 * device keeps writing to its old pages, no one else ever gets them.
 */
TEST_F(dm, pinned_pages_held_back)
{
	unsigned long long size = pool_size();
	size_t n = 16, len = n * PG, rest;
	struct wd_queue_info qi = { .sq_entries = 8 };
	int fd = wd_test_new_region(WD_TEST_NODE, len, 0, 0), fd2;
	char *p, *src, *big;
	uint64_t done;
	struct tq t;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	src = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	memset(src, 'D', len);
	memset(p, 'p', len);

	memset(&t, 0, sizeof(t));
	t.fd = wd_test_dev_open(WD_TEST_NODE);
	ASSERT_LE(0, t.fd);
	ASSERT_EQ(WD_MMU_PINNED, wd_test_set_mode(t.fd, WD_MMU_PINNED));
	ASSERT_EQ(0, dev_share(t.fd, p, len, WD_SHARE_READ | WD_SHARE_WRITE, WD_IOC_SHARE));
	ASSERT_EQ(0, dev_share(t.fd, src, len, WD_SHARE_READ, WD_IOC_SHARE));
	ASSERT_EQ(0, tq_get(t.fd, &qi));
	t.info = qi;
	t.ctrl = (void *)wd_test_map(t.fd, qi.ctrl_size, PROT_READ | PROT_WRITE,
				     0, qi.ctrl_offset);
	t.sq = (void *)wd_test_map(t.fd, qi.sq_size, PROT_READ | PROT_WRITE, 0,
				   qi.sq_offset);
	t.cqh = (void *)wd_test_map(t.fd, qi.cq_size, PROT_READ, 0,
				    qi.cq_offset);
	ASSERT_NE(NULL, t.ctrl);
	ASSERT_NE(NULL, t.sq);
	ASSERT_NE(NULL, t.cqh);
	t.cq = (struct wd_cqe *)((char *)t.cqh + WD_CQ_HDR_SIZE);

	ASSERT_EQ(0, wd_test_punch(fd, 0, len));
	EXPECT_EQ(n, stat_of("devmem_held_pages"));
	EXPECT_EQ(0, wd_test_resident(fd));
	EXPECT_EQ(size - len, attr("devmem_free"));
	/* The CPU sees fresh memory; the device its pinned old pages. */
	EXPECT_TRUE(wd_test_all(p, len, 0));
	ASSERT_EQ(WD_ST_OK, tq_dev_copy(&t, p, src, len));
	EXPECT_TRUE(wd_test_all(p, len, 0));

	/* Take everything the pool has: the held pages are not among it. */
	rest = size - 2 * len;
	fd2 = wd_test_new_region(WD_TEST_NODE, size, 0, 0);
	ASSERT_LE(0, fd2);
	big = wd_test_map_rw(fd2, size);
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, wd_test_populate(fd2, big, size, &done));
	EXPECT_EQ(rest, done);
	EXPECT_EQ(0, attr("devmem_free"));
	EXPECT_TRUE(wd_test_all(big, PG, 0));
	EXPECT_TRUE(wd_test_all(big + rest - PG, PG, 0));

	/* Reading the figures (cheap now) changes nothing. */
	for (int k = 0; k < 100; k++)
		ASSERT_EQ(n, stat_of("devmem_held_pages"));
	EXPECT_EQ(0, attr("devmem_free"));
	EXPECT_EQ(size, attr("devmem_used"));

	/* Unpinned, they come back (the pool looks at them on its own). */
	ASSERT_EQ(0, dev_share(t.fd, p, len, 0, WD_IOC_UNSHARE));
	EXPECT_EQ(0, wait_held(0));
	EXPECT_EQ(len, attr("devmem_free"));
	EXPECT_EQ(size - len, attr("devmem_used"));
	ASSERT_EQ(0, wd_test_populate(fd2, big + rest, len, &done));
	EXPECT_EQ(len, done);
	EXPECT_TRUE(wd_test_all(big + rest, len, 0));
	tq_close(&t);
	munmap(big, size);
	close(fd2);
	munmap(p, len);
	close(fd);
	munmap(src, len);
	EXPECT_EQ(0, wd_test_wait_used(SYSDEV, 0));
}

/* Pool exhausted: SIGBUS, EFAULT, ENOSPC, short counts, ENOMEM. */
TEST_F(dm, exhaustion)
{
	unsigned long long size = pool_size();
	size_t len = 64 * PG;
	int big, fd, adv;
	uint64_t done;
	char *all_of_it, *p;

	big = wd_test_new_region(WD_TEST_NODE, size, 0, 0);
	ASSERT_LE(0, big);
	all_of_it = wd_test_map_rw(big, size);
	ASSERT_NE(NULL, all_of_it);
	ASSERT_EQ(0, wd_test_populate(big, all_of_it, size - 3 * PG, &done));
	EXPECT_EQ(size - 3 * PG, done);
	EXPECT_EQ(3 * PG, attr("devmem_free"));

	fd = wd_test_new_region(WD_TEST_NODE, len, 0, 16);
	ASSERT_LE(0, fd);
	p = wd_test_map_aligned(fd, len, 16 * PG);
	ASSERT_NE(NULL, p);
	/*
	 * The window of page 20 is [16, 32): the faulting page is served
	 * first, then fault-around takes what is left: pages 16 and 17.
	 */
	EXPECT_EQ(0, try_access(p + 20 * PG, 1, 1));
	EXPECT_EQ(0, attr("devmem_free"));
	EXPECT_EQ(3 * PG, wd_test_resident(fd));
	EXPECT_EQ(1, p[20 * PG]);
	EXPECT_EQ(0, try_access(p + 17 * PG, 1, 2));
	EXPECT_EQ(SIGBUS, try_access(p + 18 * PG, 1, 1));
	EXPECT_EQ(SIGBUS, try_access(p + 40 * PG, 0, 0));
	EXPECT_EQ(-1, madvise(p + 32 * PG, 8 * PG, MADV_POPULATE_WRITE));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, madvise(p + 32 * PG, 8 * PG, MADV_POPULATE_READ));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-ENOSPC, wd_test_populate(fd, p + 32 * PG, 8 * PG, &done));
	/* A range starting with present pages: a short count. */
	EXPECT_EQ(0, wd_test_populate(fd, p + 16 * PG, 16 * PG, &done));
	EXPECT_EQ(2 * PG, done);
	EXPECT_EQ(-1, fallocate(fd, 0, 40 * PG, PG));
	EXPECT_EQ(ENOSPC, errno);
	/* An engine writing there takes the same SIGBUS: a failed command. */
	{
		static char src[PG];
		struct tq t;

		ASSERT_EQ(0, tq_open(&t, 8, 0));
		EXPECT_EQ(WD_ST_FAULT, tq_dev_copy(&t, p + 48 * PG, src, PG));
		EXPECT_EQ(WD_ST_OK, tq_dev_copy(&t, p + 16 * PG, src, PG));
		tq_close(&t);
	}
	/* MAP_POPULATE does what it can, silently; map-in-advance fails. */
	munmap(p, len);
	p = wd_test_map(fd, len, PROT_READ | PROT_WRITE, MAP_POPULATE, 0);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(SIGBUS, try_access(p + 63 * PG, 1, 1));
	EXPECT_EQ(2, p[17 * PG]);
	munmap(p, len);
	adv = wd_test_new_region(WD_TEST_NODE, len, WD_REGION_MAP_ADVANCE, 0);
	ASSERT_LE(0, adv);
	EXPECT_EQ(NULL, wd_test_map_rw(adv, len));
	EXPECT_EQ(ENOMEM, errno);

	/* Give 4 pages back: a populate asking for more stops short. */
	ASSERT_EQ(0, wd_test_punch(big, 0, 4 * PG));
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, wd_test_populate(fd, p + 16 * PG, 48 * PG, &done));
	EXPECT_EQ(7 * PG, done);	/* 16, 17, 20 were there; 4 new */
	EXPECT_TRUE(wd_test_all(p + 18 * PG, 2 * PG, 0));
	EXPECT_TRUE(wd_test_all(p + 21 * PG, 2 * PG, 0));
	EXPECT_EQ(SIGBUS, try_access(p + 23 * PG, 0, 0));
	ASSERT_EQ(0, wd_test_punch(big, 4 * PG, len));
	munmap(p, len);
	p = wd_test_map_rw(adv, len);
	EXPECT_NE(NULL, p);
	munmap(p, len);
	munmap(all_of_it, size);
	close(big);
	close(fd);
	close(adv);
	EXPECT_EQ(0, wd_test_wait_used(SYSDEV, 0));
}

static int write_quota(void *arg)
{
	return wd_test_write_str(SYSDEV "devmem_user_quota", arg) == -EACCES ?
	       0 : 1;
}

/* As another user: a quota of its own, whatever root holds. */
static int other_user_quota(void *arg)
{
	size_t q = *(size_t *)arg;
	struct wd_region_info i;
	int dev = wd_test_dev_open(WD_TEST_NODE), fd;
	uint64_t done = 0;
	char *p;

	if (dev < 0)
		return 10;
	fd = wd_test_region_create(dev, 2 * q, 0, 1);
	if (fd < 0)
		return 11;
	p = wd_test_map_rw(fd, 2 * q);
	if (!p)
		return 12;
	if (wd_test_populate(fd, p, 2 * q, &done) || done != q)
		return 13;
	if (wd_test_region_info(fd, &i) || i.user_charged != q ||
	    i.user_quota != q)
		return 14;
	/* Reopening does not help this user either. */
	close(fd);
	close(dev);
	munmap(p, 2 * q);
	/* The region is gone: its charge went with it. */
	dev = wd_test_dev_open(WD_TEST_NODE);
	fd = wd_test_region_create(dev, q, 0, 1);
	p = wd_test_map_rw(fd, q);
	if (dev < 0 || fd < 0 || !p || wd_test_populate(fd, p, q, &done) ||
	    done != q)
		return 15;
	return 0;
}

TEST_F(dm, user_quota)
{
	size_t q = 64 * PG, len = 128 * PG;
	int dev1 = wd_test_dev_open(WD_TEST_NODE),
	    dev2 = wd_test_dev_open(WD_TEST_NODE), dev3, a, b, c, d;
	struct wd_region_info i;
	char buf[32], *pa, *pb, *pc, *pd;
	uint64_t done;

	ASSERT_LE(0, dev1);
	ASSERT_LE(0, dev2);
	/* Only root sets it. */
	EXPECT_EQ(0, wd_test_as_nobody(write_quota, "4096"));
	EXPECT_EQ(-EINVAL,
		  wd_test_write_str(SYSDEV "devmem_user_quota", "lots"));
	snprintf(buf, sizeof(buf), "%zu", q);
	ASSERT_EQ(0, wd_test_write_str(SYSDEV "devmem_user_quota", buf));
	EXPECT_EQ(q, attr("devmem_user_quota"));

	a = wd_test_region_create(dev1, len, 0, 1);
	b = wd_test_region_create(dev1, len, 0, 1);
	c = wd_test_region_create(dev2, len, 0, 1);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_LE(0, c);
	pa = wd_test_map_rw(a, len);
	pb = wd_test_map_rw(b, len);
	pc = wd_test_map_rw(c, len);
	ASSERT_NE(NULL, pa);
	ASSERT_NE(NULL, pb);
	ASSERT_NE(NULL, pc);

	/* One user's regions share the quota, over all its opens. */
	ASSERT_EQ(0, wd_test_populate(a, pa, 48 * PG, &done));
	EXPECT_EQ(48 * PG, done);
	ASSERT_EQ(0, wd_test_populate(c, pc, len, &done));
	EXPECT_EQ(16 * PG, done);
	EXPECT_EQ(-EDQUOT, wd_test_populate(b, pb, PG, &done));
	EXPECT_EQ(-EDQUOT, wd_test_populate(a, pa + 48 * PG, PG, &done));
	EXPECT_EQ(SIGBUS, try_access(pa + 100 * PG, 1, 1));
	EXPECT_EQ(-1, madvise(pa + 100 * PG, PG, MADV_POPULATE_WRITE));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, fallocate(a, 0, 100 * PG, PG));
	EXPECT_EQ(EDQUOT, errno);
	ASSERT_EQ(0, wd_test_region_info(a, &i));
	EXPECT_EQ(q, i.user_charged);
	EXPECT_EQ(q, i.user_quota);
	EXPECT_EQ(48 * PG, i.resident);

	/* Closing and reopening the device gives no fresh quota. */
	close(dev1);
	close(dev2);
	dev3 = wd_test_dev_open(WD_TEST_NODE);
	ASSERT_LE(0, dev3);
	d = wd_test_region_create(dev3, len, 0, 1);
	ASSERT_LE(0, d);
	pd = wd_test_map_rw(d, len);
	ASSERT_NE(NULL, pd);
	EXPECT_EQ(-EDQUOT, wd_test_populate(d, pd, len, &done));
	ASSERT_EQ(0, wd_test_region_info(d, &i));
	EXPECT_EQ(q, i.user_charged);

	/* Another user has a quota of its own. */
	ASSERT_EQ(0, chmod(WD_TEST_NODE, 0666));
	EXPECT_EQ(0, wd_test_as_nobody(other_user_quota, &q));
	ASSERT_EQ(0, chmod(WD_TEST_NODE, 0600));
	ASSERT_EQ(0, wd_test_region_info(d, &i));
	EXPECT_EQ(q, i.user_charged);

	/* Giving back makes room, also after the contexts are closed. */
	ASSERT_EQ(0, wd_test_punch(a, 0, 8 * PG));
	ASSERT_EQ(0, wd_test_populate(d, pd, len, &done));
	EXPECT_EQ(8 * PG, done);
	ASSERT_EQ(0, wd_test_region_info(b, &i));
	EXPECT_EQ(q, i.user_charged);

	/* 0 lifts the limit. */
	ASSERT_EQ(0, wd_test_write_str(SYSDEV "devmem_user_quota", "0"));
	ASSERT_EQ(0, wd_test_populate(b, pb, len, &done));
	EXPECT_EQ(len, done);
	ASSERT_EQ(0, wd_test_region_info(b, &i));
	EXPECT_EQ(q + len, i.user_charged);
	EXPECT_EQ(0, i.user_quota);
	munmap(pa, len);
	munmap(pb, len);
	munmap(pc, len);
	munmap(pd, len);
	close(a);
	close(b);
	close(c);
	close(d);
	close(dev3);
	EXPECT_EQ(0, wd_test_wait_used(SYSDEV, 0));
}

/* A region's size is fixed: truncating it fails and changes nothing. */
TEST_F(dm, truncate_refused)
{
	size_t len = 16 * PG;
	int fd = wd_test_new_region(WD_TEST_NODE, len, 0, 0), other;
	char path[64], *p;
	struct stat st;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	memset(p, 'T', len);

	EXPECT_EQ(-1, ftruncate(fd, 2 * len));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ftruncate(fd, len / 2));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ftruncate(fd, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0, ftruncate(fd, len));
	/* Through the path too. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	EXPECT_EQ(-1, truncate(path, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, truncate(path, 3 * len));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0, truncate(path, len));
	/* The file cannot be opened again by path, O_TRUNC or not. */
	other = open(path, O_RDWR | O_TRUNC);
	EXPECT_EQ(-1, other);
	EXPECT_EQ(ENXIO, errno);
	if (other >= 0)
		close(other);

	/* Nothing changed: size, resident memory, the data, the mapping. */
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(len, st.st_size);
	EXPECT_EQ(len, wd_test_resident(fd));
	EXPECT_TRUE(wd_test_all(p, len, 'T'));
	munmap(p, len);
	close(fd);
}

struct adv_racer {
	int fd;
	size_t len;
	volatile int seq;
	volatile int done;
	volatile int stop;
};

static void *adv_puncher(void *arg)
{
	struct adv_racer *r = arg;
	int seen = 0;

	for (;;) {
		while (r->seq == seen && !r->stop)
			;
		if (r->stop)
			break;
		seen = r->seq;
		wd_test_punch(r->fd, 0, r->len);
		__atomic_store_n(&r->done, seen, __ATOMIC_RELEASE);
	}
	return NULL;
}

/*
 * A map-in-advance mmap racing a punch of the whole region: once both
 * are over, every page of the new mapping (and of the old one) reads
 * zero, never the punched data.
 */
TEST_F_TIMEOUT(dm, map_advance_races_punch, 300)
{
	struct adv_racer r = { .len = 4 * PG };
	int round, stale = 0, mapfail = 0;
	struct timespec t0, t;
	pthread_t th;
	char *w, *m;
	size_t off;

	r.fd = wd_test_new_region(WD_TEST_NODE, r.len, WD_REGION_MAP_ADVANCE,
				  0);
	ASSERT_LE(0, r.fd);
	w = wd_test_map_rw(r.fd, r.len);
	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, pthread_create(&th, NULL, adv_puncher, &r));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (round = 1; round <= 3000; round++) {
		memset(w, 0x5a, r.len);
		__atomic_store_n(&r.seq, round, __ATOMIC_RELEASE);
		m = mmap(NULL, r.len, PROT_READ, MAP_SHARED, r.fd, 0);
		while (__atomic_load_n(&r.done, __ATOMIC_ACQUIRE) != round)
			;
		if (m == MAP_FAILED) {
			mapfail++;
			continue;
		}
		for (off = 0; off < r.len; off += PG)
			if (m[off] || w[off])
				stale++;
		munmap(m, r.len);
		if (stale)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 30)
			break;
	}
	r.stop = 1;
	pthread_join(th, NULL);
	TH_LOG("%d rounds, %d stale pages, %d mmap failures", round, stale, mapfail);
	EXPECT_EQ(0, stale);
	EXPECT_EQ(0, mapfail);
	munmap(w, r.len);
	close(r.fd);
	EXPECT_EQ(0, wd_test_wait_used(SYSDEV, 0));
}

/* Processes that exit (or are killed) with regions mapped leak nothing. */
TEST_F(dm, no_leak_on_exit)
{
	size_t len = 256 * PG;
	int i, status;
	pid_t pid;

	for (i = 0; i < 4; i++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			int dev = wd_test_dev_open(WD_TEST_NODE);
			int fd = wd_test_region_create(dev, len, i == 3 ?
					WD_REGION_MAP_ADVANCE : 0, 0);
			char *p = wd_test_map_rw(fd, len);

			if (!p)
				_exit(1);
			memset(p, i, len / 2);
			if (i == 1)
				fallocate(fd, 0, len / 2, len / 4);
			if (i == 2)
				close(dev);	/* context gone, region stays */
			if (i >= 2)
				kill(getpid(), SIGKILL);
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
	}
	EXPECT_EQ(0, wd_test_wait_used(SYSDEV, 0));
	EXPECT_EQ(pool_size(), attr("devmem_free"));
}

/* Punching races every way of mapping; reused memory is always zeroed. */
struct racer {
	int fd;
	char *p;
	size_t len;
	int what;
	volatile int stop;
	unsigned long rounds;
	unsigned long bad;
};

enum { R_PUNCH, R_TOUCH, R_POPULATE, R_MADVISE, R_DONTNEED, R_FORK, R_NR };

static void *race_loop(void *arg)
{
	struct racer *r = arg;
	size_t i, n = r->len / PG;
	uint64_t done;

	while (!r->stop) {
		switch (r->what) {
		case R_PUNCH:
			i = r->rounds % n;
			wd_test_punch(r->fd, i * PG,
				      (i + 7 < n ? 7 : n - i) * PG);
			if (r->rounds % 5 == 0)
				wd_test_punch(r->fd, 0, r->len);
			break;
		case R_TOUCH:
			for (i = 0; i < n; i += 3) {
				char v = ((volatile char *)r->p)[i * PG];

				/* Zero, or what the toucher writes: never garbage. */
				if (v != 0 && v != 'T')
					r->bad++;
				((volatile char *)r->p)[i * PG] = 'T';
			}
			break;
		case R_POPULATE:
			wd_test_populate(r->fd, r->p, r->len, &done);
			break;
		case R_MADVISE:
			madvise(r->p, r->len, r->rounds & 1 ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
			break;
		case R_DONTNEED:
			madvise(r->p, r->len, MADV_DONTNEED);
			break;
		case R_FORK: {
			pid_t pid = fork();

			if (pid == 0) {
				((volatile char *)r->p)[0] = 0;
				_exit(0);
			}
			waitpid(pid, NULL, 0);
			break;
		}
		}
		r->rounds++;
	}
	return NULL;
}

TEST_F_TIMEOUT(dm, punch_races_mappers, 300)
{
	static const char *const names[] = {
		"punch", "touch", "populate", "madvise", "dontneed", "fork",
	};
	size_t len = 64 * PG;
	struct racer r[R_NR];
	pthread_t th[R_NR];
	int fd = wd_test_new_region(WD_TEST_NODE, len, 0, 8),
	    other = wd_test_new_region(WD_TEST_NODE, len, 0, 0);
	char *p, *o;
	int w, k;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, other);
	p = wd_test_map_rw(fd, len);
	o = wd_test_map_rw(other, len);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, o);
	for (w = 0; w < R_NR; w++) {
		r[w] = (struct racer){ .fd = fd, .p = p, .len = len, .what = w };
		ASSERT_EQ(0, pthread_create(&th[w], NULL, race_loop, &r[w]));
	}
	/* Meanwhile another region recycles pages with a pattern. */
	for (k = 0; k < 300; k++) {
		memset(o, 0xee, len);
		wd_test_punch(other, 0, len);
	}
	for (w = 0; w < R_NR; w++) {
		r[w].stop = 1;
		pthread_join(th[w], NULL);
	}
	for (w = 0; w < R_NR; w++) {
		TH_LOG("%s: %lu rounds", names[w], r[w].rounds);
		EXPECT_EQ(0, r[w].bad);
	}
	/* Each page of the region is zero or the toucher's. */
	for (k = 0; k < (int)len; k++)
		if (p[k] != 0 && p[k] != 'T')
			break;
	EXPECT_EQ(len, k);
	munmap(p, len);
	munmap(o, len);
	close(fd);
	close(other);
	EXPECT_EQ(0, wd_test_wait_used(SYSDEV, 0));
}

/* A signal stops the populate ioctl early with a short count. */
static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	got_usr1 = 1;
}

struct kicker {
	pthread_t target;
	unsigned long long used0;
	volatile int stop;
};

static void *kick_when_started(void *arg)
{
	struct kicker *k = arg;

	while (!k->stop) {
		if (attr("devmem_used") != k->used0) {
			pthread_kill(k->target, SIGUSR1);
			break;
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(dm, signal_stops_populate, 120)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	unsigned long long size = pool_size();
	int fd = wd_test_new_region(WD_TEST_NODE, size, 0, 0);
	int tries, shorts = 0, ret;
	uint64_t done = 0;
	char *p;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, size);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	for (tries = 0; tries < 10 && !shorts; tries++) {
		struct kicker k = { .target = pthread_self(), .used0 = attr("devmem_used") };
		pthread_t th;

		got_usr1 = 0;
		ASSERT_EQ(0, pthread_create(&th, NULL, kick_when_started, &k));
		ret = wd_test_populate(fd, p, size, &done);
		k.stop = 1;
		pthread_join(th, NULL);
		if (ret == 0 && done < size) {
			shorts++;
			EXPECT_TRUE(got_usr1);
			EXPECT_EQ(0, done % PG);
			/* The rest comes with the next call or on touch. */
			EXPECT_TRUE(wd_test_all(p + done, PG, 0));
			ASSERT_EQ(0, wd_test_populate(fd, p + done, size - done,
						      &done));
		} else {
			EXPECT_TRUE(ret == 0 || ret == -EINTR);
		}
		ASSERT_EQ(0, wd_test_punch(fd, 0, size));
	}
	TH_LOG("%d tries, %d stopped short by the signal", tries, shorts);
	EXPECT_EQ(1, shorts);
	munmap(p, size);
	close(fd);
}

TEST_F(dm, libwd_and_wdctl)
{
	struct wd_devmem_usage u;
	struct wd_region_info i;
	struct wd_dev *dev;
	size_t done = 0, n;
	char buf[8192];
	void *addr;
	FILE *f;
	int fd;

	ASSERT_EQ(0, wd_open(WD_TEST_DEV, &dev));
	ASSERT_EQ(0, wd_region_create(dev, 64 * PG, WD_REGION_CLOEXEC, &fd));
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	EXPECT_EQ(-EINVAL, wd_region_create(dev, 0, 0, &fd));
	EXPECT_EQ(-1, fd);
	ASSERT_EQ(0, wd_region_create_ex(dev, 64 * PG, 0, 4, &fd));
	ASSERT_EQ(0, wd_region_info(fd, &i));
	EXPECT_EQ(4, i.fault_around);
	ASSERT_EQ(0, wd_region_map(fd, 64 * PG, PROT_READ | PROT_WRITE, 0, &addr));
	ASSERT_EQ(0, wd_region_populate(fd, addr, 32 * PG, &done));
	EXPECT_EQ(32 * PG, done);
	{
		void *other;

		EXPECT_EQ(-EINVAL, wd_region_map(fd, PG, PROT_READ, MAP_PRIVATE, &other));
		EXPECT_EQ(-EINVAL, wd_region_map(fd, 128 * PG, PROT_READ, 0, &other));
	}
	ASSERT_EQ(0, wd_region_reserve(fd, 32 * PG, 16 * PG));
	ASSERT_EQ(0, wd_devmem_usage(WD_TEST_DEV, &u));
	EXPECT_EQ(pool_size(), u.size);
	EXPECT_EQ(48 * PG, u.used);
	EXPECT_EQ(u.size - u.used, u.free);
	ASSERT_EQ(0, wd_region_punch(fd, 0, 64 * PG));
	EXPECT_EQ(-EINVAL, wd_region_punch(fd, 1, PG));
	ASSERT_EQ(0, wd_devmem_usage(WD_TEST_DEV, &u));
	EXPECT_EQ(0, u.used);

	/* wdctl shows the pool, free and used. */
	ASSERT_EQ(0, wd_region_populate(fd, addr, 8 * PG, &done));
	f = popen("/wd/bin/wdctl show " WD_TEST_DEV, "r");
	ASSERT_NE(NULL, f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	EXPECT_EQ(0, pclose(f));
	EXPECT_NE(NULL, strstr(buf, "device mem:"));
	EXPECT_NE(NULL, strstr(buf, "32 KiB used")) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "devmem_faults"));
	f = popen("/wd/bin/wdctl --json", "r");
	ASSERT_NE(NULL, f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	EXPECT_EQ(0, pclose(f));
	EXPECT_NE(NULL, strstr(buf, "\"devmem_used\": 32768")) TH_LOG("%s", buf);
	f = popen("/wd/bin/wdctl", "r");
	ASSERT_NE(NULL, f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	EXPECT_EQ(0, pclose(f));
	EXPECT_NE(NULL, strstr(buf, "DEVMEM_MB")) TH_LOG("%s", buf);
	munmap(addr, 64 * PG);
	close(fd);
	wd_close(dev);
}

TEST_F_TIMEOUT(dm, wdbench_quick, 300)
{
	EXPECT_EQ(0, system("/wd/bin/wdbench --quick --scenario devmem > /tmp/devbench.out 2>&1"));
	system("cat /tmp/devbench.out");
}

/*
 * A pool of several xarray batches: everything taken comes back, whether
 * punched (from 0, where whole xarray subtrees empty, and at odd offsets)
 * or released with the file.
 */
TEST_F_TIMEOUT(dm, large_pool, 300)
{
	size_t size, len;
	uint64_t done;
	int fd, i;
	char *p;

	ASSERT_EQ(0, wd_test_reload_soft("devmem_mb=72"));
	size = pool_size();
	ASSERT_EQ(72ULL << 20, size);
	fd = wd_test_new_region(WD_TEST_NODE, size, 0, 1);
	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, size);
	ASSERT_NE(NULL, p);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, wd_test_populate(fd, p, size, &done));
		EXPECT_EQ(size, done);
		EXPECT_EQ(0, attr("devmem_free"));
		ASSERT_EQ(0, wd_test_punch(fd, 0, size));
		EXPECT_EQ(0, wd_test_resident(fd));
		EXPECT_EQ(size, attr("devmem_free"));
	}
	ASSERT_EQ(0, wd_test_populate(fd, p, size, &done));
	len = 9999 * PG;
	ASSERT_EQ(0, wd_test_punch(fd, 77 * PG, len));
	EXPECT_EQ(size - len, wd_test_resident(fd));
	EXPECT_EQ(len, attr("devmem_free"));
	EXPECT_TRUE(wd_test_all(p + 77 * PG, PG, 0));
	EXPECT_EQ(size - len + PG, wd_test_resident(fd));
	ASSERT_EQ(0, wd_test_punch(fd, 5000 * PG, size - 5000 * PG));
	/* Left: [0, 77) and the page touched again. */
	EXPECT_EQ(78 * PG, wd_test_resident(fd));
	EXPECT_EQ(size - 78 * PG, attr("devmem_free"));
	/* All of it present again, then released with the file. */
	ASSERT_EQ(0, wd_test_populate(fd, p, size, &done));
	EXPECT_EQ(size, done);
	munmap(p, size);
	close(fd);
	EXPECT_EQ(0, wd_test_wait_used(SYSDEV, 0));
	EXPECT_EQ(size, attr("devmem_free"));
	ASSERT_EQ(0, wd_test_reload_soft(NULL));
}

/* Last: the device goes away under mapped regions; the module reloads. */
TEST_F_TIMEOUT(dm, unregister_while_mapped, 120)
{
	size_t len = 64 * PG;
	int dev = wd_test_dev_open(WD_TEST_NODE), fd, fd2, i, ret = -1;
	struct wd_region_info ri;
	uint64_t done;
	char *p, *q, *r;
	struct tq t;

	ASSERT_LE(0, dev);
	fd = wd_test_region_create(dev, len, 0, 0);
	fd2 = wd_test_region_create(dev, len, 0, 0);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, fd2);
	p = wd_test_map_rw(fd, len);
	q = wd_test_map(fd, len, PROT_READ, 0, 0);
	r = wd_test_map_rw(fd2, len);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, q);
	ASSERT_NE(NULL, r);
	memset(p, 'u', len / 2);
	memset(r, 'r', len);
	close(fd2);			/* mapped, fd closed */
	/* A pinned range too, as an engine in pinned mode would have. */
	memset(&t, 0, sizeof(t));
	t.fd = wd_test_dev_open(WD_TEST_NODE);
	ASSERT_LE(0, t.fd);
	ASSERT_EQ(WD_MMU_PINNED, wd_test_set_mode(t.fd, WD_MMU_PINNED));
	ASSERT_EQ(0, dev_share(t.fd, p, 4 * PG, WD_SHARE_READ, WD_IOC_SHARE));

	ASSERT_EQ(0, wd_test_remove_device(0));

	/* Every mapping is revoked: any access raises SIGBUS. */
	EXPECT_EQ(SIGBUS, try_access(p, 0, 0));
	EXPECT_EQ(SIGBUS, try_access(q + len - 1, 0, 0));
	EXPECT_EQ(SIGBUS, try_access(r, 1, 1));
	EXPECT_EQ(-1, madvise(p, len, MADV_POPULATE_READ));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-ENODEV, wd_test_populate(fd, p, len, &done));
	EXPECT_EQ(-ENODEV, wd_test_punch(fd, 0, PG));
	EXPECT_EQ(-1, fallocate(fd, 0, 0, PG));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-ENODEV, wd_test_region_info(fd, &ri));
	EXPECT_EQ(NULL, wd_test_map_rw(fd, len));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-ENODEV, wd_test_region_create(dev, PG, 0, 0));

	/* Still mapped, fds open: the module is pinned until they go. */
	EXPECT_EQ(-EWOULDBLOCK, wd_test_rmmod("wd_soft"));
	munmap(p, len);
	munmap(q, len);
	munmap(r, len);
	close(fd);
	close(t.fd);
	close(dev);
	for (i = 0; i < 50 && ret; i++) {
		ret = wd_test_rmmod("wd_soft");
		if (ret)
			usleep(100000);
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, wd_test_insmod("wd_soft", NULL));
	EXPECT_EQ(0, attr("devmem_used"));
}

TEST_HARNESS_MAIN
