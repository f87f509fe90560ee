/*
 * mkstream -- writes a deterministic synthetic psgpipe stream to stdout,
 * for tests: every value follows from the formulas below, so a test can
 * recompute what any stage must have received (tests/t_h5.sh does).
 *
 *   mkstream [--seconds N] [--epoch S] [--truncate] [--stray-epoch K]
 *
 * N (even, >= 24, default 120) seconds of recording in 2 s slots; slot j
 * covers [2j, 2j+2).  With nslots = N/2 and a = nslots/2, slots a..a+2 are
 * a gap (as in EDF+D): segment A is slots 0..a-1 (t0 = 0), segment B slots
 * a+3.. (t0 = 2(a+3) s), sample offsets restart at 0 in each segment.
 *
 * Channels (label, spr, period s); sample k of a channel's concatenated
 * samples is ((7k + 13c) mod 1000 - 500) / 4, exact in float:
 *   0 "EEG C3-A2" 256/1   1 "EOG/L" 100/1 (two 1 s blocks per slot)
 *   2 "Snore" 975/2 (487.5 Hz)   3 "EEG C3-A2" 256/1 (a duplicate label)
 *   4 "" 1/1, whose block of slot a+4 is missing (same t0, offset jumps)
 *   5 "Pos" 1/1, no samples at all
 * Epochs: length S (default 30) s, origin 5 s.  Features delta_power,
 * duration, hr, unused.  For every epoch k up to and including the first
 * incomplete one: {delta_power: 10k+0.5, duration: 10k+1.5}; hr = 60 + k%7
 * unless k%3 == 1; when k%5 == 0 another record sends delta_power twice
 * (999, then 10k+0.5: the last value counts).  unused is never sent.
 * Event types and events (onsets below N s, emitted in their slot):
 *   spindle(freq Hz, amplitude uV): j-th at 7j+0.25 s, 1.2 s long, channel
 *     0, label "sp<j>", values 12 + j%3, 20 + j
 *   arousal/resp(): at 20j+3 s, no duration, no channel, label "Arousal µ"
 *     (UTF-8 for even j, the Latin-1 byte 0xB5 for odd j)
 *   apnea(desat %, duration s): at 25j+10 s, 10 s long, channel 1, label
 *     "OA", values 3.5 + j%2, 10
 *   empty(x u): none
 * Summaries: ahi (/h) 1 after segment A, then napnea / (N / 3600) at the
 * end; n_spindles () the count; x/y (u) 42.  END: duration N s and the
 * SHA-256 of the empty string.  --truncate: no END record.
 * --stray-epoch K: first of all an epoch record for epoch K (delta_power
 * 1e6), which a consumer must drop if K is not a complete epoch.
 */
#include "psg.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC PSG_TICKS_PER_SEC
#define NCH 6

typedef struct gen {
	psg_writer *w;
	int64_t seconds, epoch;  /* epoch length in seconds */
	int nslots, a;
	int64_t count[NCH];      /* samples written per channel */
	int64_t next_epoch;
	int64_t stray;           /* --stray-epoch, or -1 */
	int nspindle, narousal, napnea;
	float *x;
} gen;

static void die(int code, const char *msg)
{
	fprintf(stderr, "mkstream: %s\n", msg);
	exit(code);
}

static void check(int st, gen *g)
{
	if (st < 0) {
		fprintf(stderr, "mkstream: %s\n", psg_writer_errmsg(g->w));
		exit(2);
	}
}

