// SPDX-License-Identifier: LGPL-2.1-or-later
/* libwd: device memory regions. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libwd_internal.h"

int wd_region_create_ex(struct wd_dev *dev, size_t size, uint32_t flags,
			uint32_t fault_around, int *fd)
{
	struct wd_region_create c = {
		.size = size,
		.flags = flags,
		.fault_around = fault_around,
	};

	if (!dev || !fd)
		return -EINVAL;
	*fd = -1;
	if (ioctl(dev->fd, WD_IOC_REGION_CREATE, &c))
		return -errno;
	*fd = (int)c.fd;
	return 0;
}

int wd_region_create(struct wd_dev *dev, size_t size, uint32_t flags, int *fd)
{
	return wd_region_create_ex(dev, size, flags, 0, fd);
}

int wd_region_map(int fd, size_t size, int prot, int flags, void **addr)
{
	void *p;

	if (!addr || flags & (MAP_PRIVATE | MAP_ANONYMOUS))
		return -EINVAL;
	*addr = NULL;
	p = mmap(NULL, size, prot, MAP_SHARED | flags, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	return 0;
}

int wd_region_populate(int fd, void *addr, size_t len, size_t *done)
{
	struct wd_region_populate p = {
		.addr = (uint64_t)(uintptr_t)addr,
		.len = len,
	};
	int ret;

	ret = ioctl(fd, WD_REGION_IOC_POPULATE, &p) ? -errno : 0;
	if (done)
		*done = ret ? 0 : (size_t)p.done;
	return ret;
}

int wd_region_punch(int fd, size_t offset, size_t len)
{
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t)offset, (off_t)len) ? -errno : 0;
}

int wd_region_reserve(int fd, size_t offset, size_t len)
{
	return fallocate(fd, 0, (off_t)offset, (off_t)len) ? -errno : 0;
}

int wd_region_info(int fd, struct wd_region_info *info)
{
	if (!info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	return ioctl(fd, WD_REGION_IOC_INFO, info) ? -errno : 0;
}

int wd_devmem_usage(const char *name, struct wd_devmem_usage *u)
{
	int ret;

	if (!name || !u)
		return -EINVAL;
	memset(u, 0, sizeof(*u));
	ret = wd_dev_attr_u64(name, "devmem_size", &u->size);
	if (!ret)
		ret = wd_dev_attr_u64(name, "devmem_free", &u->free);
	if (!ret)
		ret = wd_dev_attr_u64(name, "devmem_used", &u->used);
	if (!ret)
		ret = wd_dev_attr_u64(name, "devmem_user_quota", &u->user_quota);
	return ret;
}
