/*
 * psg-wake -- wake epochs, awakenings, wake after sleep onset and EEG
 * arousals, from one EEG channel, helped by chin EMG and EOG when present.
 *
 * Rules and defaults (each an option; docs/validation.md has the numbers):
 *  - the EEG is the first central channel by label (C4, C3, Cz...), else
 *    an occipital or parietal one (O2, O1, Oz, Pz: the alpha of relaxed
 *    wake is largest there, AASM Manual v2.6), else a frontal one; -c
 *    overrides.  The EOG is the first channel of kind EOG, the chin the
 *    first EMG whose label is not a leg, arm or masseter; --eog/--emg
 *    name them, "none" leaves them out.  Each must carry the part of its
 *    band that is read against the night's own values, at twice its top
 *    (Nyquist): the EEG 4-20 Hz (theta to the first 4 Hz of beta, so
 *    40 Hz; DREAMS excerpt 3 at 50 Hz reads beta as 16-25 Hz), the EOG
 *    1-4 Hz (8 Hz), the chin 10-20 Hz of its tone (40 Hz; a Sleep-EDF
 *    chin at 1 Hz is an envelope).  A slower EOG or chin is left out with
 *    a warning saying so, a slower EEG refused (exit 3);
 *  - per epoch, Welch spectra (4-s Hann windows, 50 % overlap; Welch 1967)
 *    give delta 0.5-4, theta 4-8, alpha 8-12, sigma 12-16 and beta 16-30 Hz
 *    (capped at Nyquist).  Wake has more beta and alpha and less theta,
 *    delta and sigma than sleep (AASM: alpha on eyes closed, beta, no
 *    spindles; Ogilvie 2001: theta replaces alpha at sleep onset).  The
 *    EEG evidence is the larger of log10(beta/theta) - T_b and
 *    log10((alpha+beta)/theta) - T_a, in decades, each ratio the value
 *    that 60 % of the epoch's windows reach (--wake-share 0.6; 0 = the
 *    ratio of the Welch mean): AASM scores W when more than half the
 *    epoch shows wake.  A 4-s window at 50 % overlap catches a burst up
 *    to 2 s beyond each end, so a burst of L s touches (L + 4) / 2 of a
 *    30-s epoch's 14 windows: 60 % is reached from about 13 s, and the
 *    neighbours' smoothing keeps most such epochs asleep (0.68, for
 *    15 s, lost real wake on DREAMS: docs/validation.md);
 *  - the thresholds are relative to the night, decided at END: T_b is
 *    the night's 20th percentile plus 5 times its distance to the 5th
 *    (--spread), at least -0.6 (--floor); T_a likewise, without a floor.
 *    Wake is a shift toward alpha and beta over the recording's own
 *    sleep, and absolute ratios differ between recordings far more than
 *    that shift (issue 17: unseen patients lost most wake to the old
 *    absolute -0.35).  5 and -0.6 were chosen by leave-one-patient-out
 *    cross-validation (make validate, docs/validation.md).  The lower
 *    part of any night is sleep, so this also keeps a recording whose
 *    sleep already has a high ratio (EMG, white noise) from being called
 *    all wake.  Recordings too short to adapt use -0.35 (--beta-theta,
 *    fitted in-sample on DREAMS) and 0 (--alpha-theta);
 *  - an epoch whose beta power is 10x (--movement 1 decade) the night's
 *    median is a movement or muscle burst, scored with wake (R&K's
 *    movement time; AASM: a major body movement with wake around it);
 *  - the chin's log 10-100 Hz power (the value 60 % of the epoch's 1-s
 *    values reach, by --wake-share: tone, not phasic bursts or arousals),
 *    and the EOG's 1-4 Hz power over the EEG's (log10, --eog-low 1 Hz:
 *    blinks and saccades raise the EOG far above the EEG, while N3's
 *    frontal slow waves reach both; the slow eye movements of N1, below
 *    1 Hz, are sleep and stay out), above (below) their
 *    night medians add (subtract) 0.5 x their excess, clipped to +-1
 *    decade (--emg-weight, --eog-weight): wake has tone and eye
 *    movements, REM atonia (AASM).  Below the chin's median, eye movements
 *    no longer count for wake: REM has them too.  An epoch whose EOG
 *    or chin is at its rails for > 5 % of the samples is left without
 *    that channel: the clipping's edges alone would look like movement;
 *  - each epoch's score is averaged with its neighbours' with weights
 *    1-2-1 (--smooth 1; scorers read epochs in context, as psg-sws's
 *    smoothing; on DREAMS it lifts F1 from 0.81 to 0.85);
 *  - `wake_score` is that sum (decades above the wake threshold); `wake`
 *    is 1 when it is >= 0, 0 when not, -1 when the EEG is unusable (flat
 *    below 1 uV SD, mostly saturated, or under half recorded);
 *  - recordings with fewer than 20 usable epochs (--min-adapt) cannot
 *    show their sleep level: the absolute thresholds apply, there is no
 *    movement or chin term, and the EOG ratio is measured against 0.3
 *    decades (--eog-ref: eye movements double the EOG's slow power over
 *    the EEG's; DREAMS excerpt 3's stage-2 median is 0.13);
 *  - sleep onset is the first sleep epoch, or with --persistent MIN the
 *    first of MIN minutes of uninterrupted sleep; awakenings are runs of
 *    wake epochs after it of at least --min-awakening epochs (1); WASO is
 *    all wake after onset to the end of the recording (there is no
 *    lights-on mark); indices are per hour of sleep; sleep efficiency is
 *    sleep time over the recorded time: the epochs whose EEG holds at
 *    least half of them, so that the gaps of an EDF+D recording do not
 *    count;
 *  - arousals (AASM: an abrupt shift to alpha, theta and/or > 16 Hz,
 *    not spindles, >= 3 s after >= 10 s of sleep): in 1-s steps the
 *    spectrum of the last 2 s gives x, the mean of log10 alpha (8-12 Hz)
 *    and log10 beta (16-30 Hz), so that a shift in either counts alike
 *    (the log of their sum is ruled by whichever band holds more power,
 *    and rose 2 dB less for the same bursts: docs/validation.md), and r
 *    is the mean x of the last 4 steps (--arousal-avg, 5 s of EEG).  A
 *    step whose r rises >= 3.5 dB (--arousal-db) above
 *    the median of the 10 steps before it (--baseline 10 s, AASM's 10 s
 *    of sleep) opens a candidate at the second second of those 5 s; it
 *    lasts while the rise stays above half of that and is kept when
 *    >= 3 s (--arousal-min).  Delta and sigma are left out: slow waves
 *    and K-complexes make them swing by 0.3-0.5 decade from one step to
 *    the next, which buried the rise (docs/validation.md), and a spindle
 *    (11-16 Hz, < 2 s) touches alpha only at its edge and is too short.
 *    At END a candidate is dropped when its baseline
 *    touches a wake or unusable epoch, or when it overlaps a wake epoch
 *    and either lasts > 15 s or starts in it (then it belongs to the
 *    awakening, AASM).  REM's chin condition is not checked.
 * Memory: 32 bytes per epoch, and 24 per arousal candidate, until END;
 * per channel one epoch's window values.
 * Stage annotations in the stream pass through unread.
 */
