/*
 * psg-chain -- a chain of stream stages in one process:
 *
 *   psg-chain psg-read IN.edf '|' psg-wake '|' psg-h5 -o OUT.h5
 *
 * does what `psg-read IN.edf | psg-wake | psg-h5 -o OUT.h5` does, with
 * the same stage code and the same output, but each stage runs on a thread
 * of psg-chain and the stream goes from one to the next through a link
 * (psg_link: slices of buffers are handed over, not copied through the
 * kernel twice, and a record a stage forwards unchanged is not copied).  A pipe's hop cost 0.2-0.25 CPU s per 8-h night, a
 * fifth of psg-night's time (docs/performance.md, issue 21); psg-night
 * runs its chain here.
 *
 * The stages are linked in (Makefile: CHAIN_STAGES), each with its main
 * renamed and stage.h's chain_slot as the thread's standard input, output
 * and exit.  The stages start one after another, each once the previous
 * has parsed its options (getopt's state is global); then they run side by
 * side.  A stage that fails ends its thread, not the process: the links on
 * either side are closed, so the stage after it meets a truncated stream
 * and the one before it a broken link, as with pipes, and psg-chain exits
 * with the first failure's code once every stage has ended.  Only the
 * first failure speaks (the others are its echo) unless --status keeps
 * every stage's messages apart.
 */
#include "stage.h"

#include <limits.h>
#include <pthread.h>

typedef int (*chain_entry)(chain_slot *, int, char **);

/* Each compiled from stages/psg-VERB.c with PSG_CHAIN=chain_VERB. */
int chain_read(chain_slot *, int, char **);
int chain_filter(chain_slot *, int, char **);
int chain_wake(chain_slot *, int, char **);
int chain_sws(chain_slot *, int, char **);
int chain_spindle(chain_slot *, int, char **);
int chain_stage(chain_slot *, int, char **);
int chain_emg(chain_slot *, int, char **);
int chain_h5(chain_slot *, int, char **);
int chain_dump(chain_slot *, int, char **);

static const struct {
	const char *verb;
	chain_entry run;
} known[] = {
	{"read", chain_read}, {"filter", chain_filter}, {"wake", chain_wake},
	{"sws", chain_sws}, {"spindle", chain_spindle},
	{"stage", chain_stage}, {"emg", chain_emg}, {"h5", chain_h5},
	{"dump", chain_dump},
};
#define NKNOWN (sizeof known / sizeof *known)

typedef struct job {
	chain_slot slot;          /* first: a slot is its job */
	const char *verb;
	chain_entry run;
	int argc;
	char **argv;
	int index, started, done, parked, code;
	int echo;                 /* failed only as its reader's echo */
	pthread_t thread;
} job;

typedef struct runner {
	pthread_mutex_t mu;
	pthread_cond_t changed;
	job *jobs;
	int n;
	int first_failed;         /* index, or -1 */
	const char *status_dir;
} runner;

static void usage(FILE *f)
{
	fputs("usage: psg-chain [--status DIR] STAGE [ARGS...] ['|' STAGE "
	      "[ARGS...]]...\n"
	      "Runs stream stages as `STAGE ARGS | STAGE ARGS | ...` does, in "
	      "one process:\neach stage on a thread, the stream passed in "
	      "memory instead of through pipes.\nSeparate the stages with a "
	      "'|' argument (quoted in the shell).  STAGE is\npsg-read, "
	      "psg-filter, psg-wake, psg-sws, psg-spindle, psg-stage, "
	      "psg-emg,\npsg-h5 or psg-dump (a path to one is fine); its "
	      "options are its own.\n\n"
	      "      --status DIR   each stage's messages in DIR/VERB.err "
	      "and its exit code\n"
	      "                     in DIR/VERB (VERB: read, wake, ...); "
	      "DIR must exist\n"
	      "      --version      the version\n"
	      "  -h, --help         this help\n\n"
	      "Exit: 0 ok, 1 usage, else the exit code of the first stage "
	      "that failed.\n", f);
}

static runner *runner_of(chain_slot *s)
{
	return s->runner;
}

/* A stage that fails after the stage it feeds ended well, or itself only
   echoed the one after it, failed because its reader stopped reading: a
   pipe's SIGPIPE, not a failure (psg-read | psg-emg | psg-dump -H). */
