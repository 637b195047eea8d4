// SPDX-License-Identifier: GPL-2.0
/*
 * wd_soft execution engines: copy, fill, CRC32C, deflate and inflate.
 *
 * Commands come from an untrusted process: every field is checked before
 * any memory is touched, and the buffers are reached only through the
 * framework's cursors: wd_mem_segs_limit() gives a batch of segments (of
 * at most SOFT_PIECE bytes, a page for zlib, merged where contiguous) and
 * the engines work through it; a stopping queue and a waiting
 * invalidation are held up by no more than that. Nothing is allocated
 * per command, whatever the lengths.
 *
 * A device with a DMA device (the module's dma=1, for tests) gets DMA
 * addresses in its segments, mapped by the framework through dma-direct;
 * the engine turns them back into kernel addresses as a device's DMA
 * would reach physical memory.
 *
 * The buffers stay writable by the process while a command runs, so the
 * engines read every byte they act on once, into a private copy or into
 * zlib's own state, and never trust a value read twice to be the same.
 * A process racing with its own command gets garbage, never more.
 */
#include <linux/bits.h>
#include <linux/bug.h>
#include <linux/crc32.h>
#include <linux/dma-direct.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/zlib.h>
#include "wd_compat.h"

#include "soft_engine.h"

/* Most bytes one piece of a segment gives memcpy, memset or the CRC. */
#define SOFT_PIECE		SZ_256K

/* Default deflate level when the command says 0, as zlib's. */
#define SOFT_LEVEL_DEFAULT	6
#define SOFT_LEVEL_MAX		9

/* The largest memory level we deflate with; the workspace is sized for it. */
#define SOFT_MEM_LEVEL		DEF_MEM_LEVEL

/* gzip member framing (RFC 1952) */
#define SOFT_GZ_ID1		0x1f
#define SOFT_GZ_ID2		0x8b
#define SOFT_GZ_CM_DEFLATE	8
#define SOFT_GZ_HDR_LEN		10
#define SOFT_GZ_TRL_LEN		8
#define SOFT_GZ_FTEXT		BIT(0)	/* a hint only: ignored */
#define SOFT_GZ_FHCRC		BIT(1)
#define SOFT_GZ_FEXTRA		BIT(2)
#define SOFT_GZ_FNAME		BIT(3)
#define SOFT_GZ_FCOMMENT	BIT(4)
#define SOFT_GZ_FRESERVED	0xe0
#define SOFT_GZ_XFL_BEST	2
#define SOFT_GZ_XFL_FAST	4
#define SOFT_GZ_OS_UNIX		3

/**
 * struct soft_job - one command being run
 * @eng: the engine running it
 * @cmd: the command
 * @src: cursor over its source
 * @dst: cursor over its destination
 * @in: bytes of the source consumed so far
 * @out: bytes written to the destination so far
 * @dma_dev: the device's DMA device: segments hold DMA addresses
 *
 * Helpers return a WD_ST_* status; @in and @out say how far they got.
 */
struct soft_job {
	struct soft_engine *eng;
	const struct wd_cmd *cmd;
	struct wd_mem_cursor *src;
	struct wd_mem_cursor *dst;
	u64 in;
	u64 out;
	struct device *dma_dev;
};

/* The queue is stopping: end the command now. */
static bool soft_cancelled(const struct soft_job *job)
{
	return READ_ONCE(job->eng->cancel);
}

static struct soft_segs *soft_segs_of(struct soft_job *job,
				      struct wd_mem_cursor *cur)
{
	return cur == job->src ? &job->eng->src_segs : &job->eng->dst_segs;
}

/* Forget the batches of both cursors. */
static void soft_segs_reset(struct soft_job *job)
{
	job->eng->src_segs.nr = 0;
	job->eng->src_segs.i = 0;
	job->eng->dst_segs.nr = 0;
	job->eng->dst_segs.i = 0;
}

/* Where the engine reaches a segment: a DMA address lands in the RAM. */
static void *soft_seg_kaddr(struct soft_job *job, const struct wd_seg *seg)
{
	if (!job->dma_dev)
		return seg->kaddr;
	return phys_to_virt(dma_to_phys(job->dma_dev, seg->dma));
}

