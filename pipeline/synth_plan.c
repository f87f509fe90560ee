/*
 * synth_plan.c -- what happens in each epoch of a generated night: slow
 * waves, K-complexes, spindles, arousals, awakenings, eye movements, leg
 * movements and periodic series, spasms, twitches, bruxism episodes and
 * artefacts.  Each planned event goes both to the renderer and, once, to
 * the ground truth.  Rates, durations and amplitudes are the profile's and
 * docs/synth.md cites where they come from; the rules they honour are
 * AASM (slow waves 0.5-2 Hz, >= 75 uV peak-to-peak; arousals 3-15 s after
 * >= 10 s of sleep, none within 10 s of another) and WASM 2016 (LMs 0.5-10 s, PLM series >= 4 LMs
 * 10-90 s apart).
 */
#include "synth.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[EV_NKINDS] = {
	"slow_wave", "k_complex", "spindle", "arousal", "awakening", "sem",
	"rem", "blink", "lm", "plm_series", "spasm", "twitch", "rmma",
	"rmma_burst", "lmgm", "pop", "saturation", "flat", "cramp"};

const char *synth_kind_name(int kind)
{
	return kind >= 0 && kind < EV_NKINDS ? kind_names[kind] : "?";
}

const char *psg_synth_kind(int i)
{
	return i >= 0 && i < EV_NKINDS ? kind_names[i] : NULL;
}

int evlist_push(evlist *l, const sevent *e)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		sevent *p = realloc(l->e, cap * sizeof *p);
		if (!p)
			return PSG_ERR_NOMEM;
		l->e = p, l->cap = cap;
	}
	l->e[l->n++] = *e;
	return 0;
}

void evlist_prune(evlist *l, int64_t t)
{
	size_t k = 0;
	for (size_t i = 0; i < l->n; i++)
		if (l->e[i].onset + l->e[i].dur >= t)
			l->e[k++] = l->e[i];
	l->n = k;
}

/* ---- helpers ---- */

#define SEC(x) ((int64_t)((x) * TICKS_D))

static int is_sleep(int stage)
{
	return stage >= PSG_STAGE_N1 && stage <= PSG_STAGE_R;
}

static int in_gap(const psg_synth *s, int64_t a, int64_t b)
{
	for (int i = 0; i < s->ngaps; i++)
		if (a < s->gaps[i].onset + s->gaps[i].dur &&
		    b > s->gaps[i].onset)
			return 1;
	return 0;
}

/* The channel playing a role (side 0/1), or -1 if the montage lacks it. */
static int chan_of(const psg_synth *s, int role, int side)
{
	for (int i = 0; i < s->h->nchannels; i++)
		if (s->ch[i].role == role && s->ch[i].side == side)
			return i;
	return -1;
}

/* Adds an event to the window, unless it falls into a recording pause or
   past the end (then it never happened, as far as the file can tell). */
static int add(psg_synth *s, evlist *win, int kind, int64_t onset,
	       int64_t dur, int chan, double amp, double freq)
{
	if (onset < 0 || onset + dur > s->end || in_gap(s, onset, onset + dur))
		return 0;
	sevent e = {.kind = kind, .onset = onset, .dur = dur, .chan = chan,
		.amp = amp, .freq = freq, .split = 0.5, .id = ++s->next_id};
	return evlist_push(win, &e);
}

/* Poisson count for a rate per hour over `ticks`. */
static int poisson(rng *r, double per_h, int64_t ticks)
{
	double lambda = per_h * (double)ticks / (3600 * TICKS_D), p = 1, L;
	int k = 0;
	if (lambda <= 0)
		return 0;
	L = exp(-lambda);
	do {
		k++;
		p *= rng_unif(r);
	} while (p > L && k < 1000);
	return k - 1;
}

