// SPDX-License-Identifier: GPL-2.0
/*
 * WarpDrive framework: the device memory pool.
 *
 * The memory of a device is a fixed set of order-0 pages, allocated when
 * the device registers (system RAM stands in for the memory of a real
 * device, which cannot grow either). Regions (wd_region.c) take pages from
 * the pool and give them back; the pool never allocates afterwards.
 *
 * References: a free page holds exactly one reference, the pool's. A page
 * handed out keeps it (the region holds it then); user mappings and GUP
 * users add their own. A page given back while anything else still holds
 * a reference (a pin taken through the mapping before it was unmapped, a
 * lookup racing with the punch) must not reach the next user: it waits on
 * the held list until its count is back to one, so device memory that
 * something can still reach is never reused, and none is lost either.
 *
 * Nothing tells us when such a reference goes, so the held list is looked
 * at, a bounded number of pages per hold of the pool lock: by an
 * allocation that finds the free list short (at most WD_POOL_SCAN pages),
 * and off the hot path by a work item that runs while pages are held (at
 * once after a give-back left some, then every WD_POOL_RECLAIM_DELAY).
 * Reading the usage only reads the counters.
 *
 * Pages are zeroed when they are handed out, before any process can see
 * them.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "wd_internal.h"

/* The pool is built once; try hard, but never invoke the OOM killer. */
#define WD_POOL_GFP	(GFP_KERNEL | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)
/* Pages given back per hold of the pool lock. */
#define WD_POOL_BATCH	512
/* Held pages looked at per hold of the pool lock. */
#define WD_POOL_SCAN	256
/* How often the held list is looked at while it is not empty. */
#define WD_POOL_RECLAIM_DELAY	(HZ / 10)

static void wd_pool_reclaim_work(struct work_struct *work);

static void wd_pool_put_list(struct list_head *pages)
{
	struct page *page, *tmp;
	unsigned int n = 0;

	list_for_each_entry_safe(page, tmp, pages, lru) {
		list_del_init(&page->lru);
		/* A page something still holds goes when it lets go. */
		put_page(page);
		if (!(++n % 1024))
			cond_resched();
	}
}

/**
 * wd_pool_create() - build the device memory pool of a device
 * @wdev: device being registered; nothing is done if its devmem_size is 0
 *
 * Return: 0, -ENOMEM if the memory could not be had, -EINTR if a fatal
 * signal arrived while it was being allocated.
 */
int wd_pool_create(struct wd_device *wdev)
{
	unsigned long i, nr = wdev->devmem_size >> PAGE_SHIFT;
	struct wd_pool *pool;
	struct page *page;
	int ret = 0;

	if (!nr)
		return 0;
	pool = kzalloc(sizeof(*pool), GFP_KERNEL);
	if (!pool)
		return -ENOMEM;
	spin_lock_init(&pool->lock);
	INIT_LIST_HEAD(&pool->free);
	INIT_LIST_HEAD(&pool->held);
	INIT_DELAYED_WORK(&pool->reclaim, wd_pool_reclaim_work);

	for (i = 0; i < nr; i++) {
		page = alloc_page(WD_POOL_GFP);
		if (!page) {
			ret = -ENOMEM;
			break;
		}
		list_add_tail(&page->lru, &pool->free);
		if (!(i % 1024)) {
			if (fatal_signal_pending(current)) {
				ret = -EINTR;
				break;
			}
			cond_resched();
		}
	}
	if (ret) {
		wd_pool_put_list(&pool->free);
		kfree(pool);
		return ret;
	}
	pool->nr_pages = nr;
	pool->nr_free = nr;
	wdev->pool = pool;
	return 0;
}

/*
 * Look at up to @budget held pages, oldest first: those no one else
 * references any more go to the free list, the others to the tail of the
 * held list. Returns how many were looked at.
 */
static unsigned long wd_pool_reclaim(struct wd_pool *pool,
				     unsigned long budget)
{
	unsigned long seen = 0;
	struct page *page;

	lockdep_assert_held(&pool->lock);
	budget = min(budget, pool->nr_held);
	while (seen < budget) {
		page = list_first_entry(&pool->held, struct page, lru);
		seen++;
		/*
		 * Nothing maps it and no region has it: a count of one is the
		 * pool's own reference and cannot go up again (a lockless
		 * GUP that raced with the unmapping drops what it took).
		 */
		if (page_ref_count(page) != 1) {
			list_move_tail(&page->lru, &pool->held);
			continue;
		}
		list_move(&page->lru, &pool->free);
		pool->nr_held--;
		pool->nr_free++;
	}
	return seen;
}

/*
 * Off the hot path: one pass over the held list, a batch per hold of the
 * lock; comes back later while pages are still held.
 */
