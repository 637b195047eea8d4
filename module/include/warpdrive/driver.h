/* SPDX-License-Identifier: GPL-2.0 */
/*
 * WarpDrive in-kernel driver API.
 *
 * A driver allocates a device with wd_device_alloc(), fills in what it
 * offers, makes it visible with wd_device_register() and takes it away with
 * wd_device_unregister(). The framework owns the character device, the
 * sysfs node and the user contexts; it calls the driver only through
 * &struct wd_device_ops and never after wd_device_unregister() returned.
 */
#ifndef _WARPDRIVE_DRIVER_H
#define _WARPDRIVE_DRIVER_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/atomic.h>
#include <linux/xarray.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <uapi/warpdrive/warpdrive.h>

struct dev_pagemap;
struct page;
struct wd_device;
struct wd_devpriv;
struct wd_hmm_compat;
struct wd_queue;
struct wd_pool;

/**
 * struct wd_device_ops - what a driver provides to the framework
 * @owner: module implementing the ops; pinned while a user has the device
 *         open, so the driver cannot be unloaded under its users.
 * @queue_start: hardware queue @q->hw_id was bound to a context and its
 *               rings are ready; the driver starts serving it. May sleep.
 * @queue_stop: the binding ends (put, close or unregister). When it
 *              returns the driver no longer touches @q or the memory of
 *              the context. Commands not yet fetched stay in the ring.
 * @kick: user space rang the doorbell: new submissions may be waiting.
 *        The three queue operations are required on a device with queues
 *        and may be NULL on one with none.
 * @devpriv_backing: devices with device-private memory only (see
 *                   &wd_device.devpriv_pgmap): the CPU page that holds the
 *                   data of device-private page @dpage. The framework
 *                   copies through it when it migrates ("DMA") and gives
 *                   engines its kernel address when a command touches a
 *                   migrated page. The page must stay valid as long as
 *                   @dpage is in the pgmap. Called in any context; must
 *                   not sleep.
 */
struct wd_device_ops {
	struct module *owner;
	int (*queue_start)(struct wd_queue *q);
	void (*queue_stop)(struct wd_queue *q);
	void (*kick)(struct wd_queue *q);
	struct page *(*devpriv_backing)(struct wd_device *wdev,
					struct page *dpage);
};

/**
 * enum wd_devmem_mode - where a device's memory is and how processes map it
 * @WD_DEVMEM_RAM: system RAM the framework allocates (order-0 pages) when
 *                 the device registers: a stand-in for the memory of a
 *                 device (wd_soft). Mapped VM_MIXEDMAP with refcounted
 *                 pages.
 * @WD_DEVMEM_PAGES: a physical range the driver owns (a PCI BAR), given
 *                   struct pages by the framework (ZONE_DEVICE,
 *                   %MEMORY_DEVICE_GENERIC, memremap_pages()) and mapped
 *                   VM_MIXEDMAP with device-page entries: MAP_POPULATE,
 *                   MADV_POPULATE_*, GUP and hmm_range_fault() work on it.
 *                   The range must be aligned to 2 MiB (a memory
 *                   subsection) and must not be system RAM.
 * @WD_DEVMEM_PFNMAP: a physical range the driver owns, mapped as raw pfns
 *                    (VM_IO | VM_PFNMAP): no struct page, so no GUP, no
 *                    MAP_POPULATE (it maps nothing), MADV_POPULATE_* fail
 *                    (-EINVAL) and engines cannot reach it (WD_ST_FAULT).
 *                    WarpDrive's own paths populate it (fault-around,
 *                    WD_REGION_MAP_ADVANCE, WD_REGION_IOC_POPULATE).
 */
enum wd_devmem_mode {
	WD_DEVMEM_RAM,
	WD_DEVMEM_PAGES,
	WD_DEVMEM_PFNMAP,
};

/* Provider flags. */
/* PFNMAP only: user mappings are write-combining (pgprot_writecombine). */
#define WD_DEVMEM_F_WC		BIT(0)

