/*
 * psg-score -- how a chain's results agree with an expert's.
 *
 * Epochs (--reference): for N3 (the `sws` column: reference S3+S4/N3) and
 * W (the `wake` column), the confusion matrix, Cohen's kappa (Cohen 1960),
 * precision, recall and F1.  Epochs are the stream's grid (set it to the
 * reference's with psg-read --epoch/--epoch-origin); each is compared with
 * the reference stage at its midpoint, and reference epochs scored "?"
 * are left out.  An unusable call (-1) counts as "not the target".
 * Five stages: with psg-stage's `sleep_stage` column, the 5x6 confusion matrix
 * of reference W, N1, N2, N3, R (R&K S3 and S4 are N3; movement time and
 * "?" epochs are left out) against the calls (the sixth column: epochs
 * psg-stage left unscored, counted as wrong), accuracy, Cohen's kappa
 * over that matrix, and each stage's precision, recall and F1.
 *
 * Events (--events): the onsets of one event table of the stream against
 * reference events (a TSV with an onset column, or the annotations of an
 * EDF+/BDF+ file or stream), matched one to one: pairs at most the
 * tolerance apart are taken in order of |detected - reference| (ties by
 * detected, then reference onset), each event at most once.  Matches are TP, the
 * detected events left over FP, the reference events left over FN.
 * With --iou, pairs match by overlap instead: intersection over union of
 * their [onset, onset + duration) at least the threshold (0.2 in the
 * spindle literature: Warby et al. 2014, Lacourse et al. 2019), taken in
 * order of decreasing IoU, each event at most once.  The reference may
 * also be a DREAMS text file: a "[name]" line, then onset and duration
 * (s) per event (Visual_scoring1_excerptN.txt).
 *
 * The detected side is the chain's stream, or a night's result file
 * (psg-h5's .h5, read back by libpsg as a stream without samples: its
 * epochs, events and figures); --det-label keeps the detected events whose
 * label matches, as --ref-label does for the reference.
 *
 * Both are held until END, the one exception to bounded memory: the epoch
 * calls (one byte per epoch: 2880 for 24 h), since they arrive in any order
 * from several stages, and the event onsets (8 bytes per detected and per
 * reference event, plus one pair per candidate match: some 10^4 a night),
 * since a reference event can only be matched once all detections near it
 * have been seen.
 */
#include "stage.h"
#include "tmpout.h"

#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>

typedef struct target {
	const char *name, *feature;
	int stage;
	int feat;                 /* feature id in the stream, -1 absent */
	signed char *call;        /* per epoch: 1, 0, -1 unusable, -2 none */
	int64_t ncall;
	int64_t tp, fp, fn, tn, unusable, missing;
} target;

typedef struct stages {      /* psg-stage's five-stage calls */
	int feat;                 /* `sleep_stage` in the stream, -1 absent */
	signed char *call;        /* per epoch: 0-4, -1 unscored, -2 none */
	int64_t ncall;
	int64_t cm[5][6];         /* reference by call (5: unscored) */
	int64_t missing;
} stages;

typedef struct opts {
	const char *reference, *json, *input;
	const char *events, *event_type, *ref_label, *det_label, *detected;
	int64_t tolerance;        /* ticks */
	double iou;               /* > 0: match by overlap (--iou) */
	double span_lo, span_hi;  /* s: events with onsets here (--span) */
} opts;

