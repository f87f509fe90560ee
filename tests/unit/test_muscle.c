/* test_muscle.c -- pipeline/muscle.c on envelopes written here: the rest
 * does not move during a 5-min contraction, a twitch, a burst, the
 * relative offset (a movement into a higher tone ends with the movement),
 * the shape (time to peak, sub-bursts), a break in the signal, and the
 * running percentile. */
#include "psg.h"
#include "tap.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RATE 100.0

/* A reproducible rest: 2 uV with +-0.5 uV of uniform noise. */
static double rest_noise(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return 2 + ((double)(*seed >> 8 & 0xffff) / 65535 - 0.5);
}

typedef double (*shape_fn)(double t);

/* Feeds len s of rest plus f(t) from 0; collects up to max contractions. */
static int run(psg_muscle *m, double len, shape_fn f, psg_contraction *c,
	       int max)
{
	unsigned seed = 7;
	int n = 0;
	for (long i = 0; i < (long)(len * RATE); i++) {
		double t = i / RATE;
		if (psg_muscle_push(m, t, rest_noise(&seed) + f(t), &c[n]) &&
		    n + 1 < max)
			n++;
	}
	if (psg_muscle_end(m, &c[n]) && n + 1 < max)
		n++;
	return n;
}

static double plateau(double t)        /* 300 s at +20 uV from 400 s */
{
	return t >= 400 && t < 700 ? 20 : 0;
}

static double twitch_burst(double t)   /* 0.3 s and 3 s, +30 uV */
{
	return (t >= 400 && t < 400.3) || (t >= 500 && t < 503) ? 30 : 0;
}

static double move_into_tone(double t) /* 30 s at +60, then +6 to 900 s */
{
	return t >= 400 && t < 430 ? 60 : t >= 430 && t < 900 ? 6 : 0;
}

static double waxing(double t)   /* 60 s, three waves (10-40 uV) from 400 s */
{
	if (t < 400 || t >= 460)
		return 0;
	double u = t - 400;
	return 25 - 15 * cos(2 * 3.141592653589793 * u / 20);
}

/* From 400 s a tone of +5 uV with a 0.2-s rise to +10 every second (its
   peaks cross the 8-uV onset, its mean does not), and inside it from 700 s
   a 30-s contraction at +30. */
static double tone_step(double t)
{
	double tone = t >= 400 ? 5 + 5 * (fmod(t, 1) < 0.2) : 0;
	return tone + (t >= 700 && t < 730 ? 30 : 0);
}

static double ramp(double t)           /* 40 s rising to +40 over 30 s */
{
	if (t < 400 || t >= 440)
		return 0;
	return 10 + fmin(30, (t - 400));
}

/* A cramp that creeps in: from 400 s it rises by 0.2 uV/s to +40 uV
   (200 s), holds 100 s, and ends; its envelope ripples +-3 uV at 1 Hz,
   so the first crossings of the onset come while its mean is still under
   it (a real envelope fluctuates so). */
static double creep(double t)
{
	if (t < 400 || t >= 700)
		return 0;
	double u = t - 400;
	return fmin(40, 0.2 * u) + 3 * sin(2 * 3.141592653589793 * u);
}

