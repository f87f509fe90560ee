/*
 * result.c -- reads a psgpipe result file (psg.h, "reading result files";
 * the schema is docs/hdf5.md) for psg-export and psg-report.
 *
 * Everything but /signals and /spectra is read at open: those two grow
 * with the samples, the rest with the events and epochs (a 24-h night is
 * a few MB).  Tables are compound datasets read one member at a time
 * through a one-member memory type, so the reader needs no list of
 * columns: a column a later minor version adds (schema rule) comes along,
 * and one of a class it cannot show (arrays, nested compounds) is left
 * out rather than failing the file.  HDF5's error stack is silenced, so
 * the library prints nothing; failures come back as statuses.
 */
#include "internal.h"

#include <hdf5.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rattr {
	char *name, *text;
	double num;
} rattr;

typedef struct rtable {
	psg_table t;              /* what callers see; col points into cols */
	psg_column *cols;
} rtable;

struct psg_result {
	rattr *attr;
	int nattr;
	char **history;
	int nhistory;
	rtable *fixed[3];         /* channels, segments, epochs */
	rtable **events;
	int nevents;
	psg_figure *fig;
	int nfig;
	int major;                /* schema major version */
	char err[512];
};

static const char *const fixed_names[3] = {"channels", "segments",
					   "epochs"};
static _Thread_local char open_err[512];

static int fail(psg_result *r, int st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(psg_result *r, int st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
	psg__one_line(r->err);
	return st;
}

static char *dup_text(const char *s)
{
	if (!s)
		s = "";
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

/* A string attribute or dataset element type for reading: variable-length
   when the file's is, else fixed with room for a NUL; HDF5 converts
   neither between the two nor between character sets. */
static hid_t string_mem_type(hid_t ft)
{
	hid_t m = H5Tcopy(H5T_C_S1);
	H5Tset_cset(m, H5Tget_cset(ft));
	if (H5Tis_variable_str(ft) > 0)
		H5Tset_size(m, H5T_VARIABLE);
	else
		H5Tset_size(m, H5Tget_size(ft) + 1);
	return m;
}

/* ---- attributes ----------------------------------------------------- */

/* Text of a scalar string attribute of obj, "" if absent; malloc'd. */
static char *attr_string(hid_t obj, const char *name)
{
	char *out = NULL;
	if (H5Aexists(obj, name) <= 0)
		return dup_text("");
	hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
	hid_t t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
	if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
		hid_t m = string_mem_type(t);
		if (H5Tis_variable_str(t) > 0) {
			char *s = NULL;
			if (H5Aread(a, m, &s) >= 0)
				out = dup_text(s);
			H5free_memory(s);
		} else if ((out = calloc(1, H5Tget_size(m))) &&
			   H5Aread(a, m, out) < 0) {
			free(out);
			out = NULL;
		}
		H5Tclose(m);
	}
	if (t >= 0)
		H5Tclose(t);
	if (a >= 0)
		H5Aclose(a);
	return out ? out : dup_text("");
}

/* The history attribute: a 1-D array of variable-length strings. */
static int read_history(psg_result *r, hid_t a)
{
	hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
	hssize_t n = H5Sget_simple_extent_npoints(sp);
	int st = PSG_OK;
	if (H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0 &&
	    n > 0) {
		hid_t m = string_mem_type(t);
		char **s = calloc((size_t)n, sizeof *s);
		r->history = calloc((size_t)n, sizeof *r->history);
		if (!s || !r->history)
			st = PSG_ERR_NOMEM;
		else if (H5Aread(a, m, s) >= 0) {
			for (hssize_t i = 0; i < n; i++)
				r->history[i] = dup_text(s[i]);
			r->nhistory = (int)n;
			H5Dvlen_reclaim(m, sp, H5P_DEFAULT, s);
		}
		free(s);
		H5Tclose(m);
	}
	H5Sclose(sp);
	H5Tclose(t);
	return st;
}

static herr_t on_root_attr(hid_t obj, const char *name,
			   const H5A_info_t *info, void *data)
{
	(void)info;
	psg_result *r = data;
	hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
	if (a < 0)
		return 0;
	hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
	H5T_class_t cls = H5Tget_class(t);
	hssize_t n = H5Sget_simple_extent_npoints(sp);
	rattr *x = realloc(r->attr, (size_t)(r->nattr + 1) * sizeof *x);
	herr_t ret = 0;
	if (!x) {
		ret = -1;
	} else if (!strcmp(name, "history")) {
		r->attr = x;
		ret = read_history(r, a) ? -1 : 0;
	} else {
		r->attr = x;
		x = &r->attr[r->nattr];
		x->name = dup_text(name);
		x->num = NAN;
		x->text = NULL;
		char buf[40];
		if ((cls == H5T_FLOAT || cls == H5T_INTEGER) && n == 1 &&
		    H5Aread(a, H5T_NATIVE_DOUBLE, &x->num) >= 0) {
			snprintf(buf, sizeof buf, "%.17g", x->num);
			x->text = dup_text(buf);
		} else if (cls == H5T_STRING && n == 1) {
			x->text = attr_string(obj, name);
		}
		if (!x->text)
			x->text = dup_text("");
		if (x->name && x->text)
			r->nattr++;
		else
			ret = -1;
	}
	H5Sclose(sp);
	H5Tclose(t);
	H5Aclose(a);
	return ret;
}

/* ---- tables --------------------------------------------------------- */

static void free_column(psg_column *c, int64_t nrows)
{
	free((char *)c->name);
	free((char *)c->unit);
	free((char *)c->desc);
	free((double *)c->num);
	if (c->text)
		for (int64_t i = 0; i < nrows; i++)
			free((char *)c->text[i]);
	free((char **)c->text);
}

static void free_table(rtable *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->t.ncols; i++)
		free_column(&t->cols[i], t->t.nrows);
	free(t->cols);
	free((char *)t->t.name);
	free((char *)t->t.type);
	free(t);
}

