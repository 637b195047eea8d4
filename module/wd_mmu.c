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
 * address space elsewhere never makes a fault start again. A second
 * notifier over the whole address space removes entries before the CPU
 * mapping changes (munmap, mprotect, fork's write protection, COW,
 * migration, exit...); when the range holds no entry it returns without
 * taking any lock. Nothing is pinned. Memory that is not in the kernel
 * direct map (memfd_secret) is never entered.
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
 * Every loop that waits for the address space to hold still is bounded
 * (WD_FAULT_TRIES) and stops when the queue stops, the kthread is told to
 * stop or the caller is killed.
 */
#include <linux/hmm.h>
#include <linux/hugetlb.h>
#include <linux/interval_tree.h>
#include <linux/kthread.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/moduleparam.h>
#include <linux/sched/mm.h>
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

/* --- SVA: invalidation --------------------------------------------- */

/* Remove the entries of pages [@first, @last]; one walk of the xarray. */
static int wd_pt_clear(struct wd_mmu *mmu, unsigned long first,
		       unsigned long last)
{
	XA_STATE(xas, &mmu->pt, first);
	void *entry;
	int n = 0;

	lockdep_assert_held(&mmu->lock);
	xas_lock(&xas);
	xas_for_each(&xas, entry, last) {
		xas_store(&xas, NULL);
		n++;
	}
	xas_unlock(&xas);
	return n;
}

/*
 * Drop the entries of pages [@first, @last] for @range and wait for the
 * accesses through them; @mni, if any, is a fault window whose sequence
 * this invalidation advances (under ->lock, where the fault checks it).
 */
static bool wd_mmu_drop_range(struct wd_mmu *mmu,
			      const struct mmu_notifier_range *range,
			      struct mmu_interval_notifier *mni,
			      unsigned long cur_seq, unsigned long first,
			      unsigned long last)
{
	bool blockable = mmu_notifier_range_blockable(range);
	int dropped;

	if (blockable)
		mutex_lock(&mmu->lock);
	else if (!mutex_trylock(&mmu->lock))
		return false;
	if (mni)
		mmu_interval_set_seq(mni, cur_seq);
	dropped = wd_pt_clear(mmu, first, last);
	if (dropped)
		mmu->gen++;
	mutex_unlock(&mmu->lock);

	if (!dropped)
		return true;
	atomic64_inc(&mmu->invalidations);
	atomic64_inc(&mmu->wdev->stats.invalidations);
	trace_wd_invalidate(mmu->wdev, range->start, range->end, dropped,
			    range->event);

	/* Wait for accesses through the entries just dropped. */
	if (blockable)
		down_write(&mmu->access);
	else if (!down_write_trylock(&mmu->access))
		return false;
	up_write(&mmu->access);
	return true;
}

/*
 * The notifier over the whole address space. Entries are entered only
 * inside a fault window, whose own notifier catches any invalidation of
 * the window that races the fault (below); so entries this one can miss
 * in a lockless look are ones that window's notifier removes, and a range
 * without entries needs no lock at all.
 */
