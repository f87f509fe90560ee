/*
 * Welch's averaged periodogram over a stretch of samples (psg.h).  Shared
 * by psg-spectrum (band powers, spectra) and the detectors that need an
 * epoch's spectral shape (psg-sws's spectral edge).
 */
#include "internal.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

struct psg_welch {
	double rate;
	int w, step;             /* window and step in samples */
	double *win, wss;        /* Hann window and sum of its squares */
	double *x;               /* fftw buffers */
	fftw_complex *X;
	fftw_plan plan;
	double *sum;             /* periodograms summed since _clear */
	double *mean;            /* sum / windows, on demand */
	int nwin;
	float *seg;              /* the current window's samples */
	int have;
	double part;             /* sum of seg[0 .. w - step), when has_part */
	int has_part;
};

psg_welch *psg_welch_new(double rate, double window_s, double overlap,
			 int *status)
{
	int w = (int)lround(window_s * rate);
	int step = (int)lround(window_s * (1 - overlap) * rate);
	psg_welch *p;
	*status = PSG_ERR_ARG;
	if (!(rate > 0) || w < 8 || step < 1 || step > w)
		return NULL;
	*status = PSG_ERR_NOMEM;
	if (!(p = calloc(1, sizeof *p)))
		return NULL;
	p->rate = rate, p->w = w, p->step = step;
	size_t nb = (size_t)(w / 2 + 1);
	p->win = malloc((size_t)w * sizeof *p->win);
	p->x = fftw_malloc((size_t)w * sizeof *p->x);
	p->X = fftw_malloc(nb * sizeof *p->X);
	p->sum = calloc(nb, sizeof *p->sum);
	p->mean = calloc(nb, sizeof *p->mean);
	p->seg = malloc((size_t)w * sizeof *p->seg);
	if (!p->win || !p->x || !p->X || !p->sum || !p->mean || !p->seg) {
		psg_welch_free(p);
		return NULL;
	}
	for (int i = 0; i < w; i++) {      /* periodic Hann, as scipy */
		p->win[i] = 0.5 - 0.5 * cos(2 * PI * i / w);
		p->wss += p->win[i] * p->win[i];
	}
	psg__planner_lock();
	p->plan = fftw_plan_dft_r2c_1d(w, p->x, p->X, FFTW_ESTIMATE);
	psg__planner_unlock();
	if (!p->plan) {
		psg_welch_free(p);
		return NULL;
	}
	*status = PSG_OK;
	return p;
}

void psg_welch_free(psg_welch *p)
{
	if (!p)
		return;
	if (p->plan) {
		psg__planner_lock();
		fftw_destroy_plan(p->plan);
		psg__planner_unlock();
	}
	free(p->win);
	fftw_free(p->x);
	fftw_free(p->X);
	free(p->sum);
	free(p->mean);
	free(p->seg);
	free(p);
}

/* The sum of the window's samples, added in order from seg[0] (the bits
   of a plain loop).  With overlap the next window begins with this one's
   samples from `step` on: their sum, in the same order, runs as a second
   chain in the same loop (each addition waits on the last, so two chains
   side by side cost about what one does) and is kept for that window. */
static double window_sum(psg_welch *p)
{
	const float *x = p->seg;
	int a = p->has_part ? p->w - p->step : 0;   /* s holds seg[0 .. a) */
	int b = p->step;                            /* t will hold seg[b .. w) */
	double s = p->has_part ? p->part : 0, t = 0;
	if (b >= p->w) {                            /* no overlap */
		for (int i = a; i < p->w; i++)
			s += x[i];
		p->has_part = 0;
		return s;
	}
	for (int i = a; i < b; i++)
		s += x[i];
	for (int i = b; i < a; i++)
		t += x[i];
	for (int i = a > b ? a : b; i < p->w; i++)
		s += x[i], t += x[i];
	p->part = t, p->has_part = 1;
	return s;
}

/* x[i] = (seg[i] - mean) * win[i], two at a time in vector registers
   (the same operations on each: the same bits). */
