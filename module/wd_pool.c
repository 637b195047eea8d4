// SPDX-License-Identifier: GPL-2.0
/*
 * WarpDrive framework: the device memory pool.
 *
 * The memory of a device is a fixed set of pages, numbered 0 to nr_pages - 1,
 * that a provider (see &struct wd_devmem_provider) gives when the device
 * registers:
 *
 * - RAM: order-0 pages of system RAM allocated here (a stand-in for the
 *   memory of a real device, which cannot grow either);
 * - PAGES: a physical range of the driver's (a PCI BAR), given struct
 *   pages from ZONE_DEVICE (MEMORY_DEVICE_GENERIC) with memremap_pages();
 * - PFNMAP: a physical range of the driver's with no struct pages; the
 *   kernel reaches it through one memremap() mapping, to zero it.
 *
 * Regions (wd_region.c) take pages from the pool by number and give them
 * back; the pool never allocates afterwards. Free and held pages are kept
 * on chains linked through the pool's own link array, never through the
 * struct page (a ZONE_DEVICE page's lru is its pgmap).
 *
 * References (RAM and PAGES): a free page holds exactly one reference, the
 * pool's (a ZONE_DEVICE generic page is born with a count of one and never
 * drops below it). A page handed out keeps it; GUP users add their own
 * (device-page entries in PAGES mode hold none, refcounted RAM entries do).
 * A page given back while anything else still holds a reference (a pin
 * taken through the mapping before it was unmapped, a lookup racing with
 * the punch) must not reach the next user: it waits on the held chain
 * until its count is back to one, so device memory that something can
 * still reach is never reused, and none is lost either. PFNMAP pages
 * cannot be referenced: they are free as soon as they are unmapped.
 *
 * Nothing tells us when such a reference goes, so the held chain is looked
 * at, a bounded number of pages per hold of the pool lock: by an
 * allocation that finds the free chain short (at most WD_POOL_SCAN pages),
 * and off the hot path by a work item that runs while pages are held (at
 * once after a give-back left some, then every WD_POOL_RECLAIM_DELAY).
 * Reading the usage only reads the counters.
 *
 * Removal (wd_pool_drain(), after every region was revoked): RAM pages go
 * back to the system (a held one when its last other reference goes), the
 * PFNMAP kernel mapping goes. PAGES memory is unmapped from the kernel
 * (memunmap_pages()) only when no page is held any more: the work item
 * keeps looking until then, and owns the pool once the device is freed
 * (wd_pool_exit() waits for the last of them).
 *
 * Zeroing: a page is zeroed before any process can see it, whatever the
 * provider, and never while it stays in a region. Where depends on the
 * provider. RAM pages are zeroed when they are handed out (by a fault, a
 * reservation or a populate), as anonymous memory is. A BAR is zeroed once
 * when the pool is built, and then each page when it is given back (punch,
 * region release, exit), by the caller that gives it back, outside the
 * pool lock: handing BAR memory out costs no zeroing, so every population
 * path maps already-zeroed memory. Pages that come back through the held
 * chain are zeroed when they are handed out again (the "dirty" chain), not
 * under the lock.
 */
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>

#include "wd_internal.h"

/* The pool is built once; try hard, but never invoke the OOM killer. */
#define WD_POOL_GFP	(GFP_KERNEL | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)
/* Pages given back per hold of the pool lock. */
#define WD_POOL_BATCH	512
/* Held pages looked at per hold of the pool lock. */
#define WD_POOL_SCAN	256
/* How often the held chain is looked at while it is not empty. */
#define WD_POOL_RECLAIM_DELAY	(HZ / 10)

/* Pools of departed devices whose ZONE_DEVICE pages are still held. */
static atomic_t wd_pools_lingering = ATOMIC_INIT(0);

/*
 * Physical ranges this module gave struct pages, from memremap_pages()
 * until memunmap_pages() has returned. get_dev_pagemap() cannot tell: it
 * stops finding a pagemap as soon as its teardown starts, while the struct
 * pages of the range exist until the teardown ends, and mapping the range
 * again before that fails inside the memory hotplug code (with a WARN).
 */
