/*
 * psg-filter -- zero-phase FIR filtering of chosen channels of a stream,
 * in place or as derived channels (--as), with the FFT engine of libpsg
 * (Kaiser-window designs, overlap-save; docs/filters.md).  Several filter
 * options make one cascade; each channel is designed at its own rate.
 * The filter restarts at every gap, and the channel's prefilter field
 * records what was done.
 */
#include "stage.h"

#include <getopt.h>
#include <math.h>

#define MAX_SPECS 16
#define PULL (1 << 16)

typedef struct opts {
	psg_fir_spec spec[MAX_SPECS];
	int nspec;
	double transition, atten;
	const char *channels, *as;
} opts;

typedef struct chan {
	int src, dst;            /* input channel, output channel */
	psg_filter *f;
	int64_t t0, next;        /* current input segment */
	int64_t out_t0, out_off; /* where the next output sample goes */
	int active;
	int block;               /* samples per output block */
} chan;

static void usage(FILE *f)
{
	fputs("usage: psg-filter -c CHANNELS FILTER... [options] < in > out\n"
	      "Zero-phase FIR filtering (Kaiser window, FFT overlap-save) of "
	      "stream channels.\n\n"
	      "filters (one or more; they are applied as one cascade):\n"
	      "      --highpass F     pass above F Hz\n"
	      "      --lowpass F      pass below F Hz\n"
	      "      --band LO-HI     pass LO..HI Hz\n"
	      "      --bandstop LO-HI stop LO..HI Hz\n"
	      "      --notch F[xK]    stop F Hz (and K-1 harmonics), e.g. 50x3\n"
	      "options:\n"
	      "  -c, --channels SPEC  channels by label, glob or index "
	      "(required)\n"
	      "      --as LABEL       add filtered channels instead of "
	      "replacing; with several\n"
	      "                       channels LABEL must contain %s (the "
	      "source label)\n"
	      "      --transition HZ  transition width (default: MNE's rule, "
	      "1 Hz for notches)\n"
	      "      --atten DB       stop-band attenuation (default 60)\n"
	      "      --version        the version\n"
	      "  -h, --help           this help\n\n"
	      "Frequencies are pass-band edges (docs/filters.md).  Exit: 0 ok, "
	      "1 usage, 2 bad\nstream or write error, 3 no channel matches or "
	      "a filter impossible at its rate.\n", f);
}

static double number(const char *opt, const char *s, char **end)
{
	errno = 0;
	double v = strtod(s, end);
	if (errno || *end == s || !(v > 0))
		die(EXIT_USAGE, "%s: bad frequency '%s'", opt, s);
	return v;
}

static void add_spec(opts *o, int type, const char *opt, const char *arg)
{
	char *end;
	psg_fir_spec s = {.type = type};
	if (o->nspec == MAX_SPECS)
		die(EXIT_USAGE, "too many filters");
	s.f1 = number(opt, arg, &end);
	if (type == PSG_FIR_BANDPASS || type == PSG_FIR_BANDSTOP) {
		if (*end != '-')
			die(EXIT_USAGE, "%s wants LO-HI, not '%s'", opt, arg);
		s.f2 = number(opt, end + 1, &end);
	} else if (type == PSG_FIR_NOTCH && (*end == 'x' || *end == 'X')) {
		double k = number(opt, end + 1, &end);
		if (k != floor(k) || k > 100)
			die(EXIT_USAGE, "%s: harmonics must be a whole number "
			    "1-100, not '%s'", opt, arg);
		s.harmonics = (int)k;
	}
	if (*end)
		die(EXIT_USAGE, "%s: bad value '%s'", opt, arg);
	o->spec[o->nspec++] = s;
}

