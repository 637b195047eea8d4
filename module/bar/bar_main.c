// SPDX-License-Identifier: GPL-2.0
/*
 * wd_bar: device memory on a PCI BAR, offered through WarpDrive.
 *
 * Binds QEMU's ivshmem-plain (PCI 1af4:1110), whose BAR 2 is a block of
 * shared memory, and registers a WarpDrive device that offers that memory
 * as device memory regions and nothing else (no queues). The module
 * parameter "mode" picks how processes map it:
 *
 *   pages   the framework gives the BAR struct pages (ZONE_DEVICE,
 *           MEMORY_DEVICE_GENERIC): MAP_POPULATE, MADV_POPULATE_*, GUP
 *           and the engines' device faults work on it;
 *   pfnmap  raw pfns in VM_IO | VM_PFNMAP mappings, write-combining with
 *           wc=1: only WarpDrive's own paths (fault-around, map in
 *           advance, the populate ioctl) populate it.
 *
 * The mode is shown in sysfs (devmem_mode) and by wdctl. Removal, hot
 * unplug included, unregisters the WarpDrive device first: every mapping
 * of the BAR is revoked before the driver lets the BAR go.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/sizes.h>
#include <warpdrive/driver.h>

#define BAR_MEM		2

static char *mode = "pages";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "how the BAR is mapped: pages (ZONE_DEVICE struct pages, default) or pfnmap (VM_PFNMAP)");

static bool wc;
module_param(wc, bool, 0444);
MODULE_PARM_DESC(wc, "pfnmap mode: map the BAR write-combining (default: write-back)");

static enum wd_devmem_mode bar_mode;

struct bar_dev {
	struct pci_dev *pdev;
	struct wd_device *wdev;
};

static const struct wd_device_ops bar_ops = {
	.owner = THIS_MODULE,
};

static int bar_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct wd_devmem_provider prov = { .mode = bar_mode };
	resource_size_t start, len;
	struct bar_dev *bdev;
	int ret;

	if (!(pci_resource_flags(pdev, BAR_MEM) & IORESOURCE_MEM))
		return -ENODEV;
	start = pci_resource_start(pdev, BAR_MEM);
	len = pci_resource_len(pdev, BAR_MEM);
	/* Whole pages; pages mode needs whole memory subsections. */
	prov.phys = start;
	prov.size = ALIGN_DOWN(len, bar_mode == WD_DEVMEM_PAGES ? SZ_2M :
			       PAGE_SIZE);
	if (bar_mode == WD_DEVMEM_PFNMAP && wc)
		prov.flags = WD_DEVMEM_F_WC;
	if (!prov.size || !IS_ALIGNED(start, bar_mode == WD_DEVMEM_PAGES ?
				      SZ_2M : PAGE_SIZE)) {
		dev_err(&pdev->dev, "BAR %d (%pa, %pa bytes) cannot be used in %s mode\n",
			BAR_MEM, &start, &len, mode);
		return -ENODEV;
	}

	bdev = kzalloc(sizeof(*bdev), GFP_KERNEL);
	if (!bdev)
		return -ENOMEM;
	bdev->pdev = pdev;
	ret = pci_enable_device_mem(pdev);
	if (ret)
		goto err_free;
	ret = pci_request_region(pdev, BAR_MEM, "wd_bar");
	if (ret)
		goto err_disable;

	bdev->wdev = wd_device_alloc(&pdev->dev, "wd_bar", &bar_ops, bdev);
	if (IS_ERR(bdev->wdev)) {
		ret = PTR_ERR(bdev->wdev);
		goto err_release;
	}
	bdev->wdev->api = "wd_bar_v1";
	bdev->wdev->flags = WD_DEV_F_DEVMEM;
	ret = wd_device_set_devmem(bdev->wdev, &prov);
	if (ret)
		goto err_put;
	ret = wd_device_register(bdev->wdev);
	if (ret)
		goto err_put;
	pci_set_drvdata(pdev, bdev);
	dev_info(&pdev->dev, "%s: %llu MiB of BAR %d at %pa, %s%s\n",
		 dev_name(&bdev->wdev->dev), prov.size >> 20, BAR_MEM, &start,
		 mode, prov.flags & WD_DEVMEM_F_WC ? " (write-combining)" : "");
	return 0;

err_put:
	wd_device_put(bdev->wdev);
err_release:
	pci_release_region(pdev, BAR_MEM);
err_disable:
	pci_disable_device(pdev);
err_free:
	kfree(bdev);
	return ret;
}

static void bar_remove(struct pci_dev *pdev)
{
	struct bar_dev *bdev = pci_get_drvdata(pdev);

	/* Every user mapping of the BAR is gone when this returns. */
	wd_device_unregister(bdev->wdev);
	wd_device_put(bdev->wdev);
	pci_release_region(pdev, BAR_MEM);
	pci_disable_device(pdev);
	kfree(bdev);
}

static const struct pci_device_id bar_ids[] = {
	{ PCI_DEVICE(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1110) },	/* ivshmem */
	{ }
};
MODULE_DEVICE_TABLE(pci, bar_ids);

static struct pci_driver bar_driver = {
	.name = "wd_bar",
	.id_table = bar_ids,
	.probe = bar_probe,
	.remove = bar_remove,
};

static int __init bar_init(void)
{
	if (!strcmp(mode, "pages")) {
		bar_mode = WD_DEVMEM_PAGES;
	} else if (!strcmp(mode, "pfnmap")) {
		bar_mode = WD_DEVMEM_PFNMAP;
	} else {
		pr_err("mode must be pages or pfnmap, not \"%s\"\n", mode);
		return -EINVAL;
	}
	if (wc && bar_mode != WD_DEVMEM_PFNMAP) {
		pr_err("wc=1 needs mode=pfnmap\n");
		return -EINVAL;
	}
	return pci_register_driver(&bar_driver);
}

static void __exit bar_exit(void)
{
	pci_unregister_driver(&bar_driver);
}

module_init(bar_init);
module_exit(bar_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("WarpDrive device memory on a PCI BAR (ivshmem-plain)");
