/* SPDX-License-Identifier: GPL-2.0 */
/* WarpDrive framework internals shared between its files. */
#ifndef _WD_INTERNAL_H
#define _WD_INTERNAL_H

#include <linux/kref.h>
#include <linux/memremap.h>
#include <linux/mmu_notifier.h>
#include <linux/rbtree.h>
#include <linux/xarray.h>
#include <linux/mm_types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <warpdrive/driver.h>

#include "wd_compat.h"

#define WD_MAX_DEVICES		64

/*
 * mmap layout of a device file: one fixed window of offsets, used by every
 * binding of the context (a context binds one queue at a time). A ring
 * mapping belongs to the binding it was made for (vm_private_data), so a
 * window reused by the next binding never reaches an earlier one's pages.
 */
#define WD_MAP_REGION_SHIFT	20	/* 1 MiB per region */
#define WD_MAP_WINDOW_SHIFT	22	/* 4 MiB: the window's size */
#define WD_MAP_BASE		(1ULL << WD_MAP_WINDOW_SHIFT)
#define WD_REGION_CTRL		0
#define WD_REGION_SQ		1
#define WD_REGION_CQ		2
#define WD_NR_REGIONS		3

/*
 * SVA device page table entries: xarray values of pfn << WD_PT_SHIFT |
 * flags. WD_PT_ATOMIC marks pages the device holds for exclusive (atomic)
 * access (make_device_exclusive_range(), test_hmm compatible nodes only).
 */
#define WD_PT_WRITE		1UL
#define WD_PT_ATOMIC		2UL
#define WD_PT_SHIFT		2

static inline void *wd_pt_entry(unsigned long pfn, unsigned long flags)
{
	return xa_mk_value((pfn << WD_PT_SHIFT) | flags);
}

static inline unsigned long wd_pt_pfn(void *entry)
{
	return xa_to_value(entry) >> WD_PT_SHIFT;
}

static inline unsigned long wd_pt_flags(void *entry)
{
	return xa_to_value(entry) & (WD_PT_WRITE | WD_PT_ATOMIC);
}

/* Magic of the file system of device memory regions (wd_region.c). */
#define WD_REGION_FS_MAGIC	0x57445247	/* "WDRG" */

/* Most pages one device fault or snapshot handles. */
#define WD_FAULT_MAX		64

#define WD_SQ_DEFAULT		256
#define WD_RING_MAX		4096

/**
 * struct wd_hwq - the framework's side of a bound hardware queue
 * @q: what the driver sees.
 * @ref: held by the context while bound and by each ring mapping (VMA).
 * @ctx: owning context.
 * @sq_entries: submission ring size (power of two).
 * @cq_entries: completion ring size (power of two).
 * @pages: all ring pages: control, submission, completion.
 * @nr_pages: number of @pages.
 * @sq_pages: pages of the submission ring.
 * @cq_pages: pages of the completion region.
 * @vaddr: kernel mapping of @pages.
 * @ctrl: control page (user-written).
 * @sq: submission ring (user-written).
 * @cqh: completion header (kernel-written).
 * @cq: completion ring (kernel-written).
 * @sq_head: submission consumer index; only the driver's fetch path (or
 *           the framework after queue_stop) changes it.
 * @cq_tail: completions posted; same rule as @sq_head.
 * @cq_reserved: completion slots promised to fetched commands.
 * @flags_lock: protects @flags and its copy in @cqh.
 * @flags: WD_CQ_F_* as published to user space.
 * @started: queue_start succeeded and queue_stop has not been called.
 * @stopping: the binding is ending: a command in flight stops at its next
 *            memory access (WD_ST_CANCELLED) instead of running to its end.
 * @map_lock: protects @revoked; ring faults hold it for reading while
 *            they insert pages, unbinding takes it for writing.
 * @revoked: the binding ended: its mappings are zapped and never filled
 *           again (a touch raises SIGBUS).
 */
struct wd_hwq {
	struct wd_queue q;
	struct kref ref;
	struct wd_context *ctx;
	u32 sq_entries;
	u32 cq_entries;
	struct page **pages;
	unsigned int nr_pages;
	unsigned int sq_pages;
	unsigned int cq_pages;
	void *vaddr;
	struct wd_ctrl *ctrl;
	struct wd_cmd *sq;
	struct wd_cq_hdr *cqh;
	struct wd_cqe *cq;
	u32 sq_head;
	u32 cq_tail;
	u32 cq_reserved;
	spinlock_t flags_lock;
	u32 flags;
	bool started;
	bool stopping;
	struct rw_semaphore map_lock;
	bool revoked;
};

