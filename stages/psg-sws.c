/*
 * psg-sws -- slow waves and slow-wave sleep (N3) from the EEG alone.
 *
 * Rules and defaults (each an option):
 *  - the channel is the first frontal EEG found by label (Fpz-Cz, F4-M1,
 *    F3-M2, Fz...), else a central one (C4-M1, C3-A2, Cz...); -c overrides;
 *  - the EEG is band-passed 0.3-2 Hz (zero phase, libpsg's FFT engine) and
 *    cut into waves at negative-going zero crossings: a negative half-wave
 *    then a positive one (Massimini et al. 2004);
 *  - a slow-wave event has a negative half-wave of 0.3-1.5 s and a positive
 *    one of 0.1-1.5 s, a negative peak of -200 to -40 uV, a positive peak of
 *    at most 150 uV and a peak-to-peak of 75-350 uV, the peaks read in the
 *    wave band (YASA sw_detect defaults, Vallat & Walker 2021, with a
 *    longer positive half; the 75 uV is AASM's);
 *  - an epoch's `sws_fraction` is the share of it covered by waves of
 *    0.5-2 Hz (0.5-2 s) with >= 75 uV peak-to-peak (the AASM measure),
 *    the peaks read in 0.3-4 Hz (--amp-band): the AASM measures them on
 *    the displayed EEG, and the 0.3-2 Hz band shrinks real waves' peaks
 *    (YASA's N3 sample: 3.7 % coverage read in band, 23 % in 0.3-4 Hz);
 *    YASA's upper bounds keep artefacts out of it;
 *  - ocular rejection: a wave does not count when the horizontal EOG
 *    (one bipolar channel, or the difference of E1 and E2) swings at least
 *    as much as the EEG during it (--eog, --eog-ratio).  Eye movements
 *    reach frontal leads and pass the amplitude rule in wake (Sleep-EDF
 *    SC4001: 25.8 % coverage); the frontal slow waves the EOG picks up
 *    cancel in its bipolar form (DREAMS: ratio 0.4 median in sleep);
 *  - the N3 call `sws` is made for the whole night at END.  Each epoch's
 *    sqrt(coverage) is smoothed 1-2-4-2-1 over its neighbours (scorers
 *    read epochs in context).  An epoch is N3 when that reaches the
 *    night's threshold and its delta share (0.5-2 Hz over 0.5-25 Hz
 *    power, Welch) reaches 0.5 (--delta-share; chosen by leave-one-
 *    patient-out cross-validation, make validate): N3's power is in its
 *    slow waves, while K-complex trains, drifts and eye movements that
 *    cross 75 uV in N2 or wake leave most of it elsewhere.  The threshold
 *    is the AASM's 20 % (--cover) unless the night shows two populations:
 *    then the two-means (Otsu 1979) boundary of the smoothed values
 *    among epochs with > 2 % coverage, never below 20 % (--floor).  Two
 *    populations: Ashman's D of the clusters >= 3 (--bimodal; two-means
 *    splits one normal population at D 2.65).  Otherwise it abstains
 *    from adapting and, when it calls N3, notes the call as uncertain
 *    (stderr, sws_uncertain).  --absolute: the plain AASM rule, N3 at
 *    >= 20 % of the epoch's own coverage (AASM Manual v2.6);
 *  - `sws_score` (0-1, 0.5 at the boundary) is the lesser of the two
 *    conditions' logistic distances, scale 0.05 each; not calibrated;
 *  - with psg-wake's `wake` calls in the stream, its wake epochs are
 *    not N3 (AASM: N3 is sleep);
 *  - `sws` is 1 N3, 0 not, -1 unusable: flat, saturated or with gross
 *    artefact (`sws_unusable` says which: 1 flat, 2 saturated, 3 artefact);
 *  - `swa` is the mean power (uV^2) of the 0.5-4 Hz band in the epoch, and
 *    `sws_sef95` the 95 % spectral edge in 0.5-30 Hz (Welch, 4-s windows);
 *    --sef-max can veto N3 in wake-like epochs (off by default: the edge
 *    depends on the recording's EMG and noise).
 * With psg-wake's `wake` epochs in the stream (psg-night), the SWS
 * summary counts only epochs it calls sleep, and sws_percent is of total
 * sleep time (sws_basis 1) rather than of the recording (0).
 * slow_wave_density is the slow waves that start in those SWS epochs per
 * minute of them (a wave belongs to the epoch of its start).
 * Memory: one 24-byte record per epoch is held until END (69 KB for 24 h
 * of 30-s epochs), and 16 bytes more with psg-wake's calls; everything
 * else streams.
 * The detector sees the signal only; stage annotations in the stream pass
 * through untouched and are never read.
 */
#include "stage.h"

#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <strings.h>

#define MIN_RING 4              /* epochs kept open while waves finish */

typedef struct opts {
	const char *channel;
	double band_lo, band_hi;    /* wave band, Hz */
	double transition;          /* of the wave band's filter, Hz */
	double amp_lo, amp_hi;      /* band the AASM rule's peaks are read in */
	double neg_min, neg_max;    /* negative half-wave, s */
	double pos_min, pos_max;    /* positive half-wave, s */
	double neg_peak, neg_floor; /* uV: negative peak in [floor, peak] */
	double pos_ceil;            /* uV: positive peak at most */
	double p2p, p2p_max;        /* uV */
	double cover;               /* N3 share */
	double flat_uv, artefact_uv;
	int absolute;               /* the plain AASM rule, no adaptation */
	double floor;               /* adaptive threshold at least this */
	double sef_max;             /* Hz: wake-like spectrum above this */
	const char *eog;            /* "none", "LABEL" or "LABEL,LABEL" */
	double eog_ratio;           /* ocular when EOG p2p / EEG p2p >= this */
	double delta_share;         /* N3 needs 0.5-2 Hz >= this of 0.5-25 Hz */
	double bimodal;             /* Ashman's D the night must show to adapt */
	int optional;               /* --optional: pass unusable input through */
} opts;

typedef struct acc {            /* one epoch being accumulated */
	int64_t epoch;
	double covered;             /* s by qualifying waves */
	int count;
	double pow_sum;             /* 0.5-4 Hz */
	int64_t n, nsat;
	double sum, sum2, maxabs;
	double sef;                 /* Hz, NaN without a Welch window */
	double dshare;              /* 0.5-2 Hz share of 0.5-25 Hz power */
} acc;

typedef struct held {           /* what the night's decision needs */
	int64_t epoch;
	float frac, sef, dshare;
	signed char unusable;
	signed char recorded;       /* the EEG holds at least half of it */
	int32_t waves;              /* slow waves starting in the epoch */
} held;

typedef struct wake_call {      /* psg-wake's call of an epoch */
	int64_t epoch;
	double wake;                /* 1 wake, 0 sleep, -1 unusable */
} wake_call;

typedef struct wave {           /* a finished wave */
	int64_t seg;                /* t0 of its segment, ticks */
	double start, zero, end;    /* s */
	double neg, neg_t, pos, pos_t;  /* peaks in the wave band */
	double aneg, apos;              /* and in the amplitude band */
} wave;

typedef struct slot {           /* one filtered EOG sample */
	int64_t seg, idx;
	float v;
} slot;

typedef struct eog {            /* an EOG channel, filtered like the EEG */
	int ch;
	const psg_channel *pc;
	psg_filter *f;
	int64_t t0, next;           /* input segment, next input index */
	int64_t k;                  /* filtered samples out in the segment */
	slot *ring;                 /* the last `cap` filtered samples */
	size_t cap;
	size_t ki;                  /* k % cap, kept: no division a sample */
	int64_t seen_t0, seen_k;    /* the t0 and k that seen_s is of: */
	double seen_s;              /* the last filtered sample's time, s */
} eog;

typedef struct twin {           /* one EOG channel's samples, waiting for
				   the other's (a pair is subtracted) */
	int j;                      /* which of the two */
	int64_t t0, off;            /* segment, index of x[0] */
	float *x;
	size_t n, cap;
} twin;

