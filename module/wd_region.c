// SPDX-License-Identifier: GPL-2.0
/*
 * WarpDrive framework: device memory regions in process address spaces.
 *
 * A region is a file (on a small pseudo file system of ours, so that each
 * region has an address space of its own to unmap ranges from) whose pages
 * come from the device's pool (wd_pool.c). It is sparse: a page is taken
 * from the pool when it is first needed, zeroed. The file may be mapped
 * (shared) any number of times by any process it is passed to.
 *
 * How a mapping's entries look depends on the pool's provider:
 *
 * - RAM: VM_MIXEDMAP with normal, refcounted pages, so GUP, MAP_POPULATE,
 *   MADV_POPULATE_*, fork, mremap and hmm_range_fault (the engines' SVA
 *   mirror) all work on them, and since VM_MIXEDMAP is set at mmap time,
 *   vm_insert_page() and vm_insert_pages() may be used under the mmap
 *   lock held for reading (see the comment above vm_insert_page()).
 * - PAGES (a BAR with ZONE_DEVICE struct pages): VM_MIXEDMAP with
 *   device-page entries (vmf_insert_mixed() of PFN_DEV | PFN_MAP pfns):
 *   they hold no page reference, but GUP (which takes one) and
 *   hmm_range_fault recognise them, so the same standard paths work.
 * - PFNMAP (a BAR as raw pfns): VM_IO | VM_PFNMAP with vmf_insert_pfn()
 *   entries, write-combining if the provider asked for it. GUP refuses
 *   such mappings: MAP_POPULATE maps nothing, MADV_POPULATE_* fail with
 *   EINVAL, process_vm_readv() with EFAULT, and an engine's device fault
 *   on them fails (WD_ST_FAULT). Only the paths below populate them.
 *
 * Making pages present and mapped:
 *
 * - ->fault takes the page from the pool if needed; for RAM it returns it
 *   locked and referenced in vmf->page and the core maps it, for the BAR
 *   providers it maps it itself (VM_FAULT_NOPAGE). Before that it maps the
 *   pages of the fault-around window (an aligned block of fault_around
 *   pages around the fault, within the VMA and the region) with
 *   vm_insert_pages(), taking those that are missing from the pool as
 *   well; entries already present are skipped (-EBUSY). A page the pool
 *   cannot give only ends the window; only the faulting page itself is
 *   worth a SIGBUS.
 * - mmap(MAP_POPULATE) and MADV_POPULATE_* go through GUP, which calls
 *   ->fault (each fault maps a whole window).
 * - WD_REGION_IOC_POPULATE makes the pages present and vm_insert_pages()
 *   them, a page table at a time.
 * - A WD_REGION_MAP_ADVANCE mmap makes the pages present (so that it can
 *   fail with -ENOMEM when the pool cannot back them), but maps nothing:
 *   the new VMA is linked into the file's i_mmap only after ->mmap
 *   returns, so a punch or a revocation in between would not see, and not
 *   unmap, what ->mmap inserted. The first fault on the VMA (marked through
 *   vm_private_data) maps all of it, a page table at a time, like the
 *   populate ioctl: by then unmap_mapping_range() reaches it.
 * - fallocate() mode 0 makes pages present without mapping them.
 *
 * Taking pages away (punch-hole, device removal, release):
 *
 * Everything that makes pages present or maps them holds map_lock for
 * reading; what removes pages from the region holds it for writing, takes
 * them out of the xarray and unmaps the range from every mapping. The one
 * mapping made outside map_lock is the faulting RAM page the core maps after
 * ->fault returned: the fault handler locks that page before it drops
 * map_lock, and the remover waits for the page lock of every page it took
 * out, then unmaps again if one got mapped meanwhile. After that nothing
 * maps the pages and no new mapping can appear, and the pages go back to
 * the pool, which holds back any page another reference still reaches
 * (see wd_pool.c). MADV_DONTNEED only zaps page table entries: the pages
 * stay in the region and the next touch maps the same memory again.
 *
 * Device removal revokes every mapping the same way and marks the region
 * dead: later faults raise SIGBUS, region calls fail with -ENODEV. The
 * region file holds a reference on the device and on its driver module
 * while it exists; each mapping holds the file.
 *
 * Lock order: mmap_lock, wd_device.region_lock, map_lock, page lock,
 * i_mmap_rwsem (then the MMU notifiers' locks), pool lock.
 */
#include <linux/fs.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/pfn_t.h>
#include <linux/pseudo_fs.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "wd_internal.h"


/* Pages made present and mapped in one go: one page table's worth. */
#define WD_REGION_BATCH		512
/* The fault handler works on the stack, this many pages at a time. */
#define WD_FAULT_CHUNK		16

