/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the WarpDrive test programs (run inside the guest). */
#ifndef WD_TEST_H
#define WD_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WD_MODULE_DIR	"/wd/modules"
#define WD_TEST_DEV	"wd_soft0"
#define WD_TEST_NODE	"/dev/warpdrive/" WD_TEST_DEV

/*
 * finit_module() of WD_MODULE_DIR/<name>.ko; returns 0 or -errno. For
 * wd_soft, the parameters in the environment variable WD_SOFT_EXTRA_ENV
 * (if set) are added to @params: tests/dma.c runs other programs so.
 */
#define WD_SOFT_EXTRA_ENV	"WD_SOFT_EXTRA"
int wd_test_insmod(const char *name, const char *params);
/* delete_module(name, O_NONBLOCK); returns 0 or -errno. */
int wd_test_rmmod(const char *name);
/* Is the module listed in /proc/modules? */
int wd_test_module_loaded(const char *name);
/* Load warpdrive and wd_soft (with @soft_params) unless already loaded. */
int wd_test_load(const char *soft_params);
/* Unload wd_soft and warpdrive; 0 or -errno. */
int wd_test_unload(void);
/* Seconds on CLOCK_MONOTONIC (for bounds on how long a loop may run). */
double wd_test_now(void);

/* Unregister wd_soft device @idx now (debugfs wd_soft/remove); 0 or -errno. */
int wd_test_remove_device(int idx);
/* Read a whole small file into @buf (NUL-terminated, newline stripped). */
int wd_test_read_file(const char *path, char *buf, size_t len);
/* Run @fn in a child as user/group 65534; returns the child's exit code. */
int wd_test_as_nobody(int (*fn)(void *), void *arg);

/*
 * Device-private memory needs a kernel built with CONFIG_DEVICE_PRIVATE
 * (Debian's stock kernels are not). wd_test_devpriv_probe() tells from
 * the flags of WD_TEST_DEV as wd_soft makes it with its defaults (loading
 * it if it is not loaded; the suite leaves it so between programs): 1 if
 * WD_DEV_F_DEVPRIV is set, 0 if not, -errno if the flags cannot be read.
 * Programs probe once, in a constructor, before any test reloads wd_soft;
 * WD_NEED_DEVPRIV() then SKIPs a kselftest_harness test that needs it.
 */
int wd_test_devpriv_probe(void);
extern int wd_test_devpriv;
#define WD_NEED_DEVPRIV()						\
	do {								\
		if (wd_test_devpriv <= 0)				\
			SKIP(return, "no device-private memory: kernel without CONFIG_DEVICE_PRIVATE"); \
	} while (0)

#endif

#include <warpdrive/warpdrive.h>

/* A queue driven through the raw ABI, for tests that need to misbehave. */
struct tq {
	int fd;
	struct wd_queue_info info;
	struct wd_ctrl *ctrl;
	struct wd_cmd *sq;
	struct wd_cq_hdr *cqh;
	struct wd_cqe *cq;
};

/* WD_IOC_QUEUE_GET on @fd with @info, as this ABI version; 0 or -1/errno. */
int tq_get(int fd, struct wd_queue_info *info);
/* Open WD_TEST_NODE (with @oflags), bind a queue and map its rings. */
int tq_open(struct tq *t, unsigned int sq_entries, int oflags);
void tq_close(struct tq *t);
/* Put @cmd in the next slot and publish it; kicks if the engine sleeps. */
int tq_submit(struct tq *t, const struct wd_cmd *cmd);
/* Wait up to @timeout_ms for the next completion and consume it. */
int tq_reap(struct tq *t, struct wd_cqe *cqe, int timeout_ms);
/* Submit one command and wait for its completion. */
int tq_run(struct tq *t, const struct wd_cmd *cmd, struct wd_cqe *cqe);

/* Device MMU helpers (mmu, mmu_hard). */
/* VmPin of this process, in kB. */
long wd_test_vm_pin_kb(void);
/* WD_IOC_MMU_MODE: the mode now, or -errno. */
int wd_test_set_mode(int fd, uint32_t mode);
/* WD_IOC_SHARE / WD_IOC_UNSHARE: 0 or -errno. */
int wd_test_share(int fd, void *addr, size_t len, uint32_t access);
int wd_test_unshare(int fd, void *addr, size_t len);
/* Like tq_open(), on a context switched to @mode before binding. */
int tq_open_mode(struct tq *t, uint32_t mode);
/* Run a COPY or a CRC32C; the completion status (0xdead if none came). */
uint32_t tq_copy(struct tq *t, void *dst, const void *src, size_t len);
uint32_t tq_crc(struct tq *t, const void *src, size_t len, uint32_t *crc);
/* A private anonymous read-write mapping, or NULL. */
void *wd_test_anon(size_t len);
/* Drop CAP_IPC_LOCK (effective and permitted) from this thread: 0 or -1. */
int wd_test_drop_ipc_lock(void);
/* Reload wd_soft with @params once nothing uses it (waits up to 5 s). */
int wd_test_reload_soft(const char *params);
/* stats/<name> of WD_TEST_DEV, or -1 if it cannot be read. */
long long wd_test_stat(const char *name);

