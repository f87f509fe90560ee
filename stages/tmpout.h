/*
 * tmpout.h -- output files that appear complete or not at all, and never
 * over an input.
 *
 * A stage writes OUT under a temporary name beside it (OUT.tmp.XXXXXX),
 * syncs it and renames it to OUT only when everything is written.  An
 * error, or an interrupt (SIGINT, SIGTERM, SIGHUP, SIGPIPE), removes the
 * temporary file, so a file named OUT is always complete.  What OUT is
 * decides where the file goes (psg_output_resolve in libpsg): a symbolic
 * link to a regular file has its target replaced; an existing device,
 * FIFO or socket is written in place by text outputs and refused by the
 * others; and an OUT that is one of the stage's inputs (the same device
 * and inode, whatever the names) is refused before anything is written.
 * Every stage that writes files uses it: psg-h5, psg-collect, psg-score,
 * psg-synth (whose EDF files libpsg writes: tmpout_track) and psg-emg.
 *
 *   tmpout_handlers();                 once, at start
 *   tmpout_input(path), _input_fd(fd)  each input, before any output
 *   tmp = tmpout_make(k, out, stream_ok, err, n)  slot k: create; write
 *   tmpout_commit(k, out, err, n)      fsync + rename into place
 *   tmpout_check(out, err, n)          refuse an input as output
 *   tmpout_track(k, tmp) / _untrack(k) a temporary file made elsewhere
 *   tmpout_discard()                   remove every live temporary file
 */
#ifndef PSG_TMPOUT_H
#define PSG_TMPOUT_H

#include "psg.h"
#include "stage.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMPOUT_SLOTS 4

static struct {
	char path[PATH_MAX + 32];
	char target[PSG_PATH_LEN];   /* what the rename replaces */
	int in_place;                /* a device or FIFO: written directly */
	volatile sig_atomic_t live;
} g_tmpout[TMPOUT_SLOTS];

/* The inputs' identities: an output must be none of them. */
static struct { dev_t dev; ino_t ino; } *g_tmpout_in;
static size_t g_tmpout_nin, g_tmpout_capin;

static const int g_tmpout_sigs[] = {SIGINT, SIGTERM, SIGPIPE, SIGHUP};

__attribute__((unused))
static void tmpout_add_id(const struct stat *st)
{
	if (g_tmpout_nin == g_tmpout_capin) {
		size_t cap = g_tmpout_capin ? 2 * g_tmpout_capin : 16;
		void *p = realloc(g_tmpout_in, cap * sizeof *g_tmpout_in);
		if (!p)
			return;   /* only a safeguard lost, and only in OOM */
		g_tmpout_in = p, g_tmpout_capin = cap;
	}
	g_tmpout_in[g_tmpout_nin].dev = st->st_dev;
	g_tmpout_in[g_tmpout_nin++].ino = st->st_ino;
}

/* An input file ("-": standard input); one that cannot be looked at now
   will fail when it is read. */
__attribute__((unused))
static void tmpout_input_fd(int fd)
{
	struct stat st;
	if (fd == 0 && !stdin_is_input())
		return;   /* in psg-chain the input is a link, not fd 0 */
	if (fd == 0)
		stdout_not_input("-");
	if (!fstat(fd, &st))
		tmpout_add_id(&st);
}

__attribute__((unused))
static void tmpout_input(const char *path)
{
	struct stat st;
	stdout_not_input(path);
	if (!strcmp(path, "-"))
		tmpout_input_fd(0);
	else if (!stat(path, &st))
		tmpout_add_id(&st);
}

/* 0, or -1 with a message if out (followed) is one of the inputs. */
__attribute__((unused))
static int tmpout_check(const char *out, char *err, size_t errlen)
{
	struct stat st;
	if (stat(out, &st))
		return 0;
	for (size_t i = 0; i < g_tmpout_nin; i++)
		if (g_tmpout_in[i].dev == st.st_dev &&
		    g_tmpout_in[i].ino == st.st_ino) {
			snprintf(err, errlen, "%s: is also an input; refusing "
				 "to overwrite it", out);
			return -1;
		}
	return 0;
}

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

/* A temporary file another part made (libpsg's EDF writer): removed on an
   interrupt until untracked. */
__attribute__((unused))
static void tmpout_track(int k, const char *tmp)
{
	sigset_t old;
	tmpout_block(1, &old);
	snprintf(g_tmpout[k].path, sizeof g_tmpout[k].path, "%s", tmp);
	g_tmpout[k].live = 1;
	tmpout_block(0, &old);
}

__attribute__((unused))
static void tmpout_untrack(int k)
{
	g_tmpout[k].live = 0;
}

/* Slot k's file for `out`: a new temporary file beside out's target, or
   (stream_ok, out a device or FIFO) out itself, to write in place.
   Returns its path, or NULL with a message in err. */
__attribute__((unused))
static const char *tmpout_make(int k, const char *out, int stream_ok,
			       char *err, size_t errlen)
{
	sigset_t old;
	psg_outpath op;
	if (psg_output_resolve(out, stream_ok, &op, err, errlen) ||
	    tmpout_check(out, err, errlen))
		return NULL;
	memcpy(g_tmpout[k].target, op.path, sizeof op.path);
	g_tmpout[k].in_place = op.in_place;
	if (op.in_place) {
		snprintf(g_tmpout[k].path, sizeof g_tmpout[k].path, "%s",
			 op.path);
		return g_tmpout[k].path;
	}
	int n = snprintf(g_tmpout[k].path, sizeof g_tmpout[k].path,
			 "%s.tmp.XXXXXX", op.path);
	if (n < 0 || (size_t)n >= sizeof g_tmpout[k].path) {
		snprintf(err, errlen, "%s: path too long", out);
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

/* A slot written in place is done once the caller has closed it. */
__attribute__((unused))
static int tmpout_commit(int k, const char *out, char *err, size_t errlen)
{
	sigset_t old;
	if (g_tmpout[k].in_place)
		return 0;
	if (tmpout_sync(k, out, err, errlen))
		return -1;
	tmpout_block(1, &old);
	int r = rename(g_tmpout[k].path, g_tmpout[k].target);
	if (!r)
		g_tmpout[k].live = 0;
	tmpout_block(0, &old);
	if (r)
		snprintf(err, errlen, "%s: cannot rename the output into "
			 "place: %s", out, strerror(errno));
	return r ? -1 : 0;
}

/* libpsg's EDF writer for `path`: never over an input, and its temporary
   file removed on an interrupt until tmpout_untrack(k).  NULL on failure,
   with *st (PSG_ERR_IO for an input named as output) and a message in
   err. */
__attribute__((unused))
static psg_edf_writer *tmpout_edf_open(int k, const char *path,
				       const psg_header *h,
				       const psg_edf_opts *eo, int *st,
				       char *err, size_t errlen)
{
	if (tmpout_check(path, err, errlen)) {
		*st = PSG_ERR_IO;
		return NULL;
	}
	psg_edf_writer *w = psg_edf_writer_open(path, h, eo, st);
	if (!w) {
		snprintf(err, errlen, "%s", psg_edf_writer_errmsg(NULL));
		return NULL;
	}
	tmpout_track(k, psg_edf_writer_tmpname(w));
	return w;
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
