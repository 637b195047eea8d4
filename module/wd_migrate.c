// SPDX-License-Identifier: GPL-2.0
/*
 * WarpDrive framework: device-private memory (HMM).
 *
 * A driver with memory the CPU cannot address hands the framework a
 * MEMORY_DEVICE_PRIVATE dev_pagemap whose owner is its wd_device, and a
 * callback giving the CPU page that holds the data of each device page
 * (for a real device that would be its DMA engine; wd_soft emulates its
 * device memory with kernel pages it never maps to user space).
 *
 * The framework maps the ZONE_DEVICE struct pages (memremap_pages), hands
 * them out from a free stack and keeps the pages in use on an LRU list.
 * Private anonymous memory moves to the device with migrate_vma_*() in
 * batches; the CPU page table then holds device-private entries, and:
 *
 *  - engines reach the pages through the device MMU: hmm_range_fault()
 *    with the device as dev_private_owner reports them without migrating
 *    them, and the cursor uses the backing page (wd_mmu.c);
 *  - a CPU access (or get_user_pages) faults and migrate_to_ram() brings
 *    the page, and a window of pages around it, back to system memory;
 *  - when the device memory is full, migrating more evicts the least
 *    recently used pages back to system memory (migrate_device_range(),
 *    which needs no virtual address), or fails with -ENOMEM; a migration
 *    never evicts the pages it moved itself (a range larger than the
 *    device moves what fits, the rest is reported as not moved);
 *  - at unregister every page is evicted before memunmap_pages().
 *
 * The device MMU's notifier sees every migration (the CPU page table
 * entries change) and drops the mirrored entries first, waiting for
 * engine accesses through them: no engine touches a page whose contents
 * are being copied, and no translation outlives a freed page.
 *
 * Locking: wd_devpriv.lock (a spinlock: page_free() may run under a page
 * table lock) protects only the allocator. Migrations run under the
 * mmap lock of the address space for reading; eviction needs no mmap
 * lock and only trylocks device pages.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <uapi/linux/magic.h>

#include "wd_internal.h"
#include "wd_trace.h"

/* Pages per migrate_vma_setup() call. */
#define WD_MIGRATE_BATCH	512
/* Pages evicted per round. */
#define WD_EVICT_BATCH		64
#define WD_WINDOW_MAX		64

/**
 * struct wd_devpriv - device-private memory of a device
 * @wdev: the device.
 * @pgmap: the driver's pagemap.
 * @pfn_first: first pfn of the pagemap.
 * @npages: pages in it.
 * @lock: protects @free, @nr_free, @lru, @lru_nodes and @dead.
 * @free: stack of free page indices.
 * @nr_free: entries in @free.
 * @lru: pages handed out, least recently used first.
 * @lru_nodes: one list node per page, on @lru while the page is in use.
 * @owner: per page, the migration call that took it (see &wd_mig.id).
 * @next_id: source of &wd_mig.id.
 * @dead: the device is going away: nothing more is handed out.
 */
struct wd_devpriv {
	struct wd_device *wdev;
	struct dev_pagemap *pgmap;
	unsigned long pfn_first;
	unsigned long npages;
	spinlock_t lock;
	u32 *free;
	unsigned long nr_free;
	struct list_head lru;
	struct list_head *lru_nodes;
	u32 *owner;
	atomic_t next_id;
	bool dead;
};

enum {
	WD_MIG_TO_DEVICE,
	WD_MIG_TO_SYSTEM,
	WD_MIG_CPU_FAULT,
	WD_MIG_EVICT,
};

static unsigned long wd_dp_index(struct wd_devpriv *dp, struct page *page)
{
	return page_to_pfn(page) - dp->pfn_first;
}

static struct wd_devpriv *wd_page_devpriv(struct page *page)
{
	struct wd_device *wdev = page->pgmap->owner;

	return wdev->devpriv;
}