typedef struct det {
	const opts *o;
	const psg_header *h;
	int ch;
	double rate, phys_lo, phys_hi;
	psg_filter *sw, *swa, *amp;
	float *ybuf, *pbuf, *abuf;  /* wave band, SWA band, amplitude band */
	int64_t t0, next;           /* input segment */
	int64_t k;                  /* filtered samples seen in segment */
	psg_clock clk;              /* k's time */
	int64_t last_e;             /* epoch of the last sample */
	int64_t e_cur, e_from, e_until; /* epoch_at() holds e_cur in ticks
					   [e_from, e_until) */
	int64_t acc_e;              /* epoch_acc's last epoch, */
	size_t acc_i;               /* and its slot: no division a sample */
	int64_t kswa;
	/* the wave being followed: times in s from the recording start */
	int state;                  /* 0 none, 1 in negative, 2 in positive */
	double w_start, w_zero, neg, neg_t, pos, pos_t, aneg, apos;
	float prev;
	acc *ring;                  /* epochs still open, by epoch % nring */
	int nring;
	double margin;              /* s: epochs close this long after */
	psg_welch *wel;             /* the raw EEG's spectrum, per epoch */
	int64_t wel_epoch;
	held *night;                /* per epoch until END: bounded, 24 B each */
	size_t nnight, cap;
	double threshold;           /* the coverage threshold used */
	int ev_type, f_sws, f_frac, f_swa, f_count, f_unusable, f_sef;
	int f_p, f_dshare;
	/* psg-wake's calls, when it ran before (psg-night): 16 B per epoch */
	int f_wake;
	wake_call *wk;
	size_t nwk, wkcap;
	/* summary */
	int64_t n_epochs, n_sws, first_sws, n_sleep;
	int64_t n_before;           /* recorded epochs before first_sws */
	int64_t n_sws_waves;        /* slow waves starting in those N3 epochs */
	int adaptive;               /* the threshold came from the night */
	double separation;          /* Ashman's D of the night's two groups */
	int uncertain;              /* N3 called without two populations */
	/* ocular rejection: waves wait until the EOG has caught up */
	eog eog[2];                 /* with two, eog[0] filters and keeps
				       their difference */
	int neog;                   /* 0 off, 1 bipolar, 2 a difference */
	twin tw;
	float *dbuf;                /* the difference of a pair's samples */
	size_t dcap;
	double maxlag;              /* s: how long a wave may wait */
	wave *pend;
	size_t npend, pend_cap;
	int64_t n_ocular;
	/* the raw samples wait for their filtered value (latency) */
	float *raw;
	size_t raw_head, raw_n, raw_cap;
} det;

static void usage(FILE *f)
{
	fputs("usage: psg-sws [options] < in > out\n"
	      "Slow waves and per-epoch N3 (slow-wave sleep) calls from frontal "
	      "or central EEG.\n\n"
	      "  -c, --channel LABEL    EEG channel (default: first frontal, "
	      "else central)\n"
	      "      --band LO-HI       wave band-pass in Hz (default 0.3-2)\n"
	      "      --transition HZ    its transition width (default 0.2)\n"
	      "      --amp-band LO-HI   the AASM rule reads peaks in this band "
	      "(default 0.3-4)\n"
	      "      --neg SEC-SEC      negative half-wave (default 0.3-1.5)\n"
	      "      --pos SEC-SEC      positive half-wave (default 0.1-1.5)\n"
	      "      --neg-peak LO:HI   negative peak range (default -200:-40)\n"
	      "      --pos-max UV       positive peak at most (default 150)\n"
	      "      --p2p LO:HI        peak-to-peak range (default 75:350)\n"
	      "      --cover FRAC       the AASM share: N3 at this coverage "
	      "(default 0.2) with\n"
	      "                         --absolute, or when the night is too "
	      "short to adapt\n"
	      "      --absolute         the plain AASM rule, no adaptation to "
	      "the night\n"
	      "      --floor FRAC       the adaptive coverage threshold is at "
	      "least this (default: --cover)\n"
	      "      --sef-max HZ       not N3 when sws_sef95 (0.5-30 Hz) is "
	      "above (default: off)\n"
	      "      --delta-share S    N3 needs 0.5-2 Hz to hold at least S of "
	      "the 0.5-25 Hz\n"
	      "                         power (default 0.5; 0 = off)\n"
	      "      --bimodal D        adapt to the night only when its two "
	      "groups of epochs\n"
	      "                         are D apart (Ashman's D; default 3), "
	      "else the AASM share\n"
	      "      --eog LABEL[,LABEL]  horizontal EOG: one bipolar channel, "
	      "or two to subtract;\n"
	      "                         'none': no ocular rejection (default: "
	      "found by label)\n"
	      "      --eog-ratio R      a wave is ocular when the EOG's "
	      "peak-to-peak is at least\n"
	      "                         R times the EEG's (default 1)\n"
	      "      --flat UV          unusable below this SD (default 1)\n"
	      "      --artefact UV      unusable above this |amplitude| "
	      "(default 1000)\n"
	      "      --optional         no suitable channel: pass the stream "
	      "through, exit 0\n"
	      "      --version          the version\n"
	      "  -h, --help             this help\n\n"
	      "Rules: YASA sw_detect defaults (Vallat & Walker 2021) and the "
	      "AASM N3 rule.\nExit: 0 ok, 1 usage, 2 bad stream, 3 no "
	      "suitable EEG channel.\n", f);
}

/* "LO:HI" (':' because the numbers may be negative). */
static void pair_arg(const char *opt, const char *arg, double *a, double *b)
{
	char *end;
	*a = strtod(arg, &end);
	if (*end != ':')
		die(EXIT_USAGE, "%s wants LO:HI, not '%s'", opt, arg);
	*b = strtod(end + 1, &end);
	if (*end || !(*b > *a))
		die(EXIT_USAGE, "%s wants LO:HI with LO < HI, not '%s'", opt,
		    arg);
}

/* A finite number; the callers check their own ranges, some open. */
static double any_number(const char *opt, const char *arg)
{
	return opt_num(opt, arg, -INFINITY, INFINITY);
}

static void parse_args(int argc, char **argv, opts *o)
{
	enum { O_BAND = 256, O_NEG, O_POS, O_NP, O_P2P, O_COV, O_FLAT, O_ART,
	       O_TR, O_AMP, O_PMAX, O_ABS, O_FLOOR, O_SEF, O_EOG, O_EOGR,
	       O_OPTIONAL, O_DSHARE, O_BIMODAL };
	static const struct option lo[] = {{"channel", 1, 0, 'c'},
		{"band", 1, 0, O_BAND}, {"neg", 1, 0, O_NEG},
		{"pos", 1, 0, O_POS}, {"neg-peak", 1, 0, O_NP},
		{"p2p", 1, 0, O_P2P}, {"cover", 1, 0, O_COV},
		{"flat", 1, 0, O_FLAT}, {"artefact", 1, 0, O_ART},
		{"transition", 1, 0, O_TR}, {"amp-band", 1, 0, O_AMP},
		{"pos-max", 1, 0, O_PMAX}, {"absolute", 0, 0, O_ABS},
		{"floor", 1, 0, O_FLOOR}, {"sef-max", 1, 0, O_SEF},
		{"eog", 1, 0, O_EOG}, {"eog-ratio", 1, 0, O_EOGR},
		{"optional", 0, 0, O_OPTIONAL},
		{"delta-share", 1, 0, O_DSHARE}, {"bimodal", 1, 0, O_BIMODAL},
		{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	*o = (opts){NULL, 0.3, 2, 0.2, 0.3, 4, 0.3, 1.5, 0.1, 1.5, -40, -200, 150,
		    75, 350, 0.2, 1, 1000, 0, -1, INFINITY, NULL, 1, 0.5, 3, 0};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->channel = optarg; break;
		case O_BAND: opt_range("--band", optarg, &o->band_lo,
				       &o->band_hi); break;
		case O_NEG: opt_range("--neg", optarg, &o->neg_min,
				      &o->neg_max); break;
		case O_POS: opt_range("--pos", optarg, &o->pos_min,
				      &o->pos_max); break;
		case O_NP: pair_arg("--neg-peak", optarg, &o->neg_floor,
				    &o->neg_peak); break;
		case O_PMAX: o->pos_ceil = any_number("--pos-max", optarg);
			break;
		case O_P2P: pair_arg("--p2p", optarg, &o->p2p, &o->p2p_max);
			break;
		case O_COV: o->cover = any_number("--cover", optarg);
			if (o->cover <= 0 || o->cover > 1)
				die(EXIT_USAGE, "--cover: 0-1");
			break;
		case O_FLAT: o->flat_uv = any_number("--flat", optarg); break;
		case O_AMP: opt_range("--amp-band", optarg, &o->amp_lo,
				      &o->amp_hi); break;
		case O_TR: o->transition = any_number("--transition", optarg);
			if (o->transition <= 0)
				die(EXIT_USAGE, "--transition: above 0");
			break;
		case O_ART: o->artefact_uv = any_number("--artefact", optarg);
			break;
		case O_ABS: o->absolute = 1; break;
		case O_FLOOR: o->floor = any_number("--floor", optarg);
			if (o->floor < 0 || o->floor > 1)
				die(EXIT_USAGE, "--floor: 0-1");
			break;
		case O_SEF: o->sef_max = any_number("--sef-max", optarg);
			if (o->sef_max <= 0)
				die(EXIT_USAGE, "--sef-max: above 0");
			break;
		case O_EOG: o->eog = optarg; break;
		case O_EOGR: o->eog_ratio = any_number("--eog-ratio", optarg);
			if (o->eog_ratio <= 0)
				die(EXIT_USAGE, "--eog-ratio: above 0");
			break;
		case O_OPTIONAL: o->optional = 1; break;
		case O_DSHARE: o->delta_share = opt_num("--delta-share", optarg,
							 0, 1); break;
		case O_BIMODAL: o->bimodal = opt_num("--bimodal", optarg, 0,
						     100); break;
		case 'h': usage(stdout); exit(0);
		default: bad_option(c, argv);
		}
	}
	no_operands(argc, argv);
}

