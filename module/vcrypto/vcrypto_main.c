// SPDX-License-Identifier: GPL-2.0
/*
 * wd_vcrypto: a WarpDrive driver for virtio-crypto devices.
 *
 * Each device it binds becomes one WarpDrive device offering AES (ECB, CBC,
 * CTR, XTS: what the device takes) through WD_OP_ENCRYPT and WD_OP_DECRYPT.
 * The device has a control virtqueue (cipher sessions) and data virtqueues
 * (one request per command: header, IV, source, destination, status). Every
 * bound WarpDrive queue has an engine thread that fetches commands, turns
 * each into one data request on a data virtqueue (WarpDrive queues share
 * the data virtqueues, queues_per_vq of them each), keeps up to depth of
 * them on the device at once and waits for the device's interrupt (or
 * polls the virtqueue, module parameter polled); commands complete in
 * ring order.
 *
 * Memory: the device works on the process's own pages, no copy. The
 * engine takes the command's buffers from the framework's device MMU as
 * segments (wd_mem_segs(): SVA faults, pinned shares, device memory
 * regions and revocation work as for wd_soft), builds the request's
 * scatterlists over them and adds them to the data virtqueue. Two ways,
 * chosen at probe:
 *
 * - Premapped (kernels with premapped virtqueues, 6.6 on, and a device
 *   behind a translating IOMMU): the WarpDrive device is registered with
 *   the PCI function as its dma_dev, so the segments are the framework's
 *   own DMA mappings (made when a page enters the device's mirror, or at
 *   WD_IOC_SHARE; pages the process maps read-only DMA_TO_DEVICE, the
 *   others both ways) and the ring takes them as they are: nothing is
 *   mapped or unmapped per request. Header, IV, status and CTR padding are driver memory mapped
 *   once per queue.
 * - Ring-mapped (6.1, whose ring maps every descriptor itself, or no
 *   IOMMU): the segments are kernel addresses of the pages and the ring
 *   maps them per request, the source DMA_TO_DEVICE, the destination
 *   DMA_FROM_DEVICE, for exactly the life of the request.
 *
 * Behind the IOMMU the device can then write only what the process may
 * write (premapped), or only the request's destination (ring-mapped).
 * The engine holds the segments
 * (the job's access) until the device returned the request: an
 * invalidation of those pages (munmap, COW, migration) waits for it, so
 * the device never reaches a page the process no longer maps. A request
 * a broken device never returns keeps references on its pages until the
 * device is reset, so they cannot be reused while the device might still
 * write them (ring-mapped), or until an invalidation takes them out of the
 * IOMMU (premapped: the framework's mapping is the device's only way to
 * them).
 *
 * Which devices: every virtio-crypto device, or only those whose PCI
 * function is listed in the module parameter pci (comma separated, e.g.
 * pci=0000:01:00.0); the others are left to the kernel's virtio_crypto
 * driver. Loading wd_vcrypto before virtio_crypto, or sysfs unbind/bind on
 * the virtio bus, decides who gets which device.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/algapi.h>
#include <linux/cache.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <uapi/linux/virtio_crypto.h>

#include <warpdrive/driver.h>

#include "../wd_compat.h"

#define VC_MAX_DATAQ		16
#define VC_MAX_QUEUES		64
#define VC_SESSIONS		8	/* cached sessions per WarpDrive queue */
#define VC_BLOCK		16
#define VC_IV_LEN		WD_CIPHER_IV_LEN
#define VC_MAX_KEY		64
#define VC_CTRL_TIMEOUT		(10 * HZ)
/*
 * Segments (so pages) of one buffer in one request: what one wd_mem_segs()
 * call covers at most; commands are bounded so that a buffer spans no
 * more pages than that.
 */
#define VC_MAX_SG		WD_SEGS_MAX_PAGES
/* Attempts to get both buffers of a command present at once. */
#define VC_GATHER_TRIES		16
#define VC_REQ_TIMEOUT		(10 * HZ)
#define VC_MAX_DEPTH		16
/* Most cache line comparisons of one overlap check (ring-mapped). */
#define VC_OVERLAP_WORK		4096
/* Internal: the command would wait for what is in flight; not a WD_ST_*. */
#define VC_ST_BUSY		U32_MAX

static char *pci;
module_param(pci, charp, 0444);
MODULE_PARM_DESC(pci,
		 "bind only the virtio-crypto devices of these PCI functions (comma separated, e.g. 0000:01:00.0; empty: all)");

static bool polled;
module_param(polled, bool, 0644);
MODULE_PARM_DESC(polled,
		 "engines poll the data virtqueue for completions instead of sleeping until the interrupt (default 0)");

static unsigned int poll_us = 2000;
module_param(poll_us, uint, 0644);
MODULE_PARM_DESC(poll_us,
		 "how long an idle engine polls its ring before it sleeps (us, default 2000)");

static unsigned int queues_per_vq = 4;
module_param(queues_per_vq, uint, 0444);
MODULE_PARM_DESC(queues_per_vq,
		 "WarpDrive queues per data virtqueue (1-16, default 4)");

static unsigned int depth = 8;
module_param(depth, uint, 0444);
MODULE_PARM_DESC(depth,
		 "requests of one WarpDrive queue on the device at once (1-16, default 8)");

static unsigned int max_cmd_kb = 1024;
module_param(max_cmd_kb, uint, 0444);
MODULE_PARM_DESC(max_cmd_kb,
		 "largest command in KiB (4-16384, default 1024; also bounded by the device's max_size)");

static bool premap = true;
module_param(premap, bool, 0444);
MODULE_PARM_DESC(premap,
		 "Use the framework's DMA mappings where the virtqueue takes premapped buffers (default on)");

static bool debug;
module_param(debug, bool, 0644);
MODULE_PARM_DESC(debug, "log every control request (never the key) (default 0)");

static bool probe_modes = true;
module_param(probe_modes, bool, 0444);
MODULE_PARM_DESC(probe_modes,
		 "also offer the AES modes the device does not advertise but accepts a session for (default 1)");

/**
 * struct vc_dataq - one data virtqueue
 * @vq: the virtqueue
 * @lock: protects @vq (add, kick, get) against the interrupt callback and
 *        the engines sharing it
 * @space: engines waiting for free descriptors
 * @name: virtqueue name
 */
struct vc_dataq {
	struct virtqueue *vq;
	spinlock_t lock;
	wait_queue_head_t space;
	char name[24];
};

/**
 * struct vc_dev - one bound virtio-crypto device
 * @vdev: the virtio device
 * @wdev: its WarpDrive device
 * @dq: data virtqueues
 * @nr_dq: number of them
 * @ctrl_vq: control virtqueue
 * @ctrl_lock: protects @ctrl_vq, @ctrl_out and @ctrl_in: one control
 *             request at a time
 * @ctrl_out: control request and key (device-readable)
 * @ctrl_in: session input and status (device-writable, own cache line)
 * @ctrl_done: the control request in flight completed
 * @ctrl_dead: the control queue timed out; no more requests
 * @cipher_mask: cipher_algo_l of the device config
 * @max_key: max_cipher_key_len of the device config
 * @max_size: max_size of the device config
 * @modes: WD_ALG_AES_* offered
 * @max_len: largest command length offered
 * @dma_dev: the device the framework maps for, when the data virtqueues
 *           are premapped; NULL when the rings map each request
 * @orphan_lock: protects @orphans
 * @orphans: requests a broken device never completed, with references on
 *           their pages; released after the device is reset
 * @inflight_peak: most requests one queue had on the device at once
 */
struct vc_dev {
	struct virtio_device *vdev;
	struct wd_device *wdev;
	struct vc_dataq dq[VC_MAX_DATAQ];
	unsigned int nr_dq;
	struct virtqueue *ctrl_vq;
	struct mutex ctrl_lock;
	struct vc_ctrl_out *ctrl_out;
	struct vc_ctrl_in *ctrl_in;
	struct completion ctrl_done;
	bool ctrl_dead;
	u32 cipher_mask;
	u32 max_key;
	u64 max_size;
	u32 modes;
	u64 max_len;
	struct device *dma_dev;
	spinlock_t orphan_lock;
	struct list_head orphans;
	atomic_t inflight_peak;
};

