/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * WarpDrive user-space ABI.
 *
 * Every structure uses fixed-size types only, has explicit padding and
 * carries reserved fields that must be zero; user pointers travel as __u64.
 * Unknown ioctl commands fail with ENOTTY, unknown flags with EINVAL.
 */
#ifndef _UAPI_WARPDRIVE_H
#define _UAPI_WARPDRIVE_H

#include <linux/types.h>
#include <linux/ioctl.h>

/*
 * Version of this ABI; bumped only on incompatible changes.
 *
 * 2: struct wd_cqe grew to 64 bytes (@flags and reserved room added);
 *    WD_IOC_QUEUE_GET takes the caller's version in
 *    struct wd_queue_info.api_version and refuses any other (an older
 *    binary leaves it zero) with EPROTONOSUPPORT; the largest command
 *    length is reported per device (struct wd_info.max_cmd_len) instead
 *    of the constant WD_CMD_MAX_LEN; queue mmap offsets are the same for
 *    every binding; struct wd_cq_hdr.dropped counts the commands a device
 *    removal left untaken.
 */
#define WD_API_VERSION		2

/* Device capability flags, shown as "flags" in sysfs (hexadecimal). */
#define WD_DEV_F_QUEUES		(1U << 0)	/* user-space command queues */
#define WD_DEV_F_SVA		(1U << 1)	/* shared virtual addressing */
#define WD_DEV_F_PINNED		(1U << 2)	/* explicitly shared, pinned ranges */
#define WD_DEV_F_DEVMEM		(1U << 3)	/* CPU-addressable device memory */
#define WD_DEV_F_DEVPRIV	(1U << 4)	/* device-private memory (HMM) */

/* Algorithms, as bits; sysfs "algorithms" lists their names. */
#define WD_ALG_COPY		(1U << 0)
#define WD_ALG_FILL		(1U << 1)
#define WD_ALG_CRC32C		(1U << 2)
#define WD_ALG_DEFLATE		(1U << 3)
#define WD_ALG_INFLATE		(1U << 4)
#define WD_ALG_AES_ECB		(1U << 5)	/* ENCRYPT/DECRYPT, WD_CIPHER_ECB */
#define WD_ALG_AES_CBC		(1U << 6)	/* WD_CIPHER_CBC */
#define WD_ALG_AES_CTR		(1U << 7)	/* WD_CIPHER_CTR */
#define WD_ALG_AES_XTS		(1U << 8)	/* WD_CIPHER_XTS */

/**
 * struct wd_info - what WD_IOC_INFO reports about the device (output only).
 * @api_version: WD_API_VERSION of the running kernel module.
 * @flags: WD_DEV_F_* capabilities.
 * @algorithms: WD_ALG_* bits.
 * @queues_total: hardware queues the device has.
 * @queues_free: queues not bound to any context right now.
 * @pad: zero.
 * @devmem_size: bytes of device memory.
 * @devpriv_size: bytes of it given to device-private memory (HMM); 0
 *                without WD_DEV_F_DEVPRIV.
 * @max_cmd_len: the largest src_len or dst_len one command may name on
 *               this device; a command above it completes with
 *               WD_ST_TOO_BIG (API version 2; it replaces the constant
 *               WD_CMD_MAX_LEN of version 1).
 * @reserved: zero; room for later fields.
 */
struct wd_info {
	__u32 api_version;
	__u32 flags;
	__u32 algorithms;
	__u32 queues_total;
	__u32 queues_free;
	__u32 pad;
	__u64 devmem_size;
	__u64 devpriv_size;
	__u64 max_cmd_len;
	__u64 reserved[6];
};