/*
 * The execution unit this engine runs on is shared with other queues
 * (engines=cpu): if one of them waits, set the command aside. Everything
 * its cursors hold is given up first, both here (the segment batches) and
 * in the framework (wd_mem_job_pause()), so nothing of this queue's
 * memory is pinned down while another queue runs, and a thread holds no
 * access of one job while it waits behind another job of the same
 * context. The callers take -EAGAIN (both cursors lost their pieces) and
 * map again from the cursors' positions. Returns true if the engine
 * yielded (or the queue stopped while it waited to come back).
 */
static bool soft_yield(struct soft_job *job)
{
	struct soft_engine *eng = job->eng;

	/*
	 * Not before a piece was done on the unit: mapping again after a
	 * yield can itself take longer than the slice, and a thread that
	 * yielded at every map would hand the unit round with no queue
	 * ever getting a piece done.
	 */
	if (!eng->moved || !eng->yield_due ||
	    !eng->yield_due(eng->yield_arg))
		return false;
	wd_mem_job_pause(&eng->job);
	soft_segs_reset(job);
	eng->yields++;
	if (!eng->yield(eng->yield_arg))
		WRITE_ONCE(eng->cancel, true);
	return true;
}

/*
 * Map the next piece of a cursor, at most @max bytes. -ECANCELED: the
 * queue is being released (or the device removed, or its process exited),
 * stop now. -EAGAIN means the segments of both cursors were lost (a device
 * fault let an invalidation through): the caller maps everything again
 * from the cursors' positions. Any other error is reported to the process
 * as a fault.
 */
static ssize_t soft_map_max(struct soft_job *job, struct wd_mem_cursor *cur,
			    void **kaddr, size_t max)
{
	struct soft_segs *ss = soft_segs_of(job, cur);
	const struct wd_seg *seg;
	unsigned int nr;
	ssize_t n;

	if (soft_cancelled(job))
		return -ECANCELED;
	if (soft_yield(job))
		return soft_cancelled(job) ? -ECANCELED : -EAGAIN;
	if (ss->i == ss->nr) {
		/*
		 * The batch is the piece: invalidations of its pages wait
		 * while the engine holds it, so never more than it works on.
		 */
		n = wd_mem_segs_limit(cur, ss->seg, SOFT_SEGS, &nr, max);
		if (n == -EAGAIN)
			soft_segs_reset(job);
		if (n == -EAGAIN || n == -ECANCELED)
			return n;
		if (n <= 0)
			return n ? -EFAULT : 0;
		ss->nr = nr;
		ss->i = 0;
		ss->off = 0;
	}
	seg = &ss->seg[ss->i];
	*kaddr = soft_seg_kaddr(job, seg) + ss->off;
	return min_t(size_t, seg->len - ss->off, max);
}

static ssize_t soft_map(struct soft_job *job, struct wd_mem_cursor *cur,
			void **kaddr)
{
	return soft_map_max(job, cur, kaddr, SOFT_PIECE);
}

/* zlib gets at most a page per call: it checks for cancel that often. */
static ssize_t soft_map_page(struct soft_job *job, struct wd_mem_cursor *cur,
			     void **kaddr)
{
	return soft_map_max(job, cur, kaddr, PAGE_SIZE);
}

/* @n bytes of the cursor's current piece were used. */
static void soft_advance(struct soft_job *job, struct wd_mem_cursor *cur,
			 size_t n)
{
	struct soft_segs *ss = soft_segs_of(job, cur);

	wd_mem_advance(cur, n);
	if (n)
		job->eng->moved = true;
	ss->off += n;
	while (ss->i < ss->nr && ss->off >= ss->seg[ss->i].len) {
		ss->off -= ss->seg[ss->i].len;
		ss->i++;
	}
}

/* Status for a failed soft_map(): the queue going away, or a fault. */
static u32 soft_fail(ssize_t err)
{
	return err == -ECANCELED ? WD_ST_CANCELLED : WD_ST_FAULT;
}

static void soft_consume(struct soft_job *job, size_t n)
{
	if (n) {
		soft_advance(job, job->src, n);
		job->in += n;
	}
}

