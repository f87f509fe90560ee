/*
 * psg-read -- a recording (EDF, EDF+C, EDF+D, BDF, BDF+) as a psgpipe
 * stream on stdout, with annotation files and audio channels merged in.
 *
 * EDF+D is read by the native parser with its real timeline (docs/edf.md);
 * everything edflib accepts is read through edflib.  Voltages become uV.
 */
#include "stage.h"

#include <getopt.h>
#include <signal.h>
#include <sndfile.h>

#define MAX_EXTRA 16

typedef struct ann {
	int64_t onset, duration;
	char *text;
} ann;

typedef struct annlist {
	ann *a;
	size_t n, next;
} annlist;

typedef struct audio {
	SNDFILE *sf;
	SF_INFO info;
	int first;            /* its first channel in the output header */
	int64_t t0;           /* ticks of its first frame */
	int64_t frame;        /* next frame to read */
	float *inter, *mono;
	int done;
} audio;

typedef struct opts {
	psg_open_opts open;
	const char *ann[MAX_EXTRA];
	int nann;
	const char *audio[MAX_EXTRA];
	int naudio;
	int64_t audio_offset;
	int header_only;            /* HEAD and END only */
} opts;

static void usage(FILE *f)
{
	fputs("usage: psg-read [options] FILE > stream\n"
	      "Reads an EDF, EDF+C, EDF+D, BDF or BDF+ recording and writes a "
	      "psgpipe stream.\n\n"
	      "  -c, --channels SPEC     channels by label, glob or 0-based "
	      "index, comma-separated\n"
	      "                          (e.g. 'EEG*,EMG Leg*,3'; default all)\n"
	      "  -a, --annotations FILE  merge the annotations of an EDF+ "
	      "file (e.g. a hypnogram),\n"
	      "                          aligned by start date-time, or a text "
	      "hypnogram as psg-score\n"
	      "                          reads it (DREAMS, a stage per epoch, "
	      "TSV) from the start;\n"
	      "                          repeatable\n"
	      "      --audio FILE[:LABEL]  add a WAV/FLAC/... file as channel(s) "
	      "(libsndfile); repeatable\n"
	      "      --audio-offset SEC  start of the audio after the "
	      "recording's start (default 0)\n"
	      "  -e, --epoch SEC         epoch length used by all stages "
	      "(default 30)\n"
	      "      --epoch-origin SEC  start of the first epoch (default 0)\n"
	      "      --block SEC         samples per data block (default 1)\n"
	      "      --backend NAME      auto (default), edflib or native\n"
	      "      --no-hash           skip the source's SHA-256\n"
	      "      --header-only       the header and the end record, no "
	      "samples or events\n"
	      "                          (what psg-night reads to learn the "
	      "stages' choices)\n"
	      "  -h, --help              this help\n"
	      "      --version           the version\n\n"
	      "Exit: 0 ok, 1 usage, 2 unreadable/malformed input or write "
	      "error, 3 no channel matches.\n", f);
}

static void parse_args(int argc, char **argv, opts *o)
{
	enum { O_AUDIO = 256, O_AOFF, O_ORIGIN, O_BLOCK, O_BACKEND, O_NOHASH,
	       O_VERSION, O_HEADER };
	static const struct option lo[] = {
		{"channels", 1, 0, 'c'}, {"annotations", 1, 0, 'a'},
		{"audio", 1, 0, O_AUDIO}, {"audio-offset", 1, 0, O_AOFF},
		{"epoch", 1, 0, 'e'}, {"epoch-origin", 1, 0, O_ORIGIN},
		{"block", 1, 0, O_BLOCK}, {"backend", 1, 0, O_BACKEND},
		{"no-hash", 0, 0, O_NOHASH}, {"header-only", 0, 0, O_HEADER},
		{"help", 0, 0, 'h'},
		{"version", 0, 0, O_VERSION}, {0, 0, 0, 0}};
	int c;
	o->open.hash = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:a:e:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->open.channels = optarg; break;
		case 'a':
			if (o->nann == MAX_EXTRA)
				die(EXIT_USAGE, "too many annotation files");
			o->ann[o->nann++] = optarg;
			break;
		case O_AUDIO:
			if (o->naudio == MAX_EXTRA)
				die(EXIT_USAGE, "too many audio files");
			o->audio[o->naudio++] = optarg;
			break;
		case O_AOFF:
			o->audio_offset = opt_seconds("--audio-offset", optarg,
						      0);
			break;
		case 'e':
			o->open.epoch_len = opt_seconds("--epoch", optarg,
							1e-3);
			break;
		case O_ORIGIN:
			o->open.epoch_origin = opt_seconds("--epoch-origin",
							   optarg, 0);
			break;
		case O_BLOCK:
			o->open.block_seconds =
				(double)opt_seconds("--block", optarg, 1e-3) /
				PSG_TICKS_PER_SEC;
			break;
		case O_BACKEND:
			if (!strcmp(optarg, "auto"))
				o->open.backend = PSG_EDF_AUTO;
			else if (!strcmp(optarg, "edflib"))
				o->open.backend = PSG_EDF_EDFLIB;
			else if (!strcmp(optarg, "native"))
				o->open.backend = PSG_EDF_NATIVE;
			else
				die(EXIT_USAGE, "unknown backend '%s'", optarg);
			break;
		case O_NOHASH: o->open.hash = 0; break;
		case O_HEADER: o->header_only = 1, o->open.hash = 0; break;
		case 'h': usage(stdout); exit(0);
		case O_VERSION: puts("psg-read (psgpipe) " PSG_VERSION); exit(0);
		default: bad_option(c, argv);
		}
	}
	if (optind >= argc)
		die(EXIT_USAGE, "no recording given (see psg-read --help)");
	if (optind < argc - 1)
		die(EXIT_USAGE, "one recording at a time, not '%s' too",
		    argv[optind + 1]);
}

