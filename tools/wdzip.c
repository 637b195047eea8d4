// SPDX-License-Identifier: GPL-2.0
/*
 * wdzip: gzip-compatible compression through a WarpDrive accelerator.
 *
 *   wdzip [-cdfhklLnNqrtvV] [-1..-9] [-S SUF] [-b SIZE] [-D DEVICE] [FILE...]
 *
 * The options, messages and exit status follow GNU gzip (0 success, 1
 * error, 2 warning). Compression cuts the input into blocks (1 MiB by
 * default) and has the device DEFLATE each block into a gzip member (the
 * CRC-32 computed by the device as it compresses); wdzip writes each
 * member's deflate data and trailer under its own header (the first one
 * carrying the file's name and time unless -n), so the output is a
 * multi-member gzip file that gunzip accepts. Decompression walks the members of any gzip file (one
 * big member from gzip included, whatever it expands to) with bounded
 * memory: it reads the file and writes the output in chunks, the device
 * inflates each member's deflate data as a stream continued from command
 * to command (WD_CMD_F_STREAM), and wdzip parses the gzip framing and
 * checks the CRC-32 and length itself.
 *
 * A file's output is written to an unnamed temporary file (O_TMPFILE) in
 * the output's directory and linked into place only once everything
 * worked, so nothing is left behind whatever ends the process, SIGKILL
 * included. Where the filesystem has no O_TMPFILE, a named temporary file
 * is used instead and removed on error and on catchable signals.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "libwd.h"

#ifndef WD_VERSION
#define WD_VERSION	"0.1.0"
#endif

#define DEFAULT_BLOCK	(1UL << 20)
#define MAX_BLOCK	(512UL << 20)	/* at most half the device's max_cmd_len */
#define IN_CHUNK	(1UL << 20)	/* decompression: input read at a time */
#define OUT_CHUNK	(1UL << 20)	/* decompression: output per command */
#define MAX_SUFFIX	30		/* as gzip */
#define MAX_PROCS	256		/* -p: compression threads at most */

/* gzip's exit status. */
enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_WARNING = 2 };

static struct {
	int decompress;
	int to_stdout;
	int keep;
	int force;
	int level;
	int test;
	int list;
	int verbose;
	int quiet;
	int name;		/* -N: 1, -n: 0, neither: -1 */
	int recursive;
	const char *suffix;
	size_t block;
	const char *device;
	int procs;		/* -p: compression threads (queues) */
} opt = {
	.level = 6,
	.name = -1,
	.suffix = ".gz",
	.block = DEFAULT_BLOCK,
};

static int exit_code = EXIT_OK;

static struct wd_dev *dev;
static struct wd_queue *queue;
/* The most one command may name on the device (struct wd_info). */
static uint64_t cmd_max_len;

/* A named temporary output file, removed if a signal ends us. */
static char tmp_path[PATH_MAX];
static volatile sig_atomic_t tmp_live;

