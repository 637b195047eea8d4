/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libwd: the WarpDrive user-space library.
 *
 * Every function that can fail returns a negative errno value (or NULL and
 * sets errno where it returns a pointer); wd_strerror() turns the value
 * into text.
 */
#ifndef LIBWD_H
#define LIBWD_H

#include <stddef.h>
#include <stdint.h>
#include <warpdrive/warpdrive.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBWD_VERSION_MAJOR	0
#define LIBWD_VERSION_MINOR	1
#define LIBWD_VERSION_PATCH	0
#define LIBWD_VERSION \
	(LIBWD_VERSION_MAJOR * 10000 + LIBWD_VERSION_MINOR * 100 + LIBWD_VERSION_PATCH)

/* Where devices are found; tests may point these elsewhere. */
#define WD_SYSFS_CLASS	"/sys/class/warpdrive"
#define WD_DEV_DIR	"/dev/warpdrive"

#define WD_NAME_MAX	64

/** What sysfs says about one device. */
struct wd_dev_desc {
	char name[WD_NAME_MAX];		/* e.g. "wd_soft0" */
	char api[WD_NAME_MAX];		/* driver API name */
	unsigned int api_version;	/* WD_API_VERSION of the module */
	uint32_t flags;			/* WD_DEV_F_* */
	uint32_t algorithms;		/* WD_ALG_* */
	unsigned int queues_total;
	uint64_t devmem_size;
};

struct wd_dev;

/** Version of the library actually linked (LIBWD_VERSION encoding). */
int wd_version(void);

/**
 * wd_list_devices() - describe the devices present
 * @out: array to fill (may be NULL when @max is 0)
 * @max: its length
 *
 * Return: the number of devices present (which may exceed @max), or a
 * negative errno.
 */
int wd_list_devices(struct wd_dev_desc *out, int max);

/** wd_describe() - read sysfs for the device called @name. */
int wd_describe(const char *name, struct wd_dev_desc *out);

/** wd_alg_from_name() - WD_ALG_* bit of "copy", "deflate"... or 0. */
uint32_t wd_alg_from_name(const char *name);

/** wd_alg_name() - name of one WD_ALG_* bit, or NULL. */
const char *wd_alg_name(uint32_t alg);

/**
 * wd_open() - open a device by name
 * @name: device name, or NULL for the first device
 * @out: where the handle goes
 */
int wd_open(const char *name, struct wd_dev **out);

/** wd_open_alg() - open the first device offering all of @algs (WD_ALG_*). */
int wd_open_alg(uint32_t algs, struct wd_dev **out);

/** wd_close() - release the handle and everything bound to it. */
void wd_close(struct wd_dev *dev);

/** wd_dev_fd() - the device file descriptor (for poll/epoll). */
int wd_dev_fd(const struct wd_dev *dev);

/** wd_dev_name() - the name the handle was opened with. */
const char *wd_dev_name(const struct wd_dev *dev);

/** wd_get_info() - WD_IOC_INFO: live figures from the kernel. */
int wd_get_info(struct wd_dev *dev, struct wd_info *info);

/**
 * wd_dev_attr_u64() - read one numeric sysfs attribute of a device
 * @name: device name
 * @attr: attribute below the device's sysfs directory, e.g. "queues_free"
 *        or "stats/kicks" (no ".." components)
 * @val: where the value goes
 *
 * For attributes an older module may lack, so callers can show them
 * tolerantly.
 *
 * Return: 0, -ENOENT if the device has no such attribute, -EPROTO if it
 * does not hold a number, or another negative errno.
 */
int wd_dev_attr_u64(const char *name, const char *attr, uint64_t *val);

/** wd_strerror() - text for a negative errno returned by libwd. */
const char *wd_strerror(int err);

/*
 * Queues.
 *
 * A struct wd_queue is the hardware queue bound to one open device (at most
 * one per struct wd_dev): a submission ring the process fills with struct
 * wd_cmd and a completion ring it reads struct wd_cqe from, both mapped
 * into the process, so that submitting and reaping need no system call
 * while the engine is busy. Commands name buffers by their virtual
 * addresses in the calling process.
 *
 * A queue handle is not thread-safe: use it from one thread at a time (or
 * open the device once per thread). The rings are not inherited by fork():
 * a child may only wd_queue_put() or wd_close() what it inherited. Every function returns 0 (or a count)
 * or a negative errno; -ENODEV means the device was removed and the queue
 * is over, -EPROTO that a ring index was found out of range.
 */
