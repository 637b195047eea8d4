// SPDX-License-Identifier: GPL-2.0
/*
 * Module life cycle: load/unload cycles, unload while a device file is
 * open, module parameters and their bad values.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "libwd.h"
#include "wd_test.h"

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int count_devices(void)
{
	return wd_list_devices(NULL, 0);
}

FIXTURE(mod) {
};

FIXTURE_SETUP(mod)
{
	ASSERT_EQ(0, wd_test_load(NULL));
}

FIXTURE_TEARDOWN(mod)
{
	/* Leave the default configuration loaded for the next program. */
	if (wd_test_module_loaded("wd_soft") && count_devices() != 1)
		wd_test_rmmod("wd_soft");
	wd_test_load(NULL);
}

TEST_F(mod, load_unload_cycles)
{
	int i;

	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, wd_test_unload());
		EXPECT_FALSE(exists("/sys/class/warpdrive"));
		EXPECT_FALSE(exists(WD_TEST_NODE));
		ASSERT_EQ(0, wd_test_load(NULL));
		EXPECT_TRUE(exists("/sys/class/warpdrive/" WD_TEST_DEV));
		EXPECT_TRUE(exists(WD_TEST_NODE));
		EXPECT_EQ(1, count_devices());
	}
}

TEST_F(mod, driver_reload_keeps_framework)
{
	int i;

	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, wd_test_rmmod("wd_soft"));
		EXPECT_TRUE(exists("/sys/class/warpdrive"));
		EXPECT_EQ(0, count_devices());
		ASSERT_EQ(0, wd_test_insmod("wd_soft", NULL));
		EXPECT_EQ(1, count_devices());
	}
}

TEST_F(mod, unload_refused_while_open)
{
	struct wd_info info;
	int fd, ret;

	fd = open(WD_TEST_NODE, O_RDWR);
	ASSERT_LE(0, fd);

	ret = wd_test_rmmod("wd_soft");
	EXPECT_TRUE(ret == -EWOULDBLOCK || ret == -EBUSY);
	ret = wd_test_rmmod("warpdrive");
	EXPECT_TRUE(ret == -EWOULDBLOCK || ret == -EBUSY);
	EXPECT_TRUE(wd_test_module_loaded("wd_soft"));

	/* The open file still works. */
	EXPECT_EQ(0, ioctl(fd, WD_IOC_INFO, &info));
	EXPECT_EQ(WD_API_VERSION, info.api_version);

	close(fd);
	EXPECT_EQ(0, wd_test_unload());
	EXPECT_EQ(0, wd_test_load(NULL));
}

TEST_F(mod, parameters)
{
	struct wd_dev_desc d[8];
	int i;

	ASSERT_EQ(0, wd_test_rmmod("wd_soft"));
	ASSERT_EQ(0, wd_test_insmod("wd_soft", "num_devices=3 queues=7 devmem_mb=2"));
	ASSERT_EQ(3, wd_list_devices(d, 8));
	for (i = 0; i < 3; i++) {
		char name[32];

		snprintf(name, sizeof(name), "wd_soft%d", i);
		EXPECT_STREQ(name, d[i].name);
		EXPECT_EQ(7, d[i].queues_total);
		EXPECT_EQ(2ULL << 20, d[i].devmem_size);
	}
	ASSERT_EQ(0, wd_test_rmmod("wd_soft"));
	EXPECT_EQ(0, count_devices());
	ASSERT_EQ(0, wd_test_insmod("wd_soft", NULL));
}

TEST_F(mod, bad_parameters_rejected)
{
	static const char *const bad[] = {
		"num_devices=0", "num_devices=9", "num_devices=-1",
		"queues=0", "queues=65", "queues=4294967295",
		"devmem_mb=0", "devmem_mb=1048577", "num_devices=abc",
		"engines=0", "engines=257", "engines=bogus", "engines=-1",
		"engines=",
	};
	size_t i;

	ASSERT_EQ(0, wd_test_rmmod("wd_soft"));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = wd_test_insmod("wd_soft", bad[i]);

		EXPECT_EQ(-EINVAL, ret) TH_LOG("%s gave %d", bad[i], ret);
		EXPECT_FALSE(wd_test_module_loaded("wd_soft"));
		EXPECT_EQ(0, count_devices());
	}
	ASSERT_EQ(0, wd_test_insmod("wd_soft", NULL));
}