struct vc_ctrl_out {
	struct virtio_crypto_op_ctrl_req req;
	u8 key[VC_MAX_KEY];
};

struct vc_ctrl_in {
	struct virtio_crypto_session_input input;
	struct virtio_crypto_inhdr status;
};

/**
 * struct vc_session - a device cipher session a queue keeps
 * @valid: the entry holds a session
 * @id: the device's session id
 * @mode: WD_CIPHER_*
 * @encrypt: direction
 * @key_len: bytes of @key
 * @key: the key (compared on lookup; wiped when dropped)
 * @used: last use, for replacement
 */
struct vc_session {
	bool valid;
	u64 id;
	u32 mode;
	bool encrypt;
	u32 key_len;
	u8 key[VC_MAX_KEY];
	unsigned long used;
};

/**
 * struct vc_req - one data request of a queue
 * @hdr: request header (device-readable)
 * @iv: IV (device-readable)
 * @status: status (device-writable; allocated on its own cache line)
 * @done: the device returned the request
 * @sq: owner, woken at completion
 */
struct vc_req {
	struct virtio_crypto_op_data_req hdr;
	u8 iv[VC_IV_LEN];
	struct virtio_crypto_inhdr *status;
	bool done;
	struct vc_queue *sq;
};

/* Header and IV, contiguous in struct vc_req: handed over as one buffer. */
#define VC_HDR_IV_LEN	(sizeof(struct virtio_crypto_op_data_req) + VC_IV_LEN)
static_assert(offsetof(struct vc_req, iv) ==
	      sizeof(struct virtio_crypto_op_data_req));

/**
 * struct vc_xfer - a queue's request and the scatterlists it hands over
 * @req: header, IV and status
 * @pad: VC_BLOCK zero bytes the device reads after a CTR source that is not
 *       whole blocks (device-readable)
 * @tail: where the device writes the output of that padding (its own cache
 *        line, device-writable)
 * @src_sg: source: the user's pages, then @pad if needed
 * @dst_sg: destination: the user's pages, then @tail if needed
 * @held: pages an abandoned request keeps referenced
 * @nr_held: number of them
 * @node: in &vc_dev.orphans when abandoned
 * @dma: premapped rings: the device @hdr_dma.. are mapped for, else NULL
 * @hdr_dma: DMA address of the request header and the IV after it
 * @status_dma: of the status
 * @pad_dma: of @pad
 * @tail_dma: of @tail
 */
struct vc_xfer {
	struct vc_req *req;
	u8 *pad;
	u8 *tail;
	struct scatterlist src_sg[VC_MAX_SG + 1];
	struct scatterlist dst_sg[VC_MAX_SG + 1];
	struct page *held[2 * VC_MAX_SG];
	unsigned int nr_held;
	struct list_head node;
	struct device *dma;
	dma_addr_t hdr_dma;
	dma_addr_t status_dma;
	dma_addr_t pad_dma;
	dma_addr_t tail_dma;
};

/**
 * struct vc_slot - a request of a queue and the command it runs
 * @xfer: the request and its scatterlists (NULL once abandoned)
 * @job: memory job of the command; holds its buffers while the device
 *       has the request (its TLB is kept from one command to the next)
 * @src: source cursor (also reads the key)
 * @dst: destination cursor
 * @cmd: the command
 * @nsrc: entries of the source scatterlist
 * @ndst: of the destination scatterlist
 * @pad: CTR padding bytes after each buffer
 */
struct vc_slot {
	struct vc_xfer *xfer;
	struct wd_mem_job job;
	struct wd_mem_cursor src;
	struct wd_mem_cursor dst;
	struct wd_cmd cmd;
	int nsrc;
	int ndst;
	u32 pad;
};

/**
 * struct vc_queue - a started WarpDrive queue
 * @q: the framework's queue
 * @vc: device
 * @dq: the data virtqueue it uses
 * @worker: engine thread; the only user of everything below but @kicked
 *          and @cancel
 * @wq: where the engine sleeps (idle, or waiting for its requests)
 * @kicked: a doorbell rang
 * @cancel: the queue is stopping
 * @sess: cached sessions
 * @key: key and IV of the command being started
 * @segs: segments of the buffer being gathered
 * @depth: slots in use (module parameter depth)
 * @head: slot of the oldest request in flight
 * @count: requests in flight, from @head on in submission order
 * @head_since: when the oldest request became the oldest (jiffies)
 * @slot: the requests
 */
struct vc_queue {
	struct wd_queue *q;
	struct vc_dev *vc;
	struct vc_dataq *dq;
	struct task_struct *worker;
	wait_queue_head_t wq;
	bool kicked;
	bool cancel;
	struct vc_session sess[VC_SESSIONS];
	u8 key[VC_MAX_KEY + VC_IV_LEN];
	struct wd_seg segs[VC_MAX_SG];
	unsigned int depth;
	unsigned int head;
	unsigned int count;
	unsigned long head_since;
	struct vc_slot slot[VC_MAX_DEPTH];
};

static const struct {
	u32 mode;
	u32 alg;
	u32 vio;
} vc_modes[] = {
	{ WD_CIPHER_ECB, WD_ALG_AES_ECB, VIRTIO_CRYPTO_CIPHER_AES_ECB },
	{ WD_CIPHER_CBC, WD_ALG_AES_CBC, VIRTIO_CRYPTO_CIPHER_AES_CBC },
	{ WD_CIPHER_CTR, WD_ALG_AES_CTR, VIRTIO_CRYPTO_CIPHER_AES_CTR },
	{ WD_CIPHER_XTS, WD_ALG_AES_XTS, VIRTIO_CRYPTO_CIPHER_AES_XTS },
};

static int vc_mode_index(u32 mode)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vc_modes); i++)
		if (vc_modes[i].mode == mode)
			return i;
	return -1;
}

static bool vc_key_len_ok(u32 mode, u32 len)
{
	if (mode == WD_CIPHER_XTS)
		return len == 32 || len == 64;
	return len == 16 || len == 24 || len == 32;
}

/* Control queue */

static void vc_ctrl_cb(struct virtqueue *vq)
{
	struct vc_dev *vc = vq->vdev->priv;
	unsigned int len;

	/* One request at a time: ctrl_lock is held by its submitter. */
	while (virtqueue_get_buf(vq, &len))
		complete(&vc->ctrl_done);
}

/*
 * Run the control request in vc->ctrl_out (@out_len bytes, the key
 * included) and wait for the device to answer into vc->ctrl_in
 * (@in_len bytes). Called with ctrl_lock held.
 */
static int vc_ctrl_run(struct vc_dev *vc, unsigned int out_len,
		       unsigned int in_len)
{
	struct scatterlist out, in, *sgs[2] = { &out, &in };
	int ret;

	if (vc->ctrl_dead)
		return -EIO;
	sg_init_one(&out, vc->ctrl_out, out_len);
	sg_init_one(&in, in_len == sizeof(vc->ctrl_in->input) ?
		    (void *)&vc->ctrl_in->input : (void *)&vc->ctrl_in->status,
		    in_len);
	if (READ_ONCE(debug))
		dev_info(&vc->vdev->dev, "control request %#x, %u+%u bytes\n",
			 le32_to_cpu(vc->ctrl_out->req.header.opcode), out_len,
			 in_len);
	reinit_completion(&vc->ctrl_done);
	ret = virtqueue_add_sgs(vc->ctrl_vq, sgs, 1, 1, vc, GFP_KERNEL);
	if (ret)
		return ret;
	virtqueue_kick(vc->ctrl_vq);
	if (!wait_for_completion_timeout(&vc->ctrl_done, VC_CTRL_TIMEOUT)) {
		/* The buffers stay the device's until it is reset. */
		dev_err(&vc->vdev->dev, "control request timed out\n");
		vc->ctrl_dead = true;
		return -ETIMEDOUT;
	}
	return 0;
}

/*
 * Create a cipher session. Returns 0 and the id, -EINVAL when the device
 * refuses the parameters, or another negative errno.
 */
