// SPDX-License-Identifier: GPL-2.0
/*
 * WarpDrive framework: how engines reach process memory.
 *
 * This is the device's MMU as the engines see it: a cursor that walks a
 * buffer named by process virtual address and hands out kernel mappings
 * of its pages, a page at a time. This implementation pins the pages of
 * a batch with pin_user_pages_remote() for as long as the engine works on
 * them; nothing stays pinned after wd_mem_finish().
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>

#include "wd_internal.h"

#define WD_MEM_BATCH	ARRAY_SIZE(((struct wd_mem_cursor *)0)->pages)

static void wd_mem_unmap(struct wd_mem_cursor *cur)
{
	if (cur->kaddr) {
		kunmap(cur->pages[cur->cur_page]);
		cur->kaddr = NULL;
	}
}

static void wd_mem_release_batch(struct wd_mem_cursor *cur)
{
	wd_mem_unmap(cur);
	if (cur->nr_pages)
		unpin_user_pages_dirty_lock(cur->pages, cur->nr_pages,
					    cur->write);
	cur->nr_pages = 0;
}

int wd_mem_start(struct wd_mem_cursor *cur, struct wd_queue *q, u64 addr,
		 u64 len, bool write)
{
	struct mm_struct *mm = to_hwq(q)->ctx->mm;

	memset(cur, 0, sizeof(*cur));
	if (!len)
		return 0;
	if (addr + len < addr || addr + len > mm->task_size)
		return -EFAULT;
	if (!mmget_not_zero(mm))
		return -ESRCH;
	cur->mm = mm;
	cur->addr = addr;
	cur->left = len;
	cur->write = write;
	return 0;
}
EXPORT_SYMBOL_GPL(wd_mem_start);

/* Pin the batch of pages starting at the page of cur->addr. */
static int wd_mem_pin_batch(struct wd_mem_cursor *cur)
{
	u64 first = cur->addr & PAGE_MASK;
	u64 last = (cur->addr + cur->left - 1) & PAGE_MASK;
	unsigned long n = min_t(u64, WD_MEM_BATCH,
				((last - first) >> PAGE_SHIFT) + 1);
	unsigned int flags = cur->write ? FOLL_WRITE : 0;
	long got;

	wd_mem_release_batch(cur);
	mmap_read_lock(cur->mm);
	got = pin_user_pages_remote(cur->mm, first, n, flags, cur->pages,
				    NULL, NULL);
	mmap_read_unlock(cur->mm);
	if (got <= 0)
		return -EFAULT;
	cur->nr_pages = got;
	cur->batch_addr = first;
	cur->cur_page = 0;
	return 0;
}

ssize_t wd_mem_map(struct wd_mem_cursor *cur, void **kaddr)
{
	unsigned int idx;
	size_t off;
	int ret;

	if (!cur->left)
		return 0;
	idx = ((cur->addr & PAGE_MASK) - cur->batch_addr) >> PAGE_SHIFT;
	if (!cur->nr_pages || cur->addr < cur->batch_addr ||
	    idx >= cur->nr_pages) {
		ret = wd_mem_pin_batch(cur);
		if (ret)
			return ret;
		idx = 0;
	}
	if (!cur->kaddr || idx != cur->cur_page) {
		wd_mem_unmap(cur);
		cur->cur_page = idx;
		/*
		 * kmap(), not kmap_local_page(): an engine holds pieces of
		 * two cursors at once and releases them in any order.
		 */
		cur->kaddr = kmap(cur->pages[idx]);
	}
	off = offset_in_page(cur->addr);
	*kaddr = cur->kaddr + off;
	return min_t(u64, PAGE_SIZE - off, cur->left);
}
EXPORT_SYMBOL_GPL(wd_mem_map);

void wd_mem_advance(struct wd_mem_cursor *cur, size_t n)
{
	if (WARN_ON_ONCE(n > cur->left))
		n = cur->left;
	cur->addr += n;
	cur->left -= n;
}
EXPORT_SYMBOL_GPL(wd_mem_advance);

void wd_mem_finish(struct wd_mem_cursor *cur)
{
	wd_mem_release_batch(cur);
	if (cur->mm)
		mmput(cur->mm);
	cur->mm = NULL;
	cur->left = 0;
}
EXPORT_SYMBOL_GPL(wd_mem_finish);