/*
 * Text-like, compressible, reproducible data: words drawn from the first
 * @nwords (8 or 16) of a fixed list by a generator seeded with @seed.
 */
void wd_test_fill_text(char *buf, size_t len, unsigned int seed,
		       unsigned int nwords);

/* CRC-32C in software, chained like WD_OP_CRC32C (seed 0 to start). */
uint32_t wd_test_crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * Inflate @src (@len bytes, all of them one stream) with the system zlib,
 * @wbits as inflateInit2() takes it; *@out gets the bytes written. 0 if
 * the stream ended exactly at the end of the input, else -1.
 */
int wd_test_inflate(const void *src, size_t len, void *dst, size_t cap,
		    int wbits, size_t *out);

/*
 * PCI devices of the guest (vm/run.py PCI_DEVICES): QEMU id and the guest
 * address it gets. wd_test_qmp() asks the host to "unplug" or "replug" one
 * (vm/run.py carries it out on QEMU's QMP monitor); wd_test_pci_wait()
 * waits until the guest sees @bdf present or gone, up to @timeout_s.
 */
#define WD_PCI_WDCRYPTO		"0000:01:00.0"
#define WD_PCI_BASECRYPTO	"0000:02:00.0"
void wd_test_qmp(const char *verb, const char *name);
int wd_test_pci_wait(const char *bdf, int present, int timeout_s);

/*
 * Run the shell command made from @fmt with system(); its exit status, or
 * 128 if it did not exit (the command is cut at 2047 characters).
 */
int wd_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A small file's number (any base strtoull() reads), or ~0ULL. */
unsigned long long wd_test_read_u64(const char *path);
/* Write @s to @path at once: 0, or -errno (a short write too). */
int wd_test_write_str(const char *path, const char *s);
/* Minor page faults this process has taken so far. */
long wd_test_minflt(void);
/* Are all @len bytes at @p equal to @v? */
int wd_test_all(const char *p, size_t len, char v);

/*
 * Device memory regions (devmem, bar). @node is the device node a region
 * is made on, @sysdev the device's /sys/class/warpdrive/<name>/ (with the
 * '/'); both as the test found its device.
 */
int wd_test_dev_open(const char *node);
/* WD_IOC_REGION_CREATE on the open device @dev: the region's fd or -errno. */
int wd_test_region_create(int dev, uint64_t size, uint32_t flags,
			  uint32_t fault_around);
/* A region on a device file of its own, closed again: its fd or -errno. */
int wd_test_new_region(const char *node, uint64_t size, uint32_t flags,
		       uint32_t fault_around);
/* A MAP_SHARED (| @flags) mapping of @fd, or NULL. */
char *wd_test_map(int fd, size_t len, int prot, int flags, off_t off);
/* wd_test_map() of @len from offset 0, read-write. */
char *wd_test_map_rw(int fd, size_t len);
/* Map @len of @fd at an address aligned to @align, so windows are known. */
char *wd_test_map_aligned(int fd, size_t len, size_t align);
/* WD_REGION_IOC_POPULATE: 0 or -errno; the bytes done into @done if set. */
int wd_test_populate(int fd, void *addr, size_t len, uint64_t *done);
/* WD_REGION_IOC_INFO into @i: 0 or -errno. */
int wd_test_region_info(int fd, struct wd_region_info *i);
/* Bytes of device memory the region holds now, or ~0ULL. */
uint64_t wd_test_resident(int fd);
/* Punch a hole (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE): 0 or -errno. */
int wd_test_punch(int fd, off_t off, off_t len);
/* Write @v to the first byte of every 4 KiB page of [p, p + len). */
void wd_test_touch(char *p, size_t len, char v);
/* Wait (up to 5 s) for @sysdev's devmem_used to be @want; returns it. */
unsigned long long wd_test_wait_used(const char *sysdev,
				     unsigned long long want);
/*
 * As tq_copy(), the form the devmem and bar tests use: tag 7, the status
 * as an int, -1 if no completion came.
 */
int tq_dev_copy(struct tq *t, void *dst, const void *src, size_t len);