static psg_header *make_header(int64_t epoch_s, int argc, char **argv)
{
	static const struct { const char *label, *kind, *unit; int64_t spr,
		period; } ch[NCH] = {
		{"EEG C3-A2", "EEG", "uV", 256, 1},
		{"EOG/L", "EOG", "uV", 100, 1},
		{"Snore", "AUDIO", "uV", 975, 2},
		{"EEG C3-A2", "EEG", "uV", 256, 1},
		{"", "OTHER", "%", 1, 1}, {"Pos", "OTHER", "", 1, 1}};
	psg_header *h = psg_header_new();
	char *hist[] = {"psg-read", "synthetic/night.edf"};
	const char *sp_f[] = {"freq", "amplitude"}, *sp_u[] = {"Hz", "uV"};
	const char *ap_f[] = {"desat", "duration"}, *ap_u[] = {"%", "s"};
	const char *em_f[] = {"x"}, *em_u[] = {"u"};
	if (!h)
		die(2, "out of memory");
	strcpy(h->file_type, "EDF+D");
	strcpy(h->source, "synthetic/night.edf");
	h->year = 2020, h->month = 3, h->day = 4;
	h->hour = 22, h->minute = 15, h->second = 30, h->subsecond = 2500000;
	strcpy(h->patient, "X F 04-JUL-1970 Jane_Doe");
	strcpy(h->recording, "Startdate 04-MAR-2020 PSG-1 Alice mkstream");
	strcpy(h->patient_code, "X");
	strcpy(h->sex, "F");
	strcpy(h->birthdate, "04-JUL-1970");
	strcpy(h->patient_name, "Jane Doe");
	strcpy(h->admincode, "PSG-1");
	strcpy(h->technician, "Alice");
	strcpy(h->equipment, "mkstream");
	strcpy(h->recording_additional, "synthetic \xc2\xb5 test");
	h->duration = -1;   /* unknown: the END record tells */
	h->epoch_len = epoch_s * SEC;
	h->epoch_origin = 5 * SEC;
	for (int i = 0; i < NCH; i++) {
		psg_channel c = {0};
		strcpy(c.label, ch[i].label);
		strcpy(c.kind, ch[i].kind);
		strcpy(c.unit, ch[i].unit);
		snprintf(c.transducer, sizeof c.transducer, "transducer %d", i);
		snprintf(c.prefilter, sizeof c.prefilter, "HP:0.%dHz", i);
		c.phys_min = -500 - i, c.phys_max = 500 + i;
		c.dig_min = -32768 + i, c.dig_max = 32767 - i;
		c.spr = ch[i].spr, c.period = ch[i].period * SEC;
		psg_header_add_channel(h, &c);
	}
	psg_header_add_feature(h, "delta_power", "uV^2", "mean delta power");
	psg_header_add_feature(h, "duration", "s", "a name that collides");
	psg_header_add_feature(h, "hr", "bpm", "heart rate");
	psg_header_add_feature(h, "unused", "", "never sent");
	psg_header_add_evtype(h, "spindle", 2, sp_f, sp_u);
	psg_header_add_evtype(h, "arousal/resp", 0, NULL, NULL);
	psg_header_add_evtype(h, "apnea", 2, ap_f, ap_u);
	psg_header_add_evtype(h, "empty", 1, em_f, em_u);
	psg_header_add_history(h, 2, hist);
	psg_header_add_history(h, argc, argv);
	return h;
}

static float sample(int c, int64_t k)
{
	return (float)((k * 7 + c * 13) % 1000 - 500) * 0.25f;
}

static void block(gen *g, int c, int64_t t0, int64_t offset, int32_t n)
{
	for (int32_t i = 0; i < n; i++)
		g->x[i] = sample(c, g->count[c] + i);
	psg_block b = {c, t0, offset, n, g->x};
	check(psg_write_block(g->w, &b), g);
	g->count[c] += n;
}

static void slot_data(gen *g, int j)
{
	static const int32_t per_slot[NCH] = {512, 200, 975, 512, 2, 0};
	int in_b = j >= g->a + 3;
	int64_t t0 = in_b ? 2 * (g->a + 3) * SEC : 0;
	int64_t rel = in_b ? j - (g->a + 3) : j;
	for (int c = 0; c < NCH; c++) {
		if (!per_slot[c] || (c == 4 && j == g->a + 4))
			continue;
		if (c == 1) {
			block(g, c, t0, rel * 200, 100);
			block(g, c, t0, rel * 200 + 100, 100);
		} else {
			block(g, c, t0, rel * per_slot[c], per_slot[c]);
		}
	}
}

static void event(gen *g, int type, int ch, int64_t onset, int64_t dur,
		  const char *label, int n, const double *v)
{
	psg_event e = {type, ch, onset, dur, label, n, v};
	check(psg_write_event(g->w, &e), g);
}

/* Events whose onset falls in [lo, hi) ticks. */
static void slot_events(gen *g, int64_t lo, int64_t hi)
{
	char label[32];
	for (int64_t t; (t = 7 * SEC * g->nspindle + SEC / 4) < hi;
	     g->nspindle++) {
		int j = g->nspindle;
		double v[2] = {12 + j % 3, 20 + j};
		snprintf(label, sizeof label, "sp%d", j);
		if (t >= lo)
			event(g, 0, 0, t, 12 * SEC / 10, label, 2, v);
	}
	for (int64_t t; (t = 20 * SEC * g->narousal + 3 * SEC) < hi;
	     g->narousal++)
		if (t >= lo)
			event(g, 1, -1, t, -1, g->narousal % 2 ?
			      "Arousal \xb5" : "Arousal \xc2\xb5", 0, NULL);
	for (int64_t t; (t = 25 * SEC * g->napnea + 10 * SEC) < hi;
	     g->napnea++) {
		double v[2] = {3.5 + g->napnea % 2, 10};
		if (t >= lo)
			event(g, 2, 1, t, 10 * SEC, "OA", 2, v);
	}
}

