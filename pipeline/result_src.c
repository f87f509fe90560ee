/* result_src.c -- a psgpipe result file (psg-h5's HDF5) read back as a
 * stream without samples (psg_reader_open_results): its header, then one
 * EPOCH record per row of /epochs, one EVENT per row of each event table,
 * one SUMMARY per figure, END.  So a stage that compares or converts
 * results (psg-score) takes a night's .h5 as it takes the chain's stream,
 * with no second code path for it.
 *
 * The file is read whole by psg_result_open (tables grow with the events,
 * not the samples).  Columns become what the stream declared: every
 * number, and every categorical column (coded.c) as its code again; other
 * text columns have no place in a stream and are left out.
 *
 * Only this file and result.c call HDF5, and psg_reader_open never calls
 * them: a program that reads no results does not load HDF5's libraries. */
#include "internal.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEC ((double)PSG_TICKS_PER_SEC)

typedef struct evmap {
	const psg_table *t;
	int nf, col[PSG_MAX_FIELDS];   /* table column of each field */
	int chidx, label;              /* columns, or -1 */
} evmap;

typedef struct src {
	psg_result *res;
	const psg_table *ep;
	int nfeat, *fcol;              /* /epochs column of each feature */
	evmap *ev;
	int nev;
	int phase;                     /* 0 epochs, 1 events, 2 figures, 3 END */
	int64_t row;
	int table;
	uint32_t *fidx;
	double *val;
	uint64_t nrecords;
} src;

static const char *const base_cols[] = {"onset", "duration", "channel",
					"channel_index", "label"};

static int is_base(const char *name, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(name, base_cols[i]))
			return 1;
	return 0;
}

/* A column that the stream carried as a number: numeric, or a category. */
static int numeric(const psg_table *t, int c)
{
	return !t->col[c].is_text || psg_coded_column(t->type,
						      t->col[c].name);
}

static double value_at(const psg_table *t, int c, int64_t row)
{
	const psg_column *col = &t->col[c];
	if (!col->is_text)
		return col->num[row];
	return psg_coded_value(t->type, col->name, col->text[row]);
}

static double num_at(const psg_table *t, const char *name, int64_t row)
{
	int c = psg_table_column(t, name);
	return c >= 0 && !t->col[c].is_text ? t->col[c].num[row] : NAN;
}

/* A whole number of a column; 0 when absent or beyond +-2^53 (a file
   written elsewhere), never an undefined conversion. */
static int64_t int_at(const psg_table *t, const char *name, int64_t row)
{
	double v = num_at(t, name, row);
	return fabs(v) <= 9007199254740992.0 ? (int64_t)v : 0;
}

static const char *text_at(const psg_table *t, const char *name, int64_t row)
{
	int c = psg_table_column(t, name);
	return c >= 0 && t->col[c].is_text ? t->col[c].text[row] : "";
}

static int64_t ticks(double s)
{
	return isfinite(s) && fabs(s) < 9e11 ? llround(s * SEC) : -1;
}

/* ---- the header ---------------------------------------------------- */

static void header_text(psg_header *h, const psg_result *res)
{
	const struct { const char *name; char *dst; size_t n; } f[] = {
		{"software", h->software, sizeof h->software},
		{"file_type", h->file_type, sizeof h->file_type},
		{"source_file", h->source, sizeof h->source},
		{"patient", h->patient, sizeof h->patient},
		{"recording", h->recording, sizeof h->recording},
		{"patient_code", h->patient_code, sizeof h->patient_code},
		{"sex", h->sex, sizeof h->sex},
		{"birthdate", h->birthdate, sizeof h->birthdate},
		{"patient_name", h->patient_name, sizeof h->patient_name},
		{"patient_additional", h->patient_additional,
		 sizeof h->patient_additional},
		{"admincode", h->admincode, sizeof h->admincode},
		{"technician", h->technician, sizeof h->technician},
		{"equipment", h->equipment, sizeof h->equipment},
		{"recording_additional", h->recording_additional,
		 sizeof h->recording_additional}};
	for (size_t i = 0; i < sizeof f / sizeof *f; i++)
		psg__strlcpy(f[i].dst, psg_result_attr(res, f[i].name), f[i].n);
}

/* "2009-12-10T12:44:02.0000000" (docs/hdf5.md). */
static int start_time(psg_header *h, const char *s)
{
	char frac[8] = "";
	if (sscanf(s, "%d-%d-%dT%d:%d:%d.%7[0-9]", &h->year, &h->month,
		   &h->day, &h->hour, &h->minute, &h->second, frac) < 6)
		return PSG_ERR_FORMAT;
	size_t nfrac = strlen(frac);   /* digits of 100 ns ticks */
	h->subsecond = 0;
	for (size_t i = 0; i < 7; i++)
		h->subsecond = h->subsecond * 10 +
			       (i < nfrac ? frac[i] - '0' : 0);
	return PSG_OK;
}