#include "stage.h"
#include "epochrun.h"

#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <strings.h>

typedef struct opts {
	const char *channel, *eog, *emg;
	double beta_theta, alpha_theta, spread, movement, floor;
	double eog_weight, emg_weight, eog_ref;
	int min_adapt;
	double persistent;          /* minutes, 0 = first sleep epoch */
	int min_awake;              /* epochs */
	double arousal_db, arousal_min, baseline;
	int arousal_avg;            /* 1-s steps averaged */
	double flat_uv;
	double smooth;              /* weight of each neighbour's score */
	double share;               /* of the epoch's windows that decide */
	double eog_low;             /* Hz: EOG/EEG band's lower edge */
	int optional;               /* --optional: pass unusable input through */
} opts;
/* (floor: log10 beta/theta the night-relative threshold is at least) */

typedef struct held {           /* per epoch, until END */
	float bt, abt, lb;          /* log10 beta/theta, (alpha+beta)/theta, beta */
	float ld;                   /* log10 EEG 0.5-4 Hz power */
	float eog, emg;             /* log10 EOG/EEG 0.5-4 Hz; chin 10-100 Hz */
	signed char unusable, seen;
	signed char recorded;       /* the EEG holds at least half of it */
	signed char wake;
	float score;
} held;

typedef struct cand {           /* an arousal candidate */
	int64_t onset, duration;
	float shift, peak;          /* dB */
} cand;

enum { F_EEG, F_EOG, F_EMG, NFEED };

typedef struct feed {           /* one channel's per-epoch spectrum */
	int ch;
	double rate;
	psg_welch *wel;
	int64_t epoch;              /* being accumulated, -1 none */
	int64_t t0, next;           /* input segment */
	int64_t n, nsat;            /* samples, those at the rails */
	double lo, hi;              /* the rails: physical min and max */
	float flo, fhi;             /* as floats: x <= flo iff x <= lo */
	double sum, sum2;           /* the EEG's */
	double *sec;                /* chin: 10-100 Hz power of each second;
				       EEG: log10 beta/theta of each window */
	double *sec2;               /* EEG: log10 (alpha+beta)/theta */
	size_t nsec, seccap, sec2cap;
	int nwin;                   /* EEG: Welch windows read so far */
	double prev[3];             /* their mean theta, alpha, beta */
	grid_cache grid;            /* the epoch of its samples */
} feed;

#define MAX_BASE 120            /* steps of arousal baseline at most */
#define MAX_AVG 10              /* steps averaged for an arousal at most */

typedef struct det {
	const opts *o;
	const psg_header *h;
	feed f[NFEED];
	held *night;
	size_t nnight, cap;
	/* arousal steps on the EEG */
	psg_welch *aw;
	float *ring;
	int n1, n2, fill, pos, since;
	double hist[MAX_BASE];
	int nh, hpos, nbase;
	double avg[MAX_AVG];        /* the last steps' log10 alpha+beta */
	int navg, apos;
	int in_cand, c_steps;
	double base, c_sum, c_peak;
	int64_t c_on;
	cand *cands;
	size_t ncand, ccap;
	int f_wake, f_score, ev_awake, ev_arousal;
} det;