/* ---- the channel ---- */

static int pick_channel(const psg_header *h, const opts *o)
{
	if (o->channel)
		return named_channel(h, o->channel);
	/* Frontal first (AASM measures slow waves frontally), then central. */
	static const char *const pref[] = {"Fpz", "Fz", "F4", "F3", "Fp2",
		"Fp1", "F", "Cz", "C4", "C3", "C"};
	int i = psg_role_eeg(h, pref, sizeof pref / sizeof *pref);
	if (i < 0)
		die(EXIT_UNSUITABLE, "no EEG channel: no frontal or central "
		    "EEG by label (use -c)");
	return i;
}

/* ---- the EOG, for ocular rejection ---- */

/* An eye electrode's name: E1, E2, EOG1, LOC, ROC... */
static int eye_electrode(const char *e)
{
	return (toupper((unsigned char)e[0]) == 'E' &&
		(isdigit((unsigned char)e[1]) || !strncasecmp(e, "EOG", 3))) ||
	       !strncasecmp(e, "LOC", 3) || !strncasecmp(e, "ROC", 3);
}

/* One bipolar horizontal EOG: "EOG horizontal", "HEOG", "E1-E2",
   "LOC-ROC", "EOG1-EOG2". */
static int horizontal(const char *label)
{
	if (contains_ci(label, "horiz") || contains_ci(label, "heog"))
		return 1;
	if (!strncasecmp(label, "EOG ", 4))
		label += 4;
	const char *dash = strchr(label, '-');
	return dash && eye_electrode(label) && eye_electrode(dash + 1);
}

static int same_rate(const psg_channel *a, const psg_channel *b)
{
	return a->spr * b->period == b->spr * a->period;
}

/* Without --eog: a horizontal bipolar EOG, else the first two EOG
   channels of one rate (E1-M2 and E2-M2: their difference is the
   horizontal EOG, and the frontal EEG both pick up cancels).  One
   monopolar EOG is not used: it carries the frontal slow waves. */
static int usable_eog(const psg_channel *c)
{
	return psg_channel_has_role(c, PSG_ROLE_EOG) &&
	       !contains_ci(c->label, "vert") &&
	       !contains_ci(c->label, "veog") && psg_channel_rate(c) >= 10;
}

/* Referenced derivations (E1-M2, E2-M1) are taken before bare
   electrodes: a Nox export lists E1, E1-M2, E2, E2-M1, and E1 with
   E1-M2 is one eye twice. */
static int auto_eog(const psg_header *h, int *ch)
{
	int n = 0;
	for (int i = 0; i < h->nchannels; i++)
		if (usable_eog(&h->channels[i]) &&
		    horizontal(h->channels[i].label)) {
			ch[0] = i;
			return 1;
		}
	for (int deriv = 1; deriv >= 0 && n < 2; deriv--)
		for (int i = 0; i < h->nchannels && n < 2; i++) {
			const psg_channel *c = &h->channels[i];
			if (usable_eog(c) &&
			    (strchr(c->label, '-') != NULL) == deriv &&
			    (n == 0 || same_rate(&h->channels[ch[0]], c)))
				ch[n++] = i;
		}
	return n == 2 ? 2 : 0;
}

/* Without --eog, only a frontal EEG (Fp, AF, F...) is checked against
   the EOG: eye movements reach it at full strength, while at central
   leads they fall below the amplitude rule and the EOG's residue of the
   frontal slow waves can outswing the smaller central ones (DREAMS
   excerpt 3, C3-A1: two of four N3 epochs lost). */
static int frontal(const char *label)
{
	const char *e = electrode(label);
	return toupper((unsigned char)e[0]) == 'F' || !strncasecmp(e, "AF", 2);
}

static int pick_eog(const psg_header *h, const opts *o, int eeg, int *ch)
{
	if (!o->eog)
		return frontal(h->channels[eeg].label) ? auto_eog(h, ch) : 0;
	if (!strcmp(o->eog, "none"))
		return 0;
	char buf[2 * PSG_LABEL_LEN + 2];
	snprintf(buf, sizeof buf, "%s", o->eog);
	char *second = strchr(buf, ',');
	if (second)
		*second++ = 0;
	int n = 0;
	for (const char *l = buf; l && n < 2; l = n == 1 ? second : NULL) {
		ch[n] = named_channel(h, l);
		if (ch[n++] == eeg)
			die(EXIT_USAGE, "--eog: '%s' is the EEG channel", l);
	}
	if (n == 2 && !same_rate(&h->channels[ch[0]], &h->channels[ch[1]]))
		die(EXIT_UNSUITABLE, "--eog: '%s' and '%s' differ in rate, so "
		    "cannot be subtracted", buf, second);
	return n;
}

/* ---- epochs ---- */

static acc *epoch_acc(det *d, int64_t e)
{
	if (e != d->acc_e)
		d->acc_e = e, d->acc_i = (size_t)(e % d->nring);
	acc *a = &d->ring[d->acc_i];
	if (a->epoch != e) {
		memset(a, 0, sizeof *a);
		a->epoch = e;
		a->sef = NAN;
		a->dshare = NAN;
	}
	return a;
}

static void hold(det *d, const acc *a, double frac, int unusable)
{
	double len = (double)d->h->epoch_len / PSG_TICKS_PER_SEC;
	d->night = grow(d->night, &d->cap, d->nnight,
			 sizeof *d->night);
	d->night[d->nnight++] = (held){a->epoch, (float)frac, (float)a->sef,
				       (float)a->dshare, (signed char)unusable,
				       a->n * 2 >= len * d->rate, a->count};
}

/* An epoch's measures go out now; its call waits for the night (END). */
static void emit_epoch(det *d, acc *a, psg_writer *w)
{
	const opts *o = d->o;
	double len = (double)d->h->epoch_len / PSG_TICKS_PER_SEC;
	int unusable = 0;
	if (a->n == 0)
		return;
	double mean = a->sum / a->n, sd = sqrt(fmax(0, a->sum2 / a->n -
						       mean * mean));
	if (sd < o->flat_uv)
		unusable = 1;
	else if (a->nsat > a->n / 20)
		unusable = 2;
	else if (a->maxabs > o->artefact_uv)
		unusable = 3;
	double frac = fmin(1, a->covered / len);
	uint32_t fid[6] = {(uint32_t)d->f_frac, (uint32_t)d->f_swa,
		(uint32_t)d->f_count, (uint32_t)d->f_unusable,
		(uint32_t)d->f_sef, (uint32_t)d->f_dshare};
	double val[6] = {frac, a->pow_sum / a->n, a->count, unusable, a->sef,
			 a->dshare};
	psg_epoch ep = {.epoch = a->epoch, .n = 6, .feature = fid, .value = val};
	if (psg_write_epoch(w, &ep))
		die(EXIT_IO, "%s", psg_writer_errmsg(w));
	hold(d, a, frac, unusable);
	a->n = 0;
}

