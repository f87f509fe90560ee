/*
 * stage.h -- what every psg-<verb> program shares: its name in messages,
 * the meaning of exit codes, and option parsing of times.  Kept here and
 * not in libpsg because the library never prints and never exits.
 *
 * Exit codes: 0 success; 1 usage (bad option); 2 input/output or format
 * error (unreadable, malformed or truncated input, unwritable output);
 * 3 input that is valid but unsuitable (e.g. no channel matches).
 */
#ifndef PSG_STAGE_H
#define PSG_STAGE_H

#include "psg.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { EXIT_USAGE = 1, EXIT_IO = 2, EXIT_UNSUITABLE = 3 };

static const char *stage_name = "psg";

/* In-process chains (psg-chain, docs/stream.md): psg-chain links every
   stream stage in, each compiled with PSG_CHAIN naming its entry and
   main renamed, and runs each on a thread of its own, joined by links
   (psg_link) instead of pipes.  The entry binds the stage to its slot;
   the helpers below then read and write the links, write messages where
   the slot says, and end the thread, not the process. */
typedef struct chain_slot {
	psg_link *in, *out;       /* NULL: standard input, standard output */
	FILE *err;                /* the stage's messages */
	/* Options parsed, stream about to be opened: the next stage may
	   start (getopt's state is global). */
	void (*started)(struct chain_slot *);
	/* The stage ends with this exit code; does not return. */
	void (*stop)(struct chain_slot *, int code);
	/* Another stage failed first: this one's messages are its echo. */
	int (*quiet)(struct chain_slot *);
	void *runner;
} chain_slot;

#ifdef PSG_CHAIN
static chain_slot *g_chain;
int main(int argc, char **argv);
int PSG_CHAIN(chain_slot *c, int argc, char **argv);
int PSG_CHAIN(chain_slot *c, int argc, char **argv)
{
	g_chain = c;
	return main(argc, argv);
}
#define chain_self() g_chain
#else
#define chain_self() ((chain_slot *)NULL)
#endif

/* Where messages go, or NULL when they are to be left unsaid. */
__attribute__((unused))
static FILE *message_file(void)
{
	chain_slot *c = chain_self();
	return !c ? stderr : c->quiet(c) ? NULL : c->err;
}

/* Whether the stage's stream comes from standard input, and goes to
   standard output (not so between two stages of a chain). */
__attribute__((unused))
static int stdin_is_input(void)
{
	return !chain_self() || !chain_self()->in;
}

__attribute__((unused))
static int stdout_is_output(void)
{
	return !chain_self() || !chain_self()->out;
}

/* The stage's input and output streams: standard input and output, or in
   a chain its links.  Opening them is where its options are behind it. */
__attribute__((unused))
static psg_reader *stream_in(int *status, char *msg, size_t msglen)
{
	chain_slot *c = chain_self();
	if (c)
		c->started(c);
	return stdin_is_input() ? psg_reader_open_fd(0, status, msg, msglen) :
	       psg_reader_open_link(c->in, status, msg, msglen);
}

__attribute__((unused))
static psg_writer *stream_out(const psg_header *h, int *status)
{
	chain_slot *c = chain_self();
	if (c)
		c->started(c);
	return stdout_is_output() ? psg_writer_open_fd(1, h, status) :
	       psg_writer_open_link(c->out, h, status);
}

/* exit() for a stage: in a chain, the end of its thread. */
__attribute__((noreturn, unused))
static void stage_exit(int code)
{
	chain_slot *c = chain_self();
	if (c) {
		c->stop(c, code);
		abort();   /* stop does not return */
	}
	exit(code);
}

/* A detector run with --optional (psg-night runs every detector on every
   recording): until it starts writing, input it cannot use (no suitable
   channel: EXIT_UNSUITABLE) is passed through unchanged with a warning,
   and it exits 0.  Set by optional_stage(), cleared by
   open_stdout_stream(). */
static struct {
	psg_reader *in;
	int argc;
	char **argv;
} g_optional;

static void pass_through(void);

__attribute__((format(printf, 2, 3), noreturn, unused))
static void die(int code, const char *fmt, ...)
{
	va_list ap;
	FILE *f = message_file();
	if (f) {
		fprintf(f, "%s: %s", stage_name, code == EXIT_UNSUITABLE &&
			g_optional.in ? "warning: " : "");
		va_start(ap, fmt);
		vfprintf(f, fmt, ap);
		va_end(ap);
	}
	if (code == EXIT_UNSUITABLE && g_optional.in) {
		if (f)
			fputs("; passing the stream through (--optional)\n", f);
		pass_through();
	}
	if (f)
		fputc('\n', f);
	stage_exit(code);
}

