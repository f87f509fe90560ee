/*
 * outpath.c -- where an output file really goes (psg.h, "output files").
 *
 * Every psgpipe program that writes a file writes it complete under a
 * temporary name and renames it into place.  A rename replaces whatever
 * directory entry has the name, so the name alone is not enough: renamed
 * over /dev/full, a FIFO or a symbolic link, the output would turn them
 * into regular files.  So the target is looked at first:
 *
 *   - absent, or a regular file: replaced by the rename;
 *   - a symbolic link to a regular file: the link is followed and its
 *     target replaced (the link stays a link: a results/latest.h5 link
 *     keeps pointing where it did, now to new content);
 *   - a device, FIFO or socket (also through links): written in place by
 *     callers that can write a stream of bytes, refused by those that must
 *     seek (HDF5, EDF);
 *   - a directory or a dangling link: refused.
 */
/* realpath() is XSI, beside the POSIX base the build asks for. */
#define _XOPEN_SOURCE 700
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int psg_output_resolve(const char *path, int stream_ok, psg_outpath *out,
		       char *msg, size_t msglen)
{
	struct stat ls, st;
	out->in_place = 0;
	if (!path || !*path) {
		psg__set_msg(msg, msglen, "empty output path");
		return PSG_ERR_ARG;
	}
	if (strlen(path) >= sizeof out->path) {
		psg__set_msg(msg, msglen, "%s: path too long", path);
		return PSG_ERR_ARG;
	}
	if (lstat(path, &ls)) {   /* nothing there yet (or unreachable) */
		psg__strlcpy(out->path, path, sizeof out->path);
		return PSG_OK;
	}
	if (stat(path, &st)) {
		psg__set_msg(msg, msglen, "%s: a symbolic link to nothing "
			     "(%s); refusing to replace it", path,
			     strerror(errno));
		return PSG_ERR_IO;
	}
	if (S_ISDIR(st.st_mode)) {
		psg__set_msg(msg, msglen, "%s: is a directory", path);
		return PSG_ERR_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		if (!stream_ok) {
			psg__set_msg(msg, msglen, "%s: not a regular file (a "
				     "device, FIFO or socket); this output "
				     "needs one", path);
			return PSG_ERR_IO;
		}
		psg__strlcpy(out->path, path, sizeof out->path);
		out->in_place = 1;
		return PSG_OK;
	}
	if (!S_ISLNK(ls.st_mode)) {
		psg__strlcpy(out->path, path, sizeof out->path);
		return PSG_OK;
	}
	char real[PATH_MAX];
	if (!realpath(path, real) || strlen(real) >= sizeof out->path) {
		psg__set_msg(msg, msglen, "%s: cannot follow the symbolic "
			     "link: %s", path, strerror(errno ? errno :
							ENAMETOOLONG));
		return PSG_ERR_IO;
	}
	psg__strlcpy(out->path, real, sizeof out->path);
	return PSG_OK;
}
