// SPDX-License-Identifier: GPL-2.0
/*
 * wdctl: list WarpDrive devices and what they offer.
 *
 *   wdctl [--json]            every device
 *   wdctl show NAME [--json]  one device, with its live figures and stats
 *   wdctl top [-n N] [-d SECS] [--json]
 *                             live rates of every device, refreshed
 *
 * Everything comes from sysfs (and debugfs for top's per-process rows):
 * no command opens the device node, so
 * they work for users who may not open it.
 *
 * Attributes a module may not have (queues_free, devmem_free/used, stats/)
 * show as "-" (null in JSON).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libwd.h"

static const char *const flag_names[] = {
	"queues", "sva", "pinned", "devmem", "devpriv",
};

/* Counters in the device's sysfs stats/ directory. */
static const char *const stat_names[] = {
	"commands_completed", "commands_failed", "bytes_read", "bytes_written",
	"kicks", "device_faults", "pages_faulted", "invalidations",
	"pinned_pages", "devmem_faults", "devmem_pages_mapped",
	"devmem_held_pages",
	"pinned_pages", "devpriv_pages", "migrated_to_device",
	"migrated_to_system", "cpu_faults", "evicted_pages",
};

/* Device memory figures (bytes) in sysfs, next to devmem_size. */
static const char *const mem_names[] = {
	"devmem_free", "devmem_used", "devmem_user_quota",
};

#define NR_MEM		(sizeof(mem_names) / sizeof(mem_names[0]))

static void read_mem(const char *dev, uint64_t *val, int *ok)
{
	size_t i;

	for (i = 0; i < NR_MEM; i++)
		ok[i] = !wd_dev_attr_u64(dev, mem_names[i], &val[i]);
}

/* "16 MiB" or "32 KiB" */
static const char *size_str(uint64_t bytes, char *buf, size_t len)
{
	if (bytes && !(bytes & ((1 << 20) - 1)))
		snprintf(buf, len, "%llu MiB", (unsigned long long)(bytes >> 20));
	else
		snprintf(buf, len, "%llu KiB", (unsigned long long)(bytes >> 10));
	return buf;
}

#define NR_STATS	(sizeof(stat_names) / sizeof(stat_names[0]))

/* Read stats/NAME for each counter; *ok[i] says whether it was there. */
static void read_stats(const char *dev, uint64_t *val, int *ok)
{
	char attr[64];
	size_t i;

	for (i = 0; i < NR_STATS; i++) {
		snprintf(attr, sizeof(attr), "stats/%s", stat_names[i]);
		ok[i] = !wd_dev_attr_u64(dev, attr, &val[i]);
	}
}

static void print_flags(uint32_t flags, int json)
{
	int first = 1;
	size_t i;

	for (i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
		if (!(flags & (1U << i)))
			continue;
		printf(json ? "%s\"%s\"" : "%s%s", first ? "" : json ? ", " : ",",
		       flag_names[i]);
		first = 0;
	}
	if (first && !json)
		printf("-");
}

static void print_algs(uint32_t algs, int json)
{
	int first = 1;
	uint32_t bit;

	for (bit = 1; bit; bit <<= 1) {
		const char *n = (algs & bit) ? wd_alg_name(bit) : NULL;

		if (!n)
			continue;
		printf(json ? "%s\"%s\"" : "%s%s", first ? "" : json ? ", " : ",", n);
		first = 0;
	}
	if (first && !json)
		printf("-");
}

/*
 * The first line of @path into @buf, without its newline; "" and false if
 * the file cannot be read (an attribute an older module lacks).
 */
static bool read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	bool ok;

	buf[0] = '\0';
	if (!f)
		return false;
	ok = fgets(buf, (int)len, f) != NULL;
	if (!ok)
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/*
 * Where the device memory is and how it is mapped (sysfs devmem_mode:
 * "ram", "pages", "pfnmap" or "pfnmap wc"); "" if the module has no such
 * attribute (an older one).
 */
static void devmem_mode(const char *name, char *buf, size_t len)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/class/warpdrive/%s/devmem_mode",
		 name);
	read_line(path, buf, len);
}

/*
 * wd_soft's engines= mode ("" for other drivers or an older module) and,
 * where debugfs is readable (root), its number of shared units (else -1).
 */
