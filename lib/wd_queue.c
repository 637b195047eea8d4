// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libwd: hardware queues, submission and completion.
 *
 * The rings are shared with the kernel. This process owns ctrl->sq_tail
 * and ctrl->cq_head (kept in struct wd_queue and published with release
 * stores); the kernel owns everything in the completion region, read here
 * with acquire loads. Indices are free-running u32 counters.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include "libwd_internal.h"

_Static_assert(sizeof(struct wd_cmd) == 64, "struct wd_cmd is 64 bytes");
_Static_assert(sizeof(struct wd_cqe) == 64, "struct wd_cqe is 64 bytes");
_Static_assert(sizeof(struct wd_cq_hdr) <= WD_CQ_HDR_SIZE,
	       "struct wd_cq_hdr fits before the completion entries");

/* Polls of the completion ring before a blocking helper sleeps in poll(). */
#define WD_SPIN_LOOPS	4000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* 0, or why the queue cannot be used any more. */
static int queue_check(const struct wd_queue *q)
{
	uint32_t flags = __atomic_load_n(&q->cq_hdr->flags, __ATOMIC_ACQUIRE);

	if (flags & WD_CQ_F_BAD_INDEX)
		return -EPROTO;
	if (flags & WD_CQ_F_DEAD)
		return -ENODEV;
	return 0;
}

/* Free submission slots, or -EPROTO if the kernel's head is impossible. */
static int sq_space(const struct wd_queue *q)
{
	/* Acquire: the kernel has copied the slots before its head. */
	uint32_t head = __atomic_load_n(&q->cq_hdr->sq_head, __ATOMIC_ACQUIRE);
	uint32_t used = q->sq_tail - head;

	if (used > q->sq_entries)
		return -EPROTO;
	return q->sq_entries - used;
}

/* Completions posted and not reaped yet. */
static uint32_t cq_ready(const struct wd_queue *q)
{
	return __atomic_load_n(&q->cq_hdr->cq_tail, __ATOMIC_ACQUIRE) -
	       q->cq_head;
}

static int do_kick(struct wd_queue *q)
{
	q->kicks++;
	return ioctl(q->fd, WD_IOC_KICK, 0) ? -errno : 0;
}

/*
 * Called after publishing an index: if the engine has gone to sleep, wake
 * it. The full barrier orders the index store before the flag load; the
 * engine sets the flag and then looks at the rings again, so one of the
 * two sides always sees the other.
 */
static int kick_if_needed(struct wd_queue *q)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&q->cq_hdr->flags, __ATOMIC_RELAXED) &
	    WD_CQ_F_NEED_WAKEUP)
		return do_kick(q);
	return 0;
}