static void parse_args(int argc, char **argv, opts *o)
{
	enum { O_HP = 256, O_LP, O_BAND, O_BS, O_NOTCH, O_AS, O_TR, O_ATT };
	static const struct option lo[] = {
		{"highpass", 1, 0, O_HP}, {"lowpass", 1, 0, O_LP},
		{"band", 1, 0, O_BAND}, {"bandstop", 1, 0, O_BS},
		{"notch", 1, 0, O_NOTCH}, {"as", 1, 0, O_AS},
		{"transition", 1, 0, O_TR}, {"atten", 1, 0, O_ATT},
		{"channels", 1, 0, 'c'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int c;
	char *end;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", lo, NULL)) != -1) {
		switch (c) {
		case O_HP: add_spec(o, PSG_FIR_HIGHPASS, "--highpass", optarg);
			break;
		case O_LP: add_spec(o, PSG_FIR_LOWPASS, "--lowpass", optarg);
			break;
		case O_BAND: add_spec(o, PSG_FIR_BANDPASS, "--band", optarg);
			break;
		case O_BS: add_spec(o, PSG_FIR_BANDSTOP, "--bandstop", optarg);
			break;
		case O_NOTCH: add_spec(o, PSG_FIR_NOTCH, "--notch", optarg);
			break;
		case O_AS: o->as = optarg; break;
		case O_TR: o->transition = number("--transition", optarg, &end);
			if (*end)
				die(EXIT_USAGE, "--transition: bad value");
			break;
		case O_ATT: o->atten = number("--atten", optarg, &end);
			if (*end || o->atten < 20 || o->atten > 150)
				die(EXIT_USAGE, "--atten: 20-150 dB");
			break;
		case 'c': o->channels = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: bad_option(c, argv);
		}
	}
	no_operands(argc, argv);
	if (!o->channels)
		die(EXIT_USAGE, "no channels: use -c SPEC");
	if (!o->nspec)
		die(EXIT_USAGE, "no filter: give --highpass, --lowpass, "
		    "--band, --bandstop or --notch");
	for (int i = 0; i < o->nspec; i++) {
		o->spec[i].transition = o->transition;
		o->spec[i].atten_db = o->atten;
	}
}

/* The cascade of all filters at one rate; dies when one is impossible. */
static void design(const opts *o, const psg_channel *c, double **taps,
		   int *n)
{
	char msg[256];
	double *h = NULL;
	int nh = 0;
	for (int i = 0; i < o->nspec; i++) {
		double *t, *cas;
		int nt, nc, st;
		if ((st = psg_fir_design(&o->spec[i], psg_channel_rate(c), &t,
					 &nt, msg, sizeof msg)))
			die(EXIT_UNSUITABLE, "channel '%s' at %g Hz: %s",
			    c->label, psg_channel_rate(c), msg);
		if (!h) {
			h = t, nh = nt;
			continue;
		}
		if (psg_fir_cascade(h, nh, t, nt, &cas, &nc))
			die(EXIT_UNSUITABLE, "channel '%s': the cascade is too "
			    "long", c->label);
		free(h);
		free(t);
		h = cas, nh = nc;
	}
	*taps = h;
	*n = nh;
}

static void describe(const opts *o, char *buf, size_t n)
{
	size_t k = 0;
	for (int i = 0; i < o->nspec && k + 1 < n; i++) {
		char one[64];
		psg_fir_describe(&o->spec[i], one, sizeof one);
		k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? " " : "", one);
	}
}

/* The output header: filtered channels replaced or added. */
static psg_header *plan_channels(const opts *o, const psg_header *in,
				 chan **chans, int *nchans, int argc,
				 char **argv)
{
	int *idx = malloc(((size_t)in->nchannels + 1) * sizeof *idx), n;
	char bad[PSG_LABEL_LEN] = "", what[PSG_TEXT_LEN];
	psg_header *h = derive_header(in, argc, argv);
	if (!idx)
		die(EXIT_IO, "out of memory");
	n = psg_select_channels(in, o->channels, idx, in->nchannels, bad,
				sizeof bad);
	if (n < 0)
		die(exit_code(n), "no channel matches '%s'", bad);
	if (n > 1 && o->as && !strstr(o->as, "%s"))
		die(EXIT_USAGE, "--as '%s' names one channel, but %d match; "
		    "use %%s for the source label", o->as, n);
	describe(o, what, sizeof what);
	chan *cs = calloc((size_t)n + 1, sizeof *cs);
	for (int i = 0; cs && i < n; i++) {
		psg_channel c = in->channels[idx[i]];
		char pf[PSG_TEXT_LEN * 2];
		snprintf(pf, sizeof pf, "%s%s%s", c.prefilter,
			 c.prefilter[0] ? " " : "", what);
		snprintf(c.prefilter, sizeof c.prefilter, "%.*s",
			 (int)sizeof c.prefilter - 1, pf);
		cs[i].src = idx[i];
		if (o->as) {
			char label[PSG_LABEL_LEN * 2];
			const char *p = strstr(o->as, "%s");
			if (p)
				snprintf(label, sizeof label, "%.*s%s%s",
					 (int)(p - o->as), o->as, c.label, p + 2);
			else
				snprintf(label, sizeof label, "%s", o->as);
			snprintf(c.label, sizeof c.label, "%.*s",
				 (int)sizeof c.label - 1, label);
			if (psg_header_find_channel(h, c.label) >= 0)
				die(EXIT_USAGE, "--as: channel '%s' exists",
				    c.label);
			cs[i].dst = psg_header_add_channel(h, &c);
		} else {
			cs[i].dst = idx[i];
			h->channels[idx[i]] = c;
		}
	}
	if (!cs)
		die(EXIT_IO, "out of memory");
	free(idx);
	*chans = cs;
	*nchans = n;
	return h;
}

