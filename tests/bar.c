// SPDX-License-Identifier: GPL-2.0
/*
 * Device memory on a PCI BAR (wd_bar on QEMU's ivshmem-plain), in both of
 * its modes: "pages" (ZONE_DEVICE struct pages, the standard populate and
 * GUP paths work) and "pfnmap" (VM_IO | VM_PFNMAP, where they do not and
 * WarpDrive's own paths must). Every population path with the faults it
 * takes, contents seen by two processes, zeroing (across processes, after
 * punch and re-create), quota and exhaustion, split, mremap and fork, GUP
 * and the engines, removal while mapped in several processes, hot-unplug
 * under load, bad arguments.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "wd_test.h"

#define PG		4096UL
#define BAR_PCI		"0000:03:00.0"
#define BAR_QMP		"wdbar"
#define BAR_DRV		"/sys/bus/pci/drivers/wd_bar/"
#define BAR_SIZE	(64UL << 20)

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif

/* /sys/class/warpdrive/<name>/ of the wd_bar device, and its node. */
static char sysdev[300], node[300];

static unsigned long long attr(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s%s", sysdev, name);
	return wd_test_read_u64(path);
}

static unsigned long long stat_of(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%sstats/%s", sysdev, name);
	return wd_test_read_u64(path);
}

/*
 * Touch every page of [p, p + len) with @v: the devmem_faults this took,
 * and the minor faults into @minor if it is not NULL.
 */
static unsigned long long touch_faults(char *p, size_t len, char v,
				       long *minor)
{
	unsigned long long f0 = stat_of("devmem_faults"), faults;
	long m0 = minor ? wd_test_minflt() : 0;

	wd_test_touch(p, len, v);
	faults = stat_of("devmem_faults") - f0;
	if (minor)
		*minor = wd_test_minflt() - m0;
	return faults;
}

/* Find the device wd_bar registered (api wd_bar_v1): 0 or -1. */
static int find_bar(void)
{
	char path[512], buf[64];
	struct dirent *de;
	DIR *d;
	int i, ret = -1;

	for (i = 0; i < 200 && ret; i++) {
		d = opendir("/sys/class/warpdrive");
		while (d && (de = readdir(d))) {
			if (strncmp(de->d_name, "wd_bar", 6))
				continue;
			snprintf(path, sizeof(path), "/sys/class/warpdrive/%s/api",
				 de->d_name);
			if (wd_test_read_file(path, buf, sizeof(buf)) ||
			    strcmp(buf, "wd_bar_v1"))
				continue;
			snprintf(sysdev, sizeof(sysdev), "/sys/class/warpdrive/%s/",
				 de->d_name);
			snprintf(node, sizeof(node), "/dev/warpdrive/%s",
				 de->d_name);
			/* devtmpfs makes the node a moment after sysfs. */
			ret = access(node, F_OK) ? -1 : 0;
		}
		if (d)
			closedir(d);
		if (ret)
			usleep(50 * 1000);
	}
	return ret;
}

/* (Re)load wd_bar with @params; 0 or -errno. */
static int load_bar(const char *params)
{
	int ret, i;

	ret = wd_test_load("");
	if (ret)
		return ret;
	for (i = 0; i < 100 && wd_test_module_loaded("wd_bar"); i++) {
		if (!wd_test_rmmod("wd_bar"))
			break;
		usleep(50 * 1000);
	}
	if (wd_test_module_loaded("wd_bar"))
		return -EBUSY;
	return wd_test_insmod("wd_bar", params);
}

/* Run @fn(@arg) in a child; its exit code, or 128 + the signal that ended it. */
static int in_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (!pid)
		_exit(fn(arg));
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

static int read_first(void *p)
{
	return *(volatile char *)p;
}

FIXTURE(bar) {
	int pfnmap;
};

FIXTURE_VARIANT(bar) {
	const char *params;
	const char *shown;
	int pfnmap;
};

FIXTURE_VARIANT_ADD(bar, pages) {
	.params = "mode=pages",
	.shown = "pages",
	.pfnmap = 0,
};