/*
 * The "DMA" of the device: copy one page between system memory and the
 * backing of a device page. Plain 64-bit loads and stores, eight at a
 * time: as fast as copy_page() on hardware, and several times faster
 * under an instruction-set emulator (QEMU TCG, where the tests and
 * benchmarks run), which executes a string instruction one step at a time.
 */
void wd_copy_mem(void *dst, const void *src, size_t len)
{
	const u64 *s = src;
	u64 *d = dst;
	size_t i, n;

	if (((unsigned long)dst | (unsigned long)src) & 7) {
		memcpy(dst, src, len);
		return;
	}
	n = (len / 64) * 8;
	for (i = 0; i < n; i += 8) {
		u64 a = s[i], b = s[i + 1], c = s[i + 2], e = s[i + 3];
		u64 f = s[i + 4], g = s[i + 5], h = s[i + 6], k = s[i + 7];

		d[i] = a;
		d[i + 1] = b;
		d[i + 2] = c;
		d[i + 3] = e;
		d[i + 4] = f;
		d[i + 5] = g;
		d[i + 6] = h;
		d[i + 7] = k;
	}
	if (len % 64)
		memcpy(d + n, s + n, len % 64);
}

static void wd_dma_page(struct page *dst, struct page *src)
{
	void *d = kmap_local_page(dst);
	void *s = kmap_local_page(src);

	wd_copy_mem(d, s, PAGE_SIZE);
	kunmap_local(s);
	kunmap_local(d);
}

/* --- Allocator ----------------------------------------------------- */

static void wd_devpriv_page_free(struct page *page)
{
	struct wd_devpriv *dp = wd_page_devpriv(page);
	unsigned long idx = wd_dp_index(dp, page);

	spin_lock(&dp->lock);
	list_del_init(&dp->lru_nodes[idx]);
	dp->free[dp->nr_free++] = idx;
	spin_unlock(&dp->lock);
}

/*
 * Take up to @n free pages for the migration call @id (0: none); each
 * comes back locked, with one reference.
 */
static unsigned long wd_dp_take(struct wd_devpriv *dp, struct page **pages,
				unsigned long n, u32 id)
{
	unsigned long got = 0, i;

	spin_lock(&dp->lock);
	while (!dp->dead && got < n && dp->nr_free) {
		unsigned long idx = dp->free[--dp->nr_free];

		list_add_tail(&dp->lru_nodes[idx], &dp->lru);
		dp->owner[idx] = id;
		pages[got++] = pfn_to_page(dp->pfn_first + idx);
	}
	spin_unlock(&dp->lock);
	/* Refcount 0 until here: eviction skips them, then they are locked. */
	for (i = 0; i < got; i++)
		zone_device_page_init(pages[i]);
	return got;
}

struct page *wd_devpriv_backing(struct wd_device *wdev, struct page *dpage,
				bool touch)
{
	struct wd_devpriv *dp = wdev->devpriv;

	if (touch) {
		struct list_head *node = &dp->lru_nodes[wd_dp_index(dp, dpage)];

		spin_lock(&dp->lock);
		if (!list_empty(node))
			list_move_tail(node, &dp->lru);
		spin_unlock(&dp->lock);
	}
	return wdev->ops->devpriv_backing(wdev, dpage);
}

unsigned long wd_devpriv_used(struct wd_device *wdev)
{
	struct wd_devpriv *dp = wdev->devpriv;

	return dp ? dp->npages - READ_ONCE(dp->nr_free) : 0;
}

unsigned long wd_devpriv_pages(struct wd_device *wdev)
{
	return wdev->devpriv ? wdev->devpriv->npages : 0;
}

/* --- Back to system memory without a virtual address ---------------- */

/*
 * Migrate the device pages whose src entries migrate_device_range() set
 * up back to system memory. Returns how many moved; the others stay on
 * the device, intact.
 */