static void soft_produce(struct soft_job *job, size_t n)
{
	if (n) {
		soft_advance(job, job->dst, n);
		job->out += n;
	}
}

/*
 * Read @len bytes of the source into @buf (or skip them if @buf is NULL),
 * adding them to the running CRC-32 *@crc if @crc is not NULL. Running out
 * of source here means a truncated stream.
 */
static u32 soft_read(struct soft_job *job, u8 *buf, size_t len, u32 *crc)
{
	while (len) {
		void *p;
		ssize_t n = soft_map(job, job->src, &p);

		if (n == -EAGAIN)
			continue;
		if (n < 0)
			return soft_fail(n);
		if (!n)
			return WD_ST_CORRUPT;
		n = min_t(size_t, n, len);
		if (buf) {
			memcpy(buf, p, n);
			buf += n;
		}
		if (crc)
			*crc = crc32_le(*crc, p, n);
		soft_consume(job, n);
		len -= n;
		cond_resched();
	}
	return WD_ST_OK;
}

/* Skip a zero-terminated string of the source, terminator included. */
static u32 soft_skip_string(struct soft_job *job, u32 *crc)
{
	for (;;) {
		void *p;
		const u8 *nul;
		ssize_t n = soft_map(job, job->src, &p);

		if (n == -EAGAIN)
			continue;
		if (n < 0)
			return soft_fail(n);
		if (!n)
			return WD_ST_CORRUPT;
		nul = memchr(p, 0, n);
		if (nul)
			n = nul - (const u8 *)p + 1;
		*crc = crc32_le(*crc, p, n);
		soft_consume(job, n);
		if (nul)
			return WD_ST_OK;
		cond_resched();
	}
}

/* Write @len bytes to the destination; running out of room is NOSPACE. */
static u32 soft_write(struct soft_job *job, const u8 *buf, size_t len)
{
	while (len) {
		void *p;
		ssize_t n = soft_map(job, job->dst, &p);

		if (n == -EAGAIN)
			continue;
		if (n < 0)
			return soft_fail(n);
		if (!n)
			return WD_ST_NOSPACE;
		n = min_t(size_t, n, len);
		memcpy(p, buf, n);
		soft_produce(job, n);
		buf += n;
		len -= n;
	}
	return WD_ST_OK;
}

static u32 soft_copy(struct soft_job *job)
{
	if (job->cmd->dst_len < job->cmd->src_len)
		return WD_ST_NOSPACE;

	for (;;) {
		void *s, *d;
		ssize_t ns, nd;
		size_t n;

		ns = soft_map(job, job->src, &s);
		if (ns == -EAGAIN)
			continue;
		if (ns <= 0)
			return ns ? soft_fail(ns) : WD_ST_OK;
		nd = soft_map(job, job->dst, &d);
		if (nd == -EAGAIN)
			continue;
		if (nd < 0)
			return soft_fail(nd);
		/* Cannot happen as dst_len >= src_len, but never loop on it. */
		if (!nd)
			return WD_ST_NOSPACE;
		n = min_t(size_t, ns, nd);
		memcpy(d, s, n);
		soft_consume(job, n);
		soft_produce(job, n);
		cond_resched();
	}
}

static u32 soft_fill(struct soft_job *job)
{
	for (;;) {
		void *d;
		ssize_t n = soft_map(job, job->dst, &d);

		if (n == -EAGAIN)
			continue;
		if (n <= 0)
			return n ? soft_fail(n) : WD_ST_OK;
		memset(d, job->cmd->param, n);
		soft_produce(job, n);
		cond_resched();
	}
}

/* CRC-32C chained through the seed: ~crc32c(~seed, data) */
static u32 soft_crc32c(struct soft_job *job, u32 *result)
{
	u32 crc = ~job->cmd->param;

	for (;;) {
		void *s;
		ssize_t n = soft_map(job, job->src, &s);

		if (n == -EAGAIN)
			continue;
		if (n < 0)
			return soft_fail(n);
		if (!n)
			break;
		crc = __crc32c_le(crc, s, n);
		soft_consume(job, n);
		cond_resched();
	}
	*result = ~crc;
	return WD_ST_OK;
}

/*
 * Give zlib the next piece of the source once it has used the last one;
 * *@src_end is set when there is no more. Return: 0 or a soft_map() error.
 */
