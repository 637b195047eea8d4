// SPDX-License-Identifier: GPL-2.0
/*
 * wdzip: gzip-compatible compression through a WarpDrive accelerator.
 *
 *   wdzip [-d] [-c] [-k] [-f] [-1..-9] [-b SIZE] [-D DEVICE] [FILE...]
 *
 * Compression cuts the input into blocks (1 MiB by default) and makes each
 * an independent gzip member, so the output is a multi-member gzip file
 * that gunzip accepts. Decompression walks the members of any gzip file
 * (one big member from gzip included, whatever it expands to) with bounded
 * memory: it reads the file and writes the output in chunks, the device
 * inflates each member's deflate data as a stream continued from command
 * to command (WD_CMD_F_STREAM), and wdzip parses the gzip framing and
 * checks the CRC-32 and length itself. A file's output goes to a temporary
 * file in the same directory, renamed into place only once everything
 * worked.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "libwd.h"

#define DEFAULT_BLOCK	(1UL << 20)
#define MAX_BLOCK	(512UL << 20)	/* at most half the device's max_cmd_len */
#define IN_CHUNK	(1UL << 20)	/* decompression: input read at a time */
#define OUT_CHUNK	(1UL << 20)	/* decompression: output per command */

static struct {
	int decompress;
	int to_stdout;
	int keep;
	int force;
	int level;
	size_t block;
	const char *device;
} opt = {
	.level = 6,
	.block = DEFAULT_BLOCK,
};

static struct wd_dev *dev;
static struct wd_queue *queue;
/* The most one command may name on the device (struct wd_info). */
static uint64_t cmd_max_len;

/* The temporary output file, removed if a signal ends us. */
static char tmp_path[PATH_MAX];
static volatile sig_atomic_t tmp_live;

