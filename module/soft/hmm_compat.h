/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The test_hmm ABI as WarpDrive implements it.
 *
 * A test interface, not public uapi: it lives beside the driver, is not
 * installed by `make install`, and only the test suite and wdbench (built
 * from this tree, with -Imodule/soft) include it.
 *
 * wd_soft's /dev/hmm_dmirrorN nodes (module parameter hmm_compat=1) answer
 * the ioctls of the kernel's test_hmm module, as defined by its private
 * header lib/test_hmm_uapi.h in the 6.1 tree, so that the kernel's own
 * selftest (tools/testing/selftests/vm/hmm-tests.c) runs against WarpDrive.
 * This header restates that interface - request numbers, argument layout,
 * snapshot byte values - under WarpDrive names; it must stay binary
 * identical to the kernel's.
 */
#ifndef _WD_HMM_COMPAT_H
#define _WD_HMM_COMPAT_H

#include <linux/types.h>
#include <linux/ioctl.h>

/**
 * struct wd_hmm_cmd - argument of every request
 * @addr: in: page-aligned address in the caller's address space.
 * @ptr: in: user buffer the device copies to (READ, migrations, EXCLUSIVE),
 *       from (WRITE), or where SNAPSHOT writes one byte per page.
 * @npages: in: pages from @addr, not 0.
 * @cpages: out: pages handled.
 * @faults: out: device faults taken (READ, WRITE).
 */
struct wd_hmm_cmd {
	__u64 addr;
	__u64 ptr;
	__u64 npages;
	__u64 cpages;
	__u64 faults;
};

#define WD_HMM_READ		_IOWR('H', 0x00, struct wd_hmm_cmd)
#define WD_HMM_WRITE		_IOWR('H', 0x01, struct wd_hmm_cmd)
#define WD_HMM_MIGRATE_TO_DEV	_IOWR('H', 0x02, struct wd_hmm_cmd)
#define WD_HMM_MIGRATE_TO_SYS	_IOWR('H', 0x03, struct wd_hmm_cmd)
#define WD_HMM_SNAPSHOT		_IOWR('H', 0x04, struct wd_hmm_cmd)
#define WD_HMM_EXCLUSIVE	_IOWR('H', 0x05, struct wd_hmm_cmd)
#define WD_HMM_CHECK_EXCLUSIVE	_IOWR('H', 0x06, struct wd_hmm_cmd)
#define WD_HMM_RELEASE		_IOWR('H', 0x07, struct wd_hmm_cmd)

/* SNAPSHOT: one byte per page. */
#define WD_HMM_PROT_ERROR		0xff	/* no VMA, or not mirrorable */
#define WD_HMM_PROT_NONE		0x00	/* not populated, or no access */
#define WD_HMM_PROT_READ		0x01
#define WD_HMM_PROT_WRITE		0x02
#define WD_HMM_PROT_PMD			0x04	/* mapped by a PMD */
#define WD_HMM_PROT_PUD			0x08	/* mapped by a PUD */
#define WD_HMM_PROT_ZERO		0x10	/* the shared zero page */
#define WD_HMM_PROT_DEV_PRIVATE_LOCAL	0x20	/* on this device */
#define WD_HMM_PROT_DEV_PRIVATE_REMOTE	0x30	/* on another device */
#define WD_HMM_PROT_DEV_COHERENT_LOCAL	0x40
#define WD_HMM_PROT_DEV_COHERENT_REMOTE	0x50

#endif /* _WD_HMM_COMPAT_H */
