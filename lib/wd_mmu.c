// SPDX-License-Identifier: LGPL-2.1-or-later
/* libwd: device MMU mode, pinned sharing, device-private memory. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "libwd_internal.h"

int wd_set_mmu_mode(struct wd_dev *dev, uint32_t mode)
{
	struct wd_mmu_mode m = { .mode = mode };

	if (!dev || !mode)
		return -EINVAL;
	return ioctl(dev->fd, WD_IOC_MMU_MODE, &m) ? -errno : 0;
}

int wd_get_mmu_mode(struct wd_dev *dev)
{
	struct wd_mmu_mode m = { 0 };

	if (!dev)
		return -EINVAL;
	return ioctl(dev->fd, WD_IOC_MMU_MODE, &m) ? -errno : (int)m.mode;
}

static int share_ioctl(struct wd_dev *dev, unsigned long cmd, void *addr,
		       size_t len, uint32_t access)
{
	struct wd_share_req r = {
		.addr = (uint64_t)(uintptr_t)addr,
		.len = len,
		.access = access,
	};

	if (!dev)
		return -EINVAL;
	return ioctl(dev->fd, cmd, &r) ? -errno : 0;
}

int wd_share(struct wd_dev *dev, void *addr, size_t len, uint32_t access)
{
	return share_ioctl(dev, WD_IOC_SHARE, addr, len, access);
}

int wd_unshare(struct wd_dev *dev, void *addr, size_t len)
{
	return share_ioctl(dev, WD_IOC_UNSHARE, addr, len, 0);
}

int wd_migrate(struct wd_dev *dev, void *addr, size_t len, uint32_t direction,
	       uint64_t *moved, uint64_t *failed)
{
	struct wd_migrate m = {
		.addr = (uint64_t)(uintptr_t)addr,
		.len = len,
		.direction = direction,
	};
	int ret;

	if (!dev)
		return -EINVAL;
	ret = ioctl(dev->fd, WD_IOC_MIGRATE, &m) ? -errno : 0;
	if (moved)
		*moved = m.moved;
	if (failed)
		*failed = m.failed;
	return ret;
}
