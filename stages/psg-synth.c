/*
 * psg-synth -- a generated night (EDF+/BDF+, EDF+D with pauses) whose every
 * event is known, with its ground truth: events and epochs as TSV, the
 * hypnogram as an annotation-only EDF+, and optionally the truth as a
 * psgpipe stream on stdout (for psg-h5).  Deterministic for a seed and a
 * version.  Models, parameters and their sources: docs/synth.md.
 */
#include "stage.h"
#include "tmpout.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <strings.h>

typedef struct opts {
	psg_synth_opts s;
	const char *out, *truth;
	int bdf, stream;
} opts;

static void usage(FILE *f)
{
	fputs("usage: psg-synth [options] -o NIGHT.edf\n"
	      "Generates a night of PSG with known events and writes its "
	      "ground truth beside it:\n"
	      "PREFIX.events.tsv, PREFIX.epochs.tsv and PREFIX.hypnogram.edf "
	      "(PREFIX: NIGHT without .edf/.bdf).\n\n"
	      "  -o FILE              the recording (EDF+C, or EDF+D with "
	      "--gaps)\n"
	      "  -H, --hours H        length in hours (default 8; with "
	      "--hypnogram, its length)\n"
	      "  -s, --seed N         random seed (default 1)\n"
	      "  -p, --profile NAME   healthy (default), clean, plm, insomnia, "
	      "bruxism, spasm,\n"
	      "                       noisy, mixed; stress nights older, kcomplex, "
	      "sweat\n                       (docs/synth.md)\n"
	      "      --hypnogram FILE follow an expert hypnogram (EDF+ "
	      "annotations or text)\n"
	      "      --eeg-rate HZ    EEG and EOG rate (default 256)\n"
	      "      --emg-rate HZ    EMG rate (default 512)\n"
	      "  -n, --channels N     number of channels (default: the "
	      "16-channel montage)\n"
	      "      --mains HZ       50 (default), 60, or 0 for none\n"
	      "  -e, --epoch SEC      epoch length of the truth (default 30)\n"
	      "      --gaps N         N recording pauses: writes EDF+D\n"
	      "      --bdf            24-bit BDF+ instead of EDF+\n"
	      "      --truth PREFIX   where the truth files go\n"
	      "      --muscles        add Paraspinal L/R, Trapezius R and Calf "
	      "L EMG with spasms,\n"
	      "                       cramps, twitch trains and whole-body "
	      "movements (issue 18)\n"
	      "      --stream         also write the truth as a psgpipe "
	      "stream on stdout\n"
	      "      --version        the version\n"
	      "  -h, --help           this help\n\n"
	      "Exit: 0 ok, 1 usage, 2 cannot read the hypnogram or write the "
	      "files.\n", f);
}

static long opt_long(const char *opt, const char *arg, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < lo || v > hi)
		die(EXIT_USAGE, "%s: '%s' is not a number in %ld..%ld", opt,
		    arg, lo, hi);
	return v;
}

