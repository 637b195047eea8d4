// SPDX-License-Identifier: GPL-2.0
/*
 * WarpDrive framework: the device MMU of a context.
 *
 * Engines reach process memory only through this file. A context is in
 * one of two modes:
 *
 * SVA: the device has its own page table (an xarray from page index to
 * pfn and write permission) mirrored from the process page table on
 * demand. A miss is a device fault: the framework faults a window of pages
 * in with hmm_range_fault() under the mmu_interval_read_begin()/retry
 * protocol, on an interval notifier that covers only that window and
 * lives only while the fault runs (a "fault window"), so a change to the
 * address space elsewhere never makes a fault start again. Entries are
 * removed before the CPU mapping changes (munmap, mprotect, fork's write
 * protection, COW, migration, exit...) by one interval notifier per 2 MiB
 * block the mirror has entered pages in (inserted by the window before it
 * reads the CPU page table; blocks without entries are freed in bulk), so
 * a change where the device mirrors nothing calls nothing here; in a block
 * whose range holds no entry it returns without taking any lock. Nothing
 * is pinned. Memory that is not in the kernel direct map (memfd_secret)
 * is never entered.
 *
 * Pinned: the process shares ranges explicitly; they are pinned with
 * FOLL_LONGTERM and charged to RLIMIT_MEMLOCK before anything is
 * allocated. The engine may only touch shared ranges. Only memory whose
 * pages the process itself owns can be shared for writing (anonymous,
 * shmem, hugetlb and WarpDrive's device memory regions): not file pages
 * the file system writes back.
 *
 * Device-private memory (wd_migrate.c): hmm_range_fault() reports the
 * device's own device-private pages without migrating them; the device
 * page table keeps their pfn, and the engine works on the backing page
 * the driver gives for it. A write to a read-only one (shared with a
 * child after fork) first brings it back to system memory, where the
 * fault breaks copy-on-write as the CPU's would.
 *
 * In both modes an engine looks an address up and then uses the page
 * through the kernel direct map while it holds the context's access lock
 * for reading. Whatever takes a translation away (an invalidation, an
 * unshare) takes that lock for writing after removing the entries, so it
 * returns only once no access through the old entries is in flight: the
 * engine never touches a page the process no longer maps. The engine never
 * waits for the mmap lock while it holds the access lock: a miss drops the
 * access lock, faults, takes it again and checks that the pieces the
 * job's other cursor holds are still valid (-EAGAIN to the engine if not).
 *
 * Devices that do DMA (&wd_device.dma_dev set) get every page the engine
 * may reach DMA-mapped for them: an SVA entry is mapped when a device
 * fault enters it (DMA_BIDIRECTIONAL if writable, DMA_TO_DEVICE if not)
 * and unmapped when it is removed; a pinned share is mapped as one
 * scatterlist when it is shared and unmapped when it goes. Removal takes
 * the access lock for writing first, so a mapping goes only once no
 * engine (no DMA it started on segments it holds) uses it any more.
 *
 * Every loop that waits for the address space to hold still is bounded
 * (WD_FAULT_TRIES) and stops when the queue stops, the kthread is told to
 * stop or the caller is killed.
 */
#include <linux/dma-mapping.h>
#include <linux/hmm.h>
#include <linux/hugetlb.h>
#include <linux/interval_tree.h>
#include <linux/kthread.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/moduleparam.h>
#include <linux/sched/mm.h>
#include <linux/scatterlist.h>
#include <linux/sched/signal.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/userfaultfd_k.h>

#include "wd_internal.h"
#include "wd_trace.h"

static unsigned int fault_around = 16;
module_param(fault_around, uint, 0644);
MODULE_PARM_DESC(fault_around,
		 "pages a device fault maps ahead in SVA mode (1-64, default 16)");

#define WD_SHARE_MAX_LEN	(1ULL << 40)

/* Pages in one piece of a share's page array (one page of pointers). */
#define WD_SHARE_CHUNK		(PAGE_SIZE / sizeof(struct page *))

/*
 * Attempts one device fault (or one engine access) makes while the range
 * keeps changing under it before it gives up (WD_ST_FAULT).
 */
#define WD_FAULT_TRIES		256

/*
 * A range shared in pinned mode. Its page array is allocated a chunk at a
 * time as pages are pinned, so its size follows what is really pinned,
 * never the length user space asked for.
 */
struct wd_share {
	struct interval_tree_node it;	/* [start, last] in bytes */
	struct xarray chunks;		/* chunk index -> WD_SHARE_CHUNK pages */
	unsigned long nr_pages;		/* pinned */
	bool writable;
	/* Devices that do DMA: the pages as mapped for the device. */
	struct sg_append_table sg;
	unsigned int nr_dma;		/* mapped segments, 0 if none */
	dma_addr_t *dma;		/* DMA address of each */
	u64 *dma_end;			/* share offset where each ends */
};

/* Not in the direct map: the engines must never touch these pages. */
static bool wd_vma_is_secret(struct vm_area_struct *vma)
{
	return vma->vm_file &&
	       file_inode(vma->vm_file)->i_sb->s_magic == SECRETMEM_MAGIC;
}

/*
 * Memory the device never reaches: memfd_secret pages, and ranges
 * registered with userfaultfd, whose missing pages only their handler may
 * provide. A device fault or a long-term pin cannot wait for that handler
 * (they fault without FAULT_FLAG_ALLOW_RETRY, which userfaultfd refuses
 * with a kernel stack dump on debug kernels), so such ranges are refused
 * up front, whether or not their pages are present.
 */
static bool wd_vma_unreachable(struct vm_area_struct *vma)
{
	return wd_vma_is_secret(vma) || userfaultfd_armed(vma);
}

/*
 * Why a bounded retry loop stops: too many tries, the queue stopping,
 * the kthread asked to stop, or a fatal signal.
 */
static int wd_fault_check_stop(const bool *stop, unsigned int tries)
{
	if (tries >= WD_FAULT_TRIES)
		return -EBUSY;
	if (stop && READ_ONCE(*stop))
		return -ECANCELED;
	if (fatal_signal_pending(current))
		return -EINTR;
	if ((current->flags & PF_KTHREAD) && kthread_should_stop())
		return -ECANCELED;
	if (tries)
		cond_resched();
	return 0;
}

/* --- SVA: the device page table and its DMA mappings --------------- */

/*
 * An entry of ->dma: the DMA address of a page-aligned mapping, shifted,
 * and whether the device may write (DMA_BIDIRECTIONAL) or only read.
 */
static void *wd_dma_entry(dma_addr_t dma, bool write)
{
	return xa_mk_value((unsigned long)(dma >> PAGE_SHIFT) << 1 | write);
}

static dma_addr_t wd_dma_addr(void *entry)
{
	return (dma_addr_t)(xa_to_value(entry) >> 1) << PAGE_SHIFT;
}

static enum dma_data_direction wd_dma_dir(bool write)
{
	return write ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE;
}

/*
 * Pages are mapped for as long as the process may use them through the
 * device, and the same page may be mapped several times at once (two
 * contexts, a page at two addresses, a mirror and a share): so mappings
 * skip the CPU cache maintenance of map and unmap (which the DMA API only
 * allows once per page) and do it themselves where the device needs it
 * (dma_need_sync()), once at map and, for pages the device may write,
 * once at unmap. The device must reach the pages
 * directly (no bounce buffering: a 64-bit DMA mask or an IOMMU).
 */
#define WD_DMA_ATTRS	DMA_ATTR_SKIP_CPU_SYNC

static void wd_dma_count(struct wd_mmu *mmu, long pages)
{
	atomic64_add(pages, &mmu->dma_mapped);
	atomic64_add(pages, &mmu->wdev->stats.dma_mapped);
}

/* The page the device reaches for @page: the backing of a device page. */
static struct page *wd_dma_page_of(struct wd_mmu *mmu, struct page *page)
{
	if (is_device_private_page(page))
		return wd_devpriv_backing(mmu->wdev, page, false);
	return page;
}

/*
 * Enter page @pfn with @flags at page index @idx of the device page table
 * and, for a device that does DMA, map it for the device. An identical
 * entry stays as it is.
 * Return: 0; -EBUSY if a device that does DMA has another entry there (it
 * goes only with the access lock held for writing); -ENOMEM.
 */