static void on_signal(int sig)
{
	if (tmp_live)
		unlink(tmp_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * "wdzip: " and the message. EXIT_ERROR always prints and sets the exit
 * status to 1; EXIT_WARNING prints unless -q and sets it to 2 unless an
 * error did; EXIT_OK prints unless -q and leaves the status alone.
 */
static void __attribute__((format(printf, 2, 3)))
say(int level, const char *fmt, ...)
{
	va_list ap;

	if (level == EXIT_ERROR)
		exit_code = EXIT_ERROR;
	else if (level == EXIT_WARNING && exit_code == EXIT_OK)
		exit_code = EXIT_WARNING;
	if (level != EXIT_ERROR && opt.quiet)
		return;
	fprintf(stderr, "wdzip: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Read up to @len bytes, fewer only at end of file. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

static int write_full(int fd, const void *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf = (const char *)buf + n;
		len -= n;
	}
	return 0;
}

/* Room for the deflate data of @len bytes, with margin: grown on -ENOSPC. */
static size_t deflate_bound(size_t len)
{
	return len + len / 8 + 4096;
}

/*
 * The device said NOSPACE: double the output buffer, up to the most one
 * command may name. Returns the new buffer (the old one is freed) or NULL.
 */
static unsigned char *grow_output(unsigned char *buf, size_t *cap)
{
	*cap = *cap * 2 < cmd_max_len ? *cap * 2 : cmd_max_len;
	free(buf);
	return malloc(*cap);
}

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static uint32_t get_le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* What a compression or decompression saw, for -v and -l. */
struct counts {
	uint64_t in;		/* bytes read */
	uint64_t out;		/* bytes written (uncompressed, decompressing) */
	uint64_t deflate;	/* bytes of deflate data, framing left out */
	uint32_t crc;		/* CRC-32 of the uncompressed data */
	uint32_t mtime;		/* the first member's MTIME */
	int has_name;		/* the first member had FNAME */
	char name[NAME_MAX + 1];	/* its last path component */
	int garbage;		/* trailing garbage after the last member */
};

/* gzip's ratio: the part of @len saved by deflate data of @deflate bytes. */
static double ratio(uint64_t len, uint64_t deflate)
{
	return len ? 100.0 * ((double)len - (double)deflate) / (double)len : 0;
}

/* The device's gzip member: its header and trailer around the data. */
#define GZ_HEAD		10
#define GZ_TAIL		8

/*
 * DEFLATE @n bytes of @ibuf on @q into *@obuf (grown as needed), framed as
 * a gzip member by the device: the engine computes the CRC-32 in the same
 * pass as the compression, so the CPU does not read the block again. The
 * deflate data is at *@obuf + GZ_HEAD, *@olen bytes; *@crc is the member's
 * CRC-32. wdzip writes its own header (name, time) around the data.
 */
static int deflate_block(struct wd_queue *q, const unsigned char *ibuf,
			 size_t n, unsigned char **obuf, size_t *cap,
			 size_t *olen, uint32_t *crc)
{
	const unsigned char *p;
	size_t len;
	int err;

	for (;;) {
		err = wd_compress(q, WD_FMT_GZIP, opt.level, ibuf, n, *obuf,
				  *cap, &len);
		if (err != -ENOSPC || *cap >= cmd_max_len)
			break;
		*obuf = grow_output(*obuf, cap);
		if (!*obuf)
			return -ENOMEM;
	}
	if (err)
		return err;
	/* A plain member (no optional fields) of exactly this input. */
	p = *obuf;
	if (len < GZ_HEAD + GZ_TAIL || p[0] != 0x1f || p[1] != 0x8b ||
	    p[2] != 8 || p[3] || get_le32(p + len - 4) != (uint32_t)n)
		return -EPROTO;
	*olen = len - GZ_HEAD - GZ_TAIL;
	*crc = get_le32(p + len - GZ_TAIL);
	return 0;
}

/*
 * One member on @out: a header (the first member carrying @name and
 * @mtime when given), @olen bytes of deflate data, the CRC-32 and length.
 */
static int write_member(int out, const char *out_name, const char *name,
			uint32_t mtime, int first, const unsigned char *obuf,
			size_t olen, uint32_t crc, size_t n, struct counts *cnt)
{
	unsigned char head[10], tail[8];
	int err;

	head[0] = 0x1f;
	head[1] = 0x8b;
	head[2] = 8;			/* deflate */
	head[3] = first && name ? 8 : 0;	/* FNAME */
	put_le32(head + 4, first ? mtime : 0);
	head[8] = opt.level == 9 ? 2 : opt.level == 1 ? 4 : 0;
	head[9] = 3;			/* Unix */
	put_le32(tail, crc);
	put_le32(tail + 4, (uint32_t)n);
	err = write_full(out, head, sizeof(head));
	if (!err && head[3])
		err = write_full(out, name, strlen(name) + 1);
	if (!err)
		err = write_full(out, obuf, olen);
	if (!err)
		err = write_full(out, tail, sizeof(tail));
	if (err) {
		say(EXIT_ERROR, "%s: %s", out_name, strerror(-err));
		return -1;
	}
	cnt->in += n;
	cnt->deflate += olen;
	cnt->out += sizeof(head) + (head[3] ? strlen(name) + 1 : 0) + olen +
		    sizeof(tail);
	return 0;
}

/*
 * Compression on several queues (-p): worker threads, each with a device
 * handle and a queue of its own, DEFLATE blocks while the main thread
 * reads the blocks ahead and writes the members in input order. A block
 * is compressed the same way whichever queue takes it, so the output does
 * not depend on the number of threads.
 */
struct slot {
	unsigned char *ibuf;
	unsigned char *obuf;
	size_t cap;
	size_t n;		/* input bytes */
	size_t olen;		/* deflate bytes */
	uint32_t crc;
	int err;
	int state;		/* SLOT_FREE, SLOT_READY, SLOT_DONE */
};

enum { SLOT_FREE, SLOT_READY, SLOT_DONE };

static struct {
	int started;		/* the pool was tried (once per run) */
	int nr;			/* worker threads running */
	struct wd_dev *dev[MAX_PROCS];
	struct wd_queue *q[MAX_PROCS];
	pthread_t thr[MAX_PROCS];
	struct slot *slot;	/* nslots of them */
	unsigned int nslots;
	uint64_t next_job;	/* the next READY slot a worker takes */
	uint64_t posted;	/* slots made READY so far */
	int quit;
	pthread_mutex_t lock;
	pthread_cond_t work;	/* a slot became READY, or quit */
	pthread_cond_t done;	/* a slot became DONE */
} pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
};

static void *pool_worker(void *arg)
{
	struct wd_queue *q = arg;

	pthread_mutex_lock(&pool.lock);
	for (;;) {
		struct slot *sl;

		while (!pool.quit && pool.next_job == pool.posted)
			pthread_cond_wait(&pool.work, &pool.lock);
		if (pool.quit)
			break;
		sl = &pool.slot[pool.next_job++ % pool.nslots];
		pthread_mutex_unlock(&pool.lock);
		sl->err = deflate_block(q, sl->ibuf, sl->n, &sl->obuf, &sl->cap,
					&sl->olen, &sl->crc);
		pthread_mutex_lock(&pool.lock);
		sl->state = SLOT_DONE;
		pthread_cond_broadcast(&pool.done);
	}
	pthread_mutex_unlock(&pool.lock);
	return NULL;
}

/*
 * Start the workers the first time a file has more than one block: the
 * first on the queue the program already holds, the others on queues of
 * their own, as many as the device has free now (never waiting for one).
 * Returns the number of workers; fewer than 2 means compress serially.
 */
static int pool_start(void)
{
	struct wd_queue_opts qo = { .nonblock = 1 };
	sigset_t all, old;
	int i, n = 1;

	if (pool.started)
		return pool.nr;
	pool.started = 1;
	pool.q[0] = queue;
	for (i = 1; i < opt.procs; i++) {
		if (wd_open(wd_dev_name(dev), &pool.dev[n]))
			break;
		if (wd_queue_get(pool.dev[n], &qo, &pool.q[n])) {
			wd_close(pool.dev[n]);
			pool.dev[n] = NULL;
			break;
		}
		n++;
	}
	if (opt.verbose > 1)
		fprintf(stderr, "wdzip: %d queue%s\n", n, n > 1 ? "s" : "");
	if (n < 2)
		goto serial;
	/* One slot per worker, one being read and one being written. */
	pool.nslots = n + 2;
	pool.slot = calloc(pool.nslots, sizeof(*pool.slot));
	if (!pool.slot)
		goto serial;
	for (i = 0; i < (int)pool.nslots; i++) {
		pool.slot[i].cap = deflate_bound(opt.block);
		pool.slot[i].ibuf = malloc(opt.block);
		pool.slot[i].obuf = malloc(pool.slot[i].cap);
		if (!pool.slot[i].ibuf || !pool.slot[i].obuf)
			goto serial;
	}
	/* Signals go to the main thread, which cleans up the output. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < n; i++) {
		if (pthread_create(&pool.thr[i], NULL, pool_worker, pool.q[i]))
			break;
		pool.nr++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return pool.nr;

serial:
	/* Keep just the program's own queue. */
	for (i = 1; i < n; i++) {
		wd_close(pool.dev[i]);
		pool.dev[i] = NULL;
	}
	return 1;
}

static void pool_stop(void)
{
	int i;

	pthread_mutex_lock(&pool.lock);
	pool.quit = 1;
	pthread_cond_broadcast(&pool.work);
	pthread_mutex_unlock(&pool.lock);
	for (i = 0; i < pool.nr; i++)
		pthread_join(pool.thr[i], NULL);
	for (i = 1; i < MAX_PROCS; i++)
		if (pool.dev[i])
			wd_close(pool.dev[i]);
	for (i = 0; pool.slot && i < (int)pool.nslots; i++) {
		free(pool.slot[i].ibuf);
		free(pool.slot[i].obuf);
	}
	free(pool.slot);
	pool.nr = 0;
}

/*
 * compress_fd() on the pool: @first holds the first block (@n bytes, a
 * full one), already read. Blocks are read into free slots ahead of the
 * members being written, in order, as their slots are done.
 */
static int compress_pool(int in, int out, const char *in_name,
			 const char *out_name, const char *name,
			 uint32_t mtime, struct counts *cnt,
			 const unsigned char *first, size_t n)
{
	uint64_t head = 0;	/* the next slot to write */
	int eof = 0, ret = -1, err = 0;

	pthread_mutex_lock(&pool.lock);
	pool.next_job = 0;
	pool.posted = 0;
	pthread_mutex_unlock(&pool.lock);
	for (;;) {
		struct slot *sl;

		/* Read ahead into every free slot. */
		while (!eof && !err && pool.posted - head < pool.nslots) {
			ssize_t r;

			sl = &pool.slot[pool.posted % pool.nslots];
			if (first) {
				memcpy(sl->ibuf, first, n);
				r = n;
				first = NULL;
			} else {
				r = read_full(in, sl->ibuf, opt.block);
			}
			if (r < 0) {
				say(EXIT_ERROR, "%s: %s", in_name, strerror(-r));
				err = 1;
				break;
			}
			if (r == 0) {
				eof = 1;
				break;
			}
			sl->n = r;
			pthread_mutex_lock(&pool.lock);
			sl->state = SLOT_READY;
			pool.posted++;
			pthread_cond_signal(&pool.work);
			pthread_mutex_unlock(&pool.lock);
			if ((size_t)r < opt.block)
				eof = 1;
		}
		if (head == pool.posted)
			break;
		sl = &pool.slot[head % pool.nslots];
		pthread_mutex_lock(&pool.lock);
		while (sl->state != SLOT_DONE)
			pthread_cond_wait(&pool.done, &pool.lock);
		sl->state = SLOT_FREE;
		pthread_mutex_unlock(&pool.lock);
		head++;
		if (err)
			continue;	/* drain what the workers took */
		if (sl->err) {
			say(EXIT_ERROR, "%s: compression failed: %s", in_name,
			    sl->err == -ENOMEM ? "out of memory" :
			    wd_strerror(sl->err));
			err = 1;
			continue;
		}
		if (write_member(out, out_name, name, mtime, head == 1,
				 sl->obuf + GZ_HEAD, sl->olen, sl->crc, sl->n,
				 cnt))
			err = 1;
	}
	if (!err)
		ret = 0;
	return ret;
}

/*
 * Each block of @in becomes one gzip member on @out (write_member()); a
 * file of more than one block is compressed on several queues (-p).
 */
static int compress_fd(int in, int out, const char *in_name,
		       const char *out_name, const char *name, uint32_t mtime,
		       struct counts *cnt)
{
	size_t cap = deflate_bound(opt.block), olen = 0;
	uint32_t crc = 0;
	unsigned char *ibuf, *obuf;
	int members = 0, ret = -1, err;
	ssize_t n;

	ibuf = malloc(opt.block);
	obuf = malloc(cap);
	if (!ibuf || !obuf) {
		say(EXIT_ERROR, "%s: out of memory", in_name);
		goto out;
	}
	for (;;) {
		n = read_full(in, ibuf, opt.block);
		if (n < 0) {
			say(EXIT_ERROR, "%s: %s", in_name, strerror(-n));
			goto out;
		}
		if (n == 0 && members)
			break;		/* an empty input still gets a member */
		if (!members && (size_t)n == opt.block && opt.procs > 1 &&
		    pool_start() > 1) {
			ret = compress_pool(in, out, in_name, out_name, name,
					    mtime, cnt, ibuf, n);
			goto out;
		}
		err = deflate_block(queue, ibuf, n, &obuf, &cap, &olen, &crc);
		if (err) {
			say(EXIT_ERROR, "%s: compression failed: %s", in_name,
			    err == -ENOMEM ? "out of memory" : wd_strerror(err));
			goto out;
		}
		if (write_member(out, out_name, name, mtime, !members,
				 obuf + GZ_HEAD, olen, crc, n, cnt))
			goto out;
		members++;
		if ((size_t)n < opt.block)
			break;
	}
	ret = 0;
out:
	free(ibuf);
	free(obuf);
	return ret;
}

/* Input of a decompression, read IN_CHUNK at a time. */
struct input {
	int fd;
	const char *name;
	unsigned char *buf;
	size_t off;		/* first byte not consumed */
	size_t len;		/* bytes in buf */
	uint64_t taken;		/* bytes consumed in all */
	int eof;
};

static size_t in_avail(const struct input *in)
{
	return in->len - in->off;
}

/* Move what is left to the front and read until full or end of file. */
static int in_fill(struct input *in)
{
	ssize_t n;

	memmove(in->buf, in->buf + in->off, in_avail(in));
	in->len -= in->off;
	in->off = 0;
	if (in->eof)
		return 0;
	n = read_full(in->fd, in->buf + in->len, IN_CHUNK - in->len);
	if (n < 0) {
		say(EXIT_ERROR, "%s: %s", in->name, strerror(-n));
		return -1;
	}
	in->len += n;
	if (in->len < IN_CHUNK)
		in->eof = 1;
	return 0;
}

/* Make @n (at most IN_CHUNK) bytes available: 1, 0 at end of file, -1. */
static int in_need(struct input *in, size_t n)
{
	if (in_avail(in) < n && in_fill(in))
		return -1;
	return in_avail(in) >= n;
}

/* Consume @n available bytes, adding them to *@crc if not NULL. */
static void in_take(struct input *in, size_t n, uLong *crc)
{
	if (crc)
		*crc = crc32(*crc, in->buf + in->off, n);
	in->off += n;
	in->taken += n;
}

static int truncated(const struct input *in)
{
	say(EXIT_ERROR, "%s: unexpected end of file", in->name);
	return -1;
}

/* Skip @n header bytes. */
static int in_skip(struct input *in, size_t n, uLong *crc)
{
	while (n) {
		size_t k;
		int r = in_need(in, 1);

		if (r <= 0)
			return r ? -1 : truncated(in);
		k = in_avail(in) < n ? in_avail(in) : n;
		in_take(in, k, crc);
		n -= k;
	}
	return 0;
}

/*
 * Skip a zero-terminated header string, keeping in @keep (if not NULL)
 * its last path component, cut to @size - 1 bytes.
 */
static int in_skip_string(struct input *in, uLong *crc, char *keep,
			  size_t size)
{
	size_t kept = 0;

	for (;;) {
		const unsigned char *p, *nul;
		size_t n, i;
		int r = in_need(in, 1);

		if (r <= 0)
			return r ? -1 : truncated(in);
		p = in->buf + in->off;
		nul = memchr(p, 0, in_avail(in));
		n = nul ? (size_t)(nul - p) : in_avail(in);
		for (i = 0; keep && i < n; i++) {
			if (p[i] == '/')
				kept = 0;
			else if (kept < size - 1)
				keep[kept++] = p[i];
		}
		if (keep)
			keep[kept] = 0;
		in_take(in, n + !!nul, crc);
		if (nul)
			return 0;
	}
}

/* A gzip member header (RFC 1952), up to the deflate data. */
static int gzip_header(struct input *in, struct counts *cnt, int first)
{
	const unsigned char *h;
	uLong crc = crc32(0, NULL, 0);
	unsigned int flg;
	int r;

	r = in_need(in, 10);
	if (r <= 0)
		return r ? -1 : truncated(in);
	h = in->buf + in->off;
	if (h[2] != 8) {
		say(EXIT_ERROR, "%s: unknown method %u -- not supported",
		    in->name, h[2]);
		return -1;
	}
	flg = h[3];
	if (flg & 0x20) {
		say(EXIT_ERROR, "%s is encrypted -- not supported", in->name);
		return -1;
	}
	if (flg & 0xc0) {
		say(EXIT_ERROR, "%s has flags 0x%x -- not supported", in->name,
		    flg);
		return -1;
	}
	if (first)
		cnt->mtime = get_le32(h + 4);
	in_take(in, 10, &crc);
	if (flg & 4) {			/* FEXTRA */
		r = in_need(in, 2);
		if (r <= 0)
			return r ? -1 : truncated(in);
		h = in->buf + in->off;
		r = h[0] | h[1] << 8;
		in_take(in, 2, &crc);
		if (in_skip(in, r, &crc))
			return -1;
	}
	if (flg & 8) {			/* FNAME */
		if (in_skip_string(in, &crc, first ? cnt->name : NULL,
				   sizeof(cnt->name)))
			return -1;
		if (first)
			cnt->has_name = cnt->name[0] != 0;
	}
	if ((flg & 16) && in_skip_string(in, &crc, NULL, 0))	/* FCOMMENT */
		return -1;
	if (flg & 2) {			/* FHCRC */
		unsigned int want;

		r = in_need(in, 2);
		if (r <= 0)
			return r ? -1 : truncated(in);
		h = in->buf + in->off;
		want = h[0] | h[1] << 8;
		if (want != (crc & 0xffff)) {
			say(EXIT_ERROR,
			    "%s: header checksum 0x%04x != computed checksum 0x%04x",
			    in->name, want, (unsigned int)(crc & 0xffff));
			return -1;
		}
		in_take(in, 2, NULL);
	}
	return 0;
}

/* Submit one command on the queue, tagged; its completion comes later. */
static int submit_cmd(struct wd_cmd *cmd)
{
	static uint64_t tag;

	cmd->tag = ++tag;
	return wd_submit(queue, cmd);
}

/* Wait for the completion of the command submit_cmd() sent. */
static int reap_cmd(const struct wd_cmd *cmd, struct wd_cqe *cqe)
{
	int ret;

	while (!(ret = wd_reap(queue, cqe, 1))) {
		ret = wd_wait(queue, -1);
		if (ret == -EINTR)
			ret = 0;
		if (ret < 0)
			break;
	}
	if (ret < 0)
		return ret;
	return cqe->tag == cmd->tag ? 0 : -EPROTO;
}

/* Output of an INFLATE command not yet checked and written. */
struct pending {
	const unsigned char *buf;
	size_t len;
};

/* Add @p's output to the CRC and size and write it (if @out >= 0). */
static int flush_pending(struct pending *p, int out, const char *out_name,
			 uLong *crc, uint64_t *isize)
{
	int err;

	if (!p->len)
		return 0;
	*crc = crc32(*crc, p->buf, p->len);
	*isize += p->len;
	err = out >= 0 ? write_full(out, p->buf, p->len) : 0;
	p->len = 0;
	if (err) {
		say(EXIT_ERROR, "%s: %s", out_name, strerror(-err));
		return -1;
	}
	return 0;
}

/*
 * The deflate data of one member, inflated by the device as one stream
 * continued over as many commands as it takes, OUT_CHUNK of output each.
 * Adds the output to *@crc and *@isize and writes it to @out (if >= 0).
 * The two halves of @obuf take turns: while the device inflates into one,
 * the output of the command before, in the other, is checked and written.
 */
static int inflate_member(struct input *in, unsigned char *obuf, int out,
			  const char *out_name, uLong *crc, uint64_t *isize)
{
	struct pending pend = { NULL, 0 };
	struct wd_cqe cqe;
	struct wd_cmd cmd;
	int first = 1, half = 0, err;

	for (;;) {
		if (!in_avail(in)) {
			if (in_fill(in))
				goto fail;
			if (!in_avail(in)) {
				truncated(in);
				goto fail;
			}
		}
		memset(&cmd, 0, sizeof(cmd));
		cmd.opcode = WD_OP_INFLATE;
		cmd.format = WD_FMT_RAW;
		cmd.flags = WD_CMD_F_STREAM | (first ? 0 : WD_CMD_F_CONTINUE);
		cmd.src = (uintptr_t)(in->buf + in->off);
		cmd.src_len = in_avail(in) < cmd_max_len ? in_avail(in) : cmd_max_len;
		cmd.dst = (uintptr_t)(obuf + half * OUT_CHUNK);
		cmd.dst_len = OUT_CHUNK < cmd_max_len ? OUT_CHUNK : cmd_max_len;
		err = submit_cmd(&cmd);
		/* The input buffer stays as it is until the command is done. */
		if (!err && flush_pending(&pend, out, out_name, crc, isize)) {
			reap_cmd(&cmd, &cqe);
			return -1;
		}
		if (!err)
			err = reap_cmd(&cmd, &cqe);
		if (err) {
			say(EXIT_ERROR, "%s: decompression failed: %s", in->name,
			    wd_strerror(err));
			goto fail;
		}
		first = 0;
		if (cqe.status != WD_ST_OK && cqe.status != WD_ST_MORE) {
			if (cqe.status == WD_ST_CORRUPT)
				say(EXIT_ERROR,
				    "%s: invalid compressed data--format violated",
				    in->name);
			else
				say(EXIT_ERROR, "%s: decompression failed: %s",
				    in->name,
				    wd_strerror(wd_status_to_errno(cqe.status)));
			goto fail;
		}
		if (cqe.consumed > cmd.src_len || cqe.result > cmd.dst_len) {
			say(EXIT_ERROR, "%s: decompression failed: %s", in->name,
			    wd_strerror(-EPROTO));
			goto fail;
		}
		in_take(in, cqe.consumed, NULL);
		pend.buf = obuf + half * OUT_CHUNK;
		pend.len = cqe.result;
		half ^= 1;
		if (cqe.status == WD_ST_OK)
			return flush_pending(&pend, out, out_name, crc, isize);
		/* MORE: it used up the input or the room; never neither. */
		if (!cqe.consumed && !cqe.result && in_avail(in)) {
			say(EXIT_ERROR, "%s: decompression failed: %s", in->name,
			    wd_strerror(-EPROTO));
			goto fail;
		}
	}
fail:
	/* What was inflated before the error is written, as before. */
	flush_pending(&pend, out, out_name, crc, isize);
	return -1;
}

/* Is the rest of the input zeros (padding, as gzip allows)? */
static int rest_is_zero(struct input *in)
{
	for (;;) {
		int r = in_need(in, 1);

		if (r <= 0)
			return r == 0;
		while (in_avail(in))
			if (in->buf[in->off++])
				return 0;
	}
}

/*
 * Inflate every gzip member of @fd onto @out (none if -1). Trailing
 * garbage after a member is not an error: cnt->garbage says it was there.
 */
static int decompress_fd(int fd, int out, const char *in_name,
			 const char *out_name, struct counts *cnt)
{
	struct input in = { .fd = fd, .name = in_name };
	unsigned char *obuf = malloc(2 * OUT_CHUNK);	/* two halves */
	int members = 0, ret = -1, r;

	in.buf = malloc(IN_CHUNK);
	if (!in.buf || !obuf) {
		say(EXIT_ERROR, "%s: out of memory", in_name);
		goto out;
	}
	for (;;) {
		const unsigned char *t;
		uint64_t isize = 0, start;
		uLong crc = crc32(0, NULL, 0);

		r = in_need(&in, 2);
		if (r < 0)
			goto out;
		if (!in_avail(&in) && members)
			break;
		if (!r || in.buf[in.off] != 0x1f || in.buf[in.off + 1] != 0x8b) {
			if (members) {
				cnt->garbage = !rest_is_zero(&in);
				break;
			}
			if (!in_avail(&in))
				truncated(&in);
			else
				say(EXIT_ERROR, "%s: not in gzip format", in_name);
			goto out;
		}
		if (gzip_header(&in, cnt, !members))
			goto out;
		start = in.taken;
		if (inflate_member(&in, obuf, out, out_name, &crc, &isize))
			goto out;
		cnt->deflate += in.taken - start;
		r = in_need(&in, 8);
		if (r <= 0) {
			if (!r)
				truncated(&in);
			goto out;
		}
		t = in.buf + in.off;
		if (get_le32(t) != (uint32_t)crc) {
			say(EXIT_ERROR, "%s: invalid compressed data--crc error",
			    in_name);
			goto out;
		}
		if (get_le32(t + 4) != (uint32_t)isize) {
			say(EXIT_ERROR, "%s: invalid compressed data--length error",
			    in_name);
			goto out;
		}
		in_take(&in, 8, NULL);
		cnt->crc = members ? crc32_combine(cnt->crc, crc, isize) : crc;
		cnt->out += isize;
		members++;
	}
	ret = 0;
out:
	cnt->in = in.taken + in_avail(&in);
	free(in.buf);
	free(obuf);
	return ret;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls > lx && !strcmp(s + ls - lx, suffix);
}

/* The compressed-file suffix @name ends with (-S's first), or NULL. */
static const char *get_suffix(const char *name)
{
	static const char *const known[] = {
		".gz", "-gz", ".z", "-z", "_z", ".tgz", ".taz", NULL
	};
	int i;

	if (has_suffix(name, opt.suffix))
		return opt.suffix;
	for (i = 0; known[i]; i++)
		if (has_suffix(name, known[i]))
			return known[i];
	return NULL;
}

/* Length of the directory part of @path, its last '/' included. */
static size_t dir_len(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? (size_t)(slash - path + 1) : 0;
}

/* Whether the temporary file is unnamed (O_TMPFILE) or at tmp_path. */
static int tmp_anon;

/*
 * Create the temporary output file in @out's directory: unnamed where the
 * filesystem has O_TMPFILE, else named (tmp_path, removed on signals).
 */
static int create_temp(const char *out)
{
	size_t dl = dir_len(out);
	sigset_t all, old;
	int fd, n, err;

	if (dl)
		n = snprintf(tmp_path, sizeof(tmp_path), "%.*s", (int)dl, out);
	else
		n = snprintf(tmp_path, sizeof(tmp_path), ".");
	if (n < 0 || (size_t)n >= sizeof(tmp_path))
		return -ENAMETOOLONG;
	fd = open(tmp_path, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd >= 0) {
		tmp_anon = 1;
		return fd;
	}
	/* Filesystems without it; kernels before 3.11 say EISDIR. */
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	tmp_anon = 0;
	n = snprintf(tmp_path, sizeof(tmp_path), "%.*s.%s.XXXXXX", (int)dl, out,
		     out + dl);
	if (n < 0 || (size_t)n >= sizeof(tmp_path))
		return -ENAMETOOLONG;
	/* No signal between creating the file and recording it. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	fd = mkostemp(tmp_path, O_CLOEXEC);
	err = errno;
	if (fd >= 0)
		tmp_live = 1;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return fd >= 0 ? fd : -err;
}

/* Give the unnamed file @fd the name @path (-EEXIST if taken). */
static int link_temp(int fd, const char *path)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (!linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW))
		return 0;
	if (errno != ENOENT || !access("/proc/self/fd", F_OK))
		return -errno;
	/* No /proc: this way needs CAP_DAC_READ_SEARCH. */
	if (!linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH))
		return 0;
	return -errno;
}

