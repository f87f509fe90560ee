/*
 * test_filter.c -- the FFT filter engine: designs meet their specs
 * (pass-band ripple, stop-band attenuation at the design's edges), the
 * streaming overlap-save output equals a direct time-domain convolution
 * with the same taps, has zero lag and restarts cleanly per segment.
 */
#include "psg.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

/* |H(f)| of the taps by direct DFT at one frequency. */
static double gain(const double *h, int n, double f, double rate)
{
	double re = 0, im = 0;
	for (int i = 0; i < n; i++) {
		re += h[i] * cos(2 * PI * f / rate * i);
		im -= h[i] * sin(2 * PI * f / rate * i);
	}
	return sqrt(re * re + im * im);
}

/* Worst pass-band deviation and worst stop-band gain over a grid. */
static void bands(const double *h, int n, double rate, double p0, double p1,
		  double s0, double s1, double *ripple, double *stop)
{
	*ripple = 0, *stop = 0;
	for (double f = p0; f <= p1; f += (p1 - p0) / 200 + 1e-9)
		*ripple = fmax(*ripple, fabs(gain(h, n, f, rate) - 1));
	for (double f = s0; f <= s1; f += (s1 - s0) / 400 + 1e-9)
		*stop = fmax(*stop, gain(h, n, f, rate));
}

static double db(double g)
{
	return 20 * log10(g > 1e-300 ? g : 1e-300);
}

/* Kaiser's 60 dB design: ripple delta = 1e-3 per edge (1.5e-3 allowed
   where two edges' ripples meet in a narrow band), attenuation >= 60 dB
   less 1 dB for the length formula's approximation. */
static void check_design(const char *name, psg_fir_spec s, double rate,
			 double p0, double p1, double s0, double s1)
{
	double *h, rip, stop;
	int n;
	char msg[128];
	int st = psg_fir_design(&s, rate, &h, &n, msg, sizeof msg);
	OK(st == 0 && (n & 1), "%s designs, %d taps (odd)", name, n);
	if (st)
		return;
	bands(h, n, rate, p0, p1, s0, s1, &rip, &stop);
	OK(rip <= 1.5e-3, "%s: pass-band ripple %.2g <= 1.5e-3 (0.013 dB)",
	   name, rip);
	OK(db(stop) <= -59, "%s: stop-band %.1f dB <= -59 dB", name, db(stop));
	free(h);
}

static void test_designs(void)
{
	/* Edges given are pass-band edges; the transition lies outside. */
	check_design("low-pass 35 Hz @256", (psg_fir_spec){PSG_FIR_LOWPASS,
		     35, 0, 0, 0, 0}, 256, 0, 35, 35 + 8.75, 128);
	check_design("high-pass 0.3 Hz @100", (psg_fir_spec){PSG_FIR_HIGHPASS,
		     0.3, 0, 0, 0, 0}, 100, 0.3, 50, 0, 1e-9);
	check_design("band-pass 0.5-2 Hz @100", (psg_fir_spec){
		     PSG_FIR_BANDPASS, 0.5, 2, 0, 0, 0}, 100, 0.5, 2, 4, 50);
	check_design("band-pass 10-100 Hz @512", (psg_fir_spec){
		     PSG_FIR_BANDPASS, 10, 100, 0, 0, 0}, 512, 10, 100, 0, 7.5);
	check_design("band-stop 45-55 Hz @256 (1 Hz)", (psg_fir_spec){
		     PSG_FIR_BANDSTOP, 45, 55, 1, 0, 0}, 256, 0, 44, 46, 54);
	check_design("notch 50 Hz x3 @500", (psg_fir_spec){PSG_FIR_NOTCH,
		     50, 0, 0, 0, 3}, 500, 0, 48.5, 49.5, 50.5);
	double *h;
	int n;
	psg_fir_spec s = {PSG_FIR_NOTCH, 50, 0, 0, 0, 3};
	psg_fir_design(&s, 500, &h, &n, NULL, 0);
	OK(db(gain(h, n, 100, 500)) < -59 && db(gain(h, n, 150, 500)) < -59 &&
	   fabs(gain(h, n, 75, 500) - 1) < 1.5e-3,
	   "notch harmonics at 100 and 150 Hz, 75 Hz passes");
	free(h);
	s = (psg_fir_spec){PSG_FIR_LOWPASS, 30, 0, 2, 80, 0};
	psg_fir_design(&s, 256, &h, &n, NULL, 0);
	double rip, stop;
	bands(h, n, 256, 0, 30, 32, 128, &rip, &stop);
	OK(db(stop) <= -79, "an 80 dB design reaches %.1f dB", db(stop));
	free(h);
	char msg[128];
	s = (psg_fir_spec){PSG_FIR_LOWPASS, 200, 0, 0, 0, 0};
	OK(psg_fir_design(&s, 256, &h, &n, msg, sizeof msg) == PSG_ERR_ARG,
	   "a cutoff beyond Nyquist is refused (%s)", msg);
	s = (psg_fir_spec){PSG_FIR_BANDPASS, 5, 2, 0, 0, 0};
	OK(psg_fir_design(&s, 256, &h, &n, msg, sizeof msg) == PSG_ERR_ARG,
	   "an empty band is refused (%s)", msg);
}

