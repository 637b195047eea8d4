/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef LIBWD_INTERNAL_H
#define LIBWD_INTERNAL_H

#include <sys/types.h>

#include "libwd.h"

/* An open device: one context in the kernel. */
struct wd_dev {
	int fd;
	char name[WD_NAME_MAX];
	struct wd_queue *queue;		/* bound queue or NULL */
};

/*
 * A bound queue and its three mappings. @sq_tail and @cq_head are this
 * process's copies of the indices it owns (published in @ctrl); the
 * kernel's indices are read from @cq_hdr.
 */
struct wd_queue {
	struct wd_dev *dev;
	int fd;
	pid_t pid;			/* the process the rings are mapped in */
	uint32_t queue_id;
	uint32_t sq_entries;
	uint32_t cq_entries;
	struct wd_ctrl *ctrl;
	struct wd_cmd *sq;
	const struct wd_cq_hdr *cq_hdr;
	const struct wd_cqe *cqes;
	size_t ctrl_size;
	size_t sq_size;
	size_t cq_size;
	uint32_t sq_tail;
	uint32_t cq_head;
	uint32_t untaken_done;		/* after removal: NODEV reported by us */
	uint64_t kicks;
	uint64_t next_tag;		/* for the blocking helpers */
};

int wd_cmd_start(struct wd_queue *q, struct wd_cmd *cmd);
int wd_cmd_finish(struct wd_queue *q, const struct wd_cmd *cmd,
		  struct wd_cqe *cqe);

int wd_sysfs_read(const char *name, const char *attr, char *buf, size_t len);
int wd_sysfs_read_u64(const char *name, const char *attr, uint64_t *val);

#endif