/* A channel option that matches nothing: a usage error, with the labels
   the recording has. */
__attribute__((noreturn, unused))
static void die_no_channel(const psg_header *h, const char *spec)
{
	char list[2048];
	psg_channel_list(h, list, sizeof list);
	die(EXIT_USAGE, "no channel '%s'; the channels are %s", spec, list);
}

/* "psg-x: warning: ..." and "psg-x: note: ..." lines. */
__attribute__((unused))
static void say(const char *kind, const char *fmt, va_list ap)
{
	FILE *f = message_file();
	if (!f)
		return;
	fprintf(f, "%s: %s: ", stage_name, kind);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
}

__attribute__((format(printf, 1, 2), unused))
static void warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("warning", fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 1, 2), unused))
static void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("note", fmt, ap);
	va_end(ap);
}

/* The exit code for a library status. */
__attribute__((unused))
static int exit_code(int status)
{
	switch (status) {
	case PSG_ERR_ARG: return EXIT_USAGE;
	case PSG_ERR_NOTFOUND:
	case PSG_ERR_UNSUPPORTED: return EXIT_UNSUITABLE;
	}
	return EXIT_IO;
}

/* One line for a bad option (getopt_long with opterr = 0 and an optstring
   that starts with ':'), instead of getopt's message plus the usage.
   --version is answered here, so every stage has it without an entry in
   its option table. */
__attribute__((noreturn, unused))
static void bad_option(int c, char **argv)
{
	if (c == '?' && !optopt && !strcmp(argv[optind - 1], "--version")) {
		printf("%s (psgpipe) %s\n", stage_name, PSG_VERSION);
		exit(fflush(stdout) ? EXIT_IO : 0);
	}
	if (c == ':')
		die(EXIT_USAGE, "option '%s' needs a value", argv[optind - 1]);
	if (optopt)
		die(EXIT_USAGE, "unknown option '-%c' (see %s --help)", optopt,
		    stage_name);
	die(EXIT_USAGE, "unknown option '%s' (see %s --help)",
	    argv[optind - 1], stage_name);
}

/* qsort and memcpy want valid pointers even for nothing (C11 7.1.4):
   an empty table may still be NULL. */
__attribute__((unused))
static void sort_n(void *v, size_t n, size_t size,
		   int (*cmp)(const void *, const void *))
{
	if (n)
		qsort(v, n, size, cmp);
}

__attribute__((unused))
static void copy_n(void *dst, const void *src, size_t bytes)
{
	if (bytes)
		memcpy(dst, src, bytes);
}

/* Seconds as text ("30", "0.5") to ticks; dies with a usage error. */
__attribute__((unused))
static int64_t opt_seconds(const char *opt, const char *arg, double min)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || v < min || v > 1e9)
		die(EXIT_USAGE, "%s: bad number of seconds '%s'", opt, arg);
	return (int64_t)(v * PSG_TICKS_PER_SEC + (v < 0 ? -0.5 : 0.5));
}

/* A number option within [lo, hi] (either may be infinite); dies with
   a usage error naming the option. */
__attribute__((unused))
static double opt_num(const char *opt, const char *arg, double lo,
		      double hi)
{
	char *end;
	double v = strtod(arg, &end);
	if (*end || end == arg || !isfinite(v) || v < lo || v > hi) {
		if (isinf(lo) && isinf(hi))
			die(EXIT_USAGE, "%s: bad number '%s'", opt, arg);
		die(EXIT_USAGE, "%s: a number from %g to %g, not '%s'", opt,
		    lo, hi, arg);
	}
	return v;
}

/* "LO-HI" (two numbers, 0 <= LO < HI) into *a and *b, or dies with a
   usage error naming the option. */
__attribute__((unused))
static void opt_range(const char *opt, const char *arg, double *a,
		      double *b)
{
	char *end;
	*a = strtod(arg, &end);
	if (*end != '-' || !(*a >= 0))
		die(EXIT_USAGE, "%s wants LO-HI, not '%s'", opt, arg);
	*b = strtod(end + 1, &end);
	if (*end || !(*b > *a) || !isfinite(*b))
		die(EXIT_USAGE, "%s wants LO-HI, not '%s'", opt, arg);
}