static int vc_session_create(struct vc_dev *vc, u32 vio_alg, bool encrypt,
			     const u8 *key, u32 key_len, u64 *id)
{
	struct virtio_crypto_op_ctrl_req *req;
	u32 st;
	int ret;

	mutex_lock(&vc->ctrl_lock);
	req = &vc->ctrl_out->req;
	memset(vc->ctrl_out, 0, sizeof(*vc->ctrl_out));
	req->header.opcode = cpu_to_le32(VIRTIO_CRYPTO_CIPHER_CREATE_SESSION);
	req->header.algo = cpu_to_le32(vio_alg);
	req->u.sym_create_session.op_type =
		cpu_to_le32(VIRTIO_CRYPTO_SYM_OP_CIPHER);
	req->u.sym_create_session.u.cipher.para.algo = cpu_to_le32(vio_alg);
	req->u.sym_create_session.u.cipher.para.keylen = cpu_to_le32(key_len);
	req->u.sym_create_session.u.cipher.para.op =
		cpu_to_le32(encrypt ? VIRTIO_CRYPTO_OP_ENCRYPT :
				      VIRTIO_CRYPTO_OP_DECRYPT);
	memcpy(vc->ctrl_out->key, key, key_len);
	vc->ctrl_in->input.status = cpu_to_le32(VIRTIO_CRYPTO_ERR);
	ret = vc_ctrl_run(vc, sizeof(*req) + key_len,
			  sizeof(vc->ctrl_in->input));
	memzero_explicit(vc->ctrl_out->key, sizeof(vc->ctrl_out->key));
	if (!ret) {
		st = le32_to_cpu(vc->ctrl_in->input.status);
		if (st == VIRTIO_CRYPTO_OK)
			*id = le64_to_cpu(vc->ctrl_in->input.session_id);
		else
			ret = -EINVAL;
	}
	mutex_unlock(&vc->ctrl_lock);
	return ret;
}

static void vc_session_destroy(struct vc_dev *vc, u32 vio_alg, u64 id)
{
	struct virtio_crypto_op_ctrl_req *req;
	int ret;

	mutex_lock(&vc->ctrl_lock);
	req = &vc->ctrl_out->req;
	memset(req, 0, sizeof(*req));
	req->header.opcode = cpu_to_le32(VIRTIO_CRYPTO_CIPHER_DESTROY_SESSION);
	req->header.algo = cpu_to_le32(vio_alg);
	req->u.destroy_session.session_id = cpu_to_le64(id);
	vc->ctrl_in->status.status = VIRTIO_CRYPTO_ERR;
	ret = vc_ctrl_run(vc, sizeof(*req), sizeof(vc->ctrl_in->status));
	if (!ret && vc->ctrl_in->status.status != VIRTIO_CRYPTO_OK)
		dev_warn(&vc->vdev->dev, "session %llu: destroy refused (%u)\n",
			 id, vc->ctrl_in->status.status);
	mutex_unlock(&vc->ctrl_lock);
}

static void vc_session_drop(struct vc_dev *vc, struct vc_session *s)
{
	if (!s->valid)
		return;
	vc_session_destroy(vc, vc_modes[vc_mode_index(s->mode)].vio, s->id);
	memzero_explicit(s, sizeof(*s));
}

/*
 * Find or create the session for a key; 0 or a WD_ST_* status. Creating
 * one waits for the control queue (and may drop a session requests in
 * flight use): with @nowait (requests in flight) VC_ST_BUSY instead.
 */
static u32 vc_session_get(struct vc_queue *sq, u32 mode, bool encrypt,
			  const u8 *key, u32 key_len, bool nowait, u64 *id)
{
	struct vc_session *s, *victim = &sq->sess[0];
	unsigned int i;
	int ret;

	for (i = 0; i < VC_SESSIONS; i++) {
		s = &sq->sess[i];
		if (s->valid && s->mode == mode && s->encrypt == encrypt &&
		    s->key_len == key_len && !crypto_memneq(s->key, key, key_len)) {
			s->used = jiffies;
			*id = s->id;
			return WD_ST_OK;
		}
		if (!s->valid || (victim->valid &&
				  time_before(s->used, victim->used)))
			victim = s;
	}
	if (nowait)
		return VC_ST_BUSY;
	vc_session_drop(sq->vc, victim);
	ret = vc_session_create(sq->vc, vc_modes[vc_mode_index(mode)].vio,
				encrypt, key, key_len, id);
	if (ret)
		return ret == -EINVAL ? WD_ST_INVALID : WD_ST_NODEV;
	victim->valid = true;
	victim->id = *id;
	victim->mode = mode;
	victim->encrypt = encrypt;
	victim->key_len = key_len;
	memcpy(victim->key, key, key_len);
	victim->used = jiffies;
	return WD_ST_OK;
}

/* Data queues */

/*
 * Take the requests the device returned. @rearm: enable the interrupt
 * again (interrupt mode); a polling engine leaves it off, so the device
 * raises no MSI-X while engines poll.
 */
static void vc_dq_drain(struct vc_dataq *dq, bool rearm)
{
	struct vc_req *req;
	unsigned long flags;
	unsigned int len;
	bool freed = false;

	spin_lock_irqsave(&dq->lock, flags);
	do {
		virtqueue_disable_cb(dq->vq);
		while ((req = virtqueue_get_buf(dq->vq, &len))) {
			/* Unmapped by the ring before we look at it. */
			smp_store_release(&req->done, true);
			wake_up(&req->sq->wq);
			freed = true;
		}
	} while (rearm && !virtqueue_enable_cb(dq->vq));
	spin_unlock_irqrestore(&dq->lock, flags);
	if (freed)
		wake_up(&dq->space);
}

static void vc_data_cb(struct virtqueue *vq)
{
	struct vc_dev *vc = vq->vdev->priv;

	vc_dq_drain(&vc->dq[vq->index], true);
}

static void vc_xfer_unmap(struct vc_xfer *x)
{
	struct device *dev = x->dma;

	if (!dev)
		return;
	dma_unmap_single(dev, x->tail_dma, VC_BLOCK, DMA_FROM_DEVICE);
	dma_unmap_single(dev, x->pad_dma, VC_BLOCK, DMA_TO_DEVICE);
	dma_unmap_single(dev, x->status_dma, sizeof(*x->req->status),
			 DMA_FROM_DEVICE);
	dma_unmap_single(dev, x->hdr_dma, VC_HDR_IV_LEN, DMA_TO_DEVICE);
	x->dma = NULL;
}

/* Premapped rings: map the driver's parts of the request once. */
static int vc_xfer_map(struct vc_xfer *x, struct device *dev)
{
	struct vc_req *req = x->req;

	x->hdr_dma = dma_map_single(dev, &req->hdr, VC_HDR_IV_LEN,
				    DMA_TO_DEVICE);
	if (dma_mapping_error(dev, x->hdr_dma))
		return -ENOMEM;
	x->status_dma = dma_map_single(dev, req->status, sizeof(*req->status),
				       DMA_FROM_DEVICE);
	if (dma_mapping_error(dev, x->status_dma))
		goto err_hdr;
	x->pad_dma = dma_map_single(dev, x->pad, VC_BLOCK, DMA_TO_DEVICE);
	if (dma_mapping_error(dev, x->pad_dma))
		goto err_status;
	x->tail_dma = dma_map_single(dev, x->tail, VC_BLOCK, DMA_FROM_DEVICE);
	if (dma_mapping_error(dev, x->tail_dma))
		goto err_pad;
	x->dma = dev;
	return 0;

err_pad:
	dma_unmap_single(dev, x->pad_dma, VC_BLOCK, DMA_TO_DEVICE);
err_status:
	dma_unmap_single(dev, x->status_dma, sizeof(*req->status),
			 DMA_FROM_DEVICE);
err_hdr:
	dma_unmap_single(dev, x->hdr_dma, VC_HDR_IV_LEN, DMA_TO_DEVICE);
	return -ENOMEM;
}