static int echo_of_reader(const runner *r, const job *j)
{
	const job *next = j->index + 1 < r->n ? &r->jobs[j->index + 1] : NULL;
	return next && next->done && (!next->code || next->echo);
}

static void on_started(chain_slot *s)
{
	runner *r = runner_of(s);
	pthread_mutex_lock(&r->mu);
	((job *)s)->started = 1;
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->mu);
}

/* The stage has ended: its neighbours learn it through its links. */
static void finish(job *j, int code, int parked)
{
	runner *r = runner_of(&j->slot);
	pthread_mutex_lock(&r->mu);
	j->started = j->done = 1;
	j->parked = parked;
	j->code = code;
	j->echo = code && echo_of_reader(r, j);
	if (code && !j->echo && r->first_failed < 0)
		r->first_failed = j->index;
	psg_link_close_read(j->slot.in);
	psg_link_close_write(j->slot.out);
	pthread_cond_broadcast(&r->changed);
	pthread_mutex_unlock(&r->mu);
}

/* stage_exit in a chain: the thread waits here, its stack (and what it
   points to) intact, until the process exits. */
static void on_stop(chain_slot *s, int code)
{
	static pthread_mutex_t park = PTHREAD_MUTEX_INITIALIZER;
	static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
	finish((job *)s, code, 1);
	pthread_mutex_lock(&park);
	for (;;)
		pthread_cond_wait(&never, &park);
}

static int on_quiet(chain_slot *s)
{
	runner *r = runner_of(s);
	const job *j = (const job *)s;
	if (r->status_dir)
		return 0;   /* each stage's messages are kept apart */
	pthread_mutex_lock(&r->mu);
	int q = (r->first_failed >= 0 && r->first_failed != j->index) ||
		echo_of_reader(r, j);
	pthread_mutex_unlock(&r->mu);
	return q;
}

static void *run_job(void *arg)
{
	job *j = arg;
	finish(j, j->run(&j->slot, j->argc, j->argv), 0);
	return NULL;
}

static chain_entry entry_of(const char *name, const char **verb)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (strncmp(base, "psg-", 4))
		return NULL;
	for (size_t i = 0; i < NKNOWN; i++)
		if (!strcmp(base + 4, known[i].verb)) {
			*verb = known[i].verb;
			return known[i].run;
		}
	return NULL;
}

/* One job per '|'-separated part of argv[from..argc-1]. */
static void split(runner *r, int argc, char **argv, int from)
{
	int n = 1;
	for (int i = from; i < argc; i++)
		n += !strcmp(argv[i], "|");
	r->jobs = calloc((size_t)n, sizeof *r->jobs);
	if (!r->jobs)
		die(EXIT_IO, "out of memory");
	r->n = n;
	for (int k = 0, i = from; k < n; k++, i++) {
		job *j = &r->jobs[k];
		int end = i;
		while (end < argc && strcmp(argv[end], "|"))
			end++;
		if (end == i)
			die(EXIT_USAGE, "stage %d of the chain is empty", k + 1);
		if (!(j->run = entry_of(argv[i], &j->verb)))
			die(EXIT_USAGE, "'%s' is not a stage psg-chain runs "
			    "(see psg-chain --help)", argv[i]);
		for (int m = 0; m < k; m++)
			if (r->jobs[m].run == j->run)
				die(EXIT_USAGE, "psg-%s twice: a stage runs "
				    "once in a chain", j->verb);
		j->argc = end - i;
		if (!(j->argv = calloc((size_t)j->argc + 1, sizeof *j->argv)))
			die(EXIT_IO, "out of memory");
		copy_n(j->argv, argv + i, (size_t)j->argc * sizeof *j->argv);
		j->index = k;
		i = end;
	}
}

static FILE *status_file(const runner *r, const job *j, const char *ext,
			 const char *mode)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s%s", r->status_dir, j->verb,
		     ext) >= (int)sizeof path)
		die(EXIT_USAGE, "--status: directory name too long");
	FILE *f = fopen(path, mode);
	if (!f)
		die(EXIT_IO, "%s: %s", path, strerror(errno));
	return f;
}