static void usage(FILE *f)
{
	fputs("usage: psg-wake [options] < in > out\n"
	      "Wake epochs, awakenings, WASO and EEG arousals from one EEG, "
	      "helped by chin EMG\nand EOG when present.\n\n"
	      "  -c, --channel LABEL    EEG (default: first central, else "
	      "occipital/parietal,\n"
	      "                         else frontal)\n"
	      "      --eog LABEL|none   EOG channel (default: by label, a "
	      "derivation first)\n"
	      "      --emg LABEL|none   chin EMG (default: by label, a "
	      "derivation first)\n"
	      "      --beta-theta DEC   too short to adapt: wake at "
	      "log10(beta/theta) above this\n"
	      "                         (-0.35)\n"
	      "      --alpha-theta DEC  or log10((alpha+beta)/theta) above "
	      "this (0)\n"
	      "      --spread K         adapted thresholds: the night's P20 + "
	      "K x (P20 - P5) (5)\n"
	      "      --floor DEC        the adapted beta/theta threshold is at "
	      "least this (-0.6)\n"
	      "      --movement DEC     wake when beta is this many decades "
	      "above the night's\n"
	      "                         median (1; 0 = off)\n"
	      "      --eog-weight W     weight of the EOG's rise over its "
	      "night median (0.5)\n"
	      "      --emg-weight W     weight of the chin's rise (0.5)\n"
	      "      --eog-ref DEC      log10 EOG/EEG 0.5-4 Hz power of sleep "
	      "when the recording\n"
	      "                         is too short to adapt (0.3)\n"
	      "      --min-adapt N      usable epochs needed to adapt (20)\n"
	      "      --smooth W         each neighbour's weight against 2 for "
	      "the epoch's score\n"
	      "                         (1: 1-2-1; 0 = off)\n"
	      "      --wake-share S     ratios and chin tone that this share "
	      "of the epoch's\n"
	      "                         windows reach (0.6; 0 = Welch mean)\n"
	      "      --eog-low HZ       EOG/EEG power from this to 4 Hz (1)\n"
	      "      --persistent MIN   sleep onset: the first MIN minutes of "
	      "unbroken sleep\n"
	      "                         (default 0: the first sleep epoch)\n"
	      "      --min-awakening N  shortest awakening in epochs (1)\n"
	      "      --arousal-db DB    arousal: rise of the alpha and beta power "
	      "(3.5 dB)\n"
	      "      --arousal-avg N    1-s steps averaged for it (4)\n"
	      "      --arousal-min SEC  shortest arousal (3)\n"
	      "      --baseline SEC     sleep before an arousal (10)\n"
	      "      --flat UV          unusable below this SD (1)\n"
	      "      --optional         no suitable channel: pass the stream "
	      "through, exit 0\n"
	      "      --version          the version\n"
	      "  -h, --help             this help\n\n"
	      "Epochs: wake (1/0/-1 unusable), wake_score; events awakenings, "
	      "arousals; summary\nrecording_time, sleep_onset_latency, waso, "
	      "awakenings, awakening_index, arousals,\narousal_index, "
	      "sleep_efficiency, total_sleep_time, wake_adaptive.\n"
	      "Rules: AASM Manual v2.6 (wake, arousals); docs/validation.md.\n"
	      "Exit: 0 ok, 1 usage, 2 bad stream, 3 no suitable EEG "
	      "channel.\n", f);
}

static void parse_args(int argc, char **argv, opts *o)
{
	enum { O_EOG = 256, O_EMG, O_BT, O_AT, O_SPREAD, O_MOVE, O_EOGW,
	       O_EMGW, O_EOGREF, O_ADAPT, O_PERS, O_MINAW, O_ADB, O_AMIN,
	       O_BASE, O_FLAT, O_SMOOTH, O_SHARE, O_EOGLOW, O_AAVG,
	       O_OPTIONAL, O_FLOOR };
	static const struct option lo[] = {{"channel", 1, 0, 'c'},
		{"eog", 1, 0, O_EOG}, {"emg", 1, 0, O_EMG},
		{"beta-theta", 1, 0, O_BT}, {"alpha-theta", 1, 0, O_AT},
		{"spread", 1, 0, O_SPREAD}, {"floor", 1, 0, O_FLOOR}, {"movement", 1, 0, O_MOVE},
		{"eog-weight", 1, 0, O_EOGW}, {"emg-weight", 1, 0, O_EMGW},
		{"eog-ref", 1, 0, O_EOGREF}, {"min-adapt", 1, 0, O_ADAPT},
		{"persistent", 1, 0, O_PERS},
		{"min-awakening", 1, 0, O_MINAW},
		{"arousal-db", 1, 0, O_ADB}, {"arousal-min", 1, 0, O_AMIN},
		{"baseline", 1, 0, O_BASE}, {"flat", 1, 0, O_FLAT}, {"smooth", 1, 0, O_SMOOTH},
		{"wake-share", 1, 0, O_SHARE}, {"eog-low", 1, 0, O_EOGLOW},
		{"arousal-avg", 1, 0, O_AAVG},
		{"optional", 0, 0, O_OPTIONAL},
		{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	*o = (opts){NULL, NULL, NULL, -0.35, 0.0, 5, 1, -0.6, 0.5, 0.5, 0.3,
		    20, 0,
		    1, 3.5, 3, 10, 4, 1, 1, 0.6, 1};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->channel = optarg; break;
		case O_EOG: o->eog = optarg; break;
		case O_EMG: o->emg = optarg; break;
		case O_BT: o->beta_theta = opt_num("--beta-theta", optarg, -5,
						   5); break;
		case O_AT: o->alpha_theta = opt_num("--alpha-theta", optarg,
						    -5, 5); break;
		case O_FLOOR: o->floor = opt_num("--floor", optarg, -5, 5);
			break;
		case O_SPREAD: o->spread = opt_num("--spread", optarg, 0, 100);
			break;
		case O_MOVE: o->movement = opt_num("--movement", optarg, 0, 10);
			break;
		case O_EOGW: o->eog_weight = opt_num("--eog-weight", optarg, 0,
						     10); break;
		case O_EMGW: o->emg_weight = opt_num("--emg-weight", optarg, 0,
						     10); break;
		case O_EOGREF: o->eog_ref = opt_num("--eog-ref", optarg, -5,
						    10); break;
		case O_ADAPT: o->min_adapt = (int)opt_num("--min-adapt", optarg,
							  2, 1e6); break;
		case O_PERS: o->persistent = opt_num("--persistent", optarg, 0,
						     1440); break;
		case O_MINAW: o->min_awake = (int)opt_num("--min-awakening",
							  optarg, 1, 1e6);
			break;
		case O_ADB: o->arousal_db = opt_num("--arousal-db", optarg, 0.1,
						    60); break;
		case O_AMIN: o->arousal_min = opt_num("--arousal-min", optarg,
						      1, 600); break;
		case O_BASE: o->baseline = opt_num("--baseline", optarg, 1,
						   MAX_BASE); break;
		case O_FLAT: o->flat_uv = opt_num("--flat", optarg, 0, 1e6);
			break;
		case O_SMOOTH: o->smooth = opt_num("--smooth", optarg, 0, 2);
			break;
		case O_SHARE: o->share = opt_num("--wake-share", optarg, 0, 1);
			break;
		case O_EOGLOW: o->eog_low = opt_num("--eog-low", optarg, 0.1,
						    3.5); break;
		case O_AAVG: o->arousal_avg = (int)opt_num("--arousal-avg",
							   optarg, 1, MAX_AVG);
			break;
		case O_OPTIONAL: o->optional = 1; break;
		case 'h': usage(stdout); exit(0);
		default: bad_option(c, argv);
		}
	}
	no_operands(argc, argv);
}