static unsigned int region_fault_around = 16;
module_param(region_fault_around, uint, 0644);
MODULE_PARM_DESC(region_fault_around,
		 "pages a fault on a device memory region maps by default (a power of two, 1-512, default 16)");

/**
 * struct wd_region - a region of device memory: the private data of its file
 * @wdev: the device; the region holds a reference on @wdev->dev and on the
 *        driver module.
 * @charge: account of the user who opened the device it was created on.
 * @mapping: the file's own address space, to unmap ranges of every mapping.
 * @node: entry in &wd_device.regions, under &wd_device.region_lock.
 * @nr_pages: size in pages.
 * @flags: WD_REGION_* given at creation.
 * @fault_around: pages per fault, or 0 for the module parameter.
 * @map_lock: held for reading by everything that makes pages present or
 *            maps them, for writing by what takes pages out of @pages;
 *            protects @dead.
 * @pages: page offset -> number of the pool page (an xarray value). Each
 *         entry holds the reference the pool handed out with the page.
 *         Entries are added under @map_lock for reading (xa_cmpxchg),
 *         removed under it for writing.
 * @nr_resident: entries in @pages.
 * @dead: the device was unregistered; every mapping was revoked.
 */
struct wd_region {
	struct wd_device *wdev;
	struct wd_charge *charge;
	struct address_space *mapping;
	struct list_head node;
	pgoff_t nr_pages;
	u32 flags;
	u32 fault_around;
	struct rw_semaphore map_lock;
	struct xarray pages;
	atomic_long_t nr_resident;
	bool dead;
};

static struct vfsmount *wd_region_mnt;
static const struct vm_operations_struct wd_region_vm_ops;

/* vm_private_data of a MAP_ADVANCE mapping not mapped yet. */
#define WD_VMA_ADVANCE		((void *)1UL)

/*
 * Scratch room for a batch of @n pages: pool page numbers of the range,
 * numbers fresh from the pool, struct pages to insert (RAM).
 */
struct wd_batch {
	u32 *idx;
	u32 *spare;
	struct page **pages;
	unsigned long n;
};

/*
 * --- Charges: per-user accounting against devmem_user_quota ----------
 *
 * One charge per user (kuid of the effective uid that opened the device)
 * and device, shared by every context that user opens and every region
 * created through them: closing and reopening the device does not give a
 * fresh quota.
 */

/**
 * wd_charge_get() - the charge of a user on a device
 * @wdev: the device
 * @uid: the user
 *
 * Return: a new reference on the user's charge (made if there was none),
 * or NULL when memory ran out.
 */
struct wd_charge *wd_charge_get(struct wd_device *wdev, kuid_t uid)
{
	unsigned long key = __kuid_val(uid);
	struct wd_charge *charge;

	mutex_lock(&wdev->charge_lock);
	/* A charge found here has references: the last put erases it first. */
	charge = xa_load(&wdev->charges, key);
	if (charge) {
		kref_get(&charge->ref);
		goto out;
	}
	charge = kzalloc(sizeof(*charge), GFP_KERNEL);
	if (!charge)
		goto out;
	kref_init(&charge->ref);
	charge->wdev = wdev;
	charge->uid = uid;
	if (xa_err(xa_store(&wdev->charges, key, charge, GFP_KERNEL))) {
		kfree(charge);
		charge = NULL;
	}
out:
	mutex_unlock(&wdev->charge_lock);
	return charge;
}

/* Called by kref_put_mutex() with charge_lock held; drops it. */
static void wd_charge_free(struct kref *ref)
{
	struct wd_charge *charge = container_of(ref, struct wd_charge, ref);
	struct wd_device *wdev = charge->wdev;

	lockdep_assert_held(&wdev->charge_lock);
	xa_erase(&wdev->charges, __kuid_val(charge->uid));
	mutex_unlock(&wdev->charge_lock);
	kfree(charge);
}

void wd_charge_put(struct wd_charge *charge)
{
	if (charge)
		kref_put_mutex(&charge->ref, wd_charge_free,
			       &charge->wdev->charge_lock);
}

/* Charge up to @n pages to @r's user; returns how many the quota allows. */
static unsigned long wd_charge_take(struct wd_region *r, unsigned long n)
{
	u64 quota = READ_ONCE(r->wdev->devmem_user_quota);
	long cur, grant, limit = quota >> PAGE_SHIFT;

	if (!quota) {
		atomic_long_add(n, &r->charge->pages);
		return n;
	}
	cur = atomic_long_read(&r->charge->pages);
	do {
		if (cur >= limit)
			return 0;
		grant = min_t(long, n, limit - cur);
	} while (!atomic_long_try_cmpxchg(&r->charge->pages, &cur,
					  cur + grant));
	return grant;
}