FIXTURE_VARIANT_ADD(bar, pfnmap) {
	.params = "mode=pfnmap",
	.shown = "pfnmap",
	.pfnmap = 1,
};

FIXTURE_VARIANT_ADD(bar, pfnmap_wc) {
	.params = "mode=pfnmap wc=1",
	.shown = "pfnmap wc",
	.pfnmap = 1,
};

FIXTURE_SETUP(bar)
{
	char path[512];
	int ret;

	self->pfnmap = variant->pfnmap;
	if (wd_test_pci_wait(BAR_PCI, 1, 1))
		SKIP(return, "no ivshmem device at " BAR_PCI);
	ret = load_bar(variant->params);
	ASSERT_EQ(0, ret) TH_LOG("insmod wd_bar %s: %s", variant->params,
				 strerror(-ret));
	ASSERT_EQ(0, find_bar()) TH_LOG("wd_bar registered no device");
	wd_test_write_str("/sys/module/warpdrive/parameters/region_fault_around",
			  "16");
	snprintf(path, sizeof(path), "%sdevmem_user_quota", sysdev);
	wd_test_write_str(path, "0");
	ASSERT_EQ(0, wd_test_wait_used(sysdev, 0));
}

FIXTURE_TEARDOWN(bar)
{
	char path[512];

	snprintf(path, sizeof(path), "%sdevmem_user_quota", sysdev);
	if (sysdev[0])
		wd_test_write_str(path, "0");
}

TEST_F(bar, shown_in_sysfs_memory_only)
{
	struct wd_queue_info qi = { .sq_entries = 8 };
	char path[512], buf[64];
	int dev;

	snprintf(path, sizeof(path), "%sdevmem_mode", sysdev);
	ASSERT_EQ(0, wd_test_read_file(path, buf, sizeof(buf)));
	EXPECT_STREQ(variant->shown, buf);
	EXPECT_EQ(BAR_SIZE, attr("devmem_size"));
	EXPECT_EQ(BAR_SIZE, attr("devmem_free"));
	EXPECT_EQ(0, attr("queues_total"));
	snprintf(path, sizeof(path), "%sdevice", sysdev);
	ASSERT_LT(0, readlink(path, buf, sizeof(buf) - 1));
	/* wdctl shows the mode, in text and in JSON. */
	snprintf(path, sizeof(path),
		 "/wd/bin/wdctl show %s | grep -q 'device mem:.*(%s)' && "
		 "/wd/bin/wdctl --json list | grep -q '\"devmem_mode\": \"%s\"'",
		 strrchr(node, '/') + 1, variant->shown, variant->shown);
	EXPECT_EQ(0, system(path)) TH_LOG("%s", path);
	/* No queues: binding one fails at once. */
	dev = wd_test_dev_open(node);
	ASSERT_LE(0, dev);
	EXPECT_EQ(-1, tq_get(dev, &qi));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(dev);
}

TEST_F(bar, fault_per_page_and_fault_around)
{
	size_t len = 64 * PG;
	int fd1 = wd_test_new_region(node, len, 0, 1),
	    fd16 = wd_test_new_region(node, len, 0, 16);
	char *p1, *p16;
	long minor;

	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd16);
	p1 = wd_test_map_aligned(fd1, len, 16 * PG);
	p16 = wd_test_map_aligned(fd16, len, 16 * PG);
	ASSERT_NE(NULL, p1);
	ASSERT_NE(NULL, p16);

	EXPECT_EQ(64, touch_faults(p1, len, 1, &minor));
	EXPECT_LE(64, minor);
	EXPECT_EQ(len, wd_test_resident(fd1));

	EXPECT_EQ(4, touch_faults(p16, len, 2, &minor));
	EXPECT_GT(16, minor);
	EXPECT_EQ(len, wd_test_resident(fd16));
	EXPECT_EQ(2 * len, attr("devmem_used"));
	EXPECT_TRUE(wd_test_all(p1 + 1, PG - 1, 0));
	munmap(p1, len);
	munmap(p16, len);
	close(fd1);
	close(fd16);
	EXPECT_EQ(0, wd_test_wait_used(sysdev, 0));
}

