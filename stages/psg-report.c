/*
 * psg-report -- one page per night: a self-contained HTML file (inline
 * SVG, no scripts, no network) from a psgpipe result file (docs/hdf5.md).
 *
 *   psg-report night.h5 -o night.html       the page
 *   psg-report night.h5 --svg -o night.svg  the figure alone
 *
 * The figure has one time axis (clock time) shared by every track: the
 * epoch calls as a coloured band (W, N, N3, ?), an imported hypnogram
 * ("Sleep stage ..." annotations) and psg-stage's computed one (/epochs
 * stage) as step lines, slow-wave activity per
 * epoch, and one raster row per event kind (awakenings, arousals, leg
 * movements, PLM series, spasms, twitches, RMMA, bursts, slow waves, then
 * any other).  Rows come from the tables as found, by table and label, so
 * a kind a later version adds gets its row without a change here.  Events
 * closer than half a pixel are drawn as one mark, which keeps a 24-h page
 * small (at most a few thousand marks per row) and a 5-min one exact.
 * Below: the /summary figures with units, the channels by role (by kind
 * when the file has no roles), and the software version, the recording's
 * SHA-256 and the command history.
 */
#include "results.h"

#include <getopt.h>
#include <math.h>

#define FIG_W 1200.0
#define LEFT 190.0      /* track titles */
#define RIGHT 40.0
#define PLOT_W (FIG_W - LEFT - RIGHT)
#define ROW_H 18.0
#define MAX_LABEL_ROWS 12

typedef struct opts {
	const char *in, *out;
	int svg, cohort;
	char **nights;         /* --cohort */
	int nnights;
} opts;

typedef struct fig {
	FILE *f;
	double dur;            /* seconds on the axis */
	double y;              /* top of the next track */
	int clock0;            /* start, seconds after midnight; -1 unknown */
	const psg_result *r;
} fig;

static void usage(FILE *f)
{
	fputs("usage: psg-report NIGHT.h5 -o OUT.html [--svg]\n"
	      "       psg-report --cohort NIGHT.h5... -o COHORT.html\n"
	      "One self-contained page per night (inline SVG, no scripts, no "
	      "network):\nepoch calls, hypnogram, slow-wave activity and "
	      "every kind of event on one\ntime axis; the summary figures "
	      "with units; channels; version and SHA-256.\n\n"
	      "  -o, --output FILE   the page (required)\n"
	      "      --svg           the figure alone, as an SVG file\n"
	      "      --cohort        one page for many nights: a row each "
	      "with its key\n"
	      "                      figures, linked to its page (NIGHT.html "
	      "beside it)\n"
	      "      --version       version\n"
	      "  -h, --help          this help\n\n"
	      "Exit: 0 ok, 1 usage, 2 unreadable input or an output error, 3 a "
	      "result file\nof another schema version.\n", f);
}

