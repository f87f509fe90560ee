/*
 * psg-spindle -- sleep spindles and K-complexes from the EEG.
 *
 * Spindles: the A7 detector of Lacourse, Delfrate, Beaudry, Peppard &
 * Warby (2019), "A sleep spindle detection algorithm that emulates human
 * expert spindle scoring", J Neurosci Methods 316:3-11, with its
 * published defaults (each an option):
 *  - the EEG is band-passed in sigma, 11-16 Hz (here pass band 11.5-16
 *    Hz with 1-Hz transitions outside it, -6 dB at 11 and 16.5 Hz: the
 *    band leave-one-recording-out CV on DREAMS chose, docs/validation.md;
 *    11-16 lets 10.5-11 Hz alpha through; YASA's 12-15 Hz with 1.5-Hz
 *    transitions is -6 dB at 11.25 and 15.75 Hz), and in a
 *    broad band, 0.3-30 Hz (A7 reads EEG filtered 0-30 Hz); zero phase,
 *    libpsg's FFT engine;
 *  - four features in windows of 0.3 s every 0.1 s: the absolute sigma
 *    power, log10 of the mean square of the sigma band (uV^2; threshold
 *    1.25); the relative sigma power, log10 of sigma power over 4.5-30 Hz
 *    power, as a z-score against the 30 s around the window (1.6); the
 *    covariance of the sigma and broad bands, log10, z-scored the same
 *    way (1.3); and their correlation (0.69).  The z-scores use the mean
 *    and SD of the baseline's values between its 10th and 90th
 *    percentiles.  Each 0.1-s step takes the mean of the windows over it;
 *  - a spindle is a run of steps above the absolute-power and covariance
 *    thresholds that holds at least one step above all four (A7 extends
 *    each detection while those two stay above), kept when it lasts
 *    0.3-2.5 s.
 * Two options beyond A7, off by default: --extent-cov Z extends a
 * detection while the covariance z stays above Z rather than above its
 * detection threshold (a hysteresis: detect at the strict threshold, end
 * where a looser one does, as the RMS detectors reviewed by Warby et al.
 * 2014 do with their two thresholds), and --merge SEC joins spindles
 * less than SEC apart (YASA's spindles_detect merges those closer than
 * its min_distance, 500 ms) before the duration rule.
 * Departures from A7, for streaming and bounded memory: the relative
 * power is the ratio of the mean squares of the two band-passed signals
 * in the window (Parseval) rather than a zero-padded Hann periodogram;
 * the percentile limits are those of each window's own 30-s baseline, not
 * of the whole night's; the baseline is every window (A7 can restrict it
 * to N2 and to artefact-free data); and A7's optional spectral-context
 * classifier is not run.
 * Each spindle gives its frequency (zero crossings of the sigma band),
 * amplitude (peak-to-peak of the sigma band) and RMS, on its channel:
 * the first central EEG (C4, C3, Cz; spindles are largest centrally),
 * else a frontal one; -c overrides.
 *
 * K-complexes: the AASM definition (Manual v2.6: a well-delineated
 * negative sharp wave immediately followed by a positive component,
 * standing out from the background, lasting >= 0.5 s, usually maximal
 * frontally), made measurable as follows (each an option):
 *  - on the first frontal EEG (F4, F3, Fz, Fpz...), else a central one;
 *  - band-passed 0.3-4 Hz and cut at negative-going zero crossings into a
 *    negative then a positive half-wave (as psg-sws cuts slow waves);
 *  - lasting 0.5-2.5 s, with a peak-to-peak of at least 75 uV (the AASM's
 *    slow-wave amplitude) and at most 500 uV, the negative peak larger
 *    than the positive one, and "sharp": the negative half-wave shorter
 *    than the positive one (at most --kc-neg-share of the wave);
 *  - "standing out from the background": a peak-to-peak at least 6 times
 *    the band's RMS over the 10 s before the wave (--kc-contrast).  In N2
 *    the 0.3-4 Hz background is some 10-20 uV RMS, in N3 several times
 *    more, so isolated waves pass and trains of slow waves mostly do not.
 *  K-complexes in N3 are not told apart from its slow waves (the AASM
 *  does not score them there); the density uses N2 time when a hypnogram
 *  is in the stream.
 *
 * Summary: counts, spindle density per minute of N2+N3 when an imported
 * hypnogram is in the stream (psg-read --annotations), else per minute of
 * sleep when psg-wake's calls are, else per minute of recording;
 * spindle_basis says which (2, 1, 0).
 * Memory: the filters, a ring of 512 windows, and the onset of each
 * spindle and K-complex (8 B each) until END for the densities, plus
 * psg-wake's calls (16 B per epoch) and the hypnogram's runs.
 */
#include "stage.h"

#include <getopt.h>
#include <math.h>

#define RING 512                /* windows and steps kept; > 2 * 150 + 3 */
#define CHUNK 4096
#define BACKGROUND 10           /* s of EEG a K-complex stands out from */

