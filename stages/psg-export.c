/*
 * psg-export -- a night's results (psg-h5's HDF5, docs/hdf5.md) for other
 * tools: EDF+ annotations, BIDS events, plain TSV tables.
 *
 *   psg-export night.h5 --edf-annotations night.annot.edf   EDFbrowser, MNE
 *   psg-export night.h5 --bids sub-01_task-sleep            BIDS events
 *   psg-export night.h5 --tsv night/                        R, Octave, sheets
 *
 * Every event of every /events table is exported, and the night's stages
 * (psg_epoch_stage: psg-stage's W, N1, N2, N3, R, ? when it ran, else
 * psgpipe's calls W, N3, N, ?) as "Sleep stage X" annotations.  The EDF+
 * file is an annotation-only EDF+C (pipeline/edf_write.c): one data record
 * whose annotation signal is sized at the end for everything queued, so no
 * annotation is ever dropped (edflib's writer keeps at most one per record
 * and signal).  edflib reads records of at most 10 MiB, about 250 000
 * annotations: beyond that psg-export refuses (exit 3) rather than write
 * a file readers drop.  Each output is written under a temporary name and
 * renamed when complete.
 */
#include "results.h"

#include <getopt.h>
#include <math.h>
#include <sys/stat.h>

#define EDFLIB_MAX_RECORD (10 << 20)

typedef struct opts {
	const char *in, *edf, *bids, *tsv;
} opts;

/* One annotation of any origin, sorted by onset before writing. */
typedef struct annot {
	int64_t onset, duration;   /* ticks; duration -1: none */
	const char *type, *channel, *text;
	size_t order;              /* input order, for a stable sort */
} annot;

typedef struct annots {
	annot *v;
	size_t n, cap;
} annots;

static void usage(FILE *f)
{
	fputs("usage: psg-export NIGHT.h5 [--edf-annotations OUT.edf] "
	      "[--bids PREFIX] [--tsv DIR]\n"
	      "A night's results (psg-h5's HDF5) for other tools; at least "
	      "one output.\n\n"
	      "  --edf-annotations OUT.edf  annotation-only EDF+C: every "
	      "event, and the\n"
	      "                             epoch calls as 'Sleep stage W|N3|"
	      "N|?'\n"
	      "  --bids PREFIX              PREFIX_events.tsv + "
	      "PREFIX_events.json and\n"
	      "                             PREFIX_hypnogram.tsv "
	      "(onset, duration, stage)\n"
	      "  --tsv DIR                  DIR/epochs.tsv, DIR/<event type>."
	      "tsv,\n"
	      "                             DIR/summary.tsv, DIR/channels.tsv"
	      "\n"
	      "      --version              version\n"
	      "  -h, --help                 this help\n\n"
	      "Exit: 0 ok, 1 usage, 2 unreadable input or an output error, 3 "
	      "more\nannotations than an EDF+ reader takes.\n", f);
}

