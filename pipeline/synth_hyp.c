/*
 * synth_hyp.c -- the night's stage sequence.
 *
 * Generated: wake until sleep onset, then ~90-min NREM-REM cycles in which
 * N3 shrinks and REM grows from cycle to cycle (Carskadon & Dement 2011,
 * "Normal human sleep: an overview"; Rechtschaffen & Kales 1968), with
 * awakenings scattered over the sleep at the profile's rate.  Durations
 * are whole epochs, as an expert's scoring is.
 *
 * Read: an EDF+ annotation file ("Sleep stage W/1/2/3/4/R/?", also
 * N1/N2/N3) or a text hypnogram: "[Hypnogram]" then one DREAMS code per
 * 5 s (5 W, 4 REM, 3 S1, 2 S2, 1 S3, 0 S4), or one stage name per 30-s
 * epoch (W, N1, N2, N3, N4, R, REM, S1-S4, or R&K digits 0-5).
 */
#include "synth.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int add_run(hypnogram *h, int64_t onset, int64_t dur, int stage)
{
	if (dur <= 0)
		return 0;
	if (h->n && h->r[h->n - 1].stage == stage &&
	    h->r[h->n - 1].onset + h->r[h->n - 1].dur == onset) {
		h->r[h->n - 1].dur += dur;   /* merge with the previous run */
		return 0;
	}
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		run *r = realloc(h->r, cap * sizeof *r);
		if (!r)
			return PSG_ERR_NOMEM;
		h->r = r, h->cap = cap;
	}
	h->r[h->n++] = (run){onset, dur, stage};
	return 0;
}

void synth_hyp_free(hypnogram *h)
{
	free(h->r);
	memset(h, 0, sizeof *h);
}

int synth_stage_at(hypnogram *h, int64_t t)
{
	if (!h->n || t < h->r[0].onset)
		return PSG_STAGE_UNKNOWN;
	if (h->cursor >= h->n || h->r[h->cursor].onset > t)
		h->cursor = 0;   /* a look back: rare, start over */
	while (h->cursor + 1 < h->n && h->r[h->cursor + 1].onset <= t)
		h->cursor++;
	const run *r = &h->r[h->cursor];
	return t < r->onset + r->dur ? r->stage : PSG_STAGE_UNKNOWN;
}

/* ---- generated ---- */

typedef struct gen {
	psg_synth *s;
	rng *r;
	int64_t t, ep;
} gen;

/* Appends `minutes` (rounded to whole epochs, at least one) of a stage. */
static int put(gen *g, int stage, double minutes)
{
	int64_t n = (int64_t)(minutes * 60 * TICKS_D / g->ep + 0.5);
	if (n < 1)
		n = 1;
	if (g->t + n * g->ep > g->s->end)
		n = (g->s->end - g->t + g->ep - 1) / g->ep;
	int st = add_run(&g->s->hyp, g->t, n * g->ep, stage);
	g->t += n * g->ep;
	return st;
}

/* Cycle k's NREM-REM sequence: N3 early, REM late. */
static int cycle(gen *g, int k)
{
	static const double n3[] = {35, 22, 8, 2, 0};
	static const double rem[] = {8, 17, 24, 30, 35};
	const profile *p = g->s->p;
	int i = k < 4 ? k : 4, st = 0;
	double n3min = n3[i] * p->n3_scale * rng_range(g->r, 0.7, 1.3);
	st |= put(g, PSG_STAGE_N2, rng_range(g->r, 10, 22));
	if (n3min >= 0.5)
		st |= put(g, PSG_STAGE_N3, n3min);
	st |= put(g, PSG_STAGE_N2, rng_range(g->r, 5, 15));
	st |= put(g, PSG_STAGE_R, rem[i] * rng_range(g->r, 0.7, 1.3));
	return st;
}