static void taper(double *x, const float *seg, const double *win,
		  double mean, int w)
{
	typedef float v2f __attribute__((vector_size(8)));
	typedef double v2d __attribute__((vector_size(16)));
	const v2d m = {mean, mean};
	int i = 0;
	for (; i + 2 <= w; i += 2) {
		v2f f;
		v2d h, y;
		memcpy(&f, seg + i, sizeof f);
		memcpy(&h, win + i, sizeof h);
		y = (__builtin_convertvector(f, v2d) - m) * h;
		memcpy(x + i, &y, sizeof y);
	}
	for (; i < w; i++)
		x[i] = (seg[i] - mean) * win[i];
}

/* One window: mean removed, Hann, one-sided periodogram added. */
static void add_window(psg_welch *p)
{
	double mean = window_sum(p) / p->w;
	taper(p->x, p->seg, p->win, mean, p->w);
	fftw_execute(p->plan);
	double scale = 1 / (p->rate * p->wss);
	/* One-sided: all but DC and (even w) Nyquist count twice. */
	int last = p->w % 2 == 0 ? p->w / 2 - 1 : p->w / 2;
	p->sum[0] += (p->X[0][0] * p->X[0][0] + p->X[0][1] * p->X[0][1]) *
		     scale;
	for (int k = 1; k <= last; k++) {
		double v = (p->X[k][0] * p->X[k][0] + p->X[k][1] * p->X[k][1]) *
			   scale;
		p->sum[k] += v * 2;
	}
	if (p->w % 2 == 0) {
		int k = p->w / 2;
		p->sum[k] += (p->X[k][0] * p->X[k][0] + p->X[k][1] * p->X[k][1]) *
			     scale;
	}
	p->nwin++;
}

/* Samples into the current window, a window into the sums each time it
   fills; the overlap stays for the next one. */
void psg_welch_push(psg_welch *p, const float *x, int64_t n)
{
	if (n == 1 && p->have < p->w - 1) {   /* detectors push a sample */
		p->seg[p->have++] = *x;
		return;
	}
	while (n > 0) {
		int64_t k = p->w - p->have < n ? p->w - p->have : n;
		memcpy(p->seg + p->have, x, (size_t)k * sizeof *x);
		p->have += (int)k, x += k, n -= k;
		if (p->have == p->w) {
			add_window(p);
			memmove(p->seg, p->seg + p->step,
				(size_t)(p->w - p->step) * sizeof *p->seg);
			p->have = p->w - p->step;
		}
	}
}

void psg_welch_restart(psg_welch *p)
{
	p->have = 0;
	p->has_part = 0;
}

void psg_welch_clear(psg_welch *p)
{
	memset(p->sum, 0, (size_t)(p->w / 2 + 1) * sizeof *p->sum);
	p->nwin = 0;
	p->have = 0;
	p->has_part = 0;
}

int psg_welch_windows(const psg_welch *p)
{
	return p->nwin;
}

int psg_welch_room(const psg_welch *p)
{
	return p->w - p->have;
}

int psg_welch_bins(const psg_welch *p)
{
	return p->w / 2 + 1;
}

double psg_welch_df(const psg_welch *p)
{
	return p->rate / p->w;
}

const double *psg_welch_psd(psg_welch *p)
{
	if (!p->nwin)
		return NULL;
	for (int k = 0; k <= p->w / 2; k++)
		p->mean[k] = p->sum[k] / p->nwin;
	return p->mean;
}

/* First bin at or above lo (the 1e-9 absorbs lo/df rounding). */
static int first_bin(const psg_welch *p, double lo)
{
	int k = (int)ceil(lo / psg_welch_df(p) - 1e-9);
	return k < 0 ? 0 : k;
}

double psg_welch_band(const psg_welch *p, double lo, double hi)
{
	double df = psg_welch_df(p), sum = 0;
	if (!p->nwin)
		return NAN;
	for (int k = first_bin(p, lo); k <= p->w / 2; k++) {
		if (k * df >= hi - 1e-9)
			break;
		sum += p->sum[k];
	}
	return sum * df / p->nwin;
}

double psg_welch_edge(const psg_welch *p, double lo, double hi, double share)
{
	double df = psg_welch_df(p), total = psg_welch_band(p, lo, hi);
	double acc = 0;
	if (!(total > 0))
		return NAN;
	for (int k = first_bin(p, lo); k <= p->w / 2 && k * df < hi - 1e-9;
	     k++) {
		acc += p->sum[k] * df / p->nwin;
		if (acc >= share * total)
			return k * df;
	}
	return NAN;
}