static double clamp(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* ---- cortical events ---- */

/* Slow waves (and, in N2, K-complexes) one after another through the
   epoch, until they cover the stage's target share of it. */
static int plan_waves(psg_synth *s, evlist *win, int64_t w0, int64_t w1,
		      int stage)
{
	rng *r = &s->r_cortex;
	double target, median;
	const profile *p = s->p;
	int n3 = stage == PSG_STAGE_N3;
	if (n3)
		target = rng_range(r, 0.35, 0.65), median = p->sw_uv;
	else if (stage == PSG_STAGE_N2)
		target = rng_range(r, 0.0, p->n2_cover), median = 85;
	else
		return 0;
	double len = (double)(w1 - w0) / TICKS_D, covered = 0;
	double gap_mean = 1.0 * (1 - target) / (target > 0.02 ? target : 0.02);
	double t = rng_range(r, 0, 1.5);
	int st = 0;
	while (!st && covered < target * len) {
		double d = 1 / rng_range(r, 0.6, 1.6);
		if (t + d > len - 0.05)
			break;
		int kc = stage == PSG_STAGE_N2 && rng_unif(r) < p->kc_share;
		double amp = clamp(rng_lognormal(r, kc ? 150 : median, 0.25),
				   n3 ? p->sw_lo : 40, n3 ? p->sw_hi : 350);
		/* Down-state first, longer than the up-state; sharper in a
		   K-complex (Cash et al. 2009). */
		double split = kc ? rng_range(r, 0.3, 0.4) :
			       rng_range(r, 0.5, 0.65);
		size_t before = win->n;
		st = add(s, win, kc ? EV_K_COMPLEX : EV_SLOW_WAVE,
			 w0 + SEC(t), SEC(d), -1, amp, 1 / d);
		if (!st && win->n > before)
			win->e[win->n - 1].split = split;
		covered += d;
		t += d + rng_range(r, 0, 2 * gap_mean);
	}
	return st;
}

static int plan_spindles(psg_synth *s, evlist *win, int64_t w0, int64_t w1,
			 int stage)
{
	rng *r = &s->r_cortex;
	double per_min = stage == PSG_STAGE_N2 ? 5 : stage == PSG_STAGE_N3 ?
			 2 : 0;
	int n = poisson(r, per_min * 60, w1 - w0), st = 0;
	for (int i = 0; i < n && !st; i++) {
		/* One draw per statement: C leaves the order of arguments
		   unspecified, and the night must not depend on it. */
		double d = rng_range(r, 0.5, 2.0);
		int64_t on = w0 + (int64_t)(rng_unif(r) * (double)(w1 - w0 -
							    SEC(d)));
		double amp = clamp(rng_lognormal(r, 35, 0.3), 15, 80);
		double f = rng_range(r, 11, 16);
		st = add(s, win, EV_SPINDLE, on, SEC(d), -1, amp, f);
	}
	return st;
}

/* The 10 s of sleep before an arousal hold no other arousal (AASM), and
   neither do the 10 s after it (the next one's): [on, end + 10 s) of
   arousals never overlap.  Those of earlier epochs end by arousal_end. */
static int arousal_spaced(const psg_synth *s, const evlist *win, int64_t on,
			  int64_t dur)
{
	if (on < s->arousal_end + SEC(10))
		return 0;
	for (size_t i = 0; i < win->n; i++) {
		const sevent *e = &win->e[i];
		if (e->kind == EV_AROUSAL && on < e->onset + e->dur + SEC(10) &&
		    e->onset < on + dur + SEC(10))
			return 0;
	}
	return 1;
}

/* Arousals need 10 s of sleep before them (AASM).  Each is a burst of
   alpha and of beta, peak-to-peak on the central derivation, drawn from
   a stream of their own so that the arousals' times stay those of
   r_arousal. */
static int plan_arousals(psg_synth *s, evlist *win, int64_t w0, int64_t w1)
{
	rng *r = &s->r_arousal;
	int n = poisson(r, s->p->arousal_per_h, w1 - w0), st = 0;
	for (int i = 0; i < n && !st; i++) {
		int64_t on = w0 + (int64_t)(rng_unif(r) * (double)(w1 - w0));
		double d = rng_range(r, 3, 15);
		double alpha = rng_range(&s->r_arousal_amp, 20, 40);
		double beta = rng_range(&s->r_arousal_amp, 15, 30);
		if (!is_sleep(synth_stage_at(&s->hyp, on)) ||
		    !is_sleep(synth_stage_at(&s->hyp, on - SEC(10))) ||
		    !is_sleep(synth_stage_at(&s->hyp, on + SEC(d))) ||
		    !arousal_spaced(s, win, on, SEC(d)))
			continue;
		size_t before = win->n;
		st = add(s, win, EV_AROUSAL, on, SEC(d), -1, alpha, beta);
		if (!st && win->n > before && on + SEC(d) > s->arousal_end)
			s->arousal_end = on + SEC(d);
	}
	return st;
}

/* An awakening after sleep onset is a wake run; half of them start with a
   large-muscle-group movement (AASM: 3-45 s, legs and chin). */
static int plan_awakenings(psg_synth *s, evlist *win, int64_t w0, int64_t w1)
{
	hypnogram *h = &s->hyp;
	rng *r = &s->r_awake;
	int st = 0;
	for (size_t i = 1; i < h->n && !st; i++) {
		const run *x = &h->r[i];
		if (x->onset < w0 || x->onset >= w1 || x->stage != PSG_STAGE_W ||
		    x->onset <= s->sleep_onset)
			continue;
		st = add(s, win, EV_AWAKENING, x->onset, x->dur, -1, 0, 0);
		if (!st && rng_unif(r) < 0.5) {
			double d = clamp(rng_range(r, 3, 45), 3,
					 (double)x->dur / TICKS_D);
			st = add(s, win, EV_LMGM, x->onset + SEC(1), SEC(d), -1,
				 rng_range(r, 40, 120), 0);
		}
	}
	return st;
}

static int plan_eyes(psg_synth *s, evlist *win, int64_t w0, int64_t w1,
		     int stage)
{
	rng *r = &s->r_eyes;
	int st = 0;
	if (chan_of(s, R_EOG_L, 0) < 0 && chan_of(s, R_EOG_R, 1) < 0)
		return 0;
	if (stage == PSG_STAGE_N1 && rng_unif(r) < 0.7) {
		double d = rng_range(r, 5, 20), on = rng_range(r, 0, 10);
		double amp = rng_range(r, 80, 200), f = rng_range(r, 0.25, 0.5);
		st = add(s, win, EV_SEM, w0 + SEC(on), SEC(d), -1, amp, f);
	}
	if (stage == PSG_STAGE_R || stage == PSG_STAGE_W) {
		int rem = stage == PSG_STAGE_R;
		int n = poisson(r, (rem ? 10 : 12) * 60, w1 - w0);
		for (int i = 0; i < n && !st; i++) {
			int64_t on = w0 + (int64_t)(rng_unif(r) *
						    (double)(w1 - w0 - SEC(1)));
			double d = rem ? rng_range(r, 0.3, 0.8) : 0.3;
			double amp = rng_range(r, 60, 200);
			double gaze = rem && rng_unif(r) < 0.5 ? -1 : 1;
			size_t before = win->n;
			st = add(s, win, rem ? EV_REM : EV_BLINK, on, SEC(d), -1,
				 amp, 0);
			if (!st && win->n > before && rem)  /* left or right */
				win->e[win->n - 1].split = gaze;
		}
	}
	return st;
}

/* ---- muscle events ---- */

static int plan_lm(psg_synth *s, evlist *win, int64_t on, int64_t series,
		   double bilateral)
{
	rng *r = &s->r_legs;
	/* Every draw happens whatever the montage: a missing leg must not
	   change the other leg's movements. */
	double d = clamp(rng_lognormal(r, 2.0, 0.5), 0.5, 10);
	/* >= 15 uV: the rectified envelope then rises >= 8 uV above rest
	   (WASM's onset rule), so every truth LM is one a scorer counts. */
	double amp = clamp(rng_lognormal(r, 25, 0.35), 15, 80);
	int side = rng_unif(r) < 0.5, both = rng_unif(r) < bilateral, st = 0;
	double off = rng_range(r, -0.4, 0.4);   /* the other leg joins */
	double d2 = clamp(d + rng_range(r, -0.5, 0.5), 0.5, 10);
	double amp2 = clamp(amp * rng_range(r, 0.6, 1.4), 15, 80);
	int c = chan_of(s, side ? R_LEG_R : R_LEG_L, side);
	int c2 = chan_of(s, side ? R_LEG_L : R_LEG_R, !side);
	size_t before = win->n;
	if (c >= 0)
		st = add(s, win, EV_LM, on, SEC(d), c, amp, 0);
	if (!st && c2 >= 0 && both)
		st = add(s, win, EV_LM, on + SEC(off), SEC(d2), c2, amp2, 0);
	/* add() drops what falls into a pause: tag only what was added. */
	for (size_t i = before; !st && i < win->n; i++)
		win->e[i].series = series;
	return st;
}

/* A PLM series (WASM 2016: >= 4 LMs, 10-90 s onset to onset) is drawn
   whole when it starts, and ends early where sleep turns to W or REM. */
static int plan_series(psg_synth *s, evlist *win, int64_t on)
{
	rng *r = &s->r_legs;
	int want = 4 + (int)rng_range(r, 0, 27), n = 0, st = 0;
	double period = rng_range(r, 18, 40);
	int64_t t = on, times[32];
	for (; n < want && n < 32; n++) {
		int stage = synth_stage_at(&s->hyp, t);
		if (t + SEC(10) > s->end || stage == PSG_STAGE_W ||
		    stage == PSG_STAGE_R || stage == PSG_STAGE_UNKNOWN)
			break;
		times[n] = t;
		t += SEC(clamp(period + rng_normal(r) * 3, 10, 90));
	}
	if (n < 4)
		return 0;
	int64_t id = ++s->next_series;
	if (chan_of(s, R_LEG_L, 0) >= 0 || chan_of(s, R_LEG_R, 1) >= 0)
		st = add(s, win, EV_PLM_SERIES, times[0],
			 times[n - 1] - times[0] + SEC(2), -1, n, (double)id);
	for (int i = 0; i < n && !st; i++)
		st = plan_lm(s, win, times[i], id, 0.3);
	return st;
}

static int plan_legs(psg_synth *s, evlist *win, int64_t w0, int64_t w1,
		     int stage)
{
	rng *r = &s->r_legs;
	const profile *p = s->p;
	int st = 0, nrem = stage >= PSG_STAGE_N1 && stage <= PSG_STAGE_N3;
	/* Isolated LMs per hour of sleep (the stage does not depend on the
	   montage, so skipping wake keeps the streams montage-free). */
	int n = stage >= PSG_STAGE_N1 ? poisson(r, p->lm_per_h, w1 - w0) : 0;
	for (int i = 0; i < n && !st; i++)
		st = plan_lm(s, win, w0 + (int64_t)(rng_unif(r) *
						    (double)(w1 - w0)), 0, 0.3);
	if (nrem && s->series_busy_until <= w0 &&
	    poisson(r, p->plm_series_per_h, w1 - w0) > 0) {
		st = st ? st : plan_series(s, win, w0 + SEC(rng_range(r, 0,
			(double)(w1 - w0) / TICKS_D)));
		for (size_t i = 0; i < win->n; i++)
			if (win->e[i].kind == EV_PLM_SERIES)
				s->series_busy_until = win->e[i].onset +
						       win->e[i].dur + SEC(90);
	}
	n = poisson(r, p->spasm_per_h, w1 - w0);
	for (int i = 0; i < n && !st; i++) {
		int side = rng_unif(r) < 0.5, both = rng_unif(r) < 0.3;
		int64_t on = w0 + (int64_t)(rng_unif(r) * (double)(w1 - w0));
		double d = clamp(rng_lognormal(r, 40, 0.6), 12, 180);
		double amp = rng_range(r, 20, 60);
		for (int k = 0; k <= both && !st; k++) {
			int c = chan_of(s, (side ^ k) ? R_LEG_R : R_LEG_L,
					side ^ k);
			if (c >= 0)
				st = add(s, win, EV_SPASM, on, SEC(d), c, amp, 0);
		}
	}
	n = poisson(r, p->leg_twitch_per_h, w1 - w0);
	for (int i = 0; i < n && !st; i++) {
		int side = rng_unif(r) < 0.5;
		int64_t on = w0 + (int64_t)(rng_unif(r) * (double)(w1 - w0));
		double d = rng_range(r, 0.1, 0.45), amp = rng_range(r, 15, 40);
		int c = chan_of(s, side ? R_LEG_R : R_LEG_L, side);
		if (c >= 0)
			st = add(s, win, EV_TWITCH, on, SEC(d), c, amp, 0);
	}
	return st;
}

static int plan_chin(psg_synth *s, evlist *win, int64_t w0, int64_t w1,
		     int stage)
{
	rng *r = &s->r_chin;
	int chin = chan_of(s, R_CHIN, 0), st = 0;
	if (chin < 0)
		return 0;
	if (stage == PSG_STAGE_R) {
		/* Phasic REM twitches, 4-10x the atonic tone. */
		int n = poisson(r, s->p->chin_twitch_per_min * 60, w1 - w0);
		for (int i = 0; i < n && !st; i++) {
			int64_t on = w0 + (int64_t)(rng_unif(r) *
						    (double)(w1 - w0 - SEC(1)));
			double d = rng_range(r, 0.1, 0.4);
			double amp = rng_range(r, 5, 12);
			st = add(s, win, EV_TWITCH, on, SEC(d), chin, amp, 0);
		}
	}
	if (stage == PSG_STAGE_W || stage == PSG_STAGE_R)
		return st;
	/* Bruxism: episodes of >= 3 phasic bursts of 0.25-2 s (Lavigne et
	   al. 1996), far above the chin's background. */
	int n = poisson(r, s->p->rmma_per_h, w1 - w0);
	for (int i = 0; i < n && !st; i++) {
		int64_t t = w0 + (int64_t)(rng_unif(r) * (double)(w1 - w0));
		int bursts = 3 + (int)rng_range(r, 0, 6);
		double amp = rng_range(r, 30, 80);
		int64_t start = t;
		size_t first = win->n;
		for (int b = 0; b < bursts && !st; b++) {
			double d = rng_range(r, 0.25, 1.5);
			st = add(s, win, EV_RMMA_BURST, t, SEC(d), chin,
				 amp * rng_range(r, 0.8, 1.2), 0);
			t += SEC(d + rng_range(r, 0.3, 1.0));
		}
		if (!st && win->n - first == (size_t)bursts) {
			const sevent *last = &win->e[win->n - 1];
			st = add(s, win, EV_RMMA, start,
				 last->onset + last->dur - start, chin, amp,
				 bursts);
		}
	}
	return st;
}

/* ---- other muscles (--muscles, issue 18) ---- */

/* Whether channel c (or every EMG channel, for c < 0) is busy between a
   and b, 3 s either side, with an event planned here or before. */
static int muscle_busy(const psg_synth *s, const evlist *win, int c,
		       int64_t a, int64_t b)
{
	const evlist *l[2] = {win, &s->active};
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < l[k]->n; i++) {
			const sevent *e = &l[k]->e[i];
			int mine = e->kind == EV_LMGM || (e->chan >= 0 &&
				   s->ch[e->chan].role == R_MUSCLE &&
				   (c < 0 || e->chan == c));
			if (mine && e->onset < b + SEC(3) && a < e->onset + e->dur + SEC(3))
				return 1;
		}
	return 0;
}

