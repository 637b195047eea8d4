// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "wd_test.h"

int wd_test_insmod(const char *name, const char *params)
{
	const char *extra = getenv(WD_SOFT_EXTRA_ENV);
	char path[256], all[512];
	int fd, ret;

	/* A run of the suite on a differently loaded wd_soft (tests/dma.c). */
	if (extra && *extra && !strcmp(name, "wd_soft")) {
		snprintf(all, sizeof(all), "%s %s", params ? params : "", extra);
		params = all;
	}
	snprintf(path, sizeof(path), WD_MODULE_DIR "/%s.ko", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params ? params : "", 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

double wd_test_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int wd_test_rmmod(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

int wd_test_module_loaded(const char *name)
{
	char line[512];
	size_t len = strlen(name);
	FILE *f = fopen("/proc/modules", "r");
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ' ')
			found = 1;
	fclose(f);
	return found;
}

int wd_test_load(const char *soft_params)
{
	int ret;

	if (!wd_test_module_loaded("warpdrive")) {
		ret = wd_test_insmod("warpdrive", NULL);
		if (ret)
			return ret;
	}
	if (!wd_test_module_loaded("wd_soft"))
		return wd_test_insmod("wd_soft", soft_params);
	return 0;
}

int wd_test_unload(void)
{
	int ret;

	if (wd_test_module_loaded("wd_soft")) {
		ret = wd_test_rmmod("wd_soft");
		if (ret)
			return ret;
	}
	if (wd_test_module_loaded("warpdrive"))
		return wd_test_rmmod("warpdrive");
	return 0;
}

int wd_test_devpriv = -1;

int wd_test_devpriv_probe(void)
{
	char buf[32];
	int ret = wd_test_load(NULL);

	if (!ret)
		ret = wd_test_read_file("/sys/class/warpdrive/" WD_TEST_DEV "/flags",
					buf, sizeof(buf));
	if (ret)
		return ret;
	return strtoul(buf, NULL, 0) & WD_DEV_F_DEVPRIV ? 1 : 0;
}

int wd_test_read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

int wd_test_as_nobody(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(99);
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -ECHILD;
	return WEXITSTATUS(status);
}

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

int tq_get(int fd, struct wd_queue_info *info)
{
	info->api_version = WD_API_VERSION;
	return ioctl(fd, WD_IOC_QUEUE_GET, info);
}

int tq_open(struct tq *t, unsigned int sq_entries, int oflags)
{
	void *p;

	memset(t, 0, sizeof(*t));
	t->fd = open(WD_TEST_NODE, O_RDWR | O_CLOEXEC | oflags);
	if (t->fd < 0)
		return -errno;
	t->info.sq_entries = sq_entries;
	if (tq_get(t->fd, &t->info))
		goto err;
	p = mmap(NULL, t->info.ctrl_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 t->fd, t->info.ctrl_offset);
	if (p == MAP_FAILED)
		goto err;
	t->ctrl = p;
	p = mmap(NULL, t->info.sq_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 t->fd, t->info.sq_offset);
	if (p == MAP_FAILED)
		goto err;
	t->sq = p;
	p = mmap(NULL, t->info.cq_size, PROT_READ, MAP_SHARED, t->fd,
		 t->info.cq_offset);
	if (p == MAP_FAILED)
		goto err;
	t->cqh = p;
	t->cq = (struct wd_cqe *)((char *)p + WD_CQ_HDR_SIZE);
	return 0;
err:
	{
		int ret = -errno;

		tq_close(t);
		return ret;
	}
}

void tq_close(struct tq *t)
{
	if (t->ctrl)
		munmap(t->ctrl, t->info.ctrl_size);
	if (t->sq)
		munmap(t->sq, t->info.sq_size);
	if (t->cqh)
		munmap(t->cqh, t->info.cq_size);
	if (t->fd >= 0)
		close(t->fd);
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}

int tq_submit(struct tq *t, const struct wd_cmd *cmd)
{
	unsigned int tail = t->ctrl->sq_tail;
	unsigned int head = __atomic_load_n(&t->cqh->sq_head, __ATOMIC_ACQUIRE);

	if (tail - head >= t->info.sq_entries)
		return -EAGAIN;
	t->sq[tail & (t->info.sq_entries - 1)] = *cmd;
	__atomic_store_n(&t->ctrl->sq_tail, tail + 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&t->cqh->flags, __ATOMIC_RELAXED) & WD_CQ_F_NEED_WAKEUP)
		if (ioctl(t->fd, WD_IOC_KICK, 0))
			return -errno;
	return 0;
}

int tq_reap(struct tq *t, struct wd_cqe *cqe, int timeout_ms)
{
	unsigned int head = t->ctrl->cq_head;

	for (;;) {
		struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
		unsigned int tail = __atomic_load_n(&t->cqh->cq_tail, __ATOMIC_ACQUIRE);
		int ret;

		if (tail != head) {
			*cqe = t->cq[head & (t->info.cq_entries - 1)];
			__atomic_store_n(&t->ctrl->cq_head, head + 1, __ATOMIC_RELEASE);
			return 0;
		}
		if (t->cqh->flags & WD_CQ_F_DEAD)
			return -ENODEV;
		ret = poll(&pfd, 1, timeout_ms);
		if (ret < 0)
			return -errno;
		if (ret == 0)
			return -ETIMEDOUT;
		if (pfd.revents & (POLLERR | POLLHUP) && !(pfd.revents & POLLIN))
			return -ENODEV;
	}
}

int tq_run(struct tq *t, const struct wd_cmd *cmd, struct wd_cqe *cqe)
{
	int ret = tq_submit(t, cmd);

	return ret ? ret : tq_reap(t, cqe, 30000);
}

uint32_t wd_test_crc32c(uint32_t crc, const void *buf, size_t len)
{
	static uint32_t table[256];
	const uint8_t *p = buf;
	int i, k;

	if (!table[1])
		for (i = 0; i < 256; i++) {
			uint32_t c = i;

			for (k = 0; k < 8; k++)
				c = (c >> 1) ^ (0x82f63b78 & -(c & 1));
			table[i] = c;
		}
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

int wd_test_remove_device(int idx)
{
	char buf[8];
	int fd, n, ret = 0;

	fd = open("/sys/kernel/debug/wd_soft/remove", O_WRONLY);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%d", idx);
	if (write(fd, buf, n) != n)
		ret = -errno;
	close(fd);
	return ret;
}

/* Device MMU helpers shared by the mmu and mmu_hard tests. */

/* VmPin of this process, in kB. */
long wd_test_vm_pin_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmPin:", 6))
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

int wd_test_set_mode(int fd, uint32_t mode)
{
	struct wd_mmu_mode m = { .mode = mode };

	return ioctl(fd, WD_IOC_MMU_MODE, &m) ? -errno : (int)m.mode;
}

int wd_test_share(int fd, void *addr, size_t len, uint32_t access)
{
	struct wd_share_req r = { .addr = (uintptr_t)addr, .len = len, .access = access };

	return ioctl(fd, WD_IOC_SHARE, &r) ? -errno : 0;
}

int wd_test_unshare(int fd, void *addr, size_t len)
{
	struct wd_share_req r = { .addr = (uintptr_t)addr, .len = len };

	return ioctl(fd, WD_IOC_UNSHARE, &r) ? -errno : 0;
}

/* Open a queue whose context is in @mode (the mode is set before binding). */
int tq_open_mode(struct tq *t, uint32_t mode)
{
	struct wd_queue_info info = { .sq_entries = 16 };
	void *p;

	memset(t, 0, sizeof(*t));
	t->fd = open(WD_TEST_NODE, O_RDWR);
	if (t->fd < 0 || wd_test_set_mode(t->fd, mode) != (int)mode)
		return -1;
	if (tq_get(t->fd, &info))
		return -1;
	t->info = info;
	p = mmap(NULL, info.ctrl_size, PROT_READ | PROT_WRITE, MAP_SHARED, t->fd, info.ctrl_offset);
	t->ctrl = p;
	p = mmap(NULL, info.sq_size, PROT_READ | PROT_WRITE, MAP_SHARED, t->fd, info.sq_offset);
	t->sq = p;
	p = mmap(NULL, info.cq_size, PROT_READ, MAP_SHARED, t->fd, info.cq_offset);
	t->cqh = p;
	t->cq = (struct wd_cqe *)((char *)p + WD_CQ_HDR_SIZE);
	return (t->ctrl == MAP_FAILED || t->sq == MAP_FAILED || p == MAP_FAILED) ? -1 : 0;
}

/* A COPY of @len bytes tagged @tag, run to its completion in @cqe. */
static int tq_run_copy(struct tq *t, void *dst, const void *src, size_t len,
		       uint64_t tag, struct wd_cqe *cqe)
{
	struct wd_cmd c = {
		.opcode = WD_OP_COPY, .tag = tag,
		.src = (uintptr_t)src, .src_len = len,
		.dst = (uintptr_t)dst, .dst_len = len,
	};

	return tq_run(t, &c, cqe);
}

uint32_t tq_copy(struct tq *t, void *dst, const void *src, size_t len)
{
	struct wd_cqe cqe;

	return tq_run_copy(t, dst, src, len, 1, &cqe) ? 0xdead : cqe.status;
}

int tq_dev_copy(struct tq *t, void *dst, const void *src, size_t len)
{
	struct wd_cqe cqe;

	return tq_run_copy(t, dst, src, len, 7, &cqe) ? -1 : (int)cqe.status;
}

uint32_t tq_crc(struct tq *t, const void *src, size_t len, uint32_t *crc)
{
	struct wd_cmd c = {
		.opcode = WD_OP_CRC32C, .tag = 2,
		.src = (uintptr_t)src, .src_len = len,
	};
	struct wd_cqe cqe;

	if (tq_run(t, &c, &cqe))
		return 0xdead;
	*crc = (uint32_t)cqe.result;
	return cqe.status;
}

void *wd_test_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void wd_test_fill_text(char *buf, size_t len, unsigned int seed,
		       unsigned int nwords)
{
	static const char *const words[] = {
		"accelerator ", "queue ", "memory ", "page ", "fault ",
		"kernel ", "mirror ", "device ", "ring ", "zlib ", "tenant ",
		"stall ", "engine ", "cancel ", "lock ", "thread ",
	};
	size_t i = 0;

	while (i < len) {
		const char *w = words[(seed = seed * 1103515245 + 12345) >> 16 &
				      (nwords - 1)];
		size_t n = strlen(w);

		if (n > len - i)
			n = len - i;
		memcpy(buf + i, w, n);
		i += n;
	}
}

int wd_test_drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[0].effective &= ~(1U << CAP_IPC_LOCK);
	d[0].permitted &= ~(1U << CAP_IPC_LOCK);
	return syscall(SYS_capset, &h, d);
}

int wd_test_reload_soft(const char *params)
{
	int i, ret = -1;

	/* The module is pinned until the last file and mapping go. */
	for (i = 0; i < 50 && ret; i++) {
		ret = wd_test_rmmod("wd_soft");
		if (ret)
			usleep(100000);
	}
	return ret ? ret : wd_test_insmod("wd_soft", params);
}

void wd_test_qmp(const char *verb, const char *name)
{
	/* A line of its own on the results port, which the host watches. */
	fflush(stdout);
	printf("\n@@QMP %s %s\n", verb, name);
	fflush(stdout);
}

int wd_test_pci_wait(const char *bdf, int present, int timeout_s)
{
	char path[128];
	int i;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	for (i = 0; i < timeout_s * 10; i++) {
		if ((access(path, F_OK) == 0) == !!present)
			return 0;
		usleep(100 * 1000);
	}
	return -ETIMEDOUT;
}

long long wd_test_stat(const char *name)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), "/sys/class/warpdrive/" WD_TEST_DEV "/stats/%s", name);
	if (wd_test_read_file(path, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, 10);
}