static ssize_t soft_feed_input(struct soft_job *job, z_stream *zs,
			       bool *src_end)
{
	void *p;
	ssize_t n;

	if (zs->avail_in || *src_end)
		return 0;
	n = soft_map_page(job, job->src, &p);
	if (n < 0)
		return n;
	*src_end = !n;
	if (n) {
		zs->next_in = p;
		zs->avail_in = n;
	}
	return 0;
}

/*
 * Run deflate over the whole source, feeding zlib one piece of each buffer
 * at a time. *@crc, unless @crc is NULL (no gzip framing), accumulates the
 * gzip CRC-32 of the input consumed. The
 * stream ends with a final block, or with @sync with a sync flush: the
 * last block is not final and the output ends on a byte boundary.
 */
static u32 soft_deflate_stream(struct soft_engine *eng, struct soft_job *job,
			       z_stream *zs, u32 *crc, bool sync)
{
	int end_flush = sync ? Z_SYNC_FLUSH : Z_FINISH;
	bool src_end = false;
	bool spill = false;

	for (;;) {
		size_t avail_in, avail_out, used, made;
		void *p;
		ssize_t n;
		int ret;

		/* Each zlib call takes at most a page in and a page out. */
		if (soft_cancelled(job))
			return WD_ST_CANCELLED;
		n = soft_feed_input(job, zs, &src_end);
		if (n == -EAGAIN)
			goto remap;
		if (n < 0)
			return soft_fail(n);
		if (!zs->avail_out) {
			n = soft_map_page(job, job->dst, &p);
			if (n == -EAGAIN)
				goto remap;
			if (n < 0)
				return soft_fail(n);
			if (!n) {
				/*
				 * dst is full. Unless all input is in, more
				 * output must follow (at least the final
				 * block or the flush). If it is, the stream
				 * may have ended exactly at the end of dst,
				 * but zlib only says so when given room: let
				 * it write into a scratch buffer, and give up
				 * if it does. (A sync flush always does: zlib
				 * called again flushes again, so it needs a
				 * byte of room beyond its output; the uapi
				 * says so.)
				 */
				if (!src_end || spill)
					return WD_ST_NOSPACE;
				spill = true;
				p = eng->spill;
				n = sizeof(eng->spill);
			}
			zs->next_out = p;
			zs->avail_out = n;
		}

		avail_in = zs->avail_in;
		avail_out = zs->avail_out;
		ret = zlib_deflate(zs, src_end ? end_flush : Z_NO_FLUSH);
		used = avail_in - zs->avail_in;
		made = avail_out - zs->avail_out;

		if (used && crc)
			*crc = crc32_le(*crc, zs->next_in - used, used);
		soft_consume(job, used);
		if (spill && made)
			return WD_ST_NOSPACE;
		soft_produce(job, made);

		if (ret == Z_STREAM_END)
			return WD_ST_OK;
		/* A sync flush is complete once zlib leaves room unused. */
		if (sync && src_end && ret == Z_OK && !zs->avail_in &&
		    zs->avail_out)
			return WD_ST_OK;
		/*
		 * Every call has room for output and, before the end, some
		 * input, so zlib always makes progress; anything else is a
		 * bug here, not something the process can cause.
		 */
		if (WARN_ON_ONCE(ret != Z_OK))
			return WD_ST_INVALID;
		if (spill)
			return WD_ST_NOSPACE;
		cond_resched();
		continue;
remap:
		/* The cursors sit where zlib stopped: map both again there. */
		zs->avail_in = 0;
		if (!spill)
			zs->avail_out = 0;
	}
}