/* ---- per-epoch spectra ---- */

static double percentile(double *v, size_t n, double p);

static held *epoch_held(det *d, int64_t e)
{
	while ((size_t)e >= d->nnight) {
		d->night = grow(d->night, &d->cap, d->nnight, sizeof *d->night);
		d->night[d->nnight++] = (held){NAN, NAN, NAN, NAN, NAN, NAN, 0, 0,
					       0, -1, NAN};
	}
	return &d->night[e];
}

/* An EOG or chin at its rails for over 5 % of the epoch: the edges of
   the clipping alone would dominate its power, so the epoch is left
   without it (the EEG, which decides, may be clipped up to half). */
static int clipped(const feed *f)
{
	return f->nsat * 20 > f->n;
}

/* The epoch a channel was accumulating is over: its values are held. */
static void finish_epoch(det *d, int which)
{
	feed *f = &d->f[which];
	if (f->epoch < 0)
		return;
	held *e = epoch_held(d, f->epoch);
	const double len = (double)d->h->epoch_len / PSG_TICKS_PER_SEC;
	int enough = psg_welch_windows(f->wel) > 0 && f->n >= len * f->rate / 2;
	if (which == F_EEG) {
		double mean = f->n ? f->sum / f->n : 0;
		double sd = f->n ? sqrt(fmax(0, f->sum2 / f->n - mean * mean)) : 0;
		e->seen = 1;
		e->recorded = f->n * 2 >= len * f->rate;
		e->unusable = !enough || sd < d->o->flat_uv ||
			      f->nsat * 2 > f->n;
		if (!e->unusable) {
			double th = welch_band(f->wel, 4, 8, f->rate);
			double al = welch_band(f->wel, 8, 12, f->rate);
			double be = welch_band(f->wel, 16, 30, f->rate);
			e->bt = (float)log10(be / th);
			e->abt = (float)log10((al + be) / th);
			e->lb = (float)log10(be);
			e->ld = (float)log10(welch_band(f->wel, d->o->eog_low, 4,
						  f->rate));
			/* AASM: wake when more than half the epoch shows it:
			   the ratios that `share` of the windows reach. */
			double q = 100 * (1 - d->o->share);
			if (d->o->share > 0 && f->nsec) {
				e->bt = (float)percentile(f->sec, f->nsec, q);
				e->abt = (float)percentile(f->sec2, f->nsec, q);
			}
			if (!isfinite(e->bt) || !isfinite(e->abt) ||
			    !isfinite(e->lb))
				e->unusable = 1;
		}
	} else if (which == F_EOG && enough && !clipped(f)) {
		float v = (float)log10(welch_band(f->wel, d->o->eog_low, 4,
					       f->rate));
		if (isfinite(v))
			e->eog = v;
	} else if (which == F_EMG && f->nsec * 2 >= len && !clipped(f)) {
		/* Tone is the background: the median second, so that phasic
		   bursts (twitches, bruxism, leg movements) do not count. */
		double sh = d->o->share > 0 ? d->o->share : 0.5;
		float v = (float)log10(percentile(f->sec, f->nsec,
						  100 * (1 - sh)));
		if (isfinite(v))
			e->emg = v;
	}
	f->nsec = 0;
	f->nwin = 0;
	f->prev[0] = f->prev[1] = f->prev[2] = 0;
	psg_welch_clear(f->wel);
	f->n = f->nsat = 0;
	f->sum = f->sum2 = 0;
	f->epoch = -1;
}

/* A Welch window of the EEG is complete: its own theta, alpha and beta
   are the new mean's sums less the previous mean's. */
static void eeg_window(det *d, feed *f)
{
	int k = psg_welch_windows(f->wel);
	double m[3] = {welch_band(f->wel, 4, 8, f->rate), welch_band(f->wel, 8, 12, f->rate),
		       welch_band(f->wel, 16, 30, f->rate)}, w[3];
	for (int j = 0; j < 3; j++) {
		w[j] = k * m[j] - (k - 1) * f->prev[j];
		f->prev[j] = m[j];
	}
	f->nwin = k;
	double bt = log10(w[2] / w[0]), abt = log10((w[1] + w[2]) / w[0]);
	if (!isfinite(bt) || !isfinite(abt) || d->o->share <= 0)
		return;
	f->sec = grow(f->sec, &f->seccap, f->nsec, sizeof *f->sec);
	f->sec2 = grow(f->sec2, &f->sec2cap, f->nsec, sizeof *f->sec2);
	f->sec[f->nsec] = bt;
	f->sec2[f->nsec++] = abt;
}

/* ---- arousals: 1-s steps of a 2-s spectrum ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void close_candidate(det *d)
{
	int kept = d->in_cand && d->c_steps >= d->o->arousal_min - 1e-9;
	if (kept) {
		d->cands = grow(d->cands, &d->ccap, d->ncand, sizeof *d->cands);
		d->cands[d->ncand++] = (cand){d->c_on,
			(int64_t)d->c_steps * PSG_TICKS_PER_SEC,
			(float)(10 * d->c_sum / d->c_steps),
			(float)(10 * d->c_peak)};
	}
	d->in_cand = 0;
	/* After an arousal the next needs 10 s of sleep again (AASM); a rise
	   too short to count keeps the baseline, or every blip would blind
	   the detector for 10 s. */
	if (kept)
		d->nh = d->hpos = 0;
}