/* Put the finished temporary file in place as @out: 0, or -errno. */
static int commit_temp(int fd, const char *out)
{
	size_t dl = dir_len(out);
	sigset_t all, old;
	int err = 0, i;

	if (!tmp_anon) {
		if (rename(tmp_path, out))
			return -errno;
		tmp_live = 0;
		return 0;
	}
	err = link_temp(fd, out);
	if (err != -EEXIST || !opt.force)
		return err;
	/* -f over an existing file: a name of its own for the rename. */
	sigfillset(&all);
	for (i = 0; i < 100 && err == -EEXIST; i++) {
		snprintf(tmp_path, sizeof(tmp_path), "%.*s.%s.wdzip%d-%d",
			 (int)dl, out, out + dl, (int)getpid(), i);
		sigprocmask(SIG_BLOCK, &all, &old);
		err = link_temp(fd, tmp_path);
		if (!err)
			tmp_live = 1;
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	if (err)
		return err;
	if (rename(tmp_path, out)) {
		err = -errno;
		unlink(tmp_path);
	}
	tmp_live = 0;
	return err;
}

static void drop_temp(int fd)
{
	close(fd);
	if (!tmp_anon)
		unlink(tmp_path);
	tmp_live = 0;
}

/* -l: one line for a file, the column heads before the first. */
static int listed;
static uint64_t list_comp, list_uncomp, list_deflate;

static void list_heads(void)
{
	if (opt.verbose)
		printf("method  crc     date  time  ");
	printf("         compressed        uncompressed  ratio uncompressed_name\n");
}

static void list_line(const char *name, uint64_t comp, const struct counts *c,
		      time_t when)
{
	if (!listed++)
		list_heads();
	if (opt.verbose) {
		char date[32] = "";
		struct tm tm;

		if (localtime_r(&when, &tm))
			strftime(date, sizeof(date), "%b %e %H:%M", &tm);
		printf("%5s %08x %s ", "defla", (unsigned int)c->crc, date);
	}
	printf("%19llu %19llu %5.1f%% %s\n", (unsigned long long)comp,
	       (unsigned long long)c->out, ratio(c->out, c->deflate), name);
	list_comp += comp;
	list_uncomp += c->out;
	list_deflate += c->deflate;
}

static void list_totals(void)
{
	if (listed < 2)
		return;
	if (opt.verbose)
		printf("%28s", "");
	printf("%19llu %19llu %5.1f%% (totals)\n", (unsigned long long)list_comp,
	       (unsigned long long)list_uncomp, ratio(list_uncomp, list_deflate));
}

static void treat_file(const char *arg);

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* -r: every entry of the directory @path, in name order. */
static void treat_dir(const char *path)
{
	struct dirent *de;
	char **names = NULL, sub[PATH_MAX];
	size_t n = 0, cap = 0, i;
	DIR *d = opendir(path);

	if (!d) {
		say(EXIT_ERROR, "%s: %s", path, strerror(errno));
		return;
	}
	/* All names first: the directory changes as its files are treated. */
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **more = realloc(names, (cap = cap * 2 + 16) *
					      sizeof(*names));

			if (!more)
				break;
			names = more;
		}
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		int len = snprintf(sub, sizeof(sub), "%s%s%s", path,
				   has_suffix(path, "/") ? "" : "/", names[i]);

		if (len < 0 || (size_t)len >= sizeof(sub))
			say(EXIT_ERROR, "%s/%s: %s", path, names[i],
			    strerror(ENAMETOOLONG));
		else
			treat_file(sub);
		free(names[i]);
	}
	free(names);
}

