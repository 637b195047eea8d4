// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libwd: queue sets, and compression of one large buffer on all of them.
 *
 * wd_qset_compress() cuts the input into pieces and has the set's threads
 * (the caller and one per other queue) take them in order, each DEFLATE
 * its piece into a buffer of its own with WD_CMD_F_SYNC (raw, no history,
 * not final), then the piece's checksum on the CPU.
 * A piece is placed in the output once every piece before it is: its
 * offset is known then. The framing goes around: header, pieces, a final
 * empty block, trailer with the checksums combined.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "libwd_internal.h"

/* What a stream may add around the pieces: header, final block, trailer. */
#define QS_FRAME_MAX		32
/* A final fixed-Huffman block holding only its end code. */
static const unsigned char qs_final_block[2] = { 0x03, 0x00 };

struct wd_qset {
	unsigned int nr;
	struct wd_dev *dev[WD_QSET_MAX];
	struct wd_queue *q[WD_QSET_MAX];
	unsigned char *scratch[WD_QSET_MAX];	/* a piece's output, per queue */
	size_t piece;				/* input bytes per piece */
	uint32_t algorithms;
	/* One helper call at a time; it owns everything below. */
	pthread_mutex_t busy;
};

/* One wd_qset_compress() call, shared by its threads. */
struct qs_job {
	struct wd_qset *set;
	int format;
	int level;
	const unsigned char *src;
	size_t src_len;
	unsigned char *dst;
	size_t end;		/* the pieces must end before dst + end */
	size_t pieces;
	/* @lock protects the fields below and the order pieces are placed in */
	pthread_mutex_t lock;
	pthread_cond_t placed_cond;	/* @placed moved, or @err was set */
	size_t next;		/* the next piece to take */
	size_t placed;		/* pieces placed so far, in order */
	size_t pos;		/* where the next piece goes in dst */
	uLong check;		/* CRC-32 or Adler-32 of the pieces placed */
	int err;
};

struct qs_worker {
	struct qs_job *job;
	unsigned int idx;	/* its queue and scratch buffer */
	pthread_t thr;
};

static size_t qs_piece_bound(size_t n)
{
	return n + (n >> 3) + (n >> 6) + 16;
}

size_t wd_qset_compress_bound(size_t src_len)
{
	size_t pieces = src_len / WD_QSET_PIECE + 1;

	return qs_piece_bound(src_len) + 16 * pieces + QS_FRAME_MAX;
}

int wd_qset_open(const char *name, unsigned int nr, struct wd_qset **out)
{
	struct wd_queue_opts more = { .nonblock = 1 };
	struct wd_qset *set;
	struct wd_info info;
	long cpus;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (nr > WD_QSET_MAX)
		return -EINVAL;
	if (!nr) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		nr = cpus < 1 ? 1 : cpus > WD_QSET_MAX ? WD_QSET_MAX : cpus;
	}
	set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	pthread_mutex_init(&set->busy, NULL);

	ret = wd_open(name, &set->dev[0]);
	if (ret)
		goto err;
	ret = wd_queue_get(set->dev[0], NULL, &set->q[0]);
	if (ret)
		goto err;
	ret = wd_get_info(set->dev[0], &info);
	if (ret)
		goto err;
	set->nr = 1;
	set->algorithms = info.algorithms;
	set->piece = WD_QSET_PIECE;
	if (info.max_cmd_len && info.max_cmd_len / 2 < set->piece)
		set->piece = info.max_cmd_len / 2;
	if (!set->piece)
		set->piece = 1;

	/* The others only while the device has queues free. */
	while (set->nr < nr) {
		unsigned int i = set->nr;

		if (wd_open(wd_dev_name(set->dev[0]), &set->dev[i]))
			break;
		if (wd_queue_get(set->dev[i], &more, &set->q[i])) {
			wd_close(set->dev[i]);
			set->dev[i] = NULL;
			break;
		}
		set->nr++;
	}
	*out = set;
	return 0;

err:
	wd_qset_close(set);
	return ret;
}

void wd_qset_close(struct wd_qset *set)
{
	unsigned int i;

	if (!set)
		return;
	for (i = 0; i < WD_QSET_MAX; i++) {
		if (set->dev[i])
			wd_close(set->dev[i]);
		free(set->scratch[i]);
	}
	pthread_mutex_destroy(&set->busy);
	free(set);
}

unsigned int wd_qset_size(const struct wd_qset *set)
{
	return set ? set->nr : 0;
}