static u32 soft_deflate(struct soft_engine *eng, struct soft_job *job)
{
	const struct wd_cmd *cmd = job->cmd;
	int level = cmd->param ? cmd->param : SOFT_LEVEL_DEFAULT;
	bool gzip = cmd->format == WD_FMT_GZIP;
	u32 crc = ~0U;
	z_stream zs;
	u32 st;

	if (gzip) {
		u8 hdr[SOFT_GZ_HDR_LEN] = {
			SOFT_GZ_ID1, SOFT_GZ_ID2, SOFT_GZ_CM_DEFLATE,
			0,			/* FLG: no optional fields */
			0, 0, 0, 0,		/* MTIME: none */
			0,			/* XFL */
			SOFT_GZ_OS_UNIX,
		};

		if (level == SOFT_LEVEL_MAX)
			hdr[8] = SOFT_GZ_XFL_BEST;
		else if (level == 1)
			hdr[8] = SOFT_GZ_XFL_FAST;
		st = soft_write(job, hdr, sizeof(hdr));
		if (st)
			return st;
	}

	memset(&zs, 0, sizeof(zs));
	zs.workspace = eng->deflate_ws;
	/* The kernel's zlib has no gzip wrapper: gzip is raw plus our framing. */
	if (WARN_ON_ONCE(zlib_deflateInit2(&zs, level, Z_DEFLATED,
					   cmd->format == WD_FMT_ZLIB ?
					   MAX_WBITS : -MAX_WBITS,
					   SOFT_MEM_LEVEL,
					   Z_DEFAULT_STRATEGY) != Z_OK))
		return WD_ST_INVALID;
	st = soft_deflate_stream(eng, job, &zs, gzip ? &crc : NULL,
				 cmd->flags & WD_CMD_F_SYNC);
	zlib_deflateEnd(&zs);

	if (!st && gzip) {
		u8 trl[SOFT_GZ_TRL_LEN];

		put_unaligned_le32(~crc, trl);
		put_unaligned_le32((u32)job->in, trl + 4);	/* ISIZE: mod 2^32 */
		st = soft_write(job, trl, sizeof(trl));
	}
	return st;
}

/* Parse a gzip member header, leaving the source at the deflate data. */
static u32 soft_gz_header(struct soft_job *job)
{
	u8 hdr[SOFT_GZ_HDR_LEN];
	u32 crc = ~0U;
	u8 flg;
	u32 st;

	st = soft_read(job, hdr, sizeof(hdr), &crc);
	if (st)
		return st;
	if (hdr[0] != SOFT_GZ_ID1 || hdr[1] != SOFT_GZ_ID2 ||
	    hdr[2] != SOFT_GZ_CM_DEFLATE)
		return WD_ST_CORRUPT;
	/* hdr[] is private: flg cannot change under us between checks. */
	flg = hdr[3];
	if (flg & SOFT_GZ_FRESERVED)
		return WD_ST_CORRUPT;

	if (flg & SOFT_GZ_FEXTRA) {
		u8 xlen[2];

		st = soft_read(job, xlen, sizeof(xlen), &crc);
		if (!st)
			st = soft_read(job, NULL, get_unaligned_le16(xlen), &crc);
		if (st)
			return st;
	}
	if (flg & SOFT_GZ_FNAME) {
		st = soft_skip_string(job, &crc);
		if (st)
			return st;
	}
	if (flg & SOFT_GZ_FCOMMENT) {
		st = soft_skip_string(job, &crc);
		if (st)
			return st;
	}
	if (flg & SOFT_GZ_FHCRC) {
		u8 hcrc[2];

		/* The low half of the CRC-32 of the header bytes before it. */
		st = soft_read(job, hcrc, sizeof(hcrc), NULL);
		if (st)
			return st;
		if (get_unaligned_le16(hcrc) != (u16)~crc)
			return WD_ST_CORRUPT;
	}
	return WD_ST_OK;
}

/*
 * Inflate is stuck (no progress) with the destination full. Room is what
 * it lacks if input is left, or if, given room, it would write more; if
 * not, it lacks input: the stream is truncated.
 */
static u32 soft_inflate_full(struct soft_engine *eng, z_stream *zs)
{
	if (zs->avail_in)
		return WD_ST_NOSPACE;
	zs->next_out = eng->spill;
	zs->avail_out = sizeof(eng->spill);
	zlib_inflate(zs, Z_SYNC_FLUSH);
	return zs->avail_out < sizeof(eng->spill) ? WD_ST_NOSPACE :
						    WD_ST_CORRUPT;
}

/*
 * Run inflate until the end of the deflate stream, one piece of each buffer
 * at a time. *@crc accumulates the gzip CRC-32 of the output. With
 * @stream, running out of source or room is not an error: WD_ST_MORE, and
 * @zs is left ready to go on from there in a later command.
 */