/* Whether s contains sub, ignoring case (labels: "EOG horizontal"). */
__attribute__((unused))
static int contains_ci(const char *s, const char *sub)
{
	for (size_t n = strlen(sub); *s; s++)
		if (!strncasecmp(s, sub, n))
			return 1;
	return 0;
}

/* Prints the reader's warnings from the from-th on, prefixed with the
   program's name; returns how many there are now (a reader may find more
   oddities while it reads: call again at the end with that count). */
__attribute__((unused))
static int print_warnings_from(const psg_reader *r, const char *path,
			       int from)
{
	int n = psg_reader_nwarnings(r);
	for (int i = from; i < n; i++)
		warn("%s: %s", path, psg_reader_warning(r, i));
	return n;
}

__attribute__((unused))
static void print_warnings(const psg_reader *r, const char *path)
{
	print_warnings_from(r, path, 0);
}

/* Ticks to add to times of `path` (header from) to put them on the clock
   of the recording (header to).  Dies when the two start further apart
   than the longest recording: the annotations would all land outside it
   (a wrong date, or the wrong file). */
__attribute__((unused))
static int64_t clock_shift(const psg_header *from, const psg_header *to,
			   const char *path)
{
	int64_t a = psg_header_start_ticks(from), b = psg_header_start_ticks(to);
	int64_t max = psg_max_duration();
	if (a == INT64_MIN || b == INT64_MIN || a - b > max || b - a > max)
		die(EXIT_IO, "%s starts %.0f days from the recording's start, "
		    "beyond the limit of %.0f days (PSG_MAX_DAYS)", path,
		    ((double)a - (double)b) / PSG_TICKS_PER_SEC / 86400,
		    (double)max / PSG_TICKS_PER_SEC / 86400);
	return a - b;
}

/* Stages write a binary stream; a terminal would only show garbage. */
__attribute__((unused))
static void refuse_terminal(void)
{
	if (stdout_is_output() && isatty(1))
		die(EXIT_USAGE, "refusing to write a binary stream to a "
		    "terminal (pipe it into another stage or redirect it)");
}

/* The header a stage writes: its input's, plus its own command line. */
__attribute__((unused))
static psg_header *derive_header(const psg_header *in, int argc, char **argv)
{
	psg_header *h = psg_header_new();
	if (!h || psg_header_copy(h, in) ||
	    psg_header_add_history(h, argc, argv) < 0)
		die(EXIT_IO, "out of memory");
	return h;
}

/* Refuses (exit 2) a standard output that is the regular file `path`
   ("-": standard input) is, by device and inode: `stage < s.psg >> s.psg`
   appends to its own input, and reading what it wrote, never ends;
   `psg-read x.edf >> x.edf` grows the recording.  A pipe, a terminal or
   a device on stdout is always fine. */
__attribute__((unused))
static void stdout_not_input(const char *path)
{
	struct stat o, i;
	int std = !strcmp(path, "-");
	if (!stdout_is_output() || (std && !stdin_is_input()))
		return;   /* a link, in a chain */
	if (fstat(1, &o) || !S_ISREG(o.st_mode) ||
	    (std ? fstat(0, &i) : stat(path, &i)) ||
	    o.st_dev != i.st_dev || o.st_ino != i.st_ino)
		return;
	die(EXIT_IO, "standard output is %s%s%s; refusing to write into an "
	    "input", std ? "standard input" : "the input '", std ? "" : path,
	    std ? "" : "'");
}

/* libhdf5 can die of a signal on a corrupt file (a SIGSEGV inside
   H5Dread, e.g. an events dataset whose bytes are a repeated 8-byte
   pattern), and no check of ours before the call can prevent it.  So a
   stage that reads results first runs the reads in a forked child, with
   the fault signals at their defaults (no sanitizer report of a fault not
   ours), no stderr (the real read words errors) and no stdout, and reads
   an item for real only once the child has read it and lived.
   One child reads all the items in order and writes a byte down a pipe
   after each: a child per item cost psg-collect ~45 ms of CPU a night (each
   child's first HDF5 open touches pages shared copy-on-write with the
   parent: a fault and a page copy each), ~100x the read itself.  When the
   child dies, the item it was on is the first without its byte: a child
   that died of a signal (or a sanitizer's exit) on an item it did not
   start with is run again from that item, since an earlier item may have
   left libhdf5 broken, and only a child that dies on its first item
   convicts it; a new child goes on after it.  An exit 2 or 3 (die() in
   the read) is no crash: the real read words it.  The parent reads item
   i while the child reads on.  PSG_CRASH_PROBE=0 turns the probe off (to
   see the crash itself, tests/fuzz/mutate.py).  The child ends with
   _exit: it must not run the parent's exit handlers (tmpout_discard). */