/*
 * Queues.
 *
 * A context (open file) binds at most one hardware queue at a time with
 * WD_IOC_QUEUE_GET and gives it back with WD_IOC_QUEUE_PUT (or close).
 * The queue has three regions, each mapped once with mmap() at the offset
 * WD_IOC_QUEUE_GET returned for it, MAP_SHARED. The offsets are fixed (the
 * same for every binding of every context: one context binds at most one
 * queue at a time); a mapping belongs to the binding it was made for and
 * raises SIGBUS once that binding ends, even if the context binds again.
 * Pages are mapped on first touch, a whole region per fault. The mappings
 * are never inherited by fork(): madvise(MADV_DOFORK) fails with EINVAL
 * on them.
 *
 *   control page     read/write  struct wd_ctrl: indices user space owns
 *   submission ring  read/write  sq_entries x struct wd_cmd
 *   completion ring  read only   struct wd_cq_hdr, then cq_entries x
 *                                struct wd_cqe (from offset WD_CQ_HDR_SIZE)
 *
 * Ring indices are free-running 32-bit counters; the slot is the index
 * modulo the (power of two) ring size. User space writes commands at
 * sq_tail and advances it, and consumes completions from cq_head up to
 * cq_tail. The kernel never trusts what user space writes: an index that
 * moves backwards or more than a ring's size ahead stops the queue with
 * WD_CQ_F_BAD_INDEX set until user space puts it right.
 */

/**
 * struct wd_ctrl - the control page, written by user space
 * @sq_tail: next submission slot user space will fill (producer index).
 * @pad0: keeps @cq_head on its own cache line.
 * @cq_head: next completion user space will read (consumer index).
 * @pad1: zero.
 */
struct wd_ctrl {
	__u32 sq_tail;
	__u32 pad0[15];
	__u32 cq_head;
	__u32 pad1[15];
};

/* struct wd_cq_hdr.flags */
#define WD_CQ_F_NEED_WAKEUP	(1U << 0)	/* engine sleeps: kick it */
#define WD_CQ_F_BAD_INDEX	(1U << 1)	/* an index is out of range */
#define WD_CQ_F_DEAD		(1U << 2)	/* device gone: queue is over */

/**
 * struct wd_cq_hdr - head of the completion region, written by the kernel
 * @sq_head: submission slots consumed so far; slots before it are free.
 * @pad0: zero.
 * @cq_tail: completions posted so far.
 * @flags: WD_CQ_F_*.
 * @dropped: written once, when the device is removed (WD_CQ_F_DEAD): the
 *           commands that were waiting in the submission ring but found
 *           no free completion slot for their WD_ST_NODEV completion.
 *           They were not taken: they are the @dropped slots from
 *           @sq_head on, and never run. (Commands published after the
 *           removal are not taken or counted either: everything from
 *           @sq_head to user space's sq_tail never ran.) Zero otherwise.
 * @pad1: zero.
 */
struct wd_cq_hdr {
	__u32 sq_head;
	__u32 pad0[15];
	__u32 cq_tail;
	__u32 flags;
	__u32 dropped;
	__u32 pad1[13];
};

#define WD_CQ_HDR_SIZE		128

/* Opcodes */
#define WD_OP_NOP		0	/* completes at once; for round trips */
#define WD_OP_COPY		1	/* dst[0..src_len) = src */
#define WD_OP_FILL		2	/* dst[0..dst_len) = byte @param */
#define WD_OP_CRC32C		3	/* result = crc32c(src), seed @param */
#define WD_OP_DEFLATE		4	/* compress src into dst */
#define WD_OP_INFLATE		5	/* decompress src into dst */
#define WD_OP_ENCRYPT		6	/* dst = AES(src), see WD_CIPHER_* */
#define WD_OP_DECRYPT		7	/* dst = AES^-1(src) */

/*
 * ENCRYPT and DECRYPT: struct wd_cmd.param names the mode and the key size,
 * struct wd_cmd.key the user address of the key (WD_CIPHER_KEY_LEN bytes)
 * followed at once by the 16-byte IV (initial counter block for CTR, tweak
 * for XTS; ignored for ECB). dst_len must be at least src_len; the result
 * is src_len bytes. ECB, CBC and XTS need src_len a multiple of 16 (XTS: at
 * least 16), else WD_ST_INVALID. Source and destination must not overlap
 * (WD_ST_OVERLAP). XTS keys are two AES keys (32 or 64 bytes).
 */