/**
 * struct wd_devmem_provider - the device memory a driver offers
 * @mode: how it is backed and mapped, &enum wd_devmem_mode.
 * @phys: first byte of the physical range (BAR modes; 0 for RAM). The
 *        driver owns the range (pci_request_region() or
 *        request_mem_region()) from wd_device_register() until
 *        wd_device_unregister() returned, and must not map it itself.
 * @size: bytes, a multiple of PAGE_SIZE (pages mode: of 2 MiB).
 * @flags: WD_DEVMEM_F_*.
 *
 * Whatever the provider, the framework keeps the same promises: memory is
 * zeroed before a region gets it, quotas and punch-hole work, the
 * statistics count it, and unregistering revokes every user mapping
 * before it returns.
 */
struct wd_devmem_provider {
	enum wd_devmem_mode mode;
	phys_addr_t phys;
	u64 size;
	u32 flags;
};

/**
 * struct wd_device - one accelerator as the framework sees it
 * @dev: class device (/sys/class/warpdrive/<name>); its refcount is the
 *       lifetime of the whole structure.
 * @cdev: character device behind /dev/warpdrive/<name>.
 * @ops: driver operations.
 * @priv: driver data, see wd_device_priv().
 * @api: driver API name shown in sysfs "api".
 * @flags: WD_DEV_F_* capabilities.
 * @algorithms: WD_ALG_* bits.
 * @queues_total: number of hardware queues; 0 for a device that offers
 *                device memory only (wd_bar): binding a queue then fails
 *                with -EOPNOTSUPP.
 * @max_cmd_len: the largest src_len or dst_len one command may name (not
 *               0 on a device with queues); reported to user space in &struct wd_info. The
 *               driver completes a command above it with WD_ST_TOO_BIG.
 * @devmem_size: bytes of device memory. When it is not 0 the framework
 *               builds the device memory pool at registration from the
 *               provider in @devmem (system RAM when the driver set none)
 *               and offers regions on it; the driver sets
 *               %WD_DEV_F_DEVMEM in @flags then. Set by
 *               wd_device_set_devmem().
 * @devmem: where the device memory comes from and how it is mapped (see
 *          &struct wd_devmem_provider); set with wd_device_set_devmem().
 * @devpriv_pgmap: device-private memory (HMM), or NULL for none. The driver
 *                 fills in type (MEMORY_DEVICE_PRIVATE), owner (this
 *                 device: the framework and HMM recognise the device's
 *                 pages by it), nr_range and the range, a free physical
 *                 range it reserved (request_free_mem_region()), before
 *                 wd_device_register(). The framework sets the ops, maps
 *                 the pages (memremap_pages()) at register and, at
 *                 unregister, migrates every page back to system memory
 *                 and unmaps them; the driver then releases the range.
 *                 On a kernel built without CONFIG_DEVICE_PRIVATE it must
 *                 stay NULL: wd_device_register() fails with -EOPNOTSUPP.
 * @devpriv_window: pages a CPU fault on a device-private page brings back
 *                  to system memory, aligned around the faulting address
 *                  (1 to 64; 0 means 1).
 * @devpriv_evict: when device-private memory is full, migrating more to it
 *                 evicts the least recently used pages back to system
 *                 memory; if false, the migration fails with -ENOMEM.
 * @dma_dev: the device that does the DMA (a PCI function, usually the
 *           parent), or NULL for an engine that reaches memory through the
 *           CPU (wd_soft). When set, the framework DMA-maps every page a
 *           command may reach for it (dma_map_page() and friends, so behind
 *           an IOMMU the device can reach nothing else) and wd_mem_segs()
 *           gives DMA addresses; when NULL it gives kernel addresses.
 *           A page may be mapped several times at once (contexts,
 *           mirror and share), so mappings skip the DMA API's per-map
 *           cache maintenance (DMA_ATTR_SKIP_CPU_SYNC) and the framework
 *           syncs once at map and unmap: the device must reach memory
 *           without bounce buffers (a 64-bit DMA mask or an IOMMU).
 *           Set before wd_device_register(); it must outlive the device's
 *           registration: wd_device_unregister() unmaps everything the
 *           framework mapped for it (every context's mirror entries and
 *           shares) before it returns, and nothing is mapped after.
 * @id: number in the device's name.
 * @srcu: user entry points that reach the device (calls of @ops, its
 *        queues, pool and device-private memory) run in a read section of
 *        it (wd_device_enter()); unregistration clears @registered and
 *        waits only for the sections already running. Nothing in a section
 *        waits on user memory, and every wait in one ends on removal.
 * @registered: true between register and unregister; read in an @srcu
 *              section, written only outside any.
 * @ctx_lock: protects @contexts.
 * @contexts: open contexts (&struct wd_context.node).
 * @q_lock: protects @qmap, @waiters and @queues_dead.
 * @qmap: bitmap of hardware queues bound to a context.
 * @waiters: contexts waiting for a queue, first come first served.
 * @queues_dead: no queue will be handed out any more (unregistered).
 * @pool: device memory pool (see wd_pool.c), or NULL without device memory.
 * @region_lock: protects @regions.
 * @regions: device memory regions still open (&struct wd_region.node).
 * @devmem_user_quota: bytes of the pool the regions of one user (the
 *                     effective uid that opened the device) may hold, 0 for
 *                     no limit (sysfs devmem_user_quota).
 * @charge_lock: protects @charges; taken by the last put of a charge.
 * @charges: per-user charges against @devmem_user_quota, by kuid value.
 * @devpriv: the framework's state of the device-private memory.
 * @hmm_compat: test_hmm compatible node, see wd_hmm_compat_add().
 * @stats: counters shown in sysfs stats/. @stats.dma_mapped is the number
 *         of pages the framework holds DMA-mapped for @dma_dev right now
 *         (mirror entries and shared pages); 0 once every context closed.
 *         @stats.engine_wakeups counts the times an engine thread slept in
 *         wd_engine_idle() and woke up (completed / engine_wakeups is the
 *         commands per wake-up); @stats.notifier_calls the invalidations
 *         of process address spaces delivered to the device's SVA
 *         mirrors, whether or not they removed anything.
 * @debugfs: the device's directory under debugfs warpdrive/.
 *
 * The driver fills in @api to @dma_dev; the rest is the framework's.
 * wd_device_register() fails with -EINVAL if a device with queues has
 * @max_cmd_len 0 or lacks a queue operation, or if a device offers
 * neither queues nor device memory.
 */