static void vc_xfer_free(struct vc_xfer *x)
{
	unsigned int i;

	if (!x)
		return;
	vc_xfer_unmap(x);
	for (i = 0; i < x->nr_held; i++)
		put_page(x->held[i]);
	if (x->req)
		kfree(x->req->status);
	kfree(x->req);
	kfree(x->pad);
	kfree(x->tail);
	kvfree(x);
}

static struct vc_xfer *vc_xfer_alloc(struct device *dma)
{
	size_t line = max_t(size_t, SMP_CACHE_BYTES, VC_BLOCK);
	struct vc_xfer *x;

	x = kvzalloc(sizeof(*x), GFP_KERNEL);
	if (!x)
		return NULL;
	x->req = kzalloc(sizeof(*x->req), GFP_KERNEL);
	x->pad = kzalloc(line, GFP_KERNEL);
	/* What the device writes: cache lines of their own. */
	x->tail = kzalloc(line, GFP_KERNEL);
	if (!x->req || !x->pad || !x->tail)
		goto err;
	x->req->status = kzalloc(max_t(size_t, SMP_CACHE_BYTES,
				       sizeof(*x->req->status)), GFP_KERNEL);
	if (!x->req->status)
		goto err;
	if (dma && vc_xfer_map(x, dma))
		goto err;
	return x;
err:
	vc_xfer_free(x);
	return NULL;
}

/* Take a reference on each page of the first @n entries of @sgl. */
static void vc_hold_sg(struct vc_xfer *x, struct scatterlist *sgl,
		       unsigned int n)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sg(sgl, sg, n, i) {
		struct page *page = sg_page(sg) + sg->offset / PAGE_SIZE;
		unsigned int off = sg->offset % PAGE_SIZE, left = sg->length;

		while (left && x->nr_held < ARRAY_SIZE(x->held)) {
			unsigned int c = min_t(unsigned int, left,
					       PAGE_SIZE - off);

			get_page(page);
			x->held[x->nr_held++] = page++;
			off = 0;
			left -= c;
		}
	}
}

static bool vc_stopping(struct vc_queue *sq)
{
	return READ_ONCE(sq->cancel) || kthread_should_stop();
}

/* The @i-th request in flight, from the oldest; @i == count: the next. */
static struct vc_slot *vc_slot_at(struct vc_queue *sq, unsigned int i)
{
	return &sq->slot[(sq->head + i) % sq->depth];
}

/* Let go of everything the slot's command holds of the process's memory. */
static void vc_slot_release(struct vc_slot *s)
{
	wd_mem_finish(&s->src);
	wd_mem_finish(&s->dst);
	wd_mem_job_end(&s->job);
}

/* Read the key and IV of a command; 0, a WD_ST_* status or VC_ST_BUSY. */
static u32 vc_read_key(struct vc_queue *sq, struct vc_slot *s, u64 addr,
		       u32 len)
{
	struct wd_mem_cursor *cur = &s->src;
	u32 st = WD_ST_OK, off = 0;

	if (wd_mem_start(cur, &s->job, addr, len, false))
		st = WD_ST_FAULT;
	while (!st && off < len) {
		void *p;
		ssize_t n = wd_mem_map(cur, &p);

		if (n == -EAGAIN)
			continue;
		if (n == -EBUSY)
			st = VC_ST_BUSY;
		else if (n == -ECANCELED)
			st = WD_ST_CANCELLED;
		else if (n <= 0)
			st = WD_ST_FAULT;
		if (st)
			break;
		n = min_t(ssize_t, n, len - off);
		memcpy(sq->key + off, p, n);
		wd_mem_advance(cur, n);
		off += n;
	}
	wd_mem_finish(cur);
	wd_mem_job_end(&s->job);
	return st;
}

static u32 vc_check(struct vc_queue *sq, const struct wd_cmd *cmd)
{
	struct vc_dev *vc = sq->vc;
	u32 mode = WD_CIPHER_MODE(cmd->param);
	u32 key_len = WD_CIPHER_KEY_LEN(cmd->param);
	int mi;

	if (cmd->opcode == WD_OP_NOP)
		return (cmd->src || cmd->src_len || cmd->dst || cmd->dst_len ||
			cmd->param || cmd->format || cmd->flags ||
			cmd->reserved) ? WD_ST_INVALID : WD_ST_OK;
	if (cmd->opcode != WD_OP_ENCRYPT && cmd->opcode != WD_OP_DECRYPT)
		return WD_ST_INVALID;
	if (cmd->flags || cmd->format || (cmd->param >> 16))
		return WD_ST_INVALID;
	mi = vc_mode_index(mode);
	if (mi < 0 || !(vc->modes & vc_modes[mi].alg))
		return WD_ST_INVALID;
	if (!vc_key_len_ok(mode, key_len) || key_len > vc->max_key)
		return WD_ST_INVALID;
	if (cmd->src_len > vc->max_len || cmd->dst_len > vc->max_len)
		return WD_ST_TOO_BIG;
	if (mode != WD_CIPHER_CTR && cmd->src_len % VC_BLOCK)
		return WD_ST_INVALID;
	if (mode == WD_CIPHER_XTS && cmd->src_len < VC_BLOCK)
		return WD_ST_INVALID;
	if (cmd->dst_len < cmd->src_len)
		return WD_ST_NOSPACE;
	if (cmd->src_len && cmd->src < cmd->dst + cmd->src_len &&
	    cmd->dst < cmd->src + cmd->src_len)
		return WD_ST_OVERLAP;
	return WD_ST_OK;
}

/*
 * Premapped rings read the DMA address and the length of an entry; there
 * is no page behind it for them to map.
 */
static void vc_sg_set_dma(struct scatterlist *sg, dma_addr_t dma, u32 len)
{
	sg->length = len;
	sg_dma_address(sg) = dma;
	sg_dma_len(sg) = len;
}

static void vc_sg_dma(struct scatterlist *sg, dma_addr_t dma, u32 len)
{
	sg_init_table(sg, 1);
	vc_sg_set_dma(sg, dma, len);
}

/*
 * Add the slot's request to the data virtqueue and notify the device.
 * With @nowait (requests of the queue in flight) a full ring is not
 * waited for: VC_ST_BUSY, the engine takes its own requests back first.
 * Return: 0 (the request is the device's) or a WD_ST_* status.
 */
static u32 vc_submit(struct vc_queue *sq, struct vc_slot *s, u32 iv_len,
		     bool nowait)
{
	struct vc_xfer *x = s->xfer;
	struct vc_req *req = x->req;
	struct vc_dataq *dq = sq->dq;
	struct scatterlist hdr, status, *sgs[4];
	unsigned int out = 0, in = 0;
	unsigned long flags;
	bool notify;
	int ret;

	req->sq = sq;
	req->done = false;
	req->status->status = VIRTIO_CRYPTO_ERR;
	if (x->dma) {
		vc_sg_dma(&hdr, x->hdr_dma, sizeof(req->hdr) + iv_len);
		vc_sg_dma(&status, x->status_dma, sizeof(*req->status));
		dma_sync_single_for_device(x->dma, x->hdr_dma, VC_HDR_IV_LEN,
					   DMA_TO_DEVICE);
		dma_sync_single_for_device(x->dma, x->status_dma,
					   sizeof(*req->status),
					   DMA_FROM_DEVICE);
	} else {
		sg_init_one(&hdr, &req->hdr, sizeof(req->hdr) + iv_len);
		sg_init_one(&status, req->status, sizeof(*req->status));
	}
	/*
	 * The device reads its input as one stream (header, IV, source), so
	 * header and IV, which follow each other in struct vc_req, are one
	 * buffer: one DMA mapping less per request where the ring maps.
	 */
	sgs[out++] = &hdr;
	sgs[out++] = x->src_sg;
	sgs[out + in++] = x->dst_sg;
	sgs[out + in++] = &status;

	for (;;) {
		if (vc_stopping(sq))
			return WD_ST_CANCELLED;
		spin_lock_irqsave(&dq->lock, flags);
		ret = virtqueue_add_sgs(dq->vq, sgs, out, in, req, GFP_ATOMIC);
		notify = !ret && virtqueue_kick_prepare(dq->vq);
		spin_unlock_irqrestore(&dq->lock, flags);
		if (ret != -ENOSPC)
			break;
		/* Not even an empty ring takes it: it never will. */
		if (dq->vq->num_free == virtqueue_get_vring_size(dq->vq))
			return WD_ST_TOO_BIG;
		if (nowait)
			return VC_ST_BUSY;
		/* Full: hold the command until the device returns some. */
		vc_dq_drain(dq, !READ_ONCE(polled));
		wait_event_timeout(dq->space, vc_stopping(sq) ||
				   dq->vq->num_free >= s->nsrc + s->ndst + 2,
				   HZ / 10);
	}
	if (ret)
		return virtqueue_is_broken(dq->vq) ? WD_ST_NODEV : WD_ST_INVALID;
	if (notify)
		virtqueue_notify(dq->vq);
	return WD_ST_OK;
}