static unsigned long wd_dp_evict_pfns(struct wd_devpriv *dp,
				      unsigned long *src, unsigned long *dst,
				      unsigned long n)
{
	unsigned long i, moved = 0;

	for (i = 0; i < n; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *page;

		dst[i] = 0;
		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		page = alloc_page(GFP_HIGHUSER_MOVABLE);
		if (!page)
			continue;	/* stays on the device */
		lock_page(page);
		wd_dma_page(page, wd_devpriv_backing(dp->wdev, spage, false));
		dst[i] = migrate_pfn(page_to_pfn(page)) |
			 (src[i] & MIGRATE_PFN_WRITE);
	}
	migrate_device_pages(src, dst, n);
	for (i = 0; i < n; i++)
		if ((src[i] & MIGRATE_PFN_MIGRATE) && dst[i])
			moved++;
	migrate_device_finalize(src, dst, n);
	return moved;
}

/*
 * Evict up to @want of the least recently used pages, stopping at the
 * first one the migration call @id took (0: no such call).
 */
static unsigned long wd_dp_evict_lru(struct wd_devpriv *dp, unsigned long want,
				     u32 id)
{
	unsigned long src[WD_EVICT_BATCH], dst[WD_EVICT_BATCH];
	unsigned long pfns[WD_EVICT_BATCH];
	unsigned long n = 0, i, used, moved;

	want = min_t(unsigned long, want, WD_EVICT_BATCH);
	spin_lock(&dp->lock);
	used = dp->npages - dp->nr_free;
	while (n < want && n < used && !list_empty(&dp->lru)) {
		struct list_head *node = dp->lru.next;

		/*
		 * Older pages than the caller's own are gone or busy: evicting
		 * what it just moved would only count it twice.
		 */
		if (id && dp->owner[node - dp->lru_nodes] == id)
			break;
		/* Rotate: a page that cannot go now is not retried at once. */
		list_move_tail(node, &dp->lru);
		pfns[n++] = dp->pfn_first + (node - dp->lru_nodes);
	}
	spin_unlock(&dp->lock);

	for (i = 0; i < n; i++)
		migrate_device_range(&src[i], pfns[i], 1);
	moved = wd_dp_evict_pfns(dp, src, dst, n);
	if (moved) {
		atomic64_add(moved, &dp->wdev->stats.evicted_pages);
		atomic64_add(moved, &dp->wdev->stats.migrated_to_system);
		trace_wd_migrate(dp->wdev, 0, n, moved, WD_MIG_EVICT);
	}
	return moved;
}

/*
 * Evict every page of the device. With @wait, keep going until all are
 * free (pages busy in a migration or a fault come free soon).
 */
void wd_devpriv_evict_all(struct wd_device *wdev, bool wait)
{
	struct wd_devpriv *dp = wdev->devpriv;
	unsigned long src[WD_EVICT_BATCH], dst[WD_EVICT_BATCH];
	unsigned long off, n, moved, rounds = 0;

	if (!dp)
		return;
	for (;;) {
		moved = 0;
		for (off = 0; off < dp->npages; off += n) {
			n = min_t(unsigned long, dp->npages - off,
				  WD_EVICT_BATCH);
			migrate_device_range(src, dp->pfn_first + off, n);
			moved += wd_dp_evict_pfns(dp, src, dst, n);
			cond_resched();
		}
		if (moved) {
			atomic64_add(moved, &wdev->stats.evicted_pages);
			atomic64_add(moved, &wdev->stats.migrated_to_system);
			trace_wd_migrate(wdev, 0, dp->npages, moved,
					 WD_MIG_EVICT);
		}
		if (!wait || READ_ONCE(dp->nr_free) == dp->npages)
			break;
		if (++rounds % 1000 == 0)
			dev_warn(&wdev->dev, "%lu device-private pages still busy\n",
				 wd_devpriv_used(wdev));
		msleep(20);
	}
}

/* --- CPU faults ---------------------------------------------------- */

