// SPDX-License-Identifier: GPL-2.0
/*
 * wd_soft: the WarpDrive reference driver, a software accelerator.
 *
 * Each device it registers executes commands on the CPU: copy, fill,
 * CRC32C, deflate and inflate. Every bound queue has its own engine
 * thread, so queues progress independently: a long command delays only
 * the commands behind it in its own queue, and stopping a queue waits for
 * nothing but that queue's engine, which checks for it at least once per
 * page of a command's input or output.
 *
 * How many of those threads run commands at once is the engines=
 * parameter. With engines=queue each thread runs whenever it has work,
 * and the scheduler shares the CPUs among them. By default (engines=cpu)
 * the module has one execution unit, a "core", per online CPU, shared by
 * the queues of all its devices (each queue is given the core with the
 * fewest queues when it starts): a thread runs commands only while it
 * holds its queue's core, and one that holds it hands it over, first come
 * first served, to a waiting queue of the same core at the next piece of
 * its command once it held it for slice_us, at the latest after a batch.
 * The thread of a queue is what keeps a command's state while another
 * queue's command runs (the zlib stream and the cursors live on its stack
 * and in its engine), so a long command on one queue holds up the other
 * queues of its core by no more than a slice and a piece, and no more
 * commands run at once than there are CPUs. Cores are not bound to CPUs:
 * the scheduler places the threads, so CPU hotplug needs nothing here (a
 * CPU gone leaves one core more than CPUs, which is only less efficient).
 *
 * Device-private memory (devpriv_mb) is emulated: a free physical range
 * (never backed by RAM) provides the ZONE_DEVICE struct pages, and one
 * kernel page per device page, never mapped to user space, holds the
 * data. The framework copies through that table when it migrates.
 *
 * With dma=1 each device gets a DMA device: a platform device with a
 * 64-bit DMA mask, bound to a driver that does nothing else (so that the
 * DMA API's debug checks see it unbind). The framework then DMA-maps every
 * page a command reaches for it, through dma-direct, and the engines work
 * on the RAM behind the DMA addresses, as a device would. This runs the
 * framework's paths for DMA hardware without any.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/ioport.h>
#include <linux/kthread.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include <warpdrive/driver.h>

#include "soft_engine.h"

#define SOFT_MAX_DEVICES	8
#define SOFT_MAX_QUEUES		64
#define SOFT_MAX_DEVMEM_MB	65536
#define SOFT_MAX_DEVPRIV_MB	4096
#define SOFT_WINDOW_MAX		64

static unsigned int num_devices = 1;
module_param(num_devices, uint, 0444);
MODULE_PARM_DESC(num_devices, "number of devices (1-8, default 1)");

static unsigned int queues = 4;
module_param(queues, uint, 0444);
MODULE_PARM_DESC(queues, "hardware queues per device (1-64, default 4)");

static unsigned int devmem_mb = 16;
module_param(devmem_mb, uint, 0444);
MODULE_PARM_DESC(devmem_mb, "device memory per device in MiB (1-65536, default 16)");

static unsigned int devpriv_mb = IS_ENABLED(CONFIG_DEVICE_PRIVATE) ? 8 : 0;
module_param(devpriv_mb, uint, 0444);
MODULE_PARM_DESC(devpriv_mb,
		 "device-private (HMM) memory per device in MiB, a multiple of 2 (0 = none, up to 4096, default 8; 0 and only 0 without CONFIG_DEVICE_PRIVATE)");

static bool hmm_compat;
module_param(hmm_compat, bool, 0444);
MODULE_PARM_DESC(hmm_compat,
		 "create /dev/hmm_dmirror0 and 1 (test_hmm ABI) on devices 0 and 1 (needs num_devices >= 2)");

static unsigned int migrate_window = 16;
module_param(migrate_window, uint, 0444);
MODULE_PARM_DESC(migrate_window,
		 "pages a CPU fault brings back from device-private memory (1-64, default 16)");

static bool evict = true;
module_param(evict, bool, 0444);
MODULE_PARM_DESC(evict,
		 "device-private memory full: evict least recently used pages (1, default) or fail with ENOMEM (0)");

static unsigned int poll_us = 2000;
module_param(poll_us, uint, 0644);
MODULE_PARM_DESC(poll_us, "how long an idle engine polls before it sleeps (us, default 2000)");

static unsigned long long max_cmd_len = SOFT_CMD_MAX_LEN;
module_param(max_cmd_len, ullong, 0444);
MODULE_PARM_DESC(max_cmd_len,
		 "largest src_len or dst_len of one command, bytes (4096 up to and default 1 GiB)");

static bool dma;
module_param(dma, bool, 0444);
MODULE_PARM_DESC(dma,
		 "give each device a DMA device (platform device, 64-bit mask): commands' memory is DMA-mapped for it (tests the framework's DMA paths)");

static char *engines = "cpu";
module_param(engines, charp, 0444);
MODULE_PARM_DESC(engines,
		 "execution units: cpu (default: one per online CPU, shared by the queues), queue (one per queue), or a number of units (1-256)");

static unsigned int slice_us = 250;
module_param(slice_us, uint, 0644);
MODULE_PARM_DESC(slice_us,
		 "engines shared: how long a queue keeps its unit before a waiting queue gets it, at the next piece (us, default 250; 0: every piece)");

#define SOFT_MAX_CORES		256

/* Commands an engine runs before it lets other threads have the CPU. */
#define SOFT_BATCH		16