/*
 * Scatterlist over the whole of what @cur has left (@len bytes): the
 * user's pages from one wd_mem_segs() call, then @extra_len bytes at
 * @extra (premapped: at @extra_dma). Return: the entries, -ENOENT (not
 * every page is present yet), or wd_mem_segs()'s -EAGAIN, -EBUSY,
 * -ECANCELED, -EFAULT.
 */
static int vc_gather(struct vc_queue *sq, struct vc_xfer *x,
		     struct wd_mem_cursor *cur, u64 len,
		     struct scatterlist *sgl, void *extra,
		     dma_addr_t extra_dma, u32 extra_len)
{
	struct wd_seg *segs = sq->segs;
	unsigned int nr, i;
	ssize_t n;

	n = wd_mem_segs_limit(cur, segs, VC_MAX_SG, &nr, len);
	if (n < 0)
		return n;
	if (n < len)
		return -ENOENT;
	sg_init_table(sgl, nr + !!extra_len);
	for (i = 0; i < nr; i++) {
		if (x->dma)
			vc_sg_set_dma(&sgl[i], segs[i].dma, segs[i].len);
		else
			sg_set_buf(&sgl[i], segs[i].kaddr, segs[i].len);
	}
	if (extra_len && x->dma)
		vc_sg_set_dma(&sgl[nr], extra_dma, extra_len);
	else if (extra_len)
		sg_set_buf(&sgl[nr], extra, extra_len);
	return nr + !!extra_len;
}

/*
 * Walk the whole of @cur once so that every page of it is in the device's
 * mirror (SVA device faults, with fault-around); holds nothing after.
 */
static int vc_prefault(struct vc_queue *sq, struct wd_mem_cursor *cur)
{
	unsigned int nr, tries = 0;
	ssize_t n;

	while ((n = wd_mem_segs(cur, sq->segs, VC_MAX_SG, &nr))) {
		if (n == -EAGAIN && ++tries < VC_GATHER_TRIES)
			continue;
		if (n < 0)
			return n;
		wd_mem_advance(cur, n);
	}
	return 0;
}

static u32 vc_errno_status(int err)
{
	return err == -ECANCELED ? WD_ST_CANCELLED : WD_ST_FAULT;
}

/*
 * Get both buffers of the slot's command present and held at once, as
 * scatterlists over the user's pages (with the CTR padding after each).
 * On success the job holds them until vc_slot_release(). With @nowait
 * (requests in flight) nothing is faulted in or waited for: VC_ST_BUSY.
 * Return: 0 or a status (the job then holds nothing).
 */
static u32 vc_map_buffers(struct vc_queue *sq, struct vc_slot *s,
			  bool nowait)
{
	const struct wd_cmd *cmd = &s->cmd;
	struct vc_xfer *x = s->xfer;
	u64 len = cmd->src_len;
	unsigned int tries;
	int ret = 0;

	for (tries = 0; tries < VC_GATHER_TRIES; tries++) {
		if (vc_stopping(sq))
			return WD_ST_CANCELLED;
		if (wd_mem_start(&s->src, &s->job, cmd->src, len, false) ||
		    wd_mem_start(&s->dst, &s->job, cmd->dst, len, true)) {
			vc_slot_release(s);
			return WD_ST_FAULT;
		}
		/* Not all there last time: fault everything in first. */
		if (tries) {
			ret = vc_prefault(sq, &s->src);
			if (!ret)
				ret = vc_prefault(sq, &s->dst);
			vc_slot_release(s);
			if (ret)
				return vc_errno_status(ret);
			wd_mem_start(&s->src, &s->job, cmd->src, len, false);
			wd_mem_start(&s->dst, &s->job, cmd->dst, len, true);
		}
		s->nsrc = vc_gather(sq, x, &s->src, len, x->src_sg, x->pad,
				    x->pad_dma, s->pad);
		if (s->nsrc < 0) {
			ret = s->nsrc;
		} else {
			s->ndst = vc_gather(sq, x, &s->dst, len, x->dst_sg,
					    x->tail, x->tail_dma, s->pad);
			if (s->ndst >= 0)
				return WD_ST_OK;
			ret = s->ndst;
		}
		vc_slot_release(s);
		/* Would fault or wait: not with requests in flight. */
		if (nowait && (ret == -EBUSY || ret == -ENOENT))
			return VC_ST_BUSY;
		/* Pages went away under us, or were not all there: again. */
		if (ret != -EAGAIN && ret != -ENOENT)
			return vc_errno_status(ret);
	}
	/* The memory never held still for long enough. */
	return WD_ST_FAULT;
}

/*
 * Ring-mapped: does the destination of slot @s share a cache line with
 * the destination of a request in flight? The ring would map that line
 * for the device to write twice at once, which the DMA API does not
 * allow (a process may well point two commands at one buffer). Compared
 * by kernel address, so two user mappings of one page count too. The work
 * is bounded: past VC_OVERLAP_WORK comparisons the answer is yes, and the
 * caller waits for what is in flight.
 */
static bool vc_dst_overlaps(struct vc_queue *sq, struct vc_slot *s)
{
	unsigned int i, j, k, work = 0;
	struct scatterlist *a, *b;

	for (i = 0; i < sq->count; i++) {
		struct vc_slot *o = vc_slot_at(sq, i);

		if (!o->xfer)
			continue;
		for_each_sg(s->xfer->dst_sg, a, s->ndst - !!s->pad, j) {
			unsigned long a0 = (unsigned long)sg_virt(a);
			unsigned long a1 = ALIGN(a0 + a->length, L1_CACHE_BYTES);

			a0 = ALIGN_DOWN(a0, L1_CACHE_BYTES);
			for_each_sg(o->xfer->dst_sg, b, o->ndst - !!o->pad, k) {
				unsigned long b0 = (unsigned long)sg_virt(b);
				unsigned long b1 = ALIGN(b0 + b->length,
							 L1_CACHE_BYTES);

				if (++work > VC_OVERLAP_WORK)
					return true;
				if (ALIGN_DOWN(b0, L1_CACHE_BYTES) < a1 && a0 < b1)
					return true;
			}
		}
	}
	return false;
}

/*
 * Start a command in slot @s: check it, read its key, find its session,
 * get its buffers and hand the request to the device (*@queued then set).
 * @nowait: requests of the queue are in flight; whatever would wait for
 * the process's memory or the control queue gives VC_ST_BUSY instead.
 * Return: 0 or a WD_ST_* status (the command ends here), or VC_ST_BUSY.
 */