struct wd_queue;

/**
 * struct wd_queue_opts - what wd_queue_get() asks for
 * @sq_entries: submission ring size, a power of two from 2 to 4096, or 0
 *              for the kernel's default (256)
 * @cq_entries: completion ring size, likewise; 0 means twice @sq_entries
 * @nonblock: fail with -EAGAIN instead of waiting when no queue is free
 */
struct wd_queue_opts {
	uint32_t sq_entries;
	uint32_t cq_entries;
	int nonblock;
};

/**
 * wd_queue_get() - bind a hardware queue to the device handle and map it
 * @dev: open device without a queue
 * @opts: ring sizes and flags, or NULL for the defaults (blocking)
 * @out: where the handle goes (NULL on failure)
 *
 * Waits, first come first served, until a queue of the device is free,
 * unless @opts->nonblock is set or the device file was opened O_NONBLOCK.
 *
 * The rings are made present before it returns (the kernel maps them on
 * first touch), so submitting and reaping never fault.
 *
 * Return: 0, -EBUSY if @dev already has a queue, -EAGAIN if none is free
 * and not waiting, -EINTR if a signal interrupted the wait, -EINVAL for
 * bad ring sizes, -EPROTONOSUPPORT if the kernel module speaks another ABI
 * version (WD_API_VERSION) than the library was built for, or another
 * negative errno.
 */
int wd_queue_get(struct wd_dev *dev, const struct wd_queue_opts *opts,
		 struct wd_queue **out);

/**
 * wd_queue_put() - unmap the rings and give the queue back
 * @q: queue, or NULL
 *
 * Commands still in flight are cancelled by the kernel; their completions
 * are lost. wd_close() does this for a queue still bound to its device.
 */
void wd_queue_put(struct wd_queue *q);

/** wd_queue_sq_entries() - submission ring size the kernel granted. */
uint32_t wd_queue_sq_entries(const struct wd_queue *q);

/** wd_queue_cq_entries() - completion ring size the kernel granted. */
uint32_t wd_queue_cq_entries(const struct wd_queue *q);

/**
 * wd_queue_inflight() - commands submitted whose completions were not
 * reaped yet
 */
uint32_t wd_queue_inflight(const struct wd_queue *q);

/**
 * wd_queue_kicks() - WD_IOC_KICK system calls this handle made so far
 *
 * wd_submit() and wd_submit_batch() kick only when the engine asked for it
 * (it went to sleep), so while the engine is busy this does not grow.
 */
uint64_t wd_queue_kicks(const struct wd_queue *q);

/**
 * wd_submit() - queue one command
 * @q: queue
 * @cmd: the command (copied into the ring; its buffers must stay valid
 *       until its completion is reaped)
 *
 * Rings the doorbell (WD_IOC_KICK) only if the engine is asleep.
 *
 * Return: 0 when queued (then, and only then, the command gets a
 * completion), -EAGAIN if the submission ring is full (reap completions
 * and retry), -ENODEV, -EPROTO, -EINVAL: nothing was queued. A doorbell
 * that fails after the command was queued does not change the result:
 * it fails only when the device is gone, which the next call reports.
 */
int wd_submit(struct wd_queue *q, const struct wd_cmd *cmd);

/**
 * wd_submit_batch() - queue up to @n commands with at most one kick
 * @q: queue
 * @cmds: the commands, queued in order
 * @n: how many
 *
 * Return: the number of commands queued from the start of @cmds (fewer
 * than @n, possibly 0, when the submission ring fills up), whatever the
 * doorbell says (as for wd_submit()), or -EINVAL, -ENODEV, -EPROTO when
 * none was queued.
 */
int wd_submit_batch(struct wd_queue *q, const struct wd_cmd *cmds, int n);