static int map_region(int fd, uint64_t off, uint64_t size, int prot,
		      void **out)
{
	void *p;

	if (!size || size > SIZE_MAX || off > (uint64_t)INT64_MAX ||
	    (uint64_t)(off_t)off != off)
		return -EPROTO;
	p = mmap(NULL, size, prot, MAP_SHARED, fd, (off_t)off);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

/*
 * The kernel maps a ring region at its first touch (the whole region at
 * once): touch each now, so that submitting and reaping never fault.
 */
static void touch_region(const void *p)
{
	(void)*(const volatile unsigned char *)p;
}

static void unmap_queue(struct wd_queue *q)
{
	if (q->ctrl)
		munmap(q->ctrl, q->ctrl_size);
	if (q->sq)
		munmap(q->sq, q->sq_size);
	if (q->cq_hdr)
		munmap((void *)q->cq_hdr, q->cq_size);
	q->ctrl = NULL;
	q->sq = NULL;
	q->cq_hdr = NULL;
	q->cqes = NULL;
}

int wd_queue_get(struct wd_dev *dev, const struct wd_queue_opts *opts,
		 struct wd_queue **out)
{
	struct wd_queue_info info;
	struct wd_info winfo;
	struct wd_queue *q;
	void *p = NULL;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!dev)
		return -EINVAL;
	if (dev->queue)
		return -EBUSY;

	/* A module of another ABI version would refuse the queue anyway. */
	ret = wd_get_info(dev, &winfo);
	if (ret)
		return ret;
	if (winfo.api_version != WD_API_VERSION)
		return -EPROTONOSUPPORT;

	memset(&info, 0, sizeof(info));
	info.api_version = WD_API_VERSION;
	if (opts) {
		info.sq_entries = opts->sq_entries;
		info.cq_entries = opts->cq_entries;
		if (opts->nonblock)
			info.flags |= WD_QF_NONBLOCK;
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	if (ioctl(dev->fd, WD_IOC_QUEUE_GET, &info)) {
		ret = -errno;
		free(q);
		return ret;
	}
	q->dev = dev;
	q->fd = dev->fd;
	q->pid = getpid();
	q->queue_id = info.queue_id;
	q->sq_entries = info.sq_entries;
	q->cq_entries = info.cq_entries;

	/* Never index past what is mapped, whatever the kernel says. */
	ret = -EPROTO;
	if (!is_pow2(info.sq_entries) || !is_pow2(info.cq_entries) ||
	    info.ctrl_size < sizeof(struct wd_ctrl) ||
	    info.sq_size / sizeof(struct wd_cmd) < info.sq_entries ||
	    info.cq_size < WD_CQ_HDR_SIZE ||
	    (info.cq_size - WD_CQ_HDR_SIZE) / sizeof(struct wd_cqe) <
	    info.cq_entries)
		goto fail;

	ret = map_region(q->fd, info.ctrl_offset, info.ctrl_size,
			 PROT_READ | PROT_WRITE, &p);
	if (ret)
		goto fail;
	q->ctrl = p;
	q->ctrl_size = info.ctrl_size;
	ret = map_region(q->fd, info.sq_offset, info.sq_size,
			 PROT_READ | PROT_WRITE, &p);
	if (ret)
		goto fail;
	q->sq = p;
	q->sq_size = info.sq_size;
	ret = map_region(q->fd, info.cq_offset, info.cq_size, PROT_READ, &p);
	if (ret)
		goto fail;
	q->cq_hdr = p;
	q->cq_size = info.cq_size;
	q->cqes = (const struct wd_cqe *)((const char *)p + WD_CQ_HDR_SIZE);
	touch_region(q->ctrl);
	touch_region(q->sq);
	touch_region(q->cq_hdr);

	/* A fresh queue is empty: start from the indices the kernel set. */
	q->sq_tail = __atomic_load_n(&q->ctrl->sq_tail, __ATOMIC_RELAXED);
	q->cq_head = __atomic_load_n(&q->ctrl->cq_head, __ATOMIC_RELAXED);

	dev->queue = q;
	*out = q;
	return 0;

fail:
	unmap_queue(q);
	ioctl(q->fd, WD_IOC_QUEUE_PUT, 0);
	free(q);
	return ret;
}

void wd_queue_put(struct wd_queue *q)
{
	if (!q)
		return;
	/* A forked child has no rings (never copied) and no queue to put. */
	if (q->pid == getpid()) {
		unmap_queue(q);
		ioctl(q->fd, WD_IOC_QUEUE_PUT, 0);
	}
	if (q->dev)
		q->dev->queue = NULL;
	free(q);
}

uint32_t wd_queue_sq_entries(const struct wd_queue *q)
{
	return q->sq_entries;
}

uint32_t wd_queue_cq_entries(const struct wd_queue *q)
{
	return q->cq_entries;
}

uint32_t wd_queue_inflight(const struct wd_queue *q)
{
	return q->sq_tail - q->cq_head - q->untaken_done;
}

uint64_t wd_queue_kicks(const struct wd_queue *q)
{
	return q->kicks;
}

int wd_kick(struct wd_queue *q)
{
	if (!q)
		return -EINVAL;
	return do_kick(q);
}

int wd_submit(struct wd_queue *q, const struct wd_cmd *cmd)
{
	int ret;

	if (!q || !cmd)
		return -EINVAL;
	ret = queue_check(q);
	if (ret)
		return ret;
	ret = sq_space(q);
	if (ret <= 0)
		return ret < 0 ? ret : -EAGAIN;

	q->sq[q->sq_tail & (q->sq_entries - 1)] = *cmd;
	q->sq_tail++;
	/* Release: the command is in its slot before the tail says so. */
	__atomic_store_n(&q->ctrl->sq_tail, q->sq_tail, __ATOMIC_RELEASE);
	/*
	 * The command is queued now, whatever the doorbell says: reporting
	 * a failure would make a caller that retries submit it twice. A
	 * doorbell fails only when the device is gone (or the descriptor
	 * was taken away); the next call reports that.
	 */
	(void)kick_if_needed(q);
	return 0;
}

int wd_submit_batch(struct wd_queue *q, const struct wd_cmd *cmds, int n)
{
	int space, ret, i;

	if (!q || n < 0 || (n && !cmds))
		return -EINVAL;
	ret = queue_check(q);
	if (ret)
		return ret;
	space = sq_space(q);
	if (space < 0)
		return space;
	if (n > space)
		n = space;
	if (!n)
		return 0;

	for (i = 0; i < n; i++)
		q->sq[(q->sq_tail + i) & (q->sq_entries - 1)] = cmds[i];
	q->sq_tail += n;
	__atomic_store_n(&q->ctrl->sq_tail, q->sq_tail, __ATOMIC_RELEASE);
	/* Queued: report them, as wd_submit() does, whatever the doorbell. */
	(void)kick_if_needed(q);
	return n;
}

/*
 * After the device was removed and every completion it posted was taken:
 * the commands from the kernel's sq_head to our tail were never taken
 * (no room for their completion, or submitted after the removal; the
 * kernel counts the first kind in cq_hdr->dropped). Report each as a
 * WD_ST_NODEV completion, from its slot, which nothing overwrote: we only
 * write slots the kernel has taken.
 */
static int reap_untaken(struct wd_queue *q, struct wd_cqe *out, int max)
{
	uint32_t head = __atomic_load_n(&q->cq_hdr->sq_head, __ATOMIC_ACQUIRE);
	uint32_t left = q->sq_tail - head, n, i;

	if (left > q->sq_entries || q->untaken_done > left)
		return -EPROTO;
	left -= q->untaken_done;
	if (!left)
		return -ENODEV;
	n = left < (uint32_t)max ? left : (uint32_t)max;
	for (i = 0; i < n; i++) {
		const struct wd_cmd *c =
			&q->sq[(head + q->untaken_done + i) & (q->sq_entries - 1)];

		memset(&out[i], 0, sizeof(out[i]));
		out[i].tag = c->tag;
		out[i].opcode = c->opcode;
		out[i].status = WD_ST_NODEV;
	}
	q->untaken_done += n;
	return n;
}

int wd_reap(struct wd_queue *q, struct wd_cqe *out, int max)
{
	uint32_t flags, ready, n, i;

	if (!q || max < 0 || (max && !out))
		return -EINVAL;
	flags = __atomic_load_n(&q->cq_hdr->flags, __ATOMIC_ACQUIRE);
	if (flags & WD_CQ_F_BAD_INDEX)
		return -EPROTO;
	ready = cq_ready(q);
	if (ready > q->cq_entries)
		return -EPROTO;
	if (!ready) {
		if (!(flags & WD_CQ_F_DEAD))
			return 0;
		return max ? reap_untaken(q, out, max) : -ENODEV;
	}

	n = ready < (uint32_t)max ? ready : (uint32_t)max;
	for (i = 0; i < n; i++)
		out[i] = q->cqes[(q->cq_head + i) & (q->cq_entries - 1)];
	q->cq_head += n;
	/* Release: the entries are read before the kernel may reuse them. */
	__atomic_store_n(&q->ctrl->cq_head, q->cq_head, __ATOMIC_RELEASE);

	/*
	 * The engine stops fetching while the completion ring is full, and
	 * may go to sleep then; commands still waiting in the submission ring
	 * would wait for a kick nobody sends. Room was just made: if any are
	 * waiting and the engine sleeps, wake it.
	 */
	/* A failed kick means the device is gone: the next call reports it. */
	if (__atomic_load_n(&q->cq_hdr->sq_head, __ATOMIC_RELAXED) != q->sq_tail)
		(void)kick_if_needed(q);
	return n;
}

/* Device gone, and commands it never took are still to be reported? */
static int dead_untaken(const struct wd_queue *q)
{
	uint32_t flags = __atomic_load_n(&q->cq_hdr->flags, __ATOMIC_ACQUIRE);
	uint32_t left;

	if (!(flags & WD_CQ_F_DEAD) || (flags & WD_CQ_F_BAD_INDEX))
		return 0;
	left = q->sq_tail - __atomic_load_n(&q->cq_hdr->sq_head, __ATOMIC_ACQUIRE);
	return left <= q->sq_entries && left > q->untaken_done;
}

int wd_wait(struct wd_queue *q, int timeout_ms)
{
	struct pollfd pfd;
	int ret;

	if (!q)
		return -EINVAL;
	if (cq_ready(q) || dead_untaken(q))
		return 0;
	ret = queue_check(q);
	if (ret)
		return ret;

	pfd.fd = q->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	ret = poll(&pfd, 1, timeout_ms);
	if (ret < 0)
		return -errno;
	if (cq_ready(q) || dead_untaken(q))
		return 0;
	ret = queue_check(q);
	if (ret)
		return ret;
	if (pfd.revents & POLLNVAL)
		return -EBADF;
	if (pfd.revents & (POLLERR | POLLHUP))
		return -ENODEV;
	if (!pfd.revents)
		return -ETIMEDOUT;
	return 0;
}

const char *wd_status_str(uint32_t status)
{
	switch (status) {
	case WD_ST_OK:
		return "ok";
	case WD_ST_INVALID:
		return "invalid command";
	case WD_ST_FAULT:
		return "bad address";
	case WD_ST_NOSPACE:
		return "destination too small";
	case WD_ST_CORRUPT:
		return "corrupt input";
	case WD_ST_TOO_BIG:
		return "length too big";
	case WD_ST_OVERLAP:
		return "source and destination overlap";
	case WD_ST_NODEV:
		return "device removed";
	case WD_ST_CANCELLED:
		return "cancelled";
	case WD_ST_MORE:
		return "stream continues";
	default:
		return "unknown status";
	}
}

int wd_status_to_errno(uint32_t status)
{
	switch (status) {
	case WD_ST_OK:
		return 0;
	case WD_ST_INVALID:
		return -EINVAL;
	case WD_ST_FAULT:
		return -EFAULT;
	case WD_ST_NOSPACE:
		return -ENOSPC;
	case WD_ST_CORRUPT:
		return -EBADMSG;
	case WD_ST_TOO_BIG:
		return -E2BIG;
	case WD_ST_OVERLAP:
		return -EINVAL;
	case WD_ST_NODEV:
		return -ENODEV;
	case WD_ST_CANCELLED:
		return -ECANCELED;
	default:
		return -EPROTO;
	}
}

/*
 * The blocking helpers' command in two halves, so that a caller can work
 * while the device runs it: wd_cmd_start() submits @cmd alone on the
 * queue (nothing else may be in flight, so the completion taken is the
 * command's own), wd_cmd_finish() waits for its completion (spinning a
 * little, then sleeping) and returns the errno of its status.
 */
int wd_cmd_start(struct wd_queue *q, struct wd_cmd *cmd)
{
	int ret;

	if (!q)
		return -EINVAL;
	ret = queue_check(q);
	if (ret)
		return ret;
	if (wd_queue_inflight(q))
		return -EBUSY;
	cmd->tag = ++q->next_tag;
	return wd_submit(q, cmd);
}

int wd_cmd_finish(struct wd_queue *q, const struct wd_cmd *cmd,
		  struct wd_cqe *cqe)
{
	int spins = 0, ret;

	while (!(ret = wd_reap(q, cqe, 1))) {
		if (++spins < WD_SPIN_LOOPS) {
			cpu_relax();
			continue;
		}
		ret = wd_wait(q, -1);
		if (ret && ret != -EINTR)
			return ret;
	}
	if (ret < 0)
		return ret;
	if (cqe->tag != cmd->tag || cqe->opcode != cmd->opcode)
		return -EPROTO;
	return wd_status_to_errno(cqe->status);
}

static int run_one(struct wd_queue *q, struct wd_cmd *cmd, struct wd_cqe *cqe)
{
	int ret = wd_cmd_start(q, cmd);

	return ret ? ret : wd_cmd_finish(q, cmd, cqe);
}

static void cmd_init(struct wd_cmd *cmd, uint32_t opcode, const void *src,
		     size_t src_len, void *dst, size_t dst_len)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->opcode = opcode;
	cmd->src = (uint64_t)(uintptr_t)src;
	cmd->src_len = src_len;
	cmd->dst = (uint64_t)(uintptr_t)dst;
	cmd->dst_len = dst_len;
}

