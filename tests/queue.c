// SPDX-License-Identifier: GPL-2.0
/*
 * Queues through the raw ABI: binding, ring mappings and their protection,
 * submission/completion, hostile ring indices, a full completion ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "libwd.h"
#include "wd_test.h"

static unsigned int sysfs_uint(const char *attr)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "/sys/class/warpdrive/" WD_TEST_DEV "/%s", attr);
	if (wd_test_read_file(path, buf, sizeof(buf)))
		return ~0U;
	return strtoul(buf, NULL, 0);
}

static struct wd_cmd nop(unsigned long long tag)
{
	struct wd_cmd c = { .opcode = WD_OP_NOP, .tag = tag };

	return c;
}

/* Run @fn in a child; return the signal that killed it, or 0. */
static int child_signal(void (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

TEST(get_put_and_info)
{
	unsigned int total = sysfs_uint("queues_total");
	struct wd_queue_info info = { 0 };
	int fd;

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(total, sysfs_uint("queues_free"));
	ASSERT_EQ(0, tq_get(fd, &info));
	EXPECT_EQ(256, info.sq_entries);
	EXPECT_EQ(512, info.cq_entries);
	EXPECT_LT(info.queue_id, total);
	EXPECT_EQ(4096, info.ctrl_size);
	EXPECT_EQ(256 * sizeof(struct wd_cmd), info.sq_size);
	EXPECT_EQ(WD_CQ_HDR_SIZE + 512 * sizeof(struct wd_cqe) + 4096 - 128, info.cq_size);
	EXPECT_NE(info.ctrl_offset, info.sq_offset);
	EXPECT_NE(info.sq_offset, info.cq_offset);
	EXPECT_EQ(total - 1, sysfs_uint("queues_free"));

	/* One queue per context. */
	memset(&info, 0, sizeof(info));
	EXPECT_EQ(-1, tq_get(fd, &info));
	EXPECT_EQ(EBUSY, errno);

	EXPECT_EQ(0, ioctl(fd, WD_IOC_QUEUE_PUT, 0));
	EXPECT_EQ(total, sysfs_uint("queues_free"));
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_QUEUE_PUT, 0));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_KICK, 0));
	EXPECT_EQ(ENXIO, errno);
	close(fd);
}

TEST(get_bad_arguments)
{
	struct wd_queue_info info;
	int fd;

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
#define BAD(field, value, err) do {					\
		memset(&info, 0, sizeof(info));				\
		info.api_version = WD_API_VERSION;			\
		info.field = value;					\
		EXPECT_EQ(-1, ioctl(fd, WD_IOC_QUEUE_GET, &info));	\
		EXPECT_EQ(err, errno) TH_LOG(#field " = " #value);	\
	} while (0)
	BAD(flags, 1U << 5, EINVAL);
	BAD(flags, 0x80000000U, EINVAL);
	BAD(sq_entries, 1, EINVAL);
	BAD(sq_entries, 3, EINVAL);
	BAD(sq_entries, 8192, EINVAL);
	BAD(sq_entries, 0xffffffffU, EINVAL);
	BAD(cq_entries, 100, EINVAL);
	BAD(queue_id, 1, EINVAL);
	BAD(sq_offset, 4096, EINVAL);
	BAD(cq_size, 1, EINVAL);
	BAD(pad, 1, EINVAL);
	BAD(reserved[2], 1, EINVAL);
	/* Another ABI version (an old binary leaves the field zero). */
	BAD(api_version, 0, EPROTONOSUPPORT);
	BAD(api_version, 1, EPROTONOSUPPORT);
	BAD(api_version, WD_API_VERSION + 1, EPROTONOSUPPORT);
	BAD(api_version, 0xffffffffU, EPROTONOSUPPORT);
#undef BAD
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_QUEUE_GET, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_QUEUE_GET, (void *)0xffff888000000000UL));
	EXPECT_EQ(EFAULT, errno);
	/* Nothing was bound by any of it. */
	EXPECT_EQ(sysfs_uint("queues_total"), sysfs_uint("queues_free"));

	/* Boundary sizes work. */
	memset(&info, 0, sizeof(info));
	info.sq_entries = 2;
	info.cq_entries = 4096;
	ASSERT_EQ(0, tq_get(fd, &info));
	EXPECT_EQ(2, info.sq_entries);
	EXPECT_EQ(4096, info.cq_entries);
	EXPECT_EQ(0, ioctl(fd, WD_IOC_QUEUE_PUT, 0));
	close(fd);
}

