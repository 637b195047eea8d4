/* SPDX-License-Identifier: GPL-2.0 */
/*
 * WarpDrive: the differences between the kernels the modules build for
 * (6.1 and 6.12 LTS), in one place. Code elsewhere uses the 6.12 spelling
 * or the wd_ helpers below, never a version test of its own.
 */
#ifndef _WD_COMPAT_H
#define _WD_COMPAT_H

#include <linux/version.h>
#include <linux/device.h>
#include <linux/mm.h>

/* The one version test (checkpatch notes it here, and only here). */
#define WD_KERNEL_AT_LEAST(major, minor) \
	(LINUX_VERSION_CODE >= KERNEL_VERSION(major, minor, 0))

/* 6.2: class devnode() takes a const device. */
#if WD_KERNEL_AT_LEAST(6, 2)
#define WD_DEVNODE_CONST const
#else
#define WD_DEVNODE_CONST
#endif

/* 6.3: inode operations take the mount's idmap, not its user namespace. */
#if WD_KERNEL_AT_LEAST(6, 3)
#define wd_idmap mnt_idmap
#else
#define wd_idmap user_namespace
#endif

/* 6.4: class_create() lost its owner argument. */
#if WD_KERNEL_AT_LEAST(6, 4)
#define wd_class_create(name) class_create(name)
#else
#define wd_class_create(name) class_create(THIS_MODULE, name)
#endif

/* 6.3: vm_flags is read-only; it changes through vm_flags_set/clear. */
#if !WD_KERNEL_AT_LEAST(6, 3)
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

/* 6.5: pin_user_pages() lost its vmas argument. */
#if WD_KERNEL_AT_LEAST(6, 5)
#define wd_pin_user_pages(start, nr, gup, pages) \
	pin_user_pages(start, nr, gup, pages)
#else
#define wd_pin_user_pages(start, nr, gup, pages) \
	pin_user_pages(start, nr, gup, pages, NULL)
#endif

/* 6.10: __assign_str() takes the source from __string() itself. */
#if WD_KERNEL_AT_LEAST(6, 10)
#define wd_assign_str(dst, src) __assign_str(dst)
#else
#define wd_assign_str(dst, src) __assign_str(dst, src)
#endif

/* 6.12: asm/unaligned.h moved to linux/unaligned.h. */
#if WD_KERNEL_AT_LEAST(6, 12)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/*
 * 6.11: virtio_find_vqs() takes one struct virtqueue_info per queue
 * instead of parallel arrays of callbacks and names.
 */
#include <linux/slab.h>
#include <linux/virtio_config.h>
static inline int wd_virtio_find_vqs(struct virtio_device *vdev,
				     unsigned int nvqs, struct virtqueue **vqs,
				     vq_callback_t **cbs, const char **names)
{
#if WD_KERNEL_AT_LEAST(6, 11)
	struct virtqueue_info *info;
	unsigned int i;
	int ret;

	info = kcalloc(nvqs, sizeof(*info), GFP_KERNEL);
	if (!info)
		return -ENOMEM;
	for (i = 0; i < nvqs; i++) {
		info[i].name = names[i];
		info[i].callback = cbs[i];
	}
	ret = virtio_find_vqs(vdev, nvqs, vqs, info, NULL);
	kfree(info);
	return ret;
#else
	return virtio_find_vqs(vdev, nvqs, vqs, cbs, names, NULL);
#endif
}

/*
 * 6.6: a virtqueue in premapped mode takes DMA addresses its driver mapped
 * itself, for the device virtqueue_dma_dev() names (NULL when the ring does
 * not use the DMA API), instead of mapping every buffer it is given.
 */
static inline struct device *wd_virtqueue_dma_dev(struct virtqueue *vq)
{
#if WD_KERNEL_AT_LEAST(6, 6)
	return virtqueue_dma_dev(vq);
#else
	return NULL;
#endif
}

static inline int wd_virtqueue_set_premapped(struct virtqueue *vq)
{
#if WD_KERNEL_AT_LEAST(6, 6)
	return virtqueue_set_dma_premapped(vq);
#else
	return -EOPNOTSUPP;
#endif
}

#endif /* _WD_COMPAT_H */
