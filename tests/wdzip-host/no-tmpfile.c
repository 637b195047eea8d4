// SPDX-License-Identifier: GPL-2.0
/*
 * Preloaded into wdzip by tests/wdzip-host/compare.sh: open(O_TMPFILE)
 * fails with EOPNOTSUPP, as on a filesystem without it, so that wdzip's
 * named-temporary-file fallback is tested.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>

static int pass(const char *name, const char *path, int flags, va_list ap)
{
	int (*real)(const char *, int, ...) =
		(int (*)(const char *, int, ...))dlsym(RTLD_NEXT, name);
	mode_t mode = (flags & (O_CREAT | __O_TMPFILE)) ? va_arg(ap, mode_t) : 0;

	if ((flags & __O_TMPFILE) == __O_TMPFILE) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return real(path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	int ret;

	va_start(ap, flags);
	ret = pass("open", path, flags, ap);
	va_end(ap);
	return ret;
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	int ret;

	va_start(ap, flags);
	ret = pass("open64", path, flags, ap);
	va_end(ap);
	return ret;
}