/*
 * MAP_POPULATE: pages mode populates inside mmap() (through ->fault, a
 * window per fault) and the touch takes no fault; pfnmap mode: mmap()
 * succeeds, nothing is mapped, the touch faults as without it.
 */
TEST_F(bar, map_populate)
{
	size_t len = 256 * PG;
	int fd = wd_test_new_region(node, len, 0, 0);
	unsigned long long f0, f1;
	char *p;

	ASSERT_LE(0, fd);
	f0 = stat_of("devmem_faults");
	p = wd_test_map(fd, len, PROT_READ | PROT_WRITE, MAP_POPULATE, 0);
	ASSERT_NE(NULL, p);
	f1 = stat_of("devmem_faults");
	wd_test_touch(p, len, 3);
	if (self->pfnmap) {
		EXPECT_EQ(0, f1 - f0);
		EXPECT_LT(0, stat_of("devmem_faults") - f1);
	} else {
		EXPECT_LT(0, f1 - f0);
		EXPECT_GE(len / PG / 16 + 1, f1 - f0);
		EXPECT_EQ(0, stat_of("devmem_faults") - f1);
	}
	EXPECT_EQ(len, wd_test_resident(fd));
	munmap(p, len);
	close(fd);
}

/* MADV_POPULATE_*: pages mode as for RAM; pfnmap mode: EINVAL, nothing. */
TEST_F(bar, madv_populate)
{
	size_t len = 64 * PG;
	int fd = wd_test_new_region(node, len, 0, 0), adv, ret;
	char *p;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	for (adv = MADV_POPULATE_READ; adv <= MADV_POPULATE_WRITE; adv++) {
		ret = madvise(p, len, adv);
		if (self->pfnmap) {
			EXPECT_EQ(-1, ret);
			EXPECT_EQ(EINVAL, errno);
			EXPECT_EQ(0, wd_test_resident(fd));
		} else {
			EXPECT_EQ(0, ret);
			EXPECT_EQ(len, wd_test_resident(fd));
		}
	}
	if (!self->pfnmap)
		EXPECT_EQ(0, touch_faults(p, len, 4, NULL));
	munmap(p, len);
	close(fd);
}

/* The populate ioctl and map in advance: no fault on the touch after. */
TEST_F(bar, populate_ioctl_and_map_advance)
{
	size_t len = 600 * PG;
	int fd = wd_test_new_region(node, len, 0, 0), fda;
	uint64_t done;
	long minor;
	char *p;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, wd_test_populate(fd, p, len, &done));
	EXPECT_EQ(len, done);
	EXPECT_EQ(0, touch_faults(p, len, 5, &minor));
	EXPECT_EQ(0, minor);
	munmap(p, len);
	close(fd);

	fda = wd_test_new_region(node, len, WD_REGION_MAP_ADVANCE, 0);
	ASSERT_LE(0, fda);
	p = wd_test_map_rw(fda, len);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(len, wd_test_resident(fda));
	EXPECT_EQ(1, touch_faults(p, len, 6, NULL));
	EXPECT_TRUE(wd_test_all(p + 1, PG - 1, 0));
	munmap(p, len);
	close(fda);
	EXPECT_EQ(0, wd_test_wait_used(sysdev, 0));
}

struct shared {
	int fd;
	size_t len;
	char v;
};

static int child_check_write(void *arg)
{
	struct shared *s = arg;
	char *p = wd_test_map_rw(s->fd, s->len);

	if (!p)
		return 2;
	if (!wd_test_all(p, s->len, s->v))
		return 3;
	memset(p, s->v + 1, s->len);
	return 0;
}

/* Two processes, one memory: each sees what the other wrote. */
TEST_F(bar, contents_through_two_processes)
{
	struct shared s = { .len = 32 * PG, .v = 'a' };
	char *p;

	s.fd = wd_test_new_region(node, s.len, 0, 0);
	ASSERT_LE(0, s.fd);
	p = wd_test_map_rw(s.fd, s.len);
	ASSERT_NE(NULL, p);
	memset(p, s.v, s.len);
	ASSERT_EQ(0, in_child(child_check_write, &s));
	EXPECT_TRUE(wd_test_all(p, s.len, s.v + 1));
	munmap(p, s.len);
	close(s.fd);
}