/**
 * struct wd_mmu - the device MMU of a context (see wd_mmu.c)
 * @wdev: device.
 * @mm: the context's address space.
 * @mode: WD_MMU_SVA or WD_MMU_PINNED; changed only with no queue bound,
 *        with both @share_lock and @lock held (either keeps it still).
 * @access: engines hold it for reading while they use translated pages
 *          (and the segments wd_mem_segs() handed out); what removes
 *          translations takes it for writing, before @lock, so that it
 *          removes them (and their DMA mappings) only once no engine uses
 *          them. SVA entries of @pt go only under it, and @shares
 *          changes only under it: readers holding it look @pt up without
 *          @lock (RCU, xa_load()) and walk @shares without any other lock.
 * @lock: protects @pt, @dma, @shares and @gen (for writers).
 * @share_lock: serialises WD_IOC_SHARE calls (pinning sleeps) and mode
 *              switches; taken before @lock.
 * @gen: bumped whenever translations are removed.
 * @blocks_lock: protects @blocks, @nr_blocks, @blocks_gc_at and the
 *               users of each block; taken with no other lock of the
 *               context held (before the mm's mmap_lock).
 * @blocks: SVA invalidations: block number (address >> WD_MMU_BLOCK_SHIFT)
 *          -> &struct wd_mmu_block, an interval notifier over the block.
 *          Every page @pt holds is in a block here; address ranges the
 *          device never mirrored have none, so changing them costs the
 *          device nothing. The notifiers only remove entries (faults use
 *          a &struct wd_mmu_window).
 * @nr_blocks: blocks in @blocks.
 * @blocks_gc_at: @nr_blocks at which the next fault frees the blocks that
 *                hold no entry and serve no fault.
 * @blocks_gc: frees those blocks soon after an munmap emptied one (a
 *             notifier cannot remove itself), so that the unmapped range,
 *             mapped again for something else, costs the device nothing.
 * @pt: SVA device page table: page index -> wd_pt_entry().
 * @dma: SVA, devices with &wd_device.dma_dev only: page index -> the DMA
 *       mapping of the page @pt holds at that index (wd_mmu.c). An entry
 *       is here exactly when @pt has one; both come and go together.
 * @shares: pinned mode: interval tree of &struct wd_share.
 * @faults: device faults taken.
 * @pages_faulted: pages those faults mapped.
 * @invalidations: invalidations that removed entries.
 * @fault_retries: device fault attempts started again because their
 *                 window changed (or a device page had to come back).
 * @pinned_pages: pages pinned by shares now.
 * @dma_mapped: pages of this context DMA-mapped for the device now.
 * @dma_off: the device was unregistered: nothing is DMA-mapped any more
 *           (under @lock).
 */
struct wd_mmu {
	struct wd_device *wdev;
	struct mm_struct *mm;
	u32 mode;
	struct rw_semaphore access;
	struct mutex lock;
	struct mutex share_lock;
	unsigned long gen;
	struct mutex blocks_lock;
	struct xarray blocks;
	unsigned long nr_blocks;
	unsigned long blocks_gc_at;
	struct work_struct blocks_gc;
	struct xarray pt;
	struct xarray dma;
	struct rb_root_cached shares;
	atomic64_t faults;
	atomic64_t pages_faulted;
	atomic64_t invalidations;
	atomic64_t fault_retries;
	atomic64_t pinned_pages;
	atomic64_t dma_mapped;
	bool dma_off;
};

/* Bytes of address space one SVA invalidation notifier covers (2 MiB). */
#define WD_MMU_BLOCK_SHIFT	21

/**
 * struct wd_mmu_block - the SVA invalidation notifier of one block
 * @mni: interval notifier over the block's addresses.
 * @mmu: the device MMU whose entries it removes.
 * @first: first page index of the block.
 * @last: last page index of the block.
 * @users: fault windows in the block now (under &wd_mmu.blocks_lock); a
 *         block is freed only when it has none and holds no entry.
 * @gc: in the list of blocks being freed.
 */
struct wd_mmu_block {
	struct mmu_interval_notifier mni;
	struct wd_mmu *mmu;
	unsigned long first;
	unsigned long last;
	unsigned int users;
	struct list_head gc;
};

