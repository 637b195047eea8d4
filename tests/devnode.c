// SPDX-License-Identifier: GPL-2.0
/*
 * The device node: type, permissions, ownership of a context by the
 * opening mm, and the ioctl entry point with good and hostile arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "libwd.h"
#include "wd_test.h"

TEST(node_is_char_device_matching_sysfs)
{
	unsigned int maj, min;
	struct stat st;
	char buf[64];

	ASSERT_EQ(0, stat(WD_TEST_NODE, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(0, st.st_gid);
	ASSERT_EQ(0, wd_test_read_file("/sys/class/warpdrive/" WD_TEST_DEV "/dev",
				       buf, sizeof(buf)));
	ASSERT_EQ(2, sscanf(buf, "%u:%u", &maj, &min));
	EXPECT_EQ(maj, major(st.st_rdev));
	EXPECT_EQ(min, minor(st.st_rdev));
}

static int try_open(void *arg)
{
	int fd = open(WD_TEST_NODE, O_RDWR);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno;
}

TEST(unprivileged_open_refused)
{
	EXPECT_EQ(EACCES, wd_test_as_nobody(try_open, NULL));
}

TEST(info_matches_sysfs)
{
	struct wd_dev_desc d;
	struct wd_info info;
	int fd, i;

	ASSERT_EQ(0, wd_describe(WD_TEST_DEV, &d));
	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	memset(&info, 0xa5, sizeof(info));
	ASSERT_EQ(0, ioctl(fd, WD_IOC_INFO, &info));
	EXPECT_EQ(WD_API_VERSION, info.api_version);
	EXPECT_EQ(d.flags, info.flags);
	EXPECT_EQ(d.algorithms, info.algorithms);
	EXPECT_EQ(d.queues_total, info.queues_total);
	EXPECT_LE(info.queues_free, info.queues_total);
	EXPECT_EQ(d.devmem_size, info.devmem_size);
	EXPECT_EQ(0, info.pad);
	for (i = 0; i < sizeof(info.reserved) / sizeof(info.reserved[0]); i++)
		EXPECT_EQ(0, info.reserved[i]);
	close(fd);
}

TEST(unknown_ioctls_enotty)
{
	static const unsigned long cmds[] = {
		0, _IO(WD_IOC_MAGIC, 0x7f), _IOWR(WD_IOC_MAGIC, 0xff, struct wd_info),
		_IOWR(WD_IOC_MAGIC, 0x00, struct wd_info), /* right nr, wrong dir */
		_IOWR(WD_IOC_MAGIC, 0x00, __u64),          /* right nr, wrong size */
		_IOWR('W', 0x00, struct wd_info), 0xffffffffUL,
	};
	struct wd_info info;
	size_t i;
	int fd;

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		EXPECT_EQ(-1, ioctl(fd, cmds[i], &info));
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd %#lx", cmds[i]);
	}
	close(fd);
}

TEST(info_bad_pointers_efault)
{
	void *ro, *none;
	int fd;

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_NE(MAP_FAILED, none);

	EXPECT_EQ(-1, ioctl(fd, WD_IOC_INFO, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_INFO, (void *)0xffff888000000000UL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_INFO, (void *)0x8000000000000000UL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_INFO, ro));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_INFO, none));
	EXPECT_EQ(EFAULT, errno);
	/* Straddling the end of the last mapped page. */
	EXPECT_EQ(-1, ioctl(fd, WD_IOC_INFO, (char *)ro + 4096 - 8));
	EXPECT_EQ(EFAULT, errno);
	munmap(ro, 4096);
	munmap(none, 4096);
	close(fd);
}

TEST(forked_child_gets_eperm)
{
	struct wd_info info;
	int fd, status;
	pid_t pid;

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (ioctl(fd, WD_IOC_INFO, &info) == 0)
			_exit(1);
		_exit(errno == EPERM ? 0 : 2);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The parent's context is unaffected. */
	EXPECT_EQ(0, ioctl(fd, WD_IOC_INFO, &info));
	close(fd);
}

TEST(read_write_seek_refused)
{
	char buf[16];
	int fd;

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(-1, write(fd, buf, sizeof(buf)));
	EXPECT_EQ(-1, lseek(fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	close(fd);
}

TEST(many_contexts)
{
	int fds[200], i;

	for (i = 0; i < 200; i++) {
		fds[i] = open(WD_TEST_NODE, O_RDWR);
		ASSERT_LE(0, fds[i]);
	}
	for (i = 0; i < 200; i++)
		EXPECT_EQ(0, close(fds[i]));
}

FIXTURE(race) {
};

FIXTURE_SETUP(race)
{
}

FIXTURE_TEARDOWN(race)
{
}

/* Each driver load sets up device memory: allow the cycles their time. */
TEST_F_TIMEOUT(race, open_close_races_unload, 300)
{
	pid_t pid;
	int status, i;

	/* A child opens and closes the node as fast as it can while the
	 * parent tries to unload and reload the driver: every unload either
	 * succeeds or is refused, and nothing breaks.
	 */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (i = 0; i < 5000; i++) {
			int fd = open(WD_TEST_NODE, O_RDWR);

			if (fd >= 0)
				close(fd);
		}
		_exit(0);
	}
	for (i = 0; i < 20; i++) {
		int ret = wd_test_rmmod("wd_soft");

		EXPECT_TRUE(ret == 0 || ret == -EWOULDBLOCK || ret == -EBUSY)
			TH_LOG("rmmod: %d", ret);
		if (ret == 0)
			ASSERT_EQ(0, wd_test_insmod("wd_soft", NULL));
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, wd_test_load(NULL));
}

TEST_HARNESS_MAIN
