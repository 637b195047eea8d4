// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetimes: a device unregistered (hot-removed) while processes use it, a
 * process killed in the middle of a command, a buffer unmapped under a
 * running command, one tenant's long command against everyone else's
 * queues, the module unloaded after all of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "libwd.h"
#include "wd_test.h"

#define BIG	(32UL << 20)

static void reload(struct __test_metadata *_metadata)
{
	int i, ret = -1;

	/* The module is pinned until the last file closes. */
	for (i = 0; i < 50 && ret; i++) {
		ret = wd_test_rmmod("wd_soft");
		if (ret)
			usleep(100000);
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, wd_test_insmod("wd_soft", NULL));
}

static struct wd_cmd copy_cmd(void *dst, const void *src, size_t len, unsigned long long tag)
{
	struct wd_cmd c = {
		.opcode = WD_OP_COPY, .tag = tag,
		.src = (unsigned long)src, .src_len = len,
		.dst = (unsigned long)dst, .dst_len = len,
	};

	return c;
}

TEST(unregister_with_queue_in_use)
{
	char *src, *dst;
	struct wd_cqe cqe;
	struct wd_queue_info info;
	struct pollfd pfd;
	struct wd_cmd c;
	struct tq t;
	int i, ok = 0, nodev = 0, other;

	src = malloc(BIG);
	dst = malloc(BIG);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	memset(src, 0x5a, BIG);
	memset(dst, 0, BIG);

	ASSERT_EQ(0, tq_open(&t, 16, 0));
	other = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, other);

	/* A long copy, then NOPs queued behind it. */
	c = copy_cmd(dst, src, BIG, 1000);
	ASSERT_EQ(0, tq_submit(&t, &c));
	for (i = 0; i < 8; i++) {
		struct wd_cmd n = { .opcode = WD_OP_NOP, .tag = i };

		ASSERT_EQ(0, tq_submit(&t, &n));
	}
	ASSERT_EQ(0, wd_test_remove_device(0));

	/*
	 * Every command completes exactly once: done, stopped in the middle
	 * (CANCELLED) or never started (NODEV).
	 */
	for (i = 0; i < 9; i++) {
		ASSERT_EQ(0, tq_reap(&t, &cqe, 10000));
		if (cqe.status == WD_ST_OK || cqe.status == WD_ST_CANCELLED)
			ok++;
		else if (cqe.status == WD_ST_NODEV)
			nodev++;
	}
	EXPECT_EQ(9, ok + nodev);
	EXPECT_EQ(-ENODEV, tq_reap(&t, &cqe, 100));
	EXPECT_TRUE(t.cqh->flags & WD_CQ_F_DEAD);
	TH_LOG("%d done or cancelled, %d failed with NODEV", ok, nodev);

	pfd.fd = t.fd;
	pfd.events = POLLIN;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_TRUE(pfd.revents & POLLHUP);

	/* Everything else on the old files fails cleanly. */
	EXPECT_EQ(-1, ioctl(t.fd, WD_IOC_KICK, 0));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, ioctl(t.fd, WD_IOC_INFO, &info));
	EXPECT_EQ(ENODEV, errno);
	memset(&info, 0, sizeof(info));
	EXPECT_EQ(-1, tq_get(other, &info));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED, other, 0));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, open(WD_TEST_NODE, O_RDWR));
	EXPECT_EQ(ENOENT, errno);
	/* The ring memory is still readable: no use after free. */
	EXPECT_EQ(9, t.cqh->cq_tail);

	/* The module stays pinned by the open files. */
	i = wd_test_rmmod("wd_soft");
	EXPECT_TRUE(i == -EWOULDBLOCK || i == -EBUSY);
	tq_close(&t);
	close(other);
	reload(_metadata);
	free(src);
	free(dst);
}

static int waiter_result;

static void *blocked_getter(void *arg)
{
	struct wd_queue_info info = { 0 };
	int fd = *(int *)arg;

	waiter_result = tq_get(fd, &info) ? errno : 0;
	return NULL;
}

