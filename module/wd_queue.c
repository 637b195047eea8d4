// SPDX-License-Identifier: GPL-2.0
/*
 * WarpDrive framework: hardware queues and their rings.
 *
 * A context binds one hardware queue at a time. Queues are handed out first
 * come, first served: a context that finds none free waits in a FIFO and
 * gets the next queue released, directly. The rings live in pages the
 * framework allocates. A ring mapping belongs to one binding (it holds a
 * reference on it); its pages are inserted at the first touch, a whole
 * region at once, under the binding's map_lock. Pages are never inserted
 * in ->mmap: the VMA is not in the file's i_mmap yet there, so a binding
 * ending meanwhile could not zap them. Ending a binding marks it revoked
 * under map_lock and then zaps the window: no fault can map it again.
 */
#include <linux/bitmap.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "wd_internal.h"

/* A context waiting for a hardware queue. */
struct wd_waiter {
	struct list_head node;
	struct task_struct *task;
	int hw_id;		/* -1 while waiting, the queue, or -ENODEV */
};

u32 wd_queues_free(struct wd_device *wdev)
{
	u32 used;

	spin_lock(&wdev->q_lock);
	used = bitmap_weight(wdev->qmap, wdev->queues_total);
	spin_unlock(&wdev->q_lock);
	return wdev->queues_total - used;
}

static int wd_hw_acquire(struct wd_device *wdev, bool nonblock)
{
	struct wd_waiter w = { .task = current, .hw_id = -1 };
	int id;

	/* A device that offers memory only. */
	if (!wdev->queues_total)
		return -EOPNOTSUPP;
	spin_lock(&wdev->q_lock);
	if (wdev->queues_dead) {
		spin_unlock(&wdev->q_lock);
		return -ENODEV;
	}
	if (list_empty(&wdev->waiters)) {
		id = find_first_zero_bit(wdev->qmap, wdev->queues_total);
		if (id < wdev->queues_total) {
			__set_bit(id, wdev->qmap);
			spin_unlock(&wdev->q_lock);
			return id;
		}
	}
	if (nonblock) {
		spin_unlock(&wdev->q_lock);
		return -EAGAIN;
	}
	list_add_tail(&w.node, &wdev->waiters);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (w.hw_id != -1 || signal_pending(current))
			break;
		spin_unlock(&wdev->q_lock);
		schedule();
		spin_lock(&wdev->q_lock);
	}
	__set_current_state(TASK_RUNNING);
	if (w.hw_id == -1) {
		/* Interrupted before a queue came: leave the line. */
		list_del(&w.node);
		w.hw_id = -EINTR;
	}
	spin_unlock(&wdev->q_lock);
	return w.hw_id;
}

static void wd_hw_release(struct wd_device *wdev, u32 id)
{
	struct wd_waiter *w;

	spin_lock(&wdev->q_lock);
	w = list_first_entry_or_null(&wdev->waiters, struct wd_waiter, node);
	if (w) {
		/* Hand the queue over: the bit stays set. */
		list_del(&w->node);
		w->hw_id = id;
		wake_up_process(w->task);
	} else {
		__clear_bit(id, wdev->qmap);
	}
	spin_unlock(&wdev->q_lock);
}

/**
 * wd_queue_wake_waiters() - fail every waiter of an unregistered device
 * @wdev: device being unregistered
 */
void wd_queue_wake_waiters(struct wd_device *wdev)
{
	struct wd_waiter *w, *tmp;

	spin_lock(&wdev->q_lock);
	wdev->queues_dead = true;
	list_for_each_entry_safe(w, tmp, &wdev->waiters, node) {
		list_del(&w->node);
		w->hw_id = -ENODEV;
		wake_up_process(w->task);
	}
	spin_unlock(&wdev->q_lock);
}

static void wd_hwq_free(struct kref *ref)
{
	struct wd_hwq *hwq = container_of(ref, struct wd_hwq, ref);
	unsigned int i;

	vunmap(hwq->vaddr);
	for (i = 0; i < hwq->nr_pages; i++)
		put_page(hwq->pages[i]);
	kfree(hwq->pages);
	kfree(hwq);
}

static void wd_hwq_put(struct wd_hwq *hwq)
{
	kref_put(&hwq->ref, wd_hwq_free);
}