/**
 * wd_kick() - ring the doorbell whether or not the engine asked for it
 * @q: queue
 *
 * Never needed for correctness; counted by wd_queue_kicks().
 */
int wd_kick(struct wd_queue *q);

/**
 * wd_reap() - take completions without waiting
 * @q: queue
 * @out: where they go, in completion order
 * @max: room in @out
 *
 * Completions match commands by struct wd_cqe.tag (struct wd_cmd.tag).
 * Every command queued gets exactly one completion: after the device was
 * removed, the commands it never took (no room in the completion ring, or
 * queued after the removal) are reported here as WD_ST_NODEV completions,
 * in order, after the ones the kernel posted.
 *
 * Return: the number taken (0 if none is waiting), -ENODEV once the device
 * is gone and every command has had its completion, -EPROTO, -EINVAL.
 */
int wd_reap(struct wd_queue *q, struct wd_cqe *out, int max);

/**
 * wd_wait() - wait until a completion can be reaped
 * @q: queue
 * @timeout_ms: limit in milliseconds, or -1 to wait as long as it takes
 *
 * Sleeps in poll() on the device file; returns at once if a completion is
 * already waiting.
 *
 * Return: 0 when wd_reap() will find a completion, -ETIMEDOUT, -EINTR if a
 * signal arrived, -ENODEV, -EPROTO.
 */
int wd_wait(struct wd_queue *q, int timeout_ms);

/*
 * Blocking helpers: each submits one command and waits for its completion
 * (spinning briefly on the completion ring, then sleeping in wd_wait()).
 * They need the queue to have nothing else in flight and return -EBUSY if
 * it has, so that no completion of an asynchronous command is taken away
 * from its submitter. A command the device fails returns
 * wd_status_to_errno() of its status (-ENOSPC: destination too small,
 * -EBADMSG: corrupt compressed input, -EFAULT: bad buffer, -E2BIG: length
 * above the device's max_cmd_len (wd_get_info()), ...).
 */

/** wd_copy() - dst[0..len) = src[0..len); the buffers must not overlap. */
int wd_copy(struct wd_queue *q, void *dst, const void *src, size_t len);

/** wd_fill() - dst[0..len) = (unsigned char)@byte, as memset(). */
int wd_fill(struct wd_queue *q, void *dst, int byte, size_t len);

/**
 * wd_crc32c() - CRC32C (Castagnoli) of a buffer
 * @q: queue
 * @buf: data
 * @len: its length
 * @seed: 0 to start, or the previous result to continue over more data
 * @crc: where the checksum goes
 */
int wd_crc32c(struct wd_queue *q, const void *buf, size_t len, uint32_t seed,
	      uint32_t *crc);

/**
 * wd_compress() - DEFLATE a buffer into one stream
 * @q: queue
 * @format: WD_FMT_RAW, WD_FMT_ZLIB or WD_FMT_GZIP (one gzip member)
 * @level: 1 (fastest) to 9 (best), 0 for the default (6)
 * @src: input
 * @src_len: its length
 * @dst: output buffer
 * @dst_cap: its size
 * @dst_len: where the compressed size goes
 *
 * Return: 0, -ENOSPC if @dst_cap is too small (retry with more), ...
 */
int wd_compress(struct wd_queue *q, int format, int level, const void *src,
		size_t src_len, void *dst, size_t dst_cap, size_t *dst_len);

/**
 * wd_decompress() - INFLATE one stream
 * @q: queue
 * @format: WD_FMT_* of the stream
 * @src: input, starting with the stream (data after its end is ignored)
 * @src_len: bytes available at @src
 * @dst: output buffer
 * @dst_cap: its size
 * @dst_len: where the decompressed size goes (may be NULL)
 * @consumed: where the input bytes up to the end of the stream go, so that
 *            concatenated streams (gzip members) can be walked (may be NULL)
 *
 * Return: 0, -ENOSPC if @dst_cap is too small (retry with more), -EBADMSG
 * if the input is not a valid stream (or is cut short), ...
 */
int wd_decompress(struct wd_queue *q, int format, const void *src,
		  size_t src_len, void *dst, size_t dst_cap, size_t *dst_len,
		  size_t *consumed);