TEST(mmap_rules)
{
	struct wd_queue_info info = { 0 };
	void *p, *q;
	int fd;

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	/* No queue yet. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0));
	EXPECT_EQ(ENXIO, errno);
	ASSERT_EQ(0, tq_get(fd, &info));

	/* Wrong sizes, offsets, private mappings, a writable CQ. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED,
				   fd, info.ctrl_offset));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
				   info.ctrl_offset + 4096));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
				   info.ctrl_offset + (3ULL << 20)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE,
				   fd, info.ctrl_offset));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, info.cq_size, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, info.cq_offset));
	EXPECT_EQ(EPERM, errno);

	/* Each region once. */
	p = mmap(NULL, info.sq_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 info.sq_offset);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, info.sq_size, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, info.sq_offset));
	EXPECT_EQ(EBUSY, errno);

	/* Cannot be split or grown. */
	EXPECT_EQ(-1, munmap((char *)p + 4096, 4096));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, mprotect(p, 4096, PROT_READ));
	EXPECT_EQ(EINVAL, errno);
	q = mremap(p, info.sq_size, info.sq_size * 2, 0);
	EXPECT_EQ(MAP_FAILED, q);
	q = mremap(p, info.sq_size, info.sq_size / 2, 0);
	EXPECT_EQ(MAP_FAILED, q);

	/* The CQ cannot be made writable later. */
	q = mmap(NULL, info.cq_size, PROT_READ, MAP_SHARED, fd, info.cq_offset);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(-1, mprotect(q, info.cq_size, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);

	/* Every binding gets the same offsets. */
	EXPECT_EQ(0, munmap(p, info.sq_size));
	EXPECT_EQ(0, munmap(q, info.cq_size));
	{
		struct wd_queue_info old = info;

		ASSERT_EQ(0, ioctl(fd, WD_IOC_QUEUE_PUT, 0));
		memset(&info, 0, sizeof(info));
		ASSERT_EQ(0, tq_get(fd, &info));
		EXPECT_EQ(old.ctrl_offset, info.ctrl_offset);
		EXPECT_EQ(old.sq_offset, info.sq_offset);
		EXPECT_EQ(old.cq_offset, info.cq_offset);
		EXPECT_EQ(4ULL << 20, info.ctrl_offset);
		EXPECT_EQ(5ULL << 20, info.sq_offset);
		EXPECT_EQ(6ULL << 20, info.cq_offset);
	}
	close(fd);
}

static sigjmp_buf fault_jmp;
static volatile int fault_sig;

static void on_fault(int sig)
{
	fault_sig = sig;
	siglongjmp(fault_jmp, 1);
}

/* Run @fn in this process; return the signal it raised, or 0. */
static int fault_of(void (*fn)(void *), void *arg)
{
	struct sigaction sa = { .sa_handler = on_fault }, old_segv, old_bus;

	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	fault_sig = 0;
	if (!sigsetjmp(fault_jmp, 1))
		fn(arg);
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return fault_sig;
}

static void write_cq(void *arg)
{
	struct tq *t = arg;

	*(volatile unsigned int *)&t->cqh->cq_tail = 7;
}

static void write_ctrl(void *arg)
{
	struct tq *t = arg;

	*(volatile unsigned int *)&t->ctrl->pad1[3] = 0;
}

static void touch_ring_in_child(void *arg)
{
	struct tq *t = arg;

	(void)*(volatile unsigned int *)&t->cqh->cq_tail;
}

TEST(ring_protection)
{
	struct tq t;

	ASSERT_EQ(0, tq_open(&t, 0, 0));
	/* The control page is writable, the completion ring is not. */
	EXPECT_EQ(0, fault_of(write_ctrl, &t));
	EXPECT_EQ(SIGSEGV, fault_of(write_cq, &t));
	EXPECT_EQ(0, t.cqh->cq_tail);
	/* Rings are not inherited: touching them in a child faults. */
	EXPECT_EQ(SIGSEGV, child_signal(touch_ring_in_child, &t));
	/* After put the mappings are revoked: SIGBUS, not stale memory. */
	ASSERT_EQ(0, ioctl(t.fd, WD_IOC_QUEUE_PUT, 0));
	EXPECT_EQ(SIGBUS, fault_of(write_ctrl, &t));
	tq_close(&t);
}

/* The first touch of a region maps all of it: no fault after that. */
/*
 * The offsets are the same for every binding, but a mapping belongs to
 * the binding it was made for: after PUT and a new GET, the old mapping
 * still raises SIGBUS, a new mapping at the same offset reaches the new
 * rings.
 */
