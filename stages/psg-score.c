/*
 * psg-score -- how a chain's per-epoch calls agree with an expert's
 * hypnogram: for N3 (the `sws` column: reference S3+S4/N3) and W (the
 * `wake` column), the confusion matrix, Cohen's kappa (Cohen 1960),
 * precision, recall and F1.  Epochs are the stream's grid (set it to the
 * reference's with psg-read --epoch/--epoch-origin); each is compared with
 * the reference stage at its midpoint, and reference epochs scored "?"
 * are left out.  An unusable call (-1) counts as "not the target".
 *
 * The stream's epoch calls are held until END (one byte per epoch: 2880
 * for 24 h), since they arrive in any order from several stages.
 */
#include "stage.h"

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

typedef struct opts {
	const char *reference, *json, *input;
} opts;

static void usage(FILE *f)
{
	fputs("usage: psg-score --reference HYPNOGRAM [--json OUT] [FILE|-]\n"
	      "Compares the stream's per-epoch calls (sws -> N3, wake -> W) "
	      "with a reference\nhypnogram: confusion matrix, Cohen's kappa, "
	      "precision, recall, F1.\n\n"
	      "  -r, --reference FILE  EDF+ hypnogram (Sleep stage W/1/2/3/4/R), "
	      "DREAMS text\n"
	      "                        ([Hypnogram], a code per 5 s), one "
	      "stage per epoch, or\n"
	      "                        a TSV of onset, duration, stage\n"
	      "  -j, --json FILE       also write the results as JSON\n"
	      "  -h, --help            this help\n\n"
	      "Exit: 0 ok, 1 usage, 2 unreadable stream or reference, 3 no "
	      "call to score.\n", f);
}

static void parse_args(int argc, char **argv, opts *o)
{
	static const struct option lo[] = {{"reference", 1, 0, 'r'},
		{"json", 1, 0, 'j'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":r:j:h", lo, NULL)) != -1) {
		switch (c) {
		case 'r': o->reference = optarg; break;
		case 'j': o->json = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: bad_option(c, argv);
		}
	}
	if (!o->reference)
		die(EXIT_USAGE, "no reference: use --reference HYPNOGRAM");
	o->input = single_input(argc, argv);
}

static void store(target *t, int64_t epoch, double v)
{
	if (epoch < 0 || epoch > (INT64_C(1) << 30))
		return;
	if (epoch >= t->ncall) {
		int64_t n = epoch + 1 > 2 * t->ncall ? epoch + 1 : 2 * t->ncall;
		signed char *p = realloc(t->call, (size_t)n);
		if (!p)
			die(EXIT_IO, "out of memory");
		memset(p + t->ncall, -2, (size_t)(n - t->ncall));
		t->call = p, t->ncall = n;
	}
	t->call[epoch] = isnan(v) ? -2 : v < 0 ? -1 : v >= 0.5;
}

/* The reference stage at time t (runs sorted by onset). */
static int stage_at(const psg_stage_run *r, size_t n, int64_t t)
{
	for (size_t i = 0; i < n; i++)
		if (t >= r[i].onset && t < r[i].onset + r[i].duration)
			return r[i].stage;
	return PSG_STAGE_UNKNOWN;
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

static void jnum(FILE *f, const char *k, double v, int comma)
{
	if (isnan(v))
		fprintf(f, "\"%s\": null%s", k, comma ? ", " : "");
	else
		fprintf(f, "\"%s\": %.6g%s", k, v, comma ? ", " : "");
}

static void write_json(const char *path, target *ts, int nt,
		       const char *ref)
{
	char tmp[PSG_PATH_LEN + 32];
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		die(EXIT_IO, "%s: %s", path, strerror(errno));
	fprintf(f, "{\"reference\": \"");
	for (const char *p = ref; *p; p++)
		fprintf(f, *p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
	fprintf(f, "\", \"targets\": {");
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
	fprintf(f, "\n}}\n");
	if (fflush(f) || ferror(f) || fclose(f) || rename(tmp, path)) {
		unlink(tmp);
		die(EXIT_IO, "%s: %s", path, strerror(errno));
	}
}

int main(int argc, char **argv)
{
	opts o = {0};
	static target ts[2] = {{"N3", "sws", PSG_STAGE_N3},
			       {"W", "wake", PSG_STAGE_W}};
	static psg_stage_run *ref;
	size_t nref;
	psg_record rec;
	char msg[512];
	int st;
	stage_name = "psg-score";
	parse_args(argc, argv, &o);
	psg_open_opts oo = {0};
	psg_reader *in = psg_reader_open(o.input, &oo, &st, msg, sizeof msg);
	if (!in)
		die(exit_code(st), "%s", msg);
	const psg_header *h = psg_reader_header(in);
	if ((st = psg_hypnogram_read(o.reference, h->epoch_len, &ref, &nref,
				     msg, sizeof msg)))
		die(EXIT_IO, "%s", msg);
	int any = 0;
	for (int i = 0; i < 2; i++)
		any |= (ts[i].feat = psg_header_find_feature(h,
							     ts[i].feature)) >= 0;
	if (!any)
		die(EXIT_UNSUITABLE, "the stream has no 'sws' or 'wake' "
		    "column to score (run psg-sws or psg-wake first)");
	while ((st = psg_reader_next(in, &rec)) > 0)
		if (rec.kind == PSG_REC_EPOCH)
			for (int k = 0; k < rec.epoch.n; k++)
				for (int i = 0; i < 2; i++)
					if ((int)rec.epoch.feature[k] ==
					    ts[i].feat)
						store(&ts[i], rec.epoch.epoch,
						      rec.epoch.value[k]);
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
	if (o.json)
		write_json(o.json, ts, 2, o.reference);
	for (int i = 0; i < 2; i++)
		free(ts[i].call);
	free(ref);
	psg_reader_free(in);
	return 0;
}