int psg_result_header(const psg_result *res, psg_header *h)
{
	if (start_time(h, psg_result_attr(res, "start_time")))
		return PSG_ERR_FORMAT;
	header_text(h, res);
	h->duration = ticks(psg_result_attr_num(res, "duration_s"));
	h->epoch_len = ticks(psg_result_attr_num(res, "epoch_length_s"));
	h->epoch_origin = ticks(psg_result_attr_num(res, "epoch_origin_s"));
	if (h->epoch_origin < 0)
		h->epoch_origin = 0;
	for (int i = 0; i < psg_result_nhistory(res); i++) {
		char *line = (char *)psg_result_history(res, i);
		if (psg_header_add_history(h, 1, &line) < 0)
			return PSG_ERR_NOMEM;
	}
	return PSG_OK;
}

/* "wake:eeg sws:eeg" */
static int add_roles(psg_header *h, const char *roles, int ch)
{
	char stage[PSG_KIND_LEN], role[PSG_KIND_LEN];
	int n;
	while (sscanf(roles, " %15[^: ]:%15s%n", stage, role, &n) == 2) {
		if (psg_header_add_role(h, stage, role, ch) < 0)
			return PSG_ERR_NOMEM;
		roles += n;
	}
	return PSG_OK;
}

static int header_channels(psg_reader *r, const psg_result *res)
{
	const psg_table *t = psg_result_table(res, "channels");
	for (int64_t i = 0; t && i < t->nrows; i++) {
		psg_channel c = {0};
		psg__strlcpy(c.label, text_at(t, "label", i), sizeof c.label);
		psg__strlcpy(c.kind, text_at(t, "kind", i), sizeof c.kind);
		psg__strlcpy(c.unit, text_at(t, "unit", i), sizeof c.unit);
		psg__strlcpy(c.transducer, text_at(t, "transducer", i),
			     sizeof c.transducer);
		psg__strlcpy(c.prefilter, text_at(t, "prefilter", i),
			     sizeof c.prefilter);
		c.phys_min = num_at(t, "phys_min", i);
		c.phys_max = num_at(t, "phys_max", i);
		c.dig_min = (int32_t)int_at(t, "dig_min", i);
		c.dig_max = (int32_t)int_at(t, "dig_max", i);
		c.spr = int_at(t, "samples_per_period", i);
		c.period = ticks(num_at(t, "period_s", i));
		int k = psg_header_add_channel(r->h, &c);
		if (k < 0 || add_roles(r->h, text_at(t, "roles", i), k))
			return psg__fail(r, k < 0 ? k : PSG_ERR_NOMEM,
					 "/channels row %lld: %s", (long long)i,
					 psg_strerror(k < 0 ? k : PSG_ERR_NOMEM));
	}
	return PSG_OK;
}

static int header_features(psg_reader *r, src *s)
{
	const psg_table *t = s->ep;
	if (!t)
		return PSG_OK;
	if (!(s->fcol = malloc(((size_t)t->ncols + 1) * sizeof *s->fcol)) ||
	    !(s->fidx = malloc(((size_t)t->ncols + 1) * sizeof *s->fidx)))
		return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	for (int c = 0; c < t->ncols; c++) {
		const psg_column *col = &t->col[c];
		if (is_base(col->name, 2) || !numeric(t, c))
			continue;
		if (psg_header_add_feature(r->h, col->name, col->unit,
					   col->desc) < 0)
			return psg__fail(r, PSG_ERR_FORMAT, "/epochs column %s "
					 "cannot be a feature", col->name);
		s->fcol[s->nfeat++] = c;
	}
	return PSG_OK;
}

static int header_events(psg_reader *r, src *s)
{
	int n = psg_result_nevents(s->res);
	if (!(s->ev = calloc((size_t)n + 1, sizeof *s->ev)))
		return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		evmap *m = &s->ev[s->nev];
		const char *f[PSG_MAX_FIELDS], *u[PSG_MAX_FIELDS];
		m->t = psg_result_events(s->res, i);
		m->chidx = psg_table_column(m->t, "channel_index");
		m->label = psg_table_column(m->t, "label");
		for (int c = 0; c < m->t->ncols && m->nf < PSG_MAX_FIELDS; c++)
			if (!is_base(m->t->col[c].name, 5) && numeric(m->t, c)) {
				f[m->nf] = m->t->col[c].name;
				u[m->nf] = m->t->col[c].unit;
				m->col[m->nf++] = c;
			}
		if (psg_header_add_evtype(r->h, m->t->type, m->nf, f, u) < 0)
			return psg__fail(r, PSG_ERR_FORMAT, "event table %s "
					 "cannot be an event type", m->t->name);
		s->nev++;
	}
	return PSG_OK;
}

/* ---- records ------------------------------------------------------- */