static void soft_engines(const struct wd_dev_desc *d, char *buf, size_t len,
			 int *units)
{
	char line[64];
	FILE *f;

	buf[0] = '\0';
	*units = -1;
	if (strncmp(d->api, "wd_soft", 7) ||
	    !read_line("/sys/module/wd_soft/parameters/engines", buf, len))
		return;
	f = fopen("/sys/kernel/debug/wd_soft/engines", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "cores %d", units) == 1)
			break;
	fclose(f);
}

static void print_json(const struct wd_dev_desc *d)
{
	char mode[32];
	uint64_t stats[NR_STATS], mem[NR_MEM], free_q, devpriv;
	int ok[NR_STATS], mok[NR_MEM], units;
	size_t i;

	printf("{\"name\": \"%s\", \"api\": \"%s\", \"api_version\": %u, ",
	       d->name, d->api, d->api_version);
	printf("\"flags\": [");
	print_flags(d->flags, 1);
	printf("], \"algorithms\": [");
	print_algs(d->algorithms, 1);
	printf("], \"queues_total\": %u, \"devmem_size\": %llu",
	       d->queues_total, (unsigned long long)d->devmem_size);
	devmem_mode(d->name, mode, sizeof(mode));
	if (mode[0])
		printf(", \"devmem_mode\": \"%s\"", mode);
	else
		printf(", \"devmem_mode\": null");
	if (!wd_dev_attr_u64(d->name, "devpriv_size", &devpriv))
		printf(", \"devpriv_size\": %llu", (unsigned long long)devpriv);
	else
		printf(", \"devpriv_size\": null");
	soft_engines(d, mode, sizeof(mode), &units);
	if (mode[0])
		printf(", \"engines\": \"%s\"", mode);
	else
		printf(", \"engines\": null");
	if (units >= 0)
		printf(", \"engine_units\": %d", units);
	else
		printf(", \"engine_units\": null");
	if (!wd_dev_attr_u64(d->name, "queues_free", &free_q))
		printf(", \"queues_free\": %llu", (unsigned long long)free_q);
	else
		printf(", \"queues_free\": null");
	read_mem(d->name, mem, mok);
	for (i = 0; i < NR_MEM; i++) {
		if (mok[i])
			printf(", \"%s\": %llu", mem_names[i],
			       (unsigned long long)mem[i]);
		else
			printf(", \"%s\": null", mem_names[i]);
	}
	read_stats(d->name, stats, ok);
	printf(", \"stats\": {");
	for (i = 0; i < NR_STATS; i++) {
		printf("%s\"%s\": ", i ? ", " : "", stat_names[i]);
		if (ok[i])
			printf("%llu", (unsigned long long)stats[i]);
		else
			printf("null");
	}
	printf("}}");
}

static void print_row(const struct wd_dev_desc *d)
{
	char queues[32], mem[48];
	uint64_t free_q, free_m;

	if (!wd_dev_attr_u64(d->name, "queues_free", &free_q))
		snprintf(queues, sizeof(queues), "%llu/%u",
			 (unsigned long long)free_q, d->queues_total);
	else
		snprintf(queues, sizeof(queues), "-/%u", d->queues_total);
	if (!wd_dev_attr_u64(d->name, "devmem_free", &free_m))
		snprintf(mem, sizeof(mem), "%llu/%llu",
			 (unsigned long long)(free_m >> 20),
			 (unsigned long long)(d->devmem_size >> 20));
	else
		snprintf(mem, sizeof(mem), "-/%llu",
			 (unsigned long long)(d->devmem_size >> 20));
	printf("%-12s %-12s %7s %10s  ", d->name, d->api, queues, mem);
	print_flags(d->flags, 0);
	printf("  ");
	print_algs(d->algorithms, 0);
	printf("\n");
}

static int cmd_list(int json)
{
	struct wd_dev_desc descs[64];
	int n, i;

	n = wd_list_devices(descs, 64);
	if (n < 0) {
		fprintf(stderr, "wdctl: %s\n", wd_strerror(n));
		return 1;
	}
	if (n > 64)
		n = 64;
	if (json) {
		printf("[");
		for (i = 0; i < n; i++) {
			printf(i ? ",\n " : "");
			print_json(&descs[i]);
		}
		printf("]\n");
		return 0;
	}
	if (n == 0) {
		printf("no WarpDrive devices (is wd_soft loaded?)\n");
		return 0;
	}
	printf("%-12s %-12s %7s %10s  %s  %s\n", "DEVICE", "API", "QUEUES",
	       "DEVMEM_MB", "FLAGS", "ALGORITHMS");
	for (i = 0; i < n; i++)
		print_row(&descs[i]);
	return 0;
}