/**
 * struct soft_dev - one software accelerator
 * @wdev: the framework's view of it
 * @engines: engine state (zlib workspaces) of each hardware queue,
 *           allocated when the queue first starts; a queue starts again
 *           only after it stopped, so each is used by one thread at a time
 * @pgmap: device-private memory, if any
 * @res: the physical range reserved for @pgmap
 * @backing: one kernel page per device-private page: the emulated memory
 * @nr_backing: pages in @backing
 * @dma_pdev: the DMA device (dma=1), or NULL
 */
struct soft_dev {
	struct wd_device *wdev;
	struct soft_engine **engines;
	struct dev_pagemap pgmap;
	struct resource *res;
	struct page **backing;
	unsigned long nr_backing;
	struct platform_device *dma_pdev;
};

struct soft_queue;

/**
 * struct soft_core - an execution unit shared by queues (engines= not queue)
 * @lock: protects @owner, @waiters and the &soft_queue.granted and
 *        &soft_queue.wait_node of the queues on @waiters
 * @owner: the queue whose thread runs commands on the core, or NULL
 * @waiters: queues waiting for the core, first come first served
 * @nr_queues: started queues given this core (soft_cores_lock)
 * @handoffs: times the core went from one queue straight to a waiting one
 * @id: index in soft_cores
 */
struct soft_core {
	spinlock_t lock;
	struct soft_queue *owner;
	struct list_head waiters;
	unsigned int nr_queues;
	u64 handoffs;
	unsigned int id;
};

/**
 * struct soft_queue - a started hardware queue
 * @q: the framework's queue
 * @eng: its engine state
 * @worker: its engine thread, the only one that fetches and completes
 * @wq: where the idle engine sleeps, and where it waits for its core
 * @kicked: a doorbell rang since the engine last looked
 * @core: the execution unit it shares, NULL with engines=queue
 * @wait_node: its place on @core's waiters (@core->lock)
 * @granted: the core was handed to it while it waited (@core->lock)
 * @owns_core: its thread holds @core (only the thread touches this)
 * @core_since: ktime_get_ns() when it got @core
 */
struct soft_queue {
	struct wd_queue *q;
	struct soft_engine *eng;
	struct task_struct *worker;
	wait_queue_head_t wq;
	bool kicked;
	struct soft_core *core;
	struct list_head wait_node;
	bool granted;
	bool owns_core;
	u64 core_since;
};

/*
 * The execution units of engines=cpu or a number, shared by all devices'
 * queues; soft_nr_cores is 0 with engines=queue. Both are set at load.
 */
static struct soft_core *soft_cores;
static unsigned int soft_nr_cores;
/* Protects every core's nr_queues and soft_core_next. */
static DEFINE_MUTEX(soft_cores_lock);
/* Where the search for the least loaded core starts: spreads ties. */
static unsigned int soft_core_next;

/*
 * Nanoseconds the engines of all devices spent running batches of
 * commands (fetch, run, complete), debugfs wd_soft/busy_ns: what wdbench
 * sets against the kernel's own copy, apart from the time commands wait
 * for an engine to get a CPU.
 */
static atomic64_t soft_busy_ns;

/* Serialises the remove knob against module unload. */
static DEFINE_MUTEX(soft_devs_lock);
static struct soft_dev *soft_devs[SOFT_MAX_DEVICES];
static struct dentry *soft_debugfs;