static LIST_HEAD(wd_pool_remapped);
/* Protects wd_pool_remapped; held across memremap_pages() to add to it. */
static DEFINE_MUTEX(wd_pool_remap_lock);

static void wd_pool_reclaim_work(struct work_struct *work);

/* --- Chains of page numbers ------------------------------------------ */

void wd_chain_init(struct wd_chain *c)
{
	c->head = WD_CHAIN_END;
	c->tail = WD_CHAIN_END;
	c->nr = 0;
}

/* Append page @idx; whoever owns the page owns its link. */
void wd_chain_add(struct wd_pool *pool, struct wd_chain *c, u32 idx)
{
	pool->link[idx] = WD_CHAIN_END;
	if (c->tail == WD_CHAIN_END)
		c->head = idx;
	else
		pool->link[c->tail] = idx;
	c->tail = idx;
	c->nr++;
}

static u32 wd_chain_pop(struct wd_pool *pool, struct wd_chain *c)
{
	u32 idx = c->head;

	c->head = pool->link[idx];
	if (c->head == WD_CHAIN_END)
		c->tail = WD_CHAIN_END;
	c->nr--;
	return idx;
}

/* --- Pages by number ------------------------------------------------- */

/**
 * wd_pool_page() - the struct page of page @idx
 * @pool: the pool
 * @idx: page number
 *
 * Return: the page, or NULL in PFNMAP mode (there is none).
 */
struct page *wd_pool_page(struct wd_pool *pool, u32 idx)
{
	switch (pool->mode) {
	case WD_DEVMEM_RAM:
		return pool->ram[idx];
	case WD_DEVMEM_PAGES:
		return pfn_to_page(pool->base_pfn + idx);
	default:
		return NULL;
	}
}

/**
 * wd_pool_pfn() - the page frame number of page @idx
 * @pool: the pool
 * @idx: page number
 *
 * Return: the pfn.
 */
unsigned long wd_pool_pfn(struct wd_pool *pool, u32 idx)
{
	if (pool->mode == WD_DEVMEM_RAM)
		return page_to_pfn(pool->ram[idx]);
	return pool->base_pfn + idx;
}

/* Can page @idx go back to the free chain: does only the pool hold it? */
static bool wd_pool_unreferenced(struct wd_pool *pool, u32 idx)
{
	struct page *page = wd_pool_page(pool, idx);

	return !page || page_ref_count(page) == 1;
}

static void wd_pool_zero(struct wd_pool *pool, u32 idx)
{
	if (pool->mode == WD_DEVMEM_PFNMAP)
		memset(pool->kaddr + ((size_t)idx << PAGE_SHIFT), 0, PAGE_SIZE);
	else
		clear_highpage(wd_pool_page(pool, idx));
}

/* --- Building and freeing -------------------------------------------- */

static void wd_pool_free_ram(struct wd_pool *pool)
{
	unsigned long i;

	for (i = 0; i < pool->nr_pages; i++) {
		/* A page something still holds goes when it lets go. */
		if (pool->ram[i])
			put_page(pool->ram[i]);
		if (!(i % 1024))
			cond_resched();
	}
}

static int wd_pool_build_ram(struct wd_pool *pool)
{
	unsigned long i;

	pool->ram = kvcalloc(pool->nr_pages, sizeof(*pool->ram), GFP_KERNEL);
	if (!pool->ram)
		return -ENOMEM;
	for (i = 0; i < pool->nr_pages; i++) {
		pool->ram[i] = alloc_page(WD_POOL_GFP);
		if (!pool->ram[i])
			return -ENOMEM;
		if (!(i % 1024)) {
			if (fatal_signal_pending(current))
				return -EINTR;
			cond_resched();
		}
	}
	return 0;
}

