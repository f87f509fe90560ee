/*
 * fftfilt.c -- streaming zero-phase FIR filtering by overlap-save with
 * FFTW's real transforms (r2c/c2r) in single precision: samples are
 * float32 and the round-off of a float FFT (~1e-7 of the signal) is far
 * below EDF's 16-bit resolution, at half the cost of double.
 *
 * With N taps and an FFT of size M, each transform turns M - (N-1) new
 * samples into output.  M comes from a measured menu of sizes FFTW's
 * estimate planner makes fast: the smallest whose cost per output (its
 * measured cost per M log M, times M log M / (M - N + 1)) is within 3 %
 * of the least (choose_size).  Plans are made once per size and shared
 * by every filter through FFTW's new-array execute; all buffers come from
 * fftwf_malloc, so they share the plans' alignment.  PSG_FFTW_WISDOM names
 * a wisdom file: read before the first plan, measured plans added to it.
 *
 * Zero phase: with D = (N-1)/2, output k is sum_j h[j] x[k + D - j].  The
 * input is extended by D copies of its first value before the start and of
 * its last value after the end (a held edge, so a DC offset does not
 * become a step), which is also what makes the output as long as the input.
 */
#include "internal.h"

#include <fftw3.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_PLANS 64

typedef struct plan {
	int m;
	fftwf_plan r2c, c2r;
} plan;

static plan plans[MAX_PLANS];
static int nplans, wisdom_loaded;

/* FFTW's planners are not thread-safe (its "thread safety" notes: only
   the execute functions are), and psg-chain runs stages as threads: every
   plan made or destroyed, and the plan cache above, under one lock. */
static pthread_mutex_t planner = PTHREAD_MUTEX_INITIALIZER;

void psg__planner_lock(void)
{
	pthread_mutex_lock(&planner);
}

void psg__planner_unlock(void)
{
	pthread_mutex_unlock(&planner);
}

struct psg_filter {
	int ntaps, d, m, step;   /* taps, delay, FFT size, new per block */
	fftwf_complex *h;         /* spectrum of the taps, scaled by 1/m */
	float *buf;              /* time-domain block: history + new */
	fftwf_complex *spec;
	float *out;
	int have;                /* samples in buf */
	int started;
	float last;
	int64_t nin, nout;       /* this segment */
	psg__fifo q;             /* filtered samples waiting to be pulled */
	const plan *p;
};

/* ---- plans ---- */

/* FFT sizes and what each costs per m log2 m (ns x 1000 for one r2c, the
   product with the taps' spectrum and one c2r), measured by
   tests/tools/fftsizes with FFTW_ESTIMATE's plans: of the 1031 sizes
   2^a 3^b 5^c 7^d (a >= 1) in [256, 2^20], in each octave those within
   8 % of its fastest (docs/performance.md, "FFT sizes").  The textbook
   count m log m alone chose sizes FFTW makes 20-60 % slower per sample:
   8064 points cost 3.1 ns an output at 1661 taps, 9216 points 2.0. */
static const struct {
	int m;
	float cost;
} menu[] = {
	{480, 169}, {512, 174}, {640, 163}, {768, 168}, {1280, 156},
	{2560, 162}, {5120, 158}, {7200, 169}, {7680, 171}, {9216, 158},
	{12288, 168}, {12800, 169}, {14112, 166}, {17280, 173}, {18144, 170},
	{23040, 165}, {23520, 162}, {25600, 165}, {30240, 170}, {40320, 172},
	{41160, 172}, {51200, 164}, {52920, 172}, {64512, 170}, {68040, 175},
	{74088, 178}, {76800, 178}, {87480, 180}, {95256, 181}, {98784, 168},
	{122472, 180}, {127008, 168}, {150528, 180}, {153600, 182},
	{160000, 186}, {163296, 175}, {164640, 173}, {207360, 182},
	{209952, 180}, {211680, 176}, {219520, 185}, {233280, 186},
	{272160, 176}, {282240, 168}, {529200, 209}, {540000, 206},
	{552960, 199}, {560000, 209}, {583200, 209}, {600000, 210},
	{622080, 195}, {640000, 205}, {680400, 210}, {691200, 205},
	{746496, 205}, {864000, 209}, {921600, 209}, {960000, 210},
	{1048576, 314}
};

