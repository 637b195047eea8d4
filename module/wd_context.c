// SPDX-License-Identifier: GPL-2.0
/*
 * WarpDrive framework: contexts, the file operations of a device node.
 *
 * A context is one open file. It belongs to the address space that opened
 * it; a process that inherited the descriptor (fork) or received it cannot
 * use it and gets -EPERM.
 */
#include <linux/file.h>
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
	int ret, idx;

	if (!current->mm)
		return -EPERM;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	/* Device memory is charged to the user who opens the device. */
	ctx->charge = wd_charge_get(wdev, filp->f_cred->euid);
	if (!ctx->charge) {
		kfree(ctx);
		return -ENOMEM;
	}
	ctx->wdev = wdev;
	ctx->mm = current->mm;
	ctx->mapping = filp->f_mapping;
	mutex_init(&ctx->lock);
	spin_lock_init(&ctx->hwq_lock);
	init_waitqueue_head(&ctx->wq);
	/* Outside the device section: it takes the mmap lock for writing. */
	ret = wd_mmu_init(&ctx->mmu, wdev, ctx->mm);
	if (ret)
		goto err_free;

	ret = wd_device_enter(wdev, &idx);
	if (ret)
		goto err_mmu;
	if (!try_module_get(wdev->ops->owner)) {
		ret = -ENODEV;
		goto err_leave;
	}
	get_device(&wdev->dev);
	mmgrab(ctx->mm);
	ctx->pid = get_pid(task_tgid(current));
	/* On the list before the section ends: unregistration will see it. */
	mutex_lock(&wdev->ctx_lock);
	list_add_tail(&ctx->node, &wdev->contexts);
	mutex_unlock(&wdev->ctx_lock);
	wd_device_leave(wdev, idx);

	filp->private_data = ctx;
	return 0;

err_leave:
	wd_device_leave(wdev, idx);
err_mmu:
	wd_mmu_fini(&ctx->mmu);
err_free:
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
	int idx;

	/*
	 * Registered or not: a section begun before unregistration cleared
	 * @registered ends before the queues are killed; one begun after finds
	 * ours killed, or runs before the kill (serialised by ctx->lock) while
	 * unregistration still waits for it: no @ops call after it returns.
	 */
	idx = srcu_read_lock(&wdev->srcu);
	wd_queue_put(ctx);
	srcu_read_unlock(&wdev->srcu, idx);
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

static long wd_ioctl_info(struct wd_context *ctx, struct wd_info *info)
{
	struct wd_device *wdev = ctx->wdev;

	memset(info, 0, sizeof(*info));
	*info = (struct wd_info) {
		.api_version = WD_API_VERSION,
		.flags = wdev->flags,
		.algorithms = wdev->algorithms,
		.queues_total = wdev->queues_total,
		.queues_free = wd_queues_free(wdev),
		.max_cmd_len = wdev->max_cmd_len,
		.devmem_size = wdev->devmem_size,
		.devpriv_size = (u64)wd_devpriv_pages(wdev) << PAGE_SHIFT,
	};
	return 0;
}

static long wd_ioctl_mmu_mode(struct wd_context *ctx, struct wd_mmu_mode *m)
{
	long ret = 0;

	if (m->pad || m->reserved[0] || m->reserved[1])
		return -EINVAL;
	if (m->mode) {
		mutex_lock(&ctx->lock);
		if (ctx->hwq || ctx->getting)
			ret = -EBUSY;
		else
			ret = wd_mmu_set_mode(&ctx->mmu, m->mode);
		mutex_unlock(&ctx->lock);
		if (ret)
			return ret;
	}
	m->mode = ctx->mmu.mode;
	return 0;
}

/* Every argument of a device node ioctl, copied in before the call. */
union wd_ioctl_arg {
	struct wd_info info;
	struct wd_queue_info queue;
	struct wd_mmu_mode mode;
	struct wd_share_req share;
	struct wd_region_create region;
	struct wd_migrate migrate;
};

/*
 * The call proper, on the kernel copy of the argument, in the device's
 * read section. *@report says whether the argument goes back to user space.
 */