/* Direct convolution with the held-edge extension the engine documents. */
static void direct(const double *h, int nt, const float *x, int n, double *y)
{
	int d = (nt - 1) / 2;
	for (int k = 0; k < n; k++) {
		double s = 0;
		for (int j = 0; j < nt; j++) {
			int i = k + d - j;
			s += h[j] * (i < 0 ? x[0] : i >= n ? x[n - 1] : x[i]);
		}
		y[k] = s;
	}
}

/* Pushes x in uneven chunks, pulls in uneven amounts; returns count. */
static int stream(psg_filter *f, const float *x, int n, float *y)
{
	int got = 0, pos = 0;
	unsigned r = 7;
	while (pos < n) {
		r = r * 1103515245u + 12345u;
		int k = 1 + (int)(r >> 16) % 777;
		if (k > n - pos)
			k = n - pos;
		psg_filter_push(f, x + pos, k);
		pos += k;
		got += psg_filter_pull(f, y + got, (int)(r >> 8) % 1000);
	}
	psg_filter_finish(f);
	got += psg_filter_pull(f, y + got, n);
	return got;
}

static void test_streaming(void)
{
	enum { N = 20000 };
	static float x[N], y[N];
	static double ref[N];
	double *h;
	int nt, st;
	psg_fir_spec s = {PSG_FIR_BANDPASS, 0.5, 2, 0, 0, 0};
	psg_fir_design(&s, 100, &h, &nt, NULL, 0);
	unsigned r = 1;
	for (int i = 0; i < N; i++) {
		r = r * 1664525u + 1013904223u;
		x[i] = (float)(40 + 30 * sin(2 * PI * 1.0 * i / 100) +
			       20 * ((r >> 8) / 16777216.0 - 0.5));
	}
	psg_filter *f = psg_filter_new(h, nt, &st);
	OK(f != NULL, "filter with %d taps, FFT size %d", nt,
	   f ? psg_filter_fft_size(f) : 0);
	int got = stream(f, x, N, y);
	OK(got == N, "as many samples out as in (%d)", got);
	direct(h, nt, x, N, ref);
	double err = 0, rms = 0;
	for (int i = 0; i < N; i++) {
		err = fmax(err, fabs(y[i] - ref[i]));
		rms += ref[i] * ref[i];
	}
	rms = sqrt(rms / N);
	/* Single-precision FFTs: round-off about 1e-6 of the signal level
	   (a 16-bit EDF step is 3e-5 of its range); allowed: 1e-6 of the RMS
	   plus 1e-4 uV. */
	OK(err <= 1e-6 * fmax(rms, 1) + 1e-4,
	   "overlap-save equals direct convolution: max error %.2g (rms %.3g)",
	   err, rms);
	/* A 1-Hz sine in the pass band comes out unchanged and in phase:
	   zero lag (away from the edges, where the held edge matters). */
	static float sine[N];
	for (int i = 0; i < N; i++)
		sine[i] = (float)(30 * sin(2 * PI * 1.0 * i / 100));
	stream(f, sine, N, y);
	double dev = 0;
	for (int i = 2000; i < N - 2000; i++)
		dev = fmax(dev, fabs(y[i] - sine[i]));
	OK(dev < 30 * 1.5e-3, "30-uV 1-Hz sine through 0.5-2 Hz: max "
	   "deviation %.4f uV (<= ripple), no lag", dev);
	/* Two segments: the second's output is what it would be alone. */
	static float y2[N];
	got = stream(f, x + 5000, 7000, y2);
	direct(h, nt, x + 5000, 7000, ref);
	err = 0;
	for (int i = 0; i < 7000; i++)
		err = fmax(err, fabs(y2[i] - ref[i]));
	OK(got == 7000 && err <= 1e-4, "a new segment restarts cleanly "
	   "(max error %.2g vs filtering it alone)", err);
	got = stream(f, x, 1, y2);
	direct(h, nt, x, 1, ref);
	OK(got == 1 && fabs(y2[0] - ref[0]) < 1e-4, "a one-sample segment");
	psg_filter_free(f);
	free(h);
}