static void soft_kick(struct wd_queue *q)
{
	struct soft_queue *sq = q->drv_priv;

	WRITE_ONCE(sq->kicked, true);
	wake_up(&sq->wq);
}

static int soft_worker(void *data);

/* The queue is stopping: fetch nothing more. */
static bool soft_stopping(struct soft_queue *sq)
{
	return READ_ONCE(sq->eng->cancel) || kthread_should_stop();
}

/* A started queue gets the core with the fewest queues. */
static struct soft_core *soft_core_assign(void)
{
	struct soft_core *best = NULL;
	unsigned int i;

	if (!soft_nr_cores)
		return NULL;
	mutex_lock(&soft_cores_lock);
	for (i = 0; i < soft_nr_cores; i++) {
		struct soft_core *c;

		c = &soft_cores[(soft_core_next + i) % soft_nr_cores];
		if (!best || c->nr_queues < best->nr_queues)
			best = c;
	}
	best->nr_queues++;
	soft_core_next = (best->id + 1) % soft_nr_cores;
	mutex_unlock(&soft_cores_lock);
	return best;
}

static void soft_core_unassign(struct soft_core *core)
{
	if (!core)
		return;
	mutex_lock(&soft_cores_lock);
	core->nr_queues--;
	mutex_unlock(&soft_cores_lock);
}

/*
 * Give @sq's core to the first queue waiting for it, or leave it free.
 * The waiter is woken under the lock: it cannot go (and its soft_queue be
 * freed) before it took the lock itself, to put the core back.
 */
static void soft_core_put(struct soft_queue *sq)
{
	struct soft_core *core = sq->core;
	struct soft_queue *next;

	if (!sq->owns_core)
		return;
	sq->owns_core = false;
	spin_lock(&core->lock);
	WARN_ON_ONCE(core->owner != sq);
	next = list_first_entry_or_null(&core->waiters, struct soft_queue,
					wait_node);
	core->owner = next;
	if (next) {
		list_del_init(&next->wait_node);
		WRITE_ONCE(next->granted, true);
		core->handoffs++;
		wake_up(&next->wq);
	}
	spin_unlock(&core->lock);
}

/*
 * Take @sq's core, waiting behind the queues that asked first. Returns
 * false, without the core, if the queue stops meanwhile.
 */
static bool soft_core_get(struct soft_queue *sq)
{
	struct soft_core *core = sq->core;
	bool got;

	spin_lock(&core->lock);
	if (!core->owner) {
		core->owner = sq;
		spin_unlock(&core->lock);
		goto got;
	}
	sq->granted = false;
	list_add_tail(&sq->wait_node, &core->waiters);
	spin_unlock(&core->lock);

	/* Interruptible: a kthread has no signals, and this is no I/O wait. */
	wait_event_interruptible(sq->wq, READ_ONCE(sq->granted) ||
				 soft_stopping(sq));

	spin_lock(&core->lock);
	got = sq->granted;
	if (!got)
		list_del_init(&sq->wait_node);
	spin_unlock(&core->lock);
	if (got && soft_stopping(sq)) {
		/* Handed over as the queue stops: pass it on at once. */
		sq->owns_core = true;
		soft_core_put(sq);
		return false;
	}
	if (!got)
		return false;
got:
	sq->owns_core = true;
	sq->core_since = ktime_get_ns();
	sq->eng->moved = false;
	return true;
}

/* soft_engine's question at every piece: does a queue wait for our core? */
static bool soft_core_yield_due(void *arg)
{
	struct soft_queue *sq = arg;

	if (!sq->owns_core || list_empty_careful(&sq->core->waiters))
		return false;
	return ktime_get_ns() - sq->core_since >=
	       (u64)READ_ONCE(slice_us) * NSEC_PER_USEC;
}

/* Hand the core to the waiting queue and queue up behind it. */
static bool soft_core_yield(void *arg)
{
	struct soft_queue *sq = arg;

	soft_core_put(sq);
	return soft_core_get(sq);
}