#if IS_ENABLED(CONFIG_ZONE_DEVICE)
/* Does a range of ours, mapped or still being unmapped, overlap @prov's? */
static bool wd_pool_range_busy(const struct wd_devmem_provider *prov)
{
	phys_addr_t end = prov->phys + prov->size - 1;
	struct dev_pagemap *old;
	struct wd_pool *pool;

	lockdep_assert_held(&wd_pool_remap_lock);
	list_for_each_entry(pool, &wd_pool_remapped, remapped)
		if (pool->pgmap.range.start <= end &&
		    prov->phys <= pool->pgmap.range.end)
			return true;
	/* Someone else's pagemap (not torn down) at either end. */
	old = get_dev_pagemap(PHYS_PFN(prov->phys), NULL);
	if (!old)
		old = get_dev_pagemap(PHYS_PFN(end), NULL);
	if (old) {
		put_dev_pagemap(old);
		return true;
	}
	return false;
}

static int wd_pool_build_pages(struct wd_pool *pool,
			       const struct wd_devmem_provider *prov)
{
	void *addr;
	int ret = 0;

	/*
	 * The range may still have struct pages from an earlier binding
	 * (a page of it is still pinned, or their teardown is under way):
	 * it cannot have them twice.
	 */
	mutex_lock(&wd_pool_remap_lock);
	if (wd_pool_range_busy(prov)) {
		ret = -EBUSY;
		goto out;
	}
	pool->pgmap.type = MEMORY_DEVICE_GENERIC;
	pool->pgmap.range.start = prov->phys;
	pool->pgmap.range.end = prov->phys + prov->size - 1;
	pool->pgmap.nr_range = 1;
	addr = memremap_pages(&pool->pgmap, NUMA_NO_NODE);
	if (IS_ERR(addr)) {
		ret = PTR_ERR(addr);
		goto out;
	}
	pool->base_pfn = PHYS_PFN(prov->phys);
	pool->mapped = true;
	list_add(&pool->remapped, &wd_pool_remapped);
out:
	mutex_unlock(&wd_pool_remap_lock);
	return ret;
}

static void wd_pool_unmap_pages(struct wd_pool *pool)
{
	memunmap_pages(&pool->pgmap);
	/* Only now may the range be given struct pages again. */
	mutex_lock(&wd_pool_remap_lock);
	list_del(&pool->remapped);
	mutex_unlock(&wd_pool_remap_lock);
}
#else
static int wd_pool_build_pages(struct wd_pool *pool,
			       const struct wd_devmem_provider *prov)
{
	return -EOPNOTSUPP;
}

static void wd_pool_unmap_pages(struct wd_pool *pool)
{
}
#endif

static int wd_pool_build_pfnmap(struct wd_pool *pool,
				const struct wd_devmem_provider *prov)
{
	pool->kaddr = memremap(prov->phys, prov->size,
			       prov->flags & WD_DEVMEM_F_WC ? MEMREMAP_WC :
			       MEMREMAP_WB);
	if (!pool->kaddr)
		return -ENOMEM;
	pool->base_pfn = PHYS_PFN(prov->phys);
	return 0;
}

/*
 * What the provider gave goes back: RAM pages to the system (a page still
 * referenced elsewhere when its last reference goes), the BAR's struct
 * pages or kernel mapping. Done once, when nothing is handed out and, for
 * ZONE_DEVICE pages, nothing holds one any more.
 */
static void wd_pool_release(struct wd_pool *pool)
{
	switch (pool->mode) {
	case WD_DEVMEM_RAM:
		if (pool->ram)
			wd_pool_free_ram(pool);
		kvfree(pool->ram);
		pool->ram = NULL;
		break;
	case WD_DEVMEM_PAGES:
		if (pool->mapped)
			wd_pool_unmap_pages(pool);
		pool->mapped = false;
		break;
	case WD_DEVMEM_PFNMAP:
		if (pool->kaddr)
			memunmap(pool->kaddr);
		pool->kaddr = NULL;
		break;
	}
}

static void wd_pool_free(struct wd_pool *pool)
{
	kvfree(pool->link);
	kfree(pool);
}

/**
 * wd_pool_create() - build the device memory pool of a device
 * @wdev: device being registered; nothing is done if its devmem_size is 0
 *
 * Return: 0, -ENOMEM if the memory could not be had, -EINTR if a fatal
 * signal arrived while it was being allocated, or the errno of
 * memremap_pages() (PAGES mode).
 */
