/*
 * psg-stage -- a five-stage hypnogram (W, N1, N2, N3, R) and the night's
 * sleep statistics, from the calls and events of the detectors before it
 * (psg-wake, psg-sws, psg-spindle) and per-epoch features of one EEG,
 * with the chin EMG and the EOG when present.
 *
 * Rules (AASM Manual v2.6, made measurable; each threshold an option):
 *  - W is psg-wake's call and N3 psg-sws's (they are validated on their
 *    own: docs/validation.md); an epoch whose EEG is flat or unusable is
 *    left unscored (-1);
 *  - R (AASM 7.E), with a chin EMG: its tone (the median 1-s 10-100 Hz
 *    power without the mains bands, so that phasic twitches and hum do
 *    not count) at least --atonia 0.3
 *    decades below the 75th percentile of the night's sleep epochs (R,
 *    the least toned, is about a quarter of sleep: that percentile is
 *    NREM's tone) and, with an EOG, rapid eye movements (the EOG's 1-5 Hz
 *    power over the EEG's, in decades, at least --rem-eog 0.3 above its
 *    night median of sleep: R's eye movements are sharp, < 500 ms, and
 *    reach the EOG far more than the EEG) or R in the epoch before (R
 *    continues, AASM 7.E.2).  Spindles do not veto it (below);
 *  - R with the EEG alone: a stretch of at least --rem-run 5 minutes of
 *    N1 and N2 epochs whose N2 score (below) averages under its
 *    threshold over 5 minutes.  A REM period is long and its EEG
 *    resembles N1's, while N1 comes in short runs between wake and N2
 *    (AASM 7.B); --rem-run 0 turns it off.  W of up to --rem-bridge 1
 *    minute inside the stretch stays W but does not end it, and the N1
 *    epochs either side of it are R too (R continues, AASM 7.E.2, while
 *    the EEG stays low-amplitude mixed-frequency without K-complexes or
 *    spindles: an N1 call here);
 *  - N2 or N1 (AASM 7.B, 7.C) by N2's score: the epoch's delta power
 *    (0.5-4 Hz, log10) over the night's median of NREM sleep outside N3
 *    (N1 is low-amplitude, mixed-frequency EEG; N2 carries K-complexes
 *    and slow activity), plus --n2-events 0.2 decades when a spindle or
 *    K-complex (psg-spindle's events) starts in it, plus --n2-wake 0.5
 *    times how far psg-wake's wake_score lies below -0.3 decades (N1 is
 *    drowsiness, its EEG nearer wake's: Ogilvie 2001).  N2 when the score
 *    reaches --n2-delta -0.25, else N1;
 *  - `sleep_stage` per epoch, sent as 0 W, 1 N1, 2 N2, 3 N3, 4 R, -1
 *    unscored and stored by psg-h5 as the names (schema 2.0, coded.c;
 *    not `stage`, which is psg-synth's truth);
 *  - `stage_conf` (0-1, not a calibrated probability): W and N3 take
 *    psg-wake's and psg-sws's scores as logistic distances from their
 *    boundary; N2, N1 and R the logistic distance (scale 0.1 decade) of
 *    the deciding value from its threshold.  `stage_rule` says which
 *    rule decided, `stage_n2` is N2's score less its threshold.
 * Thresholds were chosen by leave-one-recording-out cross-validation
 * (make validate, tests/validate.py part STAGES; docs/validation.md).
 * Statistics (pipeline/hypno.c: YASA sleep_statistics and Luna HYPNO
 * definitions) go to the summary as hyp_*, of the imported hypnogram
 * (psg-read --annotations) when there is one, else of the computed one;
 * hyp_source says which (1 imported, 0 computed).  Epochs whose EEG is
 * under half recorded (EDF+D pauses) are gap time, counted apart.
 * Memory: 64 bytes per epoch until END (184 KB for 24 h of 30-s epochs);
 * per channel one epoch's 1-s values.
 */
#include "stage.h"
#include "epochrun.h"

#include <getopt.h>
#include <math.h>

typedef struct opts {
	const char *channel, *eog, *emg;
	double n2_delta;            /* N2 at this score, decades */
	double n2_events;           /* decades for a spindle or K-complex */
	double n2_wake;             /* weight of wake_score below -0.3 */
	double atonia;              /* decades of chin tone below N2's */
	double rem_eog;             /* decades of EOG/EEG above its median */
	double rem_run;             /* minutes: EEG-only R runs */
	double rem_bridge;          /* minutes of W that do not break one */
	double flat_uv;
	int optional;
} opts;

enum { F_EEG, F_EOG, F_EMG, NFEED };

