/*
 * edf_edflib.c -- EDF, EDF+C, BDF and BDF+C through edflib (Debian 1.23).
 *
 * edflib validates headers strictly and reads all annotations at open;
 * it refuses EDF+D, which edf_native.c reads instead.  Its header struct
 * is ~149 KB, so it lives on the heap; its open/close are not
 * thread-safe, which is why psgpipe opens one file per process.
 */
#include "filesrc.h"

#include <edflib.h>
#include <stdlib.h>
#include <string.h>

typedef struct edfl {
	struct edf_hdr_struct *eh;
	int handle;                 /* -1 when closed */
	int *map;                   /* output channel -> edflib signal */
	double *scale;              /* unit conversion factor per channel */
	int64_t chunk, nrec, rec;   /* records per chunk, total, next */
	int64_t recdur;             /* ticks */
	int cur;                    /* next channel within the chunk */
	double *dbuf;
	float *fbuf;
	filesrc_queue q;
	char *hold;
	psg_hasher *hasher;
	int no_samples;
} edfl;

static const char *edflib_error(int code)
{
	switch (code) {
	case EDFLIB_MALLOC_ERROR: return "out of memory";
	case EDFLIB_NO_SUCH_FILE_OR_DIRECTORY: return "no such file";
	case EDFLIB_FILE_CONTAINS_FORMAT_ERRORS:
		return "the header does not conform to EDF/BDF";
	case EDFLIB_MAXFILES_REACHED: return "too many open files";
	case EDFLIB_FILE_READ_ERROR: return "read error";
	case EDFLIB_FILE_ALREADY_OPENED: return "file already open";
	case EDFLIB_FILETYPE_ERROR: return "not an EDF or BDF file";
	case EDFLIB_FILE_IS_DISCONTINUOUS: return "discontinuous (EDF+D)";
	}
	return "unknown edflib error";
}

static void copy_channel(psg_channel *c, const struct edf_param_struct *p,
			 int64_t recdur, double *scale)
{
	memset(c, 0, sizeof *c);
	psg__copy_trim(c->label, sizeof c->label, p->label, sizeof p->label);
	psg__copy_trim(c->unit, sizeof c->unit, p->physdimension,
		       sizeof p->physdimension);
	psg__copy_trim(c->transducer, sizeof c->transducer, p->transducer,
		       sizeof p->transducer);
	psg__copy_trim(c->prefilter, sizeof c->prefilter, p->prefilter,
		       sizeof p->prefilter);
	*scale = psg__to_microvolts(c->unit, sizeof c->unit);
	c->phys_min = p->phys_min * *scale;
	c->phys_max = p->phys_max * *scale;
	c->dig_min = p->dig_min;
	c->dig_max = p->dig_max;
	c->spr = p->smp_in_datarecord;
	c->period = recdur;
	psg__strlcpy(c->kind, psg_guess_kind(c->label, c->transducer, c->unit),
		     sizeof c->kind);
}

static const char *type_name(int t)
{
	static const char *n[] = {"EDF", "EDF+C", "BDF", "BDF+C"};
	return t >= 0 && t < 4 ? n[t] : "?";
}

/* edflib blanks the raw patient and recording fields of EDF+ files, but
   users' scripts want them verbatim: read them from the file itself.  Its
   counts are checked as the native parser checks them (edflib reads
   "1e300" seconds per record as something else), so that both backends
   refuse the same files. */
static int raw_ids(psg_reader *r, psg_header *h)
{
	char m[256];
	int64_t a, b, c;
	int ns, st = PSG_OK;
	FILE *f = fopen(h->source, "rb");
	if (f && fread(m, 1, sizeof m, f) == sizeof m) {
		psg__copy_trim(h->patient, sizeof h->patient, m + 8, 80);
		psg__copy_trim(h->recording, sizeof h->recording, m + 88, 80);
		st = filesrc_main_numbers(r, m, &a, &b, &c, &ns);
	}
	if (f)
		fclose(f);
	return st;
}

/* edflib 1.23 hands back an empty EDF+ subfield as a literal "X" and keeps
   the padding of the free-text ones; the native reader does neither. */
