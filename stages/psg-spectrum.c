/*
 * psg-spectrum -- per epoch and channel, the Welch power spectral density
 * (Welch 1967: 4-s Hann windows, 50 % overlap, mean removed per window,
 * one-sided, uV^2/Hz) and from it absolute and relative band powers and
 * the 95 % spectral edge frequency, emitted as epoch features.  Windows
 * never cross an epoch boundary or a gap; an epoch without one whole
 * window gets no values (NaN in HDF5).
 *
 * Bands (Hz, lower edge included): slow 0.5-1, delta 0.5-4 (slow-wave
 * activity), theta 4-8, alpha 8-12, sigma 12-16, beta 16-30 and, where
 * the rate allows (Nyquist above 30 Hz), muscle 30-100 capped at
 * Nyquist.  Total power and the spectral edge cover 0.5 Hz up to the top
 * of the highest band present.  Relative power = band / total.
 */
#include "stage.h"

#include <ctype.h>
#include <getopt.h>
#include <math.h>

typedef struct band {
	const char *name;
	double lo, hi;
} band;

static const band bands[] = {{"slow", 0.5, 1}, {"delta", 0.5, 4},
	{"theta", 4, 8}, {"alpha", 8, 12}, {"sigma", 12, 16},
	{"beta", 16, 30}, {"muscle", 30, 100}};
#define NBANDS ((int)(sizeof bands / sizeof *bands))

typedef struct chan {
	int idx;
	double rate;
	int nbands;              /* bands present at this rate */
	double top;              /* Hz: top of the highest band present */
	psg_welch *wel;          /* the epoch's Welch sums */
	float *row;              /* an epoch's PSD as an ARRAY row */
	int64_t epoch;           /* epoch being accumulated, -1 none */
	int64_t t0, next;        /* current input segment */
	int feat0;               /* first feature id */
} chan;

typedef struct opts {
	const char *channels;
	double window, overlap;
	int spectra;             /* also emit each epoch's PSD (ARRAY) */
} opts;

static int keep_spectra;

static void usage(FILE *f)
{
	fputs("usage: psg-spectrum [options] < in > out\n"
	      "Per epoch and channel: Welch PSD, absolute and relative band "
	      "powers, spectral edge.\n\n"
	      "  -c, --channels SPEC  channels (default: all of kind EEG)\n"
	      "      --window SEC     Welch window (default 4)\n"
	      "      --overlap FRAC   window overlap (default 0.5)\n"
	      "      --spectra        also keep each epoch's PSD (HDF5 "
	      "/spectra/<label>)\n"
	      "      --version        the version\n"
	      "  -h, --help           this help\n\n"
	      "Features per channel L (label with non-alphanumerics as '_'): "
	      "L_<band> (uV^2),\nL_<band>_rel, L_total (uV^2), L_sef95 (Hz); "
	      "bands slow delta theta alpha sigma\nbeta muscle.  Exit: 0 ok, "
	      "1 usage, 2 bad stream, 3 no channel to analyse.\n", f);
}

static void parse_args(int argc, char **argv, opts *o)
{
	enum { O_WIN = 256, O_OVL, O_SPEC };
	static const struct option lo[] = {{"channels", 1, 0, 'c'},
		{"window", 1, 0, O_WIN}, {"overlap", 1, 0, O_OVL},
		{"spectra", 0, 0, O_SPEC},
		{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int c;
	char *end;
	o->window = 4, o->overlap = 0.5;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->channels = optarg; break;
		case O_WIN:
			o->window = strtod(optarg, &end);
			if (*end || !(o->window >= 0.25 && o->window <= 60))
				die(EXIT_USAGE, "--window: 0.25-60 s");
			break;
		case O_OVL:
			o->overlap = strtod(optarg, &end);
			if (*end || !(o->overlap >= 0 && o->overlap < 1))
				die(EXIT_USAGE, "--overlap: 0 to <1");
			break;
		case O_SPEC: o->spectra = keep_spectra = 1; break;
		case 'h': usage(stdout); exit(0);
		default: bad_option(c, argv);
		}
	}
	no_operands(argc, argv);
}

/* ---- features ---- */

static void feature_name(char *buf, size_t n, const char *label,
			 const char *what)
{
	char clean[PSG_LABEL_LEN];
	size_t k = 0;
	for (const char *p = label; *p && k + 1 < sizeof clean; p++)
		clean[k++] = isalnum((unsigned char)*p) ? *p : '_';
	clean[k] = '\0';
	snprintf(buf, n, "%.40s_%s", clean, what);
}