static vm_fault_t wd_devpriv_migrate_to_ram(struct vm_fault *vmf)
{
	struct wd_device *wdev = vmf->page->pgmap->owner;
	unsigned long src[WD_WINDOW_MAX], dst[WD_WINDOW_MAX];
	struct vm_area_struct *vma = vmf->vma;
	unsigned int window = clamp_t(unsigned int, wdev->devpriv_window, 1,
				      WD_WINDOW_MAX);
	struct migrate_vma args = {
		.vma = vma,
		.src = src,
		.dst = dst,
		.pgmap_owner = wdev,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page = vmf->page,
	};
	unsigned long i, addr, moved = 0;
	vm_fault_t ret = 0;

	/* A naturally aligned window around the address, inside the VMA. */
	addr = ALIGN_DOWN(vmf->address, (unsigned long)window << PAGE_SHIFT);
	args.start = max(addr, vma->vm_start);
	args.end = min(addr + ((unsigned long)window << PAGE_SHIFT),
		       vma->vm_end);

	if (migrate_vma_setup(&args))
		return VM_FAULT_SIGBUS;
	atomic64_inc(&wdev->stats.cpu_faults);
	if (!args.cpages)
		return 0;	/* someone else is moving it: retry the fault */

	for (i = 0, addr = args.start; i < args.npages;
	     i++, addr += PAGE_SIZE) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *page;

		dst[i] = 0;
		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		page = alloc_page_vma(GFP_HIGHUSER_MOVABLE, vma, addr);
		if (!page) {
			if (spage == vmf->page)
				ret = VM_FAULT_OOM;
			continue;
		}
		lock_page(page);
		wd_dma_page(page, wd_devpriv_backing(wdev, spage, false));
		dst[i] = migrate_pfn(page_to_pfn(page)) |
			 (src[i] & MIGRATE_PFN_WRITE);
	}
	migrate_vma_pages(&args);
	for (i = 0; i < args.npages; i++)
		if ((src[i] & MIGRATE_PFN_MIGRATE) && dst[i])
			moved++;
	migrate_vma_finalize(&args);

	atomic64_add(moved, &wdev->stats.migrated_to_system);
	trace_wd_migrate(wdev, args.start, args.npages, moved,
			 WD_MIG_CPU_FAULT);
	return ret;
}

static const struct dev_pagemap_ops wd_devpriv_pgmap_ops = {
	.page_free = wd_devpriv_page_free,
	.migrate_to_ram = wd_devpriv_migrate_to_ram,
};

/* --- Migration of a virtual range ---------------------------------- */

/**
 * struct wd_mig - one migration of a range
 * @wdev: device.
 * @src: migrate_vma source array, WD_MIGRATE_BATCH entries.
 * @dst: destination array.
 * @pages: device pages taken for a batch.
 * @moved: pages moved so far.
 * @id: tags the device pages this call takes, so that its own eviction
 *      leaves them alone (0 for none).
 * @short_mem: some page found no device page.
 */
struct wd_mig {
	struct wd_device *wdev;
	unsigned long *src;
	unsigned long *dst;
	struct page **pages;
	u64 moved;
	u32 id;
	bool short_mem;
};

/* Device pages for @need pages of a batch, evicting if allowed. */
static unsigned long wd_mig_get_pages(struct wd_mig *m, unsigned long need)
{
	struct wd_devpriv *dp = m->wdev->devpriv;
	unsigned long got = wd_dp_take(dp, m->pages, need, m->id);
	int idle = 0, rounds = 0;

	/*
	 * Give up when rounds of eviction free nothing (all busy), or others
	 * keep taking what is freed.
	 */
	while (got < need && m->wdev->devpriv_evict && idle < 3 &&
	       rounds++ < 256) {
		if (!wd_dp_evict_lru(dp, need - got, m->id))
			idle++;
		got += wd_dp_take(dp, m->pages + got, need - got, m->id);
	}
	return got;
}

/*
 * Finish a batch whose destination pages are set up: install them, count
 * the pages that moved (into @counter and the caller's total) and release
 * what did not take.
 */