TEST(unregister_wakes_waiters)
{
	struct wd_queue_info info;
	int fds[64], fd, i, total;
	char buf[16];
	pthread_t th;

	ASSERT_EQ(0, wd_test_read_file("/sys/class/warpdrive/" WD_TEST_DEV "/queues_total",
				       buf, sizeof(buf)));
	total = atoi(buf);
	for (i = 0; i < total; i++) {
		fds[i] = open(WD_TEST_NODE, O_RDWR);
		memset(&info, 0, sizeof(info));
		ASSERT_EQ(0, tq_get(fds[i], &info));
	}
	fd = open(WD_TEST_NODE, O_RDWR);
	waiter_result = -1;
	ASSERT_EQ(0, pthread_create(&th, NULL, blocked_getter, &fd));
	usleep(300000);
	EXPECT_EQ(-1, waiter_result);
	ASSERT_EQ(0, wd_test_remove_device(0));
	pthread_join(th, NULL);
	EXPECT_EQ(ENODEV, waiter_result);
	close(fd);
	for (i = 0; i < total; i++)
		close(fds[i]);
	reload(_metadata);
}

TEST(remove_knob_bad_input)
{
	int fd = open("/sys/kernel/debug/wd_soft/remove", O_WRONLY);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, write(fd, "8", 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(fd, "abc", 3));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(fd, "3", 1));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
}

TEST(process_killed_mid_command)
{
	int round, status;
	char buf[16];

	for (round = 0; round < 5; round++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0) {
			char *src = malloc(BIG), *dst = malloc(BIG);
			struct wd_cmd c;
			struct tq t;
			int i;

			memset(src, 1, BIG);
			if (tq_open(&t, 16, 0))
				_exit(1);
			for (i = 0; i < 8; i++) {
				c = copy_cmd(dst, src, BIG, i);
				tq_submit(&t, &c);
			}
			pause();
			_exit(0);
		}
		usleep(50000 + round * 30000);
		kill(pid, SIGKILL);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFSIGNALED(status));
	}
	/*
	 * Every queue came back and the device still works. A queue can
	 * come back just after waitpid(): if the engine held the last
	 * reference on the killed process's mm (a device fault in flight),
	 * the address space, and the ring mappings that keep the file open,
	 * are torn down by a worker (mmput_async()). Bounded: 2 s.
	 */
	{
		char total[16];
		struct wd_cmd c = { .opcode = WD_OP_NOP, .tag = 7 };
		struct wd_cqe cqe;
		struct tq t;
		int i;

		ASSERT_EQ(0, wd_test_read_file("/sys/class/warpdrive/" WD_TEST_DEV "/queues_total",
					       total, sizeof(total)));
		for (i = 0; i < 200; i++) {
			ASSERT_EQ(0, wd_test_read_file("/sys/class/warpdrive/" WD_TEST_DEV "/queues_free",
						       buf, sizeof(buf)));
			if (!strcmp(total, buf))
				break;
			usleep(10000);
		}
		EXPECT_STREQ(total, buf);
		ASSERT_EQ(0, tq_open(&t, 8, 0));
		ASSERT_EQ(0, tq_run(&t, &c, &cqe));
		EXPECT_EQ(WD_ST_OK, cqe.status);
		tq_close(&t);
	}
}

struct unmapper {
	char *buf;
	volatile int stop;
};