static int wd_pt_set(struct wd_mmu *mmu, unsigned long idx,
		     unsigned long pfn, unsigned long flags)
{
	struct device *dev = mmu->wdev->dma_dev;
	void *entry = wd_pt_entry(pfn, flags), *old;
	bool write = flags & WD_PT_WRITE;
	dma_addr_t dma;
	int ret;

	lockdep_assert_held(&mmu->lock);
	old = xa_load(&mmu->pt, idx);
	if (old == entry)
		return 0;
	/* No allocation that could reclaim: invalidation takes ->lock. */
	if (!dev)
		return xa_err(xa_store(&mmu->pt, idx, entry,
				       GFP_NOWAIT | __GFP_NOWARN));
	if (old)
		return -EBUSY;
	if (mmu->dma_off)
		return -ENODEV;
	dma = dma_map_page_attrs(dev, wd_dma_page_of(mmu, pfn_to_page(pfn)), 0,
				 PAGE_SIZE, wd_dma_dir(write), WD_DMA_ATTRS);
	if (dma_mapping_error(dev, dma))
		return -ENOMEM;
	if (dma_need_sync(dev, dma))
		dma_sync_single_for_device(dev, dma, PAGE_SIZE,
					   wd_dma_dir(write));
	ret = xa_err(xa_store(&mmu->dma, idx, wd_dma_entry(dma, write),
			      GFP_NOWAIT | __GFP_NOWARN));
	if (ret)
		goto err_unmap;
	ret = xa_err(xa_store(&mmu->pt, idx, entry,
			      GFP_NOWAIT | __GFP_NOWARN));
	if (ret)
		goto err_erase;
	wd_dma_count(mmu, 1);
	return 0;

err_erase:
	xa_erase(&mmu->dma, idx);
err_unmap:
	dma_unmap_page_attrs(dev, dma, PAGE_SIZE, wd_dma_dir(write),
			     WD_DMA_ATTRS);
	return ret;
}

/*
 * Remove the entries of pages [@first, @last], and their DMA mappings;
 * one walk of each xarray. The caller holds ->lock and the access lock
 * for writing: no engine uses any of them.
 */
static int wd_pt_clear(struct wd_mmu *mmu, unsigned long first,
		       unsigned long last)
{
	XA_STATE(xas, &mmu->pt, first);
	struct device *dev = mmu->wdev->dma_dev;
	unsigned long idx;
	void *entry;
	long unmapped = 0;
	int n = 0;

	lockdep_assert_held(&mmu->lock);
	lockdep_assert_held_write(&mmu->access);
	xas_lock(&xas);
	xas_for_each(&xas, entry, last) {
		xas_store(&xas, NULL);
		n++;
	}
	xas_unlock(&xas);
	if (!dev || !n)
		return n;
	/* Not under the xarray's spinlock: a strict IOMMU flushes per unmap. */
	xa_for_each_range(&mmu->dma, idx, entry, first, last) {
		bool write = xa_to_value(entry) & 1;

		if (write && dma_need_sync(dev, wd_dma_addr(entry)))
			dma_sync_single_for_cpu(dev, wd_dma_addr(entry),
						PAGE_SIZE, DMA_BIDIRECTIONAL);
		dma_unmap_page_attrs(dev, wd_dma_addr(entry), PAGE_SIZE,
				     wd_dma_dir(write), WD_DMA_ATTRS);
		xa_erase(&mmu->dma, idx);
		unmapped++;
	}
	wd_dma_count(mmu, -unmapped);
	return n;
}

/* --- SVA: invalidation --------------------------------------------- */

/*
 * Drop the entries of pages [@first, @last] for @range once the accesses
 * through them ended, and their DMA mappings with them; @mni, if any, is a
 * fault window whose sequence this invalidation advances (under ->lock,
 * where the fault checks it).
 *
 * Blockable: advance the window, see whether there is anything to drop,
 * then wait for the engines (access lock for writing, taken before
 * ->lock) and drop what is there then (entries a fault entered meanwhile
 * are in its own window, whose notifier drops them). Not blockable (the
 * OOM reaper): only if both locks can be had at once; otherwise nothing
 * changed and the caller tries again later.
 */
static bool wd_mmu_drop_range(struct wd_mmu *mmu,
			      const struct mmu_notifier_range *range,
			      struct mmu_interval_notifier *mni,
			      unsigned long cur_seq, unsigned long first,
			      unsigned long last)
{
	unsigned long idx = first;
	int dropped;

	if (mmu_notifier_range_blockable(range)) {
		mutex_lock(&mmu->lock);
		if (mni)
			mmu_interval_set_seq(mni, cur_seq);
		dropped = !!xa_find(&mmu->pt, &idx, last, XA_PRESENT);
		mutex_unlock(&mmu->lock);
		if (!dropped)
			return true;
		down_write(&mmu->access);
		mutex_lock(&mmu->lock);
	} else {
		if (!down_write_trylock(&mmu->access))
			return false;
		if (!mutex_trylock(&mmu->lock)) {
			up_write(&mmu->access);
			return false;
		}
		if (mni)
			mmu_interval_set_seq(mni, cur_seq);
	}
	dropped = wd_pt_clear(mmu, first, last);
	if (dropped)
		mmu->gen++;
	mutex_unlock(&mmu->lock);
	up_write(&mmu->access);

	if (dropped) {
		atomic64_inc(&mmu->invalidations);
		atomic64_inc(&mmu->wdev->stats.invalidations);
		trace_wd_invalidate(mmu->wdev, range->start, range->end,
				    dropped, range->event);
	}
	return true;
}

/*
 * Remove the entry at page index @idx, which a fault must replace (a
 * device that does DMA: its mapping has the wrong page or direction),
 * once no engine uses it. Called with no lock held.
 */
static void wd_pt_evict(struct wd_mmu *mmu, unsigned long idx)
{
	down_write(&mmu->access);
	mutex_lock(&mmu->lock);
	if (wd_pt_clear(mmu, idx, idx))
		mmu->gen++;
	mutex_unlock(&mmu->lock);
	up_write(&mmu->access);
}

/*
 * The notifier of a block. Entries are entered only inside a fault
 * window, which holds the block's notifier (inserted before the window's
 * own) and whose own notifier catches any invalidation of the window that
 * races the fault (below); so entries this one can miss in a lockless look
 * are ones that window's notifier removes, and a range without entries
 * needs no lock at all.
 */
static bool wd_mmu_invalidate(struct mmu_interval_notifier *mni,
			      const struct mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct wd_mmu_block *blk = container_of(mni, struct wd_mmu_block, mni);
	struct wd_mmu *mmu = blk->mmu;
	unsigned long first = max(range->start >> PAGE_SHIFT, blk->first);
	unsigned long last = min((range->end - 1) >> PAGE_SHIFT, blk->last);
	unsigned long idx = first;

	atomic64_inc(&mmu->wdev->stats.notifier_calls);
	/*
	 * The compatible nodes' own exclusive conversions keep the pages
	 * where they are (wd_hmm_compat.c enters them afterwards).
	 */
	if (range->event == MMU_NOTIFY_EXCLUSIVE && range->owner == mmu)
		return true;

	/*
	 * Migrations to and from the device's own memory are not skipped:
	 * the framework does not update the mirror in the middle of them,
	 * so the entries go here like any others (and the engine faults
	 * again, finding the pages where they went).
	 */
	if (xa_find(&mmu->pt, &idx, last, XA_PRESENT) &&
	    !wd_mmu_drop_range(mmu, range, NULL, 0, first, last))
		return false;

	/*
	 * The range is going from the address space: once the block holds
	 * nothing, free it (a lockless look; the collection checks again
	 * under ->blocks_lock), or the next mapping there would keep
	 * calling this for a device that never saw it.
	 */
	idx = blk->first;
	if (range->event == MMU_NOTIFY_UNMAP &&
	    !xa_find(&mmu->pt, &idx, blk->last, XA_PRESENT))
		schedule_work(&mmu->blocks_gc);
	return true;
}

static const struct mmu_interval_notifier_ops wd_mmu_notifier_ops = {
	.invalidate = wd_mmu_invalidate,
};

/*
 * A fault window's notifier: an invalidation of the window makes the
 * fault in it start again, and removes what the fault may already have
 * entered (the whole-space notifier may have looked before it did).
 */
static bool wd_window_invalidate(struct mmu_interval_notifier *mni,
				 const struct mmu_notifier_range *range,
				 unsigned long cur_seq)
{
	struct wd_mmu_window *win = container_of(mni, struct wd_mmu_window,
						 mni);
	unsigned long first = range->start >> PAGE_SHIFT;
	unsigned long last = (range->end - 1) >> PAGE_SHIFT;

	if (range->event == MMU_NOTIFY_EXCLUSIVE && range->owner == win->mmu)
		return true;
	return wd_mmu_drop_range(win->mmu, range, mni, cur_seq,
				 max(first, win->first), min(last, win->last));
}

static const struct mmu_interval_notifier_ops wd_window_notifier_ops = {
	.invalidate = wd_window_invalidate,
};

/* Fewest blocks a context keeps before it frees unused ones. */
#define WD_MMU_BLOCKS_GC_MIN	256

/*
 * Move the blocks that hold no entry and serve no window from ->blocks to
 * @list; the caller removes their notifiers once it dropped the lock. No
 * entry can enter such a block: entries enter only in a window, and a
 * window takes its blocks under ->blocks_lock.
 */