static void wd_charge_drop(struct wd_region *r, unsigned long n)
{
	atomic_long_sub(n, &r->charge->pages);
}

/* --- Pages of a region ---------------------------------------------- */

static unsigned int wd_region_window(struct wd_region *r)
{
	unsigned int w = r->fault_around ? r->fault_around :
			 READ_ONCE(region_fault_around);

	return rounddown_pow_of_two(clamp_t(unsigned int, w, 1,
					    WD_REGION_FAULT_AROUND_MAX));
}

/*
 * Make pages [@first, @first + @n) of @r present, taking the missing ones
 * from the pool, and put their pool numbers in @b->idx (@n at most @b->n).
 * Stops at the first page it cannot have and says why in *@err (-ENOSPC:
 * pool empty, -EDQUOT: quota reached, -ENOMEM).
 *
 * The caller holds @r->map_lock, which keeps the pages in @r (and so
 * alive) until it drops it.
 *
 * Return: the number of pages present from @first on.
 */
static unsigned long wd_region_fill(struct wd_region *r, pgoff_t first,
				    unsigned long n, struct wd_batch *b,
				    int *err)
{
	unsigned long i, missing = n, granted, got = 0, used = 0;
	struct wd_pool *pool = r->wdev->pool;
	XA_STATE(xas, &r->pages, first);
	u32 *idx = b->idx, *spare = b->spare;
	void *cur;
	int why;

	lockdep_assert_held(&r->map_lock);
	/*
	 * One walk over the range. Nothing leaves it while map_lock is held;
	 * a page another filler adds meanwhile is found by xa_cmpxchg().
	 */
	for (i = 0; i < n; i++)
		idx[i] = WD_CHAIN_END;
	rcu_read_lock();
	xas_for_each(&xas, cur, first + n - 1) {
		if (xas_retry(&xas, cur))
			continue;
		idx[xas.xa_index - first] = xa_to_value(cur);
		missing--;
	}
	rcu_read_unlock();
	if (!missing)
		return n;

	granted = wd_charge_take(r, missing);
	if (granted)
		got = wd_pool_alloc(pool, spare, granted);
	if (got < granted)
		wd_charge_drop(r, granted - got);
	why = got < granted ? -ENOSPC : -EDQUOT;

	for (i = 0; i < n; i++) {
		if (idx[i] != WD_CHAIN_END)
			continue;
		if (used == got)
			break;
		cur = xa_cmpxchg(&r->pages, first + i, NULL,
				 xa_mk_value(spare[used]), GFP_KERNEL);
		if (xa_is_err(cur)) {
			why = xa_err(cur);
			break;
		}
		if (cur) {
			/* Another fault got there first; keep ours for later. */
			idx[i] = xa_to_value(cur);
			continue;
		}
		idx[i] = spare[used++];
		atomic_long_inc(&r->nr_resident);
	}
	if (used < got) {
		struct wd_chain unused;

		/* map_lock keeps the region from being revoked meanwhile. */
		wd_chain_init(&unused);
		wd_charge_drop(r, got - used);
		while (used < got)
			wd_chain_add(pool, &unused, spare[used++]);
		wd_pool_get(pool);
		wd_pool_give_back(pool, &unused);
		wd_pool_put(pool);
	}

	for (i = 0; i < n && idx[i] != WD_CHAIN_END; i++)
		;
	if (i < n)
		*err = why;
	return i;
}

/* Map RAM pages, skipping entries already mapped; see wd_region_insert(). */
static long wd_region_insert_ram(struct vm_area_struct *vma,
				 unsigned long addr, struct page **pages,
				 unsigned long n)
{
	unsigned long num, done;
	long mapped = 0;
	int ret;

	while (n) {
		num = n;
		ret = vm_insert_pages(vma, addr, pages, &num);
		done = n - num;
		mapped += done;
		if (!ret)
			break;
		if (ret != -EBUSY)
			return ret;
		/* pages[done] is mapped already: step over it. */
		done++;
		addr += done << PAGE_SHIFT;
		pages += done;
		n -= done;
	}
	return mapped;
}

/* Map one page of a BAR provider at @addr; an entry there already stays. */
static vm_fault_t wd_region_insert_pfn(struct wd_pool *pool,
				       struct vm_area_struct *vma,
				       unsigned long addr, u32 idx)
{
	unsigned long pfn = wd_pool_pfn(pool, idx);

	if (pool->mode == WD_DEVMEM_PAGES)
		return vmf_insert_mixed(vma, addr,
					__pfn_to_pfn_t(pfn, PFN_DEV | PFN_MAP));
	/* The caching is the memtype of the range: the pool's memremap(). */
	return vmf_insert_pfn(vma, addr, pfn);
}

