// SPDX-License-Identifier: LGPL-2.1-or-later
/* libwd: finding, describing and opening devices. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "libwd_internal.h"

static const char *const alg_names[] = {
	"copy", "fill", "crc32c", "deflate", "inflate",
	"aes-ecb", "aes-cbc", "aes-ctr", "aes-xts",
};

int wd_version(void)
{
	return LIBWD_VERSION;
}

uint32_t wd_alg_from_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++)
		if (!strcmp(name, alg_names[i]))
			return 1U << i;
	return 0;
}

const char *wd_alg_name(uint32_t alg)
{
	size_t i;

	for (i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++)
		if (alg == 1U << i)
			return alg_names[i];
	return NULL;
}

/* Read one sysfs attribute of @name into @buf, without the newline. */
int wd_sysfs_read(const char *name, const char *attr, char *buf, size_t len)
{
	char path[256];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), WD_SYSFS_CLASS "/%s/%s", name, attr) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

int wd_sysfs_read_u64(const char *name, const char *attr, uint64_t *val)
{
	char buf[64], *end;
	int ret;

	ret = wd_sysfs_read(name, attr, buf, sizeof(buf));
	if (ret)
		return ret;
	errno = 0;
	*val = strtoull(buf, &end, 0);
	if (errno || end == buf || *end)
		return -EPROTO;
	return 0;
}

static int valid_name(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len < WD_NAME_MAX && !strchr(name, '/') &&
	       strcmp(name, ".") && strcmp(name, "..");
}

int wd_dev_attr_u64(const char *name, const char *attr, uint64_t *val)
{
	if (!name || !valid_name(name) || !attr || !*attr || *attr == '/' ||
	    strstr(attr, "..") || !val)
		return -EINVAL;
	return wd_sysfs_read_u64(name, attr, val);
}

int wd_describe(const char *name, struct wd_dev_desc *d)
{
	char algs[256], *tok, *save;
	uint64_t v;
	int ret;

	if (!name || !valid_name(name))
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);

	ret = wd_sysfs_read(name, "api", d->api, sizeof(d->api));
	if (ret)
		return ret;
	ret = wd_sysfs_read_u64(name, "api_version", &v);
	if (ret)
		return ret;
	d->api_version = v;
	ret = wd_sysfs_read_u64(name, "flags", &v);
	if (ret)
		return ret;
	d->flags = v;
	ret = wd_sysfs_read_u64(name, "queues_total", &v);
	if (ret)
		return ret;
	d->queues_total = v;
	ret = wd_sysfs_read_u64(name, "devmem_size", &d->devmem_size);
	if (ret)
		return ret;
	ret = wd_sysfs_read(name, "algorithms", algs, sizeof(algs));
	if (ret)
		return ret;
	for (tok = strtok_r(algs, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		d->algorithms |= wd_alg_from_name(tok);
	return 0;
}

static int cmp_desc(const void *a, const void *b)
{
	const struct wd_dev_desc *x = a, *y = b;
	size_t lx = strlen(x->name), ly = strlen(y->name);

	/* Natural order: wd_soft2 before wd_soft10. */
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x->name, y->name);
}

int wd_list_devices(struct wd_dev_desc *out, int max)
{
	struct dirent *de;
	int count = 0;
	DIR *dir;

	if (max < 0 || (max > 0 && !out))
		return -EINVAL;
	dir = opendir(WD_SYSFS_CLASS);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir))) {
		struct wd_dev_desc d;

		if (de->d_name[0] == '.' || wd_describe(de->d_name, &d))
			continue;
		if (count < max)
			out[count] = d;
		count++;
	}
	closedir(dir);
	if (out)
		qsort(out, count < max ? count : max, sizeof(*out), cmp_desc);
	return count;
}

int wd_open(const char *name, struct wd_dev **out)
{
	struct wd_dev_desc first;
	char path[256];
	struct wd_dev *dev;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!name) {
		ret = wd_list_devices(&first, 1);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return -ENODEV;
		name = first.name;
	}
	if (!valid_name(name))
		return -EINVAL;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	snprintf(path, sizeof(path), WD_DEV_DIR "/%s", name);
	dev->fd = open(path, O_RDWR | O_CLOEXEC);
	if (dev->fd < 0) {
		ret = -errno;
		free(dev);
		return ret;
	}
	*out = dev;
	return 0;
}

int wd_open_alg(uint32_t algs, struct wd_dev **out)
{
	struct wd_dev_desc descs[64];
	int n, i, ret = -ENODEV;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!algs)
		return -EINVAL;
	n = wd_list_devices(descs, 64);
	if (n < 0)
		return n;
	for (i = 0; i < n && i < 64; i++) {
		if ((descs[i].algorithms & algs) != algs)
			continue;
		ret = wd_open(descs[i].name, out);
		if (ret == 0)
			return 0;
	}
	return ret;
}

void wd_close(struct wd_dev *dev)
{
	if (!dev)
		return;
	wd_queue_put(dev->queue);
	close(dev->fd);
	free(dev);
}

int wd_dev_fd(const struct wd_dev *dev)
{
	return dev->fd;
}

const char *wd_dev_name(const struct wd_dev *dev)
{
	return dev->name;
}

int wd_get_info(struct wd_dev *dev, struct wd_info *info)
{
	memset(info, 0, sizeof(*info));
	return ioctl(dev->fd, WD_IOC_INFO, info) ? -errno : 0;
}

const char *wd_strerror(int err)
{
	if (err > 0)
		err = -err;
	switch (err) {
	case 0:
		return "success";
	case -ENODEV:
		return "no such WarpDrive device, or it was removed (is wd_soft loaded?)";
	case -EPERM:
		return "not allowed (device opened by another process)";
	case -EBUSY:
		return "busy (queue already bound, or commands still in flight)";
	case -EAGAIN:
		return "no free queue or submission slot; try again";
	case -ENXIO:
		return "no queue bound to the device file";
	case -EPROTO:
		return "queue protocol error (ring index out of range)";
	case -ENOSPC:
		return "destination buffer too small";
	case -EBADMSG:
		return "corrupt or truncated compressed data";
	case -E2BIG:
		return "buffer larger than one command may name";
	case -ECANCELED:
		return "command cancelled (queue released)";
	case -ETIMEDOUT:
		return "timed out waiting for a completion";
	default:
		return strerror(-err);
	}
}