static void declare(psg_header *h, chan *c)
{
	const char *label = h->channels[c->idx].label;
	char name[PSG_LABEL_LEN], desc[PSG_TEXT_LEN];
	c->feat0 = h->nfeatures;
	for (int b = 0; b < c->nbands; b++) {
		double hi = fmin(bands[b].hi, c->rate / 2);
		feature_name(name, sizeof name, label, bands[b].name);
		snprintf(desc, sizeof desc, "%s %g-%g Hz absolute power "
			 "(Welch)", label, bands[b].lo, hi);
		psg_header_add_feature(h, name, "uV^2", desc);
		char rel[PSG_LABEL_LEN + 8];
		snprintf(rel, sizeof rel, "%s_rel", bands[b].name);
		feature_name(name, sizeof name, label, rel);
		snprintf(desc, sizeof desc, "%s %g-%g Hz power / total",
			 label, bands[b].lo, hi);
		psg_header_add_feature(h, name, "", desc);
	}
	feature_name(name, sizeof name, label, "total");
	snprintf(desc, sizeof desc, "%s 0.5-%g Hz power", label, c->top);
	psg_header_add_feature(h, name, "uV^2", desc);
	feature_name(name, sizeof name, label, "sef95");
	snprintf(desc, sizeof desc, "%s 95 %% spectral edge in 0.5-%g Hz",
		 label, c->top);
	if (psg_header_add_feature(h, name, "Hz", desc) < 0)
		die(EXIT_UNSUITABLE, "feature names clash for '%s'", label);
}

/* ---- Welch ---- */

static void setup(chan *c, const psg_channel *pc, const opts *o)
{
	int st;
	c->rate = psg_channel_rate(pc);
	c->wel = psg_welch_new(c->rate, o->window, o->overlap, &st);
	if (!c->wel && st == PSG_ERR_NOMEM)
		die(EXIT_IO, "out of memory");
	if (!c->wel)
		die(EXIT_UNSUITABLE, "channel '%s': %g Hz is too slow for a "
		    "%g-s window", pc->label, c->rate, o->window);
	c->nbands = 0;
	for (int b = 0; b < NBANDS && bands[b].lo < c->rate / 2; b++)
		c->nbands = b + 1;
	c->top = fmin(bands[c->nbands - 1].hi, c->rate / 2);
	c->row = malloc((size_t)psg_welch_bins(c->wel) * sizeof *c->row);
	if (!c->row)
		die(EXIT_IO, "out of memory");
	c->epoch = -1;
}

/* The epoch's averaged PSD, 0 Hz to Nyquist, as an ARRAY row (stream 1.1):
   psg-h5 makes it /spectra/<label>, a row per epoch. */
static void emit_spectrum(chan *c, psg_writer *w)
{
	int nb = psg_welch_bins(c->wel);
	const double *psd = psg_welch_psd(c->wel);
	for (int k = 0; k < nb; k++)
		c->row[k] = (float)psd[k];
	psg_array a = {.name = "spectra", .channel = c->idx, .row = c->epoch,
		.x0 = 0, .dx = psg_welch_df(c->wel), .unit = "uV^2/Hz",
		.n = nb, .v = c->row};
	if (psg_write_array(w, &a))
		die(EXIT_IO, "%s", psg_writer_errmsg(w));
}

static void emit_epoch(chan *c, psg_writer *w)
{
	uint32_t fid[2 * NBANDS + 2];
	double val[2 * NBANDS + 2];
	int n = 0;
	if (psg_welch_windows(c->wel)) {
		double total = psg_welch_band(c->wel, 0.5, c->top);
		for (int b = 0; b < c->nbands; b++) {
			double p = psg_welch_band(c->wel, bands[b].lo,
						  fmin(bands[b].hi, c->top));
			fid[n] = (uint32_t)(c->feat0 + 2 * b), val[n++] = p;
			fid[n] = (uint32_t)(c->feat0 + 2 * b + 1);
			val[n++] = total > 0 ? p / total : NAN;
		}
		fid[n] = (uint32_t)(c->feat0 + 2 * c->nbands), val[n++] = total;
		fid[n] = (uint32_t)(c->feat0 + 2 * c->nbands + 1);
		val[n++] = psg_welch_edge(c->wel, 0.5, c->top, 0.95);
		psg_epoch e = {.epoch = c->epoch, .n = n, .feature = fid,
			.value = val};
		if (psg_write_epoch(w, &e))
			die(EXIT_IO, "%s", psg_writer_errmsg(w));
		if (keep_spectra)
			emit_spectrum(c, w);
	}
	psg_welch_clear(c->wel);
}

/* Epoch of sample idx of a segment starting at t0, exactly (rational
   arithmetic: sample times need not be whole ticks). */
static int64_t epoch_of(const psg_header *h, const psg_channel *pc,
			int64_t t0, int64_t idx)
{
	int64_t num = (t0 - h->epoch_origin) * pc->spr + idx * pc->period;
	int64_t den = h->epoch_len * pc->spr;
	return num < 0 ? -1 : num / den;
}

/* First sample index of the segment at or after the start of epoch e. */
static int64_t first_in(const psg_header *h, const psg_channel *pc,
			int64_t t0, int64_t e)
{
	int64_t num = (h->epoch_origin + e * h->epoch_len - t0) * pc->spr;
	return num <= 0 ? 0 : (num + pc->period - 1) / pc->period;
}