static void parse_args(int argc, char **argv, opts *o)
{
	enum { O_HYP = 256, O_EEG, O_EMG, O_MAINS, O_GAPS, O_BDF, O_TRUTH,
	       O_STREAM, O_MUSCLES };
	static const struct option lo[] = {
		{"hours", 1, 0, 'H'}, {"seed", 1, 0, 's'},
		{"profile", 1, 0, 'p'}, {"hypnogram", 1, 0, O_HYP},
		{"eeg-rate", 1, 0, O_EEG}, {"emg-rate", 1, 0, O_EMG},
		{"channels", 1, 0, 'n'}, {"mains", 1, 0, O_MAINS},
		{"epoch", 1, 0, 'e'}, {"gaps", 1, 0, O_GAPS},
		{"bdf", 0, 0, O_BDF}, {"truth", 1, 0, O_TRUTH},
		{"stream", 0, 0, O_STREAM}, {"muscles", 0, 0, O_MUSCLES},
		{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int c;
	o->s.seed = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:H:s:p:n:e:h", lo, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case 'H':
			o->s.hours = (double)opt_seconds("--hours", optarg, 1e-3) /
				     PSG_TICKS_PER_SEC;
			break;
		case 's':
			o->s.seed = (uint64_t)opt_long("--seed", optarg, 0,
						       LONG_MAX);
			break;
		case 'p': o->s.profile = optarg; break;
		case O_HYP: o->s.hypnogram = optarg; break;
		case O_EEG:
			o->s.eeg_rate = (int)opt_long("--eeg-rate", optarg, 50,
						      4096);
			break;
		case O_EMG:
			o->s.emg_rate = (int)opt_long("--emg-rate", optarg, 50,
						      8192);
			break;
		case 'n':
			o->s.nchannels = (int)opt_long("--channels", optarg, 1,
						       512);
			break;
		case O_MAINS: {
			long m = opt_long("--mains", optarg, 0, 60);
			if (m && m != 50 && m != 60)
				die(EXIT_USAGE, "--mains: 50, 60 or 0");
			o->s.mains_hz = m ? (int)m : -1;
			break;
		}
		case 'e':
			o->s.epoch_len = opt_seconds("--epoch", optarg, 1);
			break;
		case O_GAPS:
			o->s.gaps = (int)opt_long("--gaps", optarg, 0, 1000);
			break;
		case O_BDF: o->bdf = 1; break;
		case O_TRUTH: o->truth = optarg; break;
		case O_STREAM: o->stream = 1; break;
		case O_MUSCLES: o->s.muscles = 1; break;
		case 'h': usage(stdout); exit(0);
		default: bad_option(c, argv);
		}
	}
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (!o->out)
		die(EXIT_USAGE, "no output file: use -o NIGHT.edf");
}

/* ---- outputs: written under temporary names, renamed at the end -------- */

/* Slots of tmpout.h: the two truth tables, and the two EDF files that
   libpsg writes (tracked so that an interrupt removes them too). */
enum { SLOT_EVENTS, SLOT_EPOCHS, SLOT_NIGHT, SLOT_HYP };

typedef struct outfile {
	char path[PSG_PATH_LEN];
	int slot;
	FILE *f;
} outfile;

/* Writers not yet finished: freeing them removes their temporary files. */
static psg_edf_writer *g_night, *g_hyp;

/* Runs on every exit, die() included: nothing half-written remains. */
static void at_exit(void)
{
	tmpout_discard();
	psg_edf_writer_free(g_night);
	psg_edf_writer_free(g_hyp);
	g_night = g_hyp = NULL;
}

static void out_open(outfile *o, const char *prefix, const char *suffix,
		     int slot)
{
	char err[PATH_MAX + 256];
	snprintf(o->path, sizeof o->path, "%s%s", prefix, suffix);
	o->slot = slot;
	const char *tmp = tmpout_make(slot, o->path, 1, err, sizeof err);
	if (!tmp)
		die(EXIT_IO, "%s", err);
	if (!(o->f = fopen(tmp, "w")))
		die(EXIT_IO, "%s: %s", o->path, strerror(errno));
}

static void out_close(outfile *o)
{
	char err[PATH_MAX + 256];
	if (fflush(o->f) | ferror(o->f) | fclose(o->f))
		die(EXIT_IO, "%s: cannot write: %s", o->path, strerror(errno));
	o->f = NULL;
	if (tmpout_commit(o->slot, o->path, err, sizeof err))
		die(EXIT_IO, "%s", err);
}

/* An EDF output through libpsg's writer: never over an input, and its
   temporary file removed on an interrupt. */
static psg_edf_writer *edf_open(const char *path, const psg_header *h,
				const psg_edf_opts *eo, int slot)
{
	char err[PATH_MAX + 256];
	int st;
	psg_edf_writer *w = tmpout_edf_open(slot, path, h, eo, &st, err,
					    sizeof err);
	if (!w)
		die(st == PSG_ERR_ARG ? EXIT_USAGE : EXIT_IO, "%s", err);
	return w;
}

static void edf_finish(psg_edf_writer *w, int slot)
{
	int st = psg_edf_writer_finish(w);
	tmpout_untrack(slot);
	if (st)
		die(EXIT_IO, "%s", psg_edf_writer_errmsg(w));
}

static void secs(FILE *f, int64_t t)
{
	int64_t a = t < 0 ? -t : t;
	fprintf(f, "%s%" PRId64 ".%07" PRId64, t < 0 ? "-" : "",
		a / PSG_TICKS_PER_SEC, a % PSG_TICKS_PER_SEC);
}