static void epoch(gen *g, int64_t k)
{
	uint32_t f01[2] = {0, 1}, f2 = 2, f00[2] = {0, 0};
	double v01[2] = {10.0 * k + 0.5, 10.0 * k + 1.5};
	double hr = 60 + k % 7, v00[2] = {999, 10.0 * k + 0.5};
	psg_epoch a = {k, 2, f01, v01}, b = {k, 1, &f2, &hr};
	psg_epoch c = {k, 2, f00, v00};
	check(psg_write_epoch(g->w, &a), g);
	if (k % 3 != 1)
		check(psg_write_epoch(g->w, &b), g);
	if (k % 5 == 0)
		check(psg_write_epoch(g->w, &c), g);
}

/* Epochs that ended by time t (ticks). */
static void epochs_until(gen *g, int64_t t)
{
	while (5 * SEC + (g->next_epoch + 1) * g->epoch * SEC <= t)
		epoch(g, g->next_epoch++);
}

static void summary(gen *g, const char *name, const char *unit, double v)
{
	psg_summary s = {name, unit, v};
	check(psg_write_summary(g->w, &s), g);
}

static void parse(gen *g, int *truncate, int argc, char **argv)
{
	static const struct option lo[] = {
		{"seconds", required_argument, NULL, 'n'},
		{"epoch", required_argument, NULL, 'e'},
		{"truncate", no_argument, NULL, 't'},
		{"stray-epoch", required_argument, NULL, 'k'},
		{NULL, 0, NULL, 0}};
	int c;
	g->seconds = 120, g->epoch = 30, g->stray = -1;
	while ((c = getopt_long(argc, argv, "n:e:tk:", lo, NULL)) != -1) {
		if (c == 'n')
			g->seconds = strtoll(optarg, NULL, 10);
		else if (c == 'e')
			g->epoch = strtoll(optarg, NULL, 10);
		else if (c == 't')
			*truncate = 1;
		else if (c == 'k')
			g->stray = strtoll(optarg, NULL, 10);
		else
			die(1, "usage: mkstream [--seconds N] [--epoch S] "
			    "[--truncate] [--stray-epoch K]");
	}
	if (g->seconds < 24 || g->seconds % 2 || g->epoch < 1)
		die(1, "--seconds wants an even number >= 24, --epoch >= 1");
}

int main(int argc, char **argv)
{
	gen g = {0};
	int truncate = 0, st;
	parse(&g, &truncate, argc, argv);
	psg_header *h = make_header(g.epoch, argc, argv);
	g.nslots = (int)(g.seconds / 2), g.a = g.nslots / 2;
	if (!(g.x = malloc(975 * sizeof *g.x)))
		die(2, "out of memory");
	if (!(g.w = psg_writer_open_fd(1, h, &st)))
		die(2, psg_strerror(st));
	if (g.stray >= 0) {
		uint32_t f = 0;
		double v = 1e6;
		psg_epoch e = {g.stray, 1, &f, &v};
		check(psg_write_epoch(g.w, &e), &g);
	}
	for (int j = 0; j < g.nslots; j++) {
		if (j < g.a || j >= g.a + 3)
			slot_data(&g, j);
		slot_events(&g, 2 * j * SEC, (2 * j + 2) * SEC);
		epochs_until(&g, (2 * j + 2) * SEC);
		if (j == g.a)
			summary(&g, "ahi", "/h", 1);
	}
	epoch(&g, g.next_epoch);   /* the incomplete one: to be dropped */
	summary(&g, "ahi", "/h", g.napnea / (g.seconds / 3600.0));
	summary(&g, "n_spindles", "", g.nspindle);
	summary(&g, "x/y", "u", 42);
	psg_end end = {g.seconds * SEC, 0, ""};
	/* the SHA-256 of nothing: any fixed digest would do */
	strcpy(end.sha256, "e3b0c44298fc1c149afbf4c8996fb924"
	       "27ae41e4649b934ca495991b7852b855");
	if (!truncate)
		check(psg_writer_finish(g.w, &end), &g);
	psg_writer_free(g.w);
	psg_header_free(h);
	free(g.x);
	return 0;
}