struct wd_device {
	struct device dev;
	struct cdev cdev;
	const struct wd_device_ops *ops;
	void *priv;
	const char *api;
	u32 flags;
	u32 algorithms;
	u32 queues_total;
	u64 max_cmd_len;
	u64 devmem_size;
	struct wd_devmem_provider devmem;
	struct dev_pagemap *devpriv_pgmap;
	unsigned int devpriv_window;
	bool devpriv_evict;
	struct device *dma_dev;
	int id;

	struct srcu_struct srcu;
	bool registered;

	struct mutex ctx_lock;
	struct list_head contexts;

	spinlock_t q_lock;
	unsigned long *qmap;
	struct list_head waiters;
	bool queues_dead;
	struct wd_devpriv *devpriv;
	struct wd_hmm_compat *hmm_compat;

	struct wd_pool *pool;
	struct mutex region_lock;
	struct list_head regions;
	u64 devmem_user_quota;
	struct mutex charge_lock;
	struct xarray charges;

	struct {
		atomic64_t completed;
		atomic64_t failed;
		atomic64_t bytes_read;
		atomic64_t bytes_written;
		atomic64_t kicks;
		atomic64_t faults;
		atomic64_t pages_faulted;
		atomic64_t invalidations;
		atomic64_t pinned_pages;
		atomic64_t devmem_faults;
		atomic64_t devmem_pages_mapped;
		atomic64_t migrated_to_device;
		atomic64_t migrated_to_system;
		atomic64_t cpu_faults;
		atomic64_t evicted_pages;
		atomic64_t dma_mapped;
		atomic64_t engine_wakeups;
		atomic64_t notifier_calls;
	} stats;
	struct dentry *debugfs;
};