enum rule { R_NONE, R_WAKE, R_N3, R_N2, R_ATONIA, R_RUN, R_N1 };

typedef struct held {           /* per epoch, until END */
	float ld;                   /* log10 EEG 0.5-4 Hz power */
	float n2;                   /* N2's score less its threshold */
	float emg;                  /* log10 chin tone */
	float eog;                  /* log10 EOG 1-5 Hz, then over the EEG's */
	float l15;                  /* log10 EEG 1-5 Hz */
	float wscore, sscore;       /* psg-wake's, psg-sws's scores */
	signed char wake, sws;      /* their calls; -2 none */
	signed char imported;       /* stage of an imported hypnogram, -3 */
	signed char stage, rule;
	unsigned char events;       /* spindles + K-complexes (saturating) */
	unsigned char late;         /* ... in the second half */
	unsigned char arousal;
	float conf;
	int32_t n;                  /* EEG samples in the epoch */
} held;

typedef struct feed {           /* one channel's per-epoch spectrum */
	int ch;
	double rate;
	psg_welch *wel;
	int64_t epoch;              /* being accumulated, -1 none */
	int64_t t0, next;           /* input segment */
	int64_t n;
	double sum, sum2;           /* the EEG's */
	double *sec;                /* chin: its tone per second */
	size_t nsec, seccap;
	grid_cache grid;            /* the epoch of its samples */
} feed;

typedef struct det {
	const opts *o;
	const psg_header *h;
	feed f[NFEED];
	held *night;
	size_t nnight, cap;
	int64_t max_epochs;
	int f_wake, f_wscore, f_sws, f_sscore;
	int ev_sp, ev_kc, ev_ar, ev_ann;
	int f_stage, f_conf, f_rule, f_n2, f_events, f_emg, f_eog, f_delta;
	int n_imported;
} det;

static void usage(FILE *f)
{
	fputs("usage: psg-stage [options] < in > out\n"
	      "A five-stage hypnogram (W N1 N2 N3 R) per epoch and the "
	      "night's sleep\nstatistics, after psg-wake, psg-sws and "
	      "psg-spindle.\n\n"
	      "  -c, --channel LABEL  EEG channel (default: first central, "
	      "else occipital,\n"
	      "                       parietal or frontal)\n"
	      "      --eog LABEL      EOG ('none': leave out; default: by "
	      "label)\n"
	      "      --emg LABEL      chin EMG ('none': leave out; default: by "
	      "label)\n"
	      "      --n2-delta DEC   N2 (else N1) when its score reaches this: "
	      "delta power over\n"
	      "                       the night's NREM median, decades "
	      "(default -0.25)\n"
	      "      --n2-events DEC  added for a spindle or K-complex "
	      "(default 0.2)\n"
	      "      --n2-wake W      added: W x (-0.3 - wake_score) "
	      "(default 0.5)\n"
	      "      --atonia DEC     R needs the chin tone this far below the "
	      "75th percentile\n"
	      "                       of sleep's (default 0.3)\n"
	      "      --rem-eog DEC    rapid eye movements: EOG/EEG 1-5 Hz this "
	      "far above its\n"
	      "                       median (default 0.3)\n"
	      "      --rem-run MIN    EEG only: R needs a run this long "
	      "(default 5; 0 = no R)\n"
	      "      --rem-bridge MIN EEG only: W this long or shorter "
	      "inside such a run does\n"
	      "                       not end it (default 1)\n"
	      "      --flat UV        unusable EEG below this SD (default 1)\n"
	      "      --optional       no suitable channel: pass the stream "
	      "through, exit 0\n"
	      "      --version        the version\n"
	      "  -h, --help           this help\n\n"
	      "Rules: AASM Manual v2.6, W from psg-wake, N3 from psg-sws, "
	      "spindles and\nK-complexes from psg-spindle.  Statistics: YASA "
	      "sleep_statistics, Luna HYPNO.\nExit: 0 ok, 1 usage, 2 bad "
	      "stream, 3 no suitable EEG channel.\n", f);
}