static void tidy_subfields(psg_header *h)
{
	char *f[] = {h->patient_code, h->sex, h->birthdate, h->patient_name,
		h->patient_additional, h->admincode, h->technician,
		h->equipment, h->recording_additional};
	for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
		size_t n = strlen(f[i]);
		while (n && f[i][n - 1] == ' ')
			f[i][--n] = '\0';
		if (!strcmp(f[i], "X"))
			f[i][0] = '\0';
	}
}

static int fill_header(psg_reader *r, edfl *e, const psg_open_opts *o)
{
	struct edf_hdr_struct *eh = e->eh;
	psg_header *h = r->h;
	psg__strlcpy(h->file_type, type_name(eh->filetype), sizeof h->file_type);
	h->year = eh->startdate_year, h->month = eh->startdate_month;
	h->day = eh->startdate_day, h->hour = eh->starttime_hour;
	h->minute = eh->starttime_minute, h->second = eh->starttime_second;
	h->subsecond = eh->starttime_subsecond;
	int st = raw_ids(r, h);
	if (st)
		return st;
	tidy_subfields(h);
	psg__strlcpy(h->patient_code, eh->patientcode, sizeof h->patient_code);
	psg__strlcpy(h->sex, eh->gender, sizeof h->sex);
	psg__strlcpy(h->birthdate, eh->birthdate, sizeof h->birthdate);
	psg__strlcpy(h->patient_name, eh->patient_name, sizeof h->patient_name);
	psg__strlcpy(h->patient_additional, eh->patient_additional,
		     sizeof h->patient_additional);
	psg__strlcpy(h->admincode, eh->admincode, sizeof h->admincode);
	psg__strlcpy(h->technician, eh->technician, sizeof h->technician);
	psg__strlcpy(h->equipment, eh->equipment, sizeof h->equipment);
	psg__strlcpy(h->recording_additional, eh->recording_additional,
		     sizeof h->recording_additional);
	e->recdur = eh->datarecord_duration;
	e->nrec = eh->datarecords_in_file;
	h->duration = e->recdur * e->nrec;
	double *scale = malloc(((size_t)eh->edfsignals + 1) * sizeof *scale);
	if (!scale)
		return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	for (int i = 0; i < eh->edfsignals; i++) {
		psg_channel c;
		copy_channel(&c, &eh->signalparam[i], e->recdur, &scale[i]);
		if (psg_header_add_channel(h, &c) < 0) {
			free(scale);
			return psg__fail(r, PSG_ERR_FORMAT,
					 "signal %d has no samples", i);
		}
	}
	e->map = malloc(((size_t)eh->edfsignals + 1) * sizeof *e->map);
	e->scale = malloc(((size_t)eh->edfsignals + 1) * sizeof *e->scale);
	if (!e->map || !e->scale) {
		free(scale);
		return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	}
	int n = psg__select(r, o, e->map, eh->edfsignals);
	for (int i = 0; i < n; i++)
		e->scale[i] = scale[e->map[i]];
	free(scale);
	return n < 0 ? n : filesrc_declare(h);
}

static int queue_annotations(psg_reader *r, edfl *e)
{
	struct edf_annotation_struct a;
	for (long long i = 0; i < e->eh->annotations_in_file; i++) {
		if (edf_get_annotation(e->handle, (int)i, &a))
			return psg__fail(r, PSG_ERR_FORMAT,
					 "annotation %lld unreadable", i);
		/* edflib marks "no duration" as -10000000 (-1 s). */
		int64_t dur = a.duration[0] ? a.duration_l : -1;
		if (filesrc_queue_push(&e->q, a.onset, dur, a.annotation))
			return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	}
	filesrc_queue_sort(&e->q);
	return PSG_OK;
}

static int alloc_buffers(psg_reader *r, edfl *e, const psg_open_opts *o)
{
	int64_t maxspr = 1;
	for (int i = 0; i < r->h->nchannels; i++)
		if (r->h->channels[i].spr > maxspr)
			maxspr = r->h->channels[i].spr;
	e->chunk = filesrc_records_per_chunk(e->recdur, o->block_seconds);
	while (e->chunk > 1 && e->chunk * maxspr > (1 << 22))
		e->chunk /= 2;
	e->dbuf = malloc((size_t)(e->chunk * maxspr) * sizeof *e->dbuf);
	e->fbuf = malloc((size_t)(e->chunk * maxspr) * sizeof *e->fbuf);
	if (!e->dbuf || !e->fbuf)
		return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	return PSG_OK;
}