/*
 * Hardware behind a device, when its driver describes it: wd_vcrypto puts
 * "key value" lines (PCI function, IOMMU group, virtqueues...) in the
 * attribute "vcrypto" of the parent (virtio) device.
 */
static void print_hw(const char *name)
{
	char path[256], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/warpdrive/%s/device/vcrypto",
		 name);
	f = fopen(path, "r");
	if (!f)
		return;
	printf("hardware:\n");
	while (fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' ');

		line[strcspn(line, "\n")] = 0;
		if (sp) {
			*sp = 0;
			printf("  %-20s %s\n", line, sp + 1);
		} else {
			printf("  %s\n", line);
		}
	}
	fclose(f);
}

static int cmd_show(const char *name, int json)
{
	uint64_t stats[NR_STATS], mem[NR_MEM], free_q, devpriv;
	int ok[NR_STATS], mok[NR_MEM], units;
	char b1[32], b2[32], b3[32], mode[32];
	struct wd_dev_desc d;
	size_t i;
	int ret;

	ret = wd_describe(name, &d);
	if (ret) {
		fprintf(stderr, "wdctl: %s: %s\n", name,
			ret == -ENOENT ? "no such device" : wd_strerror(ret));
		return 1;
	}
	if (json) {
		print_json(&d);
		printf("\n");
		return 0;
	}
	printf("device:       %s (/dev/warpdrive/%s)\n", d.name, d.name);
	printf("api:          %s (framework ABI %u)\n", d.api, d.api_version);
	printf("flags:        ");
	print_flags(d.flags, 0);
	printf("\nalgorithms:   ");
	print_algs(d.algorithms, 0);
	if (!wd_dev_attr_u64(name, "queues_free", &free_q))
		printf("\nqueues:       %llu free of %u\n",
		       (unsigned long long)free_q, d.queues_total);
	else
		printf("\nqueues:       - free of %u\n", d.queues_total);
	read_mem(name, mem, mok);
	printf("device mem:   %s", size_str(d.devmem_size, b1, sizeof(b1)));
	devmem_mode(name, mode, sizeof(mode));
	if (mode[0] && strcmp(mode, "none") && strcmp(mode, "ram"))
		printf(" (%s)", mode);
	if (mok[0] && mok[1])
		printf(": %s used, %s free", size_str(mem[1], b2, sizeof(b2)),
		       size_str(mem[0], b3, sizeof(b3)));
	if (mok[2] && mem[2])
		printf("; per-user quota %s", size_str(mem[2], b1, sizeof(b1)));
	else if (mok[2])
		printf("; no per-user quota");
	printf("\n");
	if (!wd_dev_attr_u64(name, "devpriv_size", &devpriv) && devpriv)
		printf("device-private: %llu MiB (HMM)\n",
		       (unsigned long long)(devpriv >> 20));
	soft_engines(&d, mode, sizeof(mode), &units);
	if (mode[0] && !strcmp(mode, "queue"))
		printf("engines:      queue (each queue's thread runs on its own)\n");
	else if (mode[0] && units >= 0)
		printf("engines:      %s (%d execution unit%s shared by the queues)\n",
		       mode, units, units == 1 ? "" : "s");
	else if (mode[0])
		printf("engines:      %s (execution units shared by the queues)\n",
		       mode);
	print_hw(name);
	printf("stats:\n");
	read_stats(name, stats, ok);
	for (i = 0; i < NR_STATS; i++) {
		if (ok[i])
			printf("  %-20s %llu\n", stat_names[i],
			       (unsigned long long)stats[i]);
		else
			printf("  %-20s -\n", stat_names[i]);
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: wdctl [--json]              list devices (QUEUES, DEVMEM_MB: free/total)\n"
		   "       wdctl show NAME [--json]    one device in detail, with stats\n"
		   "       wdctl top [-n N] [-d SECS] [--json]\n"
		   "                                   live view: rates per second over each interval\n"
		   "                                   (default 1 s) until Ctrl-C or N samples;\n"
		   "                                   --json: one object per line per sample\n");
}