static void parse_args(int argc, char **argv, opts *o)
{
	enum { O_EOG = 256, O_EMG, O_N2D, O_N2E, O_N2W, O_ATONIA, O_REMEOG,
	       O_REMRUN, O_FLAT, O_OPTIONAL, O_BRIDGE };
	static const struct option lo[] = {{"channel", 1, 0, 'c'},
		{"eog", 1, 0, O_EOG}, {"emg", 1, 0, O_EMG},
		{"n2-delta", 1, 0, O_N2D}, {"n2-events", 1, 0, O_N2E},
		{"n2-wake", 1, 0, O_N2W},
		{"atonia", 1, 0, O_ATONIA}, {"rem-eog", 1, 0, O_REMEOG},
		{"rem-run", 1, 0, O_REMRUN}, {"flat", 1, 0, O_FLAT},
		{"rem-bridge", 1, 0, O_BRIDGE},
		{"optional", 0, 0, O_OPTIONAL}, {"help", 0, 0, 'h'},
		{0, 0, 0, 0}};
	*o = (opts){NULL, NULL, NULL, -0.25, 0.2, 0.5, 0.3, 0.3, 5, 1, 1, 0};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->channel = optarg; break;
		case O_EOG: o->eog = optarg; break;
		case O_EMG: o->emg = optarg; break;
		case O_N2D: o->n2_delta = opt_num("--n2-delta", optarg, -3, 3);
			break;
		case O_N2E: o->n2_events = opt_num("--n2-events", optarg, -3,
						   3); break;
		case O_N2W: o->n2_wake = opt_num("--n2-wake", optarg, -10, 10);
			break;
		case O_ATONIA: o->atonia = opt_num("--atonia", optarg, 0, 3);
			break;
		case O_REMEOG: o->rem_eog = opt_num("--rem-eog", optarg, -3, 3);
			break;
		case O_REMRUN: o->rem_run = opt_num("--rem-run", optarg, 0,
						    1e6); break;
		case O_BRIDGE: o->rem_bridge = opt_num("--rem-bridge", optarg,
						       0, 60); break;
		case O_FLAT: o->flat_uv = opt_num("--flat", optarg, 0, 1e6);
			break;
		case O_OPTIONAL: o->optional = 1; break;
		case 'h': usage(stdout); exit(0);
		default: bad_option(c, argv);
		}
	}
	no_operands(argc, argv);
}

/* ---- channels ---- */

/* The top of the band each channel is read in, which its rate must
   carry (Nyquist): the EEG's beta to 20 Hz at least, the EOG's rapid
   eye movements 5 Hz, the chin's tone from 10 to 20 Hz at least. */
static const double need_hz[NFEED] = {20, 5, 20};
static const char *const feed_name[NFEED] = {"EEG", "EOG", "chin EMG"};

static void setup_feed(feed *f, int ch, const psg_header *h, int which)
{
	int st;
	const psg_channel *c = &h->channels[ch];
	f->ch = ch;
	f->epoch = -1;
	f->t0 = f->next = -1;
	f->rate = psg_channel_rate(c);
	if (f->rate < 2 * need_hz[which]) {
		if (which == F_EEG)
			die(EXIT_UNSUITABLE, "EEG '%s' at %g Hz cannot carry "
			    "the bands staging reads (%g Hz or more)", c->label,
			    f->rate, 2 * need_hz[which]);
		warn("%s '%s' at %g Hz cannot carry the bands staging reads "
		     "(%g Hz or more): left out", feed_name[which], c->label,
		     f->rate, 2 * need_hz[which]);
		f->ch = -1;
		return;
	}
	f->wel = psg_welch_new(f->rate, which == F_EMG ? 1 : 4,
			       which == F_EMG ? 0 : 0.5, &st);
	if (!f->wel)
		die(st == PSG_ERR_NOMEM ? EXIT_IO : EXIT_UNSUITABLE,
		    "'%s': %g Hz is too slow for a spectrum", c->label,
		    f->rate);
}

/* ---- per-epoch features ---- */