int wd_copy(struct wd_queue *q, void *dst, const void *src, size_t len)
{
	struct wd_cqe cqe;
	struct wd_cmd cmd;
	int ret;

	cmd_init(&cmd, WD_OP_COPY, src, len, dst, len);
	ret = run_one(q, &cmd, &cqe);
	if (ret)
		return ret;
	return cqe.result == len ? 0 : -EPROTO;
}

int wd_fill(struct wd_queue *q, void *dst, int byte, size_t len)
{
	struct wd_cqe cqe;
	struct wd_cmd cmd;
	int ret;

	cmd_init(&cmd, WD_OP_FILL, NULL, 0, dst, len);
	cmd.param = (unsigned char)byte;
	ret = run_one(q, &cmd, &cqe);
	if (ret)
		return ret;
	return cqe.result == len ? 0 : -EPROTO;
}

int wd_crc32c(struct wd_queue *q, const void *buf, size_t len, uint32_t seed,
	      uint32_t *crc)
{
	struct wd_cqe cqe;
	struct wd_cmd cmd;
	int ret;

	if (!crc)
		return -EINVAL;
	cmd_init(&cmd, WD_OP_CRC32C, buf, len, NULL, 0);
	cmd.param = seed;
	ret = run_one(q, &cmd, &cqe);
	if (ret)
		return ret;
	if (cqe.result > UINT32_MAX)
		return -EPROTO;
	*crc = (uint32_t)cqe.result;
	return 0;
}

