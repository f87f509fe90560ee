/* muscle.c -- contractions of any muscle from its EMG envelope (issue 18):
 * a running percentile, and a detector with a resting level that long
 * contractions cannot move.
 *
 * Rest: the P-th percentile (10) of the envelope's 0.5-s means over the
 * last `window` s (300).  While a contraction lasts, its blocks stay out
 * of the window and the rest is the one at its onset, for up to `hold` s
 * (600: nocturnal cramps last seconds to 10 minutes, Allen & Kirby 2012,
 * Am Fam Physician 86:350).  A centred moving level would take a long
 * contraction for the rest and end it early (a 91-s chin contraction came
 * out as two 18-s bursts).
 *
 * Onset: the envelope rises on_uv (8) above rest (WASM 2016, Ferri et al.,
 * Sleep Med 26:86: the leg rule, the only published amplitude rule for a
 * limb muscle's surface EMG in sleep) and to ratio x rest (2: the AASM
 * Manual's ">= 2x background" for chin activity), so that a muscle with a
 * high tone needs a proportionate rise.  Offset: the start of off_s (0.5,
 * WASM) whose mean is within off_uv (2, WASM) of rest, or within rel_off
 * (0.2) of the contraction's highest off_s mean, and no value of which is
 * above twice that.  The relative offset is our choice (no published
 * number): a whole-body movement into wake ends where the movement ends,
 * not where the wake's higher tone does.  Contractions shorter than min_s
 * (0.1, AASM transient muscle activity) are dropped.
 *
 * A rise that lasts tone_s (10) with a mean below the onset rise, and
 * that has levelled off, is a change of tone, not a contraction (the
 * chin's tone is higher awake than asleep, AASM Manual; 2-8x in
 * psg-synth): it is dropped, and the rest starts again from the new tone.
 * Levelled off: the mean of the last third of its 1-s means is less than
 * on_uv / 8 (1 uV) above the first third's.  A cramp that creeps in
 * crosses the onset on its envelope's peaks while its mean is still under
 * it; it keeps rising, so it stays a contraction until its mean reaches
 * the rise (without this, its rest followed it and it was lost).  A tone
 * step larger than the onset rise comes out as a spasm as long as the
 * step (our rules: no published one separates them).
 *
 * Shape (no scoring rule exists; our definitions): from the contraction's
 * 1-s means above rest, the time from onset to the highest, and the sub-
 * bursts: rises above 0.75 of that highest after a fall below half of it
 * (the first rise counts); a contraction with two or more waxes and wanes.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SHAPE_MAX 3600          /* 1-s means kept for the shape (1 h) */
#define SUB_HI 0.75
#define SUB_LO 0.5

struct psg_pctl {
	float *ring, *sorted;
	int cap, head, n;
};

psg_pctl *psg_pctl_new(int cap)
{
	psg_pctl *p = calloc(1, sizeof *p);
	if (!p || cap < 1)
		return free(p), NULL;
	p->ring = calloc((size_t)cap, sizeof *p->ring);
	p->sorted = calloc((size_t)cap, sizeof *p->sorted);
	if (!p->ring || !p->sorted) {
		psg_pctl_free(p);
		return NULL;
	}
	p->cap = cap;
	return p;
}

void psg_pctl_free(psg_pctl *p)
{
	if (p)
		free(p->ring), free(p->sorted), free(p);
}

void psg_pctl_reset(psg_pctl *p)
{
	p->n = p->head = 0;
}

/* First index in sorted[0..n) not below v.  The halving picks its half
   by a select, not a branch: the branches followed the data and cost a
   misprediction per step (4 % of psg-emg's time). */
static int lower(const float *s, int n, float v)
{
	const float *b = s;
	if (n <= 0)
		return 0;
	while (n > 1) {
		int half = n / 2;
		b = b[half] < v ? b + half : b;
		n -= half;
	}
	return (int)(b - s) + (*b < v);
}

/* lower() of u and of v at once: the halvings do not depend on the
   values, so the two searches step together and their loads overlap
   (each alone waits on its previous load). */
static void lower2(const float *s, int n, float u, float v, int *iu, int *iv)
{
	const float *a = s, *b = s;
	while (n > 1) {
		int half = n / 2;
		a = a[half] < u ? a + half : a;
		b = b[half] < v ? b + half : b;
		n -= half;
	}
	*iu = (int)(a - s) + (*a < u);
	*iv = (int)(b - s) + (*b < v);
}