static int child_dirty_all(void *arg)
{
	struct shared *s = arg;
	int fd = wd_test_new_region(node, s->len, 0, 0);
	uint64_t done;
	char *p;

	if (fd < 0)
		return 2;
	p = wd_test_map_rw(fd, s->len);
	if (!p || wd_test_populate(fd, p, s->len, &done) || done != s->len)
		return 3;
	memset(p, s->v, s->len);
	return 0;
}

/*
 * Zeroing: a process never sees another's data, nor its own from before
 * a punch, whatever the path that hands the memory out.
 */
TEST_F(bar, zeroed_across_processes_punch_and_recreate)
{
	struct shared s = { .len = BAR_SIZE, .v = 0x5a };
	size_t len = BAR_SIZE;
	uint64_t done;
	int fd;
	char *p;

	/* Another process fills the whole BAR and exits. */
	ASSERT_EQ(0, in_child(child_dirty_all, &s));
	ASSERT_EQ(0, wd_test_wait_used(sysdev, 0));
	fd = wd_test_new_region(node, len, 0, 0);
	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, wd_test_populate(fd, p, len / 2, &done));
	EXPECT_TRUE(wd_test_all(p, len / 2, 0));
	/* Faults and fault-around hand out zeroed memory too. */
	EXPECT_TRUE(wd_test_all(p + len / 2, len / 2, 0));

	/* Punched and touched again: zero, not what was there. */
	memset(p, 0x77, 64 * PG);
	ASSERT_EQ(0, wd_test_punch(fd, 0, 32 * PG));
	EXPECT_EQ(len - 32 * PG, wd_test_resident(fd));
	EXPECT_TRUE(wd_test_all(p, 32 * PG, 0));
	EXPECT_TRUE(wd_test_all(p + 32 * PG, 32 * PG, 0x77));
	munmap(p, len);
	close(fd);
	ASSERT_EQ(0, wd_test_wait_used(sysdev, 0));

	/* Re-created in advance: zero. */
	fd = wd_test_new_region(node, len, WD_REGION_MAP_ADVANCE, 0);
	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	EXPECT_TRUE(wd_test_all(p, len, 0));
	munmap(p, len);
	close(fd);
}

/* Quota, exhaustion: short populate, SIGBUS, ENOMEM at map-advance. */
TEST_F(bar, quota_and_exhaustion)
{
	char path[512];
	size_t len = BAR_SIZE;
	uint64_t done;
	int fd, fd2;
	char *p, *q;

	snprintf(path, sizeof(path), "%sdevmem_user_quota", sysdev);
	ASSERT_EQ(0, wd_test_write_str(path, "1048576"));
	fd = wd_test_new_region(node, 2 << 20, 0, 0);
	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, 2 << 20);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, wd_test_populate(fd, p, 2 << 20, &done));
	EXPECT_EQ(1 << 20, done);
	EXPECT_EQ(128 + SIGBUS, in_child(read_first, p + (1 << 20)));
	munmap(p, 2 << 20);
	close(fd);
	ASSERT_EQ(0, wd_test_write_str(path, "0"));
	ASSERT_EQ(0, wd_test_wait_used(sysdev, 0));

	/* Larger than the BAR: E2BIG. */
	EXPECT_EQ(-E2BIG, wd_test_new_region(node, len + PG, 0, 0));
	fd = wd_test_new_region(node, len, 0, 0);
	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, wd_test_populate(fd, p, len - 4 * PG, &done));
	EXPECT_EQ(len - 4 * PG, done);
	fd2 = wd_test_new_region(node, 16 * PG, 0, 0);
	ASSERT_LE(0, fd2);
	q = wd_test_map_rw(fd2, 16 * PG);
	ASSERT_NE(NULL, q);
	ASSERT_EQ(0, wd_test_populate(fd2, q, 16 * PG, &done));
	EXPECT_EQ(4 * PG, done);
	EXPECT_EQ(128 + SIGBUS, in_child(read_first, q + 8 * PG));
	munmap(q, 16 * PG);
	close(fd2);
	fd2 = wd_test_new_region(node, 16 * PG, WD_REGION_MAP_ADVANCE, 0);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(NULL, wd_test_map_rw(fd2, 16 * PG));
	EXPECT_EQ(ENOMEM, errno);
	close(fd2);
	munmap(p, len);
	close(fd);
	EXPECT_EQ(0, wd_test_wait_used(sysdev, 0));
}