static struct wd_hwq *wd_hwq_alloc(struct wd_context *ctx, u32 sq_entries,
				   u32 cq_entries)
{
	struct wd_hwq *hwq;
	unsigned int i;

	hwq = kzalloc(sizeof(*hwq), GFP_KERNEL_ACCOUNT);
	if (!hwq)
		return NULL;
	kref_init(&hwq->ref);
	spin_lock_init(&hwq->flags_lock);
	init_rwsem(&hwq->map_lock);
	hwq->ctx = ctx;
	hwq->q.wdev = ctx->wdev;
	hwq->sq_entries = sq_entries;
	hwq->cq_entries = cq_entries;
	hwq->sq_pages = DIV_ROUND_UP(sq_entries * sizeof(struct wd_cmd),
				     PAGE_SIZE);
	hwq->cq_pages = DIV_ROUND_UP(WD_CQ_HDR_SIZE +
				     cq_entries * sizeof(struct wd_cqe),
				     PAGE_SIZE);
	hwq->nr_pages = 1 + hwq->sq_pages + hwq->cq_pages;

	hwq->pages = kcalloc(hwq->nr_pages, sizeof(*hwq->pages),
			     GFP_KERNEL_ACCOUNT);
	if (!hwq->pages)
		goto err_free;
	for (i = 0; i < hwq->nr_pages; i++) {
		hwq->pages[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!hwq->pages[i])
			goto err_pages;
	}
	hwq->vaddr = vmap(hwq->pages, hwq->nr_pages, VM_MAP, PAGE_KERNEL);
	if (!hwq->vaddr)
		goto err_pages;

	hwq->ctrl = hwq->vaddr;
	hwq->sq = hwq->vaddr + PAGE_SIZE;
	hwq->cqh = hwq->vaddr + (1 + hwq->sq_pages) * PAGE_SIZE;
	hwq->cq = (void *)hwq->cqh + WD_CQ_HDR_SIZE;
	return hwq;

err_pages:
	while (i--)
		put_page(hwq->pages[i]);
	kfree(hwq->pages);
err_free:
	kfree(hwq);
	return NULL;
}

static void wd_hwq_set_flag(struct wd_hwq *hwq, u32 flag, bool on)
{
	unsigned long irqflags;

	spin_lock_irqsave(&hwq->flags_lock, irqflags);
	if (on)
		hwq->flags |= flag;
	else
		hwq->flags &= ~flag;
	WRITE_ONCE(hwq->cqh->flags, hwq->flags);
	spin_unlock_irqrestore(&hwq->flags_lock, irqflags);
}

static int wd_ring_size(u32 *entries, u32 dflt)
{
	if (!*entries)
		*entries = dflt;
	if (*entries < 2 || *entries > WD_RING_MAX || !is_power_of_2(*entries))
		return -EINVAL;
	return 0;
}

/* Stop the driver for @hwq; the caller holds @ctx->lock. */
static void wd_hwq_stop(struct wd_context *ctx, struct wd_hwq *hwq)
{
	lockdep_assert_held(&ctx->lock);
	if (hwq->started) {
		WRITE_ONCE(hwq->stopping, true);
		ctx->wdev->ops->queue_stop(&hwq->q);
		hwq->started = false;
	}
}

/* Detach the bound queue from @ctx and let it go; caller holds ctx->lock. */
static void wd_queue_unbind(struct wd_context *ctx)
{
	struct wd_hwq *hwq = ctx->hwq;

	lockdep_assert_held(&ctx->lock);
	wd_hwq_stop(ctx, hwq);

	spin_lock(&ctx->hwq_lock);
	ctx->hwq = NULL;
	ctx->mapped = 0;
	spin_unlock(&ctx->hwq_lock);

	/*
	 * Revoke this binding's user mappings: once @revoked is set no fault
	 * inserts a page, and the zap removes what faults inserted before.
	 * Every ring mapping of this file is in the window, so the zap also
	 * sees VMAs whose ->mmap ran while the binding ended.
	 */
	down_write(&hwq->map_lock);
	hwq->revoked = true;
	up_write(&hwq->map_lock);
	unmap_mapping_range(ctx->mapping, WD_MAP_BASE,
			    1ULL << WD_MAP_WINDOW_SHIFT, 1);
	if (!ctx->dead)
		wd_hw_release(ctx->wdev, hwq->q.hw_id);
	wd_hwq_put(hwq);
}

