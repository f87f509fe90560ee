/*
 * trimmed.c -- the mean and SD of a sliding baseline's values between two
 * of its percentiles (psg.h), kept as values enter and leave.
 *
 * psg-spindle's z-scores (A7, Lacourse et al. 2019) use the mean and SD of
 * the 30 s around each 0.1-s window, between the baseline's 10th and 90th
 * percentiles.  Summing those 240 values afresh for each window was a
 * quarter of the stage's time.  Here the values are kept sorted, and the
 * sums of the trimmed ranks follow them: a value that enters or leaves
 * moves the ranks' ends by a value or two, and only those are added or
 * taken off.  The sums are of v - c, c the trimmed mean when they were
 * last made afresh (every RESUM changes, or sooner: changed()), so the
 * SD has no cancellation and the rounding of the running sums never
 * spans more than RESUM changes: the mean and SD differ from a fresh
 * two-pass sum in the last bits only (tests/unit/test_trimmed.c: within
 * 1e-14 of the SD).
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RESUM 256

struct psg_trimmed {
	double *v;                  /* the values, ascending */
	int n, cap;
	int *rlo, *rhi;             /* the percentiles' ranks for n values */
	int lo, hi;                 /* their ranks in v */
	double c;                   /* the sums are of v - c */
	double s1, s2;              /* sum of v - c, (v - c)^2 over lo..hi */
	double high;                /* the most s2 was since then */
	int age;                    /* changes since they were made afresh */
};

psg_trimmed *psg_trimmed_new(int cap, double lo_pct, double hi_pct)
{
	if (cap < 1 || !(lo_pct >= 0 && lo_pct <= hi_pct && hi_pct <= 100))
		return NULL;
	psg_trimmed *b = calloc(1, sizeof *b);
	if (!b || !(b->v = malloc((size_t)cap * sizeof *b->v)) ||
	    !(b->rlo = malloc((size_t)(cap + 1) * sizeof *b->rlo)) ||
	    !(b->rhi = malloc((size_t)(cap + 1) * sizeof *b->rhi))) {
		psg_trimmed_free(b);
		return NULL;
	}
	b->cap = cap;
	/* A7's ranks: rounded, as numpy's percentile indices are before
	   interpolation; once for each count, not for each change */
	for (int n = 0; n <= cap; n++) {
		b->rlo[n] = (int)lround(lo_pct / 100 * (n - 1));
		b->rhi[n] = (int)lround(hi_pct / 100 * (n - 1));
	}
	psg_trimmed_clear(b);
	return b;
}

void psg_trimmed_free(psg_trimmed *b)
{
	if (b)
		free(b->v), free(b->rlo), free(b->rhi), free(b);
}

void psg_trimmed_clear(psg_trimmed *b)
{
	b->n = 0, b->lo = 0, b->hi = -1;
	b->c = b->s1 = b->s2 = b->high = 0;
	b->age = 0;
}

int psg_trimmed_count(const psg_trimmed *b)
{
	return b->n;
}

/* The trimmed ranks of n values. */
static void ranks(const psg_trimmed *b, int n, int *lo, int *hi)
{
	*lo = b->rlo[n], *hi = b->rhi[n];
}

/* The sums of v - c and (v - c)^2 over ranks [a, z], one by one. */
static void part_sums(const psg_trimmed *b, int a, int z, double *s1,
		      double *s2)
{
	*s1 = *s2 = 0;
	for (int i = a; i <= z; i++) {
		double x = b->v[i] - b->c;
		*s1 += x, *s2 += x * x;
	}
}

/* Moves the sums from ranks [lo, hi] to ranks [a, z] of the values as
   they are: what lies between the old and the new ends is added or
   taken off. */
static void move_sums(psg_trimmed *b, int a, int z)
{
	double d1, d2;
	if (a != b->lo) {
		int sign = a < b->lo ? 1 : -1;
		part_sums(b, a < b->lo ? a : b->lo, (a < b->lo ? b->lo : a) - 1,
			  &d1, &d2);
		b->s1 += sign * d1, b->s2 += sign * d2;
	}
	if (z != b->hi) {
		int sign = z > b->hi ? 1 : -1;
		part_sums(b, (z > b->hi ? b->hi : z) + 1, z > b->hi ? z : b->hi,
			  &d1, &d2);
		b->s1 += sign * d1, b->s2 += sign * d2;
	}
	b->lo = a, b->hi = z;
}