static bool wd_mmu_invalidate(struct mmu_interval_notifier *mni,
			      const struct mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct wd_mmu *mmu = container_of(mni, struct wd_mmu, notifier);
	unsigned long first = range->start >> PAGE_SHIFT;
	unsigned long last = (range->end - 1) >> PAGE_SHIFT;
	unsigned long idx = first;

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
	if (!xa_find(&mmu->pt, &idx, last, XA_PRESENT))
		return true;
	return wd_mmu_drop_range(mmu, range, NULL, 0, first, last);
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

int wd_mmu_window_begin(struct wd_mmu *mmu, struct wd_mmu_window *win,
			u64 start, u64 end)
{
	win->mmu = mmu;
	win->first = start >> PAGE_SHIFT;
	win->last = (end - 1) >> PAGE_SHIFT;
	return mmu_interval_notifier_insert(&win->mni, mmu->mm, start,
					    end - start,
					    &wd_window_notifier_ops);
}

void wd_mmu_window_end(struct wd_mmu_window *win)
{
	mmu_interval_notifier_remove(&win->mni);
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
					     range.notifier_seq))
			break;
		mutex_unlock(&mmu->lock);
		atomic64_inc(&mmu->fault_retries);
	}

	n = (range.end - range.start) >> PAGE_SHIFT;
	for (i = 0; i < n; i++) {
		unsigned long pfn = page_to_pfn(hmm_pfn_to_page(pfns[i]));

		/* No allocation that could reclaim: invalidation takes ->lock. */
		ret = xa_err(xa_store(&mmu->pt, (range.start >> PAGE_SHIFT) + i,
				      wd_pt_entry(pfn, (pfns[i] & HMM_PFN_WRITE) ?
						  WD_PT_WRITE : 0),
				      GFP_NOWAIT | __GFP_NOWARN));
		if (ret)
			break;
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
		ret = xa_err(xa_store(&mmu->pt, (start >> PAGE_SHIFT) + i,
				      wd_pt_entry(page_to_pfn(hmm_pfn_to_page(pfns[i])),
						  (pfns[i] & HMM_PFN_WRITE) ?
						  WD_PT_WRITE : 0),
				      GFP_NOWAIT | __GFP_NOWARN));
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

static struct wd_share *wd_share_find(struct wd_mmu *mmu, u64 addr)
{
	struct interval_tree_node *it;

	lockdep_assert_held(&mmu->lock);
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

static void wd_share_free(struct wd_mmu *mmu, struct wd_share *sh)
{
	unsigned long nr = sh->nr_pages;

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

	mutex_lock(&mmu->lock);
	interval_tree_insert(&sh->it, &mmu->shares);
	mutex_unlock(&mmu->lock);
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
	if (ret)
		return ret;

	/* No engine access to the pages is in flight past this point. */
	down_write(&mmu->access);
	up_write(&mmu->access);
	wd_share_free(mmu, sh);
	return 0;
}

/* --- Context set-up and teardown ----------------------------------- */

int wd_mmu_init(struct wd_mmu *mmu, struct wd_device *wdev,
		struct mm_struct *mm)
{
	mmu->wdev = wdev;
	mmu->mm = mm;
	init_rwsem(&mmu->access);
	mutex_init(&mmu->lock);
	mutex_init(&mmu->share_lock);
	xa_init(&mmu->pt);
	mmu->shares = RB_ROOT_CACHED;
	mmu->mode = (wdev->flags & WD_DEV_F_SVA) ? WD_MMU_SVA : WD_MMU_PINNED;
	return mmu_interval_notifier_insert(&mmu->notifier, mm, 0,
					    ULONG_MAX & PAGE_MASK,
					    &wd_mmu_notifier_ops);
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

	mutex_lock(&mmu->lock);
	if (mode && !RB_EMPTY_ROOT(&mmu->shares.rb_root)) {
		mutex_unlock(&mmu->lock);
		return -EBUSY;
	}
	wd_pt_clear(mmu, 0, ULONG_MAX);
	mmu->gen++;
	swap(shares, mmu->shares);
	if (mode)
		WRITE_ONCE(mmu->mode, mode);
	mutex_unlock(&mmu->lock);

	down_write(&mmu->access);
	up_write(&mmu->access);

	while ((it = interval_tree_iter_first(&shares, 0, ULONG_MAX))) {
		interval_tree_remove(it, &shares);
		wd_share_free(mmu, container_of(it, struct wd_share, it));
	}
	return 0;
}

void wd_mmu_fini(struct wd_mmu *mmu)
{
	mmu_interval_notifier_remove(&mmu->notifier);
	wd_mmu_drop_all(mmu, 0);
	xa_destroy(&mmu->pt);
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
 * Translate the page of @addr. Called with the access lock held.
 * Return: 0 and *pfn, -ENOENT for a miss that a fault may fix, -EFAULT.
 */
static int wd_mmu_lookup(struct wd_mmu *mmu, u64 addr, bool write,
			 unsigned long *pfn)
{
	struct wd_share *sh;
	void *entry;
	int ret = 0;

	mutex_lock(&mmu->lock);
	if (mmu->mode == WD_MMU_SVA) {
		entry = xa_load(&mmu->pt, addr >> PAGE_SHIFT);
		if (!entry || (write && !(wd_pt_flags(entry) & WD_PT_WRITE)))
			ret = -ENOENT;
		else
			*pfn = wd_pt_pfn(entry);
	} else {
		sh = wd_share_find(mmu, addr);
		if (!sh || (write && !sh->writable))
			ret = -EFAULT;
		else
			*pfn = page_to_pfn(wd_share_page(sh, addr));
	}
	mutex_unlock(&mmu->lock);
	return ret;
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
	for (i = 0; i < job->nr; i++) {
		struct wd_mem_cursor *cur = job->cursors[i];

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

static bool wd_job_acquire(struct wd_mem_job *job)
{
	if (job->access_held)
		return true;
	down_read(&wd_job_mmu(job)->access);
	job->access_held = true;
	return wd_job_revalidate(job);
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
	if (!wd_job_acquire(job))
		others_valid = false;
	if (!cur->kaddr || cur->page_addr != page) {
		for (;;) {
			bool locked;

			ret = wd_mmu_lookup(mmu, page, cur->write, &pfn);
			if (ret != -ENOENT)
				break;
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
			if (!wd_job_acquire(job))
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

void wd_mem_advance(struct wd_mem_cursor *cur, size_t n)
{
	if (WARN_ON_ONCE(n > cur->left))
		n = cur->left;
	cur->addr += n;
	cur->left -= n;
	/* Leaving a page: let invalidations that wait for us go ahead. */
	if (cur->kaddr && (cur->addr & PAGE_MASK) != cur->page_addr) {
		cur->kaddr = NULL;
		wd_job_release(cur->job);
	}
}
EXPORT_SYMBOL_GPL(wd_mem_advance);

void wd_mem_finish(struct wd_mem_cursor *cur)
{
	cur->kaddr = NULL;
	cur->left = 0;
}
EXPORT_SYMBOL_GPL(wd_mem_finish);

void wd_mem_job_end(struct wd_mem_job *job)
{
	wd_job_release(job);
	job->nr = 0;
}
EXPORT_SYMBOL_GPL(wd_mem_job_end);