/* The i-th muscle of the --muscles montage, -1 if absent. */
static int muscle_chan(const psg_synth *s, int i)
{
	for (int c = 0, k = 0; c < s->h->nchannels; c++)
		if (s->ch[c].role == R_MUSCLE && k++ == i)
			return c;
	return -1;
}

/* A spasm (plateau or waxing-waning, 12 s to 5 min, 20-50 uV RMS) on one
   muscle, or on both paraspinals together (a bilateral back spasm), or a
   cramp (sudden, then rising, 30 s to 5 min, 30-70 uV) on the calf. */
static int plan_spasm(psg_synth *s, evlist *win, int64_t on, int cramp)
{
	rng *r = &s->r_muscles;
	int m = cramp ? 3 : (int)rng_range(r, 0, 3), both = rng_unif(r) < 0.4;
	double d = cramp ? rng_range(r, 30, 300) :
		   clamp(rng_lognormal(r, 40, 0.8), 12, 300);
	double amp = cramp ? rng_range(r, 30, 70) : rng_range(r, 20, 50);
	double shape = cramp ? 2 :
		     rng_unif(r) < 0.5, lag = rng_range(r, 0, 1);
	double period = cramp ? rng_range(r, 0.2, 0.5) : rng_range(r, 8, 25);
	int st = 0, n = m == 0 && both ? 2 : 1;
	for (int k = 0; k < n; k++)
		if (muscle_busy(s, win, muscle_chan(s, m + k), on,
				on + SEC(d + lag)))
			return 0;
	for (int k = 0; k < n && !st; k++) {
		size_t before = win->n;
		st = add(s, win, cramp ? EV_CRAMP : EV_SPASM, on + SEC(k * lag),
			 SEC(d), muscle_chan(s, m + k), amp, shape);
		if (!st && win->n > before)
			win->e[win->n - 1].split = period;
	}
	return st;
}