/**
 * wd_device_alloc() - allocate a device
 * @parent: parent device in the driver model, or NULL
 * @prefix: name prefix; the device is called <prefix><id>
 * @ops: driver operations, with @ops->owner set
 * @priv: driver data
 *
 * The caller fills in the capability fields and then calls
 * wd_device_register(). Release with wd_device_put().
 *
 * Return: the device or an ERR_PTR().
 */
struct wd_device *wd_device_alloc(struct device *parent, const char *prefix,
				  const struct wd_device_ops *ops, void *priv);

/**
 * wd_device_set_devmem() - say where the device memory comes from
 * @wdev: device from wd_device_alloc(), not registered yet
 * @prov: the provider; copied
 *
 * Sets &wd_device.devmem_size and &wd_device.devmem; the pool is built by
 * wd_device_register(): for %WD_DEVMEM_RAM it allocates @prov->size bytes
 * of system RAM, for %WD_DEVMEM_PAGES it gives the range struct pages
 * (memremap_pages()), for %WD_DEVMEM_PFNMAP it maps the range in the
 * kernel (memremap(), to zero it). In pages mode the struct pages stay
 * until the last reference to them is gone (a page pinned through a
 * mapping may outlive the unregistration); the driver may release the
 * range when wd_device_unregister() returned.
 *
 * Context: may sleep. Return: 0, -EINVAL (bad mode, flags, size or
 * alignment), -EOPNOTSUPP (pages mode on a kernel without ZONE_DEVICE).
 */
int wd_device_set_devmem(struct wd_device *wdev,
			 const struct wd_devmem_provider *prov);

/**
 * wd_device_register() - make a device visible to user space
 * @wdev: device from wd_device_alloc()
 *
 * Builds the device memory pool (@wdev->devmem_size bytes, when not 0, from
 * the provider in @wdev->devmem), then creates the sysfs node and
 * /dev/warpdrive/<name>. A device may offer device memory only: with
 * @wdev->queues_total 0 the queue operations may be NULL, and binding a
 * queue fails with -EOPNOTSUPP.
 *
 * Return: 0 or a negative errno (-ENOMEM: the pool could not be had; an
 * errno of memremap_pages() or memremap() for a BAR provider).
 */
int wd_device_register(struct wd_device *wdev);

/**
 * wd_device_unregister() - take a device away from user space
 * @wdev: registered device
 *
 * Removes the device node, fails every later user call with -ENODEV,
 * wakes the callers waiting for a queue, waits for the user calls already
 * inside the device (an SRCU grace period: they hold no user copy and no
 * wait on user memory, so this is bounded) and marks every open context
 * dead.
 * Every mapping of the device's memory regions is revoked (a later access
 * raises SIGBUS) and the pool is given back to the system, except pages
 * something still holds a reference on (they go when it drops it).
 * After it returns the framework no longer calls @wdev->ops.
 */
void wd_device_unregister(struct wd_device *wdev);

/**
 * wd_hmm_compat_add() - expose a device through the test_hmm ABI
 * @wdev: registered device with device-private memory
 * @index: N of the node /dev/hmm_dmirrorN (0-3)
 *
 * Creates a character device that implements the ioctls of the kernel's
 * lib/test_hmm_uapi.h (read and write through the device's mirror of the
 * caller's address space, migration to and from device-private memory,
 * snapshots of the CPU page table, exclusive access) on top of the
 * framework's device MMU and migration code, so that the kernel's own
 * selftest runs against the device. It goes away in
 * wd_device_unregister().
 *
 * Return: 0, -EINVAL (no device-private memory or bad @index), -EEXIST
 * (already done for this device), -EOPNOTSUPP (kernel built without
 * CONFIG_DEVICE_PRIVATE: no node is created) or another negative errno.
 */
