// SPDX-License-Identifier: GPL-2.0
/*
 * WarpDrive framework: module entry points and the device class.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/module.h>

#include "wd_internal.h"

struct class *wd_class;
dev_t wd_devt;
struct dentry *wd_debugfs;

static ushort node_mode = 0600;
module_param(node_mode, ushort, 0444);
MODULE_PARM_DESC(node_mode, "permission bits of /dev/warpdrive/* (default 0600)");

static char *wd_devnode(WD_DEVNODE_CONST struct device *dev, umode_t *mode)
{
	if (mode)
		*mode = node_mode;
	return kasprintf(GFP_KERNEL, "warpdrive/%s", dev_name(dev));
}

static int __init wd_init(void)
{
	int ret;

	if (node_mode & ~0666) {
		pr_err("node_mode %#o has bits beyond 0666\n", node_mode);
		return -EINVAL;
	}

	ret = alloc_chrdev_region(&wd_devt, 0, WD_MAX_DEVICES, "warpdrive");
	if (ret)
		return ret;

	wd_class = wd_class_create("warpdrive");
	if (IS_ERR(wd_class)) {
		ret = PTR_ERR(wd_class);
		goto err_region;
	}
	wd_class->devnode = wd_devnode;
	wd_class->dev_groups = wd_device_groups;
	ret = wd_region_fs_init();
	if (ret)
		goto err_class;
	wd_debugfs = debugfs_create_dir("warpdrive", NULL);
	return 0;

err_class:
	class_destroy(wd_class);
err_region:
	unregister_chrdev_region(wd_devt, WD_MAX_DEVICES);
	return ret;
}

static void __exit wd_exit(void)
{
	debugfs_remove(wd_debugfs);
	wd_region_fs_exit();
	wd_pool_exit();
	class_destroy(wd_class);
	unregister_chrdev_region(wd_devt, WD_MAX_DEVICES);
}

module_init(wd_init);
module_exit(wd_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("WarpDrive: sharing process memory with accelerators");