/* The least cost per output sample over the 2^a 3^b 5^c 7^d sizes m in
   [lo, hi], and in *first the smallest m whose cost is at most `limit':
   for filters too long for the menu (over 2^19 taps).  The sizes are
   generated, not found by testing every integer of the range. */
static double scan_sizes(long lo, long hi, int ntaps, double limit,
			 long *first)
{
	double best = 0;
	for (long a = 1; a <= hi; a *= 2)
		for (long b = a; b <= hi; b *= 3)
			for (long c = b; c <= hi; c *= 5)
				for (long m = c; m <= hi; m *= 7) {
					if (m < lo)
						continue;
					double w = (double)m * log2((double)m) /
						   (double)(m - ntaps + 1);
					if (best == 0 || w < best)
						best = w;
					if (w <= limit && (!*first || m < *first))
						*first = m;
				}
	return best;
}

/* A menu size's cost per output sample with N taps. */
static double menu_cost(int i, int ntaps)
{
	double m = menu[i].m;
	return menu[i].cost * m * log2(m) / (m - ntaps + 1);
}

/* The smallest FFT size within 3 % of the least cost per output: the
   cost flattens out, and a smaller M means less memory and latency per
   channel.  From the menu when it reaches 2N, else by m log m alone. */
static int choose_size(int ntaps)
{
	long lo = 2L * ntaps > 256 ? 2L * ntaps : 256;
	long hi = 32L * ntaps > 4096 ? 32L * ntaps : 4096, m = 0;
	int n = (int)(sizeof menu / sizeof *menu), pick = -1;
	double best = 0;
	if (hi > (1L << 24))
		hi = 1L << 24;
	for (int i = 0; i < n; i++)
		if (menu[i].m >= lo && menu[i].m <= hi &&
		    (best == 0 || menu_cost(i, ntaps) < best))
			best = menu_cost(i, ntaps);
	for (int i = 0; i < n && pick < 0; i++)   /* the menu is in order */
		if (menu[i].m >= lo && menu[i].m <= hi &&
		    menu_cost(i, ntaps) <= 1.03 * best)
			pick = i;
	if (pick >= 0)
		return menu[pick].m;
	best = scan_sizes(lo, hi, ntaps, -1, &m);
	scan_sizes(lo, hi, ntaps, 1.05 * best, &m);
	return (int)m;
}

static const char *wisdom_path(void)
{
	const char *p = getenv("PSG_FFTW_WISDOM");
	return p && *p ? p : NULL;
}

static void save_wisdom(const char *path)
{
	char tmp[PSG_PATH_LEN + 32];
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if (fftwf_export_wisdom_to_filename(tmp))
		rename(tmp, path);   /* best effort: wisdom is an option */
	else
		unlink(tmp);
}

static const plan *find_or_make_plan(int m)
{
	for (int i = 0; i < nplans; i++)
		if (plans[i].m == m)
			return &plans[i];
	if (nplans == MAX_PLANS)
		return NULL;
	const char *wp = wisdom_path();
	if (wp && !wisdom_loaded) {
		fftwf_import_wisdom_from_filename(wp);
		wisdom_loaded = 1;
	}
	unsigned flags = wp ? FFTW_MEASURE : FFTW_ESTIMATE;
	float *x = fftwf_malloc(sizeof *x * (size_t)m);
	fftwf_complex *c = fftwf_malloc(sizeof *c * (size_t)(m / 2 + 1));
	plan *p = &plans[nplans];
	if (x && c) {
		p->m = m;
		p->r2c = fftwf_plan_dft_r2c_1d(m, x, c, flags);
		p->c2r = fftwf_plan_dft_c2r_1d(m, c, x, flags);
	}
	fftwf_free(x);
	fftwf_free(c);
	if (!x || !c || !p->r2c || !p->c2r)
		return NULL;
	nplans++;
	if (wp && flags == FFTW_MEASURE)
		save_wisdom(wp);
	return p;
}

static const plan *get_plan(int m)
{
	psg__planner_lock();
	const plan *p = find_or_make_plan(m);
	psg__planner_unlock();
	return p;
}

/* ---- the filter ---- */

