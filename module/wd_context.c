// SPDX-License-Identifier: GPL-2.0
/*
 * WarpDrive framework: contexts, the file operations of a device node.
 *
 * A context is one open file. It belongs to the address space that opened
 * it; a process that inherited the descriptor (fork) or received it cannot
 * use it and gets -EPERM.
 */
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "wd_internal.h"

/* A new context of @wdev for @filp (also the test_hmm compatible nodes). */
int wd_context_open(struct wd_device *wdev, struct file *filp)
{
	struct wd_context *ctx;
	int ret;

	if (!current->mm)
		return -EPERM;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->charge = wd_charge_alloc();
	if (!ctx->charge) {
		kfree(ctx);
		return -ENOMEM;
	}

	down_read(&wdev->state_lock);
	if (!wdev->registered) {
		ret = -ENODEV;
		goto err_unlock;
	}
	if (!try_module_get(wdev->ops->owner)) {
		ret = -ENODEV;
		goto err_unlock;
	}
	get_device(&wdev->dev);
	ctx->wdev = wdev;
	ctx->mm = current->mm;
	mmgrab(ctx->mm);
	ctx->pid = get_pid(task_tgid(current));
	ctx->mapping = filp->f_mapping;
	mutex_init(&ctx->lock);
	spin_lock_init(&ctx->hwq_lock);
	init_waitqueue_head(&ctx->wq);
	ret = wd_mmu_init(&ctx->mmu, wdev, ctx->mm);
	if (ret)
		goto err_put;

	mutex_lock(&wdev->ctx_lock);
	list_add_tail(&ctx->node, &wdev->contexts);
	mutex_unlock(&wdev->ctx_lock);
	up_read(&wdev->state_lock);

	filp->private_data = ctx;
	return 0;

err_put:
	put_pid(ctx->pid);
	mmdrop(ctx->mm);
	put_device(&wdev->dev);
	module_put(wdev->ops->owner);
err_unlock:
	up_read(&wdev->state_lock);
	wd_charge_put(ctx->charge);
	kfree(ctx);
	return ret;
}

static int wd_open(struct inode *inode, struct file *filp)
{
	struct wd_device *wdev = container_of(inode->i_cdev, struct wd_device,
					      cdev);
	int ret = wd_context_open(wdev, filp);

	return ret ? ret : stream_open(inode, filp);
}

int wd_context_release(struct file *filp)
{
	struct wd_context *ctx = filp->private_data;
	struct wd_device *wdev = ctx->wdev;

	down_read(&wdev->state_lock);
	wd_queue_put(ctx);
	up_read(&wdev->state_lock);
	wd_mmu_fini(&ctx->mmu);

	mutex_lock(&wdev->ctx_lock);
	list_del(&ctx->node);
	mutex_unlock(&wdev->ctx_lock);

	put_pid(ctx->pid);
	mmdrop(ctx->mm);
	module_put(wdev->ops->owner);
	wd_charge_put(ctx->charge);
	kfree(ctx);
	put_device(&wdev->dev);
	return 0;
}

static int wd_release(struct inode *inode, struct file *filp)
{
	return wd_context_release(filp);
}

static long wd_ioctl_info(struct wd_context *ctx, void __user *uarg)
{
	struct wd_device *wdev = ctx->wdev;
	struct wd_info info = {
		.api_version = WD_API_VERSION,
		.flags = wdev->flags,
		.algorithms = wdev->algorithms,
		.queues_total = wdev->queues_total,
		.queues_free = wd_queues_free(wdev),
		.max_cmd_len = wdev->max_cmd_len,
		.devmem_size = wdev->devmem_size,
		.devpriv_size = (u64)wd_devpriv_pages(wdev) << PAGE_SHIFT,
	};

	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long wd_ioctl_mmu_mode(struct wd_context *ctx, void __user *uarg)
{
	struct wd_mmu_mode m;
	long ret = 0;

	if (copy_from_user(&m, uarg, sizeof(m)))
		return -EFAULT;
	if (m.pad || m.reserved[0] || m.reserved[1])
		return -EINVAL;
	if (m.mode) {
		mutex_lock(&ctx->lock);
		if (ctx->hwq || ctx->getting)
			ret = -EBUSY;
		else
			ret = wd_mmu_set_mode(&ctx->mmu, m.mode);
		mutex_unlock(&ctx->lock);
		if (ret)
			return ret;
	}
	m.mode = ctx->mmu.mode;
	return copy_to_user(uarg, &m, sizeof(m)) ? -EFAULT : 0;
}

static long wd_ioctl_share(struct wd_context *ctx, void __user *uarg,
			   bool share)
{
	struct wd_share_req req;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	return share ? wd_mmu_share(&ctx->mmu, &req) :
		       wd_mmu_unshare(&ctx->mmu, &req);
}

static long wd_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct wd_context *ctx = filp->private_data;
	struct wd_device *wdev = ctx->wdev;
	void __user *uarg = (void __user *)arg;
	long ret;

	if (current->mm != ctx->mm)
		return -EPERM;

	down_read(&wdev->state_lock);
	if (!wdev->registered) {
		ret = -ENODEV;
		goto out;
	}

	switch (cmd) {
	case WD_IOC_INFO:
		ret = wd_ioctl_info(ctx, uarg);
		break;
	case WD_IOC_QUEUE_GET:
		ret = wd_queue_get(ctx, uarg, filp->f_flags & O_NONBLOCK);
		break;
	case WD_IOC_QUEUE_PUT:
		ret = wd_queue_put(ctx);	/* _IO: the argument is unused */
		break;
	case WD_IOC_KICK:
		ret = wd_queue_kick(ctx);
		break;
	case WD_IOC_MMU_MODE:
		ret = wd_ioctl_mmu_mode(ctx, uarg);
		break;
	case WD_IOC_SHARE:
		ret = wd_ioctl_share(ctx, uarg, true);
		break;
	case WD_IOC_UNSHARE:
		ret = wd_ioctl_share(ctx, uarg, false);
		break;
	case WD_IOC_REGION_CREATE:
		ret = wd_region_create(ctx, uarg);
		break;
	case WD_IOC_MIGRATE:
		ret = wd_ioctl_migrate(ctx, uarg);
		break;
	default:
		ret = -ENOTTY;
		break;
	}
out:
	up_read(&wdev->state_lock);
	return ret;
}

static int wd_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct wd_context *ctx = filp->private_data;

	/*
	 * No device lock here: mmap runs under mmap_lock, which the engine
	 * takes while the unbind path waits for it. The rings are the
	 * framework's memory, valid whether or not the device still is.
	 */
	if (current->mm != ctx->mm)
		return -EPERM;
	if (READ_ONCE(ctx->dead))
		return -ENODEV;
	return wd_queue_mmap(ctx, vma);
}

static __poll_t wd_poll(struct file *filp, poll_table *wait)
{
	struct wd_context *ctx = filp->private_data;

	poll_wait(filp, &ctx->wq, wait);
	return wd_queue_poll(ctx);
}

const struct file_operations wd_fops = {
	.owner = THIS_MODULE,
	.open = wd_open,
	.release = wd_release,
	.unlocked_ioctl = wd_ioctl,
	.mmap = wd_mmap,
	.poll = wd_poll,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = no_llseek,
};