/* Split by munmap and mprotect, moved by mremap, inherited by fork. */
TEST_F(bar, split_mremap_fork)
{
	size_t len = 64 * PG;
	int fd = wd_test_new_region(node, len, 0, 0);
	char *p, *q;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	memset(p, 'm', len);
	ASSERT_EQ(0, munmap(p + 16 * PG, PG));
	ASSERT_EQ(0, mprotect(p + 32 * PG, 8 * PG, PROT_READ));
	EXPECT_TRUE(wd_test_all(p, 16 * PG, 'm'));
	EXPECT_TRUE(wd_test_all(p + 17 * PG, 47 * PG, 'm'));
	EXPECT_EQ(128 + SIGSEGV, in_child(read_first, p + 16 * PG));

	/* Move the tail elsewhere: same memory, no new fault. */
	q = mremap(p + 48 * PG, 16 * PG, 16 * PG, MREMAP_MAYMOVE);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_TRUE(wd_test_all(q, 16 * PG, 'm'));
	q[0] = 'n';
	/* Growing a device mapping is refused. */
	EXPECT_EQ(MAP_FAILED, mremap(p, 16 * PG, 128 * PG, MREMAP_MAYMOVE));

	/* A child sees the same memory through the inherited mapping. */
	{
		pid_t pid = fork();
		int st;

		ASSERT_LE(0, pid);
		if (!pid)
			_exit(wd_test_all(p, 16 * PG, 'm') && q[0] == 'n' ?
			      0 : 1);
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st));
	}
	munmap(p, 16 * PG);
	munmap(p + 17 * PG, 31 * PG);
	munmap(q, 16 * PG);
	close(fd);
	EXPECT_EQ(0, wd_test_wait_used(sysdev, 0));
}

/* GUP: process_vm_readv works on pages mode, EFAULT on pfnmap. */
TEST_F(bar, gup_process_vm_readv)
{
	size_t len = 16 * PG;
	int fd = wd_test_new_region(node, len, 0, 0);
	char *p, *buf = malloc(len);
	struct iovec l = { .iov_base = buf, .iov_len = len }, r;
	ssize_t n;

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	memset(p, 'g', len);
	r.iov_base = p;
	r.iov_len = len;
	n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	if (self->pfnmap) {
		EXPECT_EQ(-1, n);
		EXPECT_EQ(EFAULT, errno);
	} else {
		EXPECT_EQ((ssize_t)len, n);
		EXPECT_TRUE(wd_test_all(buf, len, 'g'));
	}
	munmap(p, len);
	close(fd);
	free(buf);
}

/*
 * wd_soft's engines on BAR memory: pages mode in SVA and pinned mode as
 * on RAM; pfnmap mode: a clear WD_ST_FAULT, and sharing it fails.
 */