/*
 * Map the @n present pages of @b at @addr of @vma. RAM entries already
 * mapped are skipped; a BAR provider's are left as they are.
 * Return: pages this call mapped (for a BAR provider: the pages now
 * mapped), or -ENOMEM (no page table) or -EFAULT.
 */
static long wd_region_insert(struct wd_region *r, struct vm_area_struct *vma,
			     unsigned long addr, struct wd_batch *b,
			     unsigned long n)
{
	struct wd_pool *pool = r->wdev->pool;
	unsigned long i;
	vm_fault_t ret;

	if (pool->mode == WD_DEVMEM_RAM) {
		for (i = 0; i < n; i++)
			b->pages[i] = wd_pool_page(pool, b->idx[i]);
		return wd_region_insert_ram(vma, addr, b->pages, n);
	}
	for (i = 0; i < n; i++) {
		ret = wd_region_insert_pfn(pool, vma, addr + (i << PAGE_SHIFT),
					   b->idx[i]);
		if (ret & VM_FAULT_ERROR)
			return ret & VM_FAULT_OOM ? -ENOMEM : -EFAULT;
	}
	return n;
}

/*
 * Make [@start, @end) of @vma present and mapped, @b->n pages at a time.
 * The caller holds the mmap lock and @r->map_lock.
 *
 * Return: the address up to which the range is mapped now; if that is
 * short of @end, *@err says why. *@mapped counts the pages this call mapped.
 */
static unsigned long wd_region_map(struct wd_region *r,
				   struct vm_area_struct *vma,
				   unsigned long start, unsigned long end,
				   struct wd_batch *b, unsigned long *mapped,
				   int *err)
{
	unsigned long n, got;
	pgoff_t pgoff;
	long ret;

	lockdep_assert_held(&r->map_lock);
	while (start < end) {
		n = min(b->n, (end - start) >> PAGE_SHIFT);
		pgoff = vma->vm_pgoff + ((start - vma->vm_start) >> PAGE_SHIFT);
		got = wd_region_fill(r, pgoff, n, b, err);
		if (!got)
			break;
		ret = wd_region_insert(r, vma, start, b, got);
		if (ret < 0) {
			*err = ret;
			break;
		}
		*mapped += ret;
		start += got << PAGE_SHIFT;
		if (got < n)
			break;
		if (start < end)
			cond_resched();
	}
	return start;
}

/*
 * Take pages [@first, @last] out of @r and chain them on @chain.
 * The caller holds @r->map_lock for writing (or is the last user).
 * Return: how many.
 */
static unsigned long wd_region_take(struct wd_region *r, pgoff_t first,
				    pgoff_t last, struct wd_chain *chain)
{
	struct wd_pool *pool = r->wdev->pool;
	unsigned long index = first, nr = 0;
	void *entry;

	/* xa_find() restarts from the index each time: erasing is safe. */
	xa_lock(&r->pages);
	while ((entry = xa_find(&r->pages, &index, last, XA_PRESENT))) {
		__xa_erase(&r->pages, index);
		wd_chain_add(pool, chain, xa_to_value(entry));
		if (!(++nr % XA_CHECK_SCHED)) {
			xa_unlock(&r->pages);
			cond_resched();
			xa_lock(&r->pages);
		}
		if (index++ == last)
			break;
	}
	xa_unlock(&r->pages);
	atomic_long_sub(nr, &r->nr_resident);
	return nr;
}

/*
 * Unmap [@first, @first + @n) from every mapping of @r, for the pages on
 * @chain just taken out of it. Called with @r->map_lock held for writing.
 */
static void wd_region_unmap(struct wd_region *r, pgoff_t first,
			    unsigned long n, struct wd_chain *chain)
{
	struct wd_pool *pool = r->wdev->pool;
	loff_t start = (loff_t)first << PAGE_SHIFT;
	loff_t len = (loff_t)n << PAGE_SHIFT;
	bool again = false;
	unsigned long i = 0;
	struct page *page;
	u32 idx;

	lockdep_assert_held_write(&r->map_lock);
	unmap_mapping_range(r->mapping, start, len, 1);
	/* BAR providers map only under map_lock: nothing can be left. */
	if (pool->mode != WD_DEVMEM_RAM)
		return;
	/*
	 * A fault that found one of the pages before we took map_lock holds
	 * it locked until the core has mapped it: wait, and unmap again.
	 */
	for (idx = chain->head; idx != WD_CHAIN_END; idx = pool->link[idx]) {
		page = wd_pool_page(pool, idx);
		wait_on_page_locked(page);
		if (page_mapped(page))
			again = true;
		if (!(++i % 1024))
			cond_resched();
	}
	if (again)
		unmap_mapping_range(r->mapping, start, len, 1);
}