/* ---- annotation files ---- */

static int by_onset(const void *a, const void *b)
{
	const ann *x = a, *y = b;
	return (x->onset > y->onset) - (x->onset < y->onset);
}

static void add_ann(annlist *l, int64_t onset, int64_t dur, const char *t)
{
	ann *a = realloc(l->a, (l->n + 1) * sizeof *a);
	if (!a || !(t = strdup(t)))
		die(EXIT_IO, "out of memory");
	l->a = a;
	l->a[l->n++] = (ann){onset, dur, (char *)t};
}

/* A text hypnogram (DREAMS, a stage per epoch, a TSV: the parser
   psg-score uses, psg_hypnogram_read) as "Sleep stage X" annotations.
   Text has no clock: its first epoch is the recording's start. */
static int load_text_hypnogram(const char *path, const psg_header *rec,
			       annlist *l, char *msg, size_t n)
{
	psg_stage_run *runs;
	size_t nruns;
	int st = psg_hypnogram_read(path, rec->epoch_len, &runs, &nruns, msg,
				    n);
	if (st)
		return st;
	for (size_t i = 0; i < nruns; i++) {
		char t[32];
		snprintf(t, sizeof t, "Sleep stage %s",
			 psg_stage_name(runs[i].stage));
		add_ann(l, runs[i].onset, runs[i].duration, t);
	}
	free(runs);
	return 0;
}

/* Reads every annotation of path, shifted onto the recording's clock;
   a file that is no EDF+/BDF+ may be a text hypnogram. */
static void load_annotations(const char *path, const psg_header *rec,
			     annlist *l)
{
	psg_open_opts oo = {.no_samples = 1};
	psg_record r;
	int st;
	char msg[512], hmsg[512];
	psg_reader *in = psg_reader_open(path, &oo, &st, msg, sizeof msg);
	if (!in && st != PSG_ERR_IO &&
	    !load_text_hypnogram(path, rec, l, hmsg, sizeof hmsg))
		return;
	if (!in)
		die(exit_code(st), "%s (nor a text hypnogram)", msg);
	print_warnings(in, path);
	const psg_header *h = psg_reader_header(in);
	int64_t shift = clock_shift(h, rec, path);
	while ((st = psg_reader_next(in, &r)) > 0)
		if (r.kind == PSG_REC_EVENT)
			add_ann(l, r.event.onset + shift, r.event.duration,
				r.event.label);
	if (st < 0)
		die(exit_code(st), "%s", psg_reader_errmsg(in));
	psg_reader_free(in);
}

/* ---- audio ---- */

static void open_audio(const char *spec, audio *a, psg_header *h,
		       int64_t offset)
{
	char path[PSG_PATH_LEN], label[PSG_LABEL_LEN] = "Audio";
	snprintf(path, sizeof path, "%s", spec);
	char *colon = strrchr(path, ':');
	if (colon && colon != path) {
		*colon = '\0';
		snprintf(label, sizeof label, "%s", colon + 1);
	}
	if (!(a->sf = sf_open(path, SFM_READ, &a->info)))
		die(EXIT_IO, "%s: %s", path, sf_strerror(NULL));
	if (a->info.samplerate <= 0 || a->info.channels <= 0)
		die(EXIT_IO, "%s: no audio samples", path);
	a->first = h->nchannels;
	a->t0 = offset;
	for (int i = 0; i < a->info.channels; i++) {
		psg_channel c = {.phys_min = -1, .phys_max = 1,
			.spr = a->info.samplerate, .period = PSG_TICKS_PER_SEC};
		if (a->info.channels == 1)
			snprintf(c.label, sizeof c.label, "%s", label);
		else
			snprintf(c.label, sizeof c.label, "%.50s %d", label,
				 i + 1);
		snprintf(c.kind, sizeof c.kind, "%s", PSG_KIND_AUDIO);
		snprintf(c.unit, sizeof c.unit, "FS");   /* full scale */
		snprintf(c.transducer, sizeof c.transducer, "audio file %.200s",
			 path);
		if (psg_header_add_channel(h, &c) < 0)
			die(EXIT_IO, "out of memory");
	}
	size_t n = (size_t)a->info.samplerate * (size_t)a->info.channels;
	a->inter = malloc(n * sizeof *a->inter);
	a->mono = malloc((size_t)a->info.samplerate * sizeof *a->mono);
	if (!a->inter || !a->mono)
		die(EXIT_IO, "out of memory");
}