typedef struct truth {
	outfile ev, ep;
	psg_edf_writer *hyp;
	psg_writer *stream;
	const psg_header *h;
	int64_t stage_onset;      /* current run of the hypnogram */
	int stage;
	int ft_stage, ft_frac, ft_count, ft_rec;  /* stream feature ids */
} truth;

static void put_event(truth *t, const psg_truth_event *e)
{
	FILE *f = t->ev.f;
	secs(f, e->onset);
	fputc('\t', f);
	secs(f, e->duration);
	fprintf(f, "\t%s\t%s\t%.6g\t%.6g\t%" PRId64 "\n",
		e->channel >= 0 ? t->h->channels[e->channel].label : "",
		e->kind, e->amplitude, e->value, e->id);
	if (!t->stream)
		return;
	int type = psg_header_find_evtype(t->h, e->kind);
	double v[3] = {e->amplitude, e->value, (double)e->id};
	psg_event se = {.type = type, .channel = e->channel, .onset = e->onset,
		.duration = e->duration, .label = e->kind, .nvalues = 3,
		.values = v};
	if (type >= 0 && psg_write_event(t->stream, &se))
		die(EXIT_IO, "%s", psg_writer_errmsg(t->stream));
}

static void hyp_run_end(truth *t, int64_t end)
{
	static const char *label[] = {"Sleep stage W", "Sleep stage 1",
		"Sleep stage 2", "Sleep stage 3", "Sleep stage R"};
	if (end <= t->stage_onset)
		return;
	const char *text = t->stage >= 0 && t->stage <= 4 ? label[t->stage] :
			   "Sleep stage ?";
	if (psg_edf_add_annotation(t->hyp, t->stage_onset, end -
				   t->stage_onset, text))
		die(EXIT_IO, "%s", psg_edf_writer_errmsg(t->hyp));
}

static void put_epoch(truth *t, const psg_truth_epoch *e)
{
	int64_t on = t->h->epoch_origin + e->epoch * t->h->epoch_len;
	fprintf(t->ep.f, "%" PRId64 "\t", e->epoch);
	secs(t->ep.f, on);
	fputc('\t', t->ep.f);
	secs(t->ep.f, t->h->epoch_len);
	fprintf(t->ep.f, "\t%s\t%.6f\t%d\t%.6f\n", psg_stage_name(e->stage),
		e->sws_fraction, e->sw_count, e->recorded);
	if (e->stage != t->stage) {   /* the hypnogram as runs of stages */
		hyp_run_end(t, on);
		t->stage = e->stage, t->stage_onset = on;
	}
	if (!t->stream)
		return;
	uint32_t fid[4] = {(uint32_t)t->ft_stage, (uint32_t)t->ft_frac,
			   (uint32_t)t->ft_count, (uint32_t)t->ft_rec};
	double val[4] = {e->stage, e->sws_fraction, e->sw_count, e->recorded};
	psg_epoch se = {.epoch = e->epoch, .n = 4, .feature = fid,
		.value = val};
	if (psg_write_epoch(t->stream, &se))
		die(EXIT_IO, "%s", psg_writer_errmsg(t->stream));
}

static void drain_truth(psg_synth *s, truth *t)
{
	psg_truth_event e;
	psg_truth_epoch ep;
	while (psg_synth_take_event(s, &e))
		put_event(t, &e);
	while (psg_synth_take_epoch(s, &ep))
		put_epoch(t, &ep);
}

/* The truth stream's header: the night's, plus an event table per truth
   kind and the epoch columns. */
static psg_header *stream_header(const psg_header *src, int argc,
				 char **argv, truth *t)
{
	const char *f[] = {"amplitude", "value", "id"}, *u[] = {"uV", "", ""};
	psg_header *h = derive_header(src, argc, argv);
	const char *kind;
	for (int i = 0; (kind = psg_synth_kind(i)); i++)
		psg_header_add_evtype(h, kind, 3, f, u);
	t->ft_stage = psg_header_add_feature(h, "stage", "",
		"truth stage: W, N1, N2, N3, R or ? (sent as 0-4, -1; "
		"psg-h5 stores the name)");
	t->ft_frac = psg_header_add_feature(h, "sws_fraction", "",
		"share of the epoch covered by qualifying slow waves");
	t->ft_count = psg_header_add_feature(h, "sw_count", "",
		"qualifying slow waves starting in the epoch");
	t->ft_rec = psg_header_add_feature(h, "recorded", "",
		"share of the epoch outside recording pauses");
	return h;
}