typedef struct opts {
	const char *channel, *kc_channel;
	double sig_lo, sig_hi;      /* sigma band, Hz */
	double bb_lo, bb_hi;        /* broad band, Hz */
	double tot_lo;              /* relative power: sigma over tot_lo-bb_hi */
	double th_abs, th_rel, th_cov, th_corr;
	double ext_cov;             /* extent threshold (hysteresis) */
	double merge;               /* s: runs closer than this are one */
	double dur_min, dur_max;    /* s */
	double baseline;            /* s */
	double kc_lo, kc_hi;        /* K-complex band, Hz */
	double kc_dmin, kc_dmax;    /* s */
	double kc_p2p, kc_p2p_max;  /* uV */
	double kc_share;            /* negative half-wave share, at most */
	double kc_contrast;         /* p2p over the background RMS, at least */
	int no_kc, optional;
} opts;

typedef struct step {           /* 0.1 s of filtered samples */
	int64_t first;              /* index of its first sample in segment */
	int n;
	double ss, sb, ss2, sb2, ssb, st2;  /* sigma, broad, total sums */
	float smin, smax;
	int zc;                     /* zero crossings of the sigma band */
	/* features of the window starting at this step */
	double abs, rel, cov, corr, zrel, zcov;
} step;

typedef struct run {            /* a candidate spindle */
	int on;                     /* 0 none */
	int64_t first;              /* first sample */
	int64_t n;                  /* samples */
	int all4;
	double ss;
	float smin, smax;
	int zc;
	double abs, zrel, zcov, corr;   /* largest step values */
} run;

typedef struct spin {
	const opts *o;
	int ch;
	const psg_channel *pc;
	double rate;
	psg_filter *fs, *fb, *ft;
	float *ys, *yb, *yt;
	int64_t t0, next;           /* input segment */
	int64_t k;                  /* filtered samples out in the segment */
	int64_t k0;                 /* the segment's first sample here */
	int64_t nstep;              /* steps begun in the segment */
	int64_t nwin;               /* windows computed */
	int64_t nfinal;             /* windows z-scored */
	int64_t nbin;               /* steps judged */
	int64_t end;                /* step_end() of the last step begun */
	float prev_s;
	step ring[RING];
	psg_trimmed *brel, *bcov;   /* the two baselines */
	int half;                   /* windows either side in the baseline */
	run r;
	run pend;                   /* a run ended, waiting for --merge */
} spin;

typedef struct kcx {
	const opts *o;
	int ch;
	const psg_channel *pc;
	double rate;
	psg_filter *f;
	float *y;
	int64_t t0, next, k;
	int state;                  /* 0 none, 1 negative, 2 positive */
	int64_t start, zero;        /* samples */
	float neg, pos, prev;
	/* the background: the band's last BACKGROUND s, squared */
	float *sq;
	int64_t nsq, cap;
	int64_t sqi;                /* nsq % cap, kept: no division a sample */
	double sum;                 /* of sq */
	double bg;                  /* RMS before the current wave */
} kcx;

typedef struct onsets {
	double *t;
	size_t n, cap;
} onsets;

typedef struct wake_call {
	int64_t epoch;
	double wake;
} wake_call;

typedef struct stagerun {
	double on, off;
	int stage;
} stagerun;

typedef struct det {
	const psg_header *h;
	psg_writer *w;
	int ev_sp, ev_kc, ann_type, f_wake;
	spin sp;
	kcx kc;
	onsets sp_on, kc_on;
	double sum_freq, sum_dur, sum_amp;
	wake_call *wk;
	size_t nwk, wkcap;
	stagerun *runs;
	size_t nruns, runcap;
} det;

static void usage(FILE *f)
{
	fputs("usage: psg-spindle [options] < in > out\n"
	      "Sleep spindles (A7, Lacourse et al. 2019) and K-complexes "
	      "(AASM) from the EEG.\n\n"
	      "  -c, --channel LABEL    spindle EEG (default: first central, "
	      "else frontal)\n"
	      "      --kc-channel LABEL K-complex EEG (default: first "
	      "frontal, else central)\n"
	      "      --sigma LO-HI      sigma pass band in Hz (default "
	      "11.5-16)\n"
	      "      --broad LO-HI      broad band in Hz (default 0.3-30, "
	      "capped below Nyquist)\n"
	      "      --total-lo HZ      relative power is of LO-HI of the "
	      "broad band (default 4.5)\n"
	      "      --abs-power T      log10 sigma power, uV^2 (default "
	      "1.25)\n"
	      "      --rel-power Z      z of log10 relative sigma power "
	      "(default 1.6)\n"
	      "      --covariance Z     z of log10 sigma covariance (default "
	      "1.3)\n"
	      "      --correlation R    sigma correlation (default 0.69)\n"
	      "      --extent-cov Z     a spindle extends while the covariance "
	      "z stays above Z\n"
	      "                         (default: --covariance)\n"
	      "      --merge SEC        join spindles less than SEC apart "
	      "(default 0: none)\n"
	      "      --duration SEC-SEC spindle duration (default 0.3-2.5)\n"
	      "      --baseline SEC     z-score baseline around each window "
	      "(default 30)\n"
	      "      --kc-band LO-HI    K-complex band in Hz (default 0.3-4)\n"
	      "      --kc-duration SEC-SEC  K-complex duration (default "
	      "0.5-2.5)\n"
	      "      --kc-p2p LO-HI     K-complex peak-to-peak, uV (default "
	      "75-500)\n"
	      "      --kc-neg-share F   negative half-wave at most this share "
	      "(default 0.5)\n"
	      "      --kc-contrast R    peak-to-peak at least R times the RMS "
	      "of the 10 s before\n"
	      "                         (default 6)\n"
	      "      --no-kcomplex      spindles only\n"
	      "      --optional         no suitable channel: pass the stream "
	      "through, exit 0\n"
	      "      --version          the version\n"
	      "  -h, --help             this help\n\n"
	      "Exit: 0 ok, 1 usage, 2 bad stream, 3 no suitable EEG "
	      "channel.\n", f);
}

