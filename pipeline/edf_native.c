/*
 * edf_native.c -- psgpipe's own EDF/EDF+/BDF/BDF+ reader, for what edflib
 * refuses: discontinuous EDF+D/BDF+D files, and real recordings whose
 * headers bend the standard (digital ranges beyond 16 bits, UTF-8 or
 * Latin-1 text).  Each oddity is reported as a warning, never silently.
 *
 * EDF+D timeline (EDF+ spec 2.2.4): every data record starts with a TAL
 * whose onset is the record's start relative to the header's start time.
 * A record whose onset is not the previous onset plus the record duration
 * starts a new segment; the DATA blocks of that segment carry its onset as
 * t0, so the gap is explicit in the stream.  The fraction of a second of
 * the first record's onset is the recording's sub-second start, and every
 * time is taken relative to it (as edflib does for EDF+C).
 */
#include "filesrc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct nsig {
	int annot;            /* an "EDF Annotations" signal */
	int64_t spr;
	int64_t byte_off;     /* within a data record */
	int32_t dmin, dmax;   /* digital range; samples are clamped to it */
	double gain, offset;  /* physical = digital * gain + offset */
} nsig;

typedef struct native {
	FILE *f;
	int bdf, plus, discont;
	int ns;               /* signals in the file, annotations included */
	nsig *sig;
	int first_annot;      /* index of the first annotation signal, or -1 */
	int64_t hdrbytes, recbytes, nrec, recdur;
	int64_t sub;          /* first record onset's fraction of a second */
	int *map;             /* output channel -> file signal */
	unsigned char *raw;   /* one chunk of records */
	int64_t chunk;        /* records per chunk (capacity) */
	int64_t inchunk;      /* records in the current chunk */
	int64_t rec;          /* records consumed from the file */
	int have_pending;     /* a record read ahead, starting a new chunk */
	int64_t pending_onset;
	int64_t seg_t0, seg_next_onset, seg_index;  /* current segment */
	int64_t chunk_t0, chunk_offset; /* where the current chunk sits */
	int cur;              /* next channel to emit, -1: chunk consumed */
	float *fbuf;
	filesrc_queue q;
	char *hold;
	psg_hasher *hasher;
	int no_samples;
	int odd_text, wide_range;      /* signals with these oddities */
	char odd_text_eg[PSG_LABEL_LEN], wide_range_eg[96];
} native;

/* ---- header parsing ---- */

/* Text fields may be ASCII (the standard), UTF-8 or Latin-1 (real
   devices): keep valid UTF-8, take anything else for Latin-1. */
