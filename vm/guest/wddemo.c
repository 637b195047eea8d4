// SPDX-License-Identifier: GPL-2.0
/*
 * wddemo: the steps of `make run` (vm/guest/demo.sh) that need the library
 * rather than a tool. Each prints its figures and checks them; any check
 * that does not hold prints "FAILED: ..." and exits 1.
 *
 *   wddemo devmem    device memory mapped on fault, with MAP_POPULATE and
 *                    with the populate ioctl: fault counts
 *   wddemo rings     a queue's rings mapped in advance: no CPU page fault
 *                    while submitting and reaping
 *   wddemo sva       an engine on plain malloc'd memory (SVA mode), then on
 *                    a pinned, shared range (pinned mode)
 *   wddemo migrate   pages moved to device-private memory, worked on there,
 *                    brought back by a CPU touch (exit 3: no device-private
 *                    memory on this device)
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "libwd.h"

#define MiB (1UL << 20)

static const char *devname;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	va_start(ap, fmt);
	fprintf(stdout, "FAILED: ");
	vfprintf(stdout, fmt, ap);
	fprintf(stdout, "\n");
	va_end(ap);
	fflush(stdout);
	exit(1);
}

static void must(int ret, const char *what)
{
	check(ret == 0, "%s: %s", what, wd_strerror(ret));
}

static uint64_t counter(const char *name)
{
	char attr[64];
	uint64_t v = 0;

	snprintf(attr, sizeof(attr), "stats/%s", name);
	must(wd_dev_attr_u64(devname, attr, &v), attr);
	return v;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static void touch(volatile char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += 4096)
		p[i] = (char)i;
}

/* Map a fresh region of @len with @mflags, optionally populate, touch it. */
static void region_case(struct wd_dev *dev, const char *label, size_t len,
			int mflags, int ioctl_populate, int expect_touch_faults)
{
	uint64_t f0, f1, f2, m0, m2;
	size_t done = 0;
	void *p;
	int fd;

	must(wd_region_create(dev, len, 0, &fd), "wd_region_create");
	f0 = counter("devmem_faults");
	m0 = counter("devmem_pages_mapped");
	must(wd_region_map(fd, len, PROT_READ | PROT_WRITE, mflags, &p),
	     "wd_region_map");
	if (ioctl_populate) {
		must(wd_region_populate(fd, p, len, &done), "wd_region_populate");
		check(done == len, "populate did %zu of %zu bytes", done, len);
	}
	f1 = counter("devmem_faults");
	touch(p, len);
	f2 = counter("devmem_faults");
	m2 = counter("devmem_pages_mapped");
	printf("  %-26s %4zu pages mapped, %4llu faults before the first touch, %4llu while touching\n",
	       label, len / 4096, (unsigned long long)(f1 - f0),
	       (unsigned long long)(f2 - f1));
	check(m2 - m0 == len / 4096, "%s: %llu pages mapped, not %zu", label,
	      (unsigned long long)(m2 - m0), len / 4096);
	if (expect_touch_faults)
		check(f2 > f1, "%s: touching faulted nothing in", label);
	else
		check(f2 == f1, "%s: %llu faults after it was populated", label,
		      (unsigned long long)(f2 - f1));
	munmap(p, len);
	close(fd);
}

static int demo_devmem(struct wd_dev *dev)
{
	struct wd_devmem_usage u;
	size_t len = 4 * MiB;

	must(wd_devmem_usage(devname, &u), "wd_devmem_usage");
	printf("  device memory: %llu MiB, %llu MiB free\n",
	       (unsigned long long)(u.size >> 20), (unsigned long long)(u.free >> 20));
	check(u.free >= len, "less than 4 MiB of device memory free");
	region_case(dev, "on demand (faults):", len, 0, 0, 1);
	region_case(dev, "mmap(MAP_POPULATE):", len, MAP_POPULATE, 0, 0);
	region_case(dev, "populate ioctl:", len, 0, 1, 0);
	must(wd_devmem_usage(devname, &u), "wd_devmem_usage");
	check(u.used == 0, "%llu bytes still used after the regions were closed",
	      (unsigned long long)u.used);
	printf("  all given back: %llu MiB free\n", (unsigned long long)(u.free >> 20));
	return 0;
}

static int demo_rings(struct wd_dev *dev)
{
	size_t len = 64 << 10;
	char *a = malloc(len), *b = malloc(len);
	struct wd_queue *q;
	long f0, f1;
	int i, n = 1000;

	check(a && b, "out of memory");
	memset(a, 'r', len);
	memset(b, 0, len);
	must(wd_queue_get(dev, NULL, &q), "wd_queue_get");
	/* The first command faults the buffers in for the device, not us. */
	must(wd_copy(q, b, a, len), "wd_copy");
	f0 = minflt();
	for (i = 0; i < n; i++)
		must(wd_copy(q, b, a, len), "wd_copy");
	f1 = minflt();
	printf("  queue of %u submission / %u completion entries; %d commands submitted and reaped\n",
	       wd_queue_sq_entries(q), wd_queue_cq_entries(q), n);
	printf("  CPU page faults of this process meanwhile: %ld; doorbell system calls: %llu\n",
	       f1 - f0, (unsigned long long)wd_queue_kicks(q));
	check(f1 == f0, "%ld page faults while using the rings", f1 - f0);
	check(!memcmp(a, b, len), "copy wrong");
	wd_queue_put(q);
	free(a);
	free(b);
	return 0;
}