/*
 * Give pages taken out of @r back to the pool and uncharge them; ends the
 * give-back the caller announced with wd_pool_get().
 */
static void wd_region_put_pages(struct wd_region *r, struct wd_chain *chain)
{
	struct wd_pool *pool = r->wdev->pool;

	if (chain->nr) {
		wd_charge_drop(r, chain->nr);
		wd_pool_give_back(pool, chain);
	}
	wd_pool_put(pool);
}

static int wd_region_punch(struct wd_region *r, pgoff_t first,
			   unsigned long n)
{
	struct wd_chain gone;

	wd_chain_init(&gone);
	down_write(&r->map_lock);
	if (r->dead) {
		up_write(&r->map_lock);
		return -ENODEV;
	}
	/* Before map_lock goes: the pool's memory stays until we are done. */
	wd_pool_get(r->wdev->pool);
	/* With no page in the range, nothing can map it. */
	if (wd_region_take(r, first, first + n - 1, &gone))
		wd_region_unmap(r, first, n, &gone);
	up_write(&r->map_lock);
	wd_region_put_pages(r, &gone);
	return 0;
}

static void wd_region_revoke(struct wd_region *r)
{
	struct wd_chain gone;

	wd_chain_init(&gone);
	down_write(&r->map_lock);
	r->dead = true;
	wd_pool_get(r->wdev->pool);
	wd_region_take(r, 0, ULONG_MAX, &gone);
	wd_region_unmap(r, 0, r->nr_pages, &gone);
	up_write(&r->map_lock);
	wd_region_put_pages(r, &gone);
}

/**
 * wd_region_revoke_all() - revoke the regions of a device being removed
 * @wdev: device; no region can be created any more
 *
 * Unmaps every region from every process and gives its pages back to the
 * pool. Later faults raise SIGBUS; the region files stay until closed.
 */
void wd_region_revoke_all(struct wd_device *wdev)
{
	struct wd_region *r;

	mutex_lock(&wdev->region_lock);
	list_for_each_entry(r, &wdev->regions, node)
		wd_region_revoke(r);
	mutex_unlock(&wdev->region_lock);
}

/* --- Faults --------------------------------------------------------- */

/* Scratch room for batches of WD_REGION_BATCH pages. */
static int wd_region_batch_alloc(struct wd_batch *b)
{
	size_t n = WD_REGION_BATCH;

	b->pages = kmalloc_array(n, sizeof(struct page *) + 2 * sizeof(u32),
				 GFP_KERNEL);
	if (!b->pages)
		return -ENOMEM;
	b->idx = (u32 *)(b->pages + n);
	b->spare = b->idx + n;
	b->n = n;
	return 0;
}

static void wd_region_batch_free(struct wd_batch *b)
{
	kfree(b->pages);
	b->pages = NULL;
}

static vm_fault_t wd_region_fault(struct vm_fault *vmf)
{
	u32 idx[WD_FAULT_CHUNK], spare[WD_FAULT_CHUNK];
	struct page *pages[WD_FAULT_CHUNK], *page = NULL;
	struct wd_batch chunk = {
		.idx = idx, .spare = spare, .pages = pages, .n = WD_FAULT_CHUNK,
	};
	struct wd_batch big = { }, *one = &chunk;
	struct vm_area_struct *vma = vmf->vma;
	struct wd_region *r = vma->vm_file->private_data;
	struct wd_pool *pool = r->wdev->pool;
	unsigned long addr = vmf->address & PAGE_MASK;
	unsigned long win, base, start, end, mapped = 1;
	vm_fault_t ret = VM_FAULT_LOCKED;
	bool advance = false;
	u32 self;
	int err = 0;

	atomic64_inc(&r->wdev->stats.devmem_faults);
	if (vmf->pgoff >= r->nr_pages)
		return VM_FAULT_SIGBUS;
	/* First fault of a MAP_ADVANCE mapping: it maps the whole VMA. */
	if (READ_ONCE(vma->vm_private_data) == WD_VMA_ADVANCE)
		advance = !wd_region_batch_alloc(&big);

	down_read(&r->map_lock);
	if (r->dead || !wd_region_fill(r, vmf->pgoff, 1, one, &err)) {
		up_read(&r->map_lock);
		wd_region_batch_free(&big);
		return err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
	}
	self = idx[0];
	if (pool->mode == WD_DEVMEM_RAM) {
		/* The reference the core takes over with vmf->page. */
		page = wd_pool_page(pool, self);
		get_page(page);
	} else {
		/* A BAR page is mapped here, under map_lock. */
		ret = wd_region_insert_pfn(pool, vma, addr, self);
		if (ret & VM_FAULT_ERROR) {
			up_read(&r->map_lock);
			wd_region_batch_free(&big);
			return ret;
		}
	}

	/* Fault-around: map the rest of the aligned window, best effort. */
	win = (unsigned long)wd_region_window(r) << PAGE_SHIFT;
	if (advance) {
		/* Whoever gets here first maps it; a second one finds it mapped. */
		WRITE_ONCE(vma->vm_private_data, NULL);
		wd_region_map(r, vma, vma->vm_start, addr, &big, &mapped, &err);
		wd_region_map(r, vma, addr + PAGE_SIZE, vma->vm_end, &big,
			      &mapped, &err);
	} else if (win > PAGE_SIZE) {
		base = ALIGN_DOWN(addr, win);
		start = max(base, vma->vm_start);
		end = min3(base + win, vma->vm_end,
			   addr + ((r->nr_pages - vmf->pgoff) << PAGE_SHIFT));
		wd_region_map(r, vma, start, addr, one, &mapped, &err);
		wd_region_map(r, vma, addr + PAGE_SIZE, end, one, &mapped,
			      &err);
	}

	/* Locked before map_lock goes: a punch waits until it is mapped. */
	if (page)
		lock_page(page);
	up_read(&r->map_lock);
	wd_region_batch_free(&big);
	atomic64_add(mapped, &r->wdev->stats.devmem_pages_mapped);
	vmf->page = page;
	return ret;
}