static void wd_mig_commit(struct wd_mig *m, struct migrate_vma *args,
			  atomic64_t *counter, int kind)
{
	unsigned long i, moved = 0;

	migrate_vma_pages(args);
	for (i = 0; i < args->npages; i++)
		if ((args->src[i] & MIGRATE_PFN_MIGRATE) && args->dst[i])
			moved++;
	/* Unlocks and frees the destination pages that did not take. */
	migrate_vma_finalize(args);

	m->moved += moved;
	atomic64_add(moved, counter);
	trace_wd_migrate(m->wdev, args->start, args->npages, moved, kind);
}

/* One batch to the device: [args->start, args->end) inside one VMA. */
static int wd_mig_to_dev(struct wd_mig *m, struct migrate_vma *args)
{
	struct wd_device *wdev = m->wdev;
	unsigned long i, need = 0, got, used = 0;
	int ret;

	ret = migrate_vma_setup(args);
	if (ret || !args->cpages)
		return ret;

	for (i = 0; i < args->npages; i++)
		need += !!(args->src[i] & MIGRATE_PFN_MIGRATE);
	got = wd_mig_get_pages(m, need);
	if (got < need)
		m->short_mem = true;

	for (i = 0; i < args->npages; i++) {
		struct page *spage = migrate_pfn_to_page(args->src[i]);
		struct page *dpage, *back;

		args->dst[i] = 0;
		if (!(args->src[i] & MIGRATE_PFN_MIGRATE) || used == got)
			continue;
		dpage = m->pages[used++];
		back = wd_devpriv_backing(wdev, dpage, false);
		/* No page (a hole or the zero page): the device page is zeroed. */
		if (spage)
			wd_dma_page(back, spage);
		else
			clear_highpage(back);
		args->dst[i] = migrate_pfn(page_to_pfn(dpage));
		if ((args->src[i] & MIGRATE_PFN_WRITE) ||
		    (!spage && (args->vma->vm_flags & VM_WRITE)))
			args->dst[i] |= MIGRATE_PFN_WRITE;
	}
	wd_mig_commit(m, args, &wdev->stats.migrated_to_device,
		      WD_MIG_TO_DEVICE);
	return 0;
}

