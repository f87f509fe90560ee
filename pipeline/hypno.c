/*
 * hypno.c -- sleep statistics of a hypnogram (psg_hypno_stats).
 *
 * Definitions (times in minutes; a hypnogram is one stage per epoch):
 *  - TRT, total recording time: the epochs recorded, scored or not (YASA
 *    sleep_statistics' TIB; Luna HYPNO's TRT), gaps excluded: the pauses
 *    of an EDF+D recording (PSG_HYPNO_GAP) are counted apart (gap_min);
 *  - sleep onset: the first epoch of N1, N2, N3 or R; SOL its time from
 *    the start (YASA SOL, Luna SLP_LAT); persistent SOL: the time to the
 *    first 10 minutes of uninterrupted sleep (Luna PER_SLP_LAT);
 *  - SPT, sleep period time: sleep onset to the end of the last sleep
 *    epoch (YASA SPT, Luna SPT); WASO: wake within it (YASA/Luna WASO);
 *  - TST: the minutes of N1, N2, N3 and R (YASA TST, Luna TST);
 *  - SE = TST / TRT and SME = TST / SPT, in % (YASA SE and SME);
 *  - minutes of each stage, and % of TST (YASA %N1..., Luna PCT_N1...);
 *  - REM latency: from sleep onset to the first R epoch (Luna REM_LAT;
 *    YASA's Lat_REM counts from the start of the recording instead);
 *  - awakenings: runs of W within the SPT; stage shifts: changes of stage
 *    between adjacent scored epochs within the SPT; sleep fragmentation
 *    index: shifts from N2, N3 or R to N1 or W per hour of TST
 *    (Haba-Rubio et al. 2004, Sleep Med 5:577);
 *  - NREM-REM cycles (Feinberg & Floyd 1979, as Luna's NREMC): a REM
 *    period is a run of R epochs with no more than 15 minutes of other
 *    epochs between them; a cycle is at least 15 minutes of NREM sleep
 *    followed by a REM period of at least 5 minutes (the first REM period
 *    may be shorter); a last NREM period of 15 minutes or more with no
 *    REM after it ends an incomplete cycle, counted in `cycles` too (as
 *    Luna's NREMC counts its last NREM period).
 * Unscored epochs (PSG_STAGE_UNKNOWN) are recorded time in no stage: they
 * count in TRT and SPT, not in TST.  Stage shifts skip over them.
 */
#include "psg.h"

#include <math.h>
#include <string.h>

#define PERSISTENT_MIN 10.0     /* Luna's persistent sleep */
#define CYCLE_NREM_MIN 15.0     /* Feinberg & Floyd 1979 */
#define CYCLE_REM_MIN 5.0
#define REM_GAP_MIN 15.0

static int is_sleep(int s)
{
	return s >= PSG_STAGE_N1 && s <= PSG_STAGE_R;
}

static int is_nrem(int s)
{
	return s >= PSG_STAGE_N1 && s <= PSG_STAGE_N3;
}

/* The first epoch at or after `from` that begins `need` epochs of
   uninterrupted sleep (gaps interrupt it); -1 none. */
static long persistent_onset(const signed char *st, size_t n, size_t need)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		run = is_sleep(st[i]) ? run + 1 : 0;
		if (run && run >= need)
			return (long)(i + 1 - run);
	}
	return -1;
}

/* Epochs recorded (not gap) before epoch i: times run on recorded time,
   so that an EDF+D pause adds nothing to a latency. */
static double recorded_before(const signed char *st, size_t i)
{
	double k = 0;
	for (size_t j = 0; j < i; j++)
		k += st[j] != PSG_HYPNO_GAP;
	return k;
}

/* Counts over the sleep period [a, b]: awakenings, shifts, the shifts
   to N1 or W from deeper sleep. */
