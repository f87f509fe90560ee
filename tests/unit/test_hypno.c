/* test_hypno.c -- psg_sleep_stats on a hypnogram worked by hand (the
 * expected figures below are counted from the hypnogram in the comment,
 * not taken from the code), a night without sleep, and bad arguments. */
#include "psg.h"
#include "tap.h"

#include <math.h>

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

enum { W = PSG_STAGE_W, N1 = PSG_STAGE_N1, N2 = PSG_STAGE_N2,
       N3 = PSG_STAGE_N3, R = PSG_STAGE_R, U = PSG_STAGE_UNKNOWN,
       G = PSG_HYPNO_GAP };

/* 30-s epochs: 0-3 W, 4 N1, 5 W, 6-41 N2, 42-51 R, 52-53 gap, 54-55 W,
   56-87 N3, 88 unscored, 89-90 R, 91-92 N2, 93-95 W. */
static size_t night(signed char *st)
{
	size_t n = 0;
	struct { int stage, count; } runs[] = {{W, 4}, {N1, 1}, {W, 1},
		{N2, 36}, {R, 10}, {G, 2}, {W, 2}, {N3, 32}, {U, 1}, {R, 2},
		{N2, 2}, {W, 3}};
	for (size_t k = 0; k < sizeof runs / sizeof *runs; k++)
		for (int i = 0; i < runs[k].count; i++)
			st[n++] = (signed char)runs[k].stage;
	return n;
}

int main(void)
{
	signed char st[128];
	size_t n = night(st);
	psg_sleep_stats s;
	OK(n == 96 && psg_hypno_stats(st, n, 0.5, &s) == PSG_OK,
	   "96 epochs of 30 s");
	OK(NEAR(s.trt, 47) && NEAR(s.gap, 1) && NEAR(s.unscored, 0.5),
	   "TRT 47 min without the 1-min gap; 0.5 min unscored");
	OK(NEAR(s.stage_min[W], 5) && NEAR(s.stage_min[N1], 0.5) &&
	   NEAR(s.stage_min[N2], 19) && NEAR(s.stage_min[N3], 16) &&
	   NEAR(s.stage_min[R], 6), "minutes per stage");
	OK(NEAR(s.tst, 41.5) && NEAR(s.se, 100 * 41.5 / 47),
	   "TST 41.5 min, SE %.2f %%", s.se);
	OK(NEAR(s.spt, 43.5) && NEAR(s.waso, 1.5) &&
	   NEAR(s.sme, 100 * 41.5 / 43.5),
	   "SPT 43.5 min (onset to last sleep, gap out), WASO 1.5, SME");
	OK(NEAR(s.sol, 2) && NEAR(s.sol_persistent, 3),
	   "SOL 2 min, persistent SOL 3 min (the first 10 min of sleep)");
	OK(NEAR(s.rem_latency, 19), "REM latency 19 min from sleep onset");
	OK(NEAR(s.stage_pct[N2], 100 * 19 / 41.5) && isnan(s.stage_pct[W]),
	   "%%N2 of TST; no %%W");
	OK(s.awakenings == 2, "2 awakenings in the SPT (got %d)",
	   s.awakenings);
	OK(s.stage_shifts == 7, "7 stage shifts, over the gap and the "
	   "unscored epoch (got %d)", s.stage_shifts);
	OK(s.fragmentations == 1 && NEAR(s.fragmentation_index, 60 / 41.5),
	   "one shift from N2/N3/R to N1/W: %.3f per hour of TST",
	   s.fragmentation_index);
	OK(s.cycles == 2, "2 cycles: NREM then 5 min of REM, then 17 min of "
	   "NREM around a 1-min REM period (got %d)", s.cycles);

	signed char awake[10] = {W, W, W, U, W, W, W, W, W, W};
	OK(psg_hypno_stats(awake, 10, 0.5, &s) == PSG_OK && s.tst == 0 &&
	   s.se == 0 && isnan(s.sol) && isnan(s.spt) && isnan(s.rem_latency) &&
	   s.cycles == 0 && s.awakenings == 0, "no sleep: TST 0, SE 0, "
	   "latencies NaN");
	OK(psg_hypno_stats(awake, 10, 0, &s) == PSG_ERR_ARG &&
	   psg_hypno_stats(NULL, 3, 0.5, &s) == PSG_ERR_ARG &&
	   psg_hypno_stats(NULL, 0, 0.5, &s) == PSG_OK && s.trt == 0,
	   "bad epoch length and NULL refused; an empty hypnogram is fine");
	return TAP_DONE();
}