/* One batch back to system memory. */
static int wd_mig_to_sys(struct wd_mig *m, struct migrate_vma *args)
{
	struct wd_device *wdev = m->wdev;
	unsigned long i, addr;
	int ret;

	ret = migrate_vma_setup(args);
	if (ret || !args->cpages)
		return ret;

	for (i = 0, addr = args->start; i < args->npages;
	     i++, addr += PAGE_SIZE) {
		struct page *spage = migrate_pfn_to_page(args->src[i]);
		struct page *page;

		args->dst[i] = 0;
		if (!spage || !(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		page = alloc_page_vma(GFP_HIGHUSER_MOVABLE, args->vma, addr);
		if (!page) {
			m->short_mem = true;
			continue;
		}
		lock_page(page);
		wd_dma_page(page, wd_devpriv_backing(wdev, spage, false));
		args->dst[i] = migrate_pfn(page_to_pfn(page)) |
			       (args->src[i] & MIGRATE_PFN_WRITE);
	}
	wd_mig_commit(m, args, &wdev->stats.migrated_to_system,
		      WD_MIG_TO_SYSTEM);
	return 0;
}

/*
 * Only private anonymous memory moves to device-private memory. Anything
 * else is left alone before migrate_vma_setup() sees it: it would put
 * page-cache pages behind migration entries in every process mapping the
 * file, and the copy would read through the direct map pages that are not
 * in it (memfd_secret, which is file-backed too: checked by name as well,
 * because vma_is_secretmem() is not exported to modules).
 *
 * @strict (the test_hmm compatible nodes, a test interface) follows
 * test_hmm instead for private file mappings: their copied-on-write pages
 * move, as the upstream selftest (migrate_file_private) expects. Shared
 * and secret mappings are refused there too.
 */
static bool wd_vma_migratable(struct vm_area_struct *vma, bool strict)
{
	struct file *file = vma->vm_file;

	if (file && file_inode(file)->i_sb->s_magic == SECRETMEM_MAGIC)
		return false;
	if (vma->vm_flags & VM_SHARED)
		return false;
	return vma_is_anonymous(vma) || strict;
}

/**
 * wd_devpriv_migrate() - migrate a range of an address space
 * @wdev: device with device-private memory
 * @mm: address space (the caller holds a reference on it)
 * @start: page-aligned start
 * @end: page-aligned end
 * @to_dev: to the device, else back to system memory
 * @strict: test_hmm's rules: a range not fully covered by readable VMAs
 *          fails with -EINVAL; else holes fail with -EFAULT and pages of
 *          unreadable or unmigratable VMAs are left where they are
 *          (either way, shared and secretmem VMAs are never handed to
 *          migrate_vma_setup(), nor, unless @strict, file-backed ones)
 * @moved: set to the pages moved, also on error
 *
 * Return: 0, -EFAULT/-EINVAL as above, -ENOMEM when the device memory is
 * full and eviction is off (or system memory ran out), -EINTR.
 */
int wd_devpriv_migrate(struct wd_device *wdev, struct mm_struct *mm,
		       u64 start, u64 end, bool to_dev, bool strict,
		       u64 *moved)
{
	unsigned long batch = min_t(u64, (end - start) >> PAGE_SHIFT,
				    WD_MIGRATE_BATCH);
	struct wd_mig m = { .wdev = wdev };
	struct vm_area_struct *vma;
	u64 addr, next;
	int ret = 0;

	*moved = 0;
	if (!wdev->devpriv)
		return -EOPNOTSUPP;
	/* Any value but 0 will do; a repeat after 2^32 calls is harmless. */
	do {
		m.id = atomic_inc_return(&wdev->devpriv->next_id);
	} while (!m.id);
	m.src = kvmalloc_array(batch, sizeof(*m.src), GFP_KERNEL);
	m.dst = kvmalloc_array(batch, sizeof(*m.dst), GFP_KERNEL);
	m.pages = kvmalloc_array(batch, sizeof(*m.pages), GFP_KERNEL);
	if (!m.src || !m.dst || !m.pages) {
		ret = -ENOMEM;
		goto out;
	}

	for (addr = start; addr < end; addr = next) {
		struct migrate_vma args = {
			.src = m.src,
			.dst = m.dst,
			.pgmap_owner = wdev,
			.flags = to_dev ? MIGRATE_VMA_SELECT_SYSTEM :
					  MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		};

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		mmap_read_lock(mm);
		vma = vma_lookup(mm, addr);
		if (!vma || (strict && !(vma->vm_flags & VM_READ))) {
			mmap_read_unlock(mm);
			ret = strict ? -EINVAL : -EFAULT;
			break;
		}
		next = min3(end, (u64)vma->vm_end,
			    addr + ((u64)batch << PAGE_SHIFT));
		args.vma = vma;
		args.start = addr;
		args.end = next;
		if (!wd_vma_migratable(vma, strict))
			ret = 0;	/* left in place, reported as failed */
		else if (to_dev && !(vma->vm_flags & VM_READ))
			ret = 0;	/* left in place, reported as failed */
		else if (to_dev)
			ret = wd_mig_to_dev(&m, &args);
		else
			ret = wd_mig_to_sys(&m, &args);
		mmap_read_unlock(mm);
		/* VMAs migrate_vma cannot handle (hugetlb, VM_IO, DAX...). */
		if (ret == -EINVAL && !strict)
			ret = 0;
		if (ret)
			break;
		if (m.short_mem && (!to_dev || !wdev->devpriv_evict)) {
			ret = -ENOMEM;
			break;
		}
		cond_resched();
	}
out:
	*moved = m.moved;
	kvfree(m.pages);
	kvfree(m.dst);
	kvfree(m.src);
	return ret;
}

int wd_devpriv_unshare_locked(struct wd_device *wdev,
			      struct vm_area_struct *vma, unsigned long addr)
{
	unsigned long src, dst;
	struct wd_mig m = { .wdev = wdev, .src = &src, .dst = &dst };
	struct migrate_vma args = {
		.vma = vma,
		.src = &src,
		.dst = &dst,
		.start = addr,
		.end = addr + PAGE_SIZE,
		.pgmap_owner = wdev,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
	};
	int ret;

	lockdep_assert_held(&vma->vm_mm->mmap_lock);
	ret = wd_mig_to_sys(&m, &args);
	return ret ? ret : m.short_mem ? -ENOMEM : 0;
}

/* WD_IOC_MIGRATE */
long wd_ioctl_migrate(struct wd_context *ctx, struct wd_migrate *kreq,
		      bool *report)
{
	struct wd_device *wdev = ctx->wdev;
	unsigned long pfns[WD_FAULT_MAX];
	struct wd_migrate req;
	u64 end, addr, next, here = 0, moved;
	bool to_dev, map;
	int ret, n;

	req = *kreq;
	if (req.flags || memchr_inv(req.reserved, 0, sizeof(req.reserved)))
		return -EINVAL;
	if (req.direction != WD_MIGRATE_TO_DEVICE &&
	    req.direction != WD_MIGRATE_TO_SYSTEM)
		return -EINVAL;
	if (!req.len || !PAGE_ALIGNED(req.addr) || !PAGE_ALIGNED(req.len))
		return -EINVAL;
	end = req.addr + req.len;
	if (end < req.addr || end > ctx->mm->task_size)
		return -EFAULT;
	if (!wdev->devpriv)
		return -EOPNOTSUPP;

	to_dev = req.direction == WD_MIGRATE_TO_DEVICE;
	ret = wd_devpriv_migrate(wdev, ctx->mm, req.addr, end, to_dev, false,
				 &moved);
	req.moved = moved;
	req.failed = 0;
	if (ret && ret != -ENOMEM)
		goto out;
	/* All moved: nothing failed, and the device faults the pages in. */
	if (moved == req.len >> PAGE_SHIFT)
		goto out;

	/*
	 * Count the pages on the device now; after a migration to it, enter
	 * them in the device page table so engines find them without a fault.
	 */
	map = to_dev && ctx->mmu.mode == WD_MMU_SVA;
	for (addr = req.addr; addr < end; addr = next) {
		next = min_t(u64, end, addr + (WD_FAULT_MAX << PAGE_SHIFT));
		n = wd_mmu_snapshot(&ctx->mmu, addr, next, pfns, map);
		if (n < 0) {
			ret = n;
			goto out;
		}
		here += n;
		cond_resched();
	}
	/*
	 * moved + failed never exceeds the range: a page this call moved and
	 * someone else's migration evicted meanwhile counts as moved only.
	 */
	if (to_dev)
		req.failed = (req.len >> PAGE_SHIFT) - max(here, moved);
	else
		req.failed = min(here, (req.len >> PAGE_SHIFT) - moved);
out:
	*kreq = req;		/* the caller copies it out */
	*report = true;
	return ret;
}

/* --- Set-up and teardown ------------------------------------------- */

static int wd_devpriv_show(struct seq_file *s, void *unused)
{
	struct wd_device *wdev = s->private;
	struct wd_devpriv *dp = wdev->devpriv;

	seq_printf(s, "pages %lu\nused %lu\nfree %lu\n", dp->npages,
		   wd_devpriv_used(wdev), READ_ONCE(dp->nr_free));
	seq_printf(s, "window %u\nevict %s\n",
		   clamp_t(unsigned int, wdev->devpriv_window, 1,
			   WD_WINDOW_MAX),
		   wdev->devpriv_evict ? "lru" : "off");
	seq_printf(s, "migrated_to_device %lld\nmigrated_to_system %lld\n",
		   atomic64_read(&wdev->stats.migrated_to_device),
		   atomic64_read(&wdev->stats.migrated_to_system));
	seq_printf(s, "cpu_faults %lld\nevicted_pages %lld\n",
		   atomic64_read(&wdev->stats.cpu_faults),
		   atomic64_read(&wdev->stats.evicted_pages));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(wd_devpriv);

void wd_devpriv_debugfs(struct wd_device *wdev)
{
	if (wdev->devpriv)
		debugfs_create_file("devpriv", 0400, wdev->debugfs, wdev,
				    &wd_devpriv_fops);
}

int wd_devpriv_setup(struct wd_device *wdev)
{
	struct dev_pagemap *pgmap = wdev->devpriv_pgmap;
	struct wd_devpriv *dp;
	unsigned long i;
	void *addr;
	int ret;

	if (!pgmap)
		return 0;
	if (pgmap->type != MEMORY_DEVICE_PRIVATE || pgmap->owner != wdev ||
	    pgmap->nr_range != 1 || !wdev->ops->devpriv_backing ||
	    !range_len(&pgmap->range) ||
	    !PAGE_ALIGNED(pgmap->range.start) ||
	    !PAGE_ALIGNED(range_len(&pgmap->range)) ||
	    range_len(&pgmap->range) >> PAGE_SHIFT > U32_MAX)
		return -EINVAL;

	dp = kzalloc(sizeof(*dp), GFP_KERNEL);
	if (!dp)
		return -ENOMEM;
	dp->wdev = wdev;
	dp->pgmap = pgmap;
	dp->npages = range_len(&pgmap->range) >> PAGE_SHIFT;
	dp->pfn_first = PHYS_PFN(pgmap->range.start);
	spin_lock_init(&dp->lock);
	INIT_LIST_HEAD(&dp->lru);
	dp->free = kvmalloc_array(dp->npages, sizeof(*dp->free), GFP_KERNEL);
	dp->lru_nodes = kvmalloc_array(dp->npages, sizeof(*dp->lru_nodes),
				       GFP_KERNEL);
	dp->owner = kvcalloc(dp->npages, sizeof(*dp->owner), GFP_KERNEL);
	if (!dp->free || !dp->lru_nodes || !dp->owner) {
		ret = -ENOMEM;
		goto err_free;
	}
	/* Lowest pages first. */
	for (i = 0; i < dp->npages; i++) {
		dp->free[i] = dp->npages - 1 - i;
		INIT_LIST_HEAD(&dp->lru_nodes[i]);
	}
	dp->nr_free = dp->npages;

	pgmap->ops = &wd_devpriv_pgmap_ops;
	wdev->devpriv = dp;
	addr = memremap_pages(pgmap, numa_node_id());
	if (IS_ERR_OR_NULL(addr)) {
		ret = addr ? PTR_ERR(addr) : -EFAULT;
		goto err_unset;
	}
	wdev->flags |= WD_DEV_F_DEVPRIV;
	return 0;

err_unset:
	wdev->devpriv = NULL;
	pgmap->ops = NULL;
err_free:
	kvfree(dp->owner);
	kvfree(dp->lru_nodes);
	kvfree(dp->free);
	kfree(dp);
	return ret;
}

void wd_devpriv_teardown(struct wd_device *wdev)
{
	struct wd_devpriv *dp = wdev->devpriv;

	if (!dp)
		return;
	spin_lock(&dp->lock);
	dp->dead = true;
	spin_unlock(&dp->lock);
	/* Nothing is handed out any more: bring every page back, then unmap. */
	wd_devpriv_evict_all(wdev, true);
	memunmap_pages(dp->pgmap);
	dp->pgmap->ops = NULL;
	wdev->devpriv = NULL;
	kvfree(dp->owner);
	kvfree(dp->lru_nodes);
	kvfree(dp->free);
	kfree(dp);
}
