// SPDX-License-Identifier: GPL-2.0
/*
 * WarpDrive framework: device registration and sysfs attributes.
 */
#include <linux/debugfs.h>
#include <linux/idr.h>
#include <linux/seq_file.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "wd_internal.h"

static DEFINE_IDA(wd_ida);

static const char * const wd_alg_names[] = {
	"copy", "fill", "crc32c", "deflate", "inflate",
	"aes-ecb", "aes-cbc", "aes-ctr", "aes-xts",
};

static struct wd_device *to_wd_device(struct device *dev)
{
	return container_of(dev, struct wd_device, dev);
}

static ssize_t api_show(struct device *dev, struct device_attribute *attr,
			char *buf)
{
	return sysfs_emit(buf, "%s\n", to_wd_device(dev)->api);
}
static DEVICE_ATTR_RO(api);

static ssize_t api_version_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", WD_API_VERSION);
}
static DEVICE_ATTR_RO(api_version);

static ssize_t flags_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%#x\n", to_wd_device(dev)->flags);
}
static DEVICE_ATTR_RO(flags);

static ssize_t algorithms_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	u32 algs = to_wd_device(dev)->algorithms;
	int len = 0;
	int i;

	for (i = 0; i < ARRAY_SIZE(wd_alg_names); i++)
		if (algs & BIT(i))
			len += sysfs_emit_at(buf, len, "%s%s", len ? " " : "",
					     wd_alg_names[i]);
	len += sysfs_emit_at(buf, len, "\n");
	return len;
}
static DEVICE_ATTR_RO(algorithms);

static ssize_t queues_total_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", to_wd_device(dev)->queues_total);
}
static DEVICE_ATTR_RO(queues_total);

static ssize_t queues_free_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", wd_queues_free(to_wd_device(dev)));
}
static DEVICE_ATTR_RO(queues_free);

static ssize_t max_cmd_len_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", to_wd_device(dev)->max_cmd_len);
}
static DEVICE_ATTR_RO(max_cmd_len);

static ssize_t devmem_size_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", to_wd_device(dev)->devmem_size);
}
static DEVICE_ATTR_RO(devmem_size);

static ssize_t devmem_free_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct wd_pool *pool = to_wd_device(dev)->pool;
	unsigned long nr_free = 0, nr_held;

	if (pool)
		wd_pool_usage(pool, &nr_free, &nr_held);
	return sysfs_emit(buf, "%llu\n", (u64)nr_free << PAGE_SHIFT);
}
static DEVICE_ATTR_RO(devmem_free);

static ssize_t devmem_used_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct wd_pool *pool = to_wd_device(dev)->pool;
	unsigned long nr_free = 0, nr_held;

	if (!pool)
		return sysfs_emit(buf, "0\n");
	wd_pool_usage(pool, &nr_free, &nr_held);
	return sysfs_emit(buf, "%llu\n",
			  (u64)(pool->nr_pages - nr_free) << PAGE_SHIFT);
}
static DEVICE_ATTR_RO(devmem_used);

static const char *const wd_devmem_mode_names[] = {
	[WD_DEVMEM_RAM] = "ram",
	[WD_DEVMEM_PAGES] = "pages",
	[WD_DEVMEM_PFNMAP] = "pfnmap",
};

/* Where the device memory is and how it is mapped; "none" without any. */
static ssize_t devmem_mode_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct wd_device *wdev = to_wd_device(dev);

	if (!wdev->devmem_size)
		return sysfs_emit(buf, "none\n");
	return sysfs_emit(buf, "%s%s\n", wd_devmem_mode_names[wdev->devmem.mode],
			  wdev->devmem.flags & WD_DEVMEM_F_WC ? " wc" : "");
}
static DEVICE_ATTR_RO(devmem_mode);

static ssize_t devmem_user_quota_show(struct device *dev,
				      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n",
			  READ_ONCE(to_wd_device(dev)->devmem_user_quota));
}

/*
 * Bytes per user (whole pages count), 0 for no limit; applies to later
 * allocations.
 */
