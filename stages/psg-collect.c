/*
 * psg-collect -- one cohort table from the /summary of many nights.
 *
 *   psg-collect -o cohort.h5 out/          cohort.h5 (/cohort) + cohort.csv
 *   psg-collect a.h5 b.h5 > cohort.csv     CSV on stdout
 *   psg-collect --long night.h5            night, name, value, unit per line
 *
 * A row per night: where it came from (file, source recording and its
 * SHA-256, software version, start time) and every figure of its /summary
 * (docs/hdf5.md), NaN where a night lacks one.  It reads nothing but each
 * file's root attributes and /summary, so thousands of nights take seconds;
 * memory holds one row per night, never anything of a night's length.
 * Outputs are written under temporary names and renamed when complete.
 */
#include "stage.h"
#include "tmpout.h"

#include <hdf5.h>

#include <dirent.h>
#include <sys/stat.h>

#define COHORT_VERSION "1.0"

/* ---- the table in memory ---------------------------------------------- */

/* The text columns, and the root attribute of a night each comes from. */
enum { S_NIGHT, S_FILE, S_SOURCE, S_SHA, S_VERSION, S_START, NSTR };
static const char *const str_col[NSTR] = {
	"night", "file", "source_file", "source_sha256", "psgpipe_version",
	"start_time"};
static const char *const str_attr[NSTR] = {
	NULL, NULL, "source_file", "source_sha256", "psgpipe_version",
	"start_time"};

/* The figures a sleep researcher tabulates come first, in this order
   (docs/hdf5.md); any other figure follows in the order first seen. */
static const char *const canon[] = {
	"recording_time", "sleep_onset_latency", "total_sleep_time",
	"sleep_efficiency", "waso", "awakenings", "awakening_index",
	"arousals", "arousal_index", "sws_minutes", "sws_percent",
	"sws_latency", "slow_wave_density", "lm_index", "plms_index",
	"plms_arousal_index", "plm_series_count", "spasm_count",
	"spasm_minutes", "spasm_intensity", "twitch_index", "rmma_index",
	"atonia_index", "rem_phasic_density", "hyp_source", "hyp_trt",
	"hyp_tst", "hyp_se", "hyp_sol", "hyp_waso", "hyp_rem_latency",
	"hyp_n1_pct", "hyp_n2_pct", "hyp_n3_pct", "hyp_rem_pct", "hyp_cycles"};
#define NCANON (int)(sizeof canon / sizeof *canon)

typedef struct column {
	char *link;     /* the figure's name in /summary */
	char *name;     /* the table's column: letters, digits and '_' */
	char *unit;     /* NULL until a night tells it */
	int rank;       /* canon index, else NCANON + order seen */
} column;

typedef struct row {
	char *s[NSTR];
	double *v;      /* by column number; columns past nv are NaN */
	int nv;
} row;

typedef struct table {
	column *col;
	int ncol;
	size_t capcol;
	row *rows;
	size_t nrows, caprows;
} table;

typedef struct opts {
	const char *out, *csv, *list;
	int long_form, skip_bad;
	char **inputs;
	int ninputs;
} opts;

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die(EXIT_IO, "out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	return strcpy(xmalloc(strlen(s) + 1), s);
}

/* A column name that R, MATLAB and pandas all accept as a field name:
   anything but letters, digits and '_' becomes '_' ("emg_baseline Leg L"
   -> "emg_baseline_Leg_L"); a clash with an earlier column gets "_2"... */
static char *field_name(const table *t, const char *link)
{
	size_t n = strlen(link);
	char *base = xmalloc(n + 2), *name = xmalloc(n + 16);
	for (size_t i = 0; i <= n; i++)
		base[i] = isalnum((unsigned char)link[i]) || !link[i] ?
			  link[i] : '_';
	if (!isalpha((unsigned char)base[0]))
		memmove(base + 1, base, n + 1), base[0] = 'x';
	strcpy(name, base);
	for (int k = 2, i = 0; i < t->ncol + NSTR; i++) {
		const char *used = i < NSTR ? str_col[i] : t->col[i - NSTR].name;
		if (!strcmp(name, used)) {
			snprintf(name, n + 16, "%s_%d", base, k++);
			i = -1;   /* rescan: the new name may be taken too */
		}
	}
	free(base);
	return name;
}