/* Fasciculation-like twitch trains: 3-8 twitches of 0.1-0.35 s, 0.8-3 s
   apart, on one muscle. */
static int plan_train(psg_synth *s, evlist *win, int64_t on)
{
	rng *r = &s->r_muscles;
	int m = (int)rng_range(r, 0, 4), n = 3 + (int)rng_range(r, 0, 6);
	double t = 0, amp = rng_range(r, 15, 40), d[8], gap[8];
	for (int i = 0; i < n; i++) {
		d[i] = rng_range(r, 0.1, 0.35), gap[i] = rng_range(r, 0.8, 3);
		t += d[i] + gap[i];
	}
	int c = muscle_chan(s, m), st = 0;
	if (muscle_busy(s, win, c, on, on + SEC(t)))
		return 0;
	t = 0;
	for (int i = 0; i < n && !st; i++) {
		st = add(s, win, EV_TWITCH, on + SEC(t), SEC(d[i]), c,
			 amp * rng_range(r, 0.8, 1.2), 0);
		t += d[i] + gap[i];
	}
	return st;
}

/* Per hour, whatever the stage (spasms wake people): spasms 4, cramps 1,
   twitch trains 4, and in NREM whole-body movements (LMGM) 1.5 besides
   those that start awakenings.  Each muscle event stays 3 s clear of the
   others on its muscle and of every movement. */