/* A block in runs of one epoch each: windows restart at every epoch
   boundary and every gap, and a finished epoch is emitted. */
static void block(chan *c, const psg_header *h, const psg_block *b,
		  psg_writer *w)
{
	const psg_channel *pc = &h->channels[c->idx];
	if (b->t0 != c->t0 || b->offset != c->next)
		psg_welch_restart(c->wel);   /* a gap */
	for (int32_t i = 0; i < b->n;) {
		int64_t idx = b->offset + i;
		int64_t e = epoch_of(h, pc, b->t0, idx);
		if (e != c->epoch) {
			if (c->epoch >= 0)
				emit_epoch(c, w);
			c->epoch = e;
			psg_welch_restart(c->wel);
		}
		int64_t end = e < 0 ? first_in(h, pc, b->t0, 0) :
			      first_in(h, pc, b->t0, e + 1);
		int64_t run = end - idx < b->n - i ? end - idx : b->n - i;
		if (run < 1)
			run = 1;
		if (e >= 0)
			psg_welch_push(c->wel, b->x + i, run);
		i += (int32_t)run;
	}
	c->t0 = b->t0;
	c->next = b->offset + b->n;
}

static chan *choose(const opts *o, psg_header *h, int *n)
{
	int *idx = malloc(((size_t)h->nchannels + 1) * sizeof *idx), k = 0;
	char bad[PSG_LABEL_LEN] = "";
	if (!idx)
		die(EXIT_IO, "out of memory");
	if (o->channels) {
		k = psg_select_channels(h, o->channels, idx, h->nchannels, bad,
					sizeof bad);
		if (k < 0)
			die(exit_code(k), "no channel matches '%s'", bad);
	} else {
		for (int i = 0; i < h->nchannels; i++)
			if (!strcmp(h->channels[i].kind, PSG_KIND_EEG))
				idx[k++] = i;
	}
	if (!k)
		die(EXIT_UNSUITABLE, "no EEG channel in the stream (use -c)");
	chan *cs = calloc((size_t)k, sizeof *cs);
	if (!cs)
		die(EXIT_IO, "out of memory");
	for (int i = 0; i < k; i++)
		cs[i].idx = idx[i];
	free(idx);
	*n = k;
	return cs;
}

int main(int argc, char **argv)
{
	opts o = {0};
	psg_record rec;
	int n, st;
	stage_name = "psg-spectrum";
	parse_args(argc, argv, &o);
	refuse_terminal();
	psg_reader *in = open_stdin_stream();
	psg_header *h = derive_header(psg_reader_header(in), argc, argv);
	/* File-scope, so memory still held when die() exits stays reachable
	   (LeakSanitizer would call it lost). */
	static chan *cs;
	static int *who;
	cs = choose(&o, h, &n);
	who = malloc(((size_t)h->nchannels + 1) * sizeof *who);
	if (!who)
		die(EXIT_IO, "out of memory");
	for (int i = 0; i < h->nchannels; i++)
		who[i] = -1;
	for (int i = 0; i < n; i++) {
		setup(&cs[i], &h->channels[cs[i].idx], &o);
		declare(h, &cs[i]);
		who[cs[i].idx] = i;
	}
	psg_writer *w = psg_writer_open_fd(1, h, &st);
	if (!w)
		die(EXIT_IO, "cannot write the stream: %s", psg_strerror(st));
	while ((st = psg_reader_next(in, &rec)) > 0) {
		if (rec.kind == PSG_REC_END) {
			/* Only complete epochs count; a last partial one is
			   dropped, as psg-h5 drops its row. */
			for (int i = 0; i < n; i++) {
				const psg_channel *pc = &h->channels[cs[i].idx];
				int64_t end = psg_sample_time(pc, cs[i].t0,
							      cs[i].next);
				if (cs[i].epoch >= 0 && end >= h->epoch_origin +
				    (cs[i].epoch + 1) * h->epoch_len)
					emit_epoch(&cs[i], w);
			}
			if (psg_writer_finish(w, &rec.end))
				die(EXIT_IO, "%s", psg_writer_errmsg(w));
			break;
		}
		if (psg_write_record(w, &rec))
			die(EXIT_IO, "%s", psg_writer_errmsg(w));
		if (rec.kind == PSG_REC_DATA && who[rec.block.channel] >= 0)
			block(&cs[who[rec.block.channel]], h, &rec.block, w);
	}
	if (st < 0)
		die(exit_code(st), "%s", psg_reader_errmsg(in));
	for (int i = 0; i < n; i++) {
		psg_welch_free(cs[i].wel);
		free(cs[i].row);
	}
	free(cs);
	free(who);
	psg_writer_free(w);
	psg_header_free(h);
	psg_reader_free(in);
	return 0;
}