static void wire(runner *r)
{
	for (int k = 0; k < r->n; k++) {
		job *j = &r->jobs[k];
		j->slot.runner = r;
		j->slot.started = on_started;
		j->slot.stop = on_stop;
		j->slot.quiet = on_quiet;
		j->slot.err = r->status_dir ? status_file(r, j, ".err", "w") :
			      stderr;
		if (k + 1 < r->n && !(j->slot.out = psg_link_new()))
			die(EXIT_IO, "out of memory");
		if (k)
			j->slot.in = r->jobs[k - 1].slot.out;
	}
}

/* getopt's state starts afresh for each stage, as in a process of its
   own: glibc's getopt re-reads its ordering only for optind 0. */
static void reset_getopt(void)
{
#ifdef __GLIBC__
	optind = 0;
#else
	optind = 1;
#endif
}

/* Each stage starts once the one before has parsed its options. */
static void start_all(runner *r)
{
	for (int k = 0; k < r->n; k++) {
		job *j = &r->jobs[k];
		reset_getopt();
		int e = pthread_create(&j->thread, NULL, run_job, j);
		if (e)
			die(EXIT_IO, "cannot start psg-%s: %s", j->verb,
			    strerror(e));
		pthread_mutex_lock(&r->mu);
		while (!j->started)
			pthread_cond_wait(&r->changed, &r->mu);
		pthread_mutex_unlock(&r->mu);
	}
}

/* Waits for every stage; the exit code of the first failure, or 0. */
static int wait_all(runner *r)
{
	pthread_mutex_lock(&r->mu);
	for (int k = 0; k < r->n; k++)
		while (!r->jobs[k].done)
			pthread_cond_wait(&r->changed, &r->mu);
	int code = r->first_failed >= 0 ? r->jobs[r->first_failed].code : 0;
	pthread_mutex_unlock(&r->mu);
	return code;
}

static void write_status(runner *r)
{
	for (int k = 0; k < r->n && r->status_dir; k++) {
		job *j = &r->jobs[k];
		FILE *f = status_file(r, j, "", "w");
		fprintf(f, "%d\n", j->code);
		if (fclose(f) | fclose(j->slot.err))
			die(EXIT_IO, "--status: cannot write in %s: %s",
			    r->status_dir, strerror(errno));
	}
}

/* A stage that ended through stage_exit (a failure, or --optional's
   pass-through) waits in on_stop for ever: the process exits without it,
   and without freeing what it may still point to.  Every other thread is
   joined. */
static void release(runner *r)
{
	int parked = 0;
	for (int k = 0; k < r->n; k++)
		if (r->jobs[k].parked)
			parked = 1;
		else
			pthread_join(r->jobs[k].thread, NULL);
	for (int k = 0; k < r->n && !parked; k++) {
		psg_link_free(r->jobs[k].slot.out);
		free(r->jobs[k].argv);
	}
	if (!parked)
		free(r->jobs);
}

/* psg-chain's own options, before the first stage; hand-parsed so that
   getopt's state is the stages' alone. */
static int parse_own(int argc, char **argv, runner *r)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			exit(fflush(stdout) ? EXIT_IO : 0);
		} else if (!strcmp(argv[i], "--version")) {
			printf("%s (psgpipe) %s\n", stage_name, PSG_VERSION);
			exit(fflush(stdout) ? EXIT_IO : 0);
		} else if (!strcmp(argv[i], "--status") && i + 1 < argc) {
			r->status_dir = argv[++i];
		} else if (!strcmp(argv[i], "--status")) {
			die(EXIT_USAGE, "option '--status' needs a value");
		} else if (!strcmp(argv[i], "--")) {
			return i + 1;
		} else
			die(EXIT_USAGE, "unknown option '%s' (see psg-chain "
			    "--help)", argv[i]);
	}
	return i;
}

int main(int argc, char **argv)
{
	runner r = {.first_failed = -1};
	stage_name = "psg-chain";
	int from = parse_own(argc, argv, &r);
	if (from >= argc)
		die(EXIT_USAGE, "no stages (see psg-chain --help)");
	if (pthread_mutex_init(&r.mu, NULL) ||
	    pthread_cond_init(&r.changed, NULL))
		die(EXIT_IO, "cannot make a lock");
	split(&r, argc, argv, from);
	wire(&r);
	start_all(&r);
	int code = wait_all(&r);
	write_status(&r);
	release(&r);
	return code;
}
