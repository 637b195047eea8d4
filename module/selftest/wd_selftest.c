// SPDX-License-Identifier: GPL-2.0
/*
 * wd_selftest: test-only module for the test runner's own self-test.
 *
 * Writing a report name to /sys/kernel/debug/wd_selftest/trigger makes the
 * kernel print that kind of report, so the runner can prove it notices
 * them. Never loaded by the normal test suite.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/uaccess.h>

static struct dentry *selftest_dir;

static ssize_t selftest_trigger_write(struct file *file,
				      const char __user *ubuf, size_t len,
				      loff_t *ppos)
{
	char buf[16];

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	strim(buf);

	if (!strcmp(buf, "warn"))
		WARN(1, "wd_selftest: warning requested from user space\n");
	else
		return -EINVAL;
	return len;
}

static const struct file_operations selftest_trigger_fops = {
	.owner = THIS_MODULE,
	.write = selftest_trigger_write,
};

static int __init selftest_init(void)
{
	selftest_dir = debugfs_create_dir("wd_selftest", NULL);
	debugfs_create_file("trigger", 0200, selftest_dir, NULL,
			    &selftest_trigger_fops);
	return 0;
}

static void __exit selftest_exit(void)
{
	debugfs_remove(selftest_dir);
}

module_init(selftest_init);
module_exit(selftest_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("WarpDrive test runner self-test helper");