static void wd_pool_reclaim_work(struct work_struct *work)
{
	struct wd_pool *pool = container_of(to_delayed_work(work),
					    struct wd_pool, reclaim);
	unsigned long left, seen;
	bool again;

	spin_lock(&pool->lock);
	left = pool->nr_held;
	while (left && !pool->dead) {
		seen = wd_pool_reclaim(pool, min_t(unsigned long, left,
						   WD_POOL_SCAN));
		if (!seen)
			break;
		left -= min(left, seen);
		spin_unlock(&pool->lock);
		cond_resched();
		spin_lock(&pool->lock);
	}
	again = pool->nr_held && !pool->dead;
	spin_unlock(&pool->lock);
	if (again)
		queue_delayed_work(system_unbound_wq, &pool->reclaim,
				   WD_POOL_RECLAIM_DELAY);
}

/**
 * wd_pool_alloc() - take zeroed pages from the pool
 * @pool: the pool
 * @pages: where the pages go
 * @n: how many are wanted
 *
 * Each page comes with the pool's reference, which passes to the caller.
 *
 * Return: the number of pages taken, fewer than @n (maybe 0) when the
 * pool runs out or the device is gone.
 */
unsigned long wd_pool_alloc(struct wd_pool *pool, struct page **pages,
			    unsigned long n)
{
	unsigned long i, got;

	spin_lock(&pool->lock);
	if (pool->dead) {
		spin_unlock(&pool->lock);
		return 0;
	}
	if (pool->nr_free < n && pool->nr_held)
		wd_pool_reclaim(pool, WD_POOL_SCAN);
	got = min(n, pool->nr_free);
	for (i = 0; i < got; i++) {
		pages[i] = list_first_entry(&pool->free, struct page, lru);
		list_del_init(&pages[i]->lru);
	}
	pool->nr_free -= got;
	spin_unlock(&pool->lock);

	/* Nothing the previous user left is ever seen by the next one. */
	for (i = 0; i < got; i++)
		clear_highpage(pages[i]);
	return got;
}

/**
 * wd_pool_give_back() - return pages to the pool
 * @pool: the pool they came from
 * @pages: list of pages (linked through page->lru), no longer mapped by
 *         anyone nor reachable through any region; it is emptied
 *
 * The caller's reference on each page passes to the pool. Pages something
 * else still references are held back until it lets them go.
 *
 * Context: may sleep.
 */
void wd_pool_give_back(struct wd_pool *pool, struct list_head *pages)
{
	struct page *page, *tmp;
	unsigned int n;
	bool held = false;
	LIST_HEAD(dead);

	while (!list_empty(pages)) {
		n = 0;
		spin_lock(&pool->lock);
		list_for_each_entry_safe(page, tmp, pages, lru) {
			if (pool->dead) {
				list_move(&page->lru, &dead);
			} else if (page_ref_count(page) == 1) {
				list_move(&page->lru, &pool->free);
				pool->nr_free++;
			} else {
				list_move_tail(&page->lru, &pool->held);
				pool->nr_held++;
			}
			/* Not too long with the lock held: a punch may be big. */
			if (++n == WD_POOL_BATCH)
				break;
		}
		held = pool->nr_held && !pool->dead;
		spin_unlock(&pool->lock);
		if (!list_empty(pages))
			cond_resched();
	}
	/* Pages held now (or before) are looked at by the work item. */
	if (held)
		mod_delayed_work(system_unbound_wq, &pool->reclaim, 0);
	wd_pool_put_list(&dead);
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
	*nr_free = pool->nr_free;
	*nr_held = pool->nr_held;
	spin_unlock(&pool->lock);
}

/**
 * wd_pool_drain() - give the pool back to the system
 * @pool: pool of a device being unregistered, whose regions were revoked
 *
 * Free pages go to the system at once; held pages when the last other
 * reference goes. Pages given back later go straight to the system.
 */
void wd_pool_drain(struct wd_pool *pool)
{
	LIST_HEAD(pages);

	spin_lock(&pool->lock);
	pool->dead = true;
	list_splice_init(&pool->free, &pages);
	list_splice_init(&pool->held, &pages);
	pool->nr_free = 0;
	pool->nr_held = 0;
	spin_unlock(&pool->lock);
	/* Dead now: the work item does not queue itself again. */
	cancel_delayed_work_sync(&pool->reclaim);
	wd_pool_put_list(&pages);
}

/**
 * wd_pool_destroy() - free a pool and what is left in it
 * @pool: pool, or NULL
 */
void wd_pool_destroy(struct wd_pool *pool)
{
	if (!pool)
		return;
	wd_pool_drain(pool);
	kfree(pool);
}
