// SPDX-License-Identifier: GPL-2.0
/*
 * WarpDrive framework: test_hmm compatible nodes (/dev/hmm_dmirrorN).
 *
 * The kernel's test_hmm module is the reference HMM "device" its selftest
 * drives. These nodes implement the same ABI (soft/hmm_compat.h)
 * with WarpDrive's own machinery, so that the unmodified selftest checks
 * it: every open file is a context of the device with its SVA mirror
 * (wd_mmu.c), READ and WRITE are device accesses through that mirror
 * (faulting the rest of the range in at the first miss, as one device
 * fault), the migrations are wd_migrate.c's, SNAPSHOT reads the CPU page
 * table through hmm_range_fault() without faulting, and EXCLUSIVE takes
 * pages for atomic device access with make_device_exclusive_range().
 */
#include <linux/hmm.h>
#include <linux/memremap.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/rmap.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "soft/hmm_compat.h"

#include "wd_internal.h"

#define WD_COMPAT_NODES		4
/* Pages copied per round of READ/WRITE (user pages pinned at a time). */
#define WD_COMPAT_CHUNK		256
/* Largest mapping of the node itself (pages). */
#define WD_COMPAT_MMAP_MAX	4096

/**
 * struct wd_hmm_compat - one /dev/hmm_dmirrorN
 * @misc: the character device.
 * @wdev: the device behind it.
 * @index: N.
 * @name: "hmm_dmirrorN".
 */
struct wd_hmm_compat {
	struct miscdevice misc;
	struct wd_device *wdev;
	unsigned int index;
	char name[16];
};

/* Protects wd_compat_used. */
static DEFINE_MUTEX(wd_compat_lock);
static unsigned long wd_compat_used;

static int wd_compat_open(struct inode *inode, struct file *filp)
{
	/* misc_open() set private_data and holds misc_mtx, so @c is live. */
	struct wd_hmm_compat *c = container_of(filp->private_data,
					       struct wd_hmm_compat, misc);

	return wd_context_open(c->wdev, filp);
}

static int wd_compat_release(struct inode *inode, struct file *filp)
{
	return wd_context_release(filp);
}

/*
 * Copy pages between the pinned user buffer @upages (data of page @j of
 * the range at byte @off + j * PAGE_SIZE of it) and [@addr, @end) through
 * the device page table, from page @j on, stopping at the first page the
 * table does not map (for writing, if @write). Returns the pages copied.
 */
static unsigned long wd_compat_copy(struct wd_mmu *mmu, u64 addr, u64 end,
				    struct page **upages, unsigned long off,
				    unsigned long j, bool write)
{
	unsigned long n = 0;

	addr += j << PAGE_SHIFT;
	/* Holding ->lock keeps invalidations, hence the pages, away. */
	mutex_lock(&mmu->lock);
	for (; addr < end; addr += PAGE_SIZE, j++, n++) {
		void *entry = xa_load(&mmu->pt, addr >> PAGE_SHIFT);
		unsigned long ub = off + (j << PAGE_SHIFT);
		unsigned long uo = offset_in_page(ub), first = PAGE_SIZE - uo;
		char *kaddr, *u0, *u1;

		if (!entry || (write && !(wd_pt_flags(entry) & WD_PT_WRITE)))
			break;
		kaddr = wd_mmu_pfn_kaddr(mmu, wd_pt_pfn(entry), true);
		if (!kaddr)
			break;
		/* The user's copy of the page may straddle two of its pages. */
		u0 = page_address(upages[ub >> PAGE_SHIFT]) + uo;
		u1 = uo ? page_address(upages[(ub >> PAGE_SHIFT) + 1]) : NULL;
		if (write) {
			wd_copy_mem(kaddr, u0, first);
			if (u1)
				wd_copy_mem(kaddr + first, u1, uo);
		} else {
			wd_copy_mem(u0, kaddr, first);
			if (u1)
				wd_copy_mem(u1, kaddr + first, uo);
		}
	}
	mutex_unlock(&mmu->lock);
	return n;
}