long wd_queue_get(struct wd_context *ctx, struct wd_queue_info *kinfo,
		  bool nonblock)
{
	struct wd_device *wdev = ctx->wdev;
	struct wd_queue_info info;
	struct wd_hwq *hwq;
	int id, ret, i;

	info = *kinfo;
	/* Another layout of the rings (an older binary says 0): refuse. */
	if (info.api_version != WD_API_VERSION)
		return -EPROTONOSUPPORT;
	if (info.flags & ~WD_QF_NONBLOCK || info.queue_id || info.ctrl_offset ||
	    info.sq_offset || info.cq_offset || info.ctrl_size ||
	    info.sq_size || info.cq_size || info.pad)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(info.reserved); i++)
		if (info.reserved[i])
			return -EINVAL;
	ret = wd_ring_size(&info.sq_entries, WD_SQ_DEFAULT);
	if (!ret)
		ret = wd_ring_size(&info.cq_entries,
				   min_t(u32, 2 * info.sq_entries, WD_RING_MAX));
	if (ret)
		return ret;
	nonblock |= info.flags & WD_QF_NONBLOCK;

	mutex_lock(&ctx->lock);
	if (ctx->hwq || ctx->getting) {
		mutex_unlock(&ctx->lock);
		return -EBUSY;
	}
	ctx->getting = true;
	mutex_unlock(&ctx->lock);

	hwq = wd_hwq_alloc(ctx, info.sq_entries, info.cq_entries);
	if (!hwq) {
		ret = -ENOMEM;
		goto out_getting;
	}

	/* Wait for a queue without holding any lock; removal ends the wait. */
	id = wd_hw_acquire(wdev, nonblock);
	if (id < 0) {
		ret = id;
		goto out_free;
	}
	hwq->q.hw_id = id;

	mutex_lock(&ctx->lock);
	if (!wdev->registered) {
		/* The device went away while we waited. */
		ret = -ENODEV;
		goto out_release;
	}
	ret = wdev->ops->queue_start(&hwq->q);
	if (ret)
		goto out_release;
	hwq->started = true;

	info.queue_id = id;
	info.ctrl_offset = WD_MAP_BASE +
			   ((u64)WD_REGION_CTRL << WD_MAP_REGION_SHIFT);
	info.sq_offset = WD_MAP_BASE +
			 ((u64)WD_REGION_SQ << WD_MAP_REGION_SHIFT);
	info.cq_offset = WD_MAP_BASE +
			 ((u64)WD_REGION_CQ << WD_MAP_REGION_SHIFT);
	info.ctrl_size = PAGE_SIZE;
	info.sq_size = (u64)hwq->sq_pages << PAGE_SHIFT;
	info.cq_size = (u64)hwq->cq_pages << PAGE_SHIFT;

	spin_lock(&ctx->hwq_lock);
	ctx->hwq = hwq;
	ctx->mapped = 0;
	spin_unlock(&ctx->hwq_lock);

	*kinfo = info;		/* the caller copies it out */
	ctx->getting = false;
	mutex_unlock(&ctx->lock);
	return ret;

out_release:
	wd_hw_release(wdev, id);
	mutex_unlock(&ctx->lock);
out_free:
	wd_hwq_put(hwq);
out_getting:
	mutex_lock(&ctx->lock);
	ctx->getting = false;
	mutex_unlock(&ctx->lock);
	return ret;
}

int wd_queue_put(struct wd_context *ctx)
{
	int ret = 0;

	mutex_lock(&ctx->lock);
	if (ctx->hwq)
		wd_queue_unbind(ctx);
	else
		ret = -ENXIO;
	mutex_unlock(&ctx->lock);
	return ret;
}

int wd_queue_kick(struct wd_context *ctx)
{
	struct wd_device *wdev = ctx->wdev;
	int ret = 0;

	mutex_lock(&ctx->lock);
	if (!ctx->hwq) {
		ret = -ENXIO;
	} else if (ctx->hwq->started) {
		atomic64_inc(&wdev->stats.kicks);
		wdev->ops->kick(&ctx->hwq->q);
	}
	mutex_unlock(&ctx->lock);
	return ret;
}

static bool wd_hwq_index_bad(struct wd_hwq *hwq, u32 sq_tail, u32 cq_head);

