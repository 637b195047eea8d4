// SPDX-License-Identifier: GPL-2.0
/*
 * wd_soft: the WarpDrive reference driver, a software accelerator.
 *
 * Each device it registers executes commands on the CPU: copy, fill,
 * CRC32C, deflate and inflate.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/slab.h>

#include <warpdrive/driver.h>

#define SOFT_MAX_DEVICES	8
#define SOFT_MAX_QUEUES		64
#define SOFT_MAX_DEVMEM_MB	65536

static unsigned int num_devices = 1;
module_param(num_devices, uint, 0444);
MODULE_PARM_DESC(num_devices, "number of devices (1-8, default 1)");

static unsigned int queues = 4;
module_param(queues, uint, 0444);
MODULE_PARM_DESC(queues, "hardware queues per device (1-64, default 4)");

static unsigned int devmem_mb = 16;
module_param(devmem_mb, uint, 0444);
MODULE_PARM_DESC(devmem_mb, "device memory per device in MiB (1-65536, default 16)");

/**
 * struct soft_dev - one software accelerator
 * @wdev: the framework's view of it
 */
struct soft_dev {
	struct wd_device *wdev;
};

static struct soft_dev *soft_devs[SOFT_MAX_DEVICES];

static const struct wd_device_ops soft_ops = {
	.owner = THIS_MODULE,
};

static void soft_dev_destroy(struct soft_dev *sdev)
{
	wd_device_unregister(sdev->wdev);
	wd_device_put(sdev->wdev);
	kfree(sdev);
}

static struct soft_dev *soft_dev_create(void)
{
	struct soft_dev *sdev;
	int ret;

	sdev = kzalloc(sizeof(*sdev), GFP_KERNEL);
	if (!sdev)
		return ERR_PTR(-ENOMEM);

	sdev->wdev = wd_device_alloc(NULL, "wd_soft", &soft_ops, sdev);
	if (IS_ERR(sdev->wdev)) {
		ret = PTR_ERR(sdev->wdev);
		goto err_free;
	}
	sdev->wdev->api = "wd_soft_v1";
	sdev->wdev->flags = WD_DEV_F_QUEUES;
	sdev->wdev->algorithms = WD_ALG_COPY | WD_ALG_FILL | WD_ALG_CRC32C |
				 WD_ALG_DEFLATE | WD_ALG_INFLATE;
	sdev->wdev->queues_total = queues;
	sdev->wdev->devmem_size = (u64)devmem_mb << 20;

	ret = wd_device_register(sdev->wdev);
	if (ret)
		goto err_put;
	return sdev;

err_put:
	wd_device_put(sdev->wdev);
err_free:
	kfree(sdev);
	return ERR_PTR(ret);
}

static void soft_destroy_all(void)
{
	int i;

	for (i = SOFT_MAX_DEVICES - 1; i >= 0; i--) {
		if (soft_devs[i])
			soft_dev_destroy(soft_devs[i]);
		soft_devs[i] = NULL;
	}
}

static int __init soft_init(void)
{
	unsigned int i;

	if (!num_devices || num_devices > SOFT_MAX_DEVICES ||
	    !queues || queues > SOFT_MAX_QUEUES ||
	    !devmem_mb || devmem_mb > SOFT_MAX_DEVMEM_MB) {
		pr_err("num_devices must be 1-%d, queues 1-%d, devmem_mb 1-%d\n",
		       SOFT_MAX_DEVICES, SOFT_MAX_QUEUES, SOFT_MAX_DEVMEM_MB);
		return -EINVAL;
	}

	for (i = 0; i < num_devices; i++) {
		struct soft_dev *sdev = soft_dev_create();

		if (IS_ERR(sdev)) {
			soft_destroy_all();
			return PTR_ERR(sdev);
		}
		soft_devs[i] = sdev;
	}
	return 0;
}

static void __exit soft_exit(void)
{
	soft_destroy_all();
}

module_init(soft_init);
module_exit(soft_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("WarpDrive software accelerator");