static const struct vm_operations_struct wd_region_vm_ops = {
	.fault = wd_region_fault,
};

/* --- File operations ------------------------------------------------ */

static int wd_region_reserve(struct wd_region *r, pgoff_t first,
			     unsigned long n);

static int wd_region_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct wd_region *r = file->private_data;
	int ret = 0;

	/* Device memory is shared; private copies of it are not offered. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff >= r->nr_pages ||
	    vma_pages(vma) > r->nr_pages - vma->vm_pgoff)
		return -EINVAL;

	switch (r->wdev->pool->mode) {
	case WD_DEVMEM_PFNMAP:
		/* Raw pfns: no struct page for GUP, never in a core dump. */
		vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND |
			     VM_DONTDUMP);
		if (r->wdev->devmem.flags & WD_DEVMEM_F_WC)
			vma->vm_page_prot =
				pgprot_writecombine(vma->vm_page_prot);
		break;
	default:
		vm_flags_set(vma, VM_MIXEDMAP | VM_DONTEXPAND | VM_DONTDUMP);
	}
	vma->vm_ops = &wd_region_vm_ops;

	if (r->flags & WD_REGION_MAP_ADVANCE) {
		/*
		 * Take the memory now, map it at the first fault: nothing may
		 * be mapped before the VMA is in i_mmap (see the top).
		 */
		ret = wd_region_reserve(r, vma->vm_pgoff, vma_pages(vma));
		if (ret == -ENOSPC || ret == -EDQUOT)
			ret = -ENOMEM;
		if (!ret)
			vma->vm_private_data = WD_VMA_ADVANCE;
	} else {
		down_read(&r->map_lock);
		if (r->dead)
			ret = -ENODEV;
		up_read(&r->map_lock);
	}
	return ret;
}