#if IS_ENABLED(CONFIG_DEVICE_PRIVATE)
int wd_hmm_compat_add(struct wd_device *wdev, unsigned int index);
#else
static inline int wd_hmm_compat_add(struct wd_device *wdev,
				    unsigned int index)
{
	return -EOPNOTSUPP;
}
#endif

/**
 * wd_device_put() - drop the driver's reference
 * @wdev: device from wd_device_alloc()
 *
 * The memory goes away when the last open file is closed as well.
 */
void wd_device_put(struct wd_device *wdev);

/**
 * wd_device_priv() - driver data of a device
 * @wdev: the device
 *
 * Return: the @priv given to wd_device_alloc().
 */
static inline void *wd_device_priv(struct wd_device *wdev)
{
	return wdev->priv;
}

/**
 * struct wd_queue - a hardware queue bound to a context
 * @wdev: the device.
 * @hw_id: index of the hardware queue, 0 to queues_total - 1.
 * @drv_priv: for the driver, between queue_start and queue_stop.
 *
 * The rest is private to the framework (see wd_queue.c).
 */
struct wd_queue {
	struct wd_device *wdev;
	u32 hw_id;
	void *drv_priv;
};

/**
 * wd_queue_fetch() - take the next command from the submission ring
 * @q: queue
 * @cmd: where the command is copied (the ring stays user-writable, so the
 *       driver must only look at this copy)
 *
 * A completion slot is reserved for the command; the driver must pass it
 * to wd_queue_complete() exactly once. Returns false when the ring is
 * empty, the completion ring has no free slot, or user space moved an
 * index out of range (the queue then reports WD_CQ_F_BAD_INDEX).
 *
 * Context: the driver serialises fetch and complete per queue.
 * Return: true if @cmd holds a command.
 */
bool wd_queue_fetch(struct wd_queue *q, struct wd_cmd *cmd);

/**
 * wd_queue_complete() - post a completion and wake pollers
 * @q: queue
 * @cqe: the completion; its slot was reserved by wd_queue_fetch(). Its
 *       flags, pad and reserved fields must be zero.
 */
void wd_queue_complete(struct wd_queue *q, const struct wd_cqe *cqe);

/**
 * wd_queue_set_need_wakeup() - tell user space whether to kick
 * @q: queue
 * @on: true before the engine goes to sleep, false when it polls again
 *
 * After setting it the driver must look at the ring once more before
 * sleeping, so a submission that raced with the flag is not missed.
 */
void wd_queue_set_need_wakeup(struct wd_queue *q, bool on);

/**
 * wd_queue_has_work() - are commands waiting in the submission ring?
 * @q: queue
 *
 * Return: true if wd_queue_fetch() would find a command.
 */
bool wd_queue_has_work(struct wd_queue *q);

/**
 * wd_engine_idle() - what an engine thread does when its ring is empty
 * @q: queue the thread serves
 * @wq: where the thread sleeps; the driver's &wd_device_ops.kick sets
 *      *@kicked (WRITE_ONCE()) and wakes it
 * @kicked: the doorbell rang since the thread last slept
 * @idle_since: jiffies when the thread last found work (the caller sets it
 *              whenever a batch ran commands); updated after a sleep
 * @poll_us: how long the thread keeps polling an empty ring
 *
 * The usual engine loop is "run a batch of commands; if there was none,
 * call this". Until @poll_us have passed since @idle_since it only yields
 * the CPU (user space submits with no system call). Then it publishes
 * NEED_WAKEUP, looks at the ring once more (a submission that raced with
 * the flag), sleeps until a kick or kthread_stop(), and clears the flag.
 *
 * Context: the engine's kthread; sleeps. Returns with no lock held.
 */
void wd_engine_idle(struct wd_queue *q, wait_queue_head_t *wq, bool *kicked,
		    unsigned long *idle_since, unsigned int poll_us);

struct wd_mem_cursor;

/* Translations a job caches (its TLB); see &struct wd_mem_job. */
#define WD_MEM_TLB_SIZE		16

/**
 * struct wd_mem_tlb_entry - one cached translation of a job (private)
 * @idx: page index of the process address, plus one (0: empty)
 * @kaddr: kernel address of the page
 * @dma: its DMA address (devices with &wd_device.dma_dev)
 * @write: the device may write the page
 */
