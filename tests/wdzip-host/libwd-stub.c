// SPDX-License-Identifier: GPL-2.0
/*
 * The libwd calls wdzip makes, served by zlib on the host: only for
 * tests/wdzip-host/compare.sh, which checks wdzip's gzip-compatible front
 * end (options, messages, exit status, files left) against GNU gzip. The
 * device's own DEFLATE/INFLATE is tested in the guest (tests/tools.c).
 * INFLATE follows the WD_CMD_F_STREAM contract: MORE until the stream ends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "libwd.h"
struct wd_dev { int x; };
struct wd_queue { z_stream zs; int live; struct wd_cqe done; int have; };
static struct wd_dev the_dev;
static struct wd_queue the_q;
int wd_open(const char *name, struct wd_dev **out) { *out = &the_dev; return 0; }
int wd_open_alg(uint32_t algs, struct wd_dev **out) { *out = &the_dev; return 0; }
void wd_close(struct wd_dev *dev) { }
const char *wd_dev_name(const struct wd_dev *dev) { return "stub0"; }
int wd_queue_get(struct wd_dev *dev, const struct wd_queue_opts *opts, struct wd_queue **q) { *q = &the_q; return 0; }
int wd_get_info(struct wd_dev *dev, struct wd_info *info) { info->max_cmd_len = 1 << 30; return 0; }
const char *wd_strerror(int err) { return strerror(-err); }
int wd_status_to_errno(uint32_t st) { return st == WD_ST_CORRUPT ? -EBADMSG : -EIO; }
int wd_compress(struct wd_queue *q, int format, int level, const void *src, size_t len, void *dst, size_t cap, size_t *olen)
{
	z_stream zs = { 0 };
	int r;
	int wbits = format == WD_FMT_GZIP ? 31 : format == WD_FMT_ZLIB ? 15 : -15;
	if (deflateInit2(&zs, level, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -ENOMEM;
	zs.next_in = (void *)src; zs.avail_in = len; zs.next_out = dst; zs.avail_out = cap;
	r = deflate(&zs, Z_FINISH);
	*olen = zs.total_out;
	deflateEnd(&zs);
	return r == Z_STREAM_END ? 0 : -ENOSPC;
}
int wd_submit(struct wd_queue *q, const struct wd_cmd *cmd)
{
	int r;
	memset(&q->done, 0, sizeof(q->done));
	q->done.tag = cmd->tag; q->have = 1;
	if (!(cmd->flags & WD_CMD_F_CONTINUE)) {
		if (q->live) inflateEnd(&q->zs);
		memset(&q->zs, 0, sizeof(q->zs));
		inflateInit2(&q->zs, -15); q->live = 1;
	}
	q->zs.next_in = (void *)(uintptr_t)cmd->src; q->zs.avail_in = cmd->src_len;
	q->zs.next_out = (void *)(uintptr_t)cmd->dst; q->zs.avail_out = cmd->dst_len;
	r = inflate(&q->zs, Z_NO_FLUSH);
	q->done.consumed = cmd->src_len - q->zs.avail_in;
	q->done.result = cmd->dst_len - q->zs.avail_out;
	q->done.status = r == Z_STREAM_END ? WD_ST_OK : (r == Z_OK || r == Z_BUF_ERROR) ? WD_ST_MORE : WD_ST_CORRUPT;
	if (getenv("WDSTUB_DEBUG")) fprintf(stderr, "stub: r=%d cons=%llu res=%llu\n", r, (unsigned long long)q->done.consumed, (unsigned long long)q->done.result);
	return 0;
}
int wd_reap(struct wd_queue *q, struct wd_cqe *out, int max) { if (!q->have) return 0; *out = q->done; q->have = 0; return 1; }
int wd_wait(struct wd_queue *q, int ms) { return 0; }