static void wd_mmu_blocks_collect(struct wd_mmu *mmu, struct list_head *list,
				  bool all)
{
	struct wd_mmu_block *blk;
	unsigned long b, idx;

	lockdep_assert_held(&mmu->blocks_lock);
	xa_for_each(&mmu->blocks, b, blk) {
		idx = blk->first;
		if (blk->users ||
		    (!all && xa_find(&mmu->pt, &idx, blk->last, XA_PRESENT)))
			continue;
		xa_erase(&mmu->blocks, b);
		mmu->nr_blocks--;
		list_add(&blk->gc, list);
	}
	mmu->blocks_gc_at = max_t(unsigned long, WD_MMU_BLOCKS_GC_MIN,
				  2 * mmu->nr_blocks);
}

/* Remove the notifiers of collected blocks; no lock held. */
static void wd_mmu_blocks_free(struct list_head *list)
{
	struct wd_mmu_block *blk, *tmp;

	list_for_each_entry_safe(blk, tmp, list, gc) {
		/* Returns once no callback of the block runs any more. */
		mmu_interval_notifier_remove(&blk->mni);
		kfree(blk);
	}
}

/* &wd_mmu.blocks_gc: free the blocks an munmap left empty. */
static void wd_mmu_blocks_gc(struct work_struct *work)
{
	struct wd_mmu *mmu = container_of(work, struct wd_mmu, blocks_gc);
	LIST_HEAD(gc);

	mutex_lock(&mmu->blocks_lock);
	wd_mmu_blocks_collect(mmu, &gc, false);
	mutex_unlock(&mmu->blocks_lock);
	wd_mmu_blocks_free(&gc);
}

static void wd_mmu_blocks_put(struct wd_mmu_window *win)
{
	struct wd_mmu *mmu = win->mmu;
	unsigned int i;

	mutex_lock(&mmu->blocks_lock);
	for (i = 0; i < win->nr_blocks; i++)
		win->blocks[i]->users--;
	mutex_unlock(&mmu->blocks_lock);
	win->nr_blocks = 0;
}

/*
 * Hold the blocks [@start, @end) lies in for a window, inserting the
 * notifiers of those that have none yet: before the window's own notifier,
 * so every invalidation after the window's read of the CPU page table
 * reaches the block too, and entries the window enters are never missed.
 */
static int wd_mmu_blocks_get(struct wd_mmu *mmu, struct wd_mmu_window *win,
			     u64 start, u64 end)
{
	unsigned long b, first = start >> WD_MMU_BLOCK_SHIFT;
	unsigned long last = (end - 1) >> WD_MMU_BLOCK_SHIFT;
	struct wd_mmu_block *blk;
	LIST_HEAD(gc);
	int ret = 0;

	win->nr_blocks = 0;
	if (WARN_ON_ONCE(last - first >= ARRAY_SIZE(win->blocks)))
		return -EINVAL;
	mutex_lock(&mmu->blocks_lock);
	if (mmu->nr_blocks >= mmu->blocks_gc_at)
		wd_mmu_blocks_collect(mmu, &gc, false);
	for (b = first; b <= last; b++) {
		blk = xa_load(&mmu->blocks, b);
		if (!blk) {
			blk = kzalloc(sizeof(*blk), GFP_KERNEL_ACCOUNT);
			if (!blk) {
				ret = -ENOMEM;
				break;
			}
			blk->mmu = mmu;
			blk->first = b << (WD_MMU_BLOCK_SHIFT - PAGE_SHIFT);
			blk->last = blk->first +
				    (1UL << (WD_MMU_BLOCK_SHIFT - PAGE_SHIFT)) - 1;
			ret = mmu_interval_notifier_insert(&blk->mni, mmu->mm,
						b << WD_MMU_BLOCK_SHIFT,
						1UL << WD_MMU_BLOCK_SHIFT,
						&wd_mmu_notifier_ops);
			if (ret) {
				kfree(blk);
				break;
			}
			ret = xa_err(xa_store(&mmu->blocks, b, blk,
					      GFP_KERNEL_ACCOUNT));
			if (ret) {
				list_add(&blk->gc, &gc);
				break;
			}
			mmu->nr_blocks++;
		}
		blk->users++;
		win->blocks[win->nr_blocks++] = blk;
	}
	mutex_unlock(&mmu->blocks_lock);
	wd_mmu_blocks_free(&gc);
	if (ret)
		wd_mmu_blocks_put(win);
	return ret;
}

int wd_mmu_window_begin(struct wd_mmu *mmu, struct wd_mmu_window *win,
			u64 start, u64 end)
{
	int ret;

	win->mmu = mmu;
	win->first = start >> PAGE_SHIFT;
	win->last = (end - 1) >> PAGE_SHIFT;
	ret = wd_mmu_blocks_get(mmu, win, start, end);
	if (ret)
		return ret;
	ret = mmu_interval_notifier_insert(&win->mni, mmu->mm, start,
					   end - start,
					   &wd_window_notifier_ops);
	if (ret)
		wd_mmu_blocks_put(win);
	return ret;
}

void wd_mmu_window_end(struct wd_mmu_window *win)
{
	mmu_interval_notifier_remove(&win->mni);
	/* What the window entered stays under its blocks' notifiers. */
	wd_mmu_blocks_put(win);
}

/* --- SVA: device faults --------------------------------------------- */

static bool wd_mmu_own_devpriv(struct wd_mmu *mmu, unsigned long hmm_pfn)
{
	struct page *page = hmm_pfn_to_page(hmm_pfn);

	return is_device_private_page(page) && page->pgmap->owner == mmu->wdev;
}

/*
 * Fault [@start, @end) in (at most WD_FAULT_MAX pages, not past the VMA of
 * @start) and enter the pages in the device page table, in a fault window.
 * Each attempt counts in *@tries, which the caller may share between
 * calls. Gives up at WD_FAULT_TRIES attempts (-EBUSY), when *@stop becomes
 * true or the kthread must stop (-ECANCELED), or on a fatal signal
 * (-EINTR). On success returns the hmm flags of each page in @pfns, *@nr
 * pages entered (at least one) and in *@gen the generation they were
 * entered at: while ->gen is still that, they are in the table.
 */
static int wd_mmu_fault_window(struct wd_mmu *mmu, u64 start, u64 end,
			       bool write, const bool *stop,
			       unsigned int *tries, unsigned long *pfns,
			       unsigned long *nr, unsigned long *gen)
{
	struct hmm_range range = {
		.hmm_pfns = pfns,
		.default_flags = HMM_PFN_REQ_FAULT |
				 (write ? HMM_PFN_REQ_WRITE : 0),
		.dev_private_owner = mmu->wdev,
	};
	struct mm_struct *mm = mmu->mm;
	struct vm_area_struct *vma;
	struct wd_mmu_window win;
	bool evict = false;
	unsigned long i, n;
	int ret;

	range.start = start & PAGE_MASK;
	range.end = min_t(u64, range.start + ((u64)WD_FAULT_MAX << PAGE_SHIFT),
			  PAGE_ALIGN(end));
	ret = wd_mmu_window_begin(mmu, &win, range.start, range.end);
	if (ret)
		return ret;
	range.notifier = &win.mni;

	for (;;) {
		ret = wd_fault_check_stop(stop, (*tries)++);
		if (ret)
			goto out;
		if (evict) {
			wd_pt_evict(mmu, range.start >> PAGE_SHIFT);
			evict = false;
		}
		range.notifier_seq = mmu_interval_read_begin(range.notifier);
		mmap_read_lock(mm);
		vma = vma_lookup(mm, range.start);
		if (!vma || wd_vma_unreachable(vma)) {
			mmap_read_unlock(mm);
			ret = -EFAULT;
			goto out;
		}
		range.end = min(range.end, vma->vm_end);
		ret = hmm_range_fault(&range);
		/*
		 * Our own device-private pages are reported as they are, even
		 * read-only for a write: break copy-on-write in system memory.
		 */
		if (!ret && write && !(pfns[0] & HMM_PFN_WRITE) &&
		    wd_mmu_own_devpriv(mmu, pfns[0])) {
			ret = wd_devpriv_unshare_locked(mmu->wdev, vma,
							range.start);
			if (!ret)
				ret = -EBUSY;
		}
		mmap_read_unlock(mm);
		if (ret == -EBUSY) {
			atomic64_inc(&mmu->fault_retries);
			continue;
		}
		if (ret)
			goto out;

		mutex_lock(&mmu->lock);
		if (!mmu_interval_read_retry(range.notifier,
					     range.notifier_seq)) {
			n = (range.end - range.start) >> PAGE_SHIFT;
			for (i = 0; i < n; i++) {
				ret = wd_pt_set(mmu,
						(range.start >> PAGE_SHIFT) + i,
						page_to_pfn(hmm_pfn_to_page(pfns[i])),
						(pfns[i] & HMM_PFN_WRITE) ?
						WD_PT_WRITE : 0);
				if (ret)
					break;
			}
			/* The first page's old entry must go first. */
			if (i || ret != -EBUSY)
				break;
			evict = true;
		}
		mutex_unlock(&mmu->lock);
		atomic64_inc(&mmu->fault_retries);
	}
	*gen = mmu->gen;
	mutex_unlock(&mmu->lock);
	if (i) {
		*nr = i;
		ret = 0;
	} else if (!ret) {
		ret = -EFAULT;
	}
out:
	wd_mmu_window_end(&win);
	return ret;
}

