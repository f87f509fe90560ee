/*
 * epochrun.h -- a block's samples in runs that lie in one epoch, for the
 * detectors that sum per epoch (psg-wake, psg-stage): their per-sample
 * work (a sample time, an epoch, a Welch push of one sample) was half
 * their CPU; a run costs one or a few sample times and one push.
 * Include after stage.h.
 */
#ifndef PSG_EPOCHRUN_H
#define PSG_EPOCHRUN_H

/* Samples i .. end-1 of block b (channel c) lie in epoch *e, the epoch of
   sample i: returns end (> i).  Sample times never decrease with the
   index (psg_sample_time rounds idx * period / spr, and saturates), so
   the epoch's end is found by bisection: one sample time for a block
   inside an epoch, about log2(n) where an epoch ends in it. */
__attribute__((unused))
static int32_t epoch_run(grid_cache *g, const psg_header *h,
			 const psg_channel *c, const psg_block *b, int32_t i,
			 int64_t *e)
{
	int64_t t = psg_sample_time(c, b->t0, b->offset + i);
	*e = grid_epoch_at(g, h, t);
	if (!(t >= g->lo && t < g->hi) || b->offset < 0)
		return i + 1;       /* no usable bounds: one sample */
	int32_t lo = i, hi = b->n - 1;
	if (psg_sample_time(c, b->t0, b->offset + hi) < g->hi)
		return b->n;
	while (hi - lo > 1) {       /* time(lo) < g->hi <= time(hi) */
		int32_t mid = lo + (hi - lo) / 2;
		if (psg_sample_time(c, b->t0, b->offset + mid) < g->hi)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* Count, sum and sum of squares of x[0..n), added in order (the sums'
   bits depend on it). */
__attribute__((unused))
static void sums_run(const float *x, int32_t n, int64_t *cnt, double *sum,
		     double *sum2)
{
	double s = *sum, s2 = *sum2;
	for (int32_t i = 0; i < n; i++)
		s += x[i], s2 += (double)x[i] * x[i];
	*sum = s, *sum2 = s2, *cnt += n;
}

/* Pushes x[0..n) into w up to the end of its next window, so that the
   caller can read each window's sums: returns the samples taken. */
__attribute__((unused))
static int32_t welch_fill(psg_welch *w, const float *x, int32_t n)
{
	int32_t k = psg_welch_room(w);
	k = k < n ? k : n;
	psg_welch_push(w, x, k);
	return k;
}

/* Pushes x[0..n) into w, a window of its own each time (no overlap):
   value(w, rate) of each complete window goes to sec[nsec++], and the
   sums are cleared for the next. */
__attribute__((unused))
static void window_values(psg_welch *w, const float *x, int32_t n,
			  double (*value)(const psg_welch *, double),
			  double rate, double **sec, size_t *nsec, size_t *cap)
{
	while (n > 0) {
		int32_t k = welch_fill(w, x, n);
		x += k, n -= k;
		if (psg_welch_windows(w)) {
			*sec = grow(*sec, cap, *nsec, sizeof **sec);
			(*sec)[(*nsec)++] = value(w, rate);
			psg_welch_clear(w);
		}
	}
}

#endif