static int plan_muscles(psg_synth *s, evlist *win, int64_t w0, int64_t w1,
			int stage)
{
	rng *r = &s->r_muscles;
	int64_t span = w1 - w0;
	int st = 0, nrem = stage >= PSG_STAGE_N1 && stage <= PSG_STAGE_N3;
	if (!s->o.muscles || muscle_chan(s, 3) < 0)
		return 0;
	int n = poisson(r, 4, span), nc = poisson(r, 1, span);
	int nt = poisson(r, 4, span), nm = poisson(r, 1.5, span);
	for (int i = 0; i < n + nc && !st; i++)
		st = plan_spasm(s, win, w0 + (int64_t)(rng_unif(r) *
				(double)span), i >= n);
	for (int i = 0; i < nt && !st; i++)
		st = plan_train(s, win, w0 + (int64_t)(rng_unif(r) *
				(double)span));
	for (int i = 0; i < nm && !st; i++) {
		double d = rng_range(r, 2, 15), amp = rng_range(r, 40, 120);
		int64_t on = w0 + (int64_t)(rng_unif(r) * (double)span);
		if (nrem && !muscle_busy(s, win, -1, on, on + SEC(d)))
			st = add(s, win, EV_LMGM, on, SEC(d), -1, amp, 0);
	}
	return st;
}