/*
 * The output name for @arg into @out, or -1 (having said why when gzip
 * would). @no_output: -t or -l, which take any name without -r.
 */
static int output_name(const char *arg, char *out, size_t size, int no_output)
{
	const char *suf = get_suffix(arg);
	size_t len = strlen(arg);
	int n;

	if (!opt.decompress) {
		if (suf && !opt.force) {
			if (opt.verbose || (!opt.recursive && !opt.quiet))
				fprintf(stderr,
					"wdzip: %s already has %s suffix -- unchanged\n",
					arg, suf);
			return -1;
		}
		n = snprintf(out, size, "%s%s", arg, opt.suffix);
	} else if (suf) {
		int tar = !strcmp(suf, ".tgz") || !strcmp(suf, ".taz");

		n = snprintf(out, size, "%.*s%s", (int)(len - strlen(suf)), arg,
			     tar ? ".tar" : "");
	} else if (no_output && !opt.recursive) {
		n = snprintf(out, size, "%s", arg);
	} else {
		if (opt.verbose || (!opt.recursive && !opt.quiet))
			say(EXIT_WARNING, "%s: unknown suffix -- ignored", arg);
		return -1;
	}
	if (n < 0 || (size_t)n >= size) {
		say(EXIT_ERROR, "%s: %s", arg, strerror(ENAMETOOLONG));
		return -1;
	}
	return 0;
}

