// SPDX-License-Identifier: GPL-2.0
/*
 * wdctl: list WarpDrive devices and what they offer.
 *
 *   wdctl [--json]            every device
 *   wdctl show NAME [--json]  one device, with its live figures and stats
 *
 * Everything comes from sysfs: neither command opens the device node, so
 * they work for users who may not open it.
 *
 * Attributes a module may not have (queues_free, devmem_free/used, stats/)
 * show as "-" (null in JSON).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
 * Where the device memory is and how it is mapped (sysfs devmem_mode:
 * "ram", "pages", "pfnmap" or "pfnmap wc"); "" if the module has no such
 * attribute (an older one).
 */
static void devmem_mode(const char *name, char *buf, size_t len)
{
	char path[256];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/sys/class/warpdrive/%s/devmem_mode",
		 name);
	f = fopen(path, "r");
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

static void print_json(const struct wd_dev_desc *d)
{
	char mode[32];
	uint64_t stats[NR_STATS], mem[NR_MEM], free_q, devpriv;
	int ok[NR_STATS], mok[NR_MEM];
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
	int ok[NR_STATS], mok[NR_MEM];
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
		   "       wdctl show NAME [--json]    one device in detail, with stats\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, c;

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
