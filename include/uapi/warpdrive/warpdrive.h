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

/* Version of this ABI; bumped only on incompatible changes. */
#define WD_API_VERSION		1

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

/**
 * struct wd_info - what WD_IOC_INFO reports about the device (output only).
 * @api_version: WD_API_VERSION of the running kernel module.
 * @flags: WD_DEV_F_* capabilities.
 * @algorithms: WD_ALG_* bits.
 * @queues_total: hardware queues the device has.
 * @queues_free: queues not bound to any context right now.
 * @pad: zero.
 * @devmem_size: bytes of device memory.
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
	__u64 reserved[8];
};

#define WD_IOC_MAGIC		0xDA
#define WD_IOC_INFO		_IOWR(WD_IOC_MAGIC, 0x00, struct wd_info)

#endif /* _UAPI_WARPDRIVE_H */