/* A memory compound of one member `name` of type m. */
static hid_t one_member(const char *name, hid_t m)
{
	hid_t c = H5Tcreate(H5T_COMPOUND, H5Tget_size(m));
	H5Tinsert(c, name, 0, m);
	return c;
}

static int read_numbers(hid_t d, const char *name, psg_column *c, size_t n)
{
	double *v = malloc((n ? n : 1) * sizeof *v);
	hid_t m = one_member(name, H5T_NATIVE_DOUBLE);
	int ok = v && (n == 0 || H5Dread(d, m, H5S_ALL, H5S_ALL,
					 H5P_DEFAULT, v) >= 0);
	H5Tclose(m);
	if (!ok) {
		free(v);
		return v ? PSG_ERR_FORMAT : PSG_ERR_NOMEM;
	}
	c->num = v;
	return PSG_OK;
}

/* Strings: read into an array of char* (variable) or of fixed-width
   cells, then copied so the column owns one malloc'd string per row. */
static int read_strings(hid_t d, hid_t ft, const char *name, psg_column *c,
			size_t n)
{
	hid_t m = string_mem_type(ft), mc = one_member(name, m);
	size_t w = H5Tget_size(m);
	int var = H5Tis_variable_str(ft) > 0;
	char *buf = calloc(n ? n : 1, w);
	char **text = calloc(n ? n : 1, sizeof *text);
	int st = buf && text ? PSG_OK : PSG_ERR_NOMEM;
	if (!st && n && H5Dread(d, mc, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
		st = PSG_ERR_FORMAT;
	for (size_t i = 0; !st && i < n; i++) {
		const char *s = var ? ((char **)(void *)buf)[i] : buf + i * w;
		if (!(text[i] = dup_text(s)))
			st = PSG_ERR_NOMEM;
	}
	if (var && n && buf) {
		hid_t sp = H5Dget_space(d);
		H5Dvlen_reclaim(mc, sp, H5P_DEFAULT, buf);
		H5Sclose(sp);
	}
	free(buf);
	H5Tclose(mc);
	H5Tclose(m);
	c->text = (const char *const *)text;
	return st;
}

/* An enum column becomes the names of its values (issue: categorical
   columns are text); a value without a name becomes its number. */
static int read_enum(hid_t d, hid_t ft, const char *name, psg_column *c,
		     size_t n)
{
	hid_t m = H5Tget_native_type(ft, H5T_DIR_ASCEND);
	hid_t mc = one_member(name, m);
	size_t w = H5Tget_size(m);
	unsigned char *buf = calloc(n ? n : 1, w);
	char **text = calloc(n ? n : 1, sizeof *text);
	int st = buf && text ? PSG_OK : PSG_ERR_NOMEM;
	if (!st && n && H5Dread(d, mc, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
		st = PSG_ERR_FORMAT;
	for (size_t i = 0; !st && i < n; i++) {
		char nm[256];
		if (H5Tenum_nameof(m, buf + i * w, nm, sizeof nm) < 0) {
			long long v = 0;
			memcpy(&v, buf + i * w, w < sizeof v ? w : sizeof v);
			snprintf(nm, sizeof nm, "%lld", v);
		}
		if (!(text[i] = dup_text(nm)))
			st = PSG_ERR_NOMEM;
	}
	free(buf);
	H5Tclose(mc);
	H5Tclose(m);
	c->text = (const char *const *)text;
	return st;
}

/* Column units and descriptions: the table's "<col>_unit" and
   "<col>_description" attributes (docs/hdf5.md). */
static int column_meta(hid_t d, psg_column *c)
{
	char key[PSG_LABEL_LEN + 32];
	snprintf(key, sizeof key, "%s_unit", c->name);
	c->unit = attr_string(d, key);
	snprintf(key, sizeof key, "%s_description", c->name);
	c->desc = attr_string(d, key);
	return c->unit && c->desc ? PSG_OK : PSG_ERR_NOMEM;
}

/* Reads member i of compound ft into c; 1 when the member's class is
   one we do not show (skipped). */
static int read_member(hid_t d, hid_t ft, int i, psg_column *c, size_t n)
{
	char *name = H5Tget_member_name(ft, (unsigned)i);
	hid_t mt = H5Tget_member_type(ft, (unsigned)i);
	H5T_class_t cls = H5Tget_class(mt);
	int st;
	c->name = dup_text(name);
	if (!c->name)
		st = PSG_ERR_NOMEM;
	else if (cls == H5T_INTEGER || cls == H5T_FLOAT)
		st = read_numbers(d, name, c, n);
	else if (cls == H5T_STRING)
		st = (c->is_text = 1, read_strings(d, mt, name, c, n));
	else if (cls == H5T_ENUM)
		st = (c->is_text = 1, read_enum(d, mt, name, c, n));
	else
		st = 1;
	if (!st)
		st = column_meta(d, c);
	H5free_memory(name);
	H5Tclose(mt);
	return st;
}

/* A 1.x file stores a category as its code (coded.c): the column
   becomes the names that a 2.x file stores, so callers see one form. */
static int name_codes(psg_column *c, const char *table, int64_t n)
{
	char **text = calloc(n ? (size_t)n : 1, sizeof *text);
	for (int64_t i = 0; text && i < n; i++) {
		char num[32];
		const char *s = psg_coded_name(table, c->name, c->num[i]);
		if (!s)
			snprintf(num, sizeof num, "%.6g", c->num[i]);
		if (!(text[i] = dup_text(s ? s : num))) {
			while (i--)
				free(text[i]);
			free(text);
			return PSG_ERR_NOMEM;
		}
	}
	if (!text)
		return PSG_ERR_NOMEM;
	free((double *)c->num);
	c->num = NULL;
	c->text = (const char *const *)text;
	c->is_text = 1;
	return PSG_OK;
}

static int read_columns(psg_result *r, hid_t d, rtable *t)
{
	hid_t ft = H5Dget_type(d);
	int nm = H5Tget_class(ft) == H5T_COMPOUND ? H5Tget_nmembers(ft) : -1;
	int st = nm < 0 ? fail(r, PSG_ERR_FORMAT, "/%s is not a table",
			       t->t.name) : PSG_OK;
	if (!st && !(t->cols = calloc(nm ? (size_t)nm : 1, sizeof *t->cols)))
		st = PSG_ERR_NOMEM;
	for (int i = 0; !st && i < nm; i++) {
		psg_column *c = &t->cols[t->t.ncols];
		int s = read_member(d, ft, i, c, (size_t)t->t.nrows);
		if (s == 1) {
			free_column(c, 0);
			memset(c, 0, sizeof *c);
		} else {
			t->t.ncols++;
			if (!s && r->major == 1 && !c->is_text &&
			    psg_coded_column(t->t.type, c->name))
				s = name_codes(c, t->t.type, t->t.nrows);
			if (s)
				st = fail(r, s, "/%s: cannot read column %s",
					  t->t.name, c->name ? c->name : "?");
		}
	}
	H5Tclose(ft);
	t->t.col = t->cols;
	return st;
}

/* The table at `path` under loc; *out NULL when there is none. */
static int read_table(psg_result *r, hid_t loc, const char *path,
		      const char *name, rtable **out)
{
	*out = NULL;
	if (H5Lexists(loc, path, H5P_DEFAULT) <= 0)
		return PSG_OK;
	hid_t d = H5Dopen2(loc, path, H5P_DEFAULT);
	if (d < 0)
		return fail(r, PSG_ERR_FORMAT, "cannot open /%s", path);
	rtable *t = calloc(1, sizeof *t);
	hid_t sp = H5Dget_space(d);
	hssize_t n = H5Sget_simple_extent_npoints(sp);
	int st = t ? PSG_OK : PSG_ERR_NOMEM;
	if (!st) {
		t->t.nrows = n > 0 ? n : 0;
		t->t.name = dup_text(name);
		char *ty = attr_string(d, "type");
		t->t.type = ty && *ty ? ty : dup_text(name);
		if (ty && !*ty)
			free(ty);
		st = t->t.name && t->t.type ? read_columns(r, d, t)
					    : PSG_ERR_NOMEM;
	}
	H5Sclose(sp);
	H5Dclose(d);
	if (st)
		free_table(t);
	else
		*out = t;
	return st;
}

typedef struct walk {
	psg_result *r;
	int st;
} walk;

static herr_t on_event(hid_t g, const char *name, const H5L_info_t *info,
		       void *data)
{
	(void)info;
	walk *w = data;
	rtable *t;
	rtable **ev = realloc(w->r->events,
			      (size_t)(w->r->nevents + 1) * sizeof *ev);
	if (!ev)
		return w->st = PSG_ERR_NOMEM, -1;
	w->r->events = ev;
	if ((w->st = read_table(w->r, g, name, name, &t)))
		return -1;
	if (t)
		ev[w->r->nevents++] = t;
	return 0;
}

/* Calls fn on every link of group /name (in name order), if there is one. */
static int walk_group(psg_result *r, hid_t f, const char *name,
		      H5L_iterate_t fn)
{
	if (H5Lexists(f, name, H5P_DEFAULT) <= 0)
		return PSG_OK;
	hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
	walk w = {r, PSG_OK};
	hsize_t idx = 0;
	if (g < 0)
		return fail(r, PSG_ERR_FORMAT, "cannot open /%s", name);
	if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, fn, &w) < 0 &&
	    !w.st)
		w.st = fail(r, PSG_ERR_FORMAT, "cannot list /%s", name);
	H5Gclose(g);
	return w.st;
}

/* ---- /summary ------------------------------------------------------- */

static herr_t on_figure(hid_t g, const char *link, const H5L_info_t *info,
			void *data)
{
	(void)info;
	walk *w = data;
	psg_result *r = w->r;
	H5O_info_t oi;
	if (H5Oget_info_by_name(g, link, &oi, H5P_DEFAULT) < 0 ||
	    oi.type != H5O_TYPE_DATASET)
		return 0;
	hid_t d = H5Dopen2(g, link, H5P_DEFAULT);
	double v = NAN;
	if (d < 0 || H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL,
			     H5P_DEFAULT, &v) < 0) {
		if (d >= 0)
			H5Dclose(d);
		return 0;             /* not a scalar figure: not ours */
	}
	psg_figure *x = realloc(r->fig, (size_t)(r->nfig + 1) * sizeof *x);
	if (!x) {
		H5Dclose(d);
		return w->st = PSG_ERR_NOMEM, -1;
	}
	r->fig = x;
	x = &r->fig[r->nfig];
	char *name = attr_string(d, "name");
	if (name && !*name) {
		free(name);
		name = dup_text(link);
	}
	x->name = name;
	x->unit = attr_string(d, "unit");
	x->value = v;
	H5Dclose(d);
	if (!x->name || !x->unit) {
		free((char *)x->name);
		free((char *)x->unit);
		return w->st = PSG_ERR_NOMEM, -1;
	}
	r->nfig++;
	return 0;
}

/* ---- open / close ---------------------------------------------------- */

int psg_schema_check(const char *version)
{
	if (!version || !*version)
		return PSG_ERR_FORMAT;
	int major = atoi(version);
	return major == 1 || major == 2 ? PSG_OK : PSG_ERR_VERSION;
}

static int check_schema(psg_result *r, const char *path)
{
	const char *v = psg_result_attr(r, "schema_version");
	int st = psg_schema_check(v);
	if (st == PSG_ERR_FORMAT)
		return fail(r, st, "%s: not a psgpipe result file (no "
			    "schema_version)", path);
	if (st)
		return fail(r, st, "%s: schema %s, this psgpipe reads 1.x and "
			    "2.x", path, v);
	r->major = atoi(v);
	return PSG_OK;
}

static int read_file(psg_result *r, hid_t f, const char *path)
{
	hsize_t idx = 0;
	if (H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, &idx, on_root_attr, r)
	    < 0)
		return fail(r, PSG_ERR_NOMEM, "%s: out of memory", path);
	int st = check_schema(r, path);
	for (int i = 0; !st && i < 3; i++)
		st = read_table(r, f, fixed_names[i], fixed_names[i],
				&r->fixed[i]);
	if (!st)
		st = walk_group(r, f, "events", on_event);
	if (!st)
		st = walk_group(r, f, "summary", on_figure);
	if (st == PSG_ERR_NOMEM)
		fail(r, st, "%s: out of memory", path);
	return st;
}

