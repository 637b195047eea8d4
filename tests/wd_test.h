/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the WarpDrive test programs (run inside the guest). */
#ifndef WD_TEST_H
#define WD_TEST_H

#include <stddef.h>
#include <stdint.h>

#define WD_MODULE_DIR	"/wd/modules"
#define WD_TEST_DEV	"wd_soft0"
#define WD_TEST_NODE	"/dev/warpdrive/" WD_TEST_DEV

/* finit_module() of WD_MODULE_DIR/<name>.ko; returns 0 or -errno. */
int wd_test_insmod(const char *name, const char *params);
/* delete_module(name, O_NONBLOCK); returns 0 or -errno. */
int wd_test_rmmod(const char *name);
/* Is the module listed in /proc/modules? */
int wd_test_module_loaded(const char *name);
/* Load warpdrive and wd_soft (with @soft_params) unless already loaded. */
int wd_test_load(const char *soft_params);
/* Unload wd_soft and warpdrive; 0 or -errno. */
int wd_test_unload(void);
/* Read a whole small file into @buf (NUL-terminated, newline stripped). */
int wd_test_read_file(const char *path, char *buf, size_t len);
/* Run @fn in a child as user/group 65534; returns the child's exit code. */
int wd_test_as_nobody(int (*fn)(void *), void *arg);

#endif