TEST(old_mapping_stays_revoked_after_rebind)
{
	struct wd_cqe cqe;
	struct wd_cmd c;
	struct tq t, old;

	ASSERT_EQ(0, tq_open(&t, 8, 0));
	t.ctrl->pad1[0] = 0;		/* mapped now */
	old = t;
	ASSERT_EQ(0, ioctl(t.fd, WD_IOC_QUEUE_PUT, 0));
	memset(&t.info, 0, sizeof(t.info));
	t.info.sq_entries = 8;
	ASSERT_EQ(0, tq_get(t.fd, &t.info));
	t.ctrl = mmap(NULL, t.info.ctrl_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      t.fd, t.info.ctrl_offset);
	t.sq = mmap(NULL, t.info.sq_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    t.fd, t.info.sq_offset);
	t.cqh = mmap(NULL, t.info.cq_size, PROT_READ, MAP_SHARED, t.fd,
		     t.info.cq_offset);
	ASSERT_NE(MAP_FAILED, t.ctrl);
	ASSERT_NE(MAP_FAILED, t.sq);
	ASSERT_NE(MAP_FAILED, t.cqh);
	t.cq = (struct wd_cqe *)((char *)t.cqh + WD_CQ_HDR_SIZE);
	EXPECT_EQ(old.info.ctrl_offset, t.info.ctrl_offset);
	EXPECT_EQ(SIGBUS, fault_of(write_ctrl, &old));
	EXPECT_EQ(0, fault_of(write_ctrl, &t));
	c = nop(9);
	ASSERT_EQ(0, tq_run(&t, &c, &cqe));
	EXPECT_EQ(9, cqe.tag);
	EXPECT_EQ(SIGBUS, fault_of(write_ctrl, &old));
	munmap(old.ctrl, old.info.ctrl_size);
	munmap(old.sq, old.info.sq_size);
	munmap(old.cqh, old.info.cq_size);
	tq_close(&t);
}

TEST(rings_mapped_at_first_touch)
{
	struct rusage before, after;
	unsigned int i, sum = 0;
	struct tq t;

	ASSERT_EQ(0, tq_open(&t, 4096, 0));
	ASSERT_EQ(0, getrusage(RUSAGE_SELF, &before));
	sum += *(volatile char *)t.sq;
	sum += *(volatile char *)t.cqh;
	sum += *(volatile char *)t.ctrl;
	ASSERT_EQ(0, getrusage(RUSAGE_SELF, &after));
	EXPECT_EQ(3, after.ru_minflt - before.ru_minflt);
	ASSERT_EQ(0, getrusage(RUSAGE_SELF, &before));
	for (i = 0; i < t.info.sq_size; i += 4096)
		((volatile char *)t.sq)[i] = 0;
	for (i = 0; i < t.info.cq_size; i += 4096)
		sum += ((volatile char *)t.cqh)[i];
	t.ctrl->pad1[0] = 0;
	ASSERT_EQ(0, getrusage(RUSAGE_SELF, &after));
	EXPECT_EQ(before.ru_minflt, after.ru_minflt);
	EXPECT_EQ(before.ru_majflt, after.ru_majflt);
	EXPECT_EQ(0, sum);
	tq_close(&t);
}

TEST(nop_round_trip)
{
	struct wd_cqe cqe;
	struct wd_cmd c;
	struct tq t;
	int i;

	ASSERT_EQ(0, tq_open(&t, 8, 0));
	for (i = 0; i < 1000; i++) {
		c = nop(0x1234500000000ULL + i);
		ASSERT_EQ(0, tq_run(&t, &c, &cqe));
		ASSERT_EQ(c.tag, cqe.tag);
		ASSERT_EQ(WD_ST_OK, cqe.status);
		ASSERT_EQ(WD_OP_NOP, cqe.opcode);
	}
	EXPECT_EQ(1000, t.cqh->sq_head);
	EXPECT_EQ(1000, t.cqh->cq_tail);
	tq_close(&t);
}

TEST(batch_in_order)
{
	struct wd_cqe cqe;
	struct wd_cmd c;
	struct tq t;
	int i, round;

	ASSERT_EQ(0, tq_open(&t, 64, 0));
	for (round = 0; round < 20; round++) {
		for (i = 0; i < 64; i++) {
			c = nop(round * 64 + i);
			ASSERT_EQ(0, tq_submit(&t, &c));
		}
		c = nop(1);
		/* The ring may be full now, or the engine may already have
		 * drained some: either is fine, but never more than 64.
		 */
		for (i = 0; i < 64; i++) {
			ASSERT_EQ(0, tq_reap(&t, &cqe, 10000));
			ASSERT_EQ((unsigned long long)(round * 64 + i), cqe.tag);
		}
	}
	tq_close(&t);
}