/**
 * struct wd_mmu_window - an interval notifier over one device fault
 * @mni: the notifier, alive from wd_mmu_window_begin() to _end().
 * @mmu: the device MMU the fault fills.
 * @first: first page index of the window.
 * @last: last page index of the window.
 * @blocks: the blocks the window lies in (at most two: a window covers at
 *          most WD_FAULT_MAX pages), held (users) until the window ends.
 * @nr_blocks: entries of @blocks.
 *
 * Code that reads the CPU page table and then enters pages in @mmu->pt
 * does it in a window: mmu_interval_read_begin()/read_retry() on @mni,
 * checking the retry and storing under @mmu->lock. An invalidation of
 * the window advances its sequence and removes the window's entries, so
 * only invalidations that overlap the window make the reader retry.
 */
struct wd_mmu_window {
	struct mmu_interval_notifier mni;
	struct wd_mmu *mmu;
	unsigned long first;
	unsigned long last;
	struct wd_mmu_block *blocks[2];
	unsigned int nr_blocks;
};

/* A chain of pool pages, linked through &wd_pool.link (see wd_pool.c). */
#define WD_CHAIN_END		U32_MAX
struct wd_chain {
	u32 head;
	u32 tail;
	unsigned long nr;
};

/**
 * struct wd_pool - the memory of a device, as numbered pages (see wd_pool.c)
 * @lock: protects @clean, @dirty, @held, @dead, @released and @orphan, and
 *        the links of the pages on those chains.
 * @mode: the provider's &enum wd_devmem_mode.
 * @nr_pages: pages the pool was built with.
 * @link: next page of the chain each page is on; a page's link belongs to
 *        whoever holds the page (the pool under @lock, a region while it
 *        takes pages out).
 * @clean: free pages already zeroed; the pool holds the only reference on
 *         each. Handed out first.
 * @dirty: free pages to be zeroed when they are handed out.
 * @held: pages given back while something else still held a reference (a
 *        GUP pin, a racing lookup): kept out of use until that reference
 *        is dropped, then moved to @dirty.
 * @ram: RAM mode: page of each number.
 * @base_pfn: PAGES and PFNMAP modes: pfn of page 0.
 * @kaddr: PFNMAP mode: kernel mapping of the range (memremap()).
 * @pgmap: PAGES mode: the ZONE_DEVICE mapping of the range.
 * @mapped: PAGES mode: @pgmap is mapped.
 * @zero_on_free: BAR providers: pages are zeroed when given back (and once
 *                at creation), not when handed out.
 * @dead: the device is unregistered: nothing is handed out any more.
 * @released: what the provider gave went back (wd_pool.c).
 * @orphan: the device is freed; the work item frees the pool when no page
 *          is held any more.
 * @giving: give-backs on their way (wd_pool_get()); the memory is not
 *          released before they end.
 * @reclaim: moves held pages no one references any more to @dirty, a
 *           bounded batch per hold of @lock; queued while @held is not
 *           empty.
 */
struct wd_pool {
	spinlock_t lock;
	enum wd_devmem_mode mode;
	unsigned long nr_pages;
	u32 *link;
	struct wd_chain clean;
	struct wd_chain dirty;
	struct wd_chain held;
	struct page **ram;
	unsigned long base_pfn;
	void *kaddr;
	struct dev_pagemap pgmap;
	struct list_head remapped;	/* on wd_pool_remapped, while mapped */
	bool mapped;
	bool zero_on_free;
	bool dead;
	bool released;
	bool orphan;
	atomic_t giving;
	struct delayed_work reclaim;
};

/**
 * struct wd_charge - device memory held by the regions of one user
 * @ref: held by each context the user opened and by each region created
 *       through one (regions outlive the context); the last put takes
 *       &wd_device.charge_lock and removes the charge from
 *       &wd_device.charges.
 * @wdev: device it counts against.
 * @uid: the user: effective uid of the opener.
 * @pages: pages charged now; bounded by &wd_device.devmem_user_quota.
 */
struct wd_charge {
	struct kref ref;
	struct wd_device *wdev;
	kuid_t uid;
	atomic_long_t pages;
};

