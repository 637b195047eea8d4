// SPDX-License-Identifier: GPL-2.0
/*
 * Contexts and the ioctl entry: a caller stuck on its own memory (an ioctl
 * argument or buffer in a userfaultfd range nobody serves) holds up
 * neither device removal nor any other user of the device.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "hmm_compat.h"
#include "wd_test.h"

#define PG		4096UL
#define COMPAT_NODE	"/dev/hmm_dmirror1"

static int reload(const char *params)
{
	int i, ret = -1;

	/* The module is pinned until the last file closes. */
	for (i = 0; i < 50 && ret; i++) {
		ret = wd_test_rmmod("wd_soft");
		if (ret)
			usleep(100000);
	}
	if (ret)
		return ret;
	return wd_test_insmod("wd_soft", params);
}

/* @pages pages registered with a userfaultfd for missing pages. */
struct uffd_area {
	int uffd;
	char *base;
	size_t len;
};

static int uffd_setup(struct uffd_area *u, size_t pages)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };

	u->len = pages * PG;
	u->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u->uffd < 0)
		return -errno;
	if (ioctl(u->uffd, UFFDIO_API, &api))
		return -errno;
	u->base = mmap(NULL, u->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->base == MAP_FAILED)
		return -errno;
	reg.range.start = (unsigned long)u->base;
	reg.range.len = u->len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	return ioctl(u->uffd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

/* Wait until @n faults are reported: their callers now wait on them. */
static int uffd_wait_faults(int uffd, int n, int timeout_ms)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	while (n > 0) {
		if (poll(&pfd, 1, timeout_ms) != 1)
			return -ETIMEDOUT;
		if (read(uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event == UFFD_EVENT_PAGEFAULT)
			n--;
	}
	return 0;
}

/* Exit code of @pid, or -ETIMEDOUT if it is not done in @timeout_ms. */
static int wait_child(pid_t pid, int timeout_ms)
{
	int i, status;

	for (i = 0; i < timeout_ms / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/* A call that is expected to get stuck on its argument. */
struct stuck {
	int fd;
	unsigned long req;
	void *arg;
	volatile int done;
	int err;
};

static void *stuck_call(void *p)
{
	struct stuck *s = p;

	s->err = ioctl(s->fd, s->req, s->arg) ? errno : 0;
	s->done = 1;
	return NULL;
}

/* Join @s's thread, giving up after @timeout_ms. */
static int join_stuck(pthread_t th, struct stuck *s, int timeout_ms)
{
	int i;

	for (i = 0; i < timeout_ms / 10 && !s->done; i++)
		usleep(10000);
	if (!s->done)
		return -ETIMEDOUT;
	pthread_join(th, NULL);
	return 0;
}

/* Device removal in a child process: its exit code says how it went. */
static pid_t start_removal(int idx)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(wd_test_remove_device(idx) ? 1 : 0);
	return pid;
}

/*
 * Another process with its own open file of @node: it makes one call that
 * must succeed, says so on @ready, waits for a byte on @go, makes the call
 * again (success or ENODEV) and closes its file. Exit 0 when all was so.
 */
/* Probed before any test reloads wd_soft (see wd_test.h). */
static void __attribute__((constructor)) probe_devpriv(void)
{
	wd_test_devpriv = wd_test_devpriv_probe();
}

static pid_t start_other(const char *node, int compat, int ready, int go)
{
	pid_t pid = fork();
	struct wd_hmm_cmd c = { 0 };
	struct wd_info info;
	char *buf, b = 0;
	int fd, ret;

	if (pid)
		return pid;
	buf = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = open(node, O_RDWR);
	if (fd < 0 || buf == MAP_FAILED)
		_exit(10);
	memset(buf, 1, PG);
	c.addr = (unsigned long)buf;
	c.ptr = (unsigned long)buf;
	c.npages = 1;
	if (compat ? ioctl(fd, WD_HMM_READ, &c) : ioctl(fd, WD_IOC_INFO, &info))
		_exit(11);
	if (write(ready, &b, 1) != 1 || read(go, &b, 1) != 1)
		_exit(12);
	ret = compat ? ioctl(fd, WD_HMM_READ, &c) : ioctl(fd, WD_IOC_INFO, &info);
	if (ret && errno != ENODEV)
		_exit(13);
	if (close(fd))
		_exit(14);
	_exit(0);
}

/*
 * @n callers are stuck in faults on @u (their threads @th, @s). Check that
 * another process's calls and close() and the removal of device @idx
 * complete meanwhile; then close the userfaultfd and check each stuck call
 * ends with ENODEV or EFAULT.
 */
static void removal_with_stuck_callers(struct __test_metadata *_metadata,
				       struct uffd_area *u, pthread_t *th,
				       struct stuck *s, int n, const char *node,
				       int compat, int idx)
{
	int ready[2], go[2], i, rm_ret, other_ret;
	pid_t other, rm;
	char b = 0;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	other = start_other(node, compat, ready[1], go[0]);
	ASSERT_LT(0, other);
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &b, 1));

	for (i = 0; i < n; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, stuck_call, &s[i]));
	ASSERT_EQ(0, uffd_wait_faults(u->uffd, n, 10000));
	usleep(100000);
	for (i = 0; i < n; i++)
		ASSERT_FALSE(s[i].done);

	/*
	 * Removal starts; the other process calls and closes meanwhile.
	 * Nothing may wait for the stuck callers.
	 */
	rm = start_removal(idx);
	ASSERT_LT(0, rm);
	usleep(300000);
	ASSERT_EQ(1, write(go[1], &b, 1));
	other_ret = wait_child(other, 8000);
	rm_ret = wait_child(rm, 8000);
	EXPECT_EQ(0, other_ret);
	EXPECT_EQ(0, rm_ret);
	TH_LOG("other process: %d, removal: %d (-ETIMEDOUT: %d)", other_ret,
	       rm_ret, -ETIMEDOUT);
	for (i = 0; i < n; i++)
		EXPECT_FALSE(s[i].done);

	/* Nobody serves the faults: the stuck calls end with an error. */
	close(u->uffd);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, join_stuck(th[i], &s[i], 8000));
		EXPECT_TRUE(s[i].err == ENODEV || s[i].err == EFAULT);
		TH_LOG("stuck call %d ended with %s", i, strerror(s[i].err));
	}
	if (other_ret == -ETIMEDOUT)
		EXPECT_EQ(0, wait_child(other, 8000));
	if (rm_ret == -ETIMEDOUT)
		EXPECT_EQ(0, wait_child(rm, 8000));
	close(ready[0]);
	close(go[1]);
}