TEST(bad_sq_index_stops_queue)
{
	struct wd_cqe cqe;
	struct wd_cmd c = nop(42);
	unsigned int tail;
	struct tq t;

	ASSERT_EQ(0, tq_open(&t, 8, 0));
	ASSERT_EQ(0, tq_run(&t, &c, &cqe));
	tail = t.ctrl->sq_tail;

	/* Past the ring size. */
	t.ctrl->sq_tail = tail + 9;
	ioctl(t.fd, WD_IOC_KICK, 0);
	usleep(100000);
	EXPECT_TRUE(t.cqh->flags & WD_CQ_F_BAD_INDEX);
	EXPECT_EQ(tail, t.cqh->sq_head);
	EXPECT_EQ(-ETIMEDOUT, tq_reap(&t, &cqe, 100));

	/* Backwards. */
	t.ctrl->sq_tail = tail - 1;
	ioctl(t.fd, WD_IOC_KICK, 0);
	usleep(100000);
	EXPECT_TRUE(t.cqh->flags & WD_CQ_F_BAD_INDEX);
	EXPECT_EQ(tail, t.cqh->sq_head);

	/* Put right, the queue works again. */
	t.ctrl->sq_tail = tail;
	c = nop(43);
	ASSERT_EQ(0, tq_run(&t, &c, &cqe));
	EXPECT_EQ(43, cqe.tag);
	EXPECT_FALSE(t.cqh->flags & WD_CQ_F_BAD_INDEX);
	tq_close(&t);
}

TEST(bad_cq_index_stops_queue)
{
	struct wd_cqe cqe;
	struct wd_cmd c = nop(1);
	struct tq t;

	ASSERT_EQ(0, tq_open(&t, 8, 0));
	ASSERT_EQ(0, tq_run(&t, &c, &cqe));
	/* cq_head ahead of cq_tail: a hostile consumer. */
	t.ctrl->cq_head += 100;
	c = nop(2);
	ASSERT_EQ(0, tq_submit(&t, &c));
	ioctl(t.fd, WD_IOC_KICK, 0);
	usleep(100000);
	EXPECT_TRUE(t.cqh->flags & WD_CQ_F_BAD_INDEX);
	EXPECT_EQ(1, t.cqh->cq_tail);
	t.ctrl->cq_head -= 100;
	ioctl(t.fd, WD_IOC_KICK, 0);
	ASSERT_EQ(0, tq_reap(&t, &cqe, 10000));
	EXPECT_EQ(2, cqe.tag);
	tq_close(&t);
}

TEST(full_completion_ring_backpressure)
{
	struct wd_queue_info info = { .sq_entries = 8, .cq_entries = 8 };
	struct wd_cqe cqe;
	struct wd_cmd c;
	struct tq t;
	int i, submitted = 0, reaped = 0;

	/* Open by hand to get a small completion ring. */
	memset(&t, 0, sizeof(t));
	t.fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, t.fd);
	ASSERT_EQ(0, tq_get(t.fd, &info));
	t.info = info;
	t.ctrl = mmap(NULL, info.ctrl_size, PROT_READ | PROT_WRITE, MAP_SHARED, t.fd, info.ctrl_offset);
	t.sq = mmap(NULL, info.sq_size, PROT_READ | PROT_WRITE, MAP_SHARED, t.fd, info.sq_offset);
	t.cqh = mmap(NULL, info.cq_size, PROT_READ, MAP_SHARED, t.fd, info.cq_offset);
	ASSERT_NE(MAP_FAILED, t.ctrl);
	ASSERT_NE(MAP_FAILED, t.sq);
	ASSERT_NE(MAP_FAILED, t.cqh);
	t.cq = (struct wd_cqe *)((char *)t.cqh + WD_CQ_HDR_SIZE);

	/* Submit 16 without reaping: 8 complete, 8 wait in the SQ. */
	while (submitted < 16) {
		c = nop(submitted);
		if (tq_submit(&t, &c) == -EAGAIN) {
			usleep(1000);
			if (t.cqh->cq_tail == 8 && t.cqh->sq_head == 8 && submitted == 16)
				break;
			continue;
		}
		submitted++;
	}
	usleep(200000);
	EXPECT_EQ(8, t.cqh->cq_tail);
	EXPECT_EQ(8, t.cqh->sq_head);
	/* Reap everything: the rest follows, in order. */
	for (i = 0; i < 16; i++) {
		ASSERT_EQ(0, tq_reap(&t, &cqe, 10000));
		EXPECT_EQ((unsigned long long)i, cqe.tag);
		reaped++;
		ioctl(t.fd, WD_IOC_KICK, 0);
	}
	EXPECT_EQ(16, reaped);
	tq_close(&t);
}

