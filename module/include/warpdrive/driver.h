/* SPDX-License-Identifier: GPL-2.0 */
/*
 * WarpDrive in-kernel driver API.
 *
 * A driver allocates a device with wd_device_alloc(), fills in what it
 * offers, makes it visible with wd_device_register() and takes it away with
 * wd_device_unregister(). The framework owns the character device, the
 * sysfs node and the user contexts; it calls the driver only through
 * &struct wd_device_ops and never after wd_device_unregister() returned.
 */
#ifndef _WARPDRIVE_DRIVER_H
#define _WARPDRIVE_DRIVER_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <uapi/warpdrive/warpdrive.h>

struct wd_device;

/**
 * struct wd_device_ops - what a driver provides to the framework
 * @owner: module implementing the ops; pinned while a user has the device
 *         open, so the driver cannot be unloaded under its users.
 */
struct wd_device_ops {
	struct module *owner;
};

/**
 * struct wd_device - one accelerator as the framework sees it
 * @dev: class device (/sys/class/warpdrive/<name>); its refcount is the
 *       lifetime of the whole structure.
 * @cdev: character device behind /dev/warpdrive/<name>.
 * @ops: driver operations.
 * @priv: driver data, see wd_device_priv().
 * @api: driver API name shown in sysfs "api".
 * @flags: WD_DEV_F_* capabilities.
 * @algorithms: WD_ALG_* bits.
 * @queues_total: number of hardware queues.
 * @devmem_size: bytes of device memory.
 * @id: number in the device's name.
 * @state_lock: protects @registered against concurrent unregistration;
 *              user entry points hold it for reading while they use @ops.
 * @registered: true between register and unregister.
 * @ctx_lock: protects @contexts.
 * @contexts: open contexts (&struct wd_context.node).
 */
struct wd_device {
	struct device dev;
	struct cdev cdev;
	const struct wd_device_ops *ops;
	void *priv;
	const char *api;
	u32 flags;
	u32 algorithms;
	u32 queues_total;
	u64 devmem_size;
	int id;

	struct rw_semaphore state_lock;
	bool registered;

	struct mutex ctx_lock;
	struct list_head contexts;
};

/**
 * wd_device_alloc() - allocate a device
 * @parent: parent device in the driver model, or NULL
 * @prefix: name prefix; the device is called <prefix><id>
 * @ops: driver operations, with @ops->owner set
 * @priv: driver data
 *
 * The caller fills in the capability fields and then calls
 * wd_device_register(). Release with wd_device_put().
 *
 * Return: the device or an ERR_PTR().
 */
struct wd_device *wd_device_alloc(struct device *parent, const char *prefix,
				  const struct wd_device_ops *ops, void *priv);

/**
 * wd_device_register() - make a device visible to user space
 * @wdev: device from wd_device_alloc()
 *
 * Creates the sysfs node and /dev/warpdrive/<name>.
 *
 * Return: 0 or a negative errno.
 */
int wd_device_register(struct wd_device *wdev);

/**
 * wd_device_unregister() - take a device away from user space
 * @wdev: registered device
 *
 * Removes the device node, waits for user calls into the driver to drain
 * and marks every open context dead: later calls on it fail with -ENODEV.
 * After it returns the framework no longer calls @wdev->ops.
 */
void wd_device_unregister(struct wd_device *wdev);

/**
 * wd_device_put() - drop the driver's reference
 * @wdev: device from wd_device_alloc()
 *
 * The memory goes away when the last open file is closed as well.
 */
void wd_device_put(struct wd_device *wdev);

/**
 * wd_device_priv() - driver data of a device
 * @wdev: the device
 *
 * Return: the @priv given to wd_device_alloc().
 */
static inline void *wd_device_priv(struct wd_device *wdev)
{
	return wdev->priv;
}

#endif /* _WARPDRIVE_DRIVER_H */