static void *unmap_loop(void *arg)
{
	struct unmapper *u = arg;

	while (!u->stop) {
		munmap(u->buf, BIG);
		if (mmap(u->buf, BIG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			break;
		usleep(20000);
	}
	return NULL;
}

/* A buffer unmapped and remapped under running commands: each completes
 * with OK or FAULT, the engine never writes where nothing is mapped.
 */
TEST(buffer_unmapped_under_command)
{
	struct unmapper u = { 0 };
	struct wd_cqe cqe;
	struct wd_cmd c;
	pthread_t th;
	char *src;
	struct tq t;
	int i, ok = 0, fault = 0;

	src = malloc(BIG);
	ASSERT_NE(NULL, src);
	memset(src, 3, BIG);
	u.buf = mmap(NULL, BIG, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, u.buf);
	ASSERT_EQ(0, tq_open(&t, 16, 0));
	ASSERT_EQ(0, pthread_create(&th, NULL, unmap_loop, &u));
	for (i = 0; i < 40; i++) {
		c = copy_cmd(u.buf, src, BIG / 8, i);
		ASSERT_EQ(0, tq_run(&t, &c, &cqe));
		if (cqe.status == WD_ST_OK)
			ok++;
		else if (cqe.status == WD_ST_FAULT)
			fault++;
	}
	u.stop = 1;
	pthread_join(th, NULL);
	EXPECT_EQ(40, ok + fault);
	TH_LOG("%d ok, %d fault", ok, fault);
	tq_close(&t);
	munmap(u.buf, BIG);
	free(src);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct wd_cmd deflate9_cmd(void *dst, const void *src, size_t len)
{
	struct wd_cmd c = {
		.opcode = WD_OP_DEFLATE, .tag = 0x10e9, .param = 9,
		.src = (unsigned long)src, .src_len = len,
		.dst = (unsigned long)dst, .dst_len = len + len / 8 + 4096,
	};

	return c;
}

/*
 * A long command for this machine: a level-9 DEFLATE that takes at least
 * 3 s here (1 MiB is timed, then a size scaled from it, doubled while it
 * is still too short). Returns its length and its measured duration in
 * *secs.
 */
static char *long_src, *long_dst;
static size_t long_len;
static double long_secs;

static int long_command(struct __test_metadata *_metadata, size_t *len, double *secs)
{
	struct wd_cqe cqe;
	struct wd_cmd c;
	struct tq t;
	size_t n;
	double t0;

	if (long_len)
		goto out;
	long_src = malloc(64UL << 20);
	long_dst = malloc((64UL << 20) + (8UL << 20) + 4096);
	if (!long_src || !long_dst)
		return -1;
	wd_test_fill_text(long_src, 64UL << 20, 42, 16);
	if (tq_open(&t, 16, 0))
		return -1;
	for (n = 1UL << 20; n <= 64UL << 20;) {
		c = deflate9_cmd(long_dst, long_src, n);
		t0 = now_s();
		if (tq_submit(&t, &c) || tq_reap(&t, &cqe, 600000) ||
		    cqe.status != WD_ST_OK)
			break;
		long_secs = now_s() - t0;
		long_len = n;
		if (long_secs >= 3)
			break;
		/* Aim at 4 s in one step; double at least. */
		do
			n *= 2;
		while (n < (64UL << 20) && long_secs * n / long_len < 4);
	}
	tq_close(&t);
	if (!long_len)
		return -1;
	TH_LOG("long command: level-9 DEFLATE of %zu MiB, %.2f s", long_len >> 20,
	       long_secs);
out:
	*len = long_len;
	*secs = long_secs;
	return 0;
}

/* Wait until the engine took the first command of @t. */
static void wait_fetched(struct tq *t)
{
	while (!__atomic_load_n(&t->cqh->sq_head, __ATOMIC_ACQUIRE))
		usleep(1000);
}

/*
 * One tenant's long command stalls nobody else: while process A runs a
 * level-9 DEFLATE, process B gets a queue, runs NOPs and COPYs and puts
 * its queue, all before A's command ends; A's QUEUE_PUT in the middle of
 * the command returns, and the command ends failed (CANCELLED), not done.
 */
/* The tests below time a long command first: more than the default 30 s. */
FIXTURE(slow) {
};

FIXTURE_SETUP(slow)
{
}

FIXTURE_TEARDOWN(slow)
{
}

static void long_command_vs_other_queue(struct __test_metadata *_metadata)
{
	uint64_t done0, failed0, done1, failed1;
	double secs, t0, t_b, t_put;
	int status, stalled;
	struct wd_cmd c;
	struct tq a;
	size_t len;
	pid_t pid;

	ASSERT_EQ(0, long_command(_metadata, &len, &secs));
	ASSERT_EQ(0, tq_open(&a, 16, 0));
	c = deflate9_cmd(long_dst, long_src, len);
	t0 = now_s();
	ASSERT_EQ(0, tq_submit(&a, &c));
	wait_fetched(&a);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		static char src[65536], dst[65536];
		struct wd_cqe cqe;
		struct tq b;
		int i;

		memset(src, 0x3c, sizeof(src));
		if (tq_open(&b, 16, 0))
			_exit(10);
		for (i = 0; i < 64; i++) {
			struct wd_cmd n = { .opcode = WD_OP_NOP, .tag = i };

			if (tq_run(&b, &n, &cqe) || cqe.status != WD_ST_OK)
				_exit(11);
		}
		for (i = 0; i < 16; i++) {
			c = copy_cmd(dst, src, sizeof(dst), i);
			if (tq_run(&b, &c, &cqe) || cqe.status != WD_ST_OK ||
			    memcmp(src, dst, sizeof(dst)))
				_exit(12);
		}
		if (ioctl(b.fd, WD_IOC_QUEUE_PUT, 0))
			_exit(13);
		tq_close(&b);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	t_b = now_s() - t0;
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* A's command is still running: no completion yet. */
	stalled = __atomic_load_n(&a.cqh->cq_tail, __ATOMIC_ACQUIRE) != 0;
	EXPECT_FALSE(stalled) TH_LOG("B had to wait for A's command to end");

	ASSERT_EQ(0, wd_dev_attr_u64(WD_TEST_DEV, "stats/commands_completed", &done0));
	ASSERT_EQ(0, wd_dev_attr_u64(WD_TEST_DEV, "stats/commands_failed", &failed0));
	t0 = now_s();
	EXPECT_EQ(0, ioctl(a.fd, WD_IOC_QUEUE_PUT, 0));
	t_put = now_s() - t0;
	ASSERT_EQ(0, wd_dev_attr_u64(WD_TEST_DEV, "stats/commands_completed", &done1));
	ASSERT_EQ(0, wd_dev_attr_u64(WD_TEST_DEV, "stats/commands_failed", &failed1));
	/* The command ended at the PUT, cancelled: it never completed OK. */
	EXPECT_EQ(done0, done1);
	EXPECT_EQ(failed0 + 1, failed1);
	TH_LOG("B done %.3f s into A's %.2f s command; A's PUT took %.3f s",
	       t_b, secs, t_put);
	/* Revoked by the PUT, still mapped: unmapped here, so wd_soft can go. */
	tq_close(&a);
}

TEST_F_TIMEOUT(slow, long_command_stalls_no_other_queue, 180)
{
	long_command_vs_other_queue(_metadata);
}

/* The same with a thread of its own for each queue (engines=queue). */
TEST_F_TIMEOUT(slow, long_command_engines_per_queue, 240)
{
	size_t len;
	double secs;

	ASSERT_EQ(0, long_command(_metadata, &len, &secs));
	ASSERT_EQ(0, wd_test_reload_soft("engines=queue"));
	long_command_vs_other_queue(_metadata);
	ASSERT_EQ(0, wd_test_reload_soft(NULL));
}

/* Sum of the "handoffs" of debugfs wd_soft/engines, -1 if unreadable. */
static long long engine_handoffs(int *cores, int *queues)
{
	char buf[4096], *p;
	long long sum = 0;

	*cores = 0;
	*queues = 0;
	if (wd_test_read_file("/sys/kernel/debug/wd_soft/engines", buf,
			      sizeof(buf)))
		return -1;
	for (p = strstr(buf, "\ncore "); p; p = strstr(p + 1, "\ncore ")) {
		unsigned int id, q;
		unsigned long long h;

		if (sscanf(p, "\ncore %u queues %u handoffs %llu", &id, &q,
			   &h) != 3)
			return -1;
		(*cores)++;
		*queues += q;
		sum += h;
	}
	return sum;
}

/*
 * The same with every queue on one execution unit (engines=1): A's long
 * command hands the unit to B at its pieces, so B still finishes first.
 */
TEST_F_TIMEOUT(slow, long_command_shares_one_engine, 240)
{
	long long h0, h1;
	int cores, queues;
	size_t len;
	double secs;

	/* Timed first, on the default engines. */
	ASSERT_EQ(0, long_command(_metadata, &len, &secs));
	ASSERT_EQ(0, wd_test_reload_soft("engines=1"));
	h0 = engine_handoffs(&cores, &queues);
	ASSERT_LE(0, h0);
	ASSERT_EQ(1, cores);
	long_command_vs_other_queue(_metadata);
	h1 = engine_handoffs(&cores, &queues);
	/* B waited for the unit and got it in the middle of A's command. */
	EXPECT_LT(h0, h1);
	EXPECT_EQ(0, queues);
	TH_LOG("engines=1: %lld hand-overs", h1 - h0);
	ASSERT_EQ(0, wd_test_reload_soft(NULL));
}

struct dropper {
	char *buf;
	size_t len;
	volatile int stop;
	unsigned long rounds;
};

/* Drop the pages of a buffer a command writes, as fast as it can. */
static void *dropper(void *arg)
{
	struct dropper *d = arg;

	while (!d->stop) {
		madvise(d->buf, d->len, MADV_DONTNEED);
		__atomic_add_fetch(&d->rounds, 1, __ATOMIC_RELAXED);
		usleep(200);
	}
	return NULL;
}

/*
 * Queues on one shared unit handing it over at every piece (engines=1
 * slice_us=0) while invalidations hit the memory of the command that is
 * set aside: three contexts of one process, one copying 2 MiB again and
 * again into a buffer whose pages a thread keeps dropping, one copying
 * 64 KiB and checking every byte, one running NOPs. Every command ends
 * (the long ones OK or FAULT), the checked copies are right, and the unit
 * changed hands many times.
 */
TEST_F_TIMEOUT(slow, shared_engine_pauses_under_invalidations, 240)
{
	/*
	 * Small enough that the copies end in time even when every turn
	 * moves only a page (slice_us=0, scattered pages) and each turn of
	 * the long copy is slow (DMA-API debug on the 6.12 debug kernel, its
	 * pages dropped every 200 us).
	 */
	size_t big = 2UL << 20, small = 64UL << 10;
	char *bsrc = wd_test_anon(big), *bdst = wd_test_anon(big);
	char *ssrc = wd_test_anon(small), *sdst = wd_test_anon(small);
	struct dropper d = { .buf = bdst, .len = big };
	int cores, queues, i, big_done = 0, bad = 0, timeouts = 0;
	unsigned int small_ok = 0, nops = 0;
	long long h0, h1;
	struct tq a, b, c;
	struct wd_cqe cqe;
	pthread_t th;
	double t0;

	ASSERT_NE(NULL, bsrc);
	ASSERT_NE(NULL, bdst);
	ASSERT_NE(NULL, ssrc);
	ASSERT_NE(NULL, sdst);
	memset(bsrc, 'b', big);
	ASSERT_EQ(0, wd_test_reload_soft("engines=1 slice_us=0"));
	h0 = engine_handoffs(&cores, &queues);
	ASSERT_EQ(1, cores);
	ASSERT_EQ(0, tq_open(&a, 16, 0));
	ASSERT_EQ(0, tq_open(&b, 16, 0));
	ASSERT_EQ(0, tq_open(&c, 16, 0));
	ASSERT_EQ(0, pthread_create(&th, NULL, dropper, &d));

	t0 = now_s();
	for (i = 0; now_s() - t0 < 8 && !timeouts; i++) {
		struct wd_cmd cb = copy_cmd(bdst, bsrc, big, 1000 + i);
		struct wd_cmd n = { .opcode = WD_OP_NOP, .tag = 2000 + i };
		int j;

		ASSERT_EQ(0, tq_submit(&a, &cb));
		/* While A's copy runs: B's checked copies, C's NOPs. */
		for (j = 0; j < 4; j++) {
			struct wd_cmd cs;

			memset(ssrc, 'a' + (i + j) % 26, small);
			cs = copy_cmd(sdst, ssrc, small, 3000 + j);
			if (tq_run(&b, &cs, &cqe)) {
				timeouts++;
				break;
			}
			if (cqe.status == WD_ST_OK && !memcmp(sdst, ssrc, small))
				small_ok++;
			else
				bad++;
			if (tq_run(&c, &n, &cqe) || cqe.status != WD_ST_OK)
				bad++;
			else
				nops++;
		}
		if (tq_reap(&a, &cqe, 60000)) {
			timeouts++;
			break;
		}
		big_done++;
		if (cqe.status != WD_ST_OK && cqe.status != WD_ST_FAULT)
			bad++;
	}
	d.stop = 1;
	pthread_join(th, NULL);
	h1 = engine_handoffs(&cores, &queues);
	TH_LOG("%d long copies, %u checked copies, %u NOPs, %lu drops, %lld hand-overs",
	       big_done, small_ok, nops, d.rounds, h1 - h0);
	EXPECT_EQ(0, timeouts);
	EXPECT_EQ(0, bad);
	EXPECT_LT(0, big_done);
	EXPECT_EQ(4U * big_done, small_ok);
	EXPECT_LE(h0 + big_done, h1);
	tq_close(&a);
	tq_close(&b);
	tq_close(&c);
	munmap(bsrc, big);
	munmap(bdst, big);
	munmap(ssrc, small);
	munmap(sdst, small);
	ASSERT_EQ(0, wd_test_reload_soft(NULL));
}

/*
 * A process killed in the middle of a long command frees its queue at once,
 * not when the command would have ended: the command's memory is no reason
 * to keep the dead process's queue.
 */
TEST_F_TIMEOUT(slow, killed_owner_frees_queue_at_once, 180)
{
	double secs, t_kill, t_free = -1, t0;
	char total[16], buf[16];
	int sync[2], status;
	size_t len;
	pid_t pid;

	ASSERT_EQ(0, long_command(_metadata, &len, &secs));
	ASSERT_EQ(0, wd_test_read_file("/sys/class/warpdrive/" WD_TEST_DEV "/queues_total",
				       total, sizeof(total)));
	ASSERT_EQ(0, pipe(sync));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct wd_cmd c = deflate9_cmd(long_dst, long_src, len);
		struct tq t;

		if (tq_open(&t, 16, 0) || tq_submit(&t, &c))
			_exit(1);
		wait_fetched(&t);
		if (write(sync[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(sync[1]);
	ASSERT_EQ(1, read(sync[0], buf, 1));
	close(sync[0]);
	t0 = now_s();
	sleep(1);
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	t_kill = now_s() - t0;
	EXPECT_TRUE(WIFSIGNALED(status));
	/* Poll for the queue to come back, at most until twice the command. */
	while (now_s() - t0 < 2 * secs + 5) {
		ASSERT_EQ(0, wd_test_read_file("/sys/class/warpdrive/" WD_TEST_DEV
					       "/queues_free", buf, sizeof(buf)));
		if (!strcmp(buf, total)) {
			t_free = now_s() - t0;
			break;
		}
		usleep(10000);
	}
	ASSERT_LE(0, t_free) TH_LOG("the queue never came back");
	TH_LOG("killed %.2f s into a %.2f s command; queue free %.3f s after the kill",
	       t_kill, secs, t_free - t_kill);
	/* Long before the command would have ended. */
	EXPECT_LT(t_free - t_kill, (secs - t_kill) / 2);
}

/* Map the rings of a queue with the given ring sizes (raw ABI). */
static int tq_open_sizes(struct tq *t, unsigned int sq, unsigned int cq)
{
	void *p;

	memset(t, 0, sizeof(*t));
	t->fd = open(WD_TEST_NODE, O_RDWR | O_CLOEXEC);
	if (t->fd < 0)
		return -errno;
	t->info.sq_entries = sq;
	t->info.cq_entries = cq;
	if (tq_get(t->fd, &t->info))
		return -errno;
	p = mmap(NULL, t->info.ctrl_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 t->fd, t->info.ctrl_offset);
	if (p == MAP_FAILED)
		return -errno;
	t->ctrl = p;
	p = mmap(NULL, t->info.sq_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 t->fd, t->info.sq_offset);
	if (p == MAP_FAILED)
		return -errno;
	t->sq = p;
	p = mmap(NULL, t->info.cq_size, PROT_READ, MAP_SHARED, t->fd,
		 t->info.cq_offset);
	if (p == MAP_FAILED)
		return -errno;
	t->cqh = p;
	t->cq = (struct wd_cqe *)((char *)p + WD_CQ_HDR_SIZE);
	return 0;
}

struct mover {
	struct tq *t;
	volatile int stop;
	pthread_mutex_t lock;
	unsigned long nodev;	/* NODEV completions consumed */
};

/*
 * Keep the submission ring full (every slot is a zeroed command: a NOP)
 * and consume every completion as soon as it is posted; both indices stay
 * in range. Two threads do it, each moving both indices, so the rings keep
 * moving while either of them runs.
 */
static void *mover(void *arg)
{
	struct mover *m = arg;
	struct tq *t = m->t;

	while (!m->stop) {
		unsigned int head = __atomic_load_n(&t->cqh->sq_head, __ATOMIC_ACQUIRE);
		unsigned int cq_head, cq_tail;

		__atomic_store_n(&t->ctrl->sq_tail, head + t->info.sq_entries,
				 __ATOMIC_RELEASE);
		if (pthread_mutex_trylock(&m->lock))
			continue;
		cq_head = t->ctrl->cq_head;
		cq_tail = __atomic_load_n(&t->cqh->cq_tail, __ATOMIC_ACQUIRE);
		for (; cq_head != cq_tail; cq_head++)
			if (t->cq[cq_head & (t->info.cq_entries - 1)].status == WD_ST_NODEV)
				m->nodev++;
		__atomic_store_n(&t->ctrl->cq_head, cq_tail, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&m->lock);
	}
	return NULL;
}

static volatile int remove_done;

static void *remover(void *arg)
{
	remove_done = wd_test_remove_device(0) ? -1 : 1;
	return NULL;
}

/*
 * Two threads keep moving sq_tail and cq_head forward (always in range)
 * while the device is removed: the removal must end on its own, in
 * bounded time, however long they keep at it.
 */
TEST(remove_while_indices_move)
{
	struct mover m = { 0 };
	pthread_t sq_th, cq_th, rm_th;
	struct tq t;
	int waited;

	ASSERT_EQ(0, tq_open_sizes(&t, 4096, 4096));
	m.t = &t;
	pthread_mutex_init(&m.lock, NULL);
	ASSERT_EQ(0, pthread_create(&sq_th, NULL, mover, &m));
	ASSERT_EQ(0, pthread_create(&cq_th, NULL, mover, &m));
	usleep(200000);
	remove_done = 0;
	ASSERT_EQ(0, pthread_create(&rm_th, NULL, remover, NULL));
	/* 8 s: far more than a bounded drain of 4096 commands needs. */
	for (waited = 0; waited < 80 && !remove_done; waited++)
		usleep(100000);
	EXPECT_EQ(1, remove_done) TH_LOG("removal still running after %d ms with the indices moving",
					 waited * 100);
	/* Let an unbounded drain end too, so the run can go on. */
	m.stop = 1;
	pthread_join(sq_th, NULL);
	pthread_join(cq_th, NULL);
	pthread_join(rm_th, NULL);
	EXPECT_EQ(1, remove_done);
	EXPECT_TRUE(t.cqh->flags & WD_CQ_F_DEAD);
	/*
	 * The drain took at most what the indices said when it began (one
	 * ring's worth), not whatever the movers kept adding.
	 */
	TH_LOG("removal failed %lu commands with NODEV", m.nodev);
	EXPECT_LE(m.nodev, t.info.sq_entries);
	tq_close(&t);
	reload(_metadata);
}

/*
 * Removal with more commands queued than free completion slots: as many
 * as fit complete with NODEV, the rest stay untaken in the submission ring
 * and are counted in cq_hdr.dropped, so every command is accounted for.
 */
TEST(remove_accounts_commands_beyond_free_slots)
{
	struct wd_cmd c = { .opcode = WD_OP_NOP };
	struct wd_cqe cqe;
	struct tq t;
	int i;

	ASSERT_EQ(0, tq_open_sizes(&t, 16, 4));
	for (i = 0; i < 16; i++) {
		c.tag = i;
		ASSERT_EQ(0, tq_submit(&t, &c));
	}
	/* 4 complete, then the full completion ring holds the engine back. */
	for (i = 0; i < 50 && t.cqh->cq_tail != 4; i++)
		usleep(20000);
	usleep(200000);
	ASSERT_EQ(4, t.cqh->cq_tail);
	ASSERT_EQ(4, t.cqh->sq_head);
	/* Make room for one completion, without waking the engine. */
	cqe = t.cq[0];
	EXPECT_EQ(0, cqe.tag);
	__atomic_store_n(&t.ctrl->cq_head, 1, __ATOMIC_RELEASE);

	ASSERT_EQ(0, wd_test_remove_device(0));
	EXPECT_TRUE(t.cqh->flags & WD_CQ_F_DEAD);
	ASSERT_EQ(5, t.cqh->cq_tail);
	EXPECT_EQ(WD_ST_NODEV, t.cq[4 & 3].status);
	EXPECT_EQ(4, t.cq[4 & 3].tag);
	EXPECT_EQ(5, t.cqh->sq_head);
	/* The other 11 were never taken, and are counted. */
	EXPECT_EQ(11, t.cqh->dropped);
	EXPECT_EQ(16, t.cqh->sq_head + t.cqh->dropped);
	tq_close(&t);
	reload(_metadata);
}

/* The same through libwd: every command submitted gets one completion. */
TEST(remove_libwd_completes_every_command)
{
	struct wd_queue_opts opts = { .sq_entries = 16, .cq_entries = 4 };
	struct wd_cmd cmds[16];
	struct wd_cqe cqe[4];
	int i, n, got = 0, ok = 0, nodev = 0, order = 1;
	struct wd_queue *q;
	struct wd_dev *dev;

	ASSERT_EQ(0, wd_open(WD_TEST_DEV, &dev));
	ASSERT_EQ(0, wd_queue_get(dev, &opts, &q));
	memset(cmds, 0, sizeof(cmds));
	for (i = 0; i < 16; i++) {
		cmds[i].opcode = WD_OP_NOP;
		cmds[i].tag = 100 + i;
	}
	ASSERT_EQ(16, wd_submit_batch(q, cmds, 16));
	usleep(300000);
	ASSERT_EQ(0, wd_test_remove_device(0));
	for (;;) {
		n = wd_reap(q, cqe, 4);
		if (n <= 0)
			break;
		for (i = 0; i < n; i++, got++) {
			if (cqe[i].tag != 100 + (unsigned int)got)
				order = 0;
			if (cqe[i].status == WD_ST_OK)
				ok++;
			else if (cqe[i].status == WD_ST_NODEV)
				nodev++;
		}
	}
	EXPECT_EQ(-ENODEV, n);
	EXPECT_EQ(16, got);
	EXPECT_EQ(4, ok);
	EXPECT_EQ(12, nodev);
	EXPECT_TRUE(order);
	EXPECT_EQ(0, wd_queue_inflight(q));
	wd_close(dev);
	reload(_metadata);
}

TEST_HARNESS_MAIN