static void usage(FILE *f)
{
	fputs("usage: psg-score [--reference HYPNOGRAM] [--events REF "
	      "[--event-type NAME]\n"
	      "                 [--ref-label GLOB] [--tolerance SEC]] "
	      "[--json OUT] [FILE|-]\n"
	      "The detected side: the stream (stdin, or FILE), or a night's "
	      "result file\n(FILE.h5, from psg-h5 or psg-night).\n"
	      "Compares the stream's per-epoch calls (sws -> N3, wake -> W) "
	      "with a reference\nhypnogram: confusion matrix, Cohen's kappa, "
	      "precision, recall, F1; and/or the\nonsets of one of its event "
	      "tables with reference events, matched one to one\nwithin a "
	      "tolerance: TP, FP, FN, precision, recall, F1 and the onset "
	      "error\n(detected - reference).  Needs --reference, --events "
	      "or both.\n\n"
	      "  -r, --reference FILE  EDF+ hypnogram (Sleep stage W/1/2/3/4/R), "
	      "DREAMS text\n"
	      "                        ([Hypnogram], a code per 5 s), one "
	      "stage per epoch, or\n"
	      "                        a TSV of onset, duration, stage\n"
	      "  -e, --events FILE     reference events: a TSV whose header "
	      "names an onset\n"
	      "                        column (s) and maybe kind or label "
	      "(psg-synth's\n"
	      "                        NAME.events.tsv), else the "
	      "annotations of an EDF+/BDF+\n"
	      "                        file (or the events of a stream file), "
	      "or a DREAMS\n"
	      "                        text file ([name], then onset and "
	      "duration per line)\n"
	      "  -t, --event-type NAME the stream's event table to score "
	      "(default: the first\n"
	      "                        one besides psg-read's annotations, "
	      "e.g. slow_waves)\n"
	      "  -l, --ref-label GLOB  only reference events whose kind (TSV; "
	      "else label)\n"
	      "                        matches (default: all), e.g. "
	      "slow_wave, 'Spindle*'\n"
	      "  -L, --det-label GLOB  only detected events whose label "
	      "matches (default:\n"
	      "                        all), e.g. lm in emg_bursts\n"
	      "      --detected FILE   the detected events from a file in any "
	      "--events format\n"
	      "                        instead of the stream (one scorer "
	      "against another)\n"
	      "      --span SEC-SEC    only events (detected and reference) "
	      "whose onset lies\n"
	      "                        here: the part of the recording the "
	      "expert scored\n"
	      "      --iou X           match by overlap: intersection over "
	      "union of the events'\n"
	      "                        spans at least X (0.2 for spindles, "
	      "Warby et al. 2014),\n"
	      "                        instead of by onset\n"
	      "      --tolerance SEC   the largest onset difference of a match "
	      "(default 0.5 s:\n"
	      "                        half the spacing of 1 Hz slow waves in "
	      "a train, and the\n"
	      "                        shortest AASM spindle: a detection is "
	      "not credited to\n"
	      "                        the next event)\n"
	      "  -j, --json FILE       also write the results as JSON\n"
	      "      --version         the version\n"
	      "  -h, --help            this help\n\n"
	      "Exit: 0 ok, 1 usage, 2 unreadable stream or reference, 3 no "
	      "call or no such\nevent table to score.\n", f);
}