typedef struct crash_prober {
	void (*read)(void *);
	void *const *args;
	size_t n;
	pid_t pid;      /* the child, 0 when none runs */
	int fd;         /* the read end of its pipe */
	size_t start;   /* the child's first item */
	size_t done;    /* items [0, done) read by a child that lived */
	int off;        /* PSG_CRASH_PROBE=0, or fork/pipe failed */
} crash_prober;

__attribute__((unused))
static void crash_probe_start(crash_prober *p, void (*read)(void *),
			      void *const *args, size_t n)
{
	const char *env = getenv("PSG_CRASH_PROBE");
	memset(p, 0, sizeof *p);
	p->read = read;
	p->args = args;
	p->n = n;
	p->off = env && !strcmp(env, "0");
}

/* The child: items from p->start on, a byte each after reading it. */
__attribute__((unused))
static void crash_probe_child(const crash_prober *p, int fd)
{
	static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
	for (size_t i = 0; i < sizeof faults / sizeof *faults; i++)
		signal(faults[i], SIG_DFL);
	int null = open("/dev/null", O_WRONLY);
	if (null >= 0) {
		dup2(null, 2);
		dup2(null, 1);   /* a reader of ours sees EOF when we end */
	}
	for (size_t i = p->start; i < p->n; i++) {
		p->read(p->args[i]);
		if (write(fd, "", 1) != 1)
			_exit(0);   /* the parent is gone */
	}
	_exit(0);
}

/* A child from item p->done on; -1 when none could be started. */
__attribute__((unused))
static int crash_probe_spawn(crash_prober *p)
{
	int fds[2];
	if (pipe(fds))
		return -1;
	fflush(NULL);
	p->start = p->done;
	p->pid = fork();
	if (!p->pid) {
		close(fds[0]);
		crash_probe_child(p, fds[1]);
	}
	close(fds[1]);
	if (p->pid < 0) {
		close(fds[0]);
		p->pid = 0;
		return -1;
	}
	p->fd = fds[0];
	return 0;
}

/* Reaps the child that closed its pipe; 1 when it crashed, with how in
   why. */
__attribute__((unused))
static int crash_probe_reap(crash_prober *p, char *why, size_t len)
{
	int status = 0;
	close(p->fd);
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
	p->pid = 0;
	if (WIFSIGNALED(status))
		snprintf(why, len, "signal %d, %s", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status) && WEXITSTATUS(status) &&
		 WEXITSTATUS(status) != EXIT_IO &&
		 WEXITSTATUS(status) != EXIT_UNSUITABLE)
		snprintf(why, len, "exit %d", WEXITSTATUS(status));
	else
		return 0;
	return 1;
}

/* Item i, after items 0..i-1: 0 when a child read it and lived (or there
   is no probe), -1 when libhdf5 crashed on it, with how in why. */
__attribute__((unused))
static int crash_probe_item(crash_prober *p, size_t i, char *why,
			    size_t len)
{
	char buf[512];
	while (!p->off && p->done <= i) {
		if (!p->pid && crash_probe_spawn(p)) {
			p->off = 1;   /* no probe: the reads alone, as before */
			break;
		}
		ssize_t got = read(p->fd, buf, sizeof buf);
		if (got > 0)
			p->done += (size_t)got;
		else if (got < 0 && errno == EINTR)
			continue;
		else if (!crash_probe_reap(p, why, len))
			p->done++;   /* no crash on it: the real read judges */
		else if (p->start == p->done) {
			p->done++;   /* convicted: the next child goes on after it */
			return -1;
		}
		/* else: again from it, in a child of its own */
	}
	return 0;
}

/* Lets the child end (it has read every item, or gets SIGPIPE). */
__attribute__((unused))
static void crash_probe_end(crash_prober *p)
{
	char why[128];
	if (p->pid)
		crash_probe_reap(p, why, sizeof why);
}

/* The probe for a stage that reads one item. */
__attribute__((unused))
static int crash_probe(void (*read)(void *), void *arg, char *why,
		       size_t len)
{
	crash_prober p;
	crash_probe_start(&p, read, &arg, 1);
	int r = crash_probe_item(&p, 0, why, len);
	crash_probe_end(&p);
	return r;
}

