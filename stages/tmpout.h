/*
 * tmpout.h -- output files that appear complete or not at all.
 *
 * A stage writes OUT under a temporary name beside it (OUT.tmp.XXXXXX),
 * syncs it and renames it to OUT only when everything is written.  An
 * error, or an interrupt (SIGINT, SIGTERM, SIGHUP, SIGPIPE), removes the
 * temporary file, so a file named OUT is always complete.  Used by psg-h5
 * (one output) and psg-collect (an HDF5 table and a CSV).
 *
 *   tmpout_handlers();                 once, at start
 *   tmp = tmpout_make(k, out, err, n)  slot k: create; write to tmp
 *   tmpout_commit(k, out, err, n)      fsync + rename into place
 *   tmpout_discard()                   remove every live temporary file
 */
#ifndef PSG_TMPOUT_H
#define PSG_TMPOUT_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMPOUT_SLOTS 2

static struct {
	char path[PATH_MAX + 32];
	volatile sig_atomic_t live;
} g_tmpout[TMPOUT_SLOTS];

static const int g_tmpout_sigs[] = {SIGINT, SIGTERM, SIGPIPE, SIGHUP};

/* Interrupted: remove the partial files, then die of the same signal so
   the shell sees why we stopped.  unlink and raise are async-signal-safe. */
static void tmpout_on_signal(int sig)
{
	for (int k = 0; k < TMPOUT_SLOTS; k++)
		if (g_tmpout[k].live)
			unlink(g_tmpout[k].path);
	raise(sig);
}

__attribute__((unused))
static void tmpout_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = tmpout_on_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof g_tmpout_sigs / sizeof *g_tmpout_sigs;
	     i++)
		sigaction(g_tmpout_sigs[i], &sa, NULL);
}

/* Blocks our signals while a slot's path and live flag change together. */
static void tmpout_block(int block, sigset_t *old)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof g_tmpout_sigs / sizeof *g_tmpout_sigs;
	     i++)
		sigaddset(&set, g_tmpout_sigs[i]);
	sigprocmask(block ? SIG_BLOCK : SIG_SETMASK, block ? &set : old,
		    block ? old : NULL);
}

/* Creates slot k's temporary file for `out`; returns its path, or NULL
   with a message in err. */
__attribute__((unused))
static const char *tmpout_make(int k, const char *out, char *err,
			       size_t errlen)
{
	sigset_t old;
	struct stat st;
	int n = snprintf(g_tmpout[k].path, sizeof g_tmpout[k].path,
			 "%s.tmp.XXXXXX", out);
	if (n < 0 || (size_t)n >= sizeof g_tmpout[k].path) {
		snprintf(err, errlen, "%s: path too long", out);
		return NULL;
	}
	if (!stat(out, &st) && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: is a directory", out);
		return NULL;
	}
	tmpout_block(1, &old);
	int fd = mkstemp(g_tmpout[k].path);
	g_tmpout[k].live = fd >= 0;
	tmpout_block(0, &old);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create the output: %s", out,
			 strerror(errno));
		return NULL;
	}
	/* mkstemp makes 0600; the output gets the usual 0666 & ~umask. */
	mode_t mask = umask(0);
	umask(mask);
	fchmod(fd, 0666 & ~mask);
	close(fd);
	return g_tmpout[k].path;
}

/* On disk before the rename: otherwise a crash soon after could leave an
   empty OUT on some file systems, the very thing the rename avoids. */
static int tmpout_sync(int k, const char *out, char *err, size_t errlen)
{
	int fd = open(g_tmpout[k].path, O_RDWR), e = 0;
	if (fd < 0 || fsync(fd) < 0)
		e = errno;
	if (fd >= 0 && close(fd) < 0 && !e)
		e = errno;
	if (e)
		snprintf(err, errlen, "%s: cannot write: %s", out,
			 strerror(e));
	return e ? -1 : 0;
}

__attribute__((unused))
static int tmpout_commit(int k, const char *out, char *err, size_t errlen)
{
	sigset_t old;
	if (tmpout_sync(k, out, err, errlen))
		return -1;
	tmpout_block(1, &old);
	int r = rename(g_tmpout[k].path, out);
	if (!r)
		g_tmpout[k].live = 0;
	tmpout_block(0, &old);
	if (r)
		snprintf(err, errlen, "%s: cannot rename the output into "
			 "place: %s", out, strerror(errno));
	return r ? -1 : 0;
}

__attribute__((unused))
static void tmpout_discard(void)
{
	for (int k = 0; k < TMPOUT_SLOTS; k++) {
		if (g_tmpout[k].live)
			unlink(g_tmpout[k].path);
		g_tmpout[k].live = 0;
	}
}

#endif