/* Emits epochs that no wave can still reach: ending before t - margin
   (2.5 s; with the EOG, also the time a wave may wait for it). */
static void flush_epochs(det *d, double t, psg_writer *w, int all)
{
	double len = (double)d->h->epoch_len / PSG_TICKS_PER_SEC;
	double org = (double)d->h->epoch_origin / PSG_TICKS_PER_SEC;
	for (;;) {
		acc *oldest = NULL;
		for (int i = 0; i < d->nring; i++)
			if (d->ring[i].n && (!oldest ||
					     d->ring[i].epoch < oldest->epoch))
				oldest = &d->ring[i];
		if (!oldest || (!all && org + (oldest->epoch + 1) * len >
				t - d->margin))
			return;
		emit_epoch(d, oldest, w);
	}
}

static int64_t epoch_at(const det *d, double t)
{
	double len = (double)d->h->epoch_len / PSG_TICKS_PER_SEC;
	double org = (double)d->h->epoch_origin / PSG_TICKS_PER_SEC;
	return t < org ? -1 : (int64_t)((t - org) / len);
}

/* The epoch of tick ts: epoch_at(ts / PSG_TICKS_PER_SEC).  That is
   monotone in ts, so it holds from the tick it was last computed at up
   to the first tick of the next epoch, found once by stepping from the
   exact boundary (the seconds' rounding moves it by a tick at most):
   two divisions an epoch, not a sample. */
static int64_t epoch_of_tick(det *d, int64_t ts)
{
	if (ts >= d->e_from && ts < d->e_until)
		return d->e_cur;
	int64_t e = epoch_at(d, (double)ts / PSG_TICKS_PER_SEC), b;
	d->e_cur = e, d->e_from = ts, d->e_until = ts + 1;
	if (__builtin_mul_overflow(e + 1, d->h->epoch_len, &b) ||
	    __builtin_add_overflow(b, d->h->epoch_origin, &b) || b <= ts)
		return e;   /* no boundary to keep: each tick computes */
	for (int i = 0; i < 64; i++) {
		int up = epoch_at(d, (double)b / PSG_TICKS_PER_SEC) <= e;
		int down = !up && b - 1 > ts &&
			   epoch_at(d, (double)(b - 1) / PSG_TICKS_PER_SEC) > e;
		if (!up && !down) {
			d->e_until = b;
			break;
		}
		b += up ? 1 : -1;
	}
	return e;
}

/* Adds [a, b) s of qualifying wave to the epochs it covers. */
static void cover(det *d, double a, double b)
{
	double len = (double)d->h->epoch_len / PSG_TICKS_PER_SEC;
	double org = (double)d->h->epoch_origin / PSG_TICKS_PER_SEC;
	while (a < b) {
		int64_t e = epoch_at(d, a);
		if (e < 0)
			return;
		double end = fmin(b, org + (e + 1) * len);
		epoch_acc(d, e)->covered += end - a;
		a = end;
	}
}

/* ---- waves ---- */

/* YASA's upper bounds (negative peak >= -200, positive <= 150, p2p <=
   350 uV) keep artefacts of frontal leads out of the events and the N3
   coverage; AASM: 0.5-2 Hz waves of >= 75 uV count toward N3. */
static int aasm_wave(const opts *o, double len, double neg, double pos)
{
	return neg >= o->neg_floor && pos <= o->pos_ceil &&
	       pos - neg <= o->p2p_max && pos - neg >= o->p2p &&
	       len >= 0.5 && len <= 2;
}

/* Whether a wave is a slow-wave event (peaks in the wave band, as YASA
   reads them); *covers: whether it counts toward the epoch's N3
   coverage (peaks in the amplitude band, as the AASM reads them). */
static int qualifies(const opts *o, const wave *wv, int *covers)
{
	double neg_len = wv->zero - wv->start, pos_len = wv->end - wv->zero;
	double len = wv->end - wv->start, p2p = wv->pos - wv->neg;
	int sane = wv->neg >= o->neg_floor && wv->pos <= o->pos_ceil &&
		   p2p <= o->p2p_max;
	*covers = aasm_wave(o, len, wv->aneg, wv->apos);
	return sane && neg_len >= o->neg_min && neg_len <= o->neg_max &&
	       pos_len >= o->pos_min && pos_len <= o->pos_max &&
	       wv->neg <= o->neg_peak && p2p >= o->p2p;
}

static int eog_at(const eog *e, int64_t seg, int64_t i, float *v)
{
	if (i < 0)
		return 0;
	const slot *s = &e->ring[i % (int64_t)e->cap];
	if (s->seg != seg || s->idx != i)
		return 0;
	*v = s->v;
	return 1;
}

/* The horizontal EOG's peak-to-peak during a wave, or NaN when too
   little of it is known (a gap, the end, or a wave that waited too
   long). */
static double eog_p2p(const det *d, const wave *wv)
{
	const eog *a = &d->eog[0];
	double per_s = (double)a->pc->spr / a->pc->period * PSG_TICKS_PER_SEC;
	double seg = (double)wv->seg / PSG_TICKS_PER_SEC;
	int64_t i0 = (int64_t)ceil((wv->start - seg) * per_s);
	int64_t i1 = (int64_t)floor((wv->end - seg) * per_s), have = 0;
	double lo = INFINITY, hi = -INFINITY;
	for (int64_t i = i0; i <= i1; i++) {
		float v;
		if (!eog_at(a, wv->seg, i, &v))
			continue;
		lo = fmin(lo, v), hi = fmax(hi, v);
		have++;
	}
	return have > 0 && have >= 0.8 * (double)(i1 - i0 + 1) ? hi - lo : NAN;
}

/* Counts a finished wave, unless the eyes made it: a wave is ocular
   when the horizontal EOG swings at least --eog-ratio times as much as
   the EEG (eye movements reach frontal leads attenuated, while the
   frontal slow waves the EOG picks up cancel in its bipolar form). */
static void judge(det *d, const wave *wv, psg_writer *w)
{
	int covers, counts = qualifies(d->o, wv, &covers);
	double p2p = wv->pos - wv->neg;
	if (d->neog && eog_p2p(d, wv) >= d->o->eog_ratio * p2p) {
		d->n_ocular++;
		return;
	}
	if (covers)
		cover(d, wv->start, wv->end);
	if (!counts)
		return;
	int64_t e = epoch_at(d, wv->start);
	if (e >= 0)
		epoch_acc(d, e)->count++;
	double len = wv->end - wv->start;
	double slope = wv->pos_t > wv->neg_t ? p2p / (wv->pos_t - wv->neg_t) :
		       0;
	double v[7] = {wv->neg, wv->neg_t, wv->pos, wv->pos_t, p2p, 1 / len,
		       slope};
	psg_event ev = {.type = d->ev_type, .channel = d->ch,
		.onset = (int64_t)llround(wv->start * PSG_TICKS_PER_SEC),
		.duration = (int64_t)llround(len * PSG_TICKS_PER_SEC),
		.label = "slow wave", .nvalues = 7, .values = v};
	if (psg_write_event(w, &ev))
		die(EXIT_IO, "%s", psg_writer_errmsg(w));
}

/* The time of the EOG's last filtered sample, s: computed once each
   time the EOG moves, not on every EEG sample a wave waits. */
static double eog_time(const eog *c)
{
	eog *e = (eog *)c;
	if (e->seen_k != e->k || e->seen_t0 != e->t0) {
		e->seen_k = e->k, e->seen_t0 = e->t0;
		e->seen_s = (double)psg_sample_time(e->pc, e->t0, e->k - 1) /
			    PSG_TICKS_PER_SEC;
	}
	return e->seen_s;
}

/* Whether the EOG (a pair's difference) has filtered output past the
   wave's end. */
static int eog_passed(const det *d, const wave *wv)
{
	const eog *e = &d->eog[0];
	return d->neog == 0 || e->t0 > wv->seg ||
	       (e->t0 == wv->seg && eog_time(e) >= wv->end);
}