void psg_pctl_push(psg_pctl *p, float v)
{
	float *s = p->sorted;
	if (p->n == p->cap) {   /* v takes the oldest's place: one move */
		int i, j;
		lower2(s, p->n, p->ring[p->head], v, &i, &j);
		if (v > s[i]) {         /* s[i] is the oldest: j > i */
			memmove(s + i, s + i + 1, (size_t)(j - i - 1) * sizeof *s);
			s[j - 1] = v;
		} else {                /* j <= i: below the oldest's place */
			memmove(s + j + 1, s + j, (size_t)(i - j) * sizeof *s);
			s[j] = v;
		}
	} else {
		int i = lower(s, p->n, v);
		memmove(s + i + 1, s + i, (size_t)(p->n - i) * sizeof *s);
		s[i] = v;
		p->n++;
	}
	p->ring[p->head] = v;
	if (++p->head == p->cap)
		p->head = 0;
}

double psg_pctl_get(const psg_pctl *p, double pct)
{
	if (p->n < 4)
		return NAN;
	return p->sorted[(int)(pct / 100 * (p->n - 1) + 0.5)];
}

/* ---- the detector ---- */

struct psg_muscle {
	psg_muscle_opts o;
	double rate;                /* envelope values per second */
	psg_pctl *rest;
	double rest_pct, rise_pct;  /* its percentile and the onset rise over
				       it, kept from push to push */
	int blen, bn;               /* 0.5-s block means */
	double bsum, now;
	/* the contraction in progress */
	int in;
	double on, rest_on, rise, peak, peak_t, sum, level, last_t;
	long n;
	float *qw;                  /* the last W values above rest */
	int W, qwi, qwn;
	double qsum;
	float *sec;                 /* its 1-s means, for the shape */
	int slen, sn, nsec;
	int rising, rising_at;      /* still rising, as of nsec == rising_at */
	double ssum;
};

void psg_muscle_defaults(psg_muscle_opts *o)
{
	*o = (psg_muscle_opts){.on_uv = 8, .ratio = 2, .off_uv = 2,
		.off_s = 0.5, .rel_off = 0.2, .pct = 10, .window = 300,
		.hold = 600, .min_s = 0.1, .tone_s = 10};
}

psg_muscle *psg_muscle_new(const psg_muscle_opts *o, double rate)
{
	psg_muscle *m = calloc(1, sizeof *m);
	if (!m || !(rate > 0))
		return free(m), NULL;
	m->o = *o, m->rate = rate;
	m->blen = (int)fmax(1, lround(0.5 * rate));
	m->slen = (int)fmax(1, lround(rate));
	m->W = (int)fmax(2, lround(o->off_s * rate));
	m->rest = psg_pctl_new((int)ceil(o->window / 0.5));
	m->rest_pct = NAN;
	m->qw = calloc((size_t)m->W, sizeof *m->qw);
	m->sec = calloc(SHAPE_MAX, sizeof *m->sec);
	if (!m->rest || !m->qw || !m->sec) {
		psg_muscle_free(m);
		return NULL;
	}
	return m;
}

void psg_muscle_free(psg_muscle *m)
{
	if (!m)
		return;
	psg_pctl_free(m->rest);
	free(m->qw), free(m->sec), free(m);
}

double psg_muscle_rest(const psg_muscle *m)
{
	return m->rest_pct;
}

/* The window changed: its percentile once, not at every value. */
static void rest_push(psg_muscle *m, float v)
{
	psg_pctl_push(m->rest, v);
	m->rest_pct = psg_pctl_get(m->rest, m->o.pct);
	m->rise_pct = fmax(m->o.on_uv, (m->o.ratio - 1) * m->rest_pct);
}

static void rest_reset(psg_muscle *m)
{
	psg_pctl_reset(m->rest);
	m->rest_pct = NAN;
}

double psg_muscle_pending(const psg_muscle *m)
{
	return m->in ? m->on : m->now;
}

/* Time to the highest 1-s mean (to the highest value when shorter than
   a second), and the sub-bursts. */
static void shape(const psg_muscle *m, int nsec, psg_contraction *c)
{
	double top = 0;
	int k = -1, up = 0;
	for (int i = 0; i < nsec; i++)
		if (m->sec[i] > top)
			top = m->sec[i], k = i;
	c->sub_bursts = nsec ? 0 : 1;
	for (int i = 0; i < nsec; i++) {
		if (!up && m->sec[i] >= SUB_HI * top)
			up = 1, c->sub_bursts++;
		else if (up && m->sec[i] < SUB_LO * top)
			up = 0;
	}
	c->t_peak = k >= 0 ? k + 0.5 : c->t_peak;
	c->waxing = c->sub_bursts >= 2;
}