static int soft_queue_start(struct wd_queue *q)
{
	struct soft_dev *sdev = wd_device_priv(q->wdev);
	struct soft_engine *eng = sdev->engines[q->hw_id];
	struct soft_queue *sq;
	int ret;

	if (!eng) {
		eng = kzalloc(sizeof(*eng), GFP_KERNEL);
		if (!eng)
			return -ENOMEM;
		ret = soft_engine_init(eng, max_cmd_len);
		if (ret) {
			kfree(eng);
			return ret;
		}
		sdev->engines[q->hw_id] = eng;
	}
	soft_engine_reset(eng);

	sq = kzalloc(sizeof(*sq), GFP_KERNEL);
	if (!sq)
		return -ENOMEM;
	sq->q = q;
	sq->eng = eng;
	init_waitqueue_head(&sq->wq);
	INIT_LIST_HEAD(&sq->wait_node);
	sq->core = soft_core_assign();
	if (sq->core) {
		eng->yield_due = soft_core_yield_due;
		eng->yield = soft_core_yield;
		eng->yield_arg = sq;
	} else {
		eng->yield_due = NULL;
		eng->yield = NULL;
		eng->yield_arg = NULL;
	}
	q->drv_priv = sq;
	sq->worker = kthread_run(soft_worker, sq, "%s/q%u",
				 dev_name(&q->wdev->dev), q->hw_id);
	if (IS_ERR(sq->worker)) {
		ret = PTR_ERR(sq->worker);
		q->drv_priv = NULL;
		soft_core_unassign(sq->core);
		kfree(sq);
		return ret;
	}
	return 0;
}

/*
 * Waits only for this queue's engine, which ends the command in flight at
 * its next check (WD_ST_CANCELLED) and takes no other; nothing of another
 * queue, and no lock, is held meanwhile.
 */
static void soft_queue_stop(struct wd_queue *q)
{
	struct soft_queue *sq = q->drv_priv;

	WRITE_ONCE(sq->eng->cancel, true);
	/* The thread gives its core back (or leaves its waiters) as it ends. */
	kthread_stop(sq->worker);
	soft_core_unassign(sq->core);
	q->drv_priv = NULL;
	kfree(sq);
}

static struct page *soft_devpriv_backing(struct wd_device *wdev,
					 struct page *dpage)
{
	struct soft_dev *sdev = wd_device_priv(wdev);

	return sdev->backing[page_to_pfn(dpage) - PHYS_PFN(sdev->res->start)];
}

static const struct wd_device_ops soft_ops = {
	.owner = THIS_MODULE,
	.queue_start = soft_queue_start,
	.queue_stop = soft_queue_stop,
	.kick = soft_kick,
	.devpriv_backing = soft_devpriv_backing,
};

/* After wd_device_unregister(): no device page is in use any more. */
static void soft_devpriv_free(struct soft_dev *sdev)
{
	unsigned long i;

	for (i = 0; i < sdev->nr_backing; i++)
		__free_page(sdev->backing[i]);
	kvfree(sdev->backing);
	sdev->backing = NULL;
	sdev->nr_backing = 0;
	if (sdev->res)
		release_mem_region(sdev->res->start, resource_size(sdev->res));
	sdev->res = NULL;
}

/* Reserve a free physical range and the memory that emulates it. */
static int soft_devpriv_init(struct soft_dev *sdev)
{
	unsigned long size = (unsigned long)devpriv_mb << 20;
	unsigned long i, n = size >> PAGE_SHIFT;

	if (!size)
		return 0;
	sdev->res = request_free_mem_region(&iomem_resource, size, "wd_soft");
	if (IS_ERR(sdev->res)) {
		int ret = PTR_ERR(sdev->res);

		sdev->res = NULL;
		return ret;
	}
	sdev->backing = kvcalloc(n, sizeof(*sdev->backing), GFP_KERNEL);
	if (!sdev->backing)
		goto err;
	for (i = 0; i < n; i++) {
		sdev->backing[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!sdev->backing[i])
			goto err;
		sdev->nr_backing++;
	}
	sdev->pgmap.type = MEMORY_DEVICE_PRIVATE;
	/* The region is rounded up to a memory section; use what we back. */
	sdev->pgmap.range.start = sdev->res->start;
	sdev->pgmap.range.end = sdev->res->start + size - 1;
	sdev->pgmap.nr_range = 1;
	sdev->pgmap.owner = sdev->wdev;
	sdev->wdev->devpriv_pgmap = &sdev->pgmap;
	sdev->wdev->devpriv_window = migrate_window;
	sdev->wdev->devpriv_evict = evict;
	return 0;

err:
	soft_devpriv_free(sdev);
	return -ENOMEM;
}

/*
 * Run up to SOFT_BATCH commands of @sq in one memory batch (cached
 * translations kept between them); returns how many ran. With shared
 * execution units, the first command is fetched before the queue asks
 * for its unit (so an idle queue never takes it, and fetching flags bad
 * ring indices as always), and the unit is given back after the batch.
 */