/*
 * Queue sets: several queues of one device, each on a device handle of its
 * own, for helpers that cut a large input into pieces and run the pieces
 * on all the queues at once (one thread per queue, the caller's included).
 * On a device whose engines run in parallel (wd_soft: one per online CPU)
 * that is what makes a large buffer go faster than one queue can.
 */
struct wd_qset;

/* Most queues one set holds. */
#define WD_QSET_MAX		256

/* Input bytes per piece of wd_qset_compress() (smaller on a device whose
 * max_cmd_len is below twice this). */
#define WD_QSET_PIECE		(1UL << 20)

/**
 * wd_qset_open() - open a set of queues of one device
 * @name: the device's name, or NULL for the first device (as wd_open())
 * @nr: queues wanted, 1 to WD_QSET_MAX; 0 for one per online CPU
 * @out: where the set goes (NULL on failure)
 *
 * The first queue is taken as wd_queue_get() does by default (waiting for
 * a free one); the others only if free now, so the set may hold fewer than
 * @nr (wd_qset_size()). Each queue has a device handle of its own in the
 * device's default memory mode (SVA on wd_soft): the helpers give the
 * device the caller's buffers as they are.
 *
 * Return: 0, -EINVAL (@nr above WD_QSET_MAX), -ENOMEM, or what wd_open()
 * and wd_queue_get() return for the first queue.
 */
int wd_qset_open(const char *name, unsigned int nr, struct wd_qset **out);

/** wd_qset_close() - release the set's queues, handles and buffers. */
void wd_qset_close(struct wd_qset *set);

/** wd_qset_size() - the number of queues the set holds. */
unsigned int wd_qset_size(const struct wd_qset *set);

/**
 * wd_qset_queue() - the set's queue @i (0 to wd_qset_size() - 1), or NULL
 *
 * For the caller's own commands between helper calls; a helper returns
 * -EBUSY if it finds one of them still in flight.
 */
struct wd_queue *wd_qset_queue(struct wd_qset *set, unsigned int i);

/**
 * wd_qset_compress() - DEFLATE a buffer into one stream on all the queues
 * @set: queue set of a device offering WD_ALG_DEFLATE
 * @format: WD_FMT_RAW, WD_FMT_ZLIB or WD_FMT_GZIP (one gzip member)
 * @level: 1 (fastest) to 9 (best), 0 for the default (6)
 * @src: input
 * @src_len: its length
 * @dst: output buffer; wd_qset_compress_bound() bytes always suffice
 * @dst_cap: its size
 * @dst_len: where the compressed size goes
 *
 * An input of up to WD_QSET_PIECE bytes is one wd_compress() on the first
 * queue. A larger one is cut into pieces of WD_QSET_PIECE, each compressed
 * with no history (WD_CMD_F_SYNC) on whichever queue is free, the pieces
 * joined in order into one stream of the format with its checksum; the
 * output depends on the input and level only, not on the number of queues.
 * Calls on one set run one at a time.
 *
 * Return: 0, -EINVAL (format, level, NULL @dst_len), -EOPNOTSUPP (the
 * device has no DEFLATE), -ENOSPC if @dst_cap is too small, -ENOMEM,
 * -EBUSY (a queue has a command of the caller in flight), or what the
 * device's failure maps to (wd_status_to_errno()).
 */
int wd_qset_compress(struct wd_qset *set, int format, int level,
		     const void *src, size_t src_len, void *dst,
		     size_t dst_cap, size_t *dst_len);

/**
 * wd_qset_compress_bound() - room wd_qset_compress() may need for @src_len
 * bytes of input in any format and at any level.
 */
size_t wd_qset_compress_bound(size_t src_len);