/* Electrode artefacts, each channel from its own stream: the profile's
   rates are per night over the default montage's 8 EEG/EOG channels (11
   with the EMG for flat channels), so one channel's artefacts never
   depend on which others are there. */
static int plan_artefacts(psg_synth *s, evlist *win, int64_t w0, int64_t w1)
{
	const profile *p = s->p;
	int64_t span = w1 - w0;
	int st = 0;
	for (int c = 0; c < s->h->nchannels && !st; c++) {
		rng *r = &s->ch[c].art;
		int cortical = s->ch[c].role <= R_EOG_R;
		int wired = s->ch[c].role <= R_LEG_R;
		int n = poisson(r, p->pop_per_h / 8, span);
		for (int i = 0; i < n && !st; i++) {
			int64_t on = w0 + (int64_t)(rng_unif(r) * (double)span);
			double tau = rng_range(r, 0.3, 1.5);   /* decay, s */
			double amp = rng_range(r, 100, 300);
			if (cortical)
				st = add(s, win, EV_POP, on, SEC(5 * tau), c,
					 amp, tau);
		}
		n = poisson(r, p->saturation_per_h / 8, span);
		for (int i = 0; i < n && !st; i++) {
			int64_t on = w0 + (int64_t)(rng_unif(r) * (double)span);
			double d = rng_range(r, 2, 30);
			if (cortical)
				st = add(s, win, EV_SATURATION, on, SEC(d), c,
					 0, 0);
		}
		n = poisson(r, p->flat_per_h / 11, span);
		for (int i = 0; i < n && !st; i++) {
			int64_t on = w0 + (int64_t)(rng_unif(r) * (double)span);
			double d = rng_range(r, 60, 900);
			if (wired)
				st = add(s, win, EV_FLAT, on, SEC(d), c, 0, 0);
		}
	}
	return st;
}