struct wd_mem_tlb_entry {
	unsigned long idx;
	void *kaddr;
	dma_addr_t dma;
	bool write;
};

/**
 * struct wd_mem_job - the memory accesses of one command
 *
 * Engines reach process memory only through a job and its cursors (at
 * most two: a source and a destination), which are the device's MMU:
 * they translate process virtual addresses into kernel mappings of the
 * pages, check the access, take device faults and keep the translation
 * valid while the engine uses it. All fields are private.
 *
 * A job caches the last translations it used (SVA mode, its TLB): a hit
 * costs no walk of the device page table. The cache is emptied whenever
 * a translation of the context is removed (the job sees the context's
 * generation move when it takes the access lock again), so an entry is
 * never used after the invalidation of its page. An engine that reuses
 * one job for consecutive commands of a queue (wd_mem_job_next()) keeps
 * the cache from one command to the next.
 */
struct wd_mem_job {
	struct wd_queue *q;
	struct wd_mem_cursor *cursors[2];
	int nr;
	bool access_held;
	bool nowait;
	unsigned long gen;
	struct wd_mem_tlb_entry tlb[WD_MEM_TLB_SIZE];
};

/**
 * struct wd_mem_cursor - a walk over one buffer of a job (fields private)
 *
 * @held is the number of bytes from @addr the last wd_mem_segs() call
 * handed out and the engine has not consumed yet; while any cursor of a
 * job holds some, the job keeps the access that keeps them mapped.
 */
struct wd_mem_cursor {
	struct wd_mem_job *job;
	u64 addr;
	u64 left;
	u64 end;
	u64 held;
	bool write;
	unsigned long pfn;
	u64 page_addr;
	void *kaddr;
};

/**
 * wd_mem_job_init() - begin the memory accesses of a command
 * @job: job
 * @q: queue whose context owns the memory
 *
 * While its cursors hold pieces or segments a job holds the context's
 * access lock (an rwsem, for reading) that invalidations and unshares
 * take for writing: so one thread uses a job from wd_mem_job_init() to
 * wd_mem_job_end() (advance and end it in the thread that translated,
 * not in an interrupt handler), and a thread that holds segments of one
 * job must not translate another job of the same context, unless that
 * one is set nowait (wd_mem_job_set_nowait()): a waiting invalidation
 * would block the second while it waits for the first.
 */
void wd_mem_job_init(struct wd_mem_job *job, struct wd_queue *q);

/**
 * wd_mem_job_set_nowait() - make a job's translations never wait
 * @job: job
 * @nowait: true: no call on the job's cursors sleeps for the access lock
 *          or for a device fault
 *
 * For an engine that keeps several commands of a context on its device
 * at once, a job per command: while it holds the segments of commands in
 * flight it may translate the next one only in nowait mode. A blocking
 * translation could wait for an invalidation (to take the access lock, or
 * inside a device fault) that itself waits for the commands in flight,
 * which only this thread completes: a deadlock. In nowait mode a
 * wd_mem_map() or wd_mem_segs() call that would wait (an invalidation or
 * an unshare waits for the context's access, or the page at the cursor
 * needs a device fault) returns -EBUSY instead, and the job then holds
 * nothing (as after wd_mem_job_pause()). The engine waits for its commands
 * in flight, ends their jobs, turns nowait off and translates again, so
 * that an invalidation waits at most for the commands already on the
 * device. Pinned mode never faults: only a waiting invalidation or
 * unshare makes it -EBUSY.
 *
 * Context: any; the setting stays until changed (wd_mem_job_init() clears
 * it).
 */
static inline void wd_mem_job_set_nowait(struct wd_mem_job *job, bool nowait)
{
	job->nowait = nowait;
}