#define WD_CIPHER_ECB		1
#define WD_CIPHER_CBC		2
#define WD_CIPHER_CTR		3
#define WD_CIPHER_XTS		4
#define WD_CIPHER_PARAM(mode, key_len)	((__u32)(mode) | ((__u32)(key_len) << 8))
#define WD_CIPHER_MODE(param)		((param) & 0xff)
#define WD_CIPHER_KEY_LEN(param)	(((param) >> 8) & 0xff)
#define WD_CIPHER_IV_LEN	16

/* Framing for DEFLATE and INFLATE (struct wd_cmd.format) */
#define WD_FMT_RAW		0	/* RFC 1951 */
#define WD_FMT_ZLIB		1	/* RFC 1950 */
#define WD_FMT_GZIP		2	/* RFC 1952, one member */

/**
 * struct wd_cmd - one submission entry (64 bytes)
 * @opcode: WD_OP_*.
 * @flags: WD_CMD_F_* (INFLATE streams, raw DEFLATE), else zero.
 * @tag: returned unchanged in the completion.
 * @src: source virtual address in the submitting process.
 * @src_len: source length in bytes.
 * @dst: destination virtual address.
 * @dst_len: room at @dst in bytes.
 * @param: FILL: the byte (0-255); CRC32C: seed (0 to start, the previous
 *         result to continue); DEFLATE: level 1-9 (0 means 6);
 *         ENCRYPT/DECRYPT: WD_CIPHER_PARAM(mode, key length); bits 16-31
 *         zero.
 * @format: DEFLATE/INFLATE: WD_FMT_*; zero otherwise.
 * @key: ENCRYPT/DECRYPT: user address of the key and the IV after it.
 * @reserved: the same field: zero for every other opcode.
 */
struct wd_cmd {
	__u32 opcode;
	__u32 flags;
	__u64 tag;
	__u64 src;
	__u64 src_len;
	__u64 dst;
	__u64 dst_len;
	__u32 param;
	__u32 format;
	union {
		__u64 key;
		__u64 reserved;
	};
};

/*
 * struct wd_cmd.flags, INFLATE with WD_FMT_RAW or WD_FMT_ZLIB only: a
 * stream decompressed over several commands. WD_CMD_F_STREAM starts one:
 * when the command uses up its source or fills its destination before the
 * end of the stream it completes with WD_ST_MORE and the queue keeps the
 * stream; the next command with WD_CMD_F_STREAM | WD_CMD_F_CONTINUE (and
 * the same format) resumes it, its source starting at the first byte not
 * consumed. Any other status ends the stream. A queue keeps one stream.
 */
#define WD_CMD_F_STREAM		(1U << 0)
#define WD_CMD_F_CONTINUE	(1U << 1)

/*
 * struct wd_cmd.flags, DEFLATE with WD_FMT_RAW only: end the output with a
 * sync flush (zlib's Z_SYNC_FLUSH) instead of a final block. The output is
 * then a raw deflate stream that has not ended: its blocks are not final,
 * it ends on a byte boundary (with an empty stored block), and it refers
 * to no data before it. Such pieces of independent input, concatenated and
 * followed by a final block, make one stream that inflates to the inputs
 * concatenated: how a large input is compressed on several queues at once.
 * The destination needs a byte of room beyond the output: one the output
 * fills exactly is WD_ST_NOSPACE (a deflater that stops with its buffer
 * full cannot tell whether the flush is complete).
 */
#define WD_CMD_F_SYNC		(1U << 2)

/* Completion status (struct wd_cqe.status) */
#define WD_ST_OK		0	/* done */
#define WD_ST_INVALID		1	/* bad opcode, flags, reserved field or parameter */
#define WD_ST_FAULT		2	/* an address is not mapped with the access needed */
#define WD_ST_NOSPACE		3	/* destination too small */
#define WD_ST_CORRUPT		4	/* INFLATE: input is not valid */
#define WD_ST_TOO_BIG		5	/* length above struct wd_info.max_cmd_len */
#define WD_ST_OVERLAP		6	/* source and destination overlap */
#define WD_ST_NODEV		7	/* device removed before the command ran */
#define WD_ST_CANCELLED		8	/* queue released before or while the command ran */
#define WD_ST_MORE		9	/* INFLATE stream: not ended, continue it */