TEST_F(bar, engines_sva_and_pinned)
{
	size_t len = 64 * PG;
	int fd = wd_test_new_region(node, len, 0, 0);
	char *p, *src, *back;
	struct tq t;
	size_t i;

	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	/* Page-aligned anonymous buffers: pinned mode shares whole pages. */
	src = wd_test_anon(len);
	back = wd_test_anon(len);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, back);
	for (i = 0; i < len; i++)
		src[i] = (char)(i * 13 + 1);

	ASSERT_EQ(0, tq_open_mode(&t, WD_MMU_SVA));
	if (self->pfnmap) {
		EXPECT_EQ(WD_ST_FAULT, tq_dev_copy(&t, p, src, len));
		EXPECT_EQ(WD_ST_FAULT, tq_dev_copy(&t, back, p, len));
	} else {
		ASSERT_EQ(WD_ST_OK, tq_dev_copy(&t, p, src, len));
		EXPECT_EQ(0, memcmp(p, src, len));
		ASSERT_EQ(WD_ST_OK, tq_dev_copy(&t, back, p, len));
		EXPECT_EQ(0, memcmp(back, src, len));
	}
	tq_close(&t);

	/* Pinned: the BAR pages are pinned and charged like any. */
	ASSERT_EQ(0, tq_open_mode(&t, WD_MMU_PINNED));
	if (self->pfnmap) {
		EXPECT_EQ(-EFAULT, wd_test_share(t.fd, p, len,
						 WD_SHARE_READ | WD_SHARE_WRITE));
		EXPECT_EQ(WD_ST_FAULT, tq_dev_copy(&t, back, p, len));
	} else {
		ASSERT_EQ(0, wd_test_share(t.fd, p, len,
					   WD_SHARE_READ | WD_SHARE_WRITE));
		ASSERT_EQ(0, wd_test_share(t.fd, back, len,
					   WD_SHARE_READ | WD_SHARE_WRITE));
		memset(back, 0, len);
		ASSERT_EQ(WD_ST_OK, tq_dev_copy(&t, back, p, len));
		EXPECT_EQ(0, memcmp(back, src, len));
		memset(p, 0, len);
		ASSERT_EQ(WD_ST_OK, tq_dev_copy(&t, p, back, len));
		EXPECT_EQ(0, memcmp(p, src, len));
		EXPECT_EQ(0, wd_test_unshare(t.fd, p, len));
	}
	tq_close(&t);
	munmap(p, len);
	close(fd);
	munmap(src, len);
	munmap(back, len);
}

/*
 * Pages mode: BAR pages pinned (a pinned share of wd_soft) when they are
 * punched are held back, never handed out while pinned, and zeroed when
 * they are handed out again after the pin went (they missed the zeroing
 * at give-back: they were still reachable then).
 */
TEST_F(bar, pinned_pages_held_back_then_zeroed)
{
	size_t len = 16 * PG, all_len = BAR_SIZE;
	int fd = wd_test_new_region(node, len, 0, 0), fd2, soft, i;
	uint64_t done;
	char *p, *big;

	if (self->pfnmap)
		SKIP(return, "pfnmap memory cannot be pinned");
	ASSERT_LE(0, fd);
	p = wd_test_map_rw(fd, len);
	ASSERT_NE(NULL, p);
	memset(p, 'P', len);
	soft = open(WD_TEST_NODE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, soft);
	ASSERT_EQ(WD_MMU_PINNED, wd_test_set_mode(soft, WD_MMU_PINNED));
	ASSERT_EQ(0, wd_test_share(soft, p, len, WD_SHARE_READ));
	ASSERT_EQ(0, wd_test_punch(fd, 0, len));
	EXPECT_EQ(16, stat_of("devmem_held_pages"));
	EXPECT_EQ(BAR_SIZE - len, attr("devmem_free"));

	/* Everything else can be had, zeroed; the held pages are not among it. */
	fd2 = wd_test_new_region(node, all_len, 0, 0);
	ASSERT_LE(0, fd2);
	big = wd_test_map_rw(fd2, all_len);
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, wd_test_populate(fd2, big, all_len, &done));
	EXPECT_EQ(all_len - len, done);
	EXPECT_TRUE(wd_test_all(big, done, 0));

	/* Unpinned: back within a few reclaim passes, and zeroed when had. */
	ASSERT_EQ(0, wd_test_unshare(soft, p, len));
	for (i = 0; i < 100 && stat_of("devmem_held_pages"); i++)
		usleep(20 * 1000);
	EXPECT_EQ(0, stat_of("devmem_held_pages"));
	ASSERT_EQ(0, wd_test_populate(fd2, big + done, len, &done));
	EXPECT_EQ(len, done);
	EXPECT_TRUE(wd_test_all(big + all_len - len, len, 0));
	close(soft);
	munmap(big, all_len);
	close(fd2);
	munmap(p, len);
	close(fd);
	EXPECT_EQ(0, wd_test_wait_used(sysdev, 0));
}