/**
 * wd_encrypt() - AES-encrypt a buffer (WD_OP_ENCRYPT)
 * @q: queue of a device offering the mode (WD_ALG_AES_*)
 * @mode: WD_CIPHER_ECB, _CBC, _CTR or _XTS
 * @key_iv: the key (@key_len bytes) followed at once by the 16-byte IV
 *          (initial counter block for CTR, tweak for XTS; read but unused
 *          for ECB). In pinned mode it must lie in a shared range, like
 *          the buffers.
 * @key_len: 16, 24 or 32 (XTS: 32 or 64, two keys)
 * @src: plaintext
 * @dst: ciphertext, @len bytes; must not overlap @src
 * @len: bytes; a multiple of 16 except for CTR (XTS: at least 16)
 *
 * Return: 0, -EINVAL (mode, key length, alignment; the device does not
 * offer the mode), -EFAULT, -E2BIG (above the device's max_cmd_len),
 * -ENODEV, -ECANCELED, or what wd_submit()/wd_wait() return.
 */
int wd_encrypt(struct wd_queue *q, int mode, const void *key_iv,
	       size_t key_len, const void *src, void *dst, size_t len);

/** wd_decrypt() - the inverse of wd_encrypt() (WD_OP_DECRYPT), same rules. */
int wd_decrypt(struct wd_queue *q, int mode, const void *key_iv,
	       size_t key_len, const void *src, void *dst, size_t len);

/** wd_status_str() - text for a WD_ST_* completion status. */
const char *wd_status_str(uint32_t status);

/**
 * wd_status_to_errno() - negative errno for a WD_ST_* status
 *
 * Return: 0 for WD_ST_OK; -EINVAL, -EFAULT, -ENOSPC, -EBADMSG, -E2BIG,
 * -EINVAL (overlap), -ENODEV, -ECANCELED; -EPROTO for an unknown status.
 */
int wd_status_to_errno(uint32_t status);

/*
 * Device MMU (see the README). A device opened with wd_open() starts in
 * shared virtual addressing mode (WD_MMU_SVA) when the device offers it:
 * commands may name any address of the process. In WD_MMU_PINNED mode
 * they may only name ranges shared with wd_share().
 */

/**
 * wd_set_mmu_mode() - switch the device MMU mode of @dev
 * @dev: device handle with no queue bound (else -EBUSY)
 * @mode: WD_MMU_SVA or WD_MMU_PINNED (-EOPNOTSUPP if the device lacks it)
 */
int wd_set_mmu_mode(struct wd_dev *dev, uint32_t mode);

/** wd_get_mmu_mode() - the current mode of @dev, or a negative errno */
int wd_get_mmu_mode(struct wd_dev *dev);

/**
 * wd_share() - pin a range for the device (pinned mode)
 * @dev: device handle in WD_MMU_PINNED mode
 * @addr: page-aligned start
 * @len: page-aligned length
 * @access: WD_SHARE_READ and/or WD_SHARE_WRITE
 *
 * Charged to RLIMIT_MEMLOCK (-ENOMEM beyond it without CAP_IPC_LOCK);
 * -EEXIST if it overlaps a shared range; -EFAULT if not mapped with the
 * access asked for (or memfd_secret memory); -EOPNOTSUPP for
 * WD_SHARE_WRITE on a shared mapping of a file that is not shmem, hugetlbfs
 * or a device memory region, and in SVA mode.
 */
int wd_share(struct wd_dev *dev, void *addr, size_t len, uint32_t access);

/** wd_unshare() - unpin exactly a range given to wd_share() (-EOPNOTSUPP in SVA mode) */
int wd_unshare(struct wd_dev *dev, void *addr, size_t len);

/*
 * Device memory (see the README, "Device memory"). A region is a file
 * descriptor for part of a device's memory, which any process it is passed
 * to may map (shared). Its pages come from the device's pool when first
 * needed, zeroed: on fault (a window of pages per fault), or eagerly with
 * mmap(MAP_POPULATE), madvise(MADV_POPULATE_WRITE), wd_region_populate(),
 * or at mmap() time for regions created with WD_REGION_MAP_ADVANCE.
 * wd_region_punch() gives a range back to the pool; the next touch gets
 * fresh zeroed memory. Close the fd and unmap to free the whole region.
 */

/**
 * wd_region_create() - make a device memory region
 * @dev: open device offering WD_DEV_F_DEVMEM
 * @size: bytes, page-aligned, at most the device memory size (-E2BIG)
 * @flags: WD_REGION_MAP_ADVANCE, WD_REGION_CLOEXEC
 * @fd: where the region's file descriptor goes (-1 on failure)
 *
 * No memory is taken yet. The pages are charged to the user who opened
 * @dev (all of that user's regions on the device together), which may be
 * bounded by the device's devmem_user_quota.
 */