static u32 soft_inflate_stream(struct soft_engine *eng, struct soft_job *job,
			       z_stream *zs, u32 *crc, bool stream)
{
	bool src_end = false;
	bool dst_end = false;

	/* Nothing of an earlier command's pieces may be used. */
	zs->avail_in = 0;
	zs->avail_out = 0;
	for (;;) {
		size_t avail_in, avail_out, used, made;
		void *p;
		ssize_t n;
		int ret;

		/* Each zlib call takes at most a page in and a page out. */
		if (soft_cancelled(job))
			return WD_ST_CANCELLED;
		n = soft_feed_input(job, zs, &src_end);
		if (n == -EAGAIN)
			goto remap;
		if (n < 0)
			return soft_fail(n);
		if (!zs->avail_out && !dst_end) {
			n = soft_map_page(job, job->dst, &p);
			if (n == -EAGAIN)
				goto remap;
			if (n < 0)
				return soft_fail(n);
			/*
			 * With dst full, still call zlib with no room: the
			 * rest of the stream may need no output (end of block,
			 * check value). zlib writes nothing through next_out
			 * then, but it must point somewhere valid.
			 */
			dst_end = !n;
			zs->next_out = n ? p : eng->spill;
			zs->avail_out = n;
		}

		avail_in = zs->avail_in;
		avail_out = zs->avail_out;
		/* Z_SYNC_FLUSH: Z_BUF_ERROR then means exactly "no progress". */
		ret = zlib_inflate(zs, Z_SYNC_FLUSH);
		used = avail_in - zs->avail_in;
		made = avail_out - zs->avail_out;

		soft_consume(job, used);
		if (made)
			*crc = crc32_le(*crc, zs->next_out - made, made);
		soft_produce(job, made);

		switch (ret) {
		case Z_STREAM_END:
			return WD_ST_OK;
		case Z_OK:
			cond_resched();
			continue;

		case Z_BUF_ERROR:
			/*
			 * Stuck: out of room, or out of input (a truncated
			 * stream), or both.
			 */
			if (stream)
				return WD_ST_MORE;
			return dst_end ? soft_inflate_full(eng, zs) :
					 WD_ST_CORRUPT;
		default:
			/* Z_DATA_ERROR, or Z_NEED_DICT: we have no dictionary */
			return WD_ST_CORRUPT;
		}
remap:
		/* The cursors sit where zlib stopped: map both again there. */
		zs->avail_in = 0;
		if (!dst_end)
			zs->avail_out = 0;
	}
}

/* Forget the INFLATE stream kept between commands, if any. */
static void soft_stream_drop(struct soft_engine *eng)
{
	if (eng->stream_open)
		zlib_inflateEnd(&eng->stream);
	eng->stream_open = false;
}

/* INFLATE with WD_CMD_F_STREAM: start or continue the queue's stream. */
static u32 soft_inflate_more(struct soft_engine *eng, struct soft_job *job)
{
	const struct wd_cmd *cmd = job->cmd;
	z_stream *zs = &eng->stream;
	u32 crc = 0;

	if (cmd->flags & WD_CMD_F_CONTINUE) {
		if (!eng->stream_open || eng->stream_format != cmd->format)
			return WD_ST_INVALID;
	} else {
		soft_stream_drop(eng);
		memset(zs, 0, sizeof(*zs));
		zs->workspace = eng->stream_ws;
		if (WARN_ON_ONCE(zlib_inflateInit2(zs, cmd->format ==
						   WD_FMT_ZLIB ? MAX_WBITS :
						   -MAX_WBITS) != Z_OK))
			return WD_ST_INVALID;
		eng->stream_open = true;
		eng->stream_format = cmd->format;
	}
	/* The caller drops the stream unless this returns WD_ST_MORE. */
	return soft_inflate_stream(eng, job, zs, &crc, true);
}