int wd_pool_create(struct wd_device *wdev)
{
	const struct wd_devmem_provider *prov = &wdev->devmem;
	unsigned long i, nr = wdev->devmem_size >> PAGE_SHIFT;
	struct wd_pool *pool;
	int ret;

	if (!nr)
		return 0;
	if (nr >= WD_CHAIN_END)
		return -E2BIG;
	pool = kzalloc(sizeof(*pool), GFP_KERNEL);
	if (!pool)
		return -ENOMEM;
	spin_lock_init(&pool->lock);
	wd_chain_init(&pool->clean);
	wd_chain_init(&pool->dirty);
	wd_chain_init(&pool->held);
	INIT_DELAYED_WORK(&pool->reclaim, wd_pool_reclaim_work);
	pool->mode = prov->mode;
	pool->nr_pages = nr;

	pool->link = kvmalloc_array(nr, sizeof(*pool->link), GFP_KERNEL);
	if (!pool->link) {
		ret = -ENOMEM;
		goto err;
	}
	switch (pool->mode) {
	case WD_DEVMEM_RAM:
		ret = wd_pool_build_ram(pool);
		break;
	case WD_DEVMEM_PAGES:
		ret = wd_pool_build_pages(pool, prov);
		break;
	case WD_DEVMEM_PFNMAP:
		ret = wd_pool_build_pfnmap(pool, prov);
		break;
	default:
		ret = -EINVAL;
	}
	if (ret)
		goto err;
	/* A BAR is zeroed once, here; RAM pages when they are handed out. */
	pool->zero_on_free = pool->mode != WD_DEVMEM_RAM;
	for (i = 0; i < nr; i++) {
		if (pool->zero_on_free) {
			wd_pool_zero(pool, i);
			if (!(i % 1024))
				cond_resched();
		}
		wd_chain_add(pool, pool->zero_on_free ? &pool->clean :
			     &pool->dirty, i);
	}
	wdev->pool = pool;
	return 0;

err:
	wd_pool_release(pool);
	wd_pool_free(pool);
	return ret;
}

/*
 * Look at up to @budget held pages, oldest first: those no one else
 * references any more go to the free chain (or, once the device is gone,
 * nowhere: the provider takes them back with the rest), the others to the
 * tail of the held chain. Returns how many were looked at.
 */
static unsigned long wd_pool_reclaim(struct wd_pool *pool,
				     unsigned long budget)
{
	unsigned long seen = 0;
	u32 idx;

	lockdep_assert_held(&pool->lock);
	budget = min(budget, pool->held.nr);
	while (seen < budget) {
		idx = wd_chain_pop(pool, &pool->held);
		seen++;
		/*
		 * Nothing maps it and no region has it: a count of one is the
		 * pool's own reference and cannot go up again (a lockless
		 * GUP that raced with the unmapping drops what it took).
		 */
		if (!wd_pool_unreferenced(pool, idx))
			wd_chain_add(pool, &pool->held, idx);
		else if (!pool->dead)
			/* Not zeroed under the lock: when it is handed out. */
			wd_chain_add(pool, &pool->dirty, idx);
	}
	return seen;
}

/*
 * Off the hot path: one pass over the held chain, a batch per hold of the
 * lock; comes back later while pages are still held. Once the device is
 * gone it runs only for ZONE_DEVICE pages still held: when the last is let
 * go it gives the memory back, and frees the pool if the device is freed.
 */