/* The EEG broke off (a gap, or a value that is not finite): the next
   arousal needs a fresh average and a fresh baseline. */
static void restart_arousals(det *d)
{
	close_candidate(d);
	d->navg = d->nh = d->hpos = 0;
}

/* One step: the 2 s ending at t_end (ticks). */
static void arousal_step(det *d, int64_t t_end)
{
	const feed *f = &d->f[F_EEG];
	const int k = d->o->arousal_avg;
	psg_welch_clear(d->aw);
	int head = d->n2 - d->pos;  /* oldest sample at pos */
	psg_welch_push(d->aw, d->ring + d->pos, head);
	psg_welch_push(d->aw, d->ring, d->pos);
	double x = (log10(welch_band(d->aw, 8, 12, f->rate)) +
		    log10(welch_band(d->aw, 16, 30, f->rate))) / 2;
	if (!isfinite(x)) {
		restart_arousals(d);
		return;
	}
	d->avg[d->apos] = x;
	d->apos = (d->apos + 1) % k;
	if (d->navg < k && ++d->navg < k)
		return;
	double r = 0;
	for (int i = 0; i < k; i++)
		r += d->avg[i] / k;
	double rise = d->o->arousal_db / 10;
	if (d->in_cand) {
		if (r - d->base >= rise / 2) {
			d->c_steps++;
			d->c_sum += r - d->base;
			d->c_peak = fmax(d->c_peak, r - d->base);
			return;
		}
		close_candidate(d);
	} else if (d->nh >= d->nbase) {
		double v[MAX_BASE];
		copy_n(v, d->hist, (size_t)d->nbase * sizeof *v);
		sort_n(v, (size_t)d->nbase, sizeof *v, cmp_double);
		double med = d->nbase % 2 ? v[d->nbase / 2] :
			     (v[d->nbase / 2 - 1] + v[d->nbase / 2]) / 2;
		if (r - med >= rise) {
			d->in_cand = 1;
			d->base = med;
			/* The k steps span the last k + 1 s; the shift entered
			   their second second. */
			d->c_on = t_end - (int64_t)k * PSG_TICKS_PER_SEC;
			d->c_steps = 1;
			d->c_sum = d->c_peak = r - med;
			return;
		}
	}
	d->hist[d->hpos] = r;
	d->hpos = (d->hpos + 1) % d->nbase;
	if (d->nh < d->nbase)
		d->nh++;
}

/* ---- the stream ---- */

/* EEG samples x[0..n), all in one epoch: the Welch sums a window at a
   time, each window's ratios read as it completes. */
static void eeg_run(det *d, feed *f, const float *x, int32_t n)
{
	while (n > 0) {
		int32_t k = welch_fill(f->wel, x, n);
		x += k, n -= k;
		if (psg_welch_windows(f->wel) > f->nwin)
			eeg_window(d, f);
	}
}

/* The chin's power in one 1-s window. */
static double chin_power(const psg_welch *w, double rate)
{
	return welch_band(w, 10, 100, rate);
}

/* EEG samples i .. j-1 of b into the arousals' 2-s ring: a step each
   n1 samples once the ring is full, at the time of the sample after. */
static void arousal_run(det *d, const psg_channel *pc, const psg_block *b,
			int32_t i, int32_t j)
{
	while (i < j) {
		int32_t due = d->n1 - d->since, k = d->n2 - d->fill;
		due = due > k ? due : k;
		k = j - i < due ? j - i : (due > 1 ? due : 1);
		int32_t head = d->n2 - d->pos < k ? d->n2 - d->pos : k;
		memcpy(d->ring + d->pos, b->x + i, (size_t)head * sizeof *d->ring);
		memcpy(d->ring, b->x + i + head, (size_t)(k - head) * sizeof *d->ring);
		d->pos = (d->pos + k) % d->n2;
		d->fill = d->fill + k < d->n2 ? d->fill + k : d->n2;
		d->since += k;
		i += k;
		if (d->since >= d->n1 && d->fill == d->n2) {
			d->since = 0;
			arousal_step(d, psg_sample_time(pc, b->t0, b->offset + i));
		}
	}
}

/* Samples of x[0..n) at or beyond a rail, four at a time in vector
   registers (a true comparison is -1 in its lane). */
static int64_t at_rails(const float *x, int32_t n, float lo, float hi)
{
	typedef float v4f __attribute__((vector_size(16)));
	typedef int32_t v4i __attribute__((vector_size(16)));
	const v4f vl = {lo, lo, lo, lo}, vh = {hi, hi, hi, hi};
	v4i cnt = {0, 0, 0, 0};
	int32_t i = 0;
	for (; i + 4 <= n; i += 4) {
		v4f v;
		memcpy(&v, x + i, sizeof v);
		cnt -= (v >= vh) | (v <= vl);
	}
	int64_t sat = (int64_t)cnt[0] + cnt[1] + cnt[2] + cnt[3];
	for (; i < n; i++)
		sat += (x[i] >= hi) | (x[i] <= lo);
	return sat;
}

/* Samples i .. j-1 of b, all in the epoch being accumulated. */
static void run(det *d, int which, const psg_block *b, int32_t i, int32_t j)
{
	feed *f = &d->f[which];
	const float *x = b->x + i;
	int32_t n = j - i;
	if (which == F_EEG)         /* its SD: a flat EEG is unusable */
		sums_run(x, n, &f->n, &f->sum, &f->sum2);
	else
		f->n += n;
	f->nsat += at_rails(x, n, f->flo, f->fhi);
	if (which == F_EOG)
		psg_welch_push(f->wel, x, n);
	else if (which == F_EMG)
		window_values(f->wel, x, n, chin_power, f->rate, &f->sec,
			      &f->nsec, &f->seccap);
	else {
		eeg_run(d, f, x, n);
		arousal_run(d, &d->h->channels[f->ch], b, i, j);
	}
}