/* The one optional input after the options: a file, or "-" for stdin. */
__attribute__((unused))
static const char *single_input(int argc, char **argv)
{
	if (argc - optind > 1)
		die(EXIT_USAGE, "one input at a time, not '%s' too",
		    argv[optind + 1]);
	const char *path = optind < argc ? argv[optind] : "-";
	stdout_not_input(path);
	return path;
}

/* See g_optional. */
__attribute__((unused))
static void optional_stage(psg_reader *in, int argc, char **argv)
{
	g_optional.in = in;
	g_optional.argc = argc;
	g_optional.argv = argv;
}

/* The stage's output stream on stdout, or dies.  From here on, unsuitable
   input is an error even with --optional: the header is out. */
__attribute__((unused))
static psg_writer *open_stdout_stream(const psg_header *h)
{
	int st;
	g_optional.in = NULL;
	psg_writer *w = stream_out(h, &st);
	if (!w)
		die(EXIT_IO, "cannot write the stream: %s", psg_strerror(st));
	return w;
}

/* Stream stages take no operands: the stream comes on stdin. */
__attribute__((unused))
static void no_operands(int argc, char **argv)
{
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s' (the stream comes on "
		    "standard input)", argv[optind]);
}

/* The input, record for record, with this stage's command line added to
   the history; exits 0 when done (2 on a broken stream). */
static void pass_through(void)
{
	psg_reader *in = g_optional.in;
	psg_header *h = derive_header(psg_reader_header(in), g_optional.argc,
				      g_optional.argv);
	psg_writer *w = open_stdout_stream(h);
	psg_record rec;
	int st;
	while ((st = psg_reader_next(in, &rec)) > 0) {
		if (rec.kind == PSG_REC_END ?
		    psg_writer_finish(w, &rec.end) : psg_write_record(w, &rec))
			die(EXIT_IO, "%s", psg_writer_errmsg(w));
		if (rec.kind == PSG_REC_END)
			break;
	}
	if (st < 0)
		die(exit_code(st), "standard input: %s",
		    psg_reader_errmsg(in));
	psg_writer_free(w);
	psg_header_free(h);
	psg_reader_free(in);
	stage_exit(0);
}

/* Opens the input stream on stdin or dies with a clear message. */
__attribute__((unused))
static psg_reader *open_stdin_stream(void)
{
	int st;
	char msg[512];
	stdout_not_input("-");
	psg_reader *r = stream_in(&st, msg, sizeof msg);
	if (!r)
		die(exit_code(st), "standard input: %s", msg);
	return r;
}

/* A detector's input: stdin, never a terminal on stdout, and with
   --optional the pass-through of input it cannot use (g_optional). */
__attribute__((unused))
static psg_reader *open_detector_input(int optional, int argc, char **argv)
{
	refuse_terminal();
	psg_reader *in = open_stdin_stream();
	if (optional)
		optional_stage(in, argc, argv);
	return in;
}

/* A channel named by exact label, else by selection (glob, index, or the
   label in another case), or dies with EXIT_USAGE listing the labels
   there are: a name that matches nothing is a mistake in the command. */
__attribute__((unused))
static int named_channel(const psg_header *h, const char *spec)
{
	int i = psg_header_find_channel(h, spec);
	if (i < 0) {
		int idx[1];
		char bad[PSG_LABEL_LEN];
		if (psg_select_channels(h, spec, idx, 1, bad, sizeof bad) == 1)
			i = idx[0];
	}
	if (i < 0)
		die_no_channel(h, spec);
	return i;
}

/* The EEG for reading sleep and wake: the one named, else the first
   central channel by label (the AASM's derivation for wake, arousals
   and spindles, and DREAMS's only channel), then occipital or parietal
   (alpha), then frontal; dies with EXIT_UNSUITABLE when there is none. */
__attribute__((unused))
static int pick_central_eeg(const psg_header *h, const char *spec)
{
	if (spec)
		return named_channel(h, spec);
	static const char *const pref[] = {"C4", "C3", "Cz", "C", "O2", "O1",
		"Oz", "O", "Pz", "P", "Fz", "F4", "F3", "Fpz", "Fp2", "Fp1",
		"F"};
	int i = psg_role_eeg(h, pref, sizeof pref / sizeof *pref);
	if (i < 0)
		die(EXIT_UNSUITABLE, "no EEG channel: no central, occipital, "
		    "parietal or frontal EEG by label (name one with -c)");
	return i;
}

/* An EOG or chin EMG (role): the one named ("none": -1), else by the
   label table. */