/*
 * READ/WRITE: the device reads or writes [addr, addr + npages) through its
 * mirror, and writes or reads the user buffer at ptr, which it pins (as a
 * device would for DMA). At a miss it faults the whole rest of the range
 * in (one fault). With @fault false (after a migration), a miss is -ENOENT.
 * The pinning may wait on the caller's memory: it happens outside the
 * device's read section, which each chunk's copy enters.
 */
static int wd_compat_rw(struct wd_context *ctx, struct wd_hmm_cmd *cmd,
			bool write, bool fault)
{
	struct wd_mmu *mmu = &ctx->mmu;
	u64 addr = cmd->addr, end = cmd->addr + (cmd->npages << PAGE_SHIFT);
	u64 uptr = cmd->ptr;
	unsigned long chunk = min_t(u64, cmd->npages, WD_COMPAT_CHUNK);
	struct page **upages;
	int ret = 0, idx;

	if (uptr + (cmd->npages << PAGE_SHIFT) < uptr)
		return -EFAULT;
	upages = kvmalloc_array(chunk + 1, sizeof(*upages), GFP_KERNEL);
	if (!upages)
		return -ENOMEM;
	while (addr < end) {
		u64 cend = min_t(u64, end, addr + (chunk << PAGE_SHIFT));
		size_t len = cend - addr;
		unsigned long nr = ((uptr + len - 1) >> PAGE_SHIFT) -
				   (uptr >> PAGE_SHIFT) + 1;
		unsigned long done = 0;
		long got;

		got = pin_user_pages_fast(uptr & PAGE_MASK, nr,
					  write ? 0 : FOLL_WRITE, upages);
		if (got != nr) {
			if (got > 0)
				unpin_user_pages(upages, got);
			ret = got < 0 ? got : -EFAULT;
			break;
		}
		ret = wd_device_enter(ctx->wdev, &idx);
		if (ret) {
			unpin_user_pages(upages, nr);
			break;
		}
		for (;;) {
			done += wd_compat_copy(mmu, addr, cend, upages,
					       offset_in_page(uptr), done, write);
			if (addr + (done << PAGE_SHIFT) == cend)
				break;
			if (!fault) {
				ret = -ENOENT;
				break;
			}
			ret = wd_mmu_fault_range(mmu, addr + (done << PAGE_SHIFT),
						 end, write);
			if (ret)
				break;
			cmd->faults++;
		}
		wd_device_leave(ctx->wdev, idx);
		unpin_user_pages_dirty_lock(upages, nr, !write);
		if (ret)
			break;
		cmd->cpages += len >> PAGE_SHIFT;
		addr = cend;
		uptr += len;
	}
	kvfree(upages);
	return ret;
}

/* Enter the device's pages of the range in the mirror (after migrating). */
static int wd_compat_map_local(struct wd_mmu *mmu, u64 start, u64 end)
{
	unsigned long pfns[WD_FAULT_MAX];
	u64 addr, next;
	int ret;

	for (addr = start; addr < end; addr = next) {
		next = min_t(u64, end, addr + (WD_FAULT_MAX << PAGE_SHIFT));
		ret = wd_mmu_snapshot(mmu, addr, next, pfns, true);
		if (ret < 0)
			return ret;
		cond_resched();
	}
	return 0;
}

static int wd_compat_migrate(struct wd_context *ctx, struct wd_hmm_cmd *cmd,
			     bool to_dev)
{
	u64 end = cmd->addr + (cmd->npages << PAGE_SHIFT), moved;
	int ret, idx;

	ret = wd_device_enter(ctx->wdev, &idx);
	if (ret)
		return ret;
	ret = wd_devpriv_migrate(ctx->wdev, ctx->mm, cmd->addr, end, to_dev,
				 true, &moved);
	if (!ret && to_dev)
		ret = wd_compat_map_local(&ctx->mmu, cmd->addr, end);
	wd_device_leave(ctx->wdev, idx);
	if (ret)
		return ret;
	if (!to_dev) {
		cmd->cpages = moved;
		return 0;
	}
	/* As test_hmm: hand back what the device now holds, without faults. */
	return wd_compat_rw(ctx, cmd, false, false);
}