static int64_t audio_next_time(const audio *a)
{
	return a->done ? INT64_MAX : a->t0 + a->frame * PSG_TICKS_PER_SEC /
				     a->info.samplerate;
}

/* One second of every channel of the audio file. */
static void write_audio_second(audio *a, psg_writer *w)
{
	sf_count_t got = sf_readf_float(a->sf, a->inter, a->info.samplerate);
	if (got <= 0) {
		a->done = 1;
		return;
	}
	for (int c = 0; c < a->info.channels; c++) {
		for (sf_count_t i = 0; i < got; i++)
			a->mono[i] = a->inter[i * a->info.channels + c];
		psg_block b = {.channel = a->first + c, .t0 = a->t0,
			.offset = a->frame, .n = (int32_t)got, .x = a->mono};
		if (psg_write_block(w, &b))
			die(EXIT_IO, "%s", psg_writer_errmsg(w));
	}
	a->frame += got;
	if (got < a->info.samplerate)
		a->done = 1;
}

/* ---- merging ---- */

typedef struct merge {
	annlist anns;
	audio au[MAX_EXTRA];
	int naudio;
	psg_writer *w;
	const psg_header *h;
} merge;

/* Emits extra annotations and audio that come before time t. */
static void catch_up(merge *m, int64_t t)
{
	annlist *l = &m->anns;
	while (l->next < l->n && l->a[l->next].onset <= t) {
		ann *a = &l->a[l->next++];
		psg_event e = {.type = 0, .channel = -1, .onset = a->onset,
			.duration = a->duration, .label = a->text};
		if (psg_write_event(m->w, &e))
			die(EXIT_IO, "%s", psg_writer_errmsg(m->w));
	}
	for (int i = 0; i < m->naudio; i++)
		while (!m->au[i].done && audio_next_time(&m->au[i]) <= t)
			write_audio_second(&m->au[i], m->w);
}

static int64_t record_time(const psg_header *h, const psg_record *r)
{
	if (r->kind == PSG_REC_DATA)
		return psg_sample_time(&h->channels[r->block.channel],
				       r->block.t0, r->block.offset);
	if (r->kind == PSG_REC_EVENT)
		return r->event.onset;
	return INT64_MAX;
}

static void pump(psg_reader *in, merge *m)
{
	psg_record r;
	int st;
	while ((st = psg_reader_next(in, &r)) > 0) {
		catch_up(m, record_time(m->h, &r));
		if (r.kind == PSG_REC_END) {
			if (psg_writer_finish(m->w, &r.end))
				die(EXIT_IO, "%s", psg_writer_errmsg(m->w));
			return;
		}
		if (psg_write_record(m->w, &r))
			die(EXIT_IO, "%s", psg_writer_errmsg(m->w));
	}
	die(exit_code(st), "%s", psg_reader_errmsg(in));
}

int main(int argc, char **argv)
{
	opts o = {0};
	merge m = {0};
	int st;
	char msg[512];
	stage_name = "psg-read";
	parse_args(argc, argv, &o);
	refuse_terminal();
	const char *path = argv[optind];
	stdout_not_input(path);
	for (int i = 0; i < o.nann; i++)
		stdout_not_input(o.ann[i]);
	for (int i = 0; i < o.naudio; i++)
		stdout_not_input(o.audio[i]);
	psg_reader *in = psg_reader_open(path, &o.open, &st, msg, sizeof msg);
	if (!in)
		die(exit_code(st), "%s", msg);
	int warned = print_warnings_from(in, path, 0);
	psg_header *h = derive_header(psg_reader_header(in), argc, argv);
	for (int i = 0; i < o.nann; i++)
		load_annotations(o.ann[i], h, &m.anns);
	sort_n(m.anns.a, m.anns.n, sizeof *m.anns.a, by_onset);
	for (int i = 0; i < o.naudio; i++)
		open_audio(o.audio[i], &m.au[i], h, o.audio_offset);
	m.naudio = o.naudio;
	m.h = h;
	if (!(m.w = stream_out(h, &st)))
		die(EXIT_IO, "cannot write the stream: %s", psg_strerror(st));
	if (o.header_only) {
		/* A whole stream without records: the stages read it in a
		   moment, where stopping them with a broken pipe after the
		   header cost psg-night a fifth of the night. */
		psg_end e = {.duration = h->duration};
		if (psg_writer_finish(m.w, &e))
			die(EXIT_IO, "%s", psg_writer_errmsg(m.w));
	} else
		pump(in, &m);
	print_warnings_from(in, path, warned);
	for (int i = 0; i < m.naudio; i++) {
		sf_close(m.au[i].sf);
		free(m.au[i].inter);
		free(m.au[i].mono);
	}
	for (size_t i = 0; i < m.anns.n; i++)
		free(m.anns.a[i].text);
	free(m.anns.a);
	psg_writer_free(m.w);
	psg_header_free(h);
	psg_reader_free(in);
	return 0;
}
