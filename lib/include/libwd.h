/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libwd: the WarpDrive user-space library.
 *
 * Every function that can fail returns a negative errno value (or NULL and
 * sets errno where it returns a pointer); wd_strerror() turns the value
 * into text.
 */
#ifndef LIBWD_H
#define LIBWD_H

#include <stddef.h>
#include <stdint.h>
#include <warpdrive/warpdrive.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBWD_VERSION_MAJOR	0
#define LIBWD_VERSION_MINOR	1
#define LIBWD_VERSION_PATCH	0
#define LIBWD_VERSION \
	(LIBWD_VERSION_MAJOR * 10000 + LIBWD_VERSION_MINOR * 100 + LIBWD_VERSION_PATCH)

/* Where devices are found; tests may point these elsewhere. */
#define WD_SYSFS_CLASS	"/sys/class/warpdrive"
#define WD_DEV_DIR	"/dev/warpdrive"

#define WD_NAME_MAX	64

/** What sysfs says about one device. */
struct wd_dev_desc {
	char name[WD_NAME_MAX];		/* e.g. "wd_soft0" */
	char api[WD_NAME_MAX];		/* driver API name */
	unsigned int api_version;	/* WD_API_VERSION of the module */
	uint32_t flags;			/* WD_DEV_F_* */
	uint32_t algorithms;		/* WD_ALG_* */
	unsigned int queues_total;
	uint64_t devmem_size;
};

struct wd_dev;

/** Version of the library actually linked (LIBWD_VERSION encoding). */
int wd_version(void);

/**
 * wd_list_devices() - describe the devices present
 * @out: array to fill (may be NULL when @max is 0)
 * @max: its length
 *
 * Return: the number of devices present (which may exceed @max), or a
 * negative errno.
 */
int wd_list_devices(struct wd_dev_desc *out, int max);

/** wd_describe() - read sysfs for the device called @name. */
int wd_describe(const char *name, struct wd_dev_desc *out);

/** wd_alg_from_name() - WD_ALG_* bit of "copy", "deflate"... or 0. */
uint32_t wd_alg_from_name(const char *name);

/** wd_alg_name() - name of one WD_ALG_* bit, or NULL. */
const char *wd_alg_name(uint32_t alg);

/**
 * wd_open() - open a device by name
 * @name: device name, or NULL for the first device
 * @out: where the handle goes
 */
int wd_open(const char *name, struct wd_dev **out);

/** wd_open_alg() - open the first device offering all of @algs (WD_ALG_*). */
int wd_open_alg(uint32_t algs, struct wd_dev **out);

/** wd_close() - release the handle and everything bound to it. */
void wd_close(struct wd_dev *dev);

/** wd_dev_fd() - the device file descriptor (for poll/epoll). */
int wd_dev_fd(const struct wd_dev *dev);

/** wd_dev_name() - the name the handle was opened with. */
const char *wd_dev_name(const struct wd_dev *dev);

/** wd_get_info() - WD_IOC_INFO: live figures from the kernel. */
int wd_get_info(struct wd_dev *dev, struct wd_info *info);

/** wd_strerror() - text for a negative errno returned by libwd. */
const char *wd_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* LIBWD_H */