static held *epoch_held(det *d, int64_t e)
{
	if (e < 0 || e >= d->max_epochs)
		return NULL;
	while ((size_t)e >= d->nnight) {
		d->night = grow(d->night, &d->cap, d->nnight, sizeof *d->night);
		d->night[d->nnight++] = (held){.ld = NAN, .n2 = NAN, .emg = NAN,
			.eog = NAN, .l15 = NAN, .wscore = NAN, .sscore = NAN,
			.wake = -2, .sws = -2, .imported = -3, .stage = -1,
			.conf = NAN};
	}
	return &d->night[e];
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median of v[0..n), sorted in place; NaN for none. */
static double median(double *v, size_t n)
{
	if (!n)
		return NAN;
	sort_n(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void eeg_features(det *d, feed *f, held *e)
{
	double mean = f->n ? f->sum / f->n : 0;
	double sd = sqrt(fmax(0, f->sum2 / (double)f->n - mean * mean));
	e->n = (int32_t)f->n;
	if (!psg_welch_windows(f->wel) || sd < d->o->flat_uv)
		return;
	double r = f->rate;
	e->ld = (float)log10(welch_band(f->wel, 0.5, 4, r));
	e->l15 = (float)log10(welch_band(f->wel, 1, 5, r));
}

/* The epoch a channel was accumulating is over: its features are held
   (the EOG's power is read against the EEG's at END: either channel's
   epoch may end first). */
static void finish_epoch(det *d, int which)
{
	feed *f = &d->f[which];
	held *e = f->epoch >= 0 ? epoch_held(d, f->epoch) : NULL;
	const double len = (double)d->h->epoch_len / PSG_TICKS_PER_SEC;
	if (e && which == F_EEG)
		eeg_features(d, f, e);
	else if (e && which == F_EOG && psg_welch_windows(f->wel) &&
		 f->n * 2 >= len * f->rate)
		e->eog = (float)log10(welch_band(f->wel, 1, 5, f->rate));
	else if (e && which == F_EMG && f->nsec * 2 >= len)
		e->emg = (float)log10(median(f->sec, f->nsec));
	f->nsec = 0;
	psg_welch_clear(f->wel);
	f->n = 0;
	f->sum = f->sum2 = 0;
	f->epoch = -1;
}

/* The chin's tone in one 1-s window: 10-100 Hz without the mains bands
   (47-53, 57-63, 97-100 Hz).  A chin in R carries a few uV; mains hum of
   that size raises every stage's tone alike and hides the atonia (on a
   generated night with 8 uV of 50 Hz, R's median tone was 0.16 decades
   under N2's with the mains bands and 1.09 without). */
static double chin_tone(const psg_welch *w, double rate)
{
	return welch_band(w, 10, 47, rate) + welch_band(w, 53, 57, rate) +
	       welch_band(w, 63, 97, rate);
}

/* Samples x[0..n), all in the epoch being accumulated; the chin's tone
   is read from each 1-s window as it completes. */
static void run(feed *f, int which, const float *x, int32_t n)
{
	if (which == F_EEG)         /* its SD: a flat EEG is unusable */
		sums_run(x, n, &f->n, &f->sum, &f->sum2);
	else
		f->n += n;
	if (which != F_EMG)
		psg_welch_push(f->wel, x, n);
	else
		window_values(f->wel, x, n, chin_tone, f->rate, &f->sec,
			      &f->nsec, &f->seccap);
}

static void block(det *d, int which, const psg_block *b)
{
	feed *f = &d->f[which];
	const psg_channel *pc = &d->h->channels[f->ch];
	if (b->t0 != f->t0 || b->offset != f->next)   /* a new segment */
		psg_welch_restart(f->wel);
	f->t0 = b->t0;
	f->next = b->offset + b->n;
	for (int32_t i = 0, j; i < b->n; i = j) {
		int64_t e;
		j = epoch_run(&f->grid, d->h, pc, b, i, &e);
		if (e != f->epoch) {
			finish_epoch(d, which);
			f->epoch = e;
		}
		if (e >= 0)
			run(f, which, b->x + i, j - i);
	}
}

/* ---- what the other stages put in the stream ---- */

static void epoch_in(det *d, const psg_epoch *ep)
{
	held *e = epoch_held(d, ep->epoch);
	for (int i = 0; e && i < ep->n; i++) {
		int f = (int)ep->feature[i];
		double v = ep->value[i];
		if (f == d->f_wake)
			e->wake = (signed char)(v == 0 ? 0 : v == 1 ? 1 : -1);
		else if (f == d->f_sws)
			e->sws = (signed char)(v == 0 ? 0 : v == 1 ? 1 : -1);
		else if (f == d->f_wscore)
			e->wscore = (float)v;
		else if (f == d->f_sscore)
			e->sscore = (float)v;
	}
}

/* An imported hypnogram's run: each epoch whose midpoint lies in it. */
static void stage_run(det *d, int64_t on, int64_t dur, int stage)
{
	const psg_header *h = d->h;
	int64_t e0 = grid_epoch(d->h, on), half = h->epoch_len / 2;
	int64_t end = h->duration > 0 ? grid_epoch(d->h, h->duration) + 1 :
		      d->max_epochs;
	for (int64_t e = e0 < 0 ? 0 : e0; e < end && e < d->max_epochs; e++) {
		int64_t mid = h->epoch_origin + e * h->epoch_len + half;
		if (mid >= on + dur)
			break;
		held *x = mid >= on ? epoch_held(d, e) : NULL;
		if (x)
			x->imported = (signed char)stage, d->n_imported++;
	}
}

static void event_in(det *d, const psg_event *ev)
{
	int64_t len = d->h->epoch_len;
	if (ev->type == d->ev_ann) {
		int st = ev->label ? stage_of(ev->label) : -2;
		if (st >= -1 && ev->duration > 0)
			stage_run(d, ev->onset, ev->duration, st);
		return;
	}
	held *e = epoch_held(d, grid_epoch(d->h, ev->onset));
	if (!e)
		return;
	if (ev->type == d->ev_ar) {
		e->arousal = 1;
	} else if (ev->type == d->ev_sp || ev->type == d->ev_kc) {
		e->events += e->events < 255;
		int64_t into = (ev->onset - d->h->epoch_origin) % len;
		e->late += e->late < 255 && 2 * into >= len;
	}
}

/* ---- the decision (at END) ---- */

static double logistic(double z)
{
	return 1 / (1 + exp(-z));
}

typedef struct night_ref {      /* the night's medians */
	double emg_nrem, eog, delta;
} night_ref;

/* Percentile p (0-100, the nearest rank) of one float member (at
   offset off) over epochs that pass. */
static double night_pct(const det *d, size_t off, int (*pass)(const held *),
			double p)
{
	double *v = malloc((d->nnight + 1) * sizeof *v);
	size_t n = 0;
	if (!v)
		die(EXIT_IO, "out of memory");
	for (size_t i = 0; i < d->nnight; i++) {
		const held *e = &d->night[i];
		float x = *(const float *)((const char *)e + off);
		if (isfinite(x) && pass(e))
			v[n++] = x;
	}
	sort_n(v, n, sizeof *v, cmp_double);
	double m = n ? v[(size_t)lround(p / 100 * (double)(n - 1))] : NAN;
	free(v);
	return m;
}

static int usable(const held *e)
{
	return isfinite(e->ld) && e->n > 0;
}

static int asleep(const held *e)
{
	return usable(e) && e->wake != 1;
}

static int nrem_light(const held *e)
{
	return asleep(e) && e->sws != 1;
}

/* N2's score of epoch i, in decades: its delta power over the night's
   median of NREM sleep outside N3 (N1 is low-amplitude mixed-frequency
   EEG, N2 carries K-complexes and slow activity), plus --n2-events for
   a spindle or K-complex in it (AASM 7.C.1), plus --n2-wake times how
   far its wake_score lies below -0.3 decades (N1 is drowsiness: its EEG
   is closer to wake's than N2's is). */
static double n2_score(const det *d, size_t i, const night_ref *r)
{
	const held *e = &d->night[i];
	double s = e->ld - r->delta + d->o->n2_events * (e->events > 0);
	if (isfinite(e->wscore))
		s += d->o->n2_wake * (-0.3 - e->wscore);
	return s;
}

/* R by the chin (and EOG): atonia, and rapid eye movements or R
   before.  0 when there is no chin to read.  Spindles do not veto it:
   the sawtooth and alpha bursts of REM pass for a few (A7 is tuned on
   N2). */
static int rem_by_chin(const det *d, size_t i, const night_ref *r)
{
	const held *e = &d->night[i];
	if (!isfinite(e->emg) || !isfinite(r->emg_nrem))
		return 0;
	if (e->emg - r->emg_nrem > -d->o->atonia)
		return 0;
	if (d->f[F_EOG].ch < 0 || !isfinite(e->eog))
		return 1;
	return e->eog - r->eog >= d->o->rem_eog ||
	       (i > 0 && d->night[i - 1].stage == PSG_STAGE_R);
}

static void set(held *e, int stage, int rule, double conf)
{
	e->stage = (signed char)stage;
	e->rule = (signed char)rule;
	e->conf = (float)conf;
}

/* W, N3, R by the chin, else N2 or N1 by N2's score. */
static void first_pass(det *d, const night_ref *r)
{
	for (size_t i = 0; i < d->nnight; i++) {
		held *e = &d->night[i];
		double z = usable(e) ? n2_score(d, i, r) - d->o->n2_delta : NAN;
		e->n2 = (float)z;
		if (!usable(e) || e->wake == -1)
			set(e, PSG_STAGE_UNKNOWN, R_NONE, NAN);
		else if (e->wake == 1)
			set(e, PSG_STAGE_W, R_WAKE, isfinite(e->wscore) ?
			    logistic(e->wscore / 0.1) : NAN);
		else if (e->sws == 1)
			set(e, PSG_STAGE_N3, R_N3, e->sscore);
		else if (rem_by_chin(d, i, r))
			set(e, PSG_STAGE_R, R_ATONIA, logistic(
			    (r->emg_nrem - e->emg - d->o->atonia) / 0.1));
		else if (z >= 0)
			set(e, PSG_STAGE_N2, R_N2, logistic(z / 0.1));
		else
			set(e, PSG_STAGE_N1, R_N1, logistic(-z / 0.1));
	}
}

static int light(const held *e)
{
	return e->stage == PSG_STAGE_N1 || e->stage == PSG_STAGE_N2;
}

/* Mean N2 score (less its threshold) of the N1 and N2 epochs within
   REM_HALF minutes of epoch i. */
#define REM_HALF 2.5
static double local_n2(const det *d, size_t i, size_t k)
{
	double sum = 0;
	int n = 0;
	for (size_t j = i > k ? i - k : 0; j <= i + k && j < d->nnight; j++)
		if (light(&d->night[j]))
			sum += d->night[j].n2, n++;
	return n ? sum / n : NAN;
}

/* The end of the run of candidates from i: candidates, and W of at most
   `bridge' epochs between two of them (a brief awakening, or psg-wake
   taking REM's alpha and beta for wake, does not end a REM period). */
static size_t run_end(const det *d, const unsigned char *cand, size_t i,
		      size_t bridge)
{
	size_t j = i;
	for (;;) {
		while (j < d->nnight && cand[j])
			j++;
		size_t w = j;
		while (w < d->nnight && w - j < bridge &&
		       d->night[w].stage == PSG_STAGE_W)
			w++;
		if (w == j || w >= d->nnight || !cand[w])
			return j;
		j = w;
	}
}

/* R continues over the N1 epochs next to a run (AASM 7.E.2: R goes on
   while the EEG stays low-amplitude mixed-frequency without K-complexes
   or spindles, which is what an N1 call here says; likewise back to the
   N2 before it, the segment before the first REMs). */
static void rem_extend(det *d, size_t i, size_t j, double conf)
{
	for (size_t m = j; m < d->nnight && d->night[m].stage == PSG_STAGE_N1;
	     m++)
		set(&d->night[m], PSG_STAGE_R, R_RUN, conf);
	for (size_t m = i; m > 0 && d->night[m - 1].stage == PSG_STAGE_N1; m--)
		set(&d->night[m - 1], PSG_STAGE_R, R_RUN, conf);
}

/* EEG alone: R is a stretch of at least --rem-run minutes of N1 and N2
   epochs whose N2 score is below its threshold on average over 5
   minutes: a REM period is long and its EEG resembles N1's (some of its
   epochs pass for N2 by their sawtooth waves and spindle-like bursts),
   while N1 itself comes in short runs between wake and N2.  W up to
   --rem-bridge inside it stays W but does not end it; the N1 epochs
   either side of it are R too (rem_extend). */
static void rem_runs(det *d)
{
	double len = (double)d->h->epoch_len / PSG_TICKS_PER_SEC / 60;
	size_t k = (size_t)(REM_HALF / len + 0.5), i = 0;
	size_t bridge = (size_t)(d->o->rem_bridge / len + 1e-9);
	unsigned char *cand = calloc(d->nnight + 1, 1);
	if (!cand)
		die(EXIT_IO, "out of memory");
	for (size_t j = 0; j < d->nnight; j++)
		cand[j] = light(&d->night[j]) && local_n2(d, j, k) < 0;
	while (i < d->nnight) {
		size_t j = cand[i] ? run_end(d, cand, i, bridge) : i;
		if (j > i && d->o->rem_run > 0 &&
		    (double)(j - i) * len >= d->o->rem_run) {
			for (size_t m = i; m < j; m++)
				if (cand[m])
					set(&d->night[m], PSG_STAGE_R, R_RUN,
					    logistic(-local_n2(d, m, k) / 0.1));
			rem_extend(d, i, j, logistic(0));
		}
		i = j > i ? j : i + 1;
	}
	free(cand);
}

static void decide(det *d)
{
	night_ref r;
	for (size_t i = 0; i < d->nnight; i++)
		d->night[i].eog -= d->night[i].l15;
	r.eog = night_pct(d, offsetof(held, eog), asleep, 50);
	r.delta = night_pct(d, offsetof(held, ld), nrem_light, 50);
	r.emg_nrem = night_pct(d, offsetof(held, emg), asleep, 75);
	first_pass(d, &r);
	if (d->f[F_EMG].ch < 0)
		rem_runs(d);
}

/* ---- output ---- */

static void write_epochs(det *d, psg_writer *w)
{
	for (size_t i = 0; i < d->nnight; i++) {
		const held *e = &d->night[i];
		if (!e->n && e->wake == -2 && e->sws == -2)
			continue;   /* nothing seen of it */
		uint32_t fid[8] = {(uint32_t)d->f_stage, (uint32_t)d->f_conf,
			(uint32_t)d->f_rule, (uint32_t)d->f_n2,
			(uint32_t)d->f_events, (uint32_t)d->f_emg,
			(uint32_t)d->f_eog, (uint32_t)d->f_delta};
		double val[8] = {e->stage, e->conf, e->rule, e->n2,
			e->events, e->emg, e->eog, e->ld};
		psg_epoch ep = {.epoch = (int64_t)i, .n = 8, .feature = fid,
				.value = val};
		if (psg_write_epoch(w, &ep))
			die(EXIT_IO, "%s", psg_writer_errmsg(w));
	}
}

/* The hypnogram the statistics are of: imported (whole epochs in one of
   its runs) when there is one, else computed; epochs the EEG holds
   under half of are gaps. */
static signed char *hypnogram(const det *d, int imported)
{
	signed char *st = malloc(d->nnight + 1);
	double need = (double)d->h->epoch_len / PSG_TICKS_PER_SEC *
		      psg_channel_rate(&d->h->channels[d->f[F_EEG].ch]) / 2;
	if (!st)
		die(EXIT_IO, "out of memory");
	for (size_t i = 0; i < d->nnight; i++) {
		const held *e = &d->night[i];
		int s = imported ? (e->imported >= -1 ? e->imported : -1)
				 : e->stage;
		st[i] = (signed char)((double)e->n < need ? PSG_HYPNO_GAP : s);
	}
	return st;
}

static void put(psg_writer *w, const char *name, const char *unit, double v)
{
	psg_summary s = {name, unit, v};
	if (psg_write_summary(w, &s))
		die(EXIT_IO, "%s", psg_writer_errmsg(w));
}

/* Epochs up to the last one the recording has: an imported hypnogram
   may run on past it (Sleep-EDF's covers the whole day). */
static size_t recorded_epochs(const det *d)
{
	size_t n = d->nnight;
	while (n > 0 && !d->night[n - 1].n && d->night[n - 1].wake == -2 &&
	       d->night[n - 1].sws == -2)
		n--;
	return n;
}

static void summaries(det *d, psg_writer *w)
{
	int imported = d->n_imported > 0;
	signed char *st = hypnogram(d, imported);
	psg_sleep_stats s;
	double len = (double)d->h->epoch_len / PSG_TICKS_PER_SEC / 60;
	if (psg_hypno_stats(st, recorded_epochs(d), len, &s))
		die(EXIT_IO, "sleep statistics: bad hypnogram");
	free(st);
	static const char *const nm[5] = {"w", "n1", "n2", "n3", "rem"};
	char name[32];
	put(w, "hyp_source", "", imported);
	put(w, "hyp_trt", "min", s.trt);
	put(w, "hyp_gap", "min", s.gap);
	put(w, "hyp_unscored", "min", s.unscored);
	put(w, "hyp_tst", "min", s.tst);
	put(w, "hyp_spt", "min", s.spt);
	put(w, "hyp_waso", "min", s.waso);
	put(w, "hyp_se", "%", s.se);
	put(w, "hyp_sme", "%", s.sme);
	put(w, "hyp_sol", "min", s.sol);
	put(w, "hyp_sol_persistent", "min", s.sol_persistent);
	put(w, "hyp_rem_latency", "min", s.rem_latency);
	for (int k = PSG_STAGE_N1; k <= PSG_STAGE_R; k++) {
		snprintf(name, sizeof name, "hyp_%s_min", nm[k]);
		put(w, name, "min", s.stage_min[k]);
		snprintf(name, sizeof name, "hyp_%s_pct", nm[k]);
		put(w, name, "%", s.stage_pct[k]);
	}
	put(w, "hyp_awakenings", "", s.awakenings);
	put(w, "hyp_stage_shifts", "", s.stage_shifts);
	put(w, "hyp_fragmentation_index", "1/h", s.fragmentation_index);
	put(w, "hyp_cycles", "", s.cycles);
}

static psg_header *declare(det *d, const psg_header *in, int argc,
			   char **argv)
{
	psg_header *h = derive_header(in, argc, argv);
	d->f_stage = psg_header_add_feature(h, "sleep_stage", "",
		"computed stage: W, N1, N2, N3, R or ? (sent as 0-4, -1; "
		"stored as the name)");
	d->f_conf = psg_header_add_feature(h, "stage_conf", "",
		"confidence 0-1 (not a calibrated probability)");
	d->f_rule = psg_header_add_feature(h, "stage_rule", "",
		"wake (psg-wake), sws (psg-sws N3), n2 (N2 score), chin "
		"(R), run (R, EEG only), n1; sent as 1-6");
	d->f_n2 = psg_header_add_feature(h, "stage_n2", "dec",
		"N2's score less its threshold: >= 0 N2, < 0 N1");
	d->f_events = psg_header_add_feature(h, "stage_events", "",
		"spindles and K-complexes starting in the epoch");
	d->f_emg = psg_header_add_feature(h, "stage_chin", "log10 uV^2",
		"chin tone: median 1-s 10-100 Hz power, mains bands left out");
	d->f_eog = psg_header_add_feature(h, "stage_eog", "dec",
		"log10 EOG over EEG 1-5 Hz power (rapid eye movements)");
	d->f_delta = psg_header_add_feature(h, "stage_delta", "log10 uV^2",
		"EEG 0.5-4 Hz power");
	if (d->f_stage < 0 || d->f_conf < 0 || d->f_rule < 0 ||
	    d->f_n2 < 0 || d->f_events < 0 || d->f_emg < 0 ||
	    d->f_eog < 0 || d->f_delta < 0)
		die(EXIT_UNSUITABLE, "the stream already has stage results "
		    "(psg-stage ran twice?)");
	return h;
}

static void find_inputs(det *d, const psg_header *h)
{
	d->f_wake = psg_header_find_feature(h, "wake");
	d->f_wscore = psg_header_find_feature(h, "wake_score");
	d->f_sws = psg_header_find_feature(h, "sws");
	d->f_sscore = psg_header_find_feature(h, "sws_score");
	d->ev_sp = psg_header_find_evtype(h, "spindles");
	d->ev_kc = psg_header_find_evtype(h, "k_complexes");
	d->ev_ar = psg_header_find_evtype(h, "arousals");
	d->ev_ann = psg_header_find_evtype(h, "annotations");
	if (d->f_wake < 0)
		warn("no wake calls in the stream (run psg-wake first): no "
		     "epoch is W");
	if (d->f_sws < 0)
		warn("no N3 calls in the stream (run psg-sws first): no "
		     "epoch is N3");
	if (d->ev_sp < 0)
		warn("no spindles in the stream (run psg-spindle first): N2 "
		     "by delta power alone");
}

int main(int argc, char **argv)
{
	opts o;
	static det d;   /* file scope lifetime: reachable at any exit */
	psg_record rec;
	int st;
	stage_name = "psg-stage";
	parse_args(argc, argv, &o);
	psg_reader *in = open_detector_input(o.optional, argc, argv);
	const psg_header *hin = psg_reader_header(in);
	d.o = &o;
	int ch[NFEED] = {pick_central_eeg(hin, o.channel),
			 pick_aux(hin, o.eog, PSG_ROLE_EOG),
			 pick_aux(hin, o.emg, PSG_ROLE_CHIN)};
	d.max_epochs = psg_max_duration() / hin->epoch_len + 1;
	for (int k = 0; k < NFEED; k++) {
		d.f[k].ch = -1;
		if (ch[k] >= 0 && (k == F_EEG || ch[k] != ch[F_EEG]))
			setup_feed(&d.f[k], ch[k], hin, k);
	}
	psg_header *h = declare(&d, hin, argc, argv);
	d.h = h;
	find_inputs(&d, h);
	add_role(h, PSG_ROLE_EEG, d.f[F_EEG].ch);
	add_role(h, PSG_ROLE_EOG, d.f[F_EOG].ch);
	add_role(h, PSG_ROLE_CHIN, d.f[F_EMG].ch);
	psg_writer *w = open_stdout_stream(h);
	while ((st = psg_reader_next(in, &rec)) > 0) {
		if (rec.kind == PSG_REC_END) {
			for (int k = 0; k < NFEED; k++)
				if (d.f[k].ch >= 0)
					finish_epoch(&d, k);
			decide(&d);
			write_epochs(&d, w);
			summaries(&d, w);
			if (psg_writer_finish(w, &rec.end))
				die(EXIT_IO, "%s", psg_writer_errmsg(w));
			break;
		}
		if (psg_write_record(w, &rec))
			die(EXIT_IO, "%s", psg_writer_errmsg(w));
		if (rec.kind == PSG_REC_EPOCH)
			epoch_in(&d, &rec.epoch);
		else if (rec.kind == PSG_REC_EVENT)
			event_in(&d, &rec.event);
		else if (rec.kind == PSG_REC_DATA && rec.block.x)
			for (int k = 0; k < NFEED; k++)
				if (d.f[k].ch == rec.block.channel)
					block(&d, k, &rec.block);
	}
	if (st < 0)
		die(exit_code(st), "%s", psg_reader_errmsg(in));
	for (int k = 0; k < NFEED; k++) {
		psg_welch_free(d.f[k].wel);
		free(d.f[k].sec);
	}
	free(d.night);
	psg_writer_free(w);
	psg_header_free(h);
	psg_reader_free(in);
	return 0;
}