TEST(nonblocking_get)
{
	unsigned int total = sysfs_uint("queues_total"), i;
	struct wd_queue_info info;
	int fds[64], fd;

	for (i = 0; i < total; i++) {
		fds[i] = open(WD_TEST_NODE, O_RDWR);
		ASSERT_LE(0, fds[i]);
		memset(&info, 0, sizeof(info));
		ASSERT_EQ(0, tq_get(fds[i], &info));
	}
	EXPECT_EQ(0, sysfs_uint("queues_free"));

	fd = open(WD_TEST_NODE, O_RDWR | O_NONBLOCK);
	ASSERT_LE(0, fd);
	memset(&info, 0, sizeof(info));
	EXPECT_EQ(-1, tq_get(fd, &info));
	EXPECT_EQ(EAGAIN, errno);
	close(fd);

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	memset(&info, 0, sizeof(info));
	info.flags = WD_QF_NONBLOCK;
	EXPECT_EQ(-1, tq_get(fd, &info));
	EXPECT_EQ(EAGAIN, errno);

	/* Closing one context frees its queue. */
	close(fds[0]);
	memset(&info, 0, sizeof(info));
	info.flags = WD_QF_NONBLOCK;
	EXPECT_EQ(0, tq_get(fd, &info));
	close(fd);
	for (i = 1; i < total; i++)
		close(fds[i]);
	EXPECT_EQ(total, sysfs_uint("queues_free"));
}

static void on_alarm(int sig)
{
}

TEST(blocked_get_interrupted_by_signal)
{
	unsigned int total = sysfs_uint("queues_total"), i;
	struct sigaction sa = { .sa_handler = on_alarm };
	struct wd_queue_info info;
	int fds[64], fd;

	for (i = 0; i < total; i++) {
		fds[i] = open(WD_TEST_NODE, O_RDWR);
		memset(&info, 0, sizeof(info));
		ASSERT_EQ(0, tq_get(fds[i], &info));
	}
	sigaction(SIGALRM, &sa, NULL);
	fd = open(WD_TEST_NODE, O_RDWR);
	memset(&info, 0, sizeof(info));
	alarm(1);
	EXPECT_EQ(-1, tq_get(fd, &info));
	EXPECT_EQ(EINTR, errno);
	/* Having left the line, it does not steal the next free queue. */
	close(fds[0]);
	EXPECT_EQ(1, sysfs_uint("queues_free"));
	close(fd);
	for (i = 1; i < total; i++)
		close(fds[i]);
}

/*
 * FIFO: all queues are taken; three children ask in a known order; the
 * queues are then released one at a time and each child reports when it
 * got one. They must be served in the order they asked.
 */
