// SPDX-License-Identifier: GPL-2.0
/*
 * The framework's paths for DMA hardware, without any: wd_soft loaded with
 * dma=1 gives its devices a DMA device, so every page a command reaches is
 * DMA-mapped for it (through dma-direct; the debug kernel's DMA-API checks
 * catch a wrong or missing unmap, and mappings left when the DMA device
 * goes). stats/dma_mapped counts the pages mapped now: checked exactly
 * for the SVA mirror and for shares, and back to 0 after unmap, unshare,
 * close and removal. Then the engine, mmu, lifetime and devpriv programs
 * run again with wd_soft so loaded (mmu_hard: see below).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "kselftest_harness.h"
#include "libwd.h"
#include "wd_test.h"

#define PG		4096UL
#define DMA_PARAM	"/sys/module/wd_soft/parameters/dma"

/* wd_soft loaded with dma=1 (reloaded if it is not). */
static int dma_loaded(void)
{
	char buf[8];

	if (wd_test_module_loaded("wd_soft") && !wd_test_read_file(DMA_PARAM, buf, sizeof(buf)) &&
	    buf[0] == 'Y')
		return 0;
	if (!wd_test_module_loaded("wd_soft"))
		return wd_test_load("dma=1");
	return wd_test_reload_soft("dma=1");
}

/* dma_mapped once the contexts that went are torn down (close is async). */
static long long settled_mapped(long long want)
{
	long long v = -1;
	int i;

	for (i = 0; i < 50; i++) {
		v = wd_test_stat("dma_mapped");
		if (v == want)
			break;
		usleep(20000);
	}
	return v;
}

FIXTURE(dma) {
	struct tq t;
};

FIXTURE_SETUP(dma)
{
	ASSERT_EQ(0, dma_loaded());
	ASSERT_EQ(0, settled_mapped(0));
	memset(&self->t, 0, sizeof(self->t));
	self->t.fd = -1;
}

/* Leave wd_soft as the rest of the suite expects it: the defaults. */
FIXTURE_TEARDOWN(dma)
{
	if (self->t.fd >= 0)
		tq_close(&self->t);
	/* No ASSERT here: a teardown that bails runs again. */
	if (wd_test_module_loaded("wd_soft"))
		wd_test_reload_soft(NULL);
	else
		wd_test_load(NULL);
}

/* SVA: mirror entries are mapped when faulted, unmapped when they go. */
TEST_F(dma, sva_mirror_mapped_and_unmapped)
{
	size_t len = 64 * PG, i;
	char *src = wd_test_anon(len), *dst = wd_test_anon(len);

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	ASSERT_EQ(0, tq_open(&self->t, 16, 0));
	for (i = 0; i < len; i++)
		src[i] = (char)(i * 13 + 1);
	memset(dst, 0, len);
	EXPECT_EQ(0, wd_test_stat("dma_mapped"));
	ASSERT_EQ(WD_ST_OK, tq_copy(&self->t, dst, src, len));
	EXPECT_EQ(0, memcmp(src, dst, len));
	/* Both buffers, every page, no more (fault-around stops at the end). */
	EXPECT_EQ(128, wd_test_stat("dma_mapped"));

	/* Unmapping a buffer drops its entries and their DMA mappings. */
	ASSERT_EQ(0, munmap(src, len));
	EXPECT_EQ(64, wd_test_stat("dma_mapped"));
	ASSERT_EQ(0, madvise(dst, 16 * PG, MADV_DONTNEED));
	EXPECT_EQ(48, wd_test_stat("dma_mapped"));

	/* Copy-on-write after fork: the parent's entries go, then come back. */
	memset(dst, 7, len);
	ASSERT_EQ(WD_ST_OK, tq_copy(&self->t, dst + len / 2, dst, len / 2));
	EXPECT_EQ(64, wd_test_stat("dma_mapped"));
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid)
		_exit(0);
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	/* fork write-protected the pages: the writable entries went. */
	EXPECT_GT(64, wd_test_stat("dma_mapped"));
	for (i = 0; i < len; i++)
		dst[i] = (char)i;
	ASSERT_EQ(WD_ST_OK, tq_copy(&self->t, dst + len / 2, dst, len / 2));
	EXPECT_EQ(0, memcmp(dst, dst + len / 2, len / 2));
	EXPECT_EQ(64, wd_test_stat("dma_mapped"));

	tq_close(&self->t);
	self->t.fd = -1;
	EXPECT_EQ(0, settled_mapped(0));
	munmap(dst, len);
}

