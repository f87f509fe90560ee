/*
 * fir.c -- linear-phase FIR design by the Kaiser window method (Kaiser
 * 1974; Oppenheim & Schafer, "Discrete-Time Signal Processing", 3rd ed.,
 * section 7.6).
 *
 * The frequencies a user gives are pass-band edges, as in MNE-Python: a
 * low-pass at 35 Hz passes 35 Hz, and its -6 dB point is half a transition
 * above.  The default transition widths follow MNE's "auto" rule, which is
 * min(max(25 % of the edge, 2 Hz), room to 0 or to Nyquist), and notches
 * default to 1 Hz.  The default stop-band attenuation is 60 dB, with
 * pass-band ripple of about 0.001 (Kaiser's design equations).  The
 * length is odd (type I), so the delay (N-1)/2 is a whole number of
 * samples and is removed exactly.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846
#define MAX_TAPS (1 << 21)

/* Zeroth-order modified Bessel function of the first kind (series). */
static double bessel_i0(double x)
{
	double sum = 1, term = 1, q = x * x / 4;
	for (int k = 1; k < 500 && term > 1e-17 * sum; k++) {
		term *= q / ((double)k * k);
		sum += term;
	}
	return sum;
}

static double kaiser_beta(double a)
{
	if (a > 50)
		return 0.1102 * (a - 8.7);
	if (a >= 21)
		return 0.5842 * pow(a - 21, 0.4) + 0.07886 * (a - 21);
	return 0;
}

/* Adds sign x a windowed low-pass with cutoff fc (cycles per sample) to
   h, scaled to exactly unit gain at DC: then a high-pass (delta minus a
   low-pass) or a band (the difference of two) cancels DC exactly, which
   the window alone would not guarantee. */
static void add_lowpass(double *h, const double *w, int n, double fc,
			double sign)
{
	double d = (n - 1) / 2.0, sum = 0;
	double *t = malloc((size_t)n * sizeof *t);
	if (!t)
		return;
	for (int i = 0; i < n; i++) {
		double x = i - d;
		t[i] = w[i] * (x == 0 ? 2 * fc : sin(2 * PI * fc * x) / (PI * x));
		sum += t[i];
	}
	for (int i = 0; i < n; i++)
		h[i] += sign * t[i] / sum;
	free(t);
}

/* Default transition widths below and above the pass band (MNE's "auto"
   rule): each edge gets its own, as in MNE's band-pass. */
static void default_transitions(const psg_fir_spec *s, double nyq,
				double *lo, double *hi)
{
	double hi_edge = s->type == PSG_FIR_LOWPASS ? s->f1 : s->f2;
	*lo = fmin(fmax(0.25 * s->f1, 2), s->f1);
	*hi = fmin(fmax(0.25 * hi_edge, 2), nyq - hi_edge);
	if (s->type == PSG_FIR_BANDSTOP || s->type == PSG_FIR_NOTCH)
		*lo = *hi = 1;
	if (s->transition > 0)
		*lo = *hi = s->transition;
}

static int bad(char *msg, size_t n, const char *what)
{
	psg__set_msg(msg, n, "%s", what);
	return PSG_ERR_ARG;
}

static int check(const psg_fir_spec *s, double nyq, double tl, double th,
		 char *msg, size_t n)
{
	double f1 = s->f1, f2 = s->f2;
	if (!(f1 > 0) || f1 >= nyq)
		return bad(msg, n, "the frequency must be above 0 and below "
			   "Nyquist");
	if ((s->type == PSG_FIR_BANDPASS || s->type == PSG_FIR_BANDSTOP) &&
	    (!(f2 > f1) || f2 >= nyq))
		return bad(msg, n, "a band needs LO < HI < Nyquist");
	if (!(tl > 0) || !(th > 0))
		return bad(msg, n, "no room for a transition band");
	/* Every section's cutoff must lie inside (0, Nyquist): a lower edge
	   minus half a transition below 0 Hz, or an upper one plus half a
	   transition beyond Nyquist, would flip or fold the response. */
	double lo_cut = f1 - tl / 2, hi_cut = (s->type == PSG_FIR_LOWPASS ?
					       f1 : f2) + th / 2;
	if (s->type == PSG_FIR_NOTCH)
		lo_cut = f1 - 0.5 - tl / 2, hi_cut = f1 + 0.5 + th / 2;
	if (s->type == PSG_FIR_HIGHPASS && tl > f1 + 1e-12)
		return bad(msg, n, "the transition is wider than the cutoff");
	if (s->type != PSG_FIR_LOWPASS && s->type != PSG_FIR_HIGHPASS &&
	    lo_cut <= 0)
		return bad(msg, n, "the band's lower edge minus half the "
			   "transition falls below 0 Hz");
	if (s->type != PSG_FIR_HIGHPASS && hi_cut >= nyq)
		return bad(msg, n, "the transition reaches beyond Nyquist");
	if (s->type == PSG_FIR_NOTCH && s->harmonics < 0)
		return bad(msg, n, "a negative number of harmonics");
	if (s->atten_db < 0 || s->atten_db > 200)
		return bad(msg, n, "attenuation must be 0-200 dB");
	return PSG_OK;
}