int wd_test_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

unsigned long long wd_test_read_u64(const char *path)
{
	char buf[64];

	if (wd_test_read_file(path, buf, sizeof(buf)))
		return ~0ULL;
	return strtoull(buf, NULL, 0);
}

int wd_test_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -errno;
}

long wd_test_minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

int wd_test_all(const char *p, size_t len, char v)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

/* Device memory regions, shared by the devmem and bar tests. */

int wd_test_dev_open(const char *node)
{
	return open(node, O_RDWR | O_CLOEXEC);
}

int wd_test_region_create(int dev, uint64_t size, uint32_t flags,
			  uint32_t fault_around)
{
	struct wd_region_create c = {
		.size = size, .flags = flags, .fault_around = fault_around,
	};

	return ioctl(dev, WD_IOC_REGION_CREATE, &c) ? -errno : (int)c.fd;
}

int wd_test_new_region(const char *node, uint64_t size, uint32_t flags,
		       uint32_t fault_around)
{
	int dev = wd_test_dev_open(node), fd;

	if (dev < 0)
		return -errno;
	fd = wd_test_region_create(dev, size, flags, fault_around);
	close(dev);
	return fd;
}

char *wd_test_map(int fd, size_t len, int prot, int flags, off_t off)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED | flags, fd, off);

	return p == MAP_FAILED ? NULL : p;
}