/**
 * struct wd_context - one open file of a device
 * @wdev: the device; the context holds a reference on @wdev->dev.
 * @mm: address space of the process that opened the file (mmgrab()ed);
 *      calls from any other mm are refused.
 * @pid: the opener, for debugfs.
 * @mapping: address space of the file, for revoking ring mappings.
 * @node: entry in &wd_device.contexts, under &wd_device.ctx_lock.
 * @lock: serialises binding and unbinding a queue; protects @getting.
 * @hwq_lock: protects @hwq and @mapped for readers that cannot take @lock
 *            (mmap runs under mmap_lock, which the engine takes after
 *            the locks the unbind path holds).
 * @hwq: bound queue or NULL.
 * @mapped: bitmap of regions of @hwq mapped so far.
 * @getting: a WD_IOC_QUEUE_GET is waiting for a queue.
 * @dead: the device was unregistered.
 * @wq: poll() waiters for completions.
 * @mmu: the device MMU for this context.
 * @charge: device memory the regions of its opener's user hold.
 */
struct wd_context {
	struct wd_device *wdev;
	struct mm_struct *mm;
	struct pid *pid;
	struct address_space *mapping;
	struct list_head node;
	struct mutex lock;
	spinlock_t hwq_lock;
	struct wd_hwq *hwq;
	unsigned long mapped;
	bool getting;
	bool dead;
	wait_queue_head_t wq;
	struct wd_mmu mmu;
	struct wd_charge *charge;
};

static inline struct wd_hwq *to_hwq(struct wd_queue *q)
{
	return container_of(q, struct wd_hwq, q);
}

extern struct class *wd_class;
extern dev_t wd_devt;
extern struct dentry *wd_debugfs;
extern const struct file_operations wd_fops;
extern const struct attribute_group *wd_device_groups[];

/* wd_queue.c */
long wd_queue_get(struct wd_context *ctx, struct wd_queue_info *kinfo,
		  bool nonblock);
int wd_queue_put(struct wd_context *ctx);
int wd_queue_kick(struct wd_context *ctx);
int wd_queue_mmap(struct wd_context *ctx, struct vm_area_struct *vma);
__poll_t wd_queue_poll(struct wd_context *ctx);
void wd_queue_kill(struct wd_context *ctx);
void wd_queue_wake_waiters(struct wd_device *wdev);
u32 wd_queues_free(struct wd_device *wdev);

/* wd_context.c */
/**
 * wd_device_enter() - start a user call that reaches the device
 * @wdev: device
 * @idx: set for wd_device_leave()
 *
 * Opens a read section of @wdev->srcu. Copy user arguments in before and
 * results out after the section: nothing in it may wait on user memory.
 *
 * Return: 0 in the section, or -ENODEV (unregistered; not in a section).
 */
static inline int wd_device_enter(struct wd_device *wdev, int *idx)
{
	*idx = srcu_read_lock(&wdev->srcu);
	if (READ_ONCE(wdev->registered))
		return 0;
	srcu_read_unlock(&wdev->srcu, *idx);
	return -ENODEV;
}

/* End the section wd_device_enter() opened. */
static inline void wd_device_leave(struct wd_device *wdev, int idx)
{
	srcu_read_unlock(&wdev->srcu, idx);
}

int wd_context_open(struct wd_device *wdev, struct file *filp);
int wd_context_release(struct file *filp);

/* wd_mmu.c */
int wd_mmu_init(struct wd_mmu *mmu, struct wd_device *wdev,
		struct mm_struct *mm);
/* Fault [start, end) into the device page table (one device fault). */
int wd_mmu_fault_range(struct wd_mmu *mmu, u64 start, u64 end, bool write);
/*
 * Read the CPU page table for [start, end) (at most WD_FAULT_MAX pages)
 * without faulting: hmm_range_fault() flags into @pfns. With @map, enter
 * the device's own device-private pages in the device page table.
 * Returns how many of those there are, or a negative errno.
 */
int wd_mmu_snapshot(struct wd_mmu *mmu, u64 start, u64 end,
		    unsigned long *pfns, bool map);
/* Kernel address of a translated pfn (device-private: its backing). */
void *wd_mmu_pfn_kaddr(struct wd_mmu *mmu, unsigned long pfn, bool touch);
/* Insert a fault window over [start, end) (no locks held); remove it. */
int wd_mmu_window_begin(struct wd_mmu *mmu, struct wd_mmu_window *win,
			u64 start, u64 end);
void wd_mmu_window_end(struct wd_mmu_window *win);
void wd_mmu_fini(struct wd_mmu *mmu);
int wd_mmu_set_mode(struct wd_mmu *mmu, u32 mode);
int wd_mmu_share(struct wd_mmu *mmu, const struct wd_share_req *req);
int wd_mmu_unshare(struct wd_mmu *mmu, const struct wd_share_req *req);
void wd_mmu_dma_release(struct wd_mmu *mmu);