TEST(fifo_order)
{
	unsigned int total = sysfs_uint("queues_total"), i;
	struct wd_queue_info info;
	int fds[64], pipefd[2];
	pid_t kids[3];
	char order[4] = { 0 };

	ASSERT_EQ(0, pipe(pipefd));
	for (i = 0; i < total; i++) {
		fds[i] = open(WD_TEST_NODE, O_RDWR);
		memset(&info, 0, sizeof(info));
		ASSERT_EQ(0, tq_get(fds[i], &info));
	}
	for (i = 0; i < 3; i++) {
		kids[i] = fork();
		ASSERT_LE(0, kids[i]);
		if (kids[i] == 0) {
			char c = 'A' + i;
			unsigned int j;
			int fd;

			/* Hold no reference on the parent's contexts. */
			for (j = 0; j < total; j++)
				close(fds[j]);
			fd = open(WD_TEST_NODE, O_RDWR);
			memset(&info, 0, sizeof(info));
			if (tq_get(fd, &info))
				_exit(1);
			if (write(pipefd[1], &c, 1) != 1)
				_exit(2);
			pause();
			_exit(0);
		}
		/* Let child i get in line before child i + 1. */
		usleep(300000);
	}
	for (i = 0; i < 3; i++) {
		close(fds[i]);
		ASSERT_EQ(1, read(pipefd[0], &order[i], 1));
	}
	EXPECT_STREQ("ABC", order);
	for (i = 0; i < 3; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	for (i = 3; i < total; i++)
		close(fds[i]);
	EXPECT_EQ(total, sysfs_uint("queues_free"));
}

/* More clients than queues, processes and threads: everyone finishes. */
TEST(more_clients_than_queues)
{
	int i, status, ok = 0;
	pid_t kids[12];

	for (i = 0; i < 12; i++) {
		kids[i] = fork();
		ASSERT_LE(0, kids[i]);
		if (kids[i] == 0) {
			struct wd_cqe cqe;
			struct wd_cmd c;
			struct tq t;
			int round, n;

			for (round = 0; round < 3; round++) {
				if (tq_open(&t, 16, 0))
					_exit(1);
				for (n = 0; n < 50; n++) {
					c = nop(n);
					if (tq_run(&t, &c, &cqe) || cqe.tag != (unsigned int)n)
						_exit(2);
				}
				tq_close(&t);
			}
			_exit(0);
		}
	}
	for (i = 0; i < 12; i++) {
		ASSERT_EQ(kids[i], waitpid(kids[i], &status, 0));
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
	}
	EXPECT_EQ(12, ok);
	EXPECT_EQ(sysfs_uint("queues_total"), sysfs_uint("queues_free"));
}

static void *thread_client(void *arg)
{
	long failed = 0;
	struct wd_cqe cqe;
	struct wd_cmd c;
	struct tq t;
	int round, n;

	for (round = 0; round < 3; round++) {
		if (tq_open(&t, 16, 0))
			return (void *)1L;
		for (n = 0; n < 50; n++) {
			c = nop(n);
			if (tq_run(&t, &c, &cqe) || cqe.tag != (unsigned int)n)
				failed = 1;
		}
		tq_close(&t);
	}
	return (void *)failed;
}

/* Threads of one process, each with its own context, sharing the queues. */
TEST(threads_more_than_queues)
{
	pthread_t th[10];
	void *ret;
	int i, ok = 0;

	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, thread_client, NULL));
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(0, pthread_join(th[i], &ret));
		if (!ret)
			ok++;
	}
	EXPECT_EQ(10, ok);
	EXPECT_EQ(sysfs_uint("queues_total"), sysfs_uint("queues_free"));
}

TEST(close_with_commands_in_flight)
{
	struct wd_cmd c;
	struct tq t;
	int round, i;

	for (round = 0; round < 20; round++) {
		ASSERT_EQ(0, tq_open(&t, 256, 0));
		for (i = 0; i < 200; i++) {
			c = nop(i);
			tq_submit(&t, &c);
		}
		tq_close(&t);
	}
	EXPECT_EQ(sysfs_uint("queues_total"), sysfs_uint("queues_free"));
}