/**
 * struct wd_cqe - one completion entry (64 bytes since API version 2)
 * @tag: the command's tag.
 * @status: WD_ST_*.
 * @opcode: the command's opcode.
 * @result: bytes written to dst (COPY, FILL, DEFLATE, INFLATE); for
 *          CRC32C the checksum.
 * @consumed: bytes of src consumed (INFLATE: the end of the stream, so
 *            concatenated members can be walked), else src_len.
 * @flags: zero (no completion flags are defined yet).
 * @pad: zero.
 * @reserved: zero; room for later fields.
 */
struct wd_cqe {
	__u64 tag;
	__u32 status;
	__u32 opcode;
	__u64 result;
	__u64 consumed;
	__u32 flags;
	__u32 pad;
	__u64 reserved[3];
};

/* struct wd_queue_info.flags */
#define WD_QF_NONBLOCK		(1U << 0)	/* fail with EAGAIN if no queue is free */

/**
 * struct wd_queue_info - WD_IOC_QUEUE_GET argument
 * @flags: in: WD_QF_*; a file opened O_NONBLOCK never waits either.
 * @sq_entries: in: submission ring size, a power of two from 2 to 4096,
 *              or 0 for the default (256); out: the size granted.
 * @cq_entries: in: completion ring size, as @sq_entries (0: twice the
 *              submission ring); out: the size granted.
 * @queue_id: out: the hardware queue's number.
 * @ctrl_offset: out: mmap offset of the control page.
 * @sq_offset: out: mmap offset of the submission ring.
 * @cq_offset: out: mmap offset of the completion region.
 * @ctrl_size: out: its length in bytes.
 * @sq_size: out: its length in bytes.
 * @cq_size: out: its length in bytes.
 * @api_version: in: WD_API_VERSION the caller was built with. Any other
 *               value (an older binary leaves it zero) fails with
 *               EPROTONOSUPPORT, so a caller that would read completions
 *               with another layout never gets a queue.
 * @pad: zero.
 * @reserved: zero in and out.
 */
struct wd_queue_info {
	__u32 flags;
	__u32 sq_entries;
	__u32 cq_entries;
	__u32 queue_id;
	__u64 ctrl_offset;
	__u64 sq_offset;
	__u64 cq_offset;
	__u64 ctrl_size;
	__u64 sq_size;
	__u64 cq_size;
	__u32 api_version;
	__u32 pad;
	__u64 reserved[3];
};

/*
 * Device MMU: how the engine reaches process memory (see README).
 *
 * WD_MMU_SVA: shared virtual addressing. Commands may name any address of
 * the process; the device mirrors the CPU page table on demand and stays
 * coherent with it. Nothing is pinned.
 * WD_MMU_PINNED: commands may only name ranges shared with WD_IOC_SHARE,
 * which pins them (charged to RLIMIT_MEMLOCK, shown as VmPin); anything
 * else completes with WD_ST_FAULT.
 */
#define WD_MMU_SVA		1
#define WD_MMU_PINNED		2

/**
 * struct wd_mmu_mode - WD_IOC_MMU_MODE argument
 * @mode: in: WD_MMU_* to switch to, or 0 to only ask; out: the mode now.
 *        Switching needs no queue bound and nothing shared (EBUSY).
 * @pad: zero.
 * @reserved: zero.
 */
struct wd_mmu_mode {
	__u32 mode;
	__u32 pad;
	__u64 reserved[2];
};

#define WD_SHARE_READ		(1U << 0)
#define WD_SHARE_WRITE		(1U << 1)

/**
 * struct wd_share_req - WD_IOC_SHARE / WD_IOC_UNSHARE argument
 * @addr: page-aligned start of the range.
 * @len: page-aligned length, not 0.
 * @access: SHARE: WD_SHARE_READ and/or WD_SHARE_WRITE; UNSHARE: 0.
 * @pad: zero.
 * @reserved: zero.
 *
 * A share may not overlap another (EEXIST); UNSHARE takes exactly a range
 * that was shared (ENOENT if none starts there, EINVAL for part of one).
 */