static int cipher_one(struct wd_queue *q, uint32_t op, int mode,
		      const void *key_iv, size_t key_len, const void *src,
		      void *dst, size_t len)
{
	struct wd_cqe cqe;
	struct wd_cmd cmd;
	int ret;

	if (mode <= 0 || mode > 0xff || !key_len || key_len > 0xff)
		return -EINVAL;
	cmd_init(&cmd, op, src, len, dst, len);
	cmd.param = WD_CIPHER_PARAM(mode, key_len);
	cmd.key = (uint64_t)(uintptr_t)key_iv;
	ret = run_one(q, &cmd, &cqe);
	if (ret)
		return ret;
	return cqe.result == len ? 0 : -EPROTO;
}

int wd_encrypt(struct wd_queue *q, int mode, const void *key_iv,
	       size_t key_len, const void *src, void *dst, size_t len)
{
	return cipher_one(q, WD_OP_ENCRYPT, mode, key_iv, key_len, src, dst,
			  len);
}

int wd_decrypt(struct wd_queue *q, int mode, const void *key_iv,
	       size_t key_len, const void *src, void *dst, size_t len)
{
	return cipher_one(q, WD_OP_DECRYPT, mode, key_iv, key_len, src, dst,
			  len);
}

int wd_compress(struct wd_queue *q, int format, int level, const void *src,
		size_t src_len, void *dst, size_t dst_cap, size_t *dst_len)
{
	struct wd_cqe cqe;
	struct wd_cmd cmd;
	int ret;

	if (!dst_len || format < 0 || level < 0)
		return -EINVAL;
	cmd_init(&cmd, WD_OP_DEFLATE, src, src_len, dst, dst_cap);
	cmd.param = level;
	cmd.format = format;
	ret = run_one(q, &cmd, &cqe);
	if (ret)
		return ret;
	if (cqe.result > dst_cap)
		return -EPROTO;
	*dst_len = cqe.result;
	return 0;
}

int wd_decompress(struct wd_queue *q, int format, const void *src,
		  size_t src_len, void *dst, size_t dst_cap, size_t *dst_len,
		  size_t *consumed)
{
	struct wd_cqe cqe;
	struct wd_cmd cmd;
	int ret;

	if (format < 0)
		return -EINVAL;
	cmd_init(&cmd, WD_OP_INFLATE, src, src_len, dst, dst_cap);
	cmd.format = format;
	ret = run_one(q, &cmd, &cqe);
	if (ret)
		return ret;
	if (cqe.result > dst_cap || cqe.consumed > src_len ||
	    (src_len && !cqe.consumed))
		return -EPROTO;
	if (dst_len)
		*dst_len = cqe.result;
	if (consumed)
		*consumed = cqe.consumed;
	return 0;
}