/*
 * Fault in the page at @addr and up to fault_around - 1 pages after it
 * (never past @end or the VMA) and enter them in the device page table.
 * Called without the access lock. On success, if the access lock could be
 * taken at once while the entries were known good, *@pfn is the page of
 * @addr and the caller holds the access lock: it can use the page without
 * a lookup that a storm of invalidations could make miss for ever.
 */
static int wd_mmu_fault(struct wd_mmu *mmu, u64 addr, u64 end, bool write,
			const bool *stop, unsigned int *tries,
			unsigned long *pfn, bool *locked)
{
	unsigned long pfns[WD_FAULT_MAX];
	unsigned int window = clamp_t(unsigned int, READ_ONCE(fault_around),
				      1, WD_FAULT_MAX);
	unsigned long n, gen;
	int ret;

	*locked = false;
	atomic64_inc(&mmu->faults);
	atomic64_inc(&mmu->wdev->stats.faults);
	ret = wd_mmu_fault_window(mmu, addr,
				  min_t(u64, end, (addr & PAGE_MASK) +
					((u64)window << PAGE_SHIFT)),
				  write, stop, tries, pfns, &n, &gen);
	if (ret)
		return ret;
	/*
	 * Nothing was dropped since the entries went in: they are still
	 * there. A trylock, so no lock order is implied; it fails only when
	 * an invalidation waits for the lock, and then these entries are
	 * going.
	 */
	mutex_lock(&mmu->lock);
	if (mmu->gen == gen)
		*locked = down_read_trylock(&mmu->access);
	if (*locked)
		*pfn = page_to_pfn(hmm_pfn_to_page(pfns[0]));
	mutex_unlock(&mmu->lock);

	atomic64_add(n, &mmu->pages_faulted);
	atomic64_add(n, &mmu->wdev->stats.pages_faulted);
	trace_wd_dev_fault(mmu->wdev, addr, n, write);
	return 0;
}

int wd_mmu_fault_range(struct wd_mmu *mmu, u64 start, u64 end, bool write)
{
	unsigned long pfns[WD_FAULT_MAX];
	unsigned long n, gen, total = 0;
	unsigned int tries;
	u64 addr;
	int ret = 0;

	atomic64_inc(&mmu->faults);
	atomic64_inc(&mmu->wdev->stats.faults);
	for (addr = start; addr < end; addr += (u64)n << PAGE_SHIFT) {
		tries = 0;
		ret = wd_mmu_fault_window(mmu, addr, end, write, NULL, &tries,
					  pfns, &n, &gen);
		if (ret)
			break;
		total += n;
		cond_resched();
	}
	atomic64_add(total, &mmu->pages_faulted);
	atomic64_add(total, &mmu->wdev->stats.pages_faulted);
	if (total)
		trace_wd_dev_fault(mmu->wdev, start, total, write);
	return ret;
}

int wd_mmu_snapshot(struct wd_mmu *mmu, u64 start, u64 end,
		    unsigned long *pfns, bool map)
{
	struct hmm_range range = {
		.hmm_pfns = pfns,
		.start = start,
		.end = end,
		.dev_private_owner = mmu->wdev,
	};
	unsigned long i, n = (end - start) >> PAGE_SHIFT;
	struct wd_mmu_window win;
	unsigned int tries;
	int ret, local = 0;

	if (WARN_ON_ONCE(n > WD_FAULT_MAX || !n))
		return -EINVAL;
	ret = wd_mmu_window_begin(mmu, &win, start, end);
	if (ret)
		return ret;
	range.notifier = &win.mni;
	for (tries = 0; ; tries++) {
		ret = wd_fault_check_stop(NULL, tries);
		if (ret)
			goto out;
		range.notifier_seq = mmu_interval_read_begin(range.notifier);
		mmap_read_lock(mmu->mm);
		ret = hmm_range_fault(&range);
		mmap_read_unlock(mmu->mm);
		if (ret == -EBUSY)
			continue;
		if (ret)
			goto out;
		mutex_lock(&mmu->lock);
		if (!mmu_interval_read_retry(range.notifier,
					     range.notifier_seq))
			break;
		mutex_unlock(&mmu->lock);
	}
	/* The device page table is SVA's: never fill it in pinned mode. */
	if (mmu->mode != WD_MMU_SVA)
		map = false;
	for (i = 0; i < n; i++) {
		if (!(pfns[i] & HMM_PFN_VALID) || (pfns[i] & HMM_PFN_ERROR) ||
		    !wd_mmu_own_devpriv(mmu, pfns[i]))
			continue;
		local++;
		if (!map)
			continue;
		ret = wd_pt_set(mmu, (start >> PAGE_SHIFT) + i,
				page_to_pfn(hmm_pfn_to_page(pfns[i])),
				(pfns[i] & HMM_PFN_WRITE) ? WD_PT_WRITE : 0);
		if (ret)
			map = false;	/* the device faults them later */
	}
	mutex_unlock(&mmu->lock);
	ret = local;
out:
	wd_mmu_window_end(&win);
	return ret;
}

void *wd_mmu_pfn_kaddr(struct wd_mmu *mmu, unsigned long pfn, bool touch)
{
	struct page *page = pfn_to_page(pfn);

	if (is_device_private_page(page)) {
		if (page->pgmap->owner != mmu->wdev)
			return NULL;
		page = wd_devpriv_backing(mmu->wdev, page, touch);
	}
	return page_address(page);
}

/* --- Pinned mode: shares ------------------------------------------- */

/*
 * The tree changes only with both ->lock and the access lock (for writing)
 * held: either keeps it still for a reader.
 */
static struct wd_share *wd_share_find(struct wd_mmu *mmu, u64 addr)
{
	struct interval_tree_node *it;

	lockdep_assert(lockdep_is_held(&mmu->lock) ||
		       lockdep_is_held(&mmu->access));
	it = interval_tree_iter_first(&mmu->shares, addr, addr);
	return it ? container_of(it, struct wd_share, it) : NULL;
}

/* The pinned page of @addr, which @sh covers. */
static struct page *wd_share_page(struct wd_share *sh, u64 addr)
{
	unsigned long idx = (addr - sh->it.start) >> PAGE_SHIFT;
	struct page **chunk = xa_load(&sh->chunks, idx / WD_SHARE_CHUNK);

	return chunk[idx % WD_SHARE_CHUNK];
}

/* Unpin what @sh pinned and free its page array (not @sh, not charges). */
static void wd_share_unpin(struct wd_share *sh)
{
	struct page **chunk;
	unsigned long i, base;

	xa_for_each(&sh->chunks, i, chunk) {
		base = i * WD_SHARE_CHUNK;
		if (sh->nr_pages > base)
			unpin_user_pages_dirty_lock(chunk,
				min_t(unsigned long, WD_SHARE_CHUNK,
				      sh->nr_pages - base),
				sh->writable);
		kfree(chunk);
	}
	xa_destroy(&sh->chunks);
}

/*
 * Devices that do DMA: map the pages of @sh for the device, as one
 * scatterlist (behind an IOMMU, usually one contiguous run of addresses),
 * and keep where each mapped segment starts for the engine's lookups.
 */
static int wd_share_dma_map(struct wd_mmu *mmu, struct wd_share *sh)
{
	struct device *dev = mmu->wdev->dma_dev;
	unsigned int max_seg = max_t(unsigned int, PAGE_SIZE,
				     dma_get_max_seg_size(dev) & PAGE_MASK);
	struct scatterlist *sg;
	struct page **chunk;
	unsigned long i, base, n;
	u64 end = 0;
	int ret;

	xa_for_each(&sh->chunks, i, chunk) {
		base = i * WD_SHARE_CHUNK;
		n = min_t(unsigned long, WD_SHARE_CHUNK, sh->nr_pages - base);
		ret = sg_alloc_append_table_from_pages(&sh->sg, chunk, n, 0,
						       n << PAGE_SHIFT,
						       max_seg,
						       sh->nr_pages - base - n,
						       GFP_KERNEL_ACCOUNT);
		if (ret)
			goto err_free;
	}
	ret = dma_map_sgtable(dev, &sh->sg.sgt, wd_dma_dir(sh->writable),
			      WD_DMA_ATTRS);
	if (ret)
		goto err_free;
	dma_sync_sgtable_for_device(dev, &sh->sg.sgt, wd_dma_dir(sh->writable));
	n = sh->sg.sgt.nents;
	sh->dma = kvmalloc_array(n, sizeof(*sh->dma), GFP_KERNEL_ACCOUNT);
	sh->dma_end = kvmalloc_array(n, sizeof(*sh->dma_end),
				     GFP_KERNEL_ACCOUNT);
	if (!sh->dma || !sh->dma_end) {
		ret = -ENOMEM;
		goto err_unmap;
	}
	for_each_sgtable_dma_sg(&sh->sg.sgt, sg, i) {
		sh->dma[i] = sg_dma_address(sg);
		end += sg_dma_len(sg);
		sh->dma_end[i] = end;
	}
	if (WARN_ON_ONCE(end != (u64)sh->nr_pages << PAGE_SHIFT)) {
		ret = -EIO;
		goto err_unmap;
	}
	sh->nr_dma = n;
	wd_dma_count(mmu, sh->nr_pages);
	return 0;

err_unmap:
	kvfree(sh->dma);
	kvfree(sh->dma_end);
	sh->dma = NULL;
	sh->dma_end = NULL;
	dma_unmap_sgtable(dev, &sh->sg.sgt, wd_dma_dir(sh->writable),
			  WD_DMA_ATTRS);
err_free:
	sg_free_append_table(&sh->sg);
	return ret;
}