static u8 wd_compat_prot(struct wd_device *wdev, unsigned long hmm_pfn)
{
	unsigned int order;
	struct page *page;
	u8 prot;

	if (hmm_pfn & HMM_PFN_ERROR)
		return WD_HMM_PROT_ERROR;
	if (!(hmm_pfn & HMM_PFN_VALID))
		return WD_HMM_PROT_NONE;
	page = hmm_pfn_to_page(hmm_pfn);
	if (is_device_private_page(page))
		prot = page->pgmap->owner == wdev ?
		       WD_HMM_PROT_DEV_PRIVATE_LOCAL :
		       WD_HMM_PROT_DEV_PRIVATE_REMOTE;
	else if (is_zero_pfn(page_to_pfn(page)))
		prot = WD_HMM_PROT_ZERO;
	else
		prot = WD_HMM_PROT_NONE;
	prot |= (hmm_pfn & HMM_PFN_WRITE) ? WD_HMM_PROT_WRITE :
					    WD_HMM_PROT_READ;
	order = hmm_pfn_to_map_order(hmm_pfn);
	if (order + PAGE_SHIFT == PMD_SHIFT)
		prot |= WD_HMM_PROT_PMD;
	else if (order + PAGE_SHIFT == PUD_SHIFT)
		prot |= WD_HMM_PROT_PUD;
	return prot;
}

static int wd_compat_snapshot(struct wd_context *ctx, struct wd_hmm_cmd *cmd)
{
	u64 end = cmd->addr + (cmd->npages << PAGE_SHIFT), addr, next;
	char __user *uptr = u64_to_user_ptr(cmd->ptr);
	unsigned long pfns[WD_FAULT_MAX];
	u8 perm[WD_FAULT_MAX];
	unsigned long i, n;
	int ret, idx;

	for (addr = cmd->addr; addr < end; addr = next) {
		next = min_t(u64, end, addr + (WD_FAULT_MAX << PAGE_SHIFT));
		n = (next - addr) >> PAGE_SHIFT;
		ret = wd_device_enter(ctx->wdev, &idx);
		if (ret)
			return ret;
		ret = wd_mmu_snapshot(&ctx->mmu, addr, next, pfns, false);
		wd_device_leave(ctx->wdev, idx);
		if (ret < 0)
			return ret;
		for (i = 0; i < n; i++)
			perm[i] = wd_compat_prot(ctx->wdev, pfns[i]);
		/* Outside the section: the buffer may never fault in. */
		if (copy_to_user(uptr, perm, n))
			return -EFAULT;
		uptr += n;
		cmd->cpages += n;
	}
	return 0;
}

/*
 * EXCLUSIVE: take the pages for exclusive (atomic) device access; the CPU
 * page table holds device-exclusive entries until the CPU touches them.
 */