psg_filter *psg_filter_new(const double *taps, int ntaps, int *status)
{
	psg_filter *f = calloc(1, sizeof *f);
	int st = PSG_ERR_NOMEM;
	if (!f)
		goto out;
	st = PSG_ERR_ARG;
	if (ntaps < 1 || !(ntaps & 1))
		goto out;
	st = PSG_ERR_NOMEM;
	f->ntaps = ntaps, f->d = (ntaps - 1) / 2;
	f->m = choose_size(ntaps);
	f->step = f->m - ntaps + 1;
	f->buf = fftwf_malloc(sizeof *f->buf * (size_t)f->m);
	f->out = fftwf_malloc(sizeof *f->out * (size_t)f->m);
	f->spec = fftwf_malloc(sizeof *f->spec * (size_t)(f->m / 2 + 1));
	f->h = fftwf_malloc(sizeof *f->h * (size_t)(f->m / 2 + 1));
	if (!f->m || !f->buf || !f->out || !f->spec || !f->h ||
	    !(f->p = get_plan(f->m)))
		goto out;
	memset(f->buf, 0, sizeof *f->buf * (size_t)f->m);
	for (int i = 0; i < ntaps; i++)
		f->buf[i] = (float)(taps[i] / f->m);   /* c2r leaves a factor m */
	fftwf_execute_dft_r2c(f->p->r2c, f->buf, f->h);
	st = PSG_OK;
out:
	if (status)
		*status = st;
	if (st) {
		psg_filter_free(f);
		return NULL;
	}
	return f;
}

void psg_filter_free(psg_filter *f)
{
	if (!f)
		return;
	fftwf_free(f->buf);
	fftwf_free(f->out);
	fftwf_free(f->spec);
	fftwf_free(f->h);
	free(f->q.q);
	free(f);
}

int psg_filter_latency(const psg_filter *f)
{
	return f->d;
}

int psg_filter_fft_size(const psg_filter *f)
{
	return f->m;
}

int psg__fifo_put(psg__fifo *f, const float *y, size_t n, size_t slack)
{
	if (f->head && f->head == f->n)
		f->head = f->n = 0;
	if (f->n + n > f->cap) {
		if (f->head) {   /* slide what is left to the front */
			memmove(f->q, f->q + f->head,
				(f->n - f->head) * sizeof *f->q);
			f->n -= f->head, f->head = 0;
		}
		if (f->n + n > f->cap) {
			size_t cap = f->n + n + slack;
			float *q = realloc(f->q, cap * sizeof *q);
			if (!q)
				return PSG_ERR_NOMEM;
			f->q = q, f->cap = cap;
		}
	}
	memcpy(f->q + f->n, y, n * sizeof *y);
	f->n += n;
	return PSG_OK;
}

float *psg__fifo_peek(const psg__fifo *f, int *n)
{
	size_t k = f->n - f->head;
	*n = k > INT_MAX ? INT_MAX : (int)k;
	return *n ? f->q + f->head : NULL;   /* the queue may not exist yet */
}

int psg__fifo_consume(psg__fifo *f, int n)
{
	if (n < 0 || (size_t)n > f->n - f->head)
		return PSG_ERR_ARG;
	f->head += (size_t)n;
	return PSG_OK;
}

/* spec[0..n) *= h[0..n), complex numbers as (re, im) pairs: two at a
   time in SSE2 (every x86-64 has it; elsewhere one at a time).  Each
   element gets the scalar loop's operations in its order, a - b as
   a + (-b) and b + a as a + b, which IEEE arithmetic rounds alike, so the
   results are the scalar loop's to the bit (psg-emg's, psg-sws's and
   psg-spindle's streams were cmp-equal before and after). */