/* Movement artefacts in NREM (the sweat profile): 2-8 s of
   large-muscle-group activity in the EEG and EMG, without waking. */
static int plan_nrem_moves(psg_synth *s, evlist *win, int64_t w0,
			   int64_t w1, int stage)
{
	rng *r = &s->r_legs;
	int st = 0;
	if (s->p->nrem_moves_per_h <= 0 ||
	    (stage != PSG_STAGE_N2 && stage != PSG_STAGE_N3))
		return 0;
	int n = poisson(r, s->p->nrem_moves_per_h, w1 - w0);
	for (int i = 0; i < n && !st; i++) {
		double d = rng_range(r, 2, 8);
		int64_t on = w0 + (int64_t)(rng_unif(r) * (double)(w1 - w0 -
								   SEC(d)));
		double amp = rng_range(r, 40, 120);
		st = add(s, win, EV_LMGM, on, SEC(d), -1, amp, 0);
	}
	return st;
}

/* ---- the epoch ---- */

static int by_onset(const void *a, const void *b)
{
	const sevent *x = a, *y = b;
	if (x->onset != y->onset)
		return x->onset < y->onset ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/* AASM: a wave counts toward N3 when it is 0.5-2 Hz and >= 75 uV p2p on
   the frontal derivation (which gets the full amplitude, see render). */
static int qualifies(const sevent *e)
{
	return (e->kind == EV_SLOW_WAVE || e->kind == EV_K_COMPLEX) &&
	       e->amp >= 75 && e->freq >= 0.5 && e->freq <= 2;
}

static int epoch_truth(psg_synth *s, const evlist *win, int64_t w0,
		       int64_t w1)
{
	psg_truth_epoch te = {.epoch = w0 / s->epoch_len,
		.stage = synth_stage_at(&s->hyp, w0 + (w1 - w0) / 2)};
	double covered = 0, gap = 0;
	for (size_t i = 0; i < win->n; i++) {
		const sevent *e = &win->e[i];
		if (!qualifies(e))
			continue;
		int64_t a = e->onset > w0 ? e->onset : w0;
		int64_t b = e->onset + e->dur < w1 ? e->onset + e->dur : w1;
		if (b > a)
			covered += (double)(b - a);
		te.sw_count += e->onset >= w0 && e->onset < w1;
	}
	for (int i = 0; i < s->ngaps; i++) {
		int64_t a = s->gaps[i].onset > w0 ? s->gaps[i].onset : w0;
		int64_t e = s->gaps[i].onset + s->gaps[i].dur;
		int64_t b = e < w1 ? e : w1;
		if (b > a)
			gap += (double)(b - a);
	}
	te.sws_fraction = covered / (double)s->epoch_len;
	te.recorded = 1 - gap / (double)s->epoch_len;
	if (s->nep == s->ep_cap) {
		if (s->ep_head) {   /* taken items make room */
			memmove(s->epochs, s->epochs + s->ep_head,
				(s->nep - s->ep_head) * sizeof *s->epochs);
			s->nep -= s->ep_head, s->ep_head = 0;
		}
		if (s->nep == s->ep_cap) {
			size_t cap = s->ep_cap ? 2 * s->ep_cap : 16;
			psg_truth_epoch *p = realloc(s->epochs,
						     cap * sizeof *p);
			if (!p)
				return PSG_ERR_NOMEM;
			s->epochs = p, s->ep_cap = cap;
		}
	}
	s->epochs[s->nep++] = te;
	return 0;
}

static int plan_epoch(psg_synth *s, int64_t w0)
{
	int64_t w1 = w0 + s->epoch_len < s->end ? w0 + s->epoch_len : s->end;
	int stage = synth_stage_at(&s->hyp, w0 + (w1 - w0) / 2);
	evlist win = {0};
	int st = plan_waves(s, &win, w0, w1, stage);
	st = st ? st : plan_spindles(s, &win, w0, w1, stage);
	st = st ? st : plan_arousals(s, &win, w0, w1);
	st = st ? st : plan_awakenings(s, &win, w0, w1);
	st = st ? st : plan_eyes(s, &win, w0, w1, stage);
	st = st ? st : plan_legs(s, &win, w0, w1, stage);
	st = st ? st : plan_chin(s, &win, w0, w1, stage);
	st = st ? st : plan_artefacts(s, &win, w0, w1);
	st = st ? st : plan_nrem_moves(s, &win, w0, w1, stage);
	st = st ? st : plan_muscles(s, &win, w0, w1, stage);
	if (!st && w1 - w0 == s->epoch_len)
		st = epoch_truth(s, &win, w0, w1);
	if (win.n)
		qsort(win.e, win.n, sizeof *win.e, by_onset);
	for (size_t i = 0; i < win.n && !st; i++)
		st = evlist_push(&s->active, &win.e[i]) ||
		     evlist_push(&s->truth, &win.e[i]);
	free(win.e);
	return st ? PSG_ERR_NOMEM : 0;
}

int synth_plan_until(psg_synth *s, int64_t t)
{
	while (s->planned < t && s->planned < s->end) {
		int st = plan_epoch(s, s->planned);
		if (st)
			return st;
		s->planned += s->epoch_len;
	}
	return 0;
}