static void parse_args(int argc, char **argv, opts *o)
{
	enum { O_KCCH = 256, O_SIG, O_BB, O_TOT, O_ABS, O_REL, O_COV, O_CORR,
	       O_DUR, O_BSL, O_KCB, O_KCD, O_KCP, O_KCS, O_NOKC, O_OPT, O_KCC,
	       O_EXC, O_MRG };
	static const struct option lo[] = {{"channel", 1, 0, 'c'},
		{"kc-channel", 1, 0, O_KCCH}, {"sigma", 1, 0, O_SIG},
		{"broad", 1, 0, O_BB}, {"total-lo", 1, 0, O_TOT},
		{"abs-power", 1, 0, O_ABS}, {"rel-power", 1, 0, O_REL},
		{"covariance", 1, 0, O_COV}, {"correlation", 1, 0, O_CORR},
		{"duration", 1, 0, O_DUR}, {"baseline", 1, 0, O_BSL},
		{"kc-band", 1, 0, O_KCB}, {"kc-duration", 1, 0, O_KCD},
		{"kc-p2p", 1, 0, O_KCP}, {"kc-neg-share", 1, 0, O_KCS},
		{"kc-contrast", 1, 0, O_KCC}, {"extent-cov", 1, 0, O_EXC},
		{"merge", 1, 0, O_MRG},
		{"no-kcomplex", 0, 0, O_NOKC}, {"optional", 0, 0, O_OPT},
		{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	*o = (opts){NULL, NULL, 11.5, 16, 0.3, 30, 4.5, 1.25, 1.6, 1.3, 0.69,
		    NAN, 0, 0.3, 2.5, 30, 0.3, 4, 0.5, 2.5, 75, 500, 0.5, 6, 0, 0};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->channel = optarg; break;
		case O_KCCH: o->kc_channel = optarg; break;
		case O_SIG: opt_range("--sigma", optarg, &o->sig_lo,
				      &o->sig_hi); break;
		case O_BB: opt_range("--broad", optarg, &o->bb_lo, &o->bb_hi);
			break;
		case O_TOT: o->tot_lo = opt_num("--total-lo", optarg, 0, 100);
			break;
		case O_ABS: o->th_abs = opt_num("--abs-power", optarg, -10, 10);
			break;
		case O_REL: o->th_rel = opt_num("--rel-power", optarg, -10, 10);
			break;
		case O_COV: o->th_cov = opt_num("--covariance", optarg, -10,
						10); break;
		case O_CORR: o->th_corr = opt_num("--correlation", optarg, -1,
						  1); break;
		case O_EXC: o->ext_cov = opt_num("--extent-cov", optarg, -10,
						 10); break;
		case O_MRG: o->merge = opt_num("--merge", optarg, 0, 2.5);
			break;
		case O_DUR: opt_range("--duration", optarg, &o->dur_min,
				      &o->dur_max); break;
		case O_BSL: o->baseline = opt_num("--baseline", optarg, 1,
						  RING / 10 - 1); break;
		case O_KCB: opt_range("--kc-band", optarg, &o->kc_lo,
				      &o->kc_hi); break;
		case O_KCD: opt_range("--kc-duration", optarg, &o->kc_dmin,
				      &o->kc_dmax); break;
		case O_KCP: opt_range("--kc-p2p", optarg, &o->kc_p2p,
				      &o->kc_p2p_max); break;
		case O_KCS: o->kc_share = opt_num("--kc-neg-share", optarg, 0,
						  1); break;
		case O_KCC: o->kc_contrast = opt_num("--kc-contrast", optarg, 0,
						     1e3); break;
		case O_NOKC: o->no_kc = 1; break;
		case O_OPT: o->optional = 1; break;
		case 'h': usage(stdout); exit(0);
		default: bad_option(c, argv);
		}
	}
	no_operands(argc, argv);
	if (isnan(o->ext_cov))
		o->ext_cov = o->th_cov;
}

/* ---- channels and filters ---- */

static int pick(const psg_header *h, const char *spec, int central_first)
{
	static const char *const central[] = {"C4", "C3", "Cz", "C", "F4",
		"F3", "Fz", "Fpz", "F"};
	static const char *const frontal[] = {"F4", "F3", "Fz", "Fpz", "Fp2",
		"Fp1", "F", "C4", "C3", "Cz", "C"};
	if (spec)
		return named_channel(h, spec);
	int i = central_first ?
		psg_role_eeg(h, central, sizeof central / sizeof *central) :
		psg_role_eeg(h, frontal, sizeof frontal / sizeof *frontal);
	if (i < 0)
		die(EXIT_UNSUITABLE, "no central or frontal EEG channel (use "
		    "-c)");
	return i;
}

/* tr 0: the default transitions (docs/filters.md). */
static psg_filter *bandpass(double lo, double hi, double tr, double rate)
{
	psg_fir_spec s = {PSG_FIR_BANDPASS, lo, hi, tr, 0, 0};
	double *taps;
	int n;
	char msg[256];
	if (psg_fir_design(&s, rate, &taps, &n, msg, sizeof msg))
		die(EXIT_UNSUITABLE, "%g-%g Hz at %g Hz: %s", lo, hi, rate, msg);
	return filter_of_taps(taps, n);
}