/* Judges the waiting waves whose EOG has come, and those that ended
   before `force` (they waited as long as a data record can keep the
   EOG behind). */
static void settle(det *d, psg_writer *w, double force)
{
	size_t i = 0;
	while (i < d->npend && (d->pend[i].end < force ||
				eog_passed(d, &d->pend[i])))
		judge(d, &d->pend[i++], w);
	if (i == 0)
		return;   /* d->pend may still be NULL */
	memmove(d->pend, d->pend + i, (d->npend - i) * sizeof *d->pend);
	d->npend -= i;
}

static void end_wave(det *d, double t_end, psg_writer *w)
{
	wave wv = {d->t0, d->w_start, d->w_zero, t_end, d->neg, d->neg_t,
		   d->pos, d->pos_t, d->aneg, d->apos};
	int covers;
	if (!qualifies(d->o, &wv, &covers) && !covers)
		return;
	if (!d->neog) {
		judge(d, &wv, w);
		return;
	}
	d->pend = grow(d->pend, &d->pend_cap, d->npend, sizeof *d->pend);
	d->pend[d->npend++] = wv;
}

/* One sample at time t: the wave band's zero crossings (y) delimit the
   waves.  Their peaks are read twice: in the wave band itself (as YASA
   does; the events and the night-adaptive rule use these, which matched
   the DREAMS experts best), and in v, the wider amplitude band (0.3-4
   Hz), closer to the displayed EEG whose peak-to-peak the AASM rule
   measures: the 0.3-2 Hz band shrinks real slow waves' peaks (YASA's N3
   sample: 3.7 % coverage in band, 22.5 % in 0.3-4 Hz). */
static void wave_step(det *d, double t, float y, float v, psg_writer *w)
{
	if (d->prev >= 0 && y < 0) {            /* negative-going */
		if (d->state == 2)
			end_wave(d, t, w);
		d->state = 1;
		d->w_start = t;
		d->neg = 0, d->pos = 0, d->aneg = 0, d->apos = 0;
	} else if (d->prev < 0 && y >= 0 && d->state == 1) {
		d->state = 2;
		d->w_zero = t;
	}
	if (d->state == 1) {
		if (y < d->neg)
			d->neg = y, d->neg_t = t;
		d->aneg = fmin(d->aneg, v);
	}
	if (d->state == 2) {
		if (y > d->pos)
			d->pos = y, d->pos_t = t;
		d->apos = fmax(d->apos, v);
	}
	d->prev = y;
}

/* ---- the stream ---- */

static void raw_push(det *d, const float *x, int n)
{
	if (d->raw_head == d->raw_n)
		d->raw_head = d->raw_n = 0;
	if (d->raw_n + (size_t)n > d->raw_cap) {
		if (d->raw_n > d->raw_head)   /* raw may still be NULL */
			memmove(d->raw, d->raw + d->raw_head,
				(d->raw_n - d->raw_head) * sizeof *d->raw);
		d->raw_n -= d->raw_head, d->raw_head = 0;
		if (d->raw_n + (size_t)n > d->raw_cap) {
			size_t cap = d->raw_n + (size_t)n + 65536;
			float *p = realloc(d->raw, cap * sizeof *p);
			if (!p)
				die(EXIT_IO, "out of memory");
			d->raw = p, d->raw_cap = cap;
		}
	}
	copy_n(d->raw + d->raw_n, x, (size_t)n * sizeof *x);
	d->raw_n += (size_t)n;
}

/* The epoch the Welch sums belong to is over (next: the new one, -1 at
   the end): its spectral edge goes to its accumulator, which the ring
   still holds (epochs leave it `margin` s after their end). */
static void spectral_edge(det *d, int64_t next)
{
	if (d->wel_epoch >= 0) {
		acc *a = &d->ring[d->wel_epoch % d->nring];
		if (a->epoch == d->wel_epoch) {
			a->sef = psg_welch_edge(d->wel, 0.5, fmin(30, d->rate / 2),
						0.95);
			a->dshare = psg_welch_band(d->wel, 0.5, 2) /
				    psg_welch_band(d->wel, 0.5,
						   fmin(25, d->rate / 2));
		}
	}
	psg_welch_clear(d->wel);
	d->wel_epoch = next;
}

/* Samples that all three filters have ready: each releases its output
   a FFT block at a time, so taking the least keeps them aligned. */
static int ready(const det *d)
{
	int n = psg_filter_ready(d->sw), m = psg_filter_ready(d->swa);
	int a = psg_filter_ready(d->amp);
	n = m < n ? m : n;
	n = a < n ? a : n;
	return n < 4096 ? n : 4096;
}

/* The raw samples from `from' up to the current one go to the Welch
   sums in one call (they belong to the epoch of those sums). */
static void welch_catch_up(det *d, size_t *from)
{
	if (d->raw_head > *from)
		psg_welch_push(d->wel, d->raw + *from,
			       (int64_t)(d->raw_head - *from));
	*from = d->raw_head;
}

/* One filtered sample of the current epoch's accumulator: the raw
   twin's flat/saturation/artefact checks and the SWA band's power. */
static void epoch_sample(det *d, int64_t e, float x, float p)
{
	acc *a = epoch_acc(d, e);
	double ax = fabs(x);
	a->n++;
	a->sum += x, a->sum2 += (double)x * x;
	if (ax > a->maxabs)   /* fmax inline: a NaN leaves it too */
		a->maxabs = ax;
	a->nsat += x >= d->phys_hi || x <= d->phys_lo;
	a->pow_sum += (double)p * p;
}

/* Filtered samples that came out: waves, and with their raw twins the
   epochs' flat/saturation/artefact checks.  The Welch sums get the raw
   samples of an epoch a run at a time (welch_catch_up) rather than one
   call a sample; the bits are the same. */
static void drain(det *d, psg_writer *w)
{
	const psg_channel *pc = &d->h->channels[d->ch];
	int n;
	while ((n = ready(d)) > 0) {
		if (psg_filter_pull(d->sw, d->ybuf, n) != n ||
		    psg_filter_pull(d->swa, d->pbuf, n) != n ||
		    psg_filter_pull(d->amp, d->abuf, n) != n)
			die(EXIT_IO, "internal error: filters out of step");
		size_t wfrom = d->raw_head;
		for (int i = 0; i < n; i++) {
			int64_t ts = psg_clock_time(&d->clk, pc, d->t0, d->k);
			double t = (double)ts / PSG_TICKS_PER_SEC;
			int64_t e = epoch_of_tick(d, ts);
			if (e != d->last_e) {   /* keep the ring from wrapping */
				welch_catch_up(d, &wfrom);
				spectral_edge(d, e);
				flush_epochs(d, t, w, 0);
				d->last_e = e;
			}
			float x = d->raw[d->raw_head++];
			if (e >= 0)
				epoch_sample(d, e, x, d->pbuf[i]);
			else
				wfrom = d->raw_head;   /* before the epochs */
			wave_step(d, t, d->ybuf[i], d->abuf[i], w);
			if (d->npend)
				settle(d, w, t - d->maxlag);
			d->k++;
		}
		welch_catch_up(d, &wfrom);
		flush_epochs(d, (double)psg_clock_time(&d->clk, pc, d->t0, d->k) /
			     PSG_TICKS_PER_SEC, w, 0);
	}
}

static void end_segment(det *d, psg_writer *w)
{
	if (psg_filter_finish(d->sw) || psg_filter_finish(d->swa) ||
	    psg_filter_finish(d->amp))
		die(EXIT_IO, "out of memory");
	drain(d, w);
	d->state = 0;   /* a wave cut by a gap does not count */
	psg_welch_restart(d->wel);   /* nor does a window */
	d->prev = 0;
}

static void block(det *d, const psg_block *b, psg_writer *w)
{
	if (b->t0 != d->t0 || b->offset != d->next) {
		if (d->next || d->t0)
			end_segment(d, w);
		d->t0 = b->t0;
		d->k = b->offset;
	}
	d->next = b->offset + b->n;
	raw_push(d, b->x, b->n);
	if (psg_filter_push(d->sw, b->x, b->n) ||
	    psg_filter_push(d->swa, b->x, b->n) ||
	    psg_filter_push(d->amp, b->x, b->n))
		die(EXIT_IO, "out of memory");
	drain(d, w);
}