psg_result *psg_result_open(const char *path, int *status)
{
	int st;
	psg_result *r = calloc(1, sizeof *r);
	FILE *probe = fopen(path, "rb");
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	if (!r)
		st = PSG_ERR_NOMEM;
	else if (!probe)
		st = fail(r, PSG_ERR_IO, "%s: cannot open: %s", path,
			  strerror(errno));
	else if (H5Fis_hdf5(path) <= 0)
		st = fail(r, PSG_ERR_FORMAT, "%s: not an HDF5 file", path);
	else {
		hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
		st = f < 0 ? fail(r, PSG_ERR_FORMAT, "%s: cannot open as "
				  "HDF5", path) : read_file(r, f, path);
		if (f >= 0)
			H5Fclose(f);
	}
	if (probe)
		fclose(probe);
	if (status)
		*status = st;
	if (st) {
		snprintf(open_err, sizeof open_err, "%s",
			 r ? r->err : "out of memory");
		psg_result_close(r);
		return NULL;
	}
	return r;
}

void psg_result_close(psg_result *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->nattr; i++) {
		free(r->attr[i].name);
		free(r->attr[i].text);
	}
	free(r->attr);
	for (int i = 0; i < r->nhistory; i++)
		free(r->history[i]);
	free(r->history);
	for (int i = 0; i < 3; i++)
		free_table(r->fixed[i]);
	for (int i = 0; i < r->nevents; i++)
		free_table(r->events[i]);
	free(r->events);
	for (int i = 0; i < r->nfig; i++) {
		free((char *)r->fig[i].name);
		free((char *)r->fig[i].unit);
	}
	free(r->fig);
	free(r);
}