static u32 vc_start(struct vc_queue *sq, struct vc_slot *s,
		    const struct wd_cmd *cmd, bool nowait, bool *queued)
{
	u32 mode = WD_CIPHER_MODE(cmd->param);
	u32 key_len = WD_CIPHER_KEY_LEN(cmd->param);
	bool enc = cmd->opcode == WD_OP_ENCRYPT;
	u32 iv_len = mode == WD_CIPHER_ECB ? 0 : VC_IV_LEN;
	u64 len = cmd->src_len, dev_len = len, id;
	struct vc_req *req;
	u32 st;

	*queued = false;
	s->cmd = *cmd;
	s->pad = 0;
	st = vc_check(sq, cmd);
	if (st || cmd->opcode == WD_OP_NOP)
		return st;
	wd_mem_job_set_nowait(&s->job, nowait);
	st = vc_read_key(sq, s, cmd->key, key_len + VC_IV_LEN);
	if (st)
		goto out;
	if (!len)
		goto out;
	if (!s->xfer) {
		st = WD_ST_NODEV;
		goto out;
	}
	st = vc_session_get(sq, mode, enc, sq->key, key_len, nowait, &id);
	if (st)
		goto out;

	/*
	 * Device quirk: QEMU's built-in backend refuses CTR lengths that are
	 * not whole blocks. CTR is a stream: run the last block over zero
	 * padding (driver memory after the user's bytes, both ways) and hand
	 * back only src_len bytes.
	 */
	if (len % VC_BLOCK) {
		s->pad = VC_BLOCK - len % VC_BLOCK;
		dev_len = len + s->pad;
	}
	req = s->xfer->req;
	memset(&req->hdr, 0, sizeof(req->hdr));
	req->hdr.header.opcode = cpu_to_le32(enc ? VIRTIO_CRYPTO_CIPHER_ENCRYPT :
						   VIRTIO_CRYPTO_CIPHER_DECRYPT);
	req->hdr.header.algo = cpu_to_le32(vc_modes[vc_mode_index(mode)].vio);
	req->hdr.header.session_id = cpu_to_le64(id);
	req->hdr.u.sym_req.op_type = cpu_to_le32(VIRTIO_CRYPTO_SYM_OP_CIPHER);
	req->hdr.u.sym_req.u.cipher.para.iv_len = cpu_to_le32(iv_len);
	req->hdr.u.sym_req.u.cipher.para.src_data_len = cpu_to_le32(dev_len);
	req->hdr.u.sym_req.u.cipher.para.dst_data_len = cpu_to_le32(dev_len);
	memcpy(req->iv, sq->key + key_len, VC_IV_LEN);

	st = vc_map_buffers(sq, s, nowait);
	if (st)
		goto out;
	if (nowait && !s->xfer->dma && vc_dst_overlaps(sq, s)) {
		vc_slot_release(s);
		st = VC_ST_BUSY;
		goto out;
	}
	st = vc_submit(sq, s, iv_len, nowait);
	if (st)
		vc_slot_release(s);
	else
		*queued = true;
out:
	memzero_explicit(sq->key, sizeof(sq->key));
	return st;
}

static bool vc_req_done(struct vc_slot *s)
{
	/*
	 * Acquire: pairs with the release in vc_dq_drain(); the ring
	 * unmapped the buffers before the request is seen done. A request
	 * given up (no xfer) is done.
	 */
	return !s->xfer || smp_load_acquire(&s->xfer->req->done);
}

/*
 * The device broke: it will not touch the requests it still holds only
 * once it is reset. Those requests keep references on their pages
 * (ring-mapped) and are freed after the reset; their slots have none.
 */
static void vc_orphan_inflight(struct vc_queue *sq)
{
	unsigned int i;

	for (i = 0; i < sq->count; i++) {
		struct vc_slot *s = vc_slot_at(sq, i);
		struct vc_xfer *x = s->xfer;

		if (vc_req_done(s))
			continue;
		if (!x->dma) {
			vc_hold_sg(x, x->src_sg, s->nsrc - !!s->pad);
			vc_hold_sg(x, x->dst_sg, s->ndst - !!s->pad);
		}
		spin_lock(&sq->vc->orphan_lock);
		list_add(&x->node, &sq->vc->orphans);
		spin_unlock(&sq->vc->orphan_lock);
		s->xfer = NULL;
	}
}

/*
 * Wait a little for the oldest request in flight: poll the ring once
 * (polled), or sleep until the interrupt (at most a second). A device
 * that has not returned it for VC_REQ_TIMEOUT is broken: every request in
 * flight is given up.
 */
static void vc_wait_head(struct vc_queue *sq)
{
	struct vc_slot *s = vc_slot_at(sq, 0);
	struct vc_dataq *dq = sq->dq;

	if (!virtqueue_is_broken(dq->vq) &&
	    time_after(jiffies, sq->head_since + VC_REQ_TIMEOUT)) {
		struct virtio_device *vdev = sq->vc->vdev;

		/*
		 * A device that stopped (it wants a reset, or never answers):
		 * break the rings, so that every engine gives up, and leave
		 * the reset to removal.
		 */
		dev_err(&vdev->dev,
			"request not completed in %u s (device status %#x): device broken\n",
			VC_REQ_TIMEOUT / HZ, vdev->config->get_status(vdev));
		virtio_break_device(vdev);
	}
	if (virtqueue_is_broken(dq->vq)) {
		vc_orphan_inflight(sq);
		return;
	}
	if (READ_ONCE(polled)) {
		vc_dq_drain(dq, false);
		if (!vc_req_done(s))
			cond_resched();
	} else {
		/* Back from polling: the interrupt must be on. */
		vc_dq_drain(dq, true);
		wait_event_timeout(sq->wq, vc_req_done(s), HZ);
	}
}

static u32 vc_req_status(struct vc_slot *s)
{
	struct vc_xfer *x = s->xfer;

	if (!x)
		return WD_ST_NODEV;
	if (x->dma)
		dma_sync_single_for_cpu(x->dma, x->status_dma,
					sizeof(*x->req->status),
					DMA_FROM_DEVICE);
	switch (x->req->status->status) {
	case VIRTIO_CRYPTO_OK:
		return WD_ST_OK;
	case VIRTIO_CRYPTO_INVSESS:
	case VIRTIO_CRYPTO_BADMSG:
	case VIRTIO_CRYPTO_NOTSUPP:
	case VIRTIO_CRYPTO_ERR:
	default:
		return WD_ST_INVALID;
	}
}

static void vc_post(struct vc_queue *sq, const struct wd_cmd *cmd, u32 st)
{
	struct wd_cqe cqe = {
		.status = st,
		.tag = cmd->tag,
		.opcode = cmd->opcode,
	};

	if (st == WD_ST_OK && cmd->opcode != WD_OP_NOP) {
		cqe.result = cmd->src_len;
		cqe.consumed = cmd->src_len;
	}
	wd_queue_complete(sq->q, &cqe);
}

/* Wait for the oldest request in flight and complete its command. */
static void vc_retire(struct vc_queue *sq)
{
	struct vc_slot *s = vc_slot_at(sq, 0);
	u32 st;

	while (!vc_req_done(s))
		vc_wait_head(sq);
	st = vc_req_status(s);
	/* The device is done with the pages (or they are held): let go. */
	vc_slot_release(s);
	vc_post(sq, &s->cmd, st);
	sq->head = (sq->head + 1) % sq->depth;
	sq->count--;
	sq->head_since = jiffies;
}

static void vc_retire_all(struct vc_queue *sq)
{
	while (sq->count)
		vc_retire(sq);
}

/*
 * Run one command: onto the device behind those in flight if it needs no
 * wait for memory or the control queue, else once they have ended.
 * Completions keep the order of the submission ring.
 */
static void vc_run(struct vc_queue *sq, const struct wd_cmd *cmd)
{
	bool queued;
	u32 st;

	st = vc_start(sq, vc_slot_at(sq, sq->count), cmd, sq->count > 0,
		      &queued);
	if (st == VC_ST_BUSY) {
		vc_retire_all(sq);
		st = vc_start(sq, vc_slot_at(sq, 0), cmd, false, &queued);
	}
	if (queued) {
		int peak = atomic_read(&sq->vc->inflight_peak);

		if (!sq->count++)
			sq->head_since = jiffies;
		while (peak < sq->count &&
		       !atomic_try_cmpxchg(&sq->vc->inflight_peak, &peak,
					   sq->count))
			;
		return;
	}
	/* Ended here: its completion goes after those before it. */
	vc_retire_all(sq);
	vc_post(sq, cmd, st);
}

/*
 * Keep the device fed: fetch commands while a slot is free, complete
 * the requests the device returned, oldest first, and wait for the
 * oldest when there is nothing else to do. Returns once the ring is
 * empty and nothing is in flight (at once when stopping): whether a
 * command was fetched.
 */