static void parse_args(int argc, char **argv, opts *o)
{
	static const struct option lo[] = {
		{"output", required_argument, NULL, 'o'},
		{"svg", no_argument, NULL, 'S'},
		{"cohort", no_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	int c;
	memset(o, 0, sizeof *o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", lo, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case 'S': o->svg = 1; break;
		case 'C': o->cohort = 1; break;
		case 'h': usage(stdout); exit(0);
		default: bad_option(c, argv);
		}
	}
	if (o->cohort && o->svg)
		die(EXIT_USAGE, "--svg draws one night, not a --cohort");
	if (o->cohort) {
		o->nights = argv + optind;
		o->nnights = argc - optind;
		if (!o->nnights)
			die(EXIT_USAGE, "--cohort: no nights given");
	} else {
		o->in = one_night(argc, argv);
	}
	if (!o->out)
		die(EXIT_USAGE, "no output given (-o OUT.html)");
}

/* ---- small helpers ---------------------------------------------------- */

static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static double x_of(const fig *g, double t)
{
	double x = LEFT + t / g->dur * PLOT_W;
	return x < LEFT ? LEFT : x > LEFT + PLOT_W ? LEFT + PLOT_W : x;
}

static double col_num(const psg_table *t, const char *name, int64_t i)
{
	int c = psg_table_column(t, name);
	return c >= 0 && !t->col[c].is_text ? t->col[c].num[i] : NAN;
}

static const char *col_text(const psg_table *t, const char *name, int64_t i)
{
	int c = psg_table_column(t, name);
	return c >= 0 && t->col[c].is_text ? t->col[c].text[i] : "";
}

/* A track's title right-aligned left of the plot (leaving room for the
   hypnogram's stage letters); its note after it on short tracks, on a
   second line on tall ones. */
static void track_title(fig *g, double h, const char *title,
			const char *note)
{
	int two = h >= 40 && note && *note;
	fprintf(g->f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
		"class=\"t\">", LEFT - 26, g->y + h / 2 + (two ? -2 : 4));
	esc(g->f, title);
	if (note && *note) {
		if (two)
			fprintf(g->f, "<tspan x=\"%.1f\" dy=\"15\" "
				"class=\"n\">", LEFT - 26);
		else
			fputs(" <tspan class=\"n\">", g->f);
		esc(g->f, note);
		fputs("</tspan>", g->f);
	}
	fputs("</text>\n", g->f);
	fprintf(g->f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		"height=\"%.1f\" class=\"bg\"/>\n", LEFT, g->y, PLOT_W, h);
}

/* ---- the recording's extent and clock --------------------------------- */

static double table_end(const psg_table *t)
{
	double end = 0;
	for (int64_t i = 0; t && i < t->nrows; i++) {
		double e = col_num(t, "onset", i) + fmax(0, col_num(t,
			"duration", i));
		if (isfinite(e) && e > end)
			end = e;
	}
	return end;
}

/* The axis: the recording's duration, else what its tables cover. */
static double axis_length(const psg_result *r)
{
	double d = psg_result_attr_num(r, "duration_s");
	if (isfinite(d) && d > 0)
		return d;
	d = table_end(psg_result_table(r, "epochs"));
	for (int i = 0; i < psg_result_nevents(r); i++)
		d = fmax(d, table_end(psg_result_events(r, i)));
	return d > 0 ? d : 30;
}

static int clock_start(const psg_result *r)
{
	int h, m, s;
	const char *st = psg_result_attr(r, "start_time");
	if (sscanf(st, "%*d-%*d-%*dT%d:%d:%d", &h, &m, &s) != 3)
		return -1;
	return h * 3600 + m * 60 + s;
}

/* "5 min", "1.5 h": a length people read at a glance. */
static void dur_text(char *buf, size_t n, double s)
{
	if (s < 7200)
		snprintf(buf, n, "%.0f min", s / 60);
	else
		snprintf(buf, n, "%.1f h", s / 3600);
}

/* ---- tracks ----------------------------------------------------------- */

static const char *call_class(const char *call)
{
	return !strcmp(call, "W") ? "sW" : !strcmp(call, "N3") ? "sN3" :
	       !strcmp(call, "N") ? "sN" : "sU";
}

/* Runs of equal calls as one rectangle each. */
static void track_calls(fig *g)
{
	const psg_table *ep = psg_result_table(g->r, "epochs");
	if (!ep || !ep->nrows || !psg_epoch_call(ep, 0))
		return;
	double h = 22;
	track_title(g, h, "psgpipe calls", NULL);
	for (int64_t i = 0, j; i < ep->nrows; i = j) {
		const char *c = psg_epoch_call(ep, i);
		for (j = i + 1; j < ep->nrows && !strcmp(psg_epoch_call(ep, j),
							 c); j++)
			;
		double t0 = col_num(ep, "onset", i);
		double t1 = col_num(ep, "onset", j - 1) + col_num(ep,
			"duration", j - 1);
		fprintf(g->f, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
			"height=\"%.1f\" class=\"%s\"/>\n", x_of(g, t0), g->y,
			fmax(0.3, x_of(g, t1) - x_of(g, t0)), h,
			call_class(c));
	}
	g->y += h + 6;
}

/* Hypnogram levels, top to bottom: W, R, N1, N2, N3 (R&K 3 and 4 are
   N3); -1 for "?" and anything else. */
static int name_level(const char *name)
{
	static const char *const names[][3] = {
		{"W", "", ""}, {"R", "REM", ""}, {"1", "N1", ""},
		{"2", "N2", ""}, {"3", "4", "N3"}};
	for (int k = 0; k < 5; k++)
		for (int m = 0; m < 3; m++)
			if (*names[k][m] && !strcmp(name, names[k][m]))
				return k;
	return -1;
}

/* An annotation's level: -2 when it is not a "Sleep stage ..." one. */
static int stage_level(const char *label)
{
	const char *p = "Sleep stage ";
	if (strncmp(label, p, strlen(p)))
		return -2;
	return name_level(label + strlen(p));
}

static const psg_table *hypnogram_table(const psg_result *r)
{
	for (int i = 0; i < psg_result_nevents(r); i++) {
		const psg_table *t = psg_result_events(r, i);
		for (int64_t k = 0; k < t->nrows; k++)
			if (stage_level(col_text(t, "label", k)) > -2)
				return t;
	}
	return NULL;
}

/* The level of row i of a hypnogram's table. */
typedef int (*level_fn)(const psg_table *t, int64_t i);

static int annotation_level(const psg_table *t, int64_t i)
{
	return stage_level(col_text(t, "label", i));
}

static int computed_level(const psg_table *t, int64_t i)
{
	return name_level(col_text(t, "sleep_stage", i));
}

/* A step line of the rows' levels, each row a run from its onset. */
static void hypnogram_path(fig *g, const psg_table *t, level_fn level,
			   double step)
{
	fputs("<path class=\"hyp\" d=\"", g->f);
	for (int64_t i = 0; i < t->nrows; i++) {
		int k = level(t, i);
		double t0 = col_num(t, "onset", i), d = col_num(t, "duration",
			i);
		if (k < 0 || !isfinite(d))
			continue;
		double y = g->y + step * (k + 0.5);
		fprintf(g->f, "M%.2f %.1fH%.2f", x_of(g, t0), y, x_of(g, t0 + d));
		if (k == 1)   /* REM as a thick bar, as hypnograms draw it */
			fprintf(g->f, "M%.2f %.1fH%.2f", x_of(g, t0), y - 1.5,
				x_of(g, t0 + d));
	}
	fputs("\"/>\n", g->f);
}

static void hypnogram_track(fig *g, const psg_table *t, level_fn level,
			    const char *note)
{
	static const char *const lv[] = {"W", "R", "N1", "N2", "N3"};
	double h = 70, step = h / 5;
	track_title(g, h, "hypnogram", note);
	for (int k = 0; k < 5; k++)
		fprintf(g->f, "<text x=\"%.1f\" y=\"%.1f\" class=\"n\" "
			"text-anchor=\"end\">%s</text>\n", LEFT - 4,
			g->y + step * (k + 0.5) + 3, lv[k]);
	hypnogram_path(g, t, level, step);
	g->y += h + 6;
}

/* The imported hypnogram (annotations), then the computed one
   (psg-stage's /epochs `stage`), each on its own track. */
static void track_hypnogram(fig *g)
{
	const psg_table *t = hypnogram_table(g->r);
	const psg_table *ep = psg_result_table(g->r, "epochs");
	double atonia = NAN;
	for (int i = 0; i < psg_result_nfigures(g->r); i++)
		if (!strcmp(psg_result_figure(g->r, i)->name, "atonia_index"))
			atonia = psg_result_figure(g->r, i)->value;
	char note[64] = "imported";
	if (isfinite(atonia))
		snprintf(note, sizeof note, "imported, REM atonia %.2f",
			 atonia);
	if (t)
		hypnogram_track(g, t, annotation_level, note);
	int c = psg_table_column(ep, "sleep_stage");
	if (c >= 0 && ep->col[c].is_text && ep->nrows)
		hypnogram_track(g, ep, computed_level, "computed (psg-stage)");
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The top of the scale: the 99th percentile, so one artefact epoch does
   not flatten the night. */
static double scale_top(const psg_column *c, int64_t n)
{
	double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
	int64_t k = 0;
	if (!v)
		die(EXIT_IO, "out of memory");
	for (int64_t i = 0; i < n; i++)
		if (isfinite(c->num[i]))
			v[k++] = c->num[i];
	double top = 0;
	if (k) {
		qsort(v, (size_t)k, sizeof *v, by_double);
		top = v[(k - 1) * 99 / 100];
	}
	free(v);
	return top > 0 ? top : 1;
}

static void track_swa(fig *g)
{
	const psg_table *ep = psg_result_table(g->r, "epochs");
	int c = psg_table_column(ep, "swa");
	if (c < 0 || ep->col[c].is_text || !ep->nrows)
		return;
	double h = 60, top = scale_top(&ep->col[c], ep->nrows);
	char note[64];
	snprintf(note, sizeof note, "scale 0 to %.4g %s", top,
		 ep->col[c].unit);
	track_title(g, h, "SWA per epoch", note);
	fputs("<path class=\"swa\" d=\"", g->f);
	int pen = 0;
	for (int64_t i = 0; i < ep->nrows; i++) {
		double v = ep->col[c].num[i];
		double t = col_num(ep, "onset", i) + col_num(ep, "duration",
			i) / 2;
		if (!isfinite(v) || !isfinite(t)) {
			pen = 0;
			continue;
		}
		double y = g->y + h - fmin(v / top, 1) * (h - 2);
		fprintf(g->f, "%c%.2f %.1f", pen ? 'L' : 'M', x_of(g, t), y);
		pen = 1;
	}
	fputs("\"/>\n", g->f);
	g->y += h + 6;
}

/* ---- event rasters ---------------------------------------------------- */

typedef struct raster {
	const psg_table *t;
	const char *label;     /* NULL: every row of t */
	int64_t n;
	int rank;
	size_t order;          /* ties keep the tables' order */
} raster;

typedef struct rasters {
	raster *v;
	size_t n, cap;
} rasters;

/* Rows in the order a sleep researcher reads them; others after. */
static int rank_of(const char *name)
{
	static const char *const order[] = {"awaken", "arous", "lm", "plm",
		"spasm", "twitch", "rmma", "burst", "slow"};
	for (size_t i = 0; i < sizeof order / sizeof *order; i++)
		if (!strncmp(name, order[i], strlen(order[i])))
			return (int)i;
	return 100;
}

static int in_row(const raster *w, int64_t i)
{
	const char *lb = col_text(w->t, "label", i);
	return stage_level(lb) == -2 && (!w->label || !strcmp(lb, w->label));
}

static void add_raster(rasters *rs, const psg_table *t, const char *label)
{
	rs->v = grow(rs->v, &rs->cap, rs->n + 1, sizeof *rs->v);
	raster *w = &rs->v[rs->n++];
	*w = (raster){t, label, 0, rank_of(label ? label : t->type),
		rs->n - 1};
	for (int64_t i = 0; i < t->nrows; i++)
		w->n += in_row(w, i);
}

/* One row per (table, label); a table with many labels (imported
   annotations of all sorts) or none gets one row. */
static void rasters_of(rasters *rs, const psg_table *t)
{
	const char *seen[MAX_LABEL_ROWS];
	int ns = 0, many = 0;
	for (int64_t i = 0; i < t->nrows && !many; i++) {
		const char *lb = col_text(t, "label", i);
		int k = 0;
		if (!*lb || stage_level(lb) > -2)
			continue;
		while (k < ns && strcmp(seen[k], lb))
			k++;
		if (k == ns && ns == MAX_LABEL_ROWS)
			many = 1;
		else if (k == ns)
			seen[ns++] = lb;
	}
	if (many || ns <= 1) {
		add_raster(rs, t, NULL);
		if (rs->v[rs->n - 1].n == 0 && t->nrows > 0)
			rs->n--;   /* only sleep stages: the hypnogram shows them */
		return;
	}
	for (int k = 0; k < ns; k++)
		add_raster(rs, t, seen[k]);
}

static int by_rank(const void *a, const void *b)
{
	const raster *p = a, *q = b;
	if (p->rank != q->rank)
		return p->rank - q->rank;
	return (p->order > q->order) - (p->order < q->order);
}

/* A label's row names its table too: psg-emg writes spasms, twitches and
   bursts both to emg_bursts (by its leg, chin and jaw rules) and to the
   muscle tables (every muscle, events and their parts). */
static const char *table_name(const char *type)
{
	static const char *const names[][2] = {{"emg_bursts", "EMG rules"},
		{"emg_channels", "EMG, each channel"}, {"muscle_events", "muscles"},
		{"muscle_parts", "each muscle"}};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (!strcmp(type, names[i][0]))
			return names[i][1];
	return type;
}

/* Marks closer than half a pixel merge into one. */
static void draw_raster(fig *g, const raster *w)
{
	double x0 = -1, x1 = -1, h = ROW_H - 4;
	char note[32], title[96];
	snprintf(note, sizeof note, "%lld", (long long)w->n);
	if (w->label)
		snprintf(title, sizeof title, "%.40s (%s)", w->label,
			 table_name(w->t->type));
	track_title(g, ROW_H, w->label ? title : w->t->type, note);
	for (int64_t i = 0; i <= w->t->nrows; i++) {
		double a = 0, b = 0;
		if (i < w->t->nrows) {
			if (!in_row(w, i))
				continue;
			double t = col_num(w->t, "onset", i);
			double d = col_num(w->t, "duration", i);
			a = x_of(g, t);
			b = fmax(a + 1, x_of(g, t + (isfinite(d) ? d : 0)));
			if (x0 >= 0 && a <= x1 + 0.5 && b >= x0 - 0.5) {
				x0 = fmin(x0, a);
				x1 = fmax(x1, b);
				continue;
			}
		}
		if (x0 >= 0)
			fprintf(g->f, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\""
				" height=\"%.1f\" class=\"ev\"/>\n", x0, g->y + 2,
				x1 - x0, h);
		x0 = a;
		x1 = b;
	}
	g->y += ROW_H + 2;
}

static void track_events(fig *g)
{
	rasters rs = {0};
	for (int i = 0; i < psg_result_nevents(g->r); i++)
		rasters_of(&rs, psg_result_events(g->r, i));
	if (rs.n)
		qsort(rs.v, rs.n, sizeof *rs.v, by_rank);   /* ties: any */
	for (size_t i = 0; i < rs.n; i++)
		draw_raster(g, &rs.v[i]);
	free(rs.v);
}

/* ---- the time axis ---------------------------------------------------- */

static double tick_step(double dur)
{
	static const double steps[] = {30, 60, 120, 300, 600, 900, 1800,
		3600, 7200, 10800, 21600, 43200};
	for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
		if (dur / steps[i] <= 12)
			return steps[i];
	return 86400;
}

static void axis(fig *g, double top)
{
	double step = tick_step(g->dur);
	for (double t = 0; t <= g->dur + 1e-9; t += step) {
		double x = x_of(g, t);
		fprintf(g->f, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" "
			"y2=\"%.1f\" class=\"grid\"/>\n", x, top, x, g->y + 4);
		fprintf(g->f, "<text x=\"%.2f\" y=\"%.1f\" text-anchor="
			"\"middle\" class=\"n\">", x, g->y + 18);
		if (g->clock0 >= 0) {
			long s = ((long)(g->clock0 + t)) % 86400;
			if (step < 60)
				fprintf(g->f, "%02ld:%02ld:%02ld", s / 3600,
					s / 60 % 60, s % 60);
			else
				fprintf(g->f, "%02ld:%02ld", s / 3600,
					s / 60 % 60);
		} else {
			fprintf(g->f, "%g min", t / 60);
		}
		fputs("</text>\n", g->f);
	}
	char d[32];
	dur_text(d, sizeof d, g->dur);
	g->y += 34;
	fprintf(g->f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
		"class=\"n\">%s, %s recorded</text>\n", FIG_W - RIGHT,
		g->y - 4, g->clock0 >= 0 ? "clock time" : "from the start", d);
}

static const char *svg_style =
	"<style>.t{font:13px sans-serif;fill:#222}"
	".n{font:11px sans-serif;fill:#555}.bg{fill:#f6f6f6}"
	".sW{fill:#e6a23c}.sN{fill:#9ecae1}.sN3{fill:#08519c}.sU{fill:#bbb}"
	".hyp{fill:none;stroke:#333;stroke-width:1.5}"
	".swa{fill:none;stroke:#2c7f3f;stroke-width:1.2}"
	".ev{fill:#b3127a}.grid{stroke:#ccc;stroke-width:0.6}</style>\n";

/* The figure: tracks into a temporary buffer first, since the SVG's
   height is known only at the end. */
static void figure(FILE *out, const psg_result *r, int standalone)
{
	fig g = {NULL, axis_length(r), 8, clock_start(r), r};
	char *buf = NULL;
	size_t len = 0;
	if (!(g.f = open_memstream(&buf, &len)))
		die(EXIT_IO, "out of memory");
	track_calls(&g);
	track_hypnogram(&g);
	track_swa(&g);
	track_events(&g);
	axis(&g, 8);
	fclose(g.f);
	fprintf(out, "<svg %sviewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
		"height=\"%.0f\" role=\"img\" aria-label=\"the night\">\n",
		standalone ? "xmlns=\"http://www.w3.org/2000/svg\" " : "",
		FIG_W, g.y, FIG_W, g.y);
	fputs(svg_style, out);
	fwrite(buf, 1, len, out);
	fputs("</svg>\n", out);
	free(buf);
}

/* ---- the page --------------------------------------------------------- */

static void summary_table(FILE *f, const psg_result *r)
{
	fputs("<h2>Figures</h2>\n<table class=\"fig\"><tr><th>figure</th>"
	      "<th>value</th><th>unit</th></tr>\n", f);
	for (int i = 0; i < psg_result_nfigures(r); i++) {
		const psg_figure *x = psg_result_figure(r, i);
		fputs("<tr><td>", f);
		esc(f, x->name);
		if (isfinite(x->value))
			fprintf(f, "</td><td class=\"v\">%.4g</td><td>", x->value);
		else
			fputs("</td><td class=\"v\">n/a</td><td>", f);
		esc(f, x->unit);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

/* Channels grouped by role (the file's `role` column), else by kind. */
static void channels(FILE *f, const psg_result *r)
{
	const psg_table *t = psg_result_table(r, "channels");
	if (!t)
		return;
	const char *key = psg_table_column(t, "role") >= 0 ? "role" : "kind";
	fprintf(f, "<h2>Channels by %s</h2>\n<table class=\"ch\">\n", key);
	for (int64_t i = 0; i < t->nrows; i++) {
		const char *k = col_text(t, key, i);
		int64_t j = 0;
		while (j < i && strcmp(col_text(t, key, j), k))
			j++;
		if (j < i)
			continue;   /* this group is printed already */
		fputs("<tr><th>", f);
		esc(f, *k ? k : "(none)");
		fputs("</th><td>", f);
		for (int64_t m = i, first = 1; m < t->nrows; m++) {
			if (strcmp(col_text(t, key, m), k))
				continue;
			fputs(first ? "" : ", ", f);
			esc(f, col_text(t, "label", m));
			fprintf(f, " <span class=\"n\">%g Hz</span>",
				col_num(t, "rate_hz", m));
			first = 0;
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void provenance(FILE *f, const psg_result *r)
{
	static const char *const keys[] = {"source_file", "source_sha256",
		"start_time", "file_type", "software", "psgpipe_version",
		"schema_version"};
	fputs("<h2>Provenance</h2>\n<table class=\"ch\">\n", f);
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		fprintf(f, "<tr><th>%s</th><td><code>", keys[i]);
		esc(f, psg_result_attr(r, keys[i]));
		fputs("</code></td></tr>\n", f);
	}
	fprintf(f, "<tr><th>report</th><td><code>psg-report (psgpipe) %s"
		"</code></td></tr>\n</table>\n<details><summary>command "
		"history</summary><pre>", PSG_VERSION);
	for (int i = 0; i < psg_result_nhistory(r); i++) {
		esc(f, psg_result_history(r, i));
		fputc('\n', f);
	}
	fputs("</pre></details>\n", f);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static void page(FILE *f, const psg_result *r, const char *in)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset="
	      "\"utf-8\">\n<title>", f);
	esc(f, base_name(in));
	fputs(" - psgpipe</title>\n<style>body{font:14px sans-serif;margin:"
	      "16px;color:#222}svg{max-width:100%;height:auto}"
	      "table{border-collapse:collapse;margin:8px 0}td,th{padding:"
	      "2px 10px;text-align:left;border-bottom:1px solid #eee}"
	      ".v{text-align:right;font-variant-numeric:tabular-nums}"
	      ".n{color:#666;font-size:12px}.fig{float:left;margin-right:40px}"
	      "h2{font-size:16px;margin:18px 0 4px}.key span{display:inline-"
	      "block;width:12px;height:12px;margin:0 4px 0 12px}</style>\n"
	      "</head><body>\n<h1 style=\"font-size:20px\">", f);
	esc(f, base_name(psg_result_attr(r, "source_file")));
	fputs(" <span class=\"n\">", f);
	esc(f, psg_result_attr(r, "start_time"));
	char d[32];
	dur_text(d, sizeof d, axis_length(r));
	fprintf(f, ", %s</span></h1>\n", d);
	figure(f, r, 0);
	fputs("<p class=\"key n\">calls: <span style=\"background:#e6a23c"
	      "\"></span>W wake <span style=\"background:#9ecae1\"></span>N "
	      "sleep (not N3) <span style=\"background:#08519c\"></span>N3 "
	      "<span style=\"background:#bbb\"></span>? unusable; rows of "
	      "events: one mark per event, the count after the name</p>\n",
	      f);
	summary_table(f, r);
	channels(f, r);
	provenance(f, r);
	fputs("</body></html>\n", f);
}

/* ---- the cohort page ------------------------------------------------- */

/* The figures a cohort table shows first (psg-night's summary). */
static const char *const key_figs[] = {"recording_time", "total_sleep_time",
	"sleep_efficiency", "sleep_onset_latency", "waso", "arousal_index",
	"sws_percent", "lm_index", "plms_index", "twitch_index",
	"atonia_index"};
#define NKEY (sizeof key_figs / sizeof *key_figs)

static const psg_figure *find_figure(const psg_result *r, const char *name)
{
	for (int i = 0; i < psg_result_nfigures(r); i++)
		if (!strcmp(psg_result_figure(r, i)->name, name))
			return psg_result_figure(r, i);
	return NULL;
}

static size_t dir_len(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? (size_t)(s - p) : 0;
}

/* NIGHT.h5's page: NIGHT.html beside it, relative to the cohort page
   when both are in one directory. */
static void night_link(FILE *f, const char *night, const char *out)
{
	size_t n = strlen(night), d = dir_len(night);
	if (n > 3 && !strcmp(night + n - 3, ".h5"))
		n -= 3;
	const char *from = night;
	if (d == dir_len(out) && !strncmp(night, out, d))
		from = base_name(night);
	fputs("<a href=\"", f);
	for (const char *p = from; p < night + n; p++) {
		char c[2] = {*p, 0};
		esc(f, c);
	}
	fputs(".html\">", f);
	for (const char *p = base_name(night); p < night + n; p++) {
		char c[2] = {*p, 0};
		esc(f, c);
	}
	fputs("</a>", f);
}

typedef struct cohort {
	char **nights;
	int n;
	const char *out;
} cohort;

static void cohort_row(FILE *f, const char *night, const char *out,
		       char units[NKEY][PSG_UNIT_LEN])
{
	psg_result *r = open_night(night);
	fputs("<tr><td>", f);
	night_link(f, night, out);
	fputs("</td><td>", f);
	esc(f, psg_result_attr(r, "start_time"));
	fputs("</td>", f);
	for (size_t k = 0; k < NKEY; k++) {
		const psg_figure *g = find_figure(r, key_figs[k]);
		if (g && isfinite(g->value))
			fprintf(f, "<td class=\"v\">%.4g</td>", g->value);
		else
			fputs("<td class=\"v\">n/a</td>", f);
		if (g && !*units[k])
			snprintf(units[k], PSG_UNIT_LEN, "%s", g->unit);
	}
	fputs("</tr>\n", f);
	psg_result_close(r);
}

/* Rows first (into memory), the header after: it shows the units, known
   once the nights are read. */
static void cohort_page(FILE *f, const void *data)
{
	const cohort *c = data;
	char units[NKEY][PSG_UNIT_LEN] = {{0}};
	char *rows = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&rows, &len);
	if (!m)
		die(EXIT_IO, "out of memory");
	for (int i = 0; i < c->n; i++)
		cohort_row(m, c->nights[i], c->out, units);
	fclose(m);
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
		"charset=\"utf-8\">\n<title>cohort - psgpipe</title>\n"
		"<style>body{font:14px sans-serif;margin:16px}table{border-"
		"collapse:collapse}td,th{padding:2px 8px;border-bottom:1px "
		"solid #eee;text-align:left}.v{text-align:right}"
		"th span{color:#666;font-weight:normal}</style>\n</head><body>"
		"\n<h1 style=\"font-size:20px\">%d nights</h1>\n<table><tr>"
		"<th>night</th><th>start</th>", c->n);
	for (size_t k = 0; k < NKEY; k++) {
		fprintf(f, "<th class=\"v\">%s<br><span>", key_figs[k]);
		esc(f, units[k]);
		fputs("</span></th>", f);
	}
	fputs("</tr>\n", f);
	fwrite(rows, 1, len, f);
	fprintf(f, "</table>\n<p>Each night links to its page; every figure "
		"of every night is in the cohort table (psg-collect). "
		"psg-report (psgpipe) %s</p>\n</body></html>\n", PSG_VERSION);
	free(rows);
}

typedef struct job {
	const psg_result *r;
	const char *in;
} job;

static void write_page(FILE *f, const void *data)
{
	const job *j = data;
	page(f, j->r, j->in);
}

static void write_svg(FILE *f, const void *data)
{
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	figure(f, ((const job *)data)->r, 1);
}

int main(int argc, char **argv)
{
	opts o;
	stage_name = "psg-report";
	parse_args(argc, argv, &o);
	tmpout_handlers();
	atexit(tmpout_discard);
	if (o.cohort) {
		cohort c = {o.nights, o.nnights, o.out};
		for (int i = 0; i < o.nnights; i++)
			tmpout_input(o.nights[i]);   /* never over a night */
		write_atomic(o.out, cohort_page, &c);
		return 0;
	}
	job j = {open_night(o.in), o.in};
	write_atomic(o.out, o.svg ? write_svg : write_page, &j);
	psg_result_close((psg_result *)j.r);
	return 0;
}
