/*
 * fftsizes -- how fast FFTW's estimate planner makes each FFT size that
 * libpsg's filters could use, as pipeline/fftfilt.c uses it: one r2c, the
 * product with a spectrum, one c2r.  For every 2^a 3^b 5^c 7^d size m in
 * [256, 2^20] with a >= 1 it prints
 *
 *     m  ns_per_transform  ns / (m log2 m) * 1000
 *
 * the last being the size's cost per unit of the textbook count m log m,
 * the number fftfilt.c's size menu was chosen by (docs/performance.md,
 * "FFT sizes").  Best of 3 runs of at least 20 ms each.
 */
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double ns_per_transform(int m)
{
	float *x = fftwf_malloc(sizeof *x * (size_t)m);
	fftwf_complex *c = fftwf_malloc(sizeof *c * (size_t)(m / 2 + 1));
	fftwf_complex *h = fftwf_malloc(sizeof *h * (size_t)(m / 2 + 1));
	if (!x || !c || !h) {
		fprintf(stderr, "fftsizes: out of memory\n");
		exit(2);
	}
	fftwf_plan a = fftwf_plan_dft_r2c_1d(m, x, c, FFTW_ESTIMATE);
	fftwf_plan b = fftwf_plan_dft_c2r_1d(m, c, x, FFTW_ESTIMATE);
	for (int i = 0; i < m; i++)
		x[i] = (float)(i % 97) / 97.0f - 0.5f;
	for (int i = 0; i <= m / 2; i++)
		h[i][0] = 1.0f / (float)m, h[i][1] = 0;
	double best = INFINITY;
	for (int rep = 0; rep < 3; rep++) {
		long n = 0;
		double t0 = now(), t;
		do {
			fftwf_execute(a);
			for (int i = 0; i <= m / 2; i++) {
				float re = c[i][0] * h[i][0] - c[i][1] * h[i][1];
				float im = c[i][0] * h[i][1] + c[i][1] * h[i][0];
				c[i][0] = re, c[i][1] = im;
			}
			fftwf_execute(b);
			n++;
		} while ((t = now() - t0) < 0.02);
		if (t / (double)n < best)
			best = t / (double)n;
	}
	fftwf_destroy_plan(a);
	fftwf_destroy_plan(b);
	fftwf_free(x), fftwf_free(c), fftwf_free(h);
	return best * 1e9;
}

int main(void)
{
	const long lo = 256, hi = 1L << 20;
	for (long p2 = 2; p2 <= hi; p2 *= 2)
		for (long p3 = p2; p3 <= hi; p3 *= 3)
			for (long p5 = p3; p5 <= hi; p5 *= 5)
				for (long m = p5; m <= hi; m *= 7) {
					if (m < lo)
						continue;
					double ns = ns_per_transform((int)m);
					printf("%ld %.1f %.1f\n", m, ns,
					       ns / ((double)m * log2((double)m)) *
						       1000);
					fflush(stdout);
				}
	return 0;
}