static void period_counts(const signed char *st, size_t a, size_t b,
			  psg_sleep_stats *s)
{
	int prev = -9;
	for (size_t i = a; i <= b; i++) {
		int x = st[i];
		if (x < PSG_STAGE_W)
			continue;   /* unscored and gaps: skipped over */
		if (x == PSG_STAGE_W && prev != PSG_STAGE_W)
			s->awakenings++;
		if (prev >= PSG_STAGE_W && x != prev) {
			s->stage_shifts++;
			if ((prev >= PSG_STAGE_N2) &&
			    (x == PSG_STAGE_N1 || x == PSG_STAGE_W))
				s->fragmentations++;
		}
		prev = x;
	}
}

/* Feinberg & Floyd cycles over the sleep period [a, b], epochs of len
   minutes.  A REM period too short, or with too little NREM before it,
   ends no cycle: its NREM runs on into the next. */
static int cycles(const signed char *st, size_t a, size_t b, double len)
{
	double nrem = 0;            /* NREM minutes since the last cycle */
	int n = 0;
	for (size_t i = a; i <= b;) {
		if (st[i] != PSG_STAGE_R) {
			nrem += is_nrem(st[i]) ? len : 0;
			i++;
			continue;
		}
		double rem = 0;
		size_t last = i;
		for (size_t j = i; j <= b && (double)(j - last) * len <=
		     REM_GAP_MIN; j++)
			if (st[j] == PSG_STAGE_R)
				rem += len, last = j;
		if (nrem >= CYCLE_NREM_MIN && (rem >= CYCLE_REM_MIN || !n))
			n++, nrem = 0;
		i = last + 1;
	}
	return n + (nrem >= CYCLE_NREM_MIN);
}

int psg_hypno_stats(const signed char *st, size_t n, double epoch_min,
		    psg_sleep_stats *s)
{
	if (!s || (n && !st) || !(epoch_min > 0) || !isfinite(epoch_min))
		return PSG_ERR_ARG;
	memset(s, 0, sizeof *s);
	s->sol = s->sol_persistent = s->spt = s->waso = s->rem_latency = NAN;
	s->se = s->sme = s->fragmentation_index = NAN;
	for (int k = 0; k < 5; k++)
		s->stage_pct[k] = NAN;
	long first = -1, last = -1;
	for (size_t i = 0; i < n; i++) {
		int x = st[i];
		if (x == PSG_HYPNO_GAP) {
			s->gap += epoch_min;
			continue;
		}
		s->trt += epoch_min;
		if (x >= PSG_STAGE_W && x <= PSG_STAGE_R)
			s->stage_min[x] += epoch_min;
		else
			s->unscored += epoch_min;
		if (is_sleep(x)) {
			if (first < 0)
				first = (long)i;
			last = (long)i;
		}
	}
	for (int k = PSG_STAGE_N1; k <= PSG_STAGE_R; k++)
		s->tst += s->stage_min[k];
	s->se = s->trt > 0 ? 100 * s->tst / s->trt : NAN;
	if (first < 0)
		return PSG_OK;
	s->sol = recorded_before(st, (size_t)first) * epoch_min;
	long p = persistent_onset(st, n, (size_t)ceil(PERSISTENT_MIN /
						       epoch_min - 1e-9));
	if (p >= 0)
		s->sol_persistent = recorded_before(st, (size_t)p) * epoch_min;
	s->spt = (recorded_before(st, (size_t)last + 1) -
		  recorded_before(st, (size_t)first)) * epoch_min;
	s->waso = 0;
	for (long i = first; i <= last; i++)
		s->waso += st[i] == PSG_STAGE_W ? epoch_min : 0;
	s->sme = s->spt > 0 ? 100 * s->tst / s->spt : NAN;
	for (int k = PSG_STAGE_N1; k <= PSG_STAGE_R; k++)
		s->stage_pct[k] = 100 * s->stage_min[k] / s->tst;
	for (long i = first; i <= last; i++)
		if (st[i] == PSG_STAGE_R) {
			s->rem_latency = (recorded_before(st, (size_t)i) -
					  recorded_before(st, (size_t)first)) *
					 epoch_min;
			break;
		}
	period_counts(st, (size_t)first, (size_t)last, s);
	s->fragmentation_index = s->fragmentations / (s->tst / 60);
	s->cycles = cycles(st, (size_t)first, (size_t)last, epoch_min);
	return PSG_OK;
}