/* stream() with _peek and _consume in place of _pull, the samples
   overwritten after they are copied out (the caller may). */
static int stream_peek(psg_filter *f, const float *x, int n, float *y)
{
	int got = 0, pos = 0, k, ready;
	unsigned r = 7;
	float *p;
	while (pos <= n) {
		r = r * 1103515245u + 12345u;
		k = 1 + (int)(r >> 16) % 777;
		if (pos < n) {
			k = k > n - pos ? n - pos : k;
			psg_filter_push(f, x + pos, k);
			pos += k;
			k = (int)(r >> 8) % 1000;
		} else {        /* the end: all that is left */
			psg_filter_finish(f);
			pos++;
			k = n;
		}
		if (!(p = psg_filter_peek(f, &ready)))
			continue;
		k = k < ready ? k : ready;
		memcpy(y + got, p, (size_t)k * sizeof *y);
		memset(p, 0xff, (size_t)k * sizeof *p);
		got += k;
		if (psg_filter_consume(f, k) || psg_filter_ready(f) != ready - k)
			return -1;
	}
	return got;
}

static void test_peek(void)
{
	enum { N = 20000 };
	static float x[N], a[N], b[N];
	double *h;
	int nt, st, n;
	psg_fir_spec s = {PSG_FIR_BANDPASS, 10, 100, 0, 0, 0};
	psg_fir_design(&s, 512, &h, &nt, NULL, 0);
	for (int i = 0; i < N; i++)
		x[i] = (float)(20 * sin(0.37 * i) + 5 * sin(0.05 * i));
	psg_filter *f = psg_filter_new(h, nt, &st);
	OK(psg_filter_peek(f, &n) == NULL && n == 0 &&
	   psg_filter_consume(f, 0) == PSG_OK &&
	   psg_filter_consume(f, 1) == PSG_ERR_ARG,
	   "an empty filter: nothing to peek, nothing to consume");
	int ga = stream(f, x, N, a), gb = stream_peek(f, x, N, b);
	OK(ga == N && gb == N && !memcmp(a, b, sizeof a),
	   "peek and consume give _pull's samples, bit for bit (%d, %d)",
	   ga, gb);
	psg_filter_push(f, x, 5000);
	OK(psg_filter_peek(f, &n) && psg_filter_consume(f, n + 1) ==
	   PSG_ERR_ARG && psg_filter_consume(f, -1) == PSG_ERR_ARG &&
	   psg_filter_ready(f) == n,
	   "consuming more than is ready, or less than none, is refused");
	psg_filter_free(f);
	free(h);
}