static int advance(psg_reader *r, edfl *e, int64_t nrec)
{
	if (++e->cur == r->h->nchannels) {
		e->cur = 0;
		e->rec += nrec;
	}
	return 1;
}

/* A block's timing without its samples (psg_open_opts.no_samples). */
static int skip_block(psg_reader *r, edfl *e, psg_record *rec, int n)
{
	const psg_channel *c = &r->h->channels[e->cur];
	rec->kind = PSG_REC_DATA;
	rec->block = (psg_block){.channel = e->cur, .t0 = 0,
		.offset = e->rec * c->spr, .n = n, .x = NULL};
	return advance(r, e, n / c->spr);
}

static int read_block(psg_reader *r, edfl *e, psg_record *rec)
{
	int ch = e->cur;
	const psg_channel *c = &r->h->channels[ch];
	int64_t nrec = e->nrec - e->rec < e->chunk ? e->nrec - e->rec : e->chunk;
	int n = (int)(nrec * c->spr);
	if (e->no_samples)
		return skip_block(r, e, rec, n);
	int got = edfread_physical_samples(e->handle, e->map[ch], n, e->dbuf);
	if (got != n)
		return psg__fail(r, got < 0 ? PSG_ERR_IO : PSG_ERR_TRUNCATED,
				 "signal '%s': could only read %d of %d "
				 "samples at record %lld", c->label,
				 got < 0 ? 0 : got, n, (long long)e->rec);
	for (int i = 0; i < n; i++)
		e->fbuf[i] = (float)(e->dbuf[i] * e->scale[ch]);
	rec->kind = PSG_REC_DATA;
	rec->block = (psg_block){.channel = ch, .t0 = 0,
		.offset = e->rec * c->spr, .n = n, .x = e->fbuf};
	return advance(r, e, nrec);
}

static int edfl_next(psg_reader *r, psg_record *rec)
{
	edfl *e = r->impl;
	int nodata = e->rec >= e->nrec || r->h->nchannels == 0;
	int64_t limit = nodata ? INT64_MAX : (e->rec + e->chunk) * e->recdur;
	/* Annotations of the coming chunk precede its first block. */
	if (e->cur == 0 && filesrc_queue_pop(&e->q, limit, rec, &e->hold))
		return 1;
	if (!nodata)
		return read_block(r, e, rec);
	return filesrc_end(r, &e->hasher, rec);
}

static void edfl_close(psg_reader *r)
{
	edfl *e = r->impl;
	if (!e)
		return;
	if (e->handle >= 0)
		edfclose_file(e->handle);
	char skip[65];
	psg__hasher_finish(e->hasher, skip);
	filesrc_queue_free(&e->q);
	free(e->hold);
	free(e->eh);
	free(e->map);
	free(e->scale);
	free(e->dbuf);
	free(e->fbuf);
	free(e);
}

static const struct psg_reader_ops edfl_ops = {edfl_next, edfl_close};

int psg__open_edflib(psg_reader *r, const char *path, const psg_open_opts *o)
{
	edfl *e = calloc(1, sizeof *e);
	if (!e || !(e->eh = calloc(1, sizeof *e->eh))) {
		free(e);
		return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	}
	e->handle = -1;
	if (edfopen_file_readonly(path, e->eh, EDFLIB_READ_ALL_ANNOTATIONS)) {
		int code = e->eh->filetype;
		free(e->eh);
		free(e);
		return psg__fail(r, code == EDFLIB_FILE_READ_ERROR ?
				 PSG_ERR_IO : PSG_ERR_FORMAT,
				 "%s: edflib: %s", path, edflib_error(code));
	}
	e->handle = e->eh->handle;
	r->impl = e, r->ops = &edfl_ops;
	psg__strlcpy(r->h->source, path, sizeof r->h->source);
	int st = fill_header(r, e, o);
	if (!st)
		st = queue_annotations(r, e);
	if (!st)
		st = alloc_buffers(r, e, o);
	if (!st && o->hash)
		e->hasher = psg__hasher_start(path);
	e->no_samples = o->no_samples;
	return st;
}