static int wd_compat_exclusive(struct wd_context *ctx, struct wd_hmm_cmd *cmd)
{
	struct wd_mmu *mmu = &ctx->mmu;
	struct mm_struct *mm = ctx->mm;
	u64 end = cmd->addr + (cmd->npages << PAGE_SHIFT), addr, next;
	struct page *pages[WD_FAULT_MAX];
	struct wd_mmu_window win;
	unsigned long seq, i, n;
	int ret, got, idx;

	ret = wd_device_enter(ctx->wdev, &idx);
	if (ret)
		return ret;
	for (addr = cmd->addr; addr < end && !ret; addr = next) {
		next = min_t(u64, end, addr + (WD_FAULT_MAX << PAGE_SHIFT));
		n = (next - addr) >> PAGE_SHIFT;

		/*
		 * The window ignores our own exclusive conversions (they do
		 * not change the pages), so any other invalidation of the
		 * range before the entries are in shows up as a retry.
		 */
		ret = wd_mmu_window_begin(mmu, &win, addr, next);
		if (ret)
			break;
		seq = mmu_interval_read_begin(&win.mni);
		mmap_read_lock(mm);
		got = make_device_exclusive_range(mm, addr, next, pages, mmu);
		mmap_read_unlock(mm);
		if (got < 0) {
			wd_mmu_window_end(&win);
			ret = got;
			break;
		}

		mutex_lock(&mmu->lock);
		if (got != n || mmu_interval_read_retry(&win.mni, seq))
			ret = -EBUSY;
		for (i = 0; i < n && !ret; i++) {
			if (!pages[i]) {
				ret = -EBUSY;
				break;
			}
			ret = xa_err(xa_store(&mmu->pt, (addr >> PAGE_SHIFT) + i,
					      wd_pt_entry(page_to_pfn(pages[i]),
							  WD_PT_WRITE |
							  WD_PT_ATOMIC),
					      GFP_NOWAIT | __GFP_NOWARN));
		}
		mutex_unlock(&mmu->lock);
		for (i = 0; i < got; i++) {
			if (pages[i]) {
				unlock_page(pages[i]);
				put_page(pages[i]);
			}
		}
		wd_mmu_window_end(&win);
	}
	wd_device_leave(ctx->wdev, idx);
	if (ret)
		return ret;
	/* Hand back what the device sees, as test_hmm does. */
	return wd_compat_rw(ctx, cmd, false, false);
}

static int wd_compat_check_exclusive(struct wd_context *ctx,
				     struct wd_hmm_cmd *cmd)
{
	struct wd_mmu *mmu = &ctx->mmu;
	unsigned long first = cmd->addr >> PAGE_SHIFT;
	unsigned long last = first + cmd->npages - 1, idx;
	void *entry;
	int ret = 0;

	mutex_lock(&mmu->lock);
	xa_for_each_range(&mmu->pt, idx, entry, first, last) {
		if (wd_pt_flags(entry) & WD_PT_ATOMIC) {
			ret = -EPERM;
			break;
		}
	}
	mutex_unlock(&mmu->lock);
	return ret;
}

static long wd_compat_ioctl(struct file *filp, unsigned int cmd,
			    unsigned long arg)
{
	struct wd_context *ctx = filp->private_data;
	struct wd_device *wdev = ctx->wdev;
	void __user *uarg = (void __user *)arg;
	struct wd_hmm_cmd c;
	long ret;
	int idx;

	if (current->mm != ctx->mm)
		return -EPERM;
	switch (cmd) {
	case WD_HMM_READ:
	case WD_HMM_WRITE:
	case WD_HMM_MIGRATE_TO_DEV:
	case WD_HMM_MIGRATE_TO_SYS:
	case WD_HMM_SNAPSHOT:
	case WD_HMM_EXCLUSIVE:
	case WD_HMM_CHECK_EXCLUSIVE:
	case WD_HMM_RELEASE:
		break;
	default:
		return -ENOTTY;
	}
	/* Only the kernel copy is used in the device's read sections. */
	if (copy_from_user(&c, uarg, sizeof(c)))
		return -EFAULT;
	if (!PAGE_ALIGNED(c.addr) || !c.npages ||
	    c.npages > (TASK_SIZE >> PAGE_SHIFT) ||
	    c.addr + (c.npages << PAGE_SHIFT) > TASK_SIZE)
		return -EINVAL;
	c.cpages = 0;
	c.faults = 0;

	/*
	 * Each call enters the section for its device work only, and leaves
	 * it around what touches the caller's buffers (pinning, copies).
	 */
	switch (cmd) {
	case WD_HMM_READ:
		ret = wd_compat_rw(ctx, &c, false, true);
		break;
	case WD_HMM_WRITE:
		ret = wd_compat_rw(ctx, &c, true, true);
		break;
	case WD_HMM_MIGRATE_TO_DEV:
		ret = wd_compat_migrate(ctx, &c, true);
		break;
	case WD_HMM_MIGRATE_TO_SYS:
		ret = wd_compat_migrate(ctx, &c, false);
		break;
	case WD_HMM_SNAPSHOT:
		ret = wd_compat_snapshot(ctx, &c);
		break;
	case WD_HMM_EXCLUSIVE:
		ret = wd_compat_exclusive(ctx, &c);
		break;
	default:	/* CHECK_EXCLUSIVE; RELEASE gives the device memory back */
		ret = wd_device_enter(wdev, &idx);
		if (ret)
			break;
		if (cmd == WD_HMM_CHECK_EXCLUSIVE)
			ret = wd_compat_check_exclusive(ctx, &c);
		else
			wd_devpriv_evict_all(wdev, false);
		wd_device_leave(wdev, idx);
		break;
	}
	if (!ret && copy_to_user(uarg, &c, sizeof(c)))
		ret = -EFAULT;
	return ret;
}