static unsigned int soft_batch(struct soft_queue *sq)
{
	unsigned int n;
	struct wd_cmd cmd;
	struct wd_cqe cqe;
	u64 t0 = 0;

	for (n = 0; n < SOFT_BATCH && !soft_stopping(sq) &&
		    wd_queue_fetch(sq->q, &cmd); n++) {
		if (!n && sq->core && !soft_core_get(sq)) {
			/* The queue stopped while it waited for its unit. */
			memset(&cqe, 0, sizeof(cqe));
			cqe.status = WD_ST_CANCELLED;
			cqe.tag = cmd.tag;
			cqe.opcode = cmd.opcode;
			wd_queue_complete(sq->q, &cqe);
			return 1;
		}
		if (!n) {
			t0 = ktime_get_ns();
			soft_engine_batch_begin(sq->eng, sq->q);
		}
		memset(&cqe, 0, sizeof(cqe));
		soft_engine_run(sq->eng, sq->q, &cmd, &cqe);
		cqe.tag = cmd.tag;
		cqe.opcode = cmd.opcode;
		wd_queue_complete(sq->q, &cqe);
	}
	if (n) {
		soft_engine_batch_end(sq->eng);
		atomic64_add(ktime_get_ns() - t0, &soft_busy_ns);
	}
	soft_core_put(sq);
	return n;
}

/*
 * The engine of one queue: runs its commands while there are some, polls
 * for poll_us once the ring is empty, then publishes NEED_WAKEUP and
 * sleeps until a doorbell. User space that sees the flag clear needs no
 * system call to submit. It ends when the queue stops (kthread_stop()).
 */
static int soft_worker(void *data)
{
	struct soft_queue *sq = data;
	unsigned long idle_since = jiffies;

	while (!kthread_should_stop()) {
		if (soft_batch(sq)) {
			idle_since = jiffies;
			cond_resched();
			continue;
		}
		wd_engine_idle(sq->q, &sq->wq, &sq->kicked, &idle_since,
			       READ_ONCE(poll_us));
	}
	return 0;
}

static void soft_engines_free(struct soft_dev *sdev)
{
	unsigned int i;

	for (i = 0; sdev->engines && i < queues; i++) {
		if (!sdev->engines[i])
			continue;
		soft_engine_fini(sdev->engines[i]);
		kfree(sdev->engines[i]);
	}
	kfree(sdev->engines);
	sdev->engines = NULL;
}

/* The DMA devices (dma=1) bind to this driver; it does nothing else. */
static int soft_dma_probe(struct platform_device *pdev)
{
	return 0;
}

static struct platform_driver soft_dma_driver = {
	.probe = soft_dma_probe,
	.driver = {
		.name = "wd_soft_dma",
	},
};

/* A DMA device for @sdev (dma=1); it must outlive the registration. */
static int soft_dma_init(struct soft_dev *sdev)
{
	struct platform_device *pdev;
	int ret;

	if (!dma)
		return 0;
	pdev = platform_device_register_simple("wd_soft_dma",
					       PLATFORM_DEVID_AUTO, NULL, 0);
	if (IS_ERR(pdev))
		return PTR_ERR(pdev);
	ret = dma_coerce_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret) {
		platform_device_unregister(pdev);
		return ret;
	}
	/* No limit of its own: segments as long as the DMA API allows. */
	dma_set_max_seg_size(&pdev->dev, UINT_MAX);
	sdev->dma_pdev = pdev;
	sdev->wdev->dma_dev = &pdev->dev;
	return 0;
}

/* After wd_device_unregister(): the framework unmapped everything. */
static void soft_dma_free(struct soft_dev *sdev)
{
	if (sdev->dma_pdev)
		platform_device_unregister(sdev->dma_pdev);
	sdev->dma_pdev = NULL;
}

static void soft_dev_destroy(struct soft_dev *sdev)
{
	/* Stops every bound queue and with it every engine thread. */
	wd_device_unregister(sdev->wdev);
	soft_dma_free(sdev);
	soft_engines_free(sdev);
	soft_devpriv_free(sdev);
	wd_device_put(sdev->wdev);
	kfree(sdev);
}

static struct soft_dev *soft_dev_create(void)
{
	struct soft_dev *sdev;
	int ret;