static void on_signal(int sig)
{
	if (tmp_live)
		unlink(tmp_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void __attribute__((format(printf, 2, 3)))
error(const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "wdzip: ");
	if (name)
		fprintf(stderr, "%s: ", name);
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

/* Room for the gzip member of @len bytes, with margin: grown on -ENOSPC. */
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

/* Each block of @in becomes one gzip member on @out. */
static int compress_fd(int in, int out, const char *in_name,
		       const char *out_name)
{
	size_t cap = deflate_bound(opt.block), olen = 0;
	unsigned char *ibuf, *obuf;
	int members = 0, ret = -1, err;
	ssize_t n;

	ibuf = malloc(opt.block);
	obuf = malloc(cap);
	if (!ibuf || !obuf) {
		error(in_name, "out of memory");
		goto out;
	}
	for (;;) {
		n = read_full(in, ibuf, opt.block);
		if (n < 0) {
			error(in_name, "%s", strerror(-n));
			goto out;
		}
		if (n == 0 && members)
			break;		/* an empty input still gets a member */
		for (;;) {
			err = wd_compress(queue, WD_FMT_GZIP, opt.level, ibuf, n,
					  obuf, cap, &olen);
			if (err != -ENOSPC || cap >= cmd_max_len)
				break;
			obuf = grow_output(obuf, &cap);
			if (!obuf) {
				error(in_name, "out of memory");
				goto out;
			}
		}
		if (err) {
			error(in_name, "compression failed: %s", wd_strerror(err));
			goto out;
		}
		err = write_full(out, obuf, olen);
		if (err) {
			error(out_name, "%s", strerror(-err));
			goto out;
		}
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
		error(in->name, "%s", strerror(-n));
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
}

static int truncated(const struct input *in)
{
	error(in->name, "unexpected end of file");
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

/* Skip a zero-terminated header string. */
static int in_skip_string(struct input *in, uLong *crc)
{
	for (;;) {
		const unsigned char *nul;
		int r = in_need(in, 1);

		if (r <= 0)
			return r ? -1 : truncated(in);
		nul = memchr(in->buf + in->off, 0, in_avail(in));
		if (nul) {
			in_take(in, nul - (in->buf + in->off) + 1, crc);
			return 0;
		}
		in_take(in, in_avail(in), crc);
	}
}

/* A gzip member header (RFC 1952), up to the deflate data. */
static int gzip_header(struct input *in)
{
	const unsigned char *h;
	uLong crc = crc32(0, NULL, 0);
	unsigned int flg;
	int r;

	r = in_need(in, 10);
	if (r <= 0)
		return r ? -1 : truncated(in);
	h = in->buf + in->off;
	if (h[2] != 8 || (h[3] & 0xe0)) {
		error(in->name, "unsupported gzip header (method %u, flags 0x%x)",
		      h[2], h[3]);
		return -1;
	}
	flg = h[3];
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
	if ((flg & 8) && in_skip_string(in, &crc))	/* FNAME */
		return -1;
	if ((flg & 16) && in_skip_string(in, &crc))	/* FCOMMENT */
		return -1;
	if (flg & 2) {			/* FHCRC */
		r = in_need(in, 2);
		if (r <= 0)
			return r ? -1 : truncated(in);
		h = in->buf + in->off;
		if ((unsigned int)(h[0] | h[1] << 8) != (crc & 0xffff)) {
			error(in->name, "invalid compressed data (header crc error)");
			return -1;
		}
		in_take(in, 2, NULL);
	}
	return 0;
}

/* Run one command alone on the queue and take its completion. */
static int run_cmd(struct wd_cmd *cmd, struct wd_cqe *cqe)
{
	static uint64_t tag;
	int ret;

	cmd->tag = ++tag;
	ret = wd_submit(queue, cmd);
	while (!ret && !(ret = wd_reap(queue, cqe, 1))) {
		ret = wd_wait(queue, -1);
		if (ret == -EINTR)
			ret = 0;
	}
	if (ret < 0)
		return ret;
	return cqe->tag == cmd->tag ? 0 : -EPROTO;
}

/*
 * The deflate data of one member, inflated by the device as one stream
 * continued over as many commands as it takes, OUT_CHUNK of output each.
 * Adds the output to *@crc and *@isize and writes it to @out.
 */
static int inflate_member(struct input *in, unsigned char *obuf, int out,
			  const char *out_name, uLong *crc, uint64_t *isize)
{
	struct wd_cqe cqe;
	struct wd_cmd cmd;
	int first = 1, err;

	for (;;) {
		if (!in_avail(in)) {
			if (in_fill(in))
				return -1;
			if (!in_avail(in))
				return truncated(in);
		}
		memset(&cmd, 0, sizeof(cmd));
		cmd.opcode = WD_OP_INFLATE;
		cmd.format = WD_FMT_RAW;
		cmd.flags = WD_CMD_F_STREAM | (first ? 0 : WD_CMD_F_CONTINUE);
		cmd.src = (uintptr_t)(in->buf + in->off);
		cmd.src_len = in_avail(in) < cmd_max_len ? in_avail(in) : cmd_max_len;
		cmd.dst = (uintptr_t)obuf;
		cmd.dst_len = OUT_CHUNK < cmd_max_len ? OUT_CHUNK : cmd_max_len;
		err = run_cmd(&cmd, &cqe);
		if (err) {
			error(in->name, "decompression failed: %s", wd_strerror(err));
			return -1;
		}
		first = 0;
		if (cqe.status != WD_ST_OK && cqe.status != WD_ST_MORE) {
			if (cqe.status == WD_ST_CORRUPT)
				error(in->name, "invalid compressed data (corrupt)");
			else
				error(in->name, "decompression failed: %s",
				      wd_strerror(wd_status_to_errno(cqe.status)));
			return -1;
		}
		if (cqe.consumed > cmd.src_len || cqe.result > cmd.dst_len) {
			error(in->name, "decompression failed: %s",
			      wd_strerror(-EPROTO));
			return -1;
		}
		in_take(in, cqe.consumed, NULL);
		*crc = crc32(*crc, obuf, cqe.result);
		*isize += cqe.result;
		err = write_full(out, obuf, cqe.result);
		if (err) {
			error(out_name, "%s", strerror(-err));
			return -1;
		}
		if (cqe.status == WD_ST_OK)
			return 0;
		/* MORE: it used up the input or the room; never neither. */
		if (!cqe.consumed && !cqe.result && in_avail(in)) {
			error(in->name, "decompression failed: %s",
			      wd_strerror(-EPROTO));
			return -1;
		}
	}
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

/* Inflate every gzip member of @fd onto @out. */
static int decompress_fd(int fd, int out, const char *in_name,
			 const char *out_name)
{
	struct input in = { .fd = fd, .name = in_name };
	unsigned char *obuf = malloc(OUT_CHUNK);
	int members = 0, ret = -1, r;

	in.buf = malloc(IN_CHUNK);
	if (!in.buf || !obuf) {
		error(in_name, "out of memory");
		goto out;
	}
	for (;;) {
		const unsigned char *t;
		uint64_t isize = 0;
		uLong crc = crc32(0, NULL, 0);

		r = in_need(&in, 2);
		if (r < 0)
			goto out;
		if (!in_avail(&in) && members)
			break;
		if (!r || in.buf[in.off] != 0x1f || in.buf[in.off + 1] != 0x8b) {
			if (members && rest_is_zero(&in))
				break;
			if (!in_avail(&in) && !members)
				error(in_name, "unexpected end of file");
			else
				error(in_name, members ? "trailing garbage after gzip data" :
				      "not in gzip format");
			goto out;
		}
		if (gzip_header(&in) ||
		    inflate_member(&in, obuf, out, out_name, &crc, &isize))
			goto out;
		r = in_need(&in, 8);
		if (r <= 0) {
			if (!r)
				truncated(&in);
			goto out;
		}
		t = in.buf + in.off;
		if ((uint32_t)(t[0] | t[1] << 8 | t[2] << 16 | (uint32_t)t[3] << 24) !=
		    (uint32_t)crc ||
		    (uint32_t)(t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24) !=
		    (uint32_t)isize) {
			error(in_name, "invalid compressed data (crc or length error)");
			goto out;
		}
		in_take(&in, 8, NULL);
		members++;
	}
	ret = 0;
out:
	free(in.buf);
	free(obuf);
	return ret;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls > lx && !strcmp(s + ls - lx, suffix);
}

/* Name of the output file for @in, or -1 after saying why there is none. */
static int output_name(const char *in, char *out, size_t size)
{
	size_t len = strlen(in);
	int n;

	if (!opt.decompress) {
		if (has_suffix(in, ".gz") && !opt.force) {
			error(in, "already has .gz suffix -- unchanged");
			return -1;
		}
		n = snprintf(out, size, "%s.gz", in);
	} else if (has_suffix(in, ".gz")) {
		n = snprintf(out, size, "%.*s", (int)(len - 3), in);
	} else if (has_suffix(in, ".tgz")) {
		n = snprintf(out, size, "%.*s.tar", (int)(len - 4), in);
	} else {
		error(in, "unknown suffix -- ignored");
		return -1;
	}
	if (n < 0 || (size_t)n >= size) {
		error(in, "%s", strerror(ENAMETOOLONG));
		return -1;
	}
	return 0;
}

/* Create the temporary file next to @out; sets tmp_path. */
static int create_temp(const char *out)
{
	const char *slash = strrchr(out, '/');
	int dir_len = slash ? (int)(slash - out + 1) : 0;
	sigset_t all, old;
	int fd, n, err;

	n = snprintf(tmp_path, sizeof(tmp_path), "%.*s.%s.XXXXXX", dir_len, out,
		     out + dir_len);
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

static void drop_temp(int fd)
{
	close(fd);
	unlink(tmp_path);
	tmp_live = 0;
}

/* Compress or decompress one FILE ("-": stdin). Returns 0 or 1. */
static int process(const char *arg)
{
	int from_stdin = !strcmp(arg, "-");
	int to_stdout = opt.to_stdout || from_stdin;
	const char *in_name = from_stdin ? "stdin" : arg;
	char out_name[PATH_MAX] = "stdout";
	int in = 0, out = 1, ret;
	struct stat st, lst;

	if (!from_stdin) {
		if (lstat(arg, &lst)) {
			error(arg, "%s", strerror(errno));
			return 1;
		}
		if (S_ISLNK(lst.st_mode) && !to_stdout && !opt.force) {
			error(arg, "is a symbolic link -- ignored (use -f)");
			return 1;
		}
		in = open(arg, O_RDONLY | O_CLOEXEC);
		if (in < 0 || fstat(in, &st)) {
			error(arg, "%s", strerror(errno));
			if (in >= 0)
				close(in);
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			error(arg, "is a directory -- ignored");
			goto fail_in;
		}
		if (!S_ISREG(st.st_mode) && !to_stdout) {
			error(arg, "not a regular file -- ignored (use -c)");
			goto fail_in;
		}
	} else if (opt.decompress && isatty(0) && !opt.force) {
		error(NULL, "compressed data not read from a terminal. "
		      "Use -f to force decompression.");
		return 1;
	}

	if (to_stdout) {
		if (!opt.decompress && isatty(1) && !opt.force) {
			error(NULL, "compressed data not written to a terminal. "
			      "Use -f to force compression.");
			goto fail_in;
		}
	} else {
		if (output_name(arg, out_name, sizeof(out_name)))
			goto fail_in;
		if (!lstat(out_name, &lst) && !opt.force) {
			error(out_name, "already exists; use -f to overwrite");
			goto fail_in;
		}
		out = create_temp(out_name);
		if (out < 0) {
			error(out_name, "cannot create a temporary file: %s",
			      strerror(-out));
			goto fail_in;
		}
	}

	if (opt.decompress)
		ret = decompress_fd(in, out, in_name, out_name);
	else
		ret = compress_fd(in, out, in_name, out_name);
	if (ret)
		goto fail_out;
	if (to_stdout)
		goto done;

	{
		struct timespec times[2] = { st.st_atim, st.st_mtim };

		if (fchmod(out, st.st_mode & 0777) || futimens(out, times)) {
			error(out_name, "%s", strerror(errno));
			goto fail_out;
		}
	}
	if (close(out)) {
		error(out_name, "%s", strerror(errno));
		unlink(tmp_path);
		tmp_live = 0;
		goto fail_in;
	}
	if (rename(tmp_path, out_name)) {
		error(out_name, "%s", strerror(errno));
		unlink(tmp_path);
		tmp_live = 0;
		goto fail_in;
	}
	tmp_live = 0;
	if (!opt.keep && unlink(arg))
		error(arg, "cannot remove: %s", strerror(errno));
done:
	if (!from_stdin)
		close(in);
	return 0;

fail_out:
	if (!to_stdout)
		drop_temp(out);
fail_in:
	if (!from_stdin)
		close(in);
	return 1;
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

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wdzip [-d] [-c] [-k] [-f] [-1..-9] [-b SIZE] [-D DEVICE] [FILE...]\n"
		"Compress (or with -d decompress) FILEs in gzip format on a WarpDrive\n"
		"accelerator; FILE becomes FILE.gz and back. No FILE, or -, filters\n"
		"stdin to stdout.\n"
		"  -d, --decompress   decompress\n"
		"  -c, --stdout       write to stdout, keep the input files\n"
		"  -k, --keep         keep the input files\n"
		"  -f, --force        overwrite outputs, compress links and .gz files,\n"
		"                     write compressed data to a terminal\n"
		"  -1 .. -9           compression level (fast .. best, default 6)\n"
		"  -b, --block SIZE   compress in independent blocks of SIZE bytes\n"
		"                     (k/M suffixes, default 1M, at most 512M)\n"
		"  -D, --device NAME  use this device (default: the first with deflate)\n"
		"  -h, --help         this text\n");
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
		{ "fast", no_argument, NULL, '1' },
		{ "best", no_argument, NULL, '9' },
		{ "block", required_argument, NULL, 'b' },
		{ "device", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	int c, i, ret, failed = 0;
	uint32_t algs;

	while ((c = getopt_long(argc, argv, "dckfb:D:h123456789", lopts,
				NULL)) != -1) {
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
		case 'b':
			if (parse_size(optarg, &opt.block)) {
				error(NULL, "bad block size '%s'", optarg);
				return 2;
			}
			break;
		case 'D':
			opt.device = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case '1' ... '9':
			opt.level = c - '0';
			break;
		default:
			usage(stderr);
			return 2;
		}
	}

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
		error(opt.device, "%s", wd_strerror(ret));
		wd_close(dev);
		return 1;
	}

	if (optind == argc)
		failed = process("-");
	for (i = optind; i < argc; i++)
		failed |= process(argv[i]);

	wd_close(dev);		/* puts the queue too */
	return failed;
}