/**
 * wd_queue_kill() - end the queue of a context whose device is going away
 * @ctx: context
 *
 * Stops the driver, fails the commands waiting in the submission ring with
 * WD_ST_NODEV and marks the queue dead. The rings stay mapped (they are
 * the framework's memory, not the device's), so user space reads the
 * statuses and the flag instead of taking a SIGBUS.
 *
 * The indices user space owns are read once: the drain is bounded by that
 * snapshot and by the free completion slots, whatever user space keeps
 * writing (the caller holds locks every other user of the device needs).
 * Commands that find no free completion slot are left untaken in the
 * submission ring and counted in the completion header's dropped field.
 */
void wd_queue_kill(struct wd_context *ctx)
{
	struct wd_hwq *hwq = ctx->hwq;
	u32 sq_tail, cq_head, pending, room, used, n;

	lockdep_assert_held(&ctx->lock);
	ctx->dead = true;
	if (hwq) {
		wd_hwq_stop(ctx, hwq);
		sq_tail = READ_ONCE(hwq->ctrl->sq_tail);
		cq_head = READ_ONCE(hwq->ctrl->cq_head);
		pending = 0;
		room = 0;
		/* Out of range: which slots hold commands is unknown. */
		if (!wd_hwq_index_bad(hwq, sq_tail, cq_head)) {
			used = hwq->cq_tail + hwq->cq_reserved - cq_head;
			pending = sq_tail - hwq->sq_head;
			if (used < hwq->cq_entries)
				room = hwq->cq_entries - used;
		}
		for (n = 0; n < min(pending, room); n++) {
			struct wd_cmd *slot =
				&hwq->sq[hwq->sq_head & (hwq->sq_entries - 1)];
			struct wd_cqe cqe = {
				.tag = READ_ONCE(slot->tag),
				.opcode = READ_ONCE(slot->opcode),
				.status = WD_ST_NODEV,
			};

			hwq->sq_head++;
			hwq->cq_reserved++;
			wd_queue_complete(&hwq->q, &cqe);
		}
		/* The slots before sq_head may be reused by user space now. */
		smp_store_release(&hwq->cqh->sq_head, hwq->sq_head);
		WRITE_ONCE(hwq->cqh->dropped, pending - n);
		/* The indices and the count are visible before the flag. */
		smp_wmb();
		wd_hwq_set_flag(hwq, WD_CQ_F_DEAD, true);
		wd_hwq_set_flag(hwq, WD_CQ_F_NEED_WAKEUP, false);
	}
	wake_up_interruptible_all(&ctx->wq);
}

__poll_t wd_queue_poll(struct wd_context *ctx)
{
	__poll_t mask = 0;
	struct wd_hwq *hwq;

	spin_lock(&ctx->hwq_lock);
	hwq = ctx->hwq;
	if (hwq && READ_ONCE(hwq->cqh->cq_tail) != READ_ONCE(hwq->ctrl->cq_head))
		mask |= EPOLLIN | EPOLLRDNORM;
	spin_unlock(&ctx->hwq_lock);
	if (READ_ONCE(ctx->dead))
		mask |= EPOLLERR | EPOLLHUP;
	return mask;
}

/* Which region of @hwq @vma maps: its first page in @hwq->pages, its size. */
static int wd_ring_region(struct wd_hwq *hwq, struct vm_area_struct *vma,
			  unsigned int *first, unsigned int *count)
{
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	int region = (off - WD_MAP_BASE) >> WD_MAP_REGION_SHIFT;

	switch (region) {
	case WD_REGION_CTRL:
		*first = 0;
		*count = 1;
		break;
	case WD_REGION_SQ:
		*first = 1;
		*count = hwq->sq_pages;
		break;
	default:
		*first = 1 + hwq->sq_pages;
		*count = hwq->cq_pages;
		break;
	}
	return region;
}

/*
 * The first touch of a ring mapping maps its whole region. The VMA is in
 * the file's i_mmap by now, so unbinding either finds @revoked set before
 * we look (SIGBUS) or zaps what we insert after it has set it.
 */
static vm_fault_t wd_ring_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct wd_hwq *hwq = vma->vm_private_data;
	vm_fault_t ret = VM_FAULT_NOPAGE;
	unsigned int first, count, i;
	int err;

	/* Never in another process (the mappings are not inherited). */
	if (vma->vm_mm != hwq->ctx->mm)
		return VM_FAULT_SIGBUS;
	wd_ring_region(hwq, vma, &first, &count);
	count = min_t(unsigned long, count, vma_pages(vma));

	down_read(&hwq->map_lock);
	if (hwq->revoked) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	for (i = 0; i < count; i++) {
		err = vm_insert_page(vma, vma->vm_start + i * PAGE_SIZE,
				     hwq->pages[first + i]);
		/* -EBUSY: mapped already (a concurrent fault). */
		if (err && err != -EBUSY) {
			ret = err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
			break;
		}
	}