int main(void)
{
	psg_muscle_opts o;
	psg_contraction c[8];
	psg_muscle_defaults(&o);
	psg_muscle *m = psg_muscle_new(&o, RATE);
	int n = run(m, 900, plateau, c, 8);
	OK(n == 1 && fabs(c[0].on - 400) < 0.1 && fabs(c[0].off - 700) < 0.6,
	   "a 300-s contraction is one, 400-700 s (%d: %.1f-%.1f)", n,
	   n ? c[0].on : 0, n ? c[0].off : 0);
	OK(n == 1 && fabs(c[0].rest - 2) < 0.5 && fabs(c[0].mean - 20) < 1,
	   "...over the rest before it (%.2f uV), mean 20 uV above (%.2f)",
	   n ? c[0].rest : 0, n ? c[0].mean : 0);
	OK(n == 1 && c[0].sub_bursts == 1 && !c[0].waxing,
	   "...one sub-burst, no waxing and waning (%d)",
	   n ? c[0].sub_bursts : 0);
	psg_muscle_free(m);

	m = psg_muscle_new(&o, RATE);
	n = run(m, 700, twitch_burst, c, 8);
	OK(n == 2 && fabs(c[0].off - c[0].on - 0.3) < 0.1 &&
	   fabs(c[1].off - c[1].on - 3) < 0.2,
	   "a 0.3-s twitch and a 3-s burst (%d: %.2f s, %.2f s)", n,
	   n > 0 ? c[0].off - c[0].on : 0, n > 1 ? c[1].off - c[1].on : 0);
	psg_muscle_free(m);

	m = psg_muscle_new(&o, RATE);
	n = run(m, 1000, move_into_tone, c, 8);
	OK(n >= 1 && fabs(c[0].on - 400) < 0.1 && fabs(c[0].off - 430) < 1,
	   "a 30-s movement into a tone of +6 uV ends with the movement "
	   "(%.1f-%.1f s)", n ? c[0].on : 0, n ? c[0].off : 0);
	psg_muscle_opts abs_only = o;
	abs_only.rel_off = 0;
	psg_muscle_free(m);
	m = psg_muscle_new(&abs_only, RATE);
	n = run(m, 1000, move_into_tone, c, 8);
	OK(n >= 1 && c[0].off > 800,
	   "...and without the relative offset runs on into the tone (to "
	   "%.1f s)", n ? c[0].off : 0);
	psg_muscle_free(m);

	m = psg_muscle_new(&o, RATE);
	n = run(m, 700, waxing, c, 8);
	OK(n == 1 && c[0].sub_bursts == 3 && c[0].waxing,
	   "a contraction of three waves is one, waxing and waning, 3 "
	   "sub-bursts (%d events, %d)", n, n ? c[0].sub_bursts : 0);
	psg_muscle_free(m);

	m = psg_muscle_new(&o, RATE);
	n = run(m, 900, tone_step, c, 8);
	OK(n == 1 && fabs(c[0].on - 700) < 0.2 && fabs(c[0].off - 730) < 1 &&
	   fabs(c[0].rest - 6) < 1.5,
	   "a tone step of +5 uV is a new rest, not a spasm; a contraction "
	   "in it is found over it (%d: %.1f-%.1f s over %.1f uV)", n,
	   n ? c[0].on : 0, n ? c[0].off : 0, n ? c[0].rest : 0);
	psg_muscle_free(m);

	m = psg_muscle_new(&o, RATE);
	n = run(m, 700, ramp, c, 8);
	OK(n == 1 && c[0].t_peak > 29 && c[0].t_peak < 40,
	   "a contraction rising for 30 s peaks 30-40 s in (%.1f s)",
	   n ? c[0].t_peak : 0);
	psg_muscle_free(m);

	m = psg_muscle_new(&o, RATE);
	n = run(m, 1000, creep, c, 8);
	OK(n == 1 && c[0].on < 460 && fabs(c[0].off - 700) < 1 &&
	   fabs(c[0].rest - 2) < 0.5,
	   "a cramp creeping in over 200 s is one contraction from its first "
	   "minute to its end, over the rest before it (%d: %.1f-%.1f s over "
	   "%.1f uV)", n, n ? c[0].on : 0, n ? c[0].off : 0,
	   n ? c[0].rest : 0);
	psg_muscle_free(m);

	/* A break inside a contraction ends it there; the rest starts again. */
	m = psg_muscle_new(&o, RATE);
	unsigned seed = 3;
	int got = 0;
	for (long i = 0; i < 50000; i++)
		got += psg_muscle_push(m, i / RATE, rest_noise(&seed) +
				       (i >= 40000 ? 25 : 0), &c[0]);
	int ended = psg_muscle_end(m, &c[0]);
	OK(!got && ended && fabs(c[0].off - 499.99) < 0.05 &&
	   isnan(psg_muscle_rest(m)),
	   "a break ends the contraction in progress at its last value "
	   "(%.2f s) and forgets the rest", c[0].off);
	psg_muscle_free(m);

	psg_pctl *p = psg_pctl_new(5);
	for (int i = 1; i <= 8; i++)
		psg_pctl_push(p, (float)i);
	OK(psg_pctl_get(p, 0) == 4 && psg_pctl_get(p, 100) == 8 &&
	   psg_pctl_get(p, 50) == 6,
	   "the running percentile holds the last 5 values (4..8)");
	psg_pctl_reset(p);
	OK(isnan(psg_pctl_get(p, 50)), "...and none after a reset");
	psg_pctl_free(p);

	/* Values in any order, with ties: each percentile against a fresh
	   sort of the window's last CAP values. */
	enum { CAP = 37, NV = 3000 };
	float hist[NV], win[CAP];
	uint32_t x = 12345;
	int bad = 0;
	p = psg_pctl_new(CAP);
	for (int i = 0; i < NV; i++) {
		x = x * 1664525u + 1013904223u;
		hist[i] = (float)(x >> 24) / 8;   /* 0..32 in steps of 1/8 */
		psg_pctl_push(p, hist[i]);
		int w = i + 1 < CAP ? i + 1 : CAP;
		memcpy(win, hist + i + 1 - w, (size_t)w * sizeof *win);
		for (int a = 1; a < w; a++)       /* insertion sort */
			for (int b = a; b > 0 && win[b - 1] > win[b]; b--) {
				float t = win[b];
				win[b] = win[b - 1], win[b - 1] = t;
			}
		for (double q = 0; q <= 100 && w >= 4; q += 12.5)
			bad += psg_pctl_get(p, q) !=
			       win[(int)(q / 100 * (w - 1) + 0.5)];
	}
	OK(!bad, "the running percentile equals a sort of the window over "
	   "%d values with ties (%d differ)", NV, bad);
	psg_pctl_free(p);
	return TAP_DONE();
}