/* wd_pool.c */
int wd_pool_create(struct wd_device *wdev);
void wd_pool_drain(struct wd_pool *pool);
void wd_pool_destroy(struct wd_pool *pool);
void wd_pool_exit(void);
unsigned long wd_pool_alloc(struct wd_pool *pool, u32 *idx, unsigned long n);
void wd_pool_get(struct wd_pool *pool);
void wd_pool_put(struct wd_pool *pool);
void wd_pool_give_back(struct wd_pool *pool, struct wd_chain *pages);
void wd_pool_usage(struct wd_pool *pool, unsigned long *nr_free,
		   unsigned long *nr_held);
struct page *wd_pool_page(struct wd_pool *pool, u32 idx);
unsigned long wd_pool_pfn(struct wd_pool *pool, u32 idx);
void wd_chain_init(struct wd_chain *c);
void wd_chain_add(struct wd_pool *pool, struct wd_chain *c, u32 idx);

/* wd_region.c */
int wd_region_fs_init(void);
void wd_region_fs_exit(void);
long wd_region_create(struct wd_context *ctx, struct wd_region_create *kreq,
		      struct file **filep);
void wd_region_revoke_all(struct wd_device *wdev);
struct wd_charge *wd_charge_get(struct wd_device *wdev, kuid_t uid);
void wd_charge_put(struct wd_charge *charge);
#if IS_ENABLED(CONFIG_DEVICE_PRIVATE)
/* wd_migrate.c */
/* Copy between kernel addresses the way the device's "DMA" does. */
void wd_copy_mem(void *dst, const void *src, size_t len);
int wd_devpriv_setup(struct wd_device *wdev);
void wd_devpriv_teardown(struct wd_device *wdev);
void wd_devpriv_debugfs(struct wd_device *wdev);
/* Backing page of a device page; @touch marks it recently used. */
struct page *wd_devpriv_backing(struct wd_device *wdev, struct page *dpage,
				bool touch);
unsigned long wd_devpriv_used(struct wd_device *wdev);
unsigned long wd_devpriv_pages(struct wd_device *wdev);
void wd_devpriv_evict_all(struct wd_device *wdev, bool wait);
int wd_devpriv_migrate(struct wd_device *wdev, struct mm_struct *mm,
		       u64 start, u64 end, bool to_dev, bool strict,
		       u64 *moved);
/* Bring the device page at @addr of @vma back; mmap lock held (read). */
int wd_devpriv_unshare_locked(struct wd_device *wdev,
			      struct vm_area_struct *vma, unsigned long addr);
long wd_ioctl_migrate(struct wd_context *ctx, struct wd_migrate *kreq,
		      bool *report);

/* wd_hmm_compat.c */
void wd_hmm_compat_remove(struct wd_device *wdev);
#else
/*
 * No device-private memory on this kernel: no device has any (a driver
 * that offers a dev_pagemap fails to register), WD_IOC_MIGRATE fails with
 * EOPNOTSUPP whatever its argument, and nothing reaches memremap_pages().
 * No page is ever device-private, so the rest is never called with one.
 */
static inline int wd_devpriv_setup(struct wd_device *wdev)
{
	return wdev->devpriv_pgmap ? -EOPNOTSUPP : 0;
}

static inline void wd_devpriv_teardown(struct wd_device *wdev) { }
static inline void wd_devpriv_debugfs(struct wd_device *wdev) { }

static inline struct page *wd_devpriv_backing(struct wd_device *wdev,
					      struct page *dpage, bool touch)
{
	return NULL;
}

static inline unsigned long wd_devpriv_used(struct wd_device *wdev)
{
	return 0;
}

static inline unsigned long wd_devpriv_pages(struct wd_device *wdev)
{
	return 0;
}

static inline int wd_devpriv_unshare_locked(struct wd_device *wdev,
					    struct vm_area_struct *vma,
					    unsigned long addr)
{
	return -EOPNOTSUPP;
}

static inline long wd_ioctl_migrate(struct wd_context *ctx,
				    struct wd_migrate *kreq, bool *report)
{
	return -EOPNOTSUPP;
}

static inline void wd_hmm_compat_remove(struct wd_device *wdev) { }
#endif /* CONFIG_DEVICE_PRIVATE */

#endif /* _WD_INTERNAL_H */