TEST_F(bar, bad_arguments)
{
	struct wd_region_populate pop = { .len = PG, .flags = 1 };
	int fd = wd_test_new_region(node, 16 * PG, 0, 0), anon_ok;
	char *p, *anon;
	uint64_t done;

	ASSERT_LE(0, fd);
	/* Private mappings, beyond the end. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0));
	EXPECT_EQ(NULL, wd_test_map_rw(fd, 32 * PG));
	EXPECT_EQ(NULL, wd_test_map(fd, PG, PROT_READ, 0, 16 * PG));
	p = wd_test_map_rw(fd, 16 * PG);
	ASSERT_NE(NULL, p);
	pop.addr = (uintptr_t)p;
	EXPECT_EQ(-1, ioctl(fd, WD_REGION_IOC_POPULATE, &pop));
	EXPECT_EQ(EINVAL, errno);
	/* Populate over memory that is not the region's. */
	anon = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	ASSERT_NE(MAP_FAILED, anon);
	anon_ok = wd_test_populate(fd, anon, PG, &done);
	EXPECT_EQ(-EINVAL, anon_ok);
	EXPECT_EQ(-EINVAL, wd_test_populate(fd, p + 1, PG, &done));
	EXPECT_EQ(-EFAULT, wd_test_populate(fd, (void *)-PG, 2 * PG, &done));
	EXPECT_EQ(-EINVAL, wd_test_punch(fd, 1, PG));
	EXPECT_EQ(-ENOTTY, ioctl(fd, _IO('W', 0x7f)) ? -errno : 0);
	/* Not executable. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PG, PROT_READ | PROT_EXEC, MAP_SHARED,
				   fd, 0));
	munmap(anon, PG);
	munmap(p, 16 * PG);
	close(fd);
}

TEST(bad_module_parameters)
{
	if (wd_test_pci_wait(BAR_PCI, 1, 1))
		SKIP(return, "no ivshmem device at " BAR_PCI);
	EXPECT_EQ(-EINVAL, load_bar("mode=bogus"));
	EXPECT_EQ(-EINVAL, load_bar("mode=pages wc=1"));
	EXPECT_FALSE(wd_test_module_loaded("wd_bar"));
	EXPECT_EQ(0, load_bar("mode=pages"));
}

struct toucher {
	char *p;
	size_t len;
	int ready[2];
	pid_t pids[3];
};

/* Touch the mapping until something stops us; tell the parent once. */
static int child_touch_forever(void *arg)
{
	struct toucher *t = arg;
	char c = 1;
	size_t i;

	wd_test_touch(t->p, t->len, c);
	if (write(t->ready[1], &c, 1) != 1)
		return 2;
	for (;;)
		for (i = 0; i < t->len; i += PG)
			((volatile char *)t->p)[i]++;
	return 0;
}

static pid_t start_toucher(struct toucher *t)
{
	pid_t pid = fork();
	char c;

	if (pid < 0)
		return pid;
	if (!pid)
		_exit(child_touch_forever(t));
	if (read(t->ready[0], &c, 1) != 1)
		return -1;
	return pid;
}

/* A region of @t->len on the device, mapped at @t->p; its fd. */
static int toucher_region(struct __test_metadata *_metadata,
			  struct toucher *t)
{
	int fd = wd_test_new_region(node, t->len, 0, 0);

	ASSERT_LE(0, fd);
	t->p = wd_test_map_rw(fd, t->len);
	ASSERT_NE(NULL, t->p);
	return fd;
}

/* toucher_region(), and three processes touching it without end. */
static int start_touchers(struct __test_metadata *_metadata,
			  struct toucher *t)
{
	int fd = toucher_region(_metadata, t), i;

	ASSERT_EQ(0, pipe(t->ready));
	for (i = 0; i < 3; i++) {
		t->pids[i] = start_toucher(t);
		ASSERT_LT(0, t->pids[i]);
	}
	return fd;
}

/* The device gone: each toucher ended by SIGBUS, the region by ENODEV. */
static void touchers_got_sigbus(struct __test_metadata *_metadata,
				struct toucher *t, int fd)
{
	uint64_t done;
	int i, st;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(t->pids[i], waitpid(t->pids[i], &st, 0));
		EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS)
			TH_LOG("child %d: status %#x", i, st);
	}
	EXPECT_EQ(128 + SIGBUS, in_child(read_first, t->p));
	EXPECT_EQ(-ENODEV, wd_test_populate(fd, t->p, PG, &done));
}