/*
 * Device node: QUEUE_GET and REGION_CREATE whose arguments sit in pages
 * that never fault in (userfaultfd, never served).
 */
TEST(uffd_argument_does_not_block_removal)
{
	struct uffd_area u;
	struct stuck s[2];
	pthread_t th[2];
	int i;

	ASSERT_EQ(0, uffd_setup(&u, 2));
	s[0] = (struct stuck){ .req = WD_IOC_QUEUE_GET, .arg = u.base };
	s[1] = (struct stuck){ .req = WD_IOC_REGION_CREATE, .arg = u.base + PG };
	for (i = 0; i < 2; i++) {
		s[i].fd = open(WD_TEST_NODE, O_RDWR);
		ASSERT_LE(0, s[i].fd);
	}
	removal_with_stuck_callers(_metadata, &u, th, s, 2, WD_TEST_NODE, 0, 0);
	for (i = 0; i < 2; i++)
		close(s[i].fd);
	munmap(u.base, u.len);
	ASSERT_EQ(0, reload(NULL));
}

/*
 * test_hmm compatible node: READ whose destination buffer, and SNAPSHOT
 * whose result buffer, never fault in.
 */
TEST(uffd_buffer_does_not_block_compat_removal)
{
	WD_NEED_DEVPRIV();
	size_t mlen = 128 * PG;
	struct wd_hmm_cmd c[2];
	struct uffd_area u;
	struct stuck s[2];
	pthread_t th[2];
	char *mirror;
	int i;

	ASSERT_EQ(0, reload("num_devices=2 hmm_compat=1"));
	mirror = mmap(NULL, mlen, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mirror);
	memset(mirror, 7, mlen);
	ASSERT_EQ(0, uffd_setup(&u, 2));
	/* READ: the device copies into a buffer it must pin first. */
	c[0] = (struct wd_hmm_cmd){ .addr = (unsigned long)mirror,
				    .ptr = (unsigned long)u.base, .npages = 1 };
	/* SNAPSHOT: two rounds of 64 pages, one byte each into the buffer. */
	c[1] = (struct wd_hmm_cmd){ .addr = (unsigned long)mirror,
				    .ptr = (unsigned long)u.base + PG, .npages = 128 };
	s[0] = (struct stuck){ .req = WD_HMM_READ, .arg = &c[0] };
	s[1] = (struct stuck){ .req = WD_HMM_SNAPSHOT, .arg = &c[1] };
	for (i = 0; i < 2; i++) {
		s[i].fd = open(COMPAT_NODE, O_RDWR);
		ASSERT_LE(0, s[i].fd);
	}
	removal_with_stuck_callers(_metadata, &u, th, s, 2, COMPAT_NODE, 1, 1);
	for (i = 0; i < 2; i++)
		close(s[i].fd);
	munmap(u.base, u.len);
	munmap(mirror, mlen);
	ASSERT_EQ(0, reload(NULL));
}