struct wd_share_req {
	__u64 addr;
	__u64 len;
	__u32 access;
	__u32 pad;
	__u64 reserved[2];
};

#define WD_IOC_MAGIC		0xDA
#define WD_IOC_INFO		_IOR(WD_IOC_MAGIC, 0x00, struct wd_info)
#define WD_IOC_QUEUE_GET	_IOWR(WD_IOC_MAGIC, 0x01, struct wd_queue_info)
#define WD_IOC_QUEUE_PUT	_IO(WD_IOC_MAGIC, 0x02)
/*
 * Wake the engine after new submissions (needed only with NEED_WAKEUP).
 * WD_IOC_QUEUE_PUT and WD_IOC_KICK ignore their argument.
 */
#define WD_IOC_KICK		_IO(WD_IOC_MAGIC, 0x03)
#define WD_IOC_MMU_MODE		_IOWR(WD_IOC_MAGIC, 0x10, struct wd_mmu_mode)
#define WD_IOC_SHARE		_IOW(WD_IOC_MAGIC, 0x11, struct wd_share_req)
#define WD_IOC_UNSHARE		_IOW(WD_IOC_MAGIC, 0x12, struct wd_share_req)

/*
 * Device memory regions (see README "Device memory").
 *
 * WD_IOC_REGION_CREATE on a device file makes a region of the device's
 * memory and returns a new file descriptor for it. The region is sparse:
 * device memory is taken from the device's pool only when a page is first
 * used, and comes zeroed. The region fd may be mmap()ed (MAP_SHARED only;
 * MAP_PRIVATE fails with EINVAL) any number of times, by any process it is
 * passed to; every mapping sees the same memory. Pages are made present:
 *
 *   on fault          first touch takes a page from the pool, and the
 *                     fault maps a window of fault_around pages around it;
 *   eagerly           mmap(MAP_POPULATE), madvise(MADV_POPULATE_READ or
 *                     MADV_POPULATE_WRITE), WD_REGION_IOC_POPULATE;
 *   at mmap           regions created with WD_REGION_MAP_ADVANCE: the
 *                     memory is taken at mmap(), the first fault maps
 *                     the whole mapping.
 *
 * fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) on the region fd
 * unmaps a range from every mapping and gives its pages back to the pool;
 * fallocate() mode 0 or FALLOC_FL_KEEP_SIZE takes pool pages for a range
 * without mapping them. Offsets and lengths are page-aligned and within
 * the region (EINVAL); other modes fail with EOPNOTSUPP.
 *
 * An empty pool (or an exhausted per-user quota, sysfs
 * devmem_user_quota) makes a fault raise SIGBUS and MADV_POPULATE_* fail
 * with EFAULT; WD_REGION_IOC_POPULATE and fallocate() report ENOSPC
 * (EDQUOT for the quota). The pages are charged to the user (effective
 * uid) that opened the device the region was created on, all of that
 * user's regions on the device together.
 *
 * The size of a region is fixed: truncate()/ftruncate() to another size
 * fail with EPERM (the same size succeeds and changes nothing).
 */

/* struct wd_region_create.flags */
#define WD_REGION_MAP_ADVANCE	(1U << 0)	/* mmap() takes the memory, the first fault maps it all */
#define WD_REGION_CLOEXEC	(1U << 1)	/* the new fd is close-on-exec */

/* Largest fault-around window, in pages. */
#define WD_REGION_FAULT_AROUND_MAX	512

/**
 * struct wd_region_create - WD_IOC_REGION_CREATE argument
 * @size: in: region size in bytes, page-aligned, not 0 and at most the
 *        device memory size (E2BIG).
 * @flags: in: WD_REGION_*.
 * @fault_around: in: pages one fault maps (a power of two up to
 *                WD_REGION_FAULT_AROUND_MAX), or 0 for the framework's
 *                default (module parameter region_fault_around, 16).
 * @fd: out: the region's file descriptor; zero in.
 * @pad: zero.
 * @reserved: zero.
 */
struct wd_region_create {
	__u64 size;
	__u32 flags;
	__u32 fault_around;
	__u32 fd;
	__u32 pad;
	__u64 reserved[4];
};