/* One change more.  The sums are made afresh about the trimmed mean
   every RESUM changes, and sooner when their rounding could show: the
   mean has moved away from c by more than about the SD (the variance
   would be a difference of near-equal terms), or s2 held values 16
   times its own since (a far value that came and went leaves its
   rounding behind). */
static void changed(psg_trimmed *b)
{
	int k = b->hi - b->lo + 1;
	if (b->s2 > b->high)
		b->high = b->s2;
	if (++b->age < RESUM && b->s1 * b->s1 <= 0.5 * k * b->s2 &&
	    b->high <= 16 * b->s2)
		return;
	if (k > 0)
		b->c += b->s1 / k;
	part_sums(b, b->lo, b->hi, &b->s1, &b->s2);
	b->high = b->s2;
	b->age = 0;
}

/* The first index in v whose value is above v (upper) or not below it.
   Halving without a branch on the values (they come in no order the
   branch predictor could follow): a select, not a jump. */
static int rank_of(const psg_trimmed *b, double v, int upper)
{
	const double *base = b->v;
	int n = b->n;
	if (n == 0)
		return 0;
	while (n > 1) {
		int half = n / 2;
		double x = base[half - 1];
		base += (x < v || (upper && x == v)) ? half : 0;
		n -= half;
	}
	return (int)(base - b->v) + (*base < v || (upper && *base == v));
}

/* An insertion at rank p: the new ranks [a, z] hold, of the values
   before it, ranks [a, z - 1] and the new one (p inside), [a - 1, z - 1]
   (p below) or [a, z] (p above). */
int psg_trimmed_add(psg_trimmed *b, double v)
{
	int a, z, p;
	if (b->n == b->cap || isnan(v))
		return PSG_ERR_ARG;
	p = rank_of(b, v, 1);
	ranks(b, b->n + 1, &a, &z);
	move_sums(b, p < a ? a - 1 : a, p > z ? z : z - 1);
	memmove(b->v + p + 1, b->v + p, (size_t)(b->n - p) * sizeof *b->v);
	b->v[p] = v;
	b->n++;
	if (p >= a && p <= z) {
		double x = v - b->c;
		b->s1 += x, b->s2 += x * x;
	}
	b->lo = a, b->hi = z;
	changed(b);
	return PSG_OK;
}

/* A removal at rank p: the new ranks [a, z] hold, of the values before
   it, ranks [a, z + 1] without p (p inside), [a + 1, z + 1] (p below) or
   [a, z] (p above). */
int psg_trimmed_remove(psg_trimmed *b, double v)
{
	int a, z, p = rank_of(b, v, 0);
	if (p == b->n || b->v[p] != v)
		return 0;
	ranks(b, b->n - 1, &a, &z);
	move_sums(b, p < a ? a + 1 : a, p > z ? z : z + 1);
	if (p >= a && p <= z) {
		double x = v - b->c;
		b->s1 -= x, b->s2 -= x * x;
	}
	memmove(b->v + p, b->v + p + 1, (size_t)(b->n - p - 1) * sizeof *b->v);
	b->n--;
	b->lo = a, b->hi = z;
	changed(b);
	return 1;
}

int psg_trimmed_stats(const psg_trimmed *b, double *mean, double *sd)
{
	int n = b->hi - b->lo + 1;
	*mean = *sd = NAN;
	if (b->n < 1 || n < 1)
		return 0;
	*mean = b->c + b->s1 / n;
	*sd = 0;
	/* all equal (sorted: the ends are): exactly no spread */
	if (n > 1 && b->v[b->lo] != b->v[b->hi]) {
		double var = (b->s2 - b->s1 * b->s1 / n) / (n - 1);
		*sd = var > 0 ? sqrt(var) : 0;
	}
	return n;
}

double psg_trimmed_z(const psg_trimmed *b, double v)
{
	double m, sd;
	if (b->n < 2 || !psg_trimmed_stats(b, &m, &sd) || !(sd > 0))
		return 0;
	return (v - m) / sd;
}