	sdev = kzalloc(sizeof(*sdev), GFP_KERNEL);
	if (!sdev)
		return ERR_PTR(-ENOMEM);
	sdev->engines = kcalloc(queues, sizeof(*sdev->engines), GFP_KERNEL);
	if (!sdev->engines) {
		ret = -ENOMEM;
		goto err_free;
	}

	sdev->wdev = wd_device_alloc(NULL, "wd_soft", &soft_ops, sdev);
	if (IS_ERR(sdev->wdev)) {
		ret = PTR_ERR(sdev->wdev);
		goto err_engine;
	}
	sdev->wdev->api = "wd_soft_v1";
	sdev->wdev->flags = WD_DEV_F_QUEUES | WD_DEV_F_SVA | WD_DEV_F_PINNED |
			    WD_DEV_F_DEVMEM;
	sdev->wdev->algorithms = WD_ALG_COPY | WD_ALG_FILL | WD_ALG_CRC32C |
				 WD_ALG_DEFLATE | WD_ALG_INFLATE;
	sdev->wdev->queues_total = queues;
	sdev->wdev->max_cmd_len = max_cmd_len;
	/* The device memory of the software device: RAM, from the framework. */
	ret = wd_device_set_devmem(sdev->wdev, &(struct wd_devmem_provider) {
		.mode = WD_DEVMEM_RAM,
		.size = (u64)devmem_mb << 20,
	});
	if (ret)
		goto err_put;
	ret = soft_devpriv_init(sdev);
	if (ret)
		goto err_put;
	ret = soft_dma_init(sdev);
	if (ret)
		goto err_put;

	ret = wd_device_register(sdev->wdev);
	if (ret)
		goto err_put;
	return sdev;

err_put:
	soft_dma_free(sdev);
	soft_devpriv_free(sdev);
	wd_device_put(sdev->wdev);
err_engine:
	soft_engines_free(sdev);
err_free:
	kfree(sdev);
	return ERR_PTR(ret);
}

/*
 * debugfs wd_soft/remove: write a device index to unregister that device
 * at once, as a hot-unplug would, even while processes use it.
 */
static ssize_t soft_remove_write(struct file *file, const char __user *ubuf,
				 size_t len, loff_t *ppos)
{
	unsigned int idx;
	int ret;

	ret = kstrtouint_from_user(ubuf, len, 0, &idx);
	if (ret)
		return ret;
	if (idx >= SOFT_MAX_DEVICES)
		return -EINVAL;
	mutex_lock(&soft_devs_lock);
	if (!soft_devs[idx]) {
		mutex_unlock(&soft_devs_lock);
		return -ENODEV;
	}
	soft_dev_destroy(soft_devs[idx]);
	soft_devs[idx] = NULL;
	mutex_unlock(&soft_devs_lock);
	return len;
}

static const struct file_operations soft_remove_fops = {
	.owner = THIS_MODULE,
	.write = soft_remove_write,
};

/*
 * debugfs wd_soft/copy_baseline: the kernel's own copy of the same pages,
 * the baseline COPY through a queue is measured against (wdbench). The
 * caller writes "SRC DST LEN ROUNDS" (page-aligned addresses of its own
 * memory, LEN a multiple of the page size up to SOFT_BASELINE_MAX); the
 * pages are pinned, then copied ROUNDS times, a page at a time with
 * memcpy() through the direct map (what the engine uses on its segments),
 * and a read gives the nanoseconds the copies took (pinning excluded).
 * Through the kernel's memcpy(), as the engine's copies go (see below).
 */
#define SOFT_BASELINE_MAX	(256ULL << 20)
#define SOFT_BASELINE_ROUNDS	1000

static int soft_baseline_open(struct inode *inode, struct file *file)
{
	file->private_data = kzalloc(sizeof(u64), GFP_KERNEL);
	return file->private_data ? 0 : -ENOMEM;
}

static int soft_baseline_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