static void block(det *d, int which, const psg_block *b)
{
	feed *f = &d->f[which];
	const psg_channel *pc = &d->h->channels[f->ch];
	if (b->t0 != f->t0 || b->offset != f->next) {   /* a new segment */
		psg_welch_restart(f->wel);
		if (which == F_EEG) {
			restart_arousals(d);
			d->fill = d->pos = d->since = 0;
		}
	}
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
			run(d, which, b, i, j);
	}
}

static psg_header *declare(det *d, const psg_header *in, int argc,
			   char **argv)
{
	psg_header *h = derive_header(in, argc, argv);
	const char *af[] = {"epochs", "mean_score"};
	const char *au[] = {"", "dec"};
	const char *rf[] = {"shift", "peak"};
	const char *ru[] = {"dB", "dB"};
	d->f_wake = psg_header_add_feature(h, "wake", "",
		"wake call: 1 wake, 0 sleep, -1 unusable EEG");
	d->f_score = psg_header_add_feature(h, "wake_score", "dec",
		"decades above the night's wake threshold (EEG + EOG + chin)");
	d->ev_awake = psg_header_add_evtype(h, "awakenings", 2, af, au);
	d->ev_arousal = psg_header_add_evtype(h, "arousals", 2, rf, ru);
	if (d->f_wake < 0 || d->f_score < 0 || d->ev_awake < 0 ||
	    d->ev_arousal < 0)
		die(EXIT_UNSUITABLE, "the stream already has wake results "
		    "(psg-wake ran twice?)");
	return h;
}

/* ---- the night's decision (at END) ---- */

/* Percentile p (0-100) of v[0..n), sorted in place (linear, as numpy). */
static double percentile(double *v, size_t n, double p)
{
	sort_n(v, n, sizeof *v, cmp_double);
	double k = p / 100 * (double)(n - 1);
	size_t i = (size_t)k;
	return i + 1 < n ? v[i] + (k - (double)i) * (v[i + 1] - v[i]) : v[n - 1];
}

typedef struct stats {
	double p5, p20, p50;
	size_t n;
} stats;

/* Percentiles of one held value (offset into held) over usable epochs. */
static stats night_stats(const det *d, size_t off, double *buf)
{
	stats s = {NAN, NAN, NAN, 0};
	for (size_t i = 0; i < d->nnight; i++) {
		const held *e = &d->night[i];
		float v = *(const float *)((const char *)e + off);
		if (e->seen && !e->unusable && isfinite(v))
			buf[s.n++] = v;
	}
	if (s.n) {
		s.p5 = percentile(buf, s.n, 5);
		s.p20 = percentile(buf, s.n, 20);
		s.p50 = percentile(buf, s.n, 50);
	}
	return s;
}

static double clip1(double x)
{
	return fmax(-1, fmin(1, x));
}

typedef struct result {
	int64_t n_sleep, onset, n_waso, n_awake, n_arousal;
	int64_t n_recorded;         /* epochs the EEG holds half of, at least */
	int64_t n_before;           /* ...of them before sleep onset */
	int adaptive;
} result;

static void write_epochs(det *d, psg_writer *w, int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		const held *e = &d->night[i];
		if (!e->seen)
			continue;
		uint32_t fid[2] = {(uint32_t)d->f_wake, (uint32_t)d->f_score};
		double val[2] = {e->wake, e->score};
		psg_epoch ep = {.epoch = i, .n = 2, .feature = fid, .value = val};
		if (psg_write_epoch(w, &ep))
			die(EXIT_IO, "%s", psg_writer_errmsg(w));
	}
}

/* Each score becomes the weighted mean of itself (weight 2) and its
   usable neighbours (weight `side`): scorers read an epoch in context.
   The raw scores are kept in `wake` meanwhile. */
static void smooth_scores(det *d, int64_t n, double side)
{
	float *raw = malloc(((size_t)n + 1) * sizeof *raw);
	if (!raw)
		die(EXIT_IO, "out of memory");
	for (int64_t i = 0; i < n; i++)
		raw[i] = d->night[i].score;
	for (int64_t i = 0; i < n; i++) {
		held *e = &d->night[i];
		if (!e->seen || e->unusable)
			continue;
		double sum = 2 * raw[i], wsum = 2;
		for (int k = -1; k <= 1; k += 2) {
			int64_t j = i + k;
			if (side > 0 && j >= 0 && j < n && d->night[j].seen &&
			    !d->night[j].unusable)
				sum += side * raw[j], wsum += side;
		}
		e->score = (float)(sum / wsum);
		e->wake = e->score >= 0;
	}
	free(raw);
}