/* fallocate() mode 0: make pages present without mapping them. */
static int wd_region_reserve(struct wd_region *r, pgoff_t first,
			     unsigned long n)
{
	unsigned long step, got;
	struct wd_batch batch;
	int ret;

	ret = wd_region_batch_alloc(&batch);
	if (ret)
		return ret;
	while (n) {
		step = min_t(unsigned long, n, WD_REGION_BATCH);
		down_read(&r->map_lock);
		if (r->dead) {
			up_read(&r->map_lock);
			ret = -ENODEV;
			break;
		}
		got = wd_region_fill(r, first, step, &batch, &ret);
		up_read(&r->map_lock);
		if (got < step)
			break;
		ret = 0;
		first += step;
		n -= step;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	wd_region_batch_free(&batch);
	return ret;
}

static long wd_region_fallocate(struct file *file, int mode, loff_t offset,
				loff_t len)
{
	struct wd_region *r = file->private_data;
	u64 size = (u64)r->nr_pages << PAGE_SHIFT;

	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	/* vfs_fallocate() made sure offset >= 0, len > 0, no wrap. */
	if (!PAGE_ALIGNED(offset) || !PAGE_ALIGNED(len) ||
	    offset >= size || len > size - offset)
		return -EINVAL;
	if (mode & FALLOC_FL_PUNCH_HOLE)
		return wd_region_punch(r, offset >> PAGE_SHIFT,
				       len >> PAGE_SHIFT);
	return wd_region_reserve(r, offset >> PAGE_SHIFT, len >> PAGE_SHIFT);
}

static long wd_region_populate(struct file *file,
			       struct wd_region_populate __user *uarg)
{
	struct wd_region *r = file->private_data;
	struct mm_struct *mm = current->mm;
	struct wd_region_populate req;
	unsigned long addr, end, stop, mapped = 0;
	struct vm_area_struct *vma;
	struct wd_batch batch;
	int err = 0;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	if (req.flags || req.pad || req.done || req.reserved[0] ||
	    req.reserved[1])
		return -EINVAL;
	if (!req.len || !PAGE_ALIGNED(req.addr) || !PAGE_ALIGNED(req.len))
		return -EINVAL;
	if (!mm || req.addr + req.len < req.addr ||
	    req.addr + req.len > TASK_SIZE)
		return -EFAULT;
	if (wd_region_batch_alloc(&batch))
		return -ENOMEM;

	addr = req.addr;
	end = req.addr + req.len;
	while (addr < end) {
		if (signal_pending(current)) {
			err = -EINTR;
			break;
		}
		if (mmap_read_lock_killable(mm)) {
			err = -EINTR;
			break;
		}
		vma = vma_lookup(mm, addr);
		if (!vma) {
			err = -EFAULT;
		} else if (vma->vm_ops != &wd_region_vm_ops ||
			   vma->vm_file->private_data != r) {
			err = -EINVAL;
		} else if (!(vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC))) {
			err = -EACCES;
		} else {
			/* One page table at a time, then let others in. */
			stop = min3(end, vma->vm_end,
				    ALIGN_DOWN(addr, PMD_SIZE) + PMD_SIZE);
			down_read(&r->map_lock);
			if (r->dead) {
				err = -ENODEV;
			} else {
				addr = wd_region_map(r, vma, addr, stop,
						     &batch, &mapped, &err);
				if (addr == stop)
					err = 0;
			}
			up_read(&r->map_lock);
		}
		mmap_read_unlock(mm);
		if (err)
			break;
		cond_resched();
	}
	wd_region_batch_free(&batch);
	atomic64_add(mapped, &r->wdev->stats.devmem_pages_mapped);

	req.done = addr - req.addr;
	if (!req.done && err)
		return err;
	if (put_user(req.done, &uarg->done))
		return -EFAULT;
	return 0;
}

static long wd_region_info(struct file *file,
			   struct wd_region_info __user *uarg)
{
	struct wd_region *r = file->private_data;
	struct wd_region_info info = {
		.size = (u64)r->nr_pages << PAGE_SHIFT,
		.flags = r->flags,
		.fault_around = wd_region_window(r),
		.user_quota = READ_ONCE(r->wdev->devmem_user_quota),
	};
	bool dead;

	down_read(&r->map_lock);
	dead = r->dead;
	info.resident = (u64)atomic_long_read(&r->nr_resident) << PAGE_SHIFT;
	info.user_charged = (u64)atomic_long_read(&r->charge->pages) <<
			    PAGE_SHIFT;
	up_read(&r->map_lock);
	if (dead)
		return -ENODEV;
	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

/*
 * The region fd is meant to be passed to other processes: unlike the
 * device file it works from any address space.
 */
static long wd_region_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case WD_REGION_IOC_POPULATE:
		return wd_region_populate(file, uarg);
	case WD_REGION_IOC_INFO:
		return wd_region_info(file, uarg);
	default:
		return -ENOTTY;
	}
}

static int wd_region_release(struct inode *inode, struct file *file)
{
	struct wd_region *r = file->private_data;
	struct wd_device *wdev = r->wdev;
	struct module *owner = wdev->ops->owner;
	struct wd_chain gone;

	mutex_lock(&wdev->region_lock);
	/* Announced before a revocation can miss this region. */
	wd_pool_get(wdev->pool);
	list_del(&r->node);
	mutex_unlock(&wdev->region_lock);

	/* Every mapping held the file: none is left, no fault can come. */
	wd_chain_init(&gone);
	wd_region_take(r, 0, ULONG_MAX, &gone);
	wd_region_put_pages(r, &gone);
	xa_destroy(&r->pages);
	wd_charge_put(r->charge);
	kfree(r);
	module_put(owner);
	put_device(&wdev->dev);
	return 0;
}

/*
 * A region's size is fixed at creation: truncate() and ftruncate() to any
 * other size fail with EPERM (as on a memfd sealed against it) and change
 * nothing; to the same size they succeed. Other attributes are the
 * default's business.
 */
static int wd_region_setattr(struct wd_idmap *idmap, struct dentry *dentry,
			     struct iattr *attr)
{
	if (attr->ia_valid & ATTR_SIZE) {
		if (attr->ia_size != i_size_read(d_inode(dentry)))
			return -EPERM;
		attr->ia_valid &= ~ATTR_SIZE;
	}
	return simple_setattr(idmap, dentry, attr);
}