static bool vc_pump(struct vc_queue *sq)
{
	bool worked = false;
	struct wd_cmd cmd;

	for (;;) {
		while (sq->count && vc_req_done(vc_slot_at(sq, 0)))
			vc_retire(sq);
		if (sq->count < sq->depth && !vc_stopping(sq) &&
		    wd_queue_fetch(sq->q, &cmd)) {
			vc_run(sq, &cmd);
			worked = true;
			cond_resched();
			continue;
		}
		if (!sq->count)
			return worked;
		vc_wait_head(sq);
	}
}

/*
 * The engine of one queue: runs commands while there are some, polls the
 * ring for poll_us when it is empty, then sets NEED_WAKEUP and sleeps
 * until a doorbell. Ends at kthread_stop() (queue_stop), once the device
 * returned every request of the queue (or broke).
 */
static int vc_worker(void *data)
{
	struct vc_queue *sq = data;
	unsigned long idle_since = jiffies;

	while (!kthread_should_stop()) {
		if (vc_pump(sq)) {
			idle_since = jiffies;
			cond_resched();
			continue;
		}
		wd_engine_idle(sq->q, &sq->wq, &sq->kicked, &idle_since,
			       READ_ONCE(poll_us));
	}
	return 0;
}

static void vc_kick(struct wd_queue *q)
{
	struct vc_queue *sq = q->drv_priv;

	WRITE_ONCE(sq->kicked, true);
	wake_up(&sq->wq);
}

static void vc_queue_free(struct vc_queue *sq)
{
	unsigned int i;

	for (i = 0; i < sq->depth; i++)
		vc_xfer_free(sq->slot[i].xfer);
	kvfree_sensitive(sq, sizeof(*sq));
}

static int vc_queue_start(struct wd_queue *q)
{
	struct vc_dev *vc = wd_device_priv(q->wdev);
	struct vc_queue *sq;
	unsigned int i;
	int ret;

	sq = kvzalloc(sizeof(*sq), GFP_KERNEL);
	if (!sq)
		return -ENOMEM;
	sq->q = q;
	sq->vc = vc;
	sq->dq = &vc->dq[q->hw_id % vc->nr_dq];
	sq->depth = depth;
	init_waitqueue_head(&sq->wq);
	for (i = 0; i < sq->depth; i++) {
		sq->slot[i].xfer = vc_xfer_alloc(vc->dma_dev);
		if (!sq->slot[i].xfer) {
			ret = -ENOMEM;
			goto err;
		}
		wd_mem_job_init(&sq->slot[i].job, q);
	}
	q->drv_priv = sq;
	sq->worker = kthread_run(vc_worker, sq, "%s/q%u",
				 dev_name(&q->wdev->dev), q->hw_id);
	if (IS_ERR(sq->worker)) {
		ret = PTR_ERR(sq->worker);
		q->drv_priv = NULL;
		goto err;
	}
	return 0;
err:
	vc_queue_free(sq);
	return ret;
}

/*
 * The engine waits for the requests the device holds (or gives them up
 * if the device broke), completes their commands, and exits; then the
 * queue's sessions are destroyed.
 */
static void vc_queue_stop(struct wd_queue *q)
{
	struct vc_queue *sq = q->drv_priv;
	unsigned int i;

	WRITE_ONCE(sq->cancel, true);
	wake_up(&sq->dq->space);
	kthread_stop(sq->worker);
	for (i = 0; i < VC_SESSIONS; i++)
		vc_session_drop(sq->vc, &sq->sess[i]);
	q->drv_priv = NULL;
	vc_queue_free(sq);
}

static const struct wd_device_ops vc_ops = {
	.owner = THIS_MODULE,
	.queue_start = vc_queue_start,
	.queue_stop = vc_queue_stop,
	.kick = vc_kick,
};

/* Binding */

static bool vc_wanted(struct virtio_device *vdev)
{
	const char *name, *p;
	size_t len;

	if (!pci || !*pci)
		return true;
	if (!vdev->dev.parent || !dev_is_pci(vdev->dev.parent))
		return false;
	name = dev_name(vdev->dev.parent);
	len = strlen(name);
	for (p = pci; *p; ) {
		size_t n = strcspn(p, ",");

		if (n == len && !strncmp(p, name, n))
			return true;
		p += n;
		if (*p)
			p++;
	}
	return false;
}

/* Does the IOMMU translate the DMA of @dev (a DMA API domain)? */
static bool vc_iommu_translates(struct device *dev)
{
	struct iommu_domain *dom = iommu_get_domain_for_dev(dev);

	return dom && (dom->type & __IOMMU_DOMAIN_DMA_API);
}

/*
 * Premapped data virtqueues where the ring and the device allow it (see
 * the file comment): then the framework maps for @vc->dma_dev. Behind no
 * translating IOMMU the rings keep mapping per request, so that a request
 * a broken device never returns can keep its pages referenced.
 */
static int vc_premap(struct vc_dev *vc)
{
	struct device *dev = wd_virtqueue_dma_dev(vc->dq[0].vq);
	unsigned int i;
	int ret;

	if (!premap || !dev || !vc_iommu_translates(dev))
		return 0;
	for (i = 0; i < vc->nr_dq; i++) {
		if (wd_virtqueue_dma_dev(vc->dq[i].vq) != dev)
			return i ? -EIO : 0;
		ret = wd_virtqueue_set_premapped(vc->dq[i].vq);
		if (ret)
			return i ? ret : 0;
	}
	vc->dma_dev = dev;
	return 0;
}

static int vc_find_vqs(struct vc_dev *vc)
{
	vq_callback_t *cbs[VC_MAX_DATAQ + 1];
	const char *names[VC_MAX_DATAQ + 1];
	struct virtqueue *vqs[VC_MAX_DATAQ + 1];
	unsigned int i;
	int ret;

	for (i = 0; i < vc->nr_dq; i++) {
		snprintf(vc->dq[i].name, sizeof(vc->dq[i].name), "dataq.%u", i);
		names[i] = vc->dq[i].name;
		cbs[i] = vc_data_cb;
	}
	names[i] = "controlq";
	cbs[i] = vc_ctrl_cb;
	ret = wd_virtio_find_vqs(vc->vdev, vc->nr_dq + 1, vqs, cbs, names);
	if (ret)
		return ret;
	for (i = 0; i < vc->nr_dq; i++) {
		vc->dq[i].vq = vqs[i];
		spin_lock_init(&vc->dq[i].lock);
		init_waitqueue_head(&vc->dq[i].space);
	}
	vc->ctrl_vq = vqs[vc->nr_dq];
	return vc_premap(vc);
}

/* Which modes the device takes: advertised, or accepting a session. */
static void vc_probe_modes(struct vc_dev *vc)
{
	static const u8 zero_key[64];
	unsigned int i;
	u64 id;

	for (i = 0; i < ARRAY_SIZE(vc_modes); i++) {
		u32 klen = vc_modes[i].mode == WD_CIPHER_XTS ? 32 : 16;

		if (vc->cipher_mask & BIT(vc_modes[i].vio)) {
			vc->modes |= vc_modes[i].alg;
			continue;
		}
		if (!probe_modes || klen > vc->max_key)
			continue;
		if (vc_session_create(vc, vc_modes[i].vio, true, zero_key,
				      klen, &id))
			continue;
		vc_session_destroy(vc, vc_modes[i].vio, id);
		vc->modes |= vc_modes[i].alg;
	}
}

static void vc_free_orphans(struct vc_dev *vc)
{
	struct vc_xfer *x, *tmp;

	list_for_each_entry_safe(x, tmp, &vc->orphans, node) {
		list_del(&x->node);
		vc_xfer_free(x);
	}
}

static void vc_reset_and_free(struct vc_dev *vc)
{
	struct virtio_device *vdev = vc->vdev;
	unsigned int i;

	/* The device stops touching memory; then the ring lets go of it. */
	virtio_reset_device(vdev);
	for (i = 0; i < vc->nr_dq; i++)
		while (virtqueue_detach_unused_buf(vc->dq[i].vq))
			;
	while (virtqueue_detach_unused_buf(vc->ctrl_vq))
		;
	vdev->config->del_vqs(vdev);
	vc_free_orphans(vc);
}