/* Compress, decompress, test or list one FILE ("-": stdin). */
static void treat_file(const char *arg)
{
	int from_stdin = !strcmp(arg, "-");
	int no_output = opt.test || opt.list;
	int to_stdout = !no_output && (opt.to_stdout || from_stdin);
	const char *in_name = from_stdin ? "stdin" : arg;
	char out_name[PATH_MAX] = "stdout";
	struct counts cnt = { 0 };
	struct stat st;
	int in = 0, out = -1, r;

	if (!from_stdin) {
		int flags = O_RDONLY | O_CLOEXEC;

		if (!to_stdout && !no_output && !opt.force)
			flags |= O_NOFOLLOW;
		in = open(arg, flags);
		if (in < 0) {
			say(EXIT_ERROR, "%s: %s", arg, strerror(errno));
			return;
		}
	}
	if (fstat(in, &st)) {
		say(EXIT_ERROR, "%s: %s", in_name, strerror(errno));
		goto close_in;
	}
	if (from_stdin) {
		if ((opt.decompress || no_output) && isatty(0) && !opt.force) {
			say(EXIT_ERROR, "compressed data not read from a terminal. "
			    "Use -f to force decompression.");
			return;
		}
	} else if (S_ISDIR(st.st_mode)) {
		close(in);
		if (opt.recursive)
			treat_dir(arg);
		else
			say(EXIT_WARNING, "%s is a directory -- ignored", arg);
		return;
	} else if (!S_ISREG(st.st_mode) && !to_stdout && !no_output) {
		say(EXIT_WARNING,
		    "%s is not a directory or a regular file - ignored", arg);
		goto close_in;
	} else if (st.st_nlink > 1 && !to_stdout && !no_output && !opt.force) {
		say(EXIT_WARNING, "%s has %lu other link%s -- file ignored", arg,
		    (unsigned long)st.st_nlink - 1, st.st_nlink > 2 ? "s" : "");
		goto close_in;
	}
	if (!from_stdin && !to_stdout &&
	    output_name(arg, out_name, sizeof(out_name), no_output))
		goto close_in;
	/* gzip's names for standard input in -l. */
	if (from_stdin && no_output)
		snprintf(out_name, sizeof(out_name), "stdout");

	if (no_output) {
		r = decompress_fd(in, -1, in_name, NULL, &cnt);
		if (r)
			goto close_in;
		if (cnt.garbage)
			say(EXIT_WARNING,
			    "%s: decompression OK, trailing garbage ignored",
			    in_name);
		if (opt.test) {
			if (opt.verbose && from_stdin)
				fprintf(stderr, " OK\n");
			else if (opt.verbose)
				fprintf(stderr, "%s:\t OK\n", in_name);
		} else {
			if (opt.name == 1 && cnt.has_name && !from_stdin)
				snprintf(out_name, sizeof(out_name), "%.*s%s",
					 (int)dir_len(arg), arg, cnt.name);
			list_line(out_name, S_ISREG(st.st_mode) ? (uint64_t)st.st_size :
				  cnt.in, &cnt, cnt.mtime ? (time_t)cnt.mtime :
				  st.st_mtime);
		}
		goto close_in;
	}

	if (to_stdout) {
		if (!opt.decompress && isatty(1) && !opt.force) {
			say(EXIT_ERROR, "compressed data not written to a terminal. "
			    "Use -f to force compression.");
			goto close_in;
		}
		out = 1;
	} else {
		/* With -N the name comes from the header: checked after. */
		if (!(opt.decompress && opt.name == 1) &&
		    !faccessat(AT_FDCWD, out_name, F_OK, AT_SYMLINK_NOFOLLOW) &&
		    !opt.force) {
			say(EXIT_WARNING, "%s already exists;\tnot overwritten",
			    out_name);
			goto close_in;
		}
		out = create_temp(out_name);
		if (out < 0) {
			say(EXIT_ERROR, "%s: %s", out_name, strerror(-out));
			goto close_in;
		}
	}

	if (opt.decompress) {
		r = decompress_fd(in, out, in_name, out_name, &cnt);
	} else {
		int save = opt.name != 0 && !from_stdin;

		r = compress_fd(in, out, in_name, out_name,
				save ? arg + dir_len(arg) : NULL,
				save ? (uint32_t)st.st_mtime : 0, &cnt);
	}
	if (r)
		goto fail_out;
	if (to_stdout)
		goto done;

	if (opt.decompress && opt.name == 1) {
		char named[PATH_MAX];
		int n = -1;

		if (cnt.has_name && strcmp(cnt.name, ".") && strcmp(cnt.name, ".."))
			n = snprintf(named, sizeof(named), "%.*s%s",
				     (int)dir_len(arg), arg, cnt.name);
		/* Never the input's own name. */
		if (n > 0 && (size_t)n < sizeof(named) && strcmp(named, arg))
			strcpy(out_name, named);
		if (cnt.mtime) {
			st.st_mtim.tv_sec = cnt.mtime;
			st.st_mtim.tv_nsec = 0;
		}
		if (!faccessat(AT_FDCWD, out_name, F_OK, AT_SYMLINK_NOFOLLOW) &&
		    !opt.force) {
			say(EXIT_WARNING, "%s already exists;\tnot overwritten",
			    out_name);
			drop_temp(out);
			goto close_in;
		}
	}
	{
		struct timespec times[2] = { st.st_atim, st.st_mtim };

		/* The owner too where allowed (root), as gzip; else kept. */
		if (fchown(out, st.st_uid, st.st_gid))
			errno = 0;
		if (fchmod(out, st.st_mode & 07777) || futimens(out, times)) {
			say(EXIT_ERROR, "%s: %s", out_name, strerror(errno));
			goto fail_out;
		}
	}
	r = commit_temp(out, out_name);
	if (r == -EEXIST) {
		say(EXIT_WARNING, "%s already exists;\tnot overwritten", out_name);
		goto fail_out;
	}
	if (r) {
		say(EXIT_ERROR, "%s: %s", out_name, strerror(-r));
		goto fail_out;
	}
	if (close(out)) {
		say(EXIT_ERROR, "%s: %s", out_name, strerror(errno));
		unlink(out_name);
		goto close_in;
	}
	if (!opt.keep && unlink(arg))
		say(EXIT_ERROR, "%s: %s", arg, strerror(errno));
done:
	if (cnt.garbage)
		say(EXIT_WARNING, "%s: decompression OK, trailing garbage ignored",
		    in_name);
	if (opt.verbose) {
		double pct = opt.decompress ? ratio(cnt.out, cnt.deflate) :
					      ratio(cnt.in, cnt.deflate);

		if (from_stdin && !opt.decompress)
			fprintf(stderr, "%5.1f%%\n", pct);
		else if (from_stdin)
			;	/* gzip says nothing */
		else
			fprintf(stderr, "%s:\t%5.1f%% -- %s %s\n", in_name, pct,
				opt.keep && !to_stdout ? "created" : "replaced with",
				out_name);
	}
	goto close_in;

fail_out:
	if (!to_stdout)
		drop_temp(out);
close_in:
	if (!from_stdin)
		close(in);
}