static int column_of(table *t, const char *link)
{
	for (int i = 0; i < t->ncol; i++)
		if (!strcmp(t->col[i].link, link))
			return i;
	t->col = grow(t->col, &t->capcol, (size_t)t->ncol, sizeof *t->col);
	column *c = &t->col[t->ncol];
	c->link = xstrdup(link);
	c->name = field_name(t, link);
	c->unit = NULL;
	c->rank = NCANON + t->ncol;
	for (int k = 0; k < NCANON; k++)
		if (!strcmp(canon[k], link))
			c->rank = k;
	return t->ncol++;
}

/* ---- reading a night ---------------------------------------------------- */

/* A string attribute as malloc'd text ("" when absent or not a string). */
static char *attr_text(hid_t obj, const char *name)
{
	char *out = NULL;
	if (H5Aexists(obj, name) <= 0)
		return xstrdup("");
	hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
	hid_t t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
	hid_t m = H5Tcopy(H5T_C_S1);
	if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
		H5Tset_cset(m, H5Tget_cset(t));   /* HDF5 won't convert */
		if (H5Tis_variable_str(t) > 0) {
			char *s = NULL;
			H5Tset_size(m, H5T_VARIABLE);
			if (H5Aread(a, m, &s) >= 0 && s)
				out = xstrdup(s);
			H5free_memory(s);
		} else {
			size_t n = H5Tget_size(t);
			out = calloc(1, n + 1);
			H5Tset_size(m, n + 1);
			if (!out || H5Aread(a, m, out) < 0)
				free(out), out = NULL;
		}
	}
	H5Tclose(m);
	if (t >= 0)
		H5Tclose(t);
	if (a >= 0)
		H5Aclose(a);
	return out ? out : xstrdup("");
}

typedef struct reading {
	table *t;
	row *r;
	hid_t summary;
} reading;

/* One attribute of /summary: a figure (a float64 scalar). */
static herr_t on_figure(hid_t g, const char *link, const H5A_info_t *info,
			void *data)
{
	reading *rd = data;
	double v;
	(void)info;
	hid_t a = H5Aopen(g, link, H5P_DEFAULT);
	hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
	int ok = sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1 &&
		 H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0;
	if (sp >= 0)
		H5Sclose(sp);
	if (a >= 0)
		H5Aclose(a);
	if (!ok)
		return 0;   /* not a figure: ignored, as readers must */
	int c = column_of(rd->t, link);
	row *r = rd->r;
	if (c >= r->nv) {
		r->v = realloc(r->v, (size_t)(c + 1) * sizeof *r->v);
		if (!r->v)
			die(EXIT_IO, "out of memory");
		while (r->nv <= c)
			r->v[r->nv++] = NAN;
	}
	r->v[c] = v;
	column *col = &rd->t->col[c];
	if (!col->unit && H5Lexists(g, link, H5P_DEFAULT) > 0) {
		hid_t d = H5Dopen2(g, link, H5P_DEFAULT);
		if (d >= 0) {
			col->unit = attr_text(d, "unit");
			H5Dclose(d);
		}
	}
	return 0;
}

/* The night's name: its file name without the directory and ".h5". */
static char *night_name(const char *path)
{
	const char *b = strrchr(path, '/');
	char *s = xstrdup(b ? b + 1 : path);
	size_t n = strlen(s);
	if (n > 3 && !strcasecmp(s + n - 3, ".h5"))
		s[n - 3] = '\0';
	return s;
}

/* Reads one night into a new row; 0, or an exit code with a message in
   why. */
static int read_night(table *t, const char *path, char *why, size_t len)
{
	if (access(path, R_OK)) {
		snprintf(why, len, "%s", strerror(errno));
		return EXIT_IO;
	}
	if (H5Fis_hdf5(path) <= 0) {
		snprintf(why, len, "not an HDF5 file");
		return EXIT_IO;
	}
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (f < 0) {
		snprintf(why, len, "cannot open the HDF5 file");
		return EXIT_IO;
	}
	char *v = attr_text(f, "schema_version");
	int st = psg_schema_check(v);
	hid_t g = !st && H5Lexists(f, "summary", H5P_DEFAULT) > 0 ?
		  H5Gopen2(f, "summary", H5P_DEFAULT) : H5I_INVALID_HID;
	if (g < 0) {
		H5Fclose(f);
		if (st == PSG_ERR_VERSION)
			snprintf(why, len, "schema %s, this psgpipe reads 1.x "
				 "and 2.x", v);
		else
			snprintf(why, len, "not a psgpipe night (no %s)",
				 st ? "schema_version" : "/summary");
		free(v);
		return EXIT_UNSUITABLE;
	}
	free(v);
	t->rows = grow(t->rows, &t->caprows, t->nrows, sizeof *t->rows);
	row *r = &t->rows[t->nrows];
	memset(r, 0, sizeof *r);
	r->s[S_NIGHT] = night_name(path);
	r->s[S_FILE] = xstrdup(path);
	for (int i = S_SOURCE; i < NSTR; i++)
		r->s[i] = attr_text(f, str_attr[i]);
	reading rd = {t, r, g};
	hsize_t idx = 0;
	herr_t e = H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, &idx, on_figure,
			       &rd);
	H5Gclose(g);
	H5Fclose(f);
	if (e < 0) {   /* no half-read night in the table (--skip-bad) */
		for (int i = 0; i < NSTR; i++)
			free(r->s[i]);
		free(r->v);
		snprintf(why, len, "cannot read /summary");
		return EXIT_IO;
	}
	t->nrows++;
	return 0;
}