static void spectrum_product(float *restrict spec, const float *restrict h,
			     int n)
{
	int i = 0;
#ifdef __SSE2__
	const __m128 sign = _mm_set_ps(1, -1, 1, -1);   /* lane 0 first */
	for (; i + 4 <= 2 * n; i += 4) {
		__m128 x = _mm_loadu_ps(spec + i), y = _mm_loadu_ps(h + i);
		__m128 hr = _mm_shuffle_ps(y, y, _MM_SHUFFLE(2, 2, 0, 0));
		__m128 hi = _mm_shuffle_ps(y, y, _MM_SHUFFLE(3, 3, 1, 1));
		__m128 xs = _mm_shuffle_ps(x, x, _MM_SHUFFLE(2, 3, 0, 1));
		/* (re hr, im hr) + (-(im hi), re hi) */
		__m128 p = _mm_mul_ps(x, hr);
		__m128 q = _mm_mul_ps(_mm_mul_ps(xs, hi), sign);
		_mm_storeu_ps(spec + i, _mm_add_ps(p, q));
	}
#endif
	for (; i < 2 * n; i += 2) {
		float re = spec[i], im = spec[i + 1];
		spec[i] = re * h[i] - im * h[i + 1];
		spec[i + 1] = re * h[i + 1] + im * h[i];
	}
}

/* One overlap-save block: the m - (N-1) valid outputs (at most `keep`)
   to the queue, and the last N-1 inputs become the next block's history. */
static int run_block(psg_filter *f, int keep)
{
	fftwf_execute_dft_r2c(f->p->r2c, f->buf, f->spec);
	spectrum_product((float *)f->spec, (const float *)f->h, f->m / 2 + 1);
	fftwf_execute_dft_c2r(f->p->c2r, f->spec, f->out);
	int n = keep < f->step ? keep : f->step;
	int st = psg__fifo_put(&f->q, f->out + f->ntaps - 1, (size_t)n,
			       (size_t)f->m);
	f->nout += n;
	memmove(f->buf, f->buf + f->step, sizeof *f->buf * (size_t)(f->ntaps - 1));
	f->have = f->ntaps - 1;
	return st;
}

static int feed(psg_filter *f, const float *x, size_t n)
{
	while (n) {
		size_t room = (size_t)(f->m - f->have), k = n < room ? n : room;
		memcpy(f->buf + f->have, x, k * sizeof *x);
		f->have += (int)k, x += k, n -= k;
		if (f->have == f->m) {
			int st = run_block(f, f->step);
			if (st)
				return st;
		}
	}
	return PSG_OK;
}

/* Feeds `count` copies of v (the held edge). */
static int feed_const(psg_filter *f, float v, int count)
{
	float chunk[256];
	for (int i = 0; i < 256; i++)
		chunk[i] = v;
	while (count > 0) {
		int k = count < 256 ? count : 256;
		int st = feed(f, chunk, (size_t)k);
		if (st)
			return st;
		count -= k;
	}
	return PSG_OK;
}

int psg_filter_push(psg_filter *f, const float *x, int n)
{
	if (n <= 0)
		return n < 0 ? PSG_ERR_ARG : PSG_OK;
	if (!f->started) {
		f->started = 1;
		int st = feed_const(f, x[0], f->d);
		if (st)
			return st;
	}
	f->nin += n;
	f->last = x[n - 1];
	return feed(f, x, (size_t)n);
}

int psg_filter_ready(const psg_filter *f)
{
	int n;
	psg__fifo_peek(&f->q, &n);
	return n;
}

float *psg_filter_peek(psg_filter *f, int *n)
{
	return psg__fifo_peek(&f->q, n);
}

int psg_filter_consume(psg_filter *f, int n)
{
	return psg__fifo_consume(&f->q, n);
}

int psg_filter_pull(psg_filter *f, float *y, int max)
{
	int n;
	const float *x = psg_filter_peek(f, &n);
	if (max < 0)
		return PSG_ERR_ARG;
	if (n > max)
		n = max;
	if (!n)
		return 0;
	memcpy(y, x, (size_t)n * sizeof *y);
	psg__fifo_consume(&f->q, n);
	return n;
}

int psg_filter_finish(psg_filter *f)
{
	int st = PSG_OK;
	if (f->started) {
		st = feed_const(f, f->last, f->d);
		/* The last, partial block: zeros beyond the held edge only
		   touch outputs past the segment's end, which are dropped. */
		if (!st && f->have > f->ntaps - 1) {
			int64_t want = f->nin - f->nout;
			memset(f->buf + f->have, 0,
			       sizeof *f->buf * (size_t)(f->m - f->have));
			st = run_block(f, (int)want);
		}
	}
	f->started = 0;
	f->have = 0;
	f->nin = f->nout = 0;
	return st;
}