int wd_region_create(struct wd_dev *dev, size_t size, uint32_t flags, int *fd);

/**
 * wd_region_create_ex() - wd_region_create() with a fault-around window
 * @fault_around: pages one fault maps: a power of two up to
 *                WD_REGION_FAULT_AROUND_MAX, or 0 for the default
 */
int wd_region_create_ex(struct wd_dev *dev, size_t size, uint32_t flags,
			uint32_t fault_around, int *fd);

/**
 * wd_region_map() - mmap() a region, shared, from offset 0
 * @fd: region fd
 * @size: bytes to map (at most the region size)
 * @prot: PROT_READ and/or PROT_WRITE
 * @flags: more mmap() flags, e.g. MAP_POPULATE (not MAP_PRIVATE)
 * @addr: where the address goes
 *
 * munmap() it when done.
 */
int wd_region_map(int fd, size_t size, int prot, int flags, void **addr);

/**
 * wd_region_populate() - make a mapped range present in one call
 * @fd: region fd
 * @addr: page-aligned start inside a mapping of the region
 * @len: page-aligned length
 * @done: bytes from @addr mapped now (may be NULL)
 *
 * Succeeds with *@done short of @len when the pool or the quota ran out
 * or a signal arrived on the way; touching the rest faults it in.
 *
 * Return: 0, or -ENOSPC (pool empty), -EDQUOT (quota), -EINTR, -EFAULT,
 * -EINVAL, -EACCES, -ENODEV when nothing was done.
 */
int wd_region_populate(int fd, void *addr, size_t len, size_t *done);

/**
 * wd_region_punch() - give a range back to the device
 * @fd: region fd
 * @offset: page-aligned offset in the region
 * @len: page-aligned length
 *
 * Unmaps the range from every mapping of every process and returns its
 * memory to the pool; the next access sees fresh zeroed memory.
 * fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE).
 */
int wd_region_punch(int fd, size_t offset, size_t len);

/**
 * wd_region_reserve() - take pool memory for a range without mapping it
 *
 * fallocate() mode 0; -ENOSPC or -EDQUOT when the pool or the quota runs
 * out (what was taken stays).
 */
int wd_region_reserve(int fd, size_t offset, size_t len);

/** wd_region_info() - WD_REGION_IOC_INFO: size, resident bytes, charge. */
int wd_region_info(int fd, struct wd_region_info *info);

/** Device memory figures of a device, in bytes (from sysfs). */
struct wd_devmem_usage {
	uint64_t size;		/* the pool */
	uint64_t free;		/* can be handed out now */
	uint64_t used;		/* in regions, or held by pins */
	uint64_t user_quota;	/* per-user limit, 0 for none */
};

/** wd_devmem_usage() - pool usage of the device called @name. */
int wd_devmem_usage(const char *name, struct wd_devmem_usage *u);

/*
 * Device-private memory (devices with WD_DEV_F_DEVPRIV): private anonymous
 * memory moves into device memory the CPU cannot address. The addresses
 * stay valid: the device works on the pages where they are, and a CPU
 * access brings a page back on its own.
 */

/**
 * wd_migrate() - move a range to the device or back to system memory
 * @dev: device handle
 * @addr: page-aligned start
 * @len: page-aligned length
 * @direction: WD_MIGRATE_TO_DEVICE or WD_MIGRATE_TO_SYSTEM
 * @moved: if not NULL, set to the pages moved
 * @failed: if not NULL, set to the pages that could not be moved (shared,
 *          file-backed, pinned, on another device...)
 *
 * Return: 0; -EOPNOTSUPP without device-private memory; -EFAULT for a hole
 * in the range; -ENOMEM when the device is full and evicts nothing.
 */
int wd_migrate(struct wd_dev *dev, void *addr, size_t len, uint32_t direction,
	       uint64_t *moved, uint64_t *failed);

#ifdef __cplusplus
}
#endif
#endif /* LIBWD_H */