static ssize_t soft_baseline_read(struct file *file, char __user *ubuf,
				  size_t len, loff_t *ppos)
{
	char buf[24];
	int n = scnprintf(buf, sizeof(buf), "%llu\n",
			  *(u64 *)file->private_data);

	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

/* Copy @nr pinned pages @rounds times; return the nanoseconds it took. */
static u64 soft_baseline_copy(struct page **src, struct page **dst,
			      unsigned long nr, unsigned int rounds)
{
	size_t len = PAGE_SIZE;
	unsigned long i;
	unsigned int r;
	u64 t0, ns = 0;

	/*
	 * The engine's memcpy() gets lengths known only at run time, so it
	 * calls the kernel's memcpy; with a constant length the compiler
	 * would inline a copy loop of its own (rep movsq on x86), and the
	 * baseline would measure that loop, not the primitive.
	 */
	OPTIMIZER_HIDE_VAR(len);
	for (r = 0; r < rounds; r++) {
		t0 = ktime_get_ns();
		for (i = 0; i < nr; i++) {
			memcpy(page_address(dst[i]), page_address(src[i]),
			       len);
			if (i % 64 == 63)
				cond_resched();
		}
		ns += ktime_get_ns() - t0;
		if (fatal_signal_pending(current))
			break;
	}
	return ns;
}

static ssize_t soft_baseline_write(struct file *file, const char __user *ubuf,
				   size_t len, loff_t *ppos)
{
	unsigned long long src, dst, bytes;
	struct page **pages = NULL;
	unsigned int rounds;
	char buf[96];
	long nr, a = 0, b = 0;
	ssize_t ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	if (sscanf(buf, "%llx %llx %llu %u", &src, &dst, &bytes, &rounds) != 4)
		return -EINVAL;
	if (!bytes || bytes > SOFT_BASELINE_MAX || !PAGE_ALIGNED(bytes) ||
	    !PAGE_ALIGNED(src) || !PAGE_ALIGNED(dst) || !rounds ||
	    rounds > SOFT_BASELINE_ROUNDS)
		return -EINVAL;
	if (src + bytes < src || dst + bytes < dst ||
	    (src < dst + bytes && dst < src + bytes))
		return -EINVAL;
	nr = bytes >> PAGE_SHIFT;
	pages = kvcalloc(2 * nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	a = pin_user_pages_fast(src, nr, 0, pages);
	if (a != nr) {
		ret = a < 0 ? a : -EFAULT;
		goto out;
	}
	b = pin_user_pages_fast(dst, nr, FOLL_WRITE, pages + nr);
	if (b != nr) {
		ret = b < 0 ? b : -EFAULT;
		goto out;
	}
	*(u64 *)file->private_data = soft_baseline_copy(pages, pages + nr, nr,
							rounds);
	ret = len;
out:
	if (a > 0)
		unpin_user_pages(pages, a);
	if (b > 0)
		unpin_user_pages_dirty_lock(pages + nr, b, true);
	kvfree(pages);
	return ret;
}

static int soft_busy_get(void *data, u64 *val)
{
	*val = atomic64_read(&soft_busy_ns);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(soft_busy_fops, soft_busy_get, NULL, "%llu\n");

/*
 * debugfs wd_soft/engines: the mode, then one line per core: its id, the
 * started queues given it, and how often it went from one queue straight
 * to a waiting one.
 */
static int soft_engines_show(struct seq_file *m, void *v)
{
	unsigned int i;

	if (!soft_nr_cores) {
		seq_puts(m, "mode queue\n");
		return 0;
	}
	seq_printf(m, "mode %s\ncores %u\n",
		   strcmp(engines, "cpu") ? "fixed" : "cpu", soft_nr_cores);
	mutex_lock(&soft_cores_lock);
	for (i = 0; i < soft_nr_cores; i++) {
		struct soft_core *c = &soft_cores[i];
		u64 handoffs;

		spin_lock(&c->lock);
		handoffs = c->handoffs;
		spin_unlock(&c->lock);
		seq_printf(m, "core %u queues %u handoffs %llu\n", i,
			   c->nr_queues, handoffs);
	}
	mutex_unlock(&soft_cores_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(soft_engines);

/* engines=: "queue" (0 cores), "cpu" (one per online CPU) or a number. */
static int soft_cores_init(void)
{
	unsigned int i, n;

	if (!engines || !strcmp(engines, "cpu")) {
		n = num_online_cpus();
	} else if (!strcmp(engines, "queue")) {
		n = 0;
	} else if (kstrtouint(engines, 10, &n) || !n || n > SOFT_MAX_CORES) {
		pr_err("engines must be cpu, queue or 1-%d\n", SOFT_MAX_CORES);
		return -EINVAL;
	}
	n = min_t(unsigned int, n, SOFT_MAX_CORES);
	if (!n)
		return 0;
	soft_cores = kcalloc(n, sizeof(*soft_cores), GFP_KERNEL);
	if (!soft_cores)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		spin_lock_init(&soft_cores[i].lock);
		INIT_LIST_HEAD(&soft_cores[i].waiters);
		soft_cores[i].id = i;
	}
	soft_nr_cores = n;
	return 0;
}

/* After every device is gone: no queue uses a core any more. */
static void soft_cores_free(void)
{
	kfree(soft_cores);
	soft_cores = NULL;
	soft_nr_cores = 0;
}

static const struct file_operations soft_baseline_fops = {
	.owner = THIS_MODULE,
	.open = soft_baseline_open,
	.release = soft_baseline_release,
	.read = soft_baseline_read,
	.write = soft_baseline_write,
	.llseek = default_llseek,
};

static void soft_destroy_all(void)
{
	int i;

	mutex_lock(&soft_devs_lock);
	for (i = SOFT_MAX_DEVICES - 1; i >= 0; i--) {
		if (soft_devs[i])
			soft_dev_destroy(soft_devs[i]);
		soft_devs[i] = NULL;
	}
	mutex_unlock(&soft_devs_lock);
}

static int __init soft_init(void)
{
	unsigned int i;
	int ret;

	if (!num_devices || num_devices > SOFT_MAX_DEVICES ||
	    !queues || queues > SOFT_MAX_QUEUES ||
	    !devmem_mb || devmem_mb > SOFT_MAX_DEVMEM_MB) {
		pr_err("num_devices must be 1-%d, queues 1-%d, devmem_mb 1-%d\n",
		       SOFT_MAX_DEVICES, SOFT_MAX_QUEUES, SOFT_MAX_DEVMEM_MB);
		return -EINVAL;
	}
	/* Memory hotplug works in 2 MiB subsections. */
	if (devpriv_mb % 2 || devpriv_mb > SOFT_MAX_DEVPRIV_MB ||
	    !migrate_window || migrate_window > SOFT_WINDOW_MAX) {
		pr_err("devpriv_mb must be even, 0-%d; migrate_window 1-%d\n",
		       SOFT_MAX_DEVPRIV_MB, SOFT_WINDOW_MAX);
		return -EINVAL;
	}
	if (max_cmd_len < PAGE_SIZE || max_cmd_len > SOFT_CMD_MAX_LEN) {
		pr_err("max_cmd_len must be %lu-%llu\n", PAGE_SIZE,
		       SOFT_CMD_MAX_LEN);
		return -EINVAL;
	}
	if ((devpriv_mb || hmm_compat) && !IS_ENABLED(CONFIG_DEVICE_PRIVATE)) {
		pr_err("devpriv_mb and hmm_compat need CONFIG_DEVICE_PRIVATE\n");
		return -EOPNOTSUPP;
	}
	if (hmm_compat && (num_devices < 2 || !devpriv_mb)) {
		pr_err("hmm_compat needs num_devices >= 2 and devpriv_mb\n");
		return -EINVAL;
	}
	ret = soft_cores_init();
	if (ret)
		return ret;
	if (dma) {
		ret = platform_driver_register(&soft_dma_driver);
		if (ret) {
			soft_cores_free();
			return ret;
		}
	}

	for (i = 0; i < num_devices; i++) {
		struct soft_dev *sdev = soft_dev_create();

		if (IS_ERR(sdev)) {
			ret = PTR_ERR(sdev);
			goto err;
		}
		soft_devs[i] = sdev;
	}
	for (i = 0; hmm_compat && i < 2; i++) {
		ret = wd_hmm_compat_add(soft_devs[i]->wdev, i);
		if (ret)
			goto err;
	}
	soft_debugfs = debugfs_create_dir("wd_soft", NULL);
	debugfs_create_file("remove", 0200, soft_debugfs, NULL,
			    &soft_remove_fops);
	debugfs_create_file("copy_baseline", 0600, soft_debugfs, NULL,
			    &soft_baseline_fops);
	debugfs_create_file_unsafe("busy_ns", 0400, soft_debugfs, NULL,
				   &soft_busy_fops);
	debugfs_create_file("engines", 0444, soft_debugfs, NULL,
			    &soft_engines_fops);
	return 0;

err:
	soft_destroy_all();
	if (dma)
		platform_driver_unregister(&soft_dma_driver);
	soft_cores_free();
	return ret;
}

static void __exit soft_exit(void)
{
	debugfs_remove(soft_debugfs);
	soft_destroy_all();
	if (dma)
		platform_driver_unregister(&soft_dma_driver);
	soft_cores_free();
}

module_init(soft_init);
module_exit(soft_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("WarpDrive software accelerator");