static void text_field(char *dst, size_t dstlen, const char *p, size_t n,
		       int *odd)
{
	char raw[PSG_TEXT_LEN];
	psg__copy_trim(raw, sizeof raw, p, n < sizeof raw ? n : sizeof raw - 1);
	const unsigned char *s = (const unsigned char *)raw;
	int utf8 = 1, ascii = 1;
	for (size_t i = 0; s[i]; i++) {
		if (s[i] < 0x80)
			continue;
		ascii = 0;
		int k = (s[i] & 0xe0) == 0xc0 ? 1 : (s[i] & 0xf0) == 0xe0 ? 2 :
			(s[i] & 0xf8) == 0xf0 ? 3 : -1;
		for (int j = 1; k > 0 && j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				k = -1;
		if (k < 0) {
			utf8 = 0;
			break;
		}
		i += (size_t)k;
	}
	if (!ascii)
		*odd = 1;
	if (utf8) {
		psg__strlcpy(dst, raw, dstlen);
		return;
	}
	size_t o = 0;
	for (size_t i = 0; s[i] && o + 3 < dstlen; i++) {
		if (s[i] < 0x80) {
			dst[o++] = (char)s[i];
		} else {
			dst[o++] = (char)(0xc0 | s[i] >> 6);
			dst[o++] = (char)(0x80 | (s[i] & 0x3f));
		}
	}
	dst[o] = '\0';
}

static int parse_main(psg_reader *r, native *nv, const char *m)
{
	psg_header *h = r->h;
	int odd = 0;
	nv->bdf = (unsigned char)m[0] == 0xff && !memcmp(m + 1, "BIOSEMI", 7);
	if (!nv->bdf && memcmp(m, "0       ", 8))
		return psg__fail(r, PSG_ERR_FORMAT,
				 "not an EDF or BDF file (version field)");
	text_field(h->patient, sizeof h->patient, m + 8, 80, &odd);
	text_field(h->recording, sizeof h->recording, m + 88, 80, &odd);
	if (odd)
		psg__warn(r, "non-ASCII text in the patient/recording fields");
	char date[9], time[9];
	memcpy(date, m + 168, 8), date[8] = '\0';
	memcpy(time, m + 176, 8), time[8] = '\0';
	if (filesrc_parse_start(h, date, time))
		return psg__fail(r, PSG_ERR_FORMAT,
				 "bad start date/time '%s %s'", date, time);
	int st = filesrc_main_numbers(r, m, &nv->hdrbytes, &nv->nrec,
				      &nv->recdur, &nv->ns);
	if (st)
		return st;
	const char *res = m + 192;
	nv->plus = !memcmp(res, "EDF+", 4) || !memcmp(res, "BDF+", 4);
	nv->discont = nv->plus && res[4] == 'D';
	snprintf(h->file_type, sizeof h->file_type, "%s%s", nv->bdf ? "BDF" :
		 "EDF", nv->plus ? (nv->discont ? "+D" : "+C") : "");
	if (nv->hdrbytes != 256 * (int64_t)(nv->ns + 1))
		return psg__fail(r, PSG_ERR_FORMAT,
				 "header size %lld does not match %d signals",
				 (long long)nv->hdrbytes, nv->ns);
	if (nv->plus)
		psg__parse_edfplus_ids(h);
	return PSG_OK;
}

/* Field k (0-based among the ten) of signal i in the signal header. */
static const char *sfield(const char *sh, int ns, int i, int k)
{
	static const int width[] = {16, 80, 8, 8, 8, 8, 8, 80, 8, 32};
	size_t off = 0;
	for (int j = 0; j < k; j++)
		off += (size_t)width[j] * (size_t)ns;
	return sh + off + (size_t)width[k] * (size_t)i;
}

static int parse_signal(psg_reader *r, native *nv, const char *sh, int i,
			psg_channel *c)
{
	double pmin, pmax, dmin, dmax;
	int64_t spr;
	int odd = 0, ns = nv->ns;
	memset(c, 0, sizeof *c);
	text_field(c->label, sizeof c->label, sfield(sh, ns, i, 0), 16, &odd);
	nv->sig[i].annot = !strcmp(c->label, nv->bdf ? "BDF Annotations" :
				   "EDF Annotations") && nv->plus;
	text_field(c->transducer, sizeof c->transducer, sfield(sh, ns, i, 1),
		   80, &odd);
	text_field(c->unit, sizeof c->unit, sfield(sh, ns, i, 2), 8, &odd);
	text_field(c->prefilter, sizeof c->prefilter, sfield(sh, ns, i, 7), 80,
		   &odd);
	if (filesrc_num_field(sfield(sh, ns, i, 3), 8, &pmin) ||
	    filesrc_num_field(sfield(sh, ns, i, 4), 8, &pmax) ||
	    filesrc_num_field(sfield(sh, ns, i, 5), 8, &dmin) ||
	    filesrc_num_field(sfield(sh, ns, i, 6), 8, &dmax) ||
	    dmin != floor(dmin) || dmax != floor(dmax) || dmin < INT32_MIN ||
	    dmax > INT32_MAX ||
	    filesrc_int_field(sfield(sh, ns, i, 8), 8, 0, 99999999, &spr))
		return psg__fail(r, PSG_ERR_FORMAT,
				 "signal %d ('%s'): bad numeric header field",
				 i, c->label);
	if (odd && !nv->odd_text++)
		psg__strlcpy(nv->odd_text_eg, c->label, sizeof nv->odd_text_eg);
	nv->sig[i].spr = spr;
	if (nv->sig[i].annot)
		return PSG_OK;
	if (dmax <= dmin || pmax == pmin)
		return psg__fail(r, PSG_ERR_FORMAT,
				 "signal %d ('%s'): empty digital or physical "
				 "range", i, c->label);
	double lim = nv->bdf ? 8388608 : 32768;
	if ((dmin < -lim || dmax > lim - 1) && !nv->wide_range++)
		snprintf(nv->wide_range_eg, sizeof nv->wide_range_eg,
			 "'%.40s' %.0f..%.0f", c->label, dmin, dmax);
	double scale = psg__to_microvolts(c->unit, sizeof c->unit);
	nv->sig[i].dmin = (int32_t)dmin;
	nv->sig[i].dmax = (int32_t)dmax;
	nv->sig[i].gain = (pmax - pmin) / (dmax - dmin) * scale;
	nv->sig[i].offset = (pmin - dmin * (pmax - pmin) / (dmax - dmin)) *
			    scale;
	c->phys_min = pmin * scale, c->phys_max = pmax * scale;
	c->dig_min = (int32_t)dmin, c->dig_max = (int32_t)dmax;
	c->spr = spr;
	c->period = nv->recdur;
	psg__strlcpy(c->kind, psg_guess_kind(c->label, c->transducer, c->unit),
		     sizeof c->kind);
	return PSG_OK;
}

static int parse_signals(psg_reader *r, native *nv)
{
	int st = PSG_OK, w = nv->bdf ? 3 : 2;
	char *sh = malloc((size_t)nv->ns * 256);
	nv->sig = calloc((size_t)nv->ns, sizeof *nv->sig);
	if (!sh || !nv->sig) {
		free(sh);
		return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	}
	if (fread(sh, 256, (size_t)nv->ns, nv->f) != (size_t)nv->ns) {
		free(sh);
		return psg__fail(r, PSG_ERR_TRUNCATED,
				 "file ends inside the signal headers");
	}
	nv->first_annot = -1;
	for (int i = 0; i < nv->ns && !st; i++) {
		psg_channel c;
		st = parse_signal(r, nv, sh, i, &c);
		nv->sig[i].byte_off = nv->recbytes;
		nv->recbytes += nv->sig[i].spr * w;
		if (st || nv->sig[i].annot) {
			if (nv->sig[i].annot && nv->first_annot < 0)
				nv->first_annot = i;
			continue;
		}
		if (c.spr > 0 && c.period == 0) {
			st = psg__fail(r, PSG_ERR_FORMAT, "signal %d ('%s') has "
				       "%lld samples per record of 0 s; only an "
				       "annotation file may have records of 0 "
				       "s", i, c.label, (long long)c.spr);
			continue;
		}
		if (c.spr == 0) {
			psg__warn(r, "signal %d ('%s') has no samples; "
				  "skipped", i, c.label);
			nv->sig[i].annot = -1;
			continue;
		}
		if (psg_header_add_channel(r->h, &c) < 0)
			st = psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	}
	free(sh);
	/* A record is read whole into memory. */
	if (!st && nv->recbytes > PSG_MAX_RECORD)
		st = psg__fail(r, PSG_ERR_LIMIT, "data records of %lld bytes "
			       "exceed the limit of %d MiB", (long long)
			       nv->recbytes, PSG_MAX_RECORD >> 20);
	/* One line per kind of oddity, not one per signal. */
	if (nv->odd_text)
		psg__warn(r, "%d signal(s) with non-ASCII header text, e.g. "
			  "'%s' (read as UTF-8, else Latin-1)", nv->odd_text,
			  nv->odd_text_eg);
	if (nv->wide_range)
		psg__warn(r, "%d signal(s) with digital ranges beyond %d bits, "
			  "e.g. %s; scaled as the header says", nv->wide_range,
			  nv->bdf ? 24 : 16, nv->wide_range_eg);
	return st;
}

/* ---- records ---- */

typedef struct tal_ctx {
	native *nv;
	int failed;
} tal_ctx;

static void on_tal(void *ctx, int64_t onset, int64_t duration,
		   const char *text)
{
	tal_ctx *t = ctx;
	if (filesrc_queue_push(&t->nv->q, onset - t->nv->sub, duration, text))
		t->failed = 1;
}

/* Reads the TALs of record buffer p: its onset (ticks, file timeline)
   into *onset, its annotations into the queue when queue is set. */
static int record_tals(psg_reader *r, native *nv, const unsigned char *p,
		       int64_t recno, int64_t *onset, int queue)
{
	tal_ctx t = {nv, 0};
	*onset = INT64_MIN;
	for (int i = 0; i < nv->ns; i++) {
		if (nv->sig[i].annot != 1)
			continue;
		int64_t o = INT64_MIN;
		size_t n = (size_t)nv->sig[i].spr * (nv->bdf ? 3 : 2);
		if (psg__parse_tal(p + nv->sig[i].byte_off, n,
				   i == nv->first_annot, &o,
				   queue ? on_tal : NULL, &t))
			return psg__fail(r, PSG_ERR_FORMAT,
					 "record %lld: malformed annotation "
					 "list", (long long)recno);
		if (i == nv->first_annot)
			*onset = o;
	}
	if (t.failed)
		return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	if (nv->plus && *onset == INT64_MIN)
		return psg__fail(r, PSG_ERR_FORMAT,
				 "record %lld has no time-keeping annotation",
				 (long long)recno);
	return PSG_OK;
}

/* Reads record `recno` into dst and returns its onset on the file's
   timeline (header start time), or an error status. */
static int read_record(psg_reader *r, native *nv, unsigned char *dst,
		       int64_t recno, int64_t *onset, int queue)
{
	if (fseeko(nv->f, (off_t)(nv->hdrbytes + recno * nv->recbytes),
		   SEEK_SET) ||
	    fread(dst, 1, (size_t)nv->recbytes, nv->f) != (size_t)nv->recbytes)
		return psg__fail(r, PSG_ERR_TRUNCATED,
				 "file ends inside data record %lld",
				 (long long)recno);
	if (!nv->plus) {
		*onset = recno * nv->recdur;
		return PSG_OK;
	}
	return record_tals(r, nv, dst, recno, onset, queue);
}

static int check_size(psg_reader *r, native *nv, const char *path)
{
	struct stat st;
	if (stat(path, &st))
		return psg__fail(r, PSG_ERR_IO, "%s: %s", path, strerror(errno));
	int64_t body = (int64_t)st.st_size - nv->hdrbytes;
	int64_t whole = nv->recbytes ? body / nv->recbytes : 0;
	if (nv->nrec < 0) {   /* -1: unknown, recording was not closed */
		psg__warn(r, "record count unknown (-1); %lld records in file",
			  (long long)whole);
		nv->nrec = whole;
	}
	if (whole < nv->nrec)
		return psg__fail(r, PSG_ERR_TRUNCATED,
				 "truncated: header says %lld data records, "
				 "the file holds %lld", (long long)nv->nrec,
				 (long long)whole);
	if (body > nv->nrec * nv->recbytes)
		psg__warn(r, "%lld bytes after the last data record ignored",
			  (long long)(body - nv->nrec * nv->recbytes));
	return PSG_OK;
}

/* The sub-second start and, for EDF+D, the end from the last record. */
static int find_timeline(psg_reader *r, native *nv)
{
	int64_t first = 0, last;
	psg_header *h = r->h;
	if (nv->plus && nv->nrec > 0) {
		if (read_record(r, nv, nv->raw, 0, &first, 0))
			return PSG_ERR_FORMAT;
		if (first < 0)
			return psg__fail(r, PSG_ERR_FORMAT,
					 "first record starts before the "
					 "header's start time");
		nv->sub = first % PSG_TICKS_PER_SEC;
		h->subsecond = nv->sub;
	}
	/* Contiguous files end nrec records after the start; EDF+D ends
	   one record after its last record's own onset. */
	last = (nv->nrec - 1) * nv->recdur + nv->sub;
	if (nv->discont && nv->nrec > 0 &&
	    read_record(r, nv, nv->raw, nv->nrec - 1, &last, 0))
		return PSG_ERR_FORMAT;
	h->duration = nv->nrec > 0 ? last - nv->sub + nv->recdur : 0;
	if (h->duration < 0)
		h->duration = 0;
	return PSG_OK;
}

static int alloc_chunk(psg_reader *r, native *nv, const psg_open_opts *o)
{
	int64_t maxspr = 1;
	nv->chunk = filesrc_records_per_chunk(nv->recdur, o->block_seconds);
	while (nv->chunk > 1 && nv->chunk * nv->recbytes > (16 << 20))
		nv->chunk /= 2;
	for (int i = 0; i < nv->ns; i++)
		if (nv->sig[i].spr > maxspr)
			maxspr = nv->sig[i].spr;
	nv->raw = malloc((size_t)(nv->chunk * nv->recbytes) + 1);
	nv->fbuf = malloc((size_t)(nv->chunk * maxspr) * sizeof *nv->fbuf);
	if (!nv->raw || !nv->fbuf)
		return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	return PSG_OK;
}

/* Fills the chunk with contiguous records; a record that starts a new
   segment is kept in slot 0 of the next chunk (have_pending). */
static int fill_chunk(psg_reader *r, native *nv)
{
	int64_t onset;
	nv->inchunk = 0;
	if (nv->have_pending) {
		nv->have_pending = 0;
		nv->inchunk = 1;
		nv->seg_t0 = nv->pending_onset - nv->sub;
		nv->seg_index = 1;
		nv->chunk_t0 = nv->seg_t0;
		nv->chunk_offset = 0;
		nv->seg_next_onset = nv->pending_onset + nv->recdur;
	}
	while (nv->inchunk < nv->chunk && nv->rec < nv->nrec) {
		unsigned char *dst = nv->raw + nv->inchunk * nv->recbytes;
		int st = read_record(r, nv, dst, nv->rec, &onset, 1);
		if (st)
			return st;
		nv->rec++;
		int first = nv->rec == 1;
		if (!first && onset != nv->seg_next_onset) {
			if (nv->discont && onset < nv->seg_next_onset)
				return psg__fail(r, PSG_ERR_FORMAT,
						 "record %lld starts before "
						 "the previous one ends",
						 (long long)nv->rec - 1);
			/* An EDF+C has no gaps: a TAL that says otherwise
			   is a broken file, refused as edflib refuses it
			   (to the 100 ns tick), so the backends agree. */
			if (!nv->discont && nv->plus)
				return psg__fail(r, PSG_ERR_FORMAT, "EDF+C "
						 "record %lld starts at %.7f s, "
						 "not at %.7f s where the "
						 "previous ended",
						 (long long)nv->rec - 1,
						 (double)onset /
						 PSG_TICKS_PER_SEC,
						 (double)nv->seg_next_onset /
						 PSG_TICKS_PER_SEC);
		}
		int new_seg = first ||
			      (nv->discont && onset != nv->seg_next_onset);
		if (new_seg && nv->inchunk > 0) {
			memmove(nv->raw, dst, (size_t)nv->recbytes);
			nv->have_pending = 1;
			nv->pending_onset = onset;
			return PSG_OK;
		}
		if (new_seg) {
			nv->seg_t0 = nv->discont ? onset - nv->sub : 0;
			nv->seg_index = 0;
		}
		if (nv->inchunk == 0) {
			nv->chunk_t0 = nv->seg_t0;
			nv->chunk_offset = nv->seg_index;
		}
		nv->seg_index++;
		nv->seg_next_onset = (new_seg ? onset : nv->seg_next_onset) +
				     nv->recdur;
		nv->inchunk++;
	}
	return PSG_OK;
}

/* Digital values outside the header's range are clamped to it, as edflib
   does, so both readers give the same physical values (edfio's MNE test
   file has samples beyond its declared 0..100). */
static void decode(const native *nv, const unsigned char *rec, int s,
		   float *out)
{
	const nsig *g = &nv->sig[s];
	const unsigned char *p = rec + g->byte_off;
	int32_t lo = g->dmin, hi = g->dmax;
	if (nv->bdf) {
		for (int64_t i = 0; i < g->spr; i++, p += 3) {
			int32_t d = (int32_t)((uint32_t)p[0] |
					      (uint32_t)p[1] << 8 |
					      (uint32_t)p[2] << 16);
			if (d & 0x800000)
				d -= 0x1000000;
			d = d < lo ? lo : d > hi ? hi : d;
			out[i] = (float)(d * g->gain + g->offset);
		}
	} else {
		for (int64_t i = 0; i < g->spr; i++, p += 2) {
			int32_t d = (int16_t)(p[0] | p[1] << 8);
			d = d < lo ? lo : d > hi ? hi : d;
			out[i] = (float)(d * g->gain + g->offset);
		}
	}
}

static int emit_block(psg_reader *r, native *nv, psg_record *rec)
{
	int ch = nv->cur, s = nv->map[ch];
	int64_t spr = nv->sig[s].spr;
	/* The chunk's first record index within its segment: */
	int64_t first = nv->chunk_offset;
	for (int64_t k = 0; !nv->no_samples && k < nv->inchunk; k++)
		decode(nv, nv->raw + k * nv->recbytes, s, nv->fbuf + k * spr);
	rec->kind = PSG_REC_DATA;
	rec->block = (psg_block){.channel = ch, .t0 = nv->chunk_t0,
		.offset = first * spr, .n = (int32_t)(nv->inchunk * spr),
		.x = nv->no_samples ? NULL : nv->fbuf};
	if (++nv->cur == r->h->nchannels)
		nv->cur = -1;
	return 1;
}

static int native_next(psg_reader *r, psg_record *rec)
{
	native *nv = r->impl;
	for (;;) {
		if (nv->cur >= 0 && nv->inchunk > 0 && r->h->nchannels > 0) {
			int64_t end = nv->chunk_t0 +
				      (nv->chunk_offset + nv->inchunk) *
				      nv->recdur;
			if (nv->cur == 0 &&
			    filesrc_queue_pop(&nv->q, end, rec, &nv->hold))
				return 1;
			return emit_block(r, nv, rec);
		}
		if (nv->rec >= nv->nrec && !nv->have_pending) {
			if (filesrc_queue_pop(&nv->q, INT64_MAX, rec,
					      &nv->hold))
				return 1;
			return filesrc_end(r, &nv->hasher, rec);
		}
		int st = fill_chunk(r, nv);
		if (st)
			return st;
		nv->cur = 0;
		if (r->h->nchannels == 0)
			nv->inchunk = 0;
	}
}

static void native_close(psg_reader *r)
{
	native *nv = r->impl;
	if (!nv)
		return;
	if (nv->f)
		fclose(nv->f);
	char skip[65];
	psg__hasher_finish(nv->hasher, skip);
	filesrc_queue_free(&nv->q);
	free(nv->hold);
	free(nv->sig);
	free(nv->map);
	free(nv->raw);
	free(nv->fbuf);
	free(nv);
}

static const struct psg_reader_ops native_ops = {native_next, native_close};

int psg__open_native(psg_reader *r, const char *path, const psg_open_opts *o)
{
	char m[256];
	native *nv = calloc(1, sizeof *nv);
	if (!nv)
		return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	r->impl = nv, r->ops = &native_ops;
	nv->cur = -1;
	psg__strlcpy(r->h->source, path, sizeof r->h->source);
	if (!(nv->f = fopen(path, "rb")))
		return psg__fail(r, PSG_ERR_IO, "%s: %s", path,
				 strerror(errno));
	if (fread(m, 1, 256, nv->f) != 256)
		return psg__fail(r, PSG_ERR_TRUNCATED,
				 "%s: shorter than an EDF header", path);
	int st = parse_main(r, nv, m);
	if (!st)
		st = parse_signals(r, nv);
	if (!st)
		st = check_size(r, nv, path);
	if (!st && !(nv->map = malloc(((size_t)r->h->nchannels + 1) *
				      sizeof *nv->map)))
		st = psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	/* map[] must name file signals, not channel numbers: remember them
	   before the selection reorders the header. */
	int *filesig = NULL;
	if (!st && !(filesig = malloc(((size_t)r->h->nchannels + 1) *
				      sizeof *filesig)))
		st = psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	for (int i = 0, k = 0; !st && i < nv->ns; i++)
		if (!nv->sig[i].annot)
			filesig[k++] = i;
	int n = st ? 0 : psg__select(r, o, nv->map, r->h->nchannels);
	if (n < 0)
		st = n;
	for (int i = 0; !st && i < n; i++)
		nv->map[i] = filesig[nv->map[i]];
	free(filesig);
	if (!st)
		st = alloc_chunk(r, nv, o);
	if (!st)
		st = find_timeline(r, nv);
	if (!st)
		st = filesrc_declare(r->h);
	if (!st && o->hash)
		nv->hasher = psg__hasher_start(path);
	nv->no_samples = o->no_samples;
	return st;
}