/* SIZE with an optional k/K or m/M or g/G suffix. */
static int parse_size(const char *s, size_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K':
		v <<= 10;
		end++;
		break;
	case 'm': case 'M':
		v <<= 20;
		end++;
		break;
	case 'g': case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (*end || v == 0 || v > MAX_BLOCK)
		return -1;
	*out = v;
	return 0;
}

/* -p N: a number of threads, 1 to MAX_PROCS, nothing after it. */
static int parse_procs(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > MAX_PROCS)
		return -1;
	*out = v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: wdzip [OPTION]... [FILE]...\n"
		"Compress or decompress FILEs in gzip format on a WarpDrive accelerator\n"
		"(by default, compress FILEs in-place: FILE becomes FILE.gz).\n"
		"\n"
		"  -c, --stdout      write on standard output, keep original files unchanged\n"
		"  -d, --decompress  decompress\n"
		"  -f, --force       force overwrite of output file and compress links\n"
		"  -h, --help        give this help\n"
		"  -k, --keep        keep (don't delete) input files\n"
		"  -l, --list        list compressed file contents\n"
		"  -L, --license     display software license\n"
		"  -n, --no-name     do not save or restore the original name and timestamp\n"
		"  -N, --name        save or restore the original name and timestamp\n"
		"  -q, --quiet       suppress all warnings\n"
		"  -r, --recursive   operate recursively on directories\n"
		"  -S, --suffix=SUF  use suffix SUF on compressed files\n"
		"  -t, --test        test compressed file integrity\n"
		"  -v, --verbose     verbose mode\n"
		"  -V, --version     display version number\n"
		"  -1, --fast        compress faster\n"
		"  -9, --best        compress better\n"
		"  -b, --block=SIZE  compress in independent gzip members of SIZE bytes\n"
		"                    (k/M/G suffixes, default 1M, at most 512M)\n"
		"  -D, --device=NAME use this device (default: the first with deflate)\n"
		"  -p, --processes=N compress on up to N queues at once, one thread each\n"
		"                    (default: the online CPUs; output is the same for any N)\n"
		"\n"
		"With no FILE, or when FILE is -, read standard input.\n"
		"Exit status: 0 success, 1 error, 2 warning.\n");
}