static void wd_pool_reclaim_work(struct work_struct *work)
{
	struct wd_pool *pool = container_of(to_delayed_work(work),
					    struct wd_pool, reclaim);
	bool release = false, last = false;
	unsigned long left, seen;

	spin_lock(&pool->lock);
	left = pool->held.nr;
	while (left && (!pool->dead || pool->mode == WD_DEVMEM_PAGES)) {
		seen = wd_pool_reclaim(pool, min_t(unsigned long, left,
						   WD_POOL_SCAN));
		if (!seen)
			break;
		left -= min(left, seen);
		spin_unlock(&pool->lock);
		cond_resched();
		spin_lock(&pool->lock);
	}
	if (pool->dead && !pool->held.nr && !pool->released) {
		pool->released = true;
		release = true;
		/* The device is freed and nothing holds a page: ours to free. */
		last = pool->orphan;
	} else if (pool->held.nr &&
		   (!pool->dead || pool->mode == WD_DEVMEM_PAGES)) {
		queue_delayed_work(system_unbound_wq, &pool->reclaim,
				   WD_POOL_RECLAIM_DELAY);
	}
	spin_unlock(&pool->lock);
	if (release)
		wd_pool_release(pool);
	if (last) {
		/* Not queued again; freeing the work item in it is allowed. */
		wd_pool_free(pool);
		if (atomic_dec_and_test(&wd_pools_lingering))
			wake_up_var(&wd_pools_lingering);
	}
}

/**
 * wd_pool_alloc() - take zeroed pages from the pool
 * @pool: the pool
 * @idx: where the numbers of the pages go
 * @n: how many are wanted
 *
 * Each page comes with the pool's reference, which passes to the caller.
 *
 * Return: the number of pages taken, fewer than @n (maybe 0) when the
 * pool runs out or the device is gone.
 */
unsigned long wd_pool_alloc(struct wd_pool *pool, u32 *idx, unsigned long n)
{
	unsigned long i, got, clean;

	spin_lock(&pool->lock);
	if (pool->dead) {
		spin_unlock(&pool->lock);
		return 0;
	}
	if (pool->clean.nr + pool->dirty.nr < n && pool->held.nr)
		wd_pool_reclaim(pool, WD_POOL_SCAN);
	/* Zeroed pages first; the others are zeroed below. */
	clean = min(n, pool->clean.nr);
	got = min(n, clean + pool->dirty.nr);
	for (i = 0; i < clean; i++)
		idx[i] = wd_chain_pop(pool, &pool->clean);
	for (; i < got; i++)
		idx[i] = wd_chain_pop(pool, &pool->dirty);
	spin_unlock(&pool->lock);

	/* Nothing the previous user left is ever seen by the next one. */
	for (i = clean; i < got; i++)
		wd_pool_zero(pool, idx[i]);
	return got;
}

/**
 * wd_pool_get() - announce a give-back
 * @pool: the pool
 *
 * Whoever takes pages out of a region takes this first, while it still
 * holds the lock that keeps the region from being revoked (its map_lock,
 * or the device's region_lock for a region leaving the device's list), and
 * drops it with wd_pool_put() once the pages were given back: the pool's
 * memory is not released while a give-back is on its way.
 */
void wd_pool_get(struct wd_pool *pool)
{
	atomic_inc(&pool->giving);
}

/**
 * wd_pool_put() - a give-back announced with wd_pool_get() is done
 * @pool: the pool
 */
void wd_pool_put(struct wd_pool *pool)
{
	if (atomic_dec_and_test(&pool->giving))
		wake_up_var(&pool->giving);
}

/**
 * wd_pool_give_back() - return pages to the pool
 * @pool: the pool they came from
 * @pages: chain of pages no longer mapped by anyone nor reachable through
 *         any region; it is emptied
 *
 * The caller's reference on each page passes to the pool. Pages something
 * else still references are held back until it lets them go.
 *
 * Context: may sleep; between wd_pool_get() and wd_pool_put().
 */
void wd_pool_give_back(struct wd_pool *pool, struct wd_chain *pages)
{
	unsigned long i = 0;
	unsigned int n;
	bool held = false;
	u32 idx;

	/*
	 * BAR providers zero memory here, in the caller that gives it back,
	 * so that handing it out costs nothing. A page only the pool
	 * references now cannot be reached again: zeroing it outside the lock
	 * is safe, and it stays unreferenced below.
	 */
	if (pool->zero_on_free) {
		for (idx = pages->head; idx != WD_CHAIN_END;
		     idx = pool->link[idx]) {
			if (wd_pool_unreferenced(pool, idx))
				wd_pool_zero(pool, idx);
			if (!(++i % 256))
				cond_resched();
		}
	}
	while (pages->nr) {
		n = 0;
		spin_lock(&pool->lock);
		while (pages->nr && n++ < WD_POOL_BATCH) {
			idx = wd_chain_pop(pool, pages);
			if (!wd_pool_unreferenced(pool, idx))
				wd_chain_add(pool, &pool->held, idx);
			else if (!pool->dead)
				wd_chain_add(pool, pool->zero_on_free ?
					     &pool->clean : &pool->dirty, idx);
		}
		held = pool->held.nr &&
		       (!pool->dead || pool->mode == WD_DEVMEM_PAGES);
		spin_unlock(&pool->lock);
		if (pages->nr)
			cond_resched();
	}
	/* Pages held now (or before) are looked at by the work item. */
	if (held)
		mod_delayed_work(system_unbound_wq, &pool->reclaim, 0);
}