/* Unmap and close what start_touchers() made. */
static void end_touchers(struct toucher *t, int fd)
{
	munmap(t->p, t->len);
	close(fd);
	close(t->ready[0]);
	close(t->ready[1]);
}

/* The device back: a fresh region of it, mapped at @t->p, zeroed; its fd. */
static int fresh_region(struct __test_metadata *_metadata, struct toucher *t)
{
	int fd;

	ASSERT_EQ(0, find_bar());
	fd = toucher_region(_metadata, t);
	EXPECT_TRUE(wd_test_all(t->p, t->len, 0));
	return fd;
}

/*
 * Unbinding the driver while the region is mapped and touched in three
 * processes: every mapping is revoked (SIGBUS), region calls fail with
 * ENODEV, nothing leaks, and the device binds again. In pages mode a
 * page pinned by another device across the removal keeps its
 * ZONE_DEVICE memory until it is unpinned; only then can the BAR be
 * given struct pages again.
 */
TEST_F_TIMEOUT(bar, unbind_while_mapped_in_several_processes, 180)
{
	struct toucher t = { .len = 256 * PG };
	int fd, i, soft = -1;

	fd = start_touchers(_metadata, &t);
	if (!self->pfnmap) {
		soft = open(WD_TEST_NODE, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, soft);
		ASSERT_EQ(WD_MMU_PINNED, wd_test_set_mode(soft, WD_MMU_PINNED));
		ASSERT_EQ(0, wd_test_share(soft, t.p, 4 * PG, WD_SHARE_READ));
	}
	ASSERT_EQ(0, wd_test_write_str(BAR_DRV "unbind", BAR_PCI));
	touchers_got_sigbus(_metadata, &t, fd);
	EXPECT_EQ(-ENODEV, wd_test_punch(fd, 0, PG));

	if (soft >= 0) {
		/* Pinned BAR pages keep the old ZONE_DEVICE mapping alive. */
		EXPECT_NE(0, wd_test_write_str(BAR_DRV "bind", BAR_PCI));
		EXPECT_EQ(0, wd_test_unshare(soft, t.p, 4 * PG));
		close(soft);
		/* The pool lets go of the memory within a few reclaim passes. */
		for (i = 0; i < 50; i++) {
			usleep(100 * 1000);
			if (!wd_test_write_str(BAR_DRV "bind", BAR_PCI))
				break;
		}
		EXPECT_GT(50, i);
	} else {
		ASSERT_EQ(0, wd_test_write_str(BAR_DRV "bind", BAR_PCI));
	}
	end_touchers(&t, fd);

	/* Bound again: a fresh device that works. */
	fd = fresh_region(_metadata, &t);
	munmap(t.p, t.len);
	close(fd);
}

/*
 * Hot-unplug of the ivshmem device while three processes touch a region:
 * they get SIGBUS, never the departed BAR; then it comes back, wd_bar
 * binds it again and its memory works.
 */
TEST_F_TIMEOUT(bar, hot_unplug_under_load, 240)
{
	struct toucher t = { .len = 512 * PG };
	int fd;

	fd = start_touchers(_metadata, &t);
	wd_test_qmp("unplug", BAR_QMP);
	ASSERT_EQ(0, wd_test_pci_wait(BAR_PCI, 0, 60))
		TH_LOG("device still present 60 s after the unplug request");
	touchers_got_sigbus(_metadata, &t, fd);
	end_touchers(&t, fd);

	wd_test_qmp("replug", BAR_QMP);
	ASSERT_EQ(0, wd_test_pci_wait(BAR_PCI, 1, 60))
		TH_LOG("device not back 60 s after the replug request");
	fd = fresh_region(_metadata, &t);
	memset(t.p, 'r', t.len);
	EXPECT_TRUE(wd_test_all(t.p, t.len, 'r'));
	munmap(t.p, t.len);
	close(fd);
}

TEST_HARNESS_MAIN
