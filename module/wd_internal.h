/* SPDX-License-Identifier: GPL-2.0 */
/* WarpDrive framework internals shared between its files. */
#ifndef _WD_INTERNAL_H
#define _WD_INTERNAL_H

#include <linux/mm_types.h>
#include <warpdrive/driver.h>

#define WD_MAX_DEVICES		64

/**
 * struct wd_context - one open file of a device
 * @wdev: the device; the context holds a reference on @wdev->dev.
 * @mm: address space of the process that opened the file (mmgrab()ed);
 *      calls from any other mm are refused.
 * @node: entry in &wd_device.contexts, under &wd_device.ctx_lock.
 */
struct wd_context {
	struct wd_device *wdev;
	struct mm_struct *mm;
	struct list_head node;
};

extern struct class *wd_class;
extern dev_t wd_devt;
extern const struct file_operations wd_fops;
extern const struct attribute_group *wd_device_groups[];

#endif /* _WD_INTERNAL_H */