static void prefix_of(const opts *o, char *buf, size_t n)
{
	if (o->truth) {
		snprintf(buf, n, "%s", o->truth);
		return;
	}
	snprintf(buf, n, "%s", o->out);
	char *dot = strrchr(buf, '.'), *slash = strrchr(buf, '/');
	if (dot && (!slash || dot > slash) && (!strcasecmp(dot, ".edf") ||
					       !strcasecmp(dot, ".bdf")))
		*dot = '\0';
}

static void open_truth(truth *t, const opts *o, psg_synth *s, int argc,
		       char **argv)
{
	char prefix[PSG_PATH_LEN], hyp[PSG_PATH_LEN + 32];
	int st;
	prefix_of(o, prefix, sizeof prefix);
	out_open(&t->ev, prefix, ".events.tsv", SLOT_EVENTS);
	out_open(&t->ep, prefix, ".epochs.tsv", SLOT_EPOCHS);
	fputs("onset\tduration\tchannel\tkind\tamplitude\tvalue\tid\n", t->ev.f);
	fputs("epoch\tonset\tduration\tstage\tsws_fraction\tsw_count\t"
	      "recorded\n", t->ep.f);
	t->h = psg_synth_header(s);
	t->stage = -2;
	snprintf(hyp, sizeof hyp, "%s.hypnogram.edf", prefix);
	psg_edf_opts ho = {.annotations_only = 1};
	g_hyp = t->hyp = edf_open(hyp, t->h, &ho, SLOT_HYP);
	if (o->stream) {
		psg_header *sh = stream_header(t->h, argc, argv, t);
		if (!(t->stream = psg_writer_open_fd(1, sh, &st)))
			die(EXIT_IO, "cannot write the stream: %s",
			    psg_strerror(st));
		t->h = sh;   /* same channels; now with the truth columns */
	}
}

static void close_truth(truth *t, const psg_header *night)
{
	hyp_run_end(t, night->duration / night->epoch_len * night->epoch_len);
	out_close(&t->ev);
	out_close(&t->ep);
	edf_finish(t->hyp, SLOT_HYP);
	psg_edf_writer_free(t->hyp);
	g_hyp = NULL;
	if (t->stream) {
		psg_end end = {.duration = night->duration};
		if (psg_writer_finish(t->stream, &end))
			die(EXIT_IO, "%s", psg_writer_errmsg(t->stream));
		psg_writer_free(t->stream);
		psg_header_free((psg_header *)t->h);
	}
}

int main(int argc, char **argv)
{
	opts o = {0};
	truth t = {0};
	char msg[512];
	int st;
	stage_name = "psg-synth";
	atexit(at_exit);
	parse_args(argc, argv, &o);
	tmpout_handlers();
	if (o.s.hypnogram)
		tmpout_input(o.s.hypnogram);
	if (o.stream)
		refuse_terminal();
	psg_synth *s = psg_synth_new(&o.s, &st, msg, sizeof msg);
	if (!s)
		die(st == PSG_ERR_ARG ? EXIT_USAGE : EXIT_IO, "%s", msg);
	const psg_header *h = psg_synth_header(s);
	psg_edf_opts eo = {.bdf = o.bdf, .discontinuous = o.s.gaps > 0};
	psg_edf_writer *w = g_night = edf_open(o.out, h, &eo, SLOT_NIGHT);
	open_truth(&t, &o, s, argc, argv);
	int64_t onset;
	const float *const *x;
	while ((st = psg_synth_record(s, &onset, &x)) > 0) {
		if (psg_edf_write_record(w, onset, x))
			die(EXIT_IO, "%s", psg_edf_writer_errmsg(w));
		drain_truth(s, &t);
	}
	if (st < 0)
		die(EXIT_IO, "out of memory");
	drain_truth(s, &t);
	close_truth(&t, h);
	edf_finish(w, SLOT_NIGHT);
	psg_edf_writer_free(w);
	g_night = NULL;
	psg_synth_free(s);
	return 0;
}