static float *buffer(void)
{
	float *p = malloc(CHUNK * sizeof *p);
	if (!p)
		die(EXIT_IO, "out of memory");
	return p;
}

/* ---- events out ---- */

static void add_onset(onsets *l, double t)
{
	l->t = grow(l->t, &l->cap, l->n, sizeof *l->t);
	l->t[l->n++] = t;
}

static void put_event(det *d, int type, int ch, int64_t on, int64_t dur,
		      const char *label, const double *v, int n)
{
	psg_event ev = {.type = type, .channel = ch, .onset = on,
		.duration = dur, .label = label, .nvalues = n, .values = v};
	if (psg_write_event(d->w, &ev))
		die(EXIT_IO, "%s", psg_writer_errmsg(d->w));
}

/* ---- spindles: windows, baselines, steps ---- */

static step *at(spin *s, int64_t i)
{
	return &s->ring[i % RING];
}

/* A baseline takes a window's value (one in RING: never full). */
static void baseline_add(psg_trimmed *b, double v)
{
	if (psg_trimmed_add(b, v))
		die(EXIT_IO, "internal error: a baseline is full");
}

/* The window of three steps starting at step i (0.3 s every 0.1 s). */
static void window_features(spin *s, int64_t i, int nsteps)
{
	double n = 0, ss = 0, sb = 0, ss2 = 0, sb2 = 0, ssb = 0, st2 = 0;
	for (int j = 0; j < nsteps; j++) {
		const step *p = at(s, i + j);
		n += p->n, ss += p->ss, sb += p->sb, ss2 += p->ss2;
		sb2 += p->sb2, ssb += p->ssb, st2 += p->st2;
	}
	step *w = at(s, i);
	double ps = ss2 / n, pt = st2 / n;
	double cov = ssb / n - (ss / n) * (sb / n);
	double vs = ps - (ss / n) * (ss / n), vb = sb2 / n - (sb / n) *
						      (sb / n);
	w->abs = log10(fmax(ps, 1e-12));
	w->rel = log10(fmax(ps, 1e-12) / fmax(pt, 1e-12));
	w->cov = log10(fmax(cov, 1e-6));   /* A7: log10 of the positive part */
	w->corr = vs > 0 && vb > 0 ? cov / sqrt(vs * vb) : 0;
}

/* Run r is a spindle if it held all four features and its length fits. */
static void emit_run(det *d, const run *r)
{
	spin *s = &d->sp;
	double dur = (double)r->n / s->rate;
	if (r->on && r->all4 && dur >= s->o->dur_min - 1e-9 &&
	    dur <= s->o->dur_max + 1e-9) {
		int64_t on = psg_sample_time(s->pc, s->t0, r->first);
		int64_t off = psg_sample_time(s->pc, s->t0, r->first + r->n);
		double v[7] = {r->zc / (2 * dur), (double)r->smax - r->smin,
			sqrt(r->ss / (double)r->n), r->abs, r->zrel, r->zcov,
			r->corr};
		put_event(d, d->ev_sp, s->ch, on, off - on, "spindle", v, 7);
		add_onset(&d->sp_on, (double)on / PSG_TICKS_PER_SEC);
		d->sum_freq += v[0], d->sum_dur += dur, d->sum_amp += v[1];
	}
}

/* The current run ends; with --merge it waits for a next one. */
static void close_run(det *d)
{
	spin *s = &d->sp;
	if (!s->r.on)
		return;
	if (s->o->merge > 0)
		s->pend = s->r;
	else
		emit_run(d, &s->r);
	s->r.on = 0;
}

/* The waiting run is out once a step starting at sample `first' is
   --merge or more after its end (or the segment ends, first < 0). */
static void expire_pending(det *d, int64_t first)
{
	spin *s = &d->sp;
	run *q = &s->pend;
	if (q->on && (first < 0 || (double)(first - q->first - q->n) /
		      s->rate >= s->o->merge - 1e-9)) {
		emit_run(d, q);
		q->on = 0;
	}
}

/* Step i, whose features are the mean of the windows over it (those
   starting at i-2, i-1 and i that exist), joins or ends a run. */
static void judge_step(det *d, int64_t i)
{
	spin *s = &d->sp;
	const opts *o = s->o;
	double abs = 0, zrel = 0, zcov = 0, corr = 0;
	int n = 0;
	for (int64_t j = i - 2; j <= i; j++) {
		if (j < 0 || j >= s->nfinal)
			continue;
		const step *w = at(s, j);
		abs += w->abs, zrel += w->zrel, zcov += w->zcov, corr += w->corr;
		n++;
	}
	if (n)
		abs /= n, zrel /= n, zcov /= n, corr /= n;
	/* Lacourse 2019: detected where all four pass, extended while the
	   absolute power and covariance do; --extent-cov below --covariance
	   makes that a hysteresis on the covariance */
	int span = n && abs > o->th_abs && zcov > o->ext_cov;
	int all4 = span && zcov > o->th_cov && zrel > o->th_rel &&
		   corr > o->th_corr;
	run *r = &s->r;
	const step *p = at(s, i);
	expire_pending(d, p->first);
	if (!span) {
		close_run(d);
		return;
	}
	if (!r->on && s->pend.on) {     /* within --merge of the last run */
		*r = s->pend;
		r->n = p->first - r->first;
		s->pend.on = 0;
	}
	if (!r->on)
		*r = (run){1, p->first, 0, 0, 0, INFINITY, -INFINITY, 0,
			   -INFINITY, -INFINITY, -INFINITY, -INFINITY};
	r->n += p->n;
	r->all4 |= all4;
	r->ss += p->ss2;
	r->smin = fminf(r->smin, p->smin), r->smax = fmaxf(r->smax, p->smax);
	r->zc += p->zc;
	r->abs = fmax(r->abs, abs), r->zrel = fmax(r->zrel, zrel);
	r->zcov = fmax(r->zcov, zcov), r->corr = fmax(r->corr, corr);
}