static void parse_args(int argc, char **argv, opts *o)
{
	static const struct option lo[] = {
		{"edf-annotations", required_argument, NULL, 'E'},
		{"bids", required_argument, NULL, 'B'},
		{"tsv", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	int c;
	memset(o, 0, sizeof *o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case 'E': o->edf = optarg; break;
		case 'B': o->bids = optarg; break;
		case 'T': o->tsv = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: bad_option(c, argv);
		}
	}
	o->in = one_night(argc, argv);
	if (!o->edf && !o->bids && !o->tsv)
		die(EXIT_USAGE, "nothing to write: give --edf-annotations, "
		    "--bids or --tsv");
}

/* ---- gathering the annotations ---------------------------------------- */

static int64_t ticks(double s)
{
	return (int64_t)llround(s * (double)PSG_TICKS_PER_SEC);
}

static void add(annots *a, int64_t onset, int64_t dur, const char *type,
		const char *channel, const char *text)
{
	a->v = grow(a->v, &a->cap, a->n + 1, sizeof *a->v);
	a->v[a->n] = (annot){onset, dur, type, channel, text, a->n};
	a->n++;
}

static const char *text_at(const psg_table *t, int col, int64_t i)
{
	return col >= 0 && t->col[col].is_text ? t->col[col].text[i] : "";
}

static double num_at(const psg_table *t, int col, int64_t i)
{
	return col >= 0 && !t->col[col].is_text ? t->col[col].num[i] : NAN;
}

/* An event's text is its label (the kind: "arousal", "lm"...), or its
   table's type when the label is empty: EDF+ refuses empty texts. */
static void add_events(annots *a, const psg_table *t)
{
	int on = psg_table_column(t, "onset"), du = psg_table_column(t,
		"duration");
	int ch = psg_table_column(t, "channel"), lb = psg_table_column(t,
		"label");
	for (int64_t i = 0; on >= 0 && i < t->nrows; i++) {
		double d = num_at(t, du, i);
		const char *text = text_at(t, lb, i);
		add(a, ticks(num_at(t, on, i)), isnan(d) ? -1 : ticks(d),
		    t->type, text_at(t, ch, i), *text ? text : t->type);
	}
}

/* "Sleep stage X", as EDFbrowser and MNE name stages; the last is for a
   stage of another name. */
static const char *const stage_text[][2] = {{"W", "Sleep stage W"},
	{"N1", "Sleep stage N1"}, {"N2", "Sleep stage N2"},
	{"N3", "Sleep stage N3"}, {"R", "Sleep stage R"},
	{"N", "Sleep stage N"}, {"?", "Sleep stage ?"}};

static const char *stage_annotation(const char *stage)
{
	size_t n = sizeof stage_text / sizeof *stage_text;
	for (size_t i = 0; i < n - 1; i++)
		if (!strcmp(stage, stage_text[i][0]))
			return stage_text[i][1];
	return stage_text[n - 1][1];
}

static void add_epochs(annots *a, const psg_table *ep)
{
	int on = psg_table_column(ep, "onset"), du = psg_table_column(ep,
		"duration");
	for (int64_t i = 0; ep && psg_epoch_stage(ep, i); i++)
		add(a, ticks(num_at(ep, on, i)), ticks(num_at(ep, du, i)),
		    "epoch_stage", "", stage_annotation(psg_epoch_stage(ep,
								     i)));
}

static int by_onset(const void *x, const void *y)
{
	const annot *p = x, *q = y;
	if (p->onset != q->onset)
		return p->onset < q->onset ? -1 : 1;
	return p->order < q->order ? -1 : p->order > q->order;
}

static annots gather(const psg_result *r, int epochs)
{
	annots a = {0};
	for (int i = 0; i < psg_result_nevents(r); i++)
		add_events(&a, psg_result_events(r, i));
	if (epochs)
		add_epochs(&a, psg_result_table(r, "epochs"));
	if (a.n)
		qsort(a.v, a.n, sizeof *a.v, by_onset);
	return a;
}

/* ---- EDF+ annotations ------------------------------------------------- */

/* The start date-time and the EDF+ identification fields. */
static void header_of(const psg_result *r, psg_header *h)
{
	int st = psg_result_header(r, h);
	if (st)
		die(exit_code(st), "%s: %s", psg_result_attr(r, "source_file"),
		    st == PSG_ERR_NOMEM ? "out of memory" : "no start_time, "
		    "or not YYYY-MM-DDThh:mm:ss");
}

/* TAL bytes of one annotation: "+onset\x15duration\x14text\x14\0". */
static size_t tal_bytes(const annot *a)
{
	return strlen(a->text) + 48;
}

static void write_edf(const psg_result *r, const annots *a, const char *out)
{
	size_t bytes = 64;
	for (size_t i = 0; i < a->n; i++)
		bytes += tal_bytes(&a->v[i]);
	if (bytes > EDFLIB_MAX_RECORD)
		die(EXIT_UNSUITABLE, "%s: %zu annotations need %zu bytes in "
		    "one EDF+ record, more than edflib reads (10 MiB)", out,
		    a->n, bytes);
	psg_header *h = psg_header_new();
	int st;
	if (!h)
		die(EXIT_IO, "out of memory");
	header_of(r, h);
	psg_edf_opts o = {.annotations_only = 1};
	char err[PATH_MAX + 256];
	psg_edf_writer *w = tmpout_edf_open(0, out, h, &o, &st, err,
					    sizeof err);
	if (!w)
		die(exit_code(st), "%s", err);
	for (size_t i = 0; !st && i < a->n; i++)
		st = psg_edf_add_annotation(w, a->v[i].onset, a->v[i].duration,
					    a->v[i].text);
	if (!st)
		st = psg_edf_writer_finish(w);
	tmpout_untrack(0);
	if (st)
		die(exit_code(st), "%s", psg_edf_writer_errmsg(w));
	psg_edf_writer_free(w);
	psg_header_free(h);
}

/* ---- TSV files -------------------------------------------------------- */

/* Text in a TSV cell: tabs and line breaks would split it. */
static void tsv_text(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

static void tsv_num(FILE *f, double v, const char *nan)
{
	char buf[40];
	psg_number_text(buf, sizeof buf, v);
	fputs(isnan(v) ? nan : buf, f);
}

static void tsv_seconds(FILE *f, int64_t t)
{
	tsv_num(f, t < 0 ? NAN : (double)t / (double)PSG_TICKS_PER_SEC,
		"n/a");
}

/* A table as it is, text columns as text, NaN as "NaN" (pandas, R and
   Octave's textscan read it). */
static void table_tsv(FILE *f, const void *data)
{
	const psg_table *t = data;
	for (int c = 0; c < t->ncols; c++) {
		fputs(c ? "\t" : "", f);
		tsv_text(f, t->col[c].name);
	}
	fputc('\n', f);
	for (int64_t i = 0; i < t->nrows; i++) {
		for (int c = 0; c < t->ncols; c++) {
			fputs(c ? "\t" : "", f);
			if (t->col[c].is_text)
				tsv_text(f, t->col[c].text[i]);
			else
				tsv_num(f, t->col[c].num[i], "NaN");
		}
		fputc('\n', f);
	}
}

/* epochs.tsv: /epochs plus psgpipe's calls as text in `stage`, unless the
   table has psg-stage's `sleep_stage` (then that is the stage). */
static void epochs_tsv(FILE *f, const void *data)
{
	const psg_table *t = data;
	int call = psg_epoch_call(t, 0) && psg_table_column(t, "sleep_stage") < 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		die(EXIT_IO, "out of memory");
	table_tsv(m, t);
	fclose(m);
	char *line = buf, *nl;
	for (int64_t i = -1; (nl = strchr(line, '\n')); i++, line = nl + 1) {
		fwrite(line, 1, (size_t)(nl - line), f);
		if (call)
			fprintf(f, "\t%s", i < 0 ? "stage" :
				psg_epoch_call(t, i));
		fputc('\n', f);
	}
	free(buf);
}

static void summary_tsv(FILE *f, const void *data)
{
	const psg_result *r = data;
	fputs("name\tvalue\tunit\n", f);
	for (int i = 0; i < psg_result_nfigures(r); i++) {
		const psg_figure *g = psg_result_figure(r, i);
		tsv_text(f, g->name);
		fputc('\t', f);
		tsv_num(f, g->value, "NaN");
		fputc('\t', f);
		tsv_text(f, g->unit);
		fputc('\n', f);
	}
}

static char *join(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);
	if (!s)
		die(EXIT_IO, "out of memory");
	snprintf(s, n, "%s%s%s", a, b, c);
	return s;
}

/* DIR/NAME.tsv */
static void write_tsv(const char *dir, const char *name, writer_fn fn,
		      const void *data)
{
	char *d = join(dir, "/", name), *p = join(d, ".tsv", "");
	write_atomic(p, fn, data);
	free(p);
	free(d);
}

static void write_tsv_dir(const psg_result *r, const char *dir)
{
	struct stat sb;
	if (mkdir(dir, 0777) && errno != EEXIST)
		die(EXIT_IO, "%s: cannot create the directory: %s", dir,
		    strerror(errno));
	if (stat(dir, &sb) || !S_ISDIR(sb.st_mode))
		die(EXIT_IO, "%s: not a directory (--tsv DIR writes a file per "
		    "table into DIR)", dir);
	const psg_table *ep = psg_result_table(r, "epochs");
	const psg_table *ch = psg_result_table(r, "channels");
	if (ep)
		write_tsv(dir, "epochs", epochs_tsv, ep);
	if (ch)
		write_tsv(dir, "channels", table_tsv, ch);
	for (int i = 0; i < psg_result_nevents(r); i++) {
		const psg_table *t = psg_result_events(r, i);
		write_tsv(dir, t->name, table_tsv, t);
	}
	write_tsv(dir, "summary", summary_tsv, r);
}

/* ---- BIDS ------------------------------------------------------------- */

/* PREFIX_events.tsv: onset, duration, trial_type (the event table),
   channel, value (the label) -- the columns of BIDS events plus the
   channel column of BIDS EEG events. */
static void bids_events(FILE *f, const void *data)
{
	const annots *a = data;
	fputs("onset\tduration\ttrial_type\tchannel\tvalue\n", f);
	for (size_t i = 0; i < a->n; i++) {
		const annot *x = &a->v[i];
		tsv_seconds(f, x->onset);
		fputc('\t', f);
		tsv_seconds(f, x->duration);
		fputc('\t', f);
		tsv_text(f, x->type);
		fputc('\t', f);
		tsv_text(f, *x->channel ? x->channel : "n/a");
		fputc('\t', f);
		tsv_text(f, x->text);
		fputc('\n', f);
	}
}

static void json_text(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void bids_json(FILE *f, const void *data)
{
	const psg_result *r = data;
	fputs("{\n  \"onset\": {\"Description\": \"Start of the event from "
	      "the start of the recording\", \"Units\": \"s\"},\n"
	      "  \"duration\": {\"Description\": \"Length of the event; n/a "
	      "when it has none\", \"Units\": \"s\"},\n"
	      "  \"trial_type\": {\"Description\": \"The psgpipe event table "
	      "the event comes from (docs/hdf5.md)\", \"Levels\": {", f);
	for (int i = 0; i < psg_result_nevents(r); i++) {
		const psg_table *t = psg_result_events(r, i);
		fputs(i ? ", " : "", f);
		json_text(f, t->type);
		fprintf(f, ": \"/events/%s\"", t->name);
	}
	fputs("}},\n  \"channel\": {\"Description\": \"Label of the channel "
	      "the event was found on; n/a when none\"},\n"
	      "  \"value\": {\"Description\": \"The event's label: its kind "
	      "(arousal, lm, twitch, ...) or an imported annotation's "
	      "text\"},\n  \"GeneratedBy\": [{\"Name\": \"psgpipe\", "
	      "\"Version\": ", f);
	json_text(f, psg_result_attr(r, "psgpipe_version"));
	fputs("}],\n  \"SourceSHA256\": ", f);
	json_text(f, psg_result_attr(r, "source_sha256"));
	fputs("\n}\n", f);
}

/* PREFIX_hypnogram.tsv: one row per epoch, the onset/duration/stage
   layout of the BIDS sleep proposal: psg-stage's W, N1, N2, N3, R when it
   ran, else psgpipe's W, N3, N (other sleep); n/a unscored. */
static void bids_hypnogram(FILE *f, const void *data)
{
	const psg_table *ep = data;
	int on = psg_table_column(ep, "onset"), du = psg_table_column(ep,
		"duration");
	fputs("onset\tduration\tstage\n", f);
	for (int64_t i = 0; i < ep->nrows; i++) {
		const char *call = psg_epoch_stage(ep, i);
		tsv_num(f, num_at(ep, on, i), "n/a");
		fputc('\t', f);
		tsv_num(f, num_at(ep, du, i), "n/a");
		fprintf(f, "\t%s\n", !call || !strcmp(call, "?") ? "n/a" : call);
	}
}

static void write_bids(const psg_result *r, const char *prefix)
{
	annots a = gather(r, 0);
	const psg_table *ep = psg_result_table(r, "epochs");
	char *p;
	write_atomic(p = join(prefix, "_events", ".tsv"), bids_events, &a);
	free(p);
	write_atomic(p = join(prefix, "_events", ".json"), bids_json, r);
	free(p);
	if (ep && psg_epoch_stage(ep, 0)) {
		write_atomic(p = join(prefix, "_hypnogram", ".tsv"),
			     bids_hypnogram, ep);
		free(p);
	}
	free(a.v);
}

int main(int argc, char **argv)
{
	opts o;
	stage_name = "psg-export";
	parse_args(argc, argv, &o);
	tmpout_handlers();
	atexit(tmpout_discard);
	psg_result *r = open_night(o.in);
	if (o.edf) {
		annots a = gather(r, 1);
		write_edf(r, &a, o.edf);
		free(a.v);
	}
	if (o.bids)
		write_bids(r, o.bids);
	if (o.tsv)
		write_tsv_dir(r, o.tsv);
	psg_result_close(r);
	return 0;
}