static u32 soft_inflate(struct soft_engine *eng, struct soft_job *job)
{
	const struct wd_cmd *cmd = job->cmd;
	bool gzip = cmd->format == WD_FMT_GZIP;
	u32 crc = ~0U;
	z_stream zs;
	u32 st;

	if (cmd->flags & WD_CMD_F_STREAM)
		return soft_inflate_more(eng, job);

	if (gzip) {
		st = soft_gz_header(job);
		if (st)
			return st;
	}

	memset(&zs, 0, sizeof(zs));
	zs.workspace = eng->inflate_ws;
	if (WARN_ON_ONCE(zlib_inflateInit2(&zs, cmd->format == WD_FMT_ZLIB ?
					   MAX_WBITS : -MAX_WBITS) != Z_OK))
		return WD_ST_INVALID;
	st = soft_inflate_stream(eng, job, &zs, &crc, false);
	zlib_inflateEnd(&zs);

	/*
	 * zlib hands back whole bytes it did not use, so the source cursor
	 * now sits right after the deflate data, where the trailer starts.
	 */
	if (!st && gzip) {
		u8 trl[SOFT_GZ_TRL_LEN];

		st = soft_read(job, trl, sizeof(trl), NULL);
		if (st)
			return st;
		if (get_unaligned_le32(trl) != ~crc ||
		    get_unaligned_le32(trl + 4) != (u32)job->out)
			return WD_ST_CORRUPT;
	}
	return st;
}

/* Field checks that need no memory access. */
static u32 soft_check(const struct soft_engine *eng, const struct wd_cmd *cmd)
{
	if (cmd->reserved)
		return WD_ST_INVALID;
	/*
	 * Flags: INFLATE streams (not in gzip framing) and raw DEFLATE's
	 * sync flush, nothing else.
	 */
	if (cmd->flags && cmd->opcode == WD_OP_DEFLATE) {
		if (cmd->flags != WD_CMD_F_SYNC || cmd->format != WD_FMT_RAW)
			return WD_ST_INVALID;
	} else if (cmd->flags &&
		   (cmd->opcode != WD_OP_INFLATE ||
		    cmd->format == WD_FMT_GZIP ||
		    cmd->flags & ~(WD_CMD_F_STREAM | WD_CMD_F_CONTINUE) ||
		    !(cmd->flags & WD_CMD_F_STREAM))) {
		return WD_ST_INVALID;
	}
	if (cmd->opcode > WD_OP_INFLATE)
		return WD_ST_INVALID;
	if (cmd->src_len > eng->max_len || cmd->dst_len > eng->max_len)
		return WD_ST_TOO_BIG;

	switch (cmd->opcode) {
	case WD_OP_NOP:
		if (cmd->src || cmd->src_len || cmd->dst || cmd->dst_len ||
		    cmd->param || cmd->format)
			return WD_ST_INVALID;
		break;
	case WD_OP_COPY:
		if (cmd->param || cmd->format)
			return WD_ST_INVALID;
		break;
	case WD_OP_FILL:
		if (cmd->src || cmd->src_len || cmd->format ||
		    cmd->param > U8_MAX)
			return WD_ST_INVALID;
		break;
	case WD_OP_CRC32C:
		if (cmd->dst || cmd->dst_len || cmd->format)
			return WD_ST_INVALID;
		break;
	case WD_OP_DEFLATE:
		if (cmd->param > SOFT_LEVEL_MAX || cmd->format > WD_FMT_GZIP)
			return WD_ST_INVALID;
		break;
	case WD_OP_INFLATE:
		if (cmd->param || cmd->format > WD_FMT_GZIP)
			return WD_ST_INVALID;
		break;
	}
	return WD_ST_OK;
}

/*
 * Only called once both cursors started, so neither range wraps and the
 * ends below cannot overflow.
 */
static bool soft_overlap(const struct wd_cmd *cmd)
{
	if (!cmd->src_len || !cmd->dst_len)
		return false;
	return cmd->src < cmd->dst + cmd->dst_len &&
	       cmd->dst < cmd->src + cmd->src_len;
}

