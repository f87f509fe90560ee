/*
 * h5crash.c -- a night that libhdf5 dies on, on demand, for the crash
 * probe's tests (tests/t_probe.sh).  Loaded with LD_PRELOAD, it makes
 * H5Fopen die of SIGSEGV when the file's name contains $PSG_TEST_H5CRASH,
 * as libhdf5 itself does on some corrupt files (docs/reliability.md): the
 * corpus's real crasher kills psg-report under ASan only, and no psg-collect
 * at all, so it cannot show which of many nights a probe child died on.
 * Every other call goes to libhdf5.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

hid_t H5Fopen(const char *name, unsigned flags, hid_t fapl)
{
	static hid_t (*real)(const char *, unsigned, hid_t);
	const char *mark = getenv("PSG_TEST_H5CRASH");
	if (mark && *mark && strstr(name, mark))
		raise(SIGSEGV);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "H5Fopen");
	return real(name, flags, fapl);
}