static unsigned long queues_free(void)
{
	char buf[32];

	if (wd_test_read_file("/sys/class/warpdrive/" WD_TEST_DEV "/queues_free",
			      buf, sizeof(buf)))
		return ~0UL;
	return strtoul(buf, NULL, 0);
}

/* The lowest free descriptor number (what the next fd would get). */
static int lowest_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

/*
 * Results are copied out after the call: a result that cannot be written
 * gives EFAULT and leaves nothing behind (no queue bound, no fd, no
 * region).
 */
TEST(result_not_writable)
{
	struct wd_region_create rc = { .size = PG };
	struct wd_queue_info qi = { .api_version = WD_API_VERSION };
	unsigned long total;
	char *ro;
	int fd, low;

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	total = queues_free();
	ro = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);

	/* QUEUE_GET: the queue goes back, the context may ask again. */
	memcpy(ro, &qi, sizeof(qi));
	ASSERT_EQ(0, mprotect(ro, PG, PROT_READ));
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_QUEUE_GET, ro));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(total, queues_free());
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_QUEUE_PUT, 0));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(0, ioctl(fd, WD_IOC_QUEUE_GET, &qi));
	EXPECT_EQ(total - 1, queues_free());
	EXPECT_EQ(0, ioctl(fd, WD_IOC_QUEUE_PUT, 0));

	/* REGION_CREATE: no descriptor is installed or leaked. */
	ASSERT_EQ(0, mprotect(ro, PG, PROT_READ | PROT_WRITE));
	memcpy(ro, &rc, sizeof(rc));
	ASSERT_EQ(0, mprotect(ro, PG, PROT_READ));
	low = lowest_fd();
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_REGION_CREATE, ro));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(low, lowest_fd());
	EXPECT_EQ(-1, fcntl(low, F_GETFD));
	EXPECT_EQ(0, ioctl(fd, WD_IOC_REGION_CREATE, &rc));
	EXPECT_EQ(low, rc.fd);
	close(rc.fd);
	munmap(ro, PG);
	close(fd);
}

/* REGION_CREATE with no descriptor left: EMFILE, nothing created. */
TEST(region_create_no_fd_left)
{
	struct wd_region_create rc = { .size = PG };
	struct rlimit old, lim;
	int fd, low;

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	low = lowest_fd();
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	lim = old;
	lim.rlim_cur = low;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &lim));
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_REGION_CREATE, &rc));
	EXPECT_EQ(EMFILE, errno);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
	EXPECT_EQ(0, ioctl(fd, WD_IOC_REGION_CREATE, &rc));
	close(rc.fd);
	close(fd);
}

/* Unsupported in the current mode is EOPNOTSUPP: UNSHARE in SVA mode. */
TEST(unshare_in_sva_mode)
{
	struct wd_mmu_mode m = { 0 };
	struct wd_share_req r = { .len = PG };
	char *a;
	int fd;

	a = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, a);
	r.addr = (unsigned long)a;
	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, WD_IOC_MMU_MODE, &m));
	ASSERT_EQ(WD_MMU_SVA, m.mode);
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_UNSHARE, &r));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(fd);
	munmap(a, PG);
}

TEST_HARNESS_MAIN