/* Window f gets its z-scores against the windows now in the baselines
   (f - half .. f + half, those of the segment), and the steps it is the
   last window over can be judged. */
static void finalize(det *d, int64_t f)
{
	spin *s = &d->sp;
	step *w = at(s, f);
	/* A7: z against the baseline's values between its 10th and 90th
	   percentiles (their mean and SD, kept as windows come and go:
	   pipeline/trimmed.c) */
	w->zrel = psg_trimmed_z(s->brel, w->rel);
	w->zcov = psg_trimmed_z(s->bcov, w->cov);
	s->nfinal = f + 1;
	judge_step(d, f);
	s->nbin = f + 1;
}

static void drop_old(spin *s, int64_t f)
{
	int64_t old = f - s->half - 1;
	if (old >= 0) {
		psg_trimmed_remove(s->brel, at(s, old)->rel);
		psg_trimmed_remove(s->bcov, at(s, old)->cov);
	}
}

/* Window i is complete (its three steps are): into the baselines, and
   the window half a baseline back can be finalized. */
static void new_window(det *d, int64_t i)
{
	spin *s = &d->sp;
	window_features(s, i, 3);
	int64_t f = i - s->half, old = f - s->half - 1;
	baseline_add(s->brel, at(s, i)->rel);
	baseline_add(s->bcov, at(s, i)->cov);
	if (old >= 0) {     /* as drop_old(s, f) */
		psg_trimmed_remove(s->brel, at(s, old)->rel);
		psg_trimmed_remove(s->bcov, at(s, old)->cov);
	}
	s->nwin = i + 1;
	if (f >= 0)
		finalize(d, f);
}

/* The step boundary after step j: 0.1 s steps from the segment's first
   sample, rounded to samples. */
static int64_t step_end(const spin *s, int64_t j)
{
	return s->k0 + (int64_t)llround((double)(j + 1) * 0.1 * s->rate);
}

/* Step j begins at the segment's sample k; the window of the three
   steps before it is complete. */
static step *begin_step(det *d)
{
	spin *s = &d->sp;
	int64_t j = s->nstep - 1;
	if (j >= 2)
		new_window(d, j - 2);
	j = s->nstep++;
	s->end = step_end(s, j);
	step *p = at(s, j);
	memset(p, 0, sizeof *p);
	p->first = s->k;
	p->smin = INFINITY, p->smax = -INFINITY;
	return p;
}

/* n filtered samples into the steps: the sums of a step run in locals
   over its samples (in the order they come, so with the same bits), and
   its end is known when it begins, not rounded again each sample. */
static void sp_samples(det *d, const float *ys, const float *yb,
		       const float *yt, int n)
{
	spin *s = &d->sp;
	for (int i = 0; i < n;) {
		step *p = s->nstep && s->k < s->end ? at(s, s->nstep - 1) :
			  begin_step(d);
		int64_t left = s->end - s->k;
		int m = left < n - i ? (int)left : n - i;
		double ss = p->ss, sb = p->sb, ss2 = p->ss2, sb2 = p->sb2;
		double ssb = p->ssb, st2 = p->st2;
		float smin = p->smin, smax = p->smax, prev = s->prev_s;
		int zc = p->zc;
		for (int e = i + m; i < e; i++) {
			float a = ys[i], b = yb[i], t = yt[i];
			ss += a, sb += b;
			ss2 += (double)a * a, sb2 += (double)b * b;
			ssb += (double)a * b, st2 += (double)t * t;
			smin = a < smin ? a : smin;   /* fminf, inline */
			smax = a > smax ? a : smax;
			zc += (a >= 0) != (prev >= 0);
			prev = a;
		}
		p->ss = ss, p->sb = sb, p->ss2 = ss2, p->sb2 = sb2;
		p->ssb = ssb, p->st2 = st2;
		p->smin = smin, p->smax = smax, p->zc = zc, p->n += m;
		s->prev_s = prev;
		s->k += m;
	}
}

/* The segment is over: the windows left (the last one whole) get their
   z-scores against what there is, every step is judged, a run ends. */
static void sp_flush(det *d)
{
	spin *s = &d->sp;
	int64_t last = s->nstep - 1;
	if (last >= 2 && at(s, last)->n == step_end(s, last) - at(s,
								  last)->first)
		new_window(d, last - 2);
	for (int64_t f = s->nfinal; f < s->nwin; f++) {
		drop_old(s, f);
		finalize(d, f);
	}
	for (int64_t i = s->nbin; i < s->nstep; i++)
		judge_step(d, i);
	close_run(d);
	expire_pending(d, -1);
	s->nstep = s->nwin = s->nfinal = s->nbin = 0;
	psg_trimmed_clear(s->brel);
	psg_trimmed_clear(s->bcov);
	s->prev_s = 0;
}