static void decide(det *d, psg_writer *w, result *res)
{
	const opts *o = d->o;
	int64_t n = (int64_t)d->nnight, hn = psg_header_nepochs(d->h);
	if (hn > 0 && hn < n)
		n = hn;             /* a partial last epoch is not scored */
	/* The EOG's slow power over the EEG's: eye movements raise the EOG
	   far above the EEG, while frontal slow waves of N3 reach both. */
	for (size_t i = 0; i < d->nnight; i++)
		d->night[i].eog -= d->night[i].ld;   /* NaN stays NaN */
	double *buf = malloc((d->nnight + 1) * sizeof *buf);
	if (!buf)
		die(EXIT_IO, "out of memory");
	stats bt = night_stats(d, offsetof(held, bt), buf);
	stats abt = night_stats(d, offsetof(held, abt), buf);
	stats lb = night_stats(d, offsetof(held, lb), buf);
	stats eog = night_stats(d, offsetof(held, eog), buf);
	stats emg = night_stats(d, offsetof(held, emg), buf);
	free(buf);
	int adapt = bt.n >= (size_t)o->min_adapt;
	double tb = o->beta_theta, ta = o->alpha_theta, eog_ref = o->eog_ref;
	if (adapt) {
		/* Night-relative: the absolute levels differ between
		   recordings far more than wake's shift over sleep does. */
		tb = fmax(o->floor, bt.p20 + o->spread * (bt.p20 - bt.p5));
		ta = abt.p20 + o->spread * (abt.p20 - abt.p5);
		eog_ref = eog.p50;
	}
	for (int64_t i = 0; i < n; i++) {
		held *e = &d->night[i];
		if (!e->seen)
			continue;
		if (e->unusable) {
			e->wake = -1, e->score = NAN;
			continue;
		}
		double s = fmax(e->bt - tb, e->abt - ta);
		if (adapt && o->movement > 0 && e->lb - lb.p50 >= o->movement)
			s = fmax(s, 0);
		double chin = adapt && isfinite(e->emg) &&
			      emg.n >= (size_t)o->min_adapt ?
			      clip1(e->emg - emg.p50) : NAN;
		double eye = isfinite(e->eog) && isfinite(eog_ref) ?
			     clip1(e->eog - eog_ref) : 0;
		/* Eye movements speak for wake only with some chin tone:
		   REM has them too, under atonia (AASM). */
		if (chin < 0)
			eye = fmin(eye, 0);
		s += o->eog_weight * eye;
		if (isfinite(chin))
			s += o->emg_weight * chin;
		e->score = (float)s;
	}
	smooth_scores(d, n, o->smooth);
	write_epochs(d, w, n);

	/* Sleep onset, awakenings, WASO. */
	const double len_s = (double)d->h->epoch_len / PSG_TICKS_PER_SEC;
	int64_t need = o->persistent > 0 ?
		(int64_t)ceil(o->persistent * 60 / len_s - 1e-9) : 1;
	int64_t onset = -1, run = 0;
	for (int64_t i = 0; i < n && onset < 0; i++) {
		run = d->night[i].wake == 0 ? run + 1 : 0;
		if (run >= need)
			onset = i - run + 1;
	}
	res->onset = onset;
	res->adaptive = adapt;
	for (int64_t i = 0; i < n; i++) {
		res->n_sleep += d->night[i].wake == 0;
		res->n_recorded += d->night[i].recorded;
		res->n_before += i < onset && d->night[i].recorded;
	}
	for (int64_t i = onset < 0 ? n : onset; i < n; i++) {
		if (d->night[i].wake != 1)
			continue;
		int64_t j = i;
		double sum = 0;
		while (j < n && d->night[j].wake == 1)
			sum += d->night[j++].score;
		res->n_waso += j - i;
		if (j - i >= o->min_awake) {
			double v[2] = {(double)(j - i), sum / (double)(j - i)};
			psg_event ev = {.type = d->ev_awake, .channel = d->f[F_EEG].ch,
				.onset = d->h->epoch_origin + i * d->h->epoch_len,
				.duration = (j - i) * d->h->epoch_len,
				.label = "awakening", .nvalues = 2, .values = v};
			if (psg_write_event(w, &ev))
				die(EXIT_IO, "%s", psg_writer_errmsg(w));
			res->n_awake++;
		}
		i = j - 1;
	}

	/* Arousals: in sleep, after a baseline of sleep, not an awakening. */
	int64_t base = (int64_t)llround(o->baseline * PSG_TICKS_PER_SEC);
	for (size_t k = 0; k < d->ncand; k++) {
		const cand *c = &d->cands[k];
		int64_t a = grid_epoch(d->h, c->onset - base);
		int64_t s = grid_epoch(d->h, c->onset);
		int64_t b = grid_epoch(d->h, c->onset + c->duration - 1);
		int ok = a >= 0 && onset >= 0 && a >= onset && b < n;
		for (int64_t i = a; ok && i < s; i++)
			ok = d->night[i].wake == 0;
		if (ok)
			ok = d->night[s].wake == 0;
		for (int64_t i = s + 1; ok && i <= b; i++)
			if (d->night[i].wake != 0 &&
			    (d->night[i].wake == -1 ||
			     c->duration > 15 * PSG_TICKS_PER_SEC))
				ok = 0;
		if (!ok)
			continue;
		double v[2] = {c->shift, c->peak};
		psg_event ev = {.type = d->ev_arousal, .channel = d->f[F_EEG].ch,
			.onset = c->onset, .duration = c->duration,
			.label = "arousal", .nvalues = 2, .values = v};
		if (psg_write_event(w, &ev))
			die(EXIT_IO, "%s", psg_writer_errmsg(w));
		res->n_arousal++;
	}
}

static void summaries(const det *d, const result *r, psg_writer *w)
{
	const double len_min = (double)d->h->epoch_len / PSG_TICKS_PER_SEC / 60;
	double tst_h = r->n_sleep * len_min / 60;
	psg_summary s[] = {
		/* The gaps of an EDF+D recording are not recorded time: the
		   epochs count that the EEG holds at least half of, those that
		   can be scored (before 2026-12 every complete epoch). */
		{"recording_time", "min", r->n_recorded * len_min},
		/* Likewise the latency: recorded time before sleep onset
		   (before 2026-12 it counted the gaps too). */
		{"sleep_onset_latency", "min", r->onset < 0 ? NAN :
		 (double)(d->h->epoch_origin + r->n_before * d->h->epoch_len) /
		 PSG_TICKS_PER_SEC / 60},
		{"waso", "min", r->onset < 0 ? NAN : r->n_waso * len_min},
		{"awakenings", "", (double)r->n_awake},
		{"awakening_index", "1/h", tst_h > 0 ? r->n_awake / tst_h : NAN},
		{"arousals", "", (double)r->n_arousal},
		{"arousal_index", "1/h", tst_h > 0 ? r->n_arousal / tst_h : NAN},
		{"sleep_efficiency", "%", r->n_recorded ? 100.0 * r->n_sleep /
		 r->n_recorded : NAN},
		{"total_sleep_time", "min", r->n_sleep * len_min},
		{"wake_adaptive", "", r->adaptive},
	};
	for (size_t i = 0; i < sizeof s / sizeof *s; i++)
		if (psg_write_summary(w, &s[i]))
			die(EXIT_IO, "%s", psg_writer_errmsg(w));
}