/*
 * A read-only mirror entry of a page that then becomes writable in place
 * (after fork, the child gone, a write reuses the page without an
 * invalidation): the fault replaces the entry, mapped for writing, once
 * no engine uses the old one.
 */
TEST_F(dma, sva_read_only_entry_replaced)
{
	char *buf = wd_test_anon(2 * PG);
	uint32_t crc;
	pid_t pid;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, tq_open(&self->t, 16, 0));
	memset(buf, 1, 2 * PG);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(0);
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	/* Write-protected by fork: the device reads, read-only entries. */
	ASSERT_EQ(WD_ST_OK, tq_crc(&self->t, buf, 2 * PG, &crc));
	EXPECT_EQ(wd_test_crc32c(0, buf, 2 * PG), crc);
	EXPECT_EQ(2, wd_test_stat("dma_mapped"));
	/* Now the device writes the first page. */
	buf[PG] = 5;
	ASSERT_EQ(WD_ST_OK, tq_copy(&self->t, buf, buf + PG, PG));
	EXPECT_EQ(5, buf[0]);
	EXPECT_EQ(2, settled_mapped(2));
	tq_close(&self->t);
	self->t.fd = -1;
	EXPECT_EQ(0, settled_mapped(0));
	munmap(buf, 2 * PG);
}

/* Pinned: shares are mapped once at SHARE, unmapped at unshare and close. */
TEST_F(dma, pinned_shares_mapped_once)
{
	size_t len = 256 * PG, i;
	char *a = wd_test_anon(len), *b = wd_test_anon(len), *c = wd_test_anon(PG);

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, tq_open_mode(&self->t, WD_MMU_PINNED));
	for (i = 0; i < len; i++)
		a[i] = (char)(i * 31 + 5);
	ASSERT_EQ(0, wd_test_share(self->t.fd, a, len, WD_SHARE_READ));
	EXPECT_EQ(256, wd_test_stat("dma_mapped"));
	ASSERT_EQ(0, wd_test_share(self->t.fd, b, len, WD_SHARE_READ | WD_SHARE_WRITE));
	EXPECT_EQ(512, wd_test_stat("dma_mapped"));

	/* Unaligned and spanning the whole share, many pages per call. */
	ASSERT_EQ(WD_ST_OK, tq_copy(&self->t, b + 3, a + 1, len - 4));
	EXPECT_EQ(0, memcmp(a + 1, b + 3, len - 4));
	/* Commands map nothing more. */
	EXPECT_EQ(512, wd_test_stat("dma_mapped"));
	/* The read-only share is not written, not even partly. */
	memcpy(b, a, len);
	b[0] ^= 1;
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&self->t, a, b, len));
	EXPECT_NE(a[0], b[0]);
	/* Outside any share. */
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&self->t, b, c, PG));
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&self->t, c, b, PG));

	ASSERT_EQ(0, wd_test_unshare(self->t.fd, a, len));
	EXPECT_EQ(256, wd_test_stat("dma_mapped"));
	EXPECT_EQ(WD_ST_FAULT, tq_copy(&self->t, b, a, PG));
	tq_close(&self->t);
	self->t.fd = -1;
	EXPECT_EQ(0, settled_mapped(0));
	munmap(a, len);
	munmap(b, len);
	munmap(c, PG);
}

