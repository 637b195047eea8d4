// SPDX-License-Identifier: GPL-2.0
/* sysfs attributes of a device and how libwd reads them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "libwd.h"
#include "wd_test.h"

#define ATTR(a) "/sys/class/warpdrive/" WD_TEST_DEV "/" a

static unsigned long param(const char *name)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "/sys/module/wd_soft/parameters/%s", name);
	if (wd_test_read_file(path, buf, sizeof(buf)))
		return ~0UL;
	return strtoul(buf, NULL, 0);
}

TEST(attributes)
{
	char buf[256];

	ASSERT_EQ(0, wd_test_read_file(ATTR("api"), buf, sizeof(buf)));
	EXPECT_STREQ("wd_soft_v1", buf);
	ASSERT_EQ(0, wd_test_read_file(ATTR("api_version"), buf, sizeof(buf)));
	EXPECT_EQ(WD_API_VERSION, strtoul(buf, NULL, 0));
	ASSERT_EQ(0, wd_test_read_file(ATTR("flags"), buf, sizeof(buf)));
	EXPECT_EQ(0, strncmp(buf, "0x", 2));
	EXPECT_TRUE(strtoul(buf, NULL, 0) & WD_DEV_F_QUEUES);
	ASSERT_EQ(0, wd_test_read_file(ATTR("algorithms"), buf, sizeof(buf)));
	EXPECT_STREQ("copy fill crc32c deflate inflate", buf);
	ASSERT_EQ(0, wd_test_read_file(ATTR("queues_total"), buf, sizeof(buf)));
	EXPECT_EQ(param("queues"), strtoul(buf, NULL, 0));
	ASSERT_EQ(0, wd_test_read_file(ATTR("devmem_size"), buf, sizeof(buf)));
	EXPECT_EQ(param("devmem_mb") << 20, strtoull(buf, NULL, 0));
	ASSERT_EQ(0, wd_test_read_file(ATTR("max_cmd_len"), buf, sizeof(buf)));
	EXPECT_EQ(1ULL << 30, strtoull(buf, NULL, 0));
}

TEST(attributes_read_only)
{
	static const char *const attrs[] = {
		ATTR("api"), ATTR("api_version"), ATTR("flags"),
		ATTR("algorithms"), ATTR("queues_total"), ATTR("devmem_size"),
		ATTR("max_cmd_len"),
	};
	size_t i;

	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		EXPECT_EQ(-1, open(attrs[i], O_WRONLY));
		EXPECT_EQ(EACCES, errno) TH_LOG("%s", attrs[i]);
	}
}

TEST(libwd_describe_and_open)
{
	struct wd_dev_desc d[4];
	struct wd_dev *dev;
	struct wd_info info;

	ASSERT_EQ(1, wd_list_devices(d, 4));
	EXPECT_STREQ(WD_TEST_DEV, d[0].name);
	EXPECT_EQ(WD_ALG_COPY | WD_ALG_FILL | WD_ALG_CRC32C | WD_ALG_DEFLATE |
		  WD_ALG_INFLATE, d[0].algorithms);
	EXPECT_EQ(1, wd_list_devices(NULL, 0));
	EXPECT_EQ(-EINVAL, wd_list_devices(NULL, 1));

	ASSERT_EQ(0, wd_open(NULL, &dev));
	EXPECT_STREQ(WD_TEST_DEV, wd_dev_name(dev));
	EXPECT_EQ(0, wd_get_info(dev, &info));
	EXPECT_EQ(d[0].queues_total, info.queues_total);
	wd_close(dev);

	ASSERT_EQ(0, wd_open_alg(WD_ALG_DEFLATE | WD_ALG_CRC32C, &dev));
	wd_close(dev);
	EXPECT_EQ(-ENODEV, wd_open_alg(1U << 20, &dev));
	EXPECT_EQ(NULL, dev);
	EXPECT_EQ(-EINVAL, wd_open_alg(0, &dev));
	EXPECT_EQ(-ENOENT, wd_open("wd_soft9", &dev));
	EXPECT_EQ(-EINVAL, wd_open("../null", &dev));
	EXPECT_EQ(-EINVAL, wd_open("", &dev));
	EXPECT_EQ(-ENOENT, wd_describe("nosuch", &d[0]));
	EXPECT_EQ(-EINVAL, wd_describe("..", &d[0]));
}

TEST(alg_names)
{
	EXPECT_EQ(WD_ALG_INFLATE, wd_alg_from_name("inflate"));
	EXPECT_EQ(0, wd_alg_from_name("zstd"));
	EXPECT_STREQ("crc32c", wd_alg_name(WD_ALG_CRC32C));
	EXPECT_EQ(NULL, wd_alg_name(WD_ALG_COPY | WD_ALG_FILL));
}

TEST(wdctl_lists_device)
{
	char buf[4096];
	size_t n;
	FILE *p;

	p = popen("/wd/bin/wdctl --json", "r");
	ASSERT_NE(NULL, p);
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	EXPECT_EQ(0, pclose(p));
	EXPECT_NE(NULL, strstr(buf, "\"name\": \"" WD_TEST_DEV "\""));
	EXPECT_NE(NULL, strstr(buf, "\"algorithms\": [\"copy\", \"fill\", \"crc32c\", \"deflate\", \"inflate\"]"));

	p = popen("/wd/bin/wdctl show nosuch 2>&1", "r");
	ASSERT_NE(NULL, p);
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	EXPECT_NE(0, pclose(p));
	EXPECT_NE(NULL, strstr(buf, "no such device"));
}

/* As user nobody, who may not open the node: wdctl show reads sysfs only. */
static int wdctl_show_unprivileged(void *unused)
{
	char buf[8192], want[64], free_q[16];
	struct stat st;
	size_t n;
	FILE *p;

	/* The node is the default 0600 root's: nobody cannot open it. */
	if (stat(WD_TEST_NODE, &st) || (st.st_mode & 0006))
		return 2;
	if (open(WD_TEST_NODE, O_RDONLY) >= 0 || errno != EACCES)
		return 3;
	if (wd_test_read_file(ATTR("queues_free"), free_q, sizeof(free_q)))
		return 4;
	p = popen("/wd/bin/wdctl show " WD_TEST_DEV " 2>&1", "r");
	if (!p)
		return 5;
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	if (pclose(p)) {
		fprintf(stderr, "wdctl show failed: %s\n", buf);
		return 6;
	}
	snprintf(want, sizeof(want), "queues:       %s free of ", free_q);
	if (!strstr(buf, want) || !strstr(buf, "device mem:   ") ||
	    !strstr(buf, "commands_completed"))
		return 7;
	p = popen("/wd/bin/wdctl show --json " WD_TEST_DEV " 2>&1", "r");
	if (!p)
		return 8;
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	if (pclose(p))
		return 9;
	snprintf(want, sizeof(want), "\"queues_free\": %s", free_q);
	if (!strstr(buf, want) || !strstr(buf, "\"devpriv_size\": ") ||
	    !strstr(buf, "\"stats\": {"))
		return 10;
	return 0;
}

TEST(wdctl_show_without_opening_node)
{
	EXPECT_EQ(0, wd_test_as_nobody(wdctl_show_unprivileged, NULL));
}

TEST_HARNESS_MAIN
