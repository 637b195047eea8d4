/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef LIBWD_INTERNAL_H
#define LIBWD_INTERNAL_H

#include "libwd.h"

/* An open device: one context in the kernel. */
struct wd_dev {
	int fd;
	char name[WD_NAME_MAX];
};

int wd_sysfs_read(const char *name, const char *attr, char *buf, size_t len);
int wd_sysfs_read_u64(const char *name, const char *attr, uint64_t *val);

#endif