/* ---- the EOG's stream ---- */

static void eog_drain(eog *e)
{
	float buf[1024];
	int n;
	while ((n = psg_filter_pull(e->f, buf, 1024)) > 0)
		for (int i = 0; i < n; i++, e->k++) {
			e->ring[e->ki] = (slot){e->t0, e->k, buf[i]};
			if (++e->ki == e->cap)
				e->ki = 0;
		}
}

static void eog_end_segment(eog *e)
{
	if (psg_filter_finish(e->f))
		die(EXIT_IO, "out of memory");
	eog_drain(e);
}

static void eog_block(det *d, eog *e, const psg_block *b, psg_writer *w)
{
	if (b->t0 != e->t0 || b->offset != e->next) {
		if (e->next || e->t0)
			eog_end_segment(e);
		e->t0 = b->t0;
		e->k = b->offset;
		e->ki = (size_t)(e->k % (int64_t)e->cap);
	}
	e->next = b->offset + b->n;
	if (psg_filter_push(e->f, b->x, b->n))
		die(EXIT_IO, "out of memory");
	eog_drain(e);
	settle(d, w, -INFINITY);
}

/* Room for n floats in *p (what it holds stays). */
static float *room(float *p, size_t *cap, size_t n)
{
	if (n <= *cap)
		return p;
	p = realloc(p, n * sizeof *p);
	if (!p)
		die(EXIT_IO, "out of memory");
	*cap = n;
	return p;
}

/* Samples [from, n) of block b, of pair channel j, wait for the other
   channel's. */
static void twin_keep(twin *q, int j, const psg_block *b, size_t from)
{
	size_t n = (size_t)b->n - from;
	q->x = room(q->x, &q->cap, n);
	memcpy(q->x, b->x + from, n * sizeof *q->x);
	q->j = j, q->t0 = b->t0, q->off = b->offset + (int64_t)from, q->n = n;
}

/* A block of pair channel j.  The horizontal EOG is the pair's
   difference, and a linear filter's output is the same for it as the
   difference of the two outputs (to float rounding): the difference is
   filtered, one filter where there were two.  A block waits for the
   other channel's block of the same samples; samples the other channel
   never has (a gap in one only) are dropped, as the two rings' lookups
   skipped them. */
static void eog_pair(det *d, int j, const psg_block *b, psg_writer *w)
{
	twin *q = &d->tw;
	size_t n = (size_t)b->n;
	if (q->n && q->j == j && q->t0 == b->t0 &&
	    q->off + (int64_t)q->n == b->offset) {   /* the same one, on */
		q->x = room(q->x, &q->cap, q->n + n);
		memcpy(q->x + q->n, b->x, n * sizeof *q->x);
		q->n += n;
		return;
	}
	if (!q->n || q->j == j || b->t0 > q->t0) {   /* the older is lost */
		twin_keep(q, j, b, 0);
		return;
	}
	if (b->t0 < q->t0)
		return;
	int64_t lo = b->offset > q->off ? b->offset : q->off;
	int64_t qend = q->off + (int64_t)q->n, bend = b->offset + (int64_t)n;
	int64_t hi = bend < qend ? bend : qend;
	if (hi > lo) {
		const float *x0 = j == 0 ? b->x + (lo - b->offset) :
			q->x + (lo - q->off);
		const float *x1 = j == 0 ? q->x + (lo - q->off) :
			b->x + (lo - b->offset);
		size_t k = (size_t)(hi - lo);
		d->dbuf = room(d->dbuf, &d->dcap, k);
		for (size_t i = 0; i < k; i++)
			d->dbuf[i] = x0[i] - x1[i];
		psg_block dif = {d->eog[0].ch, b->t0, lo, (int32_t)k, d->dbuf};
		eog_block(d, &d->eog[0], &dif, w);
	}
	if (bend > qend) {          /* the one that goes on waits */
		twin_keep(q, j, b, (size_t)((hi > b->offset ? hi : b->offset) -
					    b->offset));
	} else if (qend > bend) {
		size_t from = (size_t)((hi > q->off ? hi : q->off) - q->off);
		memmove(q->x, q->x + from, (q->n - from) * sizeof *q->x);
		q->off += (int64_t)from, q->n -= from;
	} else {
		q->n = 0;
	}
}

static psg_filter *make_filter(double lo, double hi, double tr, double rate)
{
	psg_fir_spec s = {PSG_FIR_BANDPASS, lo, hi, tr, 0, 0};
	double *taps;
	int n;
	char msg[256];
	if (psg_fir_design(&s, rate, &taps, &n, msg, sizeof msg))
		die(EXIT_UNSUITABLE, "%g-%g Hz at %g Hz: %s", lo, hi, rate,
		    msg);
	return filter_of_taps(taps, n);
}

/* The EOG is filtered in the wave band, like the EEG it is compared
   with.  A
   wave waits for it at most a data record plus the filter's delay and
   FFT block (plus 1 s): in a stream the channels of one record come one
   after the other, the filters release output a block at a time, and at
   a segment's end the EOG's last samples come only when its next block
   ends the segment. */
static void setup_eog(det *d, const psg_header *h, const opts *o)
{
	int ch[2];
	d->neog = pick_eog(h, o, d->ch, ch);
	/* Compared in the wave band, the EOG must carry it (Nyquist). */
	for (int j = 0; j < d->neog; j++) {
		const psg_channel *c = &h->channels[ch[j]];
		if (psg_channel_rate(c) < 2 * o->band_hi) {
			warn("EOG '%s' at %g Hz cannot carry the %g-%g Hz wave "
			     "band (%g Hz or more): no ocular rejection",
			     c->label, psg_channel_rate(c), o->band_lo,
			     o->band_hi, 2 * o->band_hi);
			d->neog = 0;
		}
	}
	d->maxlag = (double)h->channels[d->ch].period / PSG_TICKS_PER_SEC;
	for (int j = 0; j < d->neog; j++) {
		eog *e = &d->eog[j];
		e->ch = ch[j];
		e->pc = &h->channels[ch[j]];
		e->seen_k = INT64_MIN;   /* eog_time() has seen nothing */
		d->maxlag = fmax(d->maxlag, (double)e->pc->period /
				 PSG_TICKS_PER_SEC);
	}
	double delay = (psg_filter_latency(d->sw) +
			psg_filter_fft_size(d->sw)) / d->rate;
	/* one filter and ring: the EOG's, or a pair's difference (same rate) */
	for (int j = 0; j < (d->neog ? 1 : 0); j++) {
		eog *e = &d->eog[j];
		double r = psg_channel_rate(e->pc);
		e->f = make_filter(o->band_lo, o->band_hi, o->transition, r);
		delay = fmax(delay, (psg_filter_latency(e->f) +
				     psg_filter_fft_size(e->f)) / r);
	}
	d->maxlag += delay + 1;
	for (int j = 0; j < (d->neog ? 1 : 0); j++) {
		eog *e = &d->eog[j];
		double r = psg_channel_rate(e->pc);
		/* a wave (<= 3 s) may wait maxlag; the EOG may run maxlag ahead */
		e->cap = (size_t)ceil((2 * d->maxlag + 8) * r);
		e->ring = malloc(e->cap * sizeof *e->ring);
		if (!e->ring)
			die(EXIT_IO, "out of memory");
		for (size_t i = 0; i < e->cap; i++)
			e->ring[i].idx = -1;
	}
	d->margin = d->neog ? 3.5 + d->maxlag : 2.5;
	double len = (double)h->epoch_len / PSG_TICKS_PER_SEC;
	d->nring = (int)fmax(MIN_RING, ceil((d->margin + 3) / len) + 2);
	d->ring = calloc((size_t)d->nring, sizeof *d->ring);
	if (!d->ring)
		die(EXIT_IO, "out of memory");
	for (int i = 0; i < d->nring; i++)
		d->ring[i].epoch = -1;
}