/* The windowed response: sums of unit-DC low-passes and a delta. */
static void ideal(const psg_fir_spec *s, double rate, double tl, double th,
		  const double *w, double *h, int n)
{
	double c1 = s->f1 / rate, c2 = s->f2 / rate;
	double hl = tl / 2 / rate, hh = th / 2 / rate, half = hh;
	int mid = (n - 1) / 2;
	switch (s->type) {
	case PSG_FIR_LOWPASS:
		add_lowpass(h, w, n, c1 + half, 1);
		break;
	case PSG_FIR_HIGHPASS:
		h[mid] += 1;
		add_lowpass(h, w, n, c1 - hl, -1);
		break;
	case PSG_FIR_BANDPASS:
		add_lowpass(h, w, n, c2 + hh, 1);
		add_lowpass(h, w, n, c1 - hl, -1);
		break;
	case PSG_FIR_BANDSTOP:
		h[mid] += 1;
		add_lowpass(h, w, n, c2 + hh, -1);
		add_lowpass(h, w, n, c1 - hl, 1);
		break;
	case PSG_FIR_NOTCH: {
		/* Each harmonic's stop band is 1 Hz wide around it. */
		int k = s->harmonics > 1 ? s->harmonics : 1;
		h[mid] += 1;
		for (int m = 1; m <= k && (m * s->f1 + 0.5) / rate + half < 0.5;
		     m++) {
			add_lowpass(h, w, n, (m * s->f1 + 0.5) / rate + half, -1);
			add_lowpass(h, w, n, (m * s->f1 - 0.5) / rate - half, 1);
		}
		break;
	}
	}
}

int psg_fir_design(const psg_fir_spec *spec, double rate, double **taps,
		   int *ntaps, char *msg, size_t msglen)
{
	double nyq = rate / 2, a = spec->atten_db > 0 ? spec->atten_db : 60;
	double tl, th;
	default_transitions(spec, nyq, &tl, &th);
	int st = check(spec, nyq, tl, th, msg, msglen);
	if (st)
		return st;
	/* The length is set by the narrower transition. */
	double tr = spec->type == PSG_FIR_LOWPASS ? th :
		    spec->type == PSG_FIR_HIGHPASS ? tl : fmin(tl, th);
	/* Each transition edge contributes its own ripple; a design with
	   more than two edges (a notch with harmonics) gets a margin so the
	   sum still meets the attenuation asked for. */
	int edges = spec->type == PSG_FIR_NOTCH ? 2 * (spec->harmonics > 1 ?
							spec->harmonics : 1) : 2;
	a += 20 * log10(edges / 2.0);
	/* A stop band only 1 Hz wide sits between two edges whose ripples
	   add inside it: 6 dB more (measured: 59.9 dB without). */
	if (spec->type == PSG_FIR_NOTCH || spec->type == PSG_FIR_BANDSTOP)
		a += 6;
	/* Kaiser's length estimate, rounded up to odd. */
	double dw = 2 * PI * tr / rate;
	double len = ceil((a - 7.95) / (2.285 * dw)) + 1;
	if (len > MAX_TAPS) {
		psg__set_msg(msg, msglen, "the filter would need %.0f taps; "
			     "widen the transition", len);
		return PSG_ERR_LIMIT;
	}
	int n = (int)len | 1;
	if (n < 3)
		n = 3;
	double *h = calloc((size_t)n, sizeof *h);
	double *w = malloc((size_t)n * sizeof *w), beta = kaiser_beta(a);
	if (!h || !w) {
		free(h);
		free(w);
		return PSG_ERR_NOMEM;
	}
	double i0b = bessel_i0(beta), d = (n - 1) / 2.0;
	for (int i = 0; i < n; i++) {
		double r = (i - d) / d;
		w[i] = bessel_i0(beta * sqrt(fmax(0, 1 - r * r))) / i0b;
	}
	ideal(spec, rate, tl, th, w, h, n);
	free(w);
	*taps = h;
	*ntaps = n;
	return PSG_OK;
}

void psg_fir_describe(const psg_fir_spec *s, char *buf, size_t n)
{
	switch (s->type) {
	case PSG_FIR_LOWPASS: snprintf(buf, n, "LP:%gHz", s->f1); break;
	case PSG_FIR_HIGHPASS: snprintf(buf, n, "HP:%gHz", s->f1); break;
	case PSG_FIR_BANDPASS: snprintf(buf, n, "BP:%g-%gHz", s->f1, s->f2);
		break;
	case PSG_FIR_BANDSTOP: snprintf(buf, n, "BS:%g-%gHz", s->f1, s->f2);
		break;
	case PSG_FIR_NOTCH:
		if (s->harmonics > 1)
			snprintf(buf, n, "N:%gHz(x%d)", s->f1, s->harmonics);
		else
			snprintf(buf, n, "N:%gHz", s->f1);
		break;
	default: snprintf(buf, n, "?");
	}
}

int psg_fir_cascade(const double *a, int na, const double *b, int nb,
		    double **out, int *nout)
{
	int n = na + nb - 1;
	if (n > MAX_TAPS)
		return PSG_ERR_LIMIT;
	double *h = calloc((size_t)n, sizeof *h);
	if (!h)
		return PSG_ERR_NOMEM;
	for (int i = 0; i < na; i++)
		for (int j = 0; j < nb; j++)
			h[i + j] += a[i] * b[j];
	*out = h;
	*nout = n;
	return PSG_OK;
}
