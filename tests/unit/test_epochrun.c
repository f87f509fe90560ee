/* test_epochrun.c -- stages/epochrun.h: the runs of a block's samples in
   one epoch against each sample's own epoch, and Welch sums fed a window
   at a time against one sample at a time (psg-wake and psg-stage rely on
   both for byte-identical outputs). */
#include "../../stages/stage.h"
#include "../../stages/epochrun.h"
#include "tap.h"

/* Every sample of a block of n, from offset off, in runs: each run's
   samples in the epoch epoch_run said, runs covering the block; with
   `whole`, each run ends where the epoch changes (times that saturate or
   epochs whose bounds overflow go a sample at a time). */
static int check_block(grid_cache *g, const psg_header *h,
		       const psg_channel *c, int64_t t0, int64_t off,
		       int32_t n, float *x, int whole)
{
	psg_block b = {.t0 = t0, .offset = off, .n = n, .x = x};
	int bad = 0;
	for (int32_t i = 0, j; i < n; i = j) {
		int64_t e;
		j = epoch_run(g, h, c, &b, i, &e);
		bad += j <= i || j > n;
		for (int32_t k = i; k < j && k < n; k++)
			bad += grid_epoch(h, psg_sample_time(c, t0, off + k)) != e;
		bad += whole && j < n &&
		       grid_epoch(h, psg_sample_time(c, t0, off + j)) == e;
	}
	return bad;
}

static void test_runs(void)
{
	/* spr and period: 487.5 Hz, 200 Hz, 3 samples in 7 ticks, one in
	   30 s, and a period so long that the times saturate */
	const int64_t sp[][2] = {{975, 2 * PSG_TICKS_PER_SEC},
		{200, PSG_TICKS_PER_SEC}, {3, 7}, {1, 30 * PSG_TICKS_PER_SEC},
		{7, INT64_MAX / 4}};
	psg_channel cs[5];
	for (int i = 0; i < 5; i++)
		cs[i] = (psg_channel){.spr = sp[i][0], .period = sp[i][1]};
	const int64_t lens[] = {30 * PSG_TICKS_PER_SEC, 20 * PSG_TICKS_PER_SEC,
				1000, 7};
	const int64_t t0s[] = {0, -5 * PSG_TICKS_PER_SEC, 123456789,
			       INT64_MAX - 100};
	static float x[5000];
	psg_header h = {0};
	int bad = 0, blocks = 0;
	for (size_t ci = 0; ci < 5; ci++)
		for (size_t li = 0; li < sizeof lens / sizeof *lens; li++)
			for (size_t ti = 0; ti < sizeof t0s / sizeof *t0s; ti++) {
				grid_cache g = {0};
				h.epoch_len = lens[li];
				h.epoch_origin = (int64_t)li * 333;
				int64_t off = 0;
				for (int32_t n = 1; n <= 5000; n += n < 40 ? 1 : 613) {
					bad += check_block(&g, &h, &cs[ci], t0s[ti],
							   off, n, x, ci < 4 && ti < 3);
					off += n % 5 ? n : n + 17;   /* gaps too */
					blocks++;
				}
			}
	OK(!bad, "epoch_run's runs hold each sample's own epoch and end "
	   "where it changes (%d blocks, %d wrong)", blocks, bad);
}

/* The same samples one at a time and by welch_fill's chunks, reading the
   sums after each window: the same windows and the same bits. */
static void test_fill(void)
{
	enum { N = 20000 };
	static float x[N];
	for (int i = 0; i < N; i++)
		x[i] = (float)(sin(i * 0.37) * 40 + (i % 13) - 6.5);
	int st, bad = 0, wins = 0;
	psg_welch *a = psg_welch_new(256, 4, 0.5, &st);
	psg_welch *b = psg_welch_new(256, 4, 0.5, &st);
	double bands_a[64], bands_b[64];
	int na = 0, nb = 0;
	for (int i = 0; i < N; i++) {
		psg_welch_push(a, x + i, 1);
		if (psg_welch_windows(a) > na && na < 64)
			bands_a[na++] = psg_welch_band(a, 8, 12);
	}
	for (int i = 0, k; i < N; i += k) {
		k = welch_fill(b, x + i, i + 700 < N ? 700 : N - i);
		bad += k < 1 || k > 1024;
		if (psg_welch_windows(b) > nb && nb < 64)
			bands_b[nb++] = psg_welch_band(b, 8, 12);
	}
	wins = psg_welch_windows(a);
	bad += wins != psg_welch_windows(b) || na != nb || wins < 30;
	for (int i = 0; i < na && i < nb; i++)
		bad += memcmp(&bands_a[i], &bands_b[i], sizeof *bands_a) != 0;
	const double *pa = psg_welch_psd(a), *pb = psg_welch_psd(b);
	bad += memcmp(pa, pb, (size_t)psg_welch_bins(a) * sizeof *pa) != 0;
	OK(!bad, "Welch sums by welch_fill's chunks equal one sample at a "
	   "time, window by window (%d windows)", wins);
	psg_welch_free(a);
	psg_welch_free(b);
}

/* Overlapping windows (psg_welch keeps the next window's partial sum)
   against each window alone in a Welch of its own, summed in order: the
   same bits, across a restart (a gap) and at overlaps either side of
   half. */
static void test_overlap(void)
{
	enum { N = 5000, GAP = 1700 };
	static float x[N];
	for (int i = 0; i < N; i++)
		x[i] = (float)(cos(i * 0.11) * 30 + (i % 7) * 0.3 + 1e-3 * i);
	const double ov[] = {0.5, 0.75, 0.25, 0.9, 0};
	int st, bad = 0;
	for (size_t o = 0; o < sizeof ov / sizeof *ov; o++) {
		psg_welch *a = psg_welch_new(100, 4, ov[o], &st);
		int w = 400, step = (int)lround(4 * (1 - ov[o]) * 100);
		for (int i = 0; i < N; i += 37) {
			if (i <= GAP && i + 37 > GAP) {   /* a gap at GAP */
				psg_welch_push(a, x + i, GAP - i);
				psg_welch_restart(a);
				psg_welch_push(a, x + GAP, i + 37 - GAP);
			} else
				psg_welch_push(a, x + i, i + 37 <= N ? 37 : N - i);
		}
		double ref[201] = {0};
		int nw = 0;
		for (int s0 = 0; s0 < 2; s0++) {
			int from = s0 ? GAP : 0, to = s0 ? N : GAP;
			for (int j = from; j + w <= to; j += step, nw++) {
				psg_welch *r = psg_welch_new(100, 4, 0, &st);
				psg_welch_push(r, x + j, w);
				const double *pr = psg_welch_psd(r);
				for (int k = 0; k <= w / 2; k++)
					ref[k] += pr[k];
				psg_welch_free(r);
			}
		}
		const double *pa = psg_welch_psd(a);
		bad += nw != psg_welch_windows(a);
		for (int k = 0; k <= w / 2 && nw; k++) {
			double v = ref[k] / nw;
			bad += memcmp(&v, &pa[k], sizeof v) != 0;
		}
		psg_welch_free(a);
	}
	OK(!bad, "overlapping Welch windows equal each window alone, bit "
	   "for bit, at overlaps 0.25-0.9 and across a restart");
}

int main(void)
{
	test_runs();
	test_fill();
	test_overlap();
	return TAP_DONE();
}