char *wd_test_map_rw(int fd, size_t len)
{
	return wd_test_map(fd, len, PROT_READ | PROT_WRITE, 0, 0);
}

char *wd_test_map_aligned(int fd, size_t len, size_t align)
{
	char *a = mmap(NULL, len + align, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;

	if (a == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)a + align - 1) & ~(uintptr_t)(align - 1));
	if (mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 0) != p)
		return NULL;
	return p;
}

int wd_test_populate(int fd, void *addr, size_t len, uint64_t *done)
{
	struct wd_region_populate p = { .addr = (uintptr_t)addr, .len = len };
	int ret = ioctl(fd, WD_REGION_IOC_POPULATE, &p) ? -errno : 0;

	if (done)
		*done = p.done;
	return ret;
}

int wd_test_region_info(int fd, struct wd_region_info *i)
{
	memset(i, 0, sizeof(*i));
	return ioctl(fd, WD_REGION_IOC_INFO, i) ? -errno : 0;
}

uint64_t wd_test_resident(int fd)
{
	struct wd_region_info i;

	return wd_test_region_info(fd, &i) ? ~0ULL : i.resident;
}

int wd_test_punch(int fd, off_t off, off_t len)
{
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
			 len) ? -errno : 0;
}

void wd_test_touch(char *p, size_t len, char v)
{
	size_t i;

	for (i = 0; i < len; i += 4096)
		((volatile char *)p)[i] = v;
}

/*
 * Pages go back to the pool when the last mapping and fd are gone, which
 * for an exiting process may be a moment after waitpid(): wait for it.
 */
unsigned long long wd_test_wait_used(const char *sysdev,
				     unsigned long long want)
{
	char path[512];
	unsigned long long used;
	int i;

	snprintf(path, sizeof(path), "%sdevmem_used", sysdev);
	used = wd_test_read_u64(path);
	for (i = 0; i < 500 && used != want; i++) {
		usleep(10000);
		used = wd_test_read_u64(path);
	}
	return used;
}

int wd_test_inflate(const void *src, size_t len, void *dst, size_t cap,
		    int wbits, size_t *out)
{
	z_stream zs = { 0 };
	int ret;

	if (inflateInit2(&zs, wbits) != Z_OK)
		return -1;
	zs.next_in = (void *)src;
	zs.avail_in = len;
	zs.next_out = dst;
	zs.avail_out = cap;
	ret = inflate(&zs, Z_FINISH);
	*out = zs.total_out;
	if (zs.avail_in)
		ret = Z_DATA_ERROR;	/* something after the stream */
	inflateEnd(&zs);
	return ret == Z_STREAM_END ? 0 : -1;
}