static const struct inode_operations wd_region_iops = {
	.setattr = wd_region_setattr,
};

static const struct file_operations wd_region_fops = {
	.owner = THIS_MODULE,
	.release = wd_region_release,
	.mmap = wd_region_mmap,
	.fallocate = wd_region_fallocate,
	.unlocked_ioctl = wd_region_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

/**
 * wd_region_create() - WD_IOC_REGION_CREATE: a new region and its fd
 * @ctx: context asking; the region's pages are charged to its user
 * @kreq: struct wd_region_create, copied in; on success its fd is set
 * @filep: on success, the region's file for the caller to install in
 *         @kreq->fd once it has copied @kreq out (or to fput with
 *         put_unused_fd() if that fails)
 *
 * Context: in the device's read section (wd_device_enter()).
 * Return: 0 or a negative errno.
 */
long wd_region_create(struct wd_context *ctx, struct wd_region_create *kreq,
		      struct file **filep)
{
	struct wd_device *wdev = ctx->wdev;
	struct wd_region_create req;
	struct wd_region *r;
	struct inode *inode;
	struct file *file;
	int fd, ret, i;

	req = *kreq;
	if (req.flags & ~(WD_REGION_MAP_ADVANCE | WD_REGION_CLOEXEC) ||
	    req.fd || req.pad)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(req.reserved); i++)
		if (req.reserved[i])
			return -EINVAL;
	if (req.fault_around && (req.fault_around > WD_REGION_FAULT_AROUND_MAX ||
				 !is_power_of_2(req.fault_around)))
		return -EINVAL;
	if (!req.size || !PAGE_ALIGNED(req.size))
		return -EINVAL;
	if (!wdev->pool)
		return -EOPNOTSUPP;
	if (req.size > ((u64)wdev->pool->nr_pages << PAGE_SHIFT))
		return -E2BIG;

	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return -ENOMEM;
	r->nr_pages = req.size >> PAGE_SHIFT;
	r->flags = req.flags & WD_REGION_MAP_ADVANCE;
	r->fault_around = req.fault_around;
	init_rwsem(&r->map_lock);
	xa_init(&r->pages);

	inode = alloc_anon_inode(wd_region_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		ret = PTR_ERR(inode);
		goto err_free;
	}
	/* A regular file to the VFS, so that fallocate() reaches us. */
	inode->i_mode |= S_IFREG;
	inode->i_size = req.size;
	/* ... whose size stays what it is. */
	inode->i_op = &wd_region_iops;

	fd = get_unused_fd_flags(O_RDWR |
				 (req.flags & WD_REGION_CLOEXEC ? O_CLOEXEC : 0));
	if (fd < 0) {
		ret = fd;
		goto err_iput;
	}
	if (!try_module_get(wdev->ops->owner)) {
		ret = -ENODEV;
		goto err_fd;
	}
	/* The file's reference on us, dropped by __fput() with its f_op. */
	__module_get(THIS_MODULE);
	file = alloc_file_pseudo(inode, wd_region_mnt, "wd_region",
				 O_RDWR | O_LARGEFILE, &wd_region_fops);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		module_put(THIS_MODULE);
		goto err_owner;
	}
	file->private_data = r;
	r->mapping = file->f_mapping;
	get_device(&wdev->dev);
	r->wdev = wdev;
	kref_get(&ctx->charge->ref);
	r->charge = ctx->charge;
	mutex_lock(&wdev->region_lock);
	list_add_tail(&r->node, &wdev->regions);
	mutex_unlock(&wdev->region_lock);

	req.fd = fd;
	*kreq = req;
	*filep = file;
	return 0;

err_owner:
	module_put(wdev->ops->owner);
err_fd:
	put_unused_fd(fd);
err_iput:
	iput(inode);
err_free:
	kfree(r);
	return ret;
}

/* --- The pseudo file system the region files live on ----------------- */

static int wd_region_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, WD_REGION_FS_MAGIC) ? 0 : -ENOMEM;
}

/*
 * No .owner: the module mounts it itself for its whole life, and every
 * region file holds the module through its f_op.
 */
static struct file_system_type wd_region_fs_type = {
	.name = "warpdrive_region",
	.init_fs_context = wd_region_init_fs_context,
	.kill_sb = kill_anon_super,
};

int wd_region_fs_init(void)
{
	wd_region_mnt = kern_mount(&wd_region_fs_type);
	if (IS_ERR(wd_region_mnt))
		return PTR_ERR(wd_region_mnt);
	/* Device memory is data: never PROT_EXEC. */
	wd_region_mnt->mnt_flags |= MNT_NOEXEC;
	return 0;
}

void wd_region_fs_exit(void)
{
	kern_unmount(wd_region_mnt);
}