/**
 * wd_mem_job_next() - end one command's accesses, keep the job for the next
 * @job: job whose cursors are all finished (wd_mem_finish())
 *
 * For an engine that runs several commands of the same queue in a row:
 * wd_mem_job_init() before the first, wd_mem_job_next() after each one,
 * wd_mem_job_end() after the last. Everything the command held is
 * released (as by wd_mem_job_end()), but the job keeps its cached
 * translations, so the next command's pages cost no page table walk while
 * no translation of the context was removed in between.
 */
void wd_mem_job_next(struct wd_mem_job *job);

/**
 * wd_mem_start() - add a walk over [@addr, @addr + @len) to a job
 * @cur: cursor
 * @job: job
 * @addr: process virtual address
 * @len: length in bytes (0 is allowed: the walk is empty)
 * @write: the engine will write the buffer
 *
 * Return: 0, -EFAULT if the range wraps or reaches outside user space,
 * -ESRCH if the process has no address space any more.
 */
int wd_mem_start(struct wd_mem_cursor *cur, struct wd_mem_job *job, u64 addr,
		 u64 len, bool write);

/**
 * wd_mem_map() - map the next piece of the buffer
 * @cur: cursor
 * @kaddr: set to a kernel address of the piece
 *
 * The piece never crosses a page boundary. It stays valid until the
 * cursor is advanced past its page, or until a wd_mem_map() call on any
 * cursor of the job returns -EAGAIN.
 *
 * Whatever &wd_device.dma_dev is, this gives a kernel address: an engine
 * that computes on the CPU uses it, and so may a DMA driver for the small
 * things its CPU must read itself (a key, an IV). Bulk data of a DMA
 * device goes through wd_mem_segs().
 *
 * Context: may sleep (a device fault). Call it again for the same cursor
 * to get the rest of a piece not fully consumed.
 * Return: its length (> 0), 0 at the end of the buffer, -EFAULT if the
 * page is not mapped with the access needed, or -EAGAIN: the translation
 * of another cursor's piece changed, every piece of the job must be
 * mapped again (the cursors' positions are unchanged), or -ECANCELED: the
 * queue is being stopped or the process that owns the memory exited; the
 * engine ends the command (WD_ST_CANCELLED) without further access, or
 * -EBUSY (nowait job only): the call would have waited, the job holds
 * nothing.
 */
ssize_t wd_mem_map(struct wd_mem_cursor *cur, void **kaddr);

/**
 * struct wd_seg - a contiguous run of a command's buffer
 * @dma: its DMA address for &wd_device.dma_dev (devices that set it)
 * @kaddr: its kernel address (devices without &wd_device.dma_dev)
 * @len: bytes in the run (> 0)
 */
struct wd_seg {
	dma_addr_t dma;
	void *kaddr;
	u32 len;
};

/**
 * wd_mem_segs() - translate the next part of a walk into segments
 * @cur: cursor
 * @segs: array the segments are written to, in buffer order, starting at
 *        the cursor's position
 * @max: number of entries in @segs (at least 1)
 * @nr: set to the number of segments written
 *
 * This is how an engine gets a command's memory: many pages per call,
 * pages that are contiguous for the device merged into one segment. For a
 * device with &wd_device.dma_dev the segments are DMA addresses of pages
 * the framework already mapped for that device: in SVA mode when a page
 * entered the device's mirror of the process page table (device fault),
 * in pinned mode when the range was shared (WD_IOC_SHARE); pages of
 * device-private memory are given by the DMA address of their backing.
 * Pages a device may only read are mapped DMA_TO_DEVICE, so behind an
 * IOMMU a write to them faults.
 *
 * The cursor does not move: wd_mem_advance() consumes bytes once the
 * device is done with them. Every segment stays valid, and its pages stay
 * mapped for the device and in the process, until the cursor advances
 * past it, wd_mem_job_end() is called, or a call on any cursor of the job
 * returns -EAGAIN. An invalidation of the range (munmap, COW, migration...)
 * waits for that before it unmaps the pages for the device, so the driver
 * must have seen its DMA on them complete before any of these: this is the
 * device's IOTLB shootdown.
 *
 * Implementation notes: one call walks at most 256 pages (SVA) or the
 * shares' mapped segments (pinned, usually one per share behind an
 * IOMMU), under no lock in SVA mode (the job's access keeps entries) and
 * one hold of the context's share lock in pinned mode. It faults only for
 * the page at the cursor: a later page that is not mapped ends the
 * segments before it (a later call faults it in). While any cursor of the
 * job holds segments the job keeps the access that invalidations wait
 * for; a fault releases it, so a call that faults may void the segments
 * of the job's other cursors (-EAGAIN): start DMA only after the last
 * wd_mem_segs() call for a descriptor, and have no DMA of the job in
 * flight while calling it. Each call hands out afresh from the cursor's
 * position (what an earlier call gave and the cursor did not consume is
 * given again). Segments are at most dma_get_max_seg_size() long.
 *
 * Context: may sleep (a device fault). Not while holding a spinlock.
 * Return: bytes covered by the segments (> 0), 0 at the end of the
 * buffer, -EFAULT if the page at the cursor is not mapped with the access
 * needed (a later page that is not stops the segments before it), -EAGAIN
 * (the translation of the job changed: every segment of the job handed out
 * so far is void; translate each cursor again from its position),
 * -ECANCELED (queue stopping, process gone: end the command with
 * WD_ST_CANCELLED), or -EBUSY (nowait job only: the call would have
 * waited; the job holds nothing, see wd_mem_job_set_nowait()).
 */