static ssize_t devmem_user_quota_store(struct device *dev,
				       struct device_attribute *attr,
				       const char *buf, size_t len)
{
	u64 val;
	int ret;

	ret = kstrtou64(buf, 0, &val);
	if (ret)
		return ret;
	WRITE_ONCE(to_wd_device(dev)->devmem_user_quota, val);
	return len;
}
static DEVICE_ATTR_RW(devmem_user_quota);
static ssize_t devpriv_size_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n",
			  (u64)wd_devpriv_pages(to_wd_device(dev)) << PAGE_SHIFT);
}
static DEVICE_ATTR_RO(devpriv_size);

static struct attribute *wd_device_attrs[] = {
	&dev_attr_api.attr,
	&dev_attr_api_version.attr,
	&dev_attr_flags.attr,
	&dev_attr_algorithms.attr,
	&dev_attr_queues_total.attr,
	&dev_attr_queues_free.attr,
	&dev_attr_max_cmd_len.attr,
	&dev_attr_devmem_size.attr,
	&dev_attr_devmem_free.attr,
	&dev_attr_devmem_used.attr,
	&dev_attr_devmem_user_quota.attr,
	&dev_attr_devmem_mode.attr,
	&dev_attr_devpriv_size.attr,
	NULL,
};

static const struct attribute_group wd_device_group = {
	.attrs = wd_device_attrs,
};

#define WD_STAT_ATTR(name, field)					\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%lld\n",				\
		atomic64_read(&to_wd_device(dev)->stats.field));	\
}									\
static DEVICE_ATTR_RO(name)

WD_STAT_ATTR(commands_completed, completed);
WD_STAT_ATTR(commands_failed, failed);
WD_STAT_ATTR(bytes_read, bytes_read);
WD_STAT_ATTR(bytes_written, bytes_written);
WD_STAT_ATTR(kicks, kicks);
WD_STAT_ATTR(device_faults, faults);
WD_STAT_ATTR(pages_faulted, pages_faulted);
WD_STAT_ATTR(invalidations, invalidations);
WD_STAT_ATTR(pinned_pages, pinned_pages);
WD_STAT_ATTR(devmem_faults, devmem_faults);
WD_STAT_ATTR(devmem_pages_mapped, devmem_pages_mapped);

/* Pages given back to the pool but still referenced elsewhere (pinned). */
static ssize_t devmem_held_pages_show(struct device *dev,
				      struct device_attribute *attr, char *buf)
{
	struct wd_pool *pool = to_wd_device(dev)->pool;
	unsigned long nr_free, nr_held = 0;

	if (pool)
		wd_pool_usage(pool, &nr_free, &nr_held);
	return sysfs_emit(buf, "%lu\n", nr_held);
}
static DEVICE_ATTR_RO(devmem_held_pages);
WD_STAT_ATTR(migrated_to_device, migrated_to_device);
WD_STAT_ATTR(migrated_to_system, migrated_to_system);
WD_STAT_ATTR(cpu_faults, cpu_faults);
WD_STAT_ATTR(evicted_pages, evicted_pages);
WD_STAT_ATTR(dma_mapped, dma_mapped);
WD_STAT_ATTR(engine_wakeups, engine_wakeups);
WD_STAT_ATTR(notifier_calls, notifier_calls);

static ssize_t devpriv_pages_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", wd_devpriv_used(to_wd_device(dev)));
}
static DEVICE_ATTR_RO(devpriv_pages);

static struct attribute *wd_stats_attrs[] = {
	&dev_attr_commands_completed.attr,
	&dev_attr_commands_failed.attr,
	&dev_attr_bytes_read.attr,
	&dev_attr_bytes_written.attr,
	&dev_attr_kicks.attr,
	&dev_attr_device_faults.attr,
	&dev_attr_pages_faulted.attr,
	&dev_attr_invalidations.attr,
	&dev_attr_pinned_pages.attr,
	&dev_attr_devmem_faults.attr,
	&dev_attr_devmem_pages_mapped.attr,
	&dev_attr_devmem_held_pages.attr,
	&dev_attr_devpriv_pages.attr,
	&dev_attr_migrated_to_device.attr,
	&dev_attr_migrated_to_system.attr,
	&dev_attr_cpu_faults.attr,
	&dev_attr_evicted_pages.attr,
	&dev_attr_dma_mapped.attr,
	&dev_attr_engine_wakeups.attr,
	&dev_attr_notifier_calls.attr,
	NULL,
};

static const struct attribute_group wd_stats_group = {
	.name = "stats",
	.attrs = wd_stats_attrs,
};

const struct attribute_group *wd_device_groups[] = {
	&wd_device_group,
	&wd_stats_group,
	NULL,
};