/* Filtered samples go out in blocks of about a second, as psg-read's. */
static void emit_ready(chan *c, psg_writer *w, float *buf)
{
	int n;
	while ((n = psg_filter_pull(c->f, buf, c->block)) > 0) {
		psg_block b = {.channel = c->dst, .t0 = c->out_t0,
			.offset = c->out_off, .n = n, .x = buf};
		if (psg_write_block(w, &b))
			die(EXIT_IO, "%s", psg_writer_errmsg(w));
		c->out_off += n;
	}
}

static void end_segment(chan *c, psg_writer *w, float *buf)
{
	if (!c->active)
		return;
	if (psg_filter_finish(c->f))
		die(EXIT_IO, "out of memory");
	emit_ready(c, w, buf);
	c->active = 0;
}

static void filter_block(chan *c, const psg_block *b, psg_writer *w,
			 float *buf)
{
	if (c->active && (b->t0 != c->t0 || b->offset != c->next))
		end_segment(c, w, buf);   /* a gap: restart cleanly */
	if (!c->active) {
		c->active = 1;
		c->t0 = c->out_t0 = b->t0;
		c->out_off = b->offset;
	}
	c->next = b->offset + b->n;
	if (psg_filter_push(c->f, b->x, b->n))
		die(EXIT_IO, "out of memory");
	emit_ready(c, w, buf);
}

int main(int argc, char **argv)
{
	opts o = {0};
	chan *cs;
	int nc;
	psg_record rec;
	stage_name = "psg-filter";
	parse_args(argc, argv, &o);
	refuse_terminal();
	psg_reader *in = open_stdin_stream();
	const psg_header *hin = psg_reader_header(in);
	psg_header *h = plan_channels(&o, hin, &cs, &nc, argc, argv);
	for (int i = 0; i < nc; i++) {
		double *taps;
		int nt, st;
		design(&o, &hin->channels[cs[i].src], &taps, &nt);
		if (!(cs[i].f = psg_filter_new(taps, nt, &st)))
			die(EXIT_IO, "filter for '%s': %s",
			    hin->channels[cs[i].src].label, psg_strerror(st));
		free(taps);
		double r = psg_channel_rate(&hin->channels[cs[i].src]);
		cs[i].block = r < 1 ? 1 : r > PULL ? PULL : (int)r;
	}
	/* File-scope, so memory still held when die() exits stays reachable
	   (LeakSanitizer would call it lost). */
	static float *buf;
	static int *who;
	int st;
	buf = malloc(PULL * sizeof *buf);
	who = malloc(((size_t)hin->nchannels + 1) * sizeof *who);
	if (!buf || !who)
		die(EXIT_IO, "out of memory");
	for (int i = 0; i < hin->nchannels; i++)
		who[i] = -1;
	for (int i = 0; i < nc; i++)
		who[cs[i].src] = i;
	psg_writer *w = stream_out(h, &st);
	if (!w)
		die(EXIT_IO, "cannot write the stream: %s", psg_strerror(st));
	while ((st = psg_reader_next(in, &rec)) > 0) {
		if (rec.kind == PSG_REC_END) {
			for (int i = 0; i < nc; i++)
				end_segment(&cs[i], w, buf);
			if (psg_writer_finish(w, &rec.end))
				die(EXIT_IO, "%s", psg_writer_errmsg(w));
			break;
		}
		int k = rec.kind == PSG_REC_DATA ? who[rec.block.channel] : -1;
		if (k >= 0)
			filter_block(&cs[k], &rec.block, w, buf);
		if ((k < 0 || o.as) && psg_write_record(w, &rec))
			die(EXIT_IO, "%s", psg_writer_errmsg(w));
	}
	if (st < 0)
		die(exit_code(st), "%s", psg_reader_errmsg(in));
	for (int i = 0; i < nc; i++)
		psg_filter_free(cs[i].f);
	free(cs);
	free(buf);
	free(who);
	psg_writer_free(w);
	psg_header_free(h);
	psg_reader_free(in);
	return 0;
}