ssize_t wd_mem_segs(struct wd_mem_cursor *cur, struct wd_seg *segs,
		    unsigned int max, unsigned int *nr);

/*
 * Most pages one wd_mem_segs() call covers: a device that needs a whole
 * buffer in one request bounds its commands so that no buffer spans more.
 */
#define WD_SEGS_MAX_PAGES	256

/**
 * wd_mem_segs_limit() - wd_mem_segs() covering at most @limit bytes
 * @cur: cursor
 * @segs: array the segments are written to
 * @max: number of entries in @segs (at least 1)
 * @nr: set to the number of segments written
 * @limit: most bytes the segments cover (at least 1)
 *
 * Invalidations of the pages of segments wait until the engine advanced
 * past them: an engine that works slowly through what it holds (a CPU
 * compressing, a device with a long queue) bounds that wait by taking
 * smaller batches. Same context and return values as wd_mem_segs().
 */
ssize_t wd_mem_segs_limit(struct wd_mem_cursor *cur, struct wd_seg *segs,
			  unsigned int max, unsigned int *nr, u64 limit);

/**
 * wd_mem_advance() - consume bytes of the piece last mapped
 * @cur: cursor
 * @n: bytes used, at most what the last wd_mem_map() or wd_mem_segs()
 *     on this cursor returned
 *
 * For a DMA device: call it only once the device's DMA on those bytes
 * completed. When no cursor of the job holds segments any more, the job
 * lets waiting invalidations (unmaps) go ahead.
 */
void wd_mem_advance(struct wd_mem_cursor *cur, size_t n);

/**
 * wd_mem_finish() - end one walk
 * @cur: cursor (may be one whose wd_mem_start() failed)
 */
void wd_mem_finish(struct wd_mem_cursor *cur);

/**
 * wd_mem_job_pause() - let go of everything a job holds, mid-command
 * @job: job, possibly with cursors in the middle of their walks
 *
 * For an engine that sets a command aside for a while (to let another
 * queue's command run on the same execution unit): every segment and
 * mapped page its cursors hold is given up and the access is released,
 * so invalidations of the command's pages need not wait for it to come
 * back. The cursors keep their positions; the next wd_mem_segs() or
 * wd_mem_map() call on any of them translates again from there, as after
 * -EAGAIN. The engine must be done with (and, for a DMA device, have seen
 * the end of any DMA on) what the cursors held.
 */
void wd_mem_job_pause(struct wd_mem_job *job);

/**
 * wd_mem_job_end() - end the memory accesses of a command
 * @job: job; everything it held is released
 */
void wd_mem_job_end(struct wd_mem_job *job);

#endif /* _WARPDRIVE_DRIVER_H */