static void test_impulse_lag(void)
{
	/* A symmetric burst's centre stays where it was: the lag of the
	   cross-correlation peak is 0. */
	enum { N = 4096 };
	static float x[N], y[N];
	double *h;
	int nt, st;
	psg_fir_spec s = {PSG_FIR_HIGHPASS, 10, 0, 0, 0, 0};
	psg_fir_design(&s, 256, &h, &nt, NULL, 0);
	for (int i = 0; i < N; i++)
		x[i] = (float)(exp(-0.5 * pow((i - 2000) / 20.0, 2)) *
			       sin(2 * PI * 30 * i / 256.0));
	psg_filter *f = psg_filter_new(h, nt, &st);
	stream(f, x, N, y);
	int best = 0;
	double bestv = -1;
	for (int lag = -50; lag <= 50; lag++) {
		double c = 0;
		for (int i = 100; i < N - 100; i++)
			c += x[i] * y[i + lag];
		if (c > bestv)
			bestv = c, best = lag;
	}
	OK(best == 0, "high-pass 10 Hz: cross-correlation peaks at lag %d",
	   best);
	psg_filter_free(f);
	free(h);
}

static psg_filter *bandpass(double lo, double hi, double tr, double rate)
{
	psg_fir_spec s = {PSG_FIR_BANDPASS, lo, hi, tr, 0, 0};
	double *h;
	int n, st;
	char msg[128];
	if (psg_fir_design(&s, rate, &h, &n, msg, sizeof msg))
		return NULL;
	psg_filter *f = psg_filter_new(h, n, &st);
	free(h);
	return f;
}

/* Filters of different lengths fed the same input release output in
   different blocks.  Pulling the least of their psg_filter_ready counts
   from each keeps sample k of one beside sample k of the other (psg-sws
   reads a wave's peaks in one band and its zero crossings in another). */
static void test_lockstep(void)
{
	enum { N = 256 * 300 };
	float *x = malloc(N * sizeof *x), *ya = malloc(N * sizeof *ya);
	float *yb = malloc(N * sizeof *yb), *ra = malloc(N * sizeof *ra);
	float *rb = malloc(N * sizeof *rb);
	psg_filter *a = bandpass(0.3, 2, 0.2, 256), *b = bandpass(0.3, 4, 0, 256);
	psg_filter *a1 = bandpass(0.3, 2, 0.2, 256), *b1 = bandpass(0.3, 4, 0, 256);
	unsigned r = 1;
	for (int i = 0; i < N; i++) {
		r = r * 1103515245u + 12345u;
		x[i] = (float)(50 * sin(2 * PI * i / 256.0) + (r >> 16) % 41 - 20);
	}
	int got = 0, uneven = 0;
	for (int pos = 0; pos < N; pos += 256) {
		psg_filter_push(a, x + pos, 256);
		psg_filter_push(b, x + pos, 256);
		if (pos + 256 >= N)
			psg_filter_finish(a), psg_filter_finish(b);
		int na = psg_filter_ready(a), nb = psg_filter_ready(b);
		uneven += na != nb;
		int k = na < nb ? na : nb;
		got += psg_filter_pull(a, ya + got, k) == k &&
		       psg_filter_pull(b, yb + got, k) == k ? k : 0;
	}
	got += psg_filter_pull(a, ya + got, N - got);
	int ref = stream(a1, x, N, ra), refb = stream(b1, x, N, rb);
	double worst = 0;
	for (int i = 0; i < N && got == N && ref == N && refb == N; i++)
		worst = fmax(worst, fmax(fabs(ya[i] - ra[i]),
					 fabs(yb[i] - rb[i])));
	OK(uneven > 0, "two filters' ready counts differ (%d times): the case "
	   "that needs lockstep pulls", uneven);
	OK(got == N && worst < 1e-3, "lockstep pulls by psg_filter_ready stay "
	   "aligned: %d of %d samples, worst difference %.2g", got, N, worst);
	psg_filter_free(a), psg_filter_free(b);
	psg_filter_free(a1), psg_filter_free(b1);
	free(x), free(ya), free(yb), free(ra), free(rb);
}

int main(void)
{
	test_designs();
	test_streaming();
	test_peek();
	test_impulse_lag();
	test_lockstep();
	return TAP_DONE();
}