/**
 * wd_pool_usage() - how much of the pool is free
 * @pool: the pool
 * @nr_free: pages that can be handed out
 * @nr_held: pages given back but still referenced elsewhere (a page let go
 *           of counts here until the work item or an allocation sees it)
 *
 * Reads the counters only: anyone may call it, as often as they like.
 */
void wd_pool_usage(struct wd_pool *pool, unsigned long *nr_free,
		   unsigned long *nr_held)
{
	spin_lock(&pool->lock);
	*nr_free = pool->clean.nr + pool->dirty.nr;
	*nr_held = pool->held.nr;
	spin_unlock(&pool->lock);
}

/**
 * wd_pool_drain() - stop handing memory out and give it back
 * @pool: pool of a device being unregistered, whose regions were revoked
 *
 * Nothing is allocated from the pool any more and nothing given back is
 * reused. The provider's memory goes back at once (RAM pages still
 * referenced elsewhere when that reference goes), except ZONE_DEVICE
 * pages some of which are still held (pinned): the work item keeps
 * watching them and unmaps the memory when the last is let go.
 */
void wd_pool_drain(struct wd_pool *pool)
{
	bool release = false;

	spin_lock(&pool->lock);
	pool->dead = true;
	spin_unlock(&pool->lock);
	/*
	 * Give-backs announced before the regions were revoked end first:
	 * they may still look at (and zero) the memory.
	 */
	wait_var_event(&pool->giving, !atomic_read(&pool->giving));
	spin_lock(&pool->lock);
	wd_chain_init(&pool->clean);
	wd_chain_init(&pool->dirty);
	if (pool->mode != WD_DEVMEM_PAGES)
		wd_chain_init(&pool->held);
	if (!pool->held.nr && !pool->released) {
		pool->released = true;
		release = true;
	}
	spin_unlock(&pool->lock);
	if (pool->mode != WD_DEVMEM_PAGES)
		/* Dead now: the work item does not queue itself again. */
		cancel_delayed_work_sync(&pool->reclaim);
	if (release)
		wd_pool_release(pool);
}

/**
 * wd_pool_destroy() - free a pool
 * @pool: pool, or NULL
 *
 * A PAGES pool some of whose pages are still held is handed to its work
 * item, which frees it (and unmaps the ZONE_DEVICE memory) when the last
 * one is let go.
 */
void wd_pool_destroy(struct wd_pool *pool)
{
	bool later;

	if (!pool)
		return;
	wd_pool_drain(pool);
	spin_lock(&pool->lock);
	later = !pool->released;
	if (later) {
		pool->orphan = true;
		atomic_inc(&wd_pools_lingering);
		/* Under the lock: the work cannot free the pool before this. */
		mod_delayed_work(system_unbound_wq, &pool->reclaim, 0);
	}
	spin_unlock(&pool->lock);
	if (later)
		return;
	/* A pass that gave the memory back may still be on its way out. */
	cancel_delayed_work_sync(&pool->reclaim);
	wd_pool_free(pool);
}

/**
 * wd_pool_exit() - wait for the pools that outlived their devices
 *
 * Called at module exit: every pin of their pages is gone by then (the
 * users' modules are gone), so the wait is short.
 */
void wd_pool_exit(void)
{
	wait_var_event(&wd_pools_lingering,
		       !atomic_read(&wd_pools_lingering));
}