static int demo_sva(struct wd_dev *dev)
{
	size_t len = 8 * MiB, i;
	uint64_t f0, p0, pin0, pin1;
	struct wd_queue *q;
	struct wd_dev *pdev;
	char *a, *b;
	uint32_t c1, c2;

	/* SVA: plain malloc'd memory, the destination never touched. */
	a = malloc(len);
	b = malloc(len);
	check(a && b, "out of memory");
	for (i = 0; i < len; i++)
		a[i] = (char)(i * 7 + (i >> 12));
	check(wd_get_mmu_mode(dev) == WD_MMU_SVA, "device not in SVA mode");
	must(wd_queue_get(dev, NULL, &q), "wd_queue_get");
	f0 = counter("device_faults");
	p0 = counter("pages_faulted");
	must(wd_copy(q, b, a, len), "wd_copy (SVA)");
	must(wd_crc32c(q, b, len, 0, &c1), "wd_crc32c (SVA)");
	check(!memcmp(a, b, len), "SVA copy differs");
	printf("  SVA: copied 8 MiB between two malloc() buffers, no registration; the device\n"
	       "  faulted %llu times for %llu pages through its mirror of our page table\n",
	       (unsigned long long)(counter("device_faults") - f0),
	       (unsigned long long)(counter("pages_faulted") - p0));
	check(counter("pages_faulted") > p0, "no device faults in SVA mode");
	wd_queue_put(q);

	/* Pinned: a second handle, the range shared first. */
	must(wd_open(devname, &pdev), "wd_open");
	must(wd_set_mmu_mode(pdev, WD_MMU_PINNED), "wd_set_mmu_mode(PINNED)");
	must(wd_queue_get(pdev, NULL, &q), "wd_queue_get");
	{
		char *s = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int ret;

		check(s != MAP_FAILED, "mmap");
		memcpy(s, a, len);
		ret = wd_copy(q, s + len, s, len);
		check(ret == -EFAULT, "pinned mode took an unshared range (%d)", ret);
		pin0 = counter("pinned_pages");
		must(wd_share(pdev, s, 2 * len, WD_SHARE_READ | WD_SHARE_WRITE), "wd_share");
		pin1 = counter("pinned_pages");
		must(wd_copy(q, s + len, s, len), "wd_copy (pinned)");
		must(wd_crc32c(q, s + len, len, 0, &c2), "wd_crc32c (pinned)");
		check(!memcmp(s + len, a, len) && c1 == c2, "pinned copy differs");
		printf("  pinned: an unshared range was refused (EFAULT); after wd_share() of 16 MiB\n"
		       "  (%llu pages pinned) the same copy worked; CRC32C %08x both ways\n",
		       (unsigned long long)(pin1 - pin0), c2);
		check(pin1 - pin0 == 2 * len / 4096, "%llu pages pinned",
		      (unsigned long long)(pin1 - pin0));
		must(wd_unshare(pdev, s, 2 * len), "wd_unshare");
		munmap(s, 2 * len);
	}
	wd_close(pdev);
	free(a);
	free(b);
	return 0;
}

static int demo_migrate(struct wd_dev *dev)
{
	struct wd_dev_desc d;
	size_t len = 4 * MiB, i;
	uint64_t moved = 0, failed = 0, back0, cpu0, moved_sys;
	struct wd_queue *q;
	uint32_t c0, c1;
	char *p;

	must(wd_describe(devname, &d), "wd_describe");
	if (!(d.flags & WD_DEV_F_DEVPRIV)) {
		printf("  %s has no device-private memory (kernel without CONFIG_DEVICE_PRIVATE): skipped\n",
		       devname);
		return 3;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	check(p != MAP_FAILED, "mmap");
	for (i = 0; i < len; i++)
		p[i] = (char)(i ^ (i >> 9));
	must(wd_queue_get(dev, NULL, &q), "wd_queue_get");
	must(wd_crc32c(q, p, len, 0, &c0), "wd_crc32c");
	must(wd_migrate(dev, p, len, WD_MIGRATE_TO_DEVICE, &moved, &failed),
	     "wd_migrate");
	printf("  moved %llu of %zu pages to device-private memory (%llu failed); the device\n",
	       (unsigned long long)moved, len / 4096, (unsigned long long)failed);
	check(moved == len / 4096, "only %llu pages moved", (unsigned long long)moved);
	must(wd_crc32c(q, p, len, 0, &c1), "wd_crc32c on device memory");
	printf("  computes the same CRC32C on them where they are: %08x\n", c1);
	check(c0 == c1, "CRC32C %08x on the device, %08x before", c1, c0);
	back0 = counter("migrated_to_system");
	cpu0 = counter("cpu_faults");
	for (i = 0; i < len; i++)
		check(p[i] == (char)(i ^ (i >> 9)), "byte %zu wrong after the CPU touch", i);
	moved_sys = counter("migrated_to_system") - back0;
	printf("  a CPU read of every page brought them back: %llu CPU faults, %llu pages migrated\n"
	       "  to system memory, contents intact\n",
	       (unsigned long long)(counter("cpu_faults") - cpu0),
	       (unsigned long long)moved_sys);
	check(moved_sys == len / 4096, "%llu pages came back, not %zu",
	      (unsigned long long)moved_sys, len / 4096);
	wd_queue_put(q);
	munmap(p, len);
	return 0;
}

int main(int argc, char **argv)
{
	struct wd_dev *dev;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: wddemo devmem|rings|sva|migrate [DEVICE]\n");
		return 2;
	}
	must(wd_open(argc > 2 ? argv[2] : NULL, &dev), "wd_open");
	devname = wd_dev_name(dev);
	if (!strcmp(argv[1], "devmem"))
		ret = demo_devmem(dev);
	else if (!strcmp(argv[1], "rings"))
		ret = demo_rings(dev);
	else if (!strcmp(argv[1], "sva"))
		ret = demo_sva(dev);
	else if (!strcmp(argv[1], "migrate"))
		ret = demo_migrate(dev);
	else
		ret = 2;
	wd_close(dev);
	return ret;
}