/* test_hmm's node can be mapped: zeroed pages, for snapshots of them. */
static int wd_compat_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct wd_context *ctx = filp->private_data;
	unsigned long addr;
	int ret;

	if (current->mm != ctx->mm)
		return -EPERM;
	if (vma_pages(vma) > WD_COMPAT_MMAP_MAX)
		return -EINVAL;
	for (addr = vma->vm_start; addr < vma->vm_end; addr += PAGE_SIZE) {
		struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);

		if (!page)
			return -ENOMEM;
		ret = vm_insert_page(vma, addr, page);
		put_page(page);		/* the mapping holds it now */
		if (ret)
			return ret;
	}
	return 0;
}

static const struct file_operations wd_compat_fops = {
	.owner = THIS_MODULE,
	.open = wd_compat_open,
	.release = wd_compat_release,
	.unlocked_ioctl = wd_compat_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = wd_compat_mmap,
	.llseek = noop_llseek,
};

int wd_hmm_compat_add(struct wd_device *wdev, unsigned int index)
{
	struct wd_hmm_compat *c;
	int ret;

	if (!wdev->devpriv || index >= WD_COMPAT_NODES)
		return -EINVAL;
	if (wdev->hmm_compat)
		return -EEXIST;
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	c->wdev = wdev;
	c->index = index;
	snprintf(c->name, sizeof(c->name), "hmm_dmirror%u", index);
	c->misc.minor = MISC_DYNAMIC_MINOR;
	c->misc.name = c->name;
	c->misc.fops = &wd_compat_fops;
	c->misc.parent = &wdev->dev;

	mutex_lock(&wd_compat_lock);
	if (wd_compat_used & BIT(index)) {
		ret = -EBUSY;
		goto err_unlock;
	}
	ret = misc_register(&c->misc);
	if (ret)
		goto err_unlock;
	wd_compat_used |= BIT(index);
	wdev->hmm_compat = c;
	mutex_unlock(&wd_compat_lock);
	return 0;

err_unlock:
	mutex_unlock(&wd_compat_lock);
	kfree(c);
	return ret;
}
EXPORT_SYMBOL_GPL(wd_hmm_compat_add);

void wd_hmm_compat_remove(struct wd_device *wdev)
{
	struct wd_hmm_compat *c = wdev->hmm_compat;

	if (!c)
		return;
	/* No open can start after this; open files are contexts. */
	misc_deregister(&c->misc);
	mutex_lock(&wd_compat_lock);
	wd_compat_used &= ~BIT(c->index);
	wdev->hmm_compat = NULL;
	mutex_unlock(&wd_compat_lock);
	kfree(c);
}