static long wd_ioctl_call(struct file *filp, unsigned int cmd,
			  union wd_ioctl_arg *a, struct file **region,
			  bool *report)
{
	struct wd_context *ctx = filp->private_data;
	long ret;

	switch (cmd) {
	case WD_IOC_INFO:
		ret = wd_ioctl_info(ctx, &a->info);
		break;
	case WD_IOC_QUEUE_GET:
		ret = wd_queue_get(ctx, &a->queue, filp->f_flags & O_NONBLOCK);
		break;
	case WD_IOC_QUEUE_PUT:
		ret = wd_queue_put(ctx);	/* _IO: the argument is unused */
		break;
	case WD_IOC_KICK:
		ret = wd_queue_kick(ctx);
		break;
	case WD_IOC_MMU_MODE:
		ret = wd_ioctl_mmu_mode(ctx, &a->mode);
		break;
	case WD_IOC_REGION_CREATE:
		ret = wd_region_create(ctx, &a->region, region);
		break;
	default:	/* WD_IOC_MIGRATE */
		return wd_ioctl_migrate(ctx, &a->migrate, report);
	}
	*report = !ret && (_IOC_DIR(cmd) & _IOC_READ);
	return ret;
}

/*
 * User memory is touched only outside the device's read section: the
 * argument is copied in before it and the result out after it, so that a
 * caller whose argument never faults in (userfaultfd, FUSE) holds up
 * neither unregistration nor anyone else.
 */
static long wd_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct wd_context *ctx = filp->private_data;
	struct wd_device *wdev = ctx->wdev;
	void __user *uarg = (void __user *)arg;
	struct file *region = NULL;
	union wd_ioctl_arg a;
	bool report = false;
	long ret;
	int idx;

	if (current->mm != ctx->mm)
		return -EPERM;

	switch (cmd) {
	case WD_IOC_INFO:
	case WD_IOC_QUEUE_GET:
	case WD_IOC_QUEUE_PUT:
	case WD_IOC_KICK:
	case WD_IOC_MMU_MODE:
	case WD_IOC_SHARE:
	case WD_IOC_UNSHARE:
	case WD_IOC_REGION_CREATE:
	case WD_IOC_MIGRATE:
		break;
	default:
		return -ENOTTY;
	}
	/* The command's size field is the exact size of its struct. */
	BUILD_BUG_ON(sizeof(a) > _IOC_SIZEMASK);
	if (_IOC_DIR(cmd) & _IOC_WRITE) {
		if (copy_from_user(&a, uarg, _IOC_SIZE(cmd)))
			return -EFAULT;
	}

	if (cmd == WD_IOC_SHARE || cmd == WD_IOC_UNSHARE) {
		/*
		 * Pinning and unpinning the caller's own pages in its context
		 * does not reach the device; pinning may wait on the caller's
		 * memory, so it runs outside the section.
		 */
		if (!READ_ONCE(wdev->registered))
			return -ENODEV;
		if (cmd == WD_IOC_UNSHARE)
			return wd_mmu_unshare(&ctx->mmu, &a.share);
		ret = wd_mmu_share(&ctx->mmu, &a.share);
		if (!ret && !READ_ONCE(wdev->registered)) {
			/* Removed while pinning: no share on a dead device. */
			wd_mmu_unshare(&ctx->mmu, &a.share);
			ret = -ENODEV;
		}
		return ret;
	}

	ret = wd_device_enter(wdev, &idx);
	if (ret)
		return ret;
	ret = wd_ioctl_call(filp, cmd, &a, &region, &report);
	wd_device_leave(wdev, idx);

	if (report && copy_to_user(uarg, &a, _IOC_SIZE(cmd))) {
		if (cmd == WD_IOC_QUEUE_GET) {
			/* Nobody learnt where the rings are: give it back. */
			idx = srcu_read_lock(&wdev->srcu);
			wd_queue_put(ctx);
			srcu_read_unlock(&wdev->srcu, idx);
		}
		ret = -EFAULT;
	}
	if (region) {
		/* The fd is installed only once the caller has its number. */
		if (ret) {
			put_unused_fd(a.region.fd);
			fput(region);	/* its release frees the region */
		} else {
			fd_install(a.region.fd, region);
		}
	}
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
};