static int sp_ready(const spin *s)
{
	int n = psg_filter_ready(s->fs), m = psg_filter_ready(s->fb);
	int t = psg_filter_ready(s->ft);
	n = m < n ? m : n;
	n = t < n ? t : n;
	return n < CHUNK ? n : CHUNK;
}

static void sp_drain(det *d)
{
	spin *s = &d->sp;
	int n;
	while ((n = sp_ready(s)) > 0) {
		if (psg_filter_pull(s->fs, s->ys, n) != n ||
		    psg_filter_pull(s->fb, s->yb, n) != n ||
		    psg_filter_pull(s->ft, s->yt, n) != n)
			die(EXIT_IO, "internal error: filters out of step");
		sp_samples(d, s->ys, s->yb, s->yt, n);
	}
}

static void sp_end_segment(det *d)
{
	spin *s = &d->sp;
	if (psg_filter_finish(s->fs) || psg_filter_finish(s->fb) ||
	    psg_filter_finish(s->ft))
		die(EXIT_IO, "out of memory");
	sp_drain(d);
	sp_flush(d);
}

static void sp_block(det *d, const psg_block *b)
{
	spin *s = &d->sp;
	if (b->t0 != s->t0 || b->offset != s->next) {
		if (s->next || s->t0)
			sp_end_segment(d);
		s->t0 = b->t0;
		s->k = s->k0 = b->offset;
	}
	s->next = b->offset + b->n;
	if (psg_filter_push(s->fs, b->x, b->n) ||
	    psg_filter_push(s->fb, b->x, b->n) ||
	    psg_filter_push(s->ft, b->x, b->n))
		die(EXIT_IO, "out of memory");
	sp_drain(d);
}

static void sp_setup(det *d, const psg_header *h, const opts *o)
{
	spin *s = &d->sp;
	s->o = o;
	s->ch = pick(h, o->channel, 1);
	s->pc = &h->channels[s->ch];
	s->rate = psg_channel_rate(s->pc);
	double top = fmin(o->bb_hi, s->rate / 2.5);
	if (o->sig_hi >= top || o->tot_lo >= top)
		die(EXIT_UNSUITABLE, "'%s': %g Hz is too slow for the %g-%g Hz "
		    "sigma band", s->pc->label, s->rate, o->sig_lo, o->sig_hi);
	/* 1-Hz transitions keep sigma what it says, as A7's order-20
	   Butterworth does (the default rule would pass 8-20 Hz). */
	s->fs = bandpass(o->sig_lo, o->sig_hi, 1, s->rate);
	s->fb = bandpass(o->bb_lo, top, 0, s->rate);
	s->ft = bandpass(o->tot_lo, top, 0, s->rate);
	s->ys = buffer(), s->yb = buffer(), s->yt = buffer();
	s->half = (int)lround(o->baseline / 0.1 / 2);
	s->brel = psg_trimmed_new(RING, 10, 90);
	s->bcov = psg_trimmed_new(RING, 10, 90);
	if (!s->brel || !s->bcov)
		die(EXIT_IO, "out of memory");
}

/* ---- K-complexes ---- */

static void kc_wave(det *d, int64_t end)
{
	kcx *c = &d->kc;
	const opts *o = c->o;
	double len = (double)(end - c->start) / c->rate;
	double neg_len = (double)(c->zero - c->start) / c->rate;
	double p2p = (double)c->pos - c->neg;
	if (len < o->kc_dmin || len > o->kc_dmax || p2p < o->kc_p2p ||
	    p2p > o->kc_p2p_max || -c->neg <= c->pos ||
	    neg_len > o->kc_share * len || !(p2p >= o->kc_contrast * c->bg))
		return;
	int64_t on = psg_sample_time(c->pc, c->t0, c->start);
	int64_t off = psg_sample_time(c->pc, c->t0, end);
	double v[5] = {c->neg, c->pos, p2p, neg_len, p2p / c->bg};
	put_event(d, d->ev_kc, c->ch, on, off - on, "K-complex", v, 5);
	add_onset(&d->kc_on, (double)on / PSG_TICKS_PER_SEC);
}

static void kc_sample(det *d, float y)
{
	kcx *c = &d->kc;
	if (c->prev >= 0 && y < 0) {            /* negative-going */
		if (c->state == 2)
			kc_wave(d, c->k);
		c->state = 1;
		c->start = c->k;
		c->neg = 0, c->pos = 0;
		/* NaN until the background is BACKGROUND s long */
		c->bg = c->nsq >= c->cap ? sqrt(fmax(c->sum, 0) /
						(double)c->cap) : NAN;
	} else if (c->prev < 0 && y >= 0 && c->state == 1) {
		c->state = 2;
		c->zero = c->k;
	}
	if (c->state == 1 && y < c->neg)
		c->neg = y;
	if (c->state == 2 && y > c->pos)
		c->pos = y;
	c->prev = y;
	c->k++;
	float *q = &c->sq[c->sqi], y2 = y * y;
	if (++c->sqi == c->cap)
		c->sqi = 0;
	/* the same float leaves the sum as entered it: no drift */
	c->sum += (double)y2 - (++c->nsq > c->cap ? *q : 0);
	*q = y2;
}