TEST(forked_child_cannot_use_queue)
{
	struct tq t;
	int status;
	pid_t pid;

	ASSERT_EQ(0, tq_open(&t, 8, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct wd_queue_info info = { 0 };

		if (ioctl(t.fd, WD_IOC_KICK, 0) == 0 || errno != EPERM)
			_exit(1);
		if (ioctl(t.fd, WD_IOC_QUEUE_PUT, 0) == 0 || errno != EPERM)
			_exit(2);
		if (tq_get(t.fd, &info) == 0 || errno != EPERM)
			_exit(3);
		if (mmap(NULL, 4096, PROT_READ, MAP_SHARED, t.fd,
			 t.info.ctrl_offset) != MAP_FAILED || errno != EPERM)
			_exit(4);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	tq_close(&t);
}

TEST(statistics_count)
{
	unsigned int before = sysfs_uint("stats/commands_completed");
	struct wd_cqe cqe;
	struct wd_cmd c;
	struct tq t;
	int i;

	ASSERT_EQ(0, tq_open(&t, 8, 0));
	for (i = 0; i < 10; i++) {
		c = nop(i);
		ASSERT_EQ(0, tq_run(&t, &c, &cqe));
	}
	c = nop(99);
	c.reserved = 1;
	ASSERT_EQ(0, tq_run(&t, &c, &cqe));
	EXPECT_EQ(WD_ST_INVALID, cqe.status);
	EXPECT_EQ(before + 10, sysfs_uint("stats/commands_completed"));
	EXPECT_LE(1, sysfs_uint("stats/commands_failed"));
	tq_close(&t);
}

/*
 * stats/engine_wakeups counts the engine's sleeps that ended, stats/kicks
 * the doorbells: a command submitted to a sleeping engine costs one kick
 * and one wake-up; commands submitted while it polls cost neither.
 */
TEST(wakeup_and_kick_statistics)
{
	unsigned int w0, k0, c0;
	struct wd_cqe cqe;
	struct wd_cmd c;
	struct tq t;
	int i;

	ASSERT_EQ(0, tq_open(&t, 64, 0));
	/* Idle for far longer than poll_us: the engine sleeps. */
	usleep(200 * 1000);
	ASSERT_TRUE(t.cqh->flags & WD_CQ_F_NEED_WAKEUP);
	w0 = sysfs_uint("stats/engine_wakeups");
	k0 = sysfs_uint("stats/kicks");
	c = nop(1);
	ASSERT_EQ(0, tq_run(&t, &c, &cqe));
	EXPECT_EQ(WD_ST_OK, cqe.status);
	EXPECT_EQ(k0 + 1, sysfs_uint("stats/kicks"));
	EXPECT_EQ(w0 + 1, sysfs_uint("stats/engine_wakeups"));

	/*
	 * A burst: each kick ended at most one sleep. (How often the engine
	 * sleeps between the submissions depends on how fast the guest runs
	 * them, so that is not asserted.)
	 */
	w0 = sysfs_uint("stats/engine_wakeups");
	k0 = sysfs_uint("stats/kicks");
	c0 = sysfs_uint("stats/commands_completed");
	for (i = 0; i < 32; i++) {
		c = nop(100 + i);
		ASSERT_EQ(0, tq_submit(&t, &c));
	}
	for (i = 0; i < 32; i++) {
		ASSERT_EQ(0, tq_reap(&t, &cqe, 5000));
		EXPECT_EQ(WD_ST_OK, cqe.status);
	}
	EXPECT_EQ(c0 + 32, sysfs_uint("stats/commands_completed"));
	EXPECT_GE(sysfs_uint("stats/kicks") - k0,
		  sysfs_uint("stats/engine_wakeups") - w0);
	tq_close(&t);
}

static void submit_in_child(void *arg)
{
	struct tq *t = arg;
	unsigned int tail = t->ctrl->sq_tail;

	t->sq[tail & (t->info.sq_entries - 1)] = nop(0xc41d);
	__atomic_store_n(&t->ctrl->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

/*
 * MADV_DOFORK clears VM_DONTCOPY: whatever it says, a child must not get
 * the rings (and so cannot submit on the parent's queue).
 */
TEST(madv_dofork_cannot_share_rings)
{
	struct wd_cqe cqe;
	struct wd_cmd c;
	struct tq t;
	int r[3], e[3];

	ASSERT_EQ(0, tq_open(&t, 8, 0));
	r[0] = madvise(t.ctrl, t.info.ctrl_size, MADV_DOFORK);
	e[0] = errno;
	r[1] = madvise(t.sq, t.info.sq_size, MADV_DOFORK);
	e[1] = errno;
	r[2] = madvise(t.cqh, t.info.cq_size, MADV_DOFORK);
	e[2] = errno;
	TH_LOG("MADV_DOFORK: ctrl %d, sq %d, cq %d", r[0], r[1], r[2]);
	EXPECT_EQ(SIGSEGV, child_signal(submit_in_child, &t));
	EXPECT_EQ(SIGSEGV, child_signal(touch_ring_in_child, &t));
	ioctl(t.fd, WD_IOC_KICK, 0);
	usleep(200000);
	/* Nothing ran on the parent's queue. */
	EXPECT_EQ(0, t.cqh->sq_head);
	EXPECT_EQ(0, t.cqh->cq_tail);
	EXPECT_EQ(0, t.ctrl->sq_tail);
	/* Refused outright, and the queue still works. */
	EXPECT_EQ(-1, r[0]);
	EXPECT_EQ(EINVAL, e[0]);
	EXPECT_EQ(-1, r[1]);
	EXPECT_EQ(EINVAL, e[1]);
	EXPECT_EQ(-1, r[2]);
	EXPECT_EQ(EINVAL, e[2]);
	c = nop(5);
	ASSERT_EQ(0, tq_run(&t, &c, &cqe));
	EXPECT_EQ(5, cqe.tag);
	tq_close(&t);
}

static void spin(unsigned int n)
{
	while (n--)
		__asm__ __volatile__("" ::: "memory");
}

struct racer {
	int fd;
	volatile unsigned long long off;
	volatile size_t size;
	volatile unsigned int puts;	/* PUTs completed by the main thread */
	volatile unsigned int gen;	/* binding @off belongs to */
	volatile unsigned int attempt;	/* binding the racer is mapping */
	volatile int quit;
	int mapped, stale, sigbus;
};

static void write_word(void *arg)
{
	*(volatile unsigned int *)arg = 0x5eed;
}

/*
 * Map the submission ring of whatever binding is current, again and
 * again. Once a PUT has completed after an mmap() returned, the binding
 * that mapping belongs to is over, so a touch must raise SIGBUS.
 */
static void *mmap_racer(void *arg)
{
	struct racer *r = arg;

	while (!r->quit) {
		size_t size = r->size;
		unsigned int puts;
		void *p;

		r->attempt = r->gen;
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
			 r->off);
		if (p == MAP_FAILED)
			continue;
		puts = r->puts;
		r->mapped++;
		while (r->puts == puts && !r->quit)
			sched_yield();
		if (r->puts != puts) {
			if (fault_of(write_word, (char *)p + 4096) == SIGBUS)
				r->sigbus++;
			else
				r->stale++;
		}
		munmap(p, size);
	}
	return NULL;
}

/*
 * A ring mmap racing QUEUE_PUT and the next QUEUE_GET: whatever the mmap
 * returned, once its binding was put, touching it raises SIGBUS; it never
 * keeps reaching the revoked ring.
 */
TEST(ring_mmap_races_put)
{
	struct wd_queue_info info;
	struct timespec t0, t1;
	struct racer r = { 0 };
	pthread_t th;
	int i;

	r.fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, r.fd);
	memset(&info, 0, sizeof(info));
	info.sq_entries = 4096;
	ASSERT_EQ(0, tq_get(r.fd, &info));
	r.off = info.sq_offset;
	r.size = info.sq_size;
	ASSERT_EQ(0, pthread_create(&th, NULL, mmap_racer, &r));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 1; i <= 5000; i++) {
		int wait;

		/* PUT just after the racer has begun mapping this binding. */
		for (wait = 0; wait < 1000 && r.attempt != r.gen; wait++)
			sched_yield();
		spin((i * 7919) % 30000);
		ASSERT_EQ(0, ioctl(r.fd, WD_IOC_QUEUE_PUT, 0));
		r.puts++;
		memset(&info, 0, sizeof(info));
		info.sq_entries = 4096;
		ASSERT_EQ(0, tq_get(r.fd, &info));
		r.off = info.sq_offset;
		r.gen = i;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > 12)
			break;
	}
	ASSERT_EQ(0, ioctl(r.fd, WD_IOC_QUEUE_PUT, 0));
	r.puts++;
	r.quit = 1;
	pthread_join(th, NULL);
	TH_LOG("%d bindings, %d mmaps succeeded, %d touched after their PUT: %d SIGBUS, %d stale",
	       i, r.mapped, r.sigbus + r.stale, r.sigbus, r.stale);
	EXPECT_EQ(0, r.stale);
	EXPECT_LT(0, r.sigbus);
	close(r.fd);
}