static psg_header *declare(det *d, const psg_header *in, int argc,
			   char **argv)
{
	const char *f[] = {"neg_peak", "neg_time", "pos_peak", "pos_time",
		"p2p", "frequency", "slope"};
	const char *u[] = {"uV", "s", "uV", "s", "uV", "Hz", "uV/s"};
	psg_header *h = derive_header(in, argc, argv);
	d->ev_type = psg_header_add_evtype(h, "slow_waves", 7, f, u);
	d->f_sws = psg_header_add_feature(h, "sws", "",
		"N3 call: 1 SWS, 0 not, -1 unusable (night-adaptive cover)");
	d->f_frac = psg_header_add_feature(h, "sws_fraction", "",
		"share covered by 0.5-2 Hz waves >= 75 uV p2p (in 0.3-4 Hz)");
	d->f_swa = psg_header_add_feature(h, "swa", "uV^2",
		"mean 0.5-4 Hz power");
	d->f_count = psg_header_add_feature(h, "sw_count", "",
		"slow-wave events starting in the epoch");
	d->f_unusable = psg_header_add_feature(h, "sws_unusable", "",
		"usable, flat, saturated or artefact (gross); sent as "
		"0-3, stored as the name");
	d->f_sef = psg_header_add_feature(h, "sws_sef95", "Hz",
		"95 % spectral edge of the EEG in 0.5-30 Hz");
	d->f_dshare = psg_header_add_feature(h, "sws_delta_share", "",
		"0.5-2 Hz share of the EEG's 0.5-25 Hz power");
	d->f_p = psg_header_add_feature(h, "sws_score", "",
		"N3 score 0-1, 0.5 at the call's boundary (not a calibrated "
		"probability)");
	if (d->ev_type < 0 || d->f_sws < 0 || d->f_frac < 0 || d->f_swa < 0 ||
	    d->f_count < 0 || d->f_unusable < 0 || d->f_sef < 0 ||
	    d->f_dshare < 0 || d->f_p < 0)
		die(EXIT_UNSUITABLE, "the stream already has slow-wave "
		    "results (psg-sws ran twice?)");
	return h;
}

/* ---- the night's decision (at END) ---- */

#define MIN_COVER 0.02          /* epochs with some slow waves... */
#define MIN_ADAPT 10            /* ...needed, at least, to adapt */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int cmp_held(const void *a, const void *b)
{
	int64_t x = ((const held *)a)->epoch, y = ((const held *)b)->epoch;
	return (x > y) - (x < y);
}

/* The boundary between the two clusters of v[0..n) that minimises the
   within-cluster sum of squares (Otsu 1979; exact in one dimension). */
static double two_means(double *v, size_t n)
{
	double s = 0, s2 = 0, a = 0, a2 = 0, best = INFINITY, cut = v[0];
	sort_n(v, n, sizeof *v, cmp_double);
	for (size_t i = 0; i < n; i++)
		s += v[i], s2 += v[i] * v[i];
	for (size_t i = 1; i < n; i++) {
		a += v[i - 1], a2 += v[i - 1] * v[i - 1];
		double b = s - a, b2 = s2 - a2;
		double ss = a2 - a * a / i + b2 - b * b / (n - i);
		if (ss < best)
			best = ss, cut = (v[i - 1] + v[i]) / 2;
	}
	return cut;
}

/* sqrt(coverage) smoothed over the epoch and two on each side, weights
   1-2-4-2-1: scorers read an epoch in its context, and N3 comes in runs.
   Unusable and missing neighbours are left out of the average. */
static double smoothed(const det *d, size_t i)
{
	static const double wt[5] = {1, 2, 4, 2, 1};
	double sum = 0, wsum = 0;
	for (int k = -2; k <= 2; k++) {
		size_t j = i + (size_t)k;   /* wraps past 0: caught below */
		if (j >= d->nnight || d->night[j].epoch != d->night[i].epoch + k ||
		    d->night[j].unusable)
			continue;
		sum += wt[k + 2] * sqrt(d->night[j].frac);
		wsum += wt[k + 2];
	}
	return wsum > 0 ? sum / wsum : 0;
}

/* Ashman's D of the two groups of the sorted v[0..n) split at cut:
   |m1 - m2| / sqrt((s1^2 + s2^2) / 2).  Above 2, two normal groups are
   cleanly apart (Ashman et al. 1994); below, the night shows no second
   population and is not split. */
static double ashman(const double *v, size_t n, double cut)
{
	double s[2] = {0, 0}, s2[2] = {0, 0};
	size_t k[2] = {0, 0};
	for (size_t i = 0; i < n; i++) {
		int g = v[i] >= cut;
		s[g] += v[i], s2[g] += v[i] * v[i], k[g]++;
	}
	if (k[0] < 2 || k[1] < 2)
		return 0;
	double m0 = s[0] / k[0], m1 = s[1] / k[1];
	double v0 = s2[0] / k[0] - m0 * m0, v1 = s2[1] / k[1] - m1 * m1;
	double sd = sqrt(fmax(1e-12, (v0 + v1) / 2));
	return fabs(m1 - m0) / sd;
}

/* The night's threshold on the sqrt-coverage scale.  The night adapts
   (raises the bar above the AASM share) only when its epochs with slow
   waves fall into two populations (--bimodal); otherwise it abstains
   from splitting and the AASM share applies.  d->separation keeps D. */
static double night_threshold(det *d, const double *x)
{
	const opts *o = d->o;
	double *v = malloc((d->nnight + 1) * sizeof *v);
	size_t n = 0;
	if (!v)
		die(EXIT_IO, "out of memory");
	for (size_t i = 0; i < d->nnight; i++)
		if (!d->night[i].unusable && d->night[i].frac > MIN_COVER)
			v[n++] = x[i];
	double least = sqrt(o->floor < 0 ? o->cover : o->floor), t = -1;
	d->separation = NAN;
	if (n >= MIN_ADAPT && !o->absolute) {
		double cut = two_means(v, n);
		d->separation = ashman(v, n, cut);
		if (d->separation >= o->bimodal)
			t = fmax(cut, least);
	}
	free(v);
	return t;
}

static double logistic(double z)
{
	return 1 / (1 + exp(-z));
}

#define SCORE_WIDTH 0.05        /* sqrt-coverage for a factor e */
#define SHARE_WIDTH 0.05        /* delta share for a factor e */

/* An epoch's N3 score, 0-1 and 0.5 at the boundary: the lesser of the
   coverage's and the delta share's logistic distance to their
   thresholds (both must hold).  No Welch window: coverage alone. */
static double n3_score(const opts *o, double x, double thr, double share)
{
	double p = logistic((x - thr) / SCORE_WIDTH);
	if (o->delta_share > 0 && isfinite(share))
		p = fmin(p, logistic((share - o->delta_share) / SHARE_WIDTH));
	return p;
}

static int cmp_wake(const void *a, const void *b)
{
	int64_t x = ((const wake_call *)a)->epoch;
	int64_t y = ((const wake_call *)b)->epoch;
	return (x > y) - (x < y);
}

static void note_wake(det *d, const psg_epoch *e)
{
	for (int i = 0; i < e->n; i++)
		if ((int)e->feature[i] == d->f_wake) {
			d->wk = grow(d->wk, &d->wkcap, d->nwk, sizeof *d->wk);
			d->wk[d->nwk++] = (wake_call){e->epoch, e->value[i]};
		}
}

/* psg-wake's call of an epoch (d->wk sorted); NaN if none. */
static double wake_of(const det *d, int64_t epoch)
{
	wake_call key = {epoch, 0};
	const wake_call *c = bsearch(&key, d->wk, d->nwk, sizeof *d->wk,
				     cmp_wake);
	return c ? c->wake : NAN;
}

static void write_call(det *d, psg_writer *w, int64_t epoch, int sws,
		       double score)
{
	uint32_t fid[2] = {(uint32_t)d->f_sws, (uint32_t)d->f_p};
	double val[2] = {sws, score};
	psg_epoch ep = {.epoch = epoch, .n = 2, .feature = fid, .value = val};
	if (psg_write_epoch(w, &ep))
		die(EXIT_IO, "%s", psg_writer_errmsg(w));
}

/* The calls, at END.  --absolute: each epoch's own coverage against
   the AASM share.  Otherwise the smoothed coverage against the night's
   threshold (or, when the night shows no two populations, the AASM
   share), and the delta share: N3's power is in its slow waves, while a
   K-complex train or a drift that crosses 75 uV in an epoch of N2 or
   wake leaves most of the power elsewhere. */