static void kc_drain(det *d)
{
	kcx *c = &d->kc;
	int n;
	while ((n = psg_filter_pull(c->f, c->y, CHUNK)) > 0)
		for (int i = 0; i < n; i++)
			kc_sample(d, c->y[i]);
}

static void kc_end_segment(det *d)
{
	kcx *c = &d->kc;
	if (psg_filter_finish(c->f))
		die(EXIT_IO, "out of memory");
	kc_drain(d);
	c->state = 0;   /* a wave cut by a gap does not count */
	c->prev = 0;
	c->nsq = c->sqi = 0;   /* nor does the background before it */
	c->sum = 0;
}

static void kc_block(det *d, const psg_block *b)
{
	kcx *c = &d->kc;
	if (b->t0 != c->t0 || b->offset != c->next) {
		if (c->next || c->t0)
			kc_end_segment(d);
		c->t0 = b->t0;
		c->k = b->offset;
	}
	c->next = b->offset + b->n;
	if (psg_filter_push(c->f, b->x, b->n))
		die(EXIT_IO, "out of memory");
	kc_drain(d);
}

static void kc_setup(det *d, const psg_header *h, const opts *o)
{
	kcx *c = &d->kc;
	c->o = o;
	c->ch = -1;
	if (o->no_kc)
		return;
	c->ch = pick(h, o->kc_channel, 0);
	c->pc = &h->channels[c->ch];
	c->rate = psg_channel_rate(c->pc);
	c->f = bandpass(o->kc_lo, fmin(o->kc_hi, c->rate / 2.5), 0, c->rate);
	c->y = buffer();
	c->cap = (int64_t)ceil(BACKGROUND * c->rate);
	c->sq = malloc((size_t)c->cap * sizeof *c->sq);
	if (!c->sq)
		die(EXIT_IO, "out of memory");
}

/* ---- stages in the stream, and the summary ---- */

static void event_in(det *d, const psg_event *e)
{
	if (e->type != d->ann_type || !e->label || e->duration <= 0)
		return;
	int st = stage_of(e->label);
	if (st < -1)
		return;
	double on = (double)e->onset / PSG_TICKS_PER_SEC;
	d->runs = grow(d->runs, &d->runcap, d->nruns, sizeof *d->runs);
	d->runs[d->nruns++] = (stagerun){on, on + (double)e->duration /
					 PSG_TICKS_PER_SEC, st};
}

static void epoch_in(det *d, const psg_epoch *e)
{
	for (int i = 0; i < e->n; i++)
		if ((int)e->feature[i] == d->f_wake) {
			d->wk = grow(d->wk, &d->wkcap, d->nwk, sizeof *d->wk);
			d->wk[d->nwk++] = (wake_call){e->epoch, e->value[i]};
		}
}

/* Whether time t (s) is in a run of one of the stages in mask. */
static int in_stages(const det *d, double t, unsigned mask)
{
	for (size_t i = 0; i < d->nruns; i++)
		if (t >= d->runs[i].on && t < d->runs[i].off)
			return d->runs[i].stage >= 0 &&
			       (mask >> d->runs[i].stage & 1);
	return 0;
}