static const char *const wd_mode_names[] = {
	[WD_MMU_SVA] = "sva",
	[WD_MMU_PINNED] = "pinned",
};

/* debugfs <dev>/contexts: one line of device MMU figures per open file. */
static int wd_contexts_show(struct seq_file *m, void *unused)
{
	struct wd_device *wdev = m->private;
	struct wd_context *ctx;

	seq_puts(m, "owner_pid mode   queue faults pages_faulted invalidations pinned_pages fault_retries dma_mapped blocks\n");
	mutex_lock(&wdev->ctx_lock);
	list_for_each_entry(ctx, &wdev->contexts, node) {
		struct wd_mmu *mmu = &ctx->mmu;
		int hw_id = -1;

		spin_lock(&ctx->hwq_lock);
		if (ctx->hwq)
			hw_id = ctx->hwq->q.hw_id;
		spin_unlock(&ctx->hwq_lock);
		/* @nr_blocks without its lock: a figure, not a decision. */
		seq_printf(m, "%9d %-6s %5d %6lld %13lld %13lld %12lld %13lld %10lld %6lu\n",
			   pid_nr(ctx->pid), wd_mode_names[mmu->mode], hw_id,
			   atomic64_read(&mmu->faults),
			   atomic64_read(&mmu->pages_faulted),
			   atomic64_read(&mmu->invalidations),
			   atomic64_read(&mmu->pinned_pages),
			   atomic64_read(&mmu->fault_retries),
			   atomic64_read(&mmu->dma_mapped),
			   READ_ONCE(mmu->nr_blocks));
	}
	mutex_unlock(&wdev->ctx_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(wd_contexts);

static void wd_device_release(struct device *dev)
{
	struct wd_device *wdev = to_wd_device(dev);

	ida_free(&wd_ida, wdev->id);
	cleanup_srcu_struct(&wdev->srcu);
	bitmap_free(wdev->qmap);
	wd_pool_destroy(wdev->pool);
	/* Every charge went with the last region or context. */
	xa_destroy(&wdev->charges);
	kfree(wdev);
}

struct wd_device *wd_device_alloc(struct device *parent, const char *prefix,
				  const struct wd_device_ops *ops, void *priv)
{
	struct wd_device *wdev;
	int ret;

	/* Queue operations are checked at register: a device may have none. */
	if (!prefix || !ops || !ops->owner)
		return ERR_PTR(-EINVAL);

	wdev = kzalloc(sizeof(*wdev), GFP_KERNEL);
	if (!wdev)
		return ERR_PTR(-ENOMEM);

	ret = init_srcu_struct(&wdev->srcu);
	if (ret) {
		kfree(wdev);
		return ERR_PTR(ret);
	}
	ret = ida_alloc_max(&wd_ida, WD_MAX_DEVICES - 1, GFP_KERNEL);
	if (ret < 0) {
		cleanup_srcu_struct(&wdev->srcu);
		kfree(wdev);
		return ERR_PTR(ret);
	}
	wdev->id = ret;
	wdev->ops = ops;
	wdev->priv = priv;
	wdev->api = "";
	mutex_init(&wdev->ctx_lock);
	INIT_LIST_HEAD(&wdev->contexts);
	spin_lock_init(&wdev->q_lock);
	INIT_LIST_HEAD(&wdev->waiters);
	mutex_init(&wdev->region_lock);
	INIT_LIST_HEAD(&wdev->regions);
	mutex_init(&wdev->charge_lock);
	xa_init(&wdev->charges);

	device_initialize(&wdev->dev);
	wdev->dev.class = wd_class;
	wdev->dev.parent = parent;
	wdev->dev.devt = MKDEV(MAJOR(wd_devt), wdev->id);
	wdev->dev.release = wd_device_release;
	cdev_init(&wdev->cdev, &wd_fops);
	wdev->cdev.owner = THIS_MODULE;

	ret = dev_set_name(&wdev->dev, "%s%d", prefix, wdev->id);
	if (ret) {
		put_device(&wdev->dev);
		return ERR_PTR(ret);
	}
	return wdev;
}
EXPORT_SYMBOL_GPL(wd_device_alloc);

int wd_device_set_devmem(struct wd_device *wdev,
			 const struct wd_devmem_provider *prov)
{
	u64 align = PAGE_SIZE;

	if (!prov || prov->flags & ~WD_DEVMEM_F_WC)
		return -EINVAL;
	switch (prov->mode) {
	case WD_DEVMEM_RAM:
		if (prov->phys || prov->flags)
			return -EINVAL;
		break;
	case WD_DEVMEM_PAGES:
		if (!IS_ENABLED(CONFIG_ZONE_DEVICE))
			return -EOPNOTSUPP;
		/* memremap_pages() works on memory subsections. */
		align = SZ_2M;
		if (prov->flags)
			return -EINVAL;
		break;
	case WD_DEVMEM_PFNMAP:
		break;
	default:
		return -EINVAL;
	}
	if (!prov->size || !IS_ALIGNED(prov->size, align) ||
	    !IS_ALIGNED(prov->phys, align) ||
	    prov->phys + prov->size - 1 < prov->phys)
		return -EINVAL;
	wdev->devmem = *prov;
	wdev->devmem_size = prov->size;
	return 0;
}
EXPORT_SYMBOL_GPL(wd_device_set_devmem);

int wd_device_register(struct wd_device *wdev)
{
	const struct wd_device_ops *ops = wdev->ops;
	int ret;

	/* A device with queues needs their operations; one without, memory. */
	if (wdev->queues_total &&
	    (!wdev->max_cmd_len || !ops->queue_start || !ops->queue_stop ||
	     !ops->kick))
		return -EINVAL;
	if (!wdev->queues_total && !wdev->devmem_size)
		return -EINVAL;
	wdev->qmap = bitmap_zalloc(wdev->queues_total, GFP_KERNEL);
	if (!wdev->qmap)
		return -ENOMEM;
	/* On failure the pool goes with the device (wd_device_release()). */
	ret = wd_pool_create(wdev);
	if (ret)
		return ret;
	ret = wd_devpriv_setup(wdev);
	if (ret)
		return ret;

	WRITE_ONCE(wdev->registered, true);

	ret = cdev_device_add(&wdev->cdev, &wdev->dev);
	if (ret) {
		/* An open that raced in is still on its way out. */
		WRITE_ONCE(wdev->registered, false);
		synchronize_srcu(&wdev->srcu);
		wd_devpriv_teardown(wdev);
		return ret;
	}
	wdev->debugfs = debugfs_create_dir(dev_name(&wdev->dev), wd_debugfs);
	debugfs_create_file("contexts", 0400, wdev->debugfs, wdev,
			    &wd_contexts_fops);
	wd_devpriv_debugfs(wdev);
	return 0;
}
EXPORT_SYMBOL_GPL(wd_device_register);

void wd_device_unregister(struct wd_device *wdev)
{
	struct wd_context *ctx;

	debugfs_remove(wdev->debugfs);
	wd_hmm_compat_remove(wdev);
	cdev_device_del(&wdev->cdev, &wdev->dev);

	/*
	 * Revoke: calls that begin from now on fail with -ENODEV, waiters for
	 * a queue are woken with it, and only the calls already inside the
	 * device are waited for. They copy nothing from or to user space
	 * there and wait on nothing that outlives removal, so a caller stuck
	 * on its own memory (an argument in a userfaultfd range that is never
	 * served) is stuck outside them and holds up neither this nor anyone.
	 */
	WRITE_ONCE(wdev->registered, false);
	wd_queue_wake_waiters(wdev);
	synchronize_srcu(&wdev->srcu);

	mutex_lock(&wdev->ctx_lock);
	list_for_each_entry(ctx, &wdev->contexts, node) {
		mutex_lock(&ctx->lock);
		wd_queue_kill(ctx);
		mutex_unlock(&ctx->lock);
		/* The driver may free its DMA device once we return. */
		wd_mmu_dma_release(&ctx->mmu);
	}
	mutex_unlock(&wdev->ctx_lock);

	/* No region can be created any more: revoke them, free the pool. */
	if (wdev->pool) {
		wd_region_revoke_all(wdev);
		wd_pool_drain(wdev->pool);
	}
	/* No migration can start now; engines are stopped. */
	wd_devpriv_teardown(wdev);
}
EXPORT_SYMBOL_GPL(wd_device_unregister);

void wd_device_put(struct wd_device *wdev)
{
	if (wdev)
		put_device(&wdev->dev);
}
EXPORT_SYMBOL_GPL(wd_device_put);