/*
 * wdctl top: a live view of every device, from sysfs and debugfs only.
 *
 * Each iteration samples the counters, sleeps the interval, samples again
 * and prints the rates over that interval (per second, from the measured
 * elapsed time) and the current gauges. Per-process rows come from debugfs
 * (warpdrive/<dev>/contexts), shown only where it is readable (root).
 */
#define TOP_MAX_DEV	16
#define TOP_MAX_PROC	64

/* Counters shown as rates, by their stats/ attribute. */
static const char *const top_rate_attrs[] = {
	"commands_completed", "bytes_read", "bytes_written", "device_faults",
	"invalidations", "migrated_to_device", "migrated_to_system",
};

/* Their names in JSON and their column headings. */
static const char *const top_rate_json[] = {
	"commands_per_s", "bytes_in_per_s", "bytes_out_per_s",
	"faults_per_s", "invalidations_per_s", "migrated_to_device_per_s",
	"migrated_to_system_per_s",
};

#define TOP_NR_RATES	(sizeof(top_rate_attrs) / sizeof(top_rate_attrs[0]))

struct top_proc {
	int pid;
	int queue;
	char mode[8];
	uint64_t faults;
	uint64_t invalidations;
};

struct top_dev {
	char name[WD_NAME_MAX];
	unsigned int queues_total;
	uint64_t ctr[TOP_NR_RATES];
	int ctr_ok[TOP_NR_RATES];
	uint64_t queues_free, mem_used, mem_free;
	int qf_ok, mem_ok;
	int nproc;		/* -1: debugfs not readable */
	struct top_proc proc[TOP_MAX_PROC];
};

struct top_sample {
	double t;
	int ndev;
	struct top_dev dev[TOP_MAX_DEV];
};

static double top_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* debugfs <dev>/contexts: a heading, then one line per open file. */
static void top_read_procs(struct top_dev *d)
{
	char path[256], line[256];
	FILE *f;

	d->nproc = -1;
	snprintf(path, sizeof(path), "/sys/kernel/debug/warpdrive/%s/contexts",
		 d->name);
	f = fopen(path, "r");
	if (!f)
		return;
	d->nproc = 0;
	while (fgets(line, sizeof(line), f) && d->nproc < TOP_MAX_PROC) {
		struct top_proc *p = &d->proc[d->nproc];
		unsigned long long faults, pages, inval;

		if (sscanf(line, "%d %7s %d %llu %llu %llu", &p->pid, p->mode,
			   &p->queue, &faults, &pages, &inval) != 6)
			continue;	/* the heading */
		p->faults = faults;
		p->invalidations = inval;
		d->nproc++;
	}
	fclose(f);
}

static void top_sample(struct top_sample *s)
{
	struct wd_dev_desc descs[TOP_MAX_DEV];
	char attr[64];
	size_t j;
	int n, i;

	n = wd_list_devices(descs, TOP_MAX_DEV);
	s->t = top_now();
	s->ndev = n < 0 ? 0 : n > TOP_MAX_DEV ? TOP_MAX_DEV : n;
	for (i = 0; i < s->ndev; i++) {
		struct top_dev *d = &s->dev[i];

		memcpy(d->name, descs[i].name, sizeof(d->name));
		d->queues_total = descs[i].queues_total;
		for (j = 0; j < TOP_NR_RATES; j++) {
			snprintf(attr, sizeof(attr), "stats/%s", top_rate_attrs[j]);
			d->ctr_ok[j] = !wd_dev_attr_u64(d->name, attr, &d->ctr[j]);
		}
		d->qf_ok = !wd_dev_attr_u64(d->name, "queues_free", &d->queues_free);
		d->mem_ok = !wd_dev_attr_u64(d->name, "devmem_used", &d->mem_used) &&
			    !wd_dev_attr_u64(d->name, "devmem_free", &d->mem_free) &&
			    descs[i].devmem_size;
		top_read_procs(d);
	}
}

static const struct top_dev *top_find(const struct top_sample *s,
				      const char *name)
{
	int i;

	for (i = 0; i < s->ndev; i++)
		if (!strcmp(s->dev[i].name, name))
			return &s->dev[i];
	return NULL;
}

static const struct top_proc *top_find_proc(const struct top_dev *d, int pid,
					    int queue)
{
	int i;

	for (i = 0; d && i < d->nproc; i++)
		if (d->proc[i].pid == pid && d->proc[i].queue == queue)
			return &d->proc[i];
	return NULL;
}