/* DEFLATE and INFLATE through DMA addresses, segments of many pages. */
TEST_F(dma, deflate_inflate_round_trip)
{
	size_t len = 300 * 1024 + 17, out_len = len + 4096;
	char *in = malloc(len), *z = malloc(out_len), *back = malloc(len);
	struct wd_cqe cqe;
	struct wd_cmd c = {
		.opcode = WD_OP_DEFLATE, .tag = 9, .format = WD_FMT_ZLIB,
	};
	uLongf ulen = len;

	ASSERT_NE(NULL, in);
	ASSERT_NE(NULL, z);
	ASSERT_NE(NULL, back);
	ASSERT_EQ(0, tq_open(&self->t, 16, 0));
	wd_test_fill_text(in, len, 3, 16);
	c.src = (uintptr_t)in;
	c.src_len = len;
	c.dst = (uintptr_t)z;
	c.dst_len = out_len;
	ASSERT_EQ(0, tq_run(&self->t, &c, &cqe));
	ASSERT_EQ(WD_ST_OK, cqe.status);
	/* zlib agrees with the device's output. */
	ASSERT_EQ(Z_OK, uncompress((Bytef *)back, &ulen, (Bytef *)z, cqe.result));
	ASSERT_EQ(len, ulen);
	EXPECT_EQ(0, memcmp(in, back, len));

	memset(back, 0, len);
	c.opcode = WD_OP_INFLATE;
	c.src = (uintptr_t)z;
	c.src_len = cqe.result;
	c.dst = (uintptr_t)back;
	c.dst_len = len;
	ASSERT_EQ(0, tq_run(&self->t, &c, &cqe));
	ASSERT_EQ(WD_ST_OK, cqe.status);
	EXPECT_EQ(len, cqe.result);
	EXPECT_EQ(0, memcmp(in, back, len));
	EXPECT_LT(0, wd_test_stat("dma_mapped"));
	tq_close(&self->t);
	self->t.fd = -1;
	EXPECT_EQ(0, settled_mapped(0));
	free(in);
	free(z);
	free(back);
}

/*
 * The device goes while a context holds a mirror and another a share:
 * everything is unmapped before the DMA device is (DMA-API debug would
 * report what is left), and the files still close cleanly.
 */
TEST_F(dma, removal_unmaps_everything)
{
	size_t len = 32 * PG;
	char *a = wd_test_anon(len), *b = wd_test_anon(len);
	struct tq p;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	/* Present and writable: pinning for writing changes no mapping. */
	memset(a, 1, len);
	memset(b, 2, len);
	ASSERT_EQ(0, tq_open(&self->t, 16, 0));
	ASSERT_EQ(WD_ST_OK, tq_copy(&self->t, b, a, len));
	ASSERT_EQ(0, tq_open_mode(&p, WD_MMU_PINNED));
	ASSERT_EQ(0, wd_test_share(p.fd, a, len, WD_SHARE_READ | WD_SHARE_WRITE));
	EXPECT_EQ(64 + 32, wd_test_stat("dma_mapped"));

	ASSERT_EQ(0, wd_test_remove_device(0));
	/* Unshare and close after removal: nothing is unmapped twice. */
	EXPECT_EQ(-ENODEV, wd_test_unshare(p.fd, a, len));
	tq_close(&p);
	tq_close(&self->t);
	self->t.fd = -1;
	munmap(a, len);
	munmap(b, len);
}

/* Run another test program with wd_soft loaded with dma=1. */
static int run_with_dma(const char *prog)
{
	char path[128];
	int status;
	pid_t pid;

	if (dma_loaded())
		return -1;
	snprintf(path, sizeof(path), "/wd/tests/%s", prog);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		/* Goes with the test if the harness's timeout kills it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setenv(WD_SOFT_EXTRA_ENV, "dma=1", 1);
		execl(path, prog, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	printf("# %s with dma=1: exit %d\n", prog, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void suite(struct __test_metadata *_metadata, const char *prog)
{
	char buf[8];

	EXPECT_EQ(0, run_with_dma(prog));
	/* The program left wd_soft loaded as it found it, nothing mapped. */
	ASSERT_EQ(0, wd_test_read_file(DMA_PARAM, buf, sizeof(buf)));
	EXPECT_EQ('Y', buf[0]);
	EXPECT_EQ(0, settled_mapped(0));
}

/* Limits: twice what tests/list gives the program itself. */
TEST_F_TIMEOUT(dma, suite_engine, 600) { suite(_metadata, "engine"); }
TEST_F_TIMEOUT(dma, suite_mmu, 1200) { suite(_metadata, "mmu"); }
/*
 * Not mmu_hard: its overlapping_invalidation_storm_bounded wants each of
 * 3 commands done within 4 s while two threads drop the destination in a
 * loop; with dma=1 on the debug kernel (DMA-API debug records every map
 * and unmap) under TCG a command takes 1-5 s there. Its other 9 tests
 * pass with dma=1 (run it by hand: WD_SOFT_EXTRA=dma=1 /wd/tests/mmu_hard
 * after loading wd_soft with dma=1).
 */
TEST_F_TIMEOUT(dma, suite_lifetime, 600) { suite(_metadata, "lifetime"); }
TEST_F_TIMEOUT(dma, suite_devpriv, 1800) { suite(_metadata, "devpriv"); }

TEST_HARNESS_MAIN