/* Undo wd_share_dma_map(); no engine uses the share any more. */
static void wd_share_dma_unmap(struct wd_mmu *mmu, struct wd_share *sh)
{
	struct device *dev = mmu->wdev->dma_dev;

	if (!sh->nr_dma)
		return;
	if (sh->writable)
		dma_sync_sgtable_for_cpu(dev, &sh->sg.sgt, DMA_BIDIRECTIONAL);
	dma_unmap_sgtable(dev, &sh->sg.sgt, wd_dma_dir(sh->writable),
			  WD_DMA_ATTRS);
	sg_free_append_table(&sh->sg);
	kvfree(sh->dma);
	kvfree(sh->dma_end);
	sh->nr_dma = 0;
	wd_dma_count(mmu, -(long)sh->nr_pages);
}

static void wd_share_free(struct wd_mmu *mmu, struct wd_share *sh)
{
	unsigned long nr = sh->nr_pages;

	wd_share_dma_unmap(mmu, sh);
	wd_share_unpin(sh);
	atomic64_sub(nr, &mmu->mm->pinned_vm);
	atomic64_sub(nr, &mmu->wdev->stats.pinned_pages);
	atomic64_sub(nr, &mmu->pinned_pages);
	kfree(sh);
}

static int wd_share_check(struct wd_mmu *mmu, const struct wd_share_req *req)
{
	if (req->pad || req->reserved[0] || req->reserved[1])
		return -EINVAL;
	if (!req->len || !PAGE_ALIGNED(req->addr) || !PAGE_ALIGNED(req->len))
		return -EINVAL;
	if (req->len > WD_SHARE_MAX_LEN)
		return -E2BIG;
	if (req->addr + req->len < req->addr ||
	    req->addr + req->len > mmu->mm->task_size)
		return -EFAULT;
	return 0;
}

/*
 * How to pin the pages of @vma for a share, and whether they may be.
 *
 * For writing: only pages the process owns, not file pages a file system
 * writes back (6.1's GUP still pins those long-term for writing). Private
 * mappings are fine: FOLL_WRITE breaks copy-on-write into anonymous pages.
 *
 * For reading: in a writable private mapping, pin the page the process
 * will write to (FOLL_WRITE breaks copy-on-write now), not the shared
 * zero page or a page cache page that its first write would replace.
 */
static int wd_share_gup_flags(struct vm_area_struct *vma, bool writable,
			      unsigned int *gup)
{
	struct file *file = vma->vm_file;

	*gup = FOLL_LONGTERM;
	if (wd_vma_unreachable(vma))
		return -EFAULT;
	if (!writable) {
		if ((vma->vm_flags & (VM_SHARED | VM_WRITE)) == VM_WRITE)
			*gup |= FOLL_WRITE;
		return 0;
	}
	if (!(vma->vm_flags & VM_WRITE))
		return -EFAULT;
	*gup |= FOLL_WRITE;
	if (!(vma->vm_flags & VM_SHARED) || vma_is_anonymous(vma) ||
	    is_vm_hugetlb_page(vma))
		return 0;
	if (file && (shmem_mapping(file->f_mapping) ||
		     file_inode(file)->i_sb->s_magic == WD_REGION_FS_MAGIC))
		return 0;
	return -EOPNOTSUPP;
}