struct wd_queue *wd_qset_queue(struct wd_qset *set, unsigned int i)
{
	return set && i < set->nr ? set->q[i] : NULL;
}

/* Fail the job: no piece is taken or placed after this. */
static void qs_fail(struct qs_job *job, int err)
{
	pthread_mutex_lock(&job->lock);
	if (!job->err)
		job->err = err;
	pthread_cond_broadcast(&job->placed_cond);
	pthread_mutex_unlock(&job->lock);
}

static uLong qs_check(int format, uLong check, const unsigned char *p,
		      size_t n)
{
	/* zlib's checksums take uInt lengths: feed them in steps. */
	while (n) {
		uInt step = n > (1U << 30) ? 1U << 30 : (uInt)n;

		check = format == WD_FMT_ZLIB ? adler32(check, p, step) :
						crc32(check, p, step);
		p += step;
		n -= step;
	}
	return check;
}

/* Compress piece @k on the worker's queue; place it when its turn comes. */
static int qs_piece(struct qs_worker *w, size_t k)
{
	struct qs_job *job = w->job;
	struct wd_qset *set = job->set;
	const unsigned char *in = job->src + k * set->piece;
	size_t n = job->src_len - k * set->piece, at;
	unsigned char *out = set->scratch[w->idx];
	uLong check = 0;
	struct wd_cqe cqe;
	struct wd_cmd cmd;
	int ret;

	if (n > set->piece)
		n = set->piece;
	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = WD_OP_DEFLATE;
	cmd.flags = WD_CMD_F_SYNC;
	cmd.format = WD_FMT_RAW;
	cmd.param = job->level;
	cmd.src = (uint64_t)(uintptr_t)in;
	cmd.src_len = n;
	cmd.dst = (uint64_t)(uintptr_t)out;
	cmd.dst_len = qs_piece_bound(set->piece);
	ret = wd_cmd_start(set->q[w->idx], &cmd);
	if (!ret)
		ret = wd_cmd_finish(set->q[w->idx], &cmd, &cqe);
	if (ret)
		return ret;
	if (cqe.result > cmd.dst_len || cqe.consumed != n)
		return -EPROTO;
	/*
	 * The checksum on the CPU only once the device has read the piece:
	 * a source the process cannot read is -EFAULT, not a crash here.
	 */
	if (job->format != WD_FMT_RAW)
		check = qs_check(job->format, job->format == WD_FMT_ZLIB ?
				 adler32(0, NULL, 0) : crc32(0, NULL, 0),
				 in, n);

	pthread_mutex_lock(&job->lock);
	while (!job->err && job->placed != k)
		pthread_cond_wait(&job->placed_cond, &job->lock);
	ret = job->err;
	if (!ret && job->end - job->pos < cqe.result)
		ret = -ENOSPC;
	if (ret) {
		pthread_mutex_unlock(&job->lock);
		return ret;
	}
	at = job->pos;
	job->pos += cqe.result;
	if (job->format == WD_FMT_ZLIB)
		job->check = adler32_combine(job->check, check, n);
	else if (job->format == WD_FMT_GZIP)
		job->check = crc32_combine(job->check, check, n);
	pthread_mutex_unlock(&job->lock);

	/* Its room is reserved: copy outside the lock, then let k + 1 in. */
	memcpy(job->dst + at, out, cqe.result);
	pthread_mutex_lock(&job->lock);
	job->placed++;
	pthread_cond_broadcast(&job->placed_cond);
	pthread_mutex_unlock(&job->lock);
	return 0;
}

static void *qs_worker_run(void *arg)
{
	struct qs_worker *w = arg;
	struct qs_job *job = w->job;

	for (;;) {
		size_t k;
		int ret;

		pthread_mutex_lock(&job->lock);
		if (job->err || job->next == job->pieces) {
			pthread_mutex_unlock(&job->lock);
			break;
		}
		k = job->next++;
		pthread_mutex_unlock(&job->lock);
		ret = qs_piece(w, k);
		if (ret) {
			qs_fail(job, ret);
			break;
		}
	}
	return NULL;
}

