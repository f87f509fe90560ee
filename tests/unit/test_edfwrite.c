/*
 * test_edfwrite.c -- the EDF+/BDF+ writer: what it writes, both readers
 * (edflib for +C, the native parser for everything) read back: header
 * fields, labels, units, exact rates, every sample within half a digital
 * step, EDF+D gaps, annotations, the sub-second start; plus the header
 * bytes themselves and the failure modes (bad rates and onsets, full
 * annotation space, missing directories, unfinished writers).
 *
 *   test_edfwrite                      the TAP tests
 *   test_edfwrite --write PATH [--bdf] [--seconds N]
 *                                      writes the recording that
 *                                      tests/edfwrite_check.py verifies
 *                                      (t_edfwrite.sh: also on a full disk)
 *   KEEP=1 test_edfwrite               leaves the written files for a look
 */
#include "internal.h"
#include "tap.h"

#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEC PSG_TICKS_PER_SEC
#define TWO_PI 6.283185307179586
#define MAXCH 8
#define MAXANN 512

static char dir[] = "/tmp/psgedfwXXXXXX";

static void path_of(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

/* Files in the scratch directory whose name starts with prefix. */
static int count_files(const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		n += !strncmp(e->d_name, prefix, strlen(prefix));
	if (d)
		closedir(d);
	return n;
}

/* ---- what is written ---- */

typedef struct ann {
	int64_t onset, dur;
	char text[160];
} ann;

typedef struct wcase {
	const char *name;
	psg_edf_opts o;
	int nch;
	psg_channel ch[MAXCH];
	double amp[MAXCH];        /* sine amplitude; beyond the range clamps */
	int nrec;
	int64_t onset[64];        /* of each record */
	int nann;
	ann ann[MAXANN];          /* as added */
	int add_after[MAXANN];    /* added once this many records are out */
} wcase;

static psg_channel chan(const char *label, const char *unit, double lo,
			double hi, int64_t spr, int64_t period)
{
	psg_channel c = {.phys_min = lo, .phys_max = hi, .spr = spr,
		.period = period};
	psg__strlcpy(c.label, label, sizeof c.label);
	psg__strlcpy(c.unit, unit, sizeof c.unit);
	psg__strlcpy(c.transducer, "AgAgCl électrode", sizeof c.transducer);
	psg__strlcpy(c.prefilter, "HP:0.1Hz LP:75Hz", sizeof c.prefilter);
	return c;
}

/* Sample k (counted from the start, gaps included) of channel c. */
static float wave(const wcase *wc, int c, int64_t k)
{
	const psg_channel *ch = &wc->ch[c];
	double t = (double)k * ch->period / ch->spr / SEC;
	double mid = (ch->phys_min + ch->phys_max) / 2;
	return (float)(mid + wc->amp[c] * sin(TWO_PI * (0.7 + c) * t + c));
}

static psg_header *make_header(const wcase *wc)
{
	psg_header *h = psg_header_new();
	h->year = 2021, h->month = 3, h->day = 4;
	h->hour = 22, h->minute = 5, h->second = 6;
	h->subsecond = 3945312;
	strcpy(h->patient_code, "MCH-0234567");
	strcpy(h->sex, "F");
	strcpy(h->birthdate, "02-MAY-1951");
	strcpy(h->patient_name, "Haagse Harry");
	strcpy(h->patient_additional, "Née Ö");
	strcpy(h->admincode, "PSG-7");
	strcpy(h->technician, "J. Doe");
	strcpy(h->equipment, "Nox A1");
	strcpy(h->recording_additional, "Hôpital");
	for (int c = 0; wc && c < wc->nch; c++)
		psg_header_add_channel(h, &wc->ch[c]);
	return h;
}

static int64_t rec_ticks(const wcase *wc)
{
	return wc->o.record_ticks ? wc->o.record_ticks : SEC;
}

static int64_t spr_rec(const wcase *wc, int c)
{
	return wc->ch[c].spr * rec_ticks(wc) / wc->ch[c].period;
}

static int add_due(psg_edf_writer *w, const wcase *wc, int done, int *next)
{
	int st = PSG_OK;
	while (!st && *next < wc->nann && wc->add_after[*next] <= done) {
		const ann *a = &wc->ann[*next];
		st = psg_edf_add_annotation(w, a->onset, a->dur, a->text);
		++*next;
	}
	return st;
}

/* Writes the case to path; returns the first failing status. */
static int write_case(const wcase *wc, const char *path, char *msg,
		      size_t msglen)
{
	psg_header *h = make_header(wc);
	int st, next = 0;
	psg_edf_writer *w = psg_edf_writer_open(path, h, &wc->o, &st);
	psg_header_free(h);
	if (!w) {
		snprintf(msg, msglen, "%s", psg_edf_writer_errmsg(NULL));
		return st;
	}
	float *x[MAXCH];
	for (int c = 0; c < wc->nch; c++)
		x[c] = malloc((size_t)spr_rec(wc, c) * sizeof **x);
	st = add_due(w, wc, 0, &next);
	for (int r = 0; !st && r < wc->nrec; r++) {
		int64_t first = wc->onset[r] / rec_ticks(wc);
		for (int c = 0; c < wc->nch; c++)
			for (int64_t j = 0; j < spr_rec(wc, c); j++)
				x[c][j] = wave(wc, c, first * spr_rec(wc, c) + j);
		st = psg_edf_write_record(w, wc->onset[r],
					  (const float *const *)x);
		if (!st)
			st = add_due(w, wc, r + 1, &next);
	}
	if (!st)
		st = psg_edf_writer_finish(w);
	snprintf(msg, msglen, "%s", st ? psg_edf_writer_errmsg(w) : "");
	for (int c = 0; c < wc->nch; c++)
		free(x[c]);
	psg_edf_writer_free(w);
	return st;
}

/* ---- what is read back ---- */

typedef struct result {
	int st;
	char msg[512];
	psg_header *h;
	int64_t nsamp[MAXCH];
	double worst[MAXCH];      /* largest |error| in half digital steps */
	int clamped_ok[MAXCH];    /* samples beyond the range read as its end */
	int64_t seg[16];          /* channel 0: start of each new segment */
	int nseg;
	int64_t last_t0, last_end;
	int nann;
	ann ann[MAXANN];
} result;

static void check_block(const wcase *wc, result *res, const psg_block *b)
{
	const psg_channel *g = &res->h->channels[b->channel];
	const psg_channel *ch = &wc->ch[b->channel];
	double range = (wc->o.bdf ? 16777215.0 : 65535.0);
	double half = (ch->phys_max - ch->phys_min) / range / 2;
	int64_t base = b->t0 / g->period * g->spr;   /* t0 is on the grid */
	for (int32_t i = 0; i < b->n; i++) {
		double want = wave(wc, b->channel, base + b->offset + i);
		double lo = ch->phys_min, hi = ch->phys_max;
		double clamped = want < lo ? lo : want > hi ? hi : want;
		double err = fabs(b->x[i] - clamped);
		/* float32 output adds up to half an ulp of the value */
		double tol = half * (1 + 1e-6) + fabs(clamped) * FLT_EPSILON;
		if (err / tol > res->worst[b->channel])
			res->worst[b->channel] = err / tol;
		if (want != clamped && err > fabs(clamped) * FLT_EPSILON)
			res->clamped_ok[b->channel] = 0;
	}
	res->nsamp[b->channel] += b->n;
	if (b->channel == 0 && (res->nseg == 0 || b->t0 != res->last_t0 ||
				b->offset != res->last_end) && res->nseg < 16)
		res->seg[res->nseg++] = b->t0 + b->offset * g->period / g->spr;
	if (b->channel == 0)
		res->last_t0 = b->t0, res->last_end = b->offset + b->n;
}

static void read_back(const wcase *wc, const char *path, int backend,
		      result *res)
{
	psg_open_opts o = {.backend = backend};
	memset(res, 0, sizeof *res);
	for (int c = 0; c < MAXCH; c++)
		res->clamped_ok[c] = 1;
	psg_reader *r = psg_reader_open(path, &o, &res->st, res->msg,
					sizeof res->msg);
	if (!r)
		return;
	res->h = psg_header_new();
	psg_header_copy(res->h, psg_reader_header(r));
	psg_record rec;
	int st;
	while ((st = psg_reader_next(r, &rec)) > 0) {
		if (rec.kind == PSG_REC_DATA && rec.block.channel < wc->nch)
			check_block(wc, res, &rec.block);
		if (rec.kind == PSG_REC_EVENT && res->nann < MAXANN) {
			ann *a = &res->ann[res->nann++];
			a->onset = rec.event.onset, a->dur = rec.event.duration;
			snprintf(a->text, sizeof a->text, "%s", rec.event.label);
		}
	}
	res->st = st;
	if (st < 0)
		snprintf(res->msg, sizeof res->msg, "%s", psg_reader_errmsg(r));
	psg_reader_free(r);
}

static int by_time(const void *a, const void *b)
{
	const ann *x = a, *y = b;
	if (x->onset != y->onset)
		return x->onset < y->onset ? -1 : 1;
	if (x->dur != y->dur)
		return x->dur < y->dur ? -1 : 1;
	return strcmp(x->text, y->text);
}

/* The text as the writer stores it: control characters become spaces. */
static void stored_text(char *dst, const char *src)
{
	for (; *src; src++)
		*dst++ = (unsigned char)*src < 0x20 ? ' ' : *src;
	*dst = '\0';
}

static int same_annotations(const wcase *wc, result *res)
{
	ann want[MAXANN];
	if (res->nann != wc->nann)
		return 0;
	for (int i = 0; i < wc->nann; i++) {
		want[i] = wc->ann[i];
		stored_text(want[i].text, wc->ann[i].text);
	}
	qsort(want, (size_t)wc->nann, sizeof *want, by_time);
	qsort(res->ann, (size_t)res->nann, sizeof *res->ann, by_time);
	for (int i = 0; i < wc->nann; i++)
		if (by_time(&want[i], &res->ann[i]))
			return 0;
	return 1;
}

static const char *backend_name(int b)
{
	return b == PSG_EDF_EDFLIB ? "edflib" : "native";
}

/* Everything the readers give back against what was written. */
static void verify(const wcase *wc, const char *path, int backend)
{
	result res;
	const char *bn = backend_name(backend);
	read_back(wc, path, backend, &res);
	OK(res.st == 0 && res.h, "%s (%s): read back (%s)", wc->name, bn,
	   res.msg);
	if (!res.h)
		return;
	const psg_header *g = res.h;
	char type[16];
	snprintf(type, sizeof type, "%s+%c", wc->o.bdf ? "BDF" : "EDF",
		 wc->o.discontinuous ? 'D' : 'C');
	OK(!strcmp(g->file_type, type), "%s (%s): file type %s", wc->name, bn,
	   g->file_type);
	OK(g->year == 2021 && g->month == 3 && g->day == 4 && g->hour == 22 &&
	   g->minute == 5 && g->second == 6 && g->subsecond == 3945312,
	   "%s (%s): start 2021-03-04 22:05:06.3945312", wc->name, bn);
	OK(!strcmp(g->patient_code, "MCH-0234567") &&
	   !strcmp(g->patient_name, "Haagse Harry") &&
	   !strcmp(g->admincode, "PSG-7") && !strcmp(g->technician, "J. Doe") &&
	   !strcmp(g->equipment, "Nox A1") && g->sex[0] == 'F' &&
	   !strncasecmp(g->birthdate + 3, "MAY", 3),
	   "%s (%s): EDF+ patient and recording subfields", wc->name, bn);
	int labels = g->nchannels == wc->nch, rates = labels, n = labels;
	for (int c = 0; labels && c < wc->nch; c++) {
		char want[32];
		snprintf(want, sizeof want, "%s", wc->ch[c].label);
		if (!strcmp(want, "Température"))
			snprintf(want, sizeof want, "Temperature");
		labels &= !strcmp(g->channels[c].label, want);
		rates &= g->channels[c].spr * wc->ch[c].period ==
			 wc->ch[c].spr * g->channels[c].period;
		n &= res.nsamp[c] == (int64_t)wc->nrec * spr_rec(wc, c);
	}
	OK(labels, "%s (%s): labels (accents dropped)", wc->name, bn);
	OK(rates, "%s (%s): rates exact", wc->name, bn);
	OK(n, "%s (%s): every sample read", wc->name, bn);
	double worst = 0;
	int clamped = 1;
	for (int c = 0; c < wc->nch; c++) {
		worst = res.worst[c] > worst ? res.worst[c] : worst;
		clamped &= res.clamped_ok[c];
	}
	OK(worst <= 1, "%s (%s): samples within half a digital step (worst "
	   "%.3f of the tolerance)", wc->name, bn, worst);
	OK(clamped, "%s (%s): values beyond the range read as its ends",
	   wc->name, bn);
	OK(same_annotations(wc, &res), "%s (%s): %d annotations (onset, "
	   "duration, text)", wc->name, bn, res.nann);
	if (wc->o.discontinuous) {
		int segs = 0;
		for (int r = 0; r < wc->nrec; r++)
			if (r == 0 || wc->onset[r] != wc->onset[r - 1] +
						       rec_ticks(wc))
				segs += segs < res.nseg &&
					res.seg[segs] == wc->onset[r];
		int want = 0;
		for (int r = 0; r < wc->nrec; r++)
			want += r == 0 || wc->onset[r] != wc->onset[r - 1] +
							  rec_ticks(wc);
		OK(segs == want && res.nseg == want, "%s (%s): %d segments at "
		   "the written onsets", wc->name, bn, res.nseg);
		int64_t end = wc->onset[wc->nrec - 1] + rec_ticks(wc);
		OK(g->duration == end, "%s (%s): duration runs to the last "
		   "record's end", wc->name, bn);
	}
	psg_header_free(res.h);
}

/* ---- the cases ---- */

static void add_ann(wcase *wc, int after, double onset, double dur,
		    const char *text)
{
	ann *a = &wc->ann[wc->nann];
	a->onset = llround(onset * SEC);
	a->dur = dur < 0 ? -1 : llround(dur * SEC);
	snprintf(a->text, sizeof a->text, "%s", text);
	wc->add_after[wc->nann++] = after;
}

static void contiguous(wcase *wc, int nrec)
{
	wc->nrec = nrec;
	for (int r = 0; r < nrec; r++)
		wc->onset[r] = r * rec_ticks(wc);
}

static void case_edf_c(wcase *wc)
{
	memset(wc, 0, sizeof *wc);
	wc->name = "EDF+C";
	wc->nch = 5;
	wc->ch[0] = chan("C4-M1", "uV", -500, 500, 256, SEC);
	wc->ch[1] = chan("Leg L", "uV", -100, 100, 100, SEC);
	wc->ch[2] = chan("Snore", "uV", -1000, 1000, 512, SEC);
	wc->ch[3] = chan("SpO2", "%", 0, 100, 1, SEC);
	wc->ch[4] = chan("Température", "°C", 30, 40, 1, SEC);
	double amp[] = {600, 99, 999, 60, 4};   /* C4 and SpO2 clamp */
	memcpy(wc->amp, amp, sizeof amp);
	contiguous(wc, 12);
	add_ann(wc, 0, 0, -1, "Lights off");
	add_ann(wc, 0, 2.5, 3.25, "Arousal");
	add_ann(wc, 0, 5.1234567, 30, "Schlafstadium Ü – N2");
	add_ann(wc, 0, 0.0000001, 0, "zero duration");
	add_ann(wc, 3, 4.75, -1, "tab\there, 0x14 \x14 too");
	add_ann(wc, 3, 4.8, 1.5, "日本語のテキスト");
	add_ann(wc, 11, 11.5, -1, "Lights on");
	add_ann(wc, 11, -0.25, -1, "before the start");
}

static void case_bdf_c(wcase *wc)
{
	memset(wc, 0, sizeof *wc);
	wc->name = "BDF+C 2-s records";
	wc->o.bdf = 1;
	wc->o.record_ticks = 2 * SEC;
	wc->nch = 3;
	wc->ch[0] = chan("Leg R", "uV", -250, 250, 975, 2 * SEC); /* 487.5 */
	wc->ch[1] = chan("EEG Fpz-Cz", "uV", -3276.8, 3276.7, 256, SEC);
	wc->ch[2] = chan("Position", "", 0, 4, 1, SEC);
	double amp[] = {300, 3000, 1.9};
	memcpy(wc->amp, amp, sizeof amp);
	contiguous(wc, 6);
	add_ann(wc, 0, 1, 2, "Leg movement");
	add_ann(wc, 2, 7.9999999, -1, "Snore");
}

static void case_edf_d(wcase *wc, int bdf)
{
	static const int64_t at[] = {0, 1, 2, 5, 6, 10, 11, 12, 20};
	memset(wc, 0, sizeof *wc);
	wc->name = bdf ? "BDF+D with gaps" : "EDF+D with gaps";
	wc->o.bdf = bdf;
	wc->o.discontinuous = 1;
	wc->nch = 3;
	wc->ch[0] = chan("C3-M2", "uV", -500, 500, 256, SEC);
	wc->ch[1] = chan("Flow", "uV", -200, 200, 100, SEC);
	wc->ch[2] = chan("SpO2", "%", 0, 100, 1, SEC);
	double amp[] = {400, 150, 10};
	memcpy(wc->amp, amp, sizeof amp);
	wc->nrec = 9;
	for (int r = 0; r < wc->nrec; r++)
		wc->onset[r] = at[r] * SEC;
	add_ann(wc, 0, 0.5, -1, "first");
	add_ann(wc, 3, 3.5, 1.5, "in the gap");
	add_ann(wc, 5, 10.25, -1, "after the second gap");
	add_ann(wc, 8, 20.9, 0.1, "last");
}

/* Small annotation space: TALs spread over the following records. */
static void case_crowded(wcase *wc)
{
	memset(wc, 0, sizeof *wc);
	wc->name = "EDF+C, 46-byte annotation space";
	wc->o.annot_bytes = 45;    /* rounded up to 46 */
	wc->nch = 1;
	wc->ch[0] = chan("EMG", "uV", -100, 100, 200, SEC);
	wc->amp[0] = 50;
	contiguous(wc, 40);
	char t[32];
	for (int i = 0; i < 30; i++) {
		snprintf(t, sizeof t, "ev %d", i);
		add_ann(wc, 0, i * 0.5, i % 2 ? 0.5 : -1, t);
	}
}

static void roundtrip(wcase *wc, const char *file, int edflib)
{
	char path[256], msg[512];
	path_of(path, sizeof path, file);
	int st = write_case(wc, path, msg, sizeof msg);
	OK(st == 0, "%s: written (%s)", wc->name, msg);
	OK(count_files(file) == 1, "%s: one file, no temporary left",
	   wc->name);
	verify(wc, path, PSG_EDF_NATIVE);
	if (edflib)
		verify(wc, path, PSG_EDF_EDFLIB);
}

static void test_roundtrips(void)
{
	static wcase wc;
	case_edf_c(&wc);
	roundtrip(&wc, "c.edf", 1);
	case_bdf_c(&wc);
	roundtrip(&wc, "c.bdf", 1);
	case_edf_d(&wc, 0);
	roundtrip(&wc, "d.edf", 0);
	char path[256];
	path_of(path, sizeof path, "d.edf");
	psg_open_opts o = {.backend = PSG_EDF_EDFLIB};
	int st;
	psg_reader *r = psg_reader_open(path, &o, &st, NULL, 0);
	OK(!r && st == PSG_ERR_FORMAT, "edflib refuses the EDF+D file, as "
	   "it does every EDF+D");
	psg_reader_free(r);
	case_edf_d(&wc, 1);
	roundtrip(&wc, "d.bdf", 0);
	case_crowded(&wc);
	roundtrip(&wc, "crowded.edf", 1);
}

/* ---- the header bytes ---- */

static int read_file(const char *path, unsigned char *buf, size_t n)
{
	FILE *f = fopen(path, "rb");
	size_t got = f ? fread(buf, 1, n, f) : 0;
	if (f)
		fclose(f);
	return (int)got;
}

static int has(const unsigned char *p, size_t width, const char *want)
{
	char buf[128];
	memcpy(buf, p, width);
	buf[width] = '\0';
	size_t n = strlen(want);
	for (size_t i = n; i < width; i++)
		if (buf[i] != ' ')
			return 0;
	return !memcmp(buf, want, n);
}

static void test_header_bytes(void)
{
	static wcase wc;
	static unsigned char b[4096];
	char path[256], msg[512];
	case_edf_c(&wc);
	path_of(path, sizeof path, "c.edf");
	int n = read_file(path, b, sizeof b), ns = 6;
	OK(n == 4096 && has(b, 8, "0") &&
	   has(b + 8, 80, "MCH-0234567 F 02-MAY-1951 Haagse_Harry Nee O") &&
	   has(b + 88, 80, "Startdate 04-MAR-2021 PSG-7 J._Doe Nox_A1 "
			   "Hopital"),
	   "EDF+ patient and recording fields, ASCII");
	OK(has(b + 168, 8, "04.03.21") && has(b + 176, 8, "22.05.06") &&
	   has(b + 184, 8, "1792") && has(b + 192, 44, "EDF+C") &&
	   has(b + 236, 8, "12") && has(b + 244, 8, "1") && has(b + 252, 4, "6"),
	   "date, time, header size, EDF+C, record count patched, duration 1");
	const unsigned char *sh = b + 256;
	OK(has(sh + 4 * 16, 16, "Temperature") &&
	   has(sh + 5 * 16, 16, "EDF Annotations"),
	   "labels: accents dropped, annotation signal last");
	OK(has(sh + ns * 16, 80, "AgAgCl electrode") &&
	   has(sh + ns * 96 + 4 * 8, 8, "degC") &&
	   has(sh + ns * 96 + 3 * 8, 8, "%"), "transducer and units in ASCII");
	OK(has(sh + ns * 104, 8, "-500") && has(sh + ns * 112, 8, "500") &&
	   has(sh + ns * 120, 8, "-32768") && has(sh + ns * 128, 8, "32767"),
	   "physical and digital ranges");
	OK(has(sh + ns * 216, 8, "256") && has(sh + ns * 216 + 5 * 8, 8, "60"),
	   "samples per record; 120 annotation bytes are 60 samples");
	/* First record's annotation signal: after 256+100+512+1+1 samples. */
	const unsigned char *tal = b + 256 * 7 + 870 * 2;
	OK(!memcmp(tal, "+0.3945312\x14\x14\0+0.3945312\x14Lights off\x14\0",
		   36), "first record: sub-second onset, then a TAL");

	/* Numbers that need rounding; record duration 2.5 s. */
	psg_header *h = make_header(NULL);
	psg_channel c = chan("pi", "rad", -3.14159265, 3.14159265, 4, SEC);
	psg_header_add_channel(h, &c);
	c = chan("big", "", -1234567.8, 12345678.9, 2, SEC);
	psg_header_add_channel(h, &c);
	c = chan("small", "V", -0.0001, 0.1, 2, SEC);
	psg_header_add_channel(h, &c);
	c = chan("inverted", "uV", 100, -100, 2, SEC);
	psg_header_add_channel(h, &c);
	psg_edf_opts o = {.record_ticks = 25000000};
	path_of(path, sizeof path, "numbers.edf");
	int st;
	psg_edf_writer *w = psg_edf_writer_open(path, h, &o, &st);
	float pi[10] = {-3.14159265f, 3.14159265f}, z[5] = {0}, *x[4] = {pi,
		z, z, z};
	st = w ? psg_edf_write_record(w, 0, (const float *const *)x) : st;
	st = st ? st : psg_edf_writer_finish(w);
	psg_edf_writer_free(w);
	psg_header_free(h);
	n = read_file(path, b, 256 * 6);
	sh = b + 256;
	ns = 5;
	OK(st == 0 && has(b + 244, 8, "2.5") && has(sh + ns * 216, 8, "10"),
	   "record duration 2.5 s: 10 samples of a 4-Hz channel");
	OK(has(sh + ns * 104, 8, "-3.1416") && has(sh + ns * 112, 8, "3.141593"),
	   "pi: as many decimals as fit, minimum rounded down, maximum up");
	OK(has(sh + ns * 104 + 8, 8, "-1234568") &&
	   has(sh + ns * 112 + 8, 8, "12345679") &&
	   has(sh + ns * 104 + 16, 8, "-0.0001") &&
	   has(sh + ns * 112 + 16, 8, "0.1"), "large and small ranges");
	OK(has(sh + ns * 104 + 24, 8, "100") && has(sh + ns * 112 + 24, 8,
						    "-100"),
	   "an inverted range stays inverted");
	result res;
	wcase one = {.name = "numbers", .nch = 1, .nrec = 1,
		.o = {.record_ticks = 25000000}};
	one.ch[0] = chan("pi", "rad", -3.14159265, 3.14159265, 4, SEC);
	read_back(&one, path, PSG_EDF_EDFLIB, &res);
	OK(res.st == 0 && res.h && res.h->nchannels == 4 &&
	   fabs(res.h->channels[0].phys_min + 3.1416) < 1e-12 &&
	   psg_channel_rate(&res.h->channels[0]) == 4,
	   "edflib reads them (%s)", res.msg);
	psg_header_free(res.h);
	(void)msg;
}

/* Plain-EDF patient text becomes EDF+ free text; edflib accepts it. */
static void test_raw_ids(void)
{
	psg_header *h = psg_header_new();
	char path[256];
	static unsigned char b[256];
	strcpy(h->patient, "John  Smith, 1951");
	strcpy(h->recording, "Startdate 01-JAN-1999 adm tech eq more text");
	psg_channel c = chan("x", "uV", -1, 1, 1, SEC);
	psg_header_add_channel(h, &c);
	path_of(path, sizeof path, "raw.edf");
	int st;
	psg_edf_writer *w = psg_edf_writer_open(path, h, NULL, &st);
	float v = 0.5f, *x[1] = {&v};
	st = w ? psg_edf_write_record(w, 0, (const float *const *)x) : st;
	st = st ? st : psg_edf_writer_finish(w);
	psg_edf_writer_free(w);
	read_file(path, b, sizeof b);
	OK(st == 0 && has(b + 8, 80, "X X X X John  Smith, 1951") &&
	   has(b + 88, 80, "Startdate 01-JAN-1985 adm tech eq more text"),
	   "raw fields: free text after X X X X; Startdate from the header");
	psg_open_opts o = {.backend = PSG_EDF_EDFLIB};
	psg_reader *r = psg_reader_open(path, &o, &st, NULL, 0);
	/* edflib keeps the padding of the free text: compare its start. */
	OK(r && !strcmp(psg_reader_header(r)->technician, "tech") &&
	   !strncmp(psg_reader_header(r)->patient_additional,
		    "John  Smith, 1951 ", 18), "edflib accepts and parses them");
	psg_reader_free(r);
	psg_header_free(h);
}

/* ---- annotations-only files ---- */

static void test_annotations_only(void)
{
	static wcase wc;
	static const char *stage[] = {"Sleep stage W", "Sleep stage 1",
		"Sleep stage 2", "Sleep stage 3", "Sleep stage R"};
	char path[256], msg[512];
	memset(&wc, 0, sizeof wc);
	wc.name = "hypnogram";
	wc.o.annotations_only = 1;
	for (int i = 0; i < 300; i++)
		add_ann(&wc, 0, i * 30.0, 30, stage[i * 7 / 13 % 5]);
	add_ann(&wc, 0, 9000.5, -1, "Lights on ☼");
	path_of(path, sizeof path, "hyp.edf");
	int st = write_case(&wc, path, msg, sizeof msg);
	OK(st == 0, "hypnogram written (%s)", msg);
	static unsigned char b[512];
	read_file(path, b, sizeof b);
	OK(has(b + 236, 8, "1") && has(b + 244, 8, "0") && has(b + 252, 4, "1")
	   && has(b + 184, 8, "512"),
	   "hypnogram: one record of duration 0, only the annotation signal");
	verify(&wc, path, PSG_EDF_NATIVE);
	verify(&wc, path, PSG_EDF_EDFLIB);

	/* No data records in an annotation file. */
	psg_header *h = make_header(NULL);
	psg_edf_writer *w = psg_edf_writer_open(path, h, &wc.o, &st);
	st = w ? psg_edf_write_record(w, 0, NULL) : st;
	OK(st == PSG_ERR_ARG, "annotations-only: a data record is refused");
	psg_edf_writer_free(w);
	psg_header_free(h);
}

/* ---- failure modes ---- */

static psg_edf_writer *open_one(const char *file, const psg_edf_opts *o,
				int64_t spr, int64_t period, int *st)
{
	char path[256];
	psg_header *h = make_header(NULL);
	psg_channel c = chan("Leg L", "uV", -100, 100, spr, period);
	psg_header_add_channel(h, &c);
	path_of(path, sizeof path, file);
	psg_edf_writer *w = psg_edf_writer_open(path, h, o, st);
	psg_header_free(h);
	return w;
}

static void test_bad_rates(void)
{
	int st;
	psg_edf_opts o = {0};
	psg_edf_writer *w = open_one("rate.edf", &o, 975, 2 * SEC, &st);
	const char *m = psg_edf_writer_errmsg(NULL);
	OK(!w && st == PSG_ERR_ARG && strstr(m, "Leg L") && strstr(m, "487.5"),
	   "487.5 Hz in 1-s records is refused, naming the channel (%s)", m);
	OK(count_files("rate.edf") == 0, "... and leaves no file");
	o.record_ticks = 1;
	w = open_one("rate.edf", &o, 1, 1, &st);
	OK(!w && st == PSG_ERR_ARG, "a record of 100 ns does not fit 8 "
	   "characters (%s)", psg_edf_writer_errmsg(NULL));
	psg_header *h = make_header(NULL);
	char path[256];
	path_of(path, sizeof path, "range.edf");
	psg_channel c = chan("huge", "uV", 0, 1e9, 1, SEC);
	psg_header_add_channel(h, &c);
	h->channels[0].spr = 0;   /* psg_header_add_channel would refuse it */
	w = psg_edf_writer_open(path, h, NULL, &st);
	OK(!w && st == PSG_ERR_ARG, "a channel without samples is refused");
	h->channels[0].spr = 1;
	w = psg_edf_writer_open(path, h, NULL, &st);
	m = psg_edf_writer_errmsg(NULL);
	OK(!w && st == PSG_ERR_ARG && strstr(m, "huge"),
	   "a range beyond 8 characters is refused (%s)", m);
	h->channels[0].phys_max = 0;
	w = psg_edf_writer_open(path, h, NULL, &st);
	OK(!w && st == PSG_ERR_ARG, "an empty range is refused");
	h->nchannels = 0;
	h->year = 2090;
	w = psg_edf_writer_open(path, h, NULL, &st);
	OK(!w && st == PSG_ERR_ARG, "a start after 2084 is refused (%s)",
	   psg_edf_writer_errmsg(NULL));
	psg_header_free(h);
	OK(count_files("range.edf") == 0, "... and none leaves a file");
}

static void test_bad_onsets(void)
{
	int st;
	psg_edf_opts o = {0};
	float v[100] = {0}, *x[1] = {v};
	const float *const *px = (const float *const *)x;
	int a, b, c;
	psg_edf_writer *w = open_one("onset.edf", &o, 100, SEC, &st);
	a = w ? psg_edf_write_record(w, SEC, px) : st;
	OK(a == PSG_ERR_ARG, "EDF+C: a first record after the start is "
	   "refused (%s)", w ? psg_edf_writer_errmsg(w) : "");
	a = psg_edf_write_record(w, 0, px);
	b = psg_edf_write_record(w, 3 * SEC, px);
	OK(a == 0 && b == PSG_ERR_ARG, "EDF+C: a jump in onsets is refused "
	   "(%s)", psg_edf_writer_errmsg(w));
	a = psg_edf_write_record(w, SEC, px);
	b = psg_edf_writer_finish(w);
	OK(a == 0 && b == 0, "the writer goes on after a refused record");
	a = psg_edf_write_record(w, 2 * SEC, px);
	b = psg_edf_writer_finish(w);
	OK(a == PSG_ERR_ARG && b == PSG_ERR_ARG, "nothing more after "
	   "finishing");
	psg_edf_writer_free(w);
	OK(count_files("onset.edf") == 1, "the finished file stays");

	o.discontinuous = 1;
	w = open_one("onset.edf", &o, 100, SEC, &st);
	a = w ? psg_edf_write_record(w, 5000000, px) : st;
	OK(a == PSG_ERR_ARG, "EDF+D: a first record off the whole second is "
	   "refused");
	a = psg_edf_write_record(w, 2 * SEC, px);
	b = psg_edf_write_record(w, 2 * SEC + 1, px);
	OK(a == 0 && b == PSG_ERR_ARG, "EDF+D: overlapping records are "
	   "refused");
	a = psg_edf_write_record(w, 9 * SEC, px);
	b = psg_edf_write_record(w, 10 * SEC, px);
	c = psg_edf_writer_finish(w);
	OK(a == 0 && b == 0 && c == 0, "EDF+D: gaps are fine");
	psg_edf_writer_free(w);
	o.discontinuous = 0;
	w = open_one("none.edf", &o, 100, SEC, &st);
	a = w ? psg_edf_writer_finish(w) : st;
	OK(a == PSG_ERR_ARG, "no data records is an error (%s)",
	   w ? psg_edf_writer_errmsg(w) : "");
	psg_edf_writer_free(w);
	OK(count_files("none.edf") == 0, "... and leaves no file");
}

static void test_annotation_limits(void)
{
	int st;
	psg_edf_opts o = {.annot_bytes = 60};
	float v[100] = {0}, *x[1] = {v};
	const float *const *px = (const float *const *)x;
	char big[64];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	psg_edf_writer *w = open_one("ann.edf", &o, 100, SEC, &st);
	int a = w ? psg_edf_add_annotation(w, 0, -1, big) : st;
	OK(a == PSG_ERR_LIMIT, "an annotation longer than a record's space is "
	   "refused (%s)", w ? psg_edf_writer_errmsg(w) : "");
	a = psg_edf_add_annotation(w, 0, -1, "");
	int b = psg_edf_add_annotation(w, 0, -2, "x");
	OK(a == PSG_ERR_ARG && b == PSG_ERR_ARG,
	   "empty text and negative durations are refused");
	for (int i = 0; i < 5; i++)
		psg_edf_add_annotation(w, i * SEC, -1, "a note of 20 bytes");
	st = psg_edf_write_record(w, 0, px);
	st = st ? st : psg_edf_write_record(w, SEC, px);
	a = psg_edf_writer_finish(w);
	OK(st == 0 && a == PSG_ERR_LIMIT &&
	   strstr(psg_edf_writer_errmsg(w), "3 annotation"),
	   "annotations still queued at finish: an error (%s)",
	   psg_edf_writer_errmsg(w));
	OK(count_files("ann.edf") == 1, "... the temporary file is kept "
	   "until free");
	psg_edf_writer_free(w);
	OK(count_files("ann.edf") == 0, "... and removed by free");
}

static void test_unfinished_and_missing(void)
{
	int st;
	psg_edf_opts o = {0};
	float v[100] = {0}, *x[1] = {v};
	psg_edf_writer *w = open_one("gone.edf", &o, 100, SEC, &st);
	OK(w && count_files("gone.edf.tmp.") == 1, "writing goes to "
	   "gone.edf.tmp.XXXXXX");
	psg_edf_write_record(w, 0, (const float *const *)x);
	psg_edf_writer_free(w);
	OK(count_files("gone.edf") == 0, "free without finish leaves no file "
	   "and no temporary file");

	psg_header *h = make_header(NULL);
	char path[300];
	snprintf(path, sizeof path, "%s/no/such/dir/x.edf", dir);
	w = psg_edf_writer_open(path, h, NULL, &st);
	const char *m = psg_edf_writer_errmsg(NULL);
	OK(!w && st == PSG_ERR_IO && strstr(m, path) &&
	   strstr(m, "No such file"),
	   "a missing directory is an I/O error naming the file (%s)", m);
	psg_channel c = chan("Leg L", "uV", -100, 100, 975, 2 * SEC);
	psg_header_add_channel(h, &c);
	w = psg_edf_writer_open(path, h, NULL, &st);
	OK(!w && st == PSG_ERR_ARG, "a bad channel is reported before the "
	   "file is created (%s)", psg_edf_writer_errmsg(NULL));
	psg_header_free(h);

	/* The file gets the permissions of the user's umask, not mkstemp's
	   0600. */
	mode_t old = umask(027);
	w = open_one("mode.edf", &o, 100, SEC, &st);
	st = w ? psg_edf_write_record(w, 0, (const float *const *)x) : st;
	st = st ? st : psg_edf_writer_finish(w);
	psg_edf_writer_free(w);
	umask(old);
	struct stat sb = {0};
	path_of(path, sizeof path, "mode.edf");
	OK(st == 0 && !stat(path, &sb) && (sb.st_mode & 0777) == 0640,
	   "umask 027 gives a 0640 file (%o)", (unsigned)(sb.st_mode & 0777));
	int a = psg_edf_write_record(NULL, 0, NULL);
	int b = psg_edf_writer_finish(NULL);
	OK(a == PSG_ERR_ARG && b == PSG_ERR_ARG, "NULL writers are refused");
	psg_edf_writer_free(NULL);
}

/* ---- --write: the recording edfwrite_check.py recomputes ---- */

static float demo_value(int c, int64_t k)
{
	static const double rate[] = {256, 100, 1, 1};
	double t = (double)k / rate[c];
	switch (c) {
	case 0: return (float)(600 * sin(TWO_PI * 1.3 * t));
	case 1: return (float)(80 * sin(TWO_PI * 7 * t) + (double)(k % 7));
	case 2: return (float)(95 + 3 * sin(TWO_PI * t / 60));
	default: return (float)(36.6 + 0.01 * (double)(k % 50));
	}
}

static int write_demo(const char *path, int bdf, int seconds)
{
	static const int64_t spr[] = {256, 100, 1, 1};
	psg_header *h = make_header(NULL);
	psg_channel c[] = {chan("EEG C4-M1", "uV", -500, 500, 256, SEC),
		chan("Leg L", "uV", -100, 100, 100, SEC),
		chan("SpO2", "%", 0, 100, 1, SEC),
		chan("Température", "°C", 30, 40, 1, SEC)};
	for (int i = 0; i < 4; i++)
		psg_header_add_channel(h, &c[i]);
	psg_edf_opts o = {.bdf = bdf};
	int st;
	psg_edf_writer *w = psg_edf_writer_open(path, h, &o, &st);
	psg_header_free(h);
	if (!w) {
		printf("status %d: %s\n", st, psg_edf_writer_errmsg(NULL));
		return 1;
	}
	float buf[4][256], *x[4] = {buf[0], buf[1], buf[2], buf[3]};
	char text[64];
	for (int r = 0; !st && r < seconds; r++) {
		if (r % 10 == 0) {
			snprintf(text, sizeof text, r % 20 ? "Event %d" :
				 "Ereignis %d – Ü", r / 10);
			st = psg_edf_add_annotation(w, r * SEC + 1234567,
						    r % 20 ? -1 : 25000000,
						    text);
		}
		for (int ch = 0; ch < 4; ch++)
			for (int64_t j = 0; j < spr[ch]; j++)
				buf[ch][j] = demo_value(ch, r * spr[ch] + j);
		if (!st)
			st = psg_edf_write_record(w, r * SEC,
						  (const float *const *)x);
	}
	if (!st)
		st = psg_edf_writer_finish(w);
	if (st)
		printf("status %d: %s\n", st, psg_edf_writer_errmsg(w));
	psg_edf_writer_free(w);
	return st ? 1 : 0;
}

static void cleanup(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "--write")) {
		int bdf = 0, seconds = 30;
		for (int i = 3; i < argc; i++) {
			if (!strcmp(argv[i], "--bdf"))
				bdf = 1;
			else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
				seconds = atoi(argv[++i]);
		}
		return write_demo(argv[2], bdf, seconds);
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_roundtrips();
	test_header_bytes();
	test_raw_ids();
	test_annotations_only();
	test_bad_rates();
	test_bad_onsets();
	test_annotation_limits();
	test_unfinished_and_missing();
	if (getenv("KEEP"))   /* for debugging: leave the files */
		printf("# files kept in %s\n", dir);
	else
		cleanup();
	return TAP_DONE();
}