/* ---- finding the nights ------------------------------------------------ */

typedef struct paths {
	char **v;
	size_t n, cap;
} paths;

static void add_path(paths *p, const char *s)
{
	p->v = grow(p->v, &p->cap, p->n, sizeof *p->v);
	p->v[p->n++] = xstrdup(s);
}

/* A night named on the command line or in the list is an input that no
   output may replace (tmpout.h); only what a directory scan finds is
   left out when it is the output (find_nights): the table of an earlier
   run in the same tree. */
static void add_named(paths *p, const char *s)
{
	add_path(p, s);
	tmpout_input(s);
}

static int ends_h5(const char *s)
{
	size_t n = strlen(s);
	return n > 3 && !strcasecmp(s + n - 3, ".h5");
}

/* Every *.h5 under dir, depth first (a cohort's tree of subjects and
   sessions); hidden entries are skipped. */
static void scan_dir(paths *p, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		die(EXIT_IO, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		size_t n = strlen(dir) + strlen(e->d_name) + 2;
		char *path = xmalloc(n);
		snprintf(path, n, "%s/%s", dir, e->d_name);
		if (stat(path, &st))
			die(EXIT_IO, "%s: %s", path, strerror(errno));
		if (S_ISDIR(st.st_mode))
			scan_dir(p, path);
		else if (ends_h5(e->d_name))
			add_path(p, path);
		free(path);
	}
	closedir(d);
}

static void read_list(paths *p, const char *list)
{
	FILE *f = strcmp(list, "-") ? fopen(list, "r") : stdin;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	if (!f)
		die(EXIT_IO, "%s: %s", list, strerror(errno));
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n > 0 && line[0] != '#')
			add_named(p, line);
	}
	if (ferror(f))
		die(EXIT_IO, "%s: %s", list, strerror(errno));
	free(line);
	if (f != stdin)
		fclose(f);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The nights, sorted and without our own outputs (a cohort written into
   the directory it collects). */
static paths find_nights(const opts *o)
{
	paths p = {0};
	struct stat out;
	int have_out = o->out && !stat(o->out, &out);
	for (int i = 0; i < o->ninputs; i++) {
		struct stat st;
		if (stat(o->inputs[i], &st))
			die(EXIT_IO, "%s: %s", o->inputs[i], strerror(errno));
		if (S_ISDIR(st.st_mode))
			scan_dir(&p, o->inputs[i]);
		else
			add_named(&p, o->inputs[i]);
	}
	if (o->list)
		read_list(&p, o->list);
	sort_n(p.v, p.n, sizeof *p.v, by_name);
	size_t k = 0;
	for (size_t i = 0; i < p.n; i++) {
		struct stat st;
		char why[PATH_MAX + 64];
		if (have_out && !stat(p.v[i], &st) && st.st_dev == out.st_dev &&
		    st.st_ino == out.st_ino && !tmpout_check(p.v[i], why,
							     sizeof why))
			free(p.v[i]);
		else
			p.v[k++] = p.v[i];
	}
	p.n = k;
	return p;
}

/* ---- writing ------------------------------------------------------------ */

static int by_rank(const void *a, const void *b)
{
	const column *x = a, *y = b;
	return (x->rank > y->rank) - (x->rank < y->rank);
}