static int next_epoch(src *s, psg_record *rec)
{
	for (; s->ep && s->row < s->ep->nrows; s->row++) {
		int n = 0;
		for (int k = 0; k < s->nfeat; k++) {
			double v = value_at(s->ep, s->fcol[k], s->row);
			if (!isnan(v))
				s->fidx[n] = (uint32_t)k, s->val[n++] = v;
		}
		if (!n)
			continue;
		rec->kind = PSG_REC_EPOCH;
		rec->epoch = (psg_epoch){s->row++, n, s->fidx, s->val};
		return 1;
	}
	return 0;
}

static int next_event(psg_reader *r, src *s, psg_record *rec)
{
	for (; s->table < s->nev; s->table++, s->row = 0) {
		const evmap *m = &s->ev[s->table];
		if (s->row >= m->t->nrows)
			continue;
		int64_t i = s->row++;
		double ch = m->chidx >= 0 && !m->t->col[m->chidx].is_text ?
			    m->t->col[m->chidx].num[i] : -1;
		for (int k = 0; k < m->nf; k++)
			s->val[k] = value_at(m->t, m->col[k], i);
		double on = num_at(m->t, "onset", i);
		if (!(fabs(on) < 9e11))
			return psg__fail(r, PSG_ERR_FORMAT, "/events/%s row "
					 "%lld has no onset", m->t->name,
					 (long long)i);
		rec->kind = PSG_REC_EVENT;
		rec->event = (psg_event){s->table,
			ch >= 0 && ch < r->h->nchannels ? (int)ch : -1,
			llround(on * SEC), ticks(num_at(m->t, "duration", i)),
			m->label >= 0 ? text_at(m->t, "label", i) : "", m->nf,
			s->val};
		return 1;
	}
	return 0;
}

static int result_next(psg_reader *r, psg_record *rec)
{
	src *s = r->impl;
	int st = 0;
	if (s->phase == 0 && !(st = next_epoch(s, rec)))
		s->phase = 1, s->row = 0;
	if (!st && s->phase == 1 && !(st = next_event(r, s, rec)))
		s->phase = 2, s->row = 0;
	if (!st && s->phase == 2 && s->row < psg_result_nfigures(s->res)) {
		const psg_figure *f = psg_result_figure(s->res, (int)s->row++);
		rec->kind = PSG_REC_SUMMARY;
		rec->summary = (psg_summary){f->name, f->unit, f->value};
		st = 1;
	}
	if (st)
		return st < 0 ? st : (s->nrecords++, 1);
	rec->kind = PSG_REC_END;
	rec->end = (psg_end){r->h->duration > 0 ? r->h->duration : 0,
			     s->nrecords, ""};
	psg__strlcpy(rec->end.sha256, psg_result_attr(s->res,
						      "source_sha256"),
		     sizeof rec->end.sha256);
	r->done = 1;
	return 1;
}

static void result_close(psg_reader *r)
{
	src *s = r->impl;
	if (!s)
		return;
	psg_result_close(s->res);
	free(s->fcol);
	free(s->fidx);
	free(s->val);
	free(s->ev);
	free(s);
	r->impl = NULL;
}

static const struct psg_reader_ops result_ops = {result_next, result_close};

/* psg-h5 writes HDF5's signature at the start of the file. */
static int is_hdf5_file(const char *path)
{
	static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n',
					     0x1a, '\n'};
	unsigned char m[sizeof sig];
	int fd = open(path, O_RDONLY), yes = 0;
	if (fd < 0)
		return 0;
	yes = read(fd, m, sizeof m) == (ssize_t)sizeof m &&
	      !memcmp(m, sig, sizeof sig);
	close(fd);
	return yes;
}

/* psg__reader_open's special opener: 1 for a file that is not HDF5. */
static int open_result(psg_reader *r, const char *path)
{
	int st;
	if (!is_hdf5_file(path))
		return 1;
	src *s = calloc(1, sizeof *s);
	if (!s)
		return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	r->impl = s;
	r->ops = &result_ops;
	if (!(s->res = psg_result_open(path, &st)))
		return psg__fail(r, st, "%s", psg_result_errmsg(NULL));
	s->ep = psg_result_table(s->res, "epochs");
	size_t nval = PSG_MAX_FIELDS + (s->ep ? (size_t)s->ep->ncols : 0);
	if (!(s->val = malloc(nval * sizeof *s->val)))
		return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	if ((st = psg_result_header(s->res, r->h)))
		return psg__fail(r, st, "%s", st == PSG_ERR_NOMEM ?
				 "out of memory" : "its start_time is not a "
				 "date-time");
	if ((st = header_channels(r, s->res)) ||
	    (st = header_features(r, s)) || (st = header_events(r, s)))
		return st;
	return PSG_OK;
}

psg_reader *psg_reader_open_results(const char *path,
				    const psg_open_opts *opts, int *status,
				    char *msg, size_t msglen)
{
	return psg__reader_open(path, opts, open_result, status, msg, msglen);
}