/* Rate of counter @j over the interval; -1 if it is not there. */
static double top_rate(const struct top_dev *a, const struct top_dev *b,
		       size_t j, double dt)
{
	if (!a || !a->ctr_ok[j] || !b->ctr_ok[j] || b->ctr[j] < a->ctr[j])
		return -1;
	return (b->ctr[j] - a->ctr[j]) / dt;
}

static void top_comm(int pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(buf, len, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

/* "12.3M" into @buf ("-" for a negative @v: not there) */
static void top_human(double v, char *buf, size_t len)
{
	static const char units[] = " KMGT";
	int u = 0;

	if (v < 0) {
		snprintf(buf, len, "-");
		return;
	}
	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	if (u)
		snprintf(buf, len, "%.1f%c", v, units[u]);
	else
		snprintf(buf, len, "%.0f", v);
}

static void top_print_text(const struct top_sample *a,
			   const struct top_sample *b, int iter, int tty)
{
	double dt = b->t - a->t;
	char c[TOP_NR_RATES][16], qb[24], mb[32], comm[32];
	int i, k;
	size_t j;

	if (tty)
		printf("\033[H\033[2J");
	printf("wdctl top: %d device%s, interval %.2f s, sample %d\n", b->ndev,
	       b->ndev == 1 ? "" : "s", dt, iter);
	printf("%-12s %8s %8s %8s %7s %8s %8s %8s %8s %13s\n", "DEVICE", "CMD/s",
	       "IN B/s", "OUT B/s", "QUEUES", "FAULT/s", "INVAL/s", "MIG>D/s",
	       "MIG>S/s", "DEVMEM U/F MB");
	for (i = 0; i < b->ndev; i++) {
		const struct top_dev *d = &b->dev[i], *p = top_find(a, d->name);

		for (j = 0; j < TOP_NR_RATES; j++)
			top_human(top_rate(p, d, j, dt), c[j], sizeof(c[j]));
		if (d->qf_ok)
			snprintf(qb, sizeof(qb), "%llu/%llu",
				 (unsigned long long)(d->queues_total - d->queues_free),
				 (unsigned long long)d->queues_free);
		else
			snprintf(qb, sizeof(qb), "-");
		if (d->mem_ok)
			snprintf(mb, sizeof(mb), "%llu/%llu",
				 (unsigned long long)(d->mem_used >> 20),
				 (unsigned long long)(d->mem_free >> 20));
		else
			snprintf(mb, sizeof(mb), "-");
		printf("%-12s %8s %8s %8s %7s %8s %8s %8s %8s %13s\n", d->name,
		       c[0], c[1], c[2], qb, c[3], c[4], c[5], c[6], mb);
		for (k = 0; k < d->nproc; k++) {
			const struct top_proc *r = &d->proc[k];
			const struct top_proc *o = top_find_proc(p, r->pid, r->queue);
			char fr[16];

			top_comm(r->pid, comm, sizeof(comm));
			top_human(o && r->faults >= o->faults ?
				  (r->faults - o->faults) / dt : -1, fr, sizeof(fr));
			printf("  pid %-7d %-15s %-6s queue %-3d faults %llu (%s/s) invalidations %llu\n",
			       r->pid, comm, r->mode, r->queue,
			       (unsigned long long)r->faults, fr,
			       (unsigned long long)r->invalidations);
		}
	}
	if (!b->ndev)
		printf("no WarpDrive devices (is wd_soft loaded?)\n");
	fflush(stdout);
}

static void top_print_json(const struct top_sample *a,
			   const struct top_sample *b, int iter)
{
	double dt = b->t - a->t;
	char comm[32];
	int i, k;
	size_t j;

	printf("{\"sample\": %d, \"interval_s\": %.6f, \"devices\": [", iter, dt);
	for (i = 0; i < b->ndev; i++) {
		const struct top_dev *d = &b->dev[i], *p = top_find(a, d->name);

		printf("%s{\"name\": \"%s\", \"queues_total\": %u", i ? ", " : "",
		       d->name, d->queues_total);
		if (d->qf_ok)
			printf(", \"queues_bound\": %llu, \"queues_free\": %llu",
			       (unsigned long long)(d->queues_total - d->queues_free),
			       (unsigned long long)d->queues_free);
		else
			printf(", \"queues_bound\": null, \"queues_free\": null");
		if (d->mem_ok)
			printf(", \"devmem_used\": %llu, \"devmem_free\": %llu",
			       (unsigned long long)d->mem_used,
			       (unsigned long long)d->mem_free);
		else
			printf(", \"devmem_used\": null, \"devmem_free\": null");
		for (j = 0; j < TOP_NR_RATES; j++) {
			double r = top_rate(p, d, j, dt);

			if (r < 0)
				printf(", \"%s\": null", top_rate_json[j]);
			else
				printf(", \"%s\": %.3f", top_rate_json[j], r);
		}
		printf(", \"counters\": {");
		for (j = 0; j < TOP_NR_RATES; j++) {
			printf("%s\"%s\": ", j ? ", " : "", top_rate_attrs[j]);
			if (d->ctr_ok[j])
				printf("%llu", (unsigned long long)d->ctr[j]);
			else
				printf("null");
		}
		printf("}, \"processes\": ");
		if (d->nproc < 0) {
			printf("null}");
			continue;
		}
		printf("[");
		for (k = 0; k < d->nproc; k++) {
			const struct top_proc *r = &d->proc[k];
			const struct top_proc *o = top_find_proc(p, r->pid, r->queue);

			top_comm(r->pid, comm, sizeof(comm));
			printf("%s{\"pid\": %d, \"comm\": \"", k ? ", " : "", r->pid);
			for (j = 0; comm[j]; j++)
				if (comm[j] == '"' || comm[j] == '\\' ||
				    (unsigned char)comm[j] < 0x20)
					putchar('_');
				else
					putchar(comm[j]);
			printf("\", \"mode\": \"%s\", \"queue\": %d, \"faults\": %llu, \"invalidations\": %llu, \"faults_per_s\": ",
			       r->mode, r->queue, (unsigned long long)r->faults,
			       (unsigned long long)r->invalidations);
			if (o && r->faults >= o->faults)
				printf("%.3f}", (r->faults - o->faults) / dt);
			else
				printf("null}");
		}
		printf("]}");
	}
	printf("]}\n");
	fflush(stdout);
}

static volatile sig_atomic_t top_stop;

static void top_on_signal(int sig)
{
	top_stop = 1;
}

/* wdctl top [-n N] [-d SECS] [--json] */
static int cmd_top(int argc, char **argv, int json)
{
	static const struct option opts[] = {
		{ "iterations", required_argument, NULL, 'n' },
		{ "delay", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static struct top_sample s[2];
	long iterations = -1;
	double delay = 1.0;
	int c, cur = 0, iter, tty;
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:d:j", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			iterations = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || iterations < 1) {
				fprintf(stderr, "wdctl top: -n wants a positive count, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'd':
			errno = 0;
			delay = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(delay >= 0.01) ||
			    delay > 3600) {
				fprintf(stderr, "wdctl top: -d wants seconds from 0.01 to 3600, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'j':
			json = 1;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGINT, top_on_signal);
	signal(SIGTERM, top_on_signal);
	tty = !json && isatty(STDOUT_FILENO);
	top_sample(&s[cur]);
	for (iter = 1; !top_stop && (iterations < 0 || iter <= iterations); iter++) {
		struct timespec ts = {
			.tv_sec = (time_t)delay,
			.tv_nsec = (long)((delay - (time_t)delay) * 1e9),
		};

		while (nanosleep(&ts, &ts) && errno == EINTR && !top_stop)
			;
		if (top_stop)
			break;
		top_sample(&s[!cur]);
		if (json)
			top_print_json(&s[cur], &s[!cur], iter);
		else
			top_print_text(&s[cur], &s[!cur], iter, tty);
		cur = !cur;
		if (!json && !tty && (iterations < 0 || iter < iterations))
			printf("\n");
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, c;

	/* top has options of its own: everything after "top" is its. */
	for (c = 1; c < argc && argv[c][0] == '-'; c++)
		;
	if (c < argc && !strcmp(argv[c], "top")) {
		json = 0;
		for (int i = 1; i < c; i++)
			if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
				json = 1;
		return cmd_top(argc - c, argv + c, json);
	}
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind == argc || !strcmp(argv[optind], "list"))
		return cmd_list(json);
	if (!strcmp(argv[optind], "show") && optind + 2 == argc)
		return cmd_show(argv[optind + 1], json);
	usage(stderr);
	return 2;
}