static int vc_probe(struct virtio_device *vdev)
{
	struct vc_dev *vc;
	u32 status, nr, services, pages;
	int ret;

	if (!vc_wanted(vdev))
		return -ENODEV;
	if (!virtio_has_feature(vdev, VIRTIO_F_VERSION_1))
		return -ENODEV;
	virtio_cread_le(vdev, struct virtio_crypto_config, status, &status);
	virtio_cread_le(vdev, struct virtio_crypto_config, max_dataqueues, &nr);
	virtio_cread_le(vdev, struct virtio_crypto_config, crypto_services,
			&services);
	if (!(status & VIRTIO_CRYPTO_S_HW_READY) || !nr ||
	    !(services & BIT(VIRTIO_CRYPTO_SERVICE_CIPHER))) {
		dev_info(&vdev->dev, "no cipher service ready\n");
		return -ENODEV;
	}

	vc = kzalloc(sizeof(*vc), GFP_KERNEL);
	if (!vc)
		return -ENOMEM;
	vc->vdev = vdev;
	vdev->priv = vc;
	mutex_init(&vc->ctrl_lock);
	init_completion(&vc->ctrl_done);
	spin_lock_init(&vc->orphan_lock);
	INIT_LIST_HEAD(&vc->orphans);
	vc->nr_dq = min_t(u32, nr, VC_MAX_DATAQ);
	virtio_cread_le(vdev, struct virtio_crypto_config, cipher_algo_l,
			&vc->cipher_mask);
	virtio_cread_le(vdev, struct virtio_crypto_config, max_cipher_key_len,
			&vc->max_key);
	virtio_cread_le(vdev, struct virtio_crypto_config, max_size,
			&vc->max_size);
	vc->max_key = min_t(u32, vc->max_key, VC_MAX_KEY);
	vc->max_len = min_t(u64, (u64)max_cmd_kb << 10, vc->max_size);
	/* The request carries 32-bit lengths. */
	vc->max_len = min_t(u64, vc->max_len, U32_MAX & PAGE_MASK);
	if (vc->max_len < PAGE_SIZE) {
		ret = -ENODEV;
		goto err_free;
	}

	vc->ctrl_out = kzalloc(sizeof(*vc->ctrl_out), GFP_KERNEL);
	vc->ctrl_in = kzalloc(max_t(size_t, SMP_CACHE_BYTES,
				    sizeof(*vc->ctrl_in)), GFP_KERNEL);
	if (!vc->ctrl_out || !vc->ctrl_in) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = vc_find_vqs(vc);
	if (ret)
		goto err_free;
	/*
	 * A buffer may span at most VC_MAX_SG pages (one wd_mem_segs() call
	 * holds them all). Without indirect descriptors a request also
	 * needs header, IV, status and both buffers (each with a padding
	 * entry) in the ring itself.
	 */
	pages = VC_MAX_SG;
	if (!virtio_has_feature(vdev, VIRTIO_RING_F_INDIRECT_DESC))
		pages = min_t(u32, pages,
			      (virtqueue_get_vring_size(vc->dq[0].vq) - 5) / 2);
	vc->max_len = min_t(u64, vc->max_len, (u64)(pages - 1) * PAGE_SIZE);
	if (vc->max_len < PAGE_SIZE) {
		ret = -ENODEV;
		goto err_vqs;
	}
	virtio_device_ready(vdev);

	vc_probe_modes(vc);
	if (!vc->modes) {
		dev_info(&vdev->dev, "no AES mode offered\n");
		ret = -ENODEV;
		goto err_vqs;
	}

	vc->wdev = wd_device_alloc(&vdev->dev, "wd_vcrypto", &vc_ops, vc);
	if (IS_ERR(vc->wdev)) {
		ret = PTR_ERR(vc->wdev);
		goto err_vqs;
	}
	vc->wdev->api = "wd_vcrypto_v1";
	vc->wdev->flags = WD_DEV_F_QUEUES | WD_DEV_F_SVA | WD_DEV_F_PINNED;
	vc->wdev->algorithms = vc->modes;
	vc->wdev->queues_total = vc->nr_dq * queues_per_vq;
	vc->wdev->max_cmd_len = vc->max_len;
	vc->wdev->dma_dev = vc->dma_dev;
	ret = wd_device_register(vc->wdev);
	if (ret)
		goto err_put;
	dev_info(&vdev->dev, "%s: %u data queue(s), algorithms %#x, max %llu bytes, %s\n",
		 dev_name(&vc->wdev->dev), vc->nr_dq, vc->modes, vc->max_len,
		 vc->dma_dev ? "premapped" : "ring-mapped");
	return 0;

err_put:
	wd_device_put(vc->wdev);
err_vqs:
	vc_reset_and_free(vc);
err_free:
	kfree(vc->ctrl_in);
	kfree(vc->ctrl_out);
	kfree(vc);
	vdev->priv = NULL;
	return ret;
}

/*
 * Unbind, rmmod or hot-unplug: the framework stops every queue (each
 * engine waits for the request the device holds, or gives it up when the
 * device is gone) and fails the commands still queued with WD_ST_NODEV;
 * then the device is reset and every buffer the ring still maps is
 * unmapped.
 */
static void vc_remove(struct virtio_device *vdev)
{
	struct vc_dev *vc = vdev->priv;

	wd_device_unregister(vc->wdev);
	vc_reset_and_free(vc);
	wd_device_put(vc->wdev);
	kfree(vc->ctrl_in);
	kfree(vc->ctrl_out);
	kfree(vc);
}

static ssize_t vcrypto_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct virtio_device *vdev = dev_to_virtio(dev);
	struct vc_dev *vc = vdev->priv;
	struct device *parent = dev->parent;
	struct iommu_group *grp = parent ? iommu_group_get(parent) : NULL;
	int gid = grp ? iommu_group_id(grp) : -1;
	int n;

	if (grp)
		iommu_group_put(grp);
	if (!vc)
		return -ENODEV;
	n = sysfs_emit(buf, "device %s\npci %s\niommu_group %d\n",
		       dev_name(&vc->wdev->dev),
		       parent ? dev_name(parent) : "-", gid);
	n += sysfs_emit_at(buf, n,
			   "dataqueues %u\nvq_size %u\nqueues_per_vq %u\nqueue_depth %u\ncontrolq 1\n",
			   vc->nr_dq, virtqueue_get_vring_size(vc->dq[0].vq),
			   queues_per_vq, depth);
	n += sysfs_emit_at(buf, n,
			   "cipher_mask %#x\nmax_key %u\nmax_cmd_len %llu\npolled %d\n",
			   vc->cipher_mask, vc->max_key, vc->max_len,
			   READ_ONCE(polled));
	n += sysfs_emit_at(buf, n, "dma %s\ninflight_peak %d\n",
			   vc->dma_dev ? "premapped" : "ring-mapped",
			   atomic_read(&vc->inflight_peak));
	return n;
}
static DEVICE_ATTR_RO(vcrypto);

static struct attribute *vc_attrs[] = {
	&dev_attr_vcrypto.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vc);

static const struct virtio_device_id vc_id_table[] = {
	{ VIRTIO_ID_CRYPTO, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static unsigned int vc_features[] = {
};

static struct virtio_driver vc_driver = {
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.driver.dev_groups = vc_groups,
	.feature_table = vc_features,
	.feature_table_size = ARRAY_SIZE(vc_features),
	.id_table = vc_id_table,
	.probe = vc_probe,
	.remove = vc_remove,
};

static int __init vc_init(void)
{
	if (!queues_per_vq || queues_per_vq > 16 || max_cmd_kb < 4 ||
	    max_cmd_kb > 16384 || !depth || depth > VC_MAX_DEPTH) {
		pr_err("queues_per_vq must be 1-16, max_cmd_kb 4-16384, depth 1-%u\n",
		       VC_MAX_DEPTH);
		return -EINVAL;
	}
	return register_virtio_driver(&vc_driver);
}

static void __exit vc_exit(void)
{
	unregister_virtio_driver(&vc_driver);
}

module_init(vc_init);
module_exit(vc_exit);
MODULE_DEVICE_TABLE(virtio, vc_id_table);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("WarpDrive driver for virtio-crypto devices");