__attribute__((unused))
static int pick_aux(const psg_header *h, const char *spec, const char *role)
{
	if (spec)
		return strcasecmp(spec, "none") ? named_channel(h, spec) : -1;
	return psg_role_first(h, role);
}

/* The epoch on h's grid that time t (ticks) falls in; -1 before it. */
__attribute__((unused))
static int64_t grid_epoch(const psg_header *h, int64_t t)
{
	if (t < h->epoch_origin)
		return -1;
	return (t - h->epoch_origin) / h->epoch_len;
}

/* grid_epoch for times that mostly stay in one epoch: the epoch's
   bounds are kept, so a sample costs two comparisons, not a division.
   Start from grid_cache g = {0}. */
typedef struct grid_cache {
	int64_t lo, hi, e;          /* times in [lo, hi) are in epoch e */
} grid_cache;

__attribute__((unused))
static int64_t grid_epoch_at(grid_cache *g, const psg_header *h, int64_t t)
{
	if (t >= g->lo && t < g->hi)
		return g->e;
	g->e = grid_epoch(h, t);
	if (g->e < 0)
		g->lo = INT64_MIN, g->hi = h->epoch_origin;
	else if (__builtin_mul_overflow(g->e, h->epoch_len, &g->lo) ||
		 __builtin_add_overflow(g->lo, h->epoch_origin, &g->lo) ||
		 __builtin_add_overflow(g->lo, h->epoch_len, &g->hi))
		g->lo = g->hi = 0;          /* no range: compute every time */
	return g->e;
}

/* Welch power in [lo, hi) Hz, hi capped at Nyquist. */
__attribute__((unused))
static double welch_band(const psg_welch *w, double lo, double hi,
			 double rate)
{
	return psg_welch_band(w, lo, fmin(hi, rate / 2));
}

/* The electrode part of a label: "EEG Fpz-Cz" -> "Fpz-Cz". */
__attribute__((unused))
static const char *electrode(const char *label)
{
	return strncasecmp(label, "EEG ", 4) ? label : label + 4;
}

/* Records in the output header that this stage uses channel ch as role
   (stage_name without "psg-"); -1 (no channel) records nothing. */
__attribute__((unused))
static void add_role(psg_header *h, const char *role, int ch)
{
	const char *stage = strncmp(stage_name, "psg-", 4) ? stage_name :
			    stage_name + 4;
	if (ch >= 0 && psg_header_add_role(h, stage, role, ch) < 0)
		die(EXIT_IO, "out of memory");
}

/* Room for one more element in a doubling array p of *cap elements
   holding n: returns p, or p grown (from 256 elements), or dies out of
   memory.  Use as p = grow(p, &cap, n, sizeof *p). */
__attribute__((unused))
static void *grow(void *p, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return p;
	size_t c = *cap ? 2 * *cap : 256;
	void *q = realloc(p, c * elem);
	if (!q)
		die(EXIT_IO, "out of memory");
	*cap = c;
	return q;
}

/* lround(x) without the libm call, for per-sample loops: exact for any
   x (the truncation and its remainder are exact below 2^52; the rest goes
   to lround). */
__attribute__((unused))
static inline long lround_fast(double x)
{
	if (!(fabs(x) < 0x1p52))
		return lround(x);
	long i = (long)x;
	double f = x - (double)i;
	return i + (f >= 0.5) - (f <= -0.5);   /* no branch to mispredict */
}

/* A streaming filter of these taps, which it frees; dies out of
   memory. */
__attribute__((unused))
static psg_filter *filter_of_taps(double *taps, int n)
{
	int st;
	psg_filter *f = psg_filter_new(taps, n, &st);
	free(taps);
	if (!f)
		die(EXIT_IO, "filter: %s", psg_strerror(st));
	return f;
}

/* "Sleep stage W/1/2/3/4/R/N1..." from a merged hypnogram: a
   PSG_STAGE_* (S3 and S4 are N3; "?" is PSG_STAGE_UNKNOWN), or -2 for a
   label that is no stage. */
__attribute__((unused))
static int stage_of(const char *label)
{
	if (strncasecmp(label, "Sleep stage ", 12))
		return -2;
	const char *s = label + 12;
	if (*s == 'N' || *s == 'n')
		s++;
	switch (toupper((unsigned char)*s)) {
	case 'W': return PSG_STAGE_W;
	case '1': return PSG_STAGE_N1;
	case '2': return PSG_STAGE_N2;
	case '3': case '4': return PSG_STAGE_N3;
	case 'R': return PSG_STAGE_R;
	}
	return PSG_STAGE_UNKNOWN;
}

#endif