/* Columns in their final order; rows' values follow through `perm`. */
static int *order_columns(table *t)
{
	int *perm = xmalloc(sizeof *perm * (size_t)(t->ncol + 1));
	column *c = xmalloc(sizeof *c * (size_t)(t->ncol + 1));
	if (!t->ncol) {   /* nights without figures; t->col is NULL */
		free(c);
		return perm;
	}
	memcpy(c, t->col, sizeof *c * (size_t)t->ncol);
	sort_n(c, (size_t)t->ncol, sizeof *c, by_rank);
	for (int i = 0; i < t->ncol; i++)
		for (int j = 0; j < t->ncol; j++)
			if (c[i].link == t->col[j].link)
				perm[i] = j;
	memcpy(t->col, c, sizeof *c * (size_t)t->ncol);
	free(c);
	return perm;
}

static double value(const row *r, int col)
{
	return col < r->nv ? r->v[col] : NAN;
}

/* Shortest text that reads back as the same double. */
static void fmt_num(char *buf, size_t n, double v)
{
	for (int digits = 15; digits <= 17; digits++) {
		snprintf(buf, n, "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			break;
	}
}

/* RFC 4180: quoted when it holds a comma, quote or line break. */
static void csv_text(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* NaN is an empty field: R reads it as NA, pandas and MATLAB as NaN. */
static void write_csv(FILE *f, const table *t, const int *perm)
{
	char num[64];
	for (int i = 0; i < NSTR + t->ncol; i++) {
		fputs(i ? "," : "", f);
		csv_text(f, i < NSTR ? str_col[i] : t->col[i - NSTR].name);
	}
	fputc('\n', f);
	for (size_t r = 0; r < t->nrows; r++) {
		for (int i = 0; i < NSTR; i++) {
			fputs(i ? "," : "", f);
			csv_text(f, t->rows[r].s[i]);
		}
		for (int i = 0; i < t->ncol; i++) {
			double v = value(&t->rows[r], perm[i]);
			fmt_num(num, sizeof num, v);
			fprintf(f, ",%s", isnan(v) ? "" : num);
		}
		fputc('\n', f);
	}
}

/* night, name, value, unit: a long table, one figure a line (psg-night's
   summary; R's and pandas' favourite shape). */
static void write_long(FILE *f, const table *t, const int *perm)
{
	char num[64];
	fputs("night\tname\tvalue\tunit\n", f);
	for (size_t r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncol; i++) {
			double v = value(&t->rows[r], perm[i]);
			fmt_num(num, sizeof num, v);
			fprintf(f, "%s\t%s\t%s\t%s\n", t->rows[r].s[S_NIGHT],
				t->col[i].link, isnan(v) ? "NaN" : num,
				t->col[i].unit ? t->col[i].unit : "");
		}
}

static int write_csv_file(const char *out, const table *t, const int *perm,
			   char *err, size_t len)
{
	const char *tmp = tmpout_make(1, out, 1, err, len);
	FILE *f = tmp ? fopen(tmp, "w") : NULL;
	if (!f) {
		if (tmp)
			snprintf(err, len, "%s: %s", out, strerror(errno));
		return -1;
	}
	write_csv(f, t, perm);
	if (ferror(f) | fclose(f)) {
		snprintf(err, len, "%s: cannot write: %s", out,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the HDF5 cohort ---------------------------------------------------- */

static hid_t str_type(void)
{
	hid_t s = H5Tcopy(H5T_C_S1);
	H5Tset_size(s, H5T_VARIABLE);
	H5Tset_cset(s, H5T_CSET_UTF8);
	return s;
}

static int put_attr_text(hid_t obj, const char *name, const char *text)
{
	hid_t s = str_type(), sp = H5Screate(H5S_SCALAR);
	hid_t a = H5Acreate2(obj, name, s, sp, H5P_DEFAULT, H5P_DEFAULT);
	int r = a < 0 || H5Awrite(a, s, &text) < 0 ? -1 : 0;
	if (a >= 0)
		H5Aclose(a);
	H5Sclose(sp);
	H5Tclose(s);
	return r;
}

/* The compound type: text columns as variable-length UTF-8, figures as
   float64; memory and file layouts are the same packed row. */
static hid_t cohort_type(const table *t, size_t *rowsize)
{
	size_t off = 0;
	hid_t s = str_type();
	*rowsize = NSTR * sizeof(char *) + (size_t)t->ncol * sizeof(double);
	hid_t c = H5Tcreate(H5T_COMPOUND, *rowsize);
	for (int i = 0; i < NSTR; i++, off += sizeof(char *))
		H5Tinsert(c, str_col[i], off, s);
	for (int i = 0; i < t->ncol; i++, off += sizeof(double))
		H5Tinsert(c, t->col[i].name, off, H5T_NATIVE_DOUBLE);
	H5Tclose(s);
	return c;
}

static unsigned char *cohort_rows(const table *t, const int *perm,
				  size_t rowsize)
{
	unsigned char *buf = xmalloc(rowsize * (t->nrows ? t->nrows : 1));
	for (size_t r = 0; r < t->nrows; r++) {
		unsigned char *p = buf + r * rowsize;
		memcpy(p, t->rows[r].s, sizeof(char *) * NSTR);
		for (int i = 0; i < t->ncol; i++) {
			double v = value(&t->rows[r], perm[i]);
			memcpy(p + NSTR * sizeof(char *) + i * sizeof v, &v,
			       sizeof v);
		}
	}
	return buf;
}

static int cohort_attrs(hid_t f, hid_t d, const table *t)
{
	char name[1200];
	int r = put_attr_text(f, "cohort_version", COHORT_VERSION) |
		put_attr_text(f, "psgpipe_version", PSG_VERSION);
	for (int i = 0; i < t->ncol && !r; i++) {
		snprintf(name, sizeof name, "%s_unit", t->col[i].name);
		r = put_attr_text(d, name, t->col[i].unit ? t->col[i].unit :
				  "");
	}
	return r;
}

static int write_h5(const char *out, const table *t, const int *perm,
		    char *err, size_t len)
{
	size_t rowsize;
	hsize_t n = t->nrows;
	const char *tmp = tmpout_make(0, out, 0, err, len);
	if (!tmp)
		return -1;
	hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	if (f < 0) {
		snprintf(err, len, "%s: cannot create the HDF5 file", out);
		return -1;
	}
	hid_t type = cohort_type(t, &rowsize);
	hid_t sp = H5Screate_simple(1, &n, NULL);
	hid_t d = type < 0 ? type : H5Dcreate2(f, "cohort", type, sp,
					       H5P_DEFAULT, H5P_DEFAULT,
					       H5P_DEFAULT);
	unsigned char *rows = cohort_rows(t, perm, rowsize);
	int r = d < 0 || (n && H5Dwrite(d, type, H5S_ALL, H5S_ALL,
					H5P_DEFAULT, rows) < 0) ||
		cohort_attrs(f, d, t);
	free(rows);
	if (d >= 0)
		H5Dclose(d);
	H5Sclose(sp);
	if (type >= 0)
		H5Tclose(type);
	if (H5Fclose(f) < 0 || r) {
		snprintf(err, len, "%s: cannot write the cohort table (%d "
			 "columns; a full disk?)", out, NSTR + t->ncol);
		return -1;
	}
	return 0;
}

/* ---- command line ------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: psg-collect [options] NIGHT.h5|DIR... > cohort.csv\n"
	      "       psg-collect -o COHORT.h5 [--csv FILE] NIGHT.h5|DIR...\n"
	      "One cohort table from the /summary of psgpipe nights: a row per "
	      "night\n(file, source recording and its SHA-256, software "
	      "version, every figure).\n\n"
	      "  -o, --output FILE.h5  the table as HDF5 (/cohort, a compound "
	      "dataset),\n"
	      "                        and as CSV beside it (FILE.csv)\n"
	      "      --csv FILE        the CSV here instead ('-': stdout)\n"
	      "  -l, --list FILE       also the nights listed in FILE, one "
	      "path a line\n"
	      "                        ('-': standard input)\n"
	      "      --long            night, name, value, unit per line "
	      "(TSV) on stdout\n"
	      "      --skip-bad        warn about an unreadable night and go "
	      "on (default:\n"
	      "                        stop, and write nothing)\n"
	      "      --version         the version\n"
	      "  -h, --help            this help\n\n"
	      "Directories are searched for *.h5, depth first. Missing "
	      "figures are NaN\n(an empty CSV field). Schema: docs/hdf5.md, "
	      "\"The cohort table\".\n"
	      "Exit: 0 ok, 1 usage, 2 unreadable night or write error, 3 a "
	      "file that is\nnot a psgpipe night, or no night at all.\n", f);
}

static char *csv_beside(const char *out)
{
	size_t n = strlen(out);
	char *s = xmalloc(n + 5);
	strcpy(s, out);
	if (ends_h5(s))
		s[n - 3] = '\0';
	strcat(s, ".csv");
	return s;
}

static void parse_args(int argc, char **argv, opts *o)
{
	static const struct option lo[] = {
		{"output", required_argument, NULL, 'o'},
		{"csv", required_argument, NULL, 'C'},
		{"list", required_argument, NULL, 'l'},
		{"long", no_argument, NULL, 'L'},
		{"skip-bad", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	int c;
	memset(o, 0, sizeof *o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:l:h", lo, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case 'C': o->csv = optarg; break;
		case 'l': o->list = optarg; break;
		case 'L': o->long_form = 1; break;
		case 'S': o->skip_bad = 1; break;
		case 'h': usage(stdout); exit(0);
		default: bad_option(c, argv);
		}
	}
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
	if (!o->ninputs && !o->list)
		die(EXIT_USAGE, "no nights given (see psg-collect --help)");
	if (o->long_form && (o->out || o->csv))
		die(EXIT_USAGE, "--long writes to stdout; not with -o or "
		    "--csv");
	if (o->out && !ends_h5(o->out))
		die(EXIT_USAGE, "-o: an HDF5 file name ending in .h5, not "
		    "'%s'", o->out);
}

/* read_night in crash_probe's child, which reads every night in turn:
   into a table of its own, kept from night to night as read_all keeps
   the real one (a fresh table per night names every column anew: 3x the
   parent's work). */
static void probe_night(void *path)
{
	static table t;
	char why[512];
	read_night(&t, path, why, sizeof why);
}

static void read_all(table *t, const paths *p, const opts *o)
{
	char why[512], sig[128];
	crash_prober probe;
	crash_probe_start(&probe, probe_night, (void *const *)p->v, p->n);
	for (size_t i = 0; i < p->n; i++) {
		int code = 0;
		if (crash_probe_item(&probe, i, sig, sizeof sig)) {
			snprintf(why, sizeof why, "the HDF5 library crashed "
				 "reading it (%s): a corrupt file", sig);
			code = EXIT_IO;
		} else
			code = read_night(t, p->v[i], why, sizeof why);
		if (code && !o->skip_bad)
			die(code, "%s: %s; nothing written", p->v[i], why);
		if (code)
			warn("%s: %s; skipped", p->v[i], why);
	}
	crash_probe_end(&probe);
	if (!t->nrows)
		die(EXIT_UNSUITABLE, "no psgpipe night found");
}

/* Both files are written in full before either is renamed into place:
   a full disk leaves neither (the exit handler removes the temporary
   files), not a new CSV beside an old HDF5 table. */
static void write_all(const table *t, const int *perm, const opts *o)
{
	char err[PATH_MAX + 256];
	char *csv = o->csv ? NULL : o->out ? csv_beside(o->out) : NULL;
	const char *to = o->csv ? o->csv : csv;
	int csv_file = !o->long_form && to && strcmp(to, "-");
	if (o->long_form)
		write_long(stdout, t, perm);
	else if (!csv_file)
		write_csv(stdout, t, perm);
	else if (write_csv_file(to, t, perm, err, sizeof err))
		die(EXIT_IO, "%s", err);
	if (o->out && write_h5(o->out, t, perm, err, sizeof err))
		die(EXIT_IO, "%s", err);
	if (fflush(stdout) || ferror(stdout))
		die(EXIT_IO, "standard output: %s", strerror(errno));
	if ((o->out && tmpout_commit(0, o->out, err, sizeof err)) ||
	    (csv_file && tmpout_commit(1, to, err, sizeof err)))
		die(EXIT_IO, "%s", err);
	free(csv);
}

static void table_free(table *t)
{
	for (int i = 0; i < t->ncol; i++) {
		free(t->col[i].link);
		free(t->col[i].name);
		free(t->col[i].unit);
	}
	for (size_t r = 0; r < t->nrows; r++) {
		for (int i = 0; i < NSTR; i++)
			free(t->rows[r].s[i]);
		free(t->rows[r].v);
	}
	free(t->col);
	free(t->rows);
}

int main(int argc, char **argv)
{
	opts o;
	table t = {0};
	stage_name = "psg-collect";
	parse_args(argc, argv, &o);
	/* As in psg-h5: HDF5 1.10 can crash in its exit handler after a
	   failed close (a full disk), so none; and quiet, we word errors. */
	H5dont_atexit();
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	tmpout_handlers();
	atexit(tmpout_discard);
	paths p = find_nights(&o);
	for (size_t i = 0; i < p.n; i++)
		tmpout_input(p.v[i]);
	if (o.list)
		tmpout_input(o.list);
	read_all(&t, &p, &o);
	int *perm = order_columns(&t);
	write_all(&t, perm, &o);
	free(perm);
	table_free(&t);
	for (size_t i = 0; i < p.n; i++)
		free(p.v[i]);
	free(p.v);
	H5close();
	return 0;
}