const char *psg_result_errmsg(const psg_result *r)
{
	return r ? r->err : open_err;
}

/* ---- access ---------------------------------------------------------- */

static const rattr *find_attr(const psg_result *r, const char *name)
{
	for (int i = 0; r && i < r->nattr; i++)
		if (!strcmp(r->attr[i].name, name))
			return &r->attr[i];
	return NULL;
}

const char *psg_result_attr(const psg_result *r, const char *name)
{
	const rattr *a = find_attr(r, name);
	return a ? a->text : "";
}

double psg_result_attr_num(const psg_result *r, const char *name)
{
	const rattr *a = find_attr(r, name);
	return a ? a->num : NAN;
}

int psg_result_nhistory(const psg_result *r)
{
	return r ? r->nhistory : 0;
}

const char *psg_result_history(const psg_result *r, int i)
{
	return r && i >= 0 && i < r->nhistory ? r->history[i] : NULL;
}

const psg_table *psg_result_table(const psg_result *r, const char *name)
{
	for (int i = 0; r && i < 3; i++)
		if (!strcmp(name, fixed_names[i]))
			return r->fixed[i] ? &r->fixed[i]->t : NULL;
	for (int i = 0; r && i < r->nevents; i++)
		if (!strcmp(name, r->events[i]->t.name))
			return &r->events[i]->t;
	return NULL;
}