static int cmp_seconds(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Minutes of the stages in mask.  Runs may overlap (a recording's own
   staging and an imported hypnogram of the same night): each stretch
   between run boundaries counts once, by the run that in_stages() would
   judge an event there by, so the density's two sides agree. */
static double stage_minutes(const det *d, unsigned mask, double dur)
{
	size_t n = 2 * d->nruns;
	double *b = malloc((n + 1) * sizeof *b), s = 0;
	if (!b)
		die(EXIT_IO, "out of memory");
	for (size_t i = 0; i < d->nruns; i++)
		b[2 * i] = d->runs[i].on, b[2 * i + 1] = d->runs[i].off;
	sort_n(b, n, sizeof *b, cmp_seconds);
	for (size_t i = 0; i + 1 < n; i++) {
		double hi = fmin(b[i + 1], dur);
		if (hi > b[i] && in_stages(d, (b[i] + hi) / 2, mask))
			s += hi - b[i];
	}
	free(b);
	return s / 60;
}

/* psg-wake's call of the epoch holding t: 1 wake, 0 sleep, else -1. */
static int wake_at(const det *d, double t)
{
	double len = (double)d->h->epoch_len / PSG_TICKS_PER_SEC;
	double org = (double)d->h->epoch_origin / PSG_TICKS_PER_SEC;
	int64_t e = (int64_t)floor((t - org) / len);
	for (size_t i = 0; i < d->nwk; i++)
		if (d->wk[i].epoch == e)
			return d->wk[i].wake == 0 ? 0 : d->wk[i].wake == 1 ? 1 :
			       -1;
	return -1;
}

/* Events on the basis's time, and its minutes: N2+N3 (or N2 for
   K-complexes) of a hypnogram, sleep by psg-wake, or the recording. */
static double density(const det *d, const onsets *l, unsigned mask,
		      int basis, double dur)
{
	double minutes = dur / 60, n = 0;
	if (basis == 2)
		minutes = stage_minutes(d, mask, dur);
	if (basis == 1) {
		minutes = 0;
		for (size_t i = 0; i < d->nwk; i++)
			minutes += d->wk[i].wake == 0;
		minutes *= (double)d->h->epoch_len / PSG_TICKS_PER_SEC / 60;
	}
	for (size_t i = 0; i < l->n; i++)
		n += basis == 2 ? in_stages(d, l->t[i], mask) :
		     basis == 1 ? wake_at(d, l->t[i]) == 0 : 1;
	return minutes > 0 ? n / minutes : NAN;
}

static void summaries(det *d, double dur)
{
	int basis = d->nruns ? 2 : d->nwk ? 1 : 0;
	unsigned nrem = 1u << PSG_STAGE_N2 | 1u << PSG_STAGE_N3;
	double n = (double)d->sp_on.n;
	psg_summary s[] = {
		{"spindle_count", "", n},
		{"spindle_density", "1/min", density(d, &d->sp_on, nrem, basis,
						     dur)},
		{"spindle_basis", "", basis},
		{"spindle_mean_frequency", "Hz", n ? d->sum_freq / n : NAN},
		{"spindle_mean_duration", "s", n ? d->sum_dur / n : NAN},
		{"spindle_mean_amplitude", "uV", n ? d->sum_amp / n : NAN},
		{"kcomplex_count", "", d->kc.ch < 0 ? NAN :
		 (double)d->kc_on.n},
		{"kcomplex_density", "1/min", d->kc.ch < 0 ? NAN :
		 density(d, &d->kc_on, 1u << PSG_STAGE_N2, basis, dur)},
	};
	for (size_t i = 0; i < sizeof s / sizeof *s; i++)
		if (psg_write_summary(d->w, &s[i]))
			die(EXIT_IO, "%s", psg_writer_errmsg(d->w));
}

static psg_header *declare(det *d, const psg_header *in, int argc,
			   char **argv)
{
	const char *f[] = {"frequency", "amplitude", "rms", "abs_power",
		"rel_power_z", "covariance_z", "correlation"};
	const char *u[] = {"Hz", "uV", "uV", "log10 uV^2", "", "", ""};
	const char *kf[] = {"neg_peak", "pos_peak", "p2p", "neg_duration",
		"contrast"};
	const char *ku[] = {"uV", "uV", "uV", "s", ""};
	psg_header *h = derive_header(in, argc, argv);
	d->ev_sp = psg_header_add_evtype(h, "spindles", 7, f, u);
	d->ev_kc = d->kc.ch < 0 ? 0 :
		   psg_header_add_evtype(h, "k_complexes", 5, kf, ku);
	if (d->ev_sp < 0 || d->ev_kc < 0)
		die(EXIT_UNSUITABLE, "the stream already has spindle or "
		    "K-complex results (psg-spindle ran twice?)");
	return h;
}

int main(int argc, char **argv)
{
	opts o;
	static det d;   /* file scope lifetime: reachable at any exit */
	psg_record rec;
	int st;
	stage_name = "psg-spindle";
	parse_args(argc, argv, &o);
	psg_reader *in = open_detector_input(o.optional, argc, argv);
	const psg_header *hin = psg_reader_header(in);
	sp_setup(&d, hin, &o);
	kc_setup(&d, hin, &o);
	d.ann_type = psg_header_find_evtype(hin, "annotations");
	d.f_wake = psg_header_find_feature(hin, "wake");
	psg_header *h = declare(&d, hin, argc, argv);
	d.h = h;
	add_role(h, PSG_ROLE_EEG, d.sp.ch);
	add_role(h, PSG_ROLE_EEG, d.kc.ch != d.sp.ch ? d.kc.ch : -1);
	d.w = open_stdout_stream(h);
	while ((st = psg_reader_next(in, &rec)) > 0) {
		if (rec.kind == PSG_REC_END) {
			sp_end_segment(&d);
			if (d.kc.ch >= 0)
				kc_end_segment(&d);
			summaries(&d, (double)rec.end.duration /
				  PSG_TICKS_PER_SEC);
			if (psg_writer_finish(d.w, &rec.end))
				die(EXIT_IO, "%s", psg_writer_errmsg(d.w));
			break;
		}
		if (psg_write_record(d.w, &rec))
			die(EXIT_IO, "%s", psg_writer_errmsg(d.w));
		if (rec.kind == PSG_REC_EVENT)
			event_in(&d, &rec.event);
		else if (rec.kind == PSG_REC_EPOCH && d.f_wake >= 0)
			epoch_in(&d, &rec.epoch);
		if (rec.kind != PSG_REC_DATA || rec.block.n <= 0)
			continue;
		if (rec.block.channel == d.sp.ch)
			sp_block(&d, &rec.block);
		if (rec.block.channel == d.kc.ch)
			kc_block(&d, &rec.block);
	}
	if (st < 0)
		die(exit_code(st), "%s", psg_reader_errmsg(in));
	psg_filter_free(d.sp.fs);
	psg_filter_free(d.sp.fb);
	psg_filter_free(d.sp.ft);
	psg_trimmed_free(d.sp.brel);
	psg_trimmed_free(d.sp.bcov);
	psg_filter_free(d.kc.f);
	free(d.sp.ys), free(d.sp.yb), free(d.sp.yt), free(d.kc.y), free(d.kc.sq);
	free(d.sp_on.t), free(d.kc_on.t), free(d.wk), free(d.runs);
	psg_writer_free(d.w);
	psg_header_free(h);
	psg_reader_free(in);
	return 0;
}