out:
	up_read(&hwq->map_lock);
	return ret;
}

/* A copy of a ring VMA (mremap moving it) holds the binding too. */
static void wd_ring_open(struct vm_area_struct *vma)
{
	struct wd_hwq *hwq = vma->vm_private_data;

	kref_get(&hwq->ref);
}

static void wd_ring_close(struct vm_area_struct *vma)
{
	wd_hwq_put(vma->vm_private_data);
}

static int wd_ring_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

static const struct vm_operations_struct wd_ring_vm_ops = {
	.open = wd_ring_open,
	.close = wd_ring_close,
	.fault = wd_ring_fault,
	.may_split = wd_ring_may_split,
};

/*
 * Map a region of the bound queue. Nothing is inserted here (see the top
 * of this file); the VMA holds a reference on the binding it was made for.
 *
 * VM_IO makes madvise(MADV_DOFORK) fail, so VM_DONTCOPY stays: a child
 * never inherits the rings. VM_IO also keeps GUP (and so MAP_POPULATE,
 * MADV_POPULATE_*, process_vm_readv, /proc/PID/mem) away from them.
 */
int wd_queue_mmap(struct wd_context *ctx, struct vm_area_struct *vma)
{
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	unsigned int first, count;
	struct wd_hwq *hwq;
	int region, ret;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;

	spin_lock(&ctx->hwq_lock);
	hwq = ctx->hwq;
	if (!hwq) {
		spin_unlock(&ctx->hwq_lock);
		return -ENXIO;
	}
	if (off < WD_MAP_BASE || (off & ((1ULL << WD_MAP_REGION_SHIFT) - 1)) ||
	    off - WD_MAP_BASE >= (u64)WD_NR_REGIONS << WD_MAP_REGION_SHIFT) {
		spin_unlock(&ctx->hwq_lock);
		return -EINVAL;
	}
	region = (off - WD_MAP_BASE) >> WD_MAP_REGION_SHIFT;
	if (test_and_set_bit(region, &ctx->mapped)) {
		spin_unlock(&ctx->hwq_lock);
		return -EBUSY;
	}
	kref_get(&hwq->ref);
	spin_unlock(&ctx->hwq_lock);

	wd_ring_region(hwq, vma, &first, &count);
	ret = -EINVAL;
	if (vma_pages(vma) != count)
		goto err;
	if (region == WD_REGION_CQ) {
		ret = -EPERM;
		if (vma->vm_flags & VM_WRITE)
			goto err;
		vm_flags_clear(vma, VM_MAYWRITE);
	}
	vm_flags_set(vma, VM_IO | VM_MIXEDMAP | VM_DONTCOPY | VM_DONTEXPAND |
			  VM_DONTDUMP);
	vma->vm_ops = &wd_ring_vm_ops;
	vma->vm_private_data = hwq;	/* the reference taken above */
	return 0;

err:
	spin_lock(&ctx->hwq_lock);
	if (ctx->hwq == hwq)
		clear_bit(region, &ctx->mapped);
	spin_unlock(&ctx->hwq_lock);
	wd_hwq_put(hwq);
	return ret;
}

/* The in-kernel driver API: ring access for the engine. */

static bool wd_hwq_index_bad(struct wd_hwq *hwq, u32 sq_tail, u32 cq_head)
{
	return sq_tail - hwq->sq_head > hwq->sq_entries ||
	       hwq->cq_tail - cq_head > hwq->cq_entries;
}

bool wd_queue_has_work(struct wd_queue *q)
{
	struct wd_hwq *hwq = to_hwq(q);
	u32 sq_tail = READ_ONCE(hwq->ctrl->sq_tail);
	u32 cq_head = READ_ONCE(hwq->ctrl->cq_head);

	/*
	 * Commands behind a full completion ring are not work: the engine
	 * may sleep, and user space kicks it after making room.
	 */
	return sq_tail != hwq->sq_head &&
	       !wd_hwq_index_bad(hwq, sq_tail, cq_head) &&
	       hwq->cq_tail + hwq->cq_reserved - cq_head < hwq->cq_entries;
}
EXPORT_SYMBOL_GPL(wd_queue_has_work);