/*
 * Each engines= mode loads, says what it is in debugfs and runs commands
 * on several queues at once; the queues spread over the shared units.
 */
TEST_F(mod, engine_modes)
{
	static const struct {
		const char *param;
		const char *mode;
		long cores;	/* -1: one per online CPU */
	} m[] = {
		{ "engines=queue", "queue", 0 },
		{ "engines=cpu", "cpu", -1 },
		{ NULL, "cpu", -1 },		/* the default */
		{ "engines=1", "fixed", 1 },
		{ "engines=3", "fixed", 3 },
	};
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		struct wd_dev *dev[3] = { NULL };
		struct wd_queue *q[3];
		char buf[4096], mode[16], pbuf[16];
		long cores = m[i].cores < 0 ? sysconf(_SC_NPROCESSORS_ONLN) :
					     m[i].cores;
		unsigned int c, nq, busy = 0, total = 0;
		const char *p;
		int j;

		ASSERT_EQ(0, wd_test_rmmod("wd_soft"));
		ASSERT_EQ(0, wd_test_insmod("wd_soft", m[i].param));
		ASSERT_EQ(0, wd_test_read_file("/sys/module/wd_soft/parameters/engines",
					       pbuf, sizeof(pbuf)));
		if (m[i].param)
			EXPECT_STREQ(m[i].param + strlen("engines="), pbuf);
		for (j = 0; j < 3; j++) {
			static char src[8192], dst[3][8192];

			ASSERT_EQ(0, wd_open(WD_TEST_DEV, &dev[j]));
			ASSERT_EQ(0, wd_queue_get(dev[j], NULL, &q[j]));
			memset(src, 'a' + j, sizeof(src));
			EXPECT_EQ(0, wd_copy(q[j], dst[j], src, sizeof(src)));
			EXPECT_EQ(0, memcmp(dst[j], src, sizeof(src)));
		}
		ASSERT_EQ(0, wd_test_read_file("/sys/kernel/debug/wd_soft/engines",
					       buf, sizeof(buf)));
		ASSERT_EQ(1, sscanf(buf, "mode %15s", mode)) TH_LOG("%s", buf);
		EXPECT_STREQ(m[i].mode, mode);
		for (p = strstr(buf, "\ncore "); p; p = strstr(p + 1, "\ncore ")) {
			ASSERT_EQ(2, sscanf(p, "\ncore %u queues %u", &c, &nq));
			total++;
			busy += nq > 0;
			/* Least loaded first: never two on one while one has none. */
			EXPECT_GE(1 + (3 + cores - 1) / cores, nq);
		}
		EXPECT_EQ(cores, total) TH_LOG("%s", buf);
		if (cores)
			EXPECT_EQ(cores < 3 ? cores : 3, busy) TH_LOG("%s", buf);
		/* wdctl show says it too. */
		{
			char want[96], out[4096];
			FILE *f = popen("/wd/bin/wdctl show " WD_TEST_DEV, "r");
			size_t n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;

			out[n] = 0;
			if (f)
				pclose(f);
			if (cores)
				snprintf(want, sizeof(want),
					 "engines:      %s (%ld execution unit", pbuf, cores);
			else
				snprintf(want, sizeof(want), "engines:      queue (");
			EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s", out);
		}
		for (j = 0; j < 3; j++)
			wd_close(dev[j]);
	}
	ASSERT_EQ(0, wd_test_rmmod("wd_soft"));
	ASSERT_EQ(0, wd_test_insmod("wd_soft", NULL));
}

TEST_F(mod, node_mode_parameter)
{
	struct stat st;

	ASSERT_EQ(0, wd_test_unload());
	EXPECT_EQ(-EINVAL, wd_test_insmod("warpdrive", "node_mode=0777"));
	EXPECT_EQ(-EINVAL, wd_test_insmod("warpdrive", "node_mode=01666"));
	EXPECT_FALSE(wd_test_module_loaded("warpdrive"));

	ASSERT_EQ(0, wd_test_insmod("warpdrive", "node_mode=0666"));
	ASSERT_EQ(0, wd_test_insmod("wd_soft", NULL));
	ASSERT_EQ(0, stat(WD_TEST_NODE, &st));
	EXPECT_EQ(0666, st.st_mode & 07777);
	ASSERT_EQ(0, wd_test_unload());
	ASSERT_EQ(0, wd_test_load(NULL));
	ASSERT_EQ(0, stat(WD_TEST_NODE, &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
}

TEST_HARNESS_MAIN