/* Splits the sleep with awakenings at the profile's rate per hour. */
static int awakenings(psg_synth *s, rng *r)
{
	hypnogram *h = &s->hyp, out = {0};
	double per_tick = s->p->wake_per_h / (3600 * TICKS_D);
	int st = 0;
	for (size_t i = 0; i < h->n && !st; i++) {
		run x = h->r[i];
		int64_t t = x.onset, end = x.onset + x.dur;
		while (x.stage != PSG_STAGE_W && t < end && !st) {
			int64_t gap = (int64_t)rng_exp(r, 1 / per_tick);
			gap = gap / s->epoch_len * s->epoch_len;
			if (t + gap >= end || gap < s->epoch_len)
				break;
			int64_t w = (int64_t)(rng_lognormal(r, s->p->wake_min,
				0.6) * 60 * TICKS_D / s->epoch_len + 0.5);
			w = (w < 1 ? 1 : w) * s->epoch_len;
			if (t + gap + w > end)
				w = end - t - gap;
			st |= add_run(&out, t, gap, x.stage);
			st |= add_run(&out, t + gap, w, PSG_STAGE_W);
			t += gap + w;
			/* Back to sleep through an epoch of N1. */
			if (t + s->epoch_len <= end) {
				st |= add_run(&out, t, s->epoch_len,
					      PSG_STAGE_N1);
				t += s->epoch_len;
			}
		}
		st |= add_run(&out, t, end - t, x.stage);
	}
	synth_hyp_free(h);
	*h = out;
	return st;
}

int synth_hyp_generate(psg_synth *s)
{
	rng r;
	rng_init(&r, s->o.seed, "hypnogram", 0);
	gen g = {s, &r, 0, s->epoch_len};
	int st = put(&g, PSG_STAGE_W, rng_lognormal(&r, s->p->sol_min, 0.4));
	st |= put(&g, PSG_STAGE_N1, rng_range(&r, 2, 7));
	for (int k = 0; g.t < s->end && !st; k++) {
		st |= cycle(&g, k);
		if (g.t < s->end && rng_unif(&r) < 0.4) {   /* between cycles */
			st |= put(&g, PSG_STAGE_W, rng_range(&r, 0.5, 3));
			st |= put(&g, PSG_STAGE_N1, rng_range(&r, 0.5, 3));
		}
	}
	return st ? st : awakenings(s, &r);
}

/* ---- read from a file ---- */

/* Stage from an annotation text or a text-hypnogram token. */
static int stage_of(const char *t)
{
	static const struct { const char *name; int stage; } names[] = {
		{"W", PSG_STAGE_W}, {"Wake", PSG_STAGE_W},
		{"N1", PSG_STAGE_N1}, {"S1", PSG_STAGE_N1}, {"1", PSG_STAGE_N1},
		{"N2", PSG_STAGE_N2}, {"S2", PSG_STAGE_N2}, {"2", PSG_STAGE_N2},
		{"N3", PSG_STAGE_N3}, {"S3", PSG_STAGE_N3}, {"3", PSG_STAGE_N3},
		{"N4", PSG_STAGE_N3}, {"S4", PSG_STAGE_N3}, {"4", PSG_STAGE_N3},
		{"R", PSG_STAGE_R}, {"REM", PSG_STAGE_R}, {"5", PSG_STAGE_R},
		{"0", PSG_STAGE_W}};
	if (!strncasecmp(t, "Sleep stage ", 12))
		t += 12;
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (!strcasecmp(t, names[i].name))
			return names[i].stage;
	return PSG_STAGE_UNKNOWN;
}

static int read_edf(hypnogram *hyp, const char *path, char *msg, size_t n)
{
	psg_open_opts oo = {.no_samples = 1};
	psg_record rec;
	int st;
	psg_reader *in = psg_reader_open(path, &oo, &st, msg, n);
	if (!in)
		return st;
	while ((st = psg_reader_next(in, &rec)) > 0)
		if (rec.kind == PSG_REC_EVENT &&
		    !strncasecmp(rec.event.label, "Sleep stage ", 12) &&
		    rec.event.duration > 0 && rec.event.onset >= 0 &&
		    (st = add_run(hyp, rec.event.onset, rec.event.duration,
				  stage_of(rec.event.label))) < 0)
			break;
	if (st < 0)
		psg__set_msg(msg, n, "%s", psg_reader_errmsg(in));
	psg_reader_free(in);
	return st < 0 ? st : PSG_OK;
}

/* "onset duration stage" in seconds: a TSV line, or -1 if not one. */
static int tsv_line(hypnogram *hyp, const char *p)
{
	char a[64], b[64], c[64];
	int64_t on, dur;
	if (sscanf(p, "%63s %63s %63s", a, b, c) != 3 ||
	    psg__parse_seconds(a, strlen(a), &on) ||
	    psg__parse_seconds(b, strlen(b), &dur))
		return -1;
	return add_run(hyp, on, dur, stage_of(c));
}