void wd_engine_idle(struct wd_queue *q, wait_queue_head_t *wq, bool *kicked,
		    unsigned long *idle_since, unsigned int poll_us)
{
	if (!time_after(jiffies, *idle_since + usecs_to_jiffies(poll_us))) {
		cond_resched();
		return;
	}
	wd_queue_set_need_wakeup(q, true);
	/* A submission that raced with the flag is seen here. */
	if (!wd_queue_has_work(q)) {
		wait_event_interruptible(*wq, READ_ONCE(*kicked) ||
					 kthread_should_stop());
		atomic64_inc(&q->wdev->stats.engine_wakeups);
	}
	WRITE_ONCE(*kicked, false);
	*idle_since = jiffies;
	wd_queue_set_need_wakeup(q, false);
}
EXPORT_SYMBOL_GPL(wd_engine_idle);

bool wd_queue_fetch(struct wd_queue *q, struct wd_cmd *cmd)
{
	struct wd_hwq *hwq = to_hwq(q);
	u32 sq_tail, cq_head;

	/* Pairs with the release store of sq_tail in user space. */
	sq_tail = smp_load_acquire(&hwq->ctrl->sq_tail);
	cq_head = READ_ONCE(hwq->ctrl->cq_head);
	if (wd_hwq_index_bad(hwq, sq_tail, cq_head)) {
		if (!(hwq->flags & WD_CQ_F_BAD_INDEX))
			wd_hwq_set_flag(hwq, WD_CQ_F_BAD_INDEX, true);
		return false;
	}
	if (hwq->flags & WD_CQ_F_BAD_INDEX)
		wd_hwq_set_flag(hwq, WD_CQ_F_BAD_INDEX, false);
	if (sq_tail == hwq->sq_head)
		return false;
	/* Keep a completion slot for every command taken. */
	if (hwq->cq_tail + hwq->cq_reserved - cq_head >= hwq->cq_entries)
		return false;

	memcpy(cmd, &hwq->sq[hwq->sq_head & (hwq->sq_entries - 1)],
	       sizeof(*cmd));
	hwq->sq_head++;
	hwq->cq_reserved++;
	/* The slot may be reused by user space once sq_head moves past it. */
	smp_store_release(&hwq->cqh->sq_head, hwq->sq_head);
	return true;
}
EXPORT_SYMBOL_GPL(wd_queue_fetch);

void wd_queue_complete(struct wd_queue *q, const struct wd_cqe *cqe)
{
	struct wd_hwq *hwq = to_hwq(q);
	struct wd_device *wdev = q->wdev;

	if (WARN_ON_ONCE(!hwq->cq_reserved))
		return;
	hwq->cq[hwq->cq_tail & (hwq->cq_entries - 1)] = *cqe;
	hwq->cq_reserved--;
	hwq->cq_tail++;
	/* The entry is written before user space can see the new tail. */
	smp_store_release(&hwq->cqh->cq_tail, hwq->cq_tail);

	/* A stream's MORE is a step done, not a failure. */
	if (cqe->status == WD_ST_OK || cqe->status == WD_ST_MORE) {
		atomic64_inc(&wdev->stats.completed);
		atomic64_add(cqe->consumed, &wdev->stats.bytes_read);
		if (cqe->opcode != WD_OP_CRC32C)
			atomic64_add(cqe->result, &wdev->stats.bytes_written);
	} else {
		atomic64_inc(&wdev->stats.failed);
	}
	if (wq_has_sleeper(&hwq->ctx->wq))
		wake_up_interruptible(&hwq->ctx->wq);
}
EXPORT_SYMBOL_GPL(wd_queue_complete);

void wd_queue_set_need_wakeup(struct wd_queue *q, bool on)
{
	struct wd_hwq *hwq = to_hwq(q);

	if (!!(hwq->flags & WD_CQ_F_NEED_WAKEUP) != on)
		wd_hwq_set_flag(hwq, WD_CQ_F_NEED_WAKEUP, on);
	/*
	 * Order the flag against the caller's next look at sq_tail; pairs
	 * with the full barrier user space puts between publishing sq_tail
	 * and reading the flag.
	 */
	smp_mb();
}
EXPORT_SYMBOL_GPL(wd_queue_set_need_wakeup);