static int try_help(void)
{
	fprintf(stderr, "Try `wdzip --help' for more information.\n");
	return EXIT_ERROR;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "decompress", no_argument, NULL, 'd' },
		{ "uncompress", no_argument, NULL, 'd' },
		{ "stdout", no_argument, NULL, 'c' },
		{ "to-stdout", no_argument, NULL, 'c' },
		{ "keep", no_argument, NULL, 'k' },
		{ "force", no_argument, NULL, 'f' },
		{ "list", no_argument, NULL, 'l' },
		{ "license", no_argument, NULL, 'L' },
		{ "no-name", no_argument, NULL, 'n' },
		{ "name", no_argument, NULL, 'N' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "silent", no_argument, NULL, 'q' },
		{ "recursive", no_argument, NULL, 'r' },
		{ "suffix", required_argument, NULL, 'S' },
		{ "test", no_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "fast", no_argument, NULL, '1' },
		{ "best", no_argument, NULL, '9' },
		{ "block", required_argument, NULL, 'b' },
		{ "device", required_argument, NULL, 'D' },
		{ "processes", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	int c, i, ret;
	uint32_t algs;

	argv[0] = "wdzip";	/* getopt's messages, as gzip's */
	opt.procs = sysconf(_SC_NPROCESSORS_ONLN);
	if (opt.procs < 1)
		opt.procs = 1;
	if (opt.procs > MAX_PROCS)
		opt.procs = MAX_PROCS;
	while ((c = getopt_long(argc, argv, "cdfhklLnNqrS:tvVb:D:p:123456789",
				lopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			opt.decompress = 1;
			break;
		case 'c':
			opt.to_stdout = 1;
			break;
		case 'k':
			opt.keep = 1;
			break;
		case 'f':
			opt.force = 1;
			break;
		case 'l':
			opt.list = 1;
			break;
		case 'n':
			opt.name = 0;
			break;
		case 'N':
			opt.name = 1;
			break;
		case 'q':
			opt.quiet = 1;
			opt.verbose = 0;
			break;
		case 'r':
			opt.recursive = 1;
			break;
		case 'S':
			if (!*optarg || strchr(optarg, '/')) {
				say(EXIT_ERROR, "invalid suffix '%s'", optarg);
				return EXIT_ERROR;
			}
			if (strlen(optarg) > MAX_SUFFIX) {
				say(EXIT_ERROR, "suffix too long");
				return EXIT_ERROR;
			}
			opt.suffix = optarg;
			break;
		case 't':
			opt.test = 1;
			break;
		case 'v':
			opt.verbose++;
			opt.quiet = 0;
			break;
		case 'V':
			printf("wdzip (WarpDrive) %s\n", WD_VERSION);
			return 0;
		case 'L':
			printf("wdzip (WarpDrive) %s\n"
			       "License GPLv2: GNU GPL version 2 <https://gnu.org/licenses/old-licenses/gpl-2.0.html>.\n"
			       "This is free software: you are free to change and redistribute it.\n"
			       "There is NO WARRANTY, to the extent permitted by law.\n",
			       WD_VERSION);
			return 0;
		case 'b':
			if (parse_size(optarg, &opt.block)) {
				say(EXIT_ERROR, "bad block size '%s'", optarg);
				return try_help();
			}
			break;
		case 'D':
			opt.device = optarg;
			break;
		case 'p':
			if (parse_procs(optarg, &opt.procs)) {
				say(EXIT_ERROR, "invalid number of processes: %s (1 to %d)",
				    optarg, MAX_PROCS);
				return try_help();
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case '1' ... '9':
			opt.level = c - '0';
			break;
		default:
			return try_help();
		}
	}
	if (opt.test || opt.list)
		opt.decompress = 1;

	for (i = 0; i < (int)(sizeof(sigs) / sizeof(sigs[0])); i++) {
		struct sigaction sa = { .sa_handler = on_signal };

		sigaction(sigs[i], &sa, NULL);
	}

	algs = opt.decompress ? WD_ALG_INFLATE : WD_ALG_DEFLATE;
	ret = opt.device ? wd_open(opt.device, &dev) : wd_open_alg(algs, &dev);
	if (!ret)
		ret = wd_queue_get(dev, NULL, &queue);
	if (!ret) {
		struct wd_info info = { 0 };

		ret = wd_get_info(dev, &info);
		cmd_max_len = info.max_cmd_len;
		if (!ret && !cmd_max_len)
			ret = -EPROTO;
		/* Keep a block's output bound within one command. */
		if (opt.block > cmd_max_len / 2)
			opt.block = cmd_max_len / 2;
	}
	if (ret) {
		say(EXIT_ERROR, "%s: %s", opt.device ? opt.device : "device",
		    wd_strerror(ret));
		wd_close(dev);
		return EXIT_ERROR;
	}

	if (optind == argc)
		treat_file("-");
	for (i = optind; i < argc; i++)
		treat_file(argv[i]);
	if (opt.list)
		list_totals();

	pool_stop();
	wd_close(dev);		/* puts the queue too */
	return exit_code;
}
