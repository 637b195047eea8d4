// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's PCI rig itself: both virtio-crypto functions sit behind the
 * Intel IOMMU with strict invalidation, each on a hot-pluggable PCIe root
 * port, and the host unplugs and re-plugs a device when a test asks.
 * Everything the DMA-device tests rely on is checked here first.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "wd_test.h"

static const char *const rig[] = { WD_PCI_WDCRYPTO, WD_PCI_BASECRYPTO };

static int pci_attr(const char *bdf, const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	return wd_test_read_file(path, buf, len);
}

/* Name of the link target @attr of device @bdf ("" if there is none). */
static void pci_link(const char *bdf, const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	n = readlink(path, target, sizeof(target) - 1);
	buf[0] = '\0';
	if (n <= 0)
		return;
	target[n] = '\0';
	snprintf(buf, len, "%s", basename(target));
}

TEST(iommu_translates_both_devices_strictly)
{
	char buf[64], group[32], path[PATH_MAX];
	unsigned int i;

	ASSERT_EQ(0, access("/sys/class/iommu/dmar0", F_OK))
		TH_LOG("no DMA remapping unit: is intel_iommu=on?");
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pci_attr(rig[i], "vendor", buf, sizeof(buf)))
			TH_LOG("%s missing", rig[i]);
		EXPECT_STREQ("0x1af4", buf);
		ASSERT_EQ(0, pci_attr(rig[i], "device", buf, sizeof(buf)));
		EXPECT_STREQ("0x1054", buf);	/* virtio 1.0 crypto */
		pci_link(rig[i], "iommu_group", group, sizeof(group));
		ASSERT_NE(0, group[0]) TH_LOG("%s has no IOMMU group", rig[i]);
		snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%s/type",
			 group);
		ASSERT_EQ(0, wd_test_read_file(path, buf, sizeof(buf)));
		/* "DMA-FQ" would be lazy (batched) IOTLB invalidation. */
		EXPECT_STREQ("DMA", buf);
		pci_link(rig[i], "iommu", buf, sizeof(buf));
		EXPECT_STREQ("dmar0", buf);
	}
}

TEST(devices_sit_on_hotplug_slots)
{
	char path[PATH_MAX], buf[64];
	unsigned int i, found = 0;
	struct dirent *de;
	DIR *d = opendir("/sys/bus/pci/slots");

	ASSERT_NE(NULL, d) TH_LOG("no hot-plug slots at all");
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/slots/%s/address",
			 de->d_name);
		if (wd_test_read_file(path, buf, sizeof(buf)))
			continue;
		/* A slot's address is the device's without the function. */
		for (i = 0; i < 2; i++)
			if (!strncmp(buf, rig[i], strlen(buf)))
				found |= 1U << i;
	}
	closedir(d);
	EXPECT_EQ(3U, found) TH_LOG("hot-plug slots found: mask %#x", found);
}

FIXTURE(hotplug) {
	int unused;
};

FIXTURE_SETUP(hotplug)
{
	ASSERT_EQ(0, wd_test_pci_wait(WD_PCI_WDCRYPTO, 1, 1));
}

FIXTURE_TEARDOWN(hotplug)
{
	/* Leave the device plugged in for the programs after this one. */
	if (wd_test_pci_wait(WD_PCI_WDCRYPTO, 1, 1)) {
		wd_test_qmp("replug", "wdcrypto");
		wd_test_pci_wait(WD_PCI_WDCRYPTO, 1, 60);
	}
}

/* Removal is bounded but not instant: the guest ejects the slot first. */
TEST_F_TIMEOUT(hotplug, unplug_and_replug_rebinds_the_same_driver, 180)
{
	char before[64], after[64];
	int i;

	pci_link(WD_PCI_WDCRYPTO, "driver", before, sizeof(before));
	wd_test_qmp("unplug", "wdcrypto");
	ASSERT_EQ(0, wd_test_pci_wait(WD_PCI_WDCRYPTO, 0, 60))
		TH_LOG("device still present 60 s after the unplug request");
	wd_test_qmp("replug", "wdcrypto");
	ASSERT_EQ(0, wd_test_pci_wait(WD_PCI_WDCRYPTO, 1, 60))
		TH_LOG("device not back 60 s after the replug request");
	for (i = 0; i < 100; i++) {
		pci_link(WD_PCI_WDCRYPTO, "driver", after, sizeof(after));
		if (!strcmp(before, after))
			break;
		usleep(100 * 1000);
	}
	EXPECT_STREQ(before, after);
}

TEST(unplug_request_for_unknown_device_changes_nothing)
{
	wd_test_qmp("unplug", "no-such-device");
	sleep(1);
	EXPECT_EQ(0, wd_test_pci_wait(WD_PCI_WDCRYPTO, 1, 1));
	EXPECT_EQ(0, wd_test_pci_wait(WD_PCI_BASECRYPTO, 1, 1));
}

TEST_HARNESS_MAIN