/* The stream's header for @format at @level; returns its length. */
static size_t qs_header(int format, int level, unsigned char *h)
{
	unsigned int flevel;

	switch (format) {
	case WD_FMT_ZLIB:
		/* 32 KiB window, deflate; FLEVEL as zlib sets it. */
		flevel = level == 1 ? 0 : level < 6 ? 1 : level == 6 ? 2 : 3;
		h[0] = 0x78;
		h[1] = flevel << 6;
		h[1] += (31 - (h[0] * 256 + h[1]) % 31) % 31;
		return 2;
	case WD_FMT_GZIP:
		memset(h, 0, 10);
		h[0] = 0x1f;
		h[1] = 0x8b;
		h[2] = 8;			/* deflate */
		h[8] = level == 9 ? 2 : level == 1 ? 4 : 0;
		h[9] = 3;			/* Unix */
		return 10;
	}
	return 0;
}

/* The final block and the trailer at dst + pos; returns their length. */
static size_t qs_trailer(const struct qs_job *job, unsigned char *t)
{
	uint32_t c = (uint32_t)job->check, isize = (uint32_t)job->src_len;
	size_t n = sizeof(qs_final_block);
	int i;

	memcpy(t, qs_final_block, n);
	if (job->format == WD_FMT_ZLIB) {
		for (i = 0; i < 4; i++)
			t[n++] = c >> (24 - 8 * i);
	} else if (job->format == WD_FMT_GZIP) {
		for (i = 0; i < 4; i++)
			t[n++] = c >> (8 * i);
		for (i = 0; i < 4; i++)
			t[n++] = isize >> (8 * i);
	}
	return n;
}

static int qs_scratch(struct wd_qset *set, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		if (set->scratch[i])
			continue;
		set->scratch[i] = malloc(qs_piece_bound(set->piece));
		if (!set->scratch[i])
			return -ENOMEM;
	}
	return 0;
}

static int qs_compress_pieces(struct qs_job *job, size_t *dst_len,
			      size_t dst_cap)
{
	struct wd_qset *set = job->set;
	struct qs_worker w[WD_QSET_MAX];
	unsigned char frame[QS_FRAME_MAX];
	unsigned int nr, started, i;
	sigset_t all, old;
	size_t n;
	int ret;

	nr = job->pieces < set->nr ? (unsigned int)job->pieces : set->nr;
	ret = qs_scratch(set, nr);
	if (ret)
		return ret;
	/* Header, and room kept for the final block and the trailer. */
	n = qs_header(job->format, job->level, frame);
	if (dst_cap < n + QS_FRAME_MAX)
		return -ENOSPC;
	memcpy(job->dst, frame, n);
	job->pos = n;
	job->end = dst_cap - (sizeof(qs_final_block) + 8);
	job->check = job->format == WD_FMT_ZLIB ? adler32(0, NULL, 0) :
						 crc32(0, NULL, 0);

	/* The other threads take no signal: the caller's thread does. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (started = 1; started < nr; started++) {
		w[started].job = job;
		w[started].idx = started;
		if (pthread_create(&w[started].thr, NULL, qs_worker_run,
				   &w[started]))
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	w[0].job = job;
	w[0].idx = 0;
	qs_worker_run(&w[0]);
	for (i = 1; i < started; i++)
		pthread_join(w[i].thr, NULL);
	if (job->err)
		return job->err;
	n = qs_trailer(job, frame);
	memcpy(job->dst + job->pos, frame, n);
	*dst_len = job->pos + n;
	return 0;
}

int wd_qset_compress(struct wd_qset *set, int format, int level,
		     const void *src, size_t src_len, void *dst,
		     size_t dst_cap, size_t *dst_len)
{
	struct qs_job job;
	int ret;

	if (!set || !dst_len || format < WD_FMT_RAW || format > WD_FMT_GZIP ||
	    level < 0 || level > 9)
		return -EINVAL;
	if (!(set->algorithms & WD_ALG_DEFLATE))
		return -EOPNOTSUPP;
	if (!level)
		level = 6;
	pthread_mutex_lock(&set->busy);
	if (src_len <= set->piece) {
		ret = wd_compress(set->q[0], format, level, src, src_len, dst,
				  dst_cap, dst_len);
		goto out;
	}
	memset(&job, 0, sizeof(job));
	job.set = set;
	job.format = format;
	job.level = level;
	job.src = src;
	job.src_len = src_len;
	job.dst = dst;
	job.pieces = (src_len + set->piece - 1) / set->piece;
	pthread_mutex_init(&job.lock, NULL);
	pthread_cond_init(&job.placed_cond, NULL);
	ret = qs_compress_pieces(&job, dst_len, dst_cap);
	pthread_cond_destroy(&job.placed_cond);
	pthread_mutex_destroy(&job.lock);
out:
	pthread_mutex_unlock(&set->busy);
	return ret;
}