/*
 * A failed doorbell after the command was published must not make
 * wd_submit() report failure: the command is queued, and a caller that
 * retried would run it twice.
 */
TEST(submit_reports_queued_when_kick_fails)
{
	struct wd_cmd c = nop(77);
	struct wd_queue *q;
	struct wd_dev *dev;
	struct wd_cqe cqe;
	int fd, saved, null, i, n;

	ASSERT_EQ(0, wd_open(WD_TEST_DEV, &dev));
	ASSERT_EQ(0, wd_queue_get(dev, NULL, &q));
	fd = wd_dev_fd(dev);
	saved = dup(fd);
	null = open("/dev/null", O_RDWR);
	ASSERT_LE(0, saved);
	ASSERT_LE(0, null);
	/* Let the engine go to sleep: the next submission must kick. */
	usleep(200000);
	/* The doorbell now fails (ENOTTY); the rings stay mapped. */
	ASSERT_EQ(fd, dup2(null, fd));
	EXPECT_EQ(0, wd_submit(q, &c));
	c.tag = 78;
	EXPECT_EQ(1, wd_submit_batch(q, &c, 1));
	EXPECT_EQ(2, wd_queue_inflight(q));
	ASSERT_EQ(fd, dup2(saved, fd));
	EXPECT_EQ(0, wd_kick(q));
	for (i = 0, n = 0; i < 100 && n < 2; i++) {
		if (wd_wait(q, 100) == 0 && wd_reap(q, &cqe, 1) == 1) {
			EXPECT_EQ(77 + n, cqe.tag);
			n++;
		}
	}
	EXPECT_EQ(2, n);
	EXPECT_EQ(0, wd_reap(q, &cqe, 1));
	close(saved);
	close(null);
	wd_close(dev);
}

TEST_HARNESS_MAIN
