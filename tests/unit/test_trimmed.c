/*
 * test_trimmed.c -- psg_trimmed (pipeline/trimmed.c) against the trimmed
 * mean and SD summed afresh from the sorted values, as psg-spindle did
 * before: over 60 000 sliding windows (234 rounds of running sums), while
 * baselines grow and shrink, through duplicates, flat stretches and a
 * large offset.
 */
#include "internal.h"
#include "tap.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252u;

static double uniform(void)     /* xorshift64: [0, 1) */
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The reference: sort, take ranks lround(q (n - 1)), two passes. */
static int direct(const double *v, int n, double qlo, double qhi, double *m,
		  double *sd)
{
	double *s = malloc((size_t)(n + 1) * sizeof *s), a = 0, q = 0;
	memcpy(s, v, (size_t)n * sizeof *s);
	qsort(s, (size_t)n, sizeof *s, cmp_double);
	int lo = (int)lround(qlo * (n - 1)), hi = (int)lround(qhi * (n - 1));
	int k = hi - lo + 1;
	for (int i = lo; i <= hi; i++)
		a += s[i];
	*m = a / k;
	for (int i = lo; i <= hi; i++)
		q += (s[i] - *m) * (s[i] - *m);
	*sd = k > 1 ? sqrt(q / (k - 1)) : 0;
	free(s);
	return k;
}

/* The worst disagreement, in units of the tolerance: 1e-12 of the
   reference's SD, and for the mean also 1e-13 of its size (the values'
   own rounding, and the reference's, at a mean of 1e6 with an SD of
   0.1). */
static double worst;
static int mismatches, zero_spread, zero_ok;

static void compare(const psg_trimmed *b, const double *v, int n)
{
	double m, sd, rm, rsd;
	if (n < 1)
		return;
	int k = psg_trimmed_stats(b, &m, &sd), rk = direct(v, n, 0.1, 0.9,
							    &rm, &rsd);
	if (k != rk) {
		mismatches++;
		return;
	}
	if (rsd == 0) {
		zero_spread++;
		zero_ok += sd == 0 && psg_trimmed_z(b, rm + 1) == 0;
		return;
	}
	double e = fmax(fabs(m - rm) / (1e-12 * rsd + 1e-13 * fabs(rm)),
			fabs(sd - rsd) / (1e-12 * rsd));
	worst = fmax(worst, e);
}

/* A log10-like feature: a slow drift, noise, now and then a value
   repeated exactly, a flat stretch, and a stretch far from zero. */
static double feature(int i)
{
	static double last;
	if (i % 50000 >= 20000 && i % 50000 < 21000)
		return -6;                     /* log10 of the floor: flat */
	double off = i % 50000 >= 30000 && i % 50000 < 32000 ? 1e6 : 0;
	double x = off + sin(i / 3000.0) + 0.3 * (uniform() - 0.5);
	if (uniform() < 0.05)
		x = last;
	return last = x;
}

int main(void)
{
	enum { W = 301, N = 60000 };
	psg_trimmed *b = psg_trimmed_new(512, 10, 90);
	double *v = malloc(N * sizeof *v), win[W];
	OK(b && v, "a baseline of 512 values");

	/* 0.1-s windows for 100 minutes, a 30-s baseline sliding. */
	for (int i = 0; i < N; i++) {
		v[i] = feature(i);
		psg_trimmed_add(b, v[i]);
		if (i >= W)
			psg_trimmed_remove(b, v[i - W]);
		int n = i + 1 < W ? i + 1 : W;
		memcpy(win, v + i + 1 - n, (size_t)n * sizeof *win);
		compare(b, win, n);
	}
	OK(mismatches == 0, "the trimmed ranks' count agrees at every window "
	   "(%d disagree)", mismatches);
	OK(worst <= 1, "mean and SD within 1e-12 SD of a fresh two-pass "
	   "sum over %d windows (worst %.3g of that)", N, worst);
	OK(zero_spread > 0 && zero_ok == zero_spread, "all trimmed values "
	   "equal: SD exactly 0 and z 0 (%d of %d windows)", zero_ok,
	   zero_spread);

	/* A segment's end: the baseline shrinks to nothing, then grows. */
	worst = 0, mismatches = 0;
	for (int n = W; n > 0; n--) {
		psg_trimmed_remove(b, v[N - n]);
		compare(b, v + N - n + 1, n - 1);
	}
	OK(psg_trimmed_count(b) == 0, "emptied value by value");
	for (int i = 0; i < 40; i++) {
		psg_trimmed_add(b, v[i]);
		compare(b, v, i + 1);
	}
	OK(mismatches == 0 && worst <= 1, "shrinking and growing again: "
	   "within 1e-12 SD (worst %.3g of that)", worst);

	/* Ranks by hand: 0..10, 10th-90th percentile = ranks 1..9. */
	psg_trimmed_clear(b);
	for (int i = 10; i >= 0; i--)
		psg_trimmed_add(b, i);
	double m, sd;
	int k = psg_trimmed_stats(b, &m, &sd);
	OK(k == 9 && fabs(m - 5) < 1e-12 && fabs(sd - sqrt(7.5)) < 1e-12,
	   "0..10: ranks 1-9, mean 5, SD sqrt(7.5) (got %d, %g, %g)", k, m,
	   sd);
	OK(fabs(psg_trimmed_z(b, 5 + sqrt(7.5)) - 1) < 1e-12,
	   "z of mean + SD is 1");
	OK(psg_trimmed_remove(b, 3.5) == 0 && psg_trimmed_count(b) == 11,
	   "removing a value not held changes nothing");
	OK(psg_trimmed_add(b, NAN) == PSG_ERR_ARG, "NaN refused");
	psg_trimmed_clear(b);
	OK(psg_trimmed_z(b, 1) == 0 && psg_trimmed_stats(b, &m, &sd) == 0,
	   "empty: z 0, no values");
	psg_trimmed_add(b, 2);
	OK(psg_trimmed_z(b, 5) == 0, "one value: z 0");
	for (int i = 1; i < 512; i++)
		psg_trimmed_add(b, i);
	OK(psg_trimmed_add(b, 1) == PSG_ERR_ARG, "full at 512 values");
	OK(!psg_trimmed_new(0, 10, 90) && !psg_trimmed_new(8, 90, 10),
	   "no baseline of 0 values or with its percentiles crossed");
	psg_trimmed_free(b);
	free(v);
	return TAP_DONE();
}