static int close_at(psg_muscle *m, double off, double mean,
		    psg_contraction *c)
{
	m->in = 0;
	if (off - m->on < m->o.min_s)
		return 0;
	*c = (psg_contraction){.on = m->on, .off = off, .peak = m->peak,
		.mean = mean, .rest = m->rest_on, .t_peak = m->peak_t};
	/* Only the seconds before the offset: the last W values are rest. */
	int nsec = (int)fmin(m->nsec, floor((off - m->on) + 1e-9));
	shape(m, nsec, c);
	return 1;
}

static void start(psg_muscle *m, double t, double x, double rest,
		  double rise)
{
	m->in = 1, m->on = t, m->rest_on = rest, m->rise = rise;
	m->peak = x, m->peak_t = 0, m->sum = 0, m->n = 0, m->level = 0;
	m->qsum = 0, m->qwn = 0, m->qwi = 0;
	m->ssum = 0, m->sn = 0, m->nsec = 0;
	m->rising = 0, m->rising_at = -1;
}

/* The value x above rest joins the contraction in progress. */
static void take(psg_muscle *m, double t, double x)
{
	m->sum += x, m->n++;
	m->last_t = t;
	if (x > m->peak)
		m->peak = x, m->peak_t = t - m->on;
	if (m->qwn == m->W)
		m->qsum -= m->qw[m->qwi];
	else
		m->qwn++;
	m->qw[m->qwi] = (float)x;
	m->qsum += x;
	m->qwi = (m->qwi + 1) % m->W;
	if (m->qwn == m->W)
		m->level = fmax(m->level, m->qsum / m->W);
	m->ssum += x;
	if (++m->sn == m->slen) {
		if (m->nsec < SHAPE_MAX)
			m->sec[m->nsec++] = (float)(m->ssum / m->slen);
		m->ssum = 0, m->sn = 0;
	}
}

/* Its last third of 1-s means lies on_uv / 8 or more above its first
   third: it has not levelled off (not a new tone yet). */
static int rising(psg_muscle *m)
{
	if (m->rising_at == m->nsec)
		return m->rising;
	int k = m->nsec / 3;
	double first = 0, last = 0;
	for (int i = 0; i < k; i++)
		first += m->sec[i], last += m->sec[m->nsec - 1 - i];
	m->rising_at = m->nsec;
	m->rising = k > 0 && (last - first) / k >= m->o.on_uv / 8;
	return m->rising;
}

/* off_s of rest: within off_uv of it, or within rel_off of the
   contraction's level, on average and each value within twice that. */
static int at_rest(const psg_muscle *m)
{
	double lim = fmax(m->o.off_uv, m->o.rel_off * m->level);
	if (m->qwn < m->W || m->qsum / m->W > lim)
		return 0;
	for (int i = 0; i < m->W; i++)
		if (m->qw[i] > 2 * lim)
			return 0;
	return 1;
}

int psg_muscle_push(psg_muscle *m, double t, double e, psg_contraction *c)
{
	int frozen = m->in && t - m->on < m->o.hold;
	m->now = t;
	if (!frozen) {          /* a contraction's blocks are not rest */
		m->bsum += e;
		if (++m->bn == m->blen) {
			rest_push(m, (float)(m->bsum / m->blen));
			m->bsum = 0, m->bn = 0;
		}
	} else {
		m->bsum = 0, m->bn = 0;
	}
	double rest = frozen ? m->rest_on : psg_muscle_rest(m);
	if (isnan(rest))
		return 0;
	double x = e - rest;
	if (!m->in) {
		if (x < m->rise_pct)    /* not frozen: rest is rest_pct */
			return 0;
		start(m, t, x, rest, m->rise_pct);
	}
	take(m, t, x);
	if (t - m->on >= m->o.tone_s && m->sum / m->n < m->rise &&
	    !rising(m)) {
		m->in = 0;              /* a new tone: rest starts from it */
		rest_reset(m);
		m->bn = 0, m->bsum = 0;
		return 0;
	}
	if (!at_rest(m))
		return 0;
	return close_at(m, t - (m->W - 1) / m->rate, m->n > m->W ?
			(m->sum - m->qsum) / (double)(m->n - m->W) : m->peak,
			c);
}

int psg_muscle_end(psg_muscle *m, psg_contraction *c)
{
	int got = m->in && close_at(m, m->last_t, m->n ? m->sum / m->n : 0, c);
	rest_reset(m);
	m->in = 0, m->bn = 0, m->bsum = 0;
	return got;
}
