/* SPDX-License-Identifier: GPL-2.0 */
/* WarpDrive tracepoints: device faults, invalidations, migrations. */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM warpdrive

#if !defined(_WD_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _WD_TRACE_H

#include <linux/tracepoint.h>
#include <warpdrive/driver.h>
#include "wd_compat.h"

TRACE_EVENT(wd_dev_fault,
	TP_PROTO(struct wd_device *wdev, u64 addr, unsigned long pages,
		 bool write),
	TP_ARGS(wdev, addr, pages, write),
	TP_STRUCT__entry(
		__string(dev, dev_name(&wdev->dev))
		__field(u64, addr)
		__field(unsigned long, pages)
		__field(bool, write)
	),
	TP_fast_assign(
		wd_assign_str(dev, dev_name(&wdev->dev));
		__entry->addr = addr;
		__entry->pages = pages;
		__entry->write = write;
	),
	TP_printk("%s addr=%#llx pages=%lu %s", __get_str(dev), __entry->addr,
		  __entry->pages, __entry->write ? "write" : "read")
);

TRACE_EVENT(wd_invalidate,
	TP_PROTO(struct wd_device *wdev, unsigned long start, unsigned long end,
		 int dropped, int event),
	TP_ARGS(wdev, start, end, dropped, event),
	TP_STRUCT__entry(
		__string(dev, dev_name(&wdev->dev))
		__field(unsigned long, start)
		__field(unsigned long, end)
		__field(int, dropped)
		__field(int, event)
	),
	TP_fast_assign(
		wd_assign_str(dev, dev_name(&wdev->dev));
		__entry->start = start;
		__entry->end = end;
		__entry->dropped = dropped;
		__entry->event = event;
	),
	TP_printk("%s [%#lx, %#lx) dropped=%d event=%d", __get_str(dev),
		  __entry->start, __entry->end, __entry->dropped,
		  __entry->event)
);

/* @kind: 0 to the device, 1 to system memory (ioctl), 2 CPU fault, 3 eviction */
TRACE_EVENT(wd_migrate,
	TP_PROTO(struct wd_device *wdev, unsigned long start,
		 unsigned long pages, unsigned long moved, int kind),
	TP_ARGS(wdev, start, pages, moved, kind),
	TP_STRUCT__entry(
		__string(dev, dev_name(&wdev->dev))
		__field(unsigned long, start)
		__field(unsigned long, pages)
		__field(unsigned long, moved)
		__field(int, kind)
	),
	TP_fast_assign(
		wd_assign_str(dev, dev_name(&wdev->dev));
		__entry->start = start;
		__entry->pages = pages;
		__entry->moved = moved;
		__entry->kind = kind;
	),
	TP_printk("%s %s start=%#lx pages=%lu moved=%lu", __get_str(dev),
		  __print_symbolic(__entry->kind, { 0, "to_device" },
				   { 1, "to_system" }, { 2, "cpu_fault" },
				   { 3, "evict" }),
		  __entry->start, __entry->pages, __entry->moved)
);

#endif /* _WD_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE wd_trace
#include <trace/define_trace.h>