/* Pin the pages of @sh, [it.start, it.last], a chunk at a time. */
static int wd_share_pin(struct wd_mmu *mmu, struct wd_share *sh,
			unsigned long nr)
{
	struct mm_struct *mm = mmu->mm;
	struct vm_area_struct *vma;
	unsigned int gup;
	long ret;

	while (sh->nr_pages < nr) {
		unsigned long idx = sh->nr_pages, off = idx % WD_SHARE_CHUNK;
		u64 addr = sh->it.start + ((u64)idx << PAGE_SHIFT);
		unsigned long want = min(nr - idx, WD_SHARE_CHUNK - off);
		struct page **chunk;

		if (!off) {
			chunk = kmalloc_array(WD_SHARE_CHUNK, sizeof(*chunk),
					      GFP_KERNEL_ACCOUNT);
			if (!chunk)
				return -ENOMEM;
			ret = xa_err(xa_store(&sh->chunks, idx / WD_SHARE_CHUNK,
					      chunk, GFP_KERNEL_ACCOUNT));
			if (ret) {
				kfree(chunk);
				return ret;
			}
		} else {
			chunk = xa_load(&sh->chunks, idx / WD_SHARE_CHUNK);
		}

		/* The VMA checked is the one the pages are pinned from. */
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		vma = vma_lookup(mm, addr);
		ret = vma ? wd_share_gup_flags(vma, sh->writable, &gup) :
			    -EFAULT;
		if (!ret) {
			want = min_t(unsigned long, want,
				     (vma->vm_end - addr) >> PAGE_SHIFT);
			ret = wd_pin_user_pages(addr, want, gup, chunk + off);
		}
		mmap_read_unlock(mm);
		if (ret <= 0)
			return ret ? ret : -EFAULT;
		sh->nr_pages += ret;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

int wd_mmu_share(struct wd_mmu *mmu, const struct wd_share_req *req)
{
	unsigned long nr, limit;
	struct wd_share *sh;
	int idx;
	long ret;

	ret = wd_share_check(mmu, req);
	if (ret)
		return ret;
	if (!req->access || req->access & ~(WD_SHARE_READ | WD_SHARE_WRITE))
		return -EINVAL;
	nr = req->len >> PAGE_SHIFT;

	/* Held to the end: the mode cannot change under a share. */
	if (mutex_lock_killable(&mmu->share_lock))
		return -EINTR;
	if (mmu->mode != WD_MMU_PINNED) {
		ret = -EOPNOTSUPP;
		goto err_unlock;
	}

	/*
	 * Charge first, as RDMA does: RLIMIT_MEMLOCK bounds pinned memory,
	 * and nothing is allocated for a length over the limit.
	 */
	limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	if (atomic64_add_return(nr, &mmu->mm->pinned_vm) > limit &&
	    !capable(CAP_IPC_LOCK)) {
		ret = -ENOMEM;
		goto err_uncharge;
	}

	mutex_lock(&mmu->lock);
	ret = interval_tree_iter_first(&mmu->shares, req->addr,
				       req->addr + req->len - 1) ? -EEXIST : 0;
	mutex_unlock(&mmu->lock);
	if (ret)
		goto err_uncharge;

	sh = kzalloc(sizeof(*sh), GFP_KERNEL_ACCOUNT);
	if (!sh) {
		ret = -ENOMEM;
		goto err_uncharge;
	}
	xa_init(&sh->chunks);
	sh->writable = req->access & WD_SHARE_WRITE;
	sh->it.start = req->addr;
	sh->it.last = req->addr + req->len - 1;

	ret = wd_share_pin(mmu, sh, nr);
	if (ret)
		goto err_unpin;
	/*
	 * The DMA device is used only while the device is registered: map
	 * and insert in a section that unregistration waits for, after which
	 * wd_mmu_dma_release() finds the share.
	 */
	ret = wd_device_enter(mmu->wdev, &idx);
	if (ret)
		goto err_unpin;
	if (mmu->wdev->dma_dev) {
		ret = wd_share_dma_map(mmu, sh);
		if (ret) {
			wd_device_leave(mmu->wdev, idx);
			goto err_unpin;
		}
	}
	/* Engines read the tree holding only the access lock. */
	down_write(&mmu->access);
	mutex_lock(&mmu->lock);
	interval_tree_insert(&sh->it, &mmu->shares);
	mutex_unlock(&mmu->lock);
	up_write(&mmu->access);
	wd_device_leave(mmu->wdev, idx);
	mutex_unlock(&mmu->share_lock);
	atomic64_add(nr, &mmu->pinned_pages);
	atomic64_add(nr, &mmu->wdev->stats.pinned_pages);
	return 0;

err_unpin:
	wd_share_unpin(sh);
	kfree(sh);
err_uncharge:
	atomic64_sub(nr, &mmu->mm->pinned_vm);
err_unlock:
	mutex_unlock(&mmu->share_lock);
	return ret;
}

int wd_mmu_unshare(struct wd_mmu *mmu, const struct wd_share_req *req)
{
	struct wd_share *sh;
	int ret;

	ret = wd_share_check(mmu, req);
	if (ret)
		return ret;
	if (req->access)
		return -EINVAL;

	/*
	 * Engines read the tree holding only the access lock: once we hold
	 * it for writing, no engine access to the pages is in flight, and
	 * none finds the share afterwards.
	 */
	down_write(&mmu->access);
	mutex_lock(&mmu->lock);
	sh = wd_share_find(mmu, req->addr);
	if (mmu->mode != WD_MMU_PINNED) {
		ret = -EOPNOTSUPP;
	} else if (!sh) {
		ret = -ENOENT;
	} else if (sh->it.start != req->addr ||
		   sh->it.last != req->addr + req->len - 1) {
		ret = -EINVAL;	/* only whole shares are unshared */
	} else {
		interval_tree_remove(&sh->it, &mmu->shares);
		mmu->gen++;
	}
	mutex_unlock(&mmu->lock);
	up_write(&mmu->access);
	if (ret)
		return ret;
	wd_share_free(mmu, sh);
	return 0;
}

/* --- Context set-up and teardown ----------------------------------- */

/* The notifier wd_mmu_init() inserts and removes at once: it does nothing. */
static bool wd_probe_invalidate(struct mmu_interval_notifier *mni,
				const struct mmu_notifier_range *range,
				unsigned long cur_seq)
{
	mmu_interval_set_seq(mni, cur_seq);
	return true;
}

static const struct mmu_interval_notifier_ops wd_probe_notifier_ops = {
	.invalidate = wd_probe_invalidate,
};

int wd_mmu_init(struct wd_mmu *mmu, struct wd_device *wdev,
		struct mm_struct *mm)
{
	struct mmu_interval_notifier probe;
	int ret;

	mmu->wdev = wdev;
	mmu->mm = mm;
	init_rwsem(&mmu->access);
	mutex_init(&mmu->lock);
	mutex_init(&mmu->share_lock);
	xa_init(&mmu->pt);
	xa_init(&mmu->dma);
	mmu->shares = RB_ROOT_CACHED;
	mmu->mode = (wdev->flags & WD_DEV_F_SVA) ? WD_MMU_SVA : WD_MMU_PINNED;
	mutex_init(&mmu->blocks_lock);
	xa_init(&mmu->blocks);
	mmu->blocks_gc_at = WD_MMU_BLOCKS_GC_MIN;
	INIT_WORK(&mmu->blocks_gc, wd_mmu_blocks_gc);
	/*
	 * Set the address space up for interval notifiers now, in the
	 * opener's context: the first one inserted takes mmap_lock for
	 * writing, which the faults that insert blocks later must not need.
	 */
	ret = mmu_interval_notifier_insert(&probe, mm, 0, PAGE_SIZE,
					   &wd_probe_notifier_ops);
	if (ret)
		return ret;
	mmu_interval_notifier_remove(&probe);
	return 0;
}

/* Remove every block notifier (no window may be open). */
static void wd_mmu_blocks_fini(struct wd_mmu *mmu)
{
	LIST_HEAD(gc);

	mutex_lock(&mmu->blocks_lock);
	wd_mmu_blocks_collect(mmu, &gc, true);
	WARN_ON_ONCE(mmu->nr_blocks);
	mutex_unlock(&mmu->blocks_lock);
	wd_mmu_blocks_free(&gc);
	xa_destroy(&mmu->blocks);
}

/*
 * Remove every translation; with @mode, switch to it, unless a share
 * exists (-EBUSY). Shares are taken out under ->lock and freed once no
 * engine access is in flight.
 */
static int wd_mmu_drop_all(struct wd_mmu *mmu, u32 mode)
{
	struct rb_root_cached shares = RB_ROOT_CACHED;
	struct interval_tree_node *it;

	/* No engine access is in flight once both are held. */
	down_write(&mmu->access);
	mutex_lock(&mmu->lock);
	if (mode && !RB_EMPTY_ROOT(&mmu->shares.rb_root)) {
		mutex_unlock(&mmu->lock);
		up_write(&mmu->access);
		return -EBUSY;
	}
	wd_pt_clear(mmu, 0, ULONG_MAX);
	mmu->gen++;
	swap(shares, mmu->shares);
	if (mode)
		WRITE_ONCE(mmu->mode, mode);
	mutex_unlock(&mmu->lock);
	up_write(&mmu->access);

	while ((it = interval_tree_iter_first(&shares, 0, ULONG_MAX))) {
		interval_tree_remove(it, &shares);
		wd_share_free(mmu, container_of(it, struct wd_share, it));
	}
	return 0;
}

void wd_mmu_fini(struct wd_mmu *mmu)
{
	wd_mmu_blocks_fini(mmu);
	/*
	 * No notifier is left to queue the collection again; one running
	 * may still be removing the blocks it took: wait for it.
	 */
	cancel_work_sync(&mmu->blocks_gc);
	wd_mmu_drop_all(mmu, 0);
	xa_destroy(&mmu->pt);
	WARN_ON_ONCE(!xa_empty(&mmu->dma));
	xa_destroy(&mmu->dma);
}

/*
 * The device is going (wd_device_unregister(), after its queues stopped
 * and every call inside it ended): unmap everything mapped for its DMA
 * device, which may go right after. SVA entries go; shares stay pinned
 * (until unshare or close) but are no longer mapped; nothing is mapped
 * again.
 */
void wd_mmu_dma_release(struct wd_mmu *mmu)
{
	struct interval_tree_node *it;

	if (!mmu->wdev->dma_dev)
		return;
	down_write(&mmu->access);
	mutex_lock(&mmu->lock);
	mmu->dma_off = true;
	wd_pt_clear(mmu, 0, ULONG_MAX);
	mmu->gen++;
	for (it = interval_tree_iter_first(&mmu->shares, 0, ULONG_MAX); it;
	     it = interval_tree_iter_next(it, 0, ULONG_MAX))
		wd_share_dma_unmap(mmu, container_of(it, struct wd_share, it));
	mutex_unlock(&mmu->lock);
	up_write(&mmu->access);
}

/* Switch mode; the caller makes sure no queue is bound. */
int wd_mmu_set_mode(struct wd_mmu *mmu, u32 mode)
{
	u32 need = mode == WD_MMU_SVA ? WD_DEV_F_SVA : WD_DEV_F_PINNED;
	int ret = 0;

	if (mode != WD_MMU_SVA && mode != WD_MMU_PINNED)
		return -EINVAL;
	if (!(mmu->wdev->flags & need))
		return -EOPNOTSUPP;
	/* No share is in progress, and none starts until the switch is done. */
	if (mutex_lock_killable(&mmu->share_lock))
		return -EINTR;
	if (mode != mmu->mode)
		ret = wd_mmu_drop_all(mmu, mode);
	mutex_unlock(&mmu->share_lock);
	return ret;
}

/* --- The engine's side: jobs and cursors --------------------------- */

static struct wd_mmu *wd_job_mmu(struct wd_mem_job *job)
{
	return &to_hwq(job->q)->ctx->mmu;
}

void wd_mem_job_init(struct wd_mem_job *job, struct wd_queue *q)
{
	memset(job, 0, sizeof(*job));
	job->q = q;
	/* The TLB is empty: any generation will do. */
	job->gen = READ_ONCE(wd_job_mmu(job)->gen);
}
EXPORT_SYMBOL_GPL(wd_mem_job_init);

static void wd_job_release(struct wd_mem_job *job)
{
	if (job->access_held) {
		up_read(&wd_job_mmu(job)->access);
		job->access_held = false;
	}
}

/*
 * The SVA entry of page index @idx for an access, or NULL for a miss.
 * Called with the access lock held, which keeps entries from going: no
 * ->lock, an RCU-safe xa_load().
 */
static void *wd_sva_entry(struct wd_mmu *mmu, unsigned long idx, bool write)
{
	void *entry = xa_load(&mmu->pt, idx);

	if (!entry || (write && !(wd_pt_flags(entry) & WD_PT_WRITE)))
		return NULL;
	return entry;
}

/*
 * Translate the page of @addr. Called with the access lock held.
 * Return: 0 and *pfn, -ENOENT for a miss that a fault may fix, -EFAULT.
 */
static int wd_mmu_lookup(struct wd_mmu *mmu, u64 addr, bool write,
			 unsigned long *pfn)
{
	struct wd_share *sh;
	void *entry;
	int ret = 0;

	/* The mode changes only with the access lock held for writing. */
	if (mmu->mode == WD_MMU_SVA) {
		entry = wd_sva_entry(mmu, addr >> PAGE_SHIFT, write);
		if (!entry)
			return -ENOENT;
		*pfn = wd_pt_pfn(entry);
		return 0;
	}
	/* The access lock keeps the shares still: no ->lock. */
	sh = wd_share_find(mmu, addr);
	if (!sh || (write && !sh->writable))
		ret = -EFAULT;
	else
		*pfn = page_to_pfn(wd_share_page(sh, addr));
	return ret;
}

/* Segments being filled by one wd_mem_segs() call. */
struct wd_seg_fill {
	struct wd_seg *segs;
	unsigned int max;
	unsigned int nr;
	u32 cap;		/* longest segment */
	bool dma;		/* DMA addresses, not kernel addresses */
	u64 bytes;
	u64 limit;		/* most bytes to cover */
};

/*
 * Append [@dma or @kaddr, + @len) to the segments, merged into the last
 * one when it is contiguous for the device, cut at the limit.
 * Return: false if full (nothing was added).
 */
static bool wd_seg_add(struct wd_seg_fill *f, dma_addr_t dma, void *kaddr,
		       u32 len)
{
	struct wd_seg *last = f->nr ? &f->segs[f->nr - 1] : NULL;

	if (f->bytes >= f->limit)
		return false;
	len = min_t(u64, len, f->limit - f->bytes);

	if (last && len <= f->cap - last->len &&
	    (f->dma ? last->dma + last->len == dma :
		      last->kaddr + last->len == kaddr)) {
		last->len += len;
	} else {
		if (f->nr == f->max)
			return false;
		f->segs[f->nr].dma = dma;
		f->segs[f->nr].kaddr = kaddr;
		f->segs[f->nr].len = len;
		f->nr++;
	}
	f->bytes += len;
	return true;
}

static void wd_tlb_flush(struct wd_mem_job *job)
{
	memset(job->tlb, 0, sizeof(job->tlb));
}

/*
 * The page of index @idx through the job's TLB, or a walk of the device
 * page table on a miss. Access lock held, with the job's generation that
 * of the context (wd_job_revalidate()): no translation went since the
 * entries were cached. Pages of device-private memory are never cached
 * (each use marks the page used, for eviction).
 * Return: 0, -ENOENT for a miss of the page table, -EFAULT.
 */
static int wd_sva_translate(struct wd_mmu *mmu, struct wd_mem_job *job,
			    unsigned long idx, bool write, bool dma,
			    struct wd_mem_tlb_entry *out)
{
	struct wd_mem_tlb_entry *t = &job->tlb[idx % WD_MEM_TLB_SIZE];
	unsigned long pfn;
	void *entry;

	if (t->idx == idx + 1 && (t->write || !write)) {
		*out = *t;
		return 0;
	}
	entry = wd_sva_entry(mmu, idx, write);
	if (!entry)
		return -ENOENT;
	pfn = wd_pt_pfn(entry);
	out->idx = idx + 1;
	out->write = wd_pt_flags(entry) & WD_PT_WRITE;
	out->kaddr = NULL;
	out->dma = 0;
	if (dma) {
		void *d = xa_load(&mmu->dma, idx);

		if (WARN_ON_ONCE(!d))
			return -EFAULT;
		out->dma = wd_dma_addr(d);
	} else {
		out->kaddr = wd_mmu_pfn_kaddr(mmu, pfn, true);
		if (!out->kaddr)
			return -EFAULT;
	}
	if (!is_device_private_page(pfn_to_page(pfn)))
		*t = *out;
	return 0;
}

/*
 * SVA: segments from the cursor's position through the device page table
 * (and the job's TLB), up to the first page it does not map. Access lock
 * held: the entries stay, and the table is read without ->lock (RCU).
 * Return: bytes, -ENOENT if the first page misses, -EFAULT.
 */
static ssize_t wd_sva_segs(struct wd_mmu *mmu, struct wd_mem_cursor *cur,
			   struct wd_seg_fill *f)
{
	unsigned long idx = cur->addr >> PAGE_SHIFT;
	unsigned int budget = WD_SEGS_MAX_PAGES;
	u64 addr = cur->addr;

	lockdep_assert_held_read(&mmu->access);
	for (; addr < cur->end && budget--; idx++) {
		u32 len = min_t(u64, PAGE_SIZE - offset_in_page(addr),
				cur->end - addr);
		struct wd_mem_tlb_entry t;
		int ret;

		ret = wd_sva_translate(mmu, cur->job, idx, cur->write, f->dma,
				       &t);
		if (ret == -EFAULT && !f->bytes)
			return -EFAULT;
		if (ret)
			break;
		if (!wd_seg_add(f, f->dma ? t.dma + offset_in_page(addr) : 0,
				f->dma ? NULL : t.kaddr + offset_in_page(addr),
				len))
			break;
		addr += len;
	}
	return f->bytes ? f->bytes : -ENOENT;
}

/*
 * Pinned mode: segments from the cursor's position through the shares.
 * The access lock held keeps the shares (and their DMA mappings) still:
 * no other lock.
 * Return: bytes, or -EFAULT if the first byte is not shared as needed.
 */
static ssize_t wd_share_segs(struct wd_mmu *mmu, struct wd_mem_cursor *cur,
			     struct wd_seg_fill *f)
{
	unsigned int budget = WD_SEGS_MAX_PAGES;
	u64 addr = cur->addr;
	struct wd_share *sh;

	lockdep_assert_held_read(&mmu->access);
	while (addr < cur->end && budget) {
		u64 off, stop;

		sh = wd_share_find(mmu, addr);
		if (!sh || (cur->write && !sh->writable))
			break;
		stop = min_t(u64, cur->end, sh->it.last + 1);
		off = addr - sh->it.start;
		if (f->dma) {
			unsigned int lo = 0, hi = sh->nr_dma - 1;

			/* The mapped segment that holds @off. */
			while (lo < hi) {
				unsigned int mid = lo + (hi - lo) / 2;

				if (sh->dma_end[mid] <= off)
					lo = mid + 1;
				else
					hi = mid;
			}
			for (; addr < stop && lo < sh->nr_dma; lo++) {
				u64 start = lo ? sh->dma_end[lo - 1] : 0;
				u32 len = min(sh->dma_end[lo], stop -
					      sh->it.start) - off;

				if (!wd_seg_add(f, sh->dma[lo] + (off - start),
						NULL, len))
					goto out;
				addr += len;
				off += len;
			}
			continue;
		}
		for (; addr < stop && budget; budget--) {
			u32 len = min_t(u64, PAGE_SIZE - offset_in_page(addr),
					stop - addr);

			if (!wd_seg_add(f, 0, page_address(wd_share_page(sh,
								addr)) +
					offset_in_page(addr), len))
				goto out;
			addr += len;
		}
	}
out:
	return f->bytes ? f->bytes : -EFAULT;
}

/*
 * Take the access lock for @job. If translations changed since the job
 * last held it, check that the pieces its cursors hold still translate to
 * the same pages; a cursor whose piece went stale loses it.
 * Return: true if every held piece is still valid.
 */
static bool wd_job_revalidate(struct wd_mem_job *job)
{
	struct wd_mmu *mmu = wd_job_mmu(job);
	bool valid = true;
	unsigned long pfn;
	int i;

	if (READ_ONCE(mmu->gen) == job->gen)
		return true;
	job->gen = READ_ONCE(mmu->gen);
	/* Translations went: what the TLB holds may be among them. */
	wd_tlb_flush(job);
	for (i = 0; i < job->nr; i++) {
		struct wd_mem_cursor *cur = job->cursors[i];

		/* Segments may have lost any of their pages: all are void. */
		if (cur->held) {
			cur->held = 0;
			valid = false;
			continue;
		}
		if (!cur->kaddr)
			continue;
		if (wd_mmu_lookup(mmu, cur->page_addr, cur->write, &pfn) ||
		    pfn != cur->pfn) {
			cur->kaddr = NULL;
			valid = false;
		}
	}
	return valid;
}

/*
 * Take the access for @job if it does not hold it. A nowait job only
 * tries: the thread may hold other jobs' access, and a writer waiting
 * would block it behind them.
 * Return: 0, -EAGAIN (held pieces went stale, see wd_job_revalidate()) or
 * -EBUSY (nowait, not taken).
 */
static int wd_job_acquire(struct wd_mem_job *job)
{
	struct wd_mmu *mmu = wd_job_mmu(job);

	if (job->access_held)
		return 0;
	if (!job->nowait)
		down_read(&mmu->access);
	else if (!down_read_trylock(&mmu->access))
		return -EBUSY;
	job->access_held = true;
	return wd_job_revalidate(job) ? 0 : -EAGAIN;
}

/* A nowait job would have to wait: it lets go of everything. */
static int wd_job_would_block(struct wd_mem_job *job)
{
	wd_mem_job_pause(job);
	return -EBUSY;
}

int wd_mem_start(struct wd_mem_cursor *cur, struct wd_mem_job *job, u64 addr,
		 u64 len, bool write)
{
	struct wd_mmu *mmu = wd_job_mmu(job);

	memset(cur, 0, sizeof(*cur));
	cur->job = job;
	if (!len)
		return 0;
	if (addr + len < addr || addr + len > mmu->mm->task_size)
		return -EFAULT;
	if (WARN_ON_ONCE(job->nr >= ARRAY_SIZE(job->cursors)))
		return -EINVAL;
	/*
	 * No reference on the address space is kept for the command: a
	 * process that dies mid-command tears its memory down at once (the
	 * invalidation waits for the access in flight), which releases the
	 * rings and so cancels the command. Device faults take one briefly.
	 */
	if (!atomic_read(&mmu->mm->mm_users))
		return -ESRCH;
	job->cursors[job->nr++] = cur;
	cur->addr = addr;
	cur->left = len;
	cur->end = addr + len;
	cur->write = write;
	return 0;
}
EXPORT_SYMBOL_GPL(wd_mem_start);

ssize_t wd_mem_map(struct wd_mem_cursor *cur, void **kaddr)
{
	struct wd_mem_job *job = cur->job;
	struct wd_mmu *mmu = wd_job_mmu(job);
	u64 page = cur->addr & PAGE_MASK;
	const bool *stop = &to_hwq(job->q)->stopping;
	bool others_valid = true;
	unsigned int tries = 0;
	unsigned long pfn;
	int ret;

	if (!cur->left)
		return 0;
	if (READ_ONCE(to_hwq(job->q)->stopping))
		return -ECANCELED;
	ret = wd_job_acquire(job);
	if (ret == -EBUSY)
		return wd_job_would_block(job);
	if (ret)
		others_valid = false;
	if (!cur->kaddr || cur->page_addr != page) {
		for (;;) {
			bool locked;

			ret = wd_mmu_lookup(mmu, page, cur->write, &pfn);
			if (ret != -ENOENT)
				break;
			if (job->nowait)
				return wd_job_would_block(job);
			/* Device fault: never wait for mmap_lock holding access. */
			wd_job_release(job);
			/* One budget of tries for all the faults of this page. */
			ret = wd_fault_check_stop(stop, tries);
			if (!ret) {
				/* The owner is gone: nobody waits for it. */
				if (!mmget_not_zero(mmu->mm))
					return -ECANCELED;
				ret = wd_mmu_fault(mmu, cur->addr, cur->end,
						   cur->write, stop, &tries,
						   &pfn, &locked);
				/*
				 * If that was the last user, the teardown
				 * (exit_mmap) runs in a worker, not here.
				 */
				mmput_async(mmu->mm);
			}
			if (!ret && locked) {
				/* Held since the entries were good: use them. */
				job->access_held = true;
				if (!wd_job_revalidate(job))
					others_valid = false;
				break;
			}
			if (ret == -EINTR || ret == -ECANCELED)
				return -ECANCELED;
			if (ret)
				break;
			if (READ_ONCE(to_hwq(job->q)->stopping))
				return -ECANCELED;
			if (wd_job_acquire(job))
				others_valid = false;
		}
		if (ret)
			return -EFAULT;
		cur->kaddr = wd_mmu_pfn_kaddr(mmu, pfn, true);
		if (!cur->kaddr)
			return -EFAULT;
		cur->pfn = pfn;
		cur->page_addr = page;
	}
	if (!others_valid)
		return -EAGAIN;
	*kaddr = cur->kaddr + offset_in_page(cur->addr);
	return min_t(u64, PAGE_SIZE - offset_in_page(cur->addr), cur->left);
}
EXPORT_SYMBOL_GPL(wd_mem_map);

/* Does a cursor of @job hold segments (that need the access lock)? */
static bool wd_job_holds_segs(struct wd_mem_job *job)
{
	int i;

	for (i = 0; i < job->nr; i++)
		if (job->cursors[i]->held)
			return true;
	return false;
}

ssize_t wd_mem_segs_limit(struct wd_mem_cursor *cur, struct wd_seg *segs,
			  unsigned int max, unsigned int *nr, u64 limit)
{
	struct wd_mem_job *job = cur->job;
	struct wd_mmu *mmu = wd_job_mmu(job);
	struct device *dev = mmu->wdev->dma_dev;
	const bool *stop = &to_hwq(job->q)->stopping;
	struct wd_seg_fill f = {
		.segs = segs,
		.max = max,
		.dma = dev,
		.cap = dev ? max_t(u32, PAGE_SIZE, dma_get_max_seg_size(dev)) :
			     U32_MAX & PAGE_MASK,
		.limit = limit,
	};
	unsigned int tries = 0;
	unsigned long pfn;
	ssize_t ret;
	bool locked;

	*nr = 0;
	cur->held = 0;
	if (!cur->left)
		return 0;
	if (WARN_ON_ONCE(!max || !limit))
		return -EINVAL;
	for (;;) {
		if (READ_ONCE(*stop))
			return -ECANCELED;
		ret = wd_job_acquire(job);
		if (ret == -EBUSY)
			return wd_job_would_block(job);
		if (ret)
			return ret;
		if (mmu->mode == WD_MMU_SVA)
			ret = wd_sva_segs(mmu, cur, &f);
		else
			ret = wd_share_segs(mmu, cur, &f);
		if (ret != -ENOENT)
			break;
		if (job->nowait)
			return wd_job_would_block(job);
		/* Device fault: never wait for mmap_lock holding access. */
		wd_job_release(job);
		/* One budget of tries for all the faults of this call. */
		ret = wd_fault_check_stop(stop, tries);
		if (!ret) {
			/* The owner is gone: nobody waits for it. */
			if (!mmget_not_zero(mmu->mm))
				return -ECANCELED;
			ret = wd_mmu_fault(mmu, cur->addr, cur->end, cur->write,
					   stop, &tries, &pfn, &locked);
			/* exit_mmap, if it was the last user, runs elsewhere. */
			mmput_async(mmu->mm);
		}
		if (ret == -EINTR || ret == -ECANCELED)
			return -ECANCELED;
		if (ret)
			return -EFAULT;
		if (locked) {
			/* Held since the entries were good: they are there. */
			job->access_held = true;
			if (!wd_job_revalidate(job))
				return -EAGAIN;
		}
	}
	if (ret < 0) {
		if (!wd_job_holds_segs(job))
			wd_job_release(job);
		return ret;
	}
	*nr = f.nr;
	cur->held = ret;
	return ret;
}
EXPORT_SYMBOL_GPL(wd_mem_segs_limit);

ssize_t wd_mem_segs(struct wd_mem_cursor *cur, struct wd_seg *segs,
		    unsigned int max, unsigned int *nr)
{
	return wd_mem_segs_limit(cur, segs, max, nr, U64_MAX);
}
EXPORT_SYMBOL_GPL(wd_mem_segs);

void wd_mem_advance(struct wd_mem_cursor *cur, size_t n)
{
	if (WARN_ON_ONCE(n > cur->left))
		n = cur->left;
	cur->addr += n;
	cur->left -= n;
	if (cur->held) {
		cur->held -= min_t(u64, n, cur->held);
		/* Done with every segment: invalidations may go ahead. */
		if (!wd_job_holds_segs(cur->job))
			wd_job_release(cur->job);
	}
	/* Leaving a page: let invalidations that wait for us go ahead. */
	if (cur->kaddr && (cur->addr & PAGE_MASK) != cur->page_addr) {
		cur->kaddr = NULL;
		if (!wd_job_holds_segs(cur->job))
			wd_job_release(cur->job);
	}
}
EXPORT_SYMBOL_GPL(wd_mem_advance);

void wd_mem_finish(struct wd_mem_cursor *cur)
{
	cur->kaddr = NULL;
	cur->left = 0;
	cur->held = 0;
}
EXPORT_SYMBOL_GPL(wd_mem_finish);

void wd_mem_job_next(struct wd_mem_job *job)
{
	int i;

	for (i = 0; i < job->nr; i++)
		WARN_ON_ONCE(job->cursors[i]->held || job->cursors[i]->kaddr);
	job->nr = 0;
	/* The TLB stays: wd_job_revalidate() empties it if it went stale. */
	wd_job_release(job);
}
EXPORT_SYMBOL_GPL(wd_mem_job_next);

void wd_mem_job_pause(struct wd_mem_job *job)
{
	int i;

	for (i = 0; i < job->nr; i++) {
		job->cursors[i]->held = 0;
		job->cursors[i]->kaddr = NULL;
	}
	wd_job_release(job);
}
EXPORT_SYMBOL_GPL(wd_mem_job_pause);

void wd_mem_job_end(struct wd_mem_job *job)
{
	wd_job_release(job);
	job->nr = 0;
}
EXPORT_SYMBOL_GPL(wd_mem_job_end);