int psg_result_nevents(const psg_result *r)
{
	return r ? r->nevents : 0;
}

const psg_table *psg_result_events(const psg_result *r, int i)
{
	return r && i >= 0 && i < r->nevents ? &r->events[i]->t : NULL;
}

int psg_result_nfigures(const psg_result *r)
{
	return r ? r->nfig : 0;
}

const psg_figure *psg_result_figure(const psg_result *r, int i)
{
	return r && i >= 0 && i < r->nfig ? &r->fig[i] : NULL;
}

int psg_table_column(const psg_table *t, const char *name)
{
	for (int i = 0; t && i < t->ncols; i++)
		if (!strcmp(t->col[i].name, name))
			return i;
	return PSG_ERR_NOTFOUND;
}

/* ---- helpers for writers of results ---------------------------------- */

const char *psg_epoch_call(const psg_table *ep, int64_t row)
{
	int w = psg_table_column(ep, "wake"), s = psg_table_column(ep, "sws");
	if ((w < 0 && s < 0) || row < 0 || row >= ep->nrows)
		return NULL;
	double wake = w >= 0 && !ep->col[w].is_text ? ep->col[w].num[row]
						    : NAN;
	double sws = s >= 0 && !ep->col[s].is_text ? ep->col[s].num[row]
						   : NAN;
	if (wake == 1)
		return "W";
	if (wake == -1)
		return "?";
	if (sws == 1)
		return "N3";
	return wake == 0 ? "N" : "?";
}

const char *psg_epoch_stage(const psg_table *ep, int64_t row)
{
	int s = psg_table_column(ep, "sleep_stage");
	if (s < 0 || !ep->col[s].is_text)
		return psg_epoch_call(ep, row);
	if (row < 0 || row >= ep->nrows)
		return NULL;
	return *ep->col[s].text[row] ? ep->col[s].text[row] : "?";
}

void psg_number_text(char *buf, size_t n, double v)
{
	for (int digits = 15; digits <= 17; digits++) {
		snprintf(buf, n, "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			break;
	}
}