static u32 soft_dispatch(struct soft_engine *eng, struct soft_job *job,
			 u64 *result)
{
	u32 crc = 0;
	u32 st;

	switch (job->cmd->opcode) {
	case WD_OP_COPY:
	case WD_OP_DEFLATE:
	case WD_OP_INFLATE:
		if (soft_overlap(job->cmd))
			return WD_ST_OVERLAP;
		break;
	}

	switch (job->cmd->opcode) {
	case WD_OP_COPY:
		st = soft_copy(job);
		break;
	case WD_OP_FILL:
		st = soft_fill(job);
		break;
	case WD_OP_CRC32C:
		st = soft_crc32c(job, &crc);
		*result = st ? 0 : crc;
		return st;
	case WD_OP_DEFLATE:
		st = soft_deflate(eng, job);
		/* Partial compressed output is of no use to anyone. */
		if (st == WD_ST_NOSPACE) {
			job->in = 0;
			job->out = 0;
		}
		break;
	case WD_OP_INFLATE:
		st = soft_inflate(eng, job);
		break;
	default:
		return WD_ST_INVALID;	/* not reached: soft_check() said no */
	}
	*result = job->out;
	return st;
}

int soft_engine_init(struct soft_engine *eng, u64 max_len)
{
	int dsize = zlib_deflate_workspacesize(MAX_WBITS, SOFT_MEM_LEVEL);

	memset(eng, 0, sizeof(*eng));
	eng->max_len = max_len;
	/* Large (hundreds of KiB for deflate): allow vmalloc fallback. */
	eng->deflate_ws = kvmalloc(dsize, GFP_KERNEL);
	eng->inflate_ws = kvmalloc(zlib_inflate_workspacesize(), GFP_KERNEL);
	eng->stream_ws = kvmalloc(zlib_inflate_workspacesize(), GFP_KERNEL);
	if (!eng->deflate_ws || !eng->inflate_ws || !eng->stream_ws) {
		soft_engine_fini(eng);
		return -ENOMEM;
	}
	return 0;
}

void soft_engine_fini(struct soft_engine *eng)
{
	soft_stream_drop(eng);
	kvfree(eng->deflate_ws);
	kvfree(eng->inflate_ws);
	kvfree(eng->stream_ws);
	eng->deflate_ws = NULL;
	eng->inflate_ws = NULL;
	eng->stream_ws = NULL;
}

void soft_engine_reset(struct soft_engine *eng)
{
	soft_stream_drop(eng);
	WRITE_ONCE(eng->cancel, false);
}

void soft_engine_batch_begin(struct soft_engine *eng, struct wd_queue *q)
{
	wd_mem_job_init(&eng->job, q);
}

void soft_engine_batch_end(struct soft_engine *eng)
{
	wd_mem_job_end(&eng->job);
}

void soft_engine_run(struct soft_engine *eng, struct wd_queue *q,
		     const struct wd_cmd *cmd, struct wd_cqe *cqe)
{
	struct soft_job job = {
		.eng = eng, .cmd = cmd, .src = &eng->src, .dst = &eng->dst,
		.dma_dev = q->wdev->dma_dev,
	};
	bool use_src, use_dst;
	u64 result = 0;
	u32 st;

	st = soft_check(eng, cmd);
	if (st || cmd->opcode == WD_OP_NOP)
		goto out;

	use_src = cmd->opcode != WD_OP_FILL;
	use_dst = cmd->opcode != WD_OP_CRC32C;

	/*
	 * Start every cursor the opcode uses, even after one failed, so the
	 * finish calls below pair with them one to one. Any error (range
	 * wraps or leaves user space, process has no mm) is a fault.
	 */
	soft_segs_reset(&job);
	if (use_src && wd_mem_start(job.src, &eng->job, cmd->src,
				    cmd->src_len, false))
		st = WD_ST_FAULT;
	if (use_dst && wd_mem_start(job.dst, &eng->job, cmd->dst,
				    cmd->dst_len, true))
		st = WD_ST_FAULT;
	if (!st)
		st = soft_dispatch(eng, &job, &result);
	if (use_dst)
		wd_mem_finish(job.dst);
	if (use_src)
		wd_mem_finish(job.src);
	wd_mem_job_next(&eng->job);

out:
	/* A stream lives on only through WD_ST_MORE. */
	if ((cmd->flags & WD_CMD_F_STREAM) && st != WD_ST_MORE)
		soft_stream_drop(eng);
	cqe->status = st;
	cqe->result = result;
	cqe->consumed = job.in;
}