/**
 * struct wd_region_populate - WD_REGION_IOC_POPULATE argument
 * @addr: in: page-aligned start, inside a mapping of this region in the
 *        calling process.
 * @len: in: page-aligned length, not 0; the range may span several
 *       mappings of the region (a split one), each must be of it.
 * @flags: in: zero (no flags are defined yet).
 * @pad: zero.
 * @done: out: bytes from @addr that are mapped now; zero in.
 * @reserved: zero.
 *
 * Makes the pages of the range present and maps them, with the mapping's
 * protection. It may stop early: the pool (or the quota) ran out, a signal
 * arrived, or the range left the region's mappings. It then succeeds with
 * @done short of @len (the fault handler fills the rest on touch), and
 * fails only when nothing was done: ENOSPC, EDQUOT, EINTR, EFAULT (not
 * mapped), EINVAL (mapped, but not this region), EACCES (PROT_NONE),
 * ENODEV (device removed).
 */
struct wd_region_populate {
	__u64 addr;
	__u64 len;
	__u32 flags;
	__u32 pad;
	__u64 done;
	__u64 reserved[2];
};

/**
 * struct wd_region_info - WD_REGION_IOC_INFO result (output only)
 * @size: region size in bytes.
 * @resident: bytes of device memory the region holds now.
 * @flags: WD_REGION_* it was created with (WD_REGION_CLOEXEC excluded).
 * @fault_around: pages one fault maps now.
 * @user_charged: bytes charged to the user the region is charged to (all
 *                that user's regions on the device).
 * @user_quota: the per-user quota in bytes, 0 for none.
 * @reserved: zero.
 */
struct wd_region_info {
	__u64 size;
	__u64 resident;
	__u32 flags;
	__u32 fault_around;
	__u64 user_charged;
	__u64 user_quota;
	__u64 reserved[4];
};

/* On a device file: */
#define WD_IOC_REGION_CREATE	_IOWR(WD_IOC_MAGIC, 0x20, struct wd_region_create)
/* On a region file: */
#define WD_REGION_IOC_POPULATE	_IOWR(WD_IOC_MAGIC, 0x21, struct wd_region_populate)
#define WD_REGION_IOC_INFO	_IOR(WD_IOC_MAGIC, 0x22, struct wd_region_info)

/*
 * Device-private memory (WD_DEV_F_DEVPRIV): private anonymous memory of
 * the process moves into device memory that the CPU cannot address. The
 * virtual addresses do not change: engines use the pages where they are,
 * and a CPU access (or get_user_pages: O_DIRECT, process_vm_readv, a
 * share in pinned mode) brings a page back to system memory on its own.
 */
#define WD_MIGRATE_TO_DEVICE	1
#define WD_MIGRATE_TO_SYSTEM	2

/**
 * struct wd_migrate - WD_IOC_MIGRATE argument
 * @addr: in: page-aligned start of the range.
 * @len: in: page-aligned length, not 0.
 * @direction: in: WD_MIGRATE_TO_DEVICE or WD_MIGRATE_TO_SYSTEM.
 * @flags: in: zero (no flags are defined yet).
 * @moved: out: pages this call moved.
 * @failed: out: pages that are not where they were asked to go and could
 *          not be moved there: shared or file-backed mappings, pinned or
 *          busy pages, pages on another device, no read access, or (with
 *          eviction off) device memory full. The rest of the range was
 *          already there (or, to system memory, was never populated).
 * @reserved: zero in and out.
 *
 * The range may span several mappings; a hole in it fails with EFAULT
 * (pages before the hole may have moved). With wd_soft's evict=0, a full
 * device fails with ENOMEM; the figures are still written back.
 */
struct wd_migrate {
	__u64 addr;
	__u64 len;
	__u32 direction;
	__u32 flags;
	__u64 moved;
	__u64 failed;
	__u64 reserved[4];
};

#define WD_IOC_MIGRATE		_IOWR(WD_IOC_MAGIC, 0x30, struct wd_migrate)

#endif /* _UAPI_WARPDRIVE_H */