static int read_text(hypnogram *hyp, int64_t epoch_len, FILE *f, char *msg,
		     size_t n)
{
	char line[256];
	int dreams = 0, st = 0;
	int64_t t = 0, step = epoch_len;
	while (!st && fgets(line, sizeof line, f)) {
		char *p = line, *e;
		while (isspace((unsigned char)*p))
			p++;
		for (e = p + strlen(p); e > p && isspace((unsigned char)e[-1]);)
			*--e = '\0';
		if (!*p)
			continue;
		if (!strcasecmp(p, "[Hypnogram]")) {
			dreams = 1;   /* DREAMS: one code per 5 s */
			step = 5 * PSG_TICKS_PER_SEC;
			continue;
		}
		if (!dreams && strchr(p, '\t')) {   /* TSV: onset dur stage */
			if (!strncasecmp(p, "onset", 5))
				continue;          /* its header line */
			if ((st = tsv_line(hyp, p)) == -1) {
				psg__set_msg(msg, n, "bad line '%s'", p);
				return PSG_ERR_FORMAT;
			}
			continue;
		}
		int stage = PSG_STAGE_UNKNOWN;
		if (dreams) {
			static const int code[] = {PSG_STAGE_N3, PSG_STAGE_N3,
				PSG_STAGE_N2, PSG_STAGE_N1, PSG_STAGE_R,
				PSG_STAGE_W};
			int c = atoi(p);
			if (c >= 0 && c <= 5 && isdigit((unsigned char)*p))
				stage = code[c];
		} else {
			stage = stage_of(p);
		}
		if (stage == PSG_STAGE_UNKNOWN && !strchr("?-", *p) && !dreams) {
			psg__set_msg(msg, n, "unknown stage '%s'", p);
			return PSG_ERR_FORMAT;
		}
		st = add_run(hyp, t, step, stage);
		t += step;
	}
	return st;
}

/* Every stage within the recording's limits (docs/stream.md): a line
   that spans centuries would have psg-synth write without end. */
static int check_runs(const hypnogram *hyp, const char *path, char *msg,
		      size_t n)
{
	int64_t max = psg_max_duration();
	for (size_t i = 0; i < hyp->n; i++) {
		const run *x = &hyp->r[i];
		if (x->onset < 0 || x->dur < 0 || x->onset > max ||
		    x->dur > max - x->onset) {
			psg__set_msg(msg, n, "%s: a stage at %.7g s lasting "
				     "%.7g s lies outside 0 to %g days (the "
				     "limit, PSG_MAX_DAYS)", path,
				     (double)x->onset / PSG_TICKS_PER_SEC,
				     (double)x->dur / PSG_TICKS_PER_SEC,
				     (double)max / PSG_TICKS_PER_SEC / 86400);
			return PSG_ERR_LIMIT;
		}
	}
	return PSG_OK;
}

static int hyp_read(hypnogram *hyp, int64_t epoch_len, const char *path,
		    char *msg, size_t n)
{
	FILE *f = fopen(path, "rb");
	char head[8] = "";
	if (!f) {
		psg__set_msg(msg, n, "%s: cannot open", path);
		return PSG_ERR_IO;
	}
	size_t k = fread(head, 1, sizeof head, f);
	int st;
	if (k == sizeof head && !memcmp(head, "0       ", 8)) {
		fclose(f);
		st = read_edf(hyp, path, msg, n);
	} else {
		rewind(f);
		st = read_text(hyp, epoch_len, f, msg, n);
		fclose(f);
	}
	if (!st && !hyp->n) {
		psg__set_msg(msg, n, "%s: no sleep stages found", path);
		st = PSG_ERR_FORMAT;
	}
	return st ? st : check_runs(hyp, path, msg, n);
}

int synth_hyp_read(psg_synth *s, const char *path, char *msg, size_t n)
{
	return hyp_read(&s->hyp, s->epoch_len, path, msg, n);
}

int psg_hypnogram_read(const char *path, int64_t epoch_len,
		       psg_stage_run **runs, size_t *n, char *msg,
		       size_t msglen)
{
	hypnogram h = {0};
	int st = hyp_read(&h, epoch_len > 0 ? epoch_len :
			  30 * PSG_TICKS_PER_SEC, path, msg, msglen);
	if (st) {
		synth_hyp_free(&h);
		return st;
	}
	*runs = malloc((h.n ? h.n : 1) * sizeof **runs);
	if (!*runs) {
		synth_hyp_free(&h);
		return PSG_ERR_NOMEM;
	}
	for (size_t i = 0; i < h.n; i++)
		(*runs)[i] = (psg_stage_run){h.r[i].onset, h.r[i].dur,
					     h.r[i].stage};
	*n = h.n;
	synth_hyp_free(&h);
	return PSG_OK;
}