/* What each channel must carry, read against the night's own values
   (so part of a band will do, but not none of it): the EEG theta to the
   first 4 Hz of beta (16-20 Hz); the EOG its 1-4 Hz (--eog-low); the chin
   the first 10 Hz of its 10-100 Hz tone (a Sleep-EDF chin at 1 Hz is an
   envelope).  Nyquist: the rate must be twice the band's top. */
static const struct need {
	const char *role;
	double lo, hi;
} needs[NFEED] = {{"EEG", 4, 20}, {"EOG", 1, 4}, {"chin EMG", 10, 20}};

static void setup_feed(feed *f, int ch, const psg_header *h, int which)
{
	int st;
	const struct need *nd = &needs[which];
	f->ch = ch;
	f->epoch = -1;
	f->t0 = f->next = -1;
	f->rate = psg_channel_rate(&h->channels[ch]);
	f->lo = h->channels[ch].phys_min;
	f->hi = h->channels[ch].phys_max;
	/* The smallest float at or above the top rail, the largest at or
	   below the bottom one: a float sample reaches a rail exactly when
	   it reaches these, and float comparisons cost less a sample. */
	f->fhi = (float)f->hi;
	if ((double)f->fhi < f->hi)
		f->fhi = nextafterf(f->fhi, INFINITY);
	f->flo = (float)f->lo;
	if ((double)f->flo > f->lo)
		f->flo = nextafterf(f->flo, -INFINITY);
	if (f->rate < 2 * nd->hi) {
		if (which == F_EEG)
			die(EXIT_UNSUITABLE, "%s '%s' at %g Hz cannot carry the "
			    "%g-%g Hz wake needs (%g Hz or more)", nd->role,
			    h->channels[ch].label, f->rate, nd->lo, nd->hi,
			    2 * nd->hi);
		warn("%s '%s' at %g Hz cannot carry the %g-%g Hz wake needs "
		     "(%g Hz or more): left out", nd->role,
		     h->channels[ch].label, f->rate, nd->lo, nd->hi, 2 * nd->hi);
		f->ch = -1;
		return;
	}
	f->wel = psg_welch_new(f->rate, which == F_EMG ? 1 : 4,
			       which == F_EMG ? 0 : 0.5, &st);
	if (!f->wel)
		die(st == PSG_ERR_NOMEM ? EXIT_IO : EXIT_UNSUITABLE,
		    "'%s': %g Hz is too slow for a 4-s spectrum",
		    h->channels[ch].label, f->rate);
}

int main(int argc, char **argv)
{
	opts o;
	static det d;   /* file scope lifetime: reachable at any exit */
	psg_record rec;
	int st;
	stage_name = "psg-wake";
	parse_args(argc, argv, &o);
	psg_reader *in = open_detector_input(o.optional, argc, argv);
	const psg_header *hin = psg_reader_header(in);
	d.o = &o;
	int eeg = pick_central_eeg(hin, o.channel);
	int eog = pick_aux(hin, o.eog, PSG_ROLE_EOG);
	int emg = pick_aux(hin, o.emg, PSG_ROLE_CHIN);
	psg_header *h = declare(&d, hin, argc, argv);
	d.h = h;
	setup_feed(&d.f[F_EEG], eeg, h, F_EEG);
	for (int k = F_EOG; k < NFEED; k++) {
		d.f[k].ch = -1;
		int ch = k == F_EOG ? eog : emg;
		if (ch >= 0 && ch != eeg)
			setup_feed(&d.f[k], ch, h, k);
	}
	/* Only the channels kept: one too slow for its band has no role. */
	add_role(h, PSG_ROLE_EEG, d.f[F_EEG].ch);
	add_role(h, PSG_ROLE_EOG, d.f[F_EOG].ch);
	add_role(h, PSG_ROLE_CHIN, d.f[F_EMG].ch);
	double rate = d.f[F_EEG].rate;
	d.n1 = (int)lround(rate);
	d.n2 = 2 * d.n1;
	d.nbase = (int)lround(o.baseline);
	d.ring = malloc((size_t)d.n2 * sizeof *d.ring);
	d.aw = psg_welch_new(rate, 2, 0, &st);
	if (!d.ring || !d.aw || d.n1 < 1)
		die(EXIT_UNSUITABLE, "'%s': %g Hz is too slow for arousals",
		    h->channels[eeg].label, rate);
	psg_writer *w = open_stdout_stream(h);
	while ((st = psg_reader_next(in, &rec)) > 0) {
		if (rec.kind == PSG_REC_END) {
			for (int k = 0; k < NFEED; k++)
				if (d.f[k].ch >= 0)
					finish_epoch(&d, k);
			close_candidate(&d);
			result res = {0};
			decide(&d, w, &res);
			summaries(&d, &res, w);
			if (psg_writer_finish(w, &rec.end))
				die(EXIT_IO, "%s", psg_writer_errmsg(w));
			break;
		}
		if (psg_write_record(w, &rec))
			die(EXIT_IO, "%s", psg_writer_errmsg(w));
		if (rec.kind != PSG_REC_DATA || !rec.block.x)
			continue;
		for (int k = 0; k < NFEED; k++)
			if (d.f[k].ch >= 0 && rec.block.channel == d.f[k].ch)
				block(&d, k, &rec.block);
	}
	if (st < 0)
		die(exit_code(st), "%s", psg_reader_errmsg(in));
	for (int k = 0; k < NFEED; k++) {
		psg_welch_free(d.f[k].wel);
		free(d.f[k].sec);
		free(d.f[k].sec2);
	}
	psg_welch_free(d.aw);
	free(d.ring);
	free(d.night);
	free(d.cands);
	psg_writer_free(w);
	psg_header_free(h);
	psg_reader_free(in);
	return 0;
}