static void decide(det *d, psg_writer *w)
{
	const opts *o = d->o;
	double *x = malloc((d->nnight + 1) * sizeof *x);
	if (!x)
		die(EXIT_IO, "out of memory");
	sort_n(d->night, d->nnight, sizeof *d->night, cmp_held);
	for (size_t i = 0; i < d->nnight; i++)
		x[i] = o->absolute ? sqrt(d->night[i].frac) : smoothed(d, i);
	double thr = night_threshold(d, x);
	d->adaptive = thr >= 0;
	if (thr < 0)
		thr = sqrt(o->cover);
	d->threshold = thr * thr;
	if (d->nwk)
		sort_n(d->wk, d->nwk, sizeof *d->wk, cmp_wake);
	for (size_t i = 0; i < d->nnight; i++) {
		const held *e = &d->night[i];
		double p = n3_score(o, x[i], thr, o->absolute ? NAN : e->dshare);
		/* With psg-wake's calls, the SWS figures are of sleep: an
		   epoch it calls wake is not SWS sleep, whatever its waves. */
		double wk = d->nwk ? wake_of(d, e->epoch) : 0;
		if (wk == 1 || e->sef > o->sef_max)
			p = fmin(p, 0);
		int sws = e->unusable ? -1 : p >= 0.5;
		write_call(d, w, e->epoch, sws, e->unusable ? NAN : p);
		d->n_sleep += wk == 0;
		if (sws == 1 && wk == 0) {
			if (d->n_sws++ == 0)
				d->first_sws = e->epoch;
			d->n_sws_waves += e->waves;
		}
		d->n_before += d->first_sws < 0 && e->recorded;
	}
	d->n_epochs = (int64_t)d->nnight;
	d->uncertain = !d->adaptive && !o->absolute && d->n_sws > 0;
	if (d->uncertain && isfinite(d->separation))
		note("the night shows no two populations of epochs "
		     "(Ashman's D %.2f < %g): N3 by the AASM share alone, "
		     "uncertain", d->separation, o->bimodal);
	else if (d->uncertain)
		note("too few epochs with slow waves to compare: N3 by the "
		     "AASM share alone, uncertain");
	free(x);
}

static void summaries(det *d, psg_writer *w)
{
	double len_min = (double)d->h->epoch_len / PSG_TICKS_PER_SEC / 60;
	double sws_min = d->n_sws * len_min;
	psg_summary s[] = {
		{"sws_minutes", "min", sws_min},
		{"sws_percent", "%", d->n_sleep ? 100.0 * d->n_sws /
		 d->n_sleep : NAN},
		{"sws_basis", "", d->nwk ? 1 : 0},
		/* Recorded time before the first N3 epoch: the gaps of an
		   EDF+D are not counted (before 2026-12 they were). */
		{"sws_latency", "min", d->first_sws < 0 ? NAN :
		 (double)d->n_before * len_min +
		 (double)d->h->epoch_origin / PSG_TICKS_PER_SEC / 60},
		/* Waves of N3 per minute of N3: the waves of wake and lighter
		   sleep stay out of it (before 2026-12 they were counted). */
		{"slow_wave_density", "1/min", sws_min > 0 ?
		 d->n_sws_waves / sws_min : NAN},
		{"sws_threshold", "", d->threshold},
		{"sws_adaptive", "", d->adaptive},
		{"sws_separation", "", d->separation},
		{"sws_uncertain", "", d->uncertain},
		{"sws_ocular_waves", "", d->neog ? (double)d->n_ocular : NAN},
	};
	for (size_t i = 0; i < sizeof s / sizeof *s; i++)
		if (psg_write_summary(w, &s[i]))
			die(EXIT_IO, "%s", psg_writer_errmsg(w));
}

int main(int argc, char **argv)
{
	opts o;
	static det d;   /* file scope lifetime: reachable at any exit */
	psg_record rec;
	int st;
	stage_name = "psg-sws";
	parse_args(argc, argv, &o);
	psg_reader *in = open_detector_input(o.optional, argc, argv);
	const psg_header *hin = psg_reader_header(in);
	d.o = &o;
	d.ch = pick_channel(hin, &o);
	const psg_channel *pc = &hin->channels[d.ch];
	d.rate = psg_channel_rate(pc);
	d.phys_lo = pc->phys_min, d.phys_hi = pc->phys_max;
	/* The AASM's peaks are read in --amp-band (0.3-4 Hz): the EEG must
	   carry it (Nyquist; its top is cut to rate / 2.5 for the filter's
	   transition). */
	if (d.rate < 2 * o.amp_hi)
		die(EXIT_UNSUITABLE, "EEG '%s' at %g Hz cannot carry the %g-%g "
		    "Hz slow waves are measured in (%g Hz or more)", pc->label,
		    d.rate, o.amp_lo, o.amp_hi, 2 * o.amp_hi);
	d.first_sws = -1;
	d.f_wake = psg_header_find_feature(hin, "wake");
	d.last_e = -1;
	/* A narrow transition keeps the wave band what it says (MNE's
	   default would pass up to 3 Hz); the SWA band keeps the default. */
	d.sw = make_filter(o.band_lo, o.band_hi, o.transition, d.rate);
	d.swa = make_filter(0.5, 4, 0, d.rate);
	d.amp = make_filter(o.amp_lo, fmin(o.amp_hi, d.rate / 2.5), 0,
				    d.rate);
	d.wel = psg_welch_new(d.rate, 4, 0.5, &st);
	if (!d.wel)
		die(st == PSG_ERR_NOMEM ? EXIT_IO : EXIT_UNSUITABLE,
		    "'%s': %g Hz is too slow for a 4-s spectrum", pc->label,
		    d.rate);
	d.wel_epoch = -1;
	setup_eog(&d, hin, &o);
	d.ybuf = malloc(4096 * sizeof *d.ybuf);
	d.pbuf = malloc(4096 * sizeof *d.pbuf);
	d.abuf = malloc(4096 * sizeof *d.abuf);
	if (!d.ybuf || !d.pbuf || !d.abuf)
		die(EXIT_IO, "out of memory");
	psg_header *h = declare(&d, hin, argc, argv);
	d.h = h;
	add_role(h, PSG_ROLE_EEG, d.ch);
	for (int j = 0; j < d.neog; j++)
		add_role(h, PSG_ROLE_EOG, d.eog[j].ch);
	psg_writer *w = open_stdout_stream(h);
	while ((st = psg_reader_next(in, &rec)) > 0) {
		if (rec.kind == PSG_REC_END) {
			if (d.neog)
				eog_end_segment(&d.eog[0]);
			end_segment(&d, w);
			settle(&d, w, INFINITY);
			spectral_edge(&d, -1);
			flush_epochs(&d, 1e300, w, 1);
			decide(&d, w);
			summaries(&d, w);
			if (psg_writer_finish(w, &rec.end))
				die(EXIT_IO, "%s", psg_writer_errmsg(w));
			break;
		}
		if (psg_write_record(w, &rec))
			die(EXIT_IO, "%s", psg_writer_errmsg(w));
		if (rec.kind == PSG_REC_EPOCH && d.f_wake >= 0)
			note_wake(&d, &rec.epoch);
		if (rec.kind != PSG_REC_DATA)
			continue;
		if (rec.block.channel == d.ch)
			block(&d, &rec.block, w);
		for (int j = 0; j < d.neog; j++)
			if (rec.block.channel == d.eog[j].ch && d.neog == 2)
				eog_pair(&d, j, &rec.block, w);
			else if (rec.block.channel == d.eog[j].ch)
				eog_block(&d, &d.eog[j], &rec.block, w);
	}
	if (st < 0)
		die(exit_code(st), "%s", psg_reader_errmsg(in));
	psg_filter_free(d.sw);
	psg_filter_free(d.swa);
	psg_filter_free(d.amp);
	psg_welch_free(d.wel);
	psg_filter_free(d.eog[0].f);
	free(d.eog[0].ring);
	free(d.tw.x);
	free(d.dbuf);
	free(d.pend);
	free(d.ring);
	free(d.night);
	free(d.wk);
	free(d.ybuf);
	free(d.pbuf);
	free(d.abuf);
	free(d.raw);
	psg_writer_free(w);
	psg_header_free(h);
	psg_reader_free(in);
	return 0;
}