static void parse_args(int argc, char **argv, opts *o)
{
	enum { TOLERANCE = 256, IOU, DETECTED, SPAN };
	static const struct option lo[] = {{"reference", 1, 0, 'r'},
		{"events", 1, 0, 'e'}, {"event-type", 1, 0, 't'},
		{"ref-label", 1, 0, 'l'}, {"det-label", 1, 0, 'L'},
		{"tolerance", 1, 0, TOLERANCE},
		{"iou", 1, 0, IOU}, {"detected", 1, 0, DETECTED},
		{"span", 1, 0, SPAN},
		{"json", 1, 0, 'j'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int c, tol = 0;
	opterr = 0;
	o->tolerance = PSG_TICKS_PER_SEC / 2;
	o->span_hi = INFINITY;
	while ((c = getopt_long(argc, argv, ":r:e:t:l:L:j:h", lo, NULL)) != -1) {
		switch (c) {
		case 'r': o->reference = optarg; break;
		case 'e': o->events = optarg; break;
		case 't': o->event_type = optarg; break;
		case 'l': o->ref_label = optarg; break;
		case 'L': o->det_label = optarg; break;
		case TOLERANCE:
			o->tolerance = opt_seconds("--tolerance", optarg, 0);
			tol = 1;
			break;
		case SPAN: opt_range("--span", optarg, &o->span_lo,
				     &o->span_hi);
			tol = 1;
			break;
		case DETECTED: o->detected = optarg;
			tol = 1;
			break;
		case IOU: o->iou = opt_num("--iou", optarg, 0.01, 1);
			tol = 1;
			break;
		case 'j': o->json = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: bad_option(c, argv);
		}
	}
	if (!o->reference && !o->events)
		die(EXIT_USAGE, "nothing to score against: use --reference "
		    "HYPNOGRAM and/or --events REF");
	if (!o->events && (o->event_type || o->ref_label || o->det_label ||
			   tol))
		die(EXIT_USAGE, "--event-type, --ref-label, --det-label, "
		    "--tolerance, --iou, --span and --detected need --events "
		    "REF");
	if (o->detected && o->event_type)
		die(EXIT_USAGE, "--detected replaces --event-type");
	o->input = single_input(argc, argv);
}


/* Room for epoch e in a table of per-epoch calls (*n of them, filled
   with -2: none), or 0 for an epoch beyond any recording. */
static int call_room(signed char **call, int64_t *n, int64_t e)
{
	if (e < 0 || e > (INT64_C(1) << 30))
		return 0;
	if (e >= *n) {
		int64_t m = e + 1 > 2 * *n ? e + 1 : 2 * *n;
		signed char *p = realloc(*call, (size_t)m);
		if (!p)
			die(EXIT_IO, "out of memory");
		memset(p + *n, -2, (size_t)(m - *n));
		*call = p, *n = m;
	}
	return 1;
}

static void store_stage(stages *s, int64_t epoch, double v)
{
	if (call_room(&s->call, &s->ncall, epoch))
		s->call[epoch] = isnan(v) ? -2 : v >= 0 && v <= 4 ?
				 (signed char)v : -1;
}

/* The reference stage at time t (runs sorted by onset). */
static int stage_at(const psg_stage_run *r, size_t n, int64_t t)
{
	for (size_t i = 0; i < n; i++)
		if (t >= r[i].onset && t < r[i].onset + r[i].duration)
			return r[i].stage;
	return PSG_STAGE_UNKNOWN;
}

static void store(target *t, int64_t epoch, double v)
{
	if (call_room(&t->call, &t->ncall, epoch))
		t->call[epoch] = isnan(v) ? -2 : v < 0 ? -1 : v >= 0.5;
}

static void tally(target *t, const psg_header *h, const psg_stage_run *r,
		  size_t nr, int64_t nepochs)
{
	for (int64_t e = 0; e < nepochs; e++) {
		int64_t mid = h->epoch_origin + e * h->epoch_len +
			      h->epoch_len / 2;
		int st = stage_at(r, nr, mid);
		if (st == PSG_STAGE_UNKNOWN)
			continue;
		int c = e < t->ncall ? t->call[e] : -2;
		if (c == -2) {
			t->missing++;
			continue;
		}
		t->unusable += c == -1;
		int pred = c == 1, truth = st == t->stage;
		t->tp += pred && truth, t->fp += pred && !truth;
		t->fn += !pred && truth, t->tn += !pred && !truth;
	}
}

typedef struct metrics {
	double precision, recall, f1, kappa, accuracy;
	int64_t n;
} metrics;

static metrics compute(const target *t)
{
	metrics m;
	double tp = t->tp, fp = t->fp, fn = t->fn, tn = t->tn;
	m.n = t->tp + t->fp + t->fn + t->tn;
	m.precision = tp + fp > 0 ? tp / (tp + fp) : NAN;
	m.recall = tp + fn > 0 ? tp / (tp + fn) : NAN;
	m.f1 = 2 * tp + fp + fn > 0 ? 2 * tp / (2 * tp + fp + fn) : NAN;
	double n = (double)m.n;
	double po = n > 0 ? (tp + tn) / n : NAN;
	double pe = n > 0 ? ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) /
			    (n * n) : NAN;
	m.kappa = pe < 1 ? (po - pe) / (1 - pe) : NAN;
	m.accuracy = po;
	return m;
}

static void print_text(const target *t, const metrics *m)
{
	printf("%-3s (%s): epochs %" PRId64 "  TP %" PRId64 " FP %" PRId64
	       " FN %" PRId64 " TN %" PRId64 "  precision %.3f recall %.3f "
	       "F1 %.3f kappa %.3f accuracy %.3f", t->name, t->feature, m->n,
	       t->tp, t->fp, t->fn, t->tn, m->precision, m->recall, m->f1,
	       m->kappa, m->accuracy);
	if (t->unusable || t->missing)
		printf("  (unusable %" PRId64 ", no call %" PRId64 ")",
		       t->unusable, t->missing);
	putchar('\n');
}

/* ---- five stages ---- */

static void tally_stages(stages *s, const psg_header *h,
			 const psg_stage_run *r, size_t nr, int64_t nepochs)
{
	for (int64_t e = 0; e < nepochs; e++) {
		int st = stage_at(r, nr, h->epoch_origin + e * h->epoch_len +
				  h->epoch_len / 2);
		if (st < PSG_STAGE_W || st > PSG_STAGE_R)
			continue;
		int c = e < s->ncall ? s->call[e] : -2;
		if (c == -2)
			s->missing++;
		else
			s->cm[st][c < 0 ? 5 : c]++;
	}
}

typedef struct stage_metrics {
	int64_t n;
	double accuracy, kappa;
	double precision[5], recall[5], f1[5];
} stage_metrics;

/* Accuracy, Cohen's kappa over the 5x6 matrix (an unscored call agrees
   with no reference stage), and each stage's precision, recall, F1. */
static stage_metrics stage_compute(const stages *s)
{
	stage_metrics m = {0};
	double row[5] = {0}, col[6] = {0}, agree = 0;
	for (int i = 0; i < 5; i++)
		for (int j = 0; j < 6; j++) {
			row[i] += (double)s->cm[i][j], col[j] += (double)s->cm[i][j];
			m.n += s->cm[i][j];
		}
	double n = (double)m.n, pe = 0;
	for (int i = 0; i < 5; i++) {
		double tp = (double)s->cm[i][i];
		agree += tp;
		pe += row[i] * col[i];
		m.precision[i] = col[i] > 0 ? tp / col[i] : NAN;
		m.recall[i] = row[i] > 0 ? tp / row[i] : NAN;
		m.f1[i] = row[i] + col[i] > 0 ? 2 * tp / (row[i] + col[i]) : NAN;
	}
	m.accuracy = n > 0 ? agree / n : NAN;
	pe = n > 0 ? pe / (n * n) : NAN;
	m.kappa = pe < 1 ? (m.accuracy - pe) / (1 - pe) : NAN;
	return m;
}

static const char *const stage_label[6] = {"W", "N1", "N2", "N3", "R", "?"};

static void print_stages(const stages *s, const stage_metrics *m)
{
	printf("stages (stage): epochs %" PRId64 "  accuracy %.3f kappa %.3f",
	       m->n, m->accuracy, m->kappa);
	if (s->missing)
		printf("  (no call %" PRId64 ")", s->missing);
	printf("\n  reference \\ called    W    N1    N2    N3     R     ?"
	       "   precision recall F1\n");
	for (int i = 0; i < 5; i++) {
		printf("  %-18s", stage_label[i]);
		for (int j = 0; j < 6; j++)
			printf(" %5" PRId64, s->cm[i][j]);
		printf("   %.3f     %.3f  %.3f\n", m->precision[i],
		       m->recall[i], m->f1[i]);
	}
}

/* ---- events ---- */

typedef struct onsets {
	int64_t *t;               /* ticks */
	int64_t *dur;             /* ticks; -1: none given */
	size_t n, cap, dcap;
} onsets;

typedef struct evscore {
	int type;                 /* the stream's event table */
	onsets det, ref;          /* sorted by onset once matched */
	size_t *match;            /* per detected: reference index, or NONE */
	unsigned char *used;      /* per reference: matched */
	size_t tp;
	double mean, median;      /* s, of detected - reference; NaN: none */
} evscore;

#define NONE SIZE_MAX

static void add_onset(onsets *l, int64_t t, int64_t dur)
{
	l->t = grow(l->t, &l->cap, l->n, sizeof *l->t);
	l->dur = grow(l->dur, &l->dcap, l->n, sizeof *l->dur);
	l->dur[l->n] = dur;
	l->t[l->n++] = t;
}

static int selected(const char *pattern, const char *s)
{
	return !pattern || !fnmatch(pattern, s, 0);
}

/* The table named, else the first one a stage added to psg-read's. */
static int find_table(const psg_header *h, const char *name)
{
	if (!name) {
		for (int t = 0; t < h->nevtypes; t++)
			if (strcmp(h->evtypes[t].name, "annotations"))
				return t;
		die(EXIT_UNSUITABLE, "the stream has no detector's event table "
		    "to score (run a detector such as psg-sws first, or name "
		    "one with --event-type)");
	}
	int t = psg_header_find_evtype(h, name);
	if (t < 0) {
		char have[512] = "";
		for (int i = 0; i < h->nevtypes; i++)
			snprintf(have + strlen(have), sizeof have - strlen(have),
				 "%s%s", i ? ", " : "", h->evtypes[i].name);
		die(EXIT_UNSUITABLE, "the stream has no event table '%s' (it "
		    "has: %s)", name, *have ? have : "none");
	}
	return t;
}

/* The reference events: a TSV whose first line names an `onset` column,
   a DREAMS text file ("[name]" first), else the events of anything
   psg_reader_open reads (EDF+ annotations), moved onto the stream's
   clock. */
static void read_reference(const char *path, const char *pattern,
			   const psg_header *sh, onsets *l)
{
	char msg[512];
	psg_ref_event *ev;
	size_t n;
	int st = psg_events_read_text(path, pattern, &ev, &n, msg, sizeof msg);
	if (st < 0)
		die(exit_code(st), "%s", msg);
	if (!st) {
		for (size_t i = 0; i < n; i++)
			add_onset(l, ev[i].onset, ev[i].duration);
		free(ev);
		return;
	}
	psg_open_opts oo = {.no_samples = 1};
	psg_record r;
	psg_reader *in = psg_reader_open(path, &oo, &st, msg, sizeof msg);
	if (!in)
		die(EXIT_IO, "%s (nor a TSV with an onset column)", msg);
	print_warnings(in, path);
	int64_t shift = clock_shift(psg_reader_header(in), sh, path);
	while ((st = psg_reader_next(in, &r)) > 0)
		if (r.kind == PSG_REC_EVENT && selected(pattern, r.event.label))
			add_onset(l, r.event.onset + shift, r.event.duration);
	if (st < 0)
		die(EXIT_IO, "%s", psg_reader_errmsg(in));
	psg_reader_free(in);
}

typedef struct pair {
	int64_t d;                /* |detected - reference|, ticks */
	size_t i, j;              /* detected, reference (sorted) */
} pair;

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int cmp_pair(const void *a, const void *b)
{
	const pair *p = a, *q = b;
	if (p->d != q->d)
		return p->d < q->d ? -1 : 1;
	if (p->i != q->i)
		return p->i < q->i ? -1 : 1;
	return (p->j > q->j) - (p->j < q->j);
}

static void sort_i64(int64_t *t, size_t n)
{
	if (n)
		sort_n(t, n, sizeof *t, cmp_i64);
}

typedef struct span {
	int64_t t, dur;
} span;

static int cmp_span(const void *a, const void *b)
{
	const span *p = a, *q = b;
	if (p->t != q->t)
		return p->t < q->t ? -1 : 1;
	return (p->dur > q->dur) - (p->dur < q->dur);
}

/* Sorts the events by onset, their durations with them. */
static void sort_events(onsets *l)
{
	span *v = malloc((l->n + 1) * sizeof *v);
	if (!v)
		die(EXIT_IO, "out of memory");
	for (size_t i = 0; i < l->n; i++)
		v[i] = (span){l->t[i], l->dur[i]};
	if (l->n)
		qsort(v, l->n, sizeof *v, cmp_span);
	for (size_t i = 0; i < l->n; i++)
		l->t[i] = v[i].t, l->dur[i] = v[i].dur;
	free(v);
}

/* Candidate pairs within tol of each other's onset, by |difference|. */
static pair *onset_pairs(const onsets *de, const onsets *re, int64_t tol,
			 size_t *np)
{
	const int64_t *d = de->t, *r = re->t;
	size_t cap = 0, lo = 0;
	pair *p = NULL;
	for (size_t i = 0; i < de->n; i++) {
		while (lo < re->n && r[lo] < d[i] - tol)
			lo++;
		for (size_t j = lo; j < re->n && r[j] <= d[i] + tol; j++) {
			p = grow(p, &cap, *np, sizeof *p);
			p[(*np)++] = (pair){d[i] > r[j] ? d[i] - r[j] :
					    r[j] - d[i], i, j};
		}
	}
	return p;
}

/* Intersection over union of two spans (durations < 0 count as 0). */
static double iou(int64_t a, int64_t da, int64_t b, int64_t db)
{
	da = da > 0 ? da : 0, db = db > 0 ? db : 0;
	int64_t lo = a > b ? a : b, hi = a + da < b + db ? a + da : b + db;
	int64_t u = (a + da > b + db ? a + da : b + db) - (a < b ? a : b);
	return hi > lo && u > 0 ? (double)(hi - lo) / (double)u : 0;
}

/* Candidate pairs overlapping by IoU >= min, best overlap first (the
   pair's d is 1 - IoU in parts per 10^9). */
static pair *overlap_pairs(const onsets *de, const onsets *re, double min,
			   size_t *np)
{
	size_t cap = 0, lo = 0;
	int64_t longest = 0;
	pair *p = NULL;
	for (size_t j = 0; j < re->n; j++)
		longest = re->dur[j] > longest ? re->dur[j] : longest;
	for (size_t i = 0; i < de->n; i++) {
		int64_t t = de->t[i], end = t + (de->dur[i] > 0 ? de->dur[i] : 0);
		while (lo < re->n && re->t[lo] + longest < t)
			lo++;
		for (size_t j = lo; j < re->n && re->t[j] <= end; j++) {
			double x = iou(t, de->dur[i], re->t[j], re->dur[j]);
			if (x < min)
				continue;
			p = grow(p, &cap, *np, sizeof *p);
			p[(*np)++] = (pair){(int64_t)llround((1 - x) * 1e9), i,
					    j};
		}
	}
	return p;
}

/* Keeps the events whose onset lies in [lo, hi) s. */
static void keep_span(onsets *l, double lo, double hi)
{
	size_t k = 0;
	for (size_t i = 0; i < l->n; i++) {
		double t = (double)l->t[i] / PSG_TICKS_PER_SEC;
		if (t >= lo && t < hi)
			l->t[k] = l->t[i], l->dur[k++] = l->dur[i];
	}
	l->n = k;
}

/* One-to-one matching within tol, closest pairs first, or by overlap
   (see the top). */
static void match_events(evscore *e, int64_t tol, double min_iou)
{
	const int64_t *d = e->det.t, *r = e->ref.t;
	size_t nd = e->det.n, nr = e->ref.n, np = 0;
	sort_events(&e->det);
	sort_events(&e->ref);
	pair *p = min_iou > 0 ? overlap_pairs(&e->det, &e->ref, min_iou, &np) :
		  onset_pairs(&e->det, &e->ref, tol, &np);
	if (np)
		sort_n(p, np, sizeof *p, cmp_pair);
	int64_t *err = malloc((nd + 1) * sizeof *err);
	e->match = malloc((nd + 1) * sizeof *e->match);
	if (!(e->used = calloc(nr + 1, 1)) || !e->match || !err)
		die(EXIT_IO, "out of memory");
	for (size_t i = 0; i < nd; i++)
		e->match[i] = NONE;
	for (size_t k = 0; k < np; k++)
		if (e->match[p[k].i] == NONE && !e->used[p[k].j]) {
			e->match[p[k].i] = p[k].j;
			e->used[p[k].j] = 1;
			err[e->tp++] = d[p[k].i] - r[p[k].j];
		}
	double sum = 0;
	for (size_t k = 0; k < e->tp; k++)
		sum += (double)err[k];
	sort_i64(err, e->tp);
	e->mean = e->median = NAN;
	if (e->tp) {
		e->mean = sum / (double)e->tp / PSG_TICKS_PER_SEC;
		e->median = ((double)err[(e->tp - 1) / 2] +
			     (double)err[e->tp / 2]) / 2 / PSG_TICKS_PER_SEC;
	}
	free(p);
	free(err);
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : NAN;
}

static void print_events(const evscore *e, const char *table, int64_t tol,
			 double min_iou)
{
	char rule[64];
	if (min_iou > 0)
		snprintf(rule, sizeof rule, "IoU >= %g", min_iou);
	else
		snprintf(rule, sizeof rule, "tolerance %g s",
			 (double)tol / PSG_TICKS_PER_SEC);
	size_t nd = e->det.n, nr = e->ref.n, tp = e->tp;
	printf("events (%s): detected %zu  TP %zu FP %zu FN %zu  precision "
	       "%.3f recall %.3f F1 %.3f  onset error mean %.3f median %.3f "
	       "s  (reference %zu, %s)\n", table, nd, tp, nd - tp,
	       nr - tp, ratio(tp, nd), ratio(tp, nr), ratio(2.0 * tp, nd + nr),
	       e->mean, e->median, nr, rule);
}

/* ---- JSON ---- */

static void jstr(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	putc('"', f);
	for (; *s; s++)
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			putc(*s, f);
	putc('"', f);
}

/* Ticks as exact seconds. */
static void jsec(FILE *f, int64_t t)
{
	uint64_t a = t < 0 ? -(uint64_t)t : (uint64_t)t;
	uint64_t s = (uint64_t)PSG_TICKS_PER_SEC;
	fprintf(f, "%s%" PRIu64 ".%07" PRIu64, t < 0 ? "-" : "", a / s, a % s);
}

static void jnum(FILE *f, const char *k, double v, int comma)
{
	if (isnan(v))
		fprintf(f, "\"%s\": null%s", k, comma ? ", " : "");
	else
		fprintf(f, "\"%s\": %.6g%s", k, v, comma ? ", " : "");
}

static void write_events(FILE *f, const evscore *e, const char *table,
			 const opts *o)
{
	size_t nd = e->det.n, nr = e->ref.n, tp = e->tp;
	fprintf(f, ",\n\"events\": {\"table\": ");
	jstr(f, table);
	fprintf(f, ", \"file\": ");
	jstr(f, o->events);
	fprintf(f, ", \"ref_label\": ");
	jstr(f, o->ref_label);
	fprintf(f, ", \"det_label\": ");
	jstr(f, o->det_label);
	fprintf(f, ", \"tolerance\": ");
	jsec(f, o->tolerance);
	fprintf(f, ", ");
	jnum(f, "iou", o->iou > 0 ? o->iou : NAN, 1);
	jnum(f, "span_start", o->span_lo, 1);
	jnum(f, "span_end", isinf(o->span_hi) ? NAN : o->span_hi, 0);
	fprintf(f, ", \"detected\": %zu, \"reference\": %zu, \"tp\": %zu, "
		"\"fp\": %zu, \"fn\": %zu, ", nd, nr, tp, nd - tp, nr - tp);
	jnum(f, "precision", ratio(tp, nd), 1);
	jnum(f, "recall", ratio(tp, nr), 1);
	jnum(f, "f1", ratio(2.0 * tp, nd + nr), 1);
	jnum(f, "onset_error_mean", e->mean, 1);
	jnum(f, "onset_error_median", e->median, 0);
	fprintf(f, ",\n  \"matches\": [");
	for (size_t i = 0, k = 0; i < nd; i++) {
		size_t j = e->match[i];
		if (j == NONE)
			continue;
		fprintf(f, "%s\n    {\"detected\": ", k++ ? "," : "");
		jsec(f, e->det.t[i]);
		fprintf(f, ", \"reference\": ");
		jsec(f, e->ref.t[j]);
		fprintf(f, ", \"delta\": ");
		jsec(f, e->det.t[i] - e->ref.t[j]);
		putc('}', f);
	}
	fprintf(f, "],\n  \"unmatched_detected\": [");
	for (size_t i = 0, k = 0; i < nd; i++)
		if (e->match[i] == NONE) {
			fputs(k++ ? ", " : "", f);
			jsec(f, e->det.t[i]);
		}
	fprintf(f, "],\n  \"unmatched_reference\": [");
	for (size_t j = 0, k = 0; j < nr; j++)
		if (!e->used[j]) {
			fputs(k++ ? ", " : "", f);
			jsec(f, e->ref.t[j]);
		}
	fprintf(f, "]}");
}

static void write_stages(FILE *f, const stages *s)
{
	stage_metrics m = stage_compute(s);
	fprintf(f, ",\n\"stages\": {\"feature\": \"stage\", \"epochs\": %"
		PRId64 ", \"no_call\": %" PRId64 ", ", m.n, s->missing);
	jnum(f, "accuracy", m.accuracy, 1);
	jnum(f, "kappa", m.kappa, 1);
	fprintf(f, "\"labels\": [\"W\", \"N1\", \"N2\", \"N3\", \"R\", "
		"\"unscored\"],\n  \"confusion\": [");
	for (int i = 0; i < 5; i++) {
		fprintf(f, "%s[", i ? ", " : "");
		for (int j = 0; j < 6; j++)
			fprintf(f, "%s%" PRId64, j ? ", " : "", s->cm[i][j]);
		putc(']', f);
	}
	fprintf(f, "],\n  \"per_stage\": {");
	for (int i = 0; i < 5; i++) {
		fprintf(f, "%s\"%s\": {", i ? ", " : "", stage_label[i]);
		jnum(f, "precision", m.precision[i], 1);
		jnum(f, "recall", m.recall[i], 1);
		jnum(f, "f1", m.f1[i], 0);
		putc('}', f);
	}
	fprintf(f, "}}");
}

static void write_json(const opts *o, target *ts, int nt, const evscore *e,
		       const char *table, const stages *sg)
{
	const char *path = o->json;
	char err[PATH_MAX + 256];
	const char *tmp = tmpout_make(0, path, 1, err, sizeof err);
	if (!tmp)
		die(EXIT_IO, "%s", err);
	FILE *f = fopen(tmp, "w");
	if (!f)
		die(EXIT_IO, "%s: %s", path, strerror(errno));
	fprintf(f, "{\"reference\": ");
	jstr(f, o->reference);
	fprintf(f, ", \"targets\": {");
	for (int i = 0, k = 0; i < nt; i++) {
		if (ts[i].feat < 0)
			continue;
		metrics m = compute(&ts[i]);
		fprintf(f, "%s\n  \"%s\": {\"feature\": \"%s\", \"epochs\": %"
			PRId64 ", \"tp\": %" PRId64 ", \"fp\": %" PRId64
			", \"fn\": %" PRId64 ", \"tn\": %" PRId64 ", ",
			k++ ? "," : "", ts[i].name, ts[i].feature, m.n,
			ts[i].tp, ts[i].fp, ts[i].fn, ts[i].tn);
		jnum(f, "precision", m.precision, 1);
		jnum(f, "recall", m.recall, 1);
		jnum(f, "f1", m.f1, 1);
		jnum(f, "kappa", m.kappa, 1);
		jnum(f, "accuracy", m.accuracy, 1);
		fprintf(f, "\"unusable\": %" PRId64 ", \"no_call\": %" PRId64
			"}", ts[i].unusable, ts[i].missing);
	}
	fprintf(f, "\n}");
	if (sg->feat >= 0)
		write_stages(f, sg);
	if (o->events)
		write_events(f, e, table, o);
	fprintf(f, "}\n");
	if (fflush(f) | ferror(f) | fclose(f))
		die(EXIT_IO, "%s: cannot write: %s", path, strerror(errno));
	if (tmpout_commit(0, path, err, sizeof err))
		die(EXIT_IO, "%s", err);
}

int main(int argc, char **argv)
{
	opts o = {0};
	static target ts[2] = {{"N3", "sws", PSG_STAGE_N3, -1},
			       {"W", "wake", PSG_STAGE_W, -1}};
	static psg_stage_run *ref;
	size_t nref = 0;
	evscore ev = {.type = -1};
	static stages sg = {.feat = -1};
	psg_record rec;
	char msg[512];
	int st;
	stage_name = "psg-score";
	parse_args(argc, argv, &o);
	tmpout_handlers();
	atexit(tmpout_discard);
	const char *inputs[] = {o.input, o.reference, o.events};
	for (int i = 0; i < 3; i++)
		if (inputs[i])
			tmpout_input(inputs[i]);
	psg_reader *in = psg_reader_open_results(o.input, NULL, &st, msg,
						  sizeof msg);
	if (!in)
		die(exit_code(st), "%s", msg);
	const psg_header *h = psg_reader_header(in);
	if (o.reference) {
		if ((st = psg_hypnogram_read(o.reference, h->epoch_len, &ref,
					     &nref, msg, sizeof msg)))
			die(EXIT_IO, "%s", msg);
		int any = (sg.feat = psg_header_find_feature(h, "sleep_stage")) >= 0;
		for (int i = 0; i < 2; i++)
			any |= (ts[i].feat = psg_header_find_feature(h,
						ts[i].feature)) >= 0;
		if (!any)
			die(EXIT_UNSUITABLE, "the stream has no 'sws', 'wake' or "
			    "'stage' column to score (run psg-sws, psg-wake or "
			    "psg-stage first)");
	}
	if (o.events) {
		if (o.detected)
			read_reference(o.detected, o.det_label, h, &ev.det);
		else
			ev.type = find_table(h, o.event_type);
		read_reference(o.events, o.ref_label, h, &ev.ref);
		if (!ev.ref.n)
			warn("%s: no reference event%s%s", o.events,
			     o.ref_label ? " matches " : "",
			     o.ref_label ? o.ref_label : "");
		for (size_t j = 0; o.iou > 0 && j < ev.ref.n; j++)
			if (ev.ref.dur[j] <= 0)
				die(EXIT_UNSUITABLE, "%s: --iou needs reference "
				    "events with durations", o.events);
	}
	while ((st = psg_reader_next(in, &rec)) > 0) {
		if (rec.kind == PSG_REC_EPOCH)
			for (int k = 0; k < rec.epoch.n; k++) {
				int fk = (int)rec.epoch.feature[k];
				for (int i = 0; i < 2; i++)
					if (fk == ts[i].feat)
						store(&ts[i], rec.epoch.epoch,
						      rec.epoch.value[k]);
				if (fk == sg.feat)
					store_stage(&sg, rec.epoch.epoch,
						    rec.epoch.value[k]);
			}
		if (rec.kind == PSG_REC_EVENT && rec.event.type == ev.type &&
		    selected(o.det_label, rec.event.label))
			add_onset(&ev.det, rec.event.onset,
				  rec.event.duration);
	}
	if (st < 0)
		die(exit_code(st), "%s", psg_reader_errmsg(in));
	int64_t nep = psg_header_nepochs(h);
	for (int i = 0; i < 2; i++) {
		if (ts[i].feat < 0)
			continue;
		tally(&ts[i], h, ref, nref, nep);
		metrics m = compute(&ts[i]);
		print_text(&ts[i], &m);
	}
	if (sg.feat >= 0) {
		tally_stages(&sg, h, ref, nref, nep);
		stage_metrics m = stage_compute(&sg);
		print_stages(&sg, &m);
	}
	const char *table = ev.type >= 0 ? h->evtypes[ev.type].name :
			    o.detected;
	if (o.events) {
		keep_span(&ev.det, o.span_lo, o.span_hi);
		keep_span(&ev.ref, o.span_lo, o.span_hi);
		match_events(&ev, o.tolerance, o.iou);
		print_events(&ev, table, o.tolerance, o.iou);
	}
	if (fflush(stdout) || ferror(stdout))
		die(EXIT_IO, "standard output: cannot write: %s",
		    strerror(errno));
	if (o.json)
		write_json(&o, ts, 2, &ev, table, &sg);
	for (int i = 0; i < 2; i++)
		free(ts[i].call);
	free(sg.call);
	free(ref);
	free(ev.det.t);
	free(ev.ref.t);
	free(ev.det.dur);
	free(ev.ref.dur);
	free(ev.match);
	free(ev.used);
	psg_reader_free(in);
	return 0;
}
